//! Notifications (issue #12): the server delivers to the world from the event log. Each target
//! kind is checked against a local receiver (tests/notify/receiver.py) for its documented wire
//! format; webhook signatures are verified by the Standard Webhooks reference library (PyPI
//! `standardwebhooks`), email goes to a real SMTP server (PyPI `aiosmtpd`). The config's
//! errors name file, line and key; escalation pages once per incident and level.
//!
//! The Python modules are installed by `.ci/run`; in CI (`CI=true`) a missing one fails the
//! test, locally it is skipped with a loud message.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use warroom::api::Role;
use warroom::config::Config;
use warroom::domain::{Event, EventBody, NewEvent};
use warroom::server::store::AppendCtx;
use warroom::server::{self, Limits, ServeOptions, Store};

use crate::server_support::{self, Srv};

pub const PATIENCE: Duration = Duration::from_secs(30);

/// Whether python3 has `modules`; a missing one fails in CI and skips (loudly) elsewhere.
pub fn python_has(modules: &[&str], test: &str) -> bool {
    let code = modules.iter().map(|m| format!("import {m}")).collect::<Vec<_>>().join("; ");
    let ok = Command::new("python3").args(["-c", &code]).output().is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true")
            || std::env::var("WARROOM_REQUIRE_PY").as_deref() == Ok("1")
        {
            panic!("{test}: python3 with {modules:?} is required (pip install {})", modules.join(" "));
        }
        eprintln!(
            "\n*** SKIPPED {test}: python3 with {modules:?} is missing (pip install {}) ***\n",
            modules.join(" ")
        );
    }
    ok
}

fn script_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/notify").join(name)
}

/// A Python process that prints `PORT <n>` first and records what it receives, one JSON line each.
pub struct Receiver {
    child: Child,
    pub port: u16,
    record: PathBuf,
    _dir: tempfile::TempDir,
}

impl Receiver {
    fn spawn(script: &str, args: &[&str]) -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("record.jsonl");
        let mut child = Command::new("python3")
            .arg(script_path(script))
            .arg(&record)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("PORT ").unwrap_or_else(|| panic!("{script} printed {line:?}"));
        Receiver { child, port: port.parse().unwrap(), record, _dir: dir }
    }

    /// An HTTP receiver answering per `script` (see receiver.py), verifying Standard Webhooks
    /// signatures with `whsec` when given.
    pub fn http(script: &str, whsec: Option<&str>) -> Receiver {
        let mut args = vec!["--script", script];
        if let Some(s) = whsec {
            args.extend(["--whsec", s]);
        }
        Receiver::spawn("receiver.py", &args)
    }

    pub fn smtp() -> Receiver {
        Receiver::spawn("smtp_sink.py", &[])
    }

    /// An SMTP server that requires STARTTLS (`starttls`) or speaks TLS at once (`tls`).
    pub fn smtp_tls(mode: &str, cert: &Path, key: &Path) -> Receiver {
        Receiver::spawn("smtp_sink.py", &[mode, cert.to_str().unwrap(), key.to_str().unwrap()])
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn got(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize, what: &str) -> Vec<Value> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "{what}: {} of {n} arrived: {got:#?}", got.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses a config file's text as `warroom` would load it from `config.toml`.
pub fn load_config(text: &str) -> Result<Config, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(&path).map_err(|e| e.to_string().replace(&dir.path().display().to_string(), "<dir>"))
}

/// Timing that keeps the tests quick.
pub const FAST: &str = "[serve.notify]\npoll_ms = 50\nscan_secs = 0.2\nbackoff_base_ms = 300\ntimeout_secs = 2\nlease_secs = 5\n";

/// A server (SQLite file) with `config`'s `[serve.notify]`.
pub async fn serve(config: &str) -> Srv {
    let cfg = load_config(config).unwrap();
    let opts = ServeOptions { notify: cfg.serve.notify, ..server_support::options(Limits::unlimited()) };
    server_support::start(opts).await
}

pub fn ctx(p: &warroom::domain::Practice) -> AppendCtx<'_> {
    AppendCtx { author: "alice", role: Role::Admin, practice: p, if_match: None }
}

pub async fn declare(store: &Arc<dyn Store>, severity: &str, title: &str) -> String {
    let p = warroom::assets::load_practice(None, None).unwrap();
    let body = EventBody::Declared {
        title: title.into(),
        severity: severity.into(),
        summary: "Checkout fails for everyone".into(),
        group_key: None,
        demo: false,
    };
    store.declare(ctx(&p), NewEvent::now(body)).await.unwrap().incident.id
}

pub async fn append(store: &Arc<dyn Store>, incident: &str, body: EventBody) -> Event {
    let p = warroom::assets::load_practice(None, None).unwrap();
    store.append(ctx(&p), incident, vec![NewEvent::now(body)]).await.unwrap().events.remove(0)
}

pub fn comms(text: &str) -> EventBody {
    EventBody::CommsSent {
        channel: "status".into(),
        text: text.into(),
        template: Some("internal-alert".into()),
    }
}

/// The `delivery` events of an incident.
pub async fn deliveries(store: &Arc<dyn Store>, incident: &str) -> Vec<EventBody> {
    let snap = store.incident(incident, true).await.unwrap().unwrap();
    snap.events
        .unwrap()
        .into_iter()
        .map(|e| e.body)
        .filter(|b| matches!(b, EventBody::Delivery { .. }))
        .collect()
}

/// Waits until the incident's delivery events satisfy `want`.
pub async fn wait_deliveries(
    store: &Arc<dyn Store>,
    incident: &str,
    what: &str,
    want: impl Fn(&[EventBody]) -> bool,
) -> Vec<EventBody> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let d = deliveries(store, incident).await;
        if want(&d) {
            return d;
        }
        assert!(Instant::now() < deadline, "{what}: the deliveries recorded: {d:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn oks(d: &[EventBody], target: &str) -> usize {
    d.iter().filter(|b| matches!(b, EventBody::Delivery { target: t, ok: true, .. } if t == target)).count()
}

fn body_json(req: &Value) -> Value {
    serde_json::from_str(req["body"].as_str().unwrap()).unwrap()
}

#[test]
fn bad_targets_and_routes_name_file_line_and_key() {
    let good = "[[serve.notify.targets]]\nname = \"ops-slack\"\nkind = \"slack\"\nurl = \"https://hooks.example/x\"\n";
    load_config(good).unwrap();
    for (text, line, key, why) in [
        (
            "[[serve.notify.targets]]\nname = \"a\"\nkind = \"slak\"\nurl = \"https://x.example\"\n",
            3,
            "kind",
            "unknown variant",
        ),
        (
            "[[serve.notify.targets]]\nname = \"a\"\nkind = \"slack\"\nurl = \"not a url\"\n",
            4,
            "url",
            "not a valid URL",
        ),
        (
            "[[serve.notify.targets]]\nname = \"a\"\nkind = \"slack\"\nurl = \"ftp://x.example/\"\n",
            4,
            "url",
            "http(s)",
        ),
        (
            "# ops\n[[serve.notify.targets]]\nname = \"a\"\nkind = \"teams\"\n",
            2,
            "url",
            "needs `url` or `url_env`",
        ),
        (
            "[[serve.notify.targets]]\nname = \"w\"\nkind = \"webhook\"\nurl = \"https://x.example/\"\n",
            1,
            "secret",
            "needs `secret`",
        ),
        (
            "[[serve.notify.targets]]\nname = \"w\"\nkind = \"webhook\"\nurl = \"https://x.example/\"\nsecret = \"hunter2\"\n",
            5,
            "secret",
            "whsec_",
        ),
        (
            "[[serve.notify.targets]]\nname = \"m\"\nkind = \"matrix\"\nurl = \"https://m.example\"\nroom = \"!r:m.example\"\n",
            1,
            "token",
            "needs `token`",
        ),
        (
            "[[serve.notify.targets]]\nname = \"p\"\nkind = \"pagerduty\"\n",
            1,
            "routing_key",
            "needs `routing_key`",
        ),
        (
            "[[serve.notify.targets]]\nname = \"e\"\nkind = \"email\"\nhost = \"smtp.example\"\nfrom = \"w@example.org\"\nto = [\"x\"]\ntls = \"starttls\"\n",
            6,
            "to",
            "not an email address",
        ),
        (
            "[[serve.notify.targets]]\nname = \"e\"\nkind = \"email\"\nhost = \"h\"\nfrom = \"w@example.org\"\nto = [\"o@example.org\"]\ntls = \"ssl\"\n",
            7,
            "tls",
            "unknown variant",
        ),
        (
            "[[serve.notify.targets]]\nname = \"s\"\nkind = \"slack\"\nurl = \"https://x.example\"\nroom = \"!a:b\"\n",
            5,
            "room",
            "does not apply",
        ),
        (
            &format!("{good}\n[[serve.notify.routes]]\non = [\"declared\"]\ntargets = [\"ops-slak\"]\n"),
            8,
            "targets",
            "no target is named `ops-slak`",
        ),
        (
            &format!("{good}\n[[serve.notify.routes]]\non = [\"declard\"]\ntargets = [\"ops-slack\"]\n"),
            7,
            "on",
            "unknown variant",
        ),
    ] {
        let err = load_config(text).unwrap_err();
        assert!(err.starts_with(&format!("<dir>/config.toml:{line}:")), "{text}\n=> {err}");
        assert!(err.contains(&format!("`{key}`")), "{text}\n=> {err}");
        assert!(err.contains(why), "{text}\n=> {err}");
    }
}

#[tokio::test]
async fn a_missing_secret_variable_stops_serve_naming_the_key() {
    let text = "[[serve.notify.targets]]\nname = \"p\"\nkind = \"pagerduty\"\nrouting_key_env = \"WARROOM_TEST_SURELY_UNSET_KEY\"\n";
    let cfg = load_config(text).unwrap();
    let opts = ServeOptions { notify: cfg.serve.notify, ..server_support::options(Limits::unlimited()) };
    let store = server::open_store("sqlite::memory:").await.unwrap();
    let err = server::start(opts, store).await.err().expect("serve must refuse").to_string();
    assert!(err.contains("config.toml:1:"), "{err}");
    assert!(err.contains("`routing_key_env`"), "{err}");
    assert!(err.contains("WARROOM_TEST_SURELY_UNSET_KEY"), "{err}");
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let text = "[[serve.notify.targets]]\nname = \"w\"\nkind = \"webhook\"\nurl = \"https://hooks.example/T000/B000/XXXXsecretpath\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n\n[[serve.notify.targets]]\nname = \"m\"\nkind = \"matrix\"\nurl = \"https://m.example\"\nroom = \"!r:m.example\"\ntoken = \"syt_sekrit_token\"\n\n[[serve.notify.targets]]\nname = \"p\"\nkind = \"pagerduty\"\nrouting_key = \"R0UT1NGKEY\"\n";
    let cfg = load_config(text).unwrap();
    let shown =
        format!("{cfg:?} {:?}", ServeOptions { notify: cfg.serve.notify.clone(), ..Default::default() });
    for secret in ["XXXXsecretpath", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "syt_sekrit_token", "R0UT1NGKEY"] {
        assert!(!shown.contains(secret), "{secret} shows in {shown}");
    }
    assert!(shown.contains("hooks.example"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_teams_matrix_and_pagerduty_get_their_documented_formats() {
    if !python_has(&["json"], "slack_teams_matrix_and_pagerduty_get_their_documented_formats") {
        return;
    }
    let (slack, teams, matrix, pd) = (
        Receiver::http("200", None),
        Receiver::http("202", None),
        Receiver::http("200", None),
        Receiver::http("202", None),
    );
    let config = format!(
        "{FAST}
[[serve.notify.targets]]
name = \"ops-slack\"
kind = \"slack\"
url = \"{}/services/T0/B0/abc\"

[[serve.notify.targets]]
name = \"teams\"
kind = \"teams\"
url = \"{}/workflows/xyz\"

[[serve.notify.targets]]
name = \"matrix\"
kind = \"matrix\"
url = \"{}\"
room = \"!ops:example.org\"
token = \"syt_test_token\"

[[serve.notify.targets]]
name = \"pager\"
kind = \"pagerduty\"
url = \"{}/v2/enqueue\"
routing_key = \"R0UTING\"

[[serve.notify.routes]]
on = [\"declared\", \"comms_sent\", \"status_changed\"]
severities = [\"sev-1\"]
targets = [\"ops-slack\", \"teams\", \"matrix\", \"pager\"]
",
        slack.url(),
        teams.url(),
        matrix.url(),
        pd.url()
    );
    let s = serve(&config).await;
    // A SEV-3 matches no route: nothing goes out for it.
    let quiet = declare(&s.store, "SEV-3", "Slow reports").await;
    let inc = declare(&s.store, "SEV-1", "Checkout down").await;
    append(&s.store, &inc, comms("We are investigating checkout failures.")).await;

    let got = slack.wait_for(2, "slack").await;
    let first = body_json(&got[0]);
    assert_eq!(got[0]["method"], "POST");
    assert_eq!(got[0]["path"], "/services/T0/B0/abc");
    assert!(first["text"].as_str().unwrap().contains("SEV-1 declared: Checkout down"), "{first}");
    assert_eq!(first["blocks"][0]["type"], "header");
    let second = body_json(&got[1]);
    assert!(second["text"].as_str().unwrap().contains("We are investigating checkout failures."), "{second}");
    assert!(second["blocks"].as_array().unwrap().iter().any(|b| b["type"] == "section"));

    let got = teams.wait_for(2, "teams").await;
    let card = body_json(&got[0]);
    assert_eq!(card["type"], "message");
    assert_eq!(card["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive");
    assert_eq!(card["attachments"][0]["content"]["type"], "AdaptiveCard");
    assert_eq!(card["attachments"][0]["content"]["version"], "1.4");
    assert!(card["attachments"][0]["content"]["body"][0]["text"].as_str().unwrap().contains("Checkout down"));

    let got = matrix.wait_for(2, "matrix").await;
    for (i, req) in got.iter().enumerate() {
        assert_eq!(req["method"], "PUT");
        let path = req["path"].as_str().unwrap();
        let prefix = "/_matrix/client/v3/rooms/%21ops%3Aexample.org/send/m.room.message/";
        assert!(path.starts_with(prefix), "{path}");
        assert!(path.len() > prefix.len() + 8, "a txnId: {path}");
        assert_eq!(req["headers"]["authorization"], "Bearer syt_test_token");
        let b = body_json(req);
        assert_eq!(b["msgtype"], "m.text", "{i}");
    }
    assert_ne!(got[0]["path"], got[1]["path"], "one txnId per message");

    let got = pd.wait_for(2, "pagerduty").await;
    let trig = body_json(&got[0]);
    assert_eq!(trig["routing_key"], "R0UTING");
    assert_eq!(trig["event_action"], "trigger");
    assert_eq!(trig["dedup_key"], inc.as_str());
    assert_eq!(trig["payload"]["severity"], "critical");
    assert_eq!(trig["payload"]["source"], "warroom");
    assert!(trig["payload"]["summary"].as_str().unwrap().contains("Checkout down"));

    // Resolving resolves the PagerDuty incident (same dedup_key).
    let p = warroom::assets::load_practice(None, None).unwrap();
    s.store
        .append(
            ctx(&p),
            &inc,
            vec![NewEvent::now(EventBody::StatusChanged { status: warroom::domain::Status::Resolved })],
        )
        .await
        .unwrap();
    let got = pd.wait_for(3, "pagerduty resolve").await;
    let res = body_json(&got[2]);
    assert_eq!(res["event_action"], "resolve");
    assert_eq!(res["dedup_key"], inc.as_str());

    // Every attempt is in the incident's log.
    let d = wait_deliveries(&s.store, &inc, "all delivered", |d| {
        ["ops-slack", "teams", "matrix"].iter().all(|t| oks(d, t) == 3) && oks(d, "pager") == 3
    })
    .await;
    assert!(d.iter().any(|b| b.summary() == "update posted to ops-slack"), "{d:#?}");
    assert!(deliveries(&s.store, &quiet).await.is_empty());
    assert_eq!(slack.got().len(), 3, "nothing for the SEV-3");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_as_the_standard_webhooks_library_verifies() {
    if !python_has(&["standardwebhooks"], "webhooks_are_signed_as_the_standard_webhooks_library_verifies") {
        return;
    }
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let hook = Receiver::http("200", Some(secret));
    let config = format!(
        "{FAST}
[[serve.notify.targets]]
name = \"hook\"
kind = \"webhook\"
url = \"{}/in\"
secret = \"{secret}\"

[[serve.notify.routes]]
on = [\"declared\", \"severity_changed\", \"commander_changed\", \"comms_sent\"]
targets = [\"hook\"]
",
        hook.url()
    );
    let s = serve(&config).await;
    let inc = declare(&s.store, "SEV-2", "Checkout slow").await;
    append(&s.store, &inc, EventBody::SeverityChanged { severity: "SEV-1".into() }).await;
    append(&s.store, &inc, EventBody::RoleAssigned { role: "commander".into(), holder: "ana".into() }).await;
    append(&s.store, &inc, EventBody::entry(warroom::domain::EventKind::Note, "not routed").unwrap()).await;
    let c = append(&s.store, &inc, comms("Mitigation under way.")).await;
    let got = hook.wait_for(4, "webhooks").await;
    for req in &got {
        assert_eq!(req["verified"], true, "{req:#?}");
        assert!(req["headers"]["webhook-id"].as_str().unwrap().starts_with("msg_"));
    }
    let types: Vec<String> = got.iter().map(|r| body_json(r)["type"].as_str().unwrap().to_string()).collect();
    assert_eq!(
        types,
        [
            "incident.declared",
            "incident.severity_changed",
            "incident.commander_changed",
            "incident.comms_sent"
        ]
    );
    let last = body_json(&got[3]);
    assert_eq!(last["data"]["incident"]["id"], inc.as_str());
    assert_eq!(last["data"]["incident"]["severity"], "SEV-1");
    assert_eq!(last["data"]["event"]["id"], c.id.to_string());
    assert_eq!(last["data"]["text"], "Mitigation under way.");
    assert!(got[3]["headers"]["webhook-id"].as_str().unwrap().contains(&c.id.simple().to_string()));
    wait_deliveries(&s.store, &inc, "4 ok", |d| oks(d, "hook") == 4).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_reaches_a_real_smtp_server_as_plain_text() {
    if !python_has(&["aiosmtpd"], "email_reaches_a_real_smtp_server_as_plain_text") {
        return;
    }
    let smtp = Receiver::smtp();
    let config = format!(
        "{FAST}
[[serve.notify.targets]]
name = \"mail\"
kind = \"email\"
host = \"127.0.0.1\"
port = {}
tls = \"none\"
from = \"warroom@example.org\"
to = [\"oncall@example.org\", \"lead@example.org\"]

[[serve.notify.routes]]
on = [\"comms_sent\"]
targets = [\"mail\"]
",
        smtp.port
    );
    let s = serve(&config).await;
    let inc = declare(&s.store, "SEV-2", "Login errors").await;
    append(&s.store, &inc, comms("Logins fail for 20% of users.\nNext update in 30 minutes.")).await;
    let got = smtp.wait_for(1, "mail").await;
    assert_eq!(got[0]["from"], "warroom@example.org");
    assert_eq!(got[0]["to"], serde_json::json!(["oncall@example.org", "lead@example.org"]));
    let data = got[0]["data"].as_str().unwrap();
    assert!(data.contains("Subject: INC-1 SEV-2 update: Login errors"), "{data}");
    assert!(data.to_ascii_lowercase().contains("content-type: text/plain"), "{data}");
    assert!(data.contains("Logins fail for 20% of users."), "{data}");
    let d = wait_deliveries(&s.store, &inc, "mail ok", |d| oks(d, "mail") == 1).await;
    assert!(matches!(&d[0], EventBody::Delivery { status: Some(250), .. }), "{d:#?}");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_pages_each_level_once_across_restarts() {
    if !python_has(&["json"], "escalation_pages_each_level_once_across_restarts") {
        return;
    }
    let pager = Receiver::http("202", None);
    // The default practice pages `on-call` at L1 (0 minutes) and tells `on-call` and
    // `team-lead` of a SEV-2; `team-lead` is not configured here, so it is skipped.
    let config = format!(
        "{FAST}
[[serve.notify.targets]]
name = \"on-call\"
kind = \"pagerduty\"
url = \"{}/v2/enqueue\"
routing_key = \"ONCALL\"
",
        pager.url()
    );
    let cfg = load_config(&config).unwrap();
    let opts =
        || ServeOptions { notify: cfg.serve.notify.clone(), ..server_support::options(Limits::unlimited()) };
    let s = server_support::start(opts()).await;
    let inc = declare(&s.store, "SEV-2", "Queue backlog").await;
    let got = pager.wait_for(2, "declared + L1").await;
    let summaries: Vec<String> =
        got.iter().map(|r| body_json(r)["payload"]["summary"].as_str().unwrap().to_string()).collect();
    assert!(summaries.iter().any(|s| s.contains("declared")), "{summaries:?}");
    assert!(summaries.iter().any(|s| s.contains("escalated to L1")), "{summaries:?}");
    let escalated =
        |evs: &[Event]| evs.iter().filter(|e| matches!(e.body, EventBody::Escalated { .. })).count();
    let snap = s.store.incident(&inc, true).await.unwrap().unwrap();
    assert_eq!(escalated(snap.events.as_ref().unwrap()), 1);

    // A restart (and many scans) later: still one escalation and one page for L1.
    let url = s.url.clone();
    let dir = s.dir;
    s.running.unwrap().shutdown().await.unwrap();
    let store = server::open_store(&url).await.unwrap();
    let again = server::start(opts(), store.clone()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let snap = store.incident(&inc, true).await.unwrap().unwrap();
    assert_eq!(escalated(snap.events.as_ref().unwrap()), 1);
    assert_eq!(pager.got().len(), 2, "{:#?}", pager.got());
    again.shutdown().await.unwrap();
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_sends_through_one_target_and_says_how_it_went() {
    if !python_has(&["json"], "notify_test_sends_through_one_target_and_says_how_it_went") {
        return;
    }
    let (good, bad) = (Receiver::http("200", None), Receiver::http("404", None));
    let env = crate::bin_support::Env::new();
    std::fs::write(
        env.config.join("config.toml"),
        format!(
            "[[serve.notify.targets]]\nname = \"ops-slack\"\nkind = \"slack\"\nurl = \"{}/hook\"\n\n\
             [[serve.notify.targets]]\nname = \"teams\"\nkind = \"teams\"\nurl = \"{}/wf\"\n\n\
             [[serve.notify.targets]]\nname = \"pager\"\nkind = \"pagerduty\"\nrouting_key_env = \"WARROOM_TEST_UNSET_PD\"\n",
            good.url(),
            bad.url()
        ),
    )
    .unwrap();
    let (out, _) = env.ok(&["notify", "test", "ops-slack"]);
    assert_eq!(out.trim(), "warroom: sent a test message to ops-slack (slack) (200)");
    let got = good.wait_for(1, "the test message").await;
    assert!(body_json(&got[0])["text"].as_str().unwrap().contains("test message to ops-slack"));

    let o = env.run(&["notify", "test", "teams"]);
    assert!(!o.status.success());
    let err = crate::bin_support::text(&o.stderr);
    assert!(err.contains("the test message to teams (teams) failed (404): Not Found"), "{err}");

    let o = env.run(&["notify", "test", "nope"]);
    assert!(!o.status.success());
    let err = crate::bin_support::text(&o.stderr);
    assert!(err.contains("no notification target named `nope`"), "{err}");
    assert!(err.contains("targets: ops-slack, teams, pager"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breached_timer_is_sent_once_per_deadline() {
    if !python_has(&["json"], "a_breached_timer_is_sent_once_per_deadline") {
        return;
    }
    let slack = Receiver::http("200", None);
    let config = format!(
        "{FAST}
[[serve.notify.targets]]
name = \"ops-slack\"
kind = \"slack\"
url = \"{}/hook\"

[[serve.notify.routes]]
on = [\"timer_breached\"]
targets = [\"ops-slack\"]
",
        slack.url()
    );
    let s = serve(&config).await;
    // Declared 20 minutes ago: the SEV-1 response target (15 minutes) has passed.
    let p = warroom::assets::load_practice(None, None).unwrap();
    let body = EventBody::Declared {
        title: "Checkout down".into(),
        severity: "SEV-1".into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    };
    let at = chrono::Utc::now() - chrono::Duration::minutes(20);
    let inc = s.store.declare(ctx(&p), NewEvent::at(at, body)).await.unwrap().incident.id;
    let got = slack.wait_for(1, "the breach").await;
    assert!(body_json(&got[0])["text"].as_str().unwrap().contains("response target breached"), "{got:#?}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(slack.got().len(), 1, "once per deadline");
    wait_deliveries(&s.store, &inc, "recorded", |d| oks(d, "ops-slack") == 1).await;
    s.shutdown().await;
}

#[test]
fn the_war_room_header_shows_the_latest_delivery() {
    use crate::tui_fixture::{INC, ev, render, room};
    use warroom::client::SyncMsg;
    use warroom::tui::action::Action;
    use warroom::tui::state::update;
    let delivery = |ok: bool, target: &str, status: u16, retry: Option<u64>| EventBody::Delivery {
        target: target.into(),
        ok,
        about: "comms_sent".into(),
        status: Some(status),
        error: if ok { String::new() } else { "Not Found".into() },
        attempt: 1,
        retry_in_secs: retry,
        gave_up: false,
        cause: None,
    };
    let mut s = room();
    let events = vec![ev(15, 40, "warroom", delivery(true, "ops-slack", 200, None))];
    update(&mut s, Action::Net(SyncMsg::Timeline { incident: INC.into(), events }));
    let screen = render(&s, "default", 200, 50).backend().to_string();
    assert!(screen.contains("update posted to ops-slack 09:52"), "{screen}");
    let events = vec![ev(16, 41, "warroom", delivery(false, "teams", 404, Some(120)))];
    update(&mut s, Action::Net(SyncMsg::Timeline { incident: INC.into(), events }));
    let screen = render(&s, "default", 200, 50).backend().to_string();
    assert!(screen.contains("\u{2715} teams: 404 Not Found, retrying in 2m"), "{screen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_host_is_not_followed() {
    if !python_has(&["json"], "a_redirect_to_another_host_is_not_followed") {
        return;
    }
    let elsewhere = Receiver::http("200", None);
    let redirecting = Receiver::http(&format!("307:{}/stolen", elsewhere.url()), None);
    let config = format!(
        "{FAST}give_up_after_secs = 1
[[serve.notify.targets]]
name = \"ops-slack\"
kind = \"slack\"
url = \"{}/hook\"

[[serve.notify.routes]]
on = [\"declared\"]
targets = [\"ops-slack\"]
",
        redirecting.url()
    );
    let s = serve(&config).await;
    let inc = declare(&s.store, "SEV-2", "Checkout slow").await;
    let d = wait_deliveries(&s.store, &inc, "refused", |d| !d.is_empty()).await;
    match &d[0] {
        EventBody::Delivery { ok: false, status: Some(307), error, .. } => {
            assert_eq!(error, "redirected to another host (not followed)")
        }
        other => panic!("{other:#?}"),
    }
    assert!(elsewhere.got().is_empty(), "{:#?}", elsewhere.got());
    s.shutdown().await;
}

#[test]
fn serve_stops_on_a_bad_target_naming_file_line_and_key() {
    let env = crate::bin_support::Env::new();
    let file = env.config.join("config.toml");
    std::fs::write(
        &file,
        "[[serve.notify.targets]]\nname = \"x\"\nkind = \"telegram\"\nurl = \"https://t.example\"\n",
    )
    .unwrap();
    let o = env.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(!o.status.success());
    let err = crate::bin_support::text(&o.stderr);
    assert!(err.contains(&format!("{}:3: key `kind`", file.display())), "{err}");
    assert!(err.contains("unknown variant `telegram`"), "{err}");
    // A route at a severity the scheme does not have stops it too.
    std::fs::write(
        &file,
        "[[serve.notify.targets]]\nname = \"x\"\nkind = \"slack\"\nurl = \"https://t.example\"\n\n\
         [[serve.notify.routes]]\non = [\"declared\"]\nseverities = [\"SEV-9\"]\ntargets = [\"x\"]\n",
    )
    .unwrap();
    let o = env.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(!o.status.success());
    let err = crate::bin_support::text(&o.stderr);
    assert!(
        err.contains(&format!("{}:6: key `severities`: `SEV-9` is not a level", file.display())),
        "{err}"
    );
}

#[test]
fn bad_worker_timing_names_its_line() {
    for (text, line, key) in [
        ("[serve.notify]\ntimeout_secs = 0\n", 2, "timeout_secs"),
        ("[serve.notify]\ntimeout_secs = 30\nlease_secs = 10\n", 3, "lease_secs"),
        ("[serve]\nlisten = \"127.0.0.1:1\"\n\n[serve.notify]\npoll_ms = 0\n", 5, "poll_ms"),
    ] {
        let err = load_config(text).unwrap_err();
        assert!(err.starts_with(&format!("<dir>/config.toml:{line}: key `{key}`")), "{text}\n=> {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_post_mortem_lists_what_reached_people_and_what_never_did() {
    if !python_has(&["json"], "the_post_mortem_lists_what_reached_people_and_what_never_did") {
        return;
    }
    let (good, dead) = (Receiver::http("200", None), Receiver::http("500", None));
    let config = format!(
        "{FAST}give_up_after_secs = 1
[[serve.notify.targets]]
name = \"ops-slack\"
kind = \"slack\"
url = \"{}/hook\"

[[serve.notify.targets]]
name = \"teams\"
kind = \"teams\"
url = \"{}/wf\"

[[serve.notify.routes]]
on = [\"comms_sent\"]
targets = [\"ops-slack\", \"teams\"]
",
        good.url(),
        dead.url()
    );
    let s = serve(&config).await;
    let inc = declare(&s.store, "SEV-2", "Checkout slow").await;
    append(&s.store, &inc, comms("Investigating.")).await;
    wait_deliveries(&s.store, &inc, "ok and given up", |d| {
        oks(d, "ops-slack") == 1 && d.iter().any(|b| matches!(b, EventBody::Delivery { gave_up: true, .. }))
    })
    .await;
    let snap = s.store.incident(&inc, true).await.unwrap().unwrap();
    let p = warroom::assets::load_practice(None, None).unwrap();
    let md = warroom::domain::postmortem::render(&p, &snap.incident, snap.events.as_ref().unwrap());
    assert!(md.contains("Notification: update posted to ops-slack"), "{md}");
    assert!(md.contains("Notification: \u{2715} teams: 500"), "{md}");
    assert!(md.contains("gave up after"), "{md}");
    assert!(!md.contains("retrying in"), "retries stay out of the post-mortem:\n{md}");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_over_starttls_and_tls_trusts_the_configured_ca() {
    if !python_has(&["aiosmtpd"], "email_over_starttls_and_tls_trusts_the_configured_ca") {
        return;
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".into()]).unwrap().self_signed(&key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let (starttls, tls) = (
        Receiver::smtp_tls("starttls", &cert_file, &key_file),
        Receiver::smtp_tls("tls", &cert_file, &key_file),
    );
    let target = |name: &str, port: u16, mode: &str, ca: bool| {
        let ca = if ca { format!("ca_file = \"{}\"\n", cert_file.display()) } else { String::new() };
        format!(
            "[[serve.notify.targets]]\nname = \"{name}\"\nkind = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\n\
             tls = \"{mode}\"\n{ca}from = \"warroom@example.org\"\nto = [\"oncall@example.org\"]\n\n"
        )
    };
    let config = format!(
        "{FAST}\n{}{}{}[[serve.notify.routes]]\non = [\"comms_sent\"]\ntargets = [\"starttls\", \"tls\", \"untrusted\"]\n",
        target("starttls", starttls.port, "starttls", true),
        target("tls", tls.port, "tls", true),
        // The same STARTTLS server without the CA: the certificate is refused, nothing is sent.
        target("untrusted", starttls.port, "starttls", false),
    );
    let s = serve(&config).await;
    let inc = declare(&s.store, "SEV-2", "Login errors").await;
    append(&s.store, &inc, comms("Logins fail for 20% of users.")).await;
    for (rx, what) in [(&starttls, "starttls"), (&tls, "tls")] {
        let got = rx.wait_for(1, what).await;
        assert_eq!(got[0]["encrypted"], true, "{what}");
        assert!(got[0]["data"].as_str().unwrap().contains("Logins fail for 20% of users."), "{what}");
    }
    let d = wait_deliveries(&s.store, &inc, "two sent, one refused", |d| {
        oks(d, "starttls") == 1
            && oks(d, "tls") == 1
            && d.iter()
                .any(|b| matches!(b, EventBody::Delivery { ok: false, target, .. } if target == "untrusted"))
    })
    .await;
    let refused = d.iter().find(|b| matches!(b, EventBody::Delivery { ok: false, .. })).unwrap();
    assert!(refused.summary().contains("untrusted"), "{}", refused.summary());
    assert_eq!(starttls.got().len(), 1, "nothing went over the untrusted connection");
    s.shutdown().await;
}

/// Item: the status-update timer resets when an update is DELIVERED. Without delivery events
/// (no target routed), recording `comms_sent` resets it as before; once the log holds a delivery
/// about a `comms_sent`, only the first successful delivery of each update does.
#[test]
fn the_update_timer_resets_when_an_update_is_delivered() {
    use chrono::TimeZone;
    use warroom::domain::timers::next_update_at;
    use warroom::domain::{Incident, apply};
    let practice = warroom::assets::load_practice(None, None).unwrap();
    let scheme = practice.scheme();
    let t0 = chrono::Utc.with_ymd_and_hms(2026, 11, 22, 14, 0, 0).unwrap();
    let min = chrono::Duration::minutes;
    let mut seq = 0u64;
    let mut ev = |at: i64, body: EventBody| {
        seq += 1;
        Event {
            seq,
            id: uuid::Uuid::from_u128(u128::from(seq)),
            incident: "INC-1".into(),
            author: "alice".into(),
            occurred_at: t0 + min(at),
            recorded_at: t0 + min(at),
            body,
        }
    };
    let declared = EventBody::Declared {
        title: "Checkout down".into(),
        severity: "SEV-2".into(),
        summary: String::new(),
        group_key: None,
        demo: false,
    };
    let comms = || EventBody::CommsSent { channel: "status".into(), text: "update".into(), template: None };
    let delivery = |ok: bool, target: &str| EventBody::Delivery {
        target: target.into(),
        ok,
        about: "comms_sent".into(),
        status: Some(if ok { 200 } else { 500 }),
        error: String::new(),
        attempt: 1,
        retry_in_secs: None,
        gave_up: !ok,
        cause: None,
    };
    let every = min(30);

    // No targets: recording resets the timer (teams without delivery are not stuck).
    let mut plain = Incident::default();
    apply(&mut plain, &ev(0, declared.clone())).unwrap();
    apply(&mut plain, &ev(10, comms())).unwrap();
    assert_eq!(next_update_at(scheme, &plain), Some(t0 + min(10) + every));

    // Routed: an update that never got through leaves the timer where the last delivered one
    // (here: the declaration) set it.
    let mut inc = Incident::default();
    apply(&mut inc, &ev(0, declared)).unwrap();
    apply(&mut inc, &ev(10, comms())).unwrap();
    apply(&mut inc, &ev(11, delivery(false, "slack"))).unwrap();
    assert_eq!(next_update_at(scheme, &inc), Some(t0 + every), "a failed delivery does not reset");
    // The next update is recorded, then delivered: the timer runs from the delivery.
    apply(&mut inc, &ev(20, comms())).unwrap();
    assert_eq!(next_update_at(scheme, &inc), Some(t0 + every), "recording alone does not reset");
    apply(&mut inc, &ev(25, delivery(true, "slack"))).unwrap();
    assert_eq!(next_update_at(scheme, &inc), Some(t0 + min(25) + every));
    // The same update reaching a second target later does not move it again.
    apply(&mut inc, &ev(27, delivery(true, "teams"))).unwrap();
    assert_eq!(next_update_at(scheme, &inc), Some(t0 + min(25) + every));
    // Nor does a delivery about something else.
    apply(&mut inc, &ev(28, comms())).unwrap();
    let mut other = delivery(true, "slack");
    if let EventBody::Delivery { about, .. } = &mut other {
        *about = "declared".into();
    }
    apply(&mut inc, &ev(29, other)).unwrap();
    assert_eq!(next_update_at(scheme, &inc), Some(t0 + min(25) + every));
    apply(&mut inc, &ev(31, delivery(true, "slack"))).unwrap();
    assert_eq!(next_update_at(scheme, &inc), Some(t0 + min(31) + every));
}
