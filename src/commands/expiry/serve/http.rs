//! The exporter's HTTP side (hyper, HTTP/1.1): `/metrics` (Prometheus text 0.0.4, or
//! OpenMetrics when the scraper asks for it), `/healthz`, `/readyz` and the page `/`.
//! Every answer is rendered from the inventory at the time of the request.

use std::convert::Infallible;
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

use super::inventory::Snapshot;
use super::{metrics, page, Shared};

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
            let at = (shared.clock)();
            let within = shared.request.within;
            let body = shared
                .inventory
                .render(|view| metrics::render(view, at, within, wants_openmetrics));
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
