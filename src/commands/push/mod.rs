//! Kubernetes secrets for Rancher (kube, k8s-openapi), for `rcert push`.
//!
//! Validates the files first (nothing is sent when a check fails, unless forced),
//! creates the namespace when missing, then applies `tls-ca` and
//! `tls-rancher-ingress` with server-side apply (field manager `rcert`). Before a
//! secret changes, its old state is saved to a local backup file (0600); a secret
//! whose data is already identical is left alone and reported as unchanged.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Secret;
use serde::Serialize;

mod inputs;
mod text;

use inputs::{summarise_existing, Inputs};

use crate::check::Cause;
use crate::check::{Check, CheckId, Status};
use crate::checks;
use crate::cluster::secrets::{apply_set, check_backup_dir, secret, Action, Change, Options};
use crate::cluster::{manifests_yaml, validate_name, ClusterTarget, Namespace};
use crate::output::{check_line, checks_text, next_steps_text, Report, Style};
use crate::rancher::CaBundle;
use crate::x509::cert::{self as inspect, Cert};
use crate::x509::pem::Input;

/// What `rcert push` is asked to do.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// Whose rejection fails a check (`--clients`).
    pub clients: crate::check::Clients,
    /// The time of judgement, decided once by the CLI.
    pub at: time::OffsetDateTime,
    /// Target namespace.
    pub namespace: Namespace,
    /// tls.crt: leaf first, then intermediates (None: only `--additional-ca` is pushed).
    pub cert: Option<Input>,
    /// tls.key (None with `cert`).
    pub key: Option<Input>,
    /// cacerts.pem, when a private CA is used.
    pub ca: Option<Input>,
    /// The cluster (`--kubeconfig`, `--context`, `--timeout`).
    pub cluster: ClusterTarget,
    /// Print the manifests, contact no cluster.
    pub dry_run: bool,
    /// Push even when validation fails.
    pub force: bool,
    /// Name of the certificate secret.
    pub secret_name: String,
    /// Name of the CA secret.
    pub ca_secret_name: String,
    /// Directory for backups of replaced secrets.
    pub backup_dir: PathBuf,
    /// Delete and recreate a secret whose type must change (e.g. Opaque → kubernetes.io/tls).
    pub replace: bool,
    /// Create the namespace when it is missing.
    pub create_namespace: bool,
    /// `--additional-ca`: CA files for Secret tls-ca-additional.
    pub additional_ca: Vec<Input>,
}

impl PushRequest {
    /// The input files from `--dir`: tls.crt, tls.key, and cacerts.pem when present.
    pub fn files_from_dir(dir: &Path) -> (Option<Input>, Option<Input>, Option<Input>) {
        let path = |name: &str| Some(Input::path(dir.join(name)));
        let ca = dir.join("cacerts.pem");
        (
            path("tls.crt"),
            path("tls.key"),
            ca.exists().then(|| Input::path(ca)),
        )
    }
}

/// What happened to one secret.
#[derive(Debug, Clone, Serialize)]
pub struct SecretOutcome {
    /// Secret name.
    pub name: String,
    /// `kubernetes.io/tls` or `Opaque`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What happened: `created`, `updated`, `replaced`, `unchanged`, `failed`,
    /// `not attempted`, `rolled back` or `would apply` (dry run).
    pub action: Action,
    /// Fingerprint and expiry of what the secret held before, when it existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    /// Fingerprint and expiry of what it holds now.
    pub new: String,
    /// Where the previous object was saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// The API error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the change means for Rancher's agents (a new CATTLE_CA_CHECKSUM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// The result of `rcert push`.
#[derive(Debug, Serialize)]
pub struct PushReport {
    /// Target namespace.
    pub namespace: String,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The checks run on the files before anything is sent.
    pub validation: Vec<Check>,
    /// True when validation failed and nothing was sent.
    pub refused: bool,
    /// Whether the namespace had to be created.
    pub namespace_created: bool,
    /// One entry per secret, in the order applied (tls-ca first).
    pub secrets: Vec<SecretOutcome>,
    /// The manifests as YAML (dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifests: Option<String>,
    /// How many API requests the push made.
    pub api_requests: u32,
    /// The API server URL used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The error that stopped the push (exit 3, or 1 when `blocked`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The cluster's state forbids the change (a Secret type that would have to change).
    pub blocked: bool,
    /// CATTLE_CA_CHECKSUM for the pushed CA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_checksum: Option<String>,
    /// What to run next.
    pub next_steps: Vec<String>,
    /// With `--additional-ca`: whether the Rancher helm release reads tls-ca-additional.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_trusted_cas: Option<Check>,
}

impl PushReport {
    /// 0 pushed (or unchanged), 1 refused by validation, 3 the API failed.
    pub fn exit_code(&self) -> u8 {
        if self.blocked || self.refused {
            crate::exit::CHECK_FAILED
        } else if self.error.is_some() {
            crate::exit::REMOTE
        } else if self.refused {
            crate::exit::CHECK_FAILED
        } else {
            crate::exit::OK
        }
    }
}

/// One secret to apply: its manifest and the facts shown to the operator.
struct Planned {
    secret: Secret,
    summary: String,
    /// CATTLE_CA_CHECKSUM of the data, for the CA secret.
    checksum: Option<String>,
}

/// Check names, read and validate the files, then dry-run or push.
pub async fn push(request: &PushRequest) -> Result<PushReport, crate::Error> {
    for name in [&request.secret_name, &request.ca_secret_name] {
        validate_name(name)?;
    }
    let inputs = Inputs::load(request)?;
    let validation = inputs.validate();
    let refused = Status::worst(&validation) == Status::Failed && !request.force;
    let planned = inputs.plan(request);
    let mut report = PushReport {
        namespace: request.namespace.to_string(),
        dry_run: request.dry_run,
        validation,
        refused,
        namespace_created: false,
        secrets: Vec::new(),
        manifests: None,
        api_requests: 0,
        server: None,
        error: None,
        blocked: false,
        ca_checksum: inputs.ca.as_ref().and_then(|ca| ca.checksum.clone()),
        next_steps: Vec::new(),
        additional_trusted_cas: None,
    };
    if refused {
        return Ok(report);
    }
    if request.dry_run {
        let secrets: Vec<Secret> = planned.iter().map(|p| p.secret.clone()).collect();
        report.manifests = Some(manifests_yaml(&secrets)?);
        report.secrets = planned
            .iter()
            .map(|p| outcome(p, Action::WouldApply, None, None))
            .collect();
        report.next_steps = next_steps(request, &inputs);
        return Ok(report);
    }
    check_backup_dir(&request.backup_dir)?;
    apply_all(request, &planned, &mut report).await?;
    if report.error.is_none() {
        report.next_steps = next_steps(request, &inputs);
    }
    Ok(report)
}

/// Apply the planned secrets as one change and report each one.
async fn apply_all(
    request: &PushRequest,
    planned: &[Planned],
    report: &mut PushReport,
) -> Result<(), crate::Error> {
    let connected = request.cluster.connect().await?;
    let client = connected.client.clone();
    report.server = Some(connected.url.clone());
    let options = Options {
        namespace: &request.namespace,
        backup_dir: &request.backup_dir,
        backup_at: request.at,
        replace: request.replace,
        create_namespace: request.create_namespace,
        override_cert_manager: request.force,
    };
    let wanted: Vec<Secret> = planned.iter().map(|p| p.secret.clone()).collect();
    let applied = apply_set(client.clone(), &options, &wanted).await;
    let pushed_additional = planned
        .iter()
        .any(|p| p.secret.metadata.name.as_deref() == Some(crate::rancher::ADDITIONAL_CA_SECRET));
    report.namespace_created = applied.namespace_created;
    if pushed_additional && applied.error.is_none() {
        report.additional_trusted_cas = Some(additional_trusted_cas_check(&client, request).await);
    }
    report.api_requests = connected.requests.count();
    report.error = applied.error;
    report.blocked = applied.blocked;
    report.secrets = planned
        .iter()
        .zip(&applied.changes)
        .map(|(item, change)| {
            let old = change.before.as_ref().map(summarise_existing);
            let backup = change.backup.as_ref().map(|p| p.display().to_string());
            let mut done = outcome(item, change.action, old, backup);
            done.warning = checksum_warning(item, change, &request.namespace);
            done
        })
        .collect();
    Ok(())
}

/// Whether the Rancher helm release sets `additionalTrustedCAs` (without it Rancher
/// ignores tls-ca-additional).
async fn additional_trusted_cas_check(client: &kube::Client, request: &PushRequest) -> Check {
    let namespace = request.namespace.as_str();
    // helm reaches the cluster push wrote to.
    let mut helm = crate::rancher::helm_upgrade_argv(namespace, &["additionalTrustedCAs=true"]);
    helm.extend(request.cluster.flags("--kube-context"));
    let upgrade = format!("helm upgrade rancher rancher-latest/rancher -n {namespace} --reuse-values --set additionalTrustedCAs=true");
    match crate::cluster::rancher_objects::helm_values(client, namespace).await {
        Ok(Some(values)) if values.additional_trusted_cas == Some(true) => Check::ok(
            CheckId::HelmValues,
            format!("helm release rancher v{} has additionalTrustedCAs=true: Rancher trusts tls-ca-additional", values.revision),
        ),
        Ok(Some(values)) => Check::warning(
            CheckId::HelmValues, Cause::HelmValues,
            format!(
                "helm release rancher v{} has additionalTrustedCAs={}: Rancher ignores tls-ca-additional until {upgrade}",
                values.revision,
                values.additional_trusted_cas.map_or("unset".to_string(), |v| v.to_string())
            ),
        )
        .with_fix(
            crate::check::Fix::command(Cause::HelmValues, helm)
                .note("rancher-latest is the chart repository Rancher was installed from (helm repo list)"),
        ),
        Ok(None) => Check::warning(
            CheckId::HelmValues, Cause::HelmValues,
            format!("no rancher helm release in {namespace} (installed another way?): Rancher reads tls-ca-additional only with additionalTrustedCAs=true"),
        ),
        Err(reason) => Check::skipped(CheckId::HelmValues, Cause::ApiError, format!("additionalTrustedCAs not checked: {reason}")),
    }
}

/// A CA secret whose bytes change moves CATTLE_CA_CHECKSUM: say so, with what agents need.
fn checksum_warning(item: &Planned, change: &Change, namespace: &str) -> Option<String> {
    let new = item.checksum.as_ref()?;
    if !change.action.changed() {
        return None;
    }
    let old = change
        .before
        .as_ref()
        .and_then(|old| {
            old.data
                .as_ref()?
                .get(crate::rancher::CA_SECRET_KEY)
                .cloned()
        })
        .map(|bytes| crate::rancher::ca_checksum(&bytes.0))?;
    (old != *new).then(|| {
        format!(
            "CATTLE_CA_CHECKSUM changes from {old} to {new}: agents registered with the old one stop connecting at their next restart. Restart Rancher (kubectl -n {namespace} rollout restart deploy/rancher), then update every downstream cluster's agents (Rancher docs, \"Updating a Private CA Certificate\": annotate each clusters.management.cattle.io with io.cattle.agent.force.deploy=true, or set CATTLE_CA_CHECKSUM={new} on cattle-cluster-agent)"
        )
    })
}

fn outcome(
    planned: &Planned,
    action: Action,
    old: Option<String>,
    backup: Option<String>,
) -> SecretOutcome {
    SecretOutcome {
        name: planned.secret.metadata.name.clone().unwrap_or_default(),
        kind: planned
            .secret
            .type_
            .clone()
            .unwrap_or_else(|| "Opaque".to_string()),
        action,
        old,
        new: planned.summary.clone(),
        backup,
        error: None,
        warning: None,
    }
}

fn next_steps(request: &PushRequest, inputs: &Inputs) -> Vec<String> {
    let Some(server) = &inputs.server else {
        return vec![format!(
            "helm upgrade rancher rancher-latest/rancher --namespace {} --reuse-values --set additionalTrustedCAs=true   # if not set yet; Rancher reads tls-ca-additional at start",
            request.namespace
        )];
    };
    let host = server
        .chain
        .first()
        .and_then(|leaf| leaf.dns_names.first().cloned())
        .unwrap_or_else(|| "<your Rancher host>".to_string());
    let mut helm = format!(
        "helm upgrade --install rancher rancher-latest/rancher --namespace {} --set hostname={host} --set ingress.tls.source=secret",
        request.namespace
    );
    let with_ca = inputs.ca.is_some();
    let checksum = inputs.ca.as_ref().and_then(|ca| ca.checksum.clone());
    if with_ca {
        helm.push_str(" --set privateCA=true");
    }
    if !inputs.additional.is_empty() {
        helm.push_str(" --set additionalTrustedCAs=true");
    }
    let mut steps = vec![helm];
    if let Some(sum) = &checksum {
        steps.push(format!("agents compare CATTLE_CA_CHECKSUM={sum}"));
    }
    steps
}
