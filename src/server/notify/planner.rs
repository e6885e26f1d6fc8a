//! Which deliveries an append causes: run by the store inside the append's transaction, so a
//! recorded event and the deliveries it causes commit together or not at all.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::config::{EventClass, NotifyConfig, RouteConfig};
use super::message::{Message, class_of};
use crate::domain::{Event, EventBody, Incident, Practice};
use crate::server::queue::{NewDelivery, Planner};

/// The routes, the practice's per-level and per-escalation-step targets, and which targets the
/// server configures (practice names it does not configure are skipped).
pub struct RoutePlanner {
    routes: Vec<RouteConfig>,
    configured: BTreeSet<String>,
    practice: Arc<Practice>,
}

impl RoutePlanner {
    pub fn new(cfg: &NotifyConfig, practice: Arc<Practice>) -> RoutePlanner {
        RoutePlanner {
            routes: cfg.routes.clone(),
            configured: cfg.targets.iter().map(|t| t.name.clone()).collect(),
            practice,
        }
    }

    /// The targets routes send `class` to at `severity`, plus the practice's `extra`.
    pub fn targets_for<'a>(
        &self,
        class: EventClass,
        severity: &str,
        extra: impl IntoIterator<Item = &'a String>,
    ) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self
            .routes
            .iter()
            .filter(|r| r.matches(class, severity))
            .flat_map(|r| r.targets.iter().cloned())
            .collect();
        out.extend(extra.into_iter().cloned());
        out.retain(|t| self.configured.contains(t));
        out
    }

    /// The practice's targets for an event: the level's `notify_targets` when an incident is
    /// declared at or raised to it, the step's `targets` when it escalates.
    fn practice_targets(&self, before: &Incident, after: &Incident, e: &Event) -> Vec<String> {
        let scheme = self.practice.scheme();
        match &e.body {
            EventBody::Declared { .. } => {
                scheme.level(&after.severity).map(|l| l.notify_targets.clone()).unwrap_or_default()
            }
            EventBody::SeverityChanged { severity }
                if scheme.rank(severity) < scheme.rank(&before.severity) =>
            {
                scheme.level(severity).map(|l| l.notify_targets.clone()).unwrap_or_default()
            }
            EventBody::Escalated { level, .. } => scheme
                .escalation
                .iter()
                .find(|s| s.level.eq_ignore_ascii_case(level))
                .map(|s| s.targets.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

impl Planner for RoutePlanner {
    fn plan(&self, before: &Incident, after: &Incident, events: &[Event]) -> Vec<NewDelivery> {
        // Demo incidents (`warroom demo`) tell nobody anything.
        if after.demo {
            return Vec::new();
        }
        let scheme = self.practice.scheme();
        let mut out = Vec::new();
        for e in events {
            let Some(class) = class_of(e) else { continue };
            let extra = self.practice_targets(before, after, e);
            let targets = self.targets_for(class, &after.severity, &extra);
            if targets.is_empty() {
                continue;
            }
            let msg = Message::for_event(class, e, after, scheme);
            let payload = serde_json::to_string(&msg).unwrap_or_default();
            for t in targets {
                out.push(NewDelivery {
                    key: format!("{}/{t}", e.id),
                    incident: e.incident.clone(),
                    event_id: e.id,
                    target: t,
                    payload: payload.clone(),
                    due_at: e.recorded_at,
                });
            }
        }
        out
    }
}
