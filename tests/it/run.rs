//! `warroom run`'s engine: masking, running a command with the terminal attached (success,
//! failure, interruption, signals forwarded, output untouched) and the event it becomes.
//!
//! Tests that signal warroom's own process or need a terminal re-run this test binary as a
//! child (`child_mode`, driven by `WARROOM_RUN_CHILD`), so the harness itself is never signalled.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use warroom::domain::{EventBody, EventKind};
use warroom::run::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn default_secrets() -> Vec<String> {
    warroom::config::RunConfig::default().secret_args
}

// ---- masking ---------------------------------------------------------------------------------

#[test]
fn masks_option_values_in_every_form() {
    let names = default_secrets();
    let m = |v: &[&str]| mask_args(&s(v), &names);
    assert_eq!(
        m(&["mysql", "-u", "root", "-p", "hunter2", "db"]),
        s(&["mysql", "-u", "root", "-p", "****", "db"])
    );
    assert_eq!(m(&["mysql", "-phunter2"]), s(&["mysql", "-p****"]));
    assert_eq!(m(&["tool", "--password=hunter2", "--verbose"]), s(&["tool", "--password=****", "--verbose"]));
    assert_eq!(
        m(&["tool", "--token", "abc", "--api-key", "k", "--secret=x"]),
        s(&["tool", "--token", "****", "--api-key", "****", "--secret=****"])
    );
    // A value that looks like an option is still hidden.
    assert_eq!(m(&["tool", "--password", "-x9"]), s(&["tool", "--password", "****"]));
    // A secret option at the very end has nothing to mask.
    assert_eq!(m(&["tool", "--token"]), s(&["tool", "--token"]));
    // Not secrets: other options, lookalike prefixes of long names.
    assert_eq!(m(&["ls", "--passwords-file", "f", "-l"]), s(&["ls", "--passwords-file", "f", "-l"]));
    assert_eq!(m(&["systemctl", "restart", "checkout"]), s(&["systemctl", "restart", "checkout"]));
}

#[test]
fn masks_env_assignments_urls_and_scripts() {
    let names = default_secrets();
    let m = |v: &[&str]| mask_args(&s(v), &names);
    assert_eq!(
        m(&["env", "PGPASSWORD=x", "GITHUB_TOKEN=y", "API_KEY=z", "LANG=C", "psql"]),
        s(&["env", "PGPASSWORD=****", "GITHUB_TOKEN=****", "API_KEY=****", "LANG=C", "psql"])
    );
    assert_eq!(
        m(&["psql", "postgres://app:s3cret@db:5432/x?sslmode=require"]),
        s(&["psql", "postgres://app:****@db:5432/x?sslmode=require"])
    );
    assert_eq!(m(&["curl", "https://example.com/a@b"]), s(&["curl", "https://example.com/a@b"]));
    assert_eq!(
        m(&["sh", "-c", "mysql -p hunter2 -e 'select 1' && curl --token=abc x"]),
        s(&["sh", "-c", "mysql -p **** -e 'select 1' && curl --token=**** x"])
    );
    // Bare names in the config mean the long option; one-letter names never match env names.
    let custom = s(&["vault-token", "k"]);
    assert_eq!(
        mask_args(&s(&["x", "--vault-token", "t", "VAULT_TOKEN=t", "K=v"]), &custom),
        s(&["x", "--vault-token", "****", "VAULT_TOKEN=****", "K=v"])
    );
    assert_eq!(mask_args(&s(&["x", "--password", "p"]), &[]), s(&["x", "--password", "p"]));
}

#[test]
fn shell_join_quotes_only_where_needed() {
    assert_eq!(shell_join(&s(&["systemctl", "restart", "checkout"])), "systemctl restart checkout");
    assert_eq!(shell_join(&s(&["sh", "-c", "echo it's"])), r"sh -c 'echo it'\''s'");
    assert_eq!(shell_join(&s(&["mysql", "-p", MASK, ""])), "mysql -p **** ''");
}

// ---- the event --------------------------------------------------------------------------------

fn outcome(code: Option<i32>, signal: Option<i32>, ms: u64) -> RunOutcome {
    RunOutcome {
        started_at: Utc.with_ymd_and_hms(2026, 11, 22, 14, 30, 0).unwrap(),
        duration: Duration::from_millis(ms),
        exit: Exit { code, signal, core_dumped: false },
    }
}

fn entry_of(body: &EventBody) -> (&str, Vec<&str>) {
    let e = body.as_entry().expect("an entry");
    (e.text.as_str(), e.tags.iter().map(String::as_str).collect())
}

#[test]
fn action_event_texts() {
    let ok = action_event(
        &outcome(Some(0), None, 2345),
        "systemctl restart checkout",
        "jump-1",
        "alice",
        None,
        None,
    );
    assert_eq!(ok.body.kind(), EventKind::Action);
    assert_eq!(ok.occurred_at, outcome(None, None, 0).started_at, "happened when the command started");
    assert_eq!(
        entry_of(&ok.body),
        ("ran `systemctl restart checkout` on host jump-1 as alice: exit 0 after 2.3s", vec!["command"])
    );

    let failed = action_event(
        &outcome(Some(3), None, 125_000),
        "sh -c 'exit 3'",
        "jump-1",
        "bob",
        Some("retry the failed migration"),
        Some(EventKind::Finding),
    );
    assert_eq!(failed.body.kind(), EventKind::Finding);
    assert_eq!(
        entry_of(&failed.body),
        (
            "ran `sh -c 'exit 3'` on host jump-1 as bob: exit 3 after 2m05s — retry the failed migration",
            vec!["command", "failed"]
        )
    );

    let int = action_event(&outcome(None, Some(libc::SIGINT), 400), "sleep 30", "h", "u", Some("  "), None);
    assert_eq!(
        entry_of(&int.body),
        ("ran `sleep 30` on host h as u: interrupted by SIGINT after 0.4s", vec!["command", "interrupted"])
    );
    let killed = action_event(&outcome(None, Some(libc::SIGKILL), 3_700_000), "x", "h", "u", None, None);
    assert!(entry_of(&killed.body).0.ends_with("killed by SIGKILL after 1h01m40s"));

    // Backticks, escape sequences and a non-entry kind.
    let odd = action_event(
        &outcome(Some(0), None, 0),
        "echo `id`\x1b[2J",
        "h\x07",
        "u",
        None,
        Some(EventKind::Declared),
    );
    assert_eq!(odd.body.kind(), EventKind::Action);
    assert_eq!(entry_of(&odd.body).0, "ran `` echo `id` `` on host h as u: exit 0 after 0.0s");
}

#[test]
fn kinds_and_exit_codes() {
    assert_eq!(parse_entry_kind("decision"), Ok(EventKind::Decision));
    assert!(parse_entry_kind("status_changed").unwrap_err().contains("not an entry kind"));
    assert!(parse_entry_kind("nope").is_err());
    assert_eq!(Exit { code: Some(3), signal: None, core_dumped: false }.shell_code(), 3);
    assert_eq!(Exit { code: None, signal: Some(2), core_dumped: false }.shell_code(), 130);
    assert!(!host_name().is_empty() && !user_name().is_empty());
}

// ---- running ----------------------------------------------------------------------------------

#[tokio::test]
async fn succeeding_and_failing_commands() {
    let ok = run_command(&s(&["true"])).await.unwrap();
    assert_eq!(ok.exit, Exit { code: Some(0), signal: None, core_dumped: false });
    assert!(ok.exit.success());
    let before = Utc::now();
    let failed = run_command(&s(&["sh", "-c", "sleep 0.2; exit 3"])).await.unwrap();
    assert_eq!((failed.exit.code, failed.exit.signal), (Some(3), None));
    assert!(failed.duration >= Duration::from_millis(200), "duration measured: {:?}", failed.duration);
    assert!(failed.started_at <= before + chrono::Duration::seconds(5));
    assert_eq!(failed.exit.describe(), "exit 3");
}

#[tokio::test]
async fn a_command_that_cannot_start_is_an_error_not_an_outcome() {
    let e = run_command(&s(&["/nonexistent/warroom-test-cmd"])).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert!(e.to_string().contains("/nonexistent/warroom-test-cmd"), "{e}");
    assert_eq!(run_command(&[]).await.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn interrupted_child_is_recorded_with_its_signal() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let argv = s(&["sleep", "30"]);
    let run = tokio::spawn(async move { run_command_with(&argv, Some(tx)).await });
    let pid = rx.await.unwrap();
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(pid as i32, libc::SIGINT);
    }
    let out = run.await.unwrap().unwrap();
    assert_eq!((out.exit.code, out.exit.signal), (None, Some(libc::SIGINT)));
    assert_eq!(out.exit.describe(), "interrupted by SIGINT");
    assert_eq!(out.exit.shell_code(), 130);
}

// ---- in a child process: output pass-through, signals sent to warroom, a real terminal ------

/// Runs `WARROOM_RUN_CHILD` (JSON argv) through `run_command_with`, writing the child's pid to
/// `<dir>/pid` and the outcome to `<dir>/outcome.json`. A no-op in a normal test run.
#[tokio::test]
async fn child_mode() {
    let (Ok(argv), Ok(dir)) = (std::env::var("WARROOM_RUN_CHILD"), std::env::var("WARROOM_RUN_DIR")) else {
        return;
    };
    let argv: Vec<String> = serde_json::from_str(&argv).unwrap();
    let dir = PathBuf::from(dir);
    let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
    let piddir = dir.clone();
    tokio::spawn(async move {
        if let Ok(pid) = rx.await {
            let tmp = piddir.join("pid.tmp");
            std::fs::write(&tmp, pid.to_string()).unwrap();
            std::fs::rename(tmp, piddir.join("pid")).unwrap();
        }
    });
    let out = run_command_with(&argv, Some(tx)).await.unwrap();
    let tmp = dir.join("outcome.tmp");
    std::fs::write(&tmp, serde_json::to_string(&out).unwrap()).unwrap();
    std::fs::rename(tmp, dir.join("outcome.json")).unwrap();
}

fn child(argv: &[&str], dir: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", "run::child_mode", "--nocapture", "--test-threads=1"])
        .env("WARROOM_RUN_CHILD", serde_json::to_string(argv).unwrap())
        .env("WARROOM_RUN_DIR", dir);
    c
}

/// Waits (without a time assertion: the limit only stops a hung test) for a file to appear.
fn wait_for(path: &Path) -> String {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if let Ok(s) = std::fs::read_to_string(path) {
            return s;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} never appeared", path.display());
}

#[test]
fn output_and_input_pass_through_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let script = r#"read l; printf 'got:%s\n\033[31mred\033[0m\r\n' "$l"; printf 'to-err' >&2; exit 4"#;
    let mut p = child(&["sh", "-c", script], dir.path())
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    use std::io::Write;
    p.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    assert!(p.wait().unwrap().success());
    let stdout = std::fs::read(&out).unwrap();
    let needle = b"got:hello\n\x1b[31mred\x1b[0m\r\n";
    assert!(stdout.windows(needle.len()).any(|w| w == needle), "{}", String::from_utf8_lossy(&stdout));
    assert!(std::fs::read_to_string(&err).unwrap().contains("to-err"));
    let outcome: RunOutcome = serde_json::from_str(&wait_for(&dir.path().join("outcome.json"))).unwrap();
    assert_eq!(outcome.exit.code, Some(4));
}

/// SIGTERM or SIGINT sent to warroom (not through a terminal) reaches the child; warroom
/// survives and records how the child ended.
#[test]
fn signals_sent_to_warroom_are_forwarded_and_recorded() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let dir = tempfile::tempdir().unwrap();
        let mut p =
            child(&["sleep", "30"], dir.path()).stdin(Stdio::null()).stdout(Stdio::null()).spawn().unwrap();
        wait_for(&dir.path().join("pid"));
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(p.id() as i32, sig);
        }
        assert!(p.wait().unwrap().success(), "warroom survived {}", signal_name(sig));
        let outcome: RunOutcome = serde_json::from_str(&wait_for(&dir.path().join("outcome.json"))).unwrap();
        assert_eq!((outcome.exit.code, outcome.exit.signal), (None, Some(sig)));
    }
}

/// A Ctrl-C typed at a real terminal (tmux) interrupts the command, not warroom, which then
/// records it.
#[test]
fn ctrl_c_at_a_terminal_interrupts_the_command_only() {
    if std::process::Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("tmux.sock").display().to_string();
    /// Stops the test's own tmux server however the test ends.
    struct Server(String);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = std::process::Command::new("tmux")
                .args(["-S", &self.0, "kill-server"])
                .stderr(Stdio::null())
                .status();
        }
    }
    let _server = Server(socket.clone());
    let exe = std::env::current_exe().unwrap();
    let argv = serde_json::to_string(&["sleep", "30"]).unwrap();
    let tmux = |args: &[&str]| {
        let st = std::process::Command::new("tmux").arg("-S").arg(&socket).args(args).status().unwrap();
        assert!(st.success(), "tmux {args:?}");
    };
    tmux(&[
        "new-session",
        "-d",
        "-x",
        "80",
        "-y",
        "24",
        "-e",
        &format!("WARROOM_RUN_CHILD={argv}"),
        "-e",
        &format!("WARROOM_RUN_DIR={}", dir.path().display()),
        exe.to_str().unwrap(),
        "--exact",
        "run::child_mode",
        "--nocapture",
        "--test-threads=1",
    ]);
    wait_for(&dir.path().join("pid"));
    tmux(&["send-keys", "C-c"]);
    let outcome = wait_for(&dir.path().join("outcome.json"));
    let outcome: RunOutcome = serde_json::from_str(&outcome).unwrap();
    assert_eq!((outcome.exit.code, outcome.exit.signal), (None, Some(libc::SIGINT)));
}
