//! The write verbs for scripts and runbooks: `status`, `severity`, `ack`, `assign`, `release`,
//! `check`, `action-item add|done` and `playbook attach` (those that need no look-up through
//! [`set`]). Each names what the console's key
//! would write (the same `EventBody`), resolved against what the server holds (numbers as
//! `warroom show` lists them, role short names); `change` does the rest.

use std::process::ExitCode;

use uuid::Uuid;

use super::change::{Known, Sent, change, read, report};
use super::exit::{EXIT_UNREACHABLE, Failure};
use crate::cli::args::{Guard, OutputFormat};
use crate::cli::connect::Conn;
use crate::client::ClientError;
use crate::domain::{EventBody, Status, text};

/// Reads what the server holds, builds the change from it (or offline from what was typed),
/// sends it and reports.
async fn run(
    conn: &Conn,
    incident: &str,
    format: OutputFormat,
    if_revision: Option<u64>,
    build: impl FnOnce(&Result<Known, ClientError>) -> Result<EventBody, Failure>,
) -> anyhow::Result<ExitCode> {
    let known = read(conn, incident, false).await?;
    let body = build(&known)?;
    let sent = change(conn, incident, &known, body, if_revision).await?;
    Ok(report(format, incident, &sent))
}

/// What cannot be looked up while the server is unreachable.
fn offline(e: &ClientError, what: &str) -> Failure {
    Failure::new(EXIT_UNREACHABLE, format!("{e}\nnothing queued: {what}"))
}

/// A change that needs no look-up: a status, a severity (canonicalised by the practice), a
/// new action item, a playbook to attach.
pub(in crate::cli) async fn set(
    conn: &Conn,
    incident: &str,
    body: EventBody,
    if_revision: Option<u64>,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    run(conn, incident, format, if_revision, |_| Ok(body)).await
}

/// `acknowledged`, unless the incident was acknowledged already (whatever its status now).
pub(in crate::cli) async fn ack(
    conn: &Conn,
    incident: &str,
    guard: Guard,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let known = read(conn, incident, false).await?;
    if let Ok(k) = &known
        && let Some(at) = k.incident.acknowledged_at
    {
        let why = format!(
            "{}: already acknowledged at {} (now {})",
            text::line(incident),
            at.format("%Y-%m-%d %H:%M:%S UTC"),
            k.incident.status
        );
        return Ok(report(format, incident, &Sent::Unchanged(why)));
    }
    let body = EventBody::StatusChanged { status: Status::Acknowledged };
    let sent = change(conn, incident, &known, body, guard.if_revision).await?;
    Ok(report(format, incident, &sent))
}

/// A role of the server's role set by id, short name or name; as typed when offline (the
/// server checks it when the write is sent).
fn role_id(known: &Result<Known, ClientError>, role: &str) -> Result<String, Failure> {
    let Ok(k) = known else { return Ok(role.to_string()) };
    match k.practice.find_role(role) {
        Some(r) => Ok(r.id.clone()),
        None => {
            let ids: Vec<String> =
                k.practice.roles().iter().map(|r| format!("{} ({})", r.id, r.short)).collect();
            Err(Failure::not_found(format!(
                "unknown role `{}` (roles: {})",
                text::line(role),
                ids.join(", ")
            )))
        }
    }
}

/// `assign` (with the person taking the role) or `release` (of one holder, or of all).
pub(in crate::cli) enum RoleChange {
    Assign(String),
    Release(Option<String>),
}

pub(in crate::cli) async fn role(
    conn: &Conn,
    incident: &str,
    role: &str,
    change: RoleChange,
    guard: Guard,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    run(conn, incident, format, guard.if_revision, |k| {
        let role = role_id(k, role)?;
        Ok(match change {
            RoleChange::Assign(holder) => EventBody::RoleAssigned { role, holder },
            RoleChange::Release(holder) => EventBody::RoleReleased { role, holder },
        })
    })
    .await
}

/// Which checklist item `item` names for the incident: its number in `warroom show`, its id
/// (when one checklist has it), or `checklist/item` (taken as typed when offline).
fn checklist_item(
    known: &Result<Known, ClientError>,
    incident: &str,
    item: &str,
) -> Result<(String, String), Failure> {
    let k = match known {
        Ok(k) => k,
        Err(e) => {
            return match item.split_once('/') {
                Some((c, i)) => Ok((c.to_string(), i.to_string())),
                None => Err(offline(
                    e,
                    &format!(
                        "looking up item `{}` needs the server; name it as checklist/item to queue the tick",
                        text::line(item)
                    ),
                )),
            };
        }
    };
    let lists = k.practice.checklists_for(&k.incident);
    let all: Vec<(&str, &str)> =
        lists.iter().flat_map(|l| l.items.iter().map(|i| (l.id.as_str(), i.id.as_str()))).collect();
    let inc = text::line(incident);
    if let Ok(n) = item.parse::<usize>() {
        return match n.checked_sub(1).and_then(|i| all.get(i)) {
            Some((c, i)) => Ok((c.to_string(), i.to_string())),
            None => Err(Failure::not_found(format!(
                "{inc} has no checklist item {n} (items 1 to {}; `warroom show {inc}` numbers them)",
                all.len()
            ))),
        };
    }
    if let Some((c, i)) = item.split_once('/') {
        return Ok((c.to_string(), i.to_string()));
    }
    let matches: Vec<&(&str, &str)> = all.iter().filter(|(_, i)| *i == item).collect();
    match matches.as_slice() {
        [(c, i)] => Ok((c.to_string(), i.to_string())),
        [] => Err(Failure::not_found(format!(
            "{inc} has no checklist item `{}` (`warroom show {inc}` lists them)",
            text::line(item)
        ))),
        many => {
            let names: Vec<String> = many.iter().map(|(c, i)| format!("{c}/{i}")).collect();
            Err(Failure::new(
                2,
                format!("`{}` is in several checklists: name one of {}", text::line(item), names.join(", ")),
            ))
        }
    }
}

/// Which action item `item` names: its number in `warroom show`, or its id (a unique
/// beginning will do; the whole id when offline).
fn action_item(known: &Result<Known, ClientError>, incident: &str, item: &str) -> Result<Uuid, Failure> {
    let k = match known {
        Ok(k) => k,
        Err(e) => {
            return Uuid::parse_str(item).map_err(|_| {
                offline(
                    e,
                    "looking up an action item by number needs the server; give its whole id to queue it",
                )
            });
        }
    };
    let items = &k.incident.action_items;
    let inc = text::line(incident);
    if let Ok(n) = item.parse::<usize>()
        && let Some(ai) = n.checked_sub(1).and_then(|i| items.get(i))
    {
        return Ok(ai.id);
    }
    let wanted = item.to_ascii_lowercase();
    let found: Vec<Uuid> = items
        .iter()
        .filter(|a| wanted.len() >= 4 && a.id.to_string().starts_with(&wanted))
        .map(|a| a.id)
        .collect();
    match found.as_slice() {
        [id] => Ok(*id),
        _ => Err(Failure::not_found(format!(
            "{inc} has no action item `{}` ({} action item(s); `warroom show {inc}` numbers them)",
            text::line(item),
            items.len()
        ))),
    }
}

/// What `tick` sets: a checklist item's tick, or an action item's done.
pub(in crate::cli) enum Tick {
    ChecklistItem,
    ActionItem,
}

/// Ticks (or with `undo` unticks) a checklist item, or marks an action item done (or open).
pub(in crate::cli) async fn tick(
    conn: &Conn,
    incident: &str,
    what: Tick,
    item: &str,
    undo: bool,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    run(conn, incident, format, None, |k| {
        Ok(match what {
            Tick::ChecklistItem => {
                let (checklist, item) = checklist_item(k, incident, item)?;
                EventBody::ChecklistItemSet { checklist, item, done: !undo }
            }
            Tick::ActionItem => EventBody::ActionItemUpdated {
                item: action_item(k, incident, item)?,
                text: None,
                owner: None,
                due: None,
                priority: None,
                done: Some(!undo),
            },
        })
    })
    .await
}
