//! The write transaction both SQL stores run, in one place: a declare or an append reads what it
//! needs inside one serialized transaction (clashing ids, correction targets, the incident, the
//! last seq), runs the shared append rules ([`prepare`]), and inserts and commits, or rolls back
//! a pure retry. Each store supplies only its dialect ([`WriteTx`]): SQLite under
//! `BEGIN IMMEDIATE`, PostgreSQL under a transaction-scoped advisory lock.

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
    async fn commit(self) -> StoreResult<()>;
    async fn rollback(self) -> StoreResult<()>;
    /// Notifications: the planner deciding what the new events cause, if the server set one.
    fn planner(&self) -> Option<std::sync::Arc<dyn Planner>>;
    /// Notifications: inserts delivery rows (a key already queued is kept).
    async fn insert_deliveries(&mut self, rows: &[NewDelivery]) -> StoreResult<()>;
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

/// Opens an incident with its `declared` event. A retry of a declaration answers with the
/// incident it opened, as it stands, and writes nothing.
pub(crate) async fn declare<T: WriteTx>(
    mut tx: T,
    ctx: AppendCtx<'_>,
    event: NewEvent,
) -> StoreResult<Appended> {
    if !matches!(event.body, EventBody::Declared { .. }) {
        return Err(StoreError::invalid("invalid_event", "an incident is opened by a `declared` event"));
    }
    let known = tx.known(std::slice::from_ref(&event)).await?;
    let next_seq = tx.last_seq().await? + 1;
    if let Some(prev) = known.by_id.get(&event.id) {
        let id = prev.incident.clone();
        let before = tx.load_incident(&id).await?.unwrap_or_default();
        let p = prepare(ctx, &before, &id, &known, next_seq, Utc::now(), vec![event])?;
        tx.rollback().await?;
        return Ok(Appended { incident: before, events: p.results, created: false });
    }
    let num = tx.next_incident_num().await?;
    let id = format!("INC-{num}");
    let p = prepare(ctx, &Incident::default(), &id, &known, next_seq, Utc::now(), vec![event])?;
    tx.insert_events(&p.inserts).await?;
    tx.insert_incident(&id, num, &p.state).await?;
    enqueue(&mut tx, &Incident::default(), &p).await?;
    tx.commit().await?;
    Ok(Appended { incident: p.state, events: p.results, created: true })
}

/// Appends a batch to an incident. Events already recorded (retries) are answered as recorded;
/// when nothing is new, nothing is written.
pub(crate) async fn append<T: WriteTx>(
    mut tx: T,
    ctx: AppendCtx<'_>,
    incident: &str,
    events: Vec<NewEvent>,
) -> StoreResult<Appended> {
    let Some(before) = tx.load_incident(incident).await? else {
        return Err(StoreError::NotFound(format!("no incident {incident}")));
    };
    let known = tx.known(&events).await?;
    let next_seq = tx.last_seq().await? + 1;
    let p = prepare(ctx, &before, incident, &known, next_seq, Utc::now(), events)?;
    if p.inserts.is_empty() {
        tx.rollback().await?;
        return Ok(Appended { incident: p.state, events: p.results, created: false });
    }
    tx.insert_events(&p.inserts).await?;
    tx.update_incident(incident, &p.state).await?;
    enqueue(&mut tx, &before, &p).await?;
    tx.commit().await?;
    Ok(Appended { incident: p.state, events: p.results, created: true })
}
