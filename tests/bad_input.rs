//! Broken input, one test per case: every command exits 2 with a message that names the
//! file and what is wrong, and writes nothing. Inputs come from the committed
//! `testdata/corpus` (see testdata/README.md).

mod common;

use common::*;

/// Run rcert in a fresh directory (so `--out` targets there) and check the refusal.
fn assert_refused(args: &[String], file: &str, message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let output = rcert().current_dir(dir.path()).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.contains(file),
        "{args:?}: the message names {file}: {stderr}"
    );
    assert!(
        stderr.contains(message),
        "{args:?}: expected '{message}': {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(snapshot(dir.path()).is_empty(), "{args:?}: nothing written");
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| arg.to_string()).collect()
}

/// Where a certificate is expected: inspect, verify (as CERTFILE, --ca, --untrusted),
/// fullchain, probe --ca, push --cert/--ca, doctor --ca and selfsign --ca-cert.
fn refused_as_certificate(file: &str, message: &str) {
    let (root, root_key, chain) = (
        corpus("root.pem"),
        corpus("root.key"),
        corpus("fullchain.pem"),
    );
    let leaf_key = corpus("leaf.key");
    for args in [
        vec!["inspect", file],
        vec!["verify", "--ca", &root, file],
        vec!["verify", "--ca", file, &chain],
        vec!["verify", "--ca", &root, "--untrusted", file, &chain],
        vec!["fullchain", "--out", "tls.crt", &chain, file],
        vec!["probe", "127.0.0.1:9", "--ca", file],
        vec!["push", "--dry-run", "--cert", file, "--key", &leaf_key],
        vec![
            "push",
            "--dry-run",
            "--cert",
            &chain,
            "--key",
            &leaf_key,
            "--ca",
            file,
        ],
        vec!["doctor", "--host", "127.0.0.1:9", "--ca", file],
        vec![
            "selfsign",
            "--host",
            "a.example.com",
            "--out",
            "out",
            "--ca-cert",
            file,
            "--ca-key",
            &root_key,
        ],
    ] {
        if args[0] == "inspect"
            && (message.contains("holds no certificate") || message.contains("found a"))
        {
            continue; // inspect shows keys and other blocks
        }
        assert_refused(&strings(&args), file, message);
    }
}

/// Where a private key is expected: verify --key, push --key and selfsign --ca-key.
fn refused_as_key(file: &str, message: &str) {
    let (root, chain) = (corpus("root.pem"), corpus("fullchain.pem"));
    for args in [
        vec!["verify", "--ca", &root, "--key", file, &chain],
        vec!["push", "--dry-run", "--cert", &chain, "--key", file],
        vec![
            "selfsign",
            "--host",
            "a.example.com",
            "--out",
            "out",
            "--ca-cert",
            &root,
            "--ca-key",
            file,
        ],
    ] {
        assert_refused(&strings(&args), file, message);
    }
    if !message.contains("holds no private key") {
        assert_refused(&strings(&["inspect", file]), file, message);
    }
}

#[test]
fn missing_file() {
    let file = corpus("does-not-exist.pem");
    refused_as_certificate(&file, "cannot read: no such file");
    refused_as_key(&file, "cannot read: no such file");
}

#[test]
fn directory() {
    let dir = corpus("");
    let dir = dir.trim_end_matches('/');
    refused_as_certificate(dir, "is a directory");
    refused_as_key(dir, "is a directory");
}

#[test]
fn empty_file() {
    refused_as_certificate(&corpus("empty.pem"), "file is empty");
    refused_as_certificate(&corpus("blank.pem"), "file is empty");
    refused_as_key(&corpus("empty.pem"), "file is empty");
}

#[test]
fn garbage_bytes() {
    refused_as_certificate(
        &corpus("garbage.bin"),
        "not a PEM or DER certificate or key",
    );
    refused_as_certificate(
        &corpus("garbage.txt"),
        "not a PEM or DER certificate or key",
    );
    refused_as_certificate(
        &corpus("garbage.der"),
        "DER that is neither an X.509 certificate nor a private key",
    );
    refused_as_key(
        &corpus("garbage.bin"),
        "not a PEM or DER certificate or key",
    );
}

#[test]
fn truncated_pem() {
    refused_as_certificate(
        &corpus("truncated.pem"),
        "is truncated: no '-----END CERTIFICATE-----' line",
    );
}

#[test]
fn bad_base64_in_pem() {
    refused_as_certificate(&corpus("bad-base64.pem"), "is not valid base64");
}

#[test]
fn key_where_a_certificate_is_expected() {
    refused_as_certificate(
        &corpus("leaf.key"),
        "holds no certificate (found 1 private key(s))",
    );
}

#[test]
fn certificate_where_a_key_is_expected() {
    refused_as_key(
        &corpus("leaf.pem"),
        "holds no private key (found 1 certificate(s))",
    );
}

#[test]
fn certificate_request_where_a_certificate_is_expected() {
    refused_as_certificate(
        &corpus("only-csr.pem"),
        "found a 'CERTIFICATE REQUEST' block",
    );
}

#[test]
fn encrypted_private_key() {
    refused_as_key(
        &corpus("encrypted.key"),
        "the private key is encrypted; decrypt it first",
    );
    refused_as_key(
        &corpus("encrypted.sec1.key"),
        "the private key is encrypted; decrypt it first",
    );
}

#[test]
fn unsupported_key_type() {
    refused_as_key(&corpus("ed448.key"), "unsupported private key type Ed448");
}

#[test]
fn json_error_document() {
    let (code, json) = run_json(&["fullchain", &corpus("truncated.pem")]);
    assert_eq!(code, 2);
    assert_eq!(json["exit_code"], 2);
    assert!(json["error"].as_str().unwrap().contains("truncated"));
    // inspect reports every input, an unreadable one as an item of its own.
    let (code, json) = run_json(&["inspect", &corpus("truncated.pem")]);
    assert_eq!(code, 2);
    assert_eq!(json[0]["kind"], "unreadable");
    assert!(json[0]["error"].as_str().unwrap().contains("truncated"));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["verify"],
        vec!["selfsign", "--key-type", "dsa"],
        vec!["nonsense"],
        vec!["selfsign", "--ca-cert", "x"],
    ] {
        let output = rcert().args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn usage_errors_are_a_json_document_when_json_is_asked_for() {
    for (args, error) in [
        (
            vec!["probe", "x", "--timeout", "soon"],
            "invalid value 'soon' for '--timeout <DUR>': expected a duration from 1ms to 1h, such as 5s, 500ms or 1m",
        ),
        (
            vec!["verify", "--no-such-flag", "x.pem"],
            "unexpected argument '--no-such-flag' found",
        ),
    ] {
        let (code, json) = run_json(&args);
        assert_eq!(code, 2, "{args:?}");
        assert_eq!(json, serde_json::json!({"error": error, "exit_code": 2}), "{args:?}");
    }
}
