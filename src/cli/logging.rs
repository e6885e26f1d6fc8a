//! Where each command's logs go (tracing): stderr for commands (warnings only unless
//! `RUST_LOG` says otherwise), a daily file in `<data dir>/logs/` for the console (never on its
//! screen), both for `serve` (stderr alone under systemd or in a container: [`for_serve`]). A
//! log keeps its last [`KEEP_LOG_FILES`] daily files; older ones are deleted when a new one is
//! opened.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};

use crate::config::Paths;

/// How many daily files of one log are kept (today's included).
const KEEP_LOG_FILES: usize = 7;

/// Where a command logs; a file is named by its prefix (`console.log` -> `console.log.2026-11-23`).
pub(super) enum LogTo {
    Stderr,
    File(&'static str),
    StderrAndFile(&'static str),
    /// ship: a service manager keeps stderr (systemd's journal, a container's log): `info` on
    /// stderr without timestamps (the journal adds its own), and no file.
    Service,
}

/// ship: `WARROOM_LOG_TARGET=stderr` sends `serve`'s log to stderr only, as under systemd.
pub(super) const LOG_TARGET_ENV: &str = "WARROOM_LOG_TARGET";

/// Where `serve` logs: stderr only under systemd (it sets `JOURNAL_STREAM` for a unit whose
/// stderr is the journal) or with `WARROOM_LOG_TARGET=stderr` (containers); else stderr and
/// `serve.log`.
pub(super) fn for_serve() -> LogTo {
    let journal = std::env::var_os("JOURNAL_STREAM").is_some_and(|v| !v.is_empty());
    let asked = std::env::var(LOG_TARGET_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("stderr"));
    if journal || asked { LogTo::Service } else { LogTo::StderrAndFile("serve.log") }
}

/// The log directory: `<data dir>/logs`.
fn logs_dir(paths: &Paths) -> PathBuf {
    paths.data_dir.join("logs")
}

/// The daily log file `name` in the log directory (created if missing), keeping
/// [`KEEP_LOG_FILES`] files.
fn appender(paths: &Paths, name: &str) -> anyhow::Result<RollingFileAppender> {
    let dir = logs_dir(paths);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(name)
        .max_log_files(KEEP_LOG_FILES)
        .build(&dir)
        .with_context(|| format!("opening the log {name} in {}", dir.display()))
}

/// Sets up logging for this process; keep the guard until exit (it flushes the file).
/// Where a one-shot command logs: `<data dir>/logs/cli.log`, never next to its own plain
/// messages on stderr, unless `RUST_LOG` asks for logs (then stderr, for whoever is debugging).
pub(super) fn for_cli() -> LogTo {
    if std::env::var_os("RUST_LOG").is_some() { LogTo::Stderr } else { LogTo::File("cli.log") }
}

/// Makes the data dir private: files this process creates are 0600 and dirs 0700 whatever the
/// umask (see [`crate::run::private_files`]); the data dir and what an older version left in
/// it (database, WAL, outbox, rejected file, logs, drafts) lose any group or other access.
pub(super) fn private_data_dir(paths: &Paths) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    crate::run::private_files();
    let dir = &paths.data_dir;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    fn tighten(path: &std::path::Path, depth: usize) {
        let Ok(meta) = std::fs::symlink_metadata(path) else { return };
        if meta.file_type().is_symlink() {
            return;
        }
        let mode = meta.permissions().mode();
        let want = if meta.is_dir() { mode & 0o700 | 0o700 } else { mode & 0o700 };
        if mode & 0o7777 != want {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(want));
        }
        if meta.is_dir()
            && depth > 0
            && let Ok(rd) = std::fs::read_dir(path)
        {
            for e in rd.flatten() {
                tighten(&e.path(), depth - 1);
            }
        }
    }
    // The data dir, its files, and one level below (logs/, drafts/<server>/ files at two).
    tighten(dir, 3);
    Ok(())
}

pub(super) fn init(paths: &Paths, to: LogTo) -> anyhow::Result<Option<WorkerGuard>> {
    private_data_dir(paths)?;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer, fmt};
    let filter =
        |default: &str| EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let file_layer = |name: &str| -> anyhow::Result<_> {
        let (writer, guard) = tracing_appender::non_blocking(appender(paths, name)?);
        Ok((fmt::layer().with_ansi(false).with_writer(writer), guard))
    };
    let r = tracing_subscriber::registry();
    let guard = match to {
        LogTo::Stderr => {
            let _ = r
                .with(
                    fmt::layer()
                        .with_ansi(std::io::stderr().is_terminal())
                        .with_writer(std::io::stderr)
                        .with_filter(filter("warn")),
                )
                .try_init();
            None
        }
        LogTo::File(name) => {
            let (layer, guard) = file_layer(name)?;
            let _ = r.with(layer.with_filter(filter("info"))).try_init();
            Some(guard)
        }
        LogTo::Service => {
            let _ = r
                .with(
                    fmt::layer()
                        .without_time()
                        .with_ansi(false)
                        .with_writer(std::io::stderr)
                        .with_filter(filter("info")),
                )
                .try_init();
            None
        }
        LogTo::StderrAndFile(name) => {
            let (layer, guard) = file_layer(name)?;
            let _ = r
                .with(layer.with_filter(filter("info")))
                .with(
                    fmt::layer()
                        .with_ansi(std::io::stderr().is_terminal())
                        .with_writer(std::io::stderr)
                        .with_filter(filter("info")),
                )
                .try_init();
            Some(guard)
        }
    };
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn names(dir: &std::path::Path, prefix: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(prefix))
            .collect();
        v.sort();
        v
    }

    /// Logs land in `<data dir>/logs/`, and a log keeps its newest files only (another log's
    /// files are not its own).
    #[test]
    fn logs_are_in_the_logs_dir_and_old_files_are_deleted() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths { data_dir: tmp.path().join("data"), config_dir: tmp.path().join("config") };
        let dir = paths.data_dir.join("logs");
        std::fs::create_dir_all(&dir).unwrap();
        for day in 1..=10 {
            std::fs::write(dir.join(format!("console.log.2026-10-{day:02}")), "old\n").unwrap();
        }
        std::fs::write(dir.join("serve.log.2026-10-01"), "other\n").unwrap();

        let mut log = appender(&paths, "console.log").unwrap();
        log.write_all(b"today\n").unwrap();
        log.flush().unwrap();

        let kept = names(&dir, "console.log");
        assert_eq!(kept.len(), KEEP_LOG_FILES, "{kept:?}");
        let today = format!("console.log.{}", chrono::Utc::now().format("%Y-%m-%d"));
        assert!(kept.contains(&today), "{kept:?}");
        assert!(!kept.contains(&"console.log.2026-10-01".to_string()), "{kept:?}");
        assert_eq!(names(&dir, "serve.log"), ["serve.log.2026-10-01"]);
        assert_eq!(names(&paths.data_dir, "console.log"), Vec::<String>::new(), "nothing beside logs/");
    }
}
