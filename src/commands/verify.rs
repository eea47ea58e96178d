//! `rcert verify`: every check on certificate files, one line each.

use std::fmt::Write as _;

use serde::Serialize;

use crate::check::Cause;
use crate::check::{Check, CheckId, Status};
use crate::checks::{check_chain, find_leaf, Context, Origin};
use crate::output::{cert_text, checks_text, days_left, Report, Style};
use crate::x509::cert as inspect;
use crate::x509::cert::Dated;
use crate::x509::{pem, Cert};

/// The result of verifying one certificate file.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    /// The file verified.
    pub file: String,
    /// Overall verdict: failed if any check failed, warning if any warned.
    pub status: Status,
    /// Certificates of the file, in file order (days left as seen from `--at`).
    pub certificates: Dated<Vec<Cert>>,
    /// Every check, in a fixed order.
    pub checks: Vec<Check>,
    /// The CA file used, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// sha256 of the CA file as Rancher serves it (`CATTLE_CA_CHECKSUM`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_checksum: Option<String>,
    /// Why the file could not be read (exit 2 once every file is reported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl VerifyReport {
    /// The report of a file that could not be read.
    pub fn unreadable(
        file: &pem::Input,
        error: &pem::PemError,
        at: time::OffsetDateTime,
    ) -> VerifyReport {
        VerifyReport {
            file: file.name(),
            status: Status::Failed,
            certificates: Dated::new(Vec::new(), at),
            checks: Vec::new(),
            ca_file: None,
            ca_checksum: None,
            error: Some(error.to_string()),
        }
    }
}

/// Verify one certificate file (first = leaf, rest = intermediates).
pub fn verify_file(input: &pem::Input, context: &Context) -> Result<VerifyReport, pem::PemError> {
    let file = &input.name();
    let read = pem::load_certificates_beside_keys(input)?;
    let (loaded, private_keys) = (read.loaded, read.key_labels);
    let certs = inspect::certs_from(&loaded)?;
    let origin = match input {
        pem::Input::Stdin => Origin::Stdin,
        pem::Input::Path(_) => Origin::File(file),
    };
    let mut checks = check_chain(&certs, origin, context);
    if !private_keys.is_empty() {
        // A command that writes the chain over the file would lose the key (fullchain
        // refuses it): the key moves out first, said in words.
        for check in &mut checks {
            if let Some(fix) = check.fix.as_mut().filter(|fix| !fix.commands.is_empty()) {
                let line = fix.line();
                fix.commands.clear();
                fix.note = Some(format!(
                    "first move the private key out of {file} into its own file (tls.key), then: {line}"
                ));
            }
        }
        // tls.crt is served to every client: a key in it is published with it.
        checks.insert(
            0,
            Check::failed(
                CheckId::PrivateKey,
                Cause::PrivateKeyPublished,
                crate::checks::private_key_message(
                    file,
                    &private_keys,
                    "a server sends tls.crt to every client",
                ),
            )
            .about(crate::check::Subject::File {
                path: file.to_string(),
            }),
        );
    }
    Ok(VerifyReport {
        file: file.to_string(),
        status: Status::worst(&checks),
        certificates: Dated::new(certs, context.at),
        checks,
        ca_file: context.ca.as_ref().map(|ca| ca.source.clone()),
        ca_checksum: context.ca.as_ref().and_then(|ca| ca.checksum.clone()),
        error: None,
    })
}

/// The result of `rcert verify`: one report per file, in the order given.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct VerifyReports(pub Vec<VerifyReport>);

impl Report for VerifyReports {
    fn text(&self, style: &Style) -> String {
        verify_text(&self.0, style)
    }

    /// 2 when a file could not be read, else 1 when a check failed, else 0.
    fn exit_code(&self) -> u8 {
        if self.0.iter().any(|report| report.error.is_some()) {
            return crate::exit::BAD_INPUT;
        }
        crate::output::exit_for(self.0.iter().map(|r| r.status).max().unwrap_or(Status::Ok))
    }
}

fn verify_text(reports: &[VerifyReport], style: &Style) -> String {
    let mut out = String::new();
    for (index, report) in reports.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{} {}",
            style.heading(&format!(
                "{}:",
                crate::check::escape_control(&report.file, false)
            )),
            style.status(report.status).trim_end()
        );
        if let Some(error) = &report.error {
            let _ = writeln!(out, "  {error}");
            continue;
        }
        if let Some(leaf) = find_leaf(&report.certificates) {
            let _ = writeln!(
                out,
                "  leaf '{}', expires {} ({})",
                leaf.subject,
                leaf.not_after,
                days_left(leaf.days_left(report.certificates.at))
            );
        }
        if style.verbose {
            for cert in &report.certificates {
                out.push_str(&cert_text(cert, report.certificates.at, style));
            }
        }
        out.push_str(&checks_text(&report.checks, style));
    }
    out
}
