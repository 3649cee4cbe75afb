//! What a custodian should look at beyond the open alarms, as the catalogue and the custody log
//! hold it: recorders that docked without being in service in the registry, and dockings whose
//! footage needs a person's review (R1, R5).
//!
//! Owns: the `docking_reviewed` event, which a person records once they have reviewed such a
//! docking; it reads the `dockings`, `registry` and `custody_log` tables and has no table of
//! its own. A docking needs review when its `ingest_finished` event says so and no
//! `docking_reviewed` event names it (the custody log, not the catalogue's outcome column, is
//! the record).
//! Must never: record a review of a docking that did not ask for one, or twice.

use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};

use super::store::{append, begin, sql, Catalog, CatalogError};
use crate::custody::event::Action;

/// A recorder that docked while the registry did not hold it in service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotInService {
    /// Its serial.
    pub serial: String,
    /// Its latest docking's start, RFC 3339.
    pub last_docked: String,
    /// How many times it docked since the cut-off.
    pub dockings: u64,
    /// When the registry retired it, if it did (otherwise it is not registered at all).
    pub retired: Option<String>,
}

/// A docking whose footage needs a person's review, from its `ingest_finished` event.
#[derive(Debug, Clone, PartialEq)]
pub struct NeedsReview {
    /// The docking.
    pub docking_id: i64,
    /// The recorder, when identified.
    pub serial: Option<String>,
    /// When the docking finished, RFC 3339 (the event's time).
    pub finished: String,
    /// The event's details (`flagged` segments, `problems`, `outcome`, ...).
    pub details: Value,
}

/// What became of a docking's review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockingReview {
    /// Recorded, with the docking's recorder.
    Recorded(Option<String>),
    /// No such docking has finished.
    Unknown,
    /// Its footage asked for no review.
    NotAsked,
    /// Reviewed already, by this custody event.
    Already(i64),
}

impl Catalog {
    /// Recorders that docked at or after `since` (RFC 3339) and are not registered, or are
    /// retired, newest docking first; at most `limit`.
    ///
    /// # Errors
    /// When the catalogue cannot be read.
    pub fn not_in_service_since(&self, since: &str, limit: usize) -> Result<Vec<NotInService>, CatalogError> {
        let doing = "listing recorders not in service";
        let mut st = self
            .conn
            .prepare(
                "SELECT d.serial, MAX(d.started), COUNT(*), r.retired
                 FROM dockings d LEFT JOIN registry r ON r.serial = d.serial
                 WHERE d.serial IS NOT NULL AND d.started >= ?1 AND (r.serial IS NULL OR r.retired IS NOT NULL)
                 GROUP BY d.serial ORDER BY 2 DESC LIMIT ?2",
            )
            .map_err(sql(doing))?;
        let rows = st
            .query_map(params![since, i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok(NotInService {
                    serial: r.get(0)?,
                    last_docked: r.get(1)?,
                    dockings: r.get::<_, i64>(2)?.max(0).unsigned_abs(),
                    retired: r.get(3)?,
                })
            })
            .map_err(sql(doing))?
            .collect::<Result<_, _>>()
            .map_err(sql(doing));
        rows
    }

    /// Dockings finished at or after `since` (the custody log's `ts_utc` form) whose
    /// `ingest_finished` event says their footage needs review, newest first; at most `limit`.
    /// Found through the log's index by action from the first event at `since` on, so a long
    /// log costs no more than the dockings of the period.
    ///
    /// # Errors
    /// When the catalogue cannot be read.
    pub fn needing_review_since(&self, since: &str, limit: usize) -> Result<Vec<NeedsReview>, CatalogError> {
        let doing = "listing dockings that need review";
        let mut st = self
            .conn
            .prepare(
                "SELECT l.subject, l.ts_utc, l.details, d.serial FROM custody_log l
                 LEFT JOIN dockings d ON d.id = CAST(substr(l.subject, 9) AS INTEGER)
                 WHERE l.action = 'ingest_finished'
                   AND l.seq >= (SELECT seq FROM custody_log WHERE ts_utc >= ?1 ORDER BY ts_utc LIMIT 1)
                   AND json_valid(l.details) AND json_extract(l.details, '$.review') = 1
                   AND NOT EXISTS (SELECT 1 FROM custody_log r WHERE r.subject = l.subject AND r.action = 'docking_reviewed')
                 ORDER BY l.seq DESC LIMIT ?2",
            )
            .map_err(sql(doing))?;
        let rows = st
            .query_map(params![since, i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                let subject: String = r.get(0)?;
                let details: String = r.get(2)?;
                Ok(NeedsReview {
                    docking_id: subject.strip_prefix("docking:").and_then(|d| d.parse().ok()).unwrap_or(0),
                    finished: r.get(1)?,
                    details: serde_json::from_str(&details).unwrap_or(Value::Null),
                    serial: r.get(3)?,
                })
            })
            .map_err(sql(doing))?
            .collect::<Result<_, _>>()
            .map_err(sql(doing));
        rows
    }

    /// Records that the caller reviewed docking `docking`, whose footage needed review, with
    /// their note (`docking_reviewed`); it then leaves the attention list. Nothing is written
    /// unless it is [`DockingReview::Recorded`].
    ///
    /// # Errors
    /// [`CatalogError::Invalid`] without a note; when the catalogue fails.
    pub fn review_docking(&mut self, docking: i64, note: &str) -> Result<DockingReview, CatalogError> {
        let note = note.trim();
        if note.is_empty() {
            return Err(CatalogError::Invalid("say what was reviewed and found / 须写明复核情况".into()));
        }
        let subject = format!("docking:{docking}");
        let tx = begin(&mut self.conn)?;
        let finished: Option<(String, Option<String>)> = tx
            .query_row(
                "SELECT l.details, d.serial FROM custody_log l LEFT JOIN dockings d ON d.id = ?2
                 WHERE l.subject = ?1 AND l.action = 'ingest_finished' ORDER BY l.seq DESC LIMIT 1",
                params![subject, docking],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql("reading a docking's outcome"))?;
        let Some((details, serial)) = finished else {
            return Ok(DockingReview::Unknown);
        };
        let asked = serde_json::from_str::<Value>(&details).ok().is_some_and(|d| d["review"] == true);
        if !asked {
            return Ok(DockingReview::NotAsked);
        }
        let done: Option<i64> = tx
            .query_row(
                "SELECT seq FROM custody_log WHERE subject = ?1 AND action = 'docking_reviewed' LIMIT 1",
                params![subject],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("reading a docking's review"))?;
        if let Some(seq) = done {
            return Ok(DockingReview::Already(seq));
        }
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::DockingReviewed,
            subject,
            json!({ "docking": docking, "serial": serial, "note": note }),
        )?;
        tx.commit().map_err(sql("commit a docking's review"))?;
        Ok(DockingReview::Recorded(serial))
    }
}
