//! How an incident's clocks read on screen: `domain::timers` states as `met in 4m` /
//! `due in 12m` / `breached by 3m` with a theme role each (breached stands out in every theme,
//! bold and reverse in mono). Computed once per drawn incident per frame, never per event.

use chrono::{DateTime, Utc};
use ratatui::text::Span;

use crate::domain::timers::{self, BoardTimer, TimerState};
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
pub use crate::domain::timers::pending_deadlines;

/// The board's timer cell (`timers::board_timer`) with its theme role.
pub fn board_cell(inc: &Incident, s: &State) -> (String, Role) {
    let Some(p) = &s.practice else { return ("—".to_string(), Role::Muted) };
    let t = timers::board_timer(p.scheme(), inc, s.now);
    let role = match &t {
        BoardTimer::Response(st) => role(st),
        BoardTimer::Deadline(_, st) => role(st),
        BoardTimer::PostmortemDone => Role::Ok,
        BoardTimer::None => Role::Muted,
    };
    let label = match &t {
        BoardTimer::Deadline(id, st) => format!("{} {}", text::line(id), st.label()),
        other => other.label(),
    };
    (label, role)
}

/// `label state` as two spans (the state in its role).
pub fn spans(label: &str, t: &TimerState, theme: &Theme) -> Vec<Span<'static>> {
    vec![
        Span::styled(format!("{label} "), theme.style(Role::Muted)),
        Span::styled(t.label(), theme.style(role(t))),
    ]
}
