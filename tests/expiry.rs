//! `rcert expiry` end to end: secrets and cert-manager Certificates in the Kubernetes API
//! emulator, node trees laid out like RKE2's, k3s's and RKE1's under a temporary --root,
//! kubeconfigs with embedded client certificates, a loopback TLS endpoint; every date
//! compared with `openssl x509 -enddate`.

mod common;

use std::path::Path;

use common::emulator::Emulator;
use common::servers::{free_port, leaf_server};
use common::*;

fn expiry(args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = vec!["expiry"];
    all.extend(args);
    run_json(&all)
}

fn items(json: &serde_json::Value) -> &Vec<serde_json::Value> {
    json["items"].as_array().expect("items")
}

fn item<'a>(json: &'a serde_json::Value, location: &str) -> &'a serde_json::Value {
    items(json)
        .iter()
        .find(|item| item["location"] == location)
        .unwrap_or_else(|| panic!("no item {location} in {json:#}"))
}

/// unix seconds of an item's not_after, as rcert printed it.
fn not_after_unix(item: &serde_json::Value) -> i64 {
    let text = item["not_after"].as_str().expect("not_after");
    let output = std::process::Command::new("date")
        .args(["-u", "-d", text, "+%s"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap()
}

fn copy(name: &str, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(fixtures().join(name), to).unwrap();
}

/// A node tree like RKE2's (server/tls with an etcd subdirectory, agent, rke2.yaml) and
/// RKE1's (etc/kubernetes/ssl with keys beside the certificates).
fn rke2_node() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let tls = root.path().join("var/lib/rancher/rke2/server/tls");
    copy("leaf.pem", &tls.join("serving-kube-apiserver.crt"));
    copy("leaf.key", &tls.join("serving-kube-apiserver.key"));
    copy("root.pem", &tls.join("server-ca.crt"));
    copy("expired.pem", &tls.join("etcd/server-client.crt"));
    copy(
        "inter.pem",
        &root
            .path()
            .join("var/lib/rancher/rke2/agent/client-kubelet.crt"),
    );
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: default\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: {}\nusers:\n- name: default\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: default\n  context: {{cluster: default, user: default}}\ncurrent-context: default\n",
        base64(&std::fs::read(fixtures().join("root.pem")).unwrap()),
        base64(&std::fs::read(fixtures().join("not-yet-valid.pem")).unwrap()),
        base64(&std::fs::read(fixtures().join("leaf.key")).unwrap()),
    );
    let path = root.path().join("etc/rancher/rke2/rke2.yaml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, kubeconfig).unwrap();
    let ssl = root.path().join("etc/kubernetes/ssl");
    copy("direct-leaf.pem", &ssl.join("kube-apiserver.pem"));
    copy("leaf.key", &ssl.join("kube-apiserver-key.pem"));
    root
}

#[test]
fn node_files_and_kubeconfigs_with_dates_equal_to_openssl() {
    let node = rke2_node();
    let root = node.path().display().to_string();
    let (code, json) = expiry(&["--no-cluster", "--root", &root]);
    assert_eq!(code, 1, "an expired certificate: {json:#}");
    let tls = node.path().join("var/lib/rancher/rke2/server/tls");
    for (file, status) in [
        ("serving-kube-apiserver.crt", "ok"),
        ("server-ca.crt", "ok"),
        ("etcd/server-client.crt", "expired"),
    ] {
        let path = tls.join(file).display().to_string();
        let found = item(&json, &format!("file {path}"));
        assert_eq!(found["status"], status, "{found:#}");
        assert_eq!(found["source"], "node");
        assert_eq!(found["filepath"], path);
        assert_eq!(not_after_unix(found), openssl_enddate(&path), "{file}");
    }
    let expired = item(
        &json,
        &format!("file {}", tls.join("etcd/server-client.crt").display()),
    );
    assert!(
        common::fix_line(&expired["fix"]).contains("rke2 certificate rotate"),
        "{expired:#}"
    );
    // The restart that renews it is a command to run, not words.
    assert_eq!(
        expired["fix"]["commands"],
        serde_json::json!([["systemctl", "restart", "rke2-server"]]),
        "{expired:#}"
    );
    let agent = node
        .path()
        .join("var/lib/rancher/rke2/agent/client-kubelet.crt");
    assert_eq!(
        item(&json, &format!("file {}", agent.display()))["status"],
        "ok"
    );
    let kubeconfig = node
        .path()
        .join("etc/rancher/rke2/rke2.yaml")
        .display()
        .to_string();
    let client = item(&json, &format!("kubeconfig {kubeconfig} user default"));
    assert_eq!(client["source"], "kubeconfig");
    assert_eq!(client["status"], "not_yet_valid", "{client:#}");
    assert!(
        client["error"]
            .as_str()
            .unwrap()
            .starts_with("not valid before "),
        "{client:#}"
    );
    // Its fix is about the clock, not about renewing before an expiry.
    assert_eq!(
        common::fix_line(&client["fix"]),
        "timedatectl   # its notBefore is in the future: check the clocks of the machine that issued it and of this one; reissue it if the issuer's clock was wrong",
        "{client:#}"
    );
    assert_eq!(
        not_after_unix(client),
        openssl_enddate(&fixture("not-yet-valid.pem"))
    );
    assert_eq!(
        item(
            &json,
            &format!("kubeconfig {kubeconfig} cluster default CA")
        )["status"],
        "ok"
    );
    let rke1 = node.path().join("etc/kubernetes/ssl/kube-apiserver.pem");
    assert_eq!(
        item(&json, &format!("file {}", rke1.display()))["status"],
        "ok"
    );
    assert!(
        !json.to_string().contains("kube-apiserver-key.pem"),
        "keys are not certificates"
    );
    // Soonest first: the expired ones lead.
    assert_eq!(items(&json)[0]["status"], "expired");
    assert_eq!(json["summary"]["expired"], 1);
    assert_eq!(json["summary"]["not_yet_valid"], 1);
    assert_eq!(json["summary"]["unreadable"], 0);
}

#[test]
fn secrets_in_every_namespace_and_cert_manager_certificates() {
    let emulator = Emulator::start();
    let pem = |name: &str| base64(&std::fs::read(fixtures().join(name)).unwrap());
    let secret = |namespace: &str, name: &str, kind: &str, data: serde_json::Value| {
        serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": kind,
            "metadata": {"namespace": namespace, "name": name}, "data": data})
    };
    emulator.seed(
        "v1/secrets",
        &[
            secret("cattle-system", "tls-rancher-ingress", "kubernetes.io/tls",
                serde_json::json!({"tls.crt": pem("fullchain.pem"), "tls.key": pem("leaf.key")})),
            secret("cattle-system", "tls-ca", "Opaque",
                serde_json::json!({"cacerts.pem": pem("root.pem")})),
            secret("cattle-system", "cattle-webhook-tls", "kubernetes.io/tls",
                serde_json::json!({"tls.crt": pem("expired.pem"), "tls.key": pem("leaf.key")})),
            secret("apps", "broken-tls", "kubernetes.io/tls",
                serde_json::json!({"tls.crt": base64(b"not a certificate"), "tls.key": pem("leaf.key")})),
            secret("apps", "garbage-pem", "Opaque",
                serde_json::json!({"ca.crt": pem("truncated.pem")})),
            secret("apps", "password", "Opaque", serde_json::json!({"password": base64(b"hunter2")})),
        ],
    );
    emulator.register(
        "cert-manager.io/v1/certificates",
        "Certificate",
        "certificate",
    );
    emulator.seed(
        "cert-manager.io/v1/certificates",
        &[serde_json::json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"namespace": "apps", "name": "web"},
            "spec": {"secretName": "web-tls"},
            "status": {"notAfter": "2020-01-01T00:00:00Z", "renewalTime": "2019-12-01T00:00:00Z",
                "conditions": [{"type": "Ready", "status": "False", "message": "issuer not ready"}]}})],
    );
    let (code, json) = expiry(&["--kubeconfig", &emulator.kubeconfig(), "--no-node"]);
    assert_eq!(code, 1, "{json:#}");
    let ingress = item(&json, "secret cattle-system/tls-rancher-ingress tls.crt#1");
    assert_eq!(ingress["status"], "ok");
    assert_eq!(ingress["secret_namespace"], "cattle-system");
    assert_eq!(ingress["secret_key"], "tls.crt");
    assert_eq!(
        not_after_unix(ingress),
        openssl_enddate(&fixture("leaf.pem"))
    );
    let chain_ca = item(&json, "secret cattle-system/tls-rancher-ingress tls.crt#2");
    assert_eq!(
        not_after_unix(chain_ca),
        openssl_enddate(&fixture("inter.pem"))
    );
    assert_eq!(
        item(&json, "secret cattle-system/tls-ca cacerts.pem")["status"],
        "ok"
    );
    let webhook = item(&json, "secret cattle-system/cattle-webhook-tls tls.crt");
    assert_eq!(webhook["status"], "expired");
    assert!(
        common::fix_line(&webhook["fix"]).contains("delete secret cattle-webhook-tls"),
        "{webhook:#}"
    );
    let broken = item(&json, "secret apps/broken-tls tls.crt");
    assert_eq!(broken["status"], "unreadable");
    let garbage = item(&json, "secret apps/garbage-pem ca.crt");
    assert_eq!(garbage["status"], "unreadable");
    assert!(
        garbage["error"].as_str().unwrap().contains("truncated"),
        "{garbage:#}"
    );
    assert!(!json.to_string().contains("apps/password"));
    let managed = item(&json, "certificate apps/web");
    assert_eq!(managed["source"], "cert_manager");
    assert_eq!(managed["status"], "expired");
    assert_eq!(managed["renewal_time"], "2019-12-01T00:00:00Z");
    assert_eq!(json["summary"]["unreadable"], 2);

    // One namespace only.
    let (_, json) = expiry(&[
        "--kubeconfig",
        &emulator.kubeconfig(),
        "--no-node",
        "-n",
        "apps",
    ]);
    assert!(items(&json)
        .iter()
        .all(|item| item["location"].as_str().unwrap().contains("apps/")));

    // Prometheus: x509-certificate-exporter's names; every line parses; values as openssl says.
    let (code, text, _) = run(&[
        "expiry",
        "--kubeconfig",
        &emulator.kubeconfig(),
        "--no-node",
        "-o",
        "prometheus",
    ]);
    assert_eq!(code, 1);
    let line = regex::Regex::new(
        r#"^((?:x509|rcert)_[a-z_]+)(\{([a-zA-Z_]+="([^"\\]|\\.)*",?)*\})? (-?[0-9]+)$"#,
    )
    .unwrap();
    for text_line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            line.is_match(text_line),
            "not exposition format: {text_line}"
        );
    }
    let expected = "x509_cert_not_after{index=\"1\",issuer_CN=\"rcert Test Intermediate CA\",secret_key=\"tls.crt\",secret_name=\"tls-rancher-ingress\",secret_namespace=\"cattle-system\",";
    let ingress_line = text
        .lines()
        .find(|l| l.starts_with(expected))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(ingress_line.ends_with(&format!(" {}", openssl_enddate(&fixture("leaf.pem")))));
    assert!(text.contains("\nx509_read_errors 2\n"), "{text}");
    assert!(
        text.contains("x509_cert_expired{") && text.contains("subject_CN=\"rancher.example.com\"")
    );
}

#[test]
fn all_contexts_label_items_and_report_the_unreachable_one() {
    let emulator = Emulator::start();
    emulator.seed(
        "v1/secrets",
        &[common::emulator::secret_json(
            "cattle-system",
            "tls-ca",
            "Opaque",
            &[("cacerts.pem", fixture_bytes("root.pem"))],
        )],
    );
    let dead = format!("http://127.0.0.1:{}", free_port());
    let kubeconfig = emulator.write_kubeconfig(
        "two",
        &[
            ("downstream", emulator.url.as_str()),
            ("gone", dead.as_str()),
        ],
        "gone",
    );
    let (code, json) = expiry(&[
        "--kubeconfig",
        &kubeconfig,
        "--all-contexts",
        "--no-node",
        "--timeout",
        "2s",
    ]);
    assert_eq!(
        code, 3,
        "nothing expiring, one context unreachable: {json:#}"
    );
    let found = item(&json, "downstream: secret cattle-system/tls-ca cacerts.pem");
    assert_eq!(found["context"], "downstream");
    let sources = json["summary"]["sources"].as_array().unwrap();
    assert!(sources
        .iter()
        .any(|s| s["source"] == "cluster gone" && s["state"] == "unreachable"));
    assert!(sources
        .iter()
        .any(|s| s["source"] == "cluster downstream" && s["state"] == "read"));
}

#[test]
fn an_endpoint_chain_is_listed_one_item_per_certificate() {
    let (_server, address) = leaf_server(&[]);
    let (code, json) = expiry(&["--no-cluster", "--no-node", "--target", &address]);
    assert_eq!(code, 0, "{json:#}");
    let leaf = item(&json, &format!("endpoint {address}#1"));
    assert_eq!(not_after_unix(leaf), openssl_enddate(&fixture("leaf.pem")));
    assert_eq!(
        item(&json, &format!("endpoint {address}#2"))["source"],
        "endpoint"
    );
    // Unreachable alone is exit 3.
    let dead = format!("127.0.0.1:{}", free_port());
    let (code, json) = expiry(&[
        "--no-cluster",
        "--no-node",
        "--target",
        &dead,
        "--timeout",
        "1s",
    ]);
    assert_eq!(code, 3, "{json:#}");
}

#[test]
fn paths_exit_codes_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    copy("leaf.pem", &dir.path().join("a/leaf.pem"));
    let path = dir.path().display().to_string();
    let (code, json) = expiry(&[
        "--no-cluster",
        "--no-node",
        "--path",
        &path,
        "--within",
        "1d",
    ]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["summary"]["ok"], 1);
    let (code, json) = expiry(&[
        "--no-cluster",
        "--no-node",
        "--path",
        &path,
        "--within",
        "3000d",
    ]);
    assert_eq!(code, 1, "expiring within 3000 days: {json:#}");
    assert_eq!(json["items"][0]["status"], "expiring");
    let (code, _, stderr) = run(&["expiry", "--no-cluster", "--within", "soon"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr.lines().next().unwrap_or_default(),
        "error: invalid value 'soon' for '--within <DUR>': expected a duration such as 30d, 2w or 720h"
    );
    let (code, _, stderr) = run(&[
        "expiry",
        "--kubeconfig",
        "/nonexistent/kubeconfig",
        "--no-node",
    ]);
    assert_eq!(code, 2, "an explicit kubeconfig that cannot be used");
    assert!(stderr.contains("/nonexistent/kubeconfig"), "{stderr}");
    let (code, _, stderr) = run(&["verify", "-o", "prometheus", &fixture("leaf.pem")]);
    assert_eq!(code, 2);
    assert!(stderr.contains("only for rcert expiry"), "{stderr}");
    // No kubeconfig anywhere: the cluster part is unavailable, not an error.
    let empty_home = tempfile::tempdir().unwrap();
    let output = rcert()
        .env("HOME", empty_home.path())
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .args(["-o", "json", "expiry", "--no-node", "--path", &path])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["summary"]["sources"][0]["state"], "unavailable");
}

#[test]
fn webhook_and_apiservice_ca_bundles_are_items() {
    let emulator = Emulator::start();
    let root = fixture_bytes("root.pem");
    emulator.seed(
        "admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
        &[serde_json::json!({"apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "rancher.cattle.io"},
            "webhooks": [{"name": "rancher.cattle.io.secrets", "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "clientConfig": {"service": {"name": "rancher-webhook", "namespace": "cattle-system"},
                    "caBundle": base64(&root)}}]})],
    );
    let (code, json) = expiry(&[
        "--kubeconfig",
        &emulator.kubeconfig(),
        "--no-node",
        "--within",
        "5000d",
    ]);
    assert_eq!(
        code, 1,
        "the 10-year test root expires within 5000 days: {json:#}"
    );
    let bundle = item(
        &json,
        "cabundle validatingwebhookconfiguration/rancher.cattle.io webhook rancher.cattle.io.secrets",
    );
    assert_eq!(bundle["source"], "ca_bundle");
    assert_eq!(bundle["status"], "expiring");
    assert_eq!(
        not_after_unix(bundle),
        openssl_enddate(&fixture("root.pem"))
    );
    assert!(
        common::fix_line(&bundle["fix"])
            .contains("delete secret cattle-webhook-ca cattle-webhook-tls"),
        "{bundle:#}"
    );
}

#[test]
fn the_system_agent_connection_info_ca_is_an_item() {
    let root = tempfile::tempdir().unwrap();
    let agent = root.path().join("var/lib/rancher/agent");
    std::fs::create_dir_all(&agent).unwrap();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: cluster\n  cluster:\n    server: https://rancher.example.com\n    certificate-authority-data: {}\n",
        base64(&fixture_bytes("root.pem"))
    );
    let info = serde_json::json!({"kubeConfig": kubeconfig, "namespace": "fleet-default", "secretName": "x"});
    let file = agent.join("rancher2_connection_info.json");
    std::fs::write(&file, info.to_string()).unwrap();
    let root_dir = root.path().display().to_string();
    let (code, json) = expiry(&[
        "--no-cluster",
        "--root",
        &root_dir,
        "--within",
        "1d",
        "--timeout",
        "2s",
    ]);
    // Its Rancher (rancher.example.com) cannot be reached here to compare /cacerts: exit 3,
    // said as a source, the item itself read.
    assert_eq!(code, 3, "{json:#}");
    let rancher = json["summary"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|source| source["source"] == "rancher https://rancher.example.com/cacerts")
        .unwrap_or_else(|| panic!("{json:#}"));
    assert_eq!(rancher["state"], "unreachable");
    let ca = item(&json, &format!("system-agent {} CA", file.display()));
    assert_eq!(ca["status"], "ok");
    assert_eq!(ca["source"], "node");
    assert_eq!(not_after_unix(ca), openssl_enddate(&fixture("root.pem")));
    std::fs::write(&file, "{not json").unwrap();
    let (code, json) = expiry(&["--no-cluster", "--root", &root_dir]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(
        item(&json, &format!("system-agent {} CA", file.display()))["status"],
        "unreadable"
    );
}

#[test]
fn k3s_and_rke2_certificate_events_on_nodes_are_items() {
    let emulator = Emulator::start();
    let event = |name: &str, reason: &str, message: &str| {
        serde_json::json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"namespace": "default", "name": name},
            "involvedObject": {"kind": "Node", "name": "node-1", "apiVersion": "v1"},
            "reason": reason, "message": message, "type": "Warning"})
    };
    emulator.seed(
        "v1/events",
        &[
            event("e1", "CertificateExpirationWarning", "Node certificates require attention - restart k3s on this node to trigger automatic rotation: agent/client-kubelet.crt: certificate will expire within 120 days"),
            event("e2", "CACertificateExpirationWarning", "server-ca.crt: certificate will expire within 365 days at 2020-01-01T00:00:00Z."),
            event("e3", "Pulled", "Successfully pulled image"),
        ],
    );
    let (code, json) = expiry(&["--kubeconfig", &emulator.kubeconfig(), "--no-node"]);
    assert_eq!(code, 1, "{json:#}");
    let leaf = item(&json, "event node/node-1 CertificateExpirationWarning");
    assert_eq!(leaf["status"], "expiring");
    assert!(
        leaf["error"]
            .as_str()
            .unwrap()
            .contains("client-kubelet.crt"),
        "{leaf:#}"
    );
    assert!(
        common::fix_line(&leaf["fix"]).contains("restart k3s or rke2 on node node-1"),
        "{leaf:#}"
    );
    let ca = item(&json, "event node/node-1 CACertificateExpirationWarning");
    assert!(common::fix_line(&ca["fix"]).contains("rotate-ca"), "{ca:#}");
    // The time the message names dates the item.
    assert_eq!(ca["status"], "expired", "{ca:#}");
    assert_eq!(ca["not_after"], "2020-01-01T00:00:00Z", "{ca:#}");
    assert!(!json.to_string().contains("Successfully pulled"));
}

#[test]
fn a_forbidden_list_is_an_unreadable_item_not_a_silent_skip() {
    let emulator = Emulator::start();
    emulator.fault("GET", "validatingwebhookconfigurations", 403);
    let (code, json) = expiry(&["--kubeconfig", &emulator.kubeconfig(), "--no-node"]);
    assert_eq!(code, 1, "{json:#}");
    let listed = item(&json, "cluster webhook configurations and APIServices");
    assert_eq!(listed["status"], "unreadable");
    assert!(
        listed["error"]
            .as_str()
            .unwrap()
            .starts_with("cannot list webhook configurations and APIServices"),
        "{listed:#}"
    );
    assert!(
        common::fix_line(&listed["fix"]).contains("deploy/base/rbac.yaml"),
        "{listed:#}"
    );
}

/// A node tree whose rancher-system-agent connection info trusts `ca` (a fixture) for the
/// Rancher at `server`.
fn system_agent_node(server: &str, ca: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let agent = root.path().join("var/lib/rancher/agent");
    std::fs::create_dir_all(&agent).unwrap();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: cluster\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\n",
        base64(&fixture_bytes(ca))
    );
    let info = serde_json::json!({"kubeConfig": kubeconfig, "namespace": "fleet-default", "secretName": "x"});
    std::fs::write(
        agent.join("rancher2_connection_info.json"),
        info.to_string(),
    )
    .unwrap();
    root
}

#[test]
fn a_node_whose_system_agent_ca_rancher_no_longer_serves_is_stale() {
    let port = free_port();
    let block = common::servers::tls_server_block(
        port,
        "_",
        "fullchain.pem",
        "leaf.key",
        &common::servers::rancher_locations("root.pem"),
    );
    let _nginx = common::servers::nginx(&format!("http {{\n{block}}}\n"), &[port]);
    let server = format!("https://127.0.0.1:{port}/k8s/clusters/c-m-abc");
    // The node trusts the CA Rancher serves: ok.
    let node = system_agent_node(&server, "root.pem");
    let (code, json) = expiry(&[
        "--no-cluster",
        "--root",
        &node.path().display().to_string(),
        "--within",
        "1d",
    ]);
    assert_eq!(code, 0, "{json:#}");
    // The node kept another CA (a CA change it missed): stale, with the fix.
    let node = system_agent_node(&server, "other-root.pem");
    let (code, json) = expiry(&[
        "--no-cluster",
        "--root",
        &node.path().display().to_string(),
        "--within",
        "1d",
    ]);
    assert_eq!(code, 1, "{json:#}");
    let stale = &json["items"][0];
    assert_eq!(stale["status"], "stale", "{json:#}");
    assert!(
        stale["error"]
            .as_str()
            .unwrap()
            .contains("Rancher no longer serves this CA"),
        "{stale:#}"
    );
    assert!(
        common::fix_line(&stale["fix"]).contains("rollout restart deploy/cattle-cluster-agent"),
        "{stale:#}"
    );
    assert_eq!(json["summary"]["stale"], 1);
}

#[test]
fn a_path_that_is_not_there_is_bad_input() {
    let (code, json) = run_json(&[
        "expiry",
        "--no-cluster",
        "--no-node",
        "--path",
        "/nonexistent/certs",
    ]);
    assert_eq!(code, 2, "{json:#}");
    assert_eq!(
        json["error"],
        "--path /nonexistent/certs: no such file or directory"
    );
}

#[test]
fn a_dangling_symlink_is_named_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::fixtures().join("leaf.pem"),
        dir.path().join("leaf.crt"),
    )
    .unwrap();
    std::os::unix::fs::symlink("/nonexistent/gone.crt", dir.path().join("gone.crt")).unwrap();
    let shown = dir.path().display().to_string();
    let (code, json) = run_json(&["expiry", "--no-cluster", "--no-node", "--path", &shown]);
    assert_eq!(code, 1, "an unreadable file fails the run: {json:#}");
    let gone = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["location"] == format!("file {shown}/gone.crt"))
        .unwrap_or_else(|| panic!("the broken link is an item: {json:#}"));
    assert_eq!(gone["status"], "unreadable", "{gone:#}");
    assert!(
        gone["error"].as_str().unwrap().contains("no such file"),
        "{gone:#}"
    );
}
