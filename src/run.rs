//! The engine of `warroom run --incident INC-1 [--note why] [--kind action] -- cmd args...`:
//! run a command with the user's terminal attached, then describe what was done as an event.
//!
//! - [`mask_args`] hides secrets in the recorded command line (never in what is run).
//! - [`run_command`] runs the child with inherited stdin/stdout/stderr (its output passes
//!   through untouched), waits for it while refusing to die of the signals meant for it, and
//!   reports start, duration and exit status.
//! - [`action_event`] turns the outcome into the timeline entry the CLI queues in the outbox.
//!
//! # Signals
//!
//! The child runs in warroom's process group, so a Ctrl-C (or Ctrl-\, or a hang-up) at the
//! terminal reaches it directly from the tty. While waiting, warroom catches SIGINT, SIGQUIT,
//! SIGHUP and SIGTERM instead of dying of them, so it can still record how the command ended.
//! SIGTERM (sent to warroom's pid, e.g. by a supervisor) is forwarded to the child. SIGINT,
//! SIGQUIT and SIGHUP are forwarded only when warroom is not the terminal's foreground process
//! group (no tty, or run in the background), because otherwise the tty already delivered them
//! to the child and a second copy would count as a second Ctrl-C. The handlers stay installed
//! once `run_command` returns (tokio cannot uninstall them): the CLI exits right after queueing
//! the event, and a Ctrl-C then does not lose the record.

use std::io;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, getpgrp, tcgetpgrp};
use serde::{Deserialize, Serialize};
use tokio::signal::unix::{SignalKind, signal};

use crate::domain::event::{Entry, EventBody, EventKind, NewEvent};
use crate::domain::text;

/// The umask the user started warroom with, when warroom replaced it with its own (077): a
/// command run by `warroom run` gets it back.
static USER_UMASK: std::sync::OnceLock<nix::sys::stat::Mode> = std::sync::OnceLock::new();

/// Makes every file this process creates private to the user (mode 0600 files, 0700 dirs,
/// whatever the umask was), remembering the user's umask for `warroom run`'s command.
pub fn private_files() {
    let user = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let _ = USER_UMASK.set(user);
}

/// What a masked value is replaced with.
pub const MASK: &str = "****";

/// Longest command line kept in the event text, in characters (the rest is elided).
const MAX_CMDLINE: usize = 2000;
/// Longest note kept, in characters.
const MAX_NOTE: usize = 4000;

/// A secret name as configured (`--password`, `-p`, `token`): the option forms it matches and,
/// for names of 3 or more letters, the word that marks an environment-style `NAME=value`.
struct Secret {
    option: String,
    short: bool,
    env_word: Option<String>,
}

fn secrets(names: &[String]) -> Vec<Secret> {
    names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.trim_start_matches('-').is_empty())
        .map(|n| {
            let option = if n.starts_with('-') { n.to_string() } else { format!("--{n}") };
            let bare = n.trim_start_matches('-');
            let short = !option.starts_with("--") && bare.chars().count() == 1;
            let env_word = (bare.chars().count() >= 3).then(|| bare.to_ascii_uppercase().replace('-', "_"));
            Secret { option, short, env_word }
        })
        .collect()
}

/// Masks the values of secret arguments in a command line, for recording only.
///
/// For each configured name (`--password`; a bare `password` means `--password`):
/// - `--password x` and `--password=x` become `--password ****` and `--password=****`;
/// - a one-letter option also in its attached form: `-p x`, `-px` (mysql) -> `-p ****`, `-p****`;
/// - environment-style assignments whose name contains a configured name of 3+ letters, any
///   case, `-` read as `_`: `PGPASSWORD=x`, `GITHUB_TOKEN=x`, `api_key=x` (as passed to `env`
///   or `sudo`) -> `PGPASSWORD=****`;
/// - and always, credentials in URLs: `postgres://app:s3cret@db/x` -> `postgres://app:****@db/x`.
///
/// An argument with spaces (a script for `sh -c`, `ssh host 'cmd'`) is masked word by word, as
/// a best effort: a quoted secret containing spaces inside such a script may stay partly visible.
/// Masking errs on the side of hiding: the value after a secret option is masked even when it
/// starts with `-`.
pub fn mask_args(args: &[String], secret_names: &[String]) -> Vec<String> {
    mask_with(args, &secrets(secret_names))
}

fn mask_with(args: &[String], secrets: &[Secret]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut mask_next = false;
    let mut auth = Auth::None;
    for arg in args {
        if mask_next {
            mask_next = false;
            out.push(MASK.to_string());
            continue;
        }
        // `Authorization: Bearer x`, as one argument or as words of a script.
        match auth {
            Auth::Header if is_auth_scheme(arg) => {
                auth = Auth::Scheme;
                out.push(arg.clone());
                continue;
            }
            Auth::Header | Auth::Scheme => {
                auth = Auth::None;
                out.push(mask_keeping_quotes(arg));
                continue;
            }
            Auth::None => {}
        }
        if secrets.iter().any(|s| *arg == s.option) {
            mask_next = true;
            out.push(arg.clone());
            continue;
        }
        if !arg.contains(' ') {
            if let Some((masked, next)) = mask_header(arg) {
                auth = next;
                out.push(masked);
                continue;
            }
            if arg.trim_matches(QUOTES).eq_ignore_ascii_case("bearer") {
                auth = Auth::Scheme;
                out.push(arg.clone());
                continue;
            }
        }
        out.push(mask_one(arg, secrets));
    }
    out
}

/// Where a word stands after a credential-carrying header name or an auth scheme.
#[derive(Clone, Copy)]
enum Auth {
    None,
    /// After `Authorization:`: a scheme word may follow, or the value itself.
    Header,
    /// After `Bearer` (or `Basic`, ... following `Authorization:`): the next word is the secret.
    Scheme,
}

const QUOTES: &[char] = &['\'', '"'];

/// Headers whose value is a credential (lowercase).
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-vault-token",
    "private-token",
    "x-warroom-token",
];

fn is_auth_scheme(word: &str) -> bool {
    let w = word.trim_matches(QUOTES).to_ascii_lowercase();
    matches!(w.as_str(), "bearer" | "basic" | "token" | "digest" | "negotiate" | "apikey")
}

/// `Authorization:` -> (unchanged, expect a value next); `Authorization:Bearer` -> expect the
/// secret next; `X-Api-Key:abc` -> `X-Api-Key:****`.
fn mask_header(word: &str) -> Option<(String, Auth)> {
    let lead = word.len() - word.trim_start_matches(QUOTES).len();
    let (name, value) = word[lead..].split_once(':')?;
    if !SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return None;
    }
    if value.trim_matches(QUOTES).is_empty() {
        return Some((word.to_string(), Auth::Header));
    }
    if is_auth_scheme(value) {
        return Some((word.to_string(), Auth::Scheme));
    }
    let head = &word[..lead + name.len() + 1];
    Some((format!("{head}{}", mask_keeping_quotes(value)), Auth::None))
}

/// `x'` -> `****'`: quotes around a masked word (a script's) stay, so the script still reads.
fn mask_keeping_quotes(word: &str) -> String {
    let lead = word.len() - word.trim_start_matches(QUOTES).len();
    let trail = word.len() - word.trim_end_matches(QUOTES).len();
    if lead + trail >= word.len() {
        return word.to_string();
    }
    format!("{}{MASK}{}", &word[..lead], &word[word.len() - trail..])
}

fn mask_one(arg: &str, secrets: &[Secret]) -> String {
    if arg.contains(' ') {
        let words: Vec<String> = arg.split(' ').map(str::to_string).collect();
        return mask_with(&words, secrets).join(" ");
    }
    for s in secrets {
        if let Some(rest) = arg.strip_prefix(&s.option) {
            if rest.starts_with('=') {
                return format!("{}={MASK}", s.option);
            }
            if s.short && !rest.is_empty() {
                return format!("{}{MASK}", s.option);
            }
        }
    }
    if let Some((name, _)) = arg.split_once('=')
        && is_env_name(name)
    {
        let upper = name.to_ascii_uppercase();
        if secrets.iter().filter_map(|s| s.env_word.as_deref()).any(|w| upper.contains(w)) {
            return format!("{name}={MASK}");
        }
    }
    mask_shapes(&mask_url_password(arg))
}

/// Token shapes recognised anywhere in a word, whatever option carries them: the prefix stays
/// (it tells what kind of secret was there), the rest is masked. `(prefix, shortest rest)`.
const TOKEN_SHAPES: &[(&str, usize)] = &[
    ("wr_", 8),   // warroom API tokens
    ("ws_", 8),   // warroom session tokens
    ("ghp_", 16), // GitHub
    ("gho_", 16),
    ("ghu_", 16),
    ("ghs_", 16),
    ("ghr_", 16),
    ("github_pat_", 16),
    ("glpat-", 16), // GitLab
    ("xoxb-", 6),   // Slack
    ("xoxp-", 6),
    ("xoxa-", 6),
    ("xoxr-", 6),
    ("xoxs-", 6),
    ("xapp-", 6),
    ("sk_live_", 8), // Stripe
    ("rk_live_", 8),
    ("sk-", 20),  // OpenAI-style keys
    ("AKIA", 16), // AWS access key ids
    ("ASIA", 16),
    ("AIza", 30), // Google API keys
    ("npm_", 20),
];

fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Masks known token shapes and JWTs (`eyJ...`) inside `word`.
fn mask_shapes(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    let bytes = word.as_bytes();
    while i < word.len() {
        let at_boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if at_boundary && let Some(end) = shape_at(&word[i..]) {
            let prefix = shape_prefix(&word[i..]);
            out.push_str(prefix);
            out.push_str(MASK);
            i += end;
            continue;
        }
        let c = word[i..].chars().next().expect("in bounds");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// The prefix kept for a shape found at the start of `s`.
fn shape_prefix(s: &str) -> &str {
    if s.starts_with("eyJ") {
        return "eyJ";
    }
    TOKEN_SHAPES.iter().find(|(p, _)| s.starts_with(p)).map(|(p, _)| *p).unwrap_or("")
}

/// The length of a secret-shaped token at the start of `s`, if there is one.
fn shape_at(s: &str) -> Option<usize> {
    if s.starts_with("eyJ") {
        // A JWT: three base64url parts joined by dots (the signature may be empty).
        let len = s.find(|c: char| !(token_char(c) || c == '.')).unwrap_or(s.len());
        let parts: Vec<&str> = s[..len].split('.').collect();
        if parts.len() >= 2 && parts[0].len() >= 10 && parts[1].len() >= 2 {
            return Some(len);
        }
        return None;
    }
    for (prefix, min) in TOKEN_SHAPES {
        if let Some(rest) = s.strip_prefix(prefix) {
            let len = rest.find(|c: char| !token_char(c)).unwrap_or(rest.len());
            let body = &rest[..len];
            let ok = if prefix.starts_with("AKIA") || prefix.starts_with("ASIA") {
                len >= *min && body[..*min].chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            } else {
                len >= *min
            };
            if ok {
                return Some(prefix.len() + len);
            }
        }
    }
    None
}

/// Query parameters whose name says they carry a secret (lowercase fragments).
const SECRET_PARAMS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "token",
    "secret",
    "api_key",
    "apikey",
    "api-key",
    "signature",
    "credential",
];

fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|p| name.contains(p))
}

/// `?password=x&user=y` -> `?password=****&user=y` (after `?`, in a URL).
fn mask_query(url: &str) -> String {
    let Some(q) = url.find('?') else {
        return url.to_string();
    };
    let (head, query) = url.split_at(q + 1);
    let (query, frag) = match query.find('#') {
        Some(h) => query.split_at(h),
        None => (query, ""),
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !v.is_empty() && is_secret_param(k) => {
                format!("{k}={MASK}")
            }
            _ => kv.to_string(),
        })
        .collect();
    format!("{head}{}{frag}", parts.join("&"))
}

fn is_env_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// `scheme://user:password@host` -> `scheme://user:****@host`.
fn mask_url_password(arg: &str) -> String {
    let Some(start) = arg.find("://").map(|i| i + 3) else {
        return arg.to_string();
    };
    let masked = format!("{}{}", &arg[..start], mask_query(&arg[start..]));
    let arg = masked.as_str();
    let rest = &arg[start..];
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..auth_end].rfind('@') else {
        return arg.to_string();
    };
    let Some(colon) = rest[..at].find(':') else {
        return arg.to_string();
    };
    format!("{}{}:{MASK}{}", &arg[..start], &rest[..colon], &rest[at..])
}

/// A command line as one string a user could paste into a shell (POSIX single quotes where
/// needed).
pub fn shell_join(args: &[String]) -> String {
    args.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ")
}

fn shell_quote(a: &str) -> String {
    let plain = !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,*".contains(c));
    if plain { a.to_string() } else { format!("'{}'", a.replace('\'', r"'\''")) }
}

/// How a child ended: an exit code, or the signal that killed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    #[serde(default)]
    pub core_dumped: bool,
}

impl Exit {
    fn from_status(s: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        Exit { code: s.code(), signal: s.signal(), core_dumped: s.core_dumped() }
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The status a shell would report: the exit code, or 128 + the signal number. `warroom
    /// run` should exit with it, so scripts see the command's own status.
    pub fn shell_code(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => 1,
        }
    }

    /// `exit 0`, `exit 3`, `interrupted by SIGINT`, `killed by SIGKILL (core dumped)`.
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(s)) => {
                let verb = if s == Signal::SIGINT as i32 { "interrupted" } else { "killed" };
                let core = if self.core_dumped { " (core dumped)" } else { "" };
                format!("{verb} by {}{core}", signal_name(s))
            }
            (None, None) => "ended without a status".to_string(),
        }
    }
}

/// `SIGINT` for 2, and so on (the names `nix` knows); `signal 42` for the rest.
pub fn signal_name(sig: i32) -> String {
    match Signal::try_from(sig) {
        Ok(s) => s.as_str().to_string(),
        Err(_) => format!("signal {sig}"),
    }
}

/// What running a command came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOutcome {
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub exit: Exit,
}

/// Runs `argv` with the terminal attached and waits for it (see the module docs for signals).
/// An error means the command could not be started (empty `argv`, not found, not executable):
/// nothing ran, so nothing should be logged.
pub async fn run_command(argv: &[String]) -> io::Result<RunOutcome> {
    run_command_with(argv, None).await
}

/// [`run_command`], reporting the child's pid through `spawned` once it runs (for tests, or to
/// show it).
pub async fn run_command_with(
    argv: &[String],
    spawned: Option<tokio::sync::oneshot::Sender<u32>>,
) -> io::Result<RunOutcome> {
    let Some((program, args)) = argv.split_first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no command given"));
    };
    // Catch the signals before the child exists, so a Ctrl-C right after the spawn cannot kill
    // warroom instead of being recorded.
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigquit = signal(SignalKind::quit())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let foreground = in_foreground();

    let started_at = Utc::now();
    let clock = Instant::now();
    // warroom keeps its own files private (umask 077, see `private_files`); the command gets
    // the umask the user had.
    let ours = USER_UMASK.get().map(|m| nix::sys::stat::umask(*m));
    let spawned_child = tokio::process::Command::new(program).args(args).spawn();
    if let Some(m) = ours {
        nix::sys::stat::umask(m);
    }
    let mut child = spawned_child
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run `{}`: {e}", text::line(program))))?;
    let pid = child.id();
    if let (Some(tx), Some(pid)) = (spawned, pid) {
        let _ = tx.send(pid);
    }
    let forward = |sig: Signal| {
        if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
            // The child is not reaped before `wait` returns, so the pid is still ours.
            let _ = kill(Pid::from_raw(pid), sig);
        }
    };
    let status = loop {
        tokio::select! {
            s = child.wait() => break s?,
            Some(()) = sigint.recv() => if !foreground { forward(Signal::SIGINT) },
            Some(()) = sigquit.recv() => if !foreground { forward(Signal::SIGQUIT) },
            Some(()) = sighup.recv() => if !foreground { forward(Signal::SIGHUP) },
            Some(()) = sigterm.recv() => forward(Signal::SIGTERM),
        }
    };
    Ok(RunOutcome { started_at, duration: clock.elapsed(), exit: Exit::from_status(status) })
}

/// Whether warroom is the foreground process group of the terminal on stdin (then the tty
/// itself signals the child).
fn in_foreground() -> bool {
    // No terminal on stdin is an error: not in the foreground.
    tcgetpgrp(io::stdin()).is_ok_and(|group| group == getpgrp())
}

/// `0.4s`, `2.3s`, `4m05s`, `1h02m03s`.
pub fn format_elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{:.1}s", (d.as_secs_f64() * 10.0).floor() / 10.0)
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m{:02}s", s / 3600, (s % 3600) / 60, s % 60)
    }
}

/// The kinds `--kind` accepts: the free-text entry kinds (`note`, `finding`, `action`,
/// `decision`). Check it before running the command, so a typo does not cost the record.
pub fn parse_entry_kind(s: &str) -> Result<EventKind, String> {
    let k: EventKind = s.parse()?;
    if k.is_entry() {
        Ok(k)
    } else {
        Err(format!("`{s}` is not an entry kind (expected note, finding, action or decision)"))
    }
}

/// This machine's host name, or `unknown`.
pub fn host_name() -> String {
    hostname::get().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "unknown".to_string())
}

/// The user's login name from `$USER` or `$LOGNAME`, else the account's name (cron, systemd
/// and `env -i` leave both unset), else `uid N`.
pub fn user_name() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .or_else(account_name)
        .unwrap_or_else(|| format!("uid {}", nix::unistd::getuid()))
}

/// The name of the account this process runs as (from the password database).
fn account_name() -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::getuid()).ok().flatten().map(|u| u.name)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// A Markdown code span around `s`, with a fence longer than any backtick run inside.
fn code_span(s: &str) -> String {
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    if longest == 0 { format!("{fence}{s}{fence}") } else { format!("{fence} {s} {fence}") }
}

/// The timeline entry for a command that ran: an `action` (or `kind`, if it is an entry kind)
/// that happened when the command started, e.g. "ran `systemctl restart checkout` on host
/// jump-1 as alice: exit 0 after 2.3s — why". Tagged `command`, plus `failed` for a non-zero
/// exit or `interrupted` for a command ended by a signal. `masked_cmdline` must already be
/// masked ([`mask_args`], then [`shell_join`]); every field is stripped of control characters.
pub fn action_event(
    outcome: &RunOutcome,
    masked_cmdline: &str,
    host: &str,
    user: &str,
    note: Option<&str>,
    kind: Option<EventKind>,
) -> NewEvent {
    let cmd = truncate(&text::line(masked_cmdline), MAX_CMDLINE);
    let mut line = format!(
        "ran {} on host {} as {}: {} after {}",
        code_span(&cmd),
        text::line(host),
        text::line(user),
        outcome.exit.describe(),
        format_elapsed(outcome.duration)
    );
    if let Some(n) = note.map(text::line).filter(|n| !n.trim().is_empty()) {
        line.push_str(" — ");
        line.push_str(&truncate(n.trim(), MAX_NOTE));
    }
    let mut tags = vec!["command".to_string()];
    if outcome.exit.signal.is_some() {
        tags.push("interrupted".to_string());
    } else if !outcome.exit.success() {
        tags.push("failed".to_string());
    }
    let entry = Entry { text: line, tags };
    let body = match kind.unwrap_or(EventKind::Action) {
        EventKind::Note => EventBody::Note(entry),
        EventKind::Finding => EventBody::Finding(entry),
        EventKind::Decision => EventBody::Decision(entry),
        _ => EventBody::Action(entry),
    };
    NewEvent::at(outcome.started_at, body)
}

#[cfg(test)]
mod tests {
    use super::signal_name;

    #[test]
    fn signals_are_named() {
        assert_eq!(signal_name(libc::SIGINT), "SIGINT");
        assert_eq!(signal_name(libc::SIGKILL), "SIGKILL");
        assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
        assert_eq!(signal_name(libc::SIGUSR2), "SIGUSR2");
        assert_eq!(signal_name(42), "signal 42");
        assert_eq!(signal_name(0), "signal 0");
    }
}
