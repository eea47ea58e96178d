//! TLS client for `rcert probe`: handshakes with SNI against one or many endpoints,
//! like `openssl s_client -connect … -servername …`.
//!
//! The handshake always completes when the server allows it, whatever its chain:
//! the certificate verifier in [`danger`] accepts anything, so the served chain can be
//! shown; the chain is then judged separately by [`crate::verify::check_chain`], the
//! same code `rcert verify` runs on files.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::inspect::Cert;
use crate::report::{Check, Status};
use crate::verify::{self, CaBundle, Context, Origin};

/// Default port of a target without one.
pub const DEFAULT_PORT: u16 = 443;
/// Largest HTTP response rcert reads from `/ping` or `/cacerts`.
const MAX_HTTP_RESPONSE: u64 = 1024 * 1024;

/// Why a probe could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// A target that is not `host`, `host:port`, `ip:port` or `[v6]:port`.
    #[error("target '{target}': {reason}")]
    BadTarget { target: String, reason: String },
    /// A `--servername` that cannot be sent as SNI.
    #[error("--servername '{0}' is not a DNS name or IP address")]
    BadServerName(String),
    /// A bad `--alpn`, `--timeout` or `--concurrency`.
    #[error("{0}")]
    BadOption(String),
}

/// One endpoint to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The target as given.
    pub input: String,
    /// Host name or IP literal (without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Target {
    /// Parse `host`, `host:port`, `ip:port`, `[v6]:port`, `[v6]` or a bare IPv6 literal.
    pub fn parse(input: &str) -> Result<Target, ProbeError> {
        let bad = |reason: &str| ProbeError::BadTarget {
            target: input.to_string(),
            reason: reason.to_string(),
        };
        let text = input.trim();
        let text = text
            .strip_prefix("https://")
            .unwrap_or(text)
            .trim_end_matches('/');
        if text.is_empty() {
            return Err(bad("empty"));
        }
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| bad("missing ']' after the IPv6 address"))?;
            let port = match after.strip_prefix(':') {
                Some(port) => Some(port),
                None if after.is_empty() => None,
                None => return Err(bad("expected ':PORT' after ']'")),
            };
            (host.to_string(), port)
        } else if text.parse::<IpAddr>().is_ok() {
            (text.to_string(), None)
        } else {
            match text.rsplit_once(':') {
                Some((host, port)) => (host.to_string(), Some(port)),
                None => (text.to_string(), None),
            }
        };
        let port = match port {
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|port| *port > 0)
                .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?,
            None => DEFAULT_PORT,
        };
        if host.contains(['/', ' ', '@']) || host.is_empty() {
            return Err(bad("expected host, host:port, ip:port or [v6]:port"));
        }
        Ok(Target {
            input: input.to_string(),
            host,
            port,
        })
    }

    /// Parse every target of a list, stopping at the first bad one.
    pub fn parse_all(inputs: &[String]) -> Result<Vec<Target>, ProbeError> {
        inputs.iter().map(|input| Target::parse(input)).collect()
    }

    /// `host:port`, with brackets around IPv6.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn is_ip(&self) -> bool {
        self.host.parse::<IpAddr>().is_ok()
    }
}

/// What `rcert probe` is asked to do.
#[derive(Debug, Clone)]
pub struct ProbeRequest {
    /// Endpoints, in the order given.
    pub targets: Vec<Target>,
    /// SNI (and the name checked) for every target; default: each target's host name.
    pub servername: Option<String>,
    /// Trust anchors; default: the Mozilla roots.
    pub ca: Option<CaBundle>,
    /// ALPN protocols offered.
    pub alpn: Vec<String>,
    /// Connect timeout, and handshake timeout, each.
    pub timeout: Duration,
    /// How many targets are probed at once.
    pub concurrency: usize,
    /// Also fetch `/ping` and `/cacerts` and compare them.
    pub rancher: bool,
    /// Warn when the leaf expires within this many days.
    pub warn_days: u32,
}

/// The result of probing one target.
#[derive(Debug, Clone, Serialize)]
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
    /// The chain as served, leaf first.
    pub chain: Vec<Cert>,
    /// The verify checks on the served chain (and the Rancher checks with --rancher).
    pub checks: Vec<Check>,
    /// With --rancher: what `/ping` and `/cacerts` answered.
    pub rancher: Option<RancherFacts>,
    /// Milliseconds from connect to handshake done.
    pub elapsed_ms: u64,
}

impl ProbeResult {
    fn unreachable(target: &Target, servername: Option<String>, error: String) -> ProbeResult {
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
            chain: Vec::new(),
            checks: Vec::new(),
            rancher: None,
            elapsed_ms: 0,
        }
    }

    /// Whether the endpoint could not be probed at all (exit 3).
    pub fn is_unreachable(&self) -> bool {
        self.error.is_some()
    }

    fn leaf_fingerprints(&self) -> Vec<String> {
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
    pub ping: Option<String>,
    /// The body of `/cacerts`.
    pub cacerts: Option<String>,
    /// sha256 of the `/cacerts` body: the value agents compare with CATTLE_CA_CHECKSUM.
    pub cacerts_checksum: Option<String>,
}

/// The result of `rcert probe`.
#[derive(Debug, Serialize)]
pub struct ProbeReport {
    /// One result per target, in input order.
    pub results: Vec<ProbeResult>,
    /// With several targets: whether they all serve the same chain.
    pub consistency: Option<Check>,
    /// Overall verdict.
    pub status: Status,
}

impl ProbeReport {
    /// 0 all good, 1 a check failed, 3 a target could not be probed.
    pub fn exit_code(&self) -> u8 {
        if self.results.iter().any(ProbeResult::is_unreachable) {
            crate::exit::REMOTE
        } else if self.status == Status::Failed {
            crate::exit::CHECK_FAILED
        } else {
            crate::exit::OK
        }
    }
}

/// Parse `--alpn h2,http/1.1`.
pub fn parse_alpn(list: &str) -> Result<Vec<String>, ProbeError> {
    let protocols: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if protocols.iter().any(|p| p.len() > 255) {
        return Err(ProbeError::BadOption(
            "--alpn: a protocol name is longer than 255 bytes".to_string(),
        ));
    }
    Ok(protocols)
}

/// Parse `--timeout`: `5s`, `500ms`, `1m` or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, ProbeError> {
    let bad = || {
        ProbeError::BadOption(format!(
            "--timeout '{text}': expected a duration such as 5s, 500ms or 1m"
        ))
    };
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(split) => text.split_at(split),
        None => (text, "s"),
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(bad()),
    };
    if !(0.001..=3600.0).contains(&seconds) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Check a `--servername`.
pub fn validate_servername(name: &str) -> Result<(), ProbeError> {
    ServerName::try_from(name.to_string())
        .map(|_| ())
        .map_err(|_| ProbeError::BadServerName(name.to_string()))
}

/// Probe every target (bounded concurrency) and judge the results.
pub fn probe(request: &ProbeRequest, progress: bool) -> ProbeReport {
    let started = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|err| err.to_string())
        .and_then(|runtime| Ok((runtime, Clients::new(&request.alpn)?)));
    let (runtime, clients) = match started {
        Ok(started) => started,
        Err(err) => {
            let results = request
                .targets
                .iter()
                .map(|t| ProbeResult::unreachable(t, None, format!("cannot start: {err}")))
                .collect();
            return finish(results, request);
        }
    };
    let mut results = runtime.block_on(probe_all(request, &clients, progress));
    judge(&mut results, request);
    finish(results, request)
}

fn finish(results: Vec<ProbeResult>, request: &ProbeRequest) -> ProbeReport {
    let consistency = consistency_check(&results, request);
    let worst = results
        .iter()
        .map(|result| result.status)
        .chain(consistency.iter().map(|check| check.status))
        .max()
        .unwrap_or(Status::Ok);
    ProbeReport {
        results,
        consistency,
        status: worst,
    }
}

async fn probe_all(request: &ProbeRequest, clients: &Clients, progress: bool) -> Vec<ProbeResult> {
    let limit = Arc::new(tokio::sync::Semaphore::new(request.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, target) in request.targets.iter().cloned().enumerate() {
        let (clients, limit, request) = (clients.clone(), limit.clone(), request.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (index, probe_one(&target, &request, &clients).await)
        });
    }
    let total = request.targets.len();
    let mut results: Vec<Option<ProbeResult>> = vec![None; total];
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, result)) = joined {
            results[index] = Some(result);
        }
        done += 1;
        if progress {
            eprint!("\rprobed {done}/{total}");
        }
    }
    if progress {
        eprint!("\r{}\r", " ".repeat(24));
    }
    results
        .into_iter()
        .zip(&request.targets)
        .map(|(result, target)| {
            result.unwrap_or_else(|| {
                ProbeResult::unreachable(target, None, "probe task failed".to_string())
            })
        })
        .collect()
}

/// The TLS client configurations of one run: the probe's (offering `--alpn`) and the
/// HTTP/1.1 one for Rancher's `/ping` and `/cacerts`.
#[derive(Clone)]
struct Clients {
    probe: Arc<ClientConfig>,
    http1: Arc<ClientConfig>,
}

impl Clients {
    fn new(alpn: &[String]) -> Result<Clients, String> {
        Ok(Clients {
            probe: Arc::new(client_config(alpn)?),
            http1: Arc::new(client_config(&["http/1.1".to_string()])?),
        })
    }
}

fn client_config(alpn: &[String]) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map_err(|err| format!("cannot configure TLS: {err}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(danger::AcceptAnyChain::new(provider)))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Ok(config)
}

/// The SNI and checked name for a target.
fn server_name_for(
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

async fn probe_one(target: &Target, request: &ProbeRequest, clients: &Clients) -> ProbeResult {
    let (server_name, sni) = server_name_for(target, request);
    let started = Instant::now();
    let stream = match connect(target, request.timeout).await {
        Ok(stream) => stream,
        Err(error) => return ProbeResult::unreachable(target, sni, error),
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
    if request.rancher {
        rancher_checks(&mut result, target, request, &clients.http1, server_name).await;
    }
    result
}

async fn connect(target: &Target, timeout: Duration) -> Result<TcpStream, String> {
    let address = target.address();
    let resolved = tokio::time::timeout(timeout, tokio::net::lookup_host(address.clone())).await;
    let addresses: Vec<SocketAddr> = match resolved {
        Err(_) => return Err(format!("cannot resolve {}: timed out", target.host)),
        Ok(Err(err)) => {
            return Err(format!(
                "cannot resolve {}: {}",
                target.host,
                plain_io(&err)
            ))
        }
        Ok(Ok(addresses)) => addresses.collect(),
    };
    let mut last_error = format!("cannot resolve {}: no address", target.host);
    for socket in addresses {
        match tokio::time::timeout(timeout, TcpStream::connect(socket)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(err)) => last_error = format!("cannot connect to {socket}: {}", plain_io(&err)),
            Err(_) => {
                last_error = format!(
                    "cannot connect to {socket}: timed out after {}",
                    show_duration(timeout)
                )
            }
        }
    }
    Err(last_error)
}

fn plain_io(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        _ => crate::pem::describe_io_error(err),
    }
}

fn show_duration(duration: Duration) -> String {
    if duration.as_millis().is_multiple_of(1000) {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
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
                "handshake",
                format!("the server refused the handshake: alert {alert:?}{hint}"),
            )];
            return result;
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
        chain,
        checks: Vec::new(),
        rancher: None,
        elapsed_ms: 0,
    }
}

/// Run the verify checks on every served chain. Targets that serve the same chain
/// for the same name (HA nodes behind one balancer) share one verification.
fn judge(results: &mut [ProbeResult], request: &ProbeRequest) {
    let at = time::OffsetDateTime::now_utc();
    let mut verdicts: HashMap<(Vec<String>, String), Vec<Check>> = HashMap::new();
    for result in results.iter_mut().filter(|r| r.tls_version.is_some()) {
        let key = (result.leaf_fingerprints(), result.checked_name.clone());
        let chain_checks = verdicts
            .entry(key)
            .or_insert_with(|| chain_checks(&result.chain, &result.checked_name, request, at))
            .clone();
        result.checks.splice(0..0, chain_checks);
        result.status = Status::worst(&result.checks);
    }
}

fn chain_checks(
    chain: &[Cert],
    checked_name: &str,
    request: &ProbeRequest,
    at: time::OffsetDateTime,
) -> Vec<Check> {
    if chain.is_empty() {
        return vec![Check::failed(
            "chain",
            "the server sent no certificate".to_string(),
        )];
    }
    let context = Context {
        ca: request.ca.clone(),
        untrusted: Vec::new(),
        key: None,
        hosts: vec![checked_name.to_string()],
        at,
        warn_days: request.warn_days,
    };
    verify::check_chain(chain, Origin::Server, &context)
        .into_iter()
        .filter(|check| check.name != "ca_checksum")
        .collect()
}

fn tls_version_name(version: rustls::ProtocolVersion) -> String {
    match version {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        other => format!("{other:?}"),
    }
}

/// Fetch `/ping` and `/cacerts` over fresh HTTP/1.1 connections and compare `/cacerts`
/// with `--ca` and with the served chain.
async fn rancher_checks(
    result: &mut ProbeResult,
    target: &Target,
    request: &ProbeRequest,
    config: &Arc<ClientConfig>,
    server_name: ServerName<'static>,
) {
    let host = request
        .servername
        .clone()
        .unwrap_or_else(|| target.host.clone());
    let ping = http_get(
        target,
        config,
        &server_name,
        &host,
        "/ping",
        request.timeout,
    )
    .await;
    let cacerts = http_get(
        target,
        config,
        &server_name,
        &host,
        "/cacerts",
        request.timeout,
    )
    .await;
    let mut facts = RancherFacts {
        ping: None,
        cacerts: None,
        cacerts_checksum: None,
    };
    match ping {
        Ok((200, body)) if String::from_utf8_lossy(&body).trim() == "pong" => {
            facts.ping = Some("pong".to_string());
            result
                .checks
                .push(Check::ok("ping", "/ping answered pong".to_string()));
        }
        Ok((status, body)) => {
            let body = String::from_utf8_lossy(&body)
                .trim()
                .chars()
                .take(60)
                .collect::<String>();
            facts.ping = Some(body.clone());
            result.checks.push(Check::failed(
                "ping",
                format!("/ping answered HTTP {status} '{body}', not 'pong': is this Rancher, and is it ready?"),
            ));
        }
        Err(err) => result
            .checks
            .push(Check::failed("ping", format!("/ping: {err}"))),
    }
    match cacerts {
        Ok((200, body)) => {
            let checksum = crate::inspect::plain_hex(&crate::inspect::sha256(&body));
            result.checks.extend(cacerts_checks(
                &body,
                &checksum,
                &result.chain,
                request.ca.as_ref(),
            ));
            facts.cacerts = Some(String::from_utf8_lossy(&body).to_string());
            facts.cacerts_checksum = Some(checksum);
        }
        Ok((status, _)) => result.checks.push(Check::failed(
            "cacerts",
            format!("/cacerts answered HTTP {status}"),
        )),
        Err(err) => result
            .checks
            .push(Check::failed("cacerts", format!("/cacerts: {err}"))),
    }
    result.rancher = Some(facts);
}

/// Compare what `/cacerts` serves with the CA file and with the served chain.
fn cacerts_checks(
    body: &[u8],
    checksum: &str,
    chain: &[Cert],
    ca: Option<&CaBundle>,
) -> Vec<Check> {
    let mut checks = vec![Check::ok(
        "ca_checksum",
        format!("agents will compare CATTLE_CA_CHECKSUM={checksum} (sha256 of /cacerts as served)"),
    )];
    let served_certs = crate::inspect::certs_in(body);
    if served_certs.is_empty() {
        checks.push(Check::warning(
            "cacerts",
            "/cacerts is empty: Rancher runs without privateCA (agents then trust the system roots)".to_string(),
        ));
        return checks;
    }
    if let Some(ca) = ca {
        let expected = verify::ca_checksum(&ca.bytes);
        if expected == checksum {
            checks.push(Check::ok(
                "cacerts",
                format!("/cacerts matches {} byte for byte", ca.source),
            ));
        } else {
            checks.push(Check::failed(
                "cacerts",
                format!(
                    "/cacerts (sha256 {checksum}) differs from {} (sha256 {expected}): put exactly {} into secret tls-ca (key cacerts.pem) in cattle-system",
                    ca.source, ca.source
                ),
            ));
        }
    }
    let top = chain.last();
    let anchors_chain = top.is_some_and(|top| {
        served_certs
            .iter()
            .any(|ca| ca.der() == top.der() || top.is_issued_by(ca))
    });
    if anchors_chain {
        checks.push(Check::ok(
            "cacerts_chain",
            "/cacerts holds the CA that issued the served chain".to_string(),
        ));
    } else {
        checks.push(Check::failed(
            "cacerts_chain",
            "/cacerts does not hold the CA of the served chain: secret tls-ca and secret tls-rancher-ingress come from different CAs".to_string(),
        ));
    }
    checks
}

/// A bounded HTTP/1.1 GET over a fresh TLS connection; returns (status, body).
async fn http_get(
    target: &Target,
    config: &Arc<ClientConfig>,
    server_name: &ServerName<'static>,
    host: &str,
    path: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let exchange = async {
        let stream = connect(target, timeout).await?;
        let mut tls = TlsConnector::from(config.clone())
            .connect(server_name.clone(), stream)
            .await
            .map_err(|err| format!("TLS handshake failed: {err}"))?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: rcert\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        tls.write_all(request.as_bytes())
            .await
            .map_err(|err| format!("cannot send the request: {}", plain_io(&err)))?;
        let mut response = Vec::new();
        let read = (&mut tls)
            .take(MAX_HTTP_RESPONSE)
            .read_to_end(&mut response)
            .await;
        if let Err(err) = read {
            if response.is_empty() || err.kind() != std::io::ErrorKind::UnexpectedEof {
                return Err(format!("cannot read the response: {}", plain_io(&err)));
            }
        }
        parse_http_response(&response)
    };
    match tokio::time::timeout(timeout * 2, exchange).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {}", show_duration(timeout * 2))),
    }
}

/// Parse an HTTP/1.x response: status code and body (Content-Length, chunked, or to EOF).
pub fn parse_http_response(response: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| "not an HTTP response".to_string())?;
    let head = String::from_utf8_lossy(&response[..split]);
    let body = &response[split + 4..];
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/1."))
        .ok_or_else(|| format!("not an HTTP response: '{status_line}'"))?;
    let header = |name: &str| {
        head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    };
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return Ok((status, dechunk(body)?));
    }
    if let Some(length) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        return Ok((status, body[..length.min(body.len())].to_vec()));
    }
    Ok((status, body.to_vec()))
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunked body")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).ok_or("truncated chunk")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).unwrap_or_default();
    }
}

/// With several targets: do all that answered serve the same chain?
fn consistency_check(results: &[ProbeResult], request: &ProbeRequest) -> Option<Check> {
    let served: Vec<&ProbeResult> = results.iter().filter(|r| !r.chain.is_empty()).collect();
    if served.len() < 2 {
        return None;
    }
    let mut groups: Vec<(Vec<String>, Vec<&ProbeResult>)> = Vec::new();
    for result in &served {
        let key = result.leaf_fingerprints();
        match groups
            .iter_mut()
            .find(|(fingerprints, _)| *fingerprints == key)
        {
            Some((_, members)) => members.push(result),
            None => groups.push((key, vec![result])),
        }
    }
    let name = request
        .servername
        .as_deref()
        .map(|name| format!(" for {name}"))
        .unwrap_or_default();
    if groups.len() == 1 {
        return Some(Check::ok(
            "same_chain",
            format!("all {} targets serve the same chain{name}", served.len()),
        ));
    }
    groups.sort_by_key(|(_, members)| std::cmp::Reverse(members.len()));
    let majority = &groups[0].1;
    let odd: Vec<String> = groups[1..]
        .iter()
        .flat_map(|(_, members)| members.iter())
        .map(|result| {
            let leaf = &result.chain[0];
            format!(
                "{} (leaf {} expiring {}, sha256 {}…)",
                result.target,
                leaf.display_name(),
                leaf.not_after,
                &leaf.sha256_fingerprint[..11.min(leaf.sha256_fingerprint.len())]
            )
        })
        .collect();
    Some(Check::failed(
        "same_chain",
        format!(
            "targets serve different chains{name}: {} differ from the {} others: {}",
            odd.len(),
            majority.len(),
            odd.join("; ")
        ),
    ))
}

/// The one place where certificates are accepted without checking: the handshake must
/// complete so the served chain can be shown; the chain is judged afterwards by
/// `verify::check_chain`. Handshake signatures are still verified, so the server
/// proves it holds the key of the certificate it sent.
mod danger {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};

    /// Accepts any certificate chain; verifies handshake signatures.
    #[derive(Debug)]
    pub struct AcceptAnyChain {
        provider: Arc<CryptoProvider>,
    }

    impl AcceptAnyChain {
        pub fn new(provider: Arc<CryptoProvider>) -> Self {
            AcceptAnyChain { provider }
        }
    }

    impl ServerCertVerifier for AcceptAnyChain {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
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

    #[test]
    fn http_responses_parse() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npong";
        assert_eq!(parse_http_response(plain).unwrap(), (200, b"pong".to_vec()));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\npo\r\n2\r\nng\r\n0\r\n\r\n";
        assert_eq!(
            parse_http_response(chunked).unwrap(),
            (200, b"pong".to_vec())
        );
        assert!(parse_http_response(b"garbage").is_err());
        assert!(parse_http_response(b"SSH-2.0\r\n\r\n").is_err());
    }
}
