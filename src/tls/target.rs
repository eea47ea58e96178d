//! Targets: `host`, `host:port`, `ip:port`, `[v6]:port`, and server URLs.

use std::net::IpAddr;

use super::{ProbeError, DEFAULT_PORT};

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
        } else if text.parse::<IpAddr>().is_ok() && port_like_tail(text) {
            return Err(bad(&format!(
                "ambiguous: an IPv6 address and a port? write [{}]:{} (or [{text}] for the address alone)",
                text.rsplit_once(':').map_or(text, |(address, _)| address),
                text.rsplit_once(':').map_or("", |(_, port)| port)
            )));
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
        if let Some(ascii) = crate::x509::names::ascii_host(&host) {
            return Err(bad(&format!(
                "an internationalised name goes into certificates and SNI in its ASCII form: {ascii}"
            )));
        }
        Ok(Target {
            input: input.to_string(),
            host,
            port,
        })
    }

    /// A kubeconfig's `server:` URL (`https://host:port/k8s/clusters/c-m-abc`,
    /// `https://[::1]:6443`, `http://127.0.0.1:8001` for kubectl proxy): the endpoint to
    /// connect to, and whether it speaks TLS. The path is the API's, not the endpoint's.
    pub fn from_url(url: &str) -> Result<(Target, bool), ProbeError> {
        let bad = |reason: &str| ProbeError::BadTarget {
            target: url.to_string(),
            reason: reason.to_string(),
        };
        let uri: http::Uri = url
            .trim()
            .parse()
            .map_err(|_| bad("not a URL (expected https://HOST[:PORT][/PATH])"))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            Some(other) => return Err(bad(&format!("unknown scheme '{other}'"))),
            None => return Ok((Target::parse(url)?, true)),
        };
        let host = uri
            .host()
            .map(|host| host.trim_start_matches('[').trim_end_matches(']'))
            .filter(|host| !host.is_empty())
            .ok_or_else(|| bad("no host"))?;
        let port = uri
            .port_u16()
            .unwrap_or(if tls { DEFAULT_PORT } else { 80 });
        Ok((
            Target {
                input: url.to_string(),
                host: host.to_string(),
                port,
            },
            tls,
        ))
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

    /// Whether the host is an IP literal.
    pub fn is_ip(&self) -> bool {
        self.host.parse::<IpAddr>().is_ok()
    }
}

/// Whether a bare IPv6 literal ends in what may be a port: `::1:8441` (an address, or
/// `::1` and port 8441?). `::1` and full eight-group addresses are not ambiguous.
fn port_like_tail(text: &str) -> bool {
    let Some((head, tail)) = text.rsplit_once(':') else {
        return false;
    };
    let groups_after_gap = head.split_once("::").map(|(_, after)| after);
    groups_after_gap.is_some_and(|after| !after.is_empty())
        && !tail.is_empty()
        && tail.chars().all(|c| c.is_ascii_digit())
        && tail
            .parse::<u32>()
            .is_ok_and(|port| (1..=65535).contains(&port))
}
