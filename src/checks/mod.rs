//! Chain verification (rustls-webpki) and the Rancher checks, for `rcert verify`.
//!
//! Every check runs and is reported, not only the first failure: a chain can
//! be trusted and still be in the wrong order, or expired and otherwise fine.
//! [`check_chain`] works on certificates already parsed, so `probe` can run the
//! same checks on a served chain.

mod ca_file;
mod names;
pub mod rules;
pub mod served;
mod trust;

use rustls_pki_types::ServerName;
use time::OffsetDateTime;

use crate::check::Cause;
use crate::check::{Check, CheckId, ClientVerdict, Clients, Fix, Status, Subject, Verdicts};
use crate::rancher::CaBundle;
use crate::x509::cert::{self as inspect, Cert, KeyInfo};
use ca_file::ca_file_check;
use names::name_checks;
use trust::Examined;

/// Everything the checks need besides the chain itself.
#[derive(Debug, Clone)]
pub struct Context {
    /// The trust anchors' source: a CA file, or the Mozilla roots when `None`.
    pub ca: Option<CaBundle>,
    /// Extra untrusted intermediates (`--untrusted`).
    pub untrusted: Vec<Cert>,
    /// The file each of `untrusted` was read from, in the same order (named in fixes).
    pub untrusted_files: Vec<String>,
    /// The private key to match against the leaf (`--key`), with its path.
    pub key: Option<(String, KeyInfo)>,
    /// Names the certificate must be valid for (`--host`).
    pub hosts: Vec<String>,
    /// The time of the check (`--at`).
    pub at: OffsetDateTime,
    /// Warn when the leaf expires within this many days.
    pub warn_days: u32,
    /// The clients whose rejection fails a check (`--clients`; default go and openssl).
    pub clients: Clients,
    /// The most intermediate CAs a reader allows (`--max-depth`, as OpenSSL's
    /// `-verify_depth` and nginx's `proxy_ssl_verify_depth`); `None`: no limit.
    pub max_depth: Option<u32>,
}

/// Why verification could not start.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A `--host` value that is neither a DNS name nor an IP address.
    #[error("--host '{0}' is not a DNS name or IP address{hint}", hint = crate::x509::names::ascii_hint(.0))]
    BadHost(String),
    /// `--at` is neither RFC 3339 nor unix seconds.
    #[error("expected RFC 3339 (2030-01-31T00:00:00Z) or unix seconds, not '{0}'")]
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

/// Whether two host names are the same name: DNS names compare case-insensitively and a
/// trailing dot (the root) is ignored.
pub fn same_host(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
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
    /// Standard input: there is no file to write a fixed chain back to.
    Stdin,
    /// A Secret's `tls.crt` (named as given, e.g. `tls.crt of secret NS/NAME`): fixed
    /// locally and pushed again.
    Secret(&'a str),
    /// A server that sent the chain in a handshake.
    Server,
}

impl Origin<'_> {
    /// The file as one word of a shell line (quoted when it must be); `tls.crt` for
    /// standard input or a server, which have no file to name.
    fn shell_word(&self) -> String {
        match self {
            Origin::File(path) => crate::check::shell_quote(path),
            Origin::Stdin | Origin::Secret(_) | Origin::Server => "tls.crt".to_string(),
        }
    }

    /// "tls.crt" or "the server at host:port".
    fn name(&self) -> String {
        match self {
            Origin::File(path) | Origin::Secret(path) => path.to_string(),
            Origin::Stdin => crate::x509::pem::STDIN_NAME.to_string(),
            Origin::Server => "the served chain".to_string(),
        }
    }

    /// The command that puts a chain in order.
    fn reorder_hint(&self) -> String {
        match self {
            Origin::File(path) => format!("rcert fullchain {path} --out {path} --force"),
            Origin::Stdin => "rcert fullchain - < chain.pem > tls.crt".to_string(),
            Origin::Secret(_) => {
                "rebuild tls.crt in order (rcert fullchain tls.crt --out tls.crt --force) and push it (rcert push)"
                    .to_string()
            }
            Origin::Server => {
                "rebuild tls.crt with rcert fullchain and update the tls-rancher-ingress secret"
                    .to_string()
            }
        }
    }

    /// [`Origin::reorder_hint`] as a fix: the command for a file, the words for a server.
    fn reorder_fix(&self, cause: Cause) -> Fix {
        match self {
            // Standard input: no file to write the chain back to.
            Origin::Stdin => Fix::words(cause, "order the chain leaf first, each certificate followed by its issuer: rcert fullchain - < chain.pem > tls.crt"),
            Origin::File(path) => Fix::command(
                cause,
                ["rcert", "fullchain", path, "--out", path, "--force"],
            ),
            Origin::Secret(_) | Origin::Server => Fix::words(cause, self.reorder_hint()),
        }
    }

    /// Append the intermediates `holder` has after the leaf (fullchain builds leaf →
    /// intermediates and leaves the root out): the command for a file, words otherwise.
    fn append_fix(&self, cause: Cause, holder: &str) -> Fix {
        match self {
            Origin::File(path) => {
                Fix::command(cause, ["rcert", "fullchain", path, holder, "--out", path, "--force"])
            }
            Origin::Stdin | Origin::Secret(_) | Origin::Server => Fix::words(
                cause,
                format!("rebuild tls.crt with the intermediate after the leaf: rcert fullchain tls.crt {} --out tls.crt --force", crate::check::shell_quote(holder)),
            ),
        }
    }

    /// What to do about an intermediate the chain lacks.
    fn add_intermediate_hint(&self) -> String {
        match self {
            Origin::File(path) => format!("append it to {path} after the leaf (rcert fullchain)"),
            Origin::Stdin => "append it after the leaf (rcert fullchain)".to_string(),
            Origin::Secret(_) => "add it to tls.crt after the leaf (rcert fullchain) and push it (rcert push)".to_string(),
            Origin::Server => "the server sends the leaf without it: add the intermediate to tls.crt after the leaf (rcert fullchain) and update the secret".to_string(),
        }
    }
}

/// Run every check on a chain as served or stored (first = leaf).
///
/// Checks that stand for a client's verdict (the chain, the profile and crypto rules,
/// validity, SAN, names) carry the clients that refuse the chain for them; the `clients`
/// line says who accepts and who rejects, and a check fails only when a client of
/// `context.clients` rejects — a rejection by the others alone is a warning that names
/// them. Rancher's own checks (order, key, `cacerts.pem`, the checksum) fail as they are.
pub fn check_chain(certs: &[Cert], origin: Origin<'_>, context: &Context) -> Vec<Check> {
    let Some(leaf) = find_leaf(certs) else {
        return vec![Check::failed(
            CheckId::Chain,
            Cause::NoCertificate,
            format!("{} holds no certificate", origin.name()),
        )];
    };
    let examined = Examined::new(leaf, certs, origin, context);
    let mut judged = vec![examined.trust_check()];
    judged.push((examined.order_check(), None));
    let validity = validity_check(leaf, &examined.judged_certs(), context);
    let validity_clients = (validity.status == Status::Failed).then(|| {
        let refusers = validity_refusers(&examined.judged_certs(), context.at);
        Clients {
            go: refusers.go && !examined.go_finds_a_valid_path(),
            ..refusers
        }
    });
    let validity_status = validity.status;
    judged.push((validity, validity_clients));
    // OpenSSL counts the second of notAfter itself as expired; Go and RFC 5280 do not.
    if validity_status != Status::Failed {
        if let Some(last_second) = examined
            .judged_certs()
            .into_iter()
            .find(|cert| cert.not_after_time() == context.at)
        {
            judged.push((
                Check::failed(
                    CheckId::Validity, Cause::ExpiresThisSecond,
                    format!(
                        "'{}' expires at the very second of the check ({}); OpenSSL already counts it as expired",
                        last_second.subject, last_second.not_after
                    ),
                ),
                Some(Clients {
                    go: false,
                    openssl: true,
                    strict: false,
                }),
            ));
        }
    }
    judged.extend(examined.rule_checks());
    judged.push(san_check(leaf));
    judged.extend(name_checks(leaf, &context.hosts));
    if let Some((path, key)) = &context.key {
        judged.push((key_check(leaf, certs, path, key), None));
    }
    if let Some(ca) = context
        .ca
        .as_ref()
        .filter(|ca| ca.kind != crate::rancher::BundleKind::Store)
    {
        judged.push((ca_file_check(ca, context.at, origin), None));
        judged.push((
            if ca.private_keys.is_empty() {
                Check::ok(CheckId::CaChecksum, checksum_message(ca))
            } else {
                Check::skipped(
                    CheckId::CaChecksum,
                    Cause::PrivateKeyPublished,
                    format!(
                        "not computed: {} holds a private key and must not be served",
                        ca.source
                    ),
                )
                .about(Subject::File {
                    path: ca.source.clone(),
                })
            },
            None,
        ));
    }
    let verdicts = verdicts_of(&judged);
    let mut checks = vec![clients_check(&verdicts, context.clients)];
    checks.extend(
        judged
            .into_iter()
            .map(|(check, rejected_by)| as_selected(check, rejected_by, context.clients)),
    );
    // The SAN and name findings are about the leaf; a finding about no certificate in
    // particular is about the file judged.
    let leaf_subject = certificate_subject(leaf);
    let file = match origin {
        Origin::File(path) => Some(Subject::File {
            path: path.to_string(),
        }),
        Origin::Stdin | Origin::Secret(_) | Origin::Server => None,
    };
    checks
        .into_iter()
        .map(|check| match (check.status, check.name, &file) {
            (Status::Ok, _, _) => check,
            (_, CheckId::San | CheckId::Name, _) => check.about_by_default(&leaf_subject),
            (_, _, Some(file)) => check.about_by_default(file),
            (_, _, None) => check,
        })
        .collect()
}

/// A certificate as the subject of a finding.
pub fn certificate_subject(cert: &Cert) -> Subject {
    Subject::Certificate {
        name: cert.subject.clone(),
        sha256: cert.sha256_fingerprint.clone(),
    }
}

/// Each client's verdict: it rejects when a check it stands behind failed; the first
/// such check is its reason.
fn verdicts_of(judged: &[(Check, Option<Clients>)]) -> Verdicts {
    let verdict = |pick: fn(Clients) -> bool| {
        let reason = judged.iter().find_map(|(check, clients)| {
            let rejects = check.status == Status::Failed && clients.is_some_and(pick);
            rejects.then(|| check.message.clone())
        });
        ClientVerdict {
            accept: reason.is_none(),
            reason,
        }
    };
    let openssl = verdict(|c| c.openssl);
    // curl accepts a partial chain and has no verify depth: when those are all OpenSSL
    // refuses for, curl accepts.
    let curl_accepts = !openssl.accept
        && judged
            .iter()
            .filter(|(check, clients)| {
                check.status == Status::Failed && clients.is_some_and(|c| c.openssl)
            })
            .all(|(check, _)| {
                matches!(
                    check.cause,
                    Some(Cause::RootMissing | Cause::ChainTooLong | Cause::TrailingDotName)
                )
            });
    Verdicts {
        go: verdict(|c| c.go),
        openssl,
        strict: verdict(|c| c.strict),
        curl: curl_accepts.then_some(ClientVerdict {
            accept: true,
            reason: None,
        }),
    }
}

/// The `clients` line: who accepts and who rejects; failed when a selected client rejects.
fn clients_check(verdicts: &Verdicts, selected: Clients) -> Check {
    let rejecting = verdicts.rejecting();
    let mut check = if rejecting.meets(selected) {
        Check::failed(CheckId::Clients, Cause::Rejected, verdicts.summary())
    } else if rejecting.is_empty() {
        Check::ok(CheckId::Clients, verdicts.summary())
    } else {
        Check::warning(
            CheckId::Clients,
            Cause::RejectedByOthers,
            format!(
                "{} (--clients {} decides what fails)",
                verdicts.summary(),
                selected.names().join(",")
            ),
        )
    };
    check.clients = Some(verdicts.clone());
    check
}

/// A failed check that only clients outside the selection reject is a warning naming them.
fn as_selected(check: Check, rejected_by: Option<Clients>, selected: Clients) -> Check {
    match rejected_by {
        Some(clients) if check.status == Status::Failed && !clients.meets(selected) => {
            let message = format!("{} — rejected only by {}", check.message, clients.who());
            check.restated(Status::Warning, message)
        }
        _ => check,
    }
}

/// The leaf: the first end-entity certificate, else the first certificate.
pub fn find_leaf(certs: &[Cert]) -> Option<&Cert> {
    certs.iter().find(|cert| !cert.is_ca).or(certs.first())
}

fn checksum_message(ca: &CaBundle) -> String {
    let served = crate::rancher::served_cacerts(&ca.bytes);
    let note = if served == ca.bytes {
        ""
    } else {
        " (Rancher trims white space around the file and adds one final newline before serving and hashing it)"
    };
    format!(
        "CATTLE_CA_CHECKSUM={} (sha256 of {} as served at /cacerts){note}",
        ca.checksum.as_deref().unwrap_or_default(),
        ca.source
    )
}

/// Who refuses a chain outside its validity: every client, except when the only breach is
/// a fraction of a second past a notAfter — webpki compares whole seconds and still
/// accepts it; Go and OpenSSL do not.
fn validity_refusers(certs: &[&Cert], at: time::OffsetDateTime) -> Clients {
    let within_the_second = certs.iter().all(|cert| {
        at >= cert.not_before_time()
            && (at <= cert.not_after_time() || at - cert.not_after_time() < time::Duration::SECOND)
    });
    if within_the_second {
        Clients {
            go: true,
            openssl: true,
            strict: false,
        }
    } else {
        Clients::ALL
    }
}

/// A certificate's validity window at `at`, as a finding's evidence.
fn dates(cert: &Cert, at: time::OffsetDateTime) -> crate::check::Evidence {
    crate::check::Evidence::Dates {
        not_before: cert.not_before.clone(),
        not_after: cert.not_after.clone(),
        at: inspect::rfc3339(at),
        days_left: (cert.not_after_time() - at).whole_days(),
    }
}

fn validity_check(leaf: &Cert, certs: &[&Cert], context: &Context) -> Check {
    let at = context.at;
    for cert in certs {
        if at < cert.not_before_time() {
            return Check::failed(
                CheckId::Validity,
                Cause::NotYetValid,
                format!(
                    "'{}' is not valid yet: valid from {} (checked at {})",
                    cert.subject,
                    cert.not_before,
                    inspect::rfc3339(at)
                ),
            )
            .about(certificate_subject(cert))
            .with_evidence(dates(cert, at));
        }
        if at > cert.not_after_time() {
            return Check::failed(
                CheckId::Validity,
                Cause::Expired,
                format!(
                    "'{}' expired on {} (checked at {})",
                    cert.subject,
                    cert.not_after,
                    inspect::rfc3339(at)
                ),
            )
            .about(certificate_subject(cert))
            .with_evidence(dates(cert, at));
        }
    }
    let Some(soonest) = certs.iter().min_by_key(|cert| cert.not_after_time()) else {
        return Check::failed(
            CheckId::Validity,
            Cause::NoCertificate,
            "no certificate".to_string(),
        );
    };
    let days_left = (soonest.not_after_time() - at).whole_days();
    if days_left < i64::from(context.warn_days) {
        return Check::warning(
            CheckId::Validity,
            Cause::ExpiresSoon,
            format!(
                "'{}' expires in {days_left} day(s), on {} (--warn-days {})",
                soonest.subject, soonest.not_after, context.warn_days
            ),
        )
        .about(certificate_subject(soonest))
        .with_evidence(dates(soonest, at));
    }
    let leaf_days = (leaf.not_after_time() - leaf.not_before_time()).whole_days();
    if leaf_days > i64::from(crate::x509::issue::MAX_CLIENT_ACCEPTED_DAYS) {
        return Check::warning(
            CheckId::Validity, Cause::LifetimeTooLong,
            format!(
                "valid for {leaf_days} days: browsers and Apple clients refuse server certificates valid longer than 825 days"
            ),
        );
    }
    Check::ok(
        CheckId::Validity,
        format!("valid until {} ({days_left} days left)", soonest.not_after),
    )
}

fn san_check(leaf: &Cert) -> (Check, Option<Clients>) {
    if leaf.has_san() {
        let names: Vec<&str> = leaf
            .dns_names
            .iter()
            .chain(&leaf.ip_addresses)
            .map(String::as_str)
            .collect();
        (
            Check::ok(CheckId::San, format!("names {}", names.join(", "))),
            None,
        )
    } else {
        // OpenSSL's host name check still falls back to the CN when there is no SAN.
        (
            Check::failed(
                CheckId::San, Cause::NoSan,
                format!(
                    "'{}' has no Subject Alternative Name; Go (Rancher agents, kubectl: \"x509: certificate relies on legacy Common Name field, use SANs instead\") and rustls ignore the CN: reissue it with SANs",
                    leaf.subject
                ),
            ),
            Some(Clients::GO_STRICT),
        )
    }
}

fn key_check(leaf: &Cert, certs: &[Cert], key_path: &str, key: &KeyInfo) -> Check {
    if leaf.matches_key(key) {
        return Check::ok(
            CheckId::Key,
            format!(
                "{key_path} ({}) belongs to '{}'",
                key.public_key, leaf.subject
            ),
        );
    }
    match certs.iter().find(|cert| cert.matches_key(key)) {
        Some(other) => Check::failed(
            CheckId::Key,
            Cause::KeyMismatch,
            format!(
                "{key_path} belongs to '{}', not to the leaf '{}'",
                other.subject, leaf.subject
            ),
        ),
        None => Check::failed(
            CheckId::Key,
            Cause::KeyMismatch,
            format!(
                "{key_path} ({}) does not belong to the leaf '{}' ({}): wrong key file",
                key.public_key, leaf.subject, leaf.public_key
            ),
        ),
    }
    .about(Subject::File {
        path: key_path.to_string(),
    })
}

/// A private key found in a file that clients or Rancher read as public (`cacerts.pem`,
/// `tls-ca`, `tls.crt`), with the command that keeps only the certificates.
/// `published` says who would see it.
pub fn private_key_message(source: &str, labels: &[String], published: &str) -> String {
    format!(
        "{source} holds a private key ({}) next to the certificate(s): {published}, so it is never written or pushed; keep the key in its own file (tls.key), and only the certificates here: rcert fullchain {source_word} --out {source_word}.certs, then move that over {source_word}",
        labels.join(", "),
        source_word = crate::check::shell_quote(source)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
