//! How an incident's clocks read on screen: `domain::timers` states as `met in 4m` /
//! `due in 12m` / `breached by 3m` with a theme role each (breached stands out in every theme,
//! bold and reverse in mono). Computed once per drawn incident per frame, never per event.

use chrono::{DateTime, Utc};
use ratatui::text::Span;

use crate::domain::timers::{self, Deadline, TimerState};
use crate::domain::{Incident, text};
use crate::tui::state::State;
use crate::tui::theme::{Role, Theme};

/// The role a timer state is drawn in.
pub fn role(t: &TimerState) -> Role {
    match t {
        TimerState::Met { .. } => Role::Ok,
        TimerState::Due { .. } => Role::Warning,
        TimerState::Breached { .. } => Role::Breached,
        TimerState::NotApplicable => Role::Muted,
    }
}

/// Elapsed time between two instants: `48m`, `1h04m`, `2d03h`.
pub fn age(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    timers::format_duration(to - from)
}

/// The post-mortem deadlines still to meet (not met, not dropped by closing).
pub fn pending_deadlines(deadlines: &[Deadline]) -> impl Iterator<Item = &Deadline> {
    deadlines.iter().filter(|d| matches!(d.state, TimerState::Due { .. } | TimerState::Breached { .. }))
}

/// The board's timer cell: the response state of an open incident; for a resolved one, its
/// most pressing post-mortem deadline until they are all met.
pub fn board_cell(inc: &Incident, s: &State) -> (String, Role) {
    let Some(p) = &s.practice else { return ("—".to_string(), Role::Muted) };
    let scheme = p.scheme();
    if inc.is_open() {
        let r = timers::response(scheme, inc, s.now);
        return match r {
            TimerState::NotApplicable => ("—".to_string(), Role::Muted),
            r => (r.label(), role(&r)),
        };
    }
    let deadlines = timers::postmortem_deadlines(scheme, inc, s.now);
    let next = pending_deadlines(&deadlines).min_by_key(|d| (!d.state.is_breached(), d.due_at));
    match next {
        Some(d) => (format!("{} {}", text::line(&d.id), d.state.label()), role(&d.state)),
        None if !deadlines.is_empty() && inc.status != crate::domain::Status::Closed => {
            ("post-mortem done".to_string(), Role::Ok)
        }
        None => ("—".to_string(), Role::Muted),
    }
}

/// `label state` as two spans (the state in its role).
pub fn spans(label: &str, t: &TimerState, theme: &Theme) -> Vec<Span<'static>> {
    vec![
        Span::styled(format!("{label} "), theme.style(Role::Muted)),
        Span::styled(t.label(), theme.style(role(t))),
    ]
}
