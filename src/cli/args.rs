//! The command line's shape: clap's types for the global options, the commands and their
//! arguments, and the value parsers that are not derived (`--role`, from `api::Role`'s own
//! names, so that the wire contract does not depend on clap).

use chrono::{DateTime, Utc};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand, ValueEnum};

use crate::api::Role;
use crate::domain::EventKind;

#[derive(Debug, Parser)]
#[command(name = "warroom", version, about = "A terminal war room for incident response", long_about = None)]
pub struct Cli {
    /// Server URL(s), comma-separated for failover. Without one, `warroom` joins the embedded
    /// server another `warroom` runs for the data dir, else runs one on loopback with SQLite in
    /// the data dir.
    #[arg(long, global = true, env = "WARROOM_SERVER")]
    pub server: Option<String>,
    /// Bearer token (else the config's `token`/`token_file`, else the embedded one).
    #[arg(long, global = true, env = "WARROOM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Trust this CA certificate file (PEM) for https:// servers, besides the system's.
    #[arg(long, global = true, env = "WARROOM_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Allow sending the token over plain HTTP to a host that is not loopback.
    #[arg(long, global = true)]
    pub insecure_http: bool,
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
    },
    /// Manage bearer tokens (on the server host, against its database).
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
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        summary: String,
    },
    /// Append a timeline entry. Queued in the outbox when the server is unreachable (and sent by
    /// the next warroom command that reaches it).
    Log {
        #[arg(long, short)]
        incident: String,
        #[arg(long, short, value_enum, default_value_t = EntryKind::Note)]
        kind: EntryKind,
        /// When it happened (RFC 3339, e.g. 2026-11-23T14:05:00Z) [default: now].
        #[arg(long)]
        at: Option<DateTime<Utc>>,
        /// Tags for the post-mortem (root_cause, impact, lesson, ...); repeatable.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// The entry's text.
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// Print events live, one line each, until Ctrl-C.
    Tail {
        /// Only this incident's events.
        #[arg(long, short)]
        incident: Option<String>,
    },
    /// Export an incident: its state and every event (json), or the post-mortem (markdown).
    Export {
        incident: String,
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
        /// The incident as it stood at this moment (RFC 3339): what had been recorded by then,
        /// with its timers (json only).
        #[arg(long)]
        at: Option<DateTime<Utc>>,
    },
    /// Run a command with your terminal attached, then log what was done (command line with
    /// secrets masked, host, user, start, duration, exit status) as a timeline entry. Queued in
    /// the outbox when the server is unreachable. Exits with the command's own status.
    Run {
        #[arg(long, short)]
        incident: String,
        /// Why it was run; added to the entry.
        #[arg(long)]
        note: Option<String>,
        /// Entry kind [default: action].
        #[arg(long, short)]
        kind: Option<String>,
        /// The command and its arguments, after `--`.
        #[arg(required = true, num_args = 1.., last = true)]
        command: Vec<String>,
    },
    /// Response figures across incidents: MTTA/MTTR by severity, targets met vs breached,
    /// action items past due, incidents per day.
    Report {
        /// How far back: e.g. 30d, 12h, 2w [default: 30d].
        #[arg(long, default_value = "30d")]
        since: String,
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Load the demo incidents into the server.
    Demo,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; prints the secret alone on stdout (shown once).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = role_parser())]
        role: Role,
        /// Database URL [default: the server's].
        #[arg(long)]
        db: Option<String>,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long)]
        db: Option<String>,
    },
    /// Revoke a token by name or id.
    Revoke {
        name_or_id: String,
        #[arg(long)]
        db: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EntryKind {
    Note,
    Finding,
    Action,
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
