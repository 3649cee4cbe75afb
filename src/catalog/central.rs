//! The outbox of the central copy (`central_objects`, `central_parts`, `central_state`): every
//! file and custody-log piece that must reach the central store, its upload's progress, and
//! what the store confirmed (lock date, legal hold, version). Durable, so replication resumes
//! after a crash or a restart where it stopped; keyed by object key, so queueing twice is
//! queueing once. Decisions are [`crate::central::replicate`]'s; this file only keeps rows.

use chrono::Utc;
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};

use crate::custody::event::Action;

use super::store::{append, begin, sql, Catalog, CatalogError};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS central_objects (
    id            INTEGER PRIMARY KEY,
    key           TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL,
    local_path    TEXT NOT NULL,
    file_id       INTEGER,
    size          INTEGER NOT NULL,
    blake3        TEXT NOT NULL,
    recorded      TEXT NOT NULL,
    queued        TEXT NOT NULL,
    state         TEXT NOT NULL,
    upload_id     TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    etag          TEXT,
    version_id    TEXT,
    lock_until    TEXT,
    legal_hold    INTEGER NOT NULL DEFAULT 0,
    confirmed     TEXT
);
CREATE INDEX IF NOT EXISTS central_objects_by_state ON central_objects (state, recorded);
CREATE INDEX IF NOT EXISTS central_objects_by_file ON central_objects (file_id);
CREATE TABLE IF NOT EXISTS central_parts (
    object_id     INTEGER NOT NULL REFERENCES central_objects(id),
    upload_id     TEXT NOT NULL,
    part          INTEGER NOT NULL,
    etag          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    PRIMARY KEY (object_id, upload_id, part)
);
CREATE TABLE IF NOT EXISTS central_state (
    name          TEXT PRIMARY KEY,
    value         TEXT NOT NULL
);
"#;

/// One object the outbox holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Row id.
    pub id: i64,
    /// Object key.
    pub key: String,
    /// `footage`, `chain`, `seal`, `salvaged`, `log_events`, `checkpoint`, `verifier_key`.
    pub kind: String,
    /// Archive-relative path of a file; for a log piece, what to build (`events:FROM-TO`,
    /// `checkpoint:ID`, `verifier`).
    pub local_path: String,
    /// The archived file's row, when it is one.
    pub file_id: Option<i64>,
    /// Size in bytes.
    pub size: u64,
    /// BLAKE3, hex.
    pub blake3: String,
    /// When the file was archived (UTC, RFC 3339): the backlog's age counts from here.
    pub recorded: String,
    /// `queued`, `uploading`, `confirmed`, `conflict` (the store holds other bytes at its key),
    /// `local_mismatch` (the local file no longer has its catalogued hash).
    pub state: String,
    /// The multipart upload under way.
    pub upload_id: Option<String>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
    /// The lock date the store confirmed (UTC, RFC 3339).
    pub lock_until: Option<String>,
    /// The legal hold the store confirmed.
    pub legal_hold: bool,
}

/// A new object for the outbox.
#[derive(Debug, Clone)]
pub struct NewObject<'a> {
    /// Object key.
    pub key: &'a str,
    /// Kind (see [`OutboxItem::kind`]).
    pub kind: &'a str,
    /// See [`OutboxItem::local_path`].
    pub local_path: &'a str,
    /// The archived file's row.
    pub file_id: Option<i64>,
    /// Size.
    pub size: u64,
    /// BLAKE3, hex.
    pub blake3: &'a str,
    /// When archived.
    pub recorded: &'a str,
}

/// The outbox in numbers, for `status`, `replicate status` and the compliance report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Objects not yet confirmed off the station.
    pub pending: u64,
    /// Their bytes.
    pub pending_bytes: u64,
    /// The oldest pending object's archive time.
    pub oldest_recorded: Option<String>,
    /// The oldest pending footage file (archive path).
    pub oldest_footage: Option<String>,
    /// Confirmed objects.
    pub confirmed: u64,
    /// Their bytes.
    pub confirmed_bytes: u64,
    /// Pending objects whose last attempt failed.
    pub failing: u64,
    /// The latest failure message.
    pub last_error: Option<String>,
    /// Objects that can never be sent as they are (`conflict`, `local_mismatch`): an alarm.
    pub blocked: u64,
}

fn item(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxItem> {
    Ok(OutboxItem {
        id: r.get(0)?,
        key: r.get(1)?,
        kind: r.get(2)?,
        local_path: r.get(3)?,
        file_id: r.get(4)?,
        size: r.get::<_, i64>(5)? as u64,
        blake3: r.get(6)?,
        recorded: r.get(7)?,
        state: r.get(8)?,
        upload_id: r.get(9)?,
        attempts: r.get::<_, i64>(10)? as u32,
        last_error: r.get(11)?,
        lock_until: r.get(12)?,
        legal_hold: r.get(13)?,
    })
}

const ITEM: &str =
    "id, key, kind, local_path, file_id, size, blake3, recorded, state, upload_id, attempts, last_error, \
                    lock_until, legal_hold";

fn table_exists(conn: &rusqlite::Connection) -> Result<bool, CatalogError> {
    conn.query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'central_objects'", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n > 0)
    .map_err(sql("looking for the central outbox"))
}

impl Catalog {
    /// Queues an object unless its key is queued already. Returns whether it was new.
    ///
    /// # Errors
    /// When the write fails.
    pub fn central_enqueue(&mut self, o: &NewObject<'_>) -> Result<bool, CatalogError> {
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO central_objects (key, kind, local_path, file_id, size, blake3, recorded, queued, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'queued')",
                params![o.key, o.kind, o.local_path, o.file_id, o.size as i64, o.blake3, o.recorded, Utc::now().to_rfc3339()],
            )
            .map_err(sql("queueing an object for the central store"))?;
        Ok(n > 0)
    }

    /// Archived files (footage and chain files, at every path they have: the day's folder and
    /// each case folder) whose path is not queued yet: (file id, path, size, BLAKE3, archived
    /// at, source on the recorder).
    ///
    /// # Errors
    /// When the query fails.
    #[allow(clippy::type_complexity)]
    pub fn central_unqueued_files(&self) -> Result<Vec<(i64, String, u64, String, String, String)>, CatalogError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT f.id, p.path, f.size, f.blake3, f.stored, f.source FROM files f
                 JOIN (SELECT id AS file_id, archive_path AS path FROM files
                       UNION SELECT file_id, path FROM case_files) p ON p.file_id = f.id
                 WHERE f.purged IS NULL
                   AND NOT EXISTS (SELECT 1 FROM central_objects c WHERE c.file_id = f.id AND c.local_path = p.path)
                 ORDER BY f.stored, f.id",
            )
            .map_err(sql("listing files to replicate"))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64, r.get(3)?, r.get(4)?, r.get(5)?)))
            .map_err(sql("listing files to replicate"))?
            .collect::<Result<_, _>>()
            .map_err(sql("listing files to replicate"))?;
        Ok(rows)
    }

    /// Objects still to send, oldest first, at most `limit`.
    ///
    /// # Errors
    /// When the query fails.
    pub fn central_pending(&self, limit: usize) -> Result<Vec<OutboxItem>, CatalogError> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {ITEM} FROM central_objects WHERE state IN ('queued', 'uploading')
                 ORDER BY (kind IN ('checkpoint', 'log_events', 'verifier_key')) DESC, recorded, id LIMIT ?1"
            ))
            .map_err(sql("reading the central outbox"))?;
        let rows = st
            .query_map([limit as i64], item)
            .map_err(sql("reading the central outbox"))?
            .collect::<Result<_, _>>()
            .map_err(sql("reading the central outbox"))?;
        Ok(rows)
    }

    /// Confirmed objects of archived files (their locks follow the station's deadlines and holds).
    ///
    /// # Errors
    /// When the query fails.
    pub fn central_confirmed_files(&self) -> Result<Vec<OutboxItem>, CatalogError> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {ITEM} FROM central_objects WHERE state = 'confirmed' AND file_id IS NOT NULL ORDER BY id"
            ))
            .map_err(sql("reading confirmed objects"))?;
        let rows = st
            .query_map([], item)
            .map_err(sql("reading confirmed objects"))?
            .collect::<Result<_, _>>()
            .map_err(sql("reading confirmed objects"))?;
        Ok(rows)
    }

    /// The parts of upload `upload_id` the station recorded as sent: (number, ETag, size).
    ///
    /// # Errors
    /// When the query fails.
    pub fn central_parts(&self, id: i64, upload_id: &str) -> Result<Vec<(u32, String, u64)>, CatalogError> {
        let mut st = self
            .conn
            .prepare("SELECT part, etag, size FROM central_parts WHERE object_id = ?1 AND upload_id = ?2 ORDER BY part")
            .map_err(sql("reading sent parts"))?;
        let rows = st
            .query_map(params![id, upload_id], |r| {
                Ok((r.get::<_, i64>(0)? as u32, r.get(1)?, r.get::<_, i64>(2)? as u64))
            })
            .map_err(sql("reading sent parts"))?
            .collect::<Result<_, _>>()
            .map_err(sql("reading sent parts"))?;
        Ok(rows)
    }

    /// Records a multipart upload started (or, with `None`, forgotten: it finished or was
    /// abandoned).
    ///
    /// # Errors
    /// When the write fails.
    pub fn central_set_upload(&mut self, id: i64, upload_id: Option<&str>) -> Result<(), CatalogError> {
        let state = if upload_id.is_some() { "uploading" } else { "queued" };
        self.conn
            .execute(
                "UPDATE central_objects SET upload_id = ?2, state = CASE WHEN state IN ('queued', 'uploading') THEN ?3 ELSE state END
                 WHERE id = ?1",
                params![id, upload_id, state],
            )
            .map_err(sql("recording an upload"))?;
        if upload_id.is_none() {
            self.conn
                .execute("DELETE FROM central_parts WHERE object_id = ?1", [id])
                .map_err(sql("forgetting parts"))?;
        }
        Ok(())
    }

    /// Records one part the store acknowledged.
    ///
    /// # Errors
    /// When the write fails.
    pub fn central_record_part(
        &mut self,
        id: i64,
        upload_id: &str,
        part: u32,
        etag: &str,
        size: u64,
    ) -> Result<(), CatalogError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO central_parts (object_id, upload_id, part, etag, size) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, upload_id, part, etag, size as i64],
            )
            .map_err(sql("recording a sent part"))?;
        Ok(())
    }

    /// Records a failed attempt; `blocked` (`conflict`, `local_mismatch`) takes the object out
    /// of the queue with a custody event and an alarm.
    ///
    /// # Errors
    /// When the write fails.
    pub fn central_failed(&mut self, id: i64, error: &str, blocked: Option<&str>) -> Result<(), CatalogError> {
        let tx = begin(&mut self.conn)?;
        tx.execute(
            "UPDATE central_objects SET attempts = attempts + 1, last_error = ?2, state = COALESCE(?3, state) WHERE id = ?1",
            params![id, error, blocked],
        )
        .map_err(sql("recording a failed upload"))?;
        if let Some(state) = blocked {
            let key: String = tx
                .query_row("SELECT key FROM central_objects WHERE id = ?1", [id], |r| r.get(0))
                .map_err(sql("reading a key"))?;
            append(
                &self.actor,
                self.tz,
                &tx,
                Action::CentralAlarm,
                format!("central:{key}"),
                json!({ "what": state, "detail": error }),
            )?;
        }
        tx.commit().map_err(sql("commit failed upload"))
    }

    /// Records an object confirmed off the station, with its `central_confirmed` event.
    ///
    /// # Errors
    /// When the write fails.
    pub fn central_confirm(
        &mut self,
        id: i64,
        etag: &str,
        version_id: Option<&str>,
        lock_until: &str,
        legal_hold: bool,
        details: Value,
    ) -> Result<(), CatalogError> {
        let tx = begin(&mut self.conn)?;
        let key: String = tx
            .query_row("SELECT key FROM central_objects WHERE id = ?1", [id], |r| r.get(0))
            .map_err(sql("reading a key"))?;
        tx.execute(
            "UPDATE central_objects SET state = 'confirmed', upload_id = NULL, etag = ?2, version_id = ?3, lock_until = ?4,
                    legal_hold = ?5, confirmed = ?6, last_error = NULL WHERE id = ?1",
            params![id, etag, version_id, lock_until, legal_hold, Utc::now().to_rfc3339()],
        )
        .map_err(sql("recording a confirmed object"))?;
        tx.execute("DELETE FROM central_parts WHERE object_id = ?1", [id]).map_err(sql("forgetting parts"))?;
        append(&self.actor, self.tz, &tx, Action::CentralConfirmed, format!("central:{key}"), details)?;
        tx.commit().map_err(sql("commit confirmed object"))
    }

    /// Records a lock extended or a legal hold set or removed on the store, with its event.
    ///
    /// # Errors
    /// When the write fails.
    pub fn central_lock_changed(
        &mut self,
        id: i64,
        lock_until: &str,
        legal_hold: bool,
        details: Value,
    ) -> Result<(), CatalogError> {
        let tx = begin(&mut self.conn)?;
        let key: String = tx
            .query_row("SELECT key FROM central_objects WHERE id = ?1", [id], |r| r.get(0))
            .map_err(sql("reading a key"))?;
        tx.execute(
            "UPDATE central_objects SET lock_until = ?2, legal_hold = ?3 WHERE id = ?1",
            params![id, lock_until, legal_hold],
        )
        .map_err(sql("recording a lock change"))?;
        append(&self.actor, self.tz, &tx, Action::CentralLockChanged, format!("central:{key}"), details)?;
        tx.commit().map_err(sql("commit lock change"))
    }

    /// A value kept between passes (`name` → text).
    ///
    /// # Errors
    /// When the query fails.
    pub fn central_state(&self, name: &str) -> Result<Option<String>, CatalogError> {
        if !table_exists(&self.conn)? {
            return Ok(None);
        }
        self.conn
            .query_row("SELECT value FROM central_state WHERE name = ?1", [name], |r| r.get(0))
            .optional()
            .map_err(sql("reading replication state"))
    }

    /// Sets a value kept between passes.
    ///
    /// # Errors
    /// When the write fails.
    pub fn set_central_state(&mut self, name: &str, value: &str) -> Result<(), CatalogError> {
        self.conn
            .execute("INSERT OR REPLACE INTO central_state (name, value) VALUES (?1, ?2)", params![name, value])
            .map_err(sql("writing replication state"))?;
        Ok(())
    }

    /// The outbox in numbers (all zero on a catalogue that never replicated).
    ///
    /// # Errors
    /// When the query fails.
    pub fn central_backlog(&self) -> Result<Backlog, CatalogError> {
        let mut b = Backlog::default();
        if !table_exists(&self.conn)? {
            return Ok(b);
        }
        let doing = "reading the central backlog";
        let (pending, pending_bytes, oldest, failing): (i64, i64, Option<String>, i64) = self
            .conn
            .query_row(
                "SELECT count(*), COALESCE(sum(size), 0), min(recorded), COALESCE(sum(attempts > 0), 0)
                 FROM central_objects WHERE state IN ('queued', 'uploading')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(sql(doing))?;
        let (confirmed, confirmed_bytes): (i64, i64) = self
            .conn
            .query_row(
                "SELECT count(*), COALESCE(sum(size), 0) FROM central_objects WHERE state = 'confirmed'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sql(doing))?;
        b.blocked = self
            .conn
            .query_row("SELECT count(*) FROM central_objects WHERE state IN ('conflict', 'local_mismatch')", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(sql(doing))? as u64;
        b.oldest_footage = self
            .conn
            .query_row(
                "SELECT local_path FROM central_objects WHERE state IN ('queued', 'uploading') AND kind = 'footage'
                 ORDER BY recorded, id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql(doing))?;
        b.last_error = self
            .conn
            .query_row(
                "SELECT last_error FROM central_objects WHERE last_error IS NOT NULL AND state <> 'confirmed'
                 ORDER BY attempts DESC, id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql(doing))?;
        b.pending = pending as u64;
        b.pending_bytes = pending_bytes as u64;
        b.oldest_recorded = oldest;
        b.failing = failing as u64;
        b.confirmed = confirmed as u64;
        b.confirmed_bytes = confirmed_bytes as u64;
        Ok(b)
    }

    /// Records an alarm about the central copy (the store as witness, a lock that disagrees).
    ///
    /// # Errors
    /// When the write fails.
    pub fn central_alarm(&mut self, subject: &str, details: Value) -> Result<u64, CatalogError> {
        self.event(Action::CentralAlarm, subject, details)
    }
}
