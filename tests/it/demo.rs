//! `warroom demo` as a user runs it (the real binary, on the embedded server): the demo
//! incidents read like a real war room, each event authored by one of several personas
//! (incident commander, scribe, responders, the Alertmanager bot), the commander role held by
//! one of them, and no persona's token left usable afterwards.

use std::collections::BTreeSet;

use crate::bin_support::Env;

/// Runs a command that must succeed; its stdout and stderr together.
fn run(env: &Env, args: &[&str]) -> String {
    let (out, err) = env.ok(args);
    out + &err
}

impl Env {
    fn export(&self, id: &str) -> serde_json::Value {
        let out = run(self, &["export", id, "--format", "json"]);
        serde_json::from_str(out.trim()).unwrap()
    }
}

fn authors(doc: &serde_json::Value) -> Vec<String> {
    doc["events"].as_array().unwrap().iter().map(|e| e["author"].as_str().unwrap().to_string()).collect()
}

#[test]
fn demo_events_come_from_several_personas_and_the_commander_is_one_of_them() {
    let env = Env::new();
    let out = run(&env, &["demo"]);
    assert!(out.contains("loaded demo incidents INC-1, INC-2"), "{out}");
    // Who loaded the demo (the embedded token's name) says nothing in it.
    let me = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "local".into());

    for id in ["INC-1", "INC-2"] {
        let doc = env.export(id);
        let authors = authors(&doc);
        let distinct: BTreeSet<&str> = authors.iter().map(String::as_str).collect();
        assert!(distinct.len() >= 3, "{id}: {distinct:?}");
        assert!(!distinct.iter().any(|a| *a == me || a.starts_with(&format!("{me}-"))), "{id}: {distinct:?}");
        // The commander role is held by a persona who speaks in the incident and who assigned
        // it with a token of their own.
        let ic = &doc["incident"]["roles"]["commander"][0];
        let holder = ic["holder"].as_str().unwrap();
        assert!(distinct.contains(holder), "{id}: IC {holder} not among {distinct:?}");
        assert_eq!(ic["assigned_by"], holder, "{id}");
        // Severity and status changes come from the IC, as the role matrix wants.
        for e in doc["events"].as_array().unwrap() {
            if e["kind"] == "status_changed" || e["kind"] == "severity_changed" {
                assert_eq!(e["author"], holder, "{id}: {e}");
            }
        }
    }
    // The running incident: an alert from the Alertmanager bot, entries from a scribe and
    // responders besides the IC.
    let doc = env.export("INC-2");
    assert_eq!(doc["incident"]["status"], "identified");
    let events = doc["events"].as_array().unwrap();
    let alert = events.iter().find(|e| e["kind"] == "alert_attached").unwrap();
    assert_eq!(alert["author"], "alertmanager");
    let distinct: BTreeSet<String> = authors(&doc).into_iter().collect();
    assert!(distinct.len() >= 5, "{distinct:?}");

    // The personas' tokens were only for the load: every one is revoked now.
    let tokens = run(&env, &["token", "list"]);
    for name in &distinct {
        let line = tokens
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name.as_str()))
            .unwrap_or_else(|| panic!("no token {name}: {tokens}"));
        assert!(line.contains("revoked"), "{line}");
    }

    // Loading the demo again works (the names are free again) and reads the same way.
    let out = run(&env, &["demo"]);
    assert!(out.contains("loaded demo incidents INC-3, INC-4"), "{out}");
    let again: BTreeSet<String> = authors(&env.export("INC-4")).into_iter().collect();
    assert_eq!(again, distinct);
}
