//! Where things live and what the user configured: data and config dirs (`directories`), the
//! config file, and the practice (embedded `assets/`, overridden from the config dir).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};
use serde::{Deserialize, Serialize};

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

/// The data dir (database, outbox, logs, embedded token) and the config dir.
#[derive(Debug, Clone)]
pub struct Paths {
    pub data_dir: PathBuf,
    pub config_dir: PathBuf,
}

impl Paths {
    /// `WARROOM_DATA_DIR` / `WARROOM_CONFIG_DIR` override the platform's directories.
    pub fn from_env() -> anyhow::Result<Self> {
        let dirs = directories::ProjectDirs::from("", "", "warroom");
        let data_dir = match std::env::var_os("WARROOM_DATA_DIR") {
            Some(p) => PathBuf::from(p),
            None => dirs
                .as_ref()
                .map(|d| d.data_dir().to_path_buf())
                .ok_or_else(|| anyhow::anyhow!("no home directory: set WARROOM_DATA_DIR"))?,
        };
        let config_dir = match std::env::var_os("WARROOM_CONFIG_DIR") {
            Some(p) => PathBuf::from(p),
            None => dirs
                .as_ref()
                .map(|d| d.config_dir().to_path_buf())
                .ok_or_else(|| anyhow::anyhow!("no home directory: set WARROOM_CONFIG_DIR"))?,
        };
        Ok(Self { data_dir, config_dir })
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    pub fn default_db_url(&self) -> String {
        format!("sqlite://{}", self.data_dir.join("warroom.db").display())
    }

    pub fn ensure_data_dir(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.data_dir)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeDisplay {
    #[default]
    Utc,
    Local,
}

/// `config.toml` in the config dir. Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Server URL(s) the console and CLI talk to; several for failover.
    pub server: Option<ServerList>,
    /// Bearer token (prefer `token_file`).
    pub token: Option<String>,
    /// File holding the bearer token.
    pub token_file: Option<PathBuf>,
    /// Extra CA certificate(s) (PEM) to trust for `https://` servers.
    pub ca_file: Option<PathBuf>,
    /// Allow sending the token over plain HTTP to a host that is not loopback.
    pub insecure_http: bool,
    /// Theme name (built-in or a file in `<config dir>/themes/`).
    pub theme: Option<String>,
    /// Show times in UTC (default) or local time.
    pub time: TimeDisplay,
    /// Key binding overrides: action name -> keys.
    pub keys: BTreeMap<String, Vec<String>>,
    pub serve: ServeConfig,
    /// Options that `warroom run` uses.
    pub run: RunConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServerList {
    One(String),
    Many(Vec<String>),
}

impl ServerList {
    pub fn urls(&self) -> Vec<String> {
        match self {
            ServerList::One(s) => {
                s.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
            }
            ServerList::Many(v) => v.clone(),
        }
    }
}

/// `[serve]`: the server's own settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    pub listen: Option<String>,
    pub db: Option<String>,
    /// Severity scheme id (`sev` or `p`, or a team's own).
    pub scheme: Option<String>,
    /// Directory with practice overrides (defaults to `<config dir>/practice`).
    pub practice_dir: Option<PathBuf>,
    /// Serve HTTPS: certificate chain and private key (PEM).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub alertmanager: AlertmanagerConfig,
    /// `[serve.limits]`: per-token write rate and stream cap, request body limit.
    pub limits: crate::server::Limits,
}

/// `[serve.alertmanager]`: how alerts map to incidents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertmanagerConfig {
    /// Label whose value picks the severity.
    pub severity_label: String,
    /// Label value -> severity level id.
    pub severity_map: BTreeMap<String, String>,
    /// Severity when the label is missing or unmapped.
    pub default_severity: Option<String>,
    /// Alert name -> runbook link or playbook id.
    pub runbooks: BTreeMap<String, String>,
}

impl Default for AlertmanagerConfig {
    fn default() -> Self {
        let severity_map =
            [("critical", "SEV-1"), ("major", "SEV-2"), ("warning", "SEV-3"), ("info", "SEV-4")]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
        Self {
            severity_label: "severity".into(),
            severity_map,
            default_severity: None,
            runbooks: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Argument names whose values are masked when a command line is recorded.
    pub secret_args: Vec<String>,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            secret_args: ["--password", "--token", "--secret", "--api-key", "-p"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

impl Config {
    /// Loads the config file if it exists. A broken file is an error naming file, line and key.
    pub fn load(path: &Path) -> Result<Config, FileError> {
        match std::fs::read_to_string(path) {
            Ok(text) => parse_toml(&path.display().to_string(), &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(FileError { file: path.display().to_string(), line: None, message: e.to_string() }),
        }
    }
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
    fn config_error_names_file_line_and_key() {
        let text = "theme = \"mono\"\ntime = 3\n";
        let err = parse_toml::<Config>("config.toml", text).unwrap_err().to_string();
        assert!(err.starts_with("config.toml:2:"), "{err}");
        assert!(err.contains("time"), "{err}");
    }

    #[test]
    fn unknown_key_is_named() {
        let err = parse_toml::<Config>("c.toml", "theme = \"x\"\n\n[serve]\nlisen = \"1\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.toml:4:"), "{err}");
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn serve_limits_are_read_and_missing_keys_keep_their_defaults() {
        use crate::server::Limits;
        let c: Config = parse_toml("c.toml", "[serve]\nlisten = \"0.0.0.0:7878\"\n").unwrap();
        assert_eq!(c.serve.limits, Limits::default());
        let text = "[serve.limits]\nwrites_per_sec = 1\nwrite_burst = 2\nmax_body_bytes = 8192\n";
        let c: Config = parse_toml("c.toml", text).unwrap();
        assert_eq!(
            c.serve.limits,
            Limits { writes_per_sec: 1.0, write_burst: 2, max_body_bytes: 8192, ..Limits::default() }
        );
        let c: Config =
            parse_toml("c.toml", "[serve.limits]\nwrites_per_sec = 0.5\nstreams_per_token = 4\n").unwrap();
        assert_eq!(c.serve.limits.writes_per_sec, 0.5);
        assert_eq!(c.serve.limits.streams_per_token, 4);
        assert_eq!(c.serve.limits.write_burst, Limits::default().write_burst);
    }

    #[test]
    fn bad_serve_limits_name_file_line_and_key() {
        for (line, why) in [
            ("writes_per_sec = 0", "above 0"),
            ("writes_per_sec = -3", "above 0"),
            ("writes_per_sec = nan", "above 0"),
            ("writes_per_sec = inf", "above 0"),
            ("writes_per_sec = \"fast\"", "invalid type"),
            ("write_burst = 0", "at least 1"),
            ("write_burst = -1", "at least 1"),
            ("write_burst = 1.5", "whole number"),
            ("write_burst = 5000000000", "at least 1"),
            ("streams_per_token = 0", "at least 1"),
            ("streams_per_token = true", "invalid type"),
            ("max_body_bytes = 100", "4096"),
            ("max_body_bytes = 4095", "4096"),
            ("max_body_bytes = 1099511627776", "64 MiB"),
            ("max_body_bytes = \"1MB\"", "invalid type"),
            ("writes_per_second = 5", "unknown field"),
        ] {
            let text = format!("theme = \"mono\"\n\n[serve.limits]\n# per token\n{line}\n");
            let err = parse_toml::<Config>("/etc/warroom/config.toml", &text).unwrap_err().to_string();
            let key = line.split(' ').next().unwrap();
            assert!(err.starts_with("/etc/warroom/config.toml:5:"), "{line}: {err}");
            assert!(err.contains(&format!("`{key}`")), "{line}: {err}");
            assert!(err.contains(why), "{line}: {err}");
        }
        // Exactly at the bounds is fine.
        for line in ["max_body_bytes = 4096", "max_body_bytes = 67108864", "writes_per_sec = 0.001"] {
            parse_toml::<Config>("c.toml", &format!("[serve.limits]\n{line}\n")).unwrap();
        }
    }

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
