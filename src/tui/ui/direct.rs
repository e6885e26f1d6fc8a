//! Writing straight into the frame's buffer what ratatui's `Paragraph` (one line) and
//! `Block::bordered()` (plain border, a title on the top left) would draw, cell for cell, without
//! their per-cell cost: grapheme segmentation and a width lookup per character, a style pass over
//! the whole area (`Buffer::set_style` visits every cell of it, even with an empty style), and
//! border cells set one by one through bounds-checked indexing. The profile of a 200x50 war-room
//! frame had these as its largest items after ratatui's diff of the two buffers.
//!
//! Only text made of characters that are a whole grapheme and one cell wide whatever their
//! neighbours ([`single_cell`]) takes the direct path; anything else (wide, zero-width,
//! combining or control characters) is drawn by ratatui itself.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::border;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};
use unicode_width::UnicodeWidthChar;

/// `c` takes exactly one cell and is a grapheme of its own next to any other such character:
/// printable ASCII, or a character of width 1 from blocks that hold no combining, joining,
/// prepended or paired characters (Latin, Greek, Cyrillic, general punctuation such as `·`, `—`
/// and `…`, super- and subscripts, currency, letterlike symbols, arrows, mathematical
/// operators, technical symbols, box drawing, block elements, shapes, symbols and dingbats).
/// Wide characters (emoji, CJK), zero-width ones (combining marks, joiners, variation
/// selectors), controls and the soft hyphen are not.
pub fn single_cell(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    matches!(
        u32::from(c),
        0xA0..=0xAC
            | 0xAE..=0x2FF
            | 0x370..=0x52F
            | 0x1E00..=0x1FFF
            | 0x2010..=0x2027
            | 0x2030..=0x205E
            | 0x2070..=0x20CF
            | 0x2100..=0x2BFF
    ) && c.width() == Some(1)
}

/// Writes `spans` (each in `base.patch(span.style)`) from column `x` of row `y` for at most
/// `width` columns, as a paragraph or a span draws them, if every character that shows (and the
/// first one cut off, which could join the last cell) is [`single_cell`]; otherwise writes
/// nothing and returns false. The row must be inside the buffer.
fn write_spans(buf: &mut Buffer, x: u16, y: u16, width: u16, base: Style, spans: &[Span<'_>]) -> bool {
    // Checked before anything is written: a character that joins the one before it can make
    // ratatui leave that cell alone (a grapheme of width 2 that does not fit at the end).
    let mut shown = spans.iter().flat_map(|s| s.content.chars()).take(usize::from(width) + 1);
    if !shown.all(single_cell) {
        return false;
    }
    let a = buf.area;
    debug_assert!(y >= a.y && y < a.bottom() && x >= a.x && x + width <= a.right());
    let row = usize::from(y - a.y) * usize::from(a.width) + usize::from(x - a.x);
    let mut cells = buf.content[row..row + usize::from(width)].iter_mut();
    for span in spans {
        let style = base.patch(span.style);
        let text: &str = &span.content;
        for (i, c) in text.char_indices() {
            let Some(cell) = cells.next() else { return true };
            cell.set_symbol(&text[i..i + c.len_utf8()]).set_style(style);
        }
    }
    true
}

/// Draws `lines` from the top of `area`, one per row, cut at its width: what
/// `Paragraph::new(lines)` draws, cell for cell. Lines of [`single_cell`] characters are written
/// straight into the buffer, others go through `Paragraph`.
pub fn render_lines(buf: &mut Buffer, area: Rect, lines: Vec<Line<'_>>) {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    for (y, line) in (area.y..area.bottom()).zip(lines) {
        if line.alignment.is_some() || !write_spans(buf, area.x, y, area.width, line.style, &line.spans) {
            Paragraph::new(line).render(Rect { y, height: 1, ..area }, buf);
        }
    }
}

/// Draws what `Block::bordered().border_style(style).title(title)` (and `.title_bottom(bottom)`)
/// draws (plain border, the titles on the left of the top and bottom rows, cut at the border)
/// and returns the area inside the border.
pub fn bordered(
    buf: &mut Buffer,
    area: Rect,
    style: Style,
    title: Span<'_>,
    bottom: Option<Span<'_>>,
) -> Rect {
    let inner = Block::bordered().inner(area);
    if area.width < 2 || area.height < 2 || area.intersection(buf.area) != area {
        let mut block = Block::bordered().border_style(style).title(title);
        if let Some(bottom) = bottom {
            block = block.title_bottom(bottom);
        }
        block.render(area, buf);
        return inner;
    }
    let b = border::PLAIN;
    let bw = usize::from(buf.area.width);
    let (w, h) = (usize::from(area.width), usize::from(area.height));
    let top = usize::from(area.y - buf.area.y) * bw + usize::from(area.x - buf.area.x);
    let last = top + (h - 1) * bw;
    let cells = &mut buf.content;
    let corners = [
        (top, b.top_left),
        (top + w - 1, b.top_right),
        (last, b.bottom_left),
        (last + w - 1, b.bottom_right),
    ];
    for (at, symbol) in corners {
        cells[at].set_symbol(symbol).set_style(style);
    }
    for (row, symbol) in [(top, b.horizontal_top), (last, b.horizontal_bottom)] {
        for cell in &mut cells[row + 1..row + w - 1] {
            cell.set_symbol(symbol).set_style(style);
        }
    }
    for r in 1..h - 1 {
        cells[top + r * bw].set_symbol(b.vertical_left).set_style(style);
        cells[top + r * bw + w - 1].set_symbol(b.vertical_right).set_style(style);
    }
    // The titles, as the block draws them: at most as wide as they are, inside the corners.
    for (title, y) in [(title, area.y)].into_iter().chain(bottom.map(|b| (b, area.bottom() - 1))) {
        let title_w = u16::try_from(title.width()).unwrap_or(u16::MAX).min(area.width - 2);
        if title_w > 0
            && !write_spans(buf, area.x + 1, y, title_w, Style::new(), std::slice::from_ref(&title))
        {
            Line::from(title).render(Rect { x: area.x + 1, y, width: title_w, height: 1 }, buf);
        }
    }
    inner
}

#[cfg(test)]
mod tests {
    use ratatui::style::{Color, Modifier};

    use super::*;

    /// A buffer whose every cell already holds something, so a cell left alone shows.
    fn filled(area: Rect) -> Buffer {
        let mut buf = Buffer::empty(area);
        for cell in &mut buf.content {
            cell.set_symbol("x").set_style(Style::new().fg(Color::Green).add_modifier(Modifier::ITALIC));
        }
        buf
    }

    /// The line drawn directly (if it can be) and by `Paragraph`, at `width` columns.
    fn both(line: &Line<'_>, width: u16) -> (bool, Buffer, Buffer) {
        let area = Rect::new(2, 1, width, 1);
        let buf_area = Rect::new(0, 0, width + 4, 3);
        let mut direct = filled(buf_area);
        let fast = write_spans(&mut direct, area.x, area.y, area.width, line.style, &line.spans);
        let mut direct = filled(buf_area);
        render_lines(&mut direct, area, vec![line.clone()]);
        let mut paragraph = filled(buf_area);
        Paragraph::new(line.clone()).render(area, &mut paragraph);
        (fast, direct, paragraph)
    }

    fn styled(parts: &[(&str, Style)]) -> Line<'static> {
        Line::from(parts.iter().map(|(t, s)| Span::styled(t.to_string(), *s)).collect::<Vec<_>>())
    }

    #[test]
    fn every_single_cell_character_draws_as_a_paragraph_does() {
        let (a, b) = (Style::new().fg(Color::Red), Style::new().bg(Color::Blue).add_modifier(Modifier::BOLD));
        let mut n = 0;
        for c in (0..=0x10_FFFF).filter_map(char::from_u32).filter(|c| single_cell(*c)) {
            // Next to ASCII, to itself, at a span's ends, and cut off by the width.
            let line = styled(&[(&format!("a{c}{c}"), a), (&format!("{c}b{c}"), b)])
                .style(Style::new().add_modifier(Modifier::UNDERLINED));
            for width in [8, 6, 3] {
                let (fast, direct, paragraph) = both(&line, width);
                assert!(fast, "U+{:04X} took the slow path", u32::from(c));
                assert_eq!(direct, paragraph, "U+{:04X} at width {width}", u32::from(c));
            }
            n += 1;
        }
        // ASCII, Latin, Greek, Cyrillic, punctuation, arrows, shapes, ...
        assert!(n > 4000, "{n}");
        for c in ['·', '—', '…', '→', '✓', '✕', '✎', '⏎', '↶', '●', '│', 'é', 'Ж'] {
            assert!(single_cell(c), "{c}");
        }
    }

    #[test]
    fn lines_of_the_war_room_draw_directly_and_as_a_paragraph_does() {
        let (muted, text) = (Style::new().fg(Color::DarkGray), Style::new().fg(Color::White));
        let sel = Style::new().bg(Color::Blue);
        let lines = [
            styled(&[("[x]", muted), (" ", text), ("Acknowledge alert", text), (" — carol 09:30:00", muted)]),
            styled(&[("Incident Com… ", text), (" ", text), ("— unheld", muted)]),
            styled(&[("● live", text), (" · 1 queued", muted), (" · alice (commander) · UTC", muted)]),
            styled(&[("✎", muted), ("09:23:00", text), (" ", text), ("p99 back to 1.1s ⏎", text)]).style(sel),
            styled(&[("09:32", text), (" → status-page ", text), ("· bob", muted)]),
            styled(&[("résumé ½ €5 ≤ 6 ¬ ± ° µ ß Ω ∑ ← ↑ ■ ░ ☐ ✔", text)]),
        ];
        for line in &lines {
            for width in [1, 5, 11, 12, 13, 40, 80] {
                let (fast, direct, paragraph) = both(line, width);
                assert!(fast, "{line:?} at {width}");
                assert_eq!(direct, paragraph, "{line:?} at width {width}");
            }
        }
    }

    #[test]
    fn wide_zero_width_and_control_characters_go_through_the_paragraph() {
        let t = Style::new().fg(Color::Yellow);
        let lines = [
            styled(&[("日本語 wide", t)]),
            styled(&[("note ", t), ("🔥 fire", t)]),
            styled(&[("e\u{301}te", t)]),
            styled(&[("a\tb\u{7}c", t)]),
            styled(&[("flag 🇺🇸", t)]),
            styled(&[("heart ❤\u{FE0F}", t)]),
            styled(&[("क\u{903}ख", t)]),
            styled(&[("soft\u{AD}hyphen", t)]),
            styled(&[("zero\u{200B}width \u{200D}join", t)]),
            styled(&[("\u{1100}\u{1161}\u{11A8} jamo", t)]),
            // Cut right before a combining mark, which joins the last cell that shows.
            styled(&[("abc\u{301}def", t)]),
            // Cut right before a spacing mark: the last cell's grapheme becomes two wide and no
            // longer fits, so the paragraph leaves that cell alone.
            styled(&[("abc\u{903}def", t)]),
        ];
        for line in &lines {
            for width in [3, 4, 5, 20] {
                // Where such a character is cut off (not right after the cut), the direct path
                // may be taken: the cells are the same either way.
                let (fast, direct, paragraph) = both(line, width);
                assert!(width < 20 || !fast, "{line:?} at {width} took the direct path");
                assert_eq!(direct, paragraph, "{line:?} at width {width}");
            }
        }
        for line in &lines[10..] {
            let (fast, _, _) = both(line, 3);
            assert!(!fast, "{line:?}: a mark right after the cut");
        }
        // An alignment is left to the paragraph too.
        let centred = styled(&[("centred", t)]).centered();
        let (_, direct, paragraph) = both(&centred, 20);
        assert_eq!(direct, paragraph);
    }

    #[test]
    fn more_lines_than_rows_and_areas_past_the_buffer_are_cut() {
        let t = Style::new().fg(Color::Cyan);
        let lines = vec![styled(&[("one · 1", t)]), styled(&[("two — 2", t)]), styled(&[("three", t)])];
        for area in
            [Rect::new(1, 1, 6, 2), Rect::new(5, 2, 10, 5), Rect::new(0, 0, 0, 3), Rect::new(20, 9, 3, 3)]
        {
            let buf_area = Rect::new(0, 0, 8, 4);
            let mut direct = filled(buf_area);
            render_lines(&mut direct, area, lines.clone());
            let mut paragraph = filled(buf_area);
            Paragraph::new(lines.clone()).render(area, &mut paragraph);
            assert_eq!(direct, paragraph, "{area:?}");
        }
    }

    #[test]
    fn a_bordered_pane_draws_as_the_block_does() {
        let border = Style::new().fg(Color::Cyan);
        let title_style = Style::new().fg(Color::White).add_modifier(Modifier::BOLD);
        let titles =
            ["", " Timeline (15) ", " Timeline (100000 · scrolled) ", " 日本 wide ", " a\u{301} mark "];
        let bottoms = [None, Some(" http://127.0.0.1:8080 "), Some(" ✕ bottom · 日 ")];
        let buf_area = Rect::new(0, 0, 30, 8);
        for (title, bottom) in titles.into_iter().flat_map(|t| bottoms.map(|b| (t, b))) {
            for (w, h) in [(0, 0), (1, 1), (1, 4), (4, 1), (2, 2), (3, 3), (12, 5), (30, 8), (40, 10)] {
                for (x, y) in [(0, 0), (3, 2), (25, 6)] {
                    let area = Rect::new(x, y, w, h);
                    let span = Span::styled(title.to_string(), title_style);
                    let bottom = bottom.map(|b| Span::styled(b.to_string(), border.italic()));
                    let mut direct = filled(buf_area);
                    let inner = bordered(&mut direct, area, border, span.clone(), bottom.clone());
                    let mut block = filled(buf_area);
                    let mut b = Block::bordered().border_style(border).title(span);
                    if let Some(bottom) = bottom.clone() {
                        b = b.title_bottom(bottom);
                    }
                    assert_eq!(inner, b.inner(area), "{title:?} {bottom:?} {area:?}");
                    b.render(area, &mut block);
                    assert_eq!(direct, block, "{title:?} {bottom:?} {area:?}");
                }
            }
        }
    }
}
