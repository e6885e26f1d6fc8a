//! The outbox shared by several warroom processes of one user: concurrent `log` commands
//! against an unreachable server all land whole in one outbox, and all of them reach the server,
//! once each, when it comes back.

use std::process::{Command, Stdio};

use warroom::api::Role;
use warroom::assets::load_practice;
use warroom::client::{ApiClient, Outbox};
use warroom::domain::{EventBody, NewEvent};
use warroom::server::AlertmanagerConfig;
use warroom::server::{self, ServeOptions};

const BIN: &str = env!("CARGO_BIN_EXE_warroom");

/// A server on a SQLite file in `dir`, a scribe's token, and one declared incident.
struct Room {
    data: std::path::PathBuf,
    url: String,
    opts: ServeOptions,
    store: std::sync::Arc<dyn server::Store>,
    tok: String,
    srv: server::Running,
    c: ApiClient,
    inc: String,
}

async fn room(dir: &tempfile::TempDir) -> Room {
    let data = dir.path().join("data");
    let db = format!("sqlite://{}", dir.path().join("warroom.db").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let opts = ServeOptions {
        listen: format!("127.0.0.1:{port}"),
        practice: load_practice(None, None).unwrap(),
        alertmanager: AlertmanagerConfig::default(),
        limits: server::Limits::unlimited(),
        ..ServeOptions::default()
    };
    let store = server::open_store(&db).await.unwrap();
    let tok = server::tokens::create(store.as_ref(), "scribe", Role::Scribe).await.unwrap();
    let srv = server::start(opts.clone(), store.clone()).await.unwrap();
    let c = ApiClient::new(std::slice::from_ref(&url), Some(tok.clone())).unwrap();
    let inc = c
        .declare(&NewEvent::now(EventBody::Declared {
            title: "Disk full".into(),
            severity: "SEV-3".into(),
            summary: String::new(),
            group_key: None,
            demo: false,
        }))
        .await
        .unwrap()
        .incident;
    Room { data, url, opts, store, tok, srv, c, inc }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_processes_share_one_outbox_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let Room { data, url, opts, store, tok, srv, c, inc } = room(&dir).await;
    srv.shutdown().await.unwrap();

    // Four processes, each logging five entries, all while the server is down.
    let (procs, per) = (4, 5);
    let run = |p: usize| {
        let (data, url, tok, inc) = (data.clone(), url.clone(), tok.clone(), inc.clone());
        std::thread::spawn(move || {
            for i in 0..per {
                let o = Command::new(BIN)
                    .env("WARROOM_DATA_DIR", &data)
                    .env("WARROOM_CONFIG_DIR", data.join("config"))
                    .args(["--server", &url, "--token", &tok, "log", "--incident", &inc])
                    .arg(format!("p{p} e{i}"))
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                assert!(String::from_utf8_lossy(&o.stderr).contains("queued"));
            }
        })
    };
    let threads: Vec<_> = (0..procs).map(run).collect();
    for t in threads {
        t.join().unwrap();
    }
    let outbox = Outbox::open(&data, &url).unwrap();
    let pending = outbox.pending().unwrap();
    assert_eq!(pending.len(), procs * per);
    for p in 0..procs {
        // Each process's entries are in its own order.
        let mine: Vec<String> = pending
            .iter()
            .filter_map(|x| x.event.body.as_entry().map(|e| e.text.clone()))
            .filter(|t| t.starts_with(&format!("p{p} ")))
            .collect();
        let expect: Vec<String> = (0..per).map(|i| format!("p{p} e{i}")).collect();
        assert_eq!(mine, expect);
    }

    // The server comes back; one flush sends everything, once.
    let srv = server::start(opts, store).await.unwrap();
    let out = warroom::client::flush::flush(&c, &outbox, |_| {}).await.unwrap();
    assert_eq!(out.acked, procs * per);
    assert_eq!(out.remaining, 0);
    assert!(outbox.pending().unwrap().is_empty());
    let events = c.incident(&inc, true).await.unwrap().events.unwrap();
    assert_eq!(events.len(), 1 + procs * per);
    // A second flush has nothing to send.
    assert_eq!(warroom::client::flush::flush(&c, &outbox, |_| {}).await.unwrap().acked, 0);
    srv.shutdown().await.unwrap();
}

/// A console in the same data dir may flush the shared outbox between a `log`'s push and its
/// own flush, sending the entry first: the command still reports the seq the server recorded
/// (and exits 0), and the entry is recorded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_another_process_sent_first_is_reported_with_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    let Room { data, url, tok, srv, c, inc, .. } = room(&dir).await;

    let go = dir.path().join("go");
    let child = Command::new(BIN)
        .env("WARROOM_DATA_DIR", &data)
        .env("WARROOM_CONFIG_DIR", data.join("config"))
        .env("WARROOM_TEST_WAIT_AFTER_PUSH", &go)
        .args(["--server", &url, "--token", &tok, "log", "--incident", &inc, "sent by the console"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The entry is in the outbox: "the console" sends it, then the command goes on.
    let outbox = Outbox::open(&data, &url).unwrap();
    let deadline = std::time::Instant::now() + crate::bin_support::PATIENCE;
    while outbox.pending().unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the command never queued its entry");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let sent = warroom::client::flush::flush(&c, &outbox, |_| {}).await.unwrap();
    assert_eq!((sent.acked, sent.remaining), (1, 0), "the console sent the entry");
    std::fs::write(&go, b"").unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "log failed ({}): {err}", out.status);
    assert!(err.contains(&format!("logged to {inc} (#2)")), "{err}");
    let events = c.events(0, None, Some(100)).await.unwrap().events;
    let texts: Vec<_> =
        events.iter().filter_map(|e| e.body.as_entry()).filter(|x| x.text == "sent by the console").collect();
    assert_eq!(texts.len(), 1, "recorded once");
    srv.shutdown().await.unwrap();
}
