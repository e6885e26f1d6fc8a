//! The integration tests: one test binary, one module per area (`cargo test --test it`, or
//! `cargo test --test it faults::` for one area). One binary links axum, sqlx and ratatui once
//! instead of once per file.
//!
//! Every test shares this process with the others, so none may change what is process-wide:
//! no `std::env::set_var`, no current dir, no global tracing subscriber; ports are 127.0.0.1:0,
//! temp dirs come from `tempfile`, and each tmux server has a socket of its own. The PostgreSQL
//! tests share one database and take turns on [`pg_support::SERIAL`]. Tests that re-run this
//! binary as a child (`run`, `tui_smoke`) select their child test by its full name
//! (`module::test`).
//!
//! Only `tests/api_signal.rs` is a binary of its own: it raises SIGTERM on its own process.
//! The schemathesis server is the ignored test `api_fuzz_server::serve_for_fuzzing` here
//! (`.ci/schemathesis.sh` runs it by name).

mod bin_support;
mod fault_support;
mod pg_support;
mod server_support;
mod tui_fixture;

mod api;
mod api_fuzz_server;
mod cli;
mod cli_ops;
mod cli_verbs;
mod comms_pane;
// The console's local cache (#17).
mod console_cache;
mod crash_console;
mod demo;
mod domain;
mod e2e_tmux;
#[cfg(unix)]
mod embedded_join;
mod failover;
mod faults;
mod fuzz_parsers;
// Group commit (issue #17).
mod group_commit;
mod integrations;
mod layering;
mod metrics;
mod oidc;
// Notifications (issue #12).
mod notify;
mod notify_faults;
mod outbox;
mod postgres;
mod practice;
mod refused_writes;
mod replay;
mod report;
mod run;
mod security_client;
mod security_limits;
mod security_roles;
mod security_round2;
mod security_store;
mod security_tls;
// The server's speed work (issue #17): limits that keep a raised write knob's meaning.
mod server_speed;
mod ship;
mod sync;
mod tls_setup;
mod tui_config;
mod tui_practice;
mod tui_render;
mod tui_render_practice;
mod tui_replay;
mod tui_scribe;
mod tui_scribe_tmux;
mod tui_smoke;
mod tui_update;
mod tui_wire;
