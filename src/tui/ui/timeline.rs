//! The timeline pane: one line per event (time, author, kind, text), pending writes marked,
//! corrected entries showing their amended text. Rows are built only for the visible window,
//! so a frame costs the same with 100 or 100,000 events.

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::{Ctx, cell};
use crate::domain::EventKind;
use crate::tui::format;
use crate::tui::state::{Row, State, replay};
use crate::tui::theme::{Role, Theme};
use crate::tui::timeline::Known;

fn kind_role(kind: EventKind) -> Role {
    match kind {
        EventKind::Note => Role::KindNote,
        EventKind::Finding => Role::KindFinding,
        EventKind::Action => Role::KindAction,
        EventKind::Decision => Role::KindDecision,
        EventKind::Correction => Role::Corrected,
        EventKind::AlertAttached => Role::Warning,
        EventKind::SeverityChanged | EventKind::StatusChanged | EventKind::Declared => Role::Accent,
        _ => Role::KindSystem,
    }
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, s: &State, id: &str, focused: bool, cx: &Ctx<'_>) {
    let t = cx.theme;
    let Some(tl) = s.timeline(id) else {
        frame
            .render_widget(Paragraph::new(Span::styled("loading the timeline…", t.style(Role::Muted))), area);
        return;
    };
    let h = area.height as usize;
    let (offset, _) = s.timeline_window(id, h).unwrap_or((0, h));
    if let Some(r) = s.replay.as_ref().filter(|r| r.incident == id) {
        // Replay: the events up to the cursor (in the order the replay walks), the cursor's
        // event highlighted and kept at the bottom. Only the visible window is built.
        let events = r.events(s);
        let pos = r.cursor.pos().min(events.len());
        // Corrections recorded after the cursor were not known yet.
        let upto = events.current(&r.cursor).and_then(|c| replay::known_upto(&r.cursor, c));
        let (author_w, kind_w) = widths(area.width as usize);
        let lines: Vec<Line<'_>> = (offset..pos)
            .filter_map(|i| events.get(i).map(|e| (i, e)))
            .map(|(i, e)| {
                let rl = RowLook { selected: i + 1 == pos, author_w, kind_w, upto };
                row_line(Row::Event(e), tl, s, t, rl)
            })
            .collect();
        render_lines(frame, area, lines);
        return;
    }
    let n = tl.len();
    if n == 0 {
        let msg = if !tl.loaded {
            "loading the timeline…"
        } else if tl.filter().is_some() || tl.search().is_some() {
            "nothing matches (esc clears the filter)"
        } else {
            "no events yet"
        };
        frame.render_widget(Paragraph::new(Span::styled(msg, t.style(Role::Muted))), area);
        return;
    }
    let sel = s.timeline_sel().unwrap_or(0);
    let (author_w, kind_w) = widths(area.width as usize);
    let look = |i: usize| RowLook { selected: focused && i == sel, author_w, kind_w, upto: None };
    if s.one_line {
        let lines: Vec<Line<'_>> = tl
            .rows(offset, h)
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let (head, body) = row_parts(row, tl, s, t, look(offset + i));
                cut_line(head, body, area.width as usize, &look(offset + i), t)
            })
            .collect();
        render_lines(frame, area, lines);
        return;
    }
    // Wrapped: only the window's rows (at most `h` of them) are wrapped, so the cost stays
    // flat. From the window's first row down; if the selected row would end below the pane,
    // from the selected row up instead (it stays in view, e.g. the tail while following).
    let width = area.width as usize;
    let wrapped = |i: usize| -> Option<Vec<Line<'_>>> {
        let row = tl.row(i)?;
        let (head, body) = row_parts(row, tl, s, t, look(i));
        Some(wrap_row(head, body, width, &look(i), t))
    };
    // Each row is wrapped once: first from the selected row up to the window's first row; if
    // that already fills the pane, the pane ends with the selected row (its top cut), else the
    // rows after it follow down to the bottom.
    let mut lines: Vec<Line<'_>> = Vec::new();
    if sel >= offset {
        let mut rows: Vec<Vec<Line<'_>>> = Vec::new();
        let mut count = 0;
        let mut j = sel + 1;
        while count < h && j > offset {
            j -= 1;
            let Some(l) = wrapped(j) else { break };
            count += l.len();
            rows.push(l);
        }
        lines = rows.into_iter().rev().flatten().collect();
        if count >= h {
            let extra = lines.len().saturating_sub(h);
            lines.drain(..extra);
        } else {
            let mut i = sel + 1;
            while lines.len() < h {
                let Some(mut l) = wrapped(i) else { break };
                lines.append(&mut l);
                i += 1;
            }
        }
    } else {
        let mut i = offset;
        while lines.len() < h {
            let Some(mut l) = wrapped(i) else { break };
            lines.append(&mut l);
            i += 1;
        }
    }
    lines.truncate(h);
    render_lines(frame, area, lines);
}

/// Draws `lines` from the top of `area`, one per row, cut at its width: what
/// `Paragraph::new(lines)` draws, cell for cell, written straight into the buffer where a line's
/// characters allow it (see `direct`).
pub fn render_lines(frame: &mut Frame<'_>, area: Rect, lines: Vec<Line<'_>>) {
    super::direct::render_lines(frame.buffer_mut(), area, lines);
}

/// One line, the text cut with `…` where it does not fit.
fn cut_line<'a>(head: Vec<Span<'a>>, body: Body<'a>, width: usize, look: &RowLook, t: &Theme) -> Line<'a> {
    let used: usize = head.iter().map(|s| s.width()).sum();
    let room = width.saturating_sub(used);
    let text = if body.text.width() > room {
        Cow::Owned(super::fit(&body.text, room).trim_end().to_string())
    } else {
        body.text.clone()
    };
    let mut spans = head;
    spans.extend(body.spans(text));
    finish(spans, look, t)
}

/// The row on as many lines as its text needs, continuation lines indented under the text.
fn wrap_row<'a>(
    head: Vec<Span<'a>>,
    body: Body<'a>,
    width: usize,
    look: &RowLook,
    t: &Theme,
) -> Vec<Line<'a>> {
    let indent: usize = head.iter().map(|s| s.width()).sum();
    let room = width.saturating_sub(indent).max(8);
    // Fits on one line: the text as it is (borrowed where it can be), as `wrap_words` would
    // give it (it drops leading spaces).
    if !body.text.starts_with(' ') && body.text.width() <= room {
        let mut spans = head;
        spans.extend(body.spans(body.text.clone()));
        return vec![finish(spans, look, t)];
    }
    let mut out = Vec::new();
    let mut first = Some(head);
    for chunk in wrap_words(&body.text, room) {
        let mut spans = first.take().unwrap_or_else(|| vec![Span::styled(" ".repeat(indent), body.pad)]);
        spans.extend(body.spans(Cow::Owned(chunk)));
        out.push(finish(spans, look, t));
    }
    if let Some(head) = first {
        out.push(finish(head, look, t));
    }
    out
}

fn finish<'a>(spans: Vec<Span<'a>>, look: &RowLook, t: &Theme) -> Line<'a> {
    let line = Line::from(spans);
    if look.selected { line.style(t.style(Role::Selection)) } else { line }
}

/// Splits `text` into lines at most `width` columns wide, at spaces where it can (a longer
/// word is broken).
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for word in text.split(' ') {
        let w = word.width();
        let gap = usize::from(used > 0);
        if used + gap + w <= width {
            if gap == 1 {
                line.push(' ');
            }
            line.push_str(word);
            used += gap + w;
            continue;
        }
        if used > 0 {
            out.push(std::mem::take(&mut line));
            used = 0;
        }
        // A word longer than the line: hard breaks.
        for c in word.chars() {
            let cw = c.width().unwrap_or(0);
            if used + cw > width {
                out.push(std::mem::take(&mut line));
                used = 0;
            }
            line.push(c);
            used += cw;
        }
    }
    if used > 0 || out.is_empty() {
        out.push(line);
    }
    out
}

/// Widths of the author and kind columns for a pane width.
fn widths(w: usize) -> (usize, usize) {
    let author_w = if w >= 100 {
        14
    } else if w >= 60 {
        10
    } else {
        0
    };
    (author_w, if w >= 50 { 9 } else { 0 })
}

/// How a row is drawn: highlighted or not, column widths, and (replay) the last seq whose
/// corrections count.
struct RowLook {
    selected: bool,
    author_w: usize,
    kind_w: usize,
    upto: Option<Known>,
}

fn row_line<'a>(
    row: Row<'a>,
    tl: &'a crate::tui::state::Timeline,
    s: &'a State,
    t: &Theme,
    look: RowLook,
) -> Line<'a> {
    let (mut spans, body) = row_parts(row, tl, s, t, RowLook { ..look });
    let text = body.text.clone();
    spans.extend(body.spans(text));
    finish(spans, &look, t)
}

/// A row's text and how to style it (with the search's matches highlighted).
struct Body<'a> {
    text: Cow<'a, str>,
    normal: Style,
    hit: Option<(&'a str, Style)>,
    /// Style of the indentation of continuation lines.
    pad: Style,
}

impl<'a> Body<'a> {
    fn spans(&self, text: Cow<'a, str>) -> Vec<Span<'a>> {
        match &self.hit {
            Some((q, hit)) => highlight(text.into_owned(), q, self.normal, *hit),
            None => vec![Span::styled(text, self.normal)],
        }
    }
}

/// A row's leading columns (marker, time, author, kind) and its text.
fn row_parts<'a>(
    row: Row<'a>,
    tl: &'a crate::tui::state::Timeline,
    s: &'a State,
    t: &Theme,
    look: RowLook,
) -> (Vec<Span<'a>>, Body<'a>) {
    let RowLook { selected, author_w, kind_w, upto } = look;
    let sel = |st: Style| if selected { st.patch(t.style(Role::Selection)) } else { st };
    let kind = row.kind();
    let corrected = matches!(row, Row::Event(e) if tl.corrected_text_upto(&e.id(), upto).is_some());
    let (marker, marker_role) = if row.is_pending() {
        ("…", Role::Pending)
    } else if corrected {
        ("✎", Role::Corrected)
    } else {
        (" ", Role::Text)
    };
    let pending = row.is_pending();
    let base = |r: Role| sel(if pending { t.style(Role::Pending) } else { t.style(r) });
    // Recorded late (back-dated, or sent after an outage): a mark after the time it happened.
    let late = matches!(row, Row::Event(e) if e.is_late());
    let gap = match late {
        false => Span::styled(" ", sel(Style::new())),
        true => Span::styled(late_mark(s, t), sel(t.style(Role::Muted))),
    };
    let mut spans = vec![
        Span::styled(marker, sel(t.style(marker_role))),
        Span::styled(format::time(row.occurred_at(), s.time), base(Role::Time)),
        gap,
    ];
    if author_w > 0 {
        let author = match row {
            Row::Event(e) => e.author_line(),
            Row::Pending(_) => "pending",
        };
        spans.push(cell(author, author_w, base(Role::Author)));
    }
    if kind_w > 0 {
        spans.push(cell(format::kind_label_of(kind), kind_w, base(kind_role(kind))));
    }
    let text_role = if corrected {
        Role::Corrected
    } else if kind.is_entry() {
        Role::Text
    } else {
        Role::KindSystem
    };
    let mut txt = format::row_text_shown(row, tl, upto, s.practice.as_ref());
    let multiline = match row {
        Row::Event(e) => e.plain_text().is_none() && e.entry_text().is_some_and(|t| t.contains('\n')),
        Row::Pending(p) => p.body.as_entry().is_some_and(|e| e.text.contains('\n')),
    };
    if multiline {
        txt.to_mut().push_str(" ⏎");
    }
    let hit = tl.search().map(|q| (q, sel(t.style(Role::SearchMatch))));
    (spans, Body { text: txt, normal: base(text_role), hit, pad: sel(Style::new()) })
}

/// The mark of an entry recorded late: `↶`, or `<` in ASCII (NO_COLOR / mono, TERM=dumb).
pub fn late_mark(s: &State, t: &Theme) -> &'static str {
    if s.ascii || !t.colored { "<" } else { "↶" }
}

/// Splits `text` into spans with every case-insensitive occurrence of `query` (already lower
/// case) in `hit` style.
fn highlight(text: String, query: &str, normal: Style, hit: Style) -> Vec<Span<'static>> {
    let lower = text.to_lowercase();
    // Byte offsets only line up when lower-casing kept every length (true for ASCII and most text).
    if query.is_empty() || lower.len() != text.len() {
        return vec![Span::styled(text, normal)];
    }
    let mut out = Vec::new();
    let mut at = 0;
    for (i, _) in lower.match_indices(query) {
        if i < at || !text.is_char_boundary(i) || !text.is_char_boundary(i + query.len()) {
            continue;
        }
        if i > at {
            out.push(Span::styled(text[at..i].to_string(), normal));
        }
        out.push(Span::styled(text[i..i + query.len()].to_string(), hit));
        at = i + query.len();
    }
    if at < text.len() {
        out.push(Span::styled(text[at..].to_string(), normal));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_case_insensitively() {
        let n = Style::new();
        let h = Style::new().add_modifier(ratatui::style::Modifier::BOLD);
        let spans = highlight("DB down, db up".into(), "db", n, h);
        let parts: Vec<(&str, bool)> = spans.iter().map(|s| (s.content.as_ref(), s.style == h)).collect();
        assert_eq!(parts, vec![("DB", true), (" down, ", false), ("db", true), (" up", false)]);
    }

    #[test]
    fn wraps_at_spaces_and_breaks_long_words() {
        assert_eq!(wrap_words("the quick brown fox", 9), ["the quick", "brown fox"]);
        assert_eq!(wrap_words("abcdefghij xy", 4), ["abcd", "efgh", "ij", "xy"]);
        assert_eq!(wrap_words("", 5), [""]);
        assert_eq!(wrap_words("fits", 10), ["fits"]);
    }
}
