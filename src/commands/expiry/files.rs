//! expiry's file sources: a node's RKE2/k3s/RKE1 certificates and kubeconfigs under
//! `--root`, and every `--path` (files or directories, read recursively; kubeconfigs
//! recognised by their content).

use crate::cluster::CredentialError;
use std::path::{Path, PathBuf};

use super::cluster::{blob_items, certificate_name};
use super::{ExpiryRequest, Item, Place, Source, SourceState};
use crate::check::{Cause, Fix};

/// Directories and files a node's distribution keeps its certificates in, under `--root`.
const NODE_DIRECTORIES: &[&str] = &[
    "var/lib/rancher/rke2/server/tls",
    "var/lib/rancher/k3s/server/tls",
];
const NODE_AGENT_DIRECTORIES: &[&str] =
    &["var/lib/rancher/rke2/agent", "var/lib/rancher/k3s/agent"];
const NODE_KUBECONFIGS: &[&str] = &["etc/rancher/rke2/rke2.yaml", "etc/rancher/k3s/k3s.yaml"];
const RKE1_DIRECTORY: &str = "etc/kubernetes/ssl";
/// rancher-system-agent's connection to Rancher on a Rancher-provisioned node: its
/// `kubeConfig` carries Rancher's CA (`certificate-authority-data`).
const SYSTEM_AGENT_CONNECTION: &str = "var/lib/rancher/agent/rancher2_connection_info.json";

/// Bounds for a walk: deep trees and huge files are not certificate stores.
const MAX_DEPTH: usize = 12;
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Where the node's distributions keep certificates, under `--root` (none with
/// `--no-node`): the exporter looks for one of them appearing.
pub(super) fn node_locations(request: &ExpiryRequest) -> Vec<PathBuf> {
    if request.no_node {
        return Vec::new();
    }
    NODE_DIRECTORIES
        .iter()
        .chain(NODE_AGENT_DIRECTORIES)
        .chain(NODE_KUBECONFIGS)
        .chain([&RKE1_DIRECTORY, &SYSTEM_AGENT_CONNECTION])
        .map(|relative| request.root.join(relative))
        .collect()
}

/// The node part and the `--path` part.
pub(super) fn collect(request: &ExpiryRequest) -> (Vec<Item>, Vec<SourceState>) {
    let mut items = Vec::new();
    let mut states = Vec::new();
    if !request.no_node {
        let (node_items, state) = node(request);
        items.extend(node_items);
        states.push(state);
    }
    for path in &request.paths {
        let before = items.len();
        if !path.exists() {
            items.push(Item::unreadable(
                format!("file {}", path.display()),
                Source::File,
                file_place(path),
                "no such file or directory".to_string(),
            ));
        } else {
            walk(path, 0, &mut |found| match found {
                Walked::File(file) => {
                    // A file named on the command line, or named like a certificate, must
                    // hold one; other files in a directory may be anything.
                    let expected = file == path.as_path() || is_certificate_name(file);
                    items.extend(file_items(file, Source::File, request, expected, true))
                }
                Walked::Unreadable(dir, why) => items.push(unreadable_dir(dir, Source::File, why)),
            });
            if items.len() == before {
                items.push(Item::unreadable(
                    format!("file {}", path.display()),
                    Source::File,
                    file_place(path),
                    "no certificate found there (files are read as PEM, DER or PKCS#7, directories recursively)".to_string(),
                ));
            }
        }
        states.push(SourceState {
            context: None,
            source: format!("path {}", path.display()),
            state: "read".to_string(),
            message: format!("{} item(s)", items.len() - before),
        });
    }
    (items, states)
}

fn node(request: &ExpiryRequest) -> (Vec<Item>, SourceState) {
    let root = &request.root;
    let mut items = Vec::new();
    let mut found = Vec::new();
    for dir in NODE_DIRECTORIES {
        let dir = root.join(dir);
        if dir.is_dir() {
            found.push(dir.display().to_string());
            walk(&dir, 0, &mut |found| match found {
                Walked::File(file) if is_certificate_name(file) => {
                    items.extend(file_items(file, Source::Node, request, true, false));
                }
                Walked::File(_) => {}
                Walked::Unreadable(dir, why) => items.push(unreadable_dir(dir, Source::Node, why)),
            });
        }
    }
    for dir in NODE_AGENT_DIRECTORIES {
        let dir = root.join(dir);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        found.push(dir.display().to_string());
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "crt"))
            .collect();
        files.sort();
        for file in files {
            items.extend(file_items(&file, Source::Node, request, true, false));
        }
    }
    for kubeconfig in NODE_KUBECONFIGS {
        let path = root.join(kubeconfig);
        if path.is_file() {
            found.push(path.display().to_string());
            items.extend(kubeconfig_items(&path, request, Some(root)));
        }
    }
    let connection = root.join(SYSTEM_AGENT_CONNECTION);
    if connection.is_file() {
        found.push(connection.display().to_string());
        items.extend(connection_info_items(&connection, request));
    }
    let rke1 = root.join(RKE1_DIRECTORY);
    if rke1.is_dir() {
        found.push(rke1.display().to_string());
        walk(&rke1, 0, &mut |found| match found {
            Walked::File(file) => {
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                if name.ends_with(".pem") && !name.ends_with("-key.pem") {
                    items.extend(file_items(file, Source::Node, request, true, false));
                }
            }
            Walked::Unreadable(dir, why) => items.push(unreadable_dir(dir, Source::Node, why)),
        });
    }
    let state = if found.is_empty() {
        SourceState {
            context: None,
            source: format!("node {}", root.display()),
            state: "unavailable".to_string(),
            message: "no RKE2, k3s or RKE1 certificate directory here: skipped".to_string(),
        }
    } else {
        SourceState {
            context: None,
            source: format!("node {}", root.display()),
            state: "read".to_string(),
            message: format!("{} item(s) from {}", items.len(), found.join(", ")),
        }
    };
    (items, state)
}

/// `*.crt`, `*.pem`, `*.cer`, `*.der`, `*.p7b`, `*.p7c` that are not keys.
fn is_certificate_name(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| certificate_name(&name.to_string_lossy()))
}

/// What a walk finds: a file to read (a symlink to a file, or to nothing — reading it
/// then says why), or a directory it cannot enter.
enum Walked<'a> {
    /// A file, or a symlink that is not to a directory.
    File(&'a Path),
    /// A directory that cannot be read, and why: never skipped in silence.
    Unreadable(&'a Path, String),
}

/// Visit every regular file under `path` (or `path` itself), sorted, bounded in depth;
/// symlinked directories are not followed.
fn walk(path: &Path, depth: usize, visit: &mut dyn FnMut(Walked<'_>)) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    let symlink = meta.file_type().is_symlink();
    if meta.is_file() || (symlink && !path.is_dir()) {
        visit(Walked::File(path));
        return;
    }
    if !meta.is_dir() || depth >= MAX_DEPTH {
        return;
    }
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(err) => {
            visit(Walked::Unreadable(
                path,
                crate::x509::pem::describe_io_error(&err),
            ));
            return;
        }
    };
    let mut children: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    children.sort();
    for child in children {
        walk(&child, depth + 1, visit);
    }
}

/// A directory the walk could not enter, as an unreadable item.
fn unreadable_dir(dir: &Path, source: Source, why: String) -> Item {
    Item::unreadable(
        format!("directory {}", dir.display()),
        source,
        file_place(dir),
        format!("cannot read the directory: {why}"),
    )
}

fn file_place(path: &Path) -> Place {
    Place {
        filepath: Some(path.display().to_string()),
        ..Place::default()
    }
}

/// The certificates of one file (PEM, DER or PKCS#7). `expected`: the file must hold a
/// certificate, so one that does not is an unreadable item; `kubeconfigs`: a kubeconfig
/// (recognised by its content) is read as one.
fn file_items(
    path: &Path,
    source: Source,
    request: &ExpiryRequest,
    expected: bool,
    kubeconfigs: bool,
) -> Vec<Item> {
    let location = format!("file {}", path.display());
    let place = file_place(path);
    let unreadable = |why: String| {
        vec![Item::unreadable(
            location.clone(),
            source,
            place.clone(),
            why,
        )]
    };
    let too_big = std::fs::metadata(path).is_ok_and(|meta| meta.len() > MAX_FILE_BYTES);
    if too_big {
        return if expected {
            unreadable(format!(
                "larger than {MAX_FILE_BYTES} bytes: not a certificate file"
            ))
        } else {
            Vec::new()
        };
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) => return unreadable(crate::x509::pem::describe_io_error(&err)),
    };
    let text = String::from_utf8_lossy(&bytes);
    if kubeconfigs && text.contains("clusters:") && text.contains("kind: Config") {
        return kubeconfig_items(path, request, None);
    }
    blob_items(
        &path.display().to_string(),
        &bytes,
        &location,
        source,
        &place,
        request,
        expected,
    )
}

/// A kubeconfig's client certificates and CA certificates (from `*-data` fields or
/// files). `root`: the kubeconfig is the node's, so an absolute file it names
/// (`/var/lib/rancher/…`) is read under `--root`, as the node sees it.
fn kubeconfig_items(path: &Path, request: &ExpiryRequest, root: Option<&Path>) -> Vec<Item> {
    let place = file_place(path);
    let config = match kube::config::Kubeconfig::read_from(path) {
        Ok(config) => config,
        Err(err) => {
            return vec![Item::unreadable(
                format!("kubeconfig {}", path.display()),
                Source::Kubeconfig,
                place,
                err.to_string(),
            )]
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let on_node = |file: Option<&str>| -> Option<String> {
        let file = file?;
        match (root, file.strip_prefix('/')) {
            (Some(root), Some(relative)) => Some(root.join(relative).display().to_string()),
            _ => Some(file.to_string()),
        }
    };
    let mut items = Vec::new();
    for user in &config.auth_infos {
        let Some(auth) = &user.auth_info else {
            continue;
        };
        let location = format!("kubeconfig {} user {}", path.display(), user.name);
        let file = on_node(auth.client_certificate.as_deref());
        if let Some(bytes) = crate::cluster::kubeconfig_credential(
            auth.client_certificate_data.as_deref(),
            file.as_deref(),
            base,
        ) {
            let place = embedded(&place, "user", &user.name);
            items.extend(credential_items(bytes, &location, &place, request));
        }
    }
    for cluster in &config.clusters {
        let Some(details) = &cluster.cluster else {
            continue;
        };
        let location = format!("kubeconfig {} cluster {} CA", path.display(), cluster.name);
        let file = on_node(details.certificate_authority.as_deref());
        if let Some(bytes) = crate::cluster::kubeconfig_credential(
            details.certificate_authority_data.as_deref(),
            file.as_deref(),
            base,
        ) {
            let place = embedded(&place, "cluster", &cluster.name);
            items.extend(credential_items(bytes, &location, &place, request));
        }
    }
    items
}

/// The CA rancher-system-agent trusts Rancher with, from its connection info: a JSON file
/// whose `kubeConfig` is a kubeconfig as text. It follows `stv-aggregation` (see `rcert
/// rotate status`); an unreadable file is an item, never a silent skip.
fn connection_info_items(path: &Path, request: &ExpiryRequest) -> Vec<Item> {
    let location = format!("system-agent {} CA", path.display());
    let place = embedded(&file_place(path), "cluster", "rancher");
    let unreadable = |why: String| {
        vec![Item::unreadable(
            location.clone(),
            Source::Node,
            place.clone(),
            why,
        )]
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => return unreadable(crate::x509::pem::describe_io_error(&err)),
    };
    let json: serde_json::Value = match serde_json::from_str(&text) {
        Ok(json) => json,
        Err(err) => return unreadable(format!("not JSON: {err}")),
    };
    let Some(kubeconfig) = json["kubeConfig"].as_str() else {
        return unreadable("no kubeConfig field".to_string());
    };
    let config = match kube::config::Kubeconfig::from_yaml(kubeconfig) {
        Ok(config) => config,
        Err(err) => return unreadable(format!("its kubeConfig does not parse: {err}")),
    };
    let mut items = Vec::new();
    for cluster in config
        .clusters
        .iter()
        .filter_map(|named| named.cluster.as_ref())
    {
        if let Some(bytes) = crate::cluster::kubeconfig_credential(
            cluster.certificate_authority_data.as_deref(),
            None,
            Path::new("/"),
        ) {
            let mut found = credential_items(bytes, &location, &place, request);
            for item in &mut found {
                item.rancher_server.clone_from(&cluster.server);
            }
            items.extend(found);
        }
    }
    for item in &mut items {
        item.source = Source::Node;
        item.fix = (item.status != super::ItemStatus::Ok).then(|| {
            Fix::command(Cause::CacertsMismatch, ["kubectl", "-n", "cattle-system", "rollout", "restart", "deploy/cattle-cluster-agent"]).note("rancher-system-agent's copy of Rancher's CA: it follows secret cattle-system/stv-aggregation of this cluster when the system-agent-upgrader plan runs; after a CA change restart cattle-cluster-agent there, then check rcert rotate status")
        });
    }
    if items.is_empty() {
        return unreadable("its kubeConfig holds no certificate-authority-data".to_string());
    }
    items
}

/// The place of a certificate inside a kubeconfig (x509-certificate-exporter's
/// `embedded_kind` / `embedded_key` labels).
fn embedded(place: &Place, kind: &str, name: &str) -> Place {
    Place {
        embedded_kind: Some(kind.to_string()),
        embedded_key: Some(name.to_string()),
        ..place.clone()
    }
}

fn credential_items(
    bytes: Result<Vec<u8>, CredentialError>,
    location: &str,
    place: &Place,
    request: &ExpiryRequest,
) -> Vec<Item> {
    match bytes {
        Ok(bytes) => blob_items(
            location,
            &bytes,
            location,
            Source::Kubeconfig,
            place,
            request,
            true,
        ),
        Err(error) => vec![Item::unreadable(
            location.to_string(),
            Source::Kubeconfig,
            place.clone(),
            error.to_string(),
        )],
    }
}
