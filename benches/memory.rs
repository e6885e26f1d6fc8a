//! Resident memory of the console's state with 100, 10,000 and 100,000 timeline events (the
//! same fixture as the render bench), read from /proc/self/status. Figures, not pass/fail:
//! `cargo bench --bench memory`.

#[path = "../tests/it/tui_fixture/mod.rs"]
#[allow(dead_code, reason = "the console tests' fixture, of which this bench uses a part")]
mod tui_fixture;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    for n in [100u64, 10_000, 100_000] {
        let before = rss_kib();
        let s = tui_fixture::room_with(n);
        let after = rss_kib();
        println!(
            "console state with {n:>7} events: RSS +{:.1} MiB (process {:.1} MiB)",
            after.saturating_sub(before) as f64 / 1024.0,
            after as f64 / 1024.0
        );
        drop(s);
    }
}
