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

use super::{connect, plain_io, show_duration, Target, MAX_HTTP_RESPONSE};

/// GET `path` over a fresh TLS connection, the whole exchange bounded by `timeout`;
/// returns (status, body).
pub async fn http_get(
    target: &Target,
    config: &Arc<ClientConfig>,
    server_name: &ServerName<'static>,
    host: &str,
    path: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let exchange = async {
        let stream = connect(target, timeout)
            .await
            .map_err(|err| err.to_string())?;
        let tls = TlsConnector::from(config.clone())
            .connect(server_name.clone(), stream)
            .await
            .map_err(|err| format!("TLS handshake failed: {}", plain_io(&err)))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|err| format!("HTTP: {err}"))?;
        let driver = tokio::spawn(connection);
        let request = http::Request::get(path)
            .header(http::header::HOST, host)
            .header(http::header::USER_AGENT, "rcert")
            .header(http::header::ACCEPT, "*/*")
            .body(Empty::<Bytes>::new())
            .map_err(|err| format!("cannot build the request: {err}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|err| format!("no valid HTTP answer: {err}"))?;
        let status = response.status().as_u16();
        let limit = usize::try_from(MAX_HTTP_RESPONSE).unwrap_or(usize::MAX);
        let body = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map_err(|err| format!("cannot read the response body: {err}"))?
            .to_bytes()
            .to_vec();
        driver.abort();
        Ok((status, body))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {}", show_duration(timeout))),
    }
}
