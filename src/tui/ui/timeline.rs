//! The timeline pane: one line per event (time, author, kind, text), pending writes marked,
//! corrected entries showing their amended text. Rows are built only for the visible window,
//! so a frame costs the same with 100 or 100,000 events.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Ctx, cell};
use crate::domain::{EventKind, text};
use crate::tui::format;
use crate::tui::state::{Row, State};
use crate::tui::theme::{Role, Theme};

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
        // Replay: the recorded events up to the cursor, the cursor's event highlighted and
        // kept at the bottom. Only the visible window is built.
        let pos = r.cursor.pos().min(tl.events().len());
        // Corrections recorded after the cursor were not known yet.
        let upto = pos.checked_sub(1).map(|i| tl.events()[i].seq);
        let (author_w, kind_w) = widths(area.width as usize);
        let lines: Vec<Line<'_>> = tl.events()[offset..pos]
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let rl = RowLook { selected: offset + i + 1 == pos, author_w, kind_w, upto };
                row_line(Row::Event(e), tl, s, t, rl)
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), area);
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
    let lines: Vec<Line<'_>> = tl
        .rows(offset, h)
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let selected = focused && offset + i == sel;
            row_line(row, tl, s, t, RowLook { selected, author_w, kind_w, upto: None })
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
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
    upto: Option<u64>,
}

fn row_line<'a>(
    row: Row<'_>,
    tl: &crate::tui::state::Timeline,
    s: &State,
    t: &Theme,
    look: RowLook,
) -> Line<'a> {
    let RowLook { selected, author_w, kind_w, upto } = look;
    let sel = |st: Style| if selected { st.patch(t.style(Role::Selection)) } else { st };
    let body = row.body();
    let corrected = matches!(row, Row::Event(e) if tl.corrected_text_upto(&e.id, upto).is_some());
    let (marker, marker_role) = if row.is_pending() {
        ("…", Role::Pending)
    } else if corrected {
        ("✎", Role::Corrected)
    } else {
        (" ", Role::Text)
    };
    let pending = row.is_pending();
    let base = |r: Role| sel(if pending { t.style(Role::Pending) } else { t.style(r) });
    let mut spans = vec![
        Span::styled(marker, sel(t.style(marker_role))),
        Span::styled(format::time(row.occurred_at(), s.time), base(Role::Time)),
        Span::styled(" ", sel(Style::new())),
    ];
    if author_w > 0 {
        let author = match row {
            Row::Event(e) => text::line(&e.author),
            Row::Pending(_) => "pending".to_string(),
        };
        spans.push(cell(&author, author_w, base(Role::Author)));
    }
    if kind_w > 0 {
        spans.push(cell(format::kind_label(body), kind_w, base(kind_role(body.kind()))));
    }
    let text_role = if corrected {
        Role::Corrected
    } else if body.kind().is_entry() {
        Role::Text
    } else {
        Role::KindSystem
    };
    let mut txt = format::row_text_upto(row, tl, upto, s.practice.as_ref());
    if let Some(e) = body.as_entry()
        && e.text.contains('\n')
    {
        txt.push_str(" ⏎");
    }
    match tl.search() {
        Some(q) => spans.extend(highlight(txt, q, base(text_role), sel(t.style(Role::SearchMatch)))),
        None => spans.push(Span::styled(txt, base(text_role))),
    }
    let mut line = Line::from(spans);
    if selected {
        line = line.style(t.style(Role::Selection));
    }
    line
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
}
