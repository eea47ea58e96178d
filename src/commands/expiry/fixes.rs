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

use crate::check::{Cause, Fix};

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

/// The fix for a certificate file of a k3s, RKE2 or RKE1 node, or None for another file:
/// the command to run when one does it (the unit is read from the path), words when it
/// needs a choice (a new CA's directory) or nothing is to be done yet. `days_left`: a
/// leaf further than 120 days from expiry is not renewed by a restart yet.
pub(super) fn node_fix(
    path: &str,
    is_ca: bool,
    days_left: Option<i64>,
    cause: Cause,
) -> Option<Fix> {
    if path.contains("/etc/kubernetes/ssl/") {
        let rotate = ["rke", "cert", "rotate", "--config", "cluster.yml"];
        return Some(if is_ca {
            Fix::command(cause, rotate.into_iter().chain(["--rotate-ca"])).note(
                "RKE1 CA: every component certificate is reissued; restarts the cluster's components",
            )
        } else {
            Fix::command(cause, rotate).note("RKE1: add --service NAME to rotate one component's")
        });
    }
    let (name, base) = distribution(path)?;
    let unit = unit(name, base, path);
    let server = !unit.ends_with("-agent");
    if is_ca {
        let on = if server { "" } else { "on a server node: " };
        return Some(Fix::words(cause, format!(
            "a CA certificate is never renewed by a restart: {on}{name} certificate rotate-ca --path=DIR_WITH_NEW_CA (see the {name} docs on CA rotation), then restart every node"
        )));
    }
    if days_left.is_some_and(|days| days > 120) {
        return Some(Fix::words(cause, format!(
            "nothing to do yet: {unit} renews it at its next start once it is within 120 days of expiry (90 days before v1.33.1/v1.32.5/v1.31.9/v1.30.13)"
        )));
    }
    let window = "at start it renews certificates that are expired or within 120 days of expiry — 90 days before v1.33.1/v1.32.5/v1.31.9/v1.30.13";
    let restart = Fix::command(cause, ["systemctl", "restart", unit.as_str()]);
    Some(if server {
        restart.note(format!("{window}; or by hand: systemctl stop {unit} && {name} certificate rotate [--service NAME] && systemctl start {unit}"))
    } else {
        // An agent has no `certificate rotate`: its certificates follow from a restart.
        restart.note(window)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_and_distribution_from_the_path() {
        let server = "/var/lib/rancher/k3s/server/tls/serving-kube-apiserver.crt";
        let fix = node_fix(server, false, Some(30), Cause::ExpiresSoon)
            .unwrap()
            .line();
        assert!(
            fix.starts_with("systemctl restart k3s   # at start"),
            "{fix}"
        );
        assert!(fix.contains("k3s certificate rotate"), "{fix}");
        let agent = "/nonexistent/var/lib/rancher/rke2/agent/client-kubelet.crt";
        let fix = node_fix(agent, false, Some(30), Cause::ExpiresSoon)
            .unwrap()
            .line();
        assert!(
            fix.starts_with("systemctl restart rke2-agent   # at start"),
            "{fix}"
        );
        assert!(
            !fix.contains("certificate rotate"),
            "an agent cannot rotate: {fix}"
        );
        let later = node_fix(server, false, Some(300), Cause::ExpiresSoon)
            .unwrap()
            .line();
        assert!(
            later.starts_with("nothing to do yet: k3s renews it"),
            "{later}"
        );
        let ca = node_fix(
            "/var/lib/rancher/rke2/server/tls/server-ca.crt",
            true,
            None,
            Cause::Expired,
        )
        .unwrap()
        .line();
        assert!(ca.contains("rke2 certificate rotate-ca"), "{ca}");
        let agent_ca = node_fix(
            "/nonexistent/var/lib/rancher/rke2/agent/server-ca.crt",
            true,
            None,
            Cause::Expired,
        );
        assert!(agent_ca
            .unwrap()
            .line()
            .contains("on a server node: rke2 certificate rotate-ca"));
        let rke1 = node_fix(
            "/etc/kubernetes/ssl/kube-apiserver.pem",
            false,
            None,
            Cause::Expired,
        )
        .unwrap();
        assert_eq!(
            rke1.commands,
            vec![vec!["rke", "cert", "rotate", "--config", "cluster.yml"]]
        );
        assert_eq!(
            node_fix("/tmp/other.crt", false, None, Cause::Expired),
            None
        );
    }
}
