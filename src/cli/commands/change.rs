//! What every write verb for scripts shares (`status`, `severity`, `ack`, `assign`, `check`,
//! `comms --send`, ...): read what the server holds ([`read`]), check the change against it
//! with the domain's own rules (the practice's names, the fold's checks, "already so"), base a
//! guarded change on the revision read (or `--if-revision`), send it through the outbox like
//! `log` ([`send`]: queued when the server cannot be reached), explain a stale change with
//! what changed in between, and print the outcome ([`report`]) as text or JSON.

use std::process::ExitCode;

use chrono::Utc;
use serde_json::json;

use super::exit::{EXIT_QUEUED, EXIT_REFUSED, EXIT_STALE, EXIT_UNREACHABLE, Failure};
use super::write::{flush_before, queued_message, submit};
use crate::cli::args::OutputFormat;
use crate::cli::connect::Conn;
use crate::client::{ClientError, Pending, Target};
use crate::domain::{Event, EventBody, Incident, NewEvent, Practice, Rejection, text};

/// What the server holds for a change: its practice and the incident as it stands.
pub(super) struct Known {
    pub(super) practice: Practice,
    pub(super) incident: Incident,
    /// The incident's events, when asked for.
    pub(super) events: Vec<Event>,
}

/// Sends what the outbox holds, then reads the practice and the incident (with its events when
/// `events`). `Ok(Err)`: the server cannot be reached (a change may still be queued).
pub(super) async fn read(
    conn: &Conn,
    incident: &str,
    events: bool,
) -> anyhow::Result<Result<Known, ClientError>> {
    if let Some(e) = flush_before(conn).await {
        if e.is_retryable() {
            return Ok(Err(e));
        }
        return Err(Failure::client(&e).into());
    }
    let practice = match conn.client.practice().await {
        Ok(p) => p,
        Err(e) if e.is_retryable() => return Ok(Err(e)),
        Err(e) => return Err(Failure::client(&e).into()),
    };
    let snap = match conn.client.incident(incident, events).await {
        Ok(s) => s,
        Err(e) if e.is_retryable() => return Ok(Err(e)),
        Err(e) => return Err(incident_failure(incident, &e).into()),
    };
    Ok(Ok(Known { practice, incident: snap.incident, events: snap.events.unwrap_or_default() }))
}

/// A failed read of `incident`: a 404 says plainly that there is no such incident.
pub(super) fn incident_failure(incident: &str, e: &ClientError) -> Failure {
    match e {
        ClientError::Refused { status: 404, .. } => Failure::not_found(format!(
            "no incident {} (`warroom ls --all` lists them)",
            text::line(incident)
        )),
        other => Failure::client(other),
    }
}

/// A change the domain refuses before it is sent: unknown names are "not found" (3), the rest
/// "refused" (4), as the server would say.
fn refused(incident: &str, r: Rejection) -> Failure {
    let code = if r.code.starts_with("unknown_") { super::exit::EXIT_NOT_FOUND } else { EXIT_REFUSED };
    Failure::new(code, format!("{}: {}", text::line(incident), r.message))
}

/// How a change ended.
pub(super) enum Sent {
    /// Recorded by the server.
    Recorded(Event),
    /// The server could not be reached: queued in the outbox.
    Queued(NewEvent),
    /// Nothing to do: the incident is already so.
    Unchanged(String),
}

/// Checks `body` against what the server holds (when it could be read), bases a guarded change
/// on `if_revision` or the revision read, and sends it through the outbox.
pub(super) async fn change(
    conn: &Conn,
    incident: &str,
    known: &Result<Known, ClientError>,
    mut body: EventBody,
    if_revision: Option<u64>,
) -> anyhow::Result<Sent> {
    let now = Utc::now();
    if let Ok(k) = known {
        k.practice.check_event(&mut body).map_err(|r| refused(incident, r))?;
        if k.incident.is_noop(&body) {
            return Ok(Sent::Unchanged(format!(
                "{}: already so ({})",
                text::line(incident),
                text::line(&body.summary())
            )));
        }
        k.incident.check(&body, now).map_err(|r| refused(incident, r))?;
    }
    let guarded = Incident::default().guarded_field(&body).map(|(field, _)| field);
    let if_match = match (guarded, if_revision, known) {
        (None, _, _) => None,
        (Some(_), Some(n), _) => Some(n),
        (Some(_), None, Ok(k)) => Some(k.incident.revision),
        (Some(field), None, Err(e)) => {
            return Err(Failure::new(
                EXIT_UNREACHABLE,
                format!(
                    "{e}\nnothing queued: a {field} change is based on the incident's revision, which \
                     cannot be read now; give --if-revision N to queue it based on revision N"
                ),
            )
            .into());
        }
    };
    send(conn, incident, NewEvent::at(now, body), if_match).await
}

/// Queues `event` and sends the outbox (see `write::submit`), sorting the outcome.
pub(super) async fn send(
    conn: &Conn,
    incident: &str,
    event: NewEvent,
    if_match: Option<u64>,
) -> anyhow::Result<Sent> {
    let pending = Pending { target: Target::Incident(incident.to_string()), event: event.clone(), if_match };
    match submit(conn, pending).await {
        Ok(Ok(e)) => Ok(Sent::Recorded(e)),
        Ok(Err(e @ ClientError::Unauthorized { .. })) => Err(Failure::new(
            EXIT_REFUSED,
            format!("{e}\nthe write stays queued in {}", conn.outbox.path().display()),
        )
        .into()),
        Ok(Err(e)) if e.is_untrusted() => Err(Failure::new(
            super::exit::EXIT_UNTRUSTED,
            super::write::untrusted_message(conn, &e).trim_start_matches("warroom: ").to_string(),
        )
        .into()),
        Ok(Err(e)) => {
            eprintln!("{}", queued_message(conn, &e));
            Ok(Sent::Queued(event))
        }
        Err(err) => match err.downcast_ref::<ClientError>() {
            Some(ClientError::Conflict { message, .. }) => {
                Err(stale(conn, incident, &event.body, if_match.unwrap_or(0), message).await.into())
            }
            Some(ClientError::Refused { status: 404, .. }) => {
                let e = err.downcast_ref::<ClientError>().expect("just matched");
                Err(incident_failure(incident, e).into())
            }
            _ => Err(err),
        },
    }
}

/// A stale guarded change: what the field is now, and the events recorded after the revision
/// the change was based on.
async fn stale(conn: &Conn, incident: &str, body: &EventBody, base: u64, message: &str) -> Failure {
    let id = text::line(incident);
    let mut lines = vec![format!(
        "{id}: refused, stale: {} (asked: {})",
        text::line(message),
        text::line(&body.summary())
    )];
    match conn.client.incident(incident, true).await {
        Ok(snap) => {
            if let Some(now) = snap.incident.guarded_value(body) {
                lines.push(format!("it is now {}", text::line(&now)));
            }
            let events = snap.events.unwrap_or_default();
            let after: Vec<&Event> = events.iter().skip(base as usize).collect();
            if !after.is_empty() {
                lines.push(format!("changed in between (after revision {base}):"));
                lines.extend(
                    after.iter().rev().take(10).rev().map(|e| format!("  {}", super::tail::tail_line(e))),
                );
            }
            lines.push(format!(
                "look again (warroom show {id}) and retry, or give --if-revision {} to make it anyway",
                snap.incident.revision
            ));
        }
        Err(e) => lines.push(format!("(what changed cannot be read now: {e})")),
    }
    Failure::new(EXIT_STALE, lines.join("\n"))
}

/// Prints how a change ended (text: one line on stdout; json: one document) and returns the
/// exit status: 0, or [`EXIT_QUEUED`].
pub(super) fn report(format: OutputFormat, incident: &str, sent: &Sent) -> ExitCode {
    let code = match sent {
        Sent::Queued(_) => ExitCode::from(EXIT_QUEUED),
        _ => ExitCode::SUCCESS,
    };
    match format {
        OutputFormat::Json => {
            println!("{}", crate::domain::text::json_for_terminal(&json_of(incident, sent).to_string()))
        }
        OutputFormat::Text => match sent {
            Sent::Recorded(e) => println!("{}", done_line(e)),
            Sent::Queued(e) => {
                println!("{}: queued: {}", text::line(incident), text::line(&e.body.summary()))
            }
            Sent::Unchanged(why) => println!("{why}"),
        },
    }
    code
}

/// `INC-1 #12: status -> mitigated` (an action item adds its id, for `action-item done`).
pub(super) fn done_line(e: &Event) -> String {
    let mut line = format!("{} #{}: {}", text::line(&e.incident), e.seq, text::line(&e.body.summary()));
    if let EventBody::ActionItemAdded { .. } = e.body {
        line.push_str(&format!(" (id {})", e.id));
    }
    line
}

/// `{"incident", "changed", "queued", "event", "message"}`: the event as recorded, or as
/// queued, or none when nothing changed.
pub(super) fn json_of(incident: &str, sent: &Sent) -> serde_json::Value {
    match sent {
        Sent::Recorded(e) => json!({"incident": e.incident, "changed": true, "queued": false, "event": e}),
        Sent::Queued(e) => json!({"incident": incident, "changed": true, "queued": true, "event": e}),
        Sent::Unchanged(why) => {
            json!({"incident": incident, "changed": false, "queued": false, "event": null, "message": why})
        }
    }
}
