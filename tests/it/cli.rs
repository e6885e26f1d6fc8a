//! The real `warroom` binary as a user runs it: `serve` as a child process, `token create`,
//! `declare`, `log`, `export`; `log` against an unreachable server queues and a later command
//! flushes; `kill -9` of the server during a burst of `log`s loses nothing and repeats nothing.

use std::process::{Child, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::bin_support::{Env, text};

impl Env {
    fn outbox_pending(&self) -> usize {
        let mut n = 0;
        for e in std::fs::read_dir(&self.data).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap().to_str().unwrap().starts_with("outbox-") {
                let o = warroom::client::Outbox::at(p).unwrap();
                n += o.pending().unwrap().len();
            }
        }
        n
    }
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {:?}\nstdout: {}\nstderr: {}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

fn token(env: &Env) -> String {
    let t = ok(&env.run(&["token", "create", "--name", "scribe", "--role", "commander"]));
    let t = t.trim().to_string();
    assert!(t.starts_with("wr_") && !t.contains(char::is_whitespace), "{t:?}");
    t
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn export(env: &Env, url: &str, tok: &str, inc: &str) -> serde_json::Value {
    let out = ok(&env.run(&["--server", url, "--token", tok, "export", inc, "--format", "json"]));
    serde_json::from_str(&out).unwrap()
}

fn entry_texts(doc: &serde_json::Value) -> Vec<String> {
    doc["events"].as_array().unwrap().iter().filter_map(|e| e["text"].as_str().map(str::to_string)).collect()
}

fn kill(mut child: Child) {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

#[test]
fn serve_token_declare_log_export() {
    let env = Env::new();
    let (server, url) = env.serve("127.0.0.1:0");
    let tok = token(&env);
    let args = ["--server", url.as_str(), "--token", tok.as_str()];
    let out = ok(&env
        .cmd()
        .args(args)
        .args(["declare", "--severity", "SEV-2", "--title", "Checkout down"])
        .output()
        .unwrap());
    assert_eq!(out, "INC-1\n");
    let out = env
        .cmd()
        .args(args)
        .args([
            "log",
            "--incident",
            "INC-1",
            "--kind",
            "finding",
            "--at",
            "2026-11-23T10:00:00Z",
            "db",
            "pool",
            "exhausted",
        ])
        .output()
        .unwrap();
    ok(&out);
    let doc = export(&env, &url, &tok, "INC-1");
    assert_eq!(doc["incident"]["id"], "INC-1");
    assert_eq!(doc["incident"]["severity"], "SEV-2");
    let events = doc["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["kind"], "finding");
    assert_eq!(events[1]["text"], "db pool exhausted");
    assert_eq!(events[1]["occurred_at"], "2026-11-23T10:00:00Z");
    assert_eq!(events[1]["author"], "scribe");

    // The post-mortem in Markdown carries the title and the finding.
    let md = ok(&env.cmd().args(args).args(["export", "INC-1", "--format", "markdown"]).output().unwrap());
    assert!(md.contains("Checkout down"), "{md}");
    assert!(md.contains("db pool exhausted"), "{md}");

    // A wrong token is a clear error, not a queue.
    let o = env.run(&["--server", &url, "--token", "wr_bad", "export", "INC-1"]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("the server refused the token"), "{}", text(&o.stderr));

    // A viewer may not log: a clear 403, and the write is kept in the rejected file.
    let viewer = ok(&env.run(&["token", "create", "--name", "watcher", "--role", "viewer"]));
    let o = env.run(&["--server", &url, "--token", viewer.trim(), "log", "--incident", "INC-1", "hello"]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("not allowed"), "{}", text(&o.stderr));
    assert_eq!(env.outbox_pending(), 0);
    kill(server);
}

#[test]
fn log_against_an_unreachable_server_is_queued_and_sent_later() {
    let env = Env::new();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let (server, url) = env.serve(&listen);
    let tok = token(&env);
    let args = ["--server", url.as_str(), "--token", tok.as_str()];
    ok(&env
        .cmd()
        .args(args)
        .args(["declare", "--severity", "SEV-3", "--title", "Slow search"])
        .output()
        .unwrap());
    kill(server);

    let o = env
        .cmd()
        .args(args)
        .args(["log", "--incident", "INC-1", "written while the server was down"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("queued"), "{err}");
    assert!(err.contains(&format!("cannot reach {url}")), "{err}");
    // Only the command's own plain messages: its log lines go to <data dir>/logs/cli.log.
    assert!(err.lines().all(|l| l.starts_with("warroom: ")), "{err}");
    assert_eq!(env.outbox_pending(), 1);

    let (server, _) = env.serve(&listen);
    let doc = export(&env, &url, &tok, "INC-1");
    assert_eq!(entry_texts(&doc), vec!["written while the server was down".to_string()]);
    assert_eq!(env.outbox_pending(), 0);
    kill(server);
}

#[test]
fn kill_9_of_the_server_during_a_burst_of_logs_loses_and_repeats_nothing() {
    let env = Arc::new(Env::new());
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let (server, url) = env.serve(&listen);
    let tok = token(&env);
    ok(&env.run(&["--server", &url, "--token", &tok, "declare", "--severity", "SEV-1", "--title", "Outage"]));

    let n = 40;
    let done = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (env, url, tok, done) = (env.clone(), url.clone(), tok.clone(), done.clone());
        std::thread::spawn(move || {
            let mut accepted = Vec::new();
            let mut queued = 0;
            for i in 0..n {
                let msg = format!("burst {i}");
                // A user would retry a failed command; `log` itself should never fail here.
                for _attempt in 0..3 {
                    let o = env.run(&["--server", &url, "--token", &tok, "log", "--incident", "INC-1", &msg]);
                    if o.status.success() {
                        queued += usize::from(text(&o.stderr).contains("queued"));
                        accepted.push(msg.clone());
                        break;
                    }
                    eprintln!("log failed: {}", text(&o.stderr));
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
            (accepted, queued)
        })
    };
    while done.load(Ordering::SeqCst) < 10 {
        std::thread::yield_now();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    kill(server);
    while done.load(Ordering::SeqCst) < 20 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let (server, _) = env.serve(&listen);
    let (accepted, queued) = writer.join().unwrap();
    assert!(queued > 0, "some logs ran while the server was down");
    assert_eq!(accepted.len(), n, "every log was accepted (sent or queued)");

    let doc = export(&env, &url, &tok, "INC-1");
    let texts = entry_texts(&doc);
    for m in &accepted {
        assert_eq!(texts.iter().filter(|t| *t == m).count(), 1, "{m} must be there exactly once");
    }
    assert_eq!(texts.len(), n);
    assert_eq!(env.outbox_pending(), 0);
    let seqs: Vec<u64> =
        doc["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    kill(server);
}

#[test]
fn help_is_there_for_every_command() {
    let env = Env::new();
    for cmd in [
        &[][..],
        &["serve"],
        &["token"],
        &["token", "create"],
        &["declare"],
        &["log"],
        &["tail"],
        &["export"],
        &["demo"],
    ] {
        let o = env.cmd().args(cmd).arg("--help").output().unwrap();
        let out = ok(&o);
        assert!(out.contains("Usage:"), "{cmd:?}: {out}");
    }
}

#[test]
fn without_a_server_commands_use_the_embedded_one() {
    let env = Env::new();
    let out = ok(&env.run(&["declare", "--severity", "SEV-4", "--title", "Local only"]));
    assert_eq!(out, "INC-1\n");
    ok(&env.run(&["log", "--incident", "INC-1", "kept locally"]));
    let token = env.data.join("embedded-token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&token).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // The same token is used the next time; the demo loads next to it.
    let before = std::fs::read_to_string(&token).unwrap();
    let err = text(&env.run(&["demo"]).stderr);
    assert!(err.contains("loaded demo incidents INC-2, INC-3"), "{err}");
    assert_eq!(std::fs::read_to_string(&token).unwrap(), before);
    let out = ok(&env.run(&["export", "INC-3"]));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["incident"]["status"], "identified");
    assert!(doc["events"].as_array().unwrap().len() > 20);
    let kinds: std::collections::BTreeSet<&str> =
        doc["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.len() >= 14, "{kinds:?}");
    let doc: serde_json::Value = serde_json::from_str(&ok(&env.run(&["export", "INC-1"]))).unwrap();
    assert_eq!(entry_texts(&doc), vec!["kept locally".to_string()]);
}

/// #11: a `tail` whose token is revoked while it follows stops with the reason (exit non-zero)
/// instead of retrying forever.
#[test]
fn a_tail_whose_token_is_revoked_exits_with_the_reason() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let env = Env::new();
    let (server, url) = env.serve("127.0.0.1:0");
    let tok = token(&env);
    let mut tail = env
        .cmd()
        .args(["--server", &url, "--token", &tok, "tail"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its stderr, line by line, from a thread (the test waits with deadlines).
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = tail.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut said = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !said.iter().any(|l: &String| l.contains("live")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => said.push(l),
            Err(_) => panic!("the tail never went live: {said:?}"),
        }
    }
    ok(&env.run(&["token", "revoke", "scribe"]));
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = tail.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = tail.kill();
            panic!("the tail kept running with a revoked token: {said:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Every line it printed: the reader ends at the pipe's end, after sending its last.
    reader.join().expect("the stderr reader");
    said.extend(rx.try_iter());
    assert!(!status.success(), "{status:?}: {said:?}");
    let last = said.last().cloned().unwrap_or_default();
    assert!(last.contains("revoked") || last.contains("unknown token"), "{said:?}");
    kill(server);
}

/// #15 item 5: a hostile server's error message reaches the terminal without escape sequences
/// (an OSC 52 would write the user's clipboard).
#[test]
fn a_servers_error_message_reaches_stderr_without_escape_sequences() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body =
                r#"{"error":"not_found","message":"no such incident \u001b]52;c;aGFja2Vk\u0007\u001b[2J"}"#;
            let _ = write!(
                s,
                "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let env = Env::new();
    let o = env.run(&["--server", &url, "--token", "wr_x", "export", "INC-1"]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("no such incident"), "{err:?}");
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
}
