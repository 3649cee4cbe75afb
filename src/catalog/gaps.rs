//! Written explanations of gaps (R6; S0 §13, S2 §18, S4 §19) and approvals not to record
//! (S1 §8): who wrote each explanation (the officer, by badge) beside who typed it, the scanned
//! statement attached to it, the head's review where the bureau requires one (S2 §18), and
//! dated, approved exemptions that allowed an officer not to record in a window.
//!
//! Owns: `gaps.explanation`, `gap_statements` and `recording_exemptions`, each change written
//! with its custody event in one transaction (INV-4, INV-37).
//! Must never: replace an explanation that stands (only one the head rejected is written
//! again), let the author or the typist of an explanation review it, or let the person who
//! entered an exemption approve it.

use chrono::{NaiveDateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde_json::json;

use crate::custody::event::Action;

use super::store::{append, begin, sql, Catalog, CatalogError};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS gap_statements (
    gap_id       INTEGER PRIMARY KEY REFERENCES gaps(id),
    author       TEXT NOT NULL,
    typed_by     TEXT NOT NULL,
    explained_at TEXT NOT NULL,
    scan_path    TEXT,
    scan_size    INTEGER,
    scan_blake3  TEXT,
    review       TEXT NOT NULL,
    reviewed_by  TEXT,
    reviewed_at  TEXT,
    review_note  TEXT
);
CREATE TABLE IF NOT EXISTS recording_exemptions (
    id           INTEGER PRIMARY KEY,
    officer      TEXT NOT NULL,
    from_t       TEXT NOT NULL,
    to_t         TEXT NOT NULL,
    reason       TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    approved_by  TEXT,
    approved_at  TEXT
);
"#;

/// The station-local time format of exemption windows in the catalogue and the log.
pub const LOCAL: &str = "%Y-%m-%dT%H:%M:%S";

/// A scanned statement stored in the archive (write-once), as the log names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Its path in the archive.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// BLAKE3, hex.
    pub blake3: String,
}

/// A written explanation to attach to a gap.
#[derive(Debug, Clone)]
pub struct Explanation<'a> {
    /// The gap.
    pub gap: i64,
    /// The text.
    pub text: &'a str,
    /// The officer who wrote it, by badge (警号), who may not be who typed it.
    pub author: &'a str,
    /// The scanned signed statement, already stored in the archive.
    pub scan: Option<Scan>,
    /// Whether the head must review it (`gaps.review_required`, S2 §18).
    pub review_required: bool,
}

/// Who wrote a gap's explanation, its scan and where its review stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The gap.
    pub gap: i64,
    /// The officer who wrote it (badge).
    pub author: String,
    /// The user who typed it in.
    pub typed_by: String,
    /// When (UTC, RFC 3339).
    pub explained_at: String,
    /// The scanned statement, if one was attached.
    pub scan: Option<Scan>,
    /// `not-required`, `pending`, `approved` or `rejected`.
    pub review: String,
    /// The reviewer.
    pub reviewed_by: Option<String>,
    /// The reviewer's note.
    pub review_note: Option<String>,
}

/// An approval not to record (S1 §8: 经现场负责人或办案部门领导同意，可以不予同步录音录像).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    /// Its number.
    pub id: i64,
    /// The officer (badge) allowed not to record.
    pub officer: String,
    /// From, station-local.
    pub from: NaiveDateTime,
    /// To, station-local.
    pub to: NaiveDateTime,
    /// Why.
    pub reason: String,
    /// Who entered it.
    pub recorded_by: String,
    /// Who approved it, once approved.
    pub approved_by: Option<String>,
}

fn statement(r: &rusqlite::Row<'_>) -> rusqlite::Result<Statement> {
    let scan = match (r.get::<_, Option<String>>(4)?, r.get::<_, Option<i64>>(5)?, r.get::<_, Option<String>>(6)?) {
        (Some(path), Some(size), Some(blake3)) => Some(Scan { path, size: size as u64, blake3 }),
        _ => None,
    };
    Ok(Statement {
        gap: r.get(0)?,
        author: r.get(1)?,
        typed_by: r.get(2)?,
        explained_at: r.get(3)?,
        scan,
        review: r.get(7)?,
        reviewed_by: r.get(8)?,
        review_note: r.get(9)?,
    })
}

const STATEMENT_COLUMNS: &str = "gap_id, author, typed_by, explained_at, scan_path, scan_size, scan_blake3, review, \
                                 reviewed_by, review_note";

fn exemption(r: &rusqlite::Row<'_>) -> rusqlite::Result<Exemption> {
    let time = |i: usize| -> rusqlite::Result<NaiveDateTime> {
        let s: String = r.get(i)?;
        NaiveDateTime::parse_from_str(&s, LOCAL)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
    };
    Ok(Exemption {
        id: r.get(0)?,
        officer: r.get(1)?,
        from: time(2)?,
        to: time(3)?,
        reason: r.get(4)?,
        recorded_by: r.get(5)?,
        approved_by: r.get(6)?,
    })
}

impl Catalog {
    /// Attaches a written explanation to a gap (R6) with its author and scan, awaiting review
    /// when the bureau requires one (S2 §18). An explanation stands: a second one is refused,
    /// unless the head rejected the first.
    ///
    /// # Errors
    /// When the gap does not exist or is explained already, the text or author is empty, or
    /// the write fails.
    pub fn explain_gap(&mut self, e: &Explanation<'_>) -> Result<(), CatalogError> {
        if e.text.trim().is_empty() {
            return Err(CatalogError::Invalid("the explanation is empty / 说明内容为空".into()));
        }
        if e.author.trim().is_empty() {
            return Err(CatalogError::Invalid("name the officer who wrote it (--by BADGE) / 须写明说明人警号".into()));
        }
        let typed_by = self.actor.user.clone();
        let now = Utc::now().to_rfc3339();
        let review = if e.review_required { "pending" } else { "not-required" };
        let tx = begin(&mut self.conn)?;
        let n = tx
            .execute("UPDATE gaps SET explanation = ?2 WHERE id = ?1 AND explanation IS NULL", params![e.gap, e.text])
            .map_err(sql("explaining a gap"))?;
        if n == 0 {
            return Err(CatalogError::Invalid(format!(
                "no unexplained gap {}: an explanation stands unless the head rejects it / 无待说明的中断 {}",
                e.gap, e.gap
            )));
        }
        let (serial, session, after, before): (String, String, u64, u64) = tx
            .query_row("SELECT serial, session, after_seq, before_seq FROM gaps WHERE id = ?1", params![e.gap], |r| {
                Ok((r.get(0)?, r.get(1)?, super::seq_from_sql(r.get(2)?), super::seq_from_sql(r.get(3)?)))
            })
            .map_err(sql("reading a gap"))?;
        let scan = e.scan.as_ref();
        tx.execute(
            "INSERT OR REPLACE INTO gap_statements (gap_id, author, typed_by, explained_at, scan_path, scan_size,
                 scan_blake3, review, reviewed_by, reviewed_at, review_note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL, NULL)",
            params![
                e.gap,
                e.author.trim(),
                typed_by,
                now,
                scan.map(|s| s.path.clone()),
                scan.map(|s| s.size as i64),
                scan.map(|s| s.blake3.clone()),
                review
            ],
        )
        .map_err(sql("recording who wrote an explanation"))?;
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::GapExplained,
            format!("session:{serial}/{session}"),
            json!({
                "gap": e.gap, "after_seq": after, "before_seq": before, "explanation": e.text,
                "author": e.author.trim(), "typed_by": typed_by, "review": review,
                "scan": scan.map(|s| json!({ "path": s.path, "size": s.size, "blake3": s.blake3 })),
            }),
        )?;
        tx.commit().map_err(sql("commit explanation"))
    }

    /// Who wrote a gap's explanation, its scan and its review, if it has one.
    ///
    /// # Errors
    /// When the query fails.
    pub fn gap_statement(&self, gap: i64) -> Result<Option<Statement>, CatalogError> {
        self.conn
            .query_row(&format!("SELECT {STATEMENT_COLUMNS} FROM gap_statements WHERE gap_id = ?1"), [gap], statement)
            .optional()
            .map_err(sql("reading an explanation's statement"))
    }

    /// Every gap's statement, by gap.
    ///
    /// # Errors
    /// When the query fails.
    pub fn gap_statements(&self) -> Result<Vec<Statement>, CatalogError> {
        self.conn
            .prepare(&format!("SELECT {STATEMENT_COLUMNS} FROM gap_statements ORDER BY gap_id"))
            .map_err(sql("listing explanations"))?
            .query_map([], statement)
            .map_err(sql("listing explanations"))?
            .collect::<Result<_, _>>()
            .map_err(sql("listing explanations"))
    }

    /// Records the head's review of a pending explanation (S2 §18): approved, or rejected (the
    /// gap is unexplained again and may be explained anew). The caller has checked that the
    /// reviewer is neither its author nor its typist.
    ///
    /// # Errors
    /// When the explanation is not awaiting review, or the write fails.
    pub fn review_gap(&mut self, gap: i64, approve: bool, note: &str) -> Result<(), CatalogError> {
        let reviewer = self.actor.user.clone();
        let decision = if approve { "approved" } else { "rejected" };
        let tx = begin(&mut self.conn)?;
        let found: Option<(String, String, String, String)> = tx
            .query_row(
                "SELECT s.author, s.review, g.serial, g.session FROM gap_statements s JOIN gaps g ON g.id = s.gap_id
                 WHERE s.gap_id = ?1",
                [gap],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(sql("reading an explanation"))?;
        let Some((author, review, serial, session)) = found.filter(|f| f.1 == "pending") else {
            return Err(CatalogError::Invalid(format!(
                "gap {gap} has no explanation awaiting review / 中断 {gap} 无待审核的说明"
            )));
        };
        debug_assert_eq!(review, "pending");
        tx.execute(
            "UPDATE gap_statements SET review = ?2, reviewed_by = ?3, reviewed_at = ?4, review_note = ?5
             WHERE gap_id = ?1",
            params![gap, decision, reviewer, Utc::now().to_rfc3339(), note],
        )
        .map_err(sql("recording a review"))?;
        if !approve {
            tx.execute("UPDATE gaps SET explanation = NULL WHERE id = ?1", [gap])
                .map_err(sql("reopening a rejected explanation's gap"))?;
        }
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::GapReviewed,
            format!("session:{serial}/{session}"),
            json!({ "gap": gap, "decision": decision, "note": note, "author": author }),
        )?;
        tx.commit().map_err(sql("commit review"))
    }

    /// Enters an approval not to record (S1 §8), awaiting approval at the station. Returns its
    /// number.
    ///
    /// # Errors
    /// When the window is empty, the officer or reason is empty, or the write fails.
    pub fn record_exemption(
        &mut self,
        officer: &str,
        from: NaiveDateTime,
        to: NaiveDateTime,
        reason: &str,
    ) -> Result<i64, CatalogError> {
        if officer.trim().is_empty() || reason.trim().is_empty() {
            return Err(CatalogError::Invalid(
                "an exemption names the officer and the reason / 须写明执法人员和理由".into(),
            ));
        }
        if to <= from {
            return Err(CatalogError::Invalid(format!("the window ends ({to}) before it starts ({from}) / 时段有误")));
        }
        let by = self.actor.user.clone();
        let (from_s, to_s) = (from.format(LOCAL).to_string(), to.format(LOCAL).to_string());
        let tx = begin(&mut self.conn)?;
        tx.execute(
            "INSERT INTO recording_exemptions (officer, from_t, to_t, reason, recorded_by, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![officer.trim(), from_s, to_s, reason.trim(), by, Utc::now().to_rfc3339()],
        )
        .map_err(sql("recording an exemption"))?;
        let id = tx.last_insert_rowid();
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::RecordingExemptionRecorded,
            format!("exemption:{id}"),
            json!({ "exemption": id, "officer": officer.trim(), "from": from_s, "to": to_s, "reason": reason.trim() }),
        )?;
        tx.commit().map_err(sql("commit exemption"))?;
        Ok(id)
    }

    /// Approves an exemption entered by someone else.
    ///
    /// # Errors
    /// When there is no such exemption awaiting approval, the approver entered it, or the
    /// write fails.
    pub fn approve_exemption(&mut self, id: i64) -> Result<Exemption, CatalogError> {
        let by = self.actor.user.clone();
        let tx = begin(&mut self.conn)?;
        let found = tx
            .query_row(
                "SELECT id, officer, from_t, to_t, reason, recorded_by, approved_by FROM recording_exemptions WHERE id = ?1",
                [id],
                exemption,
            )
            .optional()
            .map_err(sql("reading an exemption"))?;
        let Some(mut ex) = found.filter(|e| e.approved_by.is_none()) else {
            return Err(CatalogError::Invalid(format!(
                "no exemption #{id} awaiting approval / 无待批准的不予录像登记 #{id}"
            )));
        };
        if ex.recorded_by == by {
            return Err(CatalogError::Invalid(format!(
                "{by} entered exemption #{id} and cannot approve it; another approver must / 不得批准本人登记的事项"
            )));
        }
        tx.execute(
            "UPDATE recording_exemptions SET approved_by = ?2, approved_at = ?3 WHERE id = ?1",
            params![id, by, Utc::now().to_rfc3339()],
        )
        .map_err(sql("approving an exemption"))?;
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::RecordingExemptionApproved,
            format!("exemption:{id}"),
            json!({
                "exemption": id, "officer": ex.officer, "from": ex.from.format(LOCAL).to_string(),
                "to": ex.to.format(LOCAL).to_string(), "entered_by": ex.recorded_by, "approved_by": by,
            }),
        )?;
        tx.commit().map_err(sql("commit exemption approval"))?;
        ex.approved_by = Some(by);
        Ok(ex)
    }

    /// Every exemption, by number.
    ///
    /// # Errors
    /// When the query fails.
    pub fn exemptions(&self) -> Result<Vec<Exemption>, CatalogError> {
        self.conn
            .prepare(
                "SELECT id, officer, from_t, to_t, reason, recorded_by, approved_by FROM recording_exemptions ORDER BY id",
            )
            .map_err(sql("listing exemptions"))?
            .query_map([], exemption)
            .map_err(sql("listing exemptions"))?
            .collect::<Result<_, _>>()
            .map_err(sql("listing exemptions"))
    }
}
