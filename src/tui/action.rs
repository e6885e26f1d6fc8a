//! The one currency of the console: every key (through the keymap), every network result and
//! every clock tick becomes an [`Action`] that `state::update` folds into the state.
//!
//! User actions are named (snake_case) so the keymap and the config can refer to them;
//! internal variants are `#[serde(skip)]` and cannot be bound to keys.

use crossterm::event::KeyEvent;
use serde::{Deserialize, Serialize};

use crate::client::SyncMsg;

// `Net` is large (a sync message); actions are moved once from input to reducer, never stored.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Leave the console.
    Quit,
    /// Suspend to the shell (Ctrl-Z); `fg` resumes.
    Suspend,
    /// Show every key of the current context.
    Help,
    FocusNext,
    FocusPrev,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    /// Jump to the end; in the timeline, follow the tail again.
    Bottom,
    /// Board: open the selected incident's war room. Timeline: show the entry in detail.
    Open,
    /// Back to the board / close / clear the timeline filter.
    Back,
    /// Declare a new incident (form: title, severity).
    Declare,
    /// Start a note (time taken at the keypress).
    Note,
    Finding,
    /// Start an `action` entry (something someone did).
    #[serde(rename = "action")]
    ActionEntry,
    Decision,
    /// Start a note and edit its time first (back-dated entry).
    BackdatedNote,
    /// Change the status (picker; guarded by the revision you saw).
    Status,
    /// Change the severity (picker; guarded by the revision you saw).
    Severity,
    /// Correct the selected entry (a new event amending it).
    Correct,
    /// Copy the selected entry (timeline), the item's command (checklists) or the draft
    /// (comms editor) to the clipboard (OSC 52).
    Copy,
    /// Copy the visible timeline excerpt to the clipboard (OSC 52).
    CopyExcerpt,
    /// Timeline: wrap long entries (continuation lines under the text) or one line each.
    ToggleWrap,
    /// Filter the timeline by event kind (picker).
    Filter,
    /// Search the timeline (only matching entries are shown; incremental).
    Search,
    /// While a search is active: the next match (wraps around).
    SearchNext,
    /// While a search is active: the previous match (wraps around).
    SearchPrev,
    /// Checklists: tick / untick the selected item (or mark an action item done / not done).
    Toggle,
    /// War room: focus the Comms pane (the comms sent and their delivery); again: back to
    /// the timeline.
    CommsLog,
    /// Attach a playbook to the incident (picker of the practice's playbooks).
    AttachPlaybook,
    /// Draft a status update from a comms template (picker), edit it, copy and/or record it.
    Comms,
    /// Comms editor: record the update as sent (asks for the channel).
    SendComms,
    /// Copy the incident's post-mortem (Markdown) to the clipboard (OSC 52).
    CopyPostmortem,
    /// Add an action item (text, then an optional owner).
    AddActionItem,
    /// Roster: take the selected role yourself.
    AssignSelf,
    /// Roster: give the selected role to a typed name.
    AssignOther,
    /// Roster: release the selected role.
    Release,
    /// Composer / prompt / picker / form: confirm.
    Submit,
    /// Composer: new line.
    Newline,
    /// Composer: edit the entry's time.
    EditTime,
    /// Composer / prompt / picker / form / popup: cancel (a composer keeps its text as a draft).
    Cancel,

    /// War room: enter replay at the end of the log; in replay: leave it (back to live).
    Replay,
    /// Replay: one event back.
    ReplayPrev,
    /// Replay: one event forward.
    ReplayNext,
    /// Replay: five minutes back.
    ReplayBack,
    /// Replay: five minutes forward.
    ReplayForward,
    /// Replay: to the previous status change (or the declaration).
    ReplayPrevStatus,
    /// Replay: to the next status change.
    ReplayNextStatus,
    /// Replay: follow when things happened, or what was known then (recorded time).
    ReplayKnown,

    /// A key with no binding in a text field: goes to the field.
    #[serde(skip)]
    Input(KeyEvent),
    /// Bracketed paste into a text field.
    #[serde(skip)]
    Paste(String),
    /// A result from the sync worker.
    #[serde(skip)]
    Net(SyncMsg),
    /// The clock (1 Hz, only while a timer is visible).
    #[serde(skip)]
    Tick,
    /// The terminal changed size.
    #[serde(skip)]
    Resize(u16, u16),
}

impl Action {
    /// Parses a user-facing action name (`note`, `focus_next`, ...). Internal actions have none.
    pub fn from_name(name: &str) -> Option<Action> {
        serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
    }

    /// The user-facing name, for bindable actions.
    pub fn name(&self) -> Option<String> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(Action::from_name("note"), Some(Action::Note));
        assert_eq!(Action::from_name("action"), Some(Action::ActionEntry));
        assert_eq!(Action::from_name("focus_next"), Some(Action::FocusNext));
        assert_eq!(Action::ActionEntry.name().as_deref(), Some("action"));
        assert_eq!(Action::from_name("tick"), None);
        assert_eq!(Action::from_name("net"), None);
        assert_eq!(Action::Tick.name(), None);
    }
}
