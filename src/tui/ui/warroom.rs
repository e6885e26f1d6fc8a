//! The war room: the header (severity, id, title, status, elapsed, response target, next update,
//! link state, server), the tabs at narrow widths, and the panes.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::layout::{ScreenLayout, panes};
use super::{Ctx, board, lists, statusbar, timeline};
use crate::domain::text;
use crate::tui::state::timers;
use crate::tui::state::{Pane, State};
use crate::tui::theme::Role;

pub fn draw(frame: &mut Frame<'_>, l: &ScreenLayout, s: &State, id: &str, cx: &Ctx<'_>) {
    header(frame, l.header, s, id, cx);
    if let Some(tabs) = l.tabs {
        draw_tabs(frame, tabs, s, cx);
    }
    for (pane, area) in panes(l.body, s.room.focus) {
        let focused = pane == s.room.focus;
        let t = cx.theme;
        let border = t.style(if focused { Role::BorderFocus } else { Role::Border });
        let title = pane_title(pane, s, id);
        let block = Block::bordered()
            .border_style(border)
            .title(Span::styled(title, t.style(if focused { Role::Title } else { Role::Muted })));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        match pane {
            Pane::Timeline => timeline::draw(frame, inner, s, id, focused, cx),
            Pane::Roster => lists::roster(frame, inner, s, id, focused, cx),
            Pane::Checklists => lists::checklists(frame, inner, s, id, focused, cx),
        }
    }
}

fn pane_title(pane: Pane, s: &State, id: &str) -> String {
    match pane {
        Pane::Timeline => {
            let Some(tl) = s.timeline(id) else { return " Timeline ".into() };
            let mut t = format!(" Timeline ({}", tl.len());
            if let Some(k) = tl.filter() {
                t.push_str(&format!(" · kind {k}"));
            }
            if let Some(q) = tl.search() {
                t.push_str(&format!(" · /{}", text::line(q)));
            }
            if !tl.loaded {
                t.push_str(" · loading…");
            }
            if !s.room.follow {
                t.push_str(" · scrolled");
            }
            t.push_str(") ");
            t
        }
        p => format!(" {} ", p.title()),
    }
}

fn header(frame: &mut Frame<'_>, area: Rect, s: &State, id: &str, cx: &Ctx<'_>) {
    let t = cx.theme;
    let Some(inc) = s.incidents.get(id) else {
        let msg = format!("{} — waiting for the incident's state from the server", text::line(id));
        frame.render_widget(Paragraph::new(Span::styled(msg, t.style(Role::Muted))), area);
        return;
    };
    let sev = text::line(&inc.severity);
    let rank = s.severity_rank(&inc.severity);
    let sev_name =
        s.practice.as_ref().and_then(|p| p.scheme().level(&inc.severity)).map(|l| text::line(&l.name));
    let end = inc.resolved_at.unwrap_or(s.now);
    // Fixed-width facts first, the title last: at 80 columns the title is what gets cut.
    let mut l1 = vec![Span::styled(format!(" {sev} "), t.severity(rank))];
    if let Some(n) = sev_name {
        l1.push(Span::styled(format!(" {n}"), t.style(Role::Text)));
    }
    l1.extend([
        Span::raw(" "),
        Span::styled(text::line(&inc.id), t.style(Role::Accent)),
        Span::styled(" · ", t.style(Role::Muted)),
        Span::styled(
            inc.status.as_str(),
            t.style(if inc.is_open() { Role::StatusOpen } else { Role::StatusResolved }),
        ),
        Span::styled(" · ", t.style(Role::Muted)),
    ]);
    match inc.commander() {
        Some(c) => l1.push(Span::styled(format!("IC {}", text::line(c)), t.style(Role::Text))),
        None => l1.push(Span::styled("no IC", t.style(Role::Unheld))),
    }
    l1.extend([
        Span::styled(" · ", t.style(Role::Muted)),
        Span::styled(timers::elapsed(inc.declared_at, end), t.style(Role::Text)),
        Span::styled(" · ", t.style(Role::Muted)),
        Span::styled(text::line(&inc.title), t.style(Role::Title)),
    ]);
    let (resp, role) = board::response_cell(inc, s);
    let mut l2 = vec![Span::styled(format!(" response {resp}"), t.style(role))];
    if let Some(due) = timers::next_update_due(inc, s.practice.as_ref(), s.now) {
        l2.push(Span::styled("  ·  ", t.style(Role::Muted)));
        if due < 0 {
            l2.push(Span::styled(
                format!("status update overdue {}", timers::human(-due)),
                t.style(Role::Breached),
            ));
        } else {
            l2.push(Span::styled(format!("next update in {}", timers::human(due)), t.style(Role::Text)));
        }
    }
    if let Some((left, done)) = timers::resolution(inc, s.practice.as_ref(), s.now) {
        l2.push(Span::styled("  ·  ", t.style(Role::Muted)));
        let (txt, role) = match (done, left >= 0) {
            (true, true) => ("resolved within target".to_string(), Role::Ok),
            (true, false) => (format!("resolved {} late", timers::human(-left)), Role::Breached),
            (false, true) => (format!("resolve in {}", timers::human(left)), Role::Text),
            (false, false) => (format!("resolution BREACHED +{}", timers::human(-left)), Role::Breached),
        };
        l2.push(Span::styled(txt, t.style(role)));
    }
    if let Some(level) = timers::escalation(inc, s.practice.as_ref(), s.now) {
        l2.push(Span::styled("  ·  ", t.style(Role::Muted)));
        l2.push(Span::styled(format!("escalation {}", text::line(level)), t.style(Role::Warning)));
    }
    l2.push(Span::styled("  ·  ", t.style(Role::Muted)));
    l2.extend(statusbar::link_spans(s, cx));
    l2.push(Span::styled(format!("  ·  {}", text::line(&s.server_label)), t.style(Role::Muted)));
    frame.render_widget(Paragraph::new(vec![Line::from(l1), Line::from(l2)]), area);
}

fn draw_tabs(frame: &mut Frame<'_>, area: Rect, s: &State, cx: &Ctx<'_>) {
    let t = cx.theme;
    let mut spans = Vec::new();
    for (i, p) in Pane::ALL.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" │ ", t.style(Role::Muted)));
        }
        let role = if *p == s.room.focus { Role::TabActive } else { Role::Tab };
        spans.push(Span::styled(format!(" {} ", p.title()), t.style(role)));
    }
    spans.push(Span::styled("  (tab switches)", t.style(Role::Muted)));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
