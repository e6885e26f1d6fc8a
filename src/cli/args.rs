//! The command line's shape: clap's types for the global options, the commands and their
//! arguments, and the value parsers that are not derived (`--role`, from `api::Role`'s own
//! names, so that the wire contract does not depend on clap).

use chrono::{DateTime, NaiveDate, Utc};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand, ValueEnum};

use crate::api::Role;
use crate::domain::{EventKind, Priority, Status};

#[derive(Debug, Parser)]
#[command(name = "warroom", version, about = "A terminal war room for incident response", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Load a demo incident (when the server has none) and open the console.
    #[arg(long)]
    pub demo: bool,
    /// Theme for the console (default, mono, high-contrast, light or a file in the config dir).
    #[arg(long)]
    pub theme: Option<String>,
    /// Open this incident's war room at start.
    #[arg(long, value_name = "INCIDENT")]
    pub open: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How a command reaches its server. Accepted before the command (`warroom --server URL log
/// ...`) and after it on every command that talks to a server (`warroom log --server URL
/// ...`); the command's own win. Not on `serve` and `token`, which work on the server host.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct ClientArgs {
    /// Server URL(s), comma-separated for failover. Without one, `warroom` joins the embedded
    /// server another `warroom` runs for the data dir, else runs one on loopback with SQLite in
    /// the data dir.
    #[arg(long, env = "WARROOM_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Bearer token (else the config's `token`/`token_file`, else the embedded one).
    #[arg(long, env = "WARROOM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Trust this CA certificate file (PEM) for https:// servers, besides the system's.
    #[arg(long, env = "WARROOM_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Allow sending the token over plain HTTP to a host that is not loopback.
    #[arg(long)]
    pub insecure_http: bool,
    /// Trust the server's certificate with this fingerprint (`sha256:...`, as `warroom serve`
    /// prints it), whoever signed it; repeatable (besides the config's `pin`).
    #[arg(long = "pin", value_name = "SHA256", value_parser = parse_pin)]
    pub pins: Vec<crate::client::tls::Fingerprint>,
}

impl ClientArgs {
    /// These, with what is missing taken from `outer` (the options given before the command).
    pub fn or(self, outer: ClientArgs) -> ClientArgs {
        ClientArgs {
            server: self.server.or(outer.server),
            token: self.token.or(outer.token),
            ca_file: self.ca_file.or(outer.ca_file),
            insecure_http: self.insecure_http || outer.insecure_http,
            pins: if self.pins.is_empty() { outer.pins } else { self.pins },
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the shared HTTP server (until Ctrl-C or SIGTERM).
    Serve {
        /// Address to listen on [default: config [serve] listen, else 127.0.0.1:7878].
        #[arg(long)]
        listen: Option<String>,
        /// Database URL, e.g. sqlite:///var/lib/warroom/warroom.db [default: SQLite in the data dir].
        #[arg(long)]
        db: Option<String>,
        /// Severity scheme: `sev` (SEV-1..4), `p` (P1..P4) or a team's own.
        #[arg(long)]
        scheme: Option<String>,
        /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
        #[arg(long, value_name = "PEM", requires = "tls_key")]
        tls_cert: Option<std::path::PathBuf>,
        /// The certificate's private key (PEM); needs --tls-cert.
        #[arg(long, value_name = "PEM", requires = "tls_cert")]
        tls_key: Option<std::path::PathBuf>,
        /// Serve HTTPS with a CA and a server certificate made in `<data dir>/tls/` (kept for
        /// the next start); prints what clients need (the CA file and the fingerprint).
        #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
        tls_self_signed: bool,
        /// A further name (DNS name or IP) for the --tls-self-signed certificate, besides the
        /// listen address, this host's name, localhost and 127.0.0.1; repeatable.
        #[arg(long = "tls-name", value_name = "NAME", requires = "tls_self_signed")]
        tls_names: Vec<String>,
    },
    /// Trust a server's certificate: shows its fingerprint and remembers it in `<data
    /// dir>/known_servers` (like SSH's known_hosts), for servers with a self-signed certificate.
    Trust {
        /// The server, e.g. https://warroom.internal:7878 [default: --server, else the config's].
        url: Option<String>,
        /// Record it only if it has this fingerprint (`sha256:...`, as `warroom serve` printed it).
        #[arg(long, value_name = "SHA256", value_parser = parse_pin)]
        fingerprint: Option<crate::client::tls::Fingerprint>,
        /// Record it without asking (for scripts; prefer --fingerprint).
        #[arg(long, short)]
        yes: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Manage bearer tokens: on the server host against its database, or with --server over
    /// the API (as an admin).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Notifications: try a target of `[serve.notify]` (on the server host, with its config).
    Notify {
        #[command(subcommand)]
        command: NotifyCommand,
    },
    /// Declare an incident; prints its id (e.g. INC-1).
    Declare {
        /// Severity level id, e.g. SEV-2 or P1.
        #[arg(long)]
        severity: String,
        /// What is broken, in a few words (at most 200 characters).
        #[arg(long)]
        title: String,
        /// A longer description: impact, what is known so far.
        #[arg(long, default_value = "")]
        summary: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Append a timeline entry. Queued in the outbox when the server is unreachable (and sent by
    /// the next warroom command that reaches it).
    Log {
        /// The incident, e.g. INC-1.
        #[arg(long, short)]
        incident: String,
        /// What the entry is.
        #[arg(long, short, value_enum, default_value_t = EntryKind::Note)]
        kind: EntryKind,
        /// When it happened: HH:MM[:SS] (today, UTC), YYYY-MM-DD HH:MM, RFC 3339 or -5m, as in
        /// the console [default: now].
        #[arg(long, value_parser = parse_at, allow_hyphen_values = true)]
        at: Option<DateTime<Utc>>,
        /// Tags for the post-mortem (root_cause, impact, lesson, ...); repeatable.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// The entry's text.
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Print events live, one line each, until Ctrl-C.
    Tail {
        /// Only this incident's events.
        #[arg(long, short)]
        incident: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Export an incident: its state and every event (json), or the post-mortem (markdown).
    Export {
        /// The incident, e.g. INC-1.
        incident: String,
        /// json: the incident's state and every event; markdown: its post-mortem.
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
        /// The incident as it stood at this moment (HH:MM[:SS] today UTC, YYYY-MM-DD HH:MM,
        /// RFC 3339 or -5m, as in the console): what had been recorded by then, with its timers
        /// (json only).
        #[arg(long, value_parser = parse_at, allow_hyphen_values = true)]
        at: Option<DateTime<Utc>>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Run a command with your terminal attached, then log what was done (command line with
    /// secrets masked, host, user, start, duration, exit status) as a timeline entry. Queued in
    /// the outbox when the server is unreachable. Exits with the command's own status.
    Run {
        /// The incident, e.g. INC-1.
        #[arg(long, short)]
        incident: String,
        /// Why it was run; added to the entry.
        #[arg(long)]
        note: Option<String>,
        /// Entry kind [default: action].
        #[arg(long, short, value_enum)]
        kind: Option<EntryKind>,
        /// The command and its arguments, after `--`.
        #[arg(required = true, num_args = 1.., last = true)]
        command: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Response figures across incidents: MTTA/MTTR by severity, targets met vs breached,
    /// action items past due, incidents per day.
    Report {
        /// How far back: e.g. 90m, 12h, 30d, 2w, or any time `--at` takes (-2d, 2026-11-01 00:00).
        #[arg(long, default_value = "30d")]
        since: String,
        /// text: a table for people; json: for scripts; markdown: for a document.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// Count demo incidents (`warroom demo`) too; they are left out by default.
        #[arg(long)]
        demo: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Load the demo incidents (marked DEMO) into the embedded server; --remove takes them away.
    Demo {
        /// Load them into a server that is not this machine's embedded one (a team's server):
        /// next to real incidents, marked DEMO, left out of reports and notifications.
        #[arg(long)]
        force: bool,
        /// Remove every demo incident of the server instead: hidden from every list, board and
        /// report (the log keeps them, marked removed).
        #[arg(long, conflicts_with = "force")]
        remove: bool,
        #[command(flatten)]
        client: ClientArgs,
    },

    // Scripts and runbooks: a verb for everything the console does (see `commands/verbs.rs`).
    // Exit codes: `commands::exit`.
    /// The board: open incidents (breached timers first, then most severe), one line each.
    Ls {
        /// Also the recently resolved incidents (as the board shows them below the open ones).
        #[arg(long, short)]
        resolved: bool,
        /// Every incident ever declared.
        #[arg(long, conflicts_with = "resolved")]
        all: bool,
        #[command(flatten)]
        out: VerbArgs,
    },
    /// An incident: its facts and timers, roles, checklists (numbered for `check`), action
    /// items (numbered for `action-item done`) and latest timeline entries.
    Show {
        /// The incident, e.g. INC-1.
        incident: String,
        /// How many of the latest timeline entries to show.
        #[arg(long, short = 'n', default_value_t = 10, value_name = "N")]
        events: usize,
        #[command(flatten)]
        out: VerbArgs,
    },
    /// Change an incident's status (a guarded change: refused if the status changed since
    /// the revision it is based on).
    Status {
        /// The incident, e.g. INC-1.
        incident: String,
        /// The new status.
        #[arg(value_parser = status_parser())]
        status: Status,
        #[command(flatten)]
        guard: Guard,
        #[command(flatten)]
        out: VerbArgs,
    },
    /// Change an incident's severity (a guarded change: refused if the severity changed since
    /// the revision it is based on).
    Severity {
        /// The incident, e.g. INC-1.
        incident: String,
        /// A level of the server's severity scheme, e.g. SEV-1 or P2 (any case).
        severity: String,
        #[command(flatten)]
        guard: Guard,
        #[command(flatten)]
        out: VerbArgs,
    },
    /// Acknowledge an incident (status `acknowledged`); nothing to do once it is.
    Ack {
        /// The incident, e.g. INC-1.
        incident: String,
        #[command(flatten)]
        guard: Guard,
        #[command(flatten)]
        out: VerbArgs,
    },
    /// Give a role to a person (the commander is one person: assigning replaces).
    Assign {
        /// The incident, e.g. INC-1.
        incident: String,
        /// A role of the server's role set by id or short name, e.g. commander, IC, tech_lead.
        role: String,
        /// Who takes it.
        person: String,
        #[command(flatten)]
        guard: Guard,
        #[command(flatten)]
        out: VerbArgs,
    },
    /// Release a role: one holder, or every holder.
    Release {
        /// The incident, e.g. INC-1.
        incident: String,
        /// A role of the server's role set by id or short name, e.g. commander, IC, tech_lead.
        role: String,
        /// Only this holder [default: every holder].
        person: Option<String>,
        #[command(flatten)]
        guard: Guard,
        #[command(flatten)]
        out: VerbArgs,
    },
    /// Tick a checklist item (of the incident's checklists or an attached playbook).
    Check {
        /// The incident, e.g. INC-1.
        incident: String,
        /// The item: its number in `warroom show`, its id (e.g. `assign-ic`), or
        /// `checklist/item` (needed to queue a tick while the server is unreachable).
        item: String,
        /// Untick it instead.
        #[arg(long)]
        undo: bool,
        #[command(flatten)]
        out: VerbArgs,
    },
    /// Draft a status update from one of the practice's templates and print it; with --send,
    /// record it as sent (`comms_sent`): the server posts it to the routed notification targets.
    Comms {
        /// The incident, e.g. INC-1.
        incident: String,
        /// The template: internal-alert, customer, resolution or a team's own (a unique
        /// beginning is enough, e.g. `internal`).
        #[arg(long, short)]
        template: String,
        /// Record the update as sent.
        #[arg(long)]
        send: bool,
        /// Where it went [default: the incident channel, #incident-<date>-<title>].
        #[arg(long, requires = "send")]
        channel: Option<String>,
        /// Send this text (a file, or - for standard input) instead of the template's draft,
        /// e.g. the draft after editing.
        #[arg(long, requires = "send", value_name = "FILE")]
        text_file: Option<std::path::PathBuf>,
        #[command(flatten)]
        out: VerbArgs,
    },
    /// Follow-up work from an incident: add an action item, mark one done.
    #[command(subcommand)]
    ActionItem(ActionItemCommand),
    /// Playbooks: attach one to an incident (its steps join the checklists).
    #[command(subcommand)]
    Playbook(PlaybookCommand),

    // oidc: sign-in and the audit log.
    /// Sign in to the server (--server, else the config's) with its identity provider: prints a
    /// URL and a code to enter in any browser (device flow; works without a local browser).
    Login {
        /// Sign in with a browser on this machine instead (authorization code + PKCE, with a
        /// redirect to a loopback port): prints the URL to open.
        #[arg(long)]
        browser: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Sign out: ends the session on the server and forgets it here.
    Logout {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Who you are on the server, and your role.
    Whoami {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The audit log: tokens created and revoked, sign-ins, roles granted (admins).
    Audit {
        /// Only entries at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<DateTime<Utc>>,
        #[command(flatten)]
        client: ClientArgs,
    },

    // ship: files for installing warroom; none of these reads the config or starts a server.
    /// Print a shell completion script, e.g. `warroom completions bash >
    /// /etc/bash_completion.d/warroom` (zsh: a `_warroom` file on $fpath).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `warroom man | man -l -`; `--dir` writes one page per command.
    Man {
        /// Write warroom.1, warroom-serve.1, ... into this directory instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
    /// Write a commented config file, or check one (and the server's practice dir).
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// `warroom action-item ...`.
#[derive(Debug, Subcommand)]
pub enum ActionItemCommand {
    /// Add an action item; prints it with its id (for `action-item done`).
    Add {
        /// The incident, e.g. INC-1.
        incident: String,
        /// What should be done.
        text: String,
        /// Who does it.
        #[arg(long)]
        owner: Option<String>,
        /// high, medium or low (h, m, l) [default: medium].
        #[arg(long, value_parser = parse_priority)]
        priority: Option<Priority>,
        /// Due date, YYYY-MM-DD.
        #[arg(long, value_name = "DATE")]
        due: Option<NaiveDate>,
        #[command(flatten)]
        out: VerbArgs,
    },
    /// Mark an action item done.
    Done {
        /// The incident, e.g. INC-1.
        incident: String,
        /// The item: its number in `warroom show`, or its id (needed to queue while the
        /// server is unreachable).
        item: String,
        /// Mark it not done again.
        #[arg(long)]
        undo: bool,
        #[command(flatten)]
        out: VerbArgs,
    },
}

/// `warroom playbook ...`.
#[derive(Debug, Subcommand)]
pub enum PlaybookCommand {
    /// Attach a playbook: its checklist groups follow the incident's checklists.
    Attach {
        /// The incident, e.g. INC-1.
        incident: String,
        /// The playbook's id, e.g. database-performance.
        playbook: String,
        #[command(flatten)]
        out: VerbArgs,
    },
}

/// What every verb for scripts takes: how to print, and how to reach the server.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct VerbArgs {
    /// text: for people; json: for scripts (one document on stdout).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// The revision a guarded change (status, severity, commander) is based on.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct Guard {
    /// Base the change on this revision of the incident (`.incident.revision` in `warroom show
    /// --format json`) instead of reading it now; needed to queue the change while the server
    /// is unreachable.
    #[arg(long, value_name = "N")]
    pub if_revision: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// `--at`: the forms the console's time field takes (`HH:MM[:SS]` today, `YYYY-MM-DD HH:MM`,
/// RFC 3339, `-5m`/`-1h30m`); times without a zone are UTC.
fn parse_at(s: &str) -> Result<DateTime<Utc>, String> {
    let now = Utc::now();
    crate::tui::state::overlay::parse_time(s, now, now, crate::tui::format::TimeDisplay::Utc)
}

impl Command {
    /// One of the verbs for scripts and runbooks (`ls`, `show`, `status`, ...).
    pub fn is_verb(&self) -> bool {
        use Command::*;
        matches!(
            self,
            Ls { .. }
                | Show { .. }
                | Status { .. }
                | Severity { .. }
                | Ack { .. }
                | Assign { .. }
                | Release { .. }
                | Check { .. }
                | Comms { .. }
                | ActionItem(_)
                | Playbook(_)
        )
    }

    /// How this command reaches its server, when it talks to one.
    pub fn client(&self) -> Option<&ClientArgs> {
        use Command::*;
        match self {
            Serve { .. } | Notify { .. } | Completions { .. } | Man { .. } | Config { .. } => None,
            Token { command } => command.client(),
            Declare { client, .. }
            | Log { client, .. }
            | Tail { client, .. }
            | Export { client, .. }
            | Run { client, .. }
            | Report { client, .. }
            | Demo { client, .. }
            | Login { client, .. }
            | Logout { client }
            | Whoami { client }
            | Audit { client, .. }
            | Trust { client, .. } => Some(client),
            Ls { out, .. }
            | Show { out, .. }
            | Status { out, .. }
            | Severity { out, .. }
            | Ack { out, .. }
            | Assign { out, .. }
            | Release { out, .. }
            | Check { out, .. }
            | Comms { out, .. }
            | ActionItem(ActionItemCommand::Add { out, .. } | ActionItemCommand::Done { out, .. })
            | Playbook(PlaybookCommand::Attach { out, .. }) => Some(&out.client),
        }
    }
}

/// `warroom config ...` (ship).
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write a commented config with every key and its default [default: the config file, e.g.
    /// ~/.config/warroom/config.toml]; never overwrites one without --force.
    Init {
        /// Where to write it; `-` prints it on stdout.
        file: Option<std::path::PathBuf>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Check a config file [default: the config file] and the practice dir a server would load
    /// with it, without starting anything; names file, line and key of the first problem.
    Check {
        /// The config file to check [default: the config file].
        file: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; prints the secret alone on stdout (shown once).
    Create {
        /// Who or what uses it (a person, a bot); events are authored under this name.
        #[arg(long)]
        name: String,
        /// What the token may do.
        #[arg(long, value_parser = role_parser())]
        role: Role,
        /// Database URL [default: the server's].
        #[arg(long)]
        db: Option<String>,
        /// With --server: over the API (as an admin), instead of in the database.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List tokens (never their secrets).
    List {
        /// Database URL [default: the server's].
        #[arg(long)]
        db: Option<String>,
        /// With --server: over the API (as an admin), instead of in the database.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Revoke a token by name or id.
    Revoke {
        /// The token's name or id (as `token list` shows them).
        name_or_id: String,
        /// Database URL [default: the server's].
        #[arg(long)]
        db: Option<String>,
        /// With --server: over the API (as an admin), instead of in the database.
        #[command(flatten)]
        client: ClientArgs,
    },
}

impl TokenCommand {
    /// With `--server` (or `WARROOM_SERVER`), tokens are managed over the API.
    pub fn client(&self) -> Option<&ClientArgs> {
        match self {
            TokenCommand::Create { client, .. }
            | TokenCommand::List { client, .. }
            | TokenCommand::Revoke { client, .. } => Some(client),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EntryKind {
    /// Anything worth recording.
    Note,
    /// Something learned about the cause or the impact.
    Finding,
    /// Something done.
    Action,
    /// A call made, and why.
    Decision,
}

impl EntryKind {
    pub(super) fn event_kind(self) -> EventKind {
        match self {
            EntryKind::Note => EventKind::Note,
            EntryKind::Finding => EventKind::Finding,
            EntryKind::Action => EventKind::Action,
            EntryKind::Decision => EventKind::Decision,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Json,
    Markdown,
}

/// `--pin`, `trust --fingerprint`: a certificate fingerprint.
fn parse_pin(s: &str) -> Result<crate::client::tls::Fingerprint, String> {
    crate::client::tls::Fingerprint::parse(s)
}

/// Parses `--priority` (`high`, `medium`, `low`, `h`, `m`, `l`, any case).
fn parse_priority(s: &str) -> Result<Priority, String> {
    s.parse()
}

/// Parses a status by name; `--help` lists them (not `declared`: an incident cannot go back).
fn status_parser() -> impl TypedValueParser<Value = Status> {
    let values =
        Status::ALL.iter().filter(|s| **s != Status::Declared).map(|s| PossibleValue::new(s.as_str()));
    PossibleValuesParser::new(values).map(|s| s.parse::<Status>().expect("a possible value is a status"))
}

/// Parses `--role` from [`Role::ALL`] by [`Role::as_str`]: `--help` lists the roles with what
/// each may do ([`Role::description`], the variants' doc comments) and an unknown one gets
/// clap's usual error.
fn role_parser() -> impl TypedValueParser<Value = Role> {
    let values =
        Role::ALL.map(|r| PossibleValue::new(r.as_str()).help(r.description().trim_end_matches('.')));
    PossibleValuesParser::new(values).map(|s| s.parse::<Role>().expect("a possible value is a role"))
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    fn role_of(args: &[&str]) -> Result<Role, clap::Error> {
        let cli = Cli::try_parse_from([&["warroom", "token", "create", "--name", "n"], args].concat())?;
        match cli.command {
            Some(Command::Token { command: TokenCommand::Create { role, .. } }) => Ok(role),
            other => panic!("parsed {other:?}"),
        }
    }

    #[test]
    fn roles_parse_by_name_and_unknown_ones_are_refused_by_clap() {
        for r in Role::ALL {
            assert_eq!(role_of(&["--role", r.as_str()]).unwrap(), r);
        }
        let e = role_of(&["--role", "boss"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue);
        assert!(
            e.to_string().contains("[possible values: viewer, responder, scribe, commander, admin]"),
            "{e}"
        );
    }

    #[test]
    fn help_lists_the_roles() {
        let mut cmd = Cli::command();
        let create = cmd.find_subcommand_mut("token").unwrap().find_subcommand_mut("create").unwrap();
        let help = create.render_long_help().to_string();
        for r in Role::ALL {
            assert!(help.contains(&format!("- {}:", r.as_str())), "{help}");
        }
        assert!(help.contains("Reads everything, writes nothing"), "{help}");
    }

    #[test]
    fn every_command_and_argument_says_what_it_is() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            if cmd.get_about().is_none() && !path.is_empty() {
                missing.push(format!("{path} (the command)"));
            }
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if a.get_help().is_none() && a.get_long_help().is_none() && id != "help" && id != "version" {
                    missing.push(format!("{path} {id}"));
                }
            }
            for s in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                walk(s, &format!("{path} {}", s.get_name()), missing);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        let mut missing = Vec::new();
        walk(&cmd, "", &mut missing);
        assert!(missing.is_empty(), "without a --help description: {missing:?}");
    }

    #[test]
    fn client_options_go_before_or_after_the_command_and_the_commands_own_win() {
        let merged = |args: &[&str]| {
            let cli = Cli::try_parse_from(args).unwrap();
            let own = cli.command.as_ref().and_then(Command::client).cloned().unwrap();
            own.or(cli.client)
        };
        let before = merged(&["warroom", "--server", "http://a:1", "--token", "t", "ls"]);
        assert_eq!((before.server.as_deref(), before.token.as_deref()), (Some("http://a:1"), Some("t")));
        let both = merged(&["warroom", "--server", "http://a:1", "show", "INC-1", "--server", "http://b:2"]);
        assert_eq!(both.server.as_deref(), Some("http://b:2"));
        let nested = merged(&["warroom", "action-item", "done", "INC-1", "1", "--insecure-http"]);
        assert!(nested.insecure_http);
        // The server host's commands take none of them.
        let e = Cli::try_parse_from(["warroom", "serve", "--server", "http://a:1"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}

/// `warroom notify ...` (notifications).
#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send a test message through the target NAME (`[[serve.notify.targets]]`) and print the
    /// outcome; exits non-zero when it fails.
    Test {
        /// The target's name.
        name: String,
    },
}
