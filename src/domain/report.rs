//! Response figures: per incident, time to acknowledge, mitigate and resolve against the
//! scheme's targets; across incidents, MTTA/MTTM/MTTR by severity, targets met and breached,
//! action items past due, and incidents per day for the board's small chart. Pure: the caller
//! passes `now`.
//!
//! # Definitions
//!
//! - The window holds incidents *declared* in `[since, now]`.
//! - Time to acknowledge / mitigate / resolve: from `declared_at` to the incident's
//!   `acknowledged_at` / `mitigated_at` / `resolved_at` (the fold sets each at the first status
//!   at or past that stage, so an incident resolved without an explicit acknowledgement counts
//!   as acknowledged then). An incident without the stamp is left out of that mean and median
//!   but counted among the incidents (open ones, reopened ones).
//! - Targets come from [`crate::domain::timers`]: the response timer (acknowledgement against
//!   the level's response target, business hours included) and the resolution timer. An open
//!   incident still inside its target is `pending`; past it, `breached`. A level without a
//!   target is `not_applicable`.
//! - Action items past due: not done, with a due date before `now`'s date, from *every*
//!   incident passed in (not only those in the window: an overdue item matters whenever its
//!   incident was declared).
//! - Severity is an incident's current severity. Levels are listed in the scheme's order (all
//!   of them, even without incidents), then any unknown severity found.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use unicode_width::UnicodeWidthStr;
use utoipa::ToSchema;

use super::incident::{Incident, Priority, Status};
use super::practice::Scheme;
use super::text;
use super::timers::{self, TimerState, format_duration};

/// How an incident fared against one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Met,
    Breached,
    /// Not done yet, still within the target.
    Pending,
    /// No target at this level.
    NotApplicable,
}

impl Outcome {
    pub fn from_timer(t: TimerState) -> Self {
        match t {
            TimerState::Met { .. } => Outcome::Met,
            TimerState::Breached { .. } => Outcome::Breached,
            TimerState::Due { .. } => Outcome::Pending,
            TimerState::NotApplicable => Outcome::NotApplicable,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Met => "met",
            Outcome::Breached => "breached",
            Outcome::Pending => "pending",
            Outcome::NotApplicable => "n/a",
        }
    }
}

/// One incident's figures. Durations are in whole seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IncidentFigures {
    pub id: String,
    pub title: String,
    pub severity: String,
    pub status: Status,
    pub declared_at: DateTime<Utc>,
    pub acknowledge_secs: Option<i64>,
    pub mitigate_secs: Option<i64>,
    pub resolve_secs: Option<i64>,
    /// Response target (acknowledgement), from declaration to deadline.
    pub response_target_secs: Option<i64>,
    pub response: Outcome,
    pub resolution_target_secs: Option<i64>,
    pub resolution: Outcome,
}

fn secs_between(from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> Option<i64> {
    to.map(|t| (t - from).num_seconds().max(0))
}

/// The figures of one incident at `now`.
pub fn incident_figures(inc: &Incident, scheme: &Scheme, now: DateTime<Utc>) -> IncidentFigures {
    let d = inc.declared_at;
    IncidentFigures {
        id: inc.id.clone(),
        title: inc.title.clone(),
        severity: inc.severity.clone(),
        status: inc.status,
        declared_at: d,
        acknowledge_secs: secs_between(d, inc.acknowledged_at),
        mitigate_secs: secs_between(d, inc.mitigated_at),
        resolve_secs: secs_between(d, inc.resolved_at),
        response_target_secs: secs_between(d, timers::response_deadline(scheme, inc)),
        response: Outcome::from_timer(timers::response(scheme, inc, now)),
        resolution_target_secs: secs_between(d, timers::resolution_deadline(scheme, inc)),
        resolution: Outcome::from_timer(timers::resolution(scheme, inc, now)),
    }
}

/// Mean and median of a set of durations (seconds); `None` without any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct Stats {
    /// How many incidents the figures are over.
    pub count: usize,
    pub mean_secs: Option<i64>,
    pub median_secs: Option<i64>,
}

impl Stats {
    pub fn of(values: impl IntoIterator<Item = i64>) -> Self {
        let mut v: Vec<i64> = values.into_iter().collect();
        if v.is_empty() {
            return Stats::default();
        }
        v.sort_unstable();
        let n = v.len();
        let sum: i128 = v.iter().map(|&x| i128::from(x)).sum();
        let mean = i64::try_from(sum / n as i128).unwrap_or(i64::MAX);
        let median = if n % 2 == 1 { v[n / 2] } else { v[n / 2 - 1] + (v[n / 2] - v[n / 2 - 1]) / 2 };
        Stats { count: n, mean_secs: Some(mean), median_secs: Some(median) }
    }
}

/// Targets met, breached, pending and without a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct TargetCounts {
    pub met: usize,
    pub breached: usize,
    pub pending: usize,
    pub not_applicable: usize,
}

impl TargetCounts {
    fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Met => self.met += 1,
            Outcome::Breached => self.breached += 1,
            Outcome::Pending => self.pending += 1,
            Outcome::NotApplicable => self.not_applicable += 1,
        }
    }
}

/// Figures over a group of incidents (one severity, or all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GroupFigures {
    /// The severity level id, or `all`.
    pub severity: String,
    pub incidents: usize,
    pub open: usize,
    pub resolved: usize,
    /// Time to acknowledge (MTTA is its mean).
    pub acknowledge: Stats,
    pub mitigate: Stats,
    /// Time to resolve (MTTR is its mean).
    pub resolve: Stats,
    pub response: TargetCounts,
    pub resolution: TargetCounts,
}

impl GroupFigures {
    fn of<'a>(severity: &str, figs: impl Iterator<Item = &'a IncidentFigures> + Clone) -> Self {
        let (mut response, mut resolution) = (TargetCounts::default(), TargetCounts::default());
        for f in figs.clone() {
            response.add(f.response);
            resolution.add(f.resolution);
        }
        GroupFigures {
            severity: severity.to_string(),
            incidents: figs.clone().count(),
            open: figs.clone().filter(|f| f.resolve_secs.is_none()).count(),
            resolved: figs.clone().filter(|f| f.resolve_secs.is_some()).count(),
            acknowledge: Stats::of(figs.clone().filter_map(|f| f.acknowledge_secs)),
            mitigate: Stats::of(figs.clone().filter_map(|f| f.mitigate_secs)),
            resolve: Stats::of(figs.filter_map(|f| f.resolve_secs)),
            response,
            resolution,
        }
    }
}

/// An open action item whose due date has passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OverdueItem {
    pub incident: String,
    pub text: String,
    pub owner: Option<String>,
    pub due: NaiveDate,
    pub days_overdue: i64,
    pub priority: Priority,
}

/// Incidents declared on one day (UTC), by severity, aligned with [`Report::severities`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DayCount {
    pub day: NaiveDate,
    pub counts: Vec<usize>,
}

impl DayCount {
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }
}

/// Response figures across incidents (`warroom report`, the board's glance, the API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Report {
    pub since: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// Severity ids in display order (the scheme's levels, then unknown ones).
    pub severities: Vec<String>,
    /// Every incident of the window together.
    pub all: GroupFigures,
    /// One entry per severity, in [`Report::severities`] order.
    pub by_severity: Vec<GroupFigures>,
    /// The window's incidents, oldest first.
    pub incidents: Vec<IncidentFigures>,
    /// Oldest due date first.
    pub overdue_items: Vec<OverdueItem>,
    /// One entry per day from `since`'s date to `now`'s date.
    pub per_day: Vec<DayCount>,
}

impl Report {
    /// Incidents per day, all severities together (for a sparkline).
    pub fn daily_totals(&self) -> Vec<usize> {
        self.per_day.iter().map(DayCount::total).collect()
    }

    /// Incidents per day of one severity (zeros for an unknown one).
    pub fn daily(&self, severity: &str) -> Vec<usize> {
        let i = self.severities.iter().position(|s| s.eq_ignore_ascii_case(severity));
        self.per_day.iter().map(|d| i.map_or(0, |i| d.counts[i])).collect()
    }
}

/// Computes the report of incidents declared in `[since, now]` (see the module docs).
pub fn report(incidents: &[Incident], scheme: &Scheme, since: DateTime<Utc>, now: DateTime<Utc>) -> Report {
    let mut in_window: Vec<&Incident> = incidents
        .iter()
        .filter(|i| i.revision > 0 && i.declared_at >= since && i.declared_at <= now)
        .collect();
    in_window.sort_by(|a, b| (a.declared_at, &a.id).cmp(&(b.declared_at, &b.id)));
    let figures: Vec<IncidentFigures> = in_window.iter().map(|i| incident_figures(i, scheme, now)).collect();

    let mut severities: Vec<String> = scheme.levels.iter().map(|l| l.id.clone()).collect();
    let unknown: BTreeSet<&str> =
        figures.iter().map(|f| f.severity.as_str()).filter(|s| scheme.level(s).is_none()).collect();
    severities.extend(unknown.into_iter().map(str::to_string));
    let sev_index = |s: &str| severities.iter().position(|x| x.eq_ignore_ascii_case(s));

    let by_severity = severities
        .iter()
        .map(|s| GroupFigures::of(s, figures.iter().filter(|f| f.severity.eq_ignore_ascii_case(s))))
        .collect();

    let today = now.date_naive();
    let mut overdue_items: Vec<OverdueItem> = incidents
        .iter()
        .flat_map(|inc| {
            inc.action_items.iter().filter_map(move |a| match a.due {
                Some(due) if !a.done && due < today => Some(OverdueItem {
                    incident: inc.id.clone(),
                    text: a.text.clone(),
                    owner: a.owner.clone(),
                    due,
                    days_overdue: (today - due).num_days(),
                    priority: a.priority,
                }),
                _ => None,
            })
        })
        .collect();
    overdue_items.sort_by(|a, b| (a.due, &a.incident, &a.text).cmp(&(b.due, &b.incident, &b.text)));

    let mut per_day = Vec::new();
    let mut day = since.date_naive();
    while since <= now && day <= today {
        per_day.push(DayCount { day, counts: vec![0; severities.len()] });
        match day.succ_opt() {
            Some(d) => day = d,
            None => break,
        }
    }
    let first = since.date_naive();
    for f in &figures {
        let i = (f.declared_at.date_naive() - first).num_days();
        if let (Ok(i), Some(s)) = (usize::try_from(i), sev_index(&f.severity))
            && let Some(d) = per_day.get_mut(i)
        {
            d.counts[s] += 1;
        }
    }

    Report {
        since,
        now,
        all: GroupFigures::of("all", figures.iter()),
        severities,
        by_severity,
        incidents: figures,
        overdue_items,
        per_day,
    }
}

// ---- rendering --------------------------------------------------------------------------------

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
    serde_json::to_string_pretty(r).unwrap_or_default()
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

fn headline(r: &Report, sep: &str) -> String {
    let days = (r.now - r.since).num_days();
    format!(
        "{} day{} from {} to {}:{sep}{} incident{} ({} open, {} resolved).",
        days,
        if days == 1 { "" } else { "s" },
        stamp(r.since),
        stamp(r.now),
        r.all.incidents,
        if r.all.incidents == 1 { "" } else { "s" },
        r.all.open,
        r.all.resolved
    )
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
        format!("{} {}", f.id, text::line(&f.title)),
        text::line(&f.severity),
        f.status.to_string(),
        stamp(f.declared_at),
        dur(f.acknowledge_secs),
        dur(f.mitigate_secs),
        dur(f.resolve_secs),
        f.response.as_str().to_string(),
        f.resolution.as_str().to_string(),
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
        title_cell(&f.title),
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
