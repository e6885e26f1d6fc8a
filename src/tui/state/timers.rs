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
