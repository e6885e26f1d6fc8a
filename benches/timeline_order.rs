//! Cost of an entry recorded late landing in a timeline of 100, 10,000 and 100,000 events
//! (inserted where it happened, with the war room scrolled so the view is kept steady) and of
//! the next frame at 80x24: the time index takes a binary search and a shift of plain indexes,
//! never a re-sort. Figures, not pass/fail: `cargo bench --bench timeline_order`.

#[path = "../tests/it/tui_fixture/mod.rs"]
#[allow(dead_code, reason = "the console tests' fixture, of which this bench uses a part")]
mod tui_fixture;

use chrono::Duration;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use warroom::client::SyncMsg;
use warroom::domain::{Entry, EventBody};
use warroom::tui::action::Action;
use warroom::tui::keymap::Keymap;
use warroom::tui::state::update;
use warroom::tui::theme::Theme;

fn late_entry(c: &mut Criterion) {
    let theme = Theme::builtin("default").unwrap();
    let keys = Keymap::defaults();
    let mut g = c.benchmark_group("late_entry_insert_and_frame_80x24");
    for n in [100u64, 10_000, 100_000] {
        let mut base = tui_fixture::room_with(n);
        base.size = (80, 24);
        base.room.follow = false;
        base.room.sel = (n / 2) as usize;
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let mut seq = n + 1000;
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            // The timeline grows by one per iteration: negligible against its size.
            b.iter(|| {
                seq += 1;
                let body = EventBody::Note(Entry { text: "late".into(), tags: vec![] });
                let mut e = tui_fixture::ev(seq, 2, "bob", body);
                e.id = uuid::Uuid::from_u128(u128::from(seq) << 64);
                e.recorded_at = e.occurred_at + Duration::minutes(50);
                update(&mut base, Action::Net(SyncMsg::Event(e)));
                term.draw(|f| warroom::tui::ui::draw(f, &base, &theme, &keys)).unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, late_entry);
criterion_main!(benches);
