//! The war room: the header (severity, id, title, status, elapsed; then the clocks from
//! `domain::timers`: response, next status update, escalation level and who, resolution target,
//! post-mortem deadlines once resolved; the suggested incident channel, link state, server), the
//! tabs at narrow widths, and the panes.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::layout::{ScreenLayout, panes};
use super::{Ctx, clocks, lists, statusbar, timeline};
use crate::domain::timers::{self, TimerState};
use crate::domain::{comms, text};
use crate::tui::format;
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
            if let Some(r) = s.replay.as_ref().filter(|r| r.incident == id) {
                return format!(" Timeline (replay {}/{}) ", r.cursor.pos(), tl.events().len());
            }
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
        Pane::Checklists => {
            let open = s.shown_incident(id).map_or(0, |i| i.action_items.iter().filter(|a| !a.done).count());
            match open {
                0 => " Checklists ".into(),
                1 => " Checklists · 1 action item open ".into(),
                n => format!(" Checklists · {n} action items open "),
            }
        }
        p => format!(" {} ", p.title()),
    }
}

fn header(frame: &mut Frame<'_>, area: Rect, s: &State, id: &str, cx: &Ctx<'_>) {
    let t = cx.theme;
    // In replay the clocks run at the cursor's moment, not now.
    let replay = s.replay.as_ref().filter(|r| r.incident == id);
    let now = replay.and_then(|r| r.cursor.time()).unwrap_or(s.now);
    let Some(inc) = s.shown_incident(id) else {
        if replay.is_some() {
            let msg = " REPLAY · before the declaration ";
            frame.render_widget(Paragraph::new(Span::styled(msg, banner_style(t))), area);
            return;
        }
        let msg = format!("{} — waiting for the incident's state from the server", text::line(id));
        frame.render_widget(Paragraph::new(Span::styled(msg, t.style(Role::Muted))), area);
        return;
    };
    let sev = text::line(&inc.severity);
    let rank = s.severity_rank(&inc.severity);
    let sev_name =
        s.practice.as_ref().and_then(|p| p.scheme().level(&inc.severity)).map(|l| text::line(&l.name));
    let end = inc.resolved_at.unwrap_or(now);
    // Fixed-width facts first, the title last: at 80 columns the title is what gets cut.
    let mut l1 = Vec::new();
    if let Some(r) = replay {
        let total = r.events(s).len();
        let at = r
            .cursor
            .time()
            .map(|at| format!("{} {}", format::time(at, s.time), format::zone(s.time)))
            .unwrap_or_default();
        let label = format!(" REPLAY {at} · event {}/{total} ", r.cursor.pos());
        l1.push(Span::styled(label, banner_style(t)));
        l1.push(Span::raw(" "));
    }
    l1.push(Span::styled(format!(" {sev} "), t.severity(rank)));
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
        Span::styled(clocks::age(inc.declared_at, end), t.style(Role::Text)),
        Span::styled(" · ", t.style(Role::Muted)),
        Span::styled(text::line(&inc.title), t.style(Role::Title)),
    ]);
    // One computation of every clock per frame (cost independent of the log's length).
    let mut l2 = vec![Span::raw(" ")];
    let sep = || Span::styled("  ·  ", t.style(Role::Muted));
    if let Some(p) = &s.practice {
        let scheme = p.scheme();
        let tm = match replay.and_then(|r| r.cursor.timers(scheme)) {
            Some(tm) => tm,
            None => timers::timers(scheme, inc, now),
        };
        let mut parts: Vec<Vec<Span<'static>>> = Vec::new();
        if tm.response != TimerState::NotApplicable {
            parts.push(clocks::spans("response", &tm.response, t));
        }
        if tm.update != TimerState::NotApplicable {
            let mut u = clocks::spans("next update", &tm.update, t);
            if let Some(at) = tm.next_update_at {
                let hhmm = format::time(at, s.time);
                u.push(Span::styled(format!(" ({})", hhmm.get(..5).unwrap_or(&hhmm)), t.style(Role::Muted)));
            }
            parts.push(u);
        }
        if let Some(step) = &tm.escalation {
            let mut e = vec![Span::styled(
                format!("escalation {} {}", text::line(&step.level), text::line(&step.who)),
                t.style(Role::Warning),
            )];
            if let Some((next, at)) = &tm.next_escalation {
                let left = TimerState::Due { in_: (*at - now).max(chrono::Duration::zero()) };
                e.push(Span::styled(
                    format!(" ({} {})", text::line(&next.level), left.label()),
                    t.style(Role::Muted),
                ));
            }
            parts.push(e);
        }
        if tm.resolution != TimerState::NotApplicable {
            parts.push(clocks::spans("resolution", &tm.resolution, t));
        }
        if !tm.postmortem.is_empty() {
            let pending: Vec<_> = clocks::pending_deadlines(&tm.postmortem).collect();
            if pending.is_empty() {
                if inc.status != crate::domain::Status::Closed {
                    parts.push(vec![Span::styled("post-mortem deadlines met", t.style(Role::Ok))]);
                }
            } else {
                let mut pm = vec![Span::styled("post-mortem:", t.style(Role::Muted))];
                for (i, d) in pending.into_iter().enumerate() {
                    pm.push(Span::styled(if i == 0 { " " } else { " · " }, t.style(Role::Muted)));
                    pm.extend(clocks::spans(&text::line(&d.id), &d.state, t));
                }
                parts.push(pm);
            }
        }
        if inc.is_open() && scheme.level(&inc.severity).is_some_and(|l| l.channel) {
            parts.push(vec![Span::styled(comms::channel_name(inc), t.style(Role::Accent))]);
        }
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                l2.push(sep());
            }
            l2.extend(part);
        }
    }
    if l2.len() > 1 {
        l2.push(sep());
    }
    l2.extend(statusbar::link_spans(s, cx));
    l2.push(Span::styled(format!("  ·  {}", text::line(&s.server_label)), t.style(Role::Muted)));
    frame.render_widget(Paragraph::new(vec![Line::from(l1), Line::from(l2)]), area);
}

/// The replay banner: reverse and bold, so it stands out in the mono theme too.
pub fn banner_style(t: &crate::tui::theme::Theme) -> ratatui::style::Style {
    use ratatui::style::Modifier;
    t.style(Role::Warning).add_modifier(Modifier::REVERSED | Modifier::BOLD)
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
