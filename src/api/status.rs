//! `status`: the custodian's view of the station as one document: per bay the recorder,
//! officer, progress, verdicts and "safe to undock", the open alarms, the archive scrub, a
//! running burn job, the central copy, the recent dockings, and what needs the custodian's
//! attention beyond the alarms (recorders that docked without being in service, recorders
//! not back by their due time, the archive disk, footage that needs review).

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
    /// What needs the custodian's attention beyond the open alarms.
    pub attention: Attention,
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

/// What needs the custodian's attention beyond the open alarms (R1, R3, R5, R14): the facts
/// the catalogue and the custody log hold now, each gone once it is dealt with (the recorder
/// registered or returned, space made, the review recorded with `docking_review`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attention {
    /// Recorders that docked in the last [`ATTENTION_DAYS`] days and are not registered, or
    /// are retired (R1): footage is never refused, but whose it is needs settling.
    pub not_in_service: Vec<NotInService>,
    /// Recorders out on duty past their due time, an approved extension counted (R14).
    pub overdue: Vec<Overdue>,
    /// The archive disk, when it can be measured.
    pub disk: Option<DiskSpace>,
    /// Dockings of the last [`ATTENTION_DAYS`] days whose footage needs a person's review
    /// (a flagged verdict, an unexplained gap, a clock off, the registry's note, something left
    /// on the recorder), newest first, at most [`REVIEW_SHOWN`].
    pub review: Vec<Review>,
}

impl Attention {
    /// How many things need attention (the disk counts when it is low).
    pub fn count(&self) -> usize {
        self.not_in_service.len()
            + self.overdue.len()
            + self.review.len()
            + usize::from(self.disk.is_some_and(|d| d.low))
    }
}

/// A recorder that docked while not in service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotInService {
    /// Its serial.
    pub serial: String,
    /// `unregistered` or `retired`.
    pub state: String,
    /// Its latest docking, station time with the zone named.
    pub last_docked: String,
    /// How many times it docked in the period.
    pub dockings: u64,
}

/// A recorder out on duty past its due time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Overdue {
    /// The binding.
    pub binding: i64,
    /// The recorder.
    pub serial: String,
    /// The officer (警号).
    pub officer_id: String,
    /// The officer's name, where given.
    pub officer_name: Option<String>,
    /// When it was due back (the end of its working day, or an approved extension), station
    /// time with the zone named.
    pub due: String,
}

/// The archive disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiskSpace {
    /// Bytes in all.
    pub total: u64,
    /// Bytes free.
    pub free: u64,
    /// Percent used.
    pub used_percent: u8,
    /// At or above `ingest.disk_warn_percent`.
    pub low: bool,
}

/// A docking whose footage needs review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Review {
    /// The docking.
    pub docking_id: i64,
    /// The recorder, when identified.
    pub serial: Option<String>,
    /// When it finished, station time with the zone named.
    pub finished: String,
    /// Segments with a flagged verdict.
    pub flagged: u64,
    /// What the ingest found, as it logged it.
    pub problems: Vec<String>,
}

/// How far back the attention list looks, in days.
pub const ATTENTION_DAYS: i64 = 30;
/// How many dockings needing review the status lists.
pub const REVIEW_SHOWN: usize = 20;

/// What needs attention, from the catalogue at `now`.
fn attention(config: &Config, cat: &Catalog, now: chrono::DateTime<chrono::Utc>) -> Result<Attention, ApiError> {
    let tz = config.timezone;
    let named = |rfc: &str| crate::report::history::station_time_named(rfc, tz);
    let since = now - chrono::Duration::days(ATTENTION_DAYS);
    let not_in_service = cat
        .not_in_service_since(&since.to_rfc3339(), 50)?
        .into_iter()
        .map(|n| NotInService {
            state: if n.retired.is_some() { "retired" } else { "unregistered" }.to_string(),
            last_docked: named(&n.last_docked),
            serial: n.serial,
            dockings: n.dockings,
        })
        .collect();
    let extensions = super::duty::extensions(cat)?;
    let overdue = cat
        .bindings(true)?
        .into_iter()
        .filter_map(|b| {
            let due = crate::duty::due_back(&b, &extensions, config.duty.day_end, tz);
            (due < now).then(|| Overdue {
                binding: b.id,
                serial: b.serial,
                officer_id: b.officer,
                officer_name: b.officer_name,
                due: crate::report::history::station_time_at(due, tz),
            })
        })
        .collect();
    let disk =
        crate::central::offload::archive_disk(&config.paths.archive_root).ok().filter(|d| d.total > 0).map(|d| {
            let used_percent = u8::try_from(d.used.saturating_mul(100) / d.total).unwrap_or(100);
            DiskSpace {
                total: d.total,
                free: d.total.saturating_sub(d.used),
                used_percent,
                low: used_percent >= config.ingest.disk_warn_percent,
            }
        });
    let since_log = since.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let review = cat
        .needing_review_since(&since_log, REVIEW_SHOWN)?
        .into_iter()
        .map(|r| Review {
            docking_id: r.docking_id,
            serial: r.serial,
            finished: named(&r.finished),
            flagged: r.details["flagged"].as_u64().unwrap_or(0),
            problems: r.details["problems"]
                .as_array()
                .map(|a| a.iter().filter_map(|p| p.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
        })
        .collect();
    Ok(Attention { not_in_service, overdue, disk, review })
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
        doc.attention = attention(config, &cat, chrono::Utc::now())?;
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
