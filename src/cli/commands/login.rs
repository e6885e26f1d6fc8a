//! `warroom login`, `logout`, `whoami` and `audit`: signing in with the server's identity
//! provider (device flow), the session kept in the data dir, and the audit log. Also
//! [`current_session`], which every command uses when no token is configured.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::args::Command;
use crate::cli::connect::{Conn, Ctx};
use crate::client::session;
use crate::client::{ApiClient, ClientError};
use crate::domain::text;

/// A client without credentials for the command line's (or config's) server.
fn anonymous(ctx: &Ctx) -> anyhow::Result<ApiClient> {
    let urls = ctx.server_urls();
    if urls.is_empty() {
        bail!(
            "which server? give --server URL (or `server` in the config); the embedded server needs no sign-in"
        );
    }
    ApiClient::with_tls(&urls, None, &ctx.tls)
}

/// How often a console looks at its session (renewal, a new sign-in elsewhere).
const KEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// For a console signed in as a user: a task that renews the session when it expires (a
/// refresh at the provider) and, when `warroom login` stored a new session of the same user
/// (in another terminal), switches to it. The outbox then sends what waited, as that user.
pub(in crate::cli) fn keep_session(ctx: &Ctx, conn: &Conn) -> Option<tokio::task::JoinHandle<()>> {
    let user = conn.outbox.identity()?.strip_prefix("user:")?.to_string();
    let client = conn.client.clone();
    let data_dir = ctx.paths.data_dir.clone();
    let anon = ApiClient::with_tls(conn.client.bases(), None, &ctx.tls).ok()?;
    Some(tokio::spawn(async move {
        let mut current: Option<String> = session::load(&data_dir, anon.base()).map(|s| s.token);
        loop {
            tokio::time::sleep(KEEP_EVERY).await;
            let Some(mut s) = session::load(&data_dir, anon.base()).filter(|s| s.user == user) else {
                continue;
            };
            if s.expired() && s.refresh_token.is_some() {
                match session::refresh(&anon, &s).await {
                    Ok(new) => {
                        if let Err(e) = session::save(&data_dir, &new) {
                            tracing::warn!("storing the renewed session: {e:#}");
                        }
                        s = new;
                    }
                    Err(e) => tracing::info!("renewing the session of {user}: {e:#}"),
                }
            }
            if !s.expired() && current.as_deref() != Some(s.token.as_str()) {
                tracing::info!("using the new session of {user}");
                client.replace_token(s.token.clone());
                current = Some(s.token);
            }
        }
    }))
}

pub(in crate::cli) async fn run(ctx: &Ctx, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Login { browser, .. } => login(ctx, browser).await,
        Command::Logout { .. } => logout(ctx).await,
        Command::Whoami { .. } => whoami(ctx).await,
        Command::Audit { since, .. } => audit(ctx, since).await,
        _ => unreachable!("not a sign-in command"),
    }
}

async fn login(ctx: &Ctx, browser: bool) -> anyhow::Result<ExitCode> {
    let api = anonymous(ctx)?;
    let s = if browser {
        session::browser_login(&api, |url| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "To sign in, open {url}");
            let _ = writeln!(out, "Waiting for the browser to come back...");
            let _ = out.flush();
        })
        .await?
    } else {
        device(&api).await?
    };
    let path = session::save(&ctx.paths.data_dir, &s)?;
    tracing::info!(file = %path.display(), "session stored");
    println!(
        "Signed in to {} as {} ({}) until {}",
        s.server,
        text::line(&s.user),
        s.role,
        s.expires_at.format("%Y-%m-%d %H:%M UTC")
    );
    Ok(ExitCode::SUCCESS)
}

async fn device(api: &ApiClient) -> anyhow::Result<session::Session> {
    session::device_login(api, |p| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "To sign in, open {} and enter the code {}", p.verification_uri, p.user_code);
        if let Some(full) = &p.verification_uri_complete {
            let _ = writeln!(out, "(or open {full})");
        }
        let _ = writeln!(out, "Waiting for the sign-in to finish...");
        let _ = out.flush();
    })
    .await
}

async fn logout(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let anon = anonymous(ctx)?;
    let Some(s) = session::load(&ctx.paths.data_dir, anon.base()) else {
        eprintln!("warroom: not signed in to {}", anon.base());
        return Ok(ExitCode::SUCCESS);
    };
    let api = ApiClient::with_tls(&ctx.server_urls(), Some(s.token.clone()), &ctx.tls)?;
    match api.end_session().await {
        Ok(()) => {}
        // Already expired or ended: nothing to end on the server.
        Err(ClientError::Unauthorized { .. }) => {}
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context("the server did not end the session; the local session is kept, try again"));
        }
    }
    session::remove(&ctx.paths.data_dir, &s.server).with_context(|| {
        format!("removing {}", session::session_path(&ctx.paths.data_dir, &s.server).display())
    })?;
    println!("Signed out {} from {}", text::line(&s.user), s.server);
    Ok(ExitCode::SUCCESS)
}

async fn whoami(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let conn = ctx.connect(false).await?;
    let me = conn.client.me().await;
    let anon = anonymous(ctx).ok();
    let s = anon.and_then(|a| session::load(&ctx.paths.data_dir, a.base()));
    let code = match me {
        Ok(me) => {
            match s.filter(|s| s.user == me.name) {
                Some(s) => println!(
                    "{} ({}) on {}, signed in until {}",
                    text::line(&me.name),
                    me.role,
                    conn.client.base(),
                    s.expires_at.format("%Y-%m-%d %H:%M UTC")
                ),
                None => {
                    println!("{} ({}) on {}, with a token", text::line(&me.name), me.role, conn.client.base())
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("warroom: {}", text::line(&e.to_string()));
            if matches!(e, ClientError::Unauthorized { .. }) {
                eprintln!("warroom: sign in with `warroom login`");
            }
            ExitCode::FAILURE
        }
    };
    conn.stop().await;
    Ok(code)
}

async fn audit(ctx: &Ctx, since: Option<chrono::DateTime<chrono::Utc>>) -> anyhow::Result<ExitCode> {
    let conn = ctx.connect(false).await?;
    let entries = conn.client.audit(since).await;
    conn.stop().await;
    let entries = entries?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{:<20}  {:<16}  {:<14}  {:<16}  DETAIL", "AT", "ACTOR", "ACTION", "SUBJECT")?;
    for e in entries {
        writeln!(
            out,
            "{:<20}  {:<16}  {:<14}  {:<16}  {}",
            e.at.format("%Y-%m-%d %H:%M:%S"),
            text::line(&e.actor),
            text::line(&e.action),
            text::line(&e.subject),
            text::line(&e.detail)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
