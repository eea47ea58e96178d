//! rcert — certificates for Rancher installs with your own TLS.
//!
//! The library holds every command's logic; `main.rs` only parses arguments,
//! dispatches and maps results to exit codes:
//!
//! * [`issue`] generates a CA and a server certificate (`rcert selfsign`);
//! * [`chain`] orders and completes chains (`rcert fullchain`);
//! * [`inspect`] is the one model of a certificate's facts (`rcert inspect`);
//! * [`verify`] runs the chain, name, key and Rancher checks (`rcert verify`);
//! * [`push`] publishes the secrets Rancher reads (`rcert push`);
//! * [`doctor`] joins verify, probe and push into one end-to-end diagnosis (`rcert doctor`);
//! * [`probe`] handshakes with live endpoints and judges the served chains (`rcert probe`);
//! * [`pem`] reads certificates and keys, [`files`] writes them safely,
//!   [`report`] renders every result as text or JSON.

pub mod chain;
pub mod cli;
pub mod doctor;
pub mod files;
pub mod inspect;
pub mod issue;
pub mod pem;
pub mod probe;
pub mod push;
pub mod report;
pub mod verify;

/// Process exit codes shared by every command (see DESIGN.md).
pub mod exit {
    /// All checks passed (warnings allowed).
    pub const OK: u8 = 0;
    /// A check failed: invalid chain, name or key mismatch, untrusted handshake.
    pub const CHECK_FAILED: u8 = 1;
    /// Bad usage or unreadable / malformed input.
    pub const BAD_INPUT: u8 = 2;
    /// The remote side was unreachable, timed out or answered with an error.
    pub const REMOTE: u8 = 3;
}

/// Every error a command can end with before it produces a report.
///
/// All of them are "bad input" (exit 2): check failures are not errors but
/// reports whose status is failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A certificate or key could not be read or parsed.
    #[error(transparent)]
    Pem(#[from] pem::PemError),
    /// An output file could not be written.
    #[error(transparent)]
    Files(#[from] files::FilesError),
    /// Certificate generation was asked for something impossible.
    #[error(transparent)]
    Issue(#[from] issue::IssueError),
    /// A probe option or target that cannot be used.
    #[error(transparent)]
    Probe(#[from] probe::ProbeError),
    /// A push that cannot start: no input, bad kubeconfig or context, bad names.
    #[error(transparent)]
    Push(#[from] push::PushError),
    /// A verify option (`--host`, `--at`) that cannot be used.
    #[error(transparent)]
    Verify(#[from] verify::VerifyError),
    /// An argument combination or value that clap could not reject itself.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> u8 {
        exit::BAD_INPUT
    }
}
