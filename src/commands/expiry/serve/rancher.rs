//! What only rcert knows, as gauges beside the certificates: whether each Rancher agent's
//! `CATTLE_CA_CHECKSUM` matches what Rancher serves at `/cacerts`, whether `tls-ca` holds
//! what Rancher serves, and whether every endpoint serves one chain.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use super::super::rancher_ca::served_cacerts;
use super::super::{ExpiryRequest, Item};
use crate::cluster::agent_workloads::{self, env_value};
use crate::cluster::describe_api_error;
use crate::cluster::rancher_objects::setting;
use crate::rancher::{ca_checksum, same_cacerts, CA_SECRET, CA_SECRET_KEY};
use crate::tls::Target;

/// One gauge series.
#[derive(Debug, Clone)]
pub(crate) struct Gauge {
    /// Its metric family.
    pub family: &'static str,
    /// The family's help text.
    pub help: &'static str,
    /// Its labels (the context is added when there is one).
    pub labels: Vec<(&'static str, String)>,
    /// 1 or 0.
    pub value: u8,
}

const AGENT_FAMILY: &str = "rcert_agent_ca_checksum_match";
const AGENT_HELP: &str = "Whether a Rancher agent's CATTLE_CA_CHECKSUM is the sha256 of what Rancher serves at /cacerts (1) or not (0): a mismatch stops the agent.";
const TLS_CA_FAMILY: &str = "rcert_tls_ca_matches_cacerts";
const TLS_CA_HELP: &str = "Whether secret cattle-system/tls-ca holds what Rancher serves at /cacerts, its cacerts setting (1) or not (0).";
const SAME_CHAIN_FAMILY: &str = "rcert_endpoints_same_chain";
const SAME_CHAIN_HELP: &str = "Whether every --target serves the same certificate (1) or not (0): an HA node or load-balancer backend left with an old one.";

/// The namespace of Rancher and its agents.
const NAMESPACE: &str = "cattle-system";

/// The agents' and `tls-ca`'s gauges of one cluster (none where there is no agent and no
/// Rancher), and what could not be read (RBAC, an unreachable Rancher): never a silent gap.
pub(super) async fn rancher_gauges(
    client: &Client,
    request: &ExpiryRequest,
    context: Option<&str>,
) -> (Vec<Gauge>, Vec<String>) {
    let labelled = |mut labels: Vec<(&'static str, String)>| {
        if let Some(context) = context {
            labels.push(("context", context.to_string()));
        }
        labels
    };
    let mut gauges = Vec::new();
    let mut problems = Vec::new();
    // Rancher's own cluster: the cacerts setting is what /cacerts serves.
    let setting = match setting(client, "cacerts").await {
        Ok(found) => found.value,
        Err(err) => {
            problems.push(err.to_string());
            None
        }
    };
    if let Some(setting) = &setting {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
        match secrets.get_opt(CA_SECRET).await {
            Ok(Some(secret)) => {
                let held = secret
                    .data
                    .as_ref()
                    .and_then(|data| data.get(CA_SECRET_KEY))
                    .map(|bytes| bytes.0.clone())
                    .unwrap_or_default();
                gauges.push(Gauge {
                    family: TLS_CA_FAMILY,
                    help: TLS_CA_HELP,
                    labels: labelled(Vec::new()),
                    value: u8::from(same_cacerts(&held, setting.as_bytes())),
                });
            }
            Ok(None) => {}
            Err(err) => problems.push(describe_api_error(
                &err,
                "get",
                "secret cattle-system/tls-ca",
            )),
        }
    }
    let workloads = match agent_workloads::all(client, NAMESPACE).await {
        Ok(workloads) => workloads,
        Err(err) => {
            problems.push(err.to_string());
            return (gauges, problems);
        }
    };
    for workload in workloads {
        let served = match &setting {
            Some(setting) => Ok(setting.clone()),
            None => match env_value(&workload.object.data, "CATTLE_SERVER")
                .and_then(|server| Target::from_url(&server).ok())
            {
                Some((target, true)) => served_cacerts(target, request)
                    .await
                    .map_err(|why| format!("{}: Rancher's /cacerts: {why}", workload.describe())),
                _ => continue,
            },
        };
        let served = match served {
            Ok(served) => served,
            Err(why) => {
                problems.push(why);
                continue;
            }
        };
        let expected = ca_checksum(served.as_bytes());
        gauges.push(Gauge {
            family: AGENT_FAMILY,
            help: AGENT_HELP,
            labels: labelled(vec![("agent", workload.describe())]),
            value: u8::from(workload.checksum.as_deref() == Some(expected.as_str())),
        });
    }
    (gauges, problems)
}

/// Whether every endpoint read serves the same leaf (only with two or more).
pub(super) fn same_chain_gauge(items: &[Item]) -> Option<Gauge> {
    let mut leaves: Vec<(&str, &str)> = items
        .iter()
        .filter(|item| item.place.index.unwrap_or(1) == 1)
        .filter_map(|item| Some((item.place.target.as_deref()?, item.fingerprint.as_deref()?)))
        .collect();
    leaves.sort();
    leaves.dedup();
    if leaves.len() < 2 {
        return None;
    }
    let first = leaves[0].1;
    Some(Gauge {
        family: SAME_CHAIN_FAMILY,
        help: SAME_CHAIN_HELP,
        labels: Vec::new(),
        value: u8::from(leaves.iter().all(|(_, leaf)| *leaf == first)),
    })
}
