//! Read certificates and private keys from PEM or DER, with the file name in every error.
//!
//! Accepted PEM labels: `CERTIFICATE`, `X509 CERTIFICATE`, `TRUSTED CERTIFICATE`
//! (OpenSSL's trusted form; the trust settings are dropped), `PRIVATE KEY` (PKCS#8),
//! `RSA PRIVATE KEY` (PKCS#1), `EC PRIVATE KEY` (SEC1). `EC PARAMETERS` blocks are
//! skipped. Encrypted keys are refused with a hint to decrypt them first.
//! A file without any `-----BEGIN` line is read as one DER certificate or key.

use std::io::Read;

use rustls_pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};
use x509_parser::prelude::FromDer;

use super::formats;
use super::scan::truncated_der;
pub use super::scan::{private_key_labels, without_private_keys};

/// Largest input rcert reads from one file (certificate bundles are a few hundred KiB).
const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

pub use super::input::{describe_io_error, Input, STDIN_NAME};

/// The certificates of an input that may also hold private keys: the certificates (the
/// bytes without the keys) and the labels of the key blocks found.
#[derive(Debug)]
pub struct BesideKeys {
    /// The certificates, read whatever the keys are.
    pub loaded: Loaded,
    /// Labels of the private key blocks (`PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`, …).
    pub key_labels: Vec<String>,
}

/// What went wrong while reading one input. Every variant names the input.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {reason}")]
    Read { path: String, reason: String },
    /// A directory was given where a file was expected.
    #[error("{path}: is a directory, expected a certificate or key file")]
    IsDirectory { path: String },
    /// The file holds no bytes (or only white space).
    #[error("{path}: file is empty")]
    Empty { path: String },
    /// The file is larger than any certificate bundle could be.
    #[error("{path}: file is larger than {MAX_INPUT_BYTES} bytes; not a certificate or key")]
    TooLarge { path: String },
    /// Neither PEM nor a DER certificate or key.
    #[error("{path}: not a PEM or DER certificate or key ({detail})")]
    Garbage { path: String, detail: String },
    /// A `-----BEGIN` line without its `-----END` line.
    #[error("{path}: PEM block {index} ({label}) is truncated: no '-----END {label}-----' line")]
    Truncated {
        path: String,
        index: usize,
        label: String,
    },
    /// The body of a PEM block is not valid base64.
    #[error("{path}: PEM block {index} ({label}) is not valid base64: {detail}")]
    BadBase64 {
        path: String,
        index: usize,
        label: String,
        detail: String,
    },
    /// An encrypted private key: rcert never asks for pass phrases.
    #[error("{path}: the private key is encrypted; decrypt it first: openssl pkey -in {path} -out {path}.plain")]
    EncryptedKey { path: String },
    /// A certificate whose DER does not parse as X.509.
    #[error("{path}: certificate {index} is not a valid X.509 certificate: {detail}")]
    BadCertificate {
        path: String,
        index: usize,
        detail: String,
    },
    /// A private key that is malformed or of a type rcert cannot use.
    #[error("{path}: {detail}")]
    BadKey { path: String, detail: String },
    /// A certificate was expected, the file holds none.
    #[error("{path}: holds no certificate ({found}); expected a PEM 'CERTIFICATE' block")]
    NoCertificate { path: String, found: String },
    /// A certificate file (tls.crt) that also holds a private key.
    #[error("{path}: holds a private key next to the certificate(s); tls.crt must hold certificates only (the key goes to tls.key): nothing was written or sent")]
    KeyInCertificateFile { path: String },
    /// A PKCS#12 archive where certificates or keys were expected.
    #[error("{path}: is a PKCS#12 archive (.pfx/.p12), which needs its password: rcert import {path} --password-file FILE --out DIR")]
    Pkcs12 { path: String },
    /// A private key was expected, the file holds none.
    #[error("{path}: holds no private key ({found}); expected a PEM 'PRIVATE KEY' block")]
    NoKey { path: String, found: String },
}

/// One thing found in an input.
#[derive(Debug)]
pub enum Item {
    /// A certificate (DER, already checked to parse as X.509).
    Certificate(CertificateDer<'static>),
    /// A private key (DER, already checked to load as a signing key).
    Key(PrivateKeyDer<'static>),
    /// A PEM block rcert reads but does not use here (e.g. `CERTIFICATE REQUEST`).
    Other(String),
}

/// Everything read from one input, in file order.
#[derive(Debug)]
pub struct Loaded {
    /// The input's name as the user gave it (`-` for standard input).
    pub source: String,
    /// The raw bytes as read (used for checksums of CA files).
    pub bytes: Vec<u8>,
    /// Certificates, keys and other blocks in the order they appear.
    pub items: Vec<Item>,
}

impl Loaded {
    /// The certificates, in file order.
    pub fn certificates(&self) -> Vec<CertificateDer<'static>> {
        self.items
            .iter()
            .filter_map(|item| match item {
                Item::Certificate(der) => Some(der.clone()),
                _ => None,
            })
            .collect()
    }

    /// The private keys, in file order.
    pub fn keys(&self) -> Vec<PrivateKeyDer<'static>> {
        self.items
            .iter()
            .filter_map(|item| match item {
                Item::Key(der) => Some(der.clone_key()),
                _ => None,
            })
            .collect()
    }

    /// Whether the input was PEM text (else a DER file).
    pub fn is_pem(&self) -> bool {
        self.bytes
            .windows(11)
            .any(|window| window == b"-----BEGIN ")
    }

    /// The bytes a Secret should hold for this certificate input: PEM as given, or the
    /// certificates of a DER file as PEM.
    pub fn certificates_as_pem(&self) -> Vec<u8> {
        if self.is_pem() {
            return self.bytes.clone();
        }
        self.certificates()
            .iter()
            .map(|der| encode("CERTIFICATE", der))
            .collect::<String>()
            .into_bytes()
    }

    /// The bytes a Secret should hold for this key input: PEM as given, or a DER key as
    /// PEM in its own flavour (PKCS#8, SEC1 or PKCS#1).
    pub fn key_as_pem(&self) -> Vec<u8> {
        if self.is_pem() {
            return self.bytes.clone();
        }
        self.keys()
            .first()
            .map(|key| {
                let label = match key {
                    PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
                    PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
                    _ => "PRIVATE KEY",
                };
                encode(label, key.secret_der())
            })
            .unwrap_or_default()
            .into_bytes()
    }

    /// A short description of what the input holds, for error messages.
    fn describe(&self) -> String {
        let certs = self.certificates().len();
        let keys = self.keys().len();
        let mut parts = Vec::new();
        if certs > 0 {
            parts.push(format!("found {certs} certificate(s)"));
        }
        if keys > 0 {
            parts.push(format!("found {keys} private key(s)"));
        }
        for item in &self.items {
            if let Item::Other(label) = item {
                parts.push(format!("found a '{label}' block"));
            }
        }
        if parts.is_empty() {
            "found nothing usable".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// Read and parse one input.
pub fn load(input: &Input) -> Result<Loaded, PemError> {
    parse_loaded(&input.name(), read_input(input)?)
}

/// Parse bytes already read from `source` (standard input can be read only once, so a
/// caller that may need the bytes again — a PKCS#12 archive — reads them first).
pub fn parse_loaded(source: &str, bytes: Vec<u8>) -> Result<Loaded, PemError> {
    let items = parse_bytes(source, &bytes)?;
    Ok(Loaded {
        source: source.to_string(),
        bytes,
        items,
    })
}

/// Read an input that must hold at least one certificate; returns them in file order.
pub fn load_certificates(input: &Input) -> Result<Loaded, PemError> {
    loaded_certificates(&input.name(), read_input(input)?)
}

/// Read a certificate file that must hold certificates only (tls.crt): a private key
/// block of any kind, encrypted included, is refused before anything else.
pub fn load_certificates_only(input: &Input) -> Result<Loaded, PemError> {
    let bytes = read_input(input)?;
    let source = &input.name();
    let only_keys = !contains(&without_private_keys(&bytes), b"-----BEGIN ");
    if !private_key_labels(&bytes).is_empty() && !only_keys {
        return Err(PemError::KeyInCertificateFile {
            path: source.to_string(),
        });
    }
    loaded_certificates(source, bytes)
}

/// Read an input that must hold certificates and may also hold private keys (a CA file
/// or tls.crt an operator concatenated): the certificates are read whatever the keys are
/// (encrypted ones included) and the keys' labels returned, for a check to fail on. The
/// returned bytes hold no key.
pub fn load_certificates_beside_keys(input: &Input) -> Result<BesideKeys, PemError> {
    let raw = read_input(input)?;
    let key_labels = private_key_labels(&raw);
    let without = without_private_keys(&raw);
    // Nothing but keys: the usual "holds no certificate (found …)" says it best.
    let bytes = if key_labels.is_empty() || !contains(&without, b"-----BEGIN ") {
        raw
    } else {
        without
    };
    let loaded = loaded_certificates(&input.name(), bytes)?;
    Ok(BesideKeys { loaded, key_labels })
}

/// Parse bytes already read from `source`; they must hold at least one certificate.
pub fn loaded_certificates(source: &str, bytes: Vec<u8>) -> Result<Loaded, PemError> {
    let items = parse_bytes(source, &bytes)?;
    let loaded = Loaded {
        source: source.to_string(),
        bytes,
        items,
    };
    if loaded.certificates().is_empty() {
        return Err(PemError::NoCertificate {
            path: source.to_string(),
            found: loaded.describe(),
        });
    }
    Ok(loaded)
}

/// Read an input that must hold a private key; returns the first one.
pub fn load_key(input: &Input) -> Result<PrivateKeyDer<'static>, PemError> {
    first_key(&load(input)?)
}

/// The first private key of an input already read; an error when it holds none.
pub fn first_key(loaded: &Loaded) -> Result<PrivateKeyDer<'static>, PemError> {
    loaded
        .keys()
        .into_iter()
        .next()
        .ok_or_else(|| PemError::NoKey {
            path: loaded.source.clone(),
            found: loaded.describe(),
        })
}

/// Encode DER bytes as one PEM block with LF line endings, as OpenSSL writes it.
pub fn encode(label: &str, der: &[u8]) -> String {
    let block = ::pem::Pem::new(label, der.to_vec());
    ::pem::encode_config(
        &block,
        ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF),
    )
}

/// Read an input's bytes (bounded in size).
pub fn read_input(input: &Input) -> Result<Vec<u8>, PemError> {
    let source = &input.name();
    let read_error = |err: std::io::Error| PemError::Read {
        path: source.to_string(),
        reason: describe_io_error(&err),
    };
    let mut bytes = Vec::new();
    match input {
        Input::Stdin => {
            std::io::stdin()
                .take(MAX_INPUT_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(read_error)?;
        }
        Input::Path(path) => {
            if path.is_dir() {
                return Err(PemError::IsDirectory {
                    path: source.to_string(),
                });
            }
            std::fs::File::open(path)
                .and_then(|file| file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes))
                .map_err(read_error)?;
        }
    }
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(PemError::TooLarge {
            path: source.to_string(),
        });
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(PemError::Empty {
            path: source.to_string(),
        });
    }
    Ok(bytes)
}

/// Parse the bytes of one input (PEM with any number of blocks, or one DER object).
pub fn parse_bytes(source: &str, bytes: &[u8]) -> Result<Vec<Item>, PemError> {
    if contains(bytes, b"-----BEGIN ") {
        parse_pem(source, bytes)
    } else {
        parse_der(source, bytes)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// One `-----BEGIN X-----` … `-----END X-----` block cut out of a file.
struct RawBlock<'a> {
    label: String,
    text: &'a str,
}

fn parse_pem(source: &str, bytes: &[u8]) -> Result<Vec<Item>, PemError> {
    let text = std::str::from_utf8(bytes).map_err(|_| PemError::Garbage {
        path: source.to_string(),
        detail: "PEM text holds bytes that are not UTF-8".to_string(),
    })?;
    let mut items = Vec::new();
    for (position, block) in split_blocks(source, text)?.into_iter().enumerate() {
        let index = position + 1;
        let parsed = ::pem::parse(block.text).map_err(|err| PemError::BadBase64 {
            path: source.to_string(),
            index,
            label: block.label.clone(),
            detail: err.to_string(),
        })?;
        if block.label == "PKCS7" || block.label == "CERTIFICATE CHAIN" {
            items.extend(pkcs7_items(source, index, parsed.contents())?);
            continue;
        }
        if let Some(item) = item_from_block(source, index, &block.label, &parsed)? {
            items.push(item);
        }
    }
    Ok(items)
}

/// Cut the text into PEM blocks, refusing a block whose END line is missing.
fn split_blocks<'a>(source: &str, text: &'a str) -> Result<Vec<RawBlock<'a>>, PemError> {
    let mut blocks = Vec::new();
    let mut rest = text;
    let mut consumed = 0;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after_begin = &rest[start + "-----BEGIN ".len()..];
        let label_end = after_begin.find("-----").unwrap_or(after_begin.len());
        let label = after_begin[..label_end].trim().to_string();
        let end_marker = format!("-----END {label}-----");
        let Some(end) = rest[start..].find(&end_marker) else {
            return Err(PemError::Truncated {
                path: source.to_string(),
                index: blocks.len() + 1,
                label,
            });
        };
        let block_end = start + end + end_marker.len();
        blocks.push(RawBlock {
            label,
            text: &text[consumed + start..consumed + block_end],
        });
        consumed += block_end;
        rest = &rest[block_end..];
    }
    Ok(blocks)
}

fn item_from_block(
    source: &str,
    index: usize,
    label: &str,
    block: &::pem::Pem,
) -> Result<Option<Item>, PemError> {
    let encrypted_header = block
        .headers()
        .get("Proc-Type")
        .is_some_and(|value| value.contains("ENCRYPTED"));
    let der = block.contents().to_vec();
    let item = match label {
        "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => {
            Item::Certificate(certificate_from_der(source, index, &der)?)
        }
        "ENCRYPTED PRIVATE KEY" => {
            return Err(PemError::EncryptedKey {
                path: source.to_string(),
            })
        }
        "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" if encrypted_header => {
            return Err(PemError::EncryptedKey {
                path: source.to_string(),
            })
        }
        "PRIVATE KEY" => Item::Key(checked_key(
            source,
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)),
        )?),
        "RSA PRIVATE KEY" => Item::Key(checked_key(
            source,
            PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)),
        )?),
        "EC PRIVATE KEY" => Item::Key(checked_key(
            source,
            PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der)),
        )?),
        "EC PARAMETERS" => return Ok(None),
        other => Item::Other(other.to_string()),
    };
    Ok(Some(item))
}

/// The certificates of a PKCS#7 bundle (block `index` of `source`), each checked.
fn pkcs7_items(source: &str, index: usize, der: &[u8]) -> Result<Vec<Item>, PemError> {
    let bad = |detail: String| PemError::BadCertificate {
        path: source.to_string(),
        index,
        detail,
    };
    let certs = formats::pkcs7_certificates(der)
        .ok_or_else(|| bad("a PKCS7 block that is not a PKCS#7 SignedData".to_string()))?
        .map_err(|err| bad(err.to_string()))?;
    certs
        .iter()
        .map(|cert| certificate_from_der(source, index, cert).map(Item::Certificate))
        .collect()
}

/// Check that DER bytes hold one X.509 certificate and return exactly its bytes
/// (OpenSSL's `TRUSTED CERTIFICATE` appends trust settings, which are dropped).
fn certificate_from_der(
    source: &str,
    index: usize,
    der: &[u8],
) -> Result<CertificateDer<'static>, PemError> {
    match x509_parser::certificate::X509Certificate::from_der(der) {
        Ok((rest, _)) => {
            let length = der.len() - rest.len();
            Ok(CertificateDer::from(der[..length].to_vec()))
        }
        Err(err) => Err(PemError::BadCertificate {
            path: source.to_string(),
            index,
            detail: err.to_string(),
        }),
    }
}

/// Check that a private key loads as a signing key rcert supports.
fn checked_key(
    source: &str,
    key: PrivateKeyDer<'static>,
) -> Result<PrivateKeyDer<'static>, PemError> {
    match rcgen::KeyPair::try_from(&key) {
        Ok(_) => Ok(key),
        // A weak RSA key the crypto library refuses is still read (and judged by size).
        Err(_) if formats::rsa_public_key(&key).is_some() => Ok(key),
        Err(_) => Err(PemError::BadKey {
            path: source.to_string(),
            detail: describe_unusable_key(&key),
        }),
    }
}

/// Say why a key could not be loaded: an unsupported algorithm, or malformed bytes.
fn describe_unusable_key(key: &PrivateKeyDer<'_>) -> String {
    const SUPPORTED: &str = "rcert supports RSA, ECDSA P-256/P-384/P-521 and Ed25519";
    match key {
        PrivateKeyDer::Pkcs8(pkcs8) => match pkcs8_algorithm(pkcs8.secret_pkcs8_der()) {
            Some(algorithm) if !is_supported_algorithm(&algorithm) => {
                format!("unsupported private key type {algorithm}; {SUPPORTED}")
            }
            Some(algorithm) => format!("malformed or unsupported {algorithm} private key"),
            None => "malformed private key (not PKCS#8)".to_string(),
        },
        PrivateKeyDer::Pkcs1(_) => "malformed RSA private key (PKCS#1)".to_string(),
        PrivateKeyDer::Sec1(_) => {
            format!("malformed or unsupported EC private key (SEC1); {SUPPORTED}")
        }
        _ => "malformed private key".to_string(),
    }
}

fn is_supported_algorithm(name: &str) -> bool {
    matches!(name, "RSA" | "EC" | "Ed25519")
}

/// The algorithm of a PKCS#8 key, by name when rcert knows it, else as a dotted OID.
fn pkcs8_algorithm(der: &[u8]) -> Option<String> {
    use x509_parser::der_parser::ber::BerObjectContent;
    let (_, outer) = x509_parser::der_parser::parse_der(der).ok()?;
    let BerObjectContent::Sequence(fields) = &outer.content else {
        return None;
    };
    let BerObjectContent::Sequence(algorithm) = &fields.get(1)?.content else {
        return None;
    };
    let oid = algorithm.first()?.as_oid().ok()?.to_id_string();
    Some(algorithm_name(&oid).unwrap_or(&oid).to_string())
}

/// Names of public key algorithm OIDs an operator may meet.
pub fn algorithm_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.2.840.113549.1.1.1" => "RSA",
        "1.2.840.113549.1.1.10" => "RSA-PSS",
        "1.2.840.10045.2.1" => "EC",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        "1.2.840.10040.4.1" => "DSA",
        "1.2.840.10046.2.1" => "DH",
        _ => return None,
    })
}

fn parse_der(source: &str, bytes: &[u8]) -> Result<Vec<Item>, PemError> {
    if bytes.first() != Some(&0x30) {
        return Err(PemError::Garbage {
            path: source.to_string(),
            detail: "no '-----BEGIN' line and not DER".to_string(),
        });
    }
    if x509_parser::certificate::X509Certificate::from_der(bytes).is_ok() {
        return certificate_from_der(source, 1, bytes).map(|cert| vec![Item::Certificate(cert)]);
    }
    if formats::pkcs7_certificates(bytes).is_some() {
        return pkcs7_items(source, 1, bytes);
    }
    if formats::looks_like_pkcs12(bytes) {
        return Err(PemError::Pkcs12 {
            path: source.to_string(),
        });
    }
    if let Some((announced, held, header)) = truncated_der(bytes) {
        // PFX ::= SEQUENCE { version INTEGER (3), … }
        let what = if bytes.get(header..header + 3) == Some(&[0x02, 0x01, 0x03]) {
            "a PKCS#12 archive (.pfx/.p12)"
        } else {
            "DER"
        };
        return Err(PemError::Garbage {
            path: source.to_string(),
            detail: format!(
                "truncated: {what} that announces {announced} bytes, the file holds {held}; copy it again (binary mode)"
            ),
        });
    }
    match PrivateKeyDer::try_from(bytes.to_vec()) {
        Ok(key) => checked_key(source, key).map(|key| vec![Item::Key(key)]),
        Err(_) => Err(PemError::Garbage {
            path: source.to_string(),
            detail: "DER that is neither an X.509 certificate nor a private key".to_string(),
        }),
    }
}
