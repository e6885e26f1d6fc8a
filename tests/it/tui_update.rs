//! Reducer tests: state + key (through the real keymap) or network message -> state + effects,
//! for every user action of the console.

use crate::tui_fixture::*;
use chrono::{Duration, TimeZone, Utc};
use warroom::api::{ErrorBody, Role};
use warroom::client::{SyncMsg, Target, Writes};
use warroom::domain::{EventBody, EventKind, NewEvent, Status, fold};
use warroom::tui::action::Action;
use warroom::tui::keymap::Keymap;
use warroom::tui::state::{ComposeKind, Effect, Overlay, Pane, PickKind, Row, Screen, update};

fn keys() -> Keymap {
    Keymap::defaults()
}

fn only_submit(effects: Vec<Effect>) -> (Target, NewEvent, Option<u64>) {
    match effects.as_slice() {
        [Effect::Submit(t, e, m)] => (t.clone(), e.clone(), *m),
        other => panic!("expected one submit, got {other:?}"),
    }
}

fn tl_len(s: &warroom::tui::state::State) -> usize {
    s.timeline(INC).unwrap().len()
}

#[test]
fn note_takes_its_time_at_the_keypress_and_logs_on_enter() {
    let k = keys();
    let mut s = room();
    let pressed = now();
    s.now = pressed;
    assert!(press(&mut s, &k, "n").is_empty());
    match &s.overlay {
        Some(Overlay::Composer(c)) => {
            assert_eq!(c.kind, ComposeKind::Entry(EventKind::Note));
            assert_eq!(c.occurred_at, pressed);
        }
        o => panic!("composer expected, got {o:?}"),
    }
    // Typing takes a while; the entry keeps the time of the keypress.
    s.now = pressed + Duration::seconds(40);
    type_text(&mut s, &k, "db failover started");
    press(&mut s, &k, "alt-enter");
    type_text(&mut s, &k, "by carol");
    let (target, e, if_match) = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(target, Target::Incident(INC.into()));
    assert_eq!(if_match, None);
    assert_eq!(e.occurred_at, pressed);
    assert_eq!(e.body, EventBody::entry(EventKind::Note, "db failover started\nby carol").unwrap());
    assert!(s.overlay.is_none());
}

#[test]
fn each_kind_has_its_key() {
    let k = keys();
    for (key, kind) in [
        ("n", EventKind::Note),
        ("f", EventKind::Finding),
        ("a", EventKind::Action),
        ("d", EventKind::Decision),
    ] {
        let mut s = room();
        press(&mut s, &k, key);
        type_text(&mut s, &k, "x");
        let (_, e, _) = only_submit(press(&mut s, &k, "enter"));
        assert_eq!(e.body.kind(), kind);
    }
}

#[test]
fn empty_entry_is_not_logged() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "n");
    assert!(press(&mut s, &k, "enter").is_empty());
    match &s.overlay {
        Some(Overlay::Composer(c)) => assert!(c.error.is_some()),
        o => panic!("composer should stay open, got {o:?}"),
    }
}

#[test]
fn cancel_keeps_a_draft_with_its_time() {
    let k = keys();
    let mut s = room();
    let t1 = now();
    s.now = t1;
    press(&mut s, &k, "f");
    type_text(&mut s, &k, "half a finding");
    assert!(press(&mut s, &k, "esc").is_empty());
    assert!(s.overlay.is_none());
    assert!(s.notice.as_ref().unwrap().text.contains("draft"));
    // Later, the same kind reopens the draft with the time it was started.
    s.now = t1 + Duration::minutes(3);
    press(&mut s, &k, "f");
    match &s.overlay {
        Some(Overlay::Composer(c)) => {
            assert_eq!(c.input.lines().join("\n"), "half a finding");
            assert_eq!(c.occurred_at, t1);
        }
        o => panic!("composer expected, got {o:?}"),
    }
    type_text(&mut s, &k, ", done");
    let (_, e, _) = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(e.body, EventBody::entry(EventKind::Finding, "half a finding, done").unwrap());
    assert_eq!(e.occurred_at, t1);
    // Logged: the draft is gone.
    press(&mut s, &k, "f");
    match &s.overlay {
        Some(Overlay::Composer(c)) => assert!(c.input.is_empty()),
        o => panic!("composer expected, got {o:?}"),
    }
    // An empty composer cancels without a draft.
    press(&mut s, &k, "esc");
    assert!(s.drafts.is_empty());
}

#[test]
fn back_dated_entry_from_the_composer() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "d");
    type_text(&mut s, &k, "roll back deploy 4411");
    press(&mut s, &k, "ctrl-t");
    // A bad time says why and keeps the field open.
    type_text(&mut s, &k, "soon");
    press(&mut s, &k, "enter");
    match &s.overlay {
        Some(Overlay::Composer(c)) => assert!(c.time_input.is_some() && c.error.is_some()),
        o => panic!("{o:?}"),
    }
    press(&mut s, &k, "esc");
    press(&mut s, &k, "ctrl-t");
    type_text(&mut s, &k, "09:41");
    press(&mut s, &k, "enter");
    let (_, e, _) = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(e.occurred_at, Utc.with_ymd_and_hms(2026, 3, 4, 9, 41, 0).unwrap());
    assert_eq!(e.body, EventBody::entry(EventKind::Decision, "roll back deploy 4411").unwrap());
}

#[test]
fn back_dated_note_key_and_relative_time() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "t");
    type_text(&mut s, &k, "-15m");
    press(&mut s, &k, "enter");
    type_text(&mut s, &k, "pager went off");
    let (_, e, _) = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(e.occurred_at, now() - Duration::minutes(15));
    // The time field's text never leaks into the entry.
    assert_eq!(e.body, EventBody::entry(EventKind::Note, "pager went off").unwrap());
}

#[test]
fn status_change_carries_the_revision_seen() {
    let k = keys();
    let mut s = room();
    let rev = s.incidents[INC].revision;
    press(&mut s, &k, "s");
    match &s.overlay {
        Some(Overlay::Picker(p)) => {
            assert_eq!(p.kind, PickKind::Status);
            assert_eq!(p.current.as_deref(), Some("investigating"));
            assert_eq!(p.options[p.selected].0, "investigating");
        }
        o => panic!("{o:?}"),
    }
    // A note arriving meanwhile does not change what the user saw.
    let mut late =
        ev(15, 30, "bob", EventBody::Note(warroom::domain::Entry { text: "x".into(), tags: vec![] }));
    late.id = id(15);
    update(&mut s, Action::Net(SyncMsg::Event(late)));
    press(&mut s, &k, "down"); // identified
    press(&mut s, &k, "down"); // mitigated
    let (t, e, m) = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(t, Target::Incident(INC.into()));
    assert_eq!(e.body, EventBody::StatusChanged { status: Status::Mitigated });
    assert_eq!(m, Some(rev));
}

#[test]
fn severity_change_picks_from_the_scheme() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "S");
    press(&mut s, &k, "up");
    let (_, e, m) = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(e.body, EventBody::SeverityChanged { severity: "SEV-1".into() });
    assert_eq!(m, Some(14));
    // Choosing the current value sends nothing.
    press(&mut s, &k, "S");
    assert!(press(&mut s, &k, "enter").is_empty());
}

fn picker_message(s: &warroom::tui::state::State) -> String {
    match &s.overlay {
        Some(Overlay::Picker(p)) => p.message.clone().unwrap_or_default(),
        o => panic!("the picker should stay open, got {o:?}"),
    }
}

#[test]
fn resolving_with_open_items_and_roles_asks_once_naming_them() {
    let k = keys();
    let mut s = room();
    let rev = s.incidents[INC].revision;
    press(&mut s, &k, "s");
    while !matches!(&s.overlay, Some(Overlay::Picker(p)) if p.options[p.selected].0 == "resolved") {
        press(&mut s, &k, "down");
    }
    // The first Enter only says what is open, by the practice's names (not ids).
    assert!(press(&mut s, &k, "enter").is_empty());
    let m = picker_message(&s);
    assert!(m.contains("open checklist items: “"), "{m}");
    assert!(m.contains("more"), "{m}");
    assert!(m.contains("nobody is Technical Lead or Communications Lead"), "{m}");
    assert!(!m.contains("comms_lead"), "{m}");
    assert!(m.contains("Enter again to resolve anyway, esc to keep it investigating"), "{m}");
    // The second goes ahead, guarded by the revision seen.
    let (_, e, if_match) = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(e.body, EventBody::StatusChanged { status: Status::Resolved });
    assert_eq!(if_match, Some(rev));
    // Esc after the warning changes nothing; moving to another choice disarms it.
    let mut s = room();
    press(&mut s, &k, "s");
    while !matches!(&s.overlay, Some(Overlay::Picker(p)) if p.options[p.selected].0 == "closed") {
        press(&mut s, &k, "down");
    }
    assert!(press(&mut s, &k, "enter").is_empty());
    assert!(picker_message(&s).contains("close anyway"));
    press(&mut s, &k, "up");
    assert_eq!(picker_message(&s), "");
    press(&mut s, &k, "esc");
    assert!(s.overlay.is_none());
    // Mitigated asks nothing.
    press(&mut s, &k, "s");
    while !matches!(&s.overlay, Some(Overlay::Picker(p)) if p.options[p.selected].0 == "mitigated") {
        press(&mut s, &k, "down");
    }
    only_submit(press(&mut s, &k, "enter"));
}

#[test]
fn severity_downgrade_asks_once() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "S");
    press(&mut s, &k, "down");
    assert!(press(&mut s, &k, "enter").is_empty());
    let m = picker_message(&s);
    assert!(m.starts_with("This lowers the severity from SEV-2 (Major) to SEV-3"), "{m}");
    assert!(m.ends_with("Enter again to lower it, esc to keep SEV-2."), "{m}");
    let (_, e, _) = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(e.body, EventBody::SeverityChanged { severity: "SEV-3".into() });
}

#[test]
fn refused_412_shows_the_newer_value_and_asks_again() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "s");
    press(&mut s, &k, "down");
    let (target, event, _) = only_submit(press(&mut s, &k, "enter"));
    // Someone else resolved it meanwhile: the server refuses with the current incident.
    let mut evs = events();
    evs.push(ev(15, 25, "dave", EventBody::StatusChanged { status: Status::Mitigated }));
    let current = fold(&evs).unwrap();
    update(&mut s, Action::Net(SyncMsg::Queued { target: target.clone(), event: event.clone() }));
    assert_eq!(s.timeline(INC).unwrap().pending().len(), 1);
    let error = ErrorBody {
        error: "conflict".into(),
        message: "status changed at revision 15, after the revision 14 this change was made against".into(),
        current: Some(Box::new(current)),
    };
    update(&mut s, Action::Net(SyncMsg::Refused { target, event, status: 412, error }));
    assert!(s.timeline(INC).unwrap().pending().is_empty());
    assert_eq!(s.incidents[INC].status, Status::Mitigated);
    match &s.overlay {
        Some(Overlay::Picker(p)) => {
            assert_eq!(p.kind, PickKind::Status);
            assert_eq!(p.current.as_deref(), Some("mitigated"));
            assert_eq!(p.if_match, 15);
            assert!(p.message.as_ref().unwrap().contains("mitigated"), "{:?}", p.message);
        }
        o => panic!("picker expected again, got {o:?}"),
    }
    // Deciding again sends the change against the newer revision (after the one question
    // resolving asks: checklist items are open).
    press(&mut s, &k, "down");
    assert!(press(&mut s, &k, "enter").is_empty());
    let (_, e, m) = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(e.body, EventBody::StatusChanged { status: Status::Resolved });
    assert_eq!(m, Some(15));
}

#[test]
fn refused_entry_is_kept_as_a_draft() {
    let mut s = room();
    let e = NewEvent::at(now(), EventBody::entry(EventKind::Note, "important words").unwrap());
    let target = Target::Incident(INC.into());
    update(&mut s, Action::Net(SyncMsg::Queued { target: target.clone(), event: e.clone() }));
    let error = ErrorBody { error: "forbidden".into(), message: "token revoked".into(), current: None };
    update(&mut s, Action::Net(SyncMsg::Refused { target, event: e.clone(), status: 403, error }));
    assert!(s.notice.as_ref().unwrap().error);
    let d = &s.drafts[&(INC.to_string(), EventKind::Note)];
    assert_eq!(d.text, vec!["important words".to_string()]);
    assert_eq!(d.occurred_at, e.occurred_at);
}

#[test]
fn a_server_refusing_writes_keeps_the_entries_pending_until_a_flush_succeeds() {
    let mut s = room();
    let e = NewEvent::at(now(), EventBody::entry(EventKind::Note, "paged the DBA").unwrap());
    let target = Target::Incident(INC.into());
    update(&mut s, Action::Net(SyncMsg::Queued { target, event: e.clone() }));
    update(&mut s, Action::Net(SyncMsg::Outbox { pending: 1 }));
    let refused = Writes::Refused {
        status: 503,
        error: "store_unavailable".into(),
        message: "the server's database refuses writes (read-only or full)".into(),
        since: now(),
    };
    let effects = update(&mut s, Action::Net(SyncMsg::Writes(refused.clone())));
    assert!(effects.is_empty(), "nothing to resend: the worker retries by itself");
    assert_eq!(s.writes, refused);
    assert_eq!(refused.reason().as_deref(), Some("the database is read-only or full"));
    // Not a refusal of the entry: it stays pending, no draft, no error notice.
    assert_eq!(s.timeline(INC).unwrap().pending().len(), 1);
    assert!(s.drafts.is_empty());
    assert!(s.notice.is_none());
    assert!(s.dirty);

    // The flush went through: acked, and the refusal is gone.
    let acked = warroom::domain::Event {
        seq: 15,
        incident: INC.into(),
        id: e.id,
        occurred_at: e.occurred_at,
        recorded_at: now(),
        author: "alice".into(),
        body: e.body.clone(),
    };
    update(&mut s, Action::Net(SyncMsg::Acked { events: vec![acked] }));
    update(&mut s, Action::Net(SyncMsg::Writes(Writes::Ok)));
    update(&mut s, Action::Net(SyncMsg::Outbox { pending: 0 }));
    assert_eq!(s.writes, Writes::Ok);
    assert!(s.timeline(INC).unwrap().pending().is_empty());
}

#[test]
fn checklist_space_toggles_the_selected_item() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "tab");
    press(&mut s, &k, "tab");
    assert_eq!(s.room.focus, Pane::Checklists);
    let (cl, item) = first_checklist();
    // The first item is ticked in the fixture: space unticks it.
    let (_, e, m) = only_submit(press(&mut s, &k, "space"));
    assert_eq!(e.body, EventBody::ChecklistItemSet { checklist: cl.clone(), item, done: false });
    assert_eq!(m, None);
    press(&mut s, &k, "down");
    let (_, e, _) = only_submit(press(&mut s, &k, "space"));
    match e.body {
        EventBody::ChecklistItemSet { checklist, done, .. } => {
            assert_eq!(checklist, cl);
            assert!(done);
        }
        b => panic!("{b:?}"),
    }
}

#[test]
fn roster_take_assign_and_release() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "tab");
    assert_eq!(s.room.focus, Pane::Roster);
    // Row 0 is the commander, held by alice (me): taking it again is a no-op.
    assert!(press(&mut s, &k, "m").is_empty());
    // Enter does not grab a role by accident.
    assert!(press(&mut s, &k, "enter").is_empty());
    // Release the commander: guarded by the revision seen.
    let (_, e, m) = only_submit(press(&mut s, &k, "x"));
    assert_eq!(e.body, EventBody::RoleReleased { role: "commander".into(), holder: Some("alice".into()) });
    assert_eq!(m, Some(14));
    // Row 1: tech lead, unheld. Take it.
    press(&mut s, &k, "down");
    let (_, e, m) = only_submit(press(&mut s, &k, "m"));
    assert_eq!(e.body, EventBody::RoleAssigned { role: "tech_lead".into(), holder: "alice".into() });
    assert_eq!(m, None);
    // Give it to a typed name.
    press(&mut s, &k, "i");
    type_text(&mut s, &k, "carol");
    let (_, e, _) = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(e.body, EventBody::RoleAssigned { role: "tech_lead".into(), holder: "carol".into() });
    // Releasing an unheld role says so.
    assert!(press(&mut s, &k, "x").is_empty());
    assert!(s.notice.as_ref().unwrap().text.contains("nobody"));
}

#[test]
fn correction_amends_the_selected_entry() {
    let k = keys();
    let mut s = room();
    // From the tail (seq 14), go up to the decision (seq 11): 14 -> 13 -> 12 -> 11.
    for _ in 0..3 {
        press(&mut s, &k, "up");
    }
    assert!(!s.room.follow);
    press(&mut s, &k, "c");
    match &s.overlay {
        Some(Overlay::Composer(c)) => {
            assert_eq!(c.kind, ComposeKind::Correction { target: id(11) });
            assert_eq!(c.input.lines().join("\n"), "Fail over to db-replica-2 if p99 stays above 5s");
        }
        o => panic!("{o:?}"),
    }
    type_text(&mut s, &k, " for 10m");
    let (_, e, _) = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(
        e.body,
        EventBody::Correction {
            target: id(11),
            text: "Fail over to db-replica-2 if p99 stays above 5s for 10m".into()
        }
    );
    // A non-entry cannot be corrected.
    press(&mut s, &k, "down"); // checklist tick
    assert!(press(&mut s, &k, "c").is_empty());
    assert!(s.overlay.is_none());
    assert!(s.notice.as_ref().unwrap().error);
}

#[test]
fn corrections_show_on_the_entry_they_amend() {
    let s = room();
    let tl = s.timeline(INC).unwrap();
    assert_eq!(tl.corrected_text(&id(7)), Some("db-primary CPU at 98% since 08:55"));
    let row = (0..tl.len()).map(|i| tl.row(i).unwrap()).find(|r| r.id() == id(7)).unwrap();
    assert_eq!(warroom::tui::format::row_text(row, tl, None), "db-primary CPU at 98% since 08:55");
    let detail =
        warroom::tui::format::row_detail(row, tl, warroom::tui::format::TimeDisplay::Utc, None).join("\n");
    assert!(detail.contains("Original:") && detail.contains("since 09:05"), "{detail}");
}

#[test]
fn filter_by_kind_and_clear() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "F");
    let pos = match &s.overlay {
        Some(Overlay::Picker(p)) => p.options.iter().position(|(v, _)| v == "finding").unwrap(),
        o => panic!("{o:?}"),
    };
    for _ in 0..pos {
        press(&mut s, &k, "down");
    }
    press(&mut s, &k, "enter");
    assert_eq!(tl_len(&s), 1);
    assert!(matches!(s.timeline(INC).unwrap().row(0), Some(Row::Event(e)) if e.kind() == EventKind::Finding));
    // Esc clears the filter before leaving the war room.
    press(&mut s, &k, "esc");
    assert_eq!(tl_len(&s), 14);
    assert!(matches!(s.screen, Screen::WarRoom(_)));
    press(&mut s, &k, "esc");
    assert_eq!(s.screen, Screen::Board);
}

#[test]
fn search_narrows_the_timeline() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "/");
    type_text(&mut s, &k, "DB-PRIMARY");
    press(&mut s, &k, "enter");
    // The finding, the action and the correction mention db-primary.
    assert_eq!(tl_len(&s), 3);
    // New matching events join the view; others do not.
    let mut e = ev(
        15,
        30,
        "bob",
        EventBody::Note(warroom::domain::Entry { text: "db-primary failed over".into(), tags: vec![] }),
    );
    e.id = id(15);
    update(&mut s, Action::Net(SyncMsg::Event(e)));
    let mut e =
        ev(16, 31, "bob", EventBody::Note(warroom::domain::Entry { text: "unrelated".into(), tags: vec![] }));
    e.id = id(16);
    update(&mut s, Action::Net(SyncMsg::Event(e)));
    assert_eq!(tl_len(&s), 4);
}

fn selected_text(s: &warroom::tui::state::State) -> String {
    let tl = s.timeline(INC).unwrap();
    tl.row(s.timeline_sel().unwrap()).unwrap().body().summary()
}

#[test]
fn search_is_incremental_and_n_moves_between_matches() {
    let k = keys();
    let mut s = room();
    // From the decision (seq 11), searching forward as in vim.
    press(&mut s, &k, "k");
    press(&mut s, &k, "k");
    press(&mut s, &k, "k");
    assert!(selected_text(&s).contains("Fail over"), "{}", selected_text(&s));
    press(&mut s, &k, "/");
    // As it is typed: "d" matches much, "db-p" only the db-primary entries; the selection moves
    // to the first match after the decision, wrapping to the first one (the finding).
    type_text(&mut s, &k, "db-p");
    assert_eq!(tl_len(&s), 3);
    assert!(selected_text(&s).contains("db-primary CPU"), "{}", selected_text(&s));
    // "db-r" (backspace twice, r): the decision itself mentions db-replica-2.
    press(&mut s, &k, "backspace");
    type_text(&mut s, &k, "r");
    assert_eq!(tl_len(&s), 1);
    assert!(selected_text(&s).contains("db-replica-2"));
    // Esc restores the view as it was (no search, the decision selected).
    press(&mut s, &k, "esc");
    assert!(s.overlay.is_none());
    assert_eq!(tl_len(&s), 14);
    assert!(selected_text(&s).contains("Fail over"));
    assert_eq!(s.context(), warroom::tui::keymap::Context::Timeline);

    press(&mut s, &k, "/");
    type_text(&mut s, &k, "db-primary");
    press(&mut s, &k, "enter");
    assert_eq!(s.context(), warroom::tui::keymap::Context::Search);
    let first = selected_text(&s);
    // n / N move between matches (wrapping) instead of starting a note.
    assert!(press(&mut s, &k, "n").is_empty());
    assert!(s.overlay.is_none(), "n must not open the composer");
    assert_eq!(s.notice.as_ref().unwrap().text, "match 2 of 3");
    press(&mut s, &k, "n");
    assert_eq!(s.notice.as_ref().unwrap().text, "match 3 of 3");
    press(&mut s, &k, "n");
    assert_eq!(s.notice.as_ref().unwrap().text, "match 1 of 3 (wrapped to the first)");
    assert_eq!(selected_text(&s), first);
    press(&mut s, &k, "N");
    assert_eq!(s.notice.as_ref().unwrap().text, "match 3 of 3 (wrapped to the last)");
    // Other war-room keys still work during a search.
    press(&mut s, &k, "f");
    assert!(
        matches!(&s.overlay, Some(Overlay::Composer(c)) if c.kind == ComposeKind::Entry(EventKind::Finding))
    );
    press(&mut s, &k, "esc");
    // Esc clears the search; n is a note again.
    press(&mut s, &k, "esc");
    assert_eq!(tl_len(&s), 14);
    press(&mut s, &k, "n");
    assert!(
        matches!(&s.overlay, Some(Overlay::Composer(c)) if c.kind == ComposeKind::Entry(EventKind::Note))
    );
}

#[test]
fn search_keys_are_remappable() {
    let mut k = keys();
    let o = std::collections::BTreeMap::from([
        ("search_next".to_string(), vec!["ctrl-n".to_string()]),
        ("back".to_string(), vec!["esc".to_string()]),
    ]);
    k.override_keys("config.toml", &o).unwrap();
    let mut s = room();
    press(&mut s, &k, "/");
    type_text(&mut s, &k, "db-primary");
    press(&mut s, &k, "enter");
    press(&mut s, &k, "ctrl-n");
    assert_eq!(s.notice.as_ref().unwrap().text, "match 2 of 3");
    // With `back` remapped, q falls through to nothing in the war room.
    press(&mut s, &k, "q");
    assert!(matches!(s.screen, Screen::WarRoom(_)));
}

#[test]
fn copy_entry_and_excerpt_by_osc52() {
    let k = keys();
    let mut s = room();
    let fx = press(&mut s, &k, "y");
    let text = match fx.as_slice() {
        [Effect::Copy(t)] => t.clone(),
        o => panic!("{o:?}"),
    };
    assert_eq!(text, "09:34:00 carol note: p99 back to 1.1s after query kill watching for 10 minutes");
    let osc = warroom::tui::state::effect::osc52(&text);
    assert!(osc.starts_with("\x1b]52;c;") && osc.ends_with('\x07'));
    use base64::Engine;
    let b64 = &osc[7..osc.len() - 1];
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(b64).unwrap(), text.as_bytes());
    // Y copies the visible window (before any draw: the last 20 rows).
    match press(&mut s, &k, "Y").as_slice() {
        [Effect::Copy(t)] => assert_eq!(t.lines().count(), 14),
        o => panic!("{o:?}"),
    }
}

#[test]
fn declare_from_the_board_then_open_its_war_room() {
    let k = keys();
    let mut s = state();
    assert_eq!(s.screen, Screen::Board);
    press(&mut s, &k, "D");
    // An empty title is refused in the form.
    assert!(press(&mut s, &k, "enter").is_empty());
    type_text(&mut s, &k, "Payments API 500s");
    press(&mut s, &k, "down"); // SEV-2 -> SEV-3
    let (t, e, m) = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(t, Target::Declare);
    assert_eq!(m, None);
    assert_eq!(
        e.body,
        EventBody::Declared {
            title: "Payments API 500s".into(),
            severity: "SEV-3".into(),
            summary: String::new(),
            group_key: None,
            demo: false
        }
    );
    update(&mut s, Action::Net(SyncMsg::Queued { target: Target::Declare, event: e.clone() }));
    assert_eq!(s.pending_declares.len(), 1);
    let recorded = warroom::domain::Event {
        seq: 300,
        id: e.id,
        incident: "INC-9".into(),
        author: "alice".into(),
        occurred_at: e.occurred_at,
        recorded_at: e.occurred_at,
        body: e.body.clone(),
    };
    update(&mut s, Action::Net(SyncMsg::Acked { events: vec![recorded] }));
    assert!(s.pending_declares.is_empty());
    assert_eq!(s.incidents["INC-9"].title, "Payments API 500s");
    assert_eq!(s.screen, Screen::WarRoom("INC-9".into()));
}

#[test]
fn board_enter_opens_and_loads_the_timeline_once() {
    let k = keys();
    let mut s = state();
    // Open incidents sort by severity: INC-7 (SEV-2) before INC-8 (SEV-3); resolved last.
    press(&mut s, &k, "down");
    assert_eq!(s.board_selected().unwrap().id, "INC-8");
    let fx = press(&mut s, &k, "enter");
    assert_eq!(fx, vec![Effect::LoadTimeline("INC-8".into())]);
    assert_eq!(s.screen, Screen::WarRoom("INC-8".into()));
    press(&mut s, &k, "esc");
    assert!(press(&mut s, &k, "enter").is_empty(), "already requested");
    // INC-7's timeline is loaded: no request.
    press(&mut s, &k, "esc");
    press(&mut s, &k, "up");
    assert!(press(&mut s, &k, "enter").is_empty());
}

#[test]
fn follows_the_tail_unless_scrolled() {
    let k = keys();
    let mut s = room();
    assert!(s.room.follow);
    assert_eq!(s.timeline_sel(), Some(13));
    let add = |s: &mut warroom::tui::state::State, seq: u64| {
        let mut e = ev(
            seq,
            30,
            "bob",
            EventBody::Note(warroom::domain::Entry { text: format!("n{seq}"), tags: vec![] }),
        );
        e.id = id(seq);
        update(s, Action::Net(SyncMsg::Event(e)));
    };
    add(&mut s, 15);
    assert_eq!(s.timeline_sel(), Some(14));
    press(&mut s, &k, "up");
    assert!(!s.room.follow);
    assert_eq!(s.timeline_sel(), Some(13));
    add(&mut s, 16);
    assert_eq!(s.timeline_sel(), Some(13), "a scrolled view stays put");
    press(&mut s, &k, "G");
    assert!(s.room.follow);
    assert_eq!(s.timeline_sel(), Some(15));
    press(&mut s, &k, "g");
    assert_eq!(s.timeline_sel(), Some(0));
    // Walking down to the end follows again.
    for _ in 0..20 {
        press(&mut s, &k, "down");
    }
    assert!(s.room.follow);
}

#[test]
fn pending_until_acked_and_deduplicated() {
    let mut s = room();
    let e = NewEvent::at(now(), EventBody::entry(EventKind::Note, "queued while offline").unwrap());
    let target = Target::Incident(INC.into());
    update(&mut s, Action::Net(SyncMsg::Queued { target: target.clone(), event: e.clone() }));
    update(&mut s, Action::Net(SyncMsg::Queued { target, event: e.clone() }));
    let tl = s.timeline(INC).unwrap();
    assert_eq!(tl.len(), 15);
    assert!(matches!(tl.row(14), Some(Row::Pending(p)) if p.id == e.id));
    let rev = s.incidents[INC].revision;
    let recorded = warroom::domain::Event {
        seq: 15,
        id: e.id,
        incident: INC.into(),
        author: "alice".into(),
        occurred_at: e.occurred_at,
        recorded_at: now(),
        body: e.body.clone(),
    };
    update(&mut s, Action::Net(SyncMsg::Acked { events: vec![recorded.clone()] }));
    // The stream brings it again: still one row.
    update(&mut s, Action::Net(SyncMsg::Event(recorded.clone())));
    let tl = s.timeline(INC).unwrap();
    assert!(tl.pending().is_empty());
    assert_eq!(tl.len(), 15);
    assert!(matches!(tl.row(14), Some(Row::Event(x)) if x.seq() == 15));
    assert_eq!(s.incidents[INC].revision, rev + 1, "applied once");
    // Same seq, different id: ignored too.
    let mut dup = recorded;
    dup.id = id(999);
    update(&mut s, Action::Net(SyncMsg::Event(dup)));
    assert_eq!(s.timeline(INC).unwrap().len(), 15);
}

#[test]
fn events_fold_into_incident_state() {
    let mut s = room();
    let e = ev(15, 40, "alice", EventBody::StatusChanged { status: Status::Mitigated });
    update(&mut s, Action::Net(SyncMsg::Event(e)));
    let inc = &s.incidents[INC];
    assert_eq!(inc.status, Status::Mitigated);
    assert!(inc.mitigated_at.is_some());
    assert_eq!(inc.last_seq, 15);
}

#[test]
fn viewer_cannot_start_writes() {
    let k = keys();
    let mut s = state_with(Role::Viewer);
    s.screen = Screen::WarRoom(INC.into());
    press(&mut s, &k, "n");
    assert!(s.overlay.is_none());
    assert!(s.notice.as_ref().unwrap().text.contains("responder"));
    press(&mut s, &k, "s");
    assert!(s.overlay.is_none());
}

#[test]
fn help_lists_the_context_and_quit_quits() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "?");
    assert!(matches!(
        s.overlay,
        Some(Overlay::Help { context: warroom::tui::keymap::Context::Timeline, .. })
    ));
    press(&mut s, &k, "esc");
    assert!(s.overlay.is_none());
    // `q` in a war room goes back to the board (like esc); on the board it quits.
    assert!(press(&mut s, &k, "q").is_empty());
    assert_eq!(s.screen, Screen::Board);
    assert_eq!(press(&mut s, &k, "q"), vec![Effect::Quit]);
    // `Q` quits from a war room.
    let mut s = room();
    assert_eq!(press(&mut s, &k, "Q"), vec![Effect::Quit]);
    // In the composer, q is text and ctrl-c cancels.
    let mut s = room();
    press(&mut s, &k, "n");
    assert!(press(&mut s, &k, "q").is_empty());
    press(&mut s, &k, "ctrl-c");
    assert!(s.overlay.is_none());
    assert!(s.drafts.contains_key(&(INC.to_string(), EventKind::Note)));
    // With a draft kept, quitting asks once.
    assert!(press(&mut s, &k, "Q").is_empty());
    assert!(s.notice.as_ref().unwrap().text.contains("draft"));
    assert_eq!(press(&mut s, &k, "Q"), vec![Effect::Quit]);
}

#[test]
fn clock_ticks_redraw_only_when_the_minute_turns() {
    let mut s = room();
    s.dirty = false;
    s.now = now() + Duration::seconds(10);
    update(&mut s, Action::Tick);
    assert!(!s.dirty);
    s.now = now() + Duration::seconds(61);
    update(&mut s, Action::Tick);
    assert!(s.dirty);
}

#[test]
fn resize_keeps_composer_text() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "n");
    type_text(&mut s, &k, "do not lose me");
    update(&mut s, Action::Resize(200, 50));
    update(&mut s, Action::Resize(80, 24));
    match &s.overlay {
        Some(Overlay::Composer(c)) => assert_eq!(c.input.lines().join(""), "do not lose me"),
        o => panic!("{o:?}"),
    }
}

#[test]
fn paste_goes_into_the_composer_sanitized() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "n");
    let a =
        warroom::tui::action_for(crossterm::event::Event::Paste("line one\x1b[2J\nline two".into()), &s, &k)
            .unwrap();
    update(&mut s, a);
    let (_, e, _) = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(e.body, EventBody::entry(EventKind::Note, "line one\nline two").unwrap());
}

#[test]
fn timeline_load_merges_with_streamed_events() {
    let mut s = state();
    // INC-8's stream brought two late events before its history loaded.
    let mk = |seq: u64, text: &str| {
        let mut e =
            ev(seq, 40, "dave", EventBody::Note(warroom::domain::Entry { text: text.into(), tags: vec![] }));
        e.incident = "INC-8".into();
        e.id = id(seq);
        e
    };
    update(&mut s, Action::Net(SyncMsg::Event(mk(102, "second"))));
    update(&mut s, Action::Net(SyncMsg::Event(mk(103, "third"))));
    let history = vec![mk(101, "first"), mk(102, "second")];
    update(&mut s, Action::Net(SyncMsg::Timeline { incident: "INC-8".into(), events: history }));
    let tl = s.timeline("INC-8").unwrap();
    assert!(tl.loaded);
    let seqs: Vec<u64> = tl.events().iter().map(|e| e.seq()).collect();
    assert_eq!(seqs, vec![101, 102, 103]);
}

#[test]
fn detail_popup_shows_and_copies_the_whole_entry() {
    let k = keys();
    let mut s = room();
    // The corrected finding, seq 7: from the tail (seq 14) up 7 rows.
    for _ in 0..7 {
        press(&mut s, &k, "up");
    }
    press(&mut s, &k, "enter");
    assert!(matches!(s.overlay, Some(Overlay::Detail { id: x, .. }) if x == id(7)));
    let text = match press(&mut s, &k, "y").as_slice() {
        [Effect::Copy(t)] => t.clone(),
        o => panic!("{o:?}"),
    };
    assert!(
        text.contains("Corrected text:") && text.contains("since 08:55") && text.contains("since 09:05"),
        "{text}"
    );
    press(&mut s, &k, "esc");
    assert!(s.overlay.is_none());
}
