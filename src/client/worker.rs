//! The sync worker's tasks: the follower (hello, snapshot, SSE with resume and a long-poll
//! fallback, reconnect with jittered backoff, link state), the flusher (outbox in order) and the
//! command loop (submit, timeline loads, shutdown). Everything reaches the console as `SyncMsg`;
//! the console talks to it through a `SyncHandle` (the protocol is in `sync.rs`).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use rand::Rng;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::cache;
use super::flush::{self, Flushed};
use super::http::{ApiClient, ClientError, STREAM_READ_TIMEOUT};
use super::outbox::{Outbox, Pending};
use super::sync::{Command, LinkState, SyncHandle, SyncMsg, Writes};
use crate::domain::Event;

/// Tunables of the worker. The defaults are what the console uses.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// A stream that connects but sends nothing for this long is buffered by a proxy: long-poll.
    pub first_byte_timeout: Duration,
    /// Longest silence on the stream before reconnecting (keep-alives come every 15 s).
    pub read_timeout: Duration,
    /// Seconds a long poll waits on the server.
    pub long_poll_wait: u64,
    /// After falling back to long polling, how long until the stream is tried again (the
    /// buffering proxy or the stall that caused the fallback may be gone).
    pub stream_retry: Duration,
    /// Failed attempts before the link shows as offline (it keeps retrying).
    pub offline_after: u32,
    /// First reconnect delay; doubles per attempt up to `backoff_cap`, with jitter.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// The console's local cache, kept up to date with what the worker sees (and read for
    /// timeline loads it holds whole).
    pub cache: Option<cache::Writer>,
    /// The console started from its cache at this seq: after checking that the server's
    /// history is the one cached, follow from there instead of taking a snapshot.
    pub resume: Option<cache::Resume>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            first_byte_timeout: Duration::from_secs(5),
            read_timeout: STREAM_READ_TIMEOUT,
            long_poll_wait: 25,
            stream_retry: Duration::from_secs(300),
            offline_after: 3,
            backoff_base: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(10),
            cache: None,
            resume: None,
        }
    }
}

/// Jittered exponential backoff: `base * 2^(attempt-1)`, capped, times a random 0.5..1.0.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let d = exp.min(cap);
    d.mul_f64(rand::rng().random_range(0.5..=1.0))
}

struct Ctx {
    client: ApiClient,
    outbox: Outbox,
    out: mpsc::UnboundedSender<SyncMsg>,
    /// Wakes the flusher (a submit, or the link came back).
    wake: Notify,
    opts: WorkerOptions,
}

impl Ctx {
    fn emit(&self, msg: SyncMsg) {
        let _ = self.out.send(msg);
    }

    async fn pending_count(&self) -> usize {
        let o = self.outbox.clone();
        tokio::task::spawn_blocking(move || o.pending().map(|p| p.len()).unwrap_or(0)).await.unwrap_or(0)
    }
}

/// Starts the sync worker on the current tokio runtime: hello, snapshot, live events, outbox
/// flushing. Everything it learns arrives on `out`; the handle sends it commands.
pub fn spawn(client: ApiClient, outbox: Outbox, out: mpsc::UnboundedSender<SyncMsg>) -> SyncHandle {
    let (handle, commands) = SyncHandle::channel();
    spawn_with(client, outbox, commands, out, WorkerOptions::default());
    handle
}

/// Starts the worker on a command receiver made by [`SyncHandle::channel`], with explicit
/// options. The task ends on `Command::Shutdown` or when every handle is dropped.
pub fn spawn_with(
    client: ApiClient,
    outbox: Outbox,
    commands: mpsc::UnboundedReceiver<Command>,
    out: mpsc::UnboundedSender<SyncMsg>,
    opts: WorkerOptions,
) -> JoinHandle<()> {
    let ctx = Arc::new(Ctx { client, outbox, out, wake: Notify::new(), opts });
    tokio::spawn(run(ctx, commands))
}

async fn run(ctx: Arc<Ctx>, mut commands: mpsc::UnboundedReceiver<Command>) {
    ctx.emit(SyncMsg::Link(LinkState::Connecting));
    ctx.emit(SyncMsg::Outbox { pending: ctx.pending_count().await });
    let follower = tokio::spawn(follow(ctx.clone()));
    let flusher = tokio::spawn(flush_loop(ctx.clone()));
    let mut loads: Vec<JoinHandle<()>> = Vec::new();
    while let Some(cmd) = commands.recv().await {
        match cmd {
            Command::Submit { target, event, if_match } => {
                let p = Pending { target: target.clone(), event: event.clone(), if_match };
                let o = ctx.outbox.clone();
                let pushed = tokio::task::spawn_blocking(move || {
                    o.push(&p)?;
                    o.pending().map(|v| v.len())
                })
                .await;
                match pushed {
                    Ok(Ok(pending)) => {
                        ctx.emit(SyncMsg::Queued { target, event });
                        ctx.emit(SyncMsg::Outbox { pending });
                        ctx.wake.notify_one();
                    }
                    Ok(Err(e)) => ctx.emit(SyncMsg::Notice(format!(
                        "could not save the entry to the outbox {}: {e} — it was NOT queued",
                        ctx.outbox.path().display()
                    ))),
                    Err(e) => ctx.emit(SyncMsg::Notice(format!("outbox write failed: {e}"))),
                }
            }
            Command::LoadTimeline { incident } => {
                loads.retain(|h| !h.is_finished());
                let ctx = ctx.clone();
                loads.push(tokio::spawn(async move {
                    if let Some(c) = &ctx.opts.cache {
                        if let Some(events) = c.read(&incident).await {
                            tracing::debug!(%incident, n = events.len(), "timeline from the cache");
                            ctx.emit(SyncMsg::Timeline { incident, events });
                            return;
                        }
                        c.load_asked(&incident);
                    }
                    match ctx.client.incident(&incident, true).await {
                        Ok(snap) => {
                            let events = snap.events.unwrap_or_default();
                            if let Some(c) = &ctx.opts.cache {
                                c.loaded(&incident, events.clone());
                            }
                            ctx.emit(SyncMsg::Timeline { incident, events });
                        }
                        Err(e) => ctx.emit(SyncMsg::Notice(format!("cannot load {incident}: {e}"))),
                    }
                }));
            }
            Command::Shutdown => break,
        }
    }
    follower.abort();
    flusher.abort();
    for h in loads {
        h.abort();
    }
}

/// Sends the outbox whenever woken; retries with backoff while the server is away.
async fn flush_loop(ctx: Arc<Ctx>) {
    let mut attempt = 0u32;
    let mut writes = Writes::Ok;
    loop {
        let result = flush::flush(&ctx.client, &ctx.outbox, |f| match f {
            Flushed::Acked { response, .. } => ctx.emit(SyncMsg::Acked { events: response.events }),
            Flushed::Refused { pending, error } => ctx.emit(SyncMsg::Refused {
                target: pending.target,
                event: pending.event,
                status: error.status().unwrap_or(400),
                error: error.error_body(),
            }),
        })
        .await;
        match result {
            Ok(outcome) => {
                attempt = 0;
                if writes.is_refused() {
                    writes = Writes::Ok;
                    ctx.emit(SyncMsg::Writes(Writes::Ok));
                }
                if outcome.acked + outcome.refused > 0 {
                    ctx.emit(SyncMsg::Outbox { pending: outcome.remaining });
                }
                if outcome.remaining == 0 {
                    ctx.wake.notified().await;
                }
            }
            Err(stopped) => {
                attempt = attempt.saturating_add(1);
                tracing::info!("outbox flush stopped: {}", stopped.error);
                if let Some(now) = refusal(&stopped.error, &writes) {
                    tracing::warn!("the server refuses writes: {}", stopped.error);
                    writes = now;
                    ctx.emit(SyncMsg::Writes(writes.clone()));
                }
                if stopped.outcome.acked + stopped.outcome.refused > 0 {
                    ctx.emit(SyncMsg::Outbox { pending: stopped.outcome.remaining });
                }
                let delay = backoff(attempt, ctx.opts.backoff_base * 2, ctx.opts.backoff_cap);
                tokio::select! {
                    _ = ctx.wake.notified() => {}
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// The write state a stopped flush means, when it differs from `was`: a refusal from a server
/// that answered (5xx, 429, 408, or 401 for the token). `None` when nothing changes, and for an
/// unreachable server (the link state says that) or a local outbox failure (status 0).
fn refusal(error: &ClientError, was: &Writes) -> Option<Writes> {
    let (status, code, message) = match error {
        ClientError::Unauthorized { message } => (401, "unauthorized", message),
        ClientError::Server { status, code, message, .. } if *status != 0 => {
            (*status, code.as_str(), message)
        }
        _ => return None,
    };
    match was {
        Writes::Refused { status: s, error: c, message: m, .. }
            if *s == status && c == code && m == message =>
        {
            None
        }
        Writes::Refused { since, .. } => {
            Some(Writes::Refused { status, error: code.to_string(), message: message.clone(), since: *since })
        }
        Writes::Ok => Some(Writes::Refused {
            status,
            error: code.to_string(),
            message: message.clone(),
            since: Utc::now(),
        }),
    }
}

/// The follower's memory across reconnects.
struct Follow {
    /// The last seq delivered; `None` until the first snapshot.
    last: Option<u64>,
    hello: bool,
    /// Long polling since then, instead of streaming (the stream sent nothing at first).
    long_poll: Option<tokio::time::Instant>,
    attempt: u32,
    since: Option<chrono::DateTime<Utc>>,
    /// The cached seq to resume after, until the server's history was checked against it.
    resume: Option<cache::Resume>,
}

/// Why a session ended.
enum Lost {
    Client(ClientError),
    Other(String),
}

impl From<ClientError> for Lost {
    fn from(e: ClientError) -> Self {
        Lost::Client(e)
    }
}

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lost::Client(e) => e.fmt(f),
            Lost::Other(s) => f.write_str(s),
        }
    }
}

async fn follow(ctx: Arc<Ctx>) {
    let mut st = Follow {
        last: None,
        hello: false,
        long_poll: None,
        attempt: 0,
        since: None,
        resume: ctx.opts.resume.clone(),
    };
    loop {
        let lost = session(&ctx, &mut st).await;
        if st.resume.is_some()
            && let Lost::Client(e @ (ClientError::Unauthorized { .. } | ClientError::Forbidden { .. })) =
                &lost
        {
            // What was cached for this identity is not shown to a refused one.
            tracing::warn!("the server refused us ({e}): discarding the cache");
            discard_cache(&ctx, &mut st);
        }
        let error = match &lost {
            // oidc: short enough for the status line; the outbox keeps the entries.
            Lost::Client(e) if super::session::is_session_expired(e) => {
                "session expired: run `warroom login`".to_string()
            }
            // #15 item 16: short enough for the status line, and what to run.
            // The URL is on the screen already (the frame's title); the log has the whole story.
            Lost::Client(ClientError::Untrusted { changed: true, .. }) => {
                "CERT CHANGED! `warroom trust URL`".to_string()
            }
            Lost::Client(ClientError::Untrusted { .. }) => "untrusted cert: `warroom trust URL`".to_string(),
            _ => lost.to_string(),
        };
        tracing::info!("link lost: {error}");
        st.attempt = st.attempt.saturating_add(1);
        let since = *st.since.get_or_insert_with(Utc::now);
        // An untrusted certificate will not fix itself either (#15 item 16).
        let fatal =
            matches!(lost, Lost::Client(ClientError::Unauthorized { .. } | ClientError::Untrusted { .. }));
        if let Lost::Client(ClientError::Unreachable { url, .. }) = &lost
            && ctx.client.fail_over(url)
        {
            tracing::info!("failing over to {}", ctx.client.base());
        }
        let state = if st.attempt <= ctx.opts.offline_after && !fatal {
            LinkState::Reconnecting { attempt: st.attempt, since, error }
        } else {
            LinkState::Offline { since, error }
        };
        ctx.emit(SyncMsg::Link(state));
        tokio::time::sleep(backoff(st.attempt, ctx.opts.backoff_base, ctx.opts.backoff_cap)).await;
    }
}

fn went_live(ctx: &Ctx, st: &mut Follow, long_poll: bool) {
    st.attempt = 0;
    st.since = None;
    ctx.emit(SyncMsg::Link(LinkState::Live { long_poll }));
    ctx.wake.notify_one();
}

/// Delivers an event once: anything at or below the last seq delivered is a repeat.
fn deliver(ctx: &Ctx, st: &mut Follow, e: Event) {
    let last = st.last.unwrap_or(0);
    if e.seq <= last {
        tracing::debug!(seq = e.seq, last, "dropping a repeated event");
        return;
    }
    st.last = Some(e.seq);
    if let Some(c) = &ctx.opts.cache {
        c.event(e.clone());
    }
    ctx.emit(SyncMsg::Event(e));
}

fn discard_cache(ctx: &Ctx, st: &mut Follow) {
    st.resume = None;
    st.last = None;
    if let Some(c) = &ctx.opts.cache {
        c.reset();
    }
    ctx.emit(SyncMsg::CacheDiscarded);
}

/// One connection: hello and snapshot when not had yet, then the stream (or long polls) until
/// something breaks. Returns why it ended.
async fn session(ctx: &Ctx, st: &mut Follow) -> Lost {
    match session_inner(ctx, st).await {
        Ok(never) => match never {},
        Err(d) => d,
    }
}

enum Never {}

async fn session_inner(ctx: &Ctx, st: &mut Follow) -> Result<Never, Lost> {
    if !st.hello {
        let me = ctx.client.me().await?;
        let practice = ctx.client.practice().await?;
        if let Some(r) = st.resume.clone() {
            // Only the delta after the cached seq, if this is still the history it came from.
            let page = ctx.client.events(r.marker.seq.saturating_sub(1), None, Some(1)).await?;
            if r.matches(&me, &page) {
                tracing::info!(seq = r.seq, head = page.last_seq, "resuming after the cached seq");
                st.resume = None;
                st.last = Some(r.seq);
            } else {
                tracing::warn!(
                    seq = r.seq,
                    head = page.last_seq,
                    "the server's history is not the cached one (reset, or another server): discarding the cache"
                );
                discard_cache(ctx, st);
            }
        }
        if let Some(c) = &ctx.opts.cache {
            c.hello(me.clone(), practice.clone());
        }
        ctx.emit(SyncMsg::Hello { me, practice: Box::new(practice) });
        st.hello = true;
    }
    if st.last.is_none() {
        let list = ctx.client.incidents().await?;
        st.last = Some(list.seq);
        if let Some(c) = &ctx.opts.cache {
            c.snapshot(list.clone());
            if list.seq > 0 {
                // One event of this history, for the next start to check the server against.
                let (client, c, seq) = (ctx.client.clone(), c.clone(), list.seq);
                tokio::spawn(async move {
                    if let Ok(page) = client.events(seq - 1, None, Some(1)).await
                        && let Some(e) = page.events.first().filter(|e| e.seq == seq)
                    {
                        c.known(e.seq, e.id);
                    }
                });
            }
        }
        ctx.emit(SyncMsg::Snapshot(list));
    }
    loop {
        if st.long_poll.is_none() {
            let after = st.last.unwrap_or(0);
            // The answer's head and its first bytes must come in time: a proxy that buffers
            // streamed answers may hold either.
            let opened = tokio::time::timeout(ctx.opts.first_byte_timeout, async {
                let mut bytes = ctx.client.stream(after).await?.bytes_stream();
                let first = bytes.next().await;
                Ok::<_, ClientError>((first, bytes))
            })
            .await;
            match opened {
                Err(_) => {
                    tracing::warn!(
                        "the event stream sent nothing for {:?} (a buffering proxy?): long-polling instead",
                        ctx.opts.first_byte_timeout
                    );
                    st.long_poll = Some(tokio::time::Instant::now());
                }
                Ok(Err(e)) => return Err(e.into()),
                Ok(Ok((None, _))) => return Err(Lost::Other("the server closed the event stream".into())),
                Ok(Ok((Some(Err(e)), _))) => return Err(Lost::Other(stream_broke(&e))),
                Ok(Ok((Some(Ok(first)), bytes))) => {
                    went_live(ctx, st, false);
                    let mut events = sse(first, bytes, ctx.opts.read_timeout);
                    loop {
                        match events.next().await {
                            None => return Err(Lost::Other("the server closed the event stream".into())),
                            Some(Err(e)) => return Err(Lost::Other(stream_broke(&e))),
                            Some(Ok(ev)) => {
                                if !(ev.event.is_empty() || ev.event == "event" || ev.event == "message") {
                                    continue;
                                }
                                match serde_json::from_str::<Event>(&ev.data) {
                                    Ok(e) => deliver(ctx, st, e),
                                    Err(err) => {
                                        tracing::warn!(id = %ev.id, "unreadable event on the stream: {err}");
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // Long polling on the same cursor, until it is time to try the stream again.
        let mut live = false;
        while st.long_poll.is_some_and(|since| since.elapsed() < ctx.opts.stream_retry) {
            let after = st.last.unwrap_or(0);
            let page = ctx.client.events(after, Some(ctx.opts.long_poll_wait), Some(1000)).await?;
            if !live {
                went_live(ctx, st, true);
                live = true;
            }
            for e in page.events {
                deliver(ctx, st, e);
            }
        }
        tracing::info!("long-polled for {:?}: trying the event stream again", ctx.opts.stream_retry);
        st.long_poll = None;
    }
}

/// "the event stream broke: <innermost cause>", for a human.
fn stream_broke(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    if let Some(eventsource_stream::EventStreamError::Transport(ReadError::Silent(s))) =
        e.downcast_ref::<eventsource_stream::EventStreamError<ReadError<reqwest::Error>>>()
    {
        return format!("no data from the server for {s} s");
    }
    while let Some(next) = cur.source() {
        cur = next;
    }
    format!("the event stream broke: {cur}")
}

/// Why reading the stream's bytes failed.
#[derive(Debug, thiserror::Error)]
enum ReadError<E: std::error::Error + 'static> {
    #[error("no data from the server for {0} s")]
    Silent(u64),
    #[error(transparent)]
    Http(E),
}

/// Parses an SSE byte stream (its first chunk already read) into events. The read timeout
/// applies to bytes, keep-alive comments included: the parser swallows comments, so timing
/// parsed events would cut a quiet but healthy stream.
fn sse<B, E, S>(
    first: B,
    rest: S,
    read_timeout: Duration,
) -> impl futures::Stream<
    Item = Result<eventsource_stream::Event, eventsource_stream::EventStreamError<ReadError<E>>>,
>
where
    B: AsRef<[u8]>,
    E: std::error::Error + 'static,
    S: futures::Stream<Item = Result<B, E>> + Unpin,
{
    let rest = futures::stream::unfold(rest, move |mut bytes| async move {
        match tokio::time::timeout(read_timeout, bytes.next()).await {
            Err(_) => Some((Err(ReadError::Silent(read_timeout.as_secs())), bytes)),
            Ok(None) => None,
            Ok(Some(r)) => Some((r.map_err(ReadError::Http), bytes)),
        }
    });
    futures::stream::iter([Ok(first)]).chain(Box::pin(rest)).eventsource()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks arriving `gap` apart (virtual time).
    fn paced(
        chunks: Vec<&'static str>,
        gap: Duration,
    ) -> impl futures::Stream<Item = Result<&'static str, std::io::Error>> + Unpin {
        Box::pin(futures::stream::unfold(chunks.into_iter(), move |mut it| async move {
            let c = it.next()?;
            tokio::time::sleep(gap).await;
            Some((Ok(c), it))
        }))
    }

    // Real time, scaled down, with wide margins: a keep-alive every 100 ms against a 1 s read
    // timeout, for 3 s.
    #[tokio::test]
    async fn keep_alive_comments_keep_a_quiet_stream_open() {
        let mut chunks = vec![": keep-alive\n\n"; 30];
        chunks.push("id: 5\nevent: event\ndata: {}\n\n");
        let gap = Duration::from_millis(100);
        let mut s = Box::pin(sse(": connected\n\n", paced(chunks, gap), Duration::from_secs(1)));
        let ev = s.next().await.unwrap().unwrap();
        assert_eq!(ev.id, "5");
        assert!(s.next().await.is_none());
    }

    #[tokio::test]
    async fn a_silent_stream_times_out() {
        let chunks = vec!["id: 5\nevent: event\ndata: {}\n\n"];
        let gap = Duration::from_secs(3600);
        let mut s = Box::pin(sse(": connected\n\n", paced(chunks, gap), Duration::from_millis(200)));
        let err = s.next().await.unwrap().unwrap_err();
        assert!(
            matches!(err, eventsource_stream::EventStreamError::Transport(ReadError::Silent(0))),
            "{err:?}"
        );
    }

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        let (base, cap) = (Duration::from_millis(250), Duration::from_secs(10));
        for attempt in 1..20 {
            let d = backoff(attempt, base, cap);
            let full = (base * 2u32.pow((attempt - 1).min(16))).min(cap);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} vs {full:?}");
        }
    }
}
