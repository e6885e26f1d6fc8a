//! The SQLite `Store` (sqlx, runtime queries): WAL, a busy timeout, embedded migrations, a
//! small reader pool whose transactions read consistent snapshots, and writes under
//! `BEGIN IMMEDIATE` so that appends are serialized and `seq` is allocated as `max + 1` inside
//! the same transaction as the insert. Declares and appends (group commit) run on a rusqlite
//! connection of their own thread ([`raw`]); the other writes (tokens, sessions, the delivery
//! queue) on one sqlx writer connection.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, SqlSafeStr, SqliteConnection};
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
use crate::domain::{Event, EventBody, Incident, NewEvent, Practice};

/// The SQLite store.
pub struct SqliteStore {
    /// One connection for the writes other than declares and appends, inside `BEGIN IMMEDIATE`.
    pub(super) writer: SqlitePool,
    /// Readers (the same pool as `writer` for an in-memory database).
    pub(super) reader: SqlitePool,
    /// A test's injected write fault, applied to every writer connection (see [`WriteFault`]).
    fault: Arc<Mutex<WriteFault>>,
    /// Notifications: what appends enqueue (set by the server).
    pub(super) planner: PlannerSlot,
    /// Declares and appends, committed in groups.
    pub(super) group: GroupCommit<SqliteWriter>,
    /// Token lookups on a file (`None` in memory: they go through `reader`).
    tokens: Option<raw::TokenReads>,
}

/// The write path's statements, shared by the sqlx transaction (in-memory databases) and the
/// rusqlite one ([`raw`]).
mod sql {
    pub(super) const KNOWN_EVENTS: &str = "SELECT seq, id, incident, author, occurred_at, recorded_at, body \
         FROM events WHERE id IN (SELECT value FROM json_each(?))";
    pub(super) const KNOWN_TARGETS: &str =
        "SELECT id, incident, kind FROM events WHERE id IN (SELECT value FROM json_each(?))";
    pub(super) const LAST_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) FROM events";
    pub(super) const LOAD_INCIDENT: &str = "SELECT state FROM incidents WHERE id = ?";
    pub(super) const NEXT_INCIDENT_NUM: &str = "SELECT COALESCE(MAX(num), 0) + 1 FROM incidents";
    pub(super) const INSERT_EVENT: &str = "INSERT INTO events \
         (seq, id, incident, author, kind, occurred_at, recorded_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    pub(super) const INSERT_INCIDENT: &str =
        "INSERT INTO incidents (id, num, state, revision, last_seq, is_open) VALUES (?, ?, ?, ?, ?, ?)";
    pub(super) const UPDATE_INCIDENT: &str =
        "UPDATE incidents SET state = ?, revision = ?, last_seq = ?, is_open = ? WHERE id = ?";
    pub(super) const INSERT_DELIVERY: &str = "INSERT INTO deliveries \
         (key, incident, event_id, target, payload, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (key) DO NOTHING";
    pub(super) const TOKEN_BY_HASH: &str =
        "SELECT id, name, role, created_at, revoked_at FROM tokens WHERE hash = ?";
}

mod raw;

/// Begins the write transactions of group commit: on a file, on the rusqlite connection of
/// the writer thread ([`raw`]); in memory (unit tests), on the sqlx connection holding the
/// database.
pub(super) enum SqliteWriter {
    Pool { pool: SqlitePool, planner: PlannerSlot },
    Raw(raw::RawWriter),
}

#[async_trait]
impl Writer for SqliteWriter {
    type Tx = AnyTx;
    async fn begin(&self) -> StoreResult<AnyTx> {
        match self {
            SqliteWriter::Pool { pool, planner } => {
                let tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
                Ok(AnyTx::Pool(SqliteTx(tx, planner_of(planner))))
            }
            SqliteWriter::Raw(w) => w.begin().await.map(AnyTx::Raw),
        }
    }
    fn spawn(&self, task: futures::future::BoxFuture<'static, ()>) {
        match self {
            SqliteWriter::Pool { .. } => drop(tokio::spawn(task)),
            SqliteWriter::Raw(w) => w.spawn(task),
        }
    }
}

/// A write transaction of either writer.
pub(super) enum AnyTx {
    Pool(SqliteTx),
    Raw(raw::RawTx),
}

/// Runs the same call on whichever transaction it is.
macro_rules! on_tx {
    ($tx:expr, $t:ident => $call:expr) => {
        match $tx {
            AnyTx::Pool($t) => $call,
            AnyTx::Raw($t) => $call,
        }
    };
}

#[async_trait]
impl WriteTx for AnyTx {
    async fn known(&mut self, events: &[NewEvent]) -> StoreResult<Known> {
        on_tx!(self, t => t.known(events).await)
    }
    async fn last_seq(&mut self) -> StoreResult<u64> {
        on_tx!(self, t => t.last_seq().await)
    }
    async fn load_incident(&mut self, id: &str) -> StoreResult<Option<Incident>> {
        on_tx!(self, t => t.load_incident(id).await)
    }
    async fn next_incident_num(&mut self) -> StoreResult<i64> {
        on_tx!(self, t => t.next_incident_num().await)
    }
    async fn insert_events(&mut self, events: &[Event]) -> StoreResult<()> {
        on_tx!(self, t => t.insert_events(events).await)
    }
    async fn insert_incident(&mut self, id: &str, num: i64, state: &Incident) -> StoreResult<()> {
        on_tx!(self, t => t.insert_incident(id, num, state).await)
    }
    async fn update_incident(&mut self, id: &str, state: &Incident) -> StoreResult<()> {
        on_tx!(self, t => t.update_incident(id, state).await)
    }
    async fn commit(self) -> StoreResult<bool> {
        on_tx!(self, t => t.commit().await)
    }
    async fn rollback(self) -> StoreResult<()> {
        on_tx!(self, t => t.rollback().await)
    }
    fn planner(&self) -> Option<Arc<dyn Planner>> {
        on_tx!(self, t => t.planner())
    }
    async fn insert_deliveries(&mut self, rows: &[NewDelivery]) -> StoreResult<()> {
        on_tx!(self, t => t.insert_deliveries(rows).await)
    }
    async fn execute(&mut self, sql: &'static str) -> StoreResult<()> {
        on_tx!(self, t => t.execute(sql).await)
    }
    async fn savepoint(&mut self) -> StoreResult<()> {
        on_tx!(self, t => t.savepoint().await)
    }
    async fn release_savepoint(&mut self) -> StoreResult<()> {
        on_tx!(self, t => t.release_savepoint().await)
    }
    async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        on_tx!(self, t => t.rollback_to_savepoint().await)
    }
}

fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "init".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0001_init.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "notify".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0002_notify.sql").into_sql_str(),
            false,
        ),
        // oidc: sign-in sessions and the audit log.
        Migration::new(
            3,
            "auth".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0003_auth.sql").into_sql_str(),
            false,
        ),
    ])
}

impl SqliteStore {
    /// Opens (creating file and directories when missing) and migrates the database at `url`
    /// (`sqlite://path`, `sqlite:path` or `sqlite::memory:`).
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("invalid SQLite database URL `{url}`"))?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let file = opts.get_filename().to_path_buf();
        let fault = Arc::new(Mutex::new(WriteFault::Healed));
        let on_connect = fault.clone();
        let (writer, reader) = if memory {
            // One connection holds the database; it must never be closed while the store lives.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts)
                .await
                .context("opening the in-memory database")?;
            (pool.clone(), pool)
        } else {
            let path = opts.get_filename().to_path_buf();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating the database directory {}", dir.display()))?;
            }
            let opts = opts.journal_mode(SqliteJournalMode::Wal).synchronous(SqliteSynchronous::Full);
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                // When SQLite rolls a transaction back by itself (SQLITE_FULL, some I/O errors),
                // sqlx's ROLLBACK on drop fails and the connection stays "in a transaction"
                // for good: every later BEGIN would fail. Such a connection is closed (and a
                // fresh one opened) instead of going back to the pool. The `SELECT 1` waits
                // for the queued rollback of a dropped transaction.
                .after_connect(move |conn, _| {
                    let fault = *on_connect.lock().unwrap_or_else(|p| p.into_inner());
                    Box::pin(async move { apply_fault(conn, fault).await })
                })
                // A local file needs no ping before each use (one round trip to the
                // connection's thread fewer per write).
                .test_before_acquire(false)
                .after_release(|conn, _| {
                    Box::pin(async move {
                        // A committed or rolled back transaction left no depth behind; only a
                        // dropped one has its rollback queued, to wait for.
                        if !sqlx::Connection::is_in_transaction(conn) {
                            return Ok(true);
                        }
                        sqlx::query("SELECT 1").execute(&mut *conn).await?;
                        let stuck = sqlx::Connection::is_in_transaction(conn);
                        if stuck {
                            tracing::warn!("the database writer lost its transaction; reconnecting");
                        }
                        Ok(!stuck)
                    })
                })
                .connect_with(opts.clone())
                .await
                .with_context(|| format!("opening the database {}", path.display()))?;
            let reader = SqlitePoolOptions::new()
                .max_connections(4)
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts)
                .await
                .with_context(|| format!("opening the database {} for reading", path.display()))?;
            (writer, reader)
        };
        migrator().run(&writer).await.context("migrating the database")?;
        if url.contains("mode=ro") {
            tracing::warn!(
                url,
                "the database is opened read-only: every write is refused (503 store_unavailable)"
            );
        }
        let planner = PlannerSlot::default();
        let group_writer = if memory {
            SqliteWriter::Pool { pool: writer.clone(), planner: planner.clone() }
        } else {
            let read_only = url.contains("mode=ro");
            let raw = raw::RawWriter::open(file.clone(), read_only, planner.clone(), fault.clone())
                .with_context(|| format!("opening the database {} for appends", file.display()))?;
            SqliteWriter::Raw(raw)
        };
        let group = GroupCommit::new(group_writer);
        let tokens = (!memory).then(|| raw::TokenReads::new(file.clone(), url.contains("mode=ro")));
        Ok(Self { writer, reader, fault, planner, group, tokens })
    }
}

/// A way to make the database refuse writes underneath a running server, with SQLite's own
/// errors, for tests of that failure (root ignores file permissions, so `chmod` cannot do it).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFault {
    /// `PRAGMA query_only`: every write fails with SQLITE_READONLY.
    ReadOnly,
    /// `PRAGMA max_page_count` at the current size: a growing write fails with SQLITE_FULL.
    Full,
    /// Writes work again.
    Healed,
}

async fn apply_fault(conn: &mut SqliteConnection, fault: WriteFault) -> Result<(), sqlx::Error> {
    let sql = match fault {
        WriteFault::ReadOnly => "PRAGMA query_only = ON".to_string(),
        WriteFault::Full => {
            let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(&mut *conn).await?;
            format!("PRAGMA max_page_count = {pages}")
        }
        WriteFault::Healed => {
            sqlx::query("PRAGMA query_only = OFF").execute(&mut *conn).await?;
            "PRAGMA max_page_count = 1073741823".to_string()
        }
    };
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *conn).await?;
    Ok(())
}

impl SqliteStore {
    /// Test hook: applies `fault` to the writer connection, and to any the pool opens later
    /// (see [`WriteFault`]).
    #[doc(hidden)]
    pub async fn inject_write_fault(&self, fault: WriteFault) -> anyhow::Result<()> {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = fault;
        let mut conn = self.writer.acquire().await.context("acquiring the writer")?;
        apply_fault(&mut conn, fault).await?;
        Ok(())
    }
}

/// Maps a database error: busy or locked databases and an exhausted pool are "retry later".
fn db(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::PoolTimedOut = e {
        return StoreError::Busy("no database connection became free in time".into());
    }
    let code = e.as_database_error().and_then(|d| d.code()).and_then(|c| c.parse::<i64>().ok());
    if let Some(mapped) = code.and_then(|c| by_code(c, || e.to_string())) {
        return mapped;
    }
    StoreError::Backend(anyhow::Error::new(e).context("database error"))
}

/// What a SQLite result code means to a writer (sqlx's and rusqlite's errors alike):
/// busy or locked is "retry later", a database (or disk) refusing writes is "unavailable".
fn by_code(code: i64, message: impl FnOnce() -> String) -> Option<StoreError> {
    match code & 0xff {
        // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with any extended code.
        5 | 6 => Some(StoreError::Busy(message())),
        // SQLITE_READONLY (8), SQLITE_IOERR (10), SQLITE_FULL (13), SQLITE_CANTOPEN (14).
        8 | 10 | 13 | 14 => Some(StoreError::Unavailable(message())),
        _ => None,
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(anyhow::anyhow!("unreadable {what} in the database: {e}"))
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn parse_time(s: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|e| corrupt("timestamp", e))
}

fn to_i64(n: u64) -> StoreResult<i64> {
    i64::try_from(n).map_err(|_| StoreError::invalid("out_of_range", format!("{n} is too large")))
}

fn event_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Event> {
    let seq: i64 = row.try_get("seq").map_err(db)?;
    let id: String = row.try_get("id").map_err(db)?;
    let body: String = row.try_get("body").map_err(db)?;
    let occurred: String = row.try_get("occurred_at").map_err(db)?;
    let recorded: String = row.try_get("recorded_at").map_err(db)?;
    Ok(Event {
        seq: seq as u64,
        id: Uuid::parse_str(&id).map_err(|e| corrupt("event id", e))?,
        incident: row.try_get("incident").map_err(db)?,
        author: row.try_get("author").map_err(db)?,
        occurred_at: parse_time(&occurred)?,
        recorded_at: parse_time(&recorded)?,
        body: serde_json::from_str::<EventBody>(&body).map_err(|e| corrupt("event body", e))?,
    })
}

fn incident_from_state(state: &str) -> StoreResult<Incident> {
    serde_json::from_str(state).map_err(|e| corrupt("incident state", e))
}

fn token_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<TokenInfo> {
    token_info(
        row.try_get("id").map_err(db)?,
        row.try_get("name").map_err(db)?,
        row.try_get("role").map_err(db)?,
        row.try_get("created_at").map_err(db)?,
        row.try_get("revoked_at").map_err(db)?,
    )
}

/// A token's row (`id, name, role, created_at, revoked_at`), read by sqlx or rusqlite.
fn token_info(
    id: String,
    name: String,
    role: String,
    created: String,
    revoked: Option<String>,
) -> StoreResult<TokenInfo> {
    Ok(TokenInfo {
        id: Uuid::parse_str(&id).map_err(|e| corrupt("token id", e))?,
        name,
        role: role.parse().map_err(|e| corrupt("token role", e))?,
        created_at: parse_time(&created)?,
        revoked_at: revoked.as_deref().map(parse_time).transpose()?,
    })
}

async fn last_seq(conn: &mut SqliteConnection) -> StoreResult<u64> {
    let n: i64 = sqlx::query_scalar(sql::LAST_SEQ).fetch_one(&mut *conn).await.map_err(db)?;
    Ok(n as u64)
}

async fn load_incident(conn: &mut SqliteConnection, id: &str) -> StoreResult<Option<Incident>> {
    let state: Option<String> =
        sqlx::query_scalar(sql::LOAD_INCIDENT).bind(id).fetch_optional(&mut *conn).await.map_err(db)?;
    state.as_deref().map(incident_from_state).transpose()
}

fn state_json(inc: &Incident) -> StoreResult<String> {
    serde_json::to_string(inc).map_err(|e| StoreError::Backend(e.into()))
}

/// Notifications: inserts delivery rows in an open transaction; a key already queued is kept.
pub(super) async fn insert_deliveries(
    conn: &mut SqliteConnection,
    rows: &[NewDelivery],
) -> Result<u64, sqlx::Error> {
    let now = millis(Utc::now());
    let mut n = 0;
    for r in rows {
        n += sqlx::query(sql::INSERT_DELIVERY)
            .bind(&r.key)
            .bind(&r.incident)
            .bind(r.event_id.to_string())
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

/// A write transaction on the writer connection, under `BEGIN IMMEDIATE`.
pub(super) struct SqliteTx(sqlx::Transaction<'static, sqlx::Sqlite>, Option<Arc<dyn Planner>>);

#[async_trait]
impl WriteTx for SqliteTx {
    async fn known(&mut self, events: &[NewEvent]) -> StoreResult<Known> {
        let (ids, targets) = Known::wanted(events);
        let mut k = Known::default();
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let rows = sqlx::query(sql::KNOWN_EVENTS)
            .bind(serde_json::to_string(&ids).map_err(|e| StoreError::Backend(e.into()))?)
            .fetch_all(&mut *self.0)
            .await
            .map_err(db)?;
        for row in &rows {
            let e = event_from_row(row)?;
            k.by_id.insert(e.id, e);
        }
        if !targets.is_empty() {
            let targets: Vec<String> = targets.iter().map(Uuid::to_string).collect();
            let rows = sqlx::query(sql::KNOWN_TARGETS)
                .bind(serde_json::to_string(&targets).map_err(|e| StoreError::Backend(e.into()))?)
                .fetch_all(&mut *self.0)
                .await
                .map_err(db)?;
            for row in &rows {
                let id: String = row.try_get("id").map_err(db)?;
                let id = Uuid::parse_str(&id).map_err(|e| corrupt("event id", e))?;
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
        sqlx::query_scalar(sql::NEXT_INCIDENT_NUM).fetch_one(&mut *self.0).await.map_err(db)
    }
    async fn insert_events(&mut self, events: &[Event]) -> StoreResult<()> {
        for e in events {
            let body = serde_json::to_string(&e.body).map_err(|e| StoreError::Backend(e.into()))?;
            sqlx::query(sql::INSERT_EVENT)
                .bind(to_i64(e.seq)?)
                .bind(e.id.to_string())
                .bind(&e.incident)
                .bind(&e.author)
                .bind(e.kind().as_str())
                .bind(fmt_time(e.occurred_at))
                .bind(fmt_time(e.recorded_at))
                .bind(body)
                .execute(&mut *self.0)
                .await
                .map_err(db)?;
        }
        Ok(())
    }
    async fn insert_incident(&mut self, id: &str, num: i64, state: &Incident) -> StoreResult<()> {
        sqlx::query(sql::INSERT_INCIDENT)
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
        sqlx::query(sql::UPDATE_INCIDENT)
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
    async fn commit(self) -> StoreResult<bool> {
        self.0.commit().await.map_err(db).map(|()| true)
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
    /// Kept open instead (one statement fewer per request of a group): SQLite stacks
    /// savepoints of one name, `ROLLBACK TO` and `RELEASE` take the most recent one, and
    /// `COMMIT` keeps every open savepoint's writes, so a later request's rollback still undoes
    /// only its own writes, and the commit keeps everyone else's.
    async fn release_savepoint(&mut self) -> StoreResult<()> {
        Ok(())
    }
}

#[async_trait]
impl Store for SqliteStore {
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

    fn share_practice(&self, practice: &Arc<Practice>) {
        self.group.share_practice(practice);
    }

    fn write_groups(&self) -> Option<super::store::GroupTotals> {
        Some(self.group.totals())
    }

    async fn last_seq(&self) -> StoreResult<u64> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        last_seq(&mut conn).await
    }

    async fn events_after(&self, after: u64, limit: u32, incident: Option<&str>) -> StoreResult<Vec<Event>> {
        let after = to_i64(after)?;
        let q = match incident {
            Some(inc) => sqlx::query(
                "SELECT seq, id, incident, author, occurred_at, recorded_at, body FROM events \
                 WHERE seq > ? AND incident = ? ORDER BY seq LIMIT ?",
            )
            .bind(after)
            .bind(inc.to_string()),
            None => sqlx::query(
                "SELECT seq, id, incident, author, occurred_at, recorded_at, body FROM events \
                 WHERE seq > ? ORDER BY seq LIMIT ?",
            )
            .bind(after),
        };
        let rows = q.bind(i64::from(limit)).fetch_all(&self.reader).await.map_err(db)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn list_incidents(&self, filter: ListFilter) -> StoreResult<(u64, Vec<Incident>)> {
        let mut tx = self.reader.begin().await.map_err(db)?;
        let seq = last_seq(&mut tx).await?;
        let mut states: Vec<String> = sqlx::query_scalar("SELECT state FROM incidents WHERE is_open = 1")
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        let closed_limit: i64 = match filter {
            ListFilter::Open => 0,
            ListFilter::Recent => RECENT_RESOLVED as i64,
            ListFilter::All => -1,
        };
        if closed_limit != 0 {
            let more: Vec<String> = sqlx::query_scalar(
                "SELECT state FROM incidents WHERE is_open = 0 ORDER BY last_seq DESC LIMIT ?",
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
        let mut tx = self.reader.begin().await.map_err(db)?;
        let seq = last_seq(&mut tx).await?;
        let Some(incident) = load_incident(&mut tx, id).await? else {
            return Ok(None);
        };
        let events = if with_events {
            let rows = sqlx::query(
                "SELECT seq, id, incident, author, occurred_at, recorded_at, body FROM events \
                 WHERE incident = ? ORDER BY seq",
            )
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
        sql_auth::sqlite::create_session(&self.writer, db, session, hash).await
    }

    async fn find_session(&self, hash: [u8; 32]) -> StoreResult<Option<SessionRecord>> {
        sql_auth::sqlite::find_session(&self.reader, db, hash).await
    }

    async fn end_session(&self, hash: [u8; 32], at: DateTime<Utc>) -> StoreResult<Option<SessionRecord>> {
        sql_auth::sqlite::end_session(&self.writer, db, hash, at).await
    }

    async fn record_audit(&self, actor: &str, action: &str, subject: &str, detail: &str) -> StoreResult<()> {
        sql_auth::sqlite::record_audit(&self.writer, db, [actor, action, subject, detail]).await
    }

    async fn audit_since(&self, since: Option<DateTime<Utc>>, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        sql_auth::sqlite::audit_since(&self.reader, db, since, limit).await
    }
}

#[async_trait]
impl TokenSql for SqliteStore {
    async fn insert_token(&self, info: &TokenInfo, hash: &[u8; 32]) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO tokens (id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(info.id.to_string())
            .bind(&info.name)
            .bind(info.role.as_str())
            .bind(&hash[..])
            .bind(fmt_time(info.created_at))
            .execute(&self.writer)
            .await
            .map(drop)
    }

    fn db_error(e: sqlx::Error) -> StoreError {
        db(e)
    }

    async fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenInfo>> {
        if let Some(tokens) = &self.tokens {
            return tokens.token_by_hash(hash);
        }
        let row =
            sqlx::query(sql::TOKEN_BY_HASH).bind(&hash[..]).fetch_optional(&self.reader).await.map_err(db)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn all_tokens(&self) -> StoreResult<Vec<TokenInfo>> {
        let rows =
            sqlx::query("SELECT id, name, role, created_at, revoked_at FROM tokens ORDER BY created_at")
                .fetch_all(&self.reader)
                .await
                .map_err(db)?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke(&self, name: &str, id: Option<Uuid>) -> StoreResult<Option<TokenInfo>> {
        let row = sqlx::query(
            "UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND (name = ? OR id = ?) \
             RETURNING id, name, role, created_at, revoked_at",
        )
        .bind(fmt_time(Utc::now()))
        .bind(name)
        .bind(id.map(|u| u.to_string()).unwrap_or_default())
        .fetch_optional(&self.writer)
        .await
        .map_err(db)?;
        row.as_ref().map(token_from_row).transpose()
    }
}
