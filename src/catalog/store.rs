//! The SQLite edge of the catalogue. One [`Catalog`] per process holds the write connection;
//! the daemon shares it between bays behind a mutex, so there is exactly one writer.

use std::path::{Path, PathBuf};

use chrono::{NaiveDateTime, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};
use serde_json::{json, Map, Value};

use crate::custody::event::{Action, Actor, NewEvent};
use crate::custody::store as log;
use crate::recorder::format::{hex, Digest, Identity};
use crate::recorder::verify::{Provenance, Report};

use super::registry::RegistryCheck;

/// A catalogue operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The database could not be opened or prepared.
    #[error("catalogue {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The integrity check found damage; nothing further is written.
    #[error("catalogue {path} is damaged ({detail}); refusing to use it: restore it from a backup, keep this copy for inspection")]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// What `PRAGMA quick_check` said.
        detail: String,
    },
    /// A query or write failed.
    #[error("catalogue: {action}: {source}")]
    Sql {
        /// What was being done.
        action: &'static str,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// A value given by a person is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// Appending to the custody log failed.
    #[error("custody log: {0}")]
    Custody(#[from] crate::custody::CustodyError),
    /// The state folder could not be prepared.
    #[error("state folder {path}: {source}")]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// A recorder's sequence number as the catalogue stores it: its 64 bits as SQLite's signed
/// integer, so that every number from 0 to 2^64 - 1 round-trips exactly ([`seq_from_sql`]).
/// Numbers from 2^63 read as negative in SQL: compare and order them in Rust, or in SQL by
/// `(seq < 0), seq`.
pub fn seq_to_sql(seq: u64) -> i64 {
    i64::from_ne_bytes(seq.to_ne_bytes())
}

/// A stored sequence number back as the recorder wrote it (see [`seq_to_sql`]).
pub fn seq_from_sql(stored: i64) -> u64 {
    u64::from_ne_bytes(stored.to_ne_bytes())
}

pub(super) fn sql(action: &'static str) -> impl FnOnce(rusqlite::Error) -> CatalogError {
    move |source| CatalogError::Sql { action, source }
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS devices (
    serial        TEXT PRIMARY KEY,
    model         TEXT NOT NULL,
    firmware      TEXT NOT NULL,
    badge         TEXT NOT NULL,
    officer_name  TEXT,
    unit          TEXT,
    writes_chain  INTEGER NOT NULL,
    first_seen    TEXT NOT NULL,
    last_seen     TEXT NOT NULL,
    last_seq      INTEGER
);
CREATE TABLE IF NOT EXISTS dockings (
    id            INTEGER PRIMARY KEY,
    serial        TEXT,
    volume        TEXT NOT NULL,
    started       TEXT NOT NULL,
    finished      TEXT,
    dock_clock    TEXT NOT NULL,
    device_clock  TEXT,
    drift_s       INTEGER,
    battery       INTEGER,
    storage_free  INTEGER,
    storage_total INTEGER,
    outcome       TEXT,
    safe_to_undock INTEGER NOT NULL DEFAULT 0,
    badge         TEXT,
    registered    INTEGER,
    clock_unreliable INTEGER
);
CREATE TABLE IF NOT EXISTS files (
    id            INTEGER PRIMARY KEY,
    serial        TEXT NOT NULL,
    source        TEXT NOT NULL,
    size          INTEGER NOT NULL,
    blake3        TEXT NOT NULL,
    archive_path  TEXT NOT NULL UNIQUE,
    docking_id    INTEGER NOT NULL REFERENCES dockings(id),
    stored        TEXT NOT NULL,
    read_back     TEXT NOT NULL,
    immutable     INTEGER NOT NULL,
    purged        TEXT,
    UNIQUE (serial, source, blake3)
);
CREATE TABLE IF NOT EXISTS segments (
    id              INTEGER PRIMARY KEY,
    docking_id      INTEGER NOT NULL REFERENCES dockings(id),
    serial          TEXT NOT NULL,
    session         TEXT,
    seq             INTEGER,
    name            TEXT,
    kind            TEXT,
    start_device    TEXT,
    end_device      TEXT,
    start_corrected TEXT,
    end_corrected   TEXT,
    verdict         TEXT NOT NULL,
    attested_bytes  INTEGER NOT NULL,
    provenance      TEXT NOT NULL,
    detail          TEXT NOT NULL,
    file_id         INTEGER REFERENCES files(id)
);
CREATE INDEX IF NOT EXISTS segments_by_device ON segments (serial, seq);
CREATE TABLE IF NOT EXISTS sessions (
    id            INTEGER PRIMARY KEY,
    docking_id    INTEGER NOT NULL REFERENCES dockings(id),
    serial        TEXT NOT NULL,
    session       TEXT NOT NULL,
    chain_file    TEXT NOT NULL,
    state         TEXT NOT NULL,
    links_intact  INTEGER NOT NULL,
    first_seq     INTEGER,
    last_seq      INTEGER,
    start_device  TEXT,
    end_device    TEXT,
    notes         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gaps (
    id            INTEGER PRIMARY KEY,
    docking_id    INTEGER NOT NULL REFERENCES dockings(id),
    serial        TEXT NOT NULL,
    session       TEXT NOT NULL,
    after_seq     INTEGER NOT NULL,
    before_seq    INTEGER NOT NULL,
    from_device   TEXT NOT NULL,
    to_device     TEXT NOT NULL,
    duration_ms   INTEGER NOT NULL,
    reason        TEXT,
    explanation   TEXT
);
CREATE TABLE IF NOT EXISTS hostile (
    id            INTEGER PRIMARY KEY,
    docking_id    INTEGER NOT NULL REFERENCES dockings(id),
    path          TEXT NOT NULL,
    what          TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS wipes (
    id            INTEGER PRIMARY KEY,
    docking_id    INTEGER NOT NULL REFERENCES dockings(id),
    serial        TEXT NOT NULL,
    source        TEXT NOT NULL,
    blake3        TEXT NOT NULL,
    file_id       INTEGER NOT NULL REFERENCES files(id),
    wiped         TEXT NOT NULL
);
"#;

/// Indexes for the archivists' queries (`log query`, `case history`) and the catalogue joins.
const INDEXES: &str = r#"
CREATE INDEX IF NOT EXISTS custody_by_subject ON custody_log (subject, seq);
CREATE INDEX IF NOT EXISTS custody_by_action ON custody_log (action, seq);
CREATE INDEX IF NOT EXISTS custody_by_time ON custody_log (ts_utc);
CREATE INDEX IF NOT EXISTS custody_by_actor ON custody_log (actor_user, seq);
CREATE INDEX IF NOT EXISTS dockings_by_serial ON dockings (serial);
CREATE INDEX IF NOT EXISTS dockings_by_badge ON dockings (badge);
CREATE INDEX IF NOT EXISTS segments_by_file ON segments (file_id);
CREATE INDEX IF NOT EXISTS case_files_by_file ON case_files (file_id);
CREATE INDEX IF NOT EXISTS custody_by_officer ON custody_log (actor_officer);
CREATE INDEX IF NOT EXISTS custody_by_serial ON custody_log ((CASE WHEN json_valid(details) THEN json_extract(details, '$.serial') END));
CREATE INDEX IF NOT EXISTS custody_by_badge ON custody_log ((CASE WHEN json_valid(details) THEN json_extract(details, '$.badge') END));
CREATE INDEX IF NOT EXISTS custody_by_officer_id ON custody_log ((CASE WHEN json_valid(details) THEN json_extract(details, '$.officer_id') END));
CREATE INDEX IF NOT EXISTS custody_by_docking ON custody_log ((CASE WHEN json_valid(details) THEN json_extract(details, '$.docking') END));
CREATE INDEX IF NOT EXISTS custody_by_file ON custody_log ((CASE WHEN json_valid(details) THEN json_extract(details, '$.file') END));
"#;

/// What the dock learnt when a recorder docked.
#[derive(Debug, Clone)]
pub struct DockingStart<'a> {
    /// Folder name under the dock root.
    pub volume: &'a str,
    /// The USB device the volume came from (id, model, serial), when seen on the bus.
    pub usb: Option<String>,
    /// The recorder's identity, when it could be read.
    pub identity: Option<&'a Identity>,
    /// The dock's clock (station local time) when the identity was read.
    pub dock_clock: NaiveDateTime,
    /// Device clock minus dock clock, in seconds.
    pub drift_s: Option<i64>,
    /// Drift above which the recorder's times are unreliable (R2).
    pub drift_threshold_s: u64,
    /// How the recorder was identified (adapter kind, identity and clock source), added to
    /// the `identity_read` event.
    pub adapter: Option<serde_json::Value>,
}

/// A file durably in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedFile {
    /// Row id.
    pub id: i64,
    /// Path relative to the archive root.
    pub archive_path: String,
    /// Size.
    pub size: u64,
    /// BLAKE3, hex.
    pub blake3: String,
}

/// A file copied into the archive, read back and verified.
#[derive(Debug, Clone)]
pub struct CopyRecord<'a> {
    /// Docking.
    pub docking_id: i64,
    /// Device serial.
    pub serial: &'a str,
    /// Path on the volume.
    pub source: &'a str,
    /// Size.
    pub size: u64,
    /// BLAKE3 of the bytes read from the recorder, equal to the read-back hash.
    pub hash: Digest,
    /// Path relative to the archive root.
    pub archive_path: &'a str,
    /// How the read-back bypassed the cache.
    pub read_back: &'a str,
    /// Whether the immutable attribute was set.
    pub immutable: bool,
    /// Whether the file was found already in place (a run interrupted after the rename)
    /// and adopted after its hash matched.
    pub recovered: bool,
}

/// One segment's verdict row.
#[derive(Debug, Clone)]
pub struct SegmentRow<'a> {
    /// Archived file, where the segment was copied.
    pub file_id: Option<i64>,
    /// Corrected start and end (station local time).
    pub corrected: (Option<NaiveDateTime>, Option<NaiveDateTime>),
    /// The finding.
    pub finding: &'a crate::recorder::verify::SegmentFinding,
}

/// A recorder file removed after its archive copy was verified.
#[derive(Debug, Clone)]
pub struct WipeRecord<'a> {
    /// Docking.
    pub docking_id: i64,
    /// Device serial.
    pub serial: &'a str,
    /// Path on the volume.
    pub source: &'a str,
    /// The archived file it was verified against.
    pub file: &'a ArchivedFile,
}

/// One docking, for the status view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockingSummary {
    /// Row id.
    pub id: i64,
    /// Serial.
    pub serial: Option<String>,
    /// Volume folder name.
    pub volume: String,
    /// Start (UTC, RFC 3339).
    pub started: String,
    /// End.
    pub finished: Option<String>,
    /// Outcome.
    pub outcome: Option<String>,
    /// Safe to undock.
    pub safe_to_undock: bool,
    /// Segments by verdict.
    pub verdicts: Vec<(String, u64)>,
    /// Contradictions found at this docking.
    pub contradictions: u64,
}

/// The catalogue, holding the one write connection.
#[derive(Debug)]
pub struct Catalog {
    pub(super) conn: Connection,
    path: PathBuf,
    pub(super) tz: chrono_tz::Tz,
    pub(super) actor: Actor,
}

/// JSON object from a `json!` value.
pub(super) fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

pub(super) fn wall(t: &NaiveDateTime) -> String {
    crate::recorder::format::format_wall(*t)
}

/// Makes the database files ours alone (0600), where they are ours (R12).
fn restrict(path: &Path) -> Result<(), CatalogError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let me = nix::unistd::geteuid().as_raw();
    for f in [path.to_path_buf(), path.with_extension("sqlite-wal"), path.with_extension("sqlite-shm")] {
        match std::fs::metadata(&f) {
            Ok(m) if m.uid() == me && m.mode() & 0o077 != 0 => {
                std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600))
                    .map_err(|source| CatalogError::Io { path: f.clone(), source })?;
            }
            _ => {}
        }
    }
    Ok(())
}

pub(super) fn begin(conn: &mut Connection) -> Result<Transaction<'_>, CatalogError> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sql("begin"))
}

/// A refused entry of a volume (or an unreadable chain line) with its custody event.
fn insert_hostile(
    actor: &Actor,
    tz: chrono_tz::Tz,
    tx: &Transaction<'_>,
    docking_id: i64,
    path: &str,
    what: &str,
) -> Result<(), CatalogError> {
    tx.execute("INSERT INTO hostile (docking_id, path, what) VALUES (?1, ?2, ?3)", params![docking_id, path, what])
        .map_err(sql("recording a hostile entry"))?;
    append(
        actor,
        tz,
        tx,
        Action::HostileEntry,
        format!("docking:{docking_id}"),
        json!({ "path": path, "what": what }),
    )?;
    Ok(())
}

pub(super) fn append(
    actor: &Actor,
    tz: chrono_tz::Tz,
    tx: &Transaction<'_>,
    action: Action,
    subject: String,
    details: Value,
) -> Result<u64, CatalogError> {
    let ev = NewEvent { actor: actor.clone(), action, subject, details: obj(details) };
    Ok(log::append(tx, &ev, Utc::now(), tz)?.seq)
}

impl Catalog {
    /// Opens (creating if needed) the catalogue at `path`: state folder 0700, database 0600,
    /// WAL, `synchronous=FULL`, an integrity check, the schema.
    ///
    /// # Errors
    /// When it cannot be opened, or is damaged ([`CatalogError::Damaged`]: nothing is written).
    pub fn open(path: &Path, tz: chrono_tz::Tz, actor: Actor) -> Result<Catalog, CatalogError> {
        Catalog::open_with(path, tz, actor, true)
    }

    /// Opens the catalogue like [`Catalog::open`] but without the integrity check: for the
    /// daemon's further connections, after its own opening checked the file.
    ///
    /// # Errors
    /// When it cannot be opened.
    pub fn open_trusted(path: &Path, tz: chrono_tz::Tz, actor: Actor) -> Result<Catalog, CatalogError> {
        Catalog::open_with(path, tz, actor, false)
    }

    fn open_with(path: &Path, tz: chrono_tz::Tz, actor: Actor, check: bool) -> Result<Catalog, CatalogError> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| CatalogError::Io { path: dir.to_path_buf(), source })?;
        let open_err = |source| CatalogError::Open { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(open_err)?;
        restrict(path)?;
        let check: String = if !check {
            "ok".to_string()
        } else {
            conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, msg)
                    if f.code == rusqlite::ErrorCode::NotADatabase
                        || f.code == rusqlite::ErrorCode::DatabaseCorrupt =>
                {
                    CatalogError::Damaged { path: path.to_path_buf(), detail: msg.unwrap_or_else(|| f.to_string()) }
                }
                other => open_err(other),
            })?
        };
        if check != "ok" {
            return Err(CatalogError::Damaged { path: path.to_path_buf(), detail: check });
        }
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        conn.execute_batch(super::registry::SCHEMA).map_err(open_err)?;
        conn.execute_batch(super::memory::SCHEMA).map_err(open_err)?;
        conn.execute_batch(super::cases::SCHEMA).map_err(open_err)?;
        conn.execute_batch(super::retention::SCHEMA).map_err(open_err)?;
        conn.execute_batch(super::burn::SCHEMA).map_err(open_err)?;
        conn.execute_batch(super::access::SCHEMA).map_err(open_err)?;
        conn.execute_batch(super::alarms::SCHEMA).map_err(open_err)?;
        conn.execute_batch(super::scrub::SCHEMA).map_err(open_err)?;
        conn.execute_batch(super::central::SCHEMA).map_err(open_err)?;
        conn.execute_batch(super::usb::SCHEMA).map_err(open_err)?;
        conn.execute_batch(super::duty::SCHEMA).map_err(open_err)?;
        conn.execute_batch(super::evict::SCHEMA).map_err(open_err)?;
        conn.execute_batch(super::describe::SCHEMA).map_err(open_err)?;
        conn.execute_batch(super::gaps::SCHEMA).map_err(open_err)?;
        conn.execute_batch(super::accounts::SCHEMA).map_err(open_err)?;
        log::create_schema(&conn)?;
        conn.execute_batch(INDEXES).map_err(open_err)?;
        super::keys::create(&conn).map_err(open_err)?;
        restrict(path)?;
        Ok(Catalog { conn, path: path.to_path_buf(), tz, actor })
    }

    /// Opens the catalogue read-only (status, queries).
    ///
    /// # Errors
    /// When it does not exist or cannot be opened.
    pub fn open_read_only(path: &Path, tz: chrono_tz::Tz) -> Result<Catalog, CatalogError> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|source| CatalogError::Open { path: path.to_path_buf(), source })?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|source| CatalogError::Open { path: path.to_path_buf(), source })?;
        Ok(Catalog { conn, path: path.to_path_buf(), tz, actor: Actor::daemon("reader") })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for read queries.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Appends one custody event on its own.
    ///
    /// # Errors
    /// When the write fails.
    pub fn event(&mut self, action: Action, subject: &str, details: Value) -> Result<u64, CatalogError> {
        let actor = self.actor.clone();
        let tz = self.tz;
        let tx = begin(&mut self.conn)?;
        let ev = NewEvent { actor, action, subject: subject.to_string(), details: obj(details) };
        let seq = log::append(&tx, &ev, Utc::now(), tz)?.seq;
        tx.commit().map_err(sql("commit event"))?;
        Ok(seq)
    }

    /// Records a docking: the device (seen or updated), the docking row, and the events
    /// docked, identity read and clock drift (R1, R2, R14). Returns the docking id and what
    /// the registry says of the recorder.
    ///
    /// # Errors
    /// When the write fails.
    pub fn begin_docking(&mut self, d: &DockingStart<'_>) -> Result<(i64, RegistryCheck), CatalogError> {
        let now = Utc::now().to_rfc3339();
        let tx = begin(&mut self.conn)?;
        let id = d.identity;
        if let Some(id) = id {
            tx.execute(
                "INSERT INTO devices (serial, model, firmware, badge, officer_name, unit, writes_chain, first_seen, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
                 ON CONFLICT(serial) DO UPDATE SET model = ?2, firmware = ?3, badge = ?4, officer_name = ?5,
                     unit = ?6, writes_chain = ?7, last_seen = ?8",
                params![id.serial, id.model, id.firmware, id.badge, id.officer_name, id.unit, id.writes_chain, now],
            )
            .map_err(sql("registering the device"))?;
        }
        let registry = match id {
            Some(i) => super::registry::check(super::registry::lookup(&tx, &i.serial)?, &i.badge),
            None => RegistryCheck::Unregistered,
        };
        let unreliable = d.drift_s.map(|s| s.unsigned_abs() > d.drift_threshold_s);
        tx.execute(
            "INSERT INTO dockings (serial, volume, started, dock_clock, device_clock, drift_s, battery, storage_free,
                 storage_total, badge, registered, clock_unreliable)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                id.map(|i| &i.serial),
                d.volume,
                now,
                wall(&d.dock_clock),
                id.filter(|_| d.drift_s.is_some()).map(|i| wall(&i.clock)),
                d.drift_s,
                id.and_then(|i| i.battery_percent),
                id.and_then(|i| i.storage_free).and_then(|v| i64::try_from(v).ok()),
                id.and_then(|i| i.storage_total).and_then(|v| i64::try_from(v).ok()),
                id.map(|i| &i.badge),
                id.map(|_| !registry.is_flagged()),
                unreliable,
            ],
        )
        .map_err(sql("recording the docking"))?;
        let docking = tx.last_insert_rowid();
        let subject = format!("docking:{docking}");
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::Docked,
            subject.clone(),
            json!({ "volume": d.volume, "usb": d.usb }),
        )?;
        if let Some(id) = id {
            append(
                &self.actor,
                self.tz,
                &tx,
                Action::IdentityRead,
                format!("device:{}", id.serial),
                json!({
                    "docking": docking, "serial": id.serial, "badge": id.badge, "officer_name": id.officer_name,
                    "unit": id.unit, "model": id.model, "firmware": id.firmware, "writes_chain": id.writes_chain,
                    "battery_percent": id.battery_percent, "storage_free": id.storage_free, "storage_total": id.storage_total,
                    "registry": registry.as_str(), "registry_note": registry.describe(&id.serial),
                    "adapter": d.adapter,
                }),
            )?;
            append(
                &self.actor,
                self.tz,
                &tx,
                Action::ClockDrift,
                format!("device:{}", id.serial),
                json!({
                    "docking": docking, "device_clock": d.drift_s.map(|_| wall(&id.clock)), "dock_clock": wall(&d.dock_clock),
                    "drift_s": d.drift_s, "threshold_s": d.drift_threshold_s,
                    "unreliable": d.drift_s.is_some_and(|s| s.unsigned_abs() > d.drift_threshold_s),
                }),
            )?;
            // Docking is the check-in: a recorder out on duty is back (INV-27).
            super::duty::check_in(&self.actor, self.tz, &tx, &id.serial, docking)?;
        }
        tx.commit().map_err(sql("commit docking"))?;
        Ok((docking, registry))
    }

    /// The file already archived for `source` of device `serial`, if any (latest first).
    ///
    /// # Errors
    /// When the query fails.
    pub fn archived(&self, serial: &str, source: &str) -> Result<Vec<ArchivedFile>, CatalogError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, archive_path, size, blake3 FROM files WHERE serial = ?1 AND source = ?2 ORDER BY id DESC",
            )
            .map_err(sql("looking up archived files"))?;
        let rows = st
            .query_map(params![serial, source], |r| {
                Ok(ArchivedFile {
                    id: r.get(0)?,
                    archive_path: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                    blake3: r.get(3)?,
                })
            })
            .map_err(sql("looking up archived files"))?;
        rows.collect::<Result<_, _>>().map_err(sql("looking up archived files"))
    }

    /// The archived file at `archive_path`, if catalogued.
    ///
    /// # Errors
    /// When the query fails.
    pub fn archived_at(&self, archive_path: &str) -> Result<Option<ArchivedFile>, CatalogError> {
        self.conn
            .query_row(
                "SELECT id, archive_path, size, blake3 FROM files WHERE archive_path = ?1",
                params![archive_path],
                |r| {
                    Ok(ArchivedFile {
                        id: r.get(0)?,
                        archive_path: r.get(1)?,
                        size: r.get::<_, i64>(2)? as u64,
                        blake3: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(sql("looking up an archive path"))
    }

    /// Records a file durably in the archive and verified by read-back, with its custody
    /// event (segment copied, or archive recovered when adopted after an interruption).
    ///
    /// # Errors
    /// When the write fails.
    pub fn record_copy(&mut self, c: &CopyRecord<'_>) -> Result<ArchivedFile, CatalogError> {
        let tx = begin(&mut self.conn)?;
        let h = hex(&c.hash);
        tx.execute(
            "INSERT INTO files (serial, source, size, blake3, archive_path, docking_id, stored, read_back, immutable)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                c.serial,
                c.source,
                c.size as i64,
                h,
                c.archive_path,
                c.docking_id,
                Utc::now().to_rfc3339(),
                c.read_back,
                c.immutable
            ],
        )
        .map_err(sql("recording an archived file"))?;
        let id = tx.last_insert_rowid();
        let action = if c.recovered { Action::ArchiveRecovered } else { Action::SegmentCopied };
        append(
            &self.actor,
            self.tz,
            &tx,
            action,
            format!("file:{}/{}", c.serial, c.source),
            json!({
                "docking": c.docking_id, "source": c.source, "archive_path": c.archive_path, "size": c.size,
                "blake3": h, "read_back": c.read_back, "immutable": c.immutable, "file": id,
            }),
        )?;
        tx.commit().map_err(sql("commit archived file"))?;
        Ok(ArchivedFile { id, archive_path: c.archive_path.to_string(), size: c.size, blake3: h })
    }

    /// Records the verification of one docking: a row per segment, session, gap and
    /// contradiction, and their events (segment verified or flagged, session verified, gap
    /// found, contradiction found); remembers the sessions seen for the first time
    /// (`session_remembered`). Updates the device's last sequence number.
    ///
    /// # Errors
    /// When the write fails.
    pub fn record_verification(
        &mut self,
        docking_id: i64,
        serial: &str,
        report: &Report,
        rows: &[SegmentRow<'_>],
    ) -> Result<(), CatalogError> {
        let provenance = match report.provenance {
            Provenance::SealedAtSource => "sealed_at_source",
            Provenance::SealedAtDock => "sealed_at_dock",
        };
        let tx = begin(&mut self.conn)?;
        let opt_wall = |t: &Option<NaiveDateTime>| t.as_ref().map(wall);
        for row in rows {
            let f = row.finding;
            tx.execute(
                "INSERT INTO segments (docking_id, serial, session, seq, name, kind, start_device, end_device,
                    start_corrected, end_corrected, verdict, attested_bytes, provenance, detail, file_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    docking_id,
                    serial,
                    f.session,
                    f.seq.map(seq_to_sql),
                    f.name,
                    f.kind.map(|k| k.to_string()),
                    opt_wall(&f.start),
                    opt_wall(&f.end),
                    opt_wall(&row.corrected.0),
                    opt_wall(&row.corrected.1),
                    f.verdict.as_str(),
                    f.attested_bytes as i64,
                    provenance,
                    f.detail,
                    row.file_id,
                ],
            )
            .map_err(sql("recording a segment verdict"))?;
            let action = if f.verdict.is_flagged() { Action::SegmentFlagged } else { Action::SegmentVerified };
            let subject = match (f.seq, &f.name) {
                (Some(seq), _) => format!("segment:{serial}/{seq}"),
                (None, Some(name)) => format!("segment:{serial}/{name}"),
                (None, None) => format!("segment:{serial}/?"),
            };
            append(
                &self.actor,
                self.tz,
                &tx,
                action,
                subject,
                json!({
                    "docking": docking_id, "verdict": f.verdict.as_str(), "name": f.name, "session": f.session,
                    "attested_bytes": f.attested_bytes, "provenance": provenance, "detail": f.detail,
                    "source": f.source, "seq_last": f.last_seq,
                }),
            )?;
        }
        for s in &report.sessions {
            tx.execute(
                "INSERT INTO sessions (docking_id, serial, session, chain_file, state, links_intact, first_seq, last_seq,
                    start_device, end_device, notes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    docking_id,
                    serial,
                    s.session,
                    s.chain_file,
                    s.state.as_str(),
                    s.links_intact,
                    s.first_seq.map(seq_to_sql),
                    s.last_seq.map(seq_to_sql),
                    opt_wall(&s.start),
                    opt_wall(&s.end),
                    s.notes.join("\n"),
                ],
            )
            .map_err(sql("recording a session"))?;
            append(
                &self.actor,
                self.tz,
                &tx,
                Action::SessionVerified,
                format!("session:{serial}/{}", s.session),
                json!({
                    "docking": docking_id, "chain_file": s.chain_file, "state": s.state.as_str(), "links_intact": s.links_intact,
                    "first_seq": s.first_seq, "last_seq": s.last_seq, "gaps": s.gaps.len(), "notes": s.notes,
                }),
            )?;
            for g in &s.gaps {
                tx.execute(
                    "INSERT INTO gaps (docking_id, serial, session, after_seq, before_seq, from_device, to_device, duration_ms, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        docking_id,
                        serial,
                        s.session,
                        seq_to_sql(g.after_seq),
                        seq_to_sql(g.before_seq),
                        wall(&g.from),
                        wall(&g.to),
                        i64::try_from(g.duration_ms).unwrap_or(i64::MAX),
                        g.reason.map(|r| r.code()),
                    ],
                )
                .map_err(sql("recording a gap"))?;
                append(
                    &self.actor,
                    self.tz,
                    &tx,
                    Action::GapFound,
                    format!("session:{serial}/{}", s.session),
                    json!({
                        "docking": docking_id, "after_seq": g.after_seq, "before_seq": g.before_seq, "from": wall(&g.from),
                        "to": wall(&g.to), "duration_ms": g.duration_ms, "reason": g.reason.map(|r| r.code()),
                        "explained": g.reason.is_some(),
                    }),
                )?;
            }
        }
        for (file, err) in &report.bad_lines {
            let path = format!("{}/{file}", crate::recorder::format::CHAIN_DIR);
            let what = format!("unreadable chain line: {err}");
            insert_hostile(&self.actor, self.tz, &tx, docking_id, &path, &what)?;
        }
        super::memory::record_contradictions(&self.actor, self.tz, &tx, docking_id, serial, &report.contradictions)?;
        super::memory::remember(&self.actor, self.tz, &tx, docking_id, serial, &report.learnt)?;
        // The highest number unsigned (SQL's MAX would compare the stored bits as signed).
        let max_seq = report.segments.iter().filter_map(|s| s.last_seq.or(s.seq)).max();
        if let Some(max) = max_seq {
            let stored: Option<i64> = tx
                .query_row("SELECT last_seq FROM devices WHERE serial = ?1", params![serial], |r| r.get(0))
                .optional()
                .map_err(sql("reading the device's last sequence number"))?
                .flatten();
            let last = stored.map_or(max, |s| seq_from_sql(s).max(max));
            tx.execute("UPDATE devices SET last_seq = ?2 WHERE serial = ?1", params![serial, seq_to_sql(last)])
                .map_err(sql("updating the device's last sequence number"))?;
        }
        tx.commit().map_err(sql("commit verification"))
    }

    /// Records a hostile or unexpected entry on a volume (never followed, left in place).
    ///
    /// # Errors
    /// When the write fails.
    pub fn record_hostile(&mut self, docking_id: i64, path: &str, what: &str) -> Result<(), CatalogError> {
        let tx = begin(&mut self.conn)?;
        insert_hostile(&self.actor, self.tz, &tx, docking_id, path, what)?;
        tx.commit().map_err(sql("commit hostile entry"))
    }

    /// Records the removal of one recorder file, after its archive copy was verified.
    ///
    /// # Errors
    /// When the write fails.
    pub fn record_wipe(&mut self, w: &WipeRecord<'_>) -> Result<(), CatalogError> {
        let tx = begin(&mut self.conn)?;
        tx.execute(
            "INSERT INTO wipes (docking_id, serial, source, blake3, file_id, wiped) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![w.docking_id, w.serial, w.source, w.file.blake3, w.file.id, Utc::now().to_rfc3339()],
        )
        .map_err(sql("recording a wipe"))?;
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::SegmentWiped,
            format!("file:{}/{}", w.serial, w.source),
            json!({ "docking": w.docking_id, "source": w.source, "blake3": w.file.blake3, "archive_path": w.file.archive_path }),
        )?;
        tx.commit().map_err(sql("commit wipe"))
    }

    /// Closes a docking with its outcome and one final event.
    ///
    /// # Errors
    /// When the write fails.
    pub fn finish_docking(
        &mut self,
        docking_id: i64,
        outcome: &str,
        safe_to_undock: bool,
        action: Action,
        details: Value,
    ) -> Result<(), CatalogError> {
        let tx = begin(&mut self.conn)?;
        tx.execute(
            "UPDATE dockings SET finished = ?2, outcome = ?3, safe_to_undock = ?4 WHERE id = ?1",
            params![docking_id, Utc::now().to_rfc3339(), outcome, safe_to_undock],
        )
        .map_err(sql("closing the docking"))?;
        let mut d = obj(details);
        d.insert("outcome".into(), Value::from(outcome));
        d.insert("safe_to_undock".into(), Value::from(safe_to_undock));
        append(&self.actor, self.tz, &tx, action, format!("docking:{docking_id}"), Value::Object(d))?;
        tx.commit().map_err(sql("commit docking outcome"))
    }

    /// The latest docking of device `serial` before `docking_id` that was closed, with its
    /// outcome: what the last attempt to ingest this recorder came to.
    ///
    /// # Errors
    /// When the query fails.
    pub fn previous_outcome(&self, serial: &str, docking_id: i64) -> Result<Option<(i64, String)>, CatalogError> {
        self.conn
            .query_row(
                "SELECT id, outcome FROM dockings WHERE serial = ?1 AND id < ?2 AND outcome IS NOT NULL
                 ORDER BY id DESC LIMIT 1",
                params![serial, docking_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql("reading the previous docking of a device"))
    }

    /// Footage of a device archived and then wiped from it at an earlier docking: file name,
    /// path on the volume, size, BLAKE3. A chain still on the recorder may name them (a wipe interrupted before
    /// the chain files went): they are verified against what the archive holds.
    ///
    /// # Errors
    /// When the query fails.
    pub fn wiped_footage(&self, serial: &str) -> Result<Vec<(String, String, u64, Digest)>, CatalogError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT DISTINCT f.source, f.size, f.blake3 FROM wipes w JOIN files f ON f.id = w.file_id
                 WHERE w.serial = ?1 AND f.purged IS NULL",
            )
            .map_err(sql("reading wiped footage"))?;
        let rows = st
            .query_map(params![serial], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))
            .map_err(sql("reading wiped footage"))?;
        let mut out = Vec::new();
        for row in rows {
            let (source, size, hex_hash) = row.map_err(sql("reading wiped footage"))?;
            let Ok(h) = crate::recorder::format::parse_hex(0, "blake3", &hex_hash) else { continue };
            let name = source.rsplit('/').next().unwrap_or(&source).to_string();
            out.push((name, source, size as u64, h));
        }
        Ok(out)
    }

    /// The last sequence number seen from a device at an earlier docking.
    ///
    /// # Errors
    /// When the query fails.
    pub fn device_last_seq(&self, serial: &str) -> Result<Option<u64>, CatalogError> {
        self.conn
            .query_row("SELECT last_seq FROM devices WHERE serial = ?1", params![serial], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .optional()
            .map(|v| v.flatten().map(seq_from_sql))
            .map_err(sql("reading the device's last sequence number"))
    }

    /// The most recent dockings, newest first.
    ///
    /// # Errors
    /// When the query fails.
    pub fn recent_dockings(&self, limit: usize) -> Result<Vec<DockingSummary>, CatalogError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, serial, volume, started, finished, outcome, safe_to_undock FROM dockings ORDER BY id DESC LIMIT ?1",
            )
            .map_err(sql("listing dockings"))?;
        let mut out: Vec<DockingSummary> = st
            .query_map(params![limit as i64], |r| {
                Ok(DockingSummary {
                    id: r.get(0)?,
                    serial: r.get(1)?,
                    volume: r.get(2)?,
                    started: r.get(3)?,
                    finished: r.get(4)?,
                    outcome: r.get(5)?,
                    safe_to_undock: r.get(6)?,
                    verdicts: Vec::new(),
                    contradictions: 0,
                })
            })
            .map_err(sql("listing dockings"))?
            .collect::<Result<_, _>>()
            .map_err(sql("listing dockings"))?;
        let mut st = self
            .conn
            .prepare("SELECT verdict, COUNT(*) FROM segments WHERE docking_id = ?1 GROUP BY verdict ORDER BY verdict")
            .map_err(sql("counting verdicts"))?;
        let mut count = self
            .conn
            .prepare("SELECT COUNT(*) FROM contradictions WHERE docking_id = ?1")
            .map_err(sql("counting contradictions"))?;
        for d in &mut out {
            d.contradictions =
                count.query_row(params![d.id], |r| r.get::<_, i64>(0)).map_err(sql("counting contradictions"))? as u64;
            d.verdicts = st
                .query_map(params![d.id], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
                .map_err(sql("counting verdicts"))?
                .collect::<Result<_, _>>()
                .map_err(sql("counting verdicts"))?;
        }
        Ok(out)
    }

    /// Signs a checkpoint of the custody log when events were added since the last one
    /// (stored, appended to `side_file`). `None` when nothing new was logged.
    ///
    /// # Errors
    /// [`crate::custody::CustodyError::Unsound`] when the log no longer verifies or no longer
    /// extends the last checkpoint: tampering.
    pub fn checkpoint(
        &mut self,
        signer: &crate::custody::checkpoint::NoteSigner,
        side_file: &Path,
    ) -> Result<Option<crate::custody::store::StoredCheckpoint>, CatalogError> {
        if !log::checkpoint_due(&self.conn)? {
            return Ok(None);
        }
        Ok(Some(log::checkpoint(&self.conn, signer, Some(side_file), Utc::now())?))
    }

    /// Row counts of the main tables (for tests and the status view).
    ///
    /// # Errors
    /// When the query fails.
    pub fn count(&self, table: &str) -> Result<u64, CatalogError> {
        const TABLES: &[&str] = &[
            "devices",
            "dockings",
            "files",
            "segments",
            "sessions",
            "gaps",
            "hostile",
            "wipes",
            "chain_sessions",
            "contradictions",
        ];
        if !TABLES.contains(&table) {
            return Ok(0);
        }
        self.conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(sql("counting rows"))
    }
}
