//! Frame cost of the war room at 200x50 with 100, 10,000 and 100,000 timeline events
//! (TestBackend draw; only the visible window is built, so the three should cost the same),
//! plus the board. Figures, not pass/fail: `cargo bench --bench render`.

#[path = "../tests/it/tui_fixture/mod.rs"]
#[allow(dead_code, reason = "the console tests' fixture, of which this bench uses a part")]
mod tui_fixture;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use warroom::tui::keymap::Keymap;
use warroom::tui::theme::Theme;

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
        let mut s = tui_fixture::room_with(n);
        s.room.follow = false;
        s.room.sel = (n / 2) as usize;
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
        let mut s = tui_fixture::room_with(n);
        s.one_line = mode == "one_line";
        s.size = (80, 24);
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        g.bench_with_input(BenchmarkId::new(mode, n), &n, |b, _| {
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

criterion_group!(benches, frames);
criterion_main!(benches);
