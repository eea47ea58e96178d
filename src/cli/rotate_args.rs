//! The clap definitions of `rcert rotate plan|apply|status`.

use crate::rancher::Roots;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::args::ClusterArgs;

/// `rcert rotate …`.
#[derive(Debug, Subcommand)]
pub enum RotateCommand {
    /// Read-only: validate DIR, read the cluster, print what apply would change, step by step.
    #[command(after_help = ROTATE_EXAMPLES)]
    Plan(RotateArgs),
    /// Carry out the update (all steps, or one), backed up, rolled back on failure.
    #[command(after_help = ROTATE_EXAMPLES)]
    Apply(RotateApplyArgs),
    /// What still lags behind DIR, one line each (exit 1 while anything does).
    #[command(after_help = ROTATE_EXAMPLES)]
    Status(RotateStatusArgs),
}

/// Arguments of `rcert rotate status`.
#[derive(Debug, Args)]
pub struct RotateStatusArgs {
    /// The shared arguments.
    #[command(flatten)]
    pub common: RotateArgs,
    /// Every context of the kubeconfig in turn (a Rancher kubeconfig names every downstream
    /// cluster): each one's agents, stv-aggregation and conditions, each line prefixed
    /// with its context.
    #[arg(long, conflicts_with = "context")]
    pub all_contexts: bool,
    /// Connect here (a node or load balancer) with --host as SNI: what it serves and its
    /// /cacerts.
    #[arg(long, value_name = "ADDR[:PORT]", requires = "host")]
    pub node: Option<String>,
}

const ROTATE_EXAMPLES: &str = "\
Examples:
  rcert selfsign --host rancher.example.com --out ./new-ca      # or rcert import from your CA
  rcert rotate plan --to ./new-ca
  rcert rotate apply --to ./new-ca --dry-run
  rcert rotate apply --to ./new-ca                     # the secrets; the agents wait for Rancher
  kubectl -n cattle-system rollout restart deploy/rancher
  rcert rotate apply --to ./new-ca                     # the agents and fleet
  rcert rotate status --to ./new-ca --host rancher.example.com
  rcert rotate apply --to ./new-ca --restart-rancher   # all of it in one run
  # method 2 on every downstream cluster of a Rancher kubeconfig:
  rcert rotate apply --to ./new-ca --step agents --agents env \\
      --all-contexts --host rancher.example.com
  rcert rotate status --to ./new-ca --all-contexts   # every downstream cluster, stv-aggregation too";

/// Arguments shared by `rotate plan`, `apply` and `status`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The new set: tls.crt, tls.key and cacerts.pem.
    #[arg(long = "to", value_name = "DIR")]
    pub dir: PathBuf,
    /// Namespace of Rancher's secrets.
    #[arg(short, long, default_value = crate::rancher::NAMESPACE, value_name = "NS")]
    pub namespace: String,
    /// Which cluster: --kubeconfig and --context.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Rancher's host name, checked against the new certificate's SANs (status: also
    /// probed — the certificate it serves and /cacerts).
    #[arg(long, value_name = "NAME[:PORT]")]
    pub host: Option<String>,
    /// Only for a set without cacerts.pem (a publicly trusted certificate): the roots
    /// clients trust — a file, or `system` (this machine's store, as agents with
    /// agent-tls-mode=system-store). Default: the Mozilla roots.
    #[arg(long, value_name = "FILE|system|mozilla", value_parser = Roots::parse)]
    pub ca: Option<Roots>,
    /// Timeout of each API request (e.g. 10s).
    #[arg(long, default_value = "10s", value_name = "DUR", value_parser = crate::tls::parse_duration)]
    pub timeout: std::time::Duration,
}

/// Arguments of `rotate apply`.
#[derive(Debug, Args)]
pub struct RotateApplyArgs {
    /// The shared arguments.
    #[command(flatten)]
    pub common: RotateArgs,
    /// Which step to carry out.
    #[arg(long, value_enum, default_value = "all")]
    pub step: crate::commands::rotate::Step,
    /// How the agents learn the new CA: annotate (Rancher redeploys every downstream
    /// agent) or env (set CATTLE_CA_CHECKSUM in cattle-cluster-agent and cattle-node-agent
    /// of the --context cluster, or of every context with --all-contexts).
    #[arg(long, value_enum, default_value = "annotate")]
    pub agents: crate::commands::rotate::AgentMethod,
    /// With --step agents --agents env: every context of the kubeconfig in turn (a Rancher
    /// kubeconfig names every downstream cluster); --host is needed to check /cacerts.
    #[arg(long, conflicts_with = "context", requires = "host")]
    pub all_contexts: bool,
    /// Reach Rancher's /cacerts here (a node or load balancer) with --host as SNI, for
    /// the check before the agents.
    #[arg(long, value_name = "ADDR[:PORT]", requires = "host")]
    pub node: Option<String>,
    /// After the secrets, restart Rancher (as kubectl rollout restart deploy/rancher) and
    /// wait for its cacerts setting to follow, then go on with the agents and fleet.
    #[arg(long)]
    pub restart_rancher: bool,
    /// With --restart-rancher: how long to wait for the cacerts setting (e.g. 10m).
    #[arg(long, default_value = "10m", value_name = "DUR", value_parser = crate::tls::parse_duration, requires = "restart_rancher")]
    pub wait: std::time::Duration,
    /// Change nothing; say what would be sent.
    #[arg(long)]
    pub dry_run: bool,
    /// Where backups of changed objects go (default: DIR/backups).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
}
