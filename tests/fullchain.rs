//! `rcert fullchain` on pieces of an openssl-made root → intermediate → leaf hierarchy.

mod common;

use common::*;

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// All orderings of a slice (for three or four items).
fn permutations(items: &[String]) -> Vec<Vec<String>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for index in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(index);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            all.push(tail);
        }
    }
    all
}

#[test]
fn every_order_with_duplicates_and_an_unrelated_cert_gives_leaf_then_intermediate() {
    let expected = format!(
        "{}{}",
        read(&fixtures().join("leaf.pem")),
        read(&fixtures().join("inter.pem"))
    );
    let pieces = vec![
        fixture("leaf.pem"),
        fixture("inter.pem"),
        fixture("root.pem"),
        fixture("other-root.pem"),
    ];
    for order in permutations(&pieces) {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("tls.crt");
        let mut args = vec![
            "fullchain".to_string(),
            "--out".into(),
            out.display().to_string(),
        ];
        args.extend(order.iter().cloned());
        args.push(fixture("inter.pem")); // a duplicate
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, 0, "{order:?}: {stdout}{stderr}");
        assert_eq!(read(&out), expected, "{order:?}");
        assert!(
            stdout.contains("Unrelated Root CA") && stdout.contains("duplicate"),
            "{stdout}"
        );
        assert!(openssl_verify(
            &fixture("root.pem"),
            &out.display().to_string(),
            &[]
        ));
    }
}

#[test]
fn missing_intermediate_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tls.crt").display().to_string();
    let (code, stdout, _) = run(&[
        "fullchain",
        "--out",
        &out,
        &fixture("leaf.pem"),
        &fixture("root.pem"),
    ]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("chain incomplete") && stdout.contains("rcert Test Intermediate CA"),
        "{stdout}"
    );
    assert!(snapshot(dir.path()).is_empty());
}

#[test]
fn cacerts_gets_the_intermediate_then_the_root_and_include_root_appends_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tls.crt");
    let cacerts = dir.path().join("cacerts.pem");
    let (code, stdout, stderr) = run(&[
        "fullchain",
        "--include-root",
        "--out",
        &out.display().to_string(),
        "--cacerts",
        &cacerts.display().to_string(),
        &fixture("root.pem"),
        &fixture("leaf.pem"),
        &fixture("inter.pem"),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // Rancher's docs: a certificate signed by an intermediate CA needs the intermediate
    // and the root in cacerts.pem, in that order.
    assert_eq!(
        read(&cacerts),
        read(&fixtures().join("cacerts-inter-root.pem"))
    );
    assert_eq!(read(&out), read(&fixtures().join("fullchain-root.pem")));
    let (code, stdout, _) = run(&[
        "verify",
        "--ca",
        &cacerts.display().to_string(),
        &out.display().to_string(),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("ok       ca_file     "), "{stdout}");
}

#[test]
fn bundle_on_stdin_prints_the_chain_on_stdout() {
    let bundle = std::fs::read(fixtures().join("wrong-order.pem")).unwrap();
    let output = rcert()
        .args(["fullchain", "-"])
        .write_stdin(bundle)
        .output()
        .unwrap();
    // No root given: the chain is still ordered and written (the root is what
    // cacerts.pem is for), with a note.
    assert_eq!(output.status.code(), Some(0));
    let printed = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(
        pem_blocks(&printed),
        pem_blocks(&std::fs::read_to_string(fixtures().join("fullchain.pem")).unwrap()),
        "leaf first, then the intermediate"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("which was not given: written without it")
    );

    let mut bundle = std::fs::read(fixtures().join("root.pem")).unwrap();
    bundle.extend(std::fs::read(fixtures().join("wrong-order.pem")).unwrap());
    let output = rcert()
        .args(["fullchain", "-"])
        .write_stdin(bundle)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        read(&fixtures().join("fullchain.pem"))
    );
}

#[test]
fn existing_output_is_not_overwritten_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tls.crt");
    std::fs::write(&out, "old").unwrap();
    let args = [
        "fullchain",
        "--out",
        &out.display().to_string(),
        &fixture("fullchain-root.pem"),
    ];
    let (code, _, stderr) = run(&args);
    assert_eq!(code, 2);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(read(&out), "old");
    let mut forced = args.to_vec();
    forced.push("--force");
    assert_eq!(run(&forced).0, 0);
    assert_eq!(read(&out), read(&fixtures().join("fullchain.pem")));
}

#[test]
fn only_cas_means_no_leaf() {
    let (code, stdout, _) = run(&[
        "fullchain",
        &fixture("root.pem"),
        &fixture("other-root.pem"),
    ]);
    assert_eq!(code, 1);
    // No chain: nothing on standard output (the report goes to stderr).
    assert_eq!(stdout, "");
}

#[test]
fn json_output_parses() {
    let (code, json) = run_json(&[
        "fullchain",
        &fixture("inter.pem"),
        &fixture("leaf.pem"),
        &fixture("root.pem"),
    ]);
    assert_eq!(code, 0);
    assert_eq!(json["chain"].as_array().unwrap().len(), 3);
    assert_eq!(json["written"].as_array().unwrap().len(), 2);
    assert_eq!(json["has_root"], true);
    assert!(json["pem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
}

#[test]
fn one_path_for_two_outputs_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let same = dir.path().join("same.pem").display().to_string();
    for force in [false, true] {
        let mut args = vec!["fullchain", "--out", &same, "--cacerts", &same];
        if force {
            args.push("--force");
        }
        let chain = fixture("fullchain-root.pem");
        args.push(&chain);
        let (code, _, stderr) = run(&args);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains("given for two outputs") && stderr.contains("nothing was written"),
            "{stderr}"
        );
        assert!(snapshot(dir.path()).is_empty());
    }
}

#[test]
fn the_fix_verify_suggests_for_a_wrong_order_works() {
    // verify says: rcert fullchain wrong-order.pem --out wrong-order.pem --force
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong-order.pem");
    std::fs::copy(fixtures().join("wrong-order.pem"), &file).unwrap();
    let file = file.display().to_string();
    let (code, stdout, stderr) = run(&["fullchain", &file, "--out", &file, "--force"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        pem_blocks(&std::fs::read_to_string(&file).unwrap()),
        pem_blocks(&std::fs::read_to_string(fixtures().join("fullchain.pem")).unwrap())
    );
    let (code, _, _) = run(&["verify", "--ca", &fixture("root.pem"), &file]);
    assert_eq!(code, 0);
}

/// A combined PEM (chain and private key in one file) rewritten in place would lose the
/// key: refused, the file untouched, the message says why and what to do.
#[test]
fn writing_over_an_input_that_holds_a_private_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let combined = dir.path().join("combined.pem");
    std::fs::write(
        &combined,
        [
            fixture_bytes("inter.pem"),
            fixture_bytes("leaf.pem"),
            fixture_bytes("leaf.key"),
        ]
        .concat(),
    )
    .unwrap();
    let before = std::fs::read(&combined).unwrap();
    let path = combined.display().to_string();
    let (code, _, stderr) = run(&["fullchain", &path, "--out", &path, "--force"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{path} holds a private key: writing the chain over it would lose the key"
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&combined).unwrap(), before);
    // And verify offers no command that would do it.
    let (_, json) = run_json(&["verify", &path]);
    let order = check_json(&json[0], "order");
    assert!(order["fix"]["commands"].is_null(), "{order:#}");
}

#[test]
fn an_unrelated_root_does_not_make_a_missing_root_an_error() {
    // leaf + its intermediate + a self-signed CA of another PKI: tls.crt is complete
    // (its root belongs in cacerts.pem), the unrelated CA is ignored.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tls.crt");
    let shown = out.display().to_string();
    let (code, json) = run_json(&[
        "fullchain",
        &fixture("leaf.pem"),
        &fixture("inter.pem"),
        &fixture("other-root.pem"),
        "--out",
        &shown,
    ]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["chain"].as_array().unwrap().len(), 2, "{json:#}");
    assert!(json["errors"].as_array().unwrap().is_empty(), "{json:#}");
    assert!(
        json["warnings"]
            .to_string()
            .contains("which was not given: written without it"),
        "{json:#}"
    );
    assert!(openssl_verify(&fixture("root.pem"), &shown, &[]));
}
