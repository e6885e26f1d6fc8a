//! Pickers: opening one (status, severity, kind filter, playbook, comms template; status and
//! severity remember the revision the user sees, for `If-Match`) and its keys. The war room
//! opens them, and so does a refused, stale change (`net`), to ask again.

use super::overlay::{PickKind, Picker, filter_options, status_options};
use super::write::{Refusal, may, submit};
use super::{Effect, Overlay, State, checklists, comms, confirm};
use crate::domain::{EventBody, EventKind, Status};
use crate::tui::action::Action;

/// Opens a picker. Status and severity remember the revision the user sees now (If-Match).
pub fn open_picker(
    s: &mut State,
    kind: PickKind,
    incident: String,
    message: Option<String>,
) -> Result<(), Refusal> {
    let Some(inc) = s.incidents.get(&incident) else { return Ok(()) };
    let (options, current) = match kind {
        PickKind::Status => (status_options(), Some(inc.status.as_str().to_string())),
        PickKind::Severity => {
            let Some(p) = &s.practice else {
                s.set_error("not connected yet: the severity levels come from the server");
                return Ok(());
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
                return Ok(());
            }
            (opts, None)
        }
        PickKind::Template => {
            let opts = comms::template_options(s, &incident);
            if opts.is_empty() {
                s.set_error("the practice has no comms templates");
                return Ok(());
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
    if let Some(b) = probe {
        may(s, &b)?;
    }
    let selected = options.iter().position(|(v, _)| Some(v) == current.as_ref()).unwrap_or(0);
    let if_match = s.incidents.get(&incident).map_or(0, |i| i.revision);
    // A template picker only suggests where to start; nothing is "current".
    let current = if kind == PickKind::Template { None } else { current };
    s.overlay = Some(Overlay::Picker(Picker {
        kind,
        incident,
        options,
        selected,
        current,
        if_match,
        message,
        armed: None,
    }));
    Ok(())
}

/// A key in an open picker. Enter applies the choice: a filter here, a playbook or comms
/// template in their modules, a status or severity as a guarded write.
pub fn picker_action(
    s: &mut State,
    mut p: Picker,
    action: Action,
) -> Result<(Option<Overlay>, Vec<Effect>), Refusal> {
    let n = p.options.len();
    if matches!(action, Action::Up | Action::Down | Action::Top | Action::Bottom) && p.armed.take().is_some()
    {
        p.message = None;
    }
    match action {
        Action::Up => p.selected = p.selected.saturating_sub(1),
        Action::Down => p.selected = (p.selected + 1).min(n.saturating_sub(1)),
        Action::Top => p.selected = 0,
        Action::Bottom => p.selected = n.saturating_sub(1),
        Action::Cancel => return Ok((None, Vec::new())),
        Action::Submit => {
            let Some((value, _)) = p.options.get(p.selected).cloned() else { return Ok((None, Vec::new())) };
            if p.kind != PickKind::Filter && Some(&value) == p.current.as_ref() {
                s.set_notice(format!("already {value}"));
                return Ok((None, Vec::new()));
            }
            let body = match p.kind {
                PickKind::Filter => {
                    let kind = value.parse::<EventKind>().ok();
                    let tl = s.timelines.entry(p.incident.clone()).or_default();
                    let search = tl.search().map(str::to_string);
                    tl.set_view(kind, search.as_deref());
                    s.room.follow = true;
                    return Ok((None, Vec::new()));
                }
                PickKind::Status | PickKind::Severity
                    if p.armed.as_ref() != Some(&value)
                        && let Some(why) = confirm::warning(s, &p.incident, &p.kind, &value) =>
                {
                    // Ask once: the picker stays open with what the change leaves open.
                    p.armed = Some(value);
                    p.message = Some(why);
                    return Ok((Some(Overlay::Picker(p)), Vec::new()));
                }
                PickKind::Status => match value.parse::<Status>() {
                    Ok(status) => EventBody::StatusChanged { status },
                    Err(_) => return Ok((None, Vec::new())),
                },
                PickKind::Severity => EventBody::SeverityChanged { severity: value },
                PickKind::Playbook => return Ok((None, checklists::attach_playbook(s, &p.incident, value)?)),
                PickKind::Template => return Ok((None, comms::start(s, &p.incident, &value))),
            };
            return Ok((None, vec![submit(s, &p.incident, body, Some(p.if_match))?]));
        }
        _ => {}
    }
    Ok((Some(Overlay::Picker(p)), Vec::new()))
}
