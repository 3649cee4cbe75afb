//! `evidock archive scrub` (R11): the front end of the archive's fixity audit, a job run in
//! the caller's process ([`crate::job::scrub`]).
//!
//! Owns: the command's options, its output (text or JSON), its exit code (1 when this run found
//! a file that differs, is missing, or a catalogue row that contradicts the log), and the stop
//! on `SIGTERM` or `SIGINT` (the run keeps its place). The scrub itself is [`crate::scrub`].

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::Config;

/// `evidock archive ...`
#[derive(Debug, clap::Subcommand)]
pub enum ArchiveCommand {
    /// Re-read every archived file and compare it with the hash the custody log recorded when
    /// it was copied; resumes the pass in progress. Exit code 1 when a file differs or is
    /// missing, or the catalogue contradicts the log (each is an alarm and a custody event).
    Scrub {
        /// Bytes per second at most (default: scrub.rate_bytes_per_s).
        #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(65536..))]
        rate: Option<u64>,
        /// Stop after this many seconds and keep the place for the next run (default:
        /// scrub.max_seconds; 0 reads until the pass is complete).
        #[arg(long, value_name = "SECONDS")]
        max_seconds: Option<u64>,
        /// Close the pass in progress and begin a new one.
        #[arg(long)]
        restart: bool,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Runs an `archive` command: the scrub job ([`crate::job::scrub`]) as the caller the rules
/// named, stopped by `SIGTERM` or `SIGINT` (the run keeps its place), its result rendered.
///
/// # Errors
/// When it could not run (exit code 2): no catalogue, a custody log that does not verify.
pub fn run(cmd: &ArchiveCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let ArchiveCommand::Scrub { rate, max_seconds, restart, json } = cmd;
    use nix::sys::signal::{signal, SigHandler, Signal};
    for s in [Signal::SIGTERM, Signal::SIGINT] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { signal(s, SigHandler::Handler(on_signal)) }?;
    }
    let opts = crate::scrub::run::Options {
        rate: rate.unwrap_or(config.scrub.rate_bytes_per_s),
        max_seconds: max_seconds.unwrap_or(config.scrub.max_seconds),
        restart: *restart,
    };
    let out = crate::job::scrub::run(config, &super::invoke::runner(), &opts, &STOP)?;
    if *json {
        let p = &out.pass;
        crate::outln!(
            "{}",
            serde_json::json!({
                "pass": p.id, "complete": out.complete, "started": p.started, "finished": p.finished,
                "pass_files": p.files, "pass_files_total": p.files_total, "pass_bytes": p.bytes,
                "pass_bytes_total": p.bytes_total, "runs": p.runs,
                "run": {
                    "files": out.run.files, "bytes": out.run.bytes, "duration_ms": out.run.elapsed_ms,
                    "rate_bytes_per_s": crate::scrub::rate(out.run.bytes, out.run.elapsed_ms), "rate_limit": opts.rate,
                    "differ": out.run.differ, "missing": out.run.missing, "catalogue": out.run.catalogue,
                    "cleared": out.run.cleared,
                },
                "findings": out.findings.iter().map(|(path, f)| serde_json::json!({
                    "path": path, "text": f.text(path), "text_zh": f.text_zh(path),
                })).collect::<Vec<_>>(),
            })
        );
    } else {
        crate::outprint!("{}", out.text);
        for (path, f) in &out.findings {
            crate::outln!("  ! {}\n    {}", f.text(path), f.text_zh(path));
        }
    }
    Ok(if out.run.problems() > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
