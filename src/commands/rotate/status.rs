//! `rotate status`: what still lags behind the new set, one line each.

use super::rotation::{self, Phase, RotationPlan, StepLine};
use super::*;
use crate::check::{Cause, Evidence, Fix, Subject};
use crate::cluster::rancher_objects::setting_subject;

/// `rcert rotate status`: what still lags, one line each; with `--all-contexts`, every
/// context of the kubeconfig in turn, each line prefixed with its context (a context that
/// cannot be read is one failed line, the others go on).
pub async fn status(request: &StatusRequest) -> Result<RotateReport, crate::Error> {
    let node = request.node.as_deref();
    if !request.all_contexts {
        return status_of_cluster(request, node).await;
    }
    let mut runs = Vec::new();
    for cluster in request.cluster.every_context()? {
        let context = cluster.context.clone().unwrap_or_default();
        let one = RotateRequest {
            cluster,
            ..request.common.clone()
        };
        runs.push((context, status_of_cluster(&one, node).await));
    }
    combine("status", request, runs)
}

/// One cluster's status (the `--context` one).
async fn status_of_cluster(
    request: &RotateRequest,
    node: Option<&str>,
) -> Result<RotateReport, crate::Error> {
    let view = read_cluster(request, false).await?;
    let release_host = view.helm.as_ref().and_then(|v| v.hostname.clone());
    let set = load_set(request, &checked_hosts(request, release_host.as_deref()))?;
    let new_checksum = set.checksum();
    let plan = RotationPlan::compute(&set, &view);
    // A downstream cluster holds neither Rancher's objects nor its secrets.
    let downstream = view.agents.is_none() && view.tls.is_none() && view.ca.is_none();
    let secrets = if downstream {
        Check::skipped(
            CheckId::Secret,
            Cause::NotPresent,
            "no Rancher objects and no tls-rancher-ingress or tls-ca here (a downstream cluster): the secrets change in Rancher's cluster".to_string(),
        )
    } else {
        secrets_line(&plan, request)
    };
    let mut steps = vec![StepLine::of(Phase::Secrets, secrets)];
    match &view.agents {
        // A restart now would hand the agents a CA that does not match what is served.
        Some(agents) if plan.secrets.half_done() => {
            let finish = Fix::command(
                Cause::HalfDone,
                request.rcert("apply", &["--step", "secrets"]),
            );
            steps.push(StepLine::of(Phase::Rancher, Check::skipped(
                CheckId::CacertsSetting, Cause::HalfDone,
                "Rancher's cacerts setting not judged while the secrets are half changed: finish (or roll back) the secrets first; do not restart Rancher now".to_string(),
            )
            .with_fix(finish)
            .about(setting_subject("cacerts"))));
            steps.extend(cluster_lines(agents, &plan, request));
        }
        Some(agents) => {
            steps.push(StepLine::of(
                Phase::Rancher,
                setting_line(&set, &plan, request),
            ));
            steps.extend(cluster_lines(agents, &plan, request));
        }
        None => steps.push(StepLine::of(
            Phase::Agents,
            Check::skipped(
                CheckId::Cluster,
                Cause::NotPresent,
                "no Rancher objects in this cluster".to_string(),
            ),
        )),
    }
    steps.extend(
        plan.agents
            .workloads
            .iter()
            .map(|change| StepLine::of(Phase::Agents, workload_line(change, &plan, request, node))),
    );
    if !view.workloads.is_empty() {
        steps.extend(
            system_agent_line(&view, &set, request)
                .await?
                .map(|line| StepLine::of(Phase::Agents, line)),
        );
    }
    steps.extend(
        plan.fleet
            .iter()
            .map(|change| StepLine::of(Phase::Fleet, fleet_line(change, &plan, request))),
    );
    if let Some(host) = &request.host {
        steps.extend(served_lines(&set, request, node, host).await?);
    }
    Ok(finish(
        "status",
        request,
        new_checksum,
        set.validation,
        steps,
        view.requests.count(),
    ))
}

/// rancher-system-agent on Rancher-provisioned nodes: the chain is tls-ca → the cacerts
/// setting → cattle-cluster-agent's checksum → `stv-aggregation` → each node's
/// `/var/lib/rancher/agent/rancher2_connection_info.json` (rancher/rancher#48382, #52281:
/// nodes left with the old CA). None where the cluster has no `stv-aggregation`.
async fn system_agent_line(
    view: &ClusterView,
    set: &NewSet,
    request: &RotateRequest,
) -> Result<Option<Check>, crate::Error> {
    let found = crate::cluster::rancher_objects::system_agent_ca(&view.client, &request.namespace)
        .await
        .map_err(crate::Error::Remote)?;
    let Some(found) = found else {
        return Ok(None);
    };
    let new = set.checksum();
    let holds_new = match (&found.ca, &set.ca) {
        (Some(ca), Some(new_ca)) => rancher::same_cacerts(ca, &new_ca.bytes),
        _ => found.checksum.is_some() && found.checksum == new,
    };
    let stv = Subject::Secret {
        namespace: request.namespace.to_string(),
        name: crate::cluster::rancher_objects::STV_AGGREGATION_SECRET.to_string(),
    };
    Ok(Some(if holds_new {
        Check::ok(
            CheckId::AgentChecksum,
            "secret stv-aggregation holds the new CA: the system-agent-upgrader plan hands it to rancher-system-agent on every node".to_string(),
        )
        .about(stv)
    } else {
        Check::failed(
            CheckId::AgentChecksum, Cause::AgentChecksumMismatch,
            format!(
                "secret {}/stv-aggregation still holds CATTLE_CA_CHECKSUM={} (new: {}): rancher-system-agent on this cluster's nodes keeps the old CA until cattle-cluster-agent restarts with the new one and rewrites it — kubectl -n {} rollout restart deploy/cattle-cluster-agent, then check /var/lib/rancher/agent/rancher2_connection_info.json on a node (rcert expiry --root /)",
                request.namespace,
                found.checksum.as_deref().unwrap_or("none"),
                new.as_deref().unwrap_or("none"),
                request.namespace
            ),
        )
        .with_evidence(Evidence::checksums(found.checksum.as_deref(), new.as_deref()))
        .with_fix(
            Fix::command(
                Cause::AgentChecksumMismatch,
                request.kubectl(&["rollout", "restart", "deploy/cattle-cluster-agent"]),
            )
            .note("it rewrites stv-aggregation; the system-agent-upgrader plan then updates the nodes (check /var/lib/rancher/agent/rancher2_connection_info.json on one)"),
        )
        .about(stv)
    }))
}

/// Whether both secrets hold the new set (`tls-ca` absent without a private CA); a
/// change stopped half-way is named (do not restart Rancher then).
fn secrets_line(plan: &RotationPlan, request: &RotateRequest) -> Check {
    let secrets = &plan.secrets;
    let fix = Fix::command(
        Cause::NotApplied,
        request.rcert("apply", &["--step", "secrets"]),
    );
    let tls = Subject::Secret {
        namespace: request.namespace.to_string(),
        name: rancher::TLS_SECRET.to_string(),
    };
    let fix_text = fix.line();
    if let Some((new, old)) = secrets.half_done_words() {
        return Check::failed(
            CheckId::Secret, Cause::HalfDone,
            format!("HALF-DONE: {new} but {old} (an interrupted change?); do not restart Rancher now — finish the secrets: {fix_text}"),
        )
        .with_fix(Fix { doc: Cause::HalfDone.doc(), ..fix })
        .about(tls);
    }
    let private_ca = secrets.ca_checksum_new.is_some();
    let message =
        match (secrets.done(), private_ca, secrets.certificate_done) {
            (true, true, _) => {
                return Check::ok(
                    CheckId::Secret,
                    "tls-rancher-ingress and tls-ca hold the new set".to_string(),
                )
            }
            (true, false, _) => return Check::ok(
                CheckId::Secret,
                "tls-rancher-ingress holds the new certificate and tls-ca is gone (no private CA)"
                    .to_string(),
            ),
            (false, true, _) => format!("the secrets do not hold the new set yet: {fix_text}"),
            (false, false, false) => {
                format!("tls-rancher-ingress does not hold the new certificate yet: {fix_text}")
            }
            (false, false, true) => format!(
            "secret tls-ca still exists, but the new certificate needs no private CA: {fix_text}"
        ),
        };
    Check::failed(CheckId::Secret, Cause::NotApplied, message)
        .with_fix(fix)
        .about(tls)
}

/// An agent workload's `CATTLE_CA_CHECKSUM` against the plan's.
fn workload_line(
    change: &rotation::WorkloadChange,
    plan: &RotationPlan,
    request: &RotateRequest,
    node: Option<&str>,
) -> Check {
    let new = plan.secrets.ca_checksum_new.as_deref().unwrap_or("none");
    let subject = change.agent.subject();
    if change.done {
        return Check::ok(
            CheckId::AgentChecksum,
            format!("{} has the new CATTLE_CA_CHECKSUM ({new})", change.workload),
        )
        .about(subject);
    }
    // apply sets the checksum only once Rancher hands out the new CA: its cacerts setting
    // here, or /cacerts at --host on a downstream cluster.
    let mut extra = vec!["--step", "agents", "--agents", "env"];
    if let Some(host) = request.host.as_deref() {
        extra.extend(["--host", host]);
    }
    if let Some(node) = node {
        extra.extend(["--node", node]);
    }
    let env_method = Fix::command(Cause::AgentChecksumMismatch, request.rcert("apply", &extra));
    let env_method = match (plan.rancher.setting_done, &request.host) {
        (None, None) => env_method
            .note("add --host RANCHER: on a downstream cluster apply checks /cacerts there first"),
        _ => env_method,
    };
    let fix = when_ready(request, plan, env_method);
    let evidence = Evidence::checksums(
        change.checksum_now.as_deref(),
        plan.secrets.ca_checksum_new.as_deref(),
    );
    Check::failed(
        CheckId::AgentChecksum,
        Cause::AgentChecksumMismatch,
        format!(
            "{} has CATTLE_CA_CHECKSUM={} (new: {new}): {}",
            change.workload,
            change.checksum_now.as_deref().unwrap_or("none"),
            fix.line()
        ),
    )
    .with_fix(fix)
    .with_evidence(evidence)
    .about(subject)
}

/// A fleet cluster: redeployed for the new CA (rcert's mark), or not yet. Without the
/// mark rcert cannot tell a hand-made redeploy from none: a warning, not a failure.
fn fleet_line(
    change: &rotation::FleetChange,
    plan: &RotationPlan,
    request: &RotateRequest,
) -> Check {
    let name = format!("{}/{}", change.namespace, change.name);
    let subject = change.cluster.subject();
    if change.done {
        return Check::ok(
            CheckId::Cluster,
            format!(
                "{name} redeployed its agent for the new CA (redeployAgentGeneration {})",
                change.generation_now
            ),
        )
        .about(subject);
    }
    let step_fix = Fix::command(
        Cause::NotApplied,
        request.rcert("apply", &["--step", "fleet"]),
    );
    Check::warning(
        CheckId::Cluster,
        Cause::NotApplied,
        format!(
            "{name} was not redeployed for the new CA by rcert (redeployAgentGeneration {}): its fleet-agent keeps the old CA unless it was redeployed another way",
            change.generation_now
        ),
    )
    .with_fix(when_ready(request, plan, step_fix))
    .about(subject)
}

/// Rancher's `cacerts` setting: it follows `tls-ca` only when Rancher restarts.
fn setting_line(set: &NewSet, plan: &RotationPlan, request: &RotateRequest) -> Check {
    let followed = plan.rancher.setting_done == Some(true);
    let namespace = request.namespace.as_str();
    let setting = setting_subject("cacerts");
    let evidence = Evidence::checksums(
        plan.rancher.setting_checksum.as_deref(),
        plan.secrets.ca_checksum_new.as_deref(),
    );
    let check = match &set.ca {
        Some(_) if followed => Check::ok(
            CheckId::CacertsSetting,
            "Rancher's cacerts setting holds the new CA".to_string(),
        ),
        Some(_) => Check::failed(
            CheckId::CacertsSetting, Cause::CacertsSettingStale,
            format!("Rancher's cacerts setting still holds the old CA: it follows tls-ca only when Rancher restarts — kubectl -n {namespace} rollout restart deploy/rancher"),
        )
        .with_fix(Fix::command(
            Cause::CacertsSettingStale,
            request.kubectl(&["rollout", "restart", "deploy/rancher"]),
        ))
        .with_evidence(evidence),
        None if followed => Check::ok(
            CheckId::CacertsSetting,
            "Rancher's cacerts setting is empty (no private CA)".to_string(),
        ),
        None => Check::failed(
            CheckId::CacertsSetting, Cause::CacertsSettingStale,
            format!("Rancher's cacerts setting still holds a private CA: it is emptied when Rancher restarts with privateCA=false — helm upgrade rancher rancher-latest/rancher -n {namespace} --reuse-values --set privateCA=false"),
        )
        .with_fix(Fix::command(
            Cause::CacertsSettingStale,
            request.helm_upgrade(&["privateCA=false"]),
        ))
        .with_evidence(evidence),
    };
    check.about(setting)
}

/// Every management cluster: connected, and passing the strict check in strict mode.
fn cluster_lines(
    agents: &AgentState,
    plan: &RotationPlan,
    request: &RotateRequest,
) -> Vec<StepLine> {
    let dir = request.dir.display().to_string();
    let strict = agents.agent_tls_mode.as_deref() == Some("strict");
    agents
        .clusters
        .iter()
        .map(|cluster| {
            let connected = cluster
                .connected
                .as_ref()
                .is_some_and(|c| c.status == "True");
            let strict_ok = !strict
                || cluster
                    .strict_check
                    .as_ref()
                    .is_none_or(|c| c.status == "True");
            let subject = cluster.subject();
            let check = if !connected {
                let why = cluster
                    .connected
                    .as_ref()
                    .map_or("no Connected condition", |c| c.reason());
                Check::failed(
                    CheckId::Cluster,
                    Cause::ClusterDisconnected,
                    format!("cluster {} is not connected yet: {why}", cluster.name),
                )
                .with_fix(Fix::words(
                    Cause::ClusterDisconnected,
                    format!(
                        "on cluster {}: kubectl -n cattle-system logs deploy/cattle-cluster-agent; if it says \"The CA checksum does not match\": rcert rotate apply --to {} --step agents --agents env --context THAT_CLUSTER --host RANCHER",
                        cluster.name,
                        crate::check::shell_quote(&dir)
                    ),
                ))
            } else if !strict_ok {
                Check::failed(
                    CheckId::Cluster,
                    Cause::StrictCheckFailed,
                    format!(
                        "cluster {} fails AgentTlsStrictCheck (agent-tls-mode strict)",
                        cluster.name
                    ),
                )
            } else if plan
                .agents
                .clusters
                .iter()
                .any(|change| change.name == cluster.name && !change.done)
            {
                // Connected says little: an agent with the old checksum works until it
                // restarts. Without rcert's mark, a redeploy cannot be told from none.
                let step_fix = Fix::command(
                    Cause::NotApplied,
                    request.rcert("apply", &["--step", "agents"]),
                );
                Check::warning(
                    CheckId::Cluster,
                    Cause::NotApplied,
                    format!(
                        "cluster {} is connected, but rcert has not redeployed its agent for the new CA (method 1): unless its CATTLE_CA_CHECKSUM was set another way (--agents env on that cluster), the agent fails at its next restart",
                        cluster.name
                    ),
                )
                .with_fix(when_ready(request, plan, step_fix))
            } else {
                Check::ok(
                    CheckId::Cluster,
                    format!("cluster {} connected", cluster.name),
                )
            };
            StepLine::of(Phase::Agents, check.about(subject))
        })
        .collect()
}

/// What the endpoint serves: the new certificate, and `/cacerts` with the new CA.
async fn served_lines(
    set: &NewSet,
    request: &RotateRequest,
    node: Option<&str>,
    host: &str,
) -> Result<Vec<StepLine>, crate::Error> {
    let report = probe_rancher(request, node, set, host).await?;
    let Some(result) = report.results.first() else {
        return Ok(Vec::new());
    };
    if let Some(error) = &result.error {
        return Ok(vec![StepLine::run(
            Check::failed(
                CheckId::Reachable,
                Cause::Unreachable,
                format!("{}: {error}", result.target),
            )
            .about(endpoint(&result.target)),
        )]);
    }
    let new_leaf = set
        .files
        .chain
        .first()
        .map(|leaf| leaf.sha256_fingerprint.clone());
    let served_leaf = result
        .chain
        .first()
        .map(|leaf| leaf.sha256_fingerprint.clone());
    let served = if served_leaf == new_leaf {
        Check::ok(
            CheckId::Served,
            format!("{} serves the new certificate", result.target),
        )
    } else {
        Check::failed(
            CheckId::Served, Cause::NotServedYet,
            format!(
                "{} still serves '{}', not the new certificate: the ingress controller has not picked up tls-rancher-ingress yet",
                result.target,
                result.chain.first().map(|c| c.subject.as_str()).unwrap_or("nothing")
            ),
        )
        .with_fix(Fix::words(
            Cause::NotServedYet,
            "restart the ingress controller so it loads tls-rancher-ingress again (ingress-nginx: kubectl -n ingress-nginx rollout restart daemonset/ingress-nginx-controller), or update the certificate of the load balancer in front of Rancher",
        ))
    };
    let served_checksum = result
        .rancher
        .as_ref()
        .and_then(|facts| facts.cacerts_checksum.clone());
    let cacerts = match (&served_checksum, set.checksum()) {
        (found, wanted) if *found == wanted => Check::ok(
            CheckId::Cacerts,
            format!(
                "/cacerts serves the new CA (CATTLE_CA_CHECKSUM {})",
                wanted.as_deref().unwrap_or("none")
            ),
        ),
        (found, wanted) => Check::failed(
            CheckId::Cacerts, Cause::CacertsMismatch,
            format!(
                "/cacerts serves sha256 {} (new: {}): Rancher serves its cacerts setting, which follows tls-ca when Rancher restarts",
                found.as_deref().unwrap_or("none"),
                wanted.as_deref().unwrap_or("none")
            ),
        )
        .with_evidence(Evidence::checksums(found.as_deref(), wanted.as_deref()))
        .with_fix(Fix::command(
            Cause::CacertsMismatch,
            request.kubectl(&["rollout", "restart", "deploy/rancher"]),
        )),
    };
    Ok(vec![
        StepLine::of(Phase::Secrets, served.about(endpoint(&result.target))),
        StepLine::of(Phase::Rancher, cacerts.about(endpoint(&result.target))),
    ])
}

fn endpoint(target: &str) -> Subject {
    Subject::Endpoint {
        target: target.to_string(),
    }
}
