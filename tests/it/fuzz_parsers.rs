//! Parser robustness (proptest): arbitrary and near-valid input thrown at every parser that
//! takes text from outside: the event decoder (`NewEvent`, `AppendRequest`), `config.toml`,
//! themes, keymaps and keys, times typed in the console or given to `--at` and `report --since`, the Alertmanager payload and its planning, and the terminal
//! sanitizer; also (#15) whole keymaps through their validation, spans (`session_lifetime`,
//! `Retry-After`), the timeline's kind filter and search, `warroom run`'s masking, the JSON
//! re-escaping for terminals and the console's draft files. The property is the same everywhere: an answer (Ok or Err), never a panic.
//! Near-valid inputs are built from the real files' vocabulary (mutated JSON and TOML), so the
//! runs get past the first syntax error. 256 cases per target unless `PROPTEST_CASES` says more.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use warroom::api::AppendRequest;
use warroom::api::alertmanager::WebhookPayload;
use warroom::assets::parse_toml;
use warroom::config::Config;
use warroom::domain::{Incident, NewEvent};
use warroom::server::alertmanager::{self, AlertmanagerConfig};
use warroom::tui::format::TimeDisplay;
use warroom::tui::keymap::{Key, Keymap};
use warroom::tui::state::overlay::parse_time;
use warroom::tui::theme::Theme;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(256)
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() }
}

/// Scalars that break naive parsers: huge numbers, odd dates, escapes, bidi overrides, NULs.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("\u{1b}]52;c;aGVsbG8=\u{7}".to_string()),
        Just("\u{1b}[2J\u{1b}[H".to_string()),
        Just("\u{202e}gnp.exe\u{202c}".to_string()),
        Just("\0\r\n\t".to_string()),
        Just("0001-01-01T00:00:00Z".to_string()),
        Just("9999-12-31T23:59:59.999999999Z".to_string()),
        Just("+275760-09-13T00:00:00Z".to_string()),
        Just("2026-02-30T25:61:61Z".to_string()),
        Just("018f4d9e-7a1b-7c3d-8e5f-0123456789ab".to_string()),
        Just("SEV-1".to_string()),
        Just("P1".to_string()),
        Just("commander".to_string()),
        "[a-z_]{1,12}",
        any::<String>(),
        "\\PC{0,40}",
    ]
}

fn nasty_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(1e308)),
        Just(json!(0.5)),
        any::<i64>().prop_map(|n| json!(n)),
    ]
}

const EVENT_KEYS: &[&str] = &[
    "id",
    "kind",
    "occurred_at",
    "title",
    "severity",
    "summary",
    "group_key",
    "status",
    "role",
    "holder",
    "checklist",
    "item",
    "done",
    "playbook",
    "text",
    "tags",
    "channel",
    "template",
    "source",
    "fingerprint",
    "name",
    "starts_at",
    "ends_at",
    "url",
    "runbook",
    "labels",
    "owner",
    "due",
    "priority",
    "target",
    "events",
];

const KINDS: &[&str] = &[
    "declared",
    "severity_changed",
    "status_changed",
    "title_changed",
    "role_assigned",
    "role_released",
    "checklist_item_set",
    "playbook_attached",
    "note",
    "finding",
    "action",
    "decision",
    "comms_sent",
    "alert_attached",
    "action_item_added",
    "action_item_updated",
    "correction",
    "Note",
    "",
];

/// JSON values drawn from the wire contract's vocabulary, nested a few levels.
fn json_value(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        nasty_number(),
        nasty_string().prop_map(Value::String),
        prop::sample::select(KINDS).prop_map(|k| json!(k)),
    ];
    leaf.prop_recursive(3, 48, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(keys).prop_map(String::from), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid event, then one field replaced, removed or added.
fn mutated_event() -> impl Strategy<Value = Value> {
    let base = prop::sample::select(KINDS).prop_map(|kind| {
        json!({
            "id": "018f4d9e-7a1b-7c3d-8e5f-0123456789ab",
            "occurred_at": "2026-01-01T00:00:00Z",
            "kind": kind,
            "text": "x", "title": "t", "severity": "SEV-1", "status": "resolved",
            "role": "commander", "holder": "ana", "checklist": "c", "item": "i", "done": true,
            "playbook": "p", "channel": "slack", "source": "s", "fingerprint": "f", "name": "n",
            "target": "018f4d9e-7a1b-7c3d-8e5f-0123456789ab",
        })
    });
    (base, prop::sample::select(EVENT_KEYS), json_value(EVENT_KEYS), 0..3u8).prop_map(
        |(mut v, key, val, op)| {
            let obj = v.as_object_mut().unwrap();
            match op {
                0 => {
                    obj.remove(key);
                }
                _ => {
                    obj.insert(key.to_string(), val);
                }
            }
            v
        },
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn event_decoder_takes_any_text(s in any::<String>()) {
        let _ = serde_json::from_str::<NewEvent>(&s);
        let _ = serde_json::from_str::<AppendRequest>(&s);
    }

    #[test]
    fn event_decoder_takes_any_bytes(b in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = serde_json::from_slice::<NewEvent>(&b);
        let _ = serde_json::from_slice::<AppendRequest>(&b);
    }

    #[test]
    fn event_decoder_takes_near_valid_json(v in mutated_event(), batch in any::<bool>()) {
        let doc = if batch { json!({ "events": [v.clone(), v] }) } else { v };
        let text = doc.to_string();
        if let Ok(e) = serde_json::from_str::<NewEvent>(&text) {
            // What decodes re-encodes, and checking it against the practice never panics.
            let again = serde_json::to_string(&e).unwrap();
            prop_assert_eq!(serde_json::from_str::<NewEvent>(&again).unwrap(), e.clone());
            let practice = warroom::assets::load_practice(None, None).unwrap();
            let mut body = e.body.clone();
            let _ = practice.check_event(&mut body);
            let _ = Incident::default().check(&body, e.occurred_at);
        }
        let _ = serde_json::from_str::<AppendRequest>(&text);
    }

    #[test]
    fn event_decoder_takes_arbitrary_json(v in json_value(EVENT_KEYS)) {
        let _ = serde_json::from_value::<NewEvent>(v.clone());
        let _ = serde_json::from_value::<AppendRequest>(v);
    }
}

const CONFIG_KEYS: &[&str] = &[
    "server",
    "url",
    "token",
    "name",
    "theme",
    "scheme",
    "practice_dir",
    "listen",
    "database",
    "ca_file",
    "insecure_http",
    "serve",
    "alertmanager",
    "keys",
    "severity",
    "runbooks",
    "default_severity",
    "note",
    "quit",
    "extends",
    "roles",
    "fg",
    "bg",
    "bold",
    "text",
    "accent",
    "global",
    "board",
    "action",
    "keys",
    "desc",
];

fn toml_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"\"".to_string()),
        Just("true".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("1e400".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        Just("[\"q\", \"ctrl-c\"]".to_string()),
        Just("{ fg = \"red\", bold = true }".to_string()),
        Just("{ fg = \"#ff00ff\", bg = \"rgb(1,2,3)\" }".to_string()),
        Just("[]".to_string()),
        "\\PC{0,12}".prop_map(|s| format!("{s:?}")),
        "[a-z_#0-9-]{0,10}".prop_map(|s| format!("\"{s}\"")),
        any::<i64>().prop_map(|n| n.to_string()),
    ]
}

/// TOML-ish documents from the config, theme and keymap vocabulary, with junk lines mixed in.
fn toml_doc() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        4 => (prop::sample::select(CONFIG_KEYS), toml_scalar()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => prop::sample::select(CONFIG_KEYS).prop_map(|k| format!("[{k}]")),
        1 => prop::sample::select(CONFIG_KEYS).prop_map(|k| format!("[[{k}]]")),
        1 => (prop::sample::select(CONFIG_KEYS), prop::sample::select(CONFIG_KEYS)).prop_map(|(a, b)| format!("[{a}.{b}]")),
        1 => "\\PC{0,30}",
    ];
    prop::collection::vec(line, 0..16).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn config_parser_takes_any_text(s in any::<String>()) {
        let _ = parse_toml::<Config>("config.toml", &s);
    }

    #[test]
    fn config_parser_takes_near_valid_toml(s in toml_doc()) {
        if let Err(e) = parse_toml::<Config>("config.toml", &s) {
            // An error names the file, and a line inside it when it gives one.
            prop_assert_eq!(&e.file, "config.toml");
            if let Some(line) = e.line {
                prop_assert!(line >= 1 && line <= s.lines().count().max(1), "line {} of {:?}", line, s);
            }
        }
    }

    #[test]
    fn theme_parser_takes_any_text(s in any::<String>(), doc in toml_doc()) {
        let _ = Theme::parse("theme.toml", &s, None);
        let _ = Theme::parse("theme.toml", &doc, None);
        let _ = Theme::parse("theme.toml", &format!("extends = \"default\"\n[roles]\n{doc}"), None);
    }

    #[test]
    fn keymap_parser_takes_any_text(s in any::<String>(), doc in toml_doc()) {
        let _ = Keymap::default().patch("keymap.toml", &s);
        let _ = Keymap::defaults().patch("keymap.toml", &doc);
    }

    #[test]
    fn key_parser_takes_any_text(s in prop_oneof!["\\PC{0,16}", any::<String>(), "((ctrl|alt|shift)-){0,4}[a-zA-Z0-9?-]{0,8}"]) {
        let _ = Key::parse(&s);
    }

    /// The console's time field (Ctrl-T) and `--at`: relative times with huge numbers, odd
    /// dates, any text; in both display zones.
    #[test]
    fn time_parser_takes_any_text(s in prop_oneof![
        "-([0-9]{1,22}[hms]?){1,4}",
        "[0-9]{1,6}(:[0-9]{1,6}){0,2}",
        "[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}[ T][0-9]{1,3}:[0-9]{1,3}(:[0-9]{1,3})?",
        nasty_string(),
        any::<String>(),
    ], local in any::<bool>()) {
        let now = chrono::Utc::now();
        let tz = if local { TimeDisplay::Local } else { TimeDisplay::Utc };
        let _ = parse_time(&s, now, now, tz);
    }

    #[test]
    fn keymap_overrides_take_any_keys(action in "[a-z_]{0,12}", keys in prop::collection::vec("\\PC{0,10}", 0..4)) {
        let mut overrides = BTreeMap::new();
        overrides.insert(action, keys);
        let dir = std::env::temp_dir().join("warroom-fuzz-no-such-dir");
        let _ = Keymap::load(&dir, &overrides);
    }
}

const AM_KEYS: &[&str] = &[
    "version",
    "groupKey",
    "truncatedAlerts",
    "status",
    "receiver",
    "groupLabels",
    "commonLabels",
    "commonAnnotations",
    "externalURL",
    "alerts",
    "labels",
    "annotations",
    "startsAt",
    "endsAt",
    "generatorURL",
    "fingerprint",
    "alertname",
    "severity",
    "summary",
    "description",
    "runbook_url",
    "firing",
    "resolved",
];

/// A valid Alertmanager notification with its fields and alerts drawn from nasty values.
fn am_payload() -> impl Strategy<Value = Value> {
    let alert = (
        prop::sample::select(&["firing", "resolved", "pending", ""][..]),
        nasty_string(),
        nasty_string(),
        prop::sample::select(&["critical", "warning", "SEV-1", "P2", "page", ""][..]),
        nasty_string(),
    )
        .prop_map(|(status, name, summary, sev, when)| {
            json!({
                "status": status,
                "labels": {"alertname": name, "severity": sev},
                "annotations": {"summary": summary, "runbook_url": "http://x"},
                "startsAt": when,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus",
                "fingerprint": name,
            })
        });
    (
        prop::sample::select(&["4", "3", " 4 ", ""][..]),
        nasty_string(),
        prop::sample::select(&["firing", "resolved"][..]),
        prop::collection::vec(alert, 0..5),
        (prop::sample::select(AM_KEYS), json_value(AM_KEYS)),
    )
        .prop_map(|(version, key, status, alerts, (extra_key, extra))| {
            let mut v = json!({
                "version": version, "groupKey": key, "status": status, "receiver": "warroom",
                "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
                "externalURL": "http://am", "alerts": alerts,
            });
            v.as_object_mut().unwrap().insert(extra_key.to_string(), extra);
            v
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn alertmanager_payload_takes_any_text(s in any::<String>(), v in json_value(AM_KEYS)) {
        let _ = serde_json::from_str::<WebhookPayload>(&s);
        let _ = serde_json::from_value::<WebhookPayload>(v);
    }

    #[test]
    fn alertmanager_plan_takes_any_payload(v in am_payload(), open in any::<bool>(), map_runbook in any::<bool>()) {
        let Ok(payload) = serde_json::from_value::<WebhookPayload>(v) else { return Ok(()) };
        let practice = warroom::assets::load_practice(None, None).unwrap();
        let mut cfg = AlertmanagerConfig::default();
        if map_runbook {
            cfg.runbooks.insert("HighLatency".into(), "no-such-playbook".into());
        }
        let incident = Incident { id: "INC-1".into(), group_key: Some(payload.group_key.clone()), ..Incident::default() };
        let now = chrono::Utc::now();
        if let Ok(plan) = alertmanager::plan(&payload, &cfg, &practice, open.then_some(&incident), now) {
            // Whatever it plans is valid for the practice, and every string in it is clean.
            for e in &plan.events {
                let mut body = e.body.clone();
                prop_assert!(practice.check_event(&mut body).is_ok(), "{:?}", e.body);
                let json = serde_json::to_string(&e.body).unwrap();
                prop_assert!(!json.contains('\u{1b}') && !json.contains("\\u001b"), "{}", json);
            }
        }
    }

    #[test]
    fn sanitized_text_has_no_control_or_bidi_characters(s in any::<String>(), multiline in any::<bool>()) {
        let out = warroom::domain::text::sanitize(&s, multiline);
        for c in out.chars() {
            let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}');
            prop_assert!(!bidi, "{:?} -> {:?}", s, out);
            prop_assert!(!c.is_control() || (multiline && c == '\n'), "{:?} -> {:?}", s, out);
        }
    }
}

// ---- #15: keymaps whole, spans, filters, masking, JSON for terminals, draft files ----------

/// Words that `warroom run` command lines are made of, secrets among them.
fn cmdline_word() -> impl Strategy<Value = String> {
    prop_oneof![
        nasty_string(),
        "\\PC{0,24}",
        Just("Authorization:".to_string()),
        Just("Bearer".to_string()),
        Just("-H".to_string()),
        Just("--password".to_string()),
        "(wr_|ws_|ghp_|xoxb-|AKIA|eyJ)[A-Za-z0-9_.-]{0,40}",
        "[a-z]{1,6}://[a-z]{0,4}(:[a-z0-9]{0,6})?@[a-z.]{0,8}(/[a-z]{0,4})?(\\?[a-z_]{1,8}=[a-z0-9]{0,6})?",
        "[A-Z_]{1,10}=[a-z0-9]{0,8}",
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn keymap_files_go_through_validation(s in any::<String>(), doc in toml_doc()) {
        for text in [s, doc] {
            let mut k = Keymap::defaults();
            if k.patch("keymap.toml", &text).is_ok() {
                let _ = k.validate();
            }
        }
    }

    #[test]
    fn span_parsers_take_any_text(s in prop_oneof![any::<String>(), "-?[0-9]{0,22}[a-z]{0,3}"]) {
        let _ = warroom::server::oidc::parse_lifetime(&s);
        let _ = warroom::server::notify::targets::parse_retry_after(&s, chrono::Utc::now());
    }

    /// `warroom report --since`: the console's and `--at`'s time parser plus the `30d`
    /// shorthand. An answer, never a panic, and never a time after now.
    #[test]
    fn report_since_takes_any_text(s in prop_oneof![
        any::<String>(),
        nasty_string(),
        "-?[0-9]{0,22}(m|min|h|d|w|s|y|)",
        "-([0-9]{0,20}[wdhms]){0,4}[0-9]{0,20}",
        "[0-9]{1,4}-[0-9]{1,2}-[0-9]{1,2}[ T][0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2})?Z?",
        "[0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2})?",
    ], local in any::<bool>()) {
        let now = chrono::Utc::now();
        let tz = if local { TimeDisplay::Local } else { TimeDisplay::Utc };
        if let Ok(t) = warroom::tui::state::overlay::parse_since(&s, now, tz) {
            prop_assert!(t <= now, "{} gave {}", s, t);
        }
    }

    #[test]
    fn timeline_filter_and_search_take_any_text(kind in any::<String>(), search in any::<String>()) {
        let mut t = warroom::tui::timeline::Timeline::default();
        let filter = kind.parse::<warroom::domain::EventKind>().ok();
        t.set_view(filter, Some(&search));
        prop_assert_eq!(t.len(), 0);
    }

    #[test]
    fn masking_takes_any_command_line(words in prop::collection::vec(cmdline_word(), 0..12)) {
        let names = warroom::config::RunConfig::default().secret_args;
        let out = warroom::run::mask_args(&words, &names);
        prop_assert_eq!(out.len(), words.len());
        // A warroom token as a word of its own never survives, whatever surrounds it.
        let secret = "wr_0123456789abcdef0123456789abcdef";
        let mut with = words.clone();
        with.push(format!("-H X-Token:{secret}"));
        let joined = warroom::run::shell_join(&warroom::run::mask_args(&with, &names));
        prop_assert!(!joined.contains("0123456789abcdef"), "{}", joined);
    }

    #[test]
    fn json_for_terminal_keeps_the_value_and_shows_nothing_hidden(s in any::<String>(), k in "\\PC{0,8}") {
        let mut m = serde_json::Map::new();
        m.insert(k, Value::String(s));
        m.insert("n".into(), json!([1, null]));
        let v = Value::Object(m);
        let out = warroom::domain::text::json_for_terminal(&serde_json::to_string_pretty(&v).unwrap());
        let back: Value = serde_json::from_str(&out).unwrap();
        prop_assert_eq!(back, v);
        for c in out.chars() {
            let shown = !warroom::domain::text::is_hidden(c) && (!c.is_control() || c == '\n');
            prop_assert!(shown, "{:?}", out);
        }
    }

    #[test]
    fn draft_files_take_any_text(s in any::<String>(), v in json_value(&["incident", "entries", "comms", "kind", "text", "occurred_at", "template", "drafted"])) {
        let _ = serde_json::from_str::<warroom::tui::drafts::IncidentDrafts>(&s);
        let _ = serde_json::from_value::<warroom::tui::drafts::IncidentDrafts>(v);
    }
}
