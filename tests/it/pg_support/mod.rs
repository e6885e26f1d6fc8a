//! The PostgreSQL the integration tests may use: `WARROOM_TEST_PG` names a database they may
//! wipe. Without it a test says loudly that it did not run; with `WARROOM_REQUIRE_PG=1` (set by
//! CI) a missing server fails instead of passing silently.
//!
//! Every test that uses it wipes that one database (`PgStore::reset`), and they all share one
//! test process: each holds [`SERIAL`] while it runs, so they take turns.

use tokio::sync::Mutex;

/// One database for every PostgreSQL test of this binary: hold it from the reset to the end.
pub static SERIAL: Mutex<()> = Mutex::const_new(());

pub fn pg_url() -> Option<String> {
    match std::env::var("WARROOM_TEST_PG") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var("WARROOM_REQUIRE_PG").as_deref() == Ok("1") {
                panic!("WARROOM_REQUIRE_PG=1 but WARROOM_TEST_PG is not set: no PostgreSQL to test against");
            }
            eprintln!(
                "\n*** SKIPPED: PostgreSQL tests did not run: set WARROOM_TEST_PG=postgres://... (see .ci/run) ***\n"
            );
            None
        }
    }
}
