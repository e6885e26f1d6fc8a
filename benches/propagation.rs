//! Propagation benchmark: an in-process server on 127.0.0.1:0 (SQLite in a temp dir), N SSE
//! clients, one writer appending M events one by one. Reports append throughput and the
//! propagation latency (append call start -> receipt on each client) p50/p99/max. Figures only,
//! nothing asserted.
//!
//! `cargo bench --bench propagation [-- N...]` (default 10 100); env `WARROOM_BENCH_EVENTS`
//! (default 200) sets M. With `WARROOM_BENCH_PG=postgres://...` (a database it may wipe) it runs
//! the same on PostgreSQL with two replicas: the writer appends through one, the readers stream
//! from the other (propagation across replicas). Loopback only; every wait is bounded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures::StreamExt;
use tokio::sync::Barrier;
use uuid::Uuid;

use warroom::api::Role;
use warroom::domain::{EventBody, EventKind, NewEvent};
use warroom::server::{self, ServeOptions};

/// Upper bound for any phase (connecting, receiving): a bench must not hang.
const PHASE_LIMIT: Duration = Duration::from_secs(120);

#[derive(serde::Deserialize)]
struct IdOnly {
    id: Uuid,
}

/// Raises the soft open-files limit to the hard one (500 clients need ~1000 descriptors).
fn raise_nofile() -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                return want.rlim_cur;
            }
        }
        lim.rlim_cur
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

async fn run(clients: usize, events: usize, pg: Option<&str>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = match pg {
        Some(pg) => {
            server::postgres::PgStore::reset(pg).await?;
            pg.to_string()
        }
        None => format!("sqlite://{}", dir.path().join("bench.db").display()),
    };
    let store = server::open_store(&url).await?;
    let writer_token = server::tokens::create(&*store, "writer", Role::Scribe).await?;
    let reader_token = server::tokens::create(&*store, "reader", Role::Viewer).await?;
    let opts = ServeOptions {
        listen: "127.0.0.1:0".into(),
        practice: warroom::assets::load_practice(None, None)?,
        alertmanager: Default::default(),
        limits: server::Limits::unlimited(),
        ..Default::default()
    };
    // On PostgreSQL a second replica serves the readers; on SQLite the one server does.
    let replica = match pg {
        Some(_) => Some(server::start(opts.clone(), server::open_store(&url).await?).await?),
        None => None,
    };
    let running = server::start(opts, store).await?;
    let base = format!("http://{}", running.addr);
    let read_base = replica.as_ref().map(|r| format!("http://{}", r.addr)).unwrap_or_else(|| base.clone());
    let http = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(clients + 4).build()?;

    let declared = NewEvent::now(EventBody::Declared {
        title: "bench".into(),
        severity: "SEV-3".into(),
        summary: String::new(),
        group_key: None,
    });
    let res = http
        .post(format!("{base}/api/v1/incidents"))
        .bearer_auth(&writer_token)
        .json(&declared)
        .send()
        .await?;
    let declared: warroom::api::AppendResponse = res.error_for_status()?.json().await?;
    let after = declared.events[0].seq;
    let incident = declared.incident;

    // Connect every client; each records when each event id arrives.
    let ready = Arc::new(Barrier::new(clients + 1));
    let mut readers = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (http, base, token, ready) =
            (http.clone(), read_base.clone(), reader_token.clone(), ready.clone());
        readers.push(tokio::spawn(async move {
            let res = http
                .get(format!("{base}/api/v1/stream"))
                .bearer_auth(&token)
                .header("Last-Event-ID", after.to_string())
                .send()
                .await;
            ready.wait().await;
            let mut got: Vec<(Uuid, Instant)> = Vec::with_capacity(events);
            let Ok(res) = res else { return got };
            let mut stream = res.bytes_stream().eventsource();
            let deadline = tokio::time::Instant::now() + PHASE_LIMIT;
            while got.len() < events {
                match tokio::time::timeout_at(deadline, stream.next()).await {
                    Ok(Some(Ok(e))) => {
                        if let Ok(ev) = serde_json::from_str::<IdOnly>(&e.data) {
                            got.push((ev.id, Instant::now()));
                        }
                    }
                    _ => break,
                }
            }
            got
        }));
    }
    tokio::time::timeout(PHASE_LIMIT, ready.wait()).await?;

    // One writer, one event per call.
    let mut started: HashMap<Uuid, Instant> = HashMap::with_capacity(events);
    let t0 = Instant::now();
    for i in 0..events {
        let body =
            EventBody::entry(EventKind::Note, format!("bench event {i}")).expect("note is an entry kind");
        let e = NewEvent::now(body);
        started.insert(e.id, Instant::now());
        http.post(format!("{base}/api/v1/incidents/{incident}/events"))
            .bearer_auth(&writer_token)
            .json(&e)
            .send()
            .await?
            .error_for_status()?;
    }
    let write_time = t0.elapsed();

    let mut lat = Vec::with_capacity(clients * events);
    let mut complete = 0;
    for r in readers {
        let got = tokio::time::timeout(PHASE_LIMIT, r).await??;
        if got.len() == events {
            complete += 1;
        }
        lat.extend(got.iter().filter_map(|(id, at)| started.get(id).map(|s| at.duration_since(*s))));
    }
    lat.sort();
    println!(
        "clients={clients:4} events={events} | append: {:.0} events/s ({} per call) | propagation p50 {} p99 {} max {} | {complete}/{clients} clients got every event",
        events as f64 / write_time.as_secs_f64(),
        ms(write_time / events as u32),
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default()),
    );
    running.shutdown().await?;
    if let Some(r) = replica {
        r.shutdown().await?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![10, 100];
    }
    let events = std::env::var("WARROOM_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200usize);
    let nofile = raise_nofile();
    let pg = std::env::var("WARROOM_BENCH_PG").ok().filter(|u| !u.is_empty());
    let store = match pg {
        Some(_) => "PostgreSQL, two replicas (writer on one, readers on the other)",
        None => "SQLite (WAL, synchronous=FULL) in a temp dir",
    };
    println!("propagation bench: loopback, {store}; open-files limit {nofile}");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    for n in sizes {
        if (n as u64) * 2 + 64 > nofile {
            println!("clients={n}: skipped, the open-files limit {nofile} is too low");
            continue;
        }
        rt.block_on(run(n, events, pg.as_deref()))?;
    }
    Ok(())
}
