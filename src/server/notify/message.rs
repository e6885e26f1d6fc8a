//! What a notification says, independent of where it goes: built when the delivery is queued
//! (from the event and the incident as they stand then) and kept in the queue row, so a retry
//! sends the same thing. Each target kind renders it in its own wire format (`targets`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::config::EventClass;
use crate::domain::{Event, EventBody, Incident, Scheme, Status};

/// One notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The route class (`declared`, `comms_sent`, `escalation`, ...) or `test`.
    pub class: String,
    /// For the delivery event and the timeline: `comms_sent`, `escalation L2`, `test`, ...
    pub about: String,
    pub incident: String,
    pub title: String,
    pub severity: String,
    pub status: String,
    /// One line: `INC-4 SEV-1 declared: Checkout down`.
    pub headline: String,
    /// The body: the comms text, or what changed.
    pub text: String,
    /// The id of the event that caused it (the idempotency key targets see).
    pub event_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub author: String,
    /// The event as recorded (webhook payloads carry it).
    #[serde(default)]
    pub event: serde_json::Value,
    /// PagerDuty: `trigger`, `acknowledge` or `resolve`.
    pub pd_action: String,
    /// PagerDuty: `critical`, `error`, `warning` or `info` (from the level's rank).
    pub pd_severity: String,
}

/// The route class of an event, if routes can listen to it.
pub fn class_of(event: &Event) -> Option<EventClass> {
    Some(match &event.body {
        EventBody::Declared { .. } => EventClass::Declared,
        EventBody::SeverityChanged { .. } => EventClass::SeverityChanged,
        EventBody::StatusChanged { .. } => EventClass::StatusChanged,
        EventBody::RoleAssigned { role, .. } | EventBody::RoleReleased { role, .. }
            if role == crate::domain::COMMANDER_ROLE =>
        {
            EventClass::CommanderChanged
        }
        EventBody::CommsSent { .. } => EventClass::CommsSent,
        EventBody::Escalated { .. } => EventClass::Escalation,
        _ => return None,
    })
}

/// PagerDuty's severity for a level: the most severe level is critical, then error, warning,
/// and info for the rest (and unknown levels).
pub fn pd_severity(scheme: &Scheme, severity: &str) -> &'static str {
    match scheme.rank(severity) {
        0 => "critical",
        1 => "error",
        2 => "warning",
        _ => "info",
    }
}

/// PagerDuty's action for an incident's state: resolve once resolved, acknowledge once anyone
/// acknowledged, else trigger.
pub fn pd_action(inc: &Incident) -> &'static str {
    if !inc.is_open() {
        "resolve"
    } else if inc.acknowledged_at.is_some() || inc.status != Status::Declared {
        "acknowledge"
    } else {
        "trigger"
    }
}

impl Message {
    /// The message for a recorded event of incident `inc` (its state after the event).
    pub fn for_event(class: EventClass, event: &Event, inc: &Incident, scheme: &Scheme) -> Message {
        let (about, text) = match &event.body {
            EventBody::CommsSent { text, .. } => ("comms_sent".to_string(), text.clone()),
            EventBody::Escalated { level, who } => (
                format!("escalation {level}"),
                format!(
                    "{} reached escalation level {level} unacknowledged{}",
                    inc.id,
                    if who.is_empty() { String::new() } else { format!(": paging {who}") }
                ),
            ),
            EventBody::Declared { summary, .. } => (class.to_string(), summary.clone()),
            other => (class.to_string(), other.summary()),
        };
        let headline = match &event.body {
            EventBody::Declared { .. } => format!("{} {} declared: {}", inc.id, inc.severity, inc.title),
            EventBody::CommsSent { .. } => format!("{} {} update: {}", inc.id, inc.severity, inc.title),
            other => format!("{} {} {}: {}", inc.id, inc.severity, other.summary(), inc.title),
        };
        Message {
            class: class.to_string(),
            about,
            incident: inc.id.clone(),
            title: inc.title.clone(),
            severity: inc.severity.clone(),
            status: inc.status.to_string(),
            headline,
            text,
            event_id: event.id,
            occurred_at: event.occurred_at,
            author: event.author.clone(),
            event: serde_json::to_value(event).unwrap_or_default(),
            pd_action: pd_action(inc).to_string(),
            pd_severity: pd_severity(scheme, &inc.severity).to_string(),
        }
    }

    /// A timer breached (no event of its own): `timer` is `response`, `resolution` or `update`.
    pub fn breach(inc: &Incident, scheme: &Scheme, timer: &str, id: Uuid, at: DateTime<Utc>) -> Message {
        Message {
            class: EventClass::TimerBreached.to_string(),
            about: format!("{timer} timer breached"),
            incident: inc.id.clone(),
            title: inc.title.clone(),
            severity: inc.severity.clone(),
            status: inc.status.to_string(),
            headline: format!("{} {} {timer} target breached: {}", inc.id, inc.severity, inc.title),
            text: format!("The {timer} target of {} passed at {}.", inc.id, at.format("%Y-%m-%d %H:%M UTC")),
            event_id: id,
            occurred_at: at,
            author: "warroom".into(),
            event: serde_json::Value::Null,
            pd_action: pd_action(inc).to_string(),
            pd_severity: pd_severity(scheme, &inc.severity).to_string(),
        }
    }

    /// `warroom notify test`: names no incident.
    pub fn test(target: &str, now: DateTime<Utc>) -> Message {
        Message {
            class: "test".into(),
            about: "test".into(),
            incident: "TEST".into(),
            title: "warroom test message".into(),
            severity: String::new(),
            status: String::new(),
            headline: format!("warroom: test message to {target}"),
            text: format!(
                "This is a test of the notification target `{target}`, sent by `warroom notify test` at {}.",
                now.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            event_id: Uuid::now_v7(),
            occurred_at: now,
            author: "warroom".into(),
            event: serde_json::Value::Null,
            pd_action: "trigger".into(),
            pd_severity: "info".into(),
        }
    }

    /// The plain-text form (email bodies, Matrix messages).
    pub fn plain(&self) -> String {
        let mut out = self.headline.clone();
        if !self.text.is_empty() {
            out.push_str("\n\n");
            out.push_str(&self.text);
        }
        if !self.status.is_empty() {
            out.push_str(&format!(
                "\n\n{} · {} · {} · by {}",
                self.incident, self.severity, self.status, self.author
            ));
        }
        out
    }
}

/// A UUID derived from a name (for notices with no event of their own, and escalation events,
/// so that every replica and restart derives the same one).
pub fn derived_id(name: &str) -> Uuid {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}
