//! The archive scrub as a job (R11): opens the catalogue as its runner, reads the custody log
//! as trusted facts (a log that does not verify refuses the scrub and raises the alarm,
//! INV-16), and runs one paced, resumable run of [`crate::scrub::run`], names evicted to the
//! central store checked there.
//!
//! Owns: what a scrub run needs from the station. Must never: print, or install signal
//! handlers (the front end owns its process and sets `stop`).

use std::sync::atomic::AtomicBool;

use super::Runner;
use crate::config::Config;
use crate::custody::event::Role;
use crate::scrub::run::{Options, Outcome};

/// Who may run the scrub: an archivist or an administrator (and the station's own user, as
/// the system, when its timer runs it).
pub const ROLES: &[Role] = &[Role::Archivist, Role::Admin];

/// Runs the scrub until the pass ends, `opts.max_seconds` pass, or `stop` is set; the pass
/// keeps its place for the next run.
///
/// # Errors
/// When it could not run: no catalogue, a custody log that does not verify (a refusal), a
/// failed write of the catalogue.
pub fn run(config: &Config, runner: &Runner, opts: &Options, stop: &AtomicBool) -> anyhow::Result<Outcome> {
    let mut catalog = runner.catalog(config)?;
    let ledger = crate::api::access::trusted_ledger(&mut catalog, config, "archive scrub")?;
    let evicted = crate::central::offload::EvictedCheck::new(config, &catalog)?;
    Ok(crate::scrub::run::run(&mut catalog, &config.paths.archive_root, &ledger, opts, stop, &|p| evicted.check(p))?)
}
