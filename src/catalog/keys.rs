//! `custody_keys`: the custody events of each recorder and each officer, in log order, so that
//! `log query --device` and `--officer` read their first page through one index range
//! (issue 18; R11, R13).
//!
//! Also `custody_hours (hour, first, last)`: the first and last event stamped in each UTC hour
//! (`ts_utc`'s first 13 characters), so that `log query --from/--to` walks only the seq range
//! of the hours it asks for, in log order. A clock set back makes two hours' ranges overlap;
//! every event of an hour still lies within its range.
//!
//! Owns: the table `custody_keys (key, event)` (`device:SERIAL`, `officer:ID`), the triggers
//! that fill it as events are appended and as a docking learns its recorder or officer, and its
//! filling once from the whole log when a catalogue without it is opened (an upgrade in place).
//! Must never: decide what a query shows. It is a superset the query walks in order; every row
//! it yields is still held against the filter's own rules (`cli/history.rs`), so a stale or
//! extra key shows nothing more. It is an index: the custody log stays the record (INV-5).
//!
//! A key is derived from an event as the filters match it: `device:S` for the subject
//! `device:S`, `usb:S`, `file:S/…`, `segment:S/…`, `session:S/…`, `recording:S/…`,
//! `details.serial = S`, or `docking:N` of a docking of `S`; `officer:O` for the actor's
//! officer number, `details.badge`, `details.officer_id`, or a docking carrying badge `O`
//! (`docking:N` subject or `details.docking = N`). A serial never holds `/` (it names an
//! archive folder).

use rusqlite::Connection;

/// The keys an event row `r` names, one expression each (NULL: none).
fn derived(r: &str) -> Vec<String> {
    let det = |k: &str| format!("(CASE WHEN json_valid({r}.details) THEN json_extract({r}.details, '$.{k}') END)");
    let docking =
        format!("(CASE WHEN {r}.subject GLOB 'docking:[0-9]*' THEN CAST(substr({r}.subject, 9) AS INTEGER) END)");
    let subject_serial = format!(
        "(CASE WHEN {r}.subject GLOB 'device:*' THEN substr({r}.subject, 8)
               WHEN {r}.subject GLOB 'usb:*' THEN substr({r}.subject, 5)
               WHEN {r}.subject GLOB 'file:*/*' OR {r}.subject GLOB 'segment:*/*'
                 OR {r}.subject GLOB 'session:*/*' OR {r}.subject GLOB 'recording:*/*'
               THEN substr({r}.subject, instr({r}.subject, ':') + 1, instr({r}.subject, '/') - instr({r}.subject, ':') - 1)
          END)"
    );
    vec![
        format!("'device:' || {subject_serial}"),
        format!("'device:' || {}", det("serial")),
        format!("'device:' || (SELECT serial FROM dockings WHERE id = {docking})"),
        format!("'officer:' || {r}.actor_officer"),
        format!("'officer:' || {}", det("badge")),
        format!("'officer:' || {}", det("officer_id")),
        format!("'officer:' || (SELECT badge FROM dockings WHERE id = {docking})"),
        format!("'officer:' || (SELECT badge FROM dockings WHERE id = {})", det("docking")),
    ]
}

/// The table and its triggers (idempotent).
fn schema() -> String {
    let new: Vec<String> = derived("NEW").iter().map(|e| format!("SELECT {e} AS k")).collect();
    let new = new.join(" UNION ");
    let docking_details = "(CASE WHEN json_valid(details) THEN json_extract(details, '$.docking') END)";
    // A docking that names its serial or badge, when inserted or later, keys its events. One
    // index per statement, and `+NEW.id` (no affinity, as the indexed expression has none):
    // otherwise SQLite cannot seek the expression index and reads the whole log, or the whole
    // index, at every docking (`triggers_search_the_log_by_index`).
    let on_docking = format!(
        "BEGIN
             INSERT OR IGNORE INTO custody_keys (key, event)
                 SELECT 'device:' || NEW.serial, seq FROM custody_log
                 WHERE NEW.serial IS NOT NULL AND subject = 'docking:' || NEW.id;
             INSERT OR IGNORE INTO custody_keys (key, event)
                 SELECT 'officer:' || NEW.badge, seq FROM custody_log
                 WHERE NEW.badge IS NOT NULL AND subject = 'docking:' || NEW.id;
             INSERT OR IGNORE INTO custody_keys (key, event)
                 SELECT 'officer:' || NEW.badge, seq FROM custody_log
                 WHERE NEW.badge IS NOT NULL AND {docking_details} = +NEW.id;
         END;"
    );
    format!(
        "CREATE TABLE IF NOT EXISTS custody_keys (
             key   TEXT NOT NULL,
             event INTEGER NOT NULL,
             PRIMARY KEY (key, event)
         ) WITHOUT ROWID, STRICT;
         CREATE TRIGGER IF NOT EXISTS custody_keys_on_append AFTER INSERT ON custody_log
         BEGIN
             INSERT OR IGNORE INTO custody_keys (key, event)
                 SELECT k, NEW.seq FROM ({new}) WHERE k IS NOT NULL;
         END;
         CREATE TABLE IF NOT EXISTS custody_hours (
             hour  TEXT PRIMARY KEY,
             first INTEGER NOT NULL,
             last  INTEGER NOT NULL
         ) WITHOUT ROWID, STRICT;
         CREATE TRIGGER IF NOT EXISTS custody_hours_on_append AFTER INSERT ON custody_log
         BEGIN
             INSERT INTO custody_hours (hour, first, last) VALUES (substr(NEW.ts_utc, 1, 13), NEW.seq, NEW.seq)
                 ON CONFLICT (hour) DO UPDATE SET first = min(first, excluded.first), last = max(last, excluded.last);
         END;
         CREATE TRIGGER IF NOT EXISTS custody_keys_on_docking AFTER INSERT ON dockings
         {on_docking}
         CREATE TRIGGER IF NOT EXISTS custody_keys_on_docking_update AFTER UPDATE OF serial, badge ON dockings
         {on_docking}"
    )
}

/// Creates the table and its triggers; a catalogue that did not have the table gets it filled
/// from the whole log in the same transaction (once, at the first open after an upgrade).
///
/// # Errors
/// When the statements fail.
pub(super) fn create(conn: &Connection) -> rusqlite::Result<()> {
    let exists = |name: &str| -> rusqlite::Result<bool> {
        conn.query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1", [name], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n > 0)
    };
    let (had_keys, had_hours) = (exists("custody_keys")?, exists("custody_hours")?);
    // Triggers of an earlier layout are replaced (the table and its keys stay).
    let stale: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'trigger' AND name = 'custody_keys_on_docking'
             AND sql NOT LIKE '%= +NEW.id%'",
        [],
        |r| r.get(0),
    )?;
    if stale {
        conn.execute_batch(
            "BEGIN IMMEDIATE; DROP TRIGGER custody_keys_on_docking; DROP TRIGGER IF EXISTS custody_keys_on_docking_update; COMMIT;",
        )?;
    }
    if !had_hours {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {} INSERT OR IGNORE INTO custody_hours (hour, first, last)
                 SELECT substr(ts_utc, 1, 13), min(seq), max(seq) FROM custody_log GROUP BY 1; COMMIT;",
            schema()
        ))?;
    }
    if had_keys {
        return conn.execute_batch(&schema());
    }
    let fill: Vec<String> = derived("l")
        .iter()
        .map(|e| format!("INSERT OR IGNORE INTO custody_keys (key, event) SELECT k, seq FROM (SELECT {e} AS k, l.seq AS seq FROM custody_log AS l) WHERE k IS NOT NULL;"))
        .collect();
    conn.execute_batch(&format!("BEGIN IMMEDIATE; {} {} COMMIT;", schema(), fill.concat()))
}

#[cfg(test)]
mod tests {
    use crate::catalog::Catalog;
    use crate::custody::event::{Action, Actor, NewEvent};
    use crate::custody::store;

    fn keys(conn: &rusqlite::Connection) -> Vec<(String, i64)> {
        let mut st = conn.prepare("SELECT key, event FROM custody_keys ORDER BY key, event").expect("keys");
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).expect("rows").collect::<Result<_, _>>().expect("rows")
    }

    /// Every statement a docking's insert or update runs, its triggers' included, searches
    /// the custody log by an index and never reads it whole (issue 18: at 10 million events a
    /// scan per docking took seconds); a catalogue with the earlier triggers gets these.
    #[test]
    fn triggers_search_the_log_by_index() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("catalog.sqlite");
        let tz = chrono_tz::Asia::Shanghai;
        let scans = |conn: &rusqlite::Connection| -> Vec<String> {
            // The log's table and every index on it.
            let mut st =
                conn.prepare("SELECT rootpage FROM sqlite_schema WHERE tbl_name = 'custody_log'").expect("roots");
            let roots: Vec<i64> =
                st.query_map([], |r| r.get(0)).expect("roots").collect::<Result<_, _>>().expect("roots");
            let mut out = Vec::new();
            for sql in [
                "INSERT INTO dockings (id, serial, volume, started, dock_clock, badge) VALUES (9, 'A1', 'v', 'x', 'x', 'B')",
                "UPDATE dockings SET serial = 'A2', badge = 'C' WHERE id = 9",
            ] {
                let mut st = conn.prepare(&format!("EXPLAIN {sql}")).expect("explain");
                let ops: Vec<(String, i64, i64)> = st
                    .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(3)?)))
                    .expect("ops")
                    .collect::<Result<_, _>>()
                    .expect("ops");
                // The statement and each trigger program (each opens with `Init`; cursor
                // numbers are the program's own): a cursor on the log or one of its indexes
                // walked from an end is a scan.
                let mut on_log: Vec<i64> = Vec::new();
                for (op, p1, p2) in &ops {
                    match op.as_str() {
                        "Init" => on_log.clear(),
                        "OpenRead" | "OpenWrite" if roots.contains(p2) => on_log.push(*p1),
                        "Rewind" | "Last" if on_log.contains(p1) => out.push(format!("{sql}: {op} {p1}")),
                        _ => {}
                    }
                }
            }
            out
        };
        let cat = Catalog::open(&path, tz, Actor::daemon("evidock")).expect("catalogue");
        assert_eq!(scans(cat.connection()), Vec::<String>::new());
        drop(cat);
        // The earlier layout: one statement with an OR of the two indexes. It reads the log whole,
        // and is replaced at the next open.
        let old = rusqlite::Connection::open(&path).expect("open");
        old.execute_batch(
            "DROP TRIGGER custody_keys_on_docking;
             CREATE TRIGGER custody_keys_on_docking AFTER INSERT ON dockings
             BEGIN
                 INSERT OR IGNORE INTO custody_keys (key, event)
                     SELECT 'officer:' || NEW.badge, seq FROM custody_log
                     WHERE NEW.badge IS NOT NULL AND (subject = 'docking:' || NEW.id
                         OR (CASE WHEN json_valid(details) THEN json_extract(details, '$.docking') END) = NEW.id);
             END;",
        )
        .expect("the earlier trigger");
        assert_eq!(scans(&old).len(), 1, "the earlier trigger reads the whole log");
        drop(old);
        let cat = Catalog::open(&path, tz, Actor::daemon("evidock")).expect("upgraded");
        assert_eq!(scans(cat.connection()), Vec::<String>::new());
    }

    /// The keys the triggers write as events are appended and dockings learn their recorder
    /// equal the keys an upgraded catalogue gets filled with from the whole log, and name each
    /// event by every rule of `--device` and `--officer` (issue 18).
    #[test]
    fn appended_and_filled_keys_agree_and_follow_the_filters() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("catalog.sqlite");
        let tz = chrono_tz::Asia::Shanghai;
        let cat = Catalog::open(&path, tz, Actor::daemon("evidock")).expect("catalogue");
        let conn = cat.connection();
        conn.execute(
            "INSERT INTO dockings (id, serial, volume, started, dock_clock) VALUES (7, NULL, 'v', 'now', 'now')",
            [],
        )
        .expect("docking");
        let officer = Actor { officer: Some("警1".into()), ..Actor::daemon("lisi") };
        let events = [
            NewEvent::new(Actor::daemon("evidock"), Action::IdentityRead, "device:A1"),
            NewEvent::new(Actor::daemon("evidock"), Action::SegmentCopied, "segment:A1/00001").detail("docking", 7),
            NewEvent::new(Actor::daemon("evidock"), Action::IngestFinished, "docking:7"),
            NewEvent::new(Actor::daemon("evidock"), Action::Docked, "volume:x").detail("serial", "B2"),
            NewEvent::new(officer, Action::CaseCreated, "case:1").detail("badge", "010203"),
            NewEvent::new(Actor::daemon("evidock"), Action::Docked, "usb:C3").detail("officer_id", "9"),
        ];
        for ev in &events {
            store::append(conn, ev, chrono::Utc::now(), tz).expect("event");
        }
        // The docking learns its recorder and officer after its events were written.
        conn.execute("UPDATE dockings SET serial = 'A1', badge = '010203' WHERE id = 7", []).expect("update");
        let appended = keys(conn);
        let want: Vec<(String, i64)> = [
            ("device:A1", 1),
            ("device:A1", 2),
            ("device:A1", 3),
            ("device:B2", 4),
            ("device:C3", 6),
            ("officer:010203", 2),
            ("officer:010203", 3),
            ("officer:010203", 5),
            ("officer:9", 6),
            ("officer:警1", 5),
        ]
        .iter()
        .map(|(k, e)| (k.to_string(), *e))
        .collect();
        assert_eq!(appended, want);
        drop(cat);
        // A catalogue from before the table: filled once, at its first open.
        let old = rusqlite::Connection::open(&path).expect("open");
        old.execute_batch(
            "DROP TRIGGER custody_keys_on_append; DROP TRIGGER custody_keys_on_docking;
             DROP TRIGGER custody_keys_on_docking_update; DROP TABLE custody_keys;",
        )
        .expect("drop");
        drop(old);
        let cat = Catalog::open(&path, tz, Actor::daemon("evidock")).expect("upgraded");
        assert_eq!(keys(cat.connection()), want);
    }
}
