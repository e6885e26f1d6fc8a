//! The server's part of "speed to the limit" (issue #17): a config that raised only the old
//! write knobs (`writes_per_sec`, `write_burst`) keeps its meaning now that writes are also
//! counted in events: the event limits that are not set follow the write limits up.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::bin_support::{Env, Server};
use crate::server_support;
use warroom::domain::{EventBody, EventKind, NewEvent};

fn note(text: &str) -> Value {
    json!(NewEvent::now(EventBody::entry(EventKind::Note, text).unwrap()))
}

/// Starts `warroom serve` with `limits` as its `[serve.limits]`; its URL, an admin token and a
/// fresh incident's id.
async fn serve_with(env: &Env, limits: &str) -> (Server, String, String, String) {
    std::fs::write(env.config.join("config.toml"), format!("[serve.limits]\n{limits}")).unwrap();
    let (child, url) = env.serve("127.0.0.1:0");
    let server = Server(child);
    let (token, _) = env.ok(&["token", "create", "--name", "bench", "--role", "admin"]);
    let token = token.trim().to_string();
    let declared = json!(NewEvent::now(EventBody::Declared {
        title: "limits".into(),
        severity: "SEV-3".into(),
        summary: String::new(),
        group_key: None,
        demo: false
    }));
    let res = server_support::client()
        .post(format!("{url}/api/v1/incidents"))
        .bearer_auth(&token)
        .json(&declared)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["incident"].as_str().unwrap().to_string();
    (server, url, token, id)
}

/// Posts `n` batches of 1,000 notes; the status of each.
async fn post_batches(url: &str, token: &str, id: &str, n: usize) -> Vec<StatusCode> {
    let http = server_support::client();
    let mut out = Vec::new();
    for b in 0..n {
        let events: Vec<Value> = (0..1_000).map(|i| note(&format!("batch {b} note {i}"))).collect();
        let res = http
            .post(format!("{url}/api/v1/incidents/{id}/events"))
            .bearer_auth(token)
            .json(&json!({"events": events}))
            .send()
            .await
            .unwrap();
        out.push(res.status());
    }
    out
}

#[tokio::test]
async fn raised_write_limits_raise_the_event_limits_that_are_not_set() {
    // 3,000 events at once: over the default event burst (2,000), within the raised write burst.
    let env = Env::new();
    let (_server, url, token, id) = serve_with(&env, "writes_per_sec = 100000\nwrite_burst = 100000\n").await;
    assert_eq!(post_batches(&url, &token, &id, 3).await, vec![StatusCode::OK; 3]);
}

#[tokio::test]
async fn event_limits_that_are_set_hold_whatever_the_write_limits() {
    let env = Env::new();
    let (_server, url, token, id) = serve_with(
        &env,
        "writes_per_sec = 100000\nwrite_burst = 100000\nevents_per_sec = 0.001\nevent_burst = 1500\n",
    )
    .await;
    // The declare took 1 of 1,500: the first batch fits, the second does not.
    assert_eq!(post_batches(&url, &token, &id, 2).await, vec![StatusCode::OK, StatusCode::TOO_MANY_REQUESTS]);
}
