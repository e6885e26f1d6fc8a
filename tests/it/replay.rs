//! Replay: the state at a past seq or time equals the state a live console had then, and the
//! console's replay cursor lands on the same states whatever path it takes.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use uuid::Uuid;
use warroom::assets::load_practice;
use warroom::domain::replay::{Cursor, pos_at_time, snapshot_at, state_at_pos, state_at_seq, state_at_time};
use warroom::domain::timers::TimerState;
use warroom::domain::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 14, 0, 0).unwrap()
}

fn declared(sev: &str) -> EventBody {
    EventBody::Declared {
        title: "Checkout API latency".into(),
        severity: sev.into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    }
}

fn status(s: Status) -> EventBody {
    EventBody::StatusChanged { status: s }
}

fn note(text: &str) -> EventBody {
    EventBody::entry(EventKind::Note, text).unwrap()
}

/// An event recorded `rec` minutes after t0 that happened `occ` minutes after t0.
fn ev(seq: u64, occ: i64, rec: i64, body: EventBody) -> Event {
    Event {
        seq,
        id: Uuid::from_u128(seq as u128),
        incident: "INC-1".into(),
        author: "alice".into(),
        occurred_at: t0() + Duration::minutes(occ),
        recorded_at: t0() + Duration::minutes(rec),
        body,
    }
}

/// Live: fold one event at a time and keep the state after each.
fn live_snapshots(events: &[Event]) -> Vec<Incident> {
    let mut inc = Incident::default();
    events
        .iter()
        .map(|e| {
            apply(&mut inc, e).unwrap();
            inc.clone()
        })
        .collect()
}

fn scenario() -> Vec<Event> {
    vec![
        ev(3, 0, 0, declared("SEV-2")),
        ev(7, 4, 4, status(Status::Investigating)),
        ev(8, 10, 10, note("p99 at 4s on checkout")),
        // Logged at 14:40, back-dated to 14:20.
        ev(12, 20, 40, note("deploy 1234 went out")),
        ev(15, 45, 45, status(Status::Mitigated)),
        ev(
            16,
            50,
            50,
            EventBody::CommsSent { channel: "status".into(), text: "Mitigated".into(), template: None },
        ),
        ev(20, 70, 70, status(Status::Resolved)),
    ]
}

#[test]
fn state_at_seq_and_time() {
    let events = scenario();
    assert_eq!(state_at_seq(&events, 2), None, "nothing before the declaration");
    let s = state_at_seq(&events, 3).unwrap();
    assert_eq!((s.status, s.revision, s.last_seq), (Status::Declared, 1, 3));
    // A seq between two events of this incident (the others belong to other incidents).
    assert_eq!(state_at_seq(&events, 11).unwrap().last_seq, 8);
    assert_eq!(state_at_seq(&events, 999).unwrap().status, Status::Resolved);

    // At 14:30 the back-dated entry (recorded 14:40) was not known yet.
    let at_1430 = state_at_time(&events, t0() + Duration::minutes(30)).unwrap();
    assert_eq!(at_1430.last_seq, 8);
    assert_eq!(at_1430.status, Status::Investigating);
    // Exactly at a recording time, that event counts.
    assert_eq!(state_at_time(&events, t0() + Duration::minutes(40)).unwrap().last_seq, 12);
    assert_eq!(state_at_time(&events, t0() - Duration::minutes(1)), None);
}

#[test]
fn cursor_steps_jumps_and_status_changes() {
    let events = scenario();
    let mut c = Cursor::at_end(&events);
    assert!(c.is_at_end(&events));
    assert_eq!(c.state().unwrap().status, Status::Resolved);
    assert!(!c.next(&events), "clamped at the end");

    assert!(c.prev_status_change(&events));
    assert_eq!(c.current(&events).unwrap().seq, 15);
    assert_eq!(c.state().unwrap().status, Status::Mitigated);
    assert!(c.prev_status_change(&events));
    assert_eq!(c.current(&events).unwrap().seq, 7);
    assert!(c.prev_status_change(&events));
    assert_eq!(c.current(&events).unwrap().seq, 3, "the declaration counts as a status change");
    assert!(!c.prev_status_change(&events));
    assert!(!c.prev(&events), "clamped at the declaration");

    assert!(c.next_status_change(&events));
    assert_eq!(c.current(&events).unwrap().seq, 7);
    assert!(c.next(&events));
    assert_eq!(c.index(), Some(2));
    assert_eq!(c.time(), Some(t0() + Duration::minutes(10)));

    // +25 minutes: 14:35, the back-dated note is still unknown; the clock is 14:35.
    assert!(c.jump_minutes(&events, 25));
    assert_eq!(c.time(), Some(t0() + Duration::minutes(35)));
    assert_eq!(c.current(&events).unwrap().seq, 8);
    assert!(c.jump_minutes(&events, 5));
    assert_eq!(c.current(&events).unwrap().seq, 12);
    // Far back and far forward clamp at the first and the last event.
    assert!(c.jump_minutes(&events, -600));
    assert_eq!((c.pos(), c.time()), (1, Some(t0())));
    assert!(c.jump_minutes(&events, 6000));
    assert_eq!((c.pos(), c.time()), (7, Some(t0() + Duration::minutes(70))));
}

#[test]
fn cursor_timers_are_those_of_the_moment() {
    let practice = load_practice(None, Some("sev")).unwrap();
    let scheme = practice.scheme();
    let events = vec![
        ev(1, 0, 0, declared("SEV-2")),
        ev(2, 10, 10, note("looking")),
        ev(3, 40, 40, status(Status::Investigating)),
    ];
    let mut c = Cursor::at_start(&events);
    // SEV-2: acknowledge within 30 minutes.
    assert_eq!(c.timers(scheme).unwrap().response, TimerState::Due { in_: Duration::minutes(30) });
    c.jump_minutes(&events, 35);
    assert_eq!(c.timers(scheme).unwrap().response, TimerState::Breached { by: Duration::minutes(5) });
    c.seek(&events, 3);
    assert_eq!(c.timers(scheme).unwrap().response, TimerState::Breached { by: Duration::minutes(10) });
}

#[test]
fn snapshot_for_export_at_a_time() {
    let practice = load_practice(None, Some("sev")).unwrap();
    let events = scenario();
    let at = t0() + Duration::minutes(30);
    let snap = snapshot_at(&events, practice.scheme(), at).unwrap();
    assert_eq!((snap.at, snap.events, snap.incident.last_seq), (at, 3, 8));
    assert_eq!(snap.timers.response, "met in 4m");
    assert_eq!(snap.timers.update, "due now", "SEV-2 updates every 30 minutes");
    assert_eq!(snap.timers.escalation.as_deref(), Some("L3: VP Engineering / CTO"));
    let json = serde_json::to_value(&snap).unwrap();
    assert_eq!(json["incident"]["status"], "investigating");
    assert_eq!(json["timers"]["any_breached"], false);
    assert!(snapshot_at(&events, practice.scheme(), t0() - Duration::seconds(1)).is_none());
}

#[test]
fn cursor_follows_a_growing_log_and_refolds_a_changed_one() {
    let all = scenario();
    let mut c = Cursor::with_interval(2);
    c.seek(&all[..3], 3);
    assert!(c.is_at_end(&all[..3]));
    // Live events arrived meanwhile: the cursor stays, and can step into them.
    assert!(!c.is_at_end(&all));
    assert!(c.next(&all));
    assert_eq!(c.state(), Some(&live_snapshots(&all)[3]));
    // A different log (another incident opened in the same console): refolded, not mixed.
    let other: Vec<Event> =
        vec![ev(100, 0, 0, declared("SEV-1")), ev(101, 1, 1, note("a")), ev(102, 2, 2, note("b"))];
    let mut other = other;
    for e in &mut other {
        e.incident = "INC-2".into();
    }
    c.prev(&other);
    assert_eq!(c.state(), state_at_pos(&other, 3).as_ref());
    assert_eq!(c.state().unwrap().id, "INC-2");
    // And an empty log.
    let mut e = Cursor::at_end(&[]);
    assert_eq!((e.pos(), e.state(), e.time()), (0, None, None));
    assert!(!e.next(&[]) && !e.jump_minutes(&[], 5) && !e.next_status_change(&[]));
}

// ---- property tests -------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Gen {
    Status(usize),
    Severity(usize),
    Assign(usize, usize),
    Release(usize, Option<usize>),
    Tick(usize, bool),
    Note,
    Comms,
    AddItem,
    UpdateItem(usize, bool),
    Redeclare,
}

fn gen_op() -> impl Strategy<Value = Gen> {
    prop_oneof![
        (0usize..7).prop_map(Gen::Status),
        (0usize..4).prop_map(Gen::Severity),
        (0usize..3, 0usize..3).prop_map(|(r, h)| Gen::Assign(r, h)),
        (0usize..3, proptest::option::of(0usize..3)).prop_map(|(r, h)| Gen::Release(r, h)),
        (0usize..4, any::<bool>()).prop_map(|(i, d)| Gen::Tick(i, d)),
        Just(Gen::Note),
        Just(Gen::Comms),
        Just(Gen::AddItem),
        (0usize..40, any::<bool>()).prop_map(|(i, d)| Gen::UpdateItem(i, d)),
        Just(Gen::Redeclare),
    ]
}

const ROLES: [&str; 3] = ["commander", "scribe", "sme"];
const PEOPLE: [&str; 3] = ["alice", "bob", "carol"];
const SEVS: [&str; 4] = ["SEV-1", "SEV-2", "SEV-3", "SEV-4"];

/// A valid log: random proposals, kept only when the fold accepts them (as the server does),
/// with gaps in seq (other incidents), equal and increasing `recorded_at`, and back-dating.
fn build_log(ops: &[(Gen, u64, i64, i64)]) -> Vec<Event> {
    let mut inc = Incident::default();
    let mut out = Vec::new();
    let (mut seq, mut rec) = (0u64, t0());
    for (i, (op, seq_gap, rec_gap_s, backdate_s)) in ops.iter().enumerate() {
        let body = if out.is_empty() {
            declared("SEV-2")
        } else {
            match op {
                Gen::Status(s) => status(Status::ALL[*s]),
                Gen::Severity(s) => EventBody::SeverityChanged { severity: SEVS[*s].into() },
                Gen::Assign(r, h) => {
                    EventBody::RoleAssigned { role: ROLES[*r].into(), holder: PEOPLE[*h].into() }
                }
                Gen::Release(r, h) => {
                    EventBody::RoleReleased { role: ROLES[*r].into(), holder: h.map(|h| PEOPLE[h].into()) }
                }
                Gen::Tick(i, d) => EventBody::ChecklistItemSet {
                    checklist: "first-15-minutes".into(),
                    item: format!("i{i}"),
                    done: *d,
                },
                Gen::Note => note("something happened"),
                Gen::Comms => {
                    EventBody::CommsSent { channel: "status".into(), text: "update".into(), template: None }
                }
                Gen::AddItem => EventBody::ActionItemAdded {
                    text: "add an alert".into(),
                    owner: Some("bob".into()),
                    due: None,
                    priority: Priority::Medium,
                },
                Gen::UpdateItem(k, d) => EventBody::ActionItemUpdated {
                    item: Uuid::from_u128(*k as u128 + 1),
                    text: None,
                    owner: None,
                    due: None,
                    priority: None,
                    done: Some(*d),
                },
                Gen::Redeclare => declared("SEV-1"),
            }
        };
        seq += 1 + seq_gap;
        rec += Duration::seconds(*rec_gap_s);
        let e = Event {
            seq,
            id: Uuid::from_u128(i as u128 + 1),
            incident: "INC-7".into(),
            author: PEOPLE[i % 3].into(),
            occurred_at: rec - Duration::seconds(*backdate_s),
            recorded_at: rec,
            body,
        };
        if apply(&mut inc, &e).is_ok() {
            out.push(e);
        }
    }
    out
}

fn log_strategy() -> impl Strategy<Value = Vec<Event>> {
    proptest::collection::vec(
        // Recording gaps: equal stamps, forward, and now and then a server clock stepping back.
        (gen_op(), 0u64..3, prop_oneof![3 => Just(0i64), 6 => 1i64..600, 1 => -300i64..0], 0i64..3600),
        1..60,
    )
    .prop_map(|ops| build_log(&ops))
}

#[derive(Debug, Clone)]
enum Nav {
    Next,
    Prev,
    Jump(i64),
    NextStatus,
    PrevStatus,
    Seek(usize),
    Grow(usize),
}

fn nav() -> impl Strategy<Value = Nav> {
    prop_oneof![
        Just(Nav::Next),
        Just(Nav::Prev),
        (-90i64..90).prop_map(Nav::Jump),
        Just(Nav::NextStatus),
        Just(Nav::PrevStatus),
        (0usize..70).prop_map(Nav::Seek),
        (0usize..10).prop_map(Nav::Grow),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The replayed state at every seq equals the state recorded live at that seq.
    #[test]
    fn replay_at_seq_equals_live(events in log_strategy()) {
        let live = live_snapshots(&events);
        for (i, e) in events.iter().enumerate() {
            prop_assert_eq!(state_at_seq(&events, e.seq), Some(live[i].clone()));
            // Between this incident's events (seqs of other incidents): the earlier state.
            let before = if i == 0 { None } else { Some(live[i - 1].clone()) };
            prop_assert_eq!(state_at_seq(&events, e.seq - 1), before);
        }
    }

    /// At each recording time, the state is the live state after the last event recorded then.
    #[test]
    fn replay_at_time_equals_live(events in log_strategy()) {
        let live = live_snapshots(&events);
        // Known at t: the events before the first one recorded after t.
        let known = |t: DateTime<Utc>| events.iter().position(|x| x.recorded_at > t).unwrap_or(events.len());
        for e in &events {
            for t in [e.recorded_at, e.recorded_at - Duration::milliseconds(1)] {
                let expect = known(t).checked_sub(1).map(|k| live[k].clone());
                prop_assert_eq!(state_at_time(&events, t), expect);
            }
        }
    }

    /// Whatever path the cursor takes (steps, minute jumps, status jumps, seeks, a log that
    /// grows meanwhile), it lands on the live state of its position, at a consistent moment.
    #[test]
    fn cursor_lands_on_live_states(
        events in log_strategy(),
        every in 1usize..6,
        start in 1usize..60,
        moves in proptest::collection::vec(nav(), 1..40),
    ) {
        let live = live_snapshots(&events);
        let mut visible = start.min(events.len());
        let mut c = Cursor::with_interval(every);
        c.seek(&events[..visible], visible);
        for m in moves {
            let log = &events[..visible];
            match m {
                Nav::Next => { c.next(log); }
                Nav::Prev => { c.prev(log); }
                Nav::Jump(n) => { c.jump_minutes(log, n); }
                Nav::NextStatus => { c.next_status_change(log); }
                Nav::PrevStatus => { c.prev_status_change(log); }
                Nav::Seek(p) => { c.seek(log, p); }
                Nav::Grow(n) => { visible = (visible + n).min(events.len()); }
            }
            let log = &events[..visible];
            let pos = c.pos();
            prop_assert!(pos >= 1 && pos <= log.len());
            prop_assert_eq!(c.state(), Some(&live[pos - 1]));
            let t = c.time().unwrap();
            prop_assert!(log[pos - 1].recorded_at <= t);
            prop_assert!(pos_at_time(log, t) >= pos);
            if let Nav::Jump(_) = m {
                prop_assert_eq!(pos_at_time(log, t).max(1), pos);
            }
        }
    }
}

/// Stepping cost on a 100,000-event log: `cargo test --release --test it -- --ignored
/// --nocapture replay::replay_cost`. Prints figures; asserts nothing about time.
#[test]
#[ignore]
fn replay_cost_100k() {
    use std::time::Instant;
    let n = 100_000u64;
    let mut events = vec![ev(1, 0, 0, declared("SEV-1"))];
    for i in 2..=n {
        let m = i as i64 / 10;
        let body = match i % 50 {
            0 => status(if i % 100 == 0 { Status::Investigating } else { Status::Identified }),
            7 => EventBody::ChecklistItemSet {
                checklist: "c".into(),
                item: format!("i{}", i % 40),
                done: true,
            },
            _ => note("a line of the timeline"),
        };
        events.push(ev(i, m, m, body));
    }
    let t = Instant::now();
    let full = state_at_pos(&events, events.len()).unwrap();
    println!("full fold of {n} events: {:?}", t.elapsed());
    for every in [64usize, 256, 1024] {
        let t = Instant::now();
        let mut c = Cursor::with_interval(every);
        c.seek(&events, events.len());
        let enter = t.elapsed();
        assert_eq!(c.state(), Some(&full));
        let steps = 1000;
        let t = Instant::now();
        for _ in 0..steps {
            c.prev(&events);
        }
        let back = t.elapsed() / steps;
        let t = Instant::now();
        for _ in 0..steps {
            c.next(&events);
        }
        let fwd = t.elapsed() / steps;
        let t = Instant::now();
        for _ in 0..100 {
            c.jump_minutes(&events, -60);
        }
        let jump = t.elapsed() / 100;
        println!(
            "interval {every}: enter at end {enter:?}, {} checkpoints; step back {back:?}, step forward {fwd:?}, jump -60m {jump:?}",
            n as usize / every
        );
    }
    let t = Instant::now();
    let _ = state_at_pos(&events, events.len() - 1);
    println!("step back by refolding from the start: {:?}", t.elapsed());
}
