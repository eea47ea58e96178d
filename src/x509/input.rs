//! Where an input is read from (a file or standard input), parsed once where the value
//! enters, and the words for what went wrong reading it.

use std::path::PathBuf;

/// The name standard input is given and shown under.
pub const STDIN_NAME: &str = "-";

/// Where an input is read from: a file, or standard input (`-` on the command line).
/// Parsed once where the value enters; nothing below compares a path with `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Input {
    /// Standard input (read once).
    Stdin,
    /// A file.
    Path(PathBuf),
}

impl Input {
    /// A command-line value: `-` is standard input, anything else a path.
    pub fn parse(value: &str) -> Result<Input, std::convert::Infallible> {
        Ok(if value == STDIN_NAME {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(value))
        })
    }

    /// A file.
    pub fn path(path: impl Into<PathBuf>) -> Input {
        Input::Path(path.into())
    }

    /// Whether this is standard input.
    pub fn is_stdin(&self) -> bool {
        matches!(self, Input::Stdin)
    }

    /// The name messages use: `-` or the path as given.
    pub fn name(&self) -> String {
        self.to_string()
    }
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Stdin => f.write_str(STDIN_NAME),
            Input::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A readable reason for an I/O error, without Rust's "(os error N)" suffix.
pub fn describe_io_error(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => {
            let text = err.to_string();
            match text.find(" (os error") {
                Some(cut) => text[..cut].to_string(),
                None => text,
            }
        }
    }
}
