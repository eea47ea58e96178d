//! `rcert inspect`: every common PEM label, DER and stdin; values checked against openssl.

mod common;

use common::*;

/// openssl's value of one `x509 -noout` option, after its `name=` prefix.
fn openssl_field(file: &str, option: &str, extra: &[&str]) -> String {
    let mut args = vec!["x509", "-in", file, "-noout", option];
    args.extend(extra);
    let (ok, text) = openssl(&args);
    assert!(ok, "{text}");
    text.trim()
        .split_once('=')
        .map(|(_, value)| value.trim().to_string())
        .unwrap_or(text)
}

/// openssl prints dates as `Nov 25 16:40:39 2026 GMT`; turn ours into that form.
fn openssl_date(rfc3339: &str) -> String {
    let format = time::macros::format_description!(
        "[month repr:short] [day padding:space] [hour]:[minute]:[second] [year] GMT"
    );
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .format(&format)
        .unwrap()
}

#[test]
fn certificate_fields_match_openssl() {
    for name in [
        "leaf.pem",
        "inter.pem",
        "root.pem",
        "rsa.pem",
        "cn-only.pem",
    ] {
        let file = fixture(name);
        let (code, json) = run_json(&["inspect", &file]);
        assert_eq!(code, 0);
        let cert = &json[0];
        assert_eq!(cert["kind"], "certificate");
        let serial = openssl_field(&file, "-serial", &[]);
        assert_eq!(
            cert["serial"]
                .as_str()
                .unwrap()
                .replace(':', "")
                .to_uppercase(),
            serial,
            "{name}"
        );
        let fingerprint = openssl_field(&file, "-fingerprint", &["-sha256"]);
        assert_eq!(cert["sha256_fingerprint"], fingerprint.as_str(), "{name}");
        let subject =
            openssl_field(&file, "-subject", &["-nameopt", "oneline"]).replace(" = ", "=");
        assert_eq!(cert["subject"], subject.as_str(), "{name}");
        let issuer = openssl_field(&file, "-issuer", &["-nameopt", "oneline"]).replace(" = ", "=");
        assert_eq!(cert["issuer"], issuer.as_str(), "{name}");
        assert_eq!(
            openssl_date(cert["not_before"].as_str().unwrap()),
            openssl_field(&file, "-startdate", &[])
        );
        assert_eq!(
            openssl_date(cert["not_after"].as_str().unwrap()),
            openssl_field(&file, "-enddate", &[])
        );

        let (_, text) = openssl(&["x509", "-in", &file, "-noout", "-text"]);
        let bits = cert["public_key"]["bits"].as_u64().unwrap();
        assert!(
            text.contains(&format!("Public-Key: ({bits} bit)")),
            "{name}: {bits}"
        );
        assert!(text.contains(&format!(
            "Signature Algorithm: {}",
            cert["signature_algorithm"].as_str().unwrap()
        )));
        let usage = cert["key_usage"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(", ");
        if !usage.is_empty() {
            assert!(text.contains(&usage), "{name}: {usage}");
        }
        for id in ["subject_key_id", "authority_key_id"] {
            if let Some(value) = cert[id].as_str() {
                assert!(text.contains(value), "{name}: {id} {value}");
            }
        }
        let (_, sans) = openssl(&["x509", "-in", &file, "-noout", "-ext", "subjectAltName"]);
        for dns in cert["dns_names"].as_array().unwrap() {
            assert!(
                sans.contains(&format!("DNS:{}", dns.as_str().unwrap())),
                "{name}: {sans}"
            );
        }
        assert_eq!(cert["is_ca"], text.contains("CA:TRUE"), "{name}");
    }
}

#[test]
fn every_pem_label_der_and_keys() {
    let (code, json) = run_json(&[
        "inspect",
        &fixture("root.trusted.pem"),
        &fixture("leaf.der"),
        &fixture("leaf.key"),
        &fixture("rsa.key"),
        &fixture("leaf.sec1.key"),
        &fixture("leaf.key.der"),
        &fixture("ed25519.key"),
    ]);
    assert_eq!(code, 0, "{json:#}");
    let items = json.as_array().unwrap();
    assert_eq!(items.len(), 7);
    assert_eq!(items[0]["kind"], "certificate");
    assert_eq!(items[0]["subject"], "O=rcert test, CN=rcert Test Root CA");
    assert_eq!(items[1]["kind"], "certificate");
    assert_eq!(items[1]["subject"], "O=rcert test, CN=rancher.example.com");
    assert_eq!(items[2]["format"], "PKCS#8 (PRIVATE KEY)");
    assert_eq!(items[3]["format"], "PKCS#1 (RSA PRIVATE KEY)");
    assert_eq!(items[3]["public_key"]["bits"], 2048);
    assert_eq!(items[4]["format"], "SEC1 (EC PRIVATE KEY)");
    assert_eq!(items[5]["public_key"]["curve"], "P-256");
    assert_eq!(items[6]["public_key"]["algorithm"], "Ed25519");
    for key in &items[2..6] {
        if key["public_key"]["algorithm"] == "ECDSA" {
            let matches = key["matches"].as_array().unwrap();
            assert_eq!(matches.len(), 1, "{key:#}");
            assert!(
                matches[0]["source"].as_str().unwrap().ends_with("leaf.der"),
                "{key:#}"
            );
            assert!(
                matches[0]["subject"]
                    .as_str()
                    .unwrap()
                    .contains("rancher.example.com"),
                "{key:#}"
            );
            assert_eq!(matches[0]["sha256"].as_str().unwrap().len(), 95, "{key:#}");
        }
    }
}

#[test]
fn tells_which_certificate_a_key_belongs_to() {
    let (code, stdout, _) = run(&[
        "inspect",
        &fixture("fullchain-root.pem"),
        &fixture("inter.key"),
    ]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("Belongs to:")
            && stdout.contains("'O=rcert test, CN=rcert Test Intermediate CA'"),
        "{stdout}"
    );
    let (_, stdout, _) = run(&["inspect", &fixture("other.key"), &fixture("fullchain.pem")]);
    assert!(
        stdout.contains("no certificate given in this run"),
        "{stdout}"
    );
}

#[test]
fn reads_stdin() {
    let bundle = std::fs::read(fixtures().join("leaf-and-key.pem")).unwrap();
    let output = rcert()
        .args(["inspect", "-"])
        .write_stdin(bundle)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("-: certificate") && text.contains("-: private key"),
        "{text}"
    );
    assert!(
        text.contains("DNS:rancher.example.com, DNS:*.apps.example.com, IP:127.0.0.1, IP:::1"),
        "{text}"
    );
}

#[test]
fn text_shows_what_a_person_reads() {
    let (code, stdout, _) = run(&["inspect", &fixture("cn-only.pem"), &fixture("expired.pem")]);
    assert_eq!(code, 0);
    for wanted in [
        "Subject:",
        "Issuer:",
        "Serial:",
        "Not after:",
        "SANs:",
        "CN-only",
        "Public key:       ECDSA P-256",
        "Ext. key usage:   TLS Web Server Authentication",
        "SHA-256:",
        "expired",
    ] {
        assert!(stdout.contains(wanted), "{wanted}: {stdout}");
    }
}

#[test]
fn other_blocks_are_named() {
    let (code, stdout, _) = run(&["inspect", &fixture("only-csr.pem")]);
    assert_eq!(code, 0);
    assert!(stdout.contains("'CERTIFICATE REQUEST' block"), "{stdout}");
}

#[test]
fn a_ca_without_san_is_not_called_cn_only() {
    let (code, stdout, _) = run(&["inspect", &fixture("root.pem")]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("none (a CA certificate needs none)"),
        "{stdout}"
    );
    assert!(!stdout.contains("CN-only"), "{stdout}");
}

#[test]
fn the_man_page_covers_every_subcommand() {
    let (code, stdout, _) = run(&["man"]);
    assert_eq!(code, 0);
    for sub in COMMANDS {
        assert!(stdout.contains(&format!(".TH rcert-{sub} ")), "{sub}");
    }
    assert!(stdout.contains("\\-\\-password\\-file") || stdout.contains("password-file"));
}

#[test]
fn an_rsa_1024_key_is_read_with_its_size_not_called_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("weak.key").display().to_string();
    assert!(openssl(&["genrsa", "-out", &key, "1024"]).0);
    let (code, stdout, stderr) = run(&["inspect", &key]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("RSA 1024 bits"), "{stdout}");
    let cert = dir.path().join("weak.pem").display().to_string();
    assert!(
        openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            &key,
            "-subj",
            "/CN=weak.example.com",
            "-addext",
            "subjectAltName=DNS:weak.example.com",
            "-days",
            "30",
            "-out",
            &cert,
        ])
        .0
    );
    // Go (≥ 1.24 refuses below 1024 bits) accepts it; OpenSSL clients at security level 2
    // (curl and nginx on Debian, RHEL) and browsers do not.
    let (code, stdout, _) = run(&["verify", "--ca", &cert, "--key", &key, &cert]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("FAILED   crypto      leaf 'CN=weak.example.com': RSA key of 1024 bits"),
        "{stdout}"
    );
    let (code, stdout, _) = run(&[
        "verify",
        "--clients",
        "go",
        "--ca",
        &cert,
        "--key",
        &key,
        &cert,
    ]);
    assert_eq!(code, 0, "{stdout}");
    let (code, _, _) = run(&[
        "verify",
        "--clients",
        "all",
        "--ca",
        &cert,
        "--key",
        &key,
        &cert,
    ]);
    assert_eq!(code, 1);
    assert!(stdout.contains("(RSA 1024 bits) belongs to"), "{stdout}");
}

#[test]
fn one_unreadable_input_among_several_is_reported_and_the_others_shown() {
    let (code, stdout, stderr) = run(&[
        "inspect",
        &fixture("leaf.pem"),
        &corpus("truncated.pem"),
        &fixture("leaf.key"),
    ]);
    assert_eq!(code, 2);
    assert!(
        stdout.contains("leaf.pem: certificate") && stdout.contains("leaf.key: private key"),
        "{stdout}"
    );
    assert!(stdout.contains("truncated.pem: cannot read"), "{stdout}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("is truncated"), "{stderr}");
}
