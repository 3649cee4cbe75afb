//! The custody log in SQLite: the `custody_log` table, its append-only triggers, appending,
//! reading and verifying; the `custody_checkpoints` table of signed tree heads, making
//! checkpoints and verifying the log against them.
//!
//! Owns: the table layout and the SQL. Hashes are stored as 32-byte BLOBs; every other field
//! as TEXT exactly as hashed.
//! Must never: begin, commit or roll back a transaction ([`append`] runs inside the caller's
//! write transaction, together with the catalogue rows it records), update or delete a row,
//! or read the whole log into memory ([`verify`] streams).
//!
//! The triggers refuse `UPDATE` and `DELETE` outright, and refuse an `INSERT` that does not
//! follow the last event (wrong seq or `prev_hash`), which also blocks `INSERT OR REPLACE`.
//! They guard against mistakes and casual edits; the hash chain is what detects a determined
//! edit made by dropping them, and the signed checkpoints (kept here, in a side file and
//! elsewhere) what detects a truncated or wholly rewritten tail (R11).

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OpenFlags, Row};

use super::chain::{LogReport, Verifier};
use super::checkpoint::{Checkpoint, NoteError, NoteSigner, NoteVerifier};
use super::event::{seal, timestamps, NewEvent, StoredEvent};
use super::files::append_note;
use super::merkle::{event_leaf, Hash, SubtreeHasher, TreeBuilder};
use super::CustodyError;

/// The tables and their triggers. Idempotent: creating them on an older database adds the
/// checkpoint table.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS custody_log (
    seq           INTEGER PRIMARY KEY CHECK (seq >= 1),
    ts_utc        TEXT NOT NULL,
    ts_local      TEXT NOT NULL,
    actor_user    TEXT NOT NULL,
    actor_role    TEXT NOT NULL,
    actor_officer TEXT,
    action        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    details       TEXT NOT NULL,
    prev_hash     BLOB NOT NULL CHECK (length(prev_hash) = 32),
    hash          BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;
CREATE TRIGGER IF NOT EXISTS custody_log_no_update BEFORE UPDATE ON custody_log
BEGIN
    SELECT RAISE(ABORT, 'custody_log is append-only: UPDATE refused');
END;
CREATE TRIGGER IF NOT EXISTS custody_log_no_delete BEFORE DELETE ON custody_log
BEGIN
    SELECT RAISE(ABORT, 'custody_log is append-only: DELETE refused');
END;
CREATE TRIGGER IF NOT EXISTS custody_log_append_only BEFORE INSERT ON custody_log
WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM custody_log)
  OR NEW.prev_hash IS NOT coalesce((SELECT hash FROM custody_log ORDER BY seq DESC LIMIT 1), zeroblob(32))
BEGIN
    SELECT RAISE(ABORT, 'custody_log is append-only: a new event must follow the last one (seq = last seq + 1, prev_hash = last hash)');
END;
CREATE TABLE IF NOT EXISTS custody_checkpoints (
    id        INTEGER PRIMARY KEY CHECK (id >= 1),
    made_utc  TEXT NOT NULL,
    tree_size INTEGER NOT NULL CHECK (tree_size >= 0),
    root_hash BLOB NOT NULL CHECK (length(root_hash) = 32),
    note      TEXT NOT NULL
) STRICT;
CREATE TRIGGER IF NOT EXISTS custody_checkpoints_no_update BEFORE UPDATE ON custody_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'custody_checkpoints is append-only: UPDATE refused');
END;
CREATE TRIGGER IF NOT EXISTS custody_checkpoints_no_delete BEFORE DELETE ON custody_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'custody_checkpoints is append-only: DELETE refused');
END;
CREATE TRIGGER IF NOT EXISTS custody_checkpoints_append_only BEFORE INSERT ON custody_checkpoints
WHEN NEW.id IS NOT (SELECT coalesce(max(id), 0) + 1 FROM custody_checkpoints)
  OR NEW.tree_size < (SELECT coalesce(max(tree_size), 0) FROM custody_checkpoints)
BEGIN
    SELECT RAISE(ABORT, 'custody_checkpoints is append-only: a new checkpoint must follow the last one (id = last id + 1, tree_size not smaller)');
END;
";

pub(crate) const COLUMNS: &str =
    "seq, ts_utc, ts_local, actor_user, actor_role, actor_officer, action, subject, details, prev_hash, hash";

fn sql(doing: &'static str) -> impl FnOnce(rusqlite::Error) -> CustodyError {
    move |source| CustodyError::Sqlite { doing, source }
}

/// Creates the `custody_log` table and its triggers when they do not exist.
///
/// # Errors
/// When SQLite refuses (read-only database, I/O error).
pub fn create_schema(conn: &Connection) -> Result<(), CustodyError> {
    conn.execute_batch(SCHEMA).map_err(sql("creating the custody_log table"))?;
    conn.execute_batch(super::tree::SCHEMA).map_err(sql("creating the custody_tree table"))
}

/// Opens the database at `path` read-only, for the command line.
///
/// # Errors
/// [`CustodyError::Missing`] when the file does not exist, [`CustodyError::Open`] when it
/// cannot be opened or is not a database, [`CustodyError::NoLog`] when it has no log table.
pub fn open_read_only(path: &Path) -> Result<Connection, CustodyError> {
    open_existing(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
}

/// Opens the existing database at `path` to write (for `log checkpoint`), and creates the
/// checkpoint table if the database predates it.
///
/// # Errors
/// As [`open_read_only`], and when the tables cannot be created.
pub fn open_read_write(path: &Path) -> Result<Connection, CustodyError> {
    let conn = open_existing(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    create_schema(&conn)?;
    Ok(conn)
}

fn open_existing(path: &Path, mode: OpenFlags) -> Result<Connection, CustodyError> {
    let open = |source| CustodyError::Open { path: path.to_path_buf(), source };
    match path.try_exists() {
        Ok(true) => {}
        Ok(false) => return Err(CustodyError::Missing { path: path.to_path_buf() }),
        Err(source) => return Err(CustodyError::Access { path: path.to_path_buf(), source }),
    }
    let conn = Connection::open_with_flags(path, mode | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(open)?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(open)?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'custody_log'", [], |r| r.get(0))
        .map_err(open)?;
    if tables == 0 {
        return Err(CustodyError::NoLog { path: path.to_path_buf() });
    }
    Ok(conn)
}

/// The last event's seq and hash (`None`: the log is empty).
///
/// # Errors
/// When the query fails or the last row is unreadable.
pub fn head(conn: &Connection) -> Result<Option<(u64, [u8; 32])>, CustodyError> {
    let doing = "reading the last event";
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM custody_log ORDER BY seq DESC LIMIT 1"))
        .map_err(sql(doing))?;
    let mut rows = stmt.query([]).map_err(sql(doing))?;
    match rows.next().map_err(sql(doing))? {
        None => Ok(None),
        Some(row) => match decode(row) {
            Ok(ev) => Ok(Some((ev.seq, ev.hash))),
            Err((seq, reason)) => Err(CustodyError::Corrupt { seq, reason }),
        },
    }
}

/// Appends an event written at `now`, with its local time in the station time zone `tz`, and
/// returns it as stored.
///
/// The caller holds a write transaction (`BEGIN IMMEDIATE`, or
/// `Connection::transaction_with_behavior(Immediate)`) that also holds the catalogue rows the
/// event records, so both commit or neither does. This function never begins or commits.
/// Without a transaction it still cannot fork the chain: the insert trigger refuses an event
/// that does not follow the last one.
///
/// # Errors
/// When the details hold a float, the last row is unreadable, or SQLite refuses the insert.
pub fn append(
    conn: &Connection,
    ev: &NewEvent,
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Result<StoredEvent, CustodyError> {
    let stored = seal(head(conn)?, ev, now, tz)?;
    let seq = i64::try_from(stored.seq)
        .map_err(|_| CustodyError::Corrupt { seq: stored.seq, reason: "seq does not fit SQLite's integer".into() })?;
    conn.prepare_cached(&format!(
        "INSERT INTO custody_log ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            seq,
            stored.ts_utc,
            stored.ts_local,
            stored.actor_user,
            stored.actor_role,
            stored.actor_officer,
            stored.action,
            stored.subject,
            stored.details,
            &stored.prev_hash[..],
            &stored.hash[..],
        ])
    })
    .map_err(sql("appending an event"))?;
    Ok(stored)
}

fn kind(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}

/// Reads one row as an event, or says what is wrong with it.
pub(crate) fn decode(row: &Row<'_>) -> Result<StoredEvent, (u64, String)> {
    let get = |i: usize| row.get_ref(i).map_err(|e| (0, e.to_string()));
    let seq = match get(0)? {
        ValueRef::Integer(s) if s >= 1 => s as u64,
        ValueRef::Integer(s) => return Err((0, format!("seq is {s}"))),
        other => return Err((0, format!("seq is {}", kind(other)))),
    };
    let text = |i: usize, name: &str| -> Result<String, (u64, String)> {
        match get(i).map_err(|(_, r)| (seq, r))? {
            ValueRef::Text(t) => String::from_utf8(t.to_vec()).map_err(|_| (seq, format!("{name} is not valid UTF-8"))),
            other => Err((seq, format!("{name} is {}, not text", kind(other)))),
        }
    };
    let hash = |i: usize, name: &str| -> Result<[u8; 32], (u64, String)> {
        match get(i).map_err(|(_, r)| (seq, r))? {
            ValueRef::Blob(b) => {
                <[u8; 32]>::try_from(b).map_err(|_| (seq, format!("{name} is {} bytes, not 32", b.len())))
            }
            other => Err((seq, format!("{name} is {}, not a blob", kind(other)))),
        }
    };
    let actor_officer = match get(5).map_err(|(_, r)| (seq, r))? {
        ValueRef::Null => None,
        _ => Some(text(5, "actor_officer")?),
    };
    Ok(StoredEvent {
        seq,
        ts_utc: text(1, "ts_utc")?,
        ts_local: text(2, "ts_local")?,
        actor_user: text(3, "actor_user")?,
        actor_role: text(4, "actor_role")?,
        actor_officer,
        action: text(6, "action")?,
        subject: text(7, "subject")?,
        details: text(8, "details")?,
        prev_hash: hash(9, "prev_hash")?,
        hash: hash(10, "hash")?,
    })
}

fn read_all(conn: &Connection, query: &str, args: impl rusqlite::Params) -> Result<Vec<StoredEvent>, CustodyError> {
    let mut stmt = conn.prepare_cached(query).map_err(sql("reading events"))?;
    let mut rows = stmt.query(args).map_err(sql("reading events"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql("reading events"))? {
        out.push(decode(row).map_err(|(seq, reason)| CustodyError::Corrupt { seq, reason })?);
    }
    Ok(out)
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The last `n` events, oldest first.
///
/// # Errors
/// When the query fails or a row is unreadable.
pub fn tail(conn: &Connection, n: usize) -> Result<Vec<StoredEvent>, CustodyError> {
    read_all(
        conn,
        &format!("SELECT * FROM (SELECT {COLUMNS} FROM custody_log ORDER BY seq DESC LIMIT ?1) ORDER BY seq"),
        [clamp(n as u64)],
    )
}

/// Up to `limit` events after `after_seq`, oldest first (`after_seq` 0: from the start).
///
/// # Errors
/// When the query fails or a row is unreadable.
pub fn since(conn: &Connection, after_seq: u64, limit: usize) -> Result<Vec<StoredEvent>, CustodyError> {
    read_all(
        conn,
        &format!("SELECT {COLUMNS} FROM custody_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"),
        [clamp(after_seq), clamp(limit as u64)],
    )
}

/// Verifies the whole log, streaming rows in seq order through [`Verifier`]. An unreadable
/// row is a finding, not an error. Runs as one statement, so it sees one snapshot.
///
/// # Errors
/// Only when the log could not be read at all.
pub fn verify(conn: &Connection) -> Result<LogReport, CustodyError> {
    let doing = "reading events to verify";
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM custody_log ORDER BY seq")).map_err(sql(doing))?;
    let mut rows = stmt.query([]).map_err(sql(doing))?;
    let mut v = Verifier::new();
    while let Some(row) = rows.next().map_err(sql(doing))? {
        match decode(row) {
            Ok(ev) => v.push(&ev),
            Err((_, reason)) => v.push_malformed(reason),
        }
    }
    Ok(v.finish())
}

// ---------------------------------------------------------------------------------------------
// The Merkle tree and signed checkpoints (docs/CUSTODY-LOG.md §9-§12).

/// The row order of the log: leaf `i` of the Merkle tree is the `i`-th row in seq order (in a
/// sound log, event `i + 1`).
fn each_row(
    conn: &Connection,
    limit: Option<u64>,
    mut f: impl FnMut(Result<StoredEvent, (u64, String)>) -> bool,
) -> Result<(), CustodyError> {
    let doing = "reading events";
    let mut stmt =
        conn.prepare(&format!("SELECT {COLUMNS} FROM custody_log ORDER BY seq LIMIT ?1")).map_err(sql(doing))?;
    let mut rows = stmt.query([limit.map_or(-1, clamp)]).map_err(sql(doing))?;
    while let Some(row) = rows.next().map_err(sql(doing))? {
        if !f(decode(row)) {
            break;
        }
    }
    Ok(())
}

/// Like [`each_row`], for readers that need every row sound: stops at the first unreadable row
/// and returns it as [`CustodyError::Corrupt`].
fn each_sound_row(conn: &Connection, limit: Option<u64>, mut f: impl FnMut(StoredEvent)) -> Result<(), CustodyError> {
    let mut bad = None;
    each_row(conn, limit, |row| match row {
        Ok(ev) => {
            f(ev);
            true
        }
        Err(e) => {
            bad = Some(e);
            false
        }
    })?;
    match bad {
        Some((seq, reason)) => Err(CustodyError::Corrupt { seq, reason }),
        None => Ok(()),
    }
}

/// The rows whose seq is in `wanted` (those within the first `size`), each with its inclusion
/// proof in the tree of the first `size` events (a custody extract's entries), from stored tree
/// nodes (INV-23): O(log n) stored hashes and one row per entry, never every leaf of the log.
///
/// # Errors
/// When the log cannot be read, a row it needs is missing or unreadable, or the log holds fewer
/// than `size` rows.
pub fn extract_entries(
    conn: &Connection,
    size: u64,
    wanted: &std::collections::BTreeSet<u64>,
) -> Result<Vec<(StoredEvent, Vec<Hash>)>, CustodyError> {
    let held = super::tree::log_size(conn)?;
    if held < size {
        return Err(CustodyError::Unsound {
            reason: format!("the log holds {held} events, fewer than the {size} its checkpoint signs"),
        });
    }
    let reader = super::tree::NodeReader::new(conn)?;
    let mut out = Vec::with_capacity(wanted.len());
    for &seq in wanted.range(1..=size) {
        let ranges = super::merkle::inclusion_ranges(seq - 1, size)
            .map_err(|e| CustodyError::Unsound { reason: format!("event {seq}: {e}") })?;
        let proof = ranges.iter().map(|r| reader.range_hash(r.clone())).collect::<Result<Vec<_>, _>>()?;
        let mut event = None;
        super::tree::each_event(conn, seq - 1, seq, |ev| event = Some(ev))?;
        let event = event.ok_or_else(|| CustodyError::Unsound { reason: format!("event {seq} is missing") })?;
        out.push((event, proof));
    }
    Ok(out)
}

/// A checkpoint kept in the `custody_checkpoints` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Its row number: 1, 2, 3, …
    pub id: u64,
    /// When it was made (UTC, RFC 3339 with milliseconds). Not signed.
    pub made_utc: String,
    /// The signed note, exactly as signed.
    pub note: String,
    /// The tree size column (a copy of what the note says, for queries).
    pub tree_size: u64,
    /// The root hash column (a copy of what the note says, for queries).
    pub root: Hash,
}

fn checkpoints_table_exists(conn: &Connection) -> Result<bool, CustodyError> {
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'custody_checkpoints'",
            [],
            |r| r.get(0),
        )
        .map_err(sql("looking for the custody_checkpoints table"))?;
    Ok(n > 0)
}

/// Every stored checkpoint, oldest first (none when the table does not exist: a database from
/// before checkpoints). A row of the wrong shape is an error naming it.
///
/// # Errors
/// When the query fails or a row is unreadable.
pub fn checkpoints(conn: &Connection) -> Result<Vec<StoredCheckpoint>, CustodyError> {
    if !checkpoints_table_exists(conn)? {
        return Ok(Vec::new());
    }
    let doing = "reading checkpoints";
    let mut stmt = conn
        .prepare("SELECT id, made_utc, tree_size, root_hash, note FROM custody_checkpoints ORDER BY id")
        .map_err(sql(doing))?;
    let mut rows = stmt.query([]).map_err(sql(doing))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql(doing))? {
        let id: i64 = row.get(0).map_err(sql(doing))?;
        let corrupt =
            |reason: String| CustodyError::Corrupt { seq: 0, reason: format!("checkpoint row {id}: {reason}") };
        let size: i64 = row.get(2).map_err(|e| corrupt(e.to_string()))?;
        let root: Vec<u8> = row.get(3).map_err(|e| corrupt(e.to_string()))?;
        out.push(StoredCheckpoint {
            id: u64::try_from(id).map_err(|_| corrupt("negative id".into()))?,
            made_utc: row.get(1).map_err(|e| corrupt(e.to_string()))?,
            tree_size: u64::try_from(size).map_err(|_| corrupt("negative tree size".into()))?,
            root: <Hash>::try_from(root.as_slice()).map_err(|_| corrupt("root_hash is not 32 bytes".into()))?,
            note: row.get(4).map_err(|e| corrupt(e.to_string()))?,
        });
    }
    Ok(out)
}

/// Whether a new checkpoint would cover more than the last one: the log has events the last
/// checkpoint does not cover, or there is no checkpoint yet. For the daemon's timer.
///
/// # Errors
/// When the queries fail.
pub fn checkpoint_due(conn: &Connection) -> Result<bool, CustodyError> {
    let events: i64 =
        conn.query_row("SELECT count(*) FROM custody_log", [], |r| r.get(0)).map_err(sql("counting events"))?;
    if !checkpoints_table_exists(conn)? {
        return Ok(true);
    }
    let last: Option<i64> = conn
        .query_row("SELECT tree_size FROM custody_checkpoints ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
        .map_err(sql("reading the last checkpoint"))
        .map(Some)
        .or_else(|e| match e {
            CustodyError::Sqlite { source: rusqlite::Error::QueryReturnedNoRows, .. } => Ok(None),
            e => Err(e),
        })?;
    Ok(last.is_none_or(|s| events > s))
}

/// The action that records the station's verifier key in the log (see [`recorded_key`]).
pub const KEY_RECORD_ACTION: &str = "signing_key_recorded";

/// The verifier key (`<name>+<id>+<key>`) the log last recorded with a
/// `signing_key_recorded` event, if any. Uses the action index when it exists; a record whose
/// details hold no `verifier_key` is ignored.
///
/// # Errors
/// When the query fails.
pub fn recorded_key(conn: &Connection) -> Result<Option<String>, CustodyError> {
    let doing = "reading the recorded signing key";
    let mut stmt =
        conn.prepare("SELECT details FROM custody_log WHERE action = ?1 ORDER BY seq DESC").map_err(sql(doing))?;
    let mut rows = stmt.query([KEY_RECORD_ACTION]).map_err(sql(doing))?;
    while let Some(row) = rows.next().map_err(sql(doing))? {
        let details: String = row.get(0).map_err(sql(doing))?;
        if let Some(k) = key_of_record(&details) {
            return Ok(Some(k));
        }
    }
    Ok(None)
}

fn key_of_record(details: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(details).ok()?;
    v["verifier_key"].as_str().map(str::to_string)
}

/// Why a checkpoint may not be signed although the log's own chain is sound: it would
/// contradict a checkpoint already signed (in the side file), or the key is not the one the
/// log recorded. Signing anyway would make a fork of the station's own log (INV-12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contradiction {
    /// A note in the side file does not open with this station's key: signed by another key
    /// (the key was replaced), or altered.
    SideNoteForeign {
        /// The note's position (1-based) in the side file.
        index: usize,
        /// What the note check said.
        reason: String,
    },
    /// The log holds fewer events than a checkpoint of the side file covers: the database lost
    /// its WAL, or was rolled back to an earlier copy.
    SideTruncated {
        /// The note's position (1-based) in the side file.
        index: usize,
        /// The checkpoint's tree size.
        size: u64,
        /// Events in the log.
        events: u64,
    },
    /// The log's first `size` events do not lead to the root a side-file checkpoint signed.
    SideRewritten {
        /// The note's position (1-based) in the side file.
        index: usize,
        /// The checkpoint's tree size.
        size: u64,
    },
    /// The log recorded another verifier key than the one signing now.
    KeyReplaced {
        /// The key the log recorded.
        recorded: String,
        /// The key signing now.
        current: String,
    },
}

impl Contradiction {
    /// A stable one-word name.
    pub fn kind(&self) -> &'static str {
        match self {
            Contradiction::SideNoteForeign { .. } => "side_file_foreign",
            Contradiction::SideTruncated { .. } => "rolled_back",
            Contradiction::SideRewritten { .. } => "forked",
            Contradiction::KeyReplaced { .. } => "key_replaced",
        }
    }

    /// What is wrong, in English.
    pub fn reason(&self) -> String {
        match self {
            Contradiction::SideNoteForeign { index, reason } => format!(
                "checkpoint {index} of the side file does not open with this station's key ({reason}): the signing key was replaced or the side file altered"
            ),
            Contradiction::SideTruncated { index, size, events } => format!(
                "checkpoint {index} of the side file covers {size} events but the log holds {events}: the database lost its WAL or was rolled back to an earlier copy"
            ),
            Contradiction::SideRewritten { index, size } => format!(
                "the log's first {size} events do not match checkpoint {index} of the side file: the database was replaced or rewritten, and a new checkpoint would fork the log"
            ),
            Contradiction::KeyReplaced { recorded, current } => format!(
                "the custody log recorded the signing key {recorded}, but the key in the state folder is {current}: the signing key was replaced"
            ),
        }
    }

    /// What is wrong, in Chinese.
    pub fn reason_zh(&self) -> String {
        match self {
            Contradiction::SideNoteForeign { index, .. } => {
                format!("检查点文件中第 {index} 个检查点无法用本站公钥验证：签名密钥被更换或检查点文件被篡改")
            }
            Contradiction::SideTruncated { index, size, events } => format!(
                "检查点文件中第 {index} 个检查点覆盖 {size} 条事件，日志仅有 {events} 条：数据库丢失了预写日志（WAL）或被回滚到旧副本"
            ),
            Contradiction::SideRewritten { index, size } => {
                format!("日志前 {size} 条事件与检查点文件中第 {index} 个检查点不符：数据库被替换或改写，再签名将使日志分叉")
            }
            Contradiction::KeyReplaced { .. } => "保管日志记录的签名公钥与状态目录中的密钥不同：签名密钥被更换".to_string(),
        }
    }
}

/// Makes a checkpoint of the whole log now: computes the tree head over every event, checks
/// that the log is sound, extends the last stored checkpoint and every checkpoint in
/// `side_file`, and that the signing key is the one the log recorded; then signs, stores the
/// checkpoint in `custody_checkpoints` and appends its note to `side_file` (if given).
///
/// Like [`append`], it never begins or commits: in autocommit mode the row is written at once;
/// inside the caller's transaction it commits with it. The side file is written after the
/// row is inserted.
///
/// # Errors
/// [`CustodyError::Unsound`] when the chain is broken or the log does not extend the last
/// checkpoint (a log never signs over tampering); [`CustodyError::Contradiction`] when the
/// log no longer extends a checkpoint of the side file or the key was replaced (the station
/// never signs a fork); otherwise when reading, inserting or the side file fails.
pub fn checkpoint(
    conn: &Connection,
    signer: &NoteSigner,
    side_file: Option<&Path>,
    now: DateTime<Utc>,
) -> Result<StoredCheckpoint, CustodyError> {
    let verifier = signer.verifier();
    // Every checkpoint the station signed into its side file must still hold (INV-12).
    let mut side = Vec::new();
    if let Some(path) = side_file.filter(|p| p.exists()) {
        for (i, note) in super::files::read_notes(path)?.iter().enumerate() {
            match Checkpoint::open(note, &verifier) {
                Ok(cp) => side.push((i + 1, cp)),
                Err(e) => {
                    return Err(CustodyError::Contradiction(Contradiction::SideNoteForeign {
                        index: i + 1,
                        reason: e.to_string(),
                    }))
                }
            }
        }
    }
    let current_key = verifier.encode();
    if let Some(recorded) = recorded_key(conn)?.filter(|k| *k != current_key) {
        return Err(CustodyError::Contradiction(Contradiction::KeyReplaced { recorded, current: current_key }));
    }
    let last = checkpoints(conn)?.pop();
    let last_cp = match &last {
        None => None,
        Some(s) => Some(Checkpoint::open(&s.note, &verifier).map_err(|e| CustodyError::Unsound {
            reason: format!("the last checkpoint (#{}) does not verify with this station's key: {e}", s.id),
        })?),
    };
    // Signing reads what is new since the last checkpoint, and stored tree nodes for the rest
    // (INV-23): the chain of the new events, linked to the last signed one; the stored nodes
    // brought up to date from those events; the roots of the last checkpoint and of every
    // side-file checkpoint recomputed from the nodes. An old row edited after its nodes were
    // stored is never signed over (the nodes keep what was signed); the full verification
    // names it.
    let events = super::tree::log_size(conn)?;
    let signed = last_cp.as_ref().map_or(0, |c| c.size);
    if let (Some(s), Some(c)) = (&last, &last_cp) {
        if c.size > events {
            return Err(CustodyError::Unsound {
                reason: format!(
                    "the log holds {events} events, fewer than the {} of the last checkpoint (#{}): it was cut back",
                    c.size, s.id
                ),
            });
        }
    }
    let mut chain = match signed {
        0 => Verifier::new(),
        n => {
            let mut last_hash = None;
            super::tree::each_event(conn, n - 1, n, |ev| last_hash = Some(ev.hash))
                .map_err(|e| CustodyError::Unsound { reason: format!("the last signed event {n}: {e}") })?;
            Verifier::resume(n, last_hash.unwrap_or_default())
        }
    };
    // One read serves the chain and the stored nodes: the leaves of the events the nodes do
    // not cover yet are kept (at most `KNOWN_LEAVES`, so memory stays bounded however long
    // the station went unsigned; the rest are read again by the sync).
    const KNOWN_LEAVES: usize = 1 << 18;
    let from = signed.min(super::tree::covered(conn)?);
    let mut known: Vec<Hash> = Vec::new();
    let mut keep = true;
    each_row_after(conn, from, |row| match row {
        Ok(ev) => {
            if keep && ev.seq == from + known.len() as u64 + 1 && known.len() < KNOWN_LEAVES {
                known.push(event_leaf(&ev));
            } else {
                keep = false;
            }
            if ev.seq > signed {
                chain.push(&ev);
            }
        }
        Err((seq, reason)) => {
            keep = false;
            if seq == 0 || seq > signed {
                chain.push_malformed(reason);
            }
        }
    })?;
    let report = chain.finish();
    if let Some(f) = &report.finding {
        return Err(CustodyError::Unsound {
            reason: format!("the log is broken at event {}: {}", f.seq(), f.reason()),
        });
    }
    // Outside a caller's transaction, the write lock is taken first (`BEGIN IMMEDIATE`, which
    // waits out another writer under the busy timeout): a deferred transaction that reads the
    // tree and then writes it fails at once with "database is locked" when another connection
    // wrote in between (SQLite's snapshot rule in WAL mode), which a busy daemon does.
    let own = conn.is_autocommit();
    conn.execute_batch(if own { "BEGIN IMMEDIATE" } else { "SAVEPOINT custody_sign" })
        .map_err(sql("signing a checkpoint"))?;
    let result =
        sign_from_nodes(conn, signer, side_file, now, events, &side, last.as_ref(), last_cp.as_ref(), (from, &known));
    let close = match (own, result.is_ok()) {
        (true, true) => "COMMIT",
        (true, false) => "ROLLBACK",
        (false, true) => "RELEASE custody_sign",
        (false, false) => "ROLLBACK TO custody_sign; RELEASE custody_sign",
    };
    conn.execute_batch(close).map_err(sql("signing a checkpoint"))?;
    result
}

/// Rows after seq `after`, in seq order.
fn each_row_after(
    conn: &Connection,
    after: u64,
    mut f: impl FnMut(Result<StoredEvent, (u64, String)>),
) -> Result<(), CustodyError> {
    let doing = "reading events";
    let mut stmt =
        conn.prepare(&format!("SELECT {COLUMNS} FROM custody_log WHERE seq > ?1 ORDER BY seq")).map_err(sql(doing))?;
    let mut rows = stmt.query([clamp(after)]).map_err(sql(doing))?;
    while let Some(row) = rows.next().map_err(sql(doing))? {
        f(decode(row));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn sign_from_nodes(
    conn: &Connection,
    signer: &NoteSigner,
    side_file: Option<&Path>,
    now: DateTime<Utc>,
    events: u64,
    side: &[(usize, Checkpoint)],
    last: Option<&StoredCheckpoint>,
    last_cp: Option<&Checkpoint>,
    (first, known): (u64, &[Hash]),
) -> Result<StoredCheckpoint, CustodyError> {
    super::tree::sync_known(conn, first, known)?;
    let root_at = |size: u64| {
        super::tree::root_at(conn, size)
            .map_err(|e| CustodyError::Unsound { reason: format!("the tree of the first {size} events: {e}") })
    };
    if let (Some(s), Some(c)) = (last, last_cp) {
        if root_at(c.size)? != c.root {
            return Err(CustodyError::Unsound {
                reason: format!(
                    "the first {} events no longer match the last checkpoint (#{}): they were rewritten",
                    c.size, s.id
                ),
            });
        }
    }
    for (index, c) in side {
        if c.size > events {
            return Err(CustodyError::Contradiction(Contradiction::SideTruncated {
                index: *index,
                size: c.size,
                events,
            }));
        }
        if root_at(c.size)? != c.root {
            return Err(CustodyError::Contradiction(Contradiction::SideRewritten { index: *index, size: c.size }));
        }
    }
    let tree = FinalTree { size: events, root: root_at(events)? };
    let cp = Checkpoint { origin: signer.name().to_string(), size: tree.size, root: tree.root, extensions: vec![] };
    let note = cp.sign(signer)?;
    let made_utc = timestamps(now, chrono_tz::UTC).0;
    let id = last.map_or(1, |s| s.id + 1);
    conn.execute(
        "INSERT INTO custody_checkpoints (id, made_utc, tree_size, root_hash, note) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![clamp(id), made_utc, clamp(cp.size), &cp.root[..], note],
    )
    .map_err(sql("storing a checkpoint"))?;
    if let Some(path) = side_file {
        append_note(path, &note)?;
    }
    Ok(StoredCheckpoint { id, made_utc, note, tree_size: cp.size, root: cp.root })
}

/// The tree a checkpoint signs.
struct FinalTree {
    size: u64,
    root: Hash,
}

/// Where a checkpoint being verified came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointSource {
    /// The `custody_checkpoints` table, row `id`.
    Stored {
        /// The row.
        id: u64,
    },
    /// A checkpoint file (a side file, an exported copy), note `index` (1-based) in it.
    File {
        /// The file as given.
        path: String,
        /// The note's position in the file.
        index: usize,
    },
}

impl std::fmt::Display for CheckpointSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointSource::Stored { id } => write!(f, "stored checkpoint #{id}"),
            CheckpointSource::File { path, index } => write!(f, "checkpoint {index} in {path}"),
        }
    }
}

/// What is wrong with one checkpoint, or what it shows is wrong with the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointProblem {
    /// The note does not open with the station's verifier key: altered, forged, signed by
    /// another key, or not a checkpoint.
    Forged(NoteError),
    /// The stored row's `tree_size` or `root_hash` column differs from its signed note.
    RowDisagrees {
        /// The column.
        column: &'static str,
    },
    /// Stored checkpoint rows are missing (their ids skip).
    RowsDeleted {
        /// The last row before the gap (0: none).
        after_id: u64,
        /// How many ids are missing.
        missing: u64,
    },
    /// The log holds fewer events than the checkpoint covers: events were removed from the end.
    Truncated {
        /// The checkpoint's tree size.
        size: u64,
        /// Events in the log.
        events: u64,
    },
    /// The log's first `size` events do not hash to the checkpoint's root: an event at or
    /// after `from` was changed, removed or inserted.
    Rewritten {
        /// The checkpoint's tree size.
        size: u64,
        /// The first event that may differ: one after the largest matching checkpoint below.
        from: u64,
    },
    /// A row the checkpoint covers could not be read, so its root could not be computed.
    Unreadable {
        /// The checkpoint's tree size.
        size: u64,
        /// The position (1-based) of the unreadable row.
        at: u64,
    },
}

impl CheckpointProblem {
    /// A stable one-word name.
    pub fn kind(&self) -> &'static str {
        match self {
            CheckpointProblem::Forged(_) => "forged",
            CheckpointProblem::RowDisagrees { .. } => "row_disagrees",
            CheckpointProblem::RowsDeleted { .. } => "checkpoint_deleted",
            CheckpointProblem::Truncated { .. } => "truncated",
            CheckpointProblem::Rewritten { .. } => "rewritten",
            CheckpointProblem::Unreadable { .. } => "unreadable",
        }
    }

    /// The events this problem shows to hold the first bad one (`first..=last`), if it is
    /// about events.
    pub fn bad_range(&self) -> Option<(u64, u64)> {
        match self {
            CheckpointProblem::Truncated { size, events } => Some((events + 1, *size)),
            CheckpointProblem::Rewritten { size, from } => Some((*from, *size)),
            CheckpointProblem::Unreadable { size, at } => Some((*at, *size)),
            _ => None,
        }
    }

    /// What is wrong, in English.
    pub fn reason(&self) -> String {
        match self {
            CheckpointProblem::Forged(e) => format!("forged or altered checkpoint: {e}"),
            CheckpointProblem::RowDisagrees { column } => {
                format!("the stored {column} differs from the signed note: the row was edited")
            }
            CheckpointProblem::RowsDeleted { after_id, missing } => {
                format!("{missing} stored checkpoint row(s) after #{after_id} were deleted")
            }
            CheckpointProblem::Truncated { size, events } => format!(
                "the checkpoint covers {size} events but the log holds {events}: events {}..={size} were removed from the end (truncated)",
                events + 1
            ),
            CheckpointProblem::Rewritten { size, from } => format!(
                "the first {size} events do not match the checkpoint: events in {from}..={size} were changed, removed or inserted (rewritten)"
            ),
            CheckpointProblem::Unreadable { size, at } => {
                format!("row {at} is unreadable, so the first {size} events cannot be checked against the checkpoint")
            }
        }
    }

    /// What is wrong, in Chinese.
    pub fn reason_zh(&self) -> String {
        match self {
            CheckpointProblem::Forged(e) => format!("检查点被伪造或篡改：{e}"),
            CheckpointProblem::RowDisagrees { column } => format!("存储的 {column} 与签名内容不符：记录被篡改"),
            CheckpointProblem::RowsDeleted { after_id, missing } => {
                format!("第 {after_id} 号检查点之后有 {missing} 条检查点记录被删除")
            }
            CheckpointProblem::Truncated { size, events } => format!(
                "检查点覆盖 {size} 条事件，日志仅有 {events} 条：第 {} 至 {size} 条事件被从末尾删除（截断）",
                events + 1
            ),
            CheckpointProblem::Rewritten { size, from } => {
                format!("前 {size} 条事件与检查点不符：第 {from} 至 {size} 条事件被修改、删除或插入（重写）")
            }
            CheckpointProblem::Unreadable { size, at } => {
                format!("第 {at} 行无法读取，无法用检查点核对前 {size} 条事件")
            }
        }
    }
}

/// One checkpoint as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointCheck {
    /// Where it came from.
    pub source: CheckpointSource,
    /// What it says, when its note opened.
    pub checkpoint: Option<Checkpoint>,
    /// What is wrong (`None`: it verifies and the log matches it).
    pub problem: Option<CheckpointProblem>,
}

/// The result of verifying the log against its chain and against checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// The hash chain's verdict.
    pub chain: LogReport,
    /// Leaves in the tree: the rows read, up to the first unreadable one.
    pub tree_size: u64,
    /// The tree's root over those leaves.
    pub root: Hash,
    /// Every checkpoint checked, stored ones first, then those from files, in order.
    pub checkpoints: Vec<CheckpointCheck>,
}

impl AuditReport {
    /// Whether the chain is sound and every checkpoint verifies and matches.
    pub fn intact(&self) -> bool {
        self.chain.intact() && self.checkpoints.iter().all(|c| c.problem.is_none())
    }

    /// The checkpoints with a problem.
    pub fn bad_checkpoints(&self) -> impl Iterator<Item = &CheckpointCheck> {
        self.checkpoints.iter().filter(|c| c.problem.is_some())
    }

    /// The first event shown to be bad, by the chain or by a checkpoint, with its kind and
    /// reasons (English, Chinese). `None` when no event is bad (a forged checkpoint alone is
    /// not a bad event).
    pub fn first_bad_event(&self) -> Option<(u64, &'static str, String, String)> {
        let chain = self.chain.finding.as_ref().map(|f| (f.seq(), f.kind(), f.reason(), f.reason_zh()));
        let chain_seq = chain.as_ref().map_or(u64::MAX, |c| c.0);
        // The chain's finding is exact; a checkpoint only says the first bad event lies in a
        // range. A range that holds the chain's finding, or lies after it, adds nothing; one
        // that ends before it shows an earlier change the chain could not see.
        let cps = self.bad_checkpoints().filter_map(|c| {
            let p = c.problem.as_ref()?;
            let (first, last) = p.bad_range()?;
            (last < chain_seq).then(|| {
                (first, p.kind(), format!("{}: {}", c.source, p.reason()), format!("{}：{}", c.source, p.reason_zh()))
            })
        });
        chain.into_iter().chain(cps).min_by_key(|(s, ..)| *s)
    }
}

/// Verifies the log's hash chain and every stored checkpoint and every note in `external`
/// (`(file name, note)` pairs) with `verifier`: each checkpoint's signature, and that the tree
/// of the log's first `size` events has the checkpoint's root. Streams the log once.
///
/// # Errors
/// Only when the log or the checkpoint table could not be read at all.
pub fn audit(
    conn: &Connection,
    verifier: &NoteVerifier,
    external: &[(String, String)],
) -> Result<AuditReport, CustodyError> {
    audit_with(conn, Some(verifier), external, &mut |_| {})
}

/// [`audit`] (or, without a verifier, [`audit_unsigned`]), handing every readable row to
/// `visit` in `seq` order from the same single pass: what a reader folds is trusted only when
/// the report is intact.
///
/// # Errors
/// As [`audit`]; without a verifier, [`CustodyError::NoVerifier`] when there are checkpoints
/// to check.
pub fn audit_with(
    conn: &Connection,
    verifier: Option<&NoteVerifier>,
    external: &[(String, String)],
    visit: &mut dyn FnMut(&StoredEvent),
) -> Result<AuditReport, CustodyError> {
    let Some(verifier) = verifier else {
        let stored = checkpoints(conn)?.len();
        if stored + external.len() > 0 {
            return Err(CustodyError::NoVerifier { checkpoints: stored + external.len() });
        }
        return check_against_log(conn, Vec::new(), visit);
    };
    let mut checks = Vec::new();
    let mut expect_id = 1;
    for s in checkpoints(conn)? {
        if s.id > expect_id {
            checks.push(CheckpointCheck {
                source: CheckpointSource::Stored { id: s.id },
                checkpoint: None,
                problem: Some(CheckpointProblem::RowsDeleted { after_id: expect_id - 1, missing: s.id - expect_id }),
            });
        }
        expect_id = s.id + 1;
        let source = CheckpointSource::Stored { id: s.id };
        match Checkpoint::open(&s.note, verifier) {
            Err(e) => {
                checks.push(CheckpointCheck { source, checkpoint: None, problem: Some(CheckpointProblem::Forged(e)) })
            }
            Ok(c) => {
                let problem = if c.size != s.tree_size {
                    Some(CheckpointProblem::RowDisagrees { column: "tree_size" })
                } else if c.root != s.root {
                    Some(CheckpointProblem::RowDisagrees { column: "root_hash" })
                } else {
                    None
                };
                checks.push(CheckpointCheck { source, checkpoint: Some(c), problem });
            }
        }
    }
    let mut per_file: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (path, note) in external {
        let index = per_file.entry(path.as_str()).and_modify(|i| *i += 1).or_insert(1);
        let source = CheckpointSource::File { path: path.clone(), index: *index };
        match Checkpoint::open(note, verifier) {
            Err(e) => {
                checks.push(CheckpointCheck { source, checkpoint: None, problem: Some(CheckpointProblem::Forged(e)) })
            }
            Ok(c) => checks.push(CheckpointCheck { source, checkpoint: Some(c), problem: None }),
        }
    }

    check_against_log(conn, checks, visit)
}

/// Verifies the hash chain and computes the tree head, for a log with no checkpoints (when no
/// verifier key exists yet).
///
/// # Errors
/// [`CustodyError::NoVerifier`] when the log has stored checkpoints (they need the key), or when
/// the log could not be read.
pub fn audit_unsigned(conn: &Connection) -> Result<AuditReport, CustodyError> {
    let stored = checkpoints(conn)?.len();
    if stored > 0 {
        return Err(CustodyError::NoVerifier { checkpoints: stored });
    }
    check_against_log(conn, Vec::new(), &mut |_| {})
}

/// One pass over the log: the chain, and the root at every size a sound checkpoint names.
fn check_against_log(
    conn: &Connection,
    mut checks: Vec<CheckpointCheck>,
    visit: &mut dyn FnMut(&StoredEvent),
) -> Result<AuditReport, CustodyError> {
    let sizes: std::collections::BTreeSet<u64> =
        checks.iter().filter(|c| c.problem.is_none()).filter_map(|c| c.checkpoint.as_ref().map(|c| c.size)).collect();
    let mut roots: std::collections::BTreeMap<u64, Hash> = std::collections::BTreeMap::new();
    let mut chain = Verifier::new();
    let mut tree = TreeBuilder::new();
    let mut unreadable_at = None;
    if sizes.contains(&0) {
        roots.insert(0, tree.root());
    }
    each_row(conn, None, |row| {
        match row {
            Ok(ev) => {
                chain.push(&ev);
                visit(&ev);
                if unreadable_at.is_none() {
                    tree.push(event_leaf(&ev));
                    if sizes.contains(&tree.size()) {
                        roots.insert(tree.size(), tree.root());
                    }
                }
            }
            Err((_, reason)) => {
                chain.push_malformed(reason);
                unreadable_at.get_or_insert(tree.size() + 1);
            }
        }
        true
    })?;

    let mut good = std::collections::BTreeSet::new();
    for c in checks.iter_mut().filter(|c| c.problem.is_none()) {
        let Some(cp) = &c.checkpoint else { continue };
        c.problem = match (roots.get(&cp.size), unreadable_at) {
            (Some(r), _) if *r == cp.root => {
                good.insert(cp.size);
                None
            }
            (Some(_), _) => Some(CheckpointProblem::Rewritten { size: cp.size, from: 0 }),
            (None, Some(at)) => Some(CheckpointProblem::Unreadable { size: cp.size, at }),
            (None, None) => Some(CheckpointProblem::Truncated { size: cp.size, events: tree.size() }),
        };
    }
    for c in &mut checks {
        if let Some(CheckpointProblem::Rewritten { size, from }) = &mut c.problem {
            *from = good.range(..*size).next_back().map_or(1, |g| g + 1);
        }
    }
    Ok(AuditReport { chain: chain.finish(), tree_size: tree.size(), root: tree.root(), checkpoints: checks })
}

/// The first `size` events of the log as a Merkle tree: its root, and the tree hashes of
/// `ranges` (a proof's nodes), from one pass. Also captures the row at leaf `capture`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeScan {
    /// Rows read (at most `size`; fewer when the log is shorter).
    pub events: u64,
    /// The root over the rows read.
    pub root: Hash,
    /// The tree hashes of the ranges, when the log reached `size`.
    pub nodes: Option<Vec<Hash>>,
    /// The captured row.
    pub captured: Option<StoredEvent>,
}

/// The root of the first `size` events, the tree hashes of `ranges` and the row at leaf index
/// `capture`, from stored tree nodes (INV-23): O(log n) stored hashes and at most a few dozen
/// events. Gives exactly what [`scan_tree_recomputing`] gives for a sound log.
///
/// # Errors
/// When the log cannot be read, or an event the tree needs is missing or unreadable.
pub fn scan_tree(
    conn: &Connection,
    size: u64,
    ranges: &[std::ops::Range<u64>],
    capture: Option<u64>,
) -> Result<TreeScan, CustodyError> {
    let events = super::tree::log_size(conn)?;
    let reader = super::tree::NodeReader::new(conn)?;
    if events < size {
        return Ok(TreeScan { events, root: reader.range_hash(0..events)?, nodes: None, captured: None });
    }
    let root = reader.range_hash(0..size)?;
    let nodes = ranges.iter().map(|r| reader.range_hash(r.clone())).collect::<Result<Vec<_>, _>>()?;
    let mut captured = None;
    if let Some(i) = capture.filter(|i| *i < size) {
        super::tree::each_event(conn, i, i + 1, |ev| captured = Some(ev))?;
    }
    Ok(TreeScan { events: size, root, nodes: Some(nodes), captured })
}

/// Reads the first `size` rows once, computing the root, the tree hashes of `ranges` and
/// capturing the row at leaf index `capture`: the reference [`scan_tree`] is checked against,
/// reading the whole log.
///
/// # Errors
/// When the log cannot be read, or a row within the first `size` is unreadable.
pub fn scan_tree_recomputing(
    conn: &Connection,
    size: u64,
    ranges: &[std::ops::Range<u64>],
    capture: Option<u64>,
) -> Result<TreeScan, CustodyError> {
    let mut tree = TreeBuilder::new();
    let mut hasher = SubtreeHasher::new(ranges);
    let mut captured = None;
    each_sound_row(conn, Some(size), |ev| {
        let leaf = event_leaf(&ev);
        if capture == Some(tree.size()) {
            captured = Some(ev);
        }
        tree.push(leaf);
        hasher.push(leaf);
    })?;
    let nodes = if tree.size() == size {
        Some(hasher.finish().map_err(|e| CustodyError::Unsound { reason: e.to_string() })?)
    } else {
        None
    };
    Ok(TreeScan { events: tree.size(), root: tree.root(), nodes, captured })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::chain::Finding;
    use crate::custody::event::{event_hash, Action, Actor, Role};
    use chrono::TimeZone;

    const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

    fn t(i: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 8, 0, 0).single().expect("valid time")
            + chrono::Duration::milliseconds(i * 250)
    }

    fn ev(i: u64) -> NewEvent {
        let actor = if i % 2 == 0 {
            Actor::daemon("evidock")
        } else {
            Actor { user: "lisi".into(), role: Role::Custodian, officer: Some("警010203".into()) }
        };
        NewEvent::new(actor, Action::ALL[i as usize % Action::ALL.len()], format!("segment:A100001/{i}"))
            .detail("i", i)
            .detail("officer_name", "李四")
            .detail("case", "卫健罚〔2024〕12号")
    }

    /// A database file with `n` events appended in one transaction.
    fn db_with(n: u64) -> (tempfile::TempDir, Connection, Vec<StoredEvent>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut conn = Connection::open(dir.path().join("catalog.db")).expect("open");
        create_schema(&conn).expect("schema");
        create_schema(&conn).expect("schema again (idempotent)");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).expect("begin");
        let stored: Vec<StoredEvent> = (0..n).map(|i| append(&tx, &ev(i), t(i as i64), TZ).expect("append")).collect();
        tx.commit().expect("commit");
        (dir, conn, stored)
    }

    fn refused(conn: &Connection, sql: &str) -> String {
        match conn.execute_batch(sql) {
            Ok(()) => panic!("not refused: {sql}"),
            Err(e) => e.to_string(),
        }
    }

    fn drop_triggers(conn: &Connection) {
        conn.execute_batch(
            "DROP TRIGGER custody_log_no_update; DROP TRIGGER custody_log_no_delete; DROP TRIGGER custody_log_append_only;",
        )
        .expect("drop triggers");
    }

    #[test]
    fn thousand_events_in_one_transaction_verify() {
        let (_dir, conn, stored) = db_with(1000);
        let report = verify(&conn).expect("verify");
        assert!(report.intact(), "{report:?}");
        assert_eq!(report.events, 1000);
        assert_eq!(report.head, Some(stored[999].hash));
        assert_eq!(head(&conn).expect("head"), Some((1000, stored[999].hash)));

        let last: Vec<u64> = tail(&conn, 5).expect("tail").iter().map(|e| e.seq).collect();
        assert_eq!(last, [996, 997, 998, 999, 1000]);
        assert_eq!(tail(&conn, 5000).expect("tail").len(), 1000);
        assert!(tail(&conn, 0).expect("tail").is_empty());
        let after: Vec<u64> = since(&conn, 990, 3).expect("since").iter().map(|e| e.seq).collect();
        assert_eq!(after, [991, 992, 993]);
        assert_eq!(since(&conn, 0, usize::MAX).expect("since").len(), 1000);
        assert!(since(&conn, u64::MAX, 10).expect("since").is_empty());
        // Rows read back are the rows written, Chinese text included.
        assert_eq!(since(&conn, 0, 1000).expect("since"), stored);
        assert!(stored[1].details.contains("卫健罚〔2024〕12号"));
        assert_eq!(stored[1].actor_officer.as_deref(), Some("警010203"));
    }

    #[test]
    fn empty_log_is_intact() {
        let (_dir, conn, _) = db_with(0);
        let report = verify(&conn).expect("verify");
        assert_eq!((report.events, report.head, report.finding), (0, None, None));
        assert_eq!(head(&conn).expect("head"), None);
    }

    #[test]
    fn a_rolled_back_transaction_leaves_no_event() {
        let (_dir, mut conn, _) = db_with(3);
        let tx = conn.transaction().expect("begin");
        append(&tx, &ev(3), t(3), TZ).expect("append");
        tx.rollback().expect("rollback");
        assert_eq!(head(&conn).expect("head").map(|h| h.0), Some(3));
        let next = append(&conn, &ev(3), t(4), TZ).expect("append without a transaction");
        assert_eq!(next.seq, 4);
        assert!(verify(&conn).expect("verify").intact());
    }

    #[test]
    fn triggers_refuse_update_delete_and_out_of_line_inserts() {
        let (_dir, conn, stored) = db_with(10);
        let update = refused(&conn, "UPDATE custody_log SET subject = 'x' WHERE seq = 5");
        assert!(update.contains("custody_log is append-only: UPDATE refused"), "{update}");
        let delete = refused(&conn, "DELETE FROM custody_log WHERE seq = 10");
        assert!(delete.contains("custody_log is append-only: DELETE refused"), "{delete}");
        assert!(refused(&conn, "DELETE FROM custody_log").contains("DELETE refused"));
        let h = |b: &[u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        for (seq, prev) in [(5, h(&stored[3].hash)), (12, h(&stored[9].hash)), (11, h(&stored[8].hash))] {
            let msg = refused(
                &conn,
                &format!(
                    "INSERT OR REPLACE INTO custody_log ({COLUMNS}) VALUES ({seq}, 't', 't', 'u', 'system', NULL, 'docked', 's', '{{}}', x'{prev}', zeroblob(32))"
                ),
            );
            assert!(msg.contains("a new event must follow the last one"), "{msg}");
        }
        assert!(verify(&conn).expect("verify").intact());
        assert_eq!(tail(&conn, 100).expect("tail"), stored);
    }

    #[test]
    fn an_edited_row_is_named() {
        let (_dir, conn, _) = db_with(1000);
        drop_triggers(&conn);
        conn.execute("UPDATE custody_log SET details = replace(details, '李四', '王五') WHERE seq = 500", [])
            .expect("tamper");
        let report = verify(&conn).expect("verify");
        assert_eq!(report.finding, Some(Finding::Edited { seq: 500, stored_seq: 500 }));
        assert_eq!(report.first_bad.as_ref().map(|b| b.0), Some(500));
        assert_eq!(report.events, 1000);
    }

    #[test]
    fn a_deleted_row_is_named() {
        let (_dir, conn, _) = db_with(1000);
        drop_triggers(&conn);
        conn.execute("DELETE FROM custody_log WHERE seq = 700", []).expect("tamper");
        let report = verify(&conn).expect("verify");
        assert_eq!(report.finding, Some(Finding::Deleted { after_seq: 699, missing: 1 }));
        assert_eq!(report.first_bad.map(|b| b.0), Some(700));
        assert_eq!(report.events, 999);
    }

    #[test]
    fn swapped_rows_are_named() {
        let (_dir, conn, _) = db_with(20);
        drop_triggers(&conn);
        // Exchange the contents of rows 7 and 8, keeping their seq: row 7 no longer matches.
        conn.execute_batch(
            "UPDATE custody_log SET seq = 100 WHERE seq = 7 ; UPDATE custody_log SET seq = 7 WHERE seq = 8 ;
             UPDATE custody_log SET seq = 8 WHERE seq = 100 ;",
        )
        .expect("swap");
        let report = verify(&conn).expect("verify");
        assert_eq!(report.finding, Some(Finding::Edited { seq: 7, stored_seq: 7 }));
    }

    #[test]
    fn a_rewritten_row_with_a_recomputed_hash_breaks_the_next_link() {
        let (_dir, conn, stored) = db_with(30);
        drop_triggers(&conn);
        let mut forged = stored[11].clone();
        forged.subject = "segment:A100001/伪造".into();
        forged.hash = event_hash(&forged.prev_hash, &forged);
        conn.execute(
            "UPDATE custody_log SET subject = ?1, hash = ?2 WHERE seq = 12",
            params![forged.subject, &forged.hash[..]],
        )
        .expect("tamper");
        let report = verify(&conn).expect("verify");
        assert_eq!(report.finding, Some(Finding::Unlinked { seq: 13 }));
    }

    #[test]
    fn an_unreadable_row_is_a_finding_not_an_error() {
        let (_dir, conn, _) = db_with(10);
        drop_triggers(&conn);
        conn.execute_batch("PRAGMA ignore_check_constraints = ON; UPDATE custody_log SET hash = x'00' WHERE seq = 4;")
            .expect("tamper");
        let report = verify(&conn).expect("verify");
        assert_eq!(report.finding, Some(Finding::Malformed { seq: 4, reason: "hash is 1 bytes, not 32".into() }));
        match tail(&conn, 10) {
            Err(CustodyError::Corrupt { seq: 4, reason }) => assert_eq!(reason, "hash is 1 bytes, not 32"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn read_only_opening() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("state").join("catalog.db");
        let msg = open_read_only(&missing).expect_err("missing").to_string();
        assert!(msg.contains(&missing.display().to_string()) && msg.contains("has not run yet"), "{msg}");

        let other = dir.path().join("other.db");
        Connection::open(&other).expect("open").execute_batch("CREATE TABLE t (x)").expect("create");
        let msg = open_read_only(&other).expect_err("no log").to_string();
        assert!(msg.contains("has no custody_log table"), "{msg}");

        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "这不是数据库 — not a database, long enough to fill a header page....").expect("write");
        assert!(matches!(open_read_only(&text), Err(CustodyError::Open { .. })));

        let (dir2, conn, _) = db_with(3);
        drop(conn);
        let ro = open_read_only(&dir2.path().join("catalog.db")).expect("opens");
        assert!(verify(&ro).expect("verify").intact());
        let err = append(&ro, &ev(9), t(9), TZ).expect_err("read-only");
        assert!(err.to_string().contains("appending an event"), "{err}");
    }

    #[test]
    fn floats_in_details_are_refused_before_writing() {
        let (_dir, conn, _) = db_with(2);
        let bad = ev(2).detail("drift_s", 1.5);
        let err = append(&conn, &bad, t(2), TZ).expect_err("float");
        assert!(err.to_string().contains("details.drift_s is a floating-point number"), "{err}");
        assert_eq!(head(&conn).expect("head").map(|h| h.0), Some(2));
    }

    fn signer(b: u8) -> NoteSigner {
        NoteSigner::from_seed("evidock/测试站", [b; 32]).expect("signer")
    }

    fn notes_of(path: &Path) -> Vec<(String, String)> {
        crate::custody::files::read_notes(path)
            .expect("side file")
            .into_iter()
            .map(|n| (path.display().to_string(), n))
            .collect()
    }

    fn problems(r: &AuditReport) -> Vec<(CheckpointSource, CheckpointProblem)> {
        r.bad_checkpoints().map(|c| (c.source.clone(), c.problem.clone().expect("problem"))).collect()
    }

    /// A checkpoint signed while another connection writes waits for it under the busy
    /// timeout, instead of failing with "database is locked" when it turns from reading the
    /// tree to writing it (a deferred transaction's snapshot is stale once the other commits).
    #[test]
    fn a_checkpoint_waits_for_another_writer_instead_of_failing() {
        let (dir, conn, _) = db_with(40);
        drop(conn);
        // As the station opens it: WAL, a busy timeout.
        let conn = open_read_write(&dir.path().join("catalog.db")).expect("the signer's connection");
        let other = open_read_write(&dir.path().join("catalog.db")).expect("a second connection");
        other.execute_batch("BEGIN IMMEDIATE").expect("the other writer holds the lock");
        append(&other, &ev(41), t(41), TZ).expect("append");
        let signing = std::thread::spawn(move || checkpoint(&conn, &signer(1), None, t(50)).map(|c| c.tree_size));
        std::thread::sleep(std::time::Duration::from_millis(300));
        other.execute_batch("COMMIT").expect("commit");
        let size = signing.join().expect("the signing thread").expect("signed once the other writer committed");
        assert!(size >= 40, "{size}");
        assert!(verify(&other).expect("verify").intact());
    }

    #[test]
    fn checkpoints_are_signed_stored_appended_and_append_only() {
        let (dir, conn, stored) = db_with(10);
        let key = signer(1);
        let side = dir.path().join("custody-checkpoints.txt");
        assert!(checkpoint_due(&conn).expect("due"));
        let c1 = checkpoint(&conn, &key, Some(&side), t(100)).expect("checkpoint");
        assert_eq!((c1.id, c1.tree_size, c1.made_utc.as_str()), (1, 10, "2024-05-01T08:00:25.000Z"));
        assert_eq!(c1.root, crate::custody::merkle::root(stored.iter().map(event_leaf)));
        let cp = Checkpoint::open(&c1.note, &key.verifier()).expect("opens");
        assert_eq!((cp.origin.as_str(), cp.size, cp.root), ("evidock/测试站", 10, c1.root));
        assert!(!checkpoint_due(&conn).expect("due"));
        for i in 10..15 {
            append(&conn, &ev(i), t(i as i64), TZ).expect("append");
        }
        assert!(checkpoint_due(&conn).expect("due"));
        let c2 = checkpoint(&conn, &key, Some(&side), t(200)).expect("checkpoint");
        assert_eq!((c2.id, c2.tree_size), (2, 15));
        assert_eq!(checkpoints(&conn).expect("list"), vec![c1.clone(), c2.clone()]);
        assert_eq!(notes_of(&side).into_iter().map(|(_, n)| n).collect::<Vec<_>>(), vec![c1.note, c2.note]);

        let report = audit(&conn, &key.verifier(), &notes_of(&side)).expect("audit");
        assert!(report.intact(), "{report:?}");
        assert_eq!((report.tree_size, report.checkpoints.len()), (15, 4));
        assert_eq!(report.first_bad_event(), None);

        let update = refused(&conn, "UPDATE custody_checkpoints SET tree_size = 3");
        assert!(update.contains("custody_checkpoints is append-only: UPDATE refused"), "{update}");
        assert!(refused(&conn, "DELETE FROM custody_checkpoints").contains("DELETE refused"));
        let insert = refused(
            &conn,
            "INSERT INTO custody_checkpoints (id, made_utc, tree_size, root_hash, note) VALUES (3, 'x', 1, zeroblob(32), 'n')",
        );
        assert!(insert.contains("a new checkpoint must follow the last one"), "{insert}");
    }

    #[test]
    fn empty_log_checkpoint_and_old_databases() {
        let (_dir, conn, _) = db_with(0);
        let c = checkpoint(&conn, &signer(1), None, t(0)).expect("checkpoint");
        assert_eq!((c.tree_size, c.root), (0, crate::custody::merkle::EMPTY_ROOT));
        assert!(audit(&conn, &signer(1).verifier(), &[]).expect("audit").intact());
        // A database from before checkpoints: no table, no checkpoints, and a checkpoint is due.
        let (_dir2, conn2, _) = db_with(2);
        conn2.execute_batch("DROP TABLE custody_checkpoints").expect("drop");
        assert_eq!(checkpoints(&conn2).expect("none"), vec![]);
        assert!(checkpoint_due(&conn2).expect("due"));
    }

    /// (a) Events removed from the end after a checkpoint: the chain alone is intact, the
    /// checkpoint names the truncation, in the table and in the side file even when the
    /// checkpoint rows are deleted too.
    #[test]
    fn a_truncated_tail_is_named_by_an_older_checkpoint() {
        let (dir, conn, _) = db_with(1000);
        let key = signer(1);
        let side = dir.path().join("side.txt");
        checkpoint(&conn, &key, Some(&side), t(2000)).expect("checkpoint");
        drop_triggers(&conn);
        conn.execute("DELETE FROM custody_log WHERE seq > 900", []).expect("truncate");
        assert!(verify(&conn).expect("verify").intact(), "the chain alone cannot see a truncation");

        let report = audit(&conn, &key.verifier(), &[]).expect("audit");
        assert!(!report.intact());
        assert_eq!(
            problems(&report),
            vec![(CheckpointSource::Stored { id: 1 }, CheckpointProblem::Truncated { size: 1000, events: 900 })]
        );
        let (seq, kind, reason, reason_zh) = report.first_bad_event().expect("named");
        assert_eq!((seq, kind), (901, "truncated"));
        assert!(reason.contains("events 901..=1000 were removed from the end"), "{reason}");
        assert!(reason_zh.contains("截断"), "{reason_zh}");

        // The checkpoint rows deleted as well: the side file still names it.
        conn.execute_batch("DROP TRIGGER custody_checkpoints_no_delete; DELETE FROM custody_checkpoints;")
            .expect("delete checkpoints");
        assert!(audit(&conn, &key.verifier(), &[]).expect("audit").intact(), "nothing left to compare with");
        let report = audit(&conn, &key.verifier(), &notes_of(&side)).expect("audit");
        let file = CheckpointSource::File { path: side.display().to_string(), index: 1 };
        assert_eq!(problems(&report), vec![(file, CheckpointProblem::Truncated { size: 1000, events: 900 })]);

        // And no new checkpoint vouches for the shortened log while a checkpoint says otherwise.
        let (dir2, conn2, _) = db_with(20);
        checkpoint(&conn2, &key, None, t(50)).expect("checkpoint");
        drop_triggers(&conn2);
        conn2.execute("DELETE FROM custody_log WHERE seq > 15", []).expect("truncate");
        let err = checkpoint(&conn2, &key, Some(&dir2.path().join("s")), t(60)).expect_err("refused");
        assert!(err.to_string().contains("fewer than the 20 of the last checkpoint (#1)"), "{err}");
        assert!(!dir2.path().join("s").exists());
    }

    /// A tail rewritten with a recomputed chain: intact to the chain, named by the checkpoint,
    /// with the range after the last matching checkpoint.
    #[test]
    fn a_rewritten_tail_is_named_between_checkpoints() {
        let (_dir, conn, _) = db_with(10);
        let key = signer(1);
        checkpoint(&conn, &key, None, t(20)).expect("checkpoint at 10");
        for i in 10..30 {
            append(&conn, &ev(i), t(i as i64), TZ).expect("append");
        }
        checkpoint(&conn, &key, None, t(40)).expect("checkpoint at 30");
        drop_triggers(&conn);
        conn.execute("DELETE FROM custody_log WHERE seq >= 15", []).expect("cut");
        for i in 14..30 {
            append(&conn, &ev(i + 1000), t(i as i64), TZ).expect("append forged");
        }
        assert!(verify(&conn).expect("verify").intact(), "the chain was recomputed");
        let report = audit(&conn, &key.verifier(), &[]).expect("audit");
        assert_eq!(
            problems(&report),
            vec![(CheckpointSource::Stored { id: 2 }, CheckpointProblem::Rewritten { size: 30, from: 11 })]
        );
        let (seq, kind, ..) = report.first_bad_event().expect("named");
        assert_eq!((seq, kind), (11, "rewritten"));
        let err = checkpoint(&conn, &key, None, t(50)).expect_err("refused");
        assert!(err.to_string().contains("no longer match the last checkpoint (#2)"), "{err}");
    }

    /// (b) Forged checkpoints: an edited size or root, a signature by another key, a row whose
    /// columns disagree with its note, a deleted checkpoint row.
    #[test]
    fn forged_checkpoints_are_named() {
        let (dir, conn, _) = db_with(40);
        let key = signer(1);
        for _ in 0..4 {
            checkpoint(&conn, &key, None, t(100)).expect("checkpoint");
        }
        conn.execute_batch(
            "DROP TRIGGER custody_checkpoints_no_update; DROP TRIGGER custody_checkpoints_no_delete;
             DROP TRIGGER custody_checkpoints_append_only;
             UPDATE custody_checkpoints SET note = replace(note, char(10) || '40' || char(10), char(10) || '39' || char(10)) WHERE id = 1;
             UPDATE custody_checkpoints SET tree_size = 41 WHERE id = 3;
             DELETE FROM custody_checkpoints WHERE id = 4;",
        )
        .expect("tamper");
        let stored = checkpoints(&conn).expect("list");
        assert!(stored[0].note.contains("\n39\n"));
        // Checkpoint 2's root replaced by another valid-looking root, re-signed by another key.
        let other = NoteSigner::from_seed(key.name(), [2; 32]).expect("other key");
        let mut cp = Checkpoint::open(&stored[1].note, &key.verifier()).expect("opens");
        cp.root = [9; 32];
        let by_other = cp.sign(&other).expect("signs");
        conn.execute(
            "UPDATE custody_checkpoints SET note = ?1, root_hash = ?2 WHERE id = 2",
            params![by_other, &cp.root[..]],
        )
        .expect("replace");
        conn.execute(
            "INSERT INTO custody_checkpoints (id, made_utc, tree_size, root_hash, note) VALUES (5, 'x', 40, ?1, ?2)",
            params![&stored[2].root[..], stored[2].note],
        )
        .expect("insert after a gap");
        // A file holding a checkpoint with an edited root.
        let forged_file = dir.path().join("forged.txt");
        let real = Checkpoint::open(&stored[2].note, &key.verifier()).expect("opens");
        let edited = stored[2].note.replacen(
            &Checkpoint { root: real.root, ..real.clone() }.body(),
            &Checkpoint { root: [1; 32], ..real.clone() }.body(),
            1,
        );
        std::fs::write(&forged_file, edited).expect("write");

        let report = audit(&conn, &key.verifier(), &notes_of(&forged_file)).expect("audit");
        assert!(report.chain.intact());
        assert!(!report.intact());
        let got = problems(&report);
        let kinds: Vec<(String, &str)> = got.iter().map(|(s, p)| (s.to_string(), p.kind())).collect();
        assert_eq!(
            kinds,
            vec![
                ("stored checkpoint #1".to_string(), "forged"),
                ("stored checkpoint #2".to_string(), "forged"),
                ("stored checkpoint #3".to_string(), "row_disagrees"),
                ("stored checkpoint #5".to_string(), "checkpoint_deleted"),
                (format!("checkpoint 1 in {}", forged_file.display()), "forged"),
            ]
        );
        let reason = |i: usize| got[i].1.reason();
        assert!(reason(0).contains("does not verify: the checkpoint was altered or forged"), "{}", reason(0));
        assert!(reason(1).contains("it is signed only by evidock/测试站+"), "{}", reason(1));
        assert!(reason(2).contains("tree_size differs from the signed note"), "{}", reason(2));
        assert_eq!(got[3].1, CheckpointProblem::RowsDeleted { after_id: 3, missing: 1 });
        assert!(reason(4).contains("altered or forged"), "{}", reason(4));
        assert_eq!(report.first_bad_event(), None, "forged checkpoints are not bad events");
    }

    /// INV-12: a log that no longer extends a checkpoint of the side file (a database rolled
    /// back to an earlier copy, then grown on into a fork), a side file holding checkpoints of
    /// another key, a key other than the one the log recorded: no checkpoint is signed and
    /// nothing is written, in the table or the side file.
    #[test]
    fn no_checkpoint_contradicts_the_side_file_or_the_key_the_log_recorded() {
        use crate::custody::files::read_notes;
        let (dir, conn, _) = db_with(10);
        let key = signer(1);
        let side = dir.path().join("side.txt");
        checkpoint(&conn, &key, Some(&side), t(20)).expect("at 10");
        // An earlier copy of the same database: 6 of its events, no checkpoint row yet.
        let (_early_dir, early, _) = db_with(6);
        let err = checkpoint(&early, &key, Some(&side), t(30)).expect_err("rolled back");
        assert!(
            matches!(&err, CustodyError::Contradiction(Contradiction::SideTruncated { index: 1, size: 10, events: 6 })),
            "{err}"
        );
        assert!(err.to_string().contains("lost its WAL or was rolled back"), "{err}");
        // Grown on past the side file's checkpoint with other events: signing would fork.
        for i in 6..14 {
            append(&early, &ev(i + 500), t(i as i64), TZ).expect("append");
        }
        let err = checkpoint(&early, &key, Some(&side), t(40)).expect_err("fork");
        assert!(
            matches!(&err, CustodyError::Contradiction(Contradiction::SideRewritten { index: 1, size: 10 })),
            "{err}"
        );
        assert!(err.to_string().contains("拒绝签署检查点"), "{err}");
        assert_eq!(checkpoints(&early).expect("list"), vec![]);
        assert_eq!(read_notes(&side).expect("side").len(), 1);
        // Without the side file it would have signed: the side file is what says no.
        checkpoint(&early, &key, None, t(41)).expect("no side file, no contradiction known");

        // The original, grown on, extends the side file and signs.
        for i in 10..12 {
            append(&conn, &ev(i), t(i as i64), TZ).expect("append");
        }
        checkpoint(&conn, &key, Some(&side), t(50)).expect("extends");
        assert_eq!(read_notes(&side).expect("side").len(), 2);
        // A replaced key: the side file's checkpoints do not open with it.
        let other = signer(2);
        let err = checkpoint(&conn, &other, Some(&side), t(60)).expect_err("foreign side file");
        assert!(matches!(&err, CustodyError::Contradiction(Contradiction::SideNoteForeign { index: 1, .. })), "{err}");
        assert_eq!(read_notes(&side).expect("side").len(), 2);

        // A log that recorded its key: any other key is refused, even with no checkpoint left
        // to compare with.
        let (_d3, fresh, _) = db_with(3);
        let record = NewEvent::new(Actor::daemon("evidock"), Action::SigningKeyRecorded, "log")
            .detail("verifier_key", key.verifier().encode());
        append(&fresh, &record, t(4), TZ).expect("record the key");
        assert_eq!(recorded_key(&fresh).expect("read"), Some(key.verifier().encode()));
        let err = checkpoint(&fresh, &other, None, t(5)).expect_err("replaced key");
        assert!(matches!(&err, CustodyError::Contradiction(Contradiction::KeyReplaced { .. })), "{err}");
        assert!(err.to_string().contains(&key.verifier().encode()), "{err}");
        assert_eq!(checkpoints(&fresh).expect("list"), vec![]);
        checkpoint(&fresh, &key, None, t(6)).expect("the recorded key signs");
    }

    /// (c) An edited row is still named exactly by the chain, even though a checkpoint covering
    /// it no longer matches.
    /// A database as the code before stored tree nodes left it (no `custody_tree` table, a
    /// checkpoint signed over the recomputed tree) verifies unchanged; its first checkpoint
    /// builds the nodes, and proofs from them are the recomputed ones (INV-23).
    #[test]
    fn a_log_from_before_stored_nodes_verifies_and_gets_its_nodes() {
        let (_dir, conn, _) = db_with(300);
        conn.execute_batch(
            "DROP TRIGGER custody_tree_no_update; DROP TRIGGER custody_tree_no_delete; DROP TABLE custody_tree;",
        )
        .expect("the layout before stored nodes");
        let key = signer(1);
        let old = scan_tree_recomputing(&conn, 250, &[], None).expect("recomputed");
        let cp = Checkpoint { origin: key.name().to_string(), size: 250, root: old.root, extensions: vec![] };
        let note = cp.sign(&key).expect("sign");
        conn.execute(
            "INSERT INTO custody_checkpoints (id, made_utc, tree_size, root_hash, note) VALUES (1, 'then', 250, ?1, ?2)",
            params![&old.root[..], note],
        )
        .expect("an old checkpoint");
        assert!(audit(&conn, &key.verifier(), &[]).expect("audit").intact());
        assert_eq!(super::super::tree::covered(&conn).expect("covered"), 0);
        let made = checkpoint(&conn, &key, None, t(400)).expect("signed");
        assert_eq!(made.tree_size, 300);
        assert_eq!(made.root, scan_tree_recomputing(&conn, 300, &[], None).expect("recomputed").root);
        assert_eq!(super::super::tree::covered(&conn).expect("covered"), 288);
        assert!(audit(&conn, &key.verifier(), &[]).expect("audit").intact());
        let ranges = crate::custody::merkle::inclusion_ranges(123, 250).expect("ranges");
        assert_eq!(
            scan_tree(&conn, 250, &ranges, Some(123)).expect("stored"),
            scan_tree_recomputing(&conn, 250, &ranges, Some(123)).expect("recomputed")
        );
    }

    #[test]
    fn an_edited_row_is_named_by_the_chain_under_a_checkpoint() {
        let (_dir, conn, _) = db_with(1000);
        let key = signer(1);
        checkpoint(&conn, &key, None, t(2000)).expect("checkpoint");
        drop_triggers(&conn);
        conn.execute("UPDATE custody_log SET details = replace(details, '李四', '王五') WHERE seq = 500", [])
            .expect("tamper");
        let report = audit(&conn, &key.verifier(), &[]).expect("audit");
        assert_eq!(report.chain.finding, Some(Finding::Edited { seq: 500, stored_seq: 500 }));
        assert_eq!(problems(&report)[0].1, CheckpointProblem::Rewritten { size: 1000, from: 1 });
        let (seq, kind, ..) = report.first_bad_event().expect("named");
        assert_eq!((seq, kind), (500, "edited"));
        // Signing reads the stored nodes, not the old rows (INV-23): it signs the tree as the
        // events were first written, never the edit, and the full verification names the
        // edited event under that checkpoint too.
        let first = checkpoints(&conn).expect("stored").remove(0);
        let again = checkpoint(&conn, &key, None, t(3000)).expect("signed from the stored nodes");
        assert_eq!((again.tree_size, again.root), (first.tree_size, first.root));
        let report = audit(&conn, &key.verifier(), &[]).expect("audit");
        assert_eq!(report.first_bad_event().map(|(s, k, ..)| (s, k)), Some((500, "edited")));
        let named: Vec<_> = problems(&report).into_iter().map(|(_, p)| p).collect();
        assert_eq!(named, vec![CheckpointProblem::Rewritten { size: 1000, from: 1 }; 2]);
        // An edit among the events a checkpoint has not signed yet is refused outright.
        let (_d2, conn, _) = db_with(1000);
        checkpoint(&conn, &key, None, t(2000)).expect("checkpoint");
        let tx = conn.unchecked_transaction().expect("begin");
        append(&tx, &ev(1000), t(1000), TZ).expect("append");
        append(&tx, &ev(1001), t(1001), TZ).expect("append");
        tx.commit().expect("commit");
        drop_triggers(&conn);
        conn.execute("UPDATE custody_log SET details = replace(details, '李四', '王五') WHERE seq = 1002", [])
            .expect("tamper");
        let err = checkpoint(&conn, &key, None, t(3000)).expect_err("refused");
        assert!(err.to_string().contains("broken at event 1002"), "{err}");
        // An edit in the last, partly stored, block of the last checkpoint: its root no longer
        // comes out, and signing refuses.
        conn.execute("UPDATE custody_log SET details = replace(details, '李四', '王五') WHERE seq = 999", [])
            .expect("tamper");
        let err = checkpoint(&conn, &key, None, t(3000)).expect_err("refused");
        assert!(err.to_string().contains("rewritten") || err.to_string().contains("broken"), "{err}");
    }

    #[test]
    fn proofs_from_the_database_verify_against_checkpoints() {
        use crate::custody::merkle::{consistency_ranges, inclusion_ranges, verify_consistency, verify_inclusion};
        let (_dir, conn, stored) = db_with(37);
        let key = signer(1);
        let c = checkpoint(&conn, &key, None, t(100)).expect("checkpoint");
        let ranges = inclusion_ranges(20, 37).expect("ranges");
        let scan = scan_tree(&conn, 37, &ranges, Some(20)).expect("scan");
        assert_eq!((scan.events, scan.root), (37, c.root));
        assert_eq!(scan.captured.as_ref(), Some(&stored[20]));
        let proof = scan.nodes.expect("complete");
        verify_inclusion(20, 37, &event_leaf(&stored[20]), &proof, &c.root).expect("verifies");

        let old = scan_tree(&conn, 12, &[], None).expect("scan");
        let cons = scan_tree(&conn, 37, &consistency_ranges(12, 37).expect("ranges"), None).expect("scan");
        verify_consistency(12, 37, &old.root, &c.root, &cons.nodes.expect("complete")).expect("verifies");

        let short = scan_tree(&conn, 50, &inclusion_ranges(3, 50).expect("ranges"), None).expect("scan");
        assert_eq!((short.events, short.nodes), (37, None));
    }
    /// Signing reads the new events once for the chain and the stored nodes (issue 18): at
    /// every size, aligned to the stored level or not, the root and the stored nodes are those
    /// of the events recomputed, and a proof from them is the reference proof.
    #[test]
    fn signing_at_any_size_stores_the_nodes_of_the_events_it_checked() {
        let (_dir, conn, _) = db_with(0);
        let key = signer(1);
        let mut stored = Vec::new();
        let mut n = 0u64;
        for step in [1u64, 14, 1, 16, 17, 31, 2, 100, 16, 257] {
            for i in n..n + step {
                stored.push(append(&conn, &ev(i), t(i as i64), TZ).expect("append"));
            }
            n += step;
            let c = checkpoint(&conn, &key, None, t(1000 + n as i64)).expect("checkpoint");
            assert_eq!(c.tree_size, n);
            assert_eq!(c.root, crate::custody::merkle::root(stored.iter().map(event_leaf)), "size {n}");
            assert_eq!(crate::custody::tree::covered(&conn).expect("covered"), n - n % 16, "size {n}");
            let index = n / 2;
            let ranges = crate::custody::merkle::inclusion_ranges(index, n).expect("ranges");
            let fast = scan_tree(&conn, n, &ranges, Some(index)).expect("stored");
            let slow = scan_tree_recomputing(&conn, n, &ranges, Some(index)).expect("recomputed");
            assert_eq!(fast, slow, "size {n}");
        }
    }
}
