//! `warroom serve`: the axum router over a [`Store`], the fan-out hub, and starting and stopping
//! the server. The CLI calls [`open_store`], then [`start`] or [`serve_until_signal`];
//! `warroom token ...` calls [`tokens`].

pub mod alertmanager;
pub mod audit;
pub mod auth;
mod auth_cache;
pub mod conn;
pub mod error;
mod group_commit;
pub mod hub;
pub mod integrations;
pub mod limits;
#[cfg(test)]
mod memory;
pub mod metrics;
pub mod notify;
pub mod oidc;
pub mod openapi;
mod pg_literal;
mod pg_queue;
pub mod postgres;
pub mod queue;
pub mod routes;
mod sql_auth;
mod sql_tokens;
mod sql_write;
pub mod sqlite;
mod sqlite_queue;
pub mod store;
pub mod stream;
pub mod tls;
pub mod tokens;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub use alertmanager::AlertmanagerConfig;
pub use hub::Hub;
pub use limits::{DEFAULT_MAX_BODY_BYTES, Limits};
pub use store::{Store, StoreError};

use crate::domain::{NewEvent, Practice};
use store::{AppendCtx, Appended};

/// How long a graceful shutdown waits for open requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Default listening address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

/// What `warroom serve` needs besides the store. `ServeOptions::default()` listens on
/// 127.0.0.1:7878 over plain HTTP with the embedded practice and the default limits.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on, e.g. `127.0.0.1:7878` (port 0 picks a free one).
    pub listen: String,
    pub practice: Practice,
    pub alertmanager: AlertmanagerConfig,
    /// Serve HTTPS with this certificate and key (PEM); plain HTTP when `None`.
    pub tls: Option<TlsFiles>,
    /// Per-token rate limit and stream cap, and the request body limit.
    pub limits: Limits,
    /// ship: also serve `GET /metrics` without a token on this address (plain HTTP).
    pub metrics_listen: Option<String>,
    /// `[serve.oidc]`: sign-in with an OpenID Provider (tokens only when `None`).
    pub oidc: Option<oidc::OidcConfig>,
    /// `[serve.notify]`: notification targets and routes (none: no delivery worker).
    pub notify: notify::NotifyConfig,
}

/// A PEM certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            listen: DEFAULT_LISTEN.to_string(),
            // The embedded practice always loads (tests hold it to that).
            practice: crate::assets::load_practice(None, None).expect("the embedded practice loads"),
            alertmanager: AlertmanagerConfig::default(),
            tls: None,
            limits: Limits::default(),
            metrics_listen: None,
            oidc: None,
            notify: notify::NotifyConfig::default(),
        }
    }
}

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub hub: Arc<Hub>,
    pub practice: Arc<Practice>,
    pub alertmanager: Arc<AlertmanagerConfig>,
    /// Per-token write rate limit and stream cap.
    pub limiter: Arc<limits::Limiter>,
    /// Fires on shutdown: streams and long polls end, the tailer stops.
    pub shutdown: CancellationToken,
    /// ship: what `GET /metrics` reports.
    pub metrics: Arc<metrics::Metrics>,
    /// Sign-in, when configured.
    pub oidc: Option<Arc<oidc::Oidc>>,
}

impl AppState {
    /// Builds the state (default limits) and starts the hub's tailer (stopped by `shutdown`).
    pub async fn new(
        store: Arc<dyn Store>,
        practice: Practice,
        alertmanager: AlertmanagerConfig,
    ) -> anyhow::Result<Self> {
        Self::with_limits(store, practice, alertmanager, Limits::default()).await
    }

    /// [`AppState::new`] with these limits.
    pub async fn with_limits(
        store: Arc<dyn Store>,
        practice: Practice,
        alertmanager: AlertmanagerConfig,
        limits: Limits,
    ) -> anyhow::Result<Self> {
        let shutdown = CancellationToken::new();
        let hub = Hub::start(store.clone(), shutdown.clone()).await.context("starting the event fan-out")?;
        let metrics = Arc::new(metrics::Metrics::new());
        hub.record_lag_into(metrics.propagation_lag());
        let practice = Arc::new(practice);
        store.share_practice(&practice);
        Ok(Self {
            store,
            hub,
            practice,
            alertmanager: Arc::new(alertmanager),
            limiter: Arc::new(limits::Limiter::new(limits)),
            shutdown,
            metrics,
            oidc: None,
        })
    }

    /// Declares through the store, then waits until the fan-out has published the new events,
    /// so the writer reads its own write on `/events` and `/stream` right after. Every write
    /// path goes through here or [`AppState::append`].
    pub async fn declare(&self, ctx: AppendCtx<'_>, event: NewEvent) -> Result<Appended, StoreError> {
        let started = std::time::Instant::now();
        let done = self.store.declare(ctx, event).await?;
        self.metrics.appended(&done, started.elapsed());
        self.published(&done).await;
        Ok(done)
    }

    /// Appends through the store, then waits for the fan-out (see [`AppState::declare`]).
    pub async fn append(
        &self,
        ctx: AppendCtx<'_>,
        incident: &str,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        let started = std::time::Instant::now();
        let done = self.store.append(ctx, incident, events).await?;
        self.metrics.appended(&done, started.elapsed());
        self.published(&done).await;
        Ok(done)
    }

    async fn published(&self, done: &Appended) {
        if done.created {
            self.hub.caught_up(done.incident.last_seq).await;
        }
    }
}

/// Opens the store a database URL names: `sqlite://path` (file and directories created when
/// missing, WAL), `sqlite::memory:`; `postgres://` is not built yet.
pub async fn open_store(db_url: &str) -> anyhow::Result<Arc<dyn Store>> {
    let url = db_url.trim();
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::open(url).await?))
    } else {
        anyhow::bail!("unsupported database URL `{url}` (expected sqlite://<path> or sqlite::memory:)")
    }
}

/// The HTTP API: every route, JSON errors for everything (unknown routes, bad bodies, panics),
/// the configured body limit (`Limits::max_body_bytes`) and a tracing span per request.
pub fn router(state: AppState) -> Router {
    let max_body = state.limiter.limits.max_body_bytes;
    let body_deadline = limits::BodyDeadline {
        timeout: Duration::from_secs(state.limiter.limits.body_timeout_secs),
        max_body,
    };
    let metrics = state.metrics.clone();
    Router::from(openapi::routes())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::map_response(move |res: Response| too_large(res, max_body)))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(body_deadline, limits::read_body))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn_with_state(metrics, metrics::track))
        .layer(stream::compression())
        .with_state(state)
}

/// A body over the limit is refused by the extractor (413 `too_large`), which does not know
/// the configured limit: name it here.
async fn too_large(res: Response, max_body: usize) -> Response {
    let other_refusal = res.extensions().get::<error::ErrorCode>().is_some_and(|c| c.0 != "too_large");
    if res.status() != StatusCode::PAYLOAD_TOO_LARGE || other_refusal {
        return res;
    }
    error::ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the request body is larger than the limit of {}", limits::human_bytes(max_body)),
    )
    .into_response()
}

/// Connections the token-less metrics listener takes at once (a scraper or two).
const METRICS_CONNECTIONS: usize = 64;

/// A running server.
pub struct Running {
    /// Where it listens (the real port when asked for port 0).
    pub addr: SocketAddr,
    /// ship: where the metrics listener listens, when `metrics_listen` asked for one.
    pub metrics_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Notifications: the delivery worker, awaited on shutdown (it releases its leases).
    notify_worker: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, ends streams and long polls, waits (up to 10 s) for open requests.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        stop_notify_worker(self.notify_worker).await;
        let mut task = self.task;
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(res) => res.context("the server task failed")?.context("serving"),
            Err(_) => {
                tracing::warn!("requests still open after the shutdown grace period; dropping them");
                task.abort();
                Ok(())
            }
        }
    }

    /// Waits until the server stops (it stops only on an error or a shutdown).
    pub async fn wait(self) -> anyhow::Result<()> {
        let res = self.task.await;
        self.shutdown.cancel();
        stop_notify_worker(self.notify_worker).await;
        res.context("the server task failed")?.context("serving")
    }

    /// A token that stops the server when cancelled (e.g. from a signal handler).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until `stop` is cancelled (e.g. by [`crate::shutdown::listen`]), then shuts down
    /// gracefully; or until the server stops by itself.
    pub async fn until(self, stop: &CancellationToken) -> anyhow::Result<()> {
        let stopped = self.shutdown_token();
        tokio::select! {
            _ = stop.cancelled() => {
                tracing::info!("signal received; shutting down");
                self.shutdown().await
            }
            _ = stopped.cancelled() => self.wait().await,
        }
    }
}

/// Notifications: waits (up to the grace period) for the delivery worker to release its leases.
async fn stop_notify_worker(worker: Option<tokio::task::JoinHandle<()>>) {
    if let Some(w) = worker
        && tokio::time::timeout(SHUTDOWN_GRACE, w).await.is_err()
    {
        tracing::warn!("the delivery worker did not stop within the grace period");
    }
}

/// Binds, starts serving (HTTPS when `opts.tls` names a certificate and key) in a task, and
/// returns at once. Certificate and key problems are reported before anything listens.
pub async fn start(opts: ServeOptions, store: Arc<dyn Store>) -> anyhow::Result<Running> {
    let tls = opts.tls.as_ref().map(tls::rustls_config).transpose()?.map(Arc::new);
    // Notifications: targets' secrets are resolved before anything listens.
    let notifier = if opts.notify.is_empty() {
        None
    } else {
        opts.notify.check_severities(opts.practice.scheme())?;
        Some(notify::Notifier::new(&opts.notify)?)
    };
    let listener = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let addr = listener.local_addr().context("reading the listening address")?;
    let metrics_listener = match &opts.metrics_listen {
        Some(a) => Some(
            tokio::net::TcpListener::bind(a)
                .await
                .with_context(|| format!("cannot listen for metrics on {a}"))?,
        ),
        None => None,
    };
    let mut state = AppState::with_limits(store, opts.practice, opts.alertmanager, opts.limits).await?;
    state.oidc = opts.oidc.map(oidc::Oidc::new).transpose()?.map(Arc::new);
    let shutdown = state.shutdown.clone();
    let open_files = conn::OpenFiles::raise();
    let conn_limits = conn::ConnLimits::new(&opts.limits, open_files);
    let metrics_addr = match metrics_listener {
        Some(l) => {
            let addr = l.local_addr().context("reading the metrics address")?;
            let app = metrics::router(state.clone());
            let stop = shutdown.clone();
            // The same accept loop as the main listener (header, body and idle deadlines), with
            // a few connections of its own: it answers without a token, so a slow client must
            // not hold it.
            let limits = conn::ConnLimits { max_connections: METRICS_CONNECTIONS, ..conn_limits };
            tokio::spawn(async move {
                if let Err(e) = conn::serve(l, app, None, limits, stop).await {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            });
            tracing::info!(%addr, "metrics listening (GET /metrics, no token)");
            Some(addr)
        }
        None => None,
    };
    let notify_worker = match notifier {
        Some(notifier) => Some(notifier.spawn(&state)?),
        None => None,
    };
    let app = router(state);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let task = tokio::spawn(conn::serve(listener, app, acceptor, conn_limits, shutdown.clone()));
    tracing::info!(
        max_connections = conn_limits.max_connections,
        open_files_limit = open_files.limit,
        header_timeout_secs = opts.limits.header_timeout_secs,
        idle_timeout_secs = opts.limits.idle_timeout_secs,
        "connection limits"
    );
    if let Some(warning) = plain_http_warning(addr, opts.tls.is_some()) {
        tracing::warn!("{warning}");
    }
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, scheme, "warroom server listening");
    Ok(Running { addr, metrics_addr, shutdown, task, notify_worker })
}

/// The warning for a server that listens beyond this machine without TLS: tokens and incident
/// text cross the network readable by anyone on the path. `None` on loopback or with TLS.
pub fn plain_http_warning(addr: SocketAddr, tls: bool) -> Option<String> {
    if tls || addr.ip().is_loopback() {
        return None;
    }
    Some(format!(
        "WARNING: listening on {addr} without TLS: tokens and incident text cross the network in \
         clear text. Serve HTTPS (--tls-cert and --tls-key) or listen on 127.0.0.1 behind a TLS proxy."
    ))
}

/// Serves until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn serve_until_signal(opts: ServeOptions, store: Arc<dyn Store>) -> anyhow::Result<()> {
    let signalled = crate::shutdown::listen().context("listening for SIGINT and SIGTERM")?;
    start(opts, store).await?.until(&signalled).await
}
