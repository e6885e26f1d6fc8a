//! `warroom comms`: a status update drafted from one of the practice's templates
//! (`domain::comms::draft`, as the console's `C` drafts it), printed; with `--send`, recorded as
//! `comms_sent` to a channel (by default the incident channel, `comms::channel_name`), which
//! restarts the status-update timer and is what the server delivers onward.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;

use super::change::{Sent, change, done_line, json_of, read};
use super::exit::{EXIT_QUEUED, EXIT_UNREACHABLE, Failure};
use crate::cli::args::OutputFormat;
use crate::cli::connect::Conn;
use crate::domain::{EventBody, Practice, comms, text};

/// The practice's template `name` names: exactly, or as the unique beginning of one.
fn template(practice: &Practice, name: &str) -> Result<String, Failure> {
    let names: Vec<String> = comms::templates(practice).into_iter().map(|(n, _)| n).collect();
    if names.iter().any(|n| n == name) {
        return Ok(name.to_string());
    }
    let starts: Vec<&String> = names.iter().filter(|n| n.starts_with(name)).collect();
    match starts.as_slice() {
        [one] => Ok((*one).clone()),
        _ => Err(Failure::not_found(format!(
            "unknown comms template `{}` (templates: {})",
            text::line(name),
            names.join(", ")
        ))),
    }
}

fn read_text(file: &Path) -> anyhow::Result<String> {
    if file == Path::new("-") {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading the update from standard input")?;
        return Ok(s);
    }
    std::fs::read_to_string(file).with_context(|| format!("reading the update from {}", file.display()))
}

/// Drafts the update and prints it; with `send`, records it as sent.
#[allow(clippy::too_many_arguments)]
pub(in crate::cli) async fn comms(
    conn: &Conn,
    incident: &str,
    name: &str,
    send: bool,
    channel: Option<String>,
    text_file: Option<&Path>,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let known = read(conn, incident, true).await?;
    let k = known.as_ref().map_err(|e| {
        Failure::new(
            EXIT_UNREACHABLE,
            format!("{e}\nnothing drafted: the templates and the incident are on the server"),
        )
    })?;
    let name = template(&k.practice, name)?;
    let draft = comms::draft(&k.practice, &name, &k.incident, &k.events, Utc::now())
        .ok_or_else(|| Failure::not_found(format!("the practice has no `{name}` template")))?;
    let text = match text_file {
        Some(f) => read_text(f)?,
        None => draft,
    };
    let channel = channel.unwrap_or_else(|| comms::channel_name(&k.incident));
    if !send {
        match format {
            OutputFormat::Text => print!("{}", ensure_newline(&text)),
            OutputFormat::Json => println!(
                "{}",
                crate::domain::text::json_for_terminal(
                    &serde_json::json!({"incident": k.incident.id, "template": name, "channel": channel, "text": text, "sent": false})
                        .to_string()
                )
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let body =
        EventBody::CommsSent { channel: channel.clone(), text: text.clone(), template: Some(name.clone()) };
    let sent = change(conn, incident, &known, body, None).await?;
    match format {
        OutputFormat::Text => {
            print!("{}", ensure_newline(&text));
            match &sent {
                Sent::Recorded(e) => eprintln!("warroom: {}", done_line(e)),
                Sent::Queued(_) => eprintln!("warroom: recorded as sent to {channel} once the queue is sent"),
                Sent::Unchanged(why) => eprintln!("warroom: {why}"),
            }
        }
        OutputFormat::Json => {
            let mut doc = json_of(incident, &sent);
            doc["template"] = name.into();
            doc["channel"] = channel.into();
            doc["text"] = text.into();
            doc["sent"] = true.into();
            println!("{}", crate::domain::text::json_for_terminal(&doc.to_string()));
        }
    }
    Ok(match sent {
        Sent::Queued(_) => ExitCode::from(EXIT_QUEUED),
        _ => ExitCode::SUCCESS,
    })
}

fn ensure_newline(s: &str) -> String {
    if s.ends_with('\n') { s.to_string() } else { format!("{s}\n") }
}
