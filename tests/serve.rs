//! `rcert expiry --serve` end to end: the exporter binary against the Kubernetes API
//! emulator (LIST + WATCH, 410 Gone, the API going away), node files that change, a real
//! Prometheus (promtool and the server) and headless Chromium for the page.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::emulator::{secret_json, Emulator};
use common::{fixture_bytes, run};

/// One exporter process; killed on drop.
struct Exporter {
    child: Child,
    url: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Exporter {
    fn start(args: &[&str]) -> Exporter {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rcert"))
            .args(["expiry", "--serve", "127.0.0.1:0"])
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rcert starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("a URL line");
        let url = line.trim().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "first line: {url}");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Exporter { child, url, log }
    }

    fn get(&self, path: &str) -> (u16, String, String) {
        http_get(&self.url, path, None)
    }

    fn metrics(&self) -> String {
        let (status, _, body) = self.get("/metrics");
        assert_eq!(status, 200);
        body
    }

    /// Wait (bounded) until `/metrics` satisfies `test`; how long it took.
    fn wait_for(&self, what: &str, seconds: u64, test: impl Fn(&str) -> bool) -> Duration {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(seconds) {
            if test(&self.metrics()) {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{what}: not within {seconds} s\n{}\nlog:\n{}",
            self.metrics(),
            self.log()
        );
    }

    fn wait_ready(&self) {
        let start = Instant::now();
        while self.get("/readyz").0 != 200 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "never ready: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Wait (at most 10 s) until the log holds `line`: the log is read from the
    /// exporter's stderr by another thread, a moment after the metrics change.
    fn wait_for_log(&self, line: &str) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if self.log().contains(line) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the log never said {line:?}:\n{}", self.log());
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 GET (Connection: close): status, content type, body.
fn http_get(url: &str, path: &str, accept: Option<&str>) -> (u16, String, String) {
    let address = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let accept = accept.map_or(String::new(), |accept| format!("Accept: {accept}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\n{accept}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reads");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let kind = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    (status, kind, body.to_string())
}

/// An exporter of the emulator's cluster (and no node files), ready.
fn cluster_exporter(emulator: &Emulator, extra: &[&str]) -> Exporter {
    let kubeconfig = emulator.kubeconfig();
    let mut args = vec!["--kubeconfig", kubeconfig.as_str(), "--no-node"];
    args.extend(extra);
    let exporter = Exporter::start(&args);
    exporter.wait_ready();
    exporter
}

/// An exporter of a directory holding fixtures (`(file name, fixture)`), ready.
fn files_exporter(files: &[(&str, &str)]) -> (tempfile::TempDir, Exporter) {
    let dir = tempfile::tempdir().unwrap();
    for (name, fixture) in files {
        std::fs::write(dir.path().join(name), fixture_bytes(fixture)).unwrap();
    }
    let exporter = Exporter::start(&[
        "--no-cluster",
        "--no-node",
        "--path",
        &dir.path().display().to_string(),
    ]);
    exporter.wait_ready();
    (dir, exporter)
}

fn tls_secret(namespace: &str, name: &str) -> serde_json::Value {
    secret_json(
        namespace,
        name,
        "kubernetes.io/tls",
        &[
            ("tls.crt", fixture_bytes("leaf.pem")),
            ("tls.key", fixture_bytes("leaf.key")),
        ],
    )
}

/// The LIST requests (not watches) of TLS secrets the emulator answered.
fn tls_secret_lists(emulator: &Emulator) -> usize {
    emulator
        .control("GET", "/_rcert/requests", "")
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            let query = r["query"].as_str().unwrap_or_default();
            // The watcher's pages (limit=500); the one-object reads that check whether
            // a source is back are not lists of the inventory.
            r["path"] == "/api/v1/secrets"
                && query.contains("type%3Dkubernetes.io/tls")
                && query.contains("limit=500")
                && !query.contains("watch=")
        })
        .count()
}

fn series_of(metrics: &str, secret: &str) -> bool {
    metrics.lines().any(|line| {
        line.starts_with("x509_cert_not_after{")
            && line.contains(&format!("secret_name=\"{secret}\""))
    })
}

#[test]
fn a_created_secret_appears_and_a_deleted_one_disappears_without_a_second_list() {
    let emulator = Emulator::start();
    emulator.seed("v1/secrets", &[tls_secret("ns1", "first")]);
    let exporter = cluster_exporter(&emulator, &[]);
    exporter.wait_for("the first secret", 10, |m| series_of(m, "first"));

    // Created through the API, as kubectl or cert-manager would.
    let body = tls_secret("ns1", "second").to_string();
    let created = emulator.control("POST", "/api/v1/namespaces/ns1/secrets", &body);
    assert_eq!(created["metadata"]["name"], "second", "{created}");
    let appeared = exporter.wait_for("the new secret", 5, |m| series_of(m, "second"));
    let deleted = emulator.control("DELETE", "/api/v1/namespaces/ns1/secrets/first", "");
    assert_eq!(deleted["metadata"]["name"], "first", "{deleted}");
    let gone = exporter.wait_for("the deleted secret gone", 5, |m| !series_of(m, "first"));
    eprintln!("created → /metrics in {appeared:?}, deleted → gone in {gone:?}");
    assert!(appeared < Duration::from_secs(2) && gone < Duration::from_secs(2));
    assert_eq!(tls_secret_lists(&emulator), 1, "one LIST, then the watch");
    // The page lists both the survivor and its fix column.
    let (status, kind, page) = exporter.get("/");
    assert_eq!((status, kind.as_str()), (200, "text/html; charset=utf-8"));
    assert!(
        page.contains("ns1/second") && !page.contains("ns1/first"),
        "{page}"
    );
}

#[test]
fn a_410_gone_triggers_exactly_one_relist() {
    let emulator = Emulator::start();
    emulator.seed("v1/secrets", &[tls_secret("ns1", "kept")]);
    let exporter = cluster_exporter(&emulator, &[]);
    assert_eq!(tls_secret_lists(&emulator), 1);
    // etcd compacted: the watch resumes from an older resourceVersion and gets 410.
    emulator.control("POST", "/_rcert/compact", "");
    exporter.wait_for("the relist", 10, |m| {
        m.contains("rcert_source_lists_total{source=\"cluster secrets type=kubernetes.io/tls\"} 2")
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(tls_secret_lists(&emulator), 2, "{}", exporter.log());
    let metrics = exporter.metrics();
    assert!(series_of(&metrics, "kept"), "{metrics}");
    assert!(
        metrics.contains("rcert_source_up{source=\"cluster secrets type=kubernetes.io/tls\"} 1")
    );
    assert!(
        exporter
            .log()
            .contains("relist cluster secrets type=kubernetes.io/tls"),
        "{}",
        exporter.log()
    );
}

#[test]
fn the_api_going_away_is_up_0_and_coming_back_recovers() {
    let emulator = Emulator::start();
    emulator.seed("v1/secrets", &[tls_secret("ns1", "kept")]);
    let exporter = cluster_exporter(&emulator, &[]);
    let up = "rcert_source_up{source=\"cluster secrets type=kubernetes.io/tls\"}";
    emulator.control(
        "POST",
        "/_rcert/faults",
        r#"{"status": 500, "message": "etcd is down"}"#,
    );
    emulator.control("POST", "/_rcert/close-watches", "");
    exporter.wait_for("up 0", 10, |m| m.contains(&format!("{up} 0")));
    let metrics = exporter.metrics();
    // What was known stays listed while the source is down; the error is counted.
    assert!(series_of(&metrics, "kept"), "{metrics}");
    assert!(!metrics.contains(
        "rcert_source_errors_total{source=\"cluster secrets type=kubernetes.io/tls\"} 0"
    ));
    exporter.wait_for_log("source down cluster secrets type=kubernetes.io/tls: cannot watch secrets type=kubernetes.io/tls: API server error 500 (etcd is down)");
    emulator.clear_faults();
    exporter.wait_for("up 1 again", 10, |m| m.contains(&format!("{up} 1")));
    assert_eq!(
        tls_secret_lists(&emulator),
        1,
        "recovered by watching again, not by a relist"
    );
}

#[test]
fn a_dead_context_is_up_0_beside_a_live_one_with_context_labels() {
    let emulator = Emulator::start();
    emulator.seed("v1/secrets", &[tls_secret("ns1", "live")]);
    // A port nothing listens on: bind one, then free it.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let kubeconfig = emulator.write_kubeconfig(
        "two",
        &[("live", &emulator.url.clone()), ("dead", &dead)],
        "live",
    );
    let exporter = Exporter::start(&[
        "--kubeconfig",
        &kubeconfig,
        "--all-contexts",
        "--concurrency",
        "1",
        "--no-node",
        "--timeout",
        "2s",
    ]);
    exporter.wait_ready();
    exporter.wait_for("both contexts known", 20, |m| {
        m.contains("rcert_source_up{source=\"cluster dead secrets type=kubernetes.io/tls\",context=\"dead\"} 0")
            && m.contains("rcert_source_up{source=\"cluster live secrets type=kubernetes.io/tls\",context=\"live\"} 1")
    });
    let metrics = exporter.metrics();
    let live = metrics
        .lines()
        .find(|line| {
            line.starts_with("x509_cert_not_after{") && line.contains("secret_name=\"live\"")
        })
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(live.contains("context=\"live\""), "{live}");
    assert!(
        metrics.contains("rcert_certificates{status=\"ok\",context=\"live\"} 1"),
        "{metrics}"
    );
    exporter.wait_for_log("source down cluster dead secrets type=kubernetes.io/tls: cannot list secrets type=kubernetes.io/tls: API server unreachable");
}

#[test]
fn node_files_are_read_again_when_they_change() {
    let (dir, exporter) = files_exporter(&[("server.crt", "leaf.pem")]);
    let file = dir.path().join("server.crt");
    let serial = |pem: &str| {
        let (ok, text) = common::openssl(&["x509", "-noout", "-serial", "-in", pem]);
        assert!(ok);
        text.trim()
            .trim_start_matches("serial=")
            .to_ascii_lowercase()
    };
    let as_label = |hex: &str| {
        hex.as_bytes()
            .chunks(2)
            .map(|pair| std::str::from_utf8(pair).unwrap())
            .collect::<Vec<_>>()
            .join(":")
    };
    let first = as_label(&serial(&common::fixture("leaf.pem")));
    assert!(
        exporter.metrics().contains(&first),
        "{}",
        exporter.metrics()
    );
    std::fs::write(&file, fixture_bytes("root.pem")).unwrap();
    let second = as_label(&serial(&common::fixture("root.pem")));
    let took = exporter.wait_for("the changed file", 10, |m| {
        m.contains(&second) && !m.contains(&first)
    });
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn metrics_pass_promtool_and_openmetrics_is_served_when_asked() {
    let (_dir, exporter) = files_exporter(&[("a.crt", "leaf.pem")]);
    let (status, kind, text) = http_get(&exporter.url, "/metrics", None);
    assert_eq!(
        (status, kind.as_str()),
        (200, "text/plain; version=0.0.4; charset=utf-8")
    );
    let checked = promtool_check(&text);
    assert!(checked.0, "promtool: {}\n{text}", checked.1);
    let (status, kind, open) = http_get(
        &exporter.url,
        "/metrics",
        Some("application/openmetrics-text; version=1.0.0"),
    );
    assert_eq!(status, 200);
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    assert!(open.ends_with("# EOF\n"), "{open}");
    assert!(
        open.contains("# TYPE rcert_source_errors counter\n"),
        "{open}"
    );
    assert_eq!(
        exporter.get("/healthz"),
        (
            200,
            "text/plain; charset=utf-8".to_string(),
            "ok\n".to_string()
        )
    );
    assert_eq!(exporter.get("/nope").0, 404);
}

fn promtool_check(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian prometheus) is installed by scripts/test");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

#[test]
fn sigterm_stops_the_exporter_with_exit_0_within_seconds() {
    let (_dir, mut exporter) = files_exporter(&[("a.crt", "leaf.pem")]);
    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &exporter.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    loop {
        if let Some(status) = exporter.child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_bad_or_taken_address_is_refused_at_once() {
    let (code, _, stderr) = run(&["expiry", "--serve", "nonsense", "--no-cluster"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            "'nonsense' is not an address to listen on: write :9793, 127.0.0.1:9793 or [::1]:9793"
        ),
        "{stderr}"
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let (code, _, stderr) = run(&["expiry", "--serve", &address, "--no-cluster", "--path", "."]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!("rcert: error: cannot listen on {address}: the address is in use (another exporter? choose another port, or 127.0.0.1:0 for a free one)")),
        "{stderr}"
    );
    let (code, _, stderr) = run(&[
        "expiry",
        "--serve",
        "127.0.0.1:0",
        "-o",
        "json",
        "--no-cluster",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("-o does not apply"), "{stderr}");
    let (code, _, stderr) = run(&["expiry", "--interval", "5s", "--no-cluster"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--serve"), "{stderr}");
    let (code, _, stderr) = run(&[
        "expiry",
        "--serve",
        "127.0.0.1:0",
        "--interval",
        "1ms",
        "--no-cluster",
        "--path",
        ".",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("'1ms' is under a second: the interval must be at least 1s"),
        "{stderr}"
    );
    // Nothing to watch, or a kubeconfig that cannot be used: refused before listening
    // (nothing printed on stdout), as one-shot expiry refuses them.
    let empty = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_rcert"))
        .args(["expiry", "--serve", "127.0.0.1:0", "--no-node"])
        .env_remove("KUBECONFIG")
        .env("HOME", empty.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("nothing to watch: no kubeconfig ($KUBECONFIG, ~/.kube/config), not in a cluster, and --no-node"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (code, stdout, stderr) = run(&[
        "expiry",
        "--serve",
        "127.0.0.1:0",
        "--no-node",
        "--kubeconfig",
        "/nonexistent/kubeconfig",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let (code, stdout, _) = run(&[
        "expiry",
        "--serve",
        "127.0.0.1:0",
        "--no-cluster",
        "--no-node",
    ]);
    assert_eq!(code, 2);
    assert!(
        stdout.is_empty(),
        "no URL printed before the refusal: {stdout}"
    );
}

/// A real Prometheus (Debian's) scrapes the exporter on loopback; PromQL finds the series.
#[test]
fn a_real_prometheus_scrapes_the_exporter() {
    let (dir, exporter) = files_exporter(&[("a.crt", "leaf.pem")]);
    let target = exporter.url.trim_start_matches("http://");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n- job_name: rcert\n  static_configs:\n  - targets: ['{target}']\n"),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (Debian) is installed by scripts/test");
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let mut answer = String::new();
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(stream) = TcpStream::connect(format!("127.0.0.1:{port}")) {
            drop(stream);
            answer = http_get(&url, "/api/v1/query?query=x509_cert_not_after", None).2;
            if answer.contains("\"subject_CN\":\"rancher.example.com\"") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let health = http_get(&url, "/api/v1/targets", None).2;
    // Every query of the Grafana dashboard (deploy/grafana) parses and answers.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/rcert-expiry.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let queries: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().unwrap().clone())
        .map(|target| target["expr"].as_str().unwrap().to_string())
        .collect();
    let answers: Vec<(String, String)> = queries
        .iter()
        .map(|query| {
            (
                query.clone(),
                http_get(
                    &url,
                    &format!("/api/v1/query?query={}", percent_encoded(query)),
                    None,
                )
                .2,
            )
        })
        .collect();
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    assert!(
        answer.contains("\"subject_CN\":\"rancher.example.com\""),
        "PromQL answered: {answer}\ntargets: {health}"
    );
    let not_after = common::openssl_enddate(&common::fixture("leaf.pem"));
    assert!(answer.contains(&format!("\"{not_after}\"")), "{answer}");
    assert!(health.contains("\"health\":\"up\""), "{health}");
    for (query, answer) in answers {
        assert!(
            answer.starts_with("{\"status\":\"success\""),
            "{query}: {answer}"
        );
    }
}

/// A query string value, percent-encoded.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The page in headless Chromium: the DOM it builds holds the table and the timeline,
/// and the screenshot is drawn.
#[test]
fn the_page_renders_in_headless_chromium() {
    let (dir, exporter) = files_exporter(&[("a.crt", "leaf.pem"), ("b.crt", "root.pem")]);
    let chromium = |extra: &[&str]| {
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
            ])
            .args(extra)
            .arg(format!("{}/", exporter.url))
            .output()
            .expect("chromium (Debian) is installed by scripts/test")
    };
    let dom = String::from_utf8_lossy(&chromium(&["--dump-dom"]).stdout).to_string();
    assert!(dom.contains("<table id=\"certificates\">"), "{dom}");
    assert_eq!(
        dom.matches("<tr><td class=\"s ").count(),
        3,
        "two certificates and one source: {dom}"
    );
    assert!(dom.contains("<svg id=\"timeline\""), "{dom}");
    assert!(dom.matches("<rect x=").count() >= 2, "bars drawn: {dom}");
    let shot = dir.path().join("page.png");
    let output = chromium(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1100,700",
    ]);
    assert!(shot.exists(), "{}", String::from_utf8_lossy(&output.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    if let Some(keep) = std::env::var_os("RCERT_SCREENSHOT") {
        std::fs::copy(&shot, Path::new(&keep)).unwrap();
    }
}

/// Rancher's own cluster: the agent's CATTLE_CA_CHECKSUM against the cacerts setting,
/// tls-ca against it; an agent left with an old checksum is 0, and a fix turns it to 1.
#[test]
fn agents_checksum_and_tls_ca_are_gauges() {
    let emulator = Emulator::start();
    let ca = String::from_utf8(fixture_bytes("root.pem")).unwrap();
    emulator.register_cluster_scoped("management.cattle.io/v3/settings", "Setting", "setting");
    emulator.seed(
        "management.cattle.io/v3/settings",
        &[
            serde_json::json!({"apiVersion": "management.cattle.io/v3", "kind": "Setting",
            "metadata": {"name": "cacerts"}, "value": ca}),
        ],
    );
    emulator.seed(
        "v1/secrets",
        &[secret_json(
            "cattle-system",
            "tls-ca",
            "Opaque",
            &[("cacerts.pem", ca.clone().into_bytes())],
        )],
    );
    let agent = |checksum: &str| {
        common::emulator::workload_json(
            "Deployment",
            "cattle-cluster-agent",
            "rancher/rancher-agent",
            serde_json::json!([{"name": "CATTLE_CA_CHECKSUM", "value": checksum}]),
        )
    };
    emulator.seed_one(agent("0123-an-old-checksum"));
    let exporter = cluster_exporter(&emulator, &["--interval", "1s"]);
    let agent_series =
        "rcert_agent_ca_checksum_match{agent=\"deployment cattle-system/cattle-cluster-agent\"}";
    exporter.wait_for("the agent mismatch", 10, |m| {
        m.contains(&format!("{agent_series} 0"))
    });
    assert!(
        exporter
            .metrics()
            .contains("rcert_tls_ca_matches_cacerts 1"),
        "{}",
        exporter.metrics()
    );
    // CATTLE_CA_CHECKSUM as Rancher computes it: sha256 of /cacerts as served.
    let served = ca.trim().to_string() + "\n";
    emulator.seed_one(agent(&common::sha256sum(served.as_bytes())));
    exporter.wait_for("the agent fixed", 10, |m| {
        m.contains(&format!("{agent_series} 1"))
    });
    // The page names tls-ca among the certificates (an Opaque secret in cattle-system).
    assert!(exporter.get("/").2.contains("cattle-system/tls-ca"));
}

/// What RBAC forbids is a source down with the API's words, never a silent gap: here
/// Rancher's agents cannot be read.
#[test]
fn a_forbidden_agent_read_is_the_source_down() {
    let emulator = Emulator::start();
    emulator.seed("v1/secrets", &[tls_secret("ns1", "kept")]);
    emulator.fault("GET", "deployments/cattle-cluster-agent", 403);
    let exporter = cluster_exporter(&emulator, &["--interval", "1s"]);
    let source = "rcert_source_up{source=\"cluster caBundles, node Events and agents\"}";
    exporter.wait_for("the source down", 10, |m| {
        m.contains(&format!("{source} 0"))
    });
    exporter.wait_for_log("source down cluster caBundles, node Events and agents: cannot get deployment cattle-system/cattle-cluster-agent: 403 Forbidden");
    emulator.clear_faults();
    exporter.wait_for("the source up again", 10, |m| {
        m.contains(&format!("{source} 1"))
    });
}

/// An Opaque secret holding a CA in an application namespace: outside the API server's
/// filter by default (said in the README), watched with --all-secrets as one-shot reads it.
#[test]
fn all_secrets_watches_what_the_field_selector_leaves_out() {
    let emulator = Emulator::start();
    let opaque = secret_json(
        "app",
        "app-ca",
        "Opaque",
        &[("ca.crt", fixture_bytes("root.pem"))],
    );
    emulator.seed("v1/secrets", &[tls_secret("ns1", "kept"), opaque]);
    let filtered = cluster_exporter(&emulator, &[]);
    assert!(series_of(&filtered.metrics(), "kept"));
    assert!(
        !series_of(&filtered.metrics(), "app-ca"),
        "{}",
        filtered.metrics()
    );
    let every = cluster_exporter(&emulator, &["--all-secrets"]);
    let metrics = every.metrics();
    assert!(
        series_of(&metrics, "kept") && series_of(&metrics, "app-ca"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rcert_source_up{source=\"cluster secrets\"} 1"),
        "{metrics}"
    );
    // No field selector on its list.
    let unfiltered = emulator
        .control("GET", "/_rcert/requests", "")
        .as_array()
        .unwrap()
        .iter()
        .any(|r| {
            r["path"] == "/api/v1/secrets"
                && !r["query"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("fieldSelector")
        });
    assert!(unfiltered);
}
