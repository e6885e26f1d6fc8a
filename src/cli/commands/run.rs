//! `warroom run`: run a command with the terminal attached (the engine is `crate::run`), then
//! record what was done as a timeline entry, queued in the outbox when the server is down.

use std::process::ExitCode;

use super::write::{queued_message, submit};
use crate::cli::args::EntryKind;
use crate::cli::connect::{Conn, Ctx};
use crate::client::{ClientError, Pending, Target};

/// Runs the command with the terminal attached, then logs it. The command runs even when the
/// server is down (the entry is queued); warroom exits with the command's own status.
pub(in crate::cli) async fn run(
    ctx: &Ctx,
    conn: &Conn,
    incident: String,
    note: Option<String>,
    kind: Option<EntryKind>,
    argv: Vec<String>,
) -> anyhow::Result<ExitCode> {
    // clap checked the kind before anything ran, so a typo does not lose the record.
    let kind = kind.map(EntryKind::event_kind);
    let outcome = match crate::run::run_command(&argv).await {
        Ok(o) => o,
        Err(e) => {
            // A failed spawn already names the program; other failures get it here.
            let msg = e.to_string();
            if msg.starts_with("cannot run") {
                eprintln!("warroom: {msg}");
            } else {
                let program = crate::domain::text::line(argv.first().map(String::as_str).unwrap_or(""));
                eprintln!("warroom: cannot run `{program}`: {msg}");
            }
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
            eprintln!(
                "warroom: {}\nwarroom: the entry stays queued in {}",
                crate::domain::text::line(&e.to_string()),
                conn.outbox.path().display()
            )
        }
        Ok(Err(e)) => eprintln!("{}", queued_message(conn, &e)),
        // Refused (e.g. unknown incident): say so, but the command's status is what scripts need.
        Err(e) => eprintln!("warroom: {}", crate::domain::text::line(&format!("{e:#}"))),
    }
    Ok(code)
}
