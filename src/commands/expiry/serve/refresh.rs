//! The exporter's node files, `--path`s and endpoints: read again every `--interval`;
//! the files also as soon as one of them (or a directory holding one) changes size or
//! modification time, looked at every two seconds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::super::{cluster, files, rancher_ca, ExpiryRequest, Item, SourceState};
use super::rancher::same_chain_gauge;
use super::Shared;

/// The slot of the node's files and every `--path`.
const FILES: &str = "files";
/// The slot of the `--target` endpoints.
const ENDPOINTS: &str = "endpoints";
/// How often the files read last are looked at for a change.
const CHANGE_CHECK: Duration = Duration::from_secs(2);

/// Start the file and endpoint sources that the request asks for.
pub(super) fn start(shared: &Arc<Shared>) {
    let request = &shared.request;
    if !request.no_node || !request.paths.is_empty() {
        shared.inventory.register(FILES, None);
        tokio::spawn(watch_files(shared.clone()));
    }
    if !request.targets.is_empty() {
        shared.inventory.register(ENDPOINTS, None);
        tokio::spawn(probe_endpoints(shared.clone()));
    }
}

/// The request as of now (each read judges at its own time).
fn request_now(shared: &Shared) -> ExpiryRequest {
    let mut request = shared.request.clone();
    request.at = (shared.clock)();
    request
}

async fn watch_files(shared: Arc<Shared>) {
    let mut read_at: Option<Instant> = None;
    let mut watched: Vec<PathBuf> = Vec::new();
    let mut signature = Vec::new();
    loop {
        let due = read_at.is_none_or(|at| at.elapsed() >= shared.interval);
        let changed = !due && {
            let paths = watched.clone();
            let now = tokio::task::spawn_blocking(move || signature_of(&paths))
                .await
                .unwrap_or_default();
            now != signature
        };
        if due || changed {
            let request = request_now(&shared);
            let read = tokio::task::spawn_blocking(move || {
                let (items, states) = files::collect(&request);
                (items, states, request)
            })
            .await;
            if let Ok((mut items, mut states, request)) = read {
                states.extend(rancher_ca::compare(&mut items, &request).await);
                watched = watched_paths(&items, &request);
                let paths = watched.clone();
                signature = tokio::task::spawn_blocking(move || signature_of(&paths))
                    .await
                    .unwrap_or_default();
                if changed {
                    shared
                        .log
                        .event("changed", FILES, "a certificate file changed: read again");
                }
                replace(&shared, FILES, items, states);
            }
            read_at = Some(Instant::now());
        }
        tokio::time::sleep(CHANGE_CHECK).await;
    }
}

async fn probe_endpoints(shared: Arc<Shared>) {
    loop {
        let request = request_now(&shared);
        let (items, states) = cluster::collect_endpoints(&request).await;
        let gauges: Vec<_> = same_chain_gauge(&items).into_iter().collect();
        replace(&shared, ENDPOINTS, items, states);
        shared
            .inventory
            .with(ENDPOINTS, |slot| slot.gauges = gauges);
        tokio::time::sleep(shared.interval).await;
    }
}

/// Put what a source read in its slot, logging each part that went up or down.
fn replace(shared: &Shared, key: &str, items: Vec<Item>, states: Vec<SourceState>) {
    let before = shared
        .inventory
        .with(key, |slot| std::mem::take(&mut slot.states))
        .unwrap_or_default();
    for state in &states {
        let was = before
            .iter()
            .find(|old| old.source == state.source)
            .map(|old| old.state.as_str());
        if was == Some(state.state.as_str()) {
            continue;
        }
        let event = match state.state.as_str() {
            "read" => "source up",
            // Not configured on this machine (no RKE2/k3s directories): no alarm.
            "unavailable" => "source absent",
            _ => "source down",
        };
        shared.log.event(event, &state.source, &state.message);
    }
    shared
        .inventory
        .with(key, |slot| slot.replace(items, states));
}

/// The files the items came from, their directories, every `--path` and the node's
/// certificate locations under `--root` (one that appears is read at once): what a
/// change would touch.
fn watched_paths(items: &[Item], request: &ExpiryRequest) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = items
        .iter()
        .filter_map(|item| item.place.filepath.as_deref().map(PathBuf::from))
        .flat_map(|file| {
            let parent = file.parent().map(PathBuf::from);
            std::iter::once(file).chain(parent)
        })
        .chain(request.paths.iter().cloned())
        .chain(files::node_locations(request))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Size and modification time of each path (a missing one counts as such).
fn signature_of(paths: &[PathBuf]) -> Vec<Option<(u64, SystemTime)>> {
    paths
        .iter()
        .map(|path| {
            let meta = std::fs::metadata(path).ok()?;
            Some((meta.len(), meta.modified().ok()?))
        })
        .collect()
}
