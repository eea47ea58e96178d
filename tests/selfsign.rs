//! `rcert selfsign`, judged by the real openssl CLI.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

fn selfsign(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = dir.display().to_string();
    let mut args = vec!["selfsign", "--out", out.as_str()];
    args.extend(extra);
    run(&args)
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

fn mode(dir: &Path, name: &str) -> u32 {
    std::fs::metadata(dir.join(name))
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// `openssl x509 -in FILE -noout OPTIONS…`: (success, output).
fn x509(file: &str, options: &[&str]) -> (bool, String) {
    let mut args = vec!["x509", "-in", file, "-noout"];
    args.extend(options);
    openssl(&args)
}

/// The public key of a certificate and of a key, as openssl prints them.
fn public_keys_match(cert: &str, key: &str) -> bool {
    let (ok_cert, from_cert) = x509(cert, &["-pubkey"]);
    let (ok_key, from_key) = openssl(&["pkey", "-in", key, "-pubout"]);
    ok_cert && ok_key && from_cert == from_key
}

#[test]
fn default_files_verify_with_openssl_and_carry_the_requested_names() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = selfsign(
        dir.path(),
        &[
            "--host",
            "rancher.example.com",
            "--host",
            "*.apps.example.com",
            "--host",
            "10.1.2.3",
            "--ip",
            "fd00::1",
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("rcert push --namespace cattle-system"),
        "{stdout}"
    );
    assert!(stdout.contains("ingress.tls.source=secret"), "{stdout}");

    let (ok, text) = openssl(&[
        "verify",
        "-CAfile",
        &path(dir.path(), "cacerts.pem"),
        &path(dir.path(), "tls.crt"),
    ]);
    assert!(ok, "{text}");
    let (ok, text) = openssl(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "rancher.example.com",
        "-CAfile",
        &path(dir.path(), "cacerts.pem"),
        &path(dir.path(), "tls.crt"),
    ]);
    assert!(ok, "{text}");

    let (_, ext) = x509(&path(dir.path(), "tls.crt"), &["-ext", "subjectAltName,basicConstraints,keyUsage,extendedKeyUsage,subjectKeyIdentifier,authorityKeyIdentifier"]);
    assert!(
        ext.contains("DNS:rancher.example.com, DNS:*.apps.example.com, IP Address:10.1.2.3, IP Address:FD00:0:0:0:0:0:0:1"),
        "{ext}"
    );
    assert!(ext.contains("CA:FALSE"), "{ext}");
    assert!(
        ext.contains("Digital Signature") && !ext.contains("Key Encipherment"),
        "{ext}"
    );
    assert!(ext.contains("TLS Web Server Authentication"), "{ext}");
    assert!(
        ext.contains("Subject Key Identifier") && ext.contains("Authority Key Identifier"),
        "{ext}"
    );

    let (_, ca_ext) = x509(
        &path(dir.path(), "cacerts.pem"),
        &["-ext", "basicConstraints,keyUsage"],
    );
    assert!(ca_ext.contains("CA:TRUE, pathlen:0"), "{ca_ext}");
    assert!(ca_ext.contains("Certificate Sign, CRL Sign"), "{ca_ext}");

    assert!(public_keys_match(
        &path(dir.path(), "tls.crt"),
        &path(dir.path(), "tls.key")
    ));
    assert!(public_keys_match(
        &path(dir.path(), "cacerts.pem"),
        &path(dir.path(), "cakey.pem")
    ));

    let chain = std::fs::read_to_string(dir.path().join("tls.crt")).unwrap();
    let ca = std::fs::read_to_string(dir.path().join("cacerts.pem")).unwrap();
    let blocks = pem_blocks(&chain);
    assert_eq!(blocks.len(), 2, "tls.crt holds server cert then CA");
    assert_eq!(blocks[1], ca, "the second certificate of tls.crt is the CA");
    assert_eq!(pem_blocks(&ca).len(), 1, "cacerts.pem holds the CA alone");
    let (_, subject) = x509(&path(dir.path(), "tls.crt"), &["-subject"]);
    assert!(subject.contains("CN = rancher.example.com"), "{subject}");

    assert_eq!(mode(dir.path(), "tls.key"), 0o600);
    assert_eq!(mode(dir.path(), "cakey.pem"), 0o600);
    assert_eq!(mode(dir.path(), "tls.crt"), 0o644);
    let (_, key_text) = openssl(&[
        "pkey",
        "-in",
        &path(dir.path(), "tls.key"),
        "-noout",
        "-text",
    ]);
    assert!(key_text.contains("P-256"), "{key_text}");
    assert!(std::fs::read_to_string(dir.path().join("tls.key"))
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
}

#[test]
fn every_key_type_verifies_and_its_key_loads_in_openssl() {
    for (key_type, expect) in [
        ("ecdsa-p256", "P-256"),
        ("ecdsa-p384", "P-384"),
        ("ed25519", "ED25519"),
        ("rsa-2048", "2048 bit"),
        ("rsa-3072", "3072 bit"),
        ("rsa-4096", "4096 bit"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (code, stdout, stderr) = selfsign(
            dir.path(),
            &["--host", "rancher.example.com", "--key-type", key_type],
        );
        assert_eq!(code, 0, "{key_type}: {stdout}{stderr}");
        let (ok, text) = openssl(&[
            "verify",
            "-CAfile",
            &path(dir.path(), "cacerts.pem"),
            &path(dir.path(), "tls.crt"),
        ]);
        assert!(ok, "{key_type}: {text}");
        assert!(
            public_keys_match(&path(dir.path(), "tls.crt"), &path(dir.path(), "tls.key")),
            "{key_type}"
        );
        let (ok, key_text) = openssl(&[
            "pkey",
            "-in",
            &path(dir.path(), "tls.key"),
            "-noout",
            "-text",
        ]);
        assert!(ok && key_text.contains(expect), "{key_type}: {key_text}");
        if key_type.starts_with("rsa") {
            let (_, ext) = x509(&path(dir.path(), "tls.crt"), &["-ext", "keyUsage"]);
            assert!(
                ext.contains("Digital Signature, Key Encipherment"),
                "{key_type}: {ext}"
            );
        }
    }
}

#[test]
fn second_run_without_force_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        selfsign(dir.path(), &["--host", "rancher.example.com"]).0,
        0
    );
    let before = snapshot(dir.path());
    let (code, _, stderr) = selfsign(dir.path(), &["--host", "rancher.example.com"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("already exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(snapshot(dir.path()), before, "every byte stays as it was");

    let (code, _, stderr) = selfsign(dir.path(), &["--host", "rancher.example.com", "--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert_ne!(snapshot(dir.path()), before, "--force replaces the files");
    assert_eq!(mode(dir.path(), "tls.key"), 0o600);
}

#[test]
fn renewal_with_existing_ca_verifies_against_the_old_cacerts() {
    let old = tempfile::tempdir().unwrap();
    assert_eq!(
        selfsign(old.path(), &["--host", "rancher.example.com"]).0,
        0
    );
    let renewed = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = selfsign(
        renewed.path(),
        &[
            "--host",
            "rancher.example.com",
            "--ca-cert",
            &path(old.path(), "cacerts.pem"),
            "--ca-key",
            &path(old.path(), "cakey.pem"),
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        !renewed.path().join("cakey.pem").exists(),
        "the CA key is not copied"
    );
    let (ok, text) = openssl(&[
        "verify",
        "-CAfile",
        &path(old.path(), "cacerts.pem"),
        &path(renewed.path(), "tls.crt"),
    ]);
    assert!(ok, "{text}");
    assert_eq!(
        std::fs::read(old.path().join("cacerts.pem")).unwrap(),
        std::fs::read(renewed.path().join("cacerts.pem")).unwrap(),
        "same CA, same CATTLE_CA_CHECKSUM"
    );
    assert_ne!(
        std::fs::read(old.path().join("tls.crt")).unwrap(),
        std::fs::read(renewed.path().join("tls.crt")).unwrap()
    );
}

#[test]
fn renewal_with_an_openssl_made_ca_and_traditional_key() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = selfsign(
        dir.path(),
        &[
            "--host",
            "rancher.example.com",
            "--ca-cert",
            &fixture("inter.pem"),
            "--ca-key",
            &fixture("inter.key"),
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (ok, text) = openssl(&[
        "verify",
        "-CAfile",
        &fixture("root.pem"),
        "-untrusted",
        &fixture("inter.pem"),
        &path(dir.path(), "tls.crt"),
    ]);
    assert!(ok, "{text}");
}

#[test]
fn validity_defaults_and_flags_are_honoured() {
    // openssl x509 -checkend N: succeeds when the certificate is still valid N seconds from now.
    let checkend = |file: &str, days: i64, slack: i64| {
        let seconds = (days * 86_400 + slack).to_string();
        x509(file, &["-checkend", &seconds]).0
    };
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        selfsign(dir.path(), &["--host", "rancher.example.com"]).0,
        0
    );
    let (tls, ca) = (path(dir.path(), "tls.crt"), path(dir.path(), "cacerts.pem"));
    assert!(
        checkend(&tls, 825, -120) && !checkend(&tls, 825, 120),
        "server: 825 days"
    );
    assert!(
        checkend(&ca, 3650, -120) && !checkend(&ca, 3650, 120),
        "CA: 3650 days"
    );

    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        selfsign(
            dir.path(),
            &[
                "--host",
                "rancher.example.com",
                "--days",
                "30",
                "--ca-days",
                "100"
            ]
        )
        .0,
        0
    );
    let (tls, ca) = (path(dir.path(), "tls.crt"), path(dir.path(), "cacerts.pem"));
    assert!(
        checkend(&tls, 30, -120) && !checkend(&tls, 30, 120),
        "server: --days 30"
    );
    assert!(
        checkend(&ca, 100, -120) && !checkend(&ca, 100, 120),
        "CA: --ca-days 100"
    );
}

#[test]
fn serials_differ_between_runs() {
    let serial = || {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            selfsign(dir.path(), &["--host", "rancher.example.com"]).0,
            0
        );
        x509(&path(dir.path(), "tls.crt"), &["-serial"]).1
    };
    assert_ne!(serial(), serial());
}

#[test]
fn cn_and_org_are_used() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        selfsign(
            dir.path(),
            &[
                "--host",
                "rancher.example.com",
                "--cn",
                "rancher",
                "--org",
                "Example Inc"
            ]
        )
        .0,
        0
    );
    let (_, subject) = x509(&path(dir.path(), "tls.crt"), &["-subject"]);
    assert!(
        subject.contains("O = Example Inc, CN = rancher"),
        "{subject}"
    );
}

#[test]
fn json_output_parses() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let (code, json) = run_json(&["selfsign", "--host", "rancher.example.com", "--out", &out]);
    assert_eq!(code, 0);
    assert_eq!(json["server"]["dns_names"][0], "rancher.example.com");
    assert_eq!(json["files"].as_array().unwrap().len(), 4);
    let sha = sha256sum(&std::fs::read(dir.path().join("cacerts.pem")).unwrap());
    assert_eq!(json["ca_checksum"], sha.as_str());
}

fn assert_refused(args: &[&str], message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = selfsign(dir.path(), args);
    assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
    assert!(stderr.contains(message), "{args:?}: {stderr}");
    assert!(snapshot(dir.path()).is_empty(), "{args:?}: nothing written");
}

#[test]
fn host_that_is_neither_dns_nor_ip_is_refused() {
    assert_refused(
        &["--host", "https://rancher.example.com"],
        "neither a DNS name nor an IP address",
    );
    assert_refused(
        &["--host", "rancher.example.com:443"],
        "neither a DNS name nor an IP address",
    );
}

#[test]
fn zero_days_is_refused() {
    assert_refused(
        &["--host", "rancher.example.com", "--days", "0"],
        "--days 0",
    );
    assert_refused(
        &["--host", "rancher.example.com", "--ca-days", "0"],
        "--ca-days 0",
    );
}

#[test]
fn no_names_is_refused() {
    assert_refused(&[], "at least one --host");
}

#[test]
fn ca_that_is_not_a_ca_or_not_matching_its_key_is_refused() {
    assert_refused(
        &[
            "--host",
            "a.example.com",
            "--ca-cert",
            &fixture("leaf.pem"),
            "--ca-key",
            &fixture("leaf.key"),
        ],
        "is not a CA certificate",
    );
    assert_refused(
        &[
            "--host",
            "a.example.com",
            "--ca-cert",
            &fixture("root.pem"),
            "--ca-key",
            &fixture("other.key"),
        ],
        "is not the private key of",
    );
    assert_refused(
        &[
            "--host",
            "a.example.com",
            "--ca-cert",
            &fixture("root.pem"),
            "--ca-key",
            &fixture("encrypted.key"),
        ],
        "decrypt it first",
    );
}

#[test]
fn unwritable_output_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let inside_file = file.join("certs").display().to_string();
    let (code, _, stderr) = run(&["selfsign", "--host", "a.example.com", "--out", &inside_file]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("cannot use as output directory"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&[
        "selfsign",
        "--host",
        "a.example.com",
        "--out",
        "/proc/rcert-test",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("/proc/rcert-test"), "{stderr}");
}

/// Names of the files in a directory, hidden ones included.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn a_dangling_symlink_among_the_targets_stops_the_whole_set() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/nonexistent/rcert-target", dir.path().join("tls.key")).unwrap();
    let (code, _, stderr) = selfsign(dir.path(), &["--host", "a.example.com"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("tls.key: already exists; nothing was written"),
        "{stderr}"
    );
    assert_eq!(
        names_in(dir.path()),
        vec!["tls.key"],
        "nothing else was written"
    );
    // With --force the link itself is replaced, never followed.
    let (code, _, stderr) = selfsign(dir.path(), &["--host", "a.example.com", "--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!Path::new("/nonexistent/rcert-target").exists());
    let meta = std::fs::symlink_metadata(dir.path().join("tls.key")).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(mode(dir.path(), "tls.key"), 0o600);
    assert_eq!(
        names_in(dir.path()),
        vec!["cacerts.pem", "cakey.pem", "tls.crt", "tls.key"]
    );
}

#[test]
fn a_full_disk_leaves_the_old_set_and_no_temporary_files() {
    // A 64 KiB tmpfs: the first set fits, then a filler leaves too little room for the
    // second. Needs root (CI runs as root); any other outcome of mount is a failure.
    let dir = tempfile::tempdir().unwrap();
    let mount = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(dir.path())
        .status()
        .expect("mount runs");
    assert!(mount.success(), "mount -t tmpfs needs root");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(dir.path());
    let out = dir.path().join("certs");
    let (code, _, stderr) = selfsign(&out, &["--host", "a.example.com", "--key-type", "rsa-2048"]);
    assert_eq!(code, 0, "{stderr}");
    let before = snapshot(&out);
    // Fill the file system, leaving about 3 KiB: less than a new set needs.
    let filler = dir.path().join("filler");
    let mut size = 64 * 1024;
    while size > 0 {
        let attempt = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&filler)
            .and_then(|mut file| std::io::Write::write_all(&mut file, &vec![0u8; size]));
        if attempt.is_err() {
            size /= 2;
        }
        if size < 2048 {
            break;
        }
    }
    let (code, _, stderr) = selfsign(
        &out,
        &[
            "--host",
            "a.example.com",
            "--key-type",
            "rsa-2048",
            "--force",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot write") && stderr.contains("the previous files are unchanged"),
        "{stderr}"
    );
    assert_eq!(snapshot(&out), before, "the old set, byte for byte");
    assert_eq!(
        names_in(&out),
        vec!["cacerts.pem", "cakey.pem", "tls.crt", "tls.key"],
        "no temporary or backup file is left"
    );
}

#[test]
fn out_dash_is_refused() {
    let (code, _, stderr) = run(&["selfsign", "--host", "a.example.com", "--out", "-"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--out takes a directory"), "{stderr}");
}

#[test]
fn renewal_copies_a_crlf_ca_file_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let (code, _, stderr) = selfsign(&first, &["--host", "a.example.com"]);
    assert_eq!(code, 0, "{stderr}");
    // The operator's cacerts.pem went through a Windows editor: CRLF line endings.
    let crlf = std::fs::read_to_string(first.join("cacerts.pem"))
        .unwrap()
        .replace('\n', "\r\n");
    let ca_file = dir.path().join("cacerts-crlf.pem");
    std::fs::write(&ca_file, &crlf).unwrap();
    let renewed = dir.path().join("renewed");
    let (code, stdout, stderr) = selfsign(
        &renewed,
        &[
            "--host",
            "a.example.com",
            "--ca-cert",
            &ca_file.display().to_string(),
            "--ca-key",
            &path(&first, "cakey.pem"),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read(renewed.join("cacerts.pem")).unwrap(),
        crlf.as_bytes(),
        "cacerts.pem is the given file, byte for byte"
    );
    assert!(
        stdout.contains("CRLF line endings; copied byte for byte"),
        "{stdout}"
    );
    // What Rancher serves and hashes: strings.TrimSpace of the file plus one newline.
    let checksum = sha256sum(format!("{}\n", crlf.trim()).as_bytes());
    assert!(
        stdout.contains(&checksum),
        "the checksum of the bytes as Rancher serves them: {stdout}"
    );
}

#[test]
fn renewal_with_an_intermediate_and_root_file_keeps_both_in_cacerts() {
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("inter-root.pem");
    let both = std::fs::read_to_string(fixtures().join("inter.pem")).unwrap()
        + &std::fs::read_to_string(fixtures().join("root.pem")).unwrap();
    std::fs::write(&ca_file, both).unwrap();
    let out = dir.path().join("out");
    let (code, _, stderr) = selfsign(
        &out,
        &[
            "--host",
            "rancher.example.com",
            "--ca-cert",
            &ca_file.display().to_string(),
            "--ca-key",
            &fixture("inter.key"),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read(out.join("cacerts.pem")).unwrap(),
        std::fs::read(&ca_file).unwrap(),
        "cacerts.pem holds the intermediate then the root (Rancher's docs), byte for byte"
    );
    let chain = std::fs::read_to_string(out.join("tls.crt")).unwrap();
    let blocks = pem_blocks(&chain);
    assert_eq!(blocks.len(), 2, "leaf + intermediate");
    assert_eq!(
        blocks[1],
        std::fs::read_to_string(fixtures().join("inter.pem")).unwrap()
    );
    assert!(openssl_verify(
        &path(&out, "cacerts.pem"),
        &path(&out, "tls.crt"),
        &["-verify_hostname", "rancher.example.com"]
    ));
}

#[test]
fn bad_names_and_common_names_are_refused_with_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = selfsign(dir.path(), &["--host", "bad_host"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--host 'bad_host'") && stderr.contains("no '_'"),
        "{stderr}"
    );
    let (code, _, stderr) = selfsign(dir.path(), &["--host", "a.example.com", "--cn", ""]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--cn '': it is empty"), "{stderr}");
    let long = "c".repeat(65);
    let (code, _, stderr) = selfsign(dir.path(), &["--host", "a.example.com", "--cn", &long]);
    assert_eq!(code, 2);
    assert!(stderr.contains("longer than 64 characters"), "{stderr}");
    assert!(!dir.path().join("tls.key").exists());
}
