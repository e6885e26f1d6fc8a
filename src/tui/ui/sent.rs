//! The Comms pane: every `comms_sent` of the incident, newest first: time, template, channel
//! and who; the first line of its text (a correction's, marked); then per notification target
//! its delivery state (`state::sent`). Only the comms in view are drawn.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Ctx, cell, fit};
use crate::domain::{EventBody, text};
use crate::tui::format;
use crate::tui::state::State;
use crate::tui::state::sent::{DeliveryState, Sent, SentLog};
use crate::tui::theme::Role;

fn log<'a>(s: &'a State, id: &str) -> Option<&'a SentLog> {
    s.sent.as_ref().filter(|l| l.incident == id)
}

/// In replay of this incident: the cursor's time (nothing after it shows).
fn cutoff(s: &State, id: &str) -> Option<DateTime<Utc>> {
    let r = s.replay.as_ref().filter(|r| r.incident == id)?;
    Some(r.cursor.time().unwrap_or(DateTime::<Utc>::MIN_UTC))
}

/// The comms shown, oldest first, and the time their states are read at.
fn shown<'a>(s: &'a State, id: &str) -> (Vec<&'a Sent>, Option<DateTime<Utc>>, DateTime<Utc>) {
    let cut = cutoff(s, id);
    let comms = log(s, id).map_or(&[][..], |l| &l.comms[..]);
    let comms = comms.iter().filter(|c| cut.is_none_or(|t| c.at <= t)).collect();
    (comms, cut, cut.unwrap_or(s.now))
}

/// ` Comms sent (3 · 1 retrying) `.
pub fn title(s: &State, id: &str) -> String {
    let (comms, cut, now) = shown(s, id);
    let mut retrying = 0;
    let mut gave_up = 0;
    for t in comms.iter().flat_map(|c| c.targets_at(cut)) {
        match t.state(now) {
            DeliveryState::Retrying { .. } | DeliveryState::Sending { .. } => retrying += 1,
            DeliveryState::GaveUp { .. } => gave_up += 1,
            DeliveryState::Delivered { .. } => {}
        }
    }
    let mut t = format!(" Comms sent ({}", comms.len());
    if retrying > 0 {
        t.push_str(&format!(" · {retrying} retrying"));
    }
    if gave_up > 0 {
        t.push_str(&format!(" · {gave_up} failed"));
    }
    t.push_str(") ");
    t
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, s: &State, id: &str, focused: bool, cx: &Ctx<'_>) {
    let t = cx.theme;
    let w = usize::from(area.width);
    let h = usize::from(area.height);
    let pending = if cutoff(s, id).is_some() {
        0
    } else {
        s.timeline(id).map_or(0, |tl| {
            tl.pending().iter().filter(|p| matches!(p.body, EventBody::CommsSent { .. })).count()
        })
    };
    let mut lines: Vec<Line<'_>> = Vec::new();
    if pending > 0 {
        let msg = format!("{pending} update(s) queued here, not yet on the server");
        lines.push(Line::from(Span::styled(fit(&msg, w), t.style(Role::Pending))));
    }
    let (comms, cut, now) = shown(s, id);
    if comms.is_empty() && pending == 0 {
        let key = cx.keys.key_for(crate::tui::keymap::Context::WarRoom, &crate::tui::action::Action::Comms);
        let hint = match key {
            Some(k) => format!("no comms sent yet ({k} drafts one)"),
            None => "no comms sent yet".to_string(),
        };
        frame.render_widget(Paragraph::new(Span::styled(fit(&hint, w), t.style(Role::Muted))), area);
        return;
    }
    let sel = s.room.comms_sel.min(comms.len().saturating_sub(1));
    // The selected comms is the first in view: newest first, scrolled by the selection.
    for (i, c) in comms.iter().rev().enumerate().skip(sel) {
        if lines.len() >= h {
            break;
        }
        lines.extend(comms_lines(c, (cut, now), s, id, w, focused && i == sel, cx));
    }
    lines.truncate(h);
    super::direct::render_lines(frame.buffer_mut(), area, lines);
}

fn comms_lines<'a>(
    c: &Sent,
    (cut, now): (Option<DateTime<Utc>>, DateTime<Utc>),
    s: &State,
    id: &str,
    w: usize,
    selected: bool,
    cx: &Ctx<'_>,
) -> Vec<Line<'a>> {
    let t = cx.theme;
    let st =
        |role: Role| if selected { t.style(role).patch(t.style(Role::Selection)) } else { t.style(role) };
    let at = format::time(c.at, s.time);
    let hhmm = at.get(..5).unwrap_or(&at).to_string();
    let what = c.template.as_deref().map(|tp| format::template_title(tp, s.practice.as_ref()));
    let mut head = format!(" → {}", text::line(&c.channel));
    if let Some(what) = what {
        head = format!(" {}{head}", text::line(&what));
    }
    let by = format!(" · {}", text::line(&c.author));
    let head_w = w.saturating_sub(hhmm.len() + by.chars().count()).max(8).min(w.saturating_sub(hhmm.len()));
    let mut out = vec![Line::from(vec![
        Span::styled(hhmm.clone(), st(Role::Accent)),
        cell(&head, head_w, st(Role::Text)),
        Span::styled(fit(&by, w.saturating_sub(hhmm.len() + head_w)), st(Role::Muted)),
    ])];
    // The corrected text, when there is one.
    let known = cut.map(crate::tui::timeline::Known::At);
    let corrected = s.timeline(id).and_then(|tl| tl.corrected_text_upto(&c.id, known));
    let body = corrected.unwrap_or(&c.text);
    let first = body.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let mut spans = vec![Span::raw("  ")];
    if corrected.is_some() {
        spans.push(Span::styled("(corrected) ", t.style(Role::Corrected)));
    }
    let used: usize = spans.iter().map(Span::width).sum();
    spans.push(Span::styled(fit(&text::line(first), w.saturating_sub(used)), t.style(Role::Text)));
    out.push(Line::from(spans));
    let targets = c.targets_at(cut);
    if targets.is_empty() {
        out.push(Line::from(Span::styled(fit("  no delivery reported", w), t.style(Role::Muted))));
    }
    let name_w = targets.iter().map(|x| x.name.chars().count()).max().unwrap_or(0).min(w / 3);
    for target in targets {
        let state = target.state(now);
        let role = match state {
            DeliveryState::Delivered { .. } => Role::Ok,
            DeliveryState::Retrying { .. } | DeliveryState::Sending { .. } => Role::Warning,
            DeliveryState::GaveUp { .. } => Role::Error,
        };
        let mark = match state {
            DeliveryState::Delivered { .. } => "✓",
            DeliveryState::GaveUp { .. } => "✕",
            _ => "…",
        };
        let name = format!("  {mark} {}", fit(&text::line(&target.name), name_w));
        let name = format!("{name:<width$} ", width = name_w + 4);
        let used = name.chars().count();
        out.push(Line::from(vec![
            Span::styled(name, t.style(Role::Muted)),
            Span::styled(fit(&text::line(&state.label()), w.saturating_sub(used)), t.style(role)),
        ]));
    }
    out
}
