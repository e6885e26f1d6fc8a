//! Notifications under faults: a target answering 500 then 200, a 429 with Retry-After, a
//! target stalling past the timeout, a target that never recovers (the horizon), kill -9 of the
//! real `warroom serve` with deliveries pending, and two replicas on PostgreSQL (each delivery
//! made by one, a dead replica's lease taken over). The checker: every due delivery arrived,
//! and any repeat carries the same idempotency key (webhook-id).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warroom::api::Role;
use warroom::domain::{EventBody, NewEvent};
use warroom::server::{self, Limits, ServeOptions};

use crate::bin_support::serve_in;
use crate::notify::{
    FAST, PATIENCE, Receiver, append, comms, declare, load_config, python_has, serve, wait_deliveries,
};
use crate::pg_support::{SERIAL, pg_url};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn hook_config(fast: &str, url: &str) -> String {
    format!(
        "{fast}
[[serve.notify.targets]]
name = \"hook\"
kind = \"webhook\"
url = \"{url}/in\"
secret = \"{SECRET}\"

[[serve.notify.routes]]
on = [\"declared\", \"comms_sent\"]
targets = [\"hook\"]
"
    )
}

fn failed(d: &[EventBody]) -> Vec<&EventBody> {
    d.iter().filter(|b| matches!(b, EventBody::Delivery { ok: false, .. })).collect()
}

fn ok_count(d: &[EventBody]) -> usize {
    d.iter().filter(|b| matches!(b, EventBody::Delivery { ok: true, .. })).count()
}

/// Requests by webhook-id; each verified by the reference library.
fn by_id(got: &[Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in got {
        assert_eq!(r["verified"], true, "{r:#?}");
        *m.entry(r["headers"]["webhook-id"].as_str().unwrap().to_string()).or_insert(0) += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_then_200_is_retried_under_the_same_webhook_id() {
    if !python_has(&["standardwebhooks"], "a_500_then_200_is_retried_under_the_same_webhook_id") {
        return;
    }
    let hook = Receiver::http("500,200", Some(SECRET));
    let s = serve(&hook_config(FAST, &hook.url())).await;
    let inc = declare(&s.store, "SEV-2", "Checkout slow").await;
    let got = hook.wait_for(2, "the retry").await;
    assert_eq!(got[0]["headers"]["webhook-id"], got[1]["headers"]["webhook-id"]);
    assert_eq!(got[0]["body"], got[1]["body"], "a retry sends the same message");
    let d = wait_deliveries(&s.store, &inc, "ok after 500", |d| ok_count(d) == 1).await;
    match &d[..] {
        [
            EventBody::Delivery {
                ok: false,
                status: Some(500),
                attempt: 1,
                retry_in_secs: Some(_),
                gave_up: false,
                ..
            },
            EventBody::Delivery { ok: true, status: Some(200), attempt: 2, .. },
        ] => {}
        other => panic!("{other:#?}"),
    }
    assert!(d[0].summary().starts_with("\u{2715} hook: 500"), "{}", d[0].summary());
    assert!(d[0].summary().contains("retrying in"), "{}", d[0].summary());
    // /metrics counts each attempt by target and outcome.
    let token = s.token(Role::Viewer).to_string();
    let text = s.get("/metrics", &token).await.text().await.unwrap();
    let count = |outcome: &str| {
        text.lines()
            .find(|l| {
                l.starts_with("warroom_deliveries_total{")
                    && l.contains("target=\"hook\"")
                    && l.contains(&format!("outcome=\"{outcome}\""))
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
    };
    assert_eq!((count("failed"), count("delivered")), (Some(1.0), Some(1.0)), "{text}");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_retry_after_is_honoured() {
    if !python_has(&["standardwebhooks"], "a_429_retry_after_is_honoured") {
        return;
    }
    let hook = Receiver::http("429:2,200", Some(SECRET));
    let s = serve(&hook_config(FAST, &hook.url())).await;
    let inc = declare(&s.store, "SEV-2", "Checkout slow").await;
    let got = hook.wait_for(2, "after Retry-After").await;
    let waited = got[1]["t"].as_f64().unwrap() - got[0]["t"].as_f64().unwrap();
    // The backoff alone would wait about 0.3 s.
    assert!(waited >= 1.95, "retried after {waited:.2}s despite Retry-After: 2");
    let d = wait_deliveries(&s.store, &inc, "ok after 429", |d| ok_count(d) == 1).await;
    assert!(matches!(&d[0], EventBody::Delivery { status: Some(429), retry_in_secs: Some(2), .. }), "{d:#?}");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalling_target_times_out_and_holds_up_no_other() {
    if !python_has(&["standardwebhooks"], "a_stalling_target_times_out_and_holds_up_no_other") {
        return;
    }
    let stall = Receiver::http("stall:20", None);
    let fast = Receiver::http("200", Some(SECRET));
    let config = format!(
        "[serve.notify]\npoll_ms = 50\nscan_secs = 0.2\nbackoff_base_ms = 300\ntimeout_secs = 3\nlease_secs = 5\n
[[serve.notify.targets]]
name = \"stuck\"
kind = \"slack\"
url = \"{}/hook\"

[[serve.notify.targets]]
name = \"hook\"
kind = \"webhook\"
url = \"{}/in\"
secret = \"{SECRET}\"

[[serve.notify.routes]]
on = [\"declared\", \"comms_sent\"]
targets = [\"stuck\", \"hook\"]
",
        stall.url(),
        fast.url()
    );
    let s = serve(&config).await;
    let inc = declare(&s.store, "SEV-1", "Checkout down").await;
    append(&s.store, &inc, comms("first update")).await;
    append(&s.store, &inc, comms("second update")).await;
    // The healthy target gets all three while the stuck one is still on its first.
    fast.wait_for(3, "the healthy target").await;
    let d = wait_deliveries(&s.store, &inc, "the stuck one times out", |d| !failed(d).is_empty()).await;
    let first_fail = d.iter().position(|b| matches!(b, EventBody::Delivery { ok: false, .. })).unwrap();
    assert_eq!(
        d[..first_fail]
            .iter()
            .filter(|b| matches!(b, EventBody::Delivery { ok: true, target, .. } if target == "hook"))
            .count(),
        3,
        "{d:#?}"
    );
    match failed(&d)[0] {
        EventBody::Delivery { target, status: None, error, retry_in_secs: Some(_), .. } => {
            assert_eq!(target, "stuck");
            assert_eq!(error, "timed out after 3s");
        }
        other => panic!("{other:#?}"),
    }
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_never_recovers_is_given_up_at_the_horizon() {
    if !python_has(&["standardwebhooks"], "a_target_that_never_recovers_is_given_up_at_the_horizon") {
        return;
    }
    let hook = Receiver::http("503", Some(SECRET));
    let fast = format!("{FAST}give_up_after_secs = 1\n");
    let s = serve(&hook_config(&fast, &hook.url())).await;
    let inc = declare(&s.store, "SEV-3", "Flaky reports").await;
    let d = wait_deliveries(&s.store, &inc, "given up", |d| {
        d.iter().any(|b| matches!(b, EventBody::Delivery { gave_up: true, .. }))
    })
    .await;
    let last = d.last().unwrap();
    assert!(last.summary().contains("gave up after"), "{}", last.summary());
    let n = hook.got().len();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(hook.got().len(), n, "no attempt after giving up");
    let deadline = Instant::now() + PATIENCE;
    while s.store.delivery_queue().unwrap().rows().await.unwrap()[0].state != "failed" {
        assert!(Instant::now() < deadline, "the row was never marked failed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.shutdown().await;
}

async fn post(http: &reqwest::Client, url: &str, token: &str, body: &Value) -> Value {
    let res = http.post(url).bearer_auth(token).json(body).send().await.unwrap();
    assert!(res.status().is_success(), "{url}: {}", res.status());
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_deliveries_pending_delivers_them_all_after_the_restart() {
    if !python_has(
        &["standardwebhooks"],
        "kill_9_with_deliveries_pending_delivers_them_all_after_the_restart",
    ) {
        return;
    }
    // The first attempt stalls past the 2 s timeout: the server is mid-attempt with four more
    // queued behind it when it is killed.
    let hook = Receiver::http("stall:4,200", Some(SECRET));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    std::fs::create_dir_all(data.join("config")).unwrap();
    std::fs::write(data.join("config/config.toml"), hook_config(FAST, &hook.url())).unwrap();
    let db = format!("sqlite://{}", data.join("warroom.db").display());
    let token = {
        let store = server::open_store(&db).await.unwrap();
        server::tokens::create(&*store, "ic", Role::Admin).await.unwrap()
    };
    let (mut first, base) = serve_in(&data, "127.0.0.1:0", &[]);
    let http = crate::server_support::client();
    let declared = NewEvent::now(EventBody::Declared {
        title: "Checkout down".into(),
        severity: "SEV-1".into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    });
    let res = post(&http, &format!("{base}/api/v1/incidents"), &token, &json!(declared)).await;
    let inc = res["incident"].as_str().unwrap().to_string();
    let mut expected: BTreeSet<String> = BTreeSet::new();
    expected.insert(format!("msg_{}_hook", declared.id.simple()));
    hook.wait_for(1, "the first attempt").await;
    for i in 0..4 {
        let e = NewEvent::now(comms(&format!("update {i}")));
        expected.insert(format!("msg_{}_hook", e.id.simple()));
        post(&http, &format!("{base}/api/v1/incidents/{inc}/events"), &token, &json!(e)).await;
    }
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    drop(first);

    let (_second, base) = serve_in(&data, "127.0.0.1:0", &[]);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let ids = by_id(&hook.got());
        if ids.keys().cloned().collect::<BTreeSet<_>>() == expected {
            // Only the attempt in flight at the kill may arrive twice, under its own id.
            let repeats: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
            assert!(repeats.len() <= 1, "{repeats:?}");
            break;
        }
        assert!(Instant::now() < deadline, "delivered {:?}, expected {expected:?}", ids.keys());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And every delivery is in the log, recorded by the restarted server.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let snap: Value = http
            .get(format!("{base}/api/v1/incidents/{inc}?events=true"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let oks = snap["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "delivery" && e["ok"] == true)
            .count();
        if oks >= 5 {
            break;
        }
        assert!(Instant::now() < deadline, "{oks} ok deliveries recorded: {snap:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_deliver_each_message_exactly_once() {
    if !python_has(&["standardwebhooks"], "two_replicas_deliver_each_message_exactly_once") {
        return;
    }
    let Some(url) = pg_url() else { return };
    let _g = SERIAL.lock().await;
    server::postgres::PgStore::reset(&url).await.unwrap();
    let hook = Receiver::http("200", Some(SECRET));
    let cfg = load_config(&hook_config(FAST, &hook.url())).unwrap();
    let opts = || ServeOptions {
        notify: cfg.serve.notify.clone(),
        ..crate::server_support::options(Limits::unlimited())
    };
    // Writes go through both replicas' stores (where each server installed its planner).
    let (store_a, store_b) =
        (server::open_store(&url).await.unwrap(), server::open_store(&url).await.unwrap());
    let a = server::start(opts(), store_a.clone()).await.unwrap();
    let b = server::start(opts(), store_b.clone()).await.unwrap();
    let store = store_a.clone();
    let mut incidents = Vec::new();
    for i in 0..6 {
        let via = if i % 2 == 0 { &store_a } else { &store_b };
        let inc = declare(via, "SEV-2", &format!("Incident {i}")).await;
        for j in 0..3 {
            append(via, &inc, comms(&format!("update {j}"))).await;
        }
        incidents.push(inc);
    }
    let got = hook.wait_for(24, "24 deliveries").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids = by_id(&hook.got());
    assert_eq!(ids.len(), 24, "{ids:?}");
    assert!(ids.values().all(|n| *n == 1), "a message delivered twice: {ids:?}");
    assert_eq!(got.len(), 24);
    for inc in &incidents {
        wait_deliveries(&store, inc, "4 recorded", |d| ok_count(d) == 4).await;
    }
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_replicas_lease_is_taken_over_on_postgres() {
    if !python_has(&["standardwebhooks"], "a_dead_replicas_lease_is_taken_over_on_postgres") {
        return;
    }
    let Some(url) = pg_url() else { return };
    let _g = SERIAL.lock().await;
    server::postgres::PgStore::reset(&url).await.unwrap();
    // Replica A takes the delivery and stalls on it; it is killed mid-attempt; B takes over
    // once A's lease (5 s) expires.
    let hook = Receiver::http("stall:30,200", Some(SECRET));
    let dir = tempfile::tempdir().unwrap();
    let data_a = dir.path().join("a");
    let data_b = dir.path().join("b");
    let slow = FAST.replace("timeout_secs = 2", "timeout_secs = 4");
    for d in [&data_a, &data_b] {
        std::fs::create_dir_all(d.join("config")).unwrap();
        std::fs::write(d.join("config/config.toml"), hook_config(&slow, &hook.url())).unwrap();
    }
    let store = server::open_store(&url).await.unwrap();
    let token = server::tokens::create(&*store, "ic", Role::Admin).await.unwrap();
    let (mut a, base_a) = serve_in(&data_a, "127.0.0.1:0", &["--db", &url]);
    let declared = NewEvent::now(EventBody::Declared {
        title: "Checkout down".into(),
        severity: "SEV-1".into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    });
    let http = crate::server_support::client();
    let res = post(&http, &format!("{base_a}/api/v1/incidents"), &token, &json!(declared)).await;
    let inc = res["incident"].as_str().unwrap().to_string();
    hook.wait_for(1, "A's attempt").await;
    let (_b, _) = serve_in(&data_b, "127.0.0.1:0", &["--db", &url]);
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    let got = hook.wait_for(2, "B's attempt").await;
    assert_eq!(got[0]["headers"]["webhook-id"], got[1]["headers"]["webhook-id"]);
    let d = wait_deliveries(&store, &inc, "B's delivery recorded", |d| ok_count(d) == 1).await;
    assert!(matches!(d.last().unwrap(), EventBody::Delivery { ok: true, attempt: 2, .. }), "{d:#?}");
    // The row is finished right after the event is recorded.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let rows = store.delivery_queue().unwrap().rows().await.unwrap();
        assert_eq!(rows.len(), 1);
        if rows[0].state == "delivered" {
            break;
        }
        assert!(Instant::now() < deadline, "{rows:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_escalate_an_incident_once() {
    if !python_has(&["json"], "two_replicas_escalate_an_incident_once") {
        return;
    }
    let Some(url) = pg_url() else { return };
    let _g = SERIAL.lock().await;
    server::postgres::PgStore::reset(&url).await.unwrap();
    let pager = Receiver::http("202", None);
    let cfg = load_config(&format!(
        "{FAST}\n[[serve.notify.targets]]\nname = \"on-call\"\nkind = \"pagerduty\"\nurl = \"{}/v2/enqueue\"\nrouting_key = \"K\"\n",
        pager.url()
    ))
    .unwrap();
    let opts = || ServeOptions {
        notify: cfg.serve.notify.clone(),
        ..crate::server_support::options(Limits::unlimited())
    };
    let (store_a, store_b) =
        (server::open_store(&url).await.unwrap(), server::open_store(&url).await.unwrap());
    let a = server::start(opts(), store_a.clone()).await.unwrap();
    let b = server::start(opts(), store_b.clone()).await.unwrap();
    let mut incidents = Vec::new();
    for i in 0..4 {
        let via = if i % 2 == 0 { &store_a } else { &store_b };
        incidents.push(declare(via, "SEV-2", &format!("Incident {i}")).await);
    }
    // Per incident: the declaration (the level's notify_targets) and L1, each once.
    pager.wait_for(8, "8 pages").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = pager.got();
    assert_eq!(got.len(), 8, "{got:#?}");
    for inc in &incidents {
        let snap = store_a.incident(inc, true).await.unwrap().unwrap();
        let n = snap.events.unwrap().iter().filter(|e| matches!(e.body, EventBody::Escalated { .. })).count();
        assert_eq!(n, 1, "{inc}");
    }
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

/// A graceful stop (SIGTERM) of the real `warroom serve` gives back the lease of the attempt in
/// flight: the restarted server sends it again at once, under the same webhook-id, not after
/// `lease_secs` (60 s here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_the_leases_so_a_restart_delivers_at_once() {
    if !python_has(&["standardwebhooks"], "sigterm_releases_the_leases_so_a_restart_delivers_at_once") {
        return;
    }
    // The first attempt stalls (the server is mid-attempt when it is stopped); later ones pass.
    let hook = Receiver::http("stall:50,200", Some(SECRET));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    std::fs::create_dir_all(data.join("config")).unwrap();
    let slow = "[serve.notify]\npoll_ms = 50\nscan_secs = 0.2\nbackoff_base_ms = 300\ntimeout_secs = 30\nlease_secs = 60\n";
    std::fs::write(data.join("config/config.toml"), hook_config(slow, &hook.url())).unwrap();
    let db = format!("sqlite://{}", data.join("warroom.db").display());
    let token = {
        let store = server::open_store(&db).await.unwrap();
        server::tokens::create(&*store, "ic", Role::Admin).await.unwrap()
    };
    let (mut first, base) = serve_in(&data, "127.0.0.1:0", &[]);
    let http = crate::server_support::client();
    let declared = NewEvent::now(EventBody::Declared {
        title: "Checkout down".into(),
        severity: "SEV-1".into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    });
    post(&http, &format!("{base}/api/v1/incidents"), &token, &json!(declared)).await;
    hook.wait_for(1, "the first attempt").await;
    let pid = nix::unistd::Pid::from_raw(first.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let stopped = Instant::now();
    loop {
        if first.0.try_wait().unwrap().is_some() {
            break;
        }
        assert!(stopped.elapsed() < Duration::from_secs(15), "serve did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(first);
    let restarted = Instant::now();
    let (_second, _) = serve_in(&data, "127.0.0.1:0", &[]);
    // Well inside the 60 s lease: only a released row is due this soon.
    let got = hook.wait_for(2, "the attempt again after the restart").await;
    assert!(
        restarted.elapsed() < Duration::from_secs(20),
        "redelivered {:?} after the restart",
        restarted.elapsed()
    );
    let ids = by_id(&got);
    assert_eq!(ids.len(), 1, "the same message under the same webhook-id: {ids:?}");
    assert_eq!(ids.keys().next().unwrap(), &format!("msg_{}_hook", declared.id.simple()));
}

/// Finished rows (delivered, and given up: kept for inspection) are deleted once past the
/// retention, counted from when they were queued; a pending row is kept whatever its age.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_deliveries_are_pruned_after_the_retention() {
    if !python_has(&["standardwebhooks"], "finished_deliveries_are_pruned_after_the_retention") {
        return;
    }
    let hook = Receiver::http("200", Some(SECRET));
    let dead = Receiver::http("503", None);
    let cfg = format!(
        "{FAST}give_up_after_secs = 1\nretention_secs = 6\n
[[serve.notify.targets]]
name = \"hook\"
kind = \"webhook\"
url = \"{}/in\"
secret = \"{SECRET}\"

[[serve.notify.targets]]
name = \"dead\"
kind = \"slack\"
url = \"{}/in\"

[[serve.notify.routes]]
on = [\"declared\"]
targets = [\"hook\", \"dead\"]
",
        hook.url(),
        dead.url()
    );
    let s = serve(&cfg).await;
    let queued = Instant::now();
    declare(&s.store, "SEV-3", "Flaky reports").await;
    let q = s.store.delivery_queue().unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut states: Vec<_> = q.rows().await.unwrap().into_iter().map(|r| (r.target, r.state)).collect();
        states.sort();
        if states == [("dead".into(), "failed".into()), ("hook".into(), "delivered".into())] {
            break;
        }
        assert!(Instant::now() < deadline, "rows: {states:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(queued.elapsed() < Duration::from_secs(5), "finishing took {:?}", queued.elapsed());
    // Kept for inspection until the retention passes, then gone.
    let deadline = Instant::now() + PATIENCE;
    while !q.rows().await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "never pruned: {:?}", q.rows().await.unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(queued.elapsed() >= Duration::from_secs(6), "pruned after {:?}", queued.elapsed());
    s.shutdown().await;

    // A pending row is never pruned.
    let dir = tempfile::tempdir().unwrap();
    let store = server::open_store(&format!("sqlite://{}", dir.path().join("w.db").display())).await.unwrap();
    let q = store.delivery_queue().unwrap();
    let old = chrono::Utc::now() - chrono::Duration::days(30);
    let row = warroom::server::queue::NewDelivery {
        key: "old/hook".into(),
        incident: "INC-1".into(),
        event_id: uuid::Uuid::now_v7(),
        target: "hook".into(),
        payload: "{}".into(),
        due_at: old,
    };
    assert_eq!(q.enqueue(&[row]).await.unwrap(), 1);
    assert_eq!(q.prune(chrono::Utc::now() + chrono::Duration::days(1)).await.unwrap(), 0);
    assert_eq!(q.rows().await.unwrap().len(), 1);
}

/// kill -9 after a send succeeded but before its row was finished (a fault point of test
/// builds: the server kills itself with SIGKILL right after a 2xx): after the restart the
/// message goes out again under the SAME idempotency key (webhook-id, Matrix txnId, PagerDuty
/// dedup_key with the same body), so each receiver can drop the repeat. The checker: per
/// receiver one idempotency key per message, every copy under it identical.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_a_send_repeats_it_under_the_same_idempotency_key() {
    if !python_has(&["standardwebhooks"], "kill_9_after_a_send_repeats_it_under_the_same_idempotency_key") {
        return;
    }
    let (hook, matrix, pager) =
        (Receiver::http("200", Some(SECRET)), Receiver::http("200", None), Receiver::http("202", None));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    std::fs::create_dir_all(data.join("config")).unwrap();
    let cfg = format!(
        "{FAST}
[[serve.notify.targets]]
name = \"hook\"
kind = \"webhook\"
url = \"{}/in\"
secret = \"{SECRET}\"

[[serve.notify.targets]]
name = \"matrix\"
kind = \"matrix\"
url = \"{}\"
room = \"!ops:example.org\"
token = \"syt_test_token\"

[[serve.notify.targets]]
name = \"pager\"
kind = \"pagerduty\"
url = \"{}/v2/enqueue\"
routing_key = \"R0UTING\"

[[serve.notify.routes]]
on = [\"declared\"]
targets = [\"hook\", \"matrix\", \"pager\"]
",
        hook.url(),
        matrix.url(),
        pager.url()
    );
    std::fs::write(data.join("config/config.toml"), cfg).unwrap();
    let db = format!("sqlite://{}", data.join("warroom.db").display());
    let token = {
        let store = server::open_store(&db).await.unwrap();
        server::tokens::create(&*store, "ic", Role::Admin).await.unwrap()
    };
    // The first server dies at its first successful send.
    let mut first = std::process::Command::new(crate::bin_support::BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("WARROOM_DATA_DIR", &data)
        .env("WARROOM_CONFIG_DIR", data.join("config"))
        .env("WARROOM_TEST_KILL_AFTER_SEND", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(first.stdout.take().unwrap()), &mut line)
        .unwrap();
    let base = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();
    let http = crate::server_support::client();
    let declared = NewEvent::now(EventBody::Declared {
        title: "Checkout down".into(),
        severity: "SEV-1".into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    });
    post(&http, &format!("{base}/api/v1/incidents"), &token, &json!(declared)).await;
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(s) = first.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the fault point never fired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success(), "killed, not exited: {status:?}");
    let before = hook.got().len() + matrix.got().len() + pager.got().len();
    assert!(before >= 1, "a send succeeded before the kill");

    let (_second, _) = serve_in(&data, "127.0.0.1:0", &[]);
    // Every receiver has the message, and the ones sent before the kill have it twice.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (h, m, p) = (hook.got().len(), matrix.got().len(), pager.got().len());
        if h >= 1 && m >= 1 && p >= 1 && h + m + p >= 3 + before {
            break;
        }
        assert!(Instant::now() < deadline, "hook {h}, matrix {m}, pager {p}; {before} before the kill");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The checker: per receiver, its idempotency key -> the copies' bodies.
    let keyed = |got: Vec<Value>, key: &dyn Fn(&Value) -> String| {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in &got {
            m.entry(key(r)).or_default().insert(r["body"].as_str().unwrap().to_string());
        }
        (got.len(), m)
    };
    let checks = [
        ("hook", keyed(hook.got(), &|r| r["headers"]["webhook-id"].as_str().unwrap().to_string())),
        (
            "matrix",
            keyed(matrix.got(), &|r| r["path"].as_str().unwrap().rsplit('/').next().unwrap().to_string()),
        ),
        (
            "pager",
            keyed(pager.got(), &|r| {
                let b: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
                b["dedup_key"].as_str().unwrap().to_string()
            }),
        ),
    ];
    let mut repeated = 0;
    for (name, (n, by_key)) in &checks {
        assert_eq!(by_key.len(), 1, "{name}: one message, one idempotency key: {by_key:#?}");
        for (key, bodies) in by_key {
            assert_eq!(bodies.len(), 1, "{name}: every copy under {key} is the same message: {bodies:#?}");
        }
        repeated += n - 1;
    }
    assert!(repeated >= 1, "the message sent before the kill went out again: {checks:#?}");
    assert_eq!(by_id(&hook.got()).len(), 1);
    assert_eq!(
        checks[1].1.1.keys().next().unwrap(),
        &format!("{}_matrix", declared.id.simple()),
        "the Matrix txnId derives from the event and the target"
    );
}

/// The worker records a round's results together: `finish_many` ends every row `owner` still
/// holds (in one transaction on SQLite) and says which it no longer held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rounds_results_are_finished_together_if_still_held() {
    let dir = tempfile::tempdir().unwrap();
    finish_many_on(&format!("sqlite://{}", dir.path().join("w.db").display())).await;
    // And on PostgreSQL, when a test database is configured.
    let Some(url) = pg_url() else { return };
    let _g = SERIAL.lock().await;
    server::postgres::PgStore::reset(&url).await.unwrap();
    finish_many_on(&url).await;
}

async fn finish_many_on(db: &str) {
    use warroom::server::queue::{Finish, NewDelivery};
    let store = server::open_store(db).await.unwrap();
    let q = store.delivery_queue().unwrap();
    let now = chrono::Utc::now();
    let row = |t: &str| NewDelivery {
        key: format!("e/{t}"),
        incident: "INC-1".into(),
        event_id: uuid::Uuid::now_v7(),
        target: t.into(),
        payload: "{}".into(),
        due_at: now,
    };
    assert_eq!(q.enqueue(&[row("a"), row("b"), row("c")]).await.unwrap(), 3);
    let leased = q.lease("w1", now, now + chrono::Duration::seconds(60), 10, &[]).await.unwrap();
    assert_eq!(leased.len(), 3);
    // c's lease is lost (released, as by a graceful stop): w1 may no longer finish it.
    let (a, b, c) = (leased[0].id, leased[1].id, leased[2].id);
    q.release("w1").await.unwrap();
    let again = q.lease("w1", now, now + chrono::Duration::seconds(60), 2, &["c".into()]).await.unwrap();
    assert_eq!(again.len(), 2);
    let held = q
        .finish_many(
            "w1",
            vec![
                (a, Finish::Delivered { status: Some(200) }),
                (b, Finish::GaveUp { status: Some(404), error: "Not Found".into() }),
                (c, Finish::Delivered { status: Some(200) }),
            ],
        )
        .await
        .unwrap();
    assert_eq!(held, [true, true, false]);
    let states: Vec<_> =
        q.rows().await.unwrap().into_iter().map(|r| (r.target, r.state, r.lease_owner)).collect();
    assert_eq!(
        states,
        [
            ("a".into(), "delivered".into(), None),
            ("b".into(), "failed".into(), None),
            ("c".into(), "pending".into(), None)
        ]
    );
}
