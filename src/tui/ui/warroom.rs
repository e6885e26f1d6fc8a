//! The war room: the header (severity, id, title, status, elapsed; then the clocks from
//! `domain::timers`: response, next status update, escalation level and who, resolution target,
//! post-mortem deadlines once resolved; the suggested incident channel, link state, server), the
//! tabs at narrow widths, and the panes.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Ctx, clocks, lists, sent, statusbar, timeline};
use crate::domain::replay::By;
use crate::domain::timers::{self, TimerState};
use crate::domain::{EventBody, comms, text};
use crate::tui::format;
use crate::tui::state::layout::{ScreenLayout, panes};
use crate::tui::state::{Pane, State};
use crate::tui::theme::Role;

pub fn draw(frame: &mut Frame<'_>, l: &ScreenLayout, s: &State, id: &str, cx: &Ctx<'_>) {
    header(frame, l.header, s, id, cx);
    if let Some(tabs) = l.tabs {
        draw_tabs(frame, tabs, s, cx);
    }
    for (pane, area) in panes(l.body, s) {
        let focused = pane == s.room.focus;
        let t = cx.theme;
        let border = t.style(if focused { Role::BorderFocus } else { Role::Border });
        let title = pane_title(pane, s, id);
        let title = Span::styled(title, t.style(if focused { Role::Title } else { Role::Muted }));
        // What `Block::bordered()` draws, without its cost per cell.
        let inner = super::direct::bordered(frame.buffer_mut(), area, border, title, None);
        match pane {
            Pane::Timeline => timeline::draw(frame, inner, s, id, focused, cx),
            Pane::Roster => lists::roster(frame, inner, s, id, focused, cx),
            Pane::Checklists => lists::checklists(frame, inner, s, id, focused, cx),
            Pane::Comms => sent::draw(frame, inner, s, id, focused, cx),
        }
    }
}

fn pane_title(pane: Pane, s: &State, id: &str) -> String {
    match pane {
        Pane::Timeline => {
            let Some(tl) = s.timeline(id) else { return " Timeline ".into() };
            if let Some(r) = s.replay.as_ref().filter(|r| r.incident == id) {
                let known = if r.cursor.by() == By::Recorded { " · known then" } else { "" };
                return format!(" Timeline (replay {}/{}{known}) ", r.cursor.pos(), tl.events().len());
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
        Pane::Comms => sent::title(s, id),
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
    if inc.demo {
        l1.extend([Span::raw(" "), Span::styled("DEMO", super::board::demo_style(t))]);
    }
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
    ]);
    // The title takes the room left, shortened at a word with an ellipsis.
    let room = usize::from(area.width).saturating_sub(width(&l1));
    l1.push(Span::styled(super::fit_words(&text::line(&inc.title), room), t.style(Role::Title)));
    // One computation of every clock per frame (cost independent of the log's length).
    let mut parts: Vec<Part> = Vec::new();
    if let Some(p) = &s.practice {
        let scheme = p.scheme();
        let tm = match replay.and_then(|r| r.cursor.timers(scheme)) {
            Some(tm) => tm,
            None => timers::timers(scheme, inc, now),
        };
        if tm.response != TimerState::NotApplicable {
            parts.push(
                Part::new(clocks::spans("response", &tm.response, t))
                    .or(Cut::ShortLabels, || clocks::spans("resp", &tm.response, t)),
            );
        }
        if tm.update != TimerState::NotApplicable {
            let plain = clocks::spans("next update", &tm.update, t);
            let mut part = Part::new(plain.clone());
            if let Some(at) = tm.next_update_at {
                let hhmm = format::time(at, s.time);
                let mut u = plain;
                u.push(Span::styled(format!(" ({})", hhmm.get(..5).unwrap_or(&hhmm)), t.style(Role::Muted)));
                part = Part::new(u).or(Cut::Times, || clocks::spans("next update", &tm.update, t));
            }
            parts.push(part.or(Cut::Labels, || clocks::spans("update", &tm.update, t)));
        }
        if let Some(step) = &tm.escalation {
            let (level, who) = (text::line(&step.level), text::line(&step.who));
            let head = |label: &str, who: &str| {
                let txt = if who.is_empty() {
                    format!("{label} {level}")
                } else {
                    format!("{label} {level} {who}")
                };
                vec![Span::styled(txt, t.style(Role::Warning))]
            };
            let mut full = head("escalation", &who);
            if let Some((next, at)) = &tm.next_escalation {
                let left = TimerState::Due { in_: (*at - now).max(chrono::Duration::zero()) };
                full.push(Span::styled(
                    format!(" ({} {})", text::line(&next.level), left.label()),
                    t.style(Role::Muted),
                ));
            }
            // Who is cut to the room left before it goes.
            let who_w = who.chars().count();
            let (level2, who2) = (level.clone(), who.clone());
            let squeezed = move |over: usize| {
                let (level, who) = (&level2, &who2);
                let keep = who_w.checked_sub(over).filter(|k| *k >= 6)?;
                let mut txt = format!("escalation {level} ");
                txt.push_str(&super::fit(who, keep));
                Some(vec![Span::styled(txt, t.style(Role::Warning))])
            };
            parts.push(
                Part::new(full)
                    .or(Cut::Times, || head("escalation", &who))
                    // "escalation", never "esc" (it reads like the Esc key).
                    .or(Cut::Who, || head("escalation", ""))
                    .squeeze(Cut::Who, squeezed),
            );
        }
        if tm.resolution != TimerState::NotApplicable {
            parts.push(
                Part::new(clocks::spans("resolution", &tm.resolution, t))
                    .or(Cut::ShortLabels, || clocks::spans("resol", &tm.resolution, t)),
            );
        }
        if !tm.postmortem.is_empty() {
            let pending: Vec<_> = clocks::pending_deadlines(&tm.postmortem).collect();
            if pending.is_empty() {
                if inc.status != crate::domain::Status::Closed {
                    parts.push(
                        Part::new(vec![Span::styled("post-mortem deadlines met", t.style(Role::Ok))])
                            .or(Cut::Drop, Vec::new),
                    );
                }
            } else {
                let pm = |label: &str| {
                    let mut pm = vec![Span::styled(label.to_string(), t.style(Role::Muted))];
                    for (i, d) in pending.iter().enumerate() {
                        pm.push(Span::styled(if i == 0 { " " } else { " · " }, t.style(Role::Muted)));
                        pm.extend(clocks::spans(&text::line(&d.id), &d.state, t));
                    }
                    pm
                };
                parts.push(Part::new(pm("post-mortem:")).or(Cut::Labels, || pm("pm:")));
            }
        }
        if inc.is_open() && scheme.level(&inc.severity).is_some_and(|l| l.channel) {
            let channel = vec![Span::styled(comms::channel_name(inc), t.style(Role::Accent))];
            parts.push(Part::new(channel).or(Cut::Channel, Vec::new));
        }
    }
    if let Some(d) = latest_delivery(s, id, t) {
        parts.push(Part::new(d).or(Cut::Drop, Vec::new));
    }
    parts.push(Part::new(statusbar::link_spans(s, cx)).pinned());
    let server = vec![Span::styled(text::line(&s.server_label), t.style(Role::Muted))];
    parts.push(Part::new(server).or(Cut::Server, Vec::new));
    let l2 = fit_line(parts, usize::from(area.width), t);
    timeline::render_lines(frame, area, vec![Line::from(l1), l2]);
}

/// Notifications: the latest delivery attempt of the incident ("update posted to ops-slack
/// 14:32", "✕ teams: 404 Not Found, retrying in 2m"), looked for among the last events only so
/// a frame's cost stays independent of the log's length.
fn latest_delivery(s: &State, id: &str, t: &crate::tui::theme::Theme) -> Option<Vec<Span<'static>>> {
    let tl = s.timeline(id)?;
    let e = tl.latest_delivery(200)?;
    let body = e.body();
    let EventBody::Delivery { target, ok, about, .. } = body.as_ref() else { return None };
    let txt = if *ok {
        let what = match about.as_str() {
            "comms_sent" => "update ",
            "" => "",
            _ => "notice ",
        };
        let at = format::time(e.recorded_at(), s.time);
        let hhmm = at.get(..5).unwrap_or(&at);
        text::line(&format!("{what}posted to {target} {hhmm}"))
    } else {
        text::line(&body.summary())
    };
    Some(vec![Span::styled(txt, t.style(if *ok { Role::Ok } else { Role::Warning }))])
}

/// What the header's second line gives up, in this order, until it fits the width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cut {
    /// The server's label.
    Server,
    /// Wide separators become narrow (not a part's variant: see `fit_line`).
    Separators,
    /// The suggested incident channel.
    Channel,
    /// Optional items (e.g. "post-mortem deadlines met").
    Drop,
    /// Clock times in parentheses (next update at, next escalation step).
    Times,
    /// Long labels: "next update" -> "update", "escalation" -> "esc", "post-mortem" -> "pm".
    Labels,
    /// Who the escalation level goes to (first cut short, then dropped).
    Who,
    /// "response" -> "resp", "resolution" -> "resol".
    ShortLabels,
}

/// One item of the header's second line and its shorter forms, each taken at a [`Cut`].
struct Part<'a> {
    forms: Vec<(Option<Cut>, Vec<Span<'static>>)>,
    /// Never cut off: when the line still does not fit after every cut, it goes first.
    pinned: bool,
    /// Before `Cut` is made: a form that gives up the given number of columns, if it can.
    squeeze: Option<Squeeze<'a>>,
}

type Squeeze<'a> = (Cut, Box<dyn Fn(usize) -> Option<Vec<Span<'static>>> + 'a>);

impl<'a> Part<'a> {
    fn new(full: Vec<Span<'static>>) -> Part<'a> {
        Part { forms: vec![(None, full)], pinned: false, squeeze: None }
    }

    fn pinned(mut self) -> Part<'a> {
        self.pinned = true;
        self
    }

    fn squeeze(mut self, cut: Cut, f: impl Fn(usize) -> Option<Vec<Span<'static>>> + 'a) -> Part<'a> {
        self.squeeze = Some((cut, Box::new(f)));
        self
    }

    /// A shorter form (empty: dropped) used from `cut` on.
    fn or(mut self, cut: Cut, form: impl FnOnce() -> Vec<Span<'static>>) -> Part<'a> {
        self.forms.push((Some(cut), form()));
        self
    }

    /// The form in force once every cut up to `upto` is made.
    fn at(&self, upto: Option<Cut>) -> &[Span<'static>] {
        let mut cur = &self.forms[0].1;
        for (cut, form) in &self.forms[1..] {
            if cut.is_some_and(|c| upto.is_some_and(|u| c <= u)) {
                cur = form;
            }
        }
        cur
    }
}

fn width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(Span::width).sum()
}

/// The parts in their forms once every cut up to `upto` is made (part `swap.0` in the form
/// `swap.1`), with separators.
fn layout(
    parts: &[Part<'_>],
    upto: Option<Cut>,
    swap: Option<(usize, &[Span<'static>])>,
    t: &crate::tui::theme::Theme,
) -> Vec<Span<'static>> {
    let wide = upto.is_none_or(|u| u < Cut::Separators);
    let sep = if wide { "  ·  " } else { " · " };
    let mut out = vec![Span::raw(" ")];
    for (i, p) in parts.iter().enumerate() {
        let form = match swap {
            Some((j, form)) if j == i => form,
            _ => p.at(upto),
        };
        if form.is_empty() {
            continue;
        }
        if out.len() > 1 {
            out.push(Span::styled(sep, t.style(Role::Muted)));
        }
        out.extend(form.iter().cloned());
    }
    out
}

/// Lays out the parts, making the cuts in order until the line fits `w` columns. If it still
/// does not fit, the pinned parts (the link state) go first and the rest is cut at the edge.
fn fit_line(mut parts: Vec<Part<'_>>, w: usize, t: &crate::tui::theme::Theme) -> Line<'static> {
    const CUTS: [Cut; 8] = [
        Cut::Server,
        Cut::Separators,
        Cut::Channel,
        Cut::Drop,
        Cut::Times,
        Cut::Labels,
        Cut::Who,
        Cut::ShortLabels,
    ];
    let mut upto = None;
    let mut line = layout(&parts, upto, None, t);
    for cut in CUTS {
        let over = width(&line).saturating_sub(w);
        if over == 0 {
            return Line::from(line);
        }
        for (i, p) in parts.iter().enumerate() {
            if let Some((c, f)) = &p.squeeze
                && *c == cut
                && let Some(form) = f(over)
            {
                let squeezed = layout(&parts, upto, Some((i, &form)), t);
                if width(&squeezed) <= w {
                    return Line::from(squeezed);
                }
            }
        }
        upto = Some(cut);
        line = layout(&parts, upto, None, t);
    }
    if width(&line) > w {
        parts.sort_by_key(|p| !p.pinned);
        line = layout(&parts, upto, None, t);
    }
    Line::from(line)
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
    super::direct::render_lines(frame.buffer_mut(), area, vec![Line::from(spans)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line<'_>) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    fn part(s: &str) -> Part<'static> {
        Part::new(vec![Span::raw(s.to_string())])
    }

    #[test]
    fn the_link_state_is_never_cut_off() {
        let t = crate::tui::theme::Theme::builtin("mono").unwrap();
        let parts = || {
            vec![
                part("response met in 4m").or(Cut::ShortLabels, || vec![Span::raw("resp met in 4m")]),
                part("update due in 10m"),
                part("resolution due in 3h59m"),
                part("post-mortem: report due in 2d"),
                part("✕ writes refused · 3 queued").pinned(),
                part("http://server").or(Cut::Server, Vec::new),
            ]
        };
        // Wide: everything, with wide separators.
        let line = text(&fit_line(parts(), 200, &t));
        assert!(line.contains("  ·  http://server"), "{line}");
        // Narrow: the server goes, the short label comes, and the link state moves first.
        let line = text(&fit_line(parts(), 80, &t));
        assert!(line.starts_with(" ✕ writes refused · 3 queued · resp met in 4m"), "{line}");
        assert!(!line.contains("http://server"), "{line}");
        // Fits after the cuts: the order stays.
        let line =
            text(&fit_line(parts().into_iter().take(2).chain([part("● live").pinned()]).collect(), 50, &t));
        assert_eq!(line, " response met in 4m · update due in 10m · ● live");
    }
}
