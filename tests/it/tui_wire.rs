//! Terminal bytes, counted through the real crossterm backend over a counting writer: what one
//! new timeline entry costs a watching console at 80x24, and what an unchanged frame costs.
//! Byte counts are deterministic, so these are real assertions (design: under 1 KB per entry).

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use crate::tui_fixture::*;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use warroom::client::SyncMsg;
use warroom::domain::{Entry, EventBody};
use warroom::tui::action::Action;
use warroom::tui::keymap::Keymap;
use warroom::tui::state::{State, update};
use warroom::tui::terminal::draw_synced;
use warroom::tui::theme::Theme;

#[derive(Clone, Default)]
struct Counter(Arc<Mutex<usize>>);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        *self.0.lock().unwrap() += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Counter {
    fn take(&self) -> usize {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn term(w: u16, h: u16, counter: &Counter) -> Terminal<CrosstermBackend<Counter>> {
    let backend = CrosstermBackend::new(counter.clone());
    Terminal::with_options(
        backend,
        ratatui::TerminalOptions {
            viewport: ratatui::Viewport::Fixed(ratatui::layout::Rect::new(0, 0, w, h)),
        },
    )
    .unwrap()
}

fn frame(t: &mut Terminal<CrosstermBackend<Counter>>, s: &State, theme: &Theme, keys: &Keymap) {
    draw_synced(t, |f| warroom::tui::ui::draw(f, s, theme, keys)).unwrap();
}

#[test]
fn one_new_entry_costs_under_1kb_at_80x24() {
    // One line per entry at 80x24 and wrapped at 80x30: the fixture's entries leave room in
    // the pane either way, so the new entry is drawn without scrolling (a scroll rewrites
    // every line of the pane, in any mode).
    for (theme_name, one_line, h) in [("default", true, 24), ("mono", true, 24), ("default", false, 30)] {
        let theme = Theme::builtin(theme_name).unwrap();
        let keys = Keymap::defaults();
        let counter = Counter::default();
        let mut t = term(80, h, &counter);
        let mut s = room();
        s.one_line = one_line;
        s.size = (80, h);
        frame(&mut t, &s, &theme, &keys);
        let first = counter.take();
        let mut e = ev(
            15,
            30,
            "dave",
            EventBody::Finding(Entry { text: "replica-2 caught up; lag 0.2s".into(), tags: vec![] }),
        );
        e.id = id(15);
        update(&mut s, Action::Net(SyncMsg::Event(e)));
        frame(&mut t, &s, &theme, &keys);
        let entry = counter.take();
        println!("{theme_name}: first frame {first} bytes, one new entry {entry} bytes");
        assert!(entry < 1024, "{theme_name}: one new entry cost {entry} bytes");
        assert!(entry > 0);
    }
}

#[test]
fn an_unchanged_frame_writes_almost_nothing() {
    let theme = Theme::builtin("default").unwrap();
    let keys = Keymap::defaults();
    let counter = Counter::default();
    let mut t = term(80, 24, &counter);
    let s = room();
    frame(&mut t, &s, &theme, &keys);
    counter.take();
    frame(&mut t, &s, &theme, &keys);
    let idle = counter.take();
    println!("unchanged frame: {idle} bytes");
    // Only the synchronized-output bracket and cursor bookkeeping; no cell is rewritten.
    assert!(idle < 64, "an unchanged frame wrote {idle} bytes");
}

#[test]
fn an_idle_console_does_not_tick() {
    // No clock while nothing time-driven is on screen: an empty board.
    let s = State::new("x".into(), warroom::tui::format::TimeDisplay::Utc, now());
    assert!(!s.wants_clock());
    // A war room shows elapsed time: the clock runs, but redraws only when the minute turns
    // (see tui_update::clock_ticks_redraw_only_when_the_minute_turns).
    assert!(room().wants_clock());
}

#[test]
fn ten_idle_minutes_in_the_war_room_cost_ten_small_frames() {
    // The loop's rule: a tick folds into the state; draw only when it made the state dirty.
    let theme = Theme::builtin("default").unwrap();
    let keys = Keymap::defaults();
    let counter = Counter::default();
    let mut t = term(80, 24, &counter);
    let mut s = room();
    frame(&mut t, &s, &theme, &keys);
    s.dirty = false;
    counter.take();
    let mut draws = 0;
    for sec in 1..=600 {
        s.now = now() + chrono::Duration::seconds(sec);
        update(&mut s, Action::Tick);
        if s.dirty {
            frame(&mut t, &s, &theme, &keys);
            s.dirty = false;
            draws += 1;
        }
    }
    let bytes = counter.take();
    println!("10 idle minutes: {draws} draws, {bytes} bytes");
    assert_eq!(draws, 10, "one redraw per minute turned");
    // Each redraw rewrites the few cells whose minute figure changed.
    assert!(bytes < 10 * 256, "{bytes} bytes");
}
