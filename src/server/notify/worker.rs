//! The delivery worker: a task of `serve`, apart from the append path. It leases due rows from
//! the queue (one attempt per target at a time), sends them, records each attempt's outcome as
//! a `delivery` event of the incident, and retries with exponential backoff and jitter (or the
//! target's Retry-After) until the configured horizon, when it gives up and says so. It also
//! watches open incidents: an unacknowledged incident reaching an escalation step is recorded
//! once (`escalated`, an id derived from incident and level, so replicas and restarts agree),
//! and breached timers are queued once per deadline for routes on `timer_breached`.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::{Semaphore, mpsc, oneshot};
use uuid::Uuid;

use super::config::{EventClass, NotifyConfig};
use super::message::{Message, derived_id};
use super::planner::RoutePlanner;
use super::targets::{self, Attempt, Target};
use crate::api::Role;
use crate::domain::timers::{escalation_level, next_update_at, resolution_deadline, response_deadline};
use crate::domain::{EventBody, NewEvent};
use crate::server::AppState;
use crate::server::queue::{DeliveryQueue, Finish, Leased, NewDelivery};
use crate::server::store::{AppendCtx, ListFilter, StoreError};

/// The author of the events the server records about deliveries and escalations.
pub const AUTHOR: &str = "warroom";

/// Attempts in flight at once (over all targets; one per target).
const MAX_IN_FLIGHT: usize = 16;

/// The configured targets, resolved, and the HTTP client they share.
pub struct Notifier {
    cfg: NotifyConfig,
    targets: HashMap<String, Target>,
    http: reqwest::Client,
}

impl Notifier {
    /// Resolves the targets' secrets from the environment: a missing variable stops `serve`
    /// with the file, line and key.
    pub fn new(cfg: &NotifyConfig) -> anyhow::Result<Notifier> {
        let resolved = targets::resolve(cfg, &|var| std::env::var(var).ok())?;
        let http = targets::http_client(cfg.connect_timeout(), cfg.total_timeout())?;
        Ok(Notifier {
            cfg: cfg.clone(),
            targets: resolved.into_iter().map(|t| (t.name.clone(), t)).collect(),
            http,
        })
    }

    /// A notifier for one target only (`warroom notify test`): other targets' secrets are
    /// not needed.
    pub fn for_target(cfg: &NotifyConfig, name: &str) -> anyhow::Result<Notifier> {
        let mut one = cfg.clone();
        one.targets.retain(|t| t.name == name);
        one.routes.clear();
        Notifier::new(&one)
    }

    /// Installs the planner in the store (appends enqueue from now on) and starts the worker,
    /// which stops with the server (await the handle: it releases its leases as it stops).
    pub fn spawn(self, state: &AppState) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let Some(queue) = state.store.delivery_queue() else {
            anyhow::bail!("this database keeps no delivery queue: notifications need SQLite or PostgreSQL");
        };
        queue.set_planner(Arc::new(RoutePlanner::new(&self.cfg, state.practice.clone())));
        let state = state.clone();
        tracing::info!(
            targets = self.targets.len(),
            routes = self.cfg.routes.len(),
            "delivery worker starting"
        );
        Ok(tokio::spawn(run(Arc::new(self), state)))
    }

    /// Sends one message through the named target, now (`warroom notify test`).
    pub async fn send_now(&self, name: &str, msg: &Message) -> Option<Attempt> {
        let t = self.targets.get(name)?;
        let key = format!("{}_{}", msg.event_id.simple(), t.name);
        Some(targets::send(&self.http, t, msg, &key, self.cfg.total_timeout()).await)
    }
}

impl NotifyConfig {
    pub fn total_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_secs)
    }
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.connect_timeout_secs.min(self.timeout_secs))
    }
    /// The wait before attempt `attempt + 1`: `base * 2^(attempt-1)`, capped, with the upper
    /// half jittered.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let base = self.backoff_base_ms.max(1) as f64;
        let d = (base * 2f64.powi(attempt.saturating_sub(1).min(30) as i32))
            .min(self.backoff_max_secs as f64 * 1000.0);
        let jittered = d / 2.0 + rand::random_range(0.0..=d / 2.0);
        Duration::from_millis(jittered as u64)
    }
}

fn queue(state: &AppState) -> &dyn DeliveryQueue {
    state.store.delivery_queue().expect("checked when the worker started")
}

async fn run(n: Arc<Notifier>, state: AppState) {
    let owner = format!(
        "{}-{}",
        hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default(),
        Uuid::now_v7()
    );
    let in_flight: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let poll = Duration::from_millis(n.cfg.poll_ms);
    let scan_every = Duration::from_secs_f64(n.cfg.scan_secs);
    let lease = chrono::Duration::seconds(n.cfg.lease_secs as i64);
    let mut last_scan: Option<Instant> = None;
    let mut attempts = tokio::task::JoinSet::new();
    let (results, rx) = mpsc::unbounded_channel();
    let recording = tokio::spawn(recorder(state.clone(), owner.clone(), rx));
    loop {
        while attempts.try_join_next().is_some() {}
        tokio::select! {
            _ = state.shutdown.cancelled() => break,
            _ = tokio::time::sleep(poll) => {}
        }
        if last_scan.is_none_or(|t| t.elapsed() >= scan_every) {
            last_scan = Some(Instant::now());
            if let Err(e) = scan(&n, &state).await {
                tracing::warn!(error = %e, "checking open incidents for escalation failed");
            }
            let retention = chrono::Duration::milliseconds((n.cfg.retention_secs * 1000.0) as i64);
            match queue(&state).prune(Utc::now() - retention).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "finished deliveries past their retention deleted"),
                Err(e) => tracing::warn!(error = %e, "pruning finished deliveries failed"),
            }
        }
        let free = permits.available_permits();
        if free == 0 {
            continue;
        }
        let busy: Vec<String> = in_flight.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect();
        let now = Utc::now();
        let rows = match queue(&state).lease(&owner, now, now + lease, free as u32, &busy).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "leasing deliveries failed");
                continue;
            }
        };
        for row in rows {
            let Ok(permit) = permits.clone().acquire_owned().await else { break };
            in_flight.lock().unwrap_or_else(|p| p.into_inner()).insert(row.target.clone());
            let (n, in_flight, results) = (n.clone(), in_flight.clone(), results.clone());
            attempts.spawn(async move {
                let target = row.target.clone();
                let outcome = attempt(&n, row).await;
                // The target is free again once its result is recorded (its messages stay in
                // order in the log too).
                let (done, recorded) = oneshot::channel();
                if results.send((outcome, done)).is_ok() {
                    let _ = recorded.await;
                }
                in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&target);
                drop(permit);
            });
        }
    }
    // A graceful stop abandons the attempts in flight and gives their rows back at once, so
    // the next start (or another replica) need not wait for the leases to expire. A message
    // that did go out is sent again under the same idempotency key.
    attempts.abort_all();
    while attempts.join_next().await.is_some() {}
    // The results already in hand are recorded before the leases go.
    drop(results);
    let _ = recording.await;
    match queue(&state).release(&owner).await {
        Ok(released) => tracing::info!(released, "delivery worker stopped; leases released"),
        Err(e) => tracing::warn!(error = %e, "delivery worker stopped; releasing its leases failed"),
    }
}

/// One attempt of a leased row: send, and say how it went (the `delivery` event and how the
/// row ends; the recorder writes both).
async fn attempt(n: &Notifier, row: Leased) -> Outcome {
    let msg: Result<Message, _> = serde_json::from_str(&row.payload);
    let outcome = match (&msg, n.targets.get(&row.target)) {
        (Err(e), _) => Attempt {
            ok: false,
            status: None,
            error: format!("unreadable message in the queue: {e}"),
            retry_after: None,
        },
        (Ok(_), None) => Attempt {
            ok: false,
            status: None,
            error: format!("no target named `{}` is configured any more", row.target),
            retry_after: None,
        },
        (Ok(msg), Some(t)) => {
            let key = format!("{}_{}", row.event_id.simple(), t.name);
            targets::send(&n.http, t, msg, &key, n.cfg.total_timeout()).await
        }
    };
    // Test builds only (debug assertions): die like kill -9 right after a send succeeded,
    // before anything records it, to test that the repeat carries the same idempotency key.
    #[cfg(debug_assertions)]
    if outcome.ok && std::env::var_os("WARROOM_TEST_KILL_AFTER_SEND").is_some() {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
    let permanent = msg.is_err() || !n.targets.contains_key(&row.target);
    let now = Utc::now();
    let horizon = row.created_at + chrono::Duration::seconds(n.cfg.give_up_after_secs as i64);
    let (finish, retry_in, gave_up) = if outcome.ok {
        (Finish::Delivered { status: outcome.status }, None, false)
    } else {
        let wait = outcome.retry_after.unwrap_or_else(|| n.cfg.backoff(row.attempt));
        let next_at = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::days(1));
        if permanent || next_at > horizon {
            (Finish::GaveUp { status: outcome.status, error: outcome.error.clone() }, None, true)
        } else {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            (
                Finish::Retry { next_at, status: outcome.status, error: outcome.error.clone() },
                Some(secs),
                false,
            )
        }
    };
    if outcome.ok {
        tracing::info!(target_name = %row.target, incident = %row.incident, attempt = row.attempt, "delivered");
    } else {
        tracing::warn!(target_name = %row.target, incident = %row.incident, attempt = row.attempt,
            status = ?outcome.status, error = %outcome.error, gave_up, "delivery failed");
    }
    let about = msg.as_ref().map(|m| m.about.clone()).unwrap_or_default();
    let body = EventBody::Delivery {
        target: row.target.clone(),
        ok: outcome.ok,
        about,
        status: outcome.status,
        error: outcome.error.chars().take(2000).collect(),
        attempt: row.attempt,
        retry_in_secs: retry_in,
        gave_up,
        cause: Some(row.event_id),
    };
    Outcome { row, event: NewEvent::at(now, body), finish }
}

/// An attempt's result, for the recorder.
struct Outcome {
    row: Leased,
    event: NewEvent,
    finish: Finish,
}

/// Records attempts' results: each `delivery` event, then each row's end. Results that arrive
/// while a round is being written are written together in the next one (one append per
/// incident, one transaction for the rows), so delivering does not take SQLite's single writer
/// from appends once per attempt and twice over.
async fn recorder(
    state: AppState,
    owner: String,
    mut rx: mpsc::UnboundedReceiver<(Outcome, oneshot::Sender<()>)>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let mut by_incident: Vec<(String, Vec<NewEvent>)> = Vec::new();
        for (o, _) in &batch {
            // /metrics: warroom_deliveries_total{target,outcome}.
            let outcome = match o.finish {
                Finish::Delivered { .. } => "delivered",
                Finish::Retry { .. } => "failed",
                Finish::GaveUp { .. } => "gave_up",
            };
            state.metrics.delivery(&o.row.target, outcome);
            match by_incident.iter_mut().find(|(inc, _)| *inc == o.row.incident) {
                Some((_, events)) => events.push(o.event.clone()),
                None => by_incident.push((o.row.incident.clone(), vec![o.event.clone()])),
            }
        }
        for (incident, events) in by_incident {
            record_many(&state, &incident, events).await;
        }
        let rows: Vec<(i64, Finish)> = batch.iter().map(|(o, _)| (o.row.id, o.finish.clone())).collect();
        match queue(&state).finish_many(&owner, rows).await {
            Ok(held) => {
                for ((o, _), held) in batch.iter().zip(held) {
                    if !held {
                        tracing::warn!(key = %o.row.key, "a delivery's lease expired during its attempt; another worker may repeat it");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "recording delivery attempts failed"),
        }
        for (_, done) in batch {
            let _ = done.send(());
        }
    }
}

/// Appends several server-made events to an incident in one append (one at a time if that
/// is refused, so one bad event does not lose the others).
async fn record_many(state: &AppState, incident: &str, events: Vec<NewEvent>) {
    if events.len() > 1 {
        let ctx = AppendCtx { author: AUTHOR, role: Role::Admin, practice: &state.practice, if_match: None };
        match state.append(ctx, incident, events.clone()).await {
            Ok(_) | Err(StoreError::NotFound(_)) => return,
            Err(e) => {
                tracing::debug!(incident, error = %e, "recording deliveries together failed; one by one")
            }
        }
    }
    for e in events {
        record(state, incident, e).await;
    }
}

/// Appends a server-made event to an incident (as `warroom`, admin).
async fn record(state: &AppState, incident: &str, event: NewEvent) -> bool {
    let ctx = AppendCtx { author: AUTHOR, role: Role::Admin, practice: &state.practice, if_match: None };
    match state.append(ctx, incident, vec![event]).await {
        Ok(done) => done.created,
        Err(StoreError::NotFound(_)) => false,
        // E.g. an escalation recorded before the practice renamed its people: already done.
        Err(e @ StoreError::Invalid { .. }) => {
            tracing::debug!(incident, error = %e, "a notification event was not recorded");
            false
        }
        Err(e) => {
            tracing::warn!(incident, error = %e, "recording a notification event failed");
            false
        }
    }
}

/// Escalation and breached timers of the open incidents.
async fn scan(n: &Notifier, state: &AppState) -> anyhow::Result<()> {
    let (_, incidents) = state.store.list_incidents(ListFilter::Open).await?;
    let scheme = state.practice.scheme();
    let planner = RoutePlanner::new(&n.cfg, state.practice.clone());
    let now = Utc::now();
    // Demo incidents (`warroom demo`) neither escalate nor page anyone about their timers.
    for inc in incidents.iter().filter(|i| i.is_open() && !i.demo) {
        if inc.acknowledged_at.is_none()
            && let Some(step) = escalation_level(scheme, inc, now)
        {
            let wanted = planner.targets_for(EventClass::Escalation, &inc.severity, &step.targets);
            if !wanted.is_empty() {
                let at = (inc.declared_at + chrono::Duration::minutes(i64::from(step.after_minutes)))
                    .trunc_subsecs(6);
                let event = NewEvent {
                    id: derived_id(&format!("escalation/{}/{}", inc.id, step.level)),
                    occurred_at: at,
                    body: EventBody::Escalated { level: step.level.clone(), who: step.who.clone() },
                };
                if record(state, &inc.id, event).await {
                    tracing::info!(incident = %inc.id, level = %step.level, "escalated");
                }
            }
        }
        let breach_targets = planner.targets_for(EventClass::TimerBreached, &inc.severity, &Vec::new());
        if breach_targets.is_empty() {
            continue;
        }
        let deadlines: [(&str, Option<DateTime<Utc>>); 3] = [
            ("response", response_deadline(scheme, inc).filter(|_| inc.acknowledged_at.is_none())),
            ("update", next_update_at(scheme, inc)),
            ("resolution", resolution_deadline(scheme, inc)),
        ];
        let mut rows = Vec::new();
        for (timer, deadline) in deadlines {
            let Some(deadline) = deadline.filter(|d| *d < now) else { continue };
            let cause = format!("breach/{}/{timer}/{}", inc.id, deadline.timestamp_millis());
            let id = derived_id(&cause);
            let payload = serde_json::to_string(&Message::breach(inc, scheme, timer, id, deadline))?;
            for t in &breach_targets {
                rows.push(NewDelivery {
                    key: format!("{cause}/{t}"),
                    incident: inc.id.clone(),
                    event_id: id,
                    target: t.clone(),
                    payload: payload.clone(),
                    due_at: now,
                });
            }
        }
        if !rows.is_empty() {
            queue(state).enqueue(&rows).await?;
        }
    }
    Ok(())
}
