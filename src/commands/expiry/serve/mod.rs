//! `rcert expiry --serve ADDR`: the same inventory, kept live — cluster sources by LIST +
//! WATCH, node files and endpoints re-read on an interval — and served over HTTP as
//! Prometheus metrics (`/metrics`), health (`/healthz`, `/readyz`) and a page (`/`).

mod http;
mod inventory;
mod log;
mod metrics;
mod page;
mod rancher;
mod refresh;
mod watch;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::Semaphore;

use super::ExpiryRequest;
use crate::cluster::ClusterTarget;
use inventory::Inventory;
use log::Log;
pub use log::LogFormat;

/// What `rcert expiry --serve` is asked to do.
#[derive(Debug, Clone)]
pub struct ServeRequest {
    /// What to list (as one-shot `rcert expiry`); its `at` is only the start time.
    pub expiry: ExpiryRequest,
    /// How often node files, endpoints and the cluster-wide objects are read again.
    pub interval: Duration,
    /// How many contexts do their first lists at once (`--all-contexts`).
    pub concurrency: usize,
    /// `--all-secrets`: every Secret, as one-shot expiry reads them, instead of the TLS
    /// ones (and the Opaque ones of cattle-system) the API server filters.
    pub all_secrets: bool,
    /// One log line per event, as text or JSON.
    pub log_format: LogFormat,
    /// The clock (decided by `cli`: the exporter judges at each request's time).
    pub clock: fn() -> OffsetDateTime,
}

/// What every part of the exporter shares.
pub(crate) struct Shared {
    inventory: Inventory,
    request: ExpiryRequest,
    interval: Duration,
    all_secrets: bool,
    log: Log,
    clock: fn() -> OffsetDateTime,
}

/// `--serve ADDR`: `:9793` (every IPv4 address), `127.0.0.1:0` (a free port),
/// `[::1]:9793`, `localhost:9793` (the first address the name resolves to).
pub fn parse_listen(text: &str) -> Result<SocketAddr, ServeArgError> {
    use std::net::ToSocketAddrs as _;
    let text = text.trim();
    let full = match text.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => text.to_string(),
    };
    let refused = || ServeArgError::Address(text.to_string());
    if let Ok(address) = full.parse() {
        return Ok(address);
    }
    full.to_socket_addrs()
        .map_err(|_| refused())?
        .next()
        .ok_or_else(refused)
}

/// `--interval`: at least one second (a tighter loop re-reads files and probes endpoints
/// for nothing).
pub fn parse_interval(text: &str) -> Result<Duration, ServeArgError> {
    let interval = crate::tls::parse_duration(text)?;
    if interval < Duration::from_secs(1) {
        return Err(ServeArgError::Interval(text.to_string()));
    }
    Ok(interval)
}

/// A `--serve` or `--interval` value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ServeArgError {
    /// Not an address.
    #[error("'{0}' is not an address to listen on: write :9793, 127.0.0.1:9793 or [::1]:9793")]
    Address(String),
    /// Not a duration.
    #[error(transparent)]
    Duration(#[from] crate::tls::ProbeError),
    /// Under a second.
    #[error("'{0}' is under a second: the interval must be at least 1s")]
    Interval(String),
}

/// Listen on `address` (before anything else, so a taken port is a clear error at once).
pub fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(address)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// The URL a listener answers on (`http://IP:PORT`; the unspecified address shown as
/// the loopback one a browser on this machine can open).
pub fn url(listener: &TcpListener) -> String {
    match listener.local_addr() {
        Ok(address) => format!("http://{address}"),
        Err(_) => "http://(unknown address)".to_string(),
    }
}

/// Which clusters the exporter watches, decided before it listens.
#[derive(Debug, Clone)]
pub enum Clusters {
    /// `--no-cluster`.
    None,
    /// No kubeconfig and not in a cluster: the other sources only.
    Unavailable,
    /// These contexts (`None`: the current one).
    Contexts(Vec<ClusterTarget>),
}

/// What must hold before the exporter listens (bad input is exit 2 at once, as in
/// one-shot mode): a source to read, a usable kubeconfig and context when one is named.
pub async fn preflight(request: &ExpiryRequest) -> Result<Clusters, crate::Error> {
    super::has_a_source(request)?;
    if request.no_cluster {
        return Ok(Clusters::None);
    }
    if !request.cluster.available() {
        if request.no_node && request.paths.is_empty() && request.targets.is_empty() {
            return Err(crate::Error::Usage(
                "nothing to watch: no kubeconfig ($KUBECONFIG, ~/.kube/config), not in a cluster, and --no-node; give --kubeconfig, --path or --target (an exporter of nothing would always look green)".to_string(),
            ));
        }
        return Ok(Clusters::Unavailable);
    }
    let contexts = super::cluster::contexts_to_read(request).await?;
    Ok(Clusters::Contexts(contexts))
}

/// Run until SIGTERM or Ctrl-C; 0 when stopped by one.
pub async fn serve(
    request: ServeRequest,
    clusters: Clusters,
    listener: TcpListener,
) -> Result<u8, crate::Error> {
    let shared = Arc::new(Shared {
        inventory: Inventory::default(),
        request: request.expiry.clone(),
        interval: request.interval,
        all_secrets: request.all_secrets,
        log: Log::new(request.log_format, request.clock),
        clock: request.clock,
    });
    start_cluster(&shared, clusters, request.concurrency);
    refresh::start(&shared);
    let address = url(&listener);
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|err| crate::Error::Usage(format!("cannot listen: {err}")))?;
    shared.log.event("listening", "http", &address);
    http::run(listener, shared.clone()).await;
    shared
        .log
        .event("stopped", "http", "SIGTERM or Ctrl-C: stopped");
    Ok(crate::exit::OK)
}

/// One task per context; `--concurrency` of them list at a time.
fn start_cluster(shared: &Arc<Shared>, clusters: Clusters, concurrency: usize) {
    let contexts = match clusters {
        Clusters::None => return,
        Clusters::Unavailable => {
            shared.inventory.register("cluster", None);
            shared.inventory.with("cluster", |slot| {
                slot.set_state(
                    "unavailable",
                    "no kubeconfig ($KUBECONFIG, ~/.kube/config) and not in a cluster: skipped"
                        .to_string(),
                );
                slot.ready = true;
            });
            return;
        }
        Clusters::Contexts(contexts) => contexts,
    };
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    for target in contexts {
        tokio::spawn(watch::watch_context(
            shared.clone(),
            target,
            permits.clone(),
        ));
    }
}
