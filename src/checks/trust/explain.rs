//! webpki's refusal of a chain in an operator's words, with its cause code.

use super::*;

impl Examined<'_> {
    /// A certificate on the path (or the CA file) with an RSA key under 2048 bits, which
    /// webpki refuses to verify signatures with: the certificate and its size.
    fn weak_rsa_on_path(&self) -> Option<(&Cert, usize)> {
        let ca = self.context.ca.iter().flat_map(|ca| ca.certs.iter());
        self.path
            .iter()
            .chain(self.certs)
            .chain(ca)
            .find(|cert| cert.public_key.algorithm == "RSA" && cert.public_key.bits < 2048)
            .map(|cert| (cert, cert.public_key.bits))
    }

    /// The cause code of webpki's refusal, as [`Self::explain_untrusted`] words it.
    pub(super) fn untrusted_cause(&self, err: &webpki::Error) -> Cause {
        if self.leaf.self_signed && !is_anchor(self.leaf, self.context) {
            return Cause::Untrusted;
        }
        match err {
            webpki::Error::UnknownIssuer => match self.path.last() {
                // An intermediate at the top, judged against a public store: its issuer is
                // most likely a private root the store cannot hold (--ca cacerts.pem).
                Some(top) if self.private_top_against_public_store(top) => Cause::Untrusted,
                Some(top) if !top.self_signed && !is_anchor(top, self.context) => {
                    Cause::MissingIntermediate
                }
                _ => Cause::Untrusted,
            },
            webpki::Error::CaUsedAsEndEntity => Cause::CaAsLeaf,
            webpki::Error::EndEntityUsedAsCa => Cause::IssuedByNonCa,
            webpki::Error::InvalidSignatureForPublicKey if self.weak_rsa_on_path().is_some() => {
                Cause::WeakKey
            }
            webpki::Error::RequiredEkuNotFoundContext(_) => Cause::NoServerAuth,
            webpki::Error::UnsupportedCriticalExtension => Cause::UnknownCriticalExtension,
            webpki::Error::UnsupportedSignatureAlgorithmContext(_)
            | webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
                Cause::WeakSignature
            }
            webpki::Error::PathLenConstraintViolated => Cause::PathLenExceeded,
            webpki::Error::NameConstraintViolation => Cause::NameNotPermitted,
            _ => Cause::Untrusted,
        }
    }

    pub(super) fn explain_untrusted(&self, err: &webpki::Error, source: &str) -> String {
        let leaf = self.leaf;
        if leaf.self_signed && !is_anchor(leaf, self.context) {
            return format!(
                "not trusted by {source}: '{}' is self-signed; only clients that hold this very certificate trust it (issue it from a CA: rcert selfsign)",
                leaf.subject
            );
        }
        match err {
            webpki::Error::InvalidSignatureForPublicKey if self.weak_rsa_on_path().is_some() => {
                let (cert, bits) = self.weak_rsa_on_path().unwrap_or((leaf, 0));
                format!(
                    "not trusted by {source}: '{}' has an RSA key of {bits} bits, whose signatures webpki and browsers refuse (see the crypto check)",
                    cert.subject
                )
            }
            webpki::Error::EndEntityUsedAsCa => format!(
                "not trusted by {source}: a certificate with CA:FALSE issued another on the path (Go: \"x509: certificate is not authorized to sign other certificates\"); see the profile check"
            ),
            webpki::Error::UnknownIssuer | webpki::Error::InvalidSignatureForPublicKey => {
                self.explain_no_path(err, source)
            }
            webpki::Error::CaUsedAsEndEntity => format!(
                "'{}' is a CA certificate (basicConstraints CA:TRUE) serving as the server certificate: the CA/Browser Forum profile and webpki refuse that; issue the server certificate from a CA (rcert selfsign)",
                leaf.subject
            ),
            webpki::Error::RequiredEkuNotFoundContext(_) => format!(
                "'{}' (or its issuer) lacks the serverAuth extended key usage",
                leaf.subject
            ),
            webpki::Error::UnsupportedCriticalExtension => format!(
                "not trusted by {source}: a certificate on the path has a critical extension clients do not handle (Go: \"x509: unhandled critical extension\"); see the profile check"
            ),
            webpki::Error::UnsupportedSignatureAlgorithmContext(_)
            | webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
                "the chain uses a signature algorithm TLS clients refuse (e.g. SHA-1 or RSA < 2048 bits)"
                    .to_string()
            }
            webpki::Error::PathLenConstraintViolated => {
                self.pathlen_violation().unwrap_or_else(|| {
                    "an intermediate sits deeper than its CA's pathlen constraint allows".to_string()
                })
            }
            webpki::Error::NameConstraintViolation => format!(
                "not trusted by {source}: a CA on the path does not permit the names of '{}' (nameConstraints; Go: \"x509: a root or intermediate certificate is not authorized to sign for this name\")",
                leaf.subject
            ),
            other => format!("not trusted by {source}: {}", readable(other)),
        }
    }

    /// The chain ends at an intermediate (not the leaf) whose issuer a public store
    /// (Mozilla's roots, the system's) does not hold.
    fn private_top_against_public_store(&self, top: &Cert) -> bool {
        let public_store = self
            .context
            .ca
            .as_ref()
            .is_none_or(|ca| ca.kind == crate::rancher::BundleKind::Store);
        public_store
            && self.path.len() > 1
            && top.is_ca
            && !top.self_signed
            && !is_anchor(top, self.context)
    }

    /// No path to an anchor: a missing intermediate, a CA file that does not hold the
    /// chain's issuer, or a given intermediate that cannot issue certificates.
    pub(super) fn explain_no_path(&self, err: &webpki::Error, source: &str) -> String {
        let Some(top) = self.path.last() else {
            return format!("not trusted by {source}");
        };
        if is_anchor(top, self.context) {
            if let Some((cert, reason)) = self.unusable_issuer() {
                return format!(
                    "not trusted by {source}: '{}' was given but cannot issue certificates: {reason}",
                    cert.subject
                );
            }
            if let Some(message) = self.pathlen_violation() {
                return message;
            }
            return format!("not trusted by {source}: {}", readable(err));
        }
        let held = self.context.ca.as_ref().map(|ca| {
            let mut names: Vec<String> = ca
                .certs
                .iter()
                .take(3)
                .map(|cert| format!("'{}'", cert.subject))
                .collect();
            if ca.certs.len() > 3 {
                names.push(format!("{} more", ca.certs.len() - 3));
            }
            names.join(", ")
        });
        if self.private_top_against_public_store(top) {
            return format!(
                "not trusted by {source}: the chain ends at intermediate '{}', whose issuer '{}' is not among {source} (a private CA? pass --ca cacerts.pem; if '{}' is another intermediate, {})",
                top.subject,
                top.issuer,
                top.issuer,
                self.origin.add_intermediate_hint()
            );
        }
        match held {
            Some(_) if top.self_signed && is_some_ca_subject(&top.subject, self.context) => format!(
                "{source} does not hold the issuer of the chain: the chain ends at root '{}', and {source} holds a CA of that name with another key (wrong CA file, or a CA generated again, e.g. by a second rcert selfsign)",
                top.subject
            ),
            Some(held) if top.self_signed => format!(
                "{source} does not hold the issuer of the chain: the chain ends at root '{}', while {source} holds {held} (wrong CA file?)",
                top.subject
            ),
            Some(_) if is_some_ca_subject(&top.issuer, self.context) => format!(
                "{source} does not hold the issuer of the chain: '{}' was issued by '{}', and {source} holds a CA of that name with another key (wrong CA file, or a CA generated again, e.g. by a second rcert selfsign)",
                top.subject, top.issuer
            ),
            Some(held) => format!(
                "missing intermediate, or {source} does not hold the issuer of the chain: no certificate for '{}', the issuer of '{}' ({source} holds {held}); if it is an intermediate, {}",
                top.issuer, top.subject, self.origin.add_intermediate_hint()
            ),
            None if top.self_signed => format!(
                "not trusted by {source}: the chain ends at root '{}', which is not among them (a private CA? pass --ca cacerts.pem)",
                top.subject
            ),
            None => format!(
                "not trusted by {source}: missing intermediate — no certificate for '{}', the issuer of '{}'; {}",
                top.issuer, top.subject, self.origin.add_intermediate_hint()
            ),
        }
    }
}

/// webpki's refusal in an operator's words (its own name in brackets, for a search).
fn readable(err: &webpki::Error) -> String {
    let words = match err {
        webpki::Error::InvalidSignatureForPublicKey => {
            "a signature on the path does not verify with its issuer's key (another CA of the same name, or a key clients refuse)"
        }
        webpki::Error::UnknownIssuer => "no issuer for a certificate on the path",
        webpki::Error::CertNotValidForName(_) => "the certificate is not valid for the name",
        webpki::Error::BadDer | webpki::Error::BadDerTime => "a certificate on the path is malformed",
        webpki::Error::MaximumPathDepthExceeded | webpki::Error::MaximumPathBuildCallsExceeded => {
            "the chain is too long or too tangled to build a path through"
        }
        _ => "the path does not verify",
    };
    format!("{words} [{err:?}]")
}
