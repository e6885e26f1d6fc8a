//! The PostgreSQL `Store` (sqlx, runtime queries) for several `warroom serve` replicas on one
//! database.
//!
//! Ordering across replicas: every write transaction first takes one transaction-level advisory
//! lock, then allocates `seq = max(seq) + 1`, inserts, and commits (which releases the lock).
//! Writers therefore commit in seq order, and a reader can never see seq N+1 before seq N is
//! visible: "after N" readers never skip a row, whichever replica wrote it. A plain SEQUENCE
//! would not do: two transactions can commit in the opposite order of their numbers.
//!
//! Fan-out: each commit sends `NOTIFY warroom_events, '<seq>'` (a wake-up hint only); every
//! replica LISTENs and pokes its hub, whose tailer reads the rows. The hub's poll is the
//! backstop for notifications missed while a listener reconnects.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{PgConnection, Row, SqlSafeStr};
use uuid::Uuid;

use super::group_commit::{GroupCommit, Sink, Writer};
use super::queue::{NewDelivery, Planner, PlannerSlot, millis, planner_of};
use super::sql_auth;
use super::sql_tokens::{self, TokenSql};
use super::sql_write::WriteTx;
use super::store::SessionRecord;
use super::store::{
    AppendCtx, Appended, Known, ListFilter, RECENT_RESOLVED, Snapshot, Store, StoreError, StoreResult,
    TokenRecord,
};
use crate::api::auth::AuditEntry;
use crate::api::{Role, TokenInfo};
use crate::domain::{Event, EventBody, Incident, NewEvent};

/// The advisory lock key every writer takes (any constant; "warroom" in ASCII).
const WRITE_LOCK: i64 = 0x0077_6172_726f_6f6d;
/// The notification channel.
pub const CHANNEL: &str = "warroom_events";

pub struct PgStore {
    pub(super) pool: PgPool,
    url: String,
    /// Notifications: what appends enqueue (set by the server).
    pub(super) planner: PlannerSlot,
    /// Declares and appends, committed in groups.
    group: GroupCommit<PgWriter>,
}

/// Begins the write transactions of group commit (taking the global write lock).
struct PgWriter {
    pool: PgPool,
    planner: PlannerSlot,
}

#[async_trait]
impl Writer for PgWriter {
    type Tx = PgTx;
    async fn begin(&self) -> StoreResult<PgTx> {
        begin_write(&self.pool, &self.planner).await
    }
}

fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "init".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0001_init.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "notify".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0002_notify.sql").into_sql_str(),
            false,
        ),
        // oidc: sign-in sessions and the audit log.
        Migration::new(
            3,
            "auth".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0003_auth.sql").into_sql_str(),
            false,
        ),
    ])
}

impl PgStore {
    /// Connects to `postgres://...` and migrates (migrations take their own lock, so replicas
    /// starting together are fine).
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let opts: PgConnectOptions =
            url.parse().with_context(|| "invalid PostgreSQL URL (expected postgres://user:pass@host/db)")?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .context("connecting to PostgreSQL")?;
        migrator().run(&pool).await.context("migrating the PostgreSQL database")?;
        let planner = PlannerSlot::default();
        let group = GroupCommit::new(PgWriter { pool: pool.clone(), planner: planner.clone() });
        Ok(Self { pool, url: url.to_string(), planner, group })
    }

    /// Drops every warroom table (tests only: gives each test run a clean database).
    #[doc(hidden)]
    pub async fn reset(url: &str) -> anyhow::Result<()> {
        let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
        sqlx::raw_sql(
            "DROP TABLE IF EXISTS events, incidents, tokens, sessions, audit, deliveries, _sqlx_migrations CASCADE",
        )
        .execute(&pool)
        .await?;
        pool.close().await;
        Ok(())
    }
}

fn db(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::PoolTimedOut = e {
        return StoreError::Busy("no database connection became free in time".into());
    }
    if let Some(code) = e.as_database_error().and_then(|d| d.code()) {
        // serialization_failure, deadlock_detected, lock_not_available, too_many_connections,
        // cannot_connect_now, admin/crash shutdown: retry later.
        if matches!(code.as_ref(), "40001" | "40P01" | "55P03" | "53300" | "57P03" | "57P01" | "57P02") {
            return StoreError::Busy(e.to_string());
        }
        // read_only_sql_transaction, disk_full, insufficient_resources.
        if matches!(code.as_ref(), "25006" | "53100" | "53000") {
            return StoreError::Unavailable(e.to_string());
        }
    }
    if matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolClosed) {
        return StoreError::Busy(format!("the database is unreachable: {e}"));
    }
    StoreError::Backend(anyhow::Error::new(e).context("database error"))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(anyhow::anyhow!("unreadable {what} in the database: {e}"))
}

fn to_i64(n: u64) -> StoreResult<i64> {
    i64::try_from(n).map_err(|_| StoreError::invalid("out_of_range", format!("{n} is too large")))
}

/// The columns an `Event` is read from (a macro so queries stay `&'static str`).
macro_rules! event_cols {
    () => {
        "seq, id, incident, author, occurred_at, recorded_at, body::text AS body"
    };
}

fn event_from_row(row: &PgRow) -> StoreResult<Event> {
    let seq: i64 = row.try_get("seq").map_err(db)?;
    let body: String = row.try_get("body").map_err(db)?;
    Ok(Event {
        seq: seq as u64,
        id: row.try_get("id").map_err(db)?,
        incident: row.try_get("incident").map_err(db)?,
        author: row.try_get("author").map_err(db)?,
        occurred_at: row.try_get("occurred_at").map_err(db)?,
        recorded_at: row.try_get("recorded_at").map_err(db)?,
        body: serde_json::from_str::<EventBody>(&body).map_err(|e| corrupt("event body", e))?,
    })
}

fn incident_from_state(state: &str) -> StoreResult<Incident> {
    serde_json::from_str(state).map_err(|e| corrupt("incident state", e))
}

fn token_from_row(row: &PgRow) -> StoreResult<TokenInfo> {
    let role: String = row.try_get("role").map_err(db)?;
    Ok(TokenInfo {
        id: row.try_get("id").map_err(db)?,
        name: row.try_get("name").map_err(db)?,
        role: role.parse().map_err(|e| corrupt("token role", e))?,
        created_at: row.try_get("created_at").map_err(db)?,
        revoked_at: row.try_get::<Option<DateTime<Utc>>, _>("revoked_at").map_err(db)?,
    })
}

async fn last_seq(conn: &mut PgConnection) -> StoreResult<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    Ok(n as u64)
}

async fn load_incident(conn: &mut PgConnection, id: &str) -> StoreResult<Option<Incident>> {
    let state: Option<String> = sqlx::query_scalar("SELECT state::text FROM incidents WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    state.as_deref().map(incident_from_state).transpose()
}

fn state_json(inc: &Incident) -> StoreResult<String> {
    serde_json::to_string(inc).map_err(|e| StoreError::Backend(e.into()))
}

/// Notifications: inserts delivery rows in an open transaction; a key already queued is kept.
pub(super) async fn insert_deliveries(
    conn: &mut PgConnection,
    rows: &[NewDelivery],
) -> Result<u64, sqlx::Error> {
    let now = millis(Utc::now());
    let mut n = 0;
    for r in rows {
        n += sqlx::query(
            "INSERT INTO deliveries (key, incident, event_id, target, payload, created_at, next_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING",
        )
        .bind(&r.key)
        .bind(&r.incident)
        .bind(r.event_id)
        .bind(&r.target)
        .bind(&r.payload)
        .bind(now)
        .bind(millis(r.due_at))
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(n)
}

/// A write transaction holding the global write lock (a transaction-scoped advisory lock).
struct PgTx(sqlx::Transaction<'static, sqlx::Postgres>, Option<Arc<dyn Planner>>);

/// Begins a write transaction holding the global write lock.
async fn begin_write(pool: &PgPool, planner: &PlannerSlot) -> StoreResult<PgTx> {
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITE_LOCK).execute(&mut *tx).await.map_err(db)?;
    Ok(PgTx(tx, planner_of(planner)))
}

#[async_trait]
impl WriteTx for PgTx {
    async fn known(&mut self, events: &[NewEvent]) -> StoreResult<Known> {
        let (ids, targets) = Known::wanted(events);
        let mut k = Known::default();
        let rows = sqlx::query(concat!("SELECT ", event_cols!(), " FROM events WHERE id = ANY($1)"))
            .bind(&ids)
            .fetch_all(&mut *self.0)
            .await
            .map_err(db)?;
        for row in &rows {
            let e = event_from_row(row)?;
            k.by_id.insert(e.id, e);
        }
        if !targets.is_empty() {
            let rows = sqlx::query("SELECT id, incident, kind FROM events WHERE id = ANY($1)")
                .bind(&targets)
                .fetch_all(&mut *self.0)
                .await
                .map_err(db)?;
            for row in &rows {
                let id: Uuid = row.try_get("id").map_err(db)?;
                k.targets.insert(id, row.try_get("incident").map_err(db)?);
                let kind: String = row.try_get("kind").map_err(db)?;
                k.target_kinds.insert(id, kind.parse().map_err(|e: String| corrupt("event kind", e))?);
            }
        }
        Ok(k)
    }
    async fn last_seq(&mut self) -> StoreResult<u64> {
        last_seq(&mut self.0).await
    }
    async fn load_incident(&mut self, id: &str) -> StoreResult<Option<Incident>> {
        load_incident(&mut self.0, id).await
    }
    async fn next_incident_num(&mut self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COALESCE(MAX(num), 0) + 1 FROM incidents")
            .fetch_one(&mut *self.0)
            .await
            .map_err(db)
    }
    async fn insert_events(&mut self, events: &[Event]) -> StoreResult<()> {
        for e in events {
            let body = serde_json::to_string(&e.body).map_err(|e| StoreError::Backend(e.into()))?;
            sqlx::query(
                "INSERT INTO events (seq, id, incident, author, kind, occurred_at, recorded_at, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)",
            )
            .bind(to_i64(e.seq)?)
            .bind(e.id)
            .bind(&e.incident)
            .bind(&e.author)
            .bind(e.kind().as_str())
            .bind(e.occurred_at)
            .bind(e.recorded_at)
            .bind(body)
            .execute(&mut *self.0)
            .await
            .map_err(db)?;
        }
        if let Some(last) = events.last() {
            // Delivered at commit, to every replica's listener: a wake-up hint, not the data.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(last.seq.to_string())
                .execute(&mut *self.0)
                .await
                .map_err(db)?;
        }
        Ok(())
    }
    async fn insert_incident(&mut self, id: &str, num: i64, state: &Incident) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO incidents (id, num, state, revision, last_seq, is_open) \
             VALUES ($1, $2, $3::jsonb, $4, $5, $6)",
        )
        .bind(id)
        .bind(num)
        .bind(state_json(state)?)
        .bind(to_i64(state.revision)?)
        .bind(to_i64(state.last_seq)?)
        .bind(state.is_open())
        .execute(&mut *self.0)
        .await
        .map_err(db)?;
        Ok(())
    }
    async fn update_incident(&mut self, id: &str, state: &Incident) -> StoreResult<()> {
        sqlx::query(
            "UPDATE incidents SET state = $1::jsonb, revision = $2, last_seq = $3, is_open = $4 WHERE id = $5",
        )
        .bind(state_json(state)?)
        .bind(to_i64(state.revision)?)
        .bind(to_i64(state.last_seq)?)
        .bind(state.is_open())
        .bind(id)
        .execute(&mut *self.0)
        .await
        .map_err(db)?;
        Ok(())
    }
    async fn commit(self) -> StoreResult<()> {
        self.0.commit().await.map_err(db)
    }
    async fn rollback(self) -> StoreResult<()> {
        self.0.rollback().await.map_err(db)
    }
    fn planner(&self) -> Option<Arc<dyn Planner>> {
        self.1.clone()
    }
    async fn insert_deliveries(&mut self, rows: &[NewDelivery]) -> StoreResult<()> {
        insert_deliveries(&mut self.0, rows).await.map(drop).map_err(db)
    }
    async fn execute(&mut self, sql: &'static str) -> StoreResult<()> {
        sqlx::query(sql).execute(&mut *self.0).await.map(drop).map_err(db)
    }
}

#[async_trait]
impl Store for PgStore {
    fn delivery_queue(&self) -> Option<&dyn super::queue::DeliveryQueue> {
        Some(self)
    }

    async fn declare(&self, ctx: AppendCtx<'_>, event: NewEvent) -> StoreResult<Appended> {
        self.group.declare(ctx, event).await
    }

    async fn append(
        &self,
        ctx: AppendCtx<'_>,
        incident: &str,
        events: Vec<NewEvent>,
    ) -> StoreResult<Appended> {
        self.group.append(ctx, incident, events).await
    }

    fn on_commit(&self, sink: Sink) {
        self.group.on_commit(sink);
    }

    async fn last_seq(&self) -> StoreResult<u64> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        last_seq(&mut conn).await
    }

    async fn events_after(&self, after: u64, limit: u32, incident: Option<&str>) -> StoreResult<Vec<Event>> {
        let after = to_i64(after)?;
        let rows = match incident {
            Some(inc) => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_cols!(),
                    " FROM events WHERE seq > $1 AND incident = $2 ORDER BY seq LIMIT $3"
                ))
                .bind(after)
                .bind(inc)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_cols!(),
                    " FROM events WHERE seq > $1 ORDER BY seq LIMIT $2"
                ))
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(db)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn list_incidents(&self, filter: ListFilter) -> StoreResult<(u64, Vec<Incident>)> {
        // One snapshot for the seq and the states.
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let seq = last_seq(&mut tx).await?;
        let mut states: Vec<String> = sqlx::query_scalar("SELECT state::text FROM incidents WHERE is_open")
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        let closed_limit: Option<i64> = match filter {
            ListFilter::Open => Some(0),
            ListFilter::Recent => Some(RECENT_RESOLVED as i64),
            ListFilter::All => None,
        };
        if closed_limit != Some(0) {
            let more: Vec<String> = sqlx::query_scalar(
                "SELECT state::text FROM incidents WHERE NOT is_open ORDER BY last_seq DESC LIMIT $1",
            )
            .bind(closed_limit)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            states.extend(more);
        }
        tx.rollback().await.map_err(db)?;
        let incidents = states.iter().map(|s| incident_from_state(s)).collect::<StoreResult<_>>()?;
        Ok((seq, incidents))
    }

    async fn incident(&self, id: &str, with_events: bool) -> StoreResult<Option<Snapshot>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let seq = last_seq(&mut tx).await?;
        let Some(incident) = load_incident(&mut tx, id).await? else {
            return Ok(None);
        };
        let events = if with_events {
            let rows = sqlx::query(concat!(
                "SELECT ",
                event_cols!(),
                " FROM events WHERE incident = $1 ORDER BY seq"
            ))
            .bind(id)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            Some(rows.iter().map(event_from_row).collect::<StoreResult<Vec<_>>>()?)
        } else {
            None
        };
        tx.rollback().await.map_err(db)?;
        Ok(Some(Snapshot { seq, incident, events }))
    }

    async fn create_token(&self, name: &str, role: Role, hash: [u8; 32]) -> StoreResult<TokenInfo> {
        sql_tokens::create_token(self, name, role, hash).await
    }

    async fn find_token(&self, hash: [u8; 32]) -> StoreResult<Option<TokenRecord>> {
        sql_tokens::find_token(self, hash).await
    }

    async fn list_tokens(&self) -> StoreResult<Vec<TokenInfo>> {
        sql_tokens::list_tokens(self).await
    }

    async fn revoke_token(&self, name_or_id: &str) -> StoreResult<TokenInfo> {
        sql_tokens::revoke_token(self, name_or_id).await
    }

    // oidc: sessions and the audit log (the SQL is shared, in sql_auth).
    async fn create_session(&self, session: &SessionRecord, hash: [u8; 32]) -> StoreResult<()> {
        sql_auth::postgres::create_session(&self.pool, db, session, hash).await
    }

    async fn find_session(&self, hash: [u8; 32]) -> StoreResult<Option<SessionRecord>> {
        sql_auth::postgres::find_session(&self.pool, db, hash).await
    }

    async fn end_session(&self, hash: [u8; 32], at: DateTime<Utc>) -> StoreResult<Option<SessionRecord>> {
        sql_auth::postgres::end_session(&self.pool, db, hash, at).await
    }

    async fn record_audit(&self, actor: &str, action: &str, subject: &str, detail: &str) -> StoreResult<()> {
        sql_auth::postgres::record_audit(&self.pool, db, [actor, action, subject, detail]).await
    }

    async fn audit_since(&self, since: Option<DateTime<Utc>>, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        sql_auth::postgres::audit_since(&self.pool, db, since, limit).await
    }

    fn listen(&self, wake: Arc<dyn Fn() -> bool + Send + Sync>) {
        let url = self.url.clone();
        tokio::spawn(async move { listen_loop(url, wake).await });
    }
}

#[async_trait]
impl TokenSql for PgStore {
    async fn insert_token(&self, info: &TokenInfo, hash: &[u8; 32]) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO tokens (id, name, role, hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(info.id)
            .bind(&info.name)
            .bind(info.role.as_str())
            .bind(&hash[..])
            .bind(info.created_at)
            .execute(&self.pool)
            .await
            .map(drop)
    }

    fn db_error(e: sqlx::Error) -> StoreError {
        db(e)
    }

    async fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenInfo>> {
        let row = sqlx::query("SELECT id, name, role, created_at, revoked_at FROM tokens WHERE hash = $1")
            .bind(&hash[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn all_tokens(&self) -> StoreResult<Vec<TokenInfo>> {
        let rows =
            sqlx::query("SELECT id, name, role, created_at, revoked_at FROM tokens ORDER BY created_at")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke(&self, name: &str, id: Option<Uuid>) -> StoreResult<Option<TokenInfo>> {
        let row = sqlx::query(
            "UPDATE tokens SET revoked_at = now() WHERE revoked_at IS NULL AND (name = $1 OR id = $2) \
             RETURNING id, name, role, created_at, revoked_at",
        )
        .bind(name)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(token_from_row).transpose()
    }
}

/// LISTENs for commit hints and pokes the hub; reconnects with backoff. After a reconnect it
/// pokes once, since notifications sent meanwhile are lost (the hub's poll also covers that).
async fn listen_loop(url: String, wake: Arc<dyn Fn() -> bool + Send + Sync>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match PgListener::connect(&url).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen(CHANNEL).await {
                    tracing::warn!(error = %e, "LISTEN failed");
                } else {
                    backoff = Duration::from_millis(200);
                    if !wake() {
                        return;
                    }
                    loop {
                        let alive = match listener.try_recv().await {
                            Ok(Some(_)) => wake(),
                            // The connection dropped (sqlx reconnects on the next call): catch up.
                            Ok(None) => wake(),
                            Err(e) => {
                                tracing::warn!(error = %e, "PostgreSQL listener failed; reconnecting");
                                break;
                            }
                        };
                        if !alive {
                            // The hub is gone: the server shut down.
                            return;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "PostgreSQL listener cannot connect; retrying"),
        }
        if !wake() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
