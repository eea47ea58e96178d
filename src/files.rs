//! The all-or-nothing file set writer.
//!
//! A command plans every file it will write ([`OutFile`]); [`write_all`] then changes the
//! set as a whole or not at all:
//!
//! 1. every target is checked first with `lstat`: a symlink (dangling or not) is an
//!    existing file, refused without `--force` and with it replaced, never followed; two
//!    outputs on one path are refused;
//! 2. every new file is written to a temporary file beside its target and fsynced;
//! 3. each old file is kept under a hidden name until the last rename succeeded; the
//!    temporary files are renamed into place and the directories fsynced;
//! 4. if anything fails (a full disk, a permission, SIGINT/SIGTERM before the first
//!    rename) every replaced file is put back and every temporary file removed.

use std::collections::HashSet;
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
    /// Two outputs of one run name the same file.
    #[error("{path}: given for two outputs ({first} and {second}); nothing was written")]
    SamePath {
        path: String,
        first: String,
        second: String,
    },
    /// A target is a directory.
    #[error("{path}: is a directory; nothing was written")]
    IsDirectory { path: String },
    /// The output directory could not be created or is not a directory.
    #[error("{path}: cannot use as output directory: {reason}")]
    BadDirectory { path: String, reason: String },
    /// A file could not be written; the set was rolled back.
    #[error("{path}: cannot write: {reason}; {state}")]
    Write {
        path: String,
        reason: String,
        state: String,
    },
    /// SIGINT or SIGTERM arrived before the new set was in place.
    #[error("interrupted; nothing was written, the previous files are unchanged")]
    Interrupted,
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

/// What happened to one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// The file did not exist.
    Created,
    /// An existing file (or symlink) was replaced.
    Replaced,
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

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// What happened to each target, in the order given.
    pub changes: Vec<Change>,
    /// Previous versions that could not be removed after the set was in place, each in
    /// one sentence (a replaced `tls.key` leaves an old private key behind: say so).
    pub left_behind: Vec<String>,
}

/// Write every file as one set: all of them or none. Returns what happened to each,
/// in the order given, and any previous version left behind.
pub fn write_all(files: &[OutFile], force: bool) -> Result<Written, FilesError> {
    let changes = preflight(files, force)?;
    // SIGINT/SIGTERM while the set is written: noted instead of killing the process, so
    // the set is rolled back (before the first rename) or completed (after it).
    let _guard = crate::interrupt::Guard::watch();
    let mut set = Transaction::default();
    let result = set.stage(files).and_then(|()| {
        if crate::interrupt::requested() {
            return Err(FilesError::Interrupted);
        }
        set.commit(files)
    });
    match result {
        Ok(()) => Ok(Written {
            changes,
            left_behind: set.finish(),
        }),
        Err(err) => {
            let state = set.roll_back();
            Err(match err {
                FilesError::Write { path, reason, .. } => FilesError::Write {
                    path,
                    reason,
                    state,
                },
                other => other,
            })
        }
    }
}

/// Check every target before anything is written.
fn preflight(files: &[OutFile], force: bool) -> Result<Vec<Change>, FilesError> {
    let mut seen: Vec<(PathBuf, &Path)> = Vec::new();
    let mut changes = Vec::new();
    for file in files {
        let identity = identity_of(&file.path);
        if let Some((_, first)) = seen.iter().find(|(known, _)| *known == identity) {
            return Err(FilesError::SamePath {
                path: file.path.display().to_string(),
                first: first.display().to_string(),
                second: file.path.display().to_string(),
            });
        }
        seen.push((identity, &file.path));
        match std::fs::symlink_metadata(&file.path) {
            Ok(meta) if meta.is_dir() => {
                return Err(FilesError::IsDirectory {
                    path: file.path.display().to_string(),
                })
            }
            Ok(_) if !force => {
                return Err(FilesError::Exists {
                    path: file.path.display().to_string(),
                })
            }
            Ok(_) => changes.push(Change::Replaced),
            Err(_) => changes.push(Change::Created),
        }
    }
    Ok(changes)
}

/// The directory a target lives in ("." for a bare file name).
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A path that is the same for two spellings of one file (its directory resolved,
/// the last component not followed).
fn identity_of(path: &Path) -> PathBuf {
    let dir = directory_of(path);
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    match path.file_name() {
        Some(name) => dir.join(name),
        None => dir,
    }
}

/// Remove the previous versions of replaced files; the ones that stay, in words (a
/// previous `tls.key` is an old private key on disk: the operator must know).
fn remove_backups(backups: impl IntoIterator<Item = PathBuf>) -> Vec<String> {
    backups
        .into_iter()
        .filter_map(|backup| match std::fs::remove_file(&backup) {
            Ok(()) => None,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => Some(format!(
                "the previous version of a replaced file is left at {} ({}): delete it, it may hold an old private key",
                backup.display(),
                describe_io_error(&err)
            )),
        })
        .collect()
}

/// The temporary and backup files of one write, and what has been renamed so far.
#[derive(Default)]
struct Transaction {
    /// Temporary files holding the new contents, one per target, in order.
    staged: Vec<tempfile::TempPath>,
    /// For each target renamed into place: its path and the backup of the old file.
    committed: Vec<(PathBuf, Option<PathBuf>)>,
    /// Backups made for targets not renamed yet.
    pending_backups: Vec<PathBuf>,
    /// Directories to fsync.
    directories: HashSet<PathBuf>,
}

impl Transaction {
    /// Write each new file to a temporary file beside its target and fsync it.
    fn stage(&mut self, files: &[OutFile]) -> Result<(), FilesError> {
        for file in files {
            let fail = |err: std::io::Error| FilesError::Write {
                path: file.path.display().to_string(),
                reason: describe_io_error(&err),
                state: String::new(),
            };
            let dir = directory_of(&file.path);
            // Replacing a file never widens who may read it: a 0640 tls.crt stays 0640.
            let mode = std::fs::metadata(&file.path).map_or(file.mode, |old| {
                file.mode & old.permissions().mode() & 0o777
            });
            let mut temp = tempfile::Builder::new()
                .prefix(".rcert-")
                .permissions(std::fs::Permissions::from_mode(mode))
                .tempfile_in(&dir)
                .map_err(fail)?;
            temp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(fail)?;
            temp.write_all(&file.contents)
                .and_then(|()| temp.as_file().sync_all())
                .map_err(fail)?;
            self.directories.insert(dir);
            self.staged.push(temp.into_temp_path());
        }
        Ok(())
    }

    /// Keep each old file under a backup name, then rename every new file into place.
    fn commit(&mut self, files: &[OutFile]) -> Result<(), FilesError> {
        let mut backups = Vec::new();
        for file in files {
            let backup = keep_old(&file.path).map_err(|err| FilesError::Write {
                path: file.path.display().to_string(),
                reason: format!("cannot keep the old file: {}", describe_io_error(&err)),
                state: String::new(),
            })?;
            if let Some(backup) = &backup {
                self.pending_backups.push(backup.clone());
            }
            backups.push(backup);
        }
        for ((file, temp), backup) in files.iter().zip(&self.staged).zip(backups) {
            std::fs::rename(temp, &file.path).map_err(|err| FilesError::Write {
                path: file.path.display().to_string(),
                reason: describe_io_error(&err),
                state: String::new(),
            })?;
            self.pending_backups
                .retain(|pending| Some(pending) != backup.as_ref());
            self.committed.push((file.path.clone(), backup));
        }
        for dir in &self.directories {
            sync_directory(dir);
        }
        Ok(())
    }

    /// Success: drop the backups of the old files; returns those that could not be
    /// removed, each in one sentence.
    fn finish(self) -> Vec<String> {
        let backups = self.committed.into_iter().filter_map(|(_, backup)| backup);
        let left_behind = remove_backups(backups);
        for dir in &self.directories {
            sync_directory(dir);
        }
        left_behind
    }

    /// Failure: put every replaced file back, remove new files and temporary files;
    /// returns one sentence saying the state the files are in.
    fn roll_back(self) -> String {
        let mut left = Vec::new();
        for (path, backup) in self.committed.iter().rev() {
            let restored = match backup {
                Some(backup) => std::fs::rename(backup, path),
                None => std::fs::remove_file(path),
            };
            if restored.is_err() {
                left.push(match backup {
                    Some(backup) => format!(
                        "{} is new; its previous version is in {}",
                        path.display(),
                        backup.display()
                    ),
                    None => format!("{} is new", path.display()),
                });
            }
        }
        for backup in &self.pending_backups {
            let _ = std::fs::remove_file(backup);
        }
        // The staged TempPaths remove themselves when dropped.
        drop(self.staged);
        for dir in &self.directories {
            sync_directory(dir);
        }
        if left.is_empty() {
            "nothing was written, the previous files are unchanged".to_string()
        } else {
            format!("could not restore everything: {}", left.join("; "))
        }
    }
}

/// Keep the old file (or symlink) at `path` under a hidden name beside it, leaving
/// `path` in place for readers; `None` when there is none.
fn keep_old(path: &Path) -> std::io::Result<Option<PathBuf>> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(None);
    };
    let dir = directory_of(path);
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().to_string())
        .unwrap_or_default();
    let backup = tempfile::Builder::new()
        .prefix(&format!(".rcert-old-{name}-"))
        .tempfile_in(&dir)?
        .into_temp_path();
    let backup_path = backup.to_path_buf();
    // Free the name: the backup is made as a hard link (or a copy of the link) below.
    backup.close()?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path)?;
        std::os::unix::fs::symlink(target, &backup_path)?;
    } else {
        std::fs::hard_link(path, &backup_path)?;
    }
    Ok(Some(backup_path))
}

fn sync_directory(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_previous_version_that_cannot_be_removed_is_named() {
        let dir = tempfile::tempdir().unwrap();
        // A directory stands for a backup the system refuses to remove.
        let stuck = dir.path().join("tls.key.rcert-old");
        std::fs::create_dir(&stuck).unwrap();
        let gone = dir.path().join("already-gone");
        let left = remove_backups([stuck.clone(), gone]);
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(
            left[0].starts_with(&format!(
                "the previous version of a replaced file is left at {} (",
                stuck.display()
            )) && left[0].ends_with("delete it, it may hold an old private key"),
            "{left:?}"
        );
    }

    #[test]
    fn a_set_replaces_old_files_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, "old").unwrap();
        let set = [
            OutFile::certificate(a.clone(), "new a"),
            OutFile::key(dir.path().join("b"), "new b"),
        ];
        assert!(matches!(
            write_all(&set, false),
            Err(FilesError::Exists { .. })
        ));
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old");
        let written = write_all(&set, true).unwrap();
        assert_eq!(written.changes, vec![Change::Replaced, Change::Created]);
        assert!(written.left_behind.is_empty(), "{written:?}");
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "new a");
        assert_eq!(names(dir.path()), vec!["a", "b"]);
        let mode = std::fs::metadata(dir.path().join("b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn replacing_a_file_never_widens_its_permissions() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let crt = dir.path().join("tls.crt");
        std::fs::write(&crt, "old").unwrap();
        std::fs::set_permissions(&crt, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_all(&[OutFile::certificate(crt.clone(), "new")], true).unwrap();
        let mode = std::fs::metadata(&crt).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }

    #[test]
    fn a_dangling_symlink_is_an_existing_file_and_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("tls.key");
        let outside = dir.path().join("elsewhere");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let set = [OutFile::key(link.clone(), "key")];
        assert!(matches!(
            write_all(&set, false),
            Err(FilesError::Exists { .. })
        ));
        assert!(!outside.exists());
        write_all(&set, true).unwrap();
        assert!(!outside.exists(), "the link was followed");
        assert!(!std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn two_outputs_on_one_path_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("same.pem");
        let other_spelling = dir.path().join(".").join("same.pem");
        let set = [
            OutFile::certificate(path, "chain"),
            OutFile::certificate(other_spelling, "root"),
        ];
        assert!(matches!(
            write_all(&set, true),
            Err(FilesError::SamePath { .. })
        ));
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn a_failure_half_way_puts_the_old_files_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first");
        std::fs::write(&first, "old first").unwrap();
        let blocked = dir.path().join("blocked");
        std::fs::create_dir(&blocked).unwrap();
        let mut transaction = Transaction::default();
        let set = [
            OutFile::certificate(first.clone(), "new first"),
            OutFile::certificate(blocked.join("x"), "new x"),
        ];
        transaction.stage(&set).unwrap();
        // The second rename fails: its directory is gone.
        std::fs::remove_dir_all(&blocked).unwrap();
        assert!(transaction.commit(&set).is_err());
        let state = transaction.roll_back();
        assert_eq!(
            state,
            "nothing was written, the previous files are unchanged"
        );
        assert_eq!(std::fs::read_to_string(&first).unwrap(), "old first");
        assert_eq!(names(dir.path()), vec!["first"]);
    }
}
