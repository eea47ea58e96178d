//! TLS client for `rcert probe`: handshakes with SNI against one or many endpoints,
//! like `openssl s_client -connect … -servername …`.
//!
//! The handshake always completes when the server allows it, whatever its chain:
//! the certificate verifier in [`danger`] accepts anything, so the served chain can be
//! shown; the chain is then judged separately by [`crate::checks::check_chain`], the
//! same code `rcert verify` runs on files.

mod danger;
pub mod http;
mod options;
mod target;

pub(crate) use options::show_duration;
pub use options::{parse_duration, validate_servername, Alpn};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::check::Cause;
use crate::check::{Check, CheckId, Status};
use crate::rancher::CaBundle;
use crate::x509::cert::Dated;
use crate::x509::Cert;

pub use target::Target;

/// Default port of a target without one.
pub const DEFAULT_PORT: u16 = 443;
/// Largest HTTP response rcert reads from `/ping` or `/cacerts`.
pub(crate) const MAX_HTTP_RESPONSE: u64 = 1024 * 1024;

/// Why a probe could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// A target that is not `host`, `host:port`, `ip:port` or `[v6]:port`.
    #[error("target '{target}': {reason}")]
    BadTarget { target: String, reason: String },
    /// A `--servername` that cannot be sent as SNI.
    #[error("--servername '{0}' is not a DNS name or IP address{hint}", hint = crate::x509::names::ascii_hint(.0))]
    BadServerName(String),
    /// A bad `--alpn`, `--timeout` or `--concurrency`.
    #[error("{0}")]
    BadOption(String),
}

/// What `rcert probe` is asked to do.
#[derive(Debug, Clone)]
pub struct ProbeRequest {
    /// The time of judgement, decided once by the CLI.
    pub at: time::OffsetDateTime,
    /// Endpoints, in the order given.
    pub targets: Vec<Target>,
    /// SNI (and the name checked) for every target; default: each target's host name.
    pub servername: Option<String>,
    /// Trust anchors; default: the Mozilla roots.
    pub ca: Option<CaBundle>,
    /// ALPN protocols offered.
    pub alpn: Alpn,
    /// Connect timeout, and handshake timeout, each.
    pub timeout: Duration,
    /// How many targets are probed at once.
    pub concurrency: usize,
    /// Also fetch `/ping` and `/cacerts` and compare them.
    pub rancher: bool,
    /// Warn when the leaf expires within this many days.
    pub warn_days: u32,
    /// The clients whose rejection fails a check (`--clients`).
    pub clients: crate::check::Clients,
    /// The most intermediate CAs a client allows (`--max-depth`).
    pub max_depth: Option<u32>,
}

/// The result of probing one target.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    /// The target as given.
    pub target: String,
    /// The address connected to, when one was.
    pub address: Option<String>,
    /// The SNI sent (none for an IP target without --servername).
    pub servername: Option<String>,
    /// The name the certificate is checked against (--servername, else the target's host).
    pub checked_name: String,
    /// Verdict of this target.
    pub status: Status,
    /// Set when the endpoint could not be probed: unreachable, timed out, not TLS (exit 3).
    pub error: Option<String>,
    /// Negotiated TLS version.
    pub tls_version: Option<String>,
    /// Negotiated cipher suite.
    pub cipher_suite: Option<String>,
    /// Negotiated ALPN protocol.
    pub alpn: Option<String>,
    /// The chain as served, leaf first (days left counted from the probe's time).
    pub chain: Dated<Vec<Cert>>,
    /// The verify checks on the served chain (and the Rancher checks with --rancher).
    pub checks: Vec<Check>,
    /// With --rancher: what `/ping` and `/cacerts` answered.
    pub rancher: Option<RancherFacts>,
    /// Milliseconds from connect to handshake done.
    pub elapsed_ms: u64,
}

/// How a [`ProbeResult`] is written as JSON: like its fields, except that `status` is
/// `unreachable` for a target that could not be probed.
#[derive(Serialize)]
struct ProbeResultJson<'a> {
    target: &'a str,
    #[serde(skip_serializing_if = "absent")]
    address: &'a Option<String>,
    #[serde(skip_serializing_if = "absent")]
    servername: &'a Option<String>,
    checked_name: &'a str,
    status: &'a str,
    #[serde(skip_serializing_if = "absent")]
    error: &'a Option<String>,
    #[serde(skip_serializing_if = "absent")]
    tls_version: &'a Option<String>,
    #[serde(skip_serializing_if = "absent")]
    cipher_suite: &'a Option<String>,
    #[serde(skip_serializing_if = "absent")]
    alpn: &'a Option<String>,
    chain: &'a Dated<Vec<Cert>>,
    checks: &'a [Check],
    #[serde(skip_serializing_if = "absent")]
    rancher: &'a Option<RancherFacts>,
    elapsed_ms: u64,
}

/// A field that holds nothing is left out of the JSON, never `null`.
fn absent<T>(value: &&Option<T>) -> bool {
    value.is_none()
}

impl Serialize for ProbeResult {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let status = if self.error.is_some() {
            "unreachable"
        } else {
            match self.status {
                Status::Skipped => "skipped",
                Status::Ok => "ok",
                Status::Warning => "warning",
                Status::Failed => "failed",
            }
        };
        ProbeResultJson {
            target: &self.target,
            address: &self.address,
            servername: &self.servername,
            checked_name: &self.checked_name,
            status,
            error: &self.error,
            tls_version: &self.tls_version,
            cipher_suite: &self.cipher_suite,
            alpn: &self.alpn,
            chain: &self.chain,
            checks: &self.checks,
            rancher: &self.rancher,
            elapsed_ms: self.elapsed_ms,
        }
        .serialize(serializer)
    }
}

impl ProbeResult {
    /// A target that could not be probed (exit 3), with the reason — as `error` and as a
    /// `reachable` finding a script walking the checks sees.
    pub fn unreachable(target: &Target, servername: Option<String>, error: String) -> ProbeResult {
        let finding = Check::failed(CheckId::Reachable, Cause::Unreachable, error.clone()).about(
            crate::check::Subject::Endpoint {
                target: target.input.clone(),
            },
        );
        ProbeResult {
            target: target.input.clone(),
            address: None,
            checked_name: servername.clone().unwrap_or_else(|| target.host.clone()),
            servername,
            status: Status::Failed,
            error: Some(error),
            tls_version: None,
            cipher_suite: None,
            alpn: None,
            // No chain: no day is ever counted from this time.
            chain: Dated::new(Vec::new(), time::OffsetDateTime::UNIX_EPOCH),
            checks: vec![finding],
            rancher: None,
            elapsed_ms: 0,
        }
    }

    /// Whether the endpoint could not be probed at all (exit 3).
    pub fn is_unreachable(&self) -> bool {
        self.error.is_some()
    }

    /// The fingerprints of the served chain, leaf first.
    pub fn leaf_fingerprints(&self) -> Vec<String> {
        self.chain
            .iter()
            .map(|cert| cert.sha256_fingerprint.clone())
            .collect()
    }
}

/// What a Rancher server answered at `/ping` and `/cacerts`.
#[derive(Debug, Clone, Serialize)]
pub struct RancherFacts {
    /// The body of `/ping` (Rancher answers `pong`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ping: Option<String>,
    /// The body of `/cacerts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cacerts: Option<String>,
    /// sha256 of the `/cacerts` body: the value agents compare with CATTLE_CA_CHECKSUM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cacerts_checksum: Option<String>,
    /// The HTTP status `/cacerts` answered with (None: no answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cacerts_status: Option<u16>,
}

/// The TLS client configurations of one run: the probe's (offering `--alpn`) and the
/// HTTP/1.1 one for Rancher's `/ping` and `/cacerts`.
#[derive(Clone)]
pub(crate) struct Clients {
    probe: Arc<ClientConfig>,
    pub(crate) http1: Arc<ClientConfig>,
}

impl Clients {
    pub(crate) fn new(alpn: &Alpn) -> Result<Clients, rustls::Error> {
        Ok(Clients {
            probe: Arc::new(client_config(alpn)?),
            http1: Arc::new(client_config(&Alpn::http1())?),
        })
    }
}

fn client_config(alpn: &Alpn) -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(danger::AcceptAnyChain::new(provider)))
        .with_no_client_auth();
    config.alpn_protocols = alpn.wire();
    Ok(config)
}

/// The SNI and checked name for a target.
pub(crate) fn server_name_for(
    target: &Target,
    request: &ProbeRequest,
) -> (ServerName<'static>, Option<String>) {
    let name = request
        .servername
        .clone()
        .unwrap_or_else(|| target.host.clone());
    let sni = match (&request.servername, target.is_ip()) {
        (None, true) => None,
        _ => Some(name.clone()),
    };
    let server_name = ServerName::try_from(name.clone())
        .unwrap_or_else(|_| ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into()));
    (server_name, sni)
}

/// Connect and handshake with one target; the served chain is recorded, not judged.
pub(crate) async fn probe_one(
    target: &Target,
    request: &ProbeRequest,
    clients: &Clients,
) -> ProbeResult {
    let (server_name, sni) = server_name_for(target, request);
    let started = Instant::now();
    let stream = match connect(target, request.timeout).await {
        Ok(stream) => stream,
        Err(error) => return ProbeResult::unreachable(target, sni, error.to_string()),
    };
    let address = stream.peer_addr().ok().map(|addr| addr.to_string());
    let connector = TlsConnector::from(clients.probe.clone());
    let handshake = tokio::time::timeout(
        request.timeout,
        connector.connect(server_name.clone(), stream),
    )
    .await;
    let tls = match handshake {
        Err(_) => {
            return ProbeResult::unreachable(
                target,
                sni,
                format!(
                    "TLS handshake timed out after {}",
                    show_duration(request.timeout)
                ),
            )
        }
        Ok(Err(err)) => return handshake_failure(target, sni, address, &err),
        Ok(Ok(tls)) => tls,
    };
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut result = describe_session(target, sni, address, &tls, request);
    result.elapsed_ms = elapsed_ms;
    drop(tls);
    result
}

/// Why a TCP connection to a target could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The name did not resolve (or not in time).
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// The host name.
        host: String,
        /// Why, in a few words.
        reason: String,
    },
    /// No address accepted the connection (the last one's reason).
    #[error("cannot connect to {address}: {reason}")]
    Connect {
        /// The address tried last.
        address: SocketAddr,
        /// Why, in a few words.
        reason: String,
    },
}

pub(crate) async fn connect(target: &Target, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let address = target.address();
    let resolve = |reason: String| ConnectError::Resolve {
        host: target.host.clone(),
        reason,
    };
    let resolved = tokio::time::timeout(timeout, tokio::net::lookup_host(address.clone())).await;
    let addresses: Vec<SocketAddr> = match resolved {
        Err(_) => return Err(resolve("timed out".to_string())),
        Ok(Err(err)) => return Err(resolve(plain_io(&err))),
        Ok(Ok(addresses)) => addresses.collect(),
    };
    let mut last_error = resolve("no address".to_string());
    for socket in addresses {
        match tokio::time::timeout(timeout, TcpStream::connect(socket)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(err)) => {
                last_error = ConnectError::Connect {
                    address: socket,
                    reason: plain_io(&err),
                }
            }
            Err(_) => {
                last_error = ConnectError::Connect {
                    address: socket,
                    reason: format!("timed out after {}", show_duration(timeout)),
                }
            }
        }
    }
    Err(last_error)
}

pub(crate) fn plain_io(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        _ => crate::x509::pem::describe_io_error(err),
    }
}

/// A handshake that did not complete: the server refused it (a check failure, exit 1)
/// or the other side is not a TLS server / hung up (exit 3).
fn handshake_failure(
    target: &Target,
    sni: Option<String>,
    address: Option<String>,
    err: &std::io::Error,
) -> ProbeResult {
    let tls_error = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let message = match tls_error {
        Some(rustls::Error::AlertReceived(alert)) => {
            let hint = match alert {
                rustls::AlertDescription::ProtocolVersion => {
                    " — the server offers only TLS versions older than 1.2"
                }
                rustls::AlertDescription::HandshakeFailure => {
                    " — no common TLS version or cipher suite (TLS 1.0/1.1 or RSA key exchange only?)"
                }
                rustls::AlertDescription::UnrecognisedName => " — the server knows no certificate for this SNI name",
                _ => "",
            };
            let mut result = ProbeResult::unreachable(target, sni, String::new());
            result.error = None;
            result.address = address;
            result.checks = vec![Check::failed(
                CheckId::Handshake, Cause::HandshakeFailed,
                format!("the server refused the handshake: alert {alert:?}{hint}"),
            )];
            return result;
        }
        Some(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::CertificatePayloadTooLarge
            | rustls::InvalidMessage::HandshakePayloadTooLarge
            | rustls::InvalidMessage::MessageTooLarge,
        )) => {
            "the server's handshake message is larger than TLS clients accept (excessive message size: a chain of hundreds of certificates?): trim tls.crt to the leaf and its intermediates"
                .to_string()
        }
        Some(rustls::Error::InvalidMessage(_)) => {
            "not TLS: the server answered with something that is not a TLS handshake (plain HTTP?)"
                .to_string()
        }
        Some(other) => format!("TLS handshake failed: {other}"),
        None => match err.kind() {
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => {
                "the server closed the connection during the TLS handshake".to_string()
            }
            _ => format!("TLS handshake failed: {}", plain_io(err)),
        },
    };
    let mut result = ProbeResult::unreachable(target, sni, message);
    result.address = address;
    result
}

fn describe_session(
    target: &Target,
    sni: Option<String>,
    address: Option<String>,
    tls: &TlsStream<TcpStream>,
    request: &ProbeRequest,
) -> ProbeResult {
    let (_, session) = tls.get_ref();
    let chain: Vec<Cert> = session
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .filter_map(|der| Cert::from_der(der.clone().into_owned()).ok())
        .collect();
    ProbeResult {
        target: target.input.clone(),
        address,
        servername: sni,
        checked_name: request
            .servername
            .clone()
            .unwrap_or_else(|| target.host.clone()),
        status: Status::Ok,
        error: None,
        tls_version: session.protocol_version().map(tls_version_name),
        cipher_suite: session
            .negotiated_cipher_suite()
            .map(|suite| format!("{:?}", suite.suite())),
        alpn: session
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).to_string()),
        chain: Dated::new(chain, request.at),
        checks: Vec::new(),
        rancher: None,
        elapsed_ms: 0,
    }
}

pub(crate) fn tls_version_name(version: rustls::ProtocolVersion) -> String {
    match version {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let t = |s: &str| Target::parse(s).map(|t| (t.host, t.port));
        assert_eq!(
            t("rancher.example.com").unwrap(),
            ("rancher.example.com".into(), 443)
        );
        assert_eq!(
            t("rancher.example.com:8443").unwrap(),
            ("rancher.example.com".into(), 8443)
        );
        assert_eq!(t("127.0.0.1:9443").unwrap(), ("127.0.0.1".into(), 9443));
        assert_eq!(t("[::1]:9443").unwrap(), ("::1".into(), 9443));
        assert_eq!(t("[::1]").unwrap(), ("::1".into(), 443));
        assert_eq!(t("::1").unwrap(), ("::1".into(), 443));
        assert_eq!(
            t("https://rancher.example.com/").unwrap(),
            ("rancher.example.com".into(), 443)
        );
        for bad in [
            "",
            "host:0",
            "host:99999",
            "host:abc",
            "[::1",
            "[::1]x",
            "a b:1",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("fast").is_err());
    }
}
