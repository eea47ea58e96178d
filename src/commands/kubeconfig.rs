//! `rcert kubeconfig check`: for each context, the client certificate's expiry, whether
//! the CA data (or file) verifies the chain the server actually serves, and whether the
//! server answers — what breaks Rancher-generated, RKE2/k3s and fleet kubeconfigs after a
//! certificate expires or a CA changes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::Kubeconfig;
use serde::Serialize;

use crate::check::Cause;
use crate::check::{Check, CheckId, Status};
use crate::checks::served;
use crate::cluster::{kubeconfig_credential, load_kubeconfig, CredentialError};
use crate::output::{checks_text, Report, Style};
use crate::rancher::CaBundle;
use crate::tls::{ProbeRequest, Target};
use crate::x509::cert::certs_in;

/// What `rcert kubeconfig check` is asked to do.
#[derive(Debug, Clone)]
pub struct KubeconfigRequest {
    /// The time of judgement, decided once by the CLI.
    pub at: time::OffsetDateTime,
    /// The kubeconfig (`--kubeconfig`, else as kubectl finds it), the context (`--context`,
    /// else the current one) and the connect and handshake timeout.
    pub cluster: crate::cluster::ClusterTarget,
    /// Every context.
    pub all_contexts: bool,
    /// A client certificate expiring within this warns.
    pub within: Duration,
}

/// The verdict on one context.
#[derive(Debug, Clone, Serialize)]
pub struct ContextReport {
    /// The context's name.
    pub context: String,
    /// The API server URL.
    pub server: Option<String>,
    /// The checks, one line each.
    pub checks: Vec<Check>,
    /// The worst of them.
    pub status: Status,
    /// The server could not be reached (exit 3 when nothing else failed).
    pub unreachable: bool,
}

/// The result of `rcert kubeconfig check`.
#[derive(Debug, Clone, Serialize)]
pub struct KubeconfigReport {
    /// The kubeconfig read.
    pub kubeconfig: String,
    /// One entry per context checked.
    pub contexts: Vec<ContextReport>,
}

/// Check the context(s) of the kubeconfig.
pub async fn check(request: &KubeconfigRequest) -> Result<KubeconfigReport, crate::Error> {
    let config = load_kubeconfig(request.cluster.kubeconfig.as_deref())?;
    let names: Vec<String> = if request.all_contexts {
        config.contexts.iter().map(|c| c.name.clone()).collect()
    } else {
        let name = request
            .cluster
            .context
            .clone()
            .or_else(|| config.current_context.clone())
            .ok_or_else(|| {
                crate::Error::Usage(
                    "the kubeconfig has no current context: pass --context or --all-contexts"
                        .to_string(),
                )
            })?;
        if !config.contexts.iter().any(|c| c.name == name) {
            return Err(crate::Error::Usage(format!(
                "context '{name}' is not in the kubeconfig"
            )));
        }
        vec![name]
    };
    let base = request
        .cluster
        .kubeconfig
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let runs = names
        .iter()
        .map(|name| check_context(&config, name, &base, request));
    let contexts = futures::future::join_all(runs).await;
    Ok(KubeconfigReport {
        kubeconfig: request.cluster.kubeconfig.as_ref().map_or_else(
            || "(as kubectl finds it)".to_string(),
            |p| p.display().to_string(),
        ),
        contexts,
    })
}

async fn check_context(
    config: &Kubeconfig,
    name: &str,
    base: &Path,
    request: &KubeconfigRequest,
) -> ContextReport {
    let context = config
        .contexts
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.context.clone());
    let cluster = context.as_ref().and_then(|c| {
        config
            .clusters
            .iter()
            .find(|cluster| cluster.name == c.cluster)
            .and_then(|cluster| cluster.cluster.clone())
    });
    let user = context.as_ref().and_then(|c| {
        let user = c.user.as_deref()?;
        config
            .auth_infos
            .iter()
            .find(|info| info.name == user)
            .and_then(|info| info.auth_info.clone())
    });
    let mut checks = Vec::new();
    if let Some(user) = &user {
        checks.push(client_certificate_check(
            kubeconfig_credential(
                user.client_certificate_data.as_deref(),
                user.client_certificate.as_deref(),
                base,
            ),
            request,
        ));
    }
    let server = cluster.as_ref().and_then(|c| c.server.clone());
    let mut unreachable = false;
    match (&cluster, &server) {
        (Some(cluster), Some(server)) => {
            let insecure = cluster.insecure_skip_tls_verify == Some(true);
            let ca = kubeconfig_credential(
                cluster.certificate_authority_data.as_deref(),
                cluster.certificate_authority.as_deref(),
                base,
            );
            let (server_checks, down) = server_checks(server, ca, insecure, request).await;
            checks.extend(server_checks);
            unreachable = down;
        }
        _ => checks.push(Check::failed(
            CheckId::Kubeconfig, Cause::ContextWithoutServer,
            format!("context '{name}' names no cluster with a server URL: fix the kubeconfig (kubectl config view)"),
        )),
    }
    ContextReport {
        context: name.to_string(),
        server,
        status: Status::worst(&checks),
        checks,
        unreachable,
    }
}

fn client_certificate_check(
    credential: Option<Result<Vec<u8>, CredentialError>>,
    request: &KubeconfigRequest,
) -> Check {
    let bytes = match credential {
        None => {
            return Check::ok(
                CheckId::ClientCert,
                "no client certificate (token or exec authentication)".to_string(),
            )
        }
        Some(Err(error)) => {
            return Check::failed(
                CheckId::ClientCert,
                Cause::ClientCertUnreadable,
                error.to_string(),
            )
        }
        Some(Ok(bytes)) => bytes,
    };
    let Some(cert) = certs_in(&bytes).into_iter().next() else {
        return Check::failed(
            CheckId::ClientCert,
            Cause::ClientCertUnreadable,
            "client-certificate holds no readable certificate".to_string(),
        );
    };
    let now = request.at;
    let left = cert.not_after_time() - now;
    if now > cert.not_after_time() {
        Check::failed(
            CheckId::ClientCert, Cause::Expired,
            format!(
                "client certificate '{}' expired on {} (the API server answers 401): get a new kubeconfig (Rancher UI → Download KubeConfig, or copy /etc/rancher/rke2/rke2.yaml again after a restart)",
                cert.subject, cert.not_after
            ),
        )
    } else if left <= request.within {
        Check::warning(
            CheckId::ClientCert,
            Cause::ExpiresSoon,
            format!(
                "client certificate '{}' expires on {} ({} day(s) left)",
                cert.subject,
                cert.not_after,
                left.whole_days()
            ),
        )
    } else {
        Check::ok(
            CheckId::ClientCert,
            format!(
                "client certificate '{}' valid until {}",
                cert.subject, cert.not_after
            ),
        )
    }
}

/// A plain-HTTP server (kubectl proxy): no certificate to judge, but whether it answers.
async fn plain_http_checks(
    server: &str,
    target: &Target,
    timeout: std::time::Duration,
) -> (Vec<Check>, bool) {
    let connect = tokio::net::TcpStream::connect((target.host.as_str(), target.port));
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(_)) => (
            vec![Check::ok(
                CheckId::Reachable,
                format!(
                    "server {server} answers; plain HTTP (kubectl proxy): no certificate to check"
                ),
            )],
            false,
        ),
        Ok(Err(err)) => (
            vec![Check::failed(
                CheckId::Reachable,
                Cause::Unreachable,
                format!(
                    "server {server}: {} (is kubectl proxy running?)",
                    crate::x509::pem::describe_io_error(&err)
                ),
            )],
            true,
        ),
        Err(_) => (
            vec![Check::failed(
                CheckId::Reachable,
                Cause::Unreachable,
                format!("server {server}: no answer within the timeout"),
            )],
            true,
        ),
    }
}

/// Probe the server and judge its chain against the kubeconfig's CA; (checks, unreachable).
async fn server_checks(
    server: &str,
    ca: Option<Result<Vec<u8>, CredentialError>>,
    insecure: bool,
    request: &KubeconfigRequest,
) -> (Vec<Check>, bool) {
    let mut checks = Vec::new();
    let target = match Target::from_url(server) {
        Ok((target, false)) => {
            return plain_http_checks(server, &target, request.cluster.timeout).await
        }
        Ok((target, true)) => target,
        Err(err) => {
            return (
                vec![Check::failed(
                    CheckId::Reachable,
                    Cause::Unreachable,
                    format!("server {server}: {err}"),
                )],
                false,
            )
        }
    };
    let mut ca_unreadable = false;
    let bundle = match ca {
        Some(Ok(bytes)) => {
            let certs = certs_in(&bytes);
            if certs.is_empty() {
                checks.push(Check::failed(
                    CheckId::CaData, Cause::CaDataUnreadable,
                    "certificate-authority(-data) holds no readable certificate: kubectl cannot trust any server with it; fix the kubeconfig (a fresh download, or the CA as base64 PEM)".to_string(),
                ));
                ca_unreadable = true;
                None
            } else {
                Some(CaBundle::new(
                    "the kubeconfig's certificate-authority".to_string(),
                    certs,
                    bytes,
                    crate::rancher::BundleKind::Embedded,
                ))
            }
        }
        Some(Err(error)) => {
            checks.push(Check::failed(
                CheckId::CaData,
                Cause::CaDataUnreadable,
                error.to_string(),
            ));
            ca_unreadable = true;
            None
        }
        None => CaBundle::system().ok(),
    };
    if insecure {
        checks.push(Check::warning(
            CheckId::CaData, Cause::InsecureSkipTlsVerify,
            "insecure-skip-tls-verify: true — kubectl accepts any server certificate; set certificate-authority-data instead".to_string(),
        ));
    }
    let probe = ProbeRequest {
        at: request.at,
        targets: vec![target],
        servername: None,
        ca: bundle,
        alpn: crate::tls::Alpn::browser(),
        timeout: request.cluster.timeout,
        concurrency: 1,
        rancher: false,
        warn_days: 30,
        clients: crate::check::Clients::DEFAULT_SELECTION,
        max_depth: None,
    };
    let report = served::probe(&probe, None).await;
    let Some(result) = report.results.into_iter().next() else {
        return (checks, false);
    };
    if let Some(error) = &result.error {
        checks.push(Check::failed(
            CheckId::Reachable,
            Cause::Unreachable,
            format!("server {server}: {error}"),
        ));
        return (checks, true);
    }
    checks.push(Check::ok(
        CheckId::Reachable,
        format!(
            "server {server} answered ({})",
            result.tls_version.as_deref().unwrap_or("TLS")
        ),
    ));
    let fake = result
        .chain
        .first()
        .is_some_and(crate::rancher::is_ingress_fake_certificate);
    for check in result.checks {
        if matches!(
            check.name,
            CheckId::Chain | CheckId::Name | CheckId::Validity
        ) {
            let check = match (check.status, check.name, insecure) {
                (Status::Failed, CheckId::Chain, false) if fake => Check::failed(
                    CheckId::Chain, Cause::IngressFakeCertificate,
                    format!(
                        "{} — the server serves ingress-nginx's fake certificate: the ingress in front of it cannot load its TLS secret (rcert doctor), the kubeconfig is not at fault",
                        check.message
                    ),
                ),
                (Status::Failed, CheckId::Chain, false) if ca_unreadable => check,
                (Status::Failed, CheckId::Chain, false) => Check::failed(
                    CheckId::Chain, Cause::KubeconfigCaOutdated,
                    format!(
                        "{} — the kubeconfig's CA no longer matches what the server serves (after a CA change): get a new kubeconfig, or update certificate-authority-data",
                        check.message
                    ),
                ),
                (Status::Failed, _, true) => {
                    let message = check.message.clone();
                    check.restated(Status::Warning, message)
                }
                _ => check,
            };
            checks.push(check);
        }
    }
    (checks, false)
}

impl Report for KubeconfigReport {
    fn text(&self, style: &Style) -> String {
        let mut out = String::new();
        for (index, context) in self.contexts.iter().enumerate() {
            if index > 0 {
                out.push('\n');
            }
            let _ = writeln!(
                out,
                "{} {}",
                style.heading(&format!(
                    "context {} ({}):",
                    context.context,
                    context.server.as_deref().unwrap_or("no server")
                )),
                style.status(context.status).trim_end()
            );
            out.push_str(&checks_text(&context.checks, style));
        }
        out
    }

    /// 2 when a context is unusable as written, 1 when a check failed (other than
    /// reaching a server), 3 when only servers were unreachable, else 0.
    fn exit_code(&self) -> u8 {
        let malformed = self.contexts.iter().any(|c| {
            c.checks
                .iter()
                .any(|check| check.status == Status::Failed && check.name == CheckId::Kubeconfig)
        });
        if malformed {
            return crate::exit::BAD_INPUT;
        }
        let failed_other = self.contexts.iter().any(|c| {
            c.checks
                .iter()
                .any(|check| check.status == Status::Failed && check.name != CheckId::Reachable)
        });
        if failed_other {
            crate::exit::CHECK_FAILED
        } else if self
            .contexts
            .iter()
            .any(|c| c.unreachable || c.status == Status::Failed)
        {
            crate::exit::REMOTE
        } else {
            crate::exit::OK
        }
    }
}
