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

/// The retention clock: the system clock, moved forward in test builds by
/// `EVIDOCK_RETENTION_CLOCK_DAYS` (a test-only failpoint, like `EVIDOCK_FAILPOINTS`: footage
/// stored today looked at as if that many days had passed, since the keep period counts from
/// storage).
pub fn now() -> chrono::DateTime<chrono::Utc> {
    #[cfg(feature = "failpoints")]
    if let Some(d) = std::env::var("EVIDOCK_RETENTION_CLOCK_DAYS").ok().and_then(|v| v.parse::<i64>().ok()) {
        return chrono::Utc::now() + chrono::TimeDelta::days(d);
    }
    chrono::Utc::now()
}

/// `retention_show`: one recording's class, deadline, flags, holds and files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowArgs {
    /// The recording, `SERIAL/SESSION` or `SERIAL/file-ID`.
    pub recording: String,
}

/// A long-term flag as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagRow {
    /// Its number.
    pub id: i64,
    /// `evidence`, …
    pub trigger: String,
    /// In Chinese.
    pub trigger_zh: String,
    /// Why.
    pub reason: String,
    /// Who set it.
    pub set_by: String,
    /// When (UTC).
    pub set_at: String,
    /// Whether it is in force.
    pub active: bool,
}

/// A legal hold as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldRow {
    /// Its row number (for `retention_release`).
    pub row: i64,
    /// Its identifier (the court's reference).
    pub id: String,
    /// Why.
    pub reason: String,
    /// Who placed it.
    pub set_by: String,
    /// When (UTC).
    pub set_at: String,
    /// Whether it is in force.
    pub active: bool,
}

/// An archived file of a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRow {
    /// Its archive path.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// BLAKE3, hex.
    pub blake3: String,
}

/// A recording's retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingRetention {
    /// The recording.
    pub id: String,
    /// The recorder.
    pub device: String,
    /// The officer.
    pub officer: Option<String>,
    /// Start, station time.
    pub start: String,
    /// End, station time.
    pub end: String,
    /// `standard` or `long-term`.
    pub class: String,
    /// In Chinese.
    pub class_zh: String,
    /// The deadline: station time with the zone, or permanent.
    pub deadline: String,
    /// The cases it is filed under.
    pub cases: Vec<String>,
    /// Its flags.
    pub flags: Vec<FlagRow>,
    /// Its holds.
    pub holds: Vec<HoldRow>,
    /// Its files.
    pub files: Vec<FileRow>,
}

/// One recording's retention, after the deadlines are recorded.
///
/// # Errors
/// [`super::ErrorKind::NotFound`] for a recording not in the archive.
pub fn show(ctx: &Ctx<'_>, a: &ShowArgs) -> Result<RecordingRetention, ApiError> {
    let policy = &ctx.config.retention;
    let mut catalog = ctx.catalog()?;
    record_deadlines(&mut catalog, ctx.config)?;
    let id = a.recording.trim();
    let row = catalog.recording(id).map_err(|e| ApiError::not_found(e.to_string()))?;
    let r = &row.recording;
    let class = retention::class(r, policy);
    Ok(RecordingRetention {
        id: r.id.clone(),
        device: r.device.clone(),
        officer: r.officer.clone(),
        start: r.start.to_string(),
        end: r.end.to_string(),
        class: class.as_str().to_string(),
        class_zh: class.label_zh().to_string(),
        deadline: deadline_text(retention::deadline(r, policy), ctx.config.timezone),
        cases: r.cases.clone(),
        flags: catalog
            .flags(id)?
            .into_iter()
            .map(|(n, f)| FlagRow {
                id: n,
                trigger: f.trigger.as_str().to_string(),
                trigger_zh: f.trigger.label_zh().to_string(),
                active: f.is_active(),
                reason: f.reason,
                set_by: f.set_by,
                set_at: f.set_at.to_string(),
            })
            .collect(),
        holds: catalog
            .holds(id)?
            .into_iter()
            .map(|(n, h)| HoldRow {
                row: n,
                active: h.is_active(),
                id: h.id,
                reason: h.reason,
                set_by: h.set_by,
                set_at: h.set_at.to_string(),
            })
            .collect(),
        files: r
            .files
            .iter()
            .map(|f| FileRow { path: f.path.clone(), size: f.size, blake3: f.blake3.clone() })
            .collect(),
    })
}

/// `retention_due`: what reaches its deadline within a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DueArgs {
    /// The window, days from now.
    pub within_days: u32,
}

/// A recording that reaches its deadline within the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Due {
    /// The recording.
    pub recording: String,
    /// The recorder.
    pub device: String,
    /// The officer.
    pub officer: Option<String>,
    /// The deadline (UTC, RFC 3339).
    pub deadline: String,
    /// The deadline, station time with the zone.
    pub deadline_local: String,
    /// `standard` or `long-term`.
    pub class: String,
    /// In Chinese.
    pub class_zh: String,
    /// A legal hold keeps it whatever its deadline.
    pub held: bool,
    /// Its deadline has passed.
    pub overdue: bool,
}

/// What reaches its deadline within `within_days`, earliest first (deadlines recorded first,
/// never shortened; permanent footage never appears).
///
/// # Errors
/// When the catalogue cannot be read or written.
pub fn due(ctx: &Ctx<'_>, a: &DueArgs) -> Result<Vec<Due>, ApiError> {
    let mut catalog = ctx.catalog()?;
    let rows = record_deadlines(&mut catalog, ctx.config)?;
    let recs: Vec<_> = rows.into_iter().map(|r| r.recording).collect();
    let window = chrono::TimeDelta::days(i64::from(a.within_days));
    Ok(retention::due(&recs, &ctx.config.retention, window, now())
        .into_iter()
        .map(|d| Due {
            recording: d.id,
            device: d.device,
            officer: d.officer,
            deadline: d.deadline.to_rfc3339(),
            deadline_local: deadline_text(Deadline::At(d.deadline), ctx.config.timezone),
            class: d.class.as_str().to_string(),
            class_zh: d.class.label_zh().to_string(),
            held: d.held,
            overdue: d.overdue,
        })
        .collect())
}

/// Place a legal hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldArgs {
    /// The recording.
    pub recording: String,
    /// The hold's identifier (e.g. the court's reference).
    pub hold: String,
    /// Why (required).
    pub reason: String,
}

/// Release a legal hold, or ask to withdraw a flag: a row number and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithReason {
    /// The hold's row (from `retention_show`), or the flag's number.
    pub id: i64,
    /// Why (required).
    pub reason: String,
}

/// Approve a flag's withdrawal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnflagApprove {
    /// The flag's number.
    pub id: i64,
}

/// What a hold, release or withdrawal step did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    /// The hold's row or the flag's number.
    pub id: i64,
    /// The recording.
    pub recording: Option<String>,
    /// The deadline the recording returns to (an approved withdrawal).
    pub deadline: Option<String>,
}

/// Places a legal hold (`hold_placed`).
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for an unknown recording or no reason.
pub fn hold(ctx: &Ctx<'_>, a: &HoldArgs) -> Result<Done, ApiError> {
    let mut catalog = ctx.catalog()?;
    let id = catalog.set_hold(a.recording.trim(), &a.hold, &a.reason)?;
    Ok(Done { id, recording: Some(a.recording.trim().to_string()), deadline: None })
}

/// Releases a legal hold (`hold_released`).
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for an unknown or released hold, or no reason.
pub fn release(ctx: &Ctx<'_>, a: &WithReason) -> Result<Done, ApiError> {
    let mut catalog = ctx.catalog()?;
    catalog.release_hold(a.id, &a.reason)?;
    Ok(Done { id: a.id, recording: None, deadline: None })
}

/// Asks to withdraw a long-term flag; it stays in force until another person approves.
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for no such active flag, one already asked for, or no reason.
pub fn unflag(ctx: &Ctx<'_>, a: &WithReason) -> Result<Done, ApiError> {
    let mut catalog = ctx.catalog()?;
    let recording = catalog.request_flag_withdrawal(a.id, &a.reason)?;
    Ok(Done { id: a.id, recording: Some(recording), deadline: None })
}

/// Approves a flag's withdrawal (not by who asked): the recording returns to the deadline the
/// rules give without it.
///
/// # Errors
/// [`super::ErrorKind::Refused`] for the person who asked; [`super::ErrorKind::Invalid`] for
/// no pending withdrawal.
pub fn unflag_approve(ctx: &Ctx<'_>, a: &UnflagApprove) -> Result<Done, ApiError> {
    let mut catalog = ctx.catalog()?;
    let (recording, _, requested_by) = catalog.pending_flag_withdrawal(a.id)?;
    if requested_by == ctx.actor.user {
        return Err(ApiError::refused(format!(
            "{requested_by} asked for this withdrawal and cannot approve it; another person must / 不得批准本人申请"
        )));
    }
    let mut row = catalog.recording(&recording)?;
    row.recording.flags = catalog.flags(&recording)?.into_iter().filter(|(f, _)| *f != a.id).map(|(_, f)| f).collect();
    let returned = retention::returned_deadline(&row.recording, &ctx.config.retention);
    catalog.approve_flag_withdrawal(a.id, returned)?;
    Ok(Done { id: a.id, recording: Some(recording), deadline: Some(deadline_text(returned, ctx.config.timezone)) })
}
