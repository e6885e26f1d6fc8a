//! `warroom demo`: load the demo incidents into the embedded server (a team's server only with
//! `--force`), or take every demo incident away again (`--remove`).

use std::process::ExitCode;

use super::exit::Failure;
use super::write::flush_before;
use crate::cli::connect::{Conn, Ctx};

/// Exit status of `warroom demo` refused for a server that is not the embedded one (usage: the
/// missing `--force`).
pub const EXIT_NOT_EMBEDDED: u8 = 2;

/// Why the demo is not loaded into `server` without `--force`.
pub(in crate::cli) fn not_embedded(server: &str, how: &str) -> String {
    format!(
        "{server} is not this machine's embedded server: the demo would put fake incidents next \
         to real ones. {how}"
    )
}

/// Loads the demo incidents. Their personas author their events only where this process can
/// reach the embedded server's database; elsewhere this token authors everything.
pub(in crate::cli) async fn demo(ctx: &Ctx, conn: &Conn, force: bool) -> anyhow::Result<ExitCode> {
    if !conn.is_embedded() && !force {
        let how = "Give --force to load it there anyway (marked DEMO, left out of reports and \
                   notifications; `warroom demo --remove` takes it away).";
        return Err(Failure::new(EXIT_NOT_EMBEDDED, not_embedded(conn.client.base(), how)).into());
    }
    flush_before(conn).await;
    let store = conn.embedded_store(ctx).await;
    let ids = crate::demo::load(&conn.client, store.as_deref()).await?;
    eprintln!(
        "warroom: loaded demo incidents {} (marked DEMO; `warroom demo --remove` takes them away)",
        ids.join(", ")
    );
    if store.is_none() {
        eprintln!(
            "warroom: every demo event is authored by this token (the demo's \
             personas need the embedded server)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Removes every demo incident of the server (any server: removing demo data is always safe).
pub(in crate::cli) async fn remove(conn: &Conn) -> anyhow::Result<ExitCode> {
    if let Some(e) = flush_before(conn).await
        && !e.is_retryable()
    {
        return Err(Failure::client(&e).into());
    }
    let ids = crate::demo::remove(&conn.client).await?;
    if ids.is_empty() {
        eprintln!("warroom: no demo incidents to remove");
    } else {
        eprintln!("warroom: removed demo incidents {}", ids.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
