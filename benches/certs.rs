//! Criterion benches: certificate generation per key type, verification of a chain,
//! and reading PEM. Run with `cargo bench --bench certs`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rcert::checks::{check_chain, Context, Origin};
use rcert::rancher::CaBundle;
use rcert::x509::cert::{certs_from, Cert};
use rcert::x509::issue::{Ca, KeyType, ServerSpec};

const FULLCHAIN: &[u8] = include_bytes!("../testdata/corpus/fullchain.pem");
const ROOT: &[u8] = include_bytes!("../testdata/corpus/root.pem");

fn spec(key_type: KeyType) -> ServerSpec {
    ServerSpec {
        hosts: vec!["rancher.example.com".into(), "*.apps.example.com".into()],
        ips: vec!["10.0.0.1".parse().expect("literal IP")],
        common_name: None,
        organization: None,
        days: 825,
        key_type,
        issued_at: time::OffsetDateTime::now_utc(),
    }
}

fn generation(c: &mut Criterion) {
    let mut group = c.benchmark_group("selfsign");
    for key_type in [
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Ed25519,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
    ] {
        if matches!(key_type, KeyType::Rsa3072 | KeyType::Rsa4096) {
            group.sample_size(10);
        }
        let name = format!("{key_type:?}");
        group.bench_with_input(BenchmarkId::new("ca+server", &name), &key_type, |b, &kt| {
            b.iter(|| {
                let server = spec(kt);
                let ca = Ca::generate(&server, 3650).expect("CA generates");
                ca.sign_server(&server).expect("server cert signs")
            })
        });
    }
    group.finish();
}

fn parse(source: &str, bytes: &[u8]) -> Vec<Cert> {
    let items = rcert::x509::pem::parse_bytes(source, bytes).expect("fixture parses");
    let loaded = rcert::x509::pem::Loaded {
        source: source.to_string(),
        bytes: bytes.to_vec(),
        items,
    };
    certs_from(&loaded).expect("fixture certificates parse")
}

fn verification(c: &mut Criterion) {
    let chain = parse("fullchain.pem", FULLCHAIN);
    let root = parse("root.pem", ROOT);
    let at = chain[0].not_before_time() + time::Duration::days(1);
    let context = Context {
        ca: Some(CaBundle::new(
            "root.pem".into(),
            root,
            ROOT.to_vec(),
            rcert::rancher::BundleKind::File,
        )),
        untrusted: Vec::new(),
        untrusted_files: Vec::new(),
        key: None,
        hosts: vec!["rancher.example.com".into()],
        at,
        warn_days: 30,
        clients: rcert::check::Clients::DEFAULT_SELECTION,
        max_depth: None,
    };
    c.bench_function(
        "verify/full chain, all checks (three client verdicts)",
        |b| b.iter(|| check_chain(&chain, Origin::File("fullchain.pem"), &context)),
    );
    c.bench_function("read/parse fullchain.pem", |b| {
        b.iter(|| parse("fullchain.pem", FULLCHAIN))
    });
}

criterion_group!(benches, generation, verification);
criterion_main!(benches);
