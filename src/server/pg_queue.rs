//! Notifications: the delivery queue of the PostgreSQL store. Replicas lease rows with
//! `FOR UPDATE SKIP LOCKED`, so two never take the same row at once; a lease has an expiry, so
//! the rows of a replica that died are taken over when it passes.

use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::postgres::{PgStore, insert_deliveries};
use super::queue::{DeliveryQueue, Finish, Leased, NewDelivery, Planner, QueueRow, from_millis, millis};

#[async_trait]
impl DeliveryQueue for PgStore {
    fn set_planner(&self, planner: Arc<dyn Planner>) {
        *self.planner.write().unwrap_or_else(|p| p.into_inner()) = Some(planner);
    }

    async fn enqueue(&self, rows: &[NewDelivery]) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await.context("queueing deliveries")?;
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
        // The outer conditions repeat the inner ones: a row another replica leased after this
        // statement's snapshot is re-checked when locked, and skipped.
        let rows = sqlx::query(
            "WITH due AS (SELECT id FROM deliveries WHERE id IN ( \
                              SELECT MIN(id) FROM deliveries WHERE state = 'pending' AND next_at <= $1 \
                              AND (lease_until IS NULL OR lease_until < $1) AND NOT (target = ANY($5)) \
                              GROUP BY target) \
                          AND state = 'pending' AND (lease_until IS NULL OR lease_until < $1) \
                          ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) \
             UPDATE deliveries d SET lease_owner = $3, lease_until = $4, attempts = d.attempts + 1 \
             FROM due WHERE d.id = due.id \
             RETURNING d.id, d.key, d.incident, d.event_id, d.target, d.payload, d.attempts, d.created_at",
        )
        .bind(millis(now))
        .bind(i64::from(limit))
        .bind(owner)
        .bind(millis(until))
        .bind(busy)
        .fetch_all(&self.pool)
        .await
        .context("leasing deliveries")?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let attempts: i32 = row.try_get("attempts")?;
            out.push(Leased {
                id: row.try_get("id")?,
                key: row.try_get("key")?,
                incident: row.try_get("incident")?,
                event_id: row.try_get("event_id")?,
                target: row.try_get("target")?,
                payload: row.try_get("payload")?,
                attempt: u32::try_from(attempts).unwrap_or(0),
                created_at: from_millis(row.try_get("created_at")?),
            });
        }
        out.sort_by_key(|l| l.id);
        Ok(out)
    }

    async fn finish(&self, id: i64, owner: &str, how: Finish) -> anyhow::Result<bool> {
        let (state, next_at, status, error) = match &how {
            Finish::Delivered { status } => ("delivered", None, *status, None),
            Finish::Retry { next_at, status, error } => {
                ("pending", Some(millis(*next_at)), *status, Some(error.as_str()))
            }
            Finish::GaveUp { status, error } => ("failed", None, *status, Some(error.as_str())),
        };
        let done = sqlx::query(
            "UPDATE deliveries SET state = $1, next_at = COALESCE($2, next_at), lease_owner = NULL, \
             lease_until = NULL, last_status = $3, last_error = $4 WHERE id = $5 AND lease_owner = $6",
        )
        .bind(state)
        .bind(next_at)
        .bind(status.map(i32::from))
        .bind(error)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await
        .context("recording a delivery attempt")?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_many(&self, owner: &str, rows: Vec<(i64, Finish)>) -> anyhow::Result<Vec<bool>> {
        let mut tx = self.pool.begin().await.context("recording delivery attempts")?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, how) in rows {
            let (state, next_at, status, error) = match &how {
                Finish::Delivered { status } => ("delivered", None, *status, None),
                Finish::Retry { next_at, status, error } => {
                    ("pending", Some(millis(*next_at)), *status, Some(error.as_str()))
                }
                Finish::GaveUp { status, error } => ("failed", None, *status, Some(error.as_str())),
            };
            let done = sqlx::query(
                "UPDATE deliveries SET state = $1, next_at = COALESCE($2, next_at), lease_owner = NULL, \
                 lease_until = NULL, last_status = $3, last_error = $4 WHERE id = $5 AND lease_owner = $6",
            )
            .bind(state)
            .bind(next_at)
            .bind(status.map(i32::from))
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
             WHERE lease_owner = $1 AND state = 'pending'",
        )
        .bind(owner)
        .execute(&self.pool)
        .await
        .context("releasing delivery leases")?;
        Ok(done.rows_affected())
    }

    async fn prune(&self, before: DateTime<Utc>) -> anyhow::Result<u64> {
        let done =
            sqlx::query("DELETE FROM deliveries WHERE state IN ('delivered', 'failed') AND created_at < $1")
                .bind(millis(before))
                .execute(&self.pool)
                .await
                .context("pruning finished deliveries")?;
        Ok(done.rows_affected())
    }

    async fn rows(&self) -> anyhow::Result<Vec<QueueRow>> {
        let rows = sqlx::query(
            "SELECT key, incident, target, state, attempts, lease_owner FROM deliveries ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let attempts: i32 = r.try_get("attempts")?;
                Ok(QueueRow {
                    key: r.try_get("key")?,
                    incident: r.try_get("incident")?,
                    target: r.try_get("target")?,
                    state: r.try_get("state")?,
                    attempts: u32::try_from(attempts).unwrap_or(0),
                    lease_owner: r.try_get("lease_owner")?,
                })
            })
            .collect()
    }
}
