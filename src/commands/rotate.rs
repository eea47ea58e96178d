//! `rcert rotate plan|apply|status --to DIR`: Rancher's documented private-CA update
//! ("Updating a Private CA Certificate"), step by step — the two secrets, Rancher's
//! restart so the `cacerts` setting follows, every downstream agent (force-deploy
//! annotation), fleet's agents (`redeployAgentGeneration` + 1) — with backups, a dry run,
//! a roll back of what a failed run changed, and a status that says what still lags.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use kube::Client;
use serde::Serialize;

use crate::check::{Check, CheckId, Status};
use crate::checks::{check_chain, Context, Origin};
use crate::cluster::rancher_objects::{
    agent_state, annotate_cluster, fleet_clusters, helm_values, set_redeploy_generation,
    AgentState, FleetCluster, HelmValues, FORCE_DEPLOY_ANNOTATION,
};
use crate::cluster::secrets::{apply_set, cert_manager_owner, secret, Action, Options};
use crate::cluster::{connect, describe_api_error};
use crate::output::{checks_text, Report, Style};
use crate::rancher::{self, CaBundle};
use crate::x509::cert::{certs_from, key_from};
use crate::x509::{pem, Cert};

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

/// What `rcert rotate` is asked to do.
#[derive(Debug, Clone)]
pub struct RotateRequest {
    /// The new set: tls.crt, tls.key, cacerts.pem.
    pub dir: PathBuf,
    /// Namespace of Rancher's secrets.
    pub namespace: String,
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
    /// Rancher's host name, checked against the new certificate's SANs.
    pub host: Option<String>,
    /// Where backups go.
    pub backup_dir: PathBuf,
    /// Apply: change nothing, say what would be sent.
    pub dry_run: bool,
    /// Apply: which step.
    pub step: Step,
    /// Timeout of each API request.
    pub timeout: std::time::Duration,
}

/// The result of `rotate plan`, `apply` or `status`: one line per step or object.
#[derive(Debug, Clone, Serialize)]
pub struct RotateReport {
    /// `plan`, `apply` or `status`.
    pub mode: String,
    /// The new set's directory.
    pub dir: String,
    /// CATTLE_CA_CHECKSUM of the new `cacerts.pem` as Rancher will serve it.
    pub new_checksum: Option<String>,
    /// The checks of the new set (as verify runs them).
    pub validation: Vec<Check>,
    /// One line per step or object: what is, what will be, what lags.
    pub steps: Vec<Check>,
    /// The worst of everything.
    pub status: Status,
    /// API requests made.
    pub api_requests: u32,
}

/// The new set, read and validated.
struct NewSet {
    chain: Vec<Cert>,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    ca: Option<CaBundle>,
    validation: Vec<Check>,
}

fn load_set(request: &RotateRequest, host: Option<&str>) -> Result<NewSet, crate::Error> {
    let path = |name: &str| request.dir.join(name).display().to_string();
    let cert = pem::load_certificates(&path("tls.crt"))?;
    let chain = certs_from(&cert)?;
    let key_file = pem::load(&path("tls.key"))?;
    let key = key_from(&key_file)?;
    let ca_path = request.dir.join(rancher::CA_SECRET_KEY);
    let ca = ca_path
        .exists()
        .then(|| CaBundle::load(&ca_path.display().to_string()))
        .transpose()?;
    let context = Context {
        ca: ca.clone(),
        untrusted: Vec::new(),
        key: Some((path("tls.key"), key)),
        hosts: host.map(str::to_string).into_iter().collect(),
        at: time::OffsetDateTime::now_utc(),
        warn_days: 30,
    };
    let validation = check_chain(&chain, Origin::File(&path("tls.crt")), &context);
    Ok(NewSet {
        chain,
        cert_pem: cert.certificates_as_pem(),
        key_pem: key_file.key_as_pem(),
        ca,
        validation,
    })
}

/// The cluster's side, read once.
struct ClusterView {
    client: Client,
    agents: Option<AgentState>,
    fleet: Vec<FleetCluster>,
    tls: Option<k8s_openapi::api::core::v1::Secret>,
    ca: Option<k8s_openapi::api::core::v1::Secret>,
    helm: Option<HelmValues>,
    requests: u32,
}

async fn read_cluster(request: &RotateRequest) -> Result<ClusterView, crate::Error> {
    let (client, _) = connect(
        request.kubeconfig.as_deref(),
        request.context.as_deref(),
        request.timeout,
    )
    .await?;
    let remote = |message: String| crate::Error::Remote(format!("{message} (nothing was changed)"));
    let agents = agent_state(&client, &request.namespace)
        .await
        .map_err(remote)?;
    let fleet = fleet_clusters(&client).await.map_err(remote)?;
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client.clone(), &request.namespace);
    let get = |name: &'static str| {
        let secrets = secrets.clone();
        async move {
            secrets
                .get_opt(name)
                .await
                .map_err(|err| remote(describe_api_error(&err, "get", &format!("secret {name}"))))
        }
    };
    let tls = get(rancher::TLS_SECRET).await?;
    let ca = get(rancher::CA_SECRET).await?;
    let helm = helm_values(&client, &request.namespace)
        .await
        .map_err(remote)?;
    let requests = agents.as_ref().map_or(1, |a| a.requests) + 4;
    Ok(ClusterView {
        client,
        agents,
        fleet,
        tls,
        ca,
        helm,
        requests,
    })
}

fn secret_bytes(secret: &Option<k8s_openapi::api::core::v1::Secret>, key: &str) -> Option<Vec<u8>> {
    secret
        .as_ref()?
        .data
        .as_ref()?
        .get(key)
        .map(|bytes| bytes.0.clone())
}

fn describe_chain(bytes: Option<Vec<u8>>) -> String {
    match bytes.map(|b| crate::x509::cert::certs_in(&b)) {
        Some(certs) if !certs.is_empty() => format!(
            "'{}' sha256 {}…",
            certs[0].display_name(),
            &certs[0].sha256_fingerprint[..23.min(certs[0].sha256_fingerprint.len())]
        ),
        _ => "nothing".to_string(),
    }
}

/// `rcert rotate plan`: read-only, step by step.
pub async fn plan(request: &RotateRequest) -> Result<RotateReport, crate::Error> {
    let view = read_cluster(request).await?;
    let host = request.host.clone().or_else(|| {
        view.helm
            .as_ref()
            .and_then(|values| values.hostname.clone())
    });
    let set = load_set(request, host.as_deref())?;
    let new_checksum = set.ca.as_ref().and_then(|ca| ca.checksum.clone());
    let mut steps = Vec::new();
    let old_checksum =
        secret_bytes(&view.ca, rancher::CA_SECRET_KEY).map(|b| rancher::ca_checksum(&b));
    steps.push(Check::ok(
        CheckId::Secret,
        format!(
            "1. secrets: tls-rancher-ingress {} → {}; tls-ca CATTLE_CA_CHECKSUM {} → {}",
            describe_chain(secret_bytes(&view.tls, "tls.crt")),
            describe_chain(Some(set.cert_pem.clone())),
            old_checksum.as_deref().unwrap_or("none"),
            new_checksum.as_deref().unwrap_or("none (no cacerts.pem: a publicly trusted certificate; tls-ca is deleted and agents' checksum emptied)")
        ),
    ));
    if let Some(owner) = view.tls.as_ref().and_then(cert_manager_owner) {
        steps.push(Check::warning(
            CheckId::Secret,
            format!("tls-rancher-ingress is managed by {owner}: cert-manager would revert step 1; change the helm values (ingress.tls.source=secret) first"),
        ));
    }
    if let (Some(ca), Some(leaf)) = (&set.ca, set.chain.first()) {
        if !set
            .chain
            .iter()
            .any(|cert| ca.certs.iter().any(|root| cert.is_issued_by(root)))
        {
            steps.push(Check::failed(
                CheckId::Chain,
                format!(
                    "the new certificate '{}' is not issued by the new CA in cacerts.pem",
                    leaf.subject
                ),
            ));
        }
    }
    let private_ca = set.ca.is_some();
    let values_right = view.helm.as_ref().is_some_and(|values| {
        values.private_ca.unwrap_or(false) == private_ca
            && values.tls_source.as_deref() == Some("secret")
    });
    let restart = format!(
        "kubectl -n {} rollout restart deploy/rancher",
        request.namespace
    );
    steps.push(match &view.helm {
        Some(values) if values_right => Check::ok(
            CheckId::HelmValues,
            format!(
                "2. helm release rancher v{} already has ingress.tls.source=secret, privateCA={private_ca}: restart Rancher so the cacerts setting follows: {restart}",
                values.revision
            ),
        ),
        found => Check::warning(
            CheckId::HelmValues,
            format!(
                "2. helm{}: helm upgrade rancher rancher-latest/rancher -n {} --reuse-values --set ingress.tls.source=secret --set privateCA={private_ca} (it restarts Rancher; the cacerts setting follows)",
                found.as_ref().map_or(" release not found (installed another way?)".to_string(), |values| format!(
                    " release rancher v{} has ingress.tls.source={}, privateCA={}",
                    values.revision,
                    values.tls_source.as_deref().unwrap_or("(default rancher)"),
                    values.private_ca.map_or("unset".to_string(), |v| v.to_string())
                )),
                request.namespace
            ),
        ),
    });
    match &view.agents {
        Some(agents) => {
            let strict = agents.agent_tls_mode.as_deref() == Some("strict");
            for cluster in agents.clusters.iter().filter(|c| c.name != "local") {
                let connected = cluster
                    .connected
                    .as_ref()
                    .map_or("unknown", |c| c.status.as_str());
                let mut line = format!(
                    "3. agents: cluster {} (Connected={connected}) gets {FORCE_DEPLOY_ANNOTATION}=true",
                    cluster.name
                );
                let failing_strict = cluster
                    .strict_check
                    .as_ref()
                    .is_some_and(|c| c.status != "True");
                if strict && failing_strict {
                    line.push_str(": agent-tls-mode is strict and it fails AgentTlsStrictCheck — its agent will not trust the new CA");
                    steps.push(Check::warning(CheckId::Cluster, line));
                } else {
                    steps.push(Check::ok(CheckId::Cluster, line));
                }
            }
            if let Some(checksum) = &agents.agent_checksum {
                steps.push(Check::ok(
                    CheckId::AgentChecksum,
                    format!(
                        "   the agents compare CATTLE_CA_CHECKSUM={checksum} today; after the update {}",
                        new_checksum.as_deref().unwrap_or("none")
                    ),
                ));
            }
        }
        None => steps.push(Check::skipped(
            CheckId::Cluster,
            "3. agents: no Rancher objects in this cluster".to_string(),
        )),
    }
    for cluster in &view.fleet {
        steps.push(Check::ok(
            CheckId::Cluster,
            format!(
                "4. fleet: {}/{} redeployAgentGeneration {} → {}",
                cluster.namespace,
                cluster.name,
                cluster.redeploy_generation,
                cluster.redeploy_generation + 1
            ),
        ));
    }
    Ok(finish(
        "plan",
        request,
        new_checksum,
        set.validation,
        steps,
        view.requests,
    ))
}

fn finish(
    mode: &str,
    request: &RotateRequest,
    new_checksum: Option<String>,
    validation: Vec<Check>,
    steps: Vec<Check>,
    api_requests: u32,
) -> RotateReport {
    let status = Status::worst(&validation).max(Status::worst(&steps));
    RotateReport {
        mode: mode.to_string(),
        dir: request.dir.display().to_string(),
        new_checksum,
        validation,
        steps,
        status,
        api_requests,
    }
}

/// `rcert rotate apply`: refuses an invalid set; every change backed up (secrets) or
/// reversible (annotations, generations); a failure rolls back what this run changed.
pub async fn apply(request: &RotateRequest) -> Result<RotateReport, crate::Error> {
    let set = load_set(request, request.host.as_deref())?;
    let new_checksum = set.ca.as_ref().and_then(|ca| ca.checksum.clone());
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
    if set.ca.is_none() {
        return Err(crate::Error::Usage(
            "apply without cacerts.pem (moving to a publicly trusted certificate) is not automated yet: follow rotate plan's steps by hand".to_string(),
        ));
    }
    let mut view = read_cluster(request).await?;
    let mut steps = Vec::new();
    let wants = |step: Step| request.step == step || request.step == Step::All;
    if wants(Step::Secrets) {
        let ca = set
            .ca
            .as_ref()
            .map(|ca| ca.bytes.clone())
            .unwrap_or_default();
        let wanted = vec![
            secret(
                &request.namespace,
                rancher::CA_SECRET,
                None,
                [(rancher::CA_SECRET_KEY, ca)],
            ),
            secret(
                &request.namespace,
                rancher::TLS_SECRET,
                Some("kubernetes.io/tls"),
                [
                    ("tls.crt", set.cert_pem.clone()),
                    ("tls.key", set.key_pem.clone()),
                ],
            ),
        ];
        if request.dry_run {
            steps.push(Check::ok(
                CheckId::Secret,
                "would apply tls-ca and tls-rancher-ingress (server-side apply, backed up first)"
                    .to_string(),
            ));
        } else {
            let options = Options {
                namespace: &request.namespace,
                backup_dir: &request.backup_dir,
                replace: false,
                create_namespace: false,
                override_cert_manager: false,
            };
            let applied = apply_set(view.client.clone(), &options, &wanted).await;
            view.requests += applied.requests;
            for change in &applied.changes {
                let status = if change.action == Action::Failed {
                    Status::Failed
                } else {
                    Status::Ok
                };
                let backup = change
                    .backup
                    .as_ref()
                    .map(|p| format!(" (previous version in {})", p.display()))
                    .unwrap_or_default();
                steps.push(Check {
                    name: CheckId::Secret,
                    status,
                    message: format!("secret {}: {}{backup}", change.name, change.action.label()),
                });
            }
            if let Some(error) = applied.error {
                steps.push(Check::failed(
                    CheckId::Secret,
                    format!("{error}; stopped before the agents"),
                ));
                return Ok(finish(
                    "apply",
                    request,
                    new_checksum,
                    set.validation,
                    steps,
                    view.requests,
                ));
            }
        }
    }
    if wants(Step::Agents) {
        let clusters: Vec<String> = view
            .agents
            .as_ref()
            .map(|a| {
                a.clusters
                    .iter()
                    .filter(|c| c.name != "local")
                    .map(|c| c.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        let mut done: Vec<String> = Vec::new();
        for name in &clusters {
            if request.dry_run {
                steps.push(Check::ok(
                    CheckId::Cluster,
                    format!("would annotate cluster {name} with {FORCE_DEPLOY_ANNOTATION}=true"),
                ));
                continue;
            }
            view.requests += 1;
            match annotate_cluster(&view.client, name, FORCE_DEPLOY_ANNOTATION, Some("true")).await
            {
                Ok(()) => {
                    done.push(name.clone());
                    steps.push(Check::ok(CheckId::Cluster, format!("cluster {name}: annotated {FORCE_DEPLOY_ANNOTATION}=true (Rancher redeploys its agent with the new checksum)")));
                }
                Err(message) => {
                    let mut restored = Vec::new();
                    for earlier in &done {
                        view.requests += 1;
                        if annotate_cluster(&view.client, earlier, FORCE_DEPLOY_ANNOTATION, None)
                            .await
                            .is_ok()
                        {
                            restored.push(earlier.clone());
                        }
                    }
                    steps.push(Check::failed(
                        CheckId::Cluster,
                        format!("{message}; annotation removed again from {} of {} cluster(s) annotated by this run; the secrets (step 1) are already changed: rerun rotate apply --step agents", restored.len(), done.len()),
                    ));
                    return Ok(finish(
                        "apply",
                        request,
                        new_checksum,
                        set.validation,
                        steps,
                        view.requests,
                    ));
                }
            }
        }
    }
    if wants(Step::Fleet) {
        let mut done: Vec<&FleetCluster> = Vec::new();
        for cluster in &view.fleet {
            let next = cluster.redeploy_generation + 1;
            if request.dry_run {
                steps.push(Check::ok(
                    CheckId::Cluster,
                    format!(
                        "would set fleet {}/{} redeployAgentGeneration to {next}",
                        cluster.namespace, cluster.name
                    ),
                ));
                continue;
            }
            view.requests += 1;
            match set_redeploy_generation(&view.client, cluster, next).await {
                Ok(()) => {
                    done.push(cluster);
                    steps.push(Check::ok(
                        CheckId::Cluster,
                        format!(
                            "fleet {}/{}: redeployAgentGeneration {} → {next}",
                            cluster.namespace, cluster.name, cluster.redeploy_generation
                        ),
                    ));
                }
                Err(message) => {
                    for earlier in &done {
                        view.requests += 1;
                        let _ = set_redeploy_generation(
                            &view.client,
                            earlier,
                            earlier.redeploy_generation,
                        )
                        .await;
                    }
                    steps.push(Check::failed(
                        CheckId::Cluster,
                        format!("{message}; the generations this run raised were set back"),
                    ));
                    return Ok(finish(
                        "apply",
                        request,
                        new_checksum,
                        set.validation,
                        steps,
                        view.requests,
                    ));
                }
            }
        }
    }
    if !request.dry_run {
        steps.push(Check::ok(
            CheckId::CacertsSetting,
            format!("next: kubectl -n {} rollout restart deploy/rancher (the cacerts setting follows tls-ca at start), then rcert rotate status --to {}", request.namespace, request.dir.display()),
        ));
    }
    Ok(finish(
        "apply",
        request,
        new_checksum,
        set.validation,
        steps,
        view.requests,
    ))
}

/// `rcert rotate status`: what still lags, one line each.
pub async fn status(request: &RotateRequest) -> Result<RotateReport, crate::Error> {
    let set = load_set(request, request.host.as_deref())?;
    let view = read_cluster(request).await?;
    let new_checksum = set.ca.as_ref().and_then(|ca| ca.checksum.clone());
    let mut steps = Vec::new();
    let same = |found: Option<Vec<u8>>, wanted: &[u8]| found.as_deref() == Some(wanted);
    let ca_bytes = set
        .ca
        .as_ref()
        .map(|ca| ca.bytes.clone())
        .unwrap_or_default();
    steps.push(if same(secret_bytes(&view.tls, "tls.crt"), &set.cert_pem) && same(secret_bytes(&view.ca, rancher::CA_SECRET_KEY), &ca_bytes) {
        Check::ok(CheckId::Secret, "tls-rancher-ingress and tls-ca hold the new set".to_string())
    } else {
        Check::failed(CheckId::Secret, format!("the secrets do not hold the new set yet: rcert rotate apply --to {} --step secrets", request.dir.display()))
    });
    match &view.agents {
        Some(agents) => {
            let setting_ok = agents.cacerts_setting.as_deref().map(str::trim)
                == Some(String::from_utf8_lossy(&ca_bytes).trim());
            steps.push(if setting_ok {
                Check::ok(CheckId::CacertsSetting, "Rancher's cacerts setting holds the new CA".to_string())
            } else {
                Check::failed(CheckId::CacertsSetting, format!("Rancher's cacerts setting still holds the old CA: it follows tls-ca only when Rancher restarts — kubectl -n {} rollout restart deploy/rancher", request.namespace))
            });
            if agents.agent_deployment {
                steps.push(match (&agents.agent_checksum, &new_checksum) {
                    (Some(found), Some(wanted)) if found == wanted => Check::ok(CheckId::AgentChecksum, "cattle-cluster-agent has the new CATTLE_CA_CHECKSUM".to_string()),
                    (found, wanted) => Check::failed(CheckId::AgentChecksum, format!("cattle-cluster-agent has CATTLE_CA_CHECKSUM={} (new: {}): rcert rotate apply --to {} --step agents", found.as_deref().unwrap_or("none"), wanted.as_deref().unwrap_or("none"), request.dir.display())),
                });
            }
            let strict = agents.agent_tls_mode.as_deref() == Some("strict");
            for cluster in &agents.clusters {
                let connected = cluster
                    .connected
                    .as_ref()
                    .is_some_and(|c| c.status == "True");
                let strict_ok = !strict
                    || cluster
                        .strict_check
                        .as_ref()
                        .is_none_or(|c| c.status == "True");
                steps.push(if connected && strict_ok {
                    Check::ok(
                        CheckId::Cluster,
                        format!("cluster {} connected", cluster.name),
                    )
                } else if !connected {
                    Check::failed(
                        CheckId::Cluster,
                        format!(
                            "cluster {} is not connected yet: {}",
                            cluster.name,
                            cluster
                                .connected
                                .as_ref()
                                .map(|c| c.message.clone())
                                .unwrap_or_default()
                        ),
                    )
                } else {
                    Check::failed(
                        CheckId::Cluster,
                        format!(
                            "cluster {} fails AgentTlsStrictCheck (agent-tls-mode strict)",
                            cluster.name
                        ),
                    )
                });
            }
        }
        None => steps.push(Check::skipped(
            CheckId::Cluster,
            "no Rancher objects in this cluster".to_string(),
        )),
    }
    Ok(finish(
        "status",
        request,
        new_checksum,
        set.validation,
        steps,
        view.requests,
    ))
}

impl Report for RotateReport {
    fn text(&self, style: &Style) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}",
            style.heading(&format!("rotate {} --to {}", self.mode, self.dir))
        );
        out.push_str(&checks_text(&self.validation, style));
        let _ = writeln!(out, "{}", style.heading("Steps"));
        out.push_str(&checks_text(&self.steps, style));
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

/// The default backup directory beside the new set.
pub fn default_backup_dir(dir: &Path) -> PathBuf {
    dir.join("backups")
}
