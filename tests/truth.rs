//! The truth pass: no published CA key, the checksum Rancher really computes, nothing a
//! certificate says can rewrite the report, re-running selfsign keeps the CA.

mod common;

use common::{openssl, run, sha256sum};
use std::path::Path;

/// A fresh `rcert selfsign` set for rancher.example.com in `dir`.
fn selfsigned(dir: &Path) {
    let out = dir.display().to_string();
    let (code, _, stderr) = run(&["selfsign", "--host", "rancher.example.com", "--out", &out]);
    assert_eq!(code, 0, "{stderr}");
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// cacerts.pem with the CA key appended: `cat cacerts.pem cakey.pem > bundle.pem`.
fn bundle_with_key(dir: &Path, key_pem: &[u8]) -> String {
    let mut bytes = std::fs::read(dir.join("cacerts.pem")).unwrap();
    bytes.extend_from_slice(key_pem);
    let bundle = dir.join("bundle.pem");
    std::fs::write(&bundle, bytes).unwrap();
    bundle.display().to_string()
}

#[test]
fn selfsign_refuses_a_ca_file_holding_its_key() {
    let dir = tempfile::tempdir().unwrap();
    selfsigned(dir.path());
    let key = std::fs::read(dir.path().join("cakey.pem")).unwrap();
    let bundle = bundle_with_key(dir.path(), &key);
    let renewed = dir.path().join("renewed");
    let (code, stdout, stderr) = run(&[
        "selfsign",
        "--host",
        "rancher.example.com",
        "--ca-cert",
        &bundle,
        "--ca-key",
        &bundle,
        "--out",
        &renewed.display().to_string(),
    ]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("holds a private key next to the CA certificate")
            && stderr.contains("sed -n '/-BEGIN CERTIFICATE-/,/-END CERTIFICATE-/p'"),
        "{stderr}"
    );
    assert!(!renewed.join("cacerts.pem").exists());
}

#[test]
fn verify_fails_a_ca_file_holding_a_key_of_any_kind() {
    let dir = tempfile::tempdir().unwrap();
    selfsigned(dir.path());
    let encrypted = dir.path().join("enc.pem");
    let (ok, text) = openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-aes256",
        "-pass",
        "pass:secret",
        "-out",
        &encrypted.display().to_string(),
    ]);
    assert!(ok, "{text}");
    let rsa = dir.path().join("rsa.pem");
    let (ok, text) = openssl(&[
        "genrsa",
        "-traditional",
        "-out",
        &rsa.display().to_string(),
        "2048",
    ]);
    assert!(ok, "{text}");
    for (key, label) in [
        (
            std::fs::read(dir.path().join("cakey.pem")).unwrap(),
            "PRIVATE KEY",
        ),
        (std::fs::read(&encrypted).unwrap(), "ENCRYPTED PRIVATE KEY"),
        (std::fs::read(&rsa).unwrap(), "RSA PRIVATE KEY"),
    ] {
        let bundle = bundle_with_key(dir.path(), &key);
        let (code, stdout, stderr) = run(&[
            "verify",
            "--ca",
            &bundle,
            "--host",
            "rancher.example.com",
            &path(dir.path(), "tls.crt"),
        ]);
        assert_eq!(code, 1, "{label}: {stdout}{stderr}");
        let line = stdout
            .lines()
            .find(|line| line.contains("ca_file"))
            .unwrap_or_default();
        assert!(
            line.contains("FAILED")
                && line.contains(&format!("{bundle} holds a private key ({label})")),
            "{label}: {stdout}"
        );
    }
}

#[test]
fn verify_fails_a_certificate_file_holding_a_key() {
    let dir = tempfile::tempdir().unwrap();
    selfsigned(dir.path());
    let mut bytes = std::fs::read(dir.path().join("tls.crt")).unwrap();
    bytes.extend(std::fs::read(dir.path().join("tls.key")).unwrap());
    let leaky = dir.path().join("leaky.crt");
    std::fs::write(&leaky, bytes).unwrap();
    let leaky = leaky.display().to_string();
    let (code, stdout, _) = run(&["verify", "--ca", &path(dir.path(), "cacerts.pem"), &leaky]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(&format!("FAILED   private_key {leaky} holds a private key (PRIVATE KEY) next to the certificate(s): a server sends tls.crt to every client")),
        "{stdout}"
    );
}

#[test]
fn push_never_sends_a_key_from_the_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    selfsigned(dir.path());
    let key = std::fs::read(dir.path().join("cakey.pem")).unwrap();
    let bundle = bundle_with_key(dir.path(), &key);
    let (code, stdout, stderr) = run(&[
        "push",
        "--dry-run",
        "--namespace",
        "cattle-system",
        "--cert",
        &path(dir.path(), "tls.crt"),
        "--key",
        &path(dir.path(), "tls.key"),
        "--ca",
        &bundle,
    ]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("holds a private key (PRIVATE KEY)"),
        "{stdout}"
    );
    assert!(!stdout.contains("apiVersion"), "{stdout}");
}

#[test]
fn selfsign_force_into_a_directory_with_a_ca_renews_with_it() {
    let dir = tempfile::tempdir().unwrap();
    selfsigned(dir.path());
    let out = dir.path().display().to_string();
    let before = std::fs::read(dir.path().join("cacerts.pem")).unwrap();
    let key_before = std::fs::read(dir.path().join("cakey.pem")).unwrap();
    let old_leaf = std::fs::read(dir.path().join("tls.crt")).unwrap();
    let (code, stdout, stderr) = run(&[
        "selfsign",
        "--host",
        "rancher.example.com",
        "--out",
        &out,
        "--force",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(
            "already holds a CA (cacerts.pem + cakey.pem): renewed the server certificate with it"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("signed by existing CA"), "{stdout}");
    assert_eq!(
        std::fs::read(dir.path().join("cacerts.pem")).unwrap(),
        before
    );
    assert_eq!(
        std::fs::read(dir.path().join("cakey.pem")).unwrap(),
        key_before
    );
    assert_ne!(std::fs::read(dir.path().join("tls.crt")).unwrap(), old_leaf);
    let (ok, text) = openssl(&[
        "verify",
        "-CAfile",
        &path(dir.path(), "cacerts.pem"),
        &path(dir.path(), "tls.crt"),
    ]);
    assert!(ok, "{text}");
    // --new-ca replaces it, and says so.
    let (code, stdout, stderr) = run(&[
        "selfsign",
        "--host",
        "rancher.example.com",
        "--out",
        &out,
        "--force",
        "--new-ca",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("signed by new CA"), "{stdout}");
    assert_ne!(
        std::fs::read(dir.path().join("cacerts.pem")).unwrap(),
        before
    );
}

#[test]
fn selfsign_force_with_a_ca_certificate_but_no_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    selfsigned(dir.path());
    std::fs::remove_file(dir.path().join("cakey.pem")).unwrap();
    let before = std::fs::read(dir.path().join("cacerts.pem")).unwrap();
    let out = dir.path().display().to_string();
    let (code, _, stderr) = run(&[
        "selfsign",
        "--host",
        "rancher.example.com",
        "--out",
        &out,
        "--force",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("exists without cakey.pem beside it"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("cacerts.pem")).unwrap(),
        before
    );
}

/// A certificate whose subject carries terminal control sequences (erase line, cursor up).
fn hostile_certificate(dir: &Path) -> String {
    let cert = dir.join("evil.pem");
    let subject = "/CN=evil\u{1b}[2K\u{1b}[1Aok\nline";
    let (ok, text) = openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &dir.join("evil.key").display().to_string(),
        "-out",
        &cert.display().to_string(),
        "-days",
        "30",
        "-utf8",
        "-subj",
        subject,
        "-addext",
        "subjectAltName=DNS:evil.example",
    ]);
    assert!(ok, "{text}");
    cert.display().to_string()
}

#[test]
fn control_bytes_from_a_certificate_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let cert = hostile_certificate(dir.path());
    for args in [
        vec!["inspect", cert.as_str()],
        vec![
            "verify",
            "--ca",
            cert.as_str(),
            "--host",
            "other.example",
            cert.as_str(),
        ],
        vec!["expiry", "--no-cluster", "--path", cert.as_str()],
    ] {
        let (_, stdout, stderr) = run(&args);
        let all = format!("{stdout}{stderr}");
        assert!(!all.contains('\u{1b}'), "{args:?}: {all:?}");
        assert!(
            all.contains("evil\\1B[2K\\1B[1Aok\\0Aline"),
            "{args:?}: {all}"
        );
    }
}

#[test]
fn checksum_is_rancher_s_for_a_file_with_white_space_around_it() {
    let dir = tempfile::tempdir().unwrap();
    selfsigned(dir.path());
    let ca = std::fs::read(dir.path().join("cacerts.pem")).unwrap();
    // What Rancher serves: strings.TrimSpace of the file, plus one newline.
    let expected = sha256sum(&ca);
    let mut padded = b"\n  \n".to_vec();
    padded.extend_from_slice(&ca);
    padded.extend_from_slice(b"\n\n \t\n");
    let padded_path = dir.path().join("padded.pem");
    std::fs::write(&padded_path, &padded).unwrap();
    let (code, stdout, _) = run(&[
        "verify",
        "--ca",
        &padded_path.display().to_string(),
        &path(dir.path(), "tls.crt"),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains(&format!("CATTLE_CA_CHECKSUM={expected}"))
            && stdout.contains("Rancher trims white space around the file"),
        "{stdout}"
    );
}

/// An RKE2 node tree under `root` with one server certificate and a kubeconfig whose
/// client certificate is an absolute path on the node (as rke2.yaml's are not, but
/// kubelet.kubeconfig's are).
fn rke2_node(root: &Path, cert: &Path) {
    let tls = root.join("var/lib/rancher/rke2/server/tls");
    std::fs::create_dir_all(&tls).unwrap();
    std::fs::copy(cert, tls.join("client-admin.crt")).unwrap();
    let etc = root.join("etc/rancher/rke2");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        etc.join("rke2.yaml"),
        "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers:\n- name: admin\n  user:\n    client-certificate: /var/lib/rancher/rke2/server/tls/client-admin.crt\n",
    )
    .unwrap();
}

fn item<'a>(json: &'a serde_json::Value, location: &str) -> &'a serde_json::Value {
    json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["location"] == location)
        .unwrap_or_else(|| panic!("no item {location} in {json:#}"))
}

#[test]
fn expiry_reports_every_path_it_could_not_read_and_reads_der_and_pkcs7() {
    let dir = tempfile::tempdir().unwrap();
    selfsigned(dir.path());
    let p = |name: &str| path(dir.path(), name);
    std::fs::write(dir.path().join("empty.crt"), b"").unwrap();
    std::fs::write(dir.path().join("garbage.bin"), [0xde, 0xad, 0xbe, 0xef]).unwrap();
    std::fs::create_dir(dir.path().join("nothing")).unwrap();
    let (ok, text) = openssl(&[
        "x509",
        "-in",
        &p("cacerts.pem"),
        "-outform",
        "DER",
        "-out",
        &p("ca.der"),
    ]);
    assert!(ok, "{text}");
    let (ok, text) = openssl(&[
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        &p("tls.crt"),
        "-outform",
        "DER",
        "-out",
        &p("chain.p7b"),
    ]);
    assert!(ok, "{text}");
    let (code, json) = common::run_json(&[
        "expiry",
        "--no-cluster",
        "--no-node",
        "--path",
        &p("empty.crt"),
        "--path",
        &p("garbage.bin"),
        "--path",
        &p("nothing"),
        "--path",
        &p("ca.der"),
        "--path",
        &p("chain.p7b"),
    ]);
    assert_eq!(code, 1, "{json:#}");
    for unreadable in ["empty.crt", "garbage.bin", "nothing"] {
        let found = item(&json, &format!("file {}", p(unreadable)));
        assert_eq!(found["status"], "unreadable", "{found:#}");
        assert!(!found["error"].as_str().unwrap().is_empty(), "{found:#}");
    }
    assert_eq!(
        item(&json, &format!("file {}", p("ca.der")))["status"],
        "ok"
    );
    assert_eq!(
        item(&json, &format!("file {}#1", p("chain.p7b")))["status"],
        "ok"
    );
    assert_eq!(
        item(&json, &format!("file {}#2", p("chain.p7b")))["status"],
        "ok"
    );
    assert_eq!(json["summary"]["unreadable"], 3);
    assert_eq!(json["summary"]["ok"], 3);
}

#[test]
fn expiry_refuses_a_missing_root_and_reads_node_files_under_the_root() {
    let (code, _, stderr) = run(&["expiry", "--no-cluster", "--root", "/nonexistent-rcert"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--root /nonexistent-rcert: no such directory"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    selfsigned(dir.path());
    let root = dir.path().join("host");
    rke2_node(&root, &dir.path().join("tls.crt"));
    let (code, json) = common::run_json(&[
        "expiry",
        "--no-cluster",
        "--root",
        &root.display().to_string(),
        "--within",
        "1d",
    ]);
    assert_eq!(code, 0, "{json:#}");
    let kubeconfig = root
        .join("etc/rancher/rke2/rke2.yaml")
        .display()
        .to_string();
    let client = item(&json, &format!("kubeconfig {kubeconfig} user admin#1"));
    assert_eq!(
        client["status"], "ok",
        "read under --root, not from /: {client:#}"
    );
}

#[test]
fn expiry_within_must_be_whole_days_that_fit() {
    for (within, message) in [
        ("213503982334602d", "is too long"),
        ("3m", "is less than a day"),
    ] {
        let (code, _, stderr) = run(&["expiry", "--no-cluster", "--no-node", "--within", within]);
        assert_eq!(code, 2, "{within}: {stderr}");
        assert!(stderr.contains(message), "{within}: {stderr}");
    }
}

#[test]
fn prometheus_output_never_repeats_a_label_set() {
    let dir = tempfile::tempdir().unwrap();
    selfsigned(dir.path());
    // A bundle holding one certificate twice, and a file both the node scan and --path read.
    let ca = std::fs::read(dir.path().join("cacerts.pem")).unwrap();
    std::fs::write(dir.path().join("twice.pem"), [ca.clone(), ca].concat()).unwrap();
    let root = dir.path().join("host");
    rke2_node(&root, &dir.path().join("tls.crt"));
    let node_file = root.join("var/lib/rancher/rke2/server/tls/client-admin.crt");
    let (code, stdout, stderr) = run(&[
        "expiry",
        "--no-cluster",
        "-o",
        "prometheus",
        "--within",
        "1d",
        "--root",
        &root.display().to_string(),
        "--path",
        &path(dir.path(), "twice.pem"),
        "--path",
        &node_file.display().to_string(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let series: Vec<&str> = stdout
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| line.rsplit_once(' ').unwrap().0)
        .collect();
    let unique: std::collections::HashSet<&&str> = series.iter().collect();
    assert_eq!(unique.len(), series.len(), "{stdout}");
    assert!(stdout.contains("index=\"2\""), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "rcert_source_up{{source=\"node {}\"}} 1",
            root.display()
        )),
        "{stdout}"
    );
}

/// A PKCS#12 archive of the selfsign set made by openssl, with password `secret`.
fn pfx(dir: &Path) -> Vec<u8> {
    let out = dir.join("set.pfx");
    let (ok, text) = openssl(&[
        "pkcs12",
        "-export",
        "-in",
        &path(dir, "tls.crt"),
        "-inkey",
        &path(dir, "tls.key"),
        "-passout",
        "pass:secret",
        "-out",
        &out.display().to_string(),
    ]);
    assert!(ok, "{text}");
    std::fs::read(out).unwrap()
}

#[test]
fn pkcs12_on_standard_input_is_read() {
    let dir = tempfile::tempdir().unwrap();
    selfsigned(dir.path());
    let archive = pfx(dir.path());
    let out = dir.path().join("imported");
    let output = common::rcert()
        .args([
            "import",
            "-",
            "--password-env",
            "RCERT_TEST_PASSWORD",
            "--out",
        ])
        .arg(&out)
        .env("RCERT_TEST_PASSWORD", "secret")
        .write_stdin(archive.clone())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(out.join("tls.crt").exists() && out.join("tls.key").exists());
    let output = common::rcert()
        .args(["inspect", "-", "--password-env", "RCERT_TEST_PASSWORD"])
        .env("RCERT_TEST_PASSWORD", "secret")
        .write_stdin(archive)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("CN=rancher.example.com"), "{stdout}");
}

#[test]
fn a_truncated_or_damaged_pkcs12_says_so() {
    let dir = tempfile::tempdir().unwrap();
    selfsigned(dir.path());
    let archive = pfx(dir.path());
    let truncated = dir.path().join("truncated.pfx");
    std::fs::write(&truncated, &archive[..archive.len() / 2]).unwrap();
    let (code, _, stderr) = run(&["inspect", &truncated.display().to_string()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("truncated: a PKCS#12 archive (.pfx/.p12) that announces"),
        "{stderr}"
    );
    let mut flipped = archive.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    let damaged = dir.path().join("damaged.pfx");
    std::fs::write(&damaged, flipped).unwrap();
    let output = common::rcert()
        .args([
            "import",
            &damaged.display().to_string(),
            "--password-env",
            "P",
            "--out",
        ])
        .arg(dir.path().join("out"))
        .env("P", "secret")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("or a damaged file"), "{stderr}");
}
