//! The write transaction both SQL stores run, in one place: a declare or an append reads what it
//! needs inside one serialized transaction (clashing ids, correction targets, the incident, the
//! last seq), runs the shared append rules ([`prepare`]), and inserts (or, for a pure retry,
//! writes nothing). Each store supplies only its dialect ([`WriteTx`]): SQLite under
//! `BEGIN IMMEDIATE`, PostgreSQL under a transaction-scoped advisory lock. The transaction is
//! the group committer's ([`super::group_commit`]): several requests may share it.

use async_trait::async_trait;
use chrono::Utc;

use super::queue::{NewDelivery, Planner};
use super::store::{AppendCtx, Appended, Known, Prepared, StoreError, StoreResult, prepare};
use crate::domain::{Event, EventBody, Incident, NewEvent};

/// One open write transaction, holding the store's write lock until commit or rollback.
#[async_trait]
pub(crate) trait WriteTx: Send {
    /// The recorded events the batch's ids clash with, and its correction targets' incidents.
    async fn known(&mut self, events: &[NewEvent]) -> StoreResult<Known>;
    async fn last_seq(&mut self) -> StoreResult<u64>;
    async fn load_incident(&mut self, id: &str) -> StoreResult<Option<Incident>>;
    /// The number the next declared incident gets (`INC-<n>`).
    async fn next_incident_num(&mut self) -> StoreResult<i64>;
    async fn insert_events(&mut self, events: &[Event]) -> StoreResult<()>;
    async fn insert_incident(&mut self, id: &str, num: i64, state: &Incident) -> StoreResult<()>;
    async fn update_incident(&mut self, id: &str, state: &Incident) -> StoreResult<()>;
    /// Commits. `Ok(false)`: nothing was written, because what an [`optimistic`](Self::optimistic)
    /// transaction took as read turned out out of date at commit (the work is to be run again).
    async fn commit(self) -> StoreResult<bool>;
    async fn rollback(self) -> StoreResult<()>;
    /// Notifications: the planner deciding what the new events cause, if the server set one.
    fn planner(&self) -> Option<std::sync::Arc<dyn Planner>>;
    /// Notifications: inserts delivery rows (a key already queued is kept).
    async fn insert_deliveries(&mut self, rows: &[NewDelivery]) -> StoreResult<()>;
    /// Runs a statement without results (group commit's savepoints).
    async fn execute(&mut self, sql: &'static str) -> StoreResult<()>;

    /// Group commit: called once per group, before its requests run, with the incidents they
    /// append to and every event they carry, so a store can read what they will ask for in one
    /// go (PostgreSQL: one round trip instead of several per request). The default reads
    /// nothing ahead.
    async fn prefetch(&mut self, incidents: &[&str], events: &[&NewEvent]) -> StoreResult<()> {
        let _ = (incidents, events);
        Ok(())
    }

    /// Group commit, after [`prefetch`](Self::prefetch): whether what the group reads comes from
    /// the store's memory of its own last commit instead of the database. Such a transaction is
    /// checked only by its commit, so nothing it decided (an answer, a refusal) may be told
    /// before that commit confirmed it; one that writes nothing confirms nothing.
    fn optimistic(&self) -> bool {
        false
    }

    /// Group commit: marks where this request's writes begin.
    async fn savepoint(&mut self) -> StoreResult<()> {
        self.execute("SAVEPOINT group_member").await
    }
    /// Group commit: keeps this request's writes.
    async fn release_savepoint(&mut self) -> StoreResult<()> {
        self.execute("RELEASE SAVEPOINT group_member").await
    }
    /// Group commit: undoes this request's writes (and only them).
    async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        self.execute("ROLLBACK TO SAVEPOINT group_member").await?;
        self.execute("RELEASE SAVEPOINT group_member").await
    }
}

/// Notifications: queues what the new events cause, in the write transaction.
async fn enqueue<T: WriteTx>(tx: &mut T, before: &Incident, p: &Prepared) -> StoreResult<()> {
    if let Some(planner) = tx.planner() {
        let rows = planner.plan(before, &p.state, &p.inserts);
        if !rows.is_empty() {
            tx.insert_deliveries(&rows).await?;
        }
    }
    Ok(())
}

/// What one declare or append did inside a transaction that is not committed yet.
pub(crate) struct Written {
    pub appended: Appended,
    /// The events it inserted, in seq order (none for a pure retry).
    pub inserted: Vec<Event>,
}

/// Opens an incident with its `declared` event, inside `tx` (the caller commits). A retry of a
/// declaration answers with the incident it opened, as it stands, and writes nothing.
pub(crate) async fn declare_in<T: WriteTx>(
    tx: &mut T,
    ctx: AppendCtx<'_>,
    event: NewEvent,
) -> StoreResult<Written> {
    if !matches!(event.body, EventBody::Declared { .. }) {
        return Err(StoreError::invalid("invalid_event", "an incident is opened by a `declared` event"));
    }
    let known = tx.known(std::slice::from_ref(&event)).await?;
    let next_seq = tx.last_seq().await? + 1;
    if let Some(prev) = known.by_id.get(&event.id) {
        let id = prev.incident.clone();
        let before = tx.load_incident(&id).await?.unwrap_or_default();
        let p = prepare(ctx, &before, &id, &known, next_seq, Utc::now(), vec![event])?;
        let appended = Appended { incident: before, events: p.results, created: false };
        return Ok(Written { appended, inserted: Vec::new() });
    }
    let num = tx.next_incident_num().await?;
    let id = format!("INC-{num}");
    let p = prepare(ctx, &Incident::default(), &id, &known, next_seq, Utc::now(), vec![event])?;
    tx.insert_events(&p.inserts).await?;
    tx.insert_incident(&id, num, &p.state).await?;
    enqueue(tx, &Incident::default(), &p).await?;
    let Prepared { inserts, results, state } = p;
    Ok(Written { appended: Appended { incident: state, events: results, created: true }, inserted: inserts })
}

/// Appends a batch to an incident, inside `tx` (the caller commits). Events already recorded
/// (retries) are answered as recorded; when nothing is new, nothing is written.
pub(crate) async fn append_in<T: WriteTx>(
    tx: &mut T,
    ctx: AppendCtx<'_>,
    incident: &str,
    events: Vec<NewEvent>,
) -> StoreResult<Written> {
    let Some(before) = tx.load_incident(incident).await? else {
        return Err(StoreError::NotFound(format!("no incident {incident}")));
    };
    let known = tx.known(&events).await?;
    let next_seq = tx.last_seq().await? + 1;
    let p = prepare(ctx, &before, incident, &known, next_seq, Utc::now(), events)?;
    if p.inserts.is_empty() {
        let appended = Appended { incident: p.state, events: p.results, created: false };
        return Ok(Written { appended, inserted: Vec::new() });
    }
    tx.insert_events(&p.inserts).await?;
    tx.update_incident(incident, &p.state).await?;
    enqueue(tx, &before, &p).await?;
    let Prepared { inserts, results, state } = p;
    Ok(Written { appended: Appended { incident: state, events: results, created: true }, inserted: inserts })
}
