//! Applying a set of Secrets as one change: read all first, refuse what cannot work
//! (a Secret's type is immutable), back up everything that will change, apply with
//! server-side apply in order, and roll back what this run changed when a later one fails.

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde::Serialize;

mod rollback;

pub use rollback::undo;
use rollback::{recreatable, stop_and_roll_back, SetRun};

use super::{api_error, describe_api_error, RemoteError, MANAGER};
use crate::files;

/// What happened to one Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// It did not exist and was created.
    Created,
    /// It existed and its data changed.
    Updated,
    /// Its type had to change: deleted and created again (`--replace`).
    Replaced,
    /// It already held the same data; nothing was sent.
    Unchanged,
    /// Its request failed.
    Failed,
    /// An earlier failure stopped the run before it.
    #[serde(rename = "not attempted")]
    NotAttempted,
    /// It was changed, then put back as it was because a later Secret failed.
    #[serde(rename = "rolled back")]
    RolledBack,
    /// Dry run: what would be applied.
    #[serde(rename = "would apply")]
    WouldApply,
    /// It existed and was deleted (a set that no longer holds it).
    Deleted,
}

impl Action {
    /// The word shown in text reports.
    pub fn label(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Replaced => "replaced",
            Action::Unchanged => "unchanged",
            Action::Failed => "failed",
            Action::NotAttempted => "not attempted",
            Action::RolledBack => "rolled back",
            Action::WouldApply => "would apply",
            Action::Deleted => "deleted",
        }
    }

    /// The verdict of this outcome: a failure, a warning for what was not done or was
    /// taken back, else ok.
    pub fn status(self) -> crate::check::Status {
        use crate::check::Status;
        match self {
            Action::Failed => Status::Failed,
            Action::NotAttempted | Action::RolledBack => Status::Warning,
            _ => Status::Ok,
        }
    }

    /// Whether the Secret in the cluster differs from before this run.
    pub fn changed(self) -> bool {
        matches!(
            self,
            Action::Created | Action::Updated | Action::Replaced | Action::Deleted
        )
    }
}

/// How to apply the set.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    /// The namespace of every Secret.
    pub namespace: &'a str,
    /// Where backups of replaced Secrets go (YAML, mode 0600).
    pub backup_dir: &'a Path,
    /// The run's time, which names the backups.
    pub backup_at: time::OffsetDateTime,
    /// Delete and recreate a Secret whose type must change.
    pub replace: bool,
    /// Create the namespace when a Secret is missing and the namespace too.
    pub create_namespace: bool,
    /// Overwrite a Secret that cert-manager manages (it would revert the change).
    pub override_cert_manager: bool,
}

/// The cert-manager Certificate (or issuer annotation) that manages a Secret, if any:
/// `cert-manager.io/*` annotations or an owner reference of kind Certificate.
pub fn cert_manager_owner(secret: &Secret) -> Option<String> {
    let meta = &secret.metadata;
    if let Some(owner) = meta.owner_references.iter().flatten().find(|owner| {
        owner.kind == "Certificate" && owner.api_version.starts_with("cert-manager.io/")
    }) {
        return Some(format!("Certificate {}", owner.name));
    }
    let annotations = meta.annotations.as_ref()?;
    if let Some(name) = annotations.get("cert-manager.io/certificate-name") {
        return Some(format!("Certificate {name}"));
    }
    annotations
        .iter()
        .find(|(key, _)| key.starts_with("cert-manager.io/"))
        .map(|(key, value)| format!("cert-manager ({key}={value})"))
}

/// What one Secret of a set should become.
#[derive(Debug, Clone)]
pub enum Desired {
    /// Hold exactly this type and data (server-side apply).
    Apply(Box<Secret>),
    /// Not exist (deleted when found, after a backup).
    Absent(String),
}

impl Desired {
    /// The Secret's name.
    pub fn name(&self) -> String {
        match self {
            Desired::Apply(secret) => name_of(secret),
            Desired::Absent(name) => name.clone(),
        }
    }

    /// The type a Secret must change to, when it must exist.
    fn kind(&self) -> Option<&str> {
        match self {
            Desired::Apply(secret) => Some(type_of(secret)),
            Desired::Absent(_) => None,
        }
    }

    /// Whether `current` (what the cluster holds) already is what is wanted.
    fn satisfied_by(&self, current: Option<&Secret>) -> bool {
        match (self, current) {
            (Desired::Apply(secret), Some(current)) => same_data(current, secret),
            (Desired::Apply(_), None) => false,
            (Desired::Absent(_), current) => current.is_none(),
        }
    }
}

/// The fate of one Secret of the set.
#[derive(Debug, Clone)]
pub struct Change {
    /// The Secret's name.
    pub name: String,
    /// What happened.
    pub action: Action,
    /// What the cluster held before, when the Secret existed.
    pub before: Option<Secret>,
    /// Where `before` was saved.
    pub backup: Option<PathBuf>,
}

/// The result of applying a set.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// One entry per Secret, in the order given.
    pub changes: Vec<Change>,
    /// Whether the namespace was created.
    pub namespace_created: bool,
    /// What stopped the run, with the state the cluster is in (exit 3).
    pub error: Option<String>,
    /// The run was refused before any change because the cluster's state forbids it
    /// (a Secret's type would have to change): a failed check (exit 1), not a remote error.
    pub blocked: bool,
    /// Things worth saying that changed nothing (an unused backup left behind).
    pub notes: Vec<String>,
}

/// A stop before anything changed: every Secret not attempted, the cluster untouched.
fn stopped(wanted: &[Desired], before: Vec<Option<Secret>>, error: String) -> Applied {
    let mut before = before.into_iter();
    Applied {
        changes: wanted
            .iter()
            .map(|desired| Change {
                name: desired.name(),
                action: Action::NotAttempted,
                before: before.next().flatten(),
                backup: None,
            })
            .collect(),
        namespace_created: false,
        error: Some(format!("{error}; nothing was changed")),
        blocked: false,
        notes: Vec::new(),
    }
}

fn name_of(secret: &Secret) -> String {
    secret.metadata.name.clone().unwrap_or_default()
}

fn same_data(current: &Secret, wanted: &Secret) -> bool {
    current.data.clone().unwrap_or_default() == wanted.data.clone().unwrap_or_default()
        && type_of(current) == type_of(wanted)
}

fn type_of(secret: &Secret) -> &str {
    secret.type_.as_deref().unwrap_or("Opaque")
}

/// Apply `wanted` (in order) as one change.
pub async fn apply_set(client: Client, options: &Options<'_>, wanted: &[Secret]) -> Applied {
    let desired: Vec<Desired> = wanted
        .iter()
        .cloned()
        .map(|s| Desired::Apply(Box::new(s)))
        .collect();
    apply_desired(client, options, &desired).await
}

/// The refusal, before anything changed, of a set the cluster's state forbids.
fn refusal(options: &Options<'_>, wanted: &[Desired], before: &[Option<Secret>]) -> Option<String> {
    for (desired, current) in wanted.iter().zip(before) {
        let (Some(kind), Some(current)) = (desired.kind(), current.as_ref()) else {
            continue;
        };
        if type_of(current) != kind && !options.replace {
            return Some(format!(
                "secret {}/{} is of type {}, and a Secret's type cannot change to {kind}: rerun with --replace to delete and recreate it (it is backed up first)",
                options.namespace,
                desired.name(),
                type_of(current),
            ));
        }
    }
    if options.override_cert_manager {
        return None;
    }
    wanted.iter().zip(before).find_map(|(desired, current)| {
        let current = current.as_ref()?;
        let owner = cert_manager_owner(current)?;
        (!desired.satisfied_by(Some(current))).then(|| format!(
            "secret {}/{} is managed by {owner}: cert-manager would put its own certificate back; change the Certificate's issuer, or install Rancher with ingress.tls.source=secret and delete the Certificate, or pass --force",
            options.namespace,
            desired.name()
        ))
    })
}

/// Make the cluster hold `wanted` (in order) as one change: Secrets applied or deleted,
/// everything backed up first, what this run changed rolled back when a later one fails.
pub async fn apply_desired(client: Client, options: &Options<'_>, wanted: &[Desired]) -> Applied {
    let api: Api<Secret> = Api::namespaced(client.clone(), options.namespace);
    let mut before = Vec::new();
    for desired in wanted {
        let what = format!("secret {}/{}", options.namespace, desired.name());
        match api.get_opt(&desired.name()).await {
            Ok(found) => before.push(found),
            Err(err) => {
                let message = describe_api_error(&err, "get", &what);
                return stopped(wanted, before, message);
            }
        }
    }
    if let Some(message) = refusal(options, wanted, &before) {
        let mut refused = stopped(wanted, before, message);
        refused.blocked = true;
        return refused;
    }
    let mut namespace_created = false;
    let creates = wanted
        .iter()
        .zip(&before)
        .any(|(desired, current)| desired.kind().is_some() && current.is_none());
    if creates && options.create_namespace {
        match ensure_namespace(&client, options.namespace).await {
            Ok(created) => namespace_created = created,
            Err(error) => return stopped(wanted, before, error.to_string()),
        }
    }
    // Back up everything that will change before changing anything.
    let mut backups = Vec::new();
    for (desired, current) in wanted.iter().zip(&before) {
        let backup = match current.as_ref().filter(|c| !desired.satisfied_by(Some(c))) {
            Some(current) => match save_backup(options, current) {
                Ok(path) => Some(path),
                Err(err) => {
                    for path in backups.iter().flatten() {
                        let _ = std::fs::remove_file(path);
                    }
                    let message = format!(
                        "cannot back up secret {}/{} before changing it: {err}",
                        options.namespace,
                        desired.name()
                    );
                    return stopped(wanted, before, message);
                }
            },
            None => None,
        };
        backups.push(backup);
    }
    let mut applied = Applied {
        changes: Vec::new(),
        namespace_created,
        error: None,
        blocked: false,
        notes: Vec::new(),
    };
    let run = SetRun {
        api: &api,
        options,
        wanted,
        before: &before,
        backups: &backups,
    };
    for (index, (desired, current)) in wanted.iter().zip(&before).enumerate() {
        let backup = backups[index].clone();
        if crate::interrupt::requested() {
            // Ctrl-C or SIGTERM: the request in flight finished; put back what changed.
            let message = format!(
                "interrupted (SIGINT/SIGTERM) before secret {}/{}",
                options.namespace,
                desired.name()
            );
            return stop_and_roll_back(&run, applied, index, message).await;
        }
        let result = match desired {
            Desired::Apply(secret) => apply_one(&api, options, secret, current.as_ref()).await,
            Desired::Absent(name) => delete_one(&api, options, name, current.as_ref()).await,
        };
        match result {
            Ok(action) => applied.changes.push(Change {
                name: desired.name(),
                action,
                before: current.clone(),
                backup,
            }),
            Err(message) => {
                applied.changes.push(Change {
                    name: desired.name(),
                    action: Action::Failed,
                    before: current.clone(),
                    backup: backup.clone(),
                });
                return stop_and_roll_back(&run, applied, index + 1, message.to_string()).await;
            }
        }
    }
    if crate::interrupt::requested() {
        // Asked to stop while the last request was in flight: the run is taken back whole.
        let message = "interrupted (SIGINT/SIGTERM) after the last request".to_string();
        return stop_and_roll_back(&run, applied, wanted.len(), message).await;
    }
    applied
}

async fn delete_one(
    api: &Api<Secret>,
    options: &Options<'_>,
    name: &str,
    current: Option<&Secret>,
) -> Result<Action, RemoteError> {
    if current.is_none() {
        return Ok(Action::Unchanged);
    }
    api.delete(name, &DeleteParams::default())
        .await
        .map(|_| Action::Deleted)
        .map_err(|err| {
            api_error(
                err,
                "delete",
                &format!("secret {}/{name}", options.namespace),
            )
        })
}

async fn apply_one(
    api: &Api<Secret>,
    options: &Options<'_>,
    secret: &Secret,
    current: Option<&Secret>,
) -> Result<Action, RemoteError> {
    let name = name_of(secret);
    let what = format!("secret {}/{name}", options.namespace);
    if current.is_some_and(|current| same_data(current, secret)) {
        return Ok(Action::Unchanged);
    }
    let retyped = current.is_some_and(|current| type_of(current) != type_of(secret));
    if retyped {
        api.delete(&name, &DeleteParams::default())
            .await
            .map_err(|err| api_error(err, "delete", &what))?;
    }
    let params = PatchParams::apply(MANAGER).force();
    match api.patch(&name, &params, &Patch::Apply(secret)).await {
        Ok(_) if retyped => Ok(Action::Replaced),
        Ok(_) if current.is_some() => Ok(Action::Updated),
        Ok(_) => Ok(Action::Created),
        Err(err) => {
            let failed = api_error(err, "patch", &what);
            if retyped {
                // The old Secret is gone: put it back before reporting.
                if let Some(old) = current {
                    let restored = api.create(&PostParams::default(), &recreatable(old)).await;
                    if let Err(err) = restored {
                        let why = describe_api_error(&err, "create", &what);
                        return Err(RemoteError::Api {
                            message: format!("{failed}; it was deleted for --replace and could not be created again ({why}); its backup is the file to apply"),
                            source: Box::new(err),
                        });
                    }
                }
            }
            Err(failed)
        }
    }
}

/// Create the namespace unless it exists; returns whether it was created.
async fn ensure_namespace(client: &Client, namespace: &str) -> Result<bool, RemoteError> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let what = format!("namespace {namespace}");
    let rbac_hint = |verb: &str, err: kube::Error| {
        let message = describe_api_error(&err, verb, &what);
        let message = if message.contains("403") {
            format!("{message}; push reads namespaces only when a secret is missing: create namespace {namespace} yourself and rerun with --no-create-namespace")
        } else {
            message
        };
        RemoteError::Api {
            message,
            source: Box::new(err),
        }
    };
    let found = namespaces
        .get_opt(namespace)
        .await
        .map_err(|err| rbac_hint("get", err))?;
    if found.is_some() {
        return Ok(false);
    }
    let new_namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(namespace.to_string()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces
        .create(&PostParams::default(), &new_namespace)
        .await
        .map_err(|err| rbac_hint("create", err))?;
    Ok(true)
}

/// Save the previous object (as YAML, mode 0600) before it is replaced.
fn save_backup(
    options: &Options<'_>,
    current: &Secret,
) -> Result<PathBuf, super::backup::BackupError> {
    let mut previous = current.clone();
    previous.metadata.managed_fields = None;
    let stem = format!("{}-{}", options.namespace, name_of(current));
    super::backup::save(options.backup_dir, &stem, &previous, options.backup_at)
}

/// Check, before any API request, that backups can be written to `dir`.
pub fn check_backup_dir(dir: &Path) -> Result<(), files::FilesError> {
    files::ensure_directory(dir)?;
    tempfile::Builder::new()
        .prefix(".rcert-probe-")
        .tempfile_in(dir)
        .map(|_| ())
        .map_err(|err| files::FilesError::BadDirectory {
            path: dir.display().to_string(),
            reason: format!(
                "cannot write backups there: {}",
                crate::x509::pem::describe_io_error(&err)
            ),
        })
}

/// A Secret with rcert's managed-by label, for server-side apply.
pub fn secret<const N: usize>(
    namespace: &str,
    name: &str,
    kind: Option<&str>,
    data: [(&str, Vec<u8>); N],
) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                MANAGER.to_string(),
            )])),
            ..ObjectMeta::default()
        },
        type_: kind.map(str::to_string),
        data: Some(
            data.into_iter()
                .map(|(key, bytes)| (key.to_string(), ByteString(bytes)))
                .collect(),
        ),
        ..Secret::default()
    }
}
