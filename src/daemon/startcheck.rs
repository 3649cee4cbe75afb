//! The integrity check before `READY=1` after an unclean stop (INV-24): what the last run wrote
//! since its last clean point is checked first; the whole file follows in the background, with
//! ingest allowed, and raises the alarm if it fails.
//!
//! Before READY, on a read-only connection:
//! - every catalogue table except the custody log and its stored tree, with its indexes
//!   (`PRAGMA quick_check(table)`): the rows a docking writes besides its events;
//! - the custody events after the last clean point (the latest of the last `daemon_stopped`
//!   event, the last stored checkpoint and the last point the daemon's full verification
//!   found intact, `log_point_verified`, trusted only while the stored hash of its event still
//!   equals the hash it recorded), read through the table's B-tree and checked as a chain
//!   from the hash at that point (INV-38).
//!
//! The older events, the log's indexes and keys (`custody_keys`) and its stored nodes are
//! checked by the whole-file `PRAGMA quick_check` after READY (and the events, as a chain and
//! a tree, by the daemon's full verification, INV-23).

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::catalog::CatalogError;
use crate::custody::chain::Verifier;

/// The tables left to the background check: the log, its nodes, its query keys and hours, and
/// SQLite's own.
const LEFT_TO_BACKGROUND: &[&str] = &["custody_log", "custody_tree", "custody_keys", "custody_hours"];

fn damaged(path: &Path, detail: String) -> CatalogError {
    CatalogError::Damaged { path: path.to_path_buf(), detail }
}

fn sql_err(path: &Path, e: rusqlite::Error) -> CatalogError {
    match e {
        rusqlite::Error::SqliteFailure(f, msg)
            if f.code == rusqlite::ErrorCode::NotADatabase || f.code == rusqlite::ErrorCode::DatabaseCorrupt =>
        {
            damaged(path, msg.unwrap_or_else(|| f.to_string()))
        }
        other => CatalogError::Open { path: path.to_path_buf(), source: other },
    }
}

/// The seq after which the last run's events begin: the later of the last clean stop and the
/// last stored checkpoint (0: none).
///
/// # Errors
/// When the queries fail.
pub fn clean_point(conn: &Connection) -> rusqlite::Result<u64> {
    let stopped: Option<i64> =
        conn.query_row("SELECT max(seq) FROM custody_log WHERE action = 'daemon_stopped'", [], |r| r.get(0))?;
    let has_cps: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'custody_checkpoints'",
        [],
        |r| r.get(0),
    )?;
    let signed: Option<i64> = if has_cps > 0 {
        conn.query_row("SELECT tree_size FROM custody_checkpoints ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?
    } else {
        None
    };
    Ok(stopped.unwrap_or(0).max(signed.unwrap_or(0)).max(0) as u64)
}

/// The latest point the daemon's full verification recorded (`log_point_verified`: `up_to`
/// and its stored `hash`), when the stored hash of event `up_to` still equals it. `None`: no
/// such event, or the event or its hash no longer match (the point is not trusted and an
/// earlier clean point is used).
///
/// # Errors
/// When the queries fail (a damaged page among the recent events they read).
pub fn trusted_point(conn: &Connection) -> rusqlite::Result<Option<(u64, [u8; 32])>> {
    let details: Option<String> = conn
        .query_row(
            "SELECT details FROM custody_log WHERE action = 'log_point_verified' ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
    let Some(v) = details.and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok()) else { return Ok(None) };
    let (Some(up_to), Some(hex)) = (v["up_to"].as_u64(), v["hash"].as_str()) else { return Ok(None) };
    let Some(want) = parse_hash(hex) else { return Ok(None) };
    let Ok(seq) = i64::try_from(up_to) else { return Ok(None) };
    let stored: Option<Vec<u8>> = conn
        .query_row("SELECT hash FROM custody_log WHERE seq = ?1", [seq], |r| r.get(0))
        .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
    Ok((stored.as_deref() == Some(want.as_slice())).then_some((up_to, want)))
}

fn parse_hash(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// What was checked before READY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentCheck {
    /// Catalogue tables checked with their indexes.
    pub tables: usize,
    /// The clean point: events after it were checked.
    pub after_seq: u64,
    /// Events checked.
    pub events: u64,
}

/// Checks what the last run wrote since its last clean point (see the module documentation).
///
/// # Errors
/// [`CatalogError::Damaged`] naming the table or event when a page is damaged or an event
/// does not follow the one before; [`CatalogError::Open`] when the file cannot be read.
pub fn check_recent(path: &Path) -> Result<RecentCheck, CatalogError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| sql_err(path, e))?;
    let e = |x| sql_err(path, x);
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .map_err(e)?;
    let mut checked = 0;
    for t in tables.iter().filter(|t| !LEFT_TO_BACKGROUND.contains(&t.as_str())) {
        let quoted = format!("\"{}\"", t.replace('"', "\"\""));
        let verdict: String = conn.query_row(&format!("PRAGMA quick_check({quoted})"), [], |r| r.get(0)).map_err(e)?;
        if verdict != "ok" {
            return Err(damaged(path, format!("table {t}: {verdict}")));
        }
        checked += 1;
    }
    if !tables.iter().any(|t| t == "custody_log") {
        return Ok(RecentCheck { tables: checked, after_seq: 0, events: 0 });
    }
    let clean = clean_point(&conn).map_err(e)?;
    let trusted = trusted_point(&conn).map_err(e)?.filter(|(up_to, _)| *up_to > clean);
    let after = trusted.map_or(clean, |(up_to, _)| up_to);
    let mut v = if let Some((up_to, hash)) = trusted {
        Verifier::resume(up_to, hash)
    } else if after == 0 {
        Verifier::new()
    } else {
        let mut hash = None;
        crate::custody::tree::each_event(&conn, after - 1, after, |ev| hash = Some(ev.hash))
            .map_err(|x| damaged(path, format!("custody event {after}: {x}")))?;
        Verifier::resume(after, hash.unwrap_or_default())
    };
    let mut st = conn
        .prepare(&format!("SELECT {} FROM custody_log WHERE seq > ?1 ORDER BY seq", crate::custody::store::COLUMNS))
        .map_err(e)?;
    let mut rows = st.query([after as i64]).map_err(e)?;
    while let Some(row) = rows.next().map_err(e)? {
        match crate::custody::store::decode(row) {
            Ok(ev) => v.push(&ev),
            Err((_, reason)) => v.push_malformed(reason),
        }
    }
    let report = v.finish();
    if let Some((seq, reason)) = report.first_bad {
        return Err(damaged(path, format!("custody event {seq}: {reason}")));
    }
    Ok(RecentCheck { tables: checked, after_seq: after, events: report.events })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::custody::event::{Action, Actor};
    use std::io::{Seek, SeekFrom, Write};

    const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

    /// A catalogue of 1,200 events, the previous run's clean stop at event 1,000, the WAL
    /// folded into the file.
    fn station() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("catalog.sqlite");
        let cat = Catalog::open(&path, TZ, Actor::daemon("evidock")).expect("catalogue");
        let conn = cat.connection();
        conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        for i in 1..=1200u64 {
            let action = if i == 1000 { Action::DaemonStopped } else { Action::SegmentVerified };
            let ev = crate::custody::event::NewEvent::new(Actor::daemon("evidock"), action, format!("segment:A1/{i}"))
                .detail("docking", i / 40)
                .detail("note", "x".repeat(200));
            crate::custody::store::append(conn, &ev, chrono::Utc::now(), TZ).expect("append");
        }
        conn.execute(
            "INSERT INTO alarms (kind, subject, message, message_zh, raised, last_seen) VALUES ('test', 'log', 'm', 'm', 'now', 'now')",
            [],
        )
        .expect("an alarm row");
        conn.execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE);").expect("commit");
        drop(cat);
        (dir, path)
    }

    /// A catalogue of 1,200 events with no clean stop and no checkpoint: the first run, cut
    /// short. The daemon's full verification recorded, as event 1,100, that the log was intact
    /// up to event 1,000 with `hash` (the stored hash of event 1,000 when `None`).
    fn first_run_with_a_verified_point(hash: Option<String>) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("catalog.sqlite");
        let cat = Catalog::open(&path, TZ, Actor::daemon("evidock")).expect("catalogue");
        let conn = cat.connection();
        conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        for i in 1..=1200u64 {
            let ev = if i == 1100 {
                let stored: Vec<u8> =
                    conn.query_row("SELECT hash FROM custody_log WHERE seq = 1000", [], |r| r.get(0)).expect("hash");
                let hex = hash.clone().unwrap_or_else(|| stored.iter().map(|b| format!("{b:02x}")).collect());
                crate::custody::event::NewEvent::new(Actor::daemon("evidock"), Action::LogPointVerified, "log")
                    .detail("up_to", 1000)
                    .detail("hash", hex)
            } else {
                crate::custody::event::NewEvent::new(
                    Actor::daemon("evidock"),
                    Action::SegmentVerified,
                    format!("segment:A1/{i}"),
                )
                .detail("docking", i / 40)
                .detail("note", "x".repeat(200))
            };
            crate::custody::store::append(conn, &ev, chrono::Utc::now(), TZ).expect("append");
        }
        conn.execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE);").expect("commit");
        drop(cat);
        (dir, path)
    }

    /// The page numbers of `name`'s leaf pages in B-tree order (first: the lowest keys).
    fn leaves(path: &Path, name: &str) -> Vec<i64> {
        let conn = Connection::open(path).expect("open");
        let mut st = conn
            .prepare("SELECT pageno FROM dbstat WHERE name = ?1 AND pagetype = 'leaf' ORDER BY path")
            .expect("dbstat");
        let pages: Vec<i64> =
            st.query_map([name], |r| r.get(0)).expect("pages").collect::<Result<_, _>>().expect("rows");
        // A table of one page has a root that is its leaf.
        if pages.is_empty() {
            return conn
                .query_row("SELECT rootpage FROM sqlite_schema WHERE name = ?1", [name], |r| r.get(0))
                .map(|p: i64| vec![p])
                .expect("root");
        }
        pages
    }

    /// Real damage: the page's header and first cells overwritten on disk.
    fn damage(path: &Path, page: i64) {
        let size: i64 =
            Connection::open(path).expect("open").query_row("PRAGMA page_size", [], |r| r.get(0)).expect("size");
        let mut f = std::fs::OpenOptions::new().write(true).open(path).expect("open file");
        f.seek(SeekFrom::Start(((page - 1) * size) as u64)).expect("seek");
        f.write_all(&vec![0xa5; 512]).expect("write");
        f.sync_all().expect("sync");
    }

    fn whole_file(path: &Path) -> String {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
        conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn a_sound_file_passes_and_only_the_last_run_is_read() {
        let (_d, path) = station();
        let r = check_recent(&path).expect("sound");
        assert_eq!((r.after_seq, r.events), (1000, 200));
        assert!(r.tables > 10, "{r:?}");
        assert_eq!(whole_file(&path), "ok");
    }

    #[test]
    fn a_damaged_page_among_the_last_run_s_events_stops_the_start() {
        let (_d, path) = station();
        let last = *leaves(&path, "custody_log").last().expect("a leaf");
        damage(&path, last);
        let err = check_recent(&path).expect_err("damaged");
        assert!(matches!(err, CatalogError::Damaged { .. }), "{err}");
    }

    #[test]
    fn a_damaged_catalogue_page_stops_the_start() {
        let (_d, path) = station();
        let page = leaves(&path, "alarms")[0];
        damage(&path, page);
        let err = check_recent(&path).expect_err("damaged");
        assert!(err.to_string().contains("alarms") || matches!(err, CatalogError::Damaged { .. }), "{err}");
    }

    #[test]
    fn a_damaged_page_of_old_events_is_left_to_the_background_check_which_names_it() {
        let (_d, path) = station();
        let first = leaves(&path, "custody_log")[0];
        damage(&path, first);
        check_recent(&path).expect("the last run's writes are sound: READY");
        assert_ne!(whole_file(&path), "ok", "the background check finds the damage");
    }

    /// With no clean stop yet, the start reads on from the point the full verification
    /// recorded, not from the first event (INV-38).
    #[test]
    fn a_verified_point_is_a_clean_point_while_its_hash_still_matches() {
        let (_d, path) = first_run_with_a_verified_point(None);
        let r = check_recent(&path).expect("sound");
        assert_eq!((r.after_seq, r.events), (1000, 200));
        // A point whose hash is no longer the stored one is not trusted: every event is read.
        let (_d, path) = first_run_with_a_verified_point(Some("00".repeat(32)));
        let r = check_recent(&path).expect("sound");
        assert_eq!((r.after_seq, r.events), (0, 1200));
    }

    #[test]
    fn a_damaged_page_after_the_verified_point_stops_the_start() {
        let (_d, path) = first_run_with_a_verified_point(None);
        let last = *leaves(&path, "custody_log").last().expect("a leaf");
        damage(&path, last);
        let err = check_recent(&path).expect_err("damaged");
        assert!(matches!(err, CatalogError::Damaged { .. }), "{err}");
    }

    #[test]
    fn a_damaged_page_before_the_verified_point_is_left_to_the_background_check_which_names_it() {
        let (_d, path) = first_run_with_a_verified_point(None);
        let first = leaves(&path, "custody_log")[0];
        damage(&path, first);
        check_recent(&path).expect("the writes since the verified point are sound: READY");
        assert_ne!(whole_file(&path), "ok", "the background check finds the damage");
    }
}
