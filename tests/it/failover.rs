//! Failover across replicas (PostgreSQL): a console's sync worker configured with two server
//! URLs keeps going when the replica it streams from dies: every event arrives once, in order,
//! and its own queued writes go out through the other replica. Skipped loudly without
//! `WARROOM_TEST_PG` (see tests/it/postgres.rs); CI sets it.

use crate::pg_support::{SERIAL, pg_url};

use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;
use warroom::api::Role;
use warroom::client::{ApiClient, LinkState, Outbox, SyncHandle, SyncMsg, Target, WorkerOptions, spawn_with};
use warroom::domain::{Event, EventBody, EventKind, NewEvent};
use warroom::server::{self, ServeOptions};

const PATIENCE: Duration = Duration::from_secs(90);

fn note(text: &str) -> NewEvent {
    NewEvent::now(EventBody::entry(EventKind::Note, text).unwrap())
}

async fn next_msg(rx: &mut mpsc::UnboundedReceiver<SyncMsg>, seen: &mut Vec<Event>) -> SyncMsg {
    let msg =
        tokio::time::timeout(PATIENCE, rx.recv()).await.expect("the worker went quiet").expect("stopped");
    if let SyncMsg::Event(e) = &msg {
        seen.push(e.clone());
    }
    msg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_console_survives_the_death_of_its_replica() {
    let Some(url) = pg_url() else { return };
    let _g = SERIAL.lock().await;
    server::postgres::PgStore::reset(&url).await.unwrap();
    let admin_store = server::open_store(&url).await.unwrap();
    let token = server::tokens::create(&*admin_store, "alice", Role::Commander).await.unwrap();
    let opts = || ServeOptions {
        listen: "127.0.0.1:0".into(),
        practice: warroom::assets::load_practice(None, None).unwrap(),
        alertmanager: Default::default(),
        limits: server::Limits::unlimited(),
        ..ServeOptions::default()
    };
    let a = server::start(opts(), server::open_store(&url).await.unwrap()).await.unwrap();
    let b = server::start(opts(), server::open_store(&url).await.unwrap()).await.unwrap();
    let (url_a, url_b) = (format!("http://{}", a.addr), format!("http://{}", b.addr));

    // A writer that only talks to B.
    let writer = ApiClient::new(std::slice::from_ref(&url_b), Some(token.clone())).unwrap();
    let declared = writer
        .declare(&NewEvent::now(EventBody::Declared {
            title: "Checkout down".into(),
            severity: "SEV-2".into(),
            summary: String::new(),
            group_key: None,
            demo: false,
        }))
        .await
        .unwrap();
    let inc = declared.incident.clone();

    // The console: A first, then B.
    let dir = tempfile::tempdir().unwrap();
    let console = ApiClient::new(&[url_a.clone(), url_b.clone()], Some(token.clone())).unwrap();
    let outbox = Outbox::open(dir.path(), console.base()).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (handle, commands) = SyncHandle::channel();
    let opts = WorkerOptions {
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(300),
        ..WorkerOptions::default()
    };
    spawn_with(console.clone(), outbox.clone(), commands, tx, opts);
    let mut seen = Vec::new();
    while !matches!(next_msg(&mut rx, &mut seen).await, SyncMsg::Link(LinkState::Live { .. })) {}

    let mut expected: Vec<Uuid> = Vec::new();
    for i in 0..5 {
        let e = note(&format!("before #{i}"));
        writer.append(&inc, vec![e.clone()], None).await.unwrap();
        expected.push(e.id);
    }
    // The replica the console streams from dies.
    a.shutdown().await.unwrap();
    // Meanwhile: others keep writing through B, and the console writes too.
    for i in 0..5 {
        let e = note(&format!("during #{i}"));
        writer.append(&inc, vec![e.clone()], None).await.unwrap();
        expected.push(e.id);
    }
    let mine = note("written on the console after its replica died");
    handle.submit(Target::Incident(inc.clone()), mine.clone(), None);
    expected.push(mine.id);
    for i in 0..5 {
        let e = note(&format!("after #{i}"));
        writer.append(&inc, vec![e.clone()], None).await.unwrap();
        expected.push(e.id);
    }

    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !expected.iter().all(|id| seen.iter().any(|e| e.id == *id)) {
        assert!(tokio::time::Instant::now() < deadline, "missing events after failover");
        next_msg(&mut rx, &mut seen).await;
    }
    for w in seen.windows(2) {
        assert!(w[0].seq < w[1].seq, "out of order or repeated: #{} then #{}", w[0].seq, w[1].seq);
    }
    assert_eq!(seen.len(), expected.len(), "every event exactly once, nothing else");
    assert_eq!(console.base(), url_b, "the console moved to the surviving replica");
    // The console's own write left its outbox.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !outbox.pending().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the outbox never drained");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.shutdown();
    b.shutdown().await.unwrap();
}
