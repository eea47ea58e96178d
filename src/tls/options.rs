//! The probe's option values, parsed once where they enter: the ALPN list, durations,
//! the SNI name.

use std::time::Duration;

use rustls::pki_types::ServerName;

use super::ProbeError;

/// The ALPN protocols a probe offers, in order of preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alpn(Vec<String>);

impl Alpn {
    /// Parse `--alpn h2,http/1.1` (each name at most 255 bytes).
    pub fn parse(list: &str) -> Result<Alpn, ProbeError> {
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
        Ok(Alpn(protocols))
    }

    /// `h2` then `http/1.1`, as browsers and kubectl offer them (ingress-nginx answers h2).
    pub fn browser() -> Alpn {
        Alpn(vec!["h2".to_string(), "http/1.1".to_string()])
    }

    /// `http/1.1` only: for Rancher's `/ping` and `/cacerts`.
    pub fn http1() -> Alpn {
        Alpn(vec!["http/1.1".to_string()])
    }

    /// The protocols as rustls sends them.
    pub(super) fn wire(&self) -> Vec<Vec<u8>> {
        self.0.iter().map(|p| p.as_bytes().to_vec()).collect()
    }
}

/// Parse `--timeout`: `5s`, `500ms`, `1m` or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, ProbeError> {
    let bad = || {
        ProbeError::BadOption(
            "expected a duration from 1ms to 1h, such as 5s, 500ms or 1m".to_string(),
        )
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

/// A duration as rcert prints it: `5s`, `500ms`.
pub(crate) fn show_duration(duration: Duration) -> String {
    if duration.as_millis().is_multiple_of(1000) {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}
