//! What the dock remembers of each recorder's chain (`chain_sessions`), and the contradictions
//! found against it or within a docking (`contradictions`), each with its custody event in
//! the transaction of the docking's verification (INV-4).
//!
//! A remembered session is written once, by the docking that first saw it, and never changed:
//! the same footage docked again is recognised by it, other records under its id are a
//! contradiction. Sequence numbers are stored as decimal text: a recorder's numbers are
//! unsigned 64-bit, wider than SQLite's signed integers.

use rusqlite::{params, Transaction};
use serde_json::json;

use crate::custody::event::{Action, Actor};
use crate::recorder::format::{hex, parse_hex};
use crate::recorder::memory::{KnownSession, Memory};
use crate::recorder::verify::Contradiction;

use super::store::{append, sql, Catalog, CatalogError};

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
    /// What the dock remembers of a device's chain, in the order it learnt it.
    ///
    /// # Errors
    /// When the query fails, or a stored value is not what this module writes (the catalogue
    /// was edited): the memory is then not used silently.
    pub fn chain_memory(&self, serial: &str) -> Result<Memory, CatalogError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT session, chain_file, docking_id, genesis_link, tail, first_seq, next_seq FROM chain_sessions
                 WHERE serial = ?1 ORDER BY id",
            )
            .map_err(sql("reading the dock's memory of a device"))?;
        let rows = st
            .query_map(params![serial], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .map_err(sql("reading the dock's memory of a device"))?;
        let mut memory = Memory::default();
        for row in rows {
            let (session, chain_file, docking, genesis, tail, first, next) =
                row.map_err(sql("reading the dock's memory of a device"))?;
            let bad = |what: &str, value: &str| {
                CatalogError::Invalid(format!(
                    "the catalogue's memory of recorder {serial}, session {session}: {what} {value:?} is not what evidock \
                     writes (was the catalogue edited? compare it with the session_remembered events of the custody log)"
                ))
            };
            memory.sessions.push(KnownSession {
                genesis: parse_hex(0, "genesis_link", &genesis).map_err(|_| bad("genesis_link", &genesis))?,
                tail: parse_hex(0, "tail", &tail).map_err(|_| bad("tail", &tail))?,
                first_seq: first.parse().map_err(|_| bad("first_seq", &first))?,
                next_seq: next.parse().map_err(|_| bad("next_seq", &next))?,
                session,
                chain_file,
                docking: Some(docking),
            });
        }
        Ok(memory)
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
