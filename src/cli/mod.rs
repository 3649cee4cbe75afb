//! The command-line interface: noun then verb, one file per command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// evidock: evidence-custody ingest for body-recorder docking stations.
#[derive(Debug, Parser)]
#[command(name = "evidock", version, about)]
pub struct Cli {
    /// Configuration file (default: $EVIDOCK_CONFIG, then /etc/evidock/evidock.toml, then built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Recorder simulator.
    #[command(subcommand)]
    Sim(SimCommand),
}

/// `evidock sim ...`
#[derive(Debug, Subcommand)]
pub enum SimCommand {}

/// Runs a parsed command line.
///
/// # Errors
/// When the command could not run (exit code 2).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let _config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Sim(s) => match s {},
    }
}
