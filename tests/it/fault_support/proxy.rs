//! A fault-injecting TCP proxy for tests (no tc netem or Toxiproxy needed): it sits between the
//! clients and `warroom serve` on loopback and, per the fault set at the moment, forwards bytes,
//! cuts connections part-way through what the server sends (mid-event on a stream, mid-answer
//! on a request), stalls every connection (bytes are held, connections stay open), holds only
//! event streams (a buffering proxy), or drops the server's answer to a write after the server
//! has committed it and closes the connection, so the client never learns its write landed.
//!
//! The fault can change at any moment; every connection looks at the current one for every chunk.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to the traffic now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    Pass,
    /// Close each connection after it has carried between `min` and `max` more bytes towards the
    /// client (picked at random per connection): the cut lands inside an event or an answer.
    Cut { min: usize, max: usize },
    /// Forward nothing either way; connections (old and new) stay open, bytes are held until
    /// the stall ends.
    Stall,
    /// Forward requests; when the server answers a `POST` (a write it has committed), throw the
    /// answer away and close the connection.
    DropAnswers,
    /// Hold what the server sends on event streams (`GET /api/v1/stream`) and pass everything
    /// else: a proxy that buffers streamed answers.
    HoldStreams,
}

/// Counts of what the proxy did, for the test's report.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicU64,
    pub cuts: AtomicU64,
    pub dropped_answers: AtomicU64,
    pub stalled_chunks: AtomicU64,
}

impl Stats {
    pub fn line(&self) -> String {
        format!(
            "{} connections, {} cut mid-answer, {} answers to committed writes dropped, {} chunks held by stalls",
            self.connections.load(Ordering::Relaxed),
            self.cuts.load(Ordering::Relaxed),
            self.dropped_answers.load(Ordering::Relaxed),
            self.stalled_chunks.load(Ordering::Relaxed),
        )
    }
}

pub struct Proxy {
    pub addr: SocketAddr,
    fault: watch::Sender<Fault>,
    pub stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (fault, _) = watch::channel(Fault::Pass);
        let stats = Arc::new(Stats::default());
        let (rx, st) = (fault.subscribe(), stats.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { continue };
                st.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(connection(client, upstream, rx.clone(), st.clone()));
            }
        });
        Proxy { addr, fault, stats, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, f: Fault) {
        self.fault.send_replace(f);
    }
}

/// Waits while the fault holds this connection's bytes (a stall holds every connection; a
/// buffering proxy holds streams); returns the fault that let them go.
async fn unless_held(rx: &mut watch::Receiver<Fault>, stats: &Stats, streaming: bool) -> Fault {
    let mut counted = false;
    loop {
        let f = *rx.borrow_and_update();
        let held = f == Fault::Stall || (f == Fault::HoldStreams && streaming);
        if !held {
            return f;
        }
        if !counted {
            stats.stalled_chunks.fetch_add(1, Ordering::Relaxed);
            counted = true;
        }
        if rx.changed().await.is_err() {
            return Fault::Pass;
        }
    }
}

async fn connection(client: TcpStream, upstream: SocketAddr, rx: watch::Receiver<Fault>, stats: Arc<Stats>) {
    // Refused upstream (the server is down): close the client's connection, as a dead host would.
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_r, mut client_w) = client.into_split();
    let (mut server_r, mut server_w) = server.into_split();
    // Whether the request the server answers next is a write (a POST), or an event stream.
    let posting = Arc::new(AtomicBool::new(false));
    let streaming = Arc::new(AtomicBool::new(false));

    let up = {
        let (mut rx, stats, posting, streaming) =
            (rx.clone(), stats.clone(), posting.clone(), streaming.clone());
        async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match client_r.read(&mut buf).await {
                    // The client is gone (or done sending). Like many middleboxes, do not pass the
                    // close on: what it sent is still answered (and committed) by the server. The
                    // connection ends when the server's side does.
                    Ok(0) | Err(_) => {
                        std::future::pending::<()>().await;
                        return;
                    }
                    Ok(n) => n,
                };
                unless_held(&mut rx, &stats, false).await;
                // A request starts with its method; a chunk in the middle of a body never
                // starts with "POST " in these tests (bodies are JSON).
                if buf[..n].starts_with(b"POST ") {
                    posting.store(true, Ordering::SeqCst);
                    streaming.store(false, Ordering::SeqCst);
                } else if buf[..n].starts_with(b"GET ") {
                    posting.store(false, Ordering::SeqCst);
                    streaming.store(buf[..n].starts_with(b"GET /api/v1/stream"), Ordering::SeqCst);
                }
                if server_w.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    };

    let down = {
        let mut rx = rx;
        async move {
            let mut buf = vec![0u8; 16 * 1024];
            // Bytes left before a cut, once a cut fault has been seen on this connection.
            let mut budget: Option<usize> = None;
            loop {
                let n = match server_r.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                match unless_held(&mut rx, &stats, streaming.load(Ordering::SeqCst)).await {
                    Fault::Pass | Fault::Stall | Fault::HoldStreams => {}
                    Fault::Cut { min, max } => {
                        let left =
                            *budget.get_or_insert_with(|| rand::rng().random_range(min..=max.max(min)));
                        if n >= left {
                            let _ = client_w.write_all(&buf[..left]).await;
                            stats.cuts.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        budget = Some(left - n);
                    }
                    Fault::DropAnswers => {
                        if posting.load(Ordering::SeqCst) {
                            stats.dropped_answers.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    }
                }
                if client_w.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    };

    // The connection ends when the server->client half ends (a fault, the server closed, or the
    // client went away and the next byte to it failed): both sockets are dropped here, so the
    // client sees a cut at once.
    let up = tokio::spawn(up).abort_handle();
    down.await;
    up.abort();
}
