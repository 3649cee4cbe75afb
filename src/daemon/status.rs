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

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ingest::Snapshot;

/// Version of the shape.
pub const VERSION: u64 = 1;

/// What the daemon says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
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

/// One bay: the recorder docked in it and how far its ingest has come.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Bay {
    /// The volume (bay) name.
    pub volume: String,
    /// The docking's id in the catalogue, once it has one.
    pub docking_id: Option<i64>,
    /// The recorder's serial, once read.
    pub serial: Option<String>,
    /// The officer the recorder says carried it (badge and name).
    pub officer: Option<String>,
    /// The ingest phase's stable name (`copying`, `done`, ...).
    pub phase: String,
    /// The phase in Chinese.
    pub phase_zh: String,
    /// Files to copy.
    pub files_total: u64,
    /// Files copied and verified.
    pub files_done: u64,
    /// Bytes to copy.
    pub bytes_total: u64,
    /// Bytes copied.
    pub bytes_done: u64,
    /// Copy rate so far.
    pub rate_bytes_per_s: u64,
    /// Time left at that rate, seconds.
    pub eta_s: Option<u64>,
    /// Segments by verdict.
    pub verdicts: BTreeMap<String, u64>,
    /// Recording gaps with no explanation yet.
    pub unexplained_gaps: u64,
    /// Contradictions found (the recorder against itself or the archive).
    pub contradictions: u64,
    /// The first ten, each in English and Chinese.
    pub contradiction_lines: Vec<String>,
    /// Battery, percent.
    pub battery: Option<u8>,
    /// Free storage on the recorder, bytes.
    pub storage_free: Option<u64>,
    /// The recorder's clock drift, seconds.
    pub drift_s: Option<i64>,
    /// Whether the recorder's clock cannot be trusted.
    pub clock_unreliable: bool,
    /// The registry's verdict on the recorder.
    pub registry: String,
    /// What the bay says to the person at the dock.
    pub message: String,
    /// Whether the recorder may be taken out.
    pub safe_to_undock: bool,
    /// Whether the recorder was wiped.
    pub wiped: bool,
    /// The archive disk stopped answering during the copy (INV-31).
    pub stalled: bool,
}

/// The status document the daemon writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Document {
    /// [`VERSION`].
    pub version: u64,
    /// When the daemon wrote it, RFC 3339 (absent when no daemon has written one).
    pub updated: Option<String>,
    /// The daemon (absent when no daemon has written one).
    pub daemon: Option<DaemonInfo>,
    /// Every bay with a recorder in it.
    pub bays: Vec<Bay>,
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

impl From<&Snapshot> for Bay {
    fn from(s: &Snapshot) -> Bay {
        Bay {
            volume: s.volume.clone(),
            docking_id: s.docking_id,
            serial: s.serial.clone(),
            officer: s.officer.clone(),
            phase: s.phase.as_str().to_string(),
            phase_zh: s.phase.label_zh().to_string(),
            files_total: s.files_total,
            files_done: s.files_done,
            bytes_total: s.bytes_total,
            bytes_done: s.bytes_done,
            rate_bytes_per_s: rate(s).round() as u64,
            eta_s: eta_s(s),
            verdicts: s.verdicts.clone(),
            unexplained_gaps: s.unexplained_gaps,
            contradictions: s.contradictions,
            contradiction_lines: s.contradiction_lines.clone(),
            battery: s.battery,
            storage_free: s.storage_free,
            drift_s: s.drift_s,
            clock_unreliable: s.clock_unreliable,
            registry: s.registry.clone(),
            message: s.message.clone(),
            safe_to_undock: s.safe_to_undock,
            wiped: s.wiped,
            stalled: s.stalled,
        }
    }
}

/// The whole status document.
pub fn document(daemon: &DaemonInfo, bays: &[Snapshot], updated: &str) -> Document {
    Document {
        version: VERSION,
        updated: Some(updated.to_string()),
        daemon: Some(daemon.clone()),
        bays: bays.iter().map(Bay::from).collect(),
    }
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
        let doc = serde_json::to_value(document(
            &DaemonInfo { pid: 7, ..DaemonInfo::default() },
            &[s],
            "2024-05-01T10:00:00Z",
        ))
        .expect("json");
        assert_eq!(doc["version"], 1);
        let bay = &doc["bays"][0];
        assert_eq!(bay["phase"], "done");
        assert_eq!(bay["phase_zh"], "完成");
        assert_eq!(bay["officer"], "012345 张三");
        assert_eq!(bay["safe_to_undock"], true);
        assert_eq!(bay["eta_s"], serde_json::Value::Null);
        assert_eq!(doc["daemon"]["pid"], 7);
        let back: Document = serde_json::from_value(doc).expect("reads back");
        assert_eq!(back.bays[0].officer.as_deref(), Some("012345 张三"));
    }
}
