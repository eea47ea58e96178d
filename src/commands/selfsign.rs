//! `rcert selfsign`: a CA and a server certificate as Rancher's file set.

use std::fmt::Write as _;

use serde::Serialize;

use crate::check::Status;
use crate::files::{self, OutFile};
use crate::output::{next_steps_text, sans_text, shell_quote, Report, Style};
use crate::x509::cert::Dated;
use crate::x509::issue::{
    first_name, parse_sans, validate_cn, validate_days, Ca, CaFile, San, ServerSpec,
    MAX_CLIENT_ACCEPTED_DAYS,
};
use crate::x509::pem::Input;
use crate::x509::Cert;

/// What `rcert selfsign` is asked to do.
#[derive(Debug, Clone)]
pub struct SelfsignRequest {
    /// The server certificate to issue.
    pub server: ServerSpec,
    /// Validity of a generated CA in days.
    pub ca_days: u32,
    /// An existing CA (certificate path, key path) to sign with instead of generating one.
    pub existing_ca: Option<(Input, Input)>,
    /// Generate a new CA even when `out_dir` holds a CA pair (`--new-ca`).
    pub new_ca: bool,
    /// Directory the files go to.
    pub out_dir: std::path::PathBuf,
    /// Overwrite existing files.
    pub force: bool,
}

/// One file `rcert selfsign` wrote.
#[derive(Debug, Serialize)]
pub struct WrittenFile {
    /// Path of the file.
    pub path: String,
    /// What it holds.
    pub holds: String,
    /// Unix permission bits, in octal.
    pub mode: String,
    /// Whether the file was created or replaced an existing one.
    pub change: files::Change,
}

/// The result of `rcert selfsign`.
#[derive(Debug, Serialize)]
pub struct SelfsignReport {
    /// Files written, in order.
    pub files: Vec<WrittenFile>,
    /// The server certificate.
    pub server: Dated<Cert>,
    /// The CA certificate.
    pub ca: Dated<Cert>,
    /// Whether the CA was generated (false: reused from --ca-cert).
    pub ca_generated: bool,
    /// sha256 of cacerts.pem as Rancher serves it: the value of CATTLE_CA_CHECKSUM.
    pub ca_checksum: String,
    /// Things worth knowing that do not stop the run.
    pub warnings: Vec<String>,
    /// The commands to run next.
    pub next_steps: Vec<String>,
}

/// Generate (or reuse) a CA, issue the server certificate and write the four files.
pub fn selfsign(request: &SelfsignRequest) -> Result<SelfsignReport, crate::Error> {
    let server_days = validate_days("--days", request.server.days)?;
    if let Some(cn) = &request.server.common_name {
        validate_cn(cn)?;
    }
    validate_days("--ca-days", request.ca_days)?;
    let mut warnings = Vec::new();
    let sans = parse_sans(&request.server.hosts, &request.server.ips)?;
    warnings.extend(wildcard_warnings(&sans));
    if server_days > MAX_CLIENT_ACCEPTED_DAYS {
        warnings.push(format!(
            "--days {server_days} is longer than {MAX_CLIENT_ACCEPTED_DAYS} days: browsers and Apple clients reject such server certificates"
        ));
    }
    let existing_ca = match &request.existing_ca {
        Some(pair) => Some(pair.clone()),
        None => ca_pair_in_out_dir(request)?,
    };
    if existing_ca.is_some() && request.existing_ca.is_none() {
        warnings.push(format!(
            "{} already holds a CA (cacerts.pem + cakey.pem): renewed the server certificate with it, so CATTLE_CA_CHECKSUM stays the same; --new-ca replaces the CA instead",
            request.out_dir.display()
        ));
    }
    let ca = match &existing_ca {
        Some((cert_path, key_path)) => Ca::load(cert_path, key_path)?,
        None => Ca::generate(&request.server, request.ca_days)?,
    };
    let server = ca.sign_server(&request.server)?;
    if ca.key_pem.is_none() && ca.cert.public_key.algorithm != server.cert.public_key.algorithm {
        warnings.push(format!(
            "the existing CA keeps its own key ({}); --key-type applies to the new server key ({})",
            ca.cert.public_key, server.cert.public_key
        ));
    }
    if server.cert.not_after_time() > ca.cert.not_after_time() {
        warnings.push(format!(
            "the server certificate outlives its CA (CA expires {}): renew the CA before then",
            ca.cert.not_after
        ));
    }
    let (cacerts, chain_pem, notes) = ca_file_parts(&ca);
    warnings.extend(notes);
    let dir = &request.out_dir;
    files::ensure_directory(dir)?;
    let mut out = vec![
        OutFile::certificate(dir.join("cacerts.pem"), cacerts.clone()),
        OutFile::certificate(
            dir.join("tls.crt"),
            format!("{}{}", server.cert_pem, chain_pem),
        ),
        OutFile::key(dir.join("tls.key"), server.key_pem.clone()),
    ];
    if let Some(key_pem) = &ca.key_pem {
        out.insert(1, OutFile::key(dir.join("cakey.pem"), key_pem.clone()));
    }
    if let Some((Input::Path(cert_path), _)) = &existing_ca {
        out.retain(|file| !same_file(&file.path, cert_path));
    }
    let written = files::write_all(&out, request.force)?;
    warnings.extend(written.left_behind);
    let changes = written.changes;
    let ca_checksum = crate::rancher::ca_checksum(&cacerts);
    let files = out
        .iter()
        .zip(changes)
        .map(|(file, change)| WrittenFile {
            path: file.path.display().to_string(),
            holds: describe_output(&file.path),
            mode: format!("{:04o}", file.mode),
            change,
        })
        .collect();
    let next_steps = next_steps(dir, &first_name(&request.server), &ca_checksum);
    Ok(SelfsignReport {
        files,
        server: Dated::new(server.cert, request.server.issued_at),
        ca: Dated::new(ca.cert, request.server.issued_at),
        ca_generated: ca.key_pem.is_some(),
        ca_checksum,
        warnings,
        next_steps,
    })
}

/// The CA pair already in the output directory, which selfsign renews with unless
/// `--new-ca` is given: re-running the first-install command must not replace the CA
/// (and move every agent's `CATTLE_CA_CHECKSUM`). A `cacerts.pem` there without its key
/// is only replaced with `--new-ca`.
fn ca_pair_in_out_dir(request: &SelfsignRequest) -> Result<Option<(Input, Input)>, crate::Error> {
    let cert = request.out_dir.join("cacerts.pem");
    let key = request.out_dir.join("cakey.pem");
    if request.new_ca || !cert.exists() {
        return Ok(None);
    }
    if key.exists() {
        return Ok(Some((Input::path(cert), Input::path(key))));
    }
    if !request.force {
        return Ok(None);
    }
    Err(crate::Error::Usage(format!(
        "{} exists without cakey.pem beside it: renew with --ca-cert {} --ca-key KEY, or replace the CA with --new-ca (this moves CATTLE_CA_CHECKSUM: every agent must be told, see rcert rotate)",
        cert.display(),
        cert.display()
    )))
}

/// Split the CA into the bytes of `cacerts.pem`, the part of `tls.crt` after the leaf,
/// and notes. A generated CA is its own PEM. For a given CA file, split it into `cacerts.pem` and the part of `tls.crt` after the leaf.
///
/// A file holding only the signing CA is kept byte for byte (CRLF and text around the
/// PEM included, with a note), so the checksum agents compare does not move. A file
/// holding the signing intermediate and its root: the intermediates go into `tls.crt`,
/// the root alone into `cacerts.pem`.
fn ca_file_parts(ca: &Ca) -> (Vec<u8>, String, Vec<String>) {
    let signer = &ca.cert;
    let Some(CaFile {
        path,
        bytes,
        others,
    }) = &ca.file
    else {
        return (signer.pem().into_bytes(), signer.pem(), Vec::new());
    };
    let mut notes = Vec::new();
    if others.is_empty() {
        if bytes.windows(2).any(|pair| pair == b"\r\n") {
            notes.push(format!(
                "{path} has CRLF line endings; copied byte for byte to cacerts.pem so CATTLE_CA_CHECKSUM stays the same"
            ));
        }
        let text = String::from_utf8_lossy(bytes);
        let outside = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .take_while(|line| !line.starts_with("-----BEGIN"))
            .count()
            + text
                .rsplit_once("-----END CERTIFICATE-----")
                .map_or(0, |(_, after)| after.trim().len());
        if outside > 0 {
            notes.push(format!(
                "{path} holds text around the certificate; copied byte for byte to cacerts.pem so CATTLE_CA_CHECKSUM stays the same"
            ));
        }
        return (bytes.to_vec(), signer.pem(), notes);
    }
    let path_up = crate::chain::chain_from(signer, others);
    let root = path_up
        .last()
        .filter(|cert| cert.self_signed && cert.der() != signer.der());
    let chain_pem: String = path_up
        .iter()
        .filter(|cert| root.is_none_or(|root| cert.der() != root.der()))
        .map(Cert::pem)
        .collect();
    match root {
        // Rancher's docs: for a certificate signed by an intermediate CA, cacerts.pem
        // holds the intermediate(s) then the root. A file already in that order is copied
        // byte for byte (the checksum agents have does not move); else it is reordered.
        Some(root) => {
            let in_order = crate::x509::cert::certs_in(bytes)
                .iter()
                .map(|cert| cert.der().clone())
                .eq(path_up.iter().map(|cert| cert.der().clone()));
            let cacerts = if in_order {
                bytes.to_vec()
            } else {
                crate::chain::ca_file_pem(&path_up).into_bytes()
            };
            notes.push(format!(
                "{path} holds the signing CA '{}' and its root '{}': tls.crt gets the intermediate(s); cacerts.pem the intermediate(s) then the root, as Rancher's docs ask{}",
                signer.subject,
                root.subject,
                if in_order { " (a byte-for-byte copy)" } else { " (put in that order)" }
            ));
            (cacerts, chain_pem, notes)
        }
        None => {
            notes.push(format!(
                "{path} holds more than the signing CA but no root for it; cacerts.pem is a byte-for-byte copy of it"
            ));
            (bytes.to_vec(), chain_pem, notes)
        }
    }
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn describe_output(path: &std::path::Path) -> String {
    match path.file_name().and_then(|name| name.to_str()) {
        Some("cacerts.pem") => "CA certificate (secret tls-ca)",
        Some("cakey.pem") => "CA private key (keep offline; needed to renew)",
        Some("tls.crt") => "server certificate + CA (secret tls-rancher-ingress)",
        Some("tls.key") => "server private key, PKCS#8 (secret tls-rancher-ingress)",
        _ => "",
    }
    .to_string()
}

fn wildcard_warnings(sans: &[San]) -> Vec<String> {
    sans.iter()
        .filter_map(|san| match san {
            San::Dns(name) if name.starts_with("*.") => Some(format!(
                "{name} covers one label only: it matches a.{base} but neither {base} nor a.b.{base}",
                base = &name[2..]
            )),
            _ => None,
        })
        .collect()
}

fn next_steps(dir: &std::path::Path, host: &str, checksum: &str) -> Vec<String> {
    let path = |name: &str| shell_quote(&dir.join(name).display().to_string());
    let dir_arg = shell_quote(&dir.display().to_string());
    let host = shell_quote(host);
    vec![
        format!(
            "rcert verify --ca {} --key {} {}",
            path("cacerts.pem"),
            path("tls.key"),
            path("tls.crt")
        ),
        format!("rcert push --namespace cattle-system --dir {dir_arg}"),
        format!(
            "kubectl -n cattle-system create secret tls tls-rancher-ingress --cert={} --key={}",
            path("tls.crt"),
            path("tls.key")
        ),
        format!(
            "kubectl -n cattle-system create secret generic tls-ca --from-file=cacerts.pem={}",
            path("cacerts.pem")
        ),
        format!("helm install rancher rancher-latest/rancher --namespace cattle-system --set hostname={host} --set ingress.tls.source=secret --set privateCA=true"),
        format!("agents compare CATTLE_CA_CHECKSUM={checksum}"),
    ]
}

impl Report for SelfsignReport {
    fn text(&self, style: &Style) -> String {
        selfsign_text(self, style)
    }

    fn exit_code(&self) -> u8 {
        crate::exit::OK
    }
}

fn selfsign_text(report: &SelfsignReport, style: &Style) -> String {
    let mut out = String::new();
    let ca_origin = if report.ca_generated {
        "new CA"
    } else {
        "existing CA"
    };
    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!(
            "Issued '{}' ({}, {} → {}) signed by {ca_origin} '{}'",
            report.server.subject,
            report.server.public_key,
            report.server.not_before,
            report.server.not_after,
            report.ca.subject
        ))
    );
    let _ = writeln!(out, "  SANs: {}", sans_text(&report.server));
    for file in &report.files {
        let verb = match file.change {
            files::Change::Created => "wrote",
            files::Change::Replaced => "replaced",
        };
        let _ = writeln!(
            out,
            "  {verb} {} ({}) — {}",
            file.path, file.mode, file.holds
        );
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "  {} {warning}", style.status(Status::Warning));
    }
    out.push_str(&next_steps_text(&report.next_steps));
    out
}
