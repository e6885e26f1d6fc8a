//! The sync worker's contract: what the console sends it (`Command`, through `SyncHandle`) and
//! what it reports back (`SyncMsg`). The worker itself (snapshot, SSE with resume, long-poll
//! fallback, outbox flushing, link state) lives in `worker.rs`, started by [`super::spawn`]: it
//! runs as a tokio task and never touches the terminal.

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::outbox::Target;
use crate::api::{ErrorBody, IncidentList, Me};
use crate::domain::{Event, NewEvent, Practice};

/// The link to the server as the user should see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// First connection under way.
    Connecting,
    /// Streaming (or long-polling) and up to date.
    Live { long_poll: bool },
    /// Lost the server; retrying. `attempt` counts retries since the link was last live.
    Reconnecting { attempt: u32, since: DateTime<Utc>, error: String },
    /// Gave up retrying quickly (still retrying slowly). Writes are queued in the outbox.
    Offline { since: DateTime<Utc>, error: String },
}

/// Whether the server takes this console's writes, as the outbox flusher last found it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Writes {
    /// The last flush went through (or none has failed yet).
    #[default]
    Ok,
    /// A reachable server answered the last flush with a refusal that stops it (5xx such as
    /// 503 `store_unavailable`, 429, or 401 for the token). Nothing was lost: the writes stay in
    /// the outbox and are retried. `since` is when this refusal began.
    Refused { status: u16, error: String, message: String, since: DateTime<Utc> },
}

impl Writes {
    pub fn is_refused(&self) -> bool {
        matches!(self, Writes::Refused { .. })
    }

    /// Why, in a few words a responder understands at a glance (the server's `message` holds
    /// the whole story): "the token was refused", "the database is read-only or full", ...
    pub fn reason(&self) -> Option<String> {
        let Writes::Refused { status, error, message, .. } = self else { return None };
        Some(match (*status, error.as_str()) {
            // oidc: an expired sign-in keeps the entries for the same user's next session.
            (401, _) if message.starts_with("the session of ") => {
                "session expired: run `warroom login`".to_string()
            }
            (401, _) => "the token was refused".to_string(),
            (_, "store_unavailable") => "the database is read-only or full".to_string(),
            (_, "busy") => "the database is busy".to_string(),
            (429, _) => "too many writes (rate limited)".to_string(),
            (s, _) => format!("server error {s}"),
        })
    }
}

/// What the worker tells the console. Every network result reaches the UI this way.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncMsg {
    /// Connected and authenticated: who we are and the server's practice.
    Hello {
        me: Me,
        practice: Box<Practice>,
    },
    /// Every incident's state at `seq`; the stream continues after it.
    Snapshot(IncidentList),
    /// All events of one incident (answer to `load_timeline`), in seq order.
    Timeline {
        incident: String,
        events: Vec<Event>,
    },
    /// A new event from the stream, in seq order, exactly once.
    Event(Event),
    Link(LinkState),
    /// A write was stored in the outbox (shown at once, marked pending).
    Queued {
        target: Target,
        event: NewEvent,
    },
    /// The server acknowledged these writes; they left the outbox.
    Acked {
        events: Vec<Event>,
    },
    /// The server refused a write (4xx). It was moved out of the outbox into the rejected file;
    /// the console shows why (for a conflict, `error.current` holds the newer incident).
    Refused {
        target: Target,
        event: NewEvent,
        status: u16,
        error: ErrorBody,
    },
    /// Whether the server takes writes: `Refused` when a flush stopped on a refusal from a
    /// reachable server (never for an unreachable one: that is the link state), `Ok` when a
    /// flush next succeeds. Sent on changes only.
    Writes(Writes),
    /// How many writes wait in the outbox.
    Outbox {
        pending: usize,
    },
    /// Something the user should know that is not a link change (e.g. a failed timeline load).
    Notice(String),
    /// The console started from its local cache, and the server is not the one it was taken
    /// from (its history was reset) or refused us: drop what came from it; a snapshot follows.
    CacheDiscarded,
}

/// What the console asks of the worker.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant, reason = "one per user action; boxing buys nothing")]
pub enum Command {
    /// Queue a write (outbox first, then send). `if_match` is the revision a guarded change
    /// (severity, status, commander) was made against.
    Submit { target: Target, event: NewEvent, if_match: Option<u64> },
    /// Fetch all events of an incident (the war room opened it).
    LoadTimeline { incident: String },
    /// Stop the worker (the console is quitting).
    Shutdown,
}

/// The console's side of the worker: cheap to clone, never blocks, never awaits the network.
#[derive(Debug, Clone)]
pub struct SyncHandle {
    tx: mpsc::UnboundedSender<Command>,
}

impl SyncHandle {
    /// A handle whose commands arrive on the returned receiver (the worker's input; also
    /// what reducer tests inspect).
    pub fn channel() -> (SyncHandle, mpsc::UnboundedReceiver<Command>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (SyncHandle { tx }, rx)
    }

    pub fn send(&self, cmd: Command) {
        // The worker only goes away at shutdown; a lost command then is harmless.
        let _ = self.tx.send(cmd);
    }

    pub fn submit(&self, target: Target, event: NewEvent, if_match: Option<u64>) {
        self.send(Command::Submit { target, event, if_match });
    }

    pub fn load_timeline(&self, incident: &str) {
        self.send(Command::LoadTimeline { incident: incident.to_string() });
    }

    pub fn shutdown(&self) {
        self.send(Command::Shutdown);
    }
}
