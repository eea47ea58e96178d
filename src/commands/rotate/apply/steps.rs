//! The steps after the secrets: the agents by annotation (method 1) or by their
//! `CATTLE_CA_CHECKSUM` (method 2), and fleet's `redeployAgentGeneration`.

use serde_json::json;

use super::*;
use crate::check::Cause;
use crate::cluster::agent_workloads::{checksum_patch, set_checksum};
use crate::cluster::rancher_objects::{
    annotation, patch_cluster, patch_fleet_cluster, FORCE_DEPLOY_ANNOTATION, ROTATED_FOR_ANNOTATION,
};

/// Why a step of apply stopped (the run then rolls back what it changed).
#[derive(Debug, thiserror::Error)]
pub(super) enum StepError {
    /// An object could not be backed up before its change.
    #[error("cannot back up {stem} before changing it: {source}")]
    Backup {
        /// The backup's name.
        stem: String,
        /// Why.
        #[source]
        source: crate::cluster::backup::BackupError,
    },
    /// The API refused or did not answer.
    #[error(transparent)]
    Remote(#[from] crate::cluster::RemoteError),
    /// SIGINT/SIGTERM before the named object.
    #[error("interrupted (SIGINT/SIGTERM) before {0}")]
    Interrupted(String),
    /// The secrets step failed (its own state is in the text: what was rolled back).
    #[error("{0}; stopped before the agents")]
    Secrets(String),
}

/// Ctrl-C or SIGTERM before `next`: stop, so the run rolls back what it changed.
pub(super) fn stop_if_interrupted(next: &str) -> Result<(), StepError> {
    if crate::interrupt::requested() {
        return Err(StepError::Interrupted(next.to_string()));
    }
    Ok(())
}

impl Run<'_> {
    /// Step 3, method 1: annotate every management cluster but `local` not yet
    /// redeployed for this CA.
    pub(super) async fn annotate_step(&mut self, marker: &str) -> Result<(), StepError> {
        if self.view.agents.is_none() {
            self.push(
                Phase::Agents,
                Check::skipped(
                    CheckId::Cluster,
                    Cause::NotPresent,
                    "no management clusters in this cluster (is --context Rancher's cluster?)"
                        .to_string(),
                ),
            );
            return Ok(());
        }
        let mut pending = Vec::new();
        for change in self.plan.agents.clusters.clone() {
            let subject = change.cluster.subject();
            if change.done {
                let line = format!(
                    "cluster {}: unchanged (already redeployed for this CA)",
                    change.name
                );
                self.push(
                    Phase::Agents,
                    Check::ok(CheckId::Cluster, line).about(subject),
                );
            } else {
                pending.push(change.cluster);
            }
        }
        let patch = json!({"metadata": {"annotations": {
            FORCE_DEPLOY_ANNOTATION: "true", ROTATED_FOR_ANNOTATION: marker}}});
        if self.request.dry_run {
            for cluster in &pending {
                let line = format!(
                    "would PATCH clusters.management.cattle.io/{} (merge) {patch}",
                    cluster.name
                );
                let subject = cluster.subject();
                self.push(
                    Phase::Agents,
                    Check::ok(CheckId::Cluster, line).about(subject),
                );
            }
            return Ok(());
        }
        for cluster in &pending {
            self.backup(&format!("cluster-{}", cluster.name), &cluster.object)?;
        }
        for cluster in pending {
            stop_if_interrupted(&format!("cluster {}", cluster.name))?;
            let previous = |key| annotation(&cluster.object, key).map_or(Value::Null, Value::from);
            let restore = json!({"metadata": {"annotations": {
                FORCE_DEPLOY_ANNOTATION: previous(FORCE_DEPLOY_ANNOTATION),
                ROTATED_FOR_ANNOTATION: previous(ROTATED_FOR_ANNOTATION)}}});
            patch_cluster(&self.view.client, &cluster.name, &patch).await?;
            self.undo.push(Undo::Cluster {
                name: cluster.name.clone(),
                patch: restore,
            });
            let line = format!("cluster {}: annotated {FORCE_DEPLOY_ANNOTATION}=true (Rancher redeploys its agent with the new checksum)", cluster.name);
            let subject = cluster.subject();
            self.push(
                Phase::Agents,
                Check::ok(CheckId::Cluster, line).about(subject),
            );
        }
        Ok(())
    }

    /// Step 3, method 2: set CATTLE_CA_CHECKSUM in the agent workloads of this cluster.
    pub(super) async fn env_step(&mut self) -> Result<(), StepError> {
        if self.plan.agents.workloads.is_empty() {
            self.push(
                Phase::Agents,
                Check::warning(
                    CheckId::AgentChecksum, Cause::RunsElsewhere,
                    format!("no cattle-cluster-agent or cattle-node-agent in namespace {} of this cluster: they run in each downstream cluster — rerun with --step agents --agents env --context DOWNSTREAM", self.request.namespace),
                ),
            );
            return Ok(());
        }
        let value = self.plan.agents.checksum.clone();
        let shown = if value.is_empty() {
            "\"\""
        } else {
            value.as_str()
        };
        let mut pending = Vec::new();
        for change in self.plan.agents.workloads.clone() {
            let subject = change.agent.subject();
            if change.done {
                let line = format!(
                    "{}: unchanged (CATTLE_CA_CHECKSUM already {shown})",
                    change.workload
                );
                self.push(
                    Phase::Agents,
                    Check::ok(CheckId::AgentChecksum, line).about(subject),
                );
            } else if self.request.dry_run {
                let patch = checksum_patch(&change.agent, &value)?;
                let line = format!("would PATCH {} (merge) {patch}", change.workload);
                self.push(
                    Phase::Agents,
                    Check::ok(CheckId::AgentChecksum, line).about(subject),
                );
            } else {
                pending.push(change.agent);
            }
        }
        for workload in &pending {
            let stem = format!(
                "{}-{}-{}",
                workload.namespace,
                workload.agent.name(),
                workload.agent.kind()
            );
            self.backup(&stem, &workload.object)?;
        }
        for workload in pending {
            stop_if_interrupted(&workload.describe())?;
            set_checksum(&self.view.client, &workload, &value).await?;
            let line = format!(
                "{}: CATTLE_CA_CHECKSUM {} → {shown} (its pods restart with it)",
                workload.describe(),
                workload.checksum.as_deref().unwrap_or("none")
            );
            let subject = workload.subject();
            self.push(
                Phase::Agents,
                Check::ok(CheckId::AgentChecksum, line).about(subject),
            );
            let previous = workload.checksum.clone().unwrap_or_default();
            self.undo.push(Undo::Checksum { workload, previous });
        }
        Ok(())
    }

    /// Step 4: `redeployAgentGeneration` + 1 on every fleet cluster not yet redeployed for
    /// this CA.
    pub(super) async fn fleet_step(&mut self, marker: &str) -> Result<(), StepError> {
        let mut pending = Vec::new();
        for change in self.plan.fleet.clone() {
            let subject = change.cluster.subject();
            let patch = json!({"metadata": {"annotations": {ROTATED_FOR_ANNOTATION: marker}},
                "spec": {"redeployAgentGeneration": change.generation_new}});
            if change.done {
                let line = format!(
                    "{}/{}: unchanged (already redeployed for this CA)",
                    change.namespace, change.name
                );
                self.push(
                    Phase::Fleet,
                    Check::ok(CheckId::Cluster, line).about(subject),
                );
            } else if self.request.dry_run {
                let line = format!(
                    "would PATCH clusters.fleet.cattle.io {}/{} (merge) {patch}",
                    change.namespace, change.name
                );
                self.push(
                    Phase::Fleet,
                    Check::ok(CheckId::Cluster, line).about(subject),
                );
            } else {
                pending.push((change, patch));
            }
        }
        for (change, _) in &pending {
            let stem = format!("{}-{}-fleet-cluster", change.namespace, change.name);
            self.backup(&stem, &change.cluster.object)?;
        }
        for (change, patch) in pending {
            stop_if_interrupted(&format!("fleet {}/{}", change.namespace, change.name))?;
            let cluster = change.cluster;
            let previous = annotation(&cluster.object, ROTATED_FOR_ANNOTATION);
            let restore = json!({"metadata": {"annotations": {ROTATED_FOR_ANNOTATION: previous}},
                "spec": {"redeployAgentGeneration": change.generation_now}});
            patch_fleet_cluster(&self.view.client, &cluster, &patch).await?;
            let line = format!(
                "{}/{}: redeployAgentGeneration {} → {}",
                change.namespace, change.name, change.generation_now, change.generation_new
            );
            let subject = cluster.subject();
            self.push(
                Phase::Fleet,
                Check::ok(CheckId::Cluster, line).about(subject),
            );
            self.undo.push(Undo::Fleet {
                cluster,
                patch: restore,
            });
        }
        Ok(())
    }
}
