//! Frame cost of the war room at 200x50 with 100, 10,000 and 100,000 timeline events
//! (TestBackend draw; only the visible window is built, so the three should cost the same),
//! plus the board. Figures, not pass/fail: `cargo bench --bench render`.
//!
//! The TestBackend's own cost (ratatui's buffer diff and the backend's copy) is shown by
//! `baseline_near_empty_frame_200x50`; `war_room_frame_crossterm_200x50` draws through the
//! console's own backend (crossterm into a buffered writer, here a sink), which is what a user
//! pays; `war_room_ui_only_200x50` is warroom's part alone (the UI into a buffer, no diff).
//!
//! Profiling: `RENDER_PROFILE=<case> FRAMES=<n> target/release/deps/render-*` draws `n` frames of
//! one case (`100`, `10000`, `100000`, `scrolled`, `wrap80`, `one_line80`, `ui_only`,
//! `crossterm`, `baseline`, `board`) and exits, without criterion, e.g. under
//! `valgrind --tool=callgrind` for instruction counts per function.

#[path = "../tests/it/tui_fixture/mod.rs"]
#[allow(dead_code, reason = "the console tests' fixture, of which this bench uses a part")]
mod tui_fixture;

use criterion::{BenchmarkId, Criterion};
use ratatui::backend::{CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use warroom::tui::keymap::Keymap;
use warroom::tui::state::State;
use warroom::tui::theme::Theme;

/// The console's backend (crossterm into a buffered writer) writing to nowhere.
fn crossterm_sink(w: u16, h: u16) -> Terminal<CrosstermBackend<std::io::BufWriter<std::io::Sink>>> {
    let backend = CrosstermBackend::new(std::io::BufWriter::with_capacity(256 * 1024, std::io::sink()));
    Terminal::with_options(backend, TerminalOptions { viewport: Viewport::Fixed(Rect::new(0, 0, w, h)) })
        .unwrap()
}

fn scrolled(n: u64) -> State {
    let mut s = tui_fixture::room_with(n);
    s.room.follow = false;
    s.room.sel = (n / 2) as usize;
    s
}

fn at_80x24(n: u64, one_line: bool) -> State {
    let mut s = tui_fixture::room_with(n);
    s.one_line = one_line;
    s.size = (80, 24);
    s
}

fn frames(c: &mut Criterion) {
    let theme = Theme::builtin("default").unwrap();
    let keys = Keymap::defaults();
    let mut g = c.benchmark_group("war_room_frame_200x50");
    for n in [100u64, 10_000, 100_000] {
        let s = tui_fixture::room_with(n);
        let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            // Each iteration builds the whole frame from the state and diffs it.
            b.iter(|| {
                term.draw(|f| warroom::tui::ui::draw(f, &s, &theme, &keys)).unwrap();
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("war_room_frame_scrolled_200x50");
    for n in [100u64, 100_000] {
        let s = scrolled(n);
        let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                term.draw(|f| warroom::tui::ui::draw(f, &s, &theme, &keys)).unwrap();
            })
        });
    }
    g.finish();
    // Wrapped (the default) against one line per entry (`w`), at 80x24 where entries wrap:
    // only the visible window is wrapped, so 100,000 events cost what 100 do.
    let mut g = c.benchmark_group("war_room_frame_80x24");
    for (mode, n) in [("wrap", 100u64), ("wrap", 100_000), ("one_line", 100), ("one_line", 100_000)] {
        let s = at_80x24(n, mode == "one_line");
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        g.bench_with_input(BenchmarkId::new(mode, n), &n, |b, _| {
            b.iter(|| {
                term.draw(|f| warroom::tui::ui::draw(f, &s, &theme, &keys)).unwrap();
            })
        });
    }
    g.finish();
    // The console's own backend: crossterm into a buffered writer (a sink here).
    let mut g = c.benchmark_group("war_room_frame_crossterm_200x50");
    for n in [100u64, 100_000] {
        let s = tui_fixture::room_with(n);
        let mut term = crossterm_sink(200, 50);
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                term.draw(|f| warroom::tui::ui::draw(f, &s, &theme, &keys)).unwrap();
            })
        });
    }
    g.finish();
    // What the backend and the diff cost by themselves: a frame that draws one line.
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    c.bench_function("baseline_near_empty_frame_200x50", |b| {
        b.iter(|| {
            term.draw(|f| f.render_widget(ratatui::widgets::Paragraph::new("x"), f.area())).unwrap();
        })
    });
    // The UI alone, into a buffer (no backend, no diff).
    for n in [100u64, 100_000] {
        let s = tui_fixture::room_with(n);
        let area = ratatui::layout::Rect::new(0, 0, 200, 50);
        let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
        c.bench_function(&format!("war_room_ui_only_200x50/{n}"), |b| {
            b.iter(|| {
                let mut frame = term.get_frame();
                warroom::tui::ui::draw(&mut frame, &s, &theme, &keys);
                std::hint::black_box(area);
            })
        });
    }
    let s = tui_fixture::state();
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    c.bench_function("board_frame_200x50", |b| {
        b.iter(|| {
            term.draw(|f| warroom::tui::ui::draw(f, &s, &theme, &keys)).unwrap();
        })
    });
}

/// Draws `frames` frames of one case, without criterion (for callgrind).
fn profile(case: &str, frames: usize) {
    let theme = Theme::builtin("default").unwrap();
    let keys = Keymap::defaults();
    let draw = |f: &mut ratatui::Frame<'_>, s: &State| warroom::tui::ui::draw(f, s, &theme, &keys);
    let test = |w, h| Terminal::new(TestBackend::new(w, h)).unwrap();
    match case {
        "100" | "10000" | "100000" => {
            let s = tui_fixture::room_with(case.parse().unwrap());
            let mut term = test(200, 50);
            (0..frames).for_each(|_| {
                term.draw(|f| draw(f, &s)).unwrap();
            });
        }
        "scrolled" => {
            let s = scrolled(100_000);
            let mut term = test(200, 50);
            (0..frames).for_each(|_| {
                term.draw(|f| draw(f, &s)).unwrap();
            });
        }
        "wrap80" | "one_line80" => {
            let s = at_80x24(100_000, case == "one_line80");
            let mut term = test(80, 24);
            (0..frames).for_each(|_| {
                term.draw(|f| draw(f, &s)).unwrap();
            });
        }
        "ui_only" => {
            let s = tui_fixture::room_with(100_000);
            let mut term = test(200, 50);
            (0..frames).for_each(|_| draw(&mut term.get_frame(), &s));
        }
        "crossterm" => {
            let s = tui_fixture::room_with(100_000);
            let mut term = crossterm_sink(200, 50);
            (0..frames).for_each(|_| {
                term.draw(|f| draw(f, &s)).unwrap();
            });
        }
        "board" => {
            let s = tui_fixture::state();
            let mut term = test(200, 50);
            (0..frames).for_each(|_| {
                term.draw(|f| draw(f, &s)).unwrap();
            });
        }
        "baseline" => {
            let mut term = test(200, 50);
            (0..frames).for_each(|_| {
                term.draw(|f| f.render_widget(ratatui::widgets::Paragraph::new("x"), f.area())).unwrap();
            });
        }
        other => panic!("unknown RENDER_PROFILE case {other}"),
    }
}

fn main() {
    if let Ok(case) = std::env::var("RENDER_PROFILE") {
        let n = std::env::var("FRAMES").ok().and_then(|n| n.parse().ok()).unwrap_or(1000);
        profile(&case, n);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    frames(&mut c);
    c.final_summary();
}
