//! Changes that ask once (#11): resolving or closing an incident while checklist items are
//! open or roles are held by nobody, and lowering the severity. The picker stays open and
//! says what is open (by the practice's names); Enter on the same choice again goes ahead,
//! esc keeps things as they are.

use super::overlay::PickKind;
use super::{CheckRow, State};
use crate::domain::Status;

/// How many open items a warning names before it says "and N more".
const NAMED: usize = 2;

/// Why choosing `value` in a `kind` picker needs a second Enter, or `None`.
pub fn warning(s: &State, incident: &str, kind: &PickKind, value: &str) -> Option<String> {
    let inc = s.incidents.get(incident)?;
    match kind {
        PickKind::Status => {
            let status: Status = value.parse().ok()?;
            let verb = match status {
                Status::Resolved => "resolve",
                Status::Closed => "close",
                _ => return None,
            };
            let items: Vec<&str> = s
                .checklist_rows(inc)
                .into_iter()
                .filter_map(|r| match r {
                    CheckRow::Item { checklist, item, .. }
                        if !inc.item_done(&checklist, &item.id).is_some_and(|x| x.done) =>
                    {
                        Some(item.text.as_str())
                    }
                    _ => None,
                })
                .collect();
            let roles: Vec<&str> =
                s.roster_rows(inc).into_iter().filter(|r| r.holders.is_empty()).map(|r| r.name).collect();
            let mut open = Vec::new();
            if !items.is_empty() {
                let n = items.len();
                let mut named: Vec<String> =
                    items.iter().take(NAMED).map(|t| format!("“{}”", short(t))).collect();
                if n > NAMED {
                    named.push(format!("{} more", n - NAMED));
                }
                let noun = if n == 1 { "checklist item" } else { "checklist items" };
                open.push(format!("{n} open {noun}: {}", named.join(", ")));
            }
            if !roles.is_empty() {
                open.push(format!("nobody is {}", roles.join(" or ")));
            }
            if open.is_empty() {
                return None;
            }
            Some(format!("{}. Enter again to {verb} anyway, esc to keep it {}.", open.join("; "), inc.status))
        }
        PickKind::Severity => {
            let levels = &s.practice.as_ref()?.scheme().levels;
            let rank = |id: &str| levels.iter().position(|l| l.id == id);
            let (from, to) = (rank(&inc.severity)?, rank(value)?);
            if to <= from {
                return None;
            }
            let name = |i: usize| format!("{} ({})", levels[i].id, levels[i].name);
            Some(format!(
                "This lowers the severity from {} to {}. Enter again to lower it, esc to keep {}.",
                name(from),
                name(to),
                levels[from].id
            ))
        }
        _ => None,
    }
}

/// A checklist item's text, shortened at a word to fit a warning.
fn short(text: &str) -> String {
    const MAX: usize = 32;
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= MAX {
        return line.to_string();
    }
    let cut: String = line.chars().take(MAX).collect();
    let at = cut.rfind(' ').filter(|&i| i > MAX / 2).unwrap_or(cut.len());
    format!("{}…", cut[..at].trim_end())
}
