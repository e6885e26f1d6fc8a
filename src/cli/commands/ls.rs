//! `warroom ls`: the board for scripts and people: open incidents in the board's order
//! (`domain::timers::board_order`: breached timers first, then most severe, nearest deadline,
//! oldest), with `--resolved` the recently resolved ones after them, with `--all` every
//! incident. Text is an aligned table with a header; JSON one document.

use std::io::Write;
use std::process::ExitCode;

use chrono::Utc;
use serde_json::json;

use super::exit::Failure;
use super::write::flush_before;
use crate::cli::args::OutputFormat;
use crate::cli::connect::Conn;
use crate::domain::{Incident, text, timers};

/// Prints the incidents (sends the outbox first).
pub(in crate::cli) async fn ls(
    conn: &Conn,
    resolved: bool,
    all: bool,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    if let Some(e) = flush_before(conn).await
        && !e.is_retryable()
    {
        return Err(Failure::client(&e).into());
    }
    let practice = conn.client.practice().await.map_err(|e| Failure::client(&e))?;
    let list = if all { conn.client.all_incidents().await } else { conn.client.incidents().await }
        .map_err(|e| Failure::client(&e))?;
    let now = Utc::now();
    let scheme = practice.scheme();
    let mut incidents: Vec<&Incident> =
        list.incidents.iter().filter(|i| i.revision > 0 && (all || resolved || i.is_open())).collect();
    incidents.sort_by_cached_key(|i| timers::board_order(scheme, i, now));
    let rows: Vec<Row> = incidents
        .iter()
        .map(|i| Row {
            inc: i,
            age: timers::format_duration(i.resolved_at.unwrap_or(now) - i.declared_at),
            timer: timers::board_timer(scheme, i, now).label(),
        })
        .collect();
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Json => {
            let items: Vec<_> = rows
                .iter()
                .map(|r| {
                    let i = r.inc;
                    json!({
                        "id": i.id, "title": i.title, "severity": i.severity, "status": i.status,
                        "open": i.is_open(), "commander": i.commander(), "declared_at": i.declared_at,
                        "resolved_at": i.resolved_at, "age": r.age, "timer": r.timer, "revision": i.revision,
                        "demo": i.demo,
                    })
                })
                .collect();
            writeln!(
                out,
                "{}",
                crate::domain::text::json_for_terminal(&serde_json::to_string_pretty(
                    &json!({"seq": list.seq, "incidents": items})
                )?)
            )?;
        }
        OutputFormat::Text => write!(out, "{}", table(&rows, all || resolved))?,
    }
    Ok(ExitCode::SUCCESS)
}

struct Row<'a> {
    inc: &'a Incident,
    age: String,
    timer: String,
}

/// The aligned table: a header, one line per incident, the title last (never cut).
fn table(rows: &[Row<'_>], with_resolved: bool) -> String {
    if rows.is_empty() {
        return if with_resolved { "no incidents\n" } else { "no open incidents\n" }.to_string();
    }
    let head = ["ID", "SEV", "STATUS", "IC", "AGE", "TIMER", "TITLE"];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            let i = r.inc;
            [
                text::line(&i.id),
                text::line(&i.severity),
                i.status.as_str().to_string(),
                i.commander().map(text::line).unwrap_or_else(|| "-".to_string()),
                r.age.clone(),
                r.timer.clone(),
                // Demo incidents (`warroom demo`) are marked where the eye reads the title.
                if i.demo { format!("[DEMO] {}", text::line(&i.title)) } else { text::line(&i.title) },
            ]
        })
        .collect();
    let mut widths = head.map(|h| h.chars().count());
    for c in &cells {
        for (w, cell) in widths.iter_mut().zip(c) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cols: [&str; 7]| {
        let mut l = String::new();
        for (n, (cell, w)) in cols.iter().zip(widths).enumerate() {
            if n == cols.len() - 1 {
                l.push_str(cell);
            } else {
                l.push_str(cell);
                l.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        l.push('\n');
        l
    };
    let mut out = line(head);
    for c in &cells {
        out.push_str(&line(c.each_ref().map(String::as_str)));
    }
    out
}
