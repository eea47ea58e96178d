//! `rcert probe`: the rendering of a probe report (the work is in [`crate::checks::served`]).

use std::fmt::Write as _;

use crate::check::Status;
use crate::checks::served::ProbeReport;
use crate::output::{cert_text, checks_text, days_left, sans_text, Report, Style};

impl Report for ProbeReport {
    /// Per target the session, the served chain and the checks.
    fn text(&self, style: &Style) -> String {
        probe_text(self, style)
    }

    /// 0 all good, 1 a check failed, 3 a target could not be probed.
    fn exit_code(&self) -> u8 {
        if self.any_unreachable() {
            crate::exit::REMOTE
        } else {
            crate::output::exit_for(self.status)
        }
    }
}

fn probe_text(report: &ProbeReport, style: &Style) -> String {
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
                days_left(cert.days_left(result.chain.at))
            );
            let _ = writeln!(out, "      issuer {}", cert.issuer);
            if position == 0 {
                let _ = writeln!(out, "      SANs {}", sans_text(cert));
            }
            let _ = writeln!(out, "      sha256 {}", cert.sha256_fingerprint);
            if style.verbose {
                out.push_str(&cert_text(cert, result.chain.at, style));
            }
        }
        out.push_str(&checks_text(&result.checks, style));
    }
    if report.results.len() > 3 {
        out.push_str(&summary_table(report, style));
    }
    if let Some(check) = &report.consistency {
        out.push('\n');
        out.push_str(&checks_text(std::slice::from_ref(check), style));
    }
    out
}

/// With many targets, one line each at the end: what to scan first.
fn summary_table(report: &ProbeReport, style: &Style) -> String {
    let width = report
        .results
        .iter()
        .map(|result| result.target.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut out = format!(
        "\n{}\n",
        style.heading(&format!(
            "{:<width$}  {:<11} {:<25} LEAF",
            "TARGET", "STATUS", "NOT AFTER"
        ))
    );
    for result in &report.results {
        let status = if result.is_unreachable() {
            style.paint(&format!("{:<11}", "UNREACHABLE"), Status::Failed)
        } else {
            style.paint(&format!("{:<11}", result.status.label()), result.status)
        };
        let (not_after, leaf) = result
            .chain
            .first()
            .map_or(("-".to_string(), "-".to_string()), |leaf| {
                (leaf.not_after.clone(), leaf.display_name())
            });
        let _ = writeln!(
            out,
            "{:<width$}  {status} {not_after:<25} {leaf}",
            result.target
        );
    }
    out
}
