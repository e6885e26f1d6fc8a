//! The `Store` trait: the event log, the folded incidents and the tokens, behind one object-safe
//! async interface (`Arc<dyn Store>`), plus the append rules every store runs the same way
//! ([`prepare`]): idempotency by event id, practice checks, role checks, `If-Match`, correction
//! targets and the domain fold.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

use super::queue::DeliveryQueue;

/// Called with the events of each commit, in seq order; returns false once it is no longer
/// interested (its hub is gone), after which it is dropped (see `group_commit`).
pub type Sink = std::sync::Arc<dyn Fn(&[Event]) -> bool + Send + Sync>;
use crate::api::auth::AuditEntry;
use crate::api::{Role, TokenInfo};
use crate::domain::{Conflict, Event, EventBody, Incident, NewEvent, Practice, Rejection};

/// Who appends, as what, and against which revision. The author is the token's name.
#[derive(Debug, Clone, Copy)]
pub struct AppendCtx<'a> {
    pub author: &'a str,
    pub role: Role,
    pub practice: &'a Practice,
    /// The incident revision a guarded change was made against (`If-Match`).
    pub if_match: Option<u64>,
}

/// The result of an append or a declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub incident: Incident,
    /// The events as recorded, in the order asked (retried ones as first recorded).
    pub events: Vec<Event>,
    /// Whether anything new was written (false for a pure retry).
    pub created: bool,
}

/// Which incidents `list_incidents` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListFilter {
    /// Open incidents only.
    Open,
    /// Open incidents and the most recently resolved or closed ones.
    #[default]
    Recent,
    /// Every incident.
    All,
}

/// How many resolved incidents [`ListFilter::Recent`] includes.
pub const RECENT_RESOLVED: usize = 20;

/// A token as the server checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub revoked: bool,
}

impl From<TokenInfo> for TokenRecord {
    fn from(t: TokenInfo) -> Self {
        TokenRecord { id: t.id, name: t.name, role: t.role, revoked: t.revoked_at.is_some() }
    }
}

/// A signed-in user's session (OpenID Connect), as the server checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: Uuid,
    pub user: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// Creating a token under a name an active token holds: the caller's mistake.
pub fn name_taken(name: &str) -> StoreError {
    StoreError::invalid("name_taken", format!("an active token named `{name}` exists"))
}

/// Why a store operation failed. Everything but `Backend` is the caller's mistake (4xx).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// An invalid event or request: `code` is machine-readable.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// A guarded change made against a stale revision; `current` is the incident now.
    #[error("{conflict}")]
    Stale { conflict: Conflict, current: Box<Incident> },
    /// The store is busy (locked database, exhausted pool): retry later.
    #[error("store busy: {0}")]
    Busy(String),
    /// The database refuses writes (read-only, full disk): nothing was recorded, reads work.
    /// Answered with a 503 `store_unavailable`.
    #[error("the database refuses writes: {0}")]
    Unavailable(String),
    /// The store failed (I/O, corrupt row, ...). Logged, answered with a 500.
    #[error(transparent)]
    Backend(#[from] anyhow::Error),
}

impl StoreError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        StoreError::Invalid { code, message: message.into() }
    }
}

impl From<Rejection> for StoreError {
    fn from(r: Rejection) -> Self {
        StoreError::Invalid { code: r.code, message: r.message }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The event log and everything derived from it. One implementation per database; an in-memory
/// one for unit tests. Writes are serialized: `seq` is allocated as `max + 1` inside the write
/// transaction, so a seq never becomes visible after a larger one.
/// Group commit so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupTotals {
    /// Write transactions run.
    pub groups: u64,
    /// The declares and appends they carried (over `groups`: the mean group size).
    pub requests: u64,
    /// Groups run a second time because what they took from the store's memory of its last
    /// commit had changed (PostgreSQL: another replica wrote meanwhile, or a retry).
    pub reruns: u64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Opens a new incident with a `declared` event, allocating its `INC-<n>` id. A retry of
    /// the same event returns the incident it opened.
    async fn declare(&self, ctx: AppendCtx<'_>, event: NewEvent) -> StoreResult<Appended>;

    /// Appends events to an incident, all or nothing.
    async fn append(
        &self,
        ctx: AppendCtx<'_>,
        incident: &str,
        events: Vec<NewEvent>,
    ) -> StoreResult<Appended>;

    /// The highest seq recorded (0 when empty).
    async fn last_seq(&self) -> StoreResult<u64>;

    /// The server's practice, handed over once at start: a write whose context points at this
    /// very practice is not compared with the last one field by field (group commit keeps the
    /// practice of its requests; comparing a whole practice cost 6% of an append's CPU).
    fn share_practice(&self, practice: &Arc<Practice>) {
        let _ = practice;
    }

    /// Group commit so far (`/metrics`, [`GroupTotals`]). `None`: the store does not group.
    fn write_groups(&self) -> Option<GroupTotals> {
        None
    }

    /// Events with seq > `after`, in seq order, at most `limit`, optionally of one incident.
    async fn events_after(&self, after: u64, limit: u32, incident: Option<&str>) -> StoreResult<Vec<Event>>;

    /// The incidents and the seq they reflect, read in one snapshot.
    async fn list_incidents(&self, filter: ListFilter) -> StoreResult<(u64, Vec<Incident>)>;

    /// One incident (and its events when asked), and the seq it reflects, in one snapshot.
    async fn incident(&self, id: &str, with_events: bool) -> StoreResult<Option<Snapshot>>;

    /// Records a new token (its secret's SHA-256 only). Names are unique among active tokens.
    async fn create_token(&self, name: &str, role: Role, hash: [u8; 32]) -> StoreResult<TokenInfo>;

    /// The token whose secret hashes to `hash`, revoked or not.
    async fn find_token(&self, hash: [u8; 32]) -> StoreResult<Option<TokenRecord>>;

    async fn list_tokens(&self) -> StoreResult<Vec<TokenInfo>>;

    /// Revokes the active token with this name, or the token with this id.
    async fn revoke_token(&self, name_or_id: &str) -> StoreResult<TokenInfo>;

    // oidc: sign-in sessions and the audit log (the SQL stores keep them, see `sql_auth`;
    // a store without them knows no session and keeps no audit).

    /// Records a new session (its secret's SHA-256 only).
    async fn create_session(&self, session: &SessionRecord, hash: [u8; 32]) -> StoreResult<()> {
        let _ = (session, hash);
        Err(StoreError::Backend(anyhow::anyhow!("this store keeps no sessions")))
    }

    /// The session whose secret hashes to `hash`, ended or expired or not.
    async fn find_session(&self, hash: [u8; 32]) -> StoreResult<Option<SessionRecord>> {
        let _ = hash;
        Ok(None)
    }

    /// Ends the session whose secret hashes to `hash` as of `at`; the session, if it was open.
    async fn end_session(&self, hash: [u8; 32], at: DateTime<Utc>) -> StoreResult<Option<SessionRecord>> {
        let _ = (hash, at);
        Ok(None)
    }

    /// Appends to the audit log.
    async fn record_audit(&self, actor: &str, action: &str, subject: &str, detail: &str) -> StoreResult<()> {
        let _ = (actor, action, subject, detail);
        Ok(())
    }

    /// Audit entries at or after `since` (all when `None`), oldest first, at most `limit`.
    async fn audit_since(&self, since: Option<DateTime<Utc>>, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let _ = (since, limit);
        Ok(Vec::new())
    }

    /// Calls `wake` whenever another process or replica may have committed events (e.g. on a
    /// PostgreSQL NOTIFY). `wake` returns false once nobody listens any more; stop then.
    /// Stores that only this process writes need not do anything.
    fn listen(&self, wake: std::sync::Arc<dyn Fn() -> bool + Send + Sync>) {
        let _ = wake;
    }

    /// Direct publish: calls `sink` with the events of each commit this store makes, in seq
    /// order, right after the commit and before the writers are answered (the fan-out hub
    /// publishes them without reading them back). Stores that do not call it leave the hub's
    /// tailer to find the events.
    fn on_commit(&self, sink: Sink) {
        let _ = sink;
    }

    /// Notifications: the store's durable delivery queue, if it keeps one (the SQL stores).
    fn delivery_queue(&self) -> Option<&dyn DeliveryQueue> {
        None
    }
}

/// An incident as read in one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub seq: u64,
    pub incident: Incident,
    pub events: Option<Vec<Event>>,
}

/// What a store already holds that the append rules need to see, looked up inside the write
/// transaction before [`prepare`] runs.
#[derive(Debug, Default)]
pub struct Known {
    /// Recorded events whose id is one of the batch's ids (retries and id clashes).
    pub by_id: HashMap<Uuid, Event>,
    /// Incident of each recorded event a correction in the batch targets.
    pub targets: HashMap<Uuid, String>,
    /// Kind of each recorded event a correction in the batch targets (a correction amends
    /// entries only: [`crate::domain::EventKind::is_correctable`]).
    pub target_kinds: HashMap<Uuid, crate::domain::EventKind>,
}

impl Known {
    /// The ids a store must look up for a batch: the events' own ids and correction targets.
    pub fn wanted(events: &[NewEvent]) -> (Vec<Uuid>, Vec<Uuid>) {
        let ids = events.iter().map(|e| e.id).collect();
        let targets = events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Correction { target, .. } => Some(*target),
                _ => None,
            })
            .collect();
        (ids, targets)
    }
}

/// The outcome of [`prepare`]: what to insert and what to answer.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// New events to insert, in seq order starting at the `next_seq` given.
    pub inserts: Vec<Event>,
    /// Every event of the batch as recorded (retries as first recorded), in batch order.
    pub results: Vec<Event>,
    /// The incident after the new events.
    pub state: Incident,
}

/// Runs the append rules for a batch against the incident's state, without I/O. Checks, per
/// event: role, practice (canonicalising the severity), idempotency by id, `If-Match` (against
/// the state before the batch), correction target, and the fold itself. All or nothing.
pub fn prepare(
    ctx: AppendCtx<'_>,
    before: &Incident,
    incident_id: &str,
    known: &Known,
    next_seq: u64,
    now: DateTime<Utc>,
    events: Vec<NewEvent>,
) -> StoreResult<Prepared> {
    let now = now.trunc_subsecs(6);
    let mut state = before.clone();
    let mut seq = next_seq;
    let mut inserts: Vec<Event> = Vec::new();
    let mut results = Vec::with_capacity(events.len());
    for new in events {
        if !ctx.role.may_append(&new.body) {
            return Err(StoreError::Forbidden(format!(
                "a {} token may not append `{}` events (needs {})",
                ctx.role,
                new.body.kind(),
                Role::required_for(new.body.kind())
            )));
        }
        let mut canonical = new.clone();
        // Microseconds: what every database keeps exactly (PostgreSQL's timestamptz), so a
        // retry compares equal to what was stored.
        canonical.occurred_at = canonical.occurred_at.trunc_subsecs(6);
        let checked = ctx.practice.check_event(&mut canonical.body);
        let earlier = known.by_id.get(&new.id).or_else(|| inserts.iter().find(|e| e.id == new.id));
        if let Some(prev) = earlier {
            let as_new = prev.as_new();
            let same =
                prev.incident == incident_id && (as_new == new || (checked.is_ok() && as_new == canonical));
            if !same {
                return Err(StoreError::invalid(
                    "id_conflict",
                    format!(
                        "event id {} is already recorded (in {}) with a different content",
                        new.id, prev.incident
                    ),
                ));
            }
            results.push(prev.clone());
            continue;
        }
        checked?;
        crate::domain::incident::check_new(&canonical.body)?;
        if !(1970..=9999).contains(&chrono::Datelike::year(&new.occurred_at)) {
            return Err(StoreError::invalid(
                "invalid_event",
                format!("occurred_at {} is not a plausible time", new.occurred_at),
            ));
        }
        crate::domain::incident::check_time(&state, &canonical.body, canonical.occurred_at, now)?;
        if let Err(conflict) = before.check_revision(&canonical.body, ctx.if_match) {
            return Err(StoreError::Stale { conflict, current: Box::new(before.clone()) });
        }
        if let EventBody::Correction { target, .. } = &canonical.body {
            let target_incident = known
                .targets
                .get(target)
                .map(String::as_str)
                .or_else(|| inserts.iter().find(|e| e.id == *target).map(|e| e.incident.as_str()));
            if target_incident != Some(incident_id) {
                return Err(StoreError::invalid(
                    "invalid_target",
                    format!("correction target {target} is not an event of {incident_id}"),
                ));
            }
            let target_kind = known
                .target_kinds
                .get(target)
                .copied()
                .or_else(|| inserts.iter().find(|e| e.id == *target).map(|e| e.kind()));
            if let Some(kind) = target_kind {
                crate::domain::incident::check_correction_target(kind)?;
            }
        }
        let event = Event {
            seq,
            id: canonical.id,
            incident: incident_id.to_string(),
            author: ctx.author.to_string(),
            occurred_at: canonical.occurred_at,
            recorded_at: now,
            body: canonical.body,
        };
        crate::domain::apply(&mut state, &event)?;
        seq += 1;
        inserts.push(event.clone());
        results.push(event);
    }
    Ok(Prepared { inserts, results, state })
}

/// Checks a token name: 1 to 64 characters, no control characters or spaces at the ends.
pub fn check_token_name(name: &str) -> StoreResult<()> {
    let n = name.chars().count();
    if n == 0 || n > 64 || name.trim() != name || name.chars().any(char::is_control) {
        return Err(StoreError::invalid(
            "invalid_name",
            "a token name is 1 to 64 characters, without control characters or surrounding spaces",
        ));
    }
    Ok(())
}

/// Sorts incidents for a list: open ones first (most severe, then newest), then the others
/// (most recently changed first).
pub fn sort_for_list(practice: &Practice, incidents: &mut [Incident]) {
    let scheme = practice.scheme();
    incidents.sort_by(|a, b| {
        b.is_open()
            .cmp(&a.is_open())
            .then_with(|| {
                if a.is_open() {
                    scheme.rank(&a.severity).cmp(&scheme.rank(&b.severity))
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .then_with(|| {
                if a.is_open() { b.declared_at.cmp(&a.declared_at) } else { b.last_seq.cmp(&a.last_seq) }
            })
    });
}
