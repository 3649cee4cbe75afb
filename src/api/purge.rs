//! `purge_request`, `purge_approve`, `purge_cancel`, `purge_list`, `purge_run`: the purge queue
//! of footage past its deadline (R7; INV-11, INV-16). A purge is asked for with a reason,
//! approved by someone else, cancellable through a grace period, and run only after it; each
//! step holds the recording's catalogue rows against the verified custody log first (holds,
//! flags, deadline, approval, every file), and a contradiction raises an alarm and purges
//! nothing. A purged recording leaves a tombstone: what it was, its hashes, who asked and who
//! approved.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ApiError, Ctx};
use crate::catalog::{AlarmKind, Catalog, NewAlarm, RecordingRow};
use crate::config::Config;
use crate::custody::event::Action;
use crate::ledger::Ledger;
use crate::retention::{self, Catalogued, PurgeRequest, PurgeState, RetentionError};

/// `purge_request`: a recording past its deadline, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ask {
    /// The recording, `SERIAL/SESSION` or `SERIAL/file-ID`.
    pub recording: String,
    /// Why (required).
    pub reason: String,
}

/// `purge_approve`: a request by its number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approve {
    /// The request's number.
    pub id: i64,
}

/// `purge_cancel`: a request by its number, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cancel {
    /// The request's number.
    pub id: i64,
    /// Why (required).
    pub reason: String,
}

/// A request of the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purge {
    /// Its number.
    pub id: i64,
    /// The recording.
    pub recording: String,
    /// `awaiting-approval`, `grace`, `cancelled` or `executed`.
    pub state: String,
    /// In Chinese.
    pub state_zh: String,
    /// Who asked.
    pub requested_by: String,
    /// When, station time.
    pub requested_at: String,
    /// Why.
    pub reason: String,
    /// Who approved it, once approved.
    pub approved_by: Option<String>,
    /// The end of the grace period (station time) while it can still be cancelled.
    pub grace_until: Option<String>,
    /// Who cancelled it, once cancelled, and why.
    pub cancelled: Option<String>,
    /// When it ran, once it has (station time).
    pub executed_at: Option<String>,
}

/// The outcome of a purge pass (`purge_run`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pass {
    /// The requests carried out: number, recording, files deleted.
    pub done: Vec<PassItem>,
    /// The requests not carried out because the catalogue contradicts the custody log (an
    /// alarm is raised for each); the front end's exit code says so.
    pub contradicted: Vec<PassItem>,
    /// The requests past their grace period that the rules no longer allow (a hold placed
    /// during the grace period), each with why.
    pub refused: Vec<PassItem>,
}

/// One request in a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassItem {
    /// The request's number.
    pub id: String,
    /// The recording.
    pub recording: String,
    /// Files deleted (`done`), else 0.
    pub files: usize,
    /// Why not (`contradicted`, `refused`).
    pub why: Option<String>,
}

/// A step of the queue taken: the request and where it stands now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stepped {
    /// The request.
    pub purge: Purge,
}

fn rule(e: RetentionError) -> ApiError {
    match e {
        RetentionError::EmptyReason { .. } => ApiError::invalid(format!("{e} / 必须填写理由")),
        e => ApiError::refused(format!("{e} / 保存规则不允许此操作")),
    }
}

fn station(t: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> String {
    crate::report::history::station_time_at(t, tz)
}

fn view(p: &PurgeRequest, tz: chrono_tz::Tz) -> Purge {
    let (approved_by, grace_until, cancelled, executed_at) = match &p.state {
        PurgeState::AwaitingApproval => (None, None, None, None),
        PurgeState::Grace { approved_by, until, .. } => {
            (Some(approved_by.clone()), Some(station(*until, tz)), None, None)
        }
        PurgeState::Cancelled { by, reason, .. } => (None, None, Some(format!("{by}: {reason}")), None),
        PurgeState::Executed { approved_by, at, .. } => (Some(approved_by.clone()), None, None, Some(station(*at, tz))),
    };
    let state_zh = match &p.state {
        PurgeState::AwaitingApproval => "待批准",
        PurgeState::Grace { .. } => "宽限期中",
        PurgeState::Cancelled { .. } => "已撤销",
        PurgeState::Executed { .. } => "已删除",
    };
    Purge {
        id: p.id.parse().unwrap_or_default(),
        recording: p.recording.clone(),
        state: p.state.as_str().to_string(),
        state_zh: state_zh.to_string(),
        requested_by: p.requested_by.clone(),
        requested_at: station(p.requested_at, tz),
        reason: p.reason.clone(),
        approved_by,
        grace_until,
        cancelled,
        executed_at,
    }
}

fn request_of(catalog: &Catalog, id: i64) -> Result<PurgeRequest, ApiError> {
    catalog.purge(id).map_err(|e| ApiError::not_found(format!("purge request #{id}: {e} / 无此删除申请")))
}

fn recording_of(catalog: &Catalog, id: &str) -> Result<RecordingRow, ApiError> {
    catalog.recording(id).map_err(|e| ApiError::not_found(format!("{e} / 无此录像")))
}

/// Asks to purge a recording past its deadline (`purge_requested`), after its rows are held
/// against the verified custody log.
///
/// # Errors
/// [`super::ErrorKind::Invalid`] without a reason, [`super::ErrorKind::NotFound`] for an
/// unknown recording, [`super::ErrorKind::Refused`] for one the rules keep (deadline not
/// reached, a hold, a long-term flag) or whose rows contradict the log.
pub fn request(ctx: &Ctx<'_>, a: &Ask) -> Result<Stepped, ApiError> {
    let config = ctx.config;
    let mut catalog = ctx.catalog()?;
    super::retention::record_deadlines(&mut catalog, config)?;
    let row = recording_of(&catalog, a.recording.trim())?;
    let req = PurgeRequest::new(
        "new",
        &row.recording,
        &config.retention,
        &ctx.actor.user,
        super::retention::now(),
        &a.reason,
    )
    .map_err(rule)?;
    let ledger = super::access::trusted_ledger(&mut catalog, config, "purge request")?;
    check_with_log(&mut catalog, config, &ledger, &row, None, "request")?;
    let id = catalog.insert_purge(&req)?;
    Ok(Stepped { purge: view(&request_of(&catalog, id)?, config.timezone) })
}

/// Approves a request (`purge_approved`; never by who asked); its grace period starts.
///
/// # Errors
/// [`super::ErrorKind::NotFound`] for an unknown request, [`super::ErrorKind::Refused`] for
/// self-approval, a request not awaiting approval, a recording the rules now keep, or rows that
/// contradict the log.
pub fn approve(ctx: &Ctx<'_>, a: &Approve) -> Result<Stepped, ApiError> {
    let config = ctx.config;
    let mut catalog = ctx.catalog()?;
    super::retention::record_deadlines(&mut catalog, config)?;
    let mut req = request_of(&catalog, a.id)?;
    let row = recording_of(&catalog, &req.recording)?;
    let ledger = super::access::trusted_ledger(&mut catalog, config, "purge approve")?;
    check_with_log(&mut catalog, config, &ledger, &row, Some(&req), "approve")?;
    req.approve(&ctx.actor.user, super::retention::now(), &row.recording, &config.retention).map_err(rule)?;
    catalog.update_purge(&req)?;
    Ok(Stepped { purge: view(&req, config.timezone) })
}

/// Cancels a request before it runs (`purge_cancelled`).
///
/// # Errors
/// [`super::ErrorKind::Invalid`] without a reason, [`super::ErrorKind::NotFound`] for an
/// unknown request, [`super::ErrorKind::Refused`] for one already cancelled or carried out.
pub fn cancel(ctx: &Ctx<'_>, a: &Cancel) -> Result<Stepped, ApiError> {
    let mut catalog = ctx.catalog()?;
    let mut req = request_of(&catalog, a.id)?;
    req.cancel(&ctx.actor.user, super::retention::now(), &a.reason).map_err(rule)?;
    catalog.update_purge(&req)?;
    Ok(Stepped { purge: view(&req, ctx.config.timezone) })
}

/// Every request of the queue, oldest first.
///
/// # Errors
/// When the catalogue cannot be read.
pub fn list(ctx: &Ctx<'_>, _a: &super::NoArgs) -> Result<Vec<Purge>, ApiError> {
    let catalog = ctx.catalog()?;
    Ok(catalog.purges()?.iter().map(|p| view(p, ctx.config.timezone)).collect())
}

/// Carries out every approved request past its grace period: each recording's rows held
/// against the verified custody log, its eligibility checked again (a hold placed during the
/// grace period stops it), its files deleted, a tombstone kept (`purge_executed`).
///
/// # Errors
/// [`super::ErrorKind::Refused`] when the custody log does not verify (nothing is purged);
/// [`super::ErrorKind::Failed`] when a file cannot be deleted (the pass stops there; what
/// was done stays recorded).
pub fn run(ctx: &Ctx<'_>, _a: &super::NoArgs) -> Result<Pass, ApiError> {
    let config = ctx.config;
    let now = super::retention::now();
    let mut catalog = ctx.catalog()?;
    let rows = super::retention::record_deadlines(&mut catalog, config)?;
    let ledger = super::access::trusted_ledger(&mut catalog, config, "purge run")?;
    let mut pass = Pass::default();
    for mut req in catalog.purges()? {
        let Some(until) = req.grace_until() else { continue };
        if until > now {
            continue;
        }
        let Some(row) = rows.iter().find(|r| r.recording.id == req.recording) else { continue };
        let (id, recording) = (req.id.clone(), req.recording.clone());
        let item =
            |files: usize, why: Option<String>| PassItem { id: id.clone(), recording: recording.clone(), files, why };
        // The catalogue is checked against the custody log first: holds, flags, deadline,
        // approval and every file to delete (INV-16).
        if let Err(e) = check_with_log(&mut catalog, config, &ledger, row, Some(&req), "run") {
            pass.contradicted.push(item(0, Some(e.message)));
            continue;
        }
        // Checks eligibility again: a hold placed during the grace period stops it.
        let tomb = match req.execute(now, &row.recording, &config.retention) {
            Ok(t) => t,
            Err(e) => {
                pass.refused.push(item(0, Some(rule(e).message)));
                continue;
            }
        };
        let root = &config.paths.archive_root;
        for (_, paths) in &row.files {
            for p in paths {
                remove_archived(root, p)
                    .map_err(|e| ApiError::failed(format!("deleting {p}: {e} / 删除文件失败，本次删除中止")))?;
            }
        }
        let ids: Vec<i64> = row.files.iter().map(|(id, _)| *id).collect();
        catalog.record_purge(&req, &ids, &tomb)?;
        pass.done.push(item(ids.len(), None));
    }
    Ok(pass)
}

/// Holds a recording's catalogue rows against the verified custody log before a purge step
/// (INV-11, INV-16). Agreement clears an earlier alarm about the recording; a contradiction
/// raises the alarm (journal, `status`, `catalogue_mismatch` in the log) and refuses.
fn check_with_log(
    catalog: &mut Catalog,
    config: &Config,
    ledger: &Ledger,
    row: &RecordingRow,
    request: Option<&PurgeRequest>,
    step: &str,
) -> Result<(), ApiError> {
    let id = row.recording.id.clone();
    let holds = catalog.holds(&id)?;
    let flags = catalog.flags(&id)?;
    let ids: Vec<i64> = row.files.iter().map(|(f, _)| *f).collect();
    let logged = ledger.recording(&id, &ids);
    let found = retention::check_against_log(
        &Catalogued { recording: &row.recording, holds: &holds, flags: &flags, files: &row.files },
        &logged,
        request,
        &config.retention,
    );
    let subject = format!("recording:{id}");
    if found.is_empty() {
        catalog.clear_alarms(
            AlarmKind::Catalogue,
            Some(&subject),
            "the catalogue agrees with the custody log again",
        )?;
        return Ok(());
    }
    let en: Vec<String> = found.iter().map(|m| m.text.clone()).collect();
    let zh: Vec<String> = found.iter().map(|m| m.text_zh.clone()).collect();
    let message = format!("the catalogue contradicts the custody log about {id}: {}", en.join("; "));
    let message_zh = format!("目录与保管日志不符（录像 {id}）：{}", zh.join("；"));
    tracing::error!(recording = %id, step, "ALARM: {message}");
    catalog.raise_alarm(&NewAlarm {
        kind: AlarmKind::Catalogue,
        subject: &subject,
        message: &message,
        message_zh: &message_zh,
        action: Action::CatalogueMismatch,
        details: serde_json::json!({
            "what": format!("retention purge {step}"),
            "purge": request.map(|r| r.id.clone()),
            "findings": found.iter().map(|m| serde_json::json!({ "what": m.what, "text": m.text, "text_zh": m.text_zh })).collect::<Vec<_>>(),
        }),
    })?;
    Err(ApiError::refused(format!(
        "{message}; nothing purged, the alarm is raised / {message_zh}；未执行删除，已发出警报"
    )))
}

/// Deletes one archived file (its immutable flag lifted first) and makes the removal durable.
fn remove_archived(root: &Path, rel: &str) -> std::io::Result<()> {
    let path = root.join(rel);
    let _ = crate::archive::fsio::set_immutable_flag(&path, false);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    match path.parent() {
        Some(dir) => crate::archive::fsio::fsync_dir(dir),
        None => Ok(()),
    }
}
