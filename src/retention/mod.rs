//! Retention (R7) and working-day deadlines (R3): how long each recording must be kept, what
//! may be purged and when, and the calendar of holidays and make-up working days that deadlines
//! counted in working days use.
//!
//! Owns: retention classes and deadlines computed from a recording's corrected end time in the
//! station's time zone ([`deadline`]); the long-term triggers ([`Trigger`], [`Flag`]) and legal
//! holds ([`Hold`]), each with who set it, when and why; the rule that a deadline is never
//! shortened on its own ([`revise`]); what expires in a window ([`due`]); whether a recording
//! may be purged ([`purge_eligible`]); the purge queue ([`PurgeRequest`]) with approval by a
//! second person and a grace period; the [`Tombstone`] a purge leaves; the working-day
//! [`Calendar`] and the ingest deadline ([`IngestRule`], [`ingest_deadline`]).
//!
//! Must never: read a clock, touch a file or the catalogue, or delete anything: every function
//! takes `now` and the facts as values and returns a typed answer (INV-7). Footage nobody
//! classified keeps the standard deadline; it is never treated as deletable earlier.

mod calendar;
mod months;
mod policy;
mod purge;

pub use calendar::{ingest_deadline, Calendar, IngestRule};
pub use months::{add_months, expiry_after_months, local_to_utc, Pick};
pub use policy::{
    class, computed_deadline, counted_from, deadline, returned_deadline, revise, Class, Deadline, FileHash, Flag, Hold,
    LongTerm, Policy, Recording, Release, Revision, Trigger, MIN_STANDARD_MONTHS,
};
pub use purge::{
    check_against_log, due, logged_deadline, purge_eligible, Catalogued, DueItem, LoggedFile, LoggedPurge,
    LoggedRecording, Mismatch, Obstacle, PurgeRequest, PurgeState, Refusal, Tombstone,
};

/// Something the retention rules refused or could not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    /// A flag, hold, release or purge step was given no reason (R7: every step says why).
    #[error("{what}: a reason is required")]
    EmptyReason {
        /// What was being recorded, e.g. "long-term flag".
        what: &'static str,
    },
    /// A step was given no user.
    #[error("{what}: the user who takes this step is required")]
    EmptyActor {
        /// What was being recorded.
        what: &'static str,
    },
    /// A hold or flag was already released or withdrawn.
    #[error("{what} was already released by {by}")]
    AlreadyReleased {
        /// What.
        what: &'static str,
        /// Who released it.
        by: String,
    },
    /// A policy value outside what the regulations allow.
    #[error("retention policy: {key} = {value}: {reason}")]
    Policy {
        /// Key, e.g. `retention.standard_months`.
        key: &'static str,
        /// The value as given.
        value: String,
        /// What is allowed.
        reason: String,
    },
    /// The calendar text is not valid TOML for the calendar format.
    #[error("holiday calendar: {message}")]
    CalendarSyntax {
        /// The TOML parser's message, which names the key and line.
        message: String,
    },
    /// The calendar text is valid TOML but a value is wrong.
    #[error("holiday calendar: {key} = {value}: {reason}")]
    CalendarValue {
        /// Key, e.g. `workdays` or `holiday[3].from`.
        key: String,
        /// The value as given.
        value: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// The recording may not be purged (R7); the refusal names every reason.
    #[error("{0}")]
    Refused(Refusal),
    /// The approver is the requester (approval takes a second person).
    #[error("purge request {request}: {user} requested it and cannot also approve it")]
    SelfApproval {
        /// Request id.
        request: String,
        /// The user.
        user: String,
    },
    /// The purge request is not in a state that allows this step.
    #[error("purge request {request}: cannot {action} while it is {state}")]
    PurgeState {
        /// Request id.
        request: String,
        /// The step tried: "approve", "cancel", "execute".
        action: &'static str,
        /// The current state's name.
        state: &'static str,
    },
    /// The grace period of an approved purge has not ended.
    #[error("purge request {request}: its grace period runs until {until}; it can still be cancelled until then")]
    InGrace {
        /// Request id.
        request: String,
        /// End of the grace period.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// The purge request names another recording than the facts given.
    #[error("purge request {request} is for recording {expected}, not {given}")]
    WrongRecording {
        /// Request id.
        request: String,
        /// The request's recording.
        expected: String,
        /// The recording given.
        given: String,
    },
}
