//! `rcert doctor`: check a Rancher TLS setup end to end — the cluster's secrets, the live
//! endpoints and Rancher's `/cacerts` — by joining what `verify`, `probe` and `push` know.
//!
//! Each part that cannot run (no kubeconfig, cluster or endpoint unreachable) is reported
//! as skipped with its reason, and the other parts still run. Every failure carries the
//! one command that fixes it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use serde::Serialize;

use std::fmt::Write as _;

use crate::check::{Check, Status};
use crate::checks::served;
use crate::checks::{self, Context, Origin};
use crate::output::{check_line, Report, Style};
use crate::rancher::CaBundle;
use crate::rancher::INGRESS_FAKE_CERTIFICATE;
use crate::tls::{ProbeRequest, ProbeResult, Target};
use crate::x509::cert::{self as inspect, Cert};

/// What `rcert doctor` is asked to check.
#[derive(Debug, Clone)]
pub struct DoctorRequest {
    /// The Rancher host name (SNI, name checks) and where to reach it.
    pub host: Target,
    /// Individual nodes or load-balancer backends, probed with the host name as SNI.
    pub nodes: Vec<Target>,
    /// Namespace of the secrets.
    pub namespace: String,
    /// Local directory with tls.crt, tls.key, cacerts.pem to compare with the cluster.
    pub dir: Option<PathBuf>,
    /// Local CA file (cacerts.pem) to compare with what Rancher serves.
    pub ca: Option<String>,
    /// Kubeconfig file; else as kubectl finds it.
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    pub context: Option<String>,
    /// Timeout of each network step.
    pub timeout: Duration,
    /// Name of the certificate secret.
    pub secret_name: String,
    /// Name of the CA secret.
    pub ca_secret_name: String,
}

/// One row of the doctor's table.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `cluster`, `endpoint`, `rancher` or `drift`.
    pub section: &'static str,
    /// The check and its evidence.
    #[serde(flatten)]
    pub check: Check,
    /// For a failure: the command that fixes it.
    pub fix: Option<String>,
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
}

/// Run every part and collect the findings.
pub async fn doctor(request: &DoctorRequest) -> Result<DoctorReport, crate::Error> {
    let started = Instant::now();
    let local_ca = local_ca(request)?;
    let mut doctor = Doctor {
        request,
        findings: Vec::new(),
        unreachable: false,
    };
    let (secrets, api_requests) = doctor.cluster_part().await;
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
        namespace: request.namespace.clone(),
        status: Status::worst(&checks),
        findings: doctor.findings,
        ca_checksum,
        api_requests,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        unreachable: doctor.unreachable,
    })
}

fn local_ca(request: &DoctorRequest) -> Result<Option<CaBundle>, crate::Error> {
    let path = request.ca.clone().or_else(|| {
        let candidate = request.dir.as_ref()?.join("cacerts.pem");
        candidate.exists().then(|| candidate.display().to_string())
    });
    Ok(path.as_deref().map(CaBundle::load).transpose()?)
}

fn bundle_from(source: &str, bytes: Vec<u8>) -> Option<CaBundle> {
    let certs = inspect::certs_in(&bytes);
    (!certs.is_empty()).then(|| CaBundle::new(source.to_string(), certs, bytes, false))
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

fn short(fingerprint: &str) -> &str {
    &fingerprint[..fingerprint.len().min(23)]
}

impl Doctor<'_> {
    fn add(&mut self, section: &'static str, check: Check, fix: Option<String>) {
        let fix = (check.status == Status::Failed).then_some(fix).flatten();
        self.findings.push(Finding {
            section,
            check,
            fix,
        });
    }

    /// A failed cluster check that a fresh push fixes.
    fn cluster_failure(&mut self, name: &str, message: String) {
        let fix = self.push_fix();
        self.add("cluster", Check::failed(name, message), Some(fix));
    }

    fn secret_ref(&self) -> String {
        format!("{}/{}", self.request.namespace, self.request.secret_name)
    }

    fn push_fix(&self) -> String {
        let dir = self
            .request
            .dir
            .as_ref()
            .map_or_else(|| "./certs".to_string(), |d| d.display().to_string());
        format!(
            "rcert push --namespace {} --dir {dir}",
            self.request.namespace
        )
    }

    fn renew_fix(&self) -> String {
        format!(
            "rcert selfsign --host {} --ca-cert cacerts.pem --ca-key cakey.pem --out ./renewed && rcert push --namespace {} --dir ./renewed",
            self.request.host.host, self.request.namespace
        )
    }

    // --- cluster ------------------------------------------------------------------------

    /// Read the secrets and run the verify checks on them; returns them (None when the
    /// cluster part was skipped) and the number of API requests.
    async fn cluster_part(&mut self) -> (Option<ClusterSecrets>, u32) {
        let (result, requests) = self.read_secrets().await;
        match result {
            Ok(secrets) => {
                self.check_secrets(&secrets);
                (Some(secrets), requests)
            }
            Err(reason) => {
                self.add("cluster", Check::skipped("secrets", reason), None);
                (None, requests)
            }
        }
    }

    async fn read_secrets(&mut self) -> (Result<ClusterSecrets, String>, u32) {
        let request = self.request;
        let connected = crate::cluster::connect(
            request.kubeconfig.as_deref(),
            request.context.as_deref(),
            request.timeout,
        )
        .await;
        let (client, _) = match connected {
            Ok(found) => found,
            Err(err) => return (Err(format!("no usable kubeconfig: {err}")), 0),
        };
        let api: Api<Secret> = Api::namespaced(client, &request.namespace);
        let mut secrets = ClusterSecrets::default();
        let mut requests = 0;
        for (name, slot) in [
            (&request.secret_name, &mut secrets.tls),
            (&request.ca_secret_name, &mut secrets.ca),
        ] {
            requests += 1;
            match api.get_opt(name).await {
                Ok(found) => *slot = found,
                Err(err) => {
                    self.unreachable = true;
                    let what = format!("secret {}/{name}", request.namespace);
                    let reason = crate::cluster::describe_api_error(&err, "get", &what);
                    return (Err(format!("cluster checks skipped: {reason}")), requests);
                }
            }
        }
        (Ok(secrets), requests)
    }

    fn check_secrets(&mut self, secrets: &ClusterSecrets) {
        let secret = self.secret_ref();
        let Some(tls) = &secrets.tls else {
            self.cluster_failure(
                "secret",
                format!(
                    "secret {secret} does not exist: the ingress serves its default certificate"
                ),
            );
            return;
        };
        let kind = tls.type_.as_deref().unwrap_or("Opaque");
        if kind != "kubernetes.io/tls" {
            self.cluster_failure("secret", format!("secret {secret} has type {kind}, not kubernetes.io/tls: the ingress ignores it"));
        }
        let chain = chain_of(secrets.tls_data("tls.crt"));
        let key = secrets
            .tls_data("tls.key")
            .and_then(|bytes| inspect::key_in(&bytes));
        let Some(chain) = chain else {
            self.cluster_failure(
                "secret",
                format!("secret {secret} holds no readable certificate in tls.crt"),
            );
            return;
        };
        if key.is_none() {
            self.cluster_failure("key", format!("secret {secret} holds no usable private key in tls.key (encrypted, or another format?)"));
        }
        let ca = secrets.ca_bytes().and_then(|bytes| {
            bundle_from(
                &format!(
                    "secret {}/{}",
                    self.request.namespace, self.request.ca_secret_name
                ),
                bytes,
            )
        });
        if let Some((key, _)) = secrets
            .ca_entry()
            .filter(|(key, _)| key != crate::rancher::CA_SECRET_KEY)
        {
            let ca_secret = format!("{}/{}", self.request.namespace, self.request.ca_secret_name);
            self.add(
                "cluster",
                Check::failed(
                    "tls_ca",
                    format!("secret {ca_secret} holds its CA under key '{key}', but Rancher reads key cacerts.pem only: /cacerts stays empty"),
                ),
                Some(format!(
                    "kubectl -n {} create secret generic {} --from-file=cacerts.pem=./cacerts.pem --dry-run=client -o yaml | kubectl apply -f -",
                    self.request.namespace, self.request.ca_secret_name
                )),
            );
        }
        if ca.is_none() {
            self.add(
                "cluster",
                Check::warning(
                    "tls_ca",
                    format!(
                        "no secret {}/{}: Rancher runs without privateCA, agents must trust the chain through their system roots",
                        self.request.namespace, self.request.ca_secret_name
                    ),
                ),
                None,
            );
        }
        let context = Context {
            ca,
            untrusted: Vec::new(),
            key: key.map(|key| (format!("tls.key of secret {secret}"), key)),
            hosts: vec![self.request.host.host.clone()],
            at: time::OffsetDateTime::now_utc(),
            warn_days: 30,
        };
        let origin = format!("tls.crt of secret {secret}");
        for check in checks::check_chain(&chain, Origin::File(&origin), &context) {
            if check.name == "ca_checksum" {
                continue;
            }
            let fix = self.fix_for_secret_check(&check.name);
            self.add("cluster", check, fix);
        }
    }

    fn fix_for_secret_check(&self, name: &str) -> Option<String> {
        let push = self.push_fix();
        Some(match name {
            "chain" | "order" => format!(
                "rcert fullchain tls.crt intermediate.pem root.pem --out tls.crt --force && {push}"
            ),
            "key" => format!("rcert inspect tls.crt *.key   # find the key that belongs, then {push}"),
            "validity" => self.renew_fix(),
            "san" | "name" => format!(
                "rcert selfsign --host {} --out ./certs   # or reissue from your CA with a SAN, then {push}",
                self.request.host.host
            ),
            "ca_file" => format!("rcert fullchain tls.crt root.pem --cacerts cacerts.pem --force && {push}"),
            _ => return None,
        })
    }

    // --- endpoints ----------------------------------------------------------------------

    async fn endpoint_part(
        &mut self,
        ca: Option<CaBundle>,
        secret_chain: Option<&[Cert]>,
    ) -> Vec<ProbeResult> {
        let mut targets = vec![self.request.host.clone()];
        targets.extend(self.request.nodes.iter().cloned());
        let probe_request = ProbeRequest {
            targets,
            servername: Some(self.request.host.host.clone()),
            ca,
            alpn: vec!["h2".to_string(), "http/1.1".to_string()],
            timeout: self.request.timeout,
            concurrency: 16,
            rancher: true,
            warn_days: 30,
        };
        let report = served::probe(&probe_request, false).await;
        for result in &report.results {
            self.judge_endpoint(result, secret_chain);
        }
        if let Some(consistency) = report.consistency.clone() {
            self.add(
                "endpoint",
                consistency,
                Some("find the stale node above and restart its ingress controller (or fix its load-balancer backend)".to_string()),
            );
        }
        report.results
    }

    fn judge_endpoint(&mut self, result: &ProbeResult, secret_chain: Option<&[Cert]>) {
        let target = result.target.clone();
        if let Some(error) = &result.error {
            self.unreachable = true;
            self.add(
                "endpoint",
                Check::skipped(
                    "reachable",
                    format!("{target}: {error}; endpoint checks skipped"),
                ),
                None,
            );
            return;
        }
        let Some(leaf) = result.chain.first() else {
            let reason = result
                .checks
                .first()
                .map_or_else(|| "no certificate".to_string(), |c| c.message.clone());
            self.add(
                "endpoint",
                Check::failed("handshake", format!("{target}: {reason}")),
                None,
            );
            return;
        };
        if leaf.subject.contains(INGRESS_FAKE_CERTIFICATE) {
            self.add(
                "endpoint",
                Check::failed(
                    "served",
                    format!(
                        "{target} serves the ingress controller's default \"{INGRESS_FAKE_CERTIFICATE}\": the ingress could not load secret {} (missing, wrong type, or key and certificate do not match)",
                        self.secret_ref()
                    ),
                ),
                Some(format!("rcert doctor --dir ./certs …   # then: {}", self.push_fix())),
            );
            return;
        }
        match secret_chain {
            Some(chain) if fingerprints(chain) == fingerprints(&result.chain) => self.add(
                "endpoint",
                Check::ok(
                    "served",
                    format!(
                        "{target} serves the chain of secret {} (leaf sha256 {}…)",
                        self.secret_ref(),
                        short(&leaf.sha256_fingerprint)
                    ),
                ),
                None,
            ),
            Some(chain) => {
                let same_leaf =
                    chain.first().map(|c| &c.sha256_fingerprint) == Some(&leaf.sha256_fingerprint);
                let message = if same_leaf {
                    format!(
                        "{target} serves the leaf of secret {} but another chain ({} certificate(s) served, {} in the secret)",
                        self.secret_ref(),
                        result.chain.len(),
                        chain.len()
                    )
                } else {
                    format!(
                        "{target} serves '{}' (sha256 {}…, expires {}), not the certificate in secret {} (sha256 {}…): a stale ingress, node or load balancer",
                        leaf.display_name(),
                        short(&leaf.sha256_fingerprint),
                        leaf.not_after,
                        self.secret_ref(),
                        chain.first().map_or("?", |c| short(&c.sha256_fingerprint)),
                    )
                };
                self.add(
                    "endpoint",
                    Check::failed("served", message),
                    Some(
                        "kubectl -n ingress-nginx rollout restart daemonset/ingress-nginx-controller   # or the TLS certificate of your load balancer"
                            .to_string(),
                    ),
                );
            }
            None => self.add_probe_checks(result),
        }
    }

    /// Without a secret to compare with, judge the served chain on its own.
    fn add_probe_checks(&mut self, result: &ProbeResult) {
        for check in &result.checks {
            if matches!(
                check.name.as_str(),
                "ping" | "cacerts" | "cacerts_chain" | "ca_checksum"
            ) {
                continue;
            }
            let mut check = check.clone();
            check.message = format!("{}: {}", result.target, check.message);
            let fix = self.fix_for_secret_check(&check.name);
            self.add("endpoint", check, fix);
        }
    }

    // --- rancher ------------------------------------------------------------------------

    /// /ping and /cacerts of the host; returns the served checksum.
    fn rancher_part(
        &mut self,
        results: &[ProbeResult],
        secrets: Option<&ClusterSecrets>,
        local_ca: Option<&CaBundle>,
    ) -> Option<String> {
        let host = results.first()?;
        let facts = host.rancher.as_ref()?;
        if let Some(check) = host.checks.iter().find(|c| c.name == "ping") {
            self.add("rancher", check.clone(), None);
        }
        self.compare_nodes_cacerts(results);
        let Some(served) = facts.cacerts_checksum.clone() else {
            // 404, 5xx, timeout, empty, HTML: the check says which, and what to do.
            if let Some(check) = host.checks.iter().find(|c| c.name == "cacerts") {
                let fix = (check.status == Status::Failed).then(|| self.push_fix());
                self.add("rancher", check.clone(), fix);
            }
            return None;
        };
        let restart = format!(
            "kubectl -n {} rollout restart deploy/rancher",
            self.request.namespace
        );
        if let Some(ca_bytes) = secrets.and_then(ClusterSecrets::ca_bytes) {
            let expected = crate::rancher::ca_checksum(&ca_bytes);
            let ca_secret = format!("{}/{}", self.request.namespace, self.request.ca_secret_name);
            let check = if expected == served {
                Check::ok("cacerts", format!("/cacerts matches secret {ca_secret}"))
            } else {
                Check::failed(
                    "cacerts",
                    format!(
                        "/cacerts (sha256 {served}) differs from secret {ca_secret} (sha256 {expected}): agents pinned to one of them will refuse the other"
                    ),
                )
            };
            self.add(
                "rancher",
                check,
                Some(format!("{restart}   # Rancher reads tls-ca at start")),
            );
        }
        if let Some(local) = local_ca {
            let expected = crate::rancher::ca_checksum(&local.bytes);
            let check = if expected == served {
                Check::ok(
                    "cacerts_local",
                    format!("/cacerts matches {}", local.source),
                )
            } else {
                Check::failed(
                    "cacerts_local",
                    format!(
                        "/cacerts (sha256 {served}) differs from {} (sha256 {expected})",
                        local.source
                    ),
                )
            };
            self.add("rancher", check, Some(self.push_fix()));
        }
        if let Some(check) = host.checks.iter().find(|c| c.name == "cacerts_chain") {
            self.add("rancher", check.clone(), Some(self.push_fix()));
        }
        let message = format!(
            "agents must be given CATTLE_CA_CHECKSUM={served} (sha256 of /cacerts as served)"
        );
        self.add("rancher", Check::ok("ca_checksum", message), None);
        Some(served)
    }

    /// Every node must serve the /cacerts the host serves: agents may reach any of them.
    fn compare_nodes_cacerts(&mut self, results: &[ProbeResult]) {
        let Some((host, nodes)) = results.split_first() else {
            return;
        };
        let expected = host
            .rancher
            .as_ref()
            .and_then(|f| f.cacerts_checksum.clone());
        for node in nodes {
            let Some(facts) = node.rancher.as_ref() else {
                continue;
            };
            let served = facts.cacerts_checksum.clone();
            if served == expected {
                continue;
            }
            let show = |sum: &Option<String>| {
                sum.as_deref()
                    .map_or_else(|| "nothing usable".to_string(), |s| format!("sha256 {s}"))
            };
            let check = Check::failed(
                "cacerts_node",
                format!(
                    "{} serves another /cacerts ({}) than {} ({}): agents that reach it see another CA",
                    node.target,
                    show(&served),
                    host.target,
                    show(&expected)
                ),
            );
            self.add(
                "rancher",
                check,
                Some(format!(
                    "kubectl -n {} rollout restart deploy/rancher   # every replica rereads tls-ca",
                    self.request.namespace
                )),
            );
        }
    }

    // --- drift --------------------------------------------------------------------------

    fn drift_part(&mut self, secrets: &ClusterSecrets) {
        let Some(dir) = self.request.dir.clone() else {
            return;
        };
        let ca_secret = format!("{}/{}", self.request.namespace, self.request.ca_secret_name);
        let tls_secret = self.secret_ref();
        for (file, secret_name, in_cluster) in [
            ("tls.crt", &tls_secret, secrets.tls_data("tls.crt")),
            ("tls.key", &tls_secret, secrets.tls_data("tls.key")),
            ("cacerts.pem", &ca_secret, secrets.ca_bytes()),
        ] {
            let path = dir.join(file);
            let Some(local) = read_if_present(&path) else {
                continue;
            };
            let shown = path.display();
            let check = match in_cluster {
                Some(remote) if remote == local => Check::ok(
                    "drift",
                    format!("{shown} equals {file} of secret {secret_name}"),
                ),
                Some(_) => Check::failed(
                    "drift",
                    format!("{shown} differs from {file} of secret {secret_name}"),
                ),
                None => Check::failed(
                    "drift",
                    format!("{shown} exists locally but secret {secret_name} holds no {file}"),
                ),
            };
            self.add("drift", check, Some(self.push_fix()));
        }
    }
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
    let mut section = "";
    for finding in &report.findings {
        if finding.section != section {
            section = finding.section;
            let _ = writeln!(out, "{}", style.heading(&format!("[{section}]")));
        }
        out.push_str(&check_line(&finding.check, 14, style));
        if let Some(fix) = &finding.fix {
            let _ = writeln!(out, "  {:<8} {:<14}fix: {fix}", "", "");
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
