//! The modal parts of the console: the composer (with its time field), the comms editor (with
//! its channel field), one-line prompts (search, assign to a name, action items), pickers
//! (status, severity, kind filter, playbook, comms template), the declare form and the
//! read-only popups (help, entry detail). They live in the state, so a resize or a
//! network message never loses what is being typed.

use chrono::{DateTime, Duration, Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use ratatui::style::{Modifier, Style};
use ratatui_textarea::{TextArea, WrapMode};
use uuid::Uuid;

use crate::domain::{EventKind, Status, text};
use crate::tui::action::Action;
use crate::tui::format::TimeDisplay;
use crate::tui::keymap::Context;

/// A text field styled without colour (the theme adds colour around it).
pub fn new_input(lines: Vec<String>) -> TextArea<'static> {
    let mut t = TextArea::new(lines);
    t.set_cursor_line_style(Style::new());
    t.set_selection_style(Style::new().add_modifier(Modifier::REVERSED));
    t.set_placeholder_style(Style::new().add_modifier(Modifier::DIM));
    t.set_cursor_style(Style::new().add_modifier(Modifier::REVERSED));
    t.set_wrap_mode(WrapMode::WordOrGlyph);
    t.move_cursor(ratatui_textarea::CursorMove::Bottom);
    t.move_cursor(ratatui_textarea::CursorMove::End);
    t
}

/// The text of a field, lines joined with `\n`, trimmed at the ends.
pub fn input_text(t: &TextArea<'_>) -> String {
    t.lines().join("\n").trim().to_string()
}

/// A key in a single-line field: it takes no newlines (Enter is the form's), and a paste
/// keeps to one line.
pub fn single_line_input(t: &mut TextArea<'static>, action: Action) {
    match action {
        Action::Input(k) if matches!(k.code, crossterm::event::KeyCode::Enter) => {}
        // Ctrl-U clears the field, as in a shell (the text field's own Ctrl-U is undo).
        Action::Input(k)
            if k.code == crossterm::event::KeyCode::Char('u')
                && k.modifiers.contains(crossterm::event::KeyModifiers::CONTROL) =>
        {
            t.move_cursor(ratatui_textarea::CursorMove::End);
            t.delete_line_by_head();
        }
        Action::Input(k) => {
            t.input(k);
        }
        Action::Paste(p) => {
            t.insert_str(text::line(&p));
        }
        _ => {}
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ComposeKind {
    /// A new timeline entry (note, finding, action, decision).
    Entry(EventKind),
    /// A correction of an earlier entry.
    Correction { target: Uuid },
}

#[derive(Debug, Clone)]
pub struct Composer {
    pub incident: String,
    pub kind: ComposeKind,
    pub input: TextArea<'static>,
    /// Taken when the key that opened the composer was pressed; editable (back-dating).
    pub occurred_at: DateTime<Utc>,
    /// Open while the time is being edited.
    pub time_input: Option<TextArea<'static>>,
    pub error: Option<String>,
}

/// A kept draft: what the scribe typed and when the entry started.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub text: Vec<String>,
    pub occurred_at: DateTime<Utc>,
}

/// A correction being typed or kept (restored after a crash): its text and the text it amends
/// as the editor opened with it (an untouched correction is no draft).
#[derive(Debug, Clone, PartialEq)]
pub struct CorrectionDraft {
    pub text: Vec<String>,
    pub was: String,
}

impl CorrectionDraft {
    /// Changed from what it amends, and not emptied.
    pub fn typed(&self) -> bool {
        let now = self.text.join("\n");
        let now = now.trim();
        !now.is_empty() && now != self.was
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PromptKind {
    /// Search the timeline, incrementally (the view follows what is typed). `before` is what
    /// Esc restores: the search, the selected entry's seq (`None`: following the tail).
    Search { before: Option<String>, origin: Option<u64> },
    /// Give a role to a typed name.
    AssignTo {
        role: String,
        /// The role's display name (the practice's).
        name: String,
    },
    /// A new action item: its text first...
    ActionItem,
    /// ...then an optional owner.
    ActionItemOwner { text: String },
}

#[derive(Debug, Clone)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: TextArea<'static>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PickKind {
    Status,
    Severity,
    Filter,
    /// Attach one of the practice's playbooks.
    Playbook,
    /// Draft a status update from one of the practice's comms templates.
    Template,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Picker {
    pub kind: PickKind,
    pub incident: String,
    /// Values (status names, severity ids, kind names; "" = all kinds) and their labels.
    pub options: Vec<(String, String)>,
    pub selected: usize,
    /// The current value, marked in the list.
    pub current: Option<String>,
    /// The revision the user saw when the picker opened (If-Match of the change).
    pub if_match: u64,
    /// Why the picker is open again (a refused, stale change), or what a change would leave
    /// open (`confirm`).
    pub message: Option<String>,
    /// The choice that was warned about: Enter on it again goes ahead.
    pub armed: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DeclareForm {
    pub title: TextArea<'static>,
    /// Index into the scheme's levels.
    pub severity: usize,
    pub error: Option<String>,
}

/// A status update being edited: drafted from a comms template, then copied (OSC 52) and/or
/// recorded as `comms_sent` to a channel.
#[derive(Debug, Clone)]
pub struct CommsEditor {
    pub incident: String,
    /// The template it was drafted from (`internal-alert`, `customer`, `resolution`).
    pub template: String,
    pub input: TextArea<'static>,
    /// The text as drafted (an unedited draft is not kept when the editor closes).
    pub drafted: String,
    /// Open while the channel is asked for (before recording).
    pub channel: Option<TextArea<'static>>,
    pub error: Option<String>,
}

// One overlay at a time lives in the state; the composer is the common one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Overlay {
    Composer(Composer),
    Comms(CommsEditor),
    Prompt(Prompt),
    Picker(Picker),
    Declare(DeclareForm),
    /// Every key of `context`.
    Help {
        context: Context,
        scroll: u16,
    },
    /// One timeline entry in full, corrections and original included.
    Detail {
        incident: String,
        id: Uuid,
        scroll: u16,
    },
}

impl Overlay {
    pub fn context(&self) -> Context {
        match self {
            Overlay::Composer(c) if c.time_input.is_some() => Context::Prompt,
            Overlay::Composer(_) => Context::Composer,
            Overlay::Comms(c) if c.channel.is_some() => Context::Prompt,
            Overlay::Comms(_) => Context::Comms,
            Overlay::Prompt(_) => Context::Prompt,
            Overlay::Picker(_) => Context::Picker,
            Overlay::Declare(_) => Context::Form,
            Overlay::Help { .. } | Overlay::Detail { .. } => Context::Popup,
        }
    }
}

pub fn status_options() -> Vec<(String, String)> {
    Status::ALL
        .iter()
        .filter(|s| **s != Status::Declared)
        .map(|s| (s.as_str().to_string(), s.as_str().to_string()))
        .collect()
}

pub fn filter_options() -> Vec<(String, String)> {
    std::iter::once((String::new(), "all kinds".to_string()))
        .chain(EventKind::ALL.iter().map(|k| (k.as_str().to_string(), k.as_str().replace('_', " "))))
        .collect()
}

/// Parses an edited entry time. Accepts `HH:MM[:SS]` (on the day of `base`, or the day
/// before if that would be in the future), `YYYY-MM-DD HH:MM[:SS]`, RFC 3339, and relative
/// `-5m` / `-1h30m` / `-90s` / `-2d` / `-1w` (before `now`; a bare number is minutes). Times
/// without a zone are in the display zone.
pub fn parse_time(
    s: &str,
    base: DateTime<Utc>,
    now: DateTime<Utc>,
    tz: TimeDisplay,
) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    let bad = || format!("cannot read `{s}` as a time: use HH:MM[:SS], YYYY-MM-DD HH:MM, -5m or -2d");
    let too_far = || format!("`{s}` is too far back");
    if let Some(rel) = s.strip_prefix('-') {
        let mut total = 0i64;
        let mut num = String::new();
        for c in rel.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            // All digits and still no i64: too many of them.
            let n: i64 = num.parse().map_err(|_| if num.is_empty() { bad() } else { too_far() })?;
            num.clear();
            let unit = match c {
                'w' => 7 * 86_400,
                'd' => 86_400,
                'h' => 3600,
                'm' => 60,
                's' => 1,
                _ => return Err(bad()),
            };
            total = n.checked_mul(unit).and_then(|x| total.checked_add(x)).ok_or_else(too_far)?;
        }
        if !num.is_empty() {
            // All digits and still no i64: too many of them.
            let n: i64 = num.parse().map_err(|_| if num.is_empty() { bad() } else { too_far() })?;
            total = n.checked_mul(60).and_then(|x| total.checked_add(x)).ok_or_else(too_far)?;
        }
        // Overflow-checked: `-99999999999h` is refused, never a panic.
        return Duration::try_seconds(total).and_then(|d| now.checked_sub_signed(d)).ok_or_else(too_far);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let to_utc = |naive: NaiveDateTime| -> Option<DateTime<Utc>> {
        match tz {
            TimeDisplay::Utc => Some(Utc.from_utc_datetime(&naive)),
            TimeDisplay::Local => Local.from_local_datetime(&naive).earliest().map(|t| t.with_timezone(&Utc)),
        }
    };
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return to_utc(n).ok_or_else(bad);
        }
    }
    let time = NaiveTime::parse_from_str(s, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .map_err(|_| bad())?;
    let day: NaiveDate = match tz {
        TimeDisplay::Utc => base.date_naive(),
        TimeDisplay::Local => base.with_timezone(&Local).date_naive(),
    };
    let t = to_utc(day.and_time(time)).ok_or_else(bad)?;
    // A time of day later than now means yesterday (an entry from before midnight).
    Ok(if t > now { t - Duration::days(1) } else { t })
}

/// `warroom report --since`: how far back, in the forms [`parse_time`] takes (`-2d`,
/// `2026-11-01 00:00`, `09:00`, ...) plus the report's shorthand without the dash: `30d`, `12h`,
/// `2w`, `90m` (or `90min`); a bare number there is days. Never after `now`.
pub fn parse_since(s: &str, now: DateTime<Utc>, tz: TimeDisplay) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let t = match (&s[..digits], &s[digits..]) {
        (n, unit) if !n.is_empty() && matches!(unit, "" | "m" | "min" | "h" | "d" | "w") => {
            let unit = match unit {
                "" => "d",
                "min" => "m",
                u => u,
            };
            let rel = format!("-{n}{unit}");
            parse_time(&rel, now, now, tz).map_err(|e| e.replace(&format!("`{rel}`"), &format!("`{s}`")))?
        }
        _ => parse_time(s, now, now, tz)?,
    };
    if t > now {
        return Err(format!("`{s}` is in the future: --since takes a time in the past, e.g. 30d"));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_times() {
        let now = Utc.with_ymd_and_hms(2026, 3, 4, 10, 0, 0).unwrap();
        let p = |s| parse_time(s, now, now, TimeDisplay::Utc);
        assert_eq!(p("09:41").unwrap(), Utc.with_ymd_and_hms(2026, 3, 4, 9, 41, 0).unwrap());
        assert_eq!(p("09:41:05").unwrap(), Utc.with_ymd_and_hms(2026, 3, 4, 9, 41, 5).unwrap());
        assert_eq!(p("23:50").unwrap(), Utc.with_ymd_and_hms(2026, 3, 3, 23, 50, 0).unwrap());
        assert_eq!(p("-5m").unwrap(), Utc.with_ymd_and_hms(2026, 3, 4, 9, 55, 0).unwrap());
        assert_eq!(p("-1h30m").unwrap(), Utc.with_ymd_and_hms(2026, 3, 4, 8, 30, 0).unwrap());
        assert_eq!(p("2026-03-01 12:00").unwrap(), Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap());
        assert!(p("soon").is_err());
        assert!(p("-5x").is_err());
        assert_eq!(p("-2d").unwrap(), Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap());
        assert_eq!(p("-1w1d").unwrap(), Utc.with_ymd_and_hms(2026, 2, 24, 10, 0, 0).unwrap());
        for huge in
            ["-99999999999h", "-9223372036854775807s", "-99999999999999999999m", "-1h99999999999999999m"]
        {
            assert!(p(huge).is_err(), "{huge}");
        }
    }

    #[test]
    fn since_takes_the_shorthand_and_every_time_form() {
        let now = Utc.with_ymd_and_hms(2026, 3, 4, 10, 0, 0).unwrap();
        let p = |s| parse_since(s, now, TimeDisplay::Utc);
        assert_eq!(p("30d").unwrap(), now - Duration::days(30));
        assert_eq!(p("12h").unwrap(), now - Duration::hours(12));
        assert_eq!(p("2w").unwrap(), now - Duration::weeks(2));
        assert_eq!(p("90m").unwrap(), now - Duration::minutes(90));
        assert_eq!(p("90min").unwrap(), now - Duration::minutes(90));
        assert_eq!(p("3").unwrap(), now - Duration::days(3));
        assert_eq!(p("-2d").unwrap(), now - Duration::days(2));
        assert_eq!(p("2026-03-01 12:00").unwrap(), Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap());
        assert!(p("soon").is_err());
        assert!(p("3y").unwrap_err().contains("cannot read `3y`"));
        assert!(p("2026-03-05 00:00").unwrap_err().contains("in the future"));
        for huge in ["100000000d", "99999999999999999999d", "9223372036854775807w", "-99999999999w"] {
            assert!(p(huge).unwrap_err().contains("too far back"), "{huge}");
        }
        assert!(p("100000000d").unwrap_err().contains("`100000000d`"));
    }
}
