//! Notifications: the server delivers to the world from the event log. Targets and routes are
//! configured under `[serve.notify]` ([`config`]); appends queue the deliveries their events
//! cause in the same transaction ([`planner`], the store's `deliveries` table); a worker task
//! of `serve` sends them through each kind's wire format ([`targets`]), at least once, with
//! retries, and records every attempt as a `delivery` event ([`worker`]).

pub mod config;
pub mod message;
pub mod planner;
pub mod targets;
pub mod worker;

pub use config::{EventClass, NotifyConfig, RouteConfig, SmtpTls, TargetConfig, TargetKind};
pub use message::Message;
pub use targets::Attempt;
pub use worker::Notifier;
