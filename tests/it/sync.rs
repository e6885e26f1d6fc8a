//! The sync worker end to end against the real server on 127.0.0.1: what one console submits
//! every other receives live, once, in order; a worker that loses the server resumes without a
//! gap or a duplicate; the outbox drains when the server comes back.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;
use warroom::api::Role;
use warroom::assets::load_practice;
use warroom::client::{ApiClient, LinkState, Outbox, SyncHandle, SyncMsg, Target, WorkerOptions, spawn_with};
use warroom::domain::{Event, EventBody, EventKind, NewEvent};
use warroom::server::AlertmanagerConfig;
use warroom::server::{self, Running, ServeOptions};

/// Generous bound so a broken test fails instead of hanging; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(90);

fn db_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("warroom.db").display())
}

async fn start(dir: &Path, listen: &str) -> Running {
    let store = server::open_store(&db_url(dir)).await.unwrap();
    let opts = ServeOptions {
        listen: listen.to_string(),
        practice: load_practice(None, None).unwrap(),
        alertmanager: AlertmanagerConfig::default(),
        limits: server::Limits::unlimited(),
        ..ServeOptions::default()
    };
    server::start(opts, store).await.unwrap()
}

async fn token(dir: &Path, name: &str) -> String {
    let store = server::open_store(&db_url(dir)).await.unwrap();
    server::tokens::create(store.as_ref(), name, Role::Commander).await.unwrap()
}

fn client(addr: SocketAddr, token: &str) -> ApiClient {
    ApiClient::new(&[format!("http://{addr}")], Some(token.to_string())).unwrap()
}

fn fast() -> WorkerOptions {
    WorkerOptions {
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(500),
        ..WorkerOptions::default()
    }
}

struct Worker {
    handle: SyncHandle,
    rx: mpsc::UnboundedReceiver<SyncMsg>,
    outbox: Outbox,
}

fn worker(client: ApiClient, data_dir: &Path) -> Worker {
    let outbox = Outbox::open(data_dir, client.base()).unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let (handle, commands) = SyncHandle::channel();
    spawn_with(client, outbox.clone(), commands, tx, fast());
    Worker { handle, rx, outbox }
}

impl Worker {
    /// Waits for the first message `f` maps to `Some`, keeping every event seen on the way.
    async fn until<T>(&mut self, seen: &mut Vec<Event>, mut f: impl FnMut(&SyncMsg) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .expect("the worker went quiet")
                .expect("the worker stopped");
            if std::env::var_os("SYNC_DEBUG").is_some() {
                eprintln!("{msg:?}");
            }
            if let SyncMsg::Event(e) = &msg {
                seen.push(e.clone());
            }
            if let Some(t) = f(&msg) {
                return t;
            }
        }
    }

    async fn live(&mut self, seen: &mut Vec<Event>) {
        self.until(seen, |m| matches!(m, SyncMsg::Link(LinkState::Live { .. })).then_some(())).await
    }

    /// Collects events until every id in `ids` has arrived.
    async fn receive_all(&mut self, seen: &mut Vec<Event>, ids: &[Uuid]) {
        if ids.iter().all(|id| seen.iter().any(|e| e.id == *id)) {
            return;
        }
        let mut have: Vec<Uuid> = seen.iter().map(|e| e.id).collect();
        self.until(seen, |m| {
            if let SyncMsg::Event(e) = m {
                have.push(e.id);
            }
            ids.iter().all(|id| have.contains(id)).then_some(())
        })
        .await
    }
}

fn note(text: &str) -> NewEvent {
    NewEvent::now(EventBody::entry(EventKind::Note, text).unwrap())
}

fn assert_once_in_order(seen: &[Event]) {
    for w in seen.windows(2) {
        assert!(w[0].seq < w[1].seq, "out of order or repeated: #{} then #{}", w[0].seq, w[1].seq);
    }
}

async fn declare(c: &ApiClient) -> String {
    let e = NewEvent::now(EventBody::Declared {
        title: "Checkout down".into(),
        severity: "SEV-2".into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    });
    c.declare(&e).await.unwrap().incident
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_submits_the_other_receives_live_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), "127.0.0.1:0").await;
    let (ta, tb) = (token(dir.path(), "alice").await, token(dir.path(), "bob").await);
    let ca = client(srv.addr, &ta);
    let inc = declare(&ca).await;
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = worker(ca, da.path());
    let mut b = worker(client(srv.addr, &tb), db.path());
    let (mut seen_a, mut seen_b) = (Vec::new(), Vec::new());
    // The snapshot already holds the incident.
    let snap =
        b.until(&mut seen_b, |m| if let SyncMsg::Snapshot(l) = m { Some(l.clone()) } else { None }).await;
    assert!(snap.incidents.iter().any(|i| i.id == inc));
    a.live(&mut seen_a).await;
    b.live(&mut seen_b).await;

    let notes: Vec<NewEvent> = (0..30).map(|i| note(&format!("note {i}"))).collect();
    for n in &notes {
        a.handle.submit(Target::Incident(inc.clone()), n.clone(), None);
    }
    let ids: Vec<Uuid> = notes.iter().map(|n| n.id).collect();
    b.receive_all(&mut seen_b, &ids).await;
    let got: Vec<Uuid> = seen_b.iter().filter(|e| ids.contains(&e.id)).map(|e| e.id).collect();
    assert_eq!(got, ids, "B got A's notes once each, in A's order");
    assert!(seen_b.iter().all(|e| e.author == "alice"));
    assert_once_in_order(&seen_b);

    // A saw each write queued, then acknowledged, and its outbox is empty.
    let mut acked: Vec<Uuid> = Vec::new();
    a.until(&mut seen_a, |m| {
        if let SyncMsg::Acked { events } = m {
            acked.extend(events.iter().map(|e| e.id));
        }
        ids.iter().all(|id| acked.contains(id)).then_some(())
    })
    .await;
    a.until(&mut seen_a, |m| matches!(m, SyncMsg::Outbox { pending: 0 }).then_some(())).await;
    assert!(a.outbox.pending().unwrap().is_empty());
    a.receive_all(&mut seen_a, &ids).await;
    assert_once_in_order(&seen_a);

    // A refused write is reported and kept in the rejected file, not retried forever.
    let bad = note("to nowhere");
    a.handle.submit(Target::Incident("INC-999".into()), bad.clone(), None);
    let status = a
        .until(&mut seen_a, |m| match m {
            SyncMsg::Refused { event, status, .. } if event.id == bad.id => Some(*status),
            _ => None,
        })
        .await;
    assert_eq!(status, 404);
    assert_eq!(a.outbox.rejected().unwrap().len(), 1);
    assert!(a.outbox.pending().unwrap().is_empty());

    // A guarded change made against an old revision is refused with the incident as it is now.
    let ack = NewEvent::now(EventBody::StatusChanged { status: warroom::domain::Status::Acknowledged });
    client(srv.addr, &tb).append(&inc, vec![ack], Some(1)).await.unwrap();
    let stale = NewEvent::now(EventBody::StatusChanged { status: warroom::domain::Status::Investigating });
    a.handle.submit(Target::Incident(inc.clone()), stale.clone(), Some(1));
    let (status, error) = a
        .until(&mut seen_a, |m| match m {
            SyncMsg::Refused { event, status, error, .. } if event.id == stale.id => {
                Some((*status, error.clone()))
            }
            _ => None,
        })
        .await;
    assert_eq!(status, 412);
    assert_eq!(error.current.expect("the current incident").status, warroom::domain::Status::Acknowledged);
    assert_eq!(a.outbox.rejected().unwrap().len(), 2);

    // A timeline load returns every event of the incident.
    b.handle.load_timeline(&inc);
    let tl = b
        .until(&mut seen_b, |m| match m {
            SyncMsg::Timeline { incident, events } if *incident == inc => Some(events.clone()),
            _ => None,
        })
        .await;
    assert_eq!(tl.len(), 32);
    a.handle.shutdown();
    b.handle.shutdown();
    srv.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_the_server_goes_away_without_gap_or_duplicate_and_the_outbox_drains() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), "127.0.0.1:0").await;
    let addr = srv.addr;
    let (ta, tb) = (token(dir.path(), "alice").await, token(dir.path(), "bob").await);
    let ca = client(addr, &ta);
    let inc = declare(&ca).await;
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = worker(ca.clone(), da.path());
    let mut b = worker(client(addr, &tb), db.path());
    let (mut seen_a, mut seen_b) = (Vec::new(), Vec::new());
    a.live(&mut seen_a).await;
    b.live(&mut seen_b).await;

    let before: Vec<NewEvent> = (0..5).map(|i| note(&format!("before {i}"))).collect();
    ca.append(&inc, before.clone(), None).await.unwrap();
    b.receive_all(&mut seen_b, &before.iter().map(|e| e.id).collect::<Vec<_>>()).await;

    // The server goes away; both workers notice.
    srv.shutdown().await.unwrap();
    b.until(&mut seen_b, |m| matches!(m, SyncMsg::Link(LinkState::Reconnecting { .. })).then_some(())).await;

    // Meanwhile another replica on the same database takes writes...
    let other = start(dir.path(), "127.0.0.1:0").await;
    let during: Vec<NewEvent> = (0..5).map(|i| note(&format!("during {i}"))).collect();
    client(other.addr, &ta).append(&inc, during.clone(), None).await.unwrap();
    other.shutdown().await.unwrap();

    // ...and A, cut off, queues its own.
    let queued: Vec<NewEvent> = (0..3).map(|i| note(&format!("queued {i}"))).collect();
    for n in &queued {
        a.handle.submit(Target::Incident(inc.clone()), n.clone(), None);
    }
    a.until(&mut seen_a, |m| matches!(m, SyncMsg::Outbox { pending: 3 }).then_some(())).await;
    assert_eq!(a.outbox.pending().unwrap().len(), 3);

    // The server comes back on the same address.
    let srv = start(dir.path(), &addr.to_string()).await;
    let all: Vec<Uuid> = before.iter().chain(&during).chain(&queued).map(|e| e.id).collect();
    b.receive_all(&mut seen_b, &all).await;
    assert_once_in_order(&seen_b);
    let got: Vec<Uuid> = seen_b.iter().map(|e| e.id).filter(|id| all.contains(id)).collect();
    assert_eq!(got, all, "every event exactly once, in order");

    a.until(&mut seen_a, |m| matches!(m, SyncMsg::Outbox { pending: 0 }).then_some(())).await;
    assert!(a.outbox.pending().unwrap().is_empty());
    a.receive_all(&mut seen_a, &all).await;
    assert_once_in_order(&seen_a);

    // The server agrees: 1 declaration + 13 notes, no duplicate.
    let snap = ca.incident(&inc, true).await.unwrap();
    let events = snap.events.unwrap();
    assert_eq!(events.len(), 14);
    let mut ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 14);
    a.handle.shutdown();
    b.handle.shutdown();
    srv.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_reported_clearly_and_writes_go_to_the_rejected_file() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), "127.0.0.1:0").await;
    let c = client(srv.addr, "wr_not_a_token");
    let err = c.me().await.unwrap_err();
    assert!(err.to_string().starts_with("the server refused the token"), "{err}");
    let d = tempfile::tempdir().unwrap();
    let mut w = worker(c, d.path());
    let mut seen = Vec::new();
    let n = note("kept");
    w.handle.submit(Target::Incident("INC-1".into()), n.clone(), None);
    w.until(&mut seen, |m| matches!(m, SyncMsg::Queued { .. }).then_some(())).await;
    let error = w
        .until(&mut seen, |m| match m {
            SyncMsg::Link(LinkState::Offline { error, .. }) => Some(error.clone()),
            _ => None,
        })
        .await;
    assert!(error.contains("refused the token"), "{error}");
    // #15 item 0: the entry is the wrong token's; it goes to the rejected file, never to be
    // sent later under another token.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while w.outbox.rejected().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the entry was not rejected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(w.outbox.rejected().unwrap()[0].event, n);
    assert!(w.outbox.pending().unwrap().is_empty());
    w.handle.shutdown();
    srv.shutdown().await.unwrap();
}

/// A front that passes every request to `backend` except the event stream, which it holds open
/// without sending a byte (what a buffering proxy does to SSE).
async fn buffering_front(backend: String) -> SocketAddr {
    use axum::body::Body;
    use axum::extract::{Request, State};
    use axum::response::Response;
    async fn proxy(State(backend): State<String>, req: Request) -> Response {
        if req.uri().path() == warroom::api::paths::STREAM {
            let body = Body::from_stream(futures::stream::pending::<Result<Vec<u8>, std::io::Error>>());
            return Response::builder().header("content-type", "text/event-stream").body(body).unwrap();
        }
        let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
        let method = req.method().clone();
        let auth = req.headers().get("authorization").cloned();
        let body = axum::body::to_bytes(req.into_body(), usize::MAX).await.unwrap();
        let mut rb = reqwest::Client::new()
            .request(method, format!("{backend}{path}"))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(a) = auth {
            rb = rb.header("authorization", a);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let bytes = r.bytes().await.unwrap();
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(bytes))
            .unwrap()
    }
    let app = axum::Router::new().fallback(proxy).with_state(backend);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_sends_nothing_falls_back_to_long_polling() {
    warroom::client::init_tls();
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), "127.0.0.1:0").await;
    let tok = token(dir.path(), "alice").await;
    let direct = client(srv.addr, &tok);
    let inc = declare(&direct).await;
    let front = buffering_front(format!("http://{}", srv.addr)).await;

    let d = tempfile::tempdir().unwrap();
    let c = client(front, &tok);
    let outbox = Outbox::open(d.path(), c.base()).unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let (handle, commands) = SyncHandle::channel();
    let opts = WorkerOptions { first_byte_timeout: Duration::from_millis(300), long_poll_wait: 1, ..fast() };
    spawn_with(c, outbox.clone(), commands, tx, opts);
    let mut w = Worker { handle, rx, outbox };
    let mut seen = Vec::new();
    w.until(&mut seen, |m| matches!(m, SyncMsg::Link(LinkState::Live { long_poll: true })).then_some(()))
        .await;

    let notes: Vec<NewEvent> = (0..5).map(|i| note(&format!("polled {i}"))).collect();
    direct.append(&inc, notes[..2].to_vec(), None).await.unwrap();
    // Writes through the worker go out through the same front.
    for n in &notes[2..] {
        w.handle.submit(Target::Incident(inc.clone()), n.clone(), None);
    }
    let ids: Vec<Uuid> = notes.iter().map(|n| n.id).collect();
    w.receive_all(&mut seen, &ids).await;
    assert_once_in_order(&seen);
    let got: Vec<Uuid> = seen.iter().map(|e| e.id).filter(|id| ids.contains(id)).collect();
    assert_eq!(got, ids);
    w.handle.shutdown();
    srv.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_first_server_fails_over_to_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), "127.0.0.1:0").await;
    let tok = token(dir.path(), "alice").await;
    // The dead server: a port held (bound, never listening) for the whole test, so that
    // connections to it are refused. A port merely freed could be taken by another test's
    // server, or by this client's own outgoing connection (a TCP self-connect), and the
    // client would then talk to something instead of failing over.
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let dead = held.local_addr().unwrap();
    let c = ApiClient::new(&[format!("http://{dead}"), format!("http://{}", srv.addr)], Some(tok)).unwrap();
    let d = tempfile::tempdir().unwrap();
    let mut w = worker(c.clone(), d.path());
    let mut seen = Vec::new();
    let decl = NewEvent::now(EventBody::Declared {
        title: "Failover".into(),
        severity: "SEV-4".into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    });
    w.handle.submit(Target::Declare, decl.clone(), None);
    let inc = w
        .until(&mut seen, |m| match m {
            SyncMsg::Acked { events } if events[0].id == decl.id => Some(events[0].incident.clone()),
            _ => None,
        })
        .await;
    w.live(&mut seen).await;
    let n = note("after failover");
    w.handle.submit(Target::Incident(inc), n.clone(), None);
    // The note comes back on the stream, and its write is acknowledged and leaves the outbox
    // (the flusher says so after the ack): the stream and the flusher are separate tasks, so
    // the event and the ack arrive in either order.
    let (mut streamed, mut acked, mut emptied) = (seen.iter().any(|e| e.id == n.id), false, false);
    w.until(&mut seen, |m| {
        match m {
            SyncMsg::Event(e) if e.id == n.id => streamed = true,
            SyncMsg::Acked { events } if events.iter().any(|e| e.id == n.id) => acked = true,
            SyncMsg::Outbox { pending: 0 } if acked => emptied = true,
            _ => {}
        }
        (streamed && emptied).then_some(())
    })
    .await;
    assert_eq!(c.base(), format!("http://{}", srv.addr));
    drop(held);
    w.handle.shutdown();
    srv.shutdown().await.unwrap();
}
