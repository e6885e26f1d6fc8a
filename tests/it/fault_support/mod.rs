//! Harness for the fault tests: the fault-injecting proxy, the history checker, and consoles
//! (the real sync worker, as the TUI runs it, with its own outbox) whose every message is
//! recorded for the checker.

pub mod history;
pub mod proxy;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;
use warroom::client::{
    ApiClient, LinkState, Outbox, SyncHandle, SyncMsg, Target, Timeouts, TlsOptions, WorkerOptions,
    spawn_with,
};
use warroom::domain::{EventBody, EventKind, NewEvent};

use history::{ClientLog, History, Logged, Written};

/// Short timeouts, so a stalled connection is given up in a second (the defaults are 15 s for a
/// request and 45 s of stream silence).
pub const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(1),
    request: Duration::from_secs(1),
    stream_read: Duration::from_secs(1),
};

pub fn worker_options() -> WorkerOptions {
    WorkerOptions {
        // Below the stream's read timeout, as in production (5 s against 45 s).
        first_byte_timeout: Duration::from_millis(600),
        read_timeout: TIMEOUTS.stream_read,
        long_poll_wait: 1,
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(500),
        ..WorkerOptions::default()
    }
}

/// What one console has seen so far.
#[derive(Debug, Default)]
pub struct Seen {
    pub log: ClientLog,
    pub snapshot: bool,
    pub acked: Vec<(Uuid, u64)>,
    pub pending: usize,
    pub link: Option<LinkState>,
    pub links_lost: usize,
}

/// A console without a screen: the sync worker, its outbox, and a recorder of its messages.
pub struct Console {
    pub name: String,
    pub handle: SyncHandle,
    pub outbox: Outbox,
    pub seen: Arc<Mutex<Seen>>,
    pub written: Vec<Written>,
    task: tokio::task::JoinHandle<()>,
    recorder: tokio::task::JoinHandle<()>,
}

impl Drop for Console {
    fn drop(&mut self) {
        self.handle.shutdown();
        self.task.abort();
        self.recorder.abort();
    }
}

impl Console {
    pub fn start(name: &str, urls: &[String], token: &str, data_dir: &Path) -> Console {
        Self::start_with(name, urls, token, data_dir, worker_options())
    }

    pub fn start_with(
        name: &str,
        urls: &[String],
        token: &str,
        data_dir: &Path,
        opts: WorkerOptions,
    ) -> Console {
        let client =
            ApiClient::with_options(urls, Some(token.to_string()), &TlsOptions::default(), TIMEOUTS).unwrap();
        let outbox = Outbox::open(data_dir, client.base()).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (handle, commands) = SyncHandle::channel();
        let task = spawn_with(client, outbox.clone(), commands, tx, opts);
        let seen = Arc::new(Mutex::new(Seen {
            log: ClientLog { name: name.to_string(), ..ClientLog::default() },
            ..Seen::default()
        }));
        let s = seen.clone();
        let recorder = tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                let mut s = s.lock().unwrap();
                match msg {
                    SyncMsg::Snapshot(list) if !s.snapshot => {
                        s.snapshot = true;
                        s.log.start = list.seq;
                    }
                    SyncMsg::Event(e) => s.log.events.push((e.seq, e.id)),
                    SyncMsg::Acked { events } => s.acked.extend(events.iter().map(|e| (e.id, e.seq))),
                    SyncMsg::Outbox { pending } => s.pending = pending,
                    SyncMsg::Link(l) => {
                        if matches!(l, LinkState::Reconnecting { .. } | LinkState::Offline { .. }) {
                            s.links_lost += 1;
                        }
                        s.link = Some(l);
                    }
                    _ => {}
                }
            }
        });
        Console { name: name.to_string(), handle, outbox, seen, written: Vec::new(), task, recorder }
    }

    /// Submits a note (the text must be unique in the run) to `incident`.
    pub fn note(&mut self, incident: &str, text: String) {
        let e = NewEvent::now(EventBody::entry(EventKind::Note, text.clone()).unwrap());
        self.written.push(Written { id: e.id, text });
        self.handle.submit(Target::Incident(incident.to_string()), e, None);
    }

    /// The last seq this console's stream delivered.
    pub fn last_seq(&self) -> u64 {
        let s = self.seen.lock().unwrap();
        s.log.events.last().map_or(s.log.start, |e| e.0)
    }

    /// Its outbox is empty and it has caught up with `last`.
    pub fn settled(&self, last: u64) -> bool {
        self.outbox.pending().map(|p| p.is_empty()).unwrap_or(false) && self.last_seq() >= last
    }
}

/// The server's whole log, read directly (no proxy), page by page.
pub async fn server_log(direct: &ApiClient) -> Vec<Logged> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = direct.events(after, None, Some(1000)).await.unwrap();
        if page.events.is_empty() {
            return out;
        }
        for e in page.events {
            after = e.seq;
            let text = e.body.as_entry().map(|x| x.text.clone()).unwrap_or_default();
            out.push(Logged { seq: e.seq, id: e.id, text });
        }
    }
}

/// Waits (up to `patience`) until every entry the consoles wrote is in the server's log, every
/// console has drained its outbox and caught up with the server, then reads everything into a
/// history. Panics with what is missing if they never do.
///
/// An empty outbox alone does not say an entry was sent: `note` hands the entry to the worker
/// over a channel, and a busy machine may not have put the last ones in the outbox yet.
pub async fn converge(direct: &ApiClient, consoles: &[&Console], patience: Duration) -> History {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let server = server_log(direct).await;
        let last = server.last().map_or(0, |e| e.seq);
        let logged: std::collections::HashSet<Uuid> = server.iter().map(|e| e.id).collect();
        let missing: Vec<&str> = consoles
            .iter()
            .flat_map(|c| c.written.iter())
            .filter(|w| !logged.contains(&w.id))
            .map(|w| w.text.as_str())
            .collect();
        if missing.is_empty() && consoles.iter().all(|c| c.settled(last)) {
            return history(consoles, server);
        }
        if tokio::time::Instant::now() > deadline {
            let state: Vec<String> = consoles
                .iter()
                .map(|c| {
                    let s = c.seen.lock().unwrap();
                    format!(
                        "{}: at seq {} of {last}, outbox {:?}, link {:?}",
                        c.name,
                        c.last_seq(),
                        c.outbox.pending().map(|p| p.len()),
                        s.link
                    )
                })
                .collect();
            panic!(
                "no convergence after healing:\n{}\nwritten but not in the server's log: {missing:?}",
                state.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What every console wrote, was acknowledged and saw, with the server's log.
pub fn history(consoles: &[&Console], server: Vec<Logged>) -> History {
    let mut h = History { server, ..History::default() };
    for c in consoles {
        let s = c.seen.lock().unwrap();
        h.written.extend(c.written.iter().cloned());
        h.acked.extend(s.acked.iter().copied());
        h.clients.push(s.log.clone());
    }
    h
}
