//! Faults between the consoles and the server, injected by a TCP proxy (tests/it/fault_support):
//! connections cut mid-event, stalls longer than the read timeout, answers to committed writes
//! dropped. Under each, two consoles (the real sync worker with its outbox, as the TUI runs it)
//! append notes through the proxy with their usual retries while a third only reads; then the
//! faults heal and the history checker asserts that no acknowledged entry was lost, none was
//! recorded twice, every console's log is a gap-free run of the server's log, and all converged.
//!
//! Each scenario prints its figures (`cargo test --test it faults:: -- --nocapture`).

use std::path::Path;
use std::time::Duration;

use crate::fault_support;
use crate::fault_support::proxy::{Fault, Proxy};
use crate::fault_support::{Console, converge};
use warroom::api::Role;
use warroom::client::ApiClient;
use warroom::domain::{EventBody, NewEvent};
use warroom::server::{self, Running, ServeOptions};

/// How long the consoles get to converge once the faults are over; a bound, not a timing claim.
const PATIENCE: Duration = Duration::from_secs(90);

fn db_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("warroom.db").display())
}

struct Setup {
    _dir: tempfile::TempDir,
    _server: Running,
    proxy: Proxy,
    direct: ApiClient,
    incident: String,
    tokens: Vec<String>,
}

async fn declare(direct: &ApiClient, title: &str, severity: &str) -> String {
    let declared = EventBody::Declared {
        title: title.into(),
        severity: severity.into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    };
    direct.declare(&NewEvent::now(declared)).await.unwrap().incident
}

/// Runs the fault `schedule` `rounds` times on `proxy` (then heals it) while every writer
/// submits a note every 30 ms; the notes' texts start with `label`.
async fn write_through_faults(
    proxy: &Proxy,
    schedule: &[(Fault, Duration)],
    rounds: usize,
    writers: &mut [Console],
    incident: &str,
    label: &str,
) {
    let faults = async {
        for _ in 0..rounds {
            for (fault, time) in schedule {
                proxy.set(*fault);
                tokio::time::sleep(*time).await;
            }
        }
        proxy.set(Fault::Pass);
    };
    let writing = async {
        let mut tick = tokio::time::interval(Duration::from_millis(30));
        for n in 0.. {
            tick.tick().await;
            for w in writers.iter_mut() {
                let text = format!("{label}: {} note {n}", w.name);
                w.note(incident, text);
            }
        }
    };
    tokio::select! {
        _ = faults => {}
        _ = writing => unreachable!(),
    }
}

/// A real server on a SQLite file, a proxy in front of it, a declared incident and three tokens.
async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = server::open_store(&db_url(dir.path())).await.unwrap();
    let mut tokens = Vec::new();
    for (name, role) in [("alice", Role::Scribe), ("bob", Role::Responder), ("carol", Role::Viewer)] {
        tokens.push(server::tokens::create(store.as_ref(), name, role).await.unwrap());
    }
    let ic = server::tokens::create(store.as_ref(), "ic", Role::Commander).await.unwrap();
    let opts = ServeOptions {
        listen: "127.0.0.1:0".into(),
        limits: server::Limits::unlimited(),
        ..ServeOptions::default()
    };
    let srv = server::start(opts, store).await.unwrap();
    let proxy = Proxy::start(srv.addr).await;
    let direct = ApiClient::new(&[format!("http://{}", srv.addr)], Some(ic)).unwrap();
    let incident = declare(&direct, "Payments failing", "SEV-1").await;
    Setup { _dir: dir, _server: srv, proxy, direct, incident, tokens }
}

/// Runs `schedule` (each fault for its time, in a loop `rounds` times) while two consoles write
/// a note every 30 ms through the proxy and a third reads; then heals and checks the history.
async fn scenario(name: &str, schedule: &[(Fault, Duration)], rounds: usize) {
    let s = setup().await;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let url = [s.proxy.url()];
    let mut writers = [
        Console::start("alice", &url, &s.tokens[0], dirs[0].path()),
        Console::start("bob", &url, &s.tokens[1], dirs[1].path()),
    ];
    let reader = Console::start("carol", &url, &s.tokens[2], dirs[2].path());
    write_through_faults(&s.proxy, schedule, rounds, &mut writers, &s.incident, name).await;

    let consoles = [&writers[0], &writers[1], &reader];
    let history = converge(&s.direct, &consoles, PATIENCE).await;
    let verdict = history.check(true);
    let lost_links: Vec<String> = consoles
        .iter()
        .map(|c| {
            let s = c.seen.lock().unwrap();
            format!("{} {} (now {:?})", c.name, s.links_lost, s.link)
        })
        .collect();
    match verdict {
        Ok(summary) => {
            println!("fault scenario {name}: {summary}; proxy: {}", s.proxy.stats.line());
            println!("  link lost (times): {}", lost_links.join(", "));
            assert_eq!((summary.lost, summary.duplicated), (0, 0));
            assert!(summary.acked > 0 && summary.written > 0);
        }
        Err(bad) => panic!("fault scenario {name}: the history checker found:\n{}", bad.join("\n")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_cut_mid_event() {
    let cut = Fault::Cut { min: 1, max: 700 };
    scenario("cut", &[(cut, Duration::from_millis(1500)), (Fault::Pass, Duration::from_millis(300))], 3)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stalls_longer_than_the_read_timeout() {
    // The consoles give up on a silent connection after 1 s; each stall lasts 2.5 s.
    let schedule = [(Fault::Stall, Duration::from_millis(2500)), (Fault::Pass, Duration::from_millis(700))];
    scenario("stall", &schedule, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answers_to_committed_writes_dropped() {
    let schedule =
        [(Fault::DropAnswers, Duration::from_millis(1500)), (Fault::Pass, Duration::from_millis(300))];
    scenario("drop-after-commit", &schedule, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_faults_mixed() {
    let schedule = [
        (Fault::Cut { min: 1, max: 400 }, Duration::from_millis(800)),
        (Fault::DropAnswers, Duration::from_millis(800)),
        (Fault::Stall, Duration::from_millis(1800)),
        (Fault::Pass, Duration::from_millis(200)),
        (Fault::Cut { min: 200, max: 3000 }, Duration::from_millis(800)),
    ];
    scenario("mixed", &schedule, 2).await;
}

/// `warroom serve` as a child process on a SQLite file in `data`, on `listen`.
fn serve_child(data: &Path, listen: &str) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["serve", "--listen", listen])
        .env("WARROOM_DATA_DIR", data)
        .env("WARROOM_CONFIG_DIR", data.join("config"))
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_default().to_string();
    assert!(url.starts_with("http://"), "serve printed {line:?}");
    (child, url)
}

/// kill -9 of the server, twice, while three consoles write a note every 20 ms each and a fourth
/// reads; the server is restarted on the same port and database each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_killed_during_a_burst_from_several_consoles() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("config")).unwrap();
    let db = format!("sqlite://{}", data.join("warroom.db").display());
    let mut tokens = Vec::new();
    {
        let store = server::open_store(&db).await.unwrap();
        for (name, role) in [
            ("ic", Role::Commander),
            ("alice", Role::Scribe),
            ("bob", Role::Scribe),
            ("dave", Role::Responder),
        ] {
            tokens.push(server::tokens::create(store.as_ref(), name, role).await.unwrap());
        }
        tokens.push(server::tokens::create(store.as_ref(), "carol", Role::Viewer).await.unwrap());
    }
    let (mut child, url) = serve_child(&data, "127.0.0.1:0");
    let listen = url.trim_start_matches("http://").to_string();
    let direct = ApiClient::new(std::slice::from_ref(&url), Some(tokens[0].clone())).unwrap();
    let incident = declare(&direct, "Primary database unreachable", "SEV-1").await;

    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let urls = vec![url.clone()];
    let mut writers: Vec<Console> = ["alice", "bob", "dave"]
        .iter()
        .enumerate()
        .map(|(i, name)| Console::start(name, &urls, &tokens[i + 1], dirs[i].path()))
        .collect();
    let reader = Console::start("carol", &urls, &tokens[4], dirs[3].path());

    let mut kills = 0;
    let mut acked_before_kills = Vec::new();
    let mut n = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for phase in 0..5 {
        // Phases: write, kill -9 and write while down, restart and write, kill again, restart.
        let until = tokio::time::Instant::now() + Duration::from_millis(1200);
        while tokio::time::Instant::now() < until {
            tick.tick().await;
            for w in writers.iter_mut() {
                let text = format!("kill-9: {} note {n}", w.name);
                w.note(&incident, text);
            }
            n += 1;
        }
        match phase {
            0 | 2 => {
                let acked: usize = writers.iter().map(|w| w.seen.lock().unwrap().acked.len()).sum();
                acked_before_kills.push(acked);
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
            }
            1 | 3 => child = serve_child(&data, &listen).0,
            _ => {}
        }
    }
    let consoles: Vec<&Console> = writers.iter().chain([&reader]).collect();
    let history = converge(&direct, &consoles, PATIENCE).await;
    child.kill().unwrap();
    child.wait().unwrap();
    match history.check(true) {
        Ok(summary) => {
            println!(
                "fault scenario kill-9 of the server ({kills} kills, entries acknowledged before each: {acked_before_kills:?}): {summary}"
            );
            assert_eq!((summary.lost, summary.duplicated), (0, 0));
            assert!(acked_before_kills[0] > 0, "the first kill came before any write was acknowledged");
        }
        Err(bad) => panic!("kill -9 of the server: the history checker found:\n{}", bad.join("\n")),
    }
}

/// kill -9 of client processes whose outbox holds writes the server has not answered: three
/// `warroom log` processes hang on a stalled connection, are killed, and the stall then lets
/// their requests through, so the server commits writes whose writers are dead. The next command
/// flushes the outbox they left: every entry recorded exactly once, the outbox empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_processes_killed_with_writes_in_flight() {
    let s = setup().await;
    let data = tempfile::tempdir().unwrap();
    let log = |text: &str| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"));
        c.args(["--server", &s.proxy.url(), "--token", &s.tokens[0], "log", "--incident", &s.incident, text])
            .env("WARROOM_DATA_DIR", data.path())
            .env("WARROOM_CONFIG_DIR", data.path().join("config"))
            .env_remove("WARROOM_SERVER")
            .env_remove("WARROOM_TOKEN")
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    };
    let outbox = warroom::client::Outbox::open(data.path(), &s.proxy.url()).unwrap();

    s.proxy.set(Fault::Stall);
    let mut children: Vec<std::process::Child> =
        (0..3).map(|i| log(&format!("in flight {i}")).spawn().unwrap()).collect();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while outbox.pending().unwrap().len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "the three entries never reached the outbox");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Give each process time to send its request into the stall, then kill them all.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for c in &mut children {
        c.kill().unwrap(); // SIGKILL
        c.wait().unwrap();
    }
    let left: Vec<_> = outbox.pending().unwrap();
    assert_eq!(left.len(), 3, "the killed processes left their writes in the outbox");
    let written: Vec<fault_support::history::Written> = left
        .iter()
        .map(|p| fault_support::history::Written {
            id: p.event.id,
            text: p.event.body.as_entry().unwrap().text.clone(),
        })
        .collect();

    // The stall ends: whatever the dead processes sent reaches the server now.
    s.proxy.set(Fault::Pass);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let committed_late = fault_support::server_log(&s.direct)
        .await
        .iter()
        .filter(|e| written.iter().any(|w| w.id == e.id))
        .count();
    // The next command flushes what they left, then sends its own entry.
    let status = log("after the crash").status().unwrap();
    assert!(status.success(), "log exited with {status}");
    assert!(outbox.pending().unwrap().is_empty(), "the outbox drained");

    let mut history = fault_support::history::History {
        written,
        server: fault_support::server_log(&s.direct).await,
        ..Default::default()
    };
    history.written.push(fault_support::history::Written {
        id: history.server.last().unwrap().id,
        text: "after the crash".into(),
    });
    match history.check(true) {
        Ok(summary) => {
            println!(
                "fault scenario kill-9 of 3 clients with writes in flight ({committed_late} of 3 committed after their writer died): {summary}"
            );
            assert_eq!((summary.lost, summary.duplicated), (0, 0));
        }
        Err(bad) => panic!("kill -9 of clients: the history checker found:\n{}", bad.join("\n")),
    }
}

/// Faults between the server and PostgreSQL: the server's database connections are cut part-way
/// through answers (a commit whose outcome the server never learns among them) and stalled,
/// while two consoles write through the server. The server answers those writes with errors,
/// the consoles retry, and the checker holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_connection_faults_under_the_server() {
    let Some(pg) = crate::pg_support::pg_url() else { return };
    let _g = crate::pg_support::SERIAL.lock().await;
    server::postgres::PgStore::reset(&pg).await.unwrap();
    let mut url = reqwest::Url::parse(&pg).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let upstream: std::net::SocketAddr = tokio::net::lookup_host(&upstream).await.unwrap().next().unwrap();
    let proxy = Proxy::start(upstream).await;
    url.set_port(Some(proxy.addr.port())).unwrap();
    url.set_host(Some("127.0.0.1")).unwrap();

    let store = server::open_store(url.as_str()).await.unwrap();
    let mut tokens = Vec::new();
    for (name, role) in [("ic", Role::Commander), ("alice", Role::Scribe), ("bob", Role::Scribe)] {
        tokens.push(server::tokens::create(store.as_ref(), name, role).await.unwrap());
    }
    let opts = ServeOptions {
        listen: "127.0.0.1:0".into(),
        limits: server::Limits::unlimited(),
        ..ServeOptions::default()
    };
    let srv = server::start(opts, store).await.unwrap();
    let base = [format!("http://{}", srv.addr)];
    let direct = ApiClient::new(&base, Some(tokens[0].clone())).unwrap();
    let incident = declare(&direct, "Replica lag", "SEV-2").await;
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut writers = [
        Console::start("alice", &base, &tokens[1], dirs[0].path()),
        Console::start("bob", &base, &tokens[2], dirs[1].path()),
    ];
    let schedule = [
        (Fault::Cut { min: 1, max: 3000 }, Duration::from_millis(1500)),
        (Fault::Pass, Duration::from_millis(500)),
        (Fault::Stall, Duration::from_millis(2500)),
        (Fault::Pass, Duration::from_millis(500)),
    ];
    write_through_faults(&proxy, &schedule, 2, &mut writers, &incident, "pg faults").await;
    let consoles: Vec<&Console> = writers.iter().collect();
    let history = converge(&direct, &consoles, PATIENCE).await;
    match history.check(true) {
        Ok(summary) => {
            println!(
                "fault scenario PostgreSQL connection cut and stalled: {summary}; proxy: {}",
                proxy.stats.line()
            );
            assert_eq!((summary.lost, summary.duplicated), (0, 0));
        }
        Err(bad) => panic!("PostgreSQL faults: the history checker found:\n{}", bad.join("\n")),
    }
}

/// Waits until the console's link is `want`; panics with the state it is in otherwise.
async fn link_becomes(c: &Console, want: warroom::client::LinkState) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let now = c.seen.lock().unwrap().link.clone();
        if now.as_ref() == Some(&want) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}: link is {now:?}, never {want:?}", c.name);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A proxy that buffers event streams (nothing of the answer comes through) makes the console
/// long-poll instead, and entries keep arriving; once the proxy lets streams through again, the
/// console goes back to streaming on its next try.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_buffering_proxy_means_long_polling_until_streams_pass_again() {
    use warroom::client::LinkState;
    let s = setup().await;
    let dir = tempfile::tempdir().unwrap();
    s.proxy.set(Fault::HoldStreams);
    let opts = warroom::client::WorkerOptions {
        stream_retry: Duration::from_secs(3),
        ..fault_support::worker_options()
    };
    let mut c = Console::start_with("alice", &[s.proxy.url()], &s.tokens[0], dir.path(), opts);
    link_becomes(&c, LinkState::Live { long_poll: true }).await;
    for i in 0..5 {
        c.note(&s.incident, format!("while buffered {i}"));
    }
    s.proxy.set(Fault::Pass);
    link_becomes(&c, LinkState::Live { long_poll: false }).await;
    for i in 0..5 {
        c.note(&s.incident, format!("streaming again {i}"));
    }
    let history = converge(&s.direct, &[&c], PATIENCE).await;
    let summary = history.check(true).unwrap_or_else(|bad| panic!("{}", bad.join("\n")));
    assert_eq!((summary.written, summary.lost, summary.duplicated), (10, 0, 0));
}
