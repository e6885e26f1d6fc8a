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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            writes_per_sec: 20.0,
            write_burst: 100,
            streams_per_token: 32,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
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
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
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
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= PRUNE_AT {
            let (rate, burst) = (self.rate, self.burst);
            map.retain(|_, b| b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let b = map.entry(key).or_insert(Bucket { tokens: self.burst, at: now });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - b.tokens) / self.rate;
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
}

impl Limiter {
    pub fn new(limits: Limits) -> Self {
        Limiter {
            limits,
            writes: RateLimiter::new(limits.writes_per_sec, limits.write_burst),
            streams: StreamCounter::new(limits.streams_per_token),
        }
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
