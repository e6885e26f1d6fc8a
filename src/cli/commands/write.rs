//! The write path: `warroom declare` and `warroom log`, and what every command that sends
//! shares: [`submit`] (queue in the outbox first, then send it oldest first) and the reporting of
//! what the outbox sent or the server refused, on stderr.

use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use crate::cli::args::EntryKind;
use crate::cli::connect::Conn;
use crate::client::{ClientError, Pending, Target};
use crate::client::{FlushOutcome, Flushed, flush};
use crate::domain::{EventBody, NewEvent};

/// Exit status of a command whose write was queued but could not be confirmed (EX_TEMPFAIL).
pub const EXIT_QUEUED: u8 = 75;
/// Exit status when the server's certificate is not trusted (#15 item 16): not a network blip,
/// and not a refusal by the server (it was never asked). A write waits in the outbox, unsent.
pub const EXIT_UNTRUSTED: u8 = 7;

/// Sends what earlier commands or consoles left in the outbox; reports on stderr.
pub(super) async fn flush_before(conn: &Conn) -> Option<ClientError> {
    report_flush(flush::flush(&conn.client, &conn.outbox, report_refused).await)
}

fn report_refused(f: Flushed) {
    if let Flushed::Refused { pending, error } = f {
        eprintln!(
            "warroom: the server refused a queued {} for {}: {error} (kept in the rejected file)",
            pending.event.body.kind(),
            match &pending.target {
                Target::Declare => "a new incident".to_string(),
                Target::Incident(i) => i.clone(),
            }
        );
    }
}

fn report_flush(r: Result<FlushOutcome, flush::FlushStopped>) -> Option<ClientError> {
    match r {
        Ok(o) => {
            if o.acked > 0 {
                eprintln!("warroom: sent {} queued write(s)", o.acked);
            }
            None
        }
        Err(s) => {
            if s.outcome.acked > 0 {
                eprintln!("warroom: sent {} queued write(s)", s.outcome.acked);
            }
            Some(s.error)
        }
    }
}

/// Queues `event` in the outbox before any network I/O (a stalled network must not keep an
/// entry from being saved), then sends the outbox, oldest first. Returns the server's answer for
/// this event, or the error that kept it queued (`Ok(Err)`), or the refusal (`Err`).
pub(super) async fn submit(
    conn: &Conn,
    p: Pending,
) -> anyhow::Result<Result<crate::domain::Event, ClientError>> {
    conn.outbox.push(&p).with_context(|| format!("writing the outbox {}", conn.outbox.path().display()))?;
    let id = p.event.id;
    let again = p.clone();
    // Test builds only (debug assertions): wait after the push until a file exists, so a test
    // can have another process send the entry first (the race `resend` below answers).
    #[cfg(debug_assertions)]
    if let Some(go) = std::env::var_os("WARROOM_TEST_WAIT_AFTER_PUSH") {
        while !std::path::Path::new(&go).exists() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    let mut mine: Option<Result<crate::domain::Event, ClientError>> = None;
    let mut earlier = 0;
    let result = flush::flush(&conn.client, &conn.outbox, |f| match f {
        Flushed::Acked { pending, response } => {
            earlier += pending.iter().filter(|q| q.event.id != id).count();
            if let Some(e) = response.events.into_iter().find(|e| e.id == id) {
                mine = Some(Ok(e));
            }
        }
        Flushed::Refused { pending, error } if pending.event.id == id => mine = Some(Err(error)),
        other => report_refused(other),
    })
    .await;
    if earlier > 0 {
        eprintln!("warroom: sent {earlier} queued write(s)");
    }
    match mine {
        Some(Ok(e)) => Ok(Ok(e)),
        Some(Err(refused)) => Err(anyhow::Error::new(refused)
            .context(format!("refused; the entry is kept in {}", conn.outbox.rejected_path().display()))),
        None => match result {
            Err(stopped) => Ok(Err(stopped.error)),
            // Another process sharing the outbox (a console in this data dir) sent it between
            // our push and our flush: the server deduplicates by id and answers with its record.
            Ok(_) => match flush::resend(&conn.client, &again).await {
                Ok(response) => match response.events.into_iter().find(|e| e.id == id) {
                    Some(e) => Ok(Ok(e)),
                    None => bail!("the server did not return the event"),
                },
                Err(e) => bail!(
                    "another process sharing this data dir sent the entry, but the server could not be \
                     asked for its record: {e}"
                ),
            },
        },
    }
}

/// Says where an entry the server did not get is queued, and who sends it.
pub(super) fn queued_message(conn: &Conn, e: &ClientError) -> String {
    if e.is_untrusted() {
        return untrusted_message(conn, e);
    }
    format!(
        "warroom: {e}\nwarroom: queued in {}; the next warroom command or console that reaches the server sends it",
        conn.outbox.path().display()
    )
}

/// #15 item 16: the server's certificate is not trusted. Not a network blip: nothing was sent,
/// and nothing will be until the user trusts the server; the entry waits in the outbox.
pub(super) fn untrusted_message(conn: &Conn, e: &ClientError) -> String {
    format!(
        "warroom: {e}\nwarroom: not sent; the entry waits in {} and is sent by the next warroom command once the server is trusted",
        conn.outbox.path().display()
    )
}

/// Declares an incident and prints its id; exits with [`EXIT_QUEUED`] when it was only queued.
pub(in crate::cli) async fn declare(
    conn: &Conn,
    severity: String,
    title: String,
    summary: String,
) -> anyhow::Result<ExitCode> {
    // #15 item 0: the same declaration still queued (the server was away, or the session
    // expired) is retried with its own event id, the idempotency key: never a second incident.
    let queued = conn.outbox.pending().unwrap_or_default().into_iter().find(|p| {
        p.target == Target::Declare
            && matches!(&p.event.body, EventBody::Declared { title: t, severity: s, summary: m, .. }
                if *t == title && *s == severity && *m == summary)
    });
    let retry = queued.is_some();
    let event = match queued {
        Some(p) => p.event,
        None => NewEvent::now(EventBody::Declared { title, severity, summary, group_key: None, demo: false }),
    };
    match submit(conn, Pending { target: Target::Declare, event, if_match: None }).await? {
        Ok(e) => {
            if retry {
                eprintln!("warroom: already declared as {} (the queued declaration was sent)", e.incident);
            }
            println!("{}", e.incident);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.is_retryable() => {
            eprintln!("{}", queued_message(conn, &e));
            Ok(ExitCode::from(EXIT_QUEUED))
        }
        Err(e) if e.is_untrusted() => {
            eprintln!("{}", untrusted_message(conn, &e));
            Ok(ExitCode::from(EXIT_UNTRUSTED))
        }
        Err(e @ ClientError::Unauthorized { .. }) => {
            // An expired sign-in: the declaration waits for the same user (#15 item 0); running
            // `declare` again after `warroom login` sends it, not a second one.
            eprintln!("{}", waits_for_identity(conn, &e));
            Ok(ExitCode::from(EXIT_QUEUED))
        }
        Err(e) => Err(e.into()),
    }
}

/// Says that an entry refused for an expired sign-in waits in the outbox for the same user.
fn waits_for_identity(conn: &Conn, e: &ClientError) -> String {
    format!(
        "warroom: {e}\nwarroom: the entry waits in {} for {} to sign in again",
        conn.outbox.path().display(),
        conn.outbox.identity().and_then(|i| i.strip_prefix("user:")).unwrap_or("you")
    )
}

/// Appends a timeline entry; an entry the server did not get stays queued (exit 0), except
/// when the token is refused.
pub(in crate::cli) async fn log(
    conn: &Conn,
    incident: String,
    kind: EntryKind,
    at: Option<DateTime<Utc>>,
    tags: Vec<String>,
    text: String,
) -> anyhow::Result<ExitCode> {
    let mut body = EventBody::entry(kind.event_kind(), text).expect("an entry kind");
    if let EventBody::Note(e) | EventBody::Finding(e) | EventBody::Action(e) | EventBody::Decision(e) =
        &mut body
    {
        e.tags = tags;
    }
    let event = NewEvent::at(at.unwrap_or_else(Utc::now), body);
    match submit(conn, Pending { target: Target::Incident(incident), event, if_match: None }).await? {
        Ok(e) => {
            eprintln!("warroom: logged to {} (#{})", e.incident, e.seq);
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ ClientError::Unauthorized { .. }) => {
            // Only an expired or ended sign-in stops the send (#15 item 0): the entry is the
            // user's, and waits for that user's next session.
            eprintln!("{}", waits_for_identity(conn, &e));
            Ok(ExitCode::FAILURE)
        }
        Err(e) if e.is_untrusted() => {
            eprintln!("{}", untrusted_message(conn, &e));
            Ok(ExitCode::from(EXIT_UNTRUSTED))
        }
        Err(e) => {
            eprintln!("{}", queued_message(conn, &e));
            Ok(ExitCode::SUCCESS)
        }
    }
}
