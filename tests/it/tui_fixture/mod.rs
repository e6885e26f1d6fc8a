//! Shared fixtures for the console tests: a realistic incident built from domain types, the
//! embedded practice, and helpers to press keys through the real keymap.

use chrono::{DateTime, Duration, TimeZone, Utc};
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use uuid::Uuid;

use warroom::api::{IncidentList, Me, Role};
use warroom::assets::load_practice;
use warroom::client::{LinkState, SyncMsg};
use warroom::domain::{AlertInfo, Entry, Event, EventBody, Status, fold};
use warroom::tui::action::Action;
use warroom::tui::format::TimeDisplay;
use warroom::tui::keymap::{Key, Keymap};
use warroom::tui::state::{Effect, State, update};

pub const INC: &str = "INC-7";

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 9, 12, 0).unwrap()
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 10, 0, 0).unwrap()
}

/// Deterministic ids so snapshots are stable.
pub fn id(n: u64) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | u128::from(n))
}

pub fn ev(seq: u64, mins: i64, author: &str, body: EventBody) -> Event {
    let at = t0() + Duration::minutes(mins);
    Event {
        seq,
        id: id(seq),
        incident: INC.to_string(),
        author: author.to_string(),
        occurred_at: at,
        recorded_at: at + Duration::seconds(2),
        body,
    }
}

fn entry(text: &str) -> Entry {
    Entry { text: text.to_string(), tags: Vec::new() }
}

/// A realistic SEV-2 with several kinds of events (seq 1..=14).
pub fn events() -> Vec<Event> {
    vec![
        ev(
            1,
            0,
            "alice",
            EventBody::Declared {
                title: "Checkout latency above 5s".into(),
                severity: "SEV-2".into(),
                summary: String::new(),
                group_key: None,
                demo: false,
            },
        ),
        ev(2, 1, "alice", EventBody::RoleAssigned { role: "commander".into(), holder: "alice".into() }),
        ev(3, 4, "alice", EventBody::StatusChanged { status: Status::Acknowledged }),
        ev(
            4,
            5,
            "alertmanager",
            EventBody::AlertAttached(AlertInfo {
                source: "alertmanager".into(),
                fingerprint: "a1b2".into(),
                name: "CheckoutLatencyHigh".into(),
                status: "firing".into(),
                summary: Some("p99 checkout latency 6.2s".into()),
                starts_at: None,
                ends_at: None,
                url: None,
                runbook: None,
                labels: Default::default(),
            }),
        ),
        ev(5, 6, "bob", EventBody::RoleAssigned { role: "scribe".into(), holder: "bob".into() }),
        ev(6, 8, "bob", EventBody::Note(entry("Customers report spinning checkout button"))),
        ev(7, 11, "carol", EventBody::Finding(entry("db-primary CPU at 98% since 09:05"))),
        ev(8, 12, "alice", EventBody::StatusChanged { status: Status::Investigating }),
        ev(9, 14, "carol", EventBody::Action(entry("Killed long-running report query on db-primary"))),
        ev(
            10,
            15,
            "bob",
            EventBody::Correction { target: id(7), text: "db-primary CPU at 98% since 08:55".into() },
        ),
        ev(11, 17, "alice", EventBody::Decision(entry("Fail over to db-replica-2 if p99 stays above 5s"))),
        ev(
            12,
            18,
            "carol",
            EventBody::ChecklistItemSet {
                checklist: first_checklist().0,
                item: first_checklist().1,
                done: true,
            },
        ),
        ev(
            13,
            20,
            "bob",
            EventBody::CommsSent {
                channel: "status-page".into(),
                text: "We are investigating slow checkouts.".into(),
                template: None,
            },
        ),
        ev(
            14,
            22,
            "carol",
            EventBody::Note(entry("p99 back to 1.1s after query kill\nwatching for 10 minutes")),
        ),
    ]
}

/// The first item of the scheme's first checklist.
pub fn first_checklist() -> (String, String) {
    let p = load_practice(None, None).unwrap();
    let c = p.incident_checklists()[0];
    (c.id.clone(), c.items[0].id.clone())
}

/// A second, older open incident and a resolved one, for the board.
pub fn other_incidents() -> Vec<warroom::domain::Incident> {
    let mk = |inc: &str, seq0: u64, mins: i64, title: &str, sev: &str, resolve: bool| {
        let at = t0() + Duration::minutes(mins);
        let mut evs = vec![Event {
            seq: seq0,
            id: id(seq0),
            incident: inc.into(),
            author: "dave".into(),
            occurred_at: at,
            recorded_at: at,
            body: EventBody::Declared {
                title: title.into(),
                severity: sev.into(),
                summary: String::new(),
                group_key: None,
                demo: false,
            },
        }];
        if resolve {
            evs.push(Event {
                seq: seq0 + 1,
                id: id(seq0 + 1),
                incident: inc.into(),
                author: "dave".into(),
                occurred_at: at + Duration::minutes(40),
                recorded_at: at + Duration::minutes(40),
                body: EventBody::StatusChanged { status: Status::Resolved },
            });
        }
        fold(&evs).unwrap()
    };
    vec![
        mk("INC-8", 100, 30, "Search results missing images", "SEV-3", false),
        mk("INC-5", 200, -300, "Login emails delayed", "SEV-2", true),
    ]
}

pub fn me(role: Role) -> Me {
    Me { name: "alice".into(), role }
}

/// A connected console: hello, snapshot, link live, INC-7's timeline loaded, on the board.
pub fn state_with(role: Role) -> State {
    let mut s = State::new("embedded server on http://127.0.0.1:7878".into(), TimeDisplay::Utc, now());
    let practice = load_practice(None, None).unwrap();
    let evs = events();
    let inc = fold(&evs).unwrap();
    let mut incidents = vec![inc];
    incidents.extend(other_incidents());
    for m in [
        SyncMsg::Hello { me: me(role), practice: Box::new(practice) },
        SyncMsg::Snapshot(IncidentList { seq: 14, incidents }),
        SyncMsg::Link(LinkState::Live { long_poll: false }),
    ] {
        update(&mut s, Action::Net(m));
    }
    update(&mut s, Action::Net(SyncMsg::Timeline { incident: INC.into(), events: evs }));
    s
}

pub fn state() -> State {
    state_with(Role::Commander)
}

/// The state with INC-7's war room open.
pub fn room() -> State {
    let mut s = state();
    s.screen = warroom::tui::state::Screen::WarRoom(INC.into());
    s
}

/// Presses a key (as `Key::parse` names it) through the real keymap.
pub fn press(s: &mut State, keys: &Keymap, key: &str) -> Vec<Effect> {
    let k = Key::parse(key).unwrap();
    let ev = KeyEvent::new(k.code, k.mods);
    match warroom::tui::action_for(TermEvent::Key(ev), s, keys) {
        Some(a) => update(s, a),
        None => Vec::new(),
    }
}

/// Types text into whatever field has focus.
pub fn type_text(s: &mut State, keys: &Keymap, text: &str) {
    for c in text.chars() {
        let ev = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        if let Some(a) = warroom::tui::action_for(TermEvent::Key(ev), s, keys) {
            update(s, a);
        }
    }
}

/// The war room with `n` timeline events (the fixture's own, then notes): the benches' load.
#[allow(dead_code, reason = "the benches use it (they include this file); the tests do not")]
pub fn room_with(n: u64) -> State {
    let mut s = room();
    let extra: Vec<_> = (15..15 + n.saturating_sub(14))
        .map(|seq| {
            let mut e = ev(
                seq,
                30,
                if seq % 3 == 0 { "carol" } else { "bob" },
                EventBody::Note(warroom::domain::Entry {
                    text: format!("observation number {seq}: p99 steady at 1.{}s", seq % 10),
                    tags: vec![],
                }),
            );
            e.id = id(seq);
            e
        })
        .collect();
    warroom::tui::state::update(
        &mut s,
        warroom::tui::action::Action::Net(warroom::client::SyncMsg::Timeline {
            incident: INC.into(),
            events: extra,
        }),
    );
    s
}

/// The console drawn from `s` with the built-in `theme` at `w`x`h`, as a test backend.
pub fn render(s: &State, theme: &str, w: u16, h: u16) -> ratatui::Terminal<ratatui::backend::TestBackend> {
    let theme = warroom::tui::theme::Theme::builtin(theme).unwrap();
    let keys = Keymap::defaults();
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| warroom::tui::ui::draw(f, s, &theme, &keys)).unwrap();
    t
}

/// No cell of the frame has a colour (mono / NO_COLOR).
pub fn assert_no_colour(t: &ratatui::Terminal<ratatui::backend::TestBackend>) {
    use ratatui::style::Color;
    for cell in t.backend().buffer().content() {
        assert_eq!(cell.fg, Color::Reset, "cell {:?} has a foreground colour", cell.symbol());
        assert_eq!(cell.bg, Color::Reset, "cell {:?} has a background colour", cell.symbol());
    }
}
