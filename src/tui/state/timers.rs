//! The few timer figures the console shows, computed simply from the practice's severity level
//! (`response_minutes`, `update_every_minutes`) and the incident's timestamps.
//!
//! Hook: `crate::domain::timers` (full SLA and escalation timers) is written elsewhere; when it
//! lands, [`response`] and [`next_update_due`] should delegate to it. Only this file changes.

use chrono::{DateTime, Utc};

use crate::domain::{Incident, Practice};

/// Whether the response (acknowledge) target is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// Acknowledged within the target (`after` minutes of `target`).
    Met { after: i64, target: i64 },
    /// Acknowledged late, or not yet and past the target (`late` minutes).
    Breached { late: i64, acknowledged: bool },
    /// Not acknowledged yet; `left` minutes to go.
    Due { left: i64 },
}

fn minutes(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (b - a).num_minutes()
}

/// The response target's state, when the level sets one.
pub fn response(inc: &Incident, practice: Option<&Practice>, now: DateTime<Utc>) -> Option<Response> {
    let level = practice?.scheme().level(&inc.severity)?;
    let target = i64::from(level.response_minutes?);
    let r = match inc.acknowledged_at {
        Some(ack) => {
            let after = minutes(inc.declared_at, ack);
            if after <= target {
                Response::Met { after, target }
            } else {
                Response::Breached { late: after - target, acknowledged: true }
            }
        }
        None => {
            let elapsed = minutes(inc.declared_at, now);
            if elapsed > target {
                Response::Breached { late: elapsed - target, acknowledged: false }
            } else {
                Response::Due { left: target - elapsed }
            }
        }
    };
    Some(r)
}

/// Minutes until the next status update is due (negative: overdue), while open.
pub fn next_update_due(inc: &Incident, practice: Option<&Practice>, now: DateTime<Utc>) -> Option<i64> {
    if !inc.is_open() {
        return None;
    }
    let every = i64::from(practice?.scheme().level(&inc.severity)?.update_every_minutes?);
    let last = inc.last_comms_at.unwrap_or(inc.declared_at);
    Some(every - minutes(last, now))
}

/// The resolution target: minutes left (negative: breached), while the level sets one.
/// A resolved incident reports how it ended: `Ok(Some(minutes over or under))`.
pub fn resolution(inc: &Incident, practice: Option<&Practice>, now: DateTime<Utc>) -> Option<(i64, bool)> {
    let target = i64::from(practice?.scheme().level(&inc.severity)?.resolution_minutes?);
    let end = inc.resolved_at.unwrap_or(now);
    Some((target - minutes(inc.declared_at, end), inc.resolved_at.is_some()))
}

/// The escalation step reached by elapsed time (executive-only steps only for levels that
/// have executive escalation), while open.
pub fn escalation<'a>(inc: &Incident, practice: Option<&'a Practice>, now: DateTime<Utc>) -> Option<&'a str> {
    if !inc.is_open() {
        return None;
    }
    let scheme = practice?.scheme();
    let exec = scheme.level(&inc.severity).is_some_and(|l| l.executive_escalation);
    let elapsed = minutes(inc.declared_at, now);
    scheme
        .escalation
        .iter()
        .rev()
        .filter(|s| exec || !s.executive_only)
        .find(|s| i64::from(s.after_minutes) <= elapsed)
        .map(|s| s.level.as_str())
}

/// `1h02m`, `12m`, `3d04h`.
pub fn human(mins: i64) -> String {
    let m = mins.max(0);
    if m >= 24 * 60 {
        format!("{}d{:02}h", m / (24 * 60), (m / 60) % 24)
    } else if m >= 60 {
        format!("{}h{:02}m", m / 60, m % 60)
    } else {
        format!("{m}m")
    }
}

/// Elapsed time since `from`, as `human` shows it.
pub fn elapsed(from: DateTime<Utc>, now: DateTime<Utc>) -> String {
    human(minutes(from, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn inc(sev: &str, ack_after: Option<i64>) -> (Incident, DateTime<Utc>) {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let i = Incident {
            id: "INC-1".into(),
            severity: sev.into(),
            declared_at: t0,
            acknowledged_at: ack_after.map(|m| t0 + Duration::minutes(m)),
            revision: 1,
            ..Default::default()
        };
        (i, t0)
    }

    #[test]
    fn response_and_escalation() {
        let p = crate::config::load_practice(None, None).unwrap();
        let (i, t0) = inc("SEV-2", None);
        assert_eq!(response(&i, Some(&p), t0 + Duration::minutes(10)), Some(Response::Due { left: 20 }));
        assert_eq!(
            response(&i, Some(&p), t0 + Duration::minutes(45)),
            Some(Response::Breached { late: 15, acknowledged: false })
        );
        let (i, _) = inc("SEV-2", Some(12));
        assert_eq!(response(&i, Some(&p), t0), Some(Response::Met { after: 12, target: 30 }));
        assert_eq!(escalation(&i, Some(&p), t0 + Duration::minutes(5)), Some("L1"));
        assert_eq!(escalation(&i, Some(&p), t0 + Duration::minutes(20)), Some("L2"));
        // L4 is for executive-escalation levels only.
        assert_eq!(escalation(&i, Some(&p), t0 + Duration::minutes(90)), Some("L3"));
        let (i, _) = inc("SEV-1", None);
        assert_eq!(escalation(&i, Some(&p), t0 + Duration::minutes(90)), Some("L4"));
        assert_eq!(human(62), "1h02m");
        assert_eq!(human(24 * 60 + 61), "1d01h");
    }
}
