//! `warroom token create|list|revoke`: bearer tokens, on the server host, against its database.

use std::io::Write;

use anyhow::Context;

use super::serve::redact_db_url;
use crate::cli::args::TokenCommand;
use crate::cli::connect::Ctx;
use unicode_width::UnicodeWidthStr;

use crate::api::TokenInfo;
use crate::domain::text;
use crate::server;

/// Creates, lists or revokes tokens: over the API with `--server` (as an admin: a signed-in
/// admin or an admin token), else directly in the database (no server needed).
pub(in crate::cli) async fn token(ctx: &Ctx, cmd: TokenCommand) -> anyhow::Result<()> {
    if ctx.server.is_some() {
        return over_api(ctx, cmd).await;
    }
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
        TokenCommand::Create { name, role, db, .. } => {
            let store = open(db).await?;
            let secret = server::tokens::create(store.as_ref(), &name, role).await?;
            println!("{secret}");
        }
        TokenCommand::List { db, .. } => {
            let store = open(db).await?;
            print_list(&server::tokens::list(store.as_ref()).await?)?;
        }
        TokenCommand::Revoke { name_or_id, db, .. } => {
            let store = open(db).await?;
            server::tokens::revoke(store.as_ref(), &name_or_id).await?;
            eprintln!("warroom: revoked {name_or_id}");
        }
    }
    Ok(())
}

/// The token list: a header and aligned columns (names padded by their display width).
fn print_list(tokens: &[TokenInfo]) -> anyhow::Result<()> {
    let names: Vec<String> = tokens.iter().map(|t| text::line(&t.name)).collect();
    let width = names.iter().map(|n| UnicodeWidthStr::width(n.as_str())).max().unwrap_or(0).max(4);
    let mut out = std::io::stdout().lock();
    let pad = |s: &str| format!("{s}{}", " ".repeat(width - UnicodeWidthStr::width(s)));
    writeln!(out, "{:<36}  {}  {:<9}  {:<16}  STATE", "ID", pad("NAME"), "ROLE", "CREATED")?;
    for (t, name) in tokens.iter().zip(&names) {
        let state = match t.revoked_at {
            Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
            None => "active".into(),
        };
        writeln!(
            out,
            "{:<36}  {}  {:<9}  {:<16}  {state}",
            t.id,
            pad(name),
            t.role.as_str(),
            t.created_at.format("%Y-%m-%d %H:%M").to_string()
        )?;
    }
    Ok(())
}

/// `warroom token ... --server URL`: the same over `/api/v1/tokens`.
async fn over_api(ctx: &Ctx, cmd: TokenCommand) -> anyhow::Result<()> {
    let conn = ctx.connect(false).await?;
    let result = async {
        match cmd {
            TokenCommand::Create { name, role, db: None, .. } => {
                let made = conn.client.create_token(&name, role).await?;
                println!("{}", made.secret);
            }
            TokenCommand::List { db: None, .. } => print_list(&conn.client.list_tokens().await?)?,
            TokenCommand::Revoke { name_or_id, db: None, .. } => {
                let t = conn.client.revoke_token(&name_or_id).await?;
                eprintln!("warroom: revoked {} ({})", text::line(&t.name), t.id);
            }
            _ => anyhow::bail!("--db works on the server host's database; with --server the server does it"),
        }
        Ok(())
    }
    .await;
    conn.stop().await;
    result
}
