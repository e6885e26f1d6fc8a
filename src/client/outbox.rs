//! The outbox: an append-only file of writes not yet acknowledged by the server, one file per
//! server in the data dir. A write is appended (and fsynced) before it is sent; an ack or a
//! refusal is appended as its own line; the file is truncated when nothing is pending. Every
//! read-modify holds an exclusive lock on the file, so several warroom processes of one user
//! (a console, CLI scripts) share it safely. A torn last line (kill -9 mid-write) is ignored on
//! read and never glued to the next write. Writes the server refused (4xx) are moved to a
//! `rejected` file with the error, never silently dropped. Lines that cannot be read (torn by a
//! kill, damaged on disk) stay in the outbox until it is compacted, and are then moved to the
//! rejected file as they were, with one warning in the log: compaction never drops a line.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::ErrorBody;
use crate::domain::NewEvent;

/// Where a write goes: a new incident (the event is `declared`) or an existing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Declare,
    Incident(String),
}

/// One write waiting for the server.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub target: Target,
    pub event: NewEvent,
    pub if_match: Option<u64>,
}

/// A write the server refused, as kept in the rejected file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub at: DateTime<Utc>,
    /// The incident id, or absent for a declaration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    pub event: NewEvent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_match: Option<u64>,
    pub status: u16,
    pub error: ErrorBody,
}

impl Rejected {
    pub fn target(&self) -> Target {
        to_target(self.incident.clone())
    }
}

/// One line of the outbox file.
#[allow(clippy::large_enum_variant)] // parsed and dropped line by line
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Line {
    Push {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        incident: Option<String>,
        event: NewEvent,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        if_match: Option<u64>,
        /// Who wrote it (`user:<name>` for a sign-in, `token:<hash prefix>` for a token): only
        /// that identity sends it. Absent in entries of older versions (anyone sends those).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity: Option<String>,
    },
    /// Acknowledged by the server (or refused and moved to the rejected file).
    Ack { id: Uuid },
}

fn to_target(incident: Option<String>) -> Target {
    match incident {
        Some(i) => Target::Incident(i),
        None => Target::Declare,
    }
}

fn from_target(t: &Target) -> Option<String> {
    match t {
        Target::Declare => None,
        Target::Incident(i) => Some(i.clone()),
    }
}

/// What a full read of the outbox finds.
struct ReadOut {
    pending: Vec<Owned>,
    ends_clean: bool,
    unreadable: Vec<Unreadable>,
}

/// A line of the outbox that is not a whole JSON line of a known shape.
struct Unreadable {
    line: usize,
    text: String,
    error: String,
}

/// Opens (creating) a file readable by its owner only (0600, whatever the umask).
fn private_open(opts: &mut OpenOptions, path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = opts.mode(0o600).open(path)?;
    // A file made by an older version keeps its mode until fixed here.
    let meta = f.metadata()?;
    if meta.permissions().mode() & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

fn private_append(path: &Path) -> std::io::Result<File> {
    private_open(OpenOptions::new().append(true).create(true), path)
}

/// A pending write and the identity that wrote it (`None` for entries of older versions).
type Owned = (Pending, Option<String>);

/// The outbox of one server. Cheap to clone: it is only the file's path.
#[derive(Debug, Clone)]
pub struct Outbox {
    path: PathBuf,
    rejected_path: PathBuf,
    /// The identity this handle writes as and sends for (see [`Outbox::with_identity`]).
    identity: Option<String>,
}

/// A file-name-safe name for a server: a short hash of its normalized URL.
pub fn server_key(url: &str) -> String {
    let norm = url.trim().trim_end_matches('/').to_ascii_lowercase();
    let digest = Sha256::digest(norm.as_bytes());
    hex::encode(&digest[..8])
}

/// An exclusively locked outbox file; unlocked on drop.
struct Locked(File);

impl Drop for Locked {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl Outbox {
    /// The outbox for `server_url` in `data_dir` (`outbox-<hash>.jsonl`), created if needed.
    pub fn open(data_dir: &Path, server_url: &str) -> std::io::Result<Outbox> {
        std::fs::create_dir_all(data_dir)?;
        let key = server_key(server_url);
        Outbox::at(data_dir.join(format!("outbox-{key}.jsonl")))
    }

    /// An outbox at an explicit path; its rejected file sits next to it.
    pub fn at(path: PathBuf) -> std::io::Result<Outbox> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("outbox.jsonl");
        let rejected_name = match name.strip_prefix("outbox-") {
            Some(rest) => format!("rejected-{rest}"),
            None => format!("{name}.rejected"),
        };
        let rejected_path = path.with_file_name(rejected_name);
        let o = Outbox { path, rejected_path, identity: None };
        drop(o.lock()?);
        Ok(o)
    }

    /// This handle as `identity`: what it pushes is stamped with it, and it sees as pending
    /// only that identity's entries (and unstamped ones), so that an entry is never sent under
    /// another user's or token's credentials.
    pub fn with_identity(mut self, identity: Option<String>) -> Outbox {
        self.identity = identity;
        self
    }

    pub fn identity(&self) -> Option<&str> {
        self.identity.as_deref()
    }

    /// How many pending entries wait for another identity than this handle's.
    pub fn pending_for_others(&self) -> std::io::Result<usize> {
        let mut g = self.lock()?;
        let all = self.read_locked(&mut g.0)?.0;
        Ok(all.iter().filter(|(_, who)| !self.sends(who)).count())
    }

    /// Whether this handle sends an entry written by `who`. A handle without an identity is
    /// one that only looks (tests, tools): it sees every entry. Handles that send always have
    /// one (`Ctx::connect` names even the absence of a token).
    fn sends(&self, who: &Option<String>) -> bool {
        self.identity.is_none() || who.is_none() || *who == self.identity
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn rejected_path(&self) -> &Path {
        &self.rejected_path
    }

    fn lock(&self) -> std::io::Result<Locked> {
        let f = private_open(OpenOptions::new().read(true).append(true).create(true), &self.path)?;
        f.lock()?;
        Ok(Locked(f))
    }

    /// Reads every line; pushes without a later ack are pending, in file order.
    fn read_locked(&self, f: &mut File) -> std::io::Result<(Vec<Owned>, bool)> {
        self.read_all_locked(f).map(|r| (r.pending, r.ends_clean))
    }

    /// Reads every line: the pending writes, whether the file ends with a whole line, and the
    /// lines that could not be read (1-based line number, text as found).
    fn read_all_locked(&self, f: &mut File) -> std::io::Result<ReadOut> {
        let mut text = String::new();
        f.seek(SeekFrom::Start(0))?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        text.push_str(&String::from_utf8_lossy(&bytes));
        let ends_clean = bytes.is_empty() || bytes.ends_with(b"\n");
        // Linear in the file: a long outage leaves thousands of lines, read at every ack.
        // Slots in push order; an ack empties its slot; an id is pending once, at its first push.
        let mut slots: Vec<Option<Owned>> = Vec::new();
        let mut unreadable = Vec::new();
        let mut index: HashMap<Uuid, usize> = HashMap::new();
        for (n, raw) in text.split('\n').enumerate() {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            match serde_json::from_str::<Line>(raw) {
                Ok(Line::Push { incident, event, if_match, identity }) => {
                    if let std::collections::hash_map::Entry::Vacant(v) = index.entry(event.id) {
                        v.insert(slots.len());
                        slots
                            .push(Some((Pending { target: to_target(incident), event, if_match }, identity)));
                    }
                }
                Ok(Line::Ack { id }) => {
                    if let Some(i) = index.remove(&id) {
                        slots[i] = None;
                    }
                }
                Err(e) => {
                    unreadable.push(Unreadable { line: n + 1, text: raw.to_string(), error: e.to_string() })
                }
            }
        }
        Ok(ReadOut { pending: slots.into_iter().flatten().collect(), ends_clean, unreadable })
    }

    /// Appends records to the rejected file and fsyncs it (the outbox lock is held).
    fn append_rejected(&self, records: &[serde_json::Value]) -> std::io::Result<()> {
        let mut f = private_append(&self.rejected_path)?;
        let mut buf = Vec::new();
        for r in records {
            serde_json::to_writer(&mut buf, r)?;
            buf.push(b'\n');
        }
        f.write_all(&buf)?;
        f.sync_data()
    }

    /// Whether the file ends with a whole line (or is empty), without reading all of it.
    fn ends_clean(f: &mut File) -> std::io::Result<bool> {
        let len = f.seek(SeekFrom::End(0))?;
        if len == 0 {
            return Ok(true);
        }
        f.seek(SeekFrom::Start(len - 1))?;
        let mut last = [0u8; 1];
        f.read_exact(&mut last)?;
        Ok(last[0] == b'\n')
    }

    fn append_locked(&self, f: &mut File, lines: &[Line], ends_clean: bool) -> std::io::Result<()> {
        let mut buf = Vec::new();
        if !ends_clean {
            // A torn line from a killed writer: end it so it cannot swallow this write.
            buf.push(b'\n');
        }
        for l in lines {
            serde_json::to_writer(&mut buf, l)?;
            buf.push(b'\n');
        }
        f.write_all(&buf)?;
        f.sync_data()
    }

    /// Appends a write and fsyncs it. Only after this returns may it be sent.
    pub fn push(&self, p: &Pending) -> std::io::Result<()> {
        let mut g = self.lock()?;
        let clean = Self::ends_clean(&mut g.0)?;
        let line = Line::Push {
            incident: from_target(&p.target),
            event: p.event.clone(),
            if_match: p.if_match,
            identity: self.identity.clone(),
        };
        self.append_locked(&mut g.0, &[line], clean)
    }

    /// The writes not yet acknowledged that this handle's identity sends, oldest first.
    pub fn pending(&self) -> std::io::Result<Vec<Pending>> {
        let mut g = self.lock()?;
        let all = self.read_locked(&mut g.0)?.0;
        Ok(all.into_iter().filter(|(_, who)| self.sends(who)).map(|(p, _)| p).collect())
    }

    /// Records that the server acknowledged these events; returns how many remain. The file is
    /// truncated when nothing is pending any more.
    pub fn ack(&self, ids: &[Uuid]) -> std::io::Result<usize> {
        let mut g = self.lock()?;
        let ReadOut { pending, ends_clean: clean, unreadable } = self.read_all_locked(&mut g.0)?;
        // Every identity's entries count: another's keep the file from being truncated.
        let remaining = pending.iter().filter(|(p, _)| !ids.contains(&p.event.id)).count();
        if remaining == 0 {
            if !unreadable.is_empty() {
                // Compaction drops nothing: what could not be read is kept as it was.
                let at = Utc::now();
                let outbox = self.path.display().to_string();
                let records: Vec<serde_json::Value> = unreadable
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "at": at, "outbox": outbox, "line": u.line,
                            "unreadable": u.text, "error": u.error,
                        })
                    })
                    .collect();
                self.append_rejected(&records)?;
                tracing::warn!(
                    outbox = %self.path.display(),
                    rejected = %self.rejected_path.display(),
                    "moved {} unreadable outbox line(s) to the rejected file (torn by a kill or damaged)",
                    unreadable.len()
                );
            }
            g.0.set_len(0)?;
            g.0.sync_data()?;
        } else {
            let lines: Vec<Line> = ids.iter().map(|id| Line::Ack { id: *id }).collect();
            self.append_locked(&mut g.0, &lines, clean)?;
        }
        Ok(remaining)
    }

    /// Moves a refused write to the rejected file (fsynced), then out of the outbox.
    pub fn reject(&self, p: &Pending, status: u16, error: &ErrorBody) -> std::io::Result<usize> {
        let rec = Rejected {
            at: Utc::now(),
            incident: from_target(&p.target),
            event: p.event.clone(),
            if_match: p.if_match,
            status,
            error: error.clone(),
        };
        {
            let _g = self.lock()?;
            self.append_rejected(&[serde_json::to_value(&rec)?])?;
        }
        self.ack(&[p.event.id])
    }

    /// Every write the server refused, oldest first.
    pub fn rejected(&self) -> std::io::Result<Vec<Rejected>> {
        let text = match std::fs::read_to_string(&self.rejected_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventBody, EventKind};

    fn note(text: &str) -> Pending {
        Pending {
            target: Target::Incident("INC-1".into()),
            event: NewEvent::now(EventBody::entry(EventKind::Note, text).unwrap()),
            if_match: None,
        }
    }

    #[test]
    fn push_ack_and_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::open(dir.path(), "http://127.0.0.1:7878/").unwrap();
        assert_eq!(o.path(), Outbox::open(dir.path(), "http://127.0.0.1:7878").unwrap().path());
        let a = note("a");
        let mut b = note("b");
        b.target = Target::Declare;
        b.if_match = Some(3);
        o.push(&a).unwrap();
        o.push(&b).unwrap();
        o.push(&a).unwrap(); // a retry of the same event is one pending write
        assert_eq!(o.pending().unwrap(), vec![a.clone(), b.clone()]);
        assert_eq!(o.ack(&[a.event.id]).unwrap(), 1);
        assert_eq!(o.pending().unwrap(), vec![b.clone()]);
        assert!(std::fs::metadata(o.path()).unwrap().len() > 0);
        assert_eq!(o.ack(&[b.event.id]).unwrap(), 0);
        assert!(o.pending().unwrap().is_empty());
        assert_eq!(std::fs::metadata(o.path()).unwrap().len(), 0, "compacted when empty");
    }

    proptest::proptest! {
        // Every op fsyncs: fewer cases than the default keep this under a few seconds.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any mix of pushes (retries of the same event included) and acks leaves pending what
        /// the plain rule says: each event once, at its first push since its last ack, in order.
        #[test]
        fn pending_follows_the_plain_rule(ops in proptest::collection::vec((proptest::bool::ANY, 0usize..6), 0..40)) {
            let dir = tempfile::tempdir().unwrap();
            let o = Outbox::open(dir.path(), "http://x").unwrap();
            let events: Vec<Pending> = (0..6).map(|i| note(&format!("n{i}"))).collect();
            let mut model: Vec<Uuid> = Vec::new();
            for (push, i) in ops {
                let id = events[i].event.id;
                if push {
                    o.push(&events[i]).unwrap();
                    if !model.contains(&id) {
                        model.push(id);
                    }
                } else {
                    o.ack(&[id]).unwrap();
                    model.retain(|m| *m != id);
                }
                let got: Vec<Uuid> = o.pending().unwrap().iter().map(|p| p.event.id).collect();
                proptest::prop_assert_eq!(&got, &model);
            }
        }
    }

    #[test]
    fn torn_last_line_is_ignored_and_not_glued_to_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::open(dir.path(), "http://x").unwrap();
        let a = note("a");
        o.push(&a).unwrap();
        // A writer killed mid-line.
        let mut f = OpenOptions::new().append(true).open(o.path()).unwrap();
        f.write_all(br#"{"op":"push","incident":"INC-1","event":{"id":"01"#).unwrap();
        drop(f);
        assert_eq!(o.pending().unwrap(), vec![a.clone()]);
        let b = note("b");
        o.push(&b).unwrap();
        assert_eq!(o.pending().unwrap(), vec![a, b]);
    }

    #[test]
    fn unreadable_lines_move_to_the_rejected_file_when_the_outbox_compacts() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::open(dir.path(), "http://x").unwrap();
        let a = note("a");
        o.push(&a).unwrap();
        let mut f = OpenOptions::new().append(true).open(o.path()).unwrap();
        f.write_all(b"{\"op\":\"push\",\"event\":{\"text\":\"half a note\n").unwrap();
        drop(f);
        let b = note("b");
        o.push(&b).unwrap();
        assert_eq!(o.ack(&[a.event.id]).unwrap(), 1);
        assert!(
            std::fs::read_to_string(o.path()).unwrap().contains("half a note"),
            "kept while others are pending"
        );
        assert_eq!(o.ack(&[b.event.id]).unwrap(), 0);
        assert_eq!(std::fs::metadata(o.path()).unwrap().len(), 0);
        let rejected = std::fs::read_to_string(o.rejected_path()).unwrap();
        assert!(rejected.contains("half a note") && rejected.contains("\"unreadable\""), "{rejected}");
        assert!(o.rejected().unwrap().is_empty(), "not a refused write");
        use std::os::unix::fs::PermissionsExt;
        for p in [o.path(), o.rejected_path()] {
            assert_eq!(std::fs::metadata(p).unwrap().permissions().mode() & 0o777, 0o600, "{}", p.display());
        }
    }

    #[test]
    fn refused_writes_go_to_the_rejected_file() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::open(dir.path(), "http://x").unwrap();
        let a = note("a");
        o.push(&a).unwrap();
        let err = ErrorBody {
            error: "invalid_event".into(),
            message: "text must not be empty".into(),
            current: None,
        };
        assert_eq!(o.reject(&a, 422, &err).unwrap(), 0);
        assert!(o.pending().unwrap().is_empty());
        let r = o.rejected().unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].event, a.event);
        assert_eq!(r[0].status, 422);
        assert_eq!(r[0].error, err);
        assert_eq!(r[0].target(), Target::Incident("INC-1".into()));
    }

    #[test]
    fn concurrent_pushes_from_many_writers_all_land_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox-shared.jsonl");
        let writers = 4;
        let per = 50;
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let path = path.clone();
                std::thread::spawn(move || {
                    // Each thread opens its own handle, like separate processes do.
                    let o = Outbox::at(path).unwrap();
                    let mut mine = Vec::new();
                    for i in 0..per {
                        let p = note(&format!("w{w} #{i} {}", "x".repeat(500)));
                        o.push(&p).unwrap();
                        mine.push(p.event.id);
                        if i % 10 == 9 {
                            o.ack(&mine[mine.len() - 5..]).unwrap();
                        }
                    }
                    mine
                })
            })
            .collect();
        let all: Vec<Vec<Uuid>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let o = Outbox::at(path).unwrap();
        let pending = o.pending().unwrap();
        // Each writer acked 5 of every 10; the other half is pending, in each writer's order.
        assert_eq!(pending.len(), writers * per / 2);
        for mine in &all {
            let acked: Vec<Uuid> = mine.chunks(10).flat_map(|c| c[5..].to_vec()).collect();
            let expect: Vec<Uuid> = mine.iter().filter(|id| !acked.contains(id)).copied().collect();
            let got: Vec<Uuid> = pending.iter().map(|p| p.event.id).filter(|id| mine.contains(id)).collect();
            assert_eq!(got, expect);
        }
        let text = std::fs::read_to_string(o.path()).unwrap();
        assert!(text.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
    }
}
