//! `warroom config init` (a commented config with every key, from `contrib/config.toml`) and
//! `warroom config check` (the config and the practice dir a server would load, checked without
//! starting anything; every problem named by file, line and key).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::assets::{FileError, parse_toml};
use crate::config::{Config, Paths};
use crate::server;

/// The commented config `config init` writes. Every key in it is commented out, so it means the
/// same as no file at all; the tests hold it to parsing once uncommented.
pub const TEMPLATE: &str = include_str!("../../../contrib/config.toml");

/// Writes [`TEMPLATE`] to `file` (`-`: stdout; default: the config file); an existing file
/// only with `force`.
pub(in crate::cli) fn init(
    paths: &Paths,
    file: Option<PathBuf>,
    force: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let file = file.unwrap_or_else(|| paths.config_file());
    if file.as_os_str() == "-" {
        out.write_all(TEMPLATE.as_bytes())?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    if file.exists() && !force {
        bail!("{} exists; not overwriting it (--force to replace it)", file.display());
    }
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&file, TEMPLATE).with_context(|| format!("writing {}", file.display()))?;
    writeln!(out, "wrote {}", file.display())?;
    Ok(ExitCode::SUCCESS)
}

/// Checks `file` (default: the config file) and what it points at; prints each problem on
/// stderr as `file:line: key `k`: what is wrong`.
pub(in crate::cli) fn check(
    paths: &Paths,
    file: Option<PathBuf>,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let explicit = file.is_some();
    let file = file.unwrap_or_else(|| paths.config_file());
    let name = file.display().to_string();
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => None,
        Err(e) => bail!("{name}: {e}"),
    };
    let config: Config = match &text {
        Some(t) => {
            let mut c: Config = parse_toml(&name, t)?;
            // Notifications: the checks that span keys (targets named by routes, ...).
            c.serve.notify.validate(&name, t)?;
            c
        }
        None => Config::default(),
    };
    let text = text.unwrap_or_default();
    let problems = problems(paths, &name, &text, &config);
    for p in &problems {
        eprintln!("warroom: {p}");
    }
    if !problems.is_empty() {
        bail!("{name}: {} problem(s) found", problems.len());
    }
    if text.is_empty() {
        writeln!(out, "{name}: no config file; the defaults are fine")?;
    } else {
        writeln!(out, "{name}: ok")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What is wrong with a config that parsed: files it names, addresses, the practice.
fn problems(paths: &Paths, name: &str, text: &str, c: &Config) -> Vec<FileError> {
    let mut found = Vec::new();
    let mut bad = |section: &str, key: &str, message: String| {
        found.push(FileError {
            file: name.to_string(),
            line: line_of(text, section, key),
            message: format!("key `{key}`: {message}"),
        });
    };
    let in_config_dir = |p: &Path| if p.is_relative() { paths.config_dir.join(p) } else { p.to_path_buf() };
    for (key, path) in [("token_file", &c.token_file), ("ca_file", &c.ca_file)] {
        if let Some(p) = path {
            let p = in_config_dir(p);
            if let Err(e) = std::fs::read(&p) {
                bad("", key, format!("cannot read {}: {e}", p.display()));
            }
        }
    }
    for url in c.server.as_ref().map(|s| s.urls()).unwrap_or_default() {
        match reqwest::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => bad("", "server", format!("`{url}` is not an http:// or https:// URL")),
        }
    }
    if let Some(a) = &c.embedded_listen
        && let Err(e) = crate::cli::connect::check_embedded_listen(a)
    {
        bad("", "embedded_listen", e);
    }
    let s = &c.serve;
    for (key, addr) in [("listen", &s.listen), ("metrics_listen", &s.metrics_listen)] {
        if let Some(a) = addr
            && std::net::ToSocketAddrs::to_socket_addrs(a.as_str()).is_err()
        {
            bad("serve", key, format!("`{a}` is not an address to listen on (e.g. 127.0.0.1:7878)"));
        }
    }
    if let Some(db) = &s.db
        && !["sqlite:", "postgres://", "postgresql://"].iter().any(|p| db.trim().starts_with(p))
    {
        bad("serve", "db", "expected sqlite://<path> or postgres://user:pass@host/db".into());
    }
    match (&s.tls_cert, &s.tls_key) {
        (Some(cert), Some(key)) => {
            let files = server::TlsFiles { cert: in_config_dir(cert), key: in_config_dir(key) };
            if let Err(e) = server::tls::server_config(&files) {
                bad("serve", "tls_cert", format!("{e:#}"));
            }
        }
        (Some(_), None) => bad("serve", "tls_cert", "needs tls_key too".into()),
        (None, Some(_)) => bad("serve", "tls_key", "needs tls_cert too".into()),
        (None, None) => {}
    }
    let practice_dir = s.practice_dir.clone().unwrap_or_else(|| paths.config_dir.join("practice"));
    match crate::assets::load_practice(Some(&practice_dir), s.scheme.as_deref()) {
        // A practice file's own error names that file, line and key.
        Err(e) => found.push(FileError {
            file: practice_dir.display().to_string(),
            line: None,
            message: format!("{e:#}"),
        }),
        Ok(practice) => {
            let scheme = practice.scheme();
            // Notifications: routes' severities must be levels of the scheme.
            let routes = c.serve.notify.check_severities(scheme).err();
            let am = &s.alertmanager;
            // Only what the file sets: the default map is for the `sev` scheme.
            let map_set = line_of(text, "serve.alertmanager", "severity_map").is_some();
            for (label, level) in am.severity_map.iter().filter(|_| map_set) {
                if scheme.level(level).is_none() {
                    bad(
                        "serve.alertmanager",
                        "severity_map",
                        format!("`{label}` maps to `{level}`, not a level of the scheme `{}`", scheme.id),
                    );
                }
            }
            if let Some(level) = &am.default_severity
                && scheme.level(level).is_none()
            {
                bad(
                    "serve.alertmanager",
                    "default_severity",
                    format!("`{level}` is not a level of the scheme `{}`", scheme.id),
                );
            }
            found.extend(routes);
        }
    }
    found
}

/// The line (1-based) where `key` is set in `[section]` (`""`: the top), if it is.
fn line_of(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix('[') {
            current = h.trim_end_matches(']').trim().to_string();
            continue;
        }
        if current == section
            && let Some((k, _)) = t.split_once('=')
            && k.trim().trim_matches('"') == key
        {
            return Some(n + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The template means the same as no file, and once every key is uncommented (the first
    /// example of each) it still parses: its keys and sections are the config's.
    #[test]
    fn the_template_is_a_config_with_every_key_commented() {
        let c: Config = parse_toml("config.toml", TEMPLATE).unwrap();
        assert_eq!(c, Config::default());
        let mut seen = std::collections::BTreeSet::new();
        let mut section = String::new();
        let mut uncommented = String::new();
        let mut keys = 0;
        for line in TEMPLATE.lines() {
            let Some(body) = line.strip_prefix("# ") else { continue };
            if body.starts_with('[') && body.ends_with(']') {
                section = body.to_string();
                uncommented.push_str(body);
                uncommented.push('\n');
            } else if let Some((k, _)) = body.split_once(" = ")
                && !k.contains(' ')
                && seen.insert(format!("{section}.{k}"))
            {
                keys += 1;
                uncommented.push_str(body);
                uncommented.push('\n');
            }
        }
        let c: Config =
            parse_toml("uncommented.toml", &uncommented).unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
        assert!(keys >= 24, "{keys} keys:\n{uncommented}");
        assert_eq!(c.serve.metrics_listen.as_deref(), Some("127.0.0.1:9464"));
        assert_eq!(c.serve.limits, server::Limits::default(), "the template's limits are the defaults");
        assert_eq!(c.run, crate::config::RunConfig::default());
    }

    #[test]
    fn keys_are_found_in_their_section() {
        let text = "listen = 1\n[serve]\n# listen = 2\nlisten = \"x\"\n[serve.limits]\nlisten = 3\n";
        assert_eq!(line_of(text, "serve", "listen"), Some(4));
        assert_eq!(line_of(text, "", "listen"), Some(1));
        assert_eq!(line_of(text, "serve.limits", "listen"), Some(6));
        assert_eq!(line_of(text, "serve", "db"), None);
    }
}
