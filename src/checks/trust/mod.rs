//! Trust: the issuer path from the leaf to an anchor (rustls-webpki for path building
//! and signatures, RFC 5280's counting for self-issued intermediates), the chain and
//! order checks, and rcert's own judgement of every certificate on that path.

use std::time::Duration;

use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use time::OffsetDateTime;
use webpki::{EndEntityCert, KeyUsage};

mod clients;
mod depth;
mod explain;
mod go;
use depth::Reader;
mod openssl;
mod order;

use super::rules::{self, Family, Finding, Role};
use super::{Context, Origin};
use crate::chain;
use crate::check::Cause;
use crate::check::{Check, CheckId, Clients, Status};
use crate::x509::cert as inspect;
use crate::x509::Cert;

fn trust_anchors(context: &Context) -> &[TrustAnchor<'static>] {
    match &context.ca {
        Some(ca) => &ca.anchors,
        None => webpki_roots::TLS_SERVER_ROOTS,
    }
}

fn trust_source(context: &Context) -> String {
    context
        .ca
        .as_ref()
        .map_or_else(|| "the Mozilla roots".to_string(), |ca| ca.source.clone())
}

/// Verify with webpki; on success, the DER of the intermediates and the subject of
/// the anchor the path went through.
fn webpki_verify(
    leaf: &Cert,
    intermediates: &[CertificateDer<'static>],
    anchors: &[TrustAnchor<'static>],
    at: OffsetDateTime,
) -> Result<(Vec<Vec<u8>>, Vec<u8>), webpki::Error> {
    let end_entity = EndEntityCert::try_from(leaf.der())?;
    let seconds = u64::try_from(at.unix_timestamp()).unwrap_or(0);
    let path = end_entity.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        anchors,
        intermediates,
        UnixTime::since_unix_epoch(Duration::from_secs(seconds)),
        KeyUsage::server_auth(),
        None,
        None,
    )?;
    let used = path
        .intermediate_certificates()
        .map(|cert| cert.der().to_vec())
        .collect();
    Ok((used, path.anchor().subject.to_vec()))
}

/// One chain under examination: the leaf, the file's certificates, and the issuer path
/// (from webpki when it verified, else by following issuers through every certificate
/// known), computed once and shared by the checks.
pub(super) struct Examined<'a> {
    leaf: &'a Cert,
    certs: &'a [Cert],
    origin: Origin<'a>,
    context: &'a Context,
    anchors: &'a [TrustAnchor<'static>],
    intermediates: Vec<CertificateDer<'static>>,
    verified: Result<(), webpki::Error>,
    path: Vec<Cert>,
    /// The chain OpenSSL builds, once asked for (several readers look at it).
    openssl_chain: std::cell::OnceCell<Option<(Vec<&'a Cert>, bool)>>,
}

impl<'a> Examined<'a> {
    pub(super) fn new(
        leaf: &'a Cert,
        certs: &'a [Cert],
        origin: Origin<'a>,
        context: &'a Context,
    ) -> Self {
        let anchors = trust_anchors(context);
        let intermediates: Vec<CertificateDer<'static>> = certs
            .iter()
            .chain(&context.untrusted)
            .filter(|cert| cert.der() != leaf.der())
            .map(|cert| cert.der().clone())
            .collect();
        let (verified, path) = match webpki_verify(leaf, &intermediates, anchors, context.at) {
            Ok((used, anchor_subject)) => (
                Ok(()),
                verified_path(leaf, &used, &anchor_subject, certs, context),
            ),
            Err(err) => (
                Err(err),
                chain::chain_from(leaf, &pool_with_ca(certs, context)),
            ),
        };
        Examined {
            leaf,
            certs,
            origin,
            context,
            anchors,
            intermediates,
            verified,
            path,
            openssl_chain: std::cell::OnceCell::new(),
        }
    }

    /// The chain check, and the clients that refuse the chain for its reason (None when
    /// it is trusted).
    pub(super) fn trust_check(&self) -> (Check, Option<Clients>) {
        let (mut check, mut clients) = self.trust_check_by_path();
        // Refusals of one client's own that the path webpki judged does not show.
        let because = |cause: Cause| move |reason: String| (cause, reason);
        let own = [
            (
                Clients::OPENSSL_ONLY,
                self.openssl_root_missing()
                    .map(because(Cause::RootMissing))
                    .or_else(|| {
                        self.openssl_name_check_overflow()
                            .map(because(Cause::NameCheckLimit))
                    })
                    .or_else(|| self.openssl_single_path_refusal())
                    .or_else(|| self.openssl_upper_chain_refusal()),
            ),
            (
                Clients::GO_ONLY,
                self.go_leading_period_refusal()
                    .map(because(Cause::LeadingPeriodConstraint)),
            ),
            (
                Clients::GO_ONLY,
                self.go_anchor_pathlen_refusal()
                    .map(because(Cause::PathLenExceeded)),
            ),
            (
                Clients::OPENSSL_ONLY,
                self.depth_refusal(Reader::OpenSsl)
                    .map(because(Cause::ChainTooLong)),
            ),
            (
                Clients::STRICT,
                self.depth_refusal(Reader::Strict)
                    .map(because(Cause::ChainTooLong)),
            ),
        ];
        for (client, refusal) in own {
            let Some((cause, reason)) = refusal else {
                continue;
            };
            let already = clients.unwrap_or_default();
            if already.meets(client) {
                continue;
            }
            check = match clients {
                None => Check::failed(CheckId::Chain, cause, reason),
                // The same cause for another client: its line already says it.
                Some(_) if check.cause == Some(cause) => check,
                Some(_) => {
                    let message = format!("{}; {reason}", check.message);
                    check.restated(Status::Failed, message)
                }
            };
            clients = Some(already.with(client));
        }
        (check, clients)
    }

    fn trust_check_by_path(&self) -> (Check, Option<Clients>) {
        let source = trust_source(self.context);
        match &self.verified {
            Ok(()) => (Check::ok(CheckId::Chain, format!("trusted by {source}")), None),
            Err(webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }) => {
                let check = self.trust_ignoring_dates(&source);
                let clients = (check.status == crate::check::Status::Failed).then_some(Clients::ALL);
                (check, clients)
            }
            Err(err) => match self.accepted_with_self_issued() {
                // Go counts a self-issued intermediate against pathLen ("x509: too many
                // intermediates for path length constraint"); OpenSSL and RFC 5280 do not.
                Some(note) => (
                    Check::failed(
                        CheckId::Chain, Cause::PathLenSelfIssued,
                        format!("trusted by {source} {note}; Go refuses it: \"x509: too many intermediates for path length constraint\""),
                    ),
                    Some(Clients {
                        go: true,
                        openssl: false,
                        strict: false,
                    }),
                ),
                None => (
                    Check::failed(
                        CheckId::Chain,
                        self.untrusted_cause(err),
                        self.explain_untrusted(err, &source),
                    ),
                    Some(self.who_rejects(err)),
                ),
            },
        }
    }

    /// The chain check when a date is wrong: is the chain otherwise trusted?
    fn trust_ignoring_dates(&self, source: &str) -> Check {
        let checked_at = self.validity_window().filter(|inside| {
            webpki_verify(self.leaf, &self.intermediates, self.anchors, *inside).is_ok()
        });
        let anchor = self
            .path
            .iter()
            .skip(1)
            .find(|cert| is_anchor(cert, self.context));
        match (checked_at, anchor) {
            (Some(inside), _) => Check::ok(
                CheckId::Chain,
                format!(
                    "trusted by {source} when checked at {} (inside every validity period; see the validity check)",
                    inspect::rfc3339(inside)
                ),
            ),
            (None, Some(anchor)) => Check::ok(
                CheckId::Chain,
                format!(
                    "signatures chain up to '{}' in {source} (the validity periods do not overlap; see the validity check)",
                    anchor.subject
                ),
            ),
            (None, None) => Check::failed(
                CheckId::Chain, Cause::OutsideValidity,
                format!("not trusted by {source}: a certificate is outside its validity period"),
            ),
        }
    }

    /// A time at which every certificate of the path is valid, if there is one.
    fn validity_window(&self) -> Option<OffsetDateTime> {
        let start = self.path.iter().map(Cert::not_before_time).max()?;
        let end = self.path.iter().map(Cert::not_after_time).min()?;
        (start <= end).then_some(start)
    }

    /// The first issuer on the path that may not issue certificates, and why.
    fn unusable_issuer(&self) -> Option<(&Cert, String)> {
        self.path.iter().skip(1).find_map(|cert| {
            let reason = if !cert.is_ca {
                "it is not a CA (no basicConstraints CA:TRUE)".to_string()
            } else if !cert.key_usage.is_empty()
                && !cert
                    .key_usage
                    .iter()
                    .any(|usage| usage == "Certificate Sign")
            {
                "its keyUsage lacks keyCertSign".to_string()
            } else if self.context.at > cert.not_after_time() {
                format!("it expired on {}", cert.not_after)
            } else if self.context.at < cert.not_before_time() {
                format!("it is valid only from {}", cert.not_before)
            } else {
                return None;
            };
            Some((cert, reason))
        })
    }

    /// A CA whose pathLenConstraint is exceeded by the certificates below it, counting
    /// as RFC 5280 does: self-issued intermediates do not count.
    fn pathlen_violation(&self) -> Option<String> {
        self.path.iter().enumerate().skip(1).find_map(|(index, ca)| {
            let limit = ca.path_len?;
            let below = self.path[1..index]
                .iter()
                .filter(|cert| !is_self_issued(cert))
                .count();
            (below > limit as usize).then(|| {
                format!(
                    "'{}' allows {limit} intermediate(s) below it (pathlen:{limit}), but {below} follow: reissue it with a larger pathlen or shorten the chain",
                    ca.subject
                )
            })
        })
    }

    /// RFC 5280 path validation of the issuer path, for the case webpki gets wrong: a
    /// path through a self-issued intermediate (a CA key rollover), which webpki counts
    /// against pathLen. Accepted only when every issuer is a usable CA, the pathLen
    /// constraints hold as RFC 5280 counts them and the path ends at an anchor.
    fn accepted_with_self_issued(&self) -> Option<String> {
        let top = self.path.last()?;
        let between = self
            .path
            .get(1..self.path.len().saturating_sub(1))
            .unwrap_or_default();
        let self_issued = between.iter().find(|cert| is_self_issued(cert))?;
        let leaf_ok = !self.leaf.is_ca
            && (self.leaf.extended_key_usage.is_empty()
                || self.leaf.extended_key_usage.iter().any(|usage| {
                    usage == "TLS Web Server Authentication" || usage == "Any Extended Key Usage"
                }));
        let usable = is_anchor(top, self.context)
            && leaf_ok
            && self.unusable_issuer().is_none()
            && self.pathlen_violation().is_none();
        usable.then(|| {
            format!(
                "through the self-issued '{}' (a CA key rollover; RFC 5280 does not count it against pathLen)",
                self_issued.subject
            )
        })
    }

    /// Every certificate whose dates matter: the file's and the whole path's, anchor included.
    pub(super) fn judged_certs(&self) -> Vec<&Cert> {
        let mut judged: Vec<&Cert> = self.certs.iter().collect();
        for cert in &self.path {
            if !judged.iter().any(|known| known.der() == cert.der()) {
                judged.push(cert);
            }
        }
        judged
    }

    /// The role of each certificate on the path: leaf, intermediates, anchor.
    fn path_roles(&self) -> Vec<(&Cert, Role)> {
        self.path
            .iter()
            .enumerate()
            .map(|(index, cert)| {
                let role = match index {
                    0 => Role::Leaf,
                    _ if is_anchor(cert, self.context) => Role::Anchor,
                    _ => Role::Intermediate,
                };
                (cert, role)
            })
            .collect()
    }

    /// rcert's own judgement of every certificate on the path: one line per broken
    /// rule with the clients that refuse it, or one ok line per family.
    pub(super) fn rule_checks(&self) -> Vec<(Check, Option<Clients>)> {
        let findings: Vec<(&Cert, Finding)> = self
            .path_roles()
            .into_iter()
            .flat_map(|(cert, role)| {
                rules::judge(cert, role)
                    .into_iter()
                    .map(move |finding| (cert, finding))
            })
            .collect();
        let judged = self.path.len();
        [
            (Family::Profile, CheckId::Profile, "RFC 5280 profile"),
            (
                Family::Crypto,
                CheckId::Crypto,
                "key, signature algorithm and serial rules",
            ),
        ]
        .into_iter()
        .flat_map(|(family, name, what)| {
            let lines: Vec<(Check, Option<Clients>)> = findings
                .iter()
                .filter(|(_, finding)| finding.family == family)
                .map(|(cert, finding)| {
                    (
                        Check::failed(name, finding.cause, finding.message.clone())
                            .about(crate::checks::certificate_subject(cert)),
                        Some(finding.rejected_by),
                    )
                })
                .collect();
            if lines.is_empty() {
                vec![(
                    Check::ok(
                        name,
                        format!("{judged} certificate(s) on the path follow the {what}"),
                    ),
                    None,
                )]
            } else {
                lines
            }
        })
        .collect()
    }
}

/// The path webpki verified, as [`Cert`]s: leaf, intermediates, and the anchor's
/// certificate when the CA file holds it.
fn verified_path(
    leaf: &Cert,
    used: &[Vec<u8>],
    anchor_subject: &[u8],
    certs: &[Cert],
    context: &Context,
) -> Vec<Cert> {
    let ca_certs = context.ca.iter().flat_map(|ca| ca.certs.iter());
    let known: Vec<&Cert> = certs
        .iter()
        .chain(&context.untrusted)
        .chain(ca_certs)
        .collect();
    let mut path = vec![leaf.clone()];
    for der in used {
        if let Some(cert) = known
            .iter()
            .find(|cert| cert.der().as_ref() == der.as_slice())
        {
            path.push((*cert).clone());
        }
    }
    let anchor_cert = context.ca.as_ref().and_then(|ca| {
        ca.certs
            .iter()
            .find(|cert| chain::name_contents(&cert.raw_subject) == Some(anchor_subject))
    });
    if let Some(anchor) = anchor_cert {
        if !path.iter().any(|cert| cert.der() == anchor.der()) {
            path.push(anchor.clone());
        }
    }
    path
}

fn pool_with_ca(certs: &[Cert], context: &Context) -> Vec<Cert> {
    let mut pool: Vec<Cert> = certs.iter().chain(&context.untrusted).cloned().collect();
    if let Some(ca) = &context.ca {
        pool.extend(ca.certs.iter().cloned());
    }
    pool
}

fn is_some_ca_subject(name: &str, context: &Context) -> bool {
    context
        .ca
        .as_ref()
        .is_some_and(|ca| ca.certs.iter().any(|cert| cert.subject == name))
}

/// Subject and issuer are the same name (the signature may come from another key).
fn is_self_issued(cert: &Cert) -> bool {
    cert.raw_subject == cert.raw_issuer
}

pub(super) fn is_anchor(cert: &Cert, context: &Context) -> bool {
    context
        .ca
        .as_ref()
        .is_some_and(|ca| ca.certs.iter().any(|c| c.der() == cert.der()))
}
