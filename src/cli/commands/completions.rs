//! `warroom completions SHELL` and `warroom man`: generated from the command line's own clap
//! definition, so every command and flag is in them.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::args::Cli;

/// Prints the completion script for `shell`.
pub(in crate::cli) fn completions(shell: Shell, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "warroom", out);
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Prints warroom(1), or writes a page per command into `dir`.
pub(in crate::cli) fn man(dir: Option<&Path>, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let cmd = Cli::command();
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("writing the man pages into {}", dir.display()))?;
        }
        None => {
            clap_mangen::Man::new(cmd).render(out)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
