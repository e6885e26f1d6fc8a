//! Trust under fire, round 2 (#15), the client's side: drafts (and corrections being typed) that survive a `kill -9`
//! of the console (item 3), corrections only of entries (4), JSON output that cannot drive a terminal
//! and titles that show something (5), `warroom run` masking secrets anywhere (6), a private
//! data dir whatever the umask (9), torn outbox lines kept in the rejected file (11) and
//! keymaps refused at load (14). The real binary throughout, against a real server; the
//! console in tmux (skipped, with a message, where tmux is not installed).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::bin_support::{BIN, PATIENCE, Server, Tmux, text};
use crate::server_support::{self, expect_error};
use crate::tui_fixture;
use warroom::api::Role;
use warroom::domain::{EventBody, EventKind, NewEvent};
use warroom::run::{mask_args, shell_join};

/// `warroom <args>` on `data` (config in `data/config`) under `umask 000`, as a careless
/// shell profile would start it: what warroom creates must be private all the same.
fn wr(data: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new("sh")
        .args(["-c", "umask 000; exec \"$0\" \"$@\"", BIN])
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("WARROOM_SERVER")
        .env_remove("WARROOM_TOKEN")
        .envs(env.iter().copied())
        .env("WARROOM_DATA_DIR", data)
        .env("WARROOM_CONFIG_DIR", data.join("config"))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn wr_ok(data: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let o = wr(data, env, args);
    assert!(o.status.success(), "{args:?}: {}{}", text(&o.stdout), text(&o.stderr));
    text(&o.stdout).trim().to_string()
}

/// A server under `umask 000`, with a scribe token: (server, url, token).
fn server(dir: &Path) -> (Server, String, String) {
    let data = dir.join("server");
    let mut child = Command::new("sh")
        .args(["-c", "umask 000; exec \"$0\" \"$@\"", BIN, "serve", "--listen", "127.0.0.1:0"])
        .env("WARROOM_DATA_DIR", &data)
        .env("WARROOM_CONFIG_DIR", data.join("config"))
        .env_remove("RUST_LOG")
        .env_remove("JOURNAL_STREAM")
        .env_remove("WARROOM_LOG_TARGET")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line)
        .unwrap();
    let url =
        line.split_whitespace().find(|w| w.starts_with("http://")).expect("serve prints its URL").to_string();
    let server = Server(child);
    let token = wr_ok(&data, &[], &["token", "create", "--name", "scribe", "--role", "scribe"]);
    (server, url, token)
}

/// Every file and dir under `dir` whose mode is not 0600 (files) or 0700 (dirs).
fn not_private(dir: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        let want = if meta.is_dir() { 0o700 } else { 0o600 };
        if mode != want {
            bad.push(format!("{} {mode:o}", p.display()));
        }
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    bad
}

fn files_named(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|rd| rd.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
    v.retain(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix));
    v
}

/// Waits until `want` holds; fails with `label` after [`PATIENCE`].
fn wait_until(label: &str, want: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !want() {
        assert!(Instant::now() < deadline, "{label}: never happened");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Whether a draft file of INC-1 under `drafts` (one directory per server) holds `text`.
fn draft_of_inc1_holds(drafts: &Path, text: &str) -> bool {
    files_named(drafts, "")
        .iter()
        .map(|d| d.join("INC-1.json"))
        .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(text)))
}

/// `kill -9` of the process whose pid is in `pidfile`, and waits until it is gone.
fn kill_9(pidfile: &Path) {
    let pid = std::fs::read_to_string(pidfile).unwrap().trim().to_string();
    assert!(Command::new("kill").args(["-9", &pid]).status().unwrap().success());
    wait_until("the console gone", || !alive(&pid));
}

fn alive(pid: &str) -> bool {
    Command::new("kill").args(["-0", pid]).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

// ---- item 3 (and 9 for the console): drafts survive kill -9 ---------------------------------

/// A console on INC-1 for tmux, with a data dir in `dir` and its shell's pid written to a file
/// (for kill -9): `(data dir, pid file, command)`. `umask 000` checks the console makes its own
/// files private whatever the umask.
fn console_on_inc1(dir: &Path, url: &str, token: &str) -> (PathBuf, PathBuf, String) {
    let console = dir.join("console");
    let pidfile = dir.join("console.pid");
    let cmd = format!(
        "umask 000; echo $$ > {pid}; exec env TERM=xterm-256color WARROOM_DATA_DIR={d} WARROOM_CONFIG_DIR={d}/config \
         {BIN} --server {url} --token {token} --open INC-1",
        pid = pidfile.display(),
        d = console.display()
    );
    (console, pidfile, cmd)
}

#[test]
fn a_draft_typed_in_the_console_survives_kill_9_and_goes_once_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url, token) = server(dir.path());
    let env = [("WARROOM_SERVER", url.as_str()), ("WARROOM_TOKEN", token.as_str())];
    let id =
        wr_ok(&dir.path().join("cli"), &env, &["declare", "--severity", "SEV-2", "--title", "Disk trouble"]);
    assert_eq!(id, "INC-1");

    let (console, pidfile, cmd) = console_on_inc1(dir.path(), &url, &token);
    let Some(tmux) = Tmux::new("drafts") else { return };
    tmux.run(&["new-session", "-d", "-s", "a", "-x", "80", "-y", "24", &cmd]);
    tmux.wait_for("a", "war room", |s| {
        s.contains("INC-1") && s.contains("● live") && s.contains("Disk trouble")
    });
    let draft = "replica-2 lag grows 30s per minute";
    tmux.keys("a", &["f"]);
    tmux.wait_for("a", "composer", |s| s.contains("finding @"));
    tmux.text("a", draft);
    tmux.wait_for("a", "typed", |s| s.contains(draft));

    // Saved as typed (no Esc, no Enter): the file holds the whole text.
    let drafts = console.join("drafts");
    let saved = || draft_of_inc1_holds(&drafts, draft);
    wait_until("the draft saved in the data dir", saved);
    kill_9(&pidfile);
    assert_eq!(not_private(&console), Vec::<String>::new(), "the console's data dir is private");

    // A new console offers it, and the finding key continues it.
    tmux.run(&["new-session", "-d", "-s", "b", "-x", "80", "-y", "24", &cmd]);
    // (The start also says `✎ unsent drafts restored: INC-1 finding`, but that notice goes at the
    // first key or resize, so the test does not race for it: the composer is the proof.)
    tmux.wait_for("b", "war room", |s| s.contains("● live") && s.contains("Disk trouble"));
    tmux.keys("b", &["f"]);
    tmux.wait_for("b", "the draft restored", |s| s.contains("finding @") && s.contains(draft));
    tmux.keys("b", &["Enter"]);
    wait_until("the draft file removed once sent", || !saved());
    let export = wr_ok(&dir.path().join("cli"), &env, &["export", "INC-1", "--format", "json"]);
    assert_eq!(export.matches(draft).count(), 1, "sent once: {export}");
}

#[test]
fn a_correction_being_typed_survives_kill_9_and_goes_once_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url, token) = server(dir.path());
    let env = [("WARROOM_SERVER", url.as_str()), ("WARROOM_TOKEN", token.as_str())];
    let id =
        wr_ok(&dir.path().join("cli"), &env, &["declare", "--severity", "SEV-2", "--title", "Disk trouble"]);
    assert_eq!(id, "INC-1");
    wr_ok(&dir.path().join("cli"), &env, &["log", "--incident", "INC-1", "db at 98 percent"]);

    let (console, pidfile, cmd) = console_on_inc1(dir.path(), &url, &token);
    let Some(tmux) = Tmux::new("correction-drafts") else { return };
    tmux.run(&["new-session", "-d", "-s", "a", "-x", "80", "-y", "24", &cmd]);
    tmux.wait_for("a", "war room", |s| s.contains("● live") && s.contains("db at 98 percent"));
    // The newest entry is selected while following: `c` corrects the note.
    tmux.keys("a", &["c"]);
    tmux.wait_for("a", "correction editor", |s| s.contains(" correction ") && s.contains("db at 98 percent"));
    let typed = " on replica-2";
    let fixed = "db at 98 percent on replica-2";
    tmux.text("a", typed);
    tmux.wait_for("a", "typed", |s| s.contains(fixed));

    // Saved as typed (no Esc, no Enter), 0600 in a private dir.
    let drafts = console.join("drafts");
    let saved = || draft_of_inc1_holds(&drafts, fixed);
    wait_until("the correction saved in the data dir", saved);
    kill_9(&pidfile);
    assert_eq!(not_private(&console), Vec::<String>::new(), "the console's data dir is private");

    // A new console offers it, and `c` on the same entry continues it.
    tmux.run(&["new-session", "-d", "-s", "b", "-x", "80", "-y", "24", &cmd]);
    tmux.wait_for("b", "war room", |s| s.contains("● live") && s.contains("db at 98 percent"));
    tmux.keys("b", &["c"]);
    tmux.wait_for("b", "the correction restored", |s| s.contains(" correction ") && s.contains(fixed));
    tmux.keys("b", &["Enter"]);
    wait_until("the draft file removed once sent", || !saved());
    let export = wr_ok(&dir.path().join("cli"), &env, &["export", "INC-1", "--format", "json"]);
    let events: Value = serde_json::from_str(&export).unwrap();
    let fixes: Vec<&Value> =
        events["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "correction").collect();
    assert_eq!(fixes.len(), 1, "sent once: {export}");
    assert_eq!(fixes[0]["text"], fixed, "{export}");
}

// ---- item 4: corrections amend entries only ---------------------------------------------------

#[tokio::test]
async fn a_correction_of_a_severity_or_status_change_is_a_422_naming_why() {
    let srv = server_support::start(server_support::options(Default::default())).await;
    let tok = srv.token(Role::Commander).to_string();
    let declared = NewEvent::now(EventBody::Declared {
        title: "Checkout down".into(),
        severity: "SEV-2".into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    });
    let res = srv.post("/api/v1/incidents", &tok, &json!(declared)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let sev = NewEvent::now(EventBody::SeverityChanged { severity: "SEV-1".into() });
    let status = NewEvent::now(EventBody::StatusChanged { status: warroom::domain::Status::Investigating });
    let note = NewEvent::now(EventBody::entry(EventKind::Note, "db at 98%").unwrap());
    let comms = NewEvent::now(EventBody::CommsSent {
        channel: "status".into(),
        text: "We look".into(),
        template: None,
    });
    let path = "/api/v1/incidents/INC-1/events";
    let res = srv.post(path, &tok, &json!({"events": [&sev, &status, &note, &comms]})).await;
    assert_eq!(res.status(), StatusCode::OK);

    for (target, says) in [(declared.id, "declared"), (sev.id, "severity"), (status.id, "status")] {
        let fix = NewEvent::now(EventBody::Correction { target, text: "SEV-3".into() });
        let e = expect_error(
            srv.post(path, &tok, &json!({"events": [fix]})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_target",
        )
        .await;
        assert!(e.message.contains("cannot be corrected") && e.message.contains(says), "{}", e.message);
    }
    // In one batch with the event it targets, too.
    let sev2 = NewEvent::now(EventBody::SeverityChanged { severity: "SEV-2".into() });
    let fix = NewEvent::now(EventBody::Correction { target: sev2.id, text: "x".into() });
    let res = srv.post(path, &tok, &json!({"events": [sev2, fix]})).await;
    expect_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_target").await;

    for target in [note.id, comms.id] {
        let fix = NewEvent::now(EventBody::Correction { target, text: "amended".into() });
        assert_eq!(srv.post(path, &tok, &json!({"events": [fix]})).await.status(), StatusCode::OK);
    }
    let snap: Value = srv.get("/api/v1/incidents/INC-1", &tok).await.json().await.unwrap();
    assert_eq!(snap["incident"]["severity"], "SEV-1", "the refused batch changed nothing");
    srv.shutdown().await;
}

#[test]
fn the_console_correct_key_on_a_status_change_says_why_not_and_corrects_comms() {
    let k = warroom::tui::keymap::Keymap::defaults();
    let mut s = tui_fixture::room();
    let kind_at_sel = |s: &warroom::tui::state::State| {
        let tl = s.timeline(tui_fixture::INC).unwrap();
        match tl.row(s.timeline_sel()?)? {
            warroom::tui::state::Row::Event(e) => Some(e.kind()),
            _ => None,
        }
    };
    let mut seen = Vec::new();
    let mut found_status = false;
    for _ in 0..20 {
        let kind = kind_at_sel(&s);
        seen.push(kind);
        if kind == Some(EventKind::CommsSent) {
            tui_fixture::press(&mut s, &k, "c");
            match &s.overlay {
                Some(warroom::tui::state::Overlay::Composer(c)) => {
                    assert_eq!(c.input.lines().join("\n"), "We are investigating slow checkouts.");
                }
                o => panic!("comms text is correctable: {o:?}"),
            }
            tui_fixture::press(&mut s, &k, "esc");
        }
        if kind == Some(EventKind::StatusChanged) {
            assert!(tui_fixture::press(&mut s, &k, "c").is_empty());
            assert!(s.overlay.is_none());
            let n = s.notice.as_ref().unwrap();
            assert!(
                n.error && n.text.contains("cannot be corrected") && n.text.contains("change the status"),
                "{}",
                n.text
            );
            found_status = true;
            break;
        }
        tui_fixture::press(&mut s, &k, "up");
    }
    assert!(found_status, "{seen:?}");
}

// ---- item 5: JSON output and titles ---------------------------------------------------------

#[test]
fn json_output_escapes_c1_bidi_and_zero_width_and_an_invisible_title_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url, token) = server(dir.path());
    let env = [("WARROOM_SERVER", url.as_str()), ("WARROOM_TOKEN", token.as_str())];
    let cli = dir.path().join("cli");
    let title = "Disk \u{9b}31m full \u{202e}txet\u{200b} \u{feff}now";
    assert_eq!(wr_ok(&cli, &env, &["declare", "--severity", "SEV-2", "--title", title]), "INC-1");
    wr_ok(&cli, &env, &["log", "--incident", "INC-1", "osc \u{9d}52;c;x\u{9c} and \u{2066}iso\u{2069}"]);
    for args in [
        &["export", "INC-1", "--format", "json"][..],
        &["ls", "--format", "json"],
        &["show", "INC-1", "--format", "json"],
    ] {
        let out = wr_ok(&cli, &env, args);
        let raw: Vec<char> = out
            .chars()
            .filter(|c| (c.is_control() && *c != '\n') || warroom::domain::text::is_hidden(*c))
            .collect();
        assert!(raw.is_empty(), "{args:?} printed {raw:?}");
        assert!(
            out.contains("\\u009b") && out.contains("\\u202e") && out.contains("\\u200b"),
            "{args:?}: {out}"
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        assert!(v.to_string().contains('\u{9b}'), "the value is unchanged");
    }
    let o =
        wr(&cli, &env, &["declare", "--severity", "SEV-2", "--title", "\u{200b}\u{202e}\u{feff}\u{1b}[2J"]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("title must not be empty"), "{err}");
    assert!(
        wr_ok(&cli, &env, &["ls", "--format", "json"]).matches("\"INC-").count() == 1,
        "nothing declared"
    );
}

// ---- item 6: warroom run masks secrets anywhere ----------------------------------------------

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn run_masks_authorization_tokens_and_secret_shapes_anywhere() {
    let names = warroom::config::RunConfig::default().secret_args;
    let m = |v: &[&str]| mask_args(&s(v), &names);
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlX2hlcmU";
    let wr = format!("wr_{}", "ab12".repeat(16));
    let ws = format!("ws_{}", "cd34".repeat(16));
    let cases: Vec<(Vec<String>, Vec<String>)> = vec![
        (
            s(&["curl", "-H", "Authorization: Bearer s3cr3t", "x"]),
            s(&["curl", "-H", "Authorization: Bearer ****", "x"]),
        ),
        (
            s(&["curl", "-H", "authorization:Basic dXNlcjpwYXNz"]),
            s(&["curl", "-H", "authorization:Basic ****"]),
        ),
        (
            s(&["curl", "-H", "X-Api-Key: k3y", "-H", "Accept: json"]),
            s(&["curl", "-H", "X-Api-Key: ****", "-H", "Accept: json"]),
        ),
        (s(&["http", "Bearer", "s3cr3t"]), s(&["http", "Bearer", "****"])),
        (s(&["tool", &wr]), s(&["tool", "wr_****"])),
        (s(&["tool", &format!("--header=X-Session:{ws}")]), s(&["tool", "--header=X-Session:ws_****"])),
        (s(&["curl", "https://u:p4ss@host/x"]), s(&["curl", "https://u:****@host/x"])),
        (
            s(&["curl", "https://host/x?user=a&password=p4ss&token=t"]),
            s(&["curl", "https://host/x?user=a&password=****&token=****"]),
        ),
        (s(&["aws", "AKIAIOSFODNN7EXAMPLE"]), s(&["aws", "AKIA****"])),
        (s(&["gh", "ghp_0123456789abcdefghijABCDEFGHIJ012345"]), s(&["gh", "ghp_****"])),
        (s(&["slack", "xoxb-1234-5678-abcdef"]), s(&["slack", "xoxb-****"])),
        (s(&["curl", jwt]), s(&["curl", "eyJ****"])),
        (s(&["db", "--password", "p"]), s(&["db", "--password", "****"])),
        (s(&["db", "--password=p"]), s(&["db", "--password=****"])),
        (s(&["env", "API_KEY=x", "LANG=C"]), s(&["env", "API_KEY=****", "LANG=C"])),
        // Inside a script: the header, the bearer value, a token shape.
        (
            s(&["sh", "-c", &format!("curl -H 'Authorization: Bearer abc' -d {wr} x")]),
            s(&["sh", "-c", "curl -H 'Authorization: Bearer ****' -d wr_**** x"]),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(m(&input.iter().map(String::as_str).collect::<Vec<_>>()), want, "{input:?}");
    }
    // Not secrets: words that merely look alike.
    let plain = s(&["git", "log", "--author=wrangler", "AKIA", "ws_x", "eyJ", "Authorization", "bearers"]);
    assert_eq!(mask_args(&plain, &names), plain);
}

#[test]
fn warroom_run_records_the_command_line_masked() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url, token) = server(dir.path());
    let env = [("WARROOM_SERVER", url.as_str()), ("WARROOM_TOKEN", token.as_str())];
    let cli = dir.path().join("cli");
    wr_ok(&cli, &env, &["declare", "--severity", "SEV-2", "--title", "API keys leaked"]);
    let secret = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    wr_ok(
        &cli,
        &env,
        &[
            "run",
            "--incident",
            "INC-1",
            "--",
            "true",
            "-H",
            "Authorization: Bearer hunter2hunter2",
            secret,
            "https://ops:pa55w0rd@example.net/",
        ],
    );
    let export = wr_ok(&cli, &env, &["export", "INC-1", "--format", "json"]);
    for leaked in ["hunter2hunter2", "0123456789abcdefghij", "pa55w0rd"] {
        assert!(!export.contains(leaked), "{leaked} in {export}");
    }
    assert!(export.contains("Authorization: Bearer ****") && export.contains("ghp_****"), "{export}");
    assert_eq!(shell_join(&s(&["a b"])), "'a b'");
}

// ---- item 9: the data dir is private ---------------------------------------------------------

#[test]
fn serve_and_cli_keep_every_file_they_make_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let (server, url, token) = server(dir.path());
    let env = [("WARROOM_SERVER", url.as_str()), ("WARROOM_TOKEN", token.as_str())];
    let cli = dir.path().join("cli");
    wr_ok(&cli, &env, &["declare", "--severity", "SEV-2", "--title", "Files"]);
    wr_ok(&cli, &env, &["log", "--incident", "INC-1", "a note"]);
    drop(server);
    let data = dir.path().join("server");
    for must in ["warroom.db", "logs"] {
        assert!(
            data.join(must).exists(),
            "{must} in {:?}",
            std::fs::read_dir(&data).unwrap().collect::<Vec<_>>()
        );
    }
    assert!(!files_named(&data.join("logs"), "serve.log").is_empty(), "serve logs in <data dir>/logs/");
    assert!(!files_named(&cli.join("logs"), "cli.log").is_empty(), "CLI logs in <data dir>/logs/");
    assert!(!files_named(&cli, "outbox-").is_empty());
    assert_eq!(not_private(&data), Vec::<String>::new());
    assert_eq!(not_private(&cli), Vec::<String>::new());
    // A data dir an older version left open is closed at the next run.
    std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in files_named(&cli, "outbox-") {
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let _ = wr(&cli, &[], &["ls", "--server", "http://127.0.0.1:9", "--format", "json"]);
    assert_eq!(not_private(&cli), Vec::<String>::new());
}

// ---- item 11: torn outbox lines are kept -----------------------------------------------------

#[test]
fn a_torn_outbox_line_moves_to_the_rejected_file_when_the_outbox_compacts() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url, token) = server(dir.path());
    let env = [("WARROOM_SERVER", url.as_str()), ("WARROOM_TOKEN", token.as_str())];
    let cli = dir.path().join("cli");
    wr_ok(&cli, &env, &["declare", "--severity", "SEV-2", "--title", "Torn"]);
    let outbox = files_named(&cli, "outbox-").pop().expect("an outbox");
    // A writer killed mid-line left half an entry (with the scribe's words in it).
    let torn = r#"{"op":"push","incident":"INC-1","event":{"id":"5f0c","body":{"kind":"note","text":"primary fenced at 09:12"#;
    std::fs::write(&outbox, format!("{}{torn}", std::fs::read_to_string(&outbox).unwrap())).unwrap();
    wr_ok(&cli, &env, &["log", "--incident", "INC-1", "replica promoted"]);
    assert_eq!(std::fs::read_to_string(&outbox).unwrap(), "", "compacted");
    let rejected = files_named(&cli, "rejected-").pop().expect("a rejected file");
    let kept = std::fs::read_to_string(&rejected).unwrap();
    assert!(kept.contains("primary fenced at 09:12") && kept.contains("\"unreadable\""), "{kept}");
    let log: String = files_named(&cli.join("logs"), "cli.log")
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert_eq!(log.matches("unreadable outbox line").count(), 1, "one warning: {log}");
    assert_eq!(not_private(&cli), Vec::<String>::new());
}

// ---- item 14: keymaps refused at load --------------------------------------------------------

#[test]
fn a_keymap_binding_one_key_twice_or_unbinding_quit_is_refused_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = data.join("config");
    std::fs::create_dir_all(&config).unwrap();
    let keymap = config.join("keymap.toml");
    std::fs::write(&keymap, "# mine\n[[board]]\naction = \"open\"\nkeys = [\"enter\"]\n\n[[board]]\naction = \"declare\"\nkeys = [\"enter\", \"D\"]\n").unwrap();
    let o = wr(&data, &[("WARROOM_SERVER", "http://127.0.0.1:9")], &[]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!("{}:8:", keymap.display())) && err.contains("`enter`") && err.contains("board"),
        "{err}"
    );

    std::fs::write(
        &keymap,
        "[[global]]\naction = \"quit\"\nkeys = []\n\n[[board]]\naction = \"quit\"\nkeys = []\n",
    )
    .unwrap();
    let err = text(&wr(&data, &[("WARROOM_SERVER", "http://127.0.0.1:9")], &[]).stderr);
    assert!(err.contains("keymap.toml:") && err.contains("`quit`"), "{err}");

    std::fs::write(&keymap, "[[global]]\naction = \"help\"\nkeys = []\n").unwrap();
    let err = text(&wr(&data, &[("WARROOM_SERVER", "http://127.0.0.1:9")], &[]).stderr);
    assert!(err.contains("keymap.toml:3:") && err.contains("`help`"), "{err}");
}
