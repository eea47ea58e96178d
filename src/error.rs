//! The crate error (sources kept) and how it maps to an exit code. It gathers the
//! engines' error types, so it sits above them: engines never import it.

use crate::x509::{issue, pem};

/// The exit codes live with the verdict vocabulary ([`crate::check::exit`]).
pub use crate::check::exit;

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
    /// The remote side (Kubernetes API) failed; kube's error kept as the source (exit 3).
    #[error(transparent)]
    Remote(#[from] crate::cluster::RemoteError),
    /// It failed while a change was reading what it would touch: nothing was changed
    /// (exit 3).
    #[error("{0} (nothing was changed)")]
    RemoteBeforeChange(#[source] crate::cluster::RemoteError),
    /// An argument combination or value that clap could not reject itself.
    #[error("{0}")]
    Usage(String),
    /// A manifest could not be rendered.
    #[error(transparent)]
    Yaml(#[from] crate::cluster::YamlError),
    /// The exporter could not listen on its address (`expiry --serve`).
    #[error("cannot listen on {address}: {}", listen_reason(source))]
    Listen {
        /// What was asked.
        address: std::net::SocketAddr,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Standard output or error could not be written (e.g. a closed pipe).
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
}

/// Why a listen failed, in the operator's words.
fn listen_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => "the address is in use (another exporter? choose another port, or 127.0.0.1:0 for a free one)".to_string(),
        std::io::ErrorKind::AddrNotAvailable => "no interface of this machine has that address".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied (ports under 1024 need privileges: use :9793)".to_string(),
        _ => error.to_string(),
    }
}

impl Error {
    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Files(crate::files::FilesError::Interrupted) => exit::INTERRUPTED,
            Error::Remote(_) | Error::RemoteBeforeChange(_) => exit::REMOTE,
            _ => exit::BAD_INPUT,
        }
    }
}
