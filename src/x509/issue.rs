//HEADER issue
//! CA and server certificate generation (rcgen), for `rcert selfsign`.
//!
//! The types make the wrong order impossible: only a [`Ca`] (generated, or
//! loaded from an existing certificate and key) can sign a [`ServerCert`].

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::PrivateKeyDer;
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::x509::cert::{Cert, KeyInfo};
use crate::x509::pem::{self, PemError};

/// Longest server validity that Apple and Chrome accept for TLS server certificates.
pub const MAX_CLIENT_ACCEPTED_DAYS: u32 = 825;
/// Default server certificate validity in days.
pub const DEFAULT_DAYS: u32 = 825;
/// Default CA validity in days.
pub const DEFAULT_CA_DAYS: u32 = 3650;
/// Upper bound on any validity rcert issues (100 years).
pub const MAX_DAYS: u32 = 36_500;

/// Key algorithms `rcert selfsign` can generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// ECDSA on P-256 with SHA-256 (default; smallest and fastest).
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384,
    /// Ed25519 (not accepted by every browser for TLS).
    Ed25519,
    /// RSA 2048 bits with SHA-256.
    #[value(name = "rsa-2048")]
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    /// RSA 3072 bits with SHA-256.
    #[value(name = "rsa-3072")]
    #[serde(rename = "rsa-3072")]
    Rsa3072,
    /// RSA 4096 bits with SHA-256.
    #[value(name = "rsa-4096")]
    #[serde(rename = "rsa-4096")]
    Rsa4096,
}

impl KeyType {
    fn is_rsa(self) -> bool {
        matches!(self, KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096)
    }

    /// Generate a fresh key of this type.
    pub fn generate(self) -> Result<KeyPair, IssueError> {
        use rcgen::{RsaKeySize, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519};
        let rsa = |size| KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size);
        let generated = match self {
            KeyType::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
            KeyType::EcdsaP384 => KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384),
            KeyType::Ed25519 => KeyPair::generate_for(&PKCS_ED25519).and_then(pkcs8_v1_ed25519),
            KeyType::Rsa2048 => rsa(RsaKeySize::_2048),
            KeyType::Rsa3072 => rsa(RsaKeySize::_3072),
            KeyType::Rsa4096 => rsa(RsaKeySize::_4096),
        };
        generated.map_err(|err| IssueError::Generate(err.to_string()))
    }
}

/// Re-encode an Ed25519 key as PKCS#8 v1 (seed only): OpenSSL 3.0, and therefore
/// nginx and ingress-nginx, refuse the v2 form (with public key) that aws-lc writes.
fn pkcs8_v1_ed25519(key: KeyPair) -> Result<KeyPair, rcgen::Error> {
    const V1_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    const V2_ALGORITHM_AND_SEED_HEADER: [u8; 14] = [
        0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ];
    let der = key.serialized_der();
    if der.len() < 48 || der[2..16] != V2_ALGORITHM_AND_SEED_HEADER {
        return Ok(key);
    }
    let mut v1 = V1_PREFIX.to_vec();
    v1.extend_from_slice(&der[16..48]);
    KeyPair::try_from(v1)
}

/// Why certificates could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// A `--host` value that is neither a DNS name nor an IP address.
    #[error("--host '{host}' is neither a DNS name nor an IP address: {reason}{hint}", hint = crate::x509::names::ascii_hint(host))]
    InvalidHost { host: String, reason: String },
    /// A `--cn` clients or CAs would refuse.
    #[error("--cn '{cn}': {reason}")]
    InvalidCn { cn: String, reason: String },
    /// No `--host` and no `--ip` given.
    #[error("give at least one --host (the Rancher hostname) or --ip")]
    NoNames,
    /// A validity outside 1..=36500 days.
    #[error("{flag} {days}: must be between 1 and {MAX_DAYS} days")]
    InvalidDays { flag: &'static str, days: u32 },
    /// The CA given with `--ca-cert` cannot sign server certificates.
    #[error("{path}: {reason}")]
    UnusableCa { path: String, reason: String },
    /// Reading the existing CA failed.
    #[error(transparent)]
    Pem(#[from] PemError),
    /// rcgen refused to generate a key or certificate.
    #[error("cannot generate: {0}")]
    Generate(String),
}

/// What to put in the server certificate.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// DNS names (wildcards allowed) and IP literals, in order; the first is the CN.
    pub hosts: Vec<String>,
    /// Additional IP SANs.
    pub ips: Vec<IpAddr>,
    /// Subject CN override.
    pub common_name: Option<String>,
    /// Subject O, also used for a generated CA.
    pub organization: Option<String>,
    /// Validity in days.
    pub days: u32,
    /// Key algorithm of the server key (and of a generated CA).
    pub key_type: KeyType,
    /// When the certificates are issued (the run's one "now", taken in `cli`).
    pub issued_at: OffsetDateTime,
}

/// A subject alternative name, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    /// A DNS name, possibly `*.`-wildcarded.
    Dns(String),
    /// An IP address.
    Ip(IpAddr),
}

/// Classify each `--host`: an IP literal becomes an IP SAN, anything else must be a DNS name.
pub fn parse_sans(hosts: &[String], ips: &[IpAddr]) -> Result<Vec<San>, IssueError> {
    let mut sans = Vec::new();
    for host in hosts {
        let trimmed = host.trim_start_matches('[').trim_end_matches(']');
        let san = match trimmed.parse::<IpAddr>() {
            Ok(ip) => San::Ip(ip),
            Err(_) => San::Dns(validate_dns_name(host)?),
        };
        if !sans.contains(&san) {
            sans.push(san);
        }
    }
    for ip in ips {
        if !sans.contains(&San::Ip(*ip)) {
            sans.push(San::Ip(*ip));
        }
    }
    if sans.is_empty() {
        return Err(IssueError::NoNames);
    }
    Ok(sans)
}

/// Check a DNS name (RFC 1123 labels; `*` only as the whole left-most label) and
/// return it in lower case.
pub fn validate_dns_name(host: &str) -> Result<String, IssueError> {
    let invalid = |reason: &str| IssueError::InvalidHost {
        host: host.to_string(),
        reason: reason.to_string(),
    };
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if name.len() > 253 {
        return Err(invalid("longer than 253 characters"));
    }
    for (index, label) in name.split('.').enumerate() {
        if label == "*" && index == 0 {
            if name.matches('.').count() < 2 {
                return Err(invalid(
                    "a wildcard needs at least two labels after '*.' (e.g. *.example.com)",
                ));
            }
            continue;
        }
        if label.is_empty() {
            return Err(invalid("it has an empty label (two dots in a row?)"));
        }
        if label.len() > 63 {
            return Err(invalid("a label is longer than 63 characters"));
        }
        if label.contains('*') {
            return Err(invalid("'*' is only allowed as the whole left-most label"));
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(invalid(
                "only letters, digits, '-' and '.' are allowed (no '_', URL, port or space): clients refuse other host names",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid("a label starts or ends with '-'"));
        }
    }
    Ok(name)
}

/// Check a `--cn`: not empty, at most 64 characters (RFC 5280's upper bound for a CN).
pub fn validate_cn(cn: &str) -> Result<(), IssueError> {
    let invalid = |reason: &str| IssueError::InvalidCn {
        cn: cn.to_string(),
        reason: reason.to_string(),
    };
    if cn.trim().is_empty() {
        return Err(invalid(
            "it is empty; leave --cn out to use the first --host",
        ));
    }
    if cn.chars().count() > 64 {
        return Err(invalid(
            "longer than 64 characters (RFC 5280 ub-common-name)",
        ));
    }
    Ok(())
}

/// Check a validity given in days.
pub fn validate_days(flag: &'static str, days: u32) -> Result<u32, IssueError> {
    if days == 0 || days > MAX_DAYS {
        return Err(IssueError::InvalidDays { flag, days });
    }
    Ok(days)
}

/// A CA file as given: its exact bytes and the certificates besides the signing CA.
#[derive(Debug, Clone)]
pub struct CaFile {
    /// The path as given.
    pub path: String,
    /// Its exact bytes.
    pub bytes: Vec<u8>,
    /// Its other certificates (e.g. the root after the signing intermediate).
    pub others: Vec<Cert>,
}

/// A CA that can sign server certificates.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// The CA file given to [`Ca::load`] (None for a generated CA).
    pub file: Option<CaFile>,
    /// The CA private key as PEM, only when rcert generated it.
    pub key_pem: Option<String>,
    /// Facts of the CA certificate.
    pub cert: Cert,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("cert", &self.cert.subject)
            .field("key_pem", &self.key_pem.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Ca {
    /// Generate a new self-signed CA (CA:TRUE, pathlen 0, keyCertSign + cRLSign).
    pub fn generate(spec: &ServerSpec, days: u32) -> Result<Ca, IssueError> {
        let key = spec.key_type.generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(
            &format!("rcert CA for {}", first_name(spec)),
            spec.organization.as_deref(),
        );
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        set_validity(&mut params, spec.issued_at, days);
        params.serial_number = Some(random_serial()?);
        let cert = params
            .self_signed(&key)
            .map_err(|err| IssueError::Generate(err.to_string()))?;
        let facts = Cert::from_der(cert.der().clone())
            .map_err(|err| IssueError::Generate(err.to_string()))?;
        let key_pem = key.serialize_pem();
        Ok(Ca {
            issuer: Issuer::new(params, key),
            file: None,
            key_pem: Some(key_pem),
            cert: facts,
        })
    }

    /// Load an existing CA certificate and its key (renewal without re-trusting agents).
    pub fn load(cert_input: &pem::Input, key_input: &pem::Input) -> Result<Ca, IssueError> {
        let (cert_path, key_path) = (&cert_input.name(), &key_input.name());
        let unusable = |reason: String| IssueError::UnusableCa {
            path: cert_path.to_string(),
            reason,
        };
        let read = pem::load_certificates_beside_keys(cert_input)?;
        let loaded = read.loaded;
        if !read.key_labels.is_empty() {
            // cacerts.pem is a byte-for-byte copy of this file, and Rancher serves it.
            return Err(unusable(format!(
                "holds a private key next to the CA certificate; cacerts.pem is a byte-for-byte copy of it and Rancher serves it to anyone at /cacerts: split it with sed -n '/-BEGIN CERTIFICATE-/,/-END CERTIFICATE-/p' {path} > ca.pem, then --ca-cert ca.pem --ca-key {path}",
                path = crate::check::shell_quote(cert_path)
            )));
        }
        let certs = crate::x509::cert::certs_from(&loaded)?;
        let key_der = pem::load_key(key_input)?;
        let key_info = KeyInfo::from_der(&key_der).map_err(|detail| PemError::BadKey {
            path: key_path.to_string(),
            detail: detail.to_string(),
        })?;
        let Some(position) = certs.iter().position(|cert| cert.matches_key(&key_info)) else {
            let names: Vec<String> = certs.iter().map(|c| format!("'{}'", c.subject)).collect();
            return Err(unusable(format!(
                "{key_path} is not the private key of {}",
                names.join(" or ")
            )));
        };
        let mut others = certs;
        let ca_cert = others.remove(position);
        if !ca_cert.is_ca {
            return Err(unusable(format!(
                "'{}' is not a CA certificate (basicConstraints CA:TRUE missing)",
                ca_cert.subject
            )));
        }
        let key = load_signing_key(key_path, &key_der)?;
        let issuer = Issuer::from_ca_cert_der(ca_cert.der(), key)
            .map_err(|err| unusable(format!("cannot sign with this CA: {err}")))?;
        Ok(Ca {
            issuer,
            file: Some(CaFile {
                path: cert_path.to_string(),
                bytes: loaded.bytes,
                others,
            }),
            key_pem: None,
            cert: ca_cert,
        })
    }

    /// Issue a server certificate (serverAuth, SANs, SKI/AKI, random serial) with a new key.
    pub fn sign_server(&self, spec: &ServerSpec) -> Result<ServerCert, IssueError> {
        let sans = parse_sans(&spec.hosts, &spec.ips)?;
        let key = spec.key_type.generate()?;
        let mut params = CertificateParams::default();
        let common_name = spec.common_name.clone().unwrap_or_else(|| first_name(spec));
        params.distinguished_name = distinguished_name(&common_name, spec.organization.as_deref());
        params.subject_alt_names = sans
            .iter()
            .map(|san| match san {
                San::Dns(name) => name
                    .as_str()
                    .try_into()
                    .map(SanType::DnsName)
                    .map_err(|err| IssueError::InvalidHost {
                        host: name.clone(),
                        reason: err.to_string(),
                    }),
                San::Ip(ip) => Ok(SanType::IpAddress(*ip)),
            })
            .collect::<Result<_, _>>()?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if spec.key_type.is_rsa() {
            params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, spec.issued_at, spec.days);
        params.serial_number = Some(random_serial()?);
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|err| IssueError::Generate(err.to_string()))?;
        let facts = Cert::from_der(cert.der().clone())
            .map_err(|err| IssueError::Generate(err.to_string()))?;
        Ok(ServerCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert: facts,
        })
    }
}

/// A server certificate and its new private key.
pub struct ServerCert {
    /// The certificate as PEM.
    pub cert_pem: String,
    /// The private key as PKCS#8 PEM.
    pub key_pem: String,
    /// Facts of the certificate.
    pub cert: Cert,
}

impl std::fmt::Debug for ServerCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCert")
            .field("cert", &self.cert.subject)
            .field("key_pem", &"[redacted]")
            .finish()
    }
}

fn load_signing_key(path: &str, der: &PrivateKeyDer<'_>) -> Result<KeyPair, IssueError> {
    KeyPair::try_from(der).map_err(|err| {
        IssueError::Pem(PemError::BadKey {
            path: path.to_string(),
            detail: err.to_string(),
        })
    })
}

/// The name a server certificate is for: its first host, else its first IP.
pub fn first_name(spec: &ServerSpec) -> String {
    spec.hosts
        .first()
        .cloned()
        .or_else(|| spec.ips.first().map(IpAddr::to_string))
        .unwrap_or_default()
}

fn distinguished_name(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    if let Some(org) = organization {
        name.push(DnType::OrganizationName, org);
    }
    name.push(DnType::CommonName, common_name);
    name
}

fn set_validity(params: &mut CertificateParams, issued_at: OffsetDateTime, days: u32) {
    let now = issued_at.replace_nanosecond(0).unwrap_or(issued_at);
    // Backdated a few minutes: a node whose clock runs behind must not see "not yet valid".
    params.not_before = now - Duration::minutes(5);
    params.not_after = now + Duration::days(i64::from(days));
}

/// A random positive 128-bit serial (rcgen would otherwise derive it from the key).
fn random_serial() -> Result<SerialNumber, IssueError> {
    use aws_lc_rs::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| IssueError::Generate("no randomness for the serial number".to_string()))?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_become_dns_or_ip_sans() {
        let hosts = vec![
            "Rancher.Example.com".to_string(),
            "10.0.0.1".to_string(),
            "[::1]".to_string(),
            "*.example.com".to_string(),
        ];
        let sans = parse_sans(&hosts, &["10.0.0.1".parse().unwrap()]).unwrap();
        assert_eq!(
            sans,
            vec![
                San::Dns("rancher.example.com".into()),
                San::Ip("10.0.0.1".parse().unwrap()),
                San::Ip("::1".parse().unwrap()),
                San::Dns("*.example.com".into()),
            ]
        );
    }

    #[test]
    fn bad_hosts_are_refused() {
        for host in [
            "https://rancher.example.com",
            "rancher.example.com:443",
            "a..b",
            "*.com",
            "a.*.example.com",
            "-bad.example.com",
            "",
            "has space.example.com",
        ] {
            assert!(validate_dns_name(host).is_err(), "{host} accepted");
        }
    }

    #[test]
    fn days_bounds() {
        assert!(validate_days("--days", 0).is_err());
        assert!(validate_days("--days", MAX_DAYS + 1).is_err());
        assert_eq!(validate_days("--days", 825).unwrap(), 825);
    }
}
