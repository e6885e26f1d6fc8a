//! Accepting connections, with the limits a hostile client meets before it sends a token: a
//! global cap on open connections (kept below the open-files limit, which `serve` raises to
//! its hard limit at start), a deadline for a request's headers and for a TLS handshake, and an
//! idle timeout. A client that sends a request a byte at a time is cut off at the header
//! deadline; once the cap is reached, new connections wait in the kernel's queue until a slot
//! frees, instead of the server running out of file descriptors and refusing everyone.
//! HTTP/1.1, and HTTP/2 when TLS negotiates it (ALPN); plain or over TLS (rustls).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::limits::Limits;

/// File descriptors kept free for everything but client connections (database, logs, the
/// notifier's outgoing connections), at least.
const MIN_RESERVED_FDS: usize = 32;

/// How the server accepts connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

impl ConnLimits {
    /// From `[serve.limits]`, the cap sized from the open-files limit unless configured.
    pub fn new(limits: &Limits, open_files: OpenFiles) -> Self {
        ConnLimits {
            max_connections: limits.max_connections.unwrap_or_else(|| open_files.connection_cap()),
            header_timeout: Duration::from_secs(limits.header_timeout_secs),
            idle_timeout: Duration::from_secs(limits.idle_timeout_secs),
        }
    }
}

/// The process's open-files limit (after raising it) and how many files were open then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    pub limit: u64,
    pub open: u64,
}

impl OpenFiles {
    /// Raises the soft RLIMIT_NOFILE to the hard limit (streams and connections each hold a
    /// descriptor) and counts what is open now.
    pub fn raise() -> Self {
        use nix::sys::resource::{Resource, getrlimit, setrlimit};
        let limit = match getrlimit(Resource::RLIMIT_NOFILE) {
            Ok((soft, hard)) => {
                if soft < hard {
                    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                        Ok(()) => {
                            tracing::info!(from = soft, to = hard, "raised the open-files limit");
                            hard
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, soft, hard, "cannot raise the open-files limit");
                            soft
                        }
                    }
                } else {
                    soft
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the open-files limit; assuming 1024");
                1024
            }
        };
        let open = std::fs::read_dir("/proc/self/fd").map(|d| d.count() as u64).unwrap_or(32);
        OpenFiles { limit, open }
    }

    /// Connections allowed at once: what is left of the limit, less a reserve of a quarter
    /// (at least 32) for the database, logs and outgoing connections; at least 1.
    pub fn connection_cap(self) -> usize {
        let free = usize::try_from(self.limit.saturating_sub(self.open)).unwrap_or(usize::MAX);
        let reserve = (free / 4).max(MIN_RESERVED_FDS);
        free.saturating_sub(reserve).clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize))
    }
}

/// Serves `app` on `listener` (over TLS when `tls` is set) until `shutdown`, then waits for
/// open connections to finish (streams and long polls end on `shutdown` too).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: ConnLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let slots = Arc::new(Semaphore::new(max));
    let mut h1 = http1::Builder::new();
    h1.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let mut h2 = http2::Builder::new(TokioExecutor::new());
    h2.timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let builders = Arc::new(Builders { h1, h2 });
    let mut last_full_warning: Option<Instant> = None;
    let mut last_accept_error: Option<Instant> = None;
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                // At the cap: new connections wait in the kernel's queue. Said at most once a
                // minute, not once per connection.
                if last_full_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                    tracing::warn!(max, "connection cap reached; new connections wait until one closes");
                    last_full_warning = Some(Instant::now());
                }
                tokio::select! {
                    p = slots.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    _ = shutdown.cancelled() => break,
                }
            }
        };
        let (tcp, _peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning; log at most once a second.
                    if last_accept_error.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                        tracing::error!(error = %e, "accepting a connection failed");
                        last_accept_error = Some(Instant::now());
                    }
                    drop(permit);
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                        _ = shutdown.cancelled() => break,
                    }
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let app = app.clone();
        let builders = builders.clone();
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _slot = permit;
            connection(tcp, app, &builders, tls, limits, shutdown).await;
        });
    }
    drop(listener);
    // Every slot back: every connection has finished.
    let _ = slots.acquire_many(max as u32).await;
    Ok(())
}

/// The HTTP/1.1 and HTTP/2 connection settings.
struct Builders {
    h1: http1::Builder,
    h2: http2::Builder<TokioExecutor>,
}

async fn connection(
    tcp: TcpStream,
    app: Router,
    builders: &Builders,
    tls: Option<TlsAcceptor>,
    limits: ConnLimits,
    shutdown: CancellationToken,
) {
    let _ = tcp.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = Tracked { inner: tcp, activity: activity.clone() };
    let idle = limits.idle_timeout;
    // HTTP/2 only when TLS negotiated it (ALPN): no sniffing of a preface a slow client may
    // never finish sending, so the header deadline runs from the first byte.
    // Each way of serving is boxed: the connection's task then holds only the one it runs,
    // not room for the largest of plain HTTP/1, a TLS handshake and HTTP/2 (7 KiB per open
    // stream before, measured with dhat).
    match tls {
        None => Box::pin(http1(io, app, builders, &activity, idle, shutdown)).await,
        Some(acceptor) => {
            match tokio::time::timeout(limits.header_timeout, Box::pin(acceptor.accept(io))).await {
                Ok(Ok(stream)) => {
                    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                        Box::pin(http2(stream, app, builders, &activity, idle, shutdown)).await
                    } else {
                        Box::pin(http1(stream, app, builders, &activity, idle, shutdown)).await
                    }
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake not finished within the header timeout; closed"),
            }
        }
    }
}

async fn http1<I>(
    io: I,
    app: Router,
    b: &Builders,
    activity: &Activity,
    idle: Duration,
    shutdown: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = b.h1.serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
    drive(conn, |c| c.graceful_shutdown(), activity, idle, shutdown).await
}

async fn http2<I>(
    io: I,
    app: Router,
    b: &Builders,
    activity: &Activity,
    idle: Duration,
    shutdown: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = b.h2.serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
    drive(conn, |c| c.graceful_shutdown(), activity, idle, shutdown).await
}

/// Runs one connection (HTTP/1 or HTTP/2: hyper gives each its own type) until it ends, is
/// silent both ways for `idle`, or, at `shutdown`, has drained gracefully.
async fn drive<C>(
    conn: C,
    graceful: impl Fn(Pin<&mut C>),
    activity: &Activity,
    idle: Duration,
    shutdown: CancellationToken,
) where
    C: std::future::Future<Output = Result<(), hyper::Error>>,
{
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            res = conn.as_mut() => return ended(res),
            _ = shutdown.cancelled(), if !draining => {
                graceful(conn.as_mut());
                draining = true;
            }
            _ = activity.silent_for(idle) => return silent(idle),
        }
    }
}

fn ended(res: Result<(), hyper::Error>) {
    if let Err(e) = res {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

fn silent(idle: Duration) {
    tracing::debug!(idle_secs = idle.as_secs(), "closing a connection silent both ways");
}

/// When a connection last moved a byte either way.
struct Activity {
    base: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity { base: Instant::now(), last_ms: AtomicU64::new(0) }
    }

    fn touch(&self) {
        let ms = self.base.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Resolves once nothing has moved for `idle`.
    async fn silent_for(&self, idle: Duration) {
        loop {
            let last = self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

/// A stream that records its traffic in an [`Activity`].
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_a_reserve_below_the_file_limit() {
        assert_eq!(OpenFiles { limit: 64, open: 16 }.connection_cap(), 16);
        assert_eq!(OpenFiles { limit: 1_048_576, open: 20 }.connection_cap(), 786_417);
        assert_eq!(OpenFiles { limit: 10, open: 20 }.connection_cap(), 1);
    }
}
