//! Which clients refuse a chain the strict reading (rustls-webpki) refused.

use super::*;

impl Examined<'_> {
    /// Who refuses a chain webpki (the strict reading) refused. Go and OpenSSL are
    /// named only where rcert's own path — issuer names, key identifiers and signatures
    /// checked, up to a certificate of the CA file — does not reach an anchor, or where
    /// their own rules refuse the same thing.
    pub(super) fn who_rejects(&self, err: &webpki::Error) -> Clients {
        let reaches_anchor = self
            .path
            .last()
            .is_some_and(|top| is_anchor(top, self.context));
        let leaf_dns = &self.leaf.dns_names;
        match err {
            // A CA certificate as the server certificate: Go and OpenSSL accept it (OpenSSL
            // refuses its keyUsage for the sslserver purpose when it lacks
            // digitalSignature/keyEncipherment: a rule of its own).
            webpki::Error::CaUsedAsEndEntity if reaches_anchor => Clients::STRICT,
            // An extendedKeyUsage extension with no purpose in it: Go reads it as any
            // purpose; OpenSSL refuses it for sslserver.
            webpki::Error::EmptyEkuExtension if reaches_anchor => Clients::OPENSSL_STRICT,
            // webpki found no path, rcert's own path builder did (issuer names, key
            // identifiers and signatures checked): webpki's stricter reading of a
            // certificate on it (its DER, its signature algorithm, a v1 certificate) is
            // the cause; the profile and crypto rules say which client refuses what.
            webpki::Error::UnknownIssuer
            | webpki::Error::InvalidSignatureForPublicKey
            | webpki::Error::BadDer
            | webpki::Error::BadDerTime
            | webpki::Error::UnsupportedCertVersion
            | webpki::Error::UnsupportedCriticalExtension
            | webpki::Error::MalformedDnsIdentifier
                if reaches_anchor && self.unusable_issuer().is_none() =>
            {
                Clients::STRICT
            }
            // A signature algorithm webpki refuses: a weak hash (SHA-1, MD5) every client
            // refuses; an RSA key of 1024 to 2047 bits only the strict reading does.
            webpki::Error::UnsupportedSignatureAlgorithmContext(_)
            | webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
                if reaches_anchor && self.unusable_issuer().is_none() =>
            {
                // A trust anchor's own signature is never checked.
                let weak = self
                    .path
                    .iter()
                    .filter(|cert| !(cert.self_signed && is_anchor(cert, self.context)))
                    .any(|cert| weak_hash(&cert.signature_algorithm));
                if weak {
                    Clients::ALL
                } else {
                    Clients::STRICT
                }
            }
            // Name constraints: a wildcard SAN under an excluded subtree passed Go before
            // the CVE-2025-61727 fix and passes OpenSSL; a SAN that is no host name
            // (`.example.com`) is not checked by either.
            // webpki refuses directoryName constraints it cannot evaluate; OpenSSL applies
            // them and Go refuses them as unhandled (a rule of its own).
            webpki::Error::NameConstraintViolation
                if self.path.iter().any(rules::has_directory_name_constraints) =>
            {
                Clients::default()
            }
            webpki::Error::NameConstraintViolation
                if leaf_dns.iter().any(|name| name.starts_with('.')) =>
            {
                Clients::STRICT
            }
            webpki::Error::NameConstraintViolation
                if leaf_dns.iter().any(|name| {
                    name.starts_with("*.")
                        && self
                            .path
                            .iter()
                            .all(|cert| rules::wildcard_within_permitted(cert, name))
                }) =>
            {
                Clients::GO_STRICT
            }
            _ => Clients::ALL,
        }
    }
}

/// A signature algorithm with a broken hash, by OpenSSL's name or, for those `Cert`
/// names by OID, the OID (ecdsa-with-SHA1, DSA-SHA1, sha1WithRSA OIW).
fn weak_hash(algorithm: &str) -> bool {
    let lower = algorithm.to_ascii_lowercase();
    lower.contains("sha1")
        || lower.contains("md5")
        || lower.contains("md2")
        || ["1.2.840.10045.4.1", "1.2.840.10040.4.3", "1.3.14.3.2.29"].contains(&algorithm)
}
