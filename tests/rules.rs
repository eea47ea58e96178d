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

/// Where rcert's `--clients go` verdict knowingly differs from Go 1.19, the oracle this
/// machine can install: rules of the Go release current Rancher ships that 1.19 lacks,
/// and refusals by Go's TLS stack that `x509.Verify` alone does not make.
const GO_DIFFERENCES: &[(&str, &str)] = &[
    (
        "negative serial number",
        "Go ≥ 1.23 refuses negative serial numbers; Go 1.19 accepts them",
    ),
    (
        "DSA",
        "Go's TLS stack cannot use a DSA server key (x509.Verify alone accepts the chain)",
    ),
];

#[test]
fn every_rule_has_its_message_and_each_client_agrees_with_itself() {
    let (_dir, manifest) = fixtures();
    let cases = manifest.as_array().expect("a list of cases");
    assert!(cases.len() >= 50, "only {} cases", cases.len());
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a time");
    let text =
        |case: &serde_json::Value, key: &str| case[key].as_str().unwrap_or_default().to_string();
    let blocks = |path: &str| -> Vec<String> {
        common::pem_blocks(&std::fs::read_to_string(path).unwrap_or_default())
    };
    let go_cases: Vec<serde_json::Value> = cases
        .iter()
        .map(|case| {
            let leaf_blocks = blocks(&text(case, "leaf"));
            let mut intermediates = leaf_blocks[1..].to_vec();
            if let Some(untrusted) = case["untrusted"].as_str() {
                intermediates.extend(blocks(untrusted));
            }
            common::oracle::go_case(
                &text(case, "rule"),
                &leaf_blocks[0],
                &intermediates,
                &blocks(&text(case, "ca")),
                &text(case, "host"),
                &now,
            )
        })
        .collect();
    let go = common::oracle::go_verdicts(&go_cases);
    assert_eq!(go.len(), cases.len(), "one Go verdict per case");
    let mut wrong = Vec::new();
    for (case, (go_accepts, go_error)) in cases.iter().zip(go) {
        let (rule, ca, leaf, host) = (
            text(case, "rule"),
            text(case, "ca"),
            text(case, "leaf"),
            text(case, "host"),
        );
        let untrusted = case["untrusted"].as_str().map(str::to_string);
        let verify = |clients: &str| {
            let mut args = vec!["verify", "--clients", clients, "--ca", &ca, "--host", &host];
            if let Some(untrusted) = &untrusted {
                args.extend(["--untrusted", untrusted.as_str()]);
            }
            args.push(&leaf);
            run(&args)
        };
        let message = text(case, "message");
        let (code, stdout, stderr) = verify("go,openssl");
        if !stdout.contains(&message) {
            wrong.push(format!(
                "{rule}: message '{message}' NOT found\n{stdout}{stderr}"
            ));
        }
        // The strictest reading refuses every rule the table lists as a failure.
        if case["expect"].as_i64() == Some(1) && verify("all").0 != 1 {
            wrong.push(format!("{rule}: --clients all accepts it\n{stdout}"));
        }
        let known = GO_DIFFERENCES
            .iter()
            .find(|(marker, _)| rule.contains(marker) || message.contains(marker));
        let rcert_go = verify("go").0 == 0;
        if rcert_go != go_accepts && known.is_none() {
            wrong.push(format!(
                "{rule}: rcert --clients go {} but Go {} ({go_error})\n{stdout}",
                if rcert_go { "accepts" } else { "refuses" },
                if go_accepts { "accepts" } else { "refuses" }
            ));
        }
        let (openssl_accepts, openssl_output) =
            common::oracle::openssl_default_verify(&ca, &leaf, untrusted.as_deref(), &host);
        let rcert_openssl = verify("openssl").0 == 0;
        if rcert_openssl != openssl_accepts {
            wrong.push(format!(
                "{rule}: rcert --clients openssl {} but openssl verify {}\n{openssl_output}\n{stdout}",
                if rcert_openssl { "accepts" } else { "refuses" },
                if openssl_accepts { "accepts" } else { "refuses" }
            ));
        }
        let _ = code;
        if let Some(accepts) = case["openssl"].as_bool() {
            let mut openssl_args = vec!["verify", "-x509_strict", "-CAfile", &ca];
            if let Some(untrusted) = &untrusted {
                openssl_args.extend(["-untrusted", untrusted.as_str()]);
            }
            openssl_args.extend(["-verify_hostname", &host, &leaf]);
            let (ok, output) = openssl(&openssl_args);
            if ok != accepts {
                wrong.push(format!(
                    "{rule}: openssl verify -x509_strict {} (the table says {})\n{output}",
                    if ok { "accepts" } else { "refuses" },
                    if accepts { "accepts" } else { "refuses" }
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
