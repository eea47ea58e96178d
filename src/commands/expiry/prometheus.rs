//! expiry as Prometheus text exposition, with x509-certificate-exporter's metric and label
//! names so existing dashboards and alerts work (node_exporter's textfile collector reads it).

use std::fmt::Write as _;

use super::{ExpiryReport, Item, ItemStatus, SourceState};

/// The report in the text exposition format.
pub fn prometheus_text(report: &ExpiryReport) -> String {
    let mut out = String::new();
    let labelled: Vec<(&Item, String)> = report
        .items
        .iter()
        .filter(|item| item.not_after_time.is_some())
        .map(|item| (item, labels(item)))
        .collect();
    let series: Vec<(&Item, &str)> = labelled
        .iter()
        .map(|(item, labels)| (*item, labels.as_str()))
        .collect();
    write_series(&mut out, &series, |item| item.status == ItemStatus::Expired);
    write_sources(&mut out, report.summary.unreadable, &report.summary.sources);
    out
}

/// x509-certificate-exporter's three families for items with dates, each with its label
/// set (see [`labels`]); `expired` says whether an item is past its notAfter.
pub(super) fn write_series(
    out: &mut String,
    series: &[(&Item, &str)],
    expired: impl Fn(&Item) -> bool,
) {
    // Never two series with one label set: a scraper (node_exporter's textfile
    // collector) drops the whole file for one. Items are unique by place already; this
    // keeps the promise whatever a source returns.
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<&(&Item, &str)> = series
        .iter()
        .filter(|(item, labels)| item.not_after_time.is_some() && seen.insert(*labels))
        .collect();
    let families = [
        (
            "x509_cert_not_after",
            "The date after which the certificate expires. Expressed as a Unix Epoch Time.",
        ),
        (
            "x509_cert_not_before",
            "The date before which the certificate is not yet valid. Expressed as a Unix Epoch Time.",
        ),
        (
            "x509_cert_expired",
            "Indicates if the certificate is currently expired (1) or not (0).",
        ),
    ];
    for (index, (name, help)) in families.into_iter().enumerate() {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (item, labels) in unique.iter().copied() {
            let value = match index {
                0 => item.not_after_time.map(|t| t.unix_timestamp()),
                1 => item.not_before_time.map(|t| t.unix_timestamp()),
                _ => Some(i64::from(expired(item))),
            };
            if let Some(value) = value {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        }
    }
}

/// `x509_read_errors` and one `rcert_source_up` per source.
pub(super) fn write_sources(out: &mut String, unreadable: usize, sources: &[SourceState]) {
    let _ = writeln!(
        out,
        "# HELP x509_read_errors Indicates the number of read failure(s).\n# TYPE x509_read_errors gauge\nx509_read_errors {unreadable}"
    );
    let _ = writeln!(
        out,
        "# HELP rcert_source_up Whether a source (cluster context, node, path, endpoint) was read (1) or could not be (0).\n# TYPE rcert_source_up gauge"
    );
    let mut seen = std::collections::HashSet::new();
    for source in sources {
        // A source not configured here (no kubeconfig, no node directories) is no alarm.
        if source.state == "unavailable" || !seen.insert(source.source.as_str()) {
            continue;
        }
        let context = source
            .context
            .as_deref()
            .map_or_else(String::new, |context| {
                format!(",context=\"{}\"", escape(context))
            });
        let _ = writeln!(
            out,
            "rcert_source_up{{source=\"{}\"{context}}} {}",
            escape(&source.source),
            u8::from(source.state == "read")
        );
    }
}

/// The label set of an item's series (empty values left out).
pub(super) fn labels(item: &Item) -> String {
    let place = &item.place;
    let issuer = super::common_name(item.issuer.as_deref().unwrap_or_default());
    let pairs = [
        ("context", item.context.clone().unwrap_or_default()),
        (
            "embedded_key",
            place.embedded_key.clone().unwrap_or_default(),
        ),
        (
            "embedded_kind",
            place.embedded_kind.clone().unwrap_or_default(),
        ),
        ("filepath", place.filepath.clone().unwrap_or_default()),
        (
            "index",
            place.index.map(|i| i.to_string()).unwrap_or_default(),
        ),
        ("issuer_CN", issuer),
        ("secret_key", place.secret_key.clone().unwrap_or_default()),
        ("secret_name", place.secret_name.clone().unwrap_or_default()),
        (
            "secret_namespace",
            place.secret_namespace.clone().unwrap_or_default(),
        ),
        ("serial_number", item.serial.clone().unwrap_or_default()),
        ("subject_CN", item.subject_cn()),
        ("target", place.target.clone().unwrap_or_default()),
    ];
    pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Label values escape backslash, double quote and newline; other control characters
/// (a file name with an escape sequence) are written as `\XX` first, as in text output.
pub(super) fn escape(value: &str) -> String {
    crate::check::escape_control(value, true)
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
