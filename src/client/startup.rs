//! How long the console takes to start (#17): the instant `main` began, and named marks after
//! it (config read, runtime, connection, cache read, terminal, ...). The console logs them once
//! its first war-room frame with the incident's timeline has been written to the terminal; with
//! `WARROOM_BENCH_FIRST_FRAME=<file>` it also appends them to that file as one line and quits
//! right after that frame (`scripts/bench-startup-cached.sh` runs it so, 20 times).
//!
//! Process-wide and cheap: a mark is one `Instant::now()` and a push under a lock that nothing
//! else holds.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The variable naming the file a bench run's figures are appended to.
pub const BENCH_ENV: &str = "WARROOM_BENCH_FIRST_FRAME";

static START: OnceLock<Instant> = OnceLock::new();
static MARKS: Mutex<Vec<(&'static str, Duration)>> = Mutex::new(Vec::new());

/// Marks the start of the process: call first thing in `main`. Later calls change nothing.
pub fn begin() {
    START.get_or_init(Instant::now);
}

/// How long since [`begin`] (zero when it was never called).
pub fn elapsed() -> Duration {
    START.get().map(Instant::elapsed).unwrap_or_default()
}

/// Records that the phase `name` ended now.
pub fn mark(name: &'static str) {
    if START.get().is_some() {
        let at = elapsed();
        MARKS.lock().unwrap_or_else(|p| p.into_inner()).push((name, at));
    }
}

/// Every mark so far as `name=1.23` (milliseconds since the start), space-separated.
pub fn marks() -> String {
    let marks = MARKS.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = String::new();
    for (name, at) in marks.iter() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!("{name}={:.2}", at.as_secs_f64() * 1e3));
    }
    out
}

/// The file a bench run reports to, when `WARROOM_BENCH_FIRST_FRAME` names one.
pub fn bench_file() -> Option<std::path::PathBuf> {
    std::env::var_os(BENCH_ENV).filter(|v| !v.is_empty()).map(Into::into)
}

/// The line a bench run appends: milliseconds from `main` to the first frame, the wall clock
/// then (nanoseconds since the epoch, for a driver that noted when it started the process),
/// and the marks.
pub fn bench_line(first_frame: Duration) -> String {
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("first_frame_ms={:.3} wall_ns={wall} {}\n", first_frame.as_secs_f64() * 1e3, marks())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_named_in_order_after_the_start() {
        begin();
        mark("one");
        mark("two");
        let m = marks();
        let one = m.find("one=").expect("one");
        let two = m.find("two=").expect("two");
        assert!(one < two, "{m}");
        let line = bench_line(Duration::from_micros(12_345));
        assert!(line.starts_with("first_frame_ms=12.345 wall_ns="), "{line}");
        assert!(line.ends_with('\n') && line.contains("two="), "{line}");
    }
}
