//! The fold: unit tests of `apply` and property tests that it is deterministic, total and
//! never panics.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use uuid::Uuid;
use warroom::domain::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 14, 0, 0).unwrap()
}

fn ev(seq: u64, minutes: i64, body: EventBody) -> Event {
    Event {
        seq,
        id: Uuid::from_u128(seq as u128),
        incident: "INC-1".into(),
        author: "alice".into(),
        occurred_at: t0() + Duration::minutes(minutes),
        recorded_at: t0() + Duration::minutes(minutes),
        body,
    }
}

fn declared() -> EventBody {
    EventBody::Declared {
        title: "Checkout API latency".into(),
        severity: "SEV-2".into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    }
}

#[test]
fn declare_then_status_sets_timestamps_once() {
    let mut inc = Incident::default();
    apply(&mut inc, &ev(1, 0, declared())).unwrap();
    assert_eq!(inc.id, "INC-1");
    assert_eq!(inc.status, Status::Declared);
    assert_eq!(inc.revision, 1);
    apply(&mut inc, &ev(2, 5, EventBody::StatusChanged { status: Status::Investigating })).unwrap();
    assert_eq!(inc.acknowledged_at, Some(t0() + Duration::minutes(5)));
    apply(&mut inc, &ev(3, 40, EventBody::StatusChanged { status: Status::Resolved })).unwrap();
    assert_eq!(inc.mitigated_at, Some(t0() + Duration::minutes(40)));
    assert_eq!(inc.resolved_at, Some(t0() + Duration::minutes(40)));
    assert!(!inc.is_open());
    // Reopen: resolution no longer stands, acknowledgement does.
    apply(&mut inc, &ev(4, 50, EventBody::StatusChanged { status: Status::Investigating })).unwrap();
    assert_eq!(inc.resolved_at, None);
    assert_eq!(inc.acknowledged_at, Some(t0() + Duration::minutes(5)));
    assert_eq!(inc.last_seq, 4);
}

#[test]
fn events_before_declare_and_double_declare_are_rejected() {
    let mut inc = Incident::default();
    let e = apply(&mut inc, &ev(1, 0, EventBody::entry(EventKind::Note, "hi").unwrap())).unwrap_err();
    assert_eq!(e.code, "unknown_incident");
    assert_eq!(inc, Incident::default());
    apply(&mut inc, &ev(2, 0, declared())).unwrap();
    let before = inc.clone();
    assert!(apply(&mut inc, &ev(3, 1, declared())).is_err());
    assert_eq!(inc, before, "a rejected event leaves the state unchanged");
}

#[test]
fn roles_commander_replaces_sme_accumulates() {
    let mut inc = Incident::default();
    apply(&mut inc, &ev(1, 0, declared())).unwrap();
    let assign = |r: &str, h: &str| EventBody::RoleAssigned { role: r.into(), holder: h.into() };
    apply(&mut inc, &ev(2, 1, assign(COMMANDER_ROLE, "alice"))).unwrap();
    apply(&mut inc, &ev(3, 2, assign(COMMANDER_ROLE, "bob"))).unwrap();
    assert_eq!(inc.commander(), Some("bob"));
    assert_eq!(inc.roles[COMMANDER_ROLE].len(), 1);
    apply(&mut inc, &ev(4, 3, assign("sme", "carol"))).unwrap();
    apply(&mut inc, &ev(5, 4, assign("sme", "dave"))).unwrap();
    assert_eq!(inc.roles["sme"].len(), 2);
    apply(&mut inc, &ev(6, 5, EventBody::RoleReleased { role: "sme".into(), holder: Some("carol".into()) }))
        .unwrap();
    assert_eq!(inc.roles["sme"][0].holder, "dave");
    let err = apply(
        &mut inc,
        &ev(7, 6, EventBody::RoleReleased { role: "sme".into(), holder: Some("erin".into()) }),
    );
    assert!(err.is_err());
    apply(&mut inc, &ev(8, 7, EventBody::RoleReleased { role: "sme".into(), holder: None })).unwrap();
    assert!(!inc.roles.contains_key("sme"));
}

#[test]
fn guarded_changes_conflict_only_on_their_own_field() {
    let mut inc = Incident::default();
    apply(&mut inc, &ev(1, 0, declared())).unwrap();
    let seen = inc.revision;
    // A note and a checklist tick commute with a severity change.
    apply(&mut inc, &ev(2, 1, EventBody::entry(EventKind::Note, "x").unwrap())).unwrap();
    let sev = EventBody::SeverityChanged { severity: "SEV-1".into() };
    assert!(inc.check_revision(&sev, Some(seen)).is_ok());
    apply(&mut inc, &ev(3, 2, sev.clone())).unwrap();
    // Someone who still saw revision 1 now conflicts on severity, not on status.
    let c = inc.check_revision(&sev, Some(seen)).unwrap_err();
    assert_eq!(c.field, "severity");
    assert_eq!(c.changed_at, 3);
    assert!(inc.check_revision(&EventBody::StatusChanged { status: Status::Mitigated }, Some(seen)).is_ok());
    // Without If-Match nothing is guarded.
    assert!(inc.check_revision(&sev, None).is_ok());
}

#[test]
fn action_items_and_limits() {
    let mut inc = Incident::default();
    apply(&mut inc, &ev(1, 0, declared())).unwrap();
    let add = ev(
        2,
        1,
        EventBody::ActionItemAdded {
            text: "Add canary".into(),
            owner: Some("bob".into()),
            due: None,
            priority: Priority::High,
        },
    );
    apply(&mut inc, &add).unwrap();
    let upd = EventBody::ActionItemUpdated {
        item: add.id,
        text: None,
        owner: None,
        due: None,
        priority: None,
        done: Some(true),
    };
    apply(&mut inc, &ev(3, 2, upd)).unwrap();
    assert!(inc.action_items[0].done);
    let missing = EventBody::ActionItemUpdated {
        item: Uuid::from_u128(99),
        text: None,
        owner: None,
        due: None,
        priority: None,
        done: Some(true),
    };
    assert!(apply(&mut inc, &ev(4, 3, missing)).is_err());
    let long = "x".repeat(incident::MAX_TEXT + 1);
    assert_eq!(
        apply(&mut inc, &ev(5, 4, EventBody::entry(EventKind::Note, long).unwrap())).unwrap_err().code,
        "too_long"
    );
    assert_eq!(
        apply(&mut inc, &ev(6, 4, EventBody::entry(EventKind::Note, "  ").unwrap())).unwrap_err().code,
        "invalid_event"
    );
}

#[test]
fn wire_format_is_kind_tagged_and_round_trips() {
    let e = ev(7, 3, EventBody::entry(EventKind::Finding, "p99 at 6s since 14:02 deploy").unwrap());
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["kind"], "finding");
    assert_eq!(json["text"], "p99 at 6s since 14:02 deploy");
    assert_eq!(json["seq"], 7);
    let back: Event = serde_json::from_value(json).unwrap();
    assert_eq!(back, e);
}

#[test]
fn practice_rejects_unknown_names_and_canonicalises_severity() {
    let p = warroom::assets::load_practice(None, None).unwrap();
    let mut b = EventBody::SeverityChanged { severity: "sev-1".into() };
    p.check_event(&mut b).unwrap();
    assert_eq!(b, EventBody::SeverityChanged { severity: "SEV-1".into() });
    assert_eq!(
        p.check_event(&mut EventBody::SeverityChanged { severity: "P1".into() }).unwrap_err().code,
        "unknown_severity"
    );
    let mut r = EventBody::RoleAssigned { role: "wizard".into(), holder: "x".into() };
    assert_eq!(p.check_event(&mut r).unwrap_err().code, "unknown_role");
}

#[test]
fn what_a_change_would_leave_as_it_is_and_the_guarded_value_now() {
    let p = warroom::assets::load_practice(None, None).unwrap();
    let mut inc = Incident::default();
    apply(&mut inc, &ev(1, 0, declared())).unwrap();
    let status = |s| EventBody::StatusChanged { status: s };
    assert!(inc.is_noop(&status(Status::Declared)) && !inc.is_noop(&status(Status::Mitigated)));
    assert!(inc.is_noop(&EventBody::SeverityChanged { severity: "SEV-2".into() }));
    let ic = EventBody::RoleAssigned { role: COMMANDER_ROLE.into(), holder: "alice".into() };
    assert_eq!(inc.guarded_value(&ic).as_deref(), Some("nobody"));
    assert!(!inc.is_noop(&ic));
    apply(&mut inc, &ev(2, 1, ic.clone())).unwrap();
    assert!(inc.is_noop(&ic));
    assert_eq!(inc.guarded_value(&ic).as_deref(), Some("alice"));
    assert_eq!(inc.guarded_value(&status(Status::Resolved)).as_deref(), Some("declared"));
    assert_eq!(inc.guarded_value(&EventBody::entry(EventKind::Note, "x").unwrap()), None);
    let tick =
        |done| EventBody::ChecklistItemSet { checklist: "first-15-minutes".into(), item: "ack".into(), done };
    assert!(inc.is_noop(&tick(false)) && !inc.is_noop(&tick(true)));
    apply(&mut inc, &ev(3, 2, tick(true))).unwrap();
    assert!(inc.is_noop(&tick(true)));
    // The checklists an incident works through: the scheme's, then an attached playbook's.
    let before = p.checklists_for(&inc).len();
    apply(&mut inc, &ev(4, 3, EventBody::PlaybookAttached { playbook: "database-performance".into() }))
        .unwrap();
    let lists = p.checklists_for(&inc);
    assert!(lists.len() > before);
    assert!(lists[before].id.starts_with("database-performance."), "{:?}", lists[before].id);
    assert!(lists.iter().all(|l| l.items.iter().all(|i| i.applies_to(&inc.severity))));
    // Comms templates: the known ones first, never the post-mortem's.
    let names: Vec<String> = comms::templates(&p).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names[..3], ["internal-alert", "customer", "resolution"]);
    assert!(!names.iter().any(|n| n == "postmortem"));
}

// ---- properties ----

fn arb_body() -> impl Strategy<Value = EventBody> {
    let text = "[a-z ]{0,12}";
    let role =
        prop_oneof![Just("commander".to_string()), Just("sme".to_string()), Just("scribe".to_string())];
    let who = prop_oneof![Just("alice".to_string()), Just("bob".to_string())];
    prop_oneof![
        (text, prop_oneof![Just("SEV-1"), Just("SEV-2"), Just("")]).prop_map(|(t, s)| EventBody::Declared {
            title: t,
            severity: s.into(),
            summary: String::new(),
            group_key: None,
            demo: false
        }),
        prop_oneof![Just("SEV-1"), Just("SEV-3")]
            .prop_map(|s| EventBody::SeverityChanged { severity: s.into() }),
        proptest::sample::select(Status::ALL.to_vec()).prop_map(|s| EventBody::StatusChanged { status: s }),
        (role.clone(), who.clone()).prop_map(|(r, h)| EventBody::RoleAssigned { role: r, holder: h }),
        (role, proptest::option::of(who)).prop_map(|(r, h)| EventBody::RoleReleased { role: r, holder: h }),
        ("[ab]", "[xy]", any::<bool>()).prop_map(|(c, i, d)| EventBody::ChecklistItemSet {
            checklist: c,
            item: i,
            done: d
        }),
        text.prop_map(|t| EventBody::entry(EventKind::Note, t).unwrap()),
        text.prop_map(|t| EventBody::CommsSent { channel: "#inc".into(), text: t, template: None }),
        text.prop_map(|t| EventBody::ActionItemAdded {
            text: t,
            owner: None,
            due: None,
            priority: Priority::Low
        }),
        (0u128..4, any::<bool>()).prop_map(|(i, d)| EventBody::ActionItemUpdated {
            item: Uuid::from_u128(i),
            text: None,
            owner: None,
            due: None,
            priority: None,
            done: Some(d)
        }),
    ]
}

fn log_of(bodies: Vec<EventBody>) -> Vec<Event> {
    bodies.into_iter().enumerate().map(|(i, b)| ev(i as u64 + 1, i as i64, b)).collect()
}

/// What a server does: apply each event, keep only those accepted (the recorded log).
fn accepted(log: &[Event]) -> (Incident, Vec<Event>) {
    let mut inc = Incident::default();
    let mut kept = Vec::new();
    for e in log {
        let before = inc.clone();
        match apply(&mut inc, e) {
            Ok(()) => kept.push(e.clone()),
            Err(_) => assert_eq!(inc, before, "a rejected event changed the state"),
        }
    }
    (inc, kept)
}

proptest! {
    #[test]
    fn apply_never_panics_and_rejections_change_nothing(bodies in proptest::collection::vec(arb_body(), 0..60)) {
        let _ = accepted(&log_of(bodies));
    }

    #[test]
    fn replaying_the_recorded_log_gives_the_same_state_everywhere(bodies in proptest::collection::vec(arb_body(), 1..60)) {
        let (server, recorded) = accepted(&log_of(bodies));
        // Every client folds the recorded log in seq order: identical state, no rejection.
        let client_a = fold(&recorded).unwrap();
        let client_b = fold(recorded.iter()).unwrap();
        prop_assert_eq!(&client_a, &server);
        prop_assert_eq!(&client_b, &server);
        // A client that joined late: state from a snapshot at some point, then the rest.
        let cut = recorded.len() / 2;
        let mut late = fold(&recorded[..cut]).unwrap();
        for e in &recorded[cut..] { apply(&mut late, e).unwrap(); }
        prop_assert_eq!(&late, &server);
        // Revision counts accepted events.
        prop_assert_eq!(server.revision as usize, recorded.len());
    }

    #[test]
    fn any_json_never_panics_the_decoder(s in ".{0,200}") {
        let _ = serde_json::from_str::<Event>(&s);
        let _ = serde_json::from_str::<NewEvent>(&s);
    }
}
