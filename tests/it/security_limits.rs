//! Hostile volume: the per-token write rate limit (429 `rate_limited` with `Retry-After`), the
//! cap on open streams per token (429 `too_many_streams`), the body size limit (413) and text
//! length limits (422 `too_long`), all as JSON errors; limits set in `[serve.limits]` of the
//! config of a real `warroom serve`; and revocation ending open streams and long polls.
//! Limits are configured tiny so the tests are deterministic on a slow machine.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::bin_support::{Env, Server};
use crate::server_support::{self, Srv, expect_error, options, start};
use warroom::api::Role;
use warroom::domain::{EventBody, EventKind, NewEvent};
use warroom::server::Limits;

/// Guards against a hang; never a performance assertion.
const PATIENCE: Duration = Duration::from_secs(30);

fn note(text: &str) -> serde_json::Value {
    json!(NewEvent::now(EventBody::entry(EventKind::Note, text).unwrap()))
}

fn declared(title: &str) -> serde_json::Value {
    json!(NewEvent::now(EventBody::Declared {
        title: title.into(),
        severity: "SEV-2".into(),
        summary: String::new(),
        group_key: None,
        demo: false
    }))
}

async fn declare(s: &Srv, role: Role) -> String {
    let res = s.post("/api/v1/incidents", s.token(role), &declared("limits")).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<serde_json::Value>().await.unwrap()["incident"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn writes_over_the_per_token_rate_are_refused_with_retry_after() {
    // A burst of 3 and one write every 1000 s afterwards: the 4th write in a row is refused.
    let limits = Limits { writes_per_sec: 0.001, write_burst: 3, ..Limits::default() };
    let s = start(options(limits)).await;
    let id = declare(&s, Role::Scribe).await; // 1
    let path = format!("/api/v1/incidents/{id}/events");
    for i in 0..2 {
        let res = s.post(&path, s.token(Role::Scribe), &note(&format!("n{i}"))).await; // 2, 3
        assert_eq!(res.status(), StatusCode::OK);
    }
    let refused = note("one too many");
    let res = s.post(&path, s.token(Role::Scribe), &refused).await;
    let retry: u64 =
        res.headers().get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!(retry >= 1, "{retry}");
    let body = expect_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(body.message.contains("retry"), "{}", body.message);
    // Declares and webhook posts count too.
    let res = s.post("/api/v1/incidents", s.token(Role::Scribe), &declared("again")).await;
    expect_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Nothing of the refused write was recorded.
    let snap: serde_json::Value = s
        .get(&format!("{}?events=true", &path[..path.len() - 7]), s.token(Role::Viewer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(snap["events"].as_array().unwrap().len(), 3);
    // The limit is per token (everyone on a jump host shares one IP): another token writes.
    let res = s.post(&path, s.token(Role::Commander), &note("from the IC")).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Reads are not writes.
    for _ in 0..10 {
        assert_eq!(s.get("/api/v1/incidents", s.token(Role::Scribe)).await.status(), StatusCode::OK);
    }
    s.shutdown().await;
}

async fn open_stream(s: &Srv, token: &str) -> reqwest::Response {
    s.get("/api/v1/stream", token).await
}

#[tokio::test]
async fn open_streams_per_token_are_capped() {
    let limits = Limits { streams_per_token: 2, ..Limits::unlimited() };
    let s = start(options(limits)).await;
    let viewer = s.token(Role::Viewer).to_string();
    let mut a = open_stream(&s, &viewer).await;
    assert_eq!(a.status(), StatusCode::OK);
    assert!(String::from_utf8_lossy(&a.chunk().await.unwrap().unwrap()).contains("connected"));
    let b = open_stream(&s, &viewer).await;
    assert_eq!(b.status(), StatusCode::OK);
    let res = open_stream(&s, &viewer).await;
    assert!(res.headers().contains_key("retry-after"));
    let body = expect_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_streams").await;
    assert!(body.message.contains('2'), "{}", body.message);
    // Another token is not affected.
    assert_eq!(open_stream(&s, s.token(Role::Scribe)).await.status(), StatusCode::OK);
    // Closing a stream frees its slot (once the server notices the client left).
    drop(a);
    let freed = tokio::time::timeout(PATIENCE, async {
        loop {
            let res = open_stream(&s, &viewer).await;
            if res.status() == StatusCode::OK {
                return res;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("a closed stream's slot is freed");
    drop((b, freed));
    s.shutdown().await;
}

#[tokio::test]
async fn bodies_over_the_size_limit_and_over_long_texts_are_clear_4xx() {
    let s = start(options(Limits::unlimited())).await;
    let id = declare(&s, Role::Scribe).await;
    let path = format!("/api/v1/incidents/{id}/events");
    let huge = "x".repeat(warroom::server::DEFAULT_MAX_BODY_BYTES + 1);
    let res = s.post(&path, s.token(Role::Scribe), &note(&huge)).await;
    let body = expect_error(res, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    assert!(body.message.contains("1 MiB"));

    let long = "y".repeat(warroom::domain::incident::MAX_TEXT + 1);
    let res = s.post(&path, s.token(Role::Scribe), &note(&long)).await;
    let body = expect_error(res, StatusCode::UNPROCESSABLE_ENTITY, "too_long").await;
    assert!(body.message.contains("10000"), "{}", body.message);

    let title = "t".repeat(warroom::domain::incident::MAX_TITLE + 1);
    let res = s.post("/api/v1/incidents", s.token(Role::Scribe), &declared(&title)).await;
    expect_error(res, StatusCode::UNPROCESSABLE_ENTITY, "too_long").await;
    let res = s
        .post(
            &path,
            s.token(Role::Scribe),
            &json!({"kind": "title_changed", "title": title,
        "id": uuid::Uuid::now_v7(), "occurred_at": chrono::Utc::now()}),
        )
        .await;
    expect_error(res, StatusCode::UNPROCESSABLE_ENTITY, "too_long").await;

    // A long poll is at most 60 s: asking for more is a clear 400, not a silent clamp.
    let res = s.get("/api/v1/events?wait=61", s.token(Role::Viewer)).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    // A cursor past any possible seq (the store keeps seqs as i64) likewise.
    let res = s.get("/api/v1/events?after=9223372036854775808", s.token(Role::Viewer)).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    let res = s.get("/api/v1/stream?after=18446744073709551615", s.token(Role::Viewer)).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;

    // Exactly at the limit is fine.
    let res =
        s.post(&path, s.token(Role::Scribe), &note(&"z".repeat(warroom::domain::incident::MAX_TEXT))).await;
    assert_eq!(res.status(), StatusCode::OK);
    s.shutdown().await;
}

#[tokio::test]
async fn revoking_a_token_ends_its_open_streams() {
    let s = start(options(Limits::unlimited())).await;
    let id = declare(&s, Role::Scribe).await;
    let mut viewer = open_stream(&s, s.token(Role::Viewer)).await;
    let mut scribe = open_stream(&s, s.token(Role::Scribe)).await;
    assert_eq!(viewer.status(), StatusCode::OK);
    // Revoked the way `warroom token revoke` does it: straight in the store.
    warroom::server::tokens::revoke(&*s.store, "viewer").await.unwrap();
    // The viewer's stream ends (the server re-checks every 2 s)...
    let ended = tokio::time::timeout(PATIENCE, async {
        while let Some(chunk) = viewer.chunk().await.unwrap_or(None) {
            let _ = chunk;
        }
    })
    .await;
    assert!(ended.is_ok(), "the revoked token's stream did not end");
    // ...and it cannot open another one.
    let res = open_stream(&s, s.token(Role::Viewer)).await;
    expect_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // The scribe's stream lives on and still gets new events.
    let res =
        s.post(&format!("/api/v1/incidents/{id}/events"), s.token(Role::Scribe), &note("still here")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let seen = tokio::time::timeout(PATIENCE, async {
        let mut text = String::new();
        while let Some(chunk) = scribe.chunk().await.unwrap() {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains("still here") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(seen, Ok(true));
    s.shutdown().await;
}

#[tokio::test]
async fn revoking_a_token_ends_its_long_poll_with_401() {
    let s = start(options(Limits::unlimited())).await;
    declare(&s, Role::Scribe).await;
    let last: u64 = s.get("/healthz", s.token(Role::Viewer)).await.json::<serde_json::Value>().await.unwrap()
        ["last_seq"]
        .as_u64()
        .unwrap();
    // A long poll after the last event: nothing comes, so it would wait the full 60 s.
    let poll = s.req(
        reqwest::Method::GET,
        &format!("/api/v1/events?after={last}&wait=60"),
        Some(s.token(Role::Viewer)),
    );
    let started = Instant::now();
    let answer = tokio::spawn(async move { poll.send().await.unwrap() });
    // Let the request get past authentication and start waiting.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!answer.is_finished(), "the long poll answered before anything happened");
    warroom::server::tokens::revoke(&*s.store, "viewer").await.unwrap();
    let res = tokio::time::timeout(Duration::from_secs(50), answer)
        .await
        .expect("the revoked token's long poll ran out its wait")
        .unwrap();
    let took = started.elapsed();
    let body = expect_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(body.message.contains("revoked"), "{}", body.message);
    // The server re-checks every 2 s; 15 s is far below the 60 s wait even on a busy machine.
    assert!(took < Duration::from_secs(15), "the long poll ended only after {took:?}");
    // Another token's long poll is not affected: it still gets the next event.
    let poll = s.req(
        reqwest::Method::GET,
        &format!("/api/v1/events?after={last}&wait=60"),
        Some(s.token(Role::Responder)),
    );
    let answer = tokio::spawn(async move { poll.send().await.unwrap() });
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!answer.is_finished(), "a valid token's long poll ended without an event");
    let id = declare(&s, Role::Scribe).await;
    let res = tokio::time::timeout(PATIENCE, answer).await.unwrap().unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page: serde_json::Value = res.json().await.unwrap();
    assert_eq!(page["events"][0]["incident"], id.as_str(), "{page}");
    s.shutdown().await;
}

/// A real `warroom serve` started with this `config.toml`, its data in a temp dir.
struct Served {
    _server: Server,
    url: String,
    env: Env,
}

impl Served {
    fn with_config(config: &str) -> Self {
        let env = Env::new();
        std::fs::write(env.config.join("config.toml"), config).unwrap();
        let (child, url) = env.serve("127.0.0.1:0");
        Served { _server: Server(child), url, env }
    }

    /// `warroom token create` on the server host.
    fn token(&self, name: &str, role: &str) -> String {
        let (out, _) = self.env.ok(&["token", "create", "--name", name, "--role", role]);
        out.trim().to_string()
    }

    async fn post(
        &self,
        http: &reqwest::Client,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        http.post(format!("{}{path}", self.url)).bearer_auth(token).json(body).send().await.unwrap()
    }
}

#[tokio::test]
async fn limits_set_in_the_config_are_what_the_server_enforces() {
    let srv =
        Served::with_config("[serve.limits]\nwrites_per_sec = 1\nwrite_burst = 2\nmax_body_bytes = 8192\n");
    let commander = srv.token("ic", "commander");
    let scribe = srv.token("scribe", "scribe");
    let responder = srv.token("responder", "responder");
    let http = server_support::client();
    let res = srv.post(&http, "/api/v1/incidents", &commander, &declared("configured limits")).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<serde_json::Value>().await.unwrap()["incident"].as_str().unwrap().to_string();
    let path = format!("/api/v1/incidents/{id}/events");

    // Three quick writes with a burst of 2 (and 1 more per second): one is refused. They go
    // out together so that no second passes between them on a busy machine.
    let notes = [note("one"), note("two"), note("three")];
    let (a, b, c) = tokio::join!(
        srv.post(&http, &path, &scribe, &notes[0]),
        srv.post(&http, &path, &scribe, &notes[1]),
        srv.post(&http, &path, &scribe, &notes[2]),
    );
    let (refused, accepted): (Vec<_>, Vec<_>) =
        [a, b, c].into_iter().partition(|r| r.status() == StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(accepted.len(), 2, "{:?}", accepted.iter().map(|r| r.status()).collect::<Vec<_>>());
    assert!(accepted.iter().all(|r| r.status() == StatusCode::OK));
    assert_eq!(refused.len(), 1);
    let res = refused.into_iter().next().unwrap();
    let retry: u64 =
        res.headers().get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let body = expect_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(body.message.contains("burst 2"), "{}", body.message);

    // A 10 KiB body is over the configured 8 KiB: 413 as JSON, naming the limit.
    let big = note(&"x".repeat(10 * 1024));
    let res = srv.post(&http, &path, &responder, &big).await;
    let body = expect_error(res, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    assert!(body.message.contains("8 KiB"), "{}", body.message);
    // Under it is fine (and the refused body did not count as a write).
    let res = srv.post(&http, &path, &responder, &note(&"y".repeat(6 * 1024))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = srv.post(&http, &path, &responder, &note("second")).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[test]
fn a_bad_limit_in_the_config_stops_serve_with_file_line_and_key() {
    let env = Env::new();
    let config = env.config.join("config.toml");
    std::fs::write(&config, "[serve.limits]\nwrite_burst = 5\nwrites_per_sec = 0\n").unwrap();
    let out = env.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let file = config.display().to_string();
    assert!(err.contains(&format!("{file}:3:")), "{err}");
    assert!(err.contains("`writes_per_sec`") && err.contains("above 0"), "{err}");
}
