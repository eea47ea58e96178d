//! rcert's own judgement of every certificate on a path, the trust anchor included:
//! the RFC 5280 profile and the key, algorithm and serial rules that Go (Rancher
//! agents, kubectl, helm), browsers and OpenSSL apply and rustls-webpki does not.
//!
//! A rule broken where those clients refuse the certificate is a [`Level::Failure`]
//! (Go's error text quoted where one exists); a rule only the CA/Browser Forum
//! requirements state is a [`Level::Warning`].

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension, X509Extension};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

mod constraints;
mod crypto;
mod names;

use crate::check::Cause;
use crate::check::Clients;
use crate::x509::formats::modulus_bits;
use crate::x509::Cert;
pub use constraints::{
    go_leading_period_refusal, has_directory_name_constraints, openssl_excludes_dns,
    openssl_name_check_overflow, wildcard_within_permitted,
};

/// The place of a certificate on its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The server (end-entity) certificate.
    Leaf,
    /// A CA between the leaf and the anchor.
    Intermediate,
    /// The trust anchor, from the CA file.
    Anchor,
}

impl Role {
    fn is_ca(self) -> bool {
        self != Role::Leaf
    }

    fn name(self) -> &'static str {
        match self {
            Role::Leaf => "leaf",
            Role::Intermediate => "intermediate",
            Role::Anchor => "root",
        }
    }
}

/// The family a rule belongs to; each is its own check line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// RFC 5280 structure: extensions, constraints, names.
    Profile,
    /// Keys, signature algorithms and serial numbers.
    Crypto,
}

/// One broken rule on one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The clients that refuse the certificate for it (Go, OpenSSL, the strict reading).
    pub rejected_by: Clients,
    /// Which check line it belongs to.
    pub family: Family,
    /// The rule, as a stable code.
    pub cause: Cause,
    /// One line naming the certificate, the cause in the clients' words, and the fix.
    pub message: String,
}

const OID_SUBJECT_KEY_ID: &str = "2.5.29.14";
const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_SAN: &str = "2.5.29.17";
const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_NAME_CONSTRAINTS: &str = "2.5.29.30";
const OID_AUTHORITY_KEY_ID: &str = "2.5.29.35";
const OID_AIA: &str = "1.3.6.1.5.5.7.1.1";
const OID_EXT_KEY_USAGE: &str = "2.5.29.37";
const OID_POLICY_CONSTRAINTS: &str = "2.5.29.36";
const OID_ANY_EKU: &str = "2.5.29.37.0";

/// Judge one certificate in its role. The verdict depends on the certificate and its
/// role only, so it is computed once per process (a run over 1,000 chains judges their
/// shared intermediate and root once).
pub fn judge(cert: &Cert, role: Role) -> Vec<Finding> {
    type Cache = Mutex<HashMap<(String, Role), Vec<Finding>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = (cert.sha256_fingerprint.clone(), role);
    let cache = CACHE.get_or_init(Cache::default);
    if let Some(found) = cache.lock().ok().and_then(|map| map.get(&key).cloned()) {
        return found;
    }
    let findings = judge_uncached(cert, role);
    if let Ok(mut map) = cache.lock() {
        map.insert(key, findings.clone());
    }
    findings
}

fn judge_uncached(cert: &Cert, role: Role) -> Vec<Finding> {
    let Ok((_, x509)) = X509Certificate::from_der(cert.der()) else {
        return vec![Finding {
            rejected_by: Clients::ALL,
            family: Family::Profile,
            cause: Cause::Unparseable,
            message: format!("'{}' cannot be parsed as X.509", cert.subject),
        }];
    };
    let mut judged = Judged {
        cert,
        role,
        x509: &x509,
        findings: Vec::new(),
    };
    judged.extensions();
    judged.ca_rules();
    judged.leaf_rules();
    judged.eku_profile();
    judged.names();
    judged.key();
    judged.signature();
    judged.serial();
    judged.findings
}

struct Judged<'a, 'x> {
    cert: &'a Cert,
    role: Role,
    x509: &'a X509Certificate<'x>,
    findings: Vec<Finding>,
}

impl<'a, 'x> Judged<'a, 'x> {
    /// A rule broken, refused by `clients`.
    fn reject(&mut self, clients: Clients, family: Family, cause: Cause, message: String) {
        self.findings.push(Finding {
            rejected_by: clients,
            family,
            cause,
            message: format!("{} '{}': {message}", self.role.name(), self.cert.subject),
        });
    }

    /// A rule every client enforces.
    fn fail(&mut self, family: Family, cause: Cause, message: String) {
        self.reject(Clients::ALL, family, cause, message);
    }

    /// A rule only RFC 5280 / the CA/Browser Forum state: strict verifiers and linters.
    fn strict(&mut self, family: Family, cause: Cause, message: String) {
        self.reject(Clients::STRICT, family, cause, message);
    }

    fn extension(&self, oid: &str) -> Option<&'a X509Extension<'x>> {
        let x509: &'a X509Certificate<'x> = self.x509;
        x509.extensions()
            .iter()
            .find(|ext| ext.oid.to_id_string() == oid)
    }

    /// Extensions every certificate must get right, whatever its role.
    fn extensions(&mut self) {
        let mut seen = Vec::new();
        for ext in self.x509.extensions() {
            let oid = ext.oid.to_id_string();
            if seen.contains(&oid) {
                self.fail(
                    Family::Profile, Cause::DuplicateExtension,
                    format!("extension {oid} appears twice (RFC 5280 4.2: at most one instance of each extension)"),
                );
            }
            seen.push(oid.clone());
            match ext.parsed_extension() {
                ParsedExtension::UnsupportedExtension { .. } | ParsedExtension::Unparsed
                    if ext.critical =>
                {
                    self.fail(
                        Family::Profile, Cause::UnknownCriticalExtension,
                        format!("unknown critical extension {oid} (Go: \"x509: unhandled critical extension\"); clients must refuse it"),
                    );
                }
                // Go refuses a malformed authorityInfoAccess ("x509: invalid authority
                // info access"); OpenSSL does not read it while verifying.
                ParsedExtension::ParseError { .. } if oid == OID_AIA => self.reject(
                    Clients::GO_STRICT,
                    Family::Profile, Cause::MalformedExtension,
                    "authorityInfoAccess is malformed (Go: \"x509: invalid authority info access\")".to_string(),
                ),
                ParsedExtension::ParseError { .. } => self.fail(
                    Family::Profile, Cause::MalformedExtension,
                    format!("extension {oid} is malformed (its contents do not parse)"),
                ),
                _ => {}
            }
        }
        for (oid, name) in [
            (OID_AUTHORITY_KEY_ID, "authorityKeyIdentifier"),
            (OID_SUBJECT_KEY_ID, "subjectKeyIdentifier"),
            (OID_AIA, "authorityInfoAccess"),
        ] {
            if self.extension(oid).is_some_and(|ext| ext.critical) {
                self.reject(
                    Clients::OPENSSL_STRICT,
                    Family::Profile,
                    Cause::WrongCriticality,
                    format!("{name} is marked critical; RFC 5280 requires it non-critical"),
                );
            }
        }
        if let Some(ext) = self.extension(OID_AIA) {
            let empty = match ext.parsed_extension() {
                ParsedExtension::AuthorityInfoAccess(aia) => aia.accessdescs.is_empty(),
                _ => true,
            };
            if empty {
                self.reject(Clients::STRICT,
                    Family::Profile, Cause::MalformedExtension,
                    "authorityInfoAccess holds no valid access description (RFC 5280 4.2.2.1: one or more)".to_string(),
                );
            }
        }
        if let Some(ext) = self.extension(OID_NAME_CONSTRAINTS) {
            self.name_constraints(ext.critical, ext.parsed_extension().clone());
        }
        if let Some(ext) = self.extension(OID_AUTHORITY_KEY_ID) {
            if let ParsedExtension::AuthorityKeyIdentifier(aki) = ext.parsed_extension() {
                if aki.key_identifier.is_none() {
                    self.reject(
                        Clients::STRICT,
                        Family::Profile,
                        Cause::MissingAuthorityKeyId,
                        "authorityKeyIdentifier lacks keyIdentifier (RFC 5280 4.2.1.1)".to_string(),
                    );
                }
            }
        } else if !self.cert.self_signed {
            self.reject(Clients::STRICT,
                Family::Profile, Cause::MissingAuthorityKeyId,
                "no authorityKeyIdentifier (RFC 5280 4.2.1.1; openssl verify -x509_strict: \"Missing Authority Key Identifier\"): reissue it from the CA with authorityKeyIdentifier=keyid".to_string(),
            );
        }
    }

    fn name_constraints(&mut self, critical: bool, parsed: ParsedExtension<'_>) {
        if self.role == Role::Leaf && !self.cert.is_ca {
            self.reject(Clients::STRICT,
                Family::Profile, Cause::BadNameConstraints,
                "nameConstraints in a certificate that is not a CA (RFC 5280 4.2.1.10: CA certificates only)".to_string(),
            );
        }
        if !critical {
            self.reject(
                Clients::STRICT,
                Family::Profile,
                Cause::WrongCriticality,
                "nameConstraints is not marked critical (RFC 5280 4.2.1.10: it MUST be critical)"
                    .to_string(),
            );
        }
        let ParsedExtension::NameConstraints(constraints) = parsed else {
            return;
        };
        // Go handles DNS, IP, email and URI constraints only; any other form in a critical
        // nameConstraints makes the whole extension unhandled.
        let go_unhandled = critical
            && constraints
                .permitted_subtrees
                .iter()
                .flatten()
                .chain(constraints.excluded_subtrees.iter().flatten())
                .any(|subtree| {
                    !matches!(
                        subtree.base,
                        GeneralName::DNSName(_)
                            | GeneralName::IPAddress(_)
                            | GeneralName::RFC822Name(_)
                            | GeneralName::URI(_)
                    )
                });
        if go_unhandled {
            self.reject(
                Clients {
                    go: true,
                    openssl: false,
                    strict: false,
                },
                Family::Profile, Cause::UnknownCriticalExtension,
                "nameConstraints of a form Go does not handle (directoryName, otherName, …) in a critical extension (Go: \"x509: unhandled critical extension\")".to_string(),
            );
        }
        let permitted = constraints.permitted_subtrees.unwrap_or_default();
        let excluded = constraints.excluded_subtrees.unwrap_or_default();
        if permitted.is_empty() && excluded.is_empty() {
            self.reject(
                Clients::GO_STRICT,
                Family::Profile,
                Cause::BadNameConstraints,
                "nameConstraints with neither permitted nor excluded subtrees (RFC 5280 4.2.1.10)"
                    .to_string(),
            );
        }
        for subtree in permitted.iter().chain(&excluded) {
            if let GeneralName::DNSName(name) = &subtree.base {
                if name.starts_with('.') {
                    self.reject(Clients::STRICT,
                        Family::Profile, Cause::BadNameConstraints,
                        format!("nameConstraints DNS name '{name}' starts with a period (RFC 5280 4.2.1.10: that form is for URIs only)"),
                    );
                }
            }
        }
    }

    /// Rules for certificates that issue others: intermediates and the anchor.
    fn ca_rules(&mut self) {
        if !self.role.is_ca() {
            return;
        }
        let version_1 = self.x509.version().0 < 2;
        let signs_certificates = self
            .extension(OID_KEY_USAGE)
            .is_some_and(|ext| matches!(ext.parsed_extension(), ParsedExtension::KeyUsage(usage) if usage.key_cert_sign()));
        match self.extension(OID_BASIC_CONSTRAINTS) {
            // A version 1 certificate has no extensions at all: its own rule below.
            None if version_1 => {}
            // Go refuses a v3 issuer without basicConstraints ("parent certificate cannot
            // sign this kind of certificate"); OpenSSL's default mode accepts a trust anchor
            // without it, and an intermediate whose keyUsage has keyCertSign.
            None => {
                let openssl = self.role == Role::Intermediate && !signs_certificates;
                let clients = Clients {
                    openssl,
                    ..Clients::GO_STRICT
                };
                self.reject(
                    clients,
                    Family::Profile, Cause::NotACa,
                    "no basicConstraints: it cannot issue certificates (RFC 5280 4.2.1.9; Go: \"x509: invalid signature: parent certificate cannot sign this kind of certificate\"); reissue it with basicConstraints=critical,CA:TRUE".to_string(),
                );
            }
            Some(ext) => {
                if !self.x509.is_ca() {
                    self.fail(
                        Family::Profile, Cause::IssuedByNonCa,
                        "basicConstraints says CA:FALSE, so it may not issue certificates (Go: \"x509: certificate … is not authorized to sign other certificates\")".to_string(),
                    );
                } else if !ext.critical {
                    self.reject(Clients::STRICT,
                        Family::Profile, Cause::WrongCriticality,
                        "basicConstraints is not marked critical (RFC 5280 4.2.1.9; openssl verify -x509_strict: \"basic constraints of CA cert not marked critical\")".to_string(),
                    );
                }
            }
        }
        if let Some(ext) = self.extension(OID_KEY_USAGE) {
            if let ParsedExtension::KeyUsage(usage) = ext.parsed_extension() {
                if !usage.key_cert_sign() {
                    // Go checks a parent's keyUsage only when it has a bit set
                    // (`KeyUsage != 0`), on every parent: intermediates and roots alike.
                    let clients = Clients {
                        go: usage.flags != 0,
                        ..Clients::OPENSSL_STRICT
                    };
                    self.reject(
                        clients,
                        Family::Profile, Cause::NoKeyCertSign,
                        "keyUsage lacks keyCertSign, so its key may not sign certificates (Go: \"x509: invalid signature: parent certificate cannot sign this kind of certificate\"; OpenSSL: \"key usage does not include certificate signing\")".to_string(),
                    );
                }
            }
        }
        if self.extension(OID_SUBJECT_KEY_ID).is_none() {
            self.reject(Clients::STRICT,
                Family::Profile, Cause::MissingSubjectKeyId,
                "no subjectKeyIdentifier (RFC 5280 4.2.1.2: required in CA certificates; openssl verify -x509_strict: \"Missing Subject Key Identifier\")".to_string(),
            );
        }
        if self.x509.subject().as_raw().len() <= 2 {
            self.strict(
                Family::Profile,
                Cause::EmptyName,
                "empty subject: a CA must have a non-empty distinguished name (RFC 5280 4.1.2.6)"
                    .to_string(),
            );
        }
        // A self-signed v1 root is accepted by Go and OpenSSL as a trust anchor; as an
        // intermediate it cannot be told from a leaf and both refuse it.
        if version_1 {
            let anchor = self.role == Role::Anchor && self.cert.self_signed;
            let clients = if anchor {
                Clients::STRICT
            } else {
                Clients::ALL
            };
            self.reject(
                clients,
                Family::Profile, Cause::NotACa,
                "version 1 certificate used as a CA: it has no basicConstraints (RFC 5280 requires v3 for CAs)".to_string(),
            );
        }
        if self.role == Role::Anchor && self.cert.self_signed {
            self.anchor_key_identifiers();
        }
    }

    /// A self-signed anchor's authorityKeyIdentifier, when present, names its own key.
    fn anchor_key_identifiers(&mut self) {
        let Some(ext) = self.extension(OID_AUTHORITY_KEY_ID) else {
            return;
        };
        let ParsedExtension::AuthorityKeyIdentifier(aki) = ext.parsed_extension() else {
            return;
        };
        if aki.authority_cert_issuer.is_some() || aki.authority_cert_serial.is_some() {
            self.reject(Clients::OPENSSL_STRICT,
                Family::Profile, Cause::BadRootAuthorityKeyId,
                "authorityKeyIdentifier carries authorityCertIssuer/authorityCertSerialNumber; a root's may hold only its keyIdentifier".to_string(),
            );
        }
        let own = self
            .extension(OID_SUBJECT_KEY_ID)
            .and_then(|ext| match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
                _ => None,
            });
        let named = aki.key_identifier.as_ref().map(|id| id.0.to_vec());
        if let (Some(own), Some(named)) = (own, named) {
            if own != named {
                self.reject(Clients::OPENSSL_STRICT,
                    Family::Profile, Cause::BadRootAuthorityKeyId,
                    "authorityKeyIdentifier differs from its own subjectKeyIdentifier, though it is self-signed".to_string(),
                );
            }
        }
    }

    /// extendedKeyUsage as the CA/Browser Forum profile wants it: present in a server
    /// certificate, with no anyExtendedKeyUsage, not critical; absent from a root. Go and
    /// OpenSSL accept all of these.
    fn eku_profile(&mut self) {
        let eku = self.extension(OID_EXT_KEY_USAGE);
        match (self.role, eku) {
            (Role::Leaf, None) if !self.cert.self_signed => self.strict(
                Family::Profile,
                Cause::MissingExtendedKeyUsage,
                "no extendedKeyUsage (CA/Browser Forum: a server certificate carries serverAuth)"
                    .to_string(),
            ),
            (Role::Leaf, Some(ext)) => {
                if ext.critical {
                    self.strict(
                        Family::Profile,
                        Cause::WrongCriticality,
                        "extendedKeyUsage is marked critical (CA/Browser Forum: it MUST NOT be)"
                            .to_string(),
                    );
                }
                if let ParsedExtension::ExtendedKeyUsage(usage) = ext.parsed_extension() {
                    if usage.any
                        || usage
                            .other
                            .iter()
                            .any(|oid| oid.to_id_string() == OID_ANY_EKU)
                    {
                        self.strict(
                            Family::Profile, Cause::AnyExtendedKeyUsage,
                            "extendedKeyUsage holds anyExtendedKeyUsage (CA/Browser Forum: not in a server certificate)".to_string(),
                        );
                    }
                }
            }
            (Role::Anchor, Some(_)) if self.cert.self_signed => self.strict(
                Family::Profile,
                Cause::RootWithExtendedKeyUsage,
                "a root with extendedKeyUsage (CA/Browser Forum: roots MUST NOT carry it)"
                    .to_string(),
            ),
            _ => {}
        }
        self.ca_extended_key_usage(eku);
        if let Some(ext) = self.extension(OID_POLICY_CONSTRAINTS) {
            if !ext.critical {
                self.strict(
                    Family::Profile,
                    Cause::WrongCriticality,
                    "policyConstraints is not marked critical (RFC 5280 4.2.1.11: it MUST be)"
                        .to_string(),
                );
            }
        }
    }

    /// A CA whose extendedKeyUsage leaves out serverAuth may not stand above a server
    /// certificate: Go checks the usages along the whole chain, the root included, and
    /// OpenSSL's sslserver purpose checks every CA; webpki checks the intermediates.
    fn ca_extended_key_usage(&mut self, eku: Option<&X509Extension<'_>>) {
        if !self.role.is_ca() {
            return;
        }
        let Some(ParsedExtension::ExtendedKeyUsage(usage)) =
            eku.map(X509Extension::parsed_extension)
        else {
            return;
        };
        let any = usage.any
            || usage
                .other
                .iter()
                .any(|oid| oid.to_id_string() == OID_ANY_EKU);
        if usage.server_auth || any {
            return;
        }
        let clients = Clients {
            strict: self.role == Role::Intermediate,
            ..Clients::ALL
        };
        self.reject(
            clients,
            Family::Profile,
            Cause::NoServerAuth,
            "extendedKeyUsage of a CA without serverAuth: it may not stand above a server certificate (Go: \"x509: certificate specifies an incompatible key usage\"; OpenSSL: \"unsuitable certificate purpose\")".to_string(),
        );
    }

    fn leaf_rules(&mut self) {
        if self.role != Role::Leaf {
            return;
        }
        // OpenSSL's sslserver purpose wants a keyUsage, when present, with digitalSignature,
        // keyEncipherment or keyAgreement (KU_TLS: "unsuitable certificate purpose"); the
        // CA/B profile wants digitalSignature (RSA: or keyEncipherment).
        if let Some(ext) = self.extension(OID_KEY_USAGE) {
            if let ParsedExtension::KeyUsage(usage) = ext.parsed_extension() {
                let (signs, enciphers) = (usage.digital_signature(), usage.key_encipherment());
                let serves_tls = self.cert.self_signed || signs || enciphers;
                if serves_tls {
                    // digitalSignature or keyEncipherment: every client is content.
                } else if usage.key_agreement() {
                    self.strict(
                        Family::Profile,
                        Cause::KeyUsageNotForTls,
                        "keyUsage lacks digitalSignature (CA/Browser Forum: a server key signs the handshake); OpenSSL and Go clients accept keyAgreement alone, but an OpenSSL server (nginx, ingress-nginx) will not use the key for TLS 1.2 (\"no shared cipher\"): TLS 1.3 clients only".to_string(),
                    );
                } else {
                    self.reject(
                        Clients::OPENSSL_STRICT,
                        Family::Profile, Cause::KeyUsageNotForTls,
                        "keyUsage has neither digitalSignature, keyEncipherment nor keyAgreement, so it cannot serve TLS (OpenSSL: \"unsuitable certificate purpose\")".to_string(),
                    );
                }
            }
        }
        if !self.x509.is_ca() {
            if let Some(ext) = self.extension(OID_KEY_USAGE) {
                if let ParsedExtension::KeyUsage(usage) = ext.parsed_extension() {
                    if usage.key_cert_sign() {
                        self.reject(Clients::STRICT,
                            Family::Profile, Cause::KeyCertSignOnLeaf,
                            "keyUsage keyCertSign on a certificate that is not a CA (RFC 5280 4.2.1.9): reissue it without keyCertSign".to_string(),
                        );
                    }
                }
            }
        }
        if self.x509.issuer().as_raw().len() <= 2 {
            self.reject(
                Clients::STRICT,
                Family::Profile,
                Cause::EmptyName,
                "empty issuer name (RFC 5280 4.1.2.4: the issuer MUST be non-empty)".to_string(),
            );
        }
    }
}
