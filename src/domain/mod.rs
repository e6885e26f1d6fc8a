//! The pure core: incidents, events, the fold, the practice as data. No I/O here, and no clock
//! in the logic: whatever depends on time takes it from the caller (`now`, an event's time).
//! Only naming a new event reads the clock (its UUID v7, and the [`NewEvent::now`] shorthand).

pub mod calendar;
pub mod comms;
pub mod event;
pub mod incident;
pub mod postmortem;
pub mod practice;
pub mod replay;
pub mod report;
pub mod status;
pub mod text;
pub mod timers;

pub use event::{AlertInfo, Entry, Event, EventBody, EventKind, NewEvent};
pub use incident::{
    ActionItem, COMMANDER_ROLE, Conflict, Incident, ItemState, Rejection, RoleHolder, apply, fold,
};
pub use practice::{
    Checklist, ChecklistItem, IncidentChecklist, Playbook, Practice, RoleDef, RoleSet, RosterRow, Scheme,
    SeverityLevel, roster,
};
pub use status::{Priority, Status};
