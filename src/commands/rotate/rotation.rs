//! The rotation as data: [`RotationPlan`] is computed once from the new set and what the
//! cluster holds — `plan` renders it, `apply` carries it out, `status` compares the
//! cluster against it — and [`Phase`] numbers the four documented steps, here and only
//! here, so plan, apply and status number them the same.

use serde::Serialize;

use super::{secret_bytes, ClusterView, NewSet};
use crate::check::Check;
use crate::cluster::agent_workloads::AgentWorkload;
use crate::cluster::rancher_objects::{
    annotation, FleetCluster, ManagedCluster, ROTATED_FOR_ANNOTATION,
};
use crate::cluster::secrets::cert_manager_owner;
use crate::rancher;

/// A step of Rancher's documented private-CA update (`-o json`: `step`, with its
/// `number`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// 1: `tls-rancher-ingress` and `tls-ca`.
    Secrets,
    /// 2: Rancher restarts (or its helm release is upgraded) so its `cacerts` setting
    /// follows `tls-ca`.
    Rancher,
    /// 3: every downstream agent gets the new CA's checksum.
    Agents,
    /// 4: fleet's agents are redeployed.
    Fleet,
}

impl Phase {
    /// The step's number, 1 to 4.
    pub fn number(self) -> u8 {
        match self {
            Phase::Secrets => 1,
            Phase::Rancher => 2,
            Phase::Agents => 3,
            Phase::Fleet => 4,
        }
    }

    /// The step's name as the reports print it.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Secrets => "secrets",
            Phase::Rancher => "rancher",
            Phase::Agents => "agents",
            Phase::Fleet => "fleet",
        }
    }
}

/// One line of a rotate report: its check, the step it belongs to (absent for a line
/// about the whole run, such as a refusal) and, with `--all-contexts`, the context.
#[derive(Debug, Clone, Serialize)]
pub struct StepLine {
    /// The step (`secrets`, `rancher`, `agents`, `fleet`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<Phase>,
    /// The step's number (1–4), the same in plan, apply and status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<u8>,
    /// The kubeconfig context it was read in (`--all-contexts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The verdict, its cause, subject and fix.
    #[serde(flatten)]
    pub check: Check,
}

impl StepLine {
    /// A line of `phase`.
    pub fn of(phase: Phase, check: Check) -> StepLine {
        StepLine {
            step: Some(phase),
            number: Some(phase.number()),
            context: None,
            check,
        }
    }

    /// A line about the whole run (no step).
    pub fn run(check: Check) -> StepLine {
        StepLine {
            step: None,
            number: None,
            context: None,
            check,
        }
    }

    /// The check as text output shows it: `[context] N. step: message`.
    pub fn as_text(&self) -> Check {
        let mut check = self.check.clone();
        let step = self
            .step
            .map(|phase| format!("{}. {}: ", phase.number(), phase.label()))
            .unwrap_or_default();
        let context = self
            .context
            .as_ref()
            .map(|context| format!("[{context}] "))
            .unwrap_or_default();
        check.message = format!("{context}{step}{}", check.message);
        check
    }
}

/// The leaf of a chain as the plan names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertBrief {
    /// Its subject (or first name).
    pub name: String,
    /// SHA-256 of its DER, colon-separated hex.
    pub sha256: String,
}

impl CertBrief {
    /// The first certificate of PEM `bytes`, if any.
    fn of_pem(bytes: &[u8]) -> Option<CertBrief> {
        crate::x509::cert::certs_in(bytes)
            .first()
            .map(|leaf| CertBrief {
                name: leaf.display_name(),
                sha256: leaf.sha256_fingerprint.clone(),
            })
    }

    /// `'name' sha256 AB:CD:…` (the first eight bytes).
    pub fn describe(brief: Option<&CertBrief>) -> String {
        match brief {
            Some(brief) => format!(
                "'{}' sha256 {}…",
                brief.name,
                &brief.sha256[..23.min(brief.sha256.len())]
            ),
            None => "nothing".to_string(),
        }
    }
}

/// What happens to `tls-ca`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsCaChange {
    /// It gets the new `cacerts.pem` (created or replaced).
    Replace,
    /// It already holds the new `cacerts.pem`.
    Unchanged,
    /// It is deleted: the new set has no private CA.
    Delete,
    /// Nothing: no private CA before or after.
    Nothing,
}

/// Step 1: the two secrets.
#[derive(Debug, Clone, Serialize)]
pub struct SecretsChange {
    /// The leaf `tls-rancher-ingress` holds now (absent: no secret or no certificate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_now: Option<CertBrief>,
    /// The new leaf.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_new: Option<CertBrief>,
    /// CATTLE_CA_CHECKSUM of what `tls-ca` holds now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_checksum_now: Option<String>,
    /// CATTLE_CA_CHECKSUM of the new `cacerts.pem` (absent: no private CA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_checksum_new: Option<String>,
    /// What happens to `tls-ca`.
    pub tls_ca: TlsCaChange,
    /// `tls-rancher-ingress` already holds the new certificate (byte for byte).
    pub certificate_done: bool,
    /// `tls-ca` already holds the new CA (or is absent without a private CA).
    pub ca_done: bool,
    /// The cert-manager object that owns `tls-rancher-ingress` (it would revert step 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
}

impl SecretsChange {
    /// Exactly one of the two secrets holds the new set: a change stopped half-way.
    pub fn half_done(&self) -> bool {
        self.certificate_done != self.ca_done
    }

    /// A change stopped half-way in words: which secret holds the new set, which the old.
    pub fn half_done_words(&self) -> Option<(&'static str, &'static str)> {
        if !self.half_done() {
            return None;
        }
        Some(if self.ca_done {
            (
                "tls-ca holds the new CA",
                "tls-rancher-ingress still holds the old certificate",
            )
        } else {
            (
                "tls-rancher-ingress holds the new certificate",
                "tls-ca still holds the old CA",
            )
        })
    }

    /// Both secrets hold the new set.
    pub fn done(&self) -> bool {
        self.certificate_done && self.ca_done
    }
}

/// The helm release's values the plan depends on.
#[derive(Debug, Clone, Serialize)]
pub struct HelmBrief {
    /// The release's revision.
    pub revision: u32,
    /// `ingress.tls.source` (absent: the chart's default, `rancher`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_source: Option<String>,
    /// `privateCA` (absent: unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ca: Option<bool>,
}

/// Step 2: Rancher picks up the new `tls-ca`.
#[derive(Debug, Clone, Serialize)]
pub struct RancherChange {
    /// The `rancher` helm release (absent: not found — installed another way?).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helm: Option<HelmBrief>,
    /// The `privateCA` value the new set needs.
    pub private_ca: bool,
    /// The release already has `ingress.tls.source=secret` and that `privateCA`: a
    /// restart is enough (else a `helm upgrade`).
    pub values_right: bool,
    /// `agent-tls-mode` (absent: this cluster holds no Rancher settings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_tls_mode: Option<String>,
    /// Clusters rancher-webhook would cite to refuse a switch to `strict`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub strict_blockers: Vec<String>,
    /// The `cacerts` setting already holds the new CA (absent: not readable here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setting_done: Option<bool>,
    /// CATTLE_CA_CHECKSUM of what the `cacerts` setting holds (absent: empty, or not
    /// readable here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setting_checksum: Option<String>,
}

/// Step 3, method 1: a management cluster's annotation.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterChange {
    /// The cluster's name (`c-m-abc12`).
    pub name: String,
    /// Its `Connected` condition (`True`, `False`, `Unknown`; absent: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected: Option<String>,
    /// agent-tls-mode is strict and the cluster fails `AgentTlsStrictCheck`.
    pub fails_strict_check: bool,
    /// Already redeployed for this CA (rcert's marker annotation): apply leaves it.
    pub done: bool,
    /// The object as read (for the backup and the patch).
    #[serde(skip)]
    pub cluster: ManagedCluster,
}

/// Step 3, method 2: an agent workload's `CATTLE_CA_CHECKSUM`.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadChange {
    /// `deployment cattle-system/cattle-cluster-agent`.
    pub workload: String,
    /// Its checksum now (absent: unset or empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_now: Option<String>,
    /// It already has the new checksum.
    pub done: bool,
    /// The object as read.
    #[serde(skip)]
    pub agent: AgentWorkload,
}

/// Step 4: a fleet cluster's `redeployAgentGeneration`.
#[derive(Debug, Clone, Serialize)]
pub struct FleetChange {
    /// Its namespace (`fleet-default`).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `redeployAgentGeneration` now.
    pub generation_now: i64,
    /// After the change.
    pub generation_new: i64,
    /// Already redeployed for this CA: apply leaves it.
    pub done: bool,
    /// The object as read.
    #[serde(skip)]
    pub cluster: FleetCluster,
}

/// Step 3: the agents (method 1 annotates `clusters`, method 2 sets `workloads`).
#[derive(Debug, Clone, Serialize)]
pub struct AgentsChange {
    /// The checksum the agents compare after the change (`""`: emptied, no private CA).
    pub checksum: String,
    /// Every management cluster but `local` (Rancher's cluster).
    pub clusters: Vec<ClusterChange>,
    /// `cattle-cluster-agent` and `cattle-node-agent` of this cluster.
    pub workloads: Vec<WorkloadChange>,
}

/// The documented update, computed once from the new set and the cluster as read.
#[derive(Debug, Clone, Serialize)]
pub struct RotationPlan {
    /// Step 1.
    pub secrets: SecretsChange,
    /// Step 2.
    pub rancher: RancherChange,
    /// Step 3.
    pub agents: AgentsChange,
    /// Step 4.
    pub fleet: Vec<FleetChange>,
}

impl RotationPlan {
    /// The plan for `set` in the cluster `view` read.
    pub(super) fn compute(set: &NewSet, view: &ClusterView) -> RotationPlan {
        let checksum_new = set.checksum();
        // What marks an object done for this CA (rcert's annotation).
        let marker = checksum_new.clone().unwrap_or_else(|| "none".to_string());
        let done_for_ca = |object: &kube::api::DynamicObject| {
            annotation(object, ROTATED_FOR_ANNOTATION).as_deref() == Some(marker.as_str())
        };
        let strict = view.agents.as_ref().is_some_and(|agents| {
            agents.agent_tls_mode.as_deref() == Some(rancher::AGENT_TLS_STRICT)
        });
        let clusters = view
            .agents
            .iter()
            .flat_map(|agents| agents.clusters.iter())
            .filter(|cluster| cluster.name != "local")
            .map(|cluster| ClusterChange {
                name: cluster.name.clone(),
                connected: cluster.connected.as_ref().map(|c| c.status.clone()),
                fails_strict_check: strict
                    && cluster
                        .strict_check
                        .as_ref()
                        .is_some_and(|c| c.status != "True"),
                done: done_for_ca(&cluster.object),
                cluster: cluster.clone(),
            })
            .collect();
        let checksum = checksum_new.clone().unwrap_or_default();
        let workloads = view
            .workloads
            .iter()
            .map(|workload| WorkloadChange {
                workload: workload.describe(),
                checksum_now: workload.checksum.clone(),
                done: workload.checksum.as_deref().unwrap_or_default() == checksum,
                agent: workload.clone(),
            })
            .collect();
        let fleet = view
            .fleet
            .iter()
            .map(|cluster| FleetChange {
                namespace: cluster.namespace.clone(),
                name: cluster.name.clone(),
                generation_now: cluster.redeploy_generation,
                generation_new: cluster.redeploy_generation + 1,
                done: done_for_ca(&cluster.object),
                cluster: cluster.clone(),
            })
            .collect();
        RotationPlan {
            secrets: secrets_change(set, view),
            rancher: rancher_change(set, view),
            agents: AgentsChange {
                checksum,
                clusters,
                workloads,
            },
            fleet,
        }
    }
}

fn secrets_change(set: &NewSet, view: &ClusterView) -> SecretsChange {
    let certificate_found = secret_bytes(&view.tls, "tls.crt");
    let ca_found = secret_bytes(&view.ca, rancher::CA_SECRET_KEY);
    let ca_done = match &set.ca {
        Some(ca) => ca_found.as_deref() == Some(ca.bytes.as_slice()),
        None => view.ca.is_none(),
    };
    SecretsChange {
        certificate_now: certificate_found.as_deref().and_then(CertBrief::of_pem),
        certificate_new: CertBrief::of_pem(&set.files.cert_pem),
        ca_checksum_now: ca_found.as_deref().map(rancher::ca_checksum),
        ca_checksum_new: set.checksum(),
        tls_ca: match (&set.ca, &view.ca) {
            (Some(_), _) if ca_done => TlsCaChange::Unchanged,
            (Some(_), _) => TlsCaChange::Replace,
            (None, Some(_)) => TlsCaChange::Delete,
            (None, None) => TlsCaChange::Nothing,
        },
        certificate_done: certificate_found.as_deref() == Some(set.files.cert_pem.as_slice()),
        ca_done,
        managed_by: view.tls.as_ref().and_then(cert_manager_owner),
    }
}

fn rancher_change(set: &NewSet, view: &ClusterView) -> RancherChange {
    let private_ca = set.ca.is_some();
    let agents = view.agents.as_ref();
    RancherChange {
        helm: view.helm.as_ref().map(|values| HelmBrief {
            revision: values.revision,
            tls_source: values.tls_source.clone(),
            private_ca: values.private_ca,
        }),
        private_ca,
        values_right: view.helm.as_ref().is_some_and(|values| {
            values.private_ca.unwrap_or(false) == private_ca
                && values.tls_source.as_deref() == Some("secret")
        }),
        agent_tls_mode: agents.map(|agents| {
            agents
                .agent_tls_mode
                .clone()
                .unwrap_or_else(|| "system-store".to_string())
        }),
        strict_blockers: agents
            .map(super::strict_switch_blockers)
            .unwrap_or_default(),
        setting_done: agents.map(|agents| set.in_setting(agents.cacerts_setting.as_deref())),
        setting_checksum: agents
            .and_then(|agents| agents.cacerts_setting.as_deref())
            .map(|setting| rancher::ca_checksum(setting.as_bytes())),
    }
}
