//! `rotate plan`: read-only, what apply would change, step by step.

use super::*;
use crate::check::Cause;
use crate::cluster::rancher_objects::FORCE_DEPLOY_ANNOTATION;
use crate::cluster::secrets::cert_manager_owner;

/// `rcert rotate plan`: read-only, step by step.
pub async fn plan(request: &RotateRequest) -> Result<RotateReport, crate::Error> {
    let view = read_cluster(request, false).await?;
    let release_host = view.helm.as_ref().and_then(|v| v.hostname.clone());
    let set = load_set(request, &checked_hosts(request, release_host.as_deref()))?;
    let new_checksum = set.checksum();
    let mut steps = Vec::new();
    let old_checksum =
        secret_bytes(&view.ca, rancher::CA_SECRET_KEY).map(|b| rancher::ca_checksum(&b));
    steps.push(Check::ok(
        CheckId::Secret,
        format!(
            "1. secrets: tls-rancher-ingress {} → {}; tls-ca CATTLE_CA_CHECKSUM {} → {}",
            describe_chain(secret_bytes(&view.tls, "tls.crt")),
            describe_chain(Some(set.files.cert_pem.clone())),
            old_checksum.as_deref().unwrap_or("none"),
            match (&new_checksum, &view.ca) {
                (Some(checksum), _) => checksum.clone(),
                (None, Some(_)) => "none (no cacerts.pem: a publicly trusted certificate; tls-ca is deleted and the agents' checksum emptied)".to_string(),
                (None, None) => "none (no cacerts.pem, no tls-ca: a publicly trusted certificate)".to_string(),
            }
        ),
    ));
    if let Some(owner) = view.tls.as_ref().and_then(cert_manager_owner) {
        steps.push(Check::warning(
            CheckId::Secret, Cause::ManagedByCertManager,
            format!("tls-rancher-ingress is managed by {owner}: cert-manager would revert step 1; change the helm values (ingress.tls.source=secret) first"),
        ));
    }
    if let (Some(ca), Some(leaf)) = (&set.ca, set.files.chain.first()) {
        if !set
            .files
            .chain
            .iter()
            .any(|cert| ca.certs.iter().any(|root| cert.is_issued_by(root)))
        {
            steps.push(Check::failed(
                CheckId::Chain,
                Cause::Untrusted,
                format!(
                    "the new certificate '{}' is not issued by the new CA in cacerts.pem",
                    leaf.subject
                ),
            ));
        }
    }
    let private_ca = set.ca.is_some();
    let values_right = view.helm.as_ref().is_some_and(|values| {
        values.private_ca.unwrap_or(false) == private_ca
            && values.tls_source.as_deref() == Some("secret")
    });
    let restart = format!(
        "kubectl -n {} rollout restart deploy/rancher",
        request.namespace
    );
    steps.push(match &view.helm {
        Some(values) if values_right => Check::ok(
            CheckId::HelmValues,
            format!(
                "2. helm release rancher v{} already has ingress.tls.source=secret, privateCA={private_ca}: restart Rancher so the cacerts setting follows: {restart}",
                values.revision
            ),
        ),
        found => Check::warning(
            CheckId::HelmValues, Cause::HelmValues,
            format!(
                "2. helm{}: helm upgrade rancher rancher-latest/rancher -n {} --reuse-values --set ingress.tls.source=secret --set privateCA={private_ca} (it restarts Rancher; the cacerts setting follows)",
                found.as_ref().map_or(" release not found (installed another way?)".to_string(), |values| format!(
                    " release rancher v{} has ingress.tls.source={}, privateCA={}",
                    values.revision,
                    values.tls_source.as_deref().unwrap_or("(default rancher)"),
                    values.private_ca.map_or("unset".to_string(), |v| v.to_string())
                )),
                request.namespace
            ),
        ),
    });
    let refusal = strict_mode_refusal(&set, &view, request);
    let refused = refusal.is_some();
    steps.extend(refusal);
    if let Some(agents) = view.agents.as_ref().filter(|_| !refused) {
        let mode = agents.agent_tls_mode.as_deref().unwrap_or("system-store");
        let blockers = strict_switch_blockers(agents);
        steps.push(match (mode, blockers.is_empty()) {
            (rancher::AGENT_TLS_STRICT, _) => Check::ok(
                CheckId::AgentTlsMode,
                "agent-tls-mode is strict: agents trust only the CA in Rancher's cacerts setting".to_string(),
            ),
            (_, true) => Check::ok(
                CheckId::AgentTlsMode,
                format!("agent-tls-mode is {mode}; a switch to strict would be accepted (every cluster passes AgentTlsStrictCheck)"),
            ),
            (_, false) => Check::ok(
                CheckId::AgentTlsMode,
                format!(
                    "agent-tls-mode is {mode}; a switch to strict would be refused by rancher-webhook until these clusters pass AgentTlsStrictCheck: {}",
                    blockers.join(", ")
                ),
            ),
        });
    }
    match &view.agents {
        Some(agents) => {
            let strict = agents.agent_tls_mode.as_deref() == Some(rancher::AGENT_TLS_STRICT);
            for cluster in agents.clusters.iter().filter(|c| c.name != "local") {
                let connected = cluster
                    .connected
                    .as_ref()
                    .map_or("unknown", |c| c.status.as_str());
                let mut line = format!(
                    "3. agents: cluster {} (Connected={connected}) gets {FORCE_DEPLOY_ANNOTATION}=true",
                    cluster.name
                );
                let failing_strict = cluster
                    .strict_check
                    .as_ref()
                    .is_some_and(|c| c.status != "True");
                if strict && failing_strict {
                    line.push_str(": agent-tls-mode is strict and it fails AgentTlsStrictCheck — its agent will not trust the new CA");
                    steps.push(Check::warning(CheckId::Cluster, Cause::StrictCheckFailed, line));
                } else {
                    steps.push(Check::ok(CheckId::Cluster, line));
                }
            }
        }
        None if !view.workloads.is_empty() => steps.push(Check::ok(
            CheckId::Cluster,
            "3. agents: no Rancher objects here (a downstream cluster): apply --step agents --agents env sets the agents' checksum".to_string(),
        )),
        None => steps.push(Check::skipped(
            CheckId::Cluster, Cause::NotPresent,
            "3. agents: no Rancher objects and no agents in this cluster".to_string(),
        )),
    }
    for workload in &view.workloads {
        steps.push(Check::ok(
            CheckId::AgentChecksum,
            format!(
                "3. agents, --agents env: {} CATTLE_CA_CHECKSUM {} → {}",
                workload.describe(),
                workload.checksum.as_deref().unwrap_or("none"),
                new_checksum.as_deref().unwrap_or("none (emptied)")
            ),
        ));
    }
    for cluster in &view.fleet {
        steps.push(Check::ok(
            CheckId::Cluster,
            format!(
                "4. fleet: {}/{} redeployAgentGeneration {} → {}",
                cluster.namespace,
                cluster.name,
                cluster.redeploy_generation,
                cluster.redeploy_generation + 1
            ),
        ));
    }
    Ok(finish(
        "plan",
        request,
        new_checksum,
        set.validation,
        steps,
        view.requests.count(),
    ))
}
