//! rcert — certificates for Rancher installs with your own TLS.
//!
//! A library with a thin binary. Layers, each importing only those below it:
//!
//! * [`cli`] parses the command line and runs one command, returning its exit code;
//! * [`commands`] hold one module per command: its request, its report and the
//!   report's text rendering; commands never import each other;
//! * engines do the work the commands share: [`checks`] (path validation and the
//!   Rancher checks), [`tls`] (the TLS client), [`cluster`] (the Kubernetes client),
//!   [`chain`] (ordering chains), [`output`] (text/JSON rendering), [`files`] (the
//!   all-or-nothing file set writer) and [`rancher`] (Rancher's own facts);
//! * at the bottom, [`x509`] (reading, modelling and issuing certificates and keys),
//!   [`check`] (the verdict vocabulary) and [`error`] (the crate error and exit codes).
#![forbid(unsafe_code)]

pub mod certset;
pub mod chain;
pub mod check;
pub mod checks;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod error;
pub mod files;
pub mod interrupt;
pub mod output;
pub mod rancher;
pub mod tls;
pub mod x509;

pub use check::exit;
pub use error::Error;
