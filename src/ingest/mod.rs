//! Ingest: from a docked volume to verified, durable archive footage.
//!
//! - [`scan`]: what the volume holds, and what the dock refuses to touch.
//! - [`plan`]: where each file goes and its corrected times (pure).
//! - [`exec`]: the one executor that writes to the archive and wipes recorders.
//! - [`progress`]: a bay's live state for the status view.
//! - [`unlock`]: the login and disk-mode command a recorder may want before its storage
//!   appears (`ambarella`).
//! - [`vendor`]: the executor's part for recorders without the contract (footage folders,
//!   times from names or the file system, the dock's manifest seal, important marks).
//!
//! Must never: write to the archive or remove from a recorder anywhere but [`exec`].

pub mod exec;
pub mod plan;
pub mod progress;
pub mod scan;
pub mod unlock;
pub mod vendor;

pub use exec::{Bay, IngestError, Outcome};
pub use progress::{Phase, Progress, Snapshot};
