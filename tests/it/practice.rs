//! The incident-response practice as data, used the way the server, CLI and console use it:
//! the embedded practice (and an override dir) through `assets::load_practice`, timers at their
//! boundaries with fixed clocks, comms drafts, the post-mortem of a fixture incident (insta
//! snapshot), and Alertmanager notifications planned into events.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use uuid::Uuid;
use warroom::api::alertmanager::{AlertStatus, WebhookPayload};
use warroom::assets::load_practice;
use warroom::domain::comms;
use warroom::domain::postmortem;
use warroom::domain::timers::{self, TimerState};
use warroom::domain::{Entry, Event, EventBody, Incident, Practice, Priority, Status, fold};
use warroom::server::alertmanager::{self, AlertmanagerConfig, Plan};

fn t(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    // November 2026: the 20th is a Friday, the 23rd a Monday.
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
}

fn sev() -> Practice {
    load_practice(None, None).unwrap()
}

fn pee() -> Practice {
    load_practice(None, Some("p")).unwrap()
}

/// An incident's log, built the way the server records it.
struct Log {
    id: String,
    events: Vec<Event>,
}

impl Log {
    fn new(id: &str) -> Self {
        Self { id: id.into(), events: Vec::new() }
    }

    fn push(&mut self, at: DateTime<Utc>, author: &str, body: EventBody) -> Uuid {
        let seq = self.events.len() as u64 + 1;
        let id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + u128::from(seq));
        self.events.push(Event {
            seq,
            id,
            incident: self.id.clone(),
            author: author.into(),
            occurred_at: at,
            recorded_at: at,
            body,
        });
        id
    }

    fn declare(&mut self, at: DateTime<Utc>, severity: &str, title: &str) -> Uuid {
        self.push(
            at,
            "alice",
            EventBody::Declared {
                title: title.into(),
                severity: severity.into(),
                summary: String::new(),
                group_key: None,
                demo: false,
            },
        )
    }

    fn status(&mut self, at: DateTime<Utc>, s: Status) -> Uuid {
        self.push(at, "alice", EventBody::StatusChanged { status: s })
    }

    fn entry(&mut self, at: DateTime<Utc>, author: &str, kind: &str, text: &str, tags: &[&str]) -> Uuid {
        let e = Entry { text: text.into(), tags: tags.iter().map(|s| s.to_string()).collect() };
        let body = match kind {
            "note" => EventBody::Note(e),
            "finding" => EventBody::Finding(e),
            "action" => EventBody::Action(e),
            _ => EventBody::Decision(e),
        };
        self.push(at, author, body)
    }

    fn incident(&self) -> Incident {
        fold(&self.events).unwrap()
    }
}

fn incident(severity: &str, declared: DateTime<Utc>) -> Log {
    let mut log = Log::new("INC-1");
    log.declare(declared, severity, "Checkout API down");
    log
}

// ---------------------------------------------------------------- the practice as data

#[test]
fn embedded_practice_is_complete() {
    for p in [sev(), pee()] {
        for c in p.incident_checklists() {
            assert!(!c.items.iter().any(|i| i.id == "todo"), "{} is still a placeholder", c.id);
            for i in &c.items {
                if let Some(parent) = &i.parent {
                    assert!(c.items.iter().any(|x| &x.id == parent), "{}/{}: no parent {parent}", c.id, i.id);
                }
                for l in &i.levels {
                    assert!(p.scheme().level(l).is_some(), "{}/{}: unknown level {l}", c.id, i.id);
                }
            }
        }
        for id in ["service-outage", "database-performance", "security-incident", "api-rate-limiting"] {
            let pb = p.playbook(id).unwrap_or_else(|| panic!("playbook {id}"));
            let groups: Vec<_> = pb.groups.iter().map(|g| g.id.as_str()).collect();
            assert_eq!(groups, ["verification", "mitigation", "resolution"], "{id}");
            assert!(p.checklist(&format!("{id}.mitigation")).is_some());
        }
        for name in ["internal-alert", "customer", "resolution", "postmortem"] {
            assert!(p.templates.contains_key(name), "template {name}");
        }
    }
    let p = sev();
    let inv = p.checklist("investigation").unwrap();
    let logs: Vec<_> = inv.items.iter().filter(|i| i.parent.as_deref() == Some("logs")).collect();
    assert_eq!(logs.len(), 3);
    assert_eq!(
        logs[0].command.as_deref(),
        Some(r#"journalctl --since "30 min ago" --priority err --no-pager"#)
    );
    assert_eq!(inv.items.iter().filter(|i| i.parent.as_deref() == Some("dashboards")).count(), 4);
    assert!(p.checklist("first-15-minutes").unwrap().description.contains("↓"));
    assert!(p.templates["internal-alert"].contains("🚨 INCIDENT ALERT"));
    let outage = p.checklist("service-outage.mitigation").unwrap();
    assert!(outage.items.iter().any(|i| i.command.as_deref() == Some("systemctl restart <service>")));
}

#[test]
fn schemes_carry_the_guides_targets() {
    let s = sev();
    let s = s.scheme();
    let resp: Vec<_> = s.levels.iter().map(|l| (l.response_minutes, l.response_next_business_day)).collect();
    assert_eq!(resp, [(Some(15), false), (Some(30), false), (Some(120), false), (None, true)]);
    let upd: Vec<_> = s.levels.iter().map(|l| l.update_every_minutes).collect();
    assert_eq!(upd, [Some(30), Some(30), None, None]);
    let pm: Vec<_> = s.postmortem.iter().map(|d| (d.id.as_str(), d.hours, d.days)).collect();
    assert_eq!(pm, [("report", 24, 0), ("draft", 0, 3), ("review", 0, 5), ("action-items", 0, 7)]);

    let p = pee();
    let p = p.scheme();
    let res: Vec<_> = p.levels.iter().map(|l| l.resolution_minutes).collect();
    assert_eq!(res, [Some(240), Some(480), Some(1440), Some(10080)]);
    let upd: Vec<_> = p.levels.iter().map(|l| l.update_every_minutes).collect();
    assert_eq!(upd, [Some(60), Some(60), None, None]);
    let p2 = p.level("P2").unwrap();
    assert_eq!((p2.response_minutes, p2.response_minutes_off_hours), (Some(60), Some(240)));
    assert!(p.level("P3").unwrap().response_next_business_day_off_hours);
    assert_eq!(p.business_hours, warroom::domain::calendar::BusinessHours::default());
}

#[test]
fn override_dir_replaces_checklists_templates_and_business_hours() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("checklists")).unwrap();
    std::fs::create_dir_all(d.join("templates")).unwrap();
    std::fs::create_dir_all(d.join("schemes")).unwrap();
    std::fs::write(
        d.join("checklists/mitigation.toml"),
        "id = \"mitigation\"\nname = \"Our mitigation\"\n\n[[items]]\nid = \"flag\"\ntext = \"Turn the feature flag off\"\ncommand = \"flagctl off checkout-v2\"\n",
    )
    .unwrap();
    std::fs::write(d.join("templates/internal-alert.md"), "{{severity}} {{title}} -> {{channel}}\n").unwrap();
    let sev = warroom::assets::ASSETS.get_file("practice/schemes/sev.toml").unwrap().contents_utf8().unwrap();
    let ours = sev.replace("utc_offset_minutes = 0", "utc_offset_minutes = 60\nholidays = [\"2026-11-23\"]");
    std::fs::write(d.join("schemes/sev.toml"), ours).unwrap();

    let p = load_practice(Some(d), None).unwrap();
    let m = p.checklist("mitigation").unwrap();
    assert_eq!(m.name, "Our mitigation");
    assert_eq!(m.items.len(), 1);
    assert_eq!(m.items[0].command.as_deref(), Some("flagctl off checkout-v2"));
    // Untouched files still come from the embedded assets.
    assert_eq!(p.checklist("investigation").unwrap().name, "Investigation phase");
    assert_eq!(p.scheme().business_hours.holidays, [NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()]);

    let log = incident("SEV-2", t(20, 9, 30));
    let draft = comms::draft(&p, "internal-alert", &log.incident(), &log.events, t(20, 9, 31)).unwrap();
    assert_eq!(draft, "SEV-2 Checkout API down -> #incident-2026-11-20-checkout-api-down\n");

    // SEV-4 declared Friday 17:30 UTC (18:30 local): Monday is a holiday, so Tuesday 17:00
    // local (16:00 UTC).
    let log = incident("SEV-4", t(20, 17, 30));
    assert_eq!(timers::response_deadline(p.scheme(), &log.incident()), Some(t(24, 16, 0)));
}

// ---------------------------------------------------------------- timers

#[test]
fn response_at_exactly_the_target_is_met() {
    let p = sev();
    let s = p.scheme();
    let mut log = incident("SEV-1", t(23, 10, 0));
    let inc = log.incident();
    assert_eq!(timers::response(s, &inc, t(23, 10, 0)), TimerState::Due { in_: Duration::minutes(15) });
    assert_eq!(timers::response(s, &inc, t(23, 10, 15)).label(), "due now");
    assert_eq!(timers::response(s, &inc, t(23, 11, 19)).label(), "breached by 1h04m");

    log.status(t(23, 10, 15), Status::Acknowledged);
    let inc = log.incident();
    assert_eq!(timers::response(s, &inc, t(23, 12, 0)), TimerState::Met { after: Duration::minutes(15) });
    assert_eq!(timers::response(s, &inc, t(23, 12, 0)).label(), "met in 15m");

    let mut late = incident("SEV-1", t(23, 10, 0));
    late.push(
        t(23, 10, 15) + Duration::seconds(1),
        "bob",
        EventBody::StatusChanged { status: Status::Investigating },
    );
    let inc = late.incident();
    assert!(timers::response(s, &inc, t(23, 12, 0)).is_breached());
    // The timer uses the severity in force: downgraded to SEV-2, 30 minutes.
    late.push(t(23, 10, 20), "alice", EventBody::SeverityChanged { severity: "SEV-2".into() });
    assert_eq!(timers::response(s, &late.incident(), t(23, 12, 0)).label(), "met in 15m");
}

#[test]
fn next_business_day_crosses_the_weekend() {
    let p = sev();
    // SEV-4 declared Friday 18:00: due Monday 17:00.
    let log = incident("SEV-4", t(20, 18, 0));
    let inc = log.incident();
    assert_eq!(timers::response_deadline(p.scheme(), &inc), Some(t(23, 17, 0)));
    assert_eq!(timers::response(p.scheme(), &inc, t(22, 12, 0)).label(), "due in 1d05h");
    // Declared Monday 10:00: due Tuesday 17:00.
    let log = incident("SEV-4", t(23, 10, 0));
    assert_eq!(timers::response_deadline(p.scheme(), &log.incident()), Some(t(24, 17, 0)));
}

#[test]
fn p_scheme_business_hours_variants() {
    let p = pee();
    let s = p.scheme();
    let deadline = |sev: &str, at| timers::response_deadline(s, &incident(sev, at).incident());
    // P2: 1 hour in business hours, 4 hours outside.
    assert_eq!(deadline("P2", t(23, 10, 0)), Some(t(23, 11, 0)));
    assert_eq!(deadline("P2", t(21, 10, 0)), Some(t(21, 14, 0)));
    assert_eq!(deadline("P2", t(23, 8, 59)), Some(t(23, 12, 59)));
    // P3: 4 business hours (Friday 16:00 -> Monday 12:00); outside: next business day.
    assert_eq!(deadline("P3", t(20, 16, 0)), Some(t(23, 12, 0)));
    assert_eq!(deadline("P3", t(21, 10, 0)), Some(t(23, 17, 0)));
    assert_eq!(deadline("P3", t(20, 17, 0)), Some(t(23, 17, 0)));
    // P4: next business day; P1: 24/7.
    assert_eq!(deadline("P4", t(23, 10, 0)), Some(t(24, 17, 0)));
    assert_eq!(deadline("P1", t(21, 3, 0)), Some(t(21, 3, 15)));
}

#[test]
fn resolution_targets() {
    let p = pee();
    let s = p.scheme();
    let mut log = incident("P1", t(23, 10, 0));
    assert_eq!(timers::resolution(s, &log.incident(), t(23, 15, 0)).label(), "breached by 1h00m");
    assert_eq!(timers::resolution(s, &log.incident(), t(23, 13, 0)).label(), "due in 1h00m");
    log.status(t(23, 14, 0), Status::Resolved);
    assert_eq!(timers::resolution(s, &log.incident(), t(23, 15, 0)).label(), "met in 4h00m");
    let log = incident("P4", t(23, 10, 0));
    assert_eq!(timers::resolution_deadline(s, &log.incident()), Some(t(30, 10, 0)));
    // The SEV scheme sets no resolution target.
    let q = sev();
    assert_eq!(
        timers::resolution(q.scheme(), &incident("SEV-1", t(23, 10, 0)).incident(), t(25, 0, 0)),
        TimerState::NotApplicable
    );
}

#[test]
fn escalation_by_elapsed_time() {
    let p = sev();
    let s = p.scheme();
    let level = |inc: &Incident, at| timers::escalation_level(s, inc, at).map(|e| e.level.clone());
    let mut log = incident("SEV-1", t(23, 10, 0));
    let inc = log.incident();
    assert_eq!(level(&inc, t(23, 10, 0)).as_deref(), Some("L1"));
    assert_eq!(level(&inc, t(23, 10, 14)).as_deref(), Some("L1"));
    assert_eq!(level(&inc, t(23, 10, 15)).as_deref(), Some("L2"));
    assert_eq!(level(&inc, t(23, 10, 30)).as_deref(), Some("L3"));
    assert_eq!(level(&inc, t(23, 10, 59)).as_deref(), Some("L3"));
    assert_eq!(level(&inc, t(23, 11, 0)).as_deref(), Some("L4"));
    let (next, at) = timers::next_escalation(s, &inc, t(23, 10, 20)).unwrap();
    assert_eq!((next.level.as_str(), at), ("L3", t(23, 10, 30)));
    // L4 is for SEV-1 only.
    let sev2 = incident("SEV-2", t(23, 10, 0)).incident();
    assert_eq!(level(&sev2, t(23, 13, 0)).as_deref(), Some("L3"));
    assert!(timers::next_escalation(s, &sev2, t(23, 13, 0)).is_none());
    // Escalation stops once resolved.
    log.status(t(23, 10, 40), Status::Resolved);
    assert_eq!(level(&log.incident(), t(23, 12, 0)), None);
}

#[test]
fn status_updates_reset_by_comms() {
    let p = sev();
    let s = p.scheme();
    let mut log = incident("SEV-1", t(23, 10, 0));
    assert_eq!(timers::next_update_due(s, &log.incident(), t(23, 10, 29)).label(), "due in 1m");
    assert_eq!(timers::next_update_due(s, &log.incident(), t(23, 10, 31)).label(), "breached by 1m");
    log.push(
        t(23, 10, 20),
        "carol",
        EventBody::CommsSent { channel: "status-page".into(), text: "Investigating".into(), template: None },
    );
    let inc = log.incident();
    assert_eq!(timers::next_update_at(s, &inc), Some(t(23, 10, 50)));
    assert_eq!(timers::next_update_due(s, &inc, t(23, 10, 31)).label(), "due in 19m");
    assert_eq!(timers::next_update_due(s, &inc, t(23, 10, 55)).label(), "breached by 5m");
    log.status(t(23, 11, 0), Status::Resolved);
    assert_eq!(timers::next_update_due(s, &log.incident(), t(23, 12, 0)), TimerState::NotApplicable);
    // No cadence for SEV-3; hourly for P1.
    assert_eq!(timers::next_update_at(s, &incident("SEV-3", t(23, 10, 0)).incident()), None);
    let q = pee();
    assert_eq!(
        timers::next_update_at(q.scheme(), &incident("P2", t(23, 10, 0)).incident()),
        Some(t(23, 11, 0))
    );
}

#[test]
fn postmortem_deadlines_after_resolution() {
    let p = sev();
    let s = p.scheme();
    let mut log = incident("SEV-2", t(20, 14, 0));
    assert!(timers::postmortem_deadlines(s, &log.incident(), t(20, 15, 0)).is_empty());
    log.status(t(20, 15, 30), Status::Resolved);
    let d = timers::postmortem_deadlines(s, &log.incident(), t(22, 15, 30));
    let got: Vec<_> = d.iter().map(|d| (d.id.as_str(), d.due_at.unwrap(), d.state.label())).collect();
    assert_eq!(
        got,
        [
            ("report", t(21, 15, 30), "breached by 1d00h".to_string()),
            ("draft", t(23, 15, 30), "due in 1d00h".to_string()),
            ("review", t(25, 15, 30), "due in 3d00h".to_string()),
            ("action-items", t(27, 15, 30), "due in 5d00h".to_string()),
        ]
    );
    log.status(t(23, 9, 0), Status::Closed);
    assert!(
        timers::postmortem_deadlines(s, &log.incident(), t(30, 0, 0))
            .iter()
            .all(|d| d.state == TimerState::NotApplicable)
    );
    // P scheme: review within 5 business days (Friday -> the next Friday, 17:00).
    let q = pee();
    let mut log = incident("P2", t(20, 14, 0));
    log.status(t(20, 15, 30), Status::Resolved);
    let d = timers::postmortem_deadlines(q.scheme(), &log.incident(), t(20, 16, 0));
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].due_at, Some(t(27, 17, 0)));
}

#[test]
fn board_sorts_breached_first() {
    let p = sev();
    let s = p.scheme();
    let now = t(23, 12, 0);
    // A SEV-3 whose response is breached, a SEV-1 acknowledged in time, a resolved SEV-1.
    let mut breached = Log::new("INC-1");
    breached.declare(t(23, 9, 0), "SEV-3", "Slow reports");
    let mut calm = Log::new("INC-2");
    calm.declare(t(23, 11, 50), "SEV-1", "API down");
    calm.status(t(23, 11, 55), Status::Acknowledged);
    let mut done = Log::new("INC-3");
    done.declare(t(23, 8, 0), "SEV-1", "Old outage");
    done.status(t(23, 9, 0), Status::Resolved);
    let mut minor = Log::new("INC-4");
    minor.declare(t(23, 11, 0), "SEV-4", "Typo");
    let incs = [done.incident(), minor.incident(), calm.incident(), breached.incident()];
    let mut order: Vec<_> = incs.iter().collect();
    order.sort_by_key(|i| timers::board_order(s, i, now));
    let ids: Vec<_> = order.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["INC-1", "INC-2", "INC-4", "INC-3"]);
    assert!(timers::timers(s, &breached.incident(), now).any_breached());
}

// ---------------------------------------------------------------- comms

#[test]
fn internal_alert_marks_missing_fields() {
    let p = sev();
    let log = incident("SEV-3", t(23, 10, 0));
    let draft = comms::draft(&p, "internal-alert", &log.incident(), &log.events, t(23, 10, 5)).unwrap();
    assert_eq!(
        draft,
        "🚨 INCIDENT ALERT - SEV-3\n\n**Issue**: Checkout API down\n**Impact**: to be confirmed\n\
         **Status**: Declared\n**Next Steps**: to be confirmed\n**IC**: [ic unknown]\n**Channel**: #incident-2026-11-23-checkout-api-down\n\
         **Next Update**: [next update unknown]\n"
    );
    // An empty incident (nothing declared) still renders, every field marked.
    let empty = comms::draft(&p, "resolution", &Incident::default(), &[], t(23, 10, 5)).unwrap();
    assert!(empty.contains("[service unknown] - Issue Resolved"), "{empty}");
    assert!(empty.contains("**Root Cause**: to be confirmed"), "{empty}");
    assert!(comms::draft(&p, "no-such-template", &Incident::default(), &[], t(23, 10, 5)).is_none());
}

#[test]
fn comms_filled_from_the_incident() {
    let p = sev();
    let mut log = incident("SEV-1", t(23, 10, 0));
    log.push(
        t(23, 10, 1),
        "alice",
        EventBody::RoleAssigned { role: "commander".into(), holder: "alice".into() },
    );
    log.entry(t(23, 10, 5), "bob", "finding", "Payments fail for EU users", &["impact"]);
    let wrong = log.entry(t(23, 10, 6), "bob", "finding", "Checkout", &["service"]);
    log.push(t(23, 10, 7), "bob", EventBody::Correction { target: wrong, text: "Checkout API".into() });
    log.entry(t(23, 10, 8), "bob", "note", "Retry with the legacy endpoint /v1/pay", &["workaround"]);
    log.entry(t(23, 10, 30), "bob", "finding", "Connection pool exhausted after deploy 142", &["root_cause"]);
    log.push(
        t(23, 10, 40),
        "carol",
        EventBody::CommsSent { channel: "status-page".into(), text: "Investigating".into(), template: None },
    );
    let inc = log.incident();
    let now = t(23, 10, 45);
    let internal = comms::draft(&p, "internal-alert", &inc, &log.events, now).unwrap();
    assert!(internal.contains("**IC**: @alice"), "{internal}");
    assert!(internal.contains("**Impact**: Payments fail for EU users"), "{internal}");
    assert!(internal.contains("**Next Update**: 11:10 UTC"), "{internal}");
    let customer = comms::draft(&p, "customer", &inc, &log.events, now).unwrap();
    assert!(customer.starts_with("Subject: Checkout API - Service Disruption\n"), "{customer}");
    assert!(customer.contains("**Workaround**: Retry with the legacy endpoint /v1/pay"), "{customer}");

    log.status(t(23, 11, 28), Status::Resolved);
    let resolved = comms::draft(&p, "resolution", &log.incident(), &log.events, t(23, 11, 30)).unwrap();
    assert!(resolved.contains("has been resolved as of 11:28 UTC."), "{resolved}");
    assert!(resolved.contains("**Duration**: 10:00 UTC - 11:28 UTC (1h28m)"), "{resolved}");
    assert!(resolved.contains("**Root Cause**: Connection pool exhausted after deploy 142"), "{resolved}");
    assert!(!resolved.contains("unknown"), "{resolved}");
}

#[test]
fn channel_names() {
    let mut log = Log::new("INC-9");
    log.declare(t(3, 23, 59), "SEV-2", "  Élevated 5xx on api-gateway (EU) — \x1b[31mred\x1b[0m  ");
    assert_eq!(
        comms::channel_name(&log.incident()),
        "#incident-2026-11-03-elevated-5xx-on-api-gateway-eu-red"
    );
    let mut log = Log::new("INC-10");
    log.declare(t(3, 1, 0), "SEV-2", "🔥");
    assert_eq!(comms::channel_name(&log.incident()), "#incident-2026-11-03");
}

#[test]
fn comms_values_are_sanitized_and_not_reexpanded() {
    let p = sev();
    let mut log = Log::new("INC-11");
    log.declare(t(23, 10, 0), "SEV-2", "{{ic}} \x1b]52;c;ZXZpbA==\x07down");
    log.entry(t(23, 10, 1), "bob", "note", "line one\nline two \x1b[2J", &["impact"]);
    let d = comms::draft(&p, "internal-alert", &log.incident(), &log.events, t(23, 10, 2)).unwrap();
    assert!(d.contains("**Issue**: {{ic}} down"), "{d}");
    assert!(d.contains("**Impact**: line one line two"), "{d}");
    assert!(!d.contains('\x1b'));
}

// ---------------------------------------------------------------- post-mortem

fn fixture() -> Log {
    let mut log = Log::new("INC-42");
    log.push(
        t(20, 14, 2),
        "alice",
        EventBody::Declared {
            title: "Checkout API latency above 5s".into(),
            severity: "SEV-2".into(),
            summary: "Checkout requests slowed to 5-8 s for most EU users.".into(),
            group_key: None,
            demo: false,
        },
    );
    log.push(
        t(20, 13, 58),
        "alertmanager",
        EventBody::AlertAttached(warroom::domain::AlertInfo {
            source: "alertmanager".into(),
            fingerprint: "c0ffee".into(),
            name: "APILatencyHigh".into(),
            status: "firing".into(),
            summary: Some("p99 latency 6.2s on checkout".into()),
            starts_at: Some(t(20, 13, 58)),
            ends_at: None,
            url: None,
            runbook: None,
            labels: Default::default(),
        }),
    );
    log.push(
        t(20, 14, 3),
        "alice",
        EventBody::RoleAssigned { role: "commander".into(), holder: "alice".into() },
    );
    log.push(
        t(20, 14, 4),
        "alice",
        EventBody::RoleAssigned { role: "tech_lead".into(), holder: "bob".into() },
    );
    log.push(
        t(20, 14, 4),
        "alice",
        EventBody::RoleAssigned { role: "scribe".into(), holder: "carol".into() },
    );
    log.status(t(20, 14, 5), Status::Investigating);
    log.push(
        t(20, 14, 6),
        "carol",
        EventBody::ChecklistItemSet { checklist: "first-15-minutes".into(), item: "ack".into(), done: true },
    );
    log.push(
        t(20, 14, 6),
        "carol",
        EventBody::ChecklistItemSet {
            checklist: "first-15-minutes".into(),
            item: "assign-ic".into(),
            done: true,
        },
    );
    let wrong = log.entry(t(20, 14, 10), "bob", "finding", "DB connections at 100/100 since deploy 141", &[]);
    log.entry(
        t(20, 14, 12),
        "carol",
        "note",
        "Customer support reports failed payments \x1b[31m(red)\x1b[0m",
        &["impact"],
    );
    log.push(
        t(20, 14, 14),
        "bob",
        EventBody::Correction { target: wrong, text: "DB connections at 100/100 since deploy 142".into() },
    );
    log.push(t(20, 14, 15), "alice", EventBody::SeverityChanged { severity: "SEV-1".into() });
    log.push(t(20, 14, 16), "alice", EventBody::PlaybookAttached { playbook: "database-performance".into() });
    log.entry(t(20, 14, 18), "alice", "decision", "Roll back deploy 142 rather than scale the pool", &[]);
    log.entry(t(20, 14, 19), "bob", "action", "Rollback of 142 started", &["went_well"]);
    log.push(
        t(20, 14, 20),
        "dave",
        EventBody::CommsSent {
            channel: "status-page".into(),
            text: "Subject: Checkout - Service Disruption\n\nWe are investigating.".into(),
            template: Some("customer".into()),
        },
    );
    log.push(
        t(20, 14, 21),
        "alice",
        EventBody::RoleAssigned { role: "comms_lead".into(), holder: "dave".into() },
    );
    log.status(t(20, 14, 40), Status::Mitigated);
    log.entry(
        t(20, 14, 45),
        "bob",
        "finding",
        "Deploy 142 opened a connection per request in the pricing client and never returned it.",
        &["root_cause"],
    );
    log.entry(t(20, 14, 46), "bob", "note", "The pool size alert fired only at 100%", &["contributing"]);
    log.entry(
        t(20, 14, 47),
        "bob",
        "note",
        "No load test for the pricing client",
        &["contributing", "improve"],
    );
    log.entry(t(20, 14, 48), "carol", "note", "Rollback took 4 minutes end to end", &["went_well"]);
    log.entry(t(20, 14, 49), "alice", "note", "Connection leaks show up as latency first", &["lesson"]);
    log.entry(t(20, 14, 50), "alice", "note", "No revenue loss measured", &["revenue_impact"]);
    let ai = log.push(
        t(20, 15, 0),
        "alice",
        EventBody::ActionItemAdded {
            text: "Alert on pool usage > 80% | per service".into(),
            owner: Some("bob".into()),
            due: NaiveDate::from_ymd_opt(2026, 11, 27),
            priority: Priority::High,
        },
    );
    log.push(
        t(20, 15, 1),
        "alice",
        EventBody::ActionItemAdded {
            text: "Load test the pricing client".into(),
            owner: None,
            due: None,
            priority: Priority::Medium,
        },
    );
    log.push(
        t(20, 15, 20),
        "bob",
        EventBody::ActionItemUpdated {
            item: ai,
            text: None,
            owner: None,
            due: None,
            priority: None,
            done: Some(true),
        },
    );
    log.push(
        t(20, 15, 25),
        "carol",
        EventBody::ChecklistItemSet {
            checklist: "database-performance.verification".into(),
            item: "metrics".into(),
            done: true,
        },
    );
    log.status(t(20, 15, 30), Status::Resolved);
    log
}

#[test]
fn postmortem_of_the_fixture_incident() {
    let p = sev();
    let log = fixture();
    for e in &log.events {
        let mut body = e.body.clone();
        p.check_event(&mut body).unwrap();
    }
    let md = postmortem::render(&p, &log.incident(), &log.events);
    insta::assert_snapshot!("postmortem_fixture", md);
}

#[test]
fn postmortem_sections_without_data_say_so() {
    let p = sev();
    let log = incident("SEV-3", t(23, 10, 0));
    let md = postmortem::render(&p, &log.incident(), &log.events);
    for expected in [
        "**Duration**: 2026-11-23 10:00 UTC - ongoing (not resolved yet)",
        "No summary recorded yet.",
        "No root cause recorded yet.",
        "No contributing factors recorded yet.",
        "No action items recorded yet.",
        "No lessons recorded yet.",
        "- **Incident Commander** (IC): nobody",
    ] {
        assert!(md.contains(expected), "missing {expected:?} in\n{md}");
    }
    assert!(!md.contains("unknown"), "{md}");
    // Nothing at all: still a document.
    let md = postmortem::render(&p, &Incident::default(), &[]);
    assert!(md.contains("No events recorded yet."), "{md}");
}

#[test]
fn postmortem_uses_the_practice_template() {
    let mut p = sev();
    p.templates.insert("postmortem".into(), "# {{title}}\n{{root_cause_section}}\n{{action_items}}\n".into());
    let log = fixture();
    let md = postmortem::render(&p, &log.incident(), &log.events);
    assert!(md.starts_with("# Checkout API latency above 5s\nDeploy 142 opened"), "{md}");
    assert!(
        md.contains("| Alert on pool usage > 80% \\| per service | @bob | 2026-11-27 | High | yes |"),
        "{md}"
    );
}

// ---------------------------------------------------------------- Alertmanager

const FIRING: &str = r#"{
  "receiver": "warroom",
  "status": "firing",
  "alerts": [
    {
      "status": "firing",
      "labels": {"alertname": "APILatencyHigh", "service": "checkout", "severity": "warning", "instance": "api-1:8000"},
      "annotations": {"summary": "p99 latency above 5s", "runbook_url": "https://runbooks.example/api-latency"},
      "startsAt": "2026-11-20T13:58:00Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus:9090/graph?g0.expr=latency",
      "fingerprint": "a1b2c3d4e5f60708"
    },
    {
      "status": "firing",
      "labels": {"alertname": "DBConnectionErrors", "service": "checkout", "severity": "critical"},
      "annotations": {"summary": "connection pool exhausted"},
      "startsAt": "2026-11-20T13:59:30.123456789Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus:9090/graph?g0.expr=db",
      "fingerprint": "0f1e2d3c4b5a6978"
    }
  ],
  "groupLabels": {"service": "checkout"},
  "commonLabels": {"service": "checkout"},
  "commonAnnotations": {},
  "externalURL": "http://alertmanager:9093",
  "version": "4",
  "groupKey": "{}:{service=\"checkout\"}",
  "truncatedAlerts": 0
}"#;

fn am_config() -> AlertmanagerConfig {
    let mut cfg = AlertmanagerConfig::default();
    cfg.runbooks.insert("DBConnectionErrors".into(), "database-performance".into());
    cfg.runbooks.insert("HighMemoryUsage".into(), "https://runbooks.example/high_memory_usage.md".into());
    cfg
}

/// Records a plan's events as the server would (validated by the practice, folded).
fn record(p: &Practice, log: &mut Log, plan: &Plan) {
    for e in &plan.events {
        let mut body = e.body.clone();
        p.check_event(&mut body).unwrap();
        let inc = if log.events.is_empty() { Incident::default() } else { log.incident() };
        inc.check(&body, e.occurred_at).unwrap();
        log.events.push(Event {
            seq: log.events.len() as u64 + 1,
            id: e.id,
            incident: log.id.clone(),
            author: "alertmanager".into(),
            occurred_at: e.occurred_at,
            recorded_at: e.occurred_at,
            body,
        });
    }
}

#[test]
fn firing_group_declares_an_incident() {
    let p = sev();
    let payload: WebhookPayload = serde_json::from_str(FIRING).unwrap();
    let now = t(20, 14, 0);
    let plan = alertmanager::plan(&payload, &am_config(), &p, None, now).unwrap();
    assert!(plan.declares());
    assert_eq!(plan.incident, None);
    let kinds: Vec<_> = plan.events.iter().map(|e| e.body.kind().as_str()).collect();
    assert_eq!(kinds, ["declared", "alert_attached", "alert_attached", "playbook_attached"]);
    match &plan.events[0].body {
        EventBody::Declared { title, severity, group_key, .. } => {
            assert_eq!(title, "DBConnectionErrors, APILatencyHigh");
            assert_eq!(severity, "SEV-1", "critical wins over warning");
            assert_eq!(group_key.as_deref(), Some("{}:{service=\"checkout\"}"));
        }
        other => panic!("{other:?}"),
    }
    let EventBody::AlertAttached(latency) = &plan.events[2].body else { panic!() };
    assert_eq!(latency.name, "APILatencyHigh");
    assert_eq!(latency.runbook.as_deref(), Some("https://runbooks.example/api-latency"));
    assert_eq!(latency.ends_at, None);
    assert_eq!(plan.events[2].occurred_at, t(20, 13, 58));
    assert_eq!(plan.events[3].body, EventBody::PlaybookAttached { playbook: "database-performance".into() });
    assert!(plan.events.iter().all(|e| e.id.get_version_num() == 8));

    // An exact retry plans the same ids (the server dedups them).
    let again = alertmanager::plan(&payload, &am_config(), &p, None, t(20, 14, 1)).unwrap();
    let ids = |p: &Plan| p.events.iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(&plan), ids(&again));

    // Recorded: the incident carries the alerts, and a retry adds nothing.
    let mut log = Log::new("INC-1");
    record(&p, &mut log, &plan);
    let inc = log.incident();
    assert_eq!(inc.alerts.len(), 2);
    assert_eq!(inc.playbooks, ["database-performance"]);
    let retry = alertmanager::plan(&payload, &am_config(), &p, Some(&inc), t(20, 14, 5)).unwrap();
    assert!(retry.is_empty(), "{retry:?}");
    assert_eq!(retry.incident.as_deref(), Some("INC-1"));
}

#[test]
fn resolved_alerts_are_recorded_never_resolving_the_incident() {
    let p = sev();
    let firing: WebhookPayload = serde_json::from_str(FIRING).unwrap();
    let mut log = Log::new("INC-1");
    record(&p, &mut log, &alertmanager::plan(&firing, &am_config(), &p, None, t(20, 14, 0)).unwrap());
    let firing_inc = log.incident();

    let mut resolved = firing.clone();
    resolved.status = AlertStatus::Resolved;
    for a in &mut resolved.alerts {
        a.status = AlertStatus::Resolved;
        a.ends_at = Some(t(20, 14, 40));
    }
    let plan = alertmanager::plan(&resolved, &am_config(), &p, Some(&firing_inc), t(20, 14, 41)).unwrap();
    let kinds: Vec<_> = plan.events.iter().map(|e| e.body.kind().as_str()).collect();
    assert_eq!(kinds, ["alert_attached", "alert_attached"]);
    assert!(plan.events.iter().all(|e| e.occurred_at == t(20, 14, 40)));
    record(&p, &mut log, &plan);
    let inc = log.incident();
    assert!(inc.alerts.values().all(|a| a.status == "resolved" && a.ends_at == Some(t(20, 14, 40))));
    assert_eq!(inc.status, Status::Declared, "never auto-resolved");

    // A late retry of the firing notification does not undo the resolution.
    let stale = alertmanager::plan(&firing, &am_config(), &p, Some(&inc), t(20, 14, 45)).unwrap();
    assert!(stale.is_empty(), "{stale:?}");
    // The same alert firing anew (a later startsAt) is news.
    let mut refire = firing.clone();
    refire.alerts[0].starts_at = Some(t(20, 15, 0));
    let plan = alertmanager::plan(&refire, &am_config(), &p, Some(&inc), t(20, 15, 1)).unwrap();
    assert_eq!(plan.events.len(), 1);
    // A resolved group with no open incident opens nothing.
    assert!(alertmanager::plan(&resolved, &am_config(), &p, None, t(20, 15, 0)).unwrap().is_empty());
}

#[test]
fn unmapped_severity_falls_back_visibly() {
    let p = pee();
    let mut payload: WebhookPayload = serde_json::from_str(FIRING).unwrap();
    payload.common_annotations.insert("summary".into(), "Checkout degraded".into());
    payload.truncated_alerts = 3;
    // The default map names SEV levels; the P scheme is active.
    let plan = alertmanager::plan(&payload, &AlertmanagerConfig::default(), &p, None, t(20, 14, 0)).unwrap();
    let EventBody::Declared { title, severity, .. } = &plan.events[0].body else { panic!() };
    assert_eq!((title.as_str(), severity.as_str()), ("Checkout degraded", "P4"));
    let notes: Vec<_> =
        plan.events.iter().filter_map(|e| e.body.as_entry()).map(|e| e.text.clone()).collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes[0].contains("not mapped to scheme p") && notes[0].contains("declared as P4"),
        "{}",
        notes[0]
    );
    assert!(notes[1].contains("left 3 alert(s) out"), "{}", notes[1]);

    let mut cfg = AlertmanagerConfig { default_severity: Some("p3".into()), ..AlertmanagerConfig::default() };
    let plan = alertmanager::plan(&payload, &cfg, &p, None, t(20, 14, 0)).unwrap();
    assert!(matches!(&plan.events[0].body, EventBody::Declared { severity, .. } if severity == "P3"));
    cfg.severity_map.insert("critical".into(), "P1".into());
    let plan = alertmanager::plan(&payload, &cfg, &p, None, t(20, 14, 0)).unwrap();
    assert!(matches!(&plan.events[0].body, EventBody::Declared { severity, .. } if severity == "P1"));
    assert!(
        plan.events.iter().filter(|e| e.body.as_entry().is_some()).count() == 1,
        "only the truncation note"
    );
}

#[test]
fn bad_payloads_are_refused_clearly() {
    let p = sev();
    let mut payload: WebhookPayload = serde_json::from_str(FIRING).unwrap();
    payload.version = "3".into();
    let err = alertmanager::plan(&payload, &am_config(), &p, None, t(20, 14, 0)).unwrap_err();
    assert!(err.to_string().contains("version `3`"), "{err}");
    payload.version = "4".into();
    payload.group_key = " ".into();
    let err = alertmanager::plan(&payload, &am_config(), &p, None, t(20, 14, 0)).unwrap_err();
    assert!(err.to_string().contains("groupKey"), "{err}");
    assert!(serde_json::from_str::<WebhookPayload>(r#"{"status":"exploded","alerts":[]}"#).is_err());

    // A script's minimal payload: no fingerprint (derived from labels), hostile text cleaned.
    let minimal = r#"{"status":"firing","groupKey":"script","alerts":[{"status":"firing",
        "labels":{"alertname":"Disk\u001b[2Jfull"},"annotations":{"summary":"\u001b]52;c;ZXZpbA==\u0007/var is 99%"}}]}"#;
    let payload: WebhookPayload = serde_json::from_str(minimal).unwrap();
    let plan = alertmanager::plan(&payload, &am_config(), &p, None, t(20, 14, 0)).unwrap();
    let alert = plan.events.iter().find(|e| matches!(e.body, EventBody::AlertAttached(_))).unwrap();
    let EventBody::AlertAttached(a) = &alert.body else { unreachable!() };
    assert_eq!(a.name, "Diskfull");
    assert_eq!(a.summary.as_deref(), Some("/var is 99%"));
    assert_eq!(a.fingerprint.len(), 16);
    assert_eq!(alert.occurred_at, t(20, 14, 0));
}

#[test]
fn broken_business_hours_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("schemes")).unwrap();
    let sev = warroom::assets::ASSETS.get_file("practice/schemes/sev.toml").unwrap().contents_utf8().unwrap();
    std::fs::write(dir.path().join("schemes/sev.toml"), sev.replace("end = \"17:00\"", "end = \"08:00\""))
        .unwrap();
    let err = load_practice(Some(dir.path()), None).unwrap_err().to_string();
    assert!(err.contains("scheme `sev`: business_hours"), "{err}");
    std::fs::write(
        dir.path().join("schemes/sev.toml"),
        sev.replace("start = \"09:00\"", "start = \"9 o'clock\""),
    )
    .unwrap();
    let err = load_practice(Some(dir.path()), None).unwrap_err().to_string();
    assert!(err.contains("sev.toml:") && err.contains("start"), "{err}");
}

#[test]
fn a_group_whose_incident_was_resolved_by_hand() {
    let p = sev();
    let firing: WebhookPayload = serde_json::from_str(FIRING).unwrap();
    let first = alertmanager::plan(&firing, &am_config(), &p, None, t(20, 14, 0)).unwrap();
    // The IC resolved INC-1 while both alerts kept firing: a repeat notification plans the same
    // `declared` id, which the server finds already recorded.
    let repeat = alertmanager::plan(&firing, &am_config(), &p, None, t(20, 18, 0)).unwrap();
    assert_eq!(first.events[0].id, repeat.events[0].id);
    // A new alert joins the group: a new incident, and the old alert is attached to it too.
    let mut grown = firing.clone();
    let mut extra = grown.alerts[0].clone();
    extra.fingerprint = "ffff000011112222".into();
    extra.labels.insert("alertname".into(), "HighMemoryUsage".into());
    extra.annotations.clear();
    extra.starts_at = Some(t(20, 17, 0));
    grown.alerts.push(extra);
    let next = alertmanager::plan(&grown, &am_config(), &p, None, t(20, 18, 0)).unwrap();
    assert!(next.declares());
    let first_ids: Vec<_> = first.events.iter().map(|e| e.id).collect();
    assert!(next.events.iter().all(|e| !first_ids.contains(&e.id)));
    let memory = next
        .events
        .iter()
        .find_map(|e| match &e.body {
            EventBody::AlertAttached(a) if a.name == "HighMemoryUsage" => Some(a.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(memory.runbook.as_deref(), Some("https://runbooks.example/high_memory_usage.md"));
}

// ------------------------------------------------------ issue #11: a practice for any team

/// The example practice dir: the first guide's product, as one team's customisation.
fn example_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/practice-freeagentics")
}

/// What the product the first guide was written for put into it: its agents and coalitions,
/// its dashboards on localhost, its containers and make targets, the second guide's domain.
const PRODUCT_SPECIFIC: [&str; 12] = [
    "agent",
    "coalition",
    "coordination",
    "localhost",
    "127.0.0.1",
    "freeagentics",
    "docker",
    "make health-check",
    "make logs",
    "redis-cli",
    "berrys",
    "orchestrat",
];

#[test]
fn the_defaults_name_no_product() {
    for p in [sev(), pee()] {
        // All of it, as the server serves it (`GET /api/v1/practice`) to every console.
        let served = serde_json::to_string(&p).unwrap().to_lowercase();
        for word in PRODUCT_SPECIFIC {
            assert!(!served.contains(word), "{}: the default practice says `{word}`", p.scheme().id);
        }
        // No dashboard link to anybody's host; commands run anywhere or say what to fill in.
        let lists = p.checklists.iter().chain(p.playbooks.iter().flat_map(|pb| pb.groups.iter()));
        for c in lists {
            for i in &c.items {
                assert!(i.link.is_none(), "{}/{}: a link to {:?}", c.id, i.id, i.link);
                if let Some(cmd) = &i.command {
                    let first = cmd.split_whitespace().next().unwrap();
                    assert!(
                        ["journalctl", "uptime;", "curl", "systemctl"].contains(&first),
                        "{}/{}: `{cmd}` is not a command every Linux host has",
                        c.id,
                        i.id
                    );
                }
            }
        }
    }
}

#[test]
fn the_example_practice_loads_as_an_override() {
    let dir = example_dir();
    let p = load_practice(Some(&dir), None).unwrap();
    // Its own files replace the generic ones ...
    let inv = p.checklist("investigation").unwrap();
    let agents = inv.items.iter().find(|i| i.text == "Agent coordination dashboard").unwrap();
    assert_eq!(agents.link.as_deref(), Some("http://localhost:3001/d/freeagentics-agents"));
    assert!(inv.items.iter().any(|i| i.command.as_deref()
        == Some(r#"docker-compose logs --tail=1000 api | grep -E "(coalition|coordination|agent)""#)));
    let sev1 = &p.scheme().levels[0];
    assert!(sev1.examples.contains(&"Complete agent coordination failure".to_string()), "{sev1:?}");
    let outage = p.checklist("service-outage.mitigation").unwrap();
    assert!(outage.items.iter().any(|i| i.command.as_deref() == Some("docker-compose restart api")));
    // ... a new name adds a playbook ...
    let pb = p.playbook("agent-coordination-failures").unwrap();
    assert_eq!(pb.groups.len(), 3);
    // ... and everything else stays as embedded.
    let base = sev();
    assert_eq!(p.templates, base.templates);
    assert_eq!(p.role_sets, base.role_sets);
    assert_eq!(p.checklist("first-15-minutes"), base.checklist("first-15-minutes"));
    assert_eq!(p.playbooks.len(), base.playbooks.len() + 1);
    // The other scheme loads with it too.
    assert_eq!(load_practice(Some(&dir), Some("p")).unwrap().scheme().id, "p");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// As the example's README says: copied to `<config dir>/practice`, checked, and used by the
/// (embedded) server the commands talk to.
#[test]
fn the_example_practice_dir_is_what_a_team_installs() {
    let env = crate::bin_support::Env::new().own_embedded_address();
    copy_dir(&example_dir(), &env.config.join("practice"));
    let (out, err) = env.ok(&["config", "check"]);
    assert!(!err.contains("problem"), "{out}{err}");
    env.ok(&["declare", "--severity", "SEV-1", "--title", "Agents stop forming coalitions"]);
    let (out, _) = env.ok(&["show", "INC-1"]);
    assert!(out.contains("Agent coordination dashboard"), "{out}");
    assert!(!out.contains("System overview dashboard"), "{out}");
    env.ok(&["playbook", "attach", "INC-1", "agent-coordination-failures"]);
    let (out, _) = env.ok(&["show", "INC-1"]);
    assert!(out.contains("Review agent logs"), "{out}");
    // Without it, the same commands show the generic practice.
    let plain = crate::bin_support::Env::new().own_embedded_address();
    plain.ok(&["declare", "--severity", "SEV-1", "--title", "Checkout down"]);
    let (out, _) = plain.ok(&["show", "INC-1"]);
    assert!(out.contains("System overview dashboard"), "{out}");
    assert!(!out.to_lowercase().contains("agent"), "{out}");
}
