//! The comms sent of the open war room and, per notification target, their delivery state:
//! what the Comms pane (`u`) lists. Kept by `update` (never by drawing) and grown with the
//! timeline: each action reads only the events that arrived since the last one, so neither a
//! frame nor an action costs more on a long log. A delivery names the event it notified about
//! (`Delivery::cause`); one recorded before that field existed goes to the latest
//! `comms_sent` before it when it was about one. In replay the pane shows what was sent by the
//! cursor's time and each target as it stood then.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::State;
use crate::domain::{Event, EventBody, EventKind};
use crate::tui::timeline::Timeline;

/// One `comms_sent` of the incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub id: Uuid,
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub author: String,
    pub channel: String,
    pub template: Option<String>,
    /// As sent (a correction's text is looked up when drawn).
    pub text: String,
    /// Targets in the order they first reported, each at its latest attempt.
    pub targets: Vec<Target>,
    /// Every attempt, in seq order (for replay: each target as it stood then).
    pub attempts: Vec<Target>,
}

impl Sent {
    /// Each target's latest attempt recorded by `cutoff` (all of them when `None`).
    pub fn targets_at(&self, cutoff: Option<DateTime<Utc>>) -> Vec<&Target> {
        match cutoff {
            None => self.targets.iter().collect(),
            Some(c) => self
                .targets
                .iter()
                .filter_map(|t| self.attempts.iter().rev().find(|a| a.name == t.name && a.at <= c))
                .collect(),
        }
    }
}

/// The latest delivery attempt to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub ok: bool,
    pub status: Option<u16>,
    pub error: String,
    pub attempt: u32,
    pub retry_in_secs: Option<u64>,
    pub gave_up: bool,
    /// When the attempt was recorded.
    pub at: DateTime<Utc>,
}

/// How a target's delivery stands at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryState {
    Delivered {
        status: Option<u16>,
    },
    /// Failed; the next attempt is due in `in_secs`.
    Retrying {
        in_secs: u64,
        attempt: u32,
        why: String,
    },
    /// The next attempt is due (or under way): attempt `attempt`.
    Sending {
        attempt: u32,
    },
    GaveUp {
        why: String,
    },
}

impl Target {
    fn why(&self) -> String {
        match (self.status, self.error.is_empty()) {
            (Some(s), true) => s.to_string(),
            (Some(s), false) => format!("{s} {}", self.error),
            (None, _) => self.error.clone(),
        }
    }

    pub fn state(&self, now: DateTime<Utc>) -> DeliveryState {
        if self.ok {
            return DeliveryState::Delivered { status: self.status };
        }
        match self.retry_in_secs {
            Some(secs) if !self.gave_up => {
                // The server's numbers, checked: a retry too far out to be a time counts down
                // from its own figure, never panics.
                let due = i64::try_from(secs)
                    .ok()
                    .and_then(Duration::try_seconds)
                    .and_then(|d| self.at.checked_add_signed(d));
                let left = due.map_or(i64::MAX, |due| (due - now).num_seconds());
                if left > 0 {
                    let in_secs = u64::try_from(left).unwrap_or(0).min(secs);
                    DeliveryState::Retrying { in_secs, attempt: self.attempt, why: self.why() }
                } else {
                    DeliveryState::Sending { attempt: self.attempt.saturating_add(1) }
                }
            }
            _ => DeliveryState::GaveUp { why: self.why() },
        }
    }
}

impl DeliveryState {
    /// `delivered (200)`, `retrying in 4s (attempt 1: 503)`, `sending (attempt 2)`,
    /// `gave up: 404 Not Found`.
    pub fn label(&self) -> String {
        match self {
            DeliveryState::Delivered { status: Some(s) } => format!("delivered ({s})"),
            DeliveryState::Delivered { status: None } => "delivered".into(),
            DeliveryState::Retrying { in_secs, attempt, why } if why.is_empty() => {
                format!("retrying in {} (attempt {attempt})", secs(*in_secs))
            }
            DeliveryState::Retrying { in_secs, attempt, why } => {
                format!("retrying in {} (attempt {attempt}: {why})", secs(*in_secs))
            }
            DeliveryState::Sending { attempt } => format!("sending (attempt {attempt})"),
            DeliveryState::GaveUp { why } if why.is_empty() => "gave up".into(),
            DeliveryState::GaveUp { why } => format!("gave up: {why}"),
        }
    }
}

/// `45s`, `3m05s`, `2h00m`.
fn secs(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// The comms sent of one incident, built from its timeline.
#[derive(Debug, Clone, Default)]
pub struct SentLog {
    pub incident: String,
    /// Oldest first.
    pub comms: Vec<Sent>,
    /// Events of the timeline read (a prefix in seq order).
    read: usize,
    /// The timeline's seq-order edits when last read: a gap filled in means reading again.
    seq_edits: u64,
}

impl SentLog {
    pub fn new(incident: &str) -> SentLog {
        SentLog { incident: incident.to_string(), ..SentLog::default() }
    }

    /// Reads what the timeline got since the last call (all of it again if an event landed
    /// before ones already read). Returns whether anything changed.
    pub fn refresh(&mut self, tl: &Timeline) -> bool {
        let events = tl.events();
        let edits = tl.edits().0;
        if edits != self.seq_edits || events.len() < self.read {
            self.comms.clear();
            self.read = 0;
            self.seq_edits = edits;
        }
        if self.read == events.len() {
            return false;
        }
        for e in (self.read..events.len()).filter_map(|i| events.get(i)) {
            // Only these two kinds matter here: nothing else is unpacked.
            if matches!(e.kind(), EventKind::CommsSent | EventKind::Delivery) {
                self.add(&e.to_event());
            }
        }
        self.read = events.len();
        true
    }

    fn add(&mut self, e: &Event) {
        match &e.body {
            EventBody::CommsSent { channel, text, template } => self.comms.push(Sent {
                id: e.id,
                seq: e.seq,
                at: e.occurred_at,
                author: e.author.clone(),
                channel: channel.clone(),
                template: template.clone(),
                text: text.clone(),
                targets: Vec::new(),
                attempts: Vec::new(),
            }),
            EventBody::Delivery {
                target,
                ok,
                about,
                status,
                error,
                attempt,
                retry_in_secs,
                gave_up,
                cause,
            } => {
                let sent = match cause {
                    Some(id) => self.comms.iter_mut().rev().find(|c| c.id == *id),
                    None if about == "comms_sent" => self.comms.last_mut(),
                    None => None,
                };
                let Some(sent) = sent else { return };
                let t = Target {
                    name: target.clone(),
                    ok: *ok,
                    status: *status,
                    error: error.clone(),
                    attempt: *attempt,
                    retry_in_secs: *retry_in_secs,
                    gave_up: *gave_up,
                    at: e.recorded_at,
                };
                sent.attempts.push(t.clone());
                match sent.targets.iter_mut().find(|x| x.name == *target) {
                    Some(x) => *x = t,
                    None => sent.targets.push(t),
                }
            }
            _ => {}
        }
    }

    /// Whether a retry is counting down at `now` (the pane then redraws every second).
    pub fn counting(&self, now: DateTime<Utc>) -> bool {
        self.comms
            .iter()
            .flat_map(|c| &c.targets)
            .any(|t| matches!(t.state(now), DeliveryState::Retrying { .. }))
    }
}

/// Keeps `s.sent` in step with the open war room's timeline (called by `update` after every
/// action; reads only new events).
pub fn refresh(s: &mut State) {
    let Some(id) = s.room_id().map(str::to_string) else { return };
    let log = s.sent.get_or_insert_with(|| SentLog::new(&id));
    if log.incident != id {
        *log = SentLog::new(&id);
    }
    if let Some(tl) = s.timelines.get(&id) {
        log.refresh(tl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(retry_in_secs: Option<u64>, attempt: u32) -> Target {
        Target {
            name: "ops-slack".into(),
            ok: false,
            status: Some(503),
            error: String::new(),
            attempt,
            retry_in_secs,
            gave_up: false,
            at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn numbers_a_server_sends_never_panic_the_countdown() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let later = at + Duration::seconds(5);
        assert!(matches!(
            target(Some(u64::MAX), 3).state(later),
            DeliveryState::Retrying { in_secs, attempt: 3, .. } if in_secs > 1 << 40
        ));
        assert!(matches!(
            target(Some(10), 1).state(later),
            DeliveryState::Retrying { in_secs: 5, attempt: 1, .. }
        ));
        assert!(matches!(
            target(Some(1), u32::MAX).state(later),
            DeliveryState::Sending { attempt: u32::MAX }
        ));
    }
}
