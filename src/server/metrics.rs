//! `GET /metrics`: the server's figures in the Prometheus text format (0.0.4), for a
//! Prometheus scrape. Served on the main listener to any valid token, and without a token on a
//! listener of its own when `[serve] metrics_listen` is set. Each server has its own recorder
//! (`metrics-exporter-prometheus`, never the process-wide one), so several servers in one
//! process (the tests) keep separate figures.
//!
//! | metric | type | what |
//! |---|---|---|
//! | `warroom_build_info{version}` | gauge | always 1 |
//! | `warroom_store_up` | gauge | 1 when the database answered the scrape's query |
//! | `warroom_incidents_open{severity,status}` | gauge | open incidents, read from the store at each scrape (every level of the scheme and every open status, zeros included) |
//! | `warroom_events_appended_total{kind}` | counter | events this server wrote (retries not counted) |
//! | `warroom_append_duration_seconds` | histogram | a declare or append, from the store call to its commit |
//! | `warroom_write_groups_total` | counter | write transactions of group commit (read at each scrape) |
//! | `warroom_write_group_requests_total` | counter | declares and appends those carried: `rate(requests) / rate(groups)` is the mean group size |
//! | `warroom_write_group_reruns_total` | counter | groups run twice: what they took from the memory of the last commit (PostgreSQL) had changed |
//! | `warroom_propagation_lag_seconds` | histogram | from an event's `recorded_at` (on whichever replica) to this server's fan-out publishing it to streams and long polls |
//! | `warroom_streams_open` | gauge | open `GET /stream` connections |
//! | `warroom_long_polls_open` | gauge | `GET /events?wait=` requests waiting |
//! | `warroom_rate_limited_total{limit}` | counter | 429 refusals: `writes` (rate limit) or `streams` (stream cap) |
//! | `warroom_writes_refused_total{code}` | counter | writes (POST) answered 4xx, by error code: what a client's outbox moves to its rejected file |
//! | `warroom_deliveries_total{target,outcome}` | counter | notifications delivered, by target and outcome: [`Metrics::delivery`], for the delivery queue |

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Gauge, Histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use super::AppState;
use super::auth::Caller;
use super::error::{ErrorCode, Unauthorized};
use super::store::{Appended, ListFilter};
use crate::domain::Status;

/// Where Prometheus scrapes.
pub const PATH: &str = "/metrics";
/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const INCIDENTS_OPEN: &str = "warroom_incidents_open";
const EVENTS_APPENDED: &str = "warroom_events_appended_total";
const APPEND_DURATION: &str = "warroom_append_duration_seconds";
const PROPAGATION_LAG: &str = "warroom_propagation_lag_seconds";
const STREAMS_OPEN: &str = "warroom_streams_open";
const LONG_POLLS_OPEN: &str = "warroom_long_polls_open";
const RATE_LIMITED: &str = "warroom_rate_limited_total";
const WRITES_REFUSED: &str = "warroom_writes_refused_total";
const DELIVERIES: &str = "warroom_deliveries_total";
const STORE_UP: &str = "warroom_store_up";
const WRITE_GROUPS: &str = "warroom_write_groups_total";
const WRITE_GROUP_REQUESTS: &str = "warroom_write_group_requests_total";
const WRITE_GROUP_RERUNS: &str = "warroom_write_group_reruns_total";
const BUILD_INFO: &str = "warroom_build_info";

/// Append latency buckets: a local SQLite commit is a millisecond, a busy PostgreSQL seconds.
const APPEND_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
/// Propagation buckets: a local write is published at once; another replica's within the
/// tailer's poll (1.5 s) or its LISTEN wake-up.
const LAG_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0];

/// One server's metrics.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    append_duration: Histogram,
    propagation_lag: Histogram,
    streams_open: Gauge,
    long_polls_open: Gauge,
    store_up: Gauge,
    /// The (severity, status) pairs set at the last scrape, to zero the ones that went away.
    incident_labels: Mutex<BTreeSet<(String, &'static str)>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(APPEND_DURATION.into()), APPEND_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(PROPAGATION_LAG.into()), LAG_BUCKETS))
            .expect("the bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        let (append_duration, propagation_lag, streams_open, long_polls_open, store_up) =
            metrics::with_local_recorder(&recorder, || {
                use metrics::{describe_counter, describe_gauge, describe_histogram};
                describe_gauge!(BUILD_INFO, "The running warroom's version (always 1)");
                describe_gauge!(STORE_UP, "1 when the database answered the scrape's query, else 0");
                describe_gauge!(INCIDENTS_OPEN, "Open incidents by severity and status");
                describe_counter!(EVENTS_APPENDED, "Events written by this server, by kind");
                describe_histogram!(APPEND_DURATION, Unit::Seconds, "Time to commit a declare or append");
                describe_histogram!(
                    PROPAGATION_LAG,
                    Unit::Seconds,
                    "From an event's recorded_at to this server publishing it to streams and long polls"
                );
                describe_gauge!(STREAMS_OPEN, "Open event streams (GET /stream)");
                describe_gauge!(LONG_POLLS_OPEN, "Long polls waiting (GET /events?wait=)");
                describe_counter!(RATE_LIMITED, "Requests refused with 429, by limit (writes, streams)");
                describe_counter!(WRITES_REFUSED, "Writes refused with a 4xx, by error code");
                describe_counter!(DELIVERIES, "Notifications delivered, by target and outcome");
                describe_counter!(WRITE_GROUPS, "Write transactions of group commit");
                describe_counter!(WRITE_GROUP_REQUESTS, "Declares and appends carried by those transactions");
                describe_counter!(
                    WRITE_GROUP_RERUNS,
                    "Groups run twice: what they took from the memory of the last commit had changed"
                );
                metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
                (
                    metrics::histogram!(APPEND_DURATION),
                    metrics::histogram!(PROPAGATION_LAG),
                    metrics::gauge!(STREAMS_OPEN),
                    metrics::gauge!(LONG_POLLS_OPEN),
                    metrics::gauge!(STORE_UP),
                )
            });
        Metrics {
            recorder,
            handle,
            append_duration,
            propagation_lag,
            streams_open,
            long_polls_open,
            store_up,
            incident_labels: Mutex::new(BTreeSet::new()),
        }
    }

    fn counter(&self, name: &'static str, labels: &[(&'static str, String)]) -> Counter {
        let labels: Vec<metrics::Label> =
            labels.iter().map(|(k, v)| metrics::Label::new(*k, v.clone())).collect();
        metrics::with_local_recorder(&self.recorder, || metrics::counter!(name, labels))
    }

    /// A declare or append that took `took`: its new events by kind and its latency.
    pub fn appended(&self, done: &Appended, took: Duration) {
        if !done.created {
            return;
        }
        self.append_duration.record(took.as_secs_f64());
        for e in &done.events {
            let kind: &'static str = e.kind().into();
            self.counter(EVENTS_APPENDED, &[("kind", kind.to_string())]).increment(1);
        }
    }

    /// The histogram the fan-out records propagation lag into.
    pub fn propagation_lag(&self) -> Histogram {
        self.propagation_lag.clone()
    }

    /// Counts an open stream until the guard is dropped.
    pub fn stream_opened(&self) -> OpenGuard {
        OpenGuard::new(self.streams_open.clone())
    }

    /// Counts a waiting long poll until the guard is dropped.
    pub fn long_poll(&self) -> OpenGuard {
        OpenGuard::new(self.long_polls_open.clone())
    }

    /// A notification delivery: `target` (e.g. `slack`, `pagerduty`) and `outcome` (e.g.
    /// `delivered`, `failed`, `gave_up`). The hook for the delivery queue.
    pub fn delivery(&self, target: &str, outcome: &str) {
        self.counter(DELIVERIES, &[("target", target.to_string()), ("outcome", outcome.to_string())])
            .increment(1);
    }

    /// Counts what a response says about refusals: 429s by limit, 4xx answers to writes.
    fn observe(&self, method: &Method, res: &Response) {
        let status = res.status();
        let code = res.extensions().get::<ErrorCode>().map(|c| c.0);
        match code {
            Some("rate_limited") => self.counter(RATE_LIMITED, &[("limit", "writes".into())]).increment(1),
            Some("too_many_streams") => {
                self.counter(RATE_LIMITED, &[("limit", "streams".into())]).increment(1)
            }
            _ => {}
        }
        if *method == Method::POST && status.is_client_error() {
            let code = code.unwrap_or(status.canonical_reason().unwrap_or("client_error"));
            self.counter(WRITES_REFUSED, &[("code", code.to_string())]).increment(1);
        }
    }

    /// The exposition: the open incidents read from the store now, then everything recorded.
    pub async fn render(&self, state: &AppState) -> String {
        match state.store.list_incidents(ListFilter::Open).await {
            Ok((_, incidents)) => {
                self.store_up.set(1.0);
                let mut counts = std::collections::BTreeMap::<(String, &'static str), f64>::new();
                for level in &state.practice.scheme().levels {
                    for status in Status::ALL.into_iter().filter(|s| s.is_open()) {
                        counts.insert((level.id.clone(), status.as_str()), 0.0);
                    }
                }
                // Demo incidents (`warroom demo`) are not incidents a team has open.
                for i in incidents.iter().filter(|i| i.is_open() && !i.demo) {
                    *counts.entry((i.severity.clone(), i.status.as_str())).or_default() += 1.0;
                }
                let mut seen = self.incident_labels.lock().unwrap_or_else(|p| p.into_inner());
                for gone in seen.iter() {
                    counts.entry(gone.clone()).or_insert(0.0);
                }
                metrics::with_local_recorder(&self.recorder, || {
                    for ((severity, status), n) in &counts {
                        metrics::gauge!(INCIDENTS_OPEN, "severity" => severity.clone(), "status" => *status)
                            .set(*n);
                    }
                });
                *seen = counts.into_keys().collect();
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics: the store does not answer");
                self.store_up.set(0.0);
            }
        }
        if let Some(t) = state.store.write_groups() {
            metrics::with_local_recorder(&self.recorder, || {
                metrics::counter!(WRITE_GROUPS).absolute(t.groups);
                metrics::counter!(WRITE_GROUP_REQUESTS).absolute(t.requests);
                metrics::counter!(WRITE_GROUP_RERUNS).absolute(t.reruns);
            });
        }
        self.handle.render()
    }
}

/// Keeps a gauge one higher while it lives.
pub struct OpenGuard(Gauge);

impl OpenGuard {
    fn new(g: Gauge) -> Self {
        g.increment(1.0);
        OpenGuard(g)
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Middleware: counts refusals from each response (see [`Metrics::observe`]).
pub async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let res = next.run(req).await;
    m.observe(&method, &res);
    res
}

fn exposition(body: String) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], body).into_response()
}

/// The server's metrics in the Prometheus text format (any valid token).
#[utoipa::path(
    get, path = PATH, tag = "meta", security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        Unauthorized,
    )
)]
pub async fn metrics(State(state): State<AppState>, _caller: Caller) -> Response {
    exposition(state.metrics.render(&state).await)
}

/// The same without a token, for the metrics listener of its own (`[serve] metrics_listen`).
pub async fn metrics_open(State(state): State<AppState>) -> Response {
    exposition(state.metrics.render(&state).await)
}

/// The router of the metrics listener: `GET /metrics` and nothing else (404 JSON).
pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route(PATH, axum::routing::get(metrics_open))
        .fallback(super::error::not_found)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The delivery hook (for the delivery queue) counts by target and outcome, and two
    /// servers' figures stay apart.
    #[test]
    fn deliveries_are_counted_by_target_and_outcome_per_server() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.delivery("slack", "delivered");
        a.delivery("slack", "delivered");
        a.delivery("pagerduty", "failed");
        let text = a.handle.render();
        assert!(
            text.contains("warroom_deliveries_total{target=\"slack\",outcome=\"delivered\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("warroom_deliveries_total{target=\"pagerduty\",outcome=\"failed\"} 1"),
            "{text}"
        );
        assert!(!b.handle.render().contains("warroom_deliveries_total{"), "another server's figures");
    }
}
