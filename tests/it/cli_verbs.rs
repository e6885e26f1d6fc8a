//! The verbs for scripts and runbooks (`ls`, `show`, `status`, `severity`, `ack`, `assign`,
//! `release`, `check`, `comms`, `action-item`, `playbook attach`) through the real binary
//! against a real `warroom serve` child: text and JSON output, exit statuses, a stale guarded
//! change refused with what changed in between, writes queued while the server is down (exit
//! 75) and delivered once it is back, and unknown names as clear "not found" errors.

use std::process::Output;

use serde_json::Value;

use crate::bin_support::{Env, Server, text};

const QUEUED: i32 = 75;
const NOT_FOUND: i32 = 3;
const REFUSED: i32 = 4;
const STALE: i32 = 5;
const UNREACHABLE: i32 = 6;

/// A served env: a `warroom serve` child on `listen`, and a commander's token.
struct Served {
    env: Env,
    listen: String,
    url: String,
    token: String,
    server: Option<Server>,
}

impl Served {
    /// Serves on a free port (kept, so that the server can come back on it).
    fn new() -> Served {
        let env = Env::new();
        let (child, url) = env.serve("127.0.0.1:0");
        let listen = url.trim_start_matches("http://").to_string();
        let o = env.run(&["token", "create", "--name", "alice", "--role", "commander"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let token = text(&o.stdout).trim().to_string();
        Served { env, listen, url, token, server: Some(Server(child)) }
    }

    /// `warroom <args>` with the server and token given after the command (as scripts do).
    fn run(&self, args: &[&str]) -> Output {
        self.env.cmd().args(args).args(["--server", &self.url, "--token", &self.token]).output().unwrap()
    }

    /// Runs and expects exit status `code`; returns (stdout, stderr).
    fn expect(&self, code: i32, args: &[&str]) -> (String, String) {
        let o = self.run(args);
        let (out, err) = (text(&o.stdout), text(&o.stderr));
        assert_eq!(o.status.code(), Some(code), "warroom {args:?}:\nstdout: {out}\nstderr: {err}");
        (out, err)
    }

    fn ok(&self, args: &[&str]) -> String {
        self.expect(0, args).0
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }

    fn show(&self, id: &str) -> Value {
        self.json(&["show", id, "--format", "json"])
    }

    fn stop(&mut self) {
        self.server = None;
    }

    fn restart(&mut self) {
        let (child, _) = self.env.serve(&self.listen);
        self.server = Some(Server(child));
    }
}

fn declare(s: &Served, sev: &str, title: &str) -> String {
    s.ok(&["declare", "--severity", sev, "--title", title]).trim().to_string()
}

#[test]
fn ls_and_show_in_text_and_json() {
    let s = Served::new();
    let s1 = declare(&s, "SEV-3", "Slow search");
    let s2 = declare(&s, "SEV-1", "Checkout down");
    let s3 = declare(&s, "SEV-2", "Old thing");
    s.ok(&["status", &s3, "resolved"]);

    // Text: a header, aligned columns, most severe first, resolved ones only with a flag.
    let out = s.ok(&["ls"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("ID ") && lines[0].contains("STATUS") && lines[0].ends_with("TITLE"),
        "{out}"
    );
    assert!(lines[1].starts_with(&s2) && lines[1].ends_with("Checkout down"), "{out}");
    assert!(lines[2].starts_with(&s1), "{out}");
    for col in ["SEV", "STATUS", "TITLE"] {
        let at = lines[0].find(col).unwrap();
        assert!(lines[1..].iter().all(|l| l[at - 2..at].trim().is_empty()), "{col} is not aligned:\n{out}");
    }
    assert!(!out.contains("Old thing"), "{out}");
    let out = s.ok(&["ls", "--resolved"]);
    assert!(out.lines().last().unwrap().contains("Old thing") && out.contains("resolved"), "{out}");

    // The client options also go before the command, as for every other command.
    let o = s.env.cmd().args(["--server", &s.url, "--token", &s.token, "ls", "--resolved"]).output().unwrap();
    assert_eq!(text(&o.stdout), out);

    let doc = s.json(&["ls", "--format", "json"]);
    let ids: Vec<&str> =
        doc["incidents"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [s2.as_str(), s1.as_str()]);
    assert_eq!(doc["incidents"][0]["open"], true);
    assert_eq!(doc["incidents"][0]["severity"], "SEV-1");
    let doc = s.json(&["ls", "--all", "--format", "json"]);
    let old = doc["incidents"].as_array().unwrap().iter().find(|i| i["id"] == s3.as_str()).unwrap().clone();
    assert_eq!(old["open"], false);
    assert_eq!(old["status"], "resolved");

    // show: facts, roles, numbered checklist items, timeline.
    s.ok(&["assign", &s2, "IC", "alice"]);
    s.ok(&["check", &s2, "1"]);
    let out = s.ok(&["show", &s2]);
    assert!(
        out.starts_with(&format!("{s2}  SEV-1 (Critical)  declared  revision 3\nCheckout down\n")),
        "{out}"
    );
    assert!(out.contains("Roles\n  IC    commander      alice (since"), "{out}");
    assert!(out.contains("Checklists\n"), "{out}");
    assert!(out.contains("    1 [x] ") && out.contains("    2 [ ] "), "{out}");
    assert!(out.contains("Timeline (latest 3 of 3)") && out.contains("alice is commander"), "{out}");

    let doc = s.show(&s2);
    assert_eq!(doc["incident"]["id"], s2.as_str());
    assert_eq!(doc["incident"]["revision"], 3);
    assert_eq!(doc["roles"][0]["id"], "commander");
    assert_eq!(doc["roles"][0]["holders"][0]["holder"], "alice");
    let first = &doc["checklists"][0]["items"][0];
    assert_eq!((first["n"].as_u64(), first["done"].as_bool()), (Some(1), Some(true)), "{doc}");
    assert_eq!(doc["timeline"].as_array().unwrap().len(), 3);
    assert_eq!(doc["timers"]["response"].as_str().unwrap().split(' ').next(), Some("due"), "{doc}");
}

#[test]
fn every_write_verb_records_what_the_console_would() {
    let s = Served::new();
    let id = declare(&s, "SEV-2", "Checkout latency");

    assert_eq!(s.ok(&["ack", &id]), format!("{id} #2: status -> acknowledged\n"));
    let (out, _) = s.expect(0, &["ack", &id]);
    assert!(out.starts_with(&format!("{id}: already acknowledged at ")), "{out}");
    assert_eq!(s.ok(&["status", &id, "investigating"]), format!("{id} #3: status -> investigating\n"));
    assert!(s.ok(&["status", &id, "investigating"]).contains("already so"));
    // Severity in any case, recorded as the scheme spells it.
    let doc = s.json(&["severity", &id, "sev-1", "--format", "json"]);
    assert_eq!((doc["changed"].as_bool(), doc["queued"].as_bool()), (Some(true), Some(false)), "{doc}");
    assert_eq!(doc["event"]["kind"], "severity_changed");
    assert_eq!(doc["event"]["severity"], "SEV-1");

    s.ok(&["assign", &id, "commander", "alice"]);
    s.ok(&["assign", &id, "TL", "bob"]);
    s.ok(&["release", &id, "tech_lead"]);
    let item = s.show(&id)["checklists"][0]["items"][1]["id"].as_str().unwrap().to_string();
    s.ok(&["check", &id, "2"]);
    assert!(s.ok(&["check", &id, &item]).contains("already so"));
    s.ok(&["check", &id, "2", "--undo"]);
    s.ok(&["check", &id, "first-15-minutes/ack"]);

    let out = s.ok(&[
        "action-item",
        "add",
        &id,
        "Alert on pool size",
        "--owner",
        "bob",
        "--priority",
        "h",
        "--due",
        "2026-12-24",
    ]);
    assert!(out.contains("action item: Alert on pool size (@bob) (id "), "{out}");
    s.ok(&["action-item", "done", &id, "1"]);
    s.ok(&["playbook", "attach", &id, "database-performance"]);
    assert!(s.ok(&["playbook", "attach", &id, "database-performance"]).contains("already so"));

    // comms: the draft alone, then sent (to the incident channel unless told).
    let draft = s.ok(&["comms", &id, "--template", "internal"]);
    assert!(draft.contains("Checkout latency") && draft.contains("SEV-1"), "{draft}");
    let doc = s.json(&["comms", &id, "-t", "customer", "--send", "--format", "json"]);
    assert_eq!(doc["sent"], true);
    assert_eq!(doc["event"]["kind"], "comms_sent");
    assert_eq!(doc["event"]["template"], "customer");
    assert!(doc["channel"].as_str().unwrap().starts_with("#incident-"), "{doc}");
    // An edited draft goes out as edited.
    let file = s.env.config.join("update.md");
    std::fs::write(&file, "All clear: checkout is back.\n").unwrap();
    let file = file.to_str().unwrap();
    s.ok(&["comms", &id, "-t", "resolution", "--send", "--channel", "status page", "--text-file", file]);

    let doc = s.show(&id);
    let inc = &doc["incident"];
    assert_eq!(inc["status"], "investigating");
    assert_eq!(inc["severity"], "SEV-1");
    assert_eq!(inc["roles"]["commander"][0]["holder"], "alice");
    assert!(inc["roles"].get("tech_lead").is_none(), "{inc}");
    assert_eq!(inc["checklist"][format!("first-15-minutes/{item}")]["done"], false);
    assert_eq!(inc["checklist"]["first-15-minutes/ack"]["done"], true);
    let ai = &doc["action_items"][0];
    assert_eq!(
        (ai["n"].as_u64(), ai["done"].as_bool(), ai["priority"].as_str()),
        (Some(1), Some(true), Some("high"))
    );
    assert_eq!(ai["due"], "2026-12-24");
    assert_eq!(inc["playbooks"][0], "database-performance");
    assert!(inc["last_comms_at"].is_string());
    let kinds: Vec<&str> =
        doc["timeline"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.last(), Some(&"comms_sent"));
    let last = doc["timeline"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (last["channel"].as_str(), last["text"].as_str()),
        (Some("status page"), Some("All clear: checkout is back.\n"))
    );
    // The playbook's steps are numbered after the incident's own checklists.
    assert!(
        doc["checklists"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"].as_str().unwrap().starts_with("database-performance."))
    );
}

#[test]
fn a_stale_severity_change_is_refused_and_says_what_changed() {
    let s = Served::new();
    let id = declare(&s, "SEV-2", "Checkout latency");
    // Someone else raises it (revision 2), while a script still works from revision 1.
    s.ok(&["severity", &id, "SEV-1"]);
    s.ok(&["log", "-i", &id, "still looking"]);
    let (out, err) = s.expect(STALE, &["severity", &id, "SEV-3", "--if-revision", "1"]);
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("severity changed at revision 2, after the revision 1"), "{err}");
    assert!(err.contains("it is now SEV-1"), "{err}");
    assert!(err.contains("changed in between (after revision 1):"), "{err}");
    assert!(err.contains("alice severity_changed severity -> SEV-1"), "{err}");
    assert!(err.contains("--if-revision 3"), "{err}");
    assert!(!err.contains("WARN"), "logs stay out of a script's stderr: {err}");
    assert_eq!(s.show(&id)["incident"]["severity"], "SEV-1");
    // Based on a revision at or after the last severity change, it goes through.
    s.ok(&["severity", &id, "SEV-3", "--if-revision", "2"]);
    assert_eq!(s.show(&id)["incident"]["severity"], "SEV-3");

    // The commander is guarded too; other roles are not.
    s.ok(&["assign", &id, "IC", "alice"]);
    let (_, err) = s.expect(STALE, &["assign", &id, "commander", "bob", "--if-revision", "4"]);
    assert!(err.contains("commander changed at revision 5") && err.contains("it is now alice"), "{err}");
    assert!(err.contains("alice role_assigned alice is commander"), "{err}");
    s.ok(&["assign", &id, "TL", "bob", "--if-revision", "1"]);
}

#[test]
fn writes_while_the_server_is_down_are_queued_and_delivered_later() {
    let mut s = Served::new();
    let id = declare(&s, "SEV-2", "Checkout latency");
    s.stop();

    let (out, err) = s.expect(QUEUED, &["check", &id, "first-15-minutes/ack"]);
    assert_eq!(out, format!("{id}: queued: [x] first-15-minutes/ack\n"));
    assert!(err.contains(&format!("cannot reach {}", s.url)) && err.contains("queued in"), "{err}");
    let doc: Value = serde_json::from_str(
        &s.expect(QUEUED, &["action-item", "add", &id, "Write the runbook", "--format", "json"]).0,
    )
    .unwrap();
    assert_eq!(doc["queued"], true);
    assert_eq!(doc["event"]["kind"], "action_item_added");
    // A guarded change needs the revision it is based on: not guessed while offline.
    let (_, err) = s.expect(UNREACHABLE, &["status", &id, "mitigated"]);
    assert!(err.contains("nothing queued") && err.contains("--if-revision"), "{err}");
    s.expect(QUEUED, &["status", &id, "mitigated", "--if-revision", "1"]);
    // What needs the server's answer says it cannot be reached.
    s.expect(UNREACHABLE, &["ls"]);
    s.expect(UNREACHABLE, &["show", &id]);
    let (_, err) = s.expect(UNREACHABLE, &["check", &id, "3"]);
    assert!(err.contains("checklist/item"), "{err}");

    s.restart();
    let doc = s.show(&id);
    let inc = &doc["incident"];
    assert_eq!(inc["status"], "mitigated", "{doc}");
    assert_eq!(inc["checklist"]["first-15-minutes/ack"]["done"], true);
    assert_eq!(doc["action_items"][0]["text"], "Write the runbook");
    assert_eq!(inc["revision"], 4);
}

#[test]
fn unknown_incidents_roles_and_items_are_clear_errors() {
    let s = Served::new();
    let id = declare(&s, "SEV-2", "Checkout latency");
    let cases: &[(&[&str], i32, &str)] = &[
        (&["show", "INC-9"], NOT_FOUND, "no incident INC-9"),
        (&["status", "INC-9", "mitigated"], NOT_FOUND, "no incident INC-9"),
        (&["check", "INC-9", "1"], NOT_FOUND, "no incident INC-9"),
        (
            &["assign", &id, "boss", "bob"],
            NOT_FOUND,
            "unknown role `boss` (roles: commander (IC), tech_lead (TL)",
        ),
        (&["check", &id, "999"], NOT_FOUND, "has no checklist item 999 (items 1 to"),
        (&["check", &id, "no-such-item"], NOT_FOUND, "has no checklist item `no-such-item`"),
        (&["check", &id, "nolist/ack"], NOT_FOUND, "unknown checklist `nolist`"),
        (&["action-item", "done", &id, "1"], NOT_FOUND, "has no action item `1` (0 action item(s)"),
        (&["playbook", "attach", &id, "nope"], NOT_FOUND, "unknown playbook `nope` (playbooks:"),
        (
            &["comms", &id, "-t", "nope"],
            NOT_FOUND,
            "unknown comms template `nope` (templates: internal-alert",
        ),
        (&["severity", &id, "SEV-9"], NOT_FOUND, "unknown severity `SEV-9`"),
        (&["release", &id, "tech_lead"], REFUSED, "nobody holds the role `tech_lead`"),
        // The older commands exit with the same statuses.
        (&["export", "INC-9"], NOT_FOUND, "no incident INC-9"),
        (&["declare", "--severity", "SEV-9", "--title", "x"], NOT_FOUND, "unknown severity `SEV-9`"),
    ];
    for (args, code, says) in cases {
        let (out, err) = s.expect(*code, args);
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // A viewer's token is refused by the server (4), and nothing waits in the outbox for it.
    let viewer = s.env.run(&["token", "create", "--name", "watcher", "--role", "viewer"]);
    let viewer = text(&viewer.stdout).trim().to_string();
    let o = s
        .env
        .cmd()
        .args(["status", &id, "mitigated", "--server", &s.url, "--token", &viewer])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(REFUSED), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("not allowed"), "{}", text(&o.stderr));
    // Usage errors are clap's (2).
    let o = s.env.run(&["status", &id, "done"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("[possible values: acknowledged, investigating"), "{}", text(&o.stderr));
}

#[test]
fn client_options_belong_to_the_commands_that_use_them() {
    let env = Env::new();
    let help = |args: &[&str]| {
        let o = env.cmd().args(args).arg("--help").output().unwrap();
        assert!(o.status.success(), "{args:?}");
        text(&o.stdout)
    };
    let serve = help(&["serve"]);
    for flag in ["--server", "--token", "--ca-file", "--insecure-http", "--demo", "--theme", "--open"] {
        assert!(!serve.contains(flag), "serve --help shows {flag}:\n{serve}");
    }
    for verb in [
        &["ls"][..],
        &["show"],
        &["status"],
        &["severity"],
        &["ack"],
        &["assign"],
        &["release"],
        &["check"],
        &["comms"],
        &["action-item", "add"],
        &["action-item", "done"],
        &["playbook", "attach"],
        &["log"],
        &["export"],
    ] {
        let h = help(verb);
        assert!(h.contains("--server <URL>") && h.contains("--token"), "{verb:?}:\n{h}");
    }
    let run = help(&["run"]);
    assert!(run.contains("Possible values:") && run.contains("- decision: A call made, and why"), "{run}");
    assert!(help(&["status"]).contains("--if-revision <N>"));
}
