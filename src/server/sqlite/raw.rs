//! The write path of group commit on a SQLite file: one rusqlite connection, used only by a
//! thread of its own that runs the committer.
//!
//! Why not sqlx here: sqlx runs each SQLite connection on a worker thread and hands every
//! statement to it and its answer back (two thread wake-ups per statement). A lone append is
//! about seven statements plus the pool's checkout, and those hand-offs cost more than the
//! commit's fsync: measured with strace and perf, 38 futex calls and 1.1 ms of server CPU per
//! append, against 0.3 ms for the raw commit. Here the whole group (BEGIN IMMEDIATE, the
//! statements of every request, COMMIT) runs on one thread without a hand-off; a request
//! crosses threads twice (queued, answered).
//!
//! Everything else (reads, tokens, sessions, the delivery queue, migrations) stays on sqlx; the
//! two write connections take SQLite's write lock in turn (busy timeout, as two processes on
//! one file would).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use uuid::Uuid;

use super::super::group_commit::Writer;
use super::super::queue::{NewDelivery, Planner, PlannerSlot, millis, planner_of};
use super::super::sql_write::WriteTx;
use super::super::store::{Known, StoreError, StoreResult};
use super::{
    WriteFault, by_code, corrupt, fmt_time, incident_from_state, parse_time, sql, state_json, to_i64,
    token_info,
};
use crate::api::TokenInfo;
use crate::domain::{Event, EventBody, Incident, NewEvent};

/// The connection while no transaction holds it, with what it was set up with.
pub(in crate::server) struct Slot {
    conn: Option<Connection>,
    /// The test fault applied to `conn` (see [`WriteFault`]).
    applied: WriteFault,
}

/// Begins group commit's transactions on the one rusqlite connection, and runs the committer
/// on the writer thread.
pub(in crate::server) struct RawWriter {
    slot: Arc<Mutex<Slot>>,
    path: PathBuf,
    read_only: bool,
    planner: PlannerSlot,
    fault: Arc<Mutex<WriteFault>>,
    tasks: mpsc::Sender<BoxFuture<'static, ()>>,
}

impl RawWriter {
    /// Opens the connection (the database exists and is migrated) and starts the writer thread
    /// (it ends once the writer is dropped).
    pub(super) fn open(
        path: PathBuf,
        read_only: bool,
        planner: PlannerSlot,
        fault: Arc<Mutex<WriteFault>>,
    ) -> anyhow::Result<Self> {
        let conn = connect(&path, read_only).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (tasks, rx) = mpsc::channel::<BoxFuture<'static, ()>>();
        let runtime = tokio::runtime::Handle::current();
        std::thread::Builder::new().name("sqlite-writer".into()).spawn(move || {
            while let Ok(task) = rx.recv() {
                // A panic ends that group (its requests are answered with an error when their
                // reply senders drop), not the thread.
                let run = std::panic::AssertUnwindSafe(|| runtime.block_on(task));
                if std::panic::catch_unwind(run).is_err() {
                    tracing::error!("the SQLite writer's committer panicked");
                }
            }
        })?;
        let slot = Slot { conn: Some(conn), applied: WriteFault::Healed };
        Ok(RawWriter { slot: Arc::new(Mutex::new(slot)), path, read_only, planner, fault, tasks })
    }
}

impl RawWriter {
    /// Tests: holds the writer; its next `begin` waits (before touching the database) until
    /// the guard is dropped, so that requests queue up into one group.
    #[cfg(test)]
    pub(in crate::server) fn hold(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn connect(path: &std::path::Path, read_only: bool) -> StoreResult<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(db)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(db)?;
    // journal_mode=WAL is the file's (set when sqlx opened it); these two are the connection's.
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;").map_err(db)?;
    Ok(conn)
}

fn apply_fault(conn: &Connection, fault: WriteFault) -> rusqlite::Result<()> {
    match fault {
        WriteFault::ReadOnly => conn.execute_batch("PRAGMA query_only = ON"),
        WriteFault::Full => {
            let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            conn.execute_batch(&format!("PRAGMA max_page_count = {pages}"))
        }
        WriteFault::Healed => {
            conn.execute_batch("PRAGMA query_only = OFF; PRAGMA max_page_count = 1073741823")
        }
    }
}

#[async_trait]
impl Writer for RawWriter {
    type Tx = RawTx;

    /// Blocks the writer thread (only it calls this) until SQLite's write lock is ours.
    async fn begin(&self) -> StoreResult<RawTx> {
        let want = *self.fault.lock().unwrap_or_else(|p| p.into_inner());
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        let conn = match slot.conn.take() {
            // SQLite may have rolled a transaction back by itself (SQLITE_FULL, some I/O
            // errors) where our ROLLBACK then failed: a connection still in a transaction is
            // replaced, or every later BEGIN would fail.
            Some(c) if !c.is_autocommit() => {
                let _ = c.execute_batch("ROLLBACK");
                if c.is_autocommit() {
                    Some(c)
                } else {
                    tracing::warn!("the database writer lost its transaction; reconnecting");
                    None
                }
            }
            c => c,
        };
        let conn = match conn {
            Some(c) => c,
            None => {
                slot.applied = WriteFault::Healed;
                connect(&self.path, self.read_only)?
            }
        };
        if slot.applied != want {
            if let Err(e) = apply_fault(&conn, want) {
                slot.conn = Some(conn);
                return Err(db(e));
            }
            slot.applied = want;
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            slot.conn = Some(conn);
            return Err(db(e));
        }
        Ok(RawTx { conn: Some(conn), home: self.slot.clone(), planner: planner_of(&self.planner) })
    }

    fn spawn(&self, task: BoxFuture<'static, ()>) {
        if let Err(mpsc::SendError(task)) = self.tasks.send(task) {
            // The thread is gone (it never ends while the writer lives): run it here instead.
            tracing::error!("the SQLite writer thread is gone; committing on the runtime");
            tokio::task::spawn_blocking(move || tokio::runtime::Handle::current().block_on(task));
        }
    }
}

/// A write transaction on the writer connection; it goes back to the writer when the
/// transaction ends (rolled back if dropped open).
pub(in crate::server) struct RawTx {
    conn: Option<Connection>,
    home: Arc<Mutex<Slot>>,
    planner: Option<Arc<dyn Planner>>,
}

impl RawTx {
    fn conn(&self) -> &Connection {
        self.conn.as_ref().expect("the connection is held until the transaction ends")
    }

    /// Ends the transaction with `sql` (COMMIT or ROLLBACK) and gives the connection back.
    fn end(mut self, sql: &str) -> StoreResult<()> {
        let conn = self.conn.take().expect("the connection is held until the transaction ends");
        let done = conn.execute_batch(sql).map_err(db);
        if done.is_err() && !conn.is_autocommit() {
            // A failed COMMIT leaves the transaction open: nothing of it is kept.
            let _ = conn.execute_batch("ROLLBACK");
        }
        self.home.lock().unwrap_or_else(|p| p.into_inner()).conn = Some(conn);
        done
    }
}

impl Drop for RawTx {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            self.home.lock().unwrap_or_else(|p| p.into_inner()).conn = Some(conn);
        }
    }
}

fn event_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoreResult<Event>> {
    let seq: i64 = row.get(0)?;
    let id: String = row.get(1)?;
    let incident: String = row.get(2)?;
    let author: String = row.get(3)?;
    let occurred: String = row.get(4)?;
    let recorded: String = row.get(5)?;
    let body: String = row.get(6)?;
    Ok((|| {
        Ok(Event {
            seq: seq as u64,
            id: Uuid::parse_str(&id).map_err(|e| corrupt("event id", e))?,
            incident,
            author,
            occurred_at: parse_time(&occurred)?,
            recorded_at: parse_time(&recorded)?,
            body: serde_json::from_str::<EventBody>(&body).map_err(|e| corrupt("event body", e))?,
        })
    })())
}

fn json_ids(ids: &[Uuid]) -> StoreResult<String> {
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    serde_json::to_string(&ids).map_err(|e| StoreError::Backend(e.into()))
}

#[async_trait]
impl WriteTx for RawTx {
    async fn known(&mut self, events: &[NewEvent]) -> StoreResult<Known> {
        let (ids, targets) = Known::wanted(events);
        let mut k = Known::default();
        let conn = self.conn();
        if !ids.is_empty() {
            let mut st = conn.prepare_cached(sql::KNOWN_EVENTS).map_err(db)?;
            let rows = st.query_map([json_ids(&ids)?], event_from_row).map_err(db)?;
            for row in rows {
                let e = row.map_err(db)??;
                k.by_id.insert(e.id, e);
            }
        }
        if !targets.is_empty() {
            let mut st = conn.prepare_cached(sql::KNOWN_TARGETS).map_err(db)?;
            let rows = st
                .query_map([json_ids(&targets)?], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                })
                .map_err(db)?;
            for row in rows {
                let (id, incident, kind) = row.map_err(db)?;
                let id = Uuid::parse_str(&id).map_err(|e| corrupt("event id", e))?;
                k.targets.insert(id, incident);
                k.target_kinds.insert(id, kind.parse().map_err(|e: String| corrupt("event kind", e))?);
            }
        }
        Ok(k)
    }

    async fn last_seq(&mut self) -> StoreResult<u64> {
        let mut st = self.conn().prepare_cached(sql::LAST_SEQ).map_err(db)?;
        let n: i64 = st.query_row([], |r| r.get(0)).map_err(db)?;
        Ok(n as u64)
    }

    async fn load_incident(&mut self, id: &str) -> StoreResult<Option<Incident>> {
        let mut st = self.conn().prepare_cached(sql::LOAD_INCIDENT).map_err(db)?;
        let state: Option<String> = st.query_row([id], |r| r.get(0)).optional().map_err(db)?;
        state.as_deref().map(incident_from_state).transpose()
    }

    async fn next_incident_num(&mut self) -> StoreResult<i64> {
        let mut st = self.conn().prepare_cached(sql::NEXT_INCIDENT_NUM).map_err(db)?;
        st.query_row([], |r| r.get(0)).map_err(db)
    }

    async fn insert_events(&mut self, events: &[Event]) -> StoreResult<()> {
        let mut st = self.conn().prepare_cached(sql::INSERT_EVENT).map_err(db)?;
        for e in events {
            let body = serde_json::to_string(&e.body).map_err(|e| StoreError::Backend(e.into()))?;
            st.execute(params![
                to_i64(e.seq)?,
                e.id.to_string(),
                e.incident,
                e.author,
                e.kind().as_str(),
                fmt_time(e.occurred_at),
                fmt_time(e.recorded_at),
                body,
            ])
            .map_err(db)?;
        }
        Ok(())
    }

    async fn insert_incident(&mut self, id: &str, num: i64, state: &Incident) -> StoreResult<()> {
        let mut st = self.conn().prepare_cached(sql::INSERT_INCIDENT).map_err(db)?;
        st.execute(params![
            id,
            num,
            state_json(state)?,
            to_i64(state.revision)?,
            to_i64(state.last_seq)?,
            state.is_open()
        ])
        .map_err(db)?;
        Ok(())
    }

    async fn update_incident(&mut self, id: &str, state: &Incident) -> StoreResult<()> {
        let mut st = self.conn().prepare_cached(sql::UPDATE_INCIDENT).map_err(db)?;
        st.execute(params![
            state_json(state)?,
            to_i64(state.revision)?,
            to_i64(state.last_seq)?,
            state.is_open(),
            id
        ])
        .map_err(db)?;
        Ok(())
    }

    async fn commit(self) -> StoreResult<bool> {
        self.end("COMMIT").map(|()| true)
    }

    async fn rollback(self) -> StoreResult<()> {
        self.end("ROLLBACK")
    }

    fn planner(&self) -> Option<Arc<dyn Planner>> {
        self.planner.clone()
    }

    async fn insert_deliveries(&mut self, rows: &[NewDelivery]) -> StoreResult<()> {
        let now = millis(chrono::Utc::now());
        let mut st = self.conn().prepare_cached(sql::INSERT_DELIVERY).map_err(db)?;
        for r in rows {
            st.execute(params![
                r.key,
                r.incident,
                r.event_id.to_string(),
                r.target,
                r.payload,
                now,
                millis(r.due_at)
            ])
            .map_err(db)?;
        }
        Ok(())
    }

    async fn execute(&mut self, sql: &'static str) -> StoreResult<()> {
        self.conn().execute_batch(sql).map_err(db)
    }

    /// Kept open, as on the sqlx connection (see `SqliteTx::release_savepoint`).
    async fn release_savepoint(&mut self) -> StoreResult<()> {
        Ok(())
    }
}

/// Maps a rusqlite error as `super::db` maps sqlx's: busy or locked is "retry later", a
/// database refusing writes is "unavailable".
fn db(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e
        && let Some(mapped) = by_code(i64::from(f.extended_code), || e.to_string())
    {
        return mapped;
    }
    StoreError::Backend(anyhow::Error::new(e).context("database error"))
}

/// Token lookups, one per authenticated request, on rusqlite connections used from the calling
/// task: an indexed point read of a small, always-cached table takes microseconds, less than
/// handing the query to sqlx's connection thread and back (two thread wake-ups per request).
/// Still a read of the database every time: a token revoked by another process (`warroom
/// token revoke`) stops working at once.
pub(in crate::server) struct TokenReads {
    idle: Mutex<Vec<Connection>>,
    path: PathBuf,
    read_only: bool,
}

/// Connections kept between lookups (more are opened under a burst, then closed).
const TOKEN_READERS: usize = 4;

impl TokenReads {
    pub(super) fn new(path: PathBuf, read_only: bool) -> Self {
        TokenReads { idle: Mutex::new(Vec::new()), path, read_only }
    }

    pub(super) fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenInfo>> {
        let conn = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match conn {
            Some(c) => c,
            None => connect(&self.path, self.read_only)?,
        };
        let found = (|| {
            let mut st = conn.prepare_cached(sql::TOKEN_BY_HASH).map_err(db)?;
            let row = st
                .query_row([&hash[..]], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                })
                .optional()
                .map_err(db)?;
            let Some((id, name, role, created, revoked)) = row else { return Ok(None) };
            token_info(id, name, role, created, revoked).map(Some)
        })();
        if found.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < TOKEN_READERS {
                idle.push(conn);
            }
        }
        found
    }
}
