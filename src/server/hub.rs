//! Fan-out. The store hands each local commit's events to the hub straight from the write path
//! ([`Store::on_commit`]); ONE tailer task reads new rows from the store in seq order (woken by
//! a PostgreSQL NOTIFY, and by a poll as a backstop, so rows written by another process or
//! replica arrive too). Both append to a ring of recent events, only ever the contiguous next
//! seqs (an event whose predecessor is not in the ring yet waits for the tailer), each event
//! serialized once, as its whole SSE frame, and publish the highest seq on a `watch` channel. Streams and long polls read from the ring when their cursor is
//! inside it and from the store otherwise: a client resuming after seq N gets every event with
//! seq > N exactly once, in order.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::store::{Store, StoreResult};
use crate::domain::Event;

/// Events kept in memory for streams and long polls.
pub const RING_CAPACITY: usize = 10_000;
/// How often the tailer looks at the store when nobody woke it.
const POLL: Duration = Duration::from_millis(1_500);
/// Rows per store read.
const PAGE: u32 = 1_000;
/// How long the tailer waits for a missing seq before moving past it.
const GAP_PATIENCE: Duration = Duration::from_secs(5);

/// One event as streamed: its seq, incident and its whole SSE frame
/// (`id: <seq>\nevent: event\ndata: <JSON>\n\n`), serialized once and shared by every stream.
#[derive(Debug, Clone)]
pub struct Item {
    pub seq: u64,
    pub incident: Arc<str>,
    /// The SSE frame; the JSON is `frame[data_at..len - 2]`.
    pub frame: Bytes,
    data_at: u32,
}

impl Item {
    pub(crate) fn new(e: &Event) -> Self {
        let json = serde_json::to_string(e).unwrap_or_else(|err| {
            // An `Event` always serializes; keep the stream well-formed regardless.
            tracing::error!(seq = e.seq, %err, "event does not serialize");
            format!("{{\"seq\":{}}}", e.seq)
        });
        // serde_json escapes newlines inside strings: the JSON is one `data:` line.
        let head = format!("id: {}\nevent: event\ndata: ", e.seq);
        let mut frame = Vec::with_capacity(head.len() + json.len() + 2);
        frame.extend_from_slice(head.as_bytes());
        frame.extend_from_slice(json.as_bytes());
        frame.extend_from_slice(b"\n\n");
        Item {
            seq: e.seq,
            incident: Arc::from(e.incident.as_str()),
            frame: Bytes::from(frame),
            data_at: head.len() as u32,
        }
    }

    /// The event's JSON.
    pub fn json(&self) -> &str {
        let json = &self.frame[self.data_at as usize..self.frame.len() - 2];
        // Built from a `String` in `new`: always UTF-8.
        std::str::from_utf8(json).unwrap_or("{}")
    }
}

/// A page of events after a cursor.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// The highest seq known when the page was read; every matching event up to it is in the
    /// page unless the page is full.
    pub last_seq: u64,
}

impl Page {
    /// The page as an `EventPage` JSON document, from the pre-serialized events.
    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(32 + self.items.iter().map(|i| i.frame.len()).sum::<usize>());
        s.push_str("{\"events\":[");
        for (n, i) in self.items.iter().enumerate() {
            if n > 0 {
                s.push(',');
            }
            s.push_str(i.json());
        }
        s.push_str("],\"last_seq\":");
        s.push_str(&self.last_seq.to_string());
        s.push('}');
        s
    }
}

struct Ring {
    /// Every event with seq in (floor, floor + items.len()] is in `items`, in order.
    floor: u64,
    items: VecDeque<Item>,
}

impl Ring {
    fn top(&self) -> u64 {
        self.floor + self.items.len() as u64
    }
}

/// The fan-out hub. Cheap to share (`Arc<Hub>`).
/// Which tokens have a revocation check running (see `stream::until_revoked`).
pub(crate) type Watchers = std::sync::Mutex<std::collections::HashMap<[u8; 32], watch::Receiver<bool>>>;

pub struct Hub {
    store: Arc<dyn Store>,
    ring: RwLock<Ring>,
    capacity: usize,
    seq_tx: watch::Sender<u64>,
    wake: Notify,
    /// ship: where the tailer records each new event's propagation lag (`/metrics`).
    lag: std::sync::OnceLock<metrics::Histogram>,
    /// The tokens whose streams and long polls wait for a revocation (one check per token).
    pub(crate) watchers: Arc<Watchers>,
}

impl Hub {
    /// Loads the most recent events into the ring and starts the tailer, which stops when
    /// `cancel` fires.
    pub async fn start(store: Arc<dyn Store>, cancel: CancellationToken) -> anyhow::Result<Arc<Hub>> {
        Self::start_with_capacity(store, cancel, RING_CAPACITY).await
    }

    pub async fn start_with_capacity(
        store: Arc<dyn Store>,
        cancel: CancellationToken,
        capacity: usize,
    ) -> anyhow::Result<Arc<Hub>> {
        let capacity = capacity.max(1);
        let top = store.last_seq().await?;
        let floor = top.saturating_sub(capacity as u64);
        let (seq_tx, _) = watch::channel(floor);
        let hub = Arc::new(Hub {
            store,
            ring: RwLock::new(Ring { floor, items: VecDeque::with_capacity(capacity.min(4096)) }),
            capacity,
            seq_tx,
            wake: Notify::new(),
            lag: std::sync::OnceLock::new(),
            watchers: Arc::default(),
        });
        // Fill the ring up to where the store was when we looked; the tailer does the rest.
        while hub.top() < top {
            let n = hub.pull().await?;
            if n == 0 {
                break;
            }
        }
        // Direct publish: each local commit's events, from the write path.
        let weak = Arc::downgrade(&hub);
        hub.store.on_commit(Arc::new(move |events| match weak.upgrade() {
            Some(h) => {
                if events.last().is_some_and(|last| h.push(events) < last.seq) {
                    // Something before them is not in the ring yet (another replica's or
                    // process's commit): the tailer reads it, and these, from the store.
                    h.poke();
                }
                true
            }
            None => false,
        }));
        let weak = Arc::downgrade(&hub);
        hub.store.listen(Arc::new(move || match weak.upgrade() {
            Some(h) => {
                h.poke();
                true
            }
            None => false,
        }));
        tokio::spawn(hub.clone().tail(cancel));
        Ok(hub)
    }

    /// Records, for each event the tailer publishes from now on, the time since its
    /// `recorded_at` into `h` (the first histogram given stays).
    pub fn record_lag_into(&self, h: metrics::Histogram) {
        let _ = self.lag.set(h);
    }

    /// Wakes the tailer: something was committed.
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Waits (up to 2 s) until the hub has published `seq` (waking the tailer if it has not),
    /// so that whoever appended through this server reads their own write from the ring
    /// afterwards. A local commit is usually published before its writer is answered.
    pub async fn caught_up(&self, seq: u64) {
        let mut rx = self.subscribe();
        if *rx.borrow_and_update() >= seq {
            return;
        }
        self.poke();
        if tokio::time::timeout(Duration::from_secs(2), rx.wait_for(|top| *top >= seq)).await.is_err() {
            tracing::warn!(seq, "fan-out is lagging behind the store");
        }
    }

    /// The store the hub reads.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The highest seq the hub has published.
    pub fn top(&self) -> u64 {
        self.read_ring().top()
    }

    /// A receiver of the highest published seq.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.seq_tx.subscribe()
    }

    fn read_ring(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        self.ring.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Events with seq > `after` (at most `limit`, optionally of one incident), from the ring
    /// when it covers the cursor, else from the store.
    pub async fn read(&self, after: u64, limit: u32, incident: Option<&str>) -> StoreResult<Page> {
        let limit = limit.max(1) as usize;
        {
            let ring = self.read_ring();
            if after >= ring.floor {
                let start = usize::try_from(after - ring.floor).unwrap_or(usize::MAX);
                let items = ring
                    .items
                    .range(start.min(ring.items.len())..)
                    .filter(|i| incident.is_none_or(|inc| &*i.incident == inc))
                    .take(limit)
                    .cloned()
                    .collect();
                return Ok(Page { items, last_seq: ring.top() });
            }
        }
        // Behind the ring: read the store. `top` is taken first, so every event up to it is
        // committed and, the page not being full, in the page.
        let top = self.top();
        let events = self.store.events_after(after, limit as u32, incident).await?;
        let last = events.last().map_or(0, |e| e.seq);
        Ok(Page { items: events.iter().map(Item::new).collect(), last_seq: top.max(last) })
    }

    /// Stream fast path: when the ring covers `after`, appends the events after it (at most
    /// `limit`) to `out` and returns true; false when `after` is behind the ring.
    pub fn fill(&self, after: u64, limit: usize, out: &mut VecDeque<Item>) -> bool {
        let ring = self.read_ring();
        if after < ring.floor {
            return false;
        }
        let start = usize::try_from(after - ring.floor).unwrap_or(usize::MAX).min(ring.items.len());
        out.extend(ring.items.range(start..).take(limit).cloned());
        true
    }

    /// Reads the next rows after the ring's top into the ring; returns how many it took.
    async fn pull(&self) -> anyhow::Result<usize> {
        let top = self.top();
        let events = self.store.events_after(top, PAGE, None).await?;
        let new_top = self.push(&events);
        Ok(usize::try_from(new_top.saturating_sub(top)).unwrap_or(0))
    }

    /// Appends to the ring the events (in seq order) that follow its top contiguously, skipping
    /// those it has already (the tailer and the write path may both bring an event), and
    /// publishes the new top, which it returns. An event after a missing seq is not taken.
    fn push(&self, events: &[Event]) -> u64 {
        let top = self.top();
        let fresh: Vec<&Event> = events.iter().filter(|e| e.seq > top).collect();
        if fresh.is_empty() {
            return top;
        }
        // Serialized before taking the lock.
        let mut items: Vec<Item> = fresh.iter().map(|e| Item::new(e)).collect();
        let (old_top, new_top) = {
            let mut ring = self.ring.write().unwrap_or_else(|p| p.into_inner());
            let old_top = ring.top();
            items.retain(|i| i.seq > old_top);
            let n = items.iter().enumerate().take_while(|(n, i)| i.seq == old_top + 1 + *n as u64).count();
            items.truncate(n);
            ring.items.extend(items);
            while ring.items.len() > self.capacity {
                ring.items.pop_front();
                ring.floor += 1;
            }
            (old_top, ring.top())
        };
        if new_top == old_top {
            return new_top;
        }
        // Recorded before publishing: whoever waits for the seq sees it counted.
        if let Some(h) = self.lag.get() {
            let now = chrono::Utc::now();
            for e in fresh.iter().filter(|e| e.seq > old_top && e.seq <= new_top) {
                h.record((now - e.recorded_at).to_std().unwrap_or_default().as_secs_f64());
            }
        }
        self.seq_tx.send_replace(new_top);
        new_top
    }

    /// Moves the ring past a missing seq that never showed up.
    fn skip_to(&self, seq: u64) {
        let mut ring = self.ring.write().unwrap_or_else(|p| p.into_inner());
        if seq > ring.top() {
            tracing::warn!(from = ring.top(), to = seq, "seq gap in the event log; moving on");
            ring.items.clear();
            ring.floor = seq;
        }
    }

    async fn tail(self: Arc<Self>, cancel: CancellationToken) {
        let mut gap_since: Option<Instant> = None;
        loop {
            let top = self.top();
            let mut more = false;
            match self.store.events_after(top, PAGE, None).await {
                Ok(events) => {
                    let new_top = self.push(&events);
                    let n = events.iter().take_while(|e| e.seq <= new_top).count();
                    if n < events.len() {
                        // A seq is missing (a writer committed late?): wait for it a little.
                        let since = *gap_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > GAP_PATIENCE {
                            self.skip_to(events[n].seq - 1);
                            gap_since = None;
                            more = true;
                        }
                    } else {
                        gap_since = None;
                        more = n == PAGE as usize;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "fan-out: reading new events failed"),
            }
            if more {
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
        tracing::debug!("fan-out tailer stopped");
    }
}
