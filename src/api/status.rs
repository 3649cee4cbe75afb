//! `status`: the custodian's view of the station as one document: per bay the recorder,
//! officer, progress, verdicts and "safe to undock", the open alarms, the archive scrub, a
//! running burn job, the central copy and the recent dockings.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiError, Ctx};
use crate::catalog::Catalog;
use crate::config::Config;

/// `status` takes no arguments (`--watch` and `--json` are the command line's own).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusArgs {}

/// The status document, version 1: the daemon's `status.json` (shape in
/// [`crate::daemon::status`]) with `running`, `timezone`, `recent_dockings`, `alarms`,
/// `alarms_open`, `scrub`, `burn` and `central` added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StatusDoc(pub Value);

/// How many open alarms the status shows one by one.
const ALARMS_SHOWN: usize = 20;

/// The status document.
///
/// # Errors
/// [`super::ErrorKind::Failed`] when the daemon's status file cannot be read or is damaged.
pub fn status(ctx: &Ctx<'_>, _args: &StatusArgs) -> Result<StatusDoc, ApiError> {
    load(ctx.config).map(StatusDoc)
}

fn daemon_running(config: &Config) -> bool {
    match std::fs::OpenOptions::new().read(true).write(true).open(config.lock_path()) {
        Ok(f) => nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockSharedNonblock).is_err(),
        Err(_) => false,
    }
}

fn load(config: &Config) -> Result<Value, ApiError> {
    let path = config.status_path();
    let mut doc: Value = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::failed(format!("status file {} is not valid JSON: {e} / 状态文件已损坏", path.display()))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({ "version": 1, "bays": [] }),
        Err(e) => {
            return Err(ApiError::failed(format!("cannot read status file {}: {e} / 无法读取状态文件", path.display())))
        }
    };
    doc["running"] = Value::Bool(daemon_running(config));
    doc["timezone"] = Value::from(config.timezone.name());
    let recent = match Catalog::open_read_only(&config.catalog_path(), config.timezone) {
        Ok(cat) => cat
            .recent_dockings(10)?
            .into_iter()
            .map(|d| {
                serde_json::json!({
                    "docking_id": d.id, "serial": d.serial, "volume": d.volume, "started": d.started,
                    "finished": d.finished, "outcome": d.outcome, "safe_to_undock": d.safe_to_undock,
                    "contradictions": d.contradictions,
                    "verdicts": d.verdicts.into_iter().map(|(k, n)| (k, Value::from(n))).collect::<serde_json::Map<String, Value>>(),
                })
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    doc["recent_dockings"] = Value::Array(recent);
    alarms_into(config, &mut doc);
    // A burn job's progress (R8), while the process that writes it is alive.
    if let Some(burn) = std::fs::read(config.burn_progress_path())
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .filter(|b| {
            b["pid"]
                .as_i64()
                .is_some_and(|pid| nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok())
        })
    {
        doc["burn"] = burn;
    }
    if config.central.is_some() {
        if let Ok(catalog) = Catalog::open_read_only(&config.catalog_path(), config.timezone) {
            doc["central"] = serde_json::to_value(super::replicate::backlog(config, &catalog)).unwrap_or(Value::Null);
        }
    }
    Ok(doc)
}

/// Adds the open alarms (`alarms`, newest first, and `alarms_open`, how many in all) from the
/// catalogue: files that no longer match the custody log, a catalogue that contradicts it,
/// checkpoints the station refused to sign.
fn alarms_into(config: &Config, doc: &mut Value) {
    let Ok(cat) = Catalog::open_read_only(&config.catalog_path(), config.timezone) else { return };
    if let Ok((in_progress, last)) = cat.scrub_state() {
        let pass = |p: &crate::catalog::ScrubPass| {
            serde_json::json!({
                "pass": p.id, "started": p.started, "updated": p.updated, "finished": p.finished,
                "files": p.files, "files_total": p.files_total, "bytes": p.bytes, "bytes_total": p.bytes_total,
                "differ": p.differ, "missing": p.missing, "catalogue": p.catalogue, "busy_ms": p.busy_ms, "runs": p.runs,
            })
        };
        doc["scrub"] = serde_json::json!({
            "in_progress": in_progress.as_ref().map(pass), "last_complete": last.as_ref().map(pass),
        });
    }
    let Ok((rows, total)) = cat.open_alarms(ALARMS_SHOWN) else { return };
    doc["alarms_open"] = Value::from(total);
    doc["alarms"] = Value::Array(
        rows.into_iter()
            .map(|a| {
                serde_json::json!({
                    "id": a.id, "kind": a.kind, "subject": a.subject, "message": a.message, "message_zh": a.message_zh,
                    "raised": a.raised, "custody_event": a.raised_seq, "last_seen": a.last_seen, "times": a.times,
                })
            })
            .collect(),
    );
}
