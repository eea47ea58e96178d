//! The verdict vocabulary every command shares: a [`Check`] with its [`Status`].

use serde::Serialize;

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

    /// The label printed in text tables.
    pub fn label(self) -> &'static str {
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
