//! Alerts in and documents out, through the real server on 127.0.0.1:0: Alertmanager's webhook
//! (real-format payloads, retries, resolved groups) and the post-mortem Markdown endpoint.

use reqwest::StatusCode;
use serde_json::Value;

use warroom::api::{AppendResponse, IncidentSnapshot, Role};
use warroom::domain::{EventBody, EventKind, NewEvent};
use warroom::server::{AlertmanagerConfig, ServeOptions};

use crate::server_support;

const FIRING: &str = include_str!("fixtures/alertmanager-firing.json");

/// The shared test server with the Alertmanager bot's token and a viewer's.
struct Srv {
    srv: server_support::Srv,
    responder: String,
    viewer: String,
}

impl std::ops::Deref for Srv {
    type Target = server_support::Srv;
    fn deref(&self) -> &server_support::Srv {
        &self.srv
    }
}

async fn server() -> Srv {
    let mut alertmanager = AlertmanagerConfig::default();
    alertmanager.runbooks.insert("DBConnectionErrors".into(), "database-performance".into());
    let opts = ServeOptions {
        listen: "127.0.0.1:0".into(),
        practice: warroom::assets::load_practice(None, None).unwrap(),
        alertmanager,
        ..Default::default()
    };
    let tokens = [("alertmanager", Role::Responder), ("watcher", Role::Viewer)];
    let srv = server_support::start_with(opts, "w.db", &tokens).await;
    Srv { responder: srv.token(Role::Responder).into(), viewer: srv.token(Role::Viewer).into(), srv }
}

impl Srv {
    async fn hook(&self, token: &str, body: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/api/v1/integrations/alertmanager", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    async fn snapshot(&self, id: &str) -> IncidentSnapshot {
        let r = self
            .http
            .get(format!("{}/api/v1/incidents/{id}?events=true", self.base))
            .bearer_auth(&self.viewer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }
}

fn resolved(payload: &str) -> String {
    let mut v: Value = serde_json::from_str(payload).unwrap();
    v["status"] = "resolved".into();
    for a in v["alerts"].as_array_mut().unwrap() {
        a["status"] = "resolved".into();
        a["endsAt"] = "2026-11-20T14:40:00Z".into();
    }
    v.to_string()
}

#[tokio::test]
async fn a_firing_group_opens_one_incident_and_retries_add_nothing() {
    let s = server().await;
    let r = s.hook(&s.responder, FIRING).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let first: AppendResponse = r.json().await.unwrap();
    assert_eq!(first.incident, "INC-1");
    let snap = s.snapshot("INC-1").await;
    let inc = &snap.incident;
    assert_eq!(inc.severity, "SEV-1", "the most severe label (critical) maps to SEV-1");
    assert_eq!(inc.alerts.len(), 2);
    assert_eq!(
        inc.playbooks,
        vec!["database-performance".to_string()],
        "runbook mapping attached the playbook"
    );
    assert!(inc.group_key.as_deref().unwrap().contains("checkout"));
    let n = snap.events.unwrap().len();

    // Alertmanager retries the same notification: nothing new, same incident.
    let r = s.hook(&s.responder, FIRING).await;
    assert_eq!(r.status(), StatusCode::OK);
    let again: AppendResponse = r.json().await.unwrap();
    assert_eq!(again.incident, "INC-1");
    assert_eq!(s.snapshot("INC-1").await.events.unwrap().len(), n, "a retry adds no event");

    // The group resolves: recorded on the same incident, which stays open.
    let r = s.hook(&s.responder, &resolved(FIRING)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let snap = s.snapshot("INC-1").await;
    assert!(snap.incident.is_open(), "resolved alerts never resolve the incident");
    assert!(snap.incident.alerts.values().all(|a| a.status == "resolved"));
    let events = snap.events.unwrap();
    assert_eq!(events.len(), n + 2);
    assert!(events[n..].iter().all(|e| e.kind() == EventKind::AlertAttached));
    // And its retry adds nothing either.
    s.hook(&s.responder, &resolved(FIRING)).await;
    assert_eq!(s.snapshot("INC-1").await.events.unwrap().len(), n + 2);
    s.srv.shutdown().await;
}

#[tokio::test]
async fn a_resolved_group_without_an_incident_records_nothing() {
    let s = server().await;
    let r = s.hook(&s.responder, &resolved(FIRING)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let list: Value = s
        .http
        .get(format!("{}/api/v1/incidents", s.base))
        .bearer_auth(&s.viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["incidents"].as_array().unwrap().len(), 0);
    s.srv.shutdown().await;
}

#[tokio::test]
async fn the_webhook_refuses_bad_payloads_and_viewers_with_json() {
    let s = server().await;
    let r = s.hook(&s.viewer, FIRING).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "forbidden");
    let r = s.hook(&s.responder, &FIRING.replace("\"version\": \"4\"", "\"version\": \"3\"")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("version"), "{body}");
    let r = s.hook(&s.responder, "{\"status\": 5").await;
    assert!(r.status().is_client_error());
    assert!(r.json::<Value>().await.unwrap()["message"].is_string());
    s.srv.shutdown().await;
}

#[tokio::test]
async fn the_post_mortem_is_served_as_markdown() {
    let s = server().await;
    let r = s.hook(&s.responder, FIRING).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let note = NewEvent::now(EventBody::Finding(warroom::domain::Entry {
        text: "pool exhausted by deploy 142".into(),
        tags: vec!["root_cause".into()],
    }));
    let r = s
        .http
        .post(format!("{}/api/v1/incidents/INC-1/events", s.base))
        .bearer_auth(&s.responder)
        .json(&note)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = s
        .http
        .get(format!("{}/api/v1/incidents/INC-1/postmortem.md", s.base))
        .bearer_auth(&s.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/markdown"));
    let md = r.text().await.unwrap();
    assert!(md.starts_with("# Incident Post-Mortem:"), "{md}");
    assert!(md.contains("## Root Cause Analysis\npool exhausted by deploy 142"), "{md}");
    assert!(md.contains("**Severity**: SEV-1"), "{md}");
    let r = s
        .http
        .get(format!("{}/api/v1/incidents/INC-9/postmortem.md", s.base))
        .bearer_auth(&s.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    s.srv.shutdown().await;
}
