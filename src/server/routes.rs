//! Request handlers for incidents, the practice, `me` and health. Each carries its OpenAPI
//! description (utoipa); the streaming endpoints are in `stream.rs`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use futures::StreamExt as _;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, Json, NoSuchIncident, Path, Query, ReadRefusal, Unauthorized, WriteRefusal};
use super::limits::BodyLen;
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
    body: BodyLen,
    Json(event): Json<NewEvent>,
) -> Result<(StatusCode, Json<AppendResponse>), ApiError> {
    state.limiter.write(caller.token_id, &caller.name)?;
    state.limiter.work(caller.token_id, &caller.name, 1, body.0)?;
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
) -> Result<Response, ApiError> {
    let snap = state
        .store
        .incident(&id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no incident {id}")))?;
    let head = IncidentSnapshot { seq: snap.seq, incident: snap.incident, events: None };
    if !q.events {
        return Ok(Json(head).into_response());
    }
    // The events are streamed a page at a time, not built whole in memory: an incident of
    // 100,000 events is tens of MB of JSON.
    let mut json = serde_json::to_vec(&head).map_err(|e| {
        tracing::error!(error = %e, "serializing a snapshot");
        ApiError::internal()
    })?;
    json.pop(); // the closing brace
    json.extend_from_slice(b",\"events\":[");
    let body = snapshot_events(state.store.clone(), id, head.seq, json);
    Ok(([(header::CONTENT_TYPE, "application/json")], axum::body::Body::from_stream(body)).into_response())
}

/// Events of a snapshot per page.
const SNAPSHOT_PAGE: u32 = 500;

/// `head`, then the incident's events up to `upto` as JSON array items, a page at a time, then
/// the closing `]}`. A store failure midway ends the body early (the client sees invalid JSON
/// and retries) and is logged.
fn snapshot_events(
    store: std::sync::Arc<dyn super::store::Store>,
    id: String,
    upto: u64,
    head: Vec<u8>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send {
    struct Page {
        cursor: u64,
        first: bool,
        done: bool,
    }
    let pages = futures::stream::unfold(Page { cursor: 0, first: true, done: false }, move |mut p| {
        let store = store.clone();
        let id = id.clone();
        async move {
            if p.done {
                return None;
            }
            let events = match store.events_after(p.cursor, SNAPSHOT_PAGE, Some(&id)).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::error!(error = %e, incident = %id, "reading a snapshot's events failed midway");
                    p.done = true;
                    return Some((Err(std::io::Error::other("reading the events failed")), p));
                }
            };
            let full = events.len() as u32 == SNAPSHOT_PAGE;
            let mut out = Vec::with_capacity(events.len() * 256);
            for e in events.iter().take_while(|e| e.seq <= upto) {
                if !p.first {
                    out.push(b',');
                }
                p.first = false;
                if let Err(err) = serde_json::to_writer(&mut out, e) {
                    tracing::error!(error = %err, "serializing an event");
                    p.done = true;
                    return Some((Err(std::io::Error::other("serializing an event failed")), p));
                }
            }
            match events.last() {
                Some(last) if full && last.seq < upto => p.cursor = last.seq,
                _ => {
                    p.done = true;
                    out.extend_from_slice(b"]}");
                }
            }
            Some((Ok(out), p))
        }
    });
    // Fused: a body layer (gzip) may poll once more after the end, which `unfold` forbids.
    futures::stream::once(async move { Ok(head) }).chain(pages).fuse()
}

/// 412 when `If-Match` names a revision the incident has not reached: a client cannot have
/// seen it, so its change was made against something else.
async fn not_ahead(state: &AppState, id: &str, rev: u64) -> Result<(), ApiError> {
    let Some(snap) = state.store.incident(id, false).await? else {
        return Err(ApiError::not_found(format!("no incident {id}")));
    };
    if rev <= snap.incident.revision {
        return Ok(());
    }
    Err(ApiError {
        status: StatusCode::PRECONDITION_FAILED,
        code: "conflict",
        message: format!(
            "If-Match names revision {rev}, but {id} is at revision {}: the change was made against \
             a revision the incident never had",
            snap.incident.revision
        ),
        current: Some(Box::new(snap.incident)),
        retry_after: None,
    })
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
        (status = 412, description = "Stale If-Match, or one newer than the incident's revision; `current` holds the incident now", body = ErrorBody),
        (status = 422, description = "Invalid event, or an event id reused with another content", body = ErrorBody),
        Unauthorized, NoSuchIncident, WriteRefusal,
    )
)]
pub async fn append(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: BodyLen,
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
    // Work, not requests: a batch of 1,000 counts 1,000 events, and its bytes.
    state.limiter.work(caller.token_id, &caller.name, events.len(), body.0)?;
    if let Some(rev) = if_match {
        not_ahead(&state, &id, rev).await?;
    }
    let ctx = AppendCtx { author: &caller.name, role: caller.role, practice: &state.practice, if_match };
    let done = state.append(ctx, &id, events).await?;
    Ok(Json(respond(done)))
}
