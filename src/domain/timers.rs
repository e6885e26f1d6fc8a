//! An incident's clocks: response and resolution targets, the escalation level reached, when the
//! next status update is due, post-mortem deadlines, and the board's sort key.
//!
//! Everything here is a pure function of the incident, the scheme (data from `assets/`) and an
//! explicit `now`: no clock is read, so tests use fixed times and the console and the server
//! compute the same thing.
//!
//! Business hours, business minutes and the next business day are defined in
//! [`calendar`](super::calendar).
//!
//! # Boundaries
//!
//! A target is met when the acknowledgement (or resolution) happens at or before the deadline:
//! an acknowledgement exactly 15 minutes after a 15-minute target's declaration is met. An open
//! timer is due up to and including its deadline and breached after it.

use chrono::{DateTime, Duration, Utc};

use super::calendar::BusinessHours;
use super::incident::Incident;
use super::practice::{EscalationStep, Scheme, SeverityLevel};
use super::status::Status;

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

/// When the next status update is due: `update_every_minutes` after the last status update (or
/// the declaration). `None` when the level sets no cadence or the incident is resolved.
///
/// Which moment counts: while no `delivery` about a `comms_sent` is in the incident's log (no
/// notify target configured or routed for updates), recording `comms_sent`; once one is, the
/// first successful delivery of each update (a failed or still pending update does not reset).
pub fn next_update_at(scheme: &Scheme, inc: &Incident) -> Option<DateTime<Utc>> {
    if !inc.is_open() {
        return None;
    }
    let every = scheme.level(&inc.severity)?.update_every_minutes?;
    let last = if inc.updates_routed { inc.update_delivered_at } else { inc.last_comms_at };
    let base = last.map_or(inc.declared_at, |c| c.max(inc.declared_at));
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

/// The post-mortem deadlines still to meet (not met, not dropped by closing).
pub fn pending_deadlines(deadlines: &[Deadline]) -> impl Iterator<Item = &Deadline> {
    deadlines.iter().filter(|d| matches!(d.state, TimerState::Due { .. } | TimerState::Breached { .. }))
}

/// The one timer the board shows for an incident ([`board_timer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardTimer {
    /// Open: its response timer.
    Response(TimerState),
    /// Resolved: its most pressing post-mortem deadline (id and state).
    Deadline(String, TimerState),
    /// Resolved, every post-mortem deadline met.
    PostmortemDone,
    /// Nothing to show (no target, or closed).
    None,
}

impl BoardTimer {
    /// `due in 12m`, `report breached by 2h`, `post-mortem done`, or `—`.
    pub fn label(&self) -> String {
        match self {
            BoardTimer::Response(t) => t.label(),
            BoardTimer::Deadline(id, t) => format!("{id} {}", t.label()),
            BoardTimer::PostmortemDone => "post-mortem done".to_string(),
            BoardTimer::None => "—".to_string(),
        }
    }
}

/// The board's timer for `inc` at `now`: the response state of an open incident; for a resolved
/// one, its most pressing post-mortem deadline until they are all met.
pub fn board_timer(scheme: &Scheme, inc: &Incident, now: DateTime<Utc>) -> BoardTimer {
    if inc.is_open() {
        return match response(scheme, inc, now) {
            TimerState::NotApplicable => BoardTimer::None,
            r => BoardTimer::Response(r),
        };
    }
    let deadlines = postmortem_deadlines(scheme, inc, now);
    let next = pending_deadlines(&deadlines).min_by_key(|d| (!d.state.is_breached(), d.due_at));
    match next {
        Some(d) => BoardTimer::Deadline(d.id.clone(), d.state),
        None if !deadlines.is_empty() && inc.status != Status::Closed => BoardTimer::PostmortemDone,
        None => BoardTimer::None,
    }
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
}
