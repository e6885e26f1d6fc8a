//! The composer band: the entry's kind and time in the title, the text field (ratatui-textarea),
//! the time field while the time is being edited, and the reason when something is wrong.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::Ctx;
use crate::tui::format;
use crate::tui::keymap::Context;
use crate::tui::state::{ComposeKind, Composer, State};
use crate::tui::theme::Role;

/// `enter log it · alt-enter new line · ...` from the keymap.
pub fn hints(cx: &Ctx<'_>, ctx: Context) -> String {
    cx.keys
        .bindings(ctx)
        .iter()
        .filter_map(|b| b.keys.first().map(|k| format!("{k} {}", b.desc)))
        .collect::<Vec<_>>()
        .join(" · ")
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, c: &Composer, s: &State, cx: &Ctx<'_>) {
    let t = cx.theme;
    let what = match &c.kind {
        ComposeKind::Entry(k) => k.to_string(),
        ComposeKind::Correction { .. } => "correction".to_string(),
    };
    let when = format!("{} {}", format::time(c.occurred_at, s.time), format::zone(s.time));
    let backdated = (s.now - c.occurred_at).num_seconds() > 120;
    let title = Line::from(vec![
        Span::styled(format!(" {what} "), t.style(Role::Title)),
        Span::styled(
            format!("@ {when}{} ", if backdated { " (back-dated)" } else { "" }),
            t.style(Role::Accent),
        ),
    ]);
    let ctx = if c.time_input.is_some() { Context::Prompt } else { Context::Composer };
    let block = Block::bordered()
        .border_style(t.style(Role::BorderFocus))
        .title(title)
        .title_bottom(Span::styled(format!(" {} ", hints(cx, ctx)), t.style(Role::Muted)));
    frame.render_widget(Clear, area);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [time_row, text_row, err_row] = crate::tui::state::layout::stack(
        inner,
        [u16::from(c.time_input.is_some()), 0, u16::from(c.error.is_some())],
        1,
    );
    if let Some(ti) = &c.time_input {
        let label = "time (HH:MM[:SS], YYYY-MM-DD HH:MM, -5m): ";
        let lw = (label.len() as u16).min(time_row.width);
        let l = Rect { width: lw, ..time_row };
        let f = Rect { x: time_row.x + lw, width: time_row.width - lw, ..time_row };
        frame.render_widget(Paragraph::new(Span::styled(label, t.style(Role::Accent))), l);
        frame.render_widget(ti, f);
    }
    frame.render_widget(&c.input, text_row);
    if let Some(e) = &c.error {
        frame.render_widget(Paragraph::new(Span::styled(e.clone(), t.style(Role::Error))), err_row);
    }
}
