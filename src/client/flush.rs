//! Sending the outbox: every pending write, in order, until the outbox is empty or the server
//! cannot be reached. Shared by the sync worker and every CLI verb (each first flushes what an
//! earlier command or console left behind).

use super::http::{ApiClient, ClientError};
use super::outbox::{Outbox, Pending, Target};
use crate::api::AppendResponse;

/// Most events sent in one request.
const MAX_BATCH: usize = 100;

/// What happened to pending writes (one request's worth).
#[allow(clippy::large_enum_variant)] // short-lived, passed by value once
#[derive(Debug)]
pub enum Flushed {
    /// Recorded by the server (possibly earlier: retries are idempotent).
    Acked { pending: Vec<Pending>, response: AppendResponse },
    /// Refused with a 4xx; moved to the rejected file.
    Refused { pending: Pending, error: ClientError },
}

/// How a flush ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlushOutcome {
    pub acked: usize,
    pub refused: usize,
    /// Writes still in the outbox (zero unless `stopped` is set).
    pub remaining: usize,
}

/// A flush that stopped early: the server could not be reached, answered 5xx, or refused the
/// token. The writes stay in the outbox for the next try.
#[derive(Debug)]
pub struct FlushStopped {
    pub error: ClientError,
    pub outcome: FlushOutcome,
}

fn io_err(e: std::io::Error, outbox: &Outbox) -> ClientError {
    ClientError::Server {
        status: 0,
        code: "outbox_io".into(),
        url: outbox.path().display().to_string(),
        message: format!("cannot use the outbox file: {e}"),
    }
}

/// Whether an error stops the flush (the write stays) rather than rejecting the write. An
/// entry belongs to the identity that wrote it (the outbox sends only that identity's): an
/// expired sign-in session keeps it until the same user signs in again; a token the server
/// does not know (or no longer accepts) never will be, so its entries go to the rejected file.
/// An untrusted certificate stops it too: nothing was sent, and the entry waits until the user
/// trusts the server (#15 item 16).
fn stops(e: &ClientError) -> bool {
    e.is_retryable() || e.is_untrusted() || super::session::is_session_expired(e)
}

/// Sends one batch; when the server is unreachable and others are configured, tries each of
/// them once (safe: the server deduplicates by event id).
async fn send(client: &ApiClient, batch: &[Pending]) -> Result<AppendResponse, ClientError> {
    let mut tries = client.bases().len();
    loop {
        match send_once(client, batch).await {
            Err(ClientError::Unreachable { url, reason }) => {
                tries -= 1;
                if tries == 0 || !client.fail_over(&url) {
                    return Err(ClientError::Unreachable { url, reason });
                }
                tracing::info!("cannot reach {url} ({reason}); trying {}", client.base());
            }
            other => return other,
        }
    }
}

/// Sends one write again, outside the outbox: the server answers a write it already recorded
/// with its record (idempotent by event id). For a writer whose entry another process sharing
/// its outbox sent first, to learn what the server recorded.
pub async fn resend(client: &ApiClient, p: &Pending) -> Result<AppendResponse, ClientError> {
    send(client, std::slice::from_ref(p)).await
}

async fn send_once(client: &ApiClient, batch: &[Pending]) -> Result<AppendResponse, ClientError> {
    let first = &batch[0];
    match &first.target {
        Target::Declare => client.declare(&first.event).await,
        Target::Incident(id) => {
            client.append(id, batch.iter().map(|p| p.event.clone()).collect(), first.if_match).await
        }
    }
}

/// The next batch: consecutive unguarded writes to one incident (a declaration or a guarded
/// change goes alone).
fn next_batch(pending: &[Pending]) -> usize {
    let first = &pending[0];
    if first.target == Target::Declare || first.if_match.is_some() {
        return 1;
    }
    pending.iter().take(MAX_BATCH).take_while(|p| p.target == first.target && p.if_match.is_none()).count()
}

/// Sends every pending write of `outbox`, oldest first, calling `on` for each result. Stops at
/// the first error that is worth a retry (or a refused token).
pub async fn flush(
    client: &ApiClient,
    outbox: &Outbox,
    mut on: impl FnMut(Flushed),
) -> Result<FlushOutcome, FlushStopped> {
    let mut outcome = FlushOutcome::default();
    let pending = blocking(outbox, |o| o.pending())
        .await
        .map_err(|e| FlushStopped { error: io_err(e, outbox), outcome })?;
    let mut i = 0;
    while i < pending.len() {
        let n = next_batch(&pending[i..]);
        let batch = &pending[i..i + n];
        let result = send(client, batch).await;
        match result {
            Ok(response) => {
                let ids: Vec<_> = batch.iter().map(|p| p.event.id).collect();
                blocking(outbox, move |o| o.ack(&ids))
                    .await
                    .map_err(|e| FlushStopped { error: io_err(e, outbox), outcome })?;
                outcome.acked += n;
                on(Flushed::Acked { pending: batch.to_vec(), response });
                i += n;
            }
            Err(e) if stops(&e) => {
                outcome.remaining = pending.len() - i;
                return Err(FlushStopped { error: e, outcome });
            }
            Err(e) if n > 1 => {
                // One bad write refuses the whole batch: send them one by one to find it.
                tracing::info!("batch of {n} refused ({e}); sending one by one");
                for p in batch.iter().cloned() {
                    match send(client, std::slice::from_ref(&p)).await {
                        Ok(response) => {
                            let id = p.event.id;
                            blocking(outbox, move |o| o.ack(&[id]))
                                .await
                                .map_err(|e| FlushStopped { error: io_err(e, outbox), outcome })?;
                            outcome.acked += 1;
                            on(Flushed::Acked { pending: vec![p], response });
                        }
                        Err(e) if stops(&e) => {
                            outcome.remaining = pending.len() - i;
                            return Err(FlushStopped { error: e, outcome });
                        }
                        Err(e) => {
                            reject(outbox, &p, &e, &mut outcome).await?;
                            on(Flushed::Refused { pending: p, error: e });
                        }
                    }
                    i += 1;
                }
            }
            Err(e) => {
                let p = batch[0].clone();
                reject(outbox, &p, &e, &mut outcome).await?;
                on(Flushed::Refused { pending: p, error: e });
                i += 1;
            }
        }
    }
    outcome.remaining = blocking(outbox, |o| o.pending()).await.map(|p| p.len()).unwrap_or(0);
    Ok(outcome)
}

/// Runs an outbox file operation (lock, read, fsync) off the async threads.
async fn blocking<T: Send + 'static>(
    outbox: &Outbox,
    f: impl FnOnce(&Outbox) -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    let o = outbox.clone();
    tokio::task::spawn_blocking(move || f(&o)).await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

async fn reject(
    outbox: &Outbox,
    p: &Pending,
    e: &ClientError,
    outcome: &mut FlushOutcome,
) -> Result<(), FlushStopped> {
    tracing::warn!(event = %p.event.id, "write refused by the server: {e}");
    let status = e.status().unwrap_or(400);
    let (p2, body) = (p.clone(), e.error_body());
    blocking(outbox, move |o| o.reject(&p2, status, &body))
        .await
        .map_err(|err| FlushStopped { error: io_err(err, outbox), outcome: *outcome })?;
    outcome.refused += 1;
    Ok(())
}
