//! Reducer tests of the console's incident-response practice, through the real keymap: clocks
//! and board order from `domain::timers`, checklists by severity with sub-items and commands,
//! playbooks, comms drafts (copy, record as sent), the post-mortem and action items.

use crate::tui_fixture::*;
use chrono::Duration;
use warroom::api::Role;
use warroom::assets::load_practice;
use warroom::client::{SyncMsg, Target};
use warroom::domain::{Event, EventBody, NewEvent, Priority, comms, postmortem, timers};
use warroom::tui::action::Action;
use warroom::tui::keymap::Keymap;
use warroom::tui::state::{CheckRow, Effect, Overlay, PickKind, PromptKind, Screen, State, update};

fn keys() -> Keymap {
    Keymap::defaults()
}

fn only_submit(effects: Vec<Effect>) -> NewEvent {
    match effects.as_slice() {
        [Effect::Submit(Target::Incident(i), e, None)] if i == INC => e.clone(),
        other => panic!("expected one submit to {INC}, got {other:?}"),
    }
}

fn only_copy(effects: Vec<Effect>) -> String {
    match effects.as_slice() {
        [Effect::Copy(t)] => t.clone(),
        other => panic!("expected one copy, got {other:?}"),
    }
}

/// The server records a write: it arrives on the stream as the next event.
fn record(s: &mut State, e: NewEvent, seq: u64) {
    let ev = Event {
        seq,
        id: e.id,
        incident: INC.into(),
        author: "alice".into(),
        occurred_at: e.occurred_at,
        recorded_at: e.occurred_at,
        body: e.body,
    };
    update(s, Action::Net(SyncMsg::Event(ev)));
}

/// The war room with the checklists pane focused.
fn checklists() -> State {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "tab");
    press(&mut s, &k, "tab");
    assert_eq!(s.context(), warroom::tui::keymap::Context::Checklists);
    s
}

/// Moves the checklists selection to the selectable row matching `want`.
fn select(s: &mut State, want: impl Fn(&CheckRow<'_>) -> bool) {
    let k = keys();
    let inc = s.incidents.get(INC).unwrap();
    let pos = s.checklist_rows(inc).iter().filter(|r| r.selectable()).position(want).expect("row");
    press(s, &k, "g");
    for _ in 0..pos {
        press(s, &k, "j");
    }
}

fn item_is(id: &str) -> impl Fn(&CheckRow<'_>) -> bool + '_ {
    move |r| matches!(r, CheckRow::Item { item, .. } if item.id == id)
}

#[test]
fn board_puts_breached_timers_first_then_severity() {
    let k = keys();
    let mut s = state();
    let (open, _) = s.board_rows();
    assert_eq!(open.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["INC-7", "INC-8"]);
    // INC-8 (SEV-3, response target 2 h) is not acknowledged 2 h 30 after it was declared.
    s.now = s.incidents["INC-8"].declared_at + Duration::minutes(150);
    let p = s.practice.clone().unwrap();
    assert!(timers::response(p.scheme(), &s.incidents["INC-8"], s.now).is_breached());
    s.incidents.get_mut("INC-7").unwrap().last_comms_at = Some(s.now);
    let (open, done) = s.board_rows();
    assert_eq!(open.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["INC-8", "INC-7"]);
    assert_eq!(done[0].id, "INC-5");
    // The first row is what Enter opens.
    press(&mut s, &k, "g");
    press(&mut s, &k, "enter");
    assert_eq!(s.screen, Screen::WarRoom("INC-8".into()));
}

#[test]
fn checklists_show_items_of_the_severity_indented_under_their_parent() {
    let s = room();
    let inc = s.incidents.get(INC).unwrap();
    let rows = s.checklist_rows(inc);
    let find = |id: &str| {
        rows.iter().find_map(|r| match r {
            CheckRow::Item { item, depth, .. } if item.id == id => Some(*depth),
            _ => None,
        })
    };
    assert_eq!(find("dashboards"), Some(0));
    assert_eq!(find("dash-overview"), Some(1));
    assert_eq!(find("logs-errors"), Some(1));
    // "Create incident channel" applies to SEV-1/2 only.
    assert_eq!(find("channel"), Some(0));
    let mut s = room();
    s.incidents.get_mut(INC).unwrap().severity = "SEV-3".into();
    let inc = s.incidents.get(INC).unwrap();
    assert!(
        !s.checklist_rows(inc)
            .iter()
            .any(|r| matches!(r, CheckRow::Item { item, .. } if item.id == "channel"))
    );
}

#[test]
fn y_copies_the_selected_items_command() {
    let k = keys();
    let mut s = checklists();
    select(&mut s, item_is("logs-errors"));
    let text = only_copy(press(&mut s, &k, "y"));
    assert_eq!(text, r#"journalctl --since "30 min ago" --priority err --no-pager"#);
    assert!(s.notice.as_ref().unwrap().text.contains("command copied"));
    // An item without a command (or link) copies nothing and says so.
    select(&mut s, item_is("assess"));
    assert!(press(&mut s, &k, "y").is_empty());
    assert!(s.notice.as_ref().unwrap().text.contains("no command"));
    // Space still ticks.
    let e = only_submit(press(&mut s, &k, "space"));
    assert!(matches!(e.body, EventBody::ChecklistItemSet { ref item, done: true, .. } if item == "assess"));
}

#[test]
fn attach_a_playbook_then_tick_its_steps() {
    let k = keys();
    let mut s = checklists();
    press(&mut s, &k, "P");
    let pos = match &s.overlay {
        Some(Overlay::Picker(p)) => {
            assert_eq!(p.kind, PickKind::Playbook);
            p.options.iter().position(|(v, _)| v == "service-outage").unwrap()
        }
        o => panic!("playbook picker expected, got {o:?}"),
    };
    for _ in 0..pos {
        press(&mut s, &k, "j");
    }
    let e = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(e.body, EventBody::PlaybookAttached { playbook: "service-outage".into() });
    record(&mut s, e, 15);
    // Its groups follow the incident checklists; a tick goes to `<playbook>.<group>`.
    let inc = s.incidents.get(INC).unwrap();
    let rows = s.checklist_rows(inc);
    let first_pb = rows
        .iter()
        .position(
            |r| matches!(r, CheckRow::Item { checklist, .. } if checklist.starts_with("service-outage.")),
        )
        .unwrap();
    let last_incident = rows
        .iter()
        .rposition(
            |r| matches!(r, CheckRow::Item { checklist, .. } if checklist == "resolution-verification"),
        )
        .unwrap();
    assert!(first_pb > last_incident);
    select(&mut s, |r| {
        matches!(r, CheckRow::Item { checklist, item, .. }
            if checklist == "service-outage.verification" && item.id == "health-endpoints")
    });
    assert!(only_copy(press(&mut s, &k, "y")).contains("/healthz"));
    let e = only_submit(press(&mut s, &k, "x"));
    assert_eq!(
        e.body,
        EventBody::ChecklistItemSet {
            checklist: "service-outage.verification".into(),
            item: "health-endpoints".into(),
            done: true
        }
    );
    // Attaching it again is refused locally.
    press(&mut s, &k, "P");
    for _ in 0..pos {
        press(&mut s, &k, "j");
    }
    assert!(press(&mut s, &k, "enter").is_empty());
    assert!(s.notice.as_ref().unwrap().text.contains("already attached"));
}

#[test]
fn comms_draft_edit_copy_and_record_resets_the_update_timer() {
    let k = keys();
    let mut s = room();
    press(&mut s, &k, "C");
    match &s.overlay {
        Some(Overlay::Picker(p)) => {
            assert_eq!(p.kind, PickKind::Template);
            let names: Vec<&str> = p.options.iter().map(|(v, _)| v.as_str()).collect();
            assert_eq!(names, ["internal-alert", "customer", "resolution"]);
            assert_eq!(p.selected, 0);
        }
        o => panic!("template picker expected, got {o:?}"),
    }
    press(&mut s, &k, "enter");
    let p = load_practice(None, None).unwrap();
    let expected = {
        let inc = s.incidents.get(INC).unwrap();
        comms::draft(&p, "internal-alert", inc, &s.timeline(INC).unwrap().events().to_vec(), s.now).unwrap()
    };
    match &s.overlay {
        Some(Overlay::Comms(c)) => {
            assert_eq!(c.template, "internal-alert");
            assert_eq!(c.input.lines().join("\n"), expected.trim_end());
            assert!(expected.contains("Checkout latency above 5s") && expected.contains("@alice"));
        }
        o => panic!("comms editor expected, got {o:?}"),
    }
    // Enter is a new line here; typing edits the draft (the cursor starts at the top).
    type_text(&mut s, &k, "UPDATE ");
    press(&mut s, &k, "enter");
    let copied = only_copy(press(&mut s, &k, "ctrl-y"));
    assert!(copied.starts_with("UPDATE \n🚨 INCIDENT ALERT - SEV-2"), "{copied}");
    assert!(matches!(s.overlay, Some(Overlay::Comms(_))), "copy keeps the editor open");
    // Record as sent: the channel defaults to the suggested incident channel.
    assert!(press(&mut s, &k, "ctrl-s").is_empty());
    let channel = comms::channel_name(s.incidents.get(INC).unwrap());
    assert_eq!(channel, "#incident-2026-03-04-checkout-latency-above-5s");
    match &s.overlay {
        Some(Overlay::Comms(c)) => assert_eq!(c.channel.as_ref().unwrap().lines().join(""), channel),
        o => panic!("{o:?}"),
    }
    s.now = now() + Duration::minutes(5);
    let e = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(
        e.body,
        EventBody::CommsSent { channel, text: copied, template: Some("internal-alert".into()) }
    );
    assert!(s.overlay.is_none());
    // Once recorded, the next status update is due a full cadence (30 min) later.
    let sent_at = e.occurred_at;
    record(&mut s, e, 15);
    let inc = s.incidents.get(INC).unwrap();
    assert_eq!(timers::next_update_at(p.scheme(), inc), Some(sent_at + Duration::minutes(30)));
}

#[test]
fn comms_channel_can_be_changed_and_a_closed_draft_is_kept() {
    let k = keys();
    let mut s = room();
    // Closing an unedited draft keeps nothing: the template drafts it again.
    press(&mut s, &k, "C");
    press(&mut s, &k, "enter");
    press(&mut s, &k, "esc");
    assert!(s.overlay.is_none() && s.comms_drafts.is_empty());
    press(&mut s, &k, "C");
    press(&mut s, &k, "j"); // customer
    press(&mut s, &k, "enter");
    type_text(&mut s, &k, "Hello. ");
    press(&mut s, &k, "esc");
    assert!(s.overlay.is_none());
    assert!(s.comms_drafts.contains_key(INC));
    // Quit asks once while a comms draft is kept.
    assert!(press(&mut s, &k, "Q").is_empty());
    assert!(s.notice.as_ref().unwrap().text.contains("comms in INC-7"));
    // C offers the kept draft first and reopens it as it was.
    press(&mut s, &k, "C");
    match &s.overlay {
        Some(Overlay::Picker(p)) => assert!(p.options[0].1.contains("kept customer update draft")),
        o => panic!("{o:?}"),
    }
    press(&mut s, &k, "enter");
    let text = match &s.overlay {
        Some(Overlay::Comms(c)) => {
            assert_eq!(c.template, "customer");
            assert!(c.input.lines()[0].starts_with("Hello. "));
            c.input.lines().join("\n")
        }
        o => panic!("{o:?}"),
    };
    press(&mut s, &k, "alt-s");
    // Replace the suggested channel.
    for _ in 0..60 {
        press(&mut s, &k, "backspace");
    }
    press(&mut s, &k, "enter");
    match &s.overlay {
        Some(Overlay::Comms(c)) => assert!(c.error.is_some() && c.channel.is_some()),
        o => panic!("an empty channel is refused: {o:?}"),
    }
    type_text(&mut s, &k, "status page");
    let e = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(
        e.body,
        EventBody::CommsSent {
            channel: "status page".into(),
            text: text.trim().to_string(),
            template: Some("customer".into())
        }
    );
    assert!(!s.comms_drafts.contains_key(INC));
}

#[test]
fn a_viewer_may_draft_and_copy_comms_but_not_record_them() {
    let k = keys();
    let mut s = state_with(Role::Viewer);
    s.screen = Screen::WarRoom(INC.into());
    press(&mut s, &k, "C");
    press(&mut s, &k, "enter");
    assert!(!only_copy(press(&mut s, &k, "ctrl-y")).is_empty());
    assert!(press(&mut s, &k, "ctrl-s").is_empty());
    match &s.overlay {
        Some(Overlay::Comms(c)) => {
            assert!(c.channel.is_none());
            assert!(c.error.as_ref().unwrap().contains("role"), "{:?}", c.error);
        }
        o => panic!("{o:?}"),
    }
    press(&mut s, &k, "esc");
    // Nor attach playbooks or add action items.
    press(&mut s, &k, "P");
    assert!(s.overlay.is_none());
    press(&mut s, &k, "A");
    assert!(s.overlay.is_none());
}

#[test]
fn m_copies_the_post_mortem_markdown() {
    let k = keys();
    let mut s = room();
    let md = only_copy(press(&mut s, &k, "M"));
    let p = load_practice(None, None).unwrap();
    let expected =
        postmortem::render(&p, s.incidents.get(INC).unwrap(), &s.timeline(INC).unwrap().events().to_vec());
    assert_eq!(md, expected);
    assert!(md.contains("Checkout latency above 5s"));
    assert!(s.notice.as_ref().unwrap().text.contains("post-mortem copied"));
}

#[test]
fn add_an_action_item_then_mark_it_done() {
    let k = keys();
    let mut s = checklists();
    press(&mut s, &k, "A");
    assert!(matches!(&s.overlay, Some(Overlay::Prompt(p)) if p.kind == PromptKind::ActionItem));
    // Empty text is refused.
    press(&mut s, &k, "enter");
    assert!(matches!(&s.overlay, Some(Overlay::Prompt(p)) if p.error.is_some()));
    type_text(&mut s, &k, "Add an index on orders.created_at");
    assert!(press(&mut s, &k, "enter").is_empty());
    assert!(
        matches!(&s.overlay, Some(Overlay::Prompt(p)) if matches!(p.kind, PromptKind::ActionItemOwner { .. }))
    );
    type_text(&mut s, &k, "carol");
    let e = only_submit(press(&mut s, &k, "enter"));
    assert_eq!(
        e.body,
        EventBody::ActionItemAdded {
            text: "Add an index on orders.created_at".into(),
            owner: Some("carol".into()),
            due: None,
            priority: Priority::Medium
        }
    );
    let item_id = e.id;
    record(&mut s, e, 15);
    // A second one without an owner.
    press(&mut s, &k, "A");
    type_text(&mut s, &k, "Alert on replica lag");
    press(&mut s, &k, "enter");
    let e = only_submit(press(&mut s, &k, "enter"));
    assert!(matches!(e.body, EventBody::ActionItemAdded { owner: None, .. }));
    record(&mut s, e, 16);
    // They are listed under the checklists; space toggles done.
    select(&mut s, |r| matches!(r, CheckRow::ActionItem(a) if a.id == item_id));
    let e = only_submit(press(&mut s, &k, "space"));
    assert_eq!(
        e.body,
        EventBody::ActionItemUpdated {
            item: item_id,
            text: None,
            owner: None,
            due: None,
            priority: None,
            done: Some(true)
        }
    );
    record(&mut s, e, 17);
    assert!(s.incidents[INC].action_items[0].done);
    let e = only_submit(press(&mut s, &k, "space"));
    assert!(matches!(e.body, EventBody::ActionItemUpdated { done: Some(false), .. }));
}

#[test]
fn comms_picker_suggests_the_resolution_notice_once_resolved() {
    let k = keys();
    let mut s = room();
    record(
        &mut s,
        NewEvent::at(now(), EventBody::StatusChanged { status: warroom::domain::Status::Resolved }),
        15,
    );
    press(&mut s, &k, "C");
    match &s.overlay {
        Some(Overlay::Picker(p)) => assert_eq!(p.options[p.selected].0, "resolution"),
        o => panic!("{o:?}"),
    }
    press(&mut s, &k, "enter");
    match &s.overlay {
        Some(Overlay::Comms(c)) => assert_eq!(c.template, "resolution"),
        o => panic!("{o:?}"),
    }
}
