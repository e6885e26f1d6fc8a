//! Following the log: `GET /events` (a page after a cursor, or a long poll with `wait`) and
//! `GET /stream` (Server-Sent Events, `id:` = seq, resumable with `Last-Event-ID`). Both read
//! through the hub, so they see events in seq order, each once.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt, stream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, Query, ReadRefusal, Unauthorized};
use super::hub::{Hub, Item};
use super::store::Store;
use crate::api::{ErrorBody, EventPage, EventsQuery, StreamQuery, paths};

/// Longest long poll, in seconds.
pub const MAX_WAIT: u64 = 60;
/// Largest page.
pub const MAX_LIMIT: u32 = 1_000;
/// Keep-alive comment interval on streams.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often an open stream checks that its token is still valid (revocation ends it).
pub const TOKEN_RECHECK: Duration = Duration::from_secs(2);

/// A cursor is a seq, which the store keeps as a signed 64-bit integer: anything larger is a
/// client's mistake (400), not a value to wait for forever.
fn cursor(after: u64) -> Result<u64, ApiError> {
    if after > i64::MAX as u64 {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("a seq cursor is at most {} (got {after})", i64::MAX),
        ));
    }
    Ok(after)
}

/// A page of events after a cursor. With `wait`, waits up to that many seconds (at most 60)
/// for an event when there is none yet. Use the last event's seq as the next cursor, or
/// `last_seq` when the page is empty or not full. A token revoked during the wait gets a 401
/// within seconds, as its open streams end.
#[utoipa::path(
    get, path = paths::EVENTS, tag = "events", security(("bearer" = [])),
    params(EventsQuery),
    responses(
        (status = 200, body = EventPage),
        (status = 429, description = "This token has the most long polls waiting already", body = ErrorBody),
        Unauthorized, ReadRefusal,
    )
)]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    let mut after = cursor(q.after.unwrap_or(0))?;
    let limit = q.limit.unwrap_or(MAX_LIMIT).clamp(1, MAX_LIMIT);
    let wait = q.wait.unwrap_or(0);
    if wait > MAX_WAIT {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("wait is at most {MAX_WAIT} seconds (got {wait})"),
        ));
    }
    let wait = Duration::from_secs(wait);
    // Long polls hold a connection like streams do: capped per token the same way.
    let _slot =
        if wait.is_zero() { None } else { Some(state.limiter.long_poll(caller.token_id, &caller.name)?) };
    let deadline = tokio::time::Instant::now() + wait;
    let _waiting = (!wait.is_zero()).then(|| state.metrics.long_poll());
    let incident = q.incident.as_deref();
    let mut rx = state.hub.subscribe();
    let revoked = until_revoked(state.store.clone(), caller.token_hash, caller.name.clone());
    tokio::pin!(revoked);
    let page = loop {
        rx.borrow_and_update();
        let page = state.hub.read(after, limit, incident).await?;
        if !page.items.is_empty() || wait.is_zero() || tokio::time::Instant::now() >= deadline {
            break page;
        }
        // Nothing (for this filter) up to last_seq: look only at what comes after it.
        after = after.max(page.last_seq);
        tokio::select! {
            changed = rx.changed() => if changed.is_err() { break page },
            _ = tokio::time::sleep_until(deadline) => {}
            _ = state.shutdown.cancelled() => break page,
            _ = &mut revoked => {
                return Err(ApiError::unauthorized(format!("the token `{}` has been revoked", caller.name)));
            }
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], page.to_json())
        .into_response())
}

/// The live stream (Server-Sent Events): every event after the cursor, then each new one as
/// it is recorded. `id:` is the seq, `event:` is `event`, the data is the event's JSON.
/// Resumes after the `Last-Event-ID` header, else after `?after=` (default 0: everything).
/// A `: connected` comment comes first, then a keep-alive comment every 15 s.
#[utoipa::path(
    get, path = paths::STREAM, tag = "events", security(("bearer" = [])),
    params(
        StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this seq (wins over `after`)"),
    ),
    responses(
        (status = 200, description = "An endless event stream", content_type = "text/event-stream", body = String),
        (status = 400, description = "Bad query or Last-Event-ID", body = ErrorBody),
        (status = 429, description = "This token has the most streams open already", body = ErrorBody),
        Unauthorized,
    )
)]
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Result<Response, ApiError> {
    let after = match headers.get("last-event-id") {
        Some(v) => v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()).ok_or_else(|| {
            ApiError::bad_request("invalid_last_event_id", "Last-Event-ID must be a seq number")
        })?,
        None => q.after.unwrap_or(0),
    };
    let after = cursor(after)?;
    let permit = state.limiter.stream(caller.token_id, &caller.name)?;
    let counted = state.metrics.stream_opened();
    tracing::debug!(client = %caller.name, after, "stream opened");
    let revoked = until_revoked(state.store.clone(), caller.token_hash, caller.name.clone());
    let events =
        follow(state.hub.clone(), after, state.shutdown.clone()).take_until(revoked).map(move |item| {
            let _open = (&permit, &counted); // the slot is held (and counted) as long as the stream
            Ok::<_, Infallible>(SseEvent::default().id(item.seq.to_string()).event("event").data(&*item.json))
        });
    let hello = stream::once(async { Ok::<_, Infallible>(SseEvent::default().comment("connected")) });
    let sse =
        Sse::new(hello.chain(events)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"));
    let mut res = sse.into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(res)
}

/// Resolves once the token is revoked or gone (checked every [`TOKEN_RECHECK`]); a store that
/// does not answer is not a revocation. Ends open streams and long polls.
async fn until_revoked(store: Arc<dyn Store>, hash: [u8; 32], name: String) {
    loop {
        tokio::time::sleep(TOKEN_RECHECK).await;
        match store.find_token(hash).await {
            Ok(Some(t)) if !t.revoked => {}
            // oidc: a sign-in session's stream lasts while the session does.
            Ok(None) if session_open(store.as_ref(), hash).await => {}
            Ok(_) => {
                tracing::info!(client = %name, "token revoked: ending its stream or long poll");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot re-check the token; keeping the stream or long poll")
            }
        }
    }
}

/// Whether `hash` is a sign-in session that has neither ended nor expired (a store that does
/// not answer counts as open, like a token).
async fn session_open(store: &dyn Store, hash: [u8; 32]) -> bool {
    match store.find_session(hash).await {
        Ok(Some(s)) => s.ended_at.is_none() && s.expires_at > chrono::Utc::now(),
        Ok(None) => false,
        Err(_) => true,
    }
}

struct Follow {
    hub: Arc<Hub>,
    rx: watch::Receiver<u64>,
    cursor: u64,
    pending: VecDeque<Item>,
    shutdown: CancellationToken,
}

/// Every event after `after`, in seq order, then each new one; ends at shutdown (or on a
/// store error, after which the client resumes from its last id).
pub fn follow(hub: Arc<Hub>, after: u64, shutdown: CancellationToken) -> impl Stream<Item = Item> + Send {
    let rx = hub.subscribe();
    let st = Follow { hub, rx, cursor: after, pending: VecDeque::new(), shutdown };
    stream::unfold(st, |mut st| async move {
        loop {
            if st.shutdown.is_cancelled() {
                return None;
            }
            if let Some(item) = st.pending.pop_front() {
                st.cursor = item.seq;
                return Some((item, st));
            }
            st.rx.borrow_and_update();
            match st.hub.read(st.cursor, MAX_LIMIT, None).await {
                Ok(page) if !page.items.is_empty() => {
                    st.pending.extend(page.items);
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, cursor = st.cursor, "stream: reading events failed; closing");
                    return None;
                }
            }
            tokio::select! {
                changed = st.rx.changed() => if changed.is_err() { return None },
                _ = st.shutdown.cancelled() => return None,
            }
        }
    })
}
