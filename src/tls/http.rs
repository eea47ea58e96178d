//! A bounded HTTP/1.1 GET over TLS, for Rancher's `/ping` and `/cacerts`, on hyper's
//! `client::conn::http1` (already compiled through kube).

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio_rustls::TlsConnector;

use super::{connect, plain_io, show_duration, ConnectError, Target, MAX_HTTP_RESPONSE};

/// Why a GET got no HTTP answer (each variant keeps what failed as its source).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No TCP connection.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The TLS handshake failed.
    #[error("TLS handshake failed: {}", plain_io(.0))]
    Tls(#[source] std::io::Error),
    /// The HTTP/1.1 connection could not be set up.
    #[error("HTTP: {0}")]
    Http(#[source] hyper::Error),
    /// The request could not be built (a path or host no request can carry).
    #[error("cannot build the request: {0}")]
    Request(#[source] http::Error),
    /// The server did not answer in HTTP.
    #[error("no valid HTTP answer: {0}")]
    Answer(#[source] hyper::Error),
    /// The body could not be read (or is larger than rcert reads).
    #[error("cannot read the response body: {0}")]
    Body(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Nothing within the timeout.
    #[error("no answer within {}", show_duration(*.0))]
    Timeout(Duration),
}

/// GET `path` over a fresh TLS connection, the whole exchange bounded by `timeout`;
/// returns (status, body).
pub async fn http_get(
    target: &Target,
    config: &Arc<ClientConfig>,
    server_name: &ServerName<'static>,
    host: &str,
    path: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), HttpError> {
    let exchange = async {
        let stream = connect(target, timeout).await?;
        let tls = TlsConnector::from(config.clone())
            .connect(server_name.clone(), stream)
            .await
            .map_err(HttpError::Tls)?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(HttpError::Http)?;
        let driver = tokio::spawn(connection);
        let request = http::Request::get(path)
            .header(http::header::HOST, host)
            .header(http::header::USER_AGENT, "rcert")
            .header(http::header::ACCEPT, "*/*")
            .body(Empty::<Bytes>::new())
            .map_err(HttpError::Request)?;
        let response = sender
            .send_request(request)
            .await
            .map_err(HttpError::Answer)?;
        let status = response.status().as_u16();
        let limit = usize::try_from(MAX_HTTP_RESPONSE).unwrap_or(usize::MAX);
        let body = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map_err(HttpError::Body)?
            .to_bytes()
            .to_vec();
        driver.abort();
        Ok((status, body))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(HttpError::Timeout(timeout)),
    }
}
