//! Following the log: `GET /events` (a page after a cursor, or a long poll with `wait`) and
//! `GET /stream` (Server-Sent Events, `id:` = seq, resumable with `Last-Event-ID`). Both read
//! through the hub, so they see events in seq order, each once.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt, stream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, Query, ReadRefusal, Unauthorized};
use super::hub::{Hub, Item, Watchers};
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

/// Responses of at least this many bytes are compressed when the client accepts it.
pub const COMPRESS_ABOVE: u16 = 1024;

/// gzip for what a client accepts it for (`Accept-Encoding`): catch-up pages (`/events`),
/// snapshots and lists, for slow jump-host links. Never the SSE stream: its frames are flushed
/// one by one as they happen, a few hundred bytes each, where a per-stream compressor would cost
/// memory and CPU on every stream for little gain (see README, Performance). Small bodies are
/// not worth it either.
pub fn compression() -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::predicate::{NotForContentType, Predicate as _, SizeAbove};
    tower_http::compression::CompressionLayer::new().compress_when(
        SizeAbove::new(COMPRESS_ABOVE)
            .and(NotForContentType::SSE)
            .and(NotForContentType::GRPC)
            .and(NotForContentType::IMAGES),
    )
}

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
    let revoked = until_revoked(&state.hub, caller.token_hash, &caller.name);
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
    let revoked = until_revoked(&state.hub, caller.token_hash, &caller.name);
    // Each event's frame is the hub's, shared by every stream (no copy, no serialization
    // here). Not compressed: every frame is flushed on its own, where compression gains little
    // and costs a compressor per stream (see README, Performance).
    let frames =
        sse_frames(state.hub.clone(), after, state.shutdown.clone()).take_until(revoked).map(move |frame| {
            let _open = (&permit, &counted); // the slot is held (and counted) as long as the stream
            Ok::<_, Infallible>(frame)
        });
    let mut res = Body::from_stream(frames).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(res)
}

/// Resolves once the token is revoked or gone (checked every [`TOKEN_RECHECK`], once per token
/// however many streams and long polls it has open); a store that does not answer is not a
/// revocation. Ends open streams and long polls.
fn until_revoked(hub: &Hub, hash: [u8; 32], name: &str) -> impl std::future::Future<Output = ()> + use<> {
    let mut rx = {
        let mut watchers = hub.watchers.lock().unwrap_or_else(|p| p.into_inner());
        match watchers.get(&hash) {
            Some(rx) => rx.clone(),
            None => {
                let (tx, rx) = watch::channel(false);
                watchers.insert(hash, rx.clone());
                tokio::spawn(watch_token(
                    hub.store().clone(),
                    hub.watchers.clone(),
                    hash,
                    name.to_string(),
                    tx,
                ));
                rx
            }
        }
    };
    async move {
        if rx.wait_for(|revoked| *revoked).await.is_err() {
            // The watcher stopped without a verdict (the runtime is ending): never resolves.
            std::future::pending::<()>().await;
        }
    }
}

/// One token's revocation check, while any stream or long poll of it is open.
async fn watch_token(
    store: Arc<dyn Store>,
    watchers: Arc<Watchers>,
    hash: [u8; 32],
    name: String,
    tx: watch::Sender<bool>,
) {
    loop {
        tokio::time::sleep(TOKEN_RECHECK).await;
        {
            let mut w = watchers.lock().unwrap_or_else(|p| p.into_inner());
            // Only the registry's own receiver is left: nobody listens any more.
            if tx.receiver_count() <= 1 {
                w.remove(&hash);
                return;
            }
        }
        let revoked = match store.find_token(hash).await {
            Ok(Some(t)) if !t.revoked => false,
            // oidc: a sign-in session's stream lasts while the session does.
            Ok(None) if session_open(store.as_ref(), hash).await => false,
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "cannot re-check the token; keeping the stream or long poll");
                false
            }
        };
        if revoked {
            tracing::info!(client = %name, "token revoked: ending its streams and long polls");
            watchers.lock().unwrap_or_else(|p| p.into_inner()).remove(&hash);
            tx.send_replace(true);
            return;
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
    /// The keep-alive: a comment after this long without anything sent, and its one timer.
    /// The timer is set once per keep-alive period, not once per event (a timer registered
    /// and cancelled per event per stream was a share of the fan-out's CPU): when it fires
    /// early (something was sent since), it is moved to `last_out + idle`.
    keep_alive: Option<(Duration, std::pin::Pin<Box<tokio::time::Sleep>>)>,
    /// When the stream last gave something out (an event or a keep-alive).
    last_out: tokio::time::Instant,
}

enum Next {
    Item(Item),
    /// Nothing for the keep-alive period.
    Idle,
}

impl Follow {
    fn new(hub: Arc<Hub>, after: u64, shutdown: CancellationToken, idle: Option<Duration>) -> Self {
        let rx = hub.subscribe();
        let now = tokio::time::Instant::now();
        let keep_alive = idle.map(|d| (d, Box::pin(tokio::time::sleep_until(now + d))));
        Follow { hub, rx, cursor: after, pending: VecDeque::new(), shutdown, keep_alive, last_out: now }
    }

    /// The next event, or `Idle` after the keep-alive period without one; `None` at shutdown
    /// or on a store error (after which the client resumes from its last id).
    async fn next(&mut self) -> Option<Next> {
        loop {
            if self.shutdown.is_cancelled() {
                return None;
            }
            if let Some(item) = self.pending.pop_front() {
                self.cursor = item.seq;
                if self.keep_alive.is_some() {
                    self.last_out = tokio::time::Instant::now();
                }
                return Some(Next::Item(item));
            }
            if self.pending.capacity() > 64 {
                // A catch-up is over: an idle stream keeps no big buffer.
                self.pending = VecDeque::new();
            }
            self.rx.borrow_and_update();
            // The ring covers the cursor (the usual case): items straight from it.
            if !self.hub.fill(self.cursor, MAX_LIMIT as usize, &mut self.pending) {
                match self.hub.read(self.cursor, MAX_LIMIT, None).await {
                    Ok(page) => self.pending.extend(page.items),
                    Err(e) => {
                        tracing::warn!(error = %e, cursor = self.cursor, "stream: reading events failed; closing");
                        return None;
                    }
                }
            }
            if !self.pending.is_empty() {
                continue;
            }
            let Follow { rx, shutdown, keep_alive, last_out, .. } = self;
            let timer = async {
                match keep_alive {
                    Some((_, sleep)) => sleep.as_mut().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { return None },
                _ = shutdown.cancelled() => return None,
                _ = timer => {
                    let Some((idle, sleep)) = keep_alive.as_mut() else { continue };
                    let now = tokio::time::Instant::now();
                    let due = *last_out + *idle;
                    if now >= due {
                        *last_out = now;
                        sleep.as_mut().reset(now + *idle);
                        return Some(Next::Idle);
                    }
                    sleep.as_mut().reset(due);
                }
            }
        }
    }
}

/// Every event after `after`, in seq order, then each new one; ends at shutdown (or on a
/// store error, after which the client resumes from its last id).
pub fn follow(hub: Arc<Hub>, after: u64, shutdown: CancellationToken) -> impl Stream<Item = Item> + Send {
    stream::unfold(Follow::new(hub, after, shutdown, None), |mut st| async move {
        match st.next().await? {
            Next::Item(item) => Some((item, st)),
            Next::Idle => None,
        }
    })
}

/// The SSE body: a `: connected` comment, then each event's frame, and a `: keep-alive`
/// comment after [`KEEP_ALIVE`] without one.
fn sse_frames(hub: Arc<Hub>, after: u64, shutdown: CancellationToken) -> impl Stream<Item = Bytes> + Send {
    sse_frames_every(hub, after, shutdown, KEEP_ALIVE)
}

/// [`sse_frames`] with a keep-alive after `idle`.
fn sse_frames_every(
    hub: Arc<Hub>,
    after: u64,
    shutdown: CancellationToken,
    idle: Duration,
) -> impl Stream<Item = Bytes> + Send {
    let hello = stream::once(async { Bytes::from_static(b": connected\n\n") });
    let frames = stream::unfold(Follow::new(hub, after, shutdown, Some(idle)), |mut st| async move {
        match st.next().await? {
            Next::Item(item) => Some((item.frame, st)),
            Next::Idle => Some((Bytes::from_static(b": keep-alive\n\n"), st)),
        }
    });
    hello.chain(frames).fuse()
}

#[cfg(test)]
mod tests {
    //! The SSE body's keep-alive (a short period, real time: only lower bounds are checked,
    //! which a loaded machine cannot break).

    use std::sync::Arc;
    use std::time::Duration;

    use futures::StreamExt;
    use tokio::time::Instant;
    use tokio_util::sync::CancellationToken;

    use super::super::hub::Hub;
    use super::super::sqlite::SqliteStore;
    use super::super::store::{AppendCtx, Store};
    use super::super::tests::{declared, note};
    use super::sse_frames_every;
    use crate::api::Role;

    #[tokio::test]
    async fn a_keep_alive_follows_the_last_frame_by_the_keep_alive_period() {
        let idle = Duration::from_millis(600);
        let store = Arc::new(SqliteStore::open("sqlite::memory:").await.unwrap());
        let practice = crate::assets::load_practice(None, None).unwrap();
        let ctx = || AppendCtx { author: "ic", role: Role::Commander, practice: &practice, if_match: None };
        let inc = store.declare(ctx(), declared("SEV-2")).await.unwrap().incident.id;
        let cancel = CancellationToken::new();
        let hub = Hub::start(store.clone(), cancel.clone()).await.unwrap();
        let start = Instant::now();
        let mut frames = Box::pin(sse_frames_every(hub, 1, cancel.clone(), idle));
        let text = |b: axum::body::Bytes| String::from_utf8(b.to_vec()).unwrap();

        assert_eq!(text(frames.next().await.unwrap()), ": connected\n\n");
        assert_eq!(text(frames.next().await.unwrap()), ": keep-alive\n\n");
        assert!(start.elapsed() >= idle, "a keep-alive after {:?}", start.elapsed());
        let first = Instant::now();

        // An event two thirds into the next period: the next keep-alive comes a whole period
        // after the event, not one period after the last keep-alive.
        tokio::time::sleep_until(first + idle * 2 / 3).await;
        store.append(ctx(), &inc, vec![note("rollback started")]).await.unwrap();
        let frame = text(frames.next().await.unwrap());
        assert!(frame.contains("rollback started"), "{frame}");
        let sent = Instant::now();
        assert_eq!(text(frames.next().await.unwrap()), ": keep-alive\n\n");
        assert!(sent.elapsed() >= idle * 9 / 10, "the keep-alive {:?} after the event", sent.elapsed());
        cancel.cancel();
        assert!(frames.next().await.is_none(), "the stream ends at shutdown");
    }
}
