//! doctor's agents part: Rancher's `cacerts` setting against `tls-ca`, the
//! `CATTLE_CA_CHECKSUM` of `cattle-cluster-agent` against what `/cacerts` serves, and every
//! downstream cluster's `Connected` (and, in strict mode, `AgentTlsStrictCheck`) condition.

use super::*;
use crate::check::Cause;
use crate::check::Evidence;
use crate::cluster::rancher_objects::{
    agent_state, helm_values, AgentState, Condition, HelmValues,
};

/// Rancher's documented agent update (method 1): redeploy every downstream agent.
/// Rancher redeploys one downstream cluster's agent with the checksum it serves now.
fn force_deploy(cause: Cause, cluster: &str) -> Fix {
    Fix::command(
        cause,
        [
            "kubectl",
            "annotate",
            "clusters.management.cattle.io",
            cluster,
            "io.cattle.agent.force.deploy=true",
            "--overwrite",
        ],
    )
    .note("Rancher redeploys its agent (Rancher docs: Updating a Private CA Certificate, method 1)")
}

/// A disconnected cluster: its agent's log says why; a checksum that does not match is
/// set on that cluster (rcert cannot reach it from here).
fn disconnected_fix(cluster: &str, served: Option<&str>) -> Fix {
    let set = served.map_or_else(
        || "rcert rotate apply --to NEW_SET --step agents --agents env --context THAT_CLUSTER".to_string(),
        |served| format!("kubectl -n cattle-system set env deploy/cattle-cluster-agent CATTLE_CA_CHECKSUM={served}"),
    );
    Fix::words(
        Cause::ClusterDisconnected,
        format!("on cluster {cluster}: kubectl -n cattle-system logs deploy/cattle-cluster-agent; if it says \"The CA checksum does not match\": {set}"),
    )
}

/// An agent workload of this cluster given the checksum `/cacerts` serves (Rancher's
/// method 2): it restarts and compares that one.
fn set_checksum_fix(
    workload: &crate::cluster::agent_workloads::AgentWorkload,
    served: &str,
) -> Fix {
    let target = format!("{}/{}", workload.agent.kind(), workload.agent.name());
    Fix::command(
        Cause::AgentChecksumMismatch,
        [
            "kubectl",
            "-n",
            workload.namespace.as_str(),
            "set",
            "env",
            target.as_str(),
            &format!("CATTLE_CA_CHECKSUM={served}"),
        ],
    )
    .note("the checksum /cacerts serves now (Rancher docs: Updating a Private CA Certificate, method 2); its pods restart with it")
}

impl Doctor<'_> {
    /// Read the agents' state and judge it.
    pub(super) async fn agents_part(&mut self, secrets: &ClusterSecrets, served: Option<&str>) {
        let Some(client) = self.client.clone() else {
            return;
        };
        match agent_state(&client, &self.request.namespace).await {
            Ok(Some(state)) => {
                self.judge_agents(&state, secrets, served);
                let helm = helm_values(&client, &self.request.namespace).await;
                self.judge_helm(helm, secrets);
            }
            Ok(None) => {
                self.add(
                    Section::Agents,
                    Check::skipped(
                        CheckId::CacertsSetting,
                        Cause::NotPresent,
                        "no Rancher objects (settings.management.cattle.io) in this cluster"
                            .to_string(),
                    ),
                    None,
                );
                // A downstream cluster: what its nodes' rancher-system-agent is told.
                self.judge_system_agent(&client, served).await;
            }
            Err(reason) => {
                self.add(
                    Section::Agents,
                    Check::skipped(CheckId::CacertsSetting, Cause::ApiError, reason.to_string()),
                    None,
                );
            }
        }
    }

    /// `stv-aggregation` (what rancher-system-agent on Rancher-provisioned nodes trusts
    /// Rancher with) against what `/cacerts` serves.
    async fn judge_system_agent(&mut self, client: &kube::Client, served: Option<&str>) {
        let namespace = self.request.namespace.clone();
        let found = match crate::cluster::rancher_objects::system_agent_ca(client, &namespace).await
        {
            Ok(Some(found)) => found,
            Ok(None) => return,
            Err(err) => {
                self.add(
                    Section::Agents,
                    Check::failed(
                        CheckId::AgentChecksum,
                        Cause::ApiError,
                        format!("cannot read secret {namespace}/stv-aggregation: {err}"),
                    )
                    .about(stv_aggregation(&namespace)),
                    None,
                );
                return;
            }
        };
        let Some(served) = served else {
            return;
        };
        let check = if found.checksum.as_deref() == Some(served) {
            Check::ok(
                CheckId::AgentChecksum,
                "secret stv-aggregation (rancher-system-agent's CA on this cluster's nodes) matches /cacerts".to_string(),
            )
        } else {
            Check::failed(
                CheckId::AgentChecksum, Cause::AgentChecksumMismatch,
                format!(
                    "secret {namespace}/stv-aggregation holds CATTLE_CA_CHECKSUM={}, but /cacerts serves sha256 {served}: rancher-system-agent on this cluster's nodes trusts the old CA (rancher/rancher#48382, #52281)",
                    found.checksum.as_deref().unwrap_or("none")
                ),
            )
            .with_evidence(Evidence::checksums(found.checksum.as_deref(), Some(served)))
        };
        let fix = (check.status == Status::Failed).then(|| {
            rollout_restart(Cause::AgentChecksumMismatch, &namespace, "deploy/cattle-cluster-agent")
            .note("it rewrites stv-aggregation; the system-agent-upgrader plan then updates the nodes")
        });
        self.add(
            Section::Agents,
            check.about(stv_aggregation(&namespace)),
            fix,
        );
    }

    /// Helm values that make Rancher ignore the secrets rcert pushes.
    fn judge_helm(
        &mut self,
        helm: Result<Option<HelmValues>, crate::cluster::RemoteError>,
        secrets: &ClusterSecrets,
    ) {
        let values = match helm {
            Ok(Some(values)) => values,
            Ok(None) => return,
            Err(reason) => {
                self.add(
                    Section::Agents,
                    Check::skipped(CheckId::HelmValues, Cause::ApiError, reason.to_string()),
                    None,
                );
                return;
            }
        };
        let upgrade = |value: &str| helm_upgrade(&self.request.namespace, value);
        let release = format!("helm release rancher v{}", values.revision);
        if secrets.ca_bytes().is_some() && values.private_ca != Some(true) {
            self.add(
                Section::Agents,
                Check::failed(
                    CheckId::HelmValues, Cause::HelmValues,
                    format!("{release} has privateCA={}: Rancher ignores secret tls-ca and /cacerts stays empty", values.private_ca.map_or("unset".to_string(), |v| v.to_string())),
                ),
                Some(upgrade("privateCA=true")),
            );
        } else if secrets.tls.is_some()
            && values.tls_source.as_deref().is_some_and(|s| s != "secret")
        {
            self.add(
                Section::Agents,
                Check::failed(
                    CheckId::HelmValues, Cause::HelmValues,
                    format!("{release} has ingress.tls.source={}: cert-manager issues the certificate and overwrites tls-rancher-ingress", values.tls_source.clone().unwrap_or_default()),
                ),
                Some(upgrade("ingress.tls.source=secret")),
            );
        } else {
            self.add(
                Section::Agents,
                Check::ok(
                    CheckId::HelmValues,
                    format!(
                        "{release}: ingress.tls.source={}, privateCA={}",
                        values.tls_source.as_deref().unwrap_or("(default rancher)"),
                        values
                            .private_ca
                            .map_or("unset".to_string(), |v| v.to_string())
                    ),
                ),
                None,
            );
        }
    }

    /// `agent-tls-mode`: shown, and failed in strict mode with an empty `cacerts` setting
    /// (agents then exit: "Strict CA verification is enabled but encountered error finding
    /// root CA").
    fn judge_tls_mode(&mut self, state: &AgentState) {
        let mode = state.agent_tls_mode.as_deref().unwrap_or("system-store");
        let strict = mode == crate::rancher::AGENT_TLS_STRICT;
        let empty = state
            .cacerts_setting
            .as_deref()
            .is_none_or(|value| value.trim().is_empty());
        if strict && empty {
            self.add(
                Section::Agents,
                Check::failed(
                    CheckId::AgentTlsMode, Cause::StrictWithoutCa,
                    "agent-tls-mode is strict but Rancher's cacerts setting is empty: agents exit (\"Strict CA verification is enabled but encountered error finding root CA\")".to_string(),
                ),
                Some(
                    Fix::command(Cause::StrictWithoutCa, crate::rancher::system_store_argv()).note(
                        "or put the CA (for a public certificate: its root) in secret tls-ca and restart Rancher",
                    ),
                ),
            );
        } else {
            self.add(
                Section::Agents,
                Check::ok(
                    CheckId::AgentTlsMode,
                    format!(
                        "agent-tls-mode is {mode}{}",
                        if strict {
                            ": agents trust only the cacerts setting"
                        } else {
                            ": agents also trust the operating system's store"
                        }
                    ),
                ),
                None,
            );
        }
    }

    fn judge_agents(&mut self, state: &AgentState, secrets: &ClusterSecrets, served: Option<&str>) {
        let restart = rollout_restart(
            Cause::CacertsSettingStale,
            &self.request.namespace,
            "deploy/rancher",
        )
        .note("the cacerts setting follows tls-ca at start");
        let ca = secrets.ca_bytes();
        self.judge_tls_mode(state);
        match (&state.cacerts_setting, &ca) {
            (Some(setting), Some(ca)) if !crate::rancher::same_cacerts(setting.as_bytes(), ca) => self.add(
                Section::Agents,
                Check::failed(
                    CheckId::CacertsSetting, Cause::CacertsSettingStale,
                    "Rancher's cacerts setting differs from secret tls-ca: Rancher has not restarted since tls-ca changed, so agents are told the old CA".to_string(),
                )
                .with_evidence(Evidence::checksums(
                    Some(&crate::rancher::ca_checksum(setting.as_bytes())),
                    Some(&crate::rancher::ca_checksum(ca)),
                )),
                Some(restart),
            ),
            (Some(_), Some(_)) => self.add(
                Section::Agents,
                Check::ok(CheckId::CacertsSetting, "Rancher's cacerts setting equals secret tls-ca".to_string()),
                None,
            ),
            (None, Some(_)) => self.add(
                Section::Agents,
                Check::failed(
                    CheckId::CacertsSetting, Cause::CacertsSettingStale,
                    "Rancher's cacerts setting is empty although secret tls-ca exists: the helm release lacks privateCA=true, or Rancher has not restarted".to_string(),
                ),
                Some(helm_upgrade(&self.request.namespace, "privateCA=true")),
            ),
            _ => {}
        }
        // What agents must hold: what /cacerts served, else (the endpoint not reached)
        // Rancher's cacerts setting, which is what /cacerts serves.
        let (expected, from) = match served {
            Some(served) => (Some(served.to_string()), "/cacerts serves sha256"),
            None => (
                state
                    .cacerts_setting
                    .as_deref()
                    .map(|setting| crate::rancher::ca_checksum(setting.as_bytes())),
                "Rancher's cacerts setting (what /cacerts serves) has sha256",
            ),
        };
        for workload in &state.workloads {
            let (Some(agent), Some(expected)) = (&workload.checksum, expected.as_deref()) else {
                continue;
            };
            let name = workload.agent.name();
            if agent != expected {
                self.add(
                    Section::Agents,
                    Check::failed(
                        CheckId::AgentChecksum, Cause::AgentChecksumMismatch,
                        format!("{name} has CATTLE_CA_CHECKSUM={agent}, but {from} {expected}: agents will fail at their next restart (\"The CA checksum does not match\")"),
                    )
                    .about(workload.subject())
                    .with_evidence(Evidence::checksums(Some(agent), Some(expected))),
                    Some(set_checksum_fix(workload, expected)),
                );
            } else {
                self.add(
                    Section::Agents,
                    Check::ok(
                        CheckId::AgentChecksum,
                        match served {
                            Some(_) => format!("{name}'s CATTLE_CA_CHECKSUM matches /cacerts"),
                            None => format!("{name}'s CATTLE_CA_CHECKSUM matches Rancher's cacerts setting (what /cacerts serves)"),
                        },
                    )
                    .about(workload.subject()),
                    None,
                );
            }
        }
        let strict = state.agent_tls_mode.as_deref() == Some("strict");
        for cluster in &state.clusters {
            let name = match &cluster.display_name {
                Some(display) if display != &cluster.name => {
                    format!("{} ({display})", cluster.name)
                }
                _ => cluster.name.clone(),
            };
            fn failing(condition: &Option<Condition>) -> Option<&Condition> {
                condition.as_ref().filter(|c| c.status != "True")
            }
            if let Some(condition) = failing(&cluster.connected) {
                self.add(
                    Section::Agents,
                    Check::failed(
                        CheckId::Cluster,
                        Cause::ClusterDisconnected,
                        format!(
                            "cluster {name} is not connected (Connected={}): {}",
                            condition.status,
                            condition.reason()
                        ),
                    )
                    .about(cluster.subject()),
                    Some(disconnected_fix(&cluster.name, served)),
                );
            } else if strict && failing(&cluster.strict_check).is_some() {
                let message = cluster
                    .strict_check
                    .as_ref()
                    .map(|c| c.message.clone())
                    .unwrap_or_default();
                self.add(
                    Section::Agents,
                    Check::failed(
                        CheckId::Cluster, Cause::StrictCheckFailed,
                        format!("cluster {name} fails AgentTlsStrictCheck while agent-tls-mode is strict: {message}"),
                    )
                    .about(cluster.subject()),
                    Some(force_deploy(Cause::StrictCheckFailed, &cluster.name)),
                );
            }
        }
    }
}

/// Secret `stv-aggregation` (what rancher-system-agent on the nodes trusts) as a subject.
fn stv_aggregation(namespace: &str) -> Subject {
    Subject::Secret {
        namespace: namespace.to_string(),
        name: crate::cluster::rancher_objects::STV_AGGREGATION_SECRET.to_string(),
    }
}
