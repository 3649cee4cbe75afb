//! `status`: the custodian's view of the station as one document: per bay the recorder,
//! officer, progress, verdicts and "safe to undock", the open alarms, the archive scrub, a
//! running burn job, the central copy and the recent dockings.

use serde::{Deserialize, Serialize};

use super::{ApiError, Ctx};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::daemon::status::Document;

/// `status` takes no arguments (`--watch` and `--json` are the command line's own).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusArgs {}

/// The status document, version 1: the daemon's `status.json` ([`Document`]: `version`,
/// `updated`, `daemon`, `bays`) with what the catalogue and the state folder add.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusDoc {
    /// What the daemon last wrote (an empty document when it never ran).
    #[serde(flatten)]
    pub station: Document,
    /// Whether a daemon holds the station's lock now.
    pub running: bool,
    /// The station's time zone (IANA name): every instant a person reads is shown in it.
    pub timezone: String,
    /// The last ten dockings, newest first.
    #[serde(default)]
    pub recent_dockings: Vec<RecentDocking>,
    /// How many alarms are open in all.
    #[serde(default)]
    pub alarms_open: u64,
    /// The newest open alarms (at most 20).
    #[serde(default)]
    pub alarms: Vec<Alarm>,
    /// The archive scrub (R5), when the catalogue can be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrub: Option<Scrub>,
    /// A running burn job (R8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burn: Option<BurnProgress>,
    /// The central copy, when one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub central: Option<super::replicate::Backlog>,
}

/// One recent docking.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecentDocking {
    /// The docking's id.
    pub docking_id: i64,
    /// The recorder, when identified.
    pub serial: Option<String>,
    /// The bay's volume.
    pub volume: String,
    /// Started, RFC 3339.
    pub started: String,
    /// Finished, RFC 3339, when it has.
    pub finished: Option<String>,
    /// Its outcome, when finished.
    pub outcome: Option<String>,
    /// Whether the recorder could be taken out.
    pub safe_to_undock: bool,
    /// Contradictions found.
    pub contradictions: u64,
    /// Segments by verdict.
    pub verdicts: std::collections::BTreeMap<String, u64>,
}

/// One open alarm, in English and Chinese.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Alarm {
    /// The alarm's id.
    pub id: i64,
    /// Its kind's stable name.
    pub kind: String,
    /// What it is about.
    pub subject: String,
    /// The message in English.
    pub message: String,
    /// The message in Chinese.
    pub message_zh: String,
    /// Raised, RFC 3339.
    pub raised: String,
    /// The custody event that raised it.
    pub custody_event: Option<i64>,
    /// Last seen, RFC 3339.
    pub last_seen: String,
    /// How many times it was seen.
    pub times: i64,
}

/// The archive scrub: the pass in progress and the last complete one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Scrub {
    /// The pass under way.
    pub in_progress: Option<ScrubPass>,
    /// The last pass that finished.
    pub last_complete: Option<ScrubPass>,
}

/// One scrub pass in numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScrubPass {
    /// The pass's number.
    pub pass: i64,
    /// Started, RFC 3339.
    pub started: String,
    /// Last progress, RFC 3339.
    pub updated: String,
    /// Finished, RFC 3339.
    pub finished: Option<String>,
    /// Files checked.
    pub files: u64,
    /// Files to check.
    pub files_total: u64,
    /// Bytes checked.
    pub bytes: u64,
    /// Bytes to check.
    pub bytes_total: u64,
    /// Files whose content differs from the custody log.
    pub differ: u64,
    /// Files missing.
    pub missing: u64,
    /// Catalogue rows that contradict the log.
    pub catalogue: u64,
    /// Time spent reading, milliseconds.
    pub busy_ms: u64,
    /// Runs the pass took.
    pub runs: u64,
}

impl From<&crate::catalog::ScrubPass> for ScrubPass {
    fn from(p: &crate::catalog::ScrubPass) -> ScrubPass {
        ScrubPass {
            pass: p.id,
            started: p.started.clone(),
            updated: p.updated.clone(),
            finished: p.finished.clone(),
            files: p.files,
            files_total: p.files_total,
            bytes: p.bytes,
            bytes_total: p.bytes_total,
            differ: p.differ,
            missing: p.missing,
            catalogue: p.catalogue,
            busy_ms: p.busy_ms,
            runs: p.runs,
        }
    }
}

/// A burn job's progress, as the job writes it to the state folder (version 1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BurnProgress {
    /// `1`.
    pub version: u64,
    /// The job.
    pub job: i64,
    /// The disc being made (1-based).
    pub disc: usize,
    /// Discs in the job.
    pub discs: usize,
    /// The disc's label.
    pub label: String,
    /// The phase's stable name.
    pub phase: String,
    /// The phase in Chinese.
    pub phase_zh: String,
    /// Bytes done in this phase.
    pub bytes_done: u64,
    /// Bytes in this phase.
    pub bytes_total: u64,
    /// The process writing it (the progress is shown only while it lives).
    pub pid: u32,
    /// Written, RFC 3339.
    pub updated: String,
}

/// How many open alarms the status shows one by one.
const ALARMS_SHOWN: usize = 20;

/// The status document.
///
/// # Errors
/// [`super::ErrorKind::Failed`] when the daemon's status file cannot be read or is damaged.
pub fn status(ctx: &Ctx<'_>, _args: &StatusArgs) -> Result<StatusDoc, ApiError> {
    load(ctx.config)
}

fn daemon_running(config: &Config) -> bool {
    match std::fs::OpenOptions::new().read(true).write(true).open(config.lock_path()) {
        Ok(f) => nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockSharedNonblock).is_err(),
        Err(_) => false,
    }
}

fn load(config: &Config) -> Result<StatusDoc, ApiError> {
    let path = config.status_path();
    let station: Document = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::failed(format!("status file {} is not valid: {e} / 状态文件已损坏", path.display()))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Document { version: crate::daemon::status::VERSION, ..Document::default() }
        }
        Err(e) => {
            return Err(ApiError::failed(format!("cannot read status file {}: {e} / 无法读取状态文件", path.display())))
        }
    };
    let mut doc = StatusDoc {
        station,
        running: daemon_running(config),
        timezone: config.timezone.name().to_string(),
        ..StatusDoc::default()
    };
    if let Ok(cat) = Catalog::open_read_only(&config.catalog_path(), config.timezone) {
        doc.recent_dockings = cat
            .recent_dockings(10)?
            .into_iter()
            .map(|d| RecentDocking {
                docking_id: d.id,
                serial: d.serial,
                volume: d.volume,
                started: d.started,
                finished: d.finished,
                outcome: d.outcome,
                safe_to_undock: d.safe_to_undock,
                contradictions: d.contradictions,
                verdicts: d.verdicts.into_iter().collect(),
            })
            .collect();
        alarms_into(&cat, &mut doc);
        if config.central.is_some() {
            doc.central = Some(super::replicate::backlog(config, &cat));
        }
    }
    // A burn job's progress (R8), while the process that writes it is alive.
    doc.burn = std::fs::read(config.burn_progress_path())
        .ok()
        .and_then(|b| serde_json::from_slice::<BurnProgress>(&b).ok())
        .filter(|b| {
            i32::try_from(b.pid).is_ok_and(|pid| nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok())
        });
    Ok(doc)
}

/// Adds the archive scrub and the open alarms (`alarms`, newest first, and `alarms_open`, how
/// many in all) from the catalogue: files that no longer match the custody log, a catalogue
/// that contradicts it, checkpoints the station refused to sign.
fn alarms_into(cat: &Catalog, doc: &mut StatusDoc) {
    if let Ok((in_progress, last)) = cat.scrub_state() {
        doc.scrub = Some(Scrub {
            in_progress: in_progress.as_ref().map(ScrubPass::from),
            last_complete: last.as_ref().map(ScrubPass::from),
        });
    }
    let Ok((rows, total)) = cat.open_alarms(ALARMS_SHOWN) else { return };
    doc.alarms_open = total;
    doc.alarms = rows
        .into_iter()
        .map(|a| Alarm {
            id: a.id,
            kind: a.kind,
            subject: a.subject,
            message: a.message,
            message_zh: a.message_zh,
            raised: a.raised,
            custody_event: a.raised_seq,
            last_seen: a.last_seen,
            times: a.times,
        })
        .collect();
}
