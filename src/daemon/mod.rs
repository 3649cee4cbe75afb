//! The long-running service: one explicit event loop over [`DockEvent`]s and timers, a bay
//! (a blocking ingest task) per docked volume, the status file, and systemd notifications.
//!
//! Owns: which volumes are being ingested, start-up recovery, and shutdown. A bay's error or
//! panic stays in its bay (logged and recorded); the loop and the other bays go on.
//! Must never: write to the archive itself (only [`crate::ingest::exec`] does), or exit
//! with bays still copying (they reach a safe point first).

mod logcheck;
mod startcheck;
pub mod status;
mod systemd;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::archive::fsio;
use crate::catalog::{AlarmKind, Catalog, CatalogError, NewAlarm};
use crate::config::Config;
use crate::custody::event::{Action, Actor};
use crate::dock::{self, DockEvent};
use crate::ingest::{Bay, Outcome, Phase, Progress};

/// Why the daemon could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Another daemon holds the state folder.
    #[error("another evidock daemon is already running on {path} (pid {pid}); refusing to start a second one")]
    AlreadyRunning {
        /// The lock file.
        path: PathBuf,
        /// The holder's pid as written in the lock file.
        pid: String,
    },
    /// A folder could not be prepared.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The catalogue could not be opened or written.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

/// The single-instance lock on the state folder, held for the daemon's life.
#[derive(Debug)]
pub struct InstanceLock {
    _lock: nix::fcntl::Flock<File>,
}

/// Takes the state folder's lock, or says who holds it.
///
/// # Errors
/// [`DaemonError::AlreadyRunning`] when another process holds it.
pub fn lock_state(config: &Config) -> Result<InstanceLock, DaemonError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let state = &config.paths.state_dir;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(state).map_err(|source| DaemonError::Io {
        action: "creating",
        path: state.clone(),
        source,
    })?;
    let path = config.lock_path();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|source| DaemonError::Io { action: "opening", path: path.clone(), source })?;
    match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(mut lock) => {
            let _ = lock.set_len(0);
            let _ = write!(lock, "{}", std::process::id());
            Ok(InstanceLock { _lock: lock })
        }
        Err(_) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default().trim().to_string();
            Err(DaemonError::AlreadyRunning { path, pid })
        }
    }
}

/// Opens the catalogue as the daemon's actor, and says whether the previous run stopped
/// cleanly. With `defer_check` and a clean stop, the integrity check is left to the caller (the
/// daemon runs it in the background once ready, [`background_check`]); otherwise it runs before
/// anything touches the file.
///
/// # Errors
/// When it cannot be opened or is damaged.
pub fn open_catalog(config: &Config, defer_check: bool) -> Result<(Catalog, bool), CatalogError> {
    let actor = Actor::daemon(current_user());
    let clean = stopped_cleanly(config);
    let path = config.catalog_path();
    let catalog = if defer_check && clean {
        Catalog::open_trusted(&path, config.timezone, actor)?
    } else if defer_check && path.exists() {
        // After an unclean stop, only what the last run wrote is checked before READY; the
        // whole file follows in the background (INV-24).
        let t = std::time::Instant::now();
        let r = startcheck::check_recent(&path)?;
        tracing::info!(
            secs = t.elapsed().as_secs_f64(),
            tables = r.tables,
            after_seq = r.after_seq,
            events = r.events,
            "unclean stop: the last run's writes checked before READY; the whole file is checked in the background"
        );
        Catalog::open_trusted(&path, config.timezone, actor)?
    } else {
        Catalog::open(&path, config.timezone, actor)?
    };
    Ok((catalog, clean))
}

/// Whether the last custody event is `daemon_stopped`: the previous run ended cleanly (a crash,
/// `kill -9` or power cut leaves something else last).
pub fn stopped_cleanly(config: &Config) -> bool {
    Catalog::open_read_only(&config.catalog_path(), config.timezone)
        .and_then(|c| {
            c.connection()
                .query_row("SELECT action FROM custody_log ORDER BY seq DESC LIMIT 1", [], |r| r.get::<_, String>(0))
                .map_err(|source| CatalogError::Open { path: config.catalog_path(), source })
        })
        .is_ok_and(|a| a == Action::DaemonStopped.as_str())
}

/// The integrity check of the catalogue (`PRAGMA quick_check`) on its own read-only
/// connection and thread, after READY (after an unclean stop, the rest of what
/// `startcheck::check_recent` checked before READY; INV-24): a damaged file raises the alarm in the journal
/// and the status line. Returns the thread and the handle that interrupts the check at stop.
fn background_check(config: &Config) -> Option<(std::thread::JoinHandle<()>, rusqlite::InterruptHandle)> {
    let catalog = Catalog::open_read_only(&config.catalog_path(), config.timezone).ok()?;
    let interrupt = catalog.connection().get_interrupt_handle();
    let path = config.catalog_path();
    let thread = std::thread::Builder::new()
        .name("catalog-check".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            match catalog.connection().query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)) {
                Ok(v) if v == "ok" => {
                    tracing::info!(secs = started.elapsed().as_secs_f64(), "catalogue integrity check: ok");
                }
                Ok(v) => tracing::error!(
                    "ALARM: the catalogue {} is damaged ({v}); stop the service and restore it (see docs/RELIABILITY.md)",
                    path.display()
                ),
                Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::OperationInterrupted => {
                    tracing::info!("catalogue integrity check interrupted by the stop");
                }
                Err(e) => tracing::error!("ALARM: the catalogue integrity check could not run: {e}"),
            }
        })
        .ok()?;
    Some((thread, interrupt))
}

/// The operating-system user the process runs as.
pub fn current_user() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid).ok().flatten().map_or_else(|| format!("uid:{uid}"), |u| u.name)
}

/// A volume folder being, or having been, ingested.
struct BayState {
    dev_ino: (u64, u64),
    progress: Arc<Progress>,
    finished: Arc<AtomicBool>,
    /// The ingest stopped because the volume left: if the same folder is back (a quick
    /// unplug and replug between two scans, or a FAT volume mounted again with the same
    /// device and root inode), it is a new docking.
    left: Arc<AtomicBool>,
}

/// Everything the loop owns.
struct Station {
    config: Arc<Config>,
    catalog: Arc<Mutex<Catalog>>,
    bays: BTreeMap<String, BayState>,
    tasks: JoinSet<()>,
    permits: Arc<Semaphore>,
    stop: Arc<AtomicBool>,
    info: status::DaemonInfo,
    usb_present: BTreeMap<String, dock::usb::UsbDevice>,
    /// Serials being ingested now, shared by the bays (identity conflicts).
    claims: Arc<crate::ingest::exec::Claims>,
    /// Recorders on the bus that want a login before their storage appears, by status name:
    /// the login in progress, or why it failed (kept until the recorder is docked again).
    unlocks: BTreeMap<String, Arc<Progress>>,
    /// Those logged in to (or tried) during their present docking: never twice.
    unlock_tried: std::collections::BTreeSet<String>,
    /// The loop's own events (a simulated camera coming back as a disk).
    events: mpsc::Sender<DockEvent>,
    /// What vendor SDKs found before their recorders switched to storage, by USB serial.
    sdk_sessions: Arc<Mutex<BTreeMap<String, Arc<crate::recorder::adapter::gat947::SdkSession>>>>,
    /// Bays whose copy stalled on the archive disk (INV-31), by volume: the alarm's subject
    /// and whether it is in the catalogue yet.
    stalls: BTreeMap<String, (String, bool)>,
    /// The live bay state for the web page's bay screens (`web::Live` holds the receivers).
    live: tokio::sync::watch::Sender<Arc<Vec<crate::ingest::Snapshot>>>,
}

impl Station {
    fn event(&self, action: Action, subject: &str, details: serde_json::Value) {
        let result =
            self.catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner).event(action, subject, details);
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot write the custody log");
        }
    }

    /// Records the configuration in force when it differs from the last one recorded (its path
    /// and the BLAKE3 of its bytes; `built-in` without a file), so that every change of rules
    /// between two runs is a custody event.
    fn record_config(&self) {
        let (path, hash) = match &self.config.source {
            Some(p) => match std::fs::read(p) {
                Ok(bytes) => (p.display().to_string(), blake3::hash(&bytes).to_hex().to_string()),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot re-read the configuration to record it");
                    return;
                }
            },
            None => ("built-in".to_string(), "built-in".to_string()),
        };
        let catalog = self.catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let last: Option<String> = catalog
            .connection()
            .query_row(
                "SELECT details FROM custody_log WHERE action = 'config_changed' ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .ok();
        drop(catalog);
        let previous = last
            .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
            .and_then(|v| v.get("blake3").and_then(|h| h.as_str()).map(str::to_string));
        if previous.as_deref() != Some(hash.as_str()) {
            self.event(
                Action::ConfigChanged,
                "config",
                json!({ "path": path, "blake3": hash, "previous_blake3": previous }),
            );
        }
    }

    /// Level-triggered: compares the dock root with the bays and starts or retires bays.
    fn rescan(&mut self) {
        let root = self.config.paths.dock_root.clone();
        let mut seen: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        match std::fs::read_dir(&root) {
            Ok(entries) => {
                for entry in entries.flatten() {
                    let Ok(meta) = std::fs::symlink_metadata(entry.path()) else { continue };
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if !meta.is_dir() || name.starts_with('.') {
                        continue;
                    }
                    seen.insert(name, (meta.dev(), meta.ino()));
                }
            }
            Err(e) => tracing::error!(root = %root.display(), error = %e, "cannot read the dock root"),
        }
        // Undocked: finished bays whose folder is gone (or is another folder now).
        let gone: Vec<String> = self
            .bays
            .iter()
            .filter(|(name, b)| {
                b.finished.load(Ordering::Acquire)
                    && (seen.get(*name) != Some(&b.dev_ino) || b.left.load(Ordering::Acquire))
            })
            .map(|(n, _)| n.clone())
            .collect();
        for name in gone {
            if let Some(b) = self.bays.remove(&name) {
                let snap = b.progress.snapshot();
                self.event(
                    Action::Undocked,
                    &format!("volume:{name}"),
                    json!({ "volume": name, "serial": snap.serial, "docking": snap.docking_id,
                            "safe_to_undock": snap.safe_to_undock, "phase": snap.phase.as_str() }),
                );
                tracing::info!(volume = %name, "undocked");
            }
        }
        let root_dev = std::fs::metadata(&root).map(|m| m.dev()).ok();
        for (name, dev_ino) in seen {
            if self.bays.contains_key(&name) || awaits_mount(&root.join(&name), dev_ino.0, root_dev) {
                continue;
            }
            self.start_bay(name, dev_ino);
        }
    }

    fn start_bay(&mut self, name: String, dev_ino: (u64, u64)) {
        let progress = Arc::new(Progress::new(&name));
        let finished = Arc::new(AtomicBool::new(false));
        let left = Arc::new(AtomicBool::new(false));
        self.bays.insert(
            name.clone(),
            BayState { dev_ino, progress: progress.clone(), finished: finished.clone(), left: left.clone() },
        );
        // udev mounts a recorder at its USB serial: that is how a volume and a device meet.
        let usb = self.usb_present.get(&name).cloned();
        let sdk = self.sdk_sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&name).cloned();
        if let Some(u) = &usb {
            tracing::info!(volume = %name, usb = %u.id(), "volume matches a recorder on the USB bus");
        }
        let path = self.config.paths.dock_root.join(&name);
        let (config, catalog, permits, stop, claims) =
            (self.config.clone(), self.catalog.clone(), self.permits.clone(), self.stop.clone(), self.claims.clone());
        tracing::info!(volume = %name, "docked");
        self.tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let p = progress.clone();
            let result = tokio::task::spawn_blocking(move || {
                let bay = Bay {
                    config: &config,
                    catalog: &catalog,
                    progress: &p,
                    stop: &stop,
                    usb: usb.as_ref(),
                    claims: &claims,
                    sdk: sdk.as_deref(),
                };
                bay.run(&path)
            })
            .await;
            match result {
                Ok(Ok(outcome)) => log_outcome(&name, &outcome),
                Ok(Err(e)) => {
                    tracing::error!(volume = %name, error = %e, "ingest stopped");
                    if matches!(e, crate::ingest::IngestError::DeviceGone { .. }) {
                        left.store(true, Ordering::Release);
                    }
                }
                Err(panic) => {
                    // A panic may come in the wipe phase: files verified in the archive may be
                    // gone from the recorder already (INV-2), every other file is still on it.
                    tracing::error!(
                        volume = %name, error = %panic,
                        "ingest panicked; the recorder keeps every file not yet verified in the archive"
                    );
                    progress.update(|s| {
                        s.phase = Phase::Abandoned;
                        s.message = "internal error: ingest stopped; only footage verified in the archive was wiped, \
                                     the rest is still on the recorder: re-dock it to finish / \
                                     内部错误，导入中止：仅删除了已在档案中核验的录像，其余仍在记录仪上，请重新插入以完成导入"
                            .into();
                    });
                }
            }
            finished.store(true, Ordering::Release);
        });
    }

    /// The watchdog of the archive disk (INV-31): a bay copying with no progress for
    /// `ingest.stall_timeout_s` is marked stalled (never wiped), shown in the status and
    /// raised as an alarm with its `archive_stalled` event; the alarm clears when that copy
    /// moves again or the bay ends. The loop never waits here on the catalogue: when a bay
    /// holds it, the alarm is written at a later tick (the journal and the status have it now).
    fn watch_stalls(&mut self) {
        let limit = Duration::from_secs(self.config.ingest.stall_timeout_s);
        for (name, b) in &self.bays {
            let snap = b.progress.snapshot();
            let idle = b.progress.idle_for();
            let stalled = !b.finished.load(Ordering::Acquire) && snap.phase == Phase::Copying && idle >= limit;
            if !stalled {
                if let Some((subject, logged)) = self.stalls.get(name).cloned() {
                    let Ok(mut cat) = self.catalog.try_lock() else { continue };
                    if logged {
                        let why = "the copy moved again or the bay ended";
                        if let Err(e) = cat.clear_alarms(AlarmKind::ArchiveDisk, Some(&subject), why) {
                            tracing::error!(error = %e, "cannot clear the archive disk alarm");
                            continue;
                        }
                    }
                    drop(cat);
                    tracing::warn!(volume = %name, "the archive disk answers again");
                    self.stalls.remove(name);
                }
                continue;
            }
            if self.stalls.get(name).is_some_and(|(_, logged)| *logged) {
                continue;
            }
            let secs = idle.as_secs();
            let en = format!(
                "archive disk not responding: the copy of {name} has made no progress for {secs} s \
                 (ingest.stall_timeout_s = {}); the recorder will not be wiped, other bays go on; check the archive \
                 disk",
                limit.as_secs()
            );
            let zh =
                format!("存档磁盘无响应：{name} 的导入已 {secs} 秒无进展；不清除记录仪，其他接入照常；请检查存档磁盘");
            let message = format!("{en} / {zh}");
            let subject = snap.docking_id.map_or_else(|| format!("volume:{name}"), |d| format!("docking:{d}"));
            if b.progress.mark_stalled(&message) {
                tracing::error!(volume = %name, "ALARM: {message}");
            }
            let logged = match self.catalog.try_lock() {
                Ok(mut cat) => {
                    let raised = cat.raise_alarm(&NewAlarm {
                        kind: AlarmKind::ArchiveDisk,
                        subject: &subject,
                        message: &en,
                        message_zh: &zh,
                        action: Action::ArchiveStalled,
                        details: json!({
                            "volume": name, "docking": snap.docking_id, "serial": snap.serial, "idle_s": secs,
                            "timeout_s": limit.as_secs(), "text": en, "text_zh": zh,
                        }),
                    });
                    if let Err(e) = &raised {
                        tracing::error!(error = %e, "cannot write the archive disk alarm");
                    }
                    raised.is_ok()
                }
                Err(_) => false,
            };
            self.stalls.insert(name.clone(), (subject, logged));
        }
        let gone: Vec<String> = self.stalls.keys().filter(|n| !self.bays.contains_key(*n)).cloned().collect();
        for name in gone {
            if let Some((subject, true)) = self.stalls.get(&name).cloned() {
                let Ok(mut cat) = self.catalog.try_lock() else { continue };
                if let Err(e) = cat.clear_alarms(AlarmKind::ArchiveDisk, Some(&subject), "the recorder was undocked") {
                    tracing::error!(error = %e, "cannot clear the archive disk alarm");
                    continue;
                }
            }
            self.stalls.remove(&name);
        }
    }

    fn snapshots(&self) -> Vec<crate::ingest::Snapshot> {
        self.bays.values().map(|b| b.progress.snapshot()).chain(self.unlocks.values().map(|p| p.snapshot())).collect()
    }

    /// A recorder that shows no storage until it is logged in to and told to (`ambarella`):
    /// log in and ask for disk mode, once for this docking, on a blocking thread.
    fn unlock(&mut self, d: &dock::usb::UsbDevice) {
        use crate::ingest::unlock;
        use crate::recorder::adapter::ambarella::{Control, ControlError, UsbControl};
        if d.storage {
            return;
        }
        let Some(model) =
            self.config.usb.models.iter().find(|m| (m.vendor_id, m.product_id) == (d.vendor_id, d.product_id))
        else {
            return;
        };
        let kind = model.profile.kind;
        if !matches!(
            kind,
            crate::recorder::adapter::AdapterKind::Ambarella | crate::recorder::adapter::AdapterKind::Gat947Sdk
        ) {
            return;
        }
        let name = unlock::status_name(d);
        if !self.unlock_tried.insert(name.clone()) {
            return;
        }
        let progress = Arc::new(Progress::new(&name));
        self.unlocks.insert(name, progress.clone());
        let (config, catalog, events, model, d) =
            (self.config.clone(), self.catalog.clone(), self.events.clone(), model.clone(), d.clone());
        if kind == crate::recorder::adapter::AdapterKind::Gat947Sdk {
            let sessions = self.sdk_sessions.clone();
            self.tasks.spawn(async move {
                let result = tokio::task::spawn_blocking(move || {
                    // The vendor library runs in a helper: this program, started again.
                    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/local/bin/evidock"));
                    let found = unlock::sdk_session(&config, &catalog, &progress, &d, &model, &exe);
                    let ok = found.is_some();
                    if let (Some(s), Some(serial)) = (found, d.serial.clone()) {
                        sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(serial, Arc::new(s));
                    }
                    (d, ok)
                })
                .await;
                match result {
                    Ok((d, true)) if d.simulated => {
                        let disk = dock::usb::UsbDevice { storage: true, ..d.clone() };
                        let _ = events.send(DockEvent::UsbDeparted(d)).await;
                        let _ = events.send(DockEvent::UsbArrived(disk)).await;
                    }
                    Ok((d, ok)) => tracing::info!(usb = %d.id(), serial = ?d.serial, ok, "vendor SDK session"),
                    Err(e) => tracing::error!(error = %e, "vendor SDK task failed"),
                }
            });
            return;
        }
        self.tasks.spawn(async move {
            let result = tokio::task::spawn_blocking(move || {
                let open = || -> Result<Box<dyn Control>, ControlError> {
                    if d.simulated {
                        let serial = d.serial.clone().unwrap_or_default();
                        let camera = dock::usb::simulated_camera(&serial).ok_or(ControlError::Gone)?;
                        Ok(Box::new(camera))
                    } else {
                        Ok(Box::new(UsbControl::open(d.bus, d.address, (d.vendor_id, d.product_id))?))
                    }
                };
                let outcome = unlock::unlock(&config, &catalog, &progress, &d, &model, open);
                (d, outcome)
            })
            .await;
            match result {
                // A simulated camera comes back as a disk, as a real one re-enumerates.
                Ok((d, unlock::Unlocked::StorageRequested)) if d.simulated => {
                    let disk = dock::usb::UsbDevice { storage: true, ..d.clone() };
                    let _ = events.send(DockEvent::UsbDeparted(d)).await;
                    let _ = events.send(DockEvent::UsbArrived(disk)).await;
                }
                Ok((d, outcome)) => tracing::info!(usb = %d.id(), serial = ?d.serial, ?outcome, "recorder login"),
                Err(e) => tracing::error!(error = %e, "recorder login task failed"),
            }
        });
    }

    fn write_status(&self) {
        let snaps = self.snapshots();
        let doc = status::document(&self.info, &snaps, &Utc::now().to_rfc3339());
        self.live.send_replace(Arc::new(snaps));
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        if let Err(e) = fsio::replace(&self.config.status_path(), text.as_bytes()) {
            tracing::warn!(error = %e, "cannot write the status file");
        }
    }

    fn status_line(&self) -> String {
        let snaps = self.snapshots();
        let busy = snaps.iter().filter(|s| !s.phase.is_final()).count();
        let done = snaps.iter().filter(|s| s.phase == Phase::Done).count();
        let attention = snaps.iter().filter(|s| s.phase == Phase::Attention || s.phase == Phase::Abandoned).count();
        format!("{busy} ingesting, {done} safe to undock, {attention} need attention")
    }

    fn handle(&mut self, event: DockEvent) {
        match event {
            DockEvent::Rescan => self.rescan(),
            DockEvent::UsbArrived(d) => {
                tracing::info!(usb = %d.id(), serial = ?d.serial, model = %d.model, "recorder on USB");
                self.event(
                    Action::UsbArrived,
                    &format!("usb:{}", d.serial.clone().unwrap_or_else(|| format!("{}-{}", d.bus, d.address))),
                    json!({ "id": d.id(), "serial": d.serial, "model": d.model, "bus": d.bus, "address": d.address }),
                );
                if let Some(s) = &d.serial {
                    self.usb_present.insert(s.clone(), d.clone());
                }
                self.unlock(&d);
                self.rescan();
            }
            DockEvent::UsbDeparted(d) => {
                tracing::info!(usb = %d.id(), serial = ?d.serial, "recorder left USB");
                self.event(
                    Action::UsbDeparted,
                    &format!("usb:{}", d.serial.clone().unwrap_or_else(|| format!("{}-{}", d.bus, d.address))),
                    json!({ "id": d.id(), "serial": d.serial, "model": d.model }),
                );
                if let Some(s) = &d.serial {
                    self.usb_present.remove(s);
                }
                if d.storage {
                    // Undocked: what its SDK found belongs to that docking only.
                    if let Some(s) = &d.serial {
                        self.sdk_sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(s);
                    }
                } else {
                    // Docked again later: a new docking, logged in to again. A login that
                    // failed stays in the status view until then; one that worked gives way
                    // to the storage's own bay.
                    let name = crate::ingest::unlock::status_name(&d);
                    self.unlock_tried.remove(&name);
                    if self.unlocks.get(&name).is_some_and(|p| p.snapshot().phase == Phase::Identifying) {
                        self.unlocks.remove(&name);
                    }
                }
                self.rescan();
            }
            DockEvent::UsbUnavailable(why) => {
                tracing::warn!(reason = %why, "USB unavailable");
                self.info.usb = why;
            }
            DockEvent::WatchFailed(why) => {
                tracing::warn!(reason = %why, "dock-root watch failed; periodic rescans go on");
            }
        }
    }
}

/// Whether a dock-root folder is a mount point that has no volume on it yet: empty, on the
/// dock root's own file system. `systemd-mount` creates the folder a moment before it mounts
/// the recorder's volume there; the rescan that follows the mount starts the bay. An empty
/// folder holds no recorder either way.
fn awaits_mount(path: &std::path::Path, dev: u64, root_dev: Option<u64>) -> bool {
    Some(dev) == root_dev && std::fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_none())
}

fn log_outcome(volume: &str, outcome: &Outcome) {
    match outcome {
        Outcome::NotARecorder => tracing::info!(volume, "not a recorder: left alone"),
        Outcome::BadIdentity(why) => tracing::warn!(volume, why = %why, "invalid identity: nothing ingested"),
        Outcome::Finished { archived, failed, flagged, review, wiped, safe_to_undock } => {
            tracing::info!(volume, archived, failed, flagged, review, wiped, safe_to_undock, "ingest finished")
        }
    }
}

/// Prepares the folders, takes the lock, opens the catalogue ([`open_catalog`], with
/// `defer_check`) and recovers from an interrupted run. Returns what [`run`] needs: the lock,
/// the catalogue, and whether the previous run stopped cleanly.
///
/// # Errors
/// When another daemon runs, or a folder or the catalogue cannot be used.
pub fn prepare(config: &Config, defer_check: bool) -> Result<(InstanceLock, Catalog, bool), DaemonError> {
    let lock = lock_state(config)?;
    for (dir, mode) in [(&config.paths.archive_root, 0o700), (&config.paths.dock_root, 0o750)] {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(mode).create(dir).map_err(|source| DaemonError::Io {
            action: "creating",
            path: dir.clone(),
            source,
        })?;
    }
    let (mut catalog, clean) = open_catalog(config, defer_check)?;
    // A temporary file is never a complete file (INV-2): remove what a crash left.
    let removed = fsio::sweep_temporaries(&config.paths.archive_root).map_err(|source| DaemonError::Io {
        action: "sweeping temporary files under",
        path: config.paths.archive_root.clone(),
        source,
    })?;
    for path in &removed {
        let rel = path.strip_prefix(&config.paths.archive_root).unwrap_or(path).to_string_lossy().into_owned();
        catalog.event(
            Action::ArchiveRecovered,
            "archive",
            json!({ "removed_temporary": rel, "reason": "left by an interrupted run; never counted as archived" }),
        )?;
    }
    // A move into a case folder that a crash interrupted is finished or abandoned.
    let finished = crate::archive::assign::recover(config, &mut catalog).map_err(|e| DaemonError::Io {
        action: "recovering interrupted case moves under",
        path: config.paths.archive_root.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    if finished > 0 {
        tracing::info!(finished, "finished case moves a crash had interrupted");
    }
    Ok((lock, catalog, clean))
}

/// Runs the daemon until `shutdown` is cancelled.
///
/// # Errors
/// When it cannot start (see [`prepare`]).
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), DaemonError> {
    run_with(config, shutdown, Vec::new()).await
}

/// [`run`], with the devices of a simulated USB bus reported as arrived before the first
/// rescan (the demo; test builds also read `EVIDOCK_SIM_USB`, see [`dock::usb::simulated`]).
///
/// # Errors
/// When it cannot start (see [`prepare`]).
pub async fn run_with(
    config: Config,
    shutdown: CancellationToken,
    simulated: Vec<dock::usb::UsbDevice>,
) -> Result<(), DaemonError> {
    #[cfg(feature = "failpoints")]
    let simulated = {
        let mut simulated = simulated;
        if let Ok(spec) = std::env::var("EVIDOCK_SIM_USB") {
            simulated.extend(dock::usb::simulated(&spec, &config.usb.models).map_err(|e| DaemonError::Io {
                action: "reading EVIDOCK_SIM_USB",
                path: PathBuf::from("EVIDOCK_SIM_USB"),
                source: std::io::Error::other(e),
            })?);
        }
        simulated
    };
    let (lock, catalog, _clean) = prepare(&config, true)?;
    // The station's custody signing key, created at the first start (issue it to auditors
    // as custody-signing.pub from the state folder).
    let keys = crate::custody::files::KeyPaths::in_dir(&config.paths.state_dir);
    let signer = crate::custody::files::load_or_create_signer(
        &keys,
        &crate::custody::checkpoint::key_name(&config.station_name),
    )
    .map_err(|e| DaemonError::Io {
        action: "loading the custody signing key in",
        path: config.paths.state_dir.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let config = Arc::new(config);
    let catalog = Arc::new(Mutex::new(catalog));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = mpsc::channel::<DockEvent>(64);
    let started = Utc::now().to_rfc3339();
    let mut station = Station {
        config: config.clone(),
        catalog: catalog.clone(),
        bays: BTreeMap::new(),
        tasks: JoinSet::new(),
        permits: Arc::new(Semaphore::new(config.ingest.max_concurrent_bays)),
        stop: stop.clone(),
        info: status::DaemonInfo {
            pid: std::process::id(),
            started,
            stopping: false,
            usb: if config.usb.enabled { "starting".into() } else { "disabled (usb.enabled = false)".into() },
            dock_root: config.paths.dock_root.display().to_string(),
            archive_root: config.paths.archive_root.display().to_string(),
        },
        usb_present: BTreeMap::new(),
        claims: Arc::default(),
        unlocks: BTreeMap::new(),
        unlock_tried: std::collections::BTreeSet::new(),
        events: tx.clone(),
        sdk_sessions: Arc::default(),
        stalls: BTreeMap::new(),
        live: tokio::sync::watch::Sender::new(Arc::new(Vec::new())),
    };
    station.event(
        Action::DaemonStarted,
        "daemon",
        json!({
            "version": env!("CARGO_PKG_VERSION"), "pid": std::process::id(),
            "config": config.source.as_ref().map(|p| p.display().to_string()),
            "dock_root": station.info.dock_root, "archive_root": station.info.archive_root,
        }),
    );

    station.record_config();
    record_signing_key(&catalog, &signer, &keys);

    let _watcher = match dock::watch::watch(&config.paths.dock_root, tx.clone()) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the dock root; rescanning periodically");
            None
        }
    };
    let usb_stop = Arc::new(AtomicBool::new(false));
    let usb_thread = config.usb.enabled.then(|| {
        station.info.usb = "watching".into();
        dock::usb::spawn(
            config.usb.models.clone(),
            Duration::from_secs(config.usb.poll_interval_s),
            tx.clone(),
            usb_stop.clone(),
        )
    });
    drop(tx);

    // The control socket: the command line's way in (the daemon is the only writer).
    let control_stop = shutdown.child_token();
    let control = match crate::control::server::bind(&config.paths.control_socket) {
        Ok(listener) => {
            let cfg = config.clone();
            let handler: Arc<crate::control::server::Handler> =
                Arc::new(move |who, pid, request, fds| crate::cli::invoke::serve(&cfg, who, pid, request, fds));
            let service = crate::control::server::Service {
                handler,
                quick: Box::new(crate::cli::invoke::is_quick),
                station: crate::cli::invoke::station_of(&config),
            };
            Some(tokio::spawn(crate::control::server::serve(
                listener,
                config.paths.control_socket.clone(),
                crate::control::server::Limits::default(),
                service,
                control_stop.clone(),
            )))
        }
        Err(e) => {
            tracing::error!(error = %e, "no control socket: commands cannot reach the service");
            None
        }
    };

    // The station's web page (`[web]`): a failure to listen is an alarm; ingest goes on.
    let web_stop = shutdown.child_token();
    let web = if config.web.enabled {
        match crate::web::bind(&config.web).await {
            Ok((listener, tls)) => {
                tracing::info!(listen = %config.web.listen, tls = tls.is_some(), "web page listening");
                let gate = Arc::new(crate::accounts::gate::Gate::new(
                    catalog.clone(),
                    config.web.lockout,
                    config.web.session_s,
                    config.timezone,
                ));
                Some(tokio::spawn(crate::web::serve(
                    listener,
                    tls,
                    config.clone(),
                    gate,
                    station.live.subscribe(),
                    web_stop.clone(),
                )))
            }
            Err(e) => {
                tracing::error!("ALARM: {e}; ingest goes on without the web page");
                None
            }
        }
    } else {
        None
    };

    // The central copy, on its own thread (a store that is down only grows the backlog).
    let witness = Arc::new(crate::central::witness::Witness::default());
    let central_thread =
        crate::central::replicate::spawn(config.clone(), catalog.clone(), stop.clone(), witness.clone())
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "ALARM: the central replication thread could not start");
                None
            });

    for d in simulated {
        station.handle(DockEvent::UsbArrived(d));
    }
    station.rescan();
    station.write_status();
    let notifier = systemd::Notifier::from_env();
    notifier.ready(&station.status_line());
    tracing::info!(dock_root = %config.paths.dock_root.display(), "ready");
    let check = background_check(&config);
    let mut full_check = logcheck::LogCheck::new(config.catalog_path(), signer.verifier());
    full_check.poll();

    let mut rescan = tokio::time::interval(Duration::from_secs(2));
    let mut status_tick = tokio::time::interval(Duration::from_millis(config.status_interval_ms));
    let mut watchdog = tokio::time::interval(notifier.watchdog_interval().unwrap_or(Duration::from_secs(3600)));
    let mut checkpoints = tokio::time::interval(Duration::from_secs(config.checkpoint_interval_s));
    checkpoints.tick().await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(event) = rx.recv() => station.handle(event),
            _ = rescan.tick() => station.rescan(),
            _ = status_tick.tick() => {
                if let Some((up_to, hash)) = full_check.take_point() {
                    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
                    station.event(Action::LogPointVerified, "log", json!({ "up_to": up_to, "hash": hex }));
                }
                station.watch_stalls();
                station.write_status();
                notifier.status(&station.status_line());
            }
            _ = watchdog.tick() => notifier.watchdog(),
            _ = checkpoints.tick() => {
                full_check.poll();
                if crate::central::may_sign(&config, &catalog, &witness) {
                    make_checkpoint(&catalog, &signer, &keys, full_check.finding());
                }
            }
            Some(done) = station.tasks.join_next(), if !station.tasks.is_empty() => {
                if let Err(e) = done {
                    tracing::error!(error = %e, "bay task failed");
                }
                station.write_status();
            }
        }
    }

    // Shutdown: bays stop at their next safe point; the log says so.
    tracing::info!("stopping");
    notifier.stopping();
    stop.store(true, Ordering::Relaxed);
    usb_stop.store(true, Ordering::Relaxed);
    station.info.stopping = true;
    station.write_status();
    while let Some(done) = station.tasks.join_next().await {
        if let Err(e) = done {
            tracing::error!(error = %e, "bay task failed");
        }
    }
    if let Some(t) = central_thread {
        let _ = tokio::task::spawn_blocking(move || t.join()).await;
    }
    if let Some(t) = usb_thread {
        let _ = tokio::task::spawn_blocking(move || t.join()).await;
    }
    if let Some((thread, interrupt)) = check {
        interrupt.interrupt();
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    control_stop.cancel();
    if let Some(c) = control {
        let _ = c.await;
    }
    web_stop.cancel();
    if let Some(w) = web {
        let _ = w.await;
    }
    station.event(Action::DaemonStopped, "daemon", json!({ "pid": std::process::id() }));
    if crate::central::may_sign(&config, &catalog, &witness) {
        make_checkpoint(&catalog, &signer, &keys, full_check.finding());
    }
    station.write_status();
    drop(lock);
    Ok(())
}

/// Records the station's verifier key in the custody log when the log holds no record of a
/// key yet (the first start, or a log from before keys were recorded), so that a key replaced
/// later is noticed at every checkpoint. A key that does not open the checkpoints already
/// signed (stored or in the side file) is not recorded: the next checkpoint raises the alarm.
fn record_signing_key(
    catalog: &Mutex<Catalog>,
    signer: &crate::custody::checkpoint::NoteSigner,
    keys: &crate::custody::files::KeyPaths,
) {
    use crate::custody::checkpoint::Checkpoint;
    let verifier = signer.verifier();
    let mut cat = catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match crate::custody::store::recorded_key(cat.connection()) {
        Ok(Some(_)) => return,
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the signing key recorded in the custody log");
            return;
        }
    }
    let mut notes: Vec<String> =
        crate::custody::store::checkpoints(cat.connection()).unwrap_or_default().into_iter().map(|c| c.note).collect();
    if keys.checkpoints.exists() {
        match crate::custody::files::read_notes(&keys.checkpoints) {
            Ok(n) => notes.extend(n),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the checkpoint side file");
                return;
            }
        }
    }
    if notes.iter().any(|n| Checkpoint::open(n, &verifier).is_err()) {
        return;
    }
    let recorded = cat.event(
        Action::SigningKeyRecorded,
        "log",
        json!({
            "verifier_key": verifier.encode(), "key_id": format!("{:08x}", verifier.id()), "name": verifier.name(),
        }),
    );
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "cannot record the signing key in the custody log");
    }
}

/// Signs a checkpoint of the custody log when there is something new: stored, appended to
/// the side file, and written to the journal through the log line. A log that no longer
/// verifies, that would contradict a checkpoint already signed (a database rolled back or
/// without its WAL), or a replaced key, is not signed: the alarm goes to the journal, to
/// `evidock status` and, once, to the custody log; ingest goes on (evidence is still
/// protected by the archive). `held`: what the background full verification found, which
/// holds every checkpoint the same way until the log verifies again (INV-23).
fn make_checkpoint(
    catalog: &Mutex<Catalog>,
    signer: &crate::custody::checkpoint::NoteSigner,
    keys: &crate::custody::files::KeyPaths,
    held: Option<(String, String)>,
) {
    use crate::catalog::{AlarmKind, NewAlarm};
    use crate::custody::CustodyError;
    let mut cat = catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let err = if let Some((reason, _)) = held {
        CatalogError::Custody(CustodyError::Unsound { reason })
    } else {
        match cat.checkpoint(signer, &keys.checkpoints) {
            Ok(Some(c)) => {
                tracing::info!(id = c.id, note = %c.note, "custody checkpoint");
                if let Err(e) = cat.clear_alarms(AlarmKind::Checkpoint, None, "a checkpoint was signed") {
                    tracing::warn!(error = %e, "cannot clear checkpoint alarms");
                }
                return;
            }
            Ok(None) => return,
            Err(e) => e,
        }
    };
    let (kind, reason, reason_zh) = match &err {
        CatalogError::Custody(CustodyError::Contradiction(c)) => (c.kind(), c.reason(), c.reason_zh()),
        CatalogError::Custody(CustodyError::Unsound { reason }) => {
            ("unsound", reason.clone(), "保管日志未通过校验或与已签署的检查点不符".to_string())
        }
        other => ("error", other.to_string(), "无法生成检查点".to_string()),
    };
    if kind == "unsound" {
        tracing::error!(error = %err, "ALARM: the custody log does not verify; no checkpoint signed; run `evidock log verify`; ingest goes on");
    } else {
        tracing::error!(kind, error = %err, "ALARM: no custody checkpoint signed: it would contradict one the station signed before; ingest goes on");
    }
    let message = format!("no checkpoint signed: {reason}; ingest goes on; run `evidock log verify`");
    let message_zh = format!("拒绝签署检查点：{reason_zh}；导入照常进行，请运行 evidock log verify");
    let raised = cat.raise_alarm(&NewAlarm {
        kind: AlarmKind::Checkpoint,
        subject: "log",
        message: &message,
        message_zh: &message_zh,
        action: Action::CheckpointRefused,
        details: json!({ "kind": kind, "reason": reason, "reason_zh": reason_zh }),
    });
    if let Err(e) = raised {
        tracing::error!(error = %e, "ALARM: cannot record the refused checkpoint");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_folder_on_the_dock_roots_file_system_awaits_its_mount() {
        let dir = tempfile::tempdir().unwrap();
        let root_dev = std::fs::metadata(dir.path()).unwrap().dev();
        let bay = dir.path().join("SN00001");
        std::fs::create_dir(&bay).unwrap();
        assert!(awaits_mount(&bay, root_dev, Some(root_dev)), "an empty mount point is not a docking yet");
        // Another file system mounted there (another device), even an empty one, is a docking.
        assert!(!awaits_mount(&bay, root_dev + 1, Some(root_dev)));
        std::fs::write(bay.join("ZFYINFO.TXT"), b"x").unwrap();
        assert!(!awaits_mount(&bay, root_dev, Some(root_dev)), "a folder with files is a docking");
    }
}
