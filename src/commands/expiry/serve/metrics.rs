//! `/metrics`: x509-certificate-exporter's families for every kept item (label sets
//! rendered once, when the item was read), then the exporter's own — per-source up,
//! error and list counters, readiness, counts per status and the Rancher gauges —
//! written under the inventory's lock without copying an item.

use std::fmt::Write as _;
use std::time::Duration;

use time::OffsetDateTime;

use super::super::prometheus::{escape, write_series, write_sources};
use super::super::{Item, ItemStatus};
use super::inventory::{Rendering, SourceCounters};

/// How a counter's value comes from a source's counters.
type Counter = fn(&SourceCounters) -> u64;

/// The statuses counted in `rcert_certificates`.
const STATUSES: [ItemStatus; 6] = [
    ItemStatus::Expired,
    ItemStatus::NotYetValid,
    ItemStatus::Unreadable,
    ItemStatus::Stale,
    ItemStatus::Expiring,
    ItemStatus::Ok,
];

/// The exposition at `at`: text 0.0.4, or OpenMetrics 1.0 (`# EOF`, counter families
/// named without `_total`).
pub(super) fn render(
    view: &Rendering<'_>,
    at: OffsetDateTime,
    within: Duration,
    openmetrics: bool,
) -> String {
    let mut out = String::with_capacity(4096 + view.kept.len() * 3 * 300);
    let series: Vec<(&Item, &str)> = view
        .kept
        .iter()
        .map(|kept| (&kept.item, kept.labels.as_str()))
        .collect();
    write_series(&mut out, &series, |item| {
        item.not_after_time.is_some_and(|not_after| at > not_after)
    });
    // Per context under --all-contexts (None: one cluster, no label).
    let mut counts: std::collections::BTreeMap<Option<&str>, [usize; STATUSES.len()]> =
        std::collections::BTreeMap::new();
    for kept in &view.kept {
        let status = kept.item.status_at(at, within);
        if let Some(index) = STATUSES.iter().position(|s| *s == status) {
            counts.entry(kept.item.context.as_deref()).or_default()[index] += 1;
        }
    }
    let unreadable = counts.values().map(|by_status| by_status[2]).sum();
    write_sources(&mut out, unreadable, &view.sources);
    write_counters(&mut out, &view.counters, openmetrics);
    let _ = writeln!(
        out,
        "# HELP rcert_exporter_ready Whether every source has been read completely once (1) or not yet (0).\n# TYPE rcert_exporter_ready gauge\nrcert_exporter_ready {}",
        u8::from(view.ready)
    );
    let _ = writeln!(
        out,
        "# HELP rcert_certificates Certificates (and unreadable items) per status.\n# TYPE rcert_certificates gauge"
    );
    if counts.is_empty() {
        counts.insert(None, [0; STATUSES.len()]);
    }
    for (context, by_status) in &counts {
        let context = context.map_or_else(String::new, |context| {
            format!(",context=\"{}\"", escape(context))
        });
        for (status, count) in STATUSES.iter().zip(by_status) {
            let _ = writeln!(
                out,
                "rcert_certificates{{status=\"{}\"{context}}} {count}",
                status.name()
            );
        }
    }
    write_gauges(&mut out, view);
    if openmetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// Per-source error and list counters.
fn write_counters(out: &mut String, counters: &[SourceCounters], openmetrics: bool) {
    let labels = |source: &SourceCounters| {
        let mut labels = format!("source=\"{}\"", escape(&source.source));
        if let Some(context) = &source.context {
            let _ = write!(labels, ",context=\"{}\"", escape(context));
        }
        labels
    };
    let families: [(&str, &str, Counter); 2] = [
        (
            "rcert_source_errors",
            "Failed reads of a source (API requests, watches, file reads) since start.",
            |source| source.errors,
        ),
        (
            "rcert_source_lists",
            "Complete reads of a source since start (a relist after 410 Gone adds one).",
            |source| source.lists,
        ),
    ];
    for (family, help, value) in families {
        // Text 0.0.4 names the family with its _total suffix; OpenMetrics without.
        let named = if openmetrics {
            family.to_string()
        } else {
            format!("{family}_total")
        };
        let _ = writeln!(out, "# HELP {named} {help}\n# TYPE {named} counter");
        for source in counters {
            let _ = writeln!(
                out,
                "{family}_total{{{}}} {}",
                labels(source),
                value(source)
            );
        }
    }
}

/// The Rancher gauges, one family at a time.
fn write_gauges(out: &mut String, view: &Rendering<'_>) {
    let mut families: Vec<&str> = Vec::new();
    for gauge in &view.gauges {
        if !families.contains(&gauge.family) {
            families.push(gauge.family);
        }
    }
    for family in families {
        let mut series = view
            .gauges
            .iter()
            .filter(|gauge| gauge.family == family)
            .peekable();
        if let Some(first) = series.peek() {
            let _ = writeln!(out, "# HELP {family} {}\n# TYPE {family} gauge", first.help);
        }
        for gauge in series {
            let labels: Vec<String> = gauge
                .labels
                .iter()
                .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
                .collect();
            let labels = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", labels.join(","))
            };
            let _ = writeln!(out, "{family}{labels} {}", gauge.value);
        }
    }
}
