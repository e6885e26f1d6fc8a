//! A database that refuses writes underneath a running server (read-only, or full): writes get
//! a clear 503 `store_unavailable` JSON answer and record nothing, reads keep working, and once
//! the database takes writes again the same retry succeeds. The fault is SQLite's own
//! (`PRAGMA query_only`, `PRAGMA max_page_count`) on the server's writer connection, since
//! file permissions do not stop root.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::server_support::{self, Srv, expect_error, options, start};
use warroom::api::Role;
use warroom::domain::{EventBody, EventKind, NewEvent};
use warroom::server::Limits;
use warroom::server::sqlite::WriteFault;

fn note(text: &str) -> NewEvent {
    NewEvent::now(EventBody::entry(EventKind::Note, text).unwrap())
}

/// A big summary, so that a full database has to grow to take it.
fn declared(summary: &str) -> NewEvent {
    NewEvent::now(EventBody::Declared {
        title: "Disk trouble".into(),
        severity: "SEV-2".into(),
        summary: summary.into(),
        group_key: None,
        demo: false,
    })
}

async fn refuses_writes_keeps_reads(s: &Srv, fault: WriteFault) {
    let res = s.post("/api/v1/incidents", s.token(Role::Scribe), &json!(declared(""))).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["incident"].as_str().unwrap().to_string();
    let path = format!("/api/v1/incidents/{id}/events");
    let res = s.post(&path, s.token(Role::Scribe), &json!(note("before"))).await;
    assert_eq!(res.status(), StatusCode::OK);

    s.sqlite.inject_write_fault(fault).await.unwrap();
    // A big entry, so that a full database has to grow to take it.
    let entry = note(&"disk ".repeat(1_500));
    let res = s.post(&path, s.token(Role::Scribe), &json!(entry)).await;
    assert!(res.headers().contains_key("retry-after"));
    let body = expect_error(res, StatusCode::SERVICE_UNAVAILABLE, "store_unavailable").await;
    assert!(body.message.contains("refuses writes"), "{}", body.message);
    let res =
        s.post("/api/v1/incidents", s.token(Role::Scribe), &json!(declared(&"full ".repeat(1_500)))).await;
    expect_error(res, StatusCode::SERVICE_UNAVAILABLE, "store_unavailable").await;

    // Reads work, and show nothing of the refused writes.
    let snap: Value = s
        .get(&format!("/api/v1/incidents/{id}?events=true"), s.token(Role::Viewer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(snap["events"].as_array().unwrap().len(), 2, "{fault:?}");
    let list = s.get("/api/v1/incidents", s.token(Role::Viewer)).await;
    assert_eq!(list.status(), StatusCode::OK);
    assert_eq!(list.json::<Value>().await.unwrap()["incidents"].as_array().unwrap().len(), 1);
    let page = s.get("/api/v1/events?after=0", s.token(Role::Viewer)).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(s.get("/healthz", s.token(Role::Viewer)).await.status(), StatusCode::OK);

    // Healed: the very same entry (same id, as a console's outbox retries it) goes in once.
    s.sqlite.inject_write_fault(WriteFault::Healed).await.unwrap();
    for _ in 0..2 {
        let res = s.post(&path, s.token(Role::Scribe), &json!(entry)).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let snap: Value = s
        .get(&format!("/api/v1/incidents/{id}?events=true"), s.token(Role::Viewer))
        .await
        .json()
        .await
        .unwrap();
    let events = snap["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[2]["id"], json!(entry.id));
}

#[tokio::test]
async fn a_read_only_database_refuses_writes_and_serves_reads() {
    let s = start(options(Limits::unlimited())).await;
    refuses_writes_keeps_reads(&s, WriteFault::ReadOnly).await;
    s.shutdown().await;
}

#[tokio::test]
async fn a_full_database_refuses_writes_and_serves_reads() {
    let s = start(options(Limits::unlimited())).await;
    refuses_writes_keeps_reads(&s, WriteFault::Full).await;
    s.shutdown().await;
}

#[tokio::test]
async fn a_server_opened_read_only_serves_reads_and_refuses_writes() {
    // A normal server writes an incident, then the same file is served read-only
    // (`sqlite://...?mode=ro`, e.g. a replica copy or a disk mounted read-only).
    let s = start(options(Limits::unlimited())).await;
    let res = s.post("/api/v1/incidents", s.token(Role::Scribe), &json!(declared(""))).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let scribe = s.token(Role::Scribe).to_string();
    let path = s.dir.path().join("warroom.db");
    let dir = s.dir.path().to_path_buf();
    let Srv { running, dir: tmp, .. } = s;
    running.unwrap().shutdown().await.unwrap();

    let url = format!("sqlite://{}?mode=ro", path.display());
    let store = warroom::server::open_store(&url).await.unwrap();
    let running = warroom::server::start(options(Limits::unlimited()), store).await.unwrap();
    let base = format!("http://{}", running.addr);
    let http = server_support::client();
    let list = http.get(format!("{base}/api/v1/incidents")).bearer_auth(&scribe).send().await.unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    assert_eq!(list.json::<Value>().await.unwrap()["incidents"].as_array().unwrap().len(), 1);
    let res = http
        .post(format!("{base}/api/v1/incidents/INC-1/events"))
        .bearer_auth(&scribe)
        .json(&note("on a read-only server"))
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::SERVICE_UNAVAILABLE, "store_unavailable").await;
    running.shutdown().await.unwrap();
    assert!(dir.exists());
    drop(tmp);
}
