//! Status updates and the post-mortem from the war room. `C` picks one of the practice's comms
//! templates, fills it (`domain::comms::draft`) and opens it in a multi-line editor; from there
//! the draft is copied (OSC 52) and/or recorded as `comms_sent` to a channel (defaulting to
//! `comms::channel_name`), which restarts the status-update timer. A closed editor with edits
//! is kept as a draft per incident. `M` copies the rendered post-mortem Markdown.
//!
//! Drafting and rendering read the incident's whole log, so they run only on these key
//! presses, never while drawing.

use super::overlay::{CommsEditor, input_text, new_input, single_line_input};
use super::write::{Refusal, may, submit};
use super::{Effect, Overlay, State};
use crate::domain::{EventBody, comms, postmortem, text};
use crate::tui::action::Action;

/// Picker value that reopens the kept draft.
pub const KEPT_DRAFT: &str = "";

/// The template picker's options: the kept draft (if any), then the practice's comms
/// templates (`comms::templates`: known ones first; never the post-mortem template).
pub fn template_options(s: &State, incident: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(d) = s.comms_drafts.get(incident) {
        let name = crate::tui::format::template_title(&d.template, s.practice.as_ref());
        out.push((KEPT_DRAFT.to_string(), format!("continue the kept {name} draft")));
    }
    if let Some(p) = &s.practice {
        out.extend(comms::templates(p));
    }
    out
}

/// The template a picker starts on: the kept draft, else the resolution notice once resolved.
pub fn suggested_template(s: &State, incident: &str) -> Option<String> {
    if s.comms_drafts.contains_key(incident) {
        return Some(KEPT_DRAFT.to_string());
    }
    let resolved = s.incidents.get(incident).is_some_and(|i| !i.is_open());
    Some(if resolved { "resolution" } else { "internal-alert" }.to_string())
}

/// Picker choice: draft the template for the incident (or reopen the kept draft) in the editor.
pub fn start(s: &mut State, incident: &str, template: &str) -> Vec<Effect> {
    if template == KEPT_DRAFT {
        if let Some(c) = s.comms_drafts.remove(incident) {
            s.set_notice("draft restored");
            s.overlay = Some(Overlay::Comms(c));
        }
        return Vec::new();
    }
    let (Some(p), Some(inc)) = (&s.practice, s.incidents.get(incident)) else {
        s.set_error("not connected yet: templates come from the server");
        return Vec::new();
    };
    let events = s.timelines.get(incident).map(|t| t.events().to_vec()).unwrap_or_default();
    let Some(draft) = comms::draft(p, template, inc, &events, s.now) else {
        s.set_error(format!("the practice has no `{}` template", text::line(template)));
        return Vec::new();
    };
    let plain = s.plain || s.ascii;
    let lines: Vec<String> =
        draft.trim_end().lines().map(|l| if plain { without_emoji(l) } else { l.to_string() }).collect();
    let mut input = new_input(lines);
    let drafted = input_text(&input);
    input.move_cursor(ratatui_textarea::CursorMove::Top);
    input.move_cursor(ratatui_textarea::CursorMove::Head);
    s.overlay = Some(Overlay::Comms(CommsEditor {
        incident: incident.to_string(),
        template: template.to_string(),
        input,
        drafted,
        channel: None,
        error: None,
    }));
    Vec::new()
}

/// A line without pictographs (emoji, their joiners and variation selectors), for consoles
/// without colour: `🚨 INCIDENT ALERT` becomes `INCIDENT ALERT`.
pub fn without_emoji(line: &str) -> String {
    let emoji =
        |c: char| matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0xFE0F | 0x200D);
    let mut out = String::with_capacity(line.len());
    let mut dropped = false;
    for c in line.chars() {
        if emoji(c) {
            dropped = true;
            continue;
        }
        // The space that followed a dropped pictograph at the start or after a space goes too.
        if dropped && c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        dropped = false;
        out.push(c);
    }
    out
}

/// A key in the comms editor (or its channel field).
pub fn editor_action(s: &mut State, mut c: CommsEditor, action: Action) -> (Option<Overlay>, Vec<Effect>) {
    if let Some(mut ch) = c.channel.take() {
        match action {
            Action::Cancel => c.error = None,
            Action::Submit => {
                let channel = text::line(&input_text(&ch)).trim().to_string();
                if channel.is_empty() {
                    c.error =
                        Some("type the channel the update went to (e.g. #incident-…, status page)".into());
                    c.channel = Some(ch);
                    return (Some(Overlay::Comms(c)), Vec::new());
                }
                let body = EventBody::CommsSent {
                    channel: channel.clone(),
                    text: input_text(&c.input),
                    template: Some(c.template.clone()),
                };
                let effect = match submit(s, &c.incident, body, None) {
                    Ok(effect) => effect,
                    Err(Refusal(why)) => {
                        // Refused locally (too long, role): keep the editor open with the
                        // reason (in the editor only: the status line is cleared).
                        c.error = Some(why);
                        s.notice = None;
                        return (Some(Overlay::Comms(c)), Vec::new());
                    }
                };
                s.set_notice(format!(
                    "update recorded as sent to {channel}: the status-update timer restarts"
                ));
                return (None, vec![effect]);
            }
            other => {
                single_line_input(&mut ch, other);
                c.channel = Some(ch);
            }
        }
        return (Some(Overlay::Comms(c)), Vec::new());
    }
    match action {
        Action::Input(k) => {
            c.input.input(k);
        }
        Action::Paste(p) => {
            c.input.insert_str(text::sanitize(&p, true));
        }
        Action::Newline => c.input.insert_newline(),
        Action::Copy => {
            let t = input_text(&c.input);
            if t.is_empty() {
                c.error = Some("nothing to copy".into());
            } else {
                c.error = None;
                let name = crate::tui::format::template_title(&c.template, s.practice.as_ref());
                s.set_notice(format!("{name} draft copied to the clipboard"));
                return (Some(Overlay::Comms(c)), vec![Effect::Copy(t)]);
            }
        }
        Action::SendComms => {
            if input_text(&c.input).is_empty() {
                c.error = Some("nothing to record: the update is empty".into());
                return (Some(Overlay::Comms(c)), Vec::new());
            }
            let probe = EventBody::CommsSent { channel: String::new(), text: String::new(), template: None };
            if let Err(Refusal(why)) = may(s, &probe) {
                c.error = Some(why);
                s.notice = None;
                return (Some(Overlay::Comms(c)), Vec::new());
            }
            // A customer update goes to the status page; the others to the incident channel.
            let default = if c.template == "customer" {
                "status page".to_string()
            } else {
                s.incidents.get(&c.incident).map(comms::channel_name).unwrap_or_default()
            };
            c.channel = Some(new_input(vec![default]));
            c.error = None;
        }
        Action::Cancel => {
            let text = input_text(&c.input);
            if text.is_empty() || text == c.drafted {
                // Nothing typed: the template drafts the same again.
                s.comms_drafts.remove(&c.incident);
            } else {
                s.set_notice("comms draft kept: C continues it");
                s.comms_drafts.insert(c.incident.clone(), c);
            }
            return (None, Vec::new());
        }
        _ => {}
    }
    (Some(Overlay::Comms(c)), Vec::new())
}

/// `M`: the post-mortem of the incident as Markdown, on the clipboard.
pub fn copy_postmortem(s: &mut State, incident: &str) -> Vec<Effect> {
    let (Some(p), Some(inc)) = (&s.practice, s.incidents.get(incident)) else {
        s.set_error("not connected yet: the post-mortem template comes from the server");
        return Vec::new();
    };
    let Some(tl) = s.timelines.get(incident).filter(|t| t.loaded) else {
        s.set_error("the timeline is still loading: try again in a moment");
        return Vec::new();
    };
    let md = postmortem::render(p, inc, &tl.events().to_vec());
    let lines = md.lines().count();
    s.set_notice(format!("post-mortem copied to the clipboard ({lines} lines of Markdown)"));
    vec![Effect::Copy(md)]
}
