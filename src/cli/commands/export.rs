//! `warroom export`: an incident's state and every event (JSON), its post-mortem (Markdown), or
//! with `--at` the incident as it stood at a moment.

use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::write::flush_before;
use crate::cli::args::ExportFormat;
use crate::cli::connect::Conn;
use crate::domain::replay;

/// Sends the outbox first, then prints the incident with every event (JSON, built whole in
/// memory) or its post-mortem (Markdown, streamed from the server).
pub(in crate::cli) async fn export(
    conn: &Conn,
    incident: &str,
    format: ExportFormat,
) -> anyhow::Result<ExitCode> {
    if let Some(e) = flush_before(conn).await
        && !e.is_retryable()
    {
        return Err(e.into());
    }
    if format == ExportFormat::Markdown {
        // The server renders it in its practice (the team's template and role set) and streams
        // it: copied through a chunk at a time, never whole in memory.
        let mut res = conn.client.postmortem_md(incident).await?;
        let mut out = std::io::stdout().lock();
        let mut last = None;
        while let Some(chunk) = res.chunk().await? {
            out.write_all(&chunk)?;
            last = chunk.last().copied().or(last);
        }
        if last != Some(b'\n') {
            writeln!(out)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let snap = conn.client.incident(incident, true).await?;
    let mut out = std::io::stdout().lock();
    let doc = serde_json::json!({
        "incident": snap.incident,
        "events": snap.events.unwrap_or_default(),
        "seq": snap.seq,
    });
    let text = crate::domain::text::json_for_terminal(&serde_json::to_string_pretty(&doc)?);
    writeln!(out, "{text}")?;
    Ok(ExitCode::SUCCESS)
}

/// `--at`: the incident as it stood at `at`, replayed from its events with the server's
/// practice (JSON only).
pub(in crate::cli) async fn export_at(
    conn: &Conn,
    incident: &str,
    format: ExportFormat,
    at: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    if format != ExportFormat::Json {
        anyhow::bail!("--at exports JSON only (the post-mortem covers the whole incident)");
    }
    let _ = flush_before(conn).await;
    let practice = conn.client.practice().await?;
    let snap = conn.client.incident(incident, true).await?;
    let events = snap.events.unwrap_or_default();
    let Some(state) = replay::snapshot_at(&events, practice.scheme(), at) else {
        anyhow::bail!("{incident} had not been declared at {at}");
    };
    // The same shape as a plain export: `events` is the list of the events known then.
    let known = &events[..state.events.min(events.len())];
    let mut doc = serde_json::to_value(&state)?;
    doc["events"] = serde_json::to_value(known)?;
    let text = crate::domain::text::json_for_terminal(&serde_json::to_string_pretty(&doc)?);
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(ExitCode::SUCCESS)
}
