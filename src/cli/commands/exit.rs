//! Exit statuses of the commands that talk to a server (the verbs for scripts, `ls`, `show`,
//! `status`, ..., and `declare`, `log`, `export`, ...), and the error that carries one:
//! [`Failure`]. Sorting a [`ClientError`] into a status happens here, once.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | done (or nothing to do: already in that state) |
//! | 1 | anything else (a local file, a bad config) |
//! | 2 | usage: clap's |
//! | 3 | not found: no such incident, role, checklist item, action item, playbook, template or severity level |
//! | 4 | refused by the server: the token (401), its role (403), or the change itself (422) |
//! | 5 | stale: a guarded change based on an older revision; says what changed in between |
//! | 6 | cannot reach the server (for what cannot be queued: a read, a draft) |
//! | 7 | the server's certificate is not trusted (`warroom trust`, `--ca-file`, `--pin`); a write waits in the outbox, unsent |
//! | 75 | queued: the server was unreachable; the write waits in the outbox ([`EXIT_QUEUED`]) |

use std::process::ExitCode;

use crate::client::ClientError;

pub use super::write::{EXIT_QUEUED, EXIT_UNTRUSTED};

pub const EXIT_NOT_FOUND: u8 = 3;
pub const EXIT_REFUSED: u8 = 4;
pub const EXIT_STALE: u8 = 5;
pub const EXIT_UNREACHABLE: u8 = 6;

/// Why a verb did not do what was asked: an exit status and the message for stderr.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> Failure {
        Failure::new(EXIT_NOT_FOUND, message)
    }

    /// A request that failed, sorted by status (see the module docs).
    pub fn client(e: &ClientError) -> Failure {
        Failure::new(code_of(e), e.to_string())
    }
}

/// The exit status for a failed request.
pub fn code_of(e: &ClientError) -> u8 {
    match e {
        ClientError::Unreachable { .. } | ClientError::Server { .. } => EXIT_UNREACHABLE,
        ClientError::Untrusted { .. } => EXIT_UNTRUSTED,
        ClientError::Conflict { .. } => EXIT_STALE,
        ClientError::Refused { status: 404, .. } => EXIT_NOT_FOUND,
        ClientError::Refused { body, .. } if body.error.starts_with("unknown_") => EXIT_NOT_FOUND,
        ClientError::Unauthorized { .. } | ClientError::Forbidden { .. } | ClientError::Refused { .. } => {
            EXIT_REFUSED
        }
    }
}

/// Ends a command that talks to a server: its own status, or for a [`Failure`] or a
/// [`ClientError`] anywhere in an error's chain, that error said on stderr and its status
/// ([`code_of`]). Any other error is returned (`main` says it and exits 1).
pub fn finish(r: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    let Err(e) = r else { return r };
    let code = match e.downcast_ref::<Failure>() {
        Some(f) => Some(f.code),
        None => e.chain().find_map(|c| c.downcast_ref::<ClientError>()).map(code_of),
    };
    match code {
        Some(code) => {
            // A server's words may be in it: never escape sequences to the terminal.
            eprintln!("warroom: {}", crate::domain::text::line(&format!("{e:#}")));
            Ok(ExitCode::from(code))
        }
        None => Err(e),
    }
}
