//! Backups of objects before rcert changes them: one YAML file each (mode 0600), named
//! after the object and the time, ready for `kubectl apply -f`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::manifests_yaml;
use crate::files::{self, OutFile};

/// Save `object` as `DIR/STEM-MILLIS.backup.yaml` (server-managed fields are the
/// caller's to strip); returns the file's path.
pub fn save<T: Serialize>(dir: &Path, stem: &str, object: &T) -> Result<PathBuf, String> {
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let path = dir.join(format!("{stem}-{stamp}.backup.yaml"));
    let yaml = manifests_yaml(std::slice::from_ref(object))?;
    files::ensure_directory(dir).map_err(|err| err.to_string())?;
    files::write_all(&[OutFile::key(path.clone(), yaml)], false).map_err(|err| err.to_string())?;
    Ok(path)
}
