//! `rcert inspect`: the facts a person reads, for certificates and keys.

use std::fmt::Write as _;

use serde::Serialize;

use crate::output::{cert_text, Report, Style};
use crate::x509::cert::{certs_from, Cert, KeyInfo};
use crate::x509::pem::{self, Item, PemError};

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
        cert: Box<Cert>,
    },
    /// A private key, and which of the certificates given in the same run it belongs to.
    PrivateKey {
        /// The input it came from.
        source: String,
        /// Facts of the key.
        #[serde(flatten)]
        key: KeyInfo,
        /// Subjects of the certificates (from any input of this run) whose public key it matches.
        matches: Vec<String>,
    },
    /// A PEM block rcert does not interpret.
    Other {
        /// The input it came from.
        source: String,
        /// The PEM label.
        label: String,
    },
}

/// Inspect every input: certificates, keys (matched to the certificates) and other blocks.
pub fn inspect(sources: &[String]) -> Result<InspectReport, PemError> {
    let mut found = Vec::new();
    for source in sources {
        let loaded = pem::load(source)?;
        let certs = certs_from(&loaded)?;
        let mut certs = certs.into_iter();
        for item in &loaded.items {
            match item {
                Item::Certificate(_) => {
                    if let Some(cert) = certs.next() {
                        found.push(Inspected::Certificate {
                            source: source.clone(),
                            cert: Box::new(cert),
                        });
                    }
                }
                Item::Key(der) => {
                    let key = KeyInfo::from_der(der).map_err(|detail| PemError::BadKey {
                        path: source.clone(),
                        detail,
                    })?;
                    found.push(Inspected::PrivateKey {
                        source: source.clone(),
                        key,
                        matches: Vec::new(),
                    });
                }
                Item::Other(label) => found.push(Inspected::Other {
                    source: source.clone(),
                    label: label.clone(),
                }),
            }
        }
    }
    match_keys_to_certs(&mut found);
    Ok(InspectReport(found))
}

fn match_keys_to_certs(found: &mut [Inspected]) {
    let certs: Vec<(String, Cert)> = found
        .iter()
        .filter_map(|item| match item {
            Inspected::Certificate { source, cert } => Some((source.clone(), (**cert).clone())),
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
                .map(|(source, cert)| format!("{source}: '{}'", cert.subject))
                .collect();
        }
    }
}

/// The result of `rcert inspect`: every item of every input, in input order.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct InspectReport(pub Vec<Inspected>);

impl Report for InspectReport {
    fn text(&self, style: &Style) -> String {
        inspect_text(&self.0, style)
    }

    fn exit_code(&self) -> u8 {
        crate::exit::OK
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
                out.push_str(&cert_text(cert, style));
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
                    matches.join("; ")
                };
                let _ = writeln!(out, "  {:<18}{belongs}", "Belongs to:");
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
