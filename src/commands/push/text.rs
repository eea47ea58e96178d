//! push's report as text: validation, the namespace, each secret old → new, next steps.

use std::fmt::Write as _;

use super::*;

impl Report for PushReport {
    /// Validation, the namespace, each secret old → new, next steps.
    fn text(&self, style: &Style) -> String {
        push_text(self, style)
    }

    fn exit_code(&self) -> u8 {
        PushReport::exit_code(self)
    }
}

fn push_text(report: &PushReport, style: &Style) -> String {
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
        let status = match secret.action.status() {
            Status::Ok if secret.warning.is_some() => Status::Warning,
            status => status,
        };
        let _ = writeln!(
            out,
            "  {} secret {} ({}): {}",
            style.status(status),
            secret.name,
            secret.kind,
            secret.action.label()
        );
        match &secret.old {
            Some(old) if secret.action.changed() => {
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
        if let Some(warning) = &secret.warning {
            let _ = writeln!(out, "      {warning}");
        }
    }
    if let Some(error) = &report.error {
        let _ = writeln!(out, "  {} {error}", style.status(Status::Failed));
    }
    if let Some(check) = &report.additional_trusted_cas {
        out.push_str(&check_line(check, 12, style));
    }
    if !report.dry_run {
        let _ = writeln!(out, "  {} API request(s)", report.api_requests);
    }
    out.push_str(&next_steps_text(&report.next_steps));
    out
}
