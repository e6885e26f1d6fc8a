//! warroom: a full-screen terminal war room for incident response, with a shared HTTP backend.
//!
//! The library holds everything (so `tests/` reaches it); `main.rs` only parses the command line
//! and calls [`cli::main`].

pub mod api;
pub mod assets;
pub mod cli;
pub mod client;
pub mod config;
pub mod demo;
pub mod domain;
pub mod render;
pub mod run;
pub mod server;
pub mod shutdown;
pub mod tui;
