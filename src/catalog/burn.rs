//! Burn jobs and discs (R8): the jobs planned, every disc with its label (volume id), medium,
//! place, holder and state, the files on it with their hashes, and its checks. Every step is
//! written in one transaction with its custody event (INV-4).
//!
//! A disc's states: `planned` → `staged` → `written` → `verified`, or `failed` at any step.
//! Only a `verified` disc counts as a copy of its footage (INV-14); a disc that fails a
//! re-check goes to `failed` and its footage is planned again.

use std::collections::HashMap;

use chrono::Utc;
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};

use crate::burn::bag::{BagFile, Expected};
use crate::custody::event::Action;

use super::store::{append, begin, sql, ArchivedFile, Catalog, CatalogError};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS burn_jobs (
    id            INTEGER PRIMARY KEY,
    media         TEXT NOT NULL,
    capacity      INTEGER NOT NULL,
    created       TEXT NOT NULL,
    created_by    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS discs (
    id            INTEGER PRIMARY KEY,
    job_id        INTEGER NOT NULL REFERENCES burn_jobs(id),
    label         TEXT NOT NULL UNIQUE,
    number        INTEGER NOT NULL,
    of_discs      INTEGER NOT NULL,
    media         TEXT NOT NULL,
    state         TEXT NOT NULL,
    location      TEXT,
    holder        TEXT,
    maker         TEXT,
    extractor     TEXT,
    extracted_at  TEXT,
    written_to    TEXT,
    verified_at   TEXT,
    last_check    TEXT,
    last_result   TEXT
);
CREATE TABLE IF NOT EXISTS disc_files (
    disc_id       INTEGER NOT NULL REFERENCES discs(id),
    file_id       INTEGER NOT NULL REFERENCES files(id),
    bag_path      TEXT NOT NULL,
    size          INTEGER NOT NULL,
    sha512        TEXT,
    sha256        TEXT,
    PRIMARY KEY (disc_id, file_id)
);
CREATE INDEX IF NOT EXISTS disc_files_by_file ON disc_files (file_id);
"#;

/// A disc of a new plan.
#[derive(Debug, Clone)]
pub struct NewDisc {
    /// Its number in the job (1-based).
    pub number: usize,
    /// Files: (file id, path inside the bag, size).
    pub files: Vec<(i64, String, u64)>,
}

/// A registered disc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscRow {
    /// Row id.
    pub id: i64,
    /// Burn job.
    pub job: i64,
    /// Volume id.
    pub label: String,
    /// Number in the job, and of how many.
    pub number: (i64, i64),
    /// Medium.
    pub media: String,
    /// `planned`, `staged`, `written`, `verified`, `failed`.
    pub state: String,
    /// Where it is stored.
    pub location: Option<String>,
    /// Who holds it.
    pub holder: Option<String>,
    /// Who made it (制作人).
    pub maker: Option<String>,
    /// Who extracted the footage (提取人).
    pub extractor: Option<String>,
    /// When (提取时间).
    pub extracted_at: Option<String>,
    /// When it last passed a verify (UTC, RFC 3339).
    pub verified_at: Option<String>,
    /// When it was last checked, and the result (`ok` or `failed`).
    pub last_check: Option<(String, String)>,
    /// Files on it.
    pub files: i64,
    /// Bytes of footage on it.
    pub bytes: i64,
}

const DISC_COLUMNS: &str = "d.id, d.job_id, d.label, d.number, d.of_discs, d.media, d.state, d.location, d.holder, d.maker,
     d.extractor, d.extracted_at, d.verified_at, d.last_check, d.last_result,
     (SELECT COUNT(*) FROM disc_files f WHERE f.disc_id = d.id), (SELECT COALESCE(SUM(size), 0) FROM disc_files f WHERE f.disc_id = d.id)";

fn disc_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DiscRow> {
    let check: Option<String> = r.get(13)?;
    let result: Option<String> = r.get(14)?;
    Ok(DiscRow {
        id: r.get(0)?,
        job: r.get(1)?,
        label: r.get(2)?,
        number: (r.get(3)?, r.get(4)?),
        media: r.get(5)?,
        state: r.get(6)?,
        location: r.get(7)?,
        holder: r.get(8)?,
        maker: r.get(9)?,
        extractor: r.get(10)?,
        extracted_at: r.get(11)?,
        verified_at: r.get(12)?,
        last_check: check.zip(result),
        files: r.get(15)?,
        bytes: r.get(16)?,
    })
}

impl Catalog {
    /// Records a burn plan: the job, its discs (state `planned`, labelled by
    /// [`crate::burn::disc_label`]) with their files, and the event `burn_planned` carrying
    /// `details`. Returns the job id and the discs' (id, label) in order.
    ///
    /// # Errors
    /// When the write fails.
    pub fn record_burn_plan(
        &mut self,
        media: &str,
        capacity: u64,
        discs: &[NewDisc],
        mut details: Value,
    ) -> Result<(i64, Vec<(i64, String)>), CatalogError> {
        let user = self.actor.user.clone();
        let tx = begin(&mut self.conn)?;
        tx.execute(
            "INSERT INTO burn_jobs (media, capacity, created, created_by) VALUES (?1, ?2, ?3, ?4)",
            params![media, capacity as i64, Utc::now().to_rfc3339(), user],
        )
        .map_err(sql("recording a burn job"))?;
        let job = tx.last_insert_rowid();
        let mut out = Vec::new();
        for d in discs {
            let label = crate::burn::disc_label(job, d.number, discs.len());
            tx.execute(
                "INSERT INTO discs (job_id, label, number, of_discs, media, state) VALUES (?1, ?2, ?3, ?4, ?5, 'planned')",
                params![job, label, d.number as i64, discs.len() as i64, media],
            )
            .map_err(sql("recording a planned disc"))?;
            let id = tx.last_insert_rowid();
            for (file, path, size) in &d.files {
                tx.execute(
                    "INSERT INTO disc_files (disc_id, file_id, bag_path, size) VALUES (?1, ?2, ?3, ?4)",
                    params![id, file, path, *size as i64],
                )
                .map_err(sql("recording a planned disc's files"))?;
            }
            out.push((id, label));
        }
        details["job"] = json!(job);
        details["labels"] = json!(out.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>());
        append(&self.actor, self.tz, &tx, Action::BurnPlanned, format!("burn:{job}"), details)?;
        tx.commit().map_err(sql("commit burn plan"))?;
        Ok((job, out))
    }

    /// Records a staged disc: the hashes of every file as read back, maker, extractor and
    /// time, state `staged`, and the event `disc_staged`.
    ///
    /// # Errors
    /// When the disc does not exist or the write fails.
    pub fn record_disc_staged(
        &mut self,
        label: &str,
        files: &[BagFile],
        maker: &str,
        extractor: &str,
        extracted_at: &str,
        bag: &str,
    ) -> Result<(), CatalogError> {
        let disc = self.disc(label)?;
        let tx = begin(&mut self.conn)?;
        for f in files {
            tx.execute(
                "UPDATE disc_files SET sha512 = ?3, sha256 = ?4 WHERE disc_id = ?1 AND file_id = ?2",
                params![disc.id, f.file_id, f.sha512, f.sha256],
            )
            .map_err(sql("recording a staged file"))?;
        }
        tx.execute(
            "UPDATE discs SET state = 'staged', maker = ?2, extractor = ?3, extracted_at = ?4 WHERE id = ?1",
            params![disc.id, maker, extractor, extracted_at],
        )
        .map_err(sql("recording a staged disc"))?;
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::DiscStaged,
            format!("disc:{label}"),
            json!({
                "bag": bag, "maker": maker, "extractor": extractor, "extracted_at": extracted_at,
                "files": files.iter().map(|f| json!({ "file": f.file_id, "path": f.bag_path, "size": f.size, "sha512": f.sha512 })).collect::<Vec<_>>(),
            }),
        )?;
        tx.commit().map_err(sql("commit staged disc"))
    }

    /// Records an image built or a disc written (state `written`) with the event `disc_written`.
    ///
    /// # Errors
    /// When the disc does not exist or the write fails.
    pub fn record_disc_written(&mut self, label: &str, target: &str, how: &str) -> Result<(), CatalogError> {
        let disc = self.disc(label)?;
        let tx = begin(&mut self.conn)?;
        tx.execute("UPDATE discs SET state = 'written', written_to = ?2 WHERE id = ?1", params![disc.id, target])
            .map_err(sql("recording a written disc"))?;
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::DiscWritten,
            format!("disc:{label}"),
            json!({ "to": target, "how": how }),
        )?;
        tx.commit().map_err(sql("commit written disc"))
    }

    /// Records a failure before a verify (staging, image, write): state `failed`, event
    /// `disc_failed` with `details`.
    ///
    /// # Errors
    /// When the disc does not exist or the write fails.
    pub fn record_disc_failed(&mut self, label: &str, details: Value) -> Result<(), CatalogError> {
        let disc = self.disc(label)?;
        let tx = begin(&mut self.conn)?;
        tx.execute("UPDATE discs SET state = 'failed' WHERE id = ?1", params![disc.id])
            .map_err(sql("recording a failed disc"))?;
        append(&self.actor, self.tz, &tx, Action::DiscFailed, format!("disc:{label}"), details)?;
        tx.commit().map_err(sql("commit failed disc"))
    }

    /// Records a full read-back check of a disc from `source`: with no findings the disc is
    /// `verified` (a copy from now on) and its check time recorded; with findings it is
    /// `failed`, and the findings (file, what) are in the event. A first verify logs
    /// `disc_verified` or `disc_failed`; a re-check logs `disc_rechecked` with the result.
    ///
    /// # Errors
    /// When the disc does not exist or the write fails.
    pub fn record_disc_check(
        &mut self,
        label: &str,
        source: &str,
        findings: &[(String, String)],
        recheck: bool,
    ) -> Result<(), CatalogError> {
        let disc = self.disc(label)?;
        let now = Utc::now().to_rfc3339();
        let ok = findings.is_empty();
        let tx = begin(&mut self.conn)?;
        if ok {
            tx.execute(
                "UPDATE discs SET state = 'verified', verified_at = COALESCE(verified_at, ?2), last_check = ?2, last_result = 'ok' WHERE id = ?1",
                params![disc.id, now],
            )
        } else {
            tx.execute(
                "UPDATE discs SET state = 'failed', last_check = ?2, last_result = 'failed' WHERE id = ?1",
                params![disc.id, now],
            )
        }
        .map_err(sql("recording a disc check"))?;
        let action = match (recheck, ok) {
            (true, _) => Action::DiscRechecked,
            (false, true) => Action::DiscVerified,
            (false, false) => Action::DiscFailed,
        };
        let files: i64 = disc.files;
        append(
            &self.actor,
            self.tz,
            &tx,
            action,
            format!("disc:{label}"),
            json!({
                "source": source, "result": if ok { "ok" } else { "failed" }, "files": files,
                "findings": findings.iter().map(|(p, w)| json!({ "path": p, "what": w })).collect::<Vec<_>>(),
            }),
        )?;
        tx.commit().map_err(sql("commit disc check"))
    }

    /// Records that a disc moved: its new place and holder, why, and the event `disc_moved`.
    ///
    /// # Errors
    /// When the disc does not exist, nothing is given, or the write fails.
    pub fn move_disc(
        &mut self,
        label: &str,
        location: Option<&str>,
        holder: Option<&str>,
        reason: &str,
    ) -> Result<(), CatalogError> {
        if location.is_none() && holder.is_none() {
            return Err(CatalogError::Invalid("give --location, --holder, or both".into()));
        }
        if reason.trim().is_empty() {
            return Err(CatalogError::Invalid("a reason is required to move a disc".into()));
        }
        let disc = self.disc(label)?;
        let tx = begin(&mut self.conn)?;
        tx.execute(
            "UPDATE discs SET location = COALESCE(?2, location), holder = COALESCE(?3, holder) WHERE id = ?1",
            params![disc.id, location, holder],
        )
        .map_err(sql("moving a disc"))?;
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::DiscMoved,
            format!("disc:{label}"),
            json!({
                "location": location, "holder": holder, "reason": reason,
                "previous": { "location": disc.location, "holder": disc.holder },
            }),
        )?;
        tx.commit().map_err(sql("commit disc move"))
    }

    /// Every registered disc, by id.
    ///
    /// # Errors
    /// When the query fails.
    pub fn discs(&self) -> Result<Vec<DiscRow>, CatalogError> {
        self.conn
            .prepare(&format!("SELECT {DISC_COLUMNS} FROM discs d ORDER BY d.id"))
            .map_err(sql("listing discs"))?
            .query_map([], disc_row)
            .map_err(sql("listing discs"))?
            .collect::<Result<_, _>>()
            .map_err(sql("listing discs"))
    }

    /// A disc by label.
    ///
    /// # Errors
    /// When no disc has that label, or the query fails.
    pub fn disc(&self, label: &str) -> Result<DiscRow, CatalogError> {
        self.conn
            .query_row(&format!("SELECT {DISC_COLUMNS} FROM discs d WHERE d.label = ?1"), params![label], disc_row)
            .optional()
            .map_err(sql("looking up a disc"))?
            .ok_or_else(|| {
                CatalogError::Invalid(format!(
                    "no disc labelled {label:?} in the catalogue (see `evidock burn disc list`)"
                ))
            })
    }

    /// What the catalogue expects on a disc: every file with its path in the bag, size,
    /// SHA-512 recorded at staging and BLAKE3 recorded at ingest.
    ///
    /// # Errors
    /// When the query fails.
    pub fn disc_expected(&self, disc_id: i64) -> Result<Vec<Expected>, CatalogError> {
        self.conn
            .prepare(
                "SELECT df.bag_path, df.size, COALESCE(df.sha512, ''), f.blake3 FROM disc_files df
                 JOIN files f ON f.id = df.file_id WHERE df.disc_id = ?1 ORDER BY df.bag_path",
            )
            .map_err(sql("reading a disc's files"))?
            .query_map(params![disc_id], |r| {
                Ok(Expected {
                    bag_path: r.get(0)?,
                    size: r.get::<_, i64>(1)? as u64,
                    sha512: r.get(2)?,
                    blake3: r.get(3)?,
                })
            })
            .map_err(sql("reading a disc's files"))?
            .collect::<Result<_, _>>()
            .map_err(sql("reading a disc's files"))
    }

    /// The archived chain files of a recording session (the recorder's hash chain, or the
    /// dock's seal), still in the archive: a disc carries them so its footage can be checked
    /// against the chain offline.
    ///
    /// # Errors
    /// When the query fails.
    pub fn session_chain_files(&self, serial: &str, session: &str) -> Result<Vec<ArchivedFile>, CatalogError> {
        self.conn
            .prepare(
                "SELECT DISTINCT f.id, f.archive_path, f.size, f.blake3 FROM sessions s JOIN files f
                   ON f.serial = s.serial AND f.archive_path LIKE '%/chain/' || s.chain_file
                 WHERE s.serial = ?1 AND s.session = ?2 AND f.purged IS NULL ORDER BY f.id",
            )
            .map_err(sql("reading chain files"))?
            .query_map(params![serial, session], |r| {
                Ok(ArchivedFile {
                    id: r.get(0)?,
                    archive_path: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                    blake3: r.get(3)?,
                })
            })
            .map_err(sql("reading chain files"))?
            .collect::<Result<_, _>>()
            .map_err(sql("reading chain files"))
    }

    /// Copies in progress per archived file id: on discs planned, staged or written but not yet
    /// verified (nor failed or abandoned).
    ///
    /// # Errors
    /// When the query fails.
    pub fn pending_copies(&self) -> Result<HashMap<i64, u32>, CatalogError> {
        self.copies_on("'planned', 'staged', 'written'")
    }

    /// Verified disc copies per archived file id.
    ///
    /// # Errors
    /// When the query fails.
    pub fn verified_copies(&self) -> Result<HashMap<i64, u32>, CatalogError> {
        self.copies_on("'verified'")
    }

    /// Disc copies per archived file id, on discs in one of `states` (an SQL list of literals).
    fn copies_on(&self, states: &str) -> Result<HashMap<i64, u32>, CatalogError> {
        self.conn
            .prepare(&format!(
                "SELECT df.file_id, COUNT(*) FROM disc_files df JOIN discs d ON d.id = df.disc_id
                 WHERE d.state IN ({states}) GROUP BY df.file_id"
            ))
            .map_err(sql("counting disc copies"))?
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u32)))
            .map_err(sql("counting disc copies"))?
            .collect::<Result<_, _>>()
            .map_err(sql("counting disc copies"))
    }
}
