//! Kubernetes secrets for Rancher (kube, k8s-openapi), for `rcert push`.
//!
//! Validates the files first (nothing is sent when a check fails, unless forced),
//! creates the namespace when missing, then applies `tls-ca` and
//! `tls-rancher-ingress` with server-side apply (field manager `rcert`). Before a
//! secret changes, its old state is saved to a local backup file (0600); a secret
//! whose data is already identical is left alone and reported as unchanged.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use serde::Serialize;

use crate::check::{Check, CheckId, Status};
use crate::checks::{self, Context, Origin};
use crate::cluster::secrets::{apply_set, check_backup_dir, secret, Action, Change, Options};
use crate::cluster::{connect, manifests_yaml, validate_name, validate_namespace};
use crate::output::{check_line, checks_text, next_steps_text, Report, Style};
use crate::rancher::CaBundle;
use crate::x509::cert::{self as inspect, Cert};

/// What `rcert push` is asked to do.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// Target namespace.
    pub namespace: String,
    /// tls.crt: leaf first, then intermediates.
    pub cert: String,
    /// tls.key.
    pub key: String,
    /// cacerts.pem, when a private CA is used.
    pub ca: Option<String>,
    /// `--kubeconfig`; else `$KUBECONFIG`, else `~/.kube/config`, else in-cluster.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
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
    pub additional_ca: Vec<String>,
    /// Connect and read timeout of each API request.
    pub timeout: Duration,
}

impl PushRequest {
    /// The input files from `--dir`: tls.crt, tls.key, and cacerts.pem when present.
    pub fn files_from_dir(dir: &Path) -> (String, String, Option<String>) {
        let path = |name: &str| dir.join(name).display().to_string();
        let ca = dir.join("cacerts.pem");
        (
            path("tls.crt"),
            path("tls.key"),
            ca.exists().then(|| ca.display().to_string()),
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
    pub old: Option<String>,
    /// Fingerprint and expiry of what it holds now.
    pub new: String,
    /// Where the previous object was saved.
    pub backup: Option<String>,
    /// The API error, when it failed.
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
    pub server: Option<String>,
    /// The error that stopped the push (exit 3, or 1 when `blocked`).
    pub error: Option<String>,
    /// The cluster's state forbids the change (a Secret type that would have to change).
    pub blocked: bool,
    /// CATTLE_CA_CHECKSUM for the pushed CA.
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
    validate_namespace(&request.namespace)?;
    for name in [&request.secret_name, &request.ca_secret_name] {
        validate_name(name)?;
    }
    let inputs = Inputs::load(request)?;
    let validation = inputs.validate(request);
    let refused = Status::worst(&validation) == Status::Failed && !request.force;
    let planned = inputs.plan(request);
    let mut report = PushReport {
        namespace: request.namespace.clone(),
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
        report.manifests = Some(manifests_yaml(&secrets).map_err(crate::Error::Usage)?);
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

/// The files, read once: exact bytes (what lands in the secrets) and parsed facts.
struct Inputs {
    cert_bytes: Vec<u8>,
    key_bytes: Vec<u8>,
    chain: Vec<Cert>,
    key: inspect::KeyInfo,
    ca: Option<CaBundle>,
    /// `--additional-ca` certificates with the file each came from, in input order.
    additional: Vec<(String, Cert)>,
}

impl Inputs {
    fn load(request: &PushRequest) -> Result<Inputs, crate::Error> {
        let cert = crate::x509::pem::load_certificates(&request.cert)?;
        if !cert.keys().is_empty() {
            return Err(crate::x509::pem::PemError::KeyInCertificateFile {
                path: request.cert.clone(),
            }
            .into());
        }
        let chain = inspect::certs_from(&cert)?;
        let key_file = crate::x509::pem::load(&request.key)?;
        let key = inspect::key_from(&key_file)?;
        let ca = request.ca.as_deref().map(CaBundle::load).transpose()?;
        let mut additional = Vec::new();
        for file in &request.additional_ca {
            for cert in inspect::load_certs(file)? {
                additional.push((file.clone(), cert));
            }
        }
        // Secrets hold PEM whatever came in: what ingress-nginx and Rancher read.
        Ok(Inputs {
            additional,
            cert_bytes: cert.certificates_as_pem(),
            key_bytes: key_file.key_as_pem(),
            chain,
            key,
            ca,
        })
    }

    /// The verify checks that decide whether the files may be pushed.
    fn validate(&self, request: &PushRequest) -> Vec<Check> {
        let context = Context {
            ca: self.ca.clone(),
            untrusted: Vec::new(),
            key: Some((request.key.clone(), self.key.clone())),
            hosts: Vec::new(),
            at: time::OffsetDateTime::now_utc(),
            warn_days: 30,
        };
        checks::check_chain(&self.chain, Origin::File(&request.cert), &context)
            .into_iter()
            .map(|check| match check.status {
                // Without --ca a private chain cannot be judged: say so, do not refuse.
                Status::Failed if check.name == CheckId::Chain && self.ca.is_none() => {
                    Check::warning(
                        CheckId::Chain,
                        format!("{} (pass --ca when a private CA signed it)", check.message),
                    )
                }
                _ => check,
            })
            .chain(self.additional_check())
            .collect()
    }

    /// `tls-ca-additional` takes CA certificates only: a leaf refuses the push.
    fn additional_check(&self) -> Option<Check> {
        if self.additional.is_empty() {
            return None;
        }
        if let Some((file, leaf)) = self.additional.iter().find(|(_, cert)| !cert.is_ca) {
            return Some(Check::failed(
                CheckId::TlsCa,
                format!(
                    "{file}: '{}' is not a CA certificate; tls-ca-additional holds the CAs Rancher trusts for outgoing connections (registries, git, OIDC), not server certificates",
                    leaf.subject
                ),
            ));
        }
        let (kept, notes) = self.additional_bundle();
        let message = format!(
            "tls-ca-additional: {} CA certificate(s){}",
            kept.len(),
            if notes.is_empty() {
                String::new()
            } else {
                format!("; {}", notes.join("; "))
            }
        );
        Some(if notes.is_empty() {
            Check::ok(CheckId::TlsCa, message)
        } else {
            Check::warning(CheckId::TlsCa, message)
        })
    }

    /// The additional CAs kept (input order, duplicates and expired ones dropped) and why
    /// others were dropped.
    fn additional_bundle(&self) -> (Vec<&Cert>, Vec<String>) {
        let now = time::OffsetDateTime::now_utc();
        let mut kept: Vec<&Cert> = Vec::new();
        let mut notes = Vec::new();
        for (file, cert) in &self.additional {
            if kept.iter().any(|known| known.der() == cert.der()) {
                notes.push(format!(
                    "dropped a duplicate of '{}' ({file})",
                    cert.subject
                ));
            } else if cert.not_after_time() < now {
                notes.push(format!(
                    "dropped '{}' ({file}): expired on {}",
                    cert.subject, cert.not_after
                ));
            } else {
                kept.push(cert);
            }
        }
        (kept, notes)
    }

    fn plan(&self, request: &PushRequest) -> Vec<Planned> {
        let mut planned = Vec::new();
        let (additional, _) = self.additional_bundle();
        if !additional.is_empty() {
            let pem: String = additional.iter().map(|cert| cert.pem()).collect();
            planned.push(Planned {
                secret: secret(
                    &request.namespace,
                    crate::rancher::ADDITIONAL_CA_SECRET,
                    None,
                    [(crate::rancher::ADDITIONAL_CA_SECRET_KEY, pem.into_bytes())],
                ),
                summary: format!("{} additional CA certificate(s)", additional.len()),
                checksum: None,
            });
        }
        if let Some(ca) = &self.ca {
            let summary = ca
                .certs
                .first()
                .map(|cert| fingerprint_summary(cert, ca.checksum.as_deref()))
                .unwrap_or_default();
            planned.push(Planned {
                secret: secret(
                    &request.namespace,
                    &request.ca_secret_name,
                    None,
                    [(crate::rancher::CA_SECRET_KEY, ca.bytes.clone())],
                ),
                summary,
                checksum: ca.checksum.clone(),
            });
        }
        let summary = self
            .chain
            .first()
            .map(|leaf| fingerprint_summary(leaf, None))
            .unwrap_or_default();
        planned.push(Planned {
            secret: secret(
                &request.namespace,
                &request.secret_name,
                Some("kubernetes.io/tls"),
                [
                    ("tls.crt", self.cert_bytes.clone()),
                    ("tls.key", self.key_bytes.clone()),
                ],
            ),
            summary,
            checksum: None,
        });
        planned
    }
}

fn fingerprint_summary(cert: &Cert, checksum: Option<&str>) -> String {
    let checksum = checksum
        .map(|sum| format!(", CATTLE_CA_CHECKSUM {}…", &sum[..12.min(sum.len())]))
        .unwrap_or_default();
    format!(
        "'{}' sha256 {}… expires {}{checksum}",
        cert.display_name(),
        &cert.sha256_fingerprint[..23.min(cert.sha256_fingerprint.len())],
        cert.not_after
    )
}

/// What a secret in the cluster holds, summarised like the new one.
fn summarise_existing(secret: &Secret) -> String {
    let data = secret.data.clone().unwrap_or_default();
    let pem = data
        .get("tls.crt")
        .or_else(|| data.get("cacerts.pem"))
        .map(|bytes| bytes.0.clone())
        .unwrap_or_default();
    let checksum = data
        .get("cacerts.pem")
        .map(|bytes| crate::rancher::ca_checksum(&bytes.0));
    match inspect::certs_in(&pem).first() {
        Some(cert) => fingerprint_summary(cert, checksum.as_deref()),
        None => "no readable certificate".to_string(),
    }
}

/// Apply the planned secrets as one change and report each one.
async fn apply_all(
    request: &PushRequest,
    planned: &[Planned],
    report: &mut PushReport,
) -> Result<(), crate::Error> {
    let (client, url) = connect(
        request.kubeconfig.as_deref(),
        request.context.as_deref(),
        request.timeout,
    )
    .await?;
    report.server = Some(url);
    let options = Options {
        namespace: &request.namespace,
        backup_dir: &request.backup_dir,
        replace: request.replace,
        create_namespace: request.create_namespace,
        override_cert_manager: request.force,
    };
    let wanted: Vec<Secret> = planned.iter().map(|p| p.secret.clone()).collect();
    let applied = apply_set(client.clone(), &options, &wanted).await;
    let pushed_additional = planned
        .iter()
        .any(|p| p.secret.metadata.name.as_deref() == Some(crate::rancher::ADDITIONAL_CA_SECRET));
    if pushed_additional && applied.error.is_none() {
        report.additional_trusted_cas =
            Some(additional_trusted_cas_check(&client, &request.namespace).await);
        report.api_requests += 1;
    }
    report.namespace_created = applied.namespace_created;
    report.api_requests = applied.requests;
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
async fn additional_trusted_cas_check(client: &kube::Client, namespace: &str) -> Check {
    let upgrade = format!("helm upgrade rancher rancher-latest/rancher -n {namespace} --reuse-values --set additionalTrustedCAs=true");
    match crate::cluster::rancher_objects::helm_values(client, namespace).await {
        Ok(Some(values)) if values.additional_trusted_cas == Some(true) => Check::ok(
            CheckId::HelmValues,
            format!("helm release rancher v{} has additionalTrustedCAs=true: Rancher trusts tls-ca-additional", values.revision),
        ),
        Ok(Some(values)) => Check::warning(
            CheckId::HelmValues,
            format!(
                "helm release rancher v{} has additionalTrustedCAs={}: Rancher ignores tls-ca-additional until {upgrade}",
                values.revision,
                values.additional_trusted_cas.map_or("unset".to_string(), |v| v.to_string())
            ),
        ),
        Ok(None) => Check::warning(
            CheckId::HelmValues,
            format!("no rancher helm release in {namespace} (installed another way?): Rancher reads tls-ca-additional only with additionalTrustedCAs=true"),
        ),
        Err(reason) => Check::skipped(CheckId::HelmValues, format!("additionalTrustedCAs not checked: {reason}")),
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
    let host = inputs
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

impl Report for PushReport {
    /// Validation, the namespace, each secret old → new, next steps.
    fn text(&self, style: &Style) -> String {
        push_text(self, style)
    }

    fn exit_code(&self) -> u8 {
        PushReport::exit_code(self)
    }
}

fn push_text(report: &PushReport, style: &Style) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", style.heading("Validation of the files"));
    out.push_str(&checks_text(&report.validation, style));
    if report.refused {
        let _ = writeln!(
            out,
            "  {} refused: nothing was sent to the cluster (fix the failed checks, or pass --force)",
            style.status(Status::Failed)
        );
        return out;
    }
    let target = report
        .server
        .as_deref()
        .map(|server| format!(" on {server}"))
        .unwrap_or_default();
    let mode = if report.dry_run {
        " (dry run: no cluster contacted)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!("Namespace {}{target}{mode}", report.namespace))
    );
    if report.namespace_created {
        let _ = writeln!(out, "  created namespace {}", report.namespace);
    }
    for secret in &report.secrets {
        let status = match secret.action.status() {
            Status::Ok if secret.warning.is_some() => Status::Warning,
            status => status,
        };
        let _ = writeln!(
            out,
            "  {} secret {} ({}): {}",
            style.status(status),
            secret.name,
            secret.kind,
            secret.action.label()
        );
        match &secret.old {
            Some(old) if secret.action.changed() => {
                let _ = writeln!(out, "      old {old}\n      new {}", secret.new);
            }
            _ => {
                let _ = writeln!(out, "      {}", secret.new);
            }
        }
        if let Some(backup) = &secret.backup {
            let _ = writeln!(out, "      previous version saved to {backup} (mode 0600)");
        }
        if let Some(error) = &secret.error {
            let _ = writeln!(out, "      {error}");
        }
        if let Some(warning) = &secret.warning {
            let _ = writeln!(out, "      {warning}");
        }
    }
    if let Some(error) = &report.error {
        let _ = writeln!(out, "  {} {error}", style.status(Status::Failed));
    }
    if let Some(check) = &report.additional_trusted_cas {
        out.push_str(&check_line(check, 12, style));
    }
    if !report.dry_run {
        let _ = writeln!(out, "  {} API request(s)", report.api_requests);
    }
    out.push_str(&next_steps_text(&report.next_steps));
    out
}
