//! `rcert push` against a Kubernetes API emulator on loopback (kmock 0.8 behind
//! `tests/emulator/kmock_launcher.py`, installed by scripts/test), read back with kubectl.

mod common;

use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::time::Duration;

use common::emulator::Emulator;
use common::servers::free_port;
use common::*;

/// A fresh CA + server certificate directory made by rcert selfsign.
fn certs(host: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    assert_eq!(run(&["selfsign", "--host", host, "--out", &out]).0, 0);
    dir
}

fn push(
    emulator: &Emulator,
    dir: &Path,
    backups: &Path,
    extra: &[&str],
) -> (i32, serde_json::Value) {
    let (dir, backups, kubeconfig) = (
        dir.display().to_string(),
        backups.display().to_string(),
        emulator.kubeconfig(),
    );
    let mut args = vec![
        "push",
        "--namespace",
        "cattle-system",
        "--dir",
        &dir,
        "--kubeconfig",
        &kubeconfig,
        "--backup-dir",
        &backups,
        "--timeout",
        "5s",
    ];
    args.extend(extra);
    run_json(&args)
}

/// What kubectl reads back from secret cattle-system/NAME under KEY equals `expected`.
fn assert_landed(emulator: &Emulator, secret: &str, key: &str, expected: &[u8]) {
    let found = emulator.kubectl_get("cattle-system", secret, key);
    assert_eq!(found.as_deref(), Some(expected), "{secret} {key}");
}

fn file(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap()
}

#[test]
fn fresh_cluster_creates_namespace_and_both_secrets() {
    let emulator = Emulator::start();
    let files = certs("rancher.example.com");
    let backups = tempfile::tempdir().unwrap();
    let (code, json) = push(&emulator, files.path(), backups.path(), &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["namespace_created"], true);
    assert_eq!(json["secrets"][0]["name"], "tls-ca");
    assert_eq!(json["secrets"][0]["action"], "created");
    assert_eq!(json["secrets"][1]["name"], "tls-rancher-ingress");
    assert_eq!(json["secrets"][1]["type"], "kubernetes.io/tls");
    // GET both secrets, GET + POST the namespace (only because they were missing),
    // two server-side applies.
    assert_eq!(json["api_requests"], 6, "{json:#}");
    let requests = emulator.requests();
    assert_eq!(
        requests.len() as u64,
        json["api_requests"].as_u64().unwrap(),
        "{requests:?}"
    );
    let ca_at = requests
        .iter()
        .position(|r| r.starts_with("PATCH") && r.ends_with("/secrets/tls-ca"))
        .unwrap();
    let tls_at = requests
        .iter()
        .position(|r| r.starts_with("PATCH") && r.ends_with("/secrets/tls-rancher-ingress"))
        .unwrap();
    assert!(ca_at < tls_at, "tls-ca first: {requests:?}");

    assert_landed(
        &emulator,
        "tls-rancher-ingress",
        "tls.crt",
        &file(files.path(), "tls.crt"),
    );
    assert_landed(
        &emulator,
        "tls-rancher-ingress",
        "tls.key",
        &file(files.path(), "tls.key"),
    );
    assert_landed(
        &emulator,
        "tls-ca",
        "cacerts.pem",
        &file(files.path(), "cacerts.pem"),
    );
    assert!(
        snapshot(backups.path()).is_empty(),
        "nothing replaced, nothing backed up"
    );
    let steps = json["next_steps"].to_string();
    assert!(
        steps.contains("ingress.tls.source=secret") && steps.contains("privateCA=true"),
        "{steps}"
    );
    assert!(steps.contains(json["ca_checksum"].as_str().unwrap()));
}

#[test]
fn existing_secrets_are_backed_up_then_updated_and_a_rerun_is_unchanged() {
    let emulator = Emulator::start();
    let (old, new) = (certs("rancher.example.com"), certs("rancher.example.com"));
    let backups = tempfile::tempdir().unwrap();
    assert_eq!(push(&emulator, old.path(), backups.path(), &[]).0, 0);

    let (code, json) = push(&emulator, new.path(), backups.path(), &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["namespace_created"], false);
    for secret in json["secrets"].as_array().unwrap() {
        assert_eq!(secret["action"], "updated", "{secret:#}");
        assert_ne!(secret["old"], secret["new"]);
        assert!(secret["old"].as_str().unwrap().contains("sha256"));
        let backup = secret["backup"].as_str().unwrap();
        let mode = std::fs::metadata(backup).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{backup}");
        let saved = std::fs::read_to_string(backup).unwrap();
        assert!(saved.contains("kind: Secret"), "{saved}");
    }
    assert_landed(
        &emulator,
        "tls-rancher-ingress",
        "tls.crt",
        &file(new.path(), "tls.crt"),
    );
    let backup_files = snapshot(backups.path());
    assert_eq!(backup_files.len(), 2);
    let old_key_b64 = std::process::Command::new("base64")
        .arg("-w0")
        .arg(old.path().join("tls.key"))
        .output()
        .unwrap()
        .stdout;
    assert!(
        backup_files
            .iter()
            .any(|(_, bytes)| String::from_utf8_lossy(bytes)
                .contains(&*String::from_utf8_lossy(&old_key_b64))),
        "the old key is in a backup"
    );

    let (code, json) = push(&emulator, new.path(), backups.path(), &[]);
    assert_eq!(code, 0);
    for secret in json["secrets"].as_array().unwrap() {
        assert_eq!(secret["action"], "unchanged", "{secret:#}");
    }
    assert_eq!(snapshot(backups.path()).len(), 2, "no new backups");
    let (_, text, _) = run(&[
        "push",
        "--dir",
        &new.path().display().to_string(),
        "--kubeconfig",
        &emulator.kubeconfig(),
        "--backup-dir",
        &backups.path().display().to_string(),
    ]);
    assert!(
        text.contains("tls-rancher-ingress (kubernetes.io/tls): unchanged"),
        "{text}"
    );
}

#[test]
fn context_selects_one_of_two() {
    let emulator = Emulator::start();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let kubeconfig =
        emulator.write_kubeconfig("two", &[("dead", &dead), ("emu", &emulator.url)], "dead");
    let files = certs("rancher.example.com");
    let (dir, backups) = (
        files.path().display().to_string(),
        files.path().display().to_string(),
    );
    let base = [
        "push",
        "--dir",
        &dir,
        "--kubeconfig",
        &kubeconfig,
        "--backup-dir",
        &backups,
        "--timeout",
        "2s",
    ];

    let (code, json) = run_json(&[&base[..], &["--context", "emu"]].concat());
    assert_eq!(code, 0, "{json:#}");
    assert!(json["server"].as_str().unwrap().starts_with(&emulator.url));

    let (code, json) = run_json(&base);
    assert_eq!(code, 3, "current context points to a dead server: {json:#}");

    let (code, _, stderr) = run(&[&base[..], &["--context", "nope"]].concat());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("kubeconfig"), "{stderr}");
}

#[test]
fn kubeconfig_from_the_environment_like_kubectl() {
    let emulator = Emulator::start();
    let files = certs("rancher.example.com");
    let missing = emulator.dir.path().join("missing").display().to_string();
    let output = rcert()
        .env("KUBECONFIG", format!("{missing}:{}", emulator.kubeconfig()))
        .env("HOME", emulator.dir.path())
        .args([
            "push",
            "--dir",
            &files.path().display().to_string(),
            "--backup-dir",
            &files.path().display().to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn api_down_changes_nothing_and_leaves_no_backup() {
    let emulator = Emulator::start();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let kubeconfig = emulator.write_kubeconfig("dead", &[("dead", &dead)], "dead");
    let files = certs("rancher.example.com");
    let backups = tempfile::tempdir().unwrap();
    let (code, json) = run_json(&[
        "push",
        "--dir",
        &files.path().display().to_string(),
        "--kubeconfig",
        &kubeconfig,
        "--backup-dir",
        &backups.path().display().to_string(),
        "--timeout",
        "2s",
    ]);
    assert_eq!(code, 3);
    let error = json["error"].as_str().unwrap();
    assert!(
        error.contains("unreachable")
            && error.contains("secret cattle-system/tls-ca")
            && error.ends_with("nothing was changed"),
        "{error}"
    );
    assert!(snapshot(backups.path()).is_empty());
}

#[test]
fn forbidden_is_one_clear_line_and_changes_nothing() {
    let emulator = Emulator::start();
    let files = certs("rancher.example.com");
    let backups = tempfile::tempdir().unwrap();
    emulator.fault("PATCH", "/secrets/tls-ca", 403);
    let (code, json) = push(&emulator, files.path(), backups.path(), &[]);
    assert_eq!(code, 3);
    let error = json["error"].as_str().unwrap();
    assert!(
        error.contains("403 Forbidden")
            && error.contains("RBAC denies 'patch'")
            && error.contains("secret cattle-system/tls-ca"),
        "{error}"
    );
    assert!(error.contains("nothing was changed"), "{error}");
    assert_eq!(json["secrets"][1]["action"], "not attempted");
    assert!(emulator
        .kubectl_get("cattle-system", "tls-rancher-ingress", "tls.crt")
        .is_none());
    let (_, _, stderr) = run(&[
        "push",
        "--dir",
        &files.path().display().to_string(),
        "--kubeconfig",
        &emulator.kubeconfig(),
        "--backup-dir",
        &backups.path().display().to_string(),
    ]);
    assert!(stderr.is_empty(), "the report goes to stdout: {stderr}");
}

#[test]
fn unauthorized_and_server_errors() {
    let emulator = Emulator::start();
    let files = certs("rancher.example.com");
    let backups = tempfile::tempdir().unwrap();
    emulator.fault("GET", "/namespaces/cattle-system", 401);
    let (code, json) = push(&emulator, files.path(), backups.path(), &[]);
    assert_eq!(code, 3);
    assert!(
        json["error"].as_str().unwrap().contains("401 Unauthorized"),
        "{json:#}"
    );
    emulator.control("DELETE", "/_rcert/faults", "");
    emulator.fault("POST", "/api/v1/namespaces", 500);
    let (code, json) = push(&emulator, files.path(), backups.path(), &[]);
    assert_eq!(code, 3);
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("API server error 500"),
        "{json:#}"
    );
}

#[test]
fn second_secret_failing_after_the_first_rolls_the_first_back() {
    let emulator = Emulator::start();
    let (old, new) = (certs("rancher.example.com"), certs("rancher.example.com"));
    let backups = tempfile::tempdir().unwrap();
    assert_eq!(push(&emulator, old.path(), backups.path(), &[]).0, 0);
    emulator.fault("PATCH", "/secrets/tls-rancher-ingress", 500);
    let (code, json) = push(&emulator, new.path(), backups.path(), &[]);
    assert_eq!(code, 3, "{json:#}");
    let error = json["error"].as_str().unwrap();
    let ca_backup = json["secrets"][0]["backup"].as_str().unwrap();
    assert!(
        error.contains(&format!(
            "rolled back: secret cattle-system/tls-ca restored from {ca_backup}; the cluster is as it was"
        )),
        "{error}"
    );
    assert_eq!(json["secrets"][0]["action"], "rolled back");
    assert_eq!(json["secrets"][1]["action"], "failed");
    // The new CA does not stay next to the old certificate.
    assert_landed(
        &emulator,
        "tls-ca",
        "cacerts.pem",
        &file(old.path(), "cacerts.pem"),
    );
    assert_landed(
        &emulator,
        "tls-rancher-ingress",
        "tls.crt",
        &file(old.path(), "tls.crt"),
    );
    assert_eq!(
        snapshot(backups.path()).len(),
        1,
        "the rolled-back secret's backup stays, the untouched one's is removed"
    );
}

#[test]
fn invalid_inputs_are_refused_before_any_request() {
    let emulator = Emulator::start();
    let files = certs("rancher.example.com");
    let other = certs("rancher.example.com");
    std::fs::copy(other.path().join("tls.key"), files.path().join("tls.key")).unwrap();
    let backups = tempfile::tempdir().unwrap();
    let (code, json) = push(&emulator, files.path(), backups.path(), &[]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["refused"], true);
    assert!(
        emulator.requests().is_empty(),
        "the emulator saw no request"
    );

    let (code, _, stderr) = run(&[
        "push",
        "--cert",
        &fixture("fullchain.pem"),
        "--key",
        &fixture("encrypted.key"),
        "--kubeconfig",
        &emulator.kubeconfig(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("decrypt it first"), "{stderr}");
    let (code, json) = run_json(&[
        "push",
        "--cert",
        &fixture("fullchain.pem"),
        "--key",
        &fixture("leaf.key"),
        "--ca",
        &fixture("cacerts-whole-chain.pem"),
        "--kubeconfig",
        &emulator.kubeconfig(),
    ]);
    assert_eq!(code, 1, "{json:#}");
    assert!(emulator.requests().is_empty());

    let (code, json) = push(&emulator, files.path(), backups.path(), &["--force"]);
    assert_eq!(code, 0, "--force pushes anyway: {json:#}");
}

#[test]
fn tls_error_to_the_api_server() {
    let emulator = Emulator::start();
    let port = free_port();
    let mut server = Process::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-www",
            "-accept",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "-cert",
            &fixture("self-signed.pem"),
            "-key",
            &fixture("self-signed.key"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..300 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let kubeconfig = emulator.write_kubeconfig(
        "tls",
        &[("tls", &format!("https://127.0.0.1:{port}"))],
        "tls",
    );
    let files = certs("rancher.example.com");
    let (code, json) = run_json(&[
        "push",
        "--dir",
        &files.path().display().to_string(),
        "--kubeconfig",
        &kubeconfig,
        "--backup-dir",
        &files.path().display().to_string(),
        "--timeout",
        "3s",
    ]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(code, 3, "{json:#}");
    assert!(
        json["error"].as_str().unwrap().contains("TLS error"),
        "{json:#}"
    );
}

#[test]
fn bad_kubeconfig_is_bad_input() {
    let files = certs("rancher.example.com");
    let (code, _, stderr) = run(&[
        "push",
        "--dir",
        &files.path().display().to_string(),
        "--kubeconfig",
        &corpus("garbage.txt"),
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("kubeconfig") && stderr.contains("garbage.txt"),
        "{stderr}"
    );
}

/// Parse YAML documents (via kubectl-independent serde-saphyr) into JSON values.
fn yaml_documents(text: &str) -> Vec<serde_json::Value> {
    text.split("\n---\n")
        .filter(|doc| !doc.trim().is_empty())
        .map(|doc| serde_saphyr::from_str::<serde_json::Value>(doc).unwrap())
        .collect()
}

/// Compare what matters: kubectl's `creationTimestamp: null` and rcert's
/// managed-by label are the only differences allowed.
fn normalised(mut value: serde_json::Value) -> serde_json::Value {
    if let Some(metadata) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        metadata.remove("creationTimestamp");
        metadata.remove("labels");
    }
    value
}

#[test]
fn dry_run_matches_kubectl_create_secret() {
    let files = certs("rancher.example.com");
    let path = |name: &str| files.path().join(name).display().to_string();
    let output = rcert()
        .args([
            "push",
            "--namespace",
            "cattle-system",
            "--dir",
            &files.path().display().to_string(),
            "--dry-run",
        ])
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let ours = yaml_documents(&String::from_utf8_lossy(&output.stdout));
    assert_eq!(ours.len(), 2);
    assert_eq!(
        ours[1]["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "rcert"
    );

    let kubectl = |args: &[&str]| {
        let output = Process::new("kubectl")
            .args(args)
            .output()
            .expect("kubectl runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        yaml_documents(&String::from_utf8_lossy(&output.stdout)).remove(0)
    };
    let tls = kubectl(&[
        "-n",
        "cattle-system",
        "create",
        "secret",
        "tls",
        "tls-rancher-ingress",
        &format!("--cert={}", path("tls.crt")),
        &format!("--key={}", path("tls.key")),
        "--dry-run=client",
        "-o",
        "yaml",
    ]);
    let ca = kubectl(&[
        "-n",
        "cattle-system",
        "create",
        "secret",
        "generic",
        "tls-ca",
        &format!("--from-file=cacerts.pem={}", path("cacerts.pem")),
        "--dry-run=client",
        "-o",
        "yaml",
    ]);
    assert_eq!(normalised(ours[1].clone()), normalised(tls));
    let mut ca = normalised(ca);
    let mut our_ca = normalised(ours[0].clone());
    // kubectl leaves `type: Opaque` implicit for generic secrets; so does rcert.
    ca.as_object_mut().unwrap().remove("type");
    our_ca.as_object_mut().unwrap().remove("type");
    assert_eq!(our_ca, ca);
}

#[test]
fn json_output_parses_and_names_are_checked() {
    let files = certs("rancher.example.com");
    let (code, json) = run_json(&[
        "push",
        "--dir",
        &files.path().display().to_string(),
        "--dry-run",
    ]);
    assert_eq!(code, 0);
    assert_eq!(json["dry_run"], true);
    assert!(json["manifests"].as_str().unwrap().contains("kind: Secret"));
    let (code, _, stderr) = run(&[
        "push",
        "--namespace",
        "Cattle_System",
        "--dir",
        &files.path().display().to_string(),
        "--dry-run",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("namespace 'Cattle_System' is not a valid Kubernetes namespace"),
        "{stderr}"
    );
    // Namespaces are DNS-1123 labels: no dots, at most 63 characters.
    let long = "a".repeat(64);
    for bad in ["a..b", "cattle.system", long.as_str()] {
        let dir = files.path().display().to_string();
        let (code, _, stderr) = run(&["push", "-n", bad, "--dir", &dir, "--dry-run"]);
        assert_eq!(code, 2, "{bad}");
        assert!(
            stderr.contains(&format!(
                "namespace '{bad}' is not a valid Kubernetes namespace"
            )),
            "{stderr}"
        );
    }
    let dir = files.path().display().to_string();
    let (code, _, stderr) = run(&["push", "--secret-name", "a..b", "--dir", &dir, "--dry-run"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("'a..b' is not a valid Kubernetes name"),
        "{stderr}"
    );
    let (code, _, _) = run(&["push", "--dry-run"]);
    assert_eq!(code, 2, "no input");
}

#[test]
fn api_server_that_never_answers_times_out() {
    let emulator = Emulator::start();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(4).flatten().collect();
        std::thread::sleep(Duration::from_secs(10));
        drop(held);
    });
    let kubeconfig = emulator.write_kubeconfig(
        "silent",
        &[("silent", &format!("http://{address}"))],
        "silent",
    );
    let files = certs("rancher.example.com");
    let started = std::time::Instant::now();
    let (code, json) = run_json(&[
        "push",
        "--dir",
        &files.path().display().to_string(),
        "--kubeconfig",
        &kubeconfig,
        "--backup-dir",
        &files.path().display().to_string(),
        "--timeout",
        "1s",
    ]);
    assert_eq!(code, 3, "{json:#}");
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("did not answer in time"),
        "{json:#}"
    );
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[test]
fn der_inputs_are_stored_as_pem_like_kubectl_would_store_the_pem_files() {
    let files = certs("rancher.example.com");
    let path = |name: &str| files.path().join(name).display().to_string();
    // The same certificate, key and CA as DER files, and the PEM they correspond to.
    for (args, _) in [
        (
            vec![
                "x509",
                "-in",
                &path("tls.crt"),
                "-outform",
                "DER",
                "-out",
                &path("leaf.der"),
            ],
            (),
        ),
        (
            vec!["x509", "-in", &path("tls.crt"), "-out", &path("leaf.pem")],
            (),
        ),
        (
            vec![
                "pkey",
                "-in",
                &path("tls.key"),
                "-outform",
                "DER",
                "-out",
                &path("key.der"),
            ],
            (),
        ),
        (
            vec![
                "x509",
                "-in",
                &path("cacerts.pem"),
                "-outform",
                "DER",
                "-out",
                &path("ca.der"),
            ],
            (),
        ),
        // openssl writes an EC key's DER in the SEC1 form: it stays SEC1, as PEM.
        (
            vec![
                "ec",
                "-inform",
                "DER",
                "-in",
                &path("key.der"),
                "-out",
                &path("key.sec1.pem"),
            ],
            (),
        ),
    ] {
        let (ok, text) = openssl(&args);
        assert!(ok, "{text}");
    }
    let output = rcert()
        .args([
            "push",
            "-n",
            "x",
            "--cert",
            &path("leaf.der"),
            "--key",
            &path("key.der"),
            "--ca",
            &path("ca.der"),
            "--dry-run",
        ])
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let ours = yaml_documents(&String::from_utf8_lossy(&output.stdout));
    let data = |doc: &serde_json::Value, key: &str| doc["data"][key].as_str().unwrap().to_string();
    let b64 = |bytes: Vec<u8>| base64(&bytes);
    assert_eq!(
        data(&ours[1], "tls.crt"),
        b64(file(files.path(), "leaf.pem"))
    );
    assert_eq!(
        data(&ours[1], "tls.key"),
        b64(file(files.path(), "key.sec1.pem"))
    );
    assert_eq!(
        data(&ours[0], "cacerts.pem"),
        b64(file(files.path(), "cacerts.pem"))
    );
}

#[test]
fn a_certificate_file_holding_a_key_is_refused() {
    let files = certs("rancher.example.com");
    let path = |name: &str| files.path().join(name).display().to_string();
    let mut both = file(files.path(), "tls.crt");
    both.extend(file(files.path(), "tls.key"));
    std::fs::write(files.path().join("both.pem"), both).unwrap();
    let (code, _, stderr) = run(&[
        "push",
        "-n",
        "x",
        "--cert",
        &path("both.pem"),
        "--key",
        &path("tls.key"),
        "--dry-run",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("both.pem: holds a private key next to the certificate(s)"),
        "{stderr}"
    );
}

#[test]
fn an_opaque_tls_secret_is_detected_before_any_change_and_replace_fixes_it() {
    let emulator = Emulator::start();
    let (old, new) = (certs("rancher.example.com"), certs("rancher.example.com"));
    let backups = tempfile::tempdir().unwrap();
    // An operator once created tls-rancher-ingress as a generic (Opaque) secret.
    let (code, json) = push(
        &emulator,
        old.path(),
        backups.path(),
        &[
            "--ca-secret-name",
            "tls-rancher-ingress",
            "--secret-name",
            "unrelated",
        ],
    );
    assert_eq!(code, 0, "{json:#}");
    let before = emulator.kubectl_get("cattle-system", "tls-rancher-ingress", "cacerts.pem");
    let (code, json) = push(&emulator, new.path(), backups.path(), &[]);
    assert_eq!(code, 1, "{json:#}");
    let error = json["error"].as_str().unwrap();
    assert!(
        error.contains("secret cattle-system/tls-rancher-ingress is of type Opaque")
            && error.contains("rerun with --replace")
            && error.ends_with("nothing was changed"),
        "{error}"
    );
    assert_eq!(
        emulator.kubectl_get("cattle-system", "tls-rancher-ingress", "cacerts.pem"),
        before
    );
    assert!(emulator
        .kubectl_get("cattle-system", "tls-ca", "cacerts.pem")
        .is_none());

    let (code, json) = push(&emulator, new.path(), backups.path(), &["--replace"]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["secrets"][1]["action"], "replaced");
    let backup = json["secrets"][1]["backup"].as_str().unwrap();
    assert!(
        std::fs::read_to_string(backup)
            .unwrap()
            .contains("cacerts.pem:"),
        "the Opaque secret, backed up"
    );
    assert_landed(
        &emulator,
        "tls-rancher-ingress",
        "tls.crt",
        &file(new.path(), "tls.crt"),
    );
}

#[test]
fn a_new_ca_warns_with_both_checksums() {
    let emulator = Emulator::start();
    let (old, new) = (certs("rancher.example.com"), certs("rancher.example.com"));
    let backups = tempfile::tempdir().unwrap();
    let (_, first) = push(&emulator, old.path(), backups.path(), &[]);
    assert!(
        first["secrets"][0]["warning"].is_null(),
        "a first push moves no checksum"
    );
    let (code, json) = push(&emulator, new.path(), backups.path(), &[]);
    assert_eq!(code, 0, "{json:#}");
    let old_sum = sha256sum(&file(old.path(), "cacerts.pem"));
    let new_sum = sha256sum(&file(new.path(), "cacerts.pem"));
    let warning = json["secrets"][0]["warning"].as_str().unwrap();
    assert!(
        warning.contains(&format!(
            "CATTLE_CA_CHECKSUM changes from {old_sum} to {new_sum}"
        )) && warning.contains("io.cattle.agent.force.deploy=true"),
        "{warning}"
    );
    let (code, stdout, _) = run(&[
        "push",
        "-n",
        "cattle-system",
        "--dir",
        &old.path().display().to_string(),
        "--kubeconfig",
        &emulator.kubeconfig(),
        "--backup-dir",
        &backups.path().display().to_string(),
    ]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("warning  secret tls-ca (Opaque): updated"),
        "{stdout}"
    );
}

#[test]
fn an_unwritable_backup_dir_is_bad_input_before_any_request() {
    let emulator = Emulator::start();
    let files = certs("rancher.example.com");
    let blocker = tempfile::NamedTempFile::new().unwrap();
    let (code, json) = push(&emulator, files.path(), blocker.path(), &[]);
    assert_eq!(code, 2, "{json:#}");
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("cannot use as output directory"),
        "{json:#}"
    );
    assert!(emulator.requests().is_empty());
}

#[test]
fn additional_cas_become_tls_ca_additional_without_leaves_or_duplicates() {
    let files = certs("rancher.example.com");
    let dir = files.path().display().to_string();
    let output = rcert()
        .args([
            "push",
            "-n",
            "cattle-system",
            "--dir",
            &dir,
            "--dry-run",
            "--additional-ca",
            &fixture("root.pem"),
            "--additional-ca",
            &fixture("other-root.pem"),
            "--additional-ca",
            &fixture("root.pem"),
        ])
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let docs = yaml_documents(&String::from_utf8_lossy(&output.stdout));
    assert_eq!(docs[0]["metadata"]["name"], "tls-ca-additional");
    let expected = [fixture("root.pem"), fixture("other-root.pem")]
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect::<String>();
    assert_eq!(
        docs[0]["data"]["ca-additional.pem"],
        base64(expected.as_bytes())
    );
    assert!(stderr.contains("dropped a duplicate of"), "{stderr}");
    assert!(
        stderr.contains("--set additionalTrustedCAs=true"),
        "{stderr}"
    );
    // A leaf is refused with the reason; nothing is sent.
    let (code, stdout, _) = run(&[
        "push",
        "-n",
        "cattle-system",
        "--dir",
        &dir,
        "--dry-run",
        "--additional-ca",
        &fixture("leaf.pem"),
    ]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("is not a CA certificate; tls-ca-additional holds the CAs"),
        "{stdout}"
    );
}

#[test]
fn a_secret_cert_manager_manages_is_not_overwritten_without_force() {
    let emulator = Emulator::start();
    let files = certs("rancher.example.com");
    let backups = tempfile::tempdir().unwrap();
    let managed = common::emulator::annotated(
        common::emulator::secret_json(
            "cattle-system",
            "tls-rancher-ingress",
            "kubernetes.io/tls",
            &[
                ("tls.crt", fixture_bytes("fullchain.pem")),
                ("tls.key", fixture_bytes("leaf.key")),
            ],
        ),
        &[
            ("cert-manager.io/certificate-name", "tls-rancher-ingress"),
            ("cert-manager.io/issuer-name", "rancher"),
        ],
    );
    emulator.seed("v1/secrets", &[managed]);
    let (code, json) = push(&emulator, files.path(), backups.path(), &[]);
    assert_eq!(code, 1, "{json:#}");
    let error = json["error"].as_str().unwrap();
    assert!(
        error.contains("secret cattle-system/tls-rancher-ingress is managed by Certificate tls-rancher-ingress")
            && error.contains("pass --force")
            && error.ends_with("nothing was changed"),
        "{error}"
    );
    assert_landed(
        &emulator,
        "tls-rancher-ingress",
        "tls.crt",
        &std::fs::read(fixtures().join("fullchain.pem")).unwrap(),
    );
    assert!(emulator
        .kubectl_get("cattle-system", "tls-ca", "cacerts.pem")
        .is_none());
    let (code, json) = push(&emulator, files.path(), backups.path(), &["--force"]);
    assert_eq!(code, 0, "{json:#}");
    assert_landed(
        &emulator,
        "tls-rancher-ingress",
        "tls.crt",
        &file(files.path(), "tls.crt"),
    );
}

#[test]
fn kubeconfig_errors_are_one_line_with_the_path_quoted_once() {
    let files = certs("rancher.example.com");
    let dir = files.path().display().to_string();
    let (code, _, stderr) = run(&["push", "--dir", &dir, "--kubeconfig", "/nonexistent/kc"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr.trim(),
        "rcert: error: kubeconfig: /nonexistent/kc: cannot read: no such file"
    );
    let bad = files.path().join("bad-kubeconfig");
    std::fs::write(&bad, "garbage: [\n").unwrap();
    let (code, _, stderr) = run(&[
        "push",
        "--dir",
        &dir,
        "--kubeconfig",
        &bad.display().to_string(),
    ]);
    assert_eq!(code, 2);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not a valid kubeconfig"), "{stderr}");
}

#[test]
fn additional_cas_are_checked_against_the_helm_release() {
    let emulator = Emulator::start();
    let files = certs("rancher.example.com");
    let backups = tempfile::tempdir().unwrap();
    let root = fixture("root.pem");
    let args = ["--additional-ca", root.as_str()];
    // No release: Rancher installed another way.
    let (code, json) = push(&emulator, files.path(), backups.path(), &args);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(
        json["additional_trusted_cas"]["status"], "warning",
        "{json:#}"
    );
    assert!(
        json["additional_trusted_cas"]["message"]
            .as_str()
            .unwrap()
            .starts_with("no rancher helm release in cattle-system"),
        "{json:#}"
    );
    assert_landed(
        &emulator,
        "tls-ca-additional",
        "ca-additional.pem",
        &std::fs::read(&root).unwrap(),
    );
    // A release without the flag: the helm upgrade line.
    emulator.seed(
        "v1/secrets",
        &[common::emulator::helm_release_secret(
            "cattle-system",
            "rancher",
            2,
            "deployed",
            serde_json::json!({"hostname": "rancher.example.com", "privateCA": true}),
        )],
    );
    let (code, json) = push(&emulator, files.path(), backups.path(), &args);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(
        json["additional_trusted_cas"]["message"],
        "helm release rancher v2 has additionalTrustedCAs=unset: Rancher ignores tls-ca-additional until helm upgrade rancher rancher-latest/rancher -n cattle-system --reuse-values --set additionalTrustedCAs=true"
    );
    // The next revision sets it.
    emulator.seed(
        "v1/secrets",
        &[common::emulator::helm_release_secret(
            "cattle-system",
            "rancher",
            3,
            "deployed",
            serde_json::json!({"hostname": "rancher.example.com", "additionalTrustedCAs": true}),
        )],
    );
    let (code, json) = push(&emulator, files.path(), backups.path(), &args);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["additional_trusted_cas"]["status"], "ok", "{json:#}");
    assert_eq!(
        json["additional_trusted_cas"]["message"],
        "helm release rancher v3 has additionalTrustedCAs=true: Rancher trusts tls-ca-additional"
    );
    // Without --additional-ca the release is not read.
    let (_, json) = push(&emulator, files.path(), backups.path(), &[]);
    assert!(json.get("additional_trusted_cas").is_none(), "{json:#}");
}

/// The one-line error of a push against a kubeconfig whose only cluster is `server`
/// (with `extra` lines under `cluster:`).
fn push_error(server: &str, extra: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n{extra}\
             users:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n"
        ),
    )
    .unwrap();
    let files = certs("rancher.example.com");
    let (code, json) = run_json(&[
        "push",
        "--dir",
        &files.path().display().to_string(),
        "--kubeconfig",
        &kubeconfig.display().to_string(),
        "--backup-dir",
        &files.path().display().to_string(),
        "--timeout",
        "3s",
    ]);
    (code, json["error"].as_str().unwrap_or_default().to_string())
}

#[test]
fn api_transport_failures_are_named_by_their_kind() {
    // Nothing listens: unreachable.
    let (code, error) = push_error(&format!("https://127.0.0.1:{}", free_port()), "");
    assert_eq!(code, 3);
    assert!(
        error.starts_with("cannot get secret cattle-system/tls-ca: API server unreachable: "),
        "{error}"
    );
    // A TLS server whose chain the kubeconfig's CA does not trust: a TLS error.
    let (_server, address) = common::servers::s_server(&[
        "-cert",
        &fixture("fullchain.pem"),
        "-key",
        &fixture("leaf.key"),
    ]);
    let ca_data = base64(&std::fs::read(fixtures().join("other-root.pem")).unwrap());
    let (code, error) = push_error(
        &format!("https://{address}"),
        &format!("    certificate-authority-data: {ca_data}\n"),
    );
    assert_eq!(code, 3);
    assert!(
        error.starts_with(
            "cannot get secret cattle-system/tls-ca: TLS error talking to the API server: "
        ),
        "{error}"
    );
}

#[test]
fn additional_cas_alone_publish_only_tls_ca_additional() {
    let emulator = Emulator::start();
    let backups = tempfile::tempdir().unwrap();
    let (root, other) = (fixture("root.pem"), fixture("other-root.pem"));
    let (kubeconfig, backups) = (emulator.kubeconfig(), backups.path().display().to_string());
    // Several files after one flag, as the README shows them.
    let (code, json) = run_json(&[
        "push",
        "--namespace",
        "cattle-system",
        "--kubeconfig",
        &kubeconfig,
        "--backup-dir",
        &backups,
        "--additional-ca",
        &root,
        &other,
    ]);
    assert_eq!(code, 0, "{json:#}");
    let names: Vec<&str> = json["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tls-ca-additional"], "{json:#}");
    let expected = [
        std::fs::read(&root).unwrap(),
        std::fs::read(&other).unwrap(),
    ]
    .concat();
    assert_landed(
        &emulator,
        "tls-ca-additional",
        "ca-additional.pem",
        &expected,
    );
    assert_eq!(
        emulator.kubectl_get("cattle-system", "tls-rancher-ingress", "tls.crt"),
        None
    );
}

/// Start `rcert push` of `dir` as its own process, wait until the API has seen the PATCH of
/// `secret` (held back by the emulator), send `signals` SIGINTs, and return (code, stdout,
/// stderr).
fn push_interrupted(
    emulator: &Emulator,
    dir: &Path,
    backups: &Path,
    secret: &str,
    signals: usize,
) -> (i32, String, String) {
    let earlier = emulator.requests().len();
    let child = Process::new(env!("CARGO_BIN_EXE_rcert"))
        .args(["push", "--namespace", "cattle-system", "--dir"])
        .arg(dir)
        .args(["--kubeconfig", &emulator.kubeconfig(), "--backup-dir"])
        .arg(backups)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let seen = |emulator: &Emulator| {
        emulator
            .requests()
            .iter()
            .skip(earlier)
            .any(|r| r.starts_with("PATCH") && r.ends_with(secret))
    };
    let mut waited = 0;
    while !seen(emulator) {
        assert!(waited < 100, "rcert never sent the PATCH of {secret}");
        std::thread::sleep(Duration::from_millis(100));
        waited += 1;
    }
    for _ in 0..signals {
        let status = Process::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(200));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// A cluster holding an old set, and a push of a new one interrupted by `signals` Ctrl-Cs
/// while the second secret's request is in flight (held back 2 s by the emulator).
/// Returns the emulator, the old set, and (code, stdout, stderr).
fn interrupted_push(signals: usize) -> (Emulator, tempfile::TempDir, (i32, String, String)) {
    let emulator = Emulator::start();
    let old = certs("rancher.example.com");
    let backups = tempfile::tempdir().unwrap();
    assert_eq!(push(&emulator, old.path(), backups.path(), &[]).0, 0);
    let new = certs("rancher.example.com");
    emulator.control(
        "POST",
        "/_rcert/delays",
        r#"{"method": "PATCH", "path": "tls-rancher-ingress", "seconds": 2, "times": 1}"#,
    );
    let outcome = push_interrupted(
        &emulator,
        new.path(),
        backups.path(),
        "tls-rancher-ingress",
        signals,
    );
    (emulator, old, outcome)
}

#[test]
fn ctrl_c_between_the_two_secrets_rolls_back_and_says_so() {
    let (emulator, old, (code, stdout, stderr)) = interrupted_push(1);
    assert_eq!(code, 130, "{stdout}{stderr}");
    assert!(
        stdout.contains("interrupted (SIGINT/SIGTERM) after the last request; rolled back: secret cattle-system/tls-rancher-ingress restored from"),
        "{stdout}"
    );
    assert_landed(
        &emulator,
        "tls-ca",
        "cacerts.pem",
        &file(old.path(), "cacerts.pem"),
    );
    assert_landed(
        &emulator,
        "tls-rancher-ingress",
        "tls.crt",
        &file(old.path(), "tls.crt"),
    );
}

#[test]
fn a_second_ctrl_c_during_the_roll_back_says_what_is_left() {
    let (_emulator, _old, (code, stdout, stderr)) = interrupted_push(2);
    assert_eq!(code, 130, "{stdout}{stderr}");
    assert!(stdout.contains("NOT rolled back"), "{stdout}");
    assert!(
        stdout.contains("secret cattle-system/tls-ca is CHANGED and was not restored (interrupted again): kubectl apply -f"),
        "{stdout}"
    );
}
