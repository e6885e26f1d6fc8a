//! `warroom demo`: load the demo incidents into the server.

use std::process::ExitCode;

use super::write::flush_before;
use crate::cli::connect::{Conn, Ctx};

/// Loads the demo incidents. Their personas author their events only where this process can
/// reach the embedded server's database; elsewhere this token authors everything.
pub(in crate::cli) async fn demo(ctx: &Ctx, conn: &Conn) -> anyhow::Result<ExitCode> {
    flush_before(conn).await;
    let store = conn.embedded_store(ctx).await;
    let ids = crate::demo::load(&conn.client, store.as_deref()).await?;
    eprintln!("warroom: loaded demo incidents {}", ids.join(", "));
    if store.is_none() {
        eprintln!(
            "warroom: every demo event is authored by this token (the demo's \
             personas need the embedded server)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
