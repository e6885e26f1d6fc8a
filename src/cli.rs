//! Command line: clap commands and what each does.

pub fn main() -> anyhow::Result<()> {
    Ok(())
}
