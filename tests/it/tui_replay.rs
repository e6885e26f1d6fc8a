//! Replay mode of the war room, through the real keymap: navigation, every pane showing the
//! incident as `domain::replay::state_at_pos` folds it, live events kept while replaying,
//! writes refused; snapshots of replay (80x24, 200x50, default and mono) and of the board's
//! response figures.

use crate::tui_fixture::*;
use chrono::Duration;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use warroom::api::IncidentList;
use warroom::client::SyncMsg;
use warroom::domain::replay::state_at_pos;
use warroom::domain::{Event, EventBody, Status, fold, timers};
use warroom::tui::action::Action;
use warroom::tui::keymap::{Context, Keymap};
use warroom::tui::state::{Effect, Overlay, State, update};

fn keys() -> Keymap {
    Keymap::defaults()
}

fn pos(s: &State) -> usize {
    s.replay.as_ref().expect("in replay").cursor.pos()
}

fn screen_text(t: &Terminal<TestBackend>) -> String {
    let b = t.backend().buffer();
    let w = b.area.width as usize;
    let cells: Vec<&str> = b.content().iter().map(|c| c.symbol()).collect();
    cells.chunks(w).map(|l| l.concat()).collect::<Vec<_>>().join("\n")
}

/// The war room in replay at `p` (entered with R, moved with g and l).
fn replay_at(p: usize) -> State {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "R");
    press(&mut s, &k, "g");
    for _ in 1..p {
        press(&mut s, &k, "l");
    }
    assert_eq!(pos(&s), p);
    s
}

#[test]
fn r_enters_replay_at_the_end_and_r_or_esc_leave() {
    let k = keys();
    let mut s = room();
    assert_eq!(s.context(), Context::Timeline);
    press(&mut s, &k, "R");
    assert_eq!(s.context(), Context::Replay);
    assert_eq!(pos(&s), 14);
    press(&mut s, &k, "R");
    assert!(s.replay.is_none());
    press(&mut s, &k, "R");
    press(&mut s, &k, "esc");
    assert!(s.replay.is_none(), "esc leaves replay, not the war room");
    assert_eq!(s.room_id(), Some(INC));
    // Leaving the war room ends the replay.
    press(&mut s, &k, "R");
    press(&mut s, &k, "backspace");
    assert!(s.replay.is_none() && s.room_id().is_none());
}

#[test]
fn navigation_keys_move_the_cursor() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "R");
    // What was known then (recorded time): the minute jumps below count from recorded times.
    press(&mut s, &k, "K");
    assert_eq!(pos(&s), 14, "the live end stays the end");
    press(&mut s, &k, "left");
    assert_eq!(pos(&s), 13);
    press(&mut s, &k, "h");
    assert_eq!(pos(&s), 12);
    press(&mut s, &k, "right");
    press(&mut s, &k, "l");
    assert_eq!(pos(&s), 14);
    press(&mut s, &k, "l");
    assert_eq!(pos(&s), 14, "clamped at the end");
    assert!(s.notice.as_ref().unwrap().text.contains("end"));
    press(&mut s, &k, "g");
    assert_eq!(pos(&s), 1);
    press(&mut s, &k, "G");
    assert_eq!(pos(&s), 14);
    // Status changes: seq 8 (investigating), seq 3 (acknowledged), seq 1 (declared).
    press(&mut s, &k, "{");
    assert_eq!(pos(&s), 8);
    press(&mut s, &k, "{");
    assert_eq!(pos(&s), 3);
    press(&mut s, &k, "{");
    assert_eq!(pos(&s), 1);
    press(&mut s, &k, "{");
    assert_eq!(pos(&s), 1);
    press(&mut s, &k, "}");
    assert_eq!(pos(&s), 3);
    press(&mut s, &k, "}");
    assert_eq!(pos(&s), 8);
    // Minutes: events are recorded at t0 + m minutes + 2 s.
    press(&mut s, &k, "[");
    let at = s.replay.as_ref().unwrap().cursor.time().unwrap();
    assert_eq!(at, t0() + Duration::minutes(7) + Duration::seconds(2));
    assert_eq!(pos(&s), 5, "what was known 5 minutes earlier");
    press(&mut s, &k, "]");
    assert_eq!(pos(&s), 8);
    press(&mut s, &k, "]");
    assert_eq!(pos(&s), 11, "known at t0+17m02s");
}

#[test]
fn every_pane_shows_the_state_at_the_cursor() {
    let k = keys();
    let evs = events();
    let mut s = room();
    let scheme = s.practice.as_ref().unwrap().scheme().clone();
    press(&mut s, &k, "R");
    press(&mut s, &k, "g");
    for p in 1..=evs.len() {
        assert_eq!(pos(&s), p);
        let want = state_at_pos(&evs, p).unwrap();
        let shown = s.shown_incident(INC).unwrap();
        assert_eq!(shown, &want, "header/roster/checklists source at {p}");
        assert_eq!(s.roster_rows(shown), s.roster_rows(&want));
        assert_eq!(s.checklist_rows(shown), s.checklist_rows(&want));
        // Replay follows when things happened: the clocks run at the event's occurred_at.
        let at = evs[p - 1].occurred_at;
        let r = s.replay.as_ref().unwrap();
        assert_eq!(r.cursor.timers(&scheme), Some(timers::timers(&scheme, &want, at)));
        press(&mut s, &k, "l");
    }
    // The live incident is untouched.
    assert_eq!(s.incidents[INC], fold(&evs).unwrap());
}

#[test]
fn the_screen_shows_the_past_not_the_present() {
    // At seq 5 the incident is acknowledged; live it is investigating.
    let s = replay_at(5);
    let t = render(&s, "default", 200, 50);
    let text = screen_text(&t);
    assert!(text.contains("REPLAY 09:18:00 UTC · event 5/14"), "when seq 5 happened: {text}");
    assert!(text.contains("acknowledged"), "{text}");
    assert!(!text.contains("investigating"), "{text}");
    assert!(!text.contains("Customers report"), "seq 6 is after the cursor: {text}");
    assert!(text.contains("bob is Scribe"), "the role's display name: {text}");
    let mut s = s;
    update(&mut s, Action::Replay);
    let text = screen_text(&render(&s, "default", 200, 50));
    assert!(text.contains("investigating") && !text.contains("REPLAY"), "{text}");
}

#[test]
fn live_events_during_replay_are_kept() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "R");
    press(&mut s, &k, "g");
    let e = ev(15, 40, "alice", EventBody::StatusChanged { status: Status::Mitigated });
    update(&mut s, Action::Net(SyncMsg::Event(e)));
    assert_eq!(s.incidents[INC].status, Status::Mitigated, "applied live");
    assert_eq!(pos(&s), 1, "the cursor stays where it was");
    assert_eq!(s.shown_incident(INC).unwrap().status, Status::Declared);
    // The cursor runs over the grown log.
    press(&mut s, &k, "}");
    press(&mut s, &k, "}");
    press(&mut s, &k, "}");
    assert_eq!(pos(&s), 15);
    assert_eq!(s.shown_incident(INC).unwrap().status, Status::Mitigated);
    press(&mut s, &k, "g");
    let e = ev(16, 41, "bob", EventBody::Note(warroom::domain::Entry { text: "x".into(), tags: vec![] }));
    update(&mut s, Action::Net(SyncMsg::Event(e)));
    press(&mut s, &k, "G");
    assert_eq!(pos(&s), 16);
    press(&mut s, &k, "esc");
    assert!(s.replay.is_none());
    assert_eq!(s.shown_incident(INC).unwrap().status, Status::Mitigated);
    assert_eq!(s.timeline(INC).unwrap().len(), 16);
    assert_eq!(s.incidents[INC].last_seq, 16);
}

#[test]
fn writes_are_refused_in_replay_with_a_notice() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "R");
    for key in ["n", "f", "a", "d", "t", "s", "S", "C", "P", "A", "c"] {
        let effects = press(&mut s, &k, key);
        assert!(effects.is_empty(), "{key}: {effects:?}");
        assert!(s.overlay.is_none(), "{key} opened {:?}", s.overlay);
        let n = s.notice.clone().unwrap_or_else(|| panic!("{key}: no notice"));
        assert!(n.error && n.text.contains("read-only"), "{key}: {n:?}");
        assert_eq!(s.context(), Context::Replay);
    }
    // The roster's and checklists' writes too (their pane keys still resolve).
    press(&mut s, &k, "tab");
    assert!(press(&mut s, &k, "m").is_empty());
    assert!(s.notice.as_ref().unwrap().text.contains("read-only"));
    press(&mut s, &k, "tab");
    assert!(press(&mut s, &k, "space").is_empty());
    assert!(s.notice.as_ref().unwrap().text.contains("read-only"));
    // Search and filter belong to the live timeline.
    press(&mut s, &k, "tab");
    press(&mut s, &k, "/");
    assert!(s.overlay.is_none());
    // Leaving replay first, the same key writes.
    press(&mut s, &k, "R");
    press(&mut s, &k, "n");
    assert!(matches!(s.overlay, Some(Overlay::Composer(_))));
}

#[test]
fn reading_keys_work_on_the_cursors_event() {
    let k = keys();
    let mut s = replay_at(7);
    let effects = press(&mut s, &k, "y");
    match effects.as_slice() {
        [Effect::Copy(line)] => assert!(line.contains("since 09:05"), "not corrected yet at seq 7: {line}"),
        other => panic!("{other:?}"),
    }
    press(&mut s, &k, "enter");
    match &s.overlay {
        Some(Overlay::Detail { id, .. }) => assert_eq!(*id, id_of(7)),
        other => panic!("{other:?}"),
    }
    press(&mut s, &k, "esc");
    assert!(s.overlay.is_none() && s.replay.is_some(), "esc closes the popup, replay stays");
    // Once the correction (seq 10) is passed, the timeline shows the corrected text.
    let text = screen_text(&render(&s, "default", 200, 50));
    assert!(text.contains("since 09:05") && !text.contains("since 08:55"), "{text}");
    for _ in 0..3 {
        press(&mut s, &k, "l");
    }
    let text = screen_text(&render(&s, "default", 200, 50));
    assert!(text.contains("since 08:55") && !text.contains("since 09:05"), "{text}");
}

fn id_of(seq: u64) -> uuid::Uuid {
    id(seq)
}

#[test]
fn help_lists_the_replay_keys() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "R");
    press(&mut s, &k, "?");
    assert!(matches!(s.overlay, Some(Overlay::Help { context: Context::Replay, .. })));
    let descs: Vec<String> = k.effective(Context::Replay).iter().map(|(_, b)| b.desc.clone()).collect();
    for d in [
        "previous event",
        "next event",
        "5 minutes back",
        "next status change",
        "leave replay (back to live)",
    ] {
        assert!(descs.iter().any(|x| x == d), "{d} in {descs:?}");
    }
}

#[test]
fn a_long_log_replays_incrementally() {
    // 5,000 events: entering, stepping and jumping work, and a frame renders only the window.
    let k = keys();
    let mut s = room();
    let more: Vec<Event> = (15..5015)
        .map(|seq| {
            let body = EventBody::Note(warroom::domain::Entry { text: format!("note {seq}"), tags: vec![] });
            ev(seq, 22 + i64::try_from(seq).unwrap() / 10, "bob", body)
        })
        .collect();
    update(&mut s, Action::Net(SyncMsg::Timeline { incident: INC.into(), events: more }));
    press(&mut s, &k, "R");
    assert_eq!(pos(&s), 5014);
    press(&mut s, &k, "[");
    assert!(pos(&s) < 5014);
    press(&mut s, &k, "{");
    assert_eq!(pos(&s), 8);
    let text = screen_text(&render(&s, "default", 80, 24));
    assert!(text.contains("event 8/5014"), "{text}");
}

#[test]
fn replay_80x24() {
    let t = render(&replay_at(5), "default", 80, 24);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn replay_200x50() {
    let t = render(&replay_at(9), "default", 200, 50);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn replay_mono_80x24() {
    let t = render(&replay_at(5), "mono", 80, 24);
    assert_no_colour(&t);
    let b = t.backend().buffer();
    let banner = b.content().iter().find(|c| c.symbol() == "R").unwrap();
    assert!(banner.modifier.contains(ratatui::style::Modifier::REVERSED), "banner is reverse video");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn replay_mono_200x50() {
    let t = render(&replay_at(9), "mono", 200, 50);
    assert_no_colour(&t);
    insta::assert_snapshot!(t.backend());
}

/// The board with incidents spread over the last two weeks.
fn board_with_history() -> State {
    let mut s = state();
    let mut incidents = Vec::new();
    for (n, (days, sev, resolve)) in
        [(1, "SEV-1", true), (3, "SEV-2", true), (3, "SEV-3", true), (6, "SEV-2", false), (12, "SEV-4", true)]
            .into_iter()
            .enumerate()
    {
        let id_ = format!("INC-{}", 50 + n);
        let seq0 = 1000 + 10 * n as u64;
        let at = now() - Duration::days(days);
        let mk = |seq: u64, mins: i64, body: EventBody| Event {
            seq,
            id: id(seq),
            incident: id_.clone(),
            author: "dave".into(),
            occurred_at: at + Duration::minutes(mins),
            recorded_at: at + Duration::minutes(mins),
            body,
        };
        let mut evs = vec![
            mk(
                seq0,
                0,
                EventBody::Declared {
                    title: format!("past incident {n}"),
                    severity: sev.into(),
                    summary: String::new(),
                    group_key: None,
                    demo: false,
                },
            ),
            mk(seq0 + 1, 3 + n as i64, EventBody::StatusChanged { status: Status::Acknowledged }),
        ];
        if resolve {
            evs.push(mk(seq0 + 2, 50 + 10 * n as i64, EventBody::StatusChanged { status: Status::Resolved }));
        }
        incidents.push(fold(&evs).unwrap());
    }
    update(&mut s, Action::Net(SyncMsg::Snapshot(IncidentList { seq: 2000, incidents })));
    s
}

#[test]
fn board_figures_are_cached_until_the_incident_set_changes() {
    let s = board_with_history();
    let a = s.board_figures().unwrap();
    let b = s.board_figures().unwrap();
    assert!(std::rc::Rc::ptr_eq(&a, &b), "one computation for many frames");
    assert_eq!(a.report.all.incidents, 8);
    assert_eq!(a.report.daily_totals().len(), 14);
    let mut s = s;
    let e = ev(15, 40, "alice", EventBody::StatusChanged { status: Status::Resolved });
    update(&mut s, Action::Net(SyncMsg::Event(e)));
    let c = s.board_figures().unwrap();
    assert!(!std::rc::Rc::ptr_eq(&a, &c), "recomputed after an event");
    assert_eq!(c.report.all.resolved, a.report.all.resolved + 1);
}

#[test]
fn board_chart_120x30() {
    let t = render(&board_with_history(), "default", 120, 30);
    let text = screen_text(&t);
    assert!(text.contains("MTTA") && text.contains("MTTR") && text.contains("last 14d"), "{text}");
    assert!(text.contains('█'), "{text}");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn board_chart_mono_is_ascii_120x30() {
    let t = render(&board_with_history(), "mono", 120, 30);
    assert_no_colour(&t);
    let text = screen_text(&t);
    assert!(text.contains("MTTA") && text.contains('#'), "{text}");
    assert!(!text.contains('█') && !text.contains('▁'), "{text}");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn a_late_event_before_the_cursor_keeps_it_on_its_event() {
    let k = keys();
    let mut s = room();
    let note = |seq: u64, mins: i64| {
        let body = EventBody::Note(warroom::domain::Entry { text: format!("note {seq}"), tags: vec![] });
        ev(seq, mins, "bob", body)
    };
    update(&mut s, Action::Net(SyncMsg::Event(note(20, 30))));
    update(&mut s, Action::Net(SyncMsg::Event(note(30, 32))));
    press(&mut s, &k, "R");
    assert_eq!(pos(&s), 16);
    // seq 25 was delayed: it lands before the cursor's event.
    update(&mut s, Action::Net(SyncMsg::Event(note(25, 31))));
    let r = s.replay.as_ref().unwrap();
    let events = s.timeline(INC).unwrap().events().to_vec();
    assert_eq!(r.cursor.pos(), 17);
    assert_eq!(r.cursor.current(&events).unwrap().seq, 30);
    assert_eq!(s.shown_incident(INC), state_at_pos(&events, 17).as_ref());
    press(&mut s, &k, "h");
    assert_eq!(pos(&s), 16);
    assert_eq!(
        s.replay.as_ref().unwrap().cursor.current(&s.timeline(INC).unwrap().events()).unwrap().seq,
        25
    );
}

#[test]
fn dumb_terminals_and_narrow_ones_get_the_ascii_chart() {
    let mut s = board_with_history();
    let text = screen_text(&render(&s, "default", 120, 30));
    assert!(text.contains('█'));
    s.ascii = true; // TERM=dumb, set at start
    let text = screen_text(&render(&s, "default", 120, 30));
    assert!(text.contains('#') && !text.contains('█'), "{text}");
    s.ascii = false;
    let text = screen_text(&render(&s, "default", 50, 30));
    assert!(!text.contains('█'), "{text}");
}
