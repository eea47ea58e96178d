//! The clients themselves as oracles: Go's crypto/x509 (the program in tests/oracle/go,
//! built once with Debian's golang-1.19-go) and `openssl verify` in its default mode.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The Go oracle binary, built on first use into the target directory (offline, standard
/// library only).
pub fn go_oracle() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("oracle");
        let binary = target.join("oracle-go");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/go");
        let status = Command::new("/usr/lib/go-1.19/bin/go")
            .args(["build", "-o"])
            .arg(&binary)
            .arg(".")
            .current_dir(source)
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("GOPATH", target.join("gopath"))
            .env("GOCACHE", target.join("gocache"))
            .status()
            .expect("Go 1.19 is installed (scripts/test installs golang-1.19-go)");
        assert!(status.success(), "the Go oracle builds");
        binary
    })
}

/// One case for the Go oracle: the leaf, the intermediates and roots as PEM blocks, the
/// name to verify for and the time (RFC 3339).
pub fn go_case(
    id: &str,
    leaf: &str,
    intermediates: &[String],
    roots: &[String],
    host: &str,
    time: &str,
) -> serde_json::Value {
    let kind = if host.parse::<std::net::IpAddr>().is_ok() {
        "IP"
    } else {
        "DNS"
    };
    serde_json::json!({"id": id, "leaf": leaf, "intermediates": intermediates, "roots": roots,
        "peer_name": host, "peer_kind": kind, "time": time})
}

/// Go's verdict on each case, in order: (accept, error text).
pub fn go_verdicts(cases: &[serde_json::Value]) -> Vec<(bool, String)> {
    let mut child = Command::new(go_oracle())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the Go oracle runs");
    let input: String = cases.iter().map(|case| format!("{case}\n")).collect();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write cases");
    let output = child.wait_with_output().expect("the Go oracle ends");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            (
                value["accept"].as_bool().unwrap_or(false),
                value["error"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// `openssl verify -purpose sslserver -auth_level 2`: OpenSSL's default verification (not
/// -x509_strict) at the security level its TLS clients (curl, nginx, s_client) apply by
/// default on Debian, Ubuntu and RHEL, and upstream since OpenSSL 3.2 (level 2: RSA and
/// DSA keys of 2048 bits, curves of 224) — the `openssl verify` command alone applies
/// none, and would accept SHA-1. The
/// first certificate of `chain_file` is the target, the rest untrusted: (accept, output).
pub fn openssl_default_verify(
    ca: &str,
    chain_file: &str,
    extra_untrusted: Option<&str>,
    host: &str,
) -> (bool, String) {
    let text = std::fs::read_to_string(chain_file).expect("chain file is readable");
    let blocks = super::pem_blocks(&text);
    let dir = tempfile::tempdir().expect("temp dir");
    let leaf = dir.path().join("leaf.pem");
    let rest = dir.path().join("rest.pem");
    let mut untrusted = blocks[1..].concat();
    if let Some(extra) = extra_untrusted {
        untrusted.push_str(&std::fs::read_to_string(extra).expect("untrusted file"));
    }
    std::fs::write(&leaf, &blocks[0]).expect("write leaf");
    std::fs::write(&rest, &untrusted).expect("write rest");
    let (leaf, rest) = (leaf.display().to_string(), rest.display().to_string());
    let mut args = vec![
        "verify",
        "-purpose",
        "sslserver",
        "-auth_level",
        "2",
        "-no-CApath",
        "-no-CAstore",
        "-CAfile",
        ca,
    ];
    if !untrusted.is_empty() {
        args.extend(["-untrusted", rest.as_str()]);
    }
    if host.parse::<std::net::IpAddr>().is_ok() {
        args.extend(["-verify_ip", host]);
    } else {
        args.extend(["-verify_hostname", host]);
    }
    args.push(leaf.as_str());
    super::openssl(&args)
}
