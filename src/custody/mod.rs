//! The custody log: an append-only, tamper-evident record of every action the station takes
//! on evidence (R11).
//!
//! Owns: the event model and its canonical encoding ([`event`], pure), the hash chain check
//! ([`chain`], pure, streaming), the RFC 9162 Merkle tree and its proofs ([`merkle`], pure),
//! signed checkpoints ([`checkpoint`], pure), the `custody_log` and `custody_checkpoints`
//! tables with their append-only triggers and queries ([`store`], the SQLite edge), and the
//! signing key and checkpoint side file ([`files`], the file edge), and the verdict as text and
//! JSON ([`verdict`], pure).
//! Must never: update or delete an event, hold the whole log in memory, or treat tampering as
//! an error: verification reports findings; [`CustodyError`] means "could not look" or "could
//! not write".
//!
//! The format is described in `docs/CUSTODY-LOG.md`.

use std::path::PathBuf;

pub mod chain;
pub mod checkpoint;
pub mod event;
pub mod extract;
pub mod files;
pub mod merkle;
pub mod query;
pub mod store;
pub mod tree;
pub mod verdict;

/// Why the custody log could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CustodyError {
    /// The database does not exist.
    #[error("custody log database {} does not exist: the daemon has not run yet (it creates the database when it starts), or paths.state_dir points elsewhere", path.display())]
    Missing {
        /// The database file.
        path: PathBuf,
    },
    /// Whether the database exists could not be told (permissions).
    #[error("cannot look for custody log database {}: {source}", path.display())]
    Access {
        /// The database file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The database could not be opened or is not a database.
    #[error("cannot open custody log database {}: {source}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// The database has no `custody_log` table.
    #[error("{} has no custody_log table: not an evidock database, or the table was removed (which is itself a finding to investigate)", path.display())]
    NoLog {
        /// The database file.
        path: PathBuf,
    },
    /// A statement failed.
    #[error("custody log: {doing}: {source}")]
    Sqlite {
        /// What was being done, e.g. "appending an event".
        doing: &'static str,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// A key or checkpoint file could not be read or written.
    #[error("{doing} {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What was being done, e.g. "creating the signing key".
        doing: &'static str,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A key file holds no usable key.
    #[error("key file {}: {reason}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A key or note could not be made.
    #[error(transparent)]
    Note(#[from] checkpoint::NoteError),
    /// A checkpoint was refused because the log it would sign is not sound, or does not extend
    /// the last checkpoint: signing it would vouch for tampering.
    #[error("no checkpoint made: {reason}; run `evidock log verify`")]
    Unsound {
        /// What is wrong with the log.
        reason: String,
    },
    /// A checkpoint was refused because signing it would contradict a checkpoint the station
    /// signed before (its side file), or the signing key is not the one the log recorded: the
    /// station never signs a fork of its own log (INV-12).
    #[error("no checkpoint signed: {} / 拒绝签署检查点：{}", .0.reason(), .0.reason_zh())]
    Contradiction(store::Contradiction),
    /// Checkpoints need the station's verifier key to be checked, and none was given.
    #[error("{checkpoints} checkpoints cannot be checked without the station's verifier key (custody-signing.pub)")]
    NoVerifier {
        /// How many checkpoints wait.
        checkpoints: usize,
    },
    /// The event could not be built.
    #[error(transparent)]
    Event(#[from] event::EventError),
    /// A stored row could not be read as an event (wrong type or length). `verify` reports
    /// such a row as a finding instead.
    #[error("custody log row {seq} is unreadable: {reason}; run `evidock log verify`")]
    Corrupt {
        /// The row's seq (0 when even that is unreadable).
        seq: u64,
        /// What is wrong.
        reason: String,
    },
}
