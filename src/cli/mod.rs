//! Command line: parse it, set up logging and run the command. With no command, the console
//! (against the configured server, or an embedded one); `serve`, `token`, `declare`, `log`,
//! `tail`, `export`, `run`, `report` and `demo` for the server host and for scripts, and a verb
//! for everything the console does (`ls`, `show`, `status`, `severity`, `ack`, `assign`,
//! `release`, `check`, `comms`, `action-item`, `playbook`) for scripts and runbooks.
//!
//! The rooms: `args` (clap's types), `logging` (where each command logs), `connect` (reaching
//! the configured or embedded server), `embedded` (one embedded server per data dir, joined by
//! the others), and `commands/` (what each command does). This file only dispatches.

mod args;
mod commands;
mod connect;
mod embedded;
mod logging;

use std::process::ExitCode;

use clap::Parser;

pub use args::{
    ActionItemCommand, Cli, ClientArgs, Command, ConfigCommand, EntryKind, ExportFormat, OutputFormat,
    PlaybookCommand, ReportFormat, TokenCommand,
};
pub use commands::tail::tail_line;
pub use commands::write::EXIT_QUEUED;
use commands::{comms, completions, config_cmd, console, demo, exit, export, incident_ops as ops, ls, show};
use commands::{login, notify, report, run as run_cmd, serve, tail, token, trust, write};
use connect::{Conn, Ctx};
use logging::LogTo;

use crate::config::{Config, Paths};
use crate::domain::EventBody;

/// Parses the command line and runs it.
pub fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let paths = Paths::from_env()?;
    // ship: completions, man and config need no config (`config check` reports a broken one).
    if let Some(cmd @ (Command::Completions { .. } | Command::Man { .. } | Command::Config { .. })) =
        cli.command
    {
        return install_files(&paths, cmd);
    }
    let config = Config::load(&paths.config_file())?;
    crate::client::startup::mark("config");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    crate::client::startup::mark("runtime");
    rt.block_on(run(cli, paths, config))
}

/// Runs a parsed command line.
pub async fn run(cli: Cli, paths: Paths, config: Config) -> anyhow::Result<ExitCode> {
    crate::client::init_tls();
    // A command's own --server/--token/... win over those given before it.
    let client = match cli.command.as_ref().and_then(Command::client) {
        Some(own) => own.clone().or(cli.client.clone()),
        None => cli.client.clone(),
    };
    let tls = crate::client::TlsOptions {
        ca_file: client.ca_file.clone().or_else(|| config.ca_file.clone()),
        insecure_http: client.insecure_http || config.insecure_http,
        // #15 item 16: pinned fingerprints, and the servers the user trusted (`warroom trust`).
        pins: client.pins.iter().chain(&config.pin).copied().collect(),
        known_servers: Some(paths.data_dir.join(crate::client::tls::KNOWN_SERVERS_FILE)),
    };
    let ctx = Ctx { paths, config, server: client.server, token: client.token, tls };
    match cli.command {
        Some(cmd @ (Command::Completions { .. } | Command::Man { .. } | Command::Config { .. })) => {
            return install_files(&ctx.paths, cmd);
        }
        Some(Command::Serve { listen, db, scheme, tls_cert, tls_key, tls_self_signed, tls_names }) => {
            let _guard = logging::init(&ctx.paths, logging::for_serve())?;
            let tls = serve::TlsChoice {
                cert: tls_cert,
                key: tls_key,
                self_signed: tls_self_signed,
                names: tls_names,
            };
            serve::serve(&ctx, listen, db, scheme, tls).await?;
        }
        Some(Command::Trust { url, fingerprint, yes, .. }) => {
            let _guard = logging::init(&ctx.paths, logging::for_cli())?;
            return trust::trust(&ctx, url, fingerprint, yes).await;
        }
        Some(Command::Token { command }) => {
            let _guard = logging::init(&ctx.paths, logging::for_cli())?;
            token::token(&ctx, command).await?;
        }
        // oidc
        Some(
            cmd @ (Command::Login { .. }
            | Command::Logout { .. }
            | Command::Whoami { .. }
            | Command::Audit { .. }),
        ) => {
            let _guard = logging::init(&ctx.paths, LogTo::File("cli.log"))?;
            return login::run(&ctx, cmd).await;
        }
        Some(Command::Notify { command }) => {
            let _guard = logging::init(&ctx.paths, LogTo::File("notify.log"))?;
            return notify::notify(&ctx, command).await;
        }
        Some(cmd) => {
            // Commands print their own plain messages; their logs go to a file.
            let _guard = logging::init(&ctx.paths, logging::for_cli())?;
            // `tail` lives long enough to serve the embedded server to others; one-shot
            // commands join it when it runs, else run their own for a moment.
            let mut conn = ctx.connect(matches!(cmd, Command::Tail { .. })).await?;
            let code = command(&ctx, &mut conn, cmd).await;
            conn.stop().await;
            // A refusal, a missing incident, an unreachable server: each its exit status.
            return exit::finish(code);
        }
        None => {
            let _guard = logging::init(&ctx.paths, LogTo::File("console.log"))?;
            crate::client::startup::mark("logging");
            console::console(&ctx, cli.demo, cli.theme, cli.open).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a command that talks to a server.
async fn command(ctx: &Ctx, conn: &mut Conn, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Declare { severity, title, summary, .. } => {
            write::declare(conn, severity, title, summary).await
        }
        Command::Log { incident, kind, at, tags, text, .. } => {
            write::log(conn, incident, kind, at, tags, text.join(" ")).await
        }
        Command::Tail { incident, .. } => tail::tail(conn, incident).await,
        Command::Export { incident, format, at: None, .. } => export::export(conn, &incident, format).await,
        Command::Export { incident, format, at: Some(at), .. } => {
            export::export_at(conn, &incident, format, at).await
        }
        Command::Run { incident, note, kind, command, .. } => {
            run_cmd::run(ctx, conn, incident, note, kind, command).await
        }
        Command::Report { since, format, demo, .. } => report::report(conn, &since, format, demo).await,
        Command::Demo { remove: true, .. } => demo::remove(conn).await,
        Command::Demo { force, .. } => demo::demo(ctx, conn, force).await,
        // Scripts and runbooks.
        Command::Ls { resolved, all, out } => ls::ls(conn, resolved, all, out.format).await,
        Command::Show { incident, events, out } => show::show(conn, &incident, events, out.format).await,
        Command::Status { incident, status, guard, out } => {
            let body = EventBody::StatusChanged { status };
            ops::set(conn, &incident, body, guard.if_revision, out.format).await
        }
        Command::Severity { incident, severity, guard, out } => {
            let body = EventBody::SeverityChanged { severity };
            ops::set(conn, &incident, body, guard.if_revision, out.format).await
        }
        Command::Ack { incident, guard, out } => ops::ack(conn, &incident, guard, out.format).await,
        Command::Assign { incident, role, person, guard, out } => {
            ops::role(conn, &incident, &role, ops::RoleChange::Assign(person), guard, out.format).await
        }
        Command::Release { incident, role, person, guard, out } => {
            ops::role(conn, &incident, &role, ops::RoleChange::Release(person), guard, out.format).await
        }
        Command::Check { incident, item, undo, out } => {
            ops::tick(conn, &incident, ops::Tick::ChecklistItem, &item, undo, out.format).await
        }
        Command::Comms { incident, template, send, channel, text_file, out } => {
            comms::comms(conn, &incident, &template, send, channel, text_file.as_deref(), out.format).await
        }
        Command::ActionItem(ActionItemCommand::Add { incident, text, owner, priority, due, out }) => {
            let body =
                EventBody::ActionItemAdded { text, owner, due, priority: priority.unwrap_or_default() };
            ops::set(conn, &incident, body, None, out.format).await
        }
        Command::ActionItem(ActionItemCommand::Done { incident, item, undo, out }) => {
            ops::tick(conn, &incident, ops::Tick::ActionItem, &item, undo, out.format).await
        }
        Command::Playbook(PlaybookCommand::Attach { incident, playbook, out }) => {
            ops::set(conn, &incident, EventBody::PlaybookAttached { playbook }, None, out.format).await
        }
        Command::Serve { .. }
        | Command::Token { .. }
        | Command::Completions { .. }
        | Command::Man { .. }
        | Command::Config { .. }
        | Command::Login { .. }
        | Command::Logout { .. }
        | Command::Whoami { .. }
        | Command::Audit { .. }
        | Command::Notify { .. }
        | Command::Trust { .. } => unreachable!("handled by run"),
    }
}

/// ship: the commands that print or check files (completions, man page, config); no server, no
/// logging.
fn install_files(paths: &Paths, cmd: Command) -> anyhow::Result<ExitCode> {
    let out = &mut std::io::stdout().lock();
    match cmd {
        Command::Completions { shell } => completions::completions(shell, out),
        Command::Man { dir } => completions::man(dir.as_deref(), out),
        Command::Config { command: ConfigCommand::Init { file, force } } => {
            config_cmd::init(paths, file, force, out)
        }
        Command::Config { command: ConfigCommand::Check { file } } => config_cmd::check(paths, file, out),
        _ => unreachable!("only the commands above"),
    }
}
