//! Propagation benchmark: an in-process server on 127.0.0.1:0 (SQLite in a temp dir), N SSE
//! clients, one writer appending M events one by one. Reports append throughput and the
//! propagation latency (append call start -> receipt on each client) p50/p99/max. Figures only,
//! nothing asserted.
//!
//! `cargo bench --bench propagation [-- N...]` (default 10 100); env `WARROOM_BENCH_EVENTS`
//! (default 200) sets M. With `WARROOM_BENCH_PG=postgres://...` (a database it may wipe) it runs
//! the same on PostgreSQL with two replicas: the writer appends through one, the readers stream
//! from the other (propagation across replicas). Loopback only; every wait is bounded.
//!
//! Durable appends (group commit): after the propagation runs, `WARROOM_BENCH_WRITERS` (default
//! `1 8`) concurrent writers with no readers append `WARROOM_BENCH_APPENDS` (default 1600)
//! events in all, one per call, through the same kind of server (on PostgreSQL: the writers
//! spread over both replicas); reports appends/s and the per-call p50/p99.
//!
//! Notifications: with `WARROOM_BENCH_NOTIFY=1` the writer appends `comms_sent` events and
//! each size runs three times: with no notification target, with three (two answering at once,
//! one that accepts and never answers), and with three that all answer, every event routed to
//! all three: a slow or dead target must not slow appends or the stream (the last two agree),
//! and what delivering costs the writer shows against the first.

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
    /// Notifications: the server's own `delivery` events are not the writer's.
    kind: String,
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

/// Notifications: a loopback target that accepts connections and never answers.
async fn stalling_target() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    Ok(format!("http://{addr}/hook"))
}

/// Notifications: a loopback target answering every request with 200 (and closing).
async fn answering_target() -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                while let Ok(n) = sock.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    Ok(format!("http://{addr}/hook"))
}

/// Notifications: three slack targets (two answering, the third stalling or answering), every
/// comms_sent routed to all three.
async fn three_targets(stalling: bool) -> anyhow::Result<server::notify::NotifyConfig> {
    let (a, b) = (answering_target().await?, answering_target().await?);
    let stall = if stalling { stalling_target().await? } else { answering_target().await? };
    let text = format!(
        "[[targets]]\nname = \"a\"\nkind = \"slack\"\nurl = \"{a}\"\n\
         [[targets]]\nname = \"b\"\nkind = \"slack\"\nurl = \"{b}\"\n\
         [[targets]]\nname = \"stalling\"\nkind = \"slack\"\nurl = \"{stall}\"\n\
         [[routes]]\non = [\"comms_sent\"]\ntargets = [\"a\", \"b\", \"stalling\"]\n"
    );
    let mut cfg: server::notify::NotifyConfig = warroom::assets::parse_toml("bench.toml", &text)?;
    cfg.validate("bench.toml", &text)?;
    Ok(cfg)
}

async fn run(clients: usize, events: usize, pg: Option<&str>) -> anyhow::Result<()> {
    run_with(clients, events, pg, None).await
}

async fn run_with(
    clients: usize,
    events: usize,
    pg: Option<&str>,
    notify: Option<(&str, server::notify::NotifyConfig)>,
) -> anyhow::Result<()> {
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
        notify: notify.as_ref().map(|(_, n)| n.clone()).unwrap_or_default(),
        ..Default::default()
    };
    let comms_events = notify.is_some();
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
        demo: false,
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
                        if let Ok(ev) = serde_json::from_str::<IdOnly>(&e.data)
                            && ev.kind != "delivery"
                        {
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
        let body = if comms_events {
            EventBody::CommsSent {
                channel: "status".into(),
                text: format!("bench update {i}"),
                template: None,
            }
        } else {
            EventBody::entry(EventKind::Note, format!("bench event {i}")).expect("note is an entry kind")
        };
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
    let label = notify.as_ref().map(|(l, _)| format!("{l} | ")).unwrap_or_default();
    println!(
        "{label}clients={clients:4} events={events} | append: {:.0} events/s ({} per call) | propagation p50 {} p99 {} max {} | {complete}/{clients} clients got every event",
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

/// `writers` concurrent writers, no readers, `total` appends in all, one event per call.
async fn appends(writers: usize, total: usize, pg: Option<&str>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = match pg {
        Some(pg) => {
            server::postgres::PgStore::reset(pg).await?;
            pg.to_string()
        }
        None => format!("sqlite://{}", dir.path().join("bench.db").display()),
    };
    let store = server::open_store(&url).await?;
    let token = server::tokens::create(&*store, "writer", Role::Scribe).await?;
    let opts = ServeOptions {
        listen: "127.0.0.1:0".into(),
        practice: warroom::assets::load_practice(None, None)?,
        limits: server::Limits::unlimited(),
        ..Default::default()
    };
    let mut servers = vec![server::start(opts.clone(), store).await?];
    if pg.is_some() {
        servers.push(server::start(opts, server::open_store(&url).await?).await?);
    }
    let bases: Vec<String> = servers.iter().map(|r| format!("http://{}", r.addr)).collect();
    let http = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(writers + 4).build()?;
    let declared = NewEvent::now(EventBody::Declared {
        title: "bench".into(),
        severity: "SEV-3".into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    });
    let res = http
        .post(format!("{}/api/v1/incidents", bases[0]))
        .bearer_auth(&token)
        .json(&declared)
        .send()
        .await?;
    let incident = res.error_for_status()?.json::<warroom::api::AppendResponse>().await?.incident;
    let per = total / writers;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (http, token) = (http.clone(), token.clone());
        let url = format!("{}/api/v1/incidents/{incident}/events", bases[w % bases.len()]);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for i in 0..per {
                let e = NewEvent::now(
                    EventBody::entry(EventKind::Note, format!("w{w} n{i}")).expect("note is an entry kind"),
                );
                let t = Instant::now();
                http.post(&url).bearer_auth(&token).json(&e).send().await?.error_for_status()?;
                lat.push(t.elapsed());
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(tokio::time::timeout(PHASE_LIMIT, t).await???);
    }
    let secs = t0.elapsed().as_secs_f64();
    lat.sort();
    println!(
        "appends writers={writers} total={} | {:.0} appends/s | per call p50 {} p99 {}",
        per * writers,
        (per * writers) as f64 / secs,
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.99)),
    );
    for s in servers {
        s.shutdown().await?;
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
        if std::env::var("WARROOM_BENCH_NOTIFY").as_deref() == Ok("1") {
            let none = server::notify::NotifyConfig::default();
            let three = rt.block_on(three_targets(true))?;
            let healthy = rt.block_on(three_targets(false))?;
            rt.block_on(run_with(n, events, pg.as_deref(), Some(("no targets", none))))?;
            rt.block_on(run_with(n, events, pg.as_deref(), Some(("3 targets, 1 stalling", three))))?;
            rt.block_on(run_with(n, events, pg.as_deref(), Some(("3 targets, all answering", healthy))))?;
            continue;
        }
        rt.block_on(run(n, events, pg.as_deref()))?;
    }
    let writers: Vec<usize> = std::env::var("WARROOM_BENCH_WRITERS")
        .unwrap_or_else(|_| "1 8".into())
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .filter(|w| *w > 0)
        .collect();
    let total = std::env::var("WARROOM_BENCH_APPENDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1600usize);
    for w in writers {
        rt.block_on(appends(w, total, pg.as_deref()))?;
    }
    Ok(())
}
