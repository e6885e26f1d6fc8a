//! `warroom show INC-1`: what the war room shows, for scripts and people: the header facts and
//! timers (`domain::timers`), the roster (`domain::roster`), the checklists with their items
//! numbered in the console's order (`Practice::checklists_for`: `warroom check` takes these
//! numbers), the action items (numbered for `warroom action-item done`) and the latest
//! timeline entries (as `tail` prints them).

use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::change::{Known, read};
use super::exit::{EXIT_UNREACHABLE, Failure};
use super::tail::tail_line;
use crate::cli::args::OutputFormat;
use crate::cli::connect::Conn;
use crate::domain::{comms, roster, text, timers};

pub(in crate::cli) async fn show(
    conn: &Conn,
    incident: &str,
    last: usize,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let k = read(conn, incident, true).await?.map_err(|e| Failure::new(EXIT_UNREACHABLE, e.to_string()))?;
    let now = Utc::now();
    let doc = match format {
        OutputFormat::Json => {
            crate::domain::text::json_for_terminal(&serde_json::to_string_pretty(&as_json(&k, last, now))?)
                + "\n"
        }
        OutputFormat::Text => as_text(&k, last, now),
    };
    std::io::stdout().lock().write_all(doc.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    comms::time(t, now)
}

fn as_json(k: &Known, last: usize, now: DateTime<Utc>) -> serde_json::Value {
    let inc = &k.incident;
    let scheme = k.practice.scheme();
    let t = timers::timers(scheme, inc, now);
    let roles: Vec<_> = roster(k.practice.roles(), inc)
        .iter()
        .map(|r| json!({"id": r.id, "name": r.name, "short": r.short, "holders": r.holders}))
        .collect();
    let mut n = 0;
    let checklists: Vec<_> = k
        .practice
        .checklists_for(inc)
        .iter()
        .map(|l| {
            let items: Vec<_> = l
                .items
                .iter()
                .map(|i| {
                    n += 1;
                    let st = inc.item_done(&l.id, &i.id);
                    json!({
                        "n": n, "id": i.id, "text": i.text, "depth": l.depth(i),
                        "done": st.is_some_and(|s| s.done), "by": st.map(|s| &s.by), "at": st.map(|s| s.at),
                    })
                })
                .collect();
            json!({"id": l.id, "name": l.checklist.name, "items": items})
        })
        .collect();
    let action_items: Vec<_> = inc
        .action_items
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut v = serde_json::to_value(a).unwrap_or_default();
            v["n"] = (i + 1).into();
            v
        })
        .collect();
    let start = k.events.len().saturating_sub(last);
    json!({
        "incident": inc,
        "severity_name": scheme.level(&inc.severity).map(|l| &l.name),
        "timers": {
            "response": t.response.label(),
            "resolution": t.resolution.label(),
            "update": t.update.label(),
            "next_update_at": t.next_update_at,
            "escalation": t.escalation.as_ref().map(|e| json!({"level": e.level, "who": e.who})),
            "postmortem": t.postmortem.iter().map(|d| json!({"id": d.id, "name": d.name, "due_at": d.due_at, "state": d.state.label()})).collect::<Vec<_>>(),
        },
        "roles": roles,
        "checklists": checklists,
        "action_items": action_items,
        "timeline": &k.events[start..],
        "events": k.events.len(),
    })
}

fn as_text(k: &Known, last: usize, now: DateTime<Utc>) -> String {
    let inc = &k.incident;
    let scheme = k.practice.scheme();
    let t = timers::timers(scheme, inc, now);
    let mut o = String::new();
    let level =
        scheme.level(&inc.severity).map(|l| format!(" ({})", text::line(&l.name))).unwrap_or_default();
    let _ = writeln!(
        o,
        "{}  {}{level}  {}  revision {}{}",
        text::line(&inc.id),
        text::line(&inc.severity),
        inc.status,
        inc.revision,
        if inc.demo { "  [DEMO]" } else { "" }
    );
    let _ = writeln!(o, "{}", text::line(&inc.title));
    if !inc.summary.is_empty() {
        let _ = writeln!(o, "{}", text::sanitize(&inc.summary, true).trim_end());
    }
    let _ = writeln!(o);
    let mut fact = |label: &str, value: String| {
        let _ = writeln!(o, "  {label:<13} {value}");
    };
    fact(
        "Declared",
        format!(
            "{} by {} ({} ago)",
            when(inc.declared_at, now),
            text::line(&inc.declared_by),
            timers::format_duration(now - inc.declared_at)
        ),
    );
    for (label, at) in [
        ("Acknowledged", inc.acknowledged_at),
        ("Mitigated", inc.mitigated_at),
        ("Resolved", inc.resolved_at),
        ("Closed", inc.closed_at),
    ] {
        if let Some(at) = at {
            fact(label, when(at, now));
        }
    }
    if inc.demo {
        let what = match inc.removed_at {
            Some(at) => format!("removed {} (hidden from lists, boards and reports)", when(at, now)),
            None => "loaded by `warroom demo`, not a real incident (`warroom demo --remove`)".to_string(),
        };
        fact("Demo", what);
    }
    fact("Response", t.response.label());
    fact("Resolution", t.resolution.label());
    if inc.is_open() {
        fact("Next update", t.update.label());
    }
    if let Some(e) = &t.escalation {
        fact("Escalation", format!("{}: {}", text::line(&e.level), text::line(&e.who)));
    }
    for d in &t.postmortem {
        fact("Post-mortem", format!("{} {}", text::line(&d.name), d.state.label()));
    }
    if !inc.playbooks.is_empty() {
        fact("Playbooks", inc.playbooks.iter().map(|p| text::line(p)).collect::<Vec<_>>().join(", "));
    }

    let _ = writeln!(o, "\nRoles");
    for r in roster(k.practice.roles(), inc) {
        let holders = if r.holders.is_empty() {
            "-".to_string()
        } else {
            r.holders
                .iter()
                .map(|h| format!("{} (since {})", text::line(&h.holder), when(h.since, now)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(o, "  {:<5} {:<14} {holders}", text::line(r.short), text::line(r.id));
    }

    let _ = writeln!(o, "\nChecklists");
    let mut n = 0;
    for l in k.practice.checklists_for(inc) {
        let _ = writeln!(o, "  {} ({})", text::line(&l.checklist.name), text::line(&l.id));
        for i in &l.items {
            n += 1;
            let st = inc.item_done(&l.id, &i.id);
            let mark = if st.is_some_and(|s| s.done) { "[x]" } else { "[ ]" };
            let by = st
                .filter(|s| s.done)
                .map(|s| format!("  ({} {})", text::line(&s.by), when(s.at, now)))
                .unwrap_or_default();
            let indent = "  ".repeat(l.depth(i));
            let _ = writeln!(o, "  {n:>3} {mark} {indent}{}{by}", text::line(&i.text));
        }
    }

    if !inc.action_items.is_empty() {
        let _ = writeln!(o, "\nAction items");
        for (n, a) in inc.action_items.iter().enumerate() {
            let mark = if a.done { "[x]" } else { "[ ]" };
            let mut extra = vec![a.priority.to_string()];
            if let Some(owner) = &a.owner {
                extra.push(format!("@{}", text::line(owner)));
            }
            if let Some(due) = a.due {
                extra.push(format!("due {due}"));
            }
            extra.push(format!("id {}", a.id));
            let _ = writeln!(o, "  {:>3} {mark} {}  ({})", n + 1, text::line(&a.text), extra.join(", "));
        }
    }

    let start = k.events.len().saturating_sub(last);
    if last > 0 {
        let _ = writeln!(o, "\nTimeline (latest {} of {})", k.events.len() - start, k.events.len());
        for e in &k.events[start..] {
            let _ = writeln!(o, "  {}", tail_line(e));
        }
    }
    o
}
