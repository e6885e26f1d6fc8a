//! The real binary as people use it: a `warroom serve` child process and two consoles in tmux
//! (80x24, one of them with NO_COLOR). A note typed in one appears in the other; a resize while
//! typing loses nothing; killing and restarting the server shows "reconnecting" and then live
//! again. Skipped (with a message) where tmux is not installed.

use std::process::Command;

use crate::bin_support::{BIN as EXE, Tmux, serve_in};

fn cli(data: &std::path::Path, args: &[&str]) -> String {
    let o = Command::new(EXE)
        .args(args)
        .env("WARROOM_DATA_DIR", data)
        .env("WARROOM_CONFIG_DIR", data.join("config"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn two_consoles_share_a_note_survive_a_resize_and_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let (server, url) = serve_in(&data, "127.0.0.1:0", &[]);
    let token = cli(&data, &["token", "create", "--name", "alice", "--role", "commander"]);
    let viewer = cli(&data, &["token", "create", "--name", "eve", "--role", "viewer"]);
    let env = [("WARROOM_SERVER", url.as_str()), ("WARROOM_TOKEN", token.as_str())];
    let id = Command::new(EXE)
        .args(["declare", "--severity", "SEV-2", "--title", "Checkout API latency"])
        .envs(env)
        .env("WARROOM_DATA_DIR", dir.path().join("cli"))
        .env("WARROOM_CONFIG_DIR", dir.path().join("cli"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&id.stdout).trim(), "INC-1");

    let Some(tmux) = Tmux::new("e2e") else { return };
    let console = |name: &str, tok: &str, extra: &str| {
        let home = dir.path().join(name);
        format!(
            "env TERM=xterm-256color {extra} WARROOM_DATA_DIR={d} WARROOM_CONFIG_DIR={d} {EXE} --server {url} --token {tok} --open INC-1",
            d = home.display()
        )
    };
    let a = console("a", &token, "");
    let b = console("b", &viewer, "NO_COLOR=1");
    tmux.run(&["new-session", "-d", "-s", "a", "-x", "80", "-y", "24", &a]);
    tmux.run(&["new-session", "-d", "-s", "b", "-x", "80", "-y", "24", &b]);
    tmux.wait_for("a", "war room a", |s| s.contains("INC-1") && s.contains("live"));
    tmux.wait_for("b", "war room b", |s| s.contains("INC-1") && s.contains("live"));

    // Start a note, resize mid-sentence, finish it: nothing typed is lost.
    tmux.keys("a", &["n"]);
    tmux.wait_for("a", "composer", |s| s.contains("note @"));
    tmux.text("a", "p99 at 6s since ");
    tmux.run(&["resize-window", "-t", "a", "-x", "120", "-y", "40"]);
    tmux.wait_for("a", "resized composer", |s| s.contains("p99 at 6s since"));
    tmux.run(&["resize-window", "-t", "a", "-x", "80", "-y", "24"]);
    tmux.text("a", "the 14:02 deploy");
    tmux.wait_for("a", "typed text after resizes", |s| s.contains("p99 at 6s since the 14:02 deploy"));
    tmux.keys("a", &["Enter"]);

    // It appears on the other console, live.
    tmux.wait_for("b", "the note on console b", |s| s.contains("p99 at 6s since the 14:02 deploy"));

    // Kill the server: both consoles say so; restart it on the same port: live again.
    let port = url.rsplit(':').next().unwrap().to_string();
    drop(server);
    tmux.wait_for("b", "reconnecting on b", |s| s.contains("reconnecting") || s.contains("offline"));
    // A note typed while the server is down is kept (queued) and sent after the restart.
    tmux.keys("a", &["n"]);
    tmux.wait_for("a", "composer while down", |s| s.contains("note @"));
    tmux.text("a", "written while the server was down");
    tmux.keys("a", &["Enter"]);
    tmux.wait_for("a", "queued entry shown", |s| s.contains("written while the server was down"));
    let (_server, _) = serve_in(&data, &format!("127.0.0.1:{port}"), &[]);
    tmux.wait_for("b", "queued note reaches b after restart", |s| {
        s.contains("written while the server was down") && s.contains("live")
    });
    // With NO_COLOR the console uses attributes only: no SGR colour anywhere (39/49, "default
    // colour", are allowed: they set none).
    let styled = tmux.run(&["capture-pane", "-p", "-e", "-t", "b"]);
    assert!(styled.contains("\u{1b}["), "capture-pane -e shows attributes (bold/reverse)");
    let colours: Vec<&str> = styled
        .split("\u{1b}[")
        .skip(1)
        .filter_map(|seq| seq.split_once('m').map(|(params, _)| params))
        .filter(|params| {
            params.split(';').any(|p| matches!(p.parse::<u32>(), Ok(30..=38) | Ok(40..=48) | Ok(90..=107)))
        })
        .collect();
    assert!(colours.is_empty(), "NO_COLOR console used colours: {colours:?}");
    let coloured = tmux.run(&["capture-pane", "-p", "-e", "-t", "a"]);
    assert!(
        coloured.split("\u{1b}[").any(|seq| seq
            .split(['m', ';'])
            .any(|p| matches!(p.parse::<u32>(), Ok(30..=38) | Ok(40..=48) | Ok(90..=107)))),
        "the default theme does use colours (so the check above can fail)"
    );

    // Keys (#11): `/` searches as you type, `n` moves to the next match (no composer), `q`
    // goes back (like esc), `q` on the board quits.
    tmux.keys("a", &["/"]);
    tmux.wait_for("a", "search prompt", |s| s.contains("Search the timeline"));
    tmux.text("a", "server was");
    tmux.wait_for("a", "incremental search", |s| s.contains("/server was"));
    tmux.keys("a", &["Enter"]);
    tmux.wait_for("a", "search done", |s| s.contains("entries match"));
    tmux.keys("a", &["n"]);
    let s = tmux.wait_for("a", "next match", |s| s.contains("match 1 of 1"));
    assert!(!s.contains("note @"), "n started a note during a search:\n{s}");
    // Like esc, the first `q` clears the search, the next one leaves the war room.
    tmux.keys("a", &["q"]);
    tmux.wait_for("a", "search cleared by q", |s| s.contains("filter cleared"));
    tmux.keys("a", &["q"]);
    tmux.wait_for("a", "the board after q", |s| s.contains("declare incident"));
    tmux.keys("a", &["q"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while tmux.run(&["list-sessions", "-F", "#{session_name}"]).lines().any(|l| l == "a") {
        assert!(std::time::Instant::now() < deadline, "q on the board did not quit:\n{}", tmux.screen("a"));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    tmux.keys("b", &["Q"]);
}
