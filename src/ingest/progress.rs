//! Live progress of one bay, written by the executor and read by the status view.
//!
//! The executor holds the only writer; the daemon's status task reads snapshots. A mutex
//! guards a small plain struct; nothing here blocks on I/O.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Contradictions the status view lists for a bay (the rest are counted).
pub const CONTRADICTIONS_SHOWN: usize = 10;

/// Where a bay stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Reading the identity.
    #[default]
    Identifying,
    /// Copying, hashing, reading back.
    Copying,
    /// Verifying the chain.
    Verifying,
    /// Removing verified footage from the recorder.
    Wiping,
    /// Finished: every footage file archived and verified.
    Done,
    /// Finished, but something needs a custodian (copy failures, entries left behind).
    Attention,
    /// Not a recorder: left alone.
    NotARecorder,
    /// Stopped before the end (undocked, daemon stopping, disk full): resumes on re-dock.
    Abandoned,
}

impl Phase {
    /// Stable name for `--json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Identifying => "identifying",
            Phase::Copying => "copying",
            Phase::Verifying => "verifying",
            Phase::Wiping => "wiping",
            Phase::Done => "done",
            Phase::Attention => "attention",
            Phase::NotARecorder => "not_a_recorder",
            Phase::Abandoned => "abandoned",
        }
    }
    /// Chinese label for the custodian's view.
    pub fn label_zh(self) -> &'static str {
        match self {
            Phase::Identifying => "识别中",
            Phase::Copying => "导入中",
            Phase::Verifying => "校验中",
            Phase::Wiping => "清除记录仪",
            Phase::Done => "完成",
            Phase::Attention => "需人工处理",
            Phase::NotARecorder => "非记录仪",
            Phase::Abandoned => "已中止",
        }
    }
    /// Whether the bay has stopped working.
    pub fn is_final(self) -> bool {
        matches!(self, Phase::Done | Phase::Attention | Phase::NotARecorder | Phase::Abandoned)
    }
}

/// A copy of a bay's state.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Folder name under the dock root.
    pub volume: String,
    /// Docking id in the catalogue.
    pub docking_id: Option<i64>,
    /// Device serial.
    pub serial: Option<String>,
    /// Officer badge and name.
    pub officer: Option<String>,
    /// Phase.
    pub phase: Phase,
    /// Footage files found.
    pub files_total: u64,
    /// Footage files archived (or found already archived).
    pub files_done: u64,
    /// Bytes to copy.
    pub bytes_total: u64,
    /// Bytes copied.
    pub bytes_done: u64,
    /// Seconds since the bay started.
    pub elapsed_s: f64,
    /// Segments by verdict.
    pub verdicts: BTreeMap<String, u64>,
    /// Unexplained gaps.
    pub unexplained_gaps: u64,
    /// Contradictions with the recorder's chain, identity or the dock's memory of it.
    pub contradictions: u64,
    /// The first [`CONTRADICTIONS_SHOWN`] of them, each one line in English and Chinese.
    pub contradiction_lines: Vec<String>,
    /// Battery percent.
    pub battery: Option<u8>,
    /// Free storage.
    pub storage_free: Option<u64>,
    /// Clock drift in seconds.
    pub drift_s: Option<i64>,
    /// The drift exceeds `ingest.clock_drift_threshold_s`: footage times are unreliable (R2).
    pub clock_unreliable: bool,
    /// What the registry says of the recorder (`registered`, `unregistered`, ...; R1).
    pub registry: String,
    /// The registry's problem with the recorder, when there is one.
    pub registry_note: Option<String>,
    /// One line for the custodian.
    pub message: String,
    /// Every footage file is durable and verified in the archive.
    pub safe_to_undock: bool,
    /// Whether the recorder was wiped.
    pub wiped: bool,
    /// The archive disk stopped answering during this docking: the copy made no progress for
    /// `ingest.stall_timeout_s` (INV-31). Once set it stays: the recorder is not wiped.
    pub stalled: bool,
}

/// A bay's progress, shared between the executor (writer) and the status view (reader).
#[derive(Debug)]
pub struct Progress {
    state: Mutex<Snapshot>,
    started: Instant,
    /// When the executor last changed the state: the copy updates it with every chunk.
    changed: Mutex<Instant>,
}

impl Progress {
    /// A new bay for `volume`.
    pub fn new(volume: &str) -> Progress {
        Progress {
            state: Mutex::new(Snapshot { volume: volume.to_string(), ..Snapshot::default() }),
            started: Instant::now(),
            changed: Mutex::new(Instant::now()),
        }
    }

    /// Changes the state; the change counts as progress.
    pub fn update(&self, f: impl FnOnce(&mut Snapshot)) {
        let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut s);
        drop(s);
        *self.changed.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
    }

    /// How long since the executor last changed the state.
    pub fn idle_for(&self) -> Duration {
        self.changed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).elapsed()
    }

    /// Marks the bay as stalled on the archive disk (INV-31), with the words for the status
    /// view, without counting it as progress. Returns whether it was not marked before.
    pub fn mark_stalled(&self, message: &str) -> bool {
        let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let first = !s.stalled;
        s.stalled = true;
        s.message = message.to_string();
        s.safe_to_undock = false;
        first
    }

    /// A copy of the state.
    pub fn snapshot(&self) -> Snapshot {
        let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        s.elapsed_s = self.started.elapsed().as_secs_f64();
        s
    }
}
