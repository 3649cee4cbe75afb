//! The recorder: its storage contract (`format`), the verification of what it recorded
//! (`verify`) against what the dock remembers of it (`memory`), the dock-side seal for
//! recorders that write no chain (`seal`), the adapters that identify and talk to it
//! (`adapter`), and a simulator that writes contract volumes (`sim`).
//!
//! Owns: everything that depends on how a recorder lays out its storage.
//! Must never: write to a volume except through an adapter's explicit request (set clock).

pub mod adapter;
pub mod format;
pub mod memory;
pub mod seal;
pub mod sim;
pub mod verify;
