//! Shared helpers of the end-to-end tests: the binary, fresh openssl fixtures, openssl itself.
#![allow(dead_code)]

pub mod emulator;
pub mod oracle;
pub mod servers;

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::OnceLock;

pub use assert_cmd::Command;

/// Every command that takes files or talks to a cluster (the man page and help tests walk them).
pub const COMMANDS: &[&str] = &[
    "selfsign",
    "fullchain",
    "inspect",
    "verify",
    "probe",
    "push",
    "doctor",
    "expiry",
    "import",
];

/// The rcert binary, with color off and NO_COLOR set.
pub fn rcert() -> Command {
    let mut command = Command::cargo_bin("rcert").expect("rcert binary is built");
    command.env("NO_COLOR", "1");
    command
}

/// Fixtures freshly made by `testdata/generate.sh` (once per test binary), so none expires.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("fixtures-{}", std::process::id()));
        let status = Process::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/generate.sh"))
            .arg(&dir)
            .status()
            .expect("bash runs");
        assert!(status.success(), "testdata/generate.sh failed");
        dir
    })
}

/// A fixture's path as a string.
pub fn fixture(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

/// A fixture's bytes.
pub fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).expect("fixture is readable")
}

/// The committed corpus (broken inputs; nothing there depends on the clock).
pub fn corpus(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/corpus")
        .join(name)
        .display()
        .to_string()
}

/// Run openssl; returns (success, stdout + stderr).
pub fn openssl(args: &[&str]) -> (bool, String) {
    let output = Process::new("openssl")
        .args(args)
        .output()
        .expect("openssl is installed");
    let mut text = String::from_utf8_lossy(&output.stdout).to_string();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// Split a PEM bundle into its certificate blocks.
pub fn pem_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.starts_with("-----BEGIN") {
            current.clear();
        }
        current.push_str(line);
        current.push('\n');
        if line.starts_with("-----END") {
            blocks.push(current.clone());
        }
    }
    blocks
}

/// `openssl verify -x509_strict -purpose sslserver` of a chain file the way a TLS server
/// would present it: the first certificate is the target, the rest untrusted.
pub fn openssl_verify(ca: &str, chain_file: &str, extra: &[&str]) -> bool {
    let text = std::fs::read_to_string(chain_file).expect("chain file is readable");
    let blocks = pem_blocks(&text);
    let dir = tempfile::tempdir().expect("temp dir");
    let leaf = dir.path().join("leaf.pem");
    let rest = dir.path().join("rest.pem");
    std::fs::write(&leaf, &blocks[0]).expect("write leaf");
    std::fs::write(&rest, blocks[1..].concat()).expect("write rest");
    let (leaf, rest) = (leaf.display().to_string(), rest.display().to_string());
    let mut args = vec![
        "verify",
        "-x509_strict",
        "-purpose",
        "sslserver",
        "-CAfile",
        ca,
    ];
    if blocks.len() > 1 {
        args.extend(["-untrusted", rest.as_str()]);
    }
    args.extend(extra);
    args.push(leaf.as_str());
    openssl(&args).0
}

/// Run rcert in this process (`rcert::cli::run_with`, neither stream a terminal) and
/// return (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut terminal = rcert::output::Terminal::new(&mut stdout, &mut stderr, false, false);
    let code = rcert::cli::run_with(
        std::iter::once("rcert").chain(args.iter().copied()),
        &mut terminal,
    );
    (
        i32::from(code),
        String::from_utf8_lossy(&stdout).to_string(),
        String::from_utf8_lossy(&stderr).to_string(),
    )
}

/// Run the rcert binary (a separate process) and return (exit code, stdout, stderr).
pub fn run_binary(args: &[&str]) -> (i32, String, String) {
    let output = rcert().args(args).output().expect("rcert runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// Run rcert with `-o json` and parse stdout.
pub fn run_json(args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = vec!["-o", "json"];
    all.extend(args);
    let (code, stdout, stderr) = run(&all);
    let value = serde_json::from_str(&stdout)
        .unwrap_or_else(|err| panic!("stdout is not JSON ({err}): {stdout}\nstderr: {stderr}"));
    (code, value)
}

/// Every file in a directory with its bytes (to prove nothing changed).
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.is_file())
                .map(|path| {
                    let bytes = std::fs::read(&path).unwrap_or_default();
                    (path, bytes)
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// sha256 of bytes as `sha256sum` (coreutils, an independent implementation) prints it.
pub fn sha256sum(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Process::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("write");
    let output = child.wait_with_output().expect("sha256sum ends");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Base64 of bytes as coreutils' `base64 -w0` prints it.
pub fn base64(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Process::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("base64 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("write");
    String::from_utf8(child.wait_with_output().expect("base64 ends").stdout).expect("ASCII")
}

/// `openssl x509 -enddate` of the first certificate in `file`, as unix seconds.
pub fn openssl_enddate(file: &str) -> i64 {
    openssl_date(file, "-enddate")
}

/// `openssl x509 -startdate` of the first certificate in `file`, as unix seconds.
pub fn openssl_startdate(file: &str) -> i64 {
    openssl_date(file, "-startdate")
}

fn openssl_date(file: &str, which: &str) -> i64 {
    let (ok, text) = openssl(&["x509", "-in", file, "-noout", which]);
    assert!(ok, "{text}");
    let date = text.trim().split_once('=').map_or("", |(_, date)| date);
    let output = Process::new("date")
        .args(["-u", "-d", date, "+%s"])
        .output()
        .expect("date runs");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("unix seconds")
}

/// A root (with `root_args` added to `openssl req -x509`) and a leaf it signs with the
/// extensions given; returns (root file, leaf file).
pub fn openssl_chain(dir: &Path, root_args: &[&str], leaf_ext: &[&str]) -> (String, String) {
    let p = |name: &str| dir.join(name).display().to_string();
    let mut args = vec![
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "root.key",
        "-out",
        "root.pem",
        "-days",
        "30",
        "-subj",
        "/CN=Test Root",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ];
    args.extend(root_args);
    let args: Vec<String> = args
        .iter()
        .map(|a| match *a {
            "root.key" | "root.pem" => p(a),
            other => other.to_string(),
        })
        .collect();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, text) = openssl(&refs);
    assert!(ok, "{text}");
    let (ok, text) = openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &p("leaf.key"),
        "-out",
        &p("leaf.csr"),
        "-subj",
        "/CN=leaf",
    ]);
    assert!(ok, "{text}");
    (
        p("root.pem"),
        openssl_sign_leaf(dir, &["-set_serial", "4242"], leaf_ext, "leaf.pem"),
    )
}

/// Sign `dir/leaf.csr` (from [`openssl_chain`]) with its root into `dir/out`, with the
/// extensions given and `extra` arguments (`-set_serial N`, `-sha1`); returns the path.
pub fn openssl_sign_leaf(dir: &Path, extra: &[&str], leaf_ext: &[&str], out: &str) -> String {
    let p = |name: &str| dir.join(name).display().to_string();
    let ext = p(&format!("{out}.ext"));
    std::fs::write(&ext, leaf_ext.join("\n") + "\n").expect("write the extensions");
    let (csr, root, root_key, out) = (p("leaf.csr"), p("root.pem"), p("root.key"), p(out));
    let mut args = vec![
        "x509", "-req", "-in", &csr, "-CA", &root, "-CAkey", &root_key, "-days", "20", "-extfile",
        &ext, "-out", &out,
    ];
    args.extend(extra);
    let (ok, text) = openssl(&args);
    assert!(ok, "{text}");
    out
}

/// A finding's structured `fix` (`{commands: [[argv]], note?, doc}`) as the one line
/// text output shows: the commands joined by `&&`, the note after `#`, else the note.
pub fn fix_line(fix: &serde_json::Value) -> String {
    let commands: Vec<String> = fix["commands"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|argv| {
            argv.as_array()
                .into_iter()
                .flatten()
                .filter_map(serde_json::Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let note = fix["note"].as_str();
    match (commands.is_empty(), note) {
        (false, Some(note)) => format!("{}   # {note}", commands.join(" && ")),
        (false, None) => commands.join(" && "),
        (true, Some(note)) => note.to_string(),
        (true, None) => String::new(),
    }
}

/// The check `id` of one verify report (`report["checks"]`), as JSON.
pub fn check_json(report: &serde_json::Value, id: &str) -> serde_json::Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
        .clone()
}
