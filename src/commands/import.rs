//! `rcert import`: whatever a CA hands out — PKCS#12 (`.pfx`/`.p12`, with a password),
//! PKCS#7 bundles, DER or PEM certificates and keys — becomes Rancher's file set:
//! `tls.crt` (leaf + intermediates), `tls.key` (PKCS#8, 0600) and `cacerts.pem` (the root),
//! written as one all-or-nothing set, then judged by verify's checks.

use std::fmt::Write as _;
use std::path::PathBuf;

use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;

use crate::certset::{CertSet, Judgement};
use crate::check::{Check, Status};
use crate::files::{self, Change, OutFile};
use crate::output::{checks_text, Report, Style};
use crate::rancher::CaBundle;
use crate::x509::formats::{read_pkcs12, ImportError};
use crate::x509::pem::{self, Input, Item, PemError};
use crate::x509::{Cert, KeyInfo};

/// What `rcert import` is asked to do.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The time of judgement, decided once by the CLI.
    pub at: time::OffsetDateTime,
    /// The files, in the order given.
    pub inputs: Vec<Input>,
    /// Directory for tls.crt, tls.key and cacerts.pem.
    pub out_dir: PathBuf,
    /// The PKCS#12 password, when one was given (file or environment).
    pub password: Option<String>,
    /// Where the password came from, for messages.
    pub password_source: Option<String>,
    /// Without a password: ask for it on the terminal (standard input is one).
    pub prompt: bool,
    /// Overwrite existing files.
    pub force: bool,
}

/// What one input held.
#[derive(Debug, Clone, Serialize)]
pub struct ImportedInput {
    /// The path as given.
    pub file: String,
    /// `PKCS#12`, `PKCS#7`, `PEM` or `DER`.
    pub format: String,
    /// Certificates it held.
    pub certificates: usize,
    /// Private keys it held.
    pub keys: usize,
}

/// One file written.
#[derive(Debug, Clone, Serialize)]
pub struct ImportedFile {
    /// Its path.
    pub path: String,
    /// What it holds.
    pub holds: String,
    /// Created or replaced.
    pub change: Change,
}

/// The result of `rcert import`.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// What each input held.
    pub inputs: Vec<ImportedInput>,
    /// The files written.
    pub files: Vec<ImportedFile>,
    /// The leaf whose key was found.
    pub leaf: String,
    /// Things worth knowing (certificates left out, no root).
    pub warnings: Vec<String>,
    /// verify's checks on the written set.
    pub checks: Vec<Check>,
    /// The worst check.
    pub status: Status,
    /// CATTLE_CA_CHECKSUM of the written cacerts.pem.
    pub ca_checksum: Option<String>,
}

/// Read every input, pick the leaf whose key is there, order the chain, write the set.
pub fn import(request: &ImportRequest) -> Result<ImportReport, crate::Error> {
    let mut inputs = Vec::new();
    let mut certs: Vec<Cert> = Vec::new();
    let mut keys: Vec<(String, PrivateKeyDer<'static>)> = Vec::new();
    for input in &request.inputs {
        let (format, found_certs, found_keys) = read_one(input, request)?;
        let input = &input.name();
        inputs.push(ImportedInput {
            file: input.clone(),
            format,
            certificates: found_certs.len(),
            keys: found_keys.len(),
        });
        for der in found_certs {
            let cert = Cert::from_der(der).map_err(|err| PemError::BadCertificate {
                path: input.clone(),
                index: 1,
                detail: err.to_string(),
            })?;
            if !certs.iter().any(|known| known.der() == cert.der()) {
                certs.push(cert);
            }
        }
        keys.extend(found_keys.into_iter().map(|key| (input.clone(), key)));
    }
    let found = describe(&inputs);
    if keys.is_empty() {
        return Err(ImportError::NoKey { found }.into());
    }
    let (leaf, key) = pick_pair(&certs, &keys, &found)?;
    let path = crate::chain::chain_from(&leaf, &certs);
    let root = path
        .last()
        .filter(|cert| cert.self_signed && cert.der() != leaf.der());
    let served: Vec<&Cert> = path
        .iter()
        .filter(|cert| root.is_none_or(|root| cert.der() != root.der()))
        .collect();
    let mut warnings = Vec::new();
    for cert in certs
        .iter()
        .filter(|c| !path.iter().any(|p| p.der() == c.der()))
    {
        warnings.push(format!(
            "left out '{}': not part of the chain of '{}'",
            cert.subject, leaf.subject
        ));
    }
    if root.is_none() {
        let top = path.last().unwrap_or(&leaf);
        warnings.push(format!(
            "no root CA among the inputs (the chain ends at '{}', issued by '{}'): cacerts.pem is not written; add the root to the inputs for a private CA",
            top.subject, top.issuer
        ));
    }
    let dir = &request.out_dir;
    files::ensure_directory(dir)?;
    let chain_pem: String = served.iter().map(|cert| cert.pem()).collect();
    let key_pem = pkcs8_pem(&key).map_err(|detail| PemError::BadKey {
        path: names(&request.inputs),
        detail: detail.to_string(),
    })?;
    let mut out = vec![
        OutFile::certificate(dir.join("tls.crt"), chain_pem.clone()),
        OutFile::key(dir.join("tls.key"), key_pem.clone()),
    ];
    // cacerts.pem as Rancher's docs ask: the intermediate(s) then the root.
    let issuers: Vec<Cert> = served
        .iter()
        .skip(1)
        .map(|cert| (*cert).clone())
        .chain(root.cloned())
        .collect();
    let ca_file = crate::chain::ca_file_pem(&issuers);
    if root.is_some() {
        out.push(OutFile::certificate(
            dir.join("cacerts.pem"),
            ca_file.clone(),
        ));
    }
    let written = files::write_all(&out, request.force)?;
    warnings.extend(written.left_behind);
    let changes = written.changes;
    let files = out
        .iter()
        .zip(changes)
        .map(|(file, change)| ImportedFile {
            path: file.path.display().to_string(),
            holds: match file.path.file_name().and_then(|n| n.to_str()) {
                Some("tls.crt") => format!("leaf + {} intermediate(s)", served.len() - 1),
                Some("tls.key") => "the leaf's private key, PKCS#8 (mode 0600)".to_string(),
                _ if issuers.len() > 1 => format!(
                    "{} intermediate(s) then the root CA (as Rancher's docs ask)",
                    issuers.len() - 1
                ),
                _ => "the root CA".to_string(),
            },
            change,
        })
        .collect();
    let ca = root.map(|_| {
        CaBundle::new(
            dir.join("cacerts.pem").display().to_string(),
            issuers.clone(),
            ca_file.into_bytes(),
            crate::rancher::BundleKind::File,
        )
    });
    let key_info = KeyInfo::from_der(&key).map_err(|detail| PemError::BadKey {
        path: names(&request.inputs),
        detail: detail.to_string(),
    })?;
    // The set as written, judged as push and rotate judge the one they read.
    let set = CertSet {
        cert_path: dir.join("tls.crt").display().to_string(),
        key_path: dir.join("tls.key").display().to_string(),
        chain: served.into_iter().cloned().collect(),
        in_secret: false,
        cert_pem: chain_pem.into_bytes(),
        key: Some(key_info),
        key_pem: key_pem.into_bytes(),
    };
    let checks = set.validate(&Judgement {
        roots: ca.clone(),
        hosts: Vec::new(),
        at: request.at,
        clients: crate::check::Clients::DEFAULT_SELECTION,
    });
    Ok(ImportReport {
        inputs,
        files,
        leaf: leaf.subject.clone(),
        warnings,
        status: Status::worst(&checks),
        checks,
        ca_checksum: ca.and_then(|ca| ca.checksum),
    })
}

/// Certificates and keys of one input, and its format.
type Found = (
    String,
    Vec<CertificateDer<'static>>,
    Vec<PrivateKeyDer<'static>>,
);

fn read_one(source: &Input, request: &ImportRequest) -> Result<Found, crate::Error> {
    let bytes = pem::read_input(source)?;
    let input = &source.name();
    match pem::parse_loaded(input, bytes.clone()) {
        Ok(loaded) => {
            let format = if loaded.is_pem() { "PEM" } else { "DER" };
            let format = if loaded.items.len() > 1 && !loaded.is_pem() {
                "PKCS#7"
            } else {
                format
            };
            let mut certs = Vec::new();
            let mut keys = Vec::new();
            for item in loaded.items {
                match item {
                    Item::Certificate(der) => certs.push(der),
                    Item::Key(der) => keys.push(der),
                    Item::Other(_) => {}
                }
            }
            Ok((format.to_string(), certs, keys))
        }
        Err(PemError::Pkcs12 { .. }) => {
            let (password, from) = match (&request.password, request.prompt) {
                (Some(password), _) => (
                    password.clone(),
                    request
                        .password_source
                        .clone()
                        .unwrap_or_else(|| "the command line".to_string()),
                ),
                (None, true) => {
                    let typed = crate::output::prompt_password(&format!("Password for {input}: "))
                        .map_err(|_| ImportError::NoPassword {
                            path: input.to_string(),
                        })?;
                    (typed.reveal().to_string(), "the terminal".to_string())
                }
                (None, false) => {
                    return Err(ImportError::NoPassword {
                        path: input.to_string(),
                    }
                    .into())
                }
            };
            let contents =
                read_pkcs12(&bytes, &password).map_err(|reason| ImportError::Pkcs12 {
                    path: input.to_string(),
                    reason,
                    source_name: format!("password from {from}"),
                })?;
            Ok(("PKCS#12".to_string(), contents.certificates, contents.keys))
        }
        Err(err) => Err(err.into()),
    }
}

fn describe(inputs: &[ImportedInput]) -> String {
    inputs
        .iter()
        .map(|input| {
            format!(
                "{}: {}, {} certificate(s), {} key(s)",
                input.file, input.format, input.certificates, input.keys
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The one end-entity certificate whose key is among the inputs.
fn pick_pair(
    certs: &[Cert],
    keys: &[(String, PrivateKeyDer<'static>)],
    found: &str,
) -> Result<(Cert, PrivateKeyDer<'static>), ImportError> {
    let mut pairs: Vec<(Cert, PrivateKeyDer<'static>)> = Vec::new();
    for (_, key) in keys {
        let Ok(info) = KeyInfo::from_der(key) else {
            continue;
        };
        for cert in certs.iter().filter(|cert| cert.matches_key(&info)) {
            if !pairs.iter().any(|(known, _)| known.der() == cert.der()) {
                pairs.push((cert.clone(), key.clone_key()));
            }
        }
    }
    // A CA whose key came along (an enterprise export) is not the server certificate.
    let leaves: Vec<(Cert, PrivateKeyDer<'static>)> = pairs
        .iter()
        .filter(|(cert, _)| !cert.is_ca)
        .map(|(cert, key)| (cert.clone(), key.clone_key()))
        .collect();
    let mut chosen = if leaves.is_empty() { pairs } else { leaves };
    match chosen.len() {
        0 => Err(ImportError::NoMatch {
            found: found.to_string(),
        }),
        1 => Ok(chosen.remove(0)),
        _ => Err(ImportError::SeveralPairs {
            pairs: chosen
                .iter()
                .map(|(cert, _)| format!("'{}'", cert.subject))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The key as PKCS#8 PEM, whatever flavour it came in.
fn pkcs8_pem(key: &PrivateKeyDer<'_>) -> Result<String, rcgen::Error> {
    if let PrivateKeyDer::Pkcs8(der) = key {
        return Ok(pem::encode("PRIVATE KEY", der.secret_pkcs8_der()));
    }
    Ok(rcgen::KeyPair::try_from(key)?.serialize_pem())
}

/// Read `--password-file`: the first line, without its LF or CRLF, as openssl's `file:`.
/// The inputs' names, comma-separated.
fn names(inputs: &[Input]) -> String {
    inputs
        .iter()
        .map(Input::name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first line of a password file (or of standard input), without its line ending.
pub fn password_from_file(input: &Input) -> Result<String, ImportError> {
    let mut bytes = Vec::new();
    let read = match input {
        Input::Stdin => std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).map(|_| ()),
        Input::Path(path) => std::fs::read(path).map(|read| bytes = read),
    };
    read.map_err(|err| ImportError::PasswordFile {
        path: input.name(),
        reason: pem::describe_io_error(&err),
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let first = text.split('\n').next().unwrap_or_default();
    Ok(first.strip_suffix('\r').unwrap_or(first).to_string())
}

impl Report for ImportReport {
    fn text(&self, style: &Style) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}",
            style.heading(&format!("Imported '{}'", self.leaf))
        );
        for input in &self.inputs {
            let _ = writeln!(
                out,
                "  read {} ({}): {} certificate(s), {} key(s)",
                input.file, input.format, input.certificates, input.keys
            );
        }
        for file in &self.files {
            let verb = match file.change {
                Change::Created => "wrote",
                Change::Replaced => "replaced",
            };
            let _ = writeln!(out, "  {verb} {} — {}", file.path, file.holds);
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "  {} {warning}", style.status(Status::Warning));
        }
        out.push_str(&checks_text(&self.checks, style));
        out
    }

    fn exit_code(&self) -> u8 {
        crate::output::exit_for(self.status)
    }
}
