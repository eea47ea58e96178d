//! What `rcert rotate` is asked: one request type per mode (plan reads, status also
//! probes, apply changes), and the commands a fix gives for the same cluster.

use std::path::PathBuf;

use crate::cluster::{ClusterTarget, Namespace};
use crate::rancher::Roots;

/// Which part of the update `apply` carries out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Step {
    /// `tls-rancher-ingress` and `tls-ca`.
    Secrets,
    /// Every downstream cluster's agent (force-deploy annotation).
    Agents,
    /// Fleet's agents (`redeployAgentGeneration` + 1).
    Fleet,
    /// All of them, in that order.
    All,
}

/// How `apply` reconfigures the downstream agents (Rancher's two documented methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentMethod {
    /// Method 1: annotate every management cluster but `local` with
    /// `io.cattle.agent.force.deploy=true`; Rancher redeploys each agent.
    Annotate,
    /// Method 2: set `CATTLE_CA_CHECKSUM` in `cattle-cluster-agent` (and
    /// `cattle-node-agent`) of the cluster `--context` names (run once per downstream cluster).
    Env,
}

/// What every mode of `rcert rotate` reads (and all `rotate plan` takes): the new set,
/// the cluster, the time.
#[derive(Debug, Clone)]
pub struct RotateRequest {
    /// The time of judgement, decided once by the CLI.
    pub at: time::OffsetDateTime,
    /// The new set: tls.crt, tls.key, cacerts.pem.
    pub dir: PathBuf,
    /// Namespace of Rancher's secrets.
    pub namespace: Namespace,
    /// The cluster (`--kubeconfig`, `--context`, `--timeout`).
    pub cluster: ClusterTarget,
    /// Rancher's host name, checked against the new certificate's SANs.
    pub host: Option<String>,
    /// Without `cacerts.pem`: the roots clients trust (`--ca`; None: Mozilla's).
    pub roots: Option<Roots>,
}

/// What `rcert rotate status` takes besides the set and the cluster. Dereferences to the
/// [`RotateRequest`] it extends.
#[derive(Debug, Clone)]
pub struct StatusRequest {
    /// The set, the cluster, the time.
    pub common: RotateRequest,
    /// The address to connect to with `host` as SNI (a node or load balancer).
    pub node: Option<String>,
    /// Every context of the kubeconfig in turn.
    pub all_contexts: bool,
}

impl std::ops::Deref for StatusRequest {
    type Target = RotateRequest;
    fn deref(&self) -> &RotateRequest {
        &self.common
    }
}

/// What `rcert rotate apply` takes besides the set and the cluster (plan and status read;
/// only apply changes). Dereferences to the [`RotateRequest`] it extends.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    /// The set, the cluster, the time: what every mode reads.
    pub common: RotateRequest,
    /// The address to reach Rancher's `/cacerts` at with `host` as SNI.
    pub node: Option<String>,
    /// Every context of the kubeconfig in turn (with `--step agents --agents env`).
    pub all_contexts: bool,
    /// Where backups go.
    pub backup_dir: PathBuf,
    /// Change nothing, say what would be sent.
    pub dry_run: bool,
    /// Which step.
    pub step: Step,
    /// How the agents are reconfigured.
    pub agents: AgentMethod,
    /// Restart Rancher after the secrets and wait this long for its `cacerts` setting to
    /// follow.
    pub restart_rancher: Option<std::time::Duration>,
}

impl std::ops::Deref for ApplyRequest {
    type Target = RotateRequest;
    fn deref(&self) -> &RotateRequest {
        &self.common
    }
}

impl RotateRequest {
    /// `rcert rotate MODE --to DIR` on the same cluster, then `extra`.
    pub(super) fn rcert(&self, mode: &str, extra: &[&str]) -> Vec<String> {
        let mut argv: Vec<String> = ["rcert", "rotate", mode, "--to"].map(String::from).to_vec();
        argv.push(self.dir.display().to_string());
        argv.extend(self.cluster.flags("--context"));
        argv.extend(extra.iter().map(|word| word.to_string()));
        argv
    }

    /// `helm upgrade` of the rancher release with `values`, on the same cluster.
    pub(super) fn helm_upgrade(&self, values: &[&str]) -> Vec<String> {
        let mut argv = crate::rancher::helm_upgrade_argv(&self.namespace, values);
        argv.extend(self.cluster.flags("--kube-context"));
        argv
    }

    /// `kubectl … -n NAMESPACE` on the same cluster, then `args`.
    pub(super) fn kubectl(&self, args: &[&str]) -> Vec<String> {
        let mut argv = vec!["kubectl".to_string()];
        argv.extend(self.cluster.flags("--context"));
        argv.extend(["-n".to_string(), self.namespace.to_string()]);
        argv.extend(args.iter().map(|word| word.to_string()));
        argv
    }
}
