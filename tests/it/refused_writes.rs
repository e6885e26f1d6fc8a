//! A server that answers but refuses writes, seen through the real sync worker: the worker
//! reports `SyncMsg::Writes(Refused { .. })` (503 `store_unavailable` from a read-only or full
//! SQLite file, 401 for a revoked token), the entry stays in the outbox file, and once the
//! server takes writes again the same entry is acknowledged exactly once and the refusal
//! clears. The server is the real one (`warroom::server::start`) on a real SQLite file; the
//! faults are SQLite's own (`PRAGMA query_only` / `max_page_count`, or the file opened with
//! `mode=ro`), since file permissions do not stop root.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use warroom::api::Role;
use warroom::client::{
    ApiClient, LinkState, Outbox, SyncHandle, SyncMsg, Target, WorkerOptions, Writes, spawn_with,
};
use warroom::domain::{Event, EventBody, EventKind, NewEvent};
use warroom::server::sqlite::{SqliteStore, WriteFault};
use warroom::server::{self, Limits, Running, ServeOptions, Store};

/// Generous bound so a broken test fails instead of hanging; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(90);

fn opts(listen: &str) -> ServeOptions {
    ServeOptions { listen: listen.into(), limits: Limits::unlimited(), ..Default::default() }
}

fn db_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("warroom.db").display())
}

struct Worker {
    handle: SyncHandle,
    rx: mpsc::UnboundedReceiver<SyncMsg>,
    outbox: Outbox,
    data: std::path::PathBuf,
    base: String,
}

fn worker(base: &str, token: &str, data: &Path) -> Worker {
    let client = ApiClient::new(&[base.to_string()], Some(token.to_string())).unwrap();
    let outbox = Outbox::open(data, client.base()).unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let (handle, commands) = SyncHandle::channel();
    let fast = WorkerOptions {
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(500),
        ..WorkerOptions::default()
    };
    spawn_with(client, outbox.clone(), commands, tx, fast);
    Worker { handle, rx, outbox, data: data.to_path_buf(), base: base.to_string() }
}

impl Worker {
    /// Waits for the first message `f` maps to `Some`; every message on the way goes to `log`.
    async fn until<T>(&mut self, log: &mut Vec<SyncMsg>, mut f: impl FnMut(&SyncMsg) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("the worker went quiet; it said: {log:#?}"))
                .expect("the worker stopped");
            log.push(msg.clone());
            if let Some(t) = f(&msg) {
                return t;
            }
        }
    }

    async fn live(&mut self, log: &mut Vec<SyncMsg>) {
        self.until(log, |m| matches!(m, SyncMsg::Link(LinkState::Live { .. })).then_some(())).await
    }

    async fn refused(&mut self, log: &mut Vec<SyncMsg>) -> Writes {
        self.until(log, |m| match m {
            SyncMsg::Writes(w @ Writes::Refused { .. }) => Some(w.clone()),
            _ => None,
        })
        .await
    }

    /// What the outbox file on disk holds, read afresh as another process would.
    fn on_disk(&self) -> Vec<NewEvent> {
        let fresh = Outbox::open(&self.data, &self.base).unwrap();
        assert_eq!(fresh.path(), self.outbox.path());
        fresh.pending().unwrap().into_iter().map(|p| p.event).collect()
    }
}

fn note(text: &str) -> NewEvent {
    NewEvent::now(EventBody::entry(EventKind::Note, text).unwrap())
}

async fn declare(base: &str, token: &str) -> String {
    let c = ApiClient::new(&[base.to_string()], Some(token.to_string())).unwrap();
    let e = NewEvent::now(EventBody::Declared {
        title: "Disk trouble".into(),
        severity: "SEV-2".into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    });
    c.declare(&e).await.unwrap().incident
}

/// Every event the server holds for `incident`.
async fn server_events(base: &str, token: &str, incident: &str) -> Vec<Event> {
    let c = ApiClient::new(&[base.to_string()], Some(token.to_string())).unwrap();
    c.incident(incident, true).await.unwrap().events.unwrap()
}

struct Srv {
    sqlite: Arc<SqliteStore>,
    running: Running,
    base: String,
    token: String,
}

async fn start(dir: &Path) -> Srv {
    let sqlite = Arc::new(SqliteStore::open(&db_url(dir)).await.unwrap());
    let store: Arc<dyn Store> = sqlite.clone();
    let token = server::tokens::create(&*store, "scribe", Role::Scribe).await.unwrap();
    let running = server::start(opts("127.0.0.1:0"), store).await.unwrap();
    let base = format!("http://{}", running.addr);
    Srv { sqlite, running, base, token }
}

/// A worker submits while the database refuses writes: `Refused` (503 store_unavailable), the
/// entry stays pending in the outbox file; healed: acked once, `Ok` again, outbox empty.
async fn refused_then_healed(fault: WriteFault, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let inc = declare(&s.base, &s.token).await;
    let mut w = worker(&s.base, &s.token, &dir.path().join("console"));
    let mut log = Vec::new();
    w.live(&mut log).await;

    s.sqlite.inject_write_fault(fault).await.unwrap();
    let entry = note(text);
    w.handle.submit(Target::Incident(inc.clone()), entry.clone(), None);
    let refused = w.refused(&mut log).await;
    let Writes::Refused { status, error, message, .. } = &refused else { unreachable!() };
    assert_eq!((*status, error.as_str()), (503, "store_unavailable"), "{fault:?}: {message}");
    assert!(message.contains("refuses writes"), "the server's own words: {message}");
    assert_eq!(refused.reason().as_deref(), Some("the database is read-only or full"));
    // Queued, shown, and still on disk; nothing recorded, nothing rejected. (The queued notice
    // and the flusher's verdict come from separate tasks: either may arrive first.)
    if !log.iter().any(|m| matches!(m, SyncMsg::Queued { event, .. } if event.id == entry.id)) {
        w.until(&mut log, |m| {
            matches!(m, SyncMsg::Queued { event, .. } if event.id == entry.id).then_some(())
        })
        .await;
    }
    assert!(!log.iter().any(|m| matches!(m, SyncMsg::Refused { .. } | SyncMsg::Acked { .. })), "{log:#?}");
    assert_eq!(w.on_disk(), vec![entry.clone()]);
    assert!(!server_events(&s.base, &s.token, &inc).await.iter().any(|e| e.id == entry.id));
    // The worker keeps retrying (the same refusal is not reported again): wait for a few
    // more attempts to go by, then check that the entry is still there.
    let before = log.len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    while let Ok(m) = w.rx.try_recv() {
        log.push(m);
    }
    assert!(
        !log[before..].iter().any(|m| matches!(m, SyncMsg::Writes(_) | SyncMsg::Acked { .. })),
        "{:#?}",
        &log[before..]
    );
    assert_eq!(w.on_disk(), vec![entry.clone()]);

    // The database takes writes again: the same entry goes in, once, and the refusal clears.
    s.sqlite.inject_write_fault(WriteFault::Healed).await.unwrap();
    let acked = w
        .until(&mut log, |m| match m {
            SyncMsg::Acked { events } => events.iter().find(|e| e.id == entry.id).cloned(),
            _ => None,
        })
        .await;
    w.until(&mut log, |m| matches!(m, SyncMsg::Writes(Writes::Ok)).then_some(())).await;
    w.until(&mut log, |m| matches!(m, SyncMsg::Outbox { pending: 0 }).then_some(())).await;
    assert!(w.on_disk().is_empty());
    let held = server_events(&s.base, &s.token, &inc).await;
    assert_eq!(held.iter().filter(|e| e.id == entry.id).count(), 1);
    assert_eq!(held.iter().find(|e| e.id == entry.id).unwrap().seq, acked.seq);
    w.handle.shutdown();
    s.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_read_only_database_shows_as_refused_writes_and_the_entry_waits() {
    refused_then_healed(WriteFault::ReadOnly, "paged the DBA").await;
}

#[tokio::test]
async fn a_full_database_shows_as_refused_writes_and_the_entry_waits() {
    // Big enough that the database has to grow to take it.
    refused_then_healed(WriteFault::Full, &"disk full ".repeat(1_000)).await;
}

/// The server restarted on a read-only copy of its file (`mode=ro`, e.g. a disk remounted
/// read-only), then on the writable file again at the same address: the worker rides both
/// restarts, shows the refusal in between, and delivers the entry once at the end.
#[tokio::test]
async fn a_server_restarted_read_only_then_writable() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let inc = declare(&s.base, &s.token).await;
    let (addr, base, token) = (s.running.addr, s.base.clone(), s.token.clone());
    let mut w = worker(&base, &token, &dir.path().join("console"));
    let mut log = Vec::new();
    w.live(&mut log).await;
    s.running.shutdown().await.unwrap();
    drop(s.sqlite);

    let ro = server::open_store(&format!("{}?mode=ro", db_url(dir.path()))).await.unwrap();
    let running = server::start(opts(&addr.to_string()), ro).await.unwrap();
    let entry = note("written while the disk was read-only");
    w.handle.submit(Target::Incident(inc.clone()), entry.clone(), None);
    let refused = w.refused(&mut log).await;
    assert!(matches!(&refused, Writes::Refused { status: 503, error, .. } if error == "store_unavailable"));
    assert_eq!(w.on_disk(), vec![entry.clone()]);
    running.shutdown().await.unwrap();

    let rw = server::open_store(&db_url(dir.path())).await.unwrap();
    let running = server::start(opts(&addr.to_string()), rw).await.unwrap();
    w.until(&mut log, |m| matches!(m, SyncMsg::Writes(Writes::Ok)).then_some(())).await;
    w.until(&mut log, |m| matches!(m, SyncMsg::Outbox { pending: 0 }).then_some(())).await;
    assert!(w.on_disk().is_empty());
    let held = server_events(&base, &token, &inc).await;
    assert_eq!(held.iter().filter(|e| e.id == entry.id).count(), 1, "{held:#?}");
    w.handle.shutdown();
    running.shutdown().await.unwrap();
}

/// A revoked token (#15 item 0): an entry belongs to the identity that wrote it and a revoked
/// token never comes back, so the entry goes to the rejected file (never sent later under
/// another token), and the console is told.
#[tokio::test]
async fn a_revoked_token_shows_as_refused_and_keeps_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let inc = declare(&s.base, &s.token).await;
    let mut w = worker(&s.base, &s.token, &dir.path().join("console"));
    let mut log = Vec::new();
    w.live(&mut log).await;
    server::tokens::revoke(s.sqlite.as_ref(), "scribe").await.unwrap();
    let entry = note("after the revocation");
    w.handle.submit(Target::Incident(inc), entry.clone(), None);
    let status = w
        .until(&mut log, |m| match m {
            SyncMsg::Refused { event, status, .. } if event.id == entry.id => Some(*status),
            _ => None,
        })
        .await;
    assert_eq!(status, 401);
    assert!(w.on_disk().is_empty());
    let rejected = w.outbox.rejected().unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].event, entry);
    w.handle.shutdown();
    s.running.shutdown().await.unwrap();
}
