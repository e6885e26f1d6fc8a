//! `warroom run`, `warroom report` and `warroom export --at` through the real binary against a
//! real `warroom serve` child.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_warroom");

struct Env {
    _dir: tempfile::TempDir,
    data: PathBuf,
    url: String,
    token: String,
    server: Child,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn base(data: &PathBuf) -> Command {
    let mut c = Command::new(BIN);
    c.env("WARROOM_DATA_DIR", data)
        .env("WARROOM_CONFIG_DIR", data.join("config"))
        .env_remove("WARROOM_SERVER")
        .env_remove("WARROOM_TOKEN")
        .stdin(Stdio::null());
    c
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut server = base(&data)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();
        let o =
            base(&data).args(["token", "create", "--name", "alice", "--role", "commander"]).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let token = String::from_utf8_lossy(&o.stdout).trim().to_string();
        Env { _dir: dir, data, url, token, server }
    }

    fn run(&self, args: &[&str]) -> Output {
        base(&self.data.join("cli"))
            .env("WARROOM_SERVER", &self.url)
            .env("WARROOM_TOKEN", &self.token)
            .args(args)
            .output()
            .unwrap()
    }

    fn export(&self, id: &str) -> Value {
        let o = self.run(&["export", id, "--format", "json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

fn last_text(doc: &Value) -> String {
    doc["events"].as_array().unwrap().last().unwrap()["text"].as_str().unwrap().to_string()
}

#[test]
fn run_records_success_failure_and_masks_secrets() {
    let env = Env::new();
    let o = env.run(&["declare", "--severity", "SEV-2", "--title", "Checkout latency"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "INC-1");

    // Output passes through untouched; the exit status is the command's.
    let o = env.run(&[
        "run",
        "-i",
        "INC-1",
        "--note",
        "clear the cache",
        "--",
        "sh",
        "-c",
        "echo restarted; exit 0",
    ]);
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "restarted\n");
    let doc = env.export("INC-1");
    let entry = doc["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(entry["kind"], "action");
    let text = entry["text"].as_str().unwrap();
    assert!(text.contains("sh -c") && text.contains("exit 0") && text.contains("clear the cache"), "{text}");

    let o = env.run(&["run", "-i", "INC-1", "--", "sh", "-c", "exit 3"]);
    assert_eq!(o.status.code(), Some(3), "warroom exits with the command's status");
    assert!(last_text(&env.export("INC-1")).contains("exit 3"));

    let o = env.run(&["run", "-i", "INC-1", "--kind", "finding", "--", "true", "--password", "hunter2"]);
    assert!(o.status.success());
    let doc = env.export("INC-1");
    let entry = doc["events"].as_array().unwrap().last().unwrap();
    assert_eq!(entry["kind"], "finding");
    let text = entry["text"].as_str().unwrap();
    assert!(!text.contains("hunter2") && text.contains("--password"), "{text}");

    // A command that cannot start logs nothing and says why.
    let before = env.export("INC-1")["events"].as_array().unwrap().len();
    let o = env.run(&["run", "-i", "INC-1", "--", "/nonexistent/tool"]);
    assert_eq!(o.status.code(), Some(127));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("cannot run").count(), 1, "said once: {err}");
    assert_eq!(env.export("INC-1")["events"].as_array().unwrap().len(), before);

    // Without $USER and $LOGNAME (cron, systemd, env -i) the entry names the account.
    let o = base(&env.data.join("cli"))
        .env("WARROOM_SERVER", &env.url)
        .env("WARROOM_TOKEN", &env.token)
        .env_remove("USER")
        .env_remove("LOGNAME")
        .args(["run", "-i", "INC-1", "--", "true"])
        .output();
    assert!(o.unwrap().status.success());
    let account = std::process::Command::new("id").arg("-un").output().unwrap();
    let account = String::from_utf8_lossy(&account.stdout).trim().to_string();
    let text = last_text(&env.export("INC-1"));
    assert!(text.contains(&format!(" as {account}:")), "{account}: {text}");
}

#[test]
fn report_and_export_at() {
    let env = Env::new();
    env.run(&["declare", "--severity", "SEV-1", "--title", "Database down"]);
    let o = env.run(&["log", "-i", "INC-1", "first finding"]);
    assert!(o.status.success());
    let mid = chrono::Utc::now();
    std::thread::sleep(std::time::Duration::from_millis(20));
    env.run(&["log", "-i", "INC-1", "later finding"]);

    let o = env.run(&["export", "INC-1", "--at", &mid.to_rfc3339()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let at: Value = serde_json::from_slice(&o.stdout).unwrap();
    let known = at["events"].as_array().unwrap();
    assert_eq!(known.len(), 2, "declared + first finding were recorded by then: {at}");
    assert_eq!(known[1]["text"], "first finding", "{at}");
    assert_eq!(at["incident"]["revision"], 2);
    // The console's forms: a relative time, and HH:MM (today, UTC).
    let o = env.run(&["export", "INC-1", "--at", "-0m"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let now: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(now["events"].as_array().unwrap().len(), 3, "{now}");
    let o = env.run(&["export", "INC-1", "--at", "-1h"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("had not been declared"), "{o:?}");
    // HH:MM is accepted (whether INC-1 existed at the start of this minute depends on the clock).
    let hhmm = chrono::Utc::now().format("%H:%M").to_string();
    let o = env.run(&["export", "INC-1", "--at", &hhmm]);
    assert_ne!(o.status.code(), Some(2), "HH:MM is a usage error: {o:?}");
    let o = env.run(&["export", "INC-1", "--at", "-99999999999h"]);
    assert_eq!(o.status.code(), Some(2), "a usage error, not a panic: {o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("too far back"), "{o:?}");
    let o = env.run(&["report", "--since", "100000000d"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("too far back"), "{o:?}");
    let o = env.run(&["report", "--since", "90m"]);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("90 minutes from"), "{o:?}");
    let o = env.run(&["export", "INC-1", "--at", "2000-01-01T00:00:00Z"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("had not been declared"));

    let o = env.run(&["report", "--since", "7d", "--format", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["all"]["incidents"], 1, "{r}");
    let o = env.run(&["report", "--format", "markdown"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("SEV-1"));
    let o = env.run(&["report", "--since", "soon"]);
    assert!(!o.status.success());

    // `log --at` takes the same forms: a back-dated entry 5 minutes ago.
    let before = chrono::Utc::now();
    let o = env.run(&["log", "-i", "INC-1", "--at", "-5m", "back-dated"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let last = env.export("INC-1")["events"].as_array().unwrap().last().unwrap().clone();
    let occurred: chrono::DateTime<chrono::Utc> = last["occurred_at"].as_str().unwrap().parse().unwrap();
    let back = before - occurred;
    // Five minutes before the moment the command read the clock (a little after `before`).
    assert!(back > chrono::Duration::seconds(240) && back <= chrono::Duration::seconds(300), "{last}");
}
