//! Command line: parse it, set up logging and run the command. With no command, the console
//! (against the configured server, or an embedded one); `serve`, `token`, `declare`, `log`,
//! `tail`, `export`, `run`, `report` and `demo` for the server host and for scripts.
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

pub use args::{Cli, Command, EntryKind, ExportFormat, ReportFormat, TokenCommand};
pub use commands::tail::tail_line;
pub use commands::write::EXIT_QUEUED;
use commands::{console, demo, export, notify, report, run as run_cmd, serve, tail, token, write};
use connect::Ctx;
use logging::LogTo;

use crate::config::{Config, Paths};

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
            let _guard = logging::init(&ctx.paths, LogTo::StderrAndFile("serve.log"))?;
            serve::serve(&ctx, listen, db, scheme, tls_cert, tls_key).await?;
        }
        Some(Command::Token { command }) => {
            let _guard = logging::init(&ctx.paths, LogTo::Stderr)?;
            token::token(&ctx, command).await?;
        }
        Some(Command::Notify { command }) => {
            let _guard = logging::init(&ctx.paths, LogTo::File("notify.log"))?;
            return notify::notify(&ctx, command).await;
        }
        Some(cmd) => {
            let _guard = logging::init(&ctx.paths, LogTo::Stderr)?;
            // `tail` lives long enough to serve the embedded server to others; one-shot
            // commands join it when it runs, else run their own for a moment.
            let mut conn = ctx.connect(matches!(cmd, Command::Tail { .. })).await?;
            let code = match cmd {
                Command::Declare { severity, title, summary } => {
                    write::declare(&conn, severity, title, summary).await?
                }
                Command::Log { incident, kind, at, tags, text } => {
                    write::log(&conn, incident, kind, at, tags, text.join(" ")).await?
                }
                Command::Tail { incident } => tail::tail(&mut conn, incident).await?,
                Command::Export { incident, format, at: None } => {
                    export::export(&conn, &incident, format).await?
                }
                Command::Export { incident, format, at: Some(at) } => {
                    export::export_at(&conn, &incident, format, at).await?
                }
                Command::Run { incident, note, kind, command } => {
                    run_cmd::run(&ctx, &conn, incident, note, kind, command).await?
                }
                Command::Report { since, format } => report::report(&conn, &since, format).await?,
                Command::Demo => demo::demo(&ctx, &conn).await?,
                Command::Serve { .. } | Command::Token { .. } | Command::Notify { .. } => {
                    unreachable!("handled above")
                }
            };
            conn.stop().await;
            return Ok(code);
        }
        None => {
            let _guard = logging::init(&ctx.paths, LogTo::File("console.log"))?;
            console::console(&ctx, cli.demo, cli.theme, cli.open).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
