//! What a scribe expected to see (#11): the comms sent with each target's delivery state (the
//! Comms pane, `u`), an attached playbook's steps under the playbook's name, and comms drafts
//! filled from tagged entries ("to be confirmed" when none). Reducer and `TestBackend`
//! snapshots, then the real binary: `warroom serve` with two webhook targets (a local
//! receiver, tests/notify/receiver.py: one answers 200, one 429 then 500) and the console in
//! tmux at 80x24 with NO_COLOR.

use chrono::Duration;
use warroom::client::SyncMsg;
use warroom::domain::{Event, EventBody};
use warroom::tui::action::Action;
use warroom::tui::keymap::Keymap;
use warroom::tui::state::{Pane, State, update};

use crate::bin_support::{BIN as EXE, Server, Tmux, cli_in as cli, serve_in};
use crate::notify::{Receiver, python_has};
use crate::tui_fixture::*;

fn record(s: &mut State, seq: u64, at: chrono::DateTime<chrono::Utc>, author: &str, body: EventBody) {
    let e = Event {
        seq,
        id: id(seq),
        incident: INC.into(),
        author: author.into(),
        occurred_at: at,
        recorded_at: at,
        body,
    };
    update(s, Action::Net(SyncMsg::Event(e)));
}

fn delivery(
    target: &str,
    ok: bool,
    status: Option<u16>,
    attempt: u32,
    retry: Option<u64>,
    cause: Option<u64>,
) -> EventBody {
    EventBody::Delivery {
        target: target.into(),
        ok,
        about: "comms_sent".into(),
        status,
        error: if ok { String::new() } else { "Service Unavailable".into() },
        attempt,
        retry_in_secs: retry,
        gave_up: !ok && retry.is_none(),
        cause: cause.map(id),
    }
}

/// The fixture's room with a second update (a template's, corrected) and deliveries of both.
fn room_with_comms() -> State {
    let mut s = room();
    let at = |m: i64| now() - Duration::minutes(m);
    // An old log's delivery (no cause) of the fixture's update (#13).
    record(&mut s, 15, at(20), "warroom", delivery("ops-slack", true, Some(200), 1, None, None));
    record(
        &mut s,
        16,
        at(10),
        "bob",
        EventBody::CommsSent {
            channel: "#incident-2026-03-04-checkout".into(),
            text: "INCIDENT ALERT - SEV-2\n\n**Impact**: slow checkouts".into(),
            template: Some("internal-alert".into()),
        },
    );
    record(&mut s, 17, at(10), "warroom", delivery("ops-slack", true, Some(200), 1, None, Some(16)));
    record(&mut s, 18, at(10), "warroom", delivery("status-hook", false, Some(503), 1, Some(30), Some(16)));
    record(&mut s, 19, at(9), "warroom", delivery("pager", false, Some(404), 3, None, Some(16)));
    record(
        &mut s,
        20,
        at(8),
        "bob",
        EventBody::Correction { target: id(16), text: "INCIDENT ALERT - SEV-2 (checkout only)".into() },
    );
    s
}

#[test]
fn the_comms_pane_lists_every_update_with_its_delivery_state() {
    let k = Keymap::defaults();
    let mut s = room_with_comms();
    let log = s.sent.as_ref().expect("the open room's comms are kept");
    assert_eq!(log.comms.len(), 2);
    // The cause-less delivery went to the update before it.
    assert_eq!(log.comms[0].targets.len(), 1);
    assert_eq!(log.comms[1].targets.len(), 3);

    // `u` focuses the Comms pane (a tab at 80x24), `u` again goes back to the timeline.
    press(&mut s, &k, "u");
    assert_eq!(s.room.focus, Pane::Comms);
    // The retry was recorded 10 minutes ago: its 30 s are long over, so it is being sent again.
    let screen = render(&s, "mono", 80, 24).backend().to_string();
    assert!(screen.contains("sending (attempt 2)"), "{screen}");
    // A moment after the failure, it counts down.
    s.now = now() - Duration::minutes(10) + Duration::seconds(12);
    update(&mut s, Action::Tick);
    let t = render(&s, "mono", 80, 24);
    assert_no_colour(&t);
    insta::assert_snapshot!("comms_pane_80x24", t.backend());
    let screen = t.backend().to_string();
    for want in [
        "internal alert → #incident-2026-03-04-checkout",
        "(corrected) INCIDENT ALERT - SEV-2 (checkout only)",
        "ops-slack   delivered (200)",
        "retrying in 18s (attempt 1: 503 Service Unavailable)",
        "gave up: 404 Service Unavailable",
        "We are investigating slow checkouts.",
    ] {
        assert!(screen.contains(want), "{want}:\n{screen}");
    }
    // Newest first: the template's update above the fixture's.
    assert!(
        screen.find("internal alert").unwrap() < screen.find("We are investigating").unwrap(),
        "{screen}"
    );
    // A delivery arriving live updates the state in place.
    let at = s.now;
    record(&mut s, 21, at, "warroom", delivery("status-hook", true, Some(202), 2, None, Some(16)));
    let screen = render(&s, "mono", 80, 24).backend().to_string();
    assert!(screen.contains("status-hook delivered (202)"), "{screen}");
    assert!(!screen.contains("retrying"), "{screen}");
    // From 100 columns it takes the checklists' place while in use; the checklists come back
    // when they take the focus.
    let screen = render(&s, "mono", 120, 30).backend().to_string();
    assert!(screen.contains("Comms sent (2") && screen.contains("Roster") && screen.contains("Timeline ("));
    assert!(!screen.contains("Checklists"), "{screen}");
    press(&mut s, &k, "shift-tab");
    assert_eq!(s.room.focus, Pane::Checklists);
    let screen = render(&s, "mono", 120, 30).backend().to_string();
    assert!(screen.contains("Checklists") && !screen.contains("Comms sent"), "{screen}");
    press(&mut s, &k, "tab");
    // Side by side at 200x60: under the timeline, whatever has the focus.
    press(&mut s, &k, "u");
    assert_eq!(s.room.focus, Pane::Timeline);
    insta::assert_snapshot!("comms_pane_200x60", render(&s, "default", 200, 60).backend());
    // Its key is remappable like any other.
    let mut keys = std::collections::BTreeMap::new();
    keys.insert("comms_log".to_string(), vec!["ctrl-o".to_string()]);
    let dir = tempfile::tempdir().unwrap();
    let k2 = Keymap::load(dir.path(), &keys).unwrap();
    press(&mut s, &k2, "ctrl-o");
    assert_eq!(s.room.focus, Pane::Comms);
}

#[test]
fn playbook_steps_show_under_the_playbooks_name() {
    let k = Keymap::defaults();
    let mut s = room();
    record(&mut s, 15, now(), "alice", EventBody::PlaybookAttached { playbook: "service-outage".into() });
    record(&mut s, 16, now(), "alice", EventBody::PlaybookAttached { playbook: "api-rate-limiting".into() });
    press(&mut s, &k, "tab");
    press(&mut s, &k, "tab");
    press(&mut s, &k, "G");
    let t = render(&s, "mono", 80, 24);
    insta::assert_snapshot!("playbook_steps_80x24", t.backend());
    let screen = render(&s, "mono", 200, 60).backend().to_string();
    insta::assert_snapshot!("playbook_steps_200x60", screen);
    // Names, never ids; each playbook's groups under it, in the order attached.
    assert!(!screen.contains("service-outage") && !screen.contains("api-rate-limiting"), "{screen}");
    let at = |needle: &str| screen.find(needle).unwrap_or_else(|| panic!("{needle}:\n{screen}"));
    assert!(at("Resolution verification") < at("Playbook: Service outage"));
    assert!(at("Playbook: Service outage") < at("Check service health endpoints"));
    assert!(at("Check service health endpoints") < at("Playbook: API rate limiting or throttling"));
    assert!(at("Playbook: API rate limiting or throttling") < at("Check API metrics for traffic spikes"));
    // Attached again: the notice names it.
    press(&mut s, &k, "P");
    press(&mut s, &k, "enter");
    let notice = s.notice.as_ref().map(|n| n.text.clone()).unwrap_or_default();
    assert_eq!(notice, "playbook API rate limiting or throttling is already attached");
}

/// The Comms pane's row of one target on an 80x24 screen (inside the pane's border: the
/// header's latest-delivery notice names targets too).
fn target_line<'a>(screen: &'a str, target: &str) -> &'a str {
    screen.lines().find(|l| l.starts_with('│') && l.contains(&format!(" {target} "))).unwrap_or("")
}

#[test]
fn a_scribe_sends_an_update_and_sees_it_delivered_or_given_up() {
    if !python_has(&["json"], "a_scribe_sends_an_update_and_sees_it_delivered_or_given_up") {
        return;
    }
    let Some(tmux) = Tmux::new("comms-pane") else { return };
    // One target answers at once; the other asks to retry in 8 s (a countdown the pane shows
    // for 8 s), then fails for good: its third try would be 20 to 40 s later, past the 14 s the
    // server keeps trying.
    let (good, flaky) = (Receiver::http("200", None), Receiver::http("429:8,500", None));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    std::fs::create_dir_all(data.join("config")).unwrap();
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    std::fs::write(
        data.join("config/config.toml"),
        format!(
            "[serve.notify]\npoll_ms = 50\nscan_secs = 0.2\nbackoff_base_ms = 20000\ngive_up_after_secs = 14\n\
             timeout_secs = 2\n\n\
             [[serve.notify.targets]]\nname = \"ops-hook\"\nkind = \"webhook\"\nurl = \"{}/ok\"\nsecret = \"{secret}\"\n\n\
             [[serve.notify.targets]]\nname = \"status-hook\"\nkind = \"webhook\"\nurl = \"{}/flaky\"\nsecret = \"{secret}\"\n\n\
             [[serve.notify.routes]]\non = [\"comms_sent\"]\ntargets = [\"ops-hook\", \"status-hook\"]\n",
            good.url(),
            flaky.url()
        ),
    )
    .unwrap();
    let (_server, url): (Server, String) = serve_in(&data, "127.0.0.1:0", &[]);
    let token = cli(&data, &[], &["token", "create", "--name", "alice", "--role", "commander"]);
    let env = [("WARROOM_SERVER", url.as_str()), ("WARROOM_TOKEN", token.as_str())];
    let home = dir.path().join("cli");
    assert_eq!(
        cli(&home, &env, &["declare", "--severity", "SEV-2", "--title", "Checkout API latency"]),
        "INC-1"
    );
    // Tagged the two ways a scribe can: a hashtag in the text, `--tag`.
    cli(&home, &env, &["log", "-i", "INC-1", "EU checkout fails for a third of users #impact"]);
    cli(&home, &env, &["log", "-i", "INC-1", "--tag", "next", "roll back deploy 142"]);
    cli(&home, &env, &["log", "-i", "INC-1", "Holding before mitigated"]);
    // The CLI's draft: tagged facts, and "to be confirmed" for the rest.
    let customer = cli(&home, &env, &["comms", "INC-1", "-t", "customer"]);
    assert!(customer.contains("**Impact**: EU checkout fails for a third of users\n"), "{customer}");
    assert!(customer.contains("**Workaround**: to be confirmed\n"), "{customer}");
    assert!(!customer.contains("Holding"), "{customer}");

    let console = format!(
        "env TERM=xterm-256color NO_COLOR=1 WARROOM_DATA_DIR={d} WARROOM_CONFIG_DIR={d} {EXE} --server {url} --token {token} --open INC-1",
        d = dir.path().join("console").display()
    );
    tmux.run(&["new-session", "-d", "-s", "c", "-x", "80", "-y", "24", &console]);
    tmux.wait_for("c", "the war room", |s| s.contains("Holding before mitigated") && s.contains("live"));
    // The internal alert, drafted in the console from the tagged entries.
    tmux.keys("c", &["C"]);
    tmux.wait_for("c", "the template picker", |s| s.contains("internal alert"));
    tmux.keys("c", &["Enter"]);
    let draft = tmux.wait_for("c", "the draft", |s| s.contains("**Next Steps**"));
    assert!(draft.contains("**Impact**: EU checkout fails for a third of users"), "{draft}");
    assert!(draft.contains("**Next Steps**: roll back deploy 142"), "{draft}");
    // Recorded as sent to the suggested channel.
    tmux.keys("c", &["C-s"]);
    tmux.wait_for("c", "the channel", |s| s.contains("#incident-"));
    tmux.keys("c", &["Enter"]);
    tmux.wait_for("c", "recorded", |s| s.contains("update recorded as sent"));
    tmux.keys("c", &["u"]);
    let s = tmux
        .wait_for("c", "delivered to ops-hook", |s| target_line(s, "ops-hook").contains("delivered (200)"));
    assert!(s.contains("Comms sent (1"), "{s}");
    assert!(s.contains("internal alert → #incident-"), "{s}");
    assert!(s.contains("  INCIDENT ALERT - SEV-2"), "{s}");
    let s =
        tmux.wait_for("c", "status-hook retrying", |s| target_line(s, "status-hook").contains("retrying in"));
    assert!(target_line(&s, "status-hook").contains("(attempt 1: 429"), "{s}");
    let s = tmux
        .wait_for("c", "status-hook given up", |s| target_line(s, "status-hook").contains("gave up: 500"));
    assert!(target_line(&s, "ops-hook").contains("delivered (200)"), "{s}");
    assert_eq!(good.got().len(), 1);
    assert_eq!(flaky.got().len(), 2);
    // Each recorded attempt names the update it delivered.
    let log: serde_json::Value = serde_json::from_str(&cli(&home, &env, &["export", "INC-1"])).unwrap();
    let events = log["events"].as_array().unwrap();
    let sent: Vec<_> = events.iter().filter(|e| e["kind"] == "comms_sent").collect();
    assert_eq!(sent.len(), 1);
    let deliveries: Vec<_> = events.iter().filter(|e| e["kind"] == "delivery").collect();
    assert_eq!(deliveries.len(), 3, "{deliveries:#?}");
    assert!(deliveries.iter().all(|d| d["cause"] == sent[0]["id"]), "{deliveries:#?}");
}

#[test]
fn a_delivery_recorded_before_cause_existed_still_parses() {
    let old = r#"{"seq":3,"id":"01900000-0000-7000-8000-000000000003","incident":"INC-1","author":"warroom",
        "occurred_at":"2026-03-04T09:40:00Z","recorded_at":"2026-03-04T09:40:00Z",
        "kind":"delivery","target":"ops-slack","ok":true,"about":"comms_sent","status":200,"attempt":1}"#;
    let e: Event = serde_json::from_str(old).unwrap();
    assert!(matches!(e.body, EventBody::Delivery { cause: None, ok: true, .. }), "{e:?}");
    // And a delivery without a cause is not written with one.
    assert!(!serde_json::to_string(&e).unwrap().contains("cause"));
}
