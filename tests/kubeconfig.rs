//! `rcert kubeconfig check` against loopback TLS servers (openssl s_server) and kubeconfigs
//! with embedded client certificates and CA data, as Rancher, RKE2 and k3s write them.

mod common;

use common::servers::{free_port, leaf_server};
use common::*;

/// A kubeconfig with one context per (name, server, CA file, client certificate file).
fn kubeconfig(dir: &std::path::Path, contexts: &[(&str, &str, &str, &str)]) -> String {
    let data = |name: &str| base64(&std::fs::read(fixtures().join(name)).unwrap());
    let mut text = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for (name, server, ca, _) in contexts {
        text += &format!(
            "- name: {name}\n  cluster:\n    server: https://{server}\n    certificate-authority-data: {}\n",
            data(ca)
        );
    }
    text += "users:\n";
    for (name, _, _, client) in contexts {
        text += &format!(
            "- name: {name}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
            data(client),
            data("leaf.key")
        );
    }
    text += "contexts:\n";
    for (name, ..) in contexts {
        text += &format!("- name: {name}\n  context: {{cluster: {name}, user: {name}}}\n");
    }
    text += &format!("current-context: {}\n", contexts[0].0);
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn context<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["contexts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["context"] == name)
        .unwrap_or_else(|| panic!("no context {name}: {json:#}"))
}

fn check<'a>(context: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    context["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {context:#}"))
}

#[test]
fn every_context_is_judged_and_named() {
    // The server serves leaf + intermediate for 127.0.0.1 (an IP SAN of the leaf).
    let (_server, address) = leaf_server(&[]);
    let dead = format!("127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(
        dir.path(),
        &[
            ("good", &address, "root.pem", "direct-leaf.pem"),
            ("ca-changed", &address, "other-root.pem", "direct-leaf.pem"),
            ("expired-client", &address, "root.pem", "expired.pem"),
            ("gone", &dead, "root.pem", "direct-leaf.pem"),
        ],
    );
    let (code, json) = run_json(&[
        "kubeconfig",
        "check",
        "--kubeconfig",
        &config,
        "--all-contexts",
        "--timeout",
        "2s",
    ]);
    assert_eq!(code, 1, "{json:#}");
    let good = context(&json, "good");
    assert_eq!(good["status"], "ok", "{good:#}");
    assert_eq!(check(good, "chain")["status"], "ok");
    let changed = context(&json, "ca-changed");
    let chain = check(changed, "chain");
    assert_eq!(chain["status"], "failed");
    assert!(
        chain["message"]
            .as_str()
            .unwrap()
            .contains("the kubeconfig's CA no longer matches"),
        "{chain:#}"
    );
    let client = check(context(&json, "expired-client"), "client_cert");
    assert_eq!(client["status"], "failed");
    assert!(
        client["message"].as_str().unwrap().contains("expired on"),
        "{client:#}"
    );
    let gone = context(&json, "gone");
    assert_eq!(gone["unreachable"], true);
    assert_eq!(check(gone, "reachable")["status"], "failed");

    // The current context alone, all good: exit 0; an unreachable one alone: exit 3.
    let (code, json) = run_json(&["kubeconfig", "check", "--kubeconfig", &config]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["contexts"].as_array().unwrap().len(), 1);
    let (code, _) = run_json(&[
        "kubeconfig",
        "check",
        "--kubeconfig",
        &config,
        "--context",
        "gone",
        "--timeout",
        "1s",
    ]);
    assert_eq!(code, 3);
    let (code, _, stderr) = run(&[
        "kubeconfig",
        "check",
        "--kubeconfig",
        &config,
        "--context",
        "nope",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("context 'nope' is not in the kubeconfig"),
        "{stderr}"
    );
}

#[test]
fn context_and_all_contexts_exclude_each_other() {
    for command in [&["kubeconfig", "check"][..], &["expiry"][..]] {
        let args = [command, &["--context", "a", "--all-contexts"]].concat();
        let (code, _, stderr) = run(&args);
        assert_eq!(code, 2, "{args:?}");
        assert!(stderr.contains("cannot be used with"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_context_without_a_cluster_is_malformed_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\nclusters: []\nusers:\n- name: u\n  user: {token: t}\n\
         contexts:\n- name: orphan\n  context: {cluster: gone, user: u}\ncurrent-context: orphan\n",
    )
    .unwrap();
    let (code, json) = run_json(&[
        "kubeconfig",
        "check",
        "--kubeconfig",
        &path.display().to_string(),
    ]);
    assert_eq!(code, 2, "{json:#}");
    let entry = check(context(&json, "orphan"), "kubeconfig");
    assert_eq!(entry["status"], "failed");
    assert_eq!(
        entry["message"],
        "context 'orphan' names no cluster with a server URL: fix the kubeconfig (kubectl config view)"
    );
}

#[test]
fn rancher_urls_with_a_path_and_kubectl_proxy_are_read() {
    let (_server, address) = leaf_server(&[]);
    let dir = tempfile::tempdir().unwrap();
    let data = |name: &str| base64(&std::fs::read(fixtures().join(name)).unwrap());
    let mut text = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for (name, server, ca) in [
        (
            "rancher",
            format!("https://{address}/k8s/clusters/c-m-abc"),
            data("root.pem"),
        ),
        (
            "proxy",
            "http://127.0.0.1:8001".to_string(),
            data("root.pem"),
        ),
        (
            "garbage-ca",
            format!("https://{address}"),
            base64(b"not a certificate"),
        ),
    ] {
        text += &format!("- name: {name}\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\n");
    }
    text += "users:\n- name: u\n  user:\n    token: abc\ncontexts:\n";
    for name in ["rancher", "proxy", "garbage-ca"] {
        text += &format!("- name: {name}\n  context: {{cluster: {name}, user: u}}\n");
    }
    text += "current-context: rancher\n";
    let config = dir.path().join("kubeconfig");
    std::fs::write(&config, text).unwrap();
    let (code, json) = run_json(&[
        "kubeconfig",
        "check",
        "--kubeconfig",
        &config.display().to_string(),
        "--all-contexts",
        "--timeout",
        "2s",
    ]);
    assert_eq!(code, 1, "{json:#}");
    let rancher = context(&json, "rancher");
    assert_eq!(check(rancher, "reachable")["status"], "ok", "{rancher:#}");
    assert_eq!(check(rancher, "chain")["status"], "ok", "{rancher:#}");
    // Nothing listens at 127.0.0.1:8001: a stopped kubectl proxy is not green.
    let proxy = context(&json, "proxy");
    assert_eq!(check(proxy, "reachable")["status"], "failed", "{proxy:#}");
    assert!(check(proxy, "reachable")["message"]
        .as_str()
        .unwrap()
        .contains("is kubectl proxy running?"));
    let garbage = context(&json, "garbage-ca");
    assert_eq!(check(garbage, "ca_data")["status"], "failed", "{garbage:#}");
    assert!(
        !check(garbage, "chain")["message"]
            .as_str()
            .unwrap()
            .contains("CA change"),
        "{garbage:#}"
    );
}
