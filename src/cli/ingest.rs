//! `evidock ingest PATH`: the service's pipeline, once, on one volume folder, with progress
//! on stderr and the outcome on stdout. Refuses to run beside a daemon on the same state.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::Duration;

use crate::config::Config;
use crate::ingest::{Bay, Outcome, Progress};

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The volume folder (a mounted recorder, or a copy of one).
    pub path: PathBuf,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args, config: &Config) -> anyhow::Result<ExitCode> {
    let meta = std::fs::symlink_metadata(&args.path)
        .map_err(|e| anyhow::anyhow!("cannot read volume folder {}: {e}", args.path.display()))?;
    if !meta.is_dir() {
        anyhow::bail!("{} is not a folder (a symbolic link is not followed)", args.path.display());
    }
    let (lock, catalog, _) = crate::daemon::prepare(config, false)?;
    let catalog = Mutex::new(catalog);
    let name = args.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let progress = Progress::new(&name);
    let stop = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let claims = crate::ingest::exec::Claims::default();
    let bay =
        Bay { config, catalog: &catalog, progress: &progress, stop: &stop, usb: None, claims: &claims, sdk: None };
    let result = std::thread::scope(|s| {
        let ticker = s.spawn(|| {
            let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let snap = progress.snapshot();
                if tty && snap.bytes_total > 0 {
                    eprint!(
                        "\r{} {}/{} files, {} / {}   ",
                        snap.phase.as_str(),
                        snap.files_done,
                        snap.files_total,
                        super::bytes(snap.bytes_done),
                        super::bytes(snap.bytes_total)
                    );
                }
                std::thread::park_timeout(Duration::from_millis(300));
            }
        });
        // Set even if the ingest panics, or the progress thread would keep the scope open;
        // and wake it, or the command would wait out its sleep before exiting.
        let _done = Finished { flag: &done, ticker: ticker.thread() };
        bay.run(&args.path)
    });
    drop(lock);
    let snap = progress.snapshot();
    let outcome = result?;
    if args.json {
        crate::outln!("{}", serde_json::to_string(&crate::daemon::status::Bay::from(&snap))?);
    } else {
        eprintln!();
        crate::outln!("{}", snap.message);
        for (verdict, n) in &snap.verdicts {
            crate::outln!("  {verdict}: {n}");
        }
    }
    Ok(match outcome {
        Outcome::Finished { review: false, failed: 0, .. } => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// Tells the progress thread the ingest is over when dropped, also while unwinding from a
/// panic.
struct Finished<'a> {
    flag: &'a AtomicBool,
    ticker: &'a std::thread::Thread,
}

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.flag.store(true, std::sync::atomic::Ordering::Release);
        self.ticker.unpark();
    }
}
