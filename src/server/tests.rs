//! Store unit tests: each test function runs against the in-memory store and against SQLite
//! (a file in a temp dir), so both implement the same rules.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::hub::Hub;
use super::memory::MemoryStore;
use super::sqlite::SqliteStore;
use super::store::{AppendCtx, ListFilter, Store, StoreError};
use crate::api::Role;
use crate::domain::{EventBody, NewEvent, Practice, Status};

fn practice() -> Practice {
    crate::assets::load_practice(None, None).expect("embedded practice")
}

fn ctx<'a>(p: &'a Practice, role: Role) -> AppendCtx<'a> {
    AppendCtx { author: "alice", role, practice: p, if_match: None }
}

/// A declaration of "Checkout down" at `sev` (also the other server modules' unit tests).
pub(super) fn declared(sev: &str) -> NewEvent {
    NewEvent::now(EventBody::Declared {
        title: "Checkout down".into(),
        severity: sev.into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    })
}

/// A note (also the other server modules' unit tests).
pub(super) fn note(text: &str) -> NewEvent {
    NewEvent::now(EventBody::entry(crate::domain::EventKind::Note, text).unwrap())
}

fn sev(s: &str) -> NewEvent {
    NewEvent::now(EventBody::SeverityChanged { severity: s.into() })
}

async fn declare(store: &dyn Store, p: &Practice) -> String {
    store.declare(ctx(p, Role::Responder), declared("SEV-2")).await.unwrap().incident.id
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(#[tokio::test] async fn $name() { super::$name(&super::MemoryStore::new()).await; })*
        }
        mod sqlite_store {
            $(#[tokio::test] async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("sub/dir/wr.db").display());
                let store = super::SqliteStore::open(&url).await.unwrap();
                super::$name(&store).await;
            })*
        }
        /// The same suite on PostgreSQL, one test at a time on one database (see
        /// tests/it/postgres.rs for the URL and the loud skip).
        mod postgres_store {
            $(#[tokio::test] async fn $name() {
                let Some(url) = super::pg_url() else { return };
                let _turn = super::PG_SERIAL.lock().await;
                super::super::postgres::PgStore::reset(&url).await.unwrap();
                let store = super::super::postgres::PgStore::open(&url).await.unwrap();
                super::$name(&store).await;
            })*
        }
    };
}

/// PostgreSQL tests share one database: they take turns.
static PG_SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn pg_url() -> Option<String> {
    match std::env::var("WARROOM_TEST_PG") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var("WARROOM_REQUIRE_PG").as_deref() == Ok("1") {
                panic!("WARROOM_REQUIRE_PG=1 but WARROOM_TEST_PG is not set");
            }
            eprintln!("*** SKIPPED: PostgreSQL store suite: set WARROOM_TEST_PG=postgres://... ***");
            None
        }
    }
}

both!(
    declare_allocates_ids_and_seqs,
    append_reads_back_in_order,
    retry_returns_the_first_record,
    same_id_other_content_is_a_conflict,
    roles_are_enforced,
    stale_if_match_is_refused,
    corrections_must_target_the_same_incident,
    batches_are_all_or_nothing,
    unknown_incident_is_not_found,
    severity_is_canonicalised_and_retries_still_match,
    lists_filter_by_status,
    tokens_lifecycle,
);

#[tokio::test]
async fn hub_over_memory() {
    hub_serves_from_ring_and_store(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn hub_over_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("wr.db").display());
    hub_serves_from_ring_and_store(Arc::new(SqliteStore::open(&url).await.unwrap())).await;
}

#[tokio::test]
async fn sqlite_in_memory_works_and_reopen_keeps_data() {
    let store = SqliteStore::open("sqlite::memory:").await.unwrap();
    let p = practice();
    let id = declare(&store, &p).await;
    store.append(ctx(&p, Role::Responder), &id, vec![note("x")]).await.unwrap();
    assert_eq!(store.last_seq().await.unwrap(), 2);

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("wr.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    let id = declare(&store, &p).await;
    let before = store.incident(&id, true).await.unwrap().unwrap();
    drop(store);
    let store = SqliteStore::open(&url).await.unwrap();
    assert_eq!(store.incident(&id, true).await.unwrap().unwrap(), before);
    assert_eq!(declare(&store, &p).await, "INC-2");
}

async fn declare_allocates_ids_and_seqs(store: &dyn Store) {
    let p = practice();
    let a = store.declare(ctx(&p, Role::Responder), declared("SEV-1")).await.unwrap();
    let b = store.declare(ctx(&p, Role::Responder), declared("SEV-3")).await.unwrap();
    assert_eq!(a.incident.id, "INC-1");
    assert_eq!(b.incident.id, "INC-2");
    assert!(a.created && b.created);
    assert_eq!(a.events[0].seq, 1);
    assert_eq!(b.events[0].seq, 2);
    assert_eq!(a.events[0].author, "alice");
    assert_eq!(a.incident.revision, 1);
    assert_eq!(store.last_seq().await.unwrap(), 2);
    // A non-declared event cannot open an incident.
    let err = store.declare(ctx(&p, Role::Responder), note("x")).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { code: "invalid_event", .. }), "{err:?}");
}

async fn append_reads_back_in_order(store: &dyn Store) {
    let p = practice();
    let id = declare(store, &p).await;
    let r = store.append(ctx(&p, Role::Scribe), &id, vec![note("one"), note("two")]).await.unwrap();
    assert_eq!(r.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(r.incident.revision, 3);
    assert_eq!(r.incident.last_seq, 3);
    let all = store.events_after(0, 100, None).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[1], r.events[0]);
    assert_eq!(store.events_after(1, 1, None).await.unwrap(), vec![r.events[0].clone()]);
    assert!(store.events_after(0, 100, Some("INC-99")).await.unwrap().is_empty());
    let snap = store.incident(&id, true).await.unwrap().unwrap();
    assert_eq!(snap.seq, 3);
    assert_eq!(snap.incident, r.incident);
    assert_eq!(snap.events.unwrap().len(), 3);
    assert!(store.incident(&id, false).await.unwrap().unwrap().events.is_none());
}

async fn retry_returns_the_first_record(store: &dyn Store) {
    let p = practice();
    let d = declared("SEV-2");
    let first = store.declare(ctx(&p, Role::Responder), d.clone()).await.unwrap();
    let again = store.declare(ctx(&p, Role::Responder), d).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.incident.id, first.incident.id);
    assert_eq!(again.events, first.events);
    let n = note("once");
    let id = first.incident.id;
    let a = store.append(ctx(&p, Role::Responder), &id, vec![n.clone()]).await.unwrap();
    let b = store.append(ctx(&p, Role::Responder), &id, vec![n.clone()]).await.unwrap();
    assert!(!b.created);
    assert_eq!(a.events, b.events);
    // Mixed batch: the retried one comes back as recorded, the new one is added.
    let m = store.append(ctx(&p, Role::Responder), &id, vec![n, note("new")]).await.unwrap();
    assert_eq!(m.events[0], a.events[0]);
    assert_eq!(m.events[1].seq, a.events[0].seq + 1);
    assert_eq!(store.events_after(0, 100, None).await.unwrap().len(), 3);
}

async fn same_id_other_content_is_a_conflict(store: &dyn Store) {
    let p = practice();
    let id = declare(store, &p).await;
    let n = note("original");
    store.append(ctx(&p, Role::Responder), &id, vec![n.clone()]).await.unwrap();
    let mut changed = n.clone();
    changed.body = EventBody::entry(crate::domain::EventKind::Note, "edited").unwrap();
    let err = store.append(ctx(&p, Role::Responder), &id, vec![changed]).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { code: "id_conflict", .. }), "{err:?}");
    // Same event to another incident: also a conflict.
    let other = declare(store, &p).await;
    let err = store.append(ctx(&p, Role::Responder), &other, vec![n]).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { code: "id_conflict", .. }), "{err:?}");
}

async fn roles_are_enforced(store: &dyn Store) {
    let p = practice();
    let err = store.declare(ctx(&p, Role::Viewer), declared("SEV-2")).await.unwrap_err();
    assert!(matches!(err, StoreError::Forbidden(_)), "{err:?}");
    let id = declare(store, &p).await;
    let err = store.append(ctx(&p, Role::Responder), &id, vec![sev("SEV-1")]).await.unwrap_err();
    assert!(matches!(err, StoreError::Forbidden(_)), "{err:?}");
    store.append(ctx(&p, Role::Commander), &id, vec![sev("SEV-1")]).await.unwrap();
    assert_eq!(store.last_seq().await.unwrap(), 2);
}

async fn stale_if_match_is_refused(store: &dyn Store) {
    let p = practice();
    let id = declare(store, &p).await; // revision 1
    let guarded = |rev| AppendCtx { if_match: Some(rev), ..ctx(&p, Role::Commander) };
    store.append(guarded(1), &id, vec![sev("SEV-1")]).await.unwrap(); // revision 2
    // A note in between does not make a later change stale.
    store.append(ctx(&p, Role::Responder), &id, vec![note("n")]).await.unwrap(); // revision 3
    store.append(guarded(2), &id, vec![sev("SEV-3")]).await.unwrap(); // revision 4
    let err = store.append(guarded(3), &id, vec![sev("SEV-2")]).await.unwrap_err();
    match err {
        StoreError::Stale { conflict, current } => {
            assert_eq!(conflict.field, "severity");
            assert_eq!(current.severity, "SEV-3");
            assert_eq!(current.revision, 4);
        }
        e => panic!("expected a conflict, got {e:?}"),
    }
    // Status is guarded on its own.
    let st = NewEvent::now(EventBody::StatusChanged { status: Status::Investigating });
    store.append(guarded(3), &id, vec![st]).await.unwrap();
}

async fn corrections_must_target_the_same_incident(store: &dyn Store) {
    let p = practice();
    let a = declare(store, &p).await;
    let b = declare(store, &p).await;
    let n = note("typo");
    store.append(ctx(&p, Role::Responder), &a, vec![n.clone()]).await.unwrap();
    let fix = |target| NewEvent::now(EventBody::Correction { target, text: "fixed".into() });
    let err = store.append(ctx(&p, Role::Scribe), &b, vec![fix(n.id)]).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { code: "invalid_target", .. }), "{err:?}");
    let err = store.append(ctx(&p, Role::Scribe), &a, vec![fix(Uuid::now_v7())]).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    store.append(ctx(&p, Role::Scribe), &a, vec![fix(n.id)]).await.unwrap();
    // A correction of an event earlier in the same batch.
    let m = note("in batch");
    store.append(ctx(&p, Role::Scribe), &a, vec![m.clone(), fix(m.id)]).await.unwrap();
}

async fn batches_are_all_or_nothing(store: &dyn Store) {
    let p = practice();
    let id = declare(store, &p).await;
    let err = store.append(ctx(&p, Role::Scribe), &id, vec![note("fine"), note("  ")]).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { code: "invalid_event", .. }), "{err:?}");
    assert_eq!(store.last_seq().await.unwrap(), 1);
    assert_eq!(store.incident(&id, false).await.unwrap().unwrap().incident.revision, 1);
}

async fn unknown_incident_is_not_found(store: &dyn Store) {
    let p = practice();
    let err = store.append(ctx(&p, Role::Admin), "INC-404", vec![note("x")]).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert!(store.incident("INC-404", true).await.unwrap().is_none());
}

async fn severity_is_canonicalised_and_retries_still_match(store: &dyn Store) {
    let p = practice();
    let d = declared("sev-2");
    let a = store.declare(ctx(&p, Role::Responder), d.clone()).await.unwrap();
    assert_eq!(a.incident.severity, "SEV-2");
    let b = store.declare(ctx(&p, Role::Responder), d).await.unwrap();
    assert_eq!(b.incident.id, a.incident.id);
    assert!(!b.created);
    let err = store.declare(ctx(&p, Role::Responder), declared("SEV-9")).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { code: "unknown_severity", .. }), "{err:?}");
}

async fn lists_filter_by_status(store: &dyn Store) {
    let p = practice();
    let a = declare(store, &p).await;
    let b = declare(store, &p).await;
    let resolve = NewEvent::now(EventBody::StatusChanged { status: Status::Resolved });
    store.append(ctx(&p, Role::Commander), &a, vec![resolve]).await.unwrap();
    let (seq, open) = store.list_incidents(ListFilter::Open).await.unwrap();
    assert_eq!(seq, 3);
    assert_eq!(open.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), vec![b.as_str()]);
    let (_, all) = store.list_incidents(ListFilter::All).await.unwrap();
    assert_eq!(all.len(), 2);
    let (_, recent) = store.list_incidents(ListFilter::Recent).await.unwrap();
    assert_eq!(recent.len(), 2);
}

async fn tokens_lifecycle(store: &dyn Store) {
    let secret = super::tokens::create(store, "alice", Role::Scribe).await.unwrap();
    assert!(secret.starts_with("wr_") && secret.len() == 3 + 64, "{secret}");
    let found = store.find_token(super::auth::hash_secret(&secret)).await.unwrap().unwrap();
    assert_eq!((found.name.as_str(), found.role, found.revoked), ("alice", Role::Scribe, false));
    assert!(store.find_token(super::auth::hash_secret("wr_nope")).await.unwrap().is_none());
    let err = super::tokens::create(store, "alice", Role::Viewer).await.unwrap_err();
    assert!(err.to_string().contains("alice"), "{err}");
    assert!(super::tokens::create(store, "", Role::Viewer).await.is_err());
    super::tokens::revoke(store, "alice").await.unwrap();
    assert!(store.find_token(super::auth::hash_secret(&secret)).await.unwrap().unwrap().revoked);
    assert!(super::tokens::revoke(store, "alice").await.is_err());
    // The name is free again; revoke by id works too.
    super::tokens::create(store, "alice", Role::Viewer).await.unwrap();
    let list = super::tokens::list(store).await.unwrap();
    assert_eq!(list.len(), 2);
    let active = list.iter().find(|t| t.revoked_at.is_none()).unwrap();
    super::tokens::revoke(store, &active.id.to_string()).await.unwrap();
    assert!(super::tokens::list(store).await.unwrap().iter().all(|t| t.revoked_at.is_some()));
}

/// The hub answers from its ring when the cursor is inside it and from the store otherwise,
/// with the same events either way.
async fn hub_serves_from_ring_and_store(mem: Arc<dyn Store>) {
    let p = practice();
    let id = declare(&*mem, &p).await;
    for i in 0..9 {
        mem.append(ctx(&p, Role::Responder), &id, vec![note(&format!("n{i}"))]).await.unwrap();
    }
    let cancel = CancellationToken::new();
    let hub = Hub::start_with_capacity(mem.clone(), cancel.clone(), 3).await.unwrap();
    assert_eq!(hub.top(), 10);
    for after in 0..=10u64 {
        let page = hub.read(after, 100, None).await.unwrap();
        let seqs: Vec<u64> = page.items.iter().map(|i| i.seq).collect();
        assert_eq!(seqs, ((after + 1)..=10).collect::<Vec<_>>(), "after {after}");
        assert_eq!(page.last_seq, 10);
    }
    // New events reach the ring after a poke.
    let mut rx = hub.subscribe();
    mem.append(ctx(&p, Role::Responder), &id, vec![note("late")]).await.unwrap();
    hub.poke();
    while *rx.borrow_and_update() < 11 {
        rx.changed().await.unwrap();
    }
    let page = hub.read(10, 100, None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let ev: crate::domain::Event = serde_json::from_str(page.items[0].json()).unwrap();
    assert_eq!(ev.seq, 11);
    let doc: crate::api::EventPage = serde_json::from_str(&page.to_json()).unwrap();
    assert_eq!(doc.events, vec![ev]);
    cancel.cancel();
}

/// A panicking handler answers a JSON 500 and the service keeps serving.
#[tokio::test]
async fn a_handler_panic_is_a_json_500() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;
    async fn boom() -> &'static str {
        panic!("kaboom")
    }
    let app = axum::Router::new()
        .route("/boom", axum::routing::get(boom))
        .route("/fine", axum::routing::get(|| async { "ok" }))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(super::error::panic_response));
    let res = app.clone().oneshot(Request::get("/boom").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 16).await.unwrap();
    let body: crate::api::ErrorBody = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body.error, "internal");
    let res = app.oneshot(Request::get("/fine").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn open_store_names_what_it_cannot_open() {
    let err =
        format!("{:#}", super::open_store("postgres://nobody@127.0.0.1:1/warroom").await.err().unwrap());
    assert!(err.contains("connecting to PostgreSQL"), "{err}");
    let err = super::open_store("mysql://x").await.err().unwrap().to_string();
    assert!(err.contains("unsupported database URL"), "{err}");
    let store = super::open_store("sqlite::memory:").await.unwrap();
    assert_eq!(store.last_seq().await.unwrap(), 0);
}
