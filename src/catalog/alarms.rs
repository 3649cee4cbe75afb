//! Alarms in the catalogue: what the station found wrong and has not seen resolved (an archived
//! file that no longer matches the custody log, a catalogue that contradicts the log, a
//! checkpoint the station refused to sign). `evidock status` shows every open alarm.
//!
//! Owns: the `alarms` table. An alarm is raised together with its custody event in one
//! transaction (INV-4), once: raised again while open, it is counted, not logged again. It
//! clears when the check that raised it passes (a scrub re-reads the file, a checkpoint is
//! signed, a purge finds the catalogue and the log agree).
//! Must never: hide an alarm's custody event: the log is the record, this table only the view.

use chrono::Utc;
use rusqlite::{params, OptionalExtension};
use serde_json::Value;

use crate::custody::event::Action;
use crate::ledger::Fixity;

use super::store::{append, begin, sql, Catalog, CatalogError};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS alarms (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    message       TEXT NOT NULL,
    message_zh    TEXT NOT NULL,
    raised        TEXT NOT NULL,
    raised_seq    INTEGER,
    last_seen     TEXT NOT NULL,
    times         INTEGER NOT NULL DEFAULT 1,
    cleared       TEXT,
    cleared_why   TEXT
);
CREATE INDEX IF NOT EXISTS alarms_open ON alarms (kind, subject) WHERE cleared IS NULL;
"#;

/// What an alarm is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmKind {
    /// An archived file's bytes differ from the custody log's hash, or it is missing.
    Fixity,
    /// The catalogue contradicts the custody log.
    Catalogue,
    /// The station refused to sign a checkpoint.
    Checkpoint,
    /// The custody log itself does not verify.
    Log,
    /// The archive disk stopped answering: a bay's copy made no progress (INV-31).
    ArchiveDisk,
}

impl AlarmKind {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmKind::Fixity => "fixity",
            AlarmKind::Catalogue => "catalogue",
            AlarmKind::Checkpoint => "checkpoint",
            AlarmKind::Log => "log",
            AlarmKind::ArchiveDisk => "archive_disk",
        }
    }
}

/// An alarm to raise: its kind, subject, the words for people, and the custody event that
/// records it.
#[derive(Debug, Clone)]
pub struct NewAlarm<'a> {
    /// What it is about.
    pub kind: AlarmKind,
    /// The thing it names, as a custody subject (`file:<path>`, `recording:<id>`, `log`).
    pub subject: &'a str,
    /// What is wrong, in English.
    pub message: &'a str,
    /// What is wrong, in Chinese.
    pub message_zh: &'a str,
    /// The custody event's action.
    pub action: Action,
    /// The custody event's details.
    pub details: Value,
}

/// An open alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmRow {
    /// Row id.
    pub id: i64,
    /// Kind (stable name).
    pub kind: String,
    /// Subject.
    pub subject: String,
    /// English.
    pub message: String,
    /// Chinese.
    pub message_zh: String,
    /// When first raised (UTC, RFC 3339).
    pub raised: String,
    /// The custody event that recorded it.
    pub raised_seq: Option<i64>,
    /// When last seen.
    pub last_seen: String,
    /// How many times it was found.
    pub times: i64,
}

impl Catalog {
    /// Raises the alarm for an archived name that a fixity check (`by`: export, burn, scrub)
    /// found wrong: its bytes differ from the custody log or it is missing (`fixity_failed`),
    /// or its catalogue row contradicts the log (`catalogue_mismatch`). Returns what to tell
    /// people (English, Chinese).
    ///
    /// # Errors
    /// When the write fails.
    pub fn fixity_alarm(&mut self, path: &str, found: &Fixity, by: &str) -> Result<(String, String), CatalogError> {
        let (text, text_zh) = (found.text(path), found.text_zh(path));
        let subject = format!("file:{path}");
        let mut details = serde_json::json!({ "path": path, "by": by, "text": text });
        match found {
            Fixity::BytesDiffer { logged, read, size } => {
                details["expected"] = logged.clone().into();
                details["found"] = read.clone().into();
                details["size"] = (*size).into();
            }
            Fixity::CatalogueDiffers { logged, catalogue } => {
                details["expected"] = logged.clone().into();
                details["catalogue"] = catalogue.clone().into();
            }
            Fixity::Unreadable { error } => details["error"] = error.clone().into(),
            Fixity::Intact | Fixity::Unknown | Fixity::Missing | Fixity::NotCatalogued => {}
        }
        let (kind, action) = if found.is_catalogue() {
            (AlarmKind::Catalogue, Action::CatalogueMismatch)
        } else {
            (AlarmKind::Fixity, Action::FixityFailed)
        };
        tracing::error!(by, "ALARM: {text}");
        self.raise_alarm(&NewAlarm { kind, subject: &subject, message: &text, message_zh: &text_zh, action, details })?;
        Ok((text, text_zh))
    }

    /// Raises an alarm with its custody event, in one transaction. An open alarm of the same
    /// kind and subject is counted again instead, with the newest words, and no event: one
    /// event per alarm. Returns the event's seq when one was written.
    ///
    /// # Errors
    /// When the write fails.
    pub fn raise_alarm(&mut self, a: &NewAlarm<'_>) -> Result<Option<u64>, CatalogError> {
        let now = Utc::now().to_rfc3339();
        let tx = begin(&mut self.conn)?;
        let open: Option<(i64, String)> = tx
            .query_row(
                "SELECT id, message FROM alarms WHERE kind = ?1 AND subject = ?2 AND cleared IS NULL ORDER BY id DESC LIMIT 1",
                params![a.kind.as_str(), a.subject],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql("reading alarms"))?;
        let seq = match open {
            Some((id, _)) => {
                tx.execute(
                    "UPDATE alarms SET message = ?2, message_zh = ?3, last_seen = ?4, times = times + 1 WHERE id = ?1",
                    params![id, a.message, a.message_zh, now],
                )
                .map_err(sql("counting an alarm"))?;
                None
            }
            None => {
                let seq = append(&self.actor, self.tz, &tx, a.action, a.subject.to_string(), a.details.clone())?;
                tx.execute(
                    "INSERT INTO alarms (kind, subject, message, message_zh, raised, raised_seq, last_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5)",
                    params![a.kind.as_str(), a.subject, a.message, a.message_zh, now, seq as i64],
                )
                .map_err(sql("raising an alarm"))?;
                Some(seq)
            }
        };
        tx.commit().map_err(sql("commit alarm"))?;
        Ok(seq)
    }

    /// Clears the open alarms of `kind` on `subject` (every subject when `None`), saying why.
    /// Returns how many were cleared.
    ///
    /// # Errors
    /// When the write fails.
    pub fn clear_alarms(&mut self, kind: AlarmKind, subject: Option<&str>, why: &str) -> Result<usize, CatalogError> {
        let now = Utc::now().to_rfc3339();
        self.conn
            .execute(
                "UPDATE alarms SET cleared = ?3, cleared_why = ?4
                 WHERE kind = ?1 AND (?2 IS NULL OR subject = ?2) AND cleared IS NULL",
                params![kind.as_str(), subject, now, why],
            )
            .map_err(sql("clearing alarms"))
    }

    /// The open alarms, newest first, at most `limit`, and how many are open in all. A
    /// catalogue from before alarms has none.
    ///
    /// # Errors
    /// When the query fails.
    pub fn open_alarms(&self, limit: usize) -> Result<(Vec<AlarmRow>, u64), CatalogError> {
        let exists: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'alarms'", [], |r| r.get(0))
            .map_err(sql("looking for alarms"))?;
        if exists == 0 {
            return Ok((Vec::new(), 0));
        }
        let total: i64 = self
            .conn
            .query_row("SELECT count(*) FROM alarms WHERE cleared IS NULL", [], |r| r.get(0))
            .map_err(sql("counting alarms"))?;
        let rows = self
            .conn
            .prepare(
                "SELECT id, kind, subject, message, message_zh, raised, raised_seq, last_seen, times
                 FROM alarms WHERE cleared IS NULL ORDER BY id DESC LIMIT ?1",
            )
            .map_err(sql("reading alarms"))?
            .query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok(AlarmRow {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    subject: r.get(2)?,
                    message: r.get(3)?,
                    message_zh: r.get(4)?,
                    raised: r.get(5)?,
                    raised_seq: r.get(6)?,
                    last_seen: r.get(7)?,
                    times: r.get(8)?,
                })
            })
            .map_err(sql("reading alarms"))?
            .collect::<Result<_, _>>()
            .map_err(sql("reading alarms"))?;
        Ok((rows, u64::try_from(total).unwrap_or(0)))
    }
}
