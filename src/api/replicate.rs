//! `replicate_status`, `replicate_run`, `replicate_evict`, `replicate_recall`: the station's
//! central copy in an S3 bucket with Object Lock (INV-20).

use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{ApiError, Ctx};
use crate::catalog::Catalog;
use crate::central::Central;
use crate::central::{self, replicate::Replicator, witness::Witness};
use crate::config::Config;

/// `replicate_status` takes no arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusArgs {}

/// `replicate_run` takes no arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunArgs {}

/// Evict local copies of footage proven off the station.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evict {
    /// Say what would go and prove it, remove nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Bring evicted footage back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recall {
    /// An archive path of an evicted file, or a case number.
    pub what: String,
}

/// The central copy's numbers (`version` 1): the backlog (files not yet proven off the
/// station), its age, the oldest recording on the station alone, failures and alarms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backlog {
    /// Shape version (1).
    pub version: u32,
    /// The store.
    pub endpoint: Option<String>,
    /// The bucket.
    pub bucket: Option<String>,
    /// Files waiting.
    pub pending: u64,
    /// Their bytes.
    pub pending_bytes: u64,
    /// When the oldest waiting footage was recorded.
    pub oldest_recorded: Option<String>,
    /// Its age in seconds.
    pub oldest_age_s: Option<i64>,
    /// The oldest recording on this station alone (archive path).
    pub oldest_footage: Option<String>,
    /// Files confirmed in the store.
    pub confirmed: u64,
    /// Their bytes.
    pub confirmed_bytes: u64,
    /// Files whose last attempt failed.
    pub failing: u64,
    /// The last failure.
    pub last_error: Option<String>,
    /// Objects that cannot be sent as they are (`central_alarm`).
    pub blocked: u64,
    /// When the last pass ended.
    pub last_pass: Option<String>,
    /// What stopped the last pass.
    pub last_pass_error: Option<String>,
    /// The store as witness disagrees with the custody log.
    pub witness: Option<String>,
    /// Footage has waited longer than `central.backlog_alarm_s`.
    pub backlog_alarm: bool,
    /// `central.backlog_alarm_s`.
    pub backlog_alarm_after_s: u64,
    /// Files evicted (on the central store alone).
    pub evicted: u64,
    /// Their bytes.
    pub evicted_bytes: u64,
    /// `central.evict_after_days`.
    pub evict_after_days: Option<u32>,
    /// `central.evict_at_disk_percent`.
    pub evict_at_disk_percent: Option<u8>,
}

impl Backlog {
    /// Whether the numbers show an alarm (exit 1 of `replicate status`).
    pub fn alarm(&self) -> bool {
        self.backlog_alarm || self.blocked > 0 || self.witness.is_some()
    }
}

/// What one replication pass did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassReply {
    /// Files newly queued.
    pub queued: u64,
    /// Files confirmed in the store.
    pub confirmed: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Locks and holds changed.
    pub lock_changes: u64,
    /// Files that failed.
    pub failed: u64,
    /// Objects that cannot be sent as they are.
    pub blocked: u64,
    /// What stopped the pass early.
    pub stopped_by: Option<String>,
    /// The store as witness disagrees with the custody log.
    pub witness: Option<String>,
}

impl PassReply {
    /// Whether the pass found a problem (exit 1).
    pub fn problem(&self) -> bool {
        self.failed + self.blocked > 0 || self.stopped_by.is_some() || self.witness.is_some()
    }
}

/// One file chosen for eviction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chosen {
    /// The file.
    pub file: i64,
    /// Its archive path.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// The rule that chose it.
    pub rule: String,
}

/// One chosen file kept, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    /// Its archive path.
    pub path: String,
    /// Why its proof failed (an alarm).
    pub why: String,
}

/// The archive disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    /// Bytes in all.
    pub total: u64,
    /// Bytes used.
    pub used: u64,
}

/// What an eviction did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evicted {
    /// Nothing removed.
    pub dry_run: bool,
    /// Files evicted.
    pub evicted: u64,
    /// Their bytes.
    pub evicted_bytes: u64,
    /// Evictions finished after a stop.
    pub recovered: u64,
    /// The archive disk, when a disk rule applies.
    pub disk: Option<Disk>,
    /// The files chosen.
    pub chosen: Vec<Chosen>,
    /// The chosen files kept because a proof failed.
    pub refused: Vec<Kept>,
}

/// What a recall brought back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recalled {
    /// Per file: `paths`, `size`, `version_id` and the hash checked.
    pub recalled: Vec<serde_json::Value>,
}

/// The central copy's numbers from the catalogue (`replicate status`, `status`, the
/// compliance report).
pub fn backlog(config: &Config, catalog: &Catalog) -> Backlog {
    let b = catalog.central_backlog().unwrap_or_default();
    let age = central::backlog_age(&b, Utc::now());
    let alarm_s = config.central.as_ref().map_or(0, |c| c.backlog_alarm_s);
    let state = |n: &str| catalog.central_state(n).ok().flatten().filter(|s| !s.is_empty());
    let evicted = catalog.evicted_totals().unwrap_or_default();
    Backlog {
        version: 1,
        endpoint: config.central.as_ref().map(|c| c.endpoint.clone()),
        bucket: config.central.as_ref().map(|c| c.bucket.clone()),
        pending: b.pending,
        pending_bytes: b.pending_bytes,
        oldest_recorded: b.oldest_recorded,
        oldest_age_s: age,
        oldest_footage: b.oldest_footage,
        confirmed: b.confirmed,
        confirmed_bytes: b.confirmed_bytes,
        failing: b.failing,
        last_error: b.last_error,
        blocked: b.blocked,
        last_pass: state("last_pass"),
        last_pass_error: state("last_pass_error"),
        witness: state("witness"),
        backlog_alarm: age.is_some_and(|a| a > alarm_s as i64),
        backlog_alarm_after_s: alarm_s,
        evicted: evicted.0,
        evicted_bytes: evicted.1,
        evict_after_days: config.central.as_ref().and_then(|c| c.evict.after_days),
        evict_at_disk_percent: config.central.as_ref().and_then(|c| c.evict.at_disk_percent),
    }
}

fn configured(config: &Config) -> Result<&Central, ApiError> {
    config.central.as_ref().ok_or_else(|| {
        ApiError::invalid(
            "no [central] in the configuration: this station keeps everything on its own disk / 未配置中心存储",
        )
    })
}

fn store(c: &Central) -> Result<central::s3::Store, ApiError> {
    central::open_store(c).map_err(|e| ApiError::failed(format!("{e} / 无法连接中心存储")))
}

/// The central copy's numbers.
///
/// # Errors
/// [`super::ErrorKind::Invalid`] without `[central]`; [`super::ErrorKind::Failed`] when the
/// catalogue cannot be read.
pub fn status(ctx: &Ctx<'_>, _a: &StatusArgs) -> Result<Backlog, ApiError> {
    configured(ctx.config)?;
    let catalog = Catalog::open_read_only(&ctx.config.catalog_path(), ctx.config.timezone)?;
    Ok(backlog(ctx.config, &catalog))
}

/// One replication pass now, with the store checked as witness first; the backlog alarm is
/// raised or cleared after it.
///
/// # Errors
/// [`super::ErrorKind::Failed`] when the pass could not run (its message names the kind of
/// failure, e.g. `unreachable`), with the witness's disagreement when there is one.
pub fn run(ctx: &Ctx<'_>, _a: &RunArgs) -> Result<PassReply, ApiError> {
    let config = ctx.config;
    let c = configured(config)?;
    let store = store(c)?;
    let catalog = Mutex::new(ctx.catalog()?);
    let stop = AtomicBool::new(false);
    let witness = Witness::default();
    witness.check_on_start(&store, config, &catalog);
    let r = Replicator { config, central: c, store, catalog: &catalog, stop: &stop, witness: &witness };
    let result = r.pass();
    central::backlog_alarm(config, &catalog);
    let witness_alarm = witness.disagreement().map(|d| d.to_string());
    match result {
        Ok(p) => Ok(PassReply {
            queued: p.queued,
            confirmed: p.confirmed,
            bytes_sent: p.bytes_sent,
            lock_changes: p.lock_changes,
            failed: p.failed,
            blocked: p.blocked,
            stopped_by: p.stopped_by,
            witness: witness_alarm,
        }),
        Err(e) => Err(ApiError::failed(format!(
            "replication pass ({}): {e}{} / 中心存储复制未完成",
            e.kind(),
            witness_alarm.map(|w| format!("; ALARM 告警: {w}")).unwrap_or_default()
        ))),
    }
}

/// Evicts the local copies chosen by `central.evict_after_days` and
/// `central.evict_at_disk_percent`, each proved again first (INV-20).
///
/// # Errors
/// [`super::ErrorKind::Invalid`] when eviction is off; [`super::ErrorKind::Failed`] when the
/// custody log does not verify or the store or catalogue fails.
pub fn evict(ctx: &Ctx<'_>, a: &Evict) -> Result<Evicted, ApiError> {
    let config = ctx.config;
    let c = configured(config)?;
    if !c.evict.enabled() {
        return Err(ApiError::invalid(
            "eviction is off: set central.evict_after_days or central.evict_at_disk_percent to evict local copies \
             / 未开启本地副本清除，请设置 central.evict_after_days 或 central.evict_at_disk_percent",
        ));
    }
    let store = store(c)?;
    let catalog = Mutex::new(ctx.catalog()?);
    let r = central::offload::run(config, &store, &catalog, a.dry_run, Utc::now())
        .map_err(|e| ApiError::failed(e.to_string()))?;
    Ok(Evicted {
        dry_run: a.dry_run,
        evicted: r.evicted,
        evicted_bytes: r.evicted_bytes,
        recovered: r.recovered,
        disk: r.disk.map(|(total, used)| Disk { total, used }),
        chosen: r
            .chosen
            .into_iter()
            .map(|(file, path, size, rule)| Chosen { file, path, size, rule: rule.to_string() })
            .collect(),
        refused: r.refused.into_iter().map(|(path, why)| Kept { path, why }).collect(),
    })
}

/// Brings evicted footage back from its logged object version, checked against the custody
/// log's hash.
///
/// # Errors
/// [`super::ErrorKind::Failed`] when the log does not verify, the name is unknown, the store
/// fails or the bytes differ from the log (an alarm).
pub fn recall(ctx: &Ctx<'_>, a: &Recall) -> Result<Recalled, ApiError> {
    let config = ctx.config;
    let c = configured(config)?;
    let store = store(c)?;
    let catalog = Mutex::new(ctx.catalog()?);
    let failed = |e: central::offload::OffloadError| ApiError::failed(e.to_string());
    central::offload::recover(config, &catalog).map_err(failed)?;
    let files = {
        let cat = catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        central::offload::resolve(config, &cat, &a.what).map_err(failed)?
    };
    let recalled = central::offload::recall(config, &store, &catalog, &files).map_err(failed)?;
    Ok(Recalled { recalled })
}
