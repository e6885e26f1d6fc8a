//! Writes from the console, checked before they leave: whether this user's role may make one
//! ([`may`]) and the effect that sends it ([`submit`]). A write the console will not send is a
//! [`Refusal`]; the dispatcher (`update`) shows it on the status line, the forms that keep
//! their text (composer, comms editor, declare form) show it in place. A leaf: the dispatcher
//! and every pane's reducer use it, it uses none of them.

use chrono::{DateTime, Utc};

use super::{Effect, State};
use crate::client::Target;
use crate::domain::{EventBody, NewEvent};

/// Why a write is not sent: the user's role may not make it, or the incident refuses it
/// (too long, not in its state). The text is what the user reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// Whether this user's role may write this (anyone may before the server said who they are).
pub fn may(s: &State, body: &EventBody) -> Result<(), Refusal> {
    match &s.me {
        Some(me) if !me.role.may_append(body) => {
            let need = crate::api::Role::required_for(body.kind());
            Err(Refusal(format!("{} needs the {need} role; you are {} ({})", body.kind(), me.name, me.role)))
        }
        _ => Ok(()),
    }
}

/// A write to an incident, now (the action's time).
pub fn submit(s: &State, id: &str, body: EventBody, if_match: Option<u64>) -> Result<Effect, Refusal> {
    submit_at(s, id, body, if_match, s.now)
}

/// A write to an incident that happened at `at` (a back-dated entry).
pub fn submit_at(
    s: &State,
    id: &str,
    body: EventBody,
    if_match: Option<u64>,
    at: DateTime<Utc>,
) -> Result<Effect, Refusal> {
    may(s, &body)?;
    if let Some(inc) = s.incidents.get(id) {
        inc.check(&body, at).map_err(|r| Refusal(r.message))?;
    }
    Ok(Effect::Submit(Target::Incident(id.to_string()), NewEvent::at(at, body), if_match))
}
