//! The replicator: one pass queues what is new (archived files at every path they have, dock
//! seals, salvaged parts, the custody log's segments, checkpoints and verifier key), sends what
//! is queued (at most `central.concurrency` objects at once, paced to
//! `central.bandwidth_bytes_per_s`), proves each object on the store before it counts as off
//! the station, and brings the locks and legal holds of confirmed objects in line with the
//! station's deadlines and holds.
//!
//! Owns: the order of an upload: the key checked first (an object already there with our hash
//! is confirmed, never sent twice; other bytes there are an alarm, never overwritten); the
//! local bytes hashed as they are read and compared with the catalogue before the upload
//! completes; each part with its `Content-MD5`; the store's size, BLAKE3 metadata, ETag, lock
//! and legal hold read back (and in `read-back` mode the whole object) before
//! `central_confirmed` is logged.
//! Must never: write to the archive, delete or overwrite an object, shorten a lock (INV-11),
//! or hold the catalogue's lock while it waits on the network.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use md5::{Digest as _, Md5};
use serde_json::json;

use crate::catalog::{Catalog, CatalogError, NewObject, OutboxItem};
use crate::config::Config;
use crate::custody::store as log;

use super::config::{Central, Confirm};
use super::keys;
use super::s3::{iso, parse_iso, PutOptions, S3Error, Store};
use super::sigv4::hex;
use super::witness::Witness;

/// Why a pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplicateError {
    /// The store refused or could not be reached.
    #[error(transparent)]
    Store(#[from] S3Error),
    /// The bucket has no Object Lock: nothing is sent, since nothing there could be trusted to stay.
    #[error("the bucket {bucket} on {endpoint} has no Object Lock: refusing to replicate into it (objects there could be \
             deleted or overwritten); create the bucket with Object Lock enabled (x-amz-bucket-object-lock-enabled: true) / \
             存储桶未启用对象锁定（WORM），拒绝上传，请新建启用对象锁定的存储桶")]
    NoObjectLock {
        /// The bucket.
        bucket: String,
        /// The endpoint.
        endpoint: String,
    },
    /// The catalogue failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A local file or the credentials could not be read.
    #[error("{0}")]
    Local(String),
}

impl ReplicateError {
    /// A stable one-word name.
    pub fn kind(&self) -> &'static str {
        match self {
            ReplicateError::Store(e) => e.kind(),
            ReplicateError::NoObjectLock { .. } => "no_object_lock",
            ReplicateError::Catalog(_) => "catalog",
            ReplicateError::Local(_) => "local",
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Objects newly queued.
    pub queued: u64,
    /// Objects confirmed off the station in this pass.
    pub confirmed: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Locks extended or legal holds changed.
    pub lock_changes: u64,
    /// Objects whose attempt failed (they stay queued).
    pub failed: u64,
    /// Objects taken out of the queue with an alarm (other bytes at the key, a local file
    /// that no longer matches the catalogue).
    pub blocked: u64,
    /// The error that ended the pass early, if any.
    pub stopped_by: Option<String>,
    /// Its kind.
    pub stopped_kind: Option<&'static str>,
}

/// One pass at a time per process (the daemon's thread and a `replicate run` through the
/// control socket).
static ONE_PASS: Mutex<()> = Mutex::new(());

/// A file's wanted lock: retain until, legal hold.
type Want = (DateTime<Utc>, bool);

/// The lock date of what is kept for ever, of the log and of chain files: 1 January 2106, the
/// latest date the RADOS Gateway holds (it keeps lock dates as unsigned 32-bit seconds and
/// wraps after 2106-02-07: a date in 2126 came back as 1989). No lock asks for more.
pub fn horizon(_now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2106, 1, 1, 0, 0, 0).single().unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The replicator of one station into one bucket.
#[derive(Debug)]
pub struct Replicator<'a> {
    /// The station's configuration.
    pub config: &'a Config,
    /// `[central]`.
    pub central: &'a Central,
    /// The bucket.
    pub store: Store,
    /// The catalogue (the daemon's one writer, shared).
    pub catalog: &'a Mutex<Catalog>,
    /// Set when the process is stopping: uploads stop at the next part.
    pub stop: &'a AtomicBool,
    /// The store as witness: the latest central checkpoint and any disagreement.
    pub witness: &'a Witness,
}

enum Body {
    File(std::fs::File),
    Bytes(Vec<u8>),
}

impl Body {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        match self {
            Body::File(f) => {
                let mut done = 0;
                while done < buf.len() {
                    match f.read_at(&mut buf[done..], offset + done as u64)? {
                        0 => break,
                        n => done += n,
                    }
                }
                Ok(done)
            }
            Body::Bytes(b) => {
                let start = (offset as usize).min(b.len());
                let n = buf.len().min(b.len() - start);
                buf[..n].copy_from_slice(&b[start..start + n]);
                Ok(n)
            }
        }
    }
}

/// Why one object was not confirmed.
enum Miss {
    /// Try again later; `global` errors end the pass.
    Retry(String, bool),
    /// Never as it is: the state to record (`conflict`, `local_mismatch`) and why.
    Block(&'static str, String),
    /// The process is stopping.
    Stopped,
}

impl From<S3Error> for Miss {
    fn from(e: S3Error) -> Miss {
        let global = matches!(
            e,
            S3Error::Unreachable { .. }
                | S3Error::ClockSkew { .. }
                | S3Error::Credentials { .. }
                | S3Error::NoSuchBucket { .. }
                | S3Error::Full { .. }
        );
        Miss::Retry(e.to_string(), global)
    }
}

impl From<CatalogError> for Miss {
    fn from(e: CatalogError) -> Miss {
        Miss::Retry(e.to_string(), true)
    }
}

impl Replicator<'_> {
    fn catalog(&self) -> std::sync::MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn station(&self) -> &str {
        &self.config.station_name
    }

    /// One pass: queue, send, confirm, follow deadlines and holds.
    ///
    /// # Errors
    /// When the bucket refuses to be used (no Object Lock, wrong credentials, clock, down):
    /// nothing is lost, the queue waits for the next pass.
    pub fn pass(&self) -> Result<PassReport, ReplicateError> {
        let _one = ONE_PASS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut report = PassReport { queued: self.enqueue()?, ..PassReport::default() };
        if !self.store.object_lock_enabled()? {
            return Err(ReplicateError::NoObjectLock {
                bucket: self.central.bucket.clone(),
                endpoint: self.central.endpoint.clone(),
            });
        }
        let now = Utc::now();
        let items = self.catalog().central_pending(100_000)?;
        // Deadlines and holds move only with these events: an idle pass reads no recordings
        // (which would hold the catalogue from the bays for a large archive).
        let marker = self.lock_marker()?;
        let followed = self.catalog().central_state("locks_marker")?;
        if items.is_empty() && followed.as_deref() == Some(marker.as_str()) {
            let mut c = self.catalog();
            c.set_central_state("last_pass", &now.to_rfc3339())?;
            c.set_central_state("last_pass_error", "")?;
            return Ok(report);
        }
        let plan = self.lock_plan(now)?;
        self.send_all(items, &plan, &mut report);
        if report.stopped_by.is_none() && !self.stop.load(Ordering::Relaxed) {
            match self.follow_locks(&plan) {
                Ok(n) => {
                    report.lock_changes = n;
                    if report.failed + report.blocked == 0 {
                        self.catalog().set_central_state("locks_marker", &marker)?;
                    }
                }
                Err(e) => {
                    report.stopped_kind = Some(e.kind());
                    report.stopped_by = Some(e.to_string());
                }
            }
        }
        let mut c = self.catalog();
        c.set_central_state("last_pass", &now.to_rfc3339())?;
        c.set_central_state("last_pass_error", report.stopped_by.as_deref().unwrap_or(""))?;
        Ok(report)
    }

    /// Queues what is new; returns how many objects.
    fn enqueue(&self) -> Result<u64, ReplicateError> {
        let station = self.station().to_string();
        let mut n = 0;
        // Archived files, at every path they have.
        let files = self.catalog().central_unqueued_files()?;
        for (id, path, size, blake3, stored, source) in files {
            let kind = if source.starts_with("ZFY/CHAIN/") || source.contains("/CHAIN/") { "chain" } else { "footage" };
            let key = keys::file_key(&station, &path);
            let o = NewObject {
                key: &key,
                kind,
                local_path: &path,
                file_id: Some(id),
                size,
                blake3: &blake3,
                recorded: &stored,
            };
            n += u64::from(self.catalog().central_enqueue(&o)?);
        }
        // Dock seals and salvaged parts: known from the custody log.
        n += self.enqueue_from_log(&station)?;
        // The custody log: the verifier key, then each checkpoint with the events it added.
        n += self.enqueue_log(&station)?;
        Ok(n)
    }

    fn enqueue_from_log(&self, station: &str) -> Result<u64, ReplicateError> {
        let after: u64 = self.catalog().central_state("scan_seq")?.and_then(|s| s.parse().ok()).unwrap_or(0);
        let rows: Vec<(u64, String, String, String)> = {
            let c = self.catalog();
            let mut st = c
                .connection()
                .prepare(
                    "SELECT seq, action, details, ts_utc FROM custody_log WHERE seq > ?1
                     AND action IN ('session_verified', 'copy_failed') ORDER BY seq",
                )
                .map_err(|e| CatalogError::Sql { action: "reading the log for seals", source: e })?;
            let rows = st
                .query_map([after as i64], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?, r.get(3)?)))
                .and_then(|r| r.collect::<Result<Vec<_>, _>>())
                .map_err(|e| CatalogError::Sql { action: "reading the log for seals", source: e })?;
            rows
        };
        let mut n = 0;
        let mut last = after;
        for (seq, action, details, ts) in rows {
            let d: serde_json::Value = serde_json::from_str(&details).unwrap_or_default();
            let mut paths: Vec<(String, &str)> = Vec::new();
            if action == "session_verified" && d["provenance"] == "sealed_at_dock" {
                if let Some(p) = d["chain_file"].as_str() {
                    paths.push((p.to_string(), "seal"));
                }
            }
            if action == "copy_failed" {
                if let Some(p) = d["salvaged_to"].as_str() {
                    paths.push((p.to_string(), "salvaged"));
                    paths.push((format!("{p}.unreadable.txt"), "salvaged"));
                }
            }
            for (path, kind) in paths {
                let full = self.config.paths.archive_root.join(&path);
                let (size, hash) = match hash_file(&full) {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::warn!(path = %full.display(), error = %e, "a file the log names cannot be read for the central copy");
                        continue;
                    }
                };
                let key = keys::file_key(station, &path);
                let o =
                    NewObject { key: &key, kind, local_path: &path, file_id: None, size, blake3: &hash, recorded: &ts };
                n += u64::from(self.catalog().central_enqueue(&o)?);
            }
            last = seq;
        }
        if last > after {
            self.catalog().set_central_state("scan_seq", &last.to_string())?;
        }
        Ok(n)
    }

    fn enqueue_log(&self, station: &str) -> Result<u64, ReplicateError> {
        let mut n = 0;
        let vkey = crate::custody::files::KeyPaths::in_dir(&self.config.paths.state_dir);
        if let Ok(bytes) = std::fs::read(&vkey.verifier) {
            let key = keys::verifier_key(station);
            let hash = blake3::hash(&bytes).to_hex().to_string();
            let now = Utc::now().to_rfc3339();
            let o = NewObject {
                key: &key,
                kind: "verifier_key",
                local_path: "verifier",
                file_id: None,
                size: bytes.len() as u64,
                blake3: &hash,
                recorded: &now,
            };
            n += u64::from(self.catalog().central_enqueue(&o)?);
        }
        let done: u64 = self.catalog().central_state("log_checkpoint")?.and_then(|s| s.parse().ok()).unwrap_or(0);
        let cps = log::checkpoints(self.catalog().connection()).map_err(CatalogError::from)?;
        let mut prev_size = cps.iter().find(|c| c.id == done).map_or(0, |c| c.tree_size);
        for cp in cps.iter().filter(|c| c.id > done) {
            if cp.tree_size > prev_size {
                let body = self.events_body(prev_size + 1, cp.tree_size)?;
                let key = keys::events_key(station, prev_size + 1, cp.tree_size);
                let hash = blake3::hash(&body).to_hex().to_string();
                let local = format!("events:{}-{}", prev_size + 1, cp.tree_size);
                let o = NewObject {
                    key: &key,
                    kind: "log_events",
                    local_path: &local,
                    file_id: None,
                    size: body.len() as u64,
                    blake3: &hash,
                    recorded: &cp.made_utc,
                };
                n += u64::from(self.catalog().central_enqueue(&o)?);
            }
            let key = keys::checkpoint_key(station, cp.id);
            let hash = blake3::hash(cp.note.as_bytes()).to_hex().to_string();
            let local = format!("checkpoint:{}", cp.id);
            let o = NewObject {
                key: &key,
                kind: "checkpoint",
                local_path: &local,
                file_id: None,
                size: cp.note.len() as u64,
                blake3: &hash,
                recorded: &cp.made_utc,
            };
            n += u64::from(self.catalog().central_enqueue(&o)?);
            prev_size = prev_size.max(cp.tree_size);
            self.catalog().set_central_state("log_checkpoint", &cp.id.to_string())?;
        }
        Ok(n)
    }

    fn events_body(&self, from: u64, to: u64) -> Result<Vec<u8>, ReplicateError> {
        let mut out = Vec::new();
        let mut next = from;
        while next <= to {
            let batch = log::since(self.catalog().connection(), next - 1, 10_000.min((to - next + 1) as usize))
                .map_err(CatalogError::from)?;
            if batch.is_empty() {
                return Err(ReplicateError::Local(format!("the custody log has no event {next}: it was cut back")));
            }
            for ev in &batch {
                out.extend_from_slice(keys::event_line(ev).as_bytes());
            }
            next = batch.last().map_or(to + 1, |e| e.seq + 1);
        }
        Ok(out)
    }

    /// The last event that can move a deadline or a hold, and the number of confirmed objects:
    /// when neither changed, the locks on the store are where the last pass left them.
    fn lock_marker(&self) -> Result<String, ReplicateError> {
        let c = self.catalog();
        let seq: i64 = c
            .connection()
            .query_row(
                "SELECT COALESCE(max(seq), 0) FROM custody_log WHERE action IN ('hold_placed', 'hold_released',
                 'retention_flag_set', 'retention_flag_withdrawn', 'footage_assigned', 'purge_executed', 'central_confirmed')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| CatalogError::Sql { action: "reading the last retention event", source: e })?;
        Ok(seq.to_string())
    }

    /// Every archived file's wanted lock: its recording's deadline (the horizon for footage kept
    /// for ever) and whether a hold is active. At least a day from now: an object store takes
    /// no lock in the past.
    fn lock_plan(&self, now: DateTime<Utc>) -> Result<BTreeMap<i64, Want>, ReplicateError> {
        let rows = self.catalog().recordings()?;
        let mut plan: BTreeMap<i64, Want> = BTreeMap::new();
        let floor = now + TimeDelta::days(1);
        for r in rows {
            let until = crate::retention::deadline(&r.recording, &self.config.retention)
                .at()
                .unwrap_or_else(|| horizon(now))
                .min(horizon(now));
            let held = r.recording.holds.iter().any(crate::retention::Hold::is_active);
            for (fid, _) in r.files {
                let e = plan.entry(fid).or_insert((floor, false));
                e.0 = e.0.max(until);
                e.1 |= held;
            }
        }
        Ok(plan)
    }

    fn want(&self, item: &OutboxItem, plan: &BTreeMap<i64, Want>) -> Want {
        let now = Utc::now();
        match item.file_id.and_then(|f| plan.get(&f)) {
            Some(w) if item.kind == "footage" => *w,
            _ => (horizon(now), false),
        }
    }

    fn send_all(&self, items: Vec<OutboxItem>, plan: &BTreeMap<i64, Want>, report: &mut PassReport) {
        let queue = Mutex::new(items.into_iter().collect::<VecDeque<_>>());
        let halt = AtomicBool::new(false);
        let shared = Mutex::new(std::mem::take(report));
        std::thread::scope(|s| {
            for _ in 0..self.central.concurrency {
                s.spawn(|| loop {
                    if halt.load(Ordering::Relaxed) || self.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Some(item) = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop_front() else {
                        break;
                    };
                    let result = self.send_one(&item, plan);
                    let mut r = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    match result {
                        Ok(sent) => {
                            r.confirmed += 1;
                            r.bytes_sent += sent;
                        }
                        Err(Miss::Stopped) => break,
                        Err(Miss::Retry(why, global)) => {
                            r.failed += 1;
                            tracing::warn!(key = %item.key, error = %why, "central upload failed; it stays queued");
                            if let Err(e) = self.catalog().central_failed(item.id, &why, None) {
                                tracing::error!(error = %e, "cannot record a failed upload");
                            }
                            if global {
                                halt.store(true, Ordering::Relaxed);
                                if r.stopped_by.is_none() {
                                    r.stopped_by = Some(why);
                                }
                            }
                        }
                        Err(Miss::Block(state, why)) => {
                            r.blocked += 1;
                            tracing::error!(key = %item.key, error = %why, "ALARM: central object blocked ({state})");
                            if let Err(e) = self.catalog().central_failed(item.id, &why, Some(state)) {
                                tracing::error!(error = %e, "cannot record a blocked upload");
                            }
                        }
                    }
                });
            }
        });
        *report = shared.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    }

    fn body(&self, item: &OutboxItem) -> Result<Body, Miss> {
        if let Some(range) = item.local_path.strip_prefix("events:") {
            let (a, b) =
                range.split_once('-').ok_or_else(|| Miss::Block("local_mismatch", format!("bad range {range}")))?;
            let (a, b): (u64, u64) = (a.parse().unwrap_or(0), b.parse().unwrap_or(0));
            return self.events_body(a, b).map(Body::Bytes).map_err(|e| Miss::Block("local_mismatch", e.to_string()));
        }
        if let Some(id) = item.local_path.strip_prefix("checkpoint:") {
            let id: u64 = id.parse().unwrap_or(0);
            let cps = log::checkpoints(self.catalog().connection()).map_err(|e| Miss::Retry(e.to_string(), true))?;
            return cps
                .into_iter()
                .find(|c| c.id == id)
                .map(|c| Body::Bytes(c.note.into_bytes()))
                .ok_or_else(|| Miss::Block("local_mismatch", format!("checkpoint {id} is no longer in the log")));
        }
        if item.local_path == "verifier" {
            let p = crate::custody::files::KeyPaths::in_dir(&self.config.paths.state_dir).verifier;
            return std::fs::read(&p).map(Body::Bytes).map_err(|e| Miss::Retry(format!("{}: {e}", p.display()), false));
        }
        let path: PathBuf = self.config.paths.archive_root.join(&item.local_path);
        match std::fs::File::open(&path) {
            Ok(f) => Ok(Body::File(f)),
            Err(e) => Err(Miss::Retry(format!("{}: {e}", path.display()), false)),
        }
    }

    /// Sends one object and proves it; returns the bytes sent.
    fn send_one(&self, item: &OutboxItem, plan: &BTreeMap<i64, Want>) -> Result<u64, Miss> {
        let want = self.want(item, plan);
        let body = self.body(item)?;
        if let Some(head) = self.store.head(&item.key)? {
            let ours = head.meta.get("blake3") == Some(&item.blake3) && head.size == item.size;
            if !ours {
                return Err(Miss::Block(
                    "conflict",
                    format!(
                        "the store already holds other bytes at {} (size {}, blake3 {}); nothing overwritten",
                        item.key,
                        head.size,
                        head.meta.get("blake3").map_or("none", String::as_str)
                    ),
                ));
            }
            // Sent before (a pass cut short after the upload): prove it, send nothing.
            let etag = self.local_digests(item, &body)?;
            self.confirm(item, want, &etag)?;
            return Ok(0);
        }
        let opts = PutOptions {
            meta: vec![
                ("blake3".into(), item.blake3.clone()),
                ("size".into(), item.size.to_string()),
                ("station".into(), ascii(self.station())),
                ("kind".into(), item.kind.clone()),
            ],
            retain_until: want.0,
            legal_hold: want.1,
        };
        let etag = if item.size <= self.central.part_size {
            let mut buf = vec![0u8; item.size as usize];
            let n = body.read_at(&mut buf, 0).map_err(|e| Miss::Retry(e.to_string(), false))?;
            if n as u64 != item.size || blake3::hash(&buf).to_hex().as_str() != item.blake3 {
                return Err(Miss::Block(
                    "local_mismatch",
                    format!("{} no longer has the size and BLAKE3 the catalogue holds: not sent", item.local_path),
                ));
            }
            let expected = hex(&Md5::digest(&buf));
            let got = self.store.put(&item.key, &buf, &opts)?;
            if got != expected {
                return Err(Miss::Retry(
                    format!("the store's ETag {got} is not our MD5 {expected} for {}", item.key),
                    false,
                ));
            }
            expected
        } else {
            self.multipart(item, &body, &opts)?
        };
        crate::failpoint!("central.before-confirm");
        self.confirm(item, want, &etag)?;
        Ok(item.size)
    }

    /// The MD5-based ETag the store should report for these bytes, after checking their BLAKE3
    /// against the catalogue.
    fn local_digests(&self, item: &OutboxItem, body: &Body) -> Result<String, Miss> {
        let part = if item.size <= self.central.part_size { item.size.max(1) } else { self.central.part_size };
        let mut md5s = Vec::new();
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; part.min(item.size.max(1)) as usize];
        let mut offset = 0;
        while offset < item.size {
            let want = part.min(item.size - offset) as usize;
            let n = body.read_at(&mut buf[..want], offset).map_err(|e| Miss::Retry(e.to_string(), false))?;
            if n != want {
                return Err(Miss::Block("local_mismatch", format!("{} is shorter than catalogued", item.local_path)));
            }
            hasher.update(&buf[..n]);
            md5s.push(Md5::digest(&buf[..n]));
            offset += n as u64;
        }
        if hasher.finalize().to_hex().as_str() != item.blake3 {
            return Err(Miss::Block(
                "local_mismatch",
                format!("{} no longer has the BLAKE3 the catalogue holds", item.local_path),
            ));
        }
        let etag = if item.size <= self.central.part_size {
            md5s.first().map_or_else(|| hex(&Md5::digest(b"")), |m| hex(m))
        } else {
            let mut all = Md5::new();
            for m in &md5s {
                all.update(m);
            }
            format!("{}-{}", hex(&all.finalize()), md5s.len())
        };
        Ok(etag)
    }

    fn multipart(&self, item: &OutboxItem, body: &Body, opts: &PutOptions) -> Result<String, Miss> {
        let part = self.central.part_size;
        let count = item.size.div_ceil(part);
        // Resume an upload the store still holds, else start one (recorded before any part).
        let (upload_id, held) = match &item.upload_id {
            Some(u) => match self.store.list_parts(&item.key, u)? {
                Some(parts) => (u.clone(), parts),
                None => (self.start_upload(item, opts)?, Vec::new()),
            },
            None => (self.start_upload(item, opts)?, Vec::new()),
        };
        let held: BTreeMap<u32, (String, u64)> = held.into_iter().map(|(n, e, s)| (n, (e, s))).collect();
        let mut hasher = blake3::Hasher::new();
        let mut md5s = Vec::with_capacity(count as usize);
        let mut parts = Vec::with_capacity(count as usize);
        let mut buf = vec![0u8; part as usize];
        let mut sent_any = false;
        for n in 1..=count {
            if self.stop.load(Ordering::Relaxed) {
                return Err(Miss::Stopped);
            }
            let offset = (n - 1) * part;
            let len = part.min(item.size - offset) as usize;
            let got = body.read_at(&mut buf[..len], offset).map_err(|e| Miss::Retry(e.to_string(), false))?;
            if got != len {
                return Err(Miss::Block("local_mismatch", format!("{} is shorter than catalogued", item.local_path)));
            }
            let data = &buf[..len];
            hasher.update(data);
            let md5 = hex(&Md5::digest(data));
            let n = n as u32;
            let etag = match held.get(&n) {
                Some((e, s)) if *e == md5 && *s == len as u64 => e.clone(),
                _ => {
                    let e = self.store.upload_part(&item.key, &upload_id, n, data)?;
                    if e != md5 {
                        return Err(Miss::Retry(
                            format!("part {n} of {}: the store's ETag {e} is not our MD5 {md5}", item.key),
                            false,
                        ));
                    }
                    self.catalog().central_record_part(item.id, &upload_id, n, &e, len as u64)?;
                    if sent_any {
                        crate::failpoint!("central.mid-upload");
                    }
                    sent_any = true;
                    e
                }
            };
            md5s.push(Md5::digest(data));
            parts.push((n, etag));
        }
        if hasher.finalize().to_hex().as_str() != item.blake3 {
            let _ = self.store.abort_multipart(&item.key, &upload_id);
            let _ = self.catalog().central_set_upload(item.id, None);
            return Err(Miss::Block(
                "local_mismatch",
                format!("{} no longer has the BLAKE3 the catalogue holds: upload abandoned", item.local_path),
            ));
        }
        let got = match self.store.complete_multipart(&item.key, &upload_id, &parts) {
            Ok(got) => got,
            // A gateway killed while completing leaves the upload locked for minutes: start the
            // upload again under a new id (the old one is abandoned), once.
            Err(S3Error::Refused { message, .. })
                if message.contains("already in progress") && item.upload_id.is_some() =>
            {
                tracing::warn!(key = %item.key, "an interrupted completion holds the upload: starting it again");
                let _ = self.store.abort_multipart(&item.key, &upload_id);
                self.catalog().central_set_upload(item.id, None)?;
                let fresh = OutboxItem { upload_id: None, ..item.clone() };
                return self.multipart(&fresh, body, opts);
            }
            Err(e) => return Err(e.into()),
        };
        let mut all = Md5::new();
        for m in &md5s {
            all.update(m);
        }
        let expected = format!("{}-{}", hex(&all.finalize()), md5s.len());
        // The store's answer may omit the ETag; the proof reads it back with HEAD either way.
        if !got.is_empty() && got != expected {
            return Err(Miss::Retry(format!("the store's ETag {got} is not {expected} for {}", item.key), false));
        }
        Ok(expected)
    }

    fn start_upload(&self, item: &OutboxItem, opts: &PutOptions) -> Result<String, Miss> {
        let id = self.store.create_multipart(&item.key, opts)?;
        self.catalog().central_set_upload(item.id, Some(&id))?;
        Ok(id)
    }

    /// Proves an object: size, BLAKE3 metadata and ETag; the COMPLIANCE lock until at least what
    /// was asked; the legal hold; in read-back mode the bytes. Then logs `central_confirmed`.
    fn confirm(&self, item: &OutboxItem, want: Want, etag: &str) -> Result<(), Miss> {
        let head = self
            .store
            .head(&item.key)?
            .ok_or_else(|| Miss::Retry(format!("the store does not hold {} after the upload", item.key), false))?;
        if head.size != item.size || head.meta.get("blake3") != Some(&item.blake3) {
            return Err(Miss::Block(
                "conflict",
                format!("the store holds other bytes at {} after the upload", item.key),
            ));
        }
        if head.etag != etag {
            return Err(Miss::Block(
                "conflict",
                format!(
                    "the store's checksum of {} ({}) is not ours ({etag}): it holds other bytes",
                    item.key, head.etag
                ),
            ));
        }
        let mut lock = self.store.retention(&item.key)?;
        if lock.as_ref().is_none_or(|l| l.until + TimeDelta::seconds(1) < want.0) {
            // Found with a shorter lock (sent before a deadline moved): extend it, never shorten.
            self.store.put_retention(&item.key, want.0)?;
            lock = self.store.retention(&item.key)?;
        }
        let lock = lock.ok_or_else(|| Miss::Retry(format!("{} has no lock on the store", item.key), false))?;
        if lock.mode != "COMPLIANCE" || lock.until + TimeDelta::seconds(1) < want.0 {
            return Err(Miss::Retry(
                format!(
                    "{}: the store's lock is {} until {}, not COMPLIANCE until {}",
                    item.key,
                    lock.mode,
                    iso(lock.until),
                    iso(want.0)
                ),
                false,
            ));
        }
        let hold = self.store.legal_hold(&item.key)?;
        if hold != want.1 {
            // Follow the station's holds (a hold placed or released while it was sent).
            self.store.put_legal_hold(&item.key, want.1)?;
            if self.store.legal_hold(&item.key)? != want.1 {
                return Err(Miss::Retry(format!("{}: the store did not take the legal hold", item.key), false));
            }
        }
        let mut proof = "checksum";
        if self.central.confirm == Confirm::ReadBack {
            let mut h = blake3::Hasher::new();
            let n = self.store.get_into(&item.key, |b| {
                h.update(b);
            })?;
            if n != item.size || h.finalize().to_hex().as_str() != item.blake3 {
                return Err(Miss::Block(
                    "conflict",
                    format!("{} read back from the store differs from ours", item.key),
                ));
            }
            proof = "read-back";
        }
        self.catalog().central_confirm(
            item.id,
            etag,
            head.version_id.as_deref(),
            &iso(lock.until),
            want.1,
            json!({
                "key": item.key, "kind": item.kind, "size": item.size, "blake3": item.blake3, "etag": etag,
                "version_id": head.version_id, "retain_until": iso(lock.until), "legal_hold": want.1, "confirm": proof,
                "file": item.file_id,
            }),
        )?;
        if item.kind == "checkpoint" {
            if let (Some(id), Ok(Body::Bytes(note))) = (keys::checkpoint_id(&item.key), self.body(item)) {
                self.witness.set_central(id, String::from_utf8_lossy(&note).into_owned());
            }
        }
        Ok(())
    }

    /// Extends locks and sets or removes legal holds where the station's deadlines and holds
    /// moved; reads each change back. Never shortens (INV-11: the store would refuse anyway).
    fn follow_locks(&self, plan: &BTreeMap<i64, Want>) -> Result<u64, ReplicateError> {
        let items = self.catalog().central_confirmed_files()?;
        let mut changes = 0;
        for item in items.iter().filter(|i| i.kind == "footage") {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let want = self.want(item, plan);
            let current = item.lock_until.as_deref().and_then(parse_iso);
            let mut until = current;
            let mut did = Vec::new();
            if current.is_none_or(|c| want.0 > c + TimeDelta::seconds(1)) {
                self.store.put_retention(&item.key, want.0)?;
                let got = self.store.retention(&item.key)?;
                match got {
                    Some(l) if l.until + TimeDelta::seconds(1) >= want.0 => {
                        until = Some(l.until);
                        did.push("extended");
                    }
                    other => {
                        let detail = format!(
                            "asked to extend the lock of {} to {}, the store reports {:?}",
                            item.key,
                            iso(want.0),
                            other.map(|l| iso(l.until))
                        );
                        self.catalog().central_alarm(
                            &format!("central:{}", item.key),
                            json!({"what": "lock_mismatch", "detail": detail}),
                        )?;
                        continue;
                    }
                }
            }
            if want.1 != item.legal_hold {
                self.store.put_legal_hold(&item.key, want.1)?;
                if self.store.legal_hold(&item.key)? != want.1 {
                    let detail = format!("the store did not take the legal hold {} on {}", want.1, item.key);
                    self.catalog().central_alarm(
                        &format!("central:{}", item.key),
                        json!({"what": "lock_mismatch", "detail": detail}),
                    )?;
                    continue;
                }
                did.push(if want.1 { "hold_set" } else { "hold_removed" });
            }
            if !did.is_empty() {
                let until = until.map(iso).unwrap_or_default();
                self.catalog().central_lock_changed(
                    item.id,
                    &until,
                    want.1,
                    json!({ "key": item.key, "changes": did, "retain_until": until, "previous": item.lock_until,
                            "legal_hold": want.1, "file": item.file_id }),
                )?;
                changes += 1;
            }
        }
        Ok(changes)
    }
}

/// Metadata values must be ASCII: other characters are percent-encoded.
fn ascii(s: &str) -> String {
    super::sigv4::uri_encode(s, true)
}

/// Size and BLAKE3 of a file.
fn hash_file(path: &std::path::Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let r = f.read(&mut buf)?;
        if r == 0 {
            break;
        }
        h.update(&buf[..r]);
        n += r as u64;
    }
    Ok((n, h.finalize().to_hex().to_string()))
}

/// The replicator's thread in the daemon: a pass every `central.interval_s` (sooner when
/// `wake` is set), until `stop`. Returns the thread handle.
///
/// # Errors
/// When the thread cannot be started.
pub fn spawn(
    config: Arc<Config>,
    catalog: Arc<Mutex<Catalog>>,
    stop: Arc<AtomicBool>,
    witness: Arc<Witness>,
) -> std::io::Result<Option<std::thread::JoinHandle<()>>> {
    let Some(central) = config.central.clone() else { return Ok(None) };
    std::thread::Builder::new()
        .name("central".into())
        .spawn(move || {
            let store = match super::open_store(&central) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "ALARM: no central copy: the credentials cannot be read");
                    return;
                }
            };
            let r = Replicator { config: &config, central: &central, store, catalog: &catalog, stop: &stop, witness: &witness };
            // The store as witness, on start.
            witness.check_on_start(&r.store, &config, &catalog);
            // An eviction a stop cut short is finished (or forgotten) before anything else.
            if let Err(e) = super::offload::recover(&config, &catalog) {
                tracing::error!(error = %e, "ALARM: a begun eviction could not be finished / 中断的本地副本清除未能完成");
            }
            while !stop.load(Ordering::Relaxed) {
                match r.pass() {
                    Ok(p) => {
                        if p.confirmed + p.queued + p.lock_changes > 0 || p.stopped_by.is_some() {
                            tracing::info!(
                                queued = p.queued, confirmed = p.confirmed, bytes = p.bytes_sent,
                                lock_changes = p.lock_changes, failed = p.failed, blocked = p.blocked,
                                stopped_by = p.stopped_by.as_deref().unwrap_or(""), "central replication pass"
                            );
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "central replication pass failed; ingest goes on, the backlog waits");
                        let mut c = catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        let _ = c.set_central_state("last_pass", &Utc::now().to_rfc3339());
                        let _ = c.set_central_state("last_pass_error", &e.to_string());
                    }
                }
                super::backlog_alarm(&config, &catalog);
                if central.evict.enabled() && !stop.load(Ordering::Relaxed) {
                    match super::offload::run(&config, &r.store, &catalog, false, Utc::now()) {
                        Ok(e) if e.evicted + e.recovered > 0 || !e.refused.is_empty() => tracing::info!(
                            evicted = e.evicted, bytes = e.evicted_bytes, refused = e.refused.len(), recovered = e.recovered,
                            "local copies evicted / 已清除本地副本"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "eviction failed; every local copy stays / 清除失败，本地副本保留"),
                    }
                }
                let until = std::time::Instant::now() + std::time::Duration::from_secs(central.interval_s);
                while std::time::Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
            }
        })
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_horizon_fits_the_stores_32_bit_seconds() {
        let a = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        assert!(horizon(a).timestamp() < i64::from(u32::MAX));
        assert_eq!(horizon(a), Utc.with_ymd_and_hms(2106, 1, 1, 0, 0, 0).unwrap());
    }
}
