//! Golden transcripts of whole CLI runs (text output), on the committed corpus. The
//! verification time is fixed relative to the corpus (30 days after its leaf's notBefore),
//! not to the calendar, and dates, day counts and hex digests are masked, so neither the
//! passing of time nor regenerating the corpus invalidates them.
//! Refresh with `UPDATE_GOLDEN=1 cargo test --test golden` and review the diff.

mod common;

use std::path::Path;

use common::*;

fn mask(text: &str) -> String {
    let rules = [
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<DATE>"),
        // expiry's DAYS column, before its NOT AFTER date
        (r" +-?\d+  <DATE>", " <N>  <DATE>"),
        (r"-?\d+ day\(s\)", "<N> day(s)"),
        (r"\b\d+ ms\b", "<N> ms"),
        (r"-?\d+ days", "<N> days"),
        (r"\b[0-9a-f]{64}\b", "<SHA256>"),
        (r"([0-9A-F]{2}:){31}[0-9A-F]{2}", "<FINGERPRINT>"),
        (r"([0-9a-f]{2}:){15}[0-9a-f]{2}", "<SERIAL>"),
        (r"([0-9A-F]{2}:){19}[0-9A-F]{2}", "<KEYID>"),
        (r#""(days_left|elapsed_ms)": -?\d+"#, "\"$1\": <N>"),
    ];
    let mut masked = text.to_string();
    for (pattern, replacement) in rules {
        masked = regex::Regex::new(pattern)
            .expect("valid pattern")
            .replace_all(&masked, replacement)
            .to_string();
    }
    masked
}

fn golden(name: &str, args: &[&str]) {
    golden_masked(name, args, &[]);
}

/// A golden transcript whose args and output hold run-specific strings (an emulator's
/// URL, a temporary directory), each replaced by its placeholder before comparing.
fn golden_masked(name: &str, args: &[&str], run_specific: &[(&str, &str)]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = rcert()
        .current_dir(root)
        .args(args)
        .output()
        .expect("rcert runs");
    let at = at();
    let shown: Vec<&str> = args
        .iter()
        .map(|arg| if *arg == at { "<AT>" } else { arg })
        .collect();
    let transcript = format!(
        "$ rcert {}\n{}{}[exit {}]\n",
        shown.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        output.status.code().unwrap_or(-1)
    );
    let mut transcript = transcript;
    for (value, placeholder) in run_specific {
        transcript = transcript.replace(value, placeholder);
    }
    let transcript = mask(&transcript);
    let path = root.join("tests/golden").join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &transcript).expect("golden file written");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run UPDATE_GOLDEN=1 cargo test --test golden",
            path.display()
        )
    });
    assert_eq!(transcript, expected, "transcript of {name} changed");
}

/// 30 days into the corpus leaf's validity, as unix seconds (what `--at` accepts).
fn at() -> String {
    let leaf = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/corpus/leaf.pem");
    (openssl_startdate(&leaf.display().to_string()) + 30 * 86_400).to_string()
}

#[test]
fn verify_wrong_order() {
    let at = at();
    let args = [
        "verify",
        "--at",
        &at,
        "--ca",
        "testdata/corpus/root.pem",
        "testdata/corpus/wrong-order.pem",
    ];
    golden("verify-wrong-order", &args);
    // The same as JSON: the finding with its id, cause, subject and fix.
    golden(
        "verify-wrong-order-json",
        &[&["-o", "json"], &args[..]].concat(),
    );
}

#[test]
fn verify_cn_only_with_host() {
    golden(
        "verify-cn-only",
        &[
            "verify",
            "--at",
            &at(),
            "--ca",
            "testdata/corpus/root.pem",
            "--host",
            "rancher.example.com",
            "testdata/corpus/cn-only-chain.pem",
        ],
    );
}

#[test]
fn verify_good_chain_with_key() {
    golden(
        "verify-good",
        &[
            "verify",
            "--at",
            &at(),
            "--ca",
            "testdata/corpus/root.pem",
            "--key",
            "testdata/corpus/leaf.key",
            "--host",
            "rancher.example.com",
            "testdata/corpus/fullchain.pem",
        ],
    );
}

#[test]
fn fullchain_missing_intermediate() {
    golden(
        "fullchain-missing",
        &[
            "fullchain",
            "testdata/corpus/leaf.pem",
            "testdata/corpus/root.pem",
        ],
    );
}

#[test]
fn inspect_certificate_and_key() {
    golden(
        "inspect-leaf",
        &[
            "inspect",
            "testdata/corpus/leaf.pem",
            "testdata/corpus/leaf.sec1.key",
        ],
    );
}

#[test]
fn bad_input_messages() {
    golden(
        "bad-input-truncated",
        &["inspect", "testdata/corpus/truncated.pem"],
    );
    golden(
        "bad-input-encrypted",
        &[
            "verify",
            "--key",
            "testdata/corpus/encrypted.key",
            "testdata/corpus/fullchain.pem",
        ],
    );
}

/// A directory holding the corpus set as rotate reads it (tls.crt, tls.key, cacerts.pem).
fn corpus_set() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/corpus");
    for (from, to) in [
        ("fullchain.pem", "tls.crt"),
        ("leaf.key", "tls.key"),
        ("root.pem", "cacerts.pem"),
    ] {
        std::fs::copy(corpus.join(from), dir.path().join(to)).unwrap();
    }
    dir
}

#[test]
fn cluster_commands_against_the_emulator() {
    let emulator = common::emulator::Emulator::start();
    let kubeconfig = emulator.kubeconfig();
    let backups = tempfile::tempdir().unwrap();
    let backup_dir = backups.path().display().to_string();
    let masks = [
        (kubeconfig.as_str(), "<KUBECONFIG>"),
        (backup_dir.as_str(), "<BACKUPS>"),
        (emulator.url.as_str(), "<API>"),
    ];
    let push = [
        "push",
        "--namespace",
        "cattle-system",
        "--cert",
        "testdata/corpus/fullchain.pem",
        "--key",
        "testdata/corpus/leaf.key",
        "--ca",
        "testdata/corpus/root.pem",
        "--kubeconfig",
        &kubeconfig,
        "--backup-dir",
        &backup_dir,
    ];
    golden_masked("push-created", &push, &masks);
    golden_masked("push-unchanged", &push, &masks);
    let expiry = [
        "expiry",
        "--kubeconfig",
        &kubeconfig,
        "--no-node",
        "--within",
        "30d",
    ];
    golden_masked("expiry-cluster", &expiry, &masks);
    let set = corpus_set();
    let set_dir = set.path().display().to_string();
    let mut with_set = masks.to_vec();
    with_set.push((set_dir.as_str(), "<SET>"));
    let plan = [
        "rotate",
        "plan",
        "--to",
        &set_dir,
        "--kubeconfig",
        &kubeconfig,
    ];
    golden_masked("rotate-plan", &plan, &with_set);
    // doctor and probe against nginx serving the pushed set, /ping and /cacerts.
    let port = common::servers::free_port();
    let corpus = |name: &str| format!("{}/testdata/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    let block = common::servers::tls_server_block(
        port,
        "_",
        &corpus("fullchain.pem"),
        &corpus("leaf.key"),
        &common::servers::rancher_locations(&corpus("root.pem")),
    );
    let _nginx = common::servers::nginx(&format!("http {{\n{block}}}\n"), &[port]);
    let host = format!("127.0.0.1:{port}");
    let mut with_host = masks.to_vec();
    with_host.push((host.as_str(), "127.0.0.1:<PORT>"));
    let doctor = [
        "doctor",
        "--host",
        &host,
        "--kubeconfig",
        &kubeconfig,
        "--timeout",
        "3s",
    ];
    golden_masked("doctor-good", &doctor, &with_host);
    let probe = [
        "probe",
        &host,
        "--servername",
        "rancher.example.com",
        "--ca",
        "testdata/corpus/root.pem",
        "--rancher",
    ];
    golden_masked("probe-rancher", &probe, &with_host);
    // The JSON documents (docs/json.md): each finding with its id, status, cause and fix.
    fn json<'a>(args: &[&'a str]) -> Vec<&'a str> {
        [&["-o", "json"], args].concat()
    }
    let status = [
        "rotate",
        "status",
        "--to",
        &set_dir,
        "--kubeconfig",
        &kubeconfig,
    ];
    golden_masked("rotate-status", &status, &with_set);
    golden_masked("rotate-status-json", &json(&status), &with_set);
    golden_masked("rotate-plan-json", &json(&plan), &with_set);
    golden_masked("push-unchanged-json", &json(&push), &masks);
    golden_masked("expiry-cluster-json", &json(&expiry), &masks);
    golden_masked("doctor-good-json", &json(&doctor), &with_host);
    golden_masked("probe-rancher-json", &json(&probe), &with_host);
    let apply = [
        "rotate",
        "apply",
        "--to",
        &set_dir,
        "--kubeconfig",
        &kubeconfig,
        "--dry-run",
    ];
    golden_masked("rotate-apply-dry-run", &apply, &with_set);
    golden_masked("rotate-apply-dry-run-json", &json(&apply), &with_set);
}

/// The JSON contract of docs/json.md: every cause code of `src/check/finding.rs` is
/// documented there, and every finding (a `warning`, `failed` or `skipped` check) in the
/// JSON golden transcripts carries its `id`, a `cause` and — unless nothing is missing —
/// a `fix` with its documentation.
#[test]
fn every_finding_is_data_and_every_cause_is_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(root.join("src/check/finding.rs")).unwrap();
    let docs = std::fs::read_to_string(root.join("docs/json.md")).unwrap();
    let enum_body =
        &source[source.find("pub enum Cause {").unwrap()..source.find("impl Cause {").unwrap()];
    let variant = regex::Regex::new(r"(?m)^    ([A-Z][A-Za-z0-9]*),$").unwrap();
    // serde's snake_case: an underscore before every capital but the first.
    let snake = |name: &str| {
        name.chars()
            .enumerate()
            .flat_map(|(index, c)| {
                let underscore = (index > 0 && c.is_ascii_uppercase()).then_some('_');
                underscore.into_iter().chain(c.to_lowercase())
            })
            .collect::<String>()
    };
    let codes: Vec<String> = variant
        .captures_iter(enum_body)
        .map(|c| snake(&c[1]))
        .collect();
    assert!(codes.len() > 80, "{codes:?}");
    let missing: Vec<&String> = codes
        .iter()
        .filter(|code| !docs.contains(&format!("`{code}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "causes missing from docs/json.md: {missing:?}"
    );

    let mut findings = 0;
    for entry in std::fs::read_dir(root.join("tests/golden"))
        .unwrap()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.ends_with("-json.txt") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let body: String = text
            .lines()
            .skip(1)
            .take_while(|line| !line.starts_with("[exit"))
            .collect::<Vec<_>>()
            .join("\n")
            .replace(": <N>", ": 0");
        let document: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|err| panic!("{name}: {err}"));
        let mut stack = vec![&document];
        while let Some(value) = stack.pop() {
            match value {
                serde_json::Value::Array(items) => stack.extend(items),
                serde_json::Value::Object(map) => {
                    let is_check = map.contains_key("id") && map.contains_key("message");
                    let finding = matches!(
                        map.get("status").and_then(|s| s.as_str()),
                        Some("warning" | "failed" | "skipped")
                    );
                    if is_check && finding {
                        findings += 1;
                        let cause = map["cause"]
                            .as_str()
                            .unwrap_or_else(|| panic!("{name}: no cause in {value}"));
                        assert!(
                            codes.iter().any(|code| code == cause),
                            "{name}: unknown cause {cause}"
                        );
                        if cause != "not_present" {
                            assert!(
                                map["fix"]["doc"]
                                    .as_str()
                                    .is_some_and(|doc| doc.starts_with("https://")),
                                "{name}: no fix in {value}"
                            );
                        }
                    }
                    stack.extend(map.values());
                }
                _ => {}
            }
        }
    }
    assert!(
        findings >= 3,
        "the JSON transcripts hold {findings} finding(s)"
    );
}
