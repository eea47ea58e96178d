//! `rcert rotate plan|apply|status --to DIR`: Rancher's documented private-CA update
//! ("Updating a Private CA Certificate"), step by step — the two secrets, Rancher's
//! restart so the `cacerts` setting follows, every downstream agent (force-deploy
//! annotation), fleet's agents (`redeployAgentGeneration` + 1) — with backups, a dry run,
//! a roll back of what a failed run changed, and a status that says what still lags.

mod apply;
mod plan;
mod request;
mod rotation;
mod status;

pub use apply::apply;
pub use plan::plan;
pub use request::{AgentMethod, ApplyRequest, RotateRequest, StatusRequest, Step};
pub use rotation::{Phase, RotationPlan, StepLine};
pub use status::status;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use kube::Client;
use serde::Serialize;

use crate::certset::{CertSet, Judgement};
use crate::check::Cause;
use crate::check::{Check, CheckId, Status};
use crate::cluster::agent_workloads::{self, AgentWorkload};
use crate::cluster::api_error;
use crate::cluster::rancher_objects::{
    agent_state, fleet_clusters, helm_values, AgentState, FleetCluster, HelmValues,
};
use crate::output::{checks_text, Report, Style};
use crate::rancher::Roots;
use crate::rancher::{self, CaBundle};
use crate::x509::pem::Input;

/// The result of `rotate plan`, `apply` or `status`: one line per step or object.
#[derive(Debug, Clone, Serialize)]
pub struct RotateReport {
    /// `plan`, `apply` or `status`.
    pub mode: String,
    /// The new set's directory.
    pub dir: String,
    /// Apply with `--dry-run`: nothing was changed.
    pub dry_run: bool,
    /// CATTLE_CA_CHECKSUM of the new `cacerts.pem` as Rancher will serve it.
    pub new_checksum: Option<String>,
    /// The checks of the new set (as verify runs them).
    pub validation: Vec<Check>,
    /// One line per step or object: what is, what will be, what lags — each with its
    /// step and number.
    pub steps: Vec<StepLine>,
    /// The plan the lines were rendered from (`plan` and `apply` of one context).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<RotationPlan>,
    /// What to run next (after an apply that finished its part).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<crate::check::Fix>,
    /// The worst of everything.
    pub status: Status,
    /// API requests made.
    pub api_requests: u32,
}

/// The new set, read and validated.
#[derive(Clone)]
pub(super) struct NewSet {
    /// tls.crt and tls.key, read once.
    files: CertSet,
    /// cacerts.pem, when the set has a private CA.
    ca: Option<CaBundle>,
    /// What the chain is judged against: cacerts.pem, else `--ca`, else the Mozilla roots.
    roots: Option<CaBundle>,
    /// The checks on the set, for the hosts it was last judged for.
    validation: Vec<Check>,
}

/// With `agent-tls-mode=strict`, agents trust only the CA in Rancher's `cacerts` setting
/// and exit when it is empty (cattle-cluster-agent: "Strict CA verification is enabled
/// but encountered error finding root CA"; rancher-system-agent aborts). A set without
/// `cacerts.pem` empties it: the change would disconnect every downstream cluster.
pub(super) fn strict_mode_refusal(
    set: &NewSet,
    view: &ClusterView,
    request: &RotateRequest,
) -> Option<Check> {
    let strict = view
        .agents
        .as_ref()
        .is_some_and(|agents| agents.agent_tls_mode.as_deref() == Some(rancher::AGENT_TLS_STRICT));
    (strict && set.ca.is_none()).then(|| {
        Check::failed(
            CheckId::AgentTlsMode, Cause::StrictWithoutCa,
            format!(
                "agent-tls-mode is strict: agents trust only the CA in Rancher's cacerts setting, and {} has no cacerts.pem, which empties it — every downstream agent would disconnect (\"Strict CA verification is enabled but encountered error finding root CA\"). Keep tls-ca with the public CA's root (put the root, e.g. ISRG Root X1, in {}/cacerts.pem, as Rancher's docs do for Let's Encrypt in strict mode), or switch to system-store first: {}",
                request.dir.display(),
                request.dir.display(),
                rancher::system_store_command()
            ),
        )
        .about(crate::cluster::rancher_objects::setting_subject("agent-tls-mode"))
        .with_fix(
            crate::check::Fix::command(Cause::StrictWithoutCa, rancher::system_store_argv()).note(
                format!(
                    "a choice: switch agents to the system store first (this command), or keep tls-ca by putting the public CA's root in {}/cacerts.pem",
                    request.dir.display()
                ),
            ),
        )
    })
}

/// Clusters whose `AgentTlsStrictCheck` is not True: rancher-webhook refuses a switch to
/// `agent-tls-mode=strict` while any non-local cluster lacks it (unless the setting is
/// annotated `cattle.io/force: "true"`).
pub(super) fn strict_switch_blockers(agents: &AgentState) -> Vec<String> {
    agents
        .clusters
        .iter()
        .filter(|cluster| cluster.name != "local")
        .filter(|cluster| {
            cluster
                .strict_check
                .as_ref()
                .is_none_or(|c| c.status != "True")
        })
        .map(|cluster| cluster.name.clone())
        .collect()
}

/// One report from every context's run: each line prefixed with its context; a context
/// that failed is one failed line (`reachable` when it could not be reached).
pub(super) fn combine(
    mode: &str,
    request: &RotateRequest,
    runs: Vec<(String, Result<RotateReport, crate::Error>)>,
) -> Result<RotateReport, crate::Error> {
    let mut combined: Option<RotateReport> = None;
    for (context, run) in runs {
        let (steps, requests, validation, checksum) = match run {
            Ok(report) => (
                report.steps,
                report.api_requests,
                report.validation,
                report.new_checksum,
            ),
            Err(err) => {
                let id = if err.exit_code() == crate::exit::REMOTE {
                    CheckId::Reachable
                } else {
                    CheckId::Cluster
                };
                (
                    vec![StepLine::run(Check::failed(
                        id,
                        Cause::ApiError,
                        err.to_string(),
                    ))],
                    0,
                    Vec::new(),
                    None,
                )
            }
        };
        let steps = steps.into_iter().map(|mut line| {
            line.context = Some(context.clone());
            line
        });
        match &mut combined {
            Some(report) => {
                report.steps.extend(steps);
                report.api_requests += requests;
            }
            None => {
                combined = Some(finish(
                    mode,
                    request,
                    checksum,
                    validation,
                    steps.collect(),
                    requests,
                ))
            }
        }
    }
    let mut report = combined
        .ok_or_else(|| crate::Error::Usage("the kubeconfig names no context".to_string()))?;
    report.status = overall(&report.validation, &report.steps);
    Ok(report)
}

/// The names the new certificate must cover: `--host` (its name part, when given) and
/// always the hostname of the Rancher helm release when there is one — `--host` names
/// where to look, it never replaces the release's hostname.
pub(super) fn checked_hosts(request: &RotateRequest, release_host: Option<&str>) -> Vec<String> {
    let mut hosts: Vec<String> = request
        .host
        .as_deref()
        .map(|host| crate::tls::Target::parse(host).map_or(host.to_string(), |t| t.host))
        .into_iter()
        .collect();
    if let Some(release) = release_host {
        if !hosts
            .iter()
            .any(|host| crate::checks::same_host(host, release))
        {
            hosts.push(release.to_string());
        }
    }
    hosts
}

/// Read the new set once (tls.crt, tls.key, cacerts.pem from `--to`) and judge it for
/// `hosts`.
pub(super) fn load_set(request: &RotateRequest, hosts: &[String]) -> Result<NewSet, crate::Error> {
    let path = |name: &str| Input::path(request.dir.join(name));
    let files = CertSet::load(&path("tls.crt"), &path("tls.key"))?;
    let ca_path = request.dir.join(rancher::CA_SECRET_KEY);
    let ca = ca_path
        .exists()
        .then(|| CaBundle::load(&Input::path(ca_path)))
        .transpose()?;
    let roots = match (&ca, &request.roots) {
        (Some(_), Some(_)) => {
            return Err(crate::Error::Usage(format!(
            "--ca is for a set without cacerts.pem (a publicly trusted certificate); {} has one",
            request.dir.display()
        )))
        }
        (Some(ca), None) => Some(ca.clone()),
        (None, roots) => roots.as_ref().unwrap_or(&Roots::Mozilla).load()?,
    };
    let mut set = NewSet {
        files,
        ca,
        roots,
        validation: Vec::new(),
    };
    set.judge(request, hosts);
    Ok(set)
}

/// The cluster's side, read once.
pub(super) struct ClusterView {
    client: Client,
    agents: Option<AgentState>,
    workloads: Vec<AgentWorkload>,
    fleet: Vec<FleetCluster>,
    tls: Option<k8s_openapi::api::core::v1::Secret>,
    ca: Option<k8s_openapi::api::core::v1::Secret>,
    helm: Option<HelmValues>,
    /// What the client has sent (read with `count`).
    requests: crate::cluster::ApiRequests,
}

/// Read the cluster's side; `changes`: the caller (apply) is about to change it, so a
/// failed read says that nothing was changed.
pub(super) async fn read_cluster(
    request: &RotateRequest,
    changes: bool,
) -> Result<ClusterView, crate::Error> {
    let connected = request.cluster.connect().await?;
    let (client, requests) = (connected.client, connected.requests);
    let remote = |err: crate::cluster::RemoteError| {
        if changes {
            crate::Error::RemoteBeforeChange(err)
        } else {
            crate::Error::Remote(err)
        }
    };
    let agents = agent_state(&client, &request.namespace)
        .await
        .map_err(remote)?;
    // Rancher's cluster: agent_state read them; a downstream cluster: read them here.
    let workloads = match &agents {
        Some(state) => state.workloads.clone(),
        None => agent_workloads::all(&client, &request.namespace)
            .await
            .map_err(remote)?,
    };
    let fleet = fleet_clusters(&client).await.map_err(remote)?;
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client.clone(), &request.namespace);
    let get = |name: &'static str| {
        let secrets = secrets.clone();
        async move {
            secrets
                .get_opt(name)
                .await
                .map_err(|err| remote(api_error(err, "get", &format!("secret {name}"))))
        }
    };
    let tls = get(rancher::TLS_SECRET).await?;
    let ca = get(rancher::CA_SECRET).await?;
    let helm = helm_values(&client, &request.namespace)
        .await
        .map_err(remote)?;
    Ok(ClusterView {
        client,
        agents,
        workloads,
        fleet,
        tls,
        ca,
        helm,
        requests,
    })
}

pub(super) fn secret_bytes(
    secret: &Option<k8s_openapi::api::core::v1::Secret>,
    key: &str,
) -> Option<Vec<u8>> {
    secret
        .as_ref()?
        .data
        .as_ref()?
        .get(key)
        .map(|bytes| bytes.0.clone())
}

pub(super) fn finish(
    mode: &str,
    request: &RotateRequest,
    new_checksum: Option<String>,
    validation: Vec<Check>,
    steps: Vec<StepLine>,
    api_requests: u32,
) -> RotateReport {
    RotateReport {
        mode: mode.to_string(),
        dir: request.dir.display().to_string(),
        dry_run: false,
        new_checksum,
        status: overall(&validation, &steps),
        validation,
        steps,
        plan: None,
        next: None,
        api_requests,
    }
}

/// The worst of the set's checks and the step lines.
fn overall(validation: &[Check], steps: &[StepLine]) -> Status {
    Status::worst(validation).max(Status::worst(steps.iter().map(|line| &line.check)))
}

/// Probe Rancher at `host` (through `--node` when given): the served chain, `/ping` and
/// `/cacerts`, judged against the new set's CA.
pub(super) async fn probe_rancher(
    request: &RotateRequest,
    node: Option<&str>,
    set: &NewSet,
    host: &str,
) -> Result<crate::checks::served::ProbeReport, crate::Error> {
    use crate::tls::{ProbeRequest, Target};
    let host_target = Target::parse(host)?;
    let target = match node {
        Some(node) => Target::parse(node)?,
        None => host_target.clone(),
    };
    let probe_request = ProbeRequest {
        at: request.at,
        targets: vec![target],
        servername: Some(host_target.host.clone()),
        ca: set.ca.clone(),
        alpn: crate::tls::Alpn::http1(),
        timeout: request.cluster.timeout,
        concurrency: 1,
        rancher: true,
        warn_days: 30,
        clients: crate::check::Clients::DEFAULT_SELECTION,
        max_depth: None,
    };
    Ok(crate::checks::served::probe(&probe_request, None).await)
}

impl NewSet {
    /// Judge the set (again) for `hosts`: the files are not read again.
    pub(super) fn judge(&mut self, request: &RotateRequest, hosts: &[String]) {
        self.validation = self.files.validate(&Judgement {
            roots: self.roots.clone(),
            hosts: hosts.to_vec(),
            at: request.at,
            clients: crate::check::Clients::DEFAULT_SELECTION,
        });
    }

    /// CATTLE_CA_CHECKSUM of the new `cacerts.pem` (None: no private CA).
    pub(super) fn checksum(&self) -> Option<String> {
        self.ca.as_ref().and_then(|ca| ca.checksum.clone())
    }

    /// Whether Rancher's `cacerts` setting (`None`: unset or empty) is what it hands out
    /// for this set: the new `cacerts.pem`, or nothing without a private CA.
    pub(super) fn in_setting(&self, setting: Option<&str>) -> bool {
        let wanted = self
            .ca
            .as_ref()
            .map(|ca| ca.bytes.as_slice())
            .unwrap_or_default();
        crate::rancher::same_cacerts(setting.unwrap_or_default().as_bytes(), wanted)
    }
}

impl Report for RotateReport {
    fn text(&self, style: &Style) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}",
            style.heading(&format!(
                "rotate {} --to {}{}",
                self.mode,
                self.dir,
                if self.dry_run {
                    " (dry run: nothing is changed)"
                } else {
                    ""
                }
            ))
        );
        if style.verbose || self.validation.iter().any(|c| c.status != Status::Ok) {
            out.push_str(&checks_text(&self.validation, style));
        } else {
            let _ = writeln!(
                out,
                "  {} the new set passes every check ({}; -v lists them)",
                style.status(Status::Ok),
                self.validation
                    .iter()
                    .map(|c| c.name.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let _ = writeln!(out, "{}", style.heading("Steps"));
        let lines: Vec<Check> = self.steps.iter().map(StepLine::as_text).collect();
        out.push_str(&checks_text(&lines, style));
        if let Some(next) = &self.next {
            let _ = writeln!(out, "next: {}", next.line());
        }
        if let Some(checksum) = &self.new_checksum {
            let _ = writeln!(out, "\nnew CATTLE_CA_CHECKSUM={checksum}");
        }
        let _ = writeln!(out, "{} API request(s)", self.api_requests);
        out
    }

    fn exit_code(&self) -> u8 {
        crate::output::exit_for(self.status)
    }
}

/// After the secrets: restart Rancher (its cacerts setting follows tls-ca at start),
/// watch the status, then the agents and fleet.
pub(super) fn after_secrets(request: &RotateRequest) -> crate::check::Fix {
    let then = crate::check::Fix::command(Cause::NotApplied, request.rcert("apply", &[])).line();
    crate::check::Fix::command(
        Cause::WaitingForRancher,
        request.kubectl(&["rollout", "restart", "deploy/rancher"]),
    )
    .then(request.rcert("status", &[]))
    .note(format!(
        "once status shows Rancher's cacerts setting with the new CA: {then} (the agents and fleet)"
    ))
}

/// What to run for a lagging agent or fleet step, in the state the plan found: finish
/// the secrets when they are half changed (never restart Rancher then), restart Rancher
/// while its setting lags, else `step_fix`.
pub(super) fn when_ready(
    request: &RotateRequest,
    plan: &RotationPlan,
    step_fix: crate::check::Fix,
) -> crate::check::Fix {
    if plan.secrets.half_done() {
        return crate::check::Fix::command(
            Cause::HalfDone,
            request.rcert("apply", &["--step", "secrets"]),
        )
        .note(format!("then: {}", step_fix.line()));
    }
    match plan.rancher.setting_done {
        Some(false) => after_secrets(request),
        _ => step_fix,
    }
}

/// The default backup directory beside the new set.
pub fn default_backup_dir(dir: &Path) -> PathBuf {
    dir.join("backups")
}
