//! Snapshot tests of the whole console on `TestBackend`: board and war room at 80x24 and
//! 200x50, default and mono themes. For mono, no cell may carry a colour.

use crate::tui_fixture::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use warroom::client::{SyncMsg, Target, Writes};
use warroom::domain::{EventBody, EventKind, NewEvent};
use warroom::tui::action::Action;
use warroom::tui::keymap::Keymap;
use warroom::tui::state::{State, update};
use warroom::tui::theme::Theme;

fn assert_has_colour(t: &Terminal<TestBackend>) {
    assert!(t.backend().buffer().content().iter().any(|c| c.fg != Color::Reset || c.bg != Color::Reset));
}

/// The war room with a pending entry queued.
fn room_with_pending() -> State {
    let mut s = room();
    let e = NewEvent::at(
        now(),
        EventBody::entry(EventKind::Finding, "replica-2 lag 0.3s, safe to fail over").unwrap(),
    );
    update(&mut s, Action::Net(SyncMsg::Queued { target: Target::Incident(INC.into()), event: e }));
    update(&mut s, Action::Net(SyncMsg::Outbox { pending: 1 }));
    s
}

#[test]
fn board_80x24() {
    let s = state();
    let t = render(&s, "default", 80, 24);
    assert_has_colour(&t);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn board_200x50() {
    let t = render(&state(), "default", 200, 50);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn board_mono_80x24() {
    let t = render(&state(), "mono", 80, 24);
    assert_no_colour(&t);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn war_room_80x24() {
    let t = render(&room_with_pending(), "default", 80, 24);
    assert_has_colour(&t);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn war_room_200x50() {
    let t = render(&room_with_pending(), "default", 200, 50);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn war_room_mono_80x24() {
    let t = render(&room_with_pending(), "mono", 80, 24);
    assert_no_colour(&t);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn war_room_mono_200x50() {
    let t = render(&room_with_pending(), "mono", 200, 50);
    assert_no_colour(&t);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn war_room_120x30_two_columns() {
    let t = render(&room_with_pending(), "default", 120, 30);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn composer_at_80x24_and_after_resize() {
    let k = Keymap::defaults();
    let mut s = room();
    press(&mut s, &k, "n");
    type_text(&mut s, &k, "failover to replica-2 started");
    let t = render(&s, "default", 80, 24);
    insta::assert_snapshot!("composer_80x24", t.backend());
    let t = render(&s, "mono", 200, 50);
    assert_no_colour(&t);
    insta::assert_snapshot!("composer_mono_200x50", t.backend());
}

#[test]
fn roster_tab_at_80x24() {
    let k = Keymap::defaults();
    let mut s = room();
    press(&mut s, &k, "tab");
    insta::assert_snapshot!(render(&s, "default", 80, 24).backend());
    press(&mut s, &k, "tab");
    insta::assert_snapshot!("checklists_tab_80x24", render(&s, "default", 80, 24).backend());
}

#[test]
fn help_popup_lists_keys_from_the_keymap() {
    let k = Keymap::defaults();
    let mut s = room();
    press(&mut s, &k, "?");
    let t = render(&s, "mono", 80, 40);
    assert_no_colour(&t);
    let text = format!("{}", t.backend());
    for want in ["timeline", "war room", "global", "correct", "copy visible", "note", "quit"] {
        assert!(text.contains(want), "help lacks {want}:\n{text}");
    }
    insta::assert_snapshot!(t.backend());
}

#[test]
fn status_picker_and_detail_popup() {
    let k = Keymap::defaults();
    let mut s = room();
    press(&mut s, &k, "s");
    insta::assert_snapshot!("status_picker_80x24", render(&s, "default", 80, 24).backend());
    press(&mut s, &k, "esc");
    // The corrected finding (seq 7): from the tail (seq 14) up 7 rows.
    for _ in 0..7 {
        press(&mut s, &k, "up");
    }
    press(&mut s, &k, "enter");
    let t = render(&s, "default", 100, 30);
    let text = format!("{}", t.backend());
    assert!(text.contains("since 08:55") && text.contains("since 09:05"), "{text}");
    insta::assert_snapshot!("detail_popup_100x30", t.backend());
}

#[test]
fn hostile_server_text_is_sanitized() {
    let mut s = room();
    let e = ev(
        15,
        30,
        "mallory\x1b]52;c;ZXZpbA==\x07",
        EventBody::Note(warroom::domain::Entry {
            text: "ok\x1b[2J\x1b[31mred\u{202e}txet".into(),
            tags: vec![],
        }),
    );
    update(&mut s, Action::Net(SyncMsg::Event(e)));
    let t = render(&s, "default", 200, 50);
    for c in t.backend().buffer().content() {
        assert!(!c.symbol().chars().any(|ch| ch.is_control() || ch == '\u{202e}'), "{:?}", c.symbol());
    }
    let text = format!("{}", t.backend());
    assert!(text.contains("okredtxet"), "{text}");
}

#[test]
fn timeline_window_is_built_for_100k_events() {
    let mut s = room();
    let many: Vec<_> = (15..100_015u64)
        .map(|seq| {
            let mut e = ev(
                seq,
                30,
                "bot",
                EventBody::Note(warroom::domain::Entry { text: format!("tick {seq}"), tags: vec![] }),
            );
            e.id = id(seq);
            e
        })
        .collect();
    update(&mut s, Action::Net(SyncMsg::Timeline { incident: INC.into(), events: many }));
    assert_eq!(s.timeline(INC).unwrap().len(), 100_014);
    let t = render(&s, "default", 200, 50);
    let text = format!("{}", t.backend());
    assert!(text.contains("tick 100014"), "the tail is shown");
    assert_eq!(s.room.window.0, 100_014 - s.room.window.1);
}

#[test]
fn search_matches_are_highlighted() {
    let k = Keymap::defaults();
    let mut s = room();
    press(&mut s, &k, "/");
    type_text(&mut s, &k, "db-primary");
    press(&mut s, &k, "enter");
    let t = render(&s, "default", 80, 24);
    let hits: String = t
        .backend()
        .buffer()
        .content()
        .iter()
        .filter(|c| c.bg == Color::Yellow)
        .map(|c| c.symbol().to_string())
        .collect();
    assert!(hits.contains("db-primary"), "{hits}");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn board_mono_200x50() {
    let t = render(&state(), "mono", 200, 50);
    assert_no_colour(&t);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn other_themes_render() {
    for name in ["high-contrast", "light"] {
        let t = render(&room_with_pending(), name, 200, 50);
        assert_has_colour(&t);
    }
}

/// The war room after three notes were typed while the server refuses writes.
fn room_refused(status: u16, error: &str, message: &str) -> State {
    let mut s = room();
    for (i, text) in ["paged the DBA", "disk at 100% on db-primary", "failover started"].iter().enumerate() {
        let e = NewEvent::at(
            now() - chrono::Duration::seconds(30 - i as i64),
            EventBody::entry(EventKind::Note, *text).unwrap(),
        );
        update(&mut s, Action::Net(SyncMsg::Queued { target: Target::Incident(INC.into()), event: e }));
        update(&mut s, Action::Net(SyncMsg::Outbox { pending: i + 1 }));
    }
    update(
        &mut s,
        Action::Net(SyncMsg::Writes(Writes::Refused {
            status,
            error: error.into(),
            message: message.into(),
            since: now(),
        })),
    );
    s
}

const READ_ONLY: &str = "the server's database refuses writes (read-only or full); nothing was recorded, \
                         reads still work; keep the entry and retry later";

#[test]
fn refused_writes_are_shown_plainly_at_80x24() {
    let s = room_refused(503, "store_unavailable", READ_ONLY);
    let t = render(&s, "default", 80, 24);
    let text = format!("{}", t.backend());
    assert!(
        text.contains("✕ server refuses writes: the database is read-only or full — 3 queued, retrying"),
        "{text}"
    );
    assert!(text.contains("✕ writes refused · 3 queued"), "the header says it too:\n{text}");
    // The three notes stay on screen, marked pending (…).
    for note in ["paged the DBA", "disk at 100% on db-primary", "failover started"] {
        let row =
            text.lines().find(|l| l.contains(note)).unwrap_or_else(|| panic!("{note} missing:\n{text}"));
        assert!(row.contains("…") && row.contains("pending"), "{row}");
    }
    // In the theme's breached role (not a muted or plain style).
    let theme = Theme::builtin("default").unwrap();
    let breached = theme.style(warroom::tui::theme::Role::Breached);
    let buf = t.backend().buffer();
    let status_row = (0..24).find(|y| buf[(2, *y)].symbol() == "s" && buf[(0, *y)].symbol() == "✕").unwrap();
    assert_eq!(buf[(2, status_row)].fg, breached.fg.unwrap_or(Color::Reset));
    insta::assert_snapshot!(t.backend());

    // Mono: no colour, still legible.
    let t = render(&s, "mono", 80, 24);
    assert_no_colour(&t);
    assert!(format!("{}", t.backend()).contains("server refuses writes"));

    // The board says it in its header.
    let mut s = s;
    update(&mut s, Action::Net(SyncMsg::Link(warroom::client::LinkState::Live { long_poll: false })));
    s.screen = warroom::tui::state::Screen::Board;
    // Hours later, with a breached timer: the board's top line still ends with the link state.
    s.now += chrono::Duration::hours(3);
    let text = format!("{}", render(&s, "default", 80, 24).backend());
    let top = text.lines().next().unwrap();
    assert!(top.contains("breached") && top.contains("✕ writes refused · 3 queued"), "{text}");
    assert!(text.contains("server refuses writes: the database is read-only or full"), "{text}");
}

#[test]
fn a_refused_token_is_shown_plainly_at_80x24() {
    let s = room_refused(401, "unauthorized", "unknown or revoked token");
    let t = render(&s, "default", 80, 24);
    let text = format!("{}", t.backend());
    assert!(text.contains("✕ server refused the token — 3 queued"), "{text}");
    assert!(text.contains("✕ token refused · 3 queued"), "{text}");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn writes_ok_again_clears_the_refusal() {
    let mut s = room_refused(503, "store_unavailable", READ_ONLY);
    update(&mut s, Action::Net(SyncMsg::Writes(Writes::Ok)));
    update(&mut s, Action::Net(SyncMsg::Outbox { pending: 0 }));
    let text = format!("{}", render(&s, "default", 80, 24).backend());
    assert!(!text.contains("refuse"), "{text}");
    assert!(!text.contains("queued"), "{text}");
}

#[test]
fn active_search_bar_shows_next_and_previous_match() {
    let k = Keymap::defaults();
    for (w, h) in [(80, 24), (200, 50)] {
        let mut s = room();
        s.size = (w, h);
        press(&mut s, &k, "/");
        type_text(&mut s, &k, "db-primary");
        press(&mut s, &k, "enter");
        press(&mut s, &k, "n");
        let t = render(&s, "mono", w, h);
        let text = format!("{}", t.backend());
        let bar = text.lines().last().unwrap();
        assert!(bar.contains("n next match") && bar.contains("N previous match"), "{bar}");
        assert!(!bar.contains("n note"), "n is shadowed by the search: {bar}");
        insta::assert_snapshot!(format!("search_bar_{w}x{h}"), t.backend());
    }
}

#[test]
fn resolve_warning_wraps_at_words_in_the_picker() {
    let k = Keymap::defaults();
    for (w, h) in [(80, 24), (200, 50)] {
        let mut s = room();
        s.size = (w, h);
        press(&mut s, &k, "s");
        for _ in 0..3 {
            press(&mut s, &k, "down"); // identified, mitigated, resolved
        }
        press(&mut s, &k, "enter");
        let t = render(&s, "mono", w, h);
        let text = format!("{}", t.backend());
        assert!(text.contains("Enter again to"), "{text}");
        assert!(text.contains("esc to keep it investigating."), "the whole warning shows:\n{text}");
        insta::assert_snapshot!(format!("resolve_warning_{w}x{h}"), t.backend());
    }
}

#[test]
fn internal_ids_do_not_reach_the_screen() {
    for (w, h) in [(80, 24), (200, 50)] {
        let text = format!("{}", render(&room(), "mono", w, h).backend());
        assert!(text.contains("alice is Incident Commander"), "{text}");
        assert!(text.contains("[x] Acknowledge alert"), "{text}");
        assert!(text.contains("escalation L3"), "{text}");
        for id in ["is commander", "is scribe", "first-15-minutes/", "esc L", "comms_lead"] {
            assert!(!text.contains(id), "`{id}` at {w}x{h}:\n{text}");
        }
    }
    // The roster pane beside the timeline names the roles (not SCR/TL).
    let text = format!("{}", render(&room(), "mono", 200, 50).backend());
    assert!(text.contains("Scribe") && !text.contains("SCR "), "{text}");
    // Assigning asks by the role's name.
    let k = Keymap::defaults();
    let mut s = room();
    s.room.focus = warroom::tui::state::Pane::Roster;
    while s.roster_rows(&s.incidents[INC]).get(s.room.roster_sel).is_some_and(|r| r.id != "comms_lead") {
        press(&mut s, &k, "down");
    }
    press(&mut s, &k, "i");
    let text = format!("{}", render(&s, "mono", 80, 24).backend());
    assert!(text.contains("Who takes the role Communications Lead?"), "{text}");
    insta::assert_snapshot!(render(&s, "mono", 80, 24).backend());
}

#[test]
fn long_entries_wrap_and_w_toggles_one_line_with_an_ellipsis() {
    let k = Keymap::defaults();
    for (w, h) in [(80, 24), (200, 50)] {
        let mut s = room();
        s.size = (w, h);
        let long = "failover plan: drain the checkout pods one zone at a time, watch p99 and the error \
                    budget burn on the SLO board, then promote db-replica-2 and point the write DSN at it \
                    once replication lag stays under half a second for five minutes";
        let mut e = ev(
            15,
            30,
            "dave",
            EventBody::Decision(warroom::domain::Entry { text: long.into(), tags: vec![] }),
        );
        e.id = id(15);
        update(&mut s, Action::Net(SyncMsg::Event(e)));
        // Wrapped (the default): the whole text shows, continuation lines under the text column.
        let text = format!("{}", render(&s, "mono", w, h).backend());
        let lines: Vec<&str> = text.lines().collect();
        let first = lines.iter().position(|l| l.contains("failover plan:")).expect("the entry shows");
        let col = lines[first].find("failover").unwrap();
        assert!(
            lines[first + 1][..col].trim_matches(['"', '│', ' ']).is_empty(),
            "indented: {}",
            lines[first + 1]
        );
        let flat: String =
            lines[first..].iter().map(|l| l.trim_matches(['"', '│', ' '])).collect::<Vec<_>>().join(" ");
        assert!(flat.contains("for five minutes"), "the end of the entry shows:\n{text}");
        insta::assert_snapshot!(format!("timeline_wrapped_{w}x{h}"), render(&s, "mono", w, h).backend());
        // `w`: one line per entry, cut with an ellipsis.
        press(&mut s, &k, "w");
        assert!(s.one_line);
        let text = format!("{}", render(&s, "mono", w, h).backend());
        let line = text.lines().find(|l| l.contains("failover plan:")).unwrap();
        assert!(line.contains('…'), "{line}");
        assert!(!text.contains("for five minutes"), "{text}");
        insta::assert_snapshot!(format!("timeline_one_line_{w}x{h}"), render(&s, "mono", w, h).backend());
        press(&mut s, &k, "w");
        assert!(!s.one_line);
    }
}

#[test]
fn header_title_and_status_messages_are_shortened_at_words() {
    let title = "Checkout latency above 5s for every customer in the EU region after the deploy";
    let notice = "the comms draft was copied to the clipboard; paste it into the status page and record it";
    for (w, h) in [(80, 24), (200, 50)] {
        let mut s = room();
        s.incidents.get_mut(INC).unwrap().title = title.into();
        s.set_notice(notice);
        let t = render(&s, "mono", w, h);
        let text = format!("{}", t.backend());
        let lines: Vec<&str> = text.lines().map(|l| l.trim_matches('"').trim_end()).collect();
        let (head, status) = (lines[0], lines[lines.len() - 2]);
        if w == 80 {
            assert!(head.ends_with('…') && head.contains("Checkout latency"), "{head}");
            // Cut at a word: what precedes the ellipsis is a whole word of the title.
            let shown = head.rsplit(" · ").next().unwrap().trim_end_matches('…');
            assert!(title.starts_with(shown) && title[shown.len()..].starts_with(' '), "{head}");
            assert!(status.ends_with('…'), "{status}");
            let shown = status.split("  ").last().unwrap().trim_end_matches('…');
            assert!(notice.starts_with(shown) && notice[shown.len()..].starts_with(' '), "{status}");
        } else {
            assert!(head.contains(title) && status.contains(notice), "{head}\n{status}");
        }
        insta::assert_snapshot!(format!("shortened_at_words_{w}x{h}"), t.backend());
    }
}
