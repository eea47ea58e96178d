//! A node's copy of Rancher's CA (rancher-system-agent's connection info) against what
//! Rancher serves at `/cacerts`: a node left with the old CA after a CA change
//! (rancher/rancher#48382, #52281) is `stale`.

use super::{ExpiryRequest, Item, ItemStatus, SourceState};
use crate::check::{Cause, Fix};
use crate::checks::served;
use crate::tls::{ProbeRequest, Target};

/// Probe `/cacerts` of every Rancher the items name (their connection info's server) and
/// mark the items whose certificate it does not serve; one source line per Rancher.
pub(super) async fn compare(items: &mut [Item], request: &ExpiryRequest) -> Vec<SourceState> {
    let mut servers: Vec<String> = items
        .iter()
        .filter_map(|item| item.rancher_server.clone())
        .collect();
    servers.sort();
    servers.dedup();
    let mut states = Vec::new();
    for server in servers {
        let source = format!("rancher {server}/cacerts");
        let target = match Target::from_url(&server) {
            Ok((target, true)) => target,
            Ok((_, false)) | Err(_) => {
                states.push(SourceState {
                    context: None,
                    source,
                    state: "error".to_string(),
                    message: "the connection info's server is not an https URL".to_string(),
                });
                continue;
            }
        };
        let body = match served_cacerts(target, request).await {
            Ok(body) => body,
            Err(why) => {
                states.push(SourceState {
                    context: None,
                    source,
                    state: "unreachable".to_string(),
                    message: why.to_string(),
                });
                continue;
            }
        };
        let fingerprints: Vec<String> = crate::x509::cert::certs_in(body.as_bytes())
            .into_iter()
            .map(|cert| cert.sha256_fingerprint)
            .collect();
        let mut stale = 0;
        for item in items
            .iter_mut()
            .filter(|item| item.rancher_server.as_deref() == Some(&server))
        {
            let served = item
                .fingerprint
                .as_ref()
                .is_some_and(|fingerprint| fingerprints.contains(fingerprint));
            if !served && item.fingerprint.is_some() {
                stale += 1;
                item.status = ItemStatus::Stale;
                item.error = Some(format!(
                    "Rancher no longer serves this CA at {server}/cacerts: rancher-system-agent on this node trusts an old CA"
                ));
                item.fix = Some(
                    Fix::command(
                        Cause::AgentChecksumMismatch,
                        ["kubectl", "-n", "cattle-system", "rollout", "restart", "deploy/cattle-cluster-agent"],
                    )
                    .note("on the downstream cluster: it rewrites stv-aggregation, and the system-agent-upgrader plan then rewrites this file; rcert rotate status --to NEW_SET shows what lags"),
                );
            }
        }
        states.push(SourceState {
            context: None,
            source,
            state: "read".to_string(),
            message: if stale == 0 {
                "the node's rancher-system-agent CA is among what Rancher serves".to_string()
            } else {
                format!("{stale} node CA item(s) Rancher no longer serves")
            },
        });
    }
    states
}

/// What Rancher at `target` serves at `/cacerts` (its body, not empty), or why nothing.
pub(super) async fn served_cacerts(
    target: Target,
    request: &ExpiryRequest,
) -> Result<String, CacertsUnavailable> {
    let probe = ProbeRequest {
        at: request.at,
        targets: vec![target],
        servername: None,
        ca: None,
        alpn: crate::tls::Alpn::http1(),
        timeout: request.cluster.timeout,
        concurrency: 1,
        rancher: true,
        warn_days: 0,
        clients: crate::check::Clients::DEFAULT_SELECTION,
        max_depth: None,
    };
    let report = served::probe(&probe, None).await;
    let served = report
        .results
        .first()
        .and_then(|result| result.rancher.as_ref())
        .and_then(|facts| facts.cacerts.clone());
    served
        .filter(|body| !body.trim().is_empty())
        .ok_or_else(|| {
            CacertsUnavailable(
                report
                    .results
                    .first()
                    .and_then(|result| result.error.clone())
                    .unwrap_or_else(|| "no CA bundle at /cacerts".to_string()),
            )
        })
}

/// Why a Rancher's `/cacerts` gave no CA bundle (the probe's one line).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct CacertsUnavailable(String);
