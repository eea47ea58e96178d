//! Property tests: random and mutated bytes fed to every parser never panic.

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
    #![proptest_config(ProptestConfig::with_cases(512))]

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
    fn random_text_with_pem_markers_never_panics(body in "[-A-Za-z0-9+/= \n:]{0,400}") {
        let text = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n-----BEGIN {body}");
        exercise(text.as_bytes());
    }
}
