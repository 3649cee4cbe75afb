//! `retention_flag`: marking a recording to be kept long-term (R7; S0 §16, S1 §7), and the
//! recorded deadlines that follow every change (revised, never shortened).
//!
//! An officer marks their own footage important (the trigger and the reason are theirs, and
//! the custody event names them); archivists and supervisors mark any. A mark only lengthens
//! what is kept: its withdrawal needs another person's approval (`retention unflag`).

use serde::{Deserialize, Serialize};

use super::{ApiError, Ctx};
use crate::catalog::{Catalog, CatalogError, RecordingRow};
use crate::config::Config;
use crate::custody::event::Role;
use crate::retention::{self, Deadline, Revision, Trigger};

/// Mark a recording to be kept long-term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flag {
    /// The recording, `SERIAL/SESSION` or `SERIAL/file-ID`.
    pub recording: String,
    /// Why it is kept long-term: `evidence`, `dispute`, `obstruction`, `emergency`,
    /// `major-case` or `other`.
    pub trigger: String,
    /// In the person's own words (required).
    pub reason: String,
}

/// The mark set, and the deadline the recording now has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flagged {
    /// The flag's number (for `retention unflag`).
    pub id: i64,
    /// The recording.
    pub recording: String,
    /// The trigger (`evidence`).
    pub trigger: String,
    /// The trigger in Chinese (作为证据使用).
    pub trigger_zh: String,
    /// The deadline now recorded: station time, or `permanent`.
    pub deadline: String,
}

/// Records the deadline of every recording, revised by [`retention::revise`] and never
/// shortened (`deadline_recorded` for each one that moved); returns the recordings.
///
/// # Errors
/// When the catalogue cannot be read or written.
pub fn record_deadlines(catalog: &mut Catalog, config: &Config) -> Result<Vec<RecordingRow>, CatalogError> {
    let mut rows = catalog.recordings()?;
    for row in &mut rows {
        let computed = retention::computed_deadline(&row.recording, &config.retention);
        match retention::revise(row.recording.kept_deadline, computed) {
            Revision::Unchanged(_) => {}
            rev => {
                catalog.keep_deadline(&row.recording.id, rev.deadline())?;
                row.recording.kept_deadline = Some(rev.deadline());
            }
        }
    }
    Ok(rows)
}

/// A deadline as people read it: station time, or permanent.
pub fn deadline_text(d: Deadline, tz: chrono_tz::Tz) -> String {
    match d {
        Deadline::Permanent => "permanent 永久".into(),
        Deadline::At(t) => crate::report::history::station_time_at(t, tz),
    }
}

/// Sets a long-term flag (`retention_flag_set`) and records the deadlines that follow.
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for an unknown trigger or no reason,
/// [`super::ErrorKind::NotFound`] for an unknown recording, [`super::ErrorKind::Refused`] for an
/// officer marking footage not theirs.
pub fn flag(ctx: &Ctx<'_>, a: &Flag) -> Result<Flagged, ApiError> {
    let trigger = Trigger::parse(a.trigger.trim()).ok_or_else(|| {
        let all: Vec<String> = Trigger::ALL.iter().map(|t| format!("{} ({})", t.as_str(), t.label_zh())).collect();
        ApiError::invalid(format!("trigger {:?}: expected one of {} / 长期保存事由不正确", a.trigger, all.join(", ")))
    })?;
    let recording = a.recording.trim();
    let mut catalog = ctx.catalog()?;
    let row = catalog.recording(recording).map_err(|e| ApiError::not_found(e.to_string()))?;
    if ctx.actor.role == Role::Officer
        && (ctx.caller.officer.is_none() || ctx.caller.officer.as_deref() != row.recording.officer.as_deref())
    {
        return Err(ApiError::refused(format!(
            "recording {recording} is not the footage of officer {}: an officer marks their own footage only \
             / 执法人员只能标记本人摄录的录像",
            ctx.caller.officer.as_deref().unwrap_or("-")
        )));
    }
    let id = catalog.set_flag(recording, trigger, &a.reason)?;
    let rows = record_deadlines(&mut catalog, ctx.config)?;
    let deadline = rows
        .iter()
        .find(|r| r.recording.id == recording)
        .map(|r| deadline_text(retention::deadline(&r.recording, &ctx.config.retention), ctx.config.timezone))
        .unwrap_or_default();
    Ok(Flagged {
        id,
        recording: recording.to_string(),
        trigger: trigger.as_str().to_string(),
        trigger_zh: trigger.label_zh().to_string(),
        deadline,
    })
}
