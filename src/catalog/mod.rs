//! The catalogue: one SQLite database (WAL, `synchronous=FULL`) holding devices, dockings,
//! archived files, segments with their verdicts and times, sessions, gaps, hostile entries,
//! wipes, what the dock remembers of each recorder's chain and the contradictions found
//! against it, burn jobs and discs, and the custody log (whose table and hashing belong to [`crate::custody`]).
//!
//! Owns: the schema and every write to it. Every state change is written in one transaction
//! together with the custody event that records it, so the log and the catalogue never
//! disagree (INV-5).
//! Must never: update or delete custody events (the triggers refuse it), or hold the database
//! readable by other users (mode 0600, R12).

mod access;
mod accounts;
mod alarms;
mod attention;
mod burn;
mod cases;
mod central;
mod describe;
mod duty;
mod evict;
mod gaps;
mod keys;
mod memory;
mod registry;
mod retention;
mod scrub;
mod store;
mod usb;

pub use access::request_subject;
pub use accounts::AccountChange;
pub use alarms::{AlarmKind, AlarmRow, NewAlarm};
pub use attention::{DockingReview, NeedsReview, NotInService};
pub use burn::{DiscRow, NewDisc};
pub use cases::{Case, CaseKind, CaseLabel, GapRow, PendingMove};
pub use central::{Backlog, NewObject, OutboxItem};
pub use describe::{Description, Target as DescribedTarget, Text as DescriptionText};
/// Reading descriptions on a connection of its own (`case history`, `log verify`).
pub mod descriptions {
    pub use super::describe::{current_of, history_of, MAX_CONTENT, MAX_PLACE, MAX_SUBJECT};
}
pub use duty::{duty_spans, CheckOut, ExtensionRow};
pub use evict::Eviction;
pub use gaps::{Exemption, Explanation, Scan, Statement};
pub use registry::{registry_history, Registration, RegistryCheck, RegistryEntry};
pub use retention::RecordingRow;
pub use scrub::{CheckedName, PassDelta, ScrubPass};
pub use store::{
    seq_from_sql, seq_to_sql, ArchivedFile, Catalog, CatalogError, CopyRecord, DockingStart, DockingSummary,
    SegmentRow, WipeRecord,
};
pub use usb::{check_usb_serial, BoundDevice, UsbBinding};
