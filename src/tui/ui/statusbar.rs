//! The two bottom lines: the status line (link state, queued writes, who you are, the latest
//! notice) and the command bar (the keys that work in the focused context, from the keymap).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::Ctx;
use crate::client::{LinkState, Writes};
use crate::domain::text;
use crate::tui::format;
use crate::tui::state::State;
use crate::tui::state::replay::is_write;
use crate::tui::theme::Role;

/// The link state as the user should see it, short (for the headers): `● live · 3 queued`;
/// when the server refuses writes, `✕ writes refused · 3 queued` (the status line says why).
pub fn link_spans(s: &State, cx: &Ctx<'_>) -> Vec<Span<'static>> {
    let t = cx.theme;
    let mut out = Vec::new();
    // A refusal came from a server that answered: while the link is live, "live" says less.
    if !(s.writes.is_refused() && matches!(s.link, LinkState::Live { .. })) {
        out.extend(link_state(s, cx));
    }
    if let Writes::Refused { status, .. } = &s.writes {
        if !out.is_empty() {
            out.push(Span::styled(" · ", t.style(Role::Muted)));
        }
        let what = if *status == 401 { "✕ token refused" } else { "✕ writes refused" };
        out.push(Span::styled(what, t.style(Role::Breached)));
    }
    if s.outbox > 0 || matches!(s.link, LinkState::Offline { .. }) || s.writes.is_refused() {
        out.push(Span::styled(format!(" · {} queued", s.outbox), t.style(Role::Pending)));
    }
    out
}

fn link_state(s: &State, cx: &Ctx<'_>) -> Vec<Span<'static>> {
    let t = cx.theme;
    let mut out = Vec::new();
    // Started from the local cache and not live yet: it may be behind.
    if let Some(at) = s.cached {
        let hhmm = format::time(at, s.time);
        out.push(Span::styled(
            format!("◆ cached {}", hhmm.get(..5).unwrap_or(&hhmm)),
            t.style(Role::Warning),
        ));
        out.push(Span::styled(" · ", t.style(Role::Muted)));
    }
    out.extend(link_now(s, cx));
    out
}

fn link_now(s: &State, cx: &Ctx<'_>) -> Vec<Span<'static>> {
    let t = cx.theme;
    match &s.link {
        LinkState::Connecting => vec![Span::styled("◌ connecting", t.style(Role::Warning))],
        LinkState::Live { long_poll: false } => vec![Span::styled("● live", t.style(Role::Ok))],
        LinkState::Live { long_poll: true } => vec![Span::styled("● live (long-poll)", t.style(Role::Ok))],
        // Attempt 0: the server answered our writes; the stream is on its way back.
        LinkState::Reconnecting { attempt: 0, .. } => {
            vec![Span::styled("◌ server answered, reconnecting", t.style(Role::Warning))]
        }
        LinkState::Reconnecting { attempt, .. } => {
            vec![Span::styled(format!("◌ reconnecting (attempt {attempt})"), t.style(Role::Warning))]
        }
        LinkState::Offline { since, .. } => vec![Span::styled(
            format!("✕ offline since {}", format::time(*since, s.time)),
            t.style(Role::Breached),
        )],
    }
}

/// The refusal in words, for the status line: `✕ server refuses writes: the database is
/// read-only or full — 3 queued, retrying`, or `✕ server refused the token — 3 queued`.
pub fn refusal_text(s: &State) -> Option<String> {
    let Writes::Refused { status, .. } = &s.writes else { return None };
    let n = s.outbox;
    Some(if *status == 401 {
        format!("✕ server refused the token — {n} queued")
    } else {
        let why = s.writes.reason().unwrap_or_default();
        format!("✕ server refuses writes: {why} — {n} queued, retrying")
    })
}

pub fn draw_status(frame: &mut Frame<'_>, area: Rect, s: &State, cx: &Ctx<'_>) {
    let t = cx.theme;
    let mut spans = Vec::new();
    match refusal_text(s) {
        // The refusal first, whole: it is what the user must not miss.
        Some(refused) => {
            if !matches!(s.link, LinkState::Live { .. }) {
                spans.extend(link_state(s, cx));
                spans.push(Span::styled(" · ", t.style(Role::Muted)));
            }
            spans.push(Span::styled(refused, t.style(Role::Breached)));
        }
        None => spans = link_spans(s, cx),
    }
    if let Some(me) = &s.me {
        spans.push(Span::styled(format!(" · {} ({})", text::line(&me.name), me.role), t.style(Role::Muted)));
    }
    spans.push(Span::styled(format!(" · {}", format::zone(s.time)), t.style(Role::Muted)));
    match &s.notice {
        Some(n) => {
            spans.push(Span::raw("  "));
            // Shortened at a word where it does not fit, never cut mid-word.
            let room = usize::from(area.width).saturating_sub(spans.iter().map(Span::width).sum());
            spans.push(Span::styled(
                super::fit_words(&text::line(&n.text), room),
                t.style(if n.error { Role::Error } else { Role::Notice }),
            ));
        }
        None => {
            let room =
                usize::from(area.width).saturating_sub(spans.iter().map(Span::width).sum::<usize>() + 2);
            if let Writes::Refused { message, .. } = &s.writes {
                let m = super::fit_words(&text::line(message), room);
                spans.push(Span::styled(format!("  {m}"), t.style(Role::Muted)));
            } else if let LinkState::Reconnecting { error, .. } | LinkState::Offline { error, .. } = &s.link {
                let m = super::fit_words(&text::line(error), room);
                spans.push(Span::styled(format!("  {m}"), t.style(Role::Muted)));
            }
        }
    }
    super::direct::render_lines(frame.buffer_mut(), area, vec![Line::from(spans)]);
}

/// `key desc` pairs for the focused context, nearest context first, as many as fit.
pub fn draw_commands(frame: &mut Frame<'_>, area: Rect, s: &State, cx: &Ctx<'_>) {
    let t = cx.theme;
    let mut spans = Vec::new();
    let mut used = 0usize;
    let w = area.width as usize;
    let ctx = s.context();
    use crate::tui::action::Action as A;
    // Help first, then the scribe's entry keys, then what the focused pane adds, then the rest.
    let rank = |c: crate::tui::keymap::Context, a: &A| match a {
        A::Help => 0,
        A::Replay if ctx == crate::tui::keymap::Context::Replay => 0,
        A::Note | A::Finding | A::ActionEntry | A::Decision | A::SearchNext | A::SearchPrev => 1,
        _ if c == ctx => 2,
        _ => 3,
    };
    let mut items: Vec<(u8, String, String)> = cx
        .keys
        .effective(ctx)
        .into_iter()
        .filter(|(_, b)| !b.keys.is_empty())
        // Plain movement keys are obvious; keep the bar for what is specific here.
        .filter(|(_, b)| {
            !matches!(b.action, A::Up | A::Down | A::PageUp | A::PageDown | A::Top | A::Bottom | A::Suspend)
        })
        // Replay is read-only: its bar shows how to move and how to leave, not how to write.
        .filter(|(_, b)| ctx != crate::tui::keymap::Context::Replay || !is_write(&b.action))
        .map(|(c, b)| (rank(c, &b.action), b.keys[0].to_string(), b.desc.clone()))
        .collect();
    items.sort_by_key(|(r, _, _)| *r);
    let items = items.into_iter().map(|(_, k, d)| (k, d));
    for (key, desc) in items {
        let need = key.chars().count() + desc.chars().count() + 3;
        if used + need > w {
            break;
        }
        spans.push(Span::styled(key, t.style(Role::Key)));
        spans.push(Span::styled(format!(" {desc}  "), t.style(Role::Muted)));
        used += need;
    }
    super::direct::render_lines(frame.buffer_mut(), area, vec![Line::from(spans)]);
}
