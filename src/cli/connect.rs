//! Reaching a server: [`Ctx`] (directories, config and the command line's server and token),
//! and [`Conn`], the server a command talks to: the configured one, or the embedded one, which
//! this process joins when another `warroom` runs it for the data dir, or else starts itself
//! (see `embedded`), with the admin token it keeps in `<data dir>/embedded-token`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::mpsc;

use super::embedded;
use crate::api::Role;
use crate::client::{ApiClient, ClientError, Outbox, TlsOptions};
use crate::config::{Config, Paths};
use crate::server::{self, ServeOptions, Store};

/// The address the embedded server prefers (and `serve`'s default).
pub(super) const EMBEDDED_LISTEN: &str = "127.0.0.1:7878";

/// What every command starts from: the directories, the config, and the server and token
/// given on the command line (which win over the config's).
pub(super) struct Ctx {
    pub(super) paths: Paths,
    pub(super) config: Config,
    pub(super) server: Option<String>,
    pub(super) token: Option<String>,
    pub(super) tls: TlsOptions,
}

/// A server to talk to: the configured one, the embedded one run by this process, or the
/// embedded one another process runs for the same data dir.
pub(super) struct Conn {
    pub(super) client: ApiClient,
    pub(super) outbox: Outbox,
    embedded: Embedded,
    /// The embedded server's database when it runs here (the demo makes its personas' tokens
    /// there).
    store: Option<Arc<dyn Store>>,
}

enum Embedded {
    /// A configured server.
    No,
    /// This process runs it.
    Serving(embedded::Serving),
    /// Another process runs it for this data dir.
    Joined(embedded::Joined),
}

impl Conn {
    pub(super) async fn stop(self) {
        match self.embedded {
            Embedded::No => {}
            Embedded::Serving(s) => s.stop().await,
            Embedded::Joined(j) => j.stop().await,
        }
    }

    /// Names the server for the console's status line.
    pub(super) fn label(&self) -> String {
        match &self.embedded {
            Embedded::Serving(s) => {
                format!("embedded server on http://{} (other terminals join it)", s.running.addr)
            }
            Embedded::Joined(j) => {
                format!("embedded server on {} (joined; run by pid {})", j.discovery.url, j.discovery.pid)
            }
            Embedded::No => self.client.base().to_string(),
        }
    }

    /// The embedded server's database: this process's, or opened here when it joined another
    /// process's server (same SQLite file). `None` for a configured server.
    pub(super) async fn embedded_store(&self, ctx: &Ctx) -> Option<Arc<dyn Store>> {
        match &self.embedded {
            Embedded::No => None,
            Embedded::Serving(_) => self.store.clone(),
            Embedded::Joined(_) => match server::open_store(&ctx.paths.default_db_url()).await {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!("opening the embedded server's database: {e:#}");
                    None
                }
            },
        }
    }

    /// Whether this is the data dir's embedded server (run here or joined), whose token is the
    /// data dir's own: a refusal of it means another process holds the address, not a revocation.
    pub(super) fn is_embedded(&self) -> bool {
        !matches!(self.embedded, Embedded::No)
    }

    /// What happens to a joined embedded server when its owner quits (see `embedded`).
    pub(super) fn takeover_events(&mut self) -> Option<mpsc::UnboundedReceiver<embedded::Takeover>> {
        match &mut self.embedded {
            Embedded::Joined(j) => j.takeover_events(),
            _ => None,
        }
    }
}

impl Ctx {
    /// Server URLs: `--server`/`WARROOM_SERVER`, else the config's `server`.
    pub(super) fn server_urls(&self) -> Vec<String> {
        if let Some(s) = &self.server {
            return crate::config::ServerList::One(s.clone()).urls();
        }
        self.config.server.as_ref().map(|s| s.urls()).unwrap_or_default()
    }

    /// Token: `--token`/`WARROOM_TOKEN`, else config `token`, else config `token_file`.
    fn configured_token(&self) -> anyhow::Result<Option<String>> {
        if let Some(t) = self.token.as_ref().or(self.config.token.as_ref()) {
            return Ok(Some(t.trim().to_string()));
        }
        if let Some(f) = &self.config.token_file {
            let f = if f.is_relative() { self.paths.config_dir.join(f) } else { f.clone() };
            return read_token_file(&f).map(Some);
        }
        Ok(None)
    }

    /// The database: `--db`, else the config's `[serve] db`, else SQLite in the data dir.
    pub(super) fn db_url(&self, db: Option<String>) -> String {
        db.or_else(|| self.config.serve.db.clone()).unwrap_or_else(|| self.paths.default_db_url())
    }

    /// The server's options from the config (practice, alertmanager, limits), listening on
    /// `listen` with `scheme` (else the config's).
    pub(super) fn serve_options(
        &self,
        listen: String,
        scheme: Option<String>,
    ) -> anyhow::Result<ServeOptions> {
        let practice_dir =
            self.config.serve.practice_dir.clone().unwrap_or_else(|| self.paths.config_dir.join("practice"));
        let scheme = scheme.or_else(|| self.config.serve.scheme.clone());
        let practice = crate::assets::load_practice(Some(&practice_dir), scheme.as_deref())?;
        Ok(ServeOptions {
            listen,
            practice,
            alertmanager: self.config.serve.alertmanager.clone(),
            limits: self.config.serve.limits,
            oidc: self.config.serve.oidc.clone(),
            ..ServeOptions::default()
        })
    }

    /// Connects to the configured server, else joins the embedded server that another
    /// `warroom` runs for this data dir, else starts one. `session` is set for processes that
    /// stay (the console, `tail`): they name their embedded server for others to join, and take
    /// over a joined one when its owner quits.
    pub(super) async fn connect(&self, session: bool) -> anyhow::Result<Conn> {
        let urls = self.server_urls();
        if urls.is_empty() {
            let mut conn = self.embedded(session).await?;
            conn.outbox = conn.outbox.with_identity(conn.client.token_identity());
            return Ok(conn);
        }
        let (token, identity) = match self.configured_token()? {
            Some(t) => (Some(t), None),
            // oidc: else the signed-in session for this server (renewed when expired).
            None => match current_session(self, &urls).await {
                Some(s) => (Some(s.token.clone()), Some(s.identity())),
                None => (None, None),
            },
        };
        let client = ApiClient::with_tls(&urls, token, &self.tls)?;
        let identity = identity.or_else(|| client.token_identity()).or_else(|| Some("anonymous".into()));
        let outbox = Outbox::open(&self.paths.data_dir, &client.bases()[0])
            .with_context(|| format!("opening the outbox in {}", self.paths.data_dir.display()))?
            .with_identity(identity);
        Ok(Conn { client, outbox, embedded: Embedded::No, store: None })
    }

    /// Joins the data dir's running embedded server, or starts one (see `embedded`).
    async fn embedded(&self, session: bool) -> anyhow::Result<Conn> {
        self.paths.ensure_data_dir()?;
        let configured = self.configured_token()?;
        match embedded::find(&self.paths.data_dir, configured.as_deref(), session).await {
            embedded::Found::Joined { discovery, token } => {
                let client = ApiClient::new(std::slice::from_ref(&discovery.url), Some(token))?;
                let joined = if session {
                    let opts = self.serve_options(EMBEDDED_LISTEN.into(), None)?;
                    embedded::Joined::watched(
                        discovery,
                        self.paths.data_dir.clone(),
                        self.paths.default_db_url(),
                        opts,
                    )
                } else {
                    embedded::Joined::unwatched(discovery)
                };
                // The same outbox as the server's owner: what either queued, either sends.
                let outbox = Outbox::open(&self.paths.data_dir, "embedded")?;
                Ok(Conn { client, outbox, embedded: Embedded::Joined(joined), store: None })
            }
            embedded::Found::Owner(own) => self.start_embedded(&self.embedded_listen()?, Some(own)).await,
            embedded::Found::Alone => self.start_embedded(&self.embedded_listen()?, None).await,
        }
    }

    /// The embedded server's first address: the config's `embedded_listen` (a loopback address:
    /// the embedded server speaks plain HTTP with an admin token), else 127.0.0.1:7878.
    fn embedded_listen(&self) -> anyhow::Result<String> {
        match &self.config.embedded_listen {
            None => Ok(EMBEDDED_LISTEN.to_string()),
            Some(a) => {
                check_embedded_listen(a).map_err(|e| anyhow::anyhow!("config `embedded_listen`: {e}"))?;
                Ok(a.clone())
            }
        }
    }

    /// Starts the server in-process on loopback (`embedded_listen`, else any free port) over SQLite
    /// in the data dir, with an admin token kept in `<data dir>/embedded-token` (mode 0600).
    /// With `ownership`, names it in the data dir for other `warroom`s to join.
    async fn start_embedded(
        &self,
        listen: &str,
        ownership: Option<embedded::Ownership>,
    ) -> anyhow::Result<Conn> {
        let store = server::open_store(&self.paths.default_db_url()).await?;
        let opts = self.serve_options(listen.to_string(), None)?;
        let running = match server::start(opts.clone(), store.clone()).await {
            Ok(r) => r,
            Err(e) => {
                tracing::info!("{listen} is busy ({e:#}); the embedded server takes any free port");
                server::start(ServeOptions { listen: "127.0.0.1:0".into(), ..opts }, store.clone()).await?
            }
        };
        let url = format!("http://{}", running.addr);
        let token = match self.configured_token()? {
            Some(t) => t,
            None => embedded_token(&self.paths.data_dir, store.as_ref(), &url).await?,
        };
        let client = ApiClient::new(std::slice::from_ref(&url), Some(token))?;
        // Named only once its token is stored: a joiner checks the server with it.
        if let Some(own) = &ownership
            && let Err(e) = own.advertise(&url)
        {
            tracing::warn!("{e:#}");
        }
        // One outbox for the embedded server whatever port it got this time.
        let outbox = Outbox::open(&self.paths.data_dir, "embedded")?;
        let serving = embedded::Serving { running, ownership };
        Ok(Conn { client, outbox, embedded: Embedded::Serving(serving), store: Some(store) })
    }
}

/// Whether `a` is an address the embedded server may listen on: an IP and port on loopback.
pub(super) fn check_embedded_listen(a: &str) -> Result<(), String> {
    match a.parse::<std::net::SocketAddr>() {
        Ok(sa) if sa.ip().is_loopback() => Ok(()),
        Ok(_) => {
            Err(format!("`{a}` is not a loopback address (the embedded server is for this machine only)"))
        }
        Err(_) => Err(format!("`{a}` is not an address like 127.0.0.1:7878")),
    }
}

/// Longest token file read (a token is under 100 bytes; `/dev/zero` must not eat memory).
const TOKEN_FILE_CAP: u64 = 4096;

/// Reads a token file with a size cap; a file that does not hold one token is "malformed",
/// never a network error later.
fn read_token_file(f: &Path) -> anyhow::Result<String> {
    use std::io::Read as _;
    let file = std::fs::File::open(f)
        .with_context(|| format!("reading the token file {} (config `token_file`)", f.display()))?;
    let mut bytes = Vec::new();
    file.take(TOKEN_FILE_CAP + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading the token file {} (config `token_file`)", f.display()))?;
    if bytes.len() as u64 > TOKEN_FILE_CAP {
        anyhow::bail!(
            "the token file {} (config `token_file`) is larger than {TOKEN_FILE_CAP} bytes: it holds no token",
            f.display()
        );
    }
    let t = String::from_utf8(bytes).ok().map(|t| t.trim().to_string()).unwrap_or_default();
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_graphic()) {
        anyhow::bail!(
            "the token file {} (config `token_file`) holds a malformed token: expected one line like \
             `wr_...` (printable characters, no spaces)",
            f.display()
        );
    }
    Ok(t)
}

// oidc: the signed-in session a command uses when no token is configured.
/// The stored session for the first of `urls`, renewed at the provider when it has expired
/// (the role is mapped again from the user's groups). An expired session that cannot be
/// renewed is still returned: the server refuses it, and the outbox keeps what it refused for
/// the same user's next sign-in.
async fn current_session(ctx: &Ctx, urls: &[String]) -> Option<crate::client::session::Session> {
    let api = ApiClient::with_tls(urls, None, &ctx.tls).ok()?;
    let s = crate::client::session::load(&ctx.paths.data_dir, api.base())?;
    if !s.expired() {
        return Some(s);
    }
    match crate::client::session::refresh(&api, &s).await {
        Ok(new) => {
            if let Err(e) = crate::client::session::save(&ctx.paths.data_dir, &new) {
                tracing::warn!("storing the renewed session: {e:#}");
            }
            Some(new)
        }
        Err(e) => {
            tracing::info!("renewing the session of {}: {e:#}", s.user);
            Some(s)
        }
    }
}

/// The embedded server's admin token: read from `<data dir>/embedded-token`, or created (and
/// stored with mode 0600) when missing or no longer valid for this database.
async fn embedded_token(data_dir: &Path, store: &dyn Store, url: &str) -> anyhow::Result<String> {
    let file = data_dir.join("embedded-token");
    if let Ok(t) = std::fs::read_to_string(&file) {
        let t = t.trim().to_string();
        let probe = ApiClient::new(&[url.to_string()], Some(t.clone()))?;
        match probe.me().await {
            Ok(_) => return Ok(t),
            Err(ClientError::Unauthorized { .. }) => {
                tracing::info!("the stored embedded token is not valid for this database; making a new one")
            }
            Err(e) => return Err(e.into()),
        }
    }
    let name = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "local".into());
    let secret = match server::tokens::create(store, &name, Role::Admin).await {
        Ok(s) => s,
        Err(e) => {
            // The name may be taken by an earlier embedded token; pick a unique one.
            tracing::info!("creating the embedded token as {name}: {e:#}");
            let unique = format!("{name}-{}", &uuid::Uuid::now_v7().simple().to_string()[24..]);
            server::tokens::create(store, &unique, Role::Admin).await?
        }
    };
    embedded::write_private(&file, &secret)?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_precedence_flag_then_config() {
        let paths = Paths { data_dir: "/d".into(), config_dir: "/c".into() };
        let config = Config {
            server: Some(crate::config::ServerList::Many(vec!["http://cfg:1".into()])),
            token: Some("cfg-token".into()),
            ..Config::default()
        };
        let ctx = Ctx {
            paths: paths.clone(),
            config: config.clone(),
            server: None,
            token: None,
            tls: Default::default(),
        };
        assert_eq!(ctx.server_urls(), vec!["http://cfg:1".to_string()]);
        assert_eq!(ctx.configured_token().unwrap().as_deref(), Some("cfg-token"));
        let ctx = Ctx {
            paths,
            config,
            server: Some("http://a:1, http://b:2".into()),
            token: Some("t".into()),
            tls: Default::default(),
        };
        assert_eq!(ctx.server_urls(), vec!["http://a:1".to_string(), "http://b:2".to_string()]);
        assert_eq!(ctx.configured_token().unwrap().as_deref(), Some("t"));
    }
}
