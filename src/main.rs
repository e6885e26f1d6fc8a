fn main() -> std::process::ExitCode {
    match warroom::cli::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warroom: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
