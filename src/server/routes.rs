//! Request handlers for incidents, the practice, `me` and health. Each carries its OpenAPI
//! description (utoipa); the streaming endpoints are in `stream.rs`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, Json, NoSuchIncident, Path, Query, ReadRefusal, Unauthorized, WriteRefusal};
use super::store::{AppendCtx, Appended, ListFilter, sort_for_list};
use crate::api::{
    AppendRequest, AppendResponse, ErrorBody, Health, IF_MATCH, IncidentList, IncidentSnapshot, Me,
    SnapshotQuery, paths,
};
use crate::domain::{NewEvent, Practice};

/// Most events in one append.
pub const MAX_BATCH: usize = 1_000;

/// `GET /incidents?status=`: which incidents to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListStatus {
    /// Open incidents only.
    Open,
    /// Open incidents, then the most recently resolved ones (the default).
    #[default]
    Recent,
    /// Every incident.
    All,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `open`, `recent` (default: open, then the 20 most recently resolved) or `all`.
    pub status: Option<ListStatus>,
}

fn respond(a: Appended) -> AppendResponse {
    AppendResponse { incident: a.incident.id.clone(), revision: a.incident.revision, events: a.events }
}

/// Parses `If-Match: <revision>` (quotes and a weak `W/` prefix tolerated; `*` means none). An
/// empty value is no revision: refused, as the schema says (schemathesis found it accepted).
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(v) = headers.get(IF_MATCH) else { return Ok(None) };
    let bad = || ApiError::bad_request("invalid_if_match", "If-Match must be an incident revision number");
    let s = v.to_str().map_err(|_| bad())?.trim();
    let s = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
    if s == "*" {
        return Ok(None);
    }
    s.parse::<u64>().map(Some).map_err(|_| bad())
}

/// Server health and the highest seq. No token needed.
#[utoipa::path(
    get, path = paths::HEALTH, tag = "meta",
    responses(
        (status = 200, description = "The server and its database answer", body = Health),
        (status = 503, description = "The database is busy or unreachable", body = ErrorBody),
    )
)]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let last_seq = state.store.last_seq().await.map_err(|e| {
        tracing::error!(error = %e, "health check: the store does not answer");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the database does not answer")
    })?;
    Ok(Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into(), last_seq }))
}

/// Who the token belongs to.
#[utoipa::path(
    get, path = paths::ME, tag = "meta", security(("bearer" = [])),
    responses(
        (status = 200, body = Me),
        Unauthorized,
    )
)]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me { name: caller.name, role: caller.role })
}

/// The server's incident-response practice: severity scheme, roles, checklists, playbooks.
#[utoipa::path(
    get, path = paths::PRACTICE, tag = "meta", security(("bearer" = [])),
    responses(
        (status = 200, body = Practice),
        Unauthorized,
    )
)]
pub async fn practice(State(state): State<AppState>, _caller: Caller) -> Json<Practice> {
    Json((*state.practice).clone())
}

/// Declares an incident: the body is a `declared` event; the server assigns the `INC-<n>` id.
/// Retrying the same event id returns the same incident (200 instead of 201).
#[utoipa::path(
    post, path = paths::INCIDENTS, tag = "incidents", security(("bearer" = [])),
    request_body = NewEvent,
    responses(
        (status = 201, description = "Declared", body = AppendResponse, links(
            ("GetIncident" = (operation_id = "get_incident", parameters(("id" = "$response.body#/incident")),
                description = "The incident just declared")),
            ("AppendToIncident" = (operation_id = "append", parameters(("id" = "$response.body#/incident")),
                description = "Append events to it")),
            ("PostMortem" = (operation_id = "postmortem_md", parameters(("id" = "$response.body#/incident")),
                description = "Its post-mortem"))
        )),
        (status = 200, description = "A retry: the incident this event already declared", body = AppendResponse, links(
            ("GetIncident" = (operation_id = "get_incident", parameters(("id" = "$response.body#/incident")),
                description = "The incident just declared")),
            ("AppendToIncident" = (operation_id = "append", parameters(("id" = "$response.body#/incident")),
                description = "Append events to it")),
            ("PostMortem" = (operation_id = "postmortem_md", parameters(("id" = "$response.body#/incident")),
                description = "Its post-mortem"))
        )),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 403, description = "The token's role may not declare", body = ErrorBody),
        (status = 422, description = "Invalid event (wrong kind, unknown severity, empty title, id reused)", body = ErrorBody),
        Unauthorized, WriteRefusal,
    )
)]
pub async fn declare(
    State(state): State<AppState>,
    caller: Caller,
    Json(event): Json<NewEvent>,
) -> Result<(StatusCode, Json<AppendResponse>), ApiError> {
    state.limiter.write(caller.token_id, &caller.name)?;
    let ctx =
        AppendCtx { author: &caller.name, role: caller.role, practice: &state.practice, if_match: None };
    let done = state.declare(ctx, event).await?;
    let status = if done.created { StatusCode::CREATED } else { StatusCode::OK };
    if done.created {
        tracing::info!(incident = %done.incident.id, by = %caller.name, "incident declared");
    }
    Ok((status, Json(respond(done))))
}

/// Lists incidents: open ones first (most severe, newest), then recently resolved ones.
#[utoipa::path(
    get, path = paths::INCIDENTS, tag = "incidents", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, body = IncidentList),
        Unauthorized, ReadRefusal,
    )
)]
pub async fn list_incidents(
    State(state): State<AppState>,
    _caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<IncidentList>, ApiError> {
    let filter = match q.status.unwrap_or_default() {
        ListStatus::Open => ListFilter::Open,
        ListStatus::Recent => ListFilter::Recent,
        ListStatus::All => ListFilter::All,
    };
    let (seq, mut incidents) = state.store.list_incidents(filter).await?;
    // Removed demo incidents are hidden from every list (`GET /incidents/{id}` still has them).
    incidents.retain(|i| !i.is_removed());
    sort_for_list(&state.practice, &mut incidents);
    Ok(Json(IncidentList { seq, incidents }))
}

/// One incident as it stands, with its events when asked.
#[utoipa::path(
    get, path = "/api/v1/incidents/{id}", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Incident id, e.g. `INC-7`", example = "INC-1"), SnapshotQuery),
    responses(
        (status = 200, body = IncidentSnapshot),
        Unauthorized, NoSuchIncident, ReadRefusal,
    )
)]
pub async fn get_incident(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<SnapshotQuery>,
) -> Result<Json<IncidentSnapshot>, ApiError> {
    let snap = state
        .store
        .incident(&id, q.events)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no incident {id}")))?;
    Ok(Json(IncidentSnapshot { seq: snap.seq, incident: snap.incident, events: snap.events }))
}

/// Appends one event or a batch (`{"events": [...]}`, all or nothing) to an incident.
/// Changes of severity, status and commander may carry `If-Match: <revision>`; a change made
/// against a revision older than the field's last change is refused with 412 and the current
/// incident. Retrying an event id returns the event as first recorded.
#[utoipa::path(
    post, path = "/api/v1/incidents/{id}/events", tag = "incidents", security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Incident id, e.g. `INC-7`", example = "INC-1"),
        ("If-Match" = Option<u64>, Header, nullable = false, minimum = 0,
            description = "The incident revision a guarded change was made against"),
    ),
    request_body = AppendRequest,
    responses(
        (status = 200, description = "Recorded (or already recorded)", body = AppendResponse),
        (status = 400, description = "Malformed JSON or If-Match", body = ErrorBody),
        (status = 403, description = "The token's role may not append this kind", body = ErrorBody),
        (status = 412, description = "Stale If-Match; `current` holds the incident now", body = ErrorBody),
        (status = 422, description = "Invalid event, or an event id reused with another content", body = ErrorBody),
        Unauthorized, NoSuchIncident, WriteRefusal,
    )
)]
pub async fn append(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(req): Json<AppendRequest>,
) -> Result<Json<AppendResponse>, ApiError> {
    state.limiter.write(caller.token_id, &caller.name)?;
    let if_match = if_match(&headers)?;
    let events = req.into_events();
    if events.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
            "the batch holds no event",
        ));
    }
    if events.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many",
            format!("a batch holds at most {MAX_BATCH} events"),
        ));
    }
    let ctx = AppendCtx { author: &caller.name, role: caller.role, practice: &state.practice, if_match };
    let done = state.append(ctx, &id, events).await?;
    Ok(Json(respond(done)))
}
