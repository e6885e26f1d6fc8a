//! `warroom demo`: a realistic incident to look at and play with. A still-running SEV-2
//! (an hour of timeline with every kind of event, roles partly held, checklists half done,
//! action items, a correction) and a SEV-3 resolved yesterday. Checklist items, roles and
//! severities come from the server's practice, so the demo fits whatever practice is loaded.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::client::ApiClient;
use crate::domain::{AlertInfo, Entry, EventBody, NewEvent, Practice, Priority, Status};

/// One demo incident: its declaration and the events that follow, in order.
#[derive(Debug, Clone)]
pub struct DemoIncident {
    pub declare: NewEvent,
    pub events: Vec<NewEvent>,
}

fn entry(text: &str) -> Entry {
    Entry { text: text.to_string(), tags: Vec::new() }
}

fn tagged(text: &str, tags: &[&str]) -> Entry {
    Entry { text: text.to_string(), tags: tags.iter().map(|t| t.to_string()).collect() }
}

/// The severity at `rank` (0 = most severe) of the practice's scheme, or the last one.
fn severity(p: &Practice, rank: usize) -> String {
    let levels = &p.scheme().levels;
    levels.get(rank).or(levels.last()).map(|l| l.id.clone()).unwrap_or_else(|| "SEV-2".into())
}

/// Builds events with times relative to `now`, keeping ids in time order (UUID v7).
struct Builder {
    now: DateTime<Utc>,
    events: Vec<NewEvent>,
}

impl Builder {
    fn at(&mut self, minutes_ago: i64, body: EventBody) -> Uuid {
        let e = NewEvent::at(self.now - Duration::minutes(minutes_ago), body);
        let id = e.id;
        self.events.push(e);
        id
    }
}

/// Checklist ticks: up to `n` items of the scheme's `index`-th checklist.
fn ticks(p: &Practice, index: usize, n: usize) -> Vec<EventBody> {
    let lists = p.incident_checklists();
    let Some(c) = lists.get(index) else { return Vec::new() };
    c.items
        .iter()
        .take(n)
        .map(|i| EventBody::ChecklistItemSet { checklist: c.id.clone(), item: i.id.clone(), done: true })
        .collect()
}

/// The role ids of the practice: (commander, second role, the rest).
fn roles(p: &Practice) -> (String, Option<String>) {
    let ids: Vec<String> = p.roles().iter().map(|r| r.id.clone()).collect();
    let commander = crate::domain::COMMANDER_ROLE.to_string();
    let second = ids.iter().find(|r| **r != commander).cloned();
    (commander, second)
}

fn hhmm(now: DateTime<Utc>, minutes_ago: i64) -> String {
    (now - Duration::minutes(minutes_ago)).format("%H:%M").to_string()
}

/// The running SEV-2: declared about an hour ago, now identified and mitigating.
pub fn running_incident(now: DateTime<Utc>, p: &Practice) -> DemoIncident {
    let declare = NewEvent::at(
        now - Duration::minutes(62),
        EventBody::Declared {
            title: "Checkout API 5xx spike in eu-west-1".into(),
            severity: severity(p, 2),
            summary: "Elevated 5xx on POST /checkout for EU customers; payments partly failing.".into(),
            group_key: None,
        },
    );
    let mut b = Builder { now, events: Vec::new() };
    let (commander, second) = roles(p);
    let mut first_ticks = ticks(p, 0, 4).into_iter();
    let mut second_ticks = ticks(p, 1, 2).into_iter();
    b.at(
        61,
        EventBody::AlertAttached(AlertInfo {
            source: "alertmanager".into(),
            fingerprint: "c0ffee1234abcd".into(),
            name: "CheckoutHighErrorRate".into(),
            status: "firing".into(),
            summary: Some("checkout-api 5xx ratio 7.2% > 5% for 5m (eu-west-1)".into()),
            starts_at: Some(now - Duration::minutes(66)),
            ends_at: None,
            url: Some("https://grafana.example.com/d/checkout".into()),
            runbook: Some("https://runbooks.example.com/checkout-5xx".into()),
            labels: [("service", "checkout-api"), ("region", "eu-west-1"), ("severity", "major")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }),
    );
    b.at(60, EventBody::StatusChanged { status: Status::Acknowledged });
    b.at(59, EventBody::RoleAssigned { role: commander.clone(), holder: "alice".into() });
    if let Some(t) = first_ticks.next() {
        b.at(59, t);
    }
    b.at(58, EventBody::Note(entry("Bridge open in #inc-checkout; payments on-call paged.")));
    b.at(57, EventBody::SeverityChanged { severity: severity(p, 1) });
    if let Some(t) = first_ticks.next() {
        b.at(56, t);
    }
    if let Some(r) = &second {
        b.at(55, EventBody::RoleAssigned { role: r.clone(), holder: "bob".into() });
    }
    if let Some(t) = first_ticks.next() {
        b.at(55, t);
    }
    b.at(54, EventBody::StatusChanged { status: Status::Investigating });
    b.at(
        52,
        EventBody::Finding(tagged(
            &format!("5xx started {} UTC, only eu-west-1; us-east-1 clean.", hhmm(now, 66)),
            &["investigation"],
        )),
    );
    b.at(
        48,
        EventBody::Finding(entry(&format!(
            "checkout-api v2.41.0 rolled out to eu-west-1 at {} UTC.",
            hhmm(now, 69)
        ))),
    );
    if let Some(t) = first_ticks.next() {
        b.at(47, t);
    }
    b.at(
        45,
        EventBody::CommsSent {
            channel: "internal".into(),
            text: "We are investigating elevated checkout errors in EU. Next update in 30 min.".into(),
            template: None,
        },
    );
    b.at(
        42,
        EventBody::Note(tagged(
            "About 7% of EU checkouts failing since the release; card payments retried by users.",
            &["customer_impact"],
        )),
    );
    b.at(41, EventBody::Finding(tagged("Canary stage skipped for config-only changes.", &["contributing"])));
    b.at(40, EventBody::Decision(entry("Roll back checkout-api to v2.40.3 in eu-west-1 (alice).")));
    b.at(39, EventBody::Action(entry("Rollback started through the deploy pipeline (bob).")));
    let note = b.at(30, EventBody::Note(entry("Error rate down to 2% after rollback of 2 of 6 pods.")));
    b.at(
        28,
        EventBody::Finding(tagged(
            "Root cause: v2.41.0 halved the DB connection pool (config typo: 25 instead of 50).",
            &["root_cause"],
        )),
    );
    b.at(27, EventBody::StatusChanged { status: Status::Identified });
    b.at(
        26,
        EventBody::Correction {
            target: note,
            text: "Error rate down to 2.5% (not 2%) after 2 of 6 pods.".into(),
        },
    );
    if let Some(t) = second_ticks.next() {
        b.at(25, t);
    }
    let item = b.at(
        24,
        EventBody::ActionItemAdded {
            text: "Validate pool sizes in config CI".into(),
            owner: Some("bob".into()),
            due: Some((now + Duration::days(7)).date_naive()),
            priority: Priority::High,
        },
    );
    b.at(
        23,
        EventBody::ActionItemAdded {
            text: "Alert on DB pool saturation before errors".into(),
            owner: None,
            due: None,
            priority: Priority::Medium,
        },
    );
    b.at(
        20,
        EventBody::CommsSent {
            channel: "status-page".into(),
            text: "Identified: a faulty release caused checkout errors in EU. A rollback is in progress."
                .into(),
            template: None,
        },
    );
    if let Some(t) = second_ticks.next() {
        b.at(18, t);
    }
    b.at(
        15,
        EventBody::ActionItemUpdated {
            item,
            text: None,
            owner: Some("carol".into()),
            due: None,
            priority: None,
            done: None,
        },
    );
    b.at(12, EventBody::Action(entry("Rollback complete on all 6 pods; watching error rate.")));
    b.at(6, EventBody::Note(tagged("Error rate 0.6% and falling. Holding before mitigated.", &["impact"])));
    DemoIncident { declare, events: b.events }
}

/// A SEV-3 from yesterday, resolved within the hour.
pub fn resolved_incident(now: DateTime<Utc>, p: &Practice) -> DemoIncident {
    let start = now - Duration::hours(26);
    let declare = NewEvent::at(
        start,
        EventBody::Declared {
            title: "Search latency p99 over 2 s".into(),
            severity: severity(p, 2),
            summary: "Slow search results for some users.".into(),
            group_key: None,
        },
    );
    let mut b = Builder { now: start, events: Vec::new() };
    let at = |m: i64| -m; // minutes after the start
    let (commander, _) = roles(p);
    b.at(at(3), EventBody::StatusChanged { status: Status::Acknowledged });
    b.at(at(4), EventBody::RoleAssigned { role: commander, holder: "dave".into() });
    b.at(
        at(10),
        EventBody::Finding(tagged("Search index rebuild running during peak hours.", &["root_cause"])),
    );
    b.at(at(14), EventBody::Decision(entry("Pause the rebuild until tonight.")));
    b.at(at(18), EventBody::StatusChanged { status: Status::Mitigated });
    b.at(at(25), EventBody::Note(tagged("p99 back to 300 ms.", &["went_well"])));
    b.at(
        at(26),
        EventBody::ActionItemAdded {
            text: "Schedule index rebuilds off-peak".into(),
            owner: Some("dave".into()),
            due: None,
            priority: Priority::Low,
        },
    );
    b.at(at(40), EventBody::StatusChanged { status: Status::Resolved });
    DemoIncident { declare, events: b.events }
}

/// Both demo incidents, the resolved one first.
pub fn demo_incidents(now: DateTime<Utc>, p: &Practice) -> Vec<DemoIncident> {
    vec![resolved_incident(now, p), running_incident(now, p)]
}

/// Submits the demo incidents to the server (the token needs the commander role); returns the
/// new incident ids.
pub async fn load(client: &ApiClient) -> anyhow::Result<Vec<String>> {
    let practice = client.practice().await?;
    let mut ids = Vec::new();
    for inc in demo_incidents(Utc::now(), &practice) {
        let declared = client.declare(&inc.declare).await?;
        let id = declared.incident;
        client.append(&id, inc.events, None).await.map_err(|e| anyhow::anyhow!("loading {id}: {e}"))?;
        ids.push(id);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Event, EventKind, fold};

    fn recorded(id: &str, inc: &DemoIncident) -> Vec<Event> {
        std::iter::once(&inc.declare)
            .chain(&inc.events)
            .enumerate()
            .map(|(i, e)| Event {
                seq: i as u64 + 1,
                id: e.id,
                incident: id.to_string(),
                author: "demo".into(),
                occurred_at: e.occurred_at,
                recorded_at: e.occurred_at,
                body: e.body.clone(),
            })
            .collect()
    }

    #[test]
    fn the_running_incident_folds_and_covers_every_kind_but_a_few() {
        let p = crate::config::load_practice(None, None).unwrap();
        let now = Utc::now();
        let inc = running_incident(now, &p);
        let mut events = recorded("INC-1", &inc);
        for e in &mut events {
            p.check_event(&mut e.body).unwrap();
        }
        let state = fold(&events).unwrap();
        assert!(state.is_open());
        assert_eq!(state.severity, p.scheme().levels[1].id);
        assert_eq!(state.commander(), Some("alice"));
        assert!(state.roles.len() < p.roles().len(), "some roles are left open");
        assert!(!state.checklist.is_empty());
        assert_eq!(state.action_items.len(), 2);
        let kinds: std::collections::BTreeSet<EventKind> = events.iter().map(|e| e.kind()).collect();
        for k in [
            EventKind::Declared,
            EventKind::StatusChanged,
            EventKind::SeverityChanged,
            EventKind::RoleAssigned,
            EventKind::ChecklistItemSet,
            EventKind::Note,
            EventKind::Finding,
            EventKind::Action,
            EventKind::Decision,
            EventKind::CommsSent,
            EventKind::AlertAttached,
            EventKind::ActionItemAdded,
            EventKind::ActionItemUpdated,
            EventKind::Correction,
        ] {
            assert!(kinds.contains(&k), "missing {k}");
        }
        assert!(events.iter().all(|e| e.occurred_at <= now && e.occurred_at > now - Duration::minutes(70)));
        assert!(events.windows(2).all(|w| w[0].occurred_at <= w[1].occurred_at));
    }

    #[test]
    fn the_resolved_incident_is_resolved() {
        let p = crate::config::load_practice(None, None).unwrap();
        let state = fold(&recorded("INC-2", &resolved_incident(Utc::now(), &p))).unwrap();
        assert_eq!(state.status, Status::Resolved);
    }
}
