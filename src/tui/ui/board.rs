//! The board: every open incident (severity badge, id, title, status, commander, age, response
//! state), breached timers first (`domain::timers::board_order`), pending declarations, then the
//! resolved ones with their post-mortem deadlines. Only the visible rows are built.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::clocks;
use super::{Ctx, cell};
use crate::client::LinkState;
use crate::domain::{Incident, text, timers};
use crate::tui::state::State;
use crate::tui::theme::Role;

enum BoardLine<'a> {
    Columns,
    Section(String),
    Incident(usize, &'a Incident),
    Pending(String),
    Empty(&'static str),
}

/// The board's top line: product, counts, link state (narrow: tighter, so the link stays).
pub fn header(frame: &mut Frame<'_>, area: Rect, s: &State, cx: &Ctx<'_>) {
    let t = cx.theme;
    let (open, done) = s.board_rows();
    let breached = s
        .practice
        .as_ref()
        .map_or(0, |p| open.iter().filter(|i| timers::timers(p.scheme(), i, s.now).any_breached()).count());
    let line = |wide: bool| {
        let sep = if wide { "  ·  " } else { " · " };
        let mut spans = vec![
            Span::styled(" warroom ", t.style(Role::Title)),
            Span::styled(
                match s.board_loaded || !open.is_empty() {
                    true => format!(" {} open · {} resolved{sep}", open.len(), done.len()),
                    false => format!(" nothing loaded yet{sep}"),
                },
                t.style(Role::Text),
            ),
        ];
        if breached > 0 {
            let what = if wide {
                format!("{breached} with a breached timer")
            } else {
                format!("{breached} breached")
            };
            spans.push(Span::styled(what, t.style(Role::Breached)));
            spans.push(Span::styled(sep, t.style(Role::Text)));
        }
        spans.extend(super::statusbar::link_spans(s, cx));
        Line::from(spans)
    };
    let wide = line(true);
    let fits = wide.width() <= usize::from(area.width);
    super::direct::render_lines(frame.buffer_mut(), area, vec![if fits { wide } else { line(false) }]);
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, s: &State, cx: &Ctx<'_>) {
    let t = cx.theme;
    // What `Block::bordered()` with a title at the top and one at the bottom draws.
    let mut inner = super::direct::bordered(
        frame.buffer_mut(),
        area,
        t.style(Role::Border),
        Span::styled(" Incidents ", t.style(Role::Title)),
        Some(Span::styled(format!(" {} ", text::line(&s.server_label)), t.style(Role::Muted))),
    );
    // The response figures take the bottom of the box: the chart when there is room for it
    // and a handful of incidents, else the one-line summary.
    let room = match inner.height {
        14.. => usize::from(inner.height) - 10,
        6.. => 1,
        _ => 0,
    };
    let figures = super::figures::lines(s, cx, inner.width, room);
    if !figures.is_empty() {
        let n = figures.len() as u16;
        let band = Rect { y: inner.y + inner.height - n, height: n, ..inner };
        inner.height -= n + 1;
        super::direct::render_lines(frame.buffer_mut(), band, figures);
    }

    let (open, done) = s.board_rows();
    let mut lines: Vec<BoardLine<'_>> = Vec::new();
    lines.push(BoardLine::Columns);
    lines.push(BoardLine::Section(format!("Open ({})", open.len())));
    if open.is_empty() && s.pending_declares.is_empty() {
        // Nothing burning only once a list came: before, the board knows nothing.
        lines.push(BoardLine::Empty(match (&s.board_loaded, &s.link) {
            (true, _) => "  nothing burning. D declares an incident.",
            (false, LinkState::Connecting) => "  loading incidents…",
            (false, _) => "  offline, nothing loaded yet (D still declares: it is queued)",
        }));
    }
    let n_open = open.len();
    lines.extend(open.into_iter().enumerate().map(|(i, inc)| BoardLine::Incident(i, inc)));
    for p in &s.pending_declares {
        if let crate::domain::EventBody::Declared { title, severity, .. } = &p.body {
            lines.push(BoardLine::Pending(format!(
                "{} {} (declaring, not yet recorded)",
                text::line(severity),
                text::line(title)
            )));
        }
    }
    if !done.is_empty() {
        lines.push(BoardLine::Section(format!("Resolved ({})", done.len())));
        lines.extend(done.into_iter().enumerate().map(|(i, inc)| BoardLine::Incident(n_open + i, inc)));
    }

    // Keep the selection in view.
    let h = inner.height as usize;
    let sel_line =
        lines.iter().position(|l| matches!(l, BoardLine::Incident(i, _) if *i == s.board_sel)).unwrap_or(0);
    let offset = if sel_line < h { 0 } else { sel_line + 1 - h };
    let w = inner.width as usize;
    let visible: Vec<&BoardLine<'_>> = lines.iter().skip(offset).take(h).collect();
    let shown: Vec<&Incident> = visible
        .iter()
        .filter_map(|l| match l {
            BoardLine::Incident(_, inc) => Some(*inc),
            _ => None,
        })
        .collect();
    let cols = Columns::fit(s, &shown, w);

    let Columns { badge_w, id_w, title_w, status_w, ic_w, age_w, resp_w } = cols;
    let out: Vec<Line<'_>> = visible
        .into_iter()
        .map(|l| match l {
            BoardLine::Columns => {
                let mut spans = vec![
                    cell("SEV", badge_w + 1, t.style(Role::Muted)),
                    cell("ID", id_w, t.style(Role::Muted)),
                    cell("TITLE", title_w, t.style(Role::Muted)),
                    cell("STATUS", status_w, t.style(Role::Muted)),
                ];
                if ic_w > 0 {
                    spans.push(cell("IC", ic_w, t.style(Role::Muted)));
                }
                spans.push(cell("AGE", age_w, t.style(Role::Muted)));
                if resp_w > 0 {
                    spans.push(cell("RESPONSE", resp_w, t.style(Role::Muted)));
                }
                Line::from(spans)
            }
            BoardLine::Section(name) => Line::from(Span::styled(name.clone(), t.style(Role::Header))),
            BoardLine::Empty(msg) => Line::from(Span::styled(*msg, t.style(Role::Muted))),
            BoardLine::Pending(msg) => Line::from(Span::styled(format!("  … {msg}"), t.style(Role::Pending))),
            BoardLine::Incident(i, inc) => {
                let selected = *i == s.board_sel;
                let sel = |st: Style| if selected { st.patch(t.style(Role::Selection)) } else { st };
                let rank = s.severity_rank(&inc.severity);
                let mut spans = vec![
                    Span::styled(
                        super::fit(&format!(" {} ", text::line(&inc.severity)), badge_w),
                        t.severity(rank),
                    ),
                    Span::styled(" ", sel(Style::new())),
                    cell(&text::line(&inc.id), id_w, sel(t.style(Role::Accent))),
                ];
                spans.extend(title_cells(inc, title_w, sel(t.style(Role::Text)), demo_style(t)));
                spans.push(cell(
                    inc.status.as_str(),
                    status_w,
                    sel(t.style(if inc.is_open() { Role::StatusOpen } else { Role::StatusResolved })),
                ));
                if ic_w > 0 {
                    let ic = inc.commander().map(text::line);
                    let (txt, role) = match &ic {
                        Some(c) => (c.as_str(), Role::Text),
                        None => ("— none", Role::Unheld),
                    };
                    spans.push(cell(txt, ic_w, sel(t.style(role))));
                }
                let end = inc.resolved_at.unwrap_or(s.now);
                spans.push(cell(&clocks::age(inc.declared_at, end), age_w, sel(t.style(Role::Muted))));
                if resp_w > 0 {
                    let (txt, role) = clocks::board_cell(inc, s);
                    let txt = response_label(&txt, resp_w.saturating_sub(1));
                    spans.push(cell(&txt, resp_w, sel(t.style(role))));
                }
                Line::from(spans)
            }
        })
        .collect();
    super::direct::render_lines(frame.buffer_mut(), inner, out);
}

/// The board's column widths for the rows on screen: each column as wide as its widest cell
/// (within a cap that grows with the width), the title takes every column left over.
#[derive(Debug, Clone, Copy)]
struct Columns {
    badge_w: usize,
    id_w: usize,
    title_w: usize,
    status_w: usize,
    ic_w: usize,
    age_w: usize,
    resp_w: usize,
}

impl Columns {
    fn fit(s: &State, shown: &[&Incident], w: usize) -> Columns {
        let badge_w = s
            .practice
            .as_ref()
            .map_or(6, |p| p.scheme().levels.iter().map(|l| l.id.chars().count()).max().unwrap_or(4))
            + 2;
        // Narrow: one column between cells; wide: three, so the columns read as columns.
        let gap = if w < 100 { 1 } else { 3 };
        // Widest cell, plus the gap; at least the heading.
        let widest = |head: &str, cap: usize, cells: &mut dyn Iterator<Item = usize>| {
            cells.map(|n| n.min(cap)).max().unwrap_or(0).max(head.chars().count()) + gap
        };
        let id_w = widest("ID", 12, &mut shown.iter().map(|i| text::line(&i.id).chars().count()));
        let status_w = widest("STATUS", 20, &mut shown.iter().map(|i| i.status.as_str().chars().count()));
        let (ic_cap, resp_cap) = match w {
            140.. => (14, 30),
            100.. => (12, 26),
            70.. => (10, 18),
            _ => (0, 0),
        };
        let ic_w = if ic_cap == 0 {
            0
        } else {
            let none = "— none".chars().count();
            widest(
                "IC",
                ic_cap,
                &mut shown.iter().map(|i| i.commander().map_or(none, |c| text::line(c).chars().count())),
            )
        };
        let age_w = widest(
            "AGE",
            8,
            &mut shown
                .iter()
                .map(|i| clocks::age(i.declared_at, i.resolved_at.unwrap_or(s.now)).chars().count()),
        );
        let resp_w = if resp_cap == 0 {
            0
        } else {
            let labels =
                shown.iter().map(|i| response_label(&clocks::board_cell(i, s).0, resp_cap).chars().count());
            labels.max().unwrap_or(0).min(resp_cap).max("RESPONSE".len()) + 1
        };
        let fixed = badge_w + 1 + id_w + status_w + ic_w + age_w + resp_w;
        let title_w = w.saturating_sub(fixed).max(8);
        Columns { badge_w, id_w, title_w, status_w, ic_w, age_w, resp_w }
    }
}

/// The style of the DEMO badge (demo incidents, `warroom demo`): reversed, so it shows in mono.
pub fn demo_style(t: &crate::tui::theme::Theme) -> Style {
    t.style(Role::Notice).add_modifier(ratatui::style::Modifier::REVERSED)
}

/// The title column: a demo incident's title after a DEMO badge (both in `w` columns).
fn title_cells(inc: &Incident, w: usize, style: Style, badge: Style) -> Vec<Span<'static>> {
    const BADGE: &str = "DEMO";
    if !inc.demo || w < BADGE.len() + 4 {
        return vec![cell(&text::line(&inc.title), w, style)];
    }
    vec![
        Span::styled(BADGE, badge),
        Span::styled(" ", style),
        cell(&text::line(&inc.title), w - BADGE.len() - 1, style),
    ]
}

/// A timer label that fits `cap` columns: as it is, else without its small words ("report due
/// in 18h52m" -> "report due 18h52m", "breached by 3m" -> "breached 3m").
fn response_label(label: &str, cap: usize) -> String {
    if label.chars().count() <= cap {
        label.to_string()
    } else {
        label.replace(" in ", " ").replace(" by ", " ")
    }
}
