//! Response figures: per incident, time to acknowledge, mitigate and resolve against the
//! scheme's targets; across incidents, MTTA/MTTM/MTTR by severity, targets met and breached,
//! action items past due, and incidents per day for the board's small chart. Pure: the caller
//! passes `now`. The figures as text, Markdown, JSON and sparklines are presentation:
//! `crate::render::report`.
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
//! - Demo incidents (`warroom demo`) are left out unless asked for ([`report_with_demo`]);
//!   removed ones always. [`Report::demo_left_out`] says how many were left out.
//! - Severity is an incident's current severity. Levels are listed in the scheme's order (all
//!   of them, even without incidents), then any unknown severity found.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::incident::Incident;
use super::practice::Scheme;
use super::status::{Priority, Status};
use super::timers::{self, TimerState};

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
    /// Demo data (`warroom demo`); only in a report that asked for demo incidents.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub demo: bool,
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
        demo: inc.demo,
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
    /// Demo incidents of the window left out of every figure (`warroom report --demo` counts
    /// them).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub demo_left_out: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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

/// Computes the report of incidents declared in `[since, now]` (see the module docs), demo
/// incidents left out.
pub fn report(incidents: &[Incident], scheme: &Scheme, since: DateTime<Utc>, now: DateTime<Utc>) -> Report {
    build(incidents, scheme, since, now, false)
}

/// [`report`] with the demo incidents counted like the others (and marked).
pub fn report_with_demo(
    incidents: &[Incident],
    scheme: &Scheme,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Report {
    build(incidents, scheme, since, now, true)
}

fn build(
    incidents: &[Incident],
    scheme: &Scheme,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    with_demo: bool,
) -> Report {
    let window =
        |i: &&Incident| i.revision > 0 && !i.is_removed() && i.declared_at >= since && i.declared_at <= now;
    let demo_left_out =
        if with_demo { 0 } else { incidents.iter().filter(window).filter(|i| i.demo).count() };
    let incidents: Vec<&Incident> =
        incidents.iter().filter(|i| !i.is_removed() && (with_demo || !i.demo)).collect();
    let mut in_window: Vec<&Incident> = incidents.iter().copied().filter(window).collect();
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
        demo_left_out,
    }
}
