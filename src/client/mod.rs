//! The HTTP client, the outbox and the sync worker. Never touches the terminal.

pub mod sync;
