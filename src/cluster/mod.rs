//! The Kubernetes client: kubeconfig found as kubectl finds it, and API errors in
//! one line.

pub mod agent_workloads;
pub mod backup;
pub mod inventory;
pub mod rancher_objects;
pub mod secrets;
pub mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Field manager and `app.kubernetes.io/managed-by` value.
pub const MANAGER: &str = "rcert";

/// A kubeconfig or context that cannot be used (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Unreadable kubeconfig, unknown context, no credentials.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// A namespace Kubernetes would refuse (DNS-1123 label).
    #[error("namespace '{0}' is not a valid Kubernetes namespace: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit (no dots)")]
    BadNamespace(String),
    /// A secret name Kubernetes would refuse (DNS-1123 subdomain).
    #[error("'{0}' is not a valid Kubernetes name: at most 253 characters, dot-separated labels of lower-case letters, digits and '-'")]
    BadName(String),
}

/// Whether `label` is a DNS-1123 label: 1–63 of `[a-z0-9-]`, alphanumeric at both ends.
fn is_dns1123_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && label.starts_with(|c: char| c.is_ascii_alphanumeric())
        && label.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A Kubernetes namespace name, checked once where it enters (a DNS-1123 label).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Namespace(String);

impl Namespace {
    /// `name` as a namespace, or why Kubernetes would refuse it.
    pub fn parse(name: &str) -> Result<Namespace, ClusterError> {
        if is_dns1123_label(name) {
            Ok(Namespace(name.to_string()))
        } else {
            Err(ClusterError::BadNamespace(name.to_string()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Namespace {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which cluster a command talks to, as kubectl finds it (`--kubeconfig`, `--context`,
/// else `$KUBECONFIG`, `~/.kube/config`, the in-cluster service account), and how long
/// each request may take.
#[derive(Debug, Clone)]
pub struct ClusterTarget {
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context` (None: the kubeconfig's current context).
    pub context: Option<String>,
    /// Timeout of each API request.
    pub timeout: Duration,
}

impl ClusterTarget {
    /// A client for this target.
    pub async fn connect(&self) -> Result<Connected, ClusterError> {
        connect(
            self.kubeconfig.as_deref(),
            self.context.as_deref(),
            self.timeout,
        )
        .await
    }

    /// A client for watches (no read timeout: see [`connect_watching`]).
    pub async fn connect_watching(&self) -> Result<Connected, ClusterError> {
        connect_watching(
            self.kubeconfig.as_deref(),
            self.context.as_deref(),
            self.timeout,
        )
        .await
    }

    /// The same kubeconfig in `context`.
    pub fn in_context(&self, context: &str) -> ClusterTarget {
        ClusterTarget {
            context: Some(context.to_string()),
            ..self.clone()
        }
    }

    /// One target per context of the kubeconfig, in file order (`--all-contexts`).
    pub fn every_context(&self) -> Result<Vec<ClusterTarget>, ClusterError> {
        Ok(load_kubeconfig(self.kubeconfig.as_deref())?
            .contexts
            .into_iter()
            .map(|context| self.in_context(&context.name))
            .collect())
    }

    /// `--kubeconfig K` and the context flag (`--context` for kubectl and rcert,
    /// `--kube-context` for helm) as given: the words that make another command reach
    /// this cluster.
    pub fn flags(&self, context_flag: &str) -> Vec<String> {
        let mut flags = Vec::new();
        if let Some(path) = &self.kubeconfig {
            flags.extend(["--kubeconfig".to_string(), path.display().to_string()]);
        }
        if let Some(name) = &self.context {
            flags.extend([context_flag.to_string(), name.clone()]);
        }
        flags
    }

    /// Whether kubectl would find a configuration ([`kubeconfig_available`]).
    pub fn available(&self) -> bool {
        kubeconfig_available(self.kubeconfig.as_deref())
    }
}

/// Check an object name such as a secret's (DNS-1123 subdomain).
pub fn validate_name(name: &str) -> Result<(), ClusterError> {
    if name.len() <= 253 && name.split('.').all(is_dns1123_label) {
        Ok(())
    } else {
        Err(ClusterError::BadName(name.to_string()))
    }
}

/// Whether kubectl would find a configuration: `--kubeconfig`, a `$KUBECONFIG` file,
/// `~/.kube/config`, or the in-cluster service account. An absent one is not an error
/// for commands whose cluster part is optional.
pub fn kubeconfig_available(explicit: Option<&Path>) -> bool {
    if explicit.is_some() {
        return true;
    }
    let from_env = std::env::var_os("KUBECONFIG")
        .is_some_and(|list| std::env::split_paths(&list).any(|path| path.is_file()));
    let home = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .is_some_and(|home| home.join(".kube/config").is_file());
    from_env || home || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
}

/// The kubeconfig kubectl would read (`--kubeconfig`, `$KUBECONFIG`, `~/.kube/config`).
pub fn load_kubeconfig(explicit: Option<&Path>) -> Result<Kubeconfig, ClusterError> {
    if let Some(path) = explicit {
        return read_kubeconfig(path);
    }
    if let Some(merged) = kubeconfig_from_env()? {
        return Ok(merged);
    }
    Kubeconfig::read().map_err(|err| ClusterError::Kubeconfig(err.to_string()))
}

fn read_kubeconfig(path: &Path) -> Result<Kubeconfig, ClusterError> {
    let bad = |why: String| ClusterError::Kubeconfig(format!("{}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|err| {
        bad(format!(
            "cannot read: {}",
            crate::x509::pem::describe_io_error(&err)
        ))
    })?;
    Kubeconfig::from_yaml(&text).map_err(|err| {
        // The YAML parser draws a snippet under its message: one line is enough.
        let message = err.to_string();
        bad(format!(
            "not a valid kubeconfig: {}",
            message.lines().next().unwrap_or_default()
        ))
    })
}

/// `$KUBECONFIG` as kubectl reads it: a colon-separated list, missing files skipped,
/// the rest merged (first one wins). `None` when unset or when no listed file exists.
fn kubeconfig_from_env() -> Result<Option<Kubeconfig>, ClusterError> {
    let Some(list) = std::env::var_os("KUBECONFIG") else {
        return Ok(None);
    };
    let mut merged: Option<Kubeconfig> = None;
    for path in std::env::split_paths(&list).filter(|path| path.is_file()) {
        let next = read_kubeconfig(&path)?;
        merged = Some(match merged {
            Some(first) => first
                .merge(next)
                .map_err(|err| ClusterError::Kubeconfig(format!("{}: {err}", path.display())))?,
            None => next,
        });
    }
    Ok(merged)
}

/// The API requests a client sent: counted by a layer around kube's client (every
/// request the code asks for, once, whatever retries kube makes), so every command reports
/// the same figure the same way.
#[derive(Debug, Clone, Default)]
pub struct ApiRequests(Arc<AtomicU32>);

impl ApiRequests {
    /// Requests sent so far.
    pub fn count(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A connected client: the client, the API server's URL, and its request counter.
#[derive(Clone)]
pub struct Connected {
    /// The kube client (every request goes through the counting layer).
    pub client: Client,
    /// The API server's URL.
    pub url: String,
    /// What the client has sent.
    pub requests: ApiRequests,
}

/// A client for the kubeconfig (or in-cluster) context, and the API server's URL.
pub(crate) async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    timeout: Duration,
) -> Result<Connected, ClusterError> {
    connect_with(kubeconfig, context, timeout, Some(timeout)).await
}

/// [`connect`] for watches: a watch is quiet for minutes, so no read timeout (the
/// server ends each watch after its `timeoutSeconds`, and the watcher opens the next).
pub(crate) async fn connect_watching(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    timeout: Duration,
) -> Result<Connected, ClusterError> {
    connect_with(kubeconfig, context, timeout, None).await
}

async fn connect_with(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    timeout: Duration,
    read_timeout: Option<Duration>,
) -> Result<Connected, ClusterError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        cluster: None,
        user: None,
    };
    let kubeconfig = match kubeconfig {
        Some(path) => Some(read_kubeconfig(path)?),
        None => kubeconfig_from_env()?,
    };
    let mut config = match kubeconfig {
        Some(kubeconfig) => Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|err| ClusterError::Kubeconfig(err.to_string()))?,
        None => match Config::from_kubeconfig(&options).await {
            Ok(config) => config,
            Err(err) if context.is_none() => Config::incluster().map_err(|_| {
                ClusterError::Kubeconfig(format!(
                    "{err} (looked at $KUBECONFIG, ~/.kube/config and the in-cluster service account)"
                ))
            })?,
            Err(err) => return Err(ClusterError::Kubeconfig(err.to_string())),
        },
    };
    config.connect_timeout = Some(timeout);
    config.read_timeout = read_timeout;
    config.write_timeout = Some(timeout);
    let url = config.cluster_url.to_string();
    let requests = ApiRequests::default();
    let counter = requests.0.clone();
    let counting = tower::util::MapRequestLayer::new(move |request| {
        counter.fetch_add(1, Ordering::Relaxed);
        request
    });
    let client = kube::client::ClientBuilder::try_from(config)
        .map_err(|err| ClusterError::Kubeconfig(err.to_string()))?
        .with_layer(&counting)
        .build();
    Ok(Connected {
        client,
        url,
        requests,
    })
}

/// A failed request to the API server, in one line naming the verb and the object, with
/// kube's error kept as its source; or an object in the cluster rcert cannot use.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The request failed (unreachable, TLS, timeout, or an API status).
    #[error("{message}")]
    Api {
        /// The one line (see [`describe_api_error`]).
        message: String,
        /// What kube reported.
        #[source]
        source: Box<kube::Error>,
    },
    /// The cluster answered, with something rcert cannot use (a helm release that does not
    /// decode, a workload without containers).
    #[error("{0}")]
    Data(String),
}

/// [`describe_api_error`] as a [`RemoteError`] that keeps kube's error.
pub(crate) fn api_error(err: kube::Error, verb: &str, what: &str) -> RemoteError {
    RemoteError::Api {
        message: describe_api_error(&err, verb, what),
        source: Box::new(err),
    }
}

/// One line for an API failure, naming the verb and the object (exit 3).
pub(crate) fn describe_api_error(err: &kube::Error, verb: &str, what: &str) -> String {
    match err {
        kube::Error::Api(status) => {
            let detail = if status.message.is_empty() {
                status.reason.clone()
            } else {
                status.message.clone()
            };
            match status.code {
                401 => format!("cannot {verb} {what}: 401 Unauthorized — the API server rejected the credentials of this kubeconfig context ({detail})"),
                403 => format!("cannot {verb} {what}: 403 Forbidden — RBAC denies '{verb}' on this resource for your user ({detail})"),
                404 => format!("cannot {verb} {what}: 404 Not Found ({detail})"),
                409 => format!("cannot {verb} {what}: 409 Conflict — changed by someone else meanwhile; run again ({detail})"),
                422 => format!("cannot {verb} {what}: 422 Invalid — the API server refused the object ({detail})"),
                code if code >= 500 => format!("cannot {verb} {what}: API server error {code} ({detail})"),
                code => format!("cannot {verb} {what}: HTTP {code} ({detail})"),
            }
        }
        other => {
            let chain = error_chain(other);
            match transport_failure(other) {
                Transport::Tls => {
                    format!("cannot {verb} {what}: TLS error talking to the API server: {chain}")
                }
                Transport::Timeout => {
                    format!("cannot {verb} {what}: the API server did not answer in time ({chain})")
                }
                Transport::Unreachable => {
                    format!("cannot {verb} {what}: API server unreachable: {chain}")
                }
            }
        }
    }
}

/// What went wrong below the HTTP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// The TLS handshake or the TLS configuration (rustls).
    Tls,
    /// A connect or read timeout.
    Timeout,
    /// Anything else: refused, reset, no route, DNS.
    Unreachable,
}

/// Classify a kube error by the types in its source chain (rustls errors, I/O error
/// kinds, elapsed timers), looking inside I/O errors that wrap another error.
fn transport_failure(err: &kube::Error) -> Transport {
    if matches!(err, kube::Error::RustlsTls(_)) {
        return Transport::Tls;
    }
    classify(err)
}

fn classify(err: &(dyn std::error::Error + 'static)) -> Transport {
    let mut current = Some(err);
    while let Some(error) = current {
        if error.is::<rustls::Error>() {
            return Transport::Tls;
        }
        if error.is::<tokio::time::error::Elapsed>() {
            return Transport::Timeout;
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return Transport::Timeout;
            }
            // An I/O error's source() skips the error it wraps: look at it directly.
            if let Some(inner) = io.get_ref() {
                let found = classify(inner);
                if found != Transport::Unreachable {
                    return found;
                }
            }
        }
        current = error.source();
    }
    Transport::Unreachable
}

/// An error with its sources, innermost last, without repeats.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = inner.source();
    }
    parts.join(": ")
}

/// Why a kubeconfig credential cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The `*-data` field does not decode.
    #[error("its *-data field is not valid base64")]
    NotBase64,
    /// The file it names cannot be read.
    #[error("{}: {}", path.display(), crate::x509::pem::describe_io_error(source))]
    Unreadable {
        /// The file, relative to the kubeconfig's directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A kubeconfig credential: a `*-data` field (base64 of PEM) or a file path relative to
/// the kubeconfig; `None` when neither is set.
pub fn kubeconfig_credential(
    data: Option<&str>,
    file: Option<&str>,
    base: &Path,
) -> Option<Result<Vec<u8>, CredentialError>> {
    if let Some(data) = data {
        return Some(decode_base64(data).ok_or(CredentialError::NotBase64));
    }
    let path = base.join(file?);
    Some(std::fs::read(&path).map_err(|source| CredentialError::Unreadable { path, source }))
}

/// Standard base64 (kubeconfig `*-data` fields), white space ignored; decoded as
/// Kubernetes decodes a Secret's data.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.split_whitespace().collect();
    serde_json::from_value::<k8s_openapi::ByteString>(serde_json::Value::String(compact))
        .ok()
        .map(|bytes| bytes.0)
}

/// An object that cannot be rendered as YAML.
#[derive(Debug, thiserror::Error)]
#[error("cannot render YAML: {0}")]
pub struct YamlError(String);

/// Objects as YAML documents, in order, base64 on one plain line as kubectl prints it;
/// an object that cannot be serialised is an error, never an empty document.
pub fn manifests_yaml<T: serde::Serialize>(objects: &[T]) -> Result<String, YamlError> {
    let documents = objects
        .iter()
        .map(|object| {
            let mut options = serde_saphyr::SerializerOptions::default();
            options.prefer_block_scalars = false;
            serde_saphyr::to_string_with_options(object, options)
                .map_err(|err| YamlError(err.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(documents.join("---\n"))
}
