//! `rcert expiry`: one inventory of every certificate a Rancher install depends on —
//! cluster Secrets and cert-manager Certificates (every context with `--all-contexts`),
//! a node's RKE2/k3s/RKE1 files and kubeconfigs, any `--path`, live endpoints — soonest
//! first, each with the command that renews it; as text, JSON or Prometheus exposition.

mod cluster;
mod files;
mod fixes;
mod prometheus;
mod rancher_ca;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::check::Status;
use crate::output::{Report, Style};
use crate::tls::Target;
use crate::x509::cert::rfc3339;
use crate::x509::Cert;

pub use prometheus::prometheus_text;

/// What `rcert expiry` is asked to list.
#[derive(Debug, Clone)]
pub struct ExpiryRequest {
    /// `--kubeconfig`; else as kubectl finds it.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
    /// `--all-contexts`: every context of the kubeconfig, concurrently.
    pub all_contexts: bool,
    /// `--namespace` (repeatable); all namespaces when empty.
    pub namespaces: Vec<String>,
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
    /// Timeout of each API request and handshake.
    pub timeout: Duration,
    /// The time of the inventory (now).
    pub at: OffsetDateTime,
}

/// Where a certificate was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A Secret in the cluster.
    Secret,
    /// A cert-manager Certificate's status.
    CertManager,
    /// A file of the node (RKE2, k3s, RKE1 paths).
    Node,
    /// A file given with `--path`.
    File,
    /// A kubeconfig's client certificate or CA.
    Kubeconfig,
    /// A live endpoint's served chain.
    Endpoint,
    /// A webhook configuration's or APIService's caBundle.
    CaBundle,
    /// A k3s/RKE2 Node Event about certificates.
    Event,
}

/// How an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Past its notAfter.
    Expired,
    /// Before its notBefore: clients refuse it as they refuse an expired one.
    NotYetValid,
    /// Could not be read: the error says why.
    Unreadable,
    /// A node's copy of Rancher's CA that Rancher no longer serves at `/cacerts`.
    Stale,
    /// Expires within `--within`.
    Expiring,
    /// Fine.
    Ok,
}

impl ItemStatus {
    fn label(self) -> &'static str {
        match self {
            ItemStatus::Expired => "EXPIRED",
            ItemStatus::NotYetValid => "NOT VALID",
            ItemStatus::Unreadable => "UNREADABLE",
            ItemStatus::Stale => "STALE",
            ItemStatus::Expiring => "expiring",
            ItemStatus::Ok => "ok",
        }
    }

    fn verdict(self) -> Status {
        match self {
            ItemStatus::Expired
            | ItemStatus::NotYetValid
            | ItemStatus::Unreadable
            | ItemStatus::Stale => Status::Failed,
            ItemStatus::Expiring => Status::Warning,
            ItemStatus::Ok => Status::Ok,
        }
    }
}

/// Labels that say where an item lives, in x509-certificate-exporter's names.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Place {
    /// Secret namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_namespace: Option<String>,
    /// Secret name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// Secret key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// File path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filepath: Option<String>,
    /// In a kubeconfig: `user` or `cluster` (x509-certificate-exporter's `embedded_kind`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedded_kind: Option<String>,
    /// In a kubeconfig: the user's or cluster's name (`embedded_key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedded_key: Option<String>,
    /// An endpoint's `HOST:PORT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Position in a bundle or served chain that holds several certificates (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

/// One certificate (a bundle of three is three items), or one thing that could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `secret NS/NAME KEY[#n]`, `file PATH`, `kubeconfig PATH user NAME`,
    /// `endpoint HOST:PORT`, `certificate NS/NAME`, prefixed with `CONTEXT: ` under
    /// `--all-contexts`.
    pub location: String,
    /// What kind of place.
    pub source: Source,
    /// The kubeconfig context it was read through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Subject DN.
    pub subject: Option<String>,
    /// Issuer DN.
    pub issuer: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Start of validity (RFC 3339).
    pub not_before: Option<String>,
    /// End of validity (RFC 3339).
    pub not_after: Option<String>,
    /// Whole days left (negative once expired).
    pub days_left: Option<i64>,
    /// expired, expiring, ok or unreadable.
    pub status: ItemStatus,
    /// Why it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The command or step that renews it (for expired and expiring items).
    pub fix: Option<String>,
    /// When cert-manager plans to renew it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renewal_time: Option<String>,
    /// Where it lives, as labels.
    #[serde(flatten)]
    pub place: Place,
    /// What renews it instead of a person (`Certificate NAME` of cert-manager).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    /// A copy of Rancher's CA on a node: the Rancher URL whose `/cacerts` it must match.
    #[serde(skip)]
    rancher_server: Option<String>,
    /// The certificate's sha256 fingerprint.
    #[serde(skip)]
    fingerprint: Option<String>,
    #[serde(skip)]
    not_after_time: Option<OffsetDateTime>,
    #[serde(skip)]
    not_before_time: Option<OffsetDateTime>,
}

/// The state of one source (cluster context, node, endpoint).
#[derive(Debug, Clone, Serialize)]
pub struct SourceState {
    /// `cluster`, `cluster CONTEXT`, `node ROOT`, `endpoint HOST:PORT`, `path P`.
    pub source: String,
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

impl Item {
    /// An item for a certificate, judged at `at` against `within`.
    fn of_cert(
        cert: &Cert,
        location: String,
        source: Source,
        place: Place,
        request: &ExpiryRequest,
    ) -> Item {
        let mut item = Item::dated(location, source, place, cert.not_after_time(), request);
        if request.at < cert.not_before_time() {
            item.status = ItemStatus::NotYetValid;
            item.error = Some(format!(
                "not valid before {} (in {} day(s)): clients refuse it until then; check the clock of the machine that issued it",
                cert.not_before,
                (cert.not_before_time() - request.at).whole_days()
            ));
        }
        item.subject = Some(cert.subject.clone());
        item.issuer = Some(cert.issuer.clone());
        item.serial = Some(cert.serial.clone());
        item.not_before = Some(cert.not_before.clone());
        item.not_before_time = Some(cert.not_before_time());
        item.fingerprint = Some(cert.sha256_fingerprint.clone());
        item.fix = fix_for(&item, cert.is_ca);
        item
    }

    /// An item known only by its end of validity (a cert-manager Certificate's status).
    fn dated(
        location: String,
        source: Source,
        place: Place,
        not_after: OffsetDateTime,
        request: &ExpiryRequest,
    ) -> Item {
        let status = if request.at > not_after {
            ItemStatus::Expired
        } else if not_after - request.at <= request.within {
            ItemStatus::Expiring
        } else {
            ItemStatus::Ok
        };
        let mut item = Item::unreadable(location, source, place, String::new());
        item.error = None;
        item.status = status;
        item.not_after = Some(rfc3339(not_after));
        item.not_after_time = Some(not_after);
        item.days_left = Some((not_after - request.at).whole_days());
        item.fix = fix_for(&item, false);
        item
    }

    /// An item for something that could not be read.
    fn unreadable(location: String, source: Source, place: Place, error: String) -> Item {
        Item {
            location,
            source,
            context: None,
            subject: None,
            issuer: None,
            serial: None,
            not_before: None,
            not_after: None,
            days_left: None,
            status: ItemStatus::Unreadable,
            error: Some(error),
            fix: None,
            renewal_time: None,
            managed_by: None,
            rancher_server: None,
            fingerprint: None,
            place,
            not_after_time: None,
            not_before_time: None,
        }
    }

    /// The subject's CN (or the whole subject), for labels and tables.
    fn subject_cn(&self) -> String {
        common_name(self.subject.as_deref().unwrap_or_default())
    }
}

/// The CN of a DN as rcert prints it (`O=x, CN=y` → `y`), else the DN.
fn common_name(dn: &str) -> String {
    dn.split(", ")
        .find_map(|part| part.strip_prefix("CN="))
        .unwrap_or(dn)
        .to_string()
}

/// The step that renews an expired or expiring item, from what the item is.
pub(super) fn fix_for(item: &Item, is_ca: bool) -> Option<String> {
    if item.status == ItemStatus::Ok {
        return None;
    }
    let path = item.place.filepath.as_deref().unwrap_or_default();
    let distro = if path.contains("/k3s/") {
        "k3s"
    } else {
        "rke2"
    };
    let secret = item.place.secret_name.as_deref().unwrap_or_default();
    let namespace = item.place.secret_namespace.as_deref().unwrap_or_default();
    if let Some(certificate) = item
        .managed_by
        .as_deref()
        .and_then(|owner| owner.strip_prefix("Certificate "))
    {
        return Some(format!(
            "cert-manager renews it (Certificate {namespace}/{certificate}): cmctl renew -n {namespace} {certificate}; kubectl -n {namespace} describe certificate {certificate} for issuer errors — do not edit the secret, cert-manager would overwrite it"
        ));
    }
    if matches!(item.source, Source::Node | Source::File) {
        if let Some(fix) = fixes::node_fix(path, is_ca, item.days_left) {
            return Some(fix);
        }
    }
    Some(match item.source {
        Source::Kubeconfig if path.ends_with("rke2.yaml") || path.ends_with("k3s.yaml") => format!(
            "systemctl restart {} (it rewrites {path} with a new client certificate), then copy it again",
            if distro == "k3s" { "k3s" } else { "rke2-server" }
        ),
        Source::Kubeconfig => {
            "get a new kubeconfig: Rancher UI → cluster → Download KubeConfig (or ask the cluster admin); a client certificate cannot be renewed in place".to_string()
        }
        Source::Secret if secret == "cattle-webhook-tls" => format!(
            "kubectl -n {namespace} delete secret cattle-webhook-tls && kubectl -n {namespace} delete pod -l app=rancher-webhook   # the webhook issues a new one"
        ),
        Source::Secret if is_ca => format!(
            "a new private CA: rcert selfsign … --out ./new && rcert rotate plan --to ./new   # secret {namespace}/{secret}"
        ),
        Source::Secret if secret == crate::rancher::TLS_SECRET => format!(
            "rcert selfsign --host <rancher host> --ca-cert cacerts.pem --ca-key cakey.pem --out ./renewed && rcert push --namespace {namespace} --dir ./renewed (or renew with your CA)"
        ),
        Source::Secret => format!("renew the certificate and update secret {namespace}/{secret}"),
        Source::CertManager => {
            "cert-manager renews it at renewalTime; if overdue: kubectl describe certificate (issuer errors) or cmctl renew".to_string()
        }
        Source::Endpoint => {
            "renew the certificate this endpoint serves (its secret, load balancer or ingress)".to_string()
        }
        // rancher-webhook: its CA (cattle-webhook-ca, 10 years) is never renewed; its
        // serving certificate (cattle-webhook-tls) is, 90 days before expiry.
        Source::CaBundle if item.place.embedded_key.as_deref().is_some_and(|key| key.starts_with("rancher.cattle.io")) => {
            "rancher-webhook's CA (secret cattle-webhook-ca, 10 years) is never renewed by itself: kubectl -n cattle-system delete secret cattle-webhook-ca cattle-webhook-tls && kubectl -n cattle-system rollout restart deploy/rancher-webhook (it issues a new CA and writes it into the caBundles)".to_string()
        }
        Source::Event => item.fix.clone().unwrap_or_default(),
        Source::CaBundle => {
            "renew the CA of this webhook or APIService and put it in its caBundle (the component that owns it usually does at start)".to_string()
        }
        Source::Node | Source::File => format!("renew {path}"),
    })
}

/// Build the inventory: every source concurrently, then sorted soonest first.
pub async fn expiry(request: &ExpiryRequest) -> Result<ExpiryReport, crate::Error> {
    if request.no_cluster
        && request.no_node
        && request.paths.is_empty()
        && request.targets.is_empty()
    {
        return Err(crate::Error::Usage(
            "nothing to list: --no-cluster and --no-node leave no source; add --path or --target (an inventory of nothing would always look green)".to_string(),
        ));
    }
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
    // One item per place: a file both --path and the node scan read is listed once.
    let mut seen = std::collections::HashSet::new();
    items.retain(|item| {
        seen.insert((
            item.context.clone(),
            item.location.clone(),
            item.serial.clone(),
            item.not_after.clone(),
        ))
    });
    // Unreadable first, then soonest notAfter first.
    items.sort_by(|a, b| {
        let key = |item: &Item| {
            (
                item.status != ItemStatus::Unreadable,
                item.not_after_time,
                item.location.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    let count = |status: ItemStatus| items.iter().filter(|i| i.status == status).count();
    let summary = Summary {
        expired: count(ItemStatus::Expired),
        not_yet_valid: count(ItemStatus::NotYetValid),
        stale: count(ItemStatus::Stale),
        expiring: count(ItemStatus::Expiring),
        ok: count(ItemStatus::Ok),
        unreadable: count(ItemStatus::Unreadable),
        within_days: request.within.as_secs() / 86_400,
        at: rfc3339(request.at),
        api_requests: requests,
        sources,
    };
    Ok(ExpiryReport { items, summary })
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
            let _ = writeln!(out, "{:<40}fix: {fix}", "");
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
