//! The HTTP API end to end: the real router on 127.0.0.1:0 over a SQLite file in a temp dir,
//! driven by reqwest and eventsource-stream as a client would.

use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use warroom::api::{AppendResponse, ErrorBody, EventPage, Health, IncidentList, IncidentSnapshot, Me, Role};
use warroom::domain::{Event, EventBody, EventKind, NewEvent, Status};
use warroom::server::{self, ServeOptions};

use crate::server_support;

/// Guards against a hang; never a performance assertion.
const PATIENCE: Duration = Duration::from_secs(30);

/// The shared test server with its tokens by name.
struct Srv {
    srv: server_support::Srv,
    admin: String,
    commander: String,
    scribe: String,
    responder: String,
    viewer: String,
}

impl std::ops::Deref for Srv {
    type Target = server_support::Srv;
    fn deref(&self) -> &server_support::Srv {
        &self.srv
    }
}

impl std::ops::DerefMut for Srv {
    fn deref_mut(&mut self) -> &mut server_support::Srv {
        &mut self.srv
    }
}

/// The test server's options, without rate limits.
fn options() -> ServeOptions {
    server_support::options(server::Limits::unlimited())
}

async fn server() -> Srv {
    let srv =
        server_support::start_with(options(), "data/warroom.db", &Role::ALL.map(|r| (r.as_str(), r))).await;
    let t = |role| srv.token(role).to_string();
    Srv {
        viewer: t(Role::Viewer),
        responder: t(Role::Responder),
        scribe: t(Role::Scribe),
        commander: t(Role::Commander),
        admin: t(Role::Admin),
        srv,
    }
}

fn declared(sev: &str) -> NewEvent {
    NewEvent::now(EventBody::Declared {
        title: "Checkout down".into(),
        severity: sev.into(),
        summary: "500s on /pay".into(),
        group_key: None,
        demo: false,
    })
}

fn note(text: &str) -> NewEvent {
    NewEvent::now(EventBody::entry(EventKind::Note, text).unwrap())
}

fn sev(s: &str) -> NewEvent {
    NewEvent::now(EventBody::SeverityChanged { severity: s.into() })
}

impl Srv {
    async fn declare(&self) -> AppendResponse {
        let res = self
            .req(Method::POST, "/api/v1/incidents", Some(&self.responder))
            .json(&declared("SEV-2"))
            .send();
        let res = res.await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    }

    async fn append(&self, token: &str, incident: &str, body: &Value) -> reqwest::Response {
        self.req(Method::POST, &format!("/api/v1/incidents/{incident}/events"), Some(token))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn append_ok(&self, token: &str, incident: &str, events: &[NewEvent]) -> AppendResponse {
        let res = self.append(token, incident, &json!({ "events": events })).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let res = self.req(Method::GET, path, Some(&self.viewer)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.json().await.unwrap()
    }

    /// A live event stream, resuming after `after` (via Last-Event-ID when `header`).
    async fn stream(&self, after: u64, header: bool) -> impl futures::Stream<Item = Event> + Unpin + use<> {
        let mut r = self.req(Method::GET, "/api/v1/stream", Some(&self.viewer));
        r = if header { r.header("Last-Event-ID", after.to_string()) } else { r.query(&[("after", after)]) };
        let res = r.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        Box::pin(res.bytes_stream().eventsource().map(|e| {
            let e = e.expect("a well-formed event stream");
            assert_eq!(e.event, "event");
            let ev: Event = serde_json::from_str(&e.data).unwrap();
            assert_eq!(e.id, ev.seq.to_string());
            ev
        }))
    }
}

/// Takes the next `n` events of a stream (bounded by PATIENCE as a hang guard).
async fn take(s: &mut (impl futures::Stream<Item = Event> + Unpin), n: usize) -> Vec<Event> {
    let mut out = Vec::new();
    while out.len() < n {
        let e =
            tokio::time::timeout(PATIENCE, s.next()).await.expect("stream stalled").expect("stream ended");
        out.push(e);
    }
    out
}

async fn error_of(res: reqwest::Response, status: StatusCode) -> ErrorBody {
    assert_eq!(res.status(), status);
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(ct.as_deref(), Some("application/json"));
    let body: ErrorBody = res.json().await.unwrap();
    assert!(!body.error.is_empty() && !body.message.is_empty());
    body
}

#[tokio::test]
async fn declare_append_and_read_back() {
    let s = server().await;
    let d = s.declare().await;
    assert_eq!(d.incident, "INC-1");
    assert_eq!(d.revision, 1);
    assert_eq!(d.events[0].author, "responder", "the author is the token's name");
    let a = s.append_ok(&s.scribe, "INC-1", &[note("db primary failing over"), note("paged DBA")]).await;
    assert_eq!(a.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(a.revision, 3);
    // A single event, not wrapped in a batch.
    let one = s.append(&s.scribe, "INC-1", &serde_json::to_value(note("third")).unwrap()).await;
    assert_eq!(one.status(), StatusCode::OK);

    let snap: IncidentSnapshot = s.get_json("/api/v1/incidents/INC-1?events=true").await;
    assert_eq!(snap.seq, 4);
    assert_eq!(snap.incident.title, "Checkout down");
    assert_eq!(snap.incident.revision, 4);
    let events = snap.events.unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(events[1], a.events[0]);
    let snap: IncidentSnapshot = s.get_json("/api/v1/incidents/INC-1").await;
    assert!(snap.events.is_none());

    let list: IncidentList = s.get_json("/api/v1/incidents").await;
    assert_eq!(list.seq, 4);
    assert_eq!(list.incidents.len(), 1);
    let page: EventPage = s.get_json("/api/v1/events?after=1&limit=2").await;
    assert_eq!(page.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(page.last_seq, 4);
    let page: EventPage = s.get_json("/api/v1/events?incident=INC-9").await;
    assert!(page.events.is_empty());
}

#[tokio::test]
async fn lists_open_first_and_filters_by_status() {
    let s = server().await;
    s.declare().await;
    let res =
        s.req(Method::POST, "/api/v1/incidents", Some(&s.responder)).json(&declared("sev-1")).send().await;
    let second: AppendResponse = res.unwrap().json().await.unwrap();
    assert_eq!(second.events[0].body, declared("SEV-1").body, "severity is canonicalised");
    s.declare().await;
    let resolve = NewEvent::now(EventBody::StatusChanged { status: Status::Resolved });
    s.append_ok(&s.commander, "INC-3", &[resolve]).await;
    let list: IncidentList = s.get_json("/api/v1/incidents").await;
    let ids: Vec<_> = list.incidents.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, vec!["INC-2", "INC-1", "INC-3"], "open (most severe first), then resolved");
    let list: IncidentList = s.get_json("/api/v1/incidents?status=open").await;
    assert_eq!(list.incidents.len(), 2);
    let list: IncidentList = s.get_json("/api/v1/incidents?status=all").await;
    assert_eq!(list.incidents.len(), 3);
    let res = s.req(Method::GET, "/api/v1/incidents?status=bogus", Some(&s.viewer)).send().await.unwrap();
    error_of(res, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn retries_are_idempotent() {
    let s = server().await;
    let d = declared("SEV-2");
    let post = || s.req(Method::POST, "/api/v1/incidents", Some(&s.responder)).json(&d).send();
    let first = post().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: AppendResponse = first.json().await.unwrap();
    let again = post().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let again: AppendResponse = again.json().await.unwrap();
    assert_eq!(again.incident, first.incident);
    assert_eq!(again.events, first.events);

    let n = note("only once");
    let a = s.append_ok(&s.responder, "INC-1", std::slice::from_ref(&n)).await;
    let b = s.append_ok(&s.responder, "INC-1", std::slice::from_ref(&n)).await;
    assert_eq!(a.events[0].seq, b.events[0].seq);
    assert_eq!(a.events, b.events);
    let page: EventPage = s.get_json("/api/v1/events").await;
    assert_eq!(page.events.len(), 2, "one declared, one note");

    let mut other = n.clone();
    other.body = EventBody::entry(EventKind::Note, "something else").unwrap();
    let res = s.append(&s.responder, "INC-1", &json!(other)).await;
    assert_eq!(error_of(res, StatusCode::UNPROCESSABLE_ENTITY).await.error, "id_conflict");
}

#[tokio::test]
async fn authentication_is_required() {
    let s = server().await;
    let health: Health = s.req(Method::GET, "/healthz", None).send().await.unwrap().json().await.unwrap();
    assert_eq!(health.status, "ok");
    for path in
        ["/api/v1/incidents", "/api/v1/events", "/api/v1/me", "/api/v1/practice", "/api/v1/openapi.json"]
    {
        let res = s.req(Method::GET, path, None).send().await.unwrap();
        assert!(res.headers().contains_key("www-authenticate"));
        error_of(res, StatusCode::UNAUTHORIZED).await;
        let res = s.req(Method::GET, path, Some("wr_0000")).send().await.unwrap();
        error_of(res, StatusCode::UNAUTHORIZED).await;
    }
    let res =
        s.req(Method::GET, "/api/v1/me", None).header("Authorization", "Basic abc").send().await.unwrap();
    error_of(res, StatusCode::UNAUTHORIZED).await;
    let res = s.req(Method::POST, "/api/v1/incidents", None).json(&declared("SEV-1")).send().await.unwrap();
    error_of(res, StatusCode::UNAUTHORIZED).await;

    let me: Me =
        s.req(Method::GET, "/api/v1/me", Some(&s.scribe)).send().await.unwrap().json().await.unwrap();
    assert_eq!(me, Me { name: "scribe".into(), role: Role::Scribe });
    server::tokens::revoke(&*s.store, "scribe").await.unwrap();
    let res = s.req(Method::GET, "/api/v1/me", Some(&s.scribe)).send().await.unwrap();
    let err = error_of(res, StatusCode::UNAUTHORIZED).await;
    assert!(err.message.contains("revoked"), "{}", err.message);
}

#[tokio::test]
async fn roles_are_enforced() {
    let s = server().await;
    let res = s.req(Method::POST, "/api/v1/incidents", Some(&s.viewer)).json(&declared("SEV-1")).send().await;
    error_of(res.unwrap(), StatusCode::FORBIDDEN).await;
    s.declare().await;
    let res = s.append(&s.viewer, "INC-1", &json!(note("hi"))).await;
    error_of(res, StatusCode::FORBIDDEN).await;
    let res = s.append(&s.responder, "INC-1", &json!(sev("SEV-1"))).await;
    let err = error_of(res, StatusCode::FORBIDDEN).await;
    assert!(err.message.contains("commander"), "{}", err.message);
    s.append_ok(&s.commander, "INC-1", &[sev("SEV-1")]).await;
    s.append_ok(&s.admin, "INC-1", &[sev("SEV-3")]).await;
    let page: EventPage = s.get_json("/api/v1/events").await;
    assert_eq!(page.events.len(), 3);
}

#[tokio::test]
async fn stale_if_match_is_refused_with_the_current_incident() {
    let s = server().await;
    s.declare().await; // revision 1
    let guarded = |rev: &str, e: NewEvent| {
        s.req(Method::POST, "/api/v1/incidents/INC-1/events", Some(&s.commander))
            .header("If-Match", rev)
            .json(&e)
            .send()
    };
    assert_eq!(guarded("1", sev("SEV-1")).await.unwrap().status(), StatusCode::OK); // revision 2
    s.append_ok(&s.scribe, "INC-1", &[note("a note does not make the severity stale")]).await; // 3
    assert_eq!(guarded("\"3\"", sev("SEV-3")).await.unwrap().status(), StatusCode::OK); // 4
    // Made against revision 3, but severity changed at 4.
    let err = error_of(guarded("3", sev("SEV-4")).await.unwrap(), StatusCode::PRECONDITION_FAILED).await;
    assert_eq!(err.error, "conflict");
    let current = err.current.expect("the current incident");
    assert_eq!(current.severity, "SEV-3");
    assert_eq!(current.revision, 4);
    // Nothing was written.
    let snap: IncidentSnapshot = s.get_json("/api/v1/incidents/INC-1").await;
    assert_eq!(snap.incident.revision, 4);
    let err = error_of(guarded("four", sev("SEV-4")).await.unwrap(), StatusCode::BAD_REQUEST).await;
    assert_eq!(err.error, "invalid_if_match");
}

#[tokio::test]
async fn invalid_events_are_422() {
    let s = server().await;
    s.declare().await;
    s.declare().await;
    let res =
        s.req(Method::POST, "/api/v1/incidents", Some(&s.responder)).json(&declared("SEV-9")).send().await;
    assert_eq!(error_of(res.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await.error, "unknown_severity");
    let res = s.append(&s.commander, "INC-1", &json!(sev("P1"))).await;
    assert_eq!(error_of(res, StatusCode::UNPROCESSABLE_ENTITY).await.error, "unknown_severity");
    let res = s.append(&s.scribe, "INC-1", &json!(note("   "))).await;
    assert_eq!(error_of(res, StatusCode::UNPROCESSABLE_ENTITY).await.error, "invalid_event");
    // Correcting another incident's event.
    let n = s.append_ok(&s.scribe, "INC-2", &[note("on INC-2")]).await.events[0].id;
    let fix = NewEvent::now(EventBody::Correction { target: n, text: "fixed".into() });
    let res = s.append(&s.scribe, "INC-1", &json!(fix)).await;
    error_of(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    // A note posted to the declare endpoint; an unknown kind; an empty batch.
    let res = s.req(Method::POST, "/api/v1/incidents", Some(&s.responder)).json(&note("x")).send().await;
    error_of(res.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    let bogus = json!({"id": Uuid::now_v7(), "occurred_at": "2026-01-01T00:00:00Z", "kind": "dance"});
    error_of(s.append(&s.scribe, "INC-1", &bogus).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    error_of(s.append(&s.scribe, "INC-1", &json!({"events": []})).await, StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    // Times that cannot be stored and read back are refused, not a 5xx later.
    let mut far = serde_json::to_value(note("from the far future")).unwrap();
    far["occurred_at"] = json!("0500-01-01T00:00:00Z");
    error_of(s.append(&s.scribe, "INC-1", &far).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    // A batch with one bad event writes nothing.
    let res = s.append(&s.scribe, "INC-1", &json!({"events": [note("good"), note("")]})).await;
    error_of(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    let snap: IncidentSnapshot = s.get_json("/api/v1/incidents/INC-1").await;
    assert_eq!(snap.incident.revision, 1);
}

#[tokio::test]
async fn unknown_things_are_404_json() {
    let s = server().await;
    let res = s.req(Method::GET, "/api/v1/incidents/INC-42", Some(&s.viewer)).send().await.unwrap();
    error_of(res, StatusCode::NOT_FOUND).await;
    error_of(s.append(&s.scribe, "INC-42", &json!(note("x"))).await, StatusCode::NOT_FOUND).await;
    let res = s.req(Method::GET, "/api/v1/nope", Some(&s.viewer)).send().await.unwrap();
    error_of(res, StatusCode::NOT_FOUND).await;
    let res = s.req(Method::GET, "/nope", None).send().await.unwrap();
    error_of(res, StatusCode::NOT_FOUND).await;
    let res = s.req(Method::DELETE, "/api/v1/incidents", Some(&s.admin)).send().await.unwrap();
    error_of(res, StatusCode::METHOD_NOT_ALLOWED).await;
}

#[tokio::test]
async fn malformed_requests_are_4xx_json() {
    let s = server().await;
    s.declare().await;
    let url = "/api/v1/incidents/INC-1/events";
    let post = |body: &'static str, ct: &'static str| {
        s.req(Method::POST, url, Some(&s.scribe)).header("content-type", ct).body(body).send()
    };
    error_of(post("{not json", "application/json").await.unwrap(), StatusCode::BAD_REQUEST).await;
    error_of(post("{}", "application/json").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    error_of(post("[1,2]", "application/json").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    error_of(post("{\"a\":1}", "text/plain").await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let huge = format!("{{\"events\":[], \"pad\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let res = s.req(Method::POST, url, Some(&s.scribe)).header("content-type", "application/json").body(huge);
    error_of(res.send().await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE).await;
    for q in ["after=-1", "limit=lots", "wait=x", "after=99999999999999999999999"] {
        let res = s.req(Method::GET, &format!("/api/v1/events?{q}"), Some(&s.viewer)).send().await.unwrap();
        error_of(res, StatusCode::BAD_REQUEST).await;
    }
    let res =
        s.req(Method::GET, "/api/v1/stream", Some(&s.viewer)).header("Last-Event-ID", "abc").send().await;
    error_of(res.unwrap(), StatusCode::BAD_REQUEST).await;
    // The server is still fine.
    s.append_ok(&s.scribe, "INC-1", &[note("still here")]).await;
}

#[tokio::test]
async fn two_streams_receive_what_a_third_client_appends_once_in_order() {
    let s = server().await;
    s.declare().await;
    let mut a = s.stream(1, false).await;
    let mut b = s.stream(1, true).await;
    let mut sent = Vec::new();
    for i in 0..10 {
        let batch: Vec<NewEvent> = (0..(i % 3 + 1)).map(|j| note(&format!("{i}.{j}"))).collect();
        sent.extend(s.append_ok(&s.scribe, "INC-1", &batch).await.events);
    }
    let sentinel = s.append_ok(&s.scribe, "INC-1", &[note("last")]).await.events;
    sent.extend(sentinel);
    for stream in [&mut a, &mut b] {
        let got = take(stream, sent.len()).await;
        assert_eq!(got, sent);
    }
    let seqs: Vec<u64> = sent.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (2..2 + sent.len() as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_resumed_stream_gets_exactly_the_missing_events() {
    let s = server().await;
    s.declare().await;
    let mut first = s.stream(0, false).await;
    s.append_ok(&s.scribe, "INC-1", &[note("1"), note("2")]).await;
    let seen = take(&mut first, 3).await;
    let last = seen.last().unwrap().seq;
    drop(first); // the client goes away
    let mut missed = Vec::new();
    for i in 0..5 {
        missed.extend(s.append_ok(&s.scribe, "INC-1", &[note(&format!("while away {i}"))]).await.events);
    }
    let mut resumed = s.stream(last, true).await;
    let tail = s.append_ok(&s.scribe, "INC-1", &[note("after resuming")]).await.events;
    missed.extend(tail);
    assert_eq!(take(&mut resumed, missed.len()).await, missed);
}

#[tokio::test]
async fn stream_starts_with_a_comment_and_proxy_friendly_headers() {
    let s = server().await;
    let res = s.req(Method::GET, "/api/v1/stream", Some(&s.viewer)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers();
    assert_eq!(h["content-type"], "text/event-stream");
    assert_eq!(h["x-accel-buffering"], "no");
    assert_eq!(h["cache-control"], "no-cache");
    let mut body = res.bytes_stream();
    let first = tokio::time::timeout(PATIENCE, body.next()).await.unwrap().unwrap().unwrap();
    assert!(first.starts_with(b": connected"), "{first:?}");
}

#[tokio::test]
async fn long_poll_returns_when_an_event_arrives() {
    let s = server().await;
    s.declare().await;
    let poll = s.req(Method::GET, "/api/v1/events?after=1&wait=30", Some(&s.viewer)).send();
    let poll = tokio::spawn(poll);
    let sent = s.append_ok(&s.scribe, "INC-1", &[note("wake up")]).await.events;
    let res = tokio::time::timeout(PATIENCE, poll).await.unwrap().unwrap().unwrap();
    let page: EventPage = res.json().await.unwrap();
    assert_eq!(page.events, sent);
    // Filtered long poll: an event of another incident does not end it; one of its own does.
    s.declare().await; // INC-2, seq 3
    let poll = s.req(Method::GET, "/api/v1/events?after=3&wait=30&incident=INC-1", Some(&s.viewer)).send();
    let poll = tokio::spawn(poll);
    s.append_ok(&s.scribe, "INC-2", &[note("elsewhere")]).await;
    let mine = s.append_ok(&s.scribe, "INC-1", &[note("mine")]).await.events;
    let page: EventPage =
        tokio::time::timeout(PATIENCE, poll).await.unwrap().unwrap().unwrap().json().await.unwrap();
    assert_eq!(page.events, mine);
    // wait=0 answers at once, even when empty.
    let page: EventPage = s.get_json("/api/v1/events?after=100&wait=0").await;
    assert!(page.events.is_empty());
    assert_eq!(page.last_seq, 5);
}

#[tokio::test]
async fn concurrent_appenders_give_a_gap_free_log() {
    let s = Arc::new(server().await);
    let mut tasks = Vec::new();
    for t in 0..4 {
        let inc = s.declare().await.incident;
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                s.append_ok(&s.scribe, &inc, &[note(&format!("task {t} event {i}"))]).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut all = Vec::new();
    let mut after = 0;
    for _ in 0..100 {
        let page: EventPage = s.get_json(&format!("/api/v1/events?after={after}&limit=37")).await;
        let Some(last) = page.events.last() else { break };
        assert!(last.seq > after, "the cursor must advance");
        after = last.seq;
        all.extend(page.events);
    }
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=204).collect::<Vec<_>>());
    let ids: std::collections::HashSet<_> = all.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 204);
}

#[tokio::test]
async fn a_restart_keeps_everything() {
    let mut s = server().await;
    s.declare().await;
    s.append_ok(&s.scribe, "INC-1", &[note("before restart")]).await;
    let before: IncidentSnapshot = s.get_json("/api/v1/incidents/INC-1?events=true").await;
    // Shut down with a stream open: it must end, not hold the shutdown.
    let _open = s.stream(0, false).await;
    s.running.take().unwrap().shutdown().await.unwrap();
    drop(std::mem::replace(&mut s.store, server::open_store("sqlite::memory:").await.unwrap()));

    let store = server::open_store(&s.url).await.unwrap();
    let running = server::start(options(), store).await.unwrap();
    s.base = format!("http://{}", running.addr);
    s.running = Some(running);
    let after: IncidentSnapshot = s.get_json("/api/v1/incidents/INC-1?events=true").await;
    assert_eq!(after, before);
    let more = s.append_ok(&s.scribe, "INC-1", &[note("after restart")]).await;
    assert_eq!(more.events[0].seq, 3);
    assert_eq!(s.declare().await.incident, "INC-2");
    // Old tokens still work; a resumed stream continues from the stored log.
    let mut resumed = s.stream(2, true).await;
    assert_eq!(take(&mut resumed, 1).await, more.events);
}

#[tokio::test]
async fn openapi_document_covers_every_endpoint() {
    let s = server().await;
    let doc: Value = s.get_json("/api/v1/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/healthz",
        "/api/v1/incidents",
        "/api/v1/incidents/{id}",
        "/api/v1/incidents/{id}/events",
        "/api/v1/events",
        "/api/v1/stream",
        "/api/v1/practice",
        "/api/v1/me",
        "/api/v1/openapi.json",
    ] {
        assert!(paths.contains_key(p), "missing {p}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    let practice: warroom::domain::Practice = s.get_json("/api/v1/practice").await;
    assert_eq!(practice.scheme().id, "sev");
}
