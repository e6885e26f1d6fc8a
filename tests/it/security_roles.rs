//! The role matrix, cell by cell, through the real server: each of the five roles against
//! every event kind (`declared` through `POST /incidents`, the others through
//! `POST /incidents/{id}/events`), the Alertmanager webhook, and every read. An allowed cell
//! must answer 2xx and record the event under the token's name; a refused one must answer 403
//! JSON `forbidden` and record nothing. Token management has no HTTP endpoint (it is
//! `warroom token ...` on the server host), which the last test pins down.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::server_support::{Srv, expect_error, options, start};
use warroom::api::{AppendResponse, IncidentSnapshot, Role};
use warroom::domain::{EventBody, EventKind, NewEvent, Practice, Status};
use warroom::server::Limits;

fn practice() -> Practice {
    warroom::assets::load_practice(None, None).unwrap()
}

fn declared(title: &str) -> NewEvent {
    let sev = practice().scheme().levels[1].id.clone();
    NewEvent::now(EventBody::Declared {
        title: title.into(),
        severity: sev,
        summary: String::new(),
        group_key: None,
        demo: false,
    })
}

/// What an admin appends first so that an event of `kind` is valid (a role to release, an
/// action item to update, an entry to correct).
fn setup(kind: EventKind, p: &Practice) -> Option<NewEvent> {
    let role = p.roles()[0].id.clone();
    match kind {
        EventKind::RoleReleased => {
            Some(NewEvent::now(EventBody::RoleAssigned { role, holder: "ana".into() }))
        }
        EventKind::ActionItemUpdated => Some(NewEvent::now(EventBody::ActionItemAdded {
            text: "fix the pool".into(),
            owner: None,
            due: None,
            priority: Default::default(),
        })),
        EventKind::Correction => Some(NewEvent::now(EventBody::entry(EventKind::Note, "typo").unwrap())),
        _ => None,
    }
}

/// A valid event of `kind` for a fresh incident (after `setup`, whose recorded id is `prior`).
fn event_of(kind: EventKind, p: &Practice, prior: Option<Uuid>) -> NewEvent {
    let role = p.roles()[0].id.clone();
    let checklist = p.incident_checklists()[0];
    let body = match kind {
        EventKind::Declared => unreachable!("declared goes through POST /incidents"),
        EventKind::SeverityChanged => {
            EventBody::SeverityChanged { severity: p.scheme().levels[0].id.clone() }
        }
        EventKind::StatusChanged => EventBody::StatusChanged { status: Status::Acknowledged },
        EventKind::TitleChanged => EventBody::TitleChanged { title: "Checkout slow".into() },
        EventKind::RoleAssigned => EventBody::RoleAssigned { role, holder: "ben".into() },
        EventKind::RoleReleased => EventBody::RoleReleased { role, holder: Some("ana".into()) },
        EventKind::ChecklistItemSet => EventBody::ChecklistItemSet {
            checklist: checklist.id.clone(),
            item: checklist.items[0].id.clone(),
            done: true,
        },
        EventKind::PlaybookAttached => EventBody::PlaybookAttached { playbook: p.playbooks[0].id.clone() },
        EventKind::Note | EventKind::Finding | EventKind::Action | EventKind::Decision => {
            EventBody::entry(kind, format!("a {kind}")).unwrap()
        }
        EventKind::CommsSent => EventBody::CommsSent {
            channel: "status-page".into(),
            text: "We are on it.".into(),
            template: None,
        },
        EventKind::AlertAttached => EventBody::AlertAttached(warroom::domain::AlertInfo {
            source: "script".into(),
            fingerprint: "abc123".into(),
            name: "HighLatency".into(),
            status: "firing".into(),
            summary: None,
            starts_at: None,
            ends_at: None,
            url: None,
            runbook: None,
            labels: Default::default(),
        }),
        EventKind::ActionItemAdded => EventBody::ActionItemAdded {
            text: "add an alert".into(),
            owner: Some("ana".into()),
            due: None,
            priority: Default::default(),
        },
        EventKind::ActionItemUpdated => EventBody::ActionItemUpdated {
            item: prior.unwrap(),
            text: None,
            owner: None,
            due: None,
            priority: None,
            done: Some(true),
        },
        EventKind::Correction => EventBody::Correction { target: prior.unwrap(), text: "no typo".into() },
        EventKind::Delivery => EventBody::Delivery {
            target: "ops-slack".into(),
            ok: true,
            about: "comms_sent".into(),
            status: Some(200),
            error: String::new(),
            attempt: 1,
            retry_in_secs: None,
            gave_up: false,
            cause: None,
        },
        EventKind::Escalated => EventBody::Escalated { level: "L2".into(), who: "Team lead".into() },
        // On a demo incident (see `declare_as_admin`).
        EventKind::DemoRemoved => EventBody::DemoRemoved {},
    };
    NewEvent::now(body)
}

/// The matrix as the issue and the README state it, written out here on its own (not read from
/// `Role::required_for`) so that a change to the server's rules fails this test.
fn least_role(kind: EventKind) -> Role {
    use EventKind::*;
    match kind {
        // Responders declare, add notes, findings, checklist ticks and alerts.
        Declared | Note | Finding | ChecklistItemSet | AlertAttached => Role::Responder,
        // Scribes add any timeline entry, comms, action items, playbooks, titles, corrections.
        Action | Decision | CommsSent | TitleChanged | ActionItemAdded | ActionItemUpdated
        | PlaybookAttached | Correction => Role::Scribe,
        // Commanders change severity, status (closing included) and roles.
        SeverityChanged | StatusChanged | RoleAssigned | RoleReleased => Role::Commander,
        // Commanders take demo incidents away (`warroom demo --remove`).
        DemoRemoved => Role::Commander,
        // Only the server records notification outcomes and escalations (as admin).
        Delivery | Escalated => Role::Admin,
    }
}

async fn snapshot(s: &Srv, id: &str) -> IncidentSnapshot {
    let res = s.get(&format!("/api/v1/incidents/{id}?events=true"), s.token(Role::Admin)).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn declare_as_admin(s: &Srv, title: &str) -> String {
    declare_for(s, title, EventKind::Note).await
}

/// Declares an incident as admin for an event of `kind`: a demo incident for `demo_removed`,
/// the only kind it takes.
async fn declare_for(s: &Srv, title: &str, kind: EventKind) -> String {
    let mut event = declared(title);
    if let EventBody::Declared { demo, .. } = &mut event.body {
        *demo = kind == EventKind::DemoRemoved;
    }
    let res = s.post("/api/v1/incidents", s.token(Role::Admin), &json!(event)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<AppendResponse>().await.unwrap().incident
}

/// Checks one allowed-or-refused answer; returns whether it was allowed.
async fn check_cell(res: reqwest::Response, allowed: bool, cell: &str) -> Option<AppendResponse> {
    if allowed {
        assert!(
            res.status().is_success(),
            "{cell}: expected 2xx, got {} {}",
            res.status(),
            res.text().await.unwrap()
        );
        Some(res.json().await.unwrap())
    } else {
        let body = expect_error(res, StatusCode::FORBIDDEN, "forbidden").await;
        assert!(body.message.contains("may not"), "{cell}: {}", body.message);
        None
    }
}

#[tokio::test]
async fn every_role_against_every_event_kind() {
    let s = start(options(Limits::unlimited())).await;
    let p = practice();
    let mut cells = 0;
    for kind in EventKind::ALL {
        for role in Role::ALL {
            let allowed = role >= least_role(kind);
            assert_eq!(least_role(kind), Role::required_for(kind), "{kind}");
            let cell = format!("{role} x {kind}");
            cells += 1;
            if kind == EventKind::Declared {
                let event = declared(&cell);
                let res = s.post("/api/v1/incidents", s.token(role), &json!(event)).await;
                if let Some(done) = check_cell(res, allowed, &cell).await {
                    assert_eq!(done.events[0].author, role.as_str());
                    assert_eq!(done.events[0].id, event.id);
                } else {
                    let list = s.get("/api/v1/incidents?status=all", s.token(Role::Admin)).await;
                    let list: Value = list.json().await.unwrap();
                    let titles: Vec<&str> = list["incidents"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|i| i["title"].as_str().unwrap())
                        .collect();
                    assert!(!titles.contains(&cell.as_str()), "{cell}: a refused declare opened an incident");
                }
                continue;
            }
            let id = declare_for(&s, &cell, kind).await;
            let mut prior = None;
            if let Some(first) = setup(kind, &p) {
                let res = s
                    .post(&format!("/api/v1/incidents/{id}/events"), s.token(Role::Admin), &json!(first))
                    .await;
                assert_eq!(res.status(), StatusCode::OK, "{cell}: setup");
                prior = Some(first.id);
            }
            let before = snapshot(&s, &id).await;
            let event = event_of(kind, &p, prior);
            let res = s.post(&format!("/api/v1/incidents/{id}/events"), s.token(role), &json!(event)).await;
            let after = snapshot(&s, &id).await;
            match check_cell(res, allowed, &cell).await {
                Some(done) => {
                    assert_eq!(done.events.len(), 1);
                    assert_eq!(done.events[0].id, event.id);
                    assert_eq!(
                        done.events[0].author,
                        role.as_str(),
                        "{cell}: the author is the token's name"
                    );
                    assert_eq!(done.events[0].body.kind(), kind);
                    assert_eq!(after.incident.revision, before.incident.revision + 1, "{cell}");
                }
                None => {
                    assert_eq!(
                        after.incident, before.incident,
                        "{cell}: a refused event changed the incident"
                    );
                    assert_eq!(after.events, before.events, "{cell}: a refused event was recorded");
                }
            }
        }
    }
    // A batch is all or nothing: one forbidden event refuses the whole batch.
    let id = declare_as_admin(&s, "batch").await;
    let before = snapshot(&s, &id).await;
    let batch = json!({ "events": [
        NewEvent::now(EventBody::entry(EventKind::Note, "fine for a responder").unwrap()),
        event_of(EventKind::SeverityChanged, &p, None),
    ]});
    let res = s.post(&format!("/api/v1/incidents/{id}/events"), s.token(Role::Responder), &batch).await;
    expect_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(snapshot(&s, &id).await.events, before.events);
    assert_eq!(cells, 100);
    println!("role matrix: {cells} event-kind cells");
    s.shutdown().await;
}

fn webhook(group: &str) -> Value {
    json!({
        "version": "4",
        "groupKey": group,
        "status": "firing",
        "receiver": "warroom",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency", "severity": "critical"},
        "commonAnnotations": {"summary": "p99 over 2 s"},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "HighLatency", "severity": "critical"},
            "annotations": {"summary": "p99 over 2 s"},
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": format!("fp-{group}")
        }]
    })
}

#[tokio::test]
async fn every_role_against_the_alertmanager_webhook() {
    let s = start(options(Limits::unlimited())).await;
    for role in Role::ALL {
        let group = format!("{{}}:{{alertname=\"HighLatency\",role=\"{role}\"}}");
        let res = s.post("/api/v1/integrations/alertmanager", s.token(role), &webhook(&group)).await;
        let cell = format!("{role} x alertmanager");
        match check_cell(res, role >= Role::Responder, &cell).await {
            Some(done) => {
                assert!(done.events.iter().all(|e| e.author == role.as_str()), "{cell}");
                assert!(done.events.iter().any(|e| e.body.kind() == EventKind::AlertAttached), "{cell}");
            }
            None => {
                let list: Value =
                    s.get("/api/v1/incidents?status=all", s.token(Role::Admin)).await.json().await.unwrap();
                let opened =
                    list["incidents"].as_array().unwrap().iter().any(|i| i["group_key"] == json!(group));
                assert!(!opened, "{cell}: a refused webhook opened an incident");
            }
        }
    }
    s.shutdown().await;
}

#[tokio::test]
async fn every_role_reads_everything_and_nobody_reads_without_a_token() {
    let s = start(options(Limits::unlimited())).await;
    let id = declare_as_admin(&s, "reads").await;
    let reads = [
        "/api/v1/me".to_string(),
        "/api/v1/practice".to_string(),
        "/api/v1/incidents".to_string(),
        format!("/api/v1/incidents/{id}"),
        format!("/api/v1/incidents/{id}?events=true"),
        format!("/api/v1/incidents/{id}/postmortem.md"),
        "/api/v1/events?after=0".to_string(),
        "/api/v1/stream".to_string(),
        "/api/v1/openapi.json".to_string(),
    ];
    let mut cells = 0;
    for path in &reads {
        for role in Role::ALL {
            cells += 1;
            let res = s.get(path, s.token(role)).await;
            assert_eq!(res.status(), StatusCode::OK, "{role} GET {path}");
            if path.ends_with("/stream") {
                // Stream: the first bytes are the hello comment; then the client leaves.
                let mut res = res;
                let chunk = res.chunk().await.unwrap().unwrap();
                assert!(String::from_utf8_lossy(&chunk).contains(": connected"));
            } else if path.ends_with("/me") {
                let me: Value = res.json().await.unwrap();
                assert_eq!(me["role"], json!(role.as_str()));
            }
        }
        let res = s.req(Method::GET, path, None).send().await.unwrap();
        expect_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let res = s.req(Method::GET, path, Some("wr_not-a-token")).send().await.unwrap();
        expect_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // Health needs no token.
    assert_eq!(s.req(Method::GET, "/healthz", None).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(cells, 45);
    println!("role matrix: {cells} read cells");
    s.shutdown().await;
}

#[tokio::test]
async fn writes_without_a_valid_token_are_refused_and_only_admins_manage_tokens() {
    let s = start(options(Limits::unlimited())).await;
    let id = declare_as_admin(&s, "no token").await;
    let note = json!(NewEvent::now(EventBody::entry(EventKind::Note, "x").unwrap()));
    for path in ["/api/v1/incidents".to_string(), format!("/api/v1/incidents/{id}/events")] {
        let body = if path.ends_with("events") { note.clone() } else { json!(declared("anon")) };
        let res = s.req(Method::POST, &path, None).json(&body).send().await.unwrap();
        expect_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // A revoked token is refused at once.
    warroom::server::tokens::revoke(&*s.store, "scribe").await.unwrap();
    let res = s.post(&format!("/api/v1/incidents/{id}/events"), s.token(Role::Scribe), &note).await;
    let body = expect_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(body.message.contains("revoked"));
    // Token management over HTTP is for admins only (#13); every other role is refused (the
    // scribe's token is revoked above).
    for role in [Role::Viewer, Role::Responder, Role::Commander] {
        let res = s.req(Method::GET, "/api/v1/tokens", Some(s.token(role))).send().await.unwrap();
        expect_error(res, StatusCode::FORBIDDEN, "forbidden").await;
        let res = s.post("/api/v1/tokens", s.token(role), &json!({"name": "x", "role": "admin"})).await;
        expect_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    s.shutdown().await;
}
