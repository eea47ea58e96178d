//! Rancher's facts: the CA file it serves at `/cacerts` ([`CaBundle`]) and the checksum
//! agents compare, the secret names and keys Rancher reads.

use rustls_pki_types::TrustAnchor;

use crate::x509::cert::{certs_from, plain_hex, sha256, Cert};
use crate::x509::pem::{self, Input, PemError};

/// Default namespace of Rancher's secrets.
pub const NAMESPACE: &str = "cattle-system";
/// Default name of the certificate secret Rancher's ingress reads.
pub const TLS_SECRET: &str = "tls-rancher-ingress";
/// Default name of the private CA secret.
pub const CA_SECRET: &str = "tls-ca";
/// The key of the private CA in `tls-ca`.
pub const CA_SECRET_KEY: &str = "cacerts.pem";
/// The Secret of extra CAs Rancher trusts for outgoing connections.
pub const ADDITIONAL_CA_SECRET: &str = "tls-ca-additional";
/// Its key.
pub const ADDITIONAL_CA_SECRET_KEY: &str = "ca-additional.pem";
/// Subject CN of the certificate ingress-nginx serves when it cannot load a secret.
pub const INGRESS_FAKE_CERTIFICATE: &str = "Kubernetes Ingress Controller Fake Certificate";

/// Whether `cert` is the certificate ingress-nginx serves when it has none for a host
/// (its common name is [`INGRESS_FAKE_CERTIFICATE`]).
pub fn is_ingress_fake_certificate(cert: &Cert) -> bool {
    cert.display_name() == INGRESS_FAKE_CERTIFICATE
}

/// What Rancher serves at `/cacerts` for a `cacerts.pem`: its `cacerts` setting is
/// `strings.TrimSpace` of the file (rancher `pkg/tls/tls.go`, `SetupListener`), served
/// and hashed with one `\n` after it (`pkg/systemtemplate/import.go`, `CAChecksum`).
pub fn served_cacerts(bytes: &[u8]) -> Vec<u8> {
    let mut served = trim_space(bytes).to_vec();
    served.push(b'\n');
    served
}

/// Go's `strings.TrimSpace`: Unicode white space at both ends (ASCII white space only
/// when the bytes are not UTF-8, where Go stops at the first invalid byte).
pub fn trim_space(bytes: &[u8]) -> &[u8] {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.trim().as_bytes(),
        Err(_) => bytes.trim_ascii(),
    }
}

/// The value agents compare with `CATTLE_CA_CHECKSUM`: sha256 of the CA file as
/// Rancher serves it at `/cacerts` ([`served_cacerts`]).
pub fn ca_checksum(bytes: &[u8]) -> String {
    plain_hex(&sha256(&served_cacerts(bytes)))
}

/// Whether two CA files are the same `cacerts` setting for Rancher (equal once trimmed).
pub fn same_cacerts(a: &[u8], b: &[u8]) -> bool {
    trim_space(a) == trim_space(b)
}

/// Rancher's `agent-tls-mode` setting value in which agents trust only the CA of the
/// `cacerts` setting (the default on fresh installs since v2.9.0; rancher
/// `pkg/settings/setting.go`).
pub const AGENT_TLS_STRICT: &str = "strict";

/// The command that switches agents to the operating system's trust store first.
pub fn system_store_command() -> String {
    system_store_argv()
        .iter()
        .map(|word| crate::check::shell_quote(word))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `helm upgrade` of the `rancher` release in `namespace` keeping its values, with
/// `values` set (`privateCA=true`, …); the chart as Rancher's docs install it.
pub fn helm_upgrade_argv(namespace: &str, values: &[&str]) -> Vec<String> {
    let mut argv: Vec<String> = [
        "helm",
        "upgrade",
        "rancher",
        "rancher-latest/rancher",
        "-n",
        namespace,
        "--reuse-values",
    ]
    .map(String::from)
    .to_vec();
    for value in values {
        argv.extend(["--set".to_string(), value.to_string()]);
    }
    argv
}

/// [`system_store_command`] as argv.
pub fn system_store_argv() -> Vec<String> {
    [
        "kubectl",
        "patch",
        "settings.management.cattle.io",
        "agent-tls-mode",
        "--type=merge",
        "-p",
        "{\"value\":\"system-store\"}",
    ]
    .map(String::from)
    .to_vec()
}

/// The `--ca` value that selects the operating system's trust store, as agents with
/// `agent-tls-mode=system-store` use it.
pub const SYSTEM_STORE: &str = "system";

/// The `--ca` value that selects Mozilla's roots (the default).
pub const MOZILLA_ROOTS: &str = "mozilla";

/// The roots a chain is judged against (`--ca`), parsed once where the value enters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// Mozilla's roots (webpki-roots), the default: what browsers and Go agents in a
    /// scratch image trust.
    Mozilla,
    /// The operating system's store (`--ca system`), as agents with
    /// `agent-tls-mode=system-store` use it.
    System,
    /// A CA file (`cacerts.pem`), or standard input.
    File(Input),
}

impl Roots {
    /// A command-line value: `system`, `mozilla`, else a CA file (`-`: standard input).
    pub fn parse(value: &str) -> Result<Roots, std::convert::Infallible> {
        Ok(match value {
            SYSTEM_STORE => Roots::System,
            MOZILLA_ROOTS => Roots::Mozilla,
            file => Roots::File(Input::parse(file)?),
        })
    }

    /// The bundle to judge against; None for Mozilla's roots (built in).
    pub fn load(&self) -> Result<Option<CaBundle>, PemError> {
        match self {
            Roots::Mozilla => Ok(None),
            Roots::System => CaBundle::system().map(Some),
            Roots::File(input) => CaBundle::load(input).map(Some),
        }
    }

    /// The CA file, when the roots are one.
    pub fn file(&self) -> Option<&Input> {
        match self {
            Roots::File(input) => Some(input),
            _ => None,
        }
    }
}

/// What a [`CaBundle`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleKind {
    /// A CA file (`cacerts.pem`, a Secret's or a webhook's CA): what Rancher would serve,
    /// with its checksum.
    File,
    /// A trust store (the system's, or Rancher's roots plus `tls-ca-additional`): not a
    /// file Rancher serves, no checksum.
    Store,
    /// A CA held by an object rather than a local file: a Secret's `cacerts.pem`, a
    /// webhook's caBundle, a kubeconfig's CA data (with its checksum; a fix names it
    /// `cacerts.pem`).
    Embedded,
}

/// A CA file (`cacerts.pem`): its certificates and the bytes Rancher would serve; or the
/// operating system's trust store.
#[derive(Debug, Clone)]
pub struct CaBundle {
    /// The path as given, or a description of the system store.
    pub source: String,
    /// Its certificates, in file order.
    pub certs: Vec<Cert>,
    /// The exact bytes read (empty for the system store).
    pub bytes: Vec<u8>,
    /// A CA file Rancher would serve, or a trust store.
    pub kind: BundleKind,
    /// `CATTLE_CA_CHECKSUM` of the bytes as Rancher serves them (None for the system store).
    pub checksum: Option<String>,
    /// The trust anchors its certificates make, computed once.
    pub anchors: Vec<TrustAnchor<'static>>,
    /// Certificates that cannot be trust anchors, each with the reason.
    pub unusable: Vec<String>,
    /// Labels of private key blocks the file held. They are cut out of `bytes` (never
    /// written, pushed or served) and fail the `ca_file` check.
    pub private_keys: Vec<String>,
}

impl CaBundle {
    /// A bundle from certificates already read; computes the checksum and the anchors.
    /// Private key blocks in `bytes` are cut out and remembered in `private_keys`.
    pub fn new(source: String, certs: Vec<Cert>, bytes: Vec<u8>, kind: BundleKind) -> CaBundle {
        let private_keys = pem::private_key_labels(&bytes);
        let bytes = if private_keys.is_empty() {
            bytes
        } else {
            pem::without_private_keys(&bytes)
        };
        let mut anchors = Vec::new();
        let mut unusable = Vec::new();
        for cert in &certs {
            match webpki::anchor_from_trusted_cert(cert.der()) {
                Ok(anchor) => anchors.push(anchor.to_owned()),
                Err(err) => unusable.push(format!(
                    "'{}' cannot be used as a trust anchor ({err:?})",
                    cert.subject
                )),
            }
        }
        CaBundle {
            checksum: (kind != BundleKind::Store).then(|| ca_checksum(&bytes)),
            source,
            certs,
            bytes,
            kind,
            anchors,
            unusable,
            private_keys,
        }
    }

    /// The CA file as one word of a shell line: its path, or `cacerts.pem` for a CA
    /// that no local file holds.
    pub fn file_word(&self) -> String {
        match self.kind {
            BundleKind::File => crate::check::shell_quote(&self.source),
            BundleKind::Store | BundleKind::Embedded => CA_SECRET_KEY.to_string(),
        }
    }

    /// Read a CA file that must hold at least one certificate.
    pub fn load(input: &Input) -> Result<CaBundle, PemError> {
        // A key (even an encrypted one) never stops the certificates from being read: the
        // ca_file check names it, and it is cut out of what could be written or pushed.
        let read = pem::load_certificates_beside_keys(input)?;
        let certs = certs_from(&read.loaded)?;
        // A DER CA file becomes PEM: that is what a Secret holds and Rancher serves.
        let bytes = read.loaded.certificates_as_pem();
        let mut bundle = CaBundle::new(input.name(), certs, bytes, BundleKind::File);
        bundle.private_keys = read.key_labels;
        Ok(bundle)
    }

    /// What Rancher trusts for outgoing connections (registries, git, OIDC) with
    /// `additionalTrustedCAs=true`: the roots it trusts already (`base`; default the
    /// Mozilla roots) plus the CAs of `tls-ca-additional`. Not a file Rancher serves.
    pub fn with_additional(base: Option<CaBundle>, additional: CaBundle) -> CaBundle {
        let (source, mut certs, mut anchors) = match base {
            Some(base) => (base.source, base.certs, base.anchors),
            None => (
                "the Mozilla roots".to_string(),
                Vec::new(),
                webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            ),
        };
        certs.extend(additional.certs);
        anchors.extend(additional.anchors);
        CaBundle {
            source: format!("{source} + {} (tls-ca-additional)", additional.source),
            certs,
            bytes: Vec::new(),
            kind: BundleKind::Store,
            checksum: None,
            anchors,
            unusable: additional.unusable,
            private_keys: additional.private_keys,
        }
    }

    /// The operating system's trust store (rustls-native-certs: `SSL_CERT_FILE`,
    /// `SSL_CERT_DIR`, else the platform's store). Certificates it cannot parse are
    /// counted in the source's description, never dropped silently.
    pub fn system() -> Result<CaBundle, PemError> {
        let found = rustls_native_certs::load_native_certs();
        let mut unreadable = found.errors.len();
        let mut certs = Vec::new();
        for der in found.certs {
            match Cert::from_der(der) {
                Ok(cert) => certs.push(cert),
                Err(_) => unreadable += 1,
            }
        }
        if certs.is_empty() {
            return Err(PemError::NoCertificate {
                path: "the system trust store".to_string(),
                found: format!(
                    "no readable CA certificate; {unreadable} unreadable (install ca-certificates, or set SSL_CERT_FILE)"
                ),
            });
        }
        let skipped = if unreadable > 0 {
            format!(", {unreadable} unreadable ignored")
        } else {
            String::new()
        };
        let source = format!("the system trust store ({} CAs{skipped})", certs.len());
        Ok(CaBundle::new(source, certs, Vec::new(), BundleKind::Store))
    }
}

#[cfg(test)]
mod tests {
    use super::ca_checksum;

    #[test]
    fn checksum_hashes_the_trimmed_file_plus_one_newline() {
        assert_eq!(ca_checksum(b"abc"), ca_checksum(b"abc\n"));
        assert_eq!(ca_checksum(b"abc\n"), ca_checksum(b"abc\n\n"));
        assert_eq!(ca_checksum(b"\r\n abc \t\r\n\n"), ca_checksum(b"abc\n"));
        assert_ne!(ca_checksum(b"abc\n"), ca_checksum(b"ab c\n"));
        // sha256("abc\n")
        assert_eq!(
            ca_checksum(b"abc"),
            "edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb"
        );
    }
}
