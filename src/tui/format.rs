//! Text shared by the reducer and the UI: times in the configured zone, and the one-line
//! form of a timeline row (what the timeline shows and what copy puts on the clipboard).
//! Everything that came from the server is sanitized here before it can reach a terminal.

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::{DateTime, Local, Timelike, Utc};

use crate::domain::{EventBody, Practice, text};

use super::timeline::{Known, Row, Timeline};

/// `HH:MM:SS` in UTC or local time.
pub fn time(dt: DateTime<Utc>, tz: TimeDisplay) -> String {
    // Written by hand: chrono's `format` parses its pattern each time (it showed in the
    // frame's profile, once per timeline row).
    let (h, m, s) = match tz {
        TimeDisplay::Utc => (dt.hour(), dt.minute(), dt.second()),
        TimeDisplay::Local => {
            let l = dt.with_timezone(&Local);
            (l.hour(), l.minute(), l.second())
        }
    };
    let mut out = String::with_capacity(8);
    let _ = write!(out, "{h:02}:{m:02}:{s:02}");
    out
}

/// `YYYY-MM-DD HH:MM:SS UTC` (or local with its offset).
pub fn datetime(dt: DateTime<Utc>, tz: TimeDisplay) -> String {
    match tz {
        TimeDisplay::Utc => dt.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        TimeDisplay::Local => dt.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S %:z").to_string(),
    }
}

/// The zone suffix shown next to times.
pub fn zone(tz: TimeDisplay) -> &'static str {
    match tz {
        TimeDisplay::Utc => "UTC",
        TimeDisplay::Local => "local",
    }
}

/// The text a row shows: an entry's latest corrected text, else the event's summary. One
/// line, sanitized.
pub fn row_text(row: Row<'_>, tl: &Timeline, p: Option<&Practice>) -> String {
    row_text_upto(row, tl, None, p)
}

/// [`row_text`] with only the corrections known at a replay's moment.
pub fn row_text_upto(row: Row<'_>, tl: &Timeline, seq: Option<Known>, p: Option<&Practice>) -> String {
    row_text_shown(row, tl, seq, p).into_owned()
}

/// [`row_text_upto`], borrowed where the text shows as it is (most entries).
pub fn row_text_shown<'a>(
    row: Row<'a>,
    tl: &'a Timeline,
    seq: Option<Known>,
    p: Option<&Practice>,
) -> Cow<'a, str> {
    if let Row::Event(e) = row {
        if let Some(t) = tl.corrected_text_upto(&e.id(), seq) {
            return Cow::Owned(text::line(t));
        }
        if let Some(t) = e.plain_text() {
            return Cow::Borrowed(t);
        }
        // An entry's summary is its text.
        if let Some(t) = e.entry_text() {
            return Cow::Owned(text::line(t));
        }
    }
    Cow::Owned(text::line(&summary(&row.body(), p)))
}

/// An event's one-line summary with the practice's display names (role names, playbook names,
/// checklist item texts) where the wire has ids; the ids where the practice does not know them.
pub fn summary(body: &EventBody, p: Option<&Practice>) -> String {
    let role = |id: &str| p.and_then(|p| p.role(id)).map_or_else(|| id.to_string(), |r| r.name.clone());
    match body {
        EventBody::RoleAssigned { role: r, holder } => format!("{holder} is {}", role(r)),
        EventBody::RoleReleased { role: r, holder: Some(h) } => format!("{h} released {}", role(r)),
        EventBody::RoleReleased { role: r, holder: None } => format!("{} released", role(r)),
        EventBody::PlaybookAttached { playbook } => {
            let name = p.and_then(|p| p.playbook(playbook)).map_or(playbook.as_str(), |pb| pb.name.as_str());
            format!("playbook {name} attached")
        }
        EventBody::ChecklistItemSet { checklist, item, done } => {
            let found =
                p.and_then(|p| p.checklist(checklist)).and_then(|c| c.items.iter().find(|i| &i.id == item));
            match found {
                Some(i) => format!("{} {}", if *done { "[x]" } else { "[ ]" }, i.text),
                None => body.summary(),
            }
        }
        EventBody::ActionItemUpdated { text: t, owner, due, priority, done, .. } if *done != Some(true) => {
            // What changed, not only that something did.
            let mut what = Vec::new();
            if let Some(t) = t {
                what.push(format!("text “{t}”"));
            }
            if let Some(o) = owner {
                what.push(format!("owner {o}"));
            }
            if let Some(d) = due {
                what.push(format!("due {d}"));
            }
            if let Some(p) = priority {
                what.push(format!("priority {}", p.as_str()));
            }
            if *done == Some(false) {
                what.push("reopened".to_string());
            }
            match what.is_empty() {
                true => body.summary(),
                false => format!("action item updated: {}", what.join(", ")),
            }
        }
        b => b.summary(),
    }
}

/// A comms template's title (`internal alert` for `internal-alert`: its label up to the dash).
pub fn template_title(template: &str, p: Option<&Practice>) -> String {
    p.and_then(|p| crate::domain::comms::templates(p).into_iter().find(|(n, _)| n == template)).map_or_else(
        || template.replace('-', " "),
        |(_, label)| label.split(" — ").next().unwrap_or_default().to_string(),
    )
}

/// A short kind label for the timeline column.
pub fn kind_label(body: &EventBody) -> &'static str {
    kind_label_of(body.kind())
}

/// [`kind_label`] of a kind.
pub fn kind_label_of(kind: crate::domain::EventKind) -> &'static str {
    use crate::domain::EventKind::*;
    match kind {
        Declared => "declared",
        SeverityChanged => "severity",
        StatusChanged => "status",
        TitleChanged => "title",
        RoleAssigned | RoleReleased => "role",
        ChecklistItemSet => "check",
        PlaybookAttached => "playbook",
        Note => "note",
        Finding => "finding",
        Action => "action",
        Decision => "decision",
        CommsSent => "comms",
        AlertAttached => "alert",
        ActionItemAdded | ActionItemUpdated => "item",
        Correction => "correct",
        Delivery => "notify",
        Escalated => "escalate",
        DemoRemoved => "demo",
    }
}

/// One row as plain text: `HH:MM:SS author kind: text` (pending rows say so).
pub fn row_line(row: Row<'_>, tl: &Timeline, tz: TimeDisplay, p: Option<&Practice>) -> String {
    row_line_upto(row, tl, tz, None, p)
}

/// [`row_line`] with only the corrections known at a replay's moment.
pub fn row_line_upto(
    row: Row<'_>,
    tl: &Timeline,
    tz: TimeDisplay,
    seq: Option<Known>,
    p: Option<&Practice>,
) -> String {
    let author = match row {
        Row::Event(e) => e.author_line(),
        Row::Pending(_) => "(pending)",
    };
    format!(
        "{} {author} {}: {}",
        time(row.occurred_at(), tz),
        kind_label_of(row.kind()),
        row_text_upto(row, tl, seq, p)
    )
}

/// The whole of a row, for the detail popup and copying it: every field, full text, the
/// original and each correction.
pub fn row_detail(row: Row<'_>, tl: &Timeline, tz: TimeDisplay, p: Option<&Practice>) -> Vec<String> {
    let mut out = Vec::new();
    let body = row.body();
    let body = body.as_ref();
    match row {
        Row::Event(e) => {
            out.push(format!("{} #{} by {}", body.kind(), e.seq(), e.author_line()));
            out.push(format!("occurred {}", datetime(e.occurred_at(), tz)));
            let late = if e.is_late() { " (recorded late)" } else { "" };
            out.push(format!("recorded {}{late}", datetime(e.recorded_at(), tz)));
        }
        Row::Pending(p) => {
            out.push(format!("{} (pending: queued, not yet recorded)", body.kind()));
            out.push(format!("occurred {}", datetime(p.occurred_at, tz)));
        }
    }
    out.push(format!("id {}", row.id()));
    out.push(String::new());
    let full = match body {
        EventBody::CommsSent { channel, text: t, .. } => format!("comms to {channel}:\n{t}"),
        b => b.as_entry().map(|e| e.text.clone()).unwrap_or_else(|| summary(b, p)),
    };
    let amends = tl.corrections(&row.id());
    if let Some(last) = amends.last() {
        out.push("Corrected text:".into());
        out.extend(text::sanitize(&last.text, true).lines().map(|l| format!("  {l}")));
        out.push(String::new());
        out.push("Original:".into());
    }
    out.extend(text::sanitize(&full, true).lines().map(str::to_string));
    if let Some(entry) = body.as_entry()
        && !entry.tags.is_empty()
    {
        out.push(format!("tags: {}", text::line(&entry.tags.join(", "))));
    }
    if !amends.is_empty() {
        out.push(String::new());
        out.push("Corrections:".into());
        for a in amends {
            out.push(format!(
                "  {} by {} (#{}): {}",
                time(a.at, tz),
                text::line(&a.author),
                a.seq,
                text::line(&a.text)
            ));
        }
    }
    out
}

/// How times are shown (`time` in `config.toml`): in UTC (the default) or local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeDisplay {
    #[default]
    Utc,
    Local,
}
