//! The server certificate set Rancher's `tls-rancher-ingress` Secret holds — `tls.crt`
//! (leaf and intermediates) and `tls.key` — read once: the exact bytes the Secret gets
//! (PEM whatever came in) and the parsed facts, judged by the same checks every command
//! applies. push and rotate load it here; import builds one; doctor reads a Secret's.

use crate::check::{Check, Clients};
use crate::checks::{check_chain, Context, Origin};
use crate::rancher::CaBundle;
use crate::x509::cert::{certs_from, key_from, Cert, KeyInfo};
use crate::x509::pem::{self, Input, PemError};

/// `tls.crt` and `tls.key`, read once.
#[derive(Debug, Clone)]
pub struct CertSet {
    /// Where the certificate came from (named in every finding).
    pub cert_path: String,
    /// Where the key came from.
    pub key_path: String,
    /// The certificates of `tls.crt`, in file order.
    pub chain: Vec<Cert>,
    /// Read from a Secret (doctor), not from files: a fix rebuilds and pushes it.
    pub in_secret: bool,
    /// `tls.crt` as the Secret holds it: the certificates as PEM.
    pub cert_pem: Vec<u8>,
    /// The facts of the key (None: a Secret whose tls.key is missing or unusable — read
    /// files always have one, or loading fails).
    pub key: Option<KeyInfo>,
    /// `tls.key` as the Secret holds it: the key as PEM.
    pub key_pem: Vec<u8>,
}

/// How to judge a set: against which roots, for which names, when, by whom.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// The CA file (`cacerts.pem`, `--ca`), or the Mozilla roots when `None`.
    pub roots: Option<CaBundle>,
    /// Names the certificate must be valid for.
    pub hosts: Vec<String>,
    /// The time of judgement.
    pub at: time::OffsetDateTime,
    /// Whose rejection fails a check.
    pub clients: Clients,
}

impl CertSet {
    /// Read `tls.crt` (certificates only: a private key in it is refused, it would be
    /// published) and `tls.key`.
    pub fn load(cert_input: &Input, key_input: &Input) -> Result<CertSet, PemError> {
        let cert = pem::load_certificates_only(cert_input)?;
        let key_file = pem::load(key_input)?;
        Ok(CertSet {
            cert_path: cert_input.name(),
            key_path: key_input.name(),
            chain: certs_from(&cert)?,
            in_secret: false,
            cert_pem: cert.certificates_as_pem(),
            key: Some(key_from(&key_file)?),
            key_pem: key_file.key_as_pem(),
        })
    }

    /// The set a Secret holds (`secret`: `namespace/name`), from its `tls.crt` and
    /// `tls.key` data; None when `tls.crt` holds no readable certificate. A key that is
    /// missing or unusable leaves `key` empty (the caller reports it).
    pub fn from_secret(secret: &str, cert: &[u8], key: Option<&[u8]>) -> Option<CertSet> {
        let chain = crate::x509::cert::certs_in(cert);
        if chain.is_empty() {
            return None;
        }
        Some(CertSet {
            cert_path: format!("tls.crt of secret {secret}"),
            key_path: format!("tls.key of secret {secret}"),
            chain,
            in_secret: true,
            cert_pem: cert.to_vec(),
            key: key.and_then(crate::x509::cert::key_in),
            key_pem: key.map(<[u8]>::to_vec).unwrap_or_default(),
        })
    }

    /// The verify checks on the set: the chain, its order and dates, the key.
    pub fn validate(&self, judgement: &Judgement) -> Vec<Check> {
        let context = Context {
            ca: judgement.roots.clone(),
            untrusted: Vec::new(),
            untrusted_files: Vec::new(),
            key: self.key.clone().map(|key| (self.key_path.clone(), key)),
            hosts: judgement.hosts.clone(),
            at: judgement.at,
            warn_days: 30,
            clients: judgement.clients,
            max_depth: None,
        };
        let origin = if self.in_secret {
            Origin::Secret(&self.cert_path)
        } else {
            Origin::File(&self.cert_path)
        };
        check_chain(&self.chain, origin, &context)
    }
}
