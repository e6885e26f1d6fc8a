//! `warroom tail`: events live, one line each, until Ctrl-C or SIGTERM; a joined tail takes the
//! embedded server over when its owner quits.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use tokio::sync::mpsc;

use crate::cli::connect::Conn;
use crate::cli::embedded;
use crate::client::{ClientError, LinkState, SyncMsg};
use crate::domain::text;

/// One line for `tail`: `HH:MM:SS INC-1 #seq author kind text`, safe for a terminal.
pub fn tail_line(e: &crate::domain::Event) -> String {
    format!(
        "{} {} #{} {} {} {}",
        e.occurred_at.format("%H:%M:%S"),
        text::line(&e.incident),
        e.seq,
        text::line(&e.author),
        e.kind(),
        text::line(&e.body.summary())
    )
}

/// Prints events live until Ctrl-C or SIGTERM. Joined to another process's embedded server, it
/// takes the server over when that process quits (saying so on stderr); when the address
/// cannot be bound again at once (another process holds the port), it says so and keeps trying,
/// as a console does.
pub(in crate::cli) async fn tail(conn: &mut Conn, incident: Option<String>) -> anyhow::Result<ExitCode> {
    match conn.client.me().await {
        Err(e @ (ClientError::Unauthorized { .. } | ClientError::Forbidden { .. })) => return Err(e.into()),
        Err(e) => eprintln!("warroom: {} (retrying)", text::line(&e.to_string())),
        Ok(_) => {}
    }
    // Listened for once, before the loop: a signal that arrives while a line is written is
    // still seen at the next turn.
    let signalled = crate::shutdown::listen().context("listening for SIGINT and SIGTERM")?;
    let mut takeover = conn.takeover_events();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handle = crate::client::spawn(conn.client.clone(), conn.outbox.clone(), tx);
    let mut out = std::io::stdout();
    let mut was_live = false;
    loop {
        let msg = tokio::select! {
            _ = signalled.cancelled() => break,
            t = next_takeover(&mut takeover) => {
                // Cannot serve (yet): it keeps trying, as a console does, and says so.
                eprintln!("warroom: {t}");
                continue;
            }
            m = rx.recv() => match m { Some(m) => m, None => break },
        };
        match msg {
            SyncMsg::Event(e) if incident.as_deref().is_none_or(|i| i.eq_ignore_ascii_case(&e.incident)) => {
                writeln!(out, "{}", tail_line(&e))?;
                out.flush()?;
            }
            SyncMsg::Link(LinkState::Live { long_poll }) => {
                // From here on every new event is printed (events recorded before the first
                // "live" are part of the starting point, not printed): scripts wait for it.
                let how = if long_poll { " (long polling)" } else { "" };
                let again = if was_live { " again" } else { "" };
                eprintln!("warroom: live{again}{how}");
                was_live = true;
            }
            SyncMsg::Link(LinkState::Reconnecting { attempt, error, .. }) => {
                eprintln!("warroom: reconnecting (attempt {attempt}): {}", text::line(&error))
            }
            SyncMsg::Link(LinkState::Offline { error, .. }) => {
                // A token revoked (or a session ended) while following: stop with the reason,
                // as at the start, rather than retry forever. Not so for the embedded server,
                // whose token is the data dir's own: refused, the address is held by another
                // process after the owner left, and the takeover keeps trying to serve it.
                if !conn.is_embedded()
                    && let Err(e @ (ClientError::Unauthorized { .. } | ClientError::Forbidden { .. })) =
                        conn.client.me().await
                {
                    handle.shutdown();
                    return Err(e.into());
                }
                eprintln!("warroom: offline, still retrying: {}", text::line(&error))
            }
            SyncMsg::Notice(n) => eprintln!("warroom: {}", text::line(&n)),
            _ => {}
        }
    }
    handle.shutdown();
    Ok(ExitCode::SUCCESS)
}

/// The next takeover event, or never.
async fn next_takeover(rx: &mut Option<mpsc::UnboundedReceiver<embedded::Takeover>>) -> embedded::Takeover {
    match rx {
        Some(r) => match r.recv().await {
            Some(t) => t,
            None => {
                *rx = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::{EventBody, EventKind};

    #[test]
    fn tail_lines_are_one_safe_line() {
        let e = crate::domain::Event {
            seq: 7,
            id: uuid::Uuid::now_v7(),
            incident: "INC-1".into(),
            author: "mal\x1b[2Jlory".into(),
            occurred_at: "2026-11-23T14:05:09Z".parse().unwrap(),
            recorded_at: Utc::now(),
            body: EventBody::entry(EventKind::Note, "two\nlines \x1b]52;c;cGF5bG9hZA==\x07done").unwrap(),
        };
        assert_eq!(tail_line(&e), "14:05:09 INC-1 #7 mallory note two lines done");
    }
}
