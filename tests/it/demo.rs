//! `warroom demo` as a user runs it (the real binary, on the embedded server): the demo
//! incidents read like a real war room, each event authored by one of several personas
//! (incident commander, scribe, responders, the Alertmanager bot), the commander role held by
//! one of them, and no persona's token left usable afterwards.

use std::collections::BTreeSet;

use crate::bin_support::Env;

/// Runs a command that must succeed; its stdout and stderr together.
fn run(env: &Env, args: &[&str]) -> String {
    let (out, err) = env.ok(args);
    out + &err
}

impl Env {
    fn export(&self, id: &str) -> serde_json::Value {
        let out = run(self, &["export", id, "--format", "json"]);
        serde_json::from_str(out.trim()).unwrap()
    }
}

fn authors(doc: &serde_json::Value) -> Vec<String> {
    doc["events"].as_array().unwrap().iter().map(|e| e["author"].as_str().unwrap().to_string()).collect()
}

#[test]
fn demo_events_come_from_several_personas_and_the_commander_is_one_of_them() {
    let env = Env::new();
    let out = run(&env, &["demo"]);
    assert!(out.contains("loaded demo incidents INC-1, INC-2"), "{out}");
    // Who loaded the demo (the embedded token's name) says nothing in it.
    let me = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "local".into());

    for id in ["INC-1", "INC-2"] {
        let doc = env.export(id);
        let authors = authors(&doc);
        let distinct: BTreeSet<&str> = authors.iter().map(String::as_str).collect();
        assert!(distinct.len() >= 3, "{id}: {distinct:?}");
        assert!(!distinct.iter().any(|a| *a == me || a.starts_with(&format!("{me}-"))), "{id}: {distinct:?}");
        // The commander role is held by a persona who speaks in the incident and who assigned
        // it with a token of their own.
        let ic = &doc["incident"]["roles"]["commander"][0];
        let holder = ic["holder"].as_str().unwrap();
        assert!(distinct.contains(holder), "{id}: IC {holder} not among {distinct:?}");
        assert_eq!(ic["assigned_by"], holder, "{id}");
        // Severity and status changes come from the IC, as the role matrix wants.
        for e in doc["events"].as_array().unwrap() {
            if e["kind"] == "status_changed" || e["kind"] == "severity_changed" {
                assert_eq!(e["author"], holder, "{id}: {e}");
            }
        }
    }
    // The running incident: an alert from the Alertmanager bot, entries from a scribe and
    // responders besides the IC.
    let doc = env.export("INC-2");
    assert_eq!(doc["incident"]["status"], "identified");
    let events = doc["events"].as_array().unwrap();
    let alert = events.iter().find(|e| e["kind"] == "alert_attached").unwrap();
    assert_eq!(alert["author"], "alertmanager");
    let distinct: BTreeSet<String> = authors(&doc).into_iter().collect();
    assert!(distinct.len() >= 5, "{distinct:?}");

    // The personas' tokens were only for the load: every one is revoked now.
    let tokens = run(&env, &["token", "list"]);
    for name in &distinct {
        let line = tokens
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name.as_str()))
            .unwrap_or_else(|| panic!("no token {name}: {tokens}"));
        assert!(line.contains("revoked"), "{line}");
    }

    // Loading the demo again works (the names are free again) and reads the same way.
    let out = run(&env, &["demo"]);
    assert!(out.contains("loaded demo incidents INC-3, INC-4"), "{out}");
    let again: BTreeSet<String> = authors(&env.export("INC-4")).into_iter().collect();
    assert_eq!(again, distinct);
}

// ------------------------------------------------------------------ issue #11: demo data

use reqwest::StatusCode;
use warroom::api::Role;
use warroom::domain::{EventBody, NewEvent};
use warroom::server::Limits;

use crate::bin_support::{BIN, Tmux, text};
use crate::notify::{FAST, Receiver, deliveries, python_has};
use crate::server_support::{self, expect_error};

/// `args` against the server at `url` with `token`.
fn at<'a>(args: &[&'a str], url: &'a str, token: &'a str) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend(["--server", url, "--token", token]);
    v
}

/// The line of `ls` (or `report`) output about `id`.
fn line_of<'a>(out: &'a str, id: &str) -> &'a str {
    out.lines().find(|l| l.split_whitespace().next() == Some(id)).unwrap_or_else(|| panic!("no {id}:\n{out}"))
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_refuses_a_server_that_is_not_the_embedded_one_unless_forced() {
    let s = server_support::start(server_support::options(Limits::unlimited())).await;
    let (url, admin) = (s.base.clone(), s.token(Role::Admin).to_string());
    let env = Env::new().own_embedded_address();

    let o = env.run(&at(&["demo"], &url, &admin));
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{url} is not this machine's embedded server")), "{err}");
    assert!(err.contains("fake incidents next to real ones"), "{err}");
    assert!(err.contains("Give --force to load it there anyway"), "{err}");
    let (out, _) = env.ok(&at(&["ls", "--all"], &url, &admin));
    assert_eq!(out.trim(), "no incidents", "nothing was loaded");

    // The console's --demo refuses the same way, before it draws anything.
    let o = env.run(&at(&["--demo"], &url, &admin));
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("--demo: ") && err.contains("is not this machine's embedded server"), "{err}");
    assert!(err.contains("`warroom demo --force`"), "{err}");
    let (out, _) = env.ok(&at(&["ls", "--all"], &url, &admin));
    assert_eq!(out.trim(), "no incidents", "nothing was loaded");

    // Forced: loaded there, marked.
    let (_, err) = env.ok(&at(&["demo", "--force"], &url, &admin));
    assert!(err.contains("loaded demo incidents INC-1, INC-2 (marked DEMO"), "{err}");
    let (out, _) = env.ok(&at(&["ls", "--resolved"], &url, &admin));
    for id in ["INC-1", "INC-2"] {
        assert!(line_of(&out, id).contains("[DEMO] "), "{out}");
    }
    // Here one token said everything, the escalation included (an admin's may).
    let doc = json(&env.ok(&at(&["export", "INC-2", "--format", "json"], &url, &admin)).0);
    let events = doc["events"].as_array().unwrap();
    assert!(events.iter().all(|e| e["author"] == "admin"), "{doc}");
    assert!(events.iter().any(|e| e["kind"] == "escalated"), "{doc}");
    s.shutdown().await;
}

#[test]
fn demo_times_spread_over_each_incidents_history_never_before_it_nor_in_the_future() {
    let env = Env::new().own_embedded_address();
    run(&env, &["demo"]);
    let now = chrono::Utc::now();
    let time = |v: &serde_json::Value| v.as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    for (id, span) in [("INC-1", 50), ("INC-2", 35)] {
        let doc = env.export(id);
        let declared = time(&doc["incident"]["declared_at"]);
        let times: Vec<_> =
            doc["events"].as_array().unwrap().iter().map(|e| time(&e["occurred_at"])).collect();
        assert!(times.iter().all(|t| *t >= declared && *t <= now), "{id}: {times:?}");
        let last = *times.iter().max().unwrap();
        assert!(last - declared >= chrono::Duration::minutes(span), "{id}: {declared} .. {last}");
    }
    // The running one: declared 40 minutes ago, acknowledged after an escalation, its response
    // target met and the next status update still ahead; yesterday's awaits its report.
    let inc2 = env.export("INC-2");
    let declared = time(&inc2["incident"]["declared_at"]);
    let age = now - declared;
    assert!(age >= chrono::Duration::minutes(40) && age < chrono::Duration::minutes(45), "{age}");
    let (out, _) = env.ok(&["show", "INC-2"]);
    assert!(out.contains("Response      met in 17m"), "{out}");
    assert!(out.contains("Next update   due in"), "{out}");
    let (out, _) = env.ok(&["show", "INC-1"]);
    assert!(out.contains("Post-mortem   Initial incident report due in"), "{out}");
}

#[test]
fn demo_incidents_are_marked_everywhere_and_left_out_of_the_report() {
    let env = Env::new().own_embedded_address();
    run(&env, &["demo"]);
    env.ok(&["declare", "--severity", "SEV-2", "--title", "Real outage"]);

    let (out, _) = env.ok(&["ls", "--resolved"]);
    assert!(line_of(&out, "INC-1").contains("[DEMO] Search latency"), "{out}");
    assert!(line_of(&out, "INC-2").contains("[DEMO] Checkout API"), "{out}");
    assert!(!line_of(&out, "INC-3").contains("DEMO"), "{out}");
    let list = json(&env.ok(&["ls", "--resolved", "--format", "json"]).0);
    let demo: Vec<(String, bool)> = list["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_str().unwrap().to_string(), i["demo"].as_bool().unwrap()))
        .collect();
    assert!(demo.contains(&("INC-2".into(), true)) && demo.contains(&("INC-3".into(), false)), "{demo:?}");

    let (out, _) = env.ok(&["show", "INC-2"]);
    assert!(out.lines().next().unwrap().ends_with("[DEMO]"), "{out}");
    assert!(out.contains("Demo          loaded by `warroom demo`, not a real incident"), "{out}");
    let (out, _) = env.ok(&["show", "INC-3"]);
    assert!(!out.contains("DEMO") && !out.contains("Demo "), "{out}");
    let doc = json(&env.ok(&["show", "INC-2", "--format", "json"]).0);
    assert_eq!(doc["incident"]["demo"], true);

    // The post-mortem says so first.
    let (md, _) = env.ok(&["export", "INC-1", "--format", "markdown"]);
    assert!(md.starts_with("> **DEMO**: demo data loaded by `warroom demo`, not a real incident."), "{md}");

    // The report leaves them out, says so, and counts them when asked (marked).
    let (out, _) = env.ok(&["report", "--since", "2d"]);
    assert!(out.contains("1 incident (1 open, 0 resolved)."), "{out}");
    assert!(out.contains("2 demo incidents left out (--demo counts them)."), "{out}");
    assert!(!out.contains("[DEMO]"), "{out}");
    let r = json(&env.ok(&["report", "--since", "2d", "--format", "json"]).0);
    assert_eq!((r["all"]["incidents"].as_u64(), r["demo_left_out"].as_u64()), (Some(1), Some(2)), "{r}");
    let (out, _) = env.ok(&["report", "--since", "2d", "--demo"]);
    assert!(out.contains("3 incidents (2 open, 1 resolved)."), "{out}");
    assert!(out.contains("2 of them demo incidents (marked DEMO)"), "{out}");
    assert!(out.contains("[DEMO] Search latency"), "{out}");
    let (md, _) = env.ok(&["report", "--since", "2d", "--format", "markdown"]);
    assert!(md.contains("2 demo incidents left out"), "{md}");
}

#[test]
fn demo_remove_hides_them_everywhere_and_keeps_real_incidents() {
    let env = Env::new().own_embedded_address();
    run(&env, &["demo"]);
    env.ok(&["declare", "--severity", "SEV-2", "--title", "Real outage"]);
    let (_, err) = env.ok(&["demo", "--remove"]);
    assert!(err.contains("removed demo incidents INC-1, INC-2"), "{err}");

    let (out, _) = env.ok(&["ls", "--all"]);
    let ids: Vec<&str> = out.lines().skip(1).filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(ids, ["INC-3"], "{out}");
    let r = json(&env.ok(&["report", "--since", "2d", "--demo", "--format", "json"]).0);
    assert_eq!(r["all"]["incidents"], 1, "removed ones never count: {r}");
    assert!(r.get("demo_left_out").is_none(), "{r}");
    // Still on record (the log is append-only), said to be removed, and closed to writes.
    let (out, _) = env.ok(&["show", "INC-2"]);
    assert!(out.contains("Demo          removed "), "{out}");
    let o = env.run(&["log", "-i", "INC-2", "one more note"]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("INC-2 was a demo incident and has been removed"),
        "{}",
        text(&o.stderr)
    );
    let (_, err) = env.ok(&["demo", "--remove"]);
    assert!(err.contains("no demo incidents to remove"), "{err}");
    let (out, _) = env.ok(&["show", "INC-3"]);
    assert!(out.starts_with("INC-3"), "{out}");
}

#[test]
fn the_board_marks_demo_incidents_and_drops_them_once_removed() {
    let env = Env::new().own_embedded_address();
    run(&env, &["demo"]);
    env.ok(&["declare", "--severity", "SEV-2", "--title", "Real outage"]);
    let Some(tmux) = Tmux::new("demo-board") else { return };
    let console = format!(
        "exec env TERM=xterm-256color NO_COLOR=1 WARROOM_DATA_DIR={} WARROOM_CONFIG_DIR={} {BIN} --open INC-2",
        env.data.display(),
        env.config.display()
    );
    tmux.run(&["new-session", "-d", "-s", "a", "-x", "80", "-y", "24", &console]);
    // The war room's header says DEMO next to the severity.
    let room = tmux.wait_for("a", "the war room, live", |s| s.contains("INC-2") && s.contains("live"));
    let header = room.lines().find(|l| l.contains("INC-2")).unwrap();
    assert!(header.contains("SEV-2  DEMO"), "{room}");
    tmux.keys("a", &["Escape"]);
    let board = tmux.wait_for("a", "the board", |s| s.contains("INC-3") && s.contains("INC-1"));
    let row =
        |screen: &str, id: &str| screen.lines().find(|l| l.contains(id)).unwrap_or_default().to_string();
    assert!(row(&board, "INC-2").contains("DEMO Checkout"), "{board}");
    assert!(row(&board, "INC-1").contains("DEMO Search"), "{board}");
    assert!(!row(&board, "INC-3").contains("DEMO"), "{board}");

    // Removed from another terminal: gone from the board at once.
    let (_, err) = env.ok(&["demo", "--remove"]);
    assert!(err.contains("removed demo incidents"), "{err}");
    let board =
        tmux.wait_for("a", "the demo incidents gone", |s| !s.contains("INC-1") && !s.contains("INC-2"));
    assert!(board.contains("INC-3") && !board.contains("DEMO"), "{board}");
    assert!(board.contains("1 open · 0 resolved"), "{board}");
    tmux.keys("a", &["Q"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_notification_is_sent_for_a_demo_incident() {
    if !python_has(&["json"], "no_notification_is_sent_for_a_demo_incident") {
        return;
    }
    let slack = Receiver::http("200", None);
    // Every class to one target, at every level.
    let config = format!(
        "{FAST}
[[serve.notify.targets]]
name = \"ops-slack\"
kind = \"slack\"
url = \"{}/hook\"

[[serve.notify.routes]]
on = [\"declared\", \"severity_changed\", \"status_changed\", \"commander_changed\", \"comms_sent\", \"escalation\", \"timer_breached\"]
targets = [\"ops-slack\"]
",
        slack.url()
    );
    let s = crate::notify::serve(&config).await;
    let (url, admin) = (s.base.clone(), s.token(Role::Admin).to_string());
    let env = Env::new().own_embedded_address();
    env.ok(&at(&["demo", "--force"], &url, &admin));
    env.ok(&at(&["declare", "--severity", "SEV-2", "--title", "Real outage"], &url, &admin));
    // Deliveries go out oldest first per target: had the demo's been queued (before the real
    // incident's), they would have arrived first.
    let got = slack.wait_for(1, "the real incident's declaration").await;
    let first = got[0]["body"].as_str().unwrap();
    assert!(first.contains("INC-3") && first.contains("Real outage"), "{got:#?}");
    for r in slack.got() {
        let body = r["body"].as_str().unwrap();
        assert!(!body.contains("INC-1") && !body.contains("INC-2"), "{body}");
    }
    for id in ["INC-1", "INC-2"] {
        assert!(deliveries(&s.store, id).await.is_empty(), "{id}");
        let snap = s.store.incident(id, true).await.unwrap().unwrap();
        let server_made = snap.events.unwrap().iter().filter(|e| e.author == "warroom").count();
        assert_eq!(server_made, 0, "{id}: the server recorded nothing about it");
    }
    // Only demo incidents can be removed: a real one never leaves the record.
    let remove = serde_json::json!(NewEvent::now(EventBody::DemoRemoved {}));
    let res = s.post("/api/v1/incidents/INC-3/events", &admin, &remove).await;
    let body = expect_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_event").await;
    assert!(body.message.contains("INC-3 is not a demo incident"), "{}", body.message);
    s.shutdown().await;
}
