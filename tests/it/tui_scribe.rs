//! The console a scribe can live in (#11): the timeline in the order things happened with
//! entries recorded late marked and the view kept steady, replay following when things
//! happened (with what was known then as an option), the composer wrapping, and the header
//! before anything is loaded. Reducer tests and snapshots here; the terminal behaviours run in
//! tmux in `tui_scribe_tmux`.

use crate::tui_fixture::*;
use chrono::Duration;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use warroom::client::SyncMsg;
use warroom::domain::replay::{By, state_at_pos};
use warroom::domain::{Entry, Event, EventBody, Status};
use warroom::tui::action::Action;
use warroom::tui::keymap::Keymap;
use warroom::tui::state::{Overlay, Row, State, Timeline, update};
use warroom::tui::timeline::{LATE_AFTER_SECS, is_late};

fn screen_text(t: &Terminal<TestBackend>) -> String {
    let b = t.backend().buffer();
    let w = b.area.width as usize;
    let cells: Vec<&str> = b.content().iter().map(|c| c.symbol()).collect();
    cells.chunks(w).map(|l| l.concat()).collect::<Vec<_>>().join("\n")
}

fn note(seq: u64, text: &str) -> EventBody {
    let _ = seq;
    EventBody::Note(Entry { text: text.into(), tags: vec![] })
}

/// An event that happened at t0 + `mins` and was recorded at t0 + `recorded_mins`.
fn late(seq: u64, mins: i64, recorded_mins: i64, body: EventBody) -> Event {
    let mut e = ev(seq, mins, "bob", body);
    e.id = id(seq);
    e.recorded_at = t0() + Duration::minutes(recorded_mins);
    e
}

fn texts(tl: &Timeline) -> Vec<String> {
    (0..tl.len())
        .map(|i| match tl.row(i).unwrap() {
            Row::Event(e) => format!("{}@{}", e.seq(), (e.occurred_at() - t0()).num_minutes()),
            Row::Pending(_) => "pending".into(),
        })
        .collect()
}

#[test]
fn late_means_recorded_over_a_minute_after_it_happened() {
    let mut e = ev(1, 0, "bob", note(1, "x"));
    e.recorded_at = e.occurred_at + Duration::seconds(LATE_AFTER_SECS);
    assert!(!is_late(&e), "a minute is ordinary latency");
    e.recorded_at += Duration::seconds(1);
    assert!(is_late(&e));
}

#[test]
fn the_timeline_is_in_the_order_things_happened() {
    let mut s = room();
    // Back-dated to 09:15 (t0+3m), recorded at the end (t0+40m).
    update(&mut s, Action::Net(SyncMsg::Event(late(15, 3, 40, note(15, "paged the DBA at 09:15")))));
    let tl = s.timeline(INC).unwrap();
    let order = texts(tl);
    let at = order.iter().position(|r| r == "15@3").unwrap();
    assert_eq!(&order[at - 1..=at + 1], ["2@1", "15@3", "3@4"], "{order:?}");
    // Ties by seq: two entries that happened at the same moment keep their seq order.
    update(&mut s, Action::Net(SyncMsg::Event(late(17, 3, 41, note(17, "b")))));
    update(&mut s, Action::Net(SyncMsg::Event(late(16, 3, 41, note(16, "a")))));
    let order = texts(s.timeline(INC).unwrap());
    let at = order.iter().position(|r| r == "15@3").unwrap();
    assert_eq!(&order[at..=at + 3], ["15@3", "16@3", "17@3", "3@4"], "{order:?}");
    // A whole load sorts the same way as the inserts did.
    let mut fresh = Timeline::default();
    fresh.load(s.timeline(INC).unwrap().events().to_vec());
    assert_eq!(texts(&fresh), order);
}

#[test]
fn a_search_view_keeps_the_order_when_a_late_entry_lands() {
    let mut s = room();
    let k = Keymap::defaults();
    press(&mut s, &k, "/");
    type_text(&mut s, &k, "db");
    press(&mut s, &k, "enter");
    let before = texts(s.timeline(INC).unwrap());
    update(&mut s, Action::Net(SyncMsg::Event(late(15, 2, 40, note(15, "db paged")))));
    update(&mut s, Action::Net(SyncMsg::Event(late(16, 2, 40, note(16, "not a match")))));
    let after = texts(s.timeline(INC).unwrap());
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
    assert_eq!(after[0], "15@2", "{after:?}");
    assert_eq!(after[1..], before[..]);
}

#[test]
fn a_late_entry_is_marked_and_the_detail_says_when_it_was_recorded() {
    let mut s = room();
    update(&mut s, Action::Net(SyncMsg::Event(late(15, 3, 40, note(15, "paged the DBA")))));
    let text = screen_text(&render(&s, "default", 200, 60));
    let line = text.lines().find(|l| l.contains("paged the DBA")).unwrap();
    assert!(line.contains("09:15:00↶"), "{line}");
    // On time: no mark.
    let line = text.lines().find(|l| l.contains("Customers report")).unwrap();
    assert!(line.contains("09:20:00 "), "{line}");
    // Mono (NO_COLOR): an ASCII mark.
    let t = render(&s, "mono", 80, 24);
    let text = screen_text(&t);
    assert!(!text.contains('↶'), "{text}");
    // The detail of the selected (late) entry.
    let k = Keymap::defaults();
    s.room.follow = false;
    s.room.sel = texts(s.timeline(INC).unwrap()).iter().position(|r| r == "15@3").unwrap();
    press(&mut s, &k, "enter");
    assert!(matches!(s.overlay, Some(Overlay::Detail { .. })));
    let text = screen_text(&render(&s, "default", 200, 60));
    assert!(text.contains("recorded 2026-03-04 09:52:00 UTC (recorded late)"), "{text}");
    insta::assert_snapshot!("late_entry_mono_80x24", t.backend());
}

#[test]
fn a_late_entry_above_the_window_keeps_the_view_steady() {
    let k = Keymap::defaults();
    let mut s = room_with(300);
    s.size = (80, 24);
    update(&mut s, Action::Resize(80, 24));
    for _ in 0..3 {
        press(&mut s, &k, "pageup");
    }
    assert!(!s.room.follow);
    let sel_id = s.timeline(INC).unwrap().row(s.timeline_sel().unwrap()).unwrap().id();
    let window = s.room.window;
    let before = screen_text(&render(&s, "default", 80, 24));
    // Happened at t0+2m: far above the window.
    update(&mut s, Action::Net(SyncMsg::Event(late(400, 2, 45, note(400, "late one")))));
    let tl = s.timeline(INC).unwrap();
    assert_eq!(tl.row(s.timeline_sel().unwrap()).unwrap().id(), sel_id, "the selection stays on its entry");
    assert_eq!(s.room.window.0, window.0 + 1, "the window moved down with it");
    let after = screen_text(&render(&s, "default", 80, 24));
    let body = |t: &str| t.lines().skip(4).take(17).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&after), body(&before), "the rows on screen did not move");
    // Following the tail, the tail stays in view.
    press(&mut s, &k, "G");
    update(&mut s, Action::Net(SyncMsg::Event(late(401, 2, 46, note(401, "another late one")))));
    assert!(s.room.follow);
    assert_eq!(s.timeline_sel(), Some(s.timeline(INC).unwrap().len() - 1));
}

#[test]
fn replay_follows_when_things_happened() {
    let k = Keymap::defaults();
    let mut s = room();
    // Mitigated at t0+20m, but recorded only at t0+45m (sent after an outage).
    update(
        &mut s,
        Action::Net(SyncMsg::Event(late(15, 20, 45, EventBody::StatusChanged { status: Status::Mitigated }))),
    );
    update(&mut s, Action::Net(SyncMsg::Event(ev(16, 46, "bob", note(16, "after")))));
    press(&mut s, &k, "R");
    let r = s.replay.as_ref().unwrap();
    assert_eq!(r.cursor.by(), By::Occurred);
    // Back to the first status change at or after 09:32 (t0+20m): the mitigation.
    press(&mut s, &k, "g");
    for _ in 0..3 {
        press(&mut s, &k, "}");
    }
    let r = s.replay.as_ref().unwrap();
    assert_eq!(r.cursor.time(), Some(t0() + Duration::minutes(20)), "the moment it happened");
    assert_eq!(s.shown_incident(INC).unwrap().status, Status::Mitigated);
    let text = screen_text(&render(&s, "default", 200, 60));
    assert!(text.contains("REPLAY 09:32:00 UTC"), "{text}");
    // The clocks run at the cursor's moment: mitigated 20m after the declaration.
    let scheme = s.practice.as_ref().unwrap().scheme().clone();
    let shown = s.shown_incident(INC).unwrap().clone();
    let r = s.replay.as_ref().unwrap();
    assert_eq!(
        r.cursor.timers(&scheme),
        Some(warroom::domain::timers::timers(&scheme, &shown, t0() + Duration::minutes(20)))
    );
    // What was known then: at 09:32 nobody knew it was mitigated.
    press(&mut s, &k, "K");
    let r = s.replay.as_ref().unwrap();
    assert_eq!(r.cursor.by(), By::Recorded);
    assert_eq!(r.cursor.time(), Some(t0() + Duration::minutes(20)));
    assert_eq!(s.shown_incident(INC).unwrap().status, Status::Investigating);
    let events = s.timeline(INC).unwrap().events().to_vec();
    assert_eq!(s.shown_incident(INC), state_at_pos(&events, r.cursor.pos()).as_ref());
    let text = screen_text(&render(&s, "default", 200, 60));
    assert!(text.contains("known then"), "{text}");
    press(&mut s, &k, "K");
    assert_eq!(s.replay.as_ref().unwrap().cursor.by(), By::Occurred);
    assert_eq!(s.shown_incident(INC).unwrap().status, Status::Mitigated);
}

#[test]
fn a_late_entry_before_the_replay_cursor_refolds() {
    let k = Keymap::defaults();
    let mut s = room();
    press(&mut s, &k, "R");
    press(&mut s, &k, "g");
    for _ in 0..9 {
        press(&mut s, &k, "l");
    }
    let here = s.replay.as_ref().unwrap().cursor.time();
    let shown = s.shown_incident(INC).unwrap().severity.clone();
    assert_eq!(shown, "SEV-2");
    // A severity change that happened at t0+2m, recorded now: before the cursor.
    update(
        &mut s,
        Action::Net(SyncMsg::Event(late(15, 2, 50, EventBody::SeverityChanged { severity: "SEV-1".into() }))),
    );
    let r = s.replay.as_ref().unwrap();
    assert_eq!(r.cursor.time(), here, "the cursor stays on its event");
    assert_eq!(s.shown_incident(INC).unwrap().severity, "SEV-1", "folded with the late event");
}

#[allow(dead_code)]
fn _uses(_: &State) {}

#[test]
fn a_console_started_offline_says_nothing_is_loaded_yet() {
    use warroom::client::LinkState;
    let mut s = State::new("http://127.0.0.1:9".into(), warroom::tui::format::TimeDisplay::Utc, now());
    let text = screen_text(&render(&s, "default", 80, 24));
    assert!(text.contains("loading incidents") && !text.contains("nothing burning"), "{text}");
    let err = "connection refused".to_string();
    update(&mut s, Action::Net(SyncMsg::Link(LinkState::Offline { since: now(), error: err })));
    let text = screen_text(&render(&s, "mono", 80, 24));
    assert!(text.contains("offline, nothing loaded yet") && !text.contains("nothing burning"), "{text}");
    insta::assert_snapshot!("offline_nothing_loaded_80x24", text);
    update(&mut s, Action::Net(SyncMsg::Snapshot(warroom::api::IncidentList { seq: 0, incidents: vec![] })));
    let text = screen_text(&render(&s, "default", 80, 24));
    assert!(text.contains("nothing burning"), "{text}");
}

#[test]
fn once_the_server_takes_the_queued_writes_the_header_stops_saying_offline() {
    use warroom::client::LinkState;
    let mut s = room();
    let err = "connection refused".to_string();
    update(&mut s, Action::Net(SyncMsg::Link(LinkState::Offline { since: now(), error: err })));
    update(&mut s, Action::Net(SyncMsg::Outbox { pending: 1 }));
    let text = screen_text(&render(&s, "default", 80, 24));
    assert!(text.contains("offline since 10:00:00"), "{text}");
    // The flusher got the entry through: the server answers.
    let e = ev(15, 47, "alice", note(15, "sent after the outage"));
    update(&mut s, Action::Net(SyncMsg::Acked { events: vec![e] }));
    update(&mut s, Action::Net(SyncMsg::Outbox { pending: 0 }));
    let text = screen_text(&render(&s, "default", 80, 24));
    assert!(!text.contains("offline") && !text.contains("0 queued"), "{text}");
    assert!(text.contains("server answered"), "{text}");
    update(&mut s, Action::Net(SyncMsg::Link(LinkState::Live { long_poll: false })));
    let text = screen_text(&render(&s, "default", 80, 24));
    assert!(text.contains("● live"), "{text}");
}

/// The comms editor on the `customer` template (C, then the picker).
fn customer_editor() -> State {
    let k = Keymap::defaults();
    let mut s = room();
    press(&mut s, &k, "C");
    while !matches!(&s.overlay, Some(Overlay::Picker(p)) if p.options[p.selected].0 == "customer") {
        press(&mut s, &k, "down");
    }
    press(&mut s, &k, "enter");
    assert!(matches!(s.overlay, Some(Overlay::Comms(_))), "{:?}", s.overlay);
    s
}

#[test]
fn the_customer_update_suggests_the_status_page_and_ctrl_u_clears_the_channel() {
    let k = Keymap::defaults();
    let mut s = customer_editor();
    // The cursor (the reversed cell) starts on the `S` of `Subject:`.
    let t = render(&s, "mono", 80, 24);
    let text = screen_text(&t);
    let (y, line) = text.lines().enumerate().find(|(_, l)| l.contains("Subject:")).unwrap();
    let x = line.chars().take_while(|c| *c != 'S').count();
    let rev = |x: usize, y: usize| {
        t.backend().buffer()[(x as u16, y as u16)].modifier.contains(ratatui::style::Modifier::REVERSED)
    };
    assert!(rev(x, y), "the cursor is on the S of Subject: {line}");
    assert!(!rev(x, y - 1) && !rev(x + 1, y), "and only there");
    press(&mut s, &k, "ctrl-s");
    let channel = |s: &State| match &s.overlay {
        Some(Overlay::Comms(c)) => c.channel.as_ref().map(|ch| ch.lines().join("\n")),
        _ => None,
    };
    assert_eq!(channel(&s).as_deref(), Some("status page"));
    press(&mut s, &k, "ctrl-u");
    assert_eq!(channel(&s).as_deref(), Some(""));
    type_text(&mut s, &k, "#support");
    assert_eq!(channel(&s).as_deref(), Some("#support"));
}

#[test]
fn action_item_updated_says_what_changed() {
    use warroom::tui::format::summary;
    let body = EventBody::ActionItemUpdated {
        item: id(99),
        text: None,
        owner: Some("bob".into()),
        due: chrono::NaiveDate::from_ymd_opt(2026, 12, 24),
        priority: None,
        done: Some(false),
    };
    assert_eq!(summary(&body, None), "action item updated: owner bob, due 2026-12-24, reopened");
    let done = EventBody::ActionItemUpdated {
        item: id(99),
        text: None,
        owner: None,
        due: None,
        priority: None,
        done: Some(true),
    };
    assert_eq!(summary(&done, None), "action item done");
}

#[test]
fn the_internal_alert_has_no_emoji_without_colour() {
    use warroom::tui::state::comms::without_emoji;
    assert_eq!(without_emoji("🚨 INCIDENT ALERT - SEV-2"), "INCIDENT ALERT - SEV-2");
    assert_eq!(without_emoji("fixed ✅ now"), "fixed now");
    assert_eq!(without_emoji("**Issue**: plain"), "**Issue**: plain");
    let k = Keymap::defaults();
    let draft = |plain: bool| {
        let mut s = room();
        s.plain = plain;
        press(&mut s, &k, "C");
        while !matches!(&s.overlay, Some(Overlay::Picker(p)) if p.options[p.selected].0 == "internal-alert") {
            press(&mut s, &k, "down");
        }
        press(&mut s, &k, "enter");
        match &s.overlay {
            Some(Overlay::Comms(c)) => c.input.lines().join("\n"),
            o => panic!("{o:?}"),
        }
    };
    let colour = draft(false);
    let mono = draft(true);
    // (Whatever the practice's template says: the mono draft is the same without pictographs.)
    assert_eq!(mono, colour.lines().map(without_emoji).collect::<Vec<_>>().join("\n"));
    assert!(!mono.chars().any(|c| ('\u{1F000}'..='\u{1FAFF}').contains(&c)), "{mono}");
}
