//! Text and JSON rendering helpers shared by every command: the output format,
//! [`Style`] (colour per stream), certificate facts as text, check tables, and
//! [`Report`] + [`Terminal::emit`], the one way a command prints its result.

use std::fmt::Write as _;

use serde::Serialize;

use crate::check::{Check, Status};
use crate::x509::Cert;

/// Output format (`-o`), as in kubectl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text.
    Text,
    /// One JSON document on standard output.
    Json,
    /// Prometheus text exposition (`rcert expiry` only).
    Prometheus,
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

/// How text is styled.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Whether to emit ANSI colors.
    pub color: bool,
    /// Whether to print every detail.
    pub verbose: bool,
}

impl Style {
    /// Decide on color from the choice, NO_COLOR and whether standard output is a terminal.
    pub fn new(choice: ColorChoice, verbose: bool, terminal: &Terminal<'_>) -> Style {
        Style::for_stream(choice, verbose, terminal.stdout_is_terminal)
    }

    /// The same choice for text written to standard error (reports that accompany data
    /// on standard output): colour follows whether stderr is a terminal.
    pub fn for_stderr(&self, choice: ColorChoice, terminal: &Terminal<'_>) -> Style {
        Style::for_stream(choice, self.verbose, terminal.stderr_is_terminal)
    }

    fn for_stream(choice: ColorChoice, verbose: bool, terminal: bool) -> Style {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty()) && terminal
            }
        };
        Style { color, verbose }
    }

    /// The status as a padded, coloured label.
    pub fn status(&self, status: Status) -> String {
        self.paint(&format!("{:<8}", status.label()), status)
    }

    /// Text in the colour of a status.
    pub fn paint(&self, text: &str, status: Status) -> String {
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

    /// A heading (bold).
    pub fn heading(&self, text: &str) -> String {
        if self.color {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Render any result as one pretty JSON document.
pub fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value)
        .unwrap_or_else(|err| format!("{{\"error\": \"cannot render JSON: {err}\"}}"))
}

/// The facts of a certificate, one per line, indented; days left counted from `at`.
pub fn cert_text(cert: &Cert, at: time::OffsetDateTime, style: &Style) -> String {
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
        &format!("{} ({})", cert.not_after, days_left(cert.days_left(at))),
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

/// "N day(s) left" or "expired N day(s) ago".
pub fn days_left(days: i64) -> String {
    if days < 0 {
        format!("expired {} day(s) ago", -days)
    } else {
        format!("{days} day(s) left")
    }
}

/// The SANs as `DNS:a, IP:b`, or why there are none.
pub fn sans_text(cert: &Cert) -> String {
    let names: Vec<String> = cert
        .dns_names
        .iter()
        .map(|name| format!("DNS:{name}"))
        .chain(cert.ip_addresses.iter().map(|ip| format!("IP:{ip}")))
        .collect();
    if names.is_empty() {
        if cert.is_ca {
            "none (a CA certificate needs none)".to_string()
        } else {
            "none (CN-only: rejected by Go and rustls clients)".to_string()
        }
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

/// The checks as aligned lines: status, name, message.
pub fn checks_text(checks: &[Check], style: &Style) -> String {
    checks
        .iter()
        .map(|check| check_line(check, 12, style))
        .collect()
}

/// One check as an aligned line, the name padded to `width`.
pub fn check_line(check: &Check, width: usize, style: &Style) -> String {
    let name = check.name.to_string();
    // A name as long as the column still gets a space before its message.
    let width = width.max(name.len() + 1);
    format!(
        "  {} {name:<width$}{}\n",
        style.status(check.status),
        check.message
    )
}

/// The commands to run next, after a blank line (nothing when there are none).
pub fn next_steps_text(steps: &[String]) -> String {
    if steps.is_empty() {
        return String::new();
    }
    let lines: String = steps.iter().map(|step| format!("  {step}\n")).collect();
    format!("\nNext:\n{lines}")
}

/// A command's result: one model, rendered as JSON or as text.
pub trait Report: Serialize {
    /// The text a person reads.
    fn text(&self, style: &Style) -> String;
    /// The exit code this result maps to.
    fn exit_code(&self) -> u8;
}

/// Where a run writes: the process's standard streams, or buffers (the CLI run
/// in-process by the tests).
pub struct Terminal<'a> {
    stdout: &'a mut dyn std::io::Write,
    stderr: &'a mut dyn std::io::Write,
    /// Whether standard output is a terminal (colour with `--color auto`).
    pub stdout_is_terminal: bool,
    /// Whether standard error is a terminal (colour, progress lines).
    pub stderr_is_terminal: bool,
    /// Whether a person can be asked (standard input is a terminal): a PKCS#12 password.
    pub interactive: bool,
}

impl<'a> Terminal<'a> {
    /// Write to these streams; `*_is_terminal` as the caller knows them.
    pub fn new(
        stdout: &'a mut dyn std::io::Write,
        stderr: &'a mut dyn std::io::Write,
        stdout_is_terminal: bool,
        stderr_is_terminal: bool,
    ) -> Terminal<'a> {
        Terminal {
            stdout,
            stderr,
            stdout_is_terminal,
            stderr_is_terminal,
            interactive: false,
        }
    }

    /// The same, able to ask a person (a password) when `interactive`.
    pub fn interactive(mut self, interactive: bool) -> Terminal<'a> {
        self.interactive = interactive;
        self
    }

    /// Write report text to standard output, made terminal-safe ([`terminal_safe`]); a
    /// closed pipe is an error, not a panic.
    pub fn out(&mut self, text: &str) -> Result<(), OutputError> {
        write_flushed(&mut *self.stdout, &terminal_safe(text))
    }

    /// Write data (PEM, YAML manifests, Prometheus text, a completion script) to
    /// standard output exactly as rendered.
    pub fn data(&mut self, text: &str) -> Result<(), OutputError> {
        write_flushed(&mut *self.stdout, text)
    }

    /// Write text to standard error (reports that accompany data on standard output).
    pub fn err(&mut self, text: &str) -> Result<(), OutputError> {
        write_flushed(&mut *self.stderr, &terminal_safe(text))
    }

    /// Print a report on standard output as JSON or text; returns its exit code.
    pub fn emit<R: Report>(
        &mut self,
        report: &R,
        format: OutputFormat,
        style: &Style,
    ) -> Result<u8, OutputError> {
        let rendered = match format {
            OutputFormat::Json => format!("{}\n", json(report)),
            // Only expiry renders Prometheus; the CLI refuses it for every other command.
            OutputFormat::Text | OutputFormat::Prometheus => report.text(style),
        };
        self.out(&rendered)?;
        Ok(report.exit_code())
    }
}

/// The escape sequences [`Style`] writes; every other control character in text
/// output is escaped, so text from a certificate or a server cannot rewrite the report.
const STYLE_SEQUENCES: &[&str] = &[
    "\x1b[0m",
    "\x1b[1m",
    "\x1b[2m",
    "\x1b[32m",
    "\x1b[33m",
    "\x1b[1;31m",
];

/// Text made safe for a terminal: Style's colours kept, newlines and tabs kept, every
/// other control character as `\XX`.
pub fn terminal_safe(text: &str) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(sequence) = STYLE_SEQUENCES.iter().find(|seq| rest.starts_with(**seq)) {
            out.push_str(sequence);
            rest = &rest[sequence.len()..];
            continue;
        }
        out.push_str(&crate::check::escape_control(&rest[..c.len_utf8()], true));
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Standard output or error could not be written (e.g. a closed pipe).
#[derive(Debug, thiserror::Error)]
#[error("cannot write the output: {0}")]
pub struct OutputError(#[source] pub std::io::Error);

fn write_flushed(stream: &mut dyn std::io::Write, text: &str) -> Result<(), OutputError> {
    stream
        .write_all(text.as_bytes())
        .and_then(|()| stream.flush())
        .map_err(OutputError)
}

/// Ask for a password on the controlling terminal (not echoed; read from /dev/tty, so
/// standard input stays free for data).
pub fn prompt_password(prompt: &str) -> std::io::Result<Password> {
    rpassword::prompt_password(prompt).map(Password)
}

/// A password typed on the terminal; never shown (`Debug` prints no character of it).
pub struct Password(String);

impl Password {
    /// The password itself, for the one call that needs it.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

/// The exit code of a verdict: 1 when failed, else 0.
pub fn exit_for(status: Status) -> u8 {
    match status {
        Status::Failed => crate::check::exit::CHECK_FAILED,
        Status::Skipped | Status::Ok | Status::Warning => crate::check::exit::OK,
    }
}

pub use crate::check::shell_quote;
