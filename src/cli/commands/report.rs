//! `warroom report`: response figures across incidents (MTTA/MTTR by severity, targets met vs
//! breached, action items past due, incidents per day) as text, JSON or Markdown.

use std::io::Write;
use std::process::ExitCode;

use chrono::Utc;

use super::write::flush_before;
use crate::cli::args::ReportFormat;
use crate::cli::connect::Conn;
use crate::domain::report;
use crate::render;
use crate::tui::format::TimeDisplay;
use crate::tui::state::overlay::parse_since;

/// Prints the figures for the incidents of the last `since` (sends the outbox first).
pub(in crate::cli) async fn report(
    conn: &Conn,
    since: &str,
    format: ReportFormat,
    with_demo: bool,
) -> anyhow::Result<ExitCode> {
    // The console's and `--at`'s time parser, plus the `30d` shorthand.
    let now = Utc::now();
    let since = parse_since(since, now, TimeDisplay::Utc).map_err(anyhow::Error::msg)?;
    let _ = flush_before(conn).await;
    let practice = conn.client.practice().await?;
    let list = conn.client.all_incidents().await?;
    let r = if with_demo {
        report::report_with_demo(&list.incidents, practice.scheme(), since, now)
    } else {
        report::report(&list.incidents, practice.scheme(), since, now)
    };
    let text = match format {
        ReportFormat::Json => render::report::to_json(&r),
        ReportFormat::Markdown => render::report::to_markdown(&r),
        ReportFormat::Text => {
            let ascii = std::env::var("TERM").is_ok_and(|t| t == "dumb")
                || !std::env::var("LANG").unwrap_or_default().to_ascii_uppercase().contains("UTF");
            render::report::to_text(&r, ascii)
        }
    };
    let mut out = std::io::stdout().lock();
    write!(out, "{text}")?;
    if !text.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}
