//! Cases (R4, R13): case numbers with their label (party, handling officers, kind, on-site
//! windows), the archive files filed into each case, the moves that file them, and written
//! explanations of gaps (R6).

use chrono::{NaiveDateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde_json::json;

use crate::archive::layout;
use crate::custody::event::Action;

use super::store::{append, begin, sql, wall, ArchivedFile, Catalog, CatalogError};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS cases (
    id          INTEGER PRIMARY KEY,
    number      TEXT NOT NULL UNIQUE,
    folder      TEXT NOT NULL UNIQUE,
    party       TEXT,
    kind        TEXT NOT NULL,
    officers    TEXT NOT NULL,
    created     TEXT NOT NULL,
    created_by  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS case_windows (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES cases(id),
    from_t      TEXT NOT NULL,
    to_t        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS case_files (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES cases(id),
    file_id     INTEGER NOT NULL REFERENCES files(id),
    path        TEXT NOT NULL UNIQUE,
    linked      INTEGER NOT NULL,
    assigned    TEXT NOT NULL,
    assigned_by TEXT NOT NULL,
    UNIQUE (case_id, file_id)
);
CREATE TABLE IF NOT EXISTS moves (
    id          INTEGER PRIMARY KEY,
    file_id     INTEGER NOT NULL REFERENCES files(id),
    case_id     INTEGER NOT NULL REFERENCES cases(id),
    from_path   TEXT NOT NULL,
    to_path     TEXT NOT NULL,
    state       TEXT NOT NULL,
    started     TEXT NOT NULL,
    finished    TEXT
);
"#;

/// What kind of matter a case is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseKind {
    /// Administrative penalty (行政处罚).
    Penalty,
    /// Administrative coercive measure (行政强制).
    Coercive,
    /// Inspection (检查).
    Inspection,
    /// Permit (许可).
    Permit,
    /// Anything else.
    Other,
}

impl CaseKind {
    /// All kinds.
    pub const ALL: [CaseKind; 5] =
        [CaseKind::Penalty, CaseKind::Coercive, CaseKind::Inspection, CaseKind::Permit, CaseKind::Other];
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Penalty => "penalty",
            CaseKind::Coercive => "coercive",
            CaseKind::Inspection => "inspection",
            CaseKind::Permit => "permit",
            CaseKind::Other => "other",
        }
    }
    /// Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            CaseKind::Penalty => "行政处罚",
            CaseKind::Coercive => "行政强制",
            CaseKind::Inspection => "检查",
            CaseKind::Permit => "许可",
            CaseKind::Other => "其他",
        }
    }
    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<CaseKind> {
        CaseKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A case's label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseLabel {
    /// Case number, e.g. `宜卫罚〔2024〕12号`.
    pub number: String,
    /// Party (当事人).
    pub party: Option<String>,
    /// Handling officers' numbers.
    pub officers: Vec<String>,
    /// Kind.
    pub kind: CaseKind,
    /// On-site time windows (station local time).
    pub windows: Vec<(NaiveDateTime, NaiveDateTime)>,
}

/// A case as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Row id.
    pub id: i64,
    /// Folder name (the case number, escaped where unsafe).
    pub folder: String,
    /// The label.
    pub label: CaseLabel,
    /// Files filed into it: (file id, path in the case folder, hard link to another case's copy).
    pub files: Vec<(i64, String, bool)>,
}

/// A move into a case folder, recorded before the rename so that a crash is recovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMove {
    /// Row id.
    pub id: i64,
    /// The file.
    pub file: ArchivedFile,
    /// The case.
    pub case_id: i64,
    /// From (relative to the archive root).
    pub from: String,
    /// To.
    pub to: String,
}

/// A gap in recording (R6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapRow {
    /// Row id.
    pub id: i64,
    /// Device serial.
    pub serial: String,
    /// Session.
    pub session: String,
    /// Sequence numbers around it.
    pub after_seq: u64,
    /// After it.
    pub before_seq: u64,
    /// Device times.
    pub from: String,
    /// Device time after.
    pub to: String,
    /// Length.
    pub duration_ms: i64,
    /// The recorder's reason, if it gave one.
    pub reason: Option<String>,
    /// The written explanation, once attached.
    pub explanation: Option<String>,
}

fn file_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ArchivedFile> {
    Ok(ArchivedFile { id: r.get(0)?, archive_path: r.get(1)?, size: r.get::<_, i64>(2)? as u64, blake3: r.get(3)? })
}

impl Catalog {
    /// Creates a case (R4).
    ///
    /// # Errors
    /// When the number cannot become a folder name, already exists, or the write fails.
    pub fn create_case(&mut self, label: &CaseLabel) -> Result<i64, CatalogError> {
        let folder = layout::case_folder(&label.number).map_err(|e| CatalogError::Invalid(e.to_string()))?;
        let number = label.number.trim().to_string();
        for (from, to) in &label.windows {
            if to < from {
                return Err(CatalogError::Invalid(format!("on-site window ends before it starts: {from} > {to}")));
            }
        }
        let user = self.actor.user.clone();
        let tx = begin(&mut self.conn)?;
        let exists: Option<i64> = tx
            .query_row("SELECT id FROM cases WHERE number = ?1 OR folder = ?2", params![number, folder], |r| r.get(0))
            .optional()
            .map_err(sql("looking up a case"))?;
        if exists.is_some() {
            return Err(CatalogError::Invalid(format!("case {number} already exists")));
        }
        tx.execute(
            "INSERT INTO cases (number, folder, party, kind, officers, created, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                number,
                folder,
                label.party,
                label.kind.as_str(),
                serde_json::to_string(&label.officers).unwrap_or_default(),
                Utc::now().to_rfc3339(),
                user
            ],
        )
        .map_err(sql("creating a case"))?;
        let id = tx.last_insert_rowid();
        for (from, to) in &label.windows {
            tx.execute(
                "INSERT INTO case_windows (case_id, from_t, to_t) VALUES (?1, ?2, ?3)",
                params![id, wall(from), wall(to)],
            )
            .map_err(sql("recording an on-site window"))?;
        }
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::CaseCreated,
            format!("case:{number}"),
            json!({
                "number": number, "folder": folder, "party": label.party, "kind": label.kind.as_str(),
                "officers": label.officers,
                "windows": label.windows.iter().map(|(a, b)| [wall(a), wall(b)]).collect::<Vec<_>>(),
            }),
        )?;
        tx.commit().map_err(sql("commit case"))?;
        Ok(id)
    }

    /// Relabels a case: party, officers, kind and windows replaced by `label`'s.
    ///
    /// # Errors
    /// When the case does not exist, a window ends before it starts, or the write fails.
    pub fn label_case(&mut self, label: &CaseLabel) -> Result<(), CatalogError> {
        let case = self.case(&label.number)?;
        for (from, to) in &label.windows {
            if to < from {
                return Err(CatalogError::Invalid(format!("on-site window ends before it starts: {from} > {to}")));
            }
        }
        let tx = begin(&mut self.conn)?;
        tx.execute(
            "UPDATE cases SET party = ?2, kind = ?3, officers = ?4 WHERE id = ?1",
            params![
                case.id,
                label.party,
                label.kind.as_str(),
                serde_json::to_string(&label.officers).unwrap_or_default()
            ],
        )
        .map_err(sql("relabelling a case"))?;
        tx.execute("DELETE FROM case_windows WHERE case_id = ?1", params![case.id])
            .map_err(sql("relabelling a case"))?;
        for (from, to) in &label.windows {
            tx.execute(
                "INSERT INTO case_windows (case_id, from_t, to_t) VALUES (?1, ?2, ?3)",
                params![case.id, wall(from), wall(to)],
            )
            .map_err(sql("recording an on-site window"))?;
        }
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::CaseLabelled,
            format!("case:{}", case.label.number),
            json!({
                "party": label.party, "kind": label.kind.as_str(), "officers": label.officers,
                "windows": label.windows.iter().map(|(a, b)| [wall(a), wall(b)]).collect::<Vec<_>>(),
                "previous": { "party": case.label.party, "kind": case.label.kind.as_str(), "officers": case.label.officers },
            }),
        )?;
        tx.commit().map_err(sql("commit case label"))
    }

    /// A case by number.
    ///
    /// # Errors
    /// When it does not exist or the query fails.
    pub fn case(&self, number: &str) -> Result<Case, CatalogError> {
        let number = number.trim();
        let row: Option<(i64, String, Option<String>, String, String)> = self
            .conn
            .query_row("SELECT id, folder, party, kind, officers FROM cases WHERE number = ?1", params![number], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()
            .map_err(sql("looking up a case"))?;
        let Some((id, folder, party, kind, officers)) = row else {
            return Err(CatalogError::Invalid(format!("no case {number}: create it with `evidock case create`")));
        };
        let t = |s: String| crate::recorder::format::parse_wall(0, "window", &s).ok();
        let windows = self
            .conn
            .prepare("SELECT from_t, to_t FROM case_windows WHERE case_id = ?1 ORDER BY from_t")
            .map_err(sql("reading windows"))?
            .query_map(params![id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(sql("reading windows"))?
            .filter_map(Result::ok)
            .filter_map(|(a, b)| Some((t(a)?, t(b)?)))
            .collect();
        let files = self
            .conn
            .prepare("SELECT file_id, path, linked FROM case_files WHERE case_id = ?1 ORDER BY path")
            .map_err(sql("reading case files"))?
            .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(sql("reading case files"))?
            .collect::<Result<_, _>>()
            .map_err(sql("reading case files"))?;
        Ok(Case {
            id,
            folder,
            label: CaseLabel {
                number: number.to_string(),
                party,
                officers: serde_json::from_str(&officers).unwrap_or_default(),
                kind: CaseKind::parse(&kind).unwrap_or(CaseKind::Other),
                windows,
            },
            files,
        })
    }

    /// Every case number, in order.
    ///
    /// # Errors
    /// When the query fails.
    pub fn case_numbers(&self) -> Result<Vec<String>, CatalogError> {
        self.conn
            .prepare("SELECT number FROM cases ORDER BY number")
            .map_err(sql("listing cases"))?
            .query_map([], |r| r.get(0))
            .map_err(sql("listing cases"))?
            .collect::<Result<_, _>>()
            .map_err(sql("listing cases"))
    }

    /// The archived file at a path, or the files of a session (`SERIAL/SESSION`) or a
    /// segment (`SERIAL/SEQ`).
    ///
    /// # Errors
    /// When nothing matches or the query fails.
    pub fn select_files(
        &self,
        path: Option<&str>,
        session: Option<&str>,
        segment: Option<&str>,
    ) -> Result<Vec<ArchivedFile>, CatalogError> {
        let mut out = Vec::new();
        if let Some(p) = path {
            out.extend(self.archived_at(p)?);
        }
        let split = |s: &str| s.split_once('/').map(|(a, b)| (a.to_string(), b.to_string()));
        if let Some((serial, session)) = session.and_then(split) {
            let mut st = self
                .conn
                .prepare(
                    "SELECT DISTINCT f.id, f.archive_path, f.size, f.blake3 FROM segments s JOIN files f ON f.id = s.file_id
                     WHERE s.serial = ?1 AND s.session = ?2 ORDER BY s.seq < 0, s.seq",
                )
                .map_err(sql("selecting a session's files"))?;
            let rows = st.query_map(params![serial, session], file_row).map_err(sql("selecting a session's files"))?;
            for r in rows {
                out.push(r.map_err(sql("selecting a session's files"))?);
            }
        }
        if let Some((serial, seq)) = segment.and_then(split) {
            let seq: u64 =
                seq.parse().map_err(|_| CatalogError::Invalid(format!("{seq:?} is not a sequence number")))?;
            let seq = super::seq_to_sql(seq);
            let f = self
                .conn
                .query_row(
                    "SELECT f.id, f.archive_path, f.size, f.blake3 FROM segments s JOIN files f ON f.id = s.file_id
                     WHERE s.serial = ?1 AND s.seq = ?2 ORDER BY s.id DESC LIMIT 1",
                    params![serial, seq],
                    file_row,
                )
                .optional()
                .map_err(sql("selecting a segment's file"))?;
            out.extend(f);
        }
        out.sort_by_key(|f| f.id);
        out.dedup_by_key(|f| f.id);
        if out.is_empty() {
            return Err(CatalogError::Invalid("no archived file matches".into()));
        }
        Ok(out)
    }

    /// Files proposed for a case: footage of its handling officers' recorders whose
    /// corrected times overlap one of its on-site windows, not yet in the case.
    ///
    /// # Errors
    /// When the case does not exist or the query fails.
    pub fn propose(&self, number: &str) -> Result<Vec<ArchivedFile>, CatalogError> {
        let case = self.case(number)?;
        let mut out = Vec::new();
        let mut st = self
            .conn
            .prepare(
                "SELECT DISTINCT f.id, f.archive_path, f.size, f.blake3 FROM segments s
                 JOIN files f ON f.id = s.file_id JOIN dockings d ON d.id = s.docking_id
                 WHERE d.badge = ?1 AND s.start_corrected IS NOT NULL
                   AND s.start_corrected <= ?3 AND COALESCE(s.end_corrected, s.start_corrected) >= ?2
                   AND f.id NOT IN (SELECT file_id FROM case_files WHERE case_id = ?4)
                 ORDER BY f.archive_path",
            )
            .map_err(sql("proposing footage"))?;
        for officer in &case.label.officers {
            for (from, to) in &case.label.windows {
                let rows = st
                    .query_map(params![officer, wall(from), wall(to), case.id], file_row)
                    .map_err(sql("proposing footage"))?;
                for r in rows {
                    out.push(r.map_err(sql("proposing footage"))?);
                }
            }
        }
        out.sort_by_key(|f| f.id);
        out.dedup_by_key(|f| f.id);
        Ok(out)
    }

    /// Records the intent to move a file into a case folder, before the rename.
    ///
    /// # Errors
    /// When the write fails.
    pub fn begin_move(&mut self, file: &ArchivedFile, case_id: i64, to: &str) -> Result<i64, CatalogError> {
        self.conn
            .execute(
                "INSERT INTO moves (file_id, case_id, from_path, to_path, state, started) VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
                params![file.id, case_id, file.archive_path, to, Utc::now().to_rfc3339()],
            )
            .map_err(sql("recording a move"))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Moves recorded but not finished (a crash came between).
    ///
    /// # Errors
    /// When the query fails.
    pub fn pending_moves(&self) -> Result<Vec<PendingMove>, CatalogError> {
        self.conn
            .prepare(
                "SELECT m.id, f.id, f.archive_path, f.size, f.blake3, m.case_id, m.from_path, m.to_path
                 FROM moves m JOIN files f ON f.id = m.file_id WHERE m.state = 'pending' ORDER BY m.id",
            )
            .map_err(sql("listing pending moves"))?
            .query_map([], |r| {
                Ok(PendingMove {
                    id: r.get(0)?,
                    file: ArchivedFile {
                        id: r.get(1)?,
                        archive_path: r.get(2)?,
                        size: r.get::<_, i64>(3)? as u64,
                        blake3: r.get(4)?,
                    },
                    case_id: r.get(5)?,
                    from: r.get(6)?,
                    to: r.get(7)?,
                })
            })
            .map_err(sql("listing pending moves"))?
            .collect::<Result<_, _>>()
            .map_err(sql("listing pending moves"))
    }

    /// A move that never happened (the file is still where it was).
    ///
    /// # Errors
    /// When the write fails.
    pub fn abandon_move(&mut self, move_id: i64) -> Result<(), CatalogError> {
        self.conn
            .execute(
                "UPDATE moves SET state = 'abandoned', finished = ?2 WHERE id = ?1",
                params![move_id, Utc::now().to_rfc3339()],
            )
            .map_err(sql("abandoning a move"))?;
        Ok(())
    }

    /// Files a file into a case: after a move (`move_id`), the file's path becomes `path`;
    /// after a hard link, the file stays where it is and `path` is another name for it. One
    /// transaction with its custody event (INV-4).
    ///
    /// # Errors
    /// When the write fails.
    pub fn file_into_case(
        &mut self,
        case_id: i64,
        file: &ArchivedFile,
        path: &str,
        move_id: Option<i64>,
        recovered: bool,
    ) -> Result<(), CatalogError> {
        let now = Utc::now().to_rfc3339();
        let user = self.actor.user.clone();
        let tx = begin(&mut self.conn)?;
        let number: String = tx
            .query_row("SELECT number FROM cases WHERE id = ?1", params![case_id], |r| r.get(0))
            .map_err(sql("looking up a case"))?;
        if let Some(m) = move_id {
            tx.execute("UPDATE files SET archive_path = ?2 WHERE id = ?1", params![file.id, path])
                .map_err(sql("updating a file's path"))?;
            tx.execute("UPDATE moves SET state = 'done', finished = ?2 WHERE id = ?1", params![m, now])
                .map_err(sql("finishing a move"))?;
        }
        tx.execute(
            "INSERT INTO case_files (case_id, file_id, path, linked, assigned, assigned_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![case_id, file.id, path, move_id.is_none(), now, user],
        )
        .map_err(sql("filing into a case"))?;
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::FootageAssigned,
            format!("case:{number}"),
            json!({
                "file": file.id, "from": file.archive_path, "to": path, "blake3": file.blake3,
                "how": if move_id.is_some() { "moved" } else { "linked" },
                "hash_checked_after": true, "recovered": recovered,
            }),
        )?;
        tx.commit().map_err(sql("commit filing"))
    }

    /// Gaps in recording, all or only those without a written explanation.
    ///
    /// # Errors
    /// When the query fails.
    pub fn gaps(&self, open_only: bool) -> Result<Vec<GapRow>, CatalogError> {
        let q = format!(
            "SELECT id, serial, session, after_seq, before_seq, from_device, to_device, duration_ms, reason, explanation
             FROM gaps {} ORDER BY id",
            if open_only { "WHERE reason IS NULL AND explanation IS NULL" } else { "" }
        );
        self.conn
            .prepare(&q)
            .map_err(sql("listing gaps"))?
            .query_map([], |r| {
                Ok(GapRow {
                    id: r.get(0)?,
                    serial: r.get(1)?,
                    session: r.get(2)?,
                    after_seq: super::seq_from_sql(r.get(3)?),
                    before_seq: super::seq_from_sql(r.get(4)?),
                    from: r.get(5)?,
                    to: r.get(6)?,
                    duration_ms: r.get(7)?,
                    reason: r.get(8)?,
                    explanation: r.get(9)?,
                })
            })
            .map_err(sql("listing gaps"))?
            .collect::<Result<_, _>>()
            .map_err(sql("listing gaps"))
    }
}
