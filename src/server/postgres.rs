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
//!
//! Who a request comes from is remembered per replica ([`AuthCache`]); a revocation or a
//! sign-out sends `NOTIFY warroom_auth` in its own transaction and every replica's listener
//! forgets what it remembered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, PgConnection, Row, SqlSafeStr};
use uuid::Uuid;

use super::auth_cache::AuthCache;
use super::group_commit::{GroupCommit, Sink, Writer};
use super::pg_literal::{Execute, NulInText, json_holds_nul};
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
use crate::domain::{Event, EventBody, EventKind, Incident, NewEvent};

/// The advisory lock key every writer takes (any constant; "warroom" in ASCII).
const WRITE_LOCK: i64 = 0x0077_6172_726f_6f6d;
/// How long a connection (the pool's, the writer's) may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A pooled connection idle longer than this is pinged before it is used.
const IDLE_PING: Duration = Duration::from_secs(1);
/// The notification channel.
pub const CHANNEL: &str = "warroom_events";
/// The channel of token revocations and sign-outs (the payload is empty).
pub const AUTH_CHANNEL: &str = "warroom_auth";

pub struct PgStore {
    pub(super) pool: PgPool,
    url: String,
    /// Notifications: what appends enqueue (set by the server).
    pub(super) planner: PlannerSlot,
    /// The NOTIFY payloads of this store's own commits.
    own: Arc<OwnCommits>,
    /// Declares and appends, committed in groups.
    group: GroupCommit<PgWriter>,
    /// Tokens and sessions looked up (used while this store's listener listens).
    auth: Arc<AuthCache>,
}

/// The writer's connection between transactions (see [`Idle`]).
type WriterSlot = Arc<tokio::sync::Mutex<Option<Idle>>>;

/// The writer between two groups: its connection, when it was last used, and what the last
/// group left in the database as far as this replica knows it.
struct Idle {
    conn: PgConnection,
    used: std::time::Instant,
    memo: Option<Memo>,
}

/// What the database held right after this replica's last commit: the last seq, the last
/// incident number, and the states of the incidents that group read or wrote (and of those
/// remembered before, while nothing else was committed in between).
///
/// Every change to an incident or to the numbering is an event, so as long as the last seq is
/// still `seq` all of it is still true. A group whose incidents are all remembered reads
/// nothing ahead: it runs on the memo and sends its write with the condition that the last
/// seq is still `seq` and that none of its event ids is recorded (else a retry, answered the
/// long way), checked under the write lock in the same statement. So it costs one round trip
/// (`BEGIN`, the lock, the write, `COMMIT`) instead of two. If the condition fails, nothing is
/// written and the group runs again the long way ([`WriteTx::optimistic`]).
struct Memo {
    seq: u64,
    num: i64,
    /// [`OwnCommits::others`] when it was made: another replica's commit heard since makes it
    /// out of date (a hint that saves a failed try; the condition is what makes it safe).
    others: u64,
    incidents: HashMap<String, Incident>,
}

impl Memo {
    /// At most this many incidents are remembered (those of the last group are kept anyway).
    const KEEP: usize = 256;
}

/// What an optimistic group took as true, checked by its write.
struct Assumed {
    seq: u64,
    /// The ids of the events it carries: none is recorded (no retry among them).
    ids: Vec<Uuid>,
}

/// Begins the write transactions of group commit (taking the global write lock), on a
/// connection of its own: the group committer is one task at a time, and a pooled connection
/// would cost every group a ping when it goes back to the pool.
struct PgWriter {
    opts: PgConnectOptions,
    /// The connection between transactions, and when it was last used.
    slot: WriterSlot,
    planner: PlannerSlot,
    own: Arc<OwnCommits>,
}

/// The last seqs (NOTIFY payloads) of this store's recent commits. Their events reached this
/// process's hub straight from the write path, so the listener need not wake the tailer for
/// them; any other payload (another replica's commit) wakes it. Best effort: a payload not
/// recorded yet when its notification arrives just wakes the tailer once more.
///
/// Also counts the other replicas' commits heard, so that this replica knows its [`Memo`] is
/// out of date without trying it.
#[derive(Default)]
struct OwnCommits {
    seqs: std::sync::Mutex<std::collections::VecDeque<u64>>,
    others: std::sync::atomic::AtomicU64,
    /// Round trips the groups' statements made (tests; not the pings of an idle connection).
    round_trips: std::sync::atomic::AtomicU64,
}

impl OwnCommits {
    const KEEP: usize = 1024;

    fn record(&self, seq: u64) {
        let mut q = self.seqs.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() == Self::KEEP {
            q.pop_front();
        }
        q.push_back(seq);
    }

    /// Whether `payload` is one of this store's commits (then forgotten: each comes once).
    fn take(&self, payload: &str) -> bool {
        let Ok(seq) = payload.parse::<u64>() else { return false };
        let mut q = self.seqs.lock().unwrap_or_else(|p| p.into_inner());
        match q.iter().position(|s| *s == seq) {
            Some(i) => {
                q.remove(i);
                true
            }
            None => false,
        }
    }

    /// Another replica committed (its notification was heard).
    fn heard_other(&self) {
        self.others.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn others(&self) -> u64 {
        self.others.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn round_trip(&self) {
        self.round_trips.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[async_trait]
impl Writer for PgWriter {
    type Tx = PgTx;
    /// A group's two round trips cost more than its writers' turn around (measured: 8
    /// writers settled into two alternating groups of about 4; waiting for the others made
    /// groups of 8).
    const GATHER: Duration = Duration::from_millis(1);
    async fn begin(&self) -> StoreResult<PgTx> {
        begin_write(self).await
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
        // Appends update their incident's row in place (HOT).
        Migration::new(
            4,
            "hot_incidents".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0004_hot_incidents.sql").into_sql_str(),
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
            .acquire_timeout(CONNECT_TIMEOUT)
            // sqlx pings a connection when it goes back to the pool; pinging it again when it is
            // taken costs every query a round trip. Only a connection idle for a while (the
            // server may have dropped it meanwhile) is pinged before use.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > IDLE_PING {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(opts.clone())
            .await
            .context("connecting to PostgreSQL")?;
        migrator().run(&pool).await.context("migrating the PostgreSQL database")?;
        let planner = PlannerSlot::default();
        let own = Arc::new(OwnCommits::default());
        let group = GroupCommit::new(PgWriter {
            opts,
            slot: Arc::default(),
            planner: planner.clone(),
            own: own.clone(),
        });
        Ok(Self { pool, url: url.to_string(), planner, own, group, auth: Arc::default() })
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

/// A text the writer cannot send (see [`super::pg_literal`]).
fn nul(e: NulInText) -> StoreError {
    StoreError::invalid("invalid_event", e.to_string())
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
///
/// Round trips, not the database, are what an append costs here, so a group runs in two
/// whatever its size (one, on the [`Memo`] of the last group), each one simple query of
/// several statements: `BEGIN`, the lock and one read of everything the group's requests will
/// look at ([`WriteTx::prefetch`]; a statement after the lock sees every commit made before it
/// was granted); the requests themselves run in
/// memory against that read plus what earlier requests of the group wrote ([`Pending`]; a
/// savepoint is a mark in it); then one statement writing every row and sending the NOTIFY,
/// and `COMMIT`. The two statements are prepared once per connection and called with their
/// arguments as literals ([`super::pg_literal`]). The lock is held throughout, so nothing read
/// ahead can change underneath; a read that was not prefetched goes to the database (and is
/// kept). A request refused by the append rules is undone alone (its mark); the write
/// statement failing fails the whole group, which then records nothing.
struct PgTx {
    /// The writer's connection, in the transaction; back in `slot` once it ended cleanly
    /// (dropped otherwise: PostgreSQL rolls back what a closed connection left open).
    conn: Option<PgConnection>,
    /// Whether `BEGIN` (and the lock) went: with the group's first statement, not before.
    begun: bool,
    slot: WriterSlot,
    planner: Option<Arc<dyn Planner>>,
    ahead: Ahead,
    pending: Pending,
    /// The group member's savepoint: where `pending` stood when it began.
    mark: Option<Mark>,
    /// Where the group commit records its NOTIFY payload.
    own: Arc<OwnCommits>,
    /// What the last group left, taken for this one (put back, brought up to date, only by a
    /// commit that worked).
    memo: Option<Memo>,
    /// Set when the group runs on the memo instead of reading ahead.
    assumed: Option<Assumed>,
    /// [`OwnCommits::others`] when the group began.
    others: u64,
}

/// What the database held when the group began (under the lock), as far as it was read.
#[derive(Default)]
struct Ahead {
    last_seq: Option<u64>,
    last_num: Option<i64>,
    /// Looked-up incidents (`None`: no such incident).
    incidents: HashMap<String, Option<Incident>>,
    /// Looked-up event ids (`None`: not recorded).
    events: HashMap<Uuid, Option<Event>>,
    /// Looked-up correction targets: incident and kind (`None`: not recorded).
    targets: HashMap<Uuid, Option<(String, EventKind)>>,
}

/// What the group has written so far (sent to the database at commit).
#[derive(Default)]
struct Pending {
    events: Vec<Event>,
    /// Their bodies as JSON, in the same order.
    bodies: Vec<String>,
    /// Incidents written, in first-write order: id, number if declared in this group, state.
    incidents: Vec<(String, Option<i64>, Incident)>,
    deliveries: Vec<NewDelivery>,
}

struct Mark {
    events: usize,
    deliveries: usize,
    incidents: Vec<(String, Option<i64>, Incident)>,
}

/// `BEGIN` and the global write lock, in one simple query.
const BEGIN: &str = concat!("BEGIN; SELECT pg_advisory_xact_lock(", stringify!(33602666402639725), ");");

/// What a group reads ahead, in one statement (prepared on the writer's connection as
/// `warroom_read`): the last seq and incident number, which of the event ids given are recorded
/// (their seq; the events themselves are read only then, for a retry's answer), the correction
/// targets (incident and kind), and the incidents' states.
const READ_AHEAD: &str = "SELECT 'l' AS k, (SELECT COALESCE(MAX(seq), 0) FROM events) AS seq, NULL::uuid AS id, \
        NULL::text AS incident, (SELECT COALESCE(MAX(num), 0) FROM incidents)::text AS body \
     UNION ALL SELECT 'e', seq, id, NULL, NULL FROM events WHERE id = ANY($1) \
     UNION ALL SELECT 't', NULL, id, incident, kind FROM events WHERE id = ANY($2) \
     UNION ALL SELECT 'i', NULL, NULL, id, state::text FROM incidents WHERE id = ANY($3)";

/// Every row a group wrote (events, incidents declared and changed, deliveries, as arrays) and
/// the NOTIFY, in one statement (prepared as `warroom_write`, with these parameter types).
///
/// An optimistic group ([`Memo`]) passes the last seq it assumed (`$29`, -1: none) and its
/// event ids (`$30`): unless the last seq is that one and none of the ids is recorded, nothing
/// is written, no notification goes, and `ok` answers false.
const WRITE_TYPES: &str = "int8[], uuid[], text[], text[], text[], timestamptz[], timestamptz[], text[], \
     text[], int8[], text[], int8[], int8[], bool[], text[], text[], int8[], int8[], bool[], int8, \
     text[], text[], uuid[], text[], text[], int8[], text, text, int8, uuid[]";
const WRITE_GROUP: &str = "WITH c AS (SELECT ($29 < 0 OR (SELECT COALESCE(MAX(seq), 0) FROM events) = $29) \
         AND NOT EXISTS (SELECT 1 FROM events WHERE id = ANY($30)) AS ok), \
     e AS (INSERT INTO events (seq, id, incident, author, kind, occurred_at, recorded_at, body) \
         SELECT s, i, inc, a, k, o, r, b::jsonb FROM UNNEST($1, $2, $3, $4, $5, $6, $7, $8) \
             AS u(s, i, inc, a, k, o, r, b) WHERE (SELECT ok FROM c)), \
     n AS (INSERT INTO incidents (id, num, state, revision, last_seq, is_open) \
         SELECT i, n, st::jsonb, rv, ls, op FROM UNNEST($9, $10, $11, $12, $13, $14) AS u(i, n, st, rv, ls, op) \
         WHERE (SELECT ok FROM c)), \
     m AS (UPDATE incidents SET state = u.st::jsonb, revision = u.rv, last_seq = u.ls, is_open = u.op \
         FROM UNNEST($15, $16, $17, $18, $19) AS u(i, st, rv, ls, op) \
         WHERE incidents.id = u.i AND (SELECT ok FROM c)), \
     d AS (INSERT INTO deliveries (key, incident, event_id, target, payload, created_at, next_at) \
         SELECT k, inc, ev, t, p, $20, na FROM UNNEST($21, $22, $23, $24, $25, $26) \
             WITH ORDINALITY AS u(k, inc, ev, t, p, na, o) \
         WHERE (SELECT ok FROM c) ORDER BY o ON CONFLICT (key) DO NOTHING) \
     SELECT ok, (CASE WHEN ok THEN pg_notify($27, $28) END) IS NULL AS quiet FROM c";

/// Opens the writer's connection: generic plans, no sequential scans, and the group's two
/// statements prepared.
///
/// PostgreSQL would otherwise plan the group's read-ahead and its write afresh at every
/// execution (their generic plans look dearer on paper, so it never switches), and planning
/// them cost more than running them (0.4 ms each against under 0.1 ms, measured with `EXPLAIN
/// ANALYZE`). They only ever look rows up by key, and a generic plan made while a table was
/// nearly empty would scan it whole from then on: sequential scans are off. The connection runs
/// nothing but write transactions.
async fn connect_writer(opts: &PgConnectOptions) -> StoreResult<PgConnection> {
    let mut c = tokio::time::timeout(CONNECT_TIMEOUT, <PgConnection as sqlx::Connection>::connect_with(opts))
        .await
        .map_err(|_| StoreError::Busy("the database did not answer in time".into()))?
        .map_err(db)?;
    let setup = format!(
        "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off; \
         PREPARE warroom_read(uuid[], uuid[], text[]) AS {READ_AHEAD}; \
         PREPARE warroom_write({WRITE_TYPES}) AS {WRITE_GROUP};"
    );
    // Constants only.
    sqlx::raw_sql(AssertSqlSafe(setup)).execute(&mut c).await.map_err(db)?;
    Ok(c)
}

/// Takes the writer's connection for a group: the transaction begins with the group's first
/// statement ([`PgTx::begun`]).
async fn begin_write(w: &PgWriter) -> StoreResult<PgTx> {
    debug_assert_eq!(BEGIN, format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK});"));
    // Held by a test while it queues up a group (see `tests::in_one_group`).
    let idle = w.slot.lock().await.take();
    let (cached, memo) = match idle {
        Some(Idle { conn, used, memo }) if used.elapsed() <= IDLE_PING => (Some(conn), memo),
        // Idle a while: the server may have dropped it.
        Some(Idle { mut conn, memo, .. }) => {
            (sqlx::Connection::ping(&mut conn).await.is_ok().then_some(conn), memo)
        }
        None => (None, None),
    };
    let conn = match cached {
        Some(c) => c,
        None => connect_writer(&w.opts).await?,
    };
    let others = w.own.others();
    Ok(PgTx {
        conn: Some(conn),
        begun: false,
        slot: w.slot.clone(),
        planner: planner_of(&w.planner),
        ahead: Ahead::default(),
        pending: Pending::default(),
        mark: None,
        own: w.own.clone(),
        // Out of date if another replica's commit was heard since.
        memo: memo.filter(|m| m.others == others),
        assumed: None,
        others,
    })
}

impl PgTx {
    fn conn(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("a transaction's connection until it ends")
    }

    /// The connection, inside the transaction (begun here if no statement went yet).
    async fn begun(&mut self) -> StoreResult<&mut PgConnection> {
        if !self.begun {
            // Whatever happens, the connection may be in a transaction from now on.
            self.begun = true;
            self.own.round_trip();
            sqlx::raw_sql(BEGIN).execute(self.conn()).await.map_err(db)?;
        }
        self.own.round_trip();
        Ok(self.conn())
    }

    /// Runs `sql` (several statements, all from constants and [`Execute`]) in one simple query.
    async fn simple(&mut self, sql: String) -> StoreResult<Vec<PgRow>> {
        self.begun = true;
        self.own.round_trip();
        sqlx::raw_sql(AssertSqlSafe(sql)).fetch_all(self.conn()).await.map_err(db)
    }

    /// Ends the transaction with `sql` (COMMIT or ROLLBACK, `None`: none began); `after` reads
    /// what it answered and says the memo for the next group. The connection goes back, with
    /// that memo, only if `sql` worked (else it is dropped, and what it left open is rolled back).
    async fn end<T>(
        mut self,
        sql: Option<String>,
        after: impl FnOnce(&mut Self, &[PgRow]) -> (T, Option<Memo>),
    ) -> StoreResult<T> {
        let rows = match sql {
            Some(sql) => {
                self.own.round_trip();
                sqlx::raw_sql(AssertSqlSafe(sql)).fetch_all(self.conn()).await.map_err(db)?
            }
            None => Vec::new(),
        };
        let (answer, memo) = after(&mut self, &rows);
        let conn = self.conn.take().expect("a transaction's connection until it ends");
        *self.slot.lock().await = Some(Idle { conn, used: std::time::Instant::now(), memo });
        Ok(answer)
    }

    /// Reads what [`READ_AHEAD`] reads and fills `ahead`; the group's first statement takes
    /// `BEGIN` and the lock along, in the same round trip. A recorded event (a retry) is then
    /// read whole, in one more.
    async fn read_ahead(&mut self, incidents: &[String], ids: &[Uuid], targets: &[Uuid]) -> StoreResult<()> {
        let rows = if self.begun {
            self.own.round_trip();
            sqlx::query(READ_AHEAD)
                .bind(ids)
                .bind(targets)
                .bind(incidents)
                .fetch_all(self.conn())
                .await
                .map_err(db)?
        } else {
            let mut read = Execute::new("warroom_read");
            read.uuids(ids.iter().copied()).uuids(targets.iter().copied());
            read.texts(incidents.iter().map(String::as_str)).map_err(nul)?;
            let mut sql = String::from(BEGIN);
            sql.push_str(&read.finish());
            let mut rows = self.simple(sql).await?;
            // The lock's own row.
            rows.retain(|r| r.try_column("k").is_ok());
            rows
        };
        let a = &mut self.ahead;
        for id in ids {
            a.events.entry(*id).or_insert(None);
        }
        for id in targets {
            a.targets.entry(*id).or_insert(None);
        }
        for id in incidents {
            a.incidents.entry(id.clone()).or_insert(None);
        }
        let mut recorded = Vec::new();
        for row in &rows {
            let k: String = row.try_get("k").map_err(db)?;
            match k.as_str() {
                "l" => {
                    let seq: i64 = row.try_get("seq").map_err(db)?;
                    let num: String = row.try_get("body").map_err(db)?;
                    a.last_seq = Some(seq as u64);
                    a.last_num = Some(num.parse().map_err(|e| corrupt("incident number", e))?);
                }
                "e" => recorded.push(row.try_get::<Uuid, _>("id").map_err(db)?),
                "t" => {
                    let id: Uuid = row.try_get("id").map_err(db)?;
                    let incident: String = row.try_get("incident").map_err(db)?;
                    let kind: String = row.try_get("body").map_err(db)?;
                    let kind = kind.parse().map_err(|e: String| corrupt("event kind", e))?;
                    a.targets.insert(id, Some((incident, kind)));
                }
                _ => {
                    let id: String = row.try_get("incident").map_err(db)?;
                    let state: String = row.try_get("body").map_err(db)?;
                    a.incidents.insert(id, Some(incident_from_state(&state)?));
                }
            }
        }
        if !recorded.is_empty() {
            self.own.round_trip();
            let rows = sqlx::query(concat!("SELECT ", event_cols!(), " FROM events WHERE id = ANY($1)"))
                .bind(&recorded)
                .fetch_all(self.conn())
                .await
                .map_err(db)?;
            for row in &rows {
                let e = event_from_row(row)?;
                self.ahead.events.insert(e.id, Some(e));
            }
        }
        Ok(())
    }

    /// The call of `warroom_write` with every row the group wrote, and the NOTIFY (`None`:
    /// the group wrote nothing).
    fn write_call(&self) -> StoreResult<Option<String>> {
        let p = &self.pending;
        let Some(last) = p.events.last() else {
            return Ok(None);
        };
        let notify = last.seq.to_string();
        let mut w = Execute::new("warroom_write");
        let ev = &p.events;
        w.ints(ev.iter().map(|e| e.seq as i64)).uuids(ev.iter().map(|e| e.id));
        w.texts(ev.iter().map(|e| e.incident.as_str())).map_err(nul)?;
        w.texts(ev.iter().map(|e| e.author.as_str())).map_err(nul)?;
        w.texts(ev.iter().map(|e| e.kind().as_str())).map_err(nul)?;
        w.times(ev.iter().map(|e| e.occurred_at)).times(ev.iter().map(|e| e.recorded_at));
        w.texts(p.bodies.iter().map(String::as_str)).map_err(nul)?;
        // Incidents: declared in this group (inserted) or existing (updated), each once.
        let mut states = Vec::with_capacity(p.incidents.len());
        for (_, _, state) in &p.incidents {
            states.push((
                state_json(state)?,
                to_i64(state.revision)?,
                to_i64(state.last_seq)?,
                state.is_open(),
            ));
        }
        for declared in [true, false] {
            let rows: Vec<_> = p
                .incidents
                .iter()
                .zip(&states)
                .filter(|((_, num, _), _)| num.is_some() == declared)
                .collect();
            w.texts(rows.iter().map(|((id, _, _), _)| id.as_str())).map_err(nul)?;
            if declared {
                w.ints(rows.iter().filter_map(|((_, num, _), _)| *num));
            }
            w.texts(rows.iter().map(|(_, (json, _, _, _))| json.as_str())).map_err(nul)?;
            w.ints(rows.iter().map(|(_, (_, rev, _, _))| *rev));
            w.ints(rows.iter().map(|(_, (_, _, last, _))| *last));
            w.bools(rows.iter().map(|(_, (_, _, _, open))| *open));
        }
        let d = &p.deliveries;
        w.int(millis(Utc::now()));
        w.texts(d.iter().map(|d| d.key.as_str())).map_err(nul)?;
        w.texts(d.iter().map(|d| d.incident.as_str())).map_err(nul)?;
        w.uuids(d.iter().map(|d| d.event_id));
        w.texts(d.iter().map(|d| d.target.as_str())).map_err(nul)?;
        w.texts(d.iter().map(|d| d.payload.as_str())).map_err(nul)?;
        w.ints(d.iter().map(|d| millis(d.due_at)));
        // Delivered at commit, to every replica's listener: a wake-up hint, not the data.
        w.text(CHANNEL).map_err(nul)?.text(&notify).map_err(nul)?;
        // What an optimistic group assumed (none: -1 and no ids).
        match &self.assumed {
            Some(a) => w.int(to_i64(a.seq)?).uuids(a.ids.iter().copied()),
            None => w.int(-1).uuids(std::iter::empty()),
        };
        Ok(Some(w.finish()))
    }

    /// The incident as the group left it, else as read ahead, else from the database.
    async fn incident(&mut self, id: &str) -> StoreResult<Option<Incident>> {
        if let Some((_, _, state)) = self.pending.incidents.iter().find(|(i, _, _)| i == id) {
            return Ok(Some(state.clone()));
        }
        if id.contains('\0') {
            // None could be stored; asking would fail the group's transaction.
            return Ok(None);
        }
        if !self.ahead.incidents.contains_key(id) {
            let state = load_incident(self.begun().await?, id).await?;
            self.ahead.incidents.insert(id.to_string(), state);
        }
        Ok(self.ahead.incidents.get(id).cloned().flatten())
    }

    /// The memo after this group's transaction ended: what it read and (if `wrote`: it
    /// committed) wrote, on top of the memo it began with if that was still true (it ran on it,
    /// or its read found the same last seq). None for an optimistic group that was not
    /// confirmed, or a group that read nothing under the lock.
    fn next_memo(&mut self, wrote: bool) -> Option<Memo> {
        if !wrote {
            if self.assumed.is_some() {
                return None;
            }
            self.pending = Pending::default();
        }
        let seq = match self.pending.events.last() {
            Some(e) => e.seq,
            None => self.ahead.last_seq?,
        };
        let declared = self.pending.incidents.iter().filter_map(|(_, n, _)| *n).max();
        let num = self.ahead.last_num?.max(declared.unwrap_or(0));
        let mut incidents = match self.memo.take() {
            Some(m) if self.assumed.is_some() || self.ahead.last_seq == Some(m.seq) => m.incidents,
            _ => HashMap::new(),
        };
        let mine = self.ahead.incidents.len() + self.pending.incidents.len();
        if incidents.len() + mine > Memo::KEEP {
            incidents.clear();
        }
        for (id, state) in self.ahead.incidents.drain() {
            if let Some(state) = state {
                incidents.insert(id, state);
            }
        }
        for (id, _, state) in self.pending.incidents.drain(..) {
            incidents.insert(id, state);
        }
        Some(Memo { seq, num, others: self.others, incidents })
    }

    fn write_incident(&mut self, id: &str, num: Option<i64>, state: &Incident) {
        match self.pending.incidents.iter_mut().find(|(i, _, _)| i == id) {
            // Declared earlier in this group: still inserted, with the latest state.
            Some(slot) => slot.2 = state.clone(),
            None => self.pending.incidents.push((id.to_string(), num, state.clone())),
        }
    }
}

#[async_trait]
impl WriteTx for PgTx {
    async fn prefetch(&mut self, incidents: &[&str], events: &[&NewEvent]) -> StoreResult<()> {
        // No incident's id holds a NUL (none could be stored): such a request finds none.
        let mut incs: Vec<String> =
            incidents.iter().filter(|i| !i.contains('\0')).map(|i| i.to_string()).collect();
        incs.sort_unstable();
        incs.dedup();
        let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        let targets: Vec<Uuid> = events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Correction { target, .. } => Some(*target),
                _ => None,
            })
            .collect();
        // On the memo if it holds every incident the group asks for (and no correction needs
        // its target looked up).
        if let Some(m) = &self.memo
            && targets.is_empty()
            && incs.iter().all(|i| m.incidents.contains_key(i))
        {
            let a = &mut self.ahead;
            a.last_seq = Some(m.seq);
            a.last_num = Some(m.num);
            for i in incs {
                let state = m.incidents.get(&i).cloned();
                a.incidents.insert(i, state);
            }
            a.events.extend(ids.iter().map(|id| (*id, None)));
            self.assumed = Some(Assumed { seq: m.seq, ids });
            return Ok(());
        }
        self.read_ahead(&incs, &ids, &targets).await
    }
    fn optimistic(&self) -> bool {
        self.assumed.is_some()
    }
    async fn known(&mut self, events: &[NewEvent]) -> StoreResult<Known> {
        let (ids, targets) = Known::wanted(events);
        let missing: Vec<Uuid> = ids.iter().filter(|i| !self.ahead.events.contains_key(i)).copied().collect();
        let missing_targets: Vec<Uuid> =
            targets.iter().filter(|i| !self.ahead.targets.contains_key(i)).copied().collect();
        if !missing.is_empty() || !missing_targets.is_empty() {
            self.read_ahead(&[], &missing, &missing_targets).await?;
        }
        let mut k = Known::default();
        for id in &ids {
            if let Some(e) = self.pending.events.iter().find(|e| e.id == *id) {
                k.by_id.insert(*id, e.clone());
            } else if let Some(Some(e)) = self.ahead.events.get(id) {
                k.by_id.insert(*id, e.clone());
            }
        }
        for id in &targets {
            let found = match self.pending.events.iter().find(|e| e.id == *id) {
                Some(e) => Some((e.incident.clone(), e.kind())),
                None => self.ahead.targets.get(id).cloned().flatten(),
            };
            if let Some((incident, kind)) = found {
                k.targets.insert(*id, incident);
                k.target_kinds.insert(*id, kind);
            }
        }
        Ok(k)
    }
    async fn last_seq(&mut self) -> StoreResult<u64> {
        if let Some(e) = self.pending.events.last() {
            return Ok(e.seq);
        }
        if self.ahead.last_seq.is_none() {
            self.ahead.last_seq = Some(last_seq(self.begun().await?).await?);
        }
        Ok(self.ahead.last_seq.unwrap_or(0))
    }
    async fn load_incident(&mut self, id: &str) -> StoreResult<Option<Incident>> {
        self.incident(id).await
    }
    async fn next_incident_num(&mut self) -> StoreResult<i64> {
        let last = match self.ahead.last_num {
            Some(n) => n,
            None => {
                let n: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(num), 0) FROM incidents")
                    .fetch_one(self.begun().await?)
                    .await
                    .map_err(db)?;
                self.ahead.last_num = Some(n);
                n
            }
        };
        let declared = self.pending.incidents.iter().filter_map(|(_, n, _)| *n).max().unwrap_or(0);
        Ok(last.max(declared) + 1)
    }
    async fn insert_events(&mut self, events: &[Event]) -> StoreResult<()> {
        let mut bodies = Vec::with_capacity(events.len());
        for e in events {
            to_i64(e.seq)?;
            let body = serde_json::to_string(&e.body).map_err(|e| StoreError::Backend(e.into()))?;
            // Refused here, for this request alone, rather than failing the group's write
            // (`jsonb` refuses `\u0000` too).
            if e.author.contains('\0') || e.incident.contains('\0') || json_holds_nul(&body) {
                return Err(nul(NulInText));
            }
            bodies.push(body);
        }
        self.pending.events.extend_from_slice(events);
        self.pending.bodies.extend(bodies);
        Ok(())
    }
    async fn insert_incident(&mut self, id: &str, num: i64, state: &Incident) -> StoreResult<()> {
        self.write_incident(id, Some(num), state);
        Ok(())
    }
    async fn update_incident(&mut self, id: &str, state: &Incident) -> StoreResult<()> {
        self.write_incident(id, None, state);
        Ok(())
    }
    async fn commit(mut self) -> StoreResult<bool> {
        let last = self.pending.events.last().map(|e| e.seq);
        // The write and the COMMIT in one round trip (and BEGIN first if nothing was read).
        let write = self.write_call()?;
        let wrote = write.is_some();
        let sql = match write {
            Some(write) if self.begun => Some(write + " COMMIT"),
            Some(write) => Some(format!("{BEGIN} {write} COMMIT")),
            None => self.begun.then(|| "COMMIT".to_string()),
        };
        let own = self.own.clone();
        if let Some(seq) = last {
            // Before the COMMIT: the notification is sent at commit, and may be read at once.
            own.record(seq);
        }
        let confirmed = |rows: &[PgRow]| -> StoreResult<bool> {
            match rows.iter().find(|r| r.try_column("ok").is_ok()) {
                Some(row) => row.try_get("ok").map_err(db),
                None if wrote => Err(corrupt("the group's write", "no answer")),
                None => Ok(true),
            }
        };
        let done = self
            .end(sql, |tx, rows| {
                let ok = confirmed(rows);
                let memo = if matches!(ok, Ok(true)) { tx.next_memo(wrote) } else { None };
                (ok, memo)
            })
            .await
            .and_then(|ok| ok);
        if let (false, Some(seq)) = (matches!(done, Ok(true)), last) {
            // Not committed (or not known to be; or written nothing): another commit may carry
            // this seq, and if this one did commit after all, the hub has not got its events;
            // either way its notification must wake the tailer.
            own.take(&seq.to_string());
        }
        done
    }
    async fn rollback(self) -> StoreResult<()> {
        let sql = self.begun.then(|| "ROLLBACK".to_string());
        self.end(sql, |tx, _| ((), tx.next_memo(false))).await
    }
    fn planner(&self) -> Option<Arc<dyn Planner>> {
        self.planner.clone()
    }
    async fn insert_deliveries(&mut self, rows: &[NewDelivery]) -> StoreResult<()> {
        self.pending.deliveries.extend_from_slice(rows);
        Ok(())
    }
    async fn execute(&mut self, sql: &'static str) -> StoreResult<()> {
        sqlx::query(sql).execute(self.begun().await?).await.map(drop).map_err(db)
    }
    // Savepoints are marks in what the group wrote (nothing is sent before the commit).
    async fn savepoint(&mut self) -> StoreResult<()> {
        let p = &self.pending;
        self.mark = Some(Mark {
            events: p.events.len(),
            deliveries: p.deliveries.len(),
            incidents: p.incidents.clone(),
        });
        Ok(())
    }
    async fn release_savepoint(&mut self) -> StoreResult<()> {
        self.mark = None;
        Ok(())
    }
    async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        if let Some(m) = self.mark.take() {
            self.pending.events.truncate(m.events);
            self.pending.bodies.truncate(m.events);
            self.pending.deliveries.truncate(m.deliveries);
            self.pending.incidents = m.incidents;
        }
        Ok(())
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

    fn share_practice(&self, practice: &Arc<crate::domain::Practice>) {
        self.group.share_practice(practice);
    }

    fn write_groups(&self) -> Option<super::store::GroupTotals> {
        Some(self.group.totals())
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
                "SELECT state::text FROM incidents WHERE NOT is_open ORDER BY closed_seq DESC LIMIT $1",
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
        if let Some(known) = self.auth.token(&hash) {
            return Ok(known);
        }
        let ticket = self.auth.ticket();
        let found = sql_tokens::find_token(self, hash).await?;
        if let Some(t) = &found {
            self.auth.keep_token(ticket, hash, t);
        }
        Ok(found)
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
        if let Some(s) = self.auth.session(&hash) {
            return Ok(Some(s));
        }
        let ticket = self.auth.ticket();
        let found = sql_auth::postgres::find_session(&self.pool, db, hash).await?;
        if let Some(s) = &found {
            self.auth.keep_session(ticket, hash, s);
        }
        Ok(found)
    }

    async fn end_session(&self, hash: [u8; 32], at: DateTime<Utc>) -> StoreResult<Option<SessionRecord>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let ended = sql_auth::postgres::end_session(&mut *tx, db, hash, at).await?;
        notify_auth(&mut tx).await?;
        tx.commit().await.map_err(db)?;
        self.auth.clear();
        Ok(ended)
    }

    async fn record_audit(&self, actor: &str, action: &str, subject: &str, detail: &str) -> StoreResult<()> {
        sql_auth::postgres::record_audit(&self.pool, db, [actor, action, subject, detail]).await
    }

    async fn audit_since(&self, since: Option<DateTime<Utc>>, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        sql_auth::postgres::audit_since(&self.pool, db, since, limit).await
    }

    fn listen(&self, wake: Arc<dyn Fn() -> bool + Send + Sync>) {
        let url = self.url.clone();
        let own = self.own.clone();
        let auth = self.auth.clone();
        tokio::spawn(async move { listen_loop(url, own, auth, wake).await });
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        let row = sqlx::query(
            "UPDATE tokens SET revoked_at = now() WHERE revoked_at IS NULL AND (name = $1 OR id = $2) \
             RETURNING id, name, role, created_at, revoked_at",
        )
        .bind(name)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        notify_auth(&mut tx).await?;
        tx.commit().await.map_err(db)?;
        self.auth.clear();
        row.as_ref().map(token_from_row).transpose()
    }
}

/// Tells every replica's listener (at commit) that a token or session changed.
async fn notify_auth(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, '')").bind(AUTH_CHANNEL).execute(&mut **tx).await.map(drop).map_err(db)
}

/// LISTENs for commit hints and pokes the hub; reconnects with backoff. After a reconnect it
/// pokes once, since notifications sent meanwhile are lost (the hub's poll also covers that).
/// Also keeps `auth` honest: emptied on every revocation or sign-out heard, and unused from the
/// moment the connection drops (a notification may be missed) until it listens again.
async fn listen_loop(
    url: String,
    own: Arc<OwnCommits>,
    auth: Arc<AuthCache>,
    wake: Arc<dyn Fn() -> bool + Send + Sync>,
) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match PgListener::connect(&url).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen_all([CHANNEL, AUTH_CHANNEL]).await {
                    tracing::warn!(error = %e, "LISTEN failed");
                } else {
                    backoff = Duration::from_millis(200);
                    auth.listening();
                    if !wake() {
                        return;
                    }
                    loop {
                        let alive = match listener.try_recv().await {
                            Ok(Some(n)) if n.channel() == AUTH_CHANNEL => {
                                auth.clear();
                                true
                            }
                            // This replica's own commit: its hub has the events already.
                            Ok(Some(n)) if own.take(n.payload()) => true,
                            Ok(Some(_)) => {
                                own.heard_other();
                                wake()
                            }
                            // The connection dropped: notifications were missed. Reconnect here
                            // (not inside sqlx) to know when listening starts again; catch up.
                            Ok(None) => {
                                auth.deaf();
                                tracing::warn!("PostgreSQL listener lost its connection; reconnecting");
                                break;
                            }
                            Err(e) => {
                                auth.deaf();
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
        auth.deaf();
        // Another replica's commit may have gone unheard: the memo is not to be tried.
        own.heard_other();
        if !wake() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    //! Group commit on PostgreSQL (needs `WARROOM_TEST_PG`, a database whose warroom tables it
    //! drops): groups are formed deterministically by holding the write lock from another
    //! session while the requests queue up behind it.

    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use sqlx::{Connection, PgConnection};

    use super::PgStore;
    use crate::api::Role;
    use crate::domain::{EventBody, EventKind, NewEvent, Practice};
    use crate::server::store::{AppendCtx, Appended, Store, StoreError, StoreResult};

    fn note(text: &str) -> NewEvent {
        NewEvent::now(EventBody::entry(EventKind::Note, text).unwrap())
    }

    fn declared(title: &str) -> NewEvent {
        NewEvent::now(EventBody::Declared {
            title: title.into(),
            severity: "SEV-2".into(),
            summary: String::new(),
            group_key: None,
            demo: false,
        })
    }

    /// The test database (`WARROOM_TEST_PG`) in a schema of the test's own, `name`, which is also
    /// its connections' application name: the store suite of `server::tests` resets the
    /// database's public schema meanwhile, and a test may drop its own connections. A connection
    /// to the database, and the URL. `None`, said loudly, without `WARROOM_TEST_PG` (a failure
    /// with `WARROOM_REQUIRE_PG=1`, as in CI).
    async fn own_schema(name: &str) -> Option<(PgConnection, String)> {
        let Ok(base) = std::env::var("WARROOM_TEST_PG") else {
            assert_ne!(std::env::var("WARROOM_REQUIRE_PG").as_deref(), Ok("1"), "WARROOM_TEST_PG is not set");
            eprintln!("*** SKIPPED: set WARROOM_TEST_PG=postgres://... ***");
            return None;
        };
        let mut admin = PgConnection::connect(&base).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options[search_path]={name}&application_name={name}");
        PgStore::reset(&url).await.unwrap();
        Some((admin, url))
    }

    /// A replica remembers who a token is, and forgets it when another process revokes the
    /// token or ends a session: the revocation's notification, not the entry's age, empties
    /// its cache.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revocation_elsewhere_empties_a_replicas_auth_cache() {
        let Some((_, url)) = own_schema("warroom_auth_test").await else { return };
        // `b` serves (its listener listens); `cli` is another process, as `warroom token revoke --db`.
        let b = PgStore::open(&url).await.unwrap();
        let cli = PgStore::open(&url).await.unwrap();
        b.listen(Arc::new(|| true));
        let patience = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let wait = |what: &str, done: &dyn Fn() -> bool| {
            assert!(std::time::Instant::now() < patience, "waited a minute for {what}");
            !done()
        };
        while wait("the listener", &|| b.auth.is_on()) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }

        let secret = crate::server::tokens::create(&cli, "pager", Role::Scribe).await.unwrap();
        let hash = crate::server::auth::hash_secret(&secret);
        assert!(!b.find_token(hash).await.unwrap().unwrap().revoked);
        assert!(b.auth.holds(&hash), "kept after the first lookup");
        let before = b.auth.generation();
        crate::server::tokens::revoke_by(&cli, "test", "pager").await.unwrap();
        while wait("the revocation's notification", &|| b.auth.generation() > before) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(!b.auth.holds(&hash));
        assert!(b.find_token(hash).await.unwrap().unwrap().revoked, "read again: revoked");

        let session = crate::server::auth_cache::tests::session("ana");
        let shash = [7u8; 32];
        cli.create_session(&session, shash).await.unwrap();
        assert!(b.find_token(shash).await.unwrap().is_none());
        assert_eq!(b.find_session(shash).await.unwrap().unwrap().ended_at, None);
        assert!(b.auth.holds(&shash));
        assert_eq!(b.find_token(shash).await.unwrap(), None, "a known session is no token");
        let before = b.auth.generation();
        cli.end_session(shash, chrono::Utc::now()).await.unwrap();
        while wait("the sign-out's notification", &|| b.auth.generation() > before) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(b.find_session(shash).await.unwrap().unwrap().ended_at.is_some(), "signed out");
    }

    /// The group committer's own connection dropped by the server (a restart, a failover, an
    /// idle timeout): the next write may be refused as busy (503, the client retries), never
    /// lost or failed for good, and the one after it is recorded on a new connection.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_reconnects_after_the_server_drops_its_connection() {
        // Its own application name: only this test's connections are dropped.
        let Some((mut admin, url)) = own_schema("warroom_drop_test").await else { return };
        let store = PgStore::open(&url).await.unwrap();
        let p = crate::assets::load_practice(None, None).expect("embedded practice");
        let ctx = AppendCtx { author: "ic", role: Role::Commander, practice: &p, if_match: None };
        let inc = store.declare(ctx, declared("Checkout down")).await.unwrap().incident.id;
        let dropped: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'warroom_drop_test'",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert!(dropped.len() >= 2, "the pool's and the writer's connections: {dropped:?}");
        while sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'warroom_drop_test'",
        )
        .fetch_one(&mut admin)
        .await
        .unwrap()
            > 0
        {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // As a client does: the same events again after a 503.
        let mut busy = 0;
        for ev in [note("after the drop"), note("and again")] {
            loop {
                match store.append(ctx, &inc, vec![ev.clone()]).await {
                    Ok(_) => break,
                    Err(StoreError::Busy(_)) if busy < 3 => busy += 1,
                    Err(e) => panic!("after {busy} busy answers: {e:?}"),
                }
            }
        }
        // Once (or never, if it sat idle long enough to be pinged first), then replaced.
        assert!(busy <= 1, "the dropped connection was refused {busy} times");
        // The pool's dead connections each fail one read (busy) before they are replaced.
        let mut reads = 0;
        let events = loop {
            match store.events_after(0, 100, None).await {
                Ok(events) => break events,
                Err(StoreError::Busy(_)) if reads < 20 => reads += 1,
                Err(e) => panic!("read: {e:?}"),
            }
        };
        let got: Vec<(u64, String)> = events.iter().map(|e| (e.seq, e.kind().as_str().to_string())).collect();
        assert_eq!(got, [(1, "declared".to_string()), (2, "note".into()), (3, "note".into())]);
    }

    /// A store in a schema of its own (see [`own_schema`]) holding one declared incident; and
    /// the schema's URL.
    async fn declared_in(schema: &str) -> Option<(Arc<PgStore>, Arc<Practice>, String, String)> {
        let (_, url) = own_schema(schema).await?;
        let store = Arc::new(PgStore::open(&url).await.unwrap());
        let p = Arc::new(crate::assets::load_practice(None, None).expect("embedded practice"));
        let ctx = AppendCtx { author: "ic", role: Role::Commander, practice: &p, if_match: None };
        let inc = store.declare(ctx, declared("Checkout down")).await.unwrap().incident.id;
        Some((store, p, inc, url))
    }

    /// The group's write reaches PostgreSQL as SQL literals (`pg_literal`): whatever a text
    /// holds (quotes, backslashes, `E'`, dollar quotes, any Unicode) comes back as it was sent,
    /// in the note and in the author's name; a NUL, which PostgreSQL cannot store, refuses that
    /// request alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn any_text_comes_back_as_it_was_sent() {
        use proptest::strategy::{Strategy, ValueTree};
        let Some((store, p, inc, _)) = declared_in("warroom_literal_test").await else { return };
        let mut texts: Vec<String> = [
            "it's",
            r"back\slash",
            r"\'",
            r"'); DROP TABLE events; --",
            r"E'\x41' $$ $tag$ '' \\",
            "\u{1b}[31m\u{202e} é 🔥 \u{7f}\u{85}",
            r"typed \u0000, not a NUL",
        ]
        .map(String::from)
        .to_vec();
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let any = proptest::collection::vec(proptest::arbitrary::any::<char>(), 1..40)
            .prop_map(|c| c.into_iter().filter(|c| *c != '\0').collect::<String>());
        for _ in 0..300 {
            texts.push(format!("t{}", any.new_tree(&mut runner).unwrap().current()));
        }
        // Many at once (one group, concurrent) and each text as an author's name too.
        let mut tasks = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let (s, p, inc, text) = (store.clone(), p.clone(), inc.clone(), text.clone());
            let author = if i % 3 == 0 { text.clone() } else { "ic".to_string() };
            tasks.push(tokio::spawn(async move {
                let ctx = AppendCtx { author: &author, role: Role::Commander, practice: &p, if_match: None };
                s.append(ctx, &inc, vec![note(&text)]).await.map(|a| a.events[0].seq)
            }));
        }
        let bad = {
            let (s, p, inc) = (store.clone(), p.clone(), inc.clone());
            tokio::spawn(async move {
                let ctx = AppendCtx { author: "ic", role: Role::Commander, practice: &p, if_match: None };
                s.append(ctx, &inc, vec![note("a\0b")]).await
            })
        };
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap().expect("recorded"));
        }
        assert!(matches!(bad.await.unwrap(), Err(StoreError::Invalid { .. })), "a NUL is refused");
        let ctx = AppendCtx { author: "a\0b", role: Role::Commander, practice: &p, if_match: None };
        assert!(matches!(store.append(ctx, &inc, vec![note("x")]).await, Err(StoreError::Invalid { .. })));
        assert!(matches!(store.append(ctx, "INC-1\0", vec![note("x")]).await, Err(StoreError::NotFound(_))));
        let events = store.events_after(0, 1000, Some(&inc)).await.unwrap();
        for (i, (text, seq)) in texts.iter().zip(&seqs).enumerate() {
            let e = events.iter().find(|e| e.seq == *seq).expect("read back");
            assert_eq!(e.body.as_entry().map(|x| x.text.as_str()), Some(text.as_str()), "text {i}");
            let author = if i % 3 == 0 { text.as_str() } else { "ic" };
            assert_eq!(e.author, author, "author {i}");
        }
        assert_eq!(events.len(), texts.len() + 1, "nothing else recorded");
    }

    /// Times go as literals too: any the store takes comes back to the microsecond, before
    /// PostgreSQL's epoch (2000) as after it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn any_time_comes_back_as_it_was_sent() {
        let Some((store, p, inc, _)) = declared_in("warroom_time_test").await else { return };
        let ctx = AppendCtx { author: "ic", role: Role::Commander, practice: &p, if_match: None };
        for at in [
            "1970-01-01T00:00:00Z",
            "1970-01-01T00:00:00.000001Z",
            "1999-12-31T23:59:59.123456Z",
            "2026-12-02T22:15:18.654321Z",
        ] {
            let mut e = note(at);
            e.occurred_at = at.parse().unwrap();
            let seq = store.append(ctx, &inc, vec![e.clone()]).await.expect(at).events[0].seq;
            let back = store.events_after(seq - 1, 1, None).await.unwrap();
            assert_eq!(back[0].occurred_at, e.occurred_at, "{at}");
        }
    }

    /// The round trips the store's groups have made so far, and the groups run again.
    fn trips(store: &PgStore) -> (u64, u64) {
        (store.own.round_trips.load(Ordering::SeqCst), store.group.stats.reruns.load(Ordering::SeqCst))
    }

    /// Appends as `alice` (a commander), with `if_match`.
    async fn append_as(
        store: &PgStore,
        p: &Practice,
        inc: &str,
        events: Vec<NewEvent>,
        if_match: Option<u64>,
    ) -> StoreResult<Appended> {
        let ctx = AppendCtx { author: "alice", role: Role::Commander, practice: p, if_match };
        store.append(ctx, inc, events).await
    }

    /// A group on incidents the last group read or wrote runs on what it left (the memo): one
    /// round trip, and what it wrote is what a fresh reader finds. A store that has not written
    /// yet (another replica) reads ahead first: two.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_on_what_the_last_one_left_takes_one_round_trip() {
        let Some((a, p, inc, url)) = declared_in("warroom_memo_test").await else { return };
        let before = trips(&a);
        let one = append_as(&a, &p, &inc, vec![note("on the memo")], None).await.unwrap();
        assert_eq!(trips(&a), (before.0 + 1, 0), "one round trip, nothing run again");
        let two =
            append_as(&a, &p, &inc, vec![note("again"), note("and again")], Some(one.incident.revision))
                .await
                .unwrap();
        assert_eq!(trips(&a), (before.0 + 2, 0));
        assert_eq!(two.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!((two.incident.last_seq, two.incident.revision), (4, one.incident.revision + 2));

        let b = PgStore::open(&url).await.unwrap();
        let three = append_as(&b, &p, &inc, vec![note("from b")], None).await.unwrap();
        assert_eq!(trips(&b), (2, 0), "a first group reads ahead");
        let four = append_as(&b, &p, &inc, vec![note("from b again")], None).await.unwrap();
        assert_eq!(trips(&b), (3, 0));
        assert_eq!((three.events[0].seq, four.events[0].seq), (5, 6));
        let fresh = PgStore::open(&url).await.unwrap();
        let log = fresh.events_after(0, 100, None).await.unwrap();
        assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=6).collect::<Vec<_>>());
        let stored = fresh.incident(&inc, false).await.unwrap().unwrap().incident;
        assert_eq!(stored, four.incident, "stored as the last group left it");
    }

    /// Another replica's commit makes the memo out of date: a group that ran on it writes
    /// nothing (its condition fails under the lock), and runs again on what the database holds;
    /// a refusal decided on the memo is not told until confirmed, and is not confirmed here.
    /// The log stays gap-free, each event once, and the answers carry the other replica's
    /// changes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_replicas_commit_sends_a_group_the_long_way() {
        let Some((a, p, inc, url)) = declared_in("warroom_memo_stale_test").await else { return };
        append_as(&a, &p, &inc, vec![note("a, on the memo")], None).await.unwrap();
        let b = PgStore::open(&url).await.unwrap();
        let role = |body| NewEvent::now(body);
        let changed = append_as(
            &b,
            &p,
            &inc,
            vec![role(EventBody::RoleAssigned { role: "scribe".into(), holder: "bob".into() })],
            None,
        )
        .await
        .unwrap();

        // On A's memo nobody holds the role (refused); in the database bob does.
        let before = trips(&a);
        let fine = append_as(
            &a,
            &p,
            &inc,
            vec![role(EventBody::RoleReleased { role: "scribe".into(), holder: Some("bob".into()) })],
            None,
        )
        .await
        .expect("the refusal on the memo was not confirmed");
        assert_eq!(trips(&a).1, before.1 + 1, "run again");
        assert_eq!(fine.events[0].seq, changed.events[0].seq + 1);
        assert!(fine.incident.roles.get("scribe").is_none_or(|h| h.is_empty()), "{:?}", fine.incident.roles);

        // B writes again; A's plain append fails its condition (the last seq) and runs again.
        let sev = NewEvent::now(EventBody::SeverityChanged { severity: "SEV-3".into() });
        let changed = append_as(&b, &p, &inc, vec![sev], None).await.unwrap();
        let mine = note("a, after b again");
        let again = append_as(&a, &p, &inc, vec![mine.clone()], None).await.unwrap();
        assert_eq!(trips(&a).1, before.1 + 2);
        assert_eq!(again.events[0].seq, changed.events[0].seq + 1);
        assert_eq!(
            (again.incident.severity.as_str(), again.incident.last_seq),
            ("SEV-3", again.events[0].seq)
        );
        // A refusal that holds is told after the long way: If-Match of a severity older than
        // B's change (on A's memo, older than none).
        let sev = NewEvent::now(EventBody::SeverityChanged { severity: "SEV-1".into() });
        let b_again = append_as(&b, &p, &inc, vec![sev], None).await.unwrap();
        let sev = NewEvent::now(EventBody::SeverityChanged { severity: "SEV-2".into() });
        let refused = append_as(&a, &p, &inc, vec![sev], Some(again.incident.revision)).await;
        assert!(matches!(refused, Err(StoreError::Stale { .. })), "{refused:?}");
        assert_eq!(trips(&a).1, before.1 + 3);
        // And A's memo is good again: one round trip.
        let t = trips(&a);
        let last = append_as(&a, &p, &inc, vec![note("a, on the memo again")], None).await.unwrap();
        assert_eq!(trips(&a), (t.0 + 1, t.1));
        assert_eq!(last.events[0].seq, b_again.events[0].seq + 1);

        let log = PgStore::open(&url).await.unwrap().events_after(0, 100, None).await.unwrap();
        assert_eq!(
            log.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=last.events[0].seq).collect::<Vec<_>>()
        );
        assert_eq!(log.iter().filter(|e| e.id == mine.id).count(), 1);
        assert_eq!(b_again.incident.severity, "SEV-1");
        let stored =
            PgStore::open(&url).await.unwrap().incident(&inc, false).await.unwrap().unwrap().incident;
        assert_eq!(stored.severity, "SEV-1", "the refused change was not recorded");
    }

    /// A retry (an event id already recorded) cannot be told from the memo: the group's
    /// condition finds the id recorded, nothing is written, and the group runs again, where
    /// the retry answers as first recorded and the other requests of the group are recorded.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_retry_on_the_memo_answers_as_first_recorded() {
        let Some((store, p, inc, url)) = declared_in("warroom_memo_retry_test").await else { return };
        let first = note("sent twice");
        let recorded = append_as(&store, &p, &inc, vec![first.clone()], None).await.unwrap();
        let before = trips(&store);
        let retry = append_as(&store, &p, &inc, vec![first.clone()], None).await.unwrap();
        assert_eq!(
            (retry.events[0].seq, retry.created, trips(&store).1),
            (recorded.events[0].seq, false, before.1 + 1)
        );
        let opened = declared("Search slow");
        let ctx = AppendCtx { author: "ic", role: Role::Commander, practice: &p, if_match: None };
        let two = store.declare(ctx, opened.clone()).await.unwrap();
        let answers = in_one_group(
            &store,
            &p,
            vec![
                Req::Append(inc.clone(), vec![note("new in the group")], None),
                Req::Append(inc.clone(), vec![first.clone()], None),
                Req::Declare(opened.clone()),
                Req::Append(inc.clone(), vec![note("also new")], None),
            ],
        )
        .await;
        assert_eq!(trips(&store).1, before.1 + 2, "the group ran again once");
        let seqs: Vec<_> =
            answers.iter().map(|a| a.as_ref().map(|a| (a.events[0].seq, a.created)).unwrap()).collect();
        let next = two.events[0].seq + 1;
        assert_eq!(
            seqs,
            vec![(next, true), (recorded.events[0].seq, false), (two.events[0].seq, false), (next + 1, true)]
        );
        let log = PgStore::open(&url).await.unwrap().events_after(0, 100, None).await.unwrap();
        assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=next + 1).collect::<Vec<_>>());
        assert_eq!(log.iter().filter(|e| e.id == first.id || e.id == opened.id).count(), 2);
    }

    /// A replica that hears another's commit (its listener) does not try its memo: the next
    /// group reads ahead at once, nothing run again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_heard_from_another_replica_retires_the_memo() {
        let Some((a, p, inc, url)) = declared_in("warroom_memo_heard_test").await else { return };
        a.listen(Arc::new(|| true));
        let ready = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        while !a.auth.is_on() {
            assert!(tokio::time::Instant::now() < ready, "the listener did not start");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        append_as(&a, &p, &inc, vec![note("a")], None).await.unwrap();
        let heard = a.own.others();
        let b = PgStore::open(&url).await.unwrap();
        let theirs = append_as(&b, &p, &inc, vec![note("b")], None).await.unwrap();
        while a.own.others() == heard {
            assert!(tokio::time::Instant::now() < ready, "B's notification never came");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let before = trips(&a);
        let mine = append_as(&a, &p, &inc, vec![note("a after b")], None).await.unwrap();
        assert_eq!(trips(&a), (before.0 + 2, before.1), "read ahead, nothing run again");
        assert_eq!(mine.events[0].seq, theirs.events[0].seq + 1);
    }

    /// One request: a declaration, or `(incident, events, if_match)`.
    enum Req {
        Declare(NewEvent),
        Append(String, Vec<NewEvent>, Option<u64>),
    }

    /// Runs `reqs` as one group (checked) and returns their answers in the same order.
    async fn in_one_group(
        store: &Arc<PgStore>,
        p: &Arc<Practice>,
        reqs: Vec<Req>,
    ) -> Vec<StoreResult<Appended>> {
        let groups = store.group.stats.groups.load(Ordering::SeqCst);
        let n = reqs.len();
        // The committer waits for its connection until the group has queued up.
        let held = store.group.writer().slot.lock().await;
        let mut tasks = Vec::new();
        for (k, req) in reqs.into_iter().enumerate() {
            let (s, p) = (store.clone(), p.clone());
            tasks.push(tokio::spawn(async move {
                match req {
                    Req::Declare(e) => {
                        let ctx =
                            AppendCtx { author: "ic", role: Role::Commander, practice: &p, if_match: None };
                        s.declare(ctx, e).await
                    }
                    Req::Append(incident, events, if_match) => {
                        let ctx =
                            AppendCtx { author: "alice", role: Role::Commander, practice: &p, if_match };
                        s.append(ctx, &incident, events).await
                    }
                }
            }));
            while store.group.stats.queued.load(Ordering::SeqCst) < k + 1 {
                tokio::task::yield_now().await;
            }
        }
        drop(held);
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        assert_eq!(store.group.stats.groups.load(Ordering::SeqCst), groups + 1, "one transaction");
        assert!(store.group.stats.largest.load(Ordering::SeqCst) >= n);
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_runs_by_the_rules_of_each_request_alone() {
        let Some((store, p, inc, url)) = declared_in("warroom_group_test").await else { return };
        let ctx = AppendCtx { author: "ic", role: Role::Commander, practice: &p, if_match: None };
        let first = note("recorded before");
        let recorded = store.append(ctx, &inc, vec![first.clone()]).await.unwrap().events[0].seq;
        let mut clash = note("same id, other text");
        clash.id = first.id;
        let twice = note("sent twice in one group");
        let sev = NewEvent::now(EventBody::SeverityChanged { severity: "SEV-1".into() });
        let fix = NewEvent::now(EventBody::Correction { target: twice.id, text: "amended".into() });
        let second = declared("Search slow");
        let answers = in_one_group(
            &store,
            &p,
            vec![
                Req::Append(inc.clone(), vec![note("ok 1")], None),
                Req::Append("INC-404".into(), vec![note("nowhere")], None),
                Req::Append(inc.clone(), vec![clash], None),
                Req::Append(inc.clone(), vec![first.clone()], None),
                Req::Append(inc.clone(), vec![twice.clone()], None),
                Req::Append(inc.clone(), vec![sev], Some(0)),
                Req::Append(inc.clone(), vec![twice.clone()], None),
                Req::Declare(second.clone()),
                // Sees the event written earlier in the group.
                Req::Append(inc.clone(), vec![fix], None),
                Req::Declare(second.clone()),
                Req::Append(inc.clone(), vec![note("ok 2"), note("ok 3")], None),
            ],
        )
        .await;
        let get = |i: usize| answers[i].as_ref();
        assert_eq!(get(0).unwrap().events[0].seq, 3);
        assert!(matches!(get(1), Err(StoreError::NotFound(_))));
        assert!(matches!(get(2), Err(StoreError::Invalid { code: "id_conflict", .. })));
        let retry = get(3).unwrap();
        assert_eq!(
            (retry.events[0].seq, retry.created),
            (recorded, false),
            "a retry answers as first recorded"
        );
        assert_eq!(get(4).unwrap().events[0].seq, 4);
        assert!(matches!(get(5), Err(StoreError::Stale { .. })), "a stale If-Match fails alone");
        assert_eq!(
            (get(6).unwrap().events[0].seq, get(6).unwrap().created),
            (4, false),
            "a retry in the group"
        );
        let opened = get(7).unwrap();
        assert_eq!((opened.incident.id.as_str(), opened.events[0].seq, opened.created), ("INC-2", 5, true));
        assert_eq!(get(8).unwrap().events[0].seq, 6, "a correction of an event of the same group");
        let again = get(9).unwrap();
        assert_eq!((again.incident.id.as_str(), again.events[0].seq, again.created), ("INC-2", 5, false));
        let last = get(10).unwrap();
        assert_eq!(last.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![7, 8]);
        assert_eq!(last.incident.last_seq, 8);

        // What a fresh reader finds: every committed event once, gap-free, and the incidents'
        // states as the group left them.
        let other = PgStore::open(&url).await.unwrap();
        let all = other.events_after(0, 100, None).await.unwrap();
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=8).collect::<Vec<_>>());
        assert_eq!(all.iter().filter(|e| e.id == twice.id).count(), 1);
        let one = other.incident(&inc, false).await.unwrap().unwrap().incident;
        assert_eq!((one.last_seq, one.revision), (last.incident.last_seq, last.incident.revision));
        assert_eq!(one.severity, "SEV-2", "the stale severity change was not recorded");
        let two = other.incident("INC-2", false).await.unwrap().unwrap().incident;
        assert_eq!((two.title.as_str(), two.last_seq), ("Search slow", 5));
    }
}
