//! The console (`warroom` with no command): connect or start the embedded server, optionally
//! load the demo, start the sync worker and run the TUI.

use tokio::sync::mpsc;

use crate::cli::connect::Ctx;
use crate::client::cache::Cache;
use crate::client::{ClientError, SyncHandle, SyncMsg, WorkerOptions};

/// `<data dir>/drafts/<server>`: the server's key is the one its outbox is named by.
fn drafts_dir(ctx: &Ctx, conn: &crate::cli::connect::Conn) -> std::path::PathBuf {
    let stem = conn.outbox.path().file_stem().and_then(|s| s.to_str()).unwrap_or("outbox-default");
    ctx.paths.data_dir.join("drafts").join(stem.trim_start_matches("outbox-"))
}

/// The console: connects (or starts the embedded server), optionally loads the demo, starts the
/// sync worker and hands everything to `tui::run`.
pub(in crate::cli) async fn console(
    ctx: &Ctx,
    demo: bool,
    theme: Option<String>,
    open: Option<String>,
) -> anyhow::Result<()> {
    let mut conn = ctx.connect(true).await?;
    crate::client::startup::mark("connect");
    // The local cache of this server as this identity: the first frame comes from it, and
    // the worker fetches only what happened since (see `client::cache`).
    let server = if conn.is_embedded() { "embedded" } else { conn.client.bases()[0].as_str() };
    let identity = conn.outbox.identity().unwrap_or("anonymous").to_string();
    let cache = Cache::new(&ctx.paths.data_dir, server, &identity);
    let lock = cache.lock();
    let cached = if demo { None } else { cache.load() };
    let cached_timeline = match (&open, &cached) {
        (Some(id), Some(c)) if c.has_timeline(id) => cache.read_timeline(c, id),
        _ => None,
    };
    crate::client::startup::mark("cache");
    if cached.is_none() {
        // Without a cache, a refused token is said before the terminal changes mode; with one,
        // the cached board shows at once and the worker reports (and drops the cache) instead.
        match conn.client.me().await {
            Err(e @ (ClientError::Unauthorized { .. } | ClientError::Forbidden { .. })) => {
                conn.stop().await;
                return Err(e.into());
            }
            Err(e) => tracing::warn!("{e}"),
            Ok(_) => {}
        }
    }
    if demo && !conn.is_embedded() {
        let server = conn.client.base().to_string();
        conn.stop().await;
        let how = "Leave out --demo, or load it there with `warroom demo --force`.";
        anyhow::bail!("--demo: {}", super::demo::not_embedded(&server, how));
    }
    if demo {
        match conn.client.incidents().await {
            Ok(list) if list.incidents.is_empty() => {
                let store = conn.embedded_store(ctx).await;
                let ids = crate::demo::load(&conn.client, store.as_deref()).await?;
                tracing::info!("loaded demo incidents {}", ids.join(", "));
            }
            Ok(_) => tracing::info!("the server already has incidents; not loading the demo"),
            Err(e) => tracing::warn!("cannot load the demo: {e}"),
        }
    }
    let (tx, rx) = mpsc::unbounded_channel();
    if let Some(mut takeover) = conn.takeover_events() {
        // Shown as a notice; a weak sender, so that the console still sees the worker stop.
        let notices = tx.downgrade();
        tokio::spawn(async move {
            while let Some(t) = takeover.recv().await {
                tracing::info!("{t}");
                match notices.upgrade() {
                    Some(tx) => {
                        let _ = tx.send(SyncMsg::Notice(t.to_string()));
                    }
                    None => break,
                }
            }
        });
    }
    let (writer, writer_join) = match lock {
        Some(lock) => {
            let (w, j) = cache.writer(lock, cached.as_ref());
            (Some(w), Some(j))
        }
        None => (None, None),
    };
    let worker =
        WorkerOptions { cache: writer, resume: cached.as_ref().map(|c| c.resume()), ..Default::default() };
    let (sync, commands) = SyncHandle::channel();
    crate::client::spawn_with(conn.client.clone(), conn.outbox.clone(), commands, tx, worker);
    crate::client::startup::mark("worker");
    // oidc: a signed-in console renews its session, and takes a new sign-in of the same user.
    let keeper = super::login::keep_session(ctx, &conn);
    let opts = crate::tui::ConsoleOptions {
        sync: sync.clone(),
        events: rx,
        server_label: conn.label(),
        theme: theme.or_else(|| ctx.config.theme.clone()),
        config_dir: ctx.paths.config_dir.clone(),
        keys: ctx.config.keys.clone(),
        time: ctx.config.time,
        open,
        drafts_dir: Some(drafts_dir(ctx, &conn)),
        cached,
        cached_timeline,
    };
    let result = crate::tui::run(opts).await;
    if let Some(k) = keeper {
        k.abort();
    }
    sync.shutdown();
    if let Some(j) = writer_join {
        tokio::task::spawn_blocking(move || j.finish(std::time::Duration::from_secs(5))).await.ok();
    }
    conn.stop().await;
    result
}
