//! `rcert inspect`: the facts a person reads, for certificates and keys.

use std::fmt::Write as _;

use serde::Serialize;

use crate::output::{cert_text, Report, Style};
use crate::x509::cert::{certs_from, Cert, Dated, KeyInfo};
use crate::x509::formats::read_pkcs12;
use crate::x509::pem::{self, Input, Item, PemError};

/// One item of `rcert inspect`'s report.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Inspected {
    /// A certificate and its facts.
    Certificate {
        /// The input it came from.
        source: String,
        /// Facts of the certificate.
        #[serde(flatten)]
        cert: Box<Dated<Cert>>,
    },
    /// A private key, and which of the certificates given in the same run it belongs to.
    PrivateKey {
        /// The input it came from.
        source: String,
        /// Facts of the key.
        #[serde(flatten)]
        key: KeyInfo,
        /// The certificates (from any input of this run) whose public key it matches.
        matches: Vec<KeyMatch>,
    },
    /// A PEM block rcert does not interpret.
    Other {
        /// The input it came from.
        source: String,
        /// The PEM label.
        label: String,
    },
    /// An input that could not be read (exit 2 once every input is reported).
    Unreadable {
        /// The input.
        source: String,
        /// Why.
        error: String,
    },
}

/// Inspect every input: certificates, keys (matched to the certificates) and other blocks;
/// PKCS#12 archives are opened with `password` (the password and where it came from), or
/// with one typed on the terminal when `prompt`.
pub fn inspect(
    sources: &[Input],
    password: Option<&(String, String)>,
    prompt: bool,
    at: time::OffsetDateTime,
) -> Result<InspectReport, PemError> {
    let mut found = Vec::new();
    for source in sources {
        match inspect_one(source, password, prompt, at) {
            Ok(items) => found.extend(items),
            Err(error) => found.push(Inspected::Unreadable {
                source: source.name(),
                error: error.to_string(),
            }),
        }
    }
    match_keys_to_certs(&mut found);
    Ok(InspectReport(found))
}

/// Read an input as every command does; a PKCS#12 archive is opened with the password.
fn load(
    input: &Input,
    password: Option<&(String, String)>,
    prompt: bool,
) -> Result<pem::Loaded, LoadError> {
    let bytes = pem::read_input(input)?;
    let source = &input.name();
    match pem::parse_loaded(source, bytes.clone()) {
        Err(PemError::Pkcs12 { .. }) => {
            let missing = || LoadError::NoPassword(source.to_string());
            let typed;
            let (password, from) = match password {
                Some((password, from)) => (password.as_str(), from.as_str()),
                None if prompt => {
                    typed = crate::output::prompt_password(&format!("Password for {source}: "))
                        .map_err(|_| missing())?;
                    (typed.reveal(), "the terminal")
                }
                None => return Err(missing()),
            };
            let contents = read_pkcs12(&bytes, password).map_err(|reason| LoadError::Pkcs12 {
                input: source.to_string(),
                reason,
                from: from.to_string(),
            })?;
            let items = contents
                .certificates
                .into_iter()
                .map(Item::Certificate)
                .chain(contents.keys.into_iter().map(Item::Key))
                .collect();
            Ok(pem::Loaded {
                source: source.to_string(),
                bytes,
                items,
            })
        }
        other => Ok(other?),
    }
}

/// Why an input could not be read for inspection.
#[derive(Debug, thiserror::Error)]
enum LoadError {
    /// Not readable or not PEM/DER/PKCS#7.
    #[error(transparent)]
    Read(#[from] PemError),
    /// A PKCS#12 archive and no password.
    #[error("{0}: a PKCS#12 archive (.pfx/.p12): give its password with --password-file FILE or --password-env VAR")]
    NoPassword(String),
    /// The archive could not be opened with the password given.
    #[error("{input}: {reason} (password from {from})")]
    Pkcs12 {
        input: String,
        #[source]
        reason: crate::x509::formats::Pkcs12Error,
        from: String,
    },
}

fn inspect_one(
    input: &Input,
    password: Option<&(String, String)>,
    prompt: bool,
    at: time::OffsetDateTime,
) -> Result<Vec<Inspected>, LoadError> {
    let source = &input.name();
    let mut found = Vec::new();
    {
        let loaded = load(input, password, prompt)?;
        let certs = certs_from(&loaded)?;
        let mut certs = certs.into_iter();
        for item in &loaded.items {
            match item {
                Item::Certificate(_) => {
                    if let Some(cert) = certs.next() {
                        found.push(Inspected::Certificate {
                            source: source.to_string(),
                            cert: Box::new(Dated::new(cert, at)),
                        });
                    }
                }
                Item::Key(der) => {
                    let key = KeyInfo::from_der(der).map_err(|detail| PemError::BadKey {
                        path: source.to_string(),
                        detail: detail.to_string(),
                    })?;
                    found.push(Inspected::PrivateKey {
                        source: source.to_string(),
                        key,
                        matches: Vec::new(),
                    });
                }
                Item::Other(label) => found.push(Inspected::Other {
                    source: source.to_string(),
                    label: label.clone(),
                }),
            }
        }
    }
    Ok(found)
}

fn match_keys_to_certs(found: &mut [Inspected]) {
    let certs: Vec<(String, Cert)> = found
        .iter()
        .filter_map(|item| match item {
            Inspected::Certificate { source, cert } => Some((source.clone(), cert.inner.clone())),
            _ => None,
        })
        .collect();
    for item in found.iter_mut() {
        if let Inspected::PrivateKey { key, matches, .. } = item {
            let mut seen = std::collections::HashSet::new();
            *matches = certs
                .iter()
                .filter(|(_, cert)| cert.matches_key(key))
                .filter(|(_, cert)| seen.insert(cert.sha256_fingerprint.clone()))
                .map(|(source, cert)| KeyMatch {
                    source: source.clone(),
                    subject: cert.subject.clone(),
                    sha256: cert.sha256_fingerprint.clone(),
                })
                .collect();
        }
    }
}

/// A certificate a private key belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct KeyMatch {
    /// The input it was read from.
    pub source: String,
    /// Its subject.
    pub subject: String,
    /// SHA-256 of its DER, colon-separated hex.
    pub sha256: String,
}

/// The result of `rcert inspect`: every item of every input, in input order.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct InspectReport(pub Vec<Inspected>);

impl InspectReport {
    /// The error of every input that could not be read.
    pub fn unreadable(&self) -> impl Iterator<Item = &String> {
        self.0.iter().filter_map(|item| match item {
            Inspected::Unreadable { error, .. } => Some(error),
            _ => None,
        })
    }
}

impl Report for InspectReport {
    fn text(&self, style: &Style) -> String {
        // Errors go to stderr; a report of nothing but errors would only repeat them.
        if self
            .0
            .iter()
            .all(|item| matches!(item, Inspected::Unreadable { .. }))
        {
            return String::new();
        }
        inspect_text(&self.0, style)
    }

    /// 2 when an input could not be read, else 0.
    fn exit_code(&self) -> u8 {
        if self.unreadable().next().is_some() {
            crate::exit::BAD_INPUT
        } else {
            crate::exit::OK
        }
    }
}

fn inspect_text(items: &[Inspected], style: &Style) -> String {
    let mut out = String::new();
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        match item {
            Inspected::Certificate { source, cert } => {
                let _ = writeln!(out, "{}", style.heading(&format!("{source}: certificate")));
                out.push_str(&cert_text(cert, cert.at, style));
            }
            Inspected::PrivateKey {
                source,
                key,
                matches,
            } => {
                let _ = writeln!(out, "{}", style.heading(&format!("{source}: private key")));
                let _ = writeln!(out, "  {:<18}{}", "Format:", key.format);
                let _ = writeln!(out, "  {:<18}{}", "Public key:", key.public_key);
                let belongs = if matches.is_empty() {
                    "no certificate given in this run".to_string()
                } else {
                    matches
                        .iter()
                        .map(|found| format!("{}: '{}'", found.source, found.subject))
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                let _ = writeln!(out, "  {:<18}{belongs}", "Belongs to:");
            }
            Inspected::Unreadable { source, error } => {
                let _ = writeln!(out, "{}", style.heading(&format!("{source}: cannot read")));
                let _ = writeln!(out, "  {error}");
            }
            Inspected::Other { source, label } => {
                let _ = writeln!(
                    out,
                    "{}",
                    style.heading(&format!("{source}: '{label}' block (not inspected)"))
                );
            }
        }
    }
    out
}
