//! The containers CAs hand certificates out in: PKCS#7 certs-only bundles (`.p7b`,
//! `.p7c`, PEM `PKCS7`) read with the DER tools x509-parser already brings, and PKCS#12
//! archives (`.pfx`, `.p12`; PBES2/AES, PBES1 3DES and legacy RC2-40, MAC verified)
//! through p12-keystore.

use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use x509_parser::asn1_rs::{Any, Class, FromDer, Oid, Tag};

/// `1.2.840.113549.1.7.2`, PKCS#7 signedData.
const SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
/// `1.2.840.113549.1.7.1`, PKCS#7 data (the authSafe of a PKCS#12 archive).
const DATA: &str = "1.2.840.113549.1.7.1";

/// What is malformed in a PKCS#7 SignedData.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Pkcs7Error {
    /// The explicit content is missing.
    #[error("malformed PKCS#7 SignedData: no content")]
    NoContent,
    /// The content is not a SignedData.
    #[error("malformed PKCS#7 SignedData: no SignedData")]
    NoSignedData,
    /// An element of the SignedData does not parse.
    #[error("malformed PKCS#7 SignedData: bad element")]
    BadElement,
    /// A certificate of the set does not parse.
    #[error("malformed PKCS#7 SignedData: a certificate does not parse")]
    BadCertificate,
}

/// The certificates of a PKCS#7 (CMS) SignedData, in file order; `None` when the bytes
/// are not a PKCS#7 ContentInfo at all.
pub fn pkcs7_certificates(der: &[u8]) -> Option<Result<Vec<CertificateDer<'static>>, Pkcs7Error>> {
    let (_, content_info) = Any::from_der(der).ok()?;
    if content_info.tag() != Tag::Sequence {
        return None;
    }
    let (rest, oid) = Oid::from_der(content_info.data).ok()?;
    if oid.to_id_string() != SIGNED_DATA {
        return None;
    }
    Some(signed_data_certificates(rest))
}

fn signed_data_certificates(explicit: &[u8]) -> Result<Vec<CertificateDer<'static>>, Pkcs7Error> {
    let (_, wrapper) = Any::from_der(explicit).map_err(|_| Pkcs7Error::NoContent)?;
    let (_, signed_data) = Any::from_der(wrapper.data).map_err(|_| Pkcs7Error::NoSignedData)?;
    let mut rest = signed_data.data;
    while !rest.is_empty() {
        let (next, element) = Any::from_der(rest).map_err(|_| Pkcs7Error::BadElement)?;
        rest = next;
        // certificates [0] IMPLICIT SET OF CertificateChoices
        if element.class() == Class::ContextSpecific && element.tag() == Tag(0) {
            return split_certificates(element.data);
        }
    }
    Ok(Vec::new())
}

/// Consecutive DER certificates, each kept byte for byte.
fn split_certificates(mut bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, Pkcs7Error> {
    let mut certs = Vec::new();
    while !bytes.is_empty() {
        let (rest, element) = Any::from_der(bytes).map_err(|_| Pkcs7Error::BadCertificate)?;
        let raw = &bytes[..bytes.len() - rest.len()];
        if element.tag() == Tag::Sequence {
            certs.push(CertificateDer::from(raw.to_vec()));
        }
        bytes = rest;
    }
    Ok(certs)
}

/// Whether DER bytes look like a PKCS#12 PFX: SEQUENCE { INTEGER 3, ContentInfo(data) … }.
pub fn looks_like_pkcs12(der: &[u8]) -> bool {
    let Ok((_, pfx)) = Any::from_der(der) else {
        return false;
    };
    let Ok((rest, version)) = Any::from_der(pfx.data) else {
        return false;
    };
    if version.tag() != Tag::Integer || version.data != [3] {
        return false;
    }
    let Ok((_, auth_safe)) = Any::from_der(rest) else {
        return false;
    };
    Oid::from_der(auth_safe.data).is_ok_and(|(_, oid)| oid.to_id_string() == DATA)
}

/// What a PKCS#12 archive holds.
#[derive(Debug, Default)]
pub struct Pkcs12Contents {
    /// Every certificate, in archive order.
    pub certificates: Vec<CertificateDer<'static>>,
    /// Every private key (PKCS#8).
    pub keys: Vec<PrivateKeyDer<'static>>,
}

/// Why a PKCS#12 archive could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs12Error {
    /// The MAC does not verify: the password is wrong (or missing).
    #[error("wrong password, or a damaged file (the archive's MAC does not verify; if the password is right, compare the file's sha256 with the original)")]
    WrongPassword,
    /// The archive uses an algorithm p12-keystore does not implement.
    #[error("unsupported encryption or MAC algorithm: {0}")]
    Unsupported(String),
    /// Anything else.
    #[error("not a readable PKCS#12 archive: {0}")]
    Malformed(String),
}

/// Decrypt a PKCS#12 archive with `password`, MAC verified.
pub fn read_pkcs12(der: &[u8], password: &str) -> Result<Pkcs12Contents, Pkcs12Error> {
    use p12_keystore::error::Error;
    use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12ImportPolicy};
    let store =
        KeyStore::from_pkcs12(der, password, Pkcs12ImportPolicy::Raw).map_err(|err| match err {
            Error::MacError(_) => Pkcs12Error::WrongPassword,
            Error::UnpadError | Error::InvalidPrivateKey => Pkcs12Error::WrongPassword,
            Error::UnsupportedEncryptionScheme | Error::UnsupportedMacAlgorithm => {
                Pkcs12Error::Unsupported(err.to_string())
            }
            other => Pkcs12Error::Malformed(other.to_string()),
        })?;
    let mut contents = Pkcs12Contents::default();
    let push_cert = |der: &[u8], contents: &mut Pkcs12Contents| {
        if !contents
            .certificates
            .iter()
            .any(|known| known.as_ref() == der)
        {
            contents
                .certificates
                .push(CertificateDer::from(der.to_vec()));
        }
    };
    for (_, entry) in store.entries() {
        match entry {
            KeyStoreEntry::PrivateKeyChain(chain) => {
                contents
                    .keys
                    .push(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                        chain.key().as_der().to_vec(),
                    )));
                for cert in chain.certs() {
                    push_cert(cert.as_der(), &mut contents);
                }
            }
            KeyStoreEntry::Certificate(cert) => push_cert(cert.as_der(), &mut contents),
            KeyStoreEntry::Secret(_) => {}
        }
    }
    Ok(contents)
}

/// Why an import could not produce a file set (exit 2; nothing written).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A PKCS#12 archive and no password.
    #[error("{path}: a PKCS#12 archive needs its password: --password-file FILE (first line) or --password-env VAR; nothing was written")]
    NoPassword { path: String },
    /// The archive could not be opened with the password given.
    #[error("{path}: {reason} ({source_name}); nothing was written")]
    Pkcs12 {
        path: String,
        reason: Pkcs12Error,
        source_name: String,
    },
    /// No private key among the inputs.
    #[error("no private key among the inputs ({found}): give the key file too, or a PKCS#12 that holds it; nothing was written")]
    NoKey { found: String },
    /// Keys, but none belongs to a certificate given.
    #[error(
        "no private key given belongs to any of the certificates ({found}); nothing was written"
    )]
    NoMatch { found: String },
    /// More than one certificate has its key: which one is Rancher's?
    #[error("several certificate/key pairs: {pairs}; import one at a time; nothing was written")]
    SeveralPairs { pairs: String },
    /// A password file that cannot be read.
    #[error("{path}: cannot read the password file: {reason}")]
    PasswordFile { path: String, reason: String },
}

/// An RSA private key's public half (RSAPublicKey DER, as in a certificate's
/// subjectPublicKey) and modulus size, read from the key's own DER — for keys the crypto
/// library refuses to load (RSA below 2048 bits), so rcert can still match and judge them.
pub fn rsa_public_key(key: &PrivateKeyDer<'_>) -> Option<(Vec<u8>, usize)> {
    let pkcs1: &[u8] = match key {
        PrivateKeyDer::Pkcs1(der) => der.secret_pkcs1_der(),
        PrivateKeyDer::Pkcs8(der) => {
            let (_, info) = Any::from_der(der.secret_pkcs8_der()).ok()?;
            let (rest, _version) = Any::from_der(info.data).ok()?;
            let (rest, algorithm) = Any::from_der(rest).ok()?;
            let (_, oid) = Oid::from_der(algorithm.data).ok()?;
            if oid.to_id_string() != "1.2.840.113549.1.1.1" {
                return None;
            }
            let (_, octets) = Any::from_der(rest).ok()?;
            return rsa_public_key(&PrivateKeyDer::Pkcs1(
                rustls_pki_types::PrivatePkcs1KeyDer::from(octets.data.to_vec()),
            ));
        }
        _ => return None,
    };
    let (_, sequence) = Any::from_der(pkcs1).ok()?;
    let (rest, _version) = Any::from_der(sequence.data).ok()?;
    let (after_modulus, modulus) = Any::from_der(rest).ok()?;
    let (after_exponent, _exponent) = Any::from_der(after_modulus).ok()?;
    let elements = &rest[..rest.len() - after_exponent.len()];
    let bits = Some(modulus_bits(modulus.data)).filter(|bits| *bits > 0)?;
    let mut der = vec![0x30];
    let length = elements.len();
    if length < 0x80 {
        der.push(u8::try_from(length).ok()?);
    } else {
        let bytes: Vec<u8> = length
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        der.push(0x80 | u8::try_from(bytes.len()).ok()?);
        der.extend(bytes);
    }
    der.extend_from_slice(elements);
    Some((der, bits))
}

/// Bits of an RSA modulus given as big-endian bytes (leading zeros ignored).
pub fn modulus_bits(modulus: &[u8]) -> usize {
    let significant: Vec<u8> = modulus.iter().copied().skip_while(|b| *b == 0).collect();
    match significant.first() {
        Some(first) => (significant.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::modulus_bits;

    #[test]
    fn modulus_bits_ignore_the_sign_byte() {
        assert_eq!(modulus_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(modulus_bits(&[0x01, 0x00]), 9);
        assert_eq!(modulus_bits(&[]), 0);
    }
}
