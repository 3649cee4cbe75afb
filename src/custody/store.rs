//! The custody log in SQLite: the `custody_log` table, its append-only triggers, appending,
//! reading and verifying.
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
//! edit made by dropping them (R11).

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OpenFlags, Row};

use super::chain::{LogReport, Verifier};
use super::event::{seal, NewEvent, StoredEvent};
use super::CustodyError;

/// The table and its triggers. Idempotent.
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
";

const COLUMNS: &str =
    "seq, ts_utc, ts_local, actor_user, actor_role, actor_officer, action, subject, details, prev_hash, hash";

fn sql(doing: &'static str) -> impl FnOnce(rusqlite::Error) -> CustodyError {
    move |source| CustodyError::Sqlite { doing, source }
}

/// Creates the `custody_log` table and its triggers when they do not exist.
///
/// # Errors
/// When SQLite refuses (read-only database, I/O error).
pub fn create_schema(conn: &Connection) -> Result<(), CustodyError> {
    conn.execute_batch(SCHEMA).map_err(sql("creating the custody_log table"))
}

/// Opens the database at `path` read-only, for the command line.
///
/// # Errors
/// [`CustodyError::Missing`] when the file does not exist, [`CustodyError::Open`] when it
/// cannot be opened or is not a database, [`CustodyError::NoLog`] when it has no log table.
pub fn open_read_only(path: &Path) -> Result<Connection, CustodyError> {
    let open = |source| CustodyError::Open { path: path.to_path_buf(), source };
    match path.try_exists() {
        Ok(true) => {}
        Ok(false) => return Err(CustodyError::Missing { path: path.to_path_buf() }),
        Err(source) => return Err(CustodyError::Access { path: path.to_path_buf(), source }),
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(open)?;
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
fn decode(row: &Row<'_>) -> Result<StoredEvent, (u64, String)> {
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
}
