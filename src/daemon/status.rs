//! The status view's wire format (`status.json` in the state folder and `evidock status
//! --json`), version 1. The daemon replaces the file atomically as bays progress; readers
//! never see a half-written file.
//!
//! Shape: `{"version":1, "updated": RFC 3339, "daemon": {...}, "bays": [...]}`; each bay:
//! volume, docking_id, serial, officer, phase, phase_zh, files_total, files_done,
//! bytes_total, bytes_done, rate_bytes_per_s, eta_s, verdicts {verdict: count},
//! unexplained_gaps, contradictions (count), contradiction_lines (the first ten, each in English
//! and Chinese), battery, storage_free, drift_s, clock_unreliable, registry, message, safe_to_undock, wiped,
//! stalled (the archive disk stopped answering during the copy, INV-31).

use serde_json::{json, Value};

use crate::ingest::Snapshot;

/// Version of the shape.
pub const VERSION: u64 = 1;

/// What the daemon says about itself.
#[derive(Debug, Clone, Default)]
pub struct DaemonInfo {
    /// Process id.
    pub pid: u32,
    /// Start time, RFC 3339.
    pub started: String,
    /// Whether it is stopping.
    pub stopping: bool,
    /// USB state in words.
    pub usb: String,
    /// The dock root.
    pub dock_root: String,
    /// The archive root.
    pub archive_root: String,
}

/// A bay's copy rate so far, bytes per second.
pub fn rate(s: &Snapshot) -> f64 {
    if s.elapsed_s > 0.0 {
        s.bytes_done as f64 / s.elapsed_s
    } else {
        0.0
    }
}

/// A bay's time left at its rate so far, seconds; `None` when done or not yet moving.
pub fn eta_s(s: &Snapshot) -> Option<u64> {
    let rate = rate(s);
    (rate > 0.0 && s.bytes_total > s.bytes_done && !s.phase.is_final())
        .then(|| ((s.bytes_total - s.bytes_done) as f64 / rate).ceil() as u64)
}

/// One bay as JSON.
pub fn bay_json(s: &Snapshot) -> Value {
    let rate = rate(s);
    let eta = eta_s(s);
    json!({
        "volume": s.volume,
        "docking_id": s.docking_id,
        "serial": s.serial,
        "officer": s.officer,
        "phase": s.phase.as_str(),
        "phase_zh": s.phase.label_zh(),
        "files_total": s.files_total,
        "files_done": s.files_done,
        "bytes_total": s.bytes_total,
        "bytes_done": s.bytes_done,
        "rate_bytes_per_s": rate.round() as u64,
        "eta_s": eta,
        "verdicts": s.verdicts,
        "unexplained_gaps": s.unexplained_gaps,
        "contradictions": s.contradictions,
        "contradiction_lines": s.contradiction_lines,
        "battery": s.battery,
        "storage_free": s.storage_free,
        "drift_s": s.drift_s,
        "clock_unreliable": s.clock_unreliable,
        "registry": s.registry,
        "message": s.message,
        "safe_to_undock": s.safe_to_undock,
        "wiped": s.wiped,
        "stalled": s.stalled,
    })
}

/// The whole status document.
pub fn document(daemon: &DaemonInfo, bays: &[Snapshot], updated: &str) -> Value {
    json!({
        "version": VERSION,
        "updated": updated,
        "daemon": {
            "pid": daemon.pid,
            "started": daemon.started,
            "stopping": daemon.stopping,
            "usb": daemon.usb,
            "dock_root": daemon.dock_root,
            "archive_root": daemon.archive_root,
        },
        "bays": bays.iter().map(bay_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Phase;

    #[test]
    fn shape_is_stable() {
        let s = Snapshot {
            volume: "A100001".into(),
            phase: Phase::Done,
            files_total: 3,
            files_done: 3,
            safe_to_undock: true,
            officer: Some("012345 张三".into()),
            ..Snapshot::default()
        };
        let doc = document(&DaemonInfo { pid: 7, ..DaemonInfo::default() }, &[s], "2024-05-01T10:00:00Z");
        assert_eq!(doc["version"], 1);
        let bay = &doc["bays"][0];
        assert_eq!(bay["phase"], "done");
        assert_eq!(bay["phase_zh"], "完成");
        assert_eq!(bay["officer"], "012345 张三");
        assert_eq!(bay["safe_to_undock"], true);
        assert_eq!(bay["eta_s"], Value::Null);
    }
}
