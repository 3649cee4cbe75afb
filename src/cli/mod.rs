//! The command-line interface: noun then verb, one file per command. Data goes to stdout,
//! diagnostics to stderr. Exit codes: 0 ok; 1 ran and found a problem (tampering, flagged
//! footage, a broken log); 2 could not run (usage, configuration, I/O).

pub mod access;
pub mod account;
mod archive;
mod burn;
pub(crate) mod case;
mod central;
mod daemon;
mod demo;
mod device;
mod duty;
mod gap;
mod history;
mod ingest;
pub mod invoke;
pub mod log;
mod play;
pub(crate) mod retention;
pub mod sim;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// evidock: evidence-custody ingest for body-recorder docking stations (执法记录仪采集工作站).
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
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Run the docking-station service (under systemd: Type=notify).
    Daemon,
    /// Ingest one volume folder once, with the same pipeline as the service.
    Ingest(ingest::Args),
    /// Show docked recorders, progress and results.
    Status(status::Args),
    /// The device registry: register, retire, list recorders (R1).
    #[command(subcommand)]
    Device(device::DeviceCommand),
    /// Duty check-out after a health check, check-in by docking, returns, extensions and the
    /// duty report (R1, R3, R14).
    #[command(subcommand)]
    Duty(duty::DutyCommand),
    /// Cases and their footage (R4, R13).
    #[command(subcommand)]
    Case(history::CaseCommand),
    /// Gaps in recording and their written explanations (R6).
    #[command(subcommand)]
    Gap(gap::GapCommand),
    /// Retention: flags, holds, deadlines, purges (R7).
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
    /// Compliance reports and spot checks for supervisors (R3, R6, R11).
    #[command(subcommand)]
    Report(retention::ReportCommand),
    /// Burn long-term footage to verified optical discs (R8).
    #[command(subcommand)]
    Burn(burn::BurnCommand),
    /// The archive's fixity audit: re-read every archived file against the custody log (R11).
    #[command(subcommand)]
    Archive(archive::ArchiveCommand),
    /// Read and verify the custody log.
    #[command(subcommand)]
    Log(history::LogCommand),
    /// Access requests, approvals, confidentiality marks and informants (R9, R10).
    #[command(subcommand)]
    Access(access::AccessCommand),
    /// Copy the footage of an approved access request out, with its hashes, the custody
    /// extract and a signed checkpoint (R9).
    Export(access::ExportArgs),
    /// Write simulated recorder volumes (tests, demos, benchmarks).
    #[command(subcommand)]
    Sim(sim::SimCommand),
    /// Run the service on a local folder and dock the bundled fixture recorders into it.
    Demo(demo::Args),
    /// The station's central copy (S3 with Object Lock): backlog, a pass now.
    #[command(subcommand)]
    Replicate(central::ReplicateCommand),
    /// A central bucket: an auditor's check of every station in it; creating one.
    #[command(subcommand)]
    Central(central::CentralCommand),
    /// Station accounts for the web page: officers (badge and password), custodians,
    /// archivists, approvers, supervisors (docs/WEB.md).
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Print the udev rules for the configuration's recorder models ([[usb.models]]), for
    /// /etc/udev/rules.d/70-evidock.rules.
    UdevRules,
    /// The process a vendor SDK library runs in (started by the service; reads its request on
    /// standard input).
    #[command(hide = true)]
    SdkHelper,
}

/// Runs a parsed command line: local commands and jobs here; station commands, each the front
/// end of a typed operation of the station API ([`crate::api`]), through the daemon when it
/// runs, else directly ([`invoke::run_station`]).
///
/// # Errors
/// When the command could not run (exit code 2).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Sim(cmd) => sim::run(cmd),
        Command::Demo(args) => demo::run(args),
        Command::Central(cmd) => central::run_central(cmd),
        Command::SdkHelper => {
            crate::recorder::adapter::gat947::helper_main()?;
            Ok(ExitCode::SUCCESS)
        }
        command => {
            let config = match Config::load(cli.config.as_deref()) {
                Ok(c) => c,
                // The configuration belongs to the service (mode 0640): a caller outside its
                // group still reaches the service at the default socket, which decides.
                Err(crate::config::ConfigError::Read { source, .. })
                    if source.kind() == std::io::ErrorKind::PermissionDenied
                        && matches!(invoke::rule(command), invoke::Rule::Station(_)) =>
                {
                    let defaults = Config::resolve(crate::config::ConfigFile::default(), None)?;
                    if crate::control::client::connect(&defaults.paths.control_socket)?.is_none() {
                        anyhow::bail!(
                            "cannot read the configuration ({source}) and the evidock service is not listening at {}",
                            defaults.paths.control_socket.display()
                        );
                    }
                    return invoke::run_station_at(command, &defaults, invoke::Expect::AnyStation);
                }
                Err(e) => return Err(e.into()),
            };
            match invoke::rule(command) {
                invoke::Rule::Local => dispatch(command, &config),
                invoke::Rule::Station(_) => invoke::run_station(command, &config),
                invoke::Rule::Job(_) => invoke::run_job(command, &config),
            }
        }
    }
}

/// Runs a command with a loaded configuration, in this process.
///
/// # Errors
/// When the command could not run (exit code 2).
pub fn dispatch(command: &Command, config: &Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Daemon => daemon::run(config.clone()),
        Command::Ingest(args) => ingest::run(args, config),
        // Front ends of typed operations: through the station API, whoever runs them.
        Command::Status(_) | Command::Device(_) | Command::Duty(_) | Command::Replicate(_) => {
            invoke::run_station(command, config)
        }
        Command::Log(history::LogCommand::Query(_) | history::LogCommand::Log(log::LogCommand::Tail { .. })) => {
            invoke::run_station(command, config)
        }
        // The station's own log verified and checkpointed: the station API's.
        Command::Log(history::LogCommand::Log(_)) if invoke::typed(command).is_some() => {
            invoke::run_station(command, config)
        }
        Command::Log(history::LogCommand::Log(cmd)) => log::run(
            cmd,
            &config.catalog_path(),
            &config.paths.state_dir,
            &crate::custody::checkpoint::key_name(&config.station_name),
            Some(&config.paths.archive_root),
        ),
        Command::Account(_) => invoke::run_station(command, config),
        Command::Case(history::CaseCommand::History(_)) => invoke::run_station(command, config),
        Command::Case(history::CaseCommand::Case(cmd)) => case::run(cmd, config),
        Command::Gap(_) => invoke::run_station(command, config),
        Command::Retention(_) => invoke::run_station(command, config),
        Command::Report(_) => invoke::run_station(command, config),
        Command::Burn(_) if invoke::typed(command).is_some() => invoke::run_station(command, config),
        Command::Burn(cmd) => burn::run(cmd, config),
        Command::Archive(cmd) => archive::run(cmd, config),
        Command::Access(_) => invoke::run_station(command, config),
        Command::Export(_) => invoke::run_station(command, config),
        Command::Sim(cmd) => sim::run(cmd),
        Command::Demo(args) => demo::run(args),
        Command::Central(cmd) => central::run_central(cmd),
        Command::SdkHelper => {
            crate::recorder::adapter::gat947::helper_main()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::UdevRules => {
            crate::outln!("{}", crate::dock::udev::rules(&config.usb.models, &config.paths.dock_root).trim_end());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Installs tracing: to stderr; under systemd (`JOURNAL_STREAM` set) without colours or
/// timestamps, since the journal adds its own. `RUST_LOG` overrides the level.
pub fn init_tracing() {
    let under_systemd = std::env::var_os("JOURNAL_STREAM").is_some();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if under_systemd {
        builder.with_ansi(false).without_time().try_init()
    } else {
        builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init()
    };
    let _ = result;
}

/// Human-readable bytes (binary units).
pub fn bytes(n: u64) -> String {
    crate::scrub::bytes_text(n)
}
