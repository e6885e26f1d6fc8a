//! Communications drafts: the practice's Markdown templates (`assets/practice/templates/`)
//! filled from an incident's state. Pure: the caller passes the incident, its events and `now`.
//!
//! Templates use `{{name}}` placeholders (spaces inside the braces are allowed). A placeholder
//! with no value renders visibly as `[name unknown]` (underscores become spaces), so a draft never
//! hides a gap. Values are inserted once: text inside a value is never expanded again. A leading
//! `<!-- ... -->` comment documents the template and is not part of the draft.
//!
//! Placeholders ([`vars`]):
//!
//! | name | value |
//! |---|---|
//! | `id` | incident id, e.g. `INC-7` |
//! | `title`, `issue` | the incident's title |
//! | `severity`, `severity_name` | `SEV-2`, `Major` |
//! | `status` | `Investigating`, `Mitigated`, ... |
//! | `summary` | the summary given at declaration |
//! | `impact` | the latest entry tagged `impact`, else the summary |
//! | `workaround` | the latest entry tagged `workaround` |
//! | `root_cause` | entries tagged `root_cause`, joined with `; ` |
//! | `service` | the latest entry tagged `service`, else an attached alert's `service` label |
//! | `ic` | `@` + the incident commander |
//! | `channel` | the suggested channel, see [`channel_name`] |
//! | `next_update` | when the next status update is due (level's cadence) |
//! | `date` | declaration date, `YYYY-MM-DD` |
//! | `start`, `end`, `resolved_at` | declaration and resolution times (UTC) |
//! | `duration` | declaration to resolution (or to `now` while open), e.g. `1h28m` |
//! | `now` | the time of drafting |

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::event::{Event, EventBody};
use super::incident::Incident;
use super::practice::Practice;
use super::status::Status;
use super::text;
use super::timers;

/// Placeholder name -> value. Absent names render as `[name unknown]`.
pub type Vars = BTreeMap<String, String>;

/// Fills `{{name}}` placeholders from `vars` (see the module docs). Never panics; an unclosed
/// `{{` or a placeholder with characters other than `[A-Za-z0-9_]` stays as written.
pub fn fill(template: &str, vars: &Vars) -> String {
    let body = strip_leading_comment(template);
    let mut out = String::with_capacity(body.len() + 256);
    let mut rest = body;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            out.push_str(&rest[open..]);
            return out;
        };
        let name = after[..close].trim();
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            match vars.get(name) {
                Some(v) => out.push_str(v),
                None => out.push_str(&missing(name)),
            }
            rest = &after[close + 2..];
        } else {
            out.push_str("{{");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// How a placeholder without a value renders: `[next update unknown]`.
pub fn missing(name: &str) -> String {
    format!("[{} unknown]", name.replace('_', " "))
}

fn strip_leading_comment(t: &str) -> &str {
    let trimmed = t.trim_start();
    if let Some(inner) = trimmed.strip_prefix("<!--")
        && let Some(end) = inner.find("-->")
    {
        let rest = &inner[end + 3..];
        return rest.strip_prefix("\r\n").or_else(|| rest.strip_prefix('\n')).unwrap_or(rest);
    }
    t
}

/// The comms templates known by name, with what each is for, in the order they are offered.
pub const KNOWN_TEMPLATES: [(&str, &str); 3] = [
    ("internal-alert", "internal alert — the team and the incident channel"),
    ("customer", "customer update — status page, customers"),
    ("resolution", "resolution notice — the all-clear"),
];

/// The practice's comms templates (never the post-mortem's) as (name, label): the known ones
/// first, then the team's own in name order.
pub fn templates(practice: &Practice) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = KNOWN_TEMPLATES
        .iter()
        .filter(|(name, _)| practice.templates.contains_key(*name))
        .map(|(n, l)| (n.to_string(), l.to_string()))
        .collect();
    for name in practice.templates.keys() {
        if name != "postmortem" && !KNOWN_TEMPLATES.iter().any(|(n, _)| n == name) {
            out.push((name.clone(), name.replace('-', " ")));
        }
    }
    out
}

/// Drafts the practice template `template` (file stem, e.g. `internal-alert`, `customer`,
/// `resolution`) for `inc` at `now`. `None` when the practice has no such template. The
/// result is sanitized for a terminal (newlines kept).
pub fn draft(
    practice: &Practice,
    template: &str,
    inc: &Incident,
    events: &[Event],
    now: DateTime<Utc>,
) -> Option<String> {
    let t = practice.templates.get(template)?;
    Some(text::sanitize(&fill(t, &vars(practice, inc, events, now)), true))
}

/// The values of every placeholder known for `inc` (see the module docs); missing facts are
/// simply absent.
pub fn vars(practice: &Practice, inc: &Incident, events: &[Event], now: DateTime<Utc>) -> Vars {
    let mut v = Vars::new();
    let mut put = |k: &str, val: Option<String>| {
        if let Some(val) = val.map(|s| text::line(&s).trim().to_string()).filter(|s| !s.is_empty()) {
            v.insert(k.to_string(), val);
        }
    };
    let declared = inc.revision > 0;
    let entries = corrected_entries(events);
    let latest = |tag: &str| entries.iter().rev().find(|e| e.has_tag(tag)).map(|e| e.text.clone());
    let all = |tag: &str| {
        let v: Vec<_> = entries.iter().filter(|e| e.has_tag(tag)).map(|e| text::line(&e.text)).collect();
        (!v.is_empty()).then(|| v.join("; "))
    };

    put("id", Some(inc.id.clone()));
    put("title", Some(inc.title.clone()));
    put("issue", Some(inc.title.clone()));
    put("severity", Some(inc.severity.clone()));
    put("severity_name", practice.scheme().level(&inc.severity).map(|l| l.name.clone()));
    put("status", declared.then(|| status_label(inc.status).to_string()));
    put("summary", Some(inc.summary.clone()));
    put("impact", latest("impact").or_else(|| Some(inc.summary.clone())));
    put("workaround", latest("workaround"));
    put("root_cause", all("root_cause"));
    put("service", latest("service").or_else(|| alert_label(inc, "service")));
    put("ic", inc.commander().map(|c| format!("@{c}")));
    put("channel", declared.then(|| channel_name(inc)));
    put("next_update", timers::next_update_at(practice.scheme(), inc).map(|t| time(t, now)));
    put("date", declared.then(|| inc.declared_at.format("%Y-%m-%d").to_string()));
    put("start", declared.then(|| time(inc.declared_at, now)));
    put("end", inc.resolved_at.map(|t| time(t, now)));
    put("resolved_at", inc.resolved_at.map(|t| time(t, now)));
    let end = inc.resolved_at.unwrap_or(now);
    put("duration", declared.then(|| timers::format_duration(end - inc.declared_at)));
    put("now", Some(time(now, now)));
    v
}

/// `14:30 UTC` on `now`'s date, `2026-11-24 14:30 UTC` otherwise.
pub fn time(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if t.date_naive() == now.date_naive() {
        t.format("%H:%M UTC").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M UTC").to_string()
    }
}

/// How a status reads in a message: `Investigating`, `Mitigated`, ...
pub fn status_label(s: Status) -> &'static str {
    match s {
        Status::Declared => "Declared",
        Status::Acknowledged => "Acknowledged",
        Status::Investigating => "Investigating",
        Status::Identified => "Identified",
        Status::Mitigated => "Mitigated",
        Status::Resolved => "Resolved",
        Status::Closed => "Closed",
    }
}

/// A label of the attached alerts (firing ones first), e.g. `service`.
fn alert_label(inc: &Incident, label: &str) -> Option<String> {
    let firing = inc.alerts.values().filter(|a| a.status == "firing");
    let resolved = inc.alerts.values().filter(|a| a.status != "firing");
    firing.chain(resolved).find_map(|a| a.labels.get(label).cloned())
}

/// The suggested incident channel, `#incident-YYYY-MM-DD-short-description`: the declaration
/// date and a slug of the title (lowercase ASCII letters and digits, dashes, at most 40
/// characters, cut at a word boundary; Slack's 80-character limit holds).
pub fn channel_name(inc: &Incident) -> String {
    let date = inc.declared_at.format("%Y-%m-%d");
    let s = slug(&text::line(&inc.title), 40);
    if s.is_empty() { format!("#incident-{date}") } else { format!("#incident-{date}-{s}") }
}

/// Lowercase ASCII slug: letters and digits kept (common Latin accents folded), everything
/// else a single `-`, at most `max` characters, cut at a dash when possible.
pub fn slug(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        let folded = fold_accent(c);
        if !folded.is_empty() {
            out.push_str(folded);
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_string();
    if out.len() > max {
        let cut = &out[..max];
        let cut = match cut.rfind('-') {
            Some(i) if i > max / 2 => &cut[..i],
            _ => cut,
        };
        out = cut.trim_end_matches('-').to_string();
    }
    out
}

fn fold_accent(c: char) -> &'static str {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
        'æ' => "ae",
        'ç' => "c",
        'è' | 'é' | 'ê' | 'ë' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
        'œ' => "oe",
        'ù' | 'ú' | 'û' | 'ü' => "u",
        'ý' | 'ÿ' => "y",
        'ß' => "ss",
        _ => "",
    }
}

/// A free-text timeline entry (note, finding, action, decision) with corrections applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectedEntry<'a> {
    pub event: &'a Event,
    /// The latest correction's text, or the original.
    pub text: String,
    pub tags: &'a [String],
    pub corrected: bool,
}

impl CorrectedEntry<'_> {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
    }
}

/// Event id -> text of its latest correction (by seq).
pub fn corrections(events: &[Event]) -> BTreeMap<Uuid, String> {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| e.seq);
    let mut out = BTreeMap::new();
    for e in sorted {
        if let EventBody::Correction { target, text } = &e.body {
            out.insert(*target, text.clone());
        }
    }
    out
}

/// The log's free-text entries, in timeline order (`occurred_at`, then seq), corrected.
pub fn corrected_entries(events: &[Event]) -> Vec<CorrectedEntry<'_>> {
    let fixes = corrections(events);
    let mut out: Vec<_> = events
        .iter()
        .filter_map(|e| {
            let entry = e.body.as_entry()?;
            let fix = fixes.get(&e.id);
            Some(CorrectedEntry {
                event: e,
                text: fix.cloned().unwrap_or_else(|| entry.text.clone()),
                tags: &entry.tags,
                corrected: fix.is_some(),
            })
        })
        .collect();
    out.sort_by_key(|c| (c.event.occurred_at, c.event.seq));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_and_marks_missing() {
        let mut v = Vars::new();
        v.insert("a".into(), "x{{b}}".into());
        assert_eq!(
            fill("<!-- doc -->\n{{a}}-{{ b }}-{{not a name}}-{{", &v),
            "x{{b}}-[b unknown]-{{not a name}}-{{"
        );
        assert_eq!(fill("{{next_update}}", &Vars::new()), "[next update unknown]");
        assert_eq!(fill("{{}}{{a", &v), "{{}}{{a");
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("API latency > 5s on EU-west!", 40), "api-latency-5s-on-eu-west");
        assert_eq!(slug("Datenbank überlastet", 40), "datenbank-uberlastet");
        assert_eq!(slug("🚨🚨", 40), "");
        let long = slug("checkout service returns errors for every single customer in europe", 40);
        assert!(long.len() <= 40 && !long.ends_with('-'), "{long}");
        assert_eq!(long, "checkout-service-returns-errors-for");
    }
}
