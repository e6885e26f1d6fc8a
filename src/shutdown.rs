//! The process's request to stop: SIGINT (Ctrl-C) or SIGTERM.
//!
//! Listen once per process, before any loop that waits for it, and wait on the token it
//! returns. A listener made anew on every turn of a loop (as `tail` once did) leaves gaps: a
//! signal that arrives while the loop is busy elsewhere finds no listener, and since Tokio
//! has replaced the default action, the process neither stops nor notices. The token stays
//! cancelled, so a signal that came while nobody was waiting is still seen.

use tokio_util::sync::CancellationToken;

/// Starts listening for SIGINT and SIGTERM (from the moment this returns, none is lost) and
/// returns a token cancelled at the first of them. Needs a Tokio runtime. Once this is called,
/// the signals no longer kill the process: call it only where something waits on the token.
pub fn listen() -> std::io::Result<CancellationToken> {
    let token = CancellationToken::new();
    let cancel = token.clone();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = int.recv() => tracing::info!("SIGINT received; stopping"),
                _ = term.recv() => tracing::info!("SIGTERM received; stopping"),
            }
            cancel.cancel();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    Ok(token)
}

#[cfg(all(test, unix))]
mod tests {
    use std::time::Duration;

    /// A signal that arrives while nobody awaits the token is kept, and seen by every later
    /// wait: the gap that made `tail` ignore SIGTERM.
    #[tokio::test]
    async fn a_signal_between_waits_is_not_lost() {
        let token = super::listen().unwrap();
        // Nobody waits on the token while the signal comes.
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGINT).unwrap();
        tokio::time::timeout(Duration::from_secs(10), token.cancelled())
            .await
            .expect("the token is cancelled by a signal that came before the wait");
        // And it stays cancelled for any later wait.
        tokio::time::timeout(Duration::from_millis(10), token.cancelled()).await.unwrap();
    }
}
