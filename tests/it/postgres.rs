//! PostgreSQL: the same API on `warroom serve --db postgres://...`, and several replicas on one
//! database. Needs a server: set `WARROOM_TEST_PG` to a URL of a database the tests may wipe
//! (`.ci/run` starts one). Without it every test here says loudly that it did not run; with
//! `WARROOM_REQUIRE_PG=1` (set by CI) a missing server fails instead.

use crate::pg_support::{SERIAL, pg_url};
use crate::server_support::{self, client as http};

use std::collections::BTreeSet;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::StreamExt;

use warroom::api::{AppendResponse, IncidentSnapshot, Role};
use warroom::domain::{Event, EventBody, EventKind, NewEvent};
use warroom::server::{self, Running, ServeOptions};

/// Guards against a hang; never a performance assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// The test server's options, without rate limits.
fn options() -> ServeOptions {
    server_support::options(server::Limits::unlimited())
}

/// A clean database and `n` replicas on it, plus a commander token.
async fn replicas(url: &str, n: usize) -> (Vec<Running>, String) {
    server::postgres::PgStore::reset(url).await.unwrap();
    let store = server::open_store(url).await.unwrap();
    let token = server::tokens::create(&*store, "ic", Role::Commander).await.unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        // Each replica opens its own pool, as separate processes would.
        let store = server::open_store(url).await.unwrap();
        out.push(server::start(options(), store).await.unwrap());
    }
    (out, token)
}

async fn declare(c: &reqwest::Client, base: &str, token: &str) -> String {
    let ev = NewEvent::now(EventBody::Declared {
        title: "Checkout API latency".into(),
        severity: "SEV-2".into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    });
    let r = c.post(format!("{base}/api/v1/incidents")).bearer_auth(token).json(&ev).send().await.unwrap();
    assert!(r.status().is_success(), "declare: {}", r.status());
    r.json::<AppendResponse>().await.unwrap().incident
}

async fn append(c: &reqwest::Client, base: &str, token: &str, inc: &str, ev: &NewEvent) -> AppendResponse {
    let r = c
        .post(format!("{base}/api/v1/incidents/{inc}/events"))
        .bearer_auth(token)
        .json(ev)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "append: {} {}", r.status(), r.text().await.unwrap_or_default());
    r.json().await.unwrap()
}

/// Reads `count` events from a replica's stream after `after`.
async fn collect(c: reqwest::Client, base: String, token: String, after: u64, count: usize) -> Vec<Event> {
    let r = c.get(format!("{base}/api/v1/stream?after={after}")).bearer_auth(token).send().await.unwrap();
    assert!(r.status().is_success());
    let mut s = r.bytes_stream().eventsource();
    let mut got = Vec::new();
    while got.len() < count {
        let ev = s.next().await.expect("stream ended").expect("stream error");
        if ev.event == "event" {
            got.push(serde_json::from_str::<Event>(&ev.data).unwrap());
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_api_on_postgres_with_idempotent_retry() {
    let Some(url) = pg_url() else { return };
    let _g = SERIAL.lock().await;
    let (reps, token) = replicas(&url, 1).await;
    let c = http();
    let base = format!("http://{}", reps[0].addr);
    let inc = declare(&c, &base, &token).await;
    assert_eq!(inc, "INC-1");
    // Nanosecond occurred_at: PostgreSQL keeps microseconds; a retry must still be a retry.
    let note = NewEvent::now(EventBody::entry(EventKind::Finding, "p99 at 6s since 14:02 deploy").unwrap());
    let first = append(&c, &base, &token, &inc, &note).await;
    let again = append(&c, &base, &token, &inc, &note).await;
    assert_eq!(first.events, again.events, "a retry returns the first result");
    let snap: IncidentSnapshot = c
        .get(format!("{base}/api/v1/incidents/{inc}?events=true"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events = snap.events.unwrap();
    assert_eq!(events.len(), 2, "declared + one finding, no duplicate");
    assert_eq!(events[1].id, note.id);
    assert_eq!(snap.incident.revision, 2);
    for r in reps {
        r.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_hammered_concurrently_stream_a_gap_free_sequence() {
    let Some(url) = pg_url() else { return };
    let _g = SERIAL.lock().await;
    let (reps, token) = replicas(&url, 2).await;
    let c = http();
    let bases: Vec<String> = reps.iter().map(|r| format!("http://{}", r.addr)).collect();
    let inc = declare(&c, &bases[0], &token).await;
    const WRITERS_PER_REPLICA: usize = 3;
    const EACH: usize = 40;
    let total = 2 * WRITERS_PER_REPLICA * EACH;

    // Readers on both replicas, from seq 1 (after the declare).
    let mut readers = Vec::new();
    for b in &bases {
        for _ in 0..2 {
            readers.push(tokio::spawn(collect(c.clone(), b.clone(), token.clone(), 1, total)));
        }
    }
    // Writers on both replicas at once.
    let mut writers = Vec::new();
    for (r, b) in bases.iter().enumerate() {
        for w in 0..WRITERS_PER_REPLICA {
            let (c, b, token, inc) = (c.clone(), b.clone(), token.clone(), inc.clone());
            writers.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..EACH {
                    let ev =
                        NewEvent::now(EventBody::entry(EventKind::Note, format!("r{r} w{w} #{i}")).unwrap());
                    append(&c, &b, &token, &inc, &ev).await;
                    ids.push(ev.id);
                }
                ids
            }));
        }
    }
    let mut written = BTreeSet::new();
    for w in writers {
        written.extend(tokio::time::timeout(PATIENCE, w).await.unwrap().unwrap());
    }
    assert_eq!(written.len(), total);
    for r in readers {
        let got = tokio::time::timeout(PATIENCE, r).await.expect("a reader hung").unwrap();
        let seqs: Vec<u64> = got.iter().map(|e| e.seq).collect();
        let expected: Vec<u64> = (2..2 + total as u64).collect();
        assert_eq!(seqs, expected, "every reader sees seq 2..={} in order, no gap, no repeat", total + 1);
        let ids: BTreeSet<_> = got.iter().map(|e| e.id).collect();
        assert_eq!(ids, written, "every acknowledged write reached every reader");
    }
    for r in reps {
        r.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_on_one_replica_reaches_a_stream_on_the_other() {
    let Some(url) = pg_url() else { return };
    let _g = SERIAL.lock().await;
    let (reps, token) = replicas(&url, 2).await;
    let c = http();
    let (a, b) = (format!("http://{}", reps[0].addr), format!("http://{}", reps[1].addr));
    let inc = declare(&c, &a, &token).await;
    let reader = tokio::spawn(collect(c.clone(), b.clone(), token.clone(), 1, 1));
    let ev = NewEvent::now(EventBody::entry(EventKind::Decision, "roll back 14:02 deploy").unwrap());
    append(&c, &a, &token, &inc, &ev).await;
    let got = tokio::time::timeout(PATIENCE, reader).await.unwrap().unwrap();
    assert_eq!(got[0].id, ev.id);
    for r in reps {
        r.shutdown().await.unwrap();
    }
}

/// A token revoked through one replica's API stops working on the other replica, which had
/// just accepted it (and remembers who it is): the revocation's notification tells it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_revoked_on_one_replica_is_refused_by_the_other() {
    let Some(url) = pg_url() else { return };
    let _g = SERIAL.lock().await;
    let (reps, _ic) = replicas(&url, 2).await;
    let store = server::open_store(&url).await.unwrap();
    let admin = server::tokens::create(&*store, "admin", Role::Admin).await.unwrap();
    let pager = server::tokens::create(&*store, "pager", Role::Responder).await.unwrap();
    let c = http();
    let (a, b) = (format!("http://{}", reps[0].addr), format!("http://{}", reps[1].addr));
    let inc = declare(&c, &b, &pager).await;
    let list = |token: String| {
        let (c, b) = (c.clone(), b.clone());
        async move { c.get(format!("{b}/api/v1/incidents")).bearer_auth(token).send().await.unwrap().status() }
    };
    assert_eq!(list(pager.clone()).await, reqwest::StatusCode::OK);
    let r = c.delete(format!("{a}/api/v1/tokens/pager")).bearer_auth(&admin).send().await.unwrap();
    assert!(r.status().is_success(), "revoke: {}", r.status());
    let deadline = std::time::Instant::now() + PATIENCE;
    while list(pager.clone()).await != reqwest::StatusCode::UNAUTHORIZED {
        assert!(std::time::Instant::now() < deadline, "replica B still accepts the revoked token");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ev = NewEvent::now(EventBody::entry(EventKind::Note, "after revocation").unwrap());
    let r = c
        .post(format!("{b}/api/v1/incidents/{inc}/events"))
        .bearer_auth(&pager)
        .json(&ev)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
    for r in reps {
        r.shutdown().await.unwrap();
    }
}
