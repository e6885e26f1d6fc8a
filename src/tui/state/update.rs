//! The reducer: `update(&mut State, Action) -> Vec<Effect>`. Pure apart from the state: the
//! time of an action is `state.now` (set by the loop at the keypress), writes leave as
//! `Effect::Submit`, nothing here awaits anything. The checklists pane (`checklists.rs`) and
//! comms / post-mortem (`comms.rs`) have their own modules.

use chrono::Duration;

use super::checklists::{self, checklist_action};
use super::comms;
use super::net::on_net;
use super::overlay::{
    ComposeKind, Composer, DeclareForm, Draft, PickKind, Picker, Prompt, PromptKind, filter_options,
    input_text, new_input, parse_time, status_options,
};
use super::replay;
use super::{Effect, Overlay, Pane, Room, Row, Screen, State};
use crate::client::{SyncMsg, Target};
use crate::domain::{COMMANDER_ROLE, EventBody, EventKind, NewEvent, Status, text};
use crate::tui::action::Action;
use crate::tui::format;

/// Folds one action into the state and says what should happen outside.
pub fn update(s: &mut State, action: Action) -> Vec<Effect> {
    if let Action::Tick = action {
        // Clock-driven figures show minutes: redraw only when the minute turns.
        let m = s.now.timestamp().div_euclid(60);
        if m != s.shown_minute {
            s.shown_minute = m;
            s.dirty = true;
        }
        return Vec::new();
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
            return Vec::new();
        }
        Action::Quit => {
            // Drafts live in memory only: ask once before dropping them.
            let has_drafts = !s.drafts.is_empty() || !s.comms_drafts.is_empty();
            if has_drafts && !s.quit_armed {
                s.quit_armed = true;
                let kinds: Vec<String> = s
                    .drafts
                    .keys()
                    .map(|(inc, k)| format!("{k} in {inc}"))
                    .chain(s.comms_drafts.keys().map(|inc| format!("comms in {inc}")))
                    .collect();
                s.set_error(format!("unsent drafts ({}): quit again to drop them", kinds.join(", ")));
                return Vec::new();
            }
            s.quit = true;
            return vec![Effect::Quit];
        }
        Action::Suspend => return vec![Effect::Suspend],
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
        return Vec::new();
    }
    match s.screen.clone() {
        Screen::Board => board_action(s, action),
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

fn room_action(s: &mut State, id: &str, action: Action) -> Vec<Effect> {
    if s.replay.as_ref().is_some_and(|r| r.incident != id) {
        s.replay = None;
    }
    if let Some(effects) = replay::action(s, &action) {
        return effects;
    }
    match action {
        Action::Replay => replay::enter(s, id),
        Action::Note => return start_entry(s, id, EventKind::Note, false),
        Action::Finding => return start_entry(s, id, EventKind::Finding, false),
        Action::ActionEntry => return start_entry(s, id, EventKind::Action, false),
        Action::Decision => return start_entry(s, id, EventKind::Decision, false),
        Action::BackdatedNote => return start_entry(s, id, EventKind::Note, true),
        Action::Status => open_picker(s, PickKind::Status, id.to_string(), None),
        Action::Severity => open_picker(s, PickKind::Severity, id.to_string(), None),
        Action::AttachPlaybook => open_picker(s, PickKind::Playbook, id.to_string(), None),
        Action::Comms => open_picker(s, PickKind::Template, id.to_string(), None),
        Action::CopyPostmortem => return comms::copy_postmortem(s, id),
        Action::AddActionItem => checklists::start_action_item(s),
        Action::FocusNext | Action::FocusPrev => {
            let i = Pane::ALL.iter().position(|p| *p == s.room.focus).unwrap_or(0);
            let n = Pane::ALL.len();
            let j = if action == Action::FocusNext { (i + 1) % n } else { (i + n - 1) % n };
            s.room.focus = Pane::ALL[j];
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
        },
    }
    Vec::new()
}

/// Moves a selection in a list of `n` rows.
pub(super) fn step(sel: usize, n: usize, action: &Action, page: usize) -> usize {
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

fn timeline_action(s: &mut State, id: &str, action: Action) -> Vec<Effect> {
    let Some(tl) = s.timelines.get(id) else { return Vec::new() };
    let n = tl.len();
    let page = s.room.window.get().1.max(2) - 1;
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
                let line = format::row_line(row, tl, s.time);
                s.set_notice("entry copied to the clipboard");
                return vec![Effect::Copy(line)];
            }
        }
        Action::CopyExcerpt => {
            let (offset, height) = s.room.window.get();
            let (start, count) = if height == 0 { (n.saturating_sub(20), 20) } else { (offset, height) };
            let lines: Vec<String> =
                tl.rows(start, count).into_iter().map(|r| format::row_line(r, tl, s.time)).collect();
            if lines.is_empty() {
                return Vec::new();
            }
            s.set_notice(format!("{} timeline lines copied to the clipboard", lines.len()));
            return vec![Effect::Copy(lines.join("\n"))];
        }
        Action::Correct => {
            let Some(row) = s.timeline_sel().and_then(|i| tl.row(i)) else { return Vec::new() };
            let Row::Event(e) = row else {
                s.set_error("this entry is not recorded yet; correct it once it is");
                return Vec::new();
            };
            let Some(entry) = e.body.as_entry() else {
                s.set_error("only notes, findings, actions and decisions can be corrected");
                return Vec::new();
            };
            let current = tl.corrected_text(&e.id).unwrap_or(&entry.text).to_string();
            let target = e.id;
            if !may(s, &EventBody::Correction { target, text: String::new() }) {
                return Vec::new();
            }
            let lines = text::sanitize(&current, true).lines().map(str::to_string).collect();
            s.overlay = Some(Overlay::Composer(Composer {
                incident: id.to_string(),
                kind: ComposeKind::Correction { target },
                input: new_input(lines),
                occurred_at: s.now,
                time_input: None,
                error: None,
            }));
        }
        Action::Search => {
            let mut input = new_input(tl.search().map(|q| vec![q.to_string()]).unwrap_or_default());
            input.set_placeholder_text("text, author or kind");
            s.overlay = Some(Overlay::Prompt(Prompt { kind: PromptKind::Search, input, error: None }));
        }
        Action::Filter => open_picker(s, PickKind::Filter, id.to_string(), None),
        _ => {}
    }
    Vec::new()
}

fn roster_action(s: &mut State, id: &str, action: Action) -> Vec<Effect> {
    let Some(inc) = s.incidents.get(id) else { return Vec::new() };
    let rows = s.roster_rows(inc);
    let n = rows.len();
    let Some(row) = rows.get(s.room.roster_sel.min(n.saturating_sub(1))).cloned() else { return Vec::new() };
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
                return Vec::new();
            };
            if holders.contains(&me) {
                s.set_notice(format!("you already hold {}", row.name));
                return Vec::new();
            }
            return submit(s, id, EventBody::RoleAssigned { role, holder: me }, guard);
        }
        Action::AssignOther => {
            let mut input = new_input(Vec::new());
            input.set_placeholder_text("name");
            s.overlay =
                Some(Overlay::Prompt(Prompt { kind: PromptKind::AssignTo { role }, input, error: None }));
        }
        Action::Release => {
            let me = s.me.as_ref().map(|m| m.name.clone());
            let Some(holder) = me.filter(|m| holders.contains(m)).or_else(|| holders.first().cloned()) else {
                s.set_notice(format!("nobody holds {}", row.name));
                return Vec::new();
            };
            return submit(s, id, EventBody::RoleReleased { role, holder: Some(holder) }, guard);
        }
        _ => {}
    }
    Vec::new()
}

/// Whether this user's role may write this; explains on the status line when not.
pub(super) fn may(s: &mut State, body: &EventBody) -> bool {
    match &s.me {
        Some(me) if !me.role.may_append(body) => {
            let need = crate::api::Role::required_for(body.kind());
            s.set_error(format!("{} needs the {need} role; you are {} ({})", body.kind(), me.name, me.role));
            false
        }
        _ => true,
    }
}

/// A write to an incident, now (the action's time).
pub(super) fn submit(s: &mut State, id: &str, body: EventBody, if_match: Option<u64>) -> Vec<Effect> {
    let at = s.now;
    submit_at(s, id, body, if_match, at)
}

fn submit_at(
    s: &mut State,
    id: &str,
    body: EventBody,
    if_match: Option<u64>,
    at: chrono::DateTime<chrono::Utc>,
) -> Vec<Effect> {
    if !may(s, &body) {
        return Vec::new();
    }
    if let Some(inc) = s.incidents.get(id)
        && let Err(r) = inc.check(&body, at)
    {
        s.set_error(r.message);
        return Vec::new();
    }
    vec![Effect::Submit(Target::Incident(id.to_string()), NewEvent::at(at, body), if_match)]
}

fn start_entry(s: &mut State, id: &str, kind: EventKind, edit_time: bool) -> Vec<Effect> {
    let Some(probe) = EventBody::entry(kind, "") else { return Vec::new() };
    if !may(s, &probe) {
        return Vec::new();
    }
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
    Vec::new()
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

/// Opens a picker. Status and severity remember the revision the user sees now (If-Match).
pub fn open_picker(s: &mut State, kind: PickKind, incident: String, message: Option<String>) {
    let Some(inc) = s.incidents.get(&incident) else { return };
    let (options, current) = match kind {
        PickKind::Status => (status_options(), Some(inc.status.as_str().to_string())),
        PickKind::Severity => {
            let Some(p) = &s.practice else {
                s.set_error("not connected yet: the severity levels come from the server");
                return;
            };
            let opts =
                p.scheme().levels.iter().map(|l| (l.id.clone(), format!("{} — {}", l.id, l.name))).collect();
            (opts, Some(inc.severity.clone()))
        }
        PickKind::Filter => {
            let cur = s.timelines.get(&incident).and_then(|t| t.filter()).map(|k| k.as_str().to_string());
            (filter_options(), Some(cur.unwrap_or_default()))
        }
        PickKind::Playbook => {
            let opts: Vec<(String, String)> = checklists::playbook_options(s)
                .into_iter()
                .map(|(v, l)| {
                    let attached = inc.playbooks.contains(&v);
                    (v, if attached { format!("{l} (attached)") } else { l })
                })
                .collect();
            if opts.is_empty() {
                s.set_notice("the practice has no playbooks");
                return;
            }
            (opts, None)
        }
        PickKind::Template => {
            let opts = comms::template_options(s, &incident);
            if opts.is_empty() {
                s.set_error("the practice has no comms templates");
                return;
            }
            (opts, comms::suggested_template(s, &incident))
        }
    };
    let probe = match kind {
        PickKind::Status => Some(EventBody::StatusChanged { status: Status::Investigating }),
        PickKind::Severity => Some(EventBody::SeverityChanged { severity: String::new() }),
        PickKind::Playbook => Some(EventBody::PlaybookAttached { playbook: String::new() }),
        PickKind::Filter | PickKind::Template => None,
    };
    if let Some(b) = probe
        && !may(s, &b)
    {
        return;
    }
    let selected = options.iter().position(|(v, _)| Some(v) == current.as_ref()).unwrap_or(0);
    let if_match = s.incidents.get(&incident).map_or(0, |i| i.revision);
    // A template picker only suggests where to start; nothing is "current".
    let current = if kind == PickKind::Template { None } else { current };
    s.overlay =
        Some(Overlay::Picker(Picker { kind, incident, options, selected, current, if_match, message }));
}

fn overlay_action(s: &mut State, action: Action) -> Vec<Effect> {
    let Some(overlay) = s.overlay.take() else { return Vec::new() };
    let (keep, effects) = match overlay {
        Overlay::Composer(c) => composer_action(s, c, action),
        Overlay::Comms(c) => comms::editor_action(s, c, action),
        Overlay::Prompt(p) => prompt_action(s, p, action),
        Overlay::Picker(p) => picker_action(s, p, action),
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
                let text = s
                    .timelines
                    .get(&incident)
                    .and_then(|tl| Some(format::row_detail(tl.find(&id)?, tl, s.time).join("\n")));
                s.set_notice("entry copied to the clipboard");
                (Some(Overlay::Detail { incident, id, scroll }), text.map(Effect::Copy).into_iter().collect())
            }
            _ => (Some(Overlay::Detail { incident, id, scroll }), Vec::new()),
        },
    };
    if s.overlay.is_none() {
        s.overlay = keep;
    }
    effects
}

/// Single-line fields take no newlines.
pub(super) fn single_line_input(t: &mut ratatui_textarea::TextArea<'static>, action: Action) {
    match action {
        Action::Input(k) if matches!(k.code, crossterm::event::KeyCode::Enter) => {}
        Action::Input(k) => {
            t.input(k);
        }
        Action::Paste(p) => {
            t.insert_str(text::line(&p));
        }
        _ => {}
    }
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
                ComposeKind::Correction { .. } => s.set_notice("correction cancelled"),
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
            let effects = submit_at(s, &c.incident.clone(), body, None, c.occurred_at);
            if effects.is_empty() {
                // Refused locally (too long, role): keep the composer open with the reason.
                c.error = s.notice.take().map(|n| n.text);
                return (Some(Overlay::Composer(c)), Vec::new());
            }
            if let ComposeKind::Entry(kind) = c.kind {
                s.drafts.remove(&(c.incident.clone(), kind));
            }
            return (None, effects);
        }
        _ => {}
    }
    (Some(Overlay::Composer(c)), Vec::new())
}

fn prompt_action(s: &mut State, mut p: Prompt, action: Action) -> (Option<Overlay>, Vec<Effect>) {
    let Some(id) = s.room_id().map(str::to_string) else { return (None, Vec::new()) };
    match action {
        Action::Cancel => return (None, Vec::new()),
        Action::Submit => {
            let text = input_text(&p.input);
            match &p.kind {
                PromptKind::Search => {
                    let tl = s.timelines.entry(id).or_default();
                    tl.set_view(tl.filter(), Some(&text));
                    let n = tl.len();
                    s.room.follow = true;
                    if !text.is_empty() {
                        s.set_notice(format!("{n} entries match `{}`; Esc clears", text::line(&text)));
                    }
                    return (None, Vec::new());
                }
                PromptKind::ActionItem | PromptKind::ActionItemOwner { .. } => {
                    return checklists::action_item_prompt(s, &id, p);
                }
                PromptKind::AssignTo { role } => {
                    if text.is_empty() {
                        p.error = Some("type a name".into());
                        return (Some(Overlay::Prompt(p)), Vec::new());
                    }
                    let guard =
                        (role == COMMANDER_ROLE).then(|| s.incidents.get(&id).map_or(0, |i| i.revision));
                    let body = EventBody::RoleAssigned { role: role.clone(), holder: text::line(&text) };
                    return (None, submit(s, &id, body, guard));
                }
            }
        }
        other => single_line_input(&mut p.input, other),
    }
    (Some(Overlay::Prompt(p)), Vec::new())
}

fn picker_action(s: &mut State, mut p: Picker, action: Action) -> (Option<Overlay>, Vec<Effect>) {
    let n = p.options.len();
    match action {
        Action::Up => p.selected = p.selected.saturating_sub(1),
        Action::Down => p.selected = (p.selected + 1).min(n.saturating_sub(1)),
        Action::Top => p.selected = 0,
        Action::Bottom => p.selected = n.saturating_sub(1),
        Action::Cancel => return (None, Vec::new()),
        Action::Submit => {
            let Some((value, _)) = p.options.get(p.selected).cloned() else { return (None, Vec::new()) };
            if p.kind != PickKind::Filter && Some(&value) == p.current.as_ref() {
                s.set_notice(format!("already {value}"));
                return (None, Vec::new());
            }
            let body = match p.kind {
                PickKind::Filter => {
                    let kind = value.parse::<EventKind>().ok();
                    let tl = s.timelines.entry(p.incident.clone()).or_default();
                    let search = tl.search().map(str::to_string);
                    tl.set_view(kind, search.as_deref());
                    s.room.follow = true;
                    return (None, Vec::new());
                }
                PickKind::Status => match value.parse::<Status>() {
                    Ok(status) => EventBody::StatusChanged { status },
                    Err(_) => return (None, Vec::new()),
                },
                PickKind::Severity => EventBody::SeverityChanged { severity: value },
                PickKind::Playbook => return (None, checklists::attach_playbook(s, &p.incident, value)),
                PickKind::Template => return (None, comms::start(s, &p.incident, &value)),
            };
            return (None, submit(s, &p.incident.clone(), body, Some(p.if_match)));
        }
        _ => {}
    }
    (Some(Overlay::Picker(p)), Vec::new())
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
            let body = EventBody::Declared { title, severity, summary: String::new(), group_key: None };
            if let Err(r) = crate::domain::Incident::default().check(&body, s.now) {
                f.error = Some(r.message);
                return (Some(Overlay::Declare(f)), Vec::new());
            }
            if !may(s, &body) {
                f.error = s.notice.take().map(|n| n.text);
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
