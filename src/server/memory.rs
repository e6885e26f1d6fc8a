//! An in-memory `Store` for unit tests: the same rules as SQLite ([`super::store::prepare`]),
//! one mutex as the write lock. Never used by `warroom serve`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::Utc;
use uuid::Uuid;

use super::store::{
    AppendCtx, Appended, Known, ListFilter, RECENT_RESOLVED, Snapshot, Store, StoreError, StoreResult,
    TokenRecord, check_token_name, name_taken, prepare,
};
use crate::api::{Role, TokenInfo};
use crate::domain::{EventBody, Incident, NewEvent};

#[derive(Default)]
struct Inner {
    events: Vec<crate::domain::Event>,
    incidents: BTreeMap<String, Incident>,
    next_incident: u64,
    tokens: Vec<(TokenInfo, [u8; 32])>,
}

/// The in-memory store.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn known(&self, events: &[NewEvent]) -> Known {
        let (ids, targets) = Known::wanted(events);
        let mut k = Known::default();
        for e in &self.events {
            if ids.contains(&e.id) {
                k.by_id.insert(e.id, e.clone());
            }
            if targets.contains(&e.id) {
                k.targets.insert(e.id, e.incident.clone());
                k.target_kinds.insert(e.id, e.kind());
            }
        }
        k
    }

    fn next_seq(&self) -> u64 {
        self.events.last().map_or(1, |e| e.seq + 1)
    }

    fn commit(&mut self, id: &str, prepared: super::store::Prepared) -> Appended {
        let created = !prepared.inserts.is_empty();
        self.events.extend(prepared.inserts);
        self.incidents.insert(id.to_string(), prepared.state.clone());
        Appended { incident: prepared.state, events: prepared.results, created }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn declare(&self, ctx: AppendCtx<'_>, event: NewEvent) -> StoreResult<Appended> {
        if !matches!(event.body, EventBody::Declared { .. }) {
            return Err(StoreError::invalid("invalid_event", "an incident is opened by a `declared` event"));
        }
        let mut inner = self.lock();
        let known = inner.known(std::slice::from_ref(&event));
        if let Some(prev) = known.by_id.get(&event.id) {
            // A retry: the incident it opened, as it stands.
            let id = prev.incident.clone();
            let before = inner.incidents.get(&id).cloned().unwrap_or_default();
            let p = prepare(ctx, &before, &id, &known, inner.next_seq(), Utc::now(), vec![event])?;
            return Ok(Appended { incident: before, events: p.results, created: false });
        }
        let id = format!("INC-{}", inner.next_incident + 1);
        let p = prepare(ctx, &Incident::default(), &id, &known, inner.next_seq(), Utc::now(), vec![event])?;
        inner.next_incident += 1;
        Ok(inner.commit(&id, p))
    }

    async fn append(
        &self,
        ctx: AppendCtx<'_>,
        incident: &str,
        events: Vec<NewEvent>,
    ) -> StoreResult<Appended> {
        let mut inner = self.lock();
        let Some(before) = inner.incidents.get(incident).cloned() else {
            return Err(StoreError::NotFound(format!("no incident {incident}")));
        };
        let known = inner.known(&events);
        let p = prepare(ctx, &before, incident, &known, inner.next_seq(), Utc::now(), events)?;
        Ok(inner.commit(incident, p))
    }

    async fn last_seq(&self) -> StoreResult<u64> {
        Ok(self.lock().events.last().map_or(0, |e| e.seq))
    }

    async fn events_after(
        &self,
        after: u64,
        limit: u32,
        incident: Option<&str>,
    ) -> StoreResult<Vec<crate::domain::Event>> {
        let inner = self.lock();
        let start = inner.events.partition_point(|e| e.seq <= after);
        Ok(inner.events[start..]
            .iter()
            .filter(|e| incident.is_none_or(|i| e.incident == i))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn list_incidents(&self, filter: ListFilter) -> StoreResult<(u64, Vec<Incident>)> {
        let inner = self.lock();
        let seq = inner.events.last().map_or(0, |e| e.seq);
        let mut open: Vec<Incident> = inner.incidents.values().filter(|i| i.is_open()).cloned().collect();
        let mut done: Vec<Incident> = inner.incidents.values().filter(|i| !i.is_open()).cloned().collect();
        done.sort_by_key(|i| std::cmp::Reverse(i.last_seq));
        match filter {
            ListFilter::Open => done.clear(),
            ListFilter::Recent => done.truncate(RECENT_RESOLVED),
            ListFilter::All => {}
        }
        open.extend(done);
        Ok((seq, open))
    }

    async fn incident(&self, id: &str, with_events: bool) -> StoreResult<Option<Snapshot>> {
        let inner = self.lock();
        let seq = inner.events.last().map_or(0, |e| e.seq);
        Ok(inner.incidents.get(id).map(|inc| Snapshot {
            seq,
            incident: inc.clone(),
            events: with_events.then(|| inner.events.iter().filter(|e| e.incident == id).cloned().collect()),
        }))
    }

    async fn create_token(&self, name: &str, role: Role, hash: [u8; 32]) -> StoreResult<TokenInfo> {
        check_token_name(name)?;
        let mut inner = self.lock();
        if inner.tokens.iter().any(|(t, _)| t.name == name && t.revoked_at.is_none()) {
            return Err(name_taken(name));
        }
        let info = TokenInfo {
            id: Uuid::now_v7(),
            name: name.to_string(),
            role,
            created_at: Utc::now(),
            revoked_at: None,
        };
        inner.tokens.push((info.clone(), hash));
        Ok(info)
    }

    async fn find_token(&self, hash: [u8; 32]) -> StoreResult<Option<TokenRecord>> {
        Ok(self.lock().tokens.iter().find(|(_, h)| *h == hash).map(|(t, _)| TokenRecord::from(t.clone())))
    }

    async fn list_tokens(&self) -> StoreResult<Vec<TokenInfo>> {
        Ok(self.lock().tokens.iter().map(|(t, _)| t.clone()).collect())
    }

    async fn revoke_token(&self, name_or_id: &str) -> StoreResult<TokenInfo> {
        let mut inner = self.lock();
        let by_id = Uuid::parse_str(name_or_id).ok();
        let found = inner
            .tokens
            .iter_mut()
            .find(|(t, _)| t.revoked_at.is_none() && (t.name == name_or_id || Some(t.id) == by_id));
        match found {
            Some((t, _)) => {
                t.revoked_at = Some(Utc::now());
                Ok(t.clone())
            }
            None => Err(StoreError::NotFound(format!("no active token named or with id `{name_or_id}`"))),
        }
    }
}
