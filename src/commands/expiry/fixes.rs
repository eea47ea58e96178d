//! The exact fix for a node's certificate, per distribution and role (k3s and RKE2 docs
//! and code; RKE1's `rke cert`).
//!
//! - Units: `k3s` / `k3s-agent`, `rke2-server` / `rke2-agent`; a `server/` directory
//!   beside `agent/` makes the node a server.
//! - Leaf certificates (365 days) are renewed when the service starts and they are
//!   expired or within 120 days of expiry — 90 days before v1.33.1, v1.32.5, v1.31.9 and
//!   v1.30.13 (k3s PR #12232); by hand: stop, `certificate rotate [--service NAME]`, start.
//! - CA certificates (`server-ca`, `client-ca`, `request-header-ca`, `etcd/server-ca`,
//!   `etcd/peer-ca`; 10 years) are never renewed by a restart: `certificate rotate-ca`.
//! - RKE1 (`/etc/kubernetes/ssl/*.pem`): `rke cert rotate [--service NAME] [--rotate-ca]`.

use std::path::Path;

/// The distribution directory a node file lives under, and its name (`k3s` or `rke2`).
fn distribution(path: &str) -> Option<(&'static str, &str)> {
    for name in ["k3s", "rke2"] {
        let marker = format!("/rancher/{name}/");
        if let Some(at) = path.find(&marker) {
            return Some((name, &path[..at + marker.len()]));
        }
    }
    None
}

/// The systemd unit of the node: a server when the tree has a `server/` directory.
fn unit(name: &str, base: &str, path: &str) -> String {
    let server = path.contains("/server/") || Path::new(base).join("server").is_dir();
    match (name, server) {
        ("k3s", true) => "k3s".to_string(),
        ("k3s", false) => "k3s-agent".to_string(),
        (_, true) => "rke2-server".to_string(),
        (_, false) => "rke2-agent".to_string(),
    }
}

/// The fix for a certificate file of a k3s, RKE2 or RKE1 node, or None for another file.
pub(super) fn node_fix(path: &str, is_ca: bool) -> Option<String> {
    if path.contains("/etc/kubernetes/ssl/") {
        return Some(if is_ca {
            "RKE1 CA: rke cert rotate --config cluster.yml --rotate-ca (every component certificate is reissued; restarts the cluster's components)".to_string()
        } else {
            "RKE1: rke cert rotate --config cluster.yml [--service NAME]".to_string()
        });
    }
    let (name, base) = distribution(path)?;
    let unit = unit(name, base, path);
    if is_ca {
        return Some(format!(
            "a CA certificate (10 years) is never renewed by a restart: {name} certificate rotate-ca --path=DIR_WITH_NEW_CA (see the {name} docs on CA rotation), then restart every node"
        ));
    }
    Some(format!(
        "systemctl restart {unit} (at start it renews certificates that are expired or within 120 days of expiry — 90 days before v1.33.1/v1.32.5/v1.31.9/v1.30.13); or by hand: systemctl stop {unit} && {name} certificate rotate [--service NAME] && systemctl start {unit}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_and_distribution_from_the_path() {
        let fix = node_fix(
            "/var/lib/rancher/k3s/server/tls/serving-kube-apiserver.crt",
            false,
        )
        .unwrap();
        assert!(fix.starts_with("systemctl restart k3s (at start"), "{fix}");
        let fix = node_fix(
            "/nonexistent/var/lib/rancher/rke2/agent/client-kubelet.crt",
            false,
        )
        .unwrap();
        assert!(
            fix.contains("systemctl stop rke2-agent && rke2 certificate rotate"),
            "{fix}"
        );
        let fix = node_fix("/var/lib/rancher/rke2/server/tls/server-ca.crt", true).unwrap();
        assert!(fix.contains("rke2 certificate rotate-ca"), "{fix}");
        assert!(node_fix("/etc/kubernetes/ssl/kube-apiserver.pem", false)
            .unwrap()
            .starts_with("RKE1: rke cert rotate"));
        assert_eq!(node_fix("/tmp/other.crt", false), None);
    }
}
