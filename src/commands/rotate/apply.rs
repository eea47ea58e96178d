//! `rotate apply`: the documented steps carried out — refused for an invalid set, every
//! object backed up before it changes, objects already done for this CA reported
//! unchanged (a rerun is safe), and on a failure everything this run changed put back.

use serde_json::{json, Value};

use super::*;
use crate::cluster::agent_workloads::{checksum_patch, set_checksum};
use crate::cluster::backup;
use crate::cluster::rancher_objects::{
    annotation, patch_cluster, patch_fleet_cluster, restart_rancher, setting_value, ManagedCluster,
    FORCE_DEPLOY_ANNOTATION, ROTATED_FOR_ANNOTATION,
};
use crate::cluster::secrets::{
    apply_desired, check_backup_dir, secret, undo, Applied, Desired, Options,
};

/// A duration as an operator writes it: 90s → "1m30s".
fn humanize(duration: std::time::Duration) -> String {
    let seconds = duration.as_secs();
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

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
    request: &'a RotateRequest,
    view: ClusterView,
    steps: Vec<Check>,
    /// What step 1 changed (to put back when a later step fails).
    secrets: Option<Applied>,
    /// What the later steps changed, oldest first.
    undo: Vec<Undo>,
}

fn options(request: &RotateRequest) -> Options<'_> {
    Options {
        namespace: &request.namespace,
        backup_dir: &request.backup_dir,
        replace: false,
        create_namespace: false,
        override_cert_manager: false,
    }
}

/// `rcert rotate apply`: refuses an invalid set; every change backed up; a failure rolls
/// back what this run changed. With `--all-contexts`, the agents of every context in turn.
pub async fn apply(request: &RotateRequest) -> Result<RotateReport, crate::Error> {
    if request.all_contexts {
        return apply_everywhere(request).await;
    }
    apply_to_cluster(request).await
}

/// `--step agents --agents env --all-contexts`: each context's agents, one after the
/// other. A context that fails or cannot be reached does not stop the others: each one
/// that was changed holds the checksum Rancher already hands out (the gate of every run),
/// so it is done, not half-done; each line names its context.
async fn apply_everywhere(request: &RotateRequest) -> Result<RotateReport, crate::Error> {
    if request.step != Step::Agents || request.agents != AgentMethod::Env {
        return Err(crate::Error::Usage(
            "--all-contexts is for --step agents --agents env (each downstream cluster's own agents)".to_string(),
        ));
    }
    let set = load_set(request, request.host.as_deref())?;
    if Status::worst(&set.validation) == Status::Failed {
        // The same refusal every context would give, once.
        return apply_to_cluster(request).await;
    }
    let contexts = crate::cluster::context_names(request.kubeconfig.as_deref())?;
    let mut combined: Option<RotateReport> = None;
    for context in contexts {
        let one = RotateRequest {
            context: Some(context.clone()),
            all_contexts: false,
            ..request.clone()
        };
        let (steps, requests, validation, checksum) = match apply_to_cluster(&one).await {
            Ok(report) => (
                report.steps,
                report.api_requests,
                report.validation,
                report.new_checksum,
            ),
            Err(err) => {
                let status = if err.exit_code() == crate::exit::REMOTE {
                    CheckId::Reachable
                } else {
                    CheckId::Cluster
                };
                (
                    vec![Check::failed(status, err.to_string())],
                    0,
                    Vec::new(),
                    None,
                )
            }
        };
        let steps = steps.into_iter().map(|mut check| {
            check.message = format!("[{context}] {}", check.message);
            check
        });
        match &mut combined {
            Some(report) => {
                report.steps.extend(steps);
                report.api_requests += requests;
            }
            None => {
                combined = Some(finish(
                    "apply",
                    request,
                    checksum,
                    validation,
                    steps.collect(),
                    requests,
                ));
            }
        }
    }
    let mut report = combined
        .ok_or_else(|| crate::Error::Usage("the kubeconfig names no context".to_string()))?;
    report.status = Status::worst(&report.validation).max(Status::worst(&report.steps));
    Ok(report)
}

/// One cluster's apply (the `--context` one).
async fn apply_to_cluster(request: &RotateRequest) -> Result<RotateReport, crate::Error> {
    let set = load_set(request, request.host.as_deref())?;
    let new_checksum = set.checksum();
    if Status::worst(&set.validation) == Status::Failed {
        let steps = vec![Check::failed(
            CheckId::Secret,
            format!(
                "refused: {} does not validate; nothing was changed",
                request.dir.display()
            ),
        )];
        return Ok(finish(
            "apply",
            request,
            new_checksum,
            set.validation,
            steps,
            0,
        ));
    }
    if !request.dry_run {
        check_backup_dir(&request.backup_dir)?;
    }
    let view = read_cluster(request).await?;
    // Without --host, the set must cover the hostname the helm release gives Rancher.
    let release_host = view.helm.as_ref().and_then(|v| v.hostname.clone());
    let mut set = set;
    if let (None, Some(host)) = (&request.host, release_host) {
        let checked = load_set(request, Some(&host))?;
        if Status::worst(&checked.validation) == Status::Failed {
            let steps = vec![Check::failed(
                CheckId::Secret,
                format!(
                    "refused: {} does not validate for {host}, the hostname of the rancher helm release; nothing was changed",
                    request.dir.display()
                ),
            )];
            return Ok(finish(
                "apply",
                request,
                new_checksum,
                checked.validation,
                steps,
                view.requests,
            ));
        }
        set = checked;
    }
    let mut run = Run {
        request,
        view,
        steps: Vec::new(),
        secrets: None,
        undo: Vec::new(),
    };
    let wants = |step: Step| request.step == step || request.step == Step::All;
    // What the agents must compare, and what marks an object done for this CA.
    let value = new_checksum.clone().unwrap_or_default();
    let marker = new_checksum.clone().unwrap_or_else(|| "none".to_string());
    let mut outcome = Ok(());
    if wants(Step::Secrets) {
        outcome = run.secrets_step(&set).await;
    }
    // The agents may only learn the new CA once Rancher hands it out: a checksum set
    // earlier breaks them at their next restart, and a redeploy Rancher runs earlier
    // gives them the old one again.
    let later_steps = wants(Step::Agents) || wants(Step::Fleet);
    let mut waiting = false;
    if outcome.is_ok() && later_steps {
        if let Some(why) = run.rancher_lags(&set).await {
            let restartable = run.view.agents.is_some() && outcome.is_ok();
            let still = match request.restart_rancher {
                Some(wait) if restartable => run.restart_and_wait(&set, wait).await,
                _ => Some(why),
            };
            if let Some(why) = still {
                waiting = !request.dry_run;
                run.wait_for_rancher(&why);
            }
        }
    }
    if outcome.is_ok() && !waiting && wants(Step::Agents) {
        outcome = match request.agents {
            AgentMethod::Annotate => run.annotate_step(&marker).await,
            AgentMethod::Env => run.env_step(&value).await,
        };
    }
    if outcome.is_ok() && !waiting && wants(Step::Fleet) {
        outcome = run.fleet_step(&marker).await;
    }
    match outcome {
        Err(message) => {
            let state = run.roll_back().await;
            run.steps
                .push(Check::failed(CheckId::Cluster, format!("{message}; {state}")));
        }
        Ok(()) if !request.dry_run && !waiting && later_steps => run.steps.push(Check::ok(
            CheckId::AgentChecksum,
            format!(
                "next: rcert rotate status --to {} until every agent has the new checksum and every cluster is connected",
                request.dir.display()
            ),
        )),
        Ok(()) if !request.dry_run && !waiting => run.steps.push(Check::ok(
            CheckId::CacertsSetting,
            format!(
                "next: kubectl -n {} rollout restart deploy/rancher (the cacerts setting follows tls-ca at start), then rcert rotate apply --to {} --step agents",
                request.namespace,
                request.dir.display()
            ),
        )),
        Ok(()) => {}
    }
    Ok(finish(
        "apply",
        request,
        new_checksum,
        set.validation,
        run.steps,
        run.view.requests,
    ))
}

impl Run<'_> {
    fn client(&self) -> Client {
        self.view.client.clone()
    }

    fn ok(&mut self, id: CheckId, message: String) {
        self.steps.push(Check::ok(id, message));
    }

    /// Step 1: `tls-ca` and `tls-rancher-ingress` as one change (the shared set engine);
    /// without a private CA, `tls-ca` is deleted.
    async fn secrets_step(&mut self, set: &NewSet) -> Result<(), String> {
        let namespace = &self.request.namespace;
        let tls = Desired::Apply(Box::new(secret(
            namespace,
            rancher::TLS_SECRET,
            Some("kubernetes.io/tls"),
            [
                ("tls.crt", set.cert_pem.clone()),
                ("tls.key", set.key_pem.clone()),
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
            for desired in &wanted {
                let line = match desired {
                    Desired::Apply(secret) => format!(
                        "would apply secret {namespace}/{} (server-side apply, field manager rcert; backed up first)",
                        secret.metadata.name.as_deref().unwrap_or_default()
                    ),
                    Desired::Absent(name) => format!(
                        "would delete secret {namespace}/{name} if present (no private CA; backed up first)"
                    ),
                };
                self.ok(CheckId::Secret, line);
            }
            return Ok(());
        }
        let applied = apply_desired(self.client(), &options(self.request), &wanted).await;
        self.view.requests += applied.requests;
        for change in &applied.changes {
            let backup = change
                .backup
                .as_ref()
                .map(|p| format!(" (previous version in {})", p.display()))
                .unwrap_or_default();
            self.steps.push(Check {
                name: CheckId::Secret,
                status: change.action.status(),
                message: format!("secret {}: {}{backup}", change.name, change.action.label()),
            });
        }
        match applied.error.clone() {
            Some(error) => Err(format!("{error}; stopped before the agents")),
            None => {
                self.secrets = Some(applied);
                Ok(())
            }
        }
    }

    /// Why Rancher does not hand out the new CA yet, if it does not: its `cacerts`
    /// setting (Rancher's cluster), else what `/cacerts` serves at `--host` (a
    /// downstream cluster, where the setting cannot be read).
    async fn rancher_lags(&mut self, set: &NewSet) -> Option<String> {
        let wanted = set
            .ca
            .as_ref()
            .map(|ca| String::from_utf8_lossy(&ca.bytes).trim().to_string())
            .unwrap_or_default();
        if let Some(agents) = &self.view.agents {
            let found = agents.cacerts_setting.as_deref().unwrap_or_default().trim();
            return (found != wanted).then(|| "Rancher's cacerts setting does not hold the new CA yet (it follows tls-ca when Rancher restarts)".to_string());
        }
        let Some(host) = self.request.host.clone() else {
            return Some("this cluster holds no Rancher settings, so rcert cannot see what Rancher hands out: pass --host RANCHER so /cacerts is checked first".to_string());
        };
        let report = match probe_rancher(self.request, set, &host).await {
            Ok(report) => report,
            Err(err) => return Some(format!("cannot check /cacerts at {host}: {err}")),
        };
        let result = report.results.first()?;
        if let Some(error) = &result.error {
            return Some(format!("cannot check /cacerts at {host}: {error}"));
        }
        let served = result
            .rancher
            .as_ref()
            .and_then(|facts| facts.cacerts_checksum.clone());
        (served != set.checksum()).then(|| {
            format!(
                "{host}/cacerts serves sha256 {} (new: {}): Rancher has not restarted with the new tls-ca yet",
                served.as_deref().unwrap_or("none"),
                set.checksum().as_deref().unwrap_or("none")
            )
        })
    }

    /// `--restart-rancher`: restart Rancher (backed up first), then poll its `cacerts`
    /// setting every 2 s until it holds the new CA or `wait` has passed; None when it
    /// followed, else why the agents must wait.
    async fn restart_and_wait(
        &mut self,
        set: &NewSet,
        wait: std::time::Duration,
    ) -> Option<String> {
        let namespace = self.request.namespace.clone();
        if self.request.dry_run {
            self.ok(
                CheckId::CacertsSetting,
                format!("would restart deployment {namespace}/rancher (PATCH spec.template.metadata.annotations kubectl.kubernetes.io/restartedAt) and wait up to {} for the cacerts setting", humanize(wait)),
            );
            return None;
        }
        let at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        self.view.requests += 2;
        match restart_rancher(&self.view.client, &namespace, &at).await {
            Ok(before) => {
                if let Err(err) = self.backup(&format!("{namespace}-rancher-deployment"), &before) {
                    return Some(format!("Rancher was restarted, but {err}"));
                }
                self.ok(CheckId::CacertsSetting, format!("deployment {namespace}/rancher restarted (restartedAt {at}); waiting up to {} for its cacerts setting", humanize(wait)));
            }
            Err(err) => return Some(format!("cannot restart Rancher: {err}")),
        }
        let wanted = set
            .ca
            .as_ref()
            .map(|ca| String::from_utf8_lossy(&ca.bytes).trim().to_string());
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            tokio::time::sleep(left.min(std::time::Duration::from_secs(2))).await;
            self.view.requests += 1;
            let found = setting_value(&self.view.client, "cacerts").await;
            if let Ok(value) = &found {
                if value.as_deref().map(str::trim).map(str::to_string) == wanted {
                    if let Some(agents) = self.view.agents.as_mut() {
                        agents.cacerts_setting = value.clone();
                    }
                    self.ok(
                        CheckId::CacertsSetting,
                        "Rancher's cacerts setting holds the new CA".to_string(),
                    );
                    return None;
                }
            }
            if left.is_zero() {
                return Some(format!(
                    "Rancher was restarted, but its cacerts setting did not follow within {} (is the new pod running? kubectl -n {namespace} get pods -l app=rancher)",
                    humanize(wait)
                ));
            }
        }
    }

    /// Stop before the agents and fleet: say why and what to run (a warning after the
    /// secrets of `--step all`, a failure when the agents or fleet step was asked alone).
    fn wait_for_rancher(&mut self, why: &str) {
        let request = self.request;
        if request.dry_run {
            self.steps.push(Check::warning(
                CheckId::CacertsSetting,
                format!("a real run stops here until Rancher hands out the new CA: {why}"),
            ));
            return;
        }
        let dir = request.dir.display();
        let message = format!(
            "agents and fleet not changed yet: {why}. Next: kubectl -n {} rollout restart deploy/rancher, wait until rcert rotate status --to {dir} shows the cacerts setting, then rcert rotate apply --to {dir} --step agents and --step fleet",
            request.namespace
        );
        self.steps.push(if request.step == Step::All {
            Check::warning(CheckId::CacertsSetting, message)
        } else {
            Check::failed(CheckId::CacertsSetting, message)
        });
    }

    /// Save a backup of `object` before it changes.
    fn backup<T: serde::Serialize>(&self, stem: &str, object: &T) -> Result<(), String> {
        backup::save(&self.request.backup_dir, stem, object)
            .map(|_| ())
            .map_err(|err| format!("cannot back up {stem} before changing it: {err}"))
    }

    /// Step 2, method 1: annotate every management cluster but `local`.
    async fn annotate_step(&mut self, marker: &str) -> Result<(), String> {
        let clusters: Vec<ManagedCluster> = match &self.view.agents {
            Some(agents) => agents
                .clusters
                .iter()
                .filter(|c| c.name != "local")
                .cloned()
                .collect(),
            None => {
                self.steps.push(Check::skipped(
                    CheckId::Cluster,
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
            let previous = |key| annotation(&cluster.object, key).map_or(Value::Null, Value::from);
            let restore = json!({"metadata": {"annotations": {
                FORCE_DEPLOY_ANNOTATION: previous(FORCE_DEPLOY_ANNOTATION),
                ROTATED_FOR_ANNOTATION: previous(ROTATED_FOR_ANNOTATION)}}});
            self.view.requests += 1;
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
    async fn env_step(&mut self, value: &str) -> Result<(), String> {
        if self.view.workloads.is_empty() {
            self.steps.push(Check::warning(
                CheckId::AgentChecksum,
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
            self.view.requests += 1;
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
    async fn fleet_step(&mut self, marker: &str) -> Result<(), String> {
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
            let previous = annotation(&cluster.object, ROTATED_FOR_ANNOTATION);
            let restore = json!({"metadata": {"annotations": {ROTATED_FOR_ANNOTATION: previous}},
                "spec": {"redeployAgentGeneration": cluster.redeploy_generation}});
            self.view.requests += 1;
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

    /// Put back everything this run changed, newest first; the state in one sentence.
    async fn roll_back(&mut self) -> String {
        let mut restored = Vec::new();
        let mut left = Vec::new();
        while let Some(change) = self.undo.pop() {
            self.view.requests += 1;
            let result = match &change {
                Undo::Cluster { name, patch } => {
                    patch_cluster(&self.view.client, name, patch).await
                }
                Undo::Fleet { cluster, patch } => {
                    patch_fleet_cluster(&self.view.client, cluster, patch).await
                }
                Undo::Checksum { workload, previous } => {
                    self.view.requests += 1;
                    match agent_workloads::get(
                        &self.view.client,
                        &workload.namespace,
                        workload.agent,
                    )
                    .await
                    {
                        Ok(Some(fresh)) => set_checksum(&self.view.client, &fresh, previous).await,
                        Ok(None) => Err(format!("{} is gone", workload.describe())),
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
                let before = applied.requests;
                let secrets = undo(self.client(), &options(self.request), &mut applied).await;
                self.view.requests += applied.requests - before;
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
