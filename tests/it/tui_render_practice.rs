//! Snapshots of the practice parts of the console (`TestBackend`): the comms editor, the
//! checklists pane with a playbook and action items, a resolved incident's post-mortem
//! deadlines, and breached timers that stand out in the mono theme without any colour.

use crate::tui_fixture::*;
use chrono::Duration;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use warroom::client::SyncMsg;
use warroom::domain::{Event, EventBody, Priority, Status};
use warroom::tui::action::Action;
use warroom::tui::keymap::Keymap;
use warroom::tui::state::{State, update};

/// The cells where `needle` first appears on screen.
fn cells_of<'a>(t: &'a Terminal<TestBackend>, needle: &str) -> Vec<&'a ratatui::buffer::Cell> {
    let buf = t.backend().buffer();
    for y in 0..buf.area.height {
        let row: Vec<&ratatui::buffer::Cell> = (0..buf.area.width).map(|x| &buf[(x, y)]).collect();
        let text: Vec<&str> = row.iter().map(|c| c.symbol()).collect();
        let n = needle.chars().count();
        for x in 0..row.len().saturating_sub(n) {
            if text[x..x + n].concat() == needle {
                return row[x..x + n].to_vec();
            }
        }
    }
    panic!("`{needle}` is not on screen");
}

fn record(s: &mut State, seq: u64, at: chrono::DateTime<chrono::Utc>, body: EventBody) {
    let e = Event {
        seq,
        id: id(seq),
        incident: INC.into(),
        author: "alice".into(),
        occurred_at: at,
        recorded_at: at,
        body,
    };
    update(s, Action::Net(SyncMsg::Event(e)));
}

#[test]
fn comms_editor_80x24_and_mono_200x50() {
    let k = Keymap::defaults();
    let mut s = room();
    press(&mut s, &k, "C");
    insta::assert_snapshot!("template_picker_80x24", render(&s, "default", 80, 24).backend());
    press(&mut s, &k, "enter");
    insta::assert_snapshot!("comms_editor_80x24", render(&s, "default", 80, 24).backend());
    press(&mut s, &k, "ctrl-s");
    let t = render(&s, "mono", 200, 50);
    assert_no_colour(&t);
    insta::assert_snapshot!("comms_channel_mono_200x50", t.backend());
}

#[test]
fn checklists_with_a_playbook_and_action_items_80x24() {
    let k = Keymap::defaults();
    let mut s = room();
    record(&mut s, 15, now(), EventBody::PlaybookAttached { playbook: "database-performance".into() });
    record(
        &mut s,
        16,
        now(),
        EventBody::ActionItemAdded {
            text: "Add an index on orders.created_at".into(),
            owner: Some("carol".into()),
            due: chrono::NaiveDate::from_ymd_opt(2026, 3, 11),
            priority: Priority::High,
        },
    );
    record(
        &mut s,
        17,
        now(),
        EventBody::ActionItemAdded {
            text: "Alert on replica lag".into(),
            owner: None,
            due: None,
            priority: Priority::Medium,
        },
    );
    press(&mut s, &k, "tab");
    press(&mut s, &k, "tab");
    press(&mut s, &k, "G");
    let t = render(&s, "default", 80, 24);
    insta::assert_snapshot!(t.backend());
}

/// INC-7 resolved at 09:52; the post-mortem deadlines count from there.
fn resolved_later(hours: i64) -> State {
    let mut s = room();
    let resolved = t0() + Duration::minutes(40);
    record(&mut s, 15, resolved, EventBody::StatusChanged { status: Status::Resolved });
    s.now = resolved + Duration::hours(hours);
    s
}

#[test]
fn resolved_incident_shows_post_mortem_deadlines_breached_stands_out_in_mono() {
    // 30 h after resolution: the 24 h report is overdue, the rest still due.
    let s = resolved_later(30);
    let t = render(&s, "mono", 200, 50);
    assert_no_colour(&t);
    insta::assert_snapshot!("resolved_war_room_mono_200x50", t.backend());
    for c in cells_of(&t, "breached by 6h00m") {
        assert!(c.modifier.contains(Modifier::REVERSED | Modifier::BOLD), "{c:?}");
    }
    for c in cells_of(&t, "due in 1d18h") {
        assert!(!c.modifier.contains(Modifier::REVERSED), "{c:?}");
    }
    // In colour, breached is red.
    let t = render(&s, "default", 200, 50);
    assert!(cells_of(&t, "breached by 6h00m").iter().all(|c| c.fg == Color::Red));
    // The board's resolved row shows the most pressing deadline.
    let mut b = s;
    b.screen = warroom::tui::state::Screen::Board;
    let t = render(&b, "mono", 120, 20);
    assert_no_colour(&t);
    insta::assert_snapshot!("board_post_mortem_mono_120x20", t.backend());
    for c in cells_of(&t, "report breached by 6h") {
        assert!(c.modifier.contains(Modifier::REVERSED), "{c:?}");
    }
}

#[test]
fn breached_status_update_stands_out_in_the_war_room_header() {
    // 10:10: the update due at 10:02 is 8 minutes late; escalation is at L3 (VP / CTO).
    let mut s = room();
    s.now = now() + Duration::minutes(10);
    let t = render(&s, "mono", 200, 50);
    assert_no_colour(&t);
    for c in cells_of(&t, "breached by 8m") {
        assert!(c.modifier.contains(Modifier::REVERSED | Modifier::BOLD), "{c:?}");
    }
    cells_of(&t, "escalation L3 VP Engineering / CTO");
    let t = render(&s, "default", 80, 24);
    insta::assert_snapshot!("war_room_update_breached_80x24", t.backend());
}

#[test]
fn p_scheme_shows_the_resolution_target() {
    let mut s = room();
    s.practice = Some(warroom::assets::load_practice(None, Some("p")).unwrap());
    s.incidents.get_mut(INC).unwrap().severity = "P1".into();
    // Declared 09:12 with a 4 h resolution target: due at 13:12.
    let t = render(&s, "default", 200, 50);
    cells_of(&t, "resolution due in 3h12m");
    // Past it, the breach stands out (bold + reverse in mono).
    s.now = now() + Duration::hours(4);
    let t = render(&s, "mono", 200, 50);
    assert_no_colour(&t);
    for c in cells_of(&t, "breached by 48m") {
        assert!(c.modifier.contains(Modifier::REVERSED | Modifier::BOLD), "{c:?}");
    }
}
