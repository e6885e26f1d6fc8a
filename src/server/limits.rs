//! Per-token limits: a token bucket for writes (everyone on a jump host shares one IP, so the
//! key is the token, not the address) and a cap on open streams. Both answer a JSON 429.
//! Small and hand-written: a mutex-guarded map keyed by token id, pruned as it grows.
//! [`Limits`] (with the request body limit) is also the config's `[serve.limits]` table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use super::error::ApiError;

/// Default largest request body: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Smallest body limit a config may set (a declare with a title and summary must fit).
pub const MIN_MAX_BODY_BYTES: usize = 4 * 1024;
/// Largest body limit a config may set: the server holds a body in memory while reading it.
pub const MAX_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Default and largest cap on alerts in one Alertmanager notification: one append's worth.
pub const DEFAULT_MAX_ALERTS: usize = 1_000;
/// Shortest idle timeout a config may set: longer than the longest long poll (60 s) plus the
/// stream keep-alive (15 s), so neither is ever cut as idle.
pub const MIN_IDLE_TIMEOUT_SECS: u64 = 90;

/// How much one token may do, and how large a request may be. `[serve.limits]` in the config;
/// every key is optional and checked when the config is read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Writes (declares, appends, webhook posts) per second per token, sustained.
    #[serde(deserialize_with = "positive_rate")]
    pub writes_per_sec: f64,
    /// Writes a token may make at once before the sustained rate applies.
    #[serde(deserialize_with = "at_least_one_u32")]
    pub write_burst: u32,
    /// Open streams (`GET /stream`) per token.
    #[serde(deserialize_with = "at_least_one_usize")]
    pub streams_per_token: usize,
    /// Largest request body in bytes (413 `too_large` above it).
    #[serde(deserialize_with = "body_bytes")]
    pub max_body_bytes: usize,
    /// Events written per second per token, sustained (a batch of 1,000 counts 1,000).
    /// Not set: [`DEFAULT_EVENTS_PER_SEC`], or `writes_per_sec` when that is higher (every
    /// write is at least one event, so raising the write rate alone keeps its meaning).
    #[serde(deserialize_with = "some_positive_rate", skip_serializing_if = "Option::is_none")]
    pub events_per_sec: Option<f64>,
    /// Events a token may write at once before the sustained rate applies. Not set:
    /// [`DEFAULT_EVENT_BURST`], or `write_burst` when that is higher.
    #[serde(deserialize_with = "some_at_least_one_u32", skip_serializing_if = "Option::is_none")]
    pub event_burst: Option<u32>,
    /// Request body bytes written per second per token, sustained.
    #[serde(deserialize_with = "positive_rate")]
    pub bytes_per_sec: f64,
    /// Body bytes a token may write at once before the sustained rate applies.
    #[serde(deserialize_with = "at_least_one_u32")]
    pub byte_burst: u32,
    /// Open long polls (`GET /events?wait=`) per token.
    #[serde(deserialize_with = "at_least_one_usize")]
    pub long_polls_per_token: usize,
    /// Most alerts in one Alertmanager notification (413 `too_many_alerts` above it).
    #[serde(deserialize_with = "alert_cap")]
    pub max_alerts: usize,
    /// Most connections open at once (all clients together); `None`: from the open-files limit.
    #[serde(deserialize_with = "connection_cap")]
    pub max_connections: Option<usize>,
    /// Seconds a client has to send a request's headers (and to finish a TLS handshake); an
    /// idle keep-alive connection is closed after as long.
    #[serde(deserialize_with = "header_secs")]
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's whole body (408 `request_timeout` after).
    #[serde(deserialize_with = "body_secs")]
    pub body_timeout_secs: u64,
    /// Seconds a connection may stay silent both ways before it is closed (longer than the
    /// longest long poll, 60 s, and the stream keep-alive, 15 s).
    #[serde(deserialize_with = "idle_secs")]
    pub idle_timeout_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            writes_per_sec: 20.0,
            write_burst: 100,
            streams_per_token: 32,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            events_per_sec: None,
            event_burst: None,
            bytes_per_sec: 1024.0 * 1024.0,
            byte_burst: 8 * 1024 * 1024,
            long_polls_per_token: 32,
            max_alerts: DEFAULT_MAX_ALERTS,
            max_connections: None,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            idle_timeout_secs: 120,
        }
    }
}

impl Limits {
    /// No practical rate or stream limit (the default body limit): for benchmarks and tests
    /// about something else.
    pub fn unlimited() -> Self {
        Limits {
            writes_per_sec: 1e9,
            write_burst: u32::MAX,
            streams_per_token: usize::MAX,
            events_per_sec: Some(1e12),
            event_burst: Some(u32::MAX),
            bytes_per_sec: 1e15,
            byte_burst: u32::MAX,
            long_polls_per_token: usize::MAX,
            ..Limits::default()
        }
    }
}

/// Events per second per token when neither `events_per_sec` nor a higher `writes_per_sec` is set.
pub const DEFAULT_EVENTS_PER_SEC: f64 = 200.0;
/// Event burst per token when neither `event_burst` nor a higher `write_burst` is set.
pub const DEFAULT_EVENT_BURST: u32 = 2_000;

impl Limits {
    /// The sustained events per second per token in force: `events_per_sec` when set, else
    /// the larger of [`DEFAULT_EVENTS_PER_SEC`] and `writes_per_sec`.
    pub fn event_rate(&self) -> f64 {
        self.events_per_sec.unwrap_or(DEFAULT_EVENTS_PER_SEC.max(self.writes_per_sec))
    }

    /// The event burst per token in force: `event_burst` when set, else the larger of
    /// [`DEFAULT_EVENT_BURST`] and `write_burst`.
    pub fn event_bucket(&self) -> u32 {
        self.event_burst.unwrap_or(DEFAULT_EVENT_BURST.max(self.write_burst))
    }
}

/// A number from the config, whatever TOML type it was written as; says what it expected
/// in plain words when it is not a number at all.
struct Number(&'static str);

impl serde::de::Visitor<'_> for Number {
    type Value = f64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.0)
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
}

/// A whole number in `min..=max`, else an error saying `expected`.
fn whole<'de, D: Deserializer<'de>>(
    d: D,
    expected: &'static str,
    min: u64,
    max: u64,
) -> Result<u64, D::Error> {
    let v = d.deserialize_any(Number(expected))?;
    if v.fract() == 0.0 && v >= min as f64 && v <= max as f64 {
        Ok(v as u64)
    } else {
        Err(serde::de::Error::custom(format!("expected {expected} (got {v})")))
    }
}

fn positive_rate<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    const EXPECTED: &str = "a number of writes per second above 0, e.g. 20 or 0.5";
    let v = d.deserialize_any(Number(EXPECTED))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(serde::de::Error::custom(format!("expected {EXPECTED} (got {v})")))
    }
}

fn some_positive_rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    positive_rate(d).map(Some)
}

fn some_at_least_one_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    at_least_one_u32(d).map(Some)
}

fn at_least_one_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = whole(d, "a whole number, at least 1", 1, u64::from(u32::MAX))?;
    Ok(u32::try_from(v).unwrap_or(u32::MAX))
}

fn at_least_one_usize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let v = whole(d, "a whole number, at least 1", 1, u64::from(u32::MAX))?;
    Ok(usize::try_from(v).unwrap_or(usize::MAX))
}

fn body_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    const EXPECTED: &str = "a number of bytes from 4096 (4 KiB) to 67108864 (64 MiB)";
    let v = whole(d, EXPECTED, MIN_MAX_BODY_BYTES as u64, MAX_MAX_BODY_BYTES as u64)?;
    Ok(usize::try_from(v).unwrap_or(MAX_MAX_BODY_BYTES))
}

fn alert_cap<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let v = whole(d, "a whole number of alerts from 1 to 1000", 1, DEFAULT_MAX_ALERTS as u64)?;
    Ok(usize::try_from(v).unwrap_or(DEFAULT_MAX_ALERTS))
}

fn connection_cap<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let v = whole(d, "a whole number of connections, at least 1", 1, u64::from(u32::MAX))?;
    Ok(Some(usize::try_from(v).unwrap_or(usize::MAX)))
}

fn header_secs<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    whole(d, "a whole number of seconds from 1 to 300", 1, 300)
}

fn body_secs<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    whole(d, "a whole number of seconds from 1 to 3600", 1, 3600)
}

fn idle_secs<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    whole(d, "a whole number of seconds from 90 to 86400", MIN_IDLE_TIMEOUT_SECS, 86_400)
}

/// `n` bytes as a person reads it: `1 MiB`, `8 KiB`, `5000 bytes`.
pub fn human_bytes(n: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets, one per API token.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<Uuid, Bucket>>,
}

/// Buckets kept before full (refilled) ones are dropped.
const PRUNE_AT: usize = 4096;

impl RateLimiter {
    pub fn new(per_sec: f64, burst: u32) -> Self {
        let rate = if per_sec.is_finite() && per_sec > 0.0 { per_sec } else { f64::MIN_POSITIVE };
        RateLimiter { rate, burst: f64::from(burst.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one unit for `key`; when none is left, how long until one is.
    pub fn take(&self, key: Uuid, now: Instant) -> Result<(), Duration> {
        self.take_n(key, 1.0, now)
    }

    /// Takes `n` units for `key` (at most a full bucket: a request larger than the burst
    /// passes when the bucket is full); when too few are left, how long until enough are.
    pub fn take_n(&self, key: Uuid, n: f64, now: Instant) -> Result<(), Duration> {
        let n = n.clamp(0.0, self.burst);
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= PRUNE_AT {
            let (rate, burst) = (self.rate, self.burst);
            map.retain(|_, b| b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let b = map.entry(key).or_insert(Bucket { tokens: self.burst, at: now });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.at = now;
        if b.tokens >= n {
            b.tokens -= n;
            Ok(())
        } else {
            let wait = (n - b.tokens) / self.rate;
            Err(Duration::try_from_secs_f64(wait).unwrap_or(Duration::from_secs(3600)))
        }
    }
}

/// Counts open streams per token.
#[derive(Debug)]
pub struct StreamCounter {
    max: usize,
    open: Mutex<HashMap<Uuid, usize>>,
}

/// One open stream; dropping it (when the stream ends or the client leaves) frees the slot.
#[derive(Debug)]
pub struct StreamPermit {
    counter: Arc<StreamCounter>,
    key: Uuid,
}

impl StreamCounter {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(StreamCounter { max, open: Mutex::new(HashMap::new()) })
    }

    /// A slot for one more stream of `key`, if it has fewer than the maximum open.
    pub fn acquire(self: &Arc<Self>, key: Uuid) -> Option<StreamPermit> {
        let mut map = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(key).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(StreamPermit { counter: self.clone(), key })
    }

    /// Streams open for `key`.
    pub fn open(&self, key: Uuid) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).get(&key).copied().unwrap_or(0)
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut map = self.counter.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// The server's limiters, shared by the handlers.
#[derive(Debug)]
pub struct Limiter {
    pub limits: Limits,
    writes: RateLimiter,
    streams: Arc<StreamCounter>,
    events: RateLimiter,
    bytes: RateLimiter,
    long_polls: Arc<StreamCounter>,
}

impl Limiter {
    pub fn new(limits: Limits) -> Self {
        Limiter {
            limits,
            writes: RateLimiter::new(limits.writes_per_sec, limits.write_burst),
            streams: StreamCounter::new(limits.streams_per_token),
            events: RateLimiter::new(limits.event_rate(), limits.event_bucket()),
            bytes: RateLimiter::new(limits.bytes_per_sec, limits.byte_burst),
            long_polls: StreamCounter::new(limits.long_polls_per_token),
        }
    }

    /// Counts the work of one write of `token`: its body's `bytes`, then its `events`; a 429
    /// `rate_limited` (with `Retry-After`) when either is over the token's rate. Call after
    /// [`Limiter::write`], which counts the request.
    pub fn work(&self, token: Uuid, name: &str, events: usize, bytes: usize) -> Result<(), ApiError> {
        let now = Instant::now();
        let refuse = |what: &str, rate: f64, burst: u32, wait: Duration| {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            tracing::warn!(token = %name, retry_after = secs, what, "write volume limit reached");
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "too many {what} written with this token (limit {rate} per second, burst {burst}); \
                     retry in {secs} s"
                ),
            );
            e.retry_after = Some(secs);
            e
        };
        let l = &self.limits;
        self.bytes
            .take_n(token, bytes as f64, now)
            .map_err(|w| refuse("bytes", l.bytes_per_sec, l.byte_burst, w))?;
        self.events
            .take_n(token, events as f64, now)
            .map_err(|w| refuse("events", l.event_rate(), l.event_bucket(), w))
    }

    /// A slot for a new long poll of `token`; a 429 `too_many_long_polls` when it has the most
    /// waiting.
    pub fn long_poll(&self, token: Uuid, name: &str) -> Result<StreamPermit, ApiError> {
        self.long_polls.acquire(token).ok_or_else(|| {
            tracing::warn!(token = %name, max = self.limits.long_polls_per_token, "long poll cap reached");
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_long_polls",
                format!(
                    "this token already has {} long polls waiting, the most allowed; let one answer first",
                    self.limits.long_polls_per_token
                ),
            );
            e.retry_after = Some(5);
            e
        })
    }

    /// Counts one write of `token`; a 429 `rate_limited` (with `Retry-After`) when over the limit.
    pub fn write(&self, token: Uuid, name: &str) -> Result<(), ApiError> {
        self.writes.take(token, Instant::now()).map_err(|wait| {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            tracing::warn!(token = %name, retry_after = secs, "write rate limit reached");
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "too many writes with this token (limit {} per second, burst {}); retry in {secs} s",
                    self.limits.writes_per_sec, self.limits.write_burst
                ),
            );
            e.retry_after = Some(secs);
            e
        })
    }

    /// A slot for a new stream of `token`; a 429 `too_many_streams` when it has the most open.
    pub fn stream(&self, token: Uuid, name: &str) -> Result<StreamPermit, ApiError> {
        self.streams.acquire(token).ok_or_else(|| {
            tracing::warn!(token = %name, max = self.limits.streams_per_token, "stream cap reached");
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_streams",
                format!(
                    "this token already has {} open streams, the most allowed; close one first",
                    self.limits.streams_per_token
                ),
            );
            e.retry_after = Some(5);
            e
        })
    }

    /// Streams open for `token`.
    pub fn open_streams(&self, token: Uuid) -> usize {
        self.streams.open(token)
    }
}

/// The deadline for a request's whole body, and the largest body.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline {
    pub timeout: Duration,
    pub max_body: usize,
}

/// The size of the request body, as [`read_body`] read it (0 for a request without one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BodyLen(pub usize);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for BodyLen {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<BodyLen>().copied().unwrap_or_default())
    }
}

/// Reads the whole request body within the body timeout (408 `request_timeout` after it: a
/// client sending a body a byte at a time does not hold a connection for ever) and at most
/// the body limit (413 `too_large`), and records its size for the per-token byte rate.
pub async fn read_body(
    axum::extract::State(d): axum::extract::State<BodyDeadline>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let (mut parts, body) = req.into_parts();
    let bytes = match tokio::time::timeout(d.timeout, axum::body::to_bytes(body, d.max_body)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            // http-body-util's `LengthLimitError`, inside axum's error.
            let too_large = format!("{e} {:?}", std::error::Error::source(&e)).contains("length limit");
            return if too_large {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("the request body is larger than the limit of {}", human_bytes(d.max_body)),
                )
                .into_response()
            } else {
                ApiError::bad_request("bad_body", "the request body could not be read").into_response()
            };
        }
        Err(_) => {
            tracing::info!(timeout_secs = d.timeout.as_secs(), "request body not received in time");
            let mut res = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!("the request body did not arrive within {} s", d.timeout.as_secs()),
            )
            .into_response();
            res.headers_mut()
                .insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
            return res;
        }
    };
    parts.extensions.insert(BodyLen(bytes.len()));
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_refills_at_the_rate() {
        let rl = RateLimiter::new(2.0, 3);
        let k = Uuid::now_v7();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(rl.take(k, t0).is_ok());
        }
        let wait = rl.take(k, t0).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500), "{wait:?}");
        assert!(rl.take(Uuid::now_v7(), t0).is_ok(), "another token has its own bucket");
        assert!(rl.take(k, t0 + Duration::from_millis(500)).is_ok());
        assert!(rl.take(k, t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn a_batch_takes_as_many_units_as_it_holds() {
        let rl = RateLimiter::new(10.0, 100);
        let k = Uuid::now_v7();
        let t0 = Instant::now();
        assert!(rl.take_n(k, 60.0, t0).is_ok());
        let wait = rl.take_n(k, 60.0, t0).unwrap_err();
        assert!(wait >= Duration::from_secs(2), "{wait:?}");
        // Larger than the burst: passes on a full bucket only.
        assert!(rl.take_n(Uuid::now_v7(), 1e9, t0).is_ok());
    }

    #[test]
    fn unset_event_limits_follow_raised_write_limits() {
        let d = Limits::default();
        assert_eq!((d.event_rate(), d.event_bucket()), (DEFAULT_EVENTS_PER_SEC, DEFAULT_EVENT_BURST));
        let raised = Limits { writes_per_sec: 5e4, write_burst: 9_000, ..Limits::default() };
        assert_eq!((raised.event_rate(), raised.event_bucket()), (5e4, 9_000));
        let low = Limits { writes_per_sec: 1.0, write_burst: 3, ..Limits::default() };
        assert_eq!((low.event_rate(), low.event_bucket()), (DEFAULT_EVENTS_PER_SEC, DEFAULT_EVENT_BURST));
        let set = Limits { events_per_sec: Some(0.5), event_burst: Some(7), ..raised };
        assert_eq!((set.event_rate(), set.event_bucket()), (0.5, 7));
    }

    #[test]
    fn byte_counts_read_like_a_person_writes_them() {
        assert_eq!(human_bytes(DEFAULT_MAX_BODY_BYTES), "1 MiB");
        assert_eq!(human_bytes(8192), "8 KiB");
        assert_eq!(human_bytes(5000), "5000 bytes");
    }

    #[test]
    fn stream_slots_are_freed_on_drop() {
        let c = StreamCounter::new(2);
        let k = Uuid::now_v7();
        let a = c.acquire(k).unwrap();
        let _b = c.acquire(k).unwrap();
        assert!(c.acquire(k).is_none());
        drop(a);
        assert_eq!(c.open(k), 1);
        assert!(c.acquire(k).is_some());
    }
}
