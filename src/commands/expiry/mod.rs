//! `rcert expiry`: one inventory of every certificate a Rancher install depends on —
//! cluster Secrets and cert-manager Certificates (every context with `--all-contexts`),
//! a node's RKE2/k3s/RKE1 files and kubeconfigs, any `--path`, live endpoints — soonest
//! first, each with the command that renews it; as text, JSON or Prometheus exposition.

mod cluster;
mod files;
mod fixes;
mod item;
mod prometheus;
mod rancher_ca;
pub mod serve;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::output::{Report, Style};
use crate::tls::Target;
use crate::x509::cert::rfc3339;

use item::{common_name, fix_for};
pub use item::{Item, ItemStatus, Place, Source};
pub use prometheus::prometheus_text;

/// What `rcert expiry` is asked to list.
#[derive(Debug, Clone)]
pub struct ExpiryRequest {
    /// The cluster (`--kubeconfig`, `--context`) and the timeout of each API request and
    /// handshake.
    pub cluster: crate::cluster::ClusterTarget,
    /// `--all-contexts`: every context of the kubeconfig, concurrently.
    pub all_contexts: bool,
    /// `--namespace` (repeatable); all namespaces when empty.
    pub namespaces: Vec<crate::cluster::Namespace>,
    /// `--no-cluster`.
    pub no_cluster: bool,
    /// `--root`: where the node's file system starts.
    pub root: PathBuf,
    /// `--no-node`.
    pub no_node: bool,
    /// `--path` (repeatable): files or directories, read recursively.
    pub paths: Vec<PathBuf>,
    /// `--target` (repeatable): endpoints whose served chain is listed.
    pub targets: Vec<Target>,
    /// `--within`: what expires within this is "expiring".
    pub within: Duration,
    /// The time of the inventory (now).
    pub at: OffsetDateTime,
    /// How many contexts are read at once under `--all-contexts`.
    pub concurrency: usize,
}

/// The state of one source (cluster context, node, endpoint).
#[derive(Debug, Clone, Serialize)]
pub struct SourceState {
    /// `cluster`, `cluster CONTEXT`, `node ROOT`, `endpoint HOST:PORT`, `path P`.
    pub source: String,
    /// The kubeconfig context of a cluster source, under `--all-contexts` and `--serve`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// read, unavailable (not configured here), unreachable or error.
    pub state: String,
    /// What was read, or what went wrong.
    pub message: String,
}

/// Counts per status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Items past their notAfter.
    pub expired: usize,
    /// Items before their notBefore.
    pub not_yet_valid: usize,
    /// Node copies of Rancher's CA that `/cacerts` no longer serves.
    pub stale: usize,
    /// Items within `--within`.
    pub expiring: usize,
    /// Items fine.
    pub ok: usize,
    /// Things that could not be read.
    pub unreadable: usize,
    /// `--within` in days.
    pub within_days: u64,
    /// The time of the inventory (RFC 3339).
    pub at: String,
    /// API requests made, over every context.
    pub api_requests: u32,
    /// What each source did.
    pub sources: Vec<SourceState>,
}

/// The result of `rcert expiry`.
#[derive(Debug, Clone, Serialize)]
pub struct ExpiryReport {
    /// Every certificate found, soonest expiry first (unreadable ones first of all).
    pub items: Vec<Item>,
    /// Counts and sources.
    pub summary: Summary,
}

impl ExpiryReport {
    /// 0 nothing expired, expiring or unreadable; 1 otherwise; 3 when a requested source
    /// could not be reached and nothing else failed.
    pub fn exit_code(&self) -> u8 {
        let s = &self.summary;
        if s.expired + s.not_yet_valid + s.stale + s.expiring + s.unreadable > 0 {
            crate::exit::CHECK_FAILED
        } else if s.sources.iter().any(|source| source.state == "unreachable") {
            crate::exit::REMOTE
        } else {
            crate::exit::OK
        }
    }
}

/// Build the inventory: every source concurrently, then sorted soonest first.
pub async fn expiry(request: &ExpiryRequest) -> Result<ExpiryReport, crate::Error> {
    has_a_source(request)?;
    let (cluster, endpoints) = tokio::join!(
        cluster::collect(request),
        cluster::collect_endpoints(request)
    );
    let (mut items, mut sources, requests) = cluster?;
    let (endpoint_items, endpoint_sources) = endpoints;
    items.extend(endpoint_items);
    sources.extend(endpoint_sources);
    let (mut file_items, file_sources) = files::collect(request);
    sources.extend(rancher_ca::compare(&mut file_items, request).await);
    items.extend(file_items);
    sources.extend(file_sources);
    Ok(summarize(
        items,
        sources,
        request.at,
        request.within,
        requests,
    ))
}

/// The report from what the sources read: one item per place, unreadable first, then
/// soonest notAfter first, counted.
fn summarize(
    mut items: Vec<Item>,
    sources: Vec<SourceState>,
    at: OffsetDateTime,
    within: Duration,
    api_requests: u32,
) -> ExpiryReport {
    // One item per place: a file both --path and the node scan read is listed once.
    let keep: Vec<bool> = {
        let mut seen = std::collections::HashSet::new();
        items
            .iter()
            .map(|item| {
                seen.insert((
                    item.context.as_deref(),
                    item.location.as_str(),
                    item.serial.as_deref(),
                    item.not_after.as_deref(),
                ))
            })
            .collect()
    };
    let mut keep = keep.into_iter();
    items.retain(|_| keep.next().unwrap_or(true));
    // Unreadable first, then soonest notAfter first (keys borrowed: the exporter sorts
    // tens of thousands of items per scrape).
    items.sort_by(|a, b| {
        let key = |item: &Item| (item.status != ItemStatus::Unreadable, item.not_after_time);
        key(a)
            .cmp(&key(b))
            .then_with(|| a.location.cmp(&b.location))
    });
    let count = |status: ItemStatus| items.iter().filter(|i| i.status == status).count();
    let summary = Summary {
        expired: count(ItemStatus::Expired),
        not_yet_valid: count(ItemStatus::NotYetValid),
        stale: count(ItemStatus::Stale),
        expiring: count(ItemStatus::Expiring),
        ok: count(ItemStatus::Ok),
        unreadable: count(ItemStatus::Unreadable),
        within_days: within.as_secs() / 86_400,
        at: rfc3339(at),
        api_requests,
        sources,
    };
    ExpiryReport { items, summary }
}

/// `--no-cluster` and `--no-node` without `--path` or `--target` leave nothing to list.
fn has_a_source(request: &ExpiryRequest) -> Result<(), crate::Error> {
    if request.no_cluster
        && request.no_node
        && request.paths.is_empty()
        && request.targets.is_empty()
    {
        return Err(crate::Error::Usage(
            "nothing to list: --no-cluster and --no-node leave no source; add --path or --target (an inventory of nothing would always look green)".to_string(),
        ));
    }
    Ok(())
}

/// The longest `--within` (100 years): beyond it no date is meaningful.
const MAX_WITHIN_SECONDS: u64 = 36_500 * 86_400;

/// Parse `--within`: `30d`, `2w`, `720h`, `3600s`, or plain days. Expiry counts whole
/// days: a duration under one day (`3m` is 3 minutes, not months) is refused, and so is
/// one too large to be a date.
pub fn parse_within(text: &str) -> Result<Duration, WithinError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(WithinError::NotADuration);
    }
    let unit_seconds: u64 = match unit {
        "" | "d" => 86_400,
        "w" => 7 * 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(WithinError::Unit),
    };
    let too_long = || WithinError::TooLong(text.to_string());
    // Digits that overflow a u64 are too long as well.
    let value: u64 = number.parse().map_err(|_| too_long())?;
    let seconds = value
        .checked_mul(unit_seconds)
        .filter(|seconds| *seconds <= MAX_WITHIN_SECONDS)
        .ok_or_else(too_long)?;
    if seconds > 0 && seconds < 86_400 {
        return Err(WithinError::UnderADay(text.to_string()));
    }
    Ok(Duration::from_secs(seconds))
}

/// A `--within` that is not a whole number of days that fits.
#[derive(Debug, thiserror::Error)]
pub enum WithinError {
    /// No number.
    #[error("expected a duration such as 30d, 2w or 720h")]
    NotADuration,
    /// A unit rcert does not know (or a fraction: `1.5d`).
    #[error("the unit must be s, m, h, d or w, after a whole number (e.g. 30d)")]
    Unit,
    /// More than 100 years.
    #[error("'{0}' is too long: at most 36500d (100 years)")]
    TooLong(String),
    /// Less than one day.
    #[error("'{0}' is less than a day, and expiry counts whole days ('m' is minutes: for months write e.g. 90d)")]
    UnderADay(String),
}

impl Report for ExpiryReport {
    /// A table soonest first, then counts and what each source did.
    fn text(&self, style: &Style) -> String {
        expiry_text(self, style)
    }

    fn exit_code(&self) -> u8 {
        ExpiryReport::exit_code(self)
    }
}

fn expiry_text(report: &ExpiryReport, style: &Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!(
            "{:<11}{:>6}  {:<21} {:<40} WHERE",
            "STATUS", "DAYS", "NOT AFTER", "SUBJECT"
        ))
    );
    for item in &report.items {
        let status = style.paint(
            &format!("{:<11}", item.status.label()),
            item.status.verdict(),
        );
        let days = item
            .days_left
            .map_or_else(|| "-".to_string(), |days| days.to_string());
        let subject: String = item.subject_cn().chars().take(40).collect();
        // A file name may hold a newline: it never breaks the row.
        let _ = writeln!(
            out,
            "{status}{days:>6}  {:<21} {subject:<40} {}",
            item.not_after.as_deref().unwrap_or("-"),
            crate::check::escape_control(&item.location, false)
        );
        if let Some(error) = &item.error {
            let _ = writeln!(out, "{:<40}{error}", "");
        }
        if let Some(fix) = &item.fix {
            let _ = writeln!(out, "{:<40}fix: {}", "", fix.line());
        }
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "\n{} expired, {} expiring within {} days, {} ok, {} unreadable{} (at {})",
        s.expired,
        s.expiring,
        s.within_days,
        s.ok,
        s.unreadable,
        if s.not_yet_valid > 0 {
            format!(", {} not valid yet", s.not_yet_valid)
        } else {
            String::new()
        },
        s.at
    );
    for source in &s.sources {
        let _ = writeln!(
            out,
            "  {:<12} {}: {}",
            source.state, source.source, source.message
        );
    }
    out
}
