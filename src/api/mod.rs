//! The wire contract shared by client and server: paths, DTOs, the error body, the role matrix.

pub mod alertmanager;
pub mod auth;

use serde::{Deserialize, Serialize};
use strum::{Display, EnumCount, EnumMessage, EnumString, IntoStaticStr, VariantArray};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::{Event, EventBody, EventKind, Incident, NewEvent};

/// Prefix of every API path.
pub const PREFIX: &str = "/api/v1";

/// Header carrying the incident revision a guarded change was made against.
pub const IF_MATCH: &str = "if-match";

/// Every error response's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `invalid_event`, `conflict`, `unauthorized`.
    pub error: String,
    /// What is wrong, for a human.
    pub message: String,
    /// For a `conflict`: the incident as it stands now, so the user can decide again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Box<Incident>>,
}

/// `POST /incidents/{id}/events`: one event or a batch (`{"events": [...]}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant, reason = "a request body, built once per request")]
pub enum AppendRequest {
    Batch {
        #[schema(min_items = 1, max_items = 1000)]
        events: Vec<NewEvent>,
    },
    One(NewEvent),
}

impl AppendRequest {
    pub fn into_events(self) -> Vec<NewEvent> {
        match self {
            AppendRequest::Batch { events } => events,
            AppendRequest::One(e) => vec![e],
        }
    }
}

/// The answer to an append or a declare: the events as recorded (in seq order) and the
/// incident's revision after them. A retried event comes back as first recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AppendResponse {
    pub incident: String,
    pub revision: u64,
    pub events: Vec<Event>,
}

/// `GET /incidents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IncidentList {
    /// The global seq this list reflects: follow the stream from here.
    pub seq: u64,
    pub incidents: Vec<Incident>,
}

/// `GET /incidents/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IncidentSnapshot {
    /// The global seq this snapshot reflects.
    pub seq: u64,
    pub incident: Incident,
    /// The incident's events, when asked for with `?events=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Event>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SnapshotQuery {
    /// Include the incident's events.
    #[serde(default)]
    pub events: bool,
}

/// `GET /events`: a page of events after a cursor; with `wait`, a long poll.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Return events with seq greater than this (default 0).
    pub after: Option<u64>,
    /// Seconds to wait for an event when there is none yet (long poll, at most 60).
    #[param(minimum = 0, maximum = 60)]
    pub wait: Option<u64>,
    /// At most this many events (default and maximum 1000; larger values mean 1000).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295_u64)]
    pub limit: Option<u32>,
    /// Only this incident's events.
    pub incident: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// The highest seq on the server when the page was read.
    pub last_seq: u64,
}

/// `GET /stream` query; `Last-Event-ID` takes precedence over `after`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    pub after: Option<u64>,
}

/// `GET /me`: who the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub name: String,
    pub role: Role,
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub version: String,
    pub last_seq: u64,
}

/// A token's role. Each role may do everything the ones before it may. Parsing ignores ASCII
/// case (`Admin` is `admin`). Each variant's doc comment is its [`Role::description`].
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    Display,
    EnumString,
    IntoStaticStr,
    VariantArray,
    EnumCount,
    EnumMessage,
)]
#[serde(rename_all = "snake_case")]
#[strum(
    serialize_all = "snake_case",
    ascii_case_insensitive,
    parse_err_ty = String,
    parse_err_fn = unknown_role
)]
pub enum Role {
    /// Reads everything, writes nothing.
    Viewer,
    /// Declares incidents; adds notes, findings, checklist ticks and alerts.
    Responder,
    /// Also any timeline entry, comms, action items, playbooks, title and corrections.
    Scribe,
    /// Also severity, status (including closing) and roles.
    Commander,
    /// Everything, and manages tokens.
    Admin,
}

impl Role {
    /// Every role, least first (strum's `VARIANTS` as an array, to iterate by value).
    pub const ALL: [Role; Role::COUNT] = *Role::VARIANTS.first_chunk().expect("COUNT variants");

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// What the role may do, for people: the variant's doc comment.
    pub fn description(self) -> &'static str {
        self.get_documentation().unwrap_or_default()
    }

    /// The least role that may append an event of this kind.
    pub fn required_for(kind: EventKind) -> Role {
        use EventKind::*;
        match kind {
            Declared | Note | Finding | ChecklistItemSet | AlertAttached => Role::Responder,
            Action | Decision | CommsSent | Correction | TitleChanged | ActionItemAdded
            | ActionItemUpdated | PlaybookAttached => Role::Scribe,
            SeverityChanged | StatusChanged | RoleAssigned | RoleReleased => Role::Commander,
            // Taking a demo incident away (`warroom demo --remove`).
            DemoRemoved => Role::Commander,
            // Notifications: only the server's delivery worker records these.
            Delivery | Escalated => Role::Admin,
        }
    }

    pub fn may_append(self, body: &EventBody) -> bool {
        self >= Role::required_for(body.kind())
    }
}

fn unknown_role(s: &str) -> String {
    format!("unknown role `{s}` (expected viewer, responder, scribe, commander or admin)")
}

/// A token as listed by `warroom token list` (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Paths, relative to the server's base URL.
pub mod paths {
    pub const HEALTH: &str = "/healthz";
    pub const OPENAPI: &str = "/api/v1/openapi.json";
    pub const INCIDENTS: &str = "/api/v1/incidents";
    pub const EVENTS: &str = "/api/v1/events";
    pub const STREAM: &str = "/api/v1/stream";
    pub const PRACTICE: &str = "/api/v1/practice";
    pub const ME: &str = "/api/v1/me";

    pub fn incident(id: &str) -> String {
        format!("{INCIDENTS}/{id}")
    }

    pub fn incident_events(id: &str) -> String {
        format!("{INCIDENTS}/{id}/events")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_the_wire_names() {
        let names: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, ["viewer", "responder", "scribe", "commander", "admin"]);
        for r in Role::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            assert_eq!(r.to_string(), r.as_str());
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
            assert_eq!(r.as_str().to_ascii_uppercase().parse::<Role>(), Ok(r));
        }
        assert_eq!(Role::Viewer.description(), "Reads everything, writes nothing.");
        assert_eq!(
            "root".parse::<Role>(),
            Err("unknown role `root` (expected viewer, responder, scribe, commander or admin)".to_string())
        );
    }
}
