//! What each command does, one room per command or small family: `serve` and `token` on the
//! server host; the write path (`declare`, `log`, and the outbox reporting every command that
//! sends shares); `tail`; `export` (and `export --at`); `report`; `run`; `demo`; and the console.

pub(super) mod console;
pub(super) mod demo;
pub(super) mod export;
pub(super) mod notify;
pub(super) mod report;
pub(super) mod run;
pub(super) mod serve;
pub(super) mod tail;
pub(super) mod token;
pub(super) mod write;
