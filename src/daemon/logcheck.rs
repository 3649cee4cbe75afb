//! The daemon's full verification of the custody log, on its own read-only connection and
//! thread, with ingest going on (INV-23): the hash chain of every event and the tree they
//! make, recomputed from the events alone, checked against every stored checkpoint.
//!
//! Signing a checkpoint reads only what is new and the stored tree nodes; this check is what
//! names an old event edited after its nodes were stored. It runs at every start and then
//! once a day. A finding raises the alarm in the journal and holds every further checkpoint
//! until the log verifies again.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::custody::checkpoint::NoteVerifier;
use crate::custody::store;

/// How often the full verification runs after the one at start.
pub const INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// What the last full verification found: `None` while the log verifies (or before the
/// first run ends).
pub type Finding = Arc<Mutex<Option<(String, String)>>>;

/// The point an intact run verified: the last event read and its stored hash.
pub type Point = (u64, [u8; 32]);

/// What one run of [`verify_all`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The chain and the tree verify up to this point (`None`: the log is empty).
    Intact(Option<Point>),
    /// The event or checkpoint it names, in English and Chinese.
    Finding(String, String),
}

/// One verification of the whole custody log at `db`.
///
/// # Errors
/// When the database cannot be read at all.
pub fn verify_all(db: &std::path::Path, verifier: &NoteVerifier) -> Result<Outcome, String> {
    let conn = store::open_read_only(db).map_err(|e| e.to_string())?;
    let report = store::audit(&conn, verifier, &[]).map_err(|e| e.to_string())?;
    if let Some((seq, kind, reason, reason_zh)) = report.first_bad_event() {
        return Ok(Outcome::Finding(
            format!("the full verification of the custody log finds event {seq} {kind}: {reason}"),
            format!("保管日志全面校验发现第 {seq} 条事件异常（{kind}）：{reason_zh}"),
        ));
    }
    // What the log's events show against the station's own checkpoints. A note that does not
    // open with the key (a replaced key, a foreign side file) is the signing's to refuse, with
    // its own kind (INV-12).
    let shown = |c: &&store::CheckpointCheck| {
        matches!(
            c.problem,
            Some(
                store::CheckpointProblem::Rewritten { .. }
                    | store::CheckpointProblem::Truncated { .. }
                    | store::CheckpointProblem::Unreadable { .. }
            )
        )
    };
    if let Some(c) = report.bad_checkpoints().find(shown) {
        let p = c.problem.as_ref().map(|p| (p.reason(), p.reason_zh())).unwrap_or_default();
        return Ok(Outcome::Finding(
            format!("the full verification of the custody log: checkpoint {}: {}", c.source, p.0),
            format!("保管日志全面校验：检查点 {}：{}", c.source, p.1),
        ));
    }
    Ok(Outcome::Intact(report.chain.head.filter(|_| report.chain.events > 0).map(|h| (report.chain.events, h))))
}

/// The background verification: started at daemon start, then again at [`INTERVAL`].
pub struct LogCheck {
    db: PathBuf,
    verifier: NoteVerifier,
    finding: Finding,
    point: Arc<Mutex<Option<Point>>>,
    running: Option<std::thread::JoinHandle<()>>,
    last_start: Option<Instant>,
}

impl LogCheck {
    /// A check of the database at `db` with the station's key; nothing runs yet.
    pub fn new(db: PathBuf, verifier: NoteVerifier) -> LogCheck {
        LogCheck {
            db,
            verifier,
            finding: Arc::new(Mutex::new(None)),
            point: Arc::new(Mutex::new(None)),
            running: None,
            last_start: None,
        }
    }

    /// What the last completed run found.
    pub fn finding(&self) -> Option<(String, String)> {
        self.finding.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The point the last intact run verified, once: the daemon records it as
    /// `log_point_verified` (INV-38).
    pub fn take_point(&self) -> Option<Point> {
        self.point.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    /// Starts a run when none is running and none started within [`INTERVAL`].
    pub fn poll(&mut self) {
        if self.running.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        if self.last_start.is_some_and(|t| t.elapsed() < INTERVAL) {
            return;
        }
        self.last_start = Some(Instant::now());
        let (db, verifier, finding, point) =
            (self.db.clone(), self.verifier.clone(), self.finding.clone(), self.point.clone());
        self.running = std::thread::Builder::new()
            .name("custody-verify".into())
            .spawn(move || {
                let started = Instant::now();
                let result = verify_all(&db, &verifier);
                let secs = started.elapsed().as_secs_f64();
                let mut slot = finding.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                match result {
                    Ok(Outcome::Intact(verified)) => {
                        tracing::info!(secs, up_to = verified.map(|p| p.0), "custody log full verification: intact");
                        *slot = None;
                        *point.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = verified;
                    }
                    Ok(Outcome::Finding(reason, reason_zh)) => {
                        tracing::error!(secs, "ALARM: {reason} / {reason_zh}; no checkpoint is signed until it verifies; run `evidock log verify`");
                        *slot = Some((reason, reason_zh));
                    }
                    Err(e) => tracing::error!("ALARM: the custody log full verification could not run: {e}"),
                }
            })
            .ok();
    }
}
