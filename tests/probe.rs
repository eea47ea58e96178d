//! `rcert probe` against real TLS servers on loopback, started by the tests:
//! `openssl s_server`, nginx L7 with SNI and http2, nginx L4 `stream` passthrough,
//! and small fault servers. Every wait is bounded.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::servers::{
    free_port, nginx, rancher_locations, s_server, s_server_on, tls_server_block, Server,
};
use common::*;

fn cert_options(cert: &str, key: &str, chain: Option<&str>) -> Vec<String> {
    let mut options = vec![
        "-cert".to_string(),
        fixture(cert),
        "-key".to_string(),
        fixture(key),
    ];
    if let Some(chain) = chain {
        options.extend(["-cert_chain".to_string(), fixture(chain)]);
    }
    options
}

fn probe(args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = vec!["probe", "--timeout", "3s"];
    all.extend(args);
    run_json(&all)
}

/// The status and message of a named check of result `index`.
fn check(json: &serde_json::Value, index: usize, name: &str) -> (String, String) {
    let checks = json["results"][index]["checks"].as_array().expect("checks");
    let found = checks
        .iter()
        .find(|c| c["id"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {json:#}"));
    (
        found["status"].as_str().unwrap().to_string(),
        found["message"].as_str().unwrap().to_string(),
    )
}

/// `openssl s_server` with a certificate, its key, an optional chain file and more options.
fn server_with(cert: &str, key: &str, chain: Option<&str>, extra: &[&str]) -> (Server, String) {
    let mut options = cert_options(cert, key, chain);
    options.extend(extra.iter().map(|s| s.to_string()));
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    s_server(&options)
}

/// Probe one address the way HA checks do: Rancher's name as SNI, the test root as CA.
fn probe_as_rancher(address: &str) -> (i32, serde_json::Value) {
    probe(&[
        address,
        "--servername",
        "rancher.example.com",
        "--ca",
        &fixture("root.pem"),
    ])
}

fn good_server(extra: &[&str]) -> (Server, String) {
    common::servers::leaf_server(extra)
}

#[test]
fn tls13_only_server() {
    let (_server, address) = good_server(&["-tls1_3"]);
    let (code, json) = probe_as_rancher(&address);
    assert_eq!(code, 0, "{json:#}");
    let result = &json["results"][0];
    assert_eq!(result["tls_version"], "TLSv1.3");
    assert_eq!(result["servername"], "rancher.example.com");
    assert_eq!(result["chain"].as_array().unwrap().len(), 2);
    assert_eq!(check(&json, 0, "chain").0, "ok");
    assert_eq!(check(&json, 0, "name").0, "ok");
}

#[test]
fn tls12_only_server() {
    let (_server, address) = good_server(&["-tls1_2"]);
    let (code, json) = probe_as_rancher(&address);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["results"][0]["tls_version"], "TLSv1.2");
    assert!(json["results"][0]["cipher_suite"]
        .as_str()
        .unwrap()
        .starts_with("TLS_ECDHE_ECDSA"));
}

#[test]
fn alpn_h2_is_negotiated() {
    let (_server, address) = good_server(&["-alpn", "h2"]);
    let (code, json) = probe_as_rancher(&address);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["results"][0]["alpn"], "h2");
    let (_, json) = probe(&[
        &address,
        "--alpn",
        "http/1.1",
        "--servername",
        "rancher.example.com",
    ]);
    // The server speaks only h2: with http/1.1 offered, no protocol is agreed.
    assert!(json["results"][0]["alpn"].is_null(), "{json:#}");
}

#[test]
fn server_sending_the_leaf_without_the_intermediate() {
    let (_server, address) = server_with("leaf.pem", "leaf.key", None, &[]);
    let (code, json) = probe_as_rancher(&address);
    assert_eq!(code, 1);
    let (status, message) = check(&json, 0, "chain");
    assert_eq!(status, "failed");
    assert!(
        message.contains("the server sends the leaf without it")
            && message.contains("rcert Test Intermediate CA"),
        "{message}"
    );
}

#[test]
fn expired_certificate() {
    let (_server, address) = server_with("expired.pem", "leaf.key", Some("inter.pem"), &[]);
    let (code, json) = probe_as_rancher(&address);
    assert_eq!(code, 1);
    let (status, message) = check(&json, 0, "validity");
    assert_eq!(status, "failed");
    assert!(message.contains("expired on 2021-01-01"), "{message}");
}

#[test]
fn self_signed_certificate() {
    let (_server, address) = server_with("self-signed.pem", "self-signed.key", None, &[]);
    let (code, json) = probe_as_rancher(&address);
    assert_eq!(code, 1);
    let (status, message) = check(&json, 0, "chain");
    assert_eq!(status, "failed");
    assert!(message.contains("is self-signed"), "{message}");
    assert_eq!(json["results"][0]["chain"][0]["self_signed"], true);
    // Without --ca: the Mozilla roots do not trust it either, but the chain is shown.
    let (code, json) = probe(&[&address, "--servername", "rancher.example.com"]);
    assert_eq!(code, 1);
    assert!(check(&json, 0, "chain").1.contains("Mozilla roots"));
}

#[test]
fn ipv6_loopback() {
    let mut options = cert_options("leaf.pem", "leaf.key", Some("inter.pem"));
    options.push("-6".to_string());
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let (_server, address) = s_server_on("::1", &options);
    let (code, json) = probe(&[&address, "--ca", &fixture("root.pem")]);
    assert_eq!(code, 0, "{json:#}");
    assert!(
        json["results"][0]["servername"].is_null(),
        "no SNI for an IP target"
    );
    assert_eq!(check(&json, 0, "name").1, "valid for ::1");
}

// --- nginx ------------------------------------------------------------------------------

#[test]
fn nginx_l7_picks_the_certificate_by_sni() {
    let port = free_port();
    let body = format!(
        "http {{\n{}{}{}}}",
        tls_server_block(port, "_", "self-signed.pem", "self-signed.key", ""),
        tls_server_block(
            port,
            "rancher.example.com",
            "fullchain.pem",
            "leaf.key",
            &rancher_locations("root.pem")
        ),
        tls_server_block(port, "rsa.example.com", "rsa.pem", "rsa.key", ""),
    );
    let _nginx = nginx(&body, &[port]);
    let address = format!("127.0.0.1:{port}");

    let (code, json) = probe_as_rancher(&address);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["results"][0]["alpn"], "h2", "listen … ssl http2");
    assert_eq!(
        json["results"][0]["chain"][0]["subject"],
        "O=rcert test, CN=rancher.example.com"
    );

    let (_, json) = probe(&[
        &address,
        "--servername",
        "rsa.example.com",
        "--ca",
        &fixture("root.pem"),
    ]);
    assert_eq!(
        json["results"][0]["chain"][0]["subject"],
        "CN=rsa.example.com"
    );
    assert_eq!(
        json["results"][0]["chain"][0]["public_key"]["algorithm"],
        "RSA"
    );

    let (code, json) = probe(&[
        &address,
        "--servername",
        "third.example.com",
        "--ca",
        &fixture("root.pem"),
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        json["results"][0]["chain"][0]["self_signed"], true,
        "the default server's certificate: {json:#}"
    );
    let (status, message) = check(&json, 0, "name");
    assert_eq!(status, "failed");
    assert!(
        message.contains("not valid for third.example.com"),
        "{message}"
    );
}

#[test]
fn rancher_ping_and_cacerts() {
    let (good, bad) = (free_port(), free_port());
    let body = format!(
        "http {{\n{}{}}}",
        tls_server_block(
            good,
            "rancher.example.com",
            "fullchain.pem",
            "leaf.key",
            &rancher_locations("root.pem")
        ),
        tls_server_block(
            bad,
            "rancher.example.com",
            "fullchain.pem",
            "leaf.key",
            &rancher_locations("other-root.pem")
        ),
    );
    let _nginx = nginx(&body, &[good, bad]);

    let (code, json) = probe(&[
        &format!("127.0.0.1:{good}"),
        "--servername",
        "rancher.example.com",
        "--ca",
        &fixture("root.pem"),
        "--rancher",
    ]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["results"][0]["rancher"]["ping"], "pong");
    let root = std::fs::read(fixtures().join("root.pem")).unwrap();
    let expected = sha256sum(&root);
    assert_eq!(
        json["results"][0]["rancher"]["cacerts_checksum"],
        expected.as_str()
    );
    assert!(check(&json, 0, "ca_checksum").1.contains(&expected));
    assert_eq!(check(&json, 0, "cacerts").0, "ok");
    assert_eq!(check(&json, 0, "cacerts_chain").0, "ok");

    let (code, json) = probe(&[
        &format!("127.0.0.1:{bad}"),
        "--servername",
        "rancher.example.com",
        "--ca",
        &fixture("root.pem"),
        "--rancher",
    ]);
    assert_eq!(code, 1);
    let (status, message) = check(&json, 0, "cacerts");
    assert_eq!(status, "failed");
    assert!(message.contains("secret tls-ca"), "{message}");
    assert_eq!(check(&json, 0, "cacerts_chain").0, "failed");
}

#[test]
fn nginx_l4_passthrough_and_the_stale_backend() {
    let backends = [free_port(), free_port(), free_port()];
    let lb = free_port();
    let mut http = String::from("http {\n");
    for (index, port) in backends.iter().enumerate() {
        let chain = if index == 2 {
            "long-lived-chain.pem"
        } else {
            "fullchain.pem"
        };
        http.push_str(&tls_server_block(
            *port,
            "rancher.example.com",
            chain,
            "leaf.key",
            "",
        ));
    }
    http.push_str("}\n");
    let upstream: String = backends
        .iter()
        .map(|port| format!("server 127.0.0.1:{port};"))
        .collect();
    let stream = format!(
        "stream {{ upstream rancher {{ least_conn; {upstream} }} server {{ listen 127.0.0.1:{lb}; proxy_pass rancher; }} }}"
    );
    let mut ports = backends.to_vec();
    ports.push(lb);
    let _nginx = nginx(&format!("{http}{stream}"), &ports);

    let (code, json) = probe(&[
        &format!("127.0.0.1:{lb}"),
        "--servername",
        "rancher.example.com",
        "--ca",
        &fixture("root.pem"),
    ]);
    assert_eq!(
        json["results"][0]["chain"][0]["subject"], "O=rcert test, CN=rancher.example.com",
        "{json:#}"
    );
    // Whichever backend answers, the chain is trusted: the stale one only warns (valid for
    // more than 825 days).
    assert_eq!(code, 0, "through the L4 balancer: {json:#}");

    let targets: Vec<String> = backends
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect();
    let mut args: Vec<&str> = targets.iter().map(String::as_str).collect();
    args.extend(["--servername", "rancher.example.com", "--ca"]);
    let root = fixture("root.pem");
    args.push(&root);
    let (code, json) = probe(&args);
    assert_eq!(code, 1, "{json:#}");
    let consistency = &json["consistency"];
    assert_eq!(consistency["status"], "failed");
    let message = consistency["message"].as_str().unwrap();
    assert!(
        message.contains(&targets[2]) && !message.contains(&targets[0]),
        "{message}"
    );
    assert!(
        message.contains("1 of 3 serve(s) another chain than the rest"),
        "{message}"
    );
}

#[test]
fn several_targets_serving_one_chain_agree() {
    let (_a, first) = good_server(&[]);
    let (_b, second) = good_server(&[]);
    let (code, json) = probe(&[
        &first,
        &second,
        "--servername",
        "rancher.example.com",
        "--ca",
        &fixture("root.pem"),
    ]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["consistency"]["status"], "ok");
    assert_eq!(json["results"][0]["target"], first.as_str(), "input order");
    assert_eq!(json["results"][1]["target"], second.as_str());
}

// --- faults -----------------------------------------------------------------------------

/// A loopback listener whose accepted connections get `handle` in a thread.
fn fault_server(handle: fn(TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16).flatten() {
            std::thread::spawn(move || handle(stream));
        }
    });
    address
}

fn timed_probe(args: &[&str]) -> (i32, serde_json::Value, Duration) {
    let started = Instant::now();
    let (code, json) = run_json(args);
    (code, json, started.elapsed())
}

#[test]
fn connection_refused() {
    let address = format!("127.0.0.1:{}", free_port());
    let (code, json) = probe(&[&address]);
    assert_eq!(code, 3);
    assert!(json["results"][0]["error"]
        .as_str()
        .unwrap()
        .contains("connection refused"));
    assert_eq!(json["results"][0]["status"], "unreachable");
}

#[test]
fn listener_that_never_answers_hits_the_handshake_timeout() {
    let address = fault_server(|stream| {
        std::thread::sleep(Duration::from_secs(5));
        drop(stream);
    });
    let (code, json, took) = timed_probe(&["probe", "--timeout", "500ms", &address]);
    assert_eq!(code, 3);
    assert!(
        json["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("handshake timed out after 500ms"),
        "{json:#}"
    );
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn plain_http_server_is_not_tls() {
    let address = fault_server(|mut stream| {
        let mut buffer = [0u8; 1024];
        let _ = stream.read(&mut buffer);
        let _ = stream.write_all(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    });
    let (code, json) = probe(&[&address]);
    assert_eq!(code, 3);
    assert!(
        json["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("not TLS"),
        "{json:#}"
    );
}

#[test]
fn server_closing_mid_handshake() {
    let address = fault_server(|mut stream| {
        let mut buffer = [0u8; 64];
        let _ = stream.read(&mut buffer);
    });
    let (code, json) = probe(&[&address]);
    assert_eq!(code, 3);
    assert!(
        json["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("closed the connection during the TLS handshake"),
        "{json:#}"
    );
}

#[test]
fn server_offering_only_tls10() {
    // OpenSSL 3 refuses TLS 1.0 at the default security level; SECLEVEL=0 re-enables it.
    let (_server, address) = good_server(&["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    let (code, json) = probe(&[&address, "--servername", "rancher.example.com"]);
    assert_eq!(code, 1, "a refused handshake is a failed check: {json:#}");
    let (status, message) = check(&json, 0, "handshake");
    assert_eq!(status, "failed");
    assert!(
        message.contains("ProtocolVersion") && message.contains("older than 1.2"),
        "{message}"
    );
}

#[test]
fn unresolvable_name() {
    let (code, json) = probe(&["name-that-does-not-exist.invalid:443"]);
    assert_eq!(code, 3);
    assert!(
        json["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("cannot resolve"),
        "{json:#}"
    );
}

#[test]
fn hundred_targets_some_dead_in_bounded_time() {
    let (_server, live) = good_server(&[]);
    let dead = format!("127.0.0.1:{}", free_port());
    let targets: Vec<String> = (0..100)
        .map(|i| {
            if i % 3 == 0 {
                dead.clone()
            } else {
                live.clone()
            }
        })
        .collect();
    let mut args = vec![
        "probe",
        "--timeout",
        "2s",
        "--servername",
        "rancher.example.com",
    ];
    args.extend(targets.iter().map(String::as_str));
    let (code, json, took) = timed_probe(&args);
    assert_eq!(code, 3);
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 100);
    for (index, result) in results.iter().enumerate() {
        assert_eq!(
            result["error"].is_null(),
            index % 3 != 0,
            "result {index} in input order: {result:#}"
        );
    }
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[test]
fn text_output_shows_session_chain_and_checks() {
    let (_server, address) = good_server(&[]);
    let (code, stdout, _) = run(&[
        "probe",
        &address,
        "--servername",
        "rancher.example.com",
        "--ca",
        &fixture("root.pem"),
    ]);
    assert_eq!(code, 0);
    for wanted in [
        "(SNI rancher.example.com): ok",
        "TLSv1.3",
        "0 O=rcert test, CN=rancher.example.com",
        "sha256 ",
        "ok       chain",
    ] {
        assert!(stdout.contains(wanted), "{wanted}: {stdout}");
    }
}

#[test]
fn bad_targets_and_options_exit_2() {
    for (args, message) in [
        (vec!["probe", "host:99999"], "error: invalid value 'host:99999' for '<TARGET>...': target 'host:99999': the port must be a number from 1 to 65535"),
        (vec!["probe", "[::1"], "error: invalid value '[::1' for '<TARGET>...': target '[::1': missing ']' after the IPv6 address"),
        (vec!["probe", "localhost", "--timeout", "soon"], "error: invalid value 'soon' for '--timeout <DUR>': expected a duration from 1ms to 1h, such as 5s, 500ms or 1m"),
        (vec!["probe", "localhost", "--concurrency", "0"], "error: invalid value '0' for '--concurrency <N>': number would be zero for non-zero type"),
        (vec!["probe", "localhost", "--servername", "bad name"], "rcert: error: --servername 'bad name' is not a DNS name or IP address"),
        (vec!["verify", "--at", "tomorrow", "x.pem"], "error: invalid value 'tomorrow' for '--at <TIME>': expected RFC 3339 (2030-01-31T00:00:00Z) or unix seconds, not 'tomorrow'"),
    ] {
        let (code, _, stderr) = run(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stderr.lines().next().unwrap_or_default(), message, "{args:?}");
    }
}

#[test]
fn rancher_gets_that_stall_cost_one_timeout_not_four() {
    // s_server without -www completes the handshake, then never answers HTTP.
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new("openssl")
        .args(["s_server", "-quiet", "-accept", &address])
        .args([
            "-cert",
            &fixture("fullchain.pem"),
            "-key",
            &fixture("leaf.key"),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl s_server starts");
    common::servers::wait_listening(&address, &mut child, None);
    let started = std::time::Instant::now();
    let (code, json) = run_json(&[
        "probe",
        &address,
        "--servername",
        "rancher.example.com",
        "--ca",
        &fixture("root.pem"),
        "--rancher",
        "--timeout",
        "2s",
    ]);
    let took = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(code, 1, "{json:#}");
    let checks = json["results"][0]["checks"].to_string();
    assert!(checks.contains("/ping: no answer within 2s"), "{checks}");
    assert!(checks.contains("/cacerts: no answer within 2s"), "{checks}");
    // Both GETs run at once, each bounded by --timeout (it took 8 s before).
    assert!(took < std::time::Duration::from_secs(6), "{took:?}");
}

#[test]
fn a_bare_ipv6_with_a_port_like_tail_is_ambiguous() {
    let (code, _, stderr) = run(&["probe", "::1:8441"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("ambiguous") && stderr.contains("write [::1]:8441"),
        "{stderr}"
    );
}

#[test]
fn an_ip_servername_says_no_sni_is_sent() {
    let (_server, address) = good_server(&[]);
    let (code, json) = probe(&[
        &address,
        "--servername",
        "127.0.0.1",
        "--ca",
        &fixture("root.pem"),
    ]);
    assert_eq!(code, 0, "{json:#}");
    let checks = json["results"][0]["checks"].to_string();
    assert!(checks.contains("TLS sends no SNI for an IP"), "{checks}");
}

#[test]
fn many_targets_end_with_a_summary_table() {
    let (_a, first) = good_server(&[]);
    let (_b, second) = good_server(&[]);
    let (_c, third) = good_server(&[]);
    let dead = format!("127.0.0.1:{}", free_port());
    let (code, stdout, _) = run(&[
        "probe",
        &first,
        &second,
        &third,
        &dead,
        "--servername",
        "rancher.example.com",
        "--ca",
        &fixture("root.pem"),
        "--timeout",
        "2s",
    ]);
    assert_eq!(code, 3, "{stdout}");
    let table: Vec<&str> = stdout
        .lines()
        .skip_while(|line| !line.starts_with("TARGET"))
        .take(5)
        .collect();
    assert_eq!(table.len(), 5, "{stdout}");
    assert!(
        table[1].starts_with(&first)
            && table[1].contains("ok")
            && table[1].ends_with("rancher.example.com"),
        "{stdout}"
    );
    assert!(
        table[4].starts_with(&dead) && table[4].contains("UNREACHABLE"),
        "{stdout}"
    );
}

#[test]
fn a_chain_of_hundreds_of_certificates_is_named_as_too_large() {
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("big-chain.pem");
    let inter = std::fs::read_to_string(fixtures().join("inter.pem")).unwrap();
    std::fs::write(&chain, inter.repeat(300)).unwrap();
    let (_server, address) = s_server(&[
        "-cert",
        &fixture("leaf.pem"),
        "-key",
        &fixture("leaf.key"),
        "-cert_chain",
        &chain.display().to_string(),
    ]);
    let (code, json) = probe(&[&address]);
    assert_eq!(code, 3, "{json:#}");
    let error = json["results"][0]["error"].as_str().unwrap();
    assert!(error.contains("excessive message size"), "{error}");
    assert!(!error.contains("plain HTTP"), "{error}");
}

#[test]
fn ca_additional_adds_private_cas_to_the_public_roots() {
    // A registry serving a chain from the test root: not trusted by the Mozilla roots,
    // trusted once tls-ca-additional holds the root (as Rancher with additionalTrustedCAs).
    let (_server, address) = good_server(&[]);
    let base = [address.as_str(), "--servername", "rancher.example.com"];
    let (code, json) = probe(&base);
    assert_eq!(code, 1, "{json:#}");
    let (status, _) = check(&json, 0, "chain");
    assert_eq!(status, "failed");

    let bundle = tempfile::tempdir().unwrap();
    let additional = bundle.path().join("ca-additional.pem");
    let mut text = std::fs::read_to_string(fixture("other-root.pem")).unwrap();
    text.push_str(&std::fs::read_to_string(fixture("root.pem")).unwrap());
    std::fs::write(&additional, text).unwrap();
    let additional = additional.display().to_string();
    let (code, json) = probe(&[&base[..], &["--ca-additional", &additional]].concat());
    assert_eq!(code, 0, "{json:#}");
    let (status, message) = check(&json, 0, "chain");
    assert_eq!(status, "ok");
    assert!(
        message.contains(&format!(
            "the Mozilla roots + {additional} (tls-ca-additional)"
        )),
        "{message}"
    );

    // A bundle without the registry's CA leaves it untrusted, and says which bundle.
    let (code, json) =
        probe(&[&base[..], &["--ca-additional", &fixture("other-root.pem")]].concat());
    assert_eq!(code, 1, "{json:#}");
    let (status, message) = check(&json, 0, "chain");
    assert_eq!(status, "failed");
    assert!(message.contains("(tls-ca-additional)"), "{message}");
}
