//! The `warroom` binary: parses the command line and runs it (see `warroom::cli`).

fn main() -> std::process::ExitCode {
    match warroom::cli::main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("warroom: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
