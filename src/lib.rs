//! evidock: an evidence-custody ingest daemon for body-recorder docking stations.
//!
//! # Layout
//! - [`recorder`]: the recorder contract, chain verification, adapters, simulator (pure core
//!   plus the simulator's writer).
//! - [`archive`]: archive layout (pure) and the durable file primitives (`fsio`).
//! - [`ingest`]: the volume scanner, the pure planner and the one executor that writes to
//!   the archive and wipes recorders.
//! - [`catalog`]: the SQLite catalogue (devices, dockings, sessions, segments, files).
//! - [`custody`]: the custody log's canonical encoding and hash chain (pure) and its queries.
//! - [`dock`]: the edges that notice dockings: the dock-root watch and USB hotplug.
//! - [`daemon`]: the long-running service: event loop, bays, status, systemd.
//! - [`config`]: the configuration file, resolved into typed values.
//! - [`cli`]: the command-line interface.

pub mod archive;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod custody;
pub mod daemon;
pub mod dock;
pub mod ingest;
pub mod recorder;
