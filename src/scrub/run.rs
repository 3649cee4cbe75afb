//! One run of the archive scrub: reads archive files at the configured pace (dropping their
//! cached pages, so the station's other work keeps its cache), judges each name against the
//! custody log and the catalogue against the log, and records the pass's place and findings
//! through the catalogue after every batch.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{summary, targets, totals, Pace, RunStats};
use crate::archive::fsio;
use crate::catalog::{AlarmKind, Catalog, CatalogError, CheckedName, PassDelta, ScrubPass};
use crate::custody::event::Action;
use crate::ledger::{catalogue_check, fixity, Fixity, Ledger};

/// For a name evicted to the central store: the store's (size, BLAKE3) of its logged
/// version, or why it could not be read; `None` for a name on the disk.
pub type CentralCheck<'a> = dyn Fn(&str) -> Option<Result<(u64, String), String>> + 'a;

/// How a run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Bytes per second at most (0: unpaced).
    pub rate: u64,
    /// Seconds the run may take before it stops and keeps its place (0: until the pass ends).
    pub max_seconds: u64,
    /// Close the pass in progress and begin a new one.
    pub restart: bool,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The pass, as it stands after the run.
    pub pass: ScrubPass,
    /// Whether the pass is complete.
    pub complete: bool,
    /// This run's counts.
    pub run: RunStats,
    /// This run's findings: (name, what was found).
    pub findings: Vec<(String, Fixity)>,
    /// The summary for people.
    pub text: String,
}

/// Commit the pass's place at least this often.
const BATCH_TIME: Duration = Duration::from_secs(2);
/// … or after this many names.
const BATCH_NAMES: usize = 256;
const CHUNK: usize = 1 << 20;

enum Read_ {
    Done(String, u64),
    Stopped,
}

/// Reads `path` through BLAKE3 at the pace, returning its hash and size, or `Stopped` when
/// `stop` is set or `until` passes mid-file.
fn hash_paced(
    path: &Path,
    pace: Pace,
    started: Instant,
    read_so_far: &mut u64,
    stop: &AtomicBool,
    until: Option<Instant>,
) -> std::io::Result<Read_> {
    let mut f = File::options().read(true).custom_flags(libc::O_NOFOLLOW).open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; CHUNK];
    let (mut size, mut dropped) = (0u64, 0u64);
    loop {
        if stop.load(Ordering::Relaxed) || until.is_some_and(|u| Instant::now() >= u) {
            fsio::drop_cache_range(&f, 0, 0);
            return Ok(Read_::Stopped);
        }
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
        *read_so_far += n as u64;
        if size - dropped >= 8 * CHUNK as u64 {
            fsio::drop_cache_range(&f, dropped, size - dropped);
            dropped = size;
        }
        let wait = pace.delay(*read_so_far, started.elapsed());
        if !wait.is_zero() {
            std::thread::sleep(wait.min(Duration::from_millis(250)));
            // Long waits are cut into slices so a stop is heard quickly.
            while !pace.delay(*read_so_far, started.elapsed()).is_zero() && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(pace.delay(*read_so_far, started.elapsed()).min(Duration::from_millis(250)));
            }
        }
    }
    fsio::drop_cache_range(&f, 0, 0);
    Ok(Read_::Done(h.finalize().to_hex().to_string(), size))
}

struct Batch {
    names: Vec<CheckedName>,
    delta: PassDelta,
    since: Instant,
}

impl Batch {
    fn new(cursor: u64) -> Batch {
        Batch { names: Vec::new(), delta: PassDelta { cursor, ..PassDelta::default() }, since: Instant::now() }
    }

    fn flush(&mut self, catalog: &mut Catalog, pass: i64) -> Result<(), CatalogError> {
        let elapsed = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.delta.busy_ms = elapsed;
        catalog.scrub_progress(pass, &self.delta, &self.names)?;
        *self = Batch::new(self.delta.cursor);
        Ok(())
    }
}

/// Runs the scrub: resumes the pass in progress (or begins one), checks every name the
/// custody log gives an archived file from where the pass stood, and stops when the pass is
/// complete, `stop` is set, or the time budget is spent. Findings raise their alarms (with
/// their custody events) as they are found; names that match again clear theirs. The run ends
/// with `archive_scrubbed`. A name evicted to the central store (INV-20) is checked against
/// the store instead of the disk: `evicted` gives, for such a name, the store's size and
/// BLAKE3 of the logged object version (or why it could not be read), `None` for a name on
/// the disk.
///
/// # Errors
/// When the catalogue cannot be written. A file that cannot be read is a finding.
pub fn run(
    catalog: &mut Catalog,
    archive_root: &Path,
    ledger: &Ledger,
    opts: &Options,
    stop: &AtomicBool,
    evicted: &CentralCheck<'_>,
) -> Result<Outcome, CatalogError> {
    let started = Instant::now();
    let started_utc = chrono::Utc::now().to_rfc3339();
    let until = (opts.max_seconds > 0).then(|| started + Duration::from_secs(opts.max_seconds));
    let pace = Pace { rate: opts.rate };
    let (files_total, bytes_total) = totals(ledger);
    let pass = catalog.scrub_pass(files_total, bytes_total, opts.restart)?;
    let from_cursor = pass.cursor;
    let (open, _) = catalog.open_alarms(usize::MAX)?;
    let mut alarmed: BTreeSet<String> =
        open.into_iter().filter(|a| a.kind == "fixity" || a.kind == "catalogue").map(|a| a.subject).collect();
    let names: BTreeMap<String, (i64, String, u64)> =
        catalog.archived_names()?.into_iter().map(|(p, id, h, s)| (p, (id, h, s))).collect();
    let mut stats = RunStats::default();
    let mut findings = Vec::new();
    let mut found = |catalog: &mut Catalog, path: &str, f: Fixity, stats: &mut RunStats| {
        match &f {
            Fixity::Missing => stats.missing += 1,
            f if f.is_catalogue() => stats.catalogue += 1,
            _ => stats.differ += 1,
        }
        let raised = catalog.fixity_alarm(path, &f, "archive scrub");
        findings.push((path.to_string(), f));
        raised.map(|_| ())
    };
    let mut batch = Batch::new(from_cursor);
    // A new pass first looks for catalogue rows the custody log never recorded.
    if from_cursor == 0 {
        for path in names.keys() {
            if ledger.file_at(path).is_none() {
                let detail = Fixity::Unknown.text(path);
                found(catalog, path, Fixity::Unknown, &mut stats)?;
                batch.delta.catalogue += 1;
                batch.names.push(CheckedName { path: path.clone(), file_id: 0, ok: false, detail });
            }
        }
    }
    let list = targets(ledger, from_cursor);
    let mut stopped = false;
    let mut i = 0;
    let mut read = 0u64;
    while i < list.len() {
        // One file: all its names, then its place is final.
        let seq = list[i].seq;
        let end = list[i..].iter().position(|t| t.seq != seq).map_or(list.len(), |n| i + n);
        let mut checked: Vec<(CheckedName, Fixity, Option<Fixity>)> = Vec::new();
        let mut seen: BTreeMap<(u64, u64), Fixity> = BTreeMap::new();
        let mut file_bytes = 0u64;
        for t in &list[i..end] {
            let path = archive_root.join(&t.path);
            if let Some(central) = evicted(&t.path) {
                let verdict = match central {
                    Ok((size, hash)) => fixity(ledger.file_at(&t.path), None, Some((&hash, size))),
                    Err(error) => Fixity::Unreadable { error },
                };
                let cat = match names.get(&t.path) {
                    None => Some(Fixity::NotCatalogued),
                    Some((_, h, s)) => Some(catalogue_check(ledger.file_at(&t.path), h, *s)).filter(|v| !v.is_intact()),
                };
                let ok = verdict.is_intact() && cat.is_none();
                let detail = if ok {
                    "evicted; its central copy matches the custody log / 本地副本已清除，中心存储副本与保管日志一致"
                        .to_string()
                } else {
                    verdict.text(&t.path)
                };
                checked.push((CheckedName { path: t.path.clone(), file_id: t.file_id, ok, detail }, verdict, cat));
                continue;
            }
            let meta = std::fs::symlink_metadata(&path);
            let key = meta.as_ref().ok().map(|m| (m.dev(), m.ino()));
            let verdict = match (meta, key.and_then(|k| seen.get(&k).cloned())) {
                (Err(e), _) if e.kind() == std::io::ErrorKind::NotFound => Fixity::Missing,
                (Err(e), _) => Fixity::Unreadable { error: e.to_string() },
                (Ok(_), Some(again)) => again,
                (Ok(_), None) => {
                    let before = read;
                    match hash_paced(&path, pace, started, &mut read, stop, until) {
                        Ok(Read_::Done(h, size)) => {
                            file_bytes += read - before;
                            fixity(ledger.file_at(&t.path), None, Some((&h, size)))
                        }
                        Ok(Read_::Stopped) => {
                            stopped = true;
                            break;
                        }
                        Err(e) => Fixity::Unreadable { error: e.to_string() },
                    }
                }
            };
            if let Some(k) = key {
                seen.insert(k, verdict.clone());
            }
            // The catalogue's row for this name, against the log.
            let cat = match names.get(&t.path) {
                None => Some(Fixity::NotCatalogued),
                Some((_, h, s)) => Some(catalogue_check(ledger.file_at(&t.path), h, *s)).filter(|v| !v.is_intact()),
            };
            let ok = verdict.is_intact() && cat.is_none();
            let detail = match (&cat, ok) {
                (_, true) => "matches the custody log".to_string(),
                (Some(c), _) if verdict.is_intact() => c.text(&t.path),
                _ => verdict.text(&t.path),
            };
            checked.push((CheckedName { path: t.path.clone(), file_id: t.file_id, ok, detail }, verdict, cat));
        }
        if stopped {
            break;
        }
        for (name, verdict, cat) in checked {
            let subject = format!("file:{}", name.path);
            if let Some(c) = cat {
                batch.delta.catalogue += 1;
                found(catalog, &name.path, c, &mut stats)?;
            }
            match verdict {
                v if !v.is_intact() => {
                    match &v {
                        Fixity::Missing => batch.delta.missing += 1,
                        _ => batch.delta.differ += 1,
                    }
                    found(catalog, &name.path, v, &mut stats)?;
                }
                _ if name.ok && alarmed.remove(&subject) => {
                    let why = "a scrub found it matching the custody log again";
                    catalog.clear_alarms(AlarmKind::Fixity, Some(&subject), why)?;
                    catalog.clear_alarms(AlarmKind::Catalogue, Some(&subject), why)?;
                    stats.cleared += 1;
                }
                _ => {}
            }
            stats.files += 1;
            batch.delta.files += 1;
            batch.names.push(name);
        }
        stats.bytes += file_bytes;
        batch.delta.bytes += file_bytes;
        batch.delta.cursor = seq;
        if batch.names.len() >= BATCH_NAMES || batch.since.elapsed() >= BATCH_TIME {
            batch.flush(catalog, pass.id)?;
        }
        crate::failpoint!("scrub.mid");
        i = end;
        if stop.load(Ordering::Relaxed) || until.is_some_and(|u| Instant::now() >= u) {
            stopped = i < list.len();
            break;
        }
    }
    batch.flush(catalog, pass.id)?;
    let complete = !stopped;
    let pass = if complete {
        stats.cleared += catalog.scrub_clear_resolved(pass.id)? as u64;
        catalog.scrub_finish(pass.id)?
    } else {
        catalog.scrub_state()?.0.unwrap_or(pass)
    };
    stats.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let text = summary(pass.id, complete, (pass.files, pass.files_total), &stats, opts.rate);
    catalog.event(
        Action::ArchiveScrubbed,
        "archive",
        json!({
            "pass": pass.id, "complete": complete, "started": started_utc, "duration_ms": stats.elapsed_ms,
            "files": stats.files, "bytes": stats.bytes, "differ": stats.differ, "missing": stats.missing,
            "catalogue": stats.catalogue, "cleared": stats.cleared, "rate_limit": opts.rate,
            "from_seq": from_cursor, "to_seq": pass.cursor, "pass_files": pass.files, "pass_files_total": pass.files_total,
            "pass_bytes": pass.bytes, "findings": findings.iter().take(100).map(|(p, f)| f.text(p)).collect::<Vec<_>>(),
        }),
    )?;
    Ok(Outcome { pass, complete, run: stats, findings, text })
}
