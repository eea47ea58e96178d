//! `rcert fullchain`: order loose certificates leaf → intermediates (→ root).

use std::fmt::Write as _;

use serde::Serialize;

use crate::chain::{self, BuiltChain};
use crate::check::Status;
use crate::output::{Report, Style};
use crate::x509::cert::{Cert, Dated};

/// The result of `rcert fullchain`.
#[derive(Debug, Serialize)]
pub struct FullchainReport {
    /// The chain written (leaf, intermediates, and the root with --include-root).
    pub written: Dated<Vec<Cert>>,
    /// The chain as built from the inputs.
    #[serde(flatten)]
    pub built: Dated<BuiltChain>,
    /// Where the chain went (`-` for standard output).
    pub out: String,
    /// Where the root went, with --cacerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cacerts: Option<String>,
    /// The chain as PEM when written to standard output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pem: Option<String>,
    /// Failures (exit 1): a missing link, no leaf, no root for --cacerts.
    pub errors: Vec<String>,
    /// Warnings: unrelated certificates, duplicates.
    pub warnings: Vec<String>,
}

/// What `rcert fullchain` is asked to do.
#[derive(Debug, Clone)]
pub struct FullchainRequest {
    /// Input files (or `-`).
    pub inputs: Vec<crate::x509::pem::Input>,
    /// Output path for leaf + intermediates; `None` prints to standard output.
    pub out: Option<std::path::PathBuf>,
    /// Output path for the root alone.
    pub cacerts: Option<std::path::PathBuf>,
    /// Also put the root at the end of the chain.
    pub include_root: bool,
    /// Overwrite existing files.
    pub force: bool,
    /// The time of judgement (days left are counted from it), decided by the CLI.
    pub at: time::OffsetDateTime,
}

/// An output that is also an input holding a private key (a combined PEM): the chain
/// written over it would lose the key — refused before anything is read or written.
fn refuse_overwriting_keys(request: &FullchainRequest) -> Result<(), crate::Error> {
    let outputs = [request.out.as_ref(), request.cacerts.as_ref()];
    for input in &request.inputs {
        let crate::x509::pem::Input::Path(input_path) = input else {
            continue;
        };
        let overwritten = outputs.iter().flatten().any(|out| {
            out.as_path() == input_path
                || out
                    .canonicalize()
                    .ok()
                    .is_some_and(|out| input_path.canonicalize().ok() == Some(out))
        });
        let holds_key = overwritten
            && std::fs::read(input_path)
                .is_ok_and(|bytes| !crate::x509::scan::private_key_labels(&bytes).is_empty());
        if holds_key {
            return Err(crate::Error::Usage(format!(
                "{input} holds a private key: writing the chain over it would lose the key; write the chain to another file (--out), keep the key in its own (tls.key)"
            )));
        }
    }
    Ok(())
}

/// Read every input, build the chain, and write it (only when it is complete).
pub fn fullchain(request: &FullchainRequest) -> Result<FullchainReport, crate::Error> {
    refuse_overwriting_keys(request)?;
    let mut certs = Vec::new();
    for input in &request.inputs {
        certs.extend(crate::x509::cert::load_certs(input)?);
    }
    let built = chain::build(certs);
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    if built.chain.is_empty() {
        errors.push("no end-entity (leaf) certificate among the inputs".to_string());
    }
    if let Some(missing) = &built.missing_issuer {
        if !missing.public_root && request.cacerts.is_some() {
            errors.push(format!(
                "--cacerts needs the root: no certificate for '{}', the issuer of '{}'; add the root CA certificate (and any missing intermediate) to the inputs",
                missing.issuer, missing.last_subject
            ));
        } else if !missing.public_root
            && built.chain.len() == 1
            && built.unrelated.iter().any(|cert| cert.is_ca)
        {
            // The leaf alone, and the CAs given do not link to it: its intermediate is
            // missing. (A chain that already ends at an intermediate lacks, most likely,
            // its root — which belongs in cacerts.pem: the warning below.)
            errors.push(format!(
                "chain incomplete: no certificate for '{}', the issuer of '{}', and the CA certificate(s) given do not link to it; add that intermediate",
                missing.issuer, missing.last_subject
            ));
        } else if !missing.public_root {
            warnings.push(format!(
                "the chain ends at '{}', issued by '{}', which was not given: written without it (a root belongs in cacerts.pem; if '{}' is an intermediate, add it)",
                missing.last_subject, missing.issuer, missing.issuer
            ));
        }
    }
    if request.cacerts.is_some() && built.root().is_none() && errors.is_empty() {
        errors.push(
            "--cacerts needs the root CA certificate among the inputs (the chain ends at a public root that was not given)"
                .to_string(),
        );
    }
    for cert in &built.unrelated {
        warnings.push(format!(
            "ignored '{}': not part of the chain of '{}'",
            cert.subject,
            built
                .chain
                .first()
                .map(|leaf| leaf.subject.as_str())
                .unwrap_or("?")
        ));
    }
    if built.duplicates > 0 {
        warnings.push(format!(
            "dropped {} duplicate certificate(s)",
            built.duplicates
        ));
    }
    let written: Vec<Cert> = if request.include_root {
        built.chain.clone()
    } else {
        built.served().to_vec()
    };
    let chain_pem: String = written.iter().map(Cert::pem).collect();
    let mut report = FullchainReport {
        written: Dated::new(written, request.at),
        out: request
            .out
            .as_ref()
            .map_or_else(|| "-".to_string(), |p| p.display().to_string()),
        cacerts: request.cacerts.as_ref().map(|p| p.display().to_string()),
        pem: None,
        built: Dated::new(built, request.at),
        errors,
        warnings,
    };
    if !report.errors.is_empty() {
        // Nothing is written: the report says so.
        report.written = Dated::new(Vec::new(), request.at);
        return Ok(report);
    }
    let mut out_files = Vec::new();
    match &request.out {
        Some(path) => out_files.push(crate::files::OutFile::certificate(path.clone(), chain_pem)),
        None => report.pem = Some(chain_pem),
    }
    if let (Some(path), Some(ca_file)) = (&request.cacerts, report.built.ca_file_pem()) {
        out_files.push(crate::files::OutFile::certificate(path.clone(), ca_file));
    }
    let written = crate::files::write_all(&out_files, request.force)?;
    report.warnings.extend(written.left_behind);
    Ok(report)
}

impl Report for FullchainReport {
    /// The report; the PEM itself goes to stdout separately.
    fn text(&self, style: &Style) -> String {
        fullchain_text(self, style)
    }

    fn exit_code(&self) -> u8 {
        if self.errors.is_empty() {
            crate::exit::OK
        } else {
            crate::exit::CHECK_FAILED
        }
    }
}

fn fullchain_text(report: &FullchainReport, style: &Style) -> String {
    let mut out = String::new();
    for (index, cert) in report.built.chain.iter().enumerate() {
        let role = match index {
            0 => "leaf",
            _ if cert.self_signed => "root",
            _ => "intermediate",
        };
        let _ = writeln!(out, "  {}. {role:<13}{}", index + 1, cert.subject);
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "  {} {warning}", style.status(Status::Warning));
    }
    for error in &report.errors {
        let _ = writeln!(out, "  {} {error}", style.status(Status::Failed));
    }
    if report.errors.is_empty() {
        if report.pem.is_none() {
            let _ = writeln!(
                out,
                "  wrote {} ({} certificate(s))",
                report.out,
                report.written.len()
            );
        }
        if let Some(cacerts) = &report.cacerts {
            let what = match report.built.intermediates() {
                0 => "the root CA".to_string(),
                n => format!("{n} intermediate(s) then the root, as Rancher's docs ask"),
            };
            let _ = writeln!(out, "  wrote {cacerts} ({what})");
        }
    }
    out
}
