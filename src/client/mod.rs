//! The HTTP client, the outbox and the sync worker. Never touches the terminal.
//!
//! Inside, the arrows point one way: `outbox` (the on-disk queue of writes and their `Target`)
//! and `http` (the API client) use nothing else here; `flush` sends the outbox over `http`;
//! `sync` is the protocol between the worker and the console (`Command`, `SyncMsg`,
//! `SyncHandle`); `cache` keeps what the console saw for its next start; `worker` runs it all and is started with [`spawn`]. Users name everything
//! through the re-exports below (`crate::client::{...}`).

pub mod cache;
pub mod flush;
pub mod http;
pub mod outbox;
pub mod session;
pub mod startup;
pub mod sync;
pub mod tls;
mod worker;

pub use flush::{FlushOutcome, FlushStopped, Flushed};
pub use http::{ApiClient, ClientError, Presented, Timeouts, TlsOptions, init_tls, presented_certificate};
pub use outbox::{Outbox, Pending, Target};
pub use sync::{Command, LinkState, SyncHandle, SyncMsg, Writes};
pub use worker::{WorkerOptions, spawn, spawn_with};
