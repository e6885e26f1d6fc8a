//! What the server makes of a Prometheus Alertmanager notification (the wire types are in
//! `api::alertmanager`): the `[serve.alertmanager]` settings and the plan of events one
//! notification turns into. Planning is pure: the receiver (`server::integrations`) looks up the
//! open incident with the notification's group key, calls [`plan`], and appends the events.
//!
//! Rules:
//! - No open incident with the group key and at least one alert firing: a `declared` event
//!   (title from `commonAnnotations.summary`, else the alert names; severity mapped from the
//!   configured label, the most severe among the firing alerts; the group key).
//! - One `alert_attached` per alert whose state (fingerprint, status, startsAt, endsAt) is newer
//!   than what the incident holds, so Alertmanager's retries and repeat notifications add
//!   nothing, and a late retry of an older state does not undo a newer one. Resolved alerts are
//!   recorded with status `resolved`; the incident is never resolved automatically.
//! - Runbooks: `[serve.alertmanager.runbooks]` maps an alert name to a playbook id (a
//!   `playbook_attached` event unless already attached) or to a link (stored on the alert); an
//!   alert's `runbook_url` annotation is the fallback link.
//! - Event ids are UUID v8 (SHA-256) derived from the group key, the incident (the open one's
//!   id, or the `declared` event's id) and the alert states, so an exact retry produces the same
//!   ids and the server's dedup makes it a no-op, while an alert that outlived a resolved
//!   incident is still attached to the group's next one. A group whose incident was resolved
//!   while the same alerts keep firing plans a `declared` event with the same id as before: the
//!   server finds it already recorded and should append nothing more (nothing new happened).
//!   Once the set of firing alerts changes, a new incident is declared.
//!
//! All text from the payload is sanitized (`domain::text`) and cut to the domain's length limits.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::alertmanager::{Alert, AlertStatus, VERSION, WebhookPayload};
use crate::domain::incident::{MAX_SHORT, MAX_TEXT, MAX_TITLE};
use crate::domain::{AlertInfo, Entry, EventBody, Incident, NewEvent, Practice, text};

/// At most this many labels are kept per alert.
const MAX_LABELS: usize = 32;

/// `[serve.alertmanager]`: how alerts map to incidents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertmanagerConfig {
    /// Label whose value picks the severity.
    pub severity_label: String,
    /// Label value -> severity level id.
    pub severity_map: BTreeMap<String, String>,
    /// Severity when the label is missing or unmapped.
    pub default_severity: Option<String>,
    /// Alert name -> runbook link or playbook id.
    pub runbooks: BTreeMap<String, String>,
}

impl Default for AlertmanagerConfig {
    fn default() -> Self {
        let severity_map =
            [("critical", "SEV-1"), ("major", "SEV-2"), ("warning", "SEV-3"), ("info", "SEV-4")]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
        Self {
            severity_label: "severity".into(),
            severity_map,
            default_severity: None,
            runbooks: BTreeMap::new(),
        }
    }
}

/// What to write for one notification.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The open incident the events go to; `None` when `events` starts with the `declared`
    /// event of a new incident (or when there is nothing to do).
    pub incident: Option<String>,
    /// In order; empty when the notification brings nothing new.
    pub events: Vec<NewEvent>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Whether the plan opens a new incident.
    pub fn declares(&self) -> bool {
        matches!(self.events.first().map(|e| &e.body), Some(EventBody::Declared { .. }))
    }
}

/// A notification that cannot be planned (a 4xx for the sender).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

/// A deterministic event id (UUID v8 over SHA-256 of the parts).
pub fn event_id(parts: &[&str]) -> Uuid {
    let mut h = Sha256::new();
    h.update(b"warroom/alertmanager/v1");
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn clean_line(s: &str, max: usize) -> String {
    cut(text::line(s).trim(), max)
}

fn ts(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Nanos, true)).unwrap_or_default()
}

/// The alert's fingerprint (sanitized), or a SHA-256 of the sorted labels when the sender gave
/// none.
fn fingerprint(a: &Alert) -> String {
    let fp = a.fingerprint.trim();
    if !fp.is_empty() {
        return cut(&text::line(fp), MAX_SHORT);
    }
    let mut h = Sha256::new();
    for (k, v) in &a.labels {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..8])
}

/// The alert as the incident will record it.
pub fn alert_info(a: &Alert, runbook: Option<String>) -> AlertInfo {
    let labels = a
        .labels
        .iter()
        .take(MAX_LABELS)
        .map(|(k, v)| (clean_line(k, MAX_SHORT), clean_line(v, MAX_SHORT)))
        .filter(|(k, _)| !k.is_empty())
        .collect();
    let summary = a
        .annotations
        .get("summary")
        .or_else(|| a.annotations.get("description"))
        .map(|s| clean_line(s, MAX_TEXT))
        .filter(|s| !s.is_empty());
    AlertInfo {
        source: "alertmanager".into(),
        fingerprint: fingerprint(a),
        name: a.name().map(|n| clean_line(n, MAX_SHORT)).unwrap_or_else(|| "unnamed".into()),
        status: a.status.as_str().into(),
        summary,
        starts_at: a.starts_at,
        ends_at: if a.status == AlertStatus::Resolved { a.ends() } else { None },
        url: Some(clean_line(&a.generator_url, MAX_TEXT)).filter(|s| !s.is_empty()),
        runbook,
        labels,
    }
}

/// Orders alert states: a later start, then resolved after firing, then a later end.
fn state_key(a: &AlertInfo) -> (Option<DateTime<Utc>>, bool, Option<DateTime<Utc>>) {
    let resolved = a.status == "resolved";
    (a.starts_at, resolved, if resolved { a.ends_at } else { None })
}

/// Whether `new` is a newer state of an alert than `recorded` (see the module docs).
pub fn is_newer(new: &AlertInfo, recorded: Option<&AlertInfo>) -> bool {
    recorded.is_none_or(|r| state_key(new) > state_key(r))
}

/// Plans the events for one notification (see the module docs). `open` is the open incident
/// whose group key is `payload.group_key`, if any; `now` stamps the `declared` event.
pub fn plan(
    payload: &WebhookPayload,
    cfg: &AlertmanagerConfig,
    practice: &Practice,
    open: Option<&Incident>,
    now: DateTime<Utc>,
) -> Result<Plan, PlanError> {
    if payload.version.trim() != VERSION {
        return Err(PlanError(format!(
            "unsupported Alertmanager payload version `{}` (expected \"{VERSION}\")",
            clean_line(&payload.version, 20)
        )));
    }
    let group_key = clean_line(&payload.group_key, MAX_TEXT);
    if group_key.is_empty() {
        return Err(PlanError("groupKey is required: it correlates notifications with an incident".into()));
    }

    // Deduplicate by fingerprint within the notification; the latest state wins.
    let mut alerts: BTreeMap<String, (&Alert, AlertInfo)> = BTreeMap::new();
    for a in &payload.alerts {
        let runbook = runbook_link(a, cfg, practice);
        let info = alert_info(a, runbook);
        let replace = alerts.get(&info.fingerprint).is_none_or(|(_, old)| state_key(&info) > state_key(old));
        if replace {
            alerts.insert(info.fingerprint.clone(), (a, info));
        }
    }
    let firing: Vec<&Alert> =
        alerts.values().filter(|(a, _)| a.status == AlertStatus::Firing).map(|(a, _)| *a).collect();

    let mut events = Vec::new();
    let incident_seed;
    let mut attached: BTreeSet<String> = BTreeSet::new();
    let recorded: Option<&BTreeMap<String, AlertInfo>> = open.map(|i| &i.alerts);
    match open {
        Some(inc) => {
            incident_seed = inc.id.clone();
            attached.extend(inc.playbooks.iter().cloned());
        }
        None => {
            if firing.is_empty() {
                // A resolved group with no open incident: nothing to record.
                return Ok(Plan::default());
            }
            let mut seed: Vec<String> = vec!["declared".into(), group_key.clone()];
            for a in &firing {
                seed.push(fingerprint(a));
                seed.push(ts(a.starts_at));
            }
            let seed_refs: Vec<&str> = seed.iter().map(String::as_str).collect();
            let id = event_id(&seed_refs);
            incident_seed = id.to_string();
            let (severity, note) = severity(&firing, payload, cfg, practice);
            let summary = payload
                .common_annotations
                .get("description")
                .map(|d| cut(text::sanitize(d, true).trim(), MAX_TEXT))
                .unwrap_or_default();
            events.push(NewEvent {
                id,
                occurred_at: now,
                body: EventBody::Declared {
                    title: title(payload, &firing),
                    severity,
                    summary,
                    group_key: Some(group_key.clone()),
                    demo: false,
                },
            });
            if let Some(text) = note {
                events.push(note_event(&[&incident_seed, "severity-note"], now, text));
            }
            if payload.truncated_alerts > 0 {
                let text = format!(
                    "Alertmanager left {} alert(s) out of this notification (max_alerts); see {}",
                    payload.truncated_alerts,
                    clean_line(&payload.external_url, MAX_SHORT)
                );
                events.push(note_event(&[&incident_seed, "truncated"], now, text));
            }
        }
    }

    let mut playbooks = Vec::new();
    for (fp, (a, info)) in &alerts {
        if !is_newer(info, recorded.and_then(|r| r.get(fp))) {
            continue;
        }
        let status = info.status.as_str();
        let id = event_id(&[
            "alert",
            &group_key,
            &incident_seed,
            fp,
            status,
            &ts(info.starts_at),
            &ts(info.ends_at),
        ]);
        let happened = match a.status {
            AlertStatus::Firing => info.starts_at,
            AlertStatus::Resolved => info.ends_at,
        };
        let occurred_at = happened.filter(|t| *t <= now).unwrap_or(now);
        events.push(NewEvent { id, occurred_at, body: EventBody::AlertAttached(info.clone()) });
        if a.status == AlertStatus::Firing
            && let Some(pb) = runbook_playbook(a, cfg, practice)
            && attached.insert(pb.clone())
        {
            let id = event_id(&["playbook", &incident_seed, &pb]);
            playbooks.push(NewEvent {
                id,
                occurred_at: now,
                body: EventBody::PlaybookAttached { playbook: pb },
            });
        }
    }
    events.extend(playbooks);

    Ok(Plan { incident: open.map(|i| i.id.clone()), events })
}

fn note_event(seed: &[&str], now: DateTime<Utc>, text: String) -> NewEvent {
    let mut parts = vec!["note"];
    parts.extend_from_slice(seed);
    NewEvent {
        id: event_id(&parts),
        occurred_at: now,
        body: EventBody::Note(Entry { text: cut(&text, MAX_TEXT), tags: vec!["alertmanager".into()] }),
    }
}

/// `commonAnnotations.summary`, else the distinct alert names, else the group's labels.
fn title(payload: &WebhookPayload, firing: &[&Alert]) -> String {
    if let Some(s) = payload.common_annotations.get("summary").map(|s| clean_line(s, MAX_TITLE))
        && !s.is_empty()
    {
        return s;
    }
    let mut names: Vec<&str> = Vec::new();
    for a in firing {
        if let Some(n) = a.name()
            && !names.contains(&n)
        {
            names.push(n);
        }
    }
    let t = match names.len() {
        0 => payload
            .group_labels
            .get("alertname")
            .cloned()
            .unwrap_or_else(|| format!("Alertmanager alert ({})", payload.receiver)),
        1..=3 => names.join(", "),
        n => format!("{} and {} more", names[..3].join(", "), n - 3),
    };
    let t = clean_line(&t, MAX_TITLE);
    if t.is_empty() { "Alertmanager alert".into() } else { t }
}

/// The most severe mapped level among the firing alerts, and a note when it had to fall back.
fn severity(
    firing: &[&Alert],
    payload: &WebhookPayload,
    cfg: &AlertmanagerConfig,
    practice: &Practice,
) -> (String, Option<String>) {
    let scheme = practice.scheme();
    let map = |value: &str| -> Option<String> {
        let mapped = cfg
            .severity_map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(value))
            .and_then(|(_, v)| scheme.canonical(v));
        mapped.or_else(|| scheme.canonical(value)).map(str::to_string)
    };
    let label = &cfg.severity_label;
    let values: Vec<String> = firing
        .iter()
        .filter_map(|a| a.labels.get(label).or_else(|| payload.common_labels.get(label)))
        .map(|v| clean_line(v, MAX_SHORT))
        .collect();
    if let Some(best) = values.iter().filter_map(|v| map(v)).min_by_key(|s| scheme.rank(s)) {
        return (best, None);
    }
    let (fallback, how) = match cfg.default_severity.as_deref().and_then(|d| scheme.canonical(d)) {
        Some(d) => (d.to_string(), "default_severity"),
        None => {
            let least = scheme.levels.last().map(|l| l.id.clone()).unwrap_or_default();
            (least, "the least severe level; set [serve.alertmanager] default_severity")
        }
    };
    let seen = if values.is_empty() {
        format!("no alert carried the label `{label}`")
    } else {
        let mut v = values.clone();
        v.dedup();
        format!("label `{label}` value(s) {} not mapped to scheme {}", v.join(", "), scheme.id)
    };
    let note = format!("Severity from Alertmanager: {seen}; declared as {fallback} ({how}).");
    (fallback, Some(note))
}

fn runbook_target<'a>(a: &Alert, cfg: &'a AlertmanagerConfig) -> Option<&'a str> {
    a.name().and_then(|n| cfg.runbooks.get(n)).map(String::as_str).map(str::trim)
}

/// The configured runbook playbook id of this alert, if it names one of the practice's.
fn runbook_playbook(a: &Alert, cfg: &AlertmanagerConfig, practice: &Practice) -> Option<String> {
    runbook_target(a, cfg).filter(|t| practice.playbook(t).is_some()).map(str::to_string)
}

/// The runbook link of this alert: the configured one (when not a playbook id), else the
/// `runbook_url` annotation.
fn runbook_link(a: &Alert, cfg: &AlertmanagerConfig, practice: &Practice) -> Option<String> {
    runbook_target(a, cfg)
        .filter(|t| practice.playbook(t).is_none())
        .map(str::to_string)
        .or_else(|| a.annotations.get("runbook_url").cloned())
        .map(|l| clean_line(&l, MAX_TEXT))
        .filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn info(status: &str, start: u32, end: Option<u32>) -> AlertInfo {
        let at = |m| Utc.with_ymd_and_hms(2026, 11, 20, 14, m, 0).unwrap();
        AlertInfo {
            source: "alertmanager".into(),
            fingerprint: "f".into(),
            name: "A".into(),
            status: status.into(),
            summary: None,
            starts_at: Some(at(start)),
            ends_at: end.map(at),
            url: None,
            runbook: None,
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn newer_states() {
        let firing = info("firing", 0, None);
        let resolved = info("resolved", 0, Some(10));
        assert!(is_newer(&firing, None));
        assert!(!is_newer(&firing, Some(&firing)));
        assert!(is_newer(&resolved, Some(&firing)));
        assert!(!is_newer(&firing, Some(&resolved)));
        assert!(is_newer(&info("firing", 20, None), Some(&resolved)));
        assert!(is_newer(&info("resolved", 0, Some(12)), Some(&resolved)));
    }

    #[test]
    fn ids_are_deterministic_v8_and_unambiguous() {
        let a = event_id(&["alert", "g", "f"]);
        assert_eq!(a, event_id(&["alert", "g", "f"]));
        assert_eq!(a.get_version_num(), 8);
        assert_ne!(event_id(&["ab", "c"]), event_id(&["a", "bc"]));
    }
}
