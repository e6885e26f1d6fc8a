//! `warroom notify test NAME`: sends a test message through one notification target of the
//! server's config (`[serve.notify]`), on the server host, and says plainly how it went.

use std::process::ExitCode;

use crate::cli::args::NotifyCommand;
use crate::cli::connect::Ctx;
use crate::server::notify::{Message, Notifier};

pub(in crate::cli) async fn notify(ctx: &Ctx, cmd: NotifyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        NotifyCommand::Test { name } => test(ctx, &name).await,
    }
}

async fn test(ctx: &Ctx, name: &str) -> anyhow::Result<ExitCode> {
    let cfg = &ctx.config.serve.notify;
    let Some(target) = cfg.target(name) else {
        let names: Vec<_> = cfg.targets.iter().map(|t| t.name.as_str()).collect();
        anyhow::bail!(
            "no notification target named `{name}` in {} ({})",
            ctx.paths.config_file().display(),
            if names.is_empty() {
                "it configures none".to_string()
            } else {
                format!("targets: {}", names.join(", "))
            }
        );
    };
    let kind = target.kind;
    let notifier = Notifier::for_target(cfg, name)?;
    let msg = Message::test(name, chrono::Utc::now());
    let Some(a) = notifier.send_now(name, &msg).await else {
        anyhow::bail!("no notification target named `{name}`");
    };
    let status = a.status.map(|s| format!(" ({s})")).unwrap_or_default();
    if a.ok {
        println!("warroom: sent a test message to {name} ({kind}){status}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("warroom: the test message to {name} ({kind}) failed{status}: {}", a.error);
        Ok(ExitCode::FAILURE)
    }
}
