//! One incident's timeline as the console holds it: recorded events in seq order (deduplicated
//! by seq and by id), an index of them in the order things happened (`occurred_at`, ties by
//! seq), local writes still pending (queued, not yet acknowledged), corrections indexed by the
//! entry they amend, and a cached view for the kind filter and the search.
//!
//! The view shows events in the order they happened, then the pending writes. A live event
//! usually lands at the end of both orders (a push); a back-dated one, or one sent after an
//! outage, is inserted into the time index where it belongs (a binary search and a shift of
//! plain indexes, never a re-sort), and [`Timeline::insert`] says where, so the console can
//! keep the view steady. An entry is "recorded late" when the server took it more than
//! [`LATE_AFTER_SECS`] after it happened ([`is_late`]).
//!
//! Rows are addressed by position in the view so the UI only touches the visible window.
//! Below `state` (which holds one per incident) and `format` (which writes rows as text).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{Event, EventBody, EventKind, NewEvent};

/// An entry recorded more than this many seconds after it happened is marked as recorded late
/// (a back-dated entry, or one queued while the server was unreachable). Under a minute is
/// ordinary latency (typing, a retry).
pub const LATE_AFTER_SECS: i64 = 60;

/// Whether an event was recorded late (see [`LATE_AFTER_SECS`]).
pub fn is_late(e: &Event) -> bool {
    (e.recorded_at - e.occurred_at).num_seconds() > LATE_AFTER_SECS
}

/// The order of the view: when it happened, ties by seq.
fn time_key(e: &Event) -> (DateTime<Utc>, u64) {
    (e.occurred_at, e.seq)
}

/// Which corrections a replayed row shows: those recorded up to a seq (what was known then),
/// or those made by a moment (when things happened).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    Seq(u64),
    At(DateTime<Utc>),
}

/// A correction of an entry: its text and who made it when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amend {
    pub seq: u64,
    pub text: String,
    pub author: String,
    pub at: DateTime<Utc>,
}

/// One row of the timeline view.
#[derive(Debug, Clone, Copy)]
pub enum Row<'a> {
    Event(&'a Event),
    Pending(&'a NewEvent),
}

impl<'a> Row<'a> {
    pub fn id(&self) -> Uuid {
        match self {
            Row::Event(e) => e.id,
            Row::Pending(e) => e.id,
        }
    }
    pub fn body(&self) -> &'a EventBody {
        match self {
            Row::Event(e) => &e.body,
            Row::Pending(e) => &e.body,
        }
    }
    pub fn occurred_at(&self) -> DateTime<Utc> {
        match self {
            Row::Event(e) => e.occurred_at,
            Row::Pending(e) => e.occurred_at,
        }
    }
    pub fn is_pending(&self) -> bool {
        matches!(self, Row::Pending(_))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// Recorded events, sorted by seq.
    events: Vec<Event>,
    /// Positions in `events`, sorted by [`time_key`]: the view's order.
    order: Vec<usize>,
    /// How many times an event was inserted other than at the end of `events` (a gap in seq
    /// filled in) and of `order` (something that happened before the last event): a replay
    /// cursor over either order refolds when these change.
    seq_edits: u64,
    time_edits: u64,
    /// Event id -> seq (dedup by id; find an event without a scan).
    ids: HashMap<Uuid, u64>,
    /// Local writes not yet acknowledged, in the order they were queued.
    pending: Vec<NewEvent>,
    /// Entry id -> its corrections, oldest first.
    corrections: HashMap<Uuid, Vec<Amend>>,
    /// The whole history has been loaded (not only what the stream brought since).
    pub loaded: bool,
    /// A load was asked for.
    pub requested: bool,
    filter: Option<EventKind>,
    /// Lower-cased search text.
    search: Option<String>,
    /// Positions in `order` that match the filter and search; `None` when neither is set.
    view: Option<Vec<usize>>,
}

impl Timeline {
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn pending(&self) -> &[NewEvent] {
        &self.pending
    }

    pub fn contains(&self, id: &Uuid) -> bool {
        self.ids.contains_key(id)
    }

    pub fn corrections(&self, id: &Uuid) -> &[Amend] {
        self.corrections.get(id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The latest corrected text of an entry, if it was corrected.
    pub fn corrected_text(&self, id: &Uuid) -> Option<&str> {
        self.corrections.get(id).and_then(|v| v.last()).map(|a| a.text.as_str())
    }

    /// The latest text of an entry among the corrections known at a replay's moment; `None`
    /// for `known` means all of them.
    pub fn corrected_text_upto(&self, id: &Uuid, known: Option<Known>) -> Option<&str> {
        let Some(known) = known else { return self.corrected_text(id) };
        let list = self.corrections.get(id)?;
        match known {
            Known::Seq(seq) => list[..list.partition_point(|a| a.seq <= seq)].last(),
            Known::At(at) => list.iter().rfind(|a| a.at <= at),
        }
        .map(|a| a.text.as_str())
    }

    pub fn filter(&self) -> Option<EventKind> {
        self.filter
    }

    pub fn search(&self) -> Option<&str> {
        self.search.as_deref()
    }

    /// Adds a recorded event. Returns where it went as a view position (`Some(i)` when the
    /// view shows it: rows at and after `i` moved down one), `None` for a duplicate (same id or
    /// same seq) or one the view does not show.
    pub fn insert(&mut self, e: Event) -> Option<usize> {
        self.pending.retain(|p| p.id != e.id);
        if self.ids.contains_key(&e.id) {
            return None;
        }
        let at_end = self.events.last().is_none_or(|l| l.seq < e.seq);
        let pos = if at_end {
            self.events.len()
        } else {
            match self.events.binary_search_by_key(&e.seq, |x| x.seq) {
                Ok(_) => return None,
                Err(p) => p,
            }
        };
        self.ids.insert(e.id, e.seq);
        if let EventBody::Correction { target, text } = &e.body {
            let list = self.corrections.entry(*target).or_default();
            let amend = Amend { seq: e.seq, text: text.clone(), author: e.author.clone(), at: e.occurred_at };
            let i = list.partition_point(|a| a.seq < e.seq);
            list.insert(i, amend);
        }
        if !at_end {
            // A gap in seq filled in: later positions move up one.
            self.seq_edits += 1;
            for p in &mut self.order {
                if *p >= pos {
                    *p += 1;
                }
            }
        }
        let key = time_key(&e);
        let matches = self.matches_event(&e);
        self.events.insert(pos, e);
        let events = &self.events;
        let last_key = self.order.last().map(|&i| time_key(&events[i]));
        let d = if last_key.is_none_or(|k| k < key) {
            self.order.len()
        } else {
            self.time_edits += 1;
            self.order.partition_point(|&i| time_key(&events[i]) < key)
        };
        let tail = d == self.order.len();
        self.order.insert(d, pos);
        match &mut self.view {
            None => Some(d),
            Some(v) => {
                if !tail {
                    for p in v.iter_mut() {
                        if *p >= d {
                            *p += 1;
                        }
                    }
                }
                if !matches {
                    return None;
                }
                let i = v.partition_point(|&p| p < d);
                v.insert(i, d);
                Some(i)
            }
        }
    }

    /// Adds a whole history (the answer to a timeline load), merged with whatever the stream
    /// already brought: one sort, not one insertion per event.
    pub fn load(&mut self, events: Vec<Event>) {
        let mut all = std::mem::take(&mut self.events);
        all.extend(events);
        all.sort_by_key(|e| e.seq);
        all.dedup_by_key(|e| e.seq);
        self.ids.clear();
        self.corrections.clear();
        self.events.reserve(all.len());
        for e in all {
            match self.ids.entry(e.id) {
                std::collections::hash_map::Entry::Occupied(_) => continue,
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(e.seq);
                }
            }
            if let EventBody::Correction { target, text } = &e.body {
                self.corrections.entry(*target).or_default().push(Amend {
                    seq: e.seq,
                    text: text.clone(),
                    author: e.author.clone(),
                    at: e.occurred_at,
                });
            }
            self.events.push(e);
        }
        self.order = (0..self.events.len()).collect();
        let events = &self.events;
        // Nearly sorted already (most entries are recorded as they happen): a stable sort of
        // a nearly sorted list is close to linear.
        self.order.sort_by_key(|&i| time_key(&events[i]));
        self.seq_edits += 1;
        self.time_edits += 1;
        let ids = &self.ids;
        self.pending.retain(|p| !ids.contains_key(&p.id));
        self.rebuild_view();
        self.loaded = true;
    }

    /// A local write was queued. Ignored once the recorded event is here.
    pub fn add_pending(&mut self, e: NewEvent) {
        if !self.ids.contains_key(&e.id) && !self.pending.iter().any(|p| p.id == e.id) {
            self.pending.push(e);
        }
    }

    pub fn remove_pending(&mut self, id: &Uuid) -> Option<NewEvent> {
        let i = self.pending.iter().position(|p| &p.id == id)?;
        Some(self.pending.remove(i))
    }

    fn matches_body(&self, body: &EventBody, author: &str) -> bool {
        if let Some(k) = self.filter
            && body.kind() != k
        {
            return false;
        }
        match &self.search {
            Some(q) => {
                body.summary().to_lowercase().contains(q.as_str())
                    || author.to_lowercase().contains(q.as_str())
                    || body.kind().as_str().contains(q.as_str())
            }
            None => true,
        }
    }

    fn matches_event(&self, e: &Event) -> bool {
        if self.filter.is_none() && self.search.is_none() {
            return true;
        }
        let corrected = self.corrected_text(&e.id);
        self.matches_body(&e.body, &e.author)
            || corrected
                .is_some_and(|t| self.search.as_ref().is_some_and(|q| t.to_lowercase().contains(q.as_str())))
                && self.filter.is_none_or(|k| e.kind() == k)
    }

    fn rebuild_view(&mut self) {
        if self.filter.is_none() && self.search.is_none() {
            self.view = None;
            return;
        }
        let v = (0..self.order.len()).filter(|&d| self.matches_event(&self.events[self.order[d]])).collect();
        self.view = Some(v);
    }

    /// Sets the kind filter and the search (empty search = none).
    pub fn set_view(&mut self, filter: Option<EventKind>, search: Option<&str>) {
        self.filter = filter;
        self.search = search.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
        self.rebuild_view();
    }

    fn pending_visible(&self) -> impl Iterator<Item = &NewEvent> {
        self.pending
            .iter()
            .filter(|p| self.filter.is_none() && self.search.is_none() || self.matches_body(&p.body, ""))
    }

    /// Number of rows in the view (recorded, then pending).
    pub fn len(&self) -> usize {
        let recorded = self.view.as_ref().map_or(self.events.len(), Vec::len);
        let pending = if self.filter.is_none() && self.search.is_none() {
            self.pending.len()
        } else {
            self.pending_visible().count()
        };
        recorded + pending
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The row at a view position.
    pub fn row(&self, i: usize) -> Option<Row<'_>> {
        let recorded = self.view.as_ref().map_or(self.events.len(), Vec::len);
        if i < recorded {
            let d = match &self.view {
                Some(v) => v[i],
                None => i,
            };
            return self.order.get(d).map(|&p| Row::Event(&self.events[p]));
        }
        self.pending_visible().nth(i - recorded).map(Row::Pending)
    }

    /// A recorded or pending event by id, wherever it is (the view's filter aside).
    pub fn find(&self, id: &Uuid) -> Option<Row<'_>> {
        if let Some(seq) = self.ids.get(id) {
            let i = self.events.binary_search_by_key(seq, |e| e.seq).ok()?;
            return Some(Row::Event(&self.events[i]));
        }
        self.pending.iter().find(|p| &p.id == id).map(Row::Pending)
    }

    /// The view position of the recorded event `seq`, or of the first row after it in the view
    /// (a search moves forward from the selected entry, as in vim); `None` when there is none.
    pub fn position_from_seq(&self, seq: u64) -> Option<usize> {
        let d = self.time_index_of_seq(seq)?;
        let i = match &self.view {
            Some(v) => v.partition_point(|&p| p < d),
            None => d,
        };
        (i < self.len()).then_some(i)
    }

    /// The position of the recorded event `seq` in the order things happened.
    pub fn time_index_of_seq(&self, seq: u64) -> Option<usize> {
        let p = self.events.binary_search_by_key(&seq, |e| e.seq).ok()?;
        let key = time_key(&self.events[p]);
        Some(self.order.partition_point(|&i| time_key(&self.events[i]) < key))
    }

    /// The `i`-th recorded event in the order things happened (the view's order, without the
    /// filter and search).
    pub fn by_time(&self, i: usize) -> Option<&Event> {
        self.order.get(i).map(|&p| &self.events[p])
    }

    /// The recorded events in the order things happened.
    pub fn in_time_order(&self) -> TimeOrder<'_> {
        TimeOrder { events: &self.events, order: &self.order }
    }

    /// Changes (other than growth at the end) to the seq order and to the time order since
    /// this timeline was made; a replay cursor refolds when the one it runs over changed.
    pub fn edits(&self) -> (u64, u64) {
        (self.seq_edits, self.time_edits)
    }

    /// Rows `start..start+n` of the view.
    pub fn rows(&self, start: usize, n: usize) -> Vec<Row<'_>> {
        (start..start.saturating_add(n)).map_while(|i| self.row(i)).collect()
    }
}

/// The recorded events in the order things happened, as a replay log.
#[derive(Debug, Clone, Copy)]
pub struct TimeOrder<'a> {
    events: &'a [Event],
    order: &'a [usize],
}

impl<'a> TimeOrder<'a> {
    /// The `i`-th event, borrowed for as long as the timeline.
    pub fn get(&self, i: usize) -> Option<&'a Event> {
        self.order.get(i).map(|&p| &self.events[p])
    }
}

impl crate::domain::replay::Log for TimeOrder<'_> {
    fn len(&self) -> usize {
        self.order.len()
    }
    fn at(&self, i: usize) -> &Event {
        &self.events[self.order[i]]
    }
}
