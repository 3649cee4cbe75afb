//! The recorder: its storage contract (`format`), the verification of what it recorded
//! (`verify`) against what the dock remembers of it (`memory`), the dock-side seal for
//! recorders that write no chain (`seal`), the adapters that identify and talk to it
//! (`adapter`, one room per kind), and simulators that write contract volumes (`sim`) and
//! volumes shaped like vendor recorders (`vendor_sim`).
//!
//! Owns: everything that depends on how a recorder lays out its storage.
//! Must never: write to a volume except through an adapter's explicit request (set clock).

pub mod adapter;
pub mod format;
pub mod memory;
pub mod seal;
pub mod sim;
pub mod vendor_sim;
pub mod verify;
