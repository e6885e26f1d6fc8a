//! `GET /metrics` (issue #14): the Prometheus text format from a real server, checked by
//! `promtool check metrics` and scraped by a real Prometheus (Debian's `prometheus` package),
//! over the metrics listener of its own (no token) and the main listener (a bearer token).
//! Without promtool or prometheus installed the tests say loudly that they skip those parts;
//! under CI (`CI=true`) they fail instead.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::server_support::{Srv, expect_error, options, start};
use warroom::api::Role;
use warroom::domain::{EventBody, EventKind, NewEvent};
use warroom::server::{Limits, ServeOptions};

/// Guards against a hang; never a performance assertion.
const PATIENCE: Duration = Duration::from_secs(60);

fn note(text: &str) -> Value {
    json!(NewEvent::now(EventBody::entry(EventKind::Note, text).unwrap()))
}

fn declared(severity: &str) -> Value {
    json!(NewEvent::now(EventBody::Declared {
        title: "metrics".into(),
        severity: severity.into(),
        summary: String::new(),
        group_key: None,
        demo: false
    }))
}

fn with_metrics_listener(limits: Limits) -> ServeOptions {
    ServeOptions { metrics_listen: Some("127.0.0.1:0".into()), ..options(limits) }
}

/// A tool the test needs: `None` (said loudly) when it is not installed, a failure under CI.
fn tool(name: &str) -> Option<&str> {
    if Command::new(name).arg("--version").output().is_ok() {
        return Some(name);
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{name} is not installed (.ci/run installs it)");
    eprintln!("SKIPPED part of this test: {name} is not installed (apt-get install prometheus)");
    None
}

/// The value of one series (`name{labels}` exactly as exposed) in an exposition.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn scrape(s: &Srv, token: Option<&str>) -> reqwest::Response {
    s.req(reqwest::Method::GET, "/metrics", token).send().await.unwrap()
}

async fn scrape_open(s: &Srv) -> String {
    let addr = s.running.as_ref().unwrap().metrics_addr.expect("a metrics listener");
    let res = s.http.get(format!("http://{addr}/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

/// Scrapes until `want` holds for the exposition; fails with the last one.
async fn scrape_until(s: &Srv, label: &str, want: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = scrape_open(s).await;
        if want(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{label} never showed in\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `promtool check metrics` accepts the exposition (format and naming conventions).
fn promtool_check(text: &str) {
    let Some(promtool) = tool("promtool") else { return };
    use std::io::Write;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success() && said.trim().is_empty(), "promtool check metrics: {said}\n{text}");
}

#[tokio::test]
async fn metrics_count_writes_refusals_streams_polls_and_open_incidents() {
    // A burst of 5 writes per token, one stream per token.
    let limits = Limits { writes_per_sec: 0.001, write_burst: 5, streams_per_token: 1, ..Limits::default() };
    let s = start(with_metrics_listener(limits)).await;
    let scribe = s.token(Role::Scribe).to_string();
    let ic = s.token(Role::Commander).to_string();

    let res = s.post("/api/v1/incidents", &scribe, &declared("SEV-2")).await; // 1
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["incident"].as_str().unwrap().to_string();
    let path = format!("/api/v1/incidents/{id}/events");
    for n in 0..2 {
        assert_eq!(s.post(&path, &scribe, &note(&format!("n{n}"))).await.status(), StatusCode::OK); // 2, 3
    }
    let res = s.post("/api/v1/incidents", &scribe, &declared("SEV-9")).await; // 4: refused
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused_code = res.json::<Value>().await.unwrap()["error"].as_str().unwrap().to_string();
    assert_eq!(s.post(&path, &scribe, &note("n2")).await.status(), StatusCode::OK); // 5
    expect_error(s.post(&path, &scribe, &note("n3")).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        .await;

    // One stream open, a second one refused.
    let stream = s.get("/api/v1/stream", &ic).await;
    assert_eq!(stream.status(), StatusCode::OK);
    expect_error(s.get("/api/v1/stream", &ic).await, StatusCode::TOO_MANY_REQUESTS, "too_many_streams").await;

    // A long poll waits for the next event.
    let top = s.get("/api/v1/events?limit=1", &ic).await.json::<Value>().await.unwrap()["last_seq"]
        .as_u64()
        .unwrap();
    let poll = {
        let r = s.req(reqwest::Method::GET, &format!("/api/v1/events?after={top}&wait=50"), Some(&ic));
        tokio::spawn(async move { r.send().await.unwrap().json::<Value>().await.unwrap() })
    };
    scrape_until(&s, "a waiting long poll", |t| value(t, "warroom_long_polls_open") == Some(1.0)).await;
    assert_eq!(s.post(&path, &ic, &note("from the IC")).await.status(), StatusCode::OK);
    let page = tokio::time::timeout(PATIENCE, poll).await.unwrap().unwrap();
    assert_eq!(page["events"].as_array().unwrap().len(), 1, "{page}");
    let text =
        scrape_until(&s, "the long poll done", |t| value(t, "warroom_long_polls_open") == Some(0.0)).await;

    for (series, want) in [
        ("warroom_events_appended_total{kind=\"declared\"}", 1.0),
        ("warroom_events_appended_total{kind=\"note\"}", 4.0),
        ("warroom_append_duration_seconds_count", 5.0),
        ("warroom_incidents_open{severity=\"SEV-2\",status=\"declared\"}", 1.0),
        ("warroom_incidents_open{severity=\"SEV-1\",status=\"declared\"}", 0.0),
        ("warroom_incidents_open{severity=\"SEV-4\",status=\"mitigated\"}", 0.0),
        ("warroom_streams_open", 1.0),
        ("warroom_rate_limited_total{limit=\"writes\"}", 1.0),
        ("warroom_rate_limited_total{limit=\"streams\"}", 1.0),
        ("warroom_writes_refused_total{code=\"rate_limited\"}", 1.0),
        (&format!("warroom_writes_refused_total{{code=\"{refused_code}\"}}"), 1.0),
        ("warroom_store_up", 1.0),
        (&format!("warroom_build_info{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")), 1.0),
    ] {
        assert_eq!(value(&text, series), Some(want), "{series} in\n{text}");
    }
    assert_eq!(
        value(&text, "warroom_incidents_open{severity=\"SEV-2\",status=\"resolved\"}"),
        None,
        "only open statuses"
    );
    // Group commit: each write above waited for the one before, so each had a transaction of
    // its own; the refused declaration was refused by the append rules, in its transaction.
    assert_eq!(value(&text, "warroom_write_group_requests_total"), Some(6.0), "{text}");
    assert_eq!(value(&text, "warroom_write_groups_total"), Some(6.0), "{text}");
    // SQLite reads every group afresh: none runs twice.
    assert_eq!(value(&text, "warroom_write_group_reruns_total"), Some(0.0), "{text}");
    assert!(text.contains("# TYPE warroom_write_groups_total counter"), "{text}");
    // Every event this server wrote went through its fan-out.
    assert_eq!(value(&text, "warroom_propagation_lag_seconds_count"), Some(5.0), "{text}");
    assert!(text.contains("warroom_append_duration_seconds_bucket{le=\"0.005\"}"), "a histogram: {text}");
    assert!(text.contains("# TYPE warroom_events_appended_total counter"), "{text}");
    promtool_check(&text);

    // The stream's end is counted.
    drop(stream);
    scrape_until(&s, "the stream closed", |t| value(t, "warroom_streams_open") == Some(0.0)).await;

    // The main listener: any valid token, no token is a 401; the same figures.
    expect_error(scrape(&s, None).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let res = scrape(&s, Some(s.token(Role::Viewer))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let main = res.text().await.unwrap();
    assert_eq!(value(&main, "warroom_events_appended_total{kind=\"note\"}"), Some(4.0), "{main}");
    // The metrics listener serves /metrics and nothing else.
    let addr = s.running.as_ref().unwrap().metrics_addr.unwrap();
    let res = s.http.get(format!("http://{addr}/api/v1/incidents")).send().await.unwrap();
    expect_error(res, StatusCode::NOT_FOUND, "not_found").await;
    s.shutdown().await;
}

/// Without `metrics_listen` there is no listener of its own; /metrics is on the main one, and
/// in the OpenAPI document (so the fuzzer covers it).
#[tokio::test]
async fn metrics_live_on_the_main_listener_and_in_the_openapi_document() {
    let s = start(options(Limits::default())).await;
    assert!(s.running.as_ref().unwrap().metrics_addr.is_none());
    let res = scrape(&s, Some(s.token(Role::Viewer))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert_eq!(value(&text, "warroom_store_up"), Some(1.0), "{text}");
    promtool_check(&text);
    let doc: Value = s.get("/api/v1/openapi.json", s.token(Role::Viewer)).await.json().await.unwrap();
    let op = &doc["paths"]["/metrics"]["get"];
    assert!(op["responses"]["200"]["content"]["text/plain"].is_object(), "{op}");
    assert!(op["responses"]["401"].is_object(), "{op}");
    s.shutdown().await;
}

/// A Prometheus child process, killed when dropped.
struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts Prometheus with `config` on a free port of 127.0.0.1; returns it and its URL.
async fn start_prometheus(bin: &str, dir: &Path, config: &str) -> (Prometheus, String) {
    let file = dir.join("prometheus.yml");
    std::fs::write(&file, config).unwrap();
    let http = crate::server_support::client();
    // The port is free when picked; if another process takes it first, try another.
    for attempt in 0..3 {
        let port = free_port();
        let log = std::fs::File::create(dir.join(format!("prometheus-{attempt}.log"))).unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", file.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join(format!("data-{attempt}")).display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut p = Prometheus(child);
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Some(status) = p.0.try_wait().unwrap() {
                let log = std::fs::read_to_string(dir.join(format!("prometheus-{attempt}.log"))).unwrap();
                eprintln!("prometheus exited ({status}) on port {port}:\n{log}");
                break;
            }
            if let Ok(r) = http.get(format!("{url}/-/ready")).send().await
                && r.status().is_success()
            {
                return (p, url);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = p.0.kill();
    }
    panic!("prometheus did not start");
}

/// The result of an instant query: (labels, value) per series.
async fn query(url: &str, q: &str) -> Vec<(Value, f64)> {
    let http = crate::server_support::client();
    let Ok(res) = http.get(format!("{url}/api/v1/query")).query(&[("query", q)]).send().await else {
        return Vec::new();
    };
    let body: Value = res.json().await.unwrap_or_default();
    body["data"]["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|s| {
                    (s["metric"].clone(), s["value"][1].as_str().unwrap_or("nan").parse().unwrap_or(f64::NAN))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_real_prometheus_scrapes_both_listeners() {
    let Some(bin) = tool("prometheus") else { return };
    let s = start(with_metrics_listener(Limits::default())).await;
    let res = s.post("/api/v1/incidents", s.token(Role::Scribe), &declared("SEV-1")).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let open = s.running.as_ref().unwrap().metrics_addr.unwrap();
    let main = s.running.as_ref().unwrap().addr;
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n\
         \x20 - job_name: warroom-open\n    static_configs: [{{targets: ['{open}']}}]\n\
         \x20 - job_name: warroom-token\n    authorization: {{type: Bearer, credentials: '{}'}}\n\
         \x20   static_configs: [{{targets: ['{main}']}}]\n",
        s.token(Role::Viewer)
    );
    let dir = tempfile::tempdir().unwrap();
    let (_prom, url) = start_prometheus(bin, dir.path(), &config).await;

    let deadline = Instant::now() + PATIENCE;
    loop {
        let up = query(&url, "up").await;
        let jobs_up = up.iter().filter(|(m, v)| *v == 1.0 && m["job"].as_str().is_some()).count();
        let open_incidents =
            query(&url, "warroom_incidents_open{severity=\"SEV-1\",status=\"declared\"}").await;
        let declared = query(&url, "warroom_events_appended_total{kind=\"declared\"}").await;
        let per_job = |v: &[(Value, f64)]| v.iter().filter(|(_, x)| *x == 1.0).count();
        if jobs_up == 2 && per_job(&open_incidents) == 2 && per_job(&declared) == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus never saw both targets up with the incident: up={up:?} open={open_incidents:?} \
             declared={declared:?}\n{}",
            std::fs::read_to_string(dir.path().join("prometheus-0.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    s.shutdown().await;
}
