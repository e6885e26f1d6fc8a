//! The console a scribe can live in (#11), in a real terminal: the real binary against a
//! `warroom serve` child, in tmux at 80x24 with NO_COLOR. An entry recorded late lands above
//! the visible window and the rows on screen stay put; the composer wraps what is typed and
//! grows; resolving with open items and lowering the severity ask once. Skipped (with a
//! message) where tmux is not installed.

use std::path::Path;

use crate::bin_support::{BIN as EXE, Server, Tmux, cli_in as cli, serve_in};

/// A server with INC-1 (SEV-2) and `notes` notes in its timeline; the console's command line
/// (80x24, NO_COLOR) and the CLI's environment.
fn setup(dir: &Path, notes: usize) -> (Server, String, Vec<(String, String)>) {
    let data = dir.join("server");
    let (server, url) = serve_in(&data, "127.0.0.1:0", &[]);
    let token = cli(&data, &[], &["token", "create", "--name", "alice", "--role", "commander"]);
    let env = vec![("WARROOM_SERVER".to_string(), url.clone()), ("WARROOM_TOKEN".to_string(), token.clone())];
    let e: Vec<(&str, &str)> = env.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let home = dir.join("cli");
    let id = cli(&home, &e, &["declare", "--severity", "SEV-2", "--title", "Checkout API latency"]);
    assert_eq!(id, "INC-1");
    for i in 1..=notes {
        cli(&home, &e, &["log", "--incident", "INC-1", &format!("note number {i}")]);
    }
    let console = format!(
        "env TERM=xterm-256color NO_COLOR=1 WARROOM_DATA_DIR={d} WARROOM_CONFIG_DIR={d} {EXE} --server {url} --token {token} --open INC-1",
        d = dir.join("console").display()
    );
    (server, console, env)
}

/// The number in the timeline pane's title, `Timeline (31 · scrolled)`.
fn count(screen: &str) -> Option<usize> {
    let at = screen.find("Timeline (")? + "Timeline (".len();
    screen[at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
}

/// The timeline pane's rows (between its borders) on an 80x24 screen.
fn timeline_rows(screen: &str) -> Vec<String> {
    let lines: Vec<&str> = screen.lines().collect();
    let top = lines.iter().position(|l| l.contains("┌ Timeline")).expect("the timeline pane");
    lines[top + 1..].iter().take_while(|l| !l.starts_with('└')).map(|l| l.to_string()).collect()
}

#[test]
fn a_late_entry_lands_above_and_the_view_stays_put_and_the_composer_wraps() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, console, env) = setup(dir.path(), 30);
    let Some(tmux) = Tmux::new("scribe") else { return };
    tmux.run(&["new-session", "-d", "-s", "c", "-x", "80", "-y", "24", &console]);
    tmux.wait_for("c", "the war room", |s| s.contains("note number 30") && s.contains("live"));
    // Scroll up, away from the tail.
    for _ in 0..12 {
        tmux.keys("c", &["k"]);
    }
    let before = tmux.wait_for("c", "scrolled", |s| s.contains("scrolled") && s.contains("note number 19"));
    let before_rows = timeline_rows(&before);
    assert_eq!(count(&before), Some(31), "{before}");
    // An entry that happened half an hour ago arrives now: it sorts above the window.
    let e: Vec<(&str, &str)> = env.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let home = dir.path().join("cli");
    cli(&home, &e, &["log", "--incident", "INC-1", "--at", "-30m", "recorded late, happened earlier"]);
    let after = tmux.wait_for("c", "the late entry counted", |s| count(s) == Some(32));
    assert_eq!(timeline_rows(&after), before_rows, "the rows on screen moved:\n{before}\n---\n{after}");
    // At the top of the timeline, marked (ASCII under NO_COLOR).
    tmux.keys("c", &["g"]);
    let top = tmux.wait_for("c", "the top", |s| s.contains("recorded late, happened earlier"));
    let row = timeline_rows(&top).into_iter().next().unwrap();
    assert!(row.contains("recorded late, happened earlier"), "{top}");
    assert!(row.contains(":00<alice") || row.contains("<alice"), "the late mark: {row}");

    // The composer at 80x24 wraps what is typed and grows: every word stays in sight.
    tmux.keys("c", &["G", "n"]);
    tmux.wait_for("c", "composer", |s| s.contains("note @"));
    let text = "the database failover finished and replica lag dropped under one second; \
                日本語のメモ checkout latency recovered to 1.1s p99 in every region we watch closely END";
    tmux.text("c", text);
    let s = tmux.wait_for("c", "the whole text", |s| s.contains("closely END"));
    // (Wide characters wrap where the row ends: CJK text has no spaces to wrap at.)
    for word in ["the database failover", "日本", "のメモ", "replica", "recovered", "closely END"] {
        assert!(s.contains(word), "{word} is out of sight:\n{s}");
    }
    tmux.keys("c", &["Enter"]);
    tmux.wait_for("c", "the note logged", |s| count(s) == Some(33));
}

#[test]
fn resolving_with_open_items_and_lowering_the_severity_ask_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, console, _) = setup(dir.path(), 0);
    let Some(tmux) = Tmux::new("confirm") else { return };
    tmux.run(&["new-session", "-d", "-s", "c", "-x", "80", "-y", "24", &console]);
    tmux.wait_for("c", "the war room", |s| s.contains("INC-1") && s.contains("live"));
    // Severity: SEV-2 -> SEV-3 asks once.
    tmux.keys("c", &["S"]);
    tmux.wait_for("c", "severity picker", |s| s.contains("Severity"));
    tmux.keys("c", &["Down", "Enter"]);
    let s = tmux.wait_for("c", "the downgrade question", |s| s.contains("Enter again to lower it"));
    assert!(s.contains("SEV-2") && s.contains("SEV-3"), "{s}");
    tmux.keys("c", &["Enter"]);
    tmux.wait_for("c", "SEV-3 in the header", |s| {
        s.lines().next().is_some_and(|l| l.contains("SEV-3")) && !s.contains("Enter again")
    });
    // Status: resolved while checklist items are open and roles unheld asks once, naming them.
    tmux.keys("c", &["s"]);
    tmux.wait_for("c", "status picker", |s| s.contains("Status") && s.contains("resolved"));
    tmux.keys("c", &["Down", "Down", "Down", "Down", "Enter"]);
    let s = tmux.wait_for("c", "the resolve question", |s| s.contains("resolve anyway"));
    assert!(s.contains("open checklist item"), "{s}");
    // Esc keeps it as it was.
    tmux.keys("c", &["Escape"]);
    let s = tmux.wait_for("c", "picker closed", |s| !s.contains("resolve anyway"));
    assert!(!s.lines().next().unwrap().contains("resolved"), "{s}");
    tmux.keys("c", &["s"]);
    tmux.wait_for("c", "status picker again", |s| s.contains("Status") && s.contains("resolved"));
    tmux.keys("c", &["Down", "Down", "Down", "Down", "Enter"]);
    tmux.wait_for("c", "asked again", |s| s.contains("resolve anyway"));
    tmux.keys("c", &["Enter"]);
    tmux.wait_for("c", "resolved", |s| s.lines().next().is_some_and(|l| l.contains("resolved")));
}
