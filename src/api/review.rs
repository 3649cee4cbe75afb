//! `docking_review`: a person records that they reviewed a docking whose footage needed
//! review (a flagged verdict, an unexplained gap, a clock off, the registry's note, something
//! left on the recorder; R1, R5), with what they found. The docking then leaves `status`'s
//! attention list; the custody event (`docking_reviewed`) is the record.
//!
//! Owns: the request and its refusals. Must never: record a review of a docking that asked for
//! none, or twice.

use serde::{Deserialize, Serialize};

use super::{ApiError, Ctx};
use crate::catalog::DockingReview;

/// `docking_review`: the docking, and what the person reviewed and found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// The docking (from `status`'s `attention.review`).
    pub docking: i64,
    /// What was reviewed and found (required).
    pub note: String,
}

/// The review recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reviewed {
    /// The docking.
    pub docking: i64,
    /// Its recorder, when identified.
    pub serial: Option<String>,
}

/// Records the review (`docking_reviewed`).
///
/// # Errors
/// [`super::ErrorKind::Invalid`] without a note or for a docking that asked for no review,
/// [`super::ErrorKind::NotFound`] for one unknown or not finished,
/// [`super::ErrorKind::Conflict`] for one reviewed already.
pub fn review(ctx: &Ctx<'_>, a: &Review) -> Result<Reviewed, ApiError> {
    let mut catalog = ctx.catalog()?;
    match catalog.review_docking(a.docking, &a.note)? {
        DockingReview::Recorded(serial) => Ok(Reviewed { docking: a.docking, serial }),
        DockingReview::Unknown => Err(ApiError::not_found(format!(
            "docking {} is unknown or has not finished / 接入 {} 不存在或尚未完成",
            a.docking, a.docking
        ))),
        DockingReview::NotAsked => {
            Err(ApiError::invalid(format!("docking {} asked for no review / 接入 {} 无须复核", a.docking, a.docking)))
        }
        DockingReview::Already(seq) => Err(ApiError::conflict(format!(
            "docking {} was reviewed already (custody event #{seq}) / 接入 {} 已复核",
            a.docking, a.docking
        ))),
    }
}
