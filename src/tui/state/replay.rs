//! Replay mode and the board's response figures.
//!
//! Replay (`R` in a war room) puts a [`Cursor`] on the incident's recorded events; every pane
//! then draws `State::shown_incident` (the cursor's state) and the timeline shows the events up
//! to the cursor. It follows when things happened (`occurred_at`, the timeline's own order);
//! `K` switches to what was known then (`recorded_at`, seq order) and back, at the same
//! moment. Clocks in the header are computed at the cursor's moment in either. The cursor folds incrementally (checkpoints every few hundred events), so a
//! move costs the same with 100 or 100,000 events and a frame folds nothing. The log is not
//! copied: each move takes the timeline's current events, which keep growing while live events
//! arrive (they are applied to the live state as usual). Replay is read-only: the war room's
//! writing actions are refused with a notice until replay is left.
//!
//! [`BoardFigures`] is the board's 14-day chart and MTTA/MTTR line, from `domain::report`,
//! computed by `update` once per change of the incident set while the board shows.

use std::borrow::Cow;
use std::rc::Rc;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{Effect, Overlay, Pane, Row, Screen, State};
use crate::domain::replay::{By, Cursor, Log};
use crate::domain::report::{self, Report};
use crate::domain::{Event, EventKind, Incident};
use crate::tui::action::Action;
use crate::tui::format;
use crate::tui::timeline::{Ev, Events, Known, TimeOrder, Timeline};

/// Minutes moved by `[` and `]`.
pub const JUMP_MINUTES: i64 = 5;

/// Days of the board's chart.
pub const CHART_DAYS: i64 = 14;

/// A replay of one incident's log.
#[derive(Debug, Clone)]
pub struct Replay {
    pub incident: String,
    pub cursor: Cursor,
    /// Id of the cursor's event, to find it again if an event arrives late (in time order:
    /// anything that happened before it; in seq order: a gap filled in) and shifts the log
    /// under the cursor.
    anchor: Option<Uuid>,
    /// The timeline's edit count of the order the cursor walks, when the cursor last moved.
    edits: u64,
}

/// The log a replay walks: the timeline's events in time order or in seq order.
#[derive(Debug, Clone, Copy)]
pub enum ReplayLog<'a> {
    Time(TimeOrder<'a>),
    Seq(Events<'a>),
    /// No timeline.
    Empty,
}

impl Log for ReplayLog<'_> {
    fn len(&self) -> usize {
        match self {
            ReplayLog::Time(t) => t.len(),
            ReplayLog::Seq(s) => s.len(),
            ReplayLog::Empty => 0,
        }
    }
    fn at(&self, i: usize) -> Cow<'_, Event> {
        match self {
            ReplayLog::Time(t) => t.at(i),
            ReplayLog::Seq(s) => s.at(i),
            ReplayLog::Empty => unreachable!("an empty log has no event {i}"),
        }
    }
    fn id(&self, i: usize) -> Uuid {
        match self {
            ReplayLog::Time(t) => t.id(i),
            ReplayLog::Seq(s) => s.id(i),
            ReplayLog::Empty => unreachable!("an empty log has no event {i}"),
        }
    }
    fn times(&self, i: usize) -> (DateTime<Utc>, DateTime<Utc>) {
        match self {
            ReplayLog::Time(t) => t.times(i),
            ReplayLog::Seq(s) => s.times(i),
            ReplayLog::Empty => unreachable!("an empty log has no event {i}"),
        }
    }
    fn kind(&self, i: usize) -> EventKind {
        match self {
            ReplayLog::Time(t) => t.kind(i),
            ReplayLog::Seq(s) => Log::kind(s, i),
            ReplayLog::Empty => unreachable!("an empty log has no event {i}"),
        }
    }
}

impl<'a> ReplayLog<'a> {
    pub fn len(&self) -> usize {
        Log::len(self)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn get(&self, i: usize) -> Option<Ev<'a>> {
        match self {
            ReplayLog::Time(t) => t.get(i),
            ReplayLog::Seq(s) => s.get(i),
            ReplayLog::Empty => None,
        }
    }

    /// The cursor's event.
    pub fn current(&self, c: &Cursor) -> Option<Ev<'a>> {
        c.index().and_then(|i| self.get(i))
    }
}

/// The log of `tl` walked `by`.
pub fn log_of(tl: &Timeline, by: By) -> ReplayLog<'_> {
    match by {
        By::Occurred => ReplayLog::Time(tl.in_time_order()),
        By::Recorded => ReplayLog::Seq(tl.events()),
    }
}

fn edits_of(tl: &Timeline, by: By) -> u64 {
    match by {
        By::Occurred => tl.edits().1,
        By::Recorded => tl.edits().0,
    }
}

impl Replay {
    /// The events of the log (recorded, no pending) the cursor runs over, in its order.
    pub fn events<'a>(&self, s: &'a State) -> ReplayLog<'a> {
        match s.timelines.get(&self.incident) {
            Some(tl) => log_of(tl, self.cursor.by()),
            None => ReplayLog::Empty,
        }
    }
}

/// Whether an action writes to the incident (refused during replay).
pub fn is_write(action: &Action) -> bool {
    matches!(
        action,
        Action::Note
            | Action::Finding
            | Action::ActionEntry
            | Action::Decision
            | Action::BackdatedNote
            | Action::Status
            | Action::Severity
            | Action::AttachPlaybook
            | Action::Comms
            | Action::AddActionItem
            | Action::Correct
            | Action::Toggle
            | Action::AssignSelf
            | Action::AssignOther
            | Action::Release
    )
}

/// Enters replay at the end of the open incident's log, following when things happened.
pub fn enter(s: &mut State, id: &str) {
    let Some(tl) = s.timelines.get(id).filter(|t| !t.events().is_empty()) else {
        s.set_error("nothing to replay yet: the timeline is still loading");
        return;
    };
    let by = By::Occurred;
    let events = log_of(tl, by);
    let cursor = Cursor::at_end_by(by, &events);
    let anchor = events.current(&cursor).map(Ev::id);
    let edits = edits_of(tl, by);
    s.replay = Some(Replay { incident: id.to_string(), cursor, anchor, edits });
    s.set_notice("replay: ←/→ event · [/] 5 min · {/} status change · K known then · R or esc back to live");
}

/// Leaves replay: the war room is live again (nothing that arrived meanwhile was lost).
pub fn leave(s: &mut State) {
    if s.replay.take().is_some() {
        s.set_notice("back to live");
    }
}

/// An action while replaying. `None`: not a replay action (the war room handles it).
pub fn action(s: &mut State, action: &Action) -> Option<Vec<Effect>> {
    resync(s);
    let mut r = s.replay.take()?;
    let empty = Timeline::default();
    let tl = s.timelines.get(&r.incident).unwrap_or(&empty);
    let events = &log_of(tl, r.cursor.by());
    let c = &mut r.cursor;
    let moved = match action {
        Action::Replay => {
            s.set_notice("back to live");
            return Some(Vec::new());
        }
        Action::ReplayKnown => {
            let by = match c.by() {
                By::Occurred => By::Recorded,
                By::Recorded => By::Occurred,
            };
            // The same moment, the other way of reading it (the live end stays the end).
            let at = c.time().filter(|_| !c.is_at_end(events));
            let log = log_of(tl, by);
            let mut n = Cursor::new(by, crate::domain::replay::CHECKPOINT_EVERY);
            match at {
                Some(at) => n.seek_time(&log, at),
                None => n.seek(&log, log.len()),
            };
            r.anchor = log.current(&n).map(Ev::id);
            r.edits = edits_of(tl, by);
            r.cursor = n;
            s.set_notice(match by {
                By::Occurred => "replay follows when things happened (K: what was known then)",
                By::Recorded => {
                    "replay shows what was known then, in recorded order (K: when things happened)"
                }
            });
            s.replay = Some(r);
            return Some(Vec::new());
        }
        Action::ReplayPrev => c.prev(events),
        Action::ReplayNext => c.next(events),
        Action::ReplayBack => c.jump_minutes(events, -JUMP_MINUTES),
        Action::ReplayForward => c.jump_minutes(events, JUMP_MINUTES),
        Action::ReplayPrevStatus => c.prev_status_change(events),
        Action::ReplayNextStatus => c.next_status_change(events),
        Action::Top => c.seek(events, 1),
        Action::Bottom => c.seek(events, events.len()),
        // The live timeline's paging would scroll it behind the replay.
        Action::PageUp | Action::PageDown if s.room.focus == Pane::Timeline => {
            s.replay = Some(r);
            return Some(Vec::new());
        }
        Action::Search | Action::Filter => {
            s.replay = Some(r);
            s.set_error("search and filter work on the live timeline: leave replay first (R or esc)");
            return Some(Vec::new());
        }
        Action::Open | Action::Copy | Action::CopyExcerpt if s.room.focus == Pane::Timeline => {
            let effects = timeline_read(s, &r, action);
            s.replay = Some(r);
            return Some(effects);
        }
        a if is_write(a) => {
            s.replay = Some(r);
            s.set_error("replay is read-only: leave it first (R or esc) to write");
            return Some(Vec::new());
        }
        _ => {
            s.replay = Some(r);
            return None;
        }
    };
    r.anchor = events.current(&r.cursor).map(Ev::id);
    r.edits = edits_of(tl, r.cursor.by());
    if !moved {
        let msg = match action {
            Action::ReplayNextStatus => "no later status change",
            Action::ReplayPrevStatus => "no earlier status change",
            Action::ReplayNext | Action::ReplayForward | Action::Bottom => "at the end of the log",
            _ => "at the start of the log",
        };
        s.set_notice(msg);
    }
    s.replay = Some(r);
    Some(Vec::new())
}

/// Keeps the cursor on its event when the log changed under it (an event arrived that sorts
/// before others already there, or a reload): the cursor refolds and stands right after that
/// event again. Called after every network message; costs nothing while the log only grows at
/// the end.
pub fn resync(s: &mut State) {
    let Some(r) = s.replay.as_mut() else { return };
    let Some(tl) = s.timelines.get(&r.incident) else { return };
    let by = r.cursor.by();
    let edits = edits_of(tl, by);
    if edits == r.edits {
        return;
    }
    r.edits = edits;
    // Checkpoints past the inserted event are stale: fold again from the start.
    r.cursor.reset();
    let events = log_of(tl, by);
    let Some(anchor) = r.anchor else { return };
    if let Some(Row::Event(e)) = tl.find(&anchor) {
        let pos = match by {
            By::Occurred => tl.time_index_of_seq(e.seq()).map_or(0, |i| i + 1),
            By::Recorded => tl.count_upto_seq(e.seq()),
        };
        r.cursor.seek(&events, pos);
    }
}

/// The timeline's reading keys in replay: the detail and copy of the cursor's event, and the
/// copy of the visible excerpt (events up to the cursor).
fn timeline_read(s: &mut State, r: &Replay, action: &Action) -> Vec<Effect> {
    let Some(tl) = s.timelines.get(&r.incident) else { return Vec::new() };
    let events = log_of(tl, r.cursor.by());
    let pos = r.cursor.pos().min(events.len());
    let Some(current) = events.current(&r.cursor) else { return Vec::new() };
    let upto = known_upto(&r.cursor, current);
    match action {
        Action::Open => {
            let id = current.id();
            s.overlay = Some(Overlay::Detail { incident: r.incident.clone(), id, scroll: 0 });
            Vec::new()
        }
        Action::Copy => {
            let line = format::row_line_upto(Row::Event(current), tl, s.time, upto, s.practice.as_ref());
            s.set_notice("entry copied to the clipboard");
            vec![Effect::Copy(line)]
        }
        _ => {
            let (_, h) = s.room.window;
            let start = pos.saturating_sub(if h == 0 { 20 } else { h });
            let lines: Vec<String> = (start..pos)
                .filter_map(|i| events.get(i))
                .map(|e| format::row_line_upto(Row::Event(e), tl, s.time, upto, s.practice.as_ref()))
                .collect();
            s.set_notice(format!("{} timeline lines copied to the clipboard", lines.len()));
            vec![Effect::Copy(lines.join("\n"))]
        }
    }
}

/// The corrections a replayed row shows: those recorded up to the cursor's event when
/// replaying what was known then; those made by the cursor's moment when following when
/// things happened.
pub fn known_upto(c: &Cursor, current: Ev<'_>) -> Option<Known> {
    Some(match c.by() {
        By::Recorded => Known::Seq(current.seq()),
        By::Occurred => Known::At(c.time().unwrap_or(current.occurred_at())),
    })
}

/// The board's figures: the report over the last [`CHART_DAYS`] days.
#[derive(Debug, Clone)]
pub struct BoardFigures {
    pub report: Report,
}

impl BoardFigures {
    pub fn compute(s: &State) -> Option<BoardFigures> {
        let scheme = s.practice.as_ref()?.scheme();
        let incidents: Vec<Incident> = s.incidents.values().filter(|i| i.revision > 0).cloned().collect();
        let since = s.now - Duration::days(CHART_DAYS - 1);
        let since = since.date_naive().and_hms_opt(0, 0, 0).map_or(since, |d| d.and_utc());
        Some(BoardFigures { report: report::report(&incidents, scheme, since, s.now) })
    }

    pub fn computed_at(&self) -> DateTime<Utc> {
        self.report.now
    }
}

impl State {
    /// The board's figures: those `update` keeps, or (for a state that did not come through
    /// `update` since its incidents or day changed, e.g. one built by hand) computed now.
    pub fn board_figures(&self) -> Option<Rc<BoardFigures>> {
        match self.kept_figures() {
            Some(f) => Some(f.clone()),
            None => BoardFigures::compute(self).map(Rc::new),
        }
    }

    /// The kept figures if they are still today's.
    fn kept_figures(&self) -> Option<&Rc<BoardFigures>> {
        self.figures.as_ref().filter(|f| f.computed_at().date_naive() == self.now.date_naive())
    }

    /// Computes the board's figures if the board shows and they are missing or a day old.
    pub fn refresh_figures(&mut self) {
        if matches!(self.screen, Screen::Board) && self.kept_figures().is_none() {
            self.figures = BoardFigures::compute(self).map(Rc::new);
        }
    }

    /// Forgets the board's figures (the incident set changed).
    pub fn invalidate_figures(&mut self) {
        self.figures = None;
    }
}
