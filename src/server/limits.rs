//! Per-token limits: a token bucket for writes (everyone on a jump host shares one IP, so the
//! key is the token, not the address) and a cap on open streams. Both answer a JSON 429.
//! Small and hand-written: a mutex-guarded map keyed by token id, pruned as it grows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use uuid::Uuid;

use super::error::ApiError;

/// How much one token may do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Writes (declares, appends, webhook posts) per second per token, sustained.
    pub writes_per_sec: f64,
    /// Writes a token may make at once before the sustained rate applies.
    pub write_burst: u32,
    /// Open streams (`GET /stream`) per token.
    pub streams_per_token: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { writes_per_sec: 20.0, write_burst: 100, streams_per_token: 32 }
    }
}

impl Limits {
    /// No practical limit: for benchmarks and tests about something else.
    pub fn unlimited() -> Self {
        Limits { writes_per_sec: 1e9, write_burst: u32::MAX, streams_per_token: usize::MAX }
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
