//! An incident's clocks: response and resolution targets, the escalation level reached, when the
//! next status update is due, post-mortem deadlines, and the board's sort key.
//!
//! Everything here is a pure function of the incident, the scheme (data from `assets/`) and an
//! explicit `now`: no clock is read, so tests use fixed times and the console and the server
//! compute the same thing.
//!
//! # Business hours
//!
//! A scheme's [`BusinessHours`] say when a team works: by default Monday to Friday,
//! 09:00 to 17:00 UTC, no holidays. A team sets its own days, opening and closing times, a
//! fixed offset from UTC (no daylight-saving rules) and holiday dates in the scheme file.
//!
//! - *Within business hours*: the instant is on a business day (a listed weekday that is not a
//!   holiday) and `start <= local time < end`.
//! - *Business minutes* (`response_business_hours`): the clock only runs within business hours;
//!   a 4-hour target declared on Friday 16:00 falls due on Monday 12:00.
//! - *Next business day*: the end (`end`, 17:00) of the first business day that opens strictly
//!   after the instant. Declared Monday 10:00 -> Tuesday 17:00; Monday 08:00 -> Monday 17:00;
//!   Friday 18:00 or Saturday -> Monday 17:00.
//!
//! # Boundaries
//!
//! A target is met when the acknowledgement (or resolution) happens at or before the deadline:
//! an acknowledgement exactly 15 minutes after a 15-minute target's declaration is met. An open
//! timer is due up to and including its deadline and breached after it.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::incident::{Incident, Status};
use super::practice::{EscalationStep, Scheme, SeverityLevel};

/// How far ahead business-day arithmetic looks before giving up (a calendar with no business
/// day at all yields no deadline rather than a hang).
const MAX_DAYS: usize = 3660;

/// When a team works; see the module docs for the exact definitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// Working weekdays, e.g. `["mon", "tue", "wed", "thu", "fri"]`.
    #[serde(default = "default_days")]
    #[schema(value_type = Vec<String>)]
    pub days: Vec<Weekday>,
    /// Opening time, local to `utc_offset_minutes`, e.g. `"09:00"`.
    #[serde(default = "default_start")]
    #[schema(value_type = String)]
    pub start: NaiveTime,
    /// Closing time, e.g. `"17:00"`.
    #[serde(default = "default_end")]
    #[schema(value_type = String)]
    pub end: NaiveTime,
    /// Fixed offset of the team's clock from UTC, in minutes (0 = UTC).
    #[serde(default)]
    pub utc_offset_minutes: i32,
    /// Dates (local) that are not business days.
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
}

fn default_days() -> Vec<Weekday> {
    vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]
}
fn default_start() -> NaiveTime {
    NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default()
}
fn default_end() -> NaiveTime {
    NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default()
}

impl Default for BusinessHours {
    fn default() -> Self {
        Self {
            days: default_days(),
            start: default_start(),
            end: default_end(),
            utc_offset_minutes: 0,
            holidays: Vec::new(),
        }
    }
}

impl BusinessHours {
    fn offset(&self) -> Duration {
        Duration::minutes(i64::from(self.utc_offset_minutes))
    }

    fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.naive_utc() + self.offset()
    }

    fn utc(&self, l: NaiveDateTime) -> DateTime<Utc> {
        (l - self.offset()).and_utc()
    }

    fn usable(&self) -> bool {
        self.start < self.end && !self.days.is_empty()
    }

    /// A listed weekday that is not a holiday.
    pub fn is_business_day(&self, d: NaiveDate) -> bool {
        self.days.contains(&d.weekday()) && !self.holidays.contains(&d)
    }

    /// Whether `t` falls within business hours.
    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        let l = self.local(t);
        self.usable() && self.is_business_day(l.date()) && self.start <= l.time() && l.time() < self.end
    }

    /// `t` plus `minutes` of business time (the clock stops outside business hours). With 0
    /// minutes outside business hours, the next opening. `None` for a calendar without
    /// business hours.
    pub fn add_business_minutes(&self, t: DateTime<Utc>, minutes: u32) -> Option<DateTime<Utc>> {
        if !self.usable() {
            return None;
        }
        let mut left = Duration::minutes(i64::from(minutes));
        let mut cur = self.local(t);
        for _ in 0..MAX_DAYS {
            let d = cur.date();
            if self.is_business_day(d) {
                let from = cur.max(d.and_time(self.start));
                let close = d.and_time(self.end);
                if from < close {
                    let avail = close - from;
                    if left <= avail {
                        return Some(self.utc(from + left));
                    }
                    left -= avail;
                }
            }
            cur = d.succ_opt()?.and_time(NaiveTime::MIN);
        }
        None
    }

    /// The close of the `n`-th business day that opens strictly after `t` (`n = 1`: "next
    /// business day"). `n = 0` gives `t`.
    pub fn end_of_business_days(&self, t: DateTime<Utc>, n: u32) -> Option<DateTime<Utc>> {
        if n == 0 {
            return Some(t);
        }
        if !self.usable() {
            return None;
        }
        let l = self.local(t);
        let mut d = l.date();
        let mut count = 0;
        for _ in 0..MAX_DAYS {
            if self.is_business_day(d) && d.and_time(self.start) > l {
                count += 1;
                if count == n {
                    return Some(self.utc(d.and_time(self.end)));
                }
            }
            d = d.succ_opt()?;
        }
        None
    }

    /// The close of the next business day (see the module docs).
    pub fn next_business_day_end(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.end_of_business_days(t, 1)
    }
}

/// A post-incident deadline, counted from resolution: `days` and `hours` of wall-clock time,
/// then (if set) to the close of the `business_days`-th business day after that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadlineDef {
    pub id: String,
    /// What is due, e.g. `Initial incident report`.
    pub name: String,
    #[serde(default)]
    pub hours: u32,
    #[serde(default)]
    pub days: u32,
    #[serde(default)]
    pub business_days: u32,
    /// A checklist item (`checklist/item`) whose tick marks the deadline met.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_when: Option<String>,
}

impl DeadlineDef {
    /// When this deadline falls for an incident resolved at `resolved`.
    pub fn due(&self, hours: &BusinessHours, resolved: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let t = resolved + Duration::days(i64::from(self.days)) + Duration::hours(i64::from(self.hours));
        hours.end_of_business_days(t, self.business_days)
    }
}

/// Where a timer stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerState {
    /// Done in time, `after` the timer started.
    Met { after: Duration },
    /// Not done yet; the deadline is `in_` from now (zero: due now).
    Due { in_: Duration },
    /// Done late, or not done and past the deadline, `by` this much.
    Breached { by: Duration },
    /// No target at this level, or the timer does not run (e.g. the incident is resolved).
    NotApplicable,
}

impl TimerState {
    /// Evaluates a deadline: `done` at or before `deadline` is met.
    pub fn evaluate(
        start: DateTime<Utc>,
        deadline: Option<DateTime<Utc>>,
        done: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> TimerState {
        let Some(deadline) = deadline else {
            return TimerState::NotApplicable;
        };
        match done {
            Some(at) if at <= deadline => TimerState::Met { after: (at - start).max(Duration::zero()) },
            Some(at) => TimerState::Breached { by: at - deadline },
            None if now <= deadline => TimerState::Due { in_: deadline - now },
            None => TimerState::Breached { by: now - deadline },
        }
    }

    /// `met in 12m`, `due in 3m`, `due now`, `breached by 1h04m`, `n/a`.
    pub fn label(&self) -> String {
        match self {
            TimerState::Met { after } => format!("met in {}", format_duration(*after)),
            TimerState::Due { in_ } if in_.is_zero() => "due now".to_string(),
            TimerState::Due { in_ } => format!("due in {}", format_duration_ceil(*in_)),
            TimerState::Breached { by } => format!("breached by {}", format_duration(*by)),
            TimerState::NotApplicable => "n/a".to_string(),
        }
    }

    pub fn is_breached(&self) -> bool {
        matches!(self, TimerState::Breached { .. })
    }

    pub fn is_due(&self) -> bool {
        matches!(self, TimerState::Due { .. })
    }
}

impl std::fmt::Display for TimerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

/// A duration, rounded down to the minute: `12m`, `1h04m`, `2d03h`; `<1m` under a minute.
pub fn format_duration(d: Duration) -> String {
    let secs = d.num_seconds().abs();
    if secs > 0 && secs < 60 {
        return "<1m".to_string();
    }
    compact(secs / 60)
}

/// Like [`format_duration`], rounded up (a deadline 2m30s away is "3m" away).
fn format_duration_ceil(d: Duration) -> String {
    let secs = d.num_seconds().abs();
    compact((secs + 59) / 60)
}

fn compact(mins: i64) -> String {
    let (days, h, m) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    if days > 0 {
        format!("{days}d{h:02}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else {
        format!("{m}m")
    }
}

/// The response deadline for an incident of `level` declared at `declared` (see the module
/// docs for business hours). `None` when the level sets no response target.
pub fn response_target(
    level: &SeverityLevel,
    hours: &BusinessHours,
    declared: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let off_hours = !hours.is_open(declared);
    if off_hours && level.response_next_business_day_off_hours {
        return hours.next_business_day_end(declared);
    }
    if off_hours && let Some(m) = level.response_minutes_off_hours {
        return Some(declared + Duration::minutes(i64::from(m)));
    }
    if level.response_next_business_day {
        return hours.next_business_day_end(declared);
    }
    let m = level.response_minutes?;
    if level.response_business_hours {
        hours.add_business_minutes(declared, m)
    } else {
        Some(declared + Duration::minutes(i64::from(m)))
    }
}

/// The response deadline of an incident under its current severity.
pub fn response_deadline(scheme: &Scheme, inc: &Incident) -> Option<DateTime<Utc>> {
    let level = scheme.level(&inc.severity)?;
    response_target(level, &scheme.business_hours, inc.declared_at)
}

/// The response timer: acknowledgement (`acknowledged_at`) against the level's response target,
/// counted from `declared_at`.
pub fn response(scheme: &Scheme, inc: &Incident, now: DateTime<Utc>) -> TimerState {
    TimerState::evaluate(inc.declared_at, response_deadline(scheme, inc), inc.acknowledged_at, now)
}

/// The resolution deadline (wall-clock `resolution_minutes` after declaration).
pub fn resolution_deadline(scheme: &Scheme, inc: &Incident) -> Option<DateTime<Utc>> {
    let m = scheme.level(&inc.severity)?.resolution_minutes?;
    Some(inc.declared_at + Duration::minutes(i64::from(m)))
}

/// The resolution timer: `resolved_at` against the level's resolution target.
pub fn resolution(scheme: &Scheme, inc: &Incident, now: DateTime<Utc>) -> TimerState {
    TimerState::evaluate(inc.declared_at, resolution_deadline(scheme, inc), inc.resolved_at, now)
}

/// The escalation step reached after the time elapsed since declaration: the last step whose
/// `after_minutes` has passed (a step starts at its minute: 15 minutes in is L2). Steps marked
/// `executive_only` apply only to levels with `executive_escalation`. `None` once the incident
/// is resolved (escalation stops) or when the scheme has no step yet.
pub fn escalation_level<'a>(
    scheme: &'a Scheme,
    inc: &Incident,
    now: DateTime<Utc>,
) -> Option<&'a EscalationStep> {
    if !inc.is_open() {
        return None;
    }
    let elapsed = (now - inc.declared_at).num_minutes().max(0);
    applicable_steps(scheme, inc)
        .filter(|s| i64::from(s.after_minutes) <= elapsed)
        .max_by_key(|s| s.after_minutes)
}

/// The next escalation step and when it is reached, while the incident is open.
pub fn next_escalation<'a>(
    scheme: &'a Scheme,
    inc: &Incident,
    now: DateTime<Utc>,
) -> Option<(&'a EscalationStep, DateTime<Utc>)> {
    if !inc.is_open() {
        return None;
    }
    let elapsed = (now - inc.declared_at).num_minutes().max(0);
    applicable_steps(scheme, inc)
        .filter(|s| i64::from(s.after_minutes) > elapsed)
        .min_by_key(|s| s.after_minutes)
        .map(|s| (s, inc.declared_at + Duration::minutes(i64::from(s.after_minutes))))
}

fn applicable_steps<'a>(scheme: &'a Scheme, inc: &Incident) -> impl Iterator<Item = &'a EscalationStep> {
    let executive = scheme.level(&inc.severity).is_some_and(|l| l.executive_escalation);
    scheme.escalation.iter().filter(move |s| !s.executive_only || executive)
}

/// When the next status update is due: `update_every_minutes` after the last `comms_sent` (or
/// the declaration). `None` when the level sets no cadence or the incident is resolved.
pub fn next_update_at(scheme: &Scheme, inc: &Incident) -> Option<DateTime<Utc>> {
    if !inc.is_open() {
        return None;
    }
    let every = scheme.level(&inc.severity)?.update_every_minutes?;
    let base = inc.last_comms_at.map_or(inc.declared_at, |c| c.max(inc.declared_at));
    Some(base + Duration::minutes(i64::from(every)))
}

/// The status-update timer: due until [`next_update_at`], breached after it; a `comms_sent`
/// event resets it.
pub fn next_update_due(scheme: &Scheme, inc: &Incident, now: DateTime<Utc>) -> TimerState {
    TimerState::evaluate(inc.declared_at, next_update_at(scheme, inc), None, now)
}

/// One post-incident deadline of a resolved incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    pub id: String,
    pub name: String,
    pub due_at: Option<DateTime<Utc>>,
    /// Met when its `done_when` item is ticked; not applicable once the incident is closed.
    pub state: TimerState,
}

/// The scheme's post-mortem deadlines, counted from `resolved_at`. Empty until the incident is
/// resolved.
pub fn postmortem_deadlines(scheme: &Scheme, inc: &Incident, now: DateTime<Utc>) -> Vec<Deadline> {
    let Some(resolved) = inc.resolved_at else {
        return Vec::new();
    };
    scheme
        .postmortem
        .iter()
        .map(|d| {
            let due_at = d.due(&scheme.business_hours, resolved);
            let done = d
                .done_when
                .as_deref()
                .and_then(|key| inc.checklist.get(key))
                .filter(|s| s.done)
                .map(|s| s.at);
            let state = if done.is_none() && inc.status == Status::Closed {
                TimerState::NotApplicable
            } else {
                TimerState::evaluate(resolved, due_at, done, now)
            };
            Deadline { id: d.id.clone(), name: d.name.clone(), due_at, state }
        })
        .collect()
}

/// Every clock of an incident at `now`, for the war-room header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timers {
    pub response: TimerState,
    pub resolution: TimerState,
    pub update: TimerState,
    pub next_update_at: Option<DateTime<Utc>>,
    pub escalation: Option<EscalationStep>,
    pub next_escalation: Option<(EscalationStep, DateTime<Utc>)>,
    pub postmortem: Vec<Deadline>,
}

impl Timers {
    /// Any running or finished timer breached (post-mortem deadlines included).
    pub fn any_breached(&self) -> bool {
        self.response.is_breached()
            || self.resolution.is_breached()
            || self.update.is_breached()
            || self.postmortem.iter().any(|d| d.state.is_breached())
    }
}

/// Computes every clock of `inc` at `now`.
pub fn timers(scheme: &Scheme, inc: &Incident, now: DateTime<Utc>) -> Timers {
    Timers {
        response: response(scheme, inc, now),
        resolution: resolution(scheme, inc, now),
        update: next_update_due(scheme, inc, now),
        next_update_at: next_update_at(scheme, inc),
        escalation: escalation_level(scheme, inc, now).cloned(),
        next_escalation: next_escalation(scheme, inc, now).map(|(s, at)| (s.clone(), at)),
        postmortem: postmortem_deadlines(scheme, inc, now),
    }
}

/// Sort key of the board: open incidents first, those with a breached timer first among them,
/// then by severity (most severe first), then by the nearest running deadline, then oldest
/// first. Resolved incidents follow, most recently resolved first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BoardKey {
    closed: bool,
    not_breached: bool,
    severity: usize,
    due_in_secs: i64,
    age: i64,
    id: String,
}

/// The board's sort key for `inc` at `now` (sort ascending).
pub fn board_order(scheme: &Scheme, inc: &Incident, now: DateTime<Utc>) -> BoardKey {
    let open = inc.is_open();
    let running =
        [response(scheme, inc, now), resolution(scheme, inc, now), next_update_due(scheme, inc, now)];
    let breached = open && running.iter().any(|t| t.is_breached());
    let due_in_secs = running
        .iter()
        .filter_map(|t| match t {
            TimerState::Due { in_ } => Some(in_.num_seconds()),
            _ => None,
        })
        .min()
        .filter(|_| open)
        .unwrap_or(i64::MAX);
    let age = if open {
        inc.declared_at.timestamp()
    } else {
        -inc.resolved_at.unwrap_or(inc.declared_at).timestamp()
    };
    BoardKey {
        closed: !open,
        not_breached: !breached,
        severity: if open { scheme.rank(&inc.severity) } else { 0 },
        due_in_secs,
        age,
        id: inc.id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn labels() {
        assert_eq!(TimerState::Met { after: Duration::minutes(12) }.label(), "met in 12m");
        assert_eq!(TimerState::Due { in_: Duration::seconds(150) }.label(), "due in 3m");
        assert_eq!(TimerState::Due { in_: Duration::zero() }.label(), "due now");
        assert_eq!(TimerState::Breached { by: Duration::minutes(64) }.label(), "breached by 1h04m");
        assert_eq!(TimerState::Breached { by: Duration::seconds(5) }.label(), "breached by <1m");
        assert_eq!(TimerState::Due { in_: Duration::days(7) }.label(), "due in 7d00h");
        assert_eq!(TimerState::NotApplicable.label(), "n/a");
    }

    #[test]
    fn business_minutes_stop_outside_hours() {
        let bh = BusinessHours::default();
        // 2026-11-20 is a Friday.
        assert_eq!(bh.add_business_minutes(t(2026, 11, 20, 16, 0), 240), Some(t(2026, 11, 23, 12, 0)));
        assert_eq!(bh.add_business_minutes(t(2026, 11, 21, 3, 0), 60), Some(t(2026, 11, 23, 10, 0)));
        assert_eq!(bh.add_business_minutes(t(2026, 11, 23, 9, 0), 480), Some(t(2026, 11, 23, 17, 0)));
    }

    #[test]
    fn next_business_day() {
        let bh = BusinessHours::default();
        assert_eq!(bh.next_business_day_end(t(2026, 11, 23, 10, 0)), Some(t(2026, 11, 24, 17, 0)));
        assert_eq!(bh.next_business_day_end(t(2026, 11, 23, 8, 0)), Some(t(2026, 11, 23, 17, 0)));
        assert_eq!(bh.next_business_day_end(t(2026, 11, 23, 9, 0)), Some(t(2026, 11, 24, 17, 0)));
        assert_eq!(bh.next_business_day_end(t(2026, 11, 20, 18, 0)), Some(t(2026, 11, 23, 17, 0)));
        assert_eq!(bh.end_of_business_days(t(2026, 11, 23, 14, 0), 5), Some(t(2026, 11, 30, 17, 0)));
    }

    #[test]
    fn holidays_offsets_and_empty_calendars() {
        let bh = BusinessHours {
            holidays: vec![NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()],
            utc_offset_minutes: 60,
            ..BusinessHours::default()
        };
        // Friday 17:30 UTC is 18:30 local; Monday is a holiday: Tuesday 17:00 local = 16:00 UTC.
        assert_eq!(bh.next_business_day_end(t(2026, 11, 20, 17, 30)), Some(t(2026, 11, 24, 16, 0)));
        assert!(bh.is_open(t(2026, 11, 20, 8, 0)));
        assert!(!bh.is_open(t(2026, 11, 20, 16, 0)));
        let none = BusinessHours { days: vec![], ..BusinessHours::default() };
        assert_eq!(none.next_business_day_end(t(2026, 11, 20, 17, 30)), None);
        assert_eq!(none.add_business_minutes(t(2026, 11, 20, 17, 30), 5), None);
    }
}
