//! The `evidock` binary: parse, install tracing, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = evidock::cli::Cli::parse();
    evidock::cli::init_tracing();
    match evidock::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("evidock: {err:#}");
            ExitCode::from(2)
        }
    }
}
