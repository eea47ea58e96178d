//! expiry's file sources: a node's RKE2/k3s/RKE1 certificates and kubeconfigs under
//! `--root`, and every `--path` (files or directories, read recursively; kubeconfigs
//! recognised by their content).

use std::path::{Path, PathBuf};

use super::cluster::bundle_items;
use super::{ExpiryRequest, Item, Place, Source, SourceState};

/// Directories and files a node's distribution keeps its certificates in, under `--root`.
const NODE_DIRECTORIES: &[&str] = &[
    "var/lib/rancher/rke2/server/tls",
    "var/lib/rancher/k3s/server/tls",
];
const NODE_AGENT_DIRECTORIES: &[&str] =
    &["var/lib/rancher/rke2/agent", "var/lib/rancher/k3s/agent"];
const NODE_KUBECONFIGS: &[&str] = &["etc/rancher/rke2/rke2.yaml", "etc/rancher/k3s/k3s.yaml"];
const RKE1_DIRECTORY: &str = "etc/kubernetes/ssl";

/// Bounds for a walk: deep trees and huge files are not certificate stores.
const MAX_DEPTH: usize = 12;
const MAX_FILE_BYTES: u64 = 1024 * 1024;

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
            walk(path, 0, &mut |file| {
                items.extend(file_items(file, Source::File, request, true))
            });
        }
        states.push(SourceState {
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
            walk(&dir, 0, &mut |file| {
                if is_certificate_name(file) {
                    items.extend(file_items(file, Source::Node, request, false));
                }
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
            items.extend(file_items(&file, Source::Node, request, false));
        }
    }
    for kubeconfig in NODE_KUBECONFIGS {
        let path = root.join(kubeconfig);
        if path.is_file() {
            found.push(path.display().to_string());
            items.extend(kubeconfig_items(&path, request));
        }
    }
    let rke1 = root.join(RKE1_DIRECTORY);
    if rke1.is_dir() {
        found.push(rke1.display().to_string());
        walk(&rke1, 0, &mut |file| {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if name.ends_with(".pem") && !name.ends_with("-key.pem") {
                items.extend(file_items(file, Source::Node, request, false));
            }
        });
    }
    let state = if found.is_empty() {
        SourceState {
            source: format!("node {}", root.display()),
            state: "unavailable".to_string(),
            message: "no RKE2, k3s or RKE1 certificate directory here: skipped".to_string(),
        }
    } else {
        SourceState {
            source: format!("node {}", root.display()),
            state: "read".to_string(),
            message: format!("{} item(s) from {}", items.len(), found.join(", ")),
        }
    };
    (items, state)
}

/// `*.crt` and `*.pem` that are not keys.
fn is_certificate_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    (name.ends_with(".crt") || name.ends_with(".pem")) && !name.contains("key")
}

/// Visit every regular file under `path` (or `path` itself), sorted, bounded in depth;
/// symlinked directories are not followed.
fn walk(path: &Path, depth: usize, visit: &mut dyn FnMut(&Path)) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_file() || (meta.file_type().is_symlink() && path.is_file()) {
        visit(path);
        return;
    }
    if !meta.is_dir() || depth >= MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    let mut children: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    children.sort();
    for child in children {
        walk(&child, depth + 1, visit);
    }
}

fn file_place(path: &Path) -> Place {
    Place {
        filepath: Some(path.display().to_string()),
        ..Place::default()
    }
}

/// The certificates of one file. Under `--path` every file is looked at: kubeconfigs are
/// recognised by content, files without a certificate are passed over silently unless
/// they look like certificate files (`.crt`, `.pem`, `.cer`).
fn file_items(path: &Path, source: Source, request: &ExpiryRequest, any_file: bool) -> Vec<Item> {
    let location = format!("file {}", path.display());
    let place = file_place(path);
    let too_big = std::fs::metadata(path).is_ok_and(|meta| meta.len() > MAX_FILE_BYTES);
    if too_big {
        return Vec::new();
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) => {
            return vec![Item::unreadable(
                location,
                source,
                place,
                crate::x509::pem::describe_io_error(&err),
            )]
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    if any_file && text.contains("clusters:") && text.contains("kind: Config") {
        return kubeconfig_items(path, request);
    }
    let looks_like_certificate =
        is_certificate_name(path) || path.extension().is_some_and(|ext| ext == "cer");
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        if looks_like_certificate && !any_file {
            return vec![Item::unreadable(
                location,
                source,
                place,
                "holds no PEM certificate".to_string(),
            )];
        }
        return Vec::new();
    }
    bundle_items(
        &path.display().to_string(),
        &bytes,
        &location,
        source,
        &place,
        request,
    )
}

/// A kubeconfig's client certificates and CA certificates (from `*-data` fields or files).
fn kubeconfig_items(path: &Path, request: &ExpiryRequest) -> Vec<Item> {
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
    let mut items = Vec::new();
    for user in &config.auth_infos {
        let Some(auth) = &user.auth_info else {
            continue;
        };
        let location = format!("kubeconfig {} user {}", path.display(), user.name);
        if let Some(bytes) = crate::cluster::kubeconfig_credential(
            auth.client_certificate_data.as_deref(),
            auth.client_certificate.as_deref(),
            base,
        ) {
            items.extend(credential_items(bytes, &location, &place, request));
        }
    }
    for cluster in &config.clusters {
        let Some(details) = &cluster.cluster else {
            continue;
        };
        let location = format!("kubeconfig {} cluster {} CA", path.display(), cluster.name);
        if let Some(bytes) = crate::cluster::kubeconfig_credential(
            details.certificate_authority_data.as_deref(),
            details.certificate_authority.as_deref(),
            base,
        ) {
            items.extend(credential_items(bytes, &location, &place, request));
        }
    }
    items
}

fn credential_items(
    bytes: Result<Vec<u8>, String>,
    location: &str,
    place: &Place,
    request: &ExpiryRequest,
) -> Vec<Item> {
    match bytes {
        Ok(bytes) => bundle_items(
            location,
            &bytes,
            location,
            Source::Kubeconfig,
            place,
            request,
        ),
        Err(error) => vec![Item::unreadable(
            location.to_string(),
            Source::Kubeconfig,
            place.clone(),
            error,
        )],
    }
}
