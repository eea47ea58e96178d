//! The key, signature algorithm and serial number rules.

use super::*;
use crate::check::Cause;

impl Judged<'_, '_> {
    pub(super) fn key(&mut self) {
        let spki = self.x509.public_key();
        let oid = spki.algorithm.algorithm.to_id_string();
        match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => {
                let bits = modulus_bits(rsa.modulus);
                if bits < 1024 {
                    self.fail(
                        Family::Crypto, Cause::WeakKey,
                        format!("RSA key of {bits} bits: Go ≥ 1.24 refuses RSA below 1024 bits (\"crypto/rsa: … insecure\"), and so do OpenSSL at its default security level and browsers; reissue it with RSA-2048 or ECDSA P-256"),
                    );
                } else if bits < 2048 {
                    self.reject(
                        Clients::OPENSSL_STRICT,
                        Family::Crypto, Cause::WeakKey,
                        format!("RSA key of {bits} bits: OpenSSL clients at security level 2 — the default of Debian, Ubuntu, RHEL and OpenSSL ≥ 3.2 (curl, nginx) — refuse it (\"{} certificate key too weak\"), as do browsers; Go accepts it; reissue it with RSA-2048 or ECDSA P-256", if self.role == Role::Leaf { "EE" } else { "CA" }),
                    );
                } else if !bits.is_multiple_of(8) {
                    self.reject(Clients::STRICT,
                        Family::Crypto, Cause::OddRsaModulus,
                        format!("RSA modulus of {bits} bits is not a multiple of 8 (CA/Browser Forum; refused by webpki clients)"),
                    );
                }
            }
            // Go cannot verify DSA signatures (an issuer) and its TLS stack cannot use a DSA
            // server key (a leaf); OpenSSL accepts both.
            _ if oid == "1.2.840.10040.4.1" => self.reject(
                Clients::GO_STRICT,
                Family::Crypto, Cause::DsaKey,
                "DSA key: Go (\"x509: cannot verify signature: algorithm unimplemented\"), TLS 1.3 and browsers do not accept DSA; reissue it with ECDSA P-256 or RSA-2048".to_string(),
            ),
            _ => {}
        }
        if self.cert.public_key.curve.as_deref() == Some("P-192") {
            self.fail(
                Family::Crypto,
                Cause::WeakKey,
                "ECDSA P-192 key: clients accept only P-256, P-384 and P-521 (OpenSSL at security level 2: \"key too weak\")".to_string(),
            );
        }
    }

    pub(super) fn signature(&mut self) {
        let oid = self.x509.signature_algorithm.algorithm.to_id_string();
        let weak = match oid.as_str() {
            "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => Some("SHA1-RSA"),
            "1.2.840.10045.4.1" => Some("ECDSA-SHA1"),
            "1.2.840.10040.4.3" => Some("DSA-SHA1"),
            "1.2.840.113549.1.1.4" => Some("MD5-RSA"),
            "1.2.840.113549.1.1.2" => Some("MD2-RSA"),
            _ => None,
        };
        let Some(name) = weak else {
            return;
        };
        // An anchor's own signature is never checked: trust comes from the CA file.
        if self.role == Role::Anchor && self.cert.self_signed {
            return;
        }
        // Go refuses them; OpenSSL 3 clients (curl, nginx, s_client) at their default
        // security level refuse them too ("CA signature digest algorithm too weak"; nginx
        // will not even load such a certificate) — only the `openssl verify` command, which
        // applies no security level, still says OK.
        let clients = Clients::ALL;
        self.reject(
            clients,
            Family::Crypto, Cause::WeakSignature,
            format!("signed with {name} (Go: \"x509: cannot verify signature: insecure algorithm {name}\"); reissue it with SHA-256"),
        );
    }

    pub(super) fn serial(&mut self) {
        let raw = self.x509.raw_serial();
        if raw.first().is_some_and(|byte| byte & 0x80 != 0) {
            self.reject(Clients::GO_STRICT,
                Family::Crypto, Cause::NegativeSerial,
                "negative serial number (Go ≥ 1.23: \"x509: negative serial number\"); reissue it with a positive serial".to_string(),
            );
        } else if raw.iter().all(|byte| *byte == 0) && self.role != Role::Anchor {
            self.reject(
                Clients::STRICT,
                Family::Crypto,
                Cause::ZeroSerial,
                "serial number 0 (RFC 5280 4.1.2.2: it MUST be a positive integer)".to_string(),
            );
        }
        if raw.len() > 20 {
            self.reject(
                Clients::STRICT,
                Family::Crypto,
                Cause::LongSerial,
                format!(
                    "serial number of {} bytes (RFC 5280 4.1.2.2: at most 20)",
                    raw.len()
                ),
            );
        }
    }
}
