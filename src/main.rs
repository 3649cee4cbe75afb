//! The `evidock` binary: parse, install tracing, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = evidock::cli::Cli::parse();
    // Footage, the catalogue, keys, disc images: nothing evidock writes is for other users,
    // whoever starts it and however (the service units set the same `UMask=0077`). The few
    // files meant for others (the public verifier key, the control socket) set their mode.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    evidock::cli::init_tracing();
    match evidock::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("evidock: {err:#}");
            ExitCode::from(2)
        }
    }
}
