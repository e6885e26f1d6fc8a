//! The incident and the one fold (`apply`) that both client and server run.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::event::{AlertInfo, Event, EventBody};
use super::status::{Priority, Status};

/// The role id that every role set uses for the incident commander. Assigning or releasing it
/// is a guarded change (it carries the revision it was made against).
pub const COMMANDER_ROLE: &str = "commander";

/// Longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest free text of one entry, in characters.
pub const MAX_TEXT: usize = 10_000;
/// Longest short field (names, ids, labels), in characters.
pub const MAX_SHORT: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoleHolder {
    pub holder: String,
    pub since: DateTime<Utc>,
    pub assigned_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ItemState {
    pub done: bool,
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ActionItem {
    /// The id of the `action_item_added` event.
    pub id: Uuid,
    pub text: String,
    pub owner: Option<String>,
    pub due: Option<NaiveDate>,
    pub priority: Priority,
    pub done: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// An incident's whole current state: a pure fold of its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub struct Incident {
    /// Short, human id: `INC-<n>`.
    pub id: String,
    pub title: String,
    pub severity: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    pub declared_by: String,
    pub declared_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Role id -> holders (most roles have one; SMEs may have several).
    pub roles: BTreeMap<String, Vec<RoleHolder>>,
    /// `checklist/item` -> last state set.
    pub checklist: BTreeMap<String, ItemState>,
    pub playbooks: Vec<String>,
    pub action_items: Vec<ActionItem>,
    /// Fingerprint -> the alert's latest state.
    pub alerts: BTreeMap<String, AlertInfo>,
    pub group_key: Option<String>,
    /// When a status update was last recorded (`comms_sent`).
    pub last_comms_at: Option<DateTime<Utc>>,
    /// Notifications: true once the server recorded a `delivery` about a `comms_sent` of this
    /// incident (its updates go to targets): from then on the status-update timer runs from
    /// [`Incident::update_delivered_at`], not from recording.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub updates_routed: bool,
    /// When the latest status update was first delivered to a target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_delivered_at: Option<DateTime<Utc>>,
    /// A `comms_sent` recorded after the last update's first successful delivery.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub update_pending: bool,
    /// Number of events applied.
    pub revision: u64,
    /// Seq of the last event applied.
    pub last_seq: u64,
    /// Demo data (declared by `warroom demo`): marked DEMO wherever it shows, left out of
    /// reports and notifications.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub demo: bool,
    /// When the demo incident was removed (`demo_removed`): hidden everywhere since, closed to
    /// new events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<DateTime<Utc>>,
    /// Revision at which severity, status and commander last changed (conflict detection).
    pub severity_rev: u64,
    pub status_rev: u64,
    pub commander_rev: u64,
}

/// Why an event cannot be applied. `code` is machine-readable, `message` is for humans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    pub code: &'static str,
    pub message: String,
}

impl Rejection {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
    fn invalid(message: impl Into<String>) -> Self {
        Self::new("invalid_event", message)
    }
}

/// A guarded change was made against a revision older than the field's last change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{field} changed at revision {changed_at}, after the revision {expected} this change was made against"
)]
pub struct Conflict {
    pub field: &'static str,
    pub expected: u64,
    pub changed_at: u64,
}

fn check_len(field: &str, value: &str, max: usize, allow_empty: bool) -> Result<(), Rejection> {
    if !allow_empty && value.trim().is_empty() {
        return Err(Rejection::invalid(format!("{field} must not be empty")));
    }
    let n = value.chars().count();
    if n > max {
        return Err(Rejection::new(
            "too_long",
            format!("{field} is {n} characters long; the limit is {max}"),
        ));
    }
    Ok(())
}

/// Rules for events being written now, on top of [`apply`]'s (which a recorded log must keep
/// passing, so a rule added later cannot go there): a title must show something once control
/// and invisible characters are removed, as every terminal will show it.
pub fn check_new(body: &EventBody) -> Result<(), Rejection> {
    match body {
        EventBody::Declared { title, .. } | EventBody::TitleChanged { title }
            if super::text::line(title).trim().is_empty() =>
        {
            Err(Rejection::invalid(
                "title must not be empty (it has nothing visible once control and invisible characters are removed)",
            ))
        }
        _ => Ok(()),
    }
}

/// A correction may only target an entry or a comms text ([`EventKind::is_correctable`]).
pub fn check_correction_target(target_kind: super::EventKind) -> Result<(), Rejection> {
    match target_kind.why_not_correctable() {
        None => Ok(()),
        Some(why) => Err(Rejection::new("invalid_target", why)),
    }
}

impl Incident {
    /// Still burning: not resolved, not closed, and not a removed demo incident.
    pub fn is_open(&self) -> bool {
        self.status.is_open() && !self.is_removed()
    }

    /// A demo incident taken away by `warroom demo --remove`: hidden from lists and boards.
    pub fn is_removed(&self) -> bool {
        self.removed_at.is_some()
    }

    /// Current holders of the commander role.
    pub fn commander(&self) -> Option<&str> {
        self.roles.get(COMMANDER_ROLE).and_then(|v| v.first()).map(|h| h.holder.as_str())
    }

    pub fn item_done(&self, checklist: &str, item: &str) -> Option<&ItemState> {
        self.checklist.get(&format!("{checklist}/{item}"))
    }

    /// Which guarded field an event changes, if any, and that field's last-change revision.
    pub fn guarded_field(&self, body: &EventBody) -> Option<(&'static str, u64)> {
        match body {
            EventBody::SeverityChanged { .. } => Some(("severity", self.severity_rev)),
            EventBody::StatusChanged { .. } => Some(("status", self.status_rev)),
            EventBody::RoleAssigned { role, .. } | EventBody::RoleReleased { role, .. }
                if role == COMMANDER_ROLE =>
            {
                Some(("commander", self.commander_rev))
            }
            _ => None,
        }
    }

    /// The current value of the guarded field `body` changes (status, severity, commander), as
    /// a person reads it (`nobody` for no commander).
    pub fn guarded_value(&self, body: &EventBody) -> Option<String> {
        Some(match self.guarded_field(body)?.0 {
            "severity" => self.severity.clone(),
            "status" => self.status.as_str().to_string(),
            _ => self.commander().unwrap_or("nobody").to_string(),
        })
    }

    /// Whether `body` would leave the incident as it is: the status or severity it already
    /// has, a role its holder already holds, an item already in that state, a playbook already
    /// attached, an action item already done (or open).
    pub fn is_noop(&self, body: &EventBody) -> bool {
        match body {
            EventBody::StatusChanged { status } => self.status == *status,
            EventBody::SeverityChanged { severity } => &self.severity == severity,
            EventBody::RoleAssigned { role, holder } => {
                self.roles.get(role).is_some_and(|hs| hs.iter().any(|h| &h.holder == holder))
            }
            EventBody::ChecklistItemSet { checklist, item, done } => {
                self.item_done(checklist, item).is_some_and(|s| s.done) == *done
            }
            EventBody::PlaybookAttached { playbook } => self.playbooks.contains(playbook),
            EventBody::ActionItemUpdated {
                item,
                text: None,
                owner: None,
                due: None,
                priority: None,
                done,
            } => done.is_some_and(|d| self.action_items.iter().any(|a| a.id == *item && a.done == d)),
            _ => false,
        }
    }

    /// Refuses a guarded change made against a revision older than the field's last change.
    /// Unguarded events (timeline entries, checklist ticks) always pass: they commute.
    pub fn check_revision(&self, body: &EventBody, expected: Option<u64>) -> Result<(), Conflict> {
        match (self.guarded_field(body), expected) {
            (Some((field, changed_at)), Some(expected)) if expected < changed_at => {
                Err(Conflict { field, expected, changed_at })
            }
            _ => Ok(()),
        }
    }

    /// Validates an event happening `at` against this state without changing it. `apply` runs
    /// the same checks.
    pub fn check(&self, body: &EventBody, at: DateTime<Utc>) -> Result<(), Rejection> {
        let mut copy = self.clone();
        // Cheap enough: incidents are small; the timeline is not part of the state.
        apply_body(&mut copy, body, "", at, Uuid::nil())
    }
}

/// How far ahead of the server's clock an event may say it happened (clock skew, not more).
pub const MAX_AHEAD: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Whether an event happening `at` is plausible for the incident as it stands (`inc`; the
/// default incident before the declaration), judged at `now` by the server's clock: nothing
/// happens more than [`MAX_AHEAD`] in the future, and an incident is not acknowledged,
/// mitigated, resolved or closed before it was declared. Checked when an event is written,
/// never when a recorded log is folded.
pub fn check_time(
    inc: &Incident,
    body: &EventBody,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Rejection> {
    let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if at > now + MAX_AHEAD {
        return Err(Rejection::new(
            "implausible_time",
            format!(
                "occurred_at {} is in the future (the server's clock says {}); at most 1 hour ahead is accepted",
                fmt(at),
                fmt(now)
            ),
        ));
    }
    if let EventBody::StatusChanged { status } = body
        && *status >= Status::Acknowledged
        && inc.revision > 0
        && at < inc.declared_at
    {
        return Err(Rejection::new(
            "implausible_time",
            format!(
                "{} cannot be {status} at {}, before it was declared ({})",
                inc.id,
                fmt(at),
                fmt(inc.declared_at)
            ),
        ));
    }
    Ok(())
}

/// Applies one recorded event. Pure and deterministic: the same log gives the same state on
/// every client and on the server. Never panics; an invalid event is rejected with a reason
/// and leaves the incident unchanged.
pub fn apply(incident: &mut Incident, event: &Event) -> Result<(), Rejection> {
    if incident.revision > 0 && event.incident != incident.id {
        return Err(Rejection::invalid(format!(
            "event {} belongs to {}, not {}",
            event.id, event.incident, incident.id
        )));
    }
    // `apply_body` validates everything before it mutates, so a rejection leaves the state as it was.
    apply_body(incident, &event.body, &event.author, event.occurred_at, event.id)?;
    incident.id.clone_from(&event.incident);
    incident.last_seq = event.seq;
    Ok(())
}

/// Folds a whole log into the incident it describes.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a Event>) -> Result<Incident, Rejection> {
    let mut inc = Incident::default();
    for e in events {
        apply(&mut inc, e)?;
    }
    Ok(inc)
}

/// Validates fully, then mutates. Increments `revision` on success.
fn apply_body(
    inc: &mut Incident,
    body: &EventBody,
    author: &str,
    at: DateTime<Utc>,
    event_id: Uuid,
) -> Result<(), Rejection> {
    let declared = inc.revision > 0;
    match body {
        EventBody::Declared { .. } if declared => {
            return Err(Rejection::invalid(format!("{} is already declared", inc.id)));
        }
        EventBody::Declared { .. } => {}
        _ if !declared => {
            return Err(Rejection::new("unknown_incident", "the incident has not been declared"));
        }
        _ if inc.is_removed() => {
            return Err(Rejection::invalid(format!(
                "{} was a demo incident and has been removed: it takes no more events",
                inc.id
            )));
        }
        EventBody::DemoRemoved {} if !inc.demo => {
            return Err(Rejection::invalid(format!(
                "{} is not a demo incident: only demo incidents can be removed",
                inc.id
            )));
        }
        _ => {}
    }
    let next_rev = inc.revision + 1;
    match body {
        EventBody::Declared { title, severity, summary, group_key, demo } => {
            check_len("title", title, MAX_TITLE, false)?;
            check_len("severity", severity, MAX_SHORT, false)?;
            check_len("summary", summary, MAX_TEXT, true)?;
            inc.title = title.trim().to_string();
            inc.severity = severity.clone();
            inc.summary = summary.clone();
            inc.group_key = group_key.clone();
            inc.demo = *demo;
            inc.status = Status::Declared;
            inc.declared_by = author.to_string();
            inc.declared_at = at;
            inc.severity_rev = next_rev;
            inc.status_rev = next_rev;
        }
        EventBody::SeverityChanged { severity } => {
            check_len("severity", severity, MAX_SHORT, false)?;
            inc.severity = severity.clone();
            inc.severity_rev = next_rev;
        }
        EventBody::StatusChanged { status } => {
            if *status == Status::Declared {
                return Err(Rejection::invalid("an incident cannot go back to `declared`"));
            }
            let s = *status;
            inc.status = s;
            let first = |slot: &mut Option<DateTime<Utc>>| {
                if slot.is_none() {
                    *slot = Some(at);
                }
            };
            if s >= Status::Acknowledged {
                first(&mut inc.acknowledged_at);
            }
            if s >= Status::Mitigated {
                first(&mut inc.mitigated_at);
            }
            if s >= Status::Resolved {
                first(&mut inc.resolved_at);
            } else {
                // Reopened: the earlier resolution no longer stands.
                inc.resolved_at = None;
                inc.closed_at = None;
            }
            if s == Status::Closed {
                first(&mut inc.closed_at);
            } else {
                inc.closed_at = None;
            }
            inc.status_rev = next_rev;
        }
        EventBody::TitleChanged { title } => {
            check_len("title", title, MAX_TITLE, false)?;
            inc.title = title.trim().to_string();
        }
        EventBody::RoleAssigned { role, holder } => {
            check_len("role", role, MAX_SHORT, false)?;
            check_len("holder", holder, MAX_SHORT, false)?;
            let holders = inc.roles.entry(role.clone()).or_default();
            if !holders.iter().any(|h| &h.holder == holder) {
                // The commander is one person: assigning replaces.
                if role == COMMANDER_ROLE {
                    holders.clear();
                }
                holders.push(RoleHolder {
                    holder: holder.clone(),
                    since: at,
                    assigned_by: author.to_string(),
                });
            }
            if role == COMMANDER_ROLE {
                inc.commander_rev = next_rev;
            }
        }
        EventBody::RoleReleased { role, holder } => {
            let Some(holders) = inc.roles.get_mut(role) else {
                return Err(Rejection::invalid(format!("nobody holds the role `{role}`")));
            };
            match holder {
                Some(h) => {
                    if !holders.iter().any(|x| &x.holder == h) {
                        return Err(Rejection::invalid(format!("{h} does not hold the role `{role}`")));
                    }
                    holders.retain(|x| &x.holder != h);
                }
                None => holders.clear(),
            }
            if holders.is_empty() {
                inc.roles.remove(role);
            }
            if role == COMMANDER_ROLE {
                inc.commander_rev = next_rev;
            }
        }
        EventBody::ChecklistItemSet { checklist, item, done } => {
            check_len("checklist", checklist, MAX_SHORT, false)?;
            check_len("item", item, MAX_SHORT, false)?;
            inc.checklist
                .insert(format!("{checklist}/{item}"), ItemState { done: *done, by: author.to_string(), at });
        }
        EventBody::PlaybookAttached { playbook } => {
            check_len("playbook", playbook, MAX_SHORT, false)?;
            if !inc.playbooks.contains(playbook) {
                inc.playbooks.push(playbook.clone());
            }
        }
        EventBody::Note(e) | EventBody::Finding(e) | EventBody::Action(e) | EventBody::Decision(e) => {
            check_len("text", &e.text, MAX_TEXT, false)?;
            if e.tags.len() > 16 {
                return Err(Rejection::invalid("at most 16 tags per entry"));
            }
            for t in &e.tags {
                check_len("tag", t, 64, false)?;
            }
        }
        EventBody::CommsSent { channel, text, .. } => {
            check_len("channel", channel, MAX_SHORT, false)?;
            check_len("text", text, MAX_TEXT, false)?;
            inc.last_comms_at = Some(at);
            inc.update_pending = true;
        }
        EventBody::AlertAttached(a) => {
            check_len("fingerprint", &a.fingerprint, MAX_SHORT, false)?;
            check_len("alert name", &a.name, MAX_SHORT, false)?;
            inc.alerts.insert(a.fingerprint.clone(), a.clone());
        }
        EventBody::ActionItemAdded { text, owner, due, priority } => {
            check_len("text", text, MAX_TEXT, false)?;
            if let Some(o) = owner {
                check_len("owner", o, MAX_SHORT, false)?;
            }
            inc.action_items.push(ActionItem {
                id: event_id,
                text: text.clone(),
                owner: owner.clone(),
                due: *due,
                priority: *priority,
                done: false,
                created_at: at,
                created_by: author.to_string(),
            });
        }
        EventBody::ActionItemUpdated { item, text, owner, due, priority, done } => {
            if let Some(t) = text {
                check_len("text", t, MAX_TEXT, false)?;
            }
            if let Some(o) = owner {
                check_len("owner", o, MAX_SHORT, true)?;
            }
            let Some(ai) = inc.action_items.iter_mut().find(|a| a.id == *item) else {
                return Err(Rejection::invalid(format!("no action item {item} in {}", inc.id)));
            };
            if let Some(t) = text {
                ai.text = t.clone();
            }
            if let Some(o) = owner {
                ai.owner = if o.is_empty() { None } else { Some(o.clone()) };
            }
            if let Some(d) = due {
                ai.due = Some(*d);
            }
            if let Some(p) = priority {
                ai.priority = *p;
            }
            if let Some(d) = done {
                ai.done = *d;
            }
        }
        EventBody::Correction { text, .. } => {
            // That the target exists in this incident is checked against the log by the store.
            check_len("text", text, MAX_TEXT, false)?;
        }
        // Notifications: a record of what the server told the world; no state changes.
        EventBody::Delivery { target, about, error, ok, .. } => {
            check_len("target", target, MAX_SHORT, false)?;
            check_len("about", about, MAX_SHORT, true)?;
            check_len("error", error, MAX_TEXT, true)?;
            // The status-update timer resets when an update is delivered: at the first
            // successful delivery (to any target) after each recorded `comms_sent`.
            if about == "comms_sent" {
                inc.updates_routed = true;
                if *ok && inc.update_pending {
                    inc.update_delivered_at = Some(at);
                    inc.update_pending = false;
                }
            }
        }
        EventBody::Escalated { level, who } => {
            check_len("level", level, MAX_SHORT, false)?;
            check_len("who", who, MAX_SHORT, true)?;
        }
        EventBody::DemoRemoved {} => inc.removed_at = Some(at),
    }
    inc.revision = next_rev;
    Ok(())
}
