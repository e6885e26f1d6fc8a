//! The embedded assets (`assets/`, in the binary), reading the TOML files users and teams write
//! with errors that name file, line and key, and loading the practice: the embedded defaults,
//! patched from an override dir. A leaf: it depends only on `domain`.

use std::collections::BTreeMap;
use std::path::Path;

use include_dir::{Dir, include_dir};

use crate::domain::practice::{Checklist, Playbook, Practice, RoleSet, Scheme};

/// Everything under `assets/`, embedded in the binary.
pub static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/assets");

/// An error in a file the user (or a team) wrote: names the file, line and key.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", .line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct FileError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

/// Parses TOML into `T`, turning errors into `file:line: key `k`: message`.
pub fn parse_toml<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, FileError> {
    toml::from_str(text).map_err(|e| {
        let (line, key) = match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                let line_text = text.lines().nth(line - 1).unwrap_or_default();
                let key = line_text
                    .split_once('=')
                    .map(|(k, _)| k.trim().trim_matches('"').to_string())
                    .filter(|k| !k.is_empty() && !k.starts_with('['));
                (Some(line), key)
            }
            None => (None, None),
        };
        let msg = e.message().trim().to_string();
        let message = match key {
            Some(k) if !msg.contains(&format!("`{k}`")) => format!("key `{k}`: {msg}"),
            _ => msg,
        };
        FileError { file: file.to_string(), line, message }
    })
}

/// One practice file: where it came from and its text.
struct Source {
    name: String,
    text: String,
}

/// Collects `<kind>/*.<ext>` from the embedded assets, then from the override dir. A file of the
/// same name in the override dir replaces the embedded one.
fn collect(
    kind: &str,
    ext: &str,
    override_dir: Option<&Path>,
) -> Result<BTreeMap<String, Source>, FileError> {
    let mut out = BTreeMap::new();
    if let Some(dir) = ASSETS.get_dir(format!("practice/{kind}")) {
        for f in dir.files() {
            let Some(stem) = f.path().file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(ext))
            else {
                continue;
            };
            let text = f.contents_utf8().unwrap_or_default().to_string();
            out.insert(stem.to_string(), Source { name: format!("assets/{}", f.path().display()), text });
        }
    }
    if let Some(base) = override_dir {
        let dir = base.join(kind);
        if let Ok(rd) = std::fs::read_dir(&dir) {
            let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
            entries.sort();
            for p in entries {
                let Some(stem) = p.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(ext))
                else {
                    continue;
                };
                let text = std::fs::read_to_string(&p).map_err(|e| FileError {
                    file: p.display().to_string(),
                    line: None,
                    message: e.to_string(),
                })?;
                out.insert(stem.to_string(), Source { name: p.display().to_string(), text });
            }
        }
    }
    Ok(out)
}

/// Loads the practice: the embedded defaults, patched by `override_dir` (same layout as
/// `assets/practice/`: `schemes/`, `roles/`, `checklists/`, `playbooks/`, `templates/`), with
/// `scheme` (default `sev`) active.
pub fn load_practice(override_dir: Option<&Path>, scheme: Option<&str>) -> anyhow::Result<Practice> {
    fn parse_all<T: serde::de::DeserializeOwned>(
        kind: &str,
        dir: Option<&Path>,
    ) -> Result<Vec<T>, FileError> {
        collect(kind, ".toml", dir)?.values().map(|s| parse_toml::<T>(&s.name, &s.text)).collect()
    }
    let mut p = Practice {
        scheme: None,
        schemes: parse_all::<Scheme>("schemes", override_dir)?,
        role_sets: parse_all::<RoleSet>("roles", override_dir)?,
        checklists: parse_all::<Checklist>("checklists", override_dir)?,
        playbooks: parse_all::<Playbook>("playbooks", override_dir)?,
        templates: collect("templates", ".md", override_dir)?.into_iter().map(|(k, s)| (k, s.text)).collect(),
    };
    p.validate().map_err(|e| anyhow::anyhow!("practice: {e}"))?;
    let wanted = scheme.unwrap_or("sev");
    p.select(wanted).map_err(|e| anyhow::anyhow!(e))?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_practice_loads_both_schemes() {
        let p = load_practice(None, None).unwrap();
        assert_eq!(p.scheme().id, "sev");
        assert_eq!(p.scheme().levels[0].id, "SEV-1");
        let p = load_practice(None, Some("p")).unwrap();
        assert_eq!(p.scheme().levels[0].id, "P1");
    }

    #[test]
    fn override_dir_replaces_a_checklist() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("checklists")).unwrap();
        let base = load_practice(None, None).unwrap();
        let first = base.incident_checklists()[0].id.clone();
        std::fs::write(
            dir.path().join("checklists").join(format!("{first}.toml")),
            format!(
                "id = \"{first}\"\nname = \"Ours\"\n[[items]]\nid = \"page\"\ntext = \"Page the team\"\n"
            ),
        )
        .unwrap();
        let p = load_practice(Some(dir.path()), None).unwrap();
        let c = p.checklist(&first).unwrap();
        assert_eq!(c.name, "Ours");
        assert_eq!(c.items.len(), 1);
    }

    #[test]
    fn broken_override_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("roles")).unwrap();
        std::fs::write(dir.path().join("roles").join("x.toml"), "id = \"x\"\nname = 5\n").unwrap();
        let err = load_practice(Some(dir.path()), None).unwrap_err().to_string();
        assert!(err.contains("x.toml:2"), "{err}");
    }
}
