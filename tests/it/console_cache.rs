//! The console's local cache (#17), with the real binary: a console in tmux against a real
//! `warroom serve`. Quit, and the next start with the server down shows the cached war room at
//! once, marked cached; the server back, it goes live and asks only for the events after the
//! cached seq (the server's log says so). A cache is never shown for another server or token,
//! a corrupt one is ignored, and one of a server whose history was reset is dropped.
//! Skipped (with a message) where tmux is not installed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::bin_support::{BIN, PATIENCE, Tmux};

/// A `warroom serve` logging at debug to `log` (killed when dropped).
struct Srv {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Srv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Srv {
    fn start(data: &Path, listen: &str, log: PathBuf) -> Srv {
        let err = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", listen])
            .env("WARROOM_DATA_DIR", data)
            .env("WARROOM_CONFIG_DIR", data.join("config"))
            .env("RUST_LOG", "warn,warroom=debug,tower_http=debug")
            .env("WARROOM_LOG_TARGET", "stderr")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url =
            line.split_whitespace().find(|w| w.starts_with("http://")).expect("serve's URL").to_string();
        Srv { child, url, log }
    }

    fn port(&self) -> String {
        self.url.rsplit(':').next().unwrap().to_string()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn cli(data: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let o = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .env("WARROOM_DATA_DIR", data)
        .env("WARROOM_CONFIG_DIR", data.join("config"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A server with one incident and `notes` notes in it; returns it with a commander's token.
fn seeded(dir: &Path, name: &str, listen: &str, title: &str, notes: usize) -> (Srv, String) {
    let data = dir.join(name);
    let srv = Srv::start(&data, listen, dir.join(format!("{name}.log")));
    let token = cli(&data, &[], &["token", "create", "--name", "alice", "--role", "commander"]);
    let cli_dir = dir.join(format!("{name}-cli"));
    let env = [("WARROOM_SERVER", srv.url.as_str()), ("WARROOM_TOKEN", token.as_str())];
    assert_eq!(cli(&cli_dir, &env, &["declare", "--severity", "SEV-2", "--title", title]), "INC-1");
    for i in 1..=notes {
        cli(&cli_dir, &env, &["log", "--incident", "INC-1", "--kind", "note", &format!("{title} note {i}")]);
    }
    (srv, token)
}

/// The console on data dir `home` against `url`, its war room on INC-1.
fn console(home: &Path, url: &str, token: &str) -> String {
    format!(
        "env TERM=xterm-256color WARROOM_DATA_DIR={d} WARROOM_CONFIG_DIR={d} {BIN} --server {url} --token {token} --open INC-1",
        d = home.display()
    )
}

fn start(tmux: &Tmux, session: &str, cmd: &str) {
    tmux.run(&["new-session", "-d", "-s", session, "-x", "120", "-y", "30", cmd]);
}

/// Quits the console (back to the board, then quit) and waits until it has exited.
fn quit(tmux: &Tmux, session: &str) {
    tmux.keys(session, &["q"]);
    tmux.wait_for(session, "the board", |s| s.contains("declare incident"));
    tmux.keys(session, &["q"]);
    let deadline = Instant::now() + PATIENCE;
    while tmux.run(&["list-sessions", "-F", "#{session_name}"]).lines().any(|l| l == session) {
        assert!(Instant::now() < deadline, "the console did not quit:\n{}", tmux.screen(session));
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The cache directory under `home`'s data dir with a board of `url`.
fn cache_dir(home: &Path, url: &str) -> PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(home.join("cache"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|d| {
            std::fs::read(d.join("board.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .is_some_and(|b| b["server"] == url)
        })
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn console_log(home: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(home.join("logs")).into_iter().flatten().flatten() {
        out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
    }
    out
}

#[test]
fn a_restart_shows_the_cache_at_once_then_fetches_only_the_delta() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, token) = seeded(dir.path(), "srv", "127.0.0.1:0", "Checkout latency", 30);
    let Some(tmux) = Tmux::new("cache") else { return };
    let home = dir.path().join("home");
    let cmd = console(&home, &srv.url, &token);
    start(&tmux, "c", &cmd);
    tmux.wait_for("c", "live war room", |s| s.contains("Checkout latency note 30") && s.contains("● live"));
    quit(&tmux, "c");

    // Kept in the data dir, owner-only.
    let cache = cache_dir(&home, &srv.url);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777, 0o700);
    for e in std::fs::read_dir(&cache).unwrap().flatten() {
        assert_eq!(e.metadata().unwrap().permissions().mode() & 0o777, 0o600, "{:?}", e.path());
    }
    let board: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cache.join("board.json")).unwrap()).unwrap();
    let cached_seq = board["seq"].as_u64().unwrap();
    assert_eq!(cached_seq, 31, "a declaration and 30 notes");

    // Something happens while no console watches; then the server goes down.
    let cli_dir = dir.path().join("srv-cli");
    let env = [("WARROOM_SERVER", srv.url.as_str()), ("WARROOM_TOKEN", token.as_str())];
    cli(&cli_dir, &env, &["log", "--incident", "INC-1", "--kind", "finding", "while nobody watched"]);
    let port = srv.port();
    drop(srv);

    // Server down: the cached war room shows, marked cached.
    start(&tmux, "c", &cmd);
    let s = tmux
        .wait_for("c", "cached war room", |s| s.contains("Checkout latency note 30") && s.contains("cached"));
    assert!(!s.contains("● live") && !s.contains("while nobody watched"), "{s}");

    // Server back: live, with the delta, and the cache mark gone.
    let srv = Srv::start(&dir.path().join("srv"), &format!("127.0.0.1:{port}"), dir.path().join("srv2.log"));
    let s = tmux.wait_for("c", "live again with the delta", |s| {
        s.contains("while nobody watched") && s.contains("● live")
    });
    assert!(!s.contains("cached"), "{s}");
    // The server was asked for the events after the cached seq, and for no snapshot or whole
    // timeline.
    let log = srv.log();
    assert!(log.contains(&format!("after={cached_seq}")), "no catch-up from {cached_seq} in:\n{log}");
    assert!(log.contains("stream opened"), "{log}");
    assert!(!log.contains("events=true"), "a whole timeline was fetched:\n{log}");
    assert!(!log.contains("uri=/api/v1/incidents version"), "a snapshot was fetched:\n{log}");
    assert!(console_log(&home).contains("resuming after the cached seq"));
    quit(&tmux, "c");
}

#[test]
fn a_cache_is_not_shown_for_another_server_or_token_and_a_corrupt_one_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, token) = seeded(dir.path(), "srv", "127.0.0.1:0", "Secret payroll outage", 3);
    let Some(tmux) = Tmux::new("cache-other") else { return };
    let home = dir.path().join("home");
    start(&tmux, "c", &console(&home, &srv.url, &token));
    tmux.wait_for("c", "live", |s| s.contains("Secret payroll outage note 3") && s.contains("● live"));
    quit(&tmux, "c");

    // Another server (nothing listens there, so a wrongly shown cache would stay on screen).
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = format!("http://127.0.0.1:{}", free.local_addr().unwrap().port());
    drop(free);
    start(&tmux, "o", &console(&home, &other, &token));
    let s = tmux.wait_for("o", "offline", |s| s.contains("reconnecting") || s.contains("offline"));
    assert!(!s.contains("Secret payroll") && !s.contains("cached"), "{s}");
    tmux.run(&["kill-session", "-t", "o"]);
    // The same server, another token.
    let data = dir.path().join("srv");
    let bob = cli(&data, &[], &["token", "create", "--name", "bob", "--role", "viewer"]);
    let port = srv.port();
    drop(srv);
    start(&tmux, "b", &console(&home, &format!("http://127.0.0.1:{port}"), &bob));
    let s = tmux.wait_for("b", "offline", |s| s.contains("reconnecting") || s.contains("offline"));
    assert!(!s.contains("Secret payroll") && !s.contains("cached"), "{s}");
    tmux.run(&["kill-session", "-t", "b"]);

    // A garbled board: ignored (and said in the log); the console starts as without a cache.
    let srv = Srv::start(&data, &format!("127.0.0.1:{port}"), dir.path().join("srv2.log"));
    let cache = cache_dir(&home, &srv.url);
    std::fs::write(cache.join("board.json"), b"{\"format\":1,\"server\":").unwrap();
    start(&tmux, "c", &console(&home, &srv.url, &token));
    tmux.wait_for("c", "live after a corrupt board", |s| {
        s.contains("Secret payroll outage note 3") && s.contains("● live")
    });
    quit(&tmux, "c");
    assert!(console_log(&home).contains("cache: discarding"), "{}", console_log(&home));

    // A garbled timeline: the board comes from the cache, the timeline from the server.
    let tl: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("tl-"))
        .collect();
    assert_eq!(tl.len(), 1, "{tl:?}");
    let len = std::fs::metadata(&tl[0]).unwrap().len() as usize;
    std::fs::write(&tl[0], vec![b'x'; len]).unwrap();
    start(&tmux, "c", &console(&home, &srv.url, &token));
    tmux.wait_for("c", "live after a corrupt timeline", |s| {
        s.contains("Secret payroll outage note 3") && s.contains("● live")
    });
    quit(&tmux, "c");
}

#[test]
fn a_server_whose_history_was_reset_invalidates_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, token) = seeded(dir.path(), "srv", "127.0.0.1:0", "Database failover", 5);
    let port = srv.port();
    let data = dir.path().join("srv");
    // A backup taken now (server stopped), restored later: the history goes back to here.
    drop(srv);
    let backup = dir.path().join("backup");
    let cp = Command::new("cp").arg("-a").arg(&data).arg(&backup).status().unwrap();
    assert!(cp.success());
    let listen = format!("127.0.0.1:{port}");
    let srv = Srv::start(&data, &listen, dir.path().join("srv2.log"));
    let url = srv.url.clone();
    let env = [("WARROOM_SERVER", url.as_str()), ("WARROOM_TOKEN", token.as_str())];
    for i in 6..=10 {
        cli(
            &dir.path().join("cli"),
            &env,
            &["log", "--incident", "INC-1", "--kind", "note", &format!("lost note {i}")],
        );
    }
    let Some(tmux) = Tmux::new("cache-reset") else { return };
    let home = dir.path().join("home");
    start(&tmux, "c", &console(&home, &srv.url, &token));
    tmux.wait_for("c", "live", |s| s.contains("lost note 10") && s.contains("● live"));
    quit(&tmux, "c");
    drop(srv);

    // The backup restored behind the same address (same tokens), and written to past the
    // cached seq: the same seqs now hold other events.
    let srv = Srv::start(&backup, &listen, dir.path().join("restored.log"));
    for i in 1..=8 {
        cli(
            &dir.path().join("cli"),
            &env,
            &["log", "--incident", "INC-1", "--kind", "note", &format!("restored note {i}")],
        );
    }
    start(&tmux, "c", &console(&home, &srv.url, &token));
    let s = tmux.wait_for("c", "the restored history, live", |s| {
        s.contains("restored note 8") && s.contains("● live")
    });
    assert!(!s.contains("lost note") && !s.contains("cached"), "{s}");
    quit(&tmux, "c");
    assert!(console_log(&home).contains("not the cached one"), "{}", console_log(&home));
}

#[test]
fn the_first_frame_is_timed_and_a_cache_of_the_old_format_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, token) = seeded(dir.path(), "srv", "127.0.0.1:0", "Queue backlog", 5);
    let Some(tmux) = Tmux::new("cache-bench") else { return };
    let home = dir.path().join("home");
    start(&tmux, "c", &console(&home, &srv.url, &token));
    tmux.wait_for("c", "live", |s| s.contains("Queue backlog note 5") && s.contains("● live"));
    quit(&tmux, "c");
    let port = srv.port();
    let url = srv.url.clone();
    drop(srv);

    // A bench run, server down: the console leaves after its first war-room frame (from the
    // cache) and reports how long it took since main, with the phases before it.
    let report = dir.path().join("first-frame.txt");
    start(
        &tmux,
        "b",
        &format!("env WARROOM_BENCH_FIRST_FRAME={} {}", report.display(), console(&home, &url, &token)),
    );
    let deadline = Instant::now() + PATIENCE;
    while tmux.run(&["list-sessions", "-F", "#{session_name}"]).lines().any(|l| l == "b") {
        assert!(Instant::now() < deadline, "the bench run did not leave:\n{}", tmux.screen("b"));
        std::thread::sleep(Duration::from_millis(50));
    }
    let line = std::fs::read_to_string(&report).unwrap();
    assert!(line.starts_with("first_frame_ms=") && line.ends_with('\n'), "{line}");
    for phase in ["config=", "connect=", "cache=", "state=", "terminal="] {
        assert!(line.contains(phase), "no {phase} in {line}");
    }
    assert!(console_log(&home).contains("first war-room frame (timeline from the cache)"));

    // A cache written by a console of the previous format: discarded whole, said in the log,
    // and the console starts from the server as without one.
    let srv = Srv::start(&dir.path().join("srv"), &format!("127.0.0.1:{port}"), dir.path().join("srv2.log"));
    let cache = cache_dir(&home, &srv.url);
    let mut board: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cache.join("board.json")).unwrap()).unwrap();
    board["format"] = 1.into();
    std::fs::write(cache.join("board.json"), board.to_string()).unwrap();
    start(&tmux, "c", &console(&home, &srv.url, &token));
    let s = tmux.wait_for("c", "live without the old cache", |s| {
        s.contains("Queue backlog note 5") && s.contains("● live")
    });
    assert!(!s.contains("cached"), "{s}");
    quit(&tmux, "c");
    assert!(console_log(&home).contains("format 1 (this version reads 2)"), "{}", console_log(&home));
    // Kept anew in the current format.
    let board: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cache.join("board.json")).unwrap()).unwrap();
    assert_eq!(board["format"], 2);
}
