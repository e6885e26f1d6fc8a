//! Prometheus Alertmanager's webhook payload (version "4"), as it comes over the wire: the DTOs
//! and their schema. What the server makes of a notification (the plan of events, severity
//! mapping, runbooks) is server policy, in `server::alertmanager`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The only payload version Alertmanager sends today.
pub const VERSION: &str = "4";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// The body Alertmanager POSTs to a webhook receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    #[serde(default = "default_version")]
    pub version: String,
    /// Identifies the alert group; the incident is correlated by it.
    #[serde(default)]
    pub group_key: String,
    /// How many alerts were left out because of `max_alerts`.
    #[serde(default)]
    pub truncated_alerts: u64,
    pub status: AlertStatus,
    #[serde(default)]
    pub receiver: String,
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    /// Backlink to the Alertmanager.
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    #[serde(default)]
    pub alerts: Vec<Alert>,
}

fn default_version() -> String {
    VERSION.to_string()
}

/// One alert of a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub status: AlertStatus,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    /// Alertmanager sends `0001-01-01T00:00:00Z` while the alert fires; see [`Alert::ends`].
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// Backlink to the entity that caused the alert.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    /// Alertmanager's stable identity of the alert; computed from the labels when absent.
    #[serde(default)]
    pub fingerprint: String,
}

impl Alert {
    /// `endsAt`, unless it is the zero time Alertmanager sends for firing alerts.
    pub fn ends(&self) -> Option<DateTime<Utc>> {
        self.ends_at.filter(|t| t.timestamp() > 0)
    }

    pub fn name(&self) -> Option<&str> {
        self.labels.get("alertname").map(String::as_str).filter(|s| !s.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_follow_alertmanager() {
        let json = r#"{"version":"4","groupKey":"k","truncatedAlerts":0,"status":"resolved","receiver":"r",
            "groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am",
            "alerts":[{"status":"resolved","labels":{},"annotations":{},"startsAt":"2026-11-20T14:00:00Z",
            "endsAt":"2026-11-20T14:10:00Z","generatorURL":"http://prom","fingerprint":"f"}]}"#;
        let p: WebhookPayload = serde_json::from_str(json).unwrap();
        assert_eq!(p.external_url, "http://am");
        assert_eq!(p.alerts[0].generator_url, "http://prom");
        assert!(p.alerts[0].ends().is_some());
        let back = serde_json::to_value(&p).unwrap();
        assert_eq!(back["externalURL"], "http://am");
        assert_eq!(back["alerts"][0]["generatorURL"], "http://prom");
        let zero: Alert = serde_json::from_str(
            r#"{"status":"firing","startsAt":"2026-11-20T14:00:00Z","endsAt":"0001-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(zero.ends(), None);
    }
}
