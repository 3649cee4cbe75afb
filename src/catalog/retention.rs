//! Retention in the catalogue (R7): long-term flags, legal holds, recorded deadlines (never
//! shortened), the purge queue and tombstones; and the facts compliance reports are built
//! from (R3, R6, R11). The arithmetic and rules are in [`crate::retention`] and
//! [`crate::report`]; this module only reads and writes rows.
//!
//! A *recording* is one recording session of one device (`SERIAL/SESSION`), or, for footage
//! without a chain session, one file (`SERIAL/file-ID`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde_json::json;

use crate::custody::event::Action;
use crate::recorder::format::parse_wall;
use crate::report::{ChainVerdict, FileFacts, RecordingFacts};
use crate::retention::{
    Deadline, FileHash, Flag, Hold, PurgeRequest, PurgeState, Recording, Release, Tombstone, Trigger,
};

use super::store::{append, begin, sql, Catalog, CatalogError};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS retention_flags (
    id            INTEGER PRIMARY KEY,
    recording     TEXT NOT NULL,
    trigger_kind  TEXT NOT NULL,
    reason        TEXT NOT NULL,
    set_by        TEXT NOT NULL,
    set_at        TEXT NOT NULL,
    withdrawn_by  TEXT,
    withdrawn_at  TEXT,
    withdraw_why  TEXT
);
CREATE TABLE IF NOT EXISTS holds (
    id            INTEGER PRIMARY KEY,
    recording     TEXT NOT NULL,
    hold          TEXT NOT NULL,
    reason        TEXT NOT NULL,
    set_by        TEXT NOT NULL,
    set_at        TEXT NOT NULL,
    released_by   TEXT,
    released_at   TEXT,
    release_why   TEXT
);
CREATE TABLE IF NOT EXISTS deadlines (
    recording     TEXT PRIMARY KEY,
    deadline      TEXT NOT NULL,
    computed      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS purges (
    id            INTEGER PRIMARY KEY,
    recording     TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    requested_at  TEXT NOT NULL,
    reason        TEXT NOT NULL,
    state         TEXT NOT NULL,
    approved_by   TEXT,
    approved_at   TEXT,
    grace_until   TEXT,
    cancelled_by  TEXT,
    cancelled_at  TEXT,
    cancel_why    TEXT,
    executed_at   TEXT
);
CREATE TABLE IF NOT EXISTS tombstones (
    id            INTEGER PRIMARY KEY,
    purge_id      INTEGER NOT NULL REFERENCES purges(id),
    recording     TEXT NOT NULL,
    body          TEXT NOT NULL,
    executed_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS flag_withdrawals (
    id            INTEGER PRIMARY KEY,
    flag_id       INTEGER NOT NULL,
    recording     TEXT NOT NULL,
    reason        TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    requested_at  TEXT NOT NULL,
    approved_by   TEXT,
    approved_at   TEXT
);
"#;

fn utc(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

fn deadline_text(d: Deadline) -> String {
    match d {
        Deadline::Permanent => "permanent".into(),
        Deadline::At(t) => t.to_rfc3339(),
    }
}

fn parse_deadline(s: &str) -> Option<Deadline> {
    if s == "permanent" {
        Some(Deadline::Permanent)
    } else {
        utc(s).map(Deadline::At)
    }
}

/// A release (of a flag or hold) from columns `by, at, why` starting at `first`.
fn release_at(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Option<Release>> {
    Ok(match (r.get::<_, Option<String>>(first)?, r.get::<_, Option<String>>(first + 1)?) {
        (Some(by), Some(at)) => Some(Release {
            by,
            at: utc(&at).unwrap_or_default(),
            reason: r.get::<_, Option<String>>(first + 2)?.unwrap_or_default(),
        }),
        _ => None,
    })
}

/// Everything known about one recording, gathered from the catalogue.
#[derive(Debug, Clone)]
pub struct RecordingRow {
    /// For retention.
    pub recording: Recording,
    /// For compliance reports.
    pub facts: RecordingFacts,
    /// Archived files: (file id, every path it has in the archive).
    pub files: Vec<(i64, Vec<String>)>,
}

impl Catalog {
    /// Every recording still in the archive, with its flags, holds, cases, recorded deadline
    /// and pending purge, ordered by id.
    ///
    /// # Errors
    /// When a query fails.
    pub fn recordings(&self) -> Result<Vec<RecordingRow>, CatalogError> {
        struct Seg {
            rec: String,
            serial: String,
            file_id: Option<i64>,
            name: Option<String>,
            seq: Option<i64>,
            verdict: String,
            start: Option<String>,
            end: Option<String>,
            badge: Option<String>,
            drift: Option<i64>,
            session: Option<String>,
        }
        let mut st = self
            .conn
            .prepare(
                "SELECT s.serial, s.session, s.file_id, s.name, s.seq, s.verdict, s.start_corrected, s.end_corrected,
                        d.badge, d.drift_s
                 FROM segments s JOIN dockings d ON d.id = s.docking_id
                 WHERE s.id IN (SELECT MAX(id) FROM segments GROUP BY serial, COALESCE(session, ''), COALESCE(name, ''), seq)
                 ORDER BY s.id",
            )
            .map_err(sql("reading recordings"))?;
        let segs: Vec<Seg> = st
            .query_map([], |r| {
                let serial: String = r.get(0)?;
                let session: Option<String> = r.get(1)?;
                let file_id: Option<i64> = r.get(2)?;
                let rec = match (&session, file_id) {
                    (Some(s), _) => format!("{serial}/{s}"),
                    (None, Some(f)) => format!("{serial}/file-{f}"),
                    (None, None) => format!("{serial}/unknown"),
                };
                Ok(Seg {
                    rec,
                    serial,
                    file_id,
                    name: r.get(3)?,
                    seq: r.get(4)?,
                    verdict: r.get(5)?,
                    start: r.get(6)?,
                    end: r.get(7)?,
                    badge: r.get(8)?,
                    drift: r.get(9)?,
                    session,
                })
            })
            .map_err(sql("reading recordings"))?
            .collect::<Result<_, _>>()
            .map_err(sql("reading recordings"))?;

        let mut rows: BTreeMap<String, RecordingRow> = BTreeMap::new();
        for s in segs {
            let t = |v: &Option<String>| v.as_deref().and_then(|x| parse_wall(0, "t", x).ok());
            let (start, end) = (t(&s.start), t(&s.end).or(t(&s.start)));
            let row = rows.entry(s.rec.clone()).or_insert_with(|| RecordingRow {
                recording: Recording {
                    id: s.rec.clone(),
                    device: s.serial.clone(),
                    officer: s.badge.clone(),
                    start: start.unwrap_or_default(),
                    end: end.unwrap_or_default(),
                    stored: None,
                    cases: Vec::new(),
                    flags: Vec::new(),
                    holds: Vec::new(),
                    kept_deadline: None,
                    purge_grace_until: None,
                    files: Vec::new(),
                },
                facts: RecordingFacts {
                    id: s.rec.clone(),
                    device: s.serial.clone(),
                    officer: s.badge.clone(),
                    officer_name: None,
                    start: start.unwrap_or_default(),
                    end: end.unwrap_or_default(),
                    returned: None,
                    extended_until: None,
                    ingested_at: Utc::now(),
                    unexplained_gaps: 0,
                    drift_s: s.drift,
                    chain: Vec::new(),
                    cases: Vec::new(),
                    flags: Vec::new(),
                    files: Vec::new(),
                },
                files: Vec::new(),
            });
            if let Some(st) = start {
                if row.recording.start == NaiveDateTime::default() || st < row.recording.start {
                    row.recording.start = st;
                    row.facts.start = st;
                }
            }
            if let Some(en) = end {
                if en > row.recording.end {
                    row.recording.end = en;
                    row.facts.end = en;
                }
            }
            let segment = s.name.clone().or(s.seq.map(|q| super::seq_from_sql(q).to_string())).unwrap_or_default();
            row.facts.chain.push(ChainVerdict { segment, verdict: s.verdict.clone() });
            let _ = &s.session;
            if let Some(f) = s.file_id {
                if !row.files.iter().any(|(id, _)| *id == f) {
                    row.files.push((f, Vec::new()));
                }
            }
        }
        // Files: paths, hashes, ingest time; purged files leave the recording.
        let mut fst = self
            .conn
            .prepare("SELECT archive_path, size, blake3, stored, purged FROM files WHERE id = ?1")
            .map_err(sql("reading files"))?;
        let mut cst = self
            .conn
            .prepare("SELECT c.number, cf.path, cf.linked FROM case_files cf JOIN cases c ON c.id = cf.case_id WHERE cf.file_id = ?1")
            .map_err(sql("reading case files"))?;
        let mut gone = Vec::new();
        for row in rows.values_mut() {
            let mut kept = Vec::new();
            for (id, _) in &row.files {
                let Some((path, size, blake3, stored, purged)) = fst
                    .query_row(params![id], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, Option<String>>(4)?,
                        ))
                    })
                    .optional()
                    .map_err(sql("reading files"))?
                else {
                    continue;
                };
                if purged.is_some() {
                    continue;
                }
                let mut paths = vec![path.clone()];
                let cases = cst
                    .query_map(params![id], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?))
                    })
                    .map_err(sql("reading case files"))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(sql("reading case files"))?;
                for (number, p, linked) in cases {
                    if linked {
                        paths.push(p);
                    }
                    if !row.recording.cases.contains(&number) {
                        row.recording.cases.push(number.clone());
                        row.facts.cases.push(number);
                    }
                }
                if let Some(t) = utc(&stored) {
                    row.facts.ingested_at = row.facts.ingested_at.min(t);
                    let local = t.with_timezone(&self.tz).naive_local();
                    row.recording.stored = Some(row.recording.stored.map_or(local, |s| s.min(local)));
                }
                row.recording.files.push(FileHash { path: path.clone(), size: size as u64, blake3 });
                row.facts.files.push(FileFacts { path, size: size as u64, readable: true });
                kept.push((*id, paths));
            }
            row.files = kept;
            if row.files.is_empty() {
                gone.push(row.recording.id.clone());
            }
        }
        for g in gone {
            rows.remove(&g);
        }
        // Flags, holds, deadlines, purges in grace, unexplained gaps.
        for row in rows.values_mut() {
            let id = row.recording.id.clone();
            let flags = self.flags(&id)?;
            row.recording.flags = flags.iter().map(|(_, f)| f.clone()).collect();
            row.facts.flags = row.recording.flags.clone();
            row.recording.holds = self.holds(&id)?.into_iter().map(|(_, h)| h).collect();
            row.recording.kept_deadline = self
                .conn
                .query_row("SELECT deadline FROM deadlines WHERE recording = ?1", params![id], |r| {
                    r.get::<_, String>(0)
                })
                .optional()
                .map_err(sql("reading a deadline"))?
                .and_then(|d| parse_deadline(&d));
            row.recording.purge_grace_until = self
                .conn
                .query_row(
                    "SELECT grace_until FROM purges WHERE recording = ?1 AND state = 'grace' ORDER BY id DESC LIMIT 1",
                    params![id],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map_err(sql("reading purges"))?
                .and_then(|t| utc(&t));
            if let Some((serial, session)) = id.split_once('/') {
                let n: i64 = self
                    .conn
                    .query_row(
                        "SELECT COUNT(*) FROM gaps WHERE serial = ?1 AND session = ?2 AND reason IS NULL AND explanation IS NULL",
                        params![serial, session],
                        |r| r.get(0),
                    )
                    .map_err(sql("counting gaps"))?;
                row.facts.unexplained_gaps = n as u32;
            }
        }
        Ok(rows.into_values().collect())
    }

    /// One recording by id.
    ///
    /// # Errors
    /// When it does not exist or a query fails.
    pub fn recording(&self, id: &str) -> Result<RecordingRow, CatalogError> {
        self.recordings()?.into_iter().find(|r| r.recording.id == id).ok_or_else(|| {
            CatalogError::Invalid(format!("no recording {id} in the archive (see `evidock retention due`)"))
        })
    }

    /// Records a deadline as revised by [`crate::retention::revise`] (never shortened). A
    /// deadline first recorded or moved is a custody event (`deadline_recorded`), so that the
    /// log, not only this table, says how long the recording is kept.
    ///
    /// # Errors
    /// When the write fails.
    pub fn keep_deadline(&mut self, recording: &str, deadline: Deadline) -> Result<(), CatalogError> {
        let text = deadline_text(deadline);
        let tx = begin(&mut self.conn)?;
        let previous: Option<String> = tx
            .query_row("SELECT deadline FROM deadlines WHERE recording = ?1", params![recording], |r| r.get(0))
            .optional()
            .map_err(sql("reading a deadline"))?;
        tx.execute(
            "INSERT INTO deadlines (recording, deadline, computed) VALUES (?1, ?2, ?3)
             ON CONFLICT(recording) DO UPDATE SET deadline = ?2, computed = ?3",
            params![recording, text, Utc::now().to_rfc3339()],
        )
        .map_err(sql("recording a deadline"))?;
        if previous.as_deref() != Some(text.as_str()) {
            append(
                &self.actor,
                self.tz,
                &tx,
                Action::DeadlineRecorded,
                format!("recording:{recording}"),
                json!({ "deadline": text, "previous": previous }),
            )?;
        }
        tx.commit().map_err(sql("commit deadline"))
    }

    /// The flags of a recording with their row ids.
    ///
    /// # Errors
    /// When the query fails.
    pub fn flags(&self, recording: &str) -> Result<Vec<(i64, Flag)>, CatalogError> {
        self.conn
            .prepare(
                "SELECT id, trigger_kind, reason, set_by, set_at, withdrawn_by, withdrawn_at, withdraw_why
                 FROM retention_flags WHERE recording = ?1 ORDER BY id",
            )
            .map_err(sql("reading flags"))?
            .query_map(params![recording], |r| {
                let withdrawn = release_at(r, 5)?;
                Ok((
                    r.get(0)?,
                    Flag {
                        trigger: Trigger::parse(&r.get::<_, String>(1)?).unwrap_or(Trigger::Other),
                        reason: r.get(2)?,
                        set_by: r.get(3)?,
                        set_at: utc(&r.get::<_, String>(4)?).unwrap_or_default(),
                        withdrawn,
                    },
                ))
            })
            .map_err(sql("reading flags"))?
            .collect::<Result<_, _>>()
            .map_err(sql("reading flags"))
    }

    /// The holds of a recording with their row ids.
    ///
    /// # Errors
    /// When the query fails.
    pub fn holds(&self, recording: &str) -> Result<Vec<(i64, Hold)>, CatalogError> {
        self.conn
            .prepare(
                "SELECT id, hold, reason, set_by, set_at, released_by, released_at, release_why
                 FROM holds WHERE recording = ?1 ORDER BY id",
            )
            .map_err(sql("reading holds"))?
            .query_map(params![recording], |r| {
                let released = release_at(r, 5)?;
                Ok((
                    r.get(0)?,
                    Hold {
                        id: r.get(1)?,
                        reason: r.get(2)?,
                        set_by: r.get(3)?,
                        set_at: utc(&r.get::<_, String>(4)?).unwrap_or_default(),
                        released,
                    },
                ))
            })
            .map_err(sql("reading holds"))?
            .collect::<Result<_, _>>()
            .map_err(sql("reading holds"))
    }

    /// Sets a long-term flag (R7) with who, when and why.
    ///
    /// # Errors
    /// When the recording does not exist, the reason is empty, or the write fails.
    pub fn set_flag(&mut self, recording: &str, trigger: Trigger, reason: &str) -> Result<i64, CatalogError> {
        self.recording(recording)?;
        let now = Utc::now();
        let flag =
            Flag::new(trigger, &self.actor.user, now, reason).map_err(|e| CatalogError::Invalid(e.to_string()))?;
        let tx = begin(&mut self.conn)?;
        tx.execute(
            "INSERT INTO retention_flags (recording, trigger_kind, reason, set_by, set_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![recording, trigger.as_str(), flag.reason, flag.set_by, now.to_rfc3339()],
        )
        .map_err(sql("setting a flag"))?;
        let id = tx.last_insert_rowid();
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::RetentionFlagSet,
            format!("recording:{recording}"),
            json!({ "flag": id, "trigger": trigger.as_str(), "trigger_zh": trigger.label_zh(), "reason": flag.reason }),
        )?;
        tx.commit().map_err(sql("commit flag"))?;
        Ok(id)
    }

    /// Asks for a flag's withdrawal, with the reason; the flag stays in force until another
    /// person approves ([`Catalog::approve_flag_withdrawal`]). Returns the recording.
    ///
    /// # Errors
    /// When there is no such active flag, one is already asked for, the reason is empty, or
    /// the write fails.
    pub fn request_flag_withdrawal(&mut self, flag_id: i64, reason: &str) -> Result<String, CatalogError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(CatalogError::Invalid("a reason is required to withdraw a flag / 撤销须说明理由".into()));
        }
        let tx = begin(&mut self.conn)?;
        let recording: Option<String> = tx
            .query_row(
                "SELECT recording FROM retention_flags WHERE id = ?1 AND withdrawn_at IS NULL",
                params![flag_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("reading a flag"))?;
        let Some(recording) = recording else {
            return Err(CatalogError::Invalid(format!("no active flag {flag_id} / 无此有效标记")));
        };
        let pending: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM flag_withdrawals WHERE flag_id = ?1 AND approved_at IS NULL",
                params![flag_id],
                |r| r.get(0),
            )
            .map_err(sql("reading withdrawals"))?;
        if pending > 0 {
            return Err(CatalogError::Invalid(format!(
                "the withdrawal of flag {flag_id} awaits approval already / 已申请撤销，待批准"
            )));
        }
        tx.execute(
            "INSERT INTO flag_withdrawals (flag_id, recording, reason, requested_by, requested_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![flag_id, recording, reason, self.actor.user, Utc::now().to_rfc3339()],
        )
        .map_err(sql("asking for a withdrawal"))?;
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::FlagWithdrawalRequested,
            format!("flag:{flag_id}"),
            json!({ "flag": flag_id, "recording": recording, "reason": reason }),
        )?;
        tx.commit().map_err(sql("commit withdrawal request"))?;
        Ok(recording)
    }

    /// The pending withdrawal of a flag: (recording, reason, who asked).
    ///
    /// # Errors
    /// When none is pending.
    pub fn pending_flag_withdrawal(&self, flag_id: i64) -> Result<(String, String, String), CatalogError> {
        self.conn
            .query_row(
                "SELECT recording, reason, requested_by FROM flag_withdrawals
                 WHERE flag_id = ?1 AND approved_at IS NULL ORDER BY id DESC LIMIT 1",
                params![flag_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(sql("reading withdrawals"))?
            .ok_or_else(|| {
                CatalogError::Invalid(format!(
                    "no withdrawal of flag {flag_id} awaits approval (`retention unflag {flag_id} --reason ...` first)"
                ))
            })
    }

    /// Approves a flag's pending withdrawal (by another person than the one who asked): the
    /// flag is withdrawn and the recording's deadline returns to `returned`, in one transaction
    /// with both events (`retention_flag_withdrawn`, `deadline_returned`).
    ///
    /// # Errors
    /// Self-approval, nothing pending, or a failed write.
    pub fn approve_flag_withdrawal(&mut self, flag_id: i64, returned: Deadline) -> Result<(), CatalogError> {
        let (recording, reason, requested_by) = self.pending_flag_withdrawal(flag_id)?;
        let user = self.actor.user.clone();
        if user == requested_by {
            return Err(CatalogError::Invalid(format!(
                "{user} asked for this withdrawal and cannot approve it; another person must / 不得批准本人申请"
            )));
        }
        let now = Utc::now().to_rfc3339();
        let tx = begin(&mut self.conn)?;
        let n = tx
            .execute(
                "UPDATE retention_flags SET withdrawn_by = ?2, withdrawn_at = ?3, withdraw_why = ?4
                 WHERE id = ?1 AND withdrawn_at IS NULL",
                params![flag_id, requested_by, now, reason],
            )
            .map_err(sql("withdrawing a flag"))?;
        if n == 0 {
            return Err(CatalogError::Invalid(format!("no active flag {flag_id}")));
        }
        tx.execute(
            "UPDATE flag_withdrawals SET approved_by = ?2, approved_at = ?3 WHERE flag_id = ?1 AND approved_at IS NULL",
            params![flag_id, user, now],
        )
        .map_err(sql("approving a withdrawal"))?;
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::RetentionFlagWithdrawn,
            format!("flag:{flag_id}"),
            json!({ "reason": reason, "requested_by": requested_by, "approved_by": user }),
        )?;
        let previous: Option<String> = tx
            .query_row("SELECT deadline FROM deadlines WHERE recording = ?1", params![recording], |r| r.get(0))
            .optional()
            .map_err(sql("reading a deadline"))?;
        let text = deadline_text(returned);
        tx.execute(
            "INSERT INTO deadlines (recording, deadline, computed) VALUES (?1, ?2, ?3)
             ON CONFLICT(recording) DO UPDATE SET deadline = ?2, computed = ?3",
            params![recording, text, now],
        )
        .map_err(sql("returning a deadline"))?;
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::DeadlineReturned,
            format!("recording:{recording}"),
            json!({ "deadline": text, "previous": previous, "flag": flag_id }),
        )?;
        tx.commit().map_err(sql("commit flag withdrawal"))
    }

    /// Places a legal hold.
    ///
    /// # Errors
    /// When the recording does not exist, the hold id or reason is empty, or the write fails.
    pub fn set_hold(&mut self, recording: &str, hold: &str, reason: &str) -> Result<i64, CatalogError> {
        self.recording(recording)?;
        let now = Utc::now();
        let h = Hold::new(hold, &self.actor.user, now, reason).map_err(|e| CatalogError::Invalid(e.to_string()))?;
        let tx = begin(&mut self.conn)?;
        tx.execute(
            "INSERT INTO holds (recording, hold, reason, set_by, set_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![recording, h.id, h.reason, h.set_by, now.to_rfc3339()],
        )
        .map_err(sql("placing a hold"))?;
        let id = tx.last_insert_rowid();
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::HoldPlaced,
            format!("recording:{recording}"),
            json!({ "hold": h.id, "row": id, "reason": h.reason }),
        )?;
        tx.commit().map_err(sql("commit hold"))?;
        Ok(id)
    }

    /// Releases a legal hold.
    ///
    /// # Errors
    /// When there is no such active hold, the reason is empty, or the write fails.
    pub fn release_hold(&mut self, row: i64, reason: &str) -> Result<(), CatalogError> {
        if reason.trim().is_empty() {
            return Err(CatalogError::Invalid("a reason is required to release a hold".into()));
        }
        let user = self.actor.user.clone();
        let tx = begin(&mut self.conn)?;
        let n = tx
            .execute(
                "UPDATE holds SET released_by = ?2, released_at = ?3, release_why = ?4 WHERE id = ?1 AND released_at IS NULL",
                params![row, user, Utc::now().to_rfc3339(), reason],
            )
            .map_err(sql("releasing a hold"))?;
        if n == 0 {
            return Err(CatalogError::Invalid(format!("no active hold {row}")));
        }
        append(&self.actor, self.tz, &tx, Action::HoldReleased, format!("hold:{row}"), json!({ "reason": reason }))?;
        tx.commit().map_err(sql("commit hold release"))
    }

    /// A purge request by row id.
    ///
    /// # Errors
    /// When it does not exist or the query fails.
    pub fn purge(&self, id: i64) -> Result<PurgeRequest, CatalogError> {
        self.purges()?
            .into_iter()
            .find(|p| p.id == id.to_string())
            .ok_or_else(|| CatalogError::Invalid(format!("no purge request {id}")))
    }

    /// Every purge request, oldest first.
    ///
    /// # Errors
    /// When the query fails.
    pub fn purges(&self) -> Result<Vec<PurgeRequest>, CatalogError> {
        self.conn
            .prepare(
                "SELECT id, recording, requested_by, requested_at, reason, state, approved_by, approved_at, grace_until,
                        cancelled_by, cancelled_at, cancel_why, executed_at FROM purges ORDER BY id",
            )
            .map_err(sql("reading purges"))?
            .query_map([], |r| {
                let t = |i: usize| -> rusqlite::Result<DateTime<Utc>> {
                    Ok(r.get::<_, Option<String>>(i)?.and_then(|s| utc(&s)).unwrap_or_default())
                };
                let state = match r.get::<_, String>(5)?.as_str() {
                    "grace" => PurgeState::Grace { approved_by: r.get(6)?, approved_at: t(7)?, until: t(8)? },
                    "cancelled" => PurgeState::Cancelled {
                        by: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
                        at: t(10)?,
                        reason: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
                    },
                    "executed" => PurgeState::Executed { approved_by: r.get(6)?, approved_at: t(7)?, at: t(12)? },
                    _ => PurgeState::AwaitingApproval,
                };
                Ok(PurgeRequest {
                    id: r.get::<_, i64>(0)?.to_string(),
                    recording: r.get(1)?,
                    requested_by: r.get(2)?,
                    requested_at: t(3)?,
                    reason: r.get(4)?,
                    state,
                })
            })
            .map_err(sql("reading purges"))?
            .collect::<Result<_, _>>()
            .map_err(sql("reading purges"))
    }

    /// Stores a new purge request (already checked by [`PurgeRequest::new`]).
    ///
    /// # Errors
    /// When the write fails.
    pub fn insert_purge(&mut self, p: &PurgeRequest) -> Result<i64, CatalogError> {
        let tx = begin(&mut self.conn)?;
        tx.execute(
            "INSERT INTO purges (recording, requested_by, requested_at, reason, state) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![p.recording, p.requested_by, p.requested_at.to_rfc3339(), p.reason, p.state.as_str()],
        )
        .map_err(sql("requesting a purge"))?;
        let id = tx.last_insert_rowid();
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::PurgeRequested,
            format!("recording:{}", p.recording),
            json!({ "purge": id, "reason": p.reason }),
        )?;
        tx.commit().map_err(sql("commit purge request"))?;
        Ok(id)
    }

    /// Stores a purge request's new state (approved, cancelled) with its event.
    ///
    /// # Errors
    /// When the write fails.
    pub fn update_purge(&mut self, p: &PurgeRequest) -> Result<(), CatalogError> {
        let tx = begin(&mut self.conn)?;
        let (action, details) = match &p.state {
            PurgeState::Grace { approved_by, approved_at, until } => {
                tx.execute(
                    "UPDATE purges SET state = 'grace', approved_by = ?2, approved_at = ?3, grace_until = ?4 WHERE id = ?1",
                    params![p.id, approved_by, approved_at.to_rfc3339(), until.to_rfc3339()],
                )
                .map_err(sql("approving a purge"))?;
                (Action::PurgeApproved, json!({ "purge": p.id, "grace_until": until.to_rfc3339() }))
            }
            PurgeState::Cancelled { by, at, reason } => {
                tx.execute(
                    "UPDATE purges SET state = 'cancelled', cancelled_by = ?2, cancelled_at = ?3, cancel_why = ?4 WHERE id = ?1",
                    params![p.id, by, at.to_rfc3339(), reason],
                )
                .map_err(sql("cancelling a purge"))?;
                (Action::PurgeCancelled, json!({ "purge": p.id, "reason": reason }))
            }
            other => {
                return Err(CatalogError::Invalid(format!("purge {} cannot be stored as {}", p.id, other.as_str())))
            }
        };
        append(&self.actor, self.tz, &tx, action, format!("recording:{}", p.recording), details)?;
        tx.commit().map_err(sql("commit purge"))
    }

    /// Records an executed purge: files marked purged, the tombstone, the event. Called after
    /// the files were removed from the archive.
    ///
    /// # Errors
    /// When the write fails.
    pub fn record_purge(&mut self, p: &PurgeRequest, file_ids: &[i64], tomb: &Tombstone) -> Result<(), CatalogError> {
        let now = tomb.executed_at.to_rfc3339();
        let body = json!({
            "recording": tomb.recording, "device": tomb.device, "officer": tomb.officer,
            "start": tomb.start.to_string(), "end": tomb.end.to_string(), "cases": tomb.cases,
            "files": tomb.files.iter().map(|f| json!({ "path": f.path, "size": f.size, "blake3": f.blake3 })).collect::<Vec<_>>(),
            "deadline": tomb.deadline.to_rfc3339(), "request": tomb.request, "requested_by": tomb.requested_by,
            "requested_at": tomb.requested_at.to_rfc3339(), "reason": tomb.reason, "approved_by": tomb.approved_by,
            "approved_at": tomb.approved_at.to_rfc3339(), "executed_at": now,
        });
        let tx = begin(&mut self.conn)?;
        for id in file_ids {
            tx.execute("UPDATE files SET purged = ?2 WHERE id = ?1", params![id, now])
                .map_err(sql("marking a file purged"))?;
        }
        tx.execute("UPDATE purges SET state = 'executed', executed_at = ?2 WHERE id = ?1", params![p.id, now])
            .map_err(sql("closing a purge"))?;
        tx.execute(
            "INSERT INTO tombstones (purge_id, recording, body, executed_at) VALUES (?1, ?2, ?3, ?4)",
            params![p.id, p.recording, body.to_string(), now],
        )
        .map_err(sql("writing a tombstone"))?;
        append(&self.actor, self.tz, &tx, Action::PurgeExecuted, format!("recording:{}", p.recording), body)?;
        tx.commit().map_err(sql("commit purge execution"))
    }

    /// Tombstones, oldest first, as JSON text.
    ///
    /// # Errors
    /// When the query fails.
    pub fn tombstones(&self) -> Result<Vec<String>, CatalogError> {
        self.conn
            .prepare("SELECT body FROM tombstones ORDER BY id")
            .map_err(sql("reading tombstones"))?
            .query_map([], |r| r.get(0))
            .map_err(sql("reading tombstones"))?
            .collect::<Result<_, _>>()
            .map_err(sql("reading tombstones"))
    }
}
