//! The exporter's log: one line per event (a source up or down, a relist, start and
//! stop) on standard error, as text or as JSON for cluster log pipelines.

use std::io::Write as _;

use serde::Serialize;
use time::OffsetDateTime;

use crate::x509::cert::rfc3339;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// `TIME EVENT SOURCE: MESSAGE`.
    #[default]
    Text,
    /// One JSON object per line: `time`, `event`, `source`, `message`.
    Json,
}

/// Where the events go.
pub(crate) struct Log {
    format: LogFormat,
    clock: fn() -> OffsetDateTime,
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    event: &'a str,
    source: &'a str,
    message: &'a str,
}

impl Log {
    pub fn new(format: LogFormat, clock: fn() -> OffsetDateTime) -> Log {
        Log { format, clock }
    }

    /// Write one event (control characters a server could send are escaped).
    pub fn event(&self, event: &str, source: &str, message: &str) {
        let line = Line {
            time: rfc3339((self.clock)()),
            event,
            source,
            message,
        };
        let text = match self.format {
            LogFormat::Json => serde_json::to_string(&line).unwrap_or_default(),
            LogFormat::Text => crate::check::escape_control(
                &format!("{} {event} {source}: {message}", line.time),
                false,
            ),
        };
        // A closed stderr must not stop the exporter.
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }
}
