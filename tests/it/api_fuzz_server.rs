//! A server to point schemathesis at (ignored by default; loopback only, bounded time):
//!
//! ```sh
//! WARROOM_FUZZ_INFO=/tmp/wr-fuzz cargo test --test it -- --ignored --exact api_fuzz_server::serve_for_fuzzing --nocapture &
//! # /tmp/wr-fuzz holds "<base url> <admin token>" once it is up
//! st run "$URL/api/v1/openapi.json" -H "Authorization: Bearer $TOKEN" --checks all
//! ```
//! `WARROOM_FUZZ_SECS` (default 300, at most 3600) bounds how long it serves.

use std::time::Duration;

use warroom::api::Role;
use warroom::server::{self, ServeOptions};

use crate::server_support;

#[tokio::test]
#[ignore = "a server for manual fuzzing with schemathesis"]
async fn serve_for_fuzzing() {
    let opts = ServeOptions {
        listen: "127.0.0.1:0".into(),
        practice: warroom::assets::load_practice(None, None).unwrap(),
        alertmanager: Default::default(),
        // Limits are tested in tests/it/security_limits.rs; here they would only hide deeper paths.
        limits: server::Limits::unlimited(),
        ..Default::default()
    };
    let s = server_support::start_with(opts, "fuzz.db", &[("fuzzer", Role::Admin)]).await;
    let token = s.token(Role::Admin);
    // INC-1 exists, so that the `{id}` example of the incident endpoints reaches real logic.
    let declared = warroom::domain::NewEvent::now(warroom::domain::EventBody::Declared {
        title: "Fuzzing target".into(),
        severity: "SEV-2".into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    });
    let res = s.post("/api/v1/incidents", token, &serde_json::to_value(&declared).unwrap()).await;
    assert!(res.status().is_success(), "seeding INC-1: {}", res.status());
    let info = format!("{} {token}\n", s.base);
    match std::env::var("WARROOM_FUZZ_INFO") {
        Ok(path) => std::fs::write(path, &info).unwrap(),
        Err(_) => println!("{info}"),
    }
    let secs =
        std::env::var("WARROOM_FUZZ_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(300u64).min(3600);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    s.shutdown().await;
}
