//! The ledger's one edge: reads the custody log from the station's database in one pass that
//! also verifies it (the hash chain, the stored checkpoints and those of the side file, with
//! the station's verifier key), and folds it into a [`Ledger`].
//!
//! Must never: write, or hand out facts without the verdict on the log they came from.

use std::path::Path;

use rusqlite::Connection;

use super::Ledger;
use crate::custody::files::{load_verifier, read_notes, KeyPaths};
use crate::custody::store::{audit_with, AuditReport};
use crate::custody::CustodyError;

/// A ledger and the verdict on the log it was folded from.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The facts.
    pub ledger: Ledger,
    /// The log's verification.
    pub report: AuditReport,
}

impl Verified {
    /// Whether the log verified: the facts may be trusted.
    pub fn intact(&self) -> bool {
        self.report.intact()
    }

    /// Why the log may not be trusted (English, Chinese), or `None` when it verified.
    pub fn problem(&self) -> Option<(String, String)> {
        if self.intact() {
            return None;
        }
        if let Some((seq, kind, reason, reason_zh)) = self.report.first_bad_event() {
            return Some((
                format!("the custody log does not verify: event {seq} {kind}: {reason}"),
                format!("保管日志未通过校验：第 {seq} 条事件：{reason_zh}"),
            ));
        }
        let bad = self.report.bad_checkpoints().next();
        let (en, zh) = bad
            .and_then(|c| c.problem.as_ref().map(|p| (format!("{}: {}", c.source, p.reason()), p.reason_zh())))
            .unwrap_or_default();
        Some((
            format!("the custody log does not verify against its checkpoints: {en}"),
            format!("保管日志与检查点不符：{zh}"),
        ))
    }
}

/// Reads and verifies the custody log of the database `conn`, with the verifier key and the
/// side file of the state folder `state_dir`.
///
/// # Errors
/// When the log, the key or the side file cannot be read, or checkpoints exist but no verifier
/// key does.
pub fn load(conn: &Connection, state_dir: &Path) -> Result<Verified, CustodyError> {
    let keys = KeyPaths::in_dir(state_dir);
    let mut external = Vec::new();
    if keys.checkpoints.exists() {
        let name = keys.checkpoints.display().to_string();
        external.extend(read_notes(&keys.checkpoints)?.into_iter().map(|n| (name.clone(), n)));
    }
    let verifier = if keys.verifier.exists() { Some(load_verifier(&keys.verifier)?) } else { None };
    let mut ledger = Ledger::new();
    let report = audit_with(conn, verifier.as_ref(), &external, &mut |ev| ledger.push(ev))?;
    Ok(Verified { ledger, report })
}
