//! Fan-out. ONE tailer task reads new rows from the store in seq order (woken after each local
//! commit, and by a poll as a backstop, so rows written by another process or replica arrive
//! too) into a ring of recent events, each serialized to JSON once, and publishes the highest
//! seq on a `watch` channel. Streams and long polls read from the ring when their cursor is
//! inside it and from the store otherwise: a client resuming after seq N gets every event with
//! seq > N exactly once, in order.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

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

/// One event as streamed: its seq, incident and JSON (serialized once).
#[derive(Debug, Clone)]
pub struct Item {
    pub seq: u64,
    pub incident: Arc<str>,
    pub json: Arc<str>,
}

impl Item {
    fn new(e: &Event) -> Self {
        let json = serde_json::to_string(e).unwrap_or_else(|err| {
            // An `Event` always serializes; keep the stream well-formed regardless.
            tracing::error!(seq = e.seq, %err, "event does not serialize");
            format!("{{\"seq\":{}}}", e.seq)
        });
        Item { seq: e.seq, incident: Arc::from(e.incident.as_str()), json: Arc::from(json) }
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
        let mut s = String::with_capacity(32 + self.items.iter().map(|i| i.json.len() + 1).sum::<usize>());
        s.push_str("{\"events\":[");
        for (n, i) in self.items.iter().enumerate() {
            if n > 0 {
                s.push(',');
            }
            s.push_str(&i.json);
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
pub struct Hub {
    store: Arc<dyn Store>,
    ring: RwLock<Ring>,
    capacity: usize,
    seq_tx: watch::Sender<u64>,
    wake: Notify,
    /// ship: where the tailer records each new event's propagation lag (`/metrics`).
    lag: std::sync::OnceLock<metrics::Histogram>,
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
        });
        // Fill the ring up to where the store was when we looked; the tailer does the rest.
        while hub.top() < top {
            let n = hub.pull().await?;
            if n == 0 {
                break;
            }
        }
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

    /// Wakes the tailer and waits (up to 2 s) until it has published `seq`, so that whoever
    /// appended through this server reads their own write from the ring afterwards.
    pub async fn caught_up(&self, seq: u64) {
        let mut rx = self.subscribe();
        self.poke();
        if tokio::time::timeout(Duration::from_secs(2), rx.wait_for(|top| *top >= seq)).await.is_err() {
            tracing::warn!(seq, "fan-out is lagging behind the store");
        }
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
                    .iter()
                    .skip(start)
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

    /// Reads the next rows after the ring's top into the ring; returns how many it took.
    async fn pull(&self) -> anyhow::Result<usize> {
        let top = self.top();
        let events = self.store.events_after(top, PAGE, None).await?;
        Ok(self.push(top, &events))
    }

    /// Appends the contiguous prefix of `events` (which follow `top`) and publishes the new top.
    fn push(&self, top: u64, events: &[Event]) -> usize {
        let items: Vec<Item> = events
            .iter()
            .enumerate()
            .take_while(|(n, e)| e.seq == top + 1 + *n as u64)
            .map(|(_, e)| Item::new(e))
            .collect();
        let n = items.len();
        if n == 0 {
            return 0;
        }
        let new_top = {
            let mut ring = self.ring.write().unwrap_or_else(|p| p.into_inner());
            if ring.top() != top {
                return 0; // somebody else pushed meanwhile (only at start-up)
            }
            ring.items.extend(items);
            while ring.items.len() > self.capacity {
                ring.items.pop_front();
                ring.floor += 1;
            }
            ring.top()
        };
        // Recorded before publishing: whoever waits for the seq sees it counted.
        if let Some(h) = self.lag.get() {
            let now = chrono::Utc::now();
            for e in &events[..n] {
                h.record((now - e.recorded_at).to_std().unwrap_or_default().as_secs_f64());
            }
        }
        self.seq_tx.send_replace(new_top);
        n
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
                    let n = self.push(top, &events);
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
