//! Rancher's facts: the CA checksum agents compare, the secret names and keys
//! Rancher reads, and the limits of its clients.

use crate::x509::cert::{plain_hex, sha256};

/// Default namespace of Rancher's secrets.
pub const NAMESPACE: &str = "cattle-system";
/// Default name of the certificate secret Rancher's ingress reads.
pub const TLS_SECRET: &str = "tls-rancher-ingress";
/// Default name of the private CA secret.
pub const CA_SECRET: &str = "tls-ca";
/// The key of the private CA in `tls-ca`.
pub const CA_SECRET_KEY: &str = "cacerts.pem";
/// Subject CN of the certificate ingress-nginx serves when it cannot load a secret.
pub const INGRESS_FAKE_CERTIFICATE: &str = "Kubernetes Ingress Controller Fake Certificate";

/// The value agents compare with `CATTLE_CA_CHECKSUM`: sha256 of the CA file as
/// Rancher serves it at `/cacerts`, i.e. with a trailing newline added if missing.
pub fn ca_checksum(bytes: &[u8]) -> String {
    let mut served = bytes.to_vec();
    if served.last() != Some(&b'\n') {
        served.push(b'\n');
    }
    plain_hex(&sha256(&served))
}

#[cfg(test)]
mod tests {
    use super::ca_checksum;

    #[test]
    fn checksum_adds_missing_newline() {
        assert_eq!(ca_checksum(b"abc"), ca_checksum(b"abc\n"));
        assert_ne!(ca_checksum(b"abc\n"), ca_checksum(b"abc\n\n"));
    }
}
