//! Atomic writes, permissions and no-clobber.
//!
//! A command first plans every file it will write ([`OutFile`]), then
//! [`write_all`] refuses the whole set if any target exists (unless forced), and
//! writes each one through a temporary file in the same directory that is
//! synced and renamed into place: a reader never sees half a key, and a failed
//! run leaves the old files as they were.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::x509::pem::describe_io_error;

/// Mode of private key files.
pub const KEY_MODE: u32 = 0o600;
/// Mode of certificate files.
pub const CERT_MODE: u32 = 0o644;

/// What went wrong while writing output files. Every variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// A target exists and `--force` was not given.
    #[error("{path}: already exists; nothing was written (pass --force to overwrite)")]
    Exists { path: String },
    /// The output directory could not be created or is not a directory.
    #[error("{path}: cannot use as output directory: {reason}")]
    BadDirectory { path: String, reason: String },
    /// The file could not be written.
    #[error("{path}: cannot write: {reason}")]
    Write { path: String, reason: String },
}

/// One file a command is about to write.
#[derive(Debug, Clone)]
pub struct OutFile {
    /// Where it goes.
    pub path: PathBuf,
    /// Its full contents.
    pub contents: Vec<u8>,
    /// Unix permission bits.
    pub mode: u32,
}

impl OutFile {
    /// A certificate file (mode 0644).
    pub fn certificate(path: PathBuf, contents: impl Into<Vec<u8>>) -> OutFile {
        OutFile {
            path,
            contents: contents.into(),
            mode: CERT_MODE,
        }
    }

    /// A private key file (mode 0600).
    pub fn key(path: PathBuf, contents: impl Into<Vec<u8>>) -> OutFile {
        OutFile {
            path,
            contents: contents.into(),
            mode: KEY_MODE,
        }
    }
}

/// Create `dir` (and its parents) if missing; fail clearly when it cannot be a directory.
pub fn ensure_directory(dir: &Path) -> Result<(), FilesError> {
    let bad = |reason: String| FilesError::BadDirectory {
        path: dir.display().to_string(),
        reason,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(bad("exists and is not a directory".to_string()));
    }
    std::fs::create_dir_all(dir).map_err(|err| bad(describe_io_error(&err)))
}

/// Write every file atomically. Without `force`, nothing is written if any target exists.
pub fn write_all(files: &[OutFile], force: bool) -> Result<(), FilesError> {
    if !force {
        if let Some(existing) = files.iter().find(|file| file.path.exists()) {
            return Err(FilesError::Exists {
                path: existing.path.display().to_string(),
            });
        }
    }
    for file in files {
        write_one(file, force)?;
    }
    Ok(())
}

fn write_one(file: &OutFile, force: bool) -> Result<(), FilesError> {
    let write_error = |reason: String| FilesError::Write {
        path: file.path.display().to_string(),
        reason,
    };
    let dir = match file.path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".rcert-")
        .tempfile_in(&dir)
        .map_err(|err| write_error(describe_io_error(&err)))?;
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(file.mode))
        .map_err(|err| write_error(describe_io_error(&err)))?;
    temp.write_all(&file.contents)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|err| write_error(describe_io_error(&err)))?;
    let persisted = if force {
        temp.persist(&file.path).map(|_| ())
    } else {
        temp.persist_noclobber(&file.path).map(|_| ())
    };
    persisted.map_err(|err| {
        if err.error.kind() == std::io::ErrorKind::AlreadyExists {
            FilesError::Exists {
                path: file.path.display().to_string(),
            }
        } else {
            write_error(describe_io_error(&err.error))
        }
    })
}
