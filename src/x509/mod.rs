//! Certificates and keys: reading PEM/DER ([`pem`]), the certificate and key model
//! ([`cert`]) and issuing new ones ([`issue`]).

pub mod cert;
pub mod dated;
pub mod formats;
pub mod input;
pub mod issue;
pub mod names;
pub mod pem;
pub mod scan;

pub use cert::{Cert, KeyInfo};
