//! Evicted local copies (`central_evictions`, INV-20): which archived files live only in the
//! central store now, at which object version, and which eviction was begun but not finished.
//! A row is written `evicting` before the first local name is removed and becomes `evicted`
//! in the same transaction as its `footage_evicted` event; a recall deletes it with its
//! `footage_recalled` event. Decisions are [`crate::central::offload`]'s.

use chrono::Utc;
use rusqlite::params;
use serde_json::Value;

use crate::custody::event::Action;

use super::store::{append, begin, sql, Catalog, CatalogError};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS central_evictions (
    file_id     INTEGER PRIMARY KEY REFERENCES files(id),
    key         TEXT NOT NULL,
    version_id  TEXT NOT NULL,
    size        INTEGER NOT NULL,
    blake3      TEXT NOT NULL,
    paths       TEXT NOT NULL,
    state       TEXT NOT NULL,
    since       TEXT NOT NULL,
    details     TEXT NOT NULL
);
"#;

/// One evicted (or being evicted) file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eviction {
    /// The catalogue's file id.
    pub file_id: i64,
    /// The object key.
    pub key: String,
    /// The object version recall reads.
    pub version_id: String,
    /// Size.
    pub size: u64,
    /// BLAKE3 (the logged one), hex.
    pub blake3: String,
    /// Archive-relative names removed (the first is the file's own path).
    pub paths: Vec<String>,
    /// `evicting` (begun, not finished) or `evicted`.
    pub state: String,
    /// The `footage_evicted` event's details, as prepared before the removal.
    pub details: Value,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Eviction> {
    let paths: String = r.get(5)?;
    let details: String = r.get(7)?;
    Ok(Eviction {
        file_id: r.get(0)?,
        key: r.get(1)?,
        version_id: r.get(2)?,
        size: r.get::<_, i64>(3)? as u64,
        blake3: r.get(4)?,
        paths: serde_json::from_str(&paths).unwrap_or_default(),
        state: r.get(6)?,
        details: serde_json::from_str(&details).unwrap_or_default(),
    })
}

impl Catalog {
    /// Every eviction row (both states), by file id.
    ///
    /// # Errors
    /// When the query fails.
    pub fn evictions(&self) -> Result<Vec<Eviction>, CatalogError> {
        if !self.has_table("central_evictions")? {
            return Ok(Vec::new());
        }
        let mut st = self
            .conn
            .prepare(
                "SELECT file_id, key, version_id, size, blake3, paths, state, details FROM central_evictions ORDER BY file_id",
            )
            .map_err(sql("reading evictions"))?;
        let rows = st
            .query_map([], row)
            .map_err(sql("reading evictions"))?
            .collect::<Result<_, _>>()
            .map_err(sql("reading evictions"))?;
        Ok(rows)
    }

    /// The eviction of file `file_id`, if any.
    ///
    /// # Errors
    /// When the query fails.
    pub fn eviction(&self, file_id: i64) -> Result<Option<Eviction>, CatalogError> {
        Ok(self.evictions()?.into_iter().find(|e| e.file_id == file_id))
    }

    /// Evicted files and their bytes (finished evictions of files not purged since).
    ///
    /// # Errors
    /// When the query fails.
    pub fn evicted_totals(&self) -> Result<(u64, u64), CatalogError> {
        if !self.has_table("central_evictions")? {
            return Ok((0, 0));
        }
        self.conn
            .query_row(
                "SELECT count(*), COALESCE(sum(e.size), 0) FROM central_evictions e JOIN files f ON f.id = e.file_id
                 WHERE e.state = 'evicted' AND f.purged IS NULL",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
            .map_err(sql("counting evictions"))
    }

    /// Records that the local names of `e.file_id` are about to be removed (`evicting`), before
    /// the first is; no custody event yet (the eviction has not happened).
    ///
    /// # Errors
    /// When the write fails (nothing is removed then).
    pub fn eviction_begin(&mut self, e: &Eviction) -> Result<(), CatalogError> {
        self.conn
            .execute(
                "INSERT INTO central_evictions (file_id, key, version_id, size, blake3, paths, state, since, details)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'evicting', ?7, ?8)",
                params![
                    e.file_id,
                    e.key,
                    e.version_id,
                    e.size as i64,
                    e.blake3,
                    serde_json::to_string(&e.paths).unwrap_or_default(),
                    Utc::now().to_rfc3339(),
                    e.details.to_string()
                ],
            )
            .map_err(sql("recording an eviction begun"))?;
        Ok(())
    }

    /// An eviction begun whose local names all remain: forgotten, nothing happened.
    ///
    /// # Errors
    /// When the write fails.
    pub fn eviction_abandon(&mut self, file_id: i64) -> Result<(), CatalogError> {
        self.conn
            .execute("DELETE FROM central_evictions WHERE file_id = ?1 AND state = 'evicting'", [file_id])
            .map_err(sql("forgetting an eviction"))?;
        Ok(())
    }

    /// The local names are gone: the row says `evicted` and `footage_evicted` is logged, in one
    /// transaction.
    ///
    /// # Errors
    /// When the write fails (the row stays `evicting`; the next start finishes it).
    pub fn eviction_done(&mut self, file_id: i64, subject: &str, details: Value) -> Result<u64, CatalogError> {
        let tx = begin(&mut self.conn)?;
        tx.execute(
            "UPDATE central_evictions SET state = 'evicted', details = ?2 WHERE file_id = ?1",
            params![file_id, details.to_string()],
        )
        .map_err(sql("recording an eviction"))?;
        let seq = append(&self.actor, self.tz, &tx, Action::FootageEvicted, subject.to_string(), details)?;
        tx.commit().map_err(sql("commit eviction"))?;
        Ok(seq)
    }

    /// The file is back under every name: the row goes and `footage_recalled` is logged, in
    /// one transaction.
    ///
    /// # Errors
    /// When the write fails.
    pub fn eviction_recalled(&mut self, file_id: i64, subject: &str, details: Value) -> Result<u64, CatalogError> {
        let tx = begin(&mut self.conn)?;
        tx.execute("DELETE FROM central_evictions WHERE file_id = ?1", [file_id]).map_err(sql("recording a recall"))?;
        let seq = append(&self.actor, self.tz, &tx, Action::FootageRecalled, subject.to_string(), details)?;
        tx.commit().map_err(sql("commit recall"))?;
        Ok(seq)
    }

    fn has_table(&self, name: &str) -> Result<bool, CatalogError> {
        self.conn
            .query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1", [name], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n > 0)
            .map_err(sql("looking for a table"))
    }
}
