//! The post-mortem: an incident and its log rendered as Markdown in the practice's
//! `postmortem` template (the first guide's post-mortem template; the embedded one when the
//! practice has none). Pure and deterministic: the same log gives the same document.
//!
//! Where the sections come from:
//! - header: title, id, declaration date, start and end (UTC), duration, severity; author is
//!   the incident commander (else whoever declared);
//! - executive summary: the latest entry tagged `summary`, else the declaration's summary;
//! - impact: entries tagged `impact` or `customer_impact`, `revenue_impact`, `data_impact`;
//! - response team: everyone who held each role of the role set, in order;
//! - timeline (UTC, by `occurred_at`): declaration, notes, findings, actions, decisions, status,
//!   severity and title changes, role changes, playbooks, alerts and comms; a correction
//!   replaces the text of the entry it amends (marked "corrected");
//! - root cause, contributing factors, what went well, what could be improved, lessons
//!   learned: entries tagged `root_cause`, `contributing`, `went_well`, `improve`, `lesson`;
//! - action items: the folded action items as a table (action, owner, due, priority, done);
//! - checklists: done / applicable items of each checklist and attached playbook group.
//!
//! A demo incident's document starts with [`DEMO_NOTE`]. Sections without data say so. Every text from events is sanitized (`text::sanitize`) and
//! table cells are escaped.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::comms::{self, CorrectedEntry, Vars};
use super::event::{Event, EventBody, EventKind};
use super::incident::Incident;
use super::practice::{Checklist, Practice};
use super::text;
use super::timers;

/// The embedded post-mortem template, used when the practice has no `postmortem` template.
pub const DEFAULT_TEMPLATE: &str = include_str!("../../assets/practice/templates/postmortem.md");

/// Renders the post-mortem of `inc` from its `events` (see the module docs).
pub fn render(practice: &Practice, inc: &Incident, events: &[Event]) -> String {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| e.seq);
    let mut digest = Digest::default();
    for e in &sorted {
        digest.add(e);
    }
    let doc = Document::new(practice, inc, digest);
    let mut out = String::new();
    for part in 0..doc.parts() {
        out.push_str(doc.part(part));
        if part + 1 < doc.parts() {
            let mut t = doc.timeline(practice);
            for e in &sorted {
                t.push(e, &mut out);
            }
            t.finish(&mut out);
        }
    }
    out
}

/// What the post-mortem needs from a log, folded one event at a time in seq order, so that a
/// log of any length is read a page at a time ([`Document`] then streams the timeline from a
/// second pass). It keeps only the tagged entries, the role assignments, the corrections and the
/// timeline entries that were backdated before an earlier entry (usually none or a few).
#[derive(Debug, Default)]
pub struct Digest {
    kept: Vec<Event>,
    fixes: BTreeMap<uuid::Uuid, String>,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    /// Events whose `occurred_at` is before one already seen, sorted into the timeline later.
    late: Vec<Event>,
}

impl Digest {
    /// Folds the next event (callers give them in seq order).
    pub fn add(&mut self, e: &Event) {
        if self.last.is_some_and(|l| e.occurred_at < l) {
            self.late.push(e.clone());
        }
        self.first = Some(self.first.map_or(e.occurred_at, |f| f.min(e.occurred_at)));
        self.last = Some(self.last.map_or(e.occurred_at, |l| l.max(e.occurred_at)));
        match &e.body {
            EventBody::Correction { target, text } => {
                self.fixes.insert(*target, text.clone());
            }
            EventBody::RoleAssigned { .. } => self.kept.push(e.clone()),
            b if b.as_entry().is_some_and(|en| !en.tags.is_empty()) => self.kept.push(e.clone()),
            _ => {}
        }
    }
}

/// A post-mortem ready to be written: the filled template in parts, with the timeline (which
/// may be long) between consecutive parts, written by [`Timeline`] as the log is read again.
pub struct Document {
    parts: Vec<String>,
    fixes: BTreeMap<uuid::Uuid, String>,
    multi_day: bool,
    late: Vec<Event>,
}

/// Stands for the timeline in the filled template until it is split (private use, printable:
/// the sanitizer keeps it).
const TIMELINE_MARK: &str = "\u{e000}warroom-timeline\u{e000}";

impl Document {
    /// Fills the template from the digest; the timeline is left to [`Document::timeline`].
    pub fn new(practice: &Practice, inc: &Incident, d: Digest) -> Self {
        let template = practice.templates.get("postmortem").map(String::as_str).unwrap_or(DEFAULT_TEMPLATE);
        let now = inc.resolved_at.or(d.last).unwrap_or(inc.declared_at);
        // The kept entries carry their corrected text, as the full log would give them.
        let mut kept = d.kept;
        for e in &mut kept {
            if let (Some(fix), Some(en)) = (d.fixes.get(&e.id), entry_mut(&mut e.body)) {
                en.text = fix.clone();
            }
        }
        let mut v = comms::vars(practice, inc, &kept, now);
        blocks(&mut v, practice, inc, &kept);
        v.insert("timeline".into(), TIMELINE_MARK.into());
        let doc = text::sanitize(&comms::fill(template, &v), true);
        let doc = if inc.demo { format!("{DEMO_NOTE}\n\n{doc}") } else { doc };
        let mut late = d.late;
        late.sort_by_key(|e| std::cmp::Reverse((e.occurred_at, e.seq)));
        Document {
            parts: doc.split(TIMELINE_MARK).map(str::to_string).collect(),
            fixes: d.fixes,
            multi_day: d.first.map(|t| t.date_naive()) != d.last.map(|t| t.date_naive()),
            late,
        }
    }

    /// How many parts; the timeline goes between each two.
    pub fn parts(&self) -> usize {
        self.parts.len()
    }

    /// The `i`th part of the filled template.
    pub fn part(&self, i: usize) -> &str {
        &self.parts[i]
    }

    /// A writer of one copy of the timeline: give it the log again in seq order, then finish.
    pub fn timeline<'a>(&'a self, practice: &'a Practice) -> Timeline<'a> {
        Timeline { doc: self, practice, late: self.late.len(), last: None, lines: 0 }
    }
}

fn entry_mut(b: &mut EventBody) -> Option<&mut super::event::Entry> {
    match b {
        EventBody::Note(en) | EventBody::Finding(en) | EventBody::Action(en) | EventBody::Decision(en) => {
            Some(en)
        }
        _ => None,
    }
}

/// Writes the timeline's lines in (`occurred_at`, seq) order from the log given in seq order:
/// the entries in time order as they come, the backdated ones merged in from the digest.
pub struct Timeline<'a> {
    doc: &'a Document,
    practice: &'a Practice,
    /// How many of `doc.late` (sorted latest first) are still to write.
    late: usize,
    last: Option<DateTime<Utc>>,
    lines: usize,
}

impl Timeline<'_> {
    /// The next event of the log (seq order); appends the lines due to `out`.
    pub fn push(&mut self, e: &Event, out: &mut String) {
        if self.last.is_some_and(|l| e.occurred_at < l) {
            return; // backdated: written from the digest in its place
        }
        self.last = Some(e.occurred_at);
        while self.late > 0 {
            let l = &self.doc.late[self.late - 1];
            if (l.occurred_at, l.seq) > (e.occurred_at, e.seq) {
                break;
            }
            self.late -= 1;
            self.line(l, out);
        }
        self.line(e, out);
    }

    /// Writes what is left (or that nothing was recorded).
    pub fn finish(&mut self, out: &mut String) {
        while self.late > 0 {
            self.late -= 1;
            let l = &self.doc.late[self.late];
            self.line(l, out);
        }
        if self.lines == 0 {
            out.push_str("No events recorded yet.");
        }
    }

    fn line(&mut self, e: &Event, out: &mut String) {
        let Some(line) = timeline_line(self.practice, &self.doc.fixes, e) else {
            return;
        };
        if self.lines > 0 {
            out.push('\n');
        }
        self.lines += 1;
        let at = if self.doc.multi_day {
            e.occurred_at.format("%Y-%m-%d %H:%M")
        } else {
            e.occurred_at.format("%H:%M")
        };
        // Sanitized as the rest of the document is (names from the practice or the log).
        out.push_str(&text::sanitize(&format!("- {at} - {line}"), true));
    }
}

/// The first line of a demo incident's post-mortem (`warroom demo`).
pub const DEMO_NOTE: &str = "> **DEMO**: demo data loaded by `warroom demo`, not a real incident.";

fn full_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A single line of event text, safe for a terminal.
fn one_line(s: &str) -> String {
    text::line(s).trim().to_string()
}

/// Escapes a Markdown table cell.
pub fn cell(s: &str) -> String {
    one_line(s).replace('\\', "\\\\").replace('|', "\\|")
}

fn bullets(items: &[String], empty: &str) -> String {
    if items.is_empty() {
        empty.to_string()
    } else {
        items.iter().map(|i| format!("- {i}")).collect::<Vec<_>>().join("\n")
    }
}

fn tagged(entries: &[CorrectedEntry<'_>], tags: &[&str]) -> Vec<String> {
    entries.iter().filter(|e| tags.iter().any(|t| e.has_tag(t))).map(|e| one_line(&e.text)).collect()
}

fn blocks(v: &mut Vars, practice: &Practice, inc: &Incident, events: &[Event]) {
    let entries = comms::corrected_entries(events);
    let mut set = |k: &str, val: String| {
        v.insert(k.to_string(), val);
    };
    let declared = inc.revision > 0;
    if declared {
        set("start", full_time(inc.declared_at));
    }
    match inc.resolved_at {
        Some(r) => {
            set("end", full_time(r));
            set("duration", timers::format_duration(r - inc.declared_at));
        }
        None => {
            set("end", "ongoing".into());
            set("duration", "not resolved yet".into());
        }
    }
    let author = inc
        .commander()
        .map(str::to_string)
        .or_else(|| Some(inc.declared_by.clone()).filter(|s| !s.is_empty()));
    set("author", author.map(|a| format!("@{}", one_line(&a))).unwrap_or_else(|| "Not recorded.".into()));
    let summary = entries.iter().rev().find(|e| e.has_tag("summary")).map(|e| e.text.clone());
    let summary = summary.unwrap_or_else(|| inc.summary.clone());
    let summary = text::sanitize(summary.trim(), true);
    set("summary", if summary.is_empty() { "No summary recorded yet.".into() } else { summary });

    let joined = |tags: &[&str]| {
        let t = tagged(&entries, tags);
        if t.is_empty() { "Not recorded.".to_string() } else { t.join("; ") }
    };
    set("customer_impact", joined(&["impact", "customer_impact"]));
    set("revenue_impact", joined(&["revenue_impact"]));
    set("data_impact", joined(&["data_impact"]));

    set("team", team(practice, events));

    let causes: Vec<String> = entries
        .iter()
        .filter(|e| e.has_tag("root_cause"))
        .map(|e| text::sanitize(e.text.trim(), true))
        .collect();
    set(
        "root_cause_section",
        if causes.is_empty() { "No root cause recorded yet.".into() } else { causes.join("\n\n") },
    );
    set(
        "contributing",
        bullets(&tagged(&entries, &["contributing"]), "No contributing factors recorded yet."),
    );
    set("went_well", bullets(&tagged(&entries, &["went_well"]), "Nothing recorded yet."));
    set("improve", bullets(&tagged(&entries, &["improve"]), "Nothing recorded yet."));
    set("lessons", bullets(&tagged(&entries, &["lesson"]), "No lessons recorded yet."));
    set("action_items", action_items(inc));
    set("checklists", checklists(practice, inc));
}

fn role_name(practice: &Practice, role: &str) -> String {
    practice.role(role).map(|r| r.name.clone()).unwrap_or_else(|| role.to_string())
}

fn team(practice: &Practice, events: &[Event]) -> String {
    let mut held: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| e.seq);
    for e in sorted {
        if let EventBody::RoleAssigned { role, holder } = &e.body {
            let h = held.entry(role.as_str()).or_default();
            let name = format!("@{}", one_line(holder));
            if !h.contains(&name) {
                h.push(name);
            }
        }
    }
    let mut lines = Vec::new();
    for r in practice.roles() {
        let who = held.remove(r.id.as_str()).map(|h| h.join(", ")).unwrap_or_else(|| "nobody".into());
        lines.push(format!("- **{}** ({}): {who}", r.name, r.short));
    }
    for (role, h) in held {
        lines.push(format!("- **{}**: {}", one_line(role), h.join(", ")));
    }
    bullets_or(lines, "No roles recorded.")
}

fn bullets_or(lines: Vec<String>, empty: &str) -> String {
    if lines.is_empty() { empty.to_string() } else { lines.join("\n") }
}

fn by(author: &str) -> String {
    if author.is_empty() { String::new() } else { format!(" by @{}", one_line(author)) }
}

fn kind_label(k: EventKind) -> &'static str {
    match k {
        EventKind::Note => "Note",
        EventKind::Finding => "Finding",
        EventKind::Action => "Action",
        EventKind::Decision => "Decision",
        _ => "Entry",
    }
}

/// The timeline's text for one event (after its time), `None` for what the timeline leaves out.
fn timeline_line(practice: &Practice, fixes: &BTreeMap<uuid::Uuid, String>, e: &Event) -> Option<String> {
    {
        let a = by(&e.author);
        let line = match &e.body {
            EventBody::Declared { title, severity, .. } => {
                format!("Incident declared ({}){a}: {}", one_line(severity), one_line(title))
            }
            EventBody::SeverityChanged { severity } => {
                format!("Severity changed to {}{a}", one_line(severity))
            }
            EventBody::StatusChanged { status } => {
                format!("Status changed to {}{a}", comms::status_label(*status))
            }
            EventBody::TitleChanged { title } => format!("Title changed to \"{}\"{a}", one_line(title)),
            EventBody::RoleAssigned { role, holder } => {
                format!("@{} assigned as {}{a}", one_line(holder), role_name(practice, role))
            }
            EventBody::RoleReleased { role, holder: Some(h) } => {
                format!("@{} released from {}{a}", one_line(h), role_name(practice, role))
            }
            EventBody::RoleReleased { role, holder: None } => {
                format!("{} released{a}", role_name(practice, role))
            }
            EventBody::PlaybookAttached { playbook } => {
                let name =
                    practice.playbook(playbook).map(|p| p.name.clone()).unwrap_or_else(|| playbook.clone());
                format!("Playbook attached: {}{a}", one_line(&name))
            }
            EventBody::Note(en)
            | EventBody::Finding(en)
            | EventBody::Action(en)
            | EventBody::Decision(en) => {
                let (t, corrected) = match fixes.get(&e.id) {
                    Some(fix) => (fix.as_str(), true),
                    None => (en.text.as_str(), false),
                };
                let mut notes = Vec::new();
                if !e.author.is_empty() {
                    notes.push(format!("@{}", one_line(&e.author)));
                }
                if corrected {
                    notes.push("corrected".to_string());
                }
                let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) };
                format!("{}: {}{notes}", kind_label(e.kind()), one_line(t))
            }
            EventBody::CommsSent { channel, text, .. } => {
                let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
                format!("Comms sent to {}{a}: {}", one_line(channel), one_line(first))
            }
            EventBody::AlertAttached(al) => match &al.summary {
                Some(s) => format!("Alert {} {}: {}", one_line(&al.name), one_line(&al.status), one_line(s)),
                None => format!("Alert {} {}", one_line(&al.name), one_line(&al.status)),
            },
            // Notifications: what reached people, and what never did; retries are left out.
            EventBody::Delivery { ok: true, .. } | EventBody::Delivery { gave_up: true, .. } => {
                format!("Notification: {}", one_line(&e.body.summary()))
            }
            EventBody::Escalated { .. } => format!("Escalation: {}", one_line(&e.body.summary())),
            EventBody::DemoRemoved {} => format!("Demo incident removed{a}"),
            EventBody::Delivery { .. } => return None,
            EventBody::ChecklistItemSet { .. }
            | EventBody::ActionItemAdded { .. }
            | EventBody::ActionItemUpdated { .. }
            | EventBody::Correction { .. } => return None,
        };
        Some(line)
    }
}

fn action_items(inc: &Incident) -> String {
    if inc.action_items.is_empty() {
        return "No action items recorded yet.".into();
    }
    let mut out = String::from(
        "| Action | Owner | Due Date | Priority | Done |\n|--------|-------|----------|----------|------|",
    );
    for ai in &inc.action_items {
        let owner =
            ai.owner.as_deref().map(|o| format!("@{}", cell(o))).unwrap_or_else(|| "unassigned".into());
        let due = ai.due.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "none".into());
        let prio = match ai.priority {
            super::status::Priority::High => "High",
            super::status::Priority::Medium => "Med",
            super::status::Priority::Low => "Low",
        };
        let done = if ai.done { "yes" } else { "no" };
        out.push_str(&format!("\n| {} | {owner} | {due} | {prio} | {done} |", cell(&ai.text)));
    }
    out
}

fn checklists(practice: &Practice, inc: &Incident) -> String {
    let mut lists: Vec<(String, String, &Checklist)> =
        practice.incident_checklists().into_iter().map(|c| (c.id.clone(), c.name.clone(), c)).collect();
    for pb in &inc.playbooks {
        if let Some(p) = practice.playbook(pb) {
            for g in &p.groups {
                lists.push((format!("{}.{}", p.id, g.id), format!("{}: {}", p.name, g.name), g));
            }
        }
    }
    let lines = lists
        .into_iter()
        .map(|(id, name, c)| {
            let applicable: Vec<_> = c.items.iter().filter(|i| i.applies_to(&inc.severity)).collect();
            let open: Vec<_> = applicable
                .iter()
                .filter(|i| !inc.item_done(&id, &i.id).is_some_and(|s| s.done))
                .map(|i| one_line(&i.text))
                .collect();
            let done = applicable.len() - open.len();
            let mut line = format!("- **{}**: {done}/{} done", one_line(&name), applicable.len());
            if !open.is_empty() {
                line.push_str(&format!("; not done: {}", open.join("; ")));
            }
            line
        })
        .collect();
    bullets_or(lines, "No checklists.")
}
