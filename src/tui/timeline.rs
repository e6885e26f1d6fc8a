//! One incident's timeline as the console holds it: recorded events in seq order (deduplicated
//! by seq and by id), local writes still pending (queued, not yet acknowledged), corrections
//! indexed by the entry they amend, and a cached view for the kind filter and the search.
//! Rows are addressed by position in the view so the UI only touches the visible window.
//! Below `state` (which holds one per incident) and `format` (which writes rows as text).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{Event, EventBody, EventKind, NewEvent};

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
    /// Positions in `events` that match the filter and search; `None` when neither is set.
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

    /// The latest text of an entry among the corrections recorded up to `seq` (replay: what
    /// was known then); `None` for `seq` means all of them.
    pub fn corrected_text_upto(&self, id: &Uuid, seq: Option<u64>) -> Option<&str> {
        let Some(seq) = seq else { return self.corrected_text(id) };
        let list = self.corrections.get(id)?;
        list[..list.partition_point(|a| a.seq <= seq)].last().map(|a| a.text.as_str())
    }

    pub fn filter(&self) -> Option<EventKind> {
        self.filter
    }

    pub fn search(&self) -> Option<&str> {
        self.search.as_deref()
    }

    /// Adds a recorded event. Returns false for a duplicate (same id or same seq).
    pub fn insert(&mut self, e: Event) -> bool {
        self.pending.retain(|p| p.id != e.id);
        if self.ids.contains_key(&e.id) {
            return false;
        }
        let at_end = self.events.last().is_none_or(|l| l.seq < e.seq);
        let pos = if at_end {
            self.events.len()
        } else {
            match self.events.binary_search_by_key(&e.seq, |x| x.seq) {
                Ok(_) => return false,
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
        let matches = self.matches_event(&e);
        self.events.insert(pos, e);
        if at_end {
            if matches && let Some(v) = &mut self.view {
                v.push(pos);
            }
        } else {
            self.rebuild_view();
        }
        true
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
        let v = (0..self.events.len()).filter(|&i| self.matches_event(&self.events[i])).collect();
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
            let idx = match &self.view {
                Some(v) => v[i],
                None => i,
            };
            return self.events.get(idx).map(Row::Event);
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

    /// The view position of the first row recorded at or after `seq` (a search moves forward
    /// from the selected entry, as in vim); `None` when there is none.
    pub fn position_from_seq(&self, seq: u64) -> Option<usize> {
        let pos = self.events.partition_point(|e| e.seq < seq);
        let i = match &self.view {
            Some(v) => v.partition_point(|&p| p < pos),
            None => pos,
        };
        (i < self.len()).then_some(i)
    }

    /// Rows `start..start+n` of the view.
    pub fn rows(&self, start: usize, n: usize) -> Vec<Row<'_>> {
        (start..start.saturating_add(n)).map_while(|i| self.row(i)).collect()
    }
}
