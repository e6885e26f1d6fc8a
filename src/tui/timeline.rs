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

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{Entry, Event, EventBody, EventKind, NewEvent, text};

/// An entry recorded more than this many seconds after it happened is marked as recorded late
/// (a back-dated entry, or one queued while the server was unreachable). Under a minute is
/// ordinary latency (typing, a retry).
pub const LATE_AFTER_SECS: i64 = 60;

/// Whether an event was recorded late (see [`LATE_AFTER_SECS`]).
pub fn is_late(e: &Event) -> bool {
    late(e.occurred_at, e.recorded_at)
}

fn late(occurred_at: DateTime<Utc>, recorded_at: DateTime<Utc>) -> bool {
    (recorded_at - occurred_at).num_seconds() > LATE_AFTER_SECS
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

/// Short strings many events share (authors, incident ids), kept once, addressed by a `u32`,
/// with their one-line sanitized form for the screen.
#[derive(Debug, Clone, Default)]
struct Names {
    raw: Vec<Box<str>>,
    shown: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

impl Names {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = u32::try_from(self.raw.len()).expect("fewer than 2^32 names");
        self.raw.push(s.into());
        self.shown.push(text::line(s).into());
        self.index.insert(s.into(), i);
        i
    }
}

/// How a slot holds its body: an entry's text in the arena (these kinds), or another body in
/// `others`. Packed with the text's length and whether the text shows as it is (one line, no
/// control characters) into one `u32`.
const PACK_KIND_BITS: u32 = 3;
const PACK_PLAIN: u32 = 1 << 28;
const PACK_LEN_MAX: u32 = PACK_PLAIN - 1;
const KIND_OTHER: u32 = 0;
const ENTRY_KINDS: [EventKind; 4] =
    [EventKind::Note, EventKind::Finding, EventKind::Action, EventKind::Decision];

/// One recorded event as the timeline keeps it: 64 bytes, the text in a shared arena, author
/// and incident interned, other bodies than untagged entries in a side list.
#[derive(Debug, Clone)]
struct Slot {
    seq: u64,
    id: Uuid,
    occurred_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
    author: u32,
    incident: u32,
    /// Entries: the text's start in the arena; others: the index in `others`.
    at: u32,
    /// Kind (top [`PACK_KIND_BITS`] bits: 0 other, 1.. the entry kinds), plain flag, length.
    pack: u32,
}

impl Slot {
    fn entry_kind(&self) -> Option<EventKind> {
        match self.pack >> (32 - PACK_KIND_BITS) {
            KIND_OTHER => None,
            k => Some(ENTRY_KINDS[k as usize - 1]),
        }
    }
    fn text_range(&self) -> std::ops::Range<usize> {
        let start = self.at as usize;
        start..start + (self.pack & PACK_LEN_MAX) as usize
    }
}

/// A recorded event of a timeline, read in place (see [`Ev::to_event`] for an owned one).
#[derive(Clone, Copy)]
pub struct Ev<'a> {
    tl: &'a Timeline,
    slot: &'a Slot,
}

impl std::fmt::Debug for Ev<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ev")
            .field("seq", &self.seq())
            .field("id", &self.id())
            .field("kind", &self.kind())
            .finish()
    }
}

impl<'a> Ev<'a> {
    pub fn seq(self) -> u64 {
        self.slot.seq
    }
    pub fn id(self) -> Uuid {
        self.slot.id
    }
    pub fn occurred_at(self) -> DateTime<Utc> {
        self.slot.occurred_at
    }
    pub fn recorded_at(self) -> DateTime<Utc> {
        self.slot.recorded_at
    }
    pub fn author(self) -> &'a str {
        &self.tl.names.raw[self.slot.author as usize]
    }
    /// The author on one line, sanitized (computed once per name).
    pub fn author_line(self) -> &'a str {
        &self.tl.names.shown[self.slot.author as usize]
    }
    pub fn incident(self) -> &'a str {
        &self.tl.names.raw[self.slot.incident as usize]
    }
    pub fn kind(self) -> EventKind {
        match self.slot.entry_kind() {
            Some(k) => k,
            None => self.tl.others[self.slot.at as usize].kind(),
        }
    }
    /// Whether it was recorded late (see [`LATE_AFTER_SECS`]).
    pub fn is_late(self) -> bool {
        late(self.slot.occurred_at, self.slot.recorded_at)
    }
    /// An entry's text (note, finding, action, decision), without building the body.
    pub fn entry_text(self) -> Option<&'a str> {
        match self.slot.entry_kind() {
            Some(_) => Some(&self.tl.arena[self.slot.text_range()]),
            None => self.tl.others[self.slot.at as usize].as_entry().map(|e| e.text.as_str()),
        }
    }
    /// An untagged entry's text when it shows as it is (one line, nothing to sanitize).
    pub fn plain_text(self) -> Option<&'a str> {
        (self.slot.entry_kind().is_some() && self.slot.pack & PACK_PLAIN != 0)
            .then(|| &self.tl.arena[self.slot.text_range()])
    }
    /// The body: borrowed, or built for an entry kept in the arena.
    pub fn body(self) -> Cow<'a, EventBody> {
        match self.slot.entry_kind() {
            None => Cow::Borrowed(&self.tl.others[self.slot.at as usize]),
            Some(k) => {
                let e = Entry { text: self.tl.arena[self.slot.text_range()].to_string(), tags: Vec::new() };
                Cow::Owned(match k {
                    EventKind::Note => EventBody::Note(e),
                    EventKind::Finding => EventBody::Finding(e),
                    EventKind::Action => EventBody::Action(e),
                    _ => EventBody::Decision(e),
                })
            }
        }
    }
    /// The event as the server sent it.
    pub fn to_event(self) -> Event {
        Event {
            seq: self.slot.seq,
            id: self.slot.id,
            incident: self.incident().to_string(),
            author: self.author().to_string(),
            occurred_at: self.slot.occurred_at,
            recorded_at: self.slot.recorded_at,
            body: self.body().into_owned(),
        }
    }
}

/// The order of the view: when it happened, ties by seq.
fn slot_key(s: &Slot) -> (DateTime<Utc>, u64) {
    (s.occurred_at, s.seq)
}

/// One row of the timeline view.
#[derive(Debug, Clone, Copy)]
pub enum Row<'a> {
    Event(Ev<'a>),
    Pending(&'a NewEvent),
}

impl<'a> Row<'a> {
    pub fn id(&self) -> Uuid {
        match self {
            Row::Event(e) => e.id(),
            Row::Pending(e) => e.id,
        }
    }
    pub fn body(&self) -> Cow<'a, EventBody> {
        match self {
            Row::Event(e) => e.body(),
            Row::Pending(e) => Cow::Borrowed(&e.body),
        }
    }
    pub fn kind(&self) -> EventKind {
        match self {
            Row::Event(e) => e.kind(),
            Row::Pending(e) => e.body.kind(),
        }
    }
    pub fn occurred_at(&self) -> DateTime<Utc> {
        match self {
            Row::Event(e) => e.occurred_at(),
            Row::Pending(e) => e.occurred_at,
        }
    }
    pub fn is_pending(&self) -> bool {
        matches!(self, Row::Pending(_))
    }
}

/// The recorded events in seq order.
#[derive(Debug, Clone, Copy)]
pub struct Events<'a> {
    tl: &'a Timeline,
}

impl<'a> Events<'a> {
    pub fn len(self) -> usize {
        self.tl.slots.len()
    }
    pub fn is_empty(self) -> bool {
        self.tl.slots.is_empty()
    }
    pub fn get(self, i: usize) -> Option<Ev<'a>> {
        let tl = self.tl;
        tl.slots.get(i).map(|slot| Ev { tl, slot })
    }
    pub fn last(self) -> Option<Ev<'a>> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }
    pub fn iter(self) -> impl DoubleEndedIterator<Item = Ev<'a>> + ExactSizeIterator + 'a {
        let tl = self.tl;
        tl.slots.iter().map(move |slot| Ev { tl, slot })
    }
    /// The events as the server sent them (built: for the comms drafts and the post-mortem).
    pub fn to_vec(self) -> Vec<Event> {
        self.iter().map(Ev::to_event).collect()
    }
}

impl crate::domain::replay::Log for Events<'_> {
    fn len(&self) -> usize {
        self.tl.slots.len()
    }
    fn at(&self, i: usize) -> Cow<'_, Event> {
        Cow::Owned(Ev { tl: self.tl, slot: &self.tl.slots[i] }.to_event())
    }
    fn id(&self, i: usize) -> Uuid {
        self.tl.slots[i].id
    }
    fn times(&self, i: usize) -> (DateTime<Utc>, DateTime<Utc>) {
        let s = &self.tl.slots[i];
        (s.occurred_at, s.recorded_at)
    }
    fn kind(&self, i: usize) -> EventKind {
        Ev { tl: self.tl, slot: &self.tl.slots[i] }.kind()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// Recorded events, sorted by seq.
    slots: Vec<Slot>,
    /// The entries' texts, one after the other.
    arena: String,
    /// Bodies other than untagged entries (an index in a slot).
    others: Vec<EventBody>,
    names: Names,
    /// Positions in `slots`, sorted by [`slot_key`]: the view's order.
    order: Vec<u32>,
    /// How many times an event was inserted other than at the end of `slots` (a gap in seq
    /// filled in) and of `order` (something that happened before the last event): a replay
    /// cursor over either order refolds when these change.
    seq_edits: u64,
    time_edits: u64,
    /// Event id -> seq (dedup by id; find an event without a scan).
    ids: HashMap<Uuid, u64>,
    /// The seq of the latest notification delivery (for the header, without a scan).
    last_delivery: Option<u64>,
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
    view: Option<Vec<u32>>,
}

fn pos32(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 2^32 events in a timeline")
}

impl Timeline {
    /// The recorded events in seq order.
    pub fn events(&self) -> Events<'_> {
        Events { tl: self }
    }

    fn ev(&self, p: usize) -> Ev<'_> {
        Ev { tl: self, slot: &self.slots[p] }
    }

    /// Packs an event into a slot (its text into the arena, its names interned).
    fn pack(&mut self, e: Event) -> Slot {
        let author = self.names.intern(&e.author);
        let incident = self.names.intern(&e.incident);
        let entry_kind = ENTRY_KINDS.iter().position(|k| *k == e.body.kind());
        let (at, pack) = match (e.body, entry_kind) {
            (
                EventBody::Note(en)
                | EventBody::Finding(en)
                | EventBody::Action(en)
                | EventBody::Decision(en),
                Some(k),
            ) if en.tags.is_empty()
                && en.text.len() <= PACK_LEN_MAX as usize
                && u32::try_from(self.arena.len() + en.text.len()).is_ok() =>
            {
                let at = self.arena.len() as u32;
                self.arena.push_str(&en.text);
                let plain = if text::line(&en.text) == en.text { PACK_PLAIN } else { 0 };
                (at, ((k as u32 + 1) << (32 - PACK_KIND_BITS)) | plain | en.text.len() as u32)
            }
            (body, _) => {
                let at = pos32(self.others.len());
                self.others.push(body);
                (at, KIND_OTHER)
            }
        };
        Slot {
            seq: e.seq,
            id: e.id,
            occurred_at: e.occurred_at,
            recorded_at: e.recorded_at,
            author,
            incident,
            at,
            pack,
        }
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

    /// Notes what an event is besides its slot: its id, a correction, a delivery.
    fn index_event(&mut self, e: &Event) {
        self.ids.insert(e.id, e.seq);
        if let EventBody::Correction { target, text } = &e.body {
            let list = self.corrections.entry(*target).or_default();
            let amend = Amend { seq: e.seq, text: text.clone(), author: e.author.clone(), at: e.occurred_at };
            let i = list.partition_point(|a| a.seq < e.seq);
            list.insert(i, amend);
        }
        if matches!(e.body, EventBody::Delivery { .. }) && self.last_delivery.is_none_or(|s| s < e.seq) {
            self.last_delivery = Some(e.seq);
        }
    }

    /// Adds a recorded event. Returns where it went as a view position (`Some(i)` when the
    /// view shows it: rows at and after `i` moved down one), `None` for a duplicate (same id or
    /// same seq) or one the view does not show.
    pub fn insert(&mut self, e: Event) -> Option<usize> {
        self.pending.retain(|p| p.id != e.id);
        if self.ids.contains_key(&e.id) {
            return None;
        }
        let at_end = self.slots.last().is_none_or(|l| l.seq < e.seq);
        let pos = if at_end {
            self.slots.len()
        } else {
            match self.slots.binary_search_by_key(&e.seq, |x| x.seq) {
                Ok(_) => return None,
                Err(p) => p,
            }
        };
        self.index_event(&e);
        if !at_end {
            // A gap in seq filled in: later positions move up one.
            self.seq_edits += 1;
            let pos = pos32(pos);
            for p in &mut self.order {
                if *p >= pos {
                    *p += 1;
                }
            }
        }
        let matches = self.matches_event(&e);
        let slot = self.pack(e);
        let key = slot_key(&slot);
        self.slots.insert(pos, slot);
        let slots = &self.slots;
        let last_key = self.order.last().map(|&i| slot_key(&slots[i as usize]));
        let d = if last_key.is_none_or(|k| k < key) {
            self.order.len()
        } else {
            self.time_edits += 1;
            self.order.partition_point(|&i| slot_key(&slots[i as usize]) < key)
        };
        let tail = d == self.order.len();
        self.order.insert(d, pos32(pos));
        match &mut self.view {
            None => Some(d),
            Some(v) => {
                let d32 = pos32(d);
                if !tail {
                    for p in v.iter_mut() {
                        if *p >= d32 {
                            *p += 1;
                        }
                    }
                }
                if !matches {
                    return None;
                }
                let i = v.partition_point(|&p| p < d32);
                v.insert(i, d32);
                Some(i)
            }
        }
    }

    /// Adds a whole history (the answer to a timeline load), merged with whatever the stream
    /// already brought: one sort, not one insertion per event. Each event is packed as it is
    /// taken, so the history is never held twice.
    pub fn load(&mut self, mut events: Vec<Event>) {
        let loaded_now = events.len();
        events.sort_by_key(|e| e.seq);
        let old = std::mem::take(&mut self.slots);
        let mut old = old.into_iter().peekable();
        self.ids.clear();
        self.corrections.clear();
        self.last_delivery = None;
        self.slots.reserve(old.len() + events.len());
        // Merge the slots held (they win a tie: a stable merge keeps the first) with the new.
        let mut new = events.into_iter().peekable();
        loop {
            let take_old = match (old.peek(), new.peek()) {
                (Some(o), Some(n)) => o.seq <= n.seq,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let last = self.slots.last().map(|s| s.seq);
            if take_old {
                let s = old.next().expect("peeked");
                if last == Some(s.seq) || self.ids.contains_key(&s.id) {
                    continue;
                }
                let e = Ev { tl: self, slot: &s }.to_event();
                self.index_event(&e);
                self.slots.push(s);
            } else {
                let e = new.next().expect("peeked");
                if last == Some(e.seq) || self.ids.contains_key(&e.id) {
                    continue;
                }
                self.index_event(&e);
                let slot = self.pack(e);
                self.slots.push(slot);
            }
        }
        self.order = (0..pos32(self.slots.len())).collect();
        let slots = &self.slots;
        // Nearly sorted already (most entries are recorded as they happen): a stable sort of
        // a nearly sorted list is close to linear.
        self.order.sort_by_key(|&i| slot_key(&slots[i as usize]));
        self.seq_edits += 1;
        self.time_edits += 1;
        let ids = &self.ids;
        self.pending.retain(|p| !ids.contains_key(&p.id));
        self.rebuild_view();
        self.loaded = true;
        if loaded_now > TRIM_AFTER {
            give_back_freed_memory();
        }
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

    fn matches_parts(&self, kind: EventKind, summary: &str, author: &str) -> bool {
        if let Some(k) = self.filter
            && kind != k
        {
            return false;
        }
        match &self.search {
            Some(q) => {
                summary.to_lowercase().contains(q.as_str())
                    || author.to_lowercase().contains(q.as_str())
                    || kind.as_str().contains(q.as_str())
            }
            None => true,
        }
    }

    fn matches_corrected(&self, id: &Uuid, kind: EventKind) -> bool {
        self.corrected_text(id)
            .is_some_and(|t| self.search.as_ref().is_some_and(|q| t.to_lowercase().contains(q.as_str())))
            && self.filter.is_none_or(|k| kind == k)
    }

    fn matches_event(&self, e: &Event) -> bool {
        if self.filter.is_none() && self.search.is_none() {
            return true;
        }
        let kind = e.body.kind();
        self.matches_parts(kind, &e.body.summary(), &e.author) || self.matches_corrected(&e.id, kind)
    }

    fn matches_ev(&self, e: Ev<'_>) -> bool {
        if self.filter.is_none() && self.search.is_none() {
            return true;
        }
        let kind = e.kind();
        if self.filter.is_some_and(|k| k != kind) {
            return false;
        }
        let summary = match e.slot.entry_kind() {
            Some(_) => Cow::Borrowed(&self.arena[e.slot.text_range()]),
            None => Cow::Owned(self.others[e.slot.at as usize].summary()),
        };
        self.matches_parts(kind, &summary, e.author()) || self.matches_corrected(&e.slot.id, kind)
    }

    fn rebuild_view(&mut self) {
        if self.filter.is_none() && self.search.is_none() {
            self.view = None;
            return;
        }
        let v = (0..self.order.len())
            .filter(|&d| self.matches_ev(self.ev(self.order[d] as usize)))
            .map(pos32)
            .collect();
        self.view = Some(v);
    }

    /// Sets the kind filter and the search (empty search = none).
    pub fn set_view(&mut self, filter: Option<EventKind>, search: Option<&str>) {
        self.filter = filter;
        self.search = search.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
        self.rebuild_view();
    }

    fn pending_visible(&self) -> impl Iterator<Item = &NewEvent> {
        self.pending.iter().filter(|p| {
            self.filter.is_none() && self.search.is_none()
                || self.matches_parts(p.body.kind(), &p.body.summary(), "")
        })
    }

    /// Number of rows in the view (recorded, then pending).
    pub fn len(&self) -> usize {
        let recorded = self.view.as_ref().map_or(self.slots.len(), Vec::len);
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
        let recorded = self.view.as_ref().map_or(self.slots.len(), Vec::len);
        if i < recorded {
            let d = match &self.view {
                Some(v) => v[i] as usize,
                None => i,
            };
            return self.order.get(d).map(|&p| Row::Event(self.ev(p as usize)));
        }
        self.pending_visible().nth(i - recorded).map(Row::Pending)
    }

    /// A recorded or pending event by id, wherever it is (the view's filter aside).
    pub fn find(&self, id: &Uuid) -> Option<Row<'_>> {
        if let Some(seq) = self.ids.get(id) {
            let i = self.slots.binary_search_by_key(seq, |e| e.seq).ok()?;
            return Some(Row::Event(self.ev(i)));
        }
        self.pending.iter().find(|p| &p.id == id).map(Row::Pending)
    }

    /// The latest notification delivery, when it is among the last `within` events in seq
    /// order (the header shows it).
    pub fn latest_delivery(&self, within: usize) -> Option<Ev<'_>> {
        let seq = self.last_delivery?;
        let i = self.slots.binary_search_by_key(&seq, |e| e.seq).ok()?;
        (i + within >= self.slots.len()).then(|| self.ev(i))
    }

    /// The view position of the recorded event `seq`, or of the first row after it in the view
    /// (a search moves forward from the selected entry, as in vim); `None` when there is none.
    pub fn position_from_seq(&self, seq: u64) -> Option<usize> {
        let d = self.time_index_of_seq(seq)?;
        let i = match &self.view {
            Some(v) => v.partition_point(|&p| (p as usize) < d),
            None => d,
        };
        (i < self.len()).then_some(i)
    }

    /// How many recorded events have a seq up to `seq`.
    pub fn count_upto_seq(&self, seq: u64) -> usize {
        self.slots.partition_point(|e| e.seq <= seq)
    }

    /// The position of the recorded event `seq` in the order things happened.
    pub fn time_index_of_seq(&self, seq: u64) -> Option<usize> {
        let p = self.slots.binary_search_by_key(&seq, |e| e.seq).ok()?;
        let key = slot_key(&self.slots[p]);
        Some(self.order.partition_point(|&i| slot_key(&self.slots[i as usize]) < key))
    }

    /// The `i`-th recorded event in the order things happened (the view's order, without the
    /// filter and search).
    pub fn by_time(&self, i: usize) -> Option<Ev<'_>> {
        self.order.get(i).map(|&p| self.ev(p as usize))
    }

    /// The recorded events in the order things happened.
    pub fn in_time_order(&self) -> TimeOrder<'_> {
        TimeOrder { tl: self }
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
    tl: &'a Timeline,
}

impl<'a> TimeOrder<'a> {
    /// The `i`-th event, borrowed for as long as the timeline.
    pub fn get(&self, i: usize) -> Option<Ev<'a>> {
        self.tl.by_time(i)
    }

    fn slot(&self, i: usize) -> &'a Slot {
        &self.tl.slots[self.tl.order[i] as usize]
    }
}

impl crate::domain::replay::Log for TimeOrder<'_> {
    fn len(&self) -> usize {
        self.tl.order.len()
    }
    fn at(&self, i: usize) -> Cow<'_, Event> {
        Cow::Owned(Ev { tl: self.tl, slot: self.slot(i) }.to_event())
    }
    fn id(&self, i: usize) -> Uuid {
        self.slot(i).id
    }
    fn times(&self, i: usize) -> (DateTime<Utc>, DateTime<Utc>) {
        let s = self.slot(i);
        (s.occurred_at, s.recorded_at)
    }
    fn kind(&self, i: usize) -> EventKind {
        Ev { tl: self.tl, slot: self.slot(i) }.kind()
    }
}

/// A load of more events than this hands the memory it freed back to the system (below it,
/// what a load frees is small, and trimming would cost the first frame a few milliseconds).
const TRIM_AFTER: usize = 50_000;

/// After a big load the history's events, parsed whole and then packed, are freed, but glibc's
/// allocator keeps the pages: the console's RSS would stay at the load's peak for its whole
/// life. `malloc_trim` returns them (a few milliseconds, once per big load).
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own heap; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::domain::{Entry, Status};

    fn ev(seq: u64, mins: i64, author: &str, body: EventBody) -> Event {
        let at = Utc.with_ymd_and_hms(2026, 3, 4, 9, 0, 0).unwrap() + Duration::minutes(mins);
        Event {
            seq,
            id: Uuid::from_u128(u128::from(seq)),
            incident: "INC-1".into(),
            author: author.into(),
            occurred_at: at,
            recorded_at: at + Duration::nanoseconds(1_234_567),
            body,
        }
    }

    fn entry(text: &str, tags: &[&str]) -> Entry {
        Entry { text: text.into(), tags: tags.iter().map(|t| t.to_string()).collect() }
    }

    fn sample() -> Vec<Event> {
        vec![
            ev(1, 0, "alice", EventBody::StatusChanged { status: Status::Acknowledged }),
            ev(2, 1, "bob", EventBody::Note(entry("plain note", &[]))),
            ev(3, 2, "bob", EventBody::Finding(entry("two\nlines", &[]))),
            ev(4, 3, "carol\u{1b}[31m", EventBody::Action(entry("tagged", &["root_cause"]))),
            ev(5, 4, "alice", EventBody::Decision(entry("", &[]))),
            ev(6, 5, "bob", EventBody::Correction { target: Uuid::from_u128(2), text: "amended".into() }),
        ]
    }

    #[test]
    fn packed_events_come_back_as_they_were_sent() {
        let mut tl = Timeline::default();
        tl.load(sample());
        assert_eq!(tl.events().to_vec(), sample());
        let mut one_by_one = Timeline::default();
        for e in sample().into_iter().rev() {
            one_by_one.insert(e);
        }
        assert_eq!(one_by_one.events().to_vec(), sample());
        let e = tl.events().get(1).unwrap();
        assert_eq!(
            (e.entry_text(), e.plain_text(), e.kind()),
            (Some("plain note"), Some("plain note"), EventKind::Note)
        );
        // Text that needs sanitizing is never shown as it is.
        assert_eq!(tl.events().get(2).unwrap().plain_text(), None);
        assert_eq!(tl.events().get(3).unwrap().author_line(), "carol");
        assert_eq!(tl.corrected_text(&Uuid::from_u128(2)), Some("amended"));
    }

    #[test]
    fn a_load_merges_with_what_the_stream_brought() {
        let mut tl = Timeline::default();
        let all = sample();
        tl.insert(all[4].clone());
        tl.insert(all[1].clone());
        tl.load(all.clone());
        assert_eq!(tl.events().to_vec(), all);
        assert_eq!(tl.len(), all.len());
        assert_eq!(tl.row(1).map(|r| r.id()), Some(all[1].id));
    }
}
