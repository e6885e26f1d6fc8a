//! The HTTP client, the outbox and the sync worker. Never touches the terminal.

pub mod flush;
pub mod http;
pub mod outbox;
pub mod sync;
mod worker;

pub use http::{ApiClient, ClientError, Timeouts, TlsOptions, init_tls};
pub use outbox::{Outbox, Pending};
pub use sync::{Command, LinkState, SyncHandle, SyncMsg, Target};
