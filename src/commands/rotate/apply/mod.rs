//! `rotate apply`: the documented steps carried out — refused for an invalid set, every
//! object backed up before it changes, objects already done for this CA reported
//! unchanged (a rerun is safe), and on a failure everything this run changed put back.

mod gate;
mod steps;

use steps::StepError;

use serde_json::Value;

use super::rotation::{Phase, RotationPlan, StepLine};
use super::*;
use crate::check::{Cause, Fix, Subject};
use crate::cluster::agent_workloads::set_checksum;
use crate::cluster::backup;
use crate::cluster::rancher_objects::setting_subject;
use crate::cluster::rancher_objects::{patch_cluster, patch_fleet_cluster};
use crate::cluster::secrets::{
    apply_desired, check_backup_dir, secret, undo, Applied, Desired, Options,
};

/// A change this run made outside the secrets, and the patch that takes it back.
enum Undo {
    /// A management cluster's annotations.
    Cluster { name: String, patch: Value },
    /// A fleet cluster's generation and annotation.
    Fleet { cluster: FleetCluster, patch: Value },
    /// An agent workload's CATTLE_CA_CHECKSUM (re-read before it is set back).
    Checksum {
        workload: AgentWorkload,
        previous: String,
    },
}

impl Undo {
    fn describe(&self) -> String {
        match self {
            Undo::Cluster { name, .. } => format!("cluster {name}"),
            Undo::Fleet { cluster, .. } => format!("fleet {}/{}", cluster.namespace, cluster.name),
            Undo::Checksum { workload, .. } => workload.describe(),
        }
    }
}

/// One `rotate apply` run: what it reported and what it changed.
struct Run<'a> {
    request: &'a ApplyRequest,
    view: ClusterView,
    /// What the run carries out, computed once from the set and the cluster as read.
    plan: RotationPlan,
    steps: Vec<StepLine>,
    /// What step 1 changed (to put back when a later step fails).
    secrets: Option<Applied>,
    /// What the later steps changed, oldest first.
    undo: Vec<Undo>,
}

fn options(request: &ApplyRequest) -> Options<'_> {
    Options {
        namespace: &request.namespace,
        backup_dir: &request.backup_dir,
        backup_at: request.at,
        replace: false,
        create_namespace: false,
        override_cert_manager: false,
    }
}

/// `rcert rotate apply`: refuses an invalid set; every change backed up; a failure rolls
/// back what this run changed. With `--all-contexts`, the agents of every context in turn.
pub async fn apply(request: &ApplyRequest) -> Result<RotateReport, crate::Error> {
    if request.all_contexts {
        return apply_everywhere(request).await;
    }
    let set = load_set(request, &checked_hosts(request, None))?;
    apply_to_cluster(request, set).await
}

/// `--step agents --agents env --all-contexts`: each context's agents, one after the
/// other. A context that fails or cannot be reached does not stop the others: each one
/// that was changed holds the checksum Rancher already hands out (the gate of every run),
/// so it is done, not half-done; each line names its context.
async fn apply_everywhere(request: &ApplyRequest) -> Result<RotateReport, crate::Error> {
    if request.step != Step::Agents || request.agents != AgentMethod::Env {
        return Err(crate::Error::Usage(
            "--all-contexts is for --step agents --agents env (each downstream cluster's own agents)".to_string(),
        ));
    }
    // The set is read once for every context.
    let set = load_set(request, &checked_hosts(request, None))?;
    if Status::worst(&set.validation) == Status::Failed {
        // The same refusal every context would give, once.
        return apply_to_cluster(request, set).await;
    }
    let mut runs = Vec::new();
    for cluster in request.cluster.every_context()? {
        let context = cluster.context.clone().unwrap_or_default();
        let one = ApplyRequest {
            common: RotateRequest {
                cluster,
                ..request.common.clone()
            },
            all_contexts: false,
            ..request.clone()
        };
        runs.push((context, apply_to_cluster(&one, set.clone()).await));
    }
    combine("apply", request, runs)
}

/// One cluster's apply (the `--context` one) of the set read from `--to`.
async fn apply_to_cluster(
    request: &ApplyRequest,
    mut set: NewSet,
) -> Result<RotateReport, crate::Error> {
    let new_checksum = set.checksum();
    if Status::worst(&set.validation) == Status::Failed {
        let steps = vec![refused(format!(
            "refused: {} does not validate; nothing was changed",
            request.dir.display()
        ))];
        return Ok(finished(request, new_checksum, set.validation, steps, 0));
    }
    let view = read_cluster(request, true).await?;
    // The set must always cover the hostname the helm release gives Rancher; --host
    // only names where to look.
    let release_host = view.helm.as_ref().and_then(|v| v.hostname.clone());
    if let Some(host) = release_host {
        set.judge(request, &checked_hosts(request, Some(&host)));
        if Status::worst(&set.validation) == Status::Failed {
            let steps = vec![refused(format!(
                "refused: {} does not validate for {host}, the hostname of the rancher helm release; nothing was changed",
                request.dir.display()
            ))];
            return Ok(finished(
                request,
                new_checksum,
                set.validation,
                steps,
                view.requests.count(),
            ));
        }
    }
    if let Some(refusal) = strict_mode_refusal(&set, &view, request) {
        let steps = vec![
            StepLine::of(Phase::Rancher, refusal),
            refused("refused: nothing was changed".to_string()),
        ];
        return Ok(finished(
            request,
            new_checksum,
            set.validation,
            steps,
            view.requests.count(),
        ));
    }
    // Only a run that will change something makes its backup directory.
    if !request.dry_run {
        check_backup_dir(&request.backup_dir)?;
    }
    let plan = RotationPlan::compute(&set, &view);
    let mut run = Run {
        request,
        view,
        plan,
        steps: Vec::new(),
        secrets: None,
        undo: Vec::new(),
    };
    let wants = |step: Step| request.step == step || request.step == Step::All;
    // What marks an object done for this CA.
    let marker = new_checksum.clone().unwrap_or_else(|| "none".to_string());
    let mut outcome = Ok(());
    if wants(Step::Secrets) {
        outcome = run.secrets_step(&set).await;
    }
    if outcome.is_ok() && !request.dry_run {
        outcome = steps::stop_if_interrupted("the agents");
    }
    // The agents may only learn the new CA once Rancher hands it out: a checksum set
    // earlier breaks them at their next restart, and a redeploy Rancher runs earlier
    // gives them the old one again.
    let later_steps = wants(Step::Agents) || wants(Step::Fleet);
    let mut waiting = false;
    if outcome.is_ok() && later_steps {
        if let Some(why) = run.rancher_lags(&set).await {
            let restartable = run.view.agents.is_some();
            match request.restart_rancher {
                Some(wait) if restartable => {
                    if let Some(why) = run.restart_and_wait(&set, wait).await {
                        waiting = true;
                        run.restart_failed(&why);
                    }
                }
                Some(_) => {
                    waiting = true;
                    run.restart_failed(&format!("this cluster holds no Rancher settings (is --context Rancher's cluster?); {why}"));
                }
                None => {
                    waiting = !request.dry_run;
                    run.wait_for_rancher(&why);
                }
            }
        }
    }
    if outcome.is_ok() && !waiting && wants(Step::Agents) {
        outcome = match request.agents {
            AgentMethod::Annotate => run.annotate_step(&marker).await,
            AgentMethod::Env => run.env_step().await,
        };
    }
    if outcome.is_ok() && !waiting && wants(Step::Fleet) {
        outcome = run.fleet_step(&marker).await;
    }
    let mut next = None;
    match outcome {
        Err(message) => {
            let state = run.roll_back().await;
            run.steps.push(StepLine::run(Check::failed(
                CheckId::Cluster,
                Cause::HalfDone,
                format!("{message}; {state}"),
            )));
        }
        Ok(()) if request.dry_run => {}
        Ok(()) if waiting => next = Some(run.waiting_fix()),
        Ok(()) => next = Some(next_step(request, later_steps, &run.plan)),
    }
    let plan = run.plan.clone();
    let mut report = finished(
        request,
        new_checksum,
        set.validation,
        run.steps,
        run.view.requests.count(),
    );
    report.plan = Some(plan);
    report.next = next;
    Ok(report)
}

/// What to run after an apply that finished its part: `rotate status` after the agents,
/// Rancher's restart and the agents step after the secrets alone.
fn next_step(request: &ApplyRequest, agents_done: bool, plan: &RotationPlan) -> Fix {
    if agents_done {
        return Fix::command(Cause::NotApplied, request.rcert("status", &[]))
            .note("until every agent has the new checksum and every cluster is connected");
    }
    if plan.rancher.setting_done == Some(true) {
        // Rancher already hands out the new CA: the agents and fleet can follow now.
        return Fix::command(Cause::NotApplied, request.rcert("apply", &[]))
            .note("the agents and fleet (the secrets are left unchanged)");
    }
    after_secrets(request)
}

/// The line of a run refused before any change: the failed checks above say what to fix.
fn refused(message: String) -> StepLine {
    StepLine::run(
        Check::failed(CheckId::Secret, Cause::NewSetInvalid, message).with_fix(Fix::words(
            Cause::NewSetInvalid,
            "fix what the failed checks above name (each carries its own fix), then run apply again",
        )),
    )
}

/// An apply's report (also of one refused before any change): `finish`'s, with
/// `--dry-run` said.
fn finished(
    request: &ApplyRequest,
    new_checksum: Option<String>,
    validation: Vec<Check>,
    steps: Vec<StepLine>,
    requests: u32,
) -> RotateReport {
    let mut report = finish("apply", request, new_checksum, validation, steps, requests);
    report.dry_run = request.dry_run;
    report
}

impl Run<'_> {
    fn client(&self) -> Client {
        self.view.client.clone()
    }

    /// A line of `phase`.
    fn push(&mut self, phase: Phase, check: Check) {
        // Every line about Rancher's cacerts setting is about that object.
        let check = match check.name {
            CheckId::CacertsSetting => check.about_by_default(&setting_subject("cacerts")),
            _ => check,
        };
        self.steps.push(StepLine::of(phase, check));
    }

    /// Step 1: `tls-ca` and `tls-rancher-ingress` as one change (the shared set engine);
    /// without a private CA, `tls-ca` is deleted.
    async fn secrets_step(&mut self, set: &NewSet) -> Result<(), StepError> {
        let namespace = &self.request.namespace;
        let tls = Desired::Apply(Box::new(secret(
            namespace,
            rancher::TLS_SECRET,
            Some("kubernetes.io/tls"),
            [
                ("tls.crt", set.files.cert_pem.clone()),
                ("tls.key", set.files.key_pem.clone()),
            ],
        )));
        let wanted = match &set.ca {
            Some(ca) => vec![
                Desired::Apply(Box::new(secret(
                    namespace,
                    rancher::CA_SECRET,
                    None,
                    [(rancher::CA_SECRET_KEY, ca.bytes.clone())],
                ))),
                tls,
            ],
            None => vec![tls, Desired::Absent(rancher::CA_SECRET.to_string())],
        };
        if self.request.dry_run {
            let secrets = self.plan.secrets.clone();
            for desired in &wanted {
                let name = desired.name();
                let done = if name == rancher::TLS_SECRET {
                    secrets.certificate_done
                } else {
                    secrets.ca_done
                };
                let line = match desired {
                    _ if done => format!(
                        "secret {namespace}/{name} already holds the new set: unchanged"
                    ),
                    Desired::Apply(_) => format!(
                        "would apply secret {namespace}/{name} (server-side apply, field manager rcert; backed up first)"
                    ),
                    Desired::Absent(_) => format!(
                        "would delete secret {namespace}/{name} if present (no private CA; backed up first)"
                    ),
                };
                let subject = Subject::Secret {
                    namespace: namespace.to_string(),
                    name,
                };
                self.push(
                    Phase::Secrets,
                    Check::ok(CheckId::Secret, line).about(subject),
                );
            }
            return Ok(());
        }
        let applied = apply_desired(self.client(), &options(self.request), &wanted).await;
        for change in &applied.changes {
            let backup = change
                .backup
                .as_ref()
                .map(|p| format!(" (previous version in {})", p.display()))
                .unwrap_or_default();
            let message = format!("secret {}: {}{backup}", change.name, change.action.label());
            let check = match change.action.status() {
                Status::Ok => Check::ok(CheckId::Secret, message),
                status => Check::finding(CheckId::Secret, status, Cause::BadSecret, message),
            };
            let subject = Subject::Secret {
                namespace: namespace.to_string(),
                name: change.name.clone(),
            };
            self.push(Phase::Secrets, check.about(subject));
        }
        match applied.error.clone() {
            Some(error) => Err(StepError::Secrets(error)),
            None => {
                self.secrets = Some(applied);
                Ok(())
            }
        }
    }

    /// Save a backup of `object` before it changes.
    fn backup<T: serde::Serialize>(&self, stem: &str, object: &T) -> Result<(), StepError> {
        backup::save(&self.request.backup_dir, stem, object, self.request.at)
            .map(|_| ())
            .map_err(|source| StepError::Backup {
                stem: stem.to_string(),
                source,
            })
    }

    /// Put back everything this run changed, newest first; the state in one sentence.
    async fn roll_back(&mut self) -> String {
        let mut restored = Vec::new();
        let mut left = Vec::new();
        while let Some(change) = self.undo.pop() {
            if crate::interrupt::requested_twice() {
                left.push(format!(
                    "{} is CHANGED and was not restored (interrupted again); its backup is in {}",
                    change.describe(),
                    self.request.backup_dir.display()
                ));
                continue;
            }
            let result = match &change {
                Undo::Cluster { name, patch } => {
                    patch_cluster(&self.view.client, name, patch).await
                }
                Undo::Fleet { cluster, patch } => {
                    patch_fleet_cluster(&self.view.client, cluster, patch).await
                }
                Undo::Checksum { workload, previous } => {
                    match agent_workloads::get(
                        &self.view.client,
                        &workload.namespace,
                        workload.agent,
                    )
                    .await
                    {
                        Ok(Some(fresh)) => set_checksum(&self.view.client, &fresh, previous).await,
                        Ok(None) => Err(crate::cluster::RemoteError::Data(format!(
                            "{} is gone",
                            workload.describe()
                        ))),
                        Err(err) => Err(err),
                    }
                }
            };
            match result {
                Ok(()) => restored.push(change.describe()),
                Err(err) => left.push(format!(
                    "{} is CHANGED ({err}); its backup is in {}",
                    change.describe(),
                    self.request.backup_dir.display()
                )),
            }
        }
        let mut state = match (restored.is_empty(), left.is_empty()) {
            (true, true) => String::new(),
            (false, true) => format!("rolled back {}", restored.join(", ")),
            (_, false) => format!(
                "rolled back {}; NOT rolled back: {}",
                if restored.is_empty() {
                    "nothing".to_string()
                } else {
                    restored.join(", ")
                },
                left.join("; ")
            ),
        };
        if let Some(mut applied) = self.secrets.take() {
            if applied.changes.iter().any(|c| c.action.changed()) {
                let secrets = undo(self.client(), &options(self.request), &mut applied).await;
                if !state.is_empty() {
                    state.push_str("; ");
                }
                state.push_str("secrets: ");
                state.push_str(&secrets);
            }
        }
        if state.is_empty() {
            "nothing was changed".to_string()
        } else {
            state
        }
    }
}
