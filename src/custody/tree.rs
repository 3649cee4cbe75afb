//! Stored tree nodes: the Merkle tree of the custody log kept as hashes in the database, so
//! that a proof or a root reads O(log n) stored hashes instead of every event (R11; INV-23;
//! docs/CUSTODY-LOG.md §15).
//!
//! Owns: the `custody_tree` table, bringing it up to date with the log ([`sync`]), and the
//! tree hash of any leaf range ([`range_hash`]) from stored nodes plus at most a few dozen
//! events read for the levels that are not stored.
//! Must never: trust a stored node for anything but speed. Every proof made from them is
//! verified against a signed root before it is shown, and the full verification
//! (`log verify`, the daemon's background check) recomputes the tree from the events alone.
//!
//! The layout is that of tiled transparency logs: a node is addressed by its level and index,
//! `(level, index)` covering leaves `index·2^level .. (index+1)·2^level`, written once when
//! its subtree is complete and never changed. Levels below [`BASE_LEVEL`] are not stored:
//! they are recomputed from at most `2^BASE_LEVEL` events, which keeps the table at about one
//! row per eight events.

use std::ops::Range;

use rusqlite::{params, Connection, OptionalExtension};

use super::event::StoredEvent;
use super::merkle::{event_leaf, node_hash, Hash, TreeBuilder, EMPTY_ROOT};
use super::CustodyError;

/// The lowest level stored: a level-4 node covers 16 events.
pub const BASE_LEVEL: u32 = 4;

const BASE: u64 = 1 << BASE_LEVEL;

/// The table of stored nodes. Nodes are written once: updates and deletes are refused.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS custody_tree (
    level INTEGER NOT NULL CHECK (level >= 4 AND level < 64),
    idx   INTEGER NOT NULL CHECK (idx >= 0),
    hash  BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS custody_tree_no_update BEFORE UPDATE ON custody_tree
BEGIN
    SELECT RAISE(ABORT, 'custody_tree nodes are written once: UPDATE refused');
END;
CREATE TRIGGER IF NOT EXISTS custody_tree_no_delete BEFORE DELETE ON custody_tree
BEGIN
    SELECT RAISE(ABORT, 'custody_tree nodes are written once: DELETE refused');
END;
";

fn sql(doing: &'static str) -> impl FnOnce(rusqlite::Error) -> CustodyError {
    move |source| CustodyError::Sqlite { doing, source }
}

fn table_exists(conn: &Connection) -> Result<bool, CustodyError> {
    let n: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'custody_tree'", [], |r| {
            r.get(0)
        })
        .map_err(sql("looking for the custody_tree table"))?;
    Ok(n > 0)
}

/// How many leaves the stored nodes cover: the leaves of every complete level-4 subtree
/// stored (0 when the table is missing, as in a database written before it).
///
/// # Errors
/// When the query fails.
pub fn covered(conn: &Connection) -> Result<u64, CustodyError> {
    if !table_exists(conn)? {
        return Ok(0);
    }
    let max: Option<i64> = conn
        .query_row("SELECT max(idx) FROM custody_tree WHERE level = ?1", [BASE_LEVEL], |r| r.get(0))
        .map_err(sql("reading the stored tree"))?;
    Ok(max.map_or(0, |m| (m as u64 + 1) * BASE))
}

/// The number of events in the log: the last seq (in a sound log, the row count).
///
/// # Errors
/// When the query fails.
pub fn log_size(conn: &Connection) -> Result<u64, CustodyError> {
    let max: Option<i64> =
        conn.query_row("SELECT max(seq) FROM custody_log", [], |r| r.get(0)).map_err(sql("reading the last event"))?;
    Ok(max.map_or(0, |m| m.max(0) as u64))
}

/// Reads events `lo + 1 ..= hi` (leaves `lo..hi`) in seq order, handing each to `f`.
///
/// # Errors
/// [`CustodyError::Unsound`] when a row is missing or out of place, [`CustodyError::Corrupt`]
/// when one is unreadable.
pub fn each_event(conn: &Connection, lo: u64, hi: u64, mut f: impl FnMut(StoredEvent)) -> Result<(), CustodyError> {
    let doing = "reading events";
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {} FROM custody_log WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
            super::store::COLUMNS
        ))
        .map_err(sql(doing))?;
    let mut rows = stmt.query(params![lo as i64, hi as i64]).map_err(sql(doing))?;
    let mut want = lo + 1;
    while let Some(row) = rows.next().map_err(sql(doing))? {
        let ev = super::store::decode(row).map_err(|(seq, reason)| CustodyError::Corrupt { seq, reason })?;
        if ev.seq != want {
            return Err(CustodyError::Unsound {
                reason: format!("the row where event {want} belongs carries seq {}: the log is not sound", ev.seq),
            });
        }
        want += 1;
        f(ev);
    }
    if want != hi + 1 {
        return Err(CustodyError::Unsound {
            reason: format!("event {want} is missing: the log holds fewer events than the tree needs"),
        });
    }
    Ok(())
}

fn leaves(conn: &Connection, lo: u64, hi: u64) -> Result<Vec<Hash>, CustodyError> {
    let mut out = Vec::with_capacity((hi - lo) as usize);
    each_event(conn, lo, hi, |ev| out.push(event_leaf(&ev)))?;
    Ok(out)
}

fn stored(conn: &Connection, level: u32, idx: u64) -> Result<Option<Hash>, CustodyError> {
    let doing = "reading a stored tree node";
    let mut stmt =
        conn.prepare_cached("SELECT hash FROM custody_tree WHERE level = ?1 AND idx = ?2").map_err(sql(doing))?;
    let h: Option<Vec<u8>> = stmt.query_row(params![level, idx as i64], |r| r.get(0)).optional().map_err(sql(doing))?;
    match h {
        None => Ok(None),
        Some(b) => <Hash>::try_from(b.as_slice()).map(Some).map_err(|_| CustodyError::Corrupt {
            seq: 0,
            reason: format!("stored tree node ({level}, {idx}) is not 32 bytes"),
        }),
    }
}

/// Reads tree hashes for one computation: stored nodes where they exist, events elsewhere.
pub struct NodeReader<'c> {
    conn: &'c Connection,
    has_table: bool,
}

impl<'c> NodeReader<'c> {
    /// A reader over `conn` (read-only is enough).
    ///
    /// # Errors
    /// When the schema cannot be read.
    pub fn new(conn: &'c Connection) -> Result<NodeReader<'c>, CustodyError> {
        Ok(NodeReader { conn, has_table: table_exists(conn)? })
    }

    /// The hash of the perfect subtree `(level, idx)`.
    fn perfect(&self, level: u32, idx: u64) -> Result<Hash, CustodyError> {
        if level >= BASE_LEVEL && self.has_table {
            if let Some(h) = stored(self.conn, level, idx)? {
                return Ok(h);
            }
        }
        if level > BASE_LEVEL {
            let l = self.perfect(level - 1, 2 * idx)?;
            let r = self.perfect(level - 1, 2 * idx + 1)?;
            return Ok(node_hash(&l, &r));
        }
        let lo = idx << level;
        let mut t = TreeBuilder::new();
        leaves(self.conn, lo, lo + (1 << level))?.into_iter().for_each(|l| t.push(l));
        Ok(t.root())
    }

    /// The Merkle tree hash of leaves `range`, as RFC 9162 splits it. `range` is one that a
    /// proof or a root names: its start a multiple of the largest power of two not above its
    /// length (any range starting at 0 qualifies).
    ///
    /// # Errors
    /// When an event it needs is missing or unreadable.
    pub fn range_hash(&self, range: Range<u64>) -> Result<Hash, CustodyError> {
        let n = range.end - range.start;
        if n == 0 {
            return Ok(EMPTY_ROOT);
        }
        if n.is_power_of_two() && range.start % n == 0 {
            return self.perfect(n.trailing_zeros(), range.start / n);
        }
        if n < BASE {
            let mut t = TreeBuilder::new();
            leaves(self.conn, range.start, range.end)?.into_iter().for_each(|l| t.push(l));
            return Ok(t.root());
        }
        let k = 1u64 << (63 - (n - 1).leading_zeros());
        let left = self.range_hash(range.start..range.start + k)?;
        let right = self.range_hash(range.start + k..range.end)?;
        Ok(node_hash(&left, &right))
    }
}

/// The tree hash of `range` (see [`NodeReader::range_hash`]).
///
/// # Errors
/// When an event it needs is missing or unreadable.
pub fn range_hash(conn: &Connection, range: Range<u64>) -> Result<Hash, CustodyError> {
    NodeReader::new(conn)?.range_hash(range)
}

/// Brings the stored nodes up to the log's last complete level-4 subtree, reading only the
/// events after those already covered, and creates the table in a database written before
/// it (an upgrade reads the whole log once). Runs inside a savepoint: within the caller's
/// transaction it commits with it. Returns the leaves covered.
///
/// # Errors
/// When an event is missing or unreadable, or SQLite refuses.
pub fn sync(conn: &Connection) -> Result<u64, CustodyError> {
    sync_known(conn, 0, &[])
}

/// As [`sync`], given the leaves of events `first + 1 ..= first + known.len()` the caller has
/// just read (signing reads them to check the chain): those events are not read again. Leaves
/// outside `known` are read from the log.
///
/// # Errors
/// As [`sync`].
pub fn sync_known(conn: &Connection, first: u64, known: &[Hash]) -> Result<u64, CustodyError> {
    conn.execute_batch(SCHEMA).map_err(sql("creating the custody_tree table"))?;
    let start = covered(conn)?;
    let size = log_size(conn)?;
    let end = size - size % BASE;
    if end <= start {
        return Ok(start);
    }
    conn.execute_batch("SAVEPOINT custody_tree_sync").map_err(sql("syncing the stored tree"))?;
    let result = sync_range(conn, start, end, first, known);
    let close = if result.is_ok() {
        "RELEASE custody_tree_sync"
    } else {
        "ROLLBACK TO custody_tree_sync; RELEASE custody_tree_sync"
    };
    conn.execute_batch(close).map_err(sql("syncing the stored tree"))?;
    result.map(|()| end)
}

fn sync_range(conn: &Connection, start: u64, end: u64, first: u64, known: &[Hash]) -> Result<(), CustodyError> {
    let doing = "storing a tree node";
    let mut insert =
        conn.prepare_cached("INSERT INTO custody_tree (level, idx, hash) VALUES (?1, ?2, ?3)").map_err(sql(doing))?;
    let reader = NodeReader { conn, has_table: true };
    // Stream in chunks so memory stays flat whatever the log's size.
    const CHUNK: u64 = 1 << 16;
    let known_end = first + known.len() as u64;
    let mut lo = start;
    while lo < end {
        let hi = (lo + CHUNK).min(end);
        let read;
        let leaves: &[Hash] = if first <= lo && hi <= known_end {
            &known[(lo - first) as usize..(hi - first) as usize]
        } else {
            read = leaves(conn, lo, hi)?;
            &read
        };
        for (b, block) in leaves.chunks(BASE as usize).enumerate() {
            let mut t = TreeBuilder::new();
            block.iter().for_each(|l| t.push(*l));
            let mut idx = lo / BASE + b as u64;
            let mut level = BASE_LEVEL;
            let mut h = t.root();
            insert.execute(params![level, idx as i64, &h[..]]).map_err(sql(doing))?;
            // A right child completes its parent: store the parent too, and so on up.
            while idx % 2 == 1 {
                let left = reader.perfect(level, idx - 1)?;
                h = node_hash(&left, &h);
                idx /= 2;
                level += 1;
                insert.execute(params![level, idx as i64, &h[..]]).map_err(sql(doing))?;
            }
        }
        lo = hi;
    }
    Ok(())
}

/// The root of the first `size` events, from stored nodes ([`EMPTY_ROOT`] for 0).
///
/// # Errors
/// When an event it needs is missing or unreadable.
pub fn root_at(conn: &Connection, size: u64) -> Result<Hash, CustodyError> {
    range_hash(conn, 0..size)
}

/// The tree hashes of `ranges` (a proof's nodes, from [`super::merkle::inclusion_ranges`] or
/// [`super::merkle::consistency_ranges`]), from stored nodes.
///
/// # Errors
/// When an event it needs is missing or unreadable.
pub fn hashes(conn: &Connection, ranges: &[Range<u64>]) -> Result<Vec<Hash>, CustodyError> {
    let r = NodeReader::new(conn)?;
    ranges.iter().map(|range| r.range_hash(range.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::event::{Action, Actor, NewEvent};
    use crate::custody::merkle::{consistency_ranges, inclusion_ranges, verify_consistency, verify_inclusion};
    use crate::custody::store::{append, create_schema, scan_tree, scan_tree_recomputing};
    use chrono::{DateTime, TimeZone, Utc};
    use proptest::prelude::*;

    const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

    fn t(i: u64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 8, 0, 0).single().expect("valid time")
            + chrono::Duration::milliseconds(i as i64 * 250)
    }

    /// A log of `n` events; the stored nodes synced at each size in `syncs` along the way.
    fn log(n: u64, syncs: &[u64]) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = Connection::open(dir.path().join("catalog.db")).expect("open");
        create_schema(&conn).expect("schema");
        conn.execute_batch("BEGIN").expect("begin");
        for i in 0..n {
            let ev = NewEvent::new(Actor::daemon("evidock"), Action::ALL[i as usize % 7], format!("segment:A1/{i}"))
                .detail("i", i);
            append(&conn, &ev, t(i), TZ).expect("append");
            if syncs.contains(&(i + 1)) {
                sync(&conn).expect("sync");
            }
        }
        conn.execute_batch("COMMIT").expect("commit");
        (dir, conn)
    }

    #[test]
    fn sync_stores_each_complete_node_once_and_resumes() {
        let (_d, conn) = log(100, &[40]);
        assert_eq!(covered(&conn).expect("covered"), 32);
        assert_eq!(sync(&conn).expect("sync"), 96);
        assert_eq!(sync(&conn).expect("sync again"), 96, "nothing new to store");
        let rows: i64 = conn.query_row("SELECT count(*) FROM custody_tree", [], |r| r.get(0)).expect("count");
        // Level 4: 6 nodes (0..96), level 5: 3, level 6: 1.
        assert_eq!(rows, 10);
        let reference = scan_tree_recomputing(&conn, 100, &[], None).expect("reference").root;
        assert_eq!(root_at(&conn, 100).expect("root"), reference);
        let err = conn.execute("UPDATE custody_tree SET hash = zeroblob(32)", []).expect_err("refused");
        assert!(err.to_string().contains("written once"), "{err}");
    }

    #[test]
    fn a_database_without_the_table_gives_the_same_proofs() {
        let (_d, conn) = log(77, &[]);
        conn.execute_batch(
            "DROP TRIGGER custody_tree_no_update; DROP TRIGGER custody_tree_no_delete; DROP TABLE custody_tree",
        )
        .expect("drop");
        let ranges = inclusion_ranges(33, 77).expect("ranges");
        let a = scan_tree(&conn, 77, &ranges, Some(33)).expect("scan");
        let b = scan_tree_recomputing(&conn, 77, &ranges, Some(33)).expect("reference");
        assert_eq!(a, b);
        assert_eq!(sync(&conn).expect("sync creates the table"), 64);
        assert_eq!(scan_tree(&conn, 77, &ranges, Some(33)).expect("scan"), b);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        /// Proofs and roots from stored nodes are byte for byte those of the recomputing
        /// reference, whatever the log size, the sizes the nodes were synced at, and the leaf
        /// or pair of sizes; and the same verifier accepts them.
        #[test]
        fn stored_node_proofs_are_the_reference_proofs(
            n in 1u64..300,
            sync_at in proptest::collection::vec(1u64..300, 0..3),
            pick in any::<u64>(),
            pick2 in any::<u64>(),
        ) {
            let (_d, conn) = log(n, &sync_at);
            let size = 1 + pick % n;
            let index = pick2 % size;
            let ranges = inclusion_ranges(index, size).expect("ranges");
            let fast = scan_tree(&conn, size, &ranges, Some(index)).expect("stored");
            let slow = scan_tree_recomputing(&conn, size, &ranges, Some(index)).expect("reference");
            prop_assert_eq!(&fast, &slow);
            let leaf = event_leaf(fast.captured.as_ref().expect("captured"));
            prop_assert!(verify_inclusion(index, size, &leaf, fast.nodes.as_ref().expect("nodes"), &fast.root).is_ok());
            let old = pick2 % (size + 1);
            let cranges = consistency_ranges(old, size).expect("ranges");
            let fast = scan_tree(&conn, size, &cranges, None).expect("stored");
            let slow = scan_tree_recomputing(&conn, size, &cranges, None).expect("reference");
            prop_assert_eq!(&fast, &slow);
            let old_root = scan_tree_recomputing(&conn, old, &[], None).expect("old").root;
            prop_assert_eq!(root_at(&conn, old).expect("old root"), old_root);
            prop_assert!(verify_consistency(old, size, &old_root, &fast.root, fast.nodes.as_ref().expect("nodes")).is_ok());
            let longer = scan_tree(&conn, n + 5, &[], None).expect("short log");
            prop_assert_eq!(longer.events, n);
            prop_assert!(longer.nodes.is_none());
        }
    }
}
