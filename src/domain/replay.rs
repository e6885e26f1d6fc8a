//! Replay: an incident as it stood at a past moment, computed by folding its log up to it.
//!
//! # What "at a time" means
//!
//! There are two answers, and a [`Cursor`] runs in either ([`By`]):
//!
//! - [`By::Occurred`] (the console's default): when things *happened*. The log is taken in
//!   `occurred_at` order (ties by seq), so a scribe who back-dates an entry at 14:40 to 14:20
//!   sees it at 14:20, and a history loaded at once (a demo, entries sent after an outage)
//!   replays over the time it describes. The moment is the current event's `occurred_at`.
//! - [`By::Recorded`]: what was *known* then. A moment selects events by `recorded_at` (when
//!   the server took them): the entry back-dated at 14:40 was not visible at 14:30. Since the
//!   server assigns `seq` in recording order, the events recorded by `t` are a prefix of the
//!   log in seq order; if a server clock ever stepped back, the prefix ends at the first event
//!   stamped after `t` (the server's order is the truth, and a replayed state is always a
//!   state some live console really had). `warroom export --at` answers this way.
//!
//! The functions below ([`state_at_time`], [`snapshot_at`], ...) take a log in seq order and
//! answer [`By::Recorded`].
//!
//! # Positions
//!
//! A position `pos` is a number of events applied: `events[..pos]` are visible, the state is the
//! fold of them, and `events[pos - 1]` is the current event. Position 0 is "not declared yet".
//!
//! `events` is one incident's log ([`Log`]: a slice in seq order, or the same events in time
//! order), every event accepted by the server. An event the fold rejects is skipped, as a live
//! console would skip it (in time order, e.g. a note back-dated before the declaration).
//!
//! # Cost
//!
//! [`Cursor`] folds incrementally when it moves forward and keeps a checkpoint (a clone of the
//! state) every [`CHECKPOINT_EVERY`] events, so moving back costs at most that many `apply`s
//! plus one clone, whatever the log's length.

use std::borrow::Cow;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::event::{Event, EventKind};
use super::incident::{Incident, apply};
use super::practice::Scheme;
use super::timers::{Timers, timers};

/// Default distance, in events, between two checkpoints of a [`Cursor`].
pub const CHECKPOINT_EVERY: usize = 256;

/// One incident's events in the order a [`Cursor`] walks them.
pub trait Log {
    fn len(&self) -> usize;
    /// The `i`-th event (`i < len()`): borrowed, or built by a log that keeps events packed.
    fn at(&self, i: usize) -> Cow<'_, Event>;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The `i`-th event's id (a packed log answers without building the event).
    fn id(&self, i: usize) -> Uuid {
        self.at(i).id
    }
    /// The `i`-th event's `occurred_at` and `recorded_at`.
    fn times(&self, i: usize) -> (DateTime<Utc>, DateTime<Utc>) {
        let e = self.at(i);
        (e.occurred_at, e.recorded_at)
    }
    /// The `i`-th event's kind.
    fn kind(&self, i: usize) -> EventKind {
        self.at(i).kind()
    }
}

impl Log for [Event] {
    fn len(&self) -> usize {
        <[Event]>::len(self)
    }
    fn at(&self, i: usize) -> Cow<'_, Event> {
        Cow::Borrowed(&self[i])
    }
}

impl Log for Vec<Event> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn at(&self, i: usize) -> Cow<'_, Event> {
        Cow::Borrowed(&self[i])
    }
}

impl<const N: usize> Log for [Event; N] {
    fn len(&self) -> usize {
        N
    }
    fn at(&self, i: usize) -> Cow<'_, Event> {
        Cow::Borrowed(&self[i])
    }
}

/// Which moment an event stands for in a replay (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum By {
    /// When it happened (`occurred_at`); the log is walked in time order.
    #[default]
    Occurred,
    /// When the server recorded it (`recorded_at`): what was known then; the log is walked in
    /// seq order.
    Recorded,
}

impl By {
    pub fn time(self, e: &Event) -> DateTime<Utc> {
        match self {
            By::Occurred => e.occurred_at,
            By::Recorded => e.recorded_at,
        }
    }

    /// The moment of the `i`-th event of a log.
    fn time_at<L: Log + ?Sized>(self, events: &L, i: usize) -> DateTime<Utc> {
        let (occurred, recorded) = events.times(i);
        match self {
            By::Occurred => occurred,
            By::Recorded => recorded,
        }
    }
}

/// Folds `events[..pos]` (rejected events skipped). `None` while nothing has been declared.
pub fn state_at_pos(events: &[Event], pos: usize) -> Option<Incident> {
    let mut inc = Incident::default();
    for e in &events[..pos.min(events.len())] {
        let _ = apply(&mut inc, e);
    }
    (inc.revision > 0).then_some(inc)
}

/// Number of events with `seq <= seq` (the log is in seq order).
pub fn pos_at_seq(events: &[Event], seq: u64) -> usize {
    events.partition_point(|e| e.seq <= seq)
}

/// Number of events known at `at`: the longest prefix recorded at or before `at`.
pub fn pos_at_time(events: &[Event], at: DateTime<Utc>) -> usize {
    events.iter().position(|e| e.recorded_at > at).unwrap_or(events.len())
}

/// The incident as it stood once every event up to and including `seq` was applied. `None`
/// when the log has no declaration at or before `seq`.
pub fn state_at_seq(events: &[Event], seq: u64) -> Option<Incident> {
    state_at_pos(events, pos_at_seq(events, seq))
}

/// The incident as it was known at `at` (events with `recorded_at <= at`; see the module docs).
pub fn state_at_time(events: &[Event], at: DateTime<Utc>) -> Option<Incident> {
    state_at_pos(events, pos_at_time(events, at))
}

fn is_status_kind(k: EventKind) -> bool {
    matches!(k, EventKind::Declared | EventKind::StatusChanged)
}

/// The console's replay cursor: a position in one incident's log, the moment it stands for, and
/// the state folded up to it.
///
/// The cursor does not own the log: every move takes the current `events` slice, which may have
/// grown meanwhile (live events keep arriving during a replay). If the log changed otherwise
/// (shrunk, or the event at the cursor is not the same any more), the cursor refolds from the
/// start. Moves clamp at the ends and return whether the cursor moved.
#[derive(Debug, Clone)]
pub struct Cursor {
    by: By,
    pos: usize,
    at: Option<DateTime<Utc>>,
    state: Incident,
    /// `checkpoints[i]` is the state after `(i + 1) * every` events.
    checkpoints: Vec<Incident>,
    every: usize,
    /// Id of `events[pos - 1]`, to notice a log that changed under the cursor.
    last_id: Option<Uuid>,
    /// `known_by[i]`: the moment by which `events[..=i]` all were (running max of their
    /// time, [`By::time`]), so that a time seek is a binary search. Extended as the log grows.
    known_by: Vec<DateTime<Utc>>,
}

impl Default for Cursor {
    /// A [`By::Recorded`] cursor (what was known then), as `export --at` replays.
    fn default() -> Self {
        Self::with_interval(CHECKPOINT_EVERY)
    }
}

impl Cursor {
    /// A cursor before the first event, keeping a checkpoint every `every` events (min 1), for
    /// a log in seq order ([`By::Recorded`]).
    pub fn with_interval(every: usize) -> Self {
        Self::new(By::Recorded, every)
    }

    /// A cursor before the first event of a log walked `by` (in time order for
    /// [`By::Occurred`]), a checkpoint every `every` events (min 1).
    pub fn new(by: By, every: usize) -> Self {
        Self {
            by,
            pos: 0,
            at: None,
            state: Incident::default(),
            checkpoints: Vec::new(),
            every: every.max(1),
            last_id: None,
            known_by: Vec::new(),
        }
    }

    /// Which moment events stand for.
    pub fn by(&self) -> By {
        self.by
    }

    /// Starts a replay at the live end of the log (the usual entry into replay mode).
    pub fn at_end<L: Log + ?Sized>(events: &L) -> Self {
        Self::at_end_by(By::Recorded, events)
    }

    /// [`Cursor::at_end`] walking `by`.
    pub fn at_end_by<L: Log + ?Sized>(by: By, events: &L) -> Self {
        let mut c = Self::new(by, CHECKPOINT_EVERY);
        c.seek(events, events.len());
        c
    }

    /// Starts a replay at the first event (the declaration).
    pub fn at_start<L: Log + ?Sized>(events: &L) -> Self {
        let mut c = Self::default();
        c.seek(events, 1);
        c
    }

    /// Starts a replay at the moment `at` (`warroom export --at`).
    pub fn at_time<L: Log + ?Sized>(events: &L, at: DateTime<Utc>) -> Self {
        let mut c = Self::default();
        c.seek_time(events, at);
        c
    }

    /// Number of events applied: `events[..pos()]` are visible.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Index of the current event in the log (the last one applied).
    pub fn index(&self) -> Option<usize> {
        self.pos.checked_sub(1)
    }

    /// The current event.
    pub fn current<'a, L: Log + ?Sized>(&self, events: &'a L) -> Option<Cow<'a, Event>> {
        self.index().filter(|&i| i < events.len()).map(|i| events.at(i))
    }

    /// The moment the cursor stands for: when the current event happened ([`By::Occurred`]) or
    /// was known (its `recorded_at`, or a later one of an earlier event if a server clock
    /// stepped back), or the time jumped to by [`Cursor::jump_minutes`]. Clocks (timers,
    /// elapsed) are computed at this moment.
    pub fn time(&self) -> Option<DateTime<Utc>> {
        self.at
    }

    /// The incident as it stood at the cursor; `None` before the declaration.
    pub fn state(&self) -> Option<&Incident> {
        (self.state.revision > 0).then_some(&self.state)
    }

    /// Every clock of the incident at the cursor's moment.
    pub fn timers(&self, scheme: &Scheme) -> Option<Timers> {
        Some(timers(scheme, self.state()?, self.at?))
    }

    /// Whether the cursor is at the live end of `events`.
    pub fn is_at_end<L: Log + ?Sized>(&self, events: &L) -> bool {
        self.pos >= events.len()
    }

    /// Moves to position `pos` (clamped to `1..=len` for a non-empty log). Forward moves fold
    /// incrementally; backward moves restart from the nearest checkpoint.
    pub fn seek<L: Log + ?Sized>(&mut self, events: &L, pos: usize) -> bool {
        self.sync(events);
        let target = if events.is_empty() { 0 } else { pos.clamp(1, events.len()) };
        self.extend_known(events);
        let at = target.checked_sub(1).map(|i| self.known_by[i]);
        self.goto(events, target, at)
    }

    /// Moves to the state known at `at` (clamped to the first event).
    pub fn seek_time<L: Log + ?Sized>(&mut self, events: &L, at: DateTime<Utc>) -> bool {
        if events.is_empty() {
            return self.goto(events, 0, None);
        }
        self.sync(events);
        let at = at.max(self.by.time_at(events, 0));
        let pos = self.pos_known_at(events, at);
        self.goto(events, pos.max(1), Some(at))
    }

    /// [`pos_at_time`] in O(log n) (amortized), from the running maxima of the events' times.
    fn pos_known_at<L: Log + ?Sized>(&mut self, events: &L, at: DateTime<Utc>) -> usize {
        self.extend_known(events);
        self.known_by[..events.len()].partition_point(|m| *m <= at)
    }

    fn extend_known<L: Log + ?Sized>(&mut self, events: &L) {
        for i in self.known_by.len().min(events.len())..events.len() {
            let et = self.by.time_at(events, i);
            let t = self.known_by.last().map_or(et, |m| (*m).max(et));
            self.known_by.push(t);
        }
    }

    /// One event forward.
    pub fn next<L: Log + ?Sized>(&mut self, events: &L) -> bool {
        self.seek(events, self.pos + 1)
    }

    /// One event back.
    pub fn prev<L: Log + ?Sized>(&mut self, events: &L) -> bool {
        self.seek(events, self.pos.saturating_sub(1))
    }

    /// Moves the moment by `minutes` (negative: back). Clamped to the first and the last
    /// event's time.
    pub fn jump_minutes<L: Log + ?Sized>(&mut self, events: &L, minutes: i64) -> bool {
        if events.is_empty() {
            return false;
        }
        let (first, last) = (self.by.time_at(events, 0), self.by.time_at(events, events.len() - 1));
        let from = self.at.unwrap_or(last);
        self.sync(events);
        self.extend_known(events);
        let end = self.known_by[events.len() - 1];
        let to = from.checked_add_signed(Duration::minutes(minutes)).unwrap_or(from).clamp(first, end);
        self.seek_time(events, to)
    }

    /// To the next status change (`status_changed`) after the cursor.
    pub fn next_status_change<L: Log + ?Sized>(&mut self, events: &L) -> bool {
        self.sync(events);
        match (self.pos..events.len()).find(|&i| is_status_kind(events.kind(i))) {
            Some(i) => self.seek(events, i + 1),
            None => false,
        }
    }

    /// To the previous status change (or the declaration) before the current event.
    pub fn prev_status_change<L: Log + ?Sized>(&mut self, events: &L) -> bool {
        self.sync(events);
        let before = self.pos.saturating_sub(1).min(events.len());
        match (0..before).rev().find(|&i| is_status_kind(events.kind(i))) {
            Some(i) => self.seek(events, i + 1),
            None => false,
        }
    }

    /// Refolds from the start when the log changed under the cursor other than by growing.
    fn sync<L: Log + ?Sized>(&mut self, events: &L) {
        let same = match self.pos.checked_sub(1) {
            None => true,
            Some(i) => (i < events.len()).then(|| events.id(i)) == self.last_id,
        };
        let cps_ok =
            self.checkpoints.len() * self.every <= events.len() && self.known_by.len() <= events.len();
        if !same || !cps_ok {
            self.reset();
        }
    }

    /// Forgets everything folded (the log changed other than by growing at the end, e.g. an
    /// event inserted before the cursor): the next move refolds from the start.
    pub fn reset(&mut self) {
        *self = Self::new(self.by, self.every);
    }

    fn goto<L: Log + ?Sized>(&mut self, events: &L, target: usize, at: Option<DateTime<Utc>>) -> bool {
        self.sync(events);
        let before = (self.pos, self.at);
        if target < self.pos {
            // Restart from the last checkpoint at or before the target.
            let k = target / self.every;
            if k == 0 {
                self.state = Incident::default();
                self.pos = 0;
            } else {
                self.state = self.checkpoints[k - 1].clone();
                self.pos = k * self.every;
            }
        }
        while self.pos < target {
            let _ = apply(&mut self.state, &events.at(self.pos));
            self.pos += 1;
            if self.pos.is_multiple_of(self.every) && self.checkpoints.len() < self.pos / self.every {
                self.checkpoints.push(self.state.clone());
            }
        }
        self.at = at;
        self.last_id = self.pos.checked_sub(1).map(|i| events.id(i));
        (self.pos, self.at) != before
    }
}

/// The clocks of a replayed moment, as text (the war-room header's labels) for export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimerLabels {
    /// `met in 12m`, `due in 3m`, `breached by 1h04m`, `n/a`.
    pub response: String,
    pub resolution: String,
    pub update: String,
    pub next_update_at: Option<DateTime<Utc>>,
    /// The escalation step reached, e.g. `L2: Team lead + domain expert`.
    pub escalation: Option<String>,
    pub any_breached: bool,
}

impl TimerLabels {
    pub fn of(t: &Timers) -> Self {
        TimerLabels {
            response: t.response.label(),
            resolution: t.resolution.label(),
            update: t.update.label(),
            next_update_at: t.next_update_at,
            escalation: t.escalation.as_ref().map(|s| format!("{}: {}", s.level, s.who)),
            any_breached: t.any_breached(),
        }
    }
}

/// The incident as it stood at a moment, with its clocks: `warroom export INC-1 --at T
/// --format json` (and an API `?at=`) serialize this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Snapshot {
    /// The moment asked for.
    pub at: DateTime<Utc>,
    /// How many of the incident's events were known then.
    pub events: usize,
    pub incident: Incident,
    pub timers: TimerLabels,
}

/// The incident as known at `at` (see the module docs), with its clocks at `at`. `None` when it
/// had not been declared yet.
pub fn snapshot_at(events: &[Event], scheme: &Scheme, at: DateTime<Utc>) -> Option<Snapshot> {
    let pos = pos_at_time(events, at);
    let incident = state_at_pos(events, pos)?;
    let timers = TimerLabels::of(&timers(scheme, &incident, at));
    Some(Snapshot { at, events: pos, incident, timers })
}
