//! Centred popups: pickers (status, severity, kind filter, playbook, comms template), one-line
//! prompts (search, assign, action item), the declare form, an entry's detail (full text,
//! original and corrections) and the comms editor.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use uuid::Uuid;

use super::composer::hints;
use super::{Ctx, centered};
use crate::domain::text;
use crate::tui::format;
use crate::tui::keymap::Context;
use crate::tui::state::{CommsEditor, DeclareForm, PickKind, Picker, Prompt, PromptKind, State};
use crate::tui::theme::Role;

fn frame_block<'a>(title: String, ctx: Context, cx: &Ctx<'_>) -> Block<'a> {
    let t = cx.theme;
    Block::bordered()
        .border_style(t.style(Role::BorderFocus))
        .title(Span::styled(title, t.style(Role::Title)))
        .title_bottom(Span::styled(format!(" {} ", hints(cx, ctx)), t.style(Role::Muted)))
}

pub fn picker(frame: &mut Frame<'_>, area: Rect, p: &Picker, cx: &Ctx<'_>) {
    let t = cx.theme;
    let title = match p.kind {
        PickKind::Status => " Status ",
        PickKind::Severity => " Severity ",
        PickKind::Filter => " Show kind ",
        PickKind::Playbook => " Attach a playbook ",
        PickKind::Template => " Draft a status update from ",
    };
    let width = if matches!(p.kind, PickKind::Playbook) { 90 } else { 56 };
    // The message wraps at words: room for its lines (and one for the wrap's slack).
    let inner_w = usize::from(width.min(area.width).saturating_sub(2)).max(1);
    let msg_h = p.message.as_ref().map_or(0, |m| (m.chars().count().div_ceil(inner_w) + 1).min(6) as u16);
    let h = (p.options.len() as u16 + 2 + msg_h).min(area.height.saturating_sub(2));
    let r = centered(area, width, h);
    let block = frame_block(title.to_string(), Context::Picker, cx);
    let inner = block.inner(r);
    frame.render_widget(Clear, r);
    frame.render_widget(block, r);
    let [msg, list] = Layout::vertical([Constraint::Length(msg_h), Constraint::Min(1)]).areas(inner);
    if let Some(m) = &p.message {
        frame.render_widget(
            Paragraph::new(Span::styled(text::line(m), t.style(Role::Error))).wrap(Wrap { trim: true }),
            msg,
        );
    }
    let hgt = list.height as usize;
    let offset = if p.selected < hgt { 0 } else { p.selected + 1 - hgt };
    let lines: Vec<Line<'_>> = p
        .options
        .iter()
        .enumerate()
        .skip(offset)
        .take(hgt)
        .map(|(i, (value, label))| {
            let current = p.current.as_deref() == Some(value.as_str());
            let mark = if current { "• " } else { "  " };
            let suffix = if current { "  (now)" } else { "" };
            let style = if i == p.selected { t.style(Role::Selection) } else { t.style(Role::Text) };
            Line::from(Span::styled(format!("{mark}{}{suffix}", text::line(label)), style))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list);
}

pub fn prompt(frame: &mut Frame<'_>, area: Rect, p: &Prompt, cx: &Ctx<'_>) {
    let t = cx.theme;
    let title = match &p.kind {
        PromptKind::Search { .. } => " Search the timeline ".to_string(),
        PromptKind::AssignTo { name, .. } => format!(" Who takes the role {}? ", text::line(name)),
        PromptKind::ActionItem => " New action item ".to_string(),
        PromptKind::ActionItemOwner { text: t } => format!(" Owner of: {} ", text::line(t)),
    };
    let h = 3 + u16::from(p.error.is_some());
    let r = centered(area, 72, h);
    let block = frame_block(title, Context::Prompt, cx);
    let inner = block.inner(r);
    frame.render_widget(Clear, r);
    frame.render_widget(block, r);
    let [field, err] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(u16::from(p.error.is_some()))])
            .areas(inner);
    frame.render_widget(&p.input, field);
    if let Some(e) = &p.error {
        frame.render_widget(Paragraph::new(Span::styled(e.clone(), t.style(Role::Error))), err);
    }
}

pub fn declare(frame: &mut Frame<'_>, area: Rect, f: &DeclareForm, s: &State, cx: &Ctx<'_>) {
    let t = cx.theme;
    let levels = s.practice.as_ref().map(|p| p.scheme().levels.as_slice()).unwrap_or(&[]);
    let h = (levels.len() as u16 + 6 + u16::from(f.error.is_some())).min(area.height);
    let r = centered(area, 72, h);
    let block = frame_block(" Declare an incident ".into(), Context::Form, cx);
    let inner = block.inner(r);
    frame.render_widget(Clear, r);
    frame.render_widget(block, r);
    let [l1, field, l2, list, err] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(u16::from(f.error.is_some())),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(Span::styled("Title", t.style(Role::Accent))), l1);
    frame.render_widget(&f.title, field);
    frame.render_widget(Paragraph::new(Span::styled("Severity (↑↓)", t.style(Role::Accent))), l2);
    let lines: Vec<Line<'_>> = levels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let chosen = i == f.severity;
            let badge = Span::styled(format!(" {} ", text::line(&l.id)), t.severity(i));
            let label = format!(" {} — {}", text::line(&l.name), text::line(&l.definition));
            let style = if chosen { t.style(Role::Selection) } else { t.style(Role::Text) };
            Line::from(vec![Span::raw(if chosen { "▸ " } else { "  " }), badge, Span::styled(label, style)])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list);
    if let Some(e) = &f.error {
        frame.render_widget(Paragraph::new(Span::styled(e.clone(), t.style(Role::Error))), err);
    }
}

pub fn detail(
    frame: &mut Frame<'_>,
    area: Rect,
    s: &State,
    incident: &str,
    id: Uuid,
    scroll: u16,
    cx: &Ctx<'_>,
) {
    let t = cx.theme;
    let Some(tl) = s.timeline(incident) else { return };
    let Some(row) = tl.find(&id) else { return };
    let lines: Vec<Line<'_>> = format::row_detail(row, tl, s.time, s.practice.as_ref())
        .into_iter()
        .map(|l| {
            let style = if l.ends_with(':') && !l.starts_with(' ') {
                t.style(Role::Header)
            } else {
                t.style(Role::Text)
            };
            Line::from(Span::styled(l, style))
        })
        .collect();
    let w = 90.min(area.width.saturating_sub(2));
    let h = (lines.len() as u16 + 4).clamp(8, area.height.saturating_sub(2));
    let r = centered(area, w, h);
    let block = frame_block(" Entry ".into(), Context::Popup, cx);
    frame.render_widget(Clear, r);
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }).scroll((scroll, 0)), r);
}

/// The comms editor: the drafted update (editable, multi-line), then the channel field while
/// recording it as sent.
pub fn comms(frame: &mut Frame<'_>, area: Rect, c: &CommsEditor, s: &State, cx: &Ctx<'_>) {
    let t = cx.theme;
    let w = 100.min(area.width.saturating_sub(2));
    let lines = c.input.lines().len() as u16;
    let extra = u16::from(c.channel.is_some()) + u16::from(c.error.is_some());
    let h = (lines + extra + 3).clamp(8, area.height.saturating_sub(2));
    let r = centered(area, w, h);
    let ctx = if c.channel.is_some() { Context::Prompt } else { Context::Comms };
    let name = crate::tui::format::template_title(&c.template, s.practice.as_ref());
    let title = format!(" {} draft for {} ", text::line(&name), text::line(&c.incident));
    let block = frame_block(title, ctx, cx);
    let inner = block.inner(r);
    frame.render_widget(Clear, r);
    frame.render_widget(block, r);
    let [body, channel, err] = crate::tui::state::layout::stack(
        inner,
        [0, u16::from(c.channel.is_some()), u16::from(c.error.is_some())],
        0,
    );
    frame.render_widget(&c.input, body);
    if let Some(ch) = &c.channel {
        let label = "sent to channel: ";
        let lw = (label.len() as u16).min(channel.width);
        let l = Rect { width: lw, ..channel };
        let f = Rect { x: channel.x + lw, width: channel.width - lw, ..channel };
        frame.render_widget(Paragraph::new(Span::styled(label, t.style(Role::Accent))), l);
        frame.render_widget(ch, f);
    }
    if let Some(e) = &c.error {
        frame.render_widget(Paragraph::new(Span::styled(e.clone(), t.style(Role::Error))), err);
    }
}
