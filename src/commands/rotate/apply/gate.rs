//! The gate before the agents: whether Rancher already hands out the new CA, the optional
//! restart that makes it, and the stop that says what to run when it does not yet.

use super::*;
use crate::check::Cause;
use crate::cluster::rancher_objects::{rancher_deployment_exists, restart_rancher, setting};

/// A duration as an operator writes it: 90s → "1m30s".
fn humanize(duration: std::time::Duration) -> String {
    let seconds = duration.as_secs();
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

impl Run<'_> {
    /// Why Rancher does not hand out the new CA yet, if it does not: its `cacerts`
    /// setting (Rancher's cluster), else what `/cacerts` serves at `--host` (a
    /// downstream cluster, where the setting cannot be read).
    pub(super) async fn rancher_lags(&mut self, set: &NewSet) -> Option<String> {
        // Rancher's cluster: the plan read its cacerts setting.
        if let Some(done) = self.plan.rancher.setting_done {
            return (!done).then(|| "Rancher's cacerts setting does not hold the new CA yet (it follows tls-ca when Rancher restarts)".to_string());
        }
        let Some(host) = self.request.host.clone() else {
            return Some("this cluster holds no Rancher settings, so rcert cannot see what Rancher hands out: pass --host RANCHER so /cacerts is checked first".to_string());
        };
        let report =
            match probe_rancher(self.request, self.request.node.as_deref(), set, &host).await {
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
    pub(super) async fn restart_and_wait(
        &mut self,
        set: &NewSet,
        wait: std::time::Duration,
    ) -> Option<String> {
        let namespace = self.request.namespace.clone();
        if self.request.dry_run {
            match rancher_deployment_exists(&self.view.client, &namespace).await {
                Ok(true) => {}
                Ok(false) => {
                    return Some(format!(
                        "there is no deployment {namespace}/rancher to restart"
                    ))
                }
                Err(err) => {
                    return Some(format!("cannot read deployment {namespace}/rancher: {err}"))
                }
            }
            self.push(Phase::Rancher, Check::ok(
                CheckId::CacertsSetting,
                format!("would restart deployment {namespace}/rancher (PATCH spec.template.metadata.annotations kubectl.kubernetes.io/restartedAt) and wait up to {} for the cacerts setting", humanize(wait)),
            ));
            return None;
        }
        let at = self
            .request
            .at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        match restart_rancher(&self.view.client, &namespace, &at).await {
            Ok(before) => {
                if let Err(err) = self.backup(&format!("{namespace}-rancher-deployment"), &before) {
                    return Some(format!("Rancher was restarted, but {err}"));
                }
                self.push(Phase::Rancher, Check::ok(CheckId::CacertsSetting, format!("deployment {namespace}/rancher restarted (restartedAt {at}); waiting up to {} for its cacerts setting", humanize(wait))));
            }
            Err(err) => return Some(format!("cannot restart Rancher: {err}")),
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            tokio::time::sleep(left.min(std::time::Duration::from_secs(2))).await;
            let found = setting(&self.view.client, "cacerts")
                .await
                .map(|setting| setting.value);
            if let Ok(value) = &found {
                if set.in_setting(value.as_deref()) {
                    if let Some(agents) = self.view.agents.as_mut() {
                        agents.cacerts_setting = value.clone();
                    }
                    self.push(
                        Phase::Rancher,
                        Check::ok(
                            CheckId::CacertsSetting,
                            "Rancher's cacerts setting holds the new CA".to_string(),
                        ),
                    );
                    return None;
                }
            }
            if crate::interrupt::requested() {
                return Some("interrupted (SIGINT/SIGTERM) while waiting for Rancher".to_string());
            }
            if left.is_zero() {
                return Some(format!(
                    "Rancher was restarted, but its cacerts setting did not follow within {} (is the new pod running? kubectl -n {namespace} get pods -l app=rancher)",
                    humanize(wait)
                ));
            }
        }
    }

    /// `--restart-rancher` was asked for and Rancher does not hand out the new CA after it
    /// (no Rancher here, the restart failed, or the setting did not follow): exit 1.
    pub(super) fn restart_failed(&mut self, why: &str) {
        self.push(
            Phase::Rancher,
            Check::failed(
                CheckId::CacertsSetting,
                Cause::WaitingForRancher,
                format!(
                "--restart-rancher did not bring the new CA: {why}; agents and fleet not changed"
            ),
            ),
        );
    }

    /// Stop before the agents and fleet: say why and what to run (a warning after the
    /// secrets of `--step all`, a failure when the agents or fleet step was asked alone).
    pub(super) fn wait_for_rancher(&mut self, why: &str) {
        let request = self.request;
        if request.dry_run {
            self.push(
                Phase::Rancher,
                Check::warning(
                    CheckId::CacertsSetting,
                    Cause::WaitingForRancher,
                    format!("a real run stops here until Rancher hands out the new CA: {why}"),
                )
                .with_fix(self.waiting_fix()),
            );
            return;
        }
        let fix = self.waiting_fix();
        let message = format!(
            "agents and fleet not changed yet: {why}. Next: {}",
            fix.line()
        );
        let status = match request.step {
            Step::All => Status::Warning,
            _ => Status::Failed,
        };
        let check = Check::finding(
            CheckId::CacertsSetting,
            status,
            Cause::WaitingForRancher,
            message,
        )
        .with_fix(fix);
        self.push(Phase::Rancher, check);
    }

    /// What lets the agents step go on: Rancher's restart in its own cluster (here, when
    /// this is Rancher's cluster); on a downstream cluster, a --host (and --node) where
    /// apply can see what /cacerts serves — never a restart of a Rancher that is not here.
    pub(super) fn waiting_fix(&self) -> Fix {
        if self.view.agents.is_some() {
            return after_secrets(self.request);
        }
        Fix::words(
            Cause::WaitingForRancher,
            "this is a downstream cluster: restart Rancher in its own cluster once its secrets hold the new set, then rerun this apply with --host RANCHER[:PORT] (and --node ADDR when the name does not resolve here), so it sees /cacerts serve the new CA first",
        )
    }
}
