//! The station's long jobs (R8, R11): the burn job's steps ([`burn`]) and the archive scrub
//! ([`scrub`]). A job needs devices or hours the daemon should not lend, so it runs in a
//! process of its own (a supervised unit such as `evidock-burn@LABEL`, the scrub's timer, or
//! a custodian's terminal) and writes the catalogue in its own transactions beside the daemon.
//!
//! Owns: who may run each job ([`burn::ROLES`], [`scrub::ROLES`]; the station's own user may
//! run them as the system), opening the catalogue as the job's [`Runner`], every step's
//! custody events, the typed results a front end renders, and a burn step started by the
//! service for a person at the page ([`launch`]: a process of its own, one at a time).
//! Must never: print or exit (a job tells what it does through its notes and its result);
//! take a caller's word for who it is (the runner is this process's user, as the kernel says).

pub mod burn;
pub mod launch;
pub mod scrub;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::control::roles::Identity;
use crate::custody::event::Actor;

/// Who runs a job: the identity of this process's user and the actor its custody events name
/// (the role it acts in, or the system when the station's own user runs it as a unit).
#[derive(Debug, Clone)]
pub struct Runner {
    /// This process's user.
    pub identity: Identity,
    /// The actor written into custody events.
    pub actor: Actor,
}

impl Runner {
    /// Opens the station's catalogue to write as this runner (with its integrity check: a job
    /// is not the daemon, which checked it at start).
    ///
    /// # Errors
    /// When the catalogue cannot be opened.
    pub fn catalog(&self, config: &Config) -> anyhow::Result<Catalog> {
        Ok(Catalog::open(&config.catalog_path(), config.timezone, self.actor.clone())?)
    }
}
