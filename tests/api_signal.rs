//! `serve_until_signal` shuts down gracefully on SIGTERM (its own test binary: it signals its
//! own process).

#![cfg(unix)]

use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use warroom::server::{self, ServeOptions};

#[tokio::test]
async fn sigterm_stops_the_server_gracefully() {
    // Installing a listener first means SIGTERM can no longer kill this test process.
    let mut ours = signal(SignalKind::terminate()).unwrap();
    let store = server::open_store("sqlite::memory:").await.unwrap();
    let opts = ServeOptions {
        listen: "127.0.0.1:0".into(),
        practice: warroom::assets::load_practice(None, None).unwrap(),
        alertmanager: Default::default(),
        ..Default::default()
    };
    let mut serving = tokio::spawn(server::serve_until_signal(opts, store));
    for _ in 0..300 {
        // SAFETY: raising a signal whose handler is installed.
        unsafe { libc::raise(libc::SIGTERM) };
        ours.recv().await;
        if let Ok(done) = tokio::time::timeout(Duration::from_millis(100), &mut serving).await {
            done.unwrap().unwrap();
            return;
        }
    }
    panic!("the server did not stop on SIGTERM");
}
