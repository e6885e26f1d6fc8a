//! Command line: clap commands and what each does. With no command, the console (against the
//! configured server, or an embedded one started in-process); `serve`, `token`, `declare`,
//! `log`, `tail`, `export`, `demo` for the server host and for scripts; `run`, `report` and
//! `export --at` are in `ops.rs`.

mod embedded;
mod ops;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand, ValueEnum};
use tokio::sync::mpsc;

use crate::api::Role;
use crate::client::{
    ApiClient, ClientError, FlushOutcome, Flushed, LinkState, Outbox, Pending, SyncMsg, Target, flush,
};
use crate::config::{Config, Paths};
use crate::domain::{EventBody, EventKind, NewEvent, text};
use crate::server::{self, ServeOptions, Store};

/// Exit status of a command whose write was queued but could not be confirmed (EX_TEMPFAIL).
pub const EXIT_QUEUED: u8 = 75;

/// The address the embedded server prefers.
const EMBEDDED_LISTEN: &str = "127.0.0.1:7878";

#[derive(Debug, Parser)]
#[command(name = "warroom", version, about = "A terminal war room for incident response", long_about = None)]
pub struct Cli {
    /// Server URL(s), comma-separated for failover. Without one, `warroom` joins the embedded
    /// server another `warroom` runs for the data dir, else runs one on loopback with SQLite in
    /// the data dir.
    #[arg(long, global = true, env = "WARROOM_SERVER")]
    pub server: Option<String>,
    /// Bearer token (else the config's `token`/`token_file`, else the embedded one).
    #[arg(long, global = true, env = "WARROOM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Trust this CA certificate file (PEM) for https:// servers, besides the system's.
    #[arg(long, global = true, env = "WARROOM_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Allow sending the token over plain HTTP to a host that is not loopback.
    #[arg(long, global = true)]
    pub insecure_http: bool,
    /// Load a demo incident (when the server has none) and open the console.
    #[arg(long)]
    pub demo: bool,
    /// Theme for the console (default, mono, high-contrast, light or a file in the config dir).
    #[arg(long)]
    pub theme: Option<String>,
    /// Open this incident's war room at start.
    #[arg(long, value_name = "INCIDENT")]
    pub open: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the shared HTTP server (until Ctrl-C or SIGTERM).
    Serve {
        /// Address to listen on [default: config [serve] listen, else 127.0.0.1:7878].
        #[arg(long)]
        listen: Option<String>,
        /// Database URL, e.g. sqlite:///var/lib/warroom/warroom.db [default: SQLite in the data dir].
        #[arg(long)]
        db: Option<String>,
        /// Severity scheme: `sev` (SEV-1..4), `p` (P1..P4) or a team's own.
        #[arg(long)]
        scheme: Option<String>,
        /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
        #[arg(long, value_name = "PEM", requires = "tls_key")]
        tls_cert: Option<std::path::PathBuf>,
        /// The certificate's private key (PEM); needs --tls-cert.
        #[arg(long, value_name = "PEM", requires = "tls_cert")]
        tls_key: Option<std::path::PathBuf>,
    },
    /// Manage bearer tokens (on the server host, against its database).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Declare an incident; prints its id (e.g. INC-1).
    Declare {
        /// Severity level id, e.g. SEV-2 or P1.
        #[arg(long)]
        severity: String,
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        summary: String,
    },
    /// Append a timeline entry. Queued in the outbox when the server is unreachable (and sent by
    /// the next warroom command that reaches it).
    Log {
        #[arg(long, short)]
        incident: String,
        #[arg(long, short, value_enum, default_value_t = EntryKind::Note)]
        kind: EntryKind,
        /// When it happened (RFC 3339, e.g. 2026-11-23T14:05:00Z) [default: now].
        #[arg(long)]
        at: Option<DateTime<Utc>>,
        /// Tags for the post-mortem (root_cause, impact, lesson, ...); repeatable.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// The entry's text.
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// Print events live, one line each, until Ctrl-C.
    Tail {
        /// Only this incident's events.
        #[arg(long, short)]
        incident: Option<String>,
    },
    /// Export an incident: its state and every event (json), or the post-mortem (markdown).
    Export {
        incident: String,
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
        /// The incident as it stood at this moment (RFC 3339): what had been recorded by then,
        /// with its timers (json only).
        #[arg(long)]
        at: Option<DateTime<Utc>>,
    },
    /// Run a command with your terminal attached, then log what was done (command line with
    /// secrets masked, host, user, start, duration, exit status) as a timeline entry. Queued in
    /// the outbox when the server is unreachable. Exits with the command's own status.
    Run {
        #[arg(long, short)]
        incident: String,
        /// Why it was run; added to the entry.
        #[arg(long)]
        note: Option<String>,
        /// Entry kind [default: action].
        #[arg(long, short)]
        kind: Option<String>,
        /// The command and its arguments, after `--`.
        #[arg(required = true, num_args = 1.., last = true)]
        command: Vec<String>,
    },
    /// Response figures across incidents: MTTA/MTTR by severity, targets met vs breached,
    /// action items past due, incidents per day.
    Report {
        /// How far back: e.g. 30d, 12h, 2w [default: 30d].
        #[arg(long, default_value = "30d")]
        since: String,
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Load the demo incidents into the server.
    Demo,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; prints the secret alone on stdout (shown once).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = role_parser())]
        role: Role,
        /// Database URL [default: the server's].
        #[arg(long)]
        db: Option<String>,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long)]
        db: Option<String>,
    },
    /// Revoke a token by name or id.
    Revoke {
        name_or_id: String,
        #[arg(long)]
        db: Option<String>,
    },
}

/// `--role`: the role names with their descriptions (as `--help` lists them), parsed by
/// `Role`'s `FromStr` (the wire contract does not derive clap's `ValueEnum`).
fn role_parser() -> impl TypedValueParser<Value = Role> {
    let values =
        Role::ALL.map(|r| PossibleValue::new(r.as_str()).help(r.description().trim_end_matches('.')));
    PossibleValuesParser::new(values).map(|s| s.parse::<Role>().expect("every possible value is a role"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EntryKind {
    Note,
    Finding,
    Action,
    Decision,
}

impl EntryKind {
    fn event_kind(self) -> EventKind {
        match self {
            EntryKind::Note => EventKind::Note,
            EntryKind::Finding => EventKind::Finding,
            EntryKind::Action => EventKind::Action,
            EntryKind::Decision => EventKind::Decision,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Json,
    Markdown,
}

/// Parses the command line and runs it.
pub fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let paths = Paths::from_env()?;
    let config = Config::load(&paths.config_file())?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run(cli, paths, config))
}

/// Runs a parsed command line.
pub async fn run(cli: Cli, paths: Paths, config: Config) -> anyhow::Result<ExitCode> {
    crate::client::init_tls();
    let tls = crate::client::TlsOptions {
        ca_file: cli.ca_file.clone().or_else(|| config.ca_file.clone()),
        insecure_http: cli.insecure_http || config.insecure_http,
    };
    let ctx = Ctx { paths, config, server: cli.server.clone(), token: cli.token.clone(), tls };
    match cli.command {
        Some(Command::Serve { listen, db, scheme, tls_cert, tls_key }) => {
            let _guard = init_logging(&ctx.paths, LogTo::StderrAndFile("serve.log"))?;
            let tls = match (
                tls_cert.or(ctx.config.serve.tls_cert.clone()),
                tls_key.or(ctx.config.serve.tls_key.clone()),
            ) {
                (Some(cert), Some(key)) => Some(server::TlsFiles { cert, key }),
                (None, None) => None,
                _ => bail!(
                    "TLS needs both a certificate and a key (--tls-cert and --tls-key, or [serve] tls_cert and tls_key)"
                ),
            };
            serve(&ctx, listen, db, scheme, tls).await?;
        }
        Some(Command::Token { command }) => {
            let _guard = init_logging(&ctx.paths, LogTo::Stderr)?;
            token(&ctx, command).await?;
        }
        Some(cmd) => {
            let _guard = init_logging(&ctx.paths, LogTo::Stderr)?;
            // `tail` lives long enough to serve the embedded server to others; one-shot
            // commands join it when it runs, else run their own for a moment.
            let mut conn = ctx.connect(matches!(cmd, Command::Tail { .. })).await?;
            let code = match cmd {
                Command::Declare { severity, title, summary } => {
                    declare(&conn, severity, title, summary).await?
                }
                Command::Log { incident, kind, at, tags, text } => {
                    log(&conn, incident, kind, at, tags, text.join(" ")).await?
                }
                Command::Tail { incident } => tail(&mut conn, incident).await?,
                Command::Export { incident, format, at: None } => export(&conn, &incident, format).await?,
                Command::Export { incident, format, at: Some(at) } => {
                    ops::export_at(&conn, &incident, format, at).await?
                }
                Command::Run { incident, note, kind, command } => {
                    ops::run(&ctx, &conn, incident, note, kind, command).await?
                }
                Command::Report { since, format } => ops::report(&conn, &since, format).await?,
                Command::Demo => {
                    flush_before(&conn).await;
                    let store = conn.embedded_store(&ctx).await;
                    let ids = crate::demo::load(&conn.client, store.as_deref()).await?;
                    eprintln!("warroom: loaded demo incidents {}", ids.join(", "));
                    if store.is_none() {
                        eprintln!(
                            "warroom: every demo event is authored by this token (the demo's \
                             personas need the embedded server)"
                        );
                    }
                    ExitCode::SUCCESS
                }
                Command::Serve { .. } | Command::Token { .. } => unreachable!("handled above"),
            };
            conn.stop().await;
            return Ok(code);
        }
        None => {
            let _guard = init_logging(&ctx.paths, LogTo::File("console.log"))?;
            console(&ctx, cli.demo, cli.theme, cli.open).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

enum LogTo {
    Stderr,
    File(&'static str),
    StderrAndFile(&'static str),
}

/// Logs via tracing: to stderr for commands (warnings only unless RUST_LOG says otherwise), to
/// a file in the data dir for the console (never on its screen), to both for `serve`.
fn init_logging(
    paths: &Paths,
    to: LogTo,
) -> anyhow::Result<Option<tracing_appender::non_blocking::WorkerGuard>> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer, fmt};
    let filter =
        |default: &str| EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let file_layer = |name: &str| -> anyhow::Result<_> {
        paths.ensure_data_dir().with_context(|| format!("creating {}", paths.data_dir.display()))?;
        let appender = tracing_appender::rolling::daily(&paths.data_dir, name);
        let (writer, guard) = tracing_appender::non_blocking(appender);
        Ok((fmt::layer().with_ansi(false).with_writer(writer), guard))
    };
    let r = tracing_subscriber::registry();
    let guard = match to {
        LogTo::Stderr => {
            let _ = r
                .with(
                    fmt::layer()
                        .with_ansi(std::io::stderr().is_terminal())
                        .with_writer(std::io::stderr)
                        .with_filter(filter("warn")),
                )
                .try_init();
            None
        }
        LogTo::File(name) => {
            let (layer, guard) = file_layer(name)?;
            let _ = r.with(layer.with_filter(filter("info"))).try_init();
            Some(guard)
        }
        LogTo::StderrAndFile(name) => {
            let (layer, guard) = file_layer(name)?;
            let _ = r
                .with(layer.with_filter(filter("info")))
                .with(
                    fmt::layer()
                        .with_ansi(std::io::stderr().is_terminal())
                        .with_writer(std::io::stderr)
                        .with_filter(filter("info")),
                )
                .try_init();
            Some(guard)
        }
    };
    Ok(guard)
}

struct Ctx {
    paths: Paths,
    config: Config,
    server: Option<String>,
    token: Option<String>,
    tls: crate::client::TlsOptions,
}

/// A server to talk to: the configured one, the embedded one run by this process, or the
/// embedded one another process runs for the same data dir.
struct Conn {
    client: ApiClient,
    outbox: Outbox,
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
    async fn stop(self) {
        match self.embedded {
            Embedded::No => {}
            Embedded::Serving(s) => s.stop().await,
            Embedded::Joined(j) => j.stop().await,
        }
    }

    fn label(&self) -> String {
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
    async fn embedded_store(&self, ctx: &Ctx) -> Option<Arc<dyn Store>> {
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

    /// What happens to a joined embedded server when its owner quits (see `embedded`).
    fn takeover_events(&mut self) -> Option<mpsc::UnboundedReceiver<embedded::Takeover>> {
        match &mut self.embedded {
            Embedded::Joined(j) => j.takeover_events(),
            _ => None,
        }
    }
}

impl Ctx {
    /// Server URLs: `--server`/`WARROOM_SERVER`, else the config's `server`.
    fn server_urls(&self) -> Vec<String> {
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
            let t = std::fs::read_to_string(&f)
                .with_context(|| format!("reading the token file {} (config `token_file`)", f.display()))?;
            return Ok(Some(t.trim().to_string()));
        }
        Ok(None)
    }

    fn db_url(&self, db: Option<String>) -> String {
        db.or_else(|| self.config.serve.db.clone()).unwrap_or_else(|| self.paths.default_db_url())
    }

    fn serve_options(&self, listen: String, scheme: Option<String>) -> anyhow::Result<ServeOptions> {
        let practice_dir =
            self.config.serve.practice_dir.clone().unwrap_or_else(|| self.paths.config_dir.join("practice"));
        let scheme = scheme.or_else(|| self.config.serve.scheme.clone());
        let practice = crate::assets::load_practice(Some(&practice_dir), scheme.as_deref())?;
        Ok(ServeOptions {
            listen,
            practice,
            alertmanager: self.config.serve.alertmanager.clone(),
            limits: self.config.serve.limits,
            ..ServeOptions::default()
        })
    }

    /// Connects to the configured server, else joins the embedded server that another
    /// `warroom` runs for this data dir, else starts one. `session` is set for processes that
    /// stay (the console, `tail`): they name their embedded server for others to join, and take
    /// over a joined one when its owner quits.
    async fn connect(&self, session: bool) -> anyhow::Result<Conn> {
        let urls = self.server_urls();
        if urls.is_empty() {
            return self.embedded(session).await;
        }
        let client = ApiClient::with_tls(&urls, self.configured_token()?, &self.tls)?;
        let outbox = Outbox::open(&self.paths.data_dir, &client.bases()[0])
            .with_context(|| format!("opening the outbox in {}", self.paths.data_dir.display()))?;
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
            embedded::Found::Owner(own) => self.start_embedded(EMBEDDED_LISTEN, Some(own)).await,
            embedded::Found::Alone => self.start_embedded(EMBEDDED_LISTEN, None).await,
        }
    }

    /// Starts the server in-process on loopback (port 7878, else any free port) over SQLite
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
    write_private(&file, &secret)?;
    Ok(secret)
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
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

async fn serve(
    ctx: &Ctx,
    listen: Option<String>,
    db: Option<String>,
    scheme: Option<String>,
    tls: Option<server::TlsFiles>,
) -> anyhow::Result<()> {
    let listen = listen.or_else(|| ctx.config.serve.listen.clone()).unwrap_or_else(|| EMBEDDED_LISTEN.into());
    let db = ctx.db_url(db);
    if db == ctx.paths.default_db_url() {
        ctx.paths.ensure_data_dir()?;
    }
    let mut opts = ctx.serve_options(listen, scheme)?;
    let scheme_name = if tls.is_some() { "https" } else { "http" };
    opts.tls = tls;
    let store = server::open_store(&db)
        .await
        .with_context(|| format!("opening the database {}", redact_db_url(&db)))?;
    let signalled = crate::shutdown::listen().context("listening for SIGINT and SIGTERM")?;
    let running = server::start(opts, store).await?;
    println!("warroom: listening on {scheme_name}://{} (database {})", running.addr, redact_db_url(&db));
    let _ = std::io::stdout().flush();
    let stop = running.shutdown_token();
    tokio::select! {
        _ = signalled.cancelled() => {
            tracing::info!("signal received; shutting down");
            running.shutdown().await
        }
        _ = stop.cancelled() => running.wait().await,
    }
}

/// A database URL without its password, for printing and logs.
fn redact_db_url(db: &str) -> String {
    match reqwest::Url::parse(db) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => db.to_string(),
    }
}

async fn token(ctx: &Ctx, cmd: TokenCommand) -> anyhow::Result<()> {
    let open = |db: Option<String>| {
        let db = ctx.db_url(db);
        async move {
            if db.starts_with("sqlite:") {
                ctx.paths.ensure_data_dir()?;
            }
            server::open_store(&db)
                .await
                .with_context(|| format!("opening the database {}", redact_db_url(&db)))
        }
    };
    match cmd {
        TokenCommand::Create { name, role, db } => {
            let store = open(db).await?;
            let secret = server::tokens::create(store.as_ref(), &name, role).await?;
            println!("{secret}");
        }
        TokenCommand::List { db } => {
            let store = open(db).await?;
            let mut out = std::io::stdout().lock();
            for t in server::tokens::list(store.as_ref()).await? {
                let state = match t.revoked_at {
                    Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
                    None => "active".into(),
                };
                writeln!(
                    out,
                    "{}  {:<20} {:<10} created {}  {state}",
                    t.id,
                    text::line(&t.name),
                    t.role,
                    t.created_at.format("%Y-%m-%d %H:%M")
                )?;
            }
        }
        TokenCommand::Revoke { name_or_id, db } => {
            let store = open(db).await?;
            server::tokens::revoke(store.as_ref(), &name_or_id).await?;
            eprintln!("warroom: revoked {name_or_id}");
        }
    }
    Ok(())
}

/// Sends what earlier commands or consoles left in the outbox; reports on stderr.
async fn flush_before(conn: &Conn) -> Option<ClientError> {
    report_flush(flush::flush(&conn.client, &conn.outbox, report_refused).await)
}

fn report_refused(f: Flushed) {
    if let Flushed::Refused { pending, error } = f {
        eprintln!(
            "warroom: the server refused a queued {} for {}: {error} (kept in the rejected file)",
            pending.event.body.kind(),
            match &pending.target {
                Target::Declare => "a new incident".to_string(),
                Target::Incident(i) => i.clone(),
            }
        );
    }
}

fn report_flush(r: Result<FlushOutcome, flush::FlushStopped>) -> Option<ClientError> {
    match r {
        Ok(o) => {
            if o.acked > 0 {
                eprintln!("warroom: sent {} queued write(s)", o.acked);
            }
            None
        }
        Err(s) => {
            if s.outcome.acked > 0 {
                eprintln!("warroom: sent {} queued write(s)", s.outcome.acked);
            }
            Some(s.error)
        }
    }
}

/// Queues `event` in the outbox before any network I/O (a stalled network must not keep an
/// entry from being saved), then sends the outbox, oldest first. Returns the server's answer for
/// this event, or the error that kept it queued (`Ok(Err)`), or the refusal (`Err`).
async fn submit(conn: &Conn, p: Pending) -> anyhow::Result<Result<crate::domain::Event, ClientError>> {
    conn.outbox.push(&p).with_context(|| format!("writing the outbox {}", conn.outbox.path().display()))?;
    let id = p.event.id;
    let mut mine: Option<Result<crate::domain::Event, ClientError>> = None;
    let mut earlier = 0;
    let result = flush::flush(&conn.client, &conn.outbox, |f| match f {
        Flushed::Acked { pending, response } => {
            earlier += pending.iter().filter(|q| q.event.id != id).count();
            if let Some(e) = response.events.into_iter().find(|e| e.id == id) {
                mine = Some(Ok(e));
            }
        }
        Flushed::Refused { pending, error } if pending.event.id == id => mine = Some(Err(error)),
        other => report_refused(other),
    })
    .await;
    if earlier > 0 {
        eprintln!("warroom: sent {earlier} queued write(s)");
    }
    match mine {
        Some(Ok(e)) => Ok(Ok(e)),
        Some(Err(refused)) => Err(anyhow::Error::new(refused)
            .context(format!("refused; the entry is kept in {}", conn.outbox.rejected_path().display()))),
        None => match result {
            Err(stopped) => Ok(Err(stopped.error)),
            Ok(_) => bail!("the server did not return the event"),
        },
    }
}

fn queued_message(conn: &Conn, e: &ClientError) -> String {
    format!(
        "warroom: {e}\nwarroom: queued in {}; the next warroom command or console that reaches the server sends it",
        conn.outbox.path().display()
    )
}

async fn declare(conn: &Conn, severity: String, title: String, summary: String) -> anyhow::Result<ExitCode> {
    let event = NewEvent::now(EventBody::Declared { title, severity, summary, group_key: None });
    match submit(conn, Pending { target: Target::Declare, event, if_match: None }).await? {
        Ok(e) => {
            println!("{}", e.incident);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.is_retryable() => {
            eprintln!("{}", queued_message(conn, &e));
            Ok(ExitCode::from(EXIT_QUEUED))
        }
        Err(e) => Err(e.into()),
    }
}

async fn log(
    conn: &Conn,
    incident: String,
    kind: EntryKind,
    at: Option<DateTime<Utc>>,
    tags: Vec<String>,
    text: String,
) -> anyhow::Result<ExitCode> {
    let mut body = EventBody::entry(kind.event_kind(), text).expect("an entry kind");
    if let EventBody::Note(e) | EventBody::Finding(e) | EventBody::Action(e) | EventBody::Decision(e) =
        &mut body
    {
        e.tags = tags;
    }
    let event = NewEvent::at(at.unwrap_or_else(Utc::now), body);
    match submit(conn, Pending { target: Target::Incident(incident), event, if_match: None }).await? {
        Ok(e) => {
            eprintln!("warroom: logged to {} (#{})", e.incident, e.seq);
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ ClientError::Unauthorized { .. }) => {
            eprintln!("warroom: {e}\nwarroom: the entry stays queued in {}", conn.outbox.path().display());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("{}", queued_message(conn, &e));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// One line for `tail`: `HH:MM:SS INC-1 #seq author kind text`, safe for a terminal.
pub fn tail_line(e: &crate::domain::Event) -> String {
    format!(
        "{} {} #{} {} {} {}",
        e.occurred_at.format("%H:%M:%S"),
        text::line(&e.incident),
        e.seq,
        text::line(&e.author),
        e.kind(),
        text::line(&e.body.summary())
    )
}

/// Prints events live until Ctrl-C. Joined to another process's embedded server, it takes the
/// server over when that process quits (saying so on stderr), and exits non-zero if it cannot.
async fn tail(conn: &mut Conn, incident: Option<String>) -> anyhow::Result<ExitCode> {
    match conn.client.me().await {
        Err(e @ (ClientError::Unauthorized { .. } | ClientError::Forbidden { .. })) => return Err(e.into()),
        Err(e) => eprintln!("warroom: {e} (retrying)"),
        Ok(_) => {}
    }
    // Listened for once, before the loop: a signal that arrives while a line is written is
    // still seen at the next turn.
    let signalled = crate::shutdown::listen().context("listening for SIGINT and SIGTERM")?;
    let mut takeover = conn.takeover_events();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handle = crate::client::spawn(conn.client.clone(), conn.outbox.clone(), tx);
    let mut out = std::io::stdout();
    let mut was_live = false;
    let mut code = ExitCode::SUCCESS;
    loop {
        let msg = tokio::select! {
            _ = signalled.cancelled() => break,
            t = next_takeover(&mut takeover) => {
                eprintln!("warroom: {t}");
                if let embedded::Takeover::CannotServe { .. } = t {
                    code = ExitCode::FAILURE;
                    break;
                }
                continue;
            }
            m = rx.recv() => match m { Some(m) => m, None => break },
        };
        match msg {
            SyncMsg::Event(e) if incident.as_deref().is_none_or(|i| i.eq_ignore_ascii_case(&e.incident)) => {
                writeln!(out, "{}", tail_line(&e))?;
                out.flush()?;
            }
            SyncMsg::Link(LinkState::Live { long_poll }) => {
                // From here on every new event is printed (events recorded before the first
                // "live" are part of the starting point, not printed): scripts wait for it.
                let how = if long_poll { " (long polling)" } else { "" };
                let again = if was_live { " again" } else { "" };
                eprintln!("warroom: live{again}{how}");
                was_live = true;
            }
            SyncMsg::Link(LinkState::Reconnecting { attempt, error, .. }) => {
                eprintln!("warroom: reconnecting (attempt {attempt}): {error}")
            }
            SyncMsg::Link(LinkState::Offline { error, .. }) => {
                eprintln!("warroom: offline, still retrying: {error}")
            }
            SyncMsg::Notice(n) => eprintln!("warroom: {}", text::line(&n)),
            _ => {}
        }
    }
    handle.shutdown();
    Ok(code)
}

/// The next takeover event, or never.
async fn next_takeover(rx: &mut Option<mpsc::UnboundedReceiver<embedded::Takeover>>) -> embedded::Takeover {
    match rx {
        Some(r) => match r.recv().await {
            Some(t) => t,
            None => {
                *rx = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

async fn export(conn: &Conn, incident: &str, format: ExportFormat) -> anyhow::Result<ExitCode> {
    if let Some(e) = flush_before(conn).await
        && !e.is_retryable()
    {
        return Err(e.into());
    }
    let snap = conn.client.incident(incident, true).await?;
    let mut out = std::io::stdout().lock();
    if format == ExportFormat::Markdown {
        // The server's practice: its template and role set are the team's.
        let practice = conn.client.practice().await?;
        let events = snap.events.unwrap_or_default();
        let md = crate::domain::postmortem::render(&practice, &snap.incident, &events);
        write!(out, "{md}")?;
        if !md.ends_with('\n') {
            writeln!(out)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let doc = serde_json::json!({
        "incident": snap.incident,
        "events": snap.events.unwrap_or_default(),
        "seq": snap.seq,
    });
    let text = serde_json::to_string_pretty(&doc)?;
    writeln!(out, "{text}")?;
    Ok(ExitCode::SUCCESS)
}

/// The console: connects (or starts the embedded server), optionally loads the demo, starts the
/// sync worker and hands everything to `tui::run`.
async fn console(ctx: &Ctx, demo: bool, theme: Option<String>, open: Option<String>) -> anyhow::Result<()> {
    let mut conn = ctx.connect(true).await?;
    match conn.client.me().await {
        Err(e @ (ClientError::Unauthorized { .. } | ClientError::Forbidden { .. })) => {
            conn.stop().await;
            return Err(e.into());
        }
        Err(e) => tracing::warn!("{e}"),
        Ok(_) => {}
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
    let sync = crate::client::spawn(conn.client.clone(), conn.outbox.clone(), tx);
    let opts = crate::tui::ConsoleOptions {
        sync: sync.clone(),
        events: rx,
        server_label: conn.label(),
        theme: theme.or_else(|| ctx.config.theme.clone()),
        config_dir: ctx.paths.config_dir.clone(),
        keys: ctx.config.keys.clone(),
        time: ctx.config.time,
        open,
    };
    let result = crate::tui::run(opts).await;
    sync.shutdown();
    conn.stop().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_lines_are_one_safe_line() {
        let e = crate::domain::Event {
            seq: 7,
            id: uuid::Uuid::now_v7(),
            incident: "INC-1".into(),
            author: "mal\x1b[2Jlory".into(),
            occurred_at: "2026-11-23T14:05:09Z".parse().unwrap(),
            recorded_at: Utc::now(),
            body: EventBody::entry(EventKind::Note, "two\nlines \x1b]52;c;cGF5bG9hZA==\x07done").unwrap(),
        };
        assert_eq!(tail_line(&e), "14:05:09 INC-1 #7 mallory note two lines done");
    }

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

#[cfg(test)]
mod redact_tests {
    #[test]
    fn database_passwords_are_not_printed() {
        let r = super::redact_db_url("postgres://warroom:s3cret@db.internal:5432/warroom");
        assert!(!r.contains("s3cret"), "{r}");
        assert!(r.contains("warroom:***@db.internal"), "{r}");
        assert_eq!(super::redact_db_url("sqlite:///var/lib/w.db"), "sqlite:///var/lib/w.db");
    }
}
