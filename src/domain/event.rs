//! Events: the immutable facts an incident is folded from.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use strum::{Display, EnumCount, EnumString, IntoStaticStr, VariantArray};
use utoipa::ToSchema;
use uuid::Uuid;

use super::status::{Priority, Status};

/// A timeline entry's text plus free tags (e.g. `root_cause`, `contributing`, `went_well`,
/// `improve`, `lesson`, `impact`) that the post-mortem picks up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Entry {
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// One alert as attached to an incident (from Alertmanager or a script).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertInfo {
    /// Where it came from, e.g. `alertmanager`.
    pub source: String,
    /// Stable identity of the alert at its source (Alertmanager's fingerprint).
    pub fingerprint: String,
    /// Alert name (label `alertname`).
    pub name: String,
    /// `firing` or `resolved`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// What happened: the kind of an event and its payload. Serialized with a `kind` tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// Opens the incident. Only valid as an incident's first event.
    Declared {
        title: String,
        severity: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        summary: String,
        /// Alertmanager group key, when the incident was opened by an alert group.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group_key: Option<String>,
        /// Demo data (`warroom demo`), not a real incident: marked DEMO wherever it shows, left
        /// out of reports and notifications, and removable with `demo_removed`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        demo: bool,
    },
    SeverityChanged {
        severity: String,
    },
    StatusChanged {
        status: Status,
    },
    TitleChanged {
        title: String,
    },
    RoleAssigned {
        role: String,
        holder: String,
    },
    /// Releases `holder` from `role`, or every holder when `holder` is absent.
    RoleReleased {
        role: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        holder: Option<String>,
    },
    ChecklistItemSet {
        checklist: String,
        item: String,
        done: bool,
    },
    PlaybookAttached {
        playbook: String,
    },
    Note(Entry),
    Finding(Entry),
    Action(Entry),
    Decision(Entry),
    CommsSent {
        channel: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<String>,
    },
    AlertAttached(AlertInfo),
    ActionItemAdded {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due: Option<NaiveDate>,
        #[serde(default)]
        priority: Priority,
    },
    ActionItemUpdated {
        /// The id of the `action_item_added` event.
        item: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due: Option<NaiveDate>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<Priority>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        done: Option<bool>,
    },
    /// Amends an earlier entry of the same incident; the original stays in the log.
    Correction {
        target: Uuid,
        text: String,
    },
    /// The outcome of one attempt to deliver a notification to a configured target (recorded
    /// by the server's delivery worker; never carries a secret).
    Delivery {
        /// The target's name in the server config, e.g. `ops-slack`.
        target: String,
        ok: bool,
        /// What was delivered, e.g. `comms_sent`, `declared`, `escalation L2`.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        about: String,
        /// The HTTP status (or SMTP reply code) the target answered with, if it answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        error: String,
        /// 1 for the first attempt.
        attempt: u32,
        /// Failed, and the next attempt is in this many seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_in_secs: Option<u64>,
        /// Failed, and no further attempt will be made.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        gave_up: bool,
        /// The id of the event whose notification this was (e.g. the `comms_sent`), so a
        /// console can show each update's delivery state; a timer-breach notice carries an id
        /// derived from the breach, which no event has. Absent in logs from before it was
        /// recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<Uuid>,
    },
    /// The incident reached an escalation level unacknowledged; the server paged that level's
    /// targets (recorded once per incident and level).
    Escalated {
        level: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        who: String,
    },
    /// Takes a demo incident (declared with `demo`) away: it is hidden from every list, board
    /// and report from then on and takes no more events. The log keeps it (append-only); only
    /// demo incidents can be removed, so a real incident never disappears from the record.
    DemoRemoved {},
}

/// The kind of an event without its payload (filters, key bindings, display). Its names are the
/// `kind` tags of [`EventBody`] on the wire; parsing is exact (case matters).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    IntoStaticStr,
    VariantArray,
    EnumCount,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case", parse_err_ty = String, parse_err_fn = unknown_kind)]
pub enum EventKind {
    Declared,
    SeverityChanged,
    StatusChanged,
    TitleChanged,
    RoleAssigned,
    RoleReleased,
    ChecklistItemSet,
    PlaybookAttached,
    Note,
    Finding,
    Action,
    Decision,
    CommsSent,
    AlertAttached,
    ActionItemAdded,
    ActionItemUpdated,
    Correction,
    Delivery,
    Escalated,
    DemoRemoved,
}

impl EventKind {
    /// Every kind, in order (strum's `VARIANTS` as an array, to iterate by value).
    pub const ALL: [EventKind; EventKind::COUNT] =
        *EventKind::VARIANTS.first_chunk().expect("COUNT variants");

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Kinds a scribe writes as free-text timeline entries.
    pub fn is_entry(self) -> bool {
        matches!(self, EventKind::Note | EventKind::Finding | EventKind::Action | EventKind::Decision)
    }

    /// Kinds a correction may amend: entries and the text of a sent update. A change of
    /// severity, status, title, role, ... is changed again, not corrected: a correction of it
    /// would make the timeline say what the incident is not.
    pub fn is_correctable(self) -> bool {
        self.is_entry() || self == EventKind::CommsSent
    }

    /// Why an event of this kind cannot be corrected, and what to do instead; `None` when it can.
    pub fn why_not_correctable(self) -> Option<String> {
        if self.is_correctable() {
            return None;
        }
        let instead = match self {
            EventKind::SeverityChanged | EventKind::Declared => "change the severity or title instead",
            EventKind::StatusChanged => "change the status instead",
            EventKind::TitleChanged => "change the title instead",
            EventKind::RoleAssigned | EventKind::RoleReleased => "assign or release the role instead",
            EventKind::ChecklistItemSet => "tick or untick the item instead",
            EventKind::ActionItemAdded | EventKind::ActionItemUpdated => "update the action item instead",
            EventKind::Correction => "correct the original entry instead",
            _ => "add a note instead",
        };
        Some(format!(
            "a `{self}` event cannot be corrected: a correction amends a note, finding, action, decision \
             or comms text; {instead}"
        ))
    }
}

fn unknown_kind(s: &str) -> String {
    let names: Vec<_> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    format!("unknown event kind `{s}` (expected one of: {})", names.join(", "))
}

impl EventBody {
    pub fn kind(&self) -> EventKind {
        match self {
            EventBody::Declared { .. } => EventKind::Declared,
            EventBody::SeverityChanged { .. } => EventKind::SeverityChanged,
            EventBody::StatusChanged { .. } => EventKind::StatusChanged,
            EventBody::TitleChanged { .. } => EventKind::TitleChanged,
            EventBody::RoleAssigned { .. } => EventKind::RoleAssigned,
            EventBody::RoleReleased { .. } => EventKind::RoleReleased,
            EventBody::ChecklistItemSet { .. } => EventKind::ChecklistItemSet,
            EventBody::PlaybookAttached { .. } => EventKind::PlaybookAttached,
            EventBody::Note(_) => EventKind::Note,
            EventBody::Finding(_) => EventKind::Finding,
            EventBody::Action(_) => EventKind::Action,
            EventBody::Decision(_) => EventKind::Decision,
            EventBody::CommsSent { .. } => EventKind::CommsSent,
            EventBody::AlertAttached(_) => EventKind::AlertAttached,
            EventBody::ActionItemAdded { .. } => EventKind::ActionItemAdded,
            EventBody::ActionItemUpdated { .. } => EventKind::ActionItemUpdated,
            EventBody::Correction { .. } => EventKind::Correction,
            EventBody::Delivery { .. } => EventKind::Delivery,
            EventBody::Escalated { .. } => EventKind::Escalated,
            EventBody::DemoRemoved {} => EventKind::DemoRemoved,
        }
    }

    /// Builds a free-text timeline entry of an entry kind (note, finding, action, decision).
    pub fn entry(kind: EventKind, text: impl Into<String>) -> Option<EventBody> {
        let e = Entry { text: text.into(), tags: Vec::new() };
        Some(match kind {
            EventKind::Note => EventBody::Note(e),
            EventKind::Finding => EventBody::Finding(e),
            EventKind::Action => EventBody::Action(e),
            EventKind::Decision => EventBody::Decision(e),
            _ => return None,
        })
    }

    /// The entry text of a free-text entry, if this is one.
    pub fn as_entry(&self) -> Option<&Entry> {
        match self {
            EventBody::Note(e) | EventBody::Finding(e) | EventBody::Action(e) | EventBody::Decision(e) => {
                Some(e)
            }
            _ => None,
        }
    }

    /// One human line describing the event (no styling), as the timeline and `tail` show it.
    pub fn summary(&self) -> String {
        match self {
            EventBody::Declared { title, severity, .. } => format!("declared {severity}: {title}"),
            EventBody::SeverityChanged { severity } => format!("severity -> {severity}"),
            EventBody::StatusChanged { status } => format!("status -> {status}"),
            EventBody::TitleChanged { title } => format!("title -> {title}"),
            EventBody::RoleAssigned { role, holder } => format!("{holder} is {role}"),
            EventBody::RoleReleased { role, holder: Some(h) } => format!("{h} released {role}"),
            EventBody::RoleReleased { role, holder: None } => format!("{role} released"),
            EventBody::ChecklistItemSet { checklist, item, done } => {
                format!("{} {checklist}/{item}", if *done { "[x]" } else { "[ ]" })
            }
            EventBody::PlaybookAttached { playbook } => format!("playbook {playbook} attached"),
            EventBody::Note(e) | EventBody::Finding(e) | EventBody::Action(e) | EventBody::Decision(e) => {
                e.text.clone()
            }
            EventBody::CommsSent { channel, text, .. } => {
                let first = text.lines().next().unwrap_or_default();
                format!("comms to {channel}: {first}")
            }
            EventBody::AlertAttached(a) => match &a.summary {
                Some(s) => format!("alert {} {}: {s}", a.name, a.status),
                None => format!("alert {} {}", a.name, a.status),
            },
            EventBody::ActionItemAdded { text, owner, .. } => match owner {
                Some(o) => format!("action item: {text} (@{o})"),
                None => format!("action item: {text}"),
            },
            EventBody::ActionItemUpdated { done: Some(true), .. } => "action item done".to_string(),
            EventBody::ActionItemUpdated { .. } => "action item updated".to_string(),
            EventBody::Correction { text, .. } => format!("correction: {text}"),
            EventBody::Delivery { target, ok: true, about, .. } => match about.as_str() {
                "comms_sent" => format!("update posted to {target}"),
                "" => format!("posted to {target}"),
                other => format!("posted to {target} ({other})"),
            },
            EventBody::Delivery {
                target, ok: false, status, error, attempt, retry_in_secs, gave_up, ..
            } => {
                let why = match (status, error.is_empty()) {
                    (Some(s), true) => s.to_string(),
                    (Some(s), false) => format!("{s} {error}"),
                    (None, _) => error.clone(),
                };
                let next = match retry_in_secs {
                    Some(secs) => {
                        format!(", retrying in {}", wait(*secs))
                    }
                    None if *gave_up => format!(", gave up after {attempt} attempts"),
                    None => String::new(),
                };
                format!("\u{2715} {target}: {why}{next}")
            }
            EventBody::Escalated { level, who } if who.is_empty() => format!("escalated to {level}"),
            EventBody::Escalated { level, who } => format!("escalated to {level}: {who}"),
            EventBody::DemoRemoved {} => "demo incident removed".to_string(),
        }
    }
}

/// A wait as a person reads it: `45s`, `2m`, `1h05m` (rounded up).
fn wait(secs: u64) -> String {
    if secs < 60 {
        return format!("{secs}s");
    }
    let mins = secs.div_ceil(60);
    if mins < 60 { format!("{mins}m") } else { format!("{}h{:02}m", mins / 60, mins % 60) }
}

/// An event as a client proposes it: the client names it (UUID v7) and says when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewEvent {
    pub id: Uuid,
    /// When it happened (taken when the scribe started typing; may be back-dated).
    pub occurred_at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: EventBody,
}

impl NewEvent {
    /// A new event named now, happening now: reads the clock, a shorthand for the edges (CLI
    /// verbs, demo data, tests). The fold and the checks never call it.
    pub fn now(body: EventBody) -> Self {
        Self::at(Utc::now(), body)
    }

    pub fn at(occurred_at: DateTime<Utc>, body: EventBody) -> Self {
        Self { id: Uuid::now_v7(), occurred_at, body }
    }
}

/// An event as recorded by the server: ordered (`seq`), stamped (`recorded_at`) and attributed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// Global, gap-free, strictly increasing order assigned by the server.
    pub seq: u64,
    pub id: Uuid,
    pub incident: String,
    pub author: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: EventBody,
}

impl Event {
    pub fn kind(&self) -> EventKind {
        self.body.kind()
    }

    /// The proposal this event was recorded from (to compare idempotent retries).
    pub fn as_new(&self) -> NewEvent {
        NewEvent { id: self.id, occurred_at: self.occurred_at, body: self.body.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_the_wire_tags() {
        for k in EventKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(k.to_string(), k.as_str());
            assert_eq!(k.as_str().parse::<EventKind>(), Ok(k));
        }
        assert_eq!(EventKind::ChecklistItemSet.as_str(), "checklist_item_set");
        assert_eq!(EventKind::ALL.len(), 20);
        // The body's `kind` tag and the kind's name agree.
        let body = EventBody::ActionItemUpdated {
            item: Uuid::nil(),
            text: None,
            owner: None,
            due: None,
            priority: None,
            done: Some(true),
        };
        assert_eq!(serde_json::to_value(&body).unwrap()["kind"], body.kind().as_str());
    }

    #[test]
    fn kinds_parse_exactly() {
        assert!("Note".parse::<EventKind>().is_err());
        let err = "notes".parse::<EventKind>().unwrap_err();
        assert!(
            err.starts_with("unknown event kind `notes` (expected one of: declared, severity_changed,"),
            "{err}"
        );
        assert!(err.ends_with("correction, delivery, escalated, demo_removed)"), "{err}");
    }
}
