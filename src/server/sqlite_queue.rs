//! Notifications: the delivery queue of the SQLite store (one process writes it, through the
//! one writer connection, so a lease is taken in a plain `BEGIN IMMEDIATE` transaction; the
//! lease columns are the same as PostgreSQL's).

use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::queue::{DeliveryQueue, Finish, Leased, NewDelivery, Planner, QueueRow, from_millis, millis};
use super::sqlite::{SqliteStore, insert_deliveries};

fn finish_parts(how: &Finish) -> (&'static str, Option<i64>, Option<u16>, Option<&str>) {
    match how {
        Finish::Delivered { status } => ("delivered", None, *status, None),
        Finish::Retry { next_at, status, error } => ("pending", Some(millis(*next_at)), *status, Some(error)),
        Finish::GaveUp { status, error } => ("failed", None, *status, Some(error)),
    }
}

#[async_trait]
impl DeliveryQueue for SqliteStore {
    fn set_planner(&self, planner: Arc<dyn Planner>) {
        *self.planner.write().unwrap_or_else(|p| p.into_inner()) = Some(planner);
    }

    async fn enqueue(&self, rows: &[NewDelivery]) -> anyhow::Result<usize> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.context("queueing deliveries")?;
        let n = insert_deliveries(&mut tx, rows).await.context("queueing deliveries")?;
        tx.commit().await.context("queueing deliveries")?;
        Ok(n as usize)
    }

    async fn lease(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
        busy: &[String],
    ) -> anyhow::Result<Vec<Leased>> {
        let rows = sqlx::query(
            "UPDATE deliveries SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 \
             WHERE id IN (SELECT MIN(id) FROM deliveries WHERE state = 'pending' AND next_at <= ? \
                          AND (lease_until IS NULL OR lease_until < ?) \
                          AND target NOT IN (SELECT value FROM json_each(?)) \
                          GROUP BY target ORDER BY MIN(id) LIMIT ?) \
             RETURNING id, key, incident, event_id, target, payload, attempts, created_at",
        )
        .bind(owner)
        .bind(millis(until))
        .bind(millis(now))
        .bind(millis(now))
        .bind(serde_json::to_string(busy)?)
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await
        .context("leasing deliveries")?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let event_id: String = row.try_get("event_id")?;
            let attempts: i64 = row.try_get("attempts")?;
            out.push(Leased {
                id: row.try_get("id")?,
                key: row.try_get("key")?,
                incident: row.try_get("incident")?,
                event_id: Uuid::parse_str(&event_id).context("a delivery's event id")?,
                target: row.try_get("target")?,
                payload: row.try_get("payload")?,
                attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
                created_at: from_millis(row.try_get("created_at")?),
            });
        }
        out.sort_by_key(|l| l.id);
        Ok(out)
    }

    async fn finish(&self, id: i64, owner: &str, how: Finish) -> anyhow::Result<bool> {
        let (state, next_at, status, error) = finish_parts(&how);
        let done = sqlx::query(
            "UPDATE deliveries SET state = ?, next_at = COALESCE(?, next_at), lease_owner = NULL, \
             lease_until = NULL, last_status = ?, last_error = ? WHERE id = ? AND lease_owner = ?",
        )
        .bind(state)
        .bind(next_at)
        .bind(status.map(i64::from))
        .bind(error)
        .bind(id)
        .bind(owner)
        .execute(&self.writer)
        .await
        .context("recording a delivery attempt")?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_many(&self, owner: &str, rows: Vec<(i64, Finish)>) -> anyhow::Result<Vec<bool>> {
        // One write transaction (one fsync) for the round: the single writer is shared with
        // appends.
        let mut tx =
            self.writer.begin_with("BEGIN IMMEDIATE").await.context("recording delivery attempts")?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, how) in rows {
            let (state, next_at, status, error) = finish_parts(&how);
            let done = sqlx::query(
                "UPDATE deliveries SET state = ?, next_at = COALESCE(?, next_at), lease_owner = NULL, \
                 lease_until = NULL, last_status = ?, last_error = ? WHERE id = ? AND lease_owner = ?",
            )
            .bind(state)
            .bind(next_at)
            .bind(status.map(i64::from))
            .bind(error)
            .bind(id)
            .bind(owner)
            .execute(&mut *tx)
            .await
            .context("recording a delivery attempt")?;
            out.push(done.rows_affected() == 1);
        }
        tx.commit().await.context("recording delivery attempts")?;
        Ok(out)
    }

    async fn release(&self, owner: &str) -> anyhow::Result<u64> {
        let done = sqlx::query(
            "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL \
             WHERE lease_owner = ? AND state = 'pending'",
        )
        .bind(owner)
        .execute(&self.writer)
        .await
        .context("releasing delivery leases")?;
        Ok(done.rows_affected())
    }

    async fn prune(&self, before: DateTime<Utc>) -> anyhow::Result<u64> {
        let done =
            sqlx::query("DELETE FROM deliveries WHERE state IN ('delivered', 'failed') AND created_at < ?")
                .bind(millis(before))
                .execute(&self.writer)
                .await
                .context("pruning finished deliveries")?;
        Ok(done.rows_affected())
    }

    async fn rows(&self) -> anyhow::Result<Vec<QueueRow>> {
        let rows = sqlx::query(
            "SELECT key, incident, target, state, attempts, lease_owner FROM deliveries ORDER BY id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let attempts: i64 = r.try_get("attempts")?;
                Ok(QueueRow {
                    key: r.try_get("key")?,
                    incident: r.try_get("incident")?,
                    target: r.try_get("target")?,
                    state: r.try_get("state")?,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    lease_owner: r.try_get("lease_owner")?,
                })
            })
            .collect()
    }
}
