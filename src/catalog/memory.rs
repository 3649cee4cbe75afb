//! What the dock remembers of each recorder's chain (`chain_sessions`), and the contradictions
//! found against it or within a docking (`contradictions`), each with its custody event in
//! the transaction of the docking's verification (INV-4).
//!
//! A remembered session is written once, by the docking that first saw it, and never changed:
//! the same footage docked again is recognised by it, other records under its id are a
//! contradiction. Sequence numbers are stored as decimal text: a recorder's numbers are
//! unsigned 64-bit, wider than SQLite's signed integers.
//!
//! The rows are the catalogue's copy; the memory is what the custody log's
//! `session_remembered` events recorded (INV-16, INV-17). Each docking reads the log's memory,
//! compares the rows with it, and raises the alarm when they differ.

use rusqlite::{params, Transaction};
use serde_json::json;

use crate::custody::event::{Action, Actor};
use crate::recorder::format::{hex, parse_hex};
use crate::recorder::memory::{KnownSession, Memory};
use crate::recorder::verify::Contradiction;

use super::alarms::{AlarmKind, NewAlarm};
use super::store::{append, sql, Catalog, CatalogError};

/// The fields of a remembered session after its id, in the order compared and named.
const MEMORY_FIELDS: [&str; 6] = ["chain_file", "docking", "genesis_link", "tail", "first_seq", "next_seq"];

/// What to tell people: English, Chinese.
pub type Words = (String, String);

/// Contradictions of the memory with the log named one by one in an alarm.
const MISMATCHES_SHOWN: usize = 10;

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS chain_sessions (
    id            INTEGER PRIMARY KEY,
    serial        TEXT NOT NULL,
    session       TEXT NOT NULL,
    chain_file    TEXT NOT NULL,
    docking_id    INTEGER NOT NULL REFERENCES dockings(id),
    genesis_link  TEXT NOT NULL,
    tail          TEXT NOT NULL,
    first_seq     TEXT NOT NULL,
    next_seq      TEXT NOT NULL,
    UNIQUE (serial, session)
);
CREATE TABLE IF NOT EXISTS contradictions (
    id            INTEGER PRIMARY KEY,
    docking_id    INTEGER NOT NULL REFERENCES dockings(id),
    serial        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    session       TEXT,
    chain_file    TEXT,
    line          INTEGER,
    seq_first     TEXT,
    seq_last      TEXT,
    detail        TEXT NOT NULL,
    detail_zh     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contradictions_by_docking ON contradictions (docking_id);
"#;

/// Remembers the sessions a docking saw for the first time, one `session_remembered` event
/// each. A session already remembered is left as it was.
pub(super) fn remember(
    actor: &Actor,
    tz: chrono_tz::Tz,
    tx: &Transaction<'_>,
    docking_id: i64,
    serial: &str,
    learnt: &[KnownSession],
) -> Result<(), CatalogError> {
    for k in learnt {
        let added = tx
            .execute(
                "INSERT OR IGNORE INTO chain_sessions (serial, session, chain_file, docking_id, genesis_link, tail,
                    first_seq, next_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    serial,
                    k.session,
                    k.chain_file,
                    docking_id,
                    hex(&k.genesis),
                    hex(&k.tail),
                    k.first_seq.to_string(),
                    k.next_seq.to_string()
                ],
            )
            .map_err(sql("remembering a session"))?;
        if added == 0 {
            continue;
        }
        append(
            actor,
            tz,
            tx,
            Action::SessionRemembered,
            format!("session:{serial}/{}", k.session),
            json!({
                "docking": docking_id, "chain_file": k.chain_file, "genesis_link": hex(&k.genesis),
                "tail": hex(&k.tail), "first_seq": k.first_seq.to_string(), "next_seq": k.next_seq.to_string(),
            }),
        )?;
    }
    Ok(())
}

/// Records a docking's contradictions, one `contradiction_found` event each.
pub(super) fn record_contradictions(
    actor: &Actor,
    tz: chrono_tz::Tz,
    tx: &Transaction<'_>,
    docking_id: i64,
    serial: &str,
    found: &[Contradiction],
) -> Result<(), CatalogError> {
    for c in found {
        let (first, last) = match c.seqs {
            Some((a, b)) => (Some(a.to_string()), Some(b.to_string())),
            None => (None, None),
        };
        tx.execute(
            "INSERT INTO contradictions (docking_id, serial, kind, session, chain_file, line, seq_first, seq_last,
                detail, detail_zh) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                docking_id,
                serial,
                c.kind.as_str(),
                c.session,
                c.chain_file,
                c.line.map(|l| l as i64),
                first,
                last,
                c.detail,
                c.detail_zh
            ],
        )
        .map_err(sql("recording a contradiction"))?;
        append(
            actor,
            tz,
            tx,
            Action::ContradictionFound,
            format!("docking:{docking_id}"),
            json!({
                "serial": serial, "kind": c.kind.as_str(), "kind_zh": c.kind.label_zh(), "session": c.session,
                "chain_file": c.chain_file, "line": c.line, "seq_first": first, "seq_last": last,
                "detail": c.detail, "detail_zh": c.detail_zh,
            }),
        )?;
    }
    Ok(())
}

impl Catalog {
    /// What the dock remembers of a device's chain, in the order it learnt it, as the custody
    /// log recorded it (`session_remembered`), checked against the catalogue's rows (INV-16,
    /// INV-17). A row edited, deleted, or added without its event, is a contradiction of the
    /// catalogue with the log: the alarm is raised (`catalogue_mismatch`, what = dock memory,
    /// once while it stays open) and the log's memory is used; when the two agree again the
    /// alarm clears. Returns the memory and, on a contradiction, what to tell people
    /// (English, Chinese).
    ///
    /// # Errors
    /// When a query or the alarm's write fails.
    pub fn checked_chain_memory(&mut self, serial: &str) -> Result<(Memory, Option<(String, String)>), CatalogError> {
        let logged = self.logged_memory(serial)?;
        let rows = self.memory_rows(serial)?;
        let mut found: Vec<(String, String)> = Vec::new();
        for (session, fields) in &logged {
            match rows.iter().find(|(s, _)| s == session) {
                None => found.push((format!("session {session} deleted"), format!("会话 {session} 被删除"))),
                Some((_, row)) if row != fields => {
                    let names: Vec<&str> = MEMORY_FIELDS
                        .iter()
                        .zip(fields.iter().zip(row.iter()))
                        .filter(|(_, (a, b))| a != b)
                        .map(|(n, _)| *n)
                        .collect();
                    found.push((
                        format!("session {session} edited ({})", names.join(", ")),
                        format!("会话 {session} 被改动（{}）", names.join("、")),
                    ));
                }
                Some(_) => {}
            }
        }
        for (session, _) in rows.iter().filter(|(s, _)| !logged.iter().any(|(l, _)| l == s)) {
            found.push((
                format!("session {session} added without its custody event"),
                format!("会话 {session} 无保管日志事件而被添加"),
            ));
        }
        let mut memory = Memory::default();
        for (session, f) in &logged {
            let known = (|| {
                Some(KnownSession {
                    session: session.clone(),
                    chain_file: f[0].clone(),
                    docking: f[1].parse().ok(),
                    genesis: parse_hex(0, "genesis_link", &f[2]).ok()?,
                    tail: parse_hex(0, "tail", &f[3]).ok()?,
                    first_seq: f[4].parse().ok()?,
                    next_seq: f[5].parse().ok()?,
                })
            })();
            // An event this module did not write is not memory (the log verifies it).
            memory.sessions.extend(known);
        }
        let subject = format!("device:{serial}");
        if found.is_empty() {
            self.clear_alarms(
                AlarmKind::Catalogue,
                Some(&subject),
                "the dock memory agrees with the custody log again",
            )?;
            return Ok((memory, None));
        }
        let shown = |v: Vec<&String>| -> Vec<String> {
            let n = v.len();
            let mut s: Vec<String> = v.into_iter().take(MISMATCHES_SHOWN).cloned().collect();
            if n > MISMATCHES_SHOWN {
                s.push("...".into());
            }
            s
        };
        let message = format!(
            "the catalogue's dock memory of recorder {serial} was edited, it contradicts the custody log: {}; the \
             log's memory (session_remembered) is used",
            shown(found.iter().map(|f| &f.0).collect()).join("; ")
        );
        let message_zh = format!(
            "目录中记录仪 {serial} 的记录仪记忆被改动，与保管日志不符：{}；已改用保管日志中的记忆",
            shown(found.iter().map(|f| &f.1).collect()).join("；")
        );
        tracing::error!(serial, "ALARM: {message}");
        self.raise_alarm(&NewAlarm {
            kind: AlarmKind::Catalogue,
            subject: &subject,
            message: &message,
            message_zh: &message_zh,
            action: Action::CatalogueMismatch,
            details: json!({
                "what": "dock memory", "serial": serial, "text": message, "text_zh": message_zh,
                "findings": found.iter().take(100).map(|f| &f.0).collect::<Vec<_>>(), "total": found.len(),
            }),
        })?;
        Ok((memory, Some((message, message_zh))))
    }

    /// The highest sequence number the custody log saw a device use at earlier dockings (the
    /// expected first number of the next docking is one past it), checked against the
    /// catalogue's copy (`devices.last_seq`) like the dock memory (INV-16, INV-30): the log's
    /// number is the largest of every `segment_verified` and `segment_flagged` event of the
    /// device (its subject's number and `seq_last`, compared unsigned, INV-25). A catalogue
    /// number that differs raises the alarm (`catalogue_mismatch`, what = device last sequence
    /// number, once while it stays open) and the log's number is used; when the two agree again
    /// the alarm clears. Returns the number and, on a contradiction, what to tell people
    /// (English, Chinese).
    ///
    /// # Errors
    /// When a query or the alarm's write fails.
    pub fn checked_last_seq(&mut self, serial: &str) -> Result<(Option<u64>, Option<Words>), CatalogError> {
        let logged = self.logged_last_seq(serial)?;
        let stored = self.device_last_seq(serial)?;
        let subject = format!("device:{serial}/last_seq");
        if stored == logged {
            self.clear_alarms(
                AlarmKind::Catalogue,
                Some(&subject),
                "the device's last sequence number agrees with the custody log again",
            )?;
            return Ok((logged, None));
        }
        let text = |v: Option<u64>| v.map_or_else(|| "none".to_string(), |n| n.to_string());
        let text_zh = |v: Option<u64>| v.map_or_else(|| "无".to_string(), |n| n.to_string());
        let message = format!(
            "the catalogue's last sequence number of recorder {serial} ({}) contradicts the custody log ({}): it was \
             edited; the log's number is used, so the next docking's absent numbers are judged from it",
            text(stored),
            text(logged)
        );
        let message_zh = format!(
            "目录中记录仪 {serial} 的最后序号（{}）与保管日志（{}）不符，已被改动；已改用保管日志中的序号判断下次接入缺失的序号",
            text_zh(stored),
            text_zh(logged)
        );
        tracing::error!(serial, "ALARM: {message}");
        self.raise_alarm(&NewAlarm {
            kind: AlarmKind::Catalogue,
            subject: &subject,
            message: &message,
            message_zh: &message_zh,
            action: Action::CatalogueMismatch,
            details: json!({
                "what": "device last sequence number", "serial": serial, "text": message, "text_zh": message_zh,
                "catalogue": stored.map(|n| n.to_string()), "log": logged.map(|n| n.to_string()),
            }),
        })?;
        Ok((logged, Some((message, message_zh))))
    }

    /// The highest sequence number of a device the custody log's segment events name, unsigned.
    fn logged_last_seq(&self, serial: &str) -> Result<Option<u64>, CatalogError> {
        // A range on the subject index: every subject `segment:<serial>/...`.
        let from = format!("segment:{serial}/");
        let to = format!("segment:{serial}0");
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT subject, details FROM custody_log WHERE subject >= ?1 AND subject < ?2
                 AND action IN ('segment_verified', 'segment_flagged')",
            )
            .map_err(sql("reading the custody log's sequence numbers of a device"))?;
        let rows = st
            .query_map(params![from, to], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(sql("reading the custody log's sequence numbers of a device"))?;
        let mut highest: Option<u64> = None;
        for row in rows {
            let (subject, details) = row.map_err(sql("reading the custody log's sequence numbers of a device"))?;
            let own = subject.strip_prefix(&from).and_then(|n| n.parse::<u64>().ok());
            let last = serde_json::from_str::<serde_json::Value>(&details).ok().and_then(|d| d["seq_last"].as_u64());
            for n in own.into_iter().chain(last) {
                highest = Some(highest.map_or(n, |h| h.max(n)));
            }
        }
        Ok(highest)
    }

    /// The sessions of a device the custody log says the dock remembers, in the order it
    /// learnt them: id and the fields of [`MEMORY_FIELDS`], as the events carry them.
    fn logged_memory(&self, serial: &str) -> Result<Vec<(String, [String; 6])>, CatalogError> {
        let prefix = format!("session:{serial}/");
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT subject, details FROM custody_log WHERE action = 'session_remembered'
                 AND substr(subject, 1, length(?1)) = ?1 ORDER BY seq",
            )
            .map_err(sql("reading the custody log's memory of a device"))?;
        let rows = st
            .query_map(params![prefix], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(sql("reading the custody log's memory of a device"))?;
        let mut out: Vec<(String, [String; 6])> = Vec::new();
        for row in rows {
            let (subject, details) = row.map_err(sql("reading the custody log's memory of a device"))?;
            let Some(session) = subject.strip_prefix(&prefix) else { continue };
            let Ok(d) = serde_json::from_str::<serde_json::Value>(&details) else { continue };
            let text = |k: &str| match &d[k] {
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            // Written once (INV-17): a later event for the same session is not the memory.
            if out.iter().any(|(s, _)| s == session) {
                continue;
            }
            let fields = [
                text("chain_file"),
                text("docking"),
                text("genesis_link"),
                text("tail"),
                text("first_seq"),
                text("next_seq"),
            ];
            out.push((session.to_string(), fields));
        }
        Ok(out)
    }

    /// The catalogue's rows of a device's memory, as stored: id and [`MEMORY_FIELDS`].
    fn memory_rows(&self, serial: &str) -> Result<Vec<(String, [String; 6])>, CatalogError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT session, chain_file, CAST(docking_id AS TEXT), genesis_link, tail, first_seq, next_seq
                 FROM chain_sessions WHERE serial = ?1 ORDER BY id",
            )
            .map_err(sql("reading the dock's memory of a device"))?;
        let rows = st
            .query_map(params![serial], |r| {
                let t = |i: usize| -> rusqlite::Result<String> {
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => String::new(),
                        rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                        rusqlite::types::ValueRef::Real(v) => v.to_string(),
                        rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                            String::from_utf8_lossy(b).into_owned()
                        }
                    })
                };
                Ok((t(0)?, [t(1)?, t(2)?, t(3)?, t(4)?, t(5)?, t(6)?]))
            })
            .map_err(sql("reading the dock's memory of a device"))?;
        rows.collect::<Result<_, _>>().map_err(sql("reading the dock's memory of a device"))
    }

    /// Every contradiction found at a docking: docking, the docking's station clock (wall
    /// text), serial, kind, English and Chinese sentences, in the order found.
    ///
    /// # Errors
    /// When the query fails.
    #[allow(clippy::type_complexity)] // one row of the table
    pub fn all_contradictions(&self) -> Result<Vec<(i64, String, String, String, String, String)>, CatalogError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT c.docking_id, d.dock_clock, c.serial, c.kind, c.detail, c.detail_zh
                 FROM contradictions c JOIN dockings d ON d.id = c.docking_id ORDER BY c.id",
            )
            .map_err(sql("reading contradictions"))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
            .map_err(sql("reading contradictions"))?;
        rows.collect::<Result<_, _>>().map_err(sql("reading contradictions"))
    }

    /// The contradictions found at a docking: kind, English and Chinese sentences.
    ///
    /// # Errors
    /// When the query fails.
    pub fn contradictions(&self, docking_id: i64) -> Result<Vec<(String, String, String)>, CatalogError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT kind, detail, detail_zh FROM contradictions WHERE docking_id = ?1 ORDER BY id")
            .map_err(sql("reading contradictions"))?;
        let rows = st
            .query_map(params![docking_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(sql("reading contradictions"))?;
        rows.collect::<Result<_, _>>().map_err(sql("reading contradictions"))
    }
}
