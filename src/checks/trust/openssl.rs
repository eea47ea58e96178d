//! OpenSSL's own refusals of a chain Go and webpki accept: the chain must end at a
//! self-signed root of the trust store, name-constraint work is bounded, and the chain is
//! built along one path — the first issuer found, trusted store first — without trying
//! another when that one fails.

use super::*;

impl<'a> Examined<'a> {
    /// OpenSSL (curl, nginx: no `-partial_chain`) accepts a chain only when it ends at a
    /// self-signed certificate of the trust store; Go and webpki stop at any trusted
    /// certificate. The reason, when the CA file's certificates do not reach one from
    /// the top of the path.
    pub(super) fn openssl_root_missing(&self) -> Option<String> {
        let ca = self.context.ca.as_ref()?;
        let top = self
            .path
            .last()
            .filter(|top| is_anchor(top, self.context))?;
        let mut current = top;
        for _ in 0..8 {
            if current.self_signed {
                return None;
            }
            match ca
                .certs
                .iter()
                .find(|cert| cert.raw_subject == current.raw_issuer && cert.der() != current.der())
            {
                Some(issuer) => current = issuer,
                None => break,
            }
        }
        Some(format!(
            "nginx (proxy_ssl_verify) and openssl s_client/verify need the chain to end at a self-signed root in {}: '{}' is trusted there, but not its issuer '{}' (\"unable to get issuer certificate\"; curl since 7.68 accepts such a partial chain); add the root CA after it (Rancher's docs: intermediate then root)",
            ca.source, current.subject, current.issuer
        ))
    }

    /// OpenSSL's bound on name-constraint checks, exceeded somewhere on the path.
    pub(super) fn openssl_name_check_overflow(&self) -> Option<String> {
        self.path.iter().enumerate().find_map(|(index, ca)| {
            let below = self.path[..index]
                .iter()
                .find(|cert| rules::openssl_name_check_overflow(ca, cert))?;
            Some(format!(
                "OpenSSL clients (curl, nginx) refuse to check the name constraints of '{}' against the names of '{}': more than 2^20 name × constraint comparisons (openssl verify: \"unspecified certificate verification error\")",
                ca.subject, below.subject
            ))
        })
    }

    /// The chain OpenSSL builds (`X509_verify_cert`: at each step the trust store first,
    /// then the untrusted certificates in the order sent, the first whose subject names
    /// the issuer and whose keyIdentifier matches, one valid now preferred), and whether
    /// it reached a self-signed root of the trust store. `None` without a CA file.
    /// Built once per chain.
    pub(super) fn openssl_chain(&self) -> Option<(Vec<&'a Cert>, bool)> {
        self.openssl_chain
            .get_or_init(|| self.build_openssl_chain())
            .clone()
    }

    fn build_openssl_chain(&self) -> Option<(Vec<&'a Cert>, bool)> {
        let ca = self.context.ca.as_ref()?;
        let trusted: Vec<&Cert> = ca.certs.iter().collect();
        let untrusted: Vec<&Cert> = self
            .certs
            .iter()
            .chain(&self.context.untrusted)
            .filter(|cert| cert.der() != self.leaf.der())
            .collect();
        let mut chain: Vec<&Cert> = vec![self.leaf];
        let mut reached = false;
        for _ in 0..10 {
            let Some(current) = chain.last().copied() else {
                break;
            };
            if current.self_signed {
                reached = trusted.iter().any(|cert| cert.der() == current.der());
                break;
            }
            let unused = |cert: &&Cert| !chain.iter().any(|used| used.der() == cert.der());
            let from_store = self.first_issuer(current, trusted.iter().copied().filter(unused));
            let next = from_store
                .or_else(|| self.first_issuer(current, untrusted.iter().copied().filter(unused)));
            match next {
                Some(issuer) => chain.push(issuer),
                None => break,
            }
        }
        Some((chain, reached))
    }

    /// [`Self::openssl_chain`] when it does not reach a trusted root, or when a CA on it
    /// excludes a DNS name below — where webpki, trying every path, found a good one.
    pub(super) fn openssl_single_path_refusal(&self) -> Option<(Cause, String)> {
        if self.verified.is_err() {
            return None;
        }
        let ca = self.context.ca.as_ref()?;
        let (chain, reached) = self.openssl_chain()?;
        let trusted = &ca.certs;
        let top = chain.last()?;
        if !reached {
            // The root-missing case is said by openssl_root_missing.
            if trusted.iter().any(|cert| cert.der() == top.der()) {
                return None;
            }
            return Some((Cause::SinglePathRefused, format!(
                "OpenSSL clients (nginx, curl) follow the first issuer they find and stop at '{}', whose issuer '{}' is not in {} (openssl verify: \"unable to get local issuer certificate\"); Go and webpki find another path: send the chain that leads to the root, first",
                top.subject, top.issuer, ca.source
            )));
        }
        chain.iter().enumerate().skip(1).find_map(|(index, issuer)| {
            chain[..index].iter().find_map(|below| {
                let name = below
                    .dns_names
                    .iter()
                    .find(|name| rules::openssl_excludes_dns(issuer, name))?;
                Some((Cause::NameNotPermitted, format!(
                    "OpenSSL clients (nginx) build their one chain through '{}', whose nameConstraints do not permit the name {name} of '{}' (openssl verify: \"permitted subtree violation\" or \"excluded subtree violation\"); Go and webpki find another path that does",
                    issuer.subject, below.subject
                )))
            })
        })
    }

    /// The first candidate that names `cert`'s issuer, with a matching key identifier,
    /// one valid at the time of judgement preferred (OpenSSL's `find_issuer`).
    fn first_issuer<'c>(
        &self,
        cert: &Cert,
        candidates: impl Iterator<Item = &'c Cert>,
    ) -> Option<&'c Cert> {
        let at = self.context.at;
        let matching: Vec<&Cert> = candidates
            .filter(|candidate| {
                candidate.raw_subject == cert.raw_issuer
                    && match (&cert.authority_key_id, &candidate.subject_key_id) {
                        (Some(wanted), Some(held)) => wanted == held,
                        _ => true,
                    }
            })
            .collect();
        matching
            .iter()
            .find(|candidate| candidate.valid_at(at))
            .or(matching.first())
            .copied()
    }
}

impl Examined<'_> {
    /// What OpenSSL refuses on the part of its chain webpki and Go never see: the CAs of
    /// the CA file above the first trusted certificate, up to the self-signed root (a
    /// policy CA above a trusted issuing CA, the root above a trusted intermediate) — their
    /// dates, their profile and key rules, and every pathLen along the whole chain.
    pub(super) fn openssl_upper_chain_refusal(&self) -> Option<(Cause, String)> {
        let (chain, reached) = self.openssl_chain()?;
        if !reached {
            return None;
        }
        let at = self.context.at;
        let on_path = |cert: &Cert| self.path.iter().any(|c| c.der() == cert.der());
        for cert in chain.iter().skip(1).filter(|cert| !on_path(cert)) {
            if !cert.valid_at(at) {
                return Some((
                    Cause::Expired,
                    format!(
                        "OpenSSL clients (nginx) build the chain on to the root through '{}' of the CA file, valid {} to {} (openssl verify: \"certificate has expired\")",
                        cert.subject, cert.not_before, cert.not_after
                    ),
                ));
            }
            let role = if cert.self_signed {
                rules::Role::Anchor
            } else {
                rules::Role::Intermediate
            };
            if let Some(finding) = rules::judge(cert, role)
                .into_iter()
                .find(|finding| finding.rejected_by.openssl)
            {
                return Some((
                    finding.cause,
                    format!(
                        "OpenSSL clients (nginx) build the chain on to the root through the CA file: {}",
                        finding.message
                    ),
                ));
            }
        }
        // pathLen: the intermediates below each CA, self-issued ones not counted.
        chain.iter().enumerate().skip(1).find_map(|(index, ca)| {
            let limit = ca.path_len?;
            let below = chain[1..index].iter().filter(|c| !is_self_issued(c)).count();
            (below > limit as usize).then(|| {
                (
                    Cause::PathLenExceeded,
                    format!(
                        "'{}' allows {limit} intermediate CA(s) below it (pathlen), and the chain to the root has {below} (openssl verify: \"path length constraint exceeded\")",
                        ca.subject
                    ),
                )
            })
        })
    }
}
