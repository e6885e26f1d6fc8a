//! The roster (every role of the scheme's role set: holder, since when, gaps highlighted) and
//! the checklists (scheme checklists and attached playbooks: state, who ticked, when; sub-items
//! indented, `$` on items with a command to copy), then the incident's action items.

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
    let Some(inc) = s.shown_incident(id) else { return };
    let rows = s.roster_rows(inc);
    if rows.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled("no role set (waiting for the server)", t.style(Role::Muted))),
            area,
        );
        return;
    }
    let w = area.width as usize;
    // The practice's role names; its abbreviations (`SCR`) only where a name cannot show.
    let name_w = if w >= 60 { 22 } else { w.saturating_sub(24).clamp(5, 22) };
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
            let label = if name_w > 8 { text::line(r.name) } else { text::line(r.short) };
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
    super::timeline::render_lines(frame, area, lines);
}

pub fn checklists(frame: &mut Frame<'_>, area: Rect, s: &State, id: &str, focused: bool, cx: &Ctx<'_>) {
    let t = cx.theme;
    let Some(inc) = s.shown_incident(id) else { return };
    let rows = s.checklist_rows(inc);
    if rows.is_empty() {
        frame.render_widget(Paragraph::new(Span::styled("no checklists", t.style(Role::Muted))), area);
        return;
    }
    // Position of the selected row among all rows.
    let n_sel = rows.iter().filter(|r| r.selectable()).count();
    let want = s.room.check_sel.min(n_sel.saturating_sub(1));
    let sel_row = rows.iter().enumerate().filter(|(_, r)| r.selectable()).nth(want).map_or(0, |(i, _)| i);
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
        .map(|(i, r)| {
            let selected = focused && i == sel_row;
            let st = |role: Role| {
                if selected { t.style(role).patch(t.style(Role::Selection)) } else { t.style(role) }
            };
            let line_style = if selected { t.style(Role::Selection) } else { Style::new() };
            match r {
                CheckRow::Heading(name) => Line::from(Span::styled(text::line(name), t.style(Role::Header))),
                // A playbook's name reads as a heading of its own, its groups one level in.
                CheckRow::Playbook(name) => Line::from(vec![
                    Span::styled("Playbook: ", t.style(Role::Muted)),
                    Span::styled(text::line(name), t.style(Role::Header)),
                ]),
                CheckRow::Group(name) => {
                    Line::from(Span::styled(format!("  {}", text::line(name)), t.style(Role::Accent)))
                }
                CheckRow::Item { checklist, item, depth } => {
                    let state = inc.item_done(checklist, &item.id);
                    let is_pending = pending.iter().any(|(c, it)| c == checklist && *it == item.id);
                    let done = state.is_some_and(|x| x.done);
                    let (mark, role) = if is_pending {
                        ("[~]", Role::Pending)
                    } else if done {
                        ("[x]", Role::Done)
                    } else {
                        ("[ ]", Role::Text)
                    };
                    let who =
                        state.map(|x| format!(" — {} {}", text::line(&x.by), format::time(x.at, s.time)));
                    let indent = "  ".repeat((*depth).min(3));
                    let cmd = if item.command.is_some() { "$ " } else { "" };
                    item_line(
                        vec![
                            Span::styled(format!("{indent}{mark}"), st(role)),
                            Span::styled(" ", st(Role::Text)),
                            Span::styled(cmd, st(Role::Key)),
                        ],
                        &text::line(&item.text),
                        st(if done { Role::Muted } else { Role::Text }),
                        who.map(|x| Span::styled(x, st(Role::Muted))),
                        w,
                    )
                    .style(line_style)
                }
                CheckRow::ActionItem(ai) => {
                    let (mark, role) = if ai.done { ("[x]", Role::Done) } else { ("[ ]", Role::Text) };
                    let mut facts = Vec::new();
                    facts.push(ai.owner.as_deref().map_or("unassigned".to_string(), text::line));
                    // Narrow panes keep the text readable: owner and priority only.
                    if let Some(d) = ai.due.filter(|_| w >= 60) {
                        facts.push(format!("due {d}"));
                    }
                    facts.push(ai.priority.as_str().to_string());
                    let tail = format!(" — {}", facts.join(" · "));
                    item_line(
                        vec![Span::styled(mark, st(role)), Span::styled(" ", st(Role::Text))],
                        &text::line(&ai.text),
                        st(if ai.done { Role::Muted } else { Role::Text }),
                        Some(Span::styled(
                            tail,
                            st(if ai.owner.is_none() { Role::Unheld } else { Role::Muted }),
                        )),
                        w,
                    )
                    .style(line_style)
                }
            }
        })
        .collect();
    super::timeline::render_lines(frame, area, lines);
}

/// A checklist-style line in `w` columns: the prefix, the text cut to what is left after the
/// tail (keeping at least 10 columns of text), then the tail.
fn item_line<'a>(
    mut spans: Vec<Span<'a>>,
    label: &str,
    style: Style,
    tail: Option<Span<'a>>,
    w: usize,
) -> Line<'a> {
    let prefix_w: usize = spans.iter().map(|s| s.width()).sum();
    let tail_w = tail.as_ref().map_or(0, |x| x.width());
    let text_w = w.saturating_sub(prefix_w + tail_w).max(10).min(w.saturating_sub(prefix_w));
    spans.push(cell(label, text_w, style));
    spans.extend(tail);
    Line::from(spans)
}
