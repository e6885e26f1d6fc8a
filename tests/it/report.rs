//! Response figures on a fixture set of incidents, each folded from hand-written events.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use uuid::Uuid;
use warroom::assets::load_practice;
use warroom::domain::report::*;
use warroom::domain::*;
use warroom::render::report::*;

fn t(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
}

/// Monday 2026-11-23 12:00 UTC.
fn now() -> DateTime<Utc> {
    t(23, 12, 0)
}

/// Folds an incident from `(minutes after declaration, body)` pairs.
fn incident(
    id: &str,
    declared: DateTime<Utc>,
    title: &str,
    sev: &str,
    rest: Vec<(i64, EventBody)>,
) -> Incident {
    let mut bodies = vec![(
        0,
        EventBody::Declared {
            title: title.into(),
            severity: sev.into(),
            summary: String::new(),
            group_key: None,
            demo: false,
        },
    )];
    bodies.extend(rest);
    let events: Vec<Event> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, (m, body))| Event {
            seq: i as u64 + 1,
            id: Uuid::from_u128(((id.len() as u128) << 64) + i as u128 + (id.as_bytes()[4] as u128) * 1000),
            incident: id.into(),
            author: "alice".into(),
            occurred_at: declared + Duration::minutes(m),
            recorded_at: declared + Duration::minutes(m),
            body,
        })
        .collect();
    fold(&events).unwrap()
}

fn st(s: Status) -> EventBody {
    EventBody::StatusChanged { status: s }
}

fn item(text: &str, owner: Option<&str>, due: Option<NaiveDate>) -> EventBody {
    EventBody::ActionItemAdded {
        text: text.into(),
        owner: owner.map(Into::into),
        due,
        priority: Priority::High,
    }
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn fixture() -> Vec<Incident> {
    let inc1 = incident(
        "INC-1",
        t(16, 14, 0),
        "Checkout API latency",
        "P1",
        vec![
            (10, st(Status::Acknowledged)),
            (50, st(Status::Mitigated)),
            (180, st(Status::Resolved)),
            (190, item("Alert on p99 latency", Some("bob"), Some(day(20)))),
            (191, item("Fix the runbook", Some("carol"), Some(day(19)))),
        ],
    );
    // Mark the runbook item done: it is past its date but not overdue.
    let mut inc1 = inc1;
    inc1.action_items[1].done = true;
    vec![
        inc1,
        incident(
            "INC-2",
            t(18, 2, 0),
            "DB | primary failover",
            "P1",
            vec![(25, st(Status::Investigating)), (300, st(Status::Resolved))],
        ),
        incident(
            "INC-3",
            t(19, 10, 0),
            "Search degraded",
            "P2",
            vec![(45, st(Status::Investigating)), (120, st(Status::Mitigated))],
        ),
        // Saturday: off hours, P3's response target is the end of the next business day.
        incident("INC-4", t(21, 9, 0), "Thumbnails missing", "P3", vec![]),
        // Before the window: not in the figures, but its overdue item is.
        incident(
            "INC-5",
            t(10, 9, 0),
            "Old outage",
            "P2",
            vec![(30, st(Status::Resolved)), (40, item("Write the post-mortem", None, Some(day(15))))],
        ),
        // Resolved straight from declared: acknowledged at resolution.
        incident("INC-6", t(22, 20, 0), "Typo on status page", "P4", vec![(810, st(Status::Resolved))]),
        // Resolved, then reopened: open again.
        incident(
            "INC-7",
            t(20, 10, 0),
            "Queue backlog",
            "P3",
            vec![
                (5, st(Status::Investigating)),
                (60, st(Status::Resolved)),
                (120, st(Status::Investigating)),
            ],
        ),
        // A severity outside the scheme.
        incident("INC-8", t(23, 11, 0), "Unknown level", "SEV-X", vec![(1, st(Status::Acknowledged))]),
    ]
}

fn scheme() -> Scheme {
    load_practice(None, Some("p")).unwrap().scheme().clone()
}

fn fig<'a>(r: &'a Report, id: &str) -> &'a IncidentFigures {
    r.incidents.iter().find(|f| f.id == id).unwrap()
}

#[test]
fn per_incident_figures_against_targets() {
    let r = report(&fixture(), &scheme(), now() - Duration::days(7), now());
    let f1 = fig(&r, "INC-1");
    assert_eq!(
        (f1.acknowledge_secs, f1.mitigate_secs, f1.resolve_secs),
        (Some(600), Some(3000), Some(10800))
    );
    assert_eq!((f1.response_target_secs, f1.resolution_target_secs), (Some(900), Some(14400)));
    assert_eq!((f1.response, f1.resolution), (Outcome::Met, Outcome::Met));

    let f2 = fig(&r, "INC-2");
    assert_eq!((f2.response, f2.resolution), (Outcome::Breached, Outcome::Breached));

    let f3 = fig(&r, "INC-3");
    assert_eq!((f3.acknowledge_secs, f3.resolve_secs), (Some(2700), None));
    assert_eq!(
        (f3.response, f3.resolution),
        (Outcome::Met, Outcome::Breached),
        "8h resolution target passed"
    );

    // Not acknowledged: no time to acknowledge, response still pending until Monday 17:00.
    let f4 = fig(&r, "INC-4");
    assert_eq!(f4.acknowledge_secs, None);
    assert_eq!(f4.response, Outcome::Pending);
    assert_eq!(f4.response_target_secs, Some((t(23, 17, 0) - t(21, 9, 0)).num_seconds()));
    assert_eq!(f4.resolution, Outcome::Breached);

    let f6 = fig(&r, "INC-6");
    assert_eq!((f6.acknowledge_secs, f6.resolve_secs), (Some(810 * 60), Some(810 * 60)));
    assert_eq!(f6.response, Outcome::Met);

    let f7 = fig(&r, "INC-7");
    assert_eq!((f7.status, f7.resolve_secs), (Status::Investigating, None), "reopened: open again");

    let f8 = fig(&r, "INC-8");
    assert_eq!((f8.response, f8.resolution), (Outcome::NotApplicable, Outcome::NotApplicable));
    assert!(r.incidents.iter().all(|f| f.id != "INC-5"), "declared before the window");
}

#[test]
fn figures_by_severity() {
    let r = report(&fixture(), &scheme(), now() - Duration::days(7), now());
    assert_eq!(r.severities, ["P1", "P2", "P3", "P4", "SEV-X"]);
    let p1 = &r.by_severity[0];
    assert_eq!((p1.incidents, p1.open, p1.resolved), (2, 0, 2));
    assert_eq!(p1.acknowledge, Stats { count: 2, mean_secs: Some(1050), median_secs: Some(1050) });
    assert_eq!(p1.resolve, Stats { count: 2, mean_secs: Some(14400), median_secs: Some(14400) });
    assert_eq!(p1.response, TargetCounts { met: 1, breached: 1, pending: 0, not_applicable: 0 });

    // P3: one open never acknowledged, one reopened; both counted, neither in MTTR.
    let p3 = &r.by_severity[2];
    assert_eq!((p3.incidents, p3.open, p3.resolved), (2, 2, 0));
    assert_eq!(p3.acknowledge.count, 1);
    assert_eq!(p3.resolve, Stats::default());
    assert_eq!(p3.response, TargetCounts { met: 1, breached: 0, pending: 1, not_applicable: 0 });

    assert_eq!((r.all.incidents, r.all.open, r.all.resolved), (7, 4, 3));
    assert_eq!(r.all.resolve.count, 3);
    // Median of an even count: halfway between the middle two.
    assert_eq!(Stats::of([10, 20, 40, 1000]).median_secs, Some(30));
    assert_eq!(Stats::of([10, 20, 40, 1000]).mean_secs, Some(267));
}

#[test]
fn overdue_items_and_days() {
    let r = report(&fixture(), &scheme(), now() - Duration::days(7), now());
    let items: Vec<(&str, Option<&str>, i64)> =
        r.overdue_items.iter().map(|i| (i.incident.as_str(), i.owner.as_deref(), i.days_overdue)).collect();
    assert_eq!(items, [("INC-5", None, 8), ("INC-1", Some("bob"), 3)]);

    assert_eq!(r.per_day.len(), 8);
    assert_eq!(r.per_day[0].day, day(16));
    assert_eq!(r.daily_totals(), [1, 0, 1, 1, 1, 1, 1, 1]);
    assert_eq!(r.daily("p1"), [1, 0, 1, 0, 0, 0, 0, 0]);
    assert_eq!(r.daily("nope"), [0; 8]);
    assert_eq!(sparkline(&[0, 1, 2, 7, 14]), "▁▂▂▅█");
    assert_eq!(sparkline_ascii(&[0, 1, 3]), "_-#");
    assert_eq!(sparkline(&[]), "");
    assert_eq!(sparkline(&[0, 0]), "▁▁");
}

#[test]
fn no_incidents_and_an_empty_window() {
    let r = report(&[], &scheme(), now() - Duration::days(30), now());
    assert_eq!((r.all.incidents, r.all.open), (0, 0));
    assert_eq!(r.all.acknowledge, Stats::default());
    assert_eq!(r.by_severity.len(), 4);
    assert_eq!(r.per_day.len(), 31);
    let md = to_markdown(&r);
    assert!(md.contains("0 incidents (0 open, 0 resolved)"), "{md}");
    assert!(md.contains("None in this period."));
    let text = to_text(&r, true);
    assert!(text.contains("all  _______"), "{text}");

    let backwards = report(&fixture(), &scheme(), now(), now() - Duration::days(1));
    assert!(backwards.per_day.is_empty() && backwards.incidents.is_empty());
    assert!(!to_markdown(&backwards).contains("per day"));
}

#[test]
fn json_round_trips() {
    let r = report(&fixture(), &scheme(), now() - Duration::days(7), now());
    let json = to_json(&r);
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["by_severity"][0]["acknowledge"]["mean_secs"], 1050);
    assert_eq!(v["incidents"][0]["response"], "met");
}

#[test]
fn markdown_snapshot() {
    let r = report(&fixture(), &scheme(), now() - Duration::days(7), now());
    let md = to_markdown(&r);
    assert!(md.contains("DB \\| primary failover"), "pipes escaped in tables");
    insta::assert_snapshot!("report_markdown", md);
}

#[test]
fn text_snapshot() {
    let r = report(&fixture(), &scheme(), now() - Duration::days(7), now());
    let text = to_text(&r, false);
    assert!(!text.contains('\x1b'));
    insta::assert_snapshot!("report_text", text);
}
