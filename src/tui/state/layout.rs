//! Where things go. Below 100 columns the war room shows one pane at a time with tabs; from
//! 100 the timeline sits beside a roster/checklists column (the Comms pane takes the
//! checklists' place while it is in use); from 160 three columns: timeline over comms,
//! roster, checklists. The composer takes a band under the panes and grows with its text.
//!
//! Plain arithmetic instead of `Layout`: without ratatui's layout cache every `Layout::split`
//! runs the constraint solver, which was a fifth of a frame's cost.
//!
//! A pure function of the state and the screen's size, so both sides use it: the UI draws
//! into it, and `update` learns from it how many timeline rows the screen shows (the window
//! that paging and copying an excerpt act on) without waiting for a frame.

use ratatui::layout::{Margin, Rect};

use super::{Overlay, Pane, Screen, State};

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

/// Below this the console draws only "terminal too small".
pub fn too_small(area: Rect) -> bool {
    area.width < 20 || area.height < 6
}

/// Height of the composer band for its text: it grows with the text as the field wraps it
/// (inside the band's border) up to half the room left, from where the field scrolls.
fn composer_height(s: &State, width: u16, avail: u16) -> u16 {
    let Some(Overlay::Composer(c)) = &s.overlay else { return 0 };
    let w = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = c.input.lines().iter().map(|l| display_rows(l, w)).sum();
    let lines = u16::try_from(rows).unwrap_or(u16::MAX);
    let extra = u16::from(c.time_input.is_some()) + u16::from(c.error.is_some());
    lines.saturating_add(extra + 2).clamp(3, (avail / 2).max(3))
}

/// Rows a line of text takes in a field `width` columns wide that wraps at spaces and breaks a
/// longer word (the text field's word-or-glyph wrap), with room for the cursor after a full
/// last row.
pub fn display_rows(line: &str, width: usize) -> usize {
    use unicode_width::UnicodeWidthChar;
    let width = width.max(1);
    let mut rows = 1;
    let mut used = 0;
    for (i, word) in line.split(' ').enumerate() {
        let w: usize = word.chars().map(|c| c.width().unwrap_or(0)).sum();
        let gap = usize::from(i > 0);
        if used + gap + w <= width {
            used += gap + w;
            continue;
        }
        if w <= width && used > 0 {
            // The word goes to the next row (the space before it stays behind).
            rows += 1;
            used = w;
            continue;
        }
        used += gap;
        for c in word.chars() {
            let cw = c.width().unwrap_or(0);
            if used + cw > width {
                rows += 1;
                used = 0;
            }
            used += cw;
        }
    }
    if used >= width {
        rows += 1;
    }
    rows
}

/// Stacks rows of fixed heights top to bottom; the row at `flex` takes what is left.
pub fn stack<const N: usize>(area: Rect, heights: [u16; N], flex: usize) -> [Rect; N] {
    let fixed: u16 = heights.iter().enumerate().filter(|(i, _)| *i != flex).map(|(_, h)| *h).sum();
    let mut out = [Rect::default(); N];
    let mut y = area.y;
    let bottom = area.y + area.height;
    for (i, h) in heights.iter().enumerate() {
        let h = if i == flex { area.height.saturating_sub(fixed) } else { *h };
        let h = h.min(bottom.saturating_sub(y));
        out[i] = Rect { x: area.x, y, width: area.width, height: h };
        y += h;
    }
    out
}

/// Splits columns by percentages (the last takes the rounding rest).
pub fn columns<const N: usize>(area: Rect, percents: [u16; N]) -> [Rect; N] {
    let mut out = [Rect::default(); N];
    let mut x = area.x;
    for (i, p) in percents.iter().enumerate() {
        let w = if i + 1 == N {
            area.x + area.width - x
        } else {
            (u32::from(area.width) * u32::from(*p) / 100) as u16
        };
        out[i] = Rect { x, y: area.y, width: w, height: area.height };
        x += w;
    }
    out
}

pub fn screen(area: Rect, s: &State) -> ScreenLayout {
    let war_room = matches!(s.screen, Screen::WarRoom(_));
    let header_h = if war_room { 2 } else { 1 };
    let tabs_h = u16::from(war_room && area.width < TABS_BELOW);
    let avail = area.height.saturating_sub(header_h + tabs_h + 2);
    let comp_h = if war_room { composer_height(s, area.width, avail) } else { 0 };
    let [header, tabs, body, composer, status, commands] =
        stack(area, [header_h, tabs_h, 0, comp_h, 1, 1], 2);
    ScreenLayout {
        header,
        tabs: (tabs_h > 0).then_some(tabs),
        body,
        composer: (comp_h > 0).then_some(composer),
        status,
        commands,
    }
}

/// The panes shown and where. Below 100 columns the focused one (tabs); to 159 the
/// timeline beside the roster over the checklists, which share their place with the Comms
/// pane (the one focused last shows); from 160 three columns: the timeline over the comms
/// (a third of the height, where their lines have the width), the roster, the checklists.
pub fn panes(body: Rect, s: &State) -> Vec<(Pane, Rect)> {
    let focus = s.room.focus;
    if body.width < TABS_BELOW {
        return vec![(focus, body)];
    }
    if body.width < ALL_SIDE_BY_SIDE_FROM {
        let [left, right] = columns(body, [60, 40]);
        let top_h = right.height * 2 / 5;
        let [top, bottom] = stack(right, [top_h, 0], 1);
        let lower = if s.room.comms_shown || focus == Pane::Comms { Pane::Comms } else { Pane::Checklists };
        return vec![(Pane::Timeline, left), (Pane::Roster, top), (lower, bottom)];
    }
    let [a, b, c] = columns(body, [52, 20, 28]);
    let [timeline, comms] = stack(a, [0, (a.height / 3).max(6)], 0);
    vec![(Pane::Timeline, timeline), (Pane::Comms, comms), (Pane::Roster, b), (Pane::Checklists, c)]
}

/// Where the timeline's rows go (inside the pane's border) on a screen of `area`, if the
/// screen shows the timeline.
pub fn timeline_rows(area: Rect, s: &State) -> Option<Rect> {
    if too_small(area) || !matches!(s.screen, Screen::WarRoom(_)) {
        return None;
    }
    let body = screen(area, s).body;
    let (_, pane) = panes(body, s).into_iter().find(|(p, _)| *p == Pane::Timeline)?;
    Some(pane.inner(Margin::new(1, 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_rows_follow_the_fields_wrap() {
        assert_eq!(display_rows("", 10), 1);
        assert_eq!(display_rows("short", 10), 1);
        assert_eq!(display_rows("the quick brown fox", 10), 2);
        assert_eq!(display_rows("abcdefghijklmnopqrstuvwxyz", 10), 3);
        // Wide characters take two columns each.
        assert_eq!(display_rows("日本語日本語", 10), 2);
        // A full last row leaves the cursor a row of its own.
        assert_eq!(display_rows("abcdefghij", 10), 2);
    }

    #[test]
    fn stack_and_columns_fill_the_area() {
        let area = Rect::new(0, 0, 80, 24);
        let [a, b, c] = stack(area, [2, 0, 1], 1);
        assert_eq!((a.height, b.height, c.height), (2, 21, 1));
        assert_eq!((b.y, c.y), (2, 23));
        let [l, m, r] = columns(Rect::new(0, 0, 201, 5), [52, 20, 28]);
        assert_eq!(l.width + m.width + r.width, 201);
        assert_eq!((m.x, r.x), (l.width, l.width + m.width));
        // Too small: nothing overflows.
        let [x, y] = stack(Rect::new(0, 0, 10, 1), [2, 0], 1);
        assert!(x.height + y.height <= 1);
    }
}
