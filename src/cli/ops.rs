//! `warroom run` (record what was done from a jump host), `warroom report` (response figures
//! across incidents) and `warroom export --at` (the incident as it stood at a moment).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};

use super::{Conn, Ctx, ExportFormat, ReportFormat, flush_before, queued_message, submit};
use crate::client::{ClientError, Pending, Target};
use crate::domain::{replay, report};
use crate::render;

/// Runs the command with the terminal attached, then logs it. The command runs even when the
/// server is down (the entry is queued); warroom exits with the command's own status.
pub(super) async fn run(
    ctx: &Ctx,
    conn: &Conn,
    incident: String,
    note: Option<String>,
    kind: Option<String>,
    argv: Vec<String>,
) -> anyhow::Result<ExitCode> {
    // Check what can be checked before running, so a typo does not lose the record.
    let kind = kind.as_deref().map(crate::run::parse_entry_kind).transpose().map_err(anyhow::Error::msg)?;
    let outcome = match crate::run::run_command(&argv).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("warroom: cannot run `{}`: {e}", argv.first().map(String::as_str).unwrap_or(""));
            return Ok(ExitCode::from(127));
        }
    };
    let masked = crate::run::shell_join(&crate::run::mask_args(&argv, &ctx.config.run.secret_args));
    let event = crate::run::action_event(
        &outcome,
        &masked,
        &crate::run::host_name(),
        &crate::run::user_name(),
        note.as_deref(),
        kind,
    );
    let code = ExitCode::from(outcome.exit.shell_code().clamp(0, 255) as u8);
    match submit(conn, Pending { target: Target::Incident(incident), event, if_match: None }).await {
        Ok(Ok(e)) => eprintln!("warroom: logged to {} (#{}): {}", e.incident, e.seq, outcome.exit.describe()),
        Ok(Err(e @ ClientError::Unauthorized { .. })) => {
            eprintln!("warroom: {e}\nwarroom: the entry stays queued in {}", conn.outbox.path().display())
        }
        Ok(Err(e)) => eprintln!("{}", queued_message(conn, &e)),
        // Refused (e.g. unknown incident): say so, but the command's status is what scripts need.
        Err(e) => eprintln!("warroom: {e:#}"),
    }
    Ok(code)
}

/// Parses `30d`, `12h`, `2w`, `90m` into a duration.
pub(super) fn parse_since(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().with_context(|| format!("`{s}`: expected a number and a unit, e.g. 30d"))?;
    Ok(match unit {
        "m" | "min" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" | "" => Duration::days(n),
        "w" => Duration::weeks(n),
        _ => anyhow::bail!("`{s}`: unknown unit `{unit}` (use m, h, d or w)"),
    })
}

pub(super) async fn report(conn: &Conn, since: &str, format: ReportFormat) -> anyhow::Result<ExitCode> {
    let span = parse_since(since)?;
    let _ = flush_before(conn).await;
    let practice = conn.client.practice().await?;
    let list = conn.client.all_incidents().await?;
    let now = Utc::now();
    let r = report::report(&list.incidents, practice.scheme(), now - span, now);
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

pub(super) async fn export_at(
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
    writeln!(std::io::stdout().lock(), "{}", serde_json::to_string_pretty(&state)?)?;
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
    }
}
