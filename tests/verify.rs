//! `rcert verify`: one test per case, each verdict compared with
//! `openssl verify -x509_strict -purpose sslserver [-verify_hostname|-verify_ip]`.

mod common;

use common::*;

/// rcert's exit code and the status of one named check (the first with that name).
struct Outcome {
    code: i32,
    json: serde_json::Value,
}

impl Outcome {
    fn check(&self, name: &str) -> (String, String) {
        let checks = self.json[0]["checks"].as_array().expect("checks");
        let check = checks
            .iter()
            .find(|check| check["id"] == name)
            .unwrap_or_else(|| panic!("no check {name} in {:#}", self.json));
        (
            check["status"].as_str().unwrap_or_default().to_string(),
            check["message"].as_str().unwrap_or_default().to_string(),
        )
    }

    fn checks_named(&self, name: &str) -> Vec<(String, String)> {
        self.json[0]["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .filter(|check| check["id"] == name)
            .map(|check| {
                (
                    check["status"].as_str().unwrap_or_default().to_string(),
                    check["message"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }
}

fn verify(args: &[&str]) -> Outcome {
    let mut all = vec!["verify"];
    all.extend(args);
    let (code, json) = run_json(&all);
    Outcome { code, json }
}

fn ossl(ca: &str, chain: &str, extra: &[&str]) -> bool {
    openssl_verify(&fixture(ca), &fixture(chain), extra)
}

#[test]
fn good_full_chain() {
    let out = verify(&[
        "--ca",
        &fixture("root.pem"),
        "--key",
        &fixture("leaf.key"),
        "--host",
        "rancher.example.com",
        &fixture("fullchain.pem"),
    ]);
    assert_eq!(out.code, 0, "{:#}", out.json);
    assert_eq!(out.json[0]["status"], "ok");
    for name in [
        "chain",
        "order",
        "validity",
        "san",
        "name",
        "key",
        "ca_file",
        "ca_checksum",
    ] {
        assert_eq!(out.check(name).0, "ok", "{name}: {:#}", out.json);
    }
    assert!(ossl(
        "root.pem",
        "fullchain.pem",
        &["-verify_hostname", "rancher.example.com"]
    ));
}

#[test]
fn text_report_lists_every_check() {
    let (code, stdout, _) = run(&[
        "verify",
        "--ca",
        &fixture("root.pem"),
        &fixture("fullchain.pem"),
    ]);
    assert_eq!(code, 0);
    for line in [
        "ok       chain",
        "ok       order",
        "ok       validity",
        "CATTLE_CA_CHECKSUM=",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
}

#[test]
fn chain_in_wrong_order() {
    // openssl verifies whichever certificate comes first (here the intermediate, a CA)
    // and may accept it; a TLS server sends the file's order, so rcert fails it.
    let out = verify(&["--ca", &fixture("root.pem"), &fixture("wrong-order.pem")]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.check("validity").0,
        "ok",
        "judged on the leaf, not on the certificate that comes first"
    );
    assert_eq!(out.check("chain").0, "ok", "the chain itself is fine");
    let (status, message) = out.check("order");
    assert_eq!(status, "failed");
    assert!(
        message.contains("wrong order") && message.contains("must come first"),
        "{message}"
    );

    let out = verify(&[
        "--ca",
        &fixture("root.pem"),
        &fixture("root-before-inter.pem"),
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.check("order").1.contains(
            "stands where its issuer 'O=rcert test, CN=rcert Test Intermediate CA' belongs"
        ),
        "{:#}",
        out.json
    );
}

#[test]
fn missing_intermediate() {
    let out = verify(&["--ca", &fixture("root.pem"), &fixture("leaf.pem")]);
    assert_eq!(out.code, 1);
    let (status, message) = out.check("chain");
    assert_eq!(status, "failed");
    assert!(
        message.contains("missing intermediate") && message.contains("rcert Test Intermediate CA"),
        "{message}"
    );
    assert!(!ossl("root.pem", "leaf.pem", &[]));
}

#[test]
fn leaf_only_with_intermediate_from_untrusted() {
    let out = verify(&[
        "--ca",
        &fixture("root.pem"),
        "--untrusted",
        &fixture("inter.pem"),
        &fixture("leaf.pem"),
    ]);
    assert_eq!(out.code, 0, "{:#}", out.json);
    assert_eq!(out.check("chain").0, "ok");
    let (status, message) = out.check("order");
    assert_eq!(status, "warning", "tls.crt itself lacks the intermediate");
    assert!(message.contains("lacks the intermediate"), "{message}");
    // The fix names the --untrusted file that holds it, not a placeholder.
    let leaf = fixture("leaf.pem");
    assert_eq!(
        check_json(&out.json[0], "order")["fix"]["commands"],
        serde_json::json!([[
            "rcert",
            "fullchain",
            leaf,
            fixture("inter.pem"),
            "--out",
            leaf,
            "--force"
        ]])
    );
    let (ok, text) = openssl(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "sslserver",
        "-CAfile",
        &fixture("root.pem"),
        "-untrusted",
        &fixture("inter.pem"),
        &fixture("leaf.pem"),
    ]);
    assert!(ok, "{text}");
}

#[test]
fn an_intermediate_only_in_the_ca_file_gets_a_fix_that_works() {
    let dir = tempfile::tempdir().unwrap();
    let leaf = dir.path().join("tls.crt");
    let ca_file = dir.path().join("cacerts.pem");
    std::fs::copy(fixture("leaf.pem"), &leaf).unwrap();
    let both = [fixture("inter.pem"), fixture("root.pem")]
        .iter()
        .map(|file| std::fs::read_to_string(file).unwrap())
        .collect::<String>();
    std::fs::write(&ca_file, both).unwrap();
    let (leaf, ca_file) = (leaf.display().to_string(), ca_file.display().to_string());
    let out = verify(&["--ca", &ca_file, &leaf]);
    let order = check_json(&out.json[0], "order");
    assert_eq!(order["status"], "warning", "{order:#}");
    assert_eq!(order["cause"], "missing_intermediate", "{order:#}");
    let command: Vec<String> = order["fix"]["commands"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|word| word.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        command,
        [
            "rcert",
            "fullchain",
            &leaf,
            &ca_file,
            "--out",
            &leaf,
            "--force"
        ],
        "the fix names the files given, no placeholder"
    );
    // Run it as given: a client that trusts only the root now accepts tls.crt.
    let words: Vec<&str> = command[1..].iter().map(String::as_str).collect();
    let (code, _, stderr) = run(&words);
    assert_eq!(code, 0, "{stderr}");
    assert!(openssl_verify(&fixture("root.pem"), &leaf, &[]));
    let after = verify(&["--ca", &fixture("root.pem"), &leaf]);
    assert_eq!(after.code, 0, "{:#}", after.json);
}

#[test]
fn full_chain_including_root() {
    let out = verify(&["--ca", &fixture("root.pem"), &fixture("fullchain-root.pem")]);
    assert_eq!(out.code, 0, "{:#}", out.json);
    assert!(out.check("order").1.contains("root is included"));
    assert!(ossl("root.pem", "fullchain-root.pem", &[]));
}

#[test]
fn wrong_ca() {
    let out = verify(&[
        "--ca",
        &fixture("other-root.pem"),
        &fixture("fullchain-root.pem"),
    ]);
    assert_eq!(out.code, 1);
    let (status, message) = out.check("chain");
    assert_eq!(status, "failed");
    assert!(
        message.contains("does not hold") && message.contains("wrong CA"),
        "{message}"
    );
    assert!(!ossl("other-root.pem", "fullchain-root.pem", &[]));
}

#[test]
fn intermediate_with_the_right_name_but_another_key() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("impostor-chain.pem");
    let text = std::fs::read_to_string(fixtures().join("leaf.pem")).unwrap()
        + &std::fs::read_to_string(fixtures().join("impostor-inter.pem")).unwrap();
    std::fs::write(&bundle, text).unwrap();
    let bundle = bundle.display().to_string();
    let out = verify(&["--ca", &fixture("root.pem"), &bundle]);
    assert_eq!(out.code, 1);
    assert_eq!(out.check("chain").0, "failed");
    assert!(!openssl_verify(&fixture("root.pem"), &bundle, &[]));
}

#[test]
fn key_mismatch() {
    let out = verify(&[
        "--ca",
        &fixture("root.pem"),
        "--key",
        &fixture("other.key"),
        &fixture("fullchain.pem"),
    ]);
    assert_eq!(out.code, 1);
    let (status, message) = out.check("key");
    assert_eq!(status, "failed");
    assert!(message.contains("does not belong to the leaf"), "{message}");

    let out = verify(&[
        "--ca",
        &fixture("root.pem"),
        "--key",
        &fixture("inter.key"),
        &fixture("fullchain.pem"),
    ]);
    assert!(
        out.check("key")
            .1
            .contains("belongs to 'O=rcert test, CN=rcert Test Intermediate CA'"),
        "{:#}",
        out.json
    );
}

#[test]
fn key_in_every_flavour_matches() {
    for key in ["leaf.key", "leaf.sec1.key", "leaf.key.der"] {
        let out = verify(&[
            "--ca",
            &fixture("root.pem"),
            "--key",
            &fixture(key),
            &fixture("fullchain.pem"),
        ]);
        assert_eq!(out.check("key").0, "ok", "{key}");
    }
    let out = verify(&[
        "--ca",
        &fixture("root.pem"),
        "--key",
        &fixture("rsa.key"),
        "--untrusted",
        &fixture("inter.pem"),
        &fixture("rsa.pem"),
    ]);
    assert_eq!(out.code, 0, "{:#}", out.json);
}

#[test]
fn expired_and_not_yet_valid_via_at() {
    for (at, openssl_at, word) in [
        ("2000-01-01T00:00:00Z", "946684800", "not valid yet"),
        ("4102444800", "4102444800", "expired"),
    ] {
        let out = verify(&[
            "--ca",
            &fixture("root.pem"),
            "--at",
            at,
            &fixture("fullchain.pem"),
        ]);
        assert_eq!(out.code, 1, "{at}");
        let (status, message) = out.check("validity");
        assert_eq!(status, "failed");
        assert!(message.contains(word), "{message}");
        assert!(!ossl("root.pem", "fullchain.pem", &["-attime", openssl_at]));
    }
}

#[test]
fn expired_and_not_yet_valid_certificates() {
    for (file, word) in [
        ("expired-chain.pem", "expired on 2021-01-01"),
        ("not-yet-valid-chain.pem", "not valid yet"),
    ] {
        let out = verify(&["--ca", &fixture("root.pem"), &fixture(file)]);
        assert_eq!(out.code, 1, "{file}");
        assert!(out.check("validity").1.contains(word), "{:#}", out.json);
        // The window is data too: no script reads dates out of the sentence.
        let validity = check_json(&out.json[0], "validity");
        let evidence = &validity["evidence"];
        assert_eq!(evidence["kind"], "dates", "{validity:#}");
        let days_left = evidence["days_left"].as_i64().unwrap();
        if file.starts_with("expired") {
            assert_eq!(
                evidence["not_after"], "2021-01-01T00:00:00Z",
                "{validity:#}"
            );
            assert!(days_left < -365, "{validity:#}");
        } else {
            assert!(days_left > 0, "{validity:#}");
        }
        assert_eq!(
            out.check("chain").0,
            "ok",
            "chain fine apart from the dates: {:#}",
            out.json
        );
        assert!(!ossl("root.pem", file, &[]));
    }
}

#[test]
fn expiring_within_warn_days_is_a_warning() {
    let out = verify(&[
        "--ca",
        &fixture("root.pem"),
        "--warn-days",
        "900",
        &fixture("fullchain.pem"),
    ]);
    assert_eq!(out.code, 0);
    assert_eq!(out.json[0]["status"], "warning");
    let (status, message) = out.check("validity");
    assert_eq!(status, "warning");
    assert!(message.contains("--warn-days 900"), "{message}");
}

#[test]
fn validity_longer_than_clients_accept_is_a_warning() {
    let out = verify(&[
        "--ca",
        &fixture("root.pem"),
        &fixture("long-lived-chain.pem"),
    ]);
    assert_eq!(out.code, 0);
    assert!(
        out.check("validity").1.contains("825 days"),
        "{:#}",
        out.json
    );
}

#[test]
fn cn_only_certificate() {
    // Deliberate difference: openssl -verify_hostname falls back to the CN and accepts;
    // Go (Rancher agents) and rustls ignore the CN, so rcert fails it.
    let out = verify(&[
        "--ca",
        &fixture("root.pem"),
        "--host",
        "rancher.example.com",
        &fixture("cn-only-chain.pem"),
    ]);
    assert_eq!(out.code, 1);
    let (status, message) = out.check("san");
    assert_eq!(status, "failed");
    assert!(message.contains("no Subject Alternative Name"), "{message}");
    assert_eq!(out.check("name").0, "failed");
    assert!(ossl(
        "root.pem",
        "cn-only-chain.pem",
        &["-verify_hostname", "rancher.example.com"]
    ));
}

#[test]
fn wrong_host() {
    let out = verify(&[
        "--ca",
        &fixture("root.pem"),
        "--host",
        "other.example.com",
        &fixture("fullchain.pem"),
    ]);
    assert_eq!(out.code, 1);
    let (status, message) = out.check("name");
    assert_eq!(status, "failed");
    assert!(
        message.contains("not valid for other.example.com"),
        "{message}"
    );
    assert!(!ossl(
        "root.pem",
        "fullchain.pem",
        &["-verify_hostname", "other.example.com"]
    ));
}

#[test]
fn ip_sans() {
    for (ip, valid) in [
        ("127.0.0.1", true),
        ("::1", true),
        ("[::1]", true),
        ("10.9.9.9", false),
    ] {
        let out = verify(&[
            "--ca",
            &fixture("root.pem"),
            "--host",
            ip,
            &fixture("fullchain.pem"),
        ]);
        assert_eq!(out.code == 0, valid, "{ip}: {:#}", out.json);
        let bare = ip.trim_matches(|c| c == '[' || c == ']');
        assert_eq!(
            ossl("root.pem", "fullchain.pem", &["-verify_ip", bare]),
            valid,
            "openssl {ip}"
        );
    }
}

#[test]
fn wildcard_covers_exactly_one_label() {
    for (host, valid) in [
        ("a.apps.example.com", true),
        ("a.b.apps.example.com", false),
        ("apps.example.com", false),
    ] {
        let out = verify(&[
            "--ca",
            &fixture("root.pem"),
            "--host",
            host,
            &fixture("fullchain.pem"),
        ]);
        assert_eq!(out.code == 0, valid, "{host}: {:#}", out.json);
        assert_eq!(
            ossl("root.pem", "fullchain.pem", &["-verify_hostname", host]),
            valid,
            "openssl {host}"
        );
    }
}

#[test]
fn several_hosts_are_each_reported() {
    let out = verify(&[
        "--ca",
        &fixture("root.pem"),
        "--host",
        "rancher.example.com",
        "--host",
        "nope.example.com",
        &fixture("fullchain.pem"),
    ]);
    let names = out.checks_named("name");
    assert_eq!(names.len(), 2);
    assert_eq!(names[0].0, "ok");
    assert_eq!(names[1].0, "failed");
    // Told apart by data, not by the sentence: each carries its host and the SANs.
    let evidence: Vec<serde_json::Value> = out.json[0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|check| check["id"] == "name")
        .map(|check| check["evidence"].clone())
        .collect();
    for (evidence, host) in evidence
        .iter()
        .zip(["rancher.example.com", "nope.example.com"])
    {
        assert_eq!(evidence["kind"], "name", "{evidence:#}");
        assert_eq!(evidence["host"], host, "{evidence:#}");
        assert!(
            evidence["sans"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("rancher.example.com")),
            "{evidence:#}"
        );
    }
}

#[test]
fn cacerts_holding_the_leaf_or_the_whole_chain() {
    // Deliberate difference: openssl accepts any CAfile that leads to trust; Rancher
    // agents compare the checksum of exactly the CA, so rcert fails these files.
    for ca in ["cacerts-whole-chain.pem", "cacerts-leaf.pem"] {
        let out = verify(&["--ca", &fixture(ca), &fixture("fullchain.pem")]);
        assert_eq!(out.code, 1, "{ca}");
        let (status, message) = out.check("ca_file");
        assert_eq!(status, "failed", "{ca}");
        assert!(
            message.contains("non-CA certificate") && message.contains("only the CA"),
            "{message}"
        );
    }
    assert!(ossl("cacerts-whole-chain.pem", "fullchain.pem", &[]));
}

#[test]
fn cacerts_with_the_intermediate_then_the_root_is_what_rancher_asks_for() {
    // Rancher's "Updating the Rancher certificate": intermediate(s) then root.
    let out = verify(&[
        "--ca",
        &fixture("cacerts-inter-root.pem"),
        &fixture("fullchain.pem"),
    ]);
    assert_eq!(out.code, 0);
    assert_eq!(out.check("ca_file").0, "ok", "{:?}", out.check("ca_file"));
    // The reverse order is a warning with the fix (no client minds the order of a trust
    // store, Rancher's docs do); the intermediate alone a warning.
    let dir = tempfile::tempdir().unwrap();
    let reversed = dir.path().join("root-inter.pem");
    std::fs::write(
        &reversed,
        [fixture_bytes("root.pem"), fixture_bytes("inter.pem")].concat(),
    )
    .unwrap();
    let out = verify(&[
        "--ca",
        &reversed.display().to_string(),
        &fixture("fullchain.pem"),
    ]);
    assert_eq!(out.code, 0);
    let (status, message) = out.check("ca_file");
    assert_eq!(status, "warning");
    assert!(
        message.contains("holds the root before the intermediate(s)")
            && message.contains("no client minds the order of a CA file"),
        "{message}"
    );
    let fix = common::fix_line(
        &out.json[0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "ca_file")
            .unwrap()["fix"],
    );
    let (chain, ca) = (fixture("fullchain.pem"), reversed.display().to_string());
    let finding = out.json[0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "ca_file")
        .unwrap()
        .clone();
    assert_eq!(
        finding["subject"],
        serde_json::json!({"kind": "file", "path": ca}),
        "the CA file, not tls.crt"
    );
    // Words, not a command to run unattended: it changes CATTLE_CA_CHECKSUM.
    assert!(
        fix.starts_with("optional, and it changes CATTLE_CA_CHECKSUM")
            && fix.contains(&format!(
                "rcert fullchain {chain} {ca} --out {chain} --cacerts {ca} --force"
            )),
        "{fix}"
    );
    let out = verify(&["--ca", &fixture("inter.pem"), &fixture("fullchain.pem")]);
    assert_eq!(out.check("ca_file").0, "warning");
}

#[test]
fn ca_checksum_is_sha256_of_the_served_bytes() {
    let out = verify(&["--ca", &fixture("root.pem"), &fixture("fullchain.pem")]);
    let root = std::fs::read(fixtures().join("root.pem")).unwrap();
    assert_eq!(out.json[0]["ca_checksum"], sha256sum(&root).as_str());
    assert!(out.check("ca_checksum").1.contains(&sha256sum(&root)));

    let out = verify(&[
        "--ca",
        &fixture("root-no-newline.pem"),
        &fixture("fullchain.pem"),
    ]);
    let mut served = std::fs::read(fixtures().join("root-no-newline.pem")).unwrap();
    assert_ne!(served.last(), Some(&b'\n'));
    served.push(b'\n');
    assert_eq!(
        out.json[0]["ca_checksum"],
        sha256sum(&served).as_str(),
        "Rancher adds the newline"
    );
    assert!(out
        .check("ca_checksum")
        .1
        .contains("Rancher trims white space around the file and adds one final newline"));
}

#[test]
fn several_files_one_report_each() {
    let (code, json) = run_json(&[
        "verify",
        "--ca",
        &fixture("root.pem"),
        &fixture("fullchain.pem"),
        &fixture("leaf.pem"),
    ]);
    assert_eq!(code, 1, "one of them fails");
    let reports = json.as_array().unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["status"], "ok");
    assert_eq!(reports[1]["status"], "failed");
}

#[test]
fn unrelated_extra_certificate_warns() {
    let out = verify(&["--ca", &fixture("root.pem"), &fixture("extra-cert.pem")]);
    let (status, message) = out.check("order");
    assert_eq!(status, "warning", "{message}");
    assert!(message.contains("not part of the chain"), "{message}");
}

#[test]
fn without_ca_the_mozilla_roots_are_used() {
    let out = verify(&[&fixture("fullchain-root.pem")]);
    assert_eq!(out.code, 1);
    assert!(
        out.check("chain").1.contains("Mozilla roots"),
        "{:#}",
        out.json
    );
    assert!(out.json[0]["ca_checksum"].is_null());
}

#[test]
fn selfsign_output_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    assert_eq!(
        run(&[
            "selfsign",
            "--host",
            "rancher.example.com",
            "--ip",
            "10.0.0.1",
            "--out",
            &out
        ])
        .0,
        0
    );
    let path = |name: &str| dir.path().join(name).display().to_string();
    let result = verify(&[
        "--ca",
        &path("cacerts.pem"),
        "--key",
        &path("tls.key"),
        "--host",
        "rancher.example.com",
        "--host",
        "10.0.0.1",
        &path("tls.crt"),
    ]);
    assert_eq!(result.code, 0, "{:#}", result.json);
    assert_eq!(result.json[0]["status"], "ok");
}

#[test]
fn bad_options_exit_2() {
    let (code, _, stderr) = run(&["verify", "--at", "tomorrow", &fixture("fullchain.pem")]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: invalid value 'tomorrow' for '--at <TIME>'"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["verify", "--host", "bad host", &fixture("fullchain.pem")]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--host 'bad host'"), "{stderr}");
}

#[test]
fn color_follows_the_flag_and_no_color() {
    let args = [
        "verify",
        "--ca",
        &fixture("root.pem"),
        &fixture("fullchain.pem"),
    ];
    let colored = rcert()
        .args(["--color", "always"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&colored.stdout).contains("\x1b[32m"),
        "--color always colors"
    );
    let plain = rcert()
        .args(["--color", "auto"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&plain.stdout).contains("\x1b["),
        "NO_COLOR / not a terminal: plain"
    );
    let never = rcert()
        .env_remove("NO_COLOR")
        .args(["--color", "never"])
        .args(args)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&never.stdout).contains("\x1b["));
}

#[test]
fn chains_with_crlf_text_or_bag_attributes_are_read() {
    for file in [
        "fullchain-crlf.pem",
        "fullchain-with-text.pem",
        "fullchain-bag-attributes.pem",
    ] {
        let out = verify(&[
            "--ca",
            &fixture("root.pem"),
            "--host",
            "rancher.example.com",
            &fixture(file),
        ]);
        assert_eq!(out.code, 0, "{file}: {:#}", out.json);
        assert_eq!(
            out.json[0]["certificates"].as_array().unwrap().len(),
            2,
            "{file}"
        );
        assert!(
            ossl(
                "root.pem",
                file,
                &["-verify_hostname", "rancher.example.com"]
            ),
            "openssl agrees on {file}"
        );
    }
}

#[test]
fn days_left_are_counted_from_at() {
    let out = verify(&[
        "--ca",
        &fixture("root.pem"),
        "--at",
        "2000-01-01T00:00:00Z",
        &fixture("fullchain.pem"),
    ]);
    let not_after = out.json[0]["certificates"][0]["not_after"]
        .as_str()
        .unwrap()
        .to_string();
    let year: i64 = not_after[..4].parse().unwrap();
    let days = out.json[0]["certificates"][0]["days_left"]
        .as_i64()
        .unwrap();
    assert!(
        days > (year - 2000 - 1) * 365,
        "{days} days from 2000 to {not_after}"
    );
}

#[test]
fn ca_system_uses_the_operating_system_store() {
    // SSL_CERT_FILE points the system store at our root, as an operator's
    // ca-certificates would after update-ca-certificates.
    let run_with_store = |store: &str| {
        let output = rcert()
            .env("SSL_CERT_FILE", store)
            .env_remove("SSL_CERT_DIR")
            .args([
                "-o",
                "json",
                "verify",
                "--ca",
                "system",
                "--host",
                "rancher.example.com",
            ])
            .arg(fixture("fullchain.pem"))
            .output()
            .expect("rcert runs");
        let json: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("JSON on stdout");
        (output.status.code().unwrap_or(-1), json)
    };
    let (code, json) = run_with_store(&fixture("root.pem"));
    assert_eq!(code, 0, "{json:#}");
    let out = Outcome { code, json };
    let (status, message) = out.check("chain");
    assert_eq!(status, "ok");
    assert!(
        message.contains("trusted by the system trust store (1 CAs)"),
        "{message}"
    );
    assert!(
        out.checks_named("ca_file").is_empty() && out.json[0]["ca_checksum"].is_null(),
        "the system store is not a cacerts.pem: no ca_file or checksum lines"
    );
    let (code, json) = run_with_store(&fixture("other-root.pem"));
    assert_eq!(code, 1, "{json:#}");
    let out = Outcome { code, json };
    assert!(
        out.check("chain").1.contains(
            "the chain ends at intermediate 'O=rcert test, CN=rcert Test Intermediate CA', whose issuer 'O=rcert test, CN=rcert Test Root CA' is not among the system trust store"
        ),
        "{:#}",
        out.json
    );
}

#[test]
fn another_ca_of_the_same_name_is_named_as_the_cause() {
    // Every second `rcert selfsign` makes a new CA with the same name and another key.
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let second = dir.path().join("second");
    for out in [&first, &second] {
        let (code, _, stderr) = run(&[
            "selfsign",
            "--host",
            "rancher.example.com",
            "--out",
            &out.display().to_string(),
        ]);
        assert_eq!(code, 0, "{stderr}");
    }
    let out = verify(&[
        "--ca",
        &second.join("cacerts.pem").display().to_string(),
        &first.join("tls.crt").display().to_string(),
    ]);
    assert_eq!(out.code, 1);
    let (status, message) = out.check("chain");
    assert_eq!(status, "failed");
    assert!(
        message.contains("does not hold the issuer of the chain")
            && message.contains("holds a CA of that name with another key"),
        "{message}"
    );
}

#[test]
fn one_unreadable_file_among_several_is_reported_and_the_others_still_verified() {
    let (code, json) = run_json(&[
        "verify",
        "--ca",
        &fixture("root.pem"),
        &fixture("fullchain.pem"),
        &corpus("truncated.pem"),
        &fixture("fullchain-root.pem"),
    ]);
    assert_eq!(code, 2, "{json:#}");
    let reports = json.as_array().unwrap();
    assert_eq!(reports.len(), 3);
    assert_eq!(reports[0]["status"], "ok");
    assert!(reports[1]["error"]
        .as_str()
        .unwrap()
        .contains("is truncated"));
    assert_eq!(reports[2]["status"], "ok");
}

#[test]
fn standard_input_twice_is_a_usage_error() {
    let (code, _, stderr) = run(&["verify", "--ca", "-", "--key", "-", &fixture("leaf.pem")]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("standard input ('-') can be read once"),
        "{stderr}"
    );
}

#[test]
fn a_duplicated_intermediate_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dup.pem");
    let text = std::fs::read_to_string(fixtures().join("fullchain.pem")).unwrap()
        + &std::fs::read_to_string(fixtures().join("inter.pem")).unwrap();
    std::fs::write(&file, text).unwrap();
    let out = verify(&["--ca", &fixture("root.pem"), &file.display().to_string()]);
    assert_eq!(out.code, 0);
    let (status, message) = out.check("order");
    assert_eq!(status, "warning");
    assert!(
        message.contains("'O=rcert test, CN=rcert Test Intermediate CA' appears twice"),
        "{message}"
    );
}

#[test]
fn the_wildcard_hint_only_comes_with_a_wildcard() {
    let out = verify(&[
        "--ca",
        &fixture("root.pem"),
        "--host",
        "10.9.9.9",
        &fixture("fullchain.pem"),
    ]);
    let (_, message) = out.check("name");
    assert!(
        message.contains("(a wildcard covers exactly one label)"),
        "the leaf has *.apps.example.com: {message}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().display().to_string();
    assert_eq!(
        run(&["selfsign", "--host", "a.example.com", "--out", &out_dir]).0,
        0
    );
    let out = verify(&[
        "--ca",
        &format!("{out_dir}/cacerts.pem"),
        "--host",
        "10.9.9.9",
        &format!("{out_dir}/tls.crt"),
    ]);
    let (status, message) = out.check("name");
    assert_eq!(status, "failed");
    assert!(!message.contains("wildcard"), "{message}");
}

/// Every command that shows a certificate counts its days left from the run's one time
/// (no clock read when a certificate is parsed): the same figure openssl's notAfter gives.
#[test]
fn every_certificate_shown_carries_days_left() {
    let leaf = fixture("leaf.pem");
    // Sub-second precision: the fixture may be minutes old or made this very second.
    let not_after = time::OffsetDateTime::from_unix_timestamp(openssl_enddate(&leaf)).unwrap();
    let expected = (not_after - time::OffsetDateTime::now_utc()).whole_days();
    let days = |args: &[&str], pointer: &str| {
        let (code, json) = run_json(args);
        assert_eq!(code, 0, "{args:?}: {json}");
        json.pointer(pointer)
            .and_then(serde_json::Value::as_i64)
            .unwrap_or_else(|| panic!("{args:?}: no {pointer} in {json}"))
    };
    assert_eq!(days(&["inspect", &leaf], "/0/days_left"), expected);
    assert_eq!(
        days(
            &["fullchain", &leaf, &fixture("inter.pem")],
            "/written/0/days_left"
        ),
        expected
    );
    assert_eq!(
        days(
            &["fullchain", &leaf, &fixture("inter.pem")],
            "/chain/0/days_left"
        ),
        expected
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let shown = days(
        &[
            "selfsign",
            "--host",
            "r.example.com",
            "--days",
            "90",
            "--out",
            &out,
        ],
        "/server/days_left",
    );
    // notAfter is the issue time without its fraction of a second, plus 90 days.
    assert_eq!(shown, 89);
}

#[test]
fn a_private_chain_against_a_public_store_is_untrusted_not_missing_an_intermediate() {
    // tls.crt holds the leaf and its intermediate; the root is private.
    let out = verify(&["--ca", "mozilla", &fixture("fullchain.pem")]);
    assert_eq!(out.code, 1, "{:#}", out.json);
    let chain = check_json(&out.json[0], "chain");
    assert_eq!(chain["cause"], "untrusted", "{chain:#}");
    assert!(
        chain["message"].as_str().unwrap().starts_with(
            "not trusted by the Mozilla roots: the chain ends at intermediate 'O=rcert test, CN=rcert Test Intermediate CA', whose issuer 'O=rcert test, CN=rcert Test Root CA' is not among the Mozilla roots (a private CA? pass --ca cacerts.pem"
        ),
        "{chain:#}"
    );
    // The leaf alone still lacks its intermediate.
    let out = verify(&["--ca", "mozilla", &fixture("leaf.pem")]);
    assert_eq!(
        check_json(&out.json[0], "chain")["cause"],
        "missing_intermediate"
    );
}
