//! One embedded server per data dir, with the real binary: a `warroom tail` (or a console in
//! tmux) without --server serves it and names it in `<data dir>/embedded-server.json`; commands
//! and a second tail or console in the same data dir join it instead of starting a server of
//! their own, and the owner shows what they write. When the owner quits (or is killed), a
//! joined tail or console takes the server over on the same address; a discovery file nobody
//! holds, or one naming a server that does not answer or is another data dir's, is ignored.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use crate::bin_support::{BIN, Env, PATIENCE, Tmux, text};

/// Every command logs at info on its stderr: it says whether it joined or started a server.
/// The embedded server listens on an address of this test's own: a takeover happens on the
/// owner's address, which must not be another test's default.
fn env() -> Env {
    Env::logging("warroom=info").own_embedded_address()
}

impl Env {
    fn discovery(&self) -> Option<serde_json::Value> {
        let t = std::fs::read_to_string(self.data.join("embedded-server.json")).ok()?;
        Some(serde_json::from_str(&t).expect("the discovery file is JSON"))
    }

    /// Waits until the discovery file names a server run by `pid`; returns its URL.
    fn wait_discovery(&self, pid: u32) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(d) = self.discovery()
                && d["pid"] == pid
            {
                return d["url"].as_str().unwrap().to_string();
            }
            assert!(Instant::now() < deadline, "pid {pid} never named its server: {:?}", self.discovery());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `warroom tail` without --server, its output read line by line, once it is live: an
    /// event recorded before that is part of its starting point and never printed, so a test
    /// that writes before the tail is live races it.
    fn tail(&self) -> Tail {
        let mut child = self.cmd().arg("tail").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let out = lines(child.stdout.take().unwrap());
        let err = lines(child.stderr.take().unwrap());
        let mut t = Tail { child, out, err, seen_out: Vec::new(), seen_err: Vec::new() };
        t.wait_err("warroom: live");
        t
    }
}

fn lines(r: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for l in BufReader::new(r).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

struct Tail {
    child: Child,
    out: Receiver<String>,
    err: Receiver<String>,
    seen_out: Vec<String>,
    seen_err: Vec<String>,
}

impl Tail {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_line(rx: &Receiver<String>, seen: &mut Vec<String>, what: &str, want: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        if let Some(l) = seen.iter().find(|l| l.contains(want)) {
            return l.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => {
                    seen.push(l.clone());
                    if l.contains(want) {
                        return l;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("{what}: no line with {want:?}; saw {seen:#?}"),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("{what} ended; no line with {want:?}; saw {seen:#?}")
                }
            }
        }
    }

    /// Waits for a line on stdout (an event) containing `want`.
    fn wait_out(&mut self, want: &str) -> String {
        Self::wait_line(&self.out, &mut self.seen_out, "tail stdout", want)
    }

    /// Waits for a line on stderr (status and logs) containing `want`.
    fn wait_err(&mut self, want: &str) -> String {
        Self::wait_line(&self.err, &mut self.seen_err, "tail stderr", want)
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: a plain kill(2) of our own child.
        assert_eq!(unsafe { libc::kill(self.child.id() as libc::pid_t, sig) }, 0);
    }

    /// SIGTERM (a clean quit, like Ctrl-C); returns whether it exited successfully.
    fn quit(mut self) -> bool {
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.success();
            }
            assert!(Instant::now() < deadline, "tail did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A command's stderr says it joined the server at `url` and started none of its own.
fn assert_joined(err: &str, url: &str) {
    assert!(err.contains(&format!("joining the embedded server on {url}")), "did not join {url}:\n{err}");
    assert!(!err.contains("warroom server listening"), "started a server of its own:\n{err}");
}

/// A command's stderr says it started a server of its own.
fn assert_own_server(err: &str) {
    assert!(!err.contains("joining the embedded server"), "joined:\n{err}");
    assert!(err.contains("warroom server listening"), "no server of its own:\n{err}");
}

fn pid_of_a_dead_process() -> u32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn commands_join_the_embedded_server_a_tail_runs_and_the_tail_shows_their_writes() {
    let env = env();
    let mut owner = env.tail();
    let url = env.wait_discovery(owner.pid());

    let (out, err) = env.ok(&["declare", "--severity", "SEV-2", "--title", "Checkout latency"]);
    assert_eq!(out, "INC-1\n");
    assert_joined(&err, &url);
    let (_, err) = env.ok(&["log", "-i", "INC-1", "--kind", "finding", "p99 at 6s since 14:02"]);
    assert_joined(&err, &url);
    let (out, err) = env.ok(&["export", "INC-1"]);
    assert_joined(&err, &url);
    assert!(out.contains("p99 at 6s since 14:02"), "{out}");

    // The owner's own server handed the writes to its tail.
    owner.wait_out("INC-1 #1 local declared");
    owner.wait_out("finding p99 at 6s since 14:02");
    assert_eq!(env.discovery().unwrap()["pid"], owner.pid(), "still the tail's server");

    // The demo, joined, still writes as its personas (their tokens made in the shared database).
    let (_, err) = env.ok(&["demo"]);
    assert_joined(&err, &url);
    assert!(err.contains("loaded demo incidents INC-2, INC-3"), "{err}");
    owner.wait_out("INC-3 #");
    let authors: std::collections::BTreeSet<&str> =
        owner.seen_out.iter().filter_map(|l| l.split_whitespace().nth(3)).collect();
    assert!(authors.len() > 3 && authors.contains("alertmanager"), "{authors:?}");

    // A clean quit removes the discovery file; the next command serves itself again.
    assert!(owner.quit());
    assert!(env.discovery().is_none(), "the discovery file outlived its server");
    let (_, err) = env.ok(&["log", "-i", "INC-1", "after the tail quit"]);
    assert_own_server(&err);
}

#[test]
fn a_joined_tail_takes_the_server_over_when_the_owner_quits_or_dies() {
    let env = env();
    let a = env.tail();
    let url = env.wait_discovery(a.pid());
    env.ok(&["declare", "--severity", "SEV-3", "--title", "Disk filling"]);

    let mut b = env.tail();
    b.wait_err(&format!("joining the embedded server on {url}"));
    env.ok(&["log", "-i", "INC-1", "seen by both"]);
    b.wait_out("seen by both");

    // The owner quits: b serves the same address, says so, and goes on showing writes.
    assert!(a.quit(), "the owner's clean quit exits 0");
    b.wait_err(&format!("serves it now on {url}"));
    assert_eq!(env.wait_discovery(b.pid()), url, "b serves the same address");
    let mut c = env.tail();
    c.wait_err(&format!("joining the embedded server on {url}"));
    let (_, err) = env.ok(&["log", "-i", "INC-1", "after the takeover"]);
    assert_joined(&err, &url);
    b.wait_out("after the takeover");
    c.wait_out("after the takeover");

    // Killed outright (no clean exit, the file stays behind): c takes over all the same.
    b.signal(libc::SIGKILL);
    c.wait_err("serves it now");
    assert_eq!(env.wait_discovery(c.pid()), url);
    let (_, err) = env.ok(&["log", "-i", "INC-1", "after the crash"]);
    assert_joined(&err, &url);
    c.wait_out("after the crash");
    assert!(c.quit());
    assert!(env.discovery().is_none());
}

#[test]
fn a_stale_discovery_file_is_ignored_and_replaced() {
    let env = env();
    std::fs::create_dir_all(&env.data).unwrap();
    let stale =
        format!(r#"{{"url":"http://127.0.0.1:{}","pid":{}}}"#, closed_port(), pid_of_a_dead_process());
    std::fs::write(env.data.join("embedded-server.json"), &stale).unwrap();

    // Nobody holds the lock: the file is stale; the command serves itself and works.
    let (out, err) = env.ok(&["declare", "--severity", "SEV-4", "--title", "Stale"]);
    assert_eq!(out, "INC-1\n");
    assert_own_server(&err);

    // A tail replaces it with its own server, which the next command joins.
    std::fs::write(env.data.join("embedded-server.json"), &stale).unwrap();
    let mut owner = env.tail();
    let url = env.wait_discovery(owner.pid());
    let (_, err) = env.ok(&["log", "-i", "INC-1", "after the stale file"]);
    assert_joined(&err, &url);
    owner.wait_out("after the stale file");
}

#[test]
fn a_named_server_that_is_not_this_data_dirs_is_not_joined() {
    // Another data dir's server: it answers /healthz but refuses this data dir's token.
    let other = env();
    let mut serve =
        other.cmd().args(["serve", "--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(serve.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let foreign = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();

    let env = env();
    env.ok(&["declare", "--severity", "SEV-4", "--title", "Mine"]); // makes the embedded token
    // A live owner (this test holds the lock) that names the foreign server, then a dead port.
    let lock = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(env.data.join("embedded-server.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    for url in [foreign.clone(), format!("http://127.0.0.1:{}", closed_port())] {
        write(&env.data, &format!(r#"{{"url":"{url}","pid":{}}}"#, std::process::id()));
        let (_, err) = env.ok(&["log", "-i", "INC-1", &format!("not for {url}")]);
        assert_own_server(&err);
        assert!(err.contains("does not answer"), "{err}");
    }
    drop(lock);
    let (out, _) = env.ok(&["export", "INC-1"]);
    assert!(out.contains("not for http"), "{out}");
    // Nothing reached the foreign server.
    let token = text(
        &other.cmd().args(["token", "create", "--name", "t", "--role", "viewer"]).output().unwrap().stdout,
    );
    let o = other
        .cmd()
        .args(["--server", &foreign, "--token", token.trim(), "export", "INC-1"])
        .output()
        .unwrap();
    assert!(!o.status.success(), "the foreign server has an INC-1: {}", text(&o.stdout));
    let _ = serve.kill();
    let _ = serve.wait();
}

fn write(dir: &Path, json: &str) {
    std::fs::write(dir.join("embedded-server.json"), json).unwrap();
}

#[test]
fn a_second_console_and_commands_join_the_console_that_serves() {
    let env = env();
    env.ok(&["declare", "--severity", "SEV-2", "--title", "Checkout latency"]);
    let Some(tmux) = Tmux::new("join") else { return };
    // `exec`: the pane's process is the console itself.
    let console = format!(
        "exec env TERM=xterm-256color WARROOM_DATA_DIR={} WARROOM_CONFIG_DIR={} {BIN} --open INC-1",
        env.data.display(),
        env.config.display()
    );
    tmux.run(&["new-session", "-d", "-s", "a", "-x", "260", "-y", "30", &console]);
    tmux.wait_for("a", "console a live", |s| s.contains("INC-1") && s.contains("live"));
    let url = env.wait_discovery(tmux.pane_pid("a"));

    tmux.run(&["new-session", "-d", "-s", "b", "-x", "260", "-y", "30", &console]);
    let b =
        tmux.wait_for("b", "console b joined", |s| s.contains("joined; run by pid") && s.contains("live"));
    assert!(b.contains(&url), "{b}");
    let (_, err) = env.ok(&["log", "-i", "INC-1", "from the shell"]);
    assert_joined(&err, &url);
    tmux.wait_for("a", "the entry on the owner", |s| s.contains("from the shell"));
    tmux.wait_for("b", "the entry on the joined console", |s| s.contains("from the shell"));

    // The owner quits: b serves now and keeps showing what commands write.
    tmux.run(&["send-keys", "-t", "a", "Q"]);
    assert_eq!(env.wait_discovery(tmux.pane_pid("b")), url);
    tmux.wait_for("b", "the takeover notice", |s| s.contains("serves it now"));
    let (_, err) = env.ok(&["log", "-i", "INC-1", "after the owner quit"]);
    assert_joined(&err, &url);
    tmux.wait_for("b", "the entry after the takeover", |s| {
        s.contains("after the owner quit") && s.contains("live")
    });
    tmux.run(&["send-keys", "-t", "b", "Q"]);
}

#[test]
fn a_console_that_serves_quits_on_sigterm_while_a_joined_tail_streams() {
    let env = env();
    env.ok(&["declare", "--severity", "SEV-2", "--title", "Checkout latency"]);
    let Some(tmux) = Tmux::new("sigterm") else { return };
    let console = format!(
        "exec env TERM=xterm-256color WARROOM_DATA_DIR={} WARROOM_CONFIG_DIR={} {BIN} --open INC-1",
        env.data.display(),
        env.config.display()
    );
    tmux.run(&["new-session", "-d", "-s", "a", "-x", "200", "-y", "30", &console]);
    tmux.wait_for("a", "console a live", |s| s.contains("INC-1") && s.contains("live"));
    let owner = tmux.pane_pid("a");
    let url = env.wait_discovery(owner);

    let mut t = env.tail();
    t.wait_err(&format!("joining the embedded server on {url}"));
    env.ok(&["log", "-i", "INC-1", "streamed to the tail"]);
    t.wait_out("streamed to the tail");

    // SIGTERM to the console that serves, while the tail streams from it: it leaves.
    // SAFETY: a plain kill(2) of the pane's process.
    assert_eq!(unsafe { libc::kill(owner as libc::pid_t, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + PATIENCE;
    // SAFETY: signal 0 only asks whether the process still exists.
    while unsafe { libc::kill(owner as libc::pid_t, 0) } == 0 {
        assert!(Instant::now() < deadline, "the console did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The tail takes the server over and goes on showing writes.
    t.wait_err("serves it now");
    assert_eq!(env.wait_discovery(t.pid()), url);
    env.ok(&["log", "-i", "INC-1", "after the console left"]);
    t.wait_out("after the console left");
    assert!(t.quit(), "the tail's clean quit exits 0");
}
