//! The exporter's HTTP side (hyper, HTTP/1.1): `/metrics` (Prometheus text 0.0.4, or
//! OpenMetrics when the scraper asks for it), `/healthz`, `/readyz` and the page `/`.
//! Every answer is rendered from the inventory at the time of the request.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::super::prometheus::{escape, prometheus_text};
use super::super::ItemStatus;
use super::inventory::{Snapshot, SourceCounters};
use super::{page, Shared};

/// How long open connections may finish after SIGTERM.
const DRAIN: Duration = Duration::from_secs(1);

const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serve until SIGTERM or Ctrl-C.
pub(super) async fn run(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let shared = shared.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |request| {
                            let answer = answer(&request, &shared);
                            async move { Ok::<_, Infallible>(answer) }
                        });
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                // Out of file descriptors and the like: try again shortly.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut stop => break,
        }
    }
    let _ = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
}

/// SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C).
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        // No signal handling: run until killed.
        _ => std::future::pending().await,
    }
}

fn answer(request: &Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD\n".to_string(),
        );
    }
    let wants_openmetrics = request
        .headers()
        .get(ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    match request.uri().path() {
        "/metrics" => {
            let snapshot = current(shared);
            let body = metrics(&snapshot, wants_openmetrics);
            let kind = if wants_openmetrics {
                OPENMETRICS_TEXT
            } else {
                PROMETHEUS_TEXT
            };
            with_type(StatusCode::OK, body, kind)
        }
        "/healthz" => text(StatusCode::OK, "ok\n".to_string()),
        "/readyz" => match shared.inventory.waiting_for() {
            waiting if waiting.is_empty() => text(StatusCode::OK, "ready\n".to_string()),
            waiting => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: first read of {} not done\n", waiting.join(", ")),
            ),
        },
        "/" => {
            let snapshot = current(shared);
            with_type(
                StatusCode::OK,
                page::html(&snapshot.report, snapshot.ready, shared.interval),
                "text/html; charset=utf-8",
            )
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics, /healthz, /readyz or /\n".to_string(),
        ),
    }
}

fn current(shared: &Shared) -> Snapshot {
    shared
        .inventory
        .snapshot((shared.clock)(), shared.request.within)
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    with_type(status, body, "text/plain; charset=utf-8")
}

fn with_type(status: StatusCode, body: String, kind: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    response
}

/// How a counter's value comes from a source's counters.
type Counter = fn(&SourceCounters) -> u64;

/// The inventory's metrics and the exporter's own: per-source error and list counters,
/// readiness, counts per status.
pub(super) fn metrics(snapshot: &Snapshot, openmetrics: bool) -> String {
    let Snapshot {
        report,
        counters,
        gauges,
        ready,
    } = snapshot;
    let mut out = prometheus_text(report);
    let labels = |source: &SourceCounters| {
        let mut labels = format!("source=\"{}\"", escape(&source.source));
        if let Some(context) = &source.context {
            let _ = write!(labels, ",context=\"{}\"", escape(context));
        }
        labels
    };
    let counter_families: [(&str, &str, Counter); 2] = [
        (
            "rcert_source_errors",
            "Failed reads of a source (API requests, watches, file reads) since start.",
            |source| source.errors,
        ),
        (
            "rcert_source_lists",
            "Complete reads of a source since start (a relist after 410 Gone adds one).",
            |source| source.lists,
        ),
    ];
    for (family, help, value) in counter_families {
        // Text 0.0.4 names the family with its _total suffix; OpenMetrics without.
        let named = if openmetrics {
            family.to_string()
        } else {
            format!("{family}_total")
        };
        let _ = writeln!(out, "# HELP {named} {help}\n# TYPE {named} counter");
        for source in counters.iter() {
            let _ = writeln!(
                out,
                "{family}_total{{{}}} {}",
                labels(source),
                value(source)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP rcert_exporter_ready Whether every source has been read completely once (1) or not yet (0).\n# TYPE rcert_exporter_ready gauge\nrcert_exporter_ready {}",
        u8::from(*ready)
    );
    let mut families: Vec<&str> = Vec::new();
    for gauge in gauges {
        if !families.contains(&gauge.family) {
            families.push(gauge.family);
        }
    }
    for family in families {
        let mut series = gauges
            .iter()
            .filter(|gauge| gauge.family == family)
            .peekable();
        if let Some(first) = series.peek() {
            let _ = writeln!(out, "# HELP {family} {}\n# TYPE {family} gauge", first.help);
        }
        for gauge in series {
            let labels: Vec<String> = gauge
                .labels
                .iter()
                .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
                .collect();
            let labels = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", labels.join(","))
            };
            let _ = writeln!(out, "{family}{labels} {}", gauge.value);
        }
    }
    let _ = writeln!(
        out,
        "# HELP rcert_certificates Certificates (and unreadable items) per status.\n# TYPE rcert_certificates gauge"
    );
    for status in [
        ItemStatus::Expired,
        ItemStatus::NotYetValid,
        ItemStatus::Unreadable,
        ItemStatus::Stale,
        ItemStatus::Expiring,
        ItemStatus::Ok,
    ] {
        let count = report
            .items
            .iter()
            .filter(|item| item.status == status)
            .count();
        let _ = writeln!(
            out,
            "rcert_certificates{{status=\"{}\"}} {count}",
            status.name()
        );
    }
    if openmetrics {
        out.push_str("# EOF\n");
    }
    out
}
