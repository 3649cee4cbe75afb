//! Eviction and recall of local copies at the edge (INV-20; issue 16 part 3; R1, R7, R11).
//!
//! Owns: the order of an eviction. The rules ([`super::evict::choose`]) name the files; each is
//! then proved again against what the station trusts, never the catalogue alone (INV-16): the
//! verified custody log gives the file's hash and its `central_confirmed` event (key, object
//! version, size, ETag); the store's HEAD of that version must show the same size, BLAKE3
//! metadata and ETag, its COMPLIANCE lock must run at least to the recording's deadline and
//! its legal hold must be what the log last said. Only then is a row `evicting` written, every
//! local name removed (its folder fsynced), and the row made `evicted` in one transaction
//! with `footage_evicted`. A stop between the removal and that transaction is finished at
//! the next start ([`recover`]); a begun eviction whose names all remain is forgotten.
//! Recall reads exactly the logged version back into a temporary file, checks its size and
//! BLAKE3 against the log before it takes its name, and logs `footage_recalled`.
//! Must never: remove a local name before the proof, evict what the rules keep, or give a
//! recalled file its name before its bytes match the log.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::OptionalExtension;
use serde_json::{json, Value};

use crate::archive::fsio;
use crate::catalog::{Catalog, CatalogError, Eviction};
use crate::config::Config;

use super::evict::{self, Candidate, Choice, Disk, Why};
use super::s3::{iso, S3Error, Store};

/// Why eviction or recall could not go on.
#[derive(Debug, thiserror::Error)]
pub enum OffloadError {
    /// The store could not be asked.
    #[error(transparent)]
    Store(#[from] S3Error),
    /// The catalogue failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The custody log does not verify: nothing is evicted on its word.
    #[error("the custody log does not verify, nothing is evicted or recalled on its word: {0} / 保管日志校验失败，不清除也不取回")]
    Log(String),
    /// A local file or folder could not be changed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// What was asked names nothing evicted.
    #[error("{0}")]
    Nothing(String),
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> OffloadError + 'a {
    move |source| OffloadError::Io { action, path: path.display().to_string(), source }
}

/// One archived footage file with everything the rules and the proof need.
#[derive(Debug, Clone)]
pub struct Target {
    /// What the rules see.
    pub candidate: Candidate,
    /// The file's own path (archive-relative).
    pub archive_path: String,
    /// Every local name: its own path, then its case folders' names.
    pub paths: Vec<String>,
    /// The object key of its own path.
    pub key: String,
    /// Its recording's deadline; `None`: kept for ever.
    pub deadline: Option<DateTime<Utc>>,
}

/// What an eviction run did.
#[derive(Debug, Clone, Default)]
pub struct EvictReport {
    /// Files the rules chose.
    pub chosen: Vec<(i64, String, u64, &'static str)>,
    /// Files evicted (none in a dry run).
    pub evicted: u64,
    /// Their bytes.
    pub evicted_bytes: u64,
    /// Files whose proof failed: (path, why); each raised an alarm.
    pub refused: Vec<(String, String)>,
    /// Evictions begun before a stop and finished now.
    pub recovered: u64,
    /// The disk's numbers used (total, used), when the disk rule is on.
    pub disk: Option<(u64, u64)>,
}

/// The archive disk's numbers: `statvfs` of the archive root, or, where the build has
/// failpoints, `EVIDOCK_FAILPOINT_ARCHIVE_DISK=TOTAL:USED` (bytes) so tests can set a fullness.
///
/// # Errors
/// When `statvfs` fails.
pub fn archive_disk(root: &Path) -> std::io::Result<Disk> {
    #[cfg(feature = "failpoints")]
    if let Ok(v) = std::env::var("EVIDOCK_FAILPOINT_ARCHIVE_DISK") {
        if let Some((t, u)) = v.split_once(':') {
            if let (Ok(total), Ok(used)) = (t.parse(), u.parse()) {
                return Ok(Disk { total, used });
            }
        }
    }
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(root.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `s` a valid out-pointer for the call.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let frsize = s.f_frsize as u64;
    let total = s.f_blocks as u64 * frsize;
    let used = total.saturating_sub(s.f_bfree as u64 * frsize);
    Ok(Disk { total, used })
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// Every archived footage file not evicted, as the rules and the proof see it.
///
/// # Errors
/// When the catalogue cannot be read.
pub fn targets(config: &Config, catalog: &Catalog, now: DateTime<Utc>) -> Result<Vec<Target>, OffloadError> {
    let sql = |action| move |source| CatalogError::Sql { action, source };
    let conn = catalog.connection();
    let mut st = conn
        .prepare(
            "SELECT f.id, f.archive_path, f.size, f.stored, c.key, c.state, c.confirmed FROM files f
             JOIN central_objects c ON c.file_id = f.id AND c.local_path = f.archive_path AND c.kind = 'footage'
             WHERE f.purged IS NULL AND NOT EXISTS (SELECT 1 FROM central_evictions e WHERE e.file_id = f.id)
             ORDER BY f.stored, f.id",
        )
        .map_err(sql("listing footage to evict"))?;
    type Row = (i64, String, i64, String, String, String, Option<String>);
    let rows: Vec<Row> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))
        .and_then(|r| r.collect::<Result<Vec<_>, _>>())
        .map_err(sql("listing footage to evict"))?;
    let mut case_paths: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    {
        let mut st =
            conn.prepare("SELECT file_id, path FROM case_files ORDER BY id").map_err(sql("reading case names"))?;
        let all = st
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .and_then(|r| r.collect::<Result<Vec<_>, _>>())
            .map_err(sql("reading case names"))?;
        for (id, p) in all {
            case_paths.entry(id).or_default().push(p);
        }
    }
    // Per file: its recording's hold, class, deadline, open access requests.
    struct Rec {
        held: bool,
        long_term: bool,
        deadline: Option<DateTime<Utc>>,
        in_access: bool,
    }
    let accesses = catalog.accesses(None)?;
    let open: Vec<&crate::access::AccessRequest> = accesses
        .iter()
        .filter(|a| match &a.state {
            crate::access::State::Pending => true,
            crate::access::State::Approved { until, .. } => *until > now,
            _ => false,
        })
        .collect();
    let mut recs: BTreeMap<i64, Rec> = BTreeMap::new();
    for r in catalog.recordings()? {
        let rec = &r.recording;
        let in_access = open.iter().any(|a| match &a.scope {
            crate::access::Scope::Case(c) => rec.cases.iter().any(|x| x == c),
            crate::access::Scope::Recordings(ids) => ids.contains(&rec.id),
        });
        let info = Rec {
            held: rec.holds.iter().any(crate::retention::Hold::is_active),
            long_term: crate::retention::class(rec, &config.retention) == crate::retention::Class::LongTerm,
            deadline: crate::retention::deadline(rec, &config.retention).at(),
            in_access,
        };
        for (fid, _) in &r.files {
            let e = recs.entry(*fid).or_insert(Rec {
                held: false,
                long_term: false,
                deadline: info.deadline,
                in_access: false,
            });
            e.held |= info.held;
            e.long_term |= info.long_term;
            e.in_access |= info.in_access;
            e.deadline = match (e.deadline, info.deadline) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
    }
    let discs = catalog.verified_copies()?;
    let mut out = Vec::new();
    for (id, path, size, stored, key, state, confirmed) in rows {
        let rec = recs.get(&id);
        let mut paths = vec![path.clone()];
        paths.extend(case_paths.remove(&id).unwrap_or_default().into_iter().filter(|p| *p != path));
        out.push(Target {
            candidate: Candidate {
                file_id: id,
                size: size as u64,
                archived: parse_time(&stored).unwrap_or(now),
                confirmed: (state == "confirmed").then(|| confirmed.as_deref().and_then(parse_time).unwrap_or(now)),
                // A file no recording names is kept (nothing tells its hold).
                held: rec.is_none_or(|r| r.held),
                in_access: rec.is_some_and(|r| r.in_access),
                long_term: rec.is_some_and(|r| r.long_term),
                verified_discs: discs.get(&id).copied().unwrap_or(0),
            },
            archive_path: path,
            paths,
            key,
            deadline: rec.and_then(|r| r.deadline),
        });
    }
    Ok(out)
}

/// What the custody log says of a file's central copy.
struct Logged {
    blake3: String,
    size: u64,
    confirmed_seq: u64,
    version_id: String,
    etag: String,
    legal_hold: bool,
}

fn lock<'a>(catalog: &'a Mutex<Catalog>) -> std::sync::MutexGuard<'a, Catalog> {
    catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The log's word on file `id` at `key`; `Err(why)` when it cannot vouch for the copy.
fn logged(
    ledger: &crate::ledger::Ledger,
    conn: &rusqlite::Connection,
    id: i64,
    key: &str,
) -> Result<Result<Logged, String>, OffloadError> {
    let Some(file) = ledger.file(id).filter(|f| !f.purged) else {
        return Ok(Err(format!("the custody log names no archived file {id}")));
    };
    let subject = format!("central:{key}");
    let sql = |action| move |source| CatalogError::Sql { action, source };
    let confirmed: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, details FROM custody_log WHERE action = 'central_confirmed' AND subject = ?1 ORDER BY seq DESC LIMIT 1",
            [&subject],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sql("reading central_confirmed"))?;
    let Some((seq, details)) = confirmed else {
        return Ok(Err(format!("the custody log has no central_confirmed event for {key}")));
    };
    let d: Value = serde_json::from_str(&details).unwrap_or_default();
    let hold: Option<String> = conn
        .query_row(
            "SELECT details FROM custody_log WHERE action IN ('central_confirmed', 'central_lock_changed') AND subject = ?1
             ORDER BY seq DESC LIMIT 1",
            [&subject],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("reading the logged legal hold"))?;
    let hold: Value = hold.and_then(|h| serde_json::from_str(&h).ok()).unwrap_or_default();
    if d["blake3"].as_str() != Some(file.blake3.as_str()) || d["size"].as_u64() != Some(file.size) {
        return Ok(Err(format!(
            "the central copy the log confirmed at {key} (blake3 {}, size {}) is not the file the log archived (blake3 {}, size {})",
            d["blake3"], d["size"], file.blake3, file.size
        )));
    }
    let Some(version_id) = d["version_id"].as_str().filter(|v| !v.is_empty()) else {
        return Ok(Err(format!("the log's central_confirmed for {key} names no object version")));
    };
    Ok(Ok(Logged {
        blake3: file.blake3.clone(),
        size: file.size,
        confirmed_seq: seq as u64,
        version_id: version_id.to_string(),
        etag: d["etag"].as_str().unwrap_or("").to_string(),
        legal_hold: hold["legal_hold"].as_bool().unwrap_or(false),
    }))
}

/// The store's word on the logged version; `Err(why)` on any disagreement.
fn proved_on_store(
    store: &Store,
    t: &Target,
    l: &Logged,
    now: DateTime<Utc>,
) -> Result<Result<String, String>, S3Error> {
    let Some(head) = store.head_version(&t.key, &l.version_id)? else {
        return Ok(Err(format!("the store no longer holds version {} of {}", l.version_id, t.key)));
    };
    if head.size != l.size || head.meta.get("blake3") != Some(&l.blake3) || head.etag != l.etag {
        return Ok(Err(format!(
            "version {} of {} is not what the log confirmed: size {} (logged {}), blake3 {} (logged {}), ETag {} (logged {})",
            l.version_id,
            t.key,
            head.size,
            l.size,
            head.meta.get("blake3").map_or("none", String::as_str),
            l.blake3,
            head.etag,
            l.etag
        )));
    }
    if head.version_id.as_deref().is_some_and(|v| v != l.version_id) {
        return Ok(Err(format!("the store answered version {:?} for {}", head.version_id, l.version_id)));
    }
    let need = t.deadline.unwrap_or_else(|| super::replicate::horizon(now)).min(super::replicate::horizon(now));
    let Some(lock) = store.retention_version(&t.key, &l.version_id)? else {
        return Ok(Err(format!("version {} of {} has no lock on the store", l.version_id, t.key)));
    };
    if lock.mode != "COMPLIANCE" || lock.until + TimeDelta::seconds(1) < need {
        return Ok(Err(format!(
            "version {} of {} is locked {} until {}, not COMPLIANCE until the deadline {}",
            l.version_id,
            t.key,
            lock.mode,
            iso(lock.until),
            iso(need)
        )));
    }
    let hold = store.legal_hold_version(&t.key, &l.version_id)?;
    if hold != l.legal_hold {
        return Ok(Err(format!("the legal hold of {} on the store is {hold}, the log says {}", t.key, l.legal_hold)));
    }
    Ok(Ok(iso(lock.until)))
}

/// Removes a name, clearing the immutable flag first where it is set; fsyncs its folder.
fn remove(config: &Config, rel: &str) -> Result<(), OffloadError> {
    let path = config.paths.archive_root.join(rel);
    if config.ingest.immutable && path.exists() {
        let _ = fsio::set_immutable_flag(&path, false);
    }
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(OffloadError::Io { action: "removing", path: path.display().to_string(), source: e }),
    }
    if let Some(dir) = path.parent() {
        fsio::fsync_dir(dir).map_err(io("syncing", dir))?;
    }
    Ok(())
}

/// Finishes evictions a stop interrupted: a begun eviction with a name already gone is
/// completed (its other names removed, `footage_evicted` with `recovered`); one whose names
/// all remain is forgotten. Returns how many were finished.
///
/// # Errors
/// When the catalogue or a name cannot be changed.
pub fn recover(config: &Config, catalog: &Mutex<Catalog>) -> Result<u64, OffloadError> {
    let begun: Vec<Eviction> = lock(catalog).evictions()?.into_iter().filter(|e| e.state == "evicting").collect();
    let mut n = 0;
    for e in begun {
        let gone = e.paths.iter().any(|p| !config.paths.archive_root.join(p).exists());
        if !gone {
            lock(catalog).eviction_abandon(e.file_id)?;
            continue;
        }
        for p in &e.paths {
            remove(config, p)?;
        }
        let mut details = e.details.clone();
        details["recovered"] = json!(true);
        let subject = format!("file:{}", e.paths.first().map_or("", String::as_str));
        lock(catalog).eviction_done(e.file_id, &subject, details)?;
        tracing::warn!(file = e.file_id, "an eviction cut short by a stop was finished / 已完成中断的本地副本清除");
        n += 1;
    }
    Ok(n)
}

/// One eviction run: recovers a begun one, chooses by the rules, proves each choice against
/// the log and the store, and (unless `dry_run`) removes the local names. `force` evicts
/// every file the rules allow, whatever the thresholds (`replicate evict` with no key set is
/// refused by the caller).
///
/// # Errors
/// When the log does not verify, or the catalogue, the store or a name fails.
pub fn run(
    config: &Config,
    store: &Store,
    catalog: &Mutex<Catalog>,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<EvictReport, OffloadError> {
    let Some(central) = &config.central else { return Ok(EvictReport::default()) };
    let mut report = EvictReport::default();
    if !dry_run {
        report.recovered = recover(config, catalog)?;
    }
    let policy = central.evict;
    if !policy.enabled() {
        return Ok(report);
    }
    let targets = targets(config, &lock(catalog), now)?;
    let disk = match policy.at_disk_percent {
        Some(_) => Some(archive_disk(&config.paths.archive_root).map_err(io("measuring", &config.paths.archive_root))?),
        None => None,
    };
    report.disk = disk.map(|d| (d.total, d.used));
    let candidates: Vec<Candidate> = targets.iter().map(|t| t.candidate.clone()).collect();
    let chosen: Vec<Choice> = evict::choose(&candidates, &policy, disk, now);
    if chosen.is_empty() {
        return Ok(report);
    }
    let by_id: BTreeMap<i64, &Target> = targets.iter().map(|t| (t.candidate.file_id, t)).collect();
    let verified = {
        let c = lock(catalog);
        crate::ledger::load(c.connection(), &config.paths.state_dir).map_err(|e| OffloadError::Log(e.to_string()))?
    };
    if let Some((en, _)) = verified.problem() {
        return Err(OffloadError::Log(en));
    }
    for ch in chosen {
        let Some(t) = by_id.get(&ch.file_id) else { continue };
        report.chosen.push((t.candidate.file_id, t.archive_path.clone(), t.candidate.size, ch.why.as_str()));
        let proof = {
            let c = lock(catalog);
            logged(&verified.ledger, c.connection(), t.candidate.file_id, &t.key)?
        };
        let proof = match proof {
            Ok(l) => proved_on_store(store, t, &l, now)?.map(|until| (l, until)),
            Err(why) => Err(why),
        };
        let (l, until) = match proof {
            Ok(p) => p,
            Err(why) => {
                tracing::error!(path = %t.archive_path, "ALARM: local copy kept, the central copy is not proven: {why}");
                lock(catalog).central_alarm(
                    &format!("central:{}", t.key),
                    json!({ "what": "eviction_refused", "file": t.candidate.file_id, "path": t.archive_path, "detail": why }),
                )?;
                report.refused.push((t.archive_path.clone(), why));
                continue;
            }
        };
        if dry_run {
            continue;
        }
        evict_one(config, catalog, t, &l, &until, ch.why)?;
        report.evicted += 1;
        report.evicted_bytes += t.candidate.size;
    }
    Ok(report)
}

fn evict_one(
    config: &Config,
    catalog: &Mutex<Catalog>,
    t: &Target,
    l: &Logged,
    until: &str,
    why: Why,
) -> Result<(), OffloadError> {
    let details = json!({
        "file": t.candidate.file_id, "key": t.key, "version_id": l.version_id, "size": l.size, "blake3": l.blake3,
        "etag": l.etag, "retain_until": until, "legal_hold": l.legal_hold, "confirmed_seq": l.confirmed_seq,
        "paths": t.paths, "rule": why.as_str(), "recovered": false,
    });
    let e = Eviction {
        file_id: t.candidate.file_id,
        key: t.key.clone(),
        version_id: l.version_id.clone(),
        size: l.size,
        blake3: l.blake3.clone(),
        paths: t.paths.clone(),
        state: "evicting".into(),
        details: details.clone(),
    };
    lock(catalog).eviction_begin(&e)?;
    for p in &t.paths {
        remove(config, p)?;
    }
    crate::failpoint!("evict.after-unlink");
    lock(catalog).eviction_done(t.candidate.file_id, &format!("file:{}", t.archive_path), details)?;
    Ok(())
}

/// The evicted files `what` names: an archive path (relative or under the archive root) of an
/// evicted file, or a case number (its evicted files).
///
/// # Errors
/// When it names nothing evicted, or the catalogue cannot be read.
pub fn resolve(config: &Config, catalog: &Catalog, what: &str) -> Result<Vec<Eviction>, OffloadError> {
    let all: Vec<Eviction> = catalog.evictions()?.into_iter().filter(|e| e.state == "evicted").collect();
    let rel = Path::new(what)
        .strip_prefix(&config.paths.archive_root)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| what.to_string());
    let by_path: Vec<Eviction> = all.iter().filter(|e| e.paths.contains(&rel)).cloned().collect();
    if !by_path.is_empty() {
        return Ok(by_path);
    }
    if let Ok(case) = catalog.case(what) {
        let ids: BTreeSet<i64> = case.files.iter().map(|(id, _, _)| *id).collect();
        return Ok(all.into_iter().filter(|e| ids.contains(&e.file_id)).collect());
    }
    Err(OffloadError::Nothing(format!(
        "{what}: neither an evicted file nor a case / 既不是已清除本地副本的文件，也不是案件"
    )))
}

/// Brings evicted files back from their logged object versions: each read into a temporary
/// file beside its name, its size and BLAKE3 checked against the custody log, fsynced, given
/// its name (and its case names as hard links), then `footage_recalled`. Returns the details
/// of each recall.
///
/// # Errors
/// When the log does not verify, the store or a name fails, or the bytes differ from the log
/// (nothing takes a name then; an alarm is raised).
pub fn recall(
    config: &Config,
    store: &Store,
    catalog: &Mutex<Catalog>,
    files: &[Eviction],
) -> Result<Vec<Value>, OffloadError> {
    recover(config, catalog)?;
    let verified = {
        let c = lock(catalog);
        crate::ledger::load(c.connection(), &config.paths.state_dir).map_err(|e| OffloadError::Log(e.to_string()))?
    };
    if let Some((en, _)) = verified.problem() {
        return Err(OffloadError::Log(en));
    }
    let root = &config.paths.archive_root;
    let mut out = Vec::new();
    for e in files {
        let Some(first) = e.paths.first() else { continue };
        let (want_hash, want_size) = match verified.ledger.file(e.file_id) {
            Some(f) if f.purged => {
                return Err(OffloadError::Nothing(format!(
                    "{first} was purged after its deadline: nothing to recall / 该录像已按期删除，无需取回"
                )))
            }
            Some(f) => (f.blake3.clone(), f.size),
            None => {
                return Err(OffloadError::Log(format!(
                    "the custody log names no archived file {} ({first})",
                    e.file_id
                )))
            }
        };
        let rel = Path::new(first);
        let dir = fsio::create_dirs(root, rel.parent().unwrap_or(Path::new(""))).map_err(io("creating", root))?;
        let name = rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut staged = fsio::Staged::new(&dir, &name).map_err(io("creating a temporary file in", &dir))?;
        let mut h = blake3::Hasher::new();
        let mut failed: Option<std::io::Error> = None;
        let n = store.get_version_into(&e.key, &e.version_id, |b| {
            h.update(b);
            if failed.is_none() {
                if let Err(err) = staged.file().write_all(b) {
                    failed = Some(err);
                }
            }
        })?;
        if let Some(err) = failed {
            return Err(OffloadError::Io { action: "writing", path: staged.path().display().to_string(), source: err });
        }
        let got = h.finalize().to_hex().to_string();
        if n != want_size || got != want_hash {
            let why = format!(
                "version {} of {} read back {n} bytes with BLAKE3 {got}; the custody log says {want_size} bytes, {want_hash}: not restored",
                e.version_id, e.key
            );
            lock(catalog).central_alarm(
                &format!("central:{}", e.key),
                json!({ "what": "recall_mismatch", "file": e.file_id, "detail": why }),
            )?;
            return Err(OffloadError::Nothing(format!("{why} / 取回的数据与保管日志不符，未恢复")));
        }
        staged.sync().map_err(io("syncing", &dir))?;
        let final_path = match staged.commit(&name) {
            Ok(p) => p,
            Err((_, err)) if err.kind() == std::io::ErrorKind::AlreadyExists => dir.join(&name),
            Err((_, err)) => return Err(OffloadError::Io { action: "naming", path: first.clone(), source: err }),
        };
        fsio::seal_read_only(&final_path).map_err(io("sealing", &final_path))?;
        for p in e.paths.iter().skip(1) {
            let to = root.join(p);
            if to.exists() {
                continue;
            }
            let d =
                fsio::create_dirs(root, Path::new(p).parent().unwrap_or(Path::new(""))).map_err(io("creating", &to))?;
            std::fs::hard_link(&final_path, &to).map_err(io("linking", &to))?;
            fsio::fsync_dir(&d).map_err(io("syncing", &d))?;
        }
        if config.ingest.immutable {
            let _ = fsio::set_immutable(&final_path);
        }
        let details = json!({
            "file": e.file_id, "key": e.key, "version_id": e.version_id, "size": n, "blake3": got, "paths": e.paths,
        });
        lock(catalog).eviction_recalled(e.file_id, &format!("file:{first}"), details.clone())?;
        out.push(details);
    }
    Ok(out)
}

/// What `archive scrub` says of an evicted name: checked against the store instead of the
/// disk (the logged version's size and BLAKE3 metadata, and its lock not yet lapsed).
#[derive(Debug, Clone)]
pub struct EvictedCheck {
    store: Option<Store>,
    by_path: BTreeMap<String, Eviction>,
}

impl EvictedCheck {
    /// The evicted names of `catalog`, with the store of `[central]` (none: each evicted name
    /// is reported as not checkable).
    ///
    /// # Errors
    /// When the catalogue cannot be read.
    pub fn new(config: &Config, catalog: &Catalog) -> Result<EvictedCheck, CatalogError> {
        let mut by_path = BTreeMap::new();
        for e in catalog.evictions()?.into_iter().filter(|e| e.state == "evicted") {
            for p in &e.paths {
                by_path.insert(p.clone(), e.clone());
            }
        }
        let store =
            if by_path.is_empty() { None } else { config.central.as_ref().and_then(|c| super::open_store(c).ok()) };
        Ok(EvictedCheck { store, by_path })
    }

    /// Whether any name is evicted.
    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    /// `None` when `path` is not evicted; else the store's (size, BLAKE3) of the logged
    /// version, or why it could not be read.
    pub fn check(&self, path: &str) -> Option<Result<(u64, String), String>> {
        let e = self.by_path.get(path)?;
        let Some(store) = &self.store else {
            return Some(Err(format!("{path} is evicted to the central store and [central] cannot be reached")));
        };
        Some(match store.head_version(&e.key, &e.version_id) {
            Ok(Some(h)) => match (store.retention_version(&e.key, &e.version_id), h.meta.get("blake3")) {
                (Ok(Some(l)), Some(b)) if l.until > Utc::now() => Ok((h.size, b.clone())),
                (Ok(l), _) => Err(format!(
                    "{path}: version {} of {} has no BLAKE3 or its lock lapsed ({:?})",
                    e.version_id,
                    e.key,
                    l.map(|l| iso(l.until))
                )),
                (Err(err), _) => Err(format!("{path}: the store: {err}")),
            },
            Ok(None) => Err(format!("{path}: the store no longer holds version {} of {}", e.version_id, e.key)),
            Err(err) => Err(format!("{path}: the store: {err}")),
        })
    }
}

/// Refusal of a command that needs the local bytes of evicted files (export, burn staging,
/// case assignment), naming them and the recall command.
///
/// # Errors
/// The bilingual message when any of `paths` (archive-relative) is evicted.
pub fn refuse_evicted<'a>(catalog: &Catalog, paths: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    let evictions = catalog.evictions().unwrap_or_default();
    if evictions.is_empty() {
        return Ok(());
    }
    let gone: BTreeSet<&str> = evictions.iter().flat_map(|e| e.paths.iter().map(String::as_str)).collect();
    let hit: BTreeSet<&str> = paths.into_iter().filter(|p| gone.contains(p)).collect();
    if hit.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = hit.iter().copied().take(5).collect();
    Err(format!(
        "{} file(s) live only in the central store now ({}{}): bring them back first with `evidock replicate recall FILE|CASE` / \
         {} 个文件的本地副本已清除，仅存于中心存储，请先执行 evidock replicate recall 取回",
        hit.len(),
        names.join(", "),
        if hit.len() > names.len() { ", ..." } else { "" },
        hit.len()
    ))
}
