//! The steps after the secrets: the agents by annotation (method 1) or by their
//! `CATTLE_CA_CHECKSUM` (method 2), and fleet's `redeployAgentGeneration`.

use serde_json::json;

use super::*;
use crate::check::Cause;
use crate::cluster::agent_workloads::{checksum_patch, set_checksum};
use crate::cluster::rancher_objects::{
    annotation, patch_cluster, patch_fleet_cluster, ManagedCluster, FORCE_DEPLOY_ANNOTATION,
    ROTATED_FOR_ANNOTATION,
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
    /// Step 2, method 1: annotate every management cluster but `local`.
    pub(super) async fn annotate_step(&mut self, marker: &str) -> Result<(), StepError> {
        let clusters: Vec<ManagedCluster> = match &self.view.agents {
            Some(agents) => agents
                .clusters
                .iter()
                .filter(|c| c.name != "local")
                .cloned()
                .collect(),
            None => {
                self.steps.push(Check::skipped(
                    CheckId::Cluster, Cause::NotPresent,
                    "agents: no management clusters in this cluster (is --context Rancher's cluster?)".to_string(),
                ));
                return Ok(());
            }
        };
        let mut pending = Vec::new();
        for cluster in clusters {
            if annotation(&cluster.object, ROTATED_FOR_ANNOTATION).as_deref() == Some(marker) {
                self.ok(
                    CheckId::Cluster,
                    format!(
                        "cluster {}: unchanged (already redeployed for this CA)",
                        cluster.name
                    ),
                );
            } else {
                pending.push(cluster);
            }
        }
        let patch = json!({"metadata": {"annotations": {
            FORCE_DEPLOY_ANNOTATION: "true", ROTATED_FOR_ANNOTATION: marker}}});
        if self.request.dry_run {
            for cluster in &pending {
                self.ok(
                    CheckId::Cluster,
                    format!(
                        "would PATCH clusters.management.cattle.io/{} (merge) {patch}",
                        cluster.name
                    ),
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
            self.ok(CheckId::Cluster, format!("cluster {}: annotated {FORCE_DEPLOY_ANNOTATION}=true (Rancher redeploys its agent with the new checksum)", cluster.name));
        }
        Ok(())
    }

    /// Step 2, method 2: set CATTLE_CA_CHECKSUM in the agent workloads of this cluster.
    pub(super) async fn env_step(&mut self, value: &str) -> Result<(), StepError> {
        if self.view.workloads.is_empty() {
            self.steps.push(Check::warning(
                CheckId::AgentChecksum, Cause::RunsElsewhere,
                format!("agents: no cattle-cluster-agent or cattle-node-agent in namespace {} of this cluster: they run in each downstream cluster — rerun with --step agents --agents env --context DOWNSTREAM", self.request.namespace),
            ));
            return Ok(());
        }
        let shown = if value.is_empty() { "\"\"" } else { value };
        let mut pending = Vec::new();
        for workload in self.view.workloads.clone() {
            if workload.checksum.as_deref().unwrap_or_default() == value {
                self.ok(
                    CheckId::AgentChecksum,
                    format!(
                        "{}: unchanged (CATTLE_CA_CHECKSUM already {shown})",
                        workload.describe()
                    ),
                );
            } else if self.request.dry_run {
                let patch = checksum_patch(&workload, value)?;
                self.ok(
                    CheckId::AgentChecksum,
                    format!("would PATCH {} (merge) {patch}", workload.describe()),
                );
            } else {
                pending.push(workload);
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
            set_checksum(&self.view.client, &workload, value).await?;
            self.ok(
                CheckId::AgentChecksum,
                format!(
                    "{}: CATTLE_CA_CHECKSUM {} → {shown} (its pods restart with it)",
                    workload.describe(),
                    workload.checksum.as_deref().unwrap_or("none")
                ),
            );
            let previous = workload.checksum.clone().unwrap_or_default();
            self.undo.push(Undo::Checksum { workload, previous });
        }
        Ok(())
    }

    /// Step 3: `redeployAgentGeneration` + 1 on every fleet cluster.
    pub(super) async fn fleet_step(&mut self, marker: &str) -> Result<(), StepError> {
        let mut pending = Vec::new();
        for cluster in self.view.fleet.clone() {
            let done =
                annotation(&cluster.object, ROTATED_FOR_ANNOTATION).as_deref() == Some(marker);
            let name = format!("fleet {}/{}", cluster.namespace, cluster.name);
            let next = cluster.redeploy_generation + 1;
            let patch = json!({"metadata": {"annotations": {ROTATED_FOR_ANNOTATION: marker}},
                "spec": {"redeployAgentGeneration": next}});
            if done {
                self.ok(
                    CheckId::Cluster,
                    format!("{name}: unchanged (already redeployed for this CA)"),
                );
            } else if self.request.dry_run {
                self.ok(
                    CheckId::Cluster,
                    format!(
                        "would PATCH clusters.fleet.cattle.io {}/{} (merge) {patch}",
                        cluster.namespace, cluster.name
                    ),
                );
            } else {
                pending.push((cluster, patch));
            }
        }
        for (cluster, _) in &pending {
            let stem = format!("{}-{}-fleet-cluster", cluster.namespace, cluster.name);
            self.backup(&stem, &cluster.object)?;
        }
        for (cluster, patch) in pending {
            stop_if_interrupted(&format!("fleet {}/{}", cluster.namespace, cluster.name))?;
            let previous = annotation(&cluster.object, ROTATED_FOR_ANNOTATION);
            let restore = json!({"metadata": {"annotations": {ROTATED_FOR_ANNOTATION: previous}},
                "spec": {"redeployAgentGeneration": cluster.redeploy_generation}});
            patch_fleet_cluster(&self.view.client, &cluster, &patch).await?;
            self.ok(
                CheckId::Cluster,
                format!(
                    "fleet {}/{}: redeployAgentGeneration {} → {}",
                    cluster.namespace,
                    cluster.name,
                    cluster.redeploy_generation,
                    cluster.redeploy_generation + 1
                ),
            );
            self.undo.push(Undo::Fleet {
                cluster,
                patch: restore,
            });
        }
        Ok(())
    }
}
