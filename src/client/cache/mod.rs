//! The console's local cache: what it has seen of one server, as one identity, kept in the
//! data dir so that the next start draws its first frame at once (marked as not yet live) and
//! fetches only the delta.
//!
//! Layout: `<data dir>/cache/<key>/`, `key` a hash of the server's URL and the identity (so a
//! cache is never shown for another server or another token), directory 0700, files 0600:
//! - `board.json`: the board at a global `seq` (every incident's state, who we are, the
//!   practice), a marker (the seq and id of one event of that history) and, per cached
//!   timeline, its file and length. Replaced whole (write, then rename) every few seconds while
//!   something changed, and when the console quits.
//! - `tl-<hash>.bin`: one incident's events in seq order, in the binary layout of [`record`]
//!   (a header naming the incident, then one length-prefixed record per event), appended as
//!   they stream in. Every file holds all its incident's events
//!   up to the board's `seq` within the length the board records; anything after that length
//!   (appended after the last board write, or torn by a crash) is cut off when a console takes
//!   the cache again.
//!
//! Why flat files rather than SQLite: appending an event is a `write`, the board is small and
//! rewritten whole, and a file is read once, whole, at start. A second SQLite library is not
//! wanted beside sqlx, and sqlx is async and pools connections: more to start than the first
//! frame can afford. Why not the wire's JSON lines (format 1): parsing 10,000 of them took
//! about two thirds of the console's start; the binary records read several times faster.
//! A cache of another format (the board says which) is discarded whole at start.
//!
//! Bounds: at most [`DEFAULT_CAP`] bytes of timelines per server (the timelines of the
//! incidents with the oldest last activity go first; one larger than the cap is not kept), and
//! at most [`MAX_SERVERS`] servers (the least recently saved go). Anything unreadable (a
//! corrupt board, a short or unparsable timeline) is discarded with a log line; the console
//! then loads from the server as without a cache. Whether the cache still describes the
//! server's history (not reset since) is checked by the sync worker before it resumes.
//!
//! Only one process writes a cache (an exclusive lock on `<key>/lock`); another console of the
//! same user on the same server starts from it too but leaves it alone.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

mod record;

use crate::api::{IncidentList, Me};
use crate::domain::{Event, EventBody, Incident, Practice, apply};

/// Bytes of timelines kept per server and identity.
pub const DEFAULT_CAP: u64 = 64 << 20;
/// Servers (and identities) kept; the least recently saved go first.
pub const MAX_SERVERS: usize = 8;
/// The cache's format: the board's `format`, and the version in every timeline file's header.
/// A cache of another format is discarded (the console then starts as without one).
const FORMAT: u32 = record::VERSION;
const BOARD: &str = "board.json";
const LOCK: &str = "lock";
/// How often the board is saved while something changes.
const SAVE_EVERY: Duration = Duration::from_secs(5);

/// One event known to be in the server's history: a server that has another event at this
/// seq (or none) is not the one the cache was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub seq: u64,
    pub id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileInfo {
    file: String,
    /// The file's length that the board vouches for.
    bytes: u64,
    /// The highest seq in those bytes.
    last_seq: u64,
}

#[derive(Serialize, Deserialize)]
struct Board {
    format: u32,
    server: String,
    identity: String,
    saved_at: DateTime<Utc>,
    me: Me,
    practice: Practice,
    seq: u64,
    marker: Marker,
    incidents: Vec<Incident>,
    timelines: BTreeMap<String, FileInfo>,
}

/// What a console starts from: the board as it was at `list.seq`.
#[derive(Debug, Clone)]
pub struct Cached {
    pub saved_at: DateTime<Utc>,
    pub me: Me,
    pub practice: Practice,
    pub list: IncidentList,
    pub marker: Marker,
    timelines: BTreeMap<String, FileInfo>,
}

impl Cached {
    /// Whether the whole timeline of `incident` is cached.
    pub fn has_timeline(&self, incident: &str) -> bool {
        self.timelines.contains_key(incident)
    }

    /// What the sync worker needs to resume after it instead of taking a snapshot.
    pub fn resume(&self) -> Resume {
        Resume { seq: self.list.seq, marker: self.marker, me: self.me.name.clone() }
    }
}

/// Where a worker resumes a cached console, and what it checks first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub seq: u64,
    pub marker: Marker,
    /// Who the cache was taken as.
    pub me: String,
}

impl Resume {
    /// Whether a server that says it is `me` and answered `GET /events?after=<marker.seq -
    /// 1>&limit=1` with `page` is the one (same history, not reset since) the cache came from.
    pub fn matches(&self, me: &Me, page: &crate::api::EventPage) -> bool {
        me.name == self.me
            && page.last_seq >= self.seq
            && page.events.first().is_some_and(|e| e.seq == self.marker.seq && e.id == self.marker.id)
    }
}

fn hash16(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..8])
}

/// One server's (and identity's) cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    dir: PathBuf,
    server: String,
    identity: String,
    cap: u64,
}

/// The exclusive right to write a cache (released on drop).
#[derive(Debug)]
pub struct Lock(File);

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl Cache {
    /// The cache of `server` (a normalized URL, or a name such as `embedded`) for `identity`.
    pub fn new(data_dir: &Path, server: &str, identity: &str) -> Cache {
        let server = server.trim().trim_end_matches('/').to_ascii_lowercase();
        let root = data_dir.join("cache");
        let dir = root.join(hash16(&format!("{server}\n{identity}")));
        Cache { root, dir, server, identity: identity.to_string(), cap: DEFAULT_CAP }
    }

    /// Another byte cap for the timelines.
    pub fn with_cap(mut self, cap: u64) -> Cache {
        self.cap = cap;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn ensure_dir(&self) -> std::io::Result<()> {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir)
    }

    /// Takes the right to write this cache; `None` while another process holds it (or the
    /// data dir cannot take it).
    pub fn lock(&self) -> Option<Lock> {
        if let Err(e) = self.ensure_dir() {
            tracing::warn!("cache: cannot create {}: {e}", self.dir.display());
            return None;
        }
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(self.dir.join(LOCK))
            .ok()?;
        match f.try_lock() {
            Ok(()) => Some(Lock(f)),
            Err(e) => {
                tracing::info!(
                    "cache: {} is in use by another console ({e}); not writing it",
                    self.dir.display()
                );
                None
            }
        }
    }

    /// Removes everything cached for this server and identity (the lock file stays).
    pub fn discard(&self, why: &str) {
        tracing::warn!("cache: discarding {}: {why}", self.dir.display());
        if let Ok(rd) = fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                if e.file_name() != LOCK {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }

    /// The cached board, if there is a readable one for this server and identity. A corrupt
    /// one is discarded (with a log line).
    pub fn load(&self) -> Option<Cached> {
        let bytes = match fs::read(self.dir.join(BOARD)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!("cache: cannot read {}: {e}", self.dir.join(BOARD).display());
                return None;
            }
        };
        let board: Board = match serde_json::from_slice(&bytes) {
            Ok(b) => b,
            Err(e) => {
                self.discard(&format!("unreadable board ({e})"));
                return None;
            }
        };
        if board.format != FORMAT {
            self.discard(&format!("format {} (this version reads {FORMAT})", board.format));
            return None;
        }
        if board.server != self.server || board.identity != self.identity {
            self.discard("it belongs to another server or identity");
            return None;
        }
        Some(Cached {
            saved_at: board.saved_at,
            me: board.me,
            practice: board.practice,
            list: IncidentList { seq: board.seq, incidents: board.incidents },
            marker: board.marker,
            timelines: board.timelines,
        })
    }

    /// The cached timeline of `incident` (every event up to the board's seq, and maybe some
    /// after). `None` when it is not cached; a corrupt one is removed with a log line.
    pub fn read_timeline(&self, cached: &Cached, incident: &str) -> Option<Vec<Event>> {
        let info = cached.timelines.get(incident)?;
        read_file(&self.dir.join(&info.file), info.bytes, incident)
    }

    /// Starts the thread that keeps this cache, from `from` (what [`Cache::load`] gave) or
    /// empty. Needs the [`Lock`]; it is released when the writer stops.
    pub fn writer(self, lock: Lock, from: Option<&Cached>) -> (Writer, WriterJoin) {
        let w = Keeper::new(self, from);
        w.prune_servers();
        let (tx, rx) = std_mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("warroom-cache".into())
            .spawn(move || {
                let _lock = lock;
                w.run(rx)
            })
            .ok();
        (Writer { tx: tx.clone() }, WriterJoin { tx, thread })
    }
}

/// Reads `bytes` bytes of a timeline file; every line an event of `incident`, seqs increasing.
fn read_file(path: &Path, bytes: u64, incident: &str) -> Option<Vec<Event>> {
    let bad = |why: String| {
        tracing::warn!("cache: discarding {}: {why}", path.display());
        let _ = fs::remove_file(path);
    };
    let mut buf = Vec::with_capacity(bytes as usize);
    match File::open(path) {
        Ok(f) => {
            if let Err(e) = f.take(bytes).read_to_end(&mut buf) {
                bad(format!("cannot read it: {e}"));
                return None;
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            bad(format!("cannot open it: {e}"));
            return None;
        }
    }
    if buf.len() as u64 != bytes {
        bad(format!("{} bytes where {bytes} were written", buf.len()));
        return None;
    }
    record::decode(&buf, incident).map_err(bad).ok()
}

enum Msg {
    Hello(Me, Box<Practice>),
    Snapshot(IncidentList),
    Event(Box<Event>),
    Known(Marker),
    LoadAsked(String),
    Loaded(String, Vec<Event>),
    Read(String, tokio::sync::oneshot::Sender<Option<Vec<Event>>>),
    Reset,
    Close(std_mpsc::Sender<()>),
}

/// What the sync worker tells the cache (never blocks: a thread does the file work).
#[derive(Clone)]
pub struct Writer {
    tx: std_mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cache::Writer")
    }
}

impl Writer {
    fn send(&self, m: Msg) {
        let _ = self.tx.send(m);
    }
    pub fn hello(&self, me: Me, practice: Practice) {
        self.send(Msg::Hello(me, Box::new(practice)));
    }
    /// A fresh snapshot of the board (no cache was used, or it was discarded).
    pub fn snapshot(&self, list: IncidentList) {
        self.send(Msg::Snapshot(list));
    }
    /// An event from the stream, in seq order.
    pub fn event(&self, e: Event) {
        self.send(Msg::Event(Box::new(e)));
    }
    /// An event known to be in the server's history (the snapshot's last, when no event has
    /// come yet).
    pub fn known(&self, seq: u64, id: Uuid) {
        self.send(Msg::Known(Marker { seq, id }));
    }
    /// A timeline load was asked of the server: stream events of it are kept until it answers.
    pub fn load_asked(&self, incident: &str) {
        self.send(Msg::LoadAsked(incident.to_string()));
    }
    /// The server's answer to a timeline load.
    pub fn loaded(&self, incident: &str, events: Vec<Event>) {
        self.send(Msg::Loaded(incident.to_string(), events));
    }
    /// The whole cached timeline of `incident`, complete up to every event sent here so far;
    /// `None` when it is not cached.
    pub async fn read(&self, incident: &str) -> Option<Vec<Event>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Msg::Read(incident.to_string(), tx));
        rx.await.ok().flatten()
    }
    /// The server is not the one the cache came from (or refused us): forget everything.
    pub fn reset(&self) {
        self.send(Msg::Reset);
    }
}

/// Stops the cache's thread after it saved the board.
pub struct WriterJoin {
    tx: std_mpsc::Sender<Msg>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WriterJoin {
    /// Saves the board and stops (waits at most `patience`).
    pub fn finish(self, patience: Duration) {
        let (tx, rx) = std_mpsc::channel();
        let _ = self.tx.send(Msg::Close(tx));
        if rx.recv_timeout(patience).is_ok()
            && let Some(t) = self.thread
        {
            let _ = t.join();
        }
    }
}

struct Open {
    info: FileInfo,
    out: Option<BufWriter<File>>,
}

/// The cache thread's state: the board folded from the stream, the open timeline files.
struct Keeper {
    cache: Cache,
    me: Option<Me>,
    practice: Option<Practice>,
    seq: u64,
    marker: Option<Marker>,
    incidents: BTreeMap<String, Incident>,
    files: BTreeMap<String, Open>,
    /// Timeline loads in flight: the stream's events of them meanwhile.
    asked: HashMap<String, Vec<Event>>,
    dirty: bool,
}

impl Keeper {
    fn new(cache: Cache, from: Option<&Cached>) -> Keeper {
        let mut k = Keeper {
            cache,
            me: None,
            practice: None,
            seq: 0,
            marker: None,
            incidents: BTreeMap::new(),
            files: BTreeMap::new(),
            asked: HashMap::new(),
            dirty: false,
        };
        let _ = k.cache.ensure_dir();
        match from {
            Some(c) => {
                k.me = Some(c.me.clone());
                k.practice = Some(c.practice.clone());
                k.seq = c.list.seq;
                k.marker = Some(c.marker);
                k.incidents = c.list.incidents.iter().map(|i| (i.id.clone(), i.clone())).collect();
                // Back to what the board vouches for; anything else goes.
                let mut keep = std::collections::BTreeSet::new();
                for (id, info) in &c.timelines {
                    let path = k.cache.dir.join(&info.file);
                    let ok = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .and_then(|f| {
                            if f.metadata()?.len() < info.bytes {
                                return Err(std::io::Error::other("shorter than written"));
                            }
                            f.set_len(info.bytes)
                        })
                        .is_ok();
                    if ok {
                        keep.insert(info.file.clone());
                        k.files.insert(id.clone(), Open { info: info.clone(), out: None });
                    }
                }
                k.remove_files_except(&keep, true);
            }
            None => k.remove_files_except(&Default::default(), false),
        }
        k
    }

    fn remove_files_except(&self, keep: &std::collections::BTreeSet<String>, board: bool) {
        if let Ok(rd) = fs::read_dir(&self.cache.dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name != LOCK && !keep.contains(&name) && !(board && name == BOARD) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }

    /// Keeps at most [`MAX_SERVERS`] caches: the least recently saved others go.
    fn prune_servers(&self) {
        let Ok(rd) = fs::read_dir(&self.cache.root) else { return };
        let mut others: Vec<(std::time::SystemTime, PathBuf)> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| *p != self.cache.dir && p.is_dir())
            .map(|p| {
                let t = fs::metadata(p.join(BOARD))
                    .or_else(|_| fs::metadata(&p))
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (t, p)
            })
            .collect();
        if others.len() < MAX_SERVERS {
            return;
        }
        others.sort();
        let n = others.len() + 1 - MAX_SERVERS;
        for (_, p) in others.into_iter().take(n) {
            // One in use keeps its lock file; its owner recreates the rest.
            tracing::info!("cache: removing the least recently used {}", p.display());
            let _ = fs::remove_dir_all(p);
        }
    }

    fn run(mut self, rx: std_mpsc::Receiver<Msg>) {
        let mut last_save = Instant::now();
        loop {
            let wait =
                if self.dirty { SAVE_EVERY.saturating_sub(last_save.elapsed()) } else { SAVE_EVERY * 60 };
            match rx.recv_timeout(wait) {
                Ok(Msg::Close(done)) => {
                    self.save();
                    let _ = done.send(());
                    return;
                }
                Ok(m) => self.handle(m),
                Err(std_mpsc::RecvTimeoutError::Timeout) => {}
                Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                    self.save();
                    return;
                }
            }
            if self.dirty && last_save.elapsed() >= SAVE_EVERY {
                self.save();
                last_save = Instant::now();
            }
        }
    }

    fn handle(&mut self, m: Msg) {
        match m {
            Msg::Hello(me, practice) => {
                self.me = Some(me);
                self.practice = Some(*practice);
                self.dirty = true;
            }
            Msg::Snapshot(list) => {
                self.seq = list.seq;
                self.incidents = list.incidents.into_iter().map(|i| (i.id.clone(), i)).collect();
                self.dirty = true;
            }
            Msg::Event(e) => self.event(*e),
            Msg::Known(m) => {
                if self.marker.is_none_or(|k| k.seq < m.seq) {
                    self.marker = Some(m);
                    self.dirty = true;
                }
            }
            Msg::LoadAsked(id) => {
                if !self.files.contains_key(&id) {
                    self.asked.entry(id).or_default();
                }
            }
            Msg::Loaded(id, events) => self.loaded(id, events),
            Msg::Read(id, reply) => {
                let got = self.read(&id);
                let _ = reply.send(got);
            }
            Msg::Reset => {
                for (_, o) in std::mem::take(&mut self.files) {
                    let _ = fs::remove_file(self.cache.dir.join(&o.info.file));
                }
                let _ = fs::remove_file(self.cache.dir.join(BOARD));
                self.incidents.clear();
                self.seq = 0;
                self.marker = None;
                self.me = None;
                self.practice = None;
                self.dirty = false;
            }
            Msg::Close(_) => {}
        }
    }

    fn event(&mut self, e: Event) {
        if e.seq <= self.seq {
            return;
        }
        self.seq = e.seq;
        self.marker = Some(Marker { seq: e.seq, id: e.id });
        self.dirty = true;
        let fresh = matches!(e.body, EventBody::Declared { .. }) && !self.incidents.contains_key(&e.incident);
        let inc = self.incidents.entry(e.incident.clone()).or_default();
        if inc.revision == 0 || e.seq > inc.last_seq {
            let _ = apply(inc, &e);
        }
        if inc.revision == 0 {
            self.incidents.remove(&e.incident);
        }
        if let Some(buf) = self.asked.get_mut(&e.incident) {
            buf.push(e);
            return;
        }
        if self.files.contains_key(&e.incident) {
            self.append(&e);
        } else if fresh && self.incidents.contains_key(&e.incident) {
            // A declaration seen live: its whole timeline is here from the first event.
            let id = e.incident.clone();
            self.write_whole(id, vec![e]);
        }
    }

    fn file_name(incident: &str) -> String {
        format!("tl-{}.bin", hash16(incident))
    }

    fn create(&self, path: &Path) -> std::io::Result<File> {
        OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
    }

    fn append(&mut self, e: &Event) {
        let Some(open) = self.files.get_mut(&e.incident) else { return };
        if e.seq <= open.info.last_seq {
            return;
        }
        let Ok(line) = record::encode(e) else { return };
        let path = self.cache.dir.join(&open.info.file);
        if open.out.is_none() {
            match OpenOptions::new().append(true).mode(0o600).open(&path) {
                Ok(f) => open.out = Some(BufWriter::new(f)),
                Err(err) => {
                    tracing::warn!("cache: cannot append to {}: {err}", path.display());
                    let id = e.incident.clone();
                    self.drop_timeline(&id);
                    return;
                }
            }
        }
        let out = open.out.as_mut().expect("opened above");
        if let Err(err) = out.write_all(&line) {
            tracing::warn!("cache: cannot append to {}: {err}", path.display());
            let id = e.incident.clone();
            self.drop_timeline(&id);
            return;
        }
        open.info.bytes += line.len() as u64;
        open.info.last_seq = e.seq;
        self.enforce_cap();
    }

    fn loaded(&mut self, id: String, mut events: Vec<Event>) {
        let buffered = self.asked.remove(&id).unwrap_or_default();
        if self.files.contains_key(&id) {
            return;
        }
        events.extend(buffered);
        events.sort_by_key(|e| e.seq);
        events.dedup_by_key(|e| e.seq);
        events.retain(|e| e.incident == id);
        self.write_whole(id, events);
    }

    fn write_whole(&mut self, id: String, events: Vec<Event>) {
        let file = Self::file_name(&id);
        let path = self.cache.dir.join(&file);
        let tmp = self.cache.dir.join(format!("{file}.tmp"));
        let head = record::header(&id);
        let mut bytes = head.len() as u64;
        let written = (|| -> std::io::Result<()> {
            let mut out = BufWriter::new(self.create(&tmp)?);
            out.write_all(&head)?;
            for e in &events {
                let line = record::encode(e).map_err(std::io::Error::other)?;
                bytes += line.len() as u64;
                if bytes > self.cache.cap {
                    return Err(std::io::Error::other("larger than the cache's cap"));
                }
                out.write_all(&line)?;
            }
            out.flush()?;
            fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            tracing::info!("cache: not keeping the timeline of {id}: {e}");
            let _ = fs::remove_file(&tmp);
            return;
        }
        let last_seq = events.last().map_or(0, |e| e.seq);
        if let Some(last) = events.last() {
            self.remember(Marker { seq: last.seq, id: last.id });
        }
        self.files.insert(id, Open { info: FileInfo { file, bytes, last_seq }, out: None });
        self.dirty = true;
        self.enforce_cap();
    }

    fn remember(&mut self, m: Marker) {
        if self.marker.is_none_or(|k| k.seq < m.seq) {
            self.marker = Some(m);
        }
    }

    fn drop_timeline(&mut self, id: &str) {
        if let Some(o) = self.files.remove(id) {
            let _ = fs::remove_file(self.cache.dir.join(&o.info.file));
            self.dirty = true;
        }
    }

    /// Drops the timelines of the incidents with the oldest last activity until the rest fit.
    fn enforce_cap(&mut self) {
        let mut total: u64 = self.files.values().map(|o| o.info.bytes).sum();
        while total > self.cache.cap {
            let oldest = self
                .files
                .iter()
                .min_by_key(|(id, o)| {
                    (
                        self.incidents.get(*id).map_or(o.info.last_seq, |i| i.last_seq.max(o.info.last_seq)),
                        *id,
                    )
                })
                .map(|(id, o)| (id.clone(), o.info.bytes));
            let Some((id, bytes)) = oldest else { break };
            tracing::info!("cache: over {} bytes: dropping the timeline of {id}", self.cache.cap);
            self.drop_timeline(&id);
            total -= bytes;
        }
    }

    fn flush_files(&mut self) {
        let mut failed = Vec::new();
        for (id, o) in &mut self.files {
            if let Some(out) = &mut o.out
                && out.flush().is_err()
            {
                failed.push(id.clone());
            }
        }
        for id in failed {
            self.drop_timeline(&id);
        }
    }

    fn read(&mut self, id: &str) -> Option<Vec<Event>> {
        self.flush_files();
        let info = self.files.get(id)?.info.clone();
        let got = read_file(&self.cache.dir.join(&info.file), info.bytes, id);
        if got.is_none() {
            self.files.remove(id);
            self.dirty = true;
        }
        got
    }

    /// Writes the board (after the timelines it vouches for are on disk).
    fn save(&mut self) {
        self.flush_files();
        self.dirty = false;
        let (Some(me), Some(practice), Some(marker)) = (&self.me, &self.practice, self.marker) else {
            return;
        };
        if self.seq == 0 {
            return;
        }
        let board = Board {
            format: FORMAT,
            server: self.cache.server.clone(),
            identity: self.cache.identity.clone(),
            saved_at: Utc::now(),
            me: me.clone(),
            practice: practice.clone(),
            seq: self.seq,
            marker,
            incidents: self.incidents.values().cloned().collect(),
            timelines: self.files.iter().map(|(id, o)| (id.clone(), o.info.clone())).collect(),
        };
        let tmp = self.cache.dir.join(format!("{BOARD}.tmp"));
        let done = (|| -> std::io::Result<()> {
            let mut out = BufWriter::new(self.create(&tmp)?);
            serde_json::to_writer(&mut out, &board).map_err(std::io::Error::other)?;
            out.flush()?;
            fs::rename(&tmp, self.cache.dir.join(BOARD))
        })();
        if let Err(e) = done {
            tracing::warn!("cache: cannot save {}: {e}", self.cache.dir.join(BOARD).display());
            let _ = fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Role;
    use crate::domain::{Entry, EventBody};

    fn ev(seq: u64, inc: &str, body: EventBody) -> Event {
        Event {
            seq,
            id: Uuid::now_v7(),
            incident: inc.into(),
            author: "alice".into(),
            occurred_at: Utc::now(),
            recorded_at: Utc::now(),
            body,
        }
    }

    fn declared(seq: u64, inc: &str) -> Event {
        let body: EventBody = serde_json::from_value(serde_json::json!({
            "kind": "declared", "title": format!("{inc} title"), "severity": "SEV-2"
        }))
        .unwrap();
        ev(seq, inc, body)
    }

    fn note(seq: u64, inc: &str, text: &str) -> Event {
        ev(seq, inc, EventBody::Note(Entry { text: text.into(), tags: vec![] }))
    }

    fn me() -> Me {
        Me { name: "alice".into(), role: Role::Admin }
    }

    /// Runs a keeper over `msgs` on this thread and saves.
    fn keep(cache: &Cache, from: Option<&Cached>, msgs: Vec<Msg>) {
        let mut k = Keeper::new(cache.clone(), from);
        for m in msgs {
            k.handle(m);
        }
        k.save();
    }

    fn hello() -> Msg {
        Msg::Hello(me(), Box::default())
    }

    #[test]
    fn a_session_is_kept_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path(), "http://a:1", "token:x");
        let mut msgs = vec![hello(), Msg::Snapshot(IncidentList { seq: 0, incidents: vec![] })];
        msgs.push(Msg::Event(Box::new(declared(1, "INC-1"))));
        for seq in 2..=50 {
            msgs.push(Msg::Event(Box::new(note(seq, "INC-1", &format!("n{seq}")))));
        }
        keep(&cache, None, msgs);
        let c = cache.load().expect("a board");
        assert_eq!(c.list.seq, 50);
        assert_eq!(c.list.incidents[0].revision, 50);
        assert_eq!(c.marker.seq, 50);
        let tl = cache.read_timeline(&c, "INC-1").expect("the timeline");
        assert_eq!(tl.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=50).collect::<Vec<_>>());
        use std::os::unix::fs::PermissionsExt;
        for e in fs::read_dir(cache.dir()).unwrap().flatten() {
            assert_eq!(e.metadata().unwrap().permissions().mode() & 0o777, 0o600, "{:?}", e.path());
        }
        assert_eq!(fs::metadata(cache.dir()).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn another_server_or_identity_sees_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path(), "http://a:1", "token:x");
        keep(&cache, None, vec![hello(), Msg::Event(Box::new(declared(1, "INC-1")))]);
        assert!(cache.load().is_some());
        assert!(Cache::new(dir.path(), "http://b:1", "token:x").load().is_none());
        assert!(Cache::new(dir.path(), "http://a:1", "token:y").load().is_none());
        // A board copied into another server's directory is refused and removed.
        let other = Cache::new(dir.path(), "http://b:1", "token:x");
        other.ensure_dir().unwrap();
        fs::copy(cache.dir().join(BOARD), other.dir().join(BOARD)).unwrap();
        assert!(other.load().is_none());
        assert!(!other.dir().join(BOARD).exists());
    }

    #[test]
    fn corrupt_files_are_discarded_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path(), "http://a:1", "token:x");
        let mut msgs = vec![hello(), Msg::Event(Box::new(declared(1, "INC-1")))];
        msgs.push(Msg::Event(Box::new(note(2, "INC-1", "x"))));
        keep(&cache, None, msgs);
        let c = cache.load().unwrap();
        let file = cache.dir().join(&c.timelines["INC-1"].file);
        // A timeline cut short.
        let full = fs::read(&file).unwrap();
        fs::write(&file, &full[..full.len() - 5]).unwrap();
        assert!(cache.read_timeline(&c, "INC-1").is_none());
        assert!(!file.exists());
        // Garbage in a timeline.
        fs::write(&file, vec![b'{'; full.len()]).unwrap();
        assert!(cache.read_timeline(&c, "INC-1").is_none());
        // A garbled board.
        fs::write(cache.dir().join(BOARD), b"{\"format\":1,").unwrap();
        assert!(cache.load().is_none());
        assert!(!cache.dir().join(BOARD).exists());
    }

    #[test]
    fn a_cache_of_the_old_format_is_discarded_whole() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path(), "http://a:1", "token:x");
        keep(&cache, None, vec![hello(), Msg::Event(Box::new(declared(1, "INC-1")))]);
        // What format 1 left: the board saying so, and a timeline of JSON lines.
        let mut board: serde_json::Value =
            serde_json::from_slice(&fs::read(cache.dir().join(BOARD)).unwrap()).unwrap();
        board["format"] = 1.into();
        let line = serde_json::to_string(&declared(1, "INC-1")).unwrap() + "\n";
        let old = format!("tl-{}.jsonl", hash16("INC-1"));
        board["timelines"]["INC-1"] = serde_json::json!({"file": old, "bytes": line.len(), "last_seq": 1});
        fs::write(cache.dir().join(BOARD), board.to_string()).unwrap();
        fs::write(cache.dir().join(&old), line).unwrap();
        fs::remove_file(cache.dir().join(Keeper::file_name("INC-1"))).unwrap();
        assert!(cache.load().is_none());
        let left: Vec<_> = fs::read_dir(cache.dir()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(left.iter().all(|n| n == LOCK), "{left:?}");
        // And the cache is kept anew.
        keep(&cache, None, vec![hello(), Msg::Event(Box::new(declared(1, "INC-1")))]);
        let c = cache.load().unwrap();
        assert_eq!(cache.read_timeline(&c, "INC-1").unwrap().len(), 1);
    }

    #[test]
    fn appends_after_the_last_save_are_cut_when_taken_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path(), "http://a:1", "token:x");
        keep(&cache, None, vec![hello(), Msg::Event(Box::new(declared(1, "INC-1")))]);
        let c = cache.load().unwrap();
        let file = cache.dir().join(&c.timelines["INC-1"].file);
        // A crash after an append (and a torn line), before the board was saved again.
        let mut f = OpenOptions::new().append(true).open(&file).unwrap();
        f.write_all(&record::encode(&note(2, "INC-1", "late")).unwrap()).unwrap();
        f.write_all(&record::encode(&note(3, "INC-1", "torn")).unwrap()[..20]).unwrap();
        drop(f);
        let k = Keeper::new(cache.clone(), Some(&c));
        assert_eq!(fs::metadata(&file).unwrap().len(), c.timelines["INC-1"].bytes);
        drop(k);
        assert_eq!(cache.read_timeline(&c, "INC-1").unwrap().len(), 1);
    }

    #[test]
    fn the_cap_drops_the_least_recently_active_timelines() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path(), "http://a:1", "token:x").with_cap(2_000);
        let mut msgs = vec![hello()];
        let mut seq = 0;
        for inc in ["INC-1", "INC-2", "INC-3"] {
            seq += 1;
            msgs.push(Msg::Event(Box::new(declared(seq, inc))));
        }
        // INC-1, then INC-2, then INC-3 active; about 120 bytes a record, 0.9 kB an incident.
        for inc in ["INC-1", "INC-2", "INC-3"] {
            for _ in 0..6 {
                seq += 1;
                msgs.push(Msg::Event(Box::new(note(seq, inc, &"y".repeat(60)))));
            }
        }
        keep(&cache, None, msgs);
        let c = cache.load().unwrap();
        let total: u64 = c.timelines.values().map(|i| i.bytes).sum();
        assert!(total <= 2_000, "{total}");
        assert!(!c.has_timeline("INC-1"), "the least recently active goes first");
        assert!(c.has_timeline("INC-2") && c.has_timeline("INC-3"));
        // Every incident is still on the board.
        assert_eq!(c.list.incidents.len(), 3);
        // The files on disk are the ones the board names.
        let files = fs::read_dir(cache.dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("tl-"));
        assert_eq!(files.count(), c.timelines.len());
        // One timeline larger than the cap is not kept at all.
        let small = Cache::new(dir.path(), "http://c:1", "token:x").with_cap(500);
        keep(&small, None, {
            let mut m = vec![hello(), Msg::Event(Box::new(declared(1, "INC-9")))];
            m.extend((2..10).map(|s| Msg::Event(Box::new(note(s, "INC-9", &"z".repeat(100))))));
            m
        });
        assert!(!small.load().unwrap().has_timeline("INC-9"));
    }

    #[test]
    fn a_load_answer_is_merged_with_what_streamed_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path(), "http://a:1", "token:x");
        let d = declared(1, "INC-1");
        let (n2, n3, n4) = (note(2, "INC-1", "a"), note(3, "INC-1", "b"), note(4, "INC-1", "c"));
        let mut inc = Incident::default();
        for e in [&d, &n2] {
            apply(&mut inc, e).unwrap();
        }
        keep(
            &cache,
            None,
            vec![
                hello(),
                Msg::Snapshot(IncidentList { seq: 2, incidents: vec![inc] }),
                Msg::LoadAsked("INC-1".into()),
                // The stream brings 3 and 4; the load was answered at 3.
                Msg::Event(Box::new(n3.clone())),
                Msg::Event(Box::new(n4)),
                Msg::Loaded("INC-1".into(), vec![d, n2, n3]),
                Msg::Event(Box::new(note(5, "INC-1", "d"))),
            ],
        );
        let c = cache.load().unwrap();
        let tl = cache.read_timeline(&c, "INC-1").unwrap();
        assert_eq!(tl.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
        assert_eq!(c.list.seq, 5);
        assert_eq!(c.list.incidents[0].last_seq, 5);
    }

    #[test]
    fn a_reset_server_does_not_match() {
        let m = Marker { seq: 40, id: Uuid::now_v7() };
        let r = Resume { seq: 50, marker: m, me: "alice".into() };
        let page = |last_seq: u64, e: Option<Event>| crate::api::EventPage {
            events: e.into_iter().collect(),
            last_seq,
        };
        let mut same = note(40, "INC-1", "x");
        same.id = m.id;
        assert!(r.matches(&me(), &page(60, Some(same.clone()))));
        // History reset and shorter than the cache.
        assert!(!r.matches(&me(), &page(45, Some(same.clone()))));
        assert!(!r.matches(&me(), &page(10, None)));
        // Reset and grown past it: another event at the marker's seq.
        assert!(!r.matches(&me(), &page(90, Some(note(40, "INC-1", "x")))));
        // Another user.
        assert!(!r.matches(&Me { name: "bob".into(), role: Role::Admin }, &page(60, Some(same))));
    }

    #[test]
    fn servers_beyond_the_limit_go_least_recent_first() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..MAX_SERVERS + 2 {
            let c = Cache::new(dir.path(), &format!("http://s{i}:1"), "token:x");
            keep(&c, None, vec![hello(), Msg::Event(Box::new(declared(1, "INC-1")))]);
            let t = std::time::SystemTime::now() - Duration::from_secs(1000 - i as u64);
            File::options().write(true).open(c.dir().join(BOARD)).unwrap().set_modified(t).unwrap();
        }
        let newest = Cache::new(dir.path(), "http://new:1", "token:x");
        let (w, j) = newest.clone().writer(newest.lock().unwrap(), None);
        drop(w);
        j.finish(Duration::from_secs(10));
        let left = fs::read_dir(dir.path().join("cache")).unwrap().count();
        assert_eq!(left, MAX_SERVERS);
        assert!(Cache::new(dir.path(), "http://s0:1", "token:x").load().is_none());
        assert!(
            Cache::new(dir.path(), &format!("http://s{}:1", MAX_SERVERS + 1), "token:x").load().is_some()
        );
    }
}
