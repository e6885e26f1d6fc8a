//! Alerts in and documents out: the Prometheus Alertmanager webhook receiver and the
//! post-mortem rendered as Markdown. The planning and rendering are pure (`server::alertmanager`,
//! `domain::postmortem`); these handlers only read and write the store.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::alertmanager;
use super::auth::Caller;
use super::error::{ApiError, Json, NoSuchIncident, Path, Unauthorized, WriteRefusal};
use super::limits::BodyLen;
use super::store::{AppendCtx, Known, ListFilter, prepare};
use crate::api::alertmanager::WebhookPayload;
use crate::api::{AppendResponse, ErrorBody, Role};
use crate::domain::{postmortem, text};

/// Receives an Alertmanager notification (webhook payload version 4). A firing group opens an
/// incident (or joins the open one with the same group key); each alert whose state is new
/// becomes an `alert_attached` event; resolved alerts are recorded but never resolve the
/// incident. Retries add nothing (event ids are derived from the group, alert and state).
/// Needs a responder token; the receiver may attach a mapped playbook on its own authority.
#[utoipa::path(
    post, path = "/api/v1/integrations/alertmanager", tag = "integrations", security(("bearer" = [])),
    request_body = WebhookPayload,
    responses(
        (status = 200, description = "Recorded (possibly nothing new)", body = AppendResponse),
        (status = 201, description = "A new incident was opened", body = AppendResponse),
        (status = 204, description = "Nothing to record (a resolved group with no open incident)"),
        (status = 400, description = "Malformed payload", body = ErrorBody),
        (status = 403, description = "The token may not write", body = ErrorBody),
        (status = 413, description = "More alerts than `[serve.limits] max_alerts` (1000 by default), or a body over the limit", body = ErrorBody),
        (status = 422, description = "Unsupported payload (version, group key), or an event the store would refuse", body = ErrorBody),
        Unauthorized, WriteRefusal,
    )
)]
pub async fn alertmanager(
    State(state): State<AppState>,
    caller: Caller,
    body: BodyLen,
    Json(payload): Json<WebhookPayload>,
) -> Result<Response, ApiError> {
    if caller.role < Role::Responder {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("a {} token may not post alerts (needs responder)", caller.role),
        ));
    }
    state.limiter.write(caller.token_id, &caller.name)?;
    // Everything that can refuse the notification runs before anything is written: a refused
    // notification creates nothing.
    let max_alerts = state.limiter.limits.max_alerts;
    if payload.alerts.len() > max_alerts {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_alerts",
            format!(
                "this notification carries {} alerts; the receiver takes at most {max_alerts} \
                 (set `max_alerts: {max_alerts}` in Alertmanager's webhook_config to truncate)",
                payload.alerts.len()
            ),
        ));
    }
    let key = payload.group_key.trim();
    let (_, open) = state.store.list_incidents(ListFilter::Open).await?;
    let open = open.into_iter().find(|i| i.group_key.as_deref().map(str::trim) == Some(key));
    let now = chrono::Utc::now();
    let invalid =
        |e: alertmanager::PlanError| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload", e.0);
    let mut plan = alertmanager::plan(&payload, &state.alertmanager, &state.practice, open.as_ref(), now)
        .map_err(invalid)?;
    if let Some(inc) = &open
        && let Some(rest) = unfinished_declaration(&state, &payload, inc).await?
    {
        // This notification opened the incident, and what it was to record with the
        // declaration may be missing (the first delivery failed after the declaration):
        // the same events again, with the same ids, so what is recorded already is a no-op.
        plan = alertmanager::Plan { incident: Some(inc.id.clone()), events: rest };
    }
    state.limiter.work(caller.token_id, &caller.name, plan.events.len(), body.0)?;
    // The receiver acts for the alerting system: attaching a mapped playbook is part of it.
    let role = caller.role.max(Role::Scribe);
    let ctx = AppendCtx { author: &caller.name, role, practice: &state.practice, if_match: None };
    // Dry run of the whole plan against the incident as it stands: an event the store would
    // refuse refuses the notification before the declaration is written.
    let before = open.clone().unwrap_or_default();
    let target = plan.incident.clone().unwrap_or_else(|| "INC-0".into());
    prepare(ctx, &before, &target, &Known::default(), before.last_seq + 1, now, plan.events.clone())?;
    let group = text::line(key);
    let mut events = plan.events.into_iter();
    let (incident, mut recorded, declared_now) = match plan.incident {
        Some(id) => (id, Vec::new(), false),
        None => {
            let Some(first) = events.next() else {
                return Ok(StatusCode::NO_CONTENT.into_response());
            };
            let done = state.declare(ctx, first).await?;
            if !done.created {
                // A late retry of a notification whose incident exists (maybe resolved since):
                // everything in it was recorded then.
                let body = AppendResponse {
                    incident: done.incident.id.clone(),
                    revision: done.incident.revision,
                    events: done.events,
                };
                return Ok((StatusCode::OK, Json(body)).into_response());
            }
            tracing::info!(incident = %done.incident.id, group = %group, "incident opened by Alertmanager");
            (done.incident.id.clone(), done.events, true)
        }
    };
    let rest: Vec<_> = events.collect();
    let mut revision = 0;
    if !rest.is_empty() {
        let done = state.append(ctx, &incident, rest).await.inspect_err(|e| {
            tracing::warn!(incident = %incident, group = %group, error = %text::line(&e.to_string()),
                "recording a notification's alerts failed after its declaration; Alertmanager's retry completes it");
        })?;
        revision = done.incident.revision;
        recorded.extend(done.events);
    }
    if revision == 0 {
        revision = recorded.len() as u64;
    }
    let status = if declared_now { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(AppendResponse { incident, revision, events: recorded })).into_response())
}

/// When `inc` was opened by this very notification (its first event is the `declared` event
/// the notification plans when no incident is open), the rest of that plan, stamped as the
/// first delivery stamped it; `None` otherwise.
async fn unfinished_declaration(
    state: &AppState,
    payload: &WebhookPayload,
    inc: &crate::domain::Incident,
) -> Result<Option<Vec<crate::domain::NewEvent>>, ApiError> {
    let Ok(fresh) = alertmanager::plan(payload, &state.alertmanager, &state.practice, None, inc.declared_at)
    else {
        return Ok(None);
    };
    let Some(declared) = fresh.events.first().filter(|_| fresh.declares()) else {
        return Ok(None);
    };
    let first = state.store.events_after(0, 1, Some(&inc.id)).await?;
    if first.first().map(|e| e.id) != Some(declared.id) {
        return Ok(None);
    }
    Ok(Some(fresh.events.into_iter().skip(1).collect()))
}

/// The incident's post-mortem in the practice's template, as Markdown: timeline in UTC, root
/// cause and contributing factors from tagged entries, action items.
#[utoipa::path(
    get, path = "/api/v1/incidents/{id}/postmortem.md", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Incident id, e.g. INC-1")),
    responses(
        (status = 200, description = "Markdown", content_type = "text/markdown", body = String),
        Unauthorized, NoSuchIncident,
    )
)]
pub async fn postmortem_md(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Some(snap) = state.store.incident(&id, false).await? else {
        return Err(ApiError::not_found(format!("no incident {id}")));
    };
    // Bounded memory for any length of log: a first pass folds what the document needs a page
    // at a time, then the Markdown is streamed, the timeline a page at a time from a second.
    let upto = snap.seq;
    let mut digest = postmortem::Digest::default();
    let mut cursor = 0;
    loop {
        let page = state.store.events_after(cursor, POSTMORTEM_PAGE, Some(&id)).await?;
        for e in page.iter().take_while(|e| e.seq <= upto) {
            digest.add(e);
        }
        match page.last() {
            Some(last) if page.len() as u32 == POSTMORTEM_PAGE && last.seq < upto => cursor = last.seq,
            _ => break,
        }
    }
    let doc = postmortem::Document::new(&state.practice, &snap.incident, digest);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(2);
    let store = state.store.clone();
    let practice = state.practice.clone();
    tokio::spawn(async move {
        for part in 0..doc.parts() {
            if tx.send(Ok(doc.part(part).to_string())).await.is_err() {
                return;
            }
            if part + 1 == doc.parts() {
                break;
            }
            let mut timeline = doc.timeline(&practice);
            let mut cursor = 0;
            loop {
                let page = match store.events_after(cursor, POSTMORTEM_PAGE, Some(&id)).await {
                    Ok(page) => page,
                    Err(e) => {
                        tracing::error!(error = %e, incident = %id, "reading a post-mortem's events failed midway");
                        let _ = tx.send(Err(std::io::Error::other("reading the events failed"))).await;
                        return;
                    }
                };
                let mut out = String::new();
                for e in page.iter().take_while(|e| e.seq <= upto) {
                    timeline.push(e, &mut out);
                }
                let more = matches!(page.last(), Some(last) if page.len() as u32 == POSTMORTEM_PAGE && last.seq < upto);
                if !more {
                    timeline.finish(&mut out);
                }
                if !out.is_empty() && tx.send(Ok(out)).await.is_err() {
                    return;
                }
                match page.last() {
                    Some(last) if more => cursor = last.seq,
                    _ => break,
                }
            }
        }
    });
    let chunks = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let body = axum::body::Body::from_stream(futures::StreamExt::fuse(chunks));
    Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], body).into_response())
}

/// Events per page read for a post-mortem.
const POSTMORTEM_PAGE: u32 = 500;
