//! Text and JSON rendering of every command's result.
//!
//! Each command produces one result model (`Serialize`); this module renders it
//! either as one JSON document or as text a person reads. Checks carry a
//! [`Status`] so warnings and failures stay different things.

use std::fmt::Write as _;

use serde::Serialize;

use crate::chain::FullchainReport;
use crate::doctor::DoctorReport;
use crate::inspect::{Cert, Inspected};
use crate::issue::SelfsignReport;
use crate::probe::ProbeReport;
use crate::push::PushReport;
use crate::verify::VerifyReport;

/// Output format (`-o`), as in kubectl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text.
    Text,
    /// One JSON document on standard output.
    Json,
}

/// When to color text output (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Color when standard output is a terminal and NO_COLOR is unset.
    Auto,
    /// Always color.
    Always,
    /// Never color.
    Never,
}

/// Verdict of one check, or of a whole report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Could not run (no kubeconfig, endpoint unreachable); the reason is in the message.
    Skipped,
    /// Passed.
    Ok,
    /// Passed, but worth acting on.
    Warning,
    /// Failed: exit code 1.
    Failed,
}

impl Status {
    /// The worst status among the checks (ok when there are none; skipped counts as ok).
    pub fn worst(checks: &[Check]) -> Status {
        checks
            .iter()
            .map(|check| check.status)
            .max()
            .unwrap_or(Status::Ok)
            .max(Status::Ok)
    }

    fn label(self) -> &'static str {
        match self {
            Status::Skipped => "skipped",
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Failed => "FAILED",
        }
    }
}

/// One check and its evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable identifier: `chain`, `order`, `validity`, `san`, `name`, `key`, `ca_file`, `ca_checksum`.
    pub name: String,
    /// The verdict.
    pub status: Status,
    /// One line an operator understands.
    pub message: String,
}

impl Check {
    /// A passed check.
    pub fn ok(name: &str, message: String) -> Check {
        Check::new(name, Status::Ok, message)
    }

    /// A check that passed with a warning.
    pub fn warning(name: &str, message: String) -> Check {
        Check::new(name, Status::Warning, message)
    }

    /// A failed check.
    pub fn failed(name: &str, message: String) -> Check {
        Check::new(name, Status::Failed, message)
    }

    /// A check that could not run, with the reason.
    pub fn skipped(name: &str, message: String) -> Check {
        Check::new(name, Status::Skipped, message)
    }

    fn new(name: &str, status: Status, message: String) -> Check {
        Check {
            name: name.to_string(),
            status,
            message,
        }
    }
}

/// How text is styled.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Whether to emit ANSI colors.
    pub color: bool,
    /// Whether to print every detail.
    pub verbose: bool,
}

impl Style {
    /// Decide on color from the choice, NO_COLOR and whether stdout is a terminal.
    pub fn new(choice: ColorChoice, verbose: bool) -> Style {
        use std::io::IsTerminal;
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
                    && std::io::stdout().is_terminal()
            }
        };
        Style { color, verbose }
    }

    fn status(&self, status: Status) -> String {
        self.paint(&format!("{:<8}", status.label()), status)
    }

    fn paint(&self, text: &str, status: Status) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match status {
            Status::Skipped => "2",
            Status::Ok => "32",
            Status::Warning => "33",
            Status::Failed => "1;31",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    fn heading(&self, text: &str) -> String {
        if self.color {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Render any result as one pretty JSON document.
pub fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value)
        .unwrap_or_else(|err| format!("{{\"error\": \"cannot render JSON: {err}\"}}"))
}

/// The facts of a certificate, one per line, indented.
pub fn cert_text(cert: &Cert, style: &Style) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: &str| {
        let _ = writeln!(out, "  {:<18}{value}", format!("{label}:"));
    };
    line("Subject", &cert.subject);
    line("Issuer", &cert.issuer);
    line("Serial", &cert.serial);
    line("Not before", &cert.not_before);
    line(
        "Not after",
        &format!("{} ({})", cert.not_after, days_left(cert.days_left)),
    );
    line("SANs", &sans_text(cert));
    line("Public key", &cert.public_key.to_string());
    line("Signature", &cert.signature_algorithm);
    line("Key usage", &list_or_none(&cert.key_usage));
    line("Ext. key usage", &list_or_none(&cert.extended_key_usage));
    let ca = match (cert.is_ca, cert.path_len) {
        (true, Some(len)) => format!("yes (pathlen {len})"),
        (true, None) => "yes".to_string(),
        (false, _) => "no".to_string(),
    };
    line("CA", &ca);
    if style.verbose || cert.subject_key_id.is_some() {
        line(
            "Subject key id",
            cert.subject_key_id.as_deref().unwrap_or("none"),
        );
    }
    if style.verbose || cert.authority_key_id.is_some() {
        line(
            "Authority key id",
            cert.authority_key_id.as_deref().unwrap_or("none"),
        );
    }
    line("SHA-256", &cert.sha256_fingerprint);
    out
}

fn days_left(days: i64) -> String {
    if days < 0 {
        format!("expired {} day(s) ago", -days)
    } else {
        format!("{days} day(s) left")
    }
}

fn sans_text(cert: &Cert) -> String {
    let names: Vec<String> = cert
        .dns_names
        .iter()
        .map(|name| format!("DNS:{name}"))
        .chain(cert.ip_addresses.iter().map(|ip| format!("IP:{ip}")))
        .collect();
    if names.is_empty() {
        "none (CN-only: rejected by Go and rustls clients)".to_string()
    } else {
        names.join(", ")
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// Text of `rcert inspect`.
pub fn inspect_text(items: &[Inspected], style: &Style) -> String {
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

/// Text of `rcert verify` (one block per file).
pub fn verify_text(reports: &[VerifyReport], style: &Style) -> String {
    let mut out = String::new();
    for (index, report) in reports.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{} {}",
            style.heading(&format!("{}:", report.file)),
            style.status(report.status).trim_end()
        );
        if let Some(leaf) = crate::verify::find_leaf(&report.certificates) {
            let _ = writeln!(
                out,
                "  leaf '{}', expires {} ({})",
                leaf.subject,
                leaf.not_after,
                days_left(leaf.days_left)
            );
        }
        if style.verbose {
            for cert in &report.certificates {
                out.push_str(&cert_text(cert, style));
            }
        }
        out.push_str(&checks_text(&report.checks, style));
    }
    out
}

/// The checks as aligned lines: status, name, message.
pub fn checks_text(checks: &[Check], style: &Style) -> String {
    checks
        .iter()
        .map(|check| check_line(check, 12, style))
        .collect()
}

/// One check as an aligned line, the name padded to `width`.
fn check_line(check: &Check, width: usize, style: &Style) -> String {
    format!(
        "  {} {:<width$}{}\n",
        style.status(check.status),
        check.name,
        check.message
    )
}

/// Text of `rcert selfsign`.
pub fn selfsign_text(report: &SelfsignReport, style: &Style) -> String {
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
        let _ = writeln!(
            out,
            "  wrote {} ({}) — {}",
            file.path, file.mode, file.holds
        );
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "  {} {warning}", style.status(Status::Warning));
    }
    out.push_str(&next_steps_text(&report.next_steps));
    out
}

/// The commands to run next, after a blank line (nothing when there are none).
fn next_steps_text(steps: &[String]) -> String {
    if steps.is_empty() {
        return String::new();
    }
    let lines: String = steps.iter().map(|step| format!("  {step}\n")).collect();
    format!("\nNext:\n{lines}")
}

/// Text of `rcert fullchain` (the report; the PEM itself goes to stdout separately).
pub fn fullchain_text(report: &FullchainReport, style: &Style) -> String {
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
        if report.out != "-" {
            let _ = writeln!(
                out,
                "  wrote {} ({} certificate(s))",
                report.out,
                report.written.len()
            );
        }
        if let Some(cacerts) = &report.cacerts {
            let _ = writeln!(out, "  wrote {cacerts} (root CA only)");
        }
    }
    out
}

/// Text of `rcert probe`: per target the session, the served chain and the checks.
pub fn probe_text(report: &ProbeReport, style: &Style) -> String {
    let mut out = String::new();
    for (index, result) in report.results.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let sni = result
            .servername
            .as_deref()
            .map_or_else(|| "no SNI".to_string(), |name| format!("SNI {name}"));
        let verdict = if result.is_unreachable() {
            style.paint("UNREACHABLE", Status::Failed)
        } else {
            style.status(result.status).trim_end().to_string()
        };
        let _ = writeln!(out, "{} ({sni}): {verdict}", style.heading(&result.target));
        if let Some(error) = &result.error {
            let _ = writeln!(out, "  {error}");
            continue;
        }
        if let Some(version) = &result.tls_version {
            let _ = writeln!(
                out,
                "  {version}, {}, ALPN {}, {} ms, from {}",
                result.cipher_suite.as_deref().unwrap_or("?"),
                result.alpn.as_deref().unwrap_or("none"),
                result.elapsed_ms,
                result.address.as_deref().unwrap_or("?")
            );
        }
        for (position, cert) in result.chain.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {position} {}  ({}, until {}, {})",
                cert.subject,
                cert.public_key,
                cert.not_after,
                days_left(cert.days_left)
            );
            let _ = writeln!(out, "      issuer {}", cert.issuer);
            if position == 0 {
                let _ = writeln!(out, "      SANs {}", sans_text(cert));
            }
            let _ = writeln!(out, "      sha256 {}", cert.sha256_fingerprint);
            if style.verbose {
                out.push_str(&cert_text(cert, style));
            }
        }
        out.push_str(&checks_text(&result.checks, style));
    }
    if let Some(check) = &report.consistency {
        out.push('\n');
        out.push_str(&checks_text(std::slice::from_ref(check), style));
    }
    out
}

/// Text of `rcert push`: validation, the namespace, each secret old → new, next steps.
pub fn push_text(report: &PushReport, style: &Style) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", style.heading("Validation of the files"));
    out.push_str(&checks_text(&report.validation, style));
    if report.refused {
        let _ = writeln!(
            out,
            "  {} refused: nothing was sent to the cluster (fix the failed checks, or pass --force)",
            style.status(Status::Failed)
        );
        return out;
    }
    let target = report
        .server
        .as_deref()
        .map(|server| format!(" on {server}"))
        .unwrap_or_default();
    let mode = if report.dry_run {
        " (dry run: no cluster contacted)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!("Namespace {}{target}{mode}", report.namespace))
    );
    if report.namespace_created {
        let _ = writeln!(out, "  created namespace {}", report.namespace);
    }
    for secret in &report.secrets {
        let status = match secret.action.as_str() {
            "failed" => Status::Failed,
            "not attempted" => Status::Warning,
            _ => Status::Ok,
        };
        let _ = writeln!(
            out,
            "  {} secret {} ({}): {}",
            style.status(status),
            secret.name,
            secret.kind,
            secret.action
        );
        match &secret.old {
            Some(old) if secret.action == "updated" => {
                let _ = writeln!(out, "      old {old}\n      new {}", secret.new);
            }
            _ => {
                let _ = writeln!(out, "      {}", secret.new);
            }
        }
        if let Some(backup) = &secret.backup {
            let _ = writeln!(out, "      previous version saved to {backup} (mode 0600)");
        }
        if let Some(error) = &secret.error {
            let _ = writeln!(out, "      {error}");
        }
    }
    if let Some(error) = &report.error {
        let _ = writeln!(out, "  {} {error}", style.status(Status::Failed));
    }
    if !report.dry_run {
        let _ = writeln!(out, "  {} API request(s)", report.api_requests);
    }
    out.push_str(&next_steps_text(&report.next_steps));
    out
}

/// Text of `rcert doctor`: one table of checks by section, each failure with its fix.
pub fn doctor_text(report: &DoctorReport, style: &Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!(
            "Rancher TLS doctor for {} (namespace {})",
            report.host, report.namespace
        ))
    );
    let mut section = "";
    for finding in &report.findings {
        if finding.section != section {
            section = finding.section;
            let _ = writeln!(out, "{}", style.heading(&format!("[{section}]")));
        }
        out.push_str(&check_line(&finding.check, 14, style));
        if let Some(fix) = &finding.fix {
            let _ = writeln!(out, "  {:<8} {:<14}fix: {fix}", "", "");
        }
    }
    if let Some(checksum) = &report.ca_checksum {
        let _ = writeln!(out, "\nCATTLE_CA_CHECKSUM={checksum}");
    }
    let _ = writeln!(
        out,
        "{} API request(s), {} ms",
        report.api_requests, report.elapsed_ms
    );
    out
}
