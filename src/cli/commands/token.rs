//! `warroom token create|list|revoke`: bearer tokens, on the server host, against its database.

use std::io::Write;

use anyhow::Context;

use super::serve::redact_db_url;
use crate::cli::args::TokenCommand;
use crate::cli::connect::Ctx;
use crate::domain::text;
use crate::server;

/// Creates, lists or revokes tokens directly in the database (no server needed).
pub(in crate::cli) async fn token(ctx: &Ctx, cmd: TokenCommand) -> anyhow::Result<()> {
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
