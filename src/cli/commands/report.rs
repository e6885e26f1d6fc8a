//! `warroom report`: response figures across incidents (MTTA/MTTR by severity, targets met vs
//! breached, action items past due, incidents per day) as text, JSON or Markdown.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{Duration, Utc};

use super::write::flush_before;
use crate::cli::args::ReportFormat;
use crate::cli::connect::Conn;
use crate::domain::report;
use crate::render;

/// Parses `30d`, `12h`, `2w`, `90m` into a duration.
fn parse_since(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().with_context(|| format!("`{s}`: expected a number and a unit, e.g. 30d"))?;
    let span = match unit {
        "m" | "min" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" | "" => Duration::try_days(n),
        "w" => Duration::try_weeks(n),
        _ => anyhow::bail!("`{s}`: unknown unit `{unit}` (use m, h, d or w)"),
    };
    // Overflow-checked: `100000000d` is an error, never a panic.
    span.filter(|d| Utc::now().checked_sub_signed(*d).is_some())
        .with_context(|| format!("`{s}`: too far back"))
}

/// Prints the figures for the incidents of the last `since` (sends the outbox first).
pub(in crate::cli) async fn report(
    conn: &Conn,
    since: &str,
    format: ReportFormat,
    with_demo: bool,
) -> anyhow::Result<ExitCode> {
    let span = parse_since(since)?;
    let _ = flush_before(conn).await;
    let practice = conn.client.practice().await?;
    let list = conn.client.all_incidents().await?;
    let now = Utc::now();
    let since = now.checked_sub_signed(span).context("--since reaches too far back")?;
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

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn since_units() {
        assert_eq!(parse_since("30d").unwrap().num_days(), 30);
        assert_eq!(parse_since("12h").unwrap().num_hours(), 12);
        assert_eq!(parse_since("2w").unwrap().num_days(), 14);
        assert_eq!(parse_since("90m").unwrap().num_minutes(), 90);
        assert!(parse_since("soon").is_err());
        assert!(parse_since("3y").unwrap_err().to_string().contains("unknown unit"));
        for huge in ["100000000d", "99999999999999h", "9223372036854775807m"] {
            assert!(parse_since(huge).unwrap_err().to_string().contains("too far back"), "{huge}");
        }
    }
}
