//! What a replica remembers of the tokens and sign-in sessions it looked up, so that a request
//! does not cost a database round trip to learn who sent it (PostgreSQL: one statement of the
//! two or three an append costs).
//!
//! Kept honest by the database's notifications: a revocation or a sign-out, on any replica or
//! from `warroom token revoke --db`, sends a notification in its own transaction, and every
//! replica's listener empties its cache on it. The cache is used only while that listener is
//! known to be listening ([`AuthCache::listening`]); from the moment it may have missed one
//! ([`AuthCache::deaf`]) every lookup goes to the database again. An entry also lives at most
//! [`TTL`], for a change made behind warroom's back (SQL typed by hand). A lookup that raced a
//! clear is not kept (the clear's generation tells).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::store::{SessionRecord, TokenRecord};

/// Longest an entry is used without asking the database again.
pub const TTL: Duration = Duration::from_secs(2);
/// Most entries kept (a flood of distinct tokens empties it rather than growing it).
const MAX_ENTRIES: usize = 4096;

#[derive(Clone)]
enum Entry {
    Token(TokenRecord),
    Session(SessionRecord),
}

#[derive(Default)]
pub struct AuthCache {
    entries: Mutex<HashMap<[u8; 32], (Instant, Entry)>>,
    /// Bumped by every clear: a lookup begun before it is not kept.
    generation: AtomicU64,
    /// The listener is listening: changes will be heard.
    on: AtomicBool,
}

/// Where a lookup starts: the generation it began in, to keep its answer only if nothing was
/// cleared meanwhile.
#[derive(Clone, Copy)]
pub struct Ticket(u64);

impl AuthCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], (Instant, Entry)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets everything (a token or session changed somewhere).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.lock().clear();
    }

    /// The listener listens: entries may be kept from now on.
    pub fn listening(&self) {
        self.clear();
        self.on.store(true, Ordering::SeqCst);
    }

    /// The listener may have missed a notification: nothing is used or kept until it listens
    /// again.
    pub fn deaf(&self) {
        self.on.store(false, Ordering::SeqCst);
        self.clear();
    }

    /// Holds an entry for `hash`, however old (tests).
    #[cfg(test)]
    pub fn holds(&self, hash: &[u8; 32]) -> bool {
        self.lock().contains_key(hash)
    }

    #[cfg(test)]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    #[cfg(test)]
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::SeqCst)
    }

    fn get(&self, hash: &[u8; 32]) -> Option<Entry> {
        if !self.on.load(Ordering::SeqCst) {
            return None;
        }
        let entries = self.lock();
        match entries.get(hash) {
            Some((at, e)) if at.elapsed() < TTL => Some(e.clone()),
            _ => None,
        }
    }

    /// A token looked up before: `Some(None)` when the hash is a known session's (not a token).
    pub fn token(&self, hash: &[u8; 32]) -> Option<Option<TokenRecord>> {
        match self.get(hash)? {
            Entry::Token(t) => Some(Some(t)),
            Entry::Session(_) => Some(None),
        }
    }

    pub fn session(&self, hash: &[u8; 32]) -> Option<SessionRecord> {
        match self.get(hash)? {
            Entry::Session(s) => Some(s),
            Entry::Token(_) => None,
        }
    }

    /// Taken before asking the database.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::SeqCst))
    }

    pub fn keep_token(&self, ticket: Ticket, hash: [u8; 32], token: &TokenRecord) {
        self.keep(ticket, hash, Entry::Token(token.clone()));
    }

    pub fn keep_session(&self, ticket: Ticket, hash: [u8; 32], session: &SessionRecord) {
        self.keep(ticket, hash, Entry::Session(session.clone()));
    }

    fn keep(&self, ticket: Ticket, hash: [u8; 32], entry: Entry) {
        if !self.on.load(Ordering::SeqCst) {
            return;
        }
        let mut entries = self.lock();
        // Under the lock a clear takes after bumping: a clear that began after the ticket is
        // seen here, or empties the map after this insert.
        if self.generation.load(Ordering::SeqCst) != ticket.0 {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(hash, (Instant::now(), entry));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::api::Role;

    fn token(name: &str) -> TokenRecord {
        TokenRecord { id: uuid::Uuid::now_v7(), name: name.into(), role: Role::Scribe, revoked: false }
    }

    /// An open sign-in session of `user`, started now, for an hour.
    pub(crate) fn session(user: &str) -> SessionRecord {
        let now = chrono::Utc::now();
        SessionRecord {
            id: uuid::Uuid::now_v7(),
            user: user.into(),
            role: Role::Responder,
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
            ended_at: None,
        }
    }

    #[test]
    fn nothing_is_kept_or_used_unless_the_listener_listens() {
        let c = AuthCache::default();
        let t = c.ticket();
        c.keep_token(t, [1; 32], &token("a"));
        assert!(c.token(&[1; 32]).is_none(), "kept while deaf");
        c.listening();
        let t = c.ticket();
        c.keep_token(t, [1; 32], &token("a"));
        assert_eq!(c.token(&[1; 32]).unwrap().unwrap().name, "a");
        c.deaf();
        assert!(c.token(&[1; 32]).is_none(), "used while deaf");
    }

    #[test]
    fn a_lookup_that_raced_a_clear_is_not_kept() {
        let c = AuthCache::default();
        c.listening();
        let before = c.ticket();
        c.clear(); // a revocation heard while the lookup was at the database
        c.keep_token(before, [2; 32], &token("b"));
        assert!(c.token(&[2; 32]).is_none());
    }

    #[test]
    fn a_session_hash_is_known_not_to_be_a_token() {
        let c = AuthCache::default();
        c.listening();
        c.keep_session(c.ticket(), [3; 32], &session("ana"));
        assert_eq!(c.token(&[3; 32]), Some(None));
        assert_eq!(c.session(&[3; 32]).unwrap().user, "ana");
        assert!(c.session(&[4; 32]).is_none());
    }
}
