//! What each command does, one room per command or small family: `serve` and `token` on the
//! server host; the write path (`declare`, `log`, and the outbox reporting every command that
//! sends shares); `tail`; `export` (and `export --at`); `report`; `run`; `demo`; and the console.
//! The verbs for scripts and runbooks: `ls`, `show`, the incident changes (`incident_ops`:
//! status, severity, ack, roles, checklist ticks, action items, playbooks) and `comms`, over
//! what they share (`change`) and their exit statuses (`exit`).

pub(super) mod completions;
pub(super) mod config_cmd;
pub(super) mod console;
pub(super) mod demo;
pub(super) mod export;
pub(super) mod login;
pub(super) mod notify;
pub(super) mod report;
pub(super) mod run;
pub(super) mod serve;
pub(super) mod tail;
pub(super) mod token;
pub(super) mod trust;
pub(super) mod write;

// Scripts and runbooks (issue #14).
pub(super) mod change;
pub(super) mod comms;
pub(super) mod exit;
pub(super) mod incident_ops;
pub(super) mod ls;
pub(super) mod show;
