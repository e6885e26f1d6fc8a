//! Drawing: a pure function of the state (`draw(frame, &state, &theme, &keymap)`). Each screen
//! and pane has its own file; only the visible window of long lists is ever built.
//!
//! Drawing writes nothing, not even a cache. What a frame needs that costs more than the frame
//! (the board's figures) or that the next keys act on (which timeline rows are in view) is
//! computed by `update` after each action: it knows the screen size (the start and every
//! resize) and uses the same pure layout (`state::layout`), so the window it keeps is the one
//! drawn, and the frame cost stays flat. A state drawn at another size than its own (tests)
//! draws correctly from the same inputs.

pub mod board;
pub mod clocks;
pub mod composer;
pub mod direct;
pub mod figures;
pub mod help;
pub mod lists;
pub mod popups;
pub mod sent;
pub mod statusbar;
pub mod timeline;
pub mod warroom;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::keymap::Keymap;
use super::state::layout;
use super::state::{Overlay, Screen, State};
use super::theme::Theme;

/// What every widget needs besides the state.
pub struct Ctx<'a> {
    pub theme: &'a Theme,
    pub keys: &'a Keymap,
}

/// Draws the whole console.
pub fn draw(frame: &mut Frame<'_>, s: &State, theme: &Theme, keys: &Keymap) {
    let cx = Ctx { theme, keys };
    let area = frame.area();
    if layout::too_small(area) {
        frame.render_widget(ratatui::widgets::Paragraph::new("terminal too small"), area);
        return;
    }
    let l = layout::screen(area, s);
    match &s.screen {
        Screen::Board => {
            board::header(frame, l.header, s, &cx);
            board::draw(frame, l.body, s, &cx);
        }
        Screen::WarRoom(id) => warroom::draw(frame, &l, s, id, &cx),
    }
    if let (Some(Overlay::Composer(c)), Some(r)) = (&s.overlay, l.composer) {
        composer::draw(frame, r, c, s, &cx);
    }
    statusbar::draw_status(frame, l.status, s, &cx);
    statusbar::draw_commands(frame, l.commands, s, &cx);
    match &s.overlay {
        Some(Overlay::Help { context, scroll }) => help::draw(frame, area, *context, *scroll, &cx),
        Some(Overlay::Detail { incident, id, scroll }) => {
            popups::detail(frame, area, s, incident, *id, *scroll, &cx)
        }
        Some(Overlay::Picker(p)) => popups::picker(frame, area, p, &cx),
        Some(Overlay::Prompt(p)) => popups::prompt(frame, area, p, &cx),
        Some(Overlay::Declare(f)) => popups::declare(frame, area, f, s, &cx),
        Some(Overlay::Comms(c)) => popups::comms(frame, area, c, s, &cx),
        _ => {}
    }
}

/// Pads or truncates (with `…`) to exactly `w` columns.
pub fn fit(s: &str, w: usize) -> String {
    let mut out = String::with_capacity(w);
    let mut used = 0;
    let total: usize = s.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= w {
        out.push_str(s);
        used = total;
    } else if w > 0 {
        for c in s.chars() {
            let cw = c.width().unwrap_or(0);
            if used + cw > w - 1 {
                break;
            }
            out.push(c);
            used += cw;
        }
        out.push('…');
        used += 1;
    }
    for _ in used..w {
        out.push(' ');
    }
    out
}

/// A table cell: padded/truncated to `w` columns, the last of which is a gap.
/// `s` in at most `w` columns, shortened at a word with `…` (never cut mid-word, unless its
/// first word alone is wider than `w`).
pub fn fit_words(s: &str, w: usize) -> String {
    if s.width() <= w {
        return s.to_string();
    }
    let cut = fit(s, w);
    let cut = cut.trim_end().trim_end_matches('…');
    match cut.rfind(' ') {
        Some(i) if i > 0 => format!("{}…", cut[..i].trim_end()),
        _ => format!("{cut}…"),
    }
}

pub fn cell(s: &str, w: usize, style: Style) -> Span<'static> {
    if w == 0 {
        return Span::raw("");
    }
    let mut t = fit(s, w - 1);
    t.push(' ');
    Span::styled(t, style)
}

/// A centred rectangle of at most `w` x `h` inside `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fit_pads_and_truncates() {
        assert_eq!(super::fit("abc", 5), "abc  ");
        assert_eq!(super::fit("abcdef", 4), "abc…");
        assert_eq!(super::fit("日本語", 4), "日… ");
        assert_eq!(super::fit("x", 0), "");
    }
}
