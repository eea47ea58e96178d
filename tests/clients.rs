//! The default verdict (go, openssl) on what operators really have, judged by the clients
//! themselves: Go's crypto/x509 (tests/oracle/go) and `openssl verify` in its default mode.
//! Each case is made with the openssl CLI, never with rcert.

mod common;

use std::path::Path;

use common::oracle::{go_case, go_verdicts, openssl_default_verify};
use common::{openssl, openssl_chain, openssl_sign_leaf, pem_blocks, run};

/// A self-signed certificate for rancher.example.com from `openssl req -x509` (what the
/// one-line guides produce), with `key_args` choosing the key and lifetime; returns
/// (cert file, key file).
fn openssl_self_signed(dir: &Path, key_args: &[&str]) -> (String, String) {
    let cert = dir.join("ss.crt").display().to_string();
    let key = dir.join("ss.key").display().to_string();
    let mut args = vec!["req", "-x509", "-nodes", "-keyout", &key, "-out", &cert];
    args.extend_from_slice(key_args);
    args.extend([
        "-subj",
        "/CN=rancher.example.com",
        "-addext",
        "subjectAltName=DNS:rancher.example.com",
    ]);
    let (ok, text) = openssl(&args);
    assert!(ok, "{text}");
    (cert, key)
}

/// Go's own verdict (accept, error) on a chain file (leaf first) against a CA file, now.
fn go_verdict(ca: &str, chain: &str, host: &str) -> (bool, String) {
    let blocks = pem_blocks(&std::fs::read_to_string(chain).unwrap());
    let roots = pem_blocks(&std::fs::read_to_string(ca).unwrap());
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    go_verdicts(&[go_case(
        "case",
        &blocks[0],
        &blocks[1..],
        &roots,
        host,
        &now,
    )])
    .remove(0)
}

/// A CA file in `dir` holding the fixtures named, in that order.
fn ca_file(dir: &Path, fixtures: &[&str]) -> String {
    let path = dir.join("cacerts.pem");
    let bytes: Vec<u8> = fixtures
        .iter()
        .flat_map(|name| common::fixture_bytes(name))
        .collect();
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

/// rcert's default verdict and each client's own, for a leaf file (leaf first) and a CA file.
fn verdicts(ca: &str, leaf: &str, host: &str) -> (i32, String, bool, bool) {
    let (code, stdout, _) = run(&["verify", "--ca", ca, "--host", host, leaf]);
    let (go, _) = go_verdict(ca, leaf, host);
    let (openssl_accepts, _) = openssl_default_verify(ca, leaf, None, host);
    (code, stdout, go, openssl_accepts)
}

#[test]
fn what_go_and_openssl_accept_passes_by_default_with_the_strict_warning() {
    let leaf_ext = [
        "basicConstraints=CA:FALSE",
        "keyUsage=digitalSignature",
        "extendedKeyUsage=serverAuth",
    ];
    let with = |extra: &str| -> Vec<String> {
        leaf_ext
            .iter()
            .map(|s| s.to_string())
            .chain([extra.to_string()])
            .collect()
    };
    // (name, extra root arguments, leaf extensions, host, a line the report holds)
    type Case<'a> = (&'a str, Vec<&'a str>, Vec<String>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        // pyca/cryptography's and many in-house CAs' defaults: no authorityKeyIdentifier.
        ("no AKI", vec![], with("subjectAltName=DNS:rancher.example.com\nauthorityKeyIdentifier=none\nsubjectKeyIdentifier=none"), "rancher.example.com",
            "no authorityKeyIdentifier"),
        // Starfield Root Certificate Authority – G2 (fastly.com) has serial number 0.
        ("serial-0 root", vec!["-set_serial", "0"], with("subjectAltName=DNS:rancher.example.com"),
            "rancher.example.com", "ok       crypto"),
        // Active Directory estates.
        ("underscore", vec![], with("subjectAltName=DNS:rancher_01.corp.example.com"),
            "rancher_01.corp.example.com", "contains an underscore"),
    ];
    for (name, root_args, ext, host, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        let ext: Vec<&str> = ext.iter().map(String::as_str).collect();
        let (ca, leaf) = openssl_chain(dir.path(), &root_args, &ext);
        let (code, stdout, go, openssl_ok) = verdicts(&ca, &leaf, host);
        assert!(go && openssl_ok, "{name}: Go {go}, openssl {openssl_ok}");
        assert_eq!(code, 0, "{name}: {stdout}");
        assert!(stdout.contains(message), "{name}: {stdout}");
    }
}

#[test]
fn the_openssl_req_x509_self_signed_certificate_is_accepted_with_a_strict_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _key) = openssl_self_signed(dir.path(), &["-newkey", "rsa:2048"]);
    let (code, stdout, go, openssl_ok) = verdicts(&cert, &cert, "rancher.example.com");
    assert!(go && openssl_ok, "Go {go}, openssl {openssl_ok}");
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains(
            "go (agents, kubectl) accept · openssl (nginx, curl) accept · strict (RFC 5280, CA/B) REJECT"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("rejected only by the strict RFC 5280 / CA/Browser Forum reading (linters, the strictest verifiers)"),
        "{stdout}"
    );
    let (code, _, _) = run(&[
        "verify",
        "--clients",
        "all",
        "--ca",
        &cert,
        "--host",
        "rancher.example.com",
        &cert,
    ]);
    assert_eq!(code, 1);
}

#[test]
fn what_go_refuses_fails_by_default_and_openssl_decides_alone_with_clients_openssl() {
    // SHA-1: Go refuses it ("insecure algorithm"), openssl verify in its default mode not.
    let dir = tempfile::tempdir().unwrap();
    let leaf_ext = [
        "basicConstraints=CA:FALSE",
        "extendedKeyUsage=serverAuth",
        "subjectAltName=DNS:rancher.example.com",
    ];
    let (ca, _) = openssl_chain(dir.path(), &[], &leaf_ext);
    let sha1 = openssl_sign_leaf(
        dir.path(),
        &["-sha1", "-set_serial", "7"],
        &leaf_ext,
        "sha1.pem",
    );
    let (code, stdout, go, openssl_ok) = verdicts(&ca, &sha1, "rancher.example.com");
    // Go refuses SHA-1, and so do OpenSSL's clients at their default security level (curl:
    // "CA signature digest algorithm too weak"); only the bare `openssl verify` command not.
    assert!(!go && !openssl_ok, "Go {go}, openssl {openssl_ok}");
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("go (agents, kubectl) REJECT · openssl (nginx, curl) REJECT"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("— only"),
        "every client refuses it: {stdout}"
    );
    // A CN-only certificate: Go refuses, OpenSSL falls back to the CN.
    let cn_only = ["basicConstraints=CA:FALSE", "extendedKeyUsage=serverAuth"];
    let dir = tempfile::tempdir().unwrap();
    let (ca, leaf) = openssl_chain(dir.path(), &[], &cn_only);
    let (code, stdout, go, openssl_ok) = verdicts(&ca, &leaf, "leaf");
    assert!(!go && openssl_ok, "Go {go}, openssl {openssl_ok}");
    assert_eq!(code, 1, "{stdout}");
    let (code, _, _) = run(&[
        "verify",
        "--clients",
        "openssl",
        "--ca",
        &ca,
        "--host",
        "leaf",
        &leaf,
    ]);
    assert_eq!(code, 0, "--clients openssl: only OpenSSL's rejection fails");
}

#[test]
fn push_refuses_only_on_a_selected_client() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_self_signed(
        dir.path(),
        &[
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-days",
            "90",
        ],
    );
    let push = |clients: &str| {
        run(&[
            "push",
            "--dry-run",
            "--clients",
            clients,
            "--cert",
            &cert,
            "--key",
            &key,
            "--ca",
            &cert,
        ])
    };
    // Go and OpenSSL accept the req -x509 certificate: pushed (a strict warning).
    let (code, stdout, stderr) = push("go,openssl");
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The strict reading refuses a CA certificate as server certificate: with it selected,
    // nothing is sent.
    let (code, stdout, stderr) = push("all");
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(!stdout.contains("apiVersion"), "{stdout}");
}

/// `cacerts.pem` holding the intermediate alone: Go (and webpki) stop at any trusted
/// certificate, OpenSSL needs a self-signed root at the top ("unable to get issuer
/// certificate") — so curl and nginx refuse what the agents accept.
#[test]
fn an_intermediate_alone_as_ca_file_fails_for_openssl_and_passes_for_go() {
    let dir = tempfile::tempdir().unwrap();
    let leaf = dir.path().join("leaf.pem");
    std::fs::write(&leaf, common::fixture_bytes("leaf.pem")).unwrap();
    let leaf = leaf.display().to_string();
    let inter = common::fixture("inter.pem");
    let (code, stdout, go, openssl_ok) = verdicts(&inter, &leaf, "rancher.example.com");
    assert!(go && !openssl_ok, "Go {go}, openssl {openssl_ok}");
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("go (agents, kubectl) accept · openssl (nginx) REJECT · curl accept"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "nginx (proxy_ssl_verify) and openssl s_client/verify need the chain to end at a self-signed root in"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("(\"unable to get issuer certificate\"; curl since 7.68 accepts such a partial chain); add the root CA after it (Rancher's docs: intermediate then root)"),
        "{stdout}"
    );
    let (code, _, _) = run(&[
        "verify",
        "--clients",
        "go",
        "--ca",
        &inter,
        "--host",
        "rancher.example.com",
        &leaf,
    ]);
    assert_eq!(code, 0, "--clients go: the agents accept it");
    // curl (>= 7.68) accepts the partial chain: checked against s_server.
    let (_server, address) = common::servers::leaf_server(&[]);
    let port = address.rsplit(':').next().unwrap().to_string();
    let output = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
            "--cacert",
            &inter,
        ])
        .args([
            "--resolve",
            &format!("rancher.example.com:{port}:127.0.0.1"),
        ])
        .arg(format!("https://rancher.example.com:{port}/"))
        .output()
        .expect("curl runs");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "200",
        "curl accepts a partial chain"
    );
    // Intermediate then root, as Rancher's docs ask: every client accepts.
    let both = ca_file(dir.path(), &["inter.pem", "root.pem"]);
    let (code, stdout, go, openssl_ok) = verdicts(&both, &leaf, "rancher.example.com");
    assert!(go && openssl_ok, "Go {go}, openssl {openssl_ok}");
    assert_eq!(code, 0, "{stdout}");
}

/// `--max-depth N` reads the chain as a client with a verify depth does (nginx's
/// `proxy_ssl_verify_depth`, default 1; `openssl verify -verify_depth`): the fixture's one
/// intermediate is too many at depth 0 for OpenSSL ("certificate chain too long"), while
/// Go, which has no such limit, accepts — judged by both clients themselves.
#[test]
fn max_depth_refuses_as_openssl_verify_depth_does_and_go_ignores_it() {
    let root = common::fixture("root.pem");
    let inter = common::fixture("inter.pem");
    let leaf = common::fixture("leaf.pem");
    let chain = common::fixture("fullchain.pem");
    let openssl_at = |depth: &str| {
        openssl(&[
            "verify",
            "-verify_depth",
            depth,
            "-CAfile",
            &root,
            "-untrusted",
            &inter,
            &leaf,
        ])
    };
    let (ok, text) = openssl_at("0");
    assert!(!ok && text.contains("certificate chain too long"), "{text}");
    let (ok, text) = openssl_at("1");
    assert!(ok, "{text}");
    let (go, error) = go_verdict(&root, &chain, "rancher.example.com");
    assert!(go, "Go has no depth limit: {}", error);

    let verify = |clients: &str, depth: &str| {
        run(&[
            "verify",
            "--clients",
            clients,
            "--max-depth",
            depth,
            "--ca",
            &root,
            "--host",
            "rancher.example.com",
            &chain,
        ])
    };
    let (code, stdout, _) = verify("go,openssl", "0");
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "go (agents, kubectl) accept · openssl (nginx) REJECT · curl accept · strict (RFC 5280, CA/B) REJECT"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("the chain to the root has 1 intermediate CA(s), more than a verify depth of 0 allows (openssl verify: \"certificate chain too long\"; nginx proxy_ssl_verify_depth: \"unable to get issuer certificate\", or \"unable to get local issuer certificate\" with the root alone in its CA file)"),
        "{stdout}"
    );
    assert_eq!(verify("go", "0").0, 0, "Go clients have no depth limit");
    let (code, stdout, _) = verify("all", "1");
    assert_eq!(code, 0, "{stdout}");
}

/// OpenSSL counts the intermediates up to the self-signed root even when the CA file
/// holds them (Rancher's cacerts.pem: intermediate then root), so nginx with
/// `proxy_ssl_verify_depth 0` refuses what a path stopping at the trusted intermediate
/// would allow — a false "ok" before.
#[test]
fn max_depth_counts_the_intermediates_of_the_ca_file_as_openssl_does() {
    let dir = tempfile::tempdir().unwrap();
    let cacerts = ca_file(dir.path(), &["inter.pem", "root.pem"]);
    let leaf = common::fixture("leaf.pem");
    let (ok, text) = openssl(&["verify", "-verify_depth", "0", "-CAfile", &cacerts, &leaf]);
    assert!(!ok && text.contains("certificate chain too long"), "{text}");
    let (code, stdout, _) = run(&[
        "verify",
        "--clients",
        "openssl",
        "--max-depth",
        "0",
        "--ca",
        &cacerts,
        "--host",
        "rancher.example.com",
        &leaf,
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "the chain to the root has 1 intermediate CA(s), more than a verify depth of 0 allows"
        ),
        "{stdout}"
    );
    let (ok, _) = openssl(&["verify", "-verify_depth", "1", "-CAfile", &cacerts, &leaf]);
    assert!(ok);
    let (code, stdout, _) = run(&[
        "verify",
        "--clients",
        "openssl",
        "--max-depth",
        "1",
        "--ca",
        &cacerts,
        "--host",
        "rancher.example.com",
        &leaf,
    ]);
    assert_eq!(code, 0, "{stdout}");
}

/// A renewed intermediate in tls.crt while cacerts.pem still holds its expired earlier
/// certificate: Go never ends a chain at an expired root of its pool and takes the
/// renewed one (accepts); OpenSSL takes the trust store's copy first and refuses. The
/// renewed intermediate is part of the chain (no "remove it"), and the CA file is named.
#[test]
fn an_expired_copy_in_the_ca_file_fails_openssl_only_and_is_named() {
    let stale = common::fixture("stale-cacerts.pem");
    let chain = common::fixture("fullchain.pem");
    let (code, stdout, go, openssl_ok) = verdicts(&stale, &chain, "rancher.example.com");
    assert!(go && !openssl_ok, "Go {go}, openssl {openssl_ok}");
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("go (agents, kubectl) accept · openssl (nginx, curl) REJECT"),
        "{stdout}"
    );
    assert!(!stdout.contains("not part of the chain"), "{stdout}");
    assert!(
        stdout.contains("holds 'O=rcert test, CN=rcert Test Intermediate CA', which expired on 2021-01-01T00:00:00Z"),
        "{stdout}"
    );
}

/// Two intermediates (policy and issuing CA) in tls.crt and in cacerts.pem, as Rancher's
/// docs order them: every client accepts, and the policy CA is part of the chain.
#[test]
fn a_policy_ca_above_a_trusted_issuing_ca_is_part_of_the_chain() {
    let cacerts = common::fixture("two-inter-cacerts.pem");
    let chain = common::fixture("two-inter-chain.pem");
    let (code, stdout, go, openssl_ok) = verdicts(&cacerts, &chain, "rancher.example.com");
    assert!(go && openssl_ok, "Go {go}, openssl {openssl_ok}");
    assert_eq!(code, 0, "{stdout}");
    assert!(!stdout.contains("not part of the chain"), "{stdout}");
}

/// A host name with a trailing dot: `openssl verify -verify_hostname` (and nginx's
/// proxy_ssl_name) compare it as given and refuse it; Go and curl strip the dot.
#[test]
fn a_trailing_dot_host_fails_for_nginx_and_openssl_only() {
    let root = common::fixture("root.pem");
    let chain = common::fixture("fullchain.pem");
    let (openssl_ok, output) = openssl_default_verify(&root, &chain, None, "rancher.example.com.");
    assert!(
        !openssl_ok && output.contains("hostname mismatch"),
        "{output}"
    );
    let (go, error) = go_verdict(&root, &chain, "rancher.example.com.");
    assert!(go, "Go strips the dot: {}", error);
    let (code, stdout, _) = run(&[
        "verify",
        "--ca",
        &root,
        "--host",
        "rancher.example.com.",
        &chain,
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("go (agents, kubectl) accept · openssl (nginx) REJECT · curl accept"),
        "{stdout}"
    );
    assert!(stdout.contains("ends with a dot"), "{stdout}");
}
