//! Backups of objects before rcert changes them: one YAML file each (mode 0600), named
//! after the object and the time, ready for `kubectl apply -f`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{manifests_yaml, YamlError};
use crate::files::{self, FilesError, OutFile};

/// Why a backup could not be saved (the change it guards is then not made).
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The object could not be rendered.
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// The file could not be written.
    #[error(transparent)]
    Write(#[from] FilesError),
}

/// Save `object` as `DIR/STEM-MILLIS.backup.yaml`, MILLIS being the run's time (`at`,
/// taken in `cli`); a second backup of the same object in one run (another context) gets
/// `-2`, `-3`, … — nothing is overwritten. Server-managed fields are the caller's to
/// strip; returns the file's path.
pub fn save<T: Serialize>(
    dir: &Path,
    stem: &str,
    object: &T,
    at: time::OffsetDateTime,
) -> Result<PathBuf, BackupError> {
    let stamp = at.unix_timestamp_nanos() / 1_000_000;
    let path = (1..)
        .map(|copy| match copy {
            1 => dir.join(format!("{stem}-{stamp}.backup.yaml")),
            _ => dir.join(format!("{stem}-{stamp}-{copy}.backup.yaml")),
        })
        .find(|path| !path.exists())
        .unwrap_or_else(|| dir.join(format!("{stem}-{stamp}.backup.yaml")));
    let yaml = manifests_yaml(std::slice::from_ref(object))?;
    files::ensure_directory(dir)?;
    files::write_all(&[OutFile::key(path.clone(), yaml)], false)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_backups_of_one_object_in_one_run_are_both_kept() {
        let dir = tempfile::tempdir().unwrap();
        let at = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let object = serde_json::json!({"kind": "Secret", "metadata": {"name": "tls-ca"}});
        let first = save(dir.path(), "cattle-system-tls-ca", &object, at).unwrap();
        let second = save(dir.path(), "cattle-system-tls-ca", &object, at).unwrap();
        assert_eq!(
            first.file_name().unwrap(),
            "cattle-system-tls-ca-1700000000000.backup.yaml"
        );
        assert_eq!(
            second.file_name().unwrap(),
            "cattle-system-tls-ca-1700000000000-2.backup.yaml"
        );
    }
}
