//! The `warroom` binary: parses the command line and runs it (see `warroom::cli`).

fn main() -> std::process::ExitCode {
    warroom::client::startup::begin();
    match warroom::cli::main() {
        Ok(code) => code,
        // `warroom export ... | head`: the reader left; nothing to report.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            // A server's or a file's words may be in it: never escape sequences to the terminal.
            eprintln!("warroom: {}", warroom::domain::text::line(&format!("{e:#}")));
            std::process::ExitCode::FAILURE
        }
    }
}
