//! `?`: every key that works in the current context, generated from the keymap (nearest
//! context first), with each binding's description.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::{Ctx, centered, fit};
use crate::tui::keymap::Context;
use crate::tui::theme::Role;

/// The help lines for a context (also used by tests).
pub fn lines(ctx: Context, cx: &Ctx<'_>) -> Vec<(Option<String>, String, String)> {
    let mut out = Vec::new();
    let mut last = None;
    for (c, b) in cx.keys.effective(ctx) {
        if last != Some(c) {
            out.push((Some(c.name().replace('_', " ")), String::new(), String::new()));
            last = Some(c);
        }
        let keys: Vec<String> = b.keys.iter().map(|k| k.to_string()).collect();
        out.push((None, keys.join(", "), b.desc.clone()));
    }
    out
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, ctx: Context, scroll: u16, cx: &Ctx<'_>) {
    let t = cx.theme;
    let rows = lines(ctx, cx);
    let key_w = rows.iter().map(|(_, k, _)| k.chars().count()).max().unwrap_or(8).min(24);
    let w = 64.min(area.width.saturating_sub(2));
    let h = (rows.len() as u16 + 2).min(area.height.saturating_sub(2));
    let r = centered(area, w, h);
    let block = Block::bordered()
        .border_style(t.style(Role::BorderFocus))
        .title(Span::styled(" Keys ", t.style(Role::Title)))
        .title_bottom(Span::styled(" esc closes · ↑↓ scroll ", t.style(Role::Muted)));
    let text: Vec<Line<'_>> = rows
        .into_iter()
        .map(|(section, keys, desc)| match section {
            Some(name) => Line::from(Span::styled(name, t.style(Role::Header))),
            None => Line::from(vec![
                Span::styled(format!("  {}", fit(&keys, key_w)), t.style(Role::Key)),
                Span::styled(format!("  {desc}"), t.style(Role::Text)),
            ]),
        })
        .collect();
    frame.render_widget(Clear, r);
    frame.render_widget(Paragraph::new(text).block(block).scroll((scroll, 0)), r);
}
