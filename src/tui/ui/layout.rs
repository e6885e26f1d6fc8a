//! Where things go. Below 100 columns the war room shows one pane at a time with tabs; from
//! 100 the timeline sits beside a roster/checklists column; from 160 all three panes stand
//! side by side. The composer takes a band under the panes and grows with its text.

use ratatui::layout::{Constraint, Layout, Rect};

use crate::tui::state::{Overlay, Pane, Screen, State};

/// Widths at which the war room's panes spread out.
pub const TABS_BELOW: u16 = 100;
pub const ALL_SIDE_BY_SIDE_FROM: u16 = 160;

#[derive(Debug, Clone, Copy)]
pub struct ScreenLayout {
    pub header: Rect,
    pub tabs: Option<Rect>,
    pub body: Rect,
    pub composer: Option<Rect>,
    pub status: Rect,
    pub commands: Rect,
}

/// Height of the composer band for its text.
fn composer_height(s: &State, avail: u16) -> u16 {
    let Some(Overlay::Composer(c)) = &s.overlay else { return 0 };
    let lines = c.input.lines().len() as u16;
    let extra = u16::from(c.time_input.is_some()) + u16::from(c.error.is_some());
    (lines + extra + 2).clamp(3, (avail / 2).max(3))
}

pub fn screen(area: Rect, s: &State) -> ScreenLayout {
    let war_room = matches!(s.screen, Screen::WarRoom(_));
    let header_h = if war_room { 2 } else { 1 };
    let tabs_h = u16::from(war_room && area.width < TABS_BELOW);
    let avail = area.height.saturating_sub(header_h + tabs_h + 2);
    let comp_h = if war_room { composer_height(s, avail) } else { 0 };
    let [header, tabs, body, composer, status, commands] = Layout::vertical([
        Constraint::Length(header_h),
        Constraint::Length(tabs_h),
        Constraint::Min(1),
        Constraint::Length(comp_h),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    ScreenLayout {
        header,
        tabs: (tabs_h > 0).then_some(tabs),
        body,
        composer: (comp_h > 0).then_some(composer),
        status,
        commands,
    }
}

/// The panes shown and where.
pub fn panes(body: Rect, focus: Pane) -> Vec<(Pane, Rect)> {
    if body.width < TABS_BELOW {
        return vec![(focus, body)];
    }
    if body.width < ALL_SIDE_BY_SIDE_FROM {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(body);
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(right);
        return vec![(Pane::Timeline, left), (Pane::Roster, top), (Pane::Checklists, bottom)];
    }
    let [a, b, c] = Layout::horizontal([
        Constraint::Percentage(52),
        Constraint::Percentage(20),
        Constraint::Percentage(28),
    ])
    .areas(body);
    vec![(Pane::Timeline, a), (Pane::Roster, b), (Pane::Checklists, c)]
}
