//! The archive scrub in the catalogue (R11): its passes, where each one stands (durable, so a
//! run stopped or killed resumes where it was), and the latest fixity check of every archived
//! name. The checks themselves and their verdicts are in [`crate::scrub`]; the hashes they
//! compare with are the custody log's ([`crate::ledger`]).
//!
//! Owns: the `scrub_passes` and `fixity_checks` tables.
//! Must never: be taken as the record: each finding is a custody event (`fixity_failed`,
//! `catalogue_mismatch`) and each run ends with `archive_scrubbed`.

use chrono::Utc;
use rusqlite::{params, OptionalExtension};

use super::store::{begin, sql, Catalog, CatalogError};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS scrub_passes (
    id            INTEGER PRIMARY KEY,
    started       TEXT NOT NULL,
    updated       TEXT NOT NULL,
    finished      TEXT,
    files_total   INTEGER NOT NULL,
    bytes_total   INTEGER NOT NULL,
    cursor        INTEGER NOT NULL DEFAULT 0,
    files         INTEGER NOT NULL DEFAULT 0,
    bytes         INTEGER NOT NULL DEFAULT 0,
    differ        INTEGER NOT NULL DEFAULT 0,
    missing       INTEGER NOT NULL DEFAULT 0,
    catalogue     INTEGER NOT NULL DEFAULT 0,
    busy_ms       INTEGER NOT NULL DEFAULT 0,
    runs          INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS fixity_checks (
    path          TEXT PRIMARY KEY,
    file_id       INTEGER,
    checked       TEXT NOT NULL,
    ok            INTEGER NOT NULL,
    detail        TEXT NOT NULL,
    pass          INTEGER NOT NULL
);
"#;

/// One pass of the scrub over the whole archive, as far as it went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrubPass {
    /// Pass number.
    pub id: i64,
    /// When it began (UTC, RFC 3339).
    pub started: String,
    /// When it last moved on.
    pub updated: String,
    /// When it was complete, if it is.
    pub finished: Option<String>,
    /// Files the custody log held when the pass began.
    pub files_total: u64,
    /// Their bytes.
    pub bytes_total: u64,
    /// The custody log seq of the last file checked (files are taken in that order).
    pub cursor: u64,
    /// Files checked so far.
    pub files: u64,
    /// Bytes read so far.
    pub bytes: u64,
    /// Files whose bytes differ from the custody log.
    pub differ: u64,
    /// Files missing from the archive.
    pub missing: u64,
    /// Catalogue rows that contradict the custody log.
    pub catalogue: u64,
    /// Time spent reading, over every run of the pass, milliseconds.
    pub busy_ms: u64,
    /// Runs that worked on it.
    pub runs: u64,
}

/// One checked name, for [`Catalog::scrub_progress`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedName {
    /// Path in the archive.
    pub path: String,
    /// The catalogue's file id (as the log gave it).
    pub file_id: i64,
    /// Whether it matched the log.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// What a batch of checks adds to a pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassDelta {
    /// The new cursor.
    pub cursor: u64,
    /// Files checked.
    pub files: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Files that differ.
    pub differ: u64,
    /// Files missing.
    pub missing: u64,
    /// Catalogue contradictions.
    pub catalogue: u64,
    /// Time spent, milliseconds.
    pub busy_ms: u64,
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

const PASS_COLUMNS: &str =
    "id, started, updated, finished, files_total, bytes_total, cursor, files, bytes, differ, missing, catalogue, busy_ms, runs";

fn pass_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScrubPass> {
    Ok(ScrubPass {
        id: r.get(0)?,
        started: r.get(1)?,
        updated: r.get(2)?,
        finished: r.get(3)?,
        files_total: u(r.get(4)?),
        bytes_total: u(r.get(5)?),
        cursor: u(r.get(6)?),
        files: u(r.get(7)?),
        bytes: u(r.get(8)?),
        differ: u(r.get(9)?),
        missing: u(r.get(10)?),
        catalogue: u(r.get(11)?),
        busy_ms: u(r.get(12)?),
        runs: u(r.get(13)?),
    })
}

impl Catalog {
    fn scrub_tables_exist(&self) -> Result<bool, CatalogError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'scrub_passes'", [], |r| {
                r.get(0)
            })
            .map_err(sql("looking for scrub passes"))?;
        Ok(n > 0)
    }

    /// The pass a run works on: the unfinished one (unless `restart`, which closes it as it
    /// stands), else a new one over `files_total` files of `bytes_total` bytes. Counts the run.
    ///
    /// # Errors
    /// When the write fails.
    pub fn scrub_pass(&mut self, files_total: u64, bytes_total: u64, restart: bool) -> Result<ScrubPass, CatalogError> {
        let now = Utc::now().to_rfc3339();
        let tx = begin(&mut self.conn)?;
        let open: Option<i64> = tx
            .query_row("SELECT id FROM scrub_passes WHERE finished IS NULL ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
            .optional()
            .map_err(sql("reading scrub passes"))?;
        let id = match open {
            Some(id) if !restart => id,
            open => {
                if let Some(old) = open {
                    tx.execute(
                        "UPDATE scrub_passes SET finished = ?2 WHERE id = ?1",
                        params![old, format!("abandoned {now}")],
                    )
                    .map_err(sql("closing a scrub pass"))?;
                }
                tx.execute(
                    "INSERT INTO scrub_passes (started, updated, files_total, bytes_total) VALUES (?1, ?1, ?2, ?3)",
                    params![now, i(files_total), i(bytes_total)],
                )
                .map_err(sql("starting a scrub pass"))?;
                tx.last_insert_rowid()
            }
        };
        tx.execute("UPDATE scrub_passes SET runs = runs + 1, updated = ?2 WHERE id = ?1", params![id, now])
            .map_err(sql("counting a scrub run"))?;
        let pass = tx
            .query_row(&format!("SELECT {PASS_COLUMNS} FROM scrub_passes WHERE id = ?1"), params![id], pass_row)
            .map_err(sql("reading a scrub pass"))?;
        tx.commit().map_err(sql("commit scrub pass"))?;
        Ok(pass)
    }

    /// Records a batch of checks of pass `pass` durably, in one transaction: the names' latest
    /// checks and the pass's new place and counts.
    ///
    /// # Errors
    /// When the write fails.
    pub fn scrub_progress(&mut self, pass: i64, d: &PassDelta, names: &[CheckedName]) -> Result<(), CatalogError> {
        let now = Utc::now().to_rfc3339();
        let tx = begin(&mut self.conn)?;
        for n in names {
            tx.execute(
                "INSERT INTO fixity_checks (path, file_id, checked, ok, detail, pass) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(path) DO UPDATE SET file_id = ?2, checked = ?3, ok = ?4, detail = ?5, pass = ?6",
                params![n.path, n.file_id, now, n.ok, n.detail, pass],
            )
            .map_err(sql("recording a fixity check"))?;
        }
        tx.execute(
            "UPDATE scrub_passes SET updated = ?2, cursor = ?3, files = files + ?4, bytes = bytes + ?5, differ = differ + ?6,
                 missing = missing + ?7, catalogue = catalogue + ?8, busy_ms = busy_ms + ?9 WHERE id = ?1",
            params![pass, now, i(d.cursor), i(d.files), i(d.bytes), i(d.differ), i(d.missing), i(d.catalogue), i(d.busy_ms)],
        )
        .map_err(sql("recording scrub progress"))?;
        tx.commit().map_err(sql("commit scrub progress"))
    }

    /// Marks pass `pass` complete.
    ///
    /// # Errors
    /// When the write fails.
    pub fn scrub_finish(&mut self, pass: i64) -> Result<ScrubPass, CatalogError> {
        let now = Utc::now().to_rfc3339();
        self.conn
            .execute("UPDATE scrub_passes SET finished = ?2, updated = ?2 WHERE id = ?1", params![pass, now])
            .map_err(sql("finishing a scrub pass"))?;
        self.conn
            .query_row(&format!("SELECT {PASS_COLUMNS} FROM scrub_passes WHERE id = ?1"), params![pass], pass_row)
            .map_err(sql("reading a scrub pass"))
    }

    /// At the end of a complete pass: clears the open alarms about archived names (kinds
    /// fixity and catalogue, subjects `file:…`) that the pass did not find wrong: they were
    /// put right. Returns how many.
    ///
    /// # Errors
    /// When the write fails.
    pub fn scrub_clear_resolved(&mut self, pass: i64) -> Result<usize, CatalogError> {
        self.conn
            .execute(
                "UPDATE alarms SET cleared = ?2, cleared_why = 'a complete scrub pass found it matching the custody log'
                 WHERE cleared IS NULL AND kind IN ('fixity', 'catalogue') AND subject LIKE 'file:%'
                   AND substr(subject, 6) NOT IN (SELECT path FROM fixity_checks WHERE pass = ?1 AND ok = 0)",
                params![pass, Utc::now().to_rfc3339()],
            )
            .map_err(sql("clearing resolved alarms"))
    }

    /// The pass in progress (if any) and the last complete one (if any). A catalogue from
    /// before the scrub has neither.
    ///
    /// # Errors
    /// When the query fails.
    pub fn scrub_state(&self) -> Result<(Option<ScrubPass>, Option<ScrubPass>), CatalogError> {
        if !self.scrub_tables_exist()? {
            return Ok((None, None));
        }
        let one = |q: &str| {
            self.conn
                .query_row(
                    &format!("SELECT {PASS_COLUMNS} FROM scrub_passes {q} ORDER BY id DESC LIMIT 1"),
                    [],
                    pass_row,
                )
                .optional()
                .map_err(sql("reading scrub passes"))
        };
        Ok((one("WHERE finished IS NULL")?, one("WHERE finished IS NOT NULL AND finished NOT LIKE 'abandoned%'")?))
    }

    /// Names whose latest check failed: (path, when, what was found), newest first.
    ///
    /// # Errors
    /// When the query fails.
    pub fn failed_checks(&self) -> Result<Vec<(String, String, String)>, CatalogError> {
        if !self.scrub_tables_exist()? {
            return Ok(Vec::new());
        }
        self.conn
            .prepare("SELECT path, checked, detail FROM fixity_checks WHERE ok = 0 ORDER BY checked DESC, path")
            .map_err(sql("reading fixity checks"))?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(sql("reading fixity checks"))?
            .collect::<Result<_, _>>()
            .map_err(sql("reading fixity checks"))
    }

    /// Every name in the catalogue that is not purged, with its file id, BLAKE3 and size: the
    /// primary names (`files`) and the links into cases (`case_files`).
    ///
    /// # Errors
    /// When the query fails.
    pub fn archived_names(&self) -> Result<Vec<(String, i64, String, u64)>, CatalogError> {
        self.conn
            .prepare(
                "SELECT archive_path, id, blake3, size FROM files WHERE purged IS NULL
                 UNION SELECT cf.path, f.id, f.blake3, f.size FROM case_files cf JOIN files f ON f.id = cf.file_id
                 WHERE cf.linked AND f.purged IS NULL",
            )
            .map_err(sql("reading archived names"))?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, u(r.get(3)?))))
            .map_err(sql("reading archived names"))?
            .collect::<Result<_, _>>()
            .map_err(sql("reading archived names"))
    }
}
