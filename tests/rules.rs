//! One fixture per path-validation rule (`testdata/rules.py`, Python `cryptography` plus
//! the openssl CLI): rcert's exit code and message, and openssl's own verdict on the same
//! files, so the table in `testdata/README.md` stays true.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use common::{openssl, run};

/// The test venv (scripts/test installs `cryptography` into it).
fn python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kmock-venv/bin/python");
    assert!(
        venv.exists(),
        "the test venv is missing: run scripts/test once (it creates target/kmock-venv with kmock and cryptography)"
    );
    venv
}

fn fixtures() -> (tempfile::TempDir, serde_json::Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Process::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rules.py"))
        .arg(dir.path())
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "testdata/rules.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let manifest = std::fs::read_to_string(dir.path().join("manifest.json")).expect("manifest");
    (
        dir,
        serde_json::from_str(&manifest).expect("manifest is JSON"),
    )
}

#[test]
fn every_rule_has_the_expected_verdict_and_message() {
    let (_dir, manifest) = fixtures();
    let cases = manifest.as_array().expect("a list of cases");
    assert!(cases.len() >= 50, "only {} cases", cases.len());
    let mut wrong = Vec::new();
    for case in cases {
        let text = |key: &str| case[key].as_str().unwrap_or_default().to_string();
        let (ca, leaf, host) = (text("ca"), text("leaf"), text("host"));
        let untrusted = case["untrusted"].as_str().map(str::to_string);
        let mut args = vec!["verify", "--ca", &ca, "--host", &host];
        if let Some(untrusted) = &untrusted {
            args.extend(["--untrusted", untrusted.as_str()]);
        }
        args.push(&leaf);
        let (code, stdout, stderr) = run(&args);
        let expected = case["expect"].as_i64().expect("expect");
        let message = text("message");
        if i64::from(code) != expected || !stdout.contains(&message) {
            wrong.push(format!(
                "{}: exit {code} (want {expected}), message '{message}' {}\n{stdout}{stderr}",
                text("rule"),
                if stdout.contains(&message) {
                    "found"
                } else {
                    "NOT found"
                }
            ));
        }
        if let Some(accepts) = case["openssl"].as_bool() {
            let mut openssl_args = vec!["verify", "-x509_strict", "-CAfile", &ca];
            if let Some(untrusted) = &untrusted {
                openssl_args.extend(["-untrusted", untrusted.as_str()]);
            }
            openssl_args.extend(["-verify_hostname", &host, &leaf]);
            let (ok, output) = openssl(&openssl_args);
            if ok != accepts {
                wrong.push(format!(
                    "{}: openssl verify -x509_strict {} (the table says {})\n{output}",
                    text("rule"),
                    if ok { "accepts" } else { "refuses" },
                    if accepts { "accepts" } else { "refuses" }
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
