//! The real binary, as a scribe meets it: `warroom serve` restarted on a read-only database
//! (`--db sqlite://...?mode=ro`, as a disk remounted read-only; file permissions would not stop
//! root), a console in tmux at 80x24 that says the server refuses writes while three notes wait
//! in its outbox, then `kill -9` of that console. After the server is back on its writable
//! file, a new console on the same data dir sends the notes: each shows once on screen and the
//! server holds each exactly once; the outbox is empty. Skipped (with a message) where tmux is
//! not installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::bin_support::{BIN as EXE, Tmux, serve_in};

const NOTES: [&str; 3] = [
    "paged the DBA about the disk",
    "db-primary volume remounted read-only",
    "failover to replica-2 started",
];

fn cli(data: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let o = Command::new(EXE)
        .args(args)
        .envs(env.iter().copied())
        .env("WARROOM_DATA_DIR", data)
        .env("WARROOM_CONFIG_DIR", data.join("config"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Lines of the console's outbox file(s): one per write not yet acknowledged (acks are lines
/// too, but none happen while the server refuses).
fn outbox_lines(console: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(console).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("outbox-") && name.ends_with(".jsonl") {
            let text = std::fs::read_to_string(&path).unwrap();
            lines.extend(text.lines().filter(|l| !l.trim().is_empty()).map(str::to_string));
        }
    }
    lines
}

fn alive(pid: i32) -> bool {
    Command::new("kill").args(["-0", &pid.to_string()]).status().is_ok_and(|s| s.success())
}

#[test]
fn a_console_killed_with_entries_the_server_refused_loses_nothing_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let (server, url) = serve_in(&data, "127.0.0.1:0", &[]);
    let port = url.rsplit(':').next().unwrap().to_string();
    let listen = format!("127.0.0.1:{port}");
    let token = cli(&data, &[], &["token", "create", "--name", "scribe", "--role", "scribe"]);
    let env = [("WARROOM_SERVER", url.as_str()), ("WARROOM_TOKEN", token.as_str())];
    let id =
        cli(&dir.path().join("cli"), &env, &["declare", "--severity", "SEV-2", "--title", "Disk trouble"]);
    assert_eq!(id, "INC-1");

    // The console, in a shell that writes its pid and then becomes it.
    let console_dir: PathBuf = dir.path().join("console");
    let pidfile = dir.path().join("console.pid");
    let console_cmd = |pidfile: &Path| {
        format!(
            "echo $$ > {pid}; exec env TERM=xterm-256color WARROOM_DATA_DIR={d} WARROOM_CONFIG_DIR={d} \
             {EXE} --server {url} --token {token} --open INC-1",
            pid = pidfile.display(),
            d = console_dir.display()
        )
    };
    let Some(tmux) = Tmux::new("crash") else { return };
    tmux.run(&["new-session", "-d", "-s", "a", "-x", "80", "-y", "24", &console_cmd(&pidfile)]);
    tmux.wait_for("a", "war room", |s| s.contains("INC-1") && s.contains("● live"));

    // The database goes read-only: the server comes back on the same file, opened read-only.
    drop(server);
    let ro = format!("sqlite://{}?mode=ro", data.join("warroom.db").display());
    let (server, _) = serve_in(&data, &listen, &["--db", &ro]);
    tmux.wait_for("a", "live again on the read-only server", |s| s.contains("● live"));

    for note in NOTES {
        tmux.keys("a", &["n"]);
        tmux.wait_for("a", "composer", |s| s.contains("note @"));
        tmux.text("a", note);
        tmux.wait_for("a", "typed note", |s| s.contains(note));
        tmux.keys("a", &["Enter"]);
        tmux.wait_for("a", "note shown pending", |s| {
            !s.contains("note @") && s.lines().any(|l| l.contains(note) && l.contains("pending"))
        });
    }
    let screen = tmux.wait_for("a", "the refusal", |s| {
        s.contains("✕ server refuses writes: the database is read-only or full — 3 queued, retrying")
    });
    assert!(screen.contains("✕ writes refused · 3 queued"), "the header says it too:\n{screen}");
    for note in NOTES {
        let rows: Vec<&str> = screen.lines().filter(|l| l.contains(note)).collect();
        assert_eq!(rows.len(), 1, "{note}:\n{screen}");
        assert!(rows[0].contains('…') && rows[0].contains("pending"), "{}", rows[0]);
    }
    let lines = outbox_lines(&console_dir);
    assert_eq!(lines.len(), 3, "the outbox holds the three notes: {lines:#?}");
    for (line, note) in lines.iter().zip(NOTES) {
        assert!(line.contains(note) && line.contains("\"push\""), "{line}");
    }

    // kill -9 the console with its outbox full.
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert!(alive(pid));
    assert!(Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while alive(pid) {
        assert!(Instant::now() < deadline, "the console outlived kill -9");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(outbox_lines(&console_dir).len(), 3, "kill -9 lost nothing on disk");

    // The server takes writes again; a new console on the same data dir sends the notes.
    drop(server);
    let (_server, _) = serve_in(&data, &listen, &[]);
    let pidfile2 = dir.path().join("console2.pid");
    tmux.run(&["new-session", "-d", "-s", "b", "-x", "80", "-y", "24", &console_cmd(&pidfile2)]);
    let screen = tmux.wait_for("b", "the notes, recorded", |s| {
        s.contains("● live")
            && !s.contains("queued")
            && NOTES.iter().all(|n| s.lines().any(|l| l.contains(n) && !l.contains("pending")))
    });
    for note in NOTES {
        assert_eq!(screen.lines().filter(|l| l.contains(note)).count(), 1, "{note} once:\n{screen}");
    }
    assert!(!screen.contains("refuse"), "{screen}");

    // The server holds each note exactly once; the outbox is empty.
    warroom::client::init_tls();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let snap: serde_json::Value = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{url}/api/v1/incidents/INC-1?events=true"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let events = snap["events"].as_array().expect("events");
    for note in NOTES {
        let n = events.iter().filter(|e| e["kind"] == "note" && e["text"] == note).count();
        assert_eq!(n, 1, "{note} held {n} times: {events:#?}");
    }
    let pending = warroom::client::Outbox::open(&console_dir, &url).unwrap().pending().unwrap();
    assert!(pending.is_empty(), "{pending:#?}");
    assert!(outbox_lines(&console_dir).is_empty(), "{:#?}", outbox_lines(&console_dir));

    tmux.keys("b", &["Q"]);
}
