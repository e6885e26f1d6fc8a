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
//! | `impact` | the latest entry tagged `impact` |
//! | `workaround` | the latest entry tagged `workaround` |
//! | `root_cause` | entries tagged `root_cause`, joined with `; ` |
//! | `next_steps` | the latest entry tagged `next_steps` (or `next`) |
//! | `service` | the latest entry tagged `service`, else an attached alert's `service` label |
//! | `ic` | `@` + the incident commander |
//! | `channel` | the suggested channel, see [`channel_name`] |
//! | `next_update` | when the next status update is due (level's cadence) |
//! | `date` | declaration date, `YYYY-MM-DD` |
//! | `start`, `end`, `resolved_at` | declaration and resolution times (UTC) |
//! | `duration` | declaration to resolution (or to `now` while open), e.g. `1h28m` |
//! | `now` | the time of drafting |
//!
//! The four tagged facts (`impact`, `workaround`, `root_cause`, `next_steps`) render
//! [`TO_BE_CONFIRMED`] while no entry carries their tag: never the summary or the latest
//! untagged note, which would state a guess as a fact. An entry is tagged with `--tag impact`
//! (`warroom log`) or by a hashtag in its text (`#impact`, `#root_cause`, `#workaround`,
//! `#next`), which is how the console's composer tags one; such hashtags are left out of the
//! draft's text. Tags match ignoring case, and `-` matches `_` (`#root-cause`).

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

/// What a tagged fact (impact, workaround, root cause, next steps) says while no entry has
/// its tag.
pub const TO_BE_CONFIRMED: &str = "to be confirmed";

/// Tags that the drafts read; as hashtags they are taken out of the drafted text.
pub const DRAFT_TAGS: [&str; 6] = ["impact", "workaround", "root_cause", "next_steps", "next", "service"];

/// Whether tag `a` is tag `b`: ASCII case ignored, `-` the same as `_`.
pub fn same_tag(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            let n = |c: u8| if c == b'-' { b'_' } else { c.to_ascii_lowercase() };
            n(x) == n(y)
        })
}

/// The hashtags of a text (`#impact` -> `impact`): a `#` at the start or after whitespace,
/// then letters, digits, `_` or `-`.
pub fn hashtags(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace().filter_map(|w| {
        let tag = w.strip_prefix('#')?.trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
        (!tag.is_empty() && tag.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')).then_some(tag)
    })
}

/// `text` without the hashtags of [`DRAFT_TAGS`] (spaces closed up), for a draft.
pub fn without_draft_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n') {
        if !out.is_empty() {
            out.push('\n');
        }
        let words: Vec<&str> = line
            .split_whitespace()
            .filter(|w| {
                let mut tags = hashtags(w);
                !tags.next().is_some_and(|t| DRAFT_TAGS.iter().any(|d| same_tag(d, t)))
            })
            .collect();
        out.push_str(&words.join(" "));
    }
    out.trim().to_string()
}

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
    let facts = tagged_facts(&entries);

    put("id", Some(inc.id.clone()));
    put("title", Some(inc.title.clone()));
    put("issue", Some(inc.title.clone()));
    put("severity", Some(inc.severity.clone()));
    put("severity_name", practice.scheme().level(&inc.severity).map(|l| l.name.clone()));
    put("status", declared.then(|| status_label(inc.status).to_string()));
    put("summary", Some(inc.summary.clone()));
    for (name, value) in facts.tagged {
        put(name, Some(value));
    }
    put("service", facts.service.or_else(|| alert_label(inc, "service")));
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

/// What the log's tagged entries say, for the drafts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedFacts {
    /// `impact`, `workaround`, `root_cause`, `next_steps`: each the tagged text, or
    /// [`TO_BE_CONFIRMED`].
    pub tagged: [(&'static str, String); 4],
    /// The latest entry tagged `service`, if any.
    pub service: Option<String>,
}

/// The tagged facts of `entries` (in timeline order, corrected): the latest entry tagged
/// `impact`, `workaround`, `next_steps` or `next`, every entry tagged `root_cause` (joined
/// with `; `), each without its draft hashtags; [`TO_BE_CONFIRMED`] where no entry has the tag.
pub fn tagged_facts(entries: &[CorrectedEntry<'_>]) -> TaggedFacts {
    let latest = |tags: &[&str]| {
        entries
            .iter()
            .rev()
            .filter(|e| tags.iter().any(|t| e.has_tag(t)))
            .map(|e| text::line(&without_draft_tags(&e.text)).trim().to_string())
            .find(|t| !t.is_empty())
    };
    let root: Vec<String> = entries
        .iter()
        .filter(|e| e.has_tag("root_cause"))
        .map(|e| text::line(&without_draft_tags(&e.text)).trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    let tbc = || TO_BE_CONFIRMED.to_string();
    TaggedFacts {
        tagged: [
            ("impact", latest(&["impact"]).unwrap_or_else(tbc)),
            ("workaround", latest(&["workaround"]).unwrap_or_else(tbc)),
            ("root_cause", if root.is_empty() { tbc() } else { root.join("; ") }),
            ("next_steps", latest(&["next_steps", "next"]).unwrap_or_else(tbc)),
        ],
        service: latest(&["service"]),
    }
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
    /// Tagged `tag` (see [`same_tag`]) by its tags or by a hashtag in its (corrected) text.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| same_tag(t, tag)) || hashtags(&self.text).any(|t| same_tag(t, tag))
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

    fn entry_event(seq: u64, text: &str, tags: &[&str]) -> Event {
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 23, 10, seq as u32, 0).unwrap();
        let e = crate::domain::event::Entry {
            text: text.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        };
        Event {
            seq,
            id: Uuid::from_u128(u128::from(seq)),
            incident: "INC-1".into(),
            author: "bob".into(),
            occurred_at: at,
            recorded_at: at,
            body: EventBody::Note(e),
        }
    }

    fn facts(events: &[Event]) -> BTreeMap<&'static str, String> {
        tagged_facts(&corrected_entries(events)).tagged.into_iter().collect()
    }

    #[test]
    fn untagged_facts_are_to_be_confirmed_never_the_latest_note() {
        let log = vec![entry_event(1, "Holding before mitigated", &[])];
        let f = facts(&log);
        for name in ["impact", "workaround", "root_cause", "next_steps"] {
            assert_eq!(f[name], TO_BE_CONFIRMED, "{name}");
        }
    }

    #[test]
    fn facts_come_from_tags_and_hashtags() {
        let mut log = vec![
            entry_event(1, "Payments fail for some EU users", &["impact"]),
            entry_event(2, "#Impact all EU checkouts fail.", &[]),
            entry_event(3, "Holding before mitigated", &[]),
            entry_event(4, "Pool exhausted #root-cause", &[]),
            entry_event(5, "deploy 142 raised the pool's demand", &["ROOT_CAUSE"]),
            entry_event(6, "roll back 142, then watch p99 #next", &[]),
            entry_event(7, "scale the pool", &["next_steps"]),
            entry_event(8, "#workaround", &[]),
        ];
        let f = facts(&log);
        assert_eq!(f["impact"], "all EU checkouts fail.");
        assert_eq!(f["root_cause"], "Pool exhausted; deploy 142 raised the pool's demand");
        assert_eq!(f["next_steps"], "scale the pool");
        // A bare hashtag says nothing: still to be confirmed.
        assert_eq!(f["workaround"], TO_BE_CONFIRMED);
        // A correction's text counts: its hashtags tag the entry.
        log.push(Event {
            seq: 9,
            id: Uuid::from_u128(9),
            body: EventBody::Correction {
                target: Uuid::from_u128(3),
                text: "retry via /v1 #workaround".into(),
            },
            ..log[0].clone()
        });
        assert_eq!(facts(&log)["workaround"], "retry via /v1");
    }

    #[test]
    fn hashtags_and_their_removal() {
        let tags: Vec<_> = hashtags("a #impact, #root_cause b#x # #incident-2026 (#next)").collect();
        assert_eq!(tags, ["impact", "root_cause", "incident-2026"]);
        assert_eq!(without_draft_tags("EU down #impact #incident-2026"), "EU down #incident-2026");
        assert!(same_tag("Root-Cause", "root_cause"));
        assert!(!same_tag("next", "next_steps"));
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
