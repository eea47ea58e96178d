//HEADER cert
//! One model of a certificate's (and a private key's) facts, shared by every command.
//!
//! [`Cert`] keeps the DER and the facts an operator reads (what
//! `openssl x509 -noout -text` shows, minus the noise); [`KeyInfo`] the facts of
//! a private key. `rcert inspect` renders these; verify, fullchain and probe
//! reuse them.

use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::check::escape_control;
use crate::x509::pem::{self, Item, Loaded, PemError};

pub use super::dated::Dated;

/// A certificate: its DER plus the facts every command reports.
#[derive(Debug, Clone, Serialize)]
pub struct Cert {
    /// Subject distinguished name, e.g. `CN=rancher.example.com, O=Example`.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number as colon-separated hex, as OpenSSL prints it.
    pub serial: String,
    /// Start of validity (RFC 3339, UTC).
    pub not_before: String,
    /// End of validity (RFC 3339, UTC).
    pub not_after: String,
    /// DNS names in the Subject Alternative Name extension.
    pub dns_names: Vec<String>,
    /// IP addresses in the Subject Alternative Name extension.
    pub ip_addresses: Vec<String>,
    /// Public key algorithm and size.
    pub public_key: KeyFacts,
    /// Signature algorithm, in OpenSSL's naming.
    pub signature_algorithm: String,
    /// Key usage bits, in OpenSSL's naming.
    pub key_usage: Vec<String>,
    /// Extended key usages, in OpenSSL's naming.
    pub extended_key_usage: Vec<String>,
    /// Basic constraints: whether this is a CA certificate.
    pub is_ca: bool,
    /// Basic constraints path length, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_len: Option<u32>,
    /// Subject key identifier, colon-separated upper-case hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_key_id: Option<String>,
    /// Authority key identifier, colon-separated upper-case hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority_key_id: Option<String>,
    /// Issuer and subject are equal and the signature verifies with its own key.
    pub self_signed: bool,
    /// SHA-256 of the DER, colon-separated upper-case hex (`openssl x509 -fingerprint -sha256`).
    pub sha256_fingerprint: String,
    #[serde(skip)]
    der: CertificateDer<'static>,
    #[serde(skip)]
    pub(crate) raw_subject: Vec<u8>,
    #[serde(skip)]
    pub(crate) raw_issuer: Vec<u8>,
    #[serde(skip)]
    pub(crate) not_before_time: OffsetDateTime,
    #[serde(skip)]
    pub(crate) not_after_time: OffsetDateTime,
    #[serde(skip)]
    pub(crate) public_key_bits: Vec<u8>,
}

impl Cert {
    /// Whole days from `at` until `not_after` (negative once expired).
    pub fn days_left(&self, at: OffsetDateTime) -> i64 {
        (self.not_after_time - at).whole_days()
    }
}

/// Facts of a public key.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyFacts {
    /// `RSA`, `ECDSA`, `Ed25519`, or the algorithm's name/OID.
    pub algorithm: String,
    /// Key size in bits.
    pub bits: usize,
    /// Named curve for ECDSA keys (`P-256`, `P-384`, `P-521`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curve: Option<String>,
}

impl std::fmt::Display for KeyFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.curve {
            Some(curve) => write!(f, "{} {}", self.algorithm, curve),
            None if self.algorithm == "Ed25519" => write!(f, "Ed25519"),
            None => write!(f, "{} {} bits", self.algorithm, self.bits),
        }
    }
}

/// A private key and the facts of its public half.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    /// PEM flavour the key came in: `PKCS#8`, `PKCS#1 (RSA)` or `SEC1 (EC)`.
    pub format: String,
    /// Public key algorithm and size.
    pub public_key: KeyFacts,
    #[serde(skip)]
    pub(crate) public_key_bits: Vec<u8>,
}

/// Why a certificate's DER could not be turned into a [`Cert`].
#[derive(Debug, thiserror::Error)]
#[error("not a valid X.509 certificate: {0}")]
pub struct CertParseError(String);

impl Cert {
    /// Parse a certificate's DER and collect its facts (no clock is read: days left are
    /// counted when shown, from the time of judgement — see [`super::dated::Dated`]).
    pub fn from_der(der: CertificateDer<'static>) -> Result<Cert, CertParseError> {
        let (_, x509) =
            X509Certificate::from_der(&der).map_err(|err| CertParseError(err.to_string()))?;
        let validity = x509.validity();
        let not_before_time = validity.not_before.to_datetime();
        let not_after_time = validity.not_after.to_datetime();
        let names = subject_alt_names(&x509);
        let spki = x509.public_key();
        let self_signed = x509.subject().as_raw() == x509.issuer().as_raw()
            && signed_by(&x509, x509.public_key());
        let facts = Cert {
            subject: escape_control(&x509.subject().to_string(), false),
            issuer: escape_control(&x509.issuer().to_string(), false),
            serial: colon_hex(x509.raw_serial(), false),
            not_before: rfc3339(not_before_time),
            not_after: rfc3339(not_after_time),
            dns_names: names.0,
            ip_addresses: names.1,
            public_key: key_facts(spki),
            signature_algorithm: signature_name(&x509.signature_algorithm.algorithm.to_id_string()),
            key_usage: key_usage(&x509),
            extended_key_usage: extended_key_usage(&x509),
            is_ca: x509.is_ca(),
            path_len: path_len(&x509),
            subject_key_id: subject_key_id(&x509),
            authority_key_id: authority_key_id(&x509),
            self_signed,
            sha256_fingerprint: colon_hex(&sha256(&der), true),
            raw_subject: x509.subject().as_raw().to_vec(),
            raw_issuer: x509.issuer().as_raw().to_vec(),
            not_before_time,
            not_after_time,
            public_key_bits: spki.subject_public_key.data.to_vec(),
            der,
        };
        Ok(facts)
    }

    /// The certificate's DER.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// The certificate as one PEM block.
    pub fn pem(&self) -> String {
        pem::encode("CERTIFICATE", &self.der)
    }

    /// The subject's common name, if any, else the whole subject.
    pub fn display_name(&self) -> String {
        self.subject
            .split(", ")
            .find_map(|part| part.strip_prefix("CN="))
            .map(str::to_string)
            .unwrap_or_else(|| self.subject.clone())
    }

    /// Whether the certificate names any DNS name or IP address in a SAN.
    pub fn has_san(&self) -> bool {
        !self.dns_names.is_empty() || !self.ip_addresses.is_empty()
    }

    /// Start of validity.
    pub fn not_before_time(&self) -> OffsetDateTime {
        self.not_before_time
    }

    /// End of validity.
    pub fn not_after_time(&self) -> OffsetDateTime {
        self.not_after_time
    }

    /// Whether `at` lies within notBefore..=notAfter.
    pub fn valid_at(&self, at: OffsetDateTime) -> bool {
        self.not_before_time <= at && at <= self.not_after_time
    }

    /// Whether `issuer` issued this certificate: names chain, key identifiers agree
    /// and the signature verifies with the issuer's public key.
    pub fn is_issued_by(&self, issuer: &Cert) -> bool {
        if self.raw_issuer != issuer.raw_subject {
            return false;
        }
        if let (Some(aki), Some(ski)) = (&self.authority_key_id, &issuer.subject_key_id) {
            if aki != ski {
                return false;
            }
        }
        let Ok((_, child)) = X509Certificate::from_der(&self.der) else {
            return false;
        };
        let Ok((_, parent)) = X509Certificate::from_der(&issuer.der) else {
            return false;
        };
        signed_by(&child, parent.public_key())
    }

    /// Whether `key` is the private half of this certificate's public key.
    pub fn matches_key(&self, key: &KeyInfo) -> bool {
        self.public_key_bits == key.public_key_bits
    }
}

/// Whether `key` made the certificate's signature. Signatures aws-lc verifies only
/// through its legacy algorithms — SHA-1, and RSA keys of 1024 to 2047 bits — are checked
/// with those: Go or OpenSSL accept some of them, and rcert must find the path they find
/// (the crypto rules then say which client refuses the weak signature or key).
fn signed_by(cert: &X509Certificate<'_>, key: &SubjectPublicKeyInfo<'_>) -> bool {
    if cert.verify_signature(Some(key)).is_ok() {
        return true;
    }
    use aws_lc_rs::signature::{self, VerificationAlgorithm};
    let algorithm: &dyn VerificationAlgorithm = match (
        cert.signature_algorithm.algorithm.to_id_string().as_str(),
        key.parsed(),
    ) {
        ("1.2.840.113549.1.1.5", Ok(PublicKey::RSA(_))) => {
            &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY
        }
        ("1.2.840.113549.1.1.11", Ok(PublicKey::RSA(_))) => {
            &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
        }
        ("1.2.840.113549.1.1.13", Ok(PublicKey::RSA(_))) => {
            &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY
        }
        ("1.2.840.10045.4.1", Ok(PublicKey::EC(point))) if point.key_size() == 256 => {
            &signature::ECDSA_P256_SHA1_ASN1
        }
        ("1.2.840.10045.4.1", Ok(PublicKey::EC(point))) if point.key_size() == 521 => {
            &signature::ECDSA_P521_SHA1_ASN1
        }
        _ => return false,
    };
    signature::UnparsedPublicKey::new(algorithm, &key.subject_public_key.data)
        .verify(cert.tbs_certificate.as_ref(), &cert.signature_value.data)
        .is_ok()
}

/// Why a private key's facts could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The crypto library cannot load the key (and it is no RSA key rcert can size).
    #[error("{0}")]
    Unusable(#[from] rcgen::Error),
    /// Its public half does not parse.
    #[error("its public key does not parse: {0}")]
    PublicKey(String),
}

impl KeyInfo {
    /// Load a private key and derive the facts of its public half.
    pub fn from_der(key: &PrivateKeyDer<'_>) -> Result<KeyInfo, KeyError> {
        let format = match key {
            PrivateKeyDer::Pkcs1(_) => "PKCS#1 (RSA PRIVATE KEY)",
            PrivateKeyDer::Sec1(_) => "SEC1 (EC PRIVATE KEY)",
            _ => "PKCS#8 (PRIVATE KEY)",
        };
        let key_pair = match rcgen::KeyPair::try_from(key) {
            Ok(pair) => pair,
            Err(err) => {
                // RSA below 2048 bits: aws-lc refuses it, rcert still reads its size.
                let (public, bits) =
                    crate::x509::formats::rsa_public_key(key).ok_or(KeyError::Unusable(err))?;
                return Ok(KeyInfo {
                    format: format.to_string(),
                    public_key: KeyFacts {
                        algorithm: "RSA".to_string(),
                        bits,
                        curve: None,
                    },
                    public_key_bits: public,
                });
            }
        };
        let spki_der = rcgen::PublicKeyData::subject_public_key_info(&key_pair);
        let (_, spki) = SubjectPublicKeyInfo::from_der(&spki_der)
            .map_err(|err| KeyError::PublicKey(err.to_string()))?;
        Ok(KeyInfo {
            format: format.to_string(),
            public_key: key_facts(&spki),
            public_key_bits: spki.subject_public_key.data.to_vec(),
        })
    }
}

/// Read certificates from an input as [`Cert`]s, in file order.
pub fn certs_from(loaded: &Loaded) -> Result<Vec<Cert>, PemError> {
    let mut certs = Vec::new();
    for (index, item) in loaded.items.iter().enumerate() {
        if let Item::Certificate(der) = item {
            let cert = Cert::from_der(der.clone()).map_err(|err| PemError::BadCertificate {
                path: loaded.source.clone(),
                index: index + 1,
                detail: err.0,
            })?;
            certs.push(cert);
        }
    }
    Ok(certs)
}

/// The certificates found in bytes from elsewhere (a secret, an HTTP body), skipping
/// anything that does not parse: for comparisons, not for validating input.
pub fn certs_in(bytes: &[u8]) -> Vec<Cert> {
    pem::parse_bytes("data", &pem::without_private_keys(bytes))
        .map(|items| {
            items
                .into_iter()
                .filter_map(|item| match item {
                    Item::Certificate(der) => Cert::from_der(der).ok(),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The first usable private key in bytes from elsewhere (a secret), if any.
pub fn key_in(bytes: &[u8]) -> Option<KeyInfo> {
    pem::parse_bytes("data", bytes)
        .ok()?
        .into_iter()
        .find_map(|item| match item {
            Item::Key(der) => KeyInfo::from_der(&der).ok(),
            _ => None,
        })
}

/// Load every certificate of an input that must hold at least one.
pub fn load_certs(source: &pem::Input) -> Result<Vec<Cert>, PemError> {
    certs_from(&pem::load_certificates(source)?)
}

/// Load the first private key of an input that must hold one.
pub fn load_key(source: &pem::Input) -> Result<KeyInfo, PemError> {
    key_from(&pem::load(source)?)
}

/// The facts of the first private key of an input already read.
pub fn key_from(loaded: &Loaded) -> Result<KeyInfo, PemError> {
    let der = pem::first_key(loaded)?;
    KeyInfo::from_der(&der).map_err(|err| PemError::BadKey {
        path: loaded.source.clone(),
        detail: err.to_string(),
    })
}

/// SHA-256 of bytes.
pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// Lower-case hex without separators (checksums).
pub fn plain_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Colon-separated hex, as OpenSSL prints serials (lower) and fingerprints (upper).
pub fn colon_hex(bytes: &[u8], upper: bool) -> String {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = String::with_capacity(bytes.len() * 3);
    for (index, byte) in bytes.iter().enumerate() {
        if index > 0 {
            out.push(':');
        }
        out.push(char::from(digits[usize::from(byte >> 4)]));
        out.push(char::from(digits[usize::from(byte & 0x0f)]));
    }
    out
}

/// RFC 3339 in UTC with whole seconds.
pub fn rfc3339(time: OffsetDateTime) -> String {
    let time = time.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

fn subject_alt_names(x509: &X509Certificate<'_>) -> (Vec<String>, Vec<String>) {
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    if let Ok(Some(san)) = x509.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(value) => dns.push(escape_control(value, false)),
                GeneralName::IPAddress(bytes) => {
                    if let Some(ip) = ip_from_bytes(bytes) {
                        ips.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    (dns, ips)
}

fn ip_from_bytes(bytes: &[u8]) -> Option<std::net::IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        _ => None,
    }
}

fn key_facts(spki: &SubjectPublicKeyInfo<'_>) -> KeyFacts {
    let oid = spki.algorithm.algorithm.to_id_string();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => KeyFacts {
            algorithm: "RSA".to_string(),
            bits: rsa.key_size(),
            curve: None,
        },
        Ok(PublicKey::EC(point)) => {
            let curve_oid = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|params| params.as_oid().ok())
                .map(|oid| oid.to_id_string())
                .unwrap_or_default();
            let (curve, bits) = match curve_oid.as_str() {
                "1.2.840.10045.3.1.7" => ("P-256".to_string(), 256),
                "1.3.132.0.34" => ("P-384".to_string(), 384),
                "1.3.132.0.35" => ("P-521".to_string(), 521),
                "1.2.840.10045.3.1.1" => ("P-192".to_string(), 192),
                other => (other.to_string(), point.key_size()),
            };
            KeyFacts {
                algorithm: "ECDSA".to_string(),
                bits,
                curve: Some(curve),
            }
        }
        _ if oid == "1.3.101.112" => KeyFacts {
            algorithm: "Ed25519".to_string(),
            bits: 256,
            curve: None,
        },
        _ => KeyFacts {
            algorithm: pem::algorithm_name(&oid).unwrap_or(&oid).to_string(),
            bits: spki.subject_public_key.data.len() * 8,
            curve: None,
        },
    }
}

fn signature_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ED25519",
        other => other,
    }
    .to_string()
}

fn key_usage(x509: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(usage)) = x509.key_usage() else {
        return Vec::new();
    };
    let usage = usage.value;
    [
        (usage.digital_signature(), "Digital Signature"),
        (usage.non_repudiation(), "Non Repudiation"),
        (usage.key_encipherment(), "Key Encipherment"),
        (usage.data_encipherment(), "Data Encipherment"),
        (usage.key_agreement(), "Key Agreement"),
        (usage.key_cert_sign(), "Certificate Sign"),
        (usage.crl_sign(), "CRL Sign"),
        (usage.encipher_only(), "Encipher Only"),
        (usage.decipher_only(), "Decipher Only"),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| name.to_string())
    .collect()
}

fn extended_key_usage(x509: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(eku)) = x509.extended_key_usage() else {
        return Vec::new();
    };
    let eku = eku.value;
    let mut names: Vec<String> = [
        (eku.any, "Any Extended Key Usage"),
        (eku.server_auth, "TLS Web Server Authentication"),
        (eku.client_auth, "TLS Web Client Authentication"),
        (eku.code_signing, "Code Signing"),
        (eku.email_protection, "E-mail Protection"),
        (eku.time_stamping, "Time Stamping"),
        (eku.ocsp_signing, "OCSP Signing"),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| name.to_string())
    .collect();
    names.extend(eku.other.iter().map(|oid| oid.to_id_string()));
    names
}

fn path_len(x509: &X509Certificate<'_>) -> Option<u32> {
    x509.basic_constraints()
        .ok()
        .flatten()
        .and_then(|constraints| constraints.value.path_len_constraint)
}

fn subject_key_id(x509: &X509Certificate<'_>) -> Option<String> {
    x509.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(colon_hex(id.0, true)),
            _ => None,
        })
}

fn authority_key_id(x509: &X509Certificate<'_>) -> Option<String> {
    x509.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|id| colon_hex(id.0, true))
            }
            _ => None,
        })
}
