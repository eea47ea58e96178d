//! The exporter's page: every certificate soonest first with its status and fix, and the
//! expiry timeline as inline SVG — one HTML document, no script, no external asset, so
//! it works in an air-gapped cluster (it reloads itself every `--interval`).

use std::fmt::Write as _;
use std::time::Duration;

use super::super::{ExpiryReport, Item, ItemStatus};

/// Rows shown in the table (the rest is in `/metrics` and `rcert expiry -o json`).
const MAX_ROWS: usize = 2000;
/// The timeline's span: four weeks back, about two years ahead, in weeks.
const WEEKS_BACK: i64 = 4;
const WEEKS_AHEAD: i64 = 104;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2127}\
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}\
.summary{margin:0 0 16px;color:#444}table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e3e5e8;vertical-align:top}\
th{background:#f4f5f7}td.d{white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.s{font-weight:600;white-space:nowrap}.expired,.unreadable,.not_yet_valid,.stale{color:#b3261e}\
.expiring{color:#a15c00}.ok{color:#1e7b34}.fix{font-family:monospace;font-size:12px;color:#333}\
.err{color:#b3261e;font-size:12px}svg{display:block;margin:0 0 8px;max-width:100%}";

/// The page for the report.
pub(super) fn html(report: &ExpiryReport, ready: bool, refresh: Duration) -> String {
    let s = &report.summary;
    let mut out = String::with_capacity(4096 + report.items.len() * 400);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"{}\"><title>rcert expiry</title><style>{STYLE}</style></head><body>\
<h1>Certificate inventory</h1><p class=\"summary\">{} expired · {} expiring within {} days · {} ok · {} unreadable{}{} — at {}{}</p>",
        refresh.as_secs().max(10),
        s.expired,
        s.expiring,
        s.within_days,
        s.ok,
        s.unreadable,
        if s.stale > 0 { format!(" · {} stale", s.stale) } else { String::new() },
        if s.not_yet_valid > 0 { format!(" · {} not valid yet", s.not_yet_valid) } else { String::new() },
        escape(&s.at),
        if ready { "" } else { " (still reading: not every source listed yet)" },
    );
    out.push_str(&timeline(&report.items, s.within_days));
    items_table(&mut out, &report.items);
    out.push_str("<h2>Sources</h2><table id=\"sources\"><thead><tr><th>State</th><th>Source</th><th>Message</th></tr></thead><tbody>");
    for source in &s.sources {
        let class = if source.state == "read" {
            "ok"
        } else if source.state == "unavailable" {
            ""
        } else {
            "expired"
        };
        let _ = write!(
            out,
            "<tr><td class=\"s {class}\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&source.state),
            escape(&source.source),
            escape(&source.message)
        );
    }
    out.push_str("</tbody></table></body></html>\n");
    out
}

fn items_table(out: &mut String, items: &[Item]) {
    out.push_str("<h2>Certificates, soonest first</h2><table id=\"certificates\"><thead><tr><th>Status</th><th>Days</th><th>Not after</th><th>Subject</th><th>Where</th></tr></thead><tbody>");
    for item in items.iter().take(MAX_ROWS) {
        let status = item.status.name();
        let _ = write!(
            out,
            "<tr><td class=\"s {status}\">{}</td><td class=\"n\">{}</td><td class=\"d\">{}</td><td>{}</td><td>{}",
            item.status.label(),
            item.days_left.map_or_else(|| "-".to_string(), |days| days.to_string()),
            escape(item.not_after.as_deref().unwrap_or("-")),
            escape(&item.subject_cn()),
            escape(&item.location),
        );
        if let Some(error) = &item.error {
            let _ = write!(out, "<div class=\"err\">{}</div>", escape(error));
        }
        if let Some(fix) = &item.fix {
            let _ = write!(out, "<div class=\"fix\">fix: {}</div>", escape(&fix.line()));
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>");
    if items.len() > MAX_ROWS {
        let _ = write!(
            out,
            "<p>{} more: every one is in /metrics and in <code>rcert expiry -o json</code>.</p>",
            items.len() - MAX_ROWS
        );
    }
}

/// Certificates per week of expiry, stacked by status, from four weeks ago to two years
/// ahead (earlier and later ones in the first and last bar), with today and the
/// `--within` horizon marked.
fn timeline(items: &[Item], within_days: u64) -> String {
    const WIDTH: i64 = 960;
    const HEIGHT: i64 = 160;
    const TOP: i64 = 10;
    const BASE: i64 = 130;
    let weeks = (WEEKS_BACK + WEEKS_AHEAD) as usize;
    // Per week: expired (or otherwise failing), expiring, ok.
    let mut bins = vec![[0usize; 3]; weeks];
    for item in items {
        let Some(days) = item.days_left else { continue };
        let week = (days.div_euclid(7) + WEEKS_BACK).clamp(0, weeks as i64 - 1) as usize;
        let kind = match item.status {
            ItemStatus::Ok => 2,
            ItemStatus::Expiring => 1,
            _ => 0,
        };
        bins[week][kind] += 1;
    }
    let tallest = bins
        .iter()
        .map(|bin| bin.iter().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let bar = WIDTH / weeks as i64;
    let x_of_days = |days: i64| (days + WEEKS_BACK * 7) * bar / 7;
    let mut svg = format!(
        "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"certificates expiring per week\">\
<title>Certificates expiring per week (tallest bar: {tallest})</title>\
<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#fafbfc\"/>"
    );
    for (week, bin) in bins.iter().enumerate() {
        let mut y = BASE;
        for (kind, colour) in [(0, "#b3261e"), (1, "#e08a00"), (2, "#2e9a4a")] {
            if bin[kind] == 0 {
                continue;
            }
            let height = ((bin[kind] as i64 * (BASE - TOP)) / tallest as i64).max(2);
            y -= height;
            let _ = write!(
                svg,
                "<rect x=\"{}\" y=\"{y}\" width=\"{}\" height=\"{height}\" fill=\"{colour}\"><title>{} certificate(s), week {}</title></rect>",
                week as i64 * bar,
                (bar - 1).max(1),
                bin[kind],
                week as i64 - WEEKS_BACK
            );
        }
    }
    let within = i64::try_from(within_days)
        .unwrap_or(i64::MAX)
        .min(WEEKS_AHEAD * 7);
    let _ = write!(
        svg,
        "<line x1=\"0\" y1=\"{BASE}\" x2=\"{WIDTH}\" y2=\"{BASE}\" stroke=\"#555\"/>\
<line x1=\"{now}\" y1=\"{TOP}\" x2=\"{now}\" y2=\"{BASE}\" stroke=\"#1d2127\" stroke-dasharray=\"3 3\"/>\
<line x1=\"{horizon}\" y1=\"{TOP}\" x2=\"{horizon}\" y2=\"{BASE}\" stroke=\"#e08a00\" stroke-dasharray=\"3 3\"/>",
        now = x_of_days(0),
        horizon = x_of_days(within),
    );
    // Labels left to right, none drawn over another.
    let mut marks = [
        (0, "today"),
        (within, "within"),
        (90, "90 d"),
        (180, "180 d"),
        (365, "1 year"),
        (730, "2 years"),
    ];
    marks.sort();
    let mut free_from = i64::MIN;
    for (days, label) in marks {
        let x = x_of_days(days);
        if days > WEEKS_AHEAD * 7 || x < free_from {
            continue;
        }
        free_from = x + 56;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#444\">{label}</text>",
            x + 2,
            BASE + 16
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {
                let _ = write!(out, "\\{:02X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}
