//! The name checks: does the leaf name the host, as each client matches names.

use webpki::EndEntityCert;

use super::server_name;
use crate::check::Cause;
use crate::check::{Check, CheckId, Clients, Evidence};
use crate::x509::Cert;

pub(super) fn name_checks(leaf: &Cert, hosts: &[String]) -> Vec<(Check, Option<Clients>)> {
    let end_entity = EndEntityCert::try_from(leaf.der()).ok();
    let sans: Vec<String> = leaf
        .dns_names
        .iter()
        .chain(&leaf.ip_addresses)
        .cloned()
        .collect();
    hosts
        .iter()
        .map(|host| {
            let (check, rejected_by) = name_check(leaf, end_entity.as_ref(), host);
            // Which host this line is about, as data (two --host give two name lines).
            let evidence = Evidence::Name {
                host: host.clone(),
                sans: sans.clone(),
            };
            (check.with_evidence(evidence), rejected_by)
        })
        .collect()
}

/// One host against the leaf, as each client matches names.
fn name_check(
    leaf: &Cert,
    end_entity: Option<&EndEntityCert<'_>>,
    host: &str,
) -> (Check, Option<Clients>) {
    let Some(name) = server_name(host) else {
        return (
            Check::failed(
                CheckId::Name,
                Cause::BadHostName,
                format!("'{host}' is not a DNS name or IP address"),
            ),
            Some(Clients::ALL),
        );
    };
    // Each client matches names its own way: webpki (strict) exactly as RFC 6125
    // says, Go with a whole-label wildcard anywhere left-most, OpenSSL also with a
    // partial one and, without a DNS SAN, through the CN.
    let rejected_by = Clients {
        go: !go_matches(leaf, host),
        openssl: !openssl_matches(leaf, host),
        strict: end_entity.is_none_or(|cert| cert.verify_is_valid_for_subject_name(&name).is_err()),
    };
    if rejected_by.is_empty() {
        return (Check::ok(CheckId::Name, format!("valid for {host}")), None);
    }
    let message = if !leaf.has_san() {
        format!("not valid for {host}: no SAN at all (the CN does not count for Go and browsers)")
    } else if rejected_by == Clients::ALL {
        format!(
            "not valid for {host}: the SANs are {}{}",
            san_list(leaf),
            if leaf.dns_names.iter().any(|name| name.starts_with("*.")) {
                " (a wildcard covers exactly one label)"
            } else {
                ""
            }
        )
    } else {
        format!(
            "{host} matches the SANs ({}) only as {} read them",
            san_list(leaf),
            Clients {
                go: !rejected_by.go,
                openssl: !rejected_by.openssl,
                strict: !rejected_by.strict,
            }
            .names()
            .join(" and ")
        )
    };
    if host.ends_with('.') && rejected_by == Clients::OPENSSL_ONLY {
        let message = format!(
                    "'{host}' ends with a dot: nginx (proxy_ssl_name) and openssl compare the name as given and refuse it (\"hostname mismatch\"); curl and Go strip the dot — name the host without it"
                );
        return (
            Check::failed(CheckId::Name, Cause::TrailingDotName, message),
            Some(rejected_by),
        );
    }
    (
        Check::failed(CheckId::Name, Cause::NameMismatch, message),
        Some(rejected_by),
    )
}

fn san_list(leaf: &Cert) -> String {
    leaf.dns_names
        .iter()
        .chain(&leaf.ip_addresses)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

/// An IP literal (brackets allowed) as Go and OpenSSL compare it with IP SANs.
fn host_ip(host: &str) -> Option<std::net::IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

fn ip_listed(leaf: &Cert, ip: std::net::IpAddr) -> bool {
    leaf.ip_addresses.iter().any(|listed| {
        listed
            .parse::<std::net::IpAddr>()
            .is_ok_and(|listed| listed == ip)
    })
}

/// Go's crypto/x509 `VerifyHostname`: IPs against IP SANs; names against DNS SANs only
/// (no CN, "x509: certificate relies on legacy Common Name field"), case-insensitively,
/// with `*` as a whole left-most label matching one label.
fn go_matches(leaf: &Cert, host: &str) -> bool {
    if let Some(ip) = host_ip(host) {
        return ip_listed(leaf, ip);
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    leaf.dns_names.iter().any(|pattern| {
        let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
        let (pattern_labels, host_labels): (Vec<&str>, Vec<&str>) =
            (pattern.split('.').collect(), host.split('.').collect());
        pattern_labels.len() == host_labels.len()
            && pattern_labels
                .iter()
                .zip(&host_labels)
                .enumerate()
                .all(|(index, (p, h))| (index == 0 && *p == "*" && !h.is_empty()) || p == h)
    })
}

/// OpenSSL's `X509_check_host` (as curl and `openssl verify -verify_hostname` use it):
/// a wildcard only in the left-most label, partial (`ba*`) allowed, never in the last two
/// labels; the CN is read when the certificate has no DNS SAN.
fn openssl_matches(leaf: &Cert, host: &str) -> bool {
    if let Some(ip) = host_ip(host) {
        return ip_listed(leaf, ip);
    }
    // X509_check_host compares the name as given: a trailing dot (the DNS root) never
    // matches ("hostname mismatch"); curl strips it first, nginx does not.
    if host.ends_with('.') {
        return false;
    }
    let host = host.to_ascii_lowercase();
    let matches = |pattern: &str| {
        let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
        if pattern == host {
            return true;
        }
        let (Some((first, rest)), Some((host_first, host_rest))) =
            (pattern.split_once('.'), host.split_once('.'))
        else {
            return false;
        };
        let Some((prefix, suffix)) = first.split_once('*') else {
            return false;
        };
        // No partial wildcard in, or matching, an IDNA label.
        let partial = !prefix.is_empty() || !suffix.is_empty();
        if partial && (first.starts_with("xn--") || host_first.starts_with("xn--")) {
            return false;
        }
        rest == host_rest
            && rest.contains('.')
            && !suffix.contains('*')
            && host_first.len() >= prefix.len() + suffix.len()
            && host_first.starts_with(prefix)
            && host_first.ends_with(suffix)
    };
    if leaf.dns_names.is_empty() {
        return matches(&leaf.display_name());
    }
    leaf.dns_names.iter().any(|pattern| matches(pattern))
}
