//! The ingest executor: the one place that writes footage into the archive and the one
//! place that removes it from a recorder. It runs the steps in the order the invariants name:
//! identify, scan, copy while hashing into a temporary file, fsync, read back from disk,
//! rename without overwriting, fsync the folder, seal read-only, catalogue with its custody
//! event; then verify the chain; then, only when every footage file is durable and verified,
//! wipe the recorder file by file.
//!
//! Runs on a blocking thread, one call per docked volume. Errors that end a bay early
//! ([`IngestError`]) leave the recorder untouched beyond what was already verified.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};
use serde_json::json;

use crate::archive::{fsio, layout};
use crate::catalog::{ArchivedFile, Catalog, CatalogError, CopyRecord, DockingStart, SegmentRow, WipeRecord};
use crate::config::Config;
use crate::custody::event::Action;
use crate::dock::volume::{components, Stamp, Volume};
use crate::recorder::adapter::{self, Adapter, AdapterError, FootageLayout, Selection};
use crate::recorder::format::{self, hex, ChainFile, Digest, Identity};
use crate::recorder::{seal, verify};

use super::plan;
use super::progress::{Phase, Progress, CONTRADICTIONS_SHOWN};
use super::scan::{self, Inventory, Item, Limits};

/// What one bay works with. The catalogue mutex is shared by all bays (one writer).
#[derive(Debug, Clone, Copy)]
pub struct Bay<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// The catalogue, shared by all bays.
    pub catalog: &'a Mutex<Catalog>,
    /// This bay's progress, read by the status view.
    pub progress: &'a Progress,
    /// Set when the daemon stops: the bay stops at the next safe point.
    pub stop: &'a AtomicBool,
    /// The USB device the volume came from, when the daemon saw it on the bus.
    pub usb: Option<&'a crate::dock::usb::UsbDevice>,
    /// The serials being ingested now, by every bay, with their volume: two volumes claiming
    /// one serial at once is an identity conflict.
    pub claims: &'a Claims,
    /// What a vendor SDK found before this recorder switched to storage (`gat947-sdk`).
    pub sdk: Option<&'a crate::recorder::adapter::gat947::SdkSession>,
}

/// Serial being ingested → the volume folder claiming it, shared by the bays.
pub type Claims = Mutex<std::collections::BTreeMap<String, String>>;

/// Releases a bay's claim on a serial when its ingest ends, however it ends.
struct Claim<'a> {
    claims: &'a Claims,
    serial: String,
    held: bool,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if self.held {
            self.claims.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.serial);
        }
    }
}

/// How an ingest ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No identity file: not a recorder, left alone.
    NotARecorder,
    /// An identity file that is not valid: nothing copied, nothing written, reported.
    BadIdentity(String),
    /// The ingest ran to the end.
    Finished {
        /// Footage files archived and verified by read-back (now or at an earlier docking).
        archived: u64,
        /// Footage files that could not be archived (left on the recorder).
        failed: u64,
        /// Segments with a flagged verdict.
        flagged: u64,
        /// Something needs a person's review: a flagged segment, an unexplained gap, a cut
        /// session, a broken chain link or an unreadable chain line (R5, R6).
        review: bool,
        /// Whether the recorder was wiped.
        wiped: bool,
        /// Every footage file is durable and verified in the archive.
        safe_to_undock: bool,
    },
}

/// Why a bay stopped before the end. Nothing was wiped that is not verified (INV-1).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The volume disappeared (undocked mid-ingest).
    #[error("recorder volume {volume} disappeared during the ingest (undocked): nothing unverified was wiped; dock it again to resume")]
    DeviceGone {
        /// The volume folder.
        volume: PathBuf,
    },
    /// The archive filesystem is full.
    #[error("the archive is full (writing {path}): free space on the archive disk and dock the recorder again; it keeps everything not yet verified")]
    NoSpace {
        /// Where the write failed.
        path: PathBuf,
    },
    /// The daemon is stopping.
    #[error("stopping: ingest of {volume} left at a safe point; it resumes when the daemon starts again")]
    Stopped {
        /// The volume folder.
        volume: PathBuf,
    },
    /// An I/O error outside a single file's copy.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The catalogue failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A bug: the ingest panicked. Only files already verified in the archive were wiped.
    #[error("internal error ({what}): ingest of {volume} stopped; only footage verified in the archive was wiped, the rest is still on the recorder: dock it again to finish")]
    Internal {
        /// The volume folder.
        volume: PathBuf,
        /// The panic's message.
        what: String,
    },
}

/// The message of a caught panic.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// The facts of one docking, each read once in [`Bay::run`].
struct Docking<'a> {
    identity: &'a Identity,
    docking_id: i64,
    /// Device clock minus dock clock, seconds.
    drift_s: i64,
    /// The dock's clock when the identity was read (station local time).
    dock_now: NaiveDateTime,
    /// Why the recorder is held (an identity conflict): nothing is written to it.
    conflict: Option<String>,
}

/// What an attempt at a docking got done, for a second attempt after an internal error.
#[derive(Debug, Default)]
struct Attempt {
    /// The scan's refusals are in the custody log.
    refusals_logged: Cell<bool>,
    /// The chain verification is in the catalogue and the custody log.
    verified: Cell<bool>,
}

/// How a docking that met an internal error again closes: archived, without the steps that
/// may have failed (the verification too, unless it was done before the error).
const UNVERIFIED_OUTCOME: &str = "archived, not verified: repeated internal error";
const UNWIPED_OUTCOME: &str = "archived, not wiped: repeated internal error";

/// Outcomes of a docking that met an internal error: abandoned, or archived without the
/// failing steps after a repeated one.
const INTERNAL_OUTCOMES: [&str; 4] =
    ["abandoned: internal error", "abandoned: catalogue error", UNVERIFIED_OUTCOME, UNWIPED_OUTCOME];

fn is_internal_outcome(outcome: &str) -> bool {
    INTERNAL_OUTCOMES.contains(&outcome)
}

impl IngestError {
    /// A bug, or a catalogue that refused what this recorder gave it: the same docking would
    /// fail the same way again.
    fn is_internal(&self) -> bool {
        matches!(self, IngestError::Internal { .. } | IngestError::Catalog(_))
    }

    /// Whether docking again (or restarting) can help without a person acting first.
    pub fn retry_helps(&self) -> bool {
        matches!(self, IngestError::DeviceGone { .. } | IngestError::Stopped { .. })
    }
    fn short(&self) -> &'static str {
        match self {
            IngestError::DeviceGone { .. } => "undocked",
            IngestError::NoSpace { .. } => "archive full",
            IngestError::Stopped { .. } => "daemon stopping",
            IngestError::Io { .. } => "i/o error",
            IngestError::Catalog(_) => "catalogue error",
            IngestError::Internal { .. } => "internal error",
        }
    }
}

/// The outcome of one file: done, or failed with a reason (the bay goes on).
enum FileError {
    Failed(String),
    /// The recorder could not read part of the file (after retries: salvage what it can).
    Unreadable(String),
    /// Unreadable after every attempt; its readable parts are archived as `<name>.PARTIAL`.
    Salvaged(String),
    Fatal(IngestError),
}

impl From<IngestError> for FileError {
    fn from(e: IngestError) -> FileError {
        FileError::Fatal(e)
    }
}

impl From<CatalogError> for FileError {
    fn from(e: CatalogError) -> FileError {
        FileError::Fatal(e.into())
    }
}

/// A copy in its temporary file: read and hashed, not yet durable or verified.
struct StagedCopy {
    staged: fsio::Staged,
    /// Its read-back, perhaps begun while it was written.
    reread: fsio::Rereader,
    dir: PathBuf,
    dest: PathBuf,
    dest_name: String,
    read: verify::ReadFile,
    stamp: Stamp,
}

/// What the first stage hands to the second.
enum Copied {
    /// Already archived at an earlier docking.
    Done(Done),
    /// Streamed into a temporary file.
    Staged(Box<StagedCopy>),
}

/// A file durable and verified in the archive, with what was read from the recorder.
struct Done {
    read: verify::ReadFile,
    archived: ArchivedFile,
    stamp: Stamp,
}

/// Hashes a stream and the prefixes at the requested offsets (for `PART` records).
#[derive(Debug)]
pub struct PrefixHasher<'o> {
    hasher: blake3::Hasher,
    offsets: &'o [u64],
    total: u64,
    prefixes: Vec<(u64, Digest)>,
}

impl<'o> PrefixHasher<'o> {
    /// A hasher that also snapshots the hash of the first `o` bytes for each `o` in
    /// `offsets` (sorted ascending).
    pub fn new(offsets: &'o [u64]) -> PrefixHasher<'o> {
        let mut h = PrefixHasher { hasher: blake3::Hasher::new(), offsets, total: 0, prefixes: Vec::new() };
        h.snapshot_due();
        h
    }

    fn snapshot_due(&mut self) {
        while let Some((&o, rest)) = self.offsets.split_first() {
            if o > self.total {
                break;
            }
            if o == self.total {
                self.prefixes.push((o, *self.hasher.clone().finalize().as_bytes()));
            }
            self.offsets = rest;
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = match self.offsets.first() {
                Some(&o) if o > self.total => (o - self.total).min(data.len() as u64) as usize,
                _ => data.len(),
            };
            self.hasher.update(&data[..room]);
            self.total += room as u64;
            data = &data[room..];
            self.snapshot_due();
        }
    }

    /// Bytes fed, the whole hash, and the prefix hashes.
    pub fn finish(self) -> (u64, Digest, Vec<(u64, Digest)>) {
        (self.total, *self.hasher.finalize().as_bytes(), self.prefixes)
    }
}

/// Paces reads to a rate (bytes per second), in steps short enough to notice a stop.
struct Pace {
    rate: u64,
    start: Instant,
    bytes: u64,
    /// Time spent waiting for the pace, for the stage timings in the debug log.
    waited: Duration,
}

impl Pace {
    fn new(rate: u64) -> Pace {
        Pace { rate, start: Instant::now(), bytes: 0, waited: Duration::ZERO }
    }
    /// Waits until `n` more bytes are due, giving the time to `idle` while it has work.
    fn after<E>(&mut self, n: usize, stop: &AtomicBool, idle: &mut impl FnMut() -> Result<bool, E>) -> Result<(), E> {
        if self.rate == 0 {
            return Ok(());
        }
        self.bytes += n as u64;
        let due = Duration::from_secs_f64(self.bytes as f64 / self.rate as f64);
        let t = Instant::now();
        while self.start.elapsed() < due && !stop.load(Ordering::Relaxed) {
            if idle()? {
                continue;
            }
            // The idle step may have run past `due`: then there is nothing to sleep.
            std::thread::sleep(due.saturating_sub(self.start.elapsed()).min(Duration::from_millis(50)));
        }
        self.waited += t.elapsed();
        Ok(())
    }
}

/// Test builds can store a wrong byte in a copy, as a failing disk or controller would
/// (`EVIDOCK_CORRUPT_WRITE=NAME:OFFSET`): the read-back must catch it.
#[cfg(feature = "failpoints")]
fn corrupt_write(path: &Path, name: &str, at: u64, len: usize) {
    use std::os::unix::fs::FileExt;
    let Ok(spec) = std::env::var("EVIDOCK_CORRUPT_WRITE") else { return };
    let Some((n, offset)) = spec.split_once(':') else { return };
    let Ok(offset) = offset.parse::<u64>() else { return };
    if n == name && (at..at + len as u64).contains(&offset) {
        let file = std::fs::OpenOptions::new().read(true).write(true).open(path).expect("the copy being written");
        let mut b = [0u8];
        file.read_exact_at(&mut b, offset).expect("the byte just written");
        file.write_all_at(&[b[0] ^ 0x01], offset).expect("a write to the copy");
    }
}

/// Test builds can make the archive disk stop answering in the write of a named file
/// (`EVIDOCK_STALL_WRITE=NAME`), as a hung controller or a network file system does: the
/// write never returns (INV-31).
#[cfg(feature = "failpoints")]
fn stall_write(name: &str) {
    if std::env::var("EVIDOCK_STALL_WRITE").is_ok_and(|n| n == name) {
        eprintln!("evidock: the write of {name} stalls (EVIDOCK_STALL_WRITE)");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

/// A positioned read from the recorder. Test builds can make a byte range of a named file
/// fail with `EIO` (`EVIDOCK_FAIL_READ=NAME:FROM-TO`), as a damaged card does.
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64, name: &str) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    #[cfg(feature = "failpoints")]
    if let Ok(spec) = std::env::var("EVIDOCK_FAIL_READ") {
        if let Some((n, range)) = spec.split_once(':') {
            if let Some((a, b)) = range.split_once('-') {
                let (a, b): (u64, u64) = (a.parse().unwrap_or(0), b.parse().unwrap_or(0));
                if n == name && offset < b && offset + buf.len() as u64 > a {
                    // Read up to the bad range, then fail, as a disk would.
                    if offset < a {
                        let ok = (a - offset) as usize;
                        return file.read_at(&mut buf[..ok], offset);
                    }
                    return Err(io::Error::from_raw_os_error(libc::EIO));
                }
            }
        }
    }
    let _ = name;
    file.read_at(buf, offset)
}

fn usb_text(u: &crate::dock::usb::UsbDevice) -> String {
    format!("{} {} serial {}", u.id(), u.model, u.serial.as_deref().unwrap_or("?"))
}

/// How much of a recorder file is read before its cached pages are dropped (see
/// [`fsio::drop_cache_range`]).
const DROP_BEHIND: u64 = 8 << 20;

/// Milliseconds since `t`, for the stage timings in the debug log.
fn ms(t: Instant) -> u64 {
    t.elapsed().as_millis() as u64
}

fn is_nospace(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

impl Bay<'_> {
    pub(super) fn catalog(&self) -> std::sync::MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Ingests the volume at `path`: the whole pipeline, once.
    ///
    /// # Errors
    /// When the bay stops early (undocked, full archive, stopping, catalogue failure). The
    /// custody log records why; the recorder keeps everything not yet verified.
    pub fn run(&self, path: &Path) -> Result<Outcome, IngestError> {
        let volume_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let vol = Volume::open(path).map_err(|source| IngestError::Io {
            action: "opening volume",
            path: path.into(),
            source,
        })?;
        let tz = self.config.timezone;
        let now_utc = Utc::now();
        let dock_now = now_utc.with_timezone(&tz).naive_local();
        // The model table decides the adapter, by the USB id of the device the volume is on.
        let usb = adapter::usb_facts(self.usb, &vol);
        let model = usb.as_ref().and_then(|u| adapter::model_for(&self.config.usb.models, u));
        let bound = match (model, usb.as_ref().and_then(|u| u.serial.clone())) {
            (Some(m), Some(usb_serial)) if m.profile.kind.identity_from_registry() => {
                self.catalog().bound_device(&crate::catalog::UsbBinding {
                    vendor_id: m.vendor_id,
                    product_id: m.product_id,
                    usb_serial,
                })?
            }
            _ => None,
        };
        let adapter = match adapter::select(&vol, usb.as_ref(), model, bound, self.sdk, dock_now) {
            Selection::Adapter(a) => a,
            Selection::Untouched { reason, reason_zh } => {
                self.catalog().event(
                    Action::UnknownVolume,
                    &format!("volume:{volume_name}"),
                    json!({ "volume": volume_name, "reason": reason, "touched": false,
                            "usb": usb.as_ref().map(|u| u.id()), "usb_serial": usb.as_ref().and_then(|u| u.serial.clone()) }),
                )?;
                self.progress.update(|s| {
                    s.phase = Phase::NotARecorder;
                    s.message = format!("{reason} / {reason_zh}");
                });
                return Ok(Outcome::NotARecorder);
            }
        };
        let identity = match adapter.identify() {
            Ok(id) => id,
            Err(AdapterError::NotARecorder { file }) => {
                self.catalog().event(
                    Action::UnknownVolume,
                    &format!("volume:{volume_name}"),
                    json!({ "volume": volume_name, "reason": format!("no {file} at the volume root"), "touched": false }),
                )?;
                self.progress.update(|s| {
                    s.phase = Phase::NotARecorder;
                    s.message = format!(
                        "not a recorder (no {file}): left alone, nothing read or written / 非执法记录仪，未读写"
                    );
                });
                return Ok(Outcome::NotARecorder);
            }
            Err(_) if !vol.present() => return Err(IngestError::DeviceGone { volume: path.into() }),
            // Invalid, unreadable, too large, a link or not a regular file: refused, and that
            // refusal is a docking of its own in the custody log.
            Err(e) => return self.refuse_identity(&volume_name, dock_now, e),
        };

        // Drift: both clocks in UTC where the recorder states its zone, else both local. Whole
        // seconds, so that a clock at either end of the range of times cannot overflow.
        // A recorder whose clock cannot be read has no known drift (its times are unattested).
        let clock_source = adapter.clock_source();
        let drift_s = match identity.clock_utc_offset {
            _ if clock_source.is_none() => 0,
            Some(off) => plan::drift_seconds_utc(identity.clock, off, now_utc.naive_utc()),
            None => plan::drift_seconds(identity.clock, dock_now),
        };
        let drift_known = clock_source.is_some().then_some(drift_s);
        let adapter_facts = json!({
            "kind": adapter.kind().as_str(), "model": model.map(|m| m.name.clone()),
            "identity_source": adapter.identity_source(),
            "clock_source": clock_source.clone().unwrap_or_else(|| "not read: the recorder's times are unattested".into()),
        });
        // Nothing before the docking is catalogued may escape as a panic either: the docking is
        // then recorded without its drift, and closed as abandoned.
        let begun = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.begin(&volume_name, &identity, drift_known, dock_now, adapter_facts.clone())
        }));
        let docking_id = match begun {
            Ok(r) => r?,
            Err(panic) => {
                let e = IngestError::Internal { volume: vol.path().into(), what: panic_text(&*panic) };
                let mut cat = self.catalog();
                let (docking, _) = cat.begin_docking(&DockingStart {
                    volume: &volume_name,
                    usb: self.usb.map(usb_text),
                    identity: Some(&identity),
                    dock_clock: dock_now,
                    drift_s: None,
                    drift_threshold_s: self.config.ingest.clock_drift_threshold_s,
                    adapter: None,
                })?;
                drop(cat);
                return Err(self.abandon(docking, e));
            }
        };
        // One serial, one recorder: the USB serial must be the identity's, and no other volume
        // docked now may claim it. A conflict is ingested (the evidence is kept) but not wiped.
        // The USB serial as the USB watch reported it, or as the kernel has it for the volume's
        // disk: the watch may report the device only after the volume is mounted (a daemon
        // starting with a recorder docked).
        // (A recorder known by its USB binding has the registry's serial: the binding is the check.)
        let usb_serial = self
            .usb
            .and_then(|u| u.serial.clone())
            .into_iter()
            .chain(vol.usb_serial())
            .filter(|_| !adapter.kind().identity_from_registry())
            .find(|u| *u != identity.serial);
        let mut claim = Claim { claims: self.claims, serial: identity.serial.clone(), held: false };
        let conflict = {
            let mut claims = self.claims.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match (usb_serial, claims.get(&identity.serial)) {
                (Some(u), _) if u != identity.serial => {
                    Some(format!("the identity file says {} but the USB serial is {u}", identity.serial))
                }
                (_, Some(other)) if *other != volume_name => {
                    Some(format!("volume {other} docked now claims the same serial {}", identity.serial))
                }
                _ => {
                    claims.insert(identity.serial.clone(), volume_name.clone());
                    claim.held = true;
                    None
                }
            }
        };
        if let Some(why) = &conflict {
            self.catalog().event(
                Action::IdentityConflict,
                &format!("device:{}", identity.serial),
                json!({ "docking": docking_id, "volume": volume_name, "conflict": why }),
            )?;
            self.progress.update(|s| s.registry_note = Some(format!("{why} / 设备身份冲突，不清除记录仪")));
        }
        // A bug in one bay must not leave its docking open with no word in the log: the panic
        // becomes an abandoned docking like any other stop (INV-2 still holds: a file is wiped
        // only after its own verification, so the recorder keeps everything not yet verified).
        let attempt = Attempt::default();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let facts = Docking { identity: &identity, docking_id, drift_s, dock_now, conflict: conflict.clone() };
            self.ingest_recorder(&vol, adapter.as_ref(), &facts, &attempt)
        }))
        .unwrap_or_else(|panic| Err(IngestError::Internal { volume: vol.path().into(), what: panic_text(&*panic) }));
        // The same recorder failing the same way at every docking would never be verified nor
        // wiped, and its footage never archived: when its previous docking also ended in an
        // internal error, what can be done without the failing steps is done.
        let previous = match &result {
            // Bound here: the catalogue's lock is released before anything else takes it.
            Err(e) if e.is_internal() => self.catalog().previous_outcome(&identity.serial, docking_id),
            _ => Ok(None),
        };
        let result = match result {
            Err(e) if e.is_internal() => match previous {
                Ok(Some((previous, outcome))) if is_internal_outcome(&outcome) => {
                    let step = self.progress.snapshot().phase;
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.ingest_unverified(
                            &vol,
                            adapter.layout(),
                            &identity,
                            docking_id,
                            dock_now,
                            &attempt,
                            &e,
                            step,
                            previous,
                        )
                    }))
                    .unwrap_or_else(|panic| {
                        Err(IngestError::Internal { volume: vol.path().into(), what: panic_text(&*panic) })
                    })
                }
                _ => Err(e),
            },
            other => other,
        };
        drop(claim);
        result.map_err(|e| self.abandon(docking_id, e))
    }

    /// Catalogues a docking with its identity and drift (R1, R2, R14) and shows it in the bay.
    fn begin(
        &self,
        volume_name: &str,
        identity: &Identity,
        drift_s: Option<i64>,
        dock_now: NaiveDateTime,
        adapter: serde_json::Value,
    ) -> Result<i64, IngestError> {
        let (docking_id, registry) = self.catalog().begin_docking(&DockingStart {
            volume: volume_name,
            usb: self.usb.map(usb_text),
            identity: Some(identity),
            dock_clock: dock_now,
            drift_s,
            drift_threshold_s: self.config.ingest.clock_drift_threshold_s,
            adapter: Some(adapter),
        })?;
        self.progress.update(|s| {
            s.docking_id = Some(docking_id);
            s.serial = Some(identity.serial.clone());
            s.officer = Some(match &identity.officer_name {
                Some(n) => format!("{} {n}", identity.badge),
                None => identity.badge.clone(),
            });
            s.battery = identity.battery_percent;
            s.storage_free = identity.storage_free;
            s.drift_s = drift_s;
            s.clock_unreliable = drift_s.is_some_and(|d| d.unsigned_abs() > self.config.ingest.clock_drift_threshold_s);
            s.registry = registry.as_str().to_string();
            if registry.is_flagged() {
                s.registry_note = Some(registry.describe(&identity.serial));
            }
            s.phase = Phase::Copying;
        });
        Ok(docking_id)
    }

    /// Closes a docking that stopped early as `ingest_abandoned`, says so in the bay, and hands
    /// the error back.
    fn abandon(&self, docking_id: i64, e: IngestError) -> IngestError {
        let reason = e.to_string();
        self.progress.update(|s| {
            s.phase = Phase::Abandoned;
            s.message = format!("{reason} / 导入中止：未经核验的录像均仍在记录仪上");
        });
        // The log says why; if the catalogue itself failed, this may fail too.
        let _ = self.catalog().finish_docking(
            docking_id,
            &format!("abandoned: {}", e.short()),
            false,
            Action::IngestAbandoned,
            json!({ "error": reason, "retry_helps": e.retry_helps() }),
        );
        e
    }

    /// An identity file that cannot be used (invalid, unreadable, too large, not a regular
    /// file): a docking without identity, the file reported as refused, closed as abandoned.
    /// Nothing is copied, nothing is written to the recorder.
    fn refuse_identity(
        &self,
        volume_name: &str,
        dock_now: NaiveDateTime,
        e: AdapterError,
    ) -> Result<Outcome, IngestError> {
        let msg = match e {
            AdapterError::BadIdentity { .. } => e.to_string(),
            _ => format!("identity file {} cannot be used: {e}", format::IDENTITY_FILE),
        };
        let (outcome, zh) = match e {
            AdapterError::BadIdentity { .. } => ("refused: invalid identity file", "身份文件无效，未导入"),
            _ => (
                "refused: identity file unreadable",
                "身份文件无法读取（过大、不可读或非普通文件），未导入；请重新接入，仍不行请送检",
            ),
        };
        let mut cat = self.catalog();
        let (docking, _) = cat.begin_docking(&DockingStart {
            volume: volume_name,
            usb: self.usb.map(usb_text),
            identity: None,
            dock_clock: dock_now,
            drift_s: None,
            drift_threshold_s: self.config.ingest.clock_drift_threshold_s,
            adapter: None,
        })?;
        cat.record_hostile(docking, format::IDENTITY_FILE, &msg)?;
        cat.finish_docking(docking, outcome, false, Action::IngestAbandoned, json!({ "error": msg }))?;
        drop(cat);
        self.progress.update(|s| {
            s.docking_id = Some(docking);
            s.phase = Phase::Attention;
            s.message = format!("{msg}: nothing copied or wiped / {zh}");
        });
        Ok(Outcome::BadIdentity(msg))
    }

    /// Records a file that could not be archived (`copy_failed`; it stays on the recorder) and
    /// counts it in `salvaged` when its readable parts were archived as `.PARTIAL`. A fatal
    /// error ends the ingest.
    fn copy_failed(
        &self,
        serial: &str,
        docking_id: i64,
        item: Item,
        error: FileError,
        salvaged: &mut u64,
    ) -> Result<(Item, String), IngestError> {
        let why = match error {
            FileError::Salvaged(why) => {
                *salvaged += 1;
                why
            }
            FileError::Failed(why) | FileError::Unreadable(why) => why,
            FileError::Fatal(e) => return Err(e),
        };
        tracing::error!(serial, file = %item.rel, why = %why, "copy failed");
        self.catalog().event(
            Action::CopyFailed,
            &format!("file:{serial}/{}", item.rel),
            json!({ "docking": docking_id, "source": item.rel, "error": why, "kept_on_recorder": true }),
        )?;
        Ok((item, why))
    }

    fn set_clock(&self, adapter: &dyn Adapter, identity: &Identity, drift_s: i64, dock_now: NaiveDateTime) {
        if !self.config.ingest.set_clock || !identity.clock_settable || drift_s == 0 {
            return;
        }
        let subject = format!("device:{}", identity.serial);
        let result = adapter.set_clock(dock_now);
        let details = match &result {
            Ok(()) => json!({ "old": format::format_wall(identity.clock), "new": format::format_wall(dock_now),
                              "drift_s": drift_s, "applied": adapter.clock_applied() }),
            Err(e) => json!({ "old": format::format_wall(identity.clock), "error": e.to_string() }),
        };
        if let Err(e) = self.catalog().event(Action::ClockSet, &subject, details) {
            tracing::error!(error = %e, "cannot log the clock request");
        }
    }

    /// Scans the volume and records what it refuses (once per docking: `logged` says it was).
    fn scan(
        &self,
        vol: &Volume,
        layout: Option<&FootageLayout>,
        serial: &str,
        docking_id: i64,
        logged: &Cell<bool>,
    ) -> Result<Inventory, IngestError> {
        let limits = Limits {
            max_file_bytes: self.config.ingest.max_segment_bytes,
            max_entries: self.config.ingest.max_files_per_volume,
        };
        // A vendor recorder's footage folders, else the contract's layout.
        let scanned = match layout {
            Some(l) => super::vendor::scan_folders(vol, limits, l),
            None => scan::scan(vol, limits, serial),
        };
        let inventory = scanned.map_err(|source| {
            if vol.present() {
                IngestError::Io { action: "scanning", path: vol.path().into(), source }
            } else {
                IngestError::DeviceGone { volume: vol.path().into() }
            }
        })?;
        if !logged.get() {
            for r in &inventory.refused {
                tracing::warn!(serial, path = %r.path, what = %r.what, "entry left alone");
                self.catalog().record_hostile(docking_id, &r.path, &r.what)?;
            }
            logged.set(true);
        }
        Ok(inventory)
    }

    /// Records the values of a docking that cannot be true or cannot be used (R2, R13, R14),
    /// each named with its record, at most [`plan::MAX_FINDINGS`] of them. Returns how many
    /// there are.
    fn record_findings(&self, docking_id: i64, serial: &str, values: &plan::Values<'_>) -> Result<u64, IngestError> {
        let (found, total) = plan::findings(values);
        for (i, f) in found.iter().enumerate() {
            tracing::warn!(serial, record = %f.record, field = f.field, value = %f.value, why = %f.why, "impossible value");
            let mut details = json!({ "docking": docking_id, "record": f.record, "field": f.field, "value": f.value,
                                      "why": f.why });
            if i + 1 == found.len() && total > found.len() as u64 {
                details["more"] = json!(total - found.len() as u64);
                details["total"] = json!(total);
            }
            self.catalog().event(Action::ImpossibleValue, &format!("device:{serial}"), details)?;
        }
        Ok(total)
    }

    fn ingest_recorder(
        &self,
        vol: &Volume,
        adapter: &dyn Adapter,
        d: &Docking<'_>,
        attempt: &Attempt,
    ) -> Result<Outcome, IngestError> {
        let Docking { identity, docking_id, drift_s, dock_now, ref conflict } = *d;
        let mut conflict = conflict.clone();
        let serial = identity.serial.as_str();
        // What footage times are corrected by: nothing, when the clock is no possible reading.
        let correction = plan::correction(identity.clock, drift_s);
        let layout = adapter.layout();
        let inventory = self.scan(vol, layout, serial, docking_id, &attempt.refusals_logged)?;
        // A vendor recorder's files: dated by name or file system, important marks read. A
        // name carrying another device's serial is an identity conflict (kept, never wiped).
        let dated = layout.map(|l| {
            super::vendor::date_files(l, &inventory.footage, dock_now, |i| {
                super::vendor::local_mtime(vol, &i.rel, self.config.timezone)
            })
        });
        let vendor = dated.is_some();
        let dated = dated.unwrap_or_default();
        if let (None, Some((rel, other))) = (&conflict, super::vendor::foreign_serial(&dated, serial)) {
            let why = format!("file {rel} names device {other}, but this recorder is {serial}");
            self.catalog().event(
                Action::IdentityConflict,
                &format!("device:{serial}"),
                json!({ "docking": docking_id, "volume": vol.path().file_name().map(|n| n.to_string_lossy()), "conflict": why }),
            )?;
            self.progress.update(|s| s.registry_note = Some(format!("{why} / 设备身份冲突，不清除记录仪")));
            conflict = Some(why);
        }
        // How the verification names a file: the contract's file names are unique (they carry
        // the sequence number); a vendor's may repeat across folders, so its path is used.
        let key = |i: &Item| if vendor { i.rel.clone() } else { i.name.clone() };

        // Chains first: their PART records say which prefixes to hash while copying.
        let mut chains: Vec<(String, ChainFile)> = Vec::new();
        for c in &inventory.chains {
            match vol.read_small(&components(&c.rel), format::MAX_CHAIN_BYTES) {
                Ok(bytes) => chains.push((c.name.clone(), ChainFile::parse(&bytes))),
                Err(_) if !vol.present() => return Err(IngestError::DeviceGone { volume: vol.path().into() }),
                Err(e) => {
                    self.catalog().record_hostile(docking_id, &c.rel, &format!("chain file unreadable: {e}"))?;
                }
            }
        }
        let footage_names: Vec<(&str, &str)> =
            inventory.footage.iter().map(|f| (f.rel.as_str(), f.name.as_str())).collect();
        let impossible = self.record_findings(
            docking_id,
            serial,
            &plan::Values { identity, drift_s, footage: &footage_names, chains: &chains },
        )?;
        let names: Vec<String> = inventory.footage.iter().map(|f| f.name.clone()).collect();
        let prefixes = verify::requested_prefixes(&chains, &names);
        // The last number and the memory the custody log recorded; the catalogue's copy
        // edited is an alarm (INV-17, INV-30).
        let (last_seq, last_seq_edited) = self.catalog().checked_last_seq(serial)?;
        let expected_first_seq = last_seq.and_then(|s| s.checked_add(1));
        let (mut memory, memory_edited) = self.catalog().checked_chain_memory(serial)?;
        memory.last_used = last_seq;
        for (en, zh) in last_seq_edited.into_iter().chain(memory_edited) {
            self.progress.update(|s| {
                s.registry_note = Some(match s.registry_note.take() {
                    Some(note) => format!("{note}; {en} / {zh}"),
                    None => format!("{en} / {zh}"),
                })
            });
        }
        // Another recorder's serial in the chain or the footage names (its footage on this
        // volume, or an edited identity) is an identity conflict too: kept, never wiped (R1).
        let others = verify::other_serials(&chains, &names, serial);
        if conflict.is_none() && !others.is_empty() {
            let list: Vec<&str> = others.iter().map(String::as_str).collect();
            let why =
                format!("the identity file says {serial} but the chain or the footage names carry {}", list.join(", "));
            self.catalog().event(
                Action::IdentityConflict,
                &format!("device:{serial}"),
                json!({ "docking": docking_id, "volume": vol.path().file_name().map(|n| n.to_string_lossy()),
                        "conflict": why }),
            )?;
            self.progress.update(|s| s.registry_note = Some(format!("{why} / 设备身份冲突，不清除记录仪")));
            conflict = Some(why);
        }

        let bytes_total =
            inventory.footage.iter().chain(&inventory.chains).fold(0u64, |sum, f| sum.saturating_add(f.size));
        self.progress.update(|s| {
            s.files_total = inventory.footage.len() as u64;
            s.bytes_total = bytes_total;
            s.message =
                format!("copying {} files / 正在导入 {} 个文件", inventory.footage.len(), inventory.footage.len());
        });
        // A recorder held for an identity conflict is evidence under investigation: nothing is
        // written to it, not even the clock request (R13 asks the dock to set clocks, R1 forbids
        // altering what an investigation may need).
        if conflict.is_none() {
            self.set_clock(adapter, identity, drift_s, dock_now);
        }

        let mut done: Vec<(Item, Done)> = Vec::new();
        let mut failed: Vec<(Item, String)> = Vec::new();
        // Files the recorder could not read, their readable parts archived as `.PARTIAL`.
        let mut salvaged = 0u64;
        let no_offsets = Vec::new();
        for (item, result) in
            self.copy_all(vol, serial, docking_id, &inventory.footage, &prefixes, correction, dock_now, &dated)
        {
            match result {
                Ok(d) => done.push((item, d)),
                Err(e) => failed.push(self.copy_failed(serial, docking_id, item, e, &mut salvaged)?),
            }
        }
        let mut chain_done: Vec<(Item, Done)> = Vec::new();
        for item in &inventory.chains {
            let chain = chains.iter().find(|(n, _)| *n == item.name).map(|(_, c)| c);
            let copied = plan::chain_destination(serial, &item.name, chain, correction, dock_now)
                .map_err(|e| FileError::Failed(format!("no archive path for it: {e}")))
                .and_then(|dest| self.ingest_file(vol, serial, docking_id, item, &dest, &no_offsets));
            match copied {
                Ok(d) => chain_done.push((item.clone(), d)),
                Err(e) => failed.push(self.copy_failed(serial, docking_id, item.clone(), e, &mut salvaged)?),
            }
        }

        // Verify: a pure function of the chains and what was read (R5, R6).
        self.progress.update(|s| s.phase = Phase::Verifying);
        let mut read_files: Vec<verify::ReadFile> =
            done.iter().map(|(i, d)| verify::ReadFile { name: key(i), ..d.read.clone() }).collect();
        // Segments a chain names that an earlier docking archived and wiped: judged by the
        // archive's verified copy, not reported missing.
        let named: std::collections::BTreeSet<&str> = chains
            .iter()
            .flat_map(|(_, c)| &c.records)
            .filter_map(|l| match &l.record {
                format::Record::Segment { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        // What the archive holds of this recorder, durable and verified: what this docking
        // archived, and what earlier ones archived and wiped.
        let mut archived: BTreeSet<String> = done.iter().map(|(i, _)| i.name.clone()).collect();
        for (name, source, size, hash) in self.catalog().wiped_footage(serial)? {
            archived.insert(name.clone());
            if named.contains(name.as_str()) && !read_files.iter().any(|f| f.name == name) {
                read_files.push(verify::ReadFile { name, source, size, hash, prefixes: Vec::new() });
            }
        }
        crate::failpoint!("ingest.verify");
        let mut report = verify::verify(&verify::Input {
            chains: &chains,
            files: &read_files,
            writes_chain: identity.writes_chain,
            gap_tolerance_ms: self.config.ingest.gap_tolerance_ms,
            expected_first_seq,
            serial,
            memory: &memory,
        });
        // A file the dock could not copy is absent from the archive, not from the recorder:
        // say so where the verifier reports it missing (or not at all, without a chain).
        for (item, why) in &failed {
            let note = format!("on the recorder but could not be archived ({why}); kept on the recorder");
            let judged = report
                .segments
                .iter_mut()
                .find(|f| f.source.is_none() && f.name.as_deref() == Some(key(item).as_str()));
            match judged {
                Some(f) => {
                    f.detail = format!("{note}: {}", f.detail);
                    f.source = Some(item.rel.clone());
                }
                None if inventory.footage.iter().any(|f| f.rel == item.rel) => {
                    report.segments.push(verify::SegmentFinding {
                        seq: crate::recorder::format::SegmentName::parse(&item.name).map(|n| n.seq),
                        last_seq: None,
                        name: Some(key(item)),
                        source: Some(item.rel.clone()),
                        session: None,
                        kind: None,
                        start: None,
                        end: None,
                        verdict: verify::Verdict::Missing,
                        attested_bytes: 0,
                        detail: note,
                    });
                }
                None => {}
            }
        }
        // A segment the chain names that the scan left on the recorder (refused, or over the
        // budget of files) is not missing from the recorder: say so where it is reported.
        for f in report.segments.iter_mut().filter(|f| f.verdict == verify::Verdict::Missing && f.source.is_none()) {
            let Some(name) = f.name.as_deref() else { continue };
            if let Some(r) = inventory.refused.iter().find(|r| r.path.rsplit('/').next() == Some(name)) {
                f.detail = format!("on the recorder but not taken at this docking ({}): {}", r.what, f.detail);
            }
        }
        // A vendor file's time is its name's or its file system's (unattested), said in its finding.
        for f in report.segments.iter_mut().filter(|_| vendor) {
            let Some(d) = f.name.as_deref().and_then(|n| dated.get(n)) else { continue };
            if d.source != super::vendor::TimeSource::Docking {
                f.start = Some(d.start);
            }
            f.detail = format!("{}; {}", f.detail, d.source.note());
            if let Some(mark) = &d.important {
                f.detail += &format!("; marked important on the recorder: {mark} / 记录仪重要标记");
            }
        }
        // Each verdict is tied to the archived copy of the very file it judged (by its path on
        // the volume: two files may share a name in two dated folders).
        let by_source: BTreeMap<&str, &Done> = done.iter().map(|(i, d)| (i.rel.as_str(), d)).collect();
        let rows: Vec<SegmentRow<'_>> = report
            .segments
            .iter()
            .map(|f| SegmentRow {
                file_id: f.source.as_deref().and_then(|n| by_source.get(n)).map(|d| d.archived.id),
                corrected: (
                    f.start.zip(correction).and_then(|(t, d)| plan::corrected(t, d)),
                    f.end.zip(correction).and_then(|(t, d)| plan::corrected(t, d)),
                ),
                finding: f,
            })
            .collect();
        self.catalog().record_verification(docking_id, serial, &report, &rows)?;
        attempt.verified.set(true);
        if vendor && !done.is_empty() {
            // No chain record can carry a vendor's names: the dock seals what it read in a
            // manifest, with where the identity and the times come from.
            let sealed: Vec<super::vendor::Sealed<'_>> = done
                .iter()
                .map(|(i, d)| super::vendor::Sealed {
                    item: i,
                    size: d.read.size,
                    hash: d.read.hash,
                    file_id: d.archived.id,
                })
                .collect();
            let header = [
                ("serial", serial.to_string()),
                ("docking", docking_id.to_string()),
                ("kind", adapter.kind().as_str().to_string()),
                ("model", identity.model.clone()),
                ("identity_source", adapter.identity_source()),
                ("clock_source", adapter.clock_source().unwrap_or_else(|| "not read: times unattested".into())),
                ("drift_s", if adapter.clock_source().is_some() { drift_s.to_string() } else { "unknown".into() }),
                ("sealed_at", format::format_wall(dock_now)),
            ];
            self.write_vendor_seal(serial, docking_id, &header, &sealed, &dated, dock_now)?;
            self.flag_important(serial, &identity.model, &sealed, &dated)?;
        } else if report.provenance == verify::Provenance::SealedAtDock && !read_files.is_empty() {
            self.write_dock_seal(serial, docking_id, &read_files, dock_now)?;
        }
        let flagged = report.segments.iter().filter(|s| s.verdict.is_flagged()).count() as u64;
        let (clock_unreliable, registry_flagged) = {
            let snap = self.progress.snapshot();
            (snap.clock_unreliable, snap.registry_note.is_some())
        };
        let review = flagged > 0
            || impossible > 0
            || clock_unreliable
            || registry_flagged
            || !inventory.refused.is_empty()
            || !report.bad_lines.is_empty()
            || !report.contradictions.is_empty()
            || report.sessions.iter().any(|s| {
                s.state != verify::SessionState::Complete
                    || !s.links_intact
                    || s.gaps.iter().any(|g| g.reason.is_none())
            });
        self.progress.update(|s| {
            s.verdicts.clear();
            for f in &report.segments {
                *s.verdicts.entry(f.verdict.as_str().to_string()).or_default() += 1;
            }
            s.unexplained_gaps =
                report.sessions.iter().flat_map(|x| &x.gaps).filter(|g| g.reason.is_none()).count() as u64;
            s.contradictions = report.contradictions.len() as u64;
            s.contradiction_lines = report
                .contradictions
                .iter()
                .take(CONTRADICTIONS_SHOWN)
                .map(|c| format!("{} {}: {} / {}", c.kind.as_str(), c.kind.label_zh(), c.detail, c.detail_zh))
                .collect();
        });

        // Wipe only when every footage file is durable and verified (INV-1); a chain file only
        // when no segment it attests may be on the recorder unarchived, or the next docking
        // could only call that segment unchained.
        let all_archived = failed.is_empty();
        let mut wiped = false;
        let mut kept: Vec<String> = failed.iter().map(|(i, why)| format!("{}: {why}", i.rel)).collect();
        if inventory.deferred > 0 {
            kept.push(format!(
                "{} file(s) over ingest.max_files_per_volume left on the recorder for the next docking",
                inventory.deferred
            ));
        }
        // A disk that stopped answering during the copy (INV-31) is not trusted with the only
        // other copy: the recorder keeps everything.
        let stalled = self.progress.snapshot().stalled;
        if all_archived
            && self.config.ingest.wipe_after_verify
            && !(done.is_empty() && chain_done.is_empty())
            && conflict.is_none()
            && !stalled
        {
            crate::failpoint!("ingest.before-wipe");
            self.progress.update(|s| s.phase = Phase::Wiping);
            let on_volume: BTreeSet<String> = inventory.footage.iter().map(|f| f.name.clone()).collect();
            let on_recorder =
                if inventory.whole { plan::OnRecorder::Listed(&on_volume) } else { plan::OnRecorder::Unknown };
            let mut wipe: Vec<&(Item, Done)> = done.iter().collect();
            for c in &chain_done {
                let left = match chains.iter().find(|(n, _)| *n == c.0.name) {
                    Some((_, chain)) => plan::chain_attests_unarchived(chain, &archived, on_recorder),
                    None => vec!["segments it could not be read for".to_string()],
                };
                if left.is_empty() {
                    wipe.push(c);
                    continue;
                }
                let reason = format!(
                    "it attests {} segment(s) the archive does not hold yet ({}{}): kept on the recorder to judge \
                     them when they are archived",
                    left.len(),
                    left.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                    if left.len() > 5 { ", ..." } else { "" }
                );
                kept.push(format!("{}: not wiped: {reason}", c.0.rel));
                self.catalog().event(
                    Action::WipeSkipped,
                    &format!("file:{serial}/{}", c.0.rel),
                    json!({ "docking": docking_id, "source": c.0.rel, "reason": reason,
                            "segments": left.iter().take(100).collect::<Vec<_>>(), "unarchived": left.len() }),
                )?;
            }
            let mut removed = 0u64;
            for (item, d) in wipe {
                if self.stopping() {
                    return Err(IngestError::Stopped { volume: vol.path().into() });
                }
                match vol.remove_file(&components(&item.rel), d.stamp) {
                    Ok(()) => {
                        removed += 1;
                        self.catalog().record_wipe(&WipeRecord {
                            docking_id,
                            serial,
                            source: &item.rel,
                            file: &d.archived,
                        })?;
                        crate::failpoint!("wipe.mid");
                    }
                    Err(_) if !vol.present() => return Err(IngestError::DeviceGone { volume: vol.path().into() }),
                    Err(e) => {
                        kept.push(format!("{}: not wiped: {e}", item.rel));
                        self.catalog().event(
                            Action::WipeSkipped,
                            &format!("file:{serial}/{}", item.rel),
                            json!({ "docking": docking_id, "source": item.rel, "reason": e.to_string() }),
                        )?;
                    }
                }
            }
            // "Safe to undock" only once the removals are on the recorder itself.
            if let Err(e) = vol.sync() {
                if !vol.present() {
                    return Err(IngestError::DeviceGone { volume: vol.path().into() });
                }
                kept.push(format!("the recorder's file system could not be written out: {e}"));
            }
            wiped = kept.is_empty();
            self.catalog().event(
                Action::RecorderWiped,
                &format!("device:{serial}"),
                json!({ "docking": docking_id, "files_removed": removed, "complete": wiped,
                        "left_alone": inventory.refused.len() }),
            )?;
        } else if !(done.is_empty() && chain_done.is_empty()) {
            let reason = if !all_archived {
                "some footage could not be archived: the recorder keeps everything".to_string()
            } else if let Some(why) = &conflict {
                format!("identity conflict ({why}): the recorder keeps everything for investigation")
            } else if stalled {
                "the archive disk stopped responding during this docking (ingest.stall_timeout_s): the recorder \
                 keeps everything until the disk is checked"
                    .to_string()
            } else {
                "ingest.wipe_after_verify is off".to_string()
            };
            self.catalog().event(
                Action::WipeSkipped,
                &format!("device:{serial}"),
                json!({ "docking": docking_id, "reason": reason }),
            )?;
        }

        // Footage or a chain file refused (too large, an unsafe name, a folder not entered) is
        // evidence still on the recorder, as much as footage over the budget (R3).
        let left = inventory.left_text();
        let safe = all_archived && inventory.deferred == 0 && left.is_none();
        if let Some((en, _)) = &left {
            kept.push(en.clone());
        }
        let outcome_text = if safe { "done" } else { "attention: footage left on the recorder" };
        self.catalog().finish_docking(
            docking_id,
            outcome_text,
            safe,
            Action::IngestFinished,
            json!({
                "archived": done.len(), "failed": failed.len(), "flagged": flagged, "review": review, "wiped": wiped,
                "deferred": inventory.deferred, "impossible_values": impossible,
                "left_alone": inventory.refused.iter().map(|r| format!("{}: {}", r.path, r.what)).collect::<Vec<_>>(),
                "problems": kept,
            }),
        )?;
        self.progress.update(|s| {
            s.safe_to_undock = safe;
            s.wiped = wiped;
            if safe {
                s.phase = Phase::Done;
                s.message = if wiped {
                    "safe to undock: all footage archived, verified, recorder wiped / 可以拔出：已归档、校验并清除"
                        .into()
                } else {
                    "safe to undock: all footage archived and verified / 可以拔出：已归档并校验".into()
                };
            } else if !failed.is_empty() {
                s.phase = Phase::Attention;
                s.message = format!(
                    "{} file(s) could not be archived and stay on the recorder / {} 个文件未能归档，保留在记录仪上",
                    failed.len(),
                    failed.len()
                );
            } else {
                s.phase = Phase::Attention;
                s.message = "the footage taken is archived and verified, not all of it / 本次导入的录像已归档并校验，\
                             但未全部导入"
                    .into();
            }
            if inventory.deferred > 0 {
                let n = inventory.deferred;
                s.message += &format!(
                    "; {n} file(s) over ingest.max_files_per_volume left on the recorder: dock it again to take them \
                     / 超出单卷文件数上限，{n} 个文件留在记录仪上，请再次接入导入"
                );
            }
            if salvaged > 0 {
                // What the custodian does next: the recorder is the only whole copy.
                s.message += &format!(
                    "; {salvaged} of them unreadable (read errors on the recorder), their readable parts archived \
                     as .PARTIAL: keep the recorder as it is and do not reuse it; dock it again to retry, or hand it \
                     over for examination / 其中 {salvaged} 个文件读取出错，可读部分已存为 .PARTIAL：\
                     请保持记录仪原状、勿再使用；可重新接入重试，或送检"
                );
            }
            if flagged > 0 {
                s.message += &format!("; {flagged} segment(s) flagged / {flagged} 个片段有异常");
            }
            if s.contradictions > 0 {
                // The chain contradicts itself, the identity or what the station remembers of
                // this recorder: a person must look, whatever the verdicts say.
                let n = s.contradictions;
                s.phase = Phase::Attention;
                s.message += &format!(
                    "; {n} contradiction(s) with the recorder's chain or this station's memory of it: review \
                     / {n} 处与记录仪哈希链或本站记录矛盾，需复核"
                );
            }
            if conflict.is_some() {
                // Archived, so safe to undock; but a person must look at whose footage this is.
                s.phase = Phase::Attention;
            }
            if stalled {
                s.phase = Phase::Attention;
                s.message += "; the archive disk stopped responding during this docking: the recorder is not wiped, \
                              have the disk checked / 本次接入期间存档磁盘无响应：未清除记录仪，请检查磁盘";
            }
            if s.unexplained_gaps > 0 {
                let n = s.unexplained_gaps;
                s.message +=
                    &format!("; {n} unexplained gap(s) need a written explanation / {n} 处中断未说明，需书面说明");
            }
            if !inventory.refused.is_empty() {
                let n = inventory.refused.len();
                s.message +=
                    &format!("; {n} entr(ies) refused and left on the recorder / {n} 项异常内容未导入，留在记录仪上");
            }
            if let Some((en, zh)) = &left {
                s.phase = Phase::Attention;
                s.message += &format!("; {en} / {zh}");
            }
            if let Some(note) = &s.registry_note {
                s.message += &format!("; {note}");
            }
            if s.clock_unreliable {
                s.message += "; recorder clock off: footage times unreliable / 记录仪时钟偏差过大，时间不可靠";
            }
            if s.drift_s.is_none() {
                s.message +=
                    "; the recorder's clock cannot be read: footage times unattested / 记录仪时钟无法读取，录像时间未经证实";
            }
            if impossible > 0 {
                s.message += &format!(
                    "; {impossible} impossible value(s) from the recorder (times, sizes), footage archived all the \
                     same / 记录仪提供的 {impossible} 个数值不合理（时间、容量），录像仍已归档"
                );
            }
        });
        Ok(Outcome::Finished {
            archived: done.len() as u64,
            failed: failed.len() as u64,
            flagged,
            review,
            wiped,
            safe_to_undock: safe,
        })
    }

    /// The fallback after a repeated internal error on the same recorder (`error`, met in
    /// `step`; its docking `previous` ended in one too): every file the scan takes is archived
    /// and read back, one at a time and each in its own guard, filed by the docking day (no
    /// time the recorder wrote is used); the chain is not verified (unless the failed attempt
    /// recorded its verification before the error), no clock request is written, nothing is
    /// wiped. The docking closes as [`UNVERIFIED_OUTCOME`] or [`UNWIPED_OUTCOME`].
    #[allow(clippy::too_many_arguments)] // the facts of one docking and of its failure
    fn ingest_unverified(
        &self,
        vol: &Volume,
        layout: Option<&FootageLayout>,
        identity: &Identity,
        docking_id: i64,
        dock_now: NaiveDateTime,
        attempt: &Attempt,
        error: &IngestError,
        step: Phase,
        previous: i64,
    ) -> Result<Outcome, IngestError> {
        let serial = identity.serial.as_str();
        let what = error.to_string();
        let verified = attempt.verified.get();
        tracing::error!(serial, error = %what, step = step.as_str(), previous, "internal error again: archiving without verification");
        self.catalog().event(
            Action::IngestDegraded,
            &format!("docking:{docking_id}"),
            json!({ "docking": docking_id, "error": what, "step": step.as_str(), "previous_docking": previous,
                    "verified": verified, "wiped": false }),
        )?;
        let inventory = self.scan(vol, layout, serial, docking_id, &attempt.refusals_logged)?;
        let bytes_total =
            inventory.footage.iter().chain(&inventory.chains).fold(0u64, |sum, f| sum.saturating_add(f.size));
        self.progress.update(|s| {
            s.phase = Phase::Copying;
            s.files_total = inventory.footage.len() as u64;
            s.files_done = 0;
            s.bytes_total = bytes_total;
            s.bytes_done = 0;
            if !verified {
                s.verdicts.clear();
                s.unexplained_gaps = 0;
            }
            s.message = "internal error again: archiving, nothing wiped / 再次发生内部错误：仅归档，不清除".into();
        });
        let mut archived = 0u64;
        let mut failed: Vec<(Item, String)> = Vec::new();
        let mut salvaged = 0u64;
        let chain_names: BTreeSet<&str> = inventory.chains.iter().map(|c| c.rel.as_str()).collect();
        for item in inventory.footage.iter().chain(&inventory.chains) {
            let dest = if chain_names.contains(item.rel.as_str()) {
                layout::chain_path(dock_now, serial, &item.name)
            } else {
                layout::segment_path(dock_now, None, serial, &item.name)
            };
            let result = match dest {
                Err(e) => Err(FileError::Failed(format!("no archive path for it: {e}"))),
                Ok(dest) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.ingest_file(vol, serial, docking_id, item, &dest, &[])
                }))
                .unwrap_or_else(|panic| Err(FileError::Failed(format!("internal error: {}", panic_text(&*panic))))),
            };
            match result {
                Ok(_) => {
                    archived += 1;
                    if !chain_names.contains(item.rel.as_str()) {
                        self.progress.update(|s| s.files_done += 1);
                    }
                }
                Err(e) => failed.push(self.copy_failed(serial, docking_id, item.clone(), e, &mut salvaged)?),
            }
        }
        self.catalog().event(
            Action::WipeSkipped,
            &format!("device:{serial}"),
            json!({ "docking": docking_id,
                    "reason": "a repeated internal error: the recorder keeps everything" }),
        )?;
        let left = inventory.left_text();
        let safe = failed.is_empty() && inventory.deferred == 0 && left.is_none();
        self.catalog().finish_docking(
            docking_id,
            if verified { UNWIPED_OUTCOME } else { UNVERIFIED_OUTCOME },
            safe,
            Action::IngestFinished,
            json!({
                "archived": archived, "failed": failed.len(), "verified": verified, "review": true, "wiped": false,
                "error": what, "step": step.as_str(), "deferred": inventory.deferred,
                "problems": failed.iter().map(|(i, why)| format!("{}: {why}", i.rel)).collect::<Vec<_>>(),
            }),
        )?;
        self.progress.update(|s| {
            s.phase = Phase::Attention;
            s.safe_to_undock = safe;
            s.wiped = false;
            s.message = if verified {
                format!(
                    "internal error again ({what}): {archived} file(s) archived, read back and verified against the \
                     recorder's chain, but nothing was wiped: report this error, and dock the recorder again once \
                     evidock is updated / 再次发生内部错误：已归档、回读并按哈希链校验 {archived} 个文件，但记录仪未清除；\
                     请报告该错误，升级后重新接入以完成清除"
                )
            } else {
                format!(
                    "internal error again ({what}): {archived} file(s) archived and read back, but the recorder's \
                     chain was not verified and nothing was wiped: report this error, and dock the recorder again once \
                     evidock is updated / 再次发生内部错误：已归档并回读 {archived} 个文件，但未校验哈希链，记录仪未清除；\
                     请报告该错误，升级后重新接入以完成校验和清除"
                )
            };
            if !failed.is_empty() {
                let n = failed.len();
                s.message += &format!(
                    "; {n} file(s) could not be archived and stay on the recorder / {n} 个文件未能归档，保留在记录仪上"
                );
            }
            if inventory.deferred > 0 {
                let n = inventory.deferred;
                s.message += &format!(
                    "; {n} file(s) over ingest.max_files_per_volume left on the recorder / 超出单卷文件数上限，\
                     {n} 个文件留在记录仪上"
                );
            }
            if let Some((en, zh)) = &left {
                s.message += &format!("; {en} / {zh}");
            }
        });
        Ok(Outcome::Finished {
            archived,
            failed: failed.len() as u64,
            flagged: 0,
            review: true,
            wiped: false,
            safe_to_undock: safe,
        })
    }

    fn write_dock_seal(
        &self,
        serial: &str,
        docking_id: i64,
        files: &[verify::ReadFile],
        dock_now: NaiveDateTime,
    ) -> Result<(), IngestError> {
        let seal_files: Vec<seal::SealFile> =
            files.iter().map(|f| seal::SealFile { name: f.name.clone(), size: f.size, hash: f.hash }).collect();
        let session = format!("DOCK-{docking_id}");
        let first_seq_hint = self.catalog().device_last_seq(serial)?.map_or(1, |s| s.saturating_add(1));
        let sealed = seal::seal_at_dock(serial, &session, &seal_files, dock_now, first_seq_hint).map_err(|e| {
            IngestError::Io { action: "sealing at dock", path: PathBuf::from(serial), source: io::Error::other(e) }
        })?;
        let name = sealed.file_name.clone();
        let rel = layout::chain_path(dock_now, serial, &name).expect("safe names");
        let rel = Path::new(&rel);
        let root = &self.config.paths.archive_root;
        let io_err = |source: io::Error, path: PathBuf| {
            if is_nospace(&source) {
                IngestError::NoSpace { path }
            } else {
                IngestError::Io { action: "writing the dock seal", path, source }
            }
        };
        let dir =
            fsio::create_dirs(root, rel.parent().unwrap_or(Path::new(""))).map_err(|e| io_err(e, root.join(rel)))?;
        fsio::write_new(&dir, &name, sealed.text.as_bytes()).map_err(|e| io_err(e, dir.join(&name)))?;
        self.catalog().event(
            Action::SessionVerified,
            &format!("session:{serial}/{session}"),
            json!({
                "docking": docking_id, "provenance": "sealed_at_dock", "chain_file": rel.to_string_lossy(),
                "blake3": hex(blake3::hash(sealed.text.as_bytes()).as_bytes()), "segments": files.len(),
                "unsealed": sealed.unsealed,
            }),
        )?;
        Ok(())
    }

    /// Archives one file, or finds it already archived with the same hash (sequentially:
    /// chain files and retries).
    fn ingest_file(
        &self,
        vol: &Volume,
        serial: &str,
        docking_id: i64,
        item: &Item,
        dest: &str,
        offsets: &[u64],
    ) -> Result<Done, FileError> {
        match self.already_archived(vol, serial, docking_id, item, offsets)? {
            Some(done) => Ok(done),
            None => self.copy_attempts(vol, serial, docking_id, item, dest, offsets, 1),
        }
    }

    /// Re-docked: an archived copy with this size may exist; the recorder's file is hashed
    /// and compared, and the archive copy read back, before anything relies on it (a segment
    /// is never stored twice).
    fn already_archived(
        &self,
        vol: &Volume,
        serial: &str,
        docking_id: i64,
        item: &Item,
        offsets: &[u64],
    ) -> Result<Option<Done>, FileError> {
        let prior = self.catalog().archived(serial, &item.rel)?;
        if !prior.iter().any(|p| p.size == item.size) {
            return Ok(None);
        }
        let (read, stamp) = self.hash_source(vol, item, offsets)?;
        let h = hex(&read.hash);
        let Some(p) = prior.iter().find(|p| p.blake3 == h && p.size == read.size) else { return Ok(None) };
        let path = self.config.paths.archive_root.join(&p.archive_path);
        match fsio::read_back(&path, self.config.ingest.read_back, self.config.ingest.chunk_bytes) {
            Ok((n, ah, _)) if n == p.size && ah.to_hex().as_str() == p.blake3 => {
                Ok(Some(Done { read, archived: p.clone(), stamp }))
            }
            other => {
                let why = match other {
                    Ok(_) => "differs from its catalogued hash".to_string(),
                    Err(e) => e.to_string(),
                };
                tracing::error!(path = %path.display(), why = %why, "archived copy failed its check");
                self.catalog().event(
                    Action::CopyFailed,
                    &format!("file:{serial}/{}", item.rel),
                    json!({ "docking": docking_id, "archive_path": p.archive_path,
                            "error": format!("archived copy failed its check: {why}"), "kept_on_recorder": true }),
                )?;
                Err(FileError::Failed(format!("archived copy {} failed its check: {why}", p.archive_path)))
            }
        }
    }

    fn open_source(&self, vol: &Volume, item: &Item) -> Result<(std::fs::File, Stamp), FileError> {
        vol.open_file(&components(&item.rel)).map_err(|e| {
            if !vol.present_after_error() {
                FileError::Fatal(IngestError::DeviceGone { volume: vol.path().into() })
            } else {
                FileError::Failed(format!("cannot open on the recorder: {e}"))
            }
        })
    }

    /// Reads a source file in chunks through `sink`, pacing, watching for a stop or an
    /// undock, and checking the file did not change while it was read. While the pace
    /// holds the reader back (a slow link), `idle` is given the time, a step at a time.
    fn stream(
        &self,
        vol: &Volume,
        item: &Item,
        offsets: &[u64],
        mut sink: impl FnMut(&[u8]) -> Result<(), FileError>,
        mut idle: impl FnMut() -> Result<bool, FileError>,
    ) -> Result<(verify::ReadFile, Stamp), FileError> {
        let started = Instant::now();
        let (src, stamp) = self.open_source(vol, item)?;
        let mut hasher = PrefixHasher::new(offsets);
        let mut buf = vec![0u8; self.config.ingest.chunk_bytes];
        let mut pace = Pace::new(self.config.ingest.read_rate_limit);
        let (mut total, mut dropped) = (0u64, 0u64);
        let (mut read_time, mut hash_time, mut sink_time) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        loop {
            if self.stopping() {
                return Err(IngestError::Stopped { volume: vol.path().into() }.into());
            }
            if !vol.present() {
                return Err(IngestError::DeviceGone { volume: vol.path().into() }.into());
            }
            let t_read = Instant::now();
            let r = read_at(&src, &mut buf, total, &item.name);
            read_time += t_read.elapsed();
            let n = match r {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) if !vol.present_after_error() => {
                    return Err(IngestError::DeviceGone { volume: vol.path().into() }.into())
                }
                Err(e) => {
                    return Err(FileError::Unreadable(format!("read error on the recorder at byte {total}: {e}")))
                }
            };
            if total + n as u64 > stamp.size {
                return Err(FileError::Failed("file grew while being copied (still being written?)".into()));
            }
            let t_hash = Instant::now();
            hasher.update(&buf[..n]);
            hash_time += t_hash.elapsed();
            let t_sink = Instant::now();
            sink(&buf[..n])?;
            sink_time += t_sink.elapsed();
            total += n as u64;
            if total - dropped >= DROP_BEHIND {
                fsio::drop_cache_range(&src, dropped, total - dropped);
                dropped = total;
            }
            self.progress.update(|s| s.bytes_done += n as u64);
            pace.after(n, self.stop, &mut idle)?;
        }
        fsio::drop_cache_range(&src, dropped, 0);
        let (size, hash, prefixes) = hasher.finish();
        tracing::debug!(file = %item.rel, bytes = total, ms = ms(started), paced_ms = pace.waited.as_millis() as u64,
            read_ms = read_time.as_millis() as u64, hash_ms = hash_time.as_millis() as u64,
            write_ms = sink_time.as_millis() as u64, "read from the recorder");
        let now = vol.stamp(&components(&item.rel)).ok();
        if size != stamp.size || now != Some(stamp) {
            return Err(FileError::Failed("file changed while being copied (still being written?)".into()));
        }
        Ok((verify::ReadFile { name: item.name.clone(), source: item.rel.clone(), size, hash, prefixes }, stamp))
    }

    fn hash_source(&self, vol: &Volume, item: &Item, offsets: &[u64]) -> Result<(verify::ReadFile, Stamp), FileError> {
        self.stream(vol, item, offsets, |_| Ok(()), || Ok(false))
    }

    /// Copies every footage file through a two-stage pipeline: this thread streams file
    /// `k+1` from the recorder into its temporary file while a second thread makes file `k`
    /// durable, reads it back from disk and files it. A file whose second stage fails is
    /// copied again from the start (up to `ingest.copy_attempts`). Results come back in
    /// order; the first fatal error stops both stages.
    #[allow(clippy::too_many_arguments)]
    fn copy_all(
        &self,
        vol: &Volume,
        serial: &str,
        docking_id: i64,
        items: &[Item],
        prefixes: &BTreeMap<String, Vec<u64>>,
        drift_s: Option<i64>,
        dock_now: NaiveDateTime,
        dated: &BTreeMap<String, super::vendor::Dated>,
    ) -> Vec<(Item, Result<Done, FileError>)> {
        let no_offsets = Vec::new();
        let dest_of = |item: &Item| {
            match dated.get(&item.rel) {
                // A vendor file, dated by its name or file system (the recorder's clock),
                // corrected where the drift is known; else filed by the docking day.
                Some(d) => {
                    let start = match d.source {
                        super::vendor::TimeSource::Docking => Some(d.start),
                        _ => drift_s.and_then(|c| plan::corrected(d.start, c)),
                    };
                    layout::segment_path(start.unwrap_or(dock_now), None, serial, &item.name)
                }
                None => plan::footage_destination(serial, &item.name, drift_s, dock_now),
            }
            .map_err(|e| FileError::Failed(format!("no archive path for it: {e}")))
        };
        let abort = AtomicBool::new(false);
        let (tx, rx) = std::sync::mpsc::sync_channel::<(&Item, Result<Copied, FileError>)>(1);
        std::thread::scope(|scope| {
            let second = scope.spawn(|| {
                let mut out = Vec::new();
                let mut idle = Instant::now();
                for (item, first) in rx {
                    tracing::debug!(file = %item.rel, idle_ms = ms(idle), "second stage takes");
                    let offsets = prefixes.get(&item.name).unwrap_or(&no_offsets);
                    let result = match first {
                        Ok(Copied::Done(d)) => Ok(d),
                        Ok(Copied::Staged(c)) => match self.make_durable(serial, docking_id, item, *c) {
                            Err(FileError::Failed(why)) => {
                                tracing::warn!(file = %item.rel, why = %why, "copy attempt failed");
                                dest_of(item).and_then(|dest| {
                                    self.copy_attempts(vol, serial, docking_id, item, &dest, offsets, 2)
                                })
                            }
                            other => other,
                        },
                        Err(e) => Err(e),
                    };
                    if matches!(result, Err(FileError::Fatal(_))) {
                        abort.store(true, Ordering::Relaxed);
                    }
                    if result.is_ok() {
                        self.progress.update(|s| s.files_done += 1);
                    }
                    out.push((item.clone(), result));
                    idle = Instant::now();
                }
                out
            });
            for item in items {
                if abort.load(Ordering::Relaxed) {
                    break;
                }
                let offsets = prefixes.get(&item.name).unwrap_or(&no_offsets);
                let first =
                    dest_of(item).and_then(|dest| self.first_stage(vol, serial, docking_id, item, &dest, offsets));
                let fatal = matches!(first, Err(FileError::Fatal(_)));
                let handed = Instant::now();
                if tx.send((item, first)).is_err() || fatal {
                    break;
                }
                tracing::debug!(file = %item.rel, waited_ms = ms(handed), "handed to the second stage");
            }
            drop(tx);
            second.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// The first stage for one file: found already archived (re-hashed on the recorder), or
    /// streamed into a temporary file (retrying a failed read up to `ingest.copy_attempts`).
    fn first_stage(
        &self,
        vol: &Volume,
        serial: &str,
        docking_id: i64,
        item: &Item,
        dest: &str,
        offsets: &[u64],
    ) -> Result<Copied, FileError> {
        if let Some(done) = self.already_archived(vol, serial, docking_id, item, offsets)? {
            return Ok(Copied::Done(done));
        }
        self.retry(item, 1, || self.write_temp(vol, item, dest, offsets).map(|c| Copied::Staged(Box::new(c))))
            .map_err(|last| self.give_up(vol, docking_id, serial, item, dest, last))
    }

    /// Runs `attempt` for attempts `from..=ingest.copy_attempts` until it succeeds or fails
    /// fatally; otherwise returns the last failure.
    fn retry<T>(
        &self,
        item: &Item,
        from: u32,
        mut attempt: impl FnMut() -> Result<T, FileError>,
    ) -> Result<T, FileError> {
        let mut last = FileError::Failed("no attempt left".into());
        for n in from..=self.config.ingest.copy_attempts {
            match attempt() {
                Ok(v) => return Ok(v),
                Err(e @ (FileError::Failed(_) | FileError::Unreadable(_))) => {
                    if let FileError::Failed(why) | FileError::Unreadable(why) = &e {
                        tracing::warn!(file = %item.rel, attempt = n, why = %why, "copy attempt failed");
                    }
                    last = e;
                }
                Err(fatal) => return Err(fatal),
            }
        }
        Err(last)
    }

    /// Copy attempts `from..=ingest.copy_attempts`, each one whole (both stages).
    #[allow(clippy::too_many_arguments)]
    fn copy_attempts(
        &self,
        vol: &Volume,
        serial: &str,
        docking_id: i64,
        item: &Item,
        dest: &str,
        offsets: &[u64],
        from: u32,
    ) -> Result<Done, FileError> {
        self.retry(item, from, || {
            self.write_temp(vol, item, dest, offsets).and_then(|c| self.make_durable(serial, docking_id, item, c))
        })
        .map_err(|last| self.give_up(vol, docking_id, serial, item, dest, last))
    }

    /// After the last attempt: a file the recorder could not read is salvaged (what can be
    /// read goes to the archive as `<name>.PARTIAL`, sparse where unreadable, with the
    /// unreadable byte ranges listed beside it: never papered over as a complete file) and
    /// returned as [`FileError::Salvaged`]; every other failure is returned as it is. The
    /// recorder keeps the file either way.
    fn give_up(
        &self,
        vol: &Volume,
        docking_id: i64,
        serial: &str,
        item: &Item,
        dest: &str,
        last: FileError,
    ) -> FileError {
        let attempts = self.config.ingest.copy_attempts;
        match last {
            FileError::Unreadable(why) => match self.salvage(vol, docking_id, serial, item, dest) {
                Ok(summary) => FileError::Salvaged(format!("{why} (after {attempts} attempts); {summary}")),
                Err(FileError::Fatal(e)) => FileError::Fatal(e),
                Err(FileError::Failed(e) | FileError::Unreadable(e) | FileError::Salvaged(e)) => {
                    FileError::Failed(format!("{why} (after {attempts} attempts); salvage failed: {e}"))
                }
            },
            FileError::Failed(why) => FileError::Failed(format!("{why} (after {attempts} attempts)")),
            fatal => fatal,
        }
    }

    /// Reads what can be read of a file with read errors, block by block, into
    /// `<name>.PARTIAL` in its archive folder, and lists the unreadable ranges in
    /// `<name>.PARTIAL.unreadable.txt`. Returns a summary naming the ranges.
    fn salvage(
        &self,
        vol: &Volume,
        docking_id: i64,
        serial: &str,
        item: &Item,
        dest: &str,
    ) -> Result<String, FileError> {
        use std::os::unix::fs::FileExt;
        const BLOCK: usize = 4096;
        let (src, stamp) = self.open_source(vol, item)?;
        let root = &self.config.paths.archive_root;
        let dest = Path::new(dest);
        let partial = format!("{}.PARTIAL", dest.file_name().and_then(|n| n.to_str()).unwrap_or("file"));
        let dir = fsio::create_dirs(root, dest.parent().unwrap_or(Path::new("")))
            .map_err(|e| fatal_or_failed(e, root.join(dest), "creating the folder for"))?;
        let mut staged =
            fsio::Staged::new(&dir, &partial).map_err(|e| fatal_or_failed(e, dir.join(&partial), "creating"))?;
        staged.file().set_len(stamp.size).map_err(|e| fatal_or_failed(e, dir.join(&partial), "sizing"))?;
        let mut bad: Vec<(u64, u64)> = Vec::new();
        let mut buf = vec![0u8; BLOCK];
        let mut offset = 0u64;
        while offset < stamp.size {
            if self.stopping() {
                return Err(IngestError::Stopped { volume: vol.path().into() }.into());
            }
            let want = BLOCK.min((stamp.size - offset) as usize);
            match read_at(&src, &mut buf[..want], offset, &item.name) {
                Ok(0) => break,
                Ok(n) => {
                    staged
                        .file()
                        .write_all_at(&buf[..n], offset)
                        .map_err(|e| fatal_or_failed(e, dir.join(&partial), "writing"))?;
                    offset += n as u64;
                }
                Err(_) if !vol.present() => return Err(IngestError::DeviceGone { volume: vol.path().into() }.into()),
                Err(_) => {
                    let end = offset + want as u64;
                    match bad.last_mut() {
                        Some(last) if last.1 == offset => last.1 = end,
                        _ => bad.push((offset, end)),
                    }
                    offset = end;
                }
            }
        }
        staged.sync().map_err(|e| fatal_or_failed(e, dir.join(&partial), "fsync of"))?;
        let mut n = 1;
        let final_path = loop {
            let name = if n == 1 { partial.clone() } else { plan::alternative_name(&partial, n) };
            match staged.commit(&name) {
                Ok(p) => break p,
                Err((back, e)) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => {
                    staged = back;
                    n += 1;
                }
                Err((_, e)) => return Err(fatal_or_failed(e, dir.join(&name), "renaming into place")),
            }
        };
        fsio::seal_read_only(&final_path).map_err(|e| fatal_or_failed(e, final_path.clone(), "sealing"))?;
        let ranges: Vec<String> = bad.iter().map(|(a, b)| format!("{a}-{b}")).collect();
        let listing = format!(
            "source: {}\nsize: {}\nunreadable byte ranges (start-end, end excluded), left as holes:\n{}\n",
            item.rel,
            stamp.size,
            ranges.join("\n")
        );
        let list_name = format!("{}.unreadable.txt", final_path.file_name().and_then(|n| n.to_str()).unwrap_or("file"));
        fsio::write_new(&dir, &list_name, listing.as_bytes())
            .map_err(|e| fatal_or_failed(e, dir.join(&list_name), "writing"))?;
        let rel = final_path.strip_prefix(root).unwrap_or(&final_path).to_string_lossy().into_owned();
        self.catalog().event(
            Action::CopyFailed,
            &format!("file:{serial}/{}", item.rel),
            json!({ "docking": docking_id, "source": item.rel, "salvaged_to": rel, "unreadable_ranges": ranges,
                    "kept_on_recorder": true }),
        )?;
        Ok(format!("readable parts salvaged to {rel}; unreadable byte ranges {}", ranges.join(", ")))
    }

    /// Streams one file from the recorder into a temporary file beside its final name,
    /// hashing it; nothing is durable yet.
    fn write_temp(&self, vol: &Volume, item: &Item, dest: &str, offsets: &[u64]) -> Result<StagedCopy, FileError> {
        let root = &self.config.paths.archive_root;
        let dest = PathBuf::from(dest);
        let dest_name = dest.file_name().and_then(|n| n.to_str()).expect("layout paths end in a file name").to_string();
        let dir = fsio::create_dirs(root, dest.parent().unwrap_or(Path::new("")))
            .map_err(|e| fatal_or_failed(e, root.join(&dest), "creating the folder for"))?;
        let mut staged =
            fsio::Staged::new(&dir, &dest_name).map_err(|e| fatal_or_failed(e, dir.join(&dest_name), "creating"))?;
        let tmp = staged.path().to_path_buf();
        let mut reread = fsio::Rereader::open(&tmp, self.config.ingest.read_back, self.config.ingest.chunk_bytes)
            .map_err(|e| fatal_or_failed(e, tmp.clone(), "opening for the read-back"))?;
        let mut first = true;
        let mut written = 0u64;
        // Bytes whose write-back has been started: what the read-back may read early.
        let flushing = std::cell::Cell::new(0u64);
        let (read, stamp) = self.stream(
            vol,
            item,
            offsets,
            |chunk| {
                #[cfg(feature = "failpoints")]
                stall_write(&item.name);
                staged.file().write_all(chunk).map_err(|e| fatal_or_failed(e, tmp.clone(), "writing"))?;
                #[cfg(feature = "failpoints")]
                corrupt_write(&tmp, &item.name, written, chunk.len());
                written += chunk.len() as u64;
                if written - flushing.get() >= DROP_BEHIND {
                    // Start writing this window to disk now, so the fsync of the second stage
                    // finds little left to do (it still decides durability).
                    fsio::start_writeback(staged.file(), flushing.get(), written - flushing.get());
                    flushing.set(written);
                }
                if first {
                    first = false;
                    crate::failpoint!("copy.mid");
                }
                Ok(())
            },
            || reread.step(flushing.get()).map_err(|e| fatal_or_failed(e, tmp.clone(), "reading back")),
        )?;
        Ok(StagedCopy { staged, reread, dir, dest, dest_name, read, stamp })
    }

    /// The second stage: fsync, read back from disk and compare, rename without
    /// overwriting, fsync the folder, seal, catalogue (INV-2, INV-3).
    fn make_durable(&self, serial: &str, docking_id: i64, item: &Item, c: StagedCopy) -> Result<Done, FileError> {
        let StagedCopy { mut staged, reread, dir, dest, dest_name, read, stamp } = c;
        let root = &self.config.paths.archive_root;
        let tmp = staged.path().to_path_buf();
        crate::failpoint!("copy.before-fsync");
        // An fsync error means the data may not be on disk: the copy failed, redo it.
        let started = Instant::now();
        staged.sync().map_err(|e| fatal_or_failed(e, tmp.clone(), "fsync of"))?;
        // Clean now: its cached pages are of no further use (the read-back bypasses them).
        fsio::drop_cache(staged.file());
        let synced = Instant::now();
        // Read back from disk, not from the page cache: the rest of what was not read back
        // while the file was written.
        let early = reread.done();
        let (n, h, used) = reread.finish().map_err(|e| fatal_or_failed(e, tmp.clone(), "reading back"))?;
        tracing::debug!(file = %item.rel, fsync_ms = (synced - started).as_millis() as u64,
            read_back_ms = ms(synced), read_back_early = early, "made durable and read back");
        if n != read.size || h.as_bytes() != &read.hash {
            return Err(FileError::Failed(format!(
                "read-back of {} differs from what was read from the recorder ({} bytes {} vs {} bytes {})",
                tmp.display(),
                read.size,
                &hex(&read.hash)[..16],
                n,
                &h.to_hex()[..16]
            )));
        }
        // Rename without overwriting; a name taken by an earlier, interrupted run is
        // adopted when it holds exactly these bytes, else the next free name is used.
        let mut attempt = 1u32;
        let (final_path, recovered) = loop {
            let name = if attempt == 1 { dest_name.clone() } else { plan::alternative_name(&dest_name, attempt) };
            let rel = dest.with_file_name(&name).to_string_lossy().into_owned();
            match staged.commit(&name) {
                Ok(path) => break (path, false),
                Err((back, e)) if e.kind() == io::ErrorKind::AlreadyExists => {
                    staged = back;
                    let existing = dir.join(&name);
                    // A name catalogued for another file (the same name in another dated
                    // folder, even with the same bytes) is that file's: this one gets its own
                    // name and its own row, so that each verdict points at its own copy. An
                    // uncatalogued one left by an interrupted run is adopted if it holds these bytes.
                    let adopt = self.catalog().archived_at(&rel)?.is_none()
                        && fsio::read_back(&existing, self.config.ingest.read_back, self.config.ingest.chunk_bytes)
                            .is_ok_and(|(n, h, _)| n == read.size && h.as_bytes() == &read.hash);
                    if adopt {
                        drop(staged);
                        break (existing, true);
                    }
                    attempt += 1;
                    if attempt > 1000 {
                        return Err(FileError::Failed(format!("no free name for {}", dest.display())));
                    }
                }
                Err((_, e)) => return Err(fatal_or_failed(e, dir.join(&name), "renaming into place")),
            }
        };
        crate::failpoint!("copy.after-rename");
        fsio::seal_read_only(&final_path).map_err(|e| fatal_or_failed(e, final_path.clone(), "sealing"))?;
        let immutable = self.config.ingest.immutable && fsio::set_immutable(&final_path).unwrap_or(false);
        let rel = final_path.strip_prefix(root).unwrap_or(&final_path).to_string_lossy().into_owned();
        let archived = self.catalog().record_copy(&CopyRecord {
            docking_id,
            serial,
            source: &item.rel,
            size: read.size,
            hash: read.hash,
            archive_path: &rel,
            read_back: used.as_str(),
            immutable,
            recovered,
        })?;
        Ok(Done { read, archived, stamp })
    }
}

fn fatal_or_failed(e: io::Error, path: PathBuf, what: &str) -> FileError {
    if is_nospace(&e) {
        FileError::Fatal(IngestError::NoSpace { path })
    } else {
        FileError::Failed(format!("{what} {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_gives_its_idle_time_to_other_work_and_survives_work_that_runs_past_due() {
        let stop = AtomicBool::new(false);
        // Unpaced: nothing waits, nothing idle runs.
        let mut calls = 0;
        Pace::new(0)
            .after(1 << 20, &stop, &mut || -> Result<bool, ()> {
                calls += 1;
                Ok(true)
            })
            .unwrap();
        assert_eq!(calls, 0);
        // 1,000 bytes at 100,000 B/s are due after 10 ms: the idle work is called meanwhile,
        // and a step that overshoots the deadline ends the wait without a panic.
        let mut pace = Pace::new(100_000);
        let t = Instant::now();
        let mut steps = 0;
        pace.after(1_000, &stop, &mut || -> Result<bool, ()> {
            steps += 1;
            std::thread::sleep(Duration::from_millis(if steps < 3 { 1 } else { 30 }));
            Ok(steps < 3)
        })
        .unwrap();
        assert_eq!(steps, 3);
        assert!(t.elapsed() >= Duration::from_millis(10));
        // An error from the idle work ends the wait with it.
        assert_eq!(Pace::new(1).after(1_000, &stop, &mut || Err("read-back failed")), Err("read-back failed"));
    }

    #[test]
    fn prefix_hasher_snapshots_exact_prefixes_across_chunk_boundaries() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let offsets = [0, 1, 4096, 5000, 9999, 10_000, 20_000];
        for chunk in [1, 3, 4096, 7000, 10_000] {
            let mut h = PrefixHasher::new(&offsets);
            for c in data.chunks(chunk) {
                h.update(c);
            }
            let (n, whole, prefixes) = h.finish();
            assert_eq!(n, 10_000);
            assert_eq!(whole, *blake3::hash(&data).as_bytes());
            let expect: Vec<(u64, Digest)> = offsets
                .iter()
                .filter(|&&o| o <= 10_000)
                .map(|&o| (o, *blake3::hash(&data[..o as usize]).as_bytes()))
                .collect();
            assert_eq!(prefixes, expect, "chunk {chunk}");
        }
    }
}
