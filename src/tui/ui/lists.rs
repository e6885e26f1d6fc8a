//! The roster (every role of the scheme's role set: holder, since when, gaps highlighted) and
//! the checklists (scheme checklists and attached playbooks: state, who ticked, when).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Ctx, cell};
use crate::domain::{EventBody, text};
use crate::tui::format;
use crate::tui::state::{CheckRow, State};
use crate::tui::theme::Role;

/// First visible row so that `sel` is in a window of `h` rows.
fn offset_for(sel: usize, h: usize) -> usize {
    if sel < h { 0 } else { sel + 1 - h }
}

pub fn roster(frame: &mut Frame<'_>, area: Rect, s: &State, id: &str, focused: bool, cx: &Ctx<'_>) {
    let t = cx.theme;
    let Some(inc) = s.incidents.get(id) else { return };
    let rows = s.roster_rows(inc);
    if rows.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled("no role set (waiting for the server)", t.style(Role::Muted))),
            area,
        );
        return;
    }
    let w = area.width as usize;
    let name_w = if w >= 60 { 22 } else { 5 };
    let sel = s.room.roster_sel.min(rows.len() - 1);
    let h = area.height as usize;
    let lines: Vec<Line<'_>> = rows
        .iter()
        .enumerate()
        .skip(offset_for(sel, h))
        .take(h)
        .map(|(i, r)| {
            let selected = focused && i == sel;
            let st = |role: Role| {
                if selected { t.style(role).patch(t.style(Role::Selection)) } else { t.style(role) }
            };
            let label = if name_w > 5 { text::line(r.name) } else { text::line(r.short) };
            let mut spans = vec![cell(&label, name_w, st(Role::Accent)), Span::styled(" ", st(Role::Text))];
            if r.holders.is_empty() {
                spans.push(Span::styled("— unheld", st(Role::Unheld)));
            } else {
                let holders: Vec<String> = r
                    .holders
                    .iter()
                    .map(|h| format!("{} (since {})", text::line(&h.holder), format::time(h.since, s.time)))
                    .collect();
                spans.push(Span::styled(holders.join(", "), st(Role::Text)));
            }
            Line::from(spans)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

pub fn checklists(frame: &mut Frame<'_>, area: Rect, s: &State, id: &str, focused: bool, cx: &Ctx<'_>) {
    let t = cx.theme;
    let Some(inc) = s.incidents.get(id) else { return };
    let rows = s.checklist_rows(inc);
    if rows.is_empty() {
        frame.render_widget(Paragraph::new(Span::styled("no checklists", t.style(Role::Muted))), area);
        return;
    }
    // Position of the selected item among all rows.
    let mut item_i = 0;
    let mut sel_row = 0;
    let n_items = rows.iter().filter(|r| matches!(r, CheckRow::Item { .. })).count();
    let want = s.room.check_sel.min(n_items.saturating_sub(1));
    for (i, r) in rows.iter().enumerate() {
        if let CheckRow::Item { .. } = r {
            if item_i == want {
                sel_row = i;
            }
            item_i += 1;
        }
    }
    let pending: Vec<(&str, &str)> = s
        .timeline(id)
        .map(|tl| {
            tl.pending()
                .iter()
                .filter_map(|p| match &p.body {
                    EventBody::ChecklistItemSet { checklist, item, .. } => {
                        Some((checklist.as_str(), item.as_str()))
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let h = area.height as usize;
    let w = area.width as usize;
    let lines: Vec<Line<'_>> = rows
        .iter()
        .enumerate()
        .skip(offset_for(sel_row, h))
        .take(h)
        .map(|(i, r)| match r {
            CheckRow::Heading(name) => Line::from(Span::styled(text::line(name), t.style(Role::Header))),
            CheckRow::Item { checklist, item, text: label } => {
                let selected = focused && i == sel_row;
                let st = |role: Role| {
                    if selected { t.style(role).patch(t.style(Role::Selection)) } else { t.style(role) }
                };
                let state = inc.item_done(checklist, item);
                let is_pending = pending.iter().any(|(c, it)| c == checklist && it == item);
                let done = state.is_some_and(|x| x.done);
                let (mark, role) = if is_pending {
                    ("[~]", Role::Pending)
                } else if done {
                    ("[x]", Role::Done)
                } else {
                    ("[ ]", Role::Text)
                };
                let who = state.map(|x| format!(" — {} {}", text::line(&x.by), format::time(x.at, s.time)));
                let who_w = who.as_ref().map_or(0, |x| unicode_width::UnicodeWidthStr::width(x.as_str()));
                let text_w = w.saturating_sub(4 + who_w).max(10);
                let mut spans = vec![
                    Span::styled(mark, st(role)),
                    Span::styled(" ", st(Role::Text)),
                    cell(
                        &text::line(label),
                        text_w.min(w.saturating_sub(4)),
                        st(if done { Role::Muted } else { Role::Text }),
                    ),
                ];
                if let Some(who) = who {
                    spans.push(Span::styled(who, st(Role::Muted)));
                }
                Line::from(spans).style(if selected { t.style(Role::Selection) } else { Style::new() })
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}
