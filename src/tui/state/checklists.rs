//! The checklists pane's reducers: moving, ticking items (incident checklists and attached
//! playbook groups), copying an item's command, attaching a playbook, and the incident's
//! action items (add: text then owner; toggle done).

use super::overlay::{Prompt, PromptKind, new_input};
use super::write::{Refusal, may, submit};
use super::{CheckRow, Effect, Overlay, State, step};
use crate::domain::{EventBody, Priority, text};
use crate::tui::action::Action;

/// Keys of the focused checklists pane.
pub fn checklist_action(s: &mut State, id: &str, action: Action) -> Result<Vec<Effect>, Refusal> {
    let Some(inc) = s.incidents.get(id) else { return Ok(Vec::new()) };
    let n = s.checklist_rows(inc).iter().filter(|r| r.selectable()).count();
    match action {
        Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
            s.room.check_sel = step(s.room.check_sel, n, &action, 10);
        }
        Action::Toggle => {
            let body = match s.checklist_selected(inc) {
                Some(CheckRow::Item { checklist, item, .. }) => {
                    let done = !inc.item_done(&checklist, &item.id).is_some_and(|st| st.done);
                    EventBody::ChecklistItemSet { checklist, item: item.id.clone(), done }
                }
                Some(CheckRow::ActionItem(ai)) => EventBody::ActionItemUpdated {
                    item: ai.id,
                    text: None,
                    owner: None,
                    due: None,
                    priority: None,
                    done: Some(!ai.done),
                },
                _ => return Ok(Vec::new()),
            };
            return Ok(vec![submit(s, id, body, None)?]);
        }
        Action::Copy => {
            let what = match s.checklist_selected(inc) {
                Some(CheckRow::Item { item, .. }) => item
                    .command
                    .as_deref()
                    .map(|c| ("command", c))
                    .or_else(|| item.link.as_deref().map(|l| ("link", l))),
                Some(CheckRow::ActionItem(ai)) => Some(("action item", ai.text.as_str())),
                _ => None,
            };
            let Some((label, value)) = what.map(|(l, v)| (l, text::sanitize(v, true))) else {
                s.set_notice("this item has no command to copy");
                return Ok(Vec::new());
            };
            s.set_notice(format!("{label} copied to the clipboard: {}", text::line(&value)));
            return Ok(vec![Effect::Copy(value)]);
        }
        _ => {}
    }
    Ok(Vec::new())
}

/// `A`: asks for a new action item's text.
pub fn start_action_item(s: &mut State) -> Result<(), Refusal> {
    let probe = EventBody::ActionItemAdded {
        text: String::new(),
        owner: None,
        due: None,
        priority: Priority::default(),
    };
    may(s, &probe)?;
    let mut input = new_input(Vec::new());
    input.set_placeholder_text("what should be done (a follow-up, not a timeline entry)");
    s.overlay = Some(Overlay::Prompt(Prompt { kind: PromptKind::ActionItem, input, error: None }));
    Ok(())
}

/// Enter in an action-item prompt: the text asks for the owner next; the owner (optional)
/// records the item.
pub fn action_item_prompt(
    s: &mut State,
    id: &str,
    mut p: Prompt,
) -> Result<(Option<Overlay>, Vec<Effect>), Refusal> {
    let typed = text::line(&super::overlay::input_text(&p.input)).trim().to_string();
    match p.kind {
        PromptKind::ActionItem => {
            if typed.is_empty() {
                p.error = Some("type what should be done, or Esc to cancel".into());
                return Ok((Some(Overlay::Prompt(p)), Vec::new()));
            }
            let mut input = new_input(Vec::new());
            input.set_placeholder_text("owner (optional: Enter to leave unassigned)");
            let next = Prompt { kind: PromptKind::ActionItemOwner { text: typed }, input, error: None };
            Ok((Some(Overlay::Prompt(next)), Vec::new()))
        }
        PromptKind::ActionItemOwner { text } => {
            let owner = (!typed.is_empty()).then_some(typed);
            let body = EventBody::ActionItemAdded { text, owner, due: None, priority: Priority::default() };
            let effect = submit(s, id, body, None)?;
            s.set_notice("action item added (checklists pane)");
            Ok((None, vec![effect]))
        }
        _ => Ok((Some(Overlay::Prompt(p)), Vec::new())),
    }
}

/// Picker choice: attach a playbook (its groups join the checklists pane).
pub fn attach_playbook(s: &mut State, id: &str, playbook: String) -> Result<Vec<Effect>, Refusal> {
    let name = s
        .practice
        .as_ref()
        .and_then(|p| p.playbook(&playbook))
        .map_or(playbook.clone(), |pb| pb.name.clone());
    if s.incidents.get(id).is_some_and(|i| i.playbooks.contains(&playbook)) {
        s.set_notice(format!("playbook {} is already attached", text::line(&name)));
        return Ok(Vec::new());
    }
    let effect = submit(s, id, EventBody::PlaybookAttached { playbook }, None)?;
    s.set_notice(format!(
        "playbook {} attached: its steps follow the incident checklists",
        text::line(&name)
    ));
    Ok(vec![effect])
}

/// The practice's playbooks as picker options (id, `name — description`).
pub fn playbook_options(s: &State) -> Vec<(String, String)> {
    s.practice
        .as_ref()
        .map(|p| {
            p.playbooks
                .iter()
                .map(|pb| {
                    let label = if pb.description.is_empty() {
                        pb.name.clone()
                    } else {
                        format!("{} — {}", pb.name, pb.description)
                    };
                    (pb.id.clone(), label)
                })
                .collect()
        })
        .unwrap_or_default()
}
