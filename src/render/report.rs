//! Response figures ([`crate::domain::report`]) for people: plain-text tables for the terminal
//! (`warroom report`), Markdown (post-mortems, wikis, chat), pretty JSON, and the one-line
//! sparklines of incidents per day that the report and the board draw. Strings only: no
//! terminal, no colour, no escape sequences; every string from an incident passes through
//! [`text::line`] first.

use chrono::{DateTime, Duration, Utc};
use unicode_width::UnicodeWidthStr;

use crate::domain::report::{
    GroupFigures, IncidentFigures, Outcome, OverdueItem, Report, Stats, TargetCounts,
};
use crate::domain::text;
use crate::domain::timers::format_duration;

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const ASCII: [char; 8] = ['_', '.', ',', '-', '=', '+', '*', '#'];

/// A one-line chart of `values`: `▁` for zero, and any non-zero value at least `▂`, scaled to
/// the largest value.
pub fn sparkline(values: &[usize]) -> String {
    spark(values, &BLOCKS)
}

/// [`sparkline`] in ASCII (`_` for zero up to `#`) for terminals without Unicode.
pub fn sparkline_ascii(values: &[usize]) -> String {
    spark(values, &ASCII)
}

fn spark(values: &[usize], glyphs: &[char; 8]) -> String {
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| if v == 0 || max == 0 { glyphs[0] } else { glyphs[(v * 7).div_ceil(max).clamp(1, 7)] })
        .collect()
}

/// The report as JSON (the same fields as the serde form).
pub fn to_json(r: &Report) -> String {
    crate::domain::text::json_for_terminal(&serde_json::to_string_pretty(r).unwrap_or_default())
}

fn dur(secs: Option<i64>) -> String {
    secs.map_or_else(|| "-".to_string(), |s| format_duration(Duration::seconds(s)))
}

fn mean_median(s: &Stats) -> String {
    match (s.mean_secs, s.median_secs) {
        (Some(_), Some(_)) => format!("{} / {}", dur(s.mean_secs), dur(s.median_secs)),
        _ => "-".to_string(),
    }
}

fn targets(t: &TargetCounts) -> String {
    if t.met + t.breached + t.pending == 0 {
        return "n/a".to_string();
    }
    let mut s = format!("{} / {}", t.met, t.breached);
    if t.pending > 0 {
        s.push_str(&format!(" ({} pending)", t.pending));
    }
    s
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A span in the largest unit that states it exactly: `7 days`, `36 hours`, `1 minute`.
fn span_words(span: chrono::Duration) -> String {
    let minutes = span.num_minutes().max(0);
    let (n, unit) = match minutes {
        m if m >= 1440 && m % 1440 == 0 => (m / 1440, "day"),
        m if m >= 60 && m % 60 == 0 => (m / 60, "hour"),
        m => (m, "minute"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

fn headline(r: &Report, sep: &str) -> String {
    format!(
        "{} from {} to {}:{sep}{} incident{} ({} open, {} resolved).",
        span_words(r.now - r.since),
        stamp(r.since),
        stamp(r.now),
        r.all.incidents,
        if r.all.incidents == 1 { "" } else { "s" },
        r.all.open,
        r.all.resolved
    )
}

/// What the report says about demo incidents (`warroom demo`): how many it left out, or how many
/// of its incidents are demo ones. Empty when there were none.
fn demo_note(r: &Report) -> String {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let counted = r.incidents.iter().filter(|f| f.demo).count();
    if r.demo_left_out > 0 {
        let n = r.demo_left_out;
        format!("{n} demo incident{} left out (--demo counts them).", plural(n))
    } else if counted > 0 {
        format!("{counted} of them demo incident{} (marked DEMO), counted as asked.", plural(counted))
    } else {
        String::new()
    }
}

/// An incident's title as the report shows it: demo incidents marked.
fn report_title(f: &IncidentFigures) -> String {
    if f.demo { format!("[DEMO] {}", text::line(&f.title)) } else { text::line(&f.title) }
}

const SEV_HEAD: [&str; 8] = [
    "Severity",
    "Incidents",
    "Open",
    "MTTA (mean / median)",
    "Mitigate (mean / median)",
    "MTTR (mean / median)",
    "Response met / breached",
    "Resolution met / breached",
];

fn sev_row(g: &GroupFigures) -> Vec<String> {
    vec![
        g.severity.clone(),
        g.incidents.to_string(),
        g.open.to_string(),
        mean_median(&g.acknowledge),
        mean_median(&g.mitigate),
        mean_median(&g.resolve),
        targets(&g.response),
        targets(&g.resolution),
    ]
}

const INC_HEAD: [&str; 9] =
    ["Incident", "Severity", "Status", "Declared", "Ack", "Mitigate", "Resolve", "Response", "Resolution"];

fn inc_row(f: &IncidentFigures) -> Vec<String> {
    vec![
        format!("{} {}", f.id, report_title(f)),
        text::line(&f.severity),
        f.status.to_string(),
        stamp(f.declared_at),
        dur(f.acknowledge_secs),
        dur(f.mitigate_secs),
        dur(f.resolve_secs),
        outcome(f.response).to_string(),
        outcome(f.resolution).to_string(),
    ]
}

const ITEM_HEAD: [&str; 5] = ["Due", "Days over", "Owner", "Incident", "Item"];

fn item_row(i: &OverdueItem) -> Vec<String> {
    vec![
        i.due.to_string(),
        i.days_overdue.to_string(),
        i.owner.as_deref().map_or_else(|| "(nobody)".to_string(), text::line),
        i.incident.clone(),
        text::line(&i.text),
    ]
}

fn chart_lines(r: &Report, ascii: bool) -> Vec<(String, String)> {
    let line = |v: &[usize]| if ascii { sparkline_ascii(v) } else { sparkline(v) };
    let mut out: Vec<(String, String)> = r
        .severities
        .iter()
        .filter(|s| r.daily(s).iter().any(|&n| n > 0))
        .map(|s| (text::line(s), line(&r.daily(s))))
        .collect();
    out.push(("all".to_string(), line(&r.daily_totals())));
    out
}

fn md_cell(s: &str) -> String {
    text::line(s).replace('|', "\\|")
}

fn md_table(head: &[&str], rows: &[Vec<String>], numeric: &[usize]) -> String {
    let mut s = format!("| {} |\n|", head.join(" | "));
    for i in 0..head.len() {
        s.push_str(if numeric.contains(&i) { "---:|" } else { "---|" });
    }
    s.push('\n');
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| md_cell(c)).collect();
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    s
}

/// The report as Markdown (for a post-mortem, a wiki, a chat message).
pub fn to_markdown(r: &Report) -> String {
    let mut s = String::from("# Incident response report\n\n");
    s.push_str(&headline(r, " "));
    let demo = demo_note(r);
    if !demo.is_empty() {
        s.push(' ');
        s.push_str(&demo);
    }
    s.push_str("\n\n## By severity\n\n");
    let mut rows: Vec<Vec<String>> = r.by_severity.iter().map(sev_row).collect();
    let mut all = sev_row(&r.all);
    all[0] = "**All**".to_string();
    rows.push(all);
    s.push_str(&md_table(&SEV_HEAD, &rows, &[1, 2]));
    s.push_str(
        "\nTimes run from declaration. Incidents not yet acknowledged or resolved count among the \
         incidents but not in the means and medians.\n",
    );
    s.push_str("\n## Incidents\n\n");
    if r.incidents.is_empty() {
        s.push_str("None in this period.\n");
    } else {
        let rows: Vec<Vec<String>> = r.incidents.iter().map(inc_row).collect();
        s.push_str(&md_table(&INC_HEAD, &rows, &[]));
    }
    s.push_str("\n## Action items past due\n\n");
    if r.overdue_items.is_empty() {
        s.push_str("None.\n");
    } else {
        let rows: Vec<Vec<String>> = r.overdue_items.iter().map(item_row).collect();
        s.push_str(&md_table(&ITEM_HEAD, &rows, &[1]));
    }
    if let (Some(first), Some(last)) = (r.per_day.first(), r.per_day.last()) {
        s.push_str(&format!("\n## Incidents per day\n\n{} to {}:\n\n```\n", first.day, last.day));
        let lines = chart_lines(r, false);
        let w = lines.iter().map(|(l, _)| l.width()).max().unwrap_or(0);
        for (label, line) in lines {
            s.push_str(&format!("{label:<w$}  {line}\n"));
        }
        s.push_str("```\n");
    }
    s
}

fn pad(s: &str, w: usize, right: bool) -> String {
    let fill = " ".repeat(w.saturating_sub(s.width()));
    if right { format!("{fill}{s}") } else { format!("{s}{fill}") }
}

fn text_table(head: &[&str], rows: &[Vec<String>], numeric: &[usize]) -> String {
    let mut widths: Vec<usize> = head.iter().map(|h| h.width()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.width());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> =
            cells.iter().enumerate().map(|(i, c)| pad(c, widths[i], numeric.contains(&i))).collect();
        format!("{}\n", parts.join("  ").trim_end())
    };
    let mut s = line(head.iter().map(|h| h.to_string()).collect());
    s.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect()));
    for r in rows {
        s.push_str(&line(r.iter().map(|c| text::line(c)).collect()));
    }
    s
}

const TEXT_SEV_HEAD: [&str; 10] =
    ["Sev", "Inc", "Open", "MTTA", "median", "Mitig.", "MTTR", "median", "Response", "Resolution"];

fn short_targets(t: &TargetCounts) -> String {
    if t.met + t.breached + t.pending == 0 {
        return "n/a".to_string();
    }
    let mut s = format!("{}/{}", t.met, t.breached);
    if t.pending > 0 {
        s.push_str(&format!(" +{}", t.pending));
    }
    s
}

fn text_sev_row(g: &GroupFigures) -> Vec<String> {
    vec![
        text::line(&g.severity),
        g.incidents.to_string(),
        g.open.to_string(),
        dur(g.acknowledge.mean_secs),
        dur(g.acknowledge.median_secs),
        dur(g.mitigate.mean_secs),
        dur(g.resolve.mean_secs),
        dur(g.resolve.median_secs),
        short_targets(&g.response),
        short_targets(&g.resolution),
    ]
}

const TEXT_INC_HEAD: [&str; 9] =
    ["Incident", "Sev", "Status", "Declared", "Ack", "Resolve", "Resp", "Resol", "Title"];

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Met => "met",
        Outcome::Breached => "breached",
        Outcome::Pending => "pending",
        Outcome::NotApplicable => "n/a",
    }
}

fn short_outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Met => "met",
        Outcome::Breached => "late",
        Outcome::Pending => "due",
        Outcome::NotApplicable => "n/a",
    }
}

fn text_inc_row(f: &IncidentFigures) -> Vec<String> {
    vec![
        text::line(&f.id),
        text::line(&f.severity),
        f.status.to_string(),
        f.declared_at.format("%m-%d %H:%M").to_string(),
        dur(f.acknowledge_secs),
        dur(f.resolve_secs),
        short_outcome(f.response).to_string(),
        short_outcome(f.resolution).to_string(),
        title_cell(&report_title(f)),
    ]
}

fn title_cell(t: &str) -> String {
    let t = text::line(t);
    if t.chars().count() > 40 { format!("{}…", t.chars().take(39).collect::<String>()) } else { t }
}

/// The report as plain text tables for the terminal (no colour, no escape sequences; tables
/// fit 80 columns up to the incidents' titles). Targets read `met/breached +pending`; per
/// incident `met`, `late` (breached), `due` (pending) or `n/a`. `ascii` draws the per-day
/// chart in ASCII.
pub fn to_text(r: &Report, ascii: bool) -> String {
    let mut s = headline(r, "\n");
    let demo = demo_note(r);
    if !demo.is_empty() {
        s.push('\n');
        s.push_str(&demo);
    }
    s.push_str("\n\nBy severity (times from declaration; targets met/breached +pending)\n\n");
    let mut rows: Vec<Vec<String>> = r.by_severity.iter().map(text_sev_row).collect();
    rows.push(text_sev_row(&r.all));
    s.push_str(&text_table(&TEXT_SEV_HEAD, &rows, &[1, 2, 3, 4, 5, 6, 7]));
    s.push_str("\nIncidents\n\n");
    if r.incidents.is_empty() {
        s.push_str("None in this period.\n");
    } else {
        let rows: Vec<Vec<String>> = r.incidents.iter().map(text_inc_row).collect();
        s.push_str(&text_table(&TEXT_INC_HEAD, &rows, &[4, 5]));
    }
    s.push_str("\nAction items past due\n\n");
    if r.overdue_items.is_empty() {
        s.push_str("None.\n");
    } else {
        let rows: Vec<Vec<String>> = r.overdue_items.iter().map(item_row).collect();
        s.push_str(&text_table(&ITEM_HEAD, &rows, &[1]));
    }
    if let (Some(first), Some(last)) = (r.per_day.first(), r.per_day.last()) {
        s.push_str(&format!("\nIncidents per day, {} to {}\n\n", first.day, last.day));
        let lines = chart_lines(r, ascii);
        let w = lines.iter().map(|(l, _)| l.width()).max().unwrap_or(0);
        for (label, line) in lines {
            s.push_str(&format!("{label:<w$}  {line}\n"));
        }
    }
    s
}

#[cfg(test)]
mod span_tests {
    use chrono::Duration;

    use super::span_words;

    #[test]
    fn spans_read_in_the_unit_they_were_asked_in() {
        assert_eq!(span_words(Duration::days(7)), "7 days");
        assert_eq!(span_words(Duration::days(1)), "1 day");
        assert_eq!(span_words(Duration::hours(36)), "36 hours");
        assert_eq!(span_words(Duration::minutes(1)), "1 minute");
        assert_eq!(span_words(Duration::minutes(90)), "90 minutes");
    }
}
