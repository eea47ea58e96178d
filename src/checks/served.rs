//! Judging what servers serve: the served chain through the same checks as files,
//! Rancher's `/ping` and `/cacerts`, and the same-chain check across targets.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::check::Cause;
use crate::check::Subject;
use crate::check::{Check, CheckId, Status};
use crate::checks::{check_chain, Context, Origin};
use crate::rancher::CaBundle;
use crate::tls::http::{http_get, HttpError};
use crate::tls::{
    probe_one, server_name_for, Clients, ProbeRequest, ProbeResult, RancherFacts, Target,
};
use crate::x509::Cert;

/// The result of `rcert probe`.
#[derive(Debug, Serialize)]
pub struct ProbeReport {
    /// One result per target, in input order.
    pub results: Vec<ProbeResult>,
    /// With several targets: whether they all serve the same chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Check>,
    /// Overall verdict.
    pub status: Status,
}

impl ProbeReport {
    /// Whether a target could not be probed at all (the command's exit 3).
    pub fn any_unreachable(&self) -> bool {
        self.results.iter().any(ProbeResult::is_unreachable)
    }
}

/// Told how many targets are done out of how many, after each one (the caller draws it;
/// an engine prints nothing).
pub type Progress<'a> = Option<&'a (dyn Fn(usize, usize) + Sync)>;

/// Probe every target (bounded concurrency) and judge the results.
pub async fn probe(request: &ProbeRequest, progress: Progress<'_>) -> ProbeReport {
    let clients = match Clients::new(&request.alpn) {
        Ok(clients) => clients,
        Err(err) => {
            let results = request
                .targets
                .iter()
                .map(|t| ProbeResult::unreachable(t, None, format!("cannot start: {err}")))
                .collect();
            return finish(results, request);
        }
    };
    let mut results = probe_all(request, &clients, progress).await;
    judge(&mut results, request);
    let ip_servername = request
        .servername
        .as_deref()
        .is_some_and(|name| name.parse::<std::net::IpAddr>().is_ok());
    if ip_servername {
        for result in results.iter_mut().filter(|r| r.error.is_none()) {
            result.checks.push(Check::warning(
                CheckId::Handshake, Cause::NoSni,
                "--servername is an IP address: TLS sends no SNI for an IP, so the server picked its default certificate; the name was checked against IP SANs".to_string(),
            ));
            result.status = Status::worst(&result.checks);
        }
    }
    finish(results, request)
}

fn finish(results: Vec<ProbeResult>, request: &ProbeRequest) -> ProbeReport {
    let consistency = consistency_check(&results, request);
    let worst = results
        .iter()
        .map(|result| result.status)
        .chain(consistency.iter().map(|check| check.status))
        .max()
        .unwrap_or(Status::Ok);
    ProbeReport {
        results,
        consistency,
        status: worst,
    }
}

async fn probe_all(
    request: &ProbeRequest,
    clients: &Clients,
    progress: Progress<'_>,
) -> Vec<ProbeResult> {
    let limit = Arc::new(tokio::sync::Semaphore::new(request.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut task_index = HashMap::new();
    for (index, target) in request.targets.iter().cloned().enumerate() {
        let (clients, limit, request) = (clients.clone(), limit.clone(), request.clone());
        let task = tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let mut result = probe_one(&target, &request, &clients).await;
            if request.rancher && result.tls_version.is_some() {
                rancher_checks(&mut result, &target, &request, &clients).await;
            }
            (index, result)
        });
        task_index.insert(task.id(), index);
    }
    let total = request.targets.len();
    let mut results: Vec<Option<ProbeResult>> = vec![None; total];
    let mut done = 0;
    while let Some(joined) = tasks.join_next_with_id().await {
        match joined {
            Ok((_, (index, result))) => results[index] = Some(result),
            // A task that panicked: its target says so, with what the runtime reported.
            Err(err) => {
                if let Some(&index) = task_index.get(&err.id()) {
                    let target = &request.targets[index];
                    let why = format!("the probe of this target failed inside rcert: {err}");
                    results[index] = Some(ProbeResult::unreachable(target, None, why));
                }
            }
        }
        done += 1;
        if let Some(report) = progress {
            report(done, total);
        }
    }
    results
        .into_iter()
        .zip(&request.targets)
        .map(|(result, target)| {
            result.unwrap_or_else(|| {
                ProbeResult::unreachable(target, None, "probe task failed".to_string())
            })
        })
        .collect()
}

/// Run the verify checks on every served chain. Targets that serve the same chain
/// for the same name (HA nodes behind one balancer) share one verification.
fn judge(results: &mut [ProbeResult], request: &ProbeRequest) {
    let at = request.at;
    let mut verdicts: HashMap<(Vec<String>, String), Vec<Check>> = HashMap::new();
    for result in results.iter_mut().filter(|r| r.tls_version.is_some()) {
        let key = (result.leaf_fingerprints(), result.checked_name.clone());
        let chain_checks = verdicts
            .entry(key)
            .or_insert_with(|| chain_checks(&result.chain, &result.checked_name, request, at))
            .clone();
        result.checks.splice(0..0, chain_checks);
        let endpoint = crate::check::Subject::Endpoint {
            target: result.target.clone(),
        };
        result.checks = std::mem::take(&mut result.checks)
            .into_iter()
            .map(|check| match check.status {
                Status::Ok => check,
                _ => check.about_by_default(&endpoint),
            })
            .collect();
        result.status = Status::worst(&result.checks);
    }
}

fn chain_checks(
    chain: &[Cert],
    checked_name: &str,
    request: &ProbeRequest,
    at: time::OffsetDateTime,
) -> Vec<Check> {
    if chain.is_empty() {
        return vec![Check::failed(
            CheckId::Chain,
            Cause::NoCertificate,
            "the server sent no certificate".to_string(),
        )];
    }
    let context = Context {
        ca: request.ca.clone(),
        untrusted: Vec::new(),
        untrusted_files: Vec::new(),
        key: None,
        hosts: vec![checked_name.to_string()],
        at,
        warn_days: request.warn_days,
        clients: request.clients,
        max_depth: request.max_depth,
    };
    check_chain(chain, Origin::Server, &context)
        .into_iter()
        .filter(|check| check.name != CheckId::CaChecksum)
        .collect()
}

/// Fetch `/ping` and `/cacerts` over fresh HTTP/1.1 connections and compare `/cacerts`
/// with `--ca` and with the served chain.
async fn rancher_checks(
    result: &mut ProbeResult,
    target: &Target,
    request: &ProbeRequest,
    clients: &Clients,
) {
    let (server_name, _) = server_name_for(target, request);
    let config = &clients.http1;
    let host = request
        .servername
        .clone()
        .unwrap_or_else(|| target.host.clone());
    let get = |path| http_get(target, config, &server_name, &host, path, request.timeout);
    let (ping, cacerts) = tokio::join!(get("/ping"), get("/cacerts"));
    let (ping_check, ping_body) = ping_answer(&ping);
    result.checks.push(ping_check);
    let (checks, facts) = cacerts_answer(&cacerts, &result.chain, request.ca.as_ref());
    result.checks.extend(checks);
    result.rancher = Some(RancherFacts {
        ping: ping_body,
        ..facts
    });
}

/// Judge what `/ping` answered (an HTTP status and body, or why there was none): Rancher
/// answers `pong`. Returns the check and the body as read.
pub fn ping_answer(ping: &Result<(u16, Vec<u8>), HttpError>) -> (Check, Option<String>) {
    match ping {
        Ok((200, body)) if String::from_utf8_lossy(body).trim() == "pong" => (
            Check::ok(CheckId::Ping, "/ping answered pong".to_string()),
            Some("pong".to_string()),
        ),
        Ok((status, body)) => {
            // One line: an HTML page's lines joined, the first 60 characters.
            let body = String::from_utf8_lossy(body)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(60)
                .collect::<String>();
            (
                Check::failed(
                    CheckId::Ping, Cause::PingFailed,
                    format!("/ping answered HTTP {status} '{body}', not 'pong': is this Rancher, and is it ready?"),
                ),
                Some(body),
            )
        }
        Err(err) => (
            Check::failed(CheckId::Ping, Cause::PingFailed, format!("/ping: {err}")),
            None,
        ),
    }
}

/// Judge what `/cacerts` answered against the served chain and `--ca`: the checks, and
/// the facts (body, status, the checksum agents will compute).
pub fn cacerts_answer(
    cacerts: &Result<(u16, Vec<u8>), HttpError>,
    chain: &[Cert],
    ca: Option<&CaBundle>,
) -> (Vec<Check>, RancherFacts) {
    let mut facts = RancherFacts {
        ping: None,
        cacerts: None,
        cacerts_checksum: None,
        cacerts_status: cacerts.as_ref().ok().map(|(status, _)| *status),
    };
    let mut checks = Vec::new();
    match cacerts {
        Ok((200, body)) if !body.iter().all(u8::is_ascii_whitespace) => {
            match served_bundle_problem(body) {
                Some(problem) => checks.push(Check::failed(
                    CheckId::Cacerts,
                    Cause::CacertsUnavailable,
                    problem,
                )),
                None => {
                    let checksum = crate::x509::cert::plain_hex(&crate::x509::cert::sha256(body));
                    checks.extend(cacerts_checks(body, &checksum, chain, ca));
                    facts.cacerts_checksum = Some(checksum);
                }
            }
            facts.cacerts = Some(String::from_utf8_lossy(body).to_string());
        }
        Ok((200, _)) => {
            facts.cacerts = Some(String::new());
            checks.push(empty_cacerts_check(chain));
        }
        Ok((status, body)) => checks.push(Check::failed(
            CheckId::Cacerts,
            Cause::CacertsUnavailable,
            http_failure("/cacerts", *status, body),
        )),
        Err(err) => checks.push(Check::failed(
            CheckId::Cacerts,
            Cause::CacertsUnavailable,
            format!("/cacerts: {err}: agents cannot fetch the CA they must trust"),
        )),
    }
    (checks, facts)
}

/// Compare what `/cacerts` serves with the CA file and with the served chain.
fn cacerts_checks(
    body: &[u8],
    checksum: &str,
    chain: &[Cert],
    ca: Option<&CaBundle>,
) -> Vec<Check> {
    let mut checks = vec![Check::ok(
        CheckId::CaChecksum,
        format!("agents will compare CATTLE_CA_CHECKSUM={checksum} (sha256 of /cacerts as served)"),
    )];
    let served_certs = crate::x509::cert::certs_in(body);
    if let Some(ca) = ca {
        let expected = ca.checksum.clone().unwrap_or_default();
        if expected == checksum {
            checks.push(Check::ok(
                CheckId::Cacerts,
                format!("/cacerts matches {} byte for byte", ca.source),
            ));
        } else {
            checks.push(Check::failed(
                CheckId::Cacerts, Cause::CacertsMismatch,
                format!(
                    "/cacerts (sha256 {checksum}) differs from {} (sha256 {expected}): put exactly {} into secret tls-ca (key cacerts.pem) in cattle-system",
                    ca.source, ca.source
                ),
            ));
        }
    }
    let top = chain.last();
    let anchors_chain = top.is_some_and(|top| {
        served_certs
            .iter()
            .any(|ca| ca.der() == top.der() || top.is_issued_by(ca))
    });
    if anchors_chain {
        checks.push(Check::ok(
            CheckId::CacertsChain,
            "/cacerts holds the CA that issued the served chain".to_string(),
        ));
    } else {
        checks.push(Check::failed(
            CheckId::CacertsChain, Cause::CacertsWrongCa,
            "/cacerts does not hold the CA of the served chain: secret tls-ca and secret tls-rancher-ingress come from different CAs".to_string(),
        ));
    }
    checks
}

/// With several targets: do all that answered serve the same chain?
fn consistency_check(results: &[ProbeResult], request: &ProbeRequest) -> Option<Check> {
    let served: Vec<&ProbeResult> = results.iter().filter(|r| !r.chain.is_empty()).collect();
    if served.len() < 2 {
        return None;
    }
    let mut groups: Vec<(Vec<String>, Vec<&ProbeResult>)> = Vec::new();
    for result in &served {
        let key = result.leaf_fingerprints();
        match groups
            .iter_mut()
            .find(|(fingerprints, _)| *fingerprints == key)
        {
            Some((_, members)) => members.push(result),
            None => groups.push((key, vec![result])),
        }
    }
    let name = request
        .servername
        .as_deref()
        .map(|name| format!(" for {name}"))
        .unwrap_or_default();
    if groups.len() == 1 {
        return Some(Check::ok(
            CheckId::SameChain,
            format!("all {} targets serve the same chain{name}", served.len()),
        ));
    }
    groups.sort_by_key(|(_, members)| std::cmp::Reverse(members.len()));
    let majority = &groups[0].1;
    let odd: Vec<String> = groups[1..]
        .iter()
        .flat_map(|(_, members)| members.iter())
        .map(|result| {
            let leaf = &result.chain[0];
            format!(
                "{} (leaf {} expiring {}, sha256 {}…)",
                result.target,
                leaf.display_name(),
                leaf.not_after,
                &leaf.sha256_fingerprint[..11.min(leaf.sha256_fingerprint.len())]
            )
        })
        .collect();
    // The subject is the first target that serves another chain than the majority.
    let first_odd = groups[1..]
        .iter()
        .flat_map(|(_, members)| members.iter())
        .map(|result| Subject::Endpoint {
            target: result.target.clone(),
        })
        .next();
    let check = Check::failed(
        CheckId::SameChain,
        Cause::ChainsDiffer,
        format!(
            "targets serve different chains{name}: {} of {} serve(s) another chain than the rest: {}",
            odd.len(),
            odd.len() + majority.len(),
            odd.join("; ")
        ),
    );
    Some(match first_odd {
        Some(subject) => check.about(subject),
        None => check,
    })
}

/// An empty `/cacerts`: fine for a publicly trusted chain, a failure for a private one.
fn empty_cacerts_check(chain: &[Cert]) -> Check {
    let public = chain
        .last()
        .is_some_and(|top| crate::chain::is_public_root_name(&top.raw_issuer));
    if public {
        Check::ok(
            CheckId::Cacerts,
            "/cacerts is empty: Rancher runs without privateCA and the served chain ends at a public root; agents need no CATTLE_CA_CHECKSUM".to_string(),
        )
    } else {
        Check::failed(
            CheckId::Cacerts, Cause::CacertsEmpty,
            "/cacerts is empty although the served chain is not issued by a public CA: agents cannot trust Rancher; set privateCA=true (helm upgrade … --set privateCA=true) with the CA in secret tls-ca".to_string(),
        )
    }
}

/// Why a 200 answer of `/cacerts` is not a certificate bundle, if it is not one.
fn served_bundle_problem(body: &[u8]) -> Option<String> {
    if !crate::x509::cert::certs_in(body).is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(body);
    let first_line: String = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .chars()
        .take(80)
        .collect();
    let what = if text.trim_start().starts_with('<') {
        "an HTML page"
    } else {
        "something that is not a PEM certificate bundle"
    };
    Some(format!(
        "/cacerts served {what} (first line: '{first_line}'): a proxy or another service answers instead of Rancher, or tls-ca holds no certificate"
    ))
}

/// One line for a non-200 answer.
fn http_failure(path: &str, status: u16, body: &[u8]) -> String {
    let excerpt: String = String::from_utf8_lossy(body)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .chars()
        .take(60)
        .collect();
    let hint = match status {
        404 => "this endpoint is not Rancher, or a proxy/ingress rule does not route it to Rancher",
        401 | 403 => {
            "an authenticating proxy stands in front of Rancher; agents must reach it without credentials"
        }
        500..=599 => {
            "Rancher (or the proxy in front of it) fails: check kubectl -n cattle-system logs deploy/rancher"
        }
        _ => "agents expect 200 with the CA bundle",
    };
    format!("{path} answered HTTP {status} '{excerpt}': {hint}")
}
