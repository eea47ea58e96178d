//! `rcert doctor`: check a Rancher TLS setup end to end — the cluster's secrets, the live
//! endpoints and Rancher's `/cacerts` — by joining what `verify`, `probe` and `push` know.
//!
//! Each part that cannot run (no kubeconfig, cluster or endpoint unreachable) is reported
//! as skipped with its reason, and the other parts still run. Every failure carries the
//! one command that fixes it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use k8s_openapi::api::core::v1::Secret;

use serde::Serialize;

use std::fmt::Write as _;

mod additional_ca;
mod agents;
mod cert_manager;
mod cluster;
mod drift;
mod endpoint;
mod ingress;
mod served_ca;
mod webhook;

use crate::check::{Cause, Check, CheckId, Fix, Status, Subject};
use crate::checks::served;
use crate::checks::{self, Context, Origin};
use crate::cluster::{ClusterTarget, Namespace};
use crate::output::{check_line, Report, Style};
use crate::rancher::CaBundle;
use crate::rancher::{is_ingress_fake_certificate, INGRESS_FAKE_CERTIFICATE};
use crate::tls::{ProbeRequest, ProbeResult, Target};
use crate::x509::cert::{self as inspect, Cert};
use crate::x509::pem::Input;

/// The part of doctor a finding comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// The secrets in the cluster.
    Cluster,
    /// What the host and nodes serve.
    Endpoint,
    /// Rancher's `/ping` and `/cacerts`.
    Rancher,
    /// Local files against the secrets.
    Drift,
    /// What Rancher's agents depend on: the cacerts setting, their checksum, the clusters.
    Agents,
}

impl std::fmt::Display for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Section::Cluster => "cluster",
            Section::Endpoint => "endpoint",
            Section::Rancher => "rancher",
            Section::Drift => "drift",
            Section::Agents => "agents",
        })
    }
}

/// What `rcert doctor` is asked to check.
#[derive(Debug, Clone)]
pub struct DoctorRequest {
    /// Whose rejection fails a check (`--clients`).
    pub clients: crate::check::Clients,
    /// The time of judgement, decided once by the CLI.
    pub at: time::OffsetDateTime,
    /// The Rancher host name (SNI, name checks) and where to reach it.
    pub host: Target,
    /// Individual nodes or load-balancer backends, probed with the host name as SNI.
    pub nodes: Vec<Target>,
    /// Namespace of the secrets.
    pub namespace: Namespace,
    /// Local directory with tls.crt, tls.key, cacerts.pem to compare with the cluster.
    pub dir: Option<PathBuf>,
    /// Local CA file (cacerts.pem) to compare with what Rancher serves.
    pub ca: Option<Input>,
    /// The cluster (`--kubeconfig`, `--context`) and the timeout of each network step.
    pub cluster: ClusterTarget,
    /// Name of the certificate secret.
    pub secret_name: String,
    /// Name of the CA secret.
    pub ca_secret_name: String,
}

/// One row of the doctor's table.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `cluster`, `endpoint`, `rancher` or `drift`.
    pub section: Section,
    /// The check and its evidence, with its fix (`fix.commands` as argv).
    #[serde(flatten)]
    pub check: Check,
}

/// The result of `rcert doctor`.
#[derive(Debug, Serialize)]
pub struct DoctorReport {
    /// The Rancher host checked.
    pub host: String,
    /// Namespace of the secrets.
    pub namespace: String,
    /// Every finding, grouped by section in the order cluster, endpoint, rancher, drift.
    pub findings: Vec<Finding>,
    /// The CATTLE_CA_CHECKSUM agents must be given (from /cacerts, else from tls-ca).
    pub ca_checksum: Option<String>,
    /// Kubernetes API requests made.
    pub api_requests: u32,
    /// Wall time of the whole run.
    pub elapsed_ms: u64,
    /// Overall verdict.
    pub status: Status,
    /// Whether a part was skipped because the cluster or an endpoint was unreachable.
    pub unreachable: bool,
}

impl DoctorReport {
    /// 3 when a remote part was unreachable, else 1 when a check failed, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.unreachable {
            crate::exit::REMOTE
        } else if self.status == Status::Failed {
            crate::exit::CHECK_FAILED
        } else {
            crate::exit::OK
        }
    }
}

/// What the cluster holds, decoded.
#[derive(Debug, Default)]
struct ClusterSecrets {
    tls: Option<Secret>,
    ca: Option<Secret>,
}

impl ClusterSecrets {
    fn tls_data(&self, key: &str) -> Option<Vec<u8>> {
        secret_data(self.tls.as_ref()?, key)
    }

    fn ca_bytes(&self) -> Option<Vec<u8>> {
        self.ca_entry().map(|(_, bytes)| bytes)
    }

    /// The CA in tls-ca: under `cacerts.pem`, else the first key that holds certificates
    /// (reported, since Rancher reads `cacerts.pem` only).
    fn ca_entry(&self) -> Option<(String, Vec<u8>)> {
        let data = self.ca.as_ref()?.data.as_ref()?;
        if let Some(bytes) = data.get(crate::rancher::CA_SECRET_KEY) {
            return Some((crate::rancher::CA_SECRET_KEY.to_string(), bytes.0.clone()));
        }
        data.iter()
            .find(|(_, bytes)| !inspect::certs_in(&bytes.0).is_empty())
            .map(|(key, bytes)| (key.clone(), bytes.0.clone()))
    }
}

fn secret_data(secret: &Secret, key: &str) -> Option<Vec<u8>> {
    secret.data.as_ref()?.get(key).map(|bytes| bytes.0.clone())
}

/// Builds the findings, remembering where fixes point.
struct Doctor<'a> {
    request: &'a DoctorRequest,
    findings: Vec<Finding>,
    unreachable: bool,
    /// The cluster client, once the cluster part connected.
    client: Option<kube::Client>,
    /// What that client has sent.
    requests: Option<crate::cluster::ApiRequests>,
}

/// Run every part and collect the findings.
pub async fn doctor(request: &DoctorRequest) -> Result<DoctorReport, crate::Error> {
    let started = Instant::now();
    let local_ca = local_ca(request)?;
    let mut doctor = Doctor {
        request,
        findings: Vec::new(),
        unreachable: false,
        client: None,
        requests: None,
    };
    let secrets = doctor.cluster_part().await;
    if let Some(secrets) = &secrets {
        doctor.cert_manager_part(secrets).await;
        doctor.additional_ca_part().await;
        doctor.webhook_part().await;
    }
    let secret_chain = secrets
        .as_ref()
        .and_then(|s| chain_of(s.tls_data("tls.crt")));
    let ca_for_probe = secrets
        .as_ref()
        .and_then(ClusterSecrets::ca_bytes)
        .and_then(|bytes| bundle_from("secret tls-ca", bytes))
        .or_else(|| local_ca.clone());
    let results = doctor
        .endpoint_part(ca_for_probe, secret_chain.as_deref())
        .await;
    let served_checksum = doctor.rancher_part(&results, secrets.as_ref(), local_ca.as_ref());
    if let Some(secrets) = &secrets {
        doctor.drift_part(secrets);
        doctor
            .agents_part(secrets, served_checksum.as_deref())
            .await;
    }
    let ca_checksum = served_checksum.or_else(|| {
        secrets
            .as_ref()
            .and_then(ClusterSecrets::ca_bytes)
            .map(|bytes| crate::rancher::ca_checksum(&bytes))
    });
    let checks: Vec<Check> = doctor.findings.iter().map(|f| f.check.clone()).collect();
    Ok(DoctorReport {
        host: request.host.host.clone(),
        namespace: request.namespace.to_string(),
        status: Status::worst(&checks),
        findings: doctor.findings,
        ca_checksum,
        api_requests: doctor
            .requests
            .as_ref()
            .map_or(0, |requests| requests.count()),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        unreachable: doctor.unreachable,
    })
}

fn local_ca(request: &DoctorRequest) -> Result<Option<CaBundle>, crate::Error> {
    let path = request.ca.clone().or_else(|| {
        let candidate = request.dir.as_ref()?.join("cacerts.pem");
        candidate.exists().then(|| Input::path(candidate))
    });
    Ok(path.as_ref().map(CaBundle::load).transpose()?)
}

fn bundle_from(source: &str, bytes: Vec<u8>) -> Option<CaBundle> {
    let certs = inspect::certs_in(&bytes);
    (!certs.is_empty()).then(|| {
        CaBundle::new(
            source.to_string(),
            certs,
            bytes,
            crate::rancher::BundleKind::Embedded,
        )
    })
}

fn chain_of(bytes: Option<Vec<u8>>) -> Option<Vec<Cert>> {
    let certs = inspect::certs_in(&bytes?);
    (!certs.is_empty()).then_some(certs)
}

fn fingerprints(chain: &[Cert]) -> Vec<&str> {
    chain
        .iter()
        .map(|cert| cert.sha256_fingerprint.as_str())
        .collect()
}

/// Whether two chains hold the same certificates but their self-signed roots, whatever
/// the order.
fn same_non_roots(one: &[Cert], other: &[Cert]) -> bool {
    let set = |chain: &[Cert]| {
        let mut kept: Vec<String> = chain
            .iter()
            .filter(|cert| !cert.self_signed)
            .map(|cert| cert.sha256_fingerprint.clone())
            .collect();
        kept.sort_unstable();
        kept.dedup();
        kept
    };
    let mine = set(one);
    !mine.is_empty() && mine == set(other)
}

fn short(fingerprint: &str) -> &str {
    &fingerprint[..fingerprint.len().min(23)]
}

impl Doctor<'_> {
    /// A finding of `section`; a failure gets `fix` (commands), else keeps the doc.
    fn add(&mut self, section: Section, mut check: Check, fix: Option<Fix>) {
        if let Some(fix) = fix.filter(|_| check.status == Status::Failed) {
            check.fix = Some(self.grounded(fix));
        }
        if let Some(subject) = self.default_subject(section, check.name) {
            check = check.about_by_default(&subject);
        }
        self.findings.push(Finding { section, check });
    }

    /// A fix whose commands name the operator's files (`tls.crt`, `cacerts.pem`, …)
    /// only as commands that will run: the files of `--dir` where it holds them; else the
    /// fix is given in words (a command naming a file that is not there fails).
    fn grounded(&self, fix: Fix) -> Fix {
        const PLACEHOLDERS: [&str; 7] = [
            "tls.crt",
            "tls.key",
            "cacerts.pem",
            "cakey.pem",
            "intermediate.pem",
            "root.pem",
            "./certs",
        ];
        let dir = self.request.dir.as_deref();
        let mut words_only = false;
        let fix = Fix {
            commands: fix
                .commands
                .iter()
                .map(|argv| self.on_cluster(argv))
                .collect(),
            ..fix
        };
        let commands: Vec<Vec<String>> = fix
            .commands
            .iter()
            .map(|argv| {
                argv.iter()
                    .map(|word| {
                        if !PLACEHOLDERS.contains(&word.as_str()) {
                            return word.clone();
                        }
                        match dir {
                            Some(dir) if word == "./certs" => dir.display().to_string(),
                            Some(dir) if dir.join(word).is_file() => {
                                dir.join(word).display().to_string()
                            }
                            _ => {
                                words_only = true;
                                word.clone()
                            }
                        }
                    })
                    .collect()
            })
            .collect();
        if !words_only {
            return Fix { commands, ..fix };
        }
        let mut words = fix.clone();
        words.commands.clear();
        words.note = Some(format!(
            "with your files (tls.crt, tls.key, cacerts.pem; --dir names where they are): {}",
            fix.line()
        ));
        words
    }

    /// A command that talks to the cluster, pointed at the one doctor read (its
    /// `--kubeconfig` and `--context`), so it never changes another.
    fn on_cluster(&self, argv: &[String]) -> Vec<String> {
        let flags = |context_flag: &str| self.request.cluster.flags(context_flag);
        let mut argv = argv.to_vec();
        match argv.first().map(String::as_str) {
            Some("kubectl") => {
                argv.splice(1..1, flags("--context"));
            }
            Some("helm") => argv.extend(flags("--kube-context")),
            Some("rcert") if matches!(argv.get(1).map(String::as_str), Some("push" | "rotate")) => {
                argv.extend(flags("--context"))
            }
            _ => {}
        }
        argv
    }

    /// [`Doctor::add`] for a finding about `subject` (unless it names its own).
    fn add_about(&mut self, section: Section, subject: &Subject, check: Check, fix: Option<Fix>) {
        self.add(section, check.about_by_default(subject), fix);
    }

    /// What a finding is about when its code did not say: the Secret, the Rancher
    /// setting, or (endpoint and Rancher sections) the host probed.
    fn default_subject(&self, section: Section, id: CheckId) -> Option<Subject> {
        let secret = |name: &str| Subject::Secret {
            namespace: self.request.namespace.to_string(),
            name: name.to_string(),
        };
        let setting = crate::cluster::rancher_objects::setting_subject;
        Some(match id {
            CheckId::Secret | CheckId::Secrets | CheckId::Key | CheckId::CertManager => {
                secret(&self.request.secret_name)
            }
            CheckId::TlsCa => secret(&self.request.ca_secret_name),
            CheckId::CacertsSetting => setting("cacerts"),
            CheckId::AgentTlsMode => setting("agent-tls-mode"),
            _ if matches!(section, Section::Endpoint | Section::Rancher) => Subject::Endpoint {
                target: self.request.host.input.clone(),
            },
            _ => return None,
        })
    }

    /// A failed cluster check that a fresh push fixes.
    fn cluster_failure(&mut self, name: CheckId, cause: Cause, message: String) {
        let fix = self.push_fix();
        self.add(
            Section::Cluster,
            Check::failed(name, cause, message),
            Some(fix),
        );
    }

    fn secret_ref(&self) -> String {
        format!("{}/{}", self.request.namespace, self.request.secret_name)
    }

    /// `rcert push` of the local set (`--dir`, else ./certs).
    fn push_argv(&self) -> Vec<String> {
        let dir = self
            .request
            .dir
            .as_ref()
            .map_or_else(|| "./certs".to_string(), |d| d.display().to_string());
        argv(&[
            "rcert",
            "push",
            "--namespace",
            &self.request.namespace,
            "--dir",
            &dir,
        ])
    }

    fn push_fix(&self) -> Fix {
        Fix::command(Cause::BadSecret, self.push_argv())
    }

    fn renew_fix(&self) -> Fix {
        Fix::command(
            Cause::Expired,
            argv(&[
                "rcert",
                "selfsign",
                "--host",
                &self.request.host.host,
                "--ca-cert",
                "cacerts.pem",
                "--ca-key",
                "cakey.pem",
                "--out",
                "./renewed",
            ]),
        )
        .then(argv(&[
            "rcert",
            "push",
            "--namespace",
            &self.request.namespace,
            "--dir",
            "./renewed",
        ]))
    }
}

/// Words as an argv.
fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|word| word.to_string()).collect()
}

/// `kubectl -n NAMESPACE rollout restart WORKLOAD` as the fix for `cause`.
fn rollout_restart(cause: Cause, namespace: &str, workload: &str) -> Fix {
    Fix::command(
        cause,
        argv(&["kubectl", "-n", namespace, "rollout", "restart", workload]),
    )
}

/// Restart the ingress controller so it loads its TLS Secrets again: its name depends
/// on the distribution, so in words.
fn reload_ingress_nginx(cause: Cause) -> Fix {
    Fix::words(
        cause,
        "restart the ingress controller so it loads the secret again: kubectl -n ingress-nginx rollout restart daemonset/ingress-nginx-controller (RKE2: kubectl -n kube-system rollout restart daemonset/rke2-ingress-nginx-controller); or update the TLS certificate of the load balancer in front of Rancher",
    )
}

/// `helm upgrade` of the rancher release keeping its values, with one value set.
fn helm_upgrade(namespace: &str, value: &str) -> Fix {
    Fix::command(
        Cause::HelmValues,
        crate::rancher::helm_upgrade_argv(namespace, &[value]),
    )
}

fn read_if_present(path: &Path) -> Option<Vec<u8>> {
    path.is_file().then(|| std::fs::read(path).ok()).flatten()
}

impl Report for DoctorReport {
    /// One table of checks by section, each failure with its fix.
    fn text(&self, style: &Style) -> String {
        doctor_text(self, style)
    }

    fn exit_code(&self) -> u8 {
        DoctorReport::exit_code(self)
    }
}

fn doctor_text(report: &DoctorReport, style: &Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!(
            "Rancher TLS doctor for {} (namespace {})",
            report.host, report.namespace
        ))
    );
    let mut section = None;
    for finding in &report.findings {
        if Some(finding.section) != section {
            section = Some(finding.section);
            let _ = writeln!(out, "{}", style.heading(&format!("[{}]", finding.section)));
        }
        out.push_str(&check_line(&finding.check, 14, style));
        let fix = finding.check.fix.as_ref();
        if let Some(fix) = fix.filter(|_| finding.check.status == Status::Failed) {
            if !fix.commands.is_empty() || fix.note.is_some() {
                let _ = writeln!(out, "  {:<8} {:<14}fix: {}", "", "", fix.line());
            }
        }
    }
    if let Some(checksum) = &report.ca_checksum {
        let _ = writeln!(out, "\nCATTLE_CA_CHECKSUM={checksum}");
    }
    let _ = writeln!(
        out,
        "{} API request(s), {} ms",
        report.api_requests, report.elapsed_ms
    );
    out
}
