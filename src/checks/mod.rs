//! Chain verification (rustls-webpki) and the Rancher checks, for `rcert verify`.
//!
//! Every check runs and is reported, not only the first failure: a chain can
//! be trusted and still be in the wrong order, or expired and otherwise fine.
//! [`check_chain`] works on certificates already parsed, so `probe` can run the
//! same checks on a served chain.

use std::time::Duration;

use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use time::OffsetDateTime;
use webpki::{EndEntityCert, KeyUsage};

pub mod served;

use crate::chain;
use crate::check::Check;
use crate::rancher::ca_checksum;
use crate::x509::cert::{self as inspect, CaBundle, Cert, KeyInfo};

/// Everything the checks need besides the chain itself.
#[derive(Debug, Clone)]
pub struct Context {
    /// The trust anchors' source: a CA file, or the Mozilla roots when `None`.
    pub ca: Option<CaBundle>,
    /// Extra untrusted intermediates (`--untrusted`).
    pub untrusted: Vec<Cert>,
    /// The private key to match against the leaf (`--key`), with its path.
    pub key: Option<(String, KeyInfo)>,
    /// Names the certificate must be valid for (`--host`).
    pub hosts: Vec<String>,
    /// The time of the check (`--at`).
    pub at: OffsetDateTime,
    /// Warn when the leaf expires within this many days.
    pub warn_days: u32,
}

/// Why verification could not start.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A `--host` value that is neither a DNS name nor an IP address.
    #[error("--host '{0}' is not a DNS name or IP address")]
    BadHost(String),
    /// `--at` is neither RFC 3339 nor unix seconds.
    #[error("--at '{0}': expected RFC 3339 (2030-01-31T00:00:00Z) or unix seconds")]
    BadTime(String),
}

/// Parse `--at`: RFC 3339 or unix seconds.
pub fn parse_time(text: &str) -> Result<OffsetDateTime, VerifyError> {
    if let Ok(seconds) = text.trim().parse::<i64>() {
        return OffsetDateTime::from_unix_timestamp(seconds)
            .map_err(|_| VerifyError::BadTime(text.to_string()));
    }
    OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|_| VerifyError::BadTime(text.to_string()))
}

/// Check every `--host` is a name or address a certificate can be checked against.
pub fn validate_hosts(hosts: &[String]) -> Result<(), VerifyError> {
    for host in hosts {
        server_name(host).ok_or_else(|| VerifyError::BadHost(host.clone()))?;
    }
    Ok(())
}

fn server_name(host: &str) -> Option<ServerName<'static>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).ok()
}

/// Where a chain came from, for the wording of messages and fixes.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// A file such as tls.crt.
    File(&'a str),
    /// A server that sent the chain in a handshake.
    Server,
}

impl Origin<'_> {
    /// "tls.crt" or "the server at host:port".
    fn name(&self) -> String {
        match self {
            Origin::File(path) => path.to_string(),
            Origin::Server => "the served chain".to_string(),
        }
    }

    /// The command that puts a chain in order.
    fn reorder_hint(&self) -> String {
        match self {
            Origin::File(path) => format!("rcert fullchain {path} --out {path} --force"),
            Origin::Server => {
                "rebuild tls.crt with rcert fullchain and update the tls-rancher-ingress secret"
                    .to_string()
            }
        }
    }

    /// What to do about an intermediate the chain lacks.
    fn add_intermediate_hint(&self) -> String {
        match self {
            Origin::File(path) => format!("append it to {path} after the leaf (rcert fullchain)"),
            Origin::Server => "the server sends the leaf without it: add the intermediate to tls.crt after the leaf (rcert fullchain) and update the secret".to_string(),
        }
    }
}

/// Run every check on a chain as served or stored (first = leaf).
pub fn check_chain(certs: &[Cert], origin: Origin<'_>, context: &Context) -> Vec<Check> {
    let Some(leaf) = find_leaf(certs) else {
        return vec![Check::failed(
            "chain",
            format!("{} holds no certificate", origin.name()),
        )];
    };
    let examined = Examined::new(leaf, certs, origin, context);
    let mut checks = vec![examined.trust_check()];
    checks.push(examined.order_check());
    checks.push(validity_check(leaf, certs, context));
    checks.push(san_check(leaf));
    checks.extend(name_checks(leaf, &context.hosts));
    if let Some((path, key)) = &context.key {
        checks.push(key_check(leaf, certs, path, key));
    }
    if let Some(ca) = &context.ca {
        checks.push(ca_file_check(ca));
        checks.push(Check::ok("ca_checksum", checksum_message(ca)));
    }
    checks
}

/// The leaf: the first end-entity certificate, else the first certificate.
pub fn find_leaf(certs: &[Cert]) -> Option<&Cert> {
    certs.iter().find(|cert| !cert.is_ca).or(certs.first())
}

fn checksum_message(ca: &CaBundle) -> String {
    let note = if ca.bytes.last() == Some(&b'\n') {
        ""
    } else {
        " (the file lacks a final newline; Rancher adds one before hashing)"
    };
    format!(
        "CATTLE_CA_CHECKSUM={} (sha256 of {} as served at /cacerts){note}",
        ca_checksum(&ca.bytes),
        ca.source
    )
}

fn trust_anchors(context: &Context) -> Vec<TrustAnchor<'static>> {
    match &context.ca {
        Some(ca) => ca
            .certs
            .iter()
            .filter_map(|cert| {
                webpki::anchor_from_trusted_cert(cert.der())
                    .ok()
                    .map(|anchor| anchor.to_owned())
            })
            .collect(),
        None => webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

fn trust_source(context: &Context) -> String {
    context
        .ca
        .as_ref()
        .map_or_else(|| "the Mozilla roots".to_string(), |ca| ca.source.clone())
}

/// Verify with webpki; on success, the DER of the intermediates and the subject of
/// the anchor the path went through.
fn webpki_verify(
    leaf: &Cert,
    intermediates: &[CertificateDer<'static>],
    anchors: &[TrustAnchor<'static>],
    at: OffsetDateTime,
) -> Result<(Vec<Vec<u8>>, Vec<u8>), webpki::Error> {
    let end_entity = EndEntityCert::try_from(leaf.der())?;
    let seconds = u64::try_from(at.unix_timestamp()).unwrap_or(0);
    let path = end_entity.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        anchors,
        intermediates,
        UnixTime::since_unix_epoch(Duration::from_secs(seconds)),
        KeyUsage::server_auth(),
        None,
        None,
    )?;
    let used = path
        .intermediate_certificates()
        .map(|cert| cert.der().to_vec())
        .collect();
    Ok((used, path.anchor().subject.to_vec()))
}

/// One chain under examination: the leaf, the file's certificates, and the issuer path
/// (from webpki when it verified, else by following issuers through every certificate
/// known), computed once and shared by the checks.
struct Examined<'a> {
    leaf: &'a Cert,
    certs: &'a [Cert],
    origin: Origin<'a>,
    context: &'a Context,
    anchors: Vec<TrustAnchor<'static>>,
    intermediates: Vec<CertificateDer<'static>>,
    verified: Result<(), webpki::Error>,
    path: Vec<Cert>,
}

impl<'a> Examined<'a> {
    fn new(leaf: &'a Cert, certs: &'a [Cert], origin: Origin<'a>, context: &'a Context) -> Self {
        let anchors = trust_anchors(context);
        let intermediates: Vec<CertificateDer<'static>> = certs
            .iter()
            .chain(&context.untrusted)
            .filter(|cert| cert.der() != leaf.der())
            .map(|cert| cert.der().clone())
            .collect();
        let pool = pool_with_ca(certs, context);
        let (verified, path) = match webpki_verify(leaf, &intermediates, &anchors, context.at) {
            Ok((used, anchor_subject)) => (
                Ok(()),
                verified_path(leaf, &used, &anchor_subject, &pool, context),
            ),
            Err(err) => (Err(err), chain::chain_from(leaf, &pool)),
        };
        Examined {
            leaf,
            certs,
            origin,
            context,
            anchors,
            intermediates,
            verified,
            path,
        }
    }

    fn trust_check(&self) -> Check {
        let source = trust_source(self.context);
        match &self.verified {
            Ok(()) => Check::ok("chain", format!("trusted by {source}")),
            Err(webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }) => {
                self.trust_ignoring_dates(&source)
            }
            Err(err) => Check::failed("chain", self.explain_untrusted(err, &source)),
        }
    }

    /// The chain check when a date is wrong: is the chain otherwise trusted?
    fn trust_ignoring_dates(&self, source: &str) -> Check {
        let checked_at = self.validity_window().filter(|inside| {
            webpki_verify(self.leaf, &self.intermediates, &self.anchors, *inside).is_ok()
        });
        let anchor = self
            .path
            .iter()
            .skip(1)
            .find(|cert| is_anchor(cert, self.context));
        match (checked_at, anchor) {
            (Some(inside), _) => Check::ok(
                "chain",
                format!(
                    "trusted by {source} when checked at {} (inside every validity period; see the validity check)",
                    inspect::rfc3339(inside)
                ),
            ),
            (None, Some(anchor)) => Check::ok(
                "chain",
                format!(
                    "signatures chain up to '{}' in {source} (the validity periods do not overlap; see the validity check)",
                    anchor.subject
                ),
            ),
            (None, None) => Check::failed(
                "chain",
                format!("not trusted by {source}: a certificate is outside its validity period"),
            ),
        }
    }

    /// A time at which every certificate of the path is valid, if there is one.
    fn validity_window(&self) -> Option<OffsetDateTime> {
        let start = self.path.iter().map(Cert::not_before_time).max()?;
        let end = self.path.iter().map(Cert::not_after_time).min()?;
        (start <= end).then_some(start)
    }

    fn explain_untrusted(&self, err: &webpki::Error, source: &str) -> String {
        let (leaf, origin) = (self.leaf, self.origin.name());
        if leaf.self_signed && !is_anchor(leaf, self.context) {
            return format!(
                "not trusted by {source}: '{}' is self-signed; only clients that hold this very certificate trust it (issue it from a CA: rcert selfsign)",
                leaf.subject
            );
        }
        match err {
            webpki::Error::UnknownIssuer => {
                let Some(top) = self.path.last() else {
                    return format!("not trusted by {source}");
                };
                if top.self_signed {
                    format!(
                        "not trusted by {source}: the chain ends at root '{}', which {source} does not hold (wrong CA file?)",
                        top.subject
                    )
                } else if self.path.len() == 1 && is_some_ca_subject(&top.issuer, self.context) {
                    format!(
                        "not trusted by {source}: '{}' names issuer '{}' but its signature does not match that CA's key (wrong CA file, or a CA with the same name)",
                        top.subject, top.issuer
                    )
                } else {
                    format!(
                        "not trusted by {source}: missing intermediate — no certificate for '{}', the issuer of '{}'; {}",
                        top.issuer, top.subject, self.origin.add_intermediate_hint()
                    )
                }
            }
            webpki::Error::CaUsedAsEndEntity => format!(
                "'{}' is a CA certificate, not a server certificate: {origin} holds no leaf",
                leaf.subject
            ),
            webpki::Error::RequiredEkuNotFoundContext(_) => format!(
                "'{}' (or its issuer) lacks the serverAuth extended key usage",
                leaf.subject
            ),
            webpki::Error::InvalidSignatureForPublicKey => {
                "a signature in the chain does not verify with its issuer's key".to_string()
            }
            webpki::Error::UnsupportedSignatureAlgorithmContext(_)
            | webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
                "the chain uses a signature algorithm TLS clients refuse (e.g. SHA-1 or RSA < 2048 bits)"
                    .to_string()
            }
            webpki::Error::PathLenConstraintViolated => {
                "an intermediate sits deeper than its CA's pathlen constraint allows".to_string()
            }
            other => format!("not trusted by {source}: {other:?}"),
        }
    }

    fn order_check(&self) -> Check {
        let (leaf, certs, origin) = (self.leaf, self.certs, self.origin.name());
        let fix = self.origin.reorder_hint();
        let leaf_position = certs.iter().position(|cert| cert.der() == leaf.der());
        if leaf_position != Some(0) {
            return Check::failed(
                "order",
                format!(
                    "wrong order: the leaf '{}' is certificate {} of {} in {origin}; it must come first ({fix})",
                    leaf.subject,
                    leaf_position.map_or(0, |p| p + 1),
                    certs.len()
                ),
            );
        }
        let in_file = |cert: &Cert| certs.iter().any(|c| c.der() == cert.der());
        let on_path = |cert: &Cert| self.path.iter().any(|c| c.der() == cert.der());
        let file_order: Vec<&Cert> = certs.iter().filter(|cert| on_path(cert)).collect();
        let path_order: Vec<&Cert> = self.path.iter().filter(|cert| in_file(cert)).collect();
        if let Some(position) = file_order
            .iter()
            .zip(&path_order)
            .position(|(found, expected)| found.der() != expected.der())
        {
            return Check::failed(
                "order",
                format!(
                    "wrong order: '{}' stands where its issuer '{}' belongs; each certificate must be followed by its issuer ({fix})",
                    file_order[position].subject, path_order[position].subject
                ),
            );
        }
        if let Some(extra) = certs.iter().find(|cert| !on_path(cert)) {
            return Check::warning(
                "order",
                format!(
                    "'{}' in {origin} is not part of the chain of '{}'; remove it",
                    extra.subject, leaf.subject
                ),
            );
        }
        let from_elsewhere = self
            .path
            .iter()
            .skip(1)
            .find(|cert| !cert.self_signed && !in_file(cert) && !is_anchor(cert, self.context));
        if let Some(missing) = from_elsewhere {
            return Check::warning(
                "order",
                format!(
                    "{origin} lacks the intermediate '{}' (found in --untrusted); clients get only what {origin} holds (rcert fullchain)",
                    missing.subject
                ),
            );
        }
        let root_note = if certs.len() > 1 && certs.last().is_some_and(|cert| cert.self_signed) {
            "; the root is included, which is allowed"
        } else {
            ""
        };
        Check::ok(
            "order",
            format!(
                "leaf first, each certificate followed by its issuer: {} certificate(s){root_note}",
                certs.len()
            ),
        )
    }
}

/// The path webpki verified, as [`Cert`]s: leaf, intermediates, and the anchor's
/// certificate when the CA file holds it.
fn verified_path(
    leaf: &Cert,
    used: &[Vec<u8>],
    anchor_subject: &[u8],
    pool: &[Cert],
    context: &Context,
) -> Vec<Cert> {
    let mut path = vec![leaf.clone()];
    for der in used {
        if let Some(cert) = pool
            .iter()
            .find(|cert| cert.der().as_ref() == der.as_slice())
        {
            path.push(cert.clone());
        }
    }
    let anchor_cert = context.ca.as_ref().and_then(|ca| {
        ca.certs
            .iter()
            .find(|cert| chain::name_contents(&cert.raw_subject) == Some(anchor_subject))
    });
    if let Some(anchor) = anchor_cert {
        if !path.iter().any(|cert| cert.der() == anchor.der()) {
            path.push(anchor.clone());
        }
    }
    path
}

fn pool_with_ca(certs: &[Cert], context: &Context) -> Vec<Cert> {
    let mut pool: Vec<Cert> = certs.iter().chain(&context.untrusted).cloned().collect();
    if let Some(ca) = &context.ca {
        pool.extend(ca.certs.iter().cloned());
    }
    pool
}

fn is_some_ca_subject(name: &str, context: &Context) -> bool {
    context
        .ca
        .as_ref()
        .is_some_and(|ca| ca.certs.iter().any(|cert| cert.subject == name))
}

fn is_anchor(cert: &Cert, context: &Context) -> bool {
    context
        .ca
        .as_ref()
        .is_some_and(|ca| ca.certs.iter().any(|c| c.der() == cert.der()))
}

fn validity_check(leaf: &Cert, certs: &[Cert], context: &Context) -> Check {
    let at = context.at;
    for cert in certs {
        if at < cert.not_before_time() {
            return Check::failed(
                "validity",
                format!(
                    "'{}' is not valid yet: valid from {} (checked at {})",
                    cert.subject,
                    cert.not_before,
                    inspect::rfc3339(at)
                ),
            );
        }
        if at > cert.not_after_time() {
            return Check::failed(
                "validity",
                format!(
                    "'{}' expired on {} (checked at {})",
                    cert.subject,
                    cert.not_after,
                    inspect::rfc3339(at)
                ),
            );
        }
    }
    let Some(soonest) = certs.iter().min_by_key(|cert| cert.not_after_time()) else {
        return Check::failed("validity", "no certificate".to_string());
    };
    let days_left = (soonest.not_after_time() - at).whole_days();
    if days_left < i64::from(context.warn_days) {
        return Check::warning(
            "validity",
            format!(
                "'{}' expires in {days_left} day(s), on {} (--warn-days {})",
                soonest.subject, soonest.not_after, context.warn_days
            ),
        );
    }
    let leaf_days = (leaf.not_after_time() - leaf.not_before_time()).whole_days();
    if leaf_days > i64::from(crate::x509::issue::MAX_CLIENT_ACCEPTED_DAYS) {
        return Check::warning(
            "validity",
            format!(
                "valid for {leaf_days} days: browsers and Apple clients refuse server certificates valid longer than 825 days"
            ),
        );
    }
    Check::ok(
        "validity",
        format!("valid until {} ({days_left} days left)", soonest.not_after),
    )
}

fn san_check(leaf: &Cert) -> Check {
    if leaf.has_san() {
        let names: Vec<&str> = leaf
            .dns_names
            .iter()
            .chain(&leaf.ip_addresses)
            .map(String::as_str)
            .collect();
        Check::ok("san", format!("names {}", names.join(", ")))
    } else {
        Check::failed(
            "san",
            format!(
                "'{}' has no Subject Alternative Name; Go (Rancher agents, kubectl) and rustls ignore the CN: reissue it with SANs",
                leaf.subject
            ),
        )
    }
}

fn name_checks(leaf: &Cert, hosts: &[String]) -> Vec<Check> {
    let Ok(end_entity) = EndEntityCert::try_from(leaf.der()) else {
        return vec![Check::failed(
            "name",
            "the leaf cannot be parsed".to_string(),
        )];
    };
    hosts
        .iter()
        .map(|host| {
            let Some(name) = server_name(host) else {
                return Check::failed("name", format!("'{host}' is not a DNS name or IP address"));
            };
            match end_entity.verify_is_valid_for_subject_name(&name) {
                Ok(()) => Check::ok("name", format!("valid for {host}")),
                Err(_) if !leaf.has_san() => Check::failed(
                    "name",
                    format!("not valid for {host}: no SAN at all (the CN does not count)"),
                ),
                Err(_) => Check::failed(
                    "name",
                    format!(
                        "not valid for {host}: the SANs are {} (a wildcard covers exactly one label)",
                        leaf.dns_names
                            .iter()
                            .chain(&leaf.ip_addresses)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            }
        })
        .collect()
}

fn key_check(leaf: &Cert, certs: &[Cert], key_path: &str, key: &KeyInfo) -> Check {
    if leaf.matches_key(key) {
        return Check::ok(
            "key",
            format!(
                "{key_path} ({}) belongs to '{}'",
                key.public_key, leaf.subject
            ),
        );
    }
    match certs.iter().find(|cert| cert.matches_key(key)) {
        Some(other) => Check::failed(
            "key",
            format!(
                "{key_path} belongs to '{}', not to the leaf '{}'",
                other.subject, leaf.subject
            ),
        ),
        None => Check::failed(
            "key",
            format!(
                "{key_path} ({}) does not belong to the leaf '{}' ({}): wrong key file",
                key.public_key, leaf.subject, leaf.public_key
            ),
        ),
    }
}

fn ca_file_check(ca: &CaBundle) -> Check {
    if let Some(leaf) = ca.certs.iter().find(|cert| !cert.is_ca) {
        return Check::failed(
            "ca_file",
            format!(
                "{} holds the non-CA certificate '{}': it must hold only the CA certificate, or the agents' CATTLE_CA_CHECKSUM will not match",
                ca.source, leaf.subject
            ),
        );
    }
    if let Some(intermediate) = ca.certs.iter().find(|cert| !cert.self_signed) {
        return Check::warning(
            "ca_file",
            format!(
                "{} holds the intermediate CA '{}'; Rancher's privateCA needs only the root",
                ca.source, intermediate.subject
            ),
        );
    }
    let roots: Vec<String> = ca
        .certs
        .iter()
        .map(|cert| format!("'{}'", cert.subject))
        .collect();
    Check::ok(
        "ca_file",
        format!("{} holds only the root CA {}", ca.source, roots.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_adds_missing_newline() {
        assert_eq!(ca_checksum(b"abc"), ca_checksum(b"abc\n"));
        assert_ne!(ca_checksum(b"abc\n"), ca_checksum(b"abc\n\n"));
    }

    #[test]
    fn at_accepts_rfc3339_and_unix_seconds() {
        assert_eq!(parse_time("0").unwrap().unix_timestamp(), 0);
        assert_eq!(
            parse_time("2030-01-01T00:00:00Z").unwrap().unix_timestamp(),
            1_893_456_000
        );
        assert!(parse_time("tomorrow").is_err());
    }
}
