//! `warroom demo`: a realistic incident to look at and play with. A still-running SEV-2
//! (an hour of timeline with every kind of event, roles partly held, checklists half done,
//! action items, a correction) and a SEV-3 resolved yesterday. Checklist items, roles and
//! severities come from the server's practice, so the demo fits whatever practice is loaded.
//!
//! The timeline reads like a real incident: each event is said by one of a few [`Persona`]s
//! (the incident commander, a scribe, responders, the Alertmanager bot). The server takes the
//! author from the token, so with the server's database at hand (the embedded server, or on
//! the server host) the demo makes one short-lived token per persona, appends through each
//! and revokes them all afterwards. Without it, everything is appended with the caller's token.

use std::collections::BTreeMap;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::api::Role;
use crate::client::ApiClient;
use crate::domain::{AlertInfo, Entry, EventBody, NewEvent, Practice, Priority, Status};
use crate::server::Store;
use crate::server::auth::hash_secret;

/// Someone in the demo's war room: the token name the server records as the author (and role
/// holders are named by), and the least token role that may append what they say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Persona {
    pub name: &'static str,
    pub role: Role,
}

/// Incident commander of the running incident.
pub const MAYA: Persona = Persona { name: "maya", role: Role::Commander };
/// Scribe: logs actions, decisions, comms and action items as they happen.
pub const JONAS: Persona = Persona { name: "jonas", role: Role::Scribe };
/// Payments on-call, paged first; declares the running incident.
pub const PRIYA: Persona = Persona { name: "priya", role: Role::Responder };
/// SRE, the technical lead of the running incident.
pub const SAM: Persona = Persona { name: "sam", role: Role::Responder };
/// Prometheus Alertmanager's webhook token.
pub const ALERTMANAGER: Persona = Persona { name: "alertmanager", role: Role::Responder };
/// The server itself, as it records escalations (its own events are authored `warroom`).
pub const SERVER: Persona = Persona { name: "warroom", role: Role::Admin };
/// Incident commander of yesterday's incident.
pub const DMITRI: Persona = Persona { name: "dmitri", role: Role::Commander };
/// Search on-call, who declared yesterday's incident.
pub const LENA: Persona = Persona { name: "lena", role: Role::Responder };

/// One demo incident: its declaration and the events that follow, in order, each with who
/// says it.
#[derive(Debug, Clone)]
pub struct DemoIncident {
    pub declared_by: Persona,
    pub declare: NewEvent,
    pub events: Vec<(Persona, NewEvent)>,
}

impl DemoIncident {
    /// Everyone who says something in this incident.
    pub fn personas(&self) -> Vec<Persona> {
        let mut v: Vec<Persona> =
            std::iter::once(self.declared_by).chain(self.events.iter().map(|(p, _)| *p)).collect();
        v.sort();
        v.dedup();
        v
    }
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
    events: Vec<(Persona, NewEvent)>,
}

impl Builder {
    fn at(&mut self, minutes_ago: i64, by: Persona, body: EventBody) -> Uuid {
        let e = NewEvent::at(self.now - Duration::minutes(minutes_ago), body);
        let id = e.id;
        self.events.push((by, e));
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

/// The role ids of the practice: (commander, the first other role, a scribe role if there is
/// one besides those).
fn roles(p: &Practice) -> (String, Option<String>, Option<String>) {
    let ids: Vec<String> = p.roles().iter().map(|r| r.id.clone()).collect();
    let commander = crate::domain::COMMANDER_ROLE.to_string();
    let second = ids.iter().find(|r| **r != commander).cloned();
    let scribe = ids.iter().find(|r| r.as_str() == "scribe" && Some(*r) != second.as_ref()).cloned();
    (commander, second, scribe)
}

fn hhmm(now: DateTime<Utc>, minutes_ago: i64) -> String {
    (now - Duration::minutes(minutes_ago)).format("%H:%M").to_string()
}

/// The escalation step the running incident reaches unacknowledged: the first step after the
/// start that applies to every level (none for a scheme without one).
fn first_escalation(p: &Practice) -> Option<(u32, String, String)> {
    p.scheme()
        .escalation
        .iter()
        .filter(|s| s.after_minutes > 0 && !s.executive_only)
        .min_by_key(|s| s.after_minutes)
        .map(|s| (s.after_minutes, s.level.clone(), s.who.clone()))
}

/// How long ago the running incident was declared.
pub const RUNNING_FOR_MINUTES: i64 = 40;

/// The running SEV-2, declared [`RUNNING_FOR_MINUTES`] ago by the Alertmanager webhook. Priya
/// (payments on-call, paged first) does not acknowledge, so the server escalates to the team
/// lead after the scheme's first step; Maya acknowledges, takes command and raises the
/// severity; Sam leads the technical side, Jonas keeps the record; status updates go out within
/// the level's cadence. It is now identified and rolled back, holding before mitigated: the
/// response timer met, the next status update due in about half an hour.
pub fn running_incident(now: DateTime<Utc>, p: &Practice) -> DemoIncident {
    let start = now - Duration::minutes(RUNNING_FOR_MINUTES);
    let declare = NewEvent::at(
        start,
        EventBody::Declared {
            title: "Checkout API 5xx spike in eu-west-1".into(),
            severity: severity(p, 2),
            summary: "Elevated 5xx on POST /checkout for EU customers; payments partly failing.".into(),
            group_key: None,
            demo: true,
        },
    );
    // Minutes after the declaration.
    let mut b = Builder { now: start, events: Vec::new() };
    let at = |m: i64| -m;
    let (commander, second, scribe) = roles(p);
    let mut first_ticks = ticks(p, 0, 4).into_iter();
    let mut second_ticks = ticks(p, 1, 2).into_iter();
    b.at(
        at(0),
        ALERTMANAGER,
        EventBody::AlertAttached(AlertInfo {
            source: "alertmanager".into(),
            fingerprint: "c0ffee1234abcd".into(),
            name: "CheckoutHighErrorRate".into(),
            status: "firing".into(),
            summary: Some("checkout-api 5xx ratio 7.2% > 5% for 5m (eu-west-1)".into()),
            starts_at: Some(start - Duration::minutes(4)),
            ends_at: None,
            url: Some("https://grafana.example.com/d/checkout".into()),
            runbook: Some("https://runbooks.example.com/checkout-5xx".into()),
            labels: [("service", "checkout-api"), ("region", "eu-west-1"), ("severity", "major")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }),
    );
    // Nobody acknowledged: the server paged the next step (as it records it: as `warroom`).
    let ack = match first_escalation(p) {
        Some((after, level, who)) => {
            let after = i64::from(after);
            b.at(at(after), SERVER, EventBody::Escalated { level, who });
            after + 2
        }
        None => 3,
    };
    b.at(at(ack), MAYA, EventBody::StatusChanged { status: Status::Acknowledged });
    b.at(at(ack), MAYA, EventBody::RoleAssigned { role: commander.clone(), holder: MAYA.name.into() });
    if let Some(t) = first_ticks.next() {
        b.at(at(ack + 1), PRIYA, t);
    }
    b.at(
        at(ack + 1),
        PRIYA,
        EventBody::Note(entry("Missed the first page (pager on silent in a meeting); joining now.")),
    );
    b.at(at(ack + 2), MAYA, EventBody::SeverityChanged { severity: severity(p, 1) });
    b.at(at(ack + 2), MAYA, EventBody::Note(entry("Bridge open in #inc-checkout; paging payments and SRE.")));
    if let Some(r) = &second {
        b.at(at(ack + 3), MAYA, EventBody::RoleAssigned { role: r.clone(), holder: SAM.name.into() });
    }
    if let Some(r) = &scribe {
        b.at(at(ack + 3), MAYA, EventBody::RoleAssigned { role: r.clone(), holder: JONAS.name.into() });
    }
    if let Some(t) = first_ticks.next() {
        b.at(at(ack + 3), SAM, t);
    }
    b.at(at(ack + 4), MAYA, EventBody::StatusChanged { status: Status::Investigating });
    b.at(
        at(ack + 4),
        JONAS,
        EventBody::CommsSent {
            channel: "internal".into(),
            text: "We are investigating elevated checkout errors in EU (SEV-2). Next update in 30 min."
                .into(),
            template: None,
        },
    );
    b.at(
        at(ack + 5),
        SAM,
        EventBody::Finding(tagged(
            &format!("5xx started {} UTC, only eu-west-1; us-east-1 clean.", hhmm(start, 4)),
            &["investigation"],
        )),
    );
    b.at(
        at(ack + 6),
        PRIYA,
        EventBody::Finding(entry(&format!(
            "checkout-api v2.41.0 rolled out to eu-west-1 at {} UTC.",
            hhmm(start, 6)
        ))),
    );
    if let Some(t) = first_ticks.next() {
        b.at(at(ack + 6), JONAS, t);
    }
    b.at(
        at(ack + 7),
        PRIYA,
        EventBody::Note(tagged(
            "About 7% of EU checkouts failing since the release; card payments retried by users.",
            &["customer_impact"],
        )),
    );
    b.at(
        at(ack + 7),
        JONAS,
        EventBody::CommsSent {
            channel: "status-page".into(),
            text: "Investigating: some card payments in Europe fail. We are working on it.".into(),
            template: None,
        },
    );
    b.at(
        at(ack + 8),
        SAM,
        EventBody::Finding(tagged("Canary stage skipped for config-only changes.", &["contributing"])),
    );
    b.at(at(ack + 9), MAYA, EventBody::Decision(entry("Roll back checkout-api to v2.40.3 in eu-west-1.")));
    b.at(
        at(ack + 9),
        JONAS,
        EventBody::Action(entry("Sam started the rollback through the deploy pipeline.")),
    );
    if let Some(t) = first_ticks.next() {
        b.at(at(ack + 10), JONAS, t);
    }
    let note = b.at(
        at(ack + 12),
        SAM,
        EventBody::Note(entry("Error rate down to 2% after rollback of 2 of 6 pods.")),
    );
    b.at(
        at(ack + 13),
        SAM,
        EventBody::Finding(tagged(
            "Root cause: v2.41.0 halved the DB connection pool (config typo: 25 instead of 50).",
            &["root_cause"],
        )),
    );
    b.at(at(ack + 13), MAYA, EventBody::StatusChanged { status: Status::Identified });
    b.at(
        at(ack + 14),
        JONAS,
        EventBody::Correction {
            target: note,
            text: "Error rate down to 2.5% (not 2%) after 2 of 6 pods.".into(),
        },
    );
    if let Some(t) = second_ticks.next() {
        b.at(at(ack + 14), SAM, t);
    }
    let item = b.at(
        at(ack + 15),
        JONAS,
        EventBody::ActionItemAdded {
            text: "Validate pool sizes in config CI".into(),
            owner: Some(SAM.name.into()),
            due: Some((now + Duration::days(7)).date_naive()),
            priority: Priority::High,
        },
    );
    b.at(
        at(ack + 15),
        JONAS,
        EventBody::ActionItemAdded {
            text: "Alert on DB pool saturation before errors".into(),
            owner: None,
            due: None,
            priority: Priority::Medium,
        },
    );
    b.at(
        at(ack + 16),
        JONAS,
        EventBody::CommsSent {
            channel: "status-page".into(),
            text: "Identified: a faulty release caused checkout errors in EU. A rollback is in progress."
                .into(),
            template: None,
        },
    );
    if let Some(t) = second_ticks.next() {
        b.at(at(ack + 17), PRIYA, t);
    }
    b.at(
        at(ack + 17),
        JONAS,
        EventBody::ActionItemUpdated {
            item,
            text: None,
            owner: Some(PRIYA.name.into()),
            due: None,
            priority: None,
            done: None,
        },
    );
    b.at(
        at(ack + 19),
        JONAS,
        EventBody::Action(entry("Rollback complete on all 6 pods; watching error rate.")),
    );
    b.at(
        at(ack + 21),
        SAM,
        EventBody::Note(tagged("Error rate 0.6% and falling. Holding before mitigated.", &["impact"])),
    );
    // Nothing after now (the last entry a minute ago at the latest).
    let latest = now - Duration::minutes(1);
    for (_, e) in &mut b.events {
        e.occurred_at = e.occurred_at.min(latest);
    }
    DemoIncident { declared_by: ALERTMANAGER, declare, events: b.events }
}

/// How long ago yesterday's incident was declared (so it was resolved about 20 hours ago: its
/// initial report is due within the post-mortem's first day).
pub const RESOLVED_HOURS_AGO: i64 = 21;

/// A SEV-3 from yesterday, resolved within the hour, with everything a post-mortem draws on:
/// Lena (search on-call) declares, Alertmanager attaches the alert, Dmitri commands; findings
/// tagged root cause and contributing factor, impact, what went well and what to improve, a
/// lesson, an internal update and the resolution notice, action items with owners and dates.
pub fn resolved_incident(now: DateTime<Utc>, p: &Practice) -> DemoIncident {
    let start = now - Duration::hours(RESOLVED_HOURS_AGO);
    let declare = NewEvent::at(
        start,
        EventBody::Declared {
            title: "Search latency p99 over 2 s".into(),
            severity: severity(p, 2),
            summary: "Slow search results for some users while an index rebuild ran at peak hours.".into(),
            group_key: None,
            demo: true,
        },
    );
    let mut b = Builder { now: start, events: Vec::new() };
    let at = |m: i64| -m; // minutes after the start
    let (commander, second, _) = roles(p);
    let mut first_ticks = ticks(p, 0, 4).into_iter();
    let last = p.incident_checklists().len().saturating_sub(1);
    let mut last_ticks = ticks(p, last, 3).into_iter();
    b.at(
        at(1),
        ALERTMANAGER,
        EventBody::AlertAttached(AlertInfo {
            source: "alertmanager".into(),
            fingerprint: "5ea2c41a77e0b9d1".into(),
            name: "SearchLatencyHigh".into(),
            status: "firing".into(),
            summary: Some("search-api p99 2.4 s > 2 s for 10m".into()),
            starts_at: Some(start - Duration::minutes(10)),
            ends_at: None,
            url: Some("https://grafana.example.com/d/search".into()),
            runbook: None,
            labels: [("service", "search-api"), ("severity", "warning")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }),
    );
    b.at(at(3), DMITRI, EventBody::StatusChanged { status: Status::Acknowledged });
    b.at(at(3), DMITRI, EventBody::RoleAssigned { role: commander, holder: DMITRI.name.into() });
    if let Some(r) = &second {
        b.at(at(4), DMITRI, EventBody::RoleAssigned { role: r.clone(), holder: LENA.name.into() });
    }
    for t in first_ticks.by_ref().take(2) {
        b.at(at(4), LENA, t);
    }
    b.at(at(6), DMITRI, EventBody::StatusChanged { status: Status::Investigating });
    b.at(
        at(8),
        LENA,
        EventBody::Finding(tagged(
            &format!(
                "p99 rose from 300 ms to 2.4 s at {} UTC; CPU on the search nodes at 95%.",
                hhmm(start, 12)
            ),
            &["investigation"],
        )),
    );
    for t in first_ticks {
        b.at(at(9), LENA, t);
    }
    b.at(
        at(10),
        LENA,
        EventBody::Finding(tagged(
            "The search index rebuild was running during peak hours.",
            &["root_cause"],
        )),
    );
    b.at(
        at(11),
        LENA,
        EventBody::Finding(tagged(
            "The rebuild job moved to a UTC schedule last week without checking peak hours.",
            &["contributing"],
        )),
    );
    b.at(at(12), DMITRI, EventBody::StatusChanged { status: Status::Identified });
    b.at(
        at(13),
        DMITRI,
        EventBody::CommsSent {
            channel: "internal".into(),
            text: "Search is slow for some users; cause found (index rebuild), mitigation under way. \
                   Next update in 30 min."
                .into(),
            template: None,
        },
    );
    b.at(at(14), DMITRI, EventBody::Decision(entry("Pause the rebuild until tonight.")));
    b.at(at(15), DMITRI, EventBody::Action(entry("Lena paused the index rebuild job.")));
    b.at(at(18), DMITRI, EventBody::StatusChanged { status: Status::Mitigated });
    b.at(
        at(20),
        LENA,
        EventBody::Note(tagged(
            &format!(
                "About 15% of searches took over 2 s between {} and {} UTC; no errors.",
                hhmm(start, 12),
                hhmm(start, -18)
            ),
            &["customer_impact"],
        )),
    );
    b.at(
        at(25),
        LENA,
        EventBody::Note(tagged("p99 back to 300 ms 7 minutes after pausing the rebuild.", &["went_well"])),
    );
    b.at(
        at(27),
        DMITRI,
        EventBody::Note(tagged(
            "The alert fired 10 minutes after latency rose: threshold too lax.",
            &["improve"],
        )),
    );
    b.at(
        at(28),
        DMITRI,
        EventBody::ActionItemAdded {
            text: "Schedule index rebuilds off-peak".into(),
            owner: Some(LENA.name.into()),
            due: Some((start + Duration::days(7)).date_naive()),
            priority: Priority::High,
        },
    );
    b.at(
        at(29),
        DMITRI,
        EventBody::ActionItemAdded {
            text: "Alert on search p99 over 1 s for 5 minutes".into(),
            owner: Some(DMITRI.name.into()),
            due: Some((start + Duration::days(14)).date_naive()),
            priority: Priority::Medium,
        },
    );
    b.at(
        at(30),
        DMITRI,
        EventBody::Note(tagged("No revenue lost: searches were slow, none failed.", &["revenue_impact"])),
    );
    b.at(at(30), DMITRI, EventBody::Note(tagged("No data lost or corrupted.", &["data_impact"])));
    for t in last_ticks.by_ref() {
        b.at(at(35), LENA, t);
    }
    b.at(at(40), DMITRI, EventBody::Note(tagged("Background jobs need a peak-hours guard.", &["lesson"])));
    b.at(
        at(45),
        DMITRI,
        EventBody::CommsSent {
            channel: "internal".into(),
            text: format!(
                "Resolved: search latency is back to normal since {} UTC. Cause: an index rebuild \
                 during peak hours. A post-mortem will follow.",
                hhmm(start, -25)
            ),
            template: None,
        },
    );
    b.at(at(52), DMITRI, EventBody::StatusChanged { status: Status::Resolved });
    DemoIncident { declared_by: LENA, declare, events: b.events }
}

/// Both demo incidents, the resolved one first.
pub fn demo_incidents(now: DateTime<Utc>, p: &Practice) -> Vec<DemoIncident> {
    vec![resolved_incident(now, p), running_incident(now, p)]
}

/// Who appends for each persona: a client with the persona's own token, or the caller's.
struct Voices<'a> {
    caller: &'a ApiClient,
    own: BTreeMap<&'static str, ApiClient>,
}

impl Voices<'_> {
    fn of(&self, p: Persona) -> &ApiClient {
        self.own.get(p.name).unwrap_or(self.caller)
    }
}

/// Submits the demo incidents to the server; returns the new incident ids.
///
/// With `store` (the server's own database: the embedded server, or on the server host), each
/// persona gets a token of its own for the load, so the server records them as the authors;
/// the tokens are revoked when the load ends. A persona whose name an active token already
/// has speaks through `client`. Without `store`, every event goes through `client`, whose
/// token then needs the commander role.
pub async fn load(client: &ApiClient, store: Option<&dyn Store>) -> anyhow::Result<Vec<String>> {
    let practice = client.practice().await?;
    let mut incidents = demo_incidents(Utc::now(), &practice);
    let Some(store) = store else {
        // The caller says everything: what only the server records (the escalation) is left
        // out unless the token is an admin's; the rest needs a commander's.
        let me = client.me().await?;
        if me.role < Role::Commander {
            anyhow::bail!(
                "the demo needs a commander or admin token on this server (`{}` is a {})",
                me.name,
                me.role
            );
        }
        for inc in &mut incidents {
            inc.events.retain(|(_, e)| me.role.may_append(&e.body));
        }
        return submit(&incidents, &Voices { caller: client, own: BTreeMap::new() }).await;
    };
    let mut everyone: Vec<Persona> = incidents.iter().flat_map(DemoIncident::personas).collect();
    everyone.sort();
    everyone.dedup();
    let mut secrets = Vec::new();
    // What to revoke afterwards: the token's id, or its name (unique among active tokens).
    let mut made = Vec::new();
    for p in everyone {
        match crate::server::tokens::create(store, p.name, p.role).await {
            Ok(secret) => {
                made.push(match store.find_token(hash_secret(&secret)).await {
                    Ok(Some(t)) => t.id.to_string(),
                    _ => p.name.to_string(),
                });
                secrets.push((p, secret));
            }
            Err(e) => tracing::info!("demo: {} speaks through the caller's token: {e:#}", p.name),
        }
    }
    let loaded = async {
        let mut voices = Voices { caller: client, own: BTreeMap::new() };
        for (p, secret) in secrets {
            voices.own.insert(p.name, ApiClient::new(&[client.base().to_string()], Some(secret))?);
        }
        submit(&incidents, &voices).await
    }
    .await;
    for t in made {
        if let Err(e) = store.revoke_token(&t).await {
            tracing::warn!("demo: cannot revoke the persona token {t}: {e}");
        }
    }
    loaded
}

/// Removes every demo incident of the server that is not removed yet (one `demo_removed`
/// event each, which needs a commander's token); returns their ids.
pub async fn remove(client: &ApiClient) -> anyhow::Result<Vec<String>> {
    let list = client.all_incidents().await?;
    let mut removed = Vec::new();
    for inc in list.incidents.iter().filter(|i| i.demo && !i.is_removed()) {
        client
            .append(&inc.id, vec![NewEvent::now(EventBody::DemoRemoved {})], None)
            .await
            .with_context(|| format!("removing {}", inc.id))?;
        removed.push(inc.id.clone());
    }
    // In the order they were declared.
    removed.sort_by_key(|id| (id.len(), id.clone()));
    Ok(removed)
}

/// Declares each incident and appends its events in order, each run of one persona's events
/// in one batch.
async fn submit(incidents: &[DemoIncident], voices: &Voices<'_>) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for inc in incidents {
        let declared = voices.of(inc.declared_by).declare(&inc.declare).await?;
        let id = declared.incident;
        let mut rest = inc.events.as_slice();
        while let Some((by, _)) = rest.first() {
            let n = rest.iter().take_while(|(p, _)| p == by).count();
            let batch: Vec<NewEvent> = rest[..n].iter().map(|(_, e)| e.clone()).collect();
            voices
                .of(*by)
                .append(&id, batch, None)
                .await
                .with_context(|| format!("loading {id} as {}", by.name))?;
            rest = &rest[n..];
        }
        ids.push(id);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Event, EventKind, fold};

    fn recorded(id: &str, inc: &DemoIncident) -> Vec<Event> {
        std::iter::once((&inc.declared_by, &inc.declare))
            .chain(inc.events.iter().map(|(p, e)| (p, e)))
            .enumerate()
            .map(|(i, (by, e))| Event {
                seq: i as u64 + 1,
                id: e.id,
                incident: id.to_string(),
                author: by.name.into(),
                occurred_at: e.occurred_at,
                recorded_at: e.occurred_at,
                body: e.body.clone(),
            })
            .collect()
    }

    #[test]
    fn the_running_incident_folds_and_covers_every_kind_but_a_few() {
        let p = crate::assets::load_practice(None, None).unwrap();
        let now = Utc::now();
        let inc = running_incident(now, &p);
        let mut events = recorded("INC-1", &inc);
        for e in &mut events {
            p.check_event(&mut e.body).unwrap();
        }
        let state = fold(&events).unwrap();
        assert!(state.is_open());
        assert_eq!(state.severity, p.scheme().levels[1].id);
        assert_eq!(state.commander(), Some(MAYA.name));
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
        assert!(kinds.contains(&EventKind::Escalated), "the server escalated before anyone acknowledged");
        assert!(events.windows(2).all(|w| w[0].occurred_at <= w[1].occurred_at));
    }

    /// What makes replay, timers and the report meaningful: a history spread over the
    /// incident's life, nothing before its declaration and nothing in the future.
    #[test]
    fn demo_times_tell_a_history_and_stay_between_declaration_and_now() {
        for scheme in ["sev", "p"] {
            let p = crate::assets::load_practice(None, Some(scheme)).unwrap();
            let now = Utc::now();
            for inc in demo_incidents(now, &p) {
                let declared = inc.declare.occurred_at;
                for (_, e) in &inc.events {
                    assert!(e.occurred_at >= declared, "{scheme}: {} before the declaration", e.body.kind());
                    assert!(e.occurred_at < now, "{scheme}: {} in the future", e.body.kind());
                }
                let last = inc.events.iter().map(|(_, e)| e.occurred_at).max().unwrap();
                assert!(last - declared >= Duration::minutes(35), "{scheme}: spread over the incident");
            }
        }
        let p = crate::assets::load_practice(None, None).unwrap();
        let now = Utc::now();
        let running = running_incident(now, &p);
        assert_eq!(now - running.declare.occurred_at, Duration::minutes(RUNNING_FOR_MINUTES));
        let state = fold(&recorded("INC-1", &running)).unwrap();
        let scheme = p.scheme();
        // Acknowledged after the escalation, within the response target: met.
        let t = crate::domain::timers::timers(scheme, &state, now);
        assert!(matches!(t.response, crate::domain::timers::TimerState::Met { .. }), "{:?}", t.response);
        let ack = state.acknowledged_at.unwrap() - state.declared_at;
        assert!(ack > Duration::minutes(15) && ack < Duration::minutes(30), "{ack}");
        // Status updates within the level's cadence, the next one still ahead.
        let every = Duration::minutes(i64::from(
            scheme.level(&state.severity).unwrap().update_every_minutes.unwrap(),
        ));
        let mut comms: Vec<_> = running
            .events
            .iter()
            .filter(|(_, e)| e.body.kind() == EventKind::CommsSent)
            .map(|(_, e)| e.occurred_at)
            .collect();
        comms.insert(0, state.declared_at);
        assert!(comms.len() >= 3);
        assert!(comms.windows(2).all(|w| w[1] - w[0] <= every), "{comms:?}");
        assert!(t.update.is_due(), "{:?}", t.update);
        // Yesterday's: resolved about 20 hours ago, its first post-mortem deadline still ahead.
        let resolved = fold(&recorded("INC-2", &resolved_incident(now, &p))).unwrap();
        let deadlines = crate::domain::timers::postmortem_deadlines(scheme, &resolved, now);
        assert!(deadlines[0].state.is_due(), "{:?}", deadlines[0]);
    }

    #[test]
    fn the_resolved_incident_has_everything_a_post_mortem_draws_on() {
        let p = crate::assets::load_practice(None, None).unwrap();
        let inc = resolved_incident(Utc::now(), &p);
        let events = recorded("INC-2", &inc);
        let state = fold(&events).unwrap();
        let doc = crate::domain::postmortem::render(&p, &state, &events);
        assert!(doc.starts_with(crate::domain::postmortem::DEMO_NOTE), "{doc}");
        for empty in ["Not recorded.", "not recorded yet", "Nothing recorded yet.", "nobody"] {
            let before_checklists = doc.split("## Checklists").next().unwrap();
            let team =
                before_checklists.split("## Response Team").nth(1).unwrap().split("##").next().unwrap();
            let rest = before_checklists.replace(team, "");
            assert!(!rest.contains(empty), "`{empty}` in:\n{doc}");
        }
        assert!(state.demo);
    }

    #[test]
    fn every_persona_may_say_what_it_says_in_either_scheme() {
        for scheme in ["sev", "p"] {
            let p = crate::assets::load_practice(None, Some(scheme)).unwrap();
            for inc in demo_incidents(Utc::now(), &p) {
                assert!(inc.declared_by.role.may_append(&inc.declare.body));
                for (by, e) in &inc.events {
                    assert!(by.role.may_append(&e.body), "{} may not append {}", by.name, e.body.kind());
                }
                assert!(inc.personas().len() >= 3, "{:?}", inc.personas());
                let state = fold(&recorded("INC-1", &inc)).unwrap();
                let ic = state.commander().unwrap().to_string();
                assert!(inc.personas().iter().any(|p| p.name == ic && p.role >= Role::Commander), "{ic}");
            }
        }
    }

    #[test]
    fn the_resolved_incident_is_resolved() {
        let p = crate::assets::load_practice(None, None).unwrap();
        let state = fold(&recorded("INC-2", &resolved_incident(Utc::now(), &p))).unwrap();
        assert_eq!(state.status, Status::Resolved);
    }
}
