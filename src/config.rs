//! Where things live and what the user configured: data and config dirs (`directories`) and the
//! config file. The composition root of the settings: each section's type belongs to the part
//! it configures (`server`, `tui`), and nothing but the CLI imports this module. The practice
//! and the embedded defaults are loaded by `assets`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::assets::{FileError, parse_toml};
use crate::server::{AlertmanagerConfig, Limits};
use crate::tui::format::TimeDisplay;

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
    /// Certificate fingerprint(s) (`sha256:...`) to trust for `https://` servers, whoever
    /// signed them: one string or a list.
    #[serde(deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub pin: Vec<crate::client::tls::Fingerprint>,
    /// Theme name (built-in or a file in `<config dir>/themes/`).
    pub theme: Option<String>,
    /// Show times in UTC (default) or local time.
    pub time: TimeDisplay,
    /// Key binding overrides: action name -> keys.
    pub keys: BTreeMap<String, Vec<String>>,
    /// Loopback address the embedded server (a console or command without `server`) listens on
    /// first; when it is busy, any free port. Default `127.0.0.1:7878`.
    pub embedded_listen: Option<String>,
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
    /// Serve HTTPS with a CA and certificate made in `<data dir>/tls/` (`--tls-self-signed`).
    pub tls_self_signed: bool,
    /// Further names for that certificate (`--tls-name`).
    pub tls_names: Vec<String>,
    pub alertmanager: AlertmanagerConfig,
    /// `[serve.limits]`: per-token write rate and stream cap, request body limit.
    pub limits: Limits,
    /// ship: serve `GET /metrics` (Prometheus) without a token on this address of its own, e.g.
    /// `127.0.0.1:9464`; the main listener serves it to any valid token regardless.
    pub metrics_listen: Option<String>,
    /// `[serve.oidc]`: sign-in with an OpenID Provider (oidc).
    pub oidc: Option<crate::server::oidc::OidcConfig>,
    /// `[serve.notify]`: notification targets and routes (`server::notify`).
    pub notify: crate::server::notify::NotifyConfig,
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

/// `pin = "sha256:..."` or `pin = ["sha256:...", ...]`.
fn one_or_many<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<crate::client::tls::Fingerprint>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let all = match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    };
    all.iter().map(|s| crate::client::tls::Fingerprint::parse(s).map_err(serde::de::Error::custom)).collect()
}

impl Config {
    /// Loads the config file if it exists. A broken file is an error naming file, line and key.
    pub fn load(path: &Path) -> Result<Config, FileError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let file = path.display().to_string();
                let mut config: Config = parse_toml(&file, &text)?;
                // Notifications: the checks that span keys, with the file's lines.
                config.serve.notify.validate(&file, &text)?;
                Ok(config)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(FileError { file: path.display().to_string(), line: None, message: e.to_string() }),
        }
    }
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
    fn pins_are_one_or_many_and_a_bad_one_names_file_line_and_key() {
        let fp = format!("sha256:{}", "ab".repeat(32));
        let c: Config = parse_toml("c.toml", &format!("pin = \"{fp}\"\n")).unwrap();
        assert_eq!(c.pin.len(), 1);
        assert_eq!(c.pin[0].to_string(), fp);
        let c: Config = parse_toml("c.toml", &format!("pin = [\"{fp}\", \"{fp}\"]\n")).unwrap();
        assert_eq!(c.pin.len(), 2);
        let err =
            parse_toml::<Config>("c.toml", "theme = \"x\"\npin = \"md5:00\"\n").unwrap_err().to_string();
        assert!(err.starts_with("c.toml:2:"), "{err}");
        assert!(err.contains("not a certificate fingerprint"), "{err}");
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
    // oidc
    #[test]
    fn serve_oidc_is_read_and_bad_keys_name_file_line_and_key() {
        let text = "[serve.oidc]\nissuer = \"https://idp.example.com/\"\nclient_id = \"warroom\"\n\
                    session_lifetime = \"8h\"\n[serve.oidc.roles]\n\"sre-oncall\" = \"commander\"\n";
        let c: Config = parse_toml("c.toml", text).unwrap();
        let o = c.serve.oidc.unwrap();
        assert_eq!(o.issuer, "https://idp.example.com");
        assert_eq!(o.session_lifetime, std::time::Duration::from_secs(8 * 3600));
        assert_eq!(o.roles["sre-oncall"], crate::api::Role::Commander);
        assert_eq!(o.groups_claim, "groups");
        for (line, why) in [
            ("issuer = \"http://idp.example.com\"", "https://"),
            ("session_lifetime = \"12 hours\"", "not a duration"),
            ("session_lifetime = \"0s\"", "1s to 90d"),
            ("client_ids = \"x\"", "unknown field"),
            ("default_role = \"root\"", "unknown variant"),
        ] {
            let text = format!("[serve.oidc]\nclient_id = \"warroom\"\n{line}\n");
            let text = if line.starts_with("issuer") {
                text
            } else {
                format!("{text}issuer = \"https://i.example\"\n")
            };
            let err = parse_toml::<Config>("/etc/warroom/config.toml", &text).unwrap_err().to_string();
            let key = line.split(' ').next().unwrap();
            assert!(err.starts_with("/etc/warroom/config.toml:3:"), "{line}: {err}");
            assert!(err.contains(key), "{line}: {err}");
            assert!(err.contains(why), "{line}: {err}");
        }
    }
}
