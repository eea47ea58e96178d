//! The crate error (sources kept) and the process exit codes.

use crate::x509::{issue, pem};

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
    /// Stopped by SIGINT/SIGTERM (128 + 2, as shells report it).
    pub const INTERRUPTED: u8 = 130;
}

/// Every error a command can end with before it produces a report.
///
/// All of them are "bad input" (exit 2) except I/O on the output streams: check
/// failures are not errors but reports whose status is failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A certificate or key could not be read or parsed.
    #[error(transparent)]
    Pem(#[from] pem::PemError),
    /// An output file could not be written.
    #[error(transparent)]
    Files(#[from] crate::files::FilesError),
    /// Certificate generation was asked for something impossible.
    #[error(transparent)]
    Issue(#[from] issue::IssueError),
    /// A probe option or target that cannot be used.
    #[error(transparent)]
    Probe(#[from] crate::tls::ProbeError),
    /// A kubeconfig or context that cannot be used.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    /// An import that cannot produce a file set (password, keys).
    #[error(transparent)]
    Import(#[from] crate::x509::formats::ImportError),
    /// A verify option (`--host`, `--at`) that cannot be used.
    #[error(transparent)]
    Verify(#[from] crate::checks::VerifyError),
    /// The remote side (Kubernetes API) failed before anything was changed (exit 3).
    #[error("{0}")]
    Remote(String),
    /// An argument combination or value that clap could not reject itself.
    #[error("{0}")]
    Usage(String),
    /// Standard output or error could not be written (e.g. a closed pipe).
    #[error("cannot write the output: {0}")]
    Output(#[source] std::io::Error),
}

impl Error {
    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Files(crate::files::FilesError::Interrupted) => exit::INTERRUPTED,
            Error::Remote(_) => exit::REMOTE,
            _ => exit::BAD_INPUT,
        }
    }
}
