//! `rcert doctor` end to end: secrets in the Kubernetes API emulator, nginx on loopback
//! serving the certificate with Rancher's /ping and /cacerts, every wait bounded.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::emulator::{annotated, secret_json, workload_json, Emulator};
use common::servers::{fixture_or_path, free_port, nginx, rancher_locations, Server};
use common::*;

/// What one nginx port serves: chain, key, and the file served at /cacerts.
struct Endpoint<'a> {
    port: u16,
    chain: &'a str,
    key: &'a str,
    cacerts: &'a str,
}

fn serve(endpoints: &[Endpoint<'_>]) -> Server {
    let mut http = String::from("http {\n");
    for endpoint in endpoints {
        http.push_str(&format!(
            "server {{ listen 127.0.0.1:{} ssl http2 default_server; server_name _; \
             ssl_certificate {}; ssl_certificate_key {}; {} }}\n",
            endpoint.port,
            fixture_or_path(endpoint.chain),
            fixture_or_path(endpoint.key),
            rancher_locations(endpoint.cacerts)
        ));
    }
    http.push_str("}\n");
    let ports: Vec<u16> = endpoints.iter().map(|e| e.port).collect();
    nginx(&http, &ports)
}

/// Push secrets into the emulator (with --force, so broken ones land too).
fn push_secrets(emulator: &Emulator, cert: &str, key: &str, ca: &str) {
    let backups = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(&[
        "push",
        "--force",
        "--cert",
        &fixture_or_path(cert),
        "--key",
        &fixture_or_path(key),
        "--ca",
        &fixture_or_path(ca),
        "--kubeconfig",
        &emulator.kubeconfig(),
        "--backup-dir",
        &backups.path().display().to_string(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

struct Outcome {
    code: i32,
    json: serde_json::Value,
    took: Duration,
}

impl Outcome {
    /// Findings of a section with a given check name: (status, message, fix).
    fn find(&self, section: &str, name: &str) -> Vec<(String, String, String)> {
        self.json["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["section"] == section && f["id"] == name)
            .map(|f| {
                (
                    f["status"].as_str().unwrap_or_default().to_string(),
                    f["message"].as_str().unwrap_or_default().to_string(),
                    common::fix_line(&f["fix"]),
                )
            })
            .collect()
    }

    /// The subject of the first finding of a section with a given check name.
    fn subject(&self, section: &str, name: &str) -> serde_json::Value {
        self.json["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["section"] == section && f["id"] == name)
            .map(|f| f["subject"].clone())
            .unwrap_or_else(|| panic!("no {section}/{name}: {:#}", self.json))
    }

    fn one(&self, section: &str, name: &str) -> (String, String, String) {
        self.find(section, name)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no {section}/{name}: {:#}", self.json))
    }

    fn failed(&self) -> Vec<String> {
        self.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["status"] == "failed")
            .map(|f| {
                format!(
                    "{}/{}",
                    f["section"].as_str().unwrap(),
                    f["id"].as_str().unwrap()
                )
            })
            .collect()
    }
}

fn doctor(host_port: u16, kubeconfig: &str, extra: &[&str]) -> Outcome {
    let host = format!("127.0.0.1:{host_port}");
    let mut args = vec![
        "doctor",
        "--host",
        &host,
        "--kubeconfig",
        kubeconfig,
        "--timeout",
        "3s",
    ];
    args.extend(extra);
    let started = Instant::now();
    let (code, json) = run_json(&args);
    Outcome {
        code,
        json,
        took: started.elapsed(),
    }
}

/// Secrets (cert, key, CA) pushed into an emulator, nginx serving (chain, key, /cacerts),
/// and one doctor run against both.
fn scenario(secret: [&str; 3], served: [&str; 3]) -> Outcome {
    let emulator = Emulator::start();
    push_secrets(&emulator, secret[0], secret[1], secret[2]);
    doctor_served(&emulator, served, &[])
}

/// doctor against one nginx serving `served` (chain, key, CA file) on loopback.
/// doctor against nginx serving `served`; its `api_requests` must be what the API server
/// saw (the Ingress, Gateway and Secret lookups behind a fake certificate included).
fn doctor_served(emulator: &Emulator, served: [&str; 3], extra: &[&str]) -> Outcome {
    let port = free_port();
    let _nginx = serve(&[Endpoint {
        port,
        chain: served[0],
        key: served[1],
        cacerts: served[2],
    }]);
    let before = emulator.requests().len();
    let outcome = doctor(port, &emulator.kubeconfig(), extra);
    let seen = emulator.requests().len() - before;
    assert_eq!(
        outcome.json["api_requests"].as_u64(),
        Some(seen as u64),
        "doctor: reported vs seen by the API server"
    );
    outcome
}

fn good_setup() -> (Emulator, Server, u16) {
    let emulator = Emulator::start();
    push_secrets(&emulator, "fullchain.pem", "leaf.key", "root.pem");
    let port = free_port();
    let server = serve(&[Endpoint {
        port,
        chain: "fullchain.pem",
        key: "leaf.key",
        cacerts: "root.pem",
    }]);
    (emulator, server, port)
}

#[test]
fn all_good() {
    let (emulator, _nginx, port) = good_setup();
    let out = doctor(
        port,
        &emulator.kubeconfig(),
        &["--ca", &fixture("root.pem")],
    );
    assert_eq!(out.code, 0, "{:#}", out.json);
    assert!(out.failed().is_empty(), "{:?}", out.failed());
    for (section, name) in [
        ("cluster", "chain"),
        ("cluster", "key"),
        ("cluster", "name"),
        ("endpoint", "served"),
        ("rancher", "ping"),
        ("rancher", "cacerts"),
        ("rancher", "cacerts_local"),
    ] {
        assert_eq!(out.one(section, name).0, "ok", "{section}/{name}");
    }
    let root = std::fs::read(fixtures().join("root.pem")).unwrap();
    let checksum = out.json["ca_checksum"].as_str().unwrap().to_string();
    let (_, message, _) = out.one("rancher", "ca_checksum");
    assert!(message.contains(&checksum));
    assert_eq!(checksum.len(), 64);
    assert_eq!(checksum, sha256sum(&root));
    // Two GETs of the secrets, one of tls-ca-additional, one of cattle-webhook-tls (absent:
    // no caBundles read), one of Rancher's cacerts setting (no Rancher objects in this
    // emulator: a downstream cluster), one of stv-aggregation (absent).
    assert_eq!(out.json["api_requests"], 6);
    assert_eq!(out.one("agents", "cacerts_setting").0, "skipped");
    eprintln!(
        "doctor all-good run: {:?} wall for the process, {} ms inside, {} API requests",
        out.took, out.json["elapsed_ms"], out.json["api_requests"]
    );
}

#[test]
fn secret_key_mismatch() {
    let out = scenario(
        ["fullchain.pem", "other.key", "root.pem"],
        ["ingress-fake.pem", "ingress-fake.key", "root.pem"],
    );
    assert_eq!(out.code, 1, "{:#}", out.json);
    let (status, message, fix) = out.one("cluster", "key");
    assert_eq!(status, "failed");
    assert!(message.contains("does not belong to the leaf"), "{message}");
    assert!(fix.contains("rcert"), "{fix}");
}

#[test]
fn secret_chain_missing_the_intermediate() {
    let out = scenario(
        ["leaf.pem", "leaf.key", "root.pem"],
        ["leaf.pem", "leaf.key", "root.pem"],
    );
    assert_eq!(out.code, 1);
    let (status, message, fix) = out.one("cluster", "chain");
    assert_eq!(status, "failed");
    assert!(message.contains("missing intermediate"), "{message}");
    assert!(
        fix.starts_with("with your files (tls.crt, tls.key, cacerts.pem; --dir names where they are): rcert fullchain"),
        "{fix}"
    );
    assert_eq!(
        out.one("endpoint", "served").0,
        "ok",
        "the endpoint serves what the secret holds"
    );
}

#[test]
fn ingress_serving_its_default_certificate() {
    let out = scenario(
        ["fullchain.pem", "leaf.key", "root.pem"],
        ["ingress-fake.pem", "ingress-fake.key", "root.pem"],
    );
    assert_eq!(out.code, 1);
    let (status, message, fix) = out.one("endpoint", "served");
    assert_eq!(status, "failed");
    assert!(
        message.contains("Kubernetes Ingress Controller Fake Certificate")
            && message.contains("no Ingress in cattle-system routes 127.0.0.1"),
        "{message}"
    );
    assert!(fix.contains("--set hostname=127.0.0.1"), "{fix}");
}

/// A list RBAC forbids is said as such, never read as "nothing routes the host".
#[test]
fn a_forbidden_ingress_or_gateway_list_is_no_false_diagnosis() {
    for (path, expected) in [
        (
            "ingresses",
            "cannot list Ingresses in cattle-system: 403 Forbidden",
        ),
        (
            "gateways",
            "cannot list Gateways (gateway.networking.k8s.io): 403 Forbidden",
        ),
    ] {
        let emulator = Emulator::start();
        push_secrets(&emulator, "fullchain.pem", "leaf.key", "root.pem");
        emulator.fault("GET", path, 403);
        let out = doctor_served(
            &emulator,
            ["ingress-fake.pem", "ingress-fake.key", "root.pem"],
            &[],
        );
        let (status, message, fix) = out.one("endpoint", "served");
        assert_eq!(status, "failed");
        assert!(message.contains(expected), "{path}: {message}");
        assert!(
            !message.contains("no Gateway has an HTTPS listener"),
            "{message}"
        );
        assert!(fix.contains(&format!("list on {path}")), "{path}: {fix}");
    }
}

/// The fake certificate served, with an Ingress for the host whose tls entry names `secret`.
fn fake_certificate_with_ingress(secret: &str, seed: &[serde_json::Value]) -> Outcome {
    let emulator = Emulator::start();
    push_secrets(&emulator, "fullchain.pem", "leaf.key", "root.pem");
    emulator.seed(
        "networking.k8s.io/v1/ingresses",
        &[
            serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"namespace": "cattle-system", "name": "rancher"},
            "spec": {"rules": [{"host": "127.0.0.1"}],
                "tls": [{"hosts": ["127.0.0.1"], "secretName": secret}]}}),
        ],
    );
    if !seed.is_empty() {
        emulator.seed("v1/secrets", seed);
    }
    doctor_served(
        &emulator,
        ["ingress-fake.pem", "ingress-fake.key", "root.pem"],
        &[],
    )
}

#[test]
fn the_fake_certificate_is_explained_by_the_precondition_that_fails() {
    let out = fake_certificate_with_ingress("rancher-tls", &[]);
    let (_, message, fix) = out.one("endpoint", "served");
    assert!(
        message.contains("Ingress cattle-system/rancher names secret cattle-system/rancher-tls for 127.0.0.1, and it does not exist"),
        "{message}"
    );
    assert!(fix.contains("--secret-name rancher-tls"), "{fix}");

    let pem = fixture_bytes;
    let mismatched = secret_json(
        "cattle-system",
        "rancher-tls",
        "kubernetes.io/tls",
        &[
            ("tls.crt", pem("fullchain.pem")),
            ("tls.key", pem("other.key")),
        ],
    );
    let out = fake_certificate_with_ingress("rancher-tls", &[mismatched]);
    let (_, message, _) = out.one("endpoint", "served");
    assert!(
        message.contains(
            "tls.key of secret cattle-system/rancher-tls does not belong to its certificate"
        ),
        "{message}"
    );

    let opaque = secret_json(
        "cattle-system",
        "rancher-tls",
        "Opaque",
        &[
            ("tls.crt", pem("fullchain.pem")),
            ("tls.key", pem("leaf.key")),
        ],
    );
    let out = fake_certificate_with_ingress("rancher-tls", &[opaque]);
    let (_, message, fix) = out.one("endpoint", "served");
    assert!(
        message.contains("has type Opaque; ingress-nginx loads only kubernetes.io/tls"),
        "{message}"
    );
    assert!(fix.contains("--replace --kubeconfig "), "{fix}");
}

#[test]
fn cacerts_differing_from_tls_ca() {
    let out = scenario(
        ["fullchain.pem", "leaf.key", "root.pem"],
        ["fullchain.pem", "leaf.key", "other-root.pem"],
    );
    assert_eq!(out.code, 1);
    let (status, message, fix) = out.one("rancher", "cacerts");
    assert_eq!(status, "failed");
    assert!(
        message.contains("differs from secret cattle-system/tls-ca"),
        "{message}"
    );
    assert!(fix.contains("rollout restart deploy/rancher"), "{fix}");
}

#[test]
fn one_node_stale() {
    let (emulator, _nginx, port) = good_setup();
    let (good, stale) = (free_port(), free_port());
    let _nodes = serve(&[
        Endpoint {
            port: good,
            chain: "fullchain.pem",
            key: "leaf.key",
            cacerts: "root.pem",
        },
        Endpoint {
            port: stale,
            chain: "long-lived-chain.pem",
            key: "leaf.key",
            cacerts: "root.pem",
        },
    ]);
    let (good_node, stale_node) = (format!("127.0.0.1:{good}"), format!("127.0.0.1:{stale}"));
    let out = doctor(
        port,
        &emulator.kubeconfig(),
        &["--node", &good_node, "--node", &stale_node],
    );
    assert_eq!(out.code, 1, "{:#}", out.json);
    let served = out.find("endpoint", "served");
    assert_eq!(served.len(), 3);
    let stale_finding = served
        .iter()
        .find(|(_, message, _)| message.starts_with(&stale_node))
        .unwrap();
    assert_eq!(stale_finding.0, "failed");
    assert!(
        stale_finding.1.contains("not the certificate in secret"),
        "{}",
        stale_finding.1
    );
    let (status, message, _) = out.one("endpoint", "same_chain");
    assert_eq!(status, "failed");
    assert!(
        message.contains(&stale_node) && !message.contains(&good_node),
        "{message}"
    );
}

#[test]
fn expired_secret() {
    let out = scenario(
        ["expired-chain.pem", "leaf.key", "root.pem"],
        ["fullchain.pem", "leaf.key", "root.pem"],
    );
    assert_eq!(out.code, 1);
    let (status, message, fix) = out.one("cluster", "validity");
    assert_eq!(status, "failed");
    assert!(message.contains("expired"), "{message}");
    assert!(
        fix.contains("rcert selfsign") && fix.contains("--ca-cert"),
        "{fix}"
    );
}

#[test]
fn cluster_unreachable_endpoint_checks_still_run() {
    let (emulator, _nginx, port) = good_setup();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let kubeconfig = emulator.write_kubeconfig("dead", &[("dead", &dead)], "dead");
    let out = doctor(port, &kubeconfig, &["--ca", &fixture("root.pem")]);
    assert_eq!(out.code, 3, "{:#}", out.json);
    let (status, message, _) = out.one("cluster", "secrets");
    assert_eq!(status, "skipped");
    assert!(message.contains("unreachable"), "{message}");
    assert_eq!(
        out.one("endpoint", "chain").0,
        "ok",
        "the served chain is judged on its own"
    );
    assert_eq!(out.one("rancher", "ping").0, "ok");
}

#[test]
fn endpoint_unreachable_cluster_checks_still_run() {
    let emulator = Emulator::start();
    push_secrets(&emulator, "fullchain.pem", "leaf.key", "root.pem");
    let out = doctor(free_port(), &emulator.kubeconfig(), &[]);
    assert_eq!(out.code, 3, "{:#}", out.json);
    let (status, message, _) = out.one("endpoint", "reachable");
    assert_eq!(status, "skipped");
    assert!(message.contains("connection refused"), "{message}");
    assert_eq!(out.one("cluster", "chain").0, "ok");
    assert_eq!(out.one("cluster", "key").0, "ok");
}

#[test]
fn no_kubeconfig_skips_the_cluster_part() {
    let (_emulator, _nginx, port) = good_setup();
    let home = tempfile::tempdir().unwrap();
    let output = rcert()
        .env("KUBECONFIG", home.path().join("none"))
        .env("HOME", home.path())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .args([
            "-o",
            "json",
            "doctor",
            "--host",
            &format!("127.0.0.1:{port}"),
            "--ca",
            &fixture("root.pem"),
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "no cluster is not an outage: {json:#}"
    );
    let finding = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "secrets")
        .unwrap()
        .clone();
    assert_eq!(finding["status"], "skipped");
    assert!(finding["message"]
        .as_str()
        .unwrap()
        .contains("no usable kubeconfig"));
}

#[test]
fn drift_between_local_files_and_secrets() {
    let (emulator, _nginx, port) = good_setup();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixtures().join("fullchain.pem"), dir.path().join("tls.crt")).unwrap();
    std::fs::copy(fixtures().join("other.key"), dir.path().join("tls.key")).unwrap();
    std::fs::copy(fixtures().join("root.pem"), dir.path().join("cacerts.pem")).unwrap();
    let dir_arg = dir.path().display().to_string();
    let out = doctor(port, &emulator.kubeconfig(), &["--dir", &dir_arg]);
    assert_eq!(out.code, 1);
    let drift = out.find("drift", "drift");
    assert_eq!(drift.len(), 3);
    let failed: Vec<_> = drift
        .iter()
        .filter(|(status, _, _)| status == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{drift:?}");
    assert!(failed[0].1.contains("tls.key"), "{:?}", failed[0]);
    assert_eq!(
        failed[0].2,
        format!(
            "rcert push --namespace cattle-system --dir {dir_arg} --kubeconfig {}",
            emulator.kubeconfig()
        ),
        "the fix reaches the cluster doctor read"
    );
    let _ = Path::new(&dir_arg);
}

#[test]
fn text_table_shows_fixes() {
    let emulator = Emulator::start();
    push_secrets(&emulator, "leaf.pem", "leaf.key", "root.pem");
    let port = free_port();
    let _nginx = serve(&[Endpoint {
        port,
        chain: "leaf.pem",
        key: "leaf.key",
        cacerts: "root.pem",
    }]);
    let (code, stdout, _) = run(&[
        "doctor",
        "--host",
        &format!("127.0.0.1:{port}"),
        "--kubeconfig",
        &emulator.kubeconfig(),
    ]);
    assert_eq!(code, 1);
    for wanted in [
        "[cluster]",
        "[endpoint]",
        "[rancher]",
        "FAILED   chain",
        "fix: with your files (tls.crt, tls.key, cacerts.pem; --dir names where they are): rcert fullchain",
        "CATTLE_CA_CHECKSUM=",
        "API request(s)",
    ] {
        assert!(stdout.contains(wanted), "{wanted}: {stdout}");
    }
}

#[test]
fn completions_and_man_page_generate() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let (code, stdout, _) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        assert!(
            stdout.contains("rcert") && stdout.contains("doctor"),
            "{shell}"
        );
    }
    let (code, stdout, _) = run(&["man"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(".TH rcert 1") && stdout.contains("selfsign"),
        "{stdout}"
    );
}

/// Every command the CLI defines, as the words that run it (`["rotate", "plan"]`), read
/// from clap's own definition, so none is forgotten.
fn every_command() -> Vec<Vec<String>> {
    use clap::CommandFactory;
    fn walk(command: &clap::Command, prefix: &[String], found: &mut Vec<Vec<String>>) {
        for sub in command.get_subcommands() {
            let mut words = prefix.to_vec();
            words.push(sub.get_name().to_string());
            if sub.has_subcommands() {
                walk(sub, &words, found);
            } else {
                found.push(words);
            }
        }
    }
    let mut found = Vec::new();
    walk(&rcert::cli::args::Cli::command(), &[], &mut found);
    found
}

#[test]
fn every_help_shows_examples() {
    let commands = every_command();
    assert!(commands.len() >= 14, "{commands:?}");
    for words in commands {
        if words == ["help"] {
            continue;
        }
        let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
        args.push("--help");
        let (code, stdout, _) = run(&args);
        assert_eq!(code, 0, "{words:?}");
        assert!(
            stdout.contains("Examples:") && stdout.contains("rcert"),
            "{words:?}: {stdout}"
        );
    }
}

/// One doctor run against a good cluster and an nginx whose /cacerts serves `cacerts`
/// (a path; a missing file makes nginx answer 404).
fn with_served_cacerts(cacerts: &str) -> Outcome {
    let emulator = Emulator::start();
    push_secrets(&emulator, "fullchain.pem", "leaf.key", "root.pem");
    let port = free_port();
    let _nginx = serve(&[Endpoint {
        port,
        chain: "fullchain.pem",
        key: "leaf.key",
        cacerts,
    }]);
    doctor(port, &emulator.kubeconfig(), &[])
}

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn cacerts_not_found_while_ping_answers_is_a_finding() {
    let out = with_served_cacerts("/nonexistent/rcert/cacerts.pem");
    assert_eq!(out.code, 1, "{:#}", out.json);
    assert_eq!(out.one("rancher", "ping").0, "ok");
    let (status, message, fix) = out.one("rancher", "cacerts");
    assert_eq!(status, "failed");
    assert!(
        message.starts_with("/cacerts answered HTTP 404"),
        "{message}"
    );
    // A routing problem: pushing the secrets again would change nothing.
    assert!(
        fix.starts_with("kubectl --kubeconfig ")
            && fix.contains(" -n cattle-system get ingress -o wide && curl -vk https://127.0.0.1:")
            && fix.contains("# route https://127.0.0.1:"),
        "{fix}"
    );
    assert_ne!(out.json["ca_checksum"], EMPTY_SHA256);
}

#[test]
fn empty_cacerts_for_a_private_chain_asks_for_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let out = with_served_cacerts(&empty.display().to_string());
    assert_eq!(out.code, 1, "{:#}", out.json);
    let (status, message, _) = out.one("rancher", "cacerts");
    assert_eq!(status, "failed");
    assert!(message.contains("set privateCA=true"), "{message}");
    assert!(
        !out.json.to_string().contains(EMPTY_SHA256),
        "never advise the checksum of nothing"
    );
}

#[test]
fn html_at_cacerts_is_named_with_its_first_line() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    std::fs::write(&page, "<html><body>Welcome to nginx!</body></html>\n").unwrap();
    let out = with_served_cacerts(&page.display().to_string());
    assert_eq!(out.code, 1, "{:#}", out.json);
    let (status, message, _) = out.one("rancher", "cacerts");
    assert_eq!(status, "failed");
    assert!(
        message.contains(
            "served an HTML page (first line: '<html><body>Welcome to nginx!</body></html>')"
        ),
        "{message}"
    );
}

#[test]
fn a_node_serving_another_cacerts_is_named() {
    let emulator = Emulator::start();
    push_secrets(&emulator, "fullchain.pem", "leaf.key", "root.pem");
    let (host, node) = (free_port(), free_port());
    let _nginx = serve(&[
        Endpoint {
            port: host,
            chain: "fullchain.pem",
            key: "leaf.key",
            cacerts: "root.pem",
        },
        Endpoint {
            port: node,
            chain: "fullchain.pem",
            key: "leaf.key",
            cacerts: "other-root.pem",
        },
    ]);
    let node_target = format!("127.0.0.1:{node}");
    let out = doctor(host, &emulator.kubeconfig(), &["--node", &node_target]);
    assert_eq!(out.code, 1, "{:#}", out.json);
    let (status, message, _) = out.one("rancher", "cacerts_node");
    assert_eq!(status, "failed");
    assert!(
        message.starts_with(&format!("{node_target} serves another /cacerts")),
        "{message}"
    );
}

#[test]
fn a_tls_ca_secret_with_another_key_is_read_and_named() {
    let emulator = Emulator::start();
    let backups = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(&[
        "push",
        "--cert",
        &fixture("fullchain.pem"),
        "--key",
        &fixture("leaf.key"),
        "--kubeconfig",
        &emulator.kubeconfig(),
        "--backup-dir",
        &backups.path().display().to_string(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let root = std::fs::read(fixtures().join("root.pem")).unwrap();
    let encoded = base64(&root);
    let secret = format!(
        r#"{{"apiVersion": "v1", "kind": "Secret", "metadata": {{"name": "tls-ca", "namespace": "cattle-system"}}, "data": {{"ca.crt": "{encoded}"}}}}"#
    );
    emulator.control("POST", "/api/v1/namespaces/cattle-system/secrets", &secret);
    assert!(emulator
        .kubectl_get("cattle-system", "tls-ca", "ca.crt")
        .is_some());
    let out = doctor_served(&emulator, ["fullchain.pem", "leaf.key", "root.pem"], &[]);
    let (status, message, fix) = out.one("cluster", "tls_ca");
    assert_eq!(status, "failed");
    assert!(
        message.contains("holds its CA under key 'ca.crt', but Rancher reads key cacerts.pem only"),
        "{message}"
    );
    // Without --dir rcert does not know where the files are: the fix is words, never a
    // command naming a path that is not there.
    assert_eq!(
        fix,
        format!("with your files (tls.crt, tls.key, cacerts.pem; --dir names where they are): rcert push --namespace cattle-system --dir ./certs --kubeconfig {}   # it writes cacerts.pem into secret tls-ca", emulator.kubeconfig())
    );
    // With --dir the same fix is a command on those files.
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in [
        ("fullchain.pem", "tls.crt"),
        ("leaf.key", "tls.key"),
        ("root.pem", "cacerts.pem"),
    ] {
        std::fs::copy(fixtures().join(from), dir.path().join(to)).unwrap();
    }
    let shown = dir.path().display().to_string();
    let with_dir = doctor_served(
        &emulator,
        ["fullchain.pem", "leaf.key", "root.pem"],
        &["--dir", &shown],
    );
    assert_eq!(
        with_dir.one("cluster", "tls_ca").2,
        format!(
            "rcert push --namespace cattle-system --dir {shown} --kubeconfig {}   # it writes cacerts.pem into secret tls-ca",
            emulator.kubeconfig()
        )
    );
    assert_eq!(
        out.one("cluster", "chain").0,
        "ok",
        "the CA was read from ca.crt"
    );
}

#[test]
fn agents_lagging_behind_a_ca_change_are_named() {
    let (emulator, _server, port) = good_setup();
    emulator.register_cluster_scoped("management.cattle.io/v3/settings", "Setting", "setting");
    emulator.register_cluster_scoped("management.cattle.io/v3/clusters", "Cluster", "cluster");
    let other_ca = std::fs::read_to_string(fixtures().join("other-root.pem")).unwrap();
    let setting = |name: &str, value: &str| {
        serde_json::json!({"apiVersion": "management.cattle.io/v3", "kind": "Setting",
            "metadata": {"name": name}, "value": value})
    };
    emulator.seed(
        "management.cattle.io/v3/settings",
        &[
            setting("cacerts", &other_ca),
            setting("agent-tls-mode", "strict"),
        ],
    );
    let cluster = |name: &str, connected: &str, strict: &str| {
        serde_json::json!({"apiVersion": "management.cattle.io/v3", "kind": "Cluster",
            "metadata": {"name": name}, "spec": {"displayName": format!("{name}-display")},
            "status": {"conditions": [
                {"type": "Connected", "status": connected, "message": "agent gone"},
                {"type": "AgentTlsStrictCheck", "status": strict, "message": "CA not in bundle"}]}})
    };
    emulator.seed(
        "management.cattle.io/v3/clusters",
        &[
            cluster("local", "True", "True"),
            cluster("c-m-down", "False", "True"),
            cluster("c-m-strict", "True", "False"),
        ],
    );
    let checksum =
        |value: String| serde_json::json!([{"name": "CATTLE_CA_CHECKSUM", "value": value}]);
    emulator.seed_one(workload_json(
        "Deployment",
        "cattle-cluster-agent",
        "rancher/rancher-agent",
        checksum("0123abcd".to_string()),
    ));
    // The node agent already has the checksum of what /cacerts serves.
    emulator.seed_one(workload_json(
        "DaemonSet",
        "cattle-node-agent",
        "rancher/rancher-agent",
        checksum(sha256sum(&fixture_bytes("root.pem"))),
    ));
    // Release v2 (deployed) forgot privateCA; v1 (superseded) had it.
    emulator.seed(
        "v1/secrets",
        &[
            common::emulator::helm_release_secret("cattle-system", "rancher", 1, "superseded",
                serde_json::json!({"privateCA": true, "ingress": {"tls": {"source": "secret"}}})),
            common::emulator::helm_release_secret("cattle-system", "rancher", 2, "deployed",
                serde_json::json!({"hostname": "rancher.example.com", "ingress": {"tls": {"source": "secret"}}})),
        ],
    );
    let out = doctor(port, &emulator.kubeconfig(), &[]);
    assert_eq!(out.code, 1, "{:#}", out.json);
    let (status, message, fix) = out.one("agents", "helm_values");
    assert_eq!(status, "failed");
    assert!(
        message.contains("helm release rancher v2 has privateCA=unset"),
        "{message}"
    );
    assert!(fix.contains("--set privateCA=true"), "{fix}");
    let (status, message, fix) = out.one("agents", "cacerts_setting");
    assert_eq!(status, "failed");
    assert!(message.contains("differs from secret tls-ca"), "{message}");
    assert!(fix.contains("rollout restart deploy/rancher"), "{fix}");
    let (status, message, fix) = out.one("agents", "agent_checksum");
    assert_eq!(status, "failed");
    assert!(
        message.starts_with("cattle-cluster-agent has CATTLE_CA_CHECKSUM=0123abcd")
            && message.contains("next restart"),
        "{message}"
    );
    assert!(
        fix.starts_with(&format!(
            "kubectl --kubeconfig {} -n cattle-system set env deployment/cattle-cluster-agent CATTLE_CA_CHECKSUM={}",
            emulator.kubeconfig(),
            sha256sum(&fixture_bytes("root.pem"))
        )),
        "the agent gets the checksum /cacerts serves: {fix}"
    );
    let evidence = out.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "agent_checksum")
        .map(|f| f["evidence"].clone())
        .unwrap();
    assert_eq!(evidence["kind"], "checksums");
    assert_eq!(evidence["found"], "0123abcd");
    assert_eq!(
        evidence["expected"],
        sha256sum(&fixture_bytes("root.pem")),
        "{evidence:#}"
    );
    assert_eq!(
        out.find("agents", "agent_checksum")[1],
        (
            "ok".to_string(),
            "cattle-node-agent's CATTLE_CA_CHECKSUM matches /cacerts".to_string(),
            String::new()
        )
    );
    let clusters: Vec<String> = out
        .find("agents", "cluster")
        .into_iter()
        .map(|(_, m, _)| m)
        .collect();
    assert_eq!(clusters.len(), 2, "{clusters:?}");
    assert!(clusters[0].contains(
        "cluster c-m-down (c-m-down-display) is not connected (Connected=False): agent gone"
    ));
    assert!(
        clusters[1].contains("c-m-strict") && clusters[1].contains("fails AgentTlsStrictCheck")
    );
    // Each finding names its object, typed, for a script to act on.
    let subject = |id: &str| out.subject("agents", id);
    assert_eq!(
        subject("cluster"),
        serde_json::json!({"kind": "object", "resource": "clusters.management.cattle.io", "name": "c-m-down"})
    );
    assert_eq!(
        subject("agent_checksum"),
        serde_json::json!({"kind": "object", "resource": "deployments.apps", "namespace": "cattle-system", "name": "cattle-cluster-agent"})
    );
    assert_eq!(
        subject("cacerts_setting"),
        serde_json::json!({"kind": "object", "resource": "settings.management.cattle.io", "name": "cacerts"})
    );
}

#[test]
fn a_local_ca_that_differs_names_both_checksums() {
    let (emulator, _nginx, port) = good_setup();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures().join("other-root.pem"),
        dir.path().join("cacerts.pem"),
    )
    .unwrap();
    let dir_arg = dir.path().display().to_string();
    let out = doctor(port, &emulator.kubeconfig(), &["--dir", &dir_arg]);
    let (status, message, _) = out.one("drift", "drift");
    assert_eq!(status, "failed");
    let old = sha256sum(&std::fs::read(fixtures().join("root.pem")).unwrap());
    let new = sha256sum(&std::fs::read(fixtures().join("other-root.pem")).unwrap());
    assert!(
        message.contains(&format!("moves CATTLE_CA_CHECKSUM from {old} to {new}")),
        "{message}"
    );
}

#[test]
fn help_examples_fit_in_100_columns() {
    for words in every_command() {
        let command = words.join(" ");
        let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
        args.push("--help");
        let (code, stdout, _) = run(&args);
        assert_eq!(code, 0, "{command}");
        let examples = stdout.split("Examples:").nth(1).unwrap_or_default();
        // clap wraps help at 100 columns when not on a terminal: a command wider than that
        // would continue on a line of its own, starting with its next flag.
        // A line after one that ends in a shell continuation (`\\`) may start with a flag.
        let mut continued = false;
        for line in examples.lines() {
            assert!(
                continued || !line.trim_start().starts_with("--"),
                "{command}: an example wraps in the middle of a command: {line}"
            );
            continued = line.trim_end().ends_with('\\');
        }
    }
}

#[test]
fn a_secret_cert_manager_owns_is_judged_through_its_certificate() {
    let emulator = Emulator::start();
    push_secrets(&emulator, "fullchain.pem", "leaf.key", "root.pem");
    let pem = fixture_bytes;
    // cert-manager's secret: its issuer's CA in ca.crt is another CA than tls-ca's.
    let managed = secret_json(
        "cattle-system",
        "tls-rancher-ingress",
        "kubernetes.io/tls",
        &[
            ("tls.crt", pem("fullchain.pem")),
            ("tls.key", pem("leaf.key")),
            ("ca.crt", pem("other-root.pem")),
        ],
    );
    emulator.seed(
        "v1/secrets",
        &[annotated(
            managed,
            &[("cert-manager.io/certificate-name", "rancher")],
        )],
    );
    emulator.register(
        "cert-manager.io/v1/certificates",
        "Certificate",
        "certificate",
    );
    emulator.seed(
        "cert-manager.io/v1/certificates",
        &[serde_json::json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"namespace": "cattle-system", "name": "rancher"},
            "spec": {"secretName": "tls-rancher-ingress"},
            "status": {"notAfter": "2030-01-01T00:00:00Z",
                "conditions": [{"type": "Ready", "status": "False", "message": "Issuing certificate as Secret does not exist"}]}})],
    );
    let out = doctor_served(&emulator, ["fullchain.pem", "leaf.key", "root.pem"], &[]);
    assert_eq!(out.code, 1, "{:#}", out.json);
    let findings = out.find("cluster", "cert_manager");
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert!(
        findings[0].1.contains(
            "Certificate cattle-system/rancher (cert-manager) is not Ready: Issuing certificate"
        ),
        "{findings:?}"
    );
    assert!(findings[0].2.contains("describe certificate rancher"));
    assert!(
        findings[1]
            .1
            .contains("ca.crt of secret cattle-system/tls-rancher-ingress")
            && findings[1]
                .1
                .contains("differs from secret cattle-system/tls-ca"),
        "{findings:?}"
    );
}

#[test]
fn tls_ca_additional_is_judged_like_push_builds_it() {
    let (emulator, _nginx, port) = good_setup();
    let pem = |name: &str| std::fs::read_to_string(fixtures().join(name)).unwrap();
    let bundle = pem("root.pem") + &pem("leaf.pem");
    emulator.seed(
        "v1/secrets",
        &[secret_json(
            "cattle-system",
            "tls-ca-additional",
            "Opaque",
            &[("ca-additional.pem", bundle.into_bytes())],
        )],
    );
    let out = doctor(port, &emulator.kubeconfig(), &[]);
    let (status, message, fix) = out
        .find("cluster", "tls_ca")
        .into_iter()
        .find(|(_, message, _)| message.contains("tls-ca-additional"))
        .unwrap_or_else(|| panic!("{:#}", out.json));
    assert_eq!(status, "failed");
    assert!(
        message.contains(
            "holds 'O=rcert test, CN=rancher.example.com', which is not a CA certificate"
        ),
        "{message}"
    );
    assert!(fix.contains("--additional-ca"), "{fix}");
}

/// The fake certificate served, no Ingress, and Gateway API objects in the cluster.
fn fake_certificate_with_gateway(objects: &[(&str, serde_json::Value)]) -> Outcome {
    let emulator = Emulator::start();
    push_secrets(&emulator, "fullchain.pem", "leaf.key", "root.pem");
    emulator.register(
        "gateway.networking.k8s.io/v1/gateways",
        "Gateway",
        "gateway",
    );
    emulator.register(
        "gateway.networking.k8s.io/v1beta1/referencegrants",
        "ReferenceGrant",
        "referencegrant",
    );
    for (resource, object) in objects {
        emulator.seed(resource, std::slice::from_ref(object));
    }
    doctor_served(
        &emulator,
        ["ingress-fake.pem", "ingress-fake.key", "root.pem"],
        &[],
    )
}

fn gateway(
    listener: serde_json::Value,
    status: serde_json::Value,
) -> (&'static str, serde_json::Value) {
    (
        "gateway.networking.k8s.io/v1/gateways",
        serde_json::json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"namespace": "infra", "name": "edge"},
            "spec": {"gatewayClassName": "envoy", "listeners": [
                {"name": "http", "port": 80, "protocol": "HTTP"},
                listener]},
            "status": status}),
    )
}

#[test]
fn a_gateway_listener_is_followed_to_its_certificate_refs() {
    let https = |refs: serde_json::Value| {
        serde_json::json!({"name": "https", "port": 443, "protocol": "HTTPS", "hostname": "127.0.0.1",
            "tls": {"mode": "Terminate", "certificateRefs": refs}})
    };
    let served = |out: &Outcome| out.one("endpoint", "served").1;

    // Only an HTTP listener for the host.
    let out = fake_certificate_with_gateway(&[gateway(
        serde_json::json!({"name": "web", "port": 8080, "protocol": "HTTP", "hostname": "127.0.0.1"}),
        serde_json::json!({}),
    )]);
    assert!(
        served(&out).contains("Gateway infra/edge listener web serves 127.0.0.1 over HTTP, and no HTTPS listener covers it"),
        "{}",
        served(&out)
    );

    // No certificateRefs.
    let out = fake_certificate_with_gateway(&[gateway(
        https(serde_json::json!([])),
        serde_json::json!({}),
    )]);
    assert!(
        served(&out).contains("Gateway infra/edge listener https has no tls.certificateRefs"),
        "{}",
        served(&out)
    );

    // A secret in another namespace without a ReferenceGrant.
    let cross = https(
        serde_json::json!([{"kind": "Secret", "name": "tls-rancher-ingress", "namespace": "cattle-system"}]),
    );
    let out = fake_certificate_with_gateway(&[gateway(cross.clone(), serde_json::json!({}))]);
    let (_, message, fix) = out.one("endpoint", "served");
    assert!(
        message.contains("names secret cattle-system/tls-rancher-ingress in another namespace, and no ReferenceGrant in cattle-system lets Gateways of infra read Secrets"),
        "{message}"
    );
    assert!(fix.contains("ReferenceGrant in cattle-system"), "{fix}");

    // With the grant, the secret is judged; the controller's own ResolvedRefs is quoted.
    let grant = (
        "gateway.networking.k8s.io/v1beta1/referencegrants",
        serde_json::json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
            "metadata": {"namespace": "cattle-system", "name": "edge-reads-rancher-tls"},
            "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra"}],
                     "to": [{"group": "", "kind": "Secret"}]}}),
    );
    let status = serde_json::json!({"listeners": [{"name": "https", "conditions": [
        {"type": "ResolvedRefs", "status": "False", "reason": "InvalidCertificateRef",
         "message": "secret cattle-system/tls-rancher-ingress: certificate has expired"}]}]});
    let out = fake_certificate_with_gateway(&[gateway(cross.clone(), status), grant.clone()]);
    assert!(
        served(&out).contains("Gateway infra/edge listener https names secret cattle-system/tls-rancher-ingress, which looks right, but the Gateway controller reports ResolvedRefs=False (InvalidCertificateRef: secret cattle-system/tls-rancher-ingress: certificate has expired)"),
        "{}",
        served(&out)
    );

    // A missing secret in the Gateway's own namespace.
    let out = fake_certificate_with_gateway(&[gateway(
        https(serde_json::json!([{"kind": "Secret", "name": "edge-tls"}])),
        serde_json::json!({}),
    )]);
    assert!(
        served(&out).contains("Gateway infra/edge listener https names secret infra/edge-tls for 127.0.0.1, and it does not exist"),
        "{}",
        served(&out)
    );
}

#[test]
fn host_names_compare_case_insensitively() {
    let emulator = Emulator::start();
    push_secrets(&emulator, "fullchain.pem", "leaf.key", "root.pem");
    emulator.seed(
        "networking.k8s.io/v1/ingresses",
        &[
            serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"namespace": "cattle-system", "name": "rancher"},
            "spec": {"rules": [{"host": "localhost"}],
                "tls": [{"hosts": ["localhost."], "secretName": "rancher-tls"}]}}),
        ],
    );
    let port = free_port();
    let _nginx = serve(&[Endpoint {
        port,
        chain: "ingress-fake.pem",
        key: "ingress-fake.key",
        cacerts: "root.pem",
    }]);
    let host = format!("LOCALHOST:{port}");
    let (code, json) = run_json(&[
        "doctor",
        "--host",
        &host,
        "--kubeconfig",
        &emulator.kubeconfig(),
        "--timeout",
        "3s",
    ]);
    let out = Outcome {
        code,
        json,
        took: Duration::ZERO,
    };
    let (_, message, _) = out.one("endpoint", "served");
    assert!(
        message.contains("Ingress cattle-system/rancher names secret cattle-system/rancher-tls for LOCALHOST, and it does not exist"),
        "{message}"
    );
}

#[test]
fn strict_agent_tls_mode_with_an_empty_cacerts_setting_fails() {
    let (emulator, _server, port) = good_setup();
    emulator.register_cluster_scoped("management.cattle.io/v3/settings", "Setting", "setting");
    emulator.register_cluster_scoped("management.cattle.io/v3/clusters", "Cluster", "cluster");
    emulator.seed(
        "management.cattle.io/v3/settings",
        &[
            serde_json::json!({"apiVersion": "management.cattle.io/v3", "kind": "Setting",
                "metadata": {"name": "cacerts"}, "value": ""}),
            serde_json::json!({"apiVersion": "management.cattle.io/v3", "kind": "Setting",
                "metadata": {"name": "agent-tls-mode"}, "value": "", "default": "strict"}),
        ],
    );
    let out = doctor(port, &emulator.kubeconfig(), &[]);
    assert_eq!(out.code, 1, "{:#}", out.json);
    let strict = out
        .find("agents", "agent_tls_mode")
        .into_iter()
        .find(|(_, message, _)| message.starts_with("agent-tls-mode is strict"))
        .unwrap_or_else(|| panic!("{:#}", out.json));
    assert_eq!(strict.0, "failed");
    assert!(
        strict.1.contains("Strict CA verification is enabled"),
        "{}",
        strict.1
    );
    assert!(strict.2.contains("system-store"), "{}", strict.2);
}

/// rancher-webhook's serving certificate for rancher-webhook.cattle-system.svc, made by
/// openssl: (CA PEM, leaf PEM, leaf key PEM).
fn webhook_certificates(dir: &Path) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (ca, leaf) = openssl_chain(
        dir,
        &[],
        &[
            "subjectAltName=DNS:rancher-webhook.cattle-system.svc",
            "extendedKeyUsage=serverAuth",
        ],
    );
    let read = |path: &str| std::fs::read(path).unwrap();
    (
        read(&ca),
        read(&leaf),
        std::fs::read(dir.join("leaf.key")).unwrap(),
    )
}

fn webhook_configuration(ca: &[u8]) -> serde_json::Value {
    serde_json::json!({"apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "rancher.cattle.io"},
        "webhooks": [{"name": "rancher.cattle.io.secrets", "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "clientConfig": {"service": {"name": "rancher-webhook", "namespace": "cattle-system",
                "path": "/v1/webhook/validation"}, "caBundle": base64(ca)}}]})
}

#[test]
fn rancher_webhook_ca_bundles_must_verify_what_it_serves() {
    let (emulator, _server, port) = good_setup();
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = webhook_certificates(dir.path());
    emulator.seed(
        "v1/secrets",
        &[secret_json(
            "cattle-system",
            "cattle-webhook-tls",
            "kubernetes.io/tls",
            &[("tls.crt", cert), ("tls.key", key)],
        )],
    );
    let resource = "admissionregistration.k8s.io/v1/validatingwebhookconfigurations";
    emulator.seed(resource, &[webhook_configuration(&ca)]);
    let out = doctor(port, &emulator.kubeconfig(), &[]);
    let (status, message, _) = out.one("cluster", "webhook");
    assert_eq!(status, "ok", "{message}");
    // Another CA in the caBundle: every Rancher API write would fail.
    emulator.seed(
        resource,
        &[webhook_configuration(&fixture_bytes("other-root.pem"))],
    );
    let out = doctor(port, &emulator.kubeconfig(), &[]);
    assert_eq!(out.code, 1, "{:#}", out.json);
    let (status, message, fix) = out.one("cluster", "webhook");
    assert_eq!(status, "failed");
    assert!(
        message.contains("do not verify what rancher-webhook serves")
            && message.contains("x509: certificate signed by unknown authority"),
        "{message}"
    );
    assert!(
        fix.contains("rollout restart deploy/rancher-webhook"),
        "{fix}"
    );
    assert_eq!(
        out.subject("cluster", "webhook"),
        serde_json::json!({"kind": "object", "resource": "validatingwebhookconfigurations.admissionregistration.k8s.io", "name": "rancher.cattle.io"})
    );
}

#[test]
fn a_downstream_stv_aggregation_with_the_old_ca_is_named() {
    let (emulator, _server, port) = good_setup();
    let stv = |checksum: &str| {
        secret_json(
            "cattle-system",
            "stv-aggregation",
            "Opaque",
            &[("CATTLE_CA_CHECKSUM", checksum.as_bytes().to_vec())],
        )
    };
    emulator.seed("v1/secrets", &[stv("0123abcd")]);
    let out = doctor(port, &emulator.kubeconfig(), &[]);
    assert_eq!(out.code, 1, "{:#}", out.json);
    let (status, message, fix) = out.one("agents", "agent_checksum");
    assert_eq!(status, "failed");
    assert!(
        message.contains("stv-aggregation holds CATTLE_CA_CHECKSUM=0123abcd"),
        "{message}"
    );
    assert!(
        fix.contains("rollout restart deploy/cattle-cluster-agent"),
        "{fix}"
    );
    emulator.seed("v1/secrets", &[stv(&sha256sum(&fixture_bytes("root.pem")))]);
    let out = doctor(port, &emulator.kubeconfig(), &[]);
    assert_eq!(
        out.one("agents", "agent_checksum").0,
        "ok",
        "{:#}",
        out.json
    );
}

#[test]
fn a_dir_that_holds_nothing_to_compare_is_never_a_silent_ok() {
    let (emulator, _server, port) = good_setup();
    let missing = emulator.kubeconfig() + ".no-such-dir";
    let out = doctor(port, &emulator.kubeconfig(), &["--dir", &missing]);
    assert_eq!(out.code, 2, "{:#}", out.json);
    assert_eq!(
        out.json["error"],
        format!("--dir {missing}: no such directory (the local tls.crt, tls.key and cacerts.pem to compare with the cluster)")
    );
    let empty = tempfile::tempdir().unwrap();
    let shown = empty.path().display().to_string();
    let out = doctor(port, &emulator.kubeconfig(), &["--dir", &shown]);
    assert_eq!(out.code, 0, "{:#}", out.json);
    let (status, message, _) = out.one("drift", "drift");
    assert_eq!(status, "skipped");
    assert_eq!(
        message,
        format!("{shown} holds none of tls.crt, tls.key and cacerts.pem: nothing to compare with the cluster")
    );
}

#[test]
fn a_secret_out_of_order_is_the_order_finding_not_a_stale_ingress() {
    // The Secret holds intermediate then leaf; the ingress serves leaf then intermediate.
    let out = scenario(
        ["wrong-order.pem", "leaf.key", "root.pem"],
        ["fullchain.pem", "leaf.key", "root.pem"],
    );
    assert_eq!(out.one("cluster", "order").0, "failed", "{:#}", out.json);
    let (status, message, _) = out.one("endpoint", "served");
    assert_eq!(status, "ok", "{:#}", out.json);
    assert!(
        message.contains(
            "serves the leaf and intermediates of secret cattle-system/tls-rancher-ingress"
        ),
        "{message}"
    );
}

#[test]
fn a_local_copy_older_than_the_secret_is_refreshed_not_pushed_back() {
    // The Secret was renewed (fullchain.pem, valid); the local copy is the old set
    // (expired.pem with another key file): neither file is to be pushed back.
    let (emulator, _nginx, port) = good_setup();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures().join("expired-chain.pem"),
        dir.path().join("tls.crt"),
    )
    .unwrap();
    std::fs::copy(fixtures().join("other.key"), dir.path().join("tls.key")).unwrap();
    let dir_arg = dir.path().display().to_string();
    let out = doctor(port, &emulator.kubeconfig(), &["--dir", &dir_arg]);
    let drift: Vec<serde_json::Value> = out.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "drift" && f["status"] == "failed")
        .cloned()
        .collect();
    assert_eq!(drift.len(), 2, "{:#}", out.json);
    for finding in &drift {
        assert!(
            finding["message"]
                .as_str()
                .unwrap()
                .contains("the secret was renewed after this copy"),
            "{finding:#}"
        );
        assert!(
            finding["fix"]["commands"].is_null(),
            "never a push: {finding:#}"
        );
        assert!(
            finding["fix"]["note"]
                .as_str()
                .unwrap()
                .starts_with("refresh the local copy from the secret"),
            "{finding:#}"
        );
    }
}
