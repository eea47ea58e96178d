//! `rcert import`: PKCS#12 (AES, 3DES, legacy RC2-40), PKCS#7 (PEM and DER) and DER inputs
//! made by the openssl CLI become Rancher's file set, judged by openssl itself.

mod common;

use std::path::Path;

use common::*;

/// A scratch directory with the password file (CRLF, as Windows writes it) and exports.
fn exports() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(dir.path().join("pass.txt"), "s3cret pass\r\n").unwrap();
    let chain = fixture("fullchain-root.pem");
    let key = fixture("leaf.key");
    let pass = "pass:s3cret pass";
    for (name, extra) in [
        ("aes.pfx", vec![]),
        (
            "3des.pfx",
            vec![
                "-keypbe",
                "PBE-SHA1-3DES",
                "-certpbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ],
        ),
        ("legacy.pfx", vec!["-legacy"]),
    ] {
        let mut args = vec![
            "pkcs12", "-export", "-in", &chain, "-inkey", &key, "-passout", pass,
        ];
        args.extend(extra);
        let out = at(name);
        args.extend(["-out", &out]);
        let (ok, text) = openssl(&args);
        assert!(ok, "{name}: {text}");
    }
    let nokey = at("nokey.p12");
    assert!(
        openssl(&["pkcs12", "-export", "-nokeys", "-in", &chain, "-passout", pass, "-out", &nokey])
            .0
    );
    let (p7b, p7c) = (at("bundle.p7b"), at("bundle.p7c"));
    assert!(openssl(&["crl2pkcs7", "-nocrl", "-certfile", &chain, "-out", &p7b]).0);
    assert!(
        openssl(&[
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            &chain,
            "-outform",
            "DER",
            "-out",
            &p7c
        ])
        .0
    );
    dir
}

/// The imported set passes openssl verify, and the key belongs to the leaf.
fn assert_openssl_accepts(out: &Path) {
    let path = |name: &str| out.join(name).display().to_string();
    let (ok, text) = openssl(&[
        "verify",
        "-CAfile",
        &path("cacerts.pem"),
        "-untrusted",
        &path("tls.crt"),
        &path("tls.crt"),
    ]);
    assert!(ok, "{text}");
    let (ok_cert, from_cert) = openssl(&["x509", "-in", &path("tls.crt"), "-noout", "-pubkey"]);
    let (ok_key, from_key) = openssl(&["pkey", "-in", &path("tls.key"), "-pubout"]);
    assert!(
        ok_cert && ok_key && from_cert == from_key,
        "the key belongs to the leaf"
    );
    let key = std::fs::read_to_string(out.join("tls.key")).unwrap();
    assert!(
        key.starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8: {key}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(out.join("tls.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // The intermediate then the root, as Rancher's docs ask.
    assert_eq!(
        std::fs::read(out.join("cacerts.pem")).unwrap(),
        std::fs::read(fixtures().join("cacerts-inter-root.pem")).unwrap()
    );
    assert_eq!(
        pem_blocks(&std::fs::read_to_string(out.join("tls.crt")).unwrap()),
        pem_blocks(&std::fs::read_to_string(fixtures().join("fullchain.pem")).unwrap()),
        "leaf + intermediate, the root apart"
    );
}

#[test]
fn every_pkcs12_encryption_round_trips() {
    let dir = exports();
    let pass = dir.path().join("pass.txt").display().to_string();
    for name in ["aes.pfx", "3des.pfx", "legacy.pfx"] {
        let out = dir.path().join(format!("out-{name}"));
        let (code, stdout, stderr) = run(&[
            "import",
            &dir.path().join(name).display().to_string(),
            "--password-file",
            &pass,
            "--out",
            &out.display().to_string(),
        ]);
        assert_eq!(code, 0, "{name}: {stdout}{stderr}");
        assert!(
            stdout.contains("(PKCS#12): 3 certificate(s), 1 key(s)"),
            "{stdout}"
        );
        assert_openssl_accepts(&out);
    }
}

#[test]
fn pkcs7_bundles_and_a_separate_key_round_trip() {
    let dir = exports();
    for name in ["bundle.p7b", "bundle.p7c"] {
        let out = dir.path().join(format!("out-{name}"));
        let (code, stdout, stderr) = run(&[
            "import",
            &dir.path().join(name).display().to_string(),
            &fixture("leaf.key.der"),
            "--out",
            &out.display().to_string(),
        ]);
        assert_eq!(code, 0, "{name}: {stdout}{stderr}");
        assert_openssl_accepts(&out);
    }
    // Everywhere else rcert reads certificates, a PKCS#7 bundle reads like a PEM bundle.
    let (code, stdout, _) = run(&[
        "verify",
        "--ca",
        &fixture("root.pem"),
        &dir.path().join("bundle.p7c").display().to_string(),
    ]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn wrong_missing_passwords_and_no_key_write_nothing() {
    let dir = exports();
    let pfx = dir.path().join("aes.pfx").display().to_string();
    let out = dir.path().join("out");
    let out_s = out.display().to_string();
    std::fs::write(dir.path().join("wrong.txt"), "not it\n").unwrap();
    let wrong = dir.path().join("wrong.txt").display().to_string();
    let (code, _, stderr) = run(&["import", &pfx, "--password-file", &wrong, "--out", &out_s]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("aes.pfx: wrong password") && stderr.contains("nothing was written"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["import", &pfx, "--out", &out_s]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("needs its password: --password-file"),
        "{stderr}"
    );
    let output = rcert()
        .env("PFX_PASS", "s3cret pass")
        .args([
            "import",
            &pfx,
            "--password-env",
            "PFX_PASS",
            "--out",
            &out_s,
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let nokey = dir.path().join("nokey.p12").display().to_string();
    let pass = dir.path().join("pass.txt").display().to_string();
    let other = dir.path().join("other");
    let (code, _, stderr) = run(&[
        "import",
        &nokey,
        "--password-file",
        &pass,
        "--out",
        &other.display().to_string(),
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no private key among the inputs (")
            && stderr.contains("3 certificate(s), 0 key(s)"),
        "{stderr}"
    );
    assert!(!other.exists());
    // A key that belongs to none of the certificates.
    let (code, _, stderr) = run(&[
        "import",
        &fixture("fullchain.pem"),
        &fixture("other.key"),
        "--out",
        &other.display().to_string(),
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("belongs to any of the certificates"),
        "{stderr}"
    );
    // Other commands name the format instead of calling it garbage.
    let (code, _, stderr) = run(&["verify", &pfx]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("is a PKCS#12 archive (.pfx/.p12)"),
        "{stderr}"
    );
}

#[test]
fn inspect_opens_a_pkcs12_archive_with_its_password() {
    let dir = exports();
    let pfx = dir.path().join("aes.pfx").display().to_string();
    let pass = dir.path().join("pass.txt").display().to_string();
    let (code, json) = run_json(&["inspect", &pfx, "--password-file", &pass]);
    assert_eq!(code, 0, "{json:#}");
    let items = json.as_array().unwrap();
    let kinds: Vec<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["certificate", "certificate", "certificate", "private_key"]
    );
    assert_eq!(items[3]["matches"][0]["source"], pfx.as_str());
    assert_eq!(
        items[3]["matches"][0]["subject"],
        "O=rcert test, CN=rancher.example.com"
    );
    assert_eq!(
        items[3]["matches"][0]["sha256"], items[0]["sha256_fingerprint"],
        "the key belongs to the archive's leaf"
    );
    // Without a password, and with a wrong one: one line each, exit 2.
    let (code, _, stderr) = run(&["inspect", &pfx]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr.trim(),
        format!("rcert: error: {pfx}: a PKCS#12 archive (.pfx/.p12): give its password with --password-file FILE or --password-env VAR")
    );
    let wrong = dir.path().join("wrong.txt");
    std::fs::write(&wrong, "nope\n").unwrap();
    let wrong = wrong.display().to_string();
    let (code, _, stderr) = run(&["inspect", &pfx, "--password-file", &wrong]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr.trim(),
        format!("rcert: error: {pfx}: wrong password, or a damaged file (the archive's MAC does not verify; if the password is right, compare the file's sha256 with the original) (password from {wrong})")
    );
}

#[test]
fn the_password_is_asked_for_on_a_terminal() {
    use std::io::{Read, Write};
    let dir = exports();
    let pfx = dir.path().join("aes.pfx").display().to_string();
    let out = dir.path().join("typed").display().to_string();
    // `script` runs rcert on a pseudo-terminal; the password is typed a moment later.
    let command = format!("{} import {pfx} --out {out}", env!("CARGO_BIN_EXE_rcert"));
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 256];
            while let Ok(read) = stdout.read(&mut chunk) {
                if read == 0 {
                    break;
                }
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk[..read]));
            }
        })
    };
    // Type the password once the prompt is there (echo is off by then), as a person would.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !seen.lock().unwrap().contains("Password for") {
        assert!(
            std::time::Instant::now() < deadline,
            "no prompt: {}",
            seen.lock().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    stdin.write_all(b"s3cret pass\n").expect("typed");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "rcert did not finish");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    drop(stdin);
    reader.join().expect("reader");
    let transcript = seen.lock().unwrap().clone();
    assert!(status.success(), "{transcript}");
    assert!(
        transcript.contains(&format!("Password for {pfx}: ")),
        "{transcript}"
    );
    assert!(
        !transcript.contains("s3cret"),
        "the password is not echoed: {transcript}"
    );
    assert_openssl_accepts(Path::new(&out));
}
