//! `rotate plan`: read-only, the [`RotationPlan`] rendered step by step.

use super::rotation::{CertBrief, Phase, RotationPlan, StepLine, TlsCaChange};
use super::*;
use crate::check::{Cause, Subject};
use crate::cluster::rancher_objects::setting_subject;
use crate::cluster::rancher_objects::FORCE_DEPLOY_ANNOTATION;

/// `rcert rotate plan`: read-only, step by step.
pub async fn plan(request: &RotateRequest) -> Result<RotateReport, crate::Error> {
    let view = read_cluster(request, false).await?;
    let release_host = view.helm.as_ref().and_then(|v| v.hostname.clone());
    let set = load_set(request, &checked_hosts(request, release_host.as_deref()))?;
    let plan = RotationPlan::compute(&set, &view);
    let mut steps = secrets_lines(&plan, &set, request);
    steps.extend(rancher_lines(&plan, &set, &view, request));
    steps.extend(agents_lines(&plan, &view));
    steps.extend(plan.fleet.iter().map(|change| {
        let line = if change.done {
            format!(
                "{}/{}: unchanged (already redeployed for this CA)",
                change.namespace, change.name
            )
        } else {
            format!(
                "{}/{} redeployAgentGeneration {} → {}",
                change.namespace, change.name, change.generation_now, change.generation_new
            )
        };
        StepLine::of(
            Phase::Fleet,
            Check::ok(CheckId::Cluster, line).about(change.cluster.subject()),
        )
    }));
    let mut report = finish(
        "plan",
        request,
        set.checksum(),
        set.validation,
        steps,
        view.requests.count(),
    );
    report.plan = Some(plan);
    Ok(report)
}

/// Step 1: what each secret holds now and will hold.
fn secrets_lines(plan: &RotationPlan, set: &NewSet, request: &RotateRequest) -> Vec<StepLine> {
    let secrets = &plan.secrets;
    let checksum_new = match (&secrets.ca_checksum_new, secrets.tls_ca) {
        (Some(checksum), _) => checksum.clone(),
        (None, TlsCaChange::Delete) => "none (no cacerts.pem: a publicly trusted certificate; tls-ca is deleted and the agents' checksum emptied)".to_string(),
        (None, _) => "none (no cacerts.pem, no tls-ca: a publicly trusted certificate)".to_string(),
    };
    let mut lines = vec![StepLine::of(
        Phase::Secrets,
        Check::ok(
            CheckId::Secret,
            format!(
                "tls-rancher-ingress {} → {}; tls-ca CATTLE_CA_CHECKSUM {} → {checksum_new}{}",
                CertBrief::describe(secrets.certificate_now.as_ref()),
                CertBrief::describe(secrets.certificate_new.as_ref()),
                secrets.ca_checksum_now.as_deref().unwrap_or("none"),
                if secrets.done() {
                    " (both already hold the new set)"
                } else {
                    ""
                }
            ),
        )
        .about(Subject::Secret {
            namespace: request.namespace.to_string(),
            name: rancher::TLS_SECRET.to_string(),
        }),
    )];
    if let Some((new, old)) = secrets.half_done_words() {
        lines.push(StepLine::of(
            Phase::Secrets,
            Check::failed(
                CheckId::Secret,
                Cause::HalfDone,
                format!("HALF-DONE: {new} but {old} (an interrupted change?); do not restart Rancher before both hold the new set"),
            )
            .with_fix(crate::check::Fix::command(
                Cause::HalfDone,
                request.rcert("apply", &["--step", "secrets"]),
            )),
        ));
    }
    if let Some(owner) = &secrets.managed_by {
        lines.push(StepLine::of(
            Phase::Secrets,
            Check::warning(
                CheckId::Secret, Cause::ManagedByCertManager,
                format!("tls-rancher-ingress is managed by {owner}: cert-manager would revert step 1; change the helm values (ingress.tls.source=secret) first"),
            ),
        ));
    }
    if let (Some(ca), Some(leaf)) = (&set.ca, set.files.chain.first()) {
        if !set
            .files
            .chain
            .iter()
            .any(|cert| ca.certs.iter().any(|root| cert.is_issued_by(root)))
        {
            lines.push(StepLine::of(
                Phase::Secrets,
                Check::failed(
                    CheckId::Chain,
                    Cause::Untrusted,
                    format!(
                        "the new certificate '{}' is not issued by the new CA in cacerts.pem",
                        leaf.subject
                    ),
                ),
            ));
        }
    }
    lines
}

/// Step 2: the helm values and Rancher's restart; the agent-tls-mode they run under.
fn rancher_lines(
    plan: &RotationPlan,
    set: &NewSet,
    view: &ClusterView,
    request: &RotateRequest,
) -> Vec<StepLine> {
    let rancher = &plan.rancher;
    let private_ca = rancher.private_ca;
    let namespace = request.namespace.as_str();
    let rancher_deployment = Subject::object("deployments.apps", Some(namespace), "rancher");
    let mut lines = vec![StepLine::of(
        Phase::Rancher,
        match &rancher.helm {
            Some(values) if rancher.values_right => Check::ok(
                CheckId::HelmValues,
                format!(
                    "helm release rancher v{} already has ingress.tls.source=secret, privateCA={private_ca}: restart Rancher so the cacerts setting follows: kubectl -n {namespace} rollout restart deploy/rancher",
                    values.revision
                ),
            ),
            found => Check::warning(
                CheckId::HelmValues, Cause::HelmValues,
                format!(
                    "helm{}: helm upgrade rancher rancher-latest/rancher -n {namespace} --reuse-values --set ingress.tls.source=secret --set privateCA={private_ca} (it restarts Rancher; the cacerts setting follows)",
                    found.as_ref().map_or(" release not found (installed another way?)".to_string(), |values| format!(
                        " release rancher v{} has ingress.tls.source={}, privateCA={}",
                        values.revision,
                        values.tls_source.as_deref().unwrap_or("(default rancher)"),
                        values.private_ca.map_or("unset".to_string(), |v| v.to_string())
                    )),
                ),
            )
            .with_fix(crate::check::Fix::command(
                Cause::HelmValues,
                request.helm_upgrade(&[
                    "ingress.tls.source=secret",
                    &format!("privateCA={private_ca}"),
                ]),
            )),
        }
        .about(rancher_deployment),
    )];
    if let Some(refusal) = strict_mode_refusal(set, view, request) {
        lines.push(StepLine::of(Phase::Rancher, refusal));
        return lines;
    }
    if let Some(mode) = &rancher.agent_tls_mode {
        let blockers = &rancher.strict_blockers;
        let message = match (mode.as_str(), blockers.is_empty()) {
            (rancher::AGENT_TLS_STRICT, _) => "agent-tls-mode is strict: agents trust only the CA in Rancher's cacerts setting".to_string(),
            (_, true) => format!("agent-tls-mode is {mode}; a switch to strict would be accepted (every cluster passes AgentTlsStrictCheck)"),
            (_, false) => format!(
                "agent-tls-mode is {mode}; a switch to strict would be refused by rancher-webhook until these clusters pass AgentTlsStrictCheck: {}",
                blockers.join(", ")
            ),
        };
        lines.push(StepLine::of(
            Phase::Rancher,
            Check::ok(CheckId::AgentTlsMode, message).about(setting_subject("agent-tls-mode")),
        ));
    }
    lines
}

/// Step 3: every management cluster (method 1) and every agent workload (method 2).
fn agents_lines(plan: &RotationPlan, view: &ClusterView) -> Vec<StepLine> {
    let agents = &plan.agents;
    let mut lines: Vec<StepLine> = Vec::new();
    if view.agents.is_some() {
        for change in &agents.clusters {
            let subject = change.cluster.subject();
            let connected = change.connected.as_deref().unwrap_or("unknown");
            let mut line = if change.done {
                format!(
                    "cluster {} (Connected={connected}): unchanged (already redeployed for this CA)",
                    change.name
                )
            } else {
                format!(
                    "cluster {} (Connected={connected}) gets {FORCE_DEPLOY_ANNOTATION}=true",
                    change.name
                )
            };
            let check = if change.fails_strict_check {
                line.push_str(": agent-tls-mode is strict and it fails AgentTlsStrictCheck — its agent will not trust the new CA");
                Check::warning(CheckId::Cluster, Cause::StrictCheckFailed, line)
            } else if connected != "True" {
                line.push_str(": it is not connected — Rancher cannot redeploy its agent until it reconnects; on that cluster, kubectl -n cattle-system logs deploy/cattle-cluster-agent says why");
                Check::warning(CheckId::Cluster, Cause::ClusterDisconnected, line).with_fix(
                    crate::check::Fix::words(
                        Cause::ClusterDisconnected,
                        format!("on cluster {}: kubectl -n cattle-system logs deploy/cattle-cluster-agent says why it is not connected", change.name),
                    ),
                )
            } else {
                Check::ok(CheckId::Cluster, line)
            };
            lines.push(StepLine::of(Phase::Agents, check.about(subject)));
        }
    } else if !agents.workloads.is_empty() {
        lines.push(StepLine::of(
            Phase::Agents,
            Check::ok(
                CheckId::Cluster,
                "no Rancher objects here (a downstream cluster): apply --step agents --agents env sets the agents' checksum".to_string(),
            ),
        ));
    } else {
        lines.push(StepLine::of(
            Phase::Agents,
            Check::skipped(
                CheckId::Cluster,
                Cause::NotPresent,
                "no Rancher objects and no agents in this cluster".to_string(),
            ),
        ));
    }
    let new = if agents.checksum.is_empty() {
        "none (emptied)"
    } else {
        agents.checksum.as_str()
    };
    for change in &agents.workloads {
        let now = change.checksum_now.as_deref().unwrap_or("none");
        let line = if change.done {
            format!(
                "--agents env: {}: unchanged (CATTLE_CA_CHECKSUM already {now})",
                change.workload
            )
        } else {
            format!(
                "--agents env: {} CATTLE_CA_CHECKSUM {now} → {new}",
                change.workload
            )
        };
        lines.push(StepLine::of(
            Phase::Agents,
            Check::ok(CheckId::AgentChecksum, line).about(change.agent.subject()),
        ));
    }
    lines
}
