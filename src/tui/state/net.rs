//! Folding the sync worker's messages into the state: incidents updated by the same
//! `domain::apply` the server runs, timelines deduplicated, local writes shown pending until
//! acknowledged, refusals explained (and a stale guarded change asked again).

use super::overlay::{Draft, PickKind};
use super::picker::open_picker;
use super::write::Refusal;
use super::{Effect, Screen, State};
use crate::client::{LinkState, SyncMsg, Target};
use crate::domain::{Event, EventBody, Incident, NewEvent, apply, text};

/// Folds one message. A refusal can only come from asking a refused change again (the
/// picker's role check).
pub(super) fn on_net(s: &mut State, msg: SyncMsg) -> Result<Vec<Effect>, Refusal> {
    match msg {
        SyncMsg::Hello { me, practice } => {
            s.me = Some(me);
            s.practice = Some(*practice);
        }
        SyncMsg::Snapshot(list) => {
            s.board_loaded = true;
            for inc in list.incidents {
                let newer = s.incidents.get(&inc.id).is_none_or(|old| inc.last_seq >= old.last_seq);
                if newer {
                    s.incidents.insert(inc.id.clone(), inc);
                }
            }
            clamp_board(s);
        }
        SyncMsg::Timeline { incident, events } => {
            for e in &events {
                fold_into(s, e);
            }
            s.timelines.entry(incident).or_default().load(events);
        }
        SyncMsg::Event(e) => ingest(s, e),
        SyncMsg::Acked { events } => {
            // The server just took our writes: it is reachable, whatever the stream's retry
            // timer says. Say so now rather than "offline" until the stream's next attempt.
            if let LinkState::Offline { since, error } | LinkState::Reconnecting { since, error, .. } =
                &s.link
            {
                s.link = LinkState::Reconnecting { attempt: 0, since: *since, error: error.clone() };
            }
            for e in events {
                ingest(s, e);
            }
        }
        SyncMsg::Link(l) => {
            if matches!(l, crate::client::LinkState::Live { .. }) {
                s.cached = None;
            }
            s.link = l;
        }
        SyncMsg::CacheDiscarded => return Ok(discard_cached(s)),
        SyncMsg::Outbox { pending } => s.outbox = pending,
        SyncMsg::Writes(w) => s.writes = w,
        SyncMsg::Notice(n) => s.set_notice(text::line(&n)),
        SyncMsg::Queued { target, event } => match target {
            Target::Declare => {
                if !s.pending_declares.iter().any(|p| p.id == event.id) {
                    s.pending_declares.push(event);
                }
            }
            Target::Incident(id) => s.timelines.entry(id).or_default().add_pending(event),
        },
        SyncMsg::Refused { target, event, status, error } => return refused(s, target, event, status, error),
    }
    Ok(Vec::new())
}

/// The server is not the one the cache came from: forget its incidents and timelines (keeping
/// our own pending writes), and load the open war room's timeline again.
fn discard_cached(s: &mut State) -> Vec<Effect> {
    s.cached = None;
    s.replay = None;
    s.incidents.clear();
    s.figures = None;
    for tl in s.timelines.values_mut() {
        let pending = tl.pending().to_vec();
        *tl = Default::default();
        for p in pending {
            tl.add_pending(p);
        }
    }
    clamp_board(s);
    match s.room_id().map(str::to_string) {
        Some(id) => {
            s.timelines.entry(id.clone()).or_default().requested = true;
            vec![Effect::LoadTimeline(id)]
        }
        None => Vec::new(),
    }
}

/// Applies an event to its incident when it is news (seq beyond what the state reflects).
fn fold_into(s: &mut State, e: &Event) {
    let inc = s.incidents.entry(e.incident.clone()).or_default();
    if inc.revision == 0 || e.seq > inc.last_seq {
        if let Err(r) = apply(inc, e) {
            tracing::warn!(seq = e.seq, incident = %e.incident, "event not applied: {r}");
        }
        if inc.revision == 0 {
            // Not a declaration and no snapshot yet: keep no empty shell around.
            s.incidents.remove(&e.incident);
        }
    }
}

fn ingest(s: &mut State, e: Event) {
    s.pending_declares.retain(|p| p.id != e.id);
    // A declaration we see live starts a timeline we hold whole from its first event.
    let fresh = matches!(e.body, EventBody::Declared { .. }) && !s.incidents.contains_key(&e.incident);
    fold_into(s, &e);
    if fresh && s.incidents.contains_key(&e.incident) {
        s.timelines.entry(e.incident.clone()).or_default().loaded = true;
    }
    let open_it = s.awaiting_declare == Some(e.id);
    let id = e.incident.clone();
    let at = s.timelines.entry(id.clone()).or_default().insert(e);
    if let Some(at) = at {
        keep_view_steady(s, &id, at);
    }
    if open_it {
        s.awaiting_declare = None;
        if s.overlay.is_none() && s.screen == Screen::Board {
            s.screen = Screen::WarRoom(id.clone());
            s.room = Default::default();
        }
    }
    clamp_board(s);
}

/// A row was inserted at view position `at` of `id`'s timeline (an entry recorded late sorts
/// above newer ones): when that war room is open and scrolled, the selection stays on its
/// entry and, if the row landed at or above the window's first row, the window moves down with
/// it, so the rows on screen stay where they were. Following the tail needs nothing.
fn keep_view_steady(s: &mut State, id: &str, at: usize) {
    if s.room_id() != Some(id) || s.room.follow {
        return;
    }
    if at <= s.room.sel {
        s.room.sel += 1;
    }
    if at <= s.room.window.0 && s.room.window.1 > 0 {
        s.room.window.0 += 1;
    }
}

fn clamp_board(s: &mut State) {
    let (a, b) = s.board_rows();
    let n = a.len() + b.len();
    s.board_sel = s.board_sel.min(n.saturating_sub(1));
}

fn refused(
    s: &mut State,
    target: Target,
    event: NewEvent,
    status: u16,
    error: crate::api::ErrorBody,
) -> Result<Vec<Effect>, Refusal> {
    s.pending_declares.retain(|p| p.id != event.id);
    if s.awaiting_declare == Some(event.id) {
        s.awaiting_declare = None;
    }
    let incident = match &target {
        Target::Incident(id) => {
            if let Some(t) = s.timelines.get_mut(id) {
                t.remove_pending(&event.id);
            }
            Some(id.clone())
        }
        Target::Declare => None,
    };
    let why = text::line(&error.message);
    // The newer state the server holds: take it if it is ahead of ours.
    if let Some(cur) = error.current.as_deref() {
        adopt(s, cur);
    }
    let kind = event.body.kind();
    if status == 412
        && let Some(id) = &incident
    {
        let pick = match &event.body {
            EventBody::StatusChanged { .. } => Some(PickKind::Status),
            EventBody::SeverityChanged { .. } => Some(PickKind::Severity),
            _ => None,
        };
        if let Some(kind) = pick {
            let now_value =
                s.incidents.get(id).and_then(|i| i.guarded_value(&event.body)).map(|v| text::line(&v));
            let wanted = match &event.body {
                EventBody::StatusChanged { status } => status.as_str().to_string(),
                EventBody::SeverityChanged { severity } => text::line(severity),
                _ => String::new(),
            };
            let msg = format!(
                "changed meanwhile: it is now {} — you asked for {wanted}. Choose again.",
                now_value.as_deref().unwrap_or("?")
            );
            s.set_error(format!(
                "{} change refused: {why}",
                if kind == PickKind::Status { "status" } else { "severity" }
            ));
            if s.overlay.is_none() {
                open_picker(s, kind, id.clone(), Some(msg))?;
            }
            return Ok(Vec::new());
        }
        if let EventBody::RoleAssigned { role, .. } | EventBody::RoleReleased { role, .. } = &event.body {
            let holder =
                s.incidents.get(id).and_then(|i| i.guarded_value(&event.body)).map(|v| text::line(&v));
            s.set_error(format!(
                "{role} changed meanwhile (now {}); look at the roster and try again",
                holder.as_deref().unwrap_or("nobody")
            ));
            return Ok(Vec::new());
        }
    }
    // A refused entry goes back into a draft, so nothing typed is lost.
    if let (Some(id), Some(entry)) = (&incident, event.body.as_entry()) {
        let key = (id.clone(), kind);
        s.drafts.entry(key).or_insert(Draft {
            text: entry.text.lines().map(str::to_string).collect(),
            occurred_at: event.occurred_at,
        });
        s.set_error(format!(
            "{kind} refused ({status}): {why} — text kept as a draft, open a {kind} to edit it"
        ));
        return Ok(Vec::new());
    }
    s.set_error(format!("{kind} refused ({status}): {why}"));
    Ok(Vec::new())
}

fn adopt(s: &mut State, cur: &Incident) {
    let take = s
        .incidents
        .get(&cur.id)
        .is_none_or(|old| cur.revision >= old.revision && cur.last_seq >= old.last_seq);
    if take && !cur.id.is_empty() {
        s.incidents.insert(cur.id.clone(), cur.clone());
    }
}
