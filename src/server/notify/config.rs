//! `[serve.notify]`: the targets notifications go to, the routes that pick them, and the
//! delivery worker's timing. Parsed with the rest of the config file; the checks that span
//! several keys ([`NotifyConfig::validate`]) report file, line and key like a parse error.
//! Secrets (webhook secrets, tokens, routing keys, webhook URLs) never show in `Debug`.

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::assets::FileError;

/// `[serve.notify]`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Total time one attempt may take (connect, send, answer), seconds.
    pub timeout_secs: f64,
    /// Time to connect, seconds.
    pub connect_timeout_secs: f64,
    /// A delivery still failing this long after it was queued is given up (and says so).
    pub give_up_after_secs: u64,
    /// The first retry waits about this long; each further one twice as long (with jitter).
    pub backoff_base_ms: u64,
    /// The longest wait between two attempts (a target's Retry-After may ask for longer).
    pub backoff_max_secs: u64,
    /// How long a server holds a delivery it is attempting before another may take it over.
    pub lease_secs: u64,
    /// How often the worker looks for due deliveries, milliseconds.
    pub poll_ms: u64,
    /// How often open incidents are checked for escalation and breached timers, seconds.
    pub scan_secs: f64,
    /// How long finished deliveries (delivered, or given up: kept for inspection) stay in the
    /// queue after they were queued, seconds; pending ones stay until they finish.
    pub retention_secs: f64,
    pub targets: Vec<TargetConfig>,
    pub routes: Vec<RouteConfig>,
    /// The config file these came from (for messages), set by [`NotifyConfig::validate`].
    #[serde(skip)]
    pub file: String,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            timeout_secs: 10.0,
            connect_timeout_secs: 5.0,
            give_up_after_secs: 24 * 3600,
            backoff_base_ms: 2000,
            backoff_max_secs: 600,
            lease_secs: 60,
            poll_ms: 250,
            scan_secs: 15.0,
            retention_secs: 7.0 * 24.0 * 3600.0,
            targets: Vec::new(),
            routes: Vec::new(),
            file: String::new(),
        }
    }
}

impl fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("timeout_secs", &self.timeout_secs)
            .field("give_up_after_secs", &self.give_up_after_secs)
            .field("lease_secs", &self.lease_secs)
            .field("targets", &self.targets)
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

/// Where a notification goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum TargetKind {
    /// Slack incoming webhook (also Mattermost and Rocket.Chat incoming webhooks).
    Slack,
    /// Microsoft Teams Workflows webhook (Adaptive Card).
    Teams,
    /// Matrix client-server API, a room message.
    Matrix,
    /// Any URL, signed per Standard Webhooks.
    Webhook,
    /// PagerDuty Events API v2.
    Pagerduty,
    /// SMTP, plain text.
    Email,
}

/// How an email target talks to its SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587 by default).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465 by default).
    Tls,
    /// No encryption (port 25 by default): only for a relay on the same host.
    None,
}

/// A secret from the config file: shown as `***` by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// `[[serve.notify.targets]]`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    pub name: String,
    pub kind: TargetKind,
    /// The webhook URL (Slack, Teams, webhook), the homeserver (Matrix), or the Events API
    /// endpoint (PagerDuty; default `https://events.pagerduty.com/v2/enqueue`). Webhook URLs
    /// are secrets: prefer `url_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Secret>,
    /// The environment variable holding `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    /// Webhook: the Standard Webhooks signing secret, `whsec_<base64>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// Matrix: the room id (`!abc:example.org`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Matrix: the access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// PagerDuty: the integration's routing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key_env: Option<String>,
    /// Email: the SMTP server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<SmtpTls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Email: the environment variable holding the SMTP password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    /// Email: an extra CA certificate (PEM) to trust for the SMTP server's certificate, besides
    /// the system's roots (an internal relay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<std::path::PathBuf>,
    /// The line of this target's table in the config file (set by `validate`).
    #[serde(skip)]
    pub line: Option<usize>,
}

impl fmt::Debug for TargetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.url.as_ref().map(|u| redact_url(&u.0)))
            .field("url_env", &self.url_env)
            .field("secret", &self.secret)
            .field("room", &self.room)
            .field("token", &self.token)
            .field("routing_key", &self.routing_key)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

/// A URL with only its scheme, host and port: webhook URLs carry their secret in the path.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{}{port}/***", u.scheme(), u.host_str().unwrap_or_default())
        }
        Err(_) => "***".to_string(),
    }
}

/// What a route listens to (`on`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EventClass {
    Declared,
    SeverityChanged,
    StatusChanged,
    CommanderChanged,
    CommsSent,
    Escalation,
    TimerBreached,
}

/// `[[serve.notify.routes]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub on: Vec<EventClass>,
    /// Only incidents at these severities (any when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severities: Vec<String>,
    pub targets: Vec<String>,
    #[serde(skip)]
    pub line: Option<usize>,
}

impl RouteConfig {
    pub fn matches(&self, class: EventClass, severity: &str) -> bool {
        self.on.contains(&class)
            && (self.severities.is_empty()
                || self.severities.iter().any(|s| s.eq_ignore_ascii_case(severity)))
    }
}

/// Lines of each `[[<header>]]` table in `text`, in order.
fn table_lines(text: &str, header: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let t: String = l.chars().filter(|c| !c.is_whitespace()).collect();
            t.starts_with(&format!("[[{header}]]"))
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// The line of `key = ...` in the table starting at `start` (1-based), if it is there.
fn key_line(text: &str, start: Option<usize>, key: &str) -> Option<usize> {
    let start = start?;
    for (i, l) in text.lines().enumerate().skip(start) {
        let t = l.trim();
        if t.starts_with('[') {
            break;
        }
        if t.split_once('=').is_some_and(|(k, _)| k.trim().trim_matches('"') == key) {
            return Some(i + 1);
        }
    }
    None
}

/// The first line of `key = ...` anywhere in `text`.
fn any_key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.split_once('=').is_some_and(|(k, _)| k.trim().trim_matches('"') == key))
        .map(|i| i + 1)
}

impl NotifyConfig {
    /// Whether anything is configured (no targets: no worker runs).
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    fn err(&self, line: Option<usize>, key: &str, message: impl fmt::Display) -> FileError {
        FileError { file: self.file.clone(), line, message: format!("key `{key}`: {message}") }
    }

    /// The checks that span keys: each kind's required keys, valid URLs and secrets, unique
    /// names, routes naming configured targets. `text` is the file, for line numbers.
    pub fn validate(&mut self, file: &str, text: &str) -> Result<(), FileError> {
        self.file = file.to_string();
        let t_lines = table_lines(text, "serve.notify.targets");
        let r_lines = table_lines(text, "serve.notify.routes");
        for (i, t) in self.targets.iter_mut().enumerate() {
            t.line = t_lines.get(i).copied();
        }
        for (i, r) in self.routes.iter_mut().enumerate() {
            r.line = r_lines.get(i).copied();
        }
        let at = |line: Option<usize>, key: &str| key_line(text, line, key).or(line);
        if !(self.timeout_secs > 0.0 && self.timeout_secs.is_finite()) {
            return Err(self.err(any_key_line(text, "timeout_secs"), "timeout_secs", "must be above 0"));
        }
        if !(self.connect_timeout_secs > 0.0 && self.connect_timeout_secs.is_finite()) {
            return Err(self.err(
                any_key_line(text, "connect_timeout_secs"),
                "connect_timeout_secs",
                "must be above 0",
            ));
        }
        if (self.lease_secs as f64) < self.timeout_secs + 1.0 {
            return Err(self.err(
                any_key_line(text, "lease_secs").or(any_key_line(text, "timeout_secs")),
                "lease_secs",
                format!(
                    "must be at least timeout_secs + 1 ({}): a lease must outlast an attempt",
                    self.timeout_secs + 1.0
                ),
            ));
        }
        if !(self.retention_secs > 0.0 && self.retention_secs.is_finite()) {
            return Err(self.err(any_key_line(text, "retention_secs"), "retention_secs", "must be above 0"));
        }
        if self.poll_ms == 0 || !(self.scan_secs > 0.0 && self.scan_secs.is_finite()) {
            let key = if self.poll_ms == 0 { "poll_ms" } else { "scan_secs" };
            return Err(self.err(any_key_line(text, key), key, "must be above 0"));
        }
        let mut names = BTreeSet::new();
        for t in &self.targets {
            let line = t.line;
            let e = |key: &str, msg: String| self.err(at(line, key), key, msg);
            let valid_name = !t.name.is_empty()
                && t.name.len() <= 64
                && t.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !valid_name {
                return Err(e("name", format!("`{}` is not a target name (letters, digits, - _ .)", t.name)));
            }
            if !names.insert(t.name.clone()) {
                return Err(e("name", format!("two targets are named `{}`", t.name)));
            }
            let kind = t.kind;
            let not_for = |key: &str, present: bool| -> Result<(), FileError> {
                if present {
                    Err(e(key, format!("does not apply to a {kind} target `{}`", t.name)))
                } else {
                    Ok(())
                }
            };
            let needs = |key: &str, present: bool, what: &str| -> Result<(), FileError> {
                if present {
                    Ok(())
                } else {
                    Err(self.err(line, key, format!("a {kind} target (`{}`) needs {what}", t.name)))
                }
            };
            let one_of = |a: &str, pa: bool, b: &str, pb: bool| -> Result<(), FileError> {
                if pa && pb { Err(e(b, format!("give `{a}` or `{b}`, not both"))) } else { Ok(()) }
            };
            one_of("url", t.url.is_some(), "url_env", t.url_env.is_some())?;
            one_of("secret", t.secret.is_some(), "secret_env", t.secret_env.is_some())?;
            one_of("token", t.token.is_some(), "token_env", t.token_env.is_some())?;
            one_of("routing_key", t.routing_key.is_some(), "routing_key_env", t.routing_key_env.is_some())?;
            if let Some(u) = &t.url {
                check_url(&u.0).map_err(|m| e("url", m))?;
            }
            let has_url = t.url.is_some() || t.url_env.is_some();
            let is = |k: TargetKind| kind == k;
            not_for("secret", !is(TargetKind::Webhook) && (t.secret.is_some() || t.secret_env.is_some()))?;
            not_for("room", !is(TargetKind::Matrix) && t.room.is_some())?;
            not_for("token", !is(TargetKind::Matrix) && (t.token.is_some() || t.token_env.is_some()))?;
            not_for(
                "routing_key",
                !is(TargetKind::Pagerduty) && (t.routing_key.is_some() || t.routing_key_env.is_some()),
            )?;
            if !is(TargetKind::Email) {
                for (key, present) in [
                    ("host", t.host.is_some()),
                    ("port", t.port.is_some()),
                    ("tls", t.tls.is_some()),
                    ("user", t.user.is_some()),
                    ("password_env", t.password_env.is_some()),
                    ("from", t.from.is_some()),
                    ("to", !t.to.is_empty()),
                    ("ca_file", t.ca_file.is_some()),
                ] {
                    not_for(key, present)?;
                }
            }
            match kind {
                TargetKind::Slack | TargetKind::Teams => needs("url", has_url, "`url` or `url_env`")?,
                TargetKind::Webhook => {
                    needs("url", has_url, "`url` or `url_env`")?;
                    needs("secret", t.secret.is_some() || t.secret_env.is_some(), "`secret` (whsec_...)")?;
                    if let Some(s) = &t.secret {
                        check_secret(&s.0).map_err(|m| e("secret", m))?;
                    }
                }
                TargetKind::Matrix => {
                    needs("url", has_url, "`url` (the homeserver, e.g. https://matrix.example.org)")?;
                    needs("room", t.room.is_some(), "`room` (a room id, !abc:example.org)")?;
                    needs("token", t.token.is_some() || t.token_env.is_some(), "`token` or `token_env`")?;
                    if let Some(r) = &t.room
                        && (!(r.starts_with('!') || r.starts_with('#')) || !r.contains(':'))
                    {
                        return Err(e("room", format!("`{r}` is not a room id (!abc:example.org)")));
                    }
                }
                TargetKind::Pagerduty => needs(
                    "routing_key",
                    t.routing_key.is_some() || t.routing_key_env.is_some(),
                    "`routing_key` or `routing_key_env`",
                )?,
                TargetKind::Email => {
                    not_for("url", has_url)?;
                    needs("host", t.host.as_deref().is_some_and(|h| !h.trim().is_empty()), "`host`")?;
                    needs("from", t.from.is_some(), "`from`")?;
                    needs("to", !t.to.is_empty(), "`to` (a list of addresses)")?;
                    for (key, addr) in
                        t.from.iter().map(|a| ("from", a)).chain(t.to.iter().map(|a| ("to", a)))
                    {
                        addr.parse::<lettre::message::Mailbox>()
                            .map_err(|err| e(key, format!("`{addr}` is not an email address: {err}")))?;
                    }
                    if t.password_env.is_some() && t.user.is_none() {
                        return Err(e("password_env", "needs `user` too".into()));
                    }
                }
            }
        }
        for r in &self.routes {
            let e = |key: &str, msg: String| self.err(at(r.line, key), key, msg);
            if r.on.is_empty() {
                return Err(e("on", "a route needs at least one event class".into()));
            }
            if r.targets.is_empty() {
                return Err(e("targets", "a route needs at least one target".into()));
            }
            for name in &r.targets {
                if !names.contains(name) {
                    let known: Vec<_> = names.iter().map(String::as_str).collect();
                    return Err(e(
                        "targets",
                        format!("no target is named `{name}` (targets: {})", known.join(", ")),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Routes' `severities` must be levels of the active scheme (checked when `serve` starts,
    /// once the practice is loaded).
    pub fn check_severities(&self, scheme: &crate::domain::Scheme) -> Result<(), FileError> {
        for r in &self.routes {
            for sev in &r.severities {
                if scheme.level(sev).is_none() {
                    let levels: Vec<_> = scheme.levels.iter().map(|l| l.id.as_str()).collect();
                    return Err(FileError {
                        file: self.file.clone(),
                        line: r.line,
                        message: format!(
                            "key `severities`: `{sev}` is not a level of the scheme `{}` ({})",
                            scheme.id,
                            levels.join(", ")
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// The configured target called `name`.
    pub fn target(&self, name: &str) -> Option<&TargetConfig> {
        self.targets.iter().find(|t| t.name == name)
    }
}

/// An http(s) URL with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("`{}` is not a valid URL: {e}", redact_url(url)))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("`{}` is not an http(s) URL", redact_url(url)));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(())
}

/// A Standard Webhooks secret: `whsec_` and base64 of at least 16 bytes. Returns the key.
pub fn check_secret(secret: &str) -> Result<Vec<u8>, String> {
    let Some(b64) = secret.strip_prefix("whsec_") else {
        return Err("a webhook secret starts with `whsec_`".into());
    };
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("the part after `whsec_` is not base64: {e}"))?;
    if key.len() < 16 {
        return Err("the secret is too short (at least 16 bytes, base64-encoded)".into());
    }
    Ok(key)
}
