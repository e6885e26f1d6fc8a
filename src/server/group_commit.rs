//! Group commit for the SQL stores. Every declare and append of a store goes to one committer
//! task, which takes the write lock (SQLite's `BEGIN IMMEDIATE`, PostgreSQL's advisory lock),
//! then takes every request queued at that moment (at most [`MAX_GROUP`]) into the same
//! transaction, and commits them with one commit (one fsync). Each appender is answered only
//! after that commit returned: an acknowledged append is durable.
//!
//! Semantics inside a group (each request is run by the same rules as alone, in arrival order):
//! - seq stays gap-free and in commit order: the requests allocate `max + 1` one after the other
//!   inside the one transaction;
//! - idempotency is unchanged: a request sees what earlier requests of its group wrote, so a
//!   retry (even one in the same group as the original) answers with the seq first recorded;
//! - a request that fails (a 4xx by the append rules, or a statement error) is rolled back to
//!   its own savepoint and answered with its error; the others of its group are committed;
//! - if the transaction itself is lost (the commit or a savepoint rollback fails: disk full,
//!   I/O error, connection lost), nothing of the group is recorded and every request of the
//!   group is answered with that error: retrying with the same event ids is safe.
//!
//! - what the group read and wrote under the lock is remembered for its next requests (the
//!   last seq, the incidents' states), and each changed incident's row is written once, with
//!   its last state, right before the commit (a failure there loses the group, as above).
//! - a store may run a group on what it remembers of its own last commit instead of reading
//!   ([`WriteTx::optimistic`]: PostgreSQL, one round trip fewer); the commit then checks that
//!   memory under the lock, and if it was out of date nothing is written and the group runs once
//!   more the ordinary way. So every answer, a refusal too, is sent only once the group's
//!   transaction has ended.
//!
//! Right after a commit, the committed events go to the sinks ([`Sink`]: the fan-out hub), in
//! seq order, before anyone is answered: local streams get them without reading them back.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, oneshot};

use super::queue::{NewDelivery, Planner};
use super::sql_write::{self, WriteTx, Written};
use super::store::{AppendCtx, Appended, Known, StoreError, StoreResult};
use crate::api::Role;
use crate::domain::{Event, Incident, NewEvent, Practice};

/// Most requests in one transaction.
pub const MAX_GROUP: usize = 64;
/// At most this many yields to let a group grow to the size of the one before.
const GATHER_YIELDS: usize = 8;

pub use super::store::Sink;

/// How a store begins a write transaction (taking its write lock).
#[async_trait]
pub(crate) trait Writer: Send + Sync + 'static {
    type Tx: WriteTx + 'static;
    async fn begin(&self) -> StoreResult<Self::Tx>;

    /// How long a group may wait for as many requests as there seem to be writers (those the
    /// last group answered are likely sending again). Zero: only a few scheduler yields, for a
    /// database whose commit is cheaper than a writer's turn around.
    const GATHER: Duration = Duration::ZERO;

    /// Starts the committer task. By default on the tokio runtime; a writer whose statements
    /// block the calling thread (SQLite through rusqlite) runs it on a thread of its own.
    fn spawn(&self, task: futures::future::BoxFuture<'static, ()>) {
        tokio::spawn(task);
    }
}

#[derive(Clone)]
enum Op {
    Declare(NewEvent),
    Append { incident: String, events: Vec<NewEvent> },
}

/// What a request asks (kept, for an optimistic group that must run again).
#[derive(Clone)]
struct Job {
    author: String,
    role: Role,
    practice: Arc<Practice>,
    if_match: Option<u64>,
    op: Op,
}

struct Request {
    job: Job,
    reply: oneshot::Sender<StoreResult<Appended>>,
}

/// Counters (tests, and what a group looked like).
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests submitted and not yet taken into a group.
    pub queued: AtomicUsize,
    /// Transactions run.
    pub groups: AtomicU64,
    /// Requests run.
    pub requests: AtomicU64,
    /// Size of the largest group so far.
    pub largest: AtomicUsize,
    /// Optimistic groups run again because what they assumed was out of date (or, writing
    /// nothing, was not confirmed).
    pub reruns: AtomicU64,
}

/// The requests waiting, and whether a committer task is running.
#[derive(Default)]
struct Queue {
    waiting: VecDeque<Request>,
    running: bool,
    /// How many writers there seemed to be at the last group (see [`Writer::GATHER`]).
    writers: usize,
}

/// The group committer of one store. A committer task runs while there are requests: the
/// write that finds none running starts one (on its own runtime), which stops once the queue
/// is empty.
pub(crate) struct GroupCommit<W: Writer> {
    writer: Arc<W>,
    queue: Arc<Mutex<Queue>>,
    /// The practice of the last request (one per server in practice): cloned only on change.
    practice: Mutex<Option<Arc<Practice>>>,
    sinks: Arc<RwLock<Vec<Sink>>>,
    /// Told of every request queued (a gathering group waits on it).
    arrivals: Arc<Notify>,
    pub(crate) stats: Arc<Stats>,
}

impl<W: Writer> GroupCommit<W> {
    pub(crate) fn new(writer: W) -> Self {
        GroupCommit {
            writer: Arc::new(writer),
            queue: Arc::default(),
            practice: Mutex::new(None),
            sinks: Arc::default(),
            arrivals: Arc::default(),
            stats: Arc::default(),
        }
    }

    /// Tests: the writer (to hold it while a group queues up).
    #[cfg(test)]
    pub(crate) fn writer(&self) -> &W {
        &self.writer
    }

    /// What [`super::store::Store::write_groups`] reports.
    pub(crate) fn totals(&self) -> super::store::GroupTotals {
        let s = &self.stats;
        super::store::GroupTotals {
            groups: s.groups.load(Ordering::Relaxed),
            requests: s.requests.load(Ordering::Relaxed),
            reruns: s.reruns.load(Ordering::Relaxed),
        }
    }

    /// Adds a sink for committed events.
    pub(crate) fn on_commit(&self, sink: Sink) {
        self.sinks.write().unwrap_or_else(|p| p.into_inner()).push(sink);
    }

    pub(crate) async fn declare(&self, ctx: AppendCtx<'_>, event: NewEvent) -> StoreResult<Appended> {
        self.submit(ctx, Op::Declare(event)).await
    }

    pub(crate) async fn append(
        &self,
        ctx: AppendCtx<'_>,
        incident: &str,
        events: Vec<NewEvent>,
    ) -> StoreResult<Appended> {
        self.submit(ctx, Op::Append { incident: incident.to_string(), events }).await
    }

    /// Keeps `practice` as the last one: a request whose practice is this very value (the
    /// server's) is then recognized by its address, not compared field by field.
    pub(crate) fn share_practice(&self, practice: &Arc<Practice>) {
        *self.practice.lock().unwrap_or_else(|p| p.into_inner()) = Some(practice.clone());
    }

    fn practice_of(&self, p: &Practice) -> Arc<Practice> {
        let mut slot = self.practice.lock().unwrap_or_else(|p| p.into_inner());
        match &*slot {
            // The same address as the practice held here (so not freed and reused): the same.
            Some(a) if std::ptr::eq(Arc::as_ptr(a), p) || **a == *p => a.clone(),
            _ => {
                let a = Arc::new(p.clone());
                *slot = Some(a.clone());
                a
            }
        }
    }

    async fn submit(&self, ctx: AppendCtx<'_>, op: Op) -> StoreResult<Appended> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            author: ctx.author.to_string(),
            role: ctx.role,
            practice: self.practice_of(ctx.practice),
            if_match: ctx.if_match,
            op,
        };
        let req = Request { job, reply };
        self.stats.queued.fetch_add(1, Ordering::SeqCst);
        {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.waiting.push_back(req);
            if !queue.running {
                queue.running = true;
                let running = Running(self.queue.clone(), false);
                let task = run(
                    self.writer.clone(),
                    running,
                    self.sinks.clone(),
                    self.arrivals.clone(),
                    self.stats.clone(),
                );
                self.writer.spawn(Box::pin(task));
            }
        }
        if !W::GATHER.is_zero() {
            self.arrivals.notify_one();
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Backend(anyhow::anyhow!("the store's writer stopped before answering")))
        })
    }
}

/// A running committer's hold on the queue: marks it stopped when the task ends, however it
/// ends (queue empty, runtime shutting down, a panic), so the next write starts another.
struct Running(Arc<Mutex<Queue>>, bool);

impl Running {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.1 {
            self.lock().running = false;
        }
    }
}

/// The committer: one group at a time, while requests wait.
async fn run<W: Writer>(
    writer: Arc<W>,
    mut queue: Running,
    sinks: Arc<RwLock<Vec<Sink>>>,
    arrivals: Arc<Notify>,
    stats: Arc<Stats>,
) {
    // Requests the last group of this run answered (none yet).
    let mut answered = 0;
    loop {
        let writers = {
            // Stopped under the same lock a write checks `running` under: none is left behind.
            let mut q = queue.lock();
            if q.waiting.is_empty() {
                q.running = false;
                drop(q);
                queue.1 = true;
                return;
            }
            // The writers just answered are likely sending again, beside those waiting; a
            // new run goes by the last one's count.
            if answered == 0 { q.writers } else { answered + q.waiting.len() }
        };
        // Waiting for the writer (on SQLite, for its write lock) lets more requests queue up.
        let tx = writer.begin().await;
        if W::GATHER.is_zero() {
            // Their requests may be ready to run on this runtime: a few yields let them join.
            for _ in 0..GATHER_YIELDS {
                if queue.lock().waiting.len() >= answered {
                    break;
                }
                tokio::task::yield_now().await;
            }
        } else {
            let until = tokio::time::Instant::now() + W::GATHER;
            let want = writers.min(MAX_GROUP);
            loop {
                let arrived = arrivals.notified();
                if queue.lock().waiting.len() >= want {
                    break;
                }
                if tokio::time::timeout_at(until, arrived).await.is_err() {
                    break;
                }
            }
        }
        let group: Vec<Request> = {
            let mut q = queue.lock();
            let n = q.waiting.len().min(MAX_GROUP);
            // As many writers as came (fewer than expected: some stopped writing).
            q.writers = n;
            q.waiting.drain(..n).collect()
        };
        answered = group.len();
        stats.queued.fetch_sub(group.len(), Ordering::SeqCst);
        stats.groups.fetch_add(1, Ordering::Relaxed);
        stats.requests.fetch_add(group.len() as u64, Ordering::Relaxed);
        stats.largest.fetch_max(group.len(), Ordering::Relaxed);
        commit_group(&*writer, tx, group, &sinks, &stats).await;
    }
}

/// Runs one request inside the open transaction.
async fn run_one<T: WriteTx>(tx: &mut T, job: Job) -> StoreResult<Written> {
    let Job { author, role, practice, if_match, op } = job;
    let ctx = AppendCtx { author: &author, role, practice: &practice, if_match };
    match op {
        Op::Declare(event) => sql_write::declare_in(tx, ctx, event).await,
        Op::Append { incident, events } => sql_write::append_in(tx, ctx, &incident, events).await,
    }
}

/// The group's transaction, remembering what the group itself read and wrote under the write
/// lock: the last seq and the incidents' states. The second request of a group on the same
/// incident reads neither back from the database (two statements and a JSON parse fewer per
/// request), and an incident's row is written once per group, with its last state, just
/// before the commit. Nobody else writes while the lock is held, so what is remembered stays
/// true; a request rolled back to its savepoint takes back what it changed here too.
struct GroupTx<T: WriteTx> {
    tx: T,
    last_seq: Option<u64>,
    incidents: States,
    /// As it was at the open savepoint.
    saved: Option<(Option<u64>, States)>,
}

/// Incident states as a group has them; `true`: changed, not written yet.
type States = HashMap<String, (Incident, bool)>;

impl<T: WriteTx> GroupTx<T> {
    fn new(tx: T) -> Self {
        GroupTx { tx, last_seq: None, incidents: HashMap::new(), saved: None }
    }

    /// Writes the incidents the group changed (each once, with its last state).
    async fn flush(&mut self) -> StoreResult<()> {
        let mut ids: Vec<&String> =
            self.incidents.iter().filter(|(_, (_, dirty))| *dirty).map(|(id, _)| id).collect();
        ids.sort();
        for id in ids {
            let (state, _) = &self.incidents[id];
            self.tx.update_incident(id, state).await?;
        }
        for (_, dirty) in self.incidents.values_mut() {
            *dirty = false;
        }
        Ok(())
    }
}

#[async_trait]
impl<T: WriteTx> WriteTx for GroupTx<T> {
    async fn prefetch(&mut self, incidents: &[&str], events: &[&NewEvent]) -> StoreResult<()> {
        self.tx.prefetch(incidents, events).await
    }
    async fn known(&mut self, events: &[NewEvent]) -> StoreResult<Known> {
        self.tx.known(events).await
    }
    async fn last_seq(&mut self) -> StoreResult<u64> {
        if let Some(n) = self.last_seq {
            return Ok(n);
        }
        let n = self.tx.last_seq().await?;
        self.last_seq = Some(n);
        Ok(n)
    }
    async fn load_incident(&mut self, id: &str) -> StoreResult<Option<Incident>> {
        if let Some((i, _)) = self.incidents.get(id) {
            return Ok(Some(i.clone()));
        }
        let found = self.tx.load_incident(id).await?;
        if let Some(i) = &found {
            self.incidents.insert(id.to_string(), (i.clone(), false));
        }
        Ok(found)
    }
    async fn next_incident_num(&mut self) -> StoreResult<i64> {
        self.tx.next_incident_num().await
    }
    async fn insert_events(&mut self, events: &[Event]) -> StoreResult<()> {
        // Forgotten first: if the insert fails half-way, the next read asks the database.
        self.last_seq = None;
        self.tx.insert_events(events).await?;
        self.last_seq = events.iter().map(|e| e.seq).max();
        Ok(())
    }
    async fn insert_incident(&mut self, id: &str, num: i64, state: &Incident) -> StoreResult<()> {
        self.incidents.remove(id);
        self.tx.insert_incident(id, num, state).await?;
        self.incidents.insert(id.to_string(), (state.clone(), false));
        Ok(())
    }
    async fn update_incident(&mut self, id: &str, state: &Incident) -> StoreResult<()> {
        // Written by `flush`, before the commit: a failure there loses the whole group.
        self.incidents.insert(id.to_string(), (state.clone(), true));
        Ok(())
    }
    async fn commit(mut self) -> StoreResult<bool> {
        self.flush().await?;
        self.tx.commit().await
    }
    fn optimistic(&self) -> bool {
        self.tx.optimistic()
    }
    async fn rollback(self) -> StoreResult<()> {
        self.tx.rollback().await
    }
    fn planner(&self) -> Option<Arc<dyn Planner>> {
        self.tx.planner()
    }
    async fn insert_deliveries(&mut self, rows: &[NewDelivery]) -> StoreResult<()> {
        self.tx.insert_deliveries(rows).await
    }
    async fn execute(&mut self, sql: &'static str) -> StoreResult<()> {
        self.tx.execute(sql).await
    }
    async fn savepoint(&mut self) -> StoreResult<()> {
        self.saved = Some((self.last_seq, self.incidents.clone()));
        self.tx.savepoint().await
    }
    async fn release_savepoint(&mut self) -> StoreResult<()> {
        self.saved = None;
        self.tx.release_savepoint().await
    }
    async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        match self.saved.take() {
            Some((last_seq, incidents)) => {
                self.last_seq = last_seq;
                self.incidents = incidents;
            }
            None => {
                self.last_seq = None;
                self.incidents.clear();
            }
        }
        self.tx.rollback_to_savepoint().await
    }
}

/// Runs a group and answers its requests, in their order, once its transaction ended. An
/// optimistic group ([`WriteTx::optimistic`]) whose commit did not confirm what it assumed
/// wrote nothing and answered no one: it runs once more, on what the database holds (the
/// store forgot what it remembered).
async fn commit_group<W: Writer>(
    writer: &W,
    mut tx: StoreResult<W::Tx>,
    group: Vec<Request>,
    sinks: &RwLock<Vec<Sink>>,
    stats: &Stats,
) {
    let (mut jobs, replies): (Vec<Job>, Vec<_>) = group.into_iter().map(|r| (r.job, r.reply)).unzip();
    let mut tries = 0;
    let answers = loop {
        tries += 1;
        let t = match tx {
            Ok(t) => t,
            Err(e) => break jobs.iter().map(|_| Err(copy(&e))).collect(),
        };
        match run_group(t, jobs, sinks).await {
            Ran::Answered(answers) => break answers,
            Ran::Unconfirmed(again) if tries == 1 => {
                stats.reruns.fetch_add(1, Ordering::Relaxed);
                jobs = again;
                tx = writer.begin().await;
            }
            Ran::Unconfirmed(again) => {
                // The store forgets what it assumed after a miss: a second one is a bug.
                let e = StoreError::Backend(anyhow::anyhow!("a group's write was not confirmed twice"));
                break again.iter().map(|_| Err(copy(&e))).collect();
            }
        }
    };
    for (reply, answer) in replies.into_iter().zip(answers) {
        let _ = reply.send(answer);
    }
}

/// How a group's run ended.
enum Ran {
    /// Its transaction ended: an answer for each request, in order.
    Answered(Vec<StoreResult<Appended>>),
    /// Optimistic, and not confirmed: nothing was written, nothing is to be told; the
    /// requests, to run again.
    Unconfirmed(Vec<Job>),
}

/// Runs a group's requests in one transaction, each by the rules of a request alone (its own
/// savepoint), commits, and hands what it inserted to the sinks.
async fn run_group<T: WriteTx>(tx: T, jobs: Vec<Job>, sinks: &RwLock<Vec<Sink>>) -> Ran {
    let n = jobs.len();
    let mut tx = GroupTx::new(tx);
    if let Err(e) = prefetch(&mut tx, &jobs).await {
        let _ = tx.rollback().await;
        return Ran::Answered(jobs.iter().map(|_| Err(copy(&e))).collect());
    }
    // What an optimistic run decides may have to be decided again.
    let kept = tx.optimistic().then(|| jobs.clone());
    let savepoints = n > 1;
    let mut answers: Vec<StoreResult<Appended>> = Vec::with_capacity(n);
    let mut inserted: Vec<Event> = Vec::new();
    let mut lost: Option<StoreError> = None;
    for job in jobs {
        if savepoints && let Err(e) = tx.savepoint().await {
            answers.push(Err(copy(&e)));
            lost = Some(e);
            break;
        }
        match run_one(&mut tx, job).await {
            Ok(w) => {
                if savepoints && let Err(e) = tx.release_savepoint().await {
                    answers.push(Err(copy(&e)));
                    lost = Some(e);
                    break;
                }
                inserted.extend(w.inserted);
                answers.push(Ok(w.appended));
            }
            Err(e) if savepoints => {
                // Only this request's writes are undone; the group goes on.
                let undone = tx.rollback_to_savepoint().await;
                answers.push(Err(e));
                if let Err(e) = undone {
                    lost = Some(e);
                    break;
                }
            }
            Err(e) => {
                // Alone in its group: the transaction is this request's.
                let _ = tx.rollback().await;
                return match kept {
                    Some(jobs) => Ran::Unconfirmed(jobs),
                    None => Ran::Answered(vec![Err(e)]),
                };
            }
        }
    }
    if let Some(e) = lost {
        // Nothing of the group is recorded: everyone not refused on their own gets the error.
        let _ = tx.rollback().await;
        for a in answers.iter_mut().filter(|a| a.is_ok()) {
            *a = Err(copy(&e));
        }
        answers.resize_with(n, || Err(copy(&e)));
        return Ran::Answered(answers);
    }
    let outcome = if inserted.is_empty() {
        let rolled = tx.rollback().await;
        if let Some(jobs) = kept {
            return Ran::Unconfirmed(jobs);
        }
        rolled.map(|()| true)
    } else {
        tx.commit().await
    };
    let failed = match (outcome, kept) {
        (Ok(true), _) => {
            if !inserted.is_empty() {
                publish(sinks, &inserted);
            }
            None
        }
        (Ok(false), Some(jobs)) => return Ran::Unconfirmed(jobs),
        (Ok(false), None) => Some(StoreError::Backend(anyhow::anyhow!("the commit wrote nothing"))),
        (Err(e), _) => Some(e),
    };
    if let Some(e) = failed {
        for a in answers.iter_mut().filter(|a| a.is_ok()) {
            *a = Err(copy(&e));
        }
    }
    Ran::Answered(answers)
}

/// Lets the store read ahead what the group's requests will ask for ([`WriteTx::prefetch`]).
async fn prefetch<T: WriteTx>(tx: &mut T, group: &[Job]) -> StoreResult<()> {
    let mut incidents = Vec::new();
    let mut events = Vec::new();
    for r in group {
        match &r.op {
            Op::Declare(e) => events.push(e),
            Op::Append { incident, events: batch } => {
                incidents.push(incident.as_str());
                events.extend(batch.iter());
            }
        }
    }
    tx.prefetch(&incidents, &events).await
}

fn publish(sinks: &RwLock<Vec<Sink>>, events: &[Event]) {
    let stale = {
        let sinks = sinks.read().unwrap_or_else(|p| p.into_inner());
        sinks.iter().map(|s| !s(events)).collect::<Vec<bool>>()
    };
    if stale.iter().any(|s| *s) {
        let mut sinks = sinks.write().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        sinks.retain(|_| {
            let keep = !stale.get(n).copied().unwrap_or(false);
            n += 1;
            keep
        });
    }
}

/// The same error for each request of a group that shares it.
fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::NotFound(m) => StoreError::NotFound(m.clone()),
        StoreError::Forbidden(m) => StoreError::Forbidden(m.clone()),
        StoreError::Invalid { code, message } => StoreError::Invalid { code, message: message.clone() },
        StoreError::Stale { conflict, current } => {
            StoreError::Stale { conflict: conflict.clone(), current: current.clone() }
        }
        StoreError::Busy(m) => StoreError::Busy(m.clone()),
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Backend(e) => StoreError::Backend(anyhow::anyhow!("{e:#}")),
    }
}

#[cfg(test)]
mod tests {
    //! Group commit on SQLite with groups formed deterministically: the test holds the
    //! writer (its next `begin` waits) while the appends queue up behind it, then lets go.

    use std::collections::BTreeSet;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use futures::StreamExt;
    use tokio_util::sync::CancellationToken;

    use super::super::hub::Hub;
    use super::super::sqlite::{SqliteStore, SqliteWriter, WriteFault};
    use super::super::store::{AppendCtx, Appended, Store, StoreError, StoreResult};
    use super::super::stream::follow;
    use super::super::tests::{declared, note};
    use crate::api::Role;
    use crate::domain::{EventBody, NewEvent, Practice};

    fn practice() -> Arc<Practice> {
        Arc::new(crate::assets::load_practice(None, None).expect("embedded practice"))
    }

    async fn open(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
        let url = format!("sqlite://{}", dir.path().join("wr.db").display());
        Arc::new(SqliteStore::open(&url).await.unwrap())
    }

    async fn declare(store: &SqliteStore, p: &Practice) -> String {
        let ctx = AppendCtx { author: "ic", role: Role::Commander, practice: p, if_match: None };
        store.declare(ctx, declared("SEV-2")).await.unwrap().incident.id
    }

    /// One request: `(incident, events, if_match)`.
    type Req = (String, Vec<NewEvent>, Option<u64>);

    /// Runs `reqs` as one group (checked) and returns their answers in the same order.
    // The guard is a std mutex held across awaits on purpose: the writer thread, not a task,
    // waits on it, and this test runtime has one thread.
    #[allow(clippy::await_holding_lock)]
    async fn in_one_group(
        store: &Arc<SqliteStore>,
        p: &Arc<Practice>,
        reqs: Vec<Req>,
    ) -> Vec<StoreResult<Appended>> {
        let groups = store.group.stats.groups.load(Ordering::SeqCst);
        let n = reqs.len();
        let held = match &*store.group.writer {
            SqliteWriter::Raw(w) => w.hold(),
            SqliteWriter::Pool { .. } => unreachable!("the tests open a file"),
        };
        let mut tasks = Vec::new();
        for (k, (incident, events, if_match)) in reqs.into_iter().enumerate() {
            let (s, p) = (store.clone(), p.clone());
            tasks.push(tokio::spawn(async move {
                let ctx = AppendCtx { author: "alice", role: Role::Commander, practice: &p, if_match };
                s.append(ctx, &incident, events).await
            }));
            // Queued in this order (the committer takes them in arrival order).
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

    fn seqs(answers: &[StoreResult<Appended>]) -> Vec<u64> {
        answers.iter().filter_map(|a| a.as_ref().ok()).flat_map(|a| a.events.iter().map(|e| e.seq)).collect()
    }

    #[tokio::test]
    async fn concurrent_appends_share_one_commit_gap_free_and_durable() {
        let dir = tempfile::tempdir().unwrap();
        let p = practice();
        let store = open(&dir).await;
        let inc = declare(&store, &p).await;
        let reqs = (0..8).map(|i| (inc.clone(), vec![note(&format!("n{i}")), note(&format!("m{i}"))], None));
        let answers = in_one_group(&store, &p, reqs.collect()).await;
        assert!(answers.iter().all(|a| a.as_ref().is_ok_and(|a| a.created)));
        // Seq 1 is the declaration; the group's 16 events follow, in arrival order, no gap.
        assert_eq!(seqs(&answers), (2..=17).collect::<Vec<_>>());
        let last = answers.last().unwrap().as_ref().unwrap();
        assert_eq!(last.incident.last_seq, 17);
        // Durable: a fresh store on the same file reads them all back.
        drop(store);
        let again = open(&dir).await;
        let events = again.events_after(0, 100, None).await.unwrap();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=17).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn failing_members_fail_alone_and_retries_keep_their_seq() {
        let dir = tempfile::tempdir().unwrap();
        let p = practice();
        let store = open(&dir).await;
        let inc = declare(&store, &p).await;
        let first = note("recorded before");
        let ctx = AppendCtx { author: "alice", role: Role::Commander, practice: &p, if_match: None };
        let recorded = store.append(ctx, &inc, vec![first.clone()]).await.unwrap().events[0].seq;
        let mut clash = note("same id, other text");
        clash.id = first.id;
        let twice = note("sent twice in one group");
        let sev = NewEvent::now(EventBody::SeverityChanged { severity: "SEV-1".into() });
        let answers = in_one_group(
            &store,
            &p,
            vec![
                (inc.clone(), vec![note("ok 1")], None),
                ("INC-404".into(), vec![note("nowhere")], None),
                (inc.clone(), vec![clash], None),
                (inc.clone(), vec![first.clone()], None),
                (inc.clone(), vec![twice.clone()], None),
                (inc.clone(), vec![sev], Some(0)),
                (inc.clone(), vec![twice.clone()], None),
                (inc.clone(), vec![note("ok 2")], None),
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
        let again = get(6).unwrap();
        assert_eq!((again.events[0].seq, again.created), (4, false), "a retry in the same group");
        assert_eq!(get(7).unwrap().events[0].seq, 5);
        let all = store.events_after(0, 100, None).await.unwrap();
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
        assert_eq!(all.iter().filter(|e| e.id == twice.id).count(), 1);
    }

    #[tokio::test]
    async fn a_refusing_database_fails_the_group_and_records_none_then_retries_land_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = practice();
        let store = open(&dir).await;
        let inc = declare(&store, &p).await;
        let notes: Vec<NewEvent> = (0..4).map(|i| note(&format!("refused {i}"))).collect();
        store.inject_write_fault(WriteFault::ReadOnly).await.unwrap();
        let reqs = notes.iter().map(|n| (inc.clone(), vec![n.clone()], None)).collect();
        let answers = in_one_group(&store, &p, reqs).await;
        assert!(answers.iter().all(|a| matches!(a, Err(StoreError::Unavailable(_)))), "{answers:?}");
        assert_eq!(store.last_seq().await.unwrap(), 1, "nothing recorded");
        store.inject_write_fault(WriteFault::Healed).await.unwrap();
        let reqs = notes.iter().chain(&notes).map(|n| (inc.clone(), vec![n.clone()], None)).collect();
        let answers = in_one_group(&store, &p, reqs).await;
        assert_eq!(seqs(&answers), vec![2, 3, 4, 5, 2, 3, 4, 5]);
        assert_eq!(store.last_seq().await.unwrap(), 5);
    }

    #[tokio::test]
    async fn committed_events_reach_the_hub_from_the_write_path_in_seq_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = practice();
        let store = open(&dir).await;
        let inc = declare(&store, &p).await;
        let cancel = CancellationToken::new();
        let hub = Hub::start(store.clone(), cancel.clone()).await.unwrap();
        let mut stream = Box::pin(follow(hub.clone(), 1, cancel.clone()));
        // Published before the append returns: no tailer round trip.
        let ctx = AppendCtx { author: "alice", role: Role::Commander, practice: &p, if_match: None };
        let seq = store.append(ctx, &inc, vec![note("direct")]).await.unwrap().events[0].seq;
        assert_eq!(hub.top(), seq);
        // A group, and then a commit by another writer on the same file (another process)
        // that the hub has not seen: the next local commit must wait for it, not overtake it.
        let reqs = (0..5).map(|i| (inc.clone(), vec![note(&format!("g{i}"))], None)).collect();
        in_one_group(&store, &p, reqs).await;
        let other = open(&dir).await;
        other.append(ctx, &inc, vec![note("from elsewhere")]).await.unwrap();
        let after = store.append(ctx, &inc, vec![note("after it")]).await.unwrap().events[0].seq;
        let mut got = Vec::new();
        while got.last() != Some(&after) {
            got.push(stream.next().await.unwrap().seq);
        }
        assert_eq!(got, (2..=after).collect::<Vec<_>>(), "every seq once, in order");
        assert_eq!(got.iter().copied().collect::<BTreeSet<_>>().len(), got.len());
        cancel.cancel();
    }
}
