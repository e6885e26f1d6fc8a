//! One embedded server per data dir. The console (or `warroom tail`) that starts it holds an
//! exclusive lock on `<data dir>/embedded-server.lock` for as long as it serves (the OS drops
//! the lock when the process dies, however it dies) and names the server in
//! `<data dir>/embedded-server.json` (URL and pid, written atomically, removed on a clean exit).
//! Any other `warroom` without `--server` in the same data dir joins that server with the
//! embedded token instead of starting a second one on the same SQLite file.
//!
//! A server is joined only when the lock is held and the server answers `GET /healthz` and
//! accepts the data dir's own embedded token on `GET /me` (a server of another data dir refuses
//! it). A file whose lock nobody holds is stale: it is removed, and the console or `tail` that
//! found it serves (and names itself) instead; a one-shot command runs its own short-lived
//! server as before, unnamed.
//!
//! A joined console or `tail` watches the lock. When the owner quits (or dies), the first of
//! them to get the lock serves the same address from the same database, so every joined
//! client's reconnect lands on it and resumes from its last seq. If that address cannot be
//! bound again at once (another process took the port meanwhile), `tail` says so on stderr and
//! a console as a notice, and both keep trying every few seconds.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::client::{ApiClient, Timeouts, TlsOptions};
use crate::server::{self, ServeOptions, Store};

/// Names the running embedded server: `{"url": "http://127.0.0.1:7878", "pid": 1234}`.
pub const DISCOVERY_FILE: &str = "embedded-server.json";
/// Held (exclusive) by the process that serves the embedded server.
pub const LOCK_FILE: &str = "embedded-server.lock";

/// How long to wait for a server whose owner holds the lock to be named and to answer (it may
/// be starting).
const WAIT_FOR_OWNER: Duration = Duration::from_secs(3);
/// How often a joined process looks whether the owner is gone.
const WATCH_EVERY: Duration = Duration::from_millis(250);
/// How often a joined process retries serving after it could not bind the address.
const RETRY_SERVE_EVERY: Duration = Duration::from_secs(2);

/// What the discovery file says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    pub url: String,
    pub pid: u32,
}

/// The right to serve this data dir's embedded server: the lock, held while this lives. While
/// it is held, a discovery file is either this process's or stale.
pub struct Ownership {
    _lock: File,
    dir: PathBuf,
}

impl Ownership {
    /// Takes the lock if nobody holds it (`None`: another process serves). Removes a discovery
    /// file left behind by an owner that died.
    pub fn try_acquire(data_dir: &Path) -> std::io::Result<Option<Ownership>> {
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(data_dir.join(LOCK_FILE))?;
        match lock.try_lock() {
            Ok(()) => {
                let own = Ownership { _lock: lock, dir: data_dir.to_path_buf() };
                own.withdraw();
                Ok(Some(own))
            }
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// Names the server in the discovery file (a temporary file renamed into place, so a reader
    /// sees all of it or nothing).
    pub fn advertise(&self, url: &str) -> anyhow::Result<()> {
        let d = Discovery { url: url.to_string(), pid: std::process::id() };
        let tmp = self.dir.join(format!("{DISCOVERY_FILE}.{}.tmp", d.pid));
        write_private(&tmp, &serde_json::to_string(&d)?)?;
        std::fs::rename(&tmp, self.dir.join(DISCOVERY_FILE))
            .with_context(|| format!("naming the embedded server in {}", self.dir.display()))
    }

    /// Removes the discovery file (new processes stop joining this server).
    fn withdraw(&self) {
        match std::fs::remove_file(self.dir.join(DISCOVERY_FILE)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("removing the embedded server's discovery file: {e}"),
        }
    }
}

impl Drop for Ownership {
    fn drop(&mut self) {
        // Still holding the lock here: the file is ours (or stale).
        self.withdraw();
    }
}

/// The embedded server when this process runs it.
pub struct Serving {
    pub running: server::Running,
    /// Set when this process is the data dir's owner (others join it).
    pub ownership: Option<Ownership>,
}

impl Serving {
    /// Stops naming the server, stops it (so its port is free), then lets go of the lock, in
    /// that order: a process waiting to take over gets the lock only once the port is free.
    pub async fn stop(self) {
        if let Some(o) = &self.ownership {
            o.withdraw();
        }
        if let Err(e) = self.running.shutdown().await {
            tracing::warn!("stopping the embedded server: {e:#}");
        }
        drop(self.ownership);
    }
}

/// What looking for the data dir's embedded server found.
pub enum Found {
    /// A live server to join, with the token to use.
    Joined { discovery: Discovery, token: String },
    /// Nobody serves; this process may (the lock is held).
    Owner(Ownership),
    /// Nobody to join, and this process should not name its own server.
    Alone,
}

/// Looks for this data dir's running embedded server. `configured` is the token from
/// `--token`/config; `want_owner` is set for processes that live long enough to serve others
/// (the console, `tail`).
pub async fn find(data_dir: &Path, configured: Option<&str>, want_owner: bool) -> Found {
    let deadline = Instant::now() + WAIT_FOR_OWNER;
    let mut why = String::from("its owner has not named it yet");
    loop {
        match Ownership::try_acquire(data_dir) {
            Ok(Some(own)) if want_owner => return Found::Owner(own),
            Ok(Some(_)) => {
                tracing::info!("no embedded server runs for {}", data_dir.display());
                return Found::Alone;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::info!("cannot lock {} ({e}); not sharing the embedded server", LOCK_FILE);
                return Found::Alone;
            }
        }
        // Another process holds the lock: it serves, or is about to.
        if let Some(d) = read_discovery(data_dir) {
            match check(data_dir, &d, configured).await {
                Ok(token) => {
                    tracing::info!("joining the embedded server on {} (pid {})", d.url, d.pid);
                    return Found::Joined { discovery: d, token };
                }
                Err(e) => why = format!("pid {} on {}: {e}", d.pid, d.url),
            }
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                "the running embedded server does not answer ({why}); starting one of this process's own"
            );
            return Found::Alone;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn read_discovery(data_dir: &Path) -> Option<Discovery> {
    let text = std::fs::read_to_string(data_dir.join(DISCOVERY_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The data dir's own embedded token, if one was made.
fn embedded_token(data_dir: &Path) -> Option<String> {
    let t = std::fs::read_to_string(data_dir.join("embedded-token")).ok()?;
    Some(t.trim().to_string()).filter(|t| !t.is_empty())
}

/// Whether `d` is this data dir's server: plain HTTP on loopback, answering `/healthz`, and
/// accepting the data dir's embedded token. Returns the token to use with it.
async fn check(data_dir: &Path, d: &Discovery, configured: Option<&str>) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(&d.url).with_context(|| format!("bad URL `{}`", d.url))?;
    let loopback = url.host_str().is_some_and(|h| {
        let h = h.trim_start_matches('[').trim_end_matches(']');
        h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    });
    anyhow::ensure!(url.scheme() == "http" && loopback, "not a loopback http:// URL");
    let own = embedded_token(data_dir);
    let probe_token = own.clone().or(configured.map(str::to_string)).context("no token to check it with")?;
    let quick =
        Timeouts { connect: Duration::from_secs(1), request: Duration::from_secs(2), ..Timeouts::default() };
    let probe = ApiClient::with_options(
        std::slice::from_ref(&d.url),
        Some(probe_token),
        &TlsOptions::default(),
        quick,
    )?;
    probe.health().await?;
    probe.me().await?;
    Ok(configured.map(str::to_string).or(own).expect("one of them probed"))
}

/// What a joined process learns when the owner goes away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Takeover {
    /// This process serves the embedded server now, on the same address.
    Serving { url: String, was_pid: u32 },
    /// The owner went away and this process cannot serve the same address yet (it keeps trying).
    CannotServe { url: String, error: String },
}

impl std::fmt::Display for Takeover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Takeover::Serving { url, was_pid } => write!(
                f,
                "the embedded server's owner (pid {was_pid}) quit; this process (pid {}) serves it now on {url}",
                std::process::id()
            ),
            Takeover::CannotServe { url, error } => {
                write!(
                    f,
                    "the embedded server on {url} went away and cannot be served here yet: {error} (trying again every {} s)",
                    RETRY_SERVE_EVERY.as_secs()
                )
            }
        }
    }
}

/// A joined server, watched so that this process can take over when its owner quits.
pub struct Joined {
    pub discovery: Discovery,
    watch: Option<Watch>,
}

struct Watch {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Option<Serving>>,
    events: Option<mpsc::UnboundedReceiver<Takeover>>,
}

impl Joined {
    /// A joined server that this process does not watch (one-shot commands).
    pub fn unwatched(discovery: Discovery) -> Joined {
        Joined { discovery, watch: None }
    }

    /// Joins and watches: when the owner quits, this process serves `opts` (its `listen` is set
    /// to the joined address) over the database at `db_url`.
    pub fn watched(
        discovery: Discovery,
        data_dir: PathBuf,
        db_url: String,
        mut opts: ServeOptions,
    ) -> Joined {
        let url = discovery.url.clone();
        let was_pid = discovery.pid;
        opts.listen = reqwest::Url::parse(&url)
            .ok()
            .and_then(|u| u.socket_addrs(|| None).ok())
            .and_then(|a| a.first().copied())
            .map(|a| a.to_string())
            .unwrap_or_else(|| url.trim_start_matches("http://").to_string());
        let stop = CancellationToken::new();
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(take_over_when_free(data_dir, db_url, opts, url, was_pid, stop.clone(), tx));
        Joined { discovery, watch: Some(Watch { stop, task, events: Some(rx) }) }
    }

    /// What happens to the server, for the caller to show (once; `None` when not watched).
    pub fn takeover_events(&mut self) -> Option<mpsc::UnboundedReceiver<Takeover>> {
        self.watch.as_mut().and_then(|w| w.events.take())
    }

    /// Stops watching; stops the server if this process took it over.
    pub async fn stop(self) {
        let Some(w) = self.watch else { return };
        w.stop.cancel();
        match w.task.await {
            Ok(Some(serving)) => serving.stop().await,
            Ok(None) => {}
            Err(e) => tracing::warn!("the embedded server watch failed: {e}"),
        }
    }
}

async fn take_over_when_free(
    data_dir: PathBuf,
    db_url: String,
    opts: ServeOptions,
    url: String,
    was_pid: u32,
    stop: CancellationToken,
    tx: mpsc::UnboundedSender<Takeover>,
) -> Option<Serving> {
    let mut told = false;
    let mut pause = WATCH_EVERY;
    let mut store: Option<Arc<dyn Store>> = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return None,
            _ = tokio::time::sleep(pause) => {}
        }
        let own = match Ownership::try_acquire(&data_dir) {
            Ok(Some(own)) => own,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("watching the embedded server's lock: {e}");
                pause = RETRY_SERVE_EVERY;
                continue;
            }
        };
        tracing::info!("the embedded server's owner (pid {was_pid}) is gone; serving {url} from here");
        let started = async {
            let s = match &store {
                Some(s) => s.clone(),
                None => store.insert(server::open_store(&db_url).await?).clone(),
            };
            server::start(opts.clone(), s).await
        }
        .await;
        match started {
            Ok(running) => {
                if let Err(e) = own.advertise(&url) {
                    tracing::warn!("{e:#}");
                }
                let _ = tx.send(Takeover::Serving { url: url.clone(), was_pid });
                return Some(Serving { running, ownership: Some(own) });
            }
            Err(e) => {
                drop(own);
                tracing::warn!("cannot serve the embedded server on {url} again: {e:#}");
                if !told {
                    told = true;
                    let _ = tx.send(Takeover::CannotServe { url: url.clone(), error: format!("{e:#}") });
                }
                pause = RETRY_SERVE_EVERY;
            }
        }
    }
}

/// Writes a file only its owner may read (mode 0600): the discovery file, the embedded token.
pub(super) fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_owner_at_a_time_and_the_file_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let own = Ownership::try_acquire(dir.path()).unwrap().expect("nobody holds it");
        assert!(Ownership::try_acquire(dir.path()).unwrap().is_none(), "a second owner");
        own.advertise("http://127.0.0.1:1").unwrap();
        let d = read_discovery(dir.path()).unwrap();
        assert_eq!(d, Discovery { url: "http://127.0.0.1:1".into(), pid: std::process::id() });
        drop(own);
        assert!(read_discovery(dir.path()).is_none(), "removed with the ownership");
        // A file left by a dead owner is removed by the next one.
        std::fs::write(dir.path().join(DISCOVERY_FILE), r#"{"url":"http://127.0.0.1:1","pid":1}"#).unwrap();
        let own = Ownership::try_acquire(dir.path()).unwrap().unwrap();
        assert!(read_discovery(dir.path()).is_none());
        drop(own);
    }
}
