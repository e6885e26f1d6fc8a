//! Drafts that survive the console: what is typed in the composer (an unsent note, finding,
//! action or decision) and in the comms editor (an edited, unsent update) is saved in the data
//! dir as it is typed, one file per incident (`<data dir>/drafts/<server>/<incident>.json`,
//! 0600, written to a temporary file and renamed over the old one). A console started after a
//! crash, a `kill -9` or a dropped SSH session loads them back into its drafts: it says so at
//! start, and opening the same kind of entry (or `C` for comms) in that incident continues it.
//! A draft's file goes when the draft is sent or discarded (emptied, or Esc on an empty one).
//!
//! Saving is rate-limited ([`MIN_GAP`]): the first change is written at once, changes that follow
//! within the gap are written together when it has passed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::state::overlay::{input_text, new_input};
use uuid::Uuid;

use super::state::{CommsEditor, ComposeKind, CorrectionDraft, Draft, Overlay, State};
use crate::domain::EventKind;

/// The shortest time between two saves.
pub const MIN_GAP: Duration = Duration::from_millis(200);

/// Everything unsent for one incident, as kept in its file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IncidentDrafts {
    pub incident: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<EntryDraft>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comms: Option<CommsDraft>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrections: Vec<KeptCorrection>,
}

/// A correction being typed: the entry it amends, its text, and the text it started from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptCorrection {
    pub target: Uuid,
    pub text: Vec<String>,
    pub was: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryDraft {
    pub kind: EventKind,
    pub text: Vec<String>,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommsDraft {
    pub template: String,
    pub text: Vec<String>,
    /// The text as the template drafted it.
    pub drafted: String,
}

/// What is unsent in the console right now, by incident: the kept drafts and what the open
/// composer or comms editor holds.
pub fn snapshot(s: &State) -> BTreeMap<String, IncidentDrafts> {
    let mut entries: BTreeMap<(String, EventKind), EntryDraft> = s
        .drafts
        .iter()
        .map(|((inc, kind), d)| {
            (
                (inc.clone(), *kind),
                EntryDraft { kind: *kind, text: d.text.clone(), occurred_at: d.occurred_at },
            )
        })
        .collect();
    let mut comms: BTreeMap<String, CommsDraft> =
        s.comms_drafts.iter().map(|(inc, c)| (inc.clone(), comms_draft(c))).collect();
    let mut corrections: BTreeMap<(String, Uuid), CorrectionDraft> =
        s.correction_drafts.iter().map(|(k, d)| (k.clone(), d.clone())).collect();
    match &s.overlay {
        // The open correction editor: its text as typed, against what it started from.
        Some(Overlay::Composer(c)) if matches!(c.kind, ComposeKind::Correction { .. }) => {
            if let ComposeKind::Correction { target } = c.kind
                && let Some(d) = corrections.get_mut(&(c.incident.clone(), target))
            {
                d.text = c.input.lines().to_vec();
            }
        }
        Some(Overlay::Composer(c)) => {
            if let ComposeKind::Entry(kind) = c.kind {
                let key = (c.incident.clone(), kind);
                if input_text(&c.input).is_empty() {
                    entries.remove(&key);
                } else {
                    let text = c.input.lines().to_vec();
                    entries.insert(key, EntryDraft { kind, text, occurred_at: c.occurred_at });
                }
            }
        }
        // An untouched template is not a draft: the template drafts it again.
        Some(Overlay::Comms(c)) if input_text(&c.input) != c.drafted && !input_text(&c.input).is_empty() => {
            comms.insert(c.incident.clone(), comms_draft(c));
        }
        _ => {}
    }
    let mut out: BTreeMap<String, IncidentDrafts> = BTreeMap::new();
    for ((inc, _), e) in entries {
        out.entry(inc.clone())
            .or_insert_with(|| IncidentDrafts { incident: inc, ..Default::default() })
            .entries
            .push(e);
    }
    for (inc, c) in comms {
        out.entry(inc.clone())
            .or_insert_with(|| IncidentDrafts { incident: inc, ..Default::default() })
            .comms = Some(c);
    }
    for ((inc, target), d) in corrections.into_iter().filter(|(_, d)| d.typed()) {
        out.entry(inc.clone())
            .or_insert_with(|| IncidentDrafts { incident: inc, ..Default::default() })
            .corrections
            .push(KeptCorrection { target, text: d.text, was: d.was });
    }
    out
}

fn comms_draft(c: &CommsEditor) -> CommsDraft {
    CommsDraft { template: c.template.clone(), text: c.input.lines().to_vec(), drafted: c.drafted.clone() }
}

/// The drafts of one server in the data dir, and what was last written there.
pub struct DraftStore {
    dir: PathBuf,
    saved: BTreeMap<String, IncidentDrafts>,
    /// Changed since the last save (waiting for [`MIN_GAP`] to pass).
    dirty: bool,
    last_write: Option<Instant>,
}

/// A file name for an incident id (ids are `INC-7`-like; anything else is hex-encoded).
fn file_name(incident: &str) -> String {
    let plain = !incident.is_empty()
        && incident.len() <= 64
        && incident.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain { format!("{incident}.json") } else { format!("x-{}.json", hex::encode(incident)) }
}

impl DraftStore {
    /// Opens `dir` (created 0700) and loads the drafts kept there into the state's drafts,
    /// with a notice saying what was restored. Unreadable files are left alone (and logged).
    pub fn open(dir: PathBuf, s: &mut State) -> DraftStore {
        let saved = load(&dir);
        let mut restored = Vec::new();
        for d in saved.values() {
            for e in &d.entries {
                s.drafts.insert(
                    (d.incident.clone(), e.kind),
                    Draft { text: e.text.clone(), occurred_at: e.occurred_at },
                );
                restored.push(format!("{} {}", d.incident, e.kind));
            }
            if let Some(c) = &d.comms {
                let mut input = new_input(c.text.clone());
                input.move_cursor(ratatui_textarea::CursorMove::Bottom);
                input.move_cursor(ratatui_textarea::CursorMove::End);
                s.comms_drafts.insert(
                    d.incident.clone(),
                    CommsEditor {
                        incident: d.incident.clone(),
                        template: c.template.clone(),
                        input,
                        drafted: c.drafted.clone(),
                        channel: None,
                        error: None,
                    },
                );
                restored.push(format!("{} comms", d.incident));
            }
            for c in &d.corrections {
                s.correction_drafts.insert(
                    (d.incident.clone(), c.target),
                    CorrectionDraft { text: c.text.clone(), was: c.was.clone() },
                );
                restored.push(format!("{} correction", d.incident));
            }
        }
        if !restored.is_empty() {
            s.set_notice(format!(
                "✎ unsent drafts restored: {} (in the incident, the same key continues it)",
                restored.join(", ")
            ));
        }
        DraftStore { dir, saved, dirty: false, last_write: None }
    }

    /// Looks at the state after a change; saves now, or marks the change for [`DraftStore::due`].
    pub fn observe(&mut self, s: &State, now: Instant) {
        let current = snapshot(s);
        if current != self.saved {
            self.dirty = true;
        }
        if self.dirty && self.last_write.is_none_or(|t| t + MIN_GAP <= now) {
            self.save(current, now);
        }
    }

    /// When a pending change should be written (`None`: nothing pending).
    pub fn due(&self) -> Option<Instant> {
        self.dirty.then(|| self.last_write.map_or_else(Instant::now, |t| t + MIN_GAP))
    }

    fn save(&mut self, current: BTreeMap<String, IncidentDrafts>, now: Instant) {
        if let Err(e) = private_dir(&self.dir) {
            tracing::warn!("cannot keep drafts in {}: {e}", self.dir.display());
        }
        for (inc, d) in &current {
            if self.saved.get(inc) != Some(d)
                && let Err(e) = write_atomic(&self.dir.join(file_name(inc)), d)
            {
                tracing::warn!("cannot save the draft of {inc}: {e}");
            }
        }
        for inc in self.saved.keys().filter(|k| !current.contains_key(*k)) {
            match std::fs::remove_file(self.dir.join(file_name(inc))) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    tracing::warn!("cannot remove the sent draft of {inc}: {e}");
                }
                _ => {}
            }
        }
        self.saved = current;
        self.dirty = false;
        self.last_write = Some(now);
    }

    /// Writes what is pending now (at quit).
    pub fn flush(&mut self, s: &State) {
        let current = snapshot(s);
        if current != self.saved {
            self.save(current, Instant::now());
        }
    }
}

/// Every readable draft file in `dir`, by incident.
pub fn load(dir: &Path) -> BTreeMap<String, IncidentDrafts> {
    let mut out = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    for entry in rd.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<IncidentDrafts>(&b).map_err(|e| e.to_string()))
        {
            Ok(d) => {
                out.insert(d.incident.clone(), d);
            }
            Err(e) => tracing::warn!("ignoring the draft file {}: {e}", path.display()),
        }
    }
    out
}

fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Writes `value` to `path` whole or not at all: a 0600 temporary file beside it, fsynced, then
/// renamed over it.
fn write_atomic(path: &Path, value: &IncidentDrafts) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(&serde_json::to_vec(value)?)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_name("INC-7"), "INC-7.json");
        assert_eq!(file_name("../x"), "x-2e2e2f78.json");
    }

    #[test]
    fn a_typed_draft_is_saved_restored_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let drafts = dir.path().join("drafts");
        let now = Utc::now();
        let mut s = State::new("test".into(), Default::default(), now);
        let mut store = DraftStore::open(drafts.clone(), &mut s);
        s.drafts.insert(
            ("INC-1".into(), EventKind::Note),
            Draft { text: vec!["half a thought".into()], occurred_at: now },
        );
        store.observe(&s, Instant::now());
        let saved = load(&drafts);
        assert_eq!(saved["INC-1"].entries[0].text, vec!["half a thought".to_string()]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(drafts.join("INC-1.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let mut again = State::new("test".into(), Default::default(), now);
        let _ = DraftStore::open(drafts.clone(), &mut again);
        assert_eq!(
            again.drafts[&("INC-1".to_string(), EventKind::Note)].text,
            vec!["half a thought".to_string()]
        );
        assert!(again.notice.as_ref().is_some_and(|n| n.text.contains("INC-1 note")));

        s.drafts.clear();
        store.flush(&s);
        assert!(load(&drafts).is_empty());
        assert!(!drafts.join("INC-1.json").exists());
    }

    #[test]
    fn a_typed_correction_is_saved_and_restored_and_an_untouched_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let drafts = dir.path().join("drafts");
        let now = Utc::now();
        let target = Uuid::now_v7();
        let mut s = State::new("test".into(), Default::default(), now);
        let mut store = DraftStore::open(drafts.clone(), &mut s);
        let key = ("INC-1".to_string(), target);
        let was = "db at 98%".to_string();
        s.correction_drafts
            .insert(key.clone(), CorrectionDraft { text: vec![was.clone()], was: was.clone() });
        store.observe(&s, Instant::now());
        assert!(load(&drafts).is_empty(), "an untouched correction is no draft");

        s.correction_drafts.insert(key.clone(), CorrectionDraft { text: vec!["db at 97%".into()], was });
        store.flush(&s);
        let saved = load(&drafts);
        assert_eq!(saved["INC-1"].corrections[0].target, target);
        let mut again = State::new("test".into(), Default::default(), now);
        let _ = DraftStore::open(drafts.clone(), &mut again);
        assert_eq!(again.correction_drafts[&key].text, vec!["db at 97%".to_string()]);
        assert!(again.notice.as_ref().is_some_and(|n| n.text.contains("INC-1 correction")));

        s.correction_drafts.clear();
        store.flush(&s);
        assert!(!drafts.join("INC-1.json").exists());
    }
}
