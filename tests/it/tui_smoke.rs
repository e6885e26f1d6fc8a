//! The real console (`tui::run`) in a real terminal (tmux, 80x24), driven by keys as a person
//! would, against a fake sync worker that answers like a server (queued, then acked with a
//! seq). The CLI and the real worker are other modules; this checks the loop, the terminal
//! guard, the keymap and the screen end to end. Skipped with a message when tmux is missing.

use std::path::PathBuf;
use std::process::Command as Proc;
use std::time::{Duration, Instant};

use crate::tui_fixture::*;
use tokio::sync::mpsc;
use warroom::api::{IncidentList, Role};
use warroom::assets::load_practice;
use warroom::client::{Command, LinkState, SyncHandle, SyncMsg, Target};
use warroom::domain::{Event, fold};
use warroom::tui::format::TimeDisplay;
use warroom::tui::{ConsoleOptions, run};

/// A stand-in for the sync worker: hello, snapshot, timelines on request, writes acked.
async fn fake_worker(
    mut rx: mpsc::UnboundedReceiver<Command>,
    tx: mpsc::UnboundedSender<SyncMsg>,
    out: PathBuf,
) {
    let evs = events();
    let mut incidents = vec![fold(&evs).unwrap()];
    incidents.extend(other_incidents());
    let practice = load_practice(None, None).unwrap();
    let _ = tx.send(SyncMsg::Hello { me: me(Role::Commander), practice: Box::new(practice) });
    let _ = tx.send(SyncMsg::Snapshot(IncidentList { seq: 14, incidents }));
    let _ = tx.send(SyncMsg::Link(LinkState::Live { long_poll: false }));
    let mut seq = 1000;
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Command::LoadTimeline { incident } => {
                let events = if incident == INC { evs.clone() } else { Vec::new() };
                let _ = tx.send(SyncMsg::Timeline { incident, events });
            }
            Command::Submit { target, event, if_match } => {
                let line = serde_json::json!({ "event": event, "if_match": if_match });
                let mut text = std::fs::read_to_string(&out).unwrap_or_default();
                text.push_str(&format!("{line}\n"));
                std::fs::write(&out, text).unwrap();
                let _ = tx.send(SyncMsg::Queued { target: target.clone(), event: event.clone() });
                seq += 1;
                let incident = match target {
                    Target::Incident(id) => id,
                    Target::Declare => format!("INC-{seq}"),
                };
                let recorded = Event {
                    seq,
                    id: event.id,
                    incident,
                    author: "alice".into(),
                    occurred_at: event.occurred_at,
                    recorded_at: chrono::Utc::now(),
                    body: event.body,
                };
                let _ = tx.send(SyncMsg::Acked { events: vec![recorded] });
            }
            Command::Shutdown => break,
        }
    }
}

/// Runs inside tmux (started by `console_in_tmux`), never on its own.
#[tokio::test]
#[ignore = "needs a terminal; run by console_in_tmux"]
async fn console_in_a_terminal() {
    let out = PathBuf::from(std::env::var("WARROOM_SMOKE_OUT").expect("WARROOM_SMOKE_OUT"));
    let (sync, cmd_rx) = SyncHandle::channel();
    let (tx, rx) = mpsc::unbounded_channel();
    let worker = tokio::spawn(fake_worker(cmd_rx, tx, out.clone()));
    let opts = ConsoleOptions {
        sync,
        events: rx,
        server_label: "fake worker (smoke test)".into(),
        theme: None,
        config_dir: out.parent().unwrap().to_path_buf(),
        keys: Default::default(),
        time: TimeDisplay::Utc,
        open: None,
        drafts_dir: None,
        cached: None,
        cached_timeline: None,
    };
    run(opts).await.unwrap();
    worker.await.unwrap();
    std::fs::write(out.with_extension("done"), "ok").unwrap();
}

/// Kills the test's own tmux server (its dedicated socket) however the test ends.
struct KillOnDrop(String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let socket =
            Proc::new("tmux").args(["-L", &self.0, "display-message", "-p", "#{socket_path}"]).output();
        let _ = Proc::new("tmux").args(["-L", &self.0, "kill-server"]).output();
        if let Ok(o) = socket {
            let path = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if !path.is_empty() {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

#[test]
fn console_in_tmux() {
    if Proc::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED console_in_tmux: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("submitted.jsonl");
    let exe = std::env::current_exe().unwrap();
    let session = format!("wr-smoke-{}", std::process::id());
    let cmd = format!(
        "env WARROOM_SMOKE_OUT={} TERM=xterm-256color {} --ignored --exact tui_smoke::console_in_a_terminal --nocapture; sleep 30",
        out.display(),
        exe.display()
    );
    let started = Proc::new("tmux")
        .args(["-L", &session, "new-session", "-d", "-s", &session, "-x", "80", "-y", "24", &cmd])
        .output()
        .unwrap();
    // A dedicated server socket (-L) keeps this away from anyone's tmux.
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    let _guard = KillOnDrop(session.clone());
    let t = |args: &[&str]| {
        let mut v = vec!["-L", session.as_str()];
        v.extend_from_slice(args);
        Proc::new("tmux").args(&v).output().unwrap()
    };
    let capture = |label: &str, what: &dyn Fn(&str) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen =
                String::from_utf8_lossy(&t(&["capture-pane", "-p", "-t", &session]).stdout).to_string();
            if what(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("waited in vain for {label}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    capture("the board", &|s| s.contains("INC-7") && s.contains("INC-8") && s.contains("live"));
    t(&["send-keys", "-t", &session, "Enter"]);
    capture("the war room", &|s| s.contains("Timeline (14") && s.contains("Checkout latency"));
    t(&["send-keys", "-t", &session, "n"]);
    capture("the composer", &|s| s.contains("note @"));
    t(&["send-keys", "-t", &session, "-l", "smoke entry from tmux"]);
    t(&["send-keys", "-t", &session, "Enter"]);
    let screen =
        capture("the logged entry", &|s| s.contains("smoke entry from tmux") && s.contains("Timeline (15"));
    assert!(!screen.contains("note @"), "composer closed:\n{screen}");
    let submitted = std::fs::read_to_string(&out).unwrap();
    assert!(
        submitted.contains("\"kind\":\"note\"") && submitted.contains("smoke entry from tmux"),
        "{submitted}"
    );
    // Status change through the picker carries If-Match: the revision seen (the note made it 15).
    t(&["send-keys", "-t", &session, "s"]);
    capture("the status picker", &|s| s.contains("(now)"));
    t(&["send-keys", "-t", &session, "Down"]);
    t(&["send-keys", "-t", &session, "Enter"]);
    capture("the status change", &|s| s.contains("· identified ·") && !s.contains("(now)"));
    let submitted = std::fs::read_to_string(&out).unwrap();
    assert!(
        submitted.contains("\"status\":\"identified\"") && submitted.contains("\"if_match\":15"),
        "{submitted}"
    );
    // Help, then quit; the terminal is restored and the test inside reports success.
    t(&["send-keys", "-t", &session, "?"]);
    capture("help", &|s| s.contains("Keys") && s.contains("copy visible"));
    t(&["send-keys", "-t", &session, "Escape"]);
    // Q only once Esc has been read alone: sent together, a terminal reads them as Alt-Q.
    capture("help closed", &|s| !s.contains("copy visible") && s.contains("Timeline ("));
    t(&["send-keys", "-t", &session, "Q"]);
    let screen = capture("a clean exit", &|s| s.contains("test result: ok"));
    assert!(out.with_extension("done").exists(), "{screen}");
}
