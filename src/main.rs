//! The `lake` command: parse the command line, run it with the library, and
//! turn the result into an exit code (a closed pipe is success).

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = lake::cli::parse();
    match lake::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if lake::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(lake::ErrorClass::of(&err).exit_code())
        }
    }
}
