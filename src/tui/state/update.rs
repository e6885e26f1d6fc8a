//! The reducer: `update(&mut State, Action) -> Vec<Effect>`. Pure apart from the state: the
//! time of an action is `state.now` (set by the loop at the keypress), writes leave as
//! `Effect::Submit`, nothing here awaits anything. This file dispatches and holds the board,
//! timeline, roster, composer and prompt keys; the checklists pane (`checklists.rs`), comms /
//! post-mortem (`comms.rs`), pickers (`picker.rs`), replay (`replay.rs`) and network messages
//! (`net.rs`) have their own modules, and all of them check and send writes through the leaf
//! `write.rs`. A write refused before it leaves ([`Refusal`]) is shown on the status line here,
//! in one place.

use chrono::Duration;
use ratatui::layout::Rect;

use super::checklists::{self, checklist_action};
use super::comms;
use super::layout;
use super::net::on_net;
use super::overlay::{
    ComposeKind, Composer, CorrectionDraft, DeclareForm, Draft, PickKind, Prompt, PromptKind, input_text,
    new_input, parse_time, single_line_input,
};
use super::picker::{open_picker, picker_action};
use super::replay;
use super::write::{Refusal, may, submit, submit_at};
use super::{Effect, Overlay, Pane, Room, Row, Screen, State, step};
use crate::client::{SyncMsg, Target};
use crate::domain::{COMMANDER_ROLE, EventBody, EventKind, NewEvent, text};
use crate::tui::action::Action;
use crate::tui::format;

/// Folds one action into the state and says what should happen outside.
pub fn update(s: &mut State, action: Action) -> Vec<Effect> {
    let effects = dispatch(s, action).unwrap_or_else(|Refusal(why)| {
        s.set_error(why);
        Vec::new()
    });
    fit_view(s);
    effects
}

/// Keeps what the next frame shows in step with the state, so drawing only reads: the
/// timeline's window on this screen size (from the pure layout) and the board's figures.
fn fit_view(s: &mut State) {
    let area = Rect::new(0, 0, s.size.0, s.size.1);
    if let Screen::WarRoom(id) = &s.screen
        && let Some(rows) = layout::timeline_rows(area, s)
        && let Some(window) = s.timeline_window(id, usize::from(rows.height))
    {
        s.room.window = window;
    }
    s.refresh_figures();
    super::sent::refresh(s);
}

fn dispatch(s: &mut State, action: Action) -> Result<Vec<Effect>, Refusal> {
    if let Action::Tick = action {
        // Clock-driven figures show minutes: redraw only when the minute turns.
        let m = s.now.timestamp().div_euclid(60);
        if m != s.shown_minute {
            s.shown_minute = m;
            s.dirty = true;
        }
        // A retry counting down in the Comms pane shows seconds.
        if s.sent.as_ref().is_some_and(|l| l.counting(s.now)) {
            s.dirty = true;
        }
        return Ok(Vec::new());
    }
    s.dirty = true;
    s.shown_minute = s.now.timestamp().div_euclid(60);
    match action {
        Action::Net(msg) => {
            if matches!(
                msg,
                SyncMsg::Snapshot(_) | SyncMsg::Event(_) | SyncMsg::Acked { .. } | SyncMsg::Timeline { .. }
            ) {
                s.invalidate_figures();
            }
            let effects = on_net(s, msg);
            replay::resync(s);
            return effects;
        }
        Action::Resize(w, h) => {
            s.size = (w, h);
            return Ok(Vec::new());
        }
        Action::Quit => {
            // Drafts live in memory only: ask once before dropping them.
            let has_drafts = !s.drafts.is_empty()
                || !s.comms_drafts.is_empty()
                || s.correction_drafts.values().any(CorrectionDraft::typed);
            if has_drafts && !s.quit_armed {
                s.quit_armed = true;
                let kinds: Vec<String> = s
                    .drafts
                    .keys()
                    .map(|(inc, k)| format!("{k} in {inc}"))
                    .chain(s.comms_drafts.keys().map(|inc| format!("comms in {inc}")))
                    .chain(
                        s.correction_drafts
                            .iter()
                            .filter(|(_, d)| d.typed())
                            .map(|((inc, _), _)| format!("correction in {inc}")),
                    )
                    .collect();
                // What to do first: the list may not fit on the status line.
                s.set_error(format!("quit again to drop unsent drafts: {}", kinds.join(", ")));
                return Ok(Vec::new());
            }
            s.quit = true;
            return Ok(vec![Effect::Quit]);
        }
        Action::Suspend => return Ok(vec![Effect::Suspend]),
        _ => {}
    }
    if s.overlay.is_some() {
        return overlay_action(s, action);
    }
    // A key press clears an old message.
    if !matches!(action, Action::Input(_) | Action::Paste(_)) {
        s.notice = None;
    }
    if action == Action::Help {
        s.overlay = Some(Overlay::Help { context: s.context(), scroll: 0 });
        return Ok(Vec::new());
    }
    match s.screen.clone() {
        Screen::Board => Ok(board_action(s, action)),
        Screen::WarRoom(id) => room_action(s, &id, action),
    }
}

fn board_action(s: &mut State, action: Action) -> Vec<Effect> {
    let (open, done) = s.board_rows();
    let n = open.len() + done.len();
    match action {
        Action::Up => s.board_sel = s.board_sel.saturating_sub(1),
        Action::Down => s.board_sel = (s.board_sel + 1).min(n.saturating_sub(1)),
        Action::PageUp => s.board_sel = s.board_sel.saturating_sub(10),
        Action::PageDown => s.board_sel = (s.board_sel + 10).min(n.saturating_sub(1)),
        Action::Top => s.board_sel = 0,
        Action::Bottom => s.board_sel = n.saturating_sub(1),
        Action::Open => {
            if let Some(id) = s.board_selected().map(|i| i.id.clone()) {
                return open_room(s, id);
            }
        }
        Action::Declare => {
            let Some(p) = &s.practice else {
                s.set_error("not connected yet: the severity levels come from the server");
                return Vec::new();
            };
            let levels = p.scheme().levels.len();
            let mut title = new_input(Vec::new());
            title.set_placeholder_text("what is broken, in a few words");
            s.overlay =
                Some(Overlay::Declare(DeclareForm { title, severity: 1.min(levels - 1), error: None }));
        }
        _ => {}
    }
    Vec::new()
}

/// Opens an incident's war room, loading its timeline the first time.
pub fn open_room(s: &mut State, id: String) -> Vec<Effect> {
    s.replay = None;
    s.screen = Screen::WarRoom(id.clone());
    s.room = Room::default();
    let tl = s.timelines.entry(id.clone()).or_default();
    if tl.loaded || tl.requested {
        return Vec::new();
    }
    tl.requested = true;
    vec![Effect::LoadTimeline(id)]
}

fn room_action(s: &mut State, id: &str, action: Action) -> Result<Vec<Effect>, Refusal> {
    if s.replay.as_ref().is_some_and(|r| r.incident != id) {
        s.replay = None;
    }
    if let Some(effects) = replay::action(s, &action) {
        return Ok(effects);
    }
    match action {
        Action::Replay => replay::enter(s, id),
        Action::Note => return start_entry(s, id, EventKind::Note, false),
        Action::Finding => return start_entry(s, id, EventKind::Finding, false),
        Action::ActionEntry => return start_entry(s, id, EventKind::Action, false),
        Action::Decision => return start_entry(s, id, EventKind::Decision, false),
        Action::BackdatedNote => return start_entry(s, id, EventKind::Note, true),
        Action::Status => open_picker(s, PickKind::Status, id.to_string(), None)?,
        Action::Severity => open_picker(s, PickKind::Severity, id.to_string(), None)?,
        Action::AttachPlaybook => open_picker(s, PickKind::Playbook, id.to_string(), None)?,
        Action::Comms => open_picker(s, PickKind::Template, id.to_string(), None)?,
        Action::CopyPostmortem => return Ok(comms::copy_postmortem(s, id)),
        Action::AddActionItem => checklists::start_action_item(s)?,
        Action::FocusNext | Action::FocusPrev => {
            let i = Pane::ALL.iter().position(|p| *p == s.room.focus).unwrap_or(0);
            let n = Pane::ALL.len();
            let j = if action == Action::FocusNext { (i + 1) % n } else { (i + n - 1) % n };
            s.room.focus = Pane::ALL[j];
            s.room.comms_shown = s.room.focus == Pane::Comms;
        }
        Action::CommsLog => {
            let to = if s.room.focus == Pane::Comms { Pane::Timeline } else { Pane::Comms };
            s.room.focus = to;
            s.room.comms_shown = to == Pane::Comms;
        }
        Action::Back => {
            let tl = s.timelines.get_mut(id);
            match tl {
                Some(tl)
                    if s.room.focus == Pane::Timeline && (tl.filter().is_some() || tl.search().is_some()) =>
                {
                    tl.set_view(None, None);
                    s.room.follow = true;
                    s.set_notice("filter cleared");
                }
                _ => {
                    s.replay = None;
                    s.screen = Screen::Board;
                }
            }
        }
        _ => match s.room.focus {
            Pane::Timeline => return timeline_action(s, id, action),
            Pane::Roster => return roster_action(s, id, action),
            Pane::Checklists => return checklist_action(s, id, action),
            Pane::Comms => comms_pane_action(s, id, action),
        },
    }
    Ok(Vec::new())
}

/// Keys in the Comms pane: move between comms (newest first).
fn comms_pane_action(s: &mut State, id: &str, action: Action) {
    let n = s.sent.as_ref().filter(|l| l.incident == id).map_or(0, |l| l.comms.len());
    s.room.comms_sel = step(s.room.comms_sel, n, &action, 3);
}

fn timeline_action(s: &mut State, id: &str, action: Action) -> Result<Vec<Effect>, Refusal> {
    let Some(tl) = s.timelines.get(id) else { return Ok(Vec::new()) };
    let n = tl.len();
    let page = s.room.window.1.max(2) - 1;
    match action {
        Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
            let cur = s.timeline_sel().unwrap_or(0);
            let next = step(cur, n, &action, page);
            s.room.sel = next;
            // Following the tail again once the selection reaches it.
            s.room.follow =
                n == 0 || next + 1 >= n && !matches!(action, Action::Up | Action::PageUp | Action::Top);
        }
        Action::Open => {
            if let Some(row) = s.timeline_sel().and_then(|i| tl.row(i)) {
                s.overlay = Some(Overlay::Detail { incident: id.to_string(), id: row.id(), scroll: 0 });
            }
        }
        Action::Copy => {
            if let Some(row) = s.timeline_sel().and_then(|i| tl.row(i)) {
                let line = format::row_line(row, tl, s.time, s.practice.as_ref());
                s.set_notice("entry copied to the clipboard");
                return Ok(vec![Effect::Copy(line)]);
            }
        }
        Action::CopyExcerpt => {
            let (offset, height) = s.room.window;
            let (start, count) = if height == 0 { (n.saturating_sub(20), 20) } else { (offset, height) };
            let lines: Vec<String> = tl
                .rows(start, count)
                .into_iter()
                .map(|r| format::row_line(r, tl, s.time, s.practice.as_ref()))
                .collect();
            if lines.is_empty() {
                return Ok(Vec::new());
            }
            s.set_notice(format!("{} timeline lines copied to the clipboard", lines.len()));
            return Ok(vec![Effect::Copy(lines.join("\n"))]);
        }
        Action::Correct => {
            let Some(row) = s.timeline_sel().and_then(|i| tl.row(i)) else { return Ok(Vec::new()) };
            let Row::Event(e) = row else {
                s.set_error("this entry is not recorded yet; correct it once it is");
                return Ok(Vec::new());
            };
            let body = e.body();
            let original = match &*body {
                EventBody::CommsSent { text, .. } => text,
                body => match (body.as_entry(), body.kind().why_not_correctable()) {
                    (Some(entry), None) => &entry.text,
                    (_, why) => {
                        s.set_error(why.unwrap_or_else(|| "this event cannot be corrected".into()));
                        return Ok(Vec::new());
                    }
                },
            };
            let current = tl.corrected_text(&e.id()).unwrap_or(original).to_string();
            let target = e.id();
            may(s, &EventBody::Correction { target, text: String::new() })?;
            let lines: Vec<String> = text::sanitize(&current, true).lines().map(str::to_string).collect();
            let was = input_text(&new_input(lines.clone()));
            // A correction of this entry typed before a crash continues where it was.
            let key = (id.to_string(), target);
            let restored = s.correction_drafts.get(&key).filter(|d| d.typed()).cloned();
            let mut input = new_input(restored.as_ref().map_or_else(|| lines.clone(), |d| d.text.clone()));
            let draft = match restored {
                Some(d) => {
                    s.set_notice("correction draft restored");
                    input.move_cursor(ratatui_textarea::CursorMove::Bottom);
                    input.move_cursor(ratatui_textarea::CursorMove::End);
                    d
                }
                None => CorrectionDraft { text: lines, was },
            };
            s.correction_drafts.insert(key, draft);
            s.overlay = Some(Overlay::Composer(Composer {
                incident: id.to_string(),
                kind: ComposeKind::Correction { target },
                input,
                occurred_at: s.now,
                time_input: None,
                error: None,
            }));
        }
        Action::Search => {
            let before = tl.search().map(str::to_string);
            let origin = match s.timeline_sel().and_then(|i| tl.row(i)) {
                Some(Row::Event(e)) if !s.room.follow => Some(e.seq()),
                _ => None,
            };
            let mut input = new_input(before.iter().cloned().collect());
            input.set_placeholder_text("text, author or kind");
            let kind = PromptKind::Search { before, origin };
            s.overlay = Some(Overlay::Prompt(Prompt { kind, input, error: None }));
        }
        Action::SearchNext | Action::SearchPrev => {
            if tl.search().is_none() {
                s.set_notice("no search: / starts one");
                return Ok(Vec::new());
            }
            if n == 0 {
                s.set_notice("no entry matches: esc clears the search");
                return Ok(Vec::new());
            }
            let cur = s.timeline_sel().unwrap_or(0);
            let (next, wrapped) = if action == Action::SearchNext {
                ((cur + 1) % n, cur + 1 >= n)
            } else {
                ((cur + n - 1) % n, cur == 0)
            };
            s.room.sel = next;
            s.room.follow = false;
            let wrap = match (wrapped, action == Action::SearchNext) {
                (true, true) => " (wrapped to the first)",
                (true, false) => " (wrapped to the last)",
                _ => "",
            };
            s.set_notice(format!("match {} of {n}{wrap}", next + 1));
        }
        Action::Filter => open_picker(s, PickKind::Filter, id.to_string(), None)?,
        Action::ToggleWrap => {
            s.one_line = !s.one_line;
            s.set_notice(if s.one_line { "one line per entry (cut with …)" } else { "long entries wrap" });
        }
        _ => {}
    }
    Ok(Vec::new())
}

fn roster_action(s: &mut State, id: &str, action: Action) -> Result<Vec<Effect>, Refusal> {
    let Some(inc) = s.incidents.get(id) else { return Ok(Vec::new()) };
    let rows = s.roster_rows(inc);
    let n = rows.len();
    let Some(row) = rows.get(s.room.roster_sel.min(n.saturating_sub(1))).cloned() else {
        return Ok(Vec::new());
    };
    let role = row.id.to_string();
    let guard = (role == COMMANDER_ROLE).then_some(inc.revision);
    let holders: Vec<String> = row.holders.iter().map(|h| h.holder.clone()).collect();
    match action {
        Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
            s.room.roster_sel = step(s.room.roster_sel, n, &action, 5);
        }
        Action::AssignSelf => {
            let Some(me) = s.me.as_ref().map(|m| m.name.clone()) else {
                s.set_error("not connected yet: who you are comes from the server");
                return Ok(Vec::new());
            };
            if holders.contains(&me) {
                s.set_notice(format!("you already hold {}", row.name));
                return Ok(Vec::new());
            }
            return Ok(vec![submit(s, id, EventBody::RoleAssigned { role, holder: me }, guard)?]);
        }
        Action::AssignOther => {
            let mut input = new_input(Vec::new());
            input.set_placeholder_text("name");
            s.overlay = Some(Overlay::Prompt(Prompt {
                kind: PromptKind::AssignTo { role, name: row.name.to_string() },
                input,
                error: None,
            }));
        }
        Action::Release => {
            let me = s.me.as_ref().map(|m| m.name.clone());
            let Some(holder) = me.filter(|m| holders.contains(m)).or_else(|| holders.first().cloned()) else {
                s.set_notice(format!("nobody holds {}", row.name));
                return Ok(Vec::new());
            };
            return Ok(vec![submit(s, id, EventBody::RoleReleased { role, holder: Some(holder) }, guard)?]);
        }
        _ => {}
    }
    Ok(Vec::new())
}

fn start_entry(s: &mut State, id: &str, kind: EventKind, edit_time: bool) -> Result<Vec<Effect>, Refusal> {
    let Some(probe) = EventBody::entry(kind, "") else { return Ok(Vec::new()) };
    may(s, &probe)?;
    let (lines, occurred_at) = match s.drafts.get(&(id.to_string(), kind)).cloned() {
        Some(d) => {
            s.set_notice(format!("draft restored (started {})", format::time(d.occurred_at, s.time)));
            (d.text.clone(), d.occurred_at)
        }
        None => (Vec::new(), s.now),
    };
    let mut input = new_input(lines);
    input.set_placeholder_text(format!("{kind}: what happened"));
    let time_input = edit_time.then(|| time_field(occurred_at, s.time));
    s.overlay = Some(Overlay::Composer(Composer {
        incident: id.to_string(),
        kind: ComposeKind::Entry(kind),
        input,
        occurred_at,
        time_input,
        error: None,
    }));
    Ok(Vec::new())
}

/// An empty time field showing the current time (typing replaces it; Enter keeps it).
fn time_field(
    at: chrono::DateTime<chrono::Utc>,
    tz: crate::tui::format::TimeDisplay,
) -> ratatui_textarea::TextArea<'static> {
    let mut t = new_input(Vec::new());
    t.set_placeholder_text(format::time(at, tz));
    t
}

/// A key while an overlay is open. A refused write closes it (its reason goes to the status line).
fn overlay_action(s: &mut State, action: Action) -> Result<Vec<Effect>, Refusal> {
    let Some(overlay) = s.overlay.take() else { return Ok(Vec::new()) };
    let (keep, effects) = match overlay {
        Overlay::Composer(c) => composer_action(s, c, action),
        Overlay::Comms(c) => comms::editor_action(s, c, action),
        Overlay::Prompt(p) => prompt_action(s, p, action)?,
        Overlay::Picker(p) => picker_action(s, p, action)?,
        Overlay::Declare(f) => declare_action(s, f, action),
        Overlay::Help { context, scroll } => match action {
            Action::Up => (Some(Overlay::Help { context, scroll: scroll.saturating_sub(1) }), Vec::new()),
            Action::Down => (Some(Overlay::Help { context, scroll: scroll.saturating_add(1) }), Vec::new()),
            Action::Cancel | Action::Help => (None, Vec::new()),
            _ => (Some(Overlay::Help { context, scroll }), Vec::new()),
        },
        Overlay::Detail { incident, id, scroll } => match action {
            Action::Up => {
                (Some(Overlay::Detail { incident, id, scroll: scroll.saturating_sub(1) }), Vec::new())
            }
            Action::Down => {
                (Some(Overlay::Detail { incident, id, scroll: scroll.saturating_add(1) }), Vec::new())
            }
            Action::Cancel => (None, Vec::new()),
            Action::Copy => {
                let text = s.timelines.get(&incident).and_then(|tl| {
                    Some(format::row_detail(tl.find(&id)?, tl, s.time, s.practice.as_ref()).join("\n"))
                });
                s.set_notice("entry copied to the clipboard");
                (Some(Overlay::Detail { incident, id, scroll }), text.map(Effect::Copy).into_iter().collect())
            }
            _ => (Some(Overlay::Detail { incident, id, scroll }), Vec::new()),
        },
    };
    if s.overlay.is_none() {
        s.overlay = keep;
    }
    Ok(effects)
}

fn composer_action(s: &mut State, mut c: Composer, action: Action) -> (Option<Overlay>, Vec<Effect>) {
    if let Some(mut ti) = c.time_input.take() {
        match action {
            // An empty field keeps the time.
            Action::Submit if input_text(&ti).is_empty() => c.error = None,
            Action::Submit => match parse_time(&input_text(&ti), c.occurred_at, s.now, s.time) {
                Ok(t) if t > s.now + Duration::minutes(1) => {
                    c.error = Some("that time is in the future".into());
                    c.time_input = Some(ti);
                }
                Ok(t) => {
                    c.occurred_at = t;
                    c.error = None;
                }
                Err(e) => {
                    c.error = Some(e);
                    c.time_input = Some(ti);
                }
            },
            Action::Cancel => c.error = None,
            other => {
                single_line_input(&mut ti, other);
                c.time_input = Some(ti);
            }
        }
        return (Some(Overlay::Composer(c)), Vec::new());
    }
    match action {
        Action::Input(k) => {
            c.input.input(k);
        }
        Action::Paste(p) => {
            c.input.insert_str(text::sanitize(&p, true));
        }
        Action::Newline => c.input.insert_newline(),
        Action::EditTime => {
            c.time_input = Some(time_field(c.occurred_at, s.time));
            c.error = None;
        }
        Action::Cancel => {
            let text = c.input.lines().to_vec();
            let empty = input_text(&c.input).is_empty();
            match &c.kind {
                ComposeKind::Entry(kind) => {
                    let key = (c.incident.clone(), *kind);
                    if empty {
                        s.drafts.remove(&key);
                    } else {
                        s.drafts.insert(key, Draft { text, occurred_at: c.occurred_at });
                        s.set_notice(format!("{kind} kept as a draft: open a {kind} again to continue it"));
                    }
                }
                ComposeKind::Correction { target } => {
                    // Like an entry's, a typed correction is kept: `c` on the entry continues it.
                    let key = (c.incident.clone(), *target);
                    let kept = s.correction_drafts.get_mut(&key).map(|d| {
                        d.text = text;
                        d.typed()
                    });
                    if kept == Some(true) {
                        s.set_notice("correction kept as a draft: press c on the entry again to continue it");
                    } else {
                        s.correction_drafts.remove(&key);
                        s.set_notice("correction cancelled");
                    }
                }
            }
            return (None, Vec::new());
        }
        Action::Submit => {
            let text = input_text(&c.input);
            if text.is_empty() {
                c.error = Some("nothing to log: type the entry, or Esc to cancel".into());
                return (Some(Overlay::Composer(c)), Vec::new());
            }
            let body = match &c.kind {
                ComposeKind::Entry(kind) => EventBody::entry(*kind, text),
                ComposeKind::Correction { target } => Some(EventBody::Correction { target: *target, text }),
            };
            let Some(body) = body else { return (None, Vec::new()) };
            let effect = match submit_at(s, &c.incident, body, None, c.occurred_at) {
                Ok(effect) => effect,
                Err(Refusal(why)) => {
                    // Refused locally (too long, role): keep the composer open with the reason
                    // (in the composer only: the status line is cleared).
                    c.error = Some(why);
                    s.notice = None;
                    return (Some(Overlay::Composer(c)), Vec::new());
                }
            };
            match c.kind {
                ComposeKind::Entry(kind) => {
                    s.drafts.remove(&(c.incident.clone(), kind));
                }
                ComposeKind::Correction { target } => {
                    s.correction_drafts.remove(&(c.incident.clone(), target));
                }
            }
            return (None, vec![effect]);
        }
        _ => {}
    }
    (Some(Overlay::Composer(c)), Vec::new())
}

fn prompt_action(
    s: &mut State,
    mut p: Prompt,
    action: Action,
) -> Result<(Option<Overlay>, Vec<Effect>), Refusal> {
    let Some(id) = s.room_id().map(str::to_string) else { return Ok((None, Vec::new())) };
    match action {
        Action::Cancel => {
            if let PromptKind::Search { before, origin } = &p.kind {
                search_as_typed(s, &id, before.as_deref().unwrap_or(""), *origin);
            }
            return Ok((None, Vec::new()));
        }
        Action::Submit => {
            let text = input_text(&p.input);
            match &p.kind {
                PromptKind::Search { origin, .. } => {
                    search_as_typed(s, &id, &text, *origin);
                    let n = s.timelines.get(&id).map_or(0, |t| t.len());
                    if !text.is_empty() {
                        s.set_notice(format!("{n} entries match `{}`; esc clears", text::line(&text)));
                    }
                    return Ok((None, Vec::new()));
                }
                PromptKind::ActionItem | PromptKind::ActionItemOwner { .. } => {
                    return checklists::action_item_prompt(s, &id, p);
                }
                PromptKind::AssignTo { role, .. } => {
                    if text.is_empty() {
                        p.error = Some("type a name".into());
                        return Ok((Some(Overlay::Prompt(p)), Vec::new()));
                    }
                    let guard =
                        (role == COMMANDER_ROLE).then(|| s.incidents.get(&id).map_or(0, |i| i.revision));
                    let body = EventBody::RoleAssigned { role: role.clone(), holder: text::line(&text) };
                    return Ok((None, vec![submit(s, &id, body, guard)?]));
                }
            }
        }
        other => {
            single_line_input(&mut p.input, other);
            // Incremental search: the view follows what is typed.
            if let PromptKind::Search { origin, .. } = &p.kind {
                search_as_typed(s, &id, &input_text(&p.input), *origin);
            }
        }
    }
    Ok((Some(Overlay::Prompt(p)), Vec::new()))
}

/// Applies a search to the timeline and moves the selection to the first match at or after
/// the entry selected when the search started (`origin`; wrapping to the first match), as
/// less and vim do. An empty search shows everything again, back at `origin` (or the tail).
fn search_as_typed(s: &mut State, id: &str, text: &str, origin: Option<u64>) {
    let tl = s.timelines.entry(id.to_string()).or_default();
    let q = text.trim();
    tl.set_view(tl.filter(), (!q.is_empty()).then_some(q));
    let at = origin.and_then(|seq| tl.position_from_seq(seq));
    match (q.is_empty(), at) {
        (true, None) if origin.is_none() => s.room.follow = true,
        (_, Some(i)) => {
            s.room.sel = i;
            s.room.follow = false;
        }
        _ => {
            s.room.sel = 0;
            s.room.follow = tl.is_empty();
        }
    }
}

fn declare_action(s: &mut State, mut f: DeclareForm, action: Action) -> (Option<Overlay>, Vec<Effect>) {
    let levels: Vec<String> = s
        .practice
        .as_ref()
        .map(|p| p.scheme().levels.iter().map(|l| l.id.clone()).collect())
        .unwrap_or_default();
    match action {
        Action::Up => f.severity = f.severity.saturating_sub(1),
        Action::Down => f.severity = (f.severity + 1).min(levels.len().saturating_sub(1)),
        Action::Cancel => return (None, Vec::new()),
        Action::Submit => {
            let title = input_text(&f.title);
            let Some(severity) = levels.get(f.severity).cloned() else { return (None, Vec::new()) };
            let body =
                EventBody::Declared { title, severity, summary: String::new(), group_key: None, demo: false };
            if let Err(r) = crate::domain::Incident::default().check(&body, s.now) {
                f.error = Some(r.message);
                return (Some(Overlay::Declare(f)), Vec::new());
            }
            if let Err(Refusal(why)) = may(s, &body) {
                // In the form only: the status line is cleared.
                f.error = Some(why);
                s.notice = None;
                return (Some(Overlay::Declare(f)), Vec::new());
            }
            let ev = NewEvent::at(s.now, body);
            s.awaiting_declare = Some(ev.id);
            s.set_notice("declaring…");
            return (None, vec![Effect::Submit(Target::Declare, ev, None)]);
        }
        other => single_line_input(&mut f.title, other),
    }
    (Some(Overlay::Declare(f)), Vec::new())
}
