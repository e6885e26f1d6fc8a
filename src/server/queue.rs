//! The durable delivery queue (notifications, `server::notify`): the rows both SQL stores keep
//! in the `deliveries` table, what a store needs to write them in the same transaction as the
//! events that cause them ([`Planner`]), and what the delivery worker needs to lease and finish
//! them ([`DeliveryQueue`]). Types only: the stores implement them, `notify` uses them.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{Event, Incident};

/// A delivery to enqueue: one message to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// Unique per cause and target (e.g. `<event id>/<target>`): enqueueing the same key twice
    /// (a retried append, a second replica) keeps the first row.
    pub key: String,
    pub incident: String,
    /// The event that caused it (its id is the idempotency key targets see).
    pub event_id: Uuid,
    pub target: String,
    /// The message (JSON of `notify::Message`); never a secret.
    pub payload: String,
    pub due_at: DateTime<Utc>,
}

/// A row the worker leased: send it, then [`DeliveryQueue::finish`] it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leased {
    pub id: i64,
    pub key: String,
    pub incident: String,
    pub event_id: Uuid,
    pub target: String,
    pub payload: String,
    /// This attempt's number (1 for the first).
    pub attempt: u32,
    pub created_at: DateTime<Utc>,
}

/// How an attempt ended, for the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    Delivered {
        status: Option<u16>,
    },
    /// Try again at `next_at`.
    Retry {
        next_at: DateTime<Utc>,
        status: Option<u16>,
        error: String,
    },
    /// No more attempts.
    GaveUp {
        status: Option<u16>,
        error: String,
    },
}

/// A row as it stands (tests and `notify` inspection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRow {
    pub key: String,
    pub incident: String,
    pub target: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub lease_owner: Option<String>,
}

/// Decides, inside the append transaction, which deliveries newly recorded events cause.
pub trait Planner: Send + Sync {
    fn plan(&self, before: &Incident, after: &Incident, events: &[Event]) -> Vec<NewDelivery>;
}

/// The shared slot a store keeps its planner in (none until the server installs one).
pub type PlannerSlot = Arc<std::sync::RwLock<Option<Arc<dyn Planner>>>>;

/// The planner in a slot, if any.
pub fn planner_of(slot: &PlannerSlot) -> Option<Arc<dyn Planner>> {
    slot.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The delivery queue of a SQL store. Leases make each row one worker's at a time: a row
/// leased by a replica that dies is taken over once its lease expires.
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// From now on, appends enqueue what `planner` plans, in their own transaction.
    fn set_planner(&self, planner: Arc<dyn Planner>);

    /// Enqueues rows outside an append (time-driven notices); a key already present is kept.
    /// Returns how many rows were new.
    async fn enqueue(&self, rows: &[NewDelivery]) -> anyhow::Result<usize>;

    /// Leases up to `limit` rows due at `now` whose lease is free or expired, at most one per
    /// target and none of the `busy` targets (one attempt per target at a time keeps a target's
    /// messages in order and its rate limits honoured), for `owner` until `until`, counting
    /// the attempt.
    async fn lease(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
        busy: &[String],
    ) -> anyhow::Result<Vec<Leased>>;

    /// Records an attempt's end, if `owner` still holds the lease (false otherwise).
    async fn finish(&self, id: i64, owner: &str, how: Finish) -> anyhow::Result<bool>;

    /// [`DeliveryQueue::finish`] for several rows at once (the worker's results of one round),
    /// in one transaction where the store can. Returns, per row, whether `owner` still held it.
    async fn finish_many(&self, owner: &str, rows: Vec<(i64, Finish)>) -> anyhow::Result<Vec<bool>> {
        let mut out = Vec::with_capacity(rows.len());
        for (id, how) in rows {
            out.push(self.finish(id, owner, how).await?);
        }
        Ok(out)
    }

    /// Gives up `owner`'s leases on rows still pending (a graceful stop: attempts in flight were
    /// abandoned, so the next start or another replica retries them at once, under the same
    /// idempotency key, instead of waiting for the lease to expire). Returns how many.
    async fn release(&self, owner: &str) -> anyhow::Result<u64>;

    /// Deletes finished rows (`delivered` or `failed`) queued before `before` (the retention);
    /// pending rows are kept whatever their age. Returns how many.
    async fn prune(&self, before: DateTime<Utc>) -> anyhow::Result<u64>;

    /// Every row, oldest first.
    async fn rows(&self) -> anyhow::Result<Vec<QueueRow>>;
}

/// Milliseconds since the epoch: how both stores keep the queue's times (plain integers compare
/// the same in SQLite and PostgreSQL).
pub fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
