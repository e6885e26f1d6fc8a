//! The console's whole state, owned by the one loop in `tui::run`. It changes only through
//! [`update`] (user and network actions) and is drawn by `ui::draw` from a shared reference.

pub mod checklists;
pub mod comms;
pub mod confirm;
pub mod effect;
pub mod layout;
pub mod net;
pub mod overlay;
pub mod picker;
pub mod replay;
pub mod sent;
pub mod update;
pub mod write;

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use crate::tui::timeline::{Row, Timeline};
pub use effect::Effect;
pub use overlay::{
    CommsEditor, ComposeKind, Composer, CorrectionDraft, DeclareForm, Draft, Overlay, PickKind, Picker,
    Prompt, PromptKind,
};
pub use replay::{BoardFigures, Replay};
pub use update::update;

use crate::api::Me;
use crate::client::{LinkState, Writes};
use crate::domain::{ActionItem, ChecklistItem, EventKind, Incident, NewEvent, Practice, timers};
use crate::tui::action::Action;
use crate::tui::format::TimeDisplay;
use crate::tui::keymap::Context;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Board,
    WarRoom(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Timeline,
    Roster,
    Checklists,
    /// The comms sent and their delivery state (`state::sent`).
    Comms,
}

impl Pane {
    pub const ALL: [Pane; 4] = [Pane::Timeline, Pane::Roster, Pane::Checklists, Pane::Comms];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Timeline => "Timeline",
            Pane::Roster => "Roster",
            Pane::Checklists => "Checklists",
            Pane::Comms => "Comms",
        }
    }

    pub fn context(self) -> Context {
        match self {
            Pane::Timeline => Context::Timeline,
            Pane::Roster => Context::Roster,
            Pane::Checklists => Context::Checklists,
            // Scrolling and Enter only: the war room's keys.
            Pane::Comms => Context::WarRoom,
        }
    }
}

/// The war room's view state (selection per pane, focus, tail following).
#[derive(Debug, Clone)]
pub struct Room {
    pub focus: Pane,
    /// Selected timeline row (position in the view); ignored while following.
    pub sel: usize,
    /// Follow the tail: the newest entry stays selected and in view.
    pub follow: bool,
    pub roster_sel: usize,
    pub check_sel: usize,
    /// The first visible timeline row and the pane's height on this screen, (0, 0) until the
    /// war room was shown: `update` keeps it (the selection in view), the UI draws it,
    /// copy-excerpt and paging use it.
    pub window: (usize, usize),
    /// The selected comms of the Comms pane (0 = the newest).
    pub comms_sel: usize,
    /// Where the checklists and the Comms pane share a place (100 to 159 columns): the Comms
    /// pane shows there (set when it takes the focus, cleared when the checklists do).
    pub comms_shown: bool,
}

impl Default for Room {
    fn default() -> Self {
        Room {
            focus: Pane::Timeline,
            sel: 0,
            follow: true,
            roster_sel: 0,
            check_sel: 0,
            window: (0, 0),
            comms_sel: 0,
            comms_shown: false,
        }
    }
}

/// A message on the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
}

/// One role row of the roster (the domain's, shared with `warroom show`).
pub use crate::domain::RosterRow;

/// One row of the checklists pane: a heading, a checklist item (indented `depth` levels under
/// its parent) or an action item.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckRow<'a> {
    Heading(&'a str),
    /// An attached playbook: its display name (its groups follow, each a [`CheckRow::Group`]).
    Playbook(&'a str),
    /// A group of a playbook's steps (e.g. "Verification"), under its [`CheckRow::Playbook`].
    Group(&'a str),
    Item {
        checklist: String,
        item: &'a ChecklistItem,
        depth: usize,
    },
    ActionItem(&'a ActionItem),
}

impl CheckRow<'_> {
    /// Rows that can be selected (items, not headings).
    pub fn selectable(&self) -> bool {
        !matches!(self, CheckRow::Heading(_) | CheckRow::Playbook(_) | CheckRow::Group(_))
    }
}

/// Moves a selection in a list of `n` rows (`page` rows at a time for page keys).
fn step(sel: usize, n: usize, action: &Action, page: usize) -> usize {
    let last = n.saturating_sub(1);
    match action {
        Action::Up => sel.saturating_sub(1),
        Action::Down => (sel + 1).min(last),
        Action::PageUp => sel.saturating_sub(page),
        Action::PageDown => (sel + page).min(last),
        Action::Top => 0,
        Action::Bottom => last,
        _ => sel.min(last),
    }
}

/// Heading of the action-items section of the checklists pane.
pub const ACTION_ITEMS_HEADING: &str = "Action items";

#[derive(Debug)]
pub struct State {
    /// The time of the current action (set by the loop before each dispatch; tests set it).
    pub now: DateTime<Utc>,
    pub me: Option<Me>,
    pub practice: Option<Practice>,
    pub link: LinkState,
    /// Writes waiting in the outbox.
    pub outbox: usize,
    /// Whether the server takes our writes (refused: they wait in the outbox, retried).
    pub writes: Writes,
    pub server_label: String,
    pub time: TimeDisplay,
    pub incidents: BTreeMap<String, Incident>,
    /// A list of incidents came (from the server or a cache): until then an empty board means
    /// "nothing loaded yet", not "nothing burning".
    pub board_loaded: bool,
    pub timelines: HashMap<String, Timeline>,
    /// Declarations queued but not yet acknowledged.
    pub pending_declares: Vec<NewEvent>,
    /// A declaration made here: open its war room when it is acknowledged.
    pub awaiting_declare: Option<Uuid>,
    pub screen: Screen,
    pub board_sel: usize,
    pub room: Room,
    pub overlay: Option<Overlay>,
    pub drafts: HashMap<(String, EventKind), Draft>,
    /// Comms drafts closed with text in them, by incident (`C` offers to continue them).
    pub comms_drafts: HashMap<String, CommsEditor>,
    /// Corrections by incident and target: the one in the open editor (updated as the editor
    /// opens and closes) and those restored from the data dir after a crash (`c` continues them).
    pub correction_drafts: HashMap<(String, Uuid), CorrectionDraft>,
    pub notice: Option<Notice>,
    pub size: (u16, u16),
    /// Something visible changed since the last draw.
    pub dirty: bool,
    /// The minute clock-driven figures were last computed for (ticks redraw when it turns).
    pub shown_minute: i64,
    /// Quit was asked once while drafts exist; the next quit goes through.
    pub quit_armed: bool,
    /// Timeline entries on one line each, cut with `…` (`w` toggles); wrapped by default.
    pub one_line: bool,
    pub quit: bool,
    /// Replay mode of the open war room (`R`): every pane shows the incident at the cursor.
    pub replay: Option<Replay>,
    /// Charts in ASCII whatever the theme (set at start on TERM=dumb).
    pub ascii: bool,
    /// A theme without colour (NO_COLOR, `mono`): comms drafts come without emoji.
    pub plain: bool,
    /// The board's figures (14-day chart, MTTA/MTTR), computed by `update` at most once per
    /// change of the incident set (and once a day) while the board shows; read through
    /// [`State::board_figures`].
    pub figures: Option<Rc<BoardFigures>>,
    /// Started from the local cache saved then, and not live since: what shows may be behind.
    pub cached: Option<DateTime<Utc>>,
    /// The open war room's comms sent and their delivery (kept by `update`).
    pub sent: Option<sent::SentLog>,
}

impl State {
    pub fn new(server_label: String, time: TimeDisplay, now: DateTime<Utc>) -> State {
        State {
            now,
            me: None,
            practice: None,
            link: LinkState::Connecting,
            outbox: 0,
            writes: Writes::Ok,
            server_label,
            time,
            incidents: BTreeMap::new(),
            board_loaded: false,
            timelines: HashMap::new(),
            pending_declares: Vec::new(),
            awaiting_declare: None,
            screen: Screen::Board,
            board_sel: 0,
            room: Room::default(),
            overlay: None,
            drafts: HashMap::new(),
            comms_drafts: HashMap::new(),
            correction_drafts: HashMap::new(),
            notice: None,
            size: (80, 24),
            dirty: true,
            shown_minute: now.timestamp().div_euclid(60),
            quit_armed: false,
            one_line: false,
            quit: false,
            replay: None,
            ascii: false,
            plain: false,
            figures: None,
            cached: None,
            sent: None,
        }
    }

    /// The key context in focus.
    pub fn context(&self) -> Context {
        if let Some(o) = &self.overlay {
            return o.context();
        }
        match &self.screen {
            Screen::Board => Context::Board,
            Screen::WarRoom(_) if self.replay.is_some() => Context::Replay,
            Screen::WarRoom(id)
                if self.room.focus == Pane::Timeline
                    && self.timelines.get(id).is_some_and(|t| t.search().is_some()) =>
            {
                Context::Search
            }
            Screen::WarRoom(_) => self.room.focus.context(),
        }
    }

    /// The incident whose war room is open.
    pub fn room_id(&self) -> Option<&str> {
        match &self.screen {
            Screen::WarRoom(id) => Some(id),
            Screen::Board => None,
        }
    }

    pub fn room_incident(&self) -> Option<&Incident> {
        self.room_id().and_then(|id| self.incidents.get(id))
    }

    /// The incident as the war room shows it: as it stood at the replay cursor while replaying
    /// it, else live.
    pub fn shown_incident(&self, id: &str) -> Option<&Incident> {
        match &self.replay {
            Some(r) if r.incident == id => r.cursor.state(),
            _ => self.incidents.get(id),
        }
    }

    pub fn timeline(&self, id: &str) -> Option<&Timeline> {
        self.timelines.get(id)
    }

    /// Severity rank in the active scheme (0 = most severe).
    pub fn severity_rank(&self, severity: &str) -> usize {
        self.practice.as_ref().map_or(usize::MAX, |p| p.scheme().rank(severity))
    }

    /// The board's incidents: open ones (breached timers first, then most severe, nearest
    /// deadline, oldest: `domain::timers::board_order`), then resolved ones (most recently
    /// resolved first). Selection indexes this list.
    pub fn board_rows(&self) -> (Vec<&Incident>, Vec<&Incident>) {
        // Removed demo incidents (`warroom demo --remove`) are gone from the board.
        let mut all: Vec<&Incident> =
            self.incidents.values().filter(|i| i.revision > 0 && !i.is_removed()).collect();
        match &self.practice {
            Some(p) => {
                let scheme = p.scheme();
                let mut keyed: Vec<_> =
                    all.into_iter().map(|i| (timers::board_order(scheme, i, self.now), i)).collect();
                keyed.sort_by(|a, b| a.0.cmp(&b.0));
                all = keyed.into_iter().map(|(_, i)| i).collect();
            }
            None => all.sort_by(|a, b| {
                (!a.is_open(), a.declared_at, &a.id).cmp(&(!b.is_open(), b.declared_at, &b.id))
            }),
        }
        all.into_iter().partition(|i| i.is_open())
    }

    pub fn board_selected(&self) -> Option<&Incident> {
        let (open, done) = self.board_rows();
        open.into_iter().chain(done).nth(self.board_sel)
    }

    /// Every role of the scheme's role set, then any other role someone holds.
    pub fn roster_rows<'a>(&'a self, inc: &'a Incident) -> Vec<RosterRow<'a>> {
        crate::domain::roster(self.practice.as_ref().map(|p| p.roles()).unwrap_or(&[]), inc)
    }

    /// The scheme's incident checklists, then each attached playbook under its display name
    /// (in the order attached), its groups under it, with their steps two levels in (only
    /// items that apply to the incident's severity: `Practice::checklists_for`; a group with
    /// none is left out), then the incident's action items.
    pub fn checklist_rows<'a>(&'a self, inc: &'a Incident) -> Vec<CheckRow<'a>> {
        let mut rows = Vec::new();
        if let Some(p) = &self.practice {
            let mut playbook: Option<&str> = None;
            for list in p.checklists_for(inc) {
                let of = inc
                    .playbooks
                    .iter()
                    .filter_map(|id| p.playbook(id))
                    .find(|pb| list.id.strip_prefix(pb.id.as_str()).is_some_and(|r| r.starts_with('.')));
                let Some(pb) = of else {
                    rows.push(CheckRow::Heading(&list.checklist.name));
                    for i in &list.items {
                        rows.push(CheckRow::Item {
                            checklist: list.id.clone(),
                            item: i,
                            depth: list.depth(i),
                        });
                    }
                    continue;
                };
                if list.items.is_empty() {
                    continue;
                }
                if playbook != Some(pb.id.as_str()) {
                    playbook = Some(pb.id.as_str());
                    rows.push(CheckRow::Playbook(&pb.name));
                }
                rows.push(CheckRow::Group(&list.checklist.name));
                for i in &list.items {
                    rows.push(CheckRow::Item {
                        checklist: list.id.clone(),
                        item: i,
                        depth: list.depth(i) + 2,
                    });
                }
            }
        }
        if !inc.action_items.is_empty() {
            rows.push(CheckRow::Heading(ACTION_ITEMS_HEADING));
            rows.extend(inc.action_items.iter().map(CheckRow::ActionItem));
        }
        rows
    }

    /// The selected row of the checklists pane (an item or an action item), if any.
    pub fn checklist_selected<'a>(&'a self, inc: &'a Incident) -> Option<CheckRow<'a>> {
        let rows = self.checklist_rows(inc);
        let n = rows.iter().filter(|r| r.selectable()).count();
        let want = self.room.check_sel.min(n.checked_sub(1)?);
        rows.into_iter().filter(CheckRow::selectable).nth(want)
    }

    /// The selected timeline row of the open war room (position in the view).
    pub fn timeline_sel(&self) -> Option<usize> {
        let tl = self.timelines.get(self.room_id()?)?;
        let n = tl.len();
        if n == 0 {
            None
        } else if self.room.follow {
            Some(n - 1)
        } else {
            Some(self.room.sel.min(n - 1))
        }
    }

    /// The rows of incident `id`'s timeline that a pane `h` rows high shows, as (first row,
    /// `h`): in replay the events up to the cursor; else the tail while following, or the
    /// current window moved just enough to show the selection. `None` without a timeline.
    pub fn timeline_window(&self, id: &str, h: usize) -> Option<(usize, usize)> {
        let tl = self.timelines.get(id)?;
        if let Some(r) = self.replay.as_ref().filter(|r| r.incident == id) {
            let pos = r.cursor.pos().min(tl.events().len());
            return Some((pos.saturating_sub(h), h));
        }
        let n = tl.len();
        if n == 0 {
            return Some((0, h));
        }
        let max_off = n.saturating_sub(h);
        if self.room.follow {
            return Some((max_off, h));
        }
        let sel = self.timeline_sel().unwrap_or(0);
        let mut off = self.room.window.0.min(max_off);
        if sel < off {
            off = sel;
        } else if sel >= off + h {
            off = sel + 1 - h;
        }
        Some((off, h))
    }

    /// Whether anything on screen shows a clock-driven value (ages, elapsed time, timers).
    pub fn wants_clock(&self) -> bool {
        match &self.screen {
            // Open incidents age; resolved ones count down post-mortem deadlines.
            Screen::Board => self.incidents.values().any(|i| i.status != crate::domain::Status::Closed),
            Screen::WarRoom(_) => true,
        }
    }

    pub fn set_notice(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice { text: text.into(), error: false });
    }

    pub fn set_error(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice { text: text.into(), error: true });
    }
}
