//! Property tests: random and mutated bytes fed to every parser that reads outside bytes
//! never panic — PEM, DER, PKCS#7, PKCS#12, the private-key scans, kubeconfig YAML and
//! node files (through `expiry --path`, in process), and Rancher's `/ping` and `/cacerts`
//! answers. A bounded number of cases here; `scripts/fuzz` runs many more.

use proptest::prelude::*;
use rcert::x509::pem::{parse_bytes, Item};
use rcert::x509::{Cert, KeyInfo};
use rustls_pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};

const LEAF: &str = include_str!("../testdata/corpus/fullchain.pem");
const KEY: &[u8] = include_bytes!("../testdata/corpus/leaf.key.der");
const CERT_DER: &[u8] = include_bytes!("../testdata/corpus/leaf.der");

fn exercise(bytes: &[u8]) {
    if let Ok(items) = parse_bytes("fuzz", bytes) {
        let certs: Vec<Cert> = items
            .iter()
            .filter_map(|item| match item {
                Item::Certificate(der) => Cert::from_der(der.clone()).ok(),
                _ => None,
            })
            .collect();
        let _ = rcert::chain::build(certs);
    }
    let _ = Cert::from_der(CertificateDer::from(bytes.to_vec()));
    for key in [
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(bytes.to_vec())),
        PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(bytes.to_vec())),
        PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(bytes.to_vec())),
    ] {
        let _ = KeyInfo::from_der(&key);
    }
}

/// PKCS#12 and PKCS#7 archives of the corpus chain, made once by openssl.
fn archives() -> &'static (Vec<u8>, Vec<u8>) {
    static ARCHIVES: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    ARCHIVES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let corpus = |name: &str| format!("{}/testdata/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
        let pfx = dir.path().join("a.pfx");
        let p7b = dir.path().join("a.p7b");
        let ok = std::process::Command::new("openssl")
            .args([
                "pkcs12",
                "-export",
                "-in",
                &corpus("fullchain.pem"),
                "-inkey",
                &corpus("leaf.key"),
                "-passout",
                "pass:x",
                "-out",
            ])
            .arg(&pfx)
            .status()
            .unwrap()
            .success()
            && std::process::Command::new("openssl")
                .args([
                    "crl2pkcs7",
                    "-nocrl",
                    "-certfile",
                    &corpus("fullchain.pem"),
                    "-outform",
                    "DER",
                    "-out",
                ])
                .arg(&p7b)
                .status()
                .unwrap()
                .success();
        assert!(ok, "openssl makes the archives");
        (std::fs::read(pfx).unwrap(), std::fs::read(p7b).unwrap())
    })
}

/// The archive parsers, the key scans and Rancher's checksum on any bytes.
fn exercise_archives(bytes: &[u8]) {
    let _ = rcert::x509::formats::read_pkcs12(bytes, "x");
    let _ = rcert::x509::formats::pkcs7_certificates(bytes);
    let _ = rcert::x509::formats::looks_like_pkcs12(bytes);
    let _ = rcert::x509::pem::private_key_labels(bytes);
    let _ = rcert::x509::pem::without_private_keys(bytes);
    let _ = rcert::rancher::ca_checksum(bytes);
}

/// What Rancher's endpoints answered, judged as probe and doctor judge it.
fn exercise_answers(status: u16, body: &[u8]) {
    let chain = rcert::x509::cert::certs_in(LEAF.as_bytes());
    let answer = Ok((status, body.to_vec()));
    let _ = rcert::checks::served::ping_answer(&answer);
    let _ = rcert::checks::served::cacerts_answer(&answer, &chain, None);
}

/// A file as `expiry --path` reads it (PEM, DER, PKCS#7, kubeconfig by content): the
/// command ends with a report and exit 0, 1 or 2, never a panic.
fn exercise_file(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input.crt");
    std::fs::write(&file, bytes).unwrap();
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut terminal = rcert::output::Terminal::new(&mut stdout, &mut stderr, false, false);
    let path = file.display().to_string();
    let args = [
        "rcert",
        "-o",
        "json",
        "expiry",
        "--no-cluster",
        "--no-node",
        "--path",
        &path,
    ];
    let code = rcert::cli::run_with(args.iter().copied(), &mut terminal);
    assert!(code <= 2, "exit {code}");
}

const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUI=\nusers:\n- name: u\n  user:\n    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n    client-certificate: /var/lib/rancher/rke2/server/tls/client-admin.crt\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n";

fn mutate(base: &[u8], flips: &[(usize, u8)], cut: usize) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for (position, value) in flips {
        if !bytes.is_empty() {
            let index = position % bytes.len();
            bytes[index] = *value;
        }
    }
    bytes.truncate(cut.min(bytes.len()));
    bytes
}

proptest! {
    // 512 cases per property in the suite; scripts/fuzz sets RCERT_FUZZ_CASES higher.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("RCERT_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_pem_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8), cut in 0usize..4096) {
        exercise(&mutate(LEAF.as_bytes(), &flips, cut));
    }

    #[test]
    fn mutated_der_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6), cut in 0usize..1024) {
        exercise(&mutate(CERT_DER, &flips, cut));
        exercise(&mutate(KEY, &flips, cut));
    }

    #[test]
    fn mutated_archives_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6), cut in 0usize..8192) {
        let (pfx, p7b) = archives();
        exercise_archives(&mutate(pfx, &flips, cut));
        exercise_archives(&mutate(p7b, &flips, cut));
        exercise(&mutate(p7b, &flips, cut));
    }

    #[test]
    fn rancher_answers_never_panic(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..1024), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6)) {
        exercise_answers(status, &body);
        exercise_answers(200, &mutate(LEAF.as_bytes(), &flips, usize::MAX));
    }

    #[test]
    fn files_and_kubeconfigs_read_by_expiry_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6), cut in 0usize..2048) {
        exercise_file(&mutate(KUBECONFIG.as_bytes(), &flips, cut));
        exercise_file(&mutate(LEAF.as_bytes(), &flips, cut));
        exercise_file(&mutate(&archives().1, &flips, cut));
    }

    #[test]
    fn random_text_with_pem_markers_never_panics(body in "[-A-Za-z0-9+/= \n:]{0,400}") {
        let text = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n-----BEGIN {body}");
        exercise(text.as_bytes());
    }
}
