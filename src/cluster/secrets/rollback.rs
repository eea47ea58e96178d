//! Putting a set back: every Secret a run changed restored from what the cluster held
//! before (or deleted again when the run created it), newest first, and the state said in
//! one sentence.

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};

use std::path::PathBuf;

use super::{type_of, Action, Applied, Change, Desired, Options};
use crate::cluster::{describe_api_error, MANAGER};

/// Put back every Secret an earlier, successful run of the set changed (a later step of
/// the same operation failed); returns the state in one sentence.
pub async fn undo(client: Client, options: &Options<'_>, applied: &mut Applied) -> String {
    let api: Api<Secret> = Api::namespaced(client, options.namespace);
    roll_back(&api, options, applied).await
}

/// What a run of the set works from: where it writes, what it wants, what the cluster held
/// before and the backup taken of each Secret (in the order of `wanted`).
pub(super) struct SetRun<'r, 'o> {
    pub api: &'r Api<Secret>,
    pub options: &'r Options<'o>,
    pub wanted: &'r [Desired],
    pub before: &'r [Option<Secret>],
    pub backups: &'r [Option<PathBuf>],
}

/// The run stops at `next` (a failure or an interruption): the rest is not attempted,
/// backups of what was not changed are removed, and what this run changed is put back.
pub(super) async fn stop_and_roll_back(
    run: &SetRun<'_, '_>,
    mut applied: Applied,
    next: usize,
    message: String,
) -> Applied {
    let SetRun {
        api,
        options,
        wanted,
        before,
        backups,
    } = *run;
    for (index, (rest, current)) in wanted.iter().zip(before).enumerate().skip(next) {
        if applied
            .changes
            .iter()
            .any(|change| change.name == rest.name())
        {
            continue;
        }
        applied.changes.push(Change {
            name: rest.name(),
            action: Action::NotAttempted,
            before: current.clone(),
            backup: backups.get(index).cloned().flatten(),
        });
    }
    // Secrets this run did not change need no backup.
    for change in applied.changes.iter_mut() {
        let retyped = change.before.as_ref().is_some_and(|old| {
            wanted
                .iter()
                .any(|w| w.name() == change.name && w.kind().is_some_and(|k| k != type_of(old)))
        });
        let untouched =
            change.action == Action::NotAttempted || (change.action == Action::Failed && !retyped);
        if untouched {
            if let Some(path) = change.backup.take() {
                if let Err(err) = std::fs::remove_file(&path) {
                    // Harmless, but never silent.
                    applied.notes.push(format!(
                        "could not remove the unused backup {}: {err}",
                        path.display()
                    ));
                }
            }
        }
    }
    let state = roll_back(api, options, &mut applied).await;
    let notes: String = applied
        .notes
        .iter()
        .map(|note| format!("; {note}"))
        .collect();
    applied.error = Some(format!("{message}; {state}{notes}"));
    applied
}

/// Put back every Secret this run changed, newest first; returns the state in one sentence.
pub(super) async fn roll_back(
    api: &Api<Secret>,
    options: &Options<'_>,
    applied: &mut Applied,
) -> String {
    let mut restored = Vec::new();
    let mut left = Vec::new();
    for change in applied
        .changes
        .iter_mut()
        .rev()
        .filter(|c| c.action.changed())
    {
        let what = format!("secret {}/{}", options.namespace, change.name);
        if crate::interrupt::requested_twice() {
            // Asked a second time: stop here and say exactly what is left.
            left.push(match &change.backup {
                Some(backup) => format!(
                    "{what} is CHANGED and was not restored (interrupted again): kubectl apply -f {}",
                    backup.display()
                ),
                None => format!(
                    "{what} was created by this run and not deleted (interrupted again): kubectl -n {} delete secret {}",
                    options.namespace, change.name
                ),
            });
            continue;
        }
        let result = match (&change.before, change.action) {
            (None, _) => api
                .delete(&change.name, &DeleteParams::default())
                .await
                .map(|_| ()),
            (Some(old), Action::Deleted) => api
                .create(&PostParams::default(), &recreatable(old))
                .await
                .map(|_| ()),
            (Some(old), Action::Replaced) => {
                let deleted = api.delete(&change.name, &DeleteParams::default()).await;
                match deleted {
                    Ok(_) => api
                        .create(&PostParams::default(), &recreatable(old))
                        .await
                        .map(|_| ()),
                    Err(err) => Err(err),
                }
            }
            (Some(old), _) => api
                .patch(
                    &change.name,
                    &PatchParams::apply(MANAGER).force(),
                    &Patch::Apply(&reapplied(old)),
                )
                .await
                .map(|_| ()),
        };
        match result {
            Ok(()) => {
                restored.push(match &change.backup {
                    Some(backup) => format!("{what} restored from {}", backup.display()),
                    None => format!("{what} (created by this run) deleted again"),
                });
                change.action = Action::RolledBack;
            }
            Err(err) => left.push(match &change.backup {
                Some(backup) => format!(
                    "{what} is CHANGED and could not be restored ({}): kubectl apply -f {}",
                    describe_api_error(&err, "restore", &what),
                    backup.display()
                ),
                None => format!(
                    "{what} was created by this run and could not be deleted ({})",
                    describe_api_error(&err, "delete", &what)
                ),
            }),
        }
    }
    match (restored.is_empty(), left.is_empty()) {
        (true, true) => "nothing was changed".to_string(),
        (false, true) => format!(
            "rolled back: {}; the cluster is as it was",
            restored.join(", ")
        ),
        (_, false) => format!("NOT rolled back: {}", left.join("; ")),
    }
}

/// The old Secret as a server-side apply of its type and data.
fn reapplied(old: &Secret) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: old.metadata.name.clone(),
            namespace: old.metadata.namespace.clone(),
            ..ObjectMeta::default()
        },
        type_: old.type_.clone(),
        data: old.data.clone(),
        ..Secret::default()
    }
}

/// The old Secret as something `create` accepts again (no server-set fields).
pub(super) fn recreatable(old: &Secret) -> Secret {
    let mut secret = old.clone();
    secret.metadata.resource_version = None;
    secret.metadata.uid = None;
    secret.metadata.creation_timestamp = None;
    secret.metadata.managed_fields = None;
    secret
}
