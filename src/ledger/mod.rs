//! What the custody log says, read back as facts: every archived file with the hash recorded
//! when it was copied and every name it has had since, the holds, long-term flags, deadlines
//! and purge requests of each recording, the cases footage was filed into. The catalogue is a
//! file anyone holding the service's user can edit; the verified log is what the station
//! trusts when the two disagree (INV-16).
//!
//! Owns: [`Ledger`], folded one event at a time in `seq` order ([`Ledger::push`]), and the
//! questions the purge, the fixity checks (export, burn, `log verify-extract`) and the archive
//! scrub ask of it. [`load`] is its one edge: it reads the log through
//! [`crate::custody::store`] while verifying it.
//! Must never: do I/O or read a clock (this file), or trust an event it cannot read: a
//! malformed detail is skipped, and a log that does not verify is not trusted at all (the
//! callers refuse).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::Value;

use crate::custody::event::{Action, StoredEvent};
use crate::recorder::format::SegmentName;
use crate::retention::{Deadline, LoggedFile, LoggedPurge, LoggedRecording, Trigger};

pub mod load;

pub use load::{load, Verified};

/// One archived file as the log recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    /// The catalogue's file id (from the event, or, for events written before it carried
    /// one, the order of the copies: ids are given in that order and never reused).
    pub id: i64,
    /// Recorder serial.
    pub serial: String,
    /// Path on the recorder.
    pub source: String,
    /// The path it was first archived at (dated by its corrected start).
    pub first_path: String,
    /// Its names in the archive now.
    pub paths: BTreeSet<String>,
    /// BLAKE3 recorded when it was copied, hex.
    pub blake3: String,
    /// Size recorded when it was copied.
    pub size: u64,
    /// Cases it was filed into.
    pub cases: BTreeSet<String>,
    /// Removed by a purge.
    pub purged: bool,
    /// The events about it: its copy, its filings, its purge.
    pub seqs: Vec<u64>,
    /// When it was copied (UTC, as the event says).
    pub copied_at: String,
}

/// The facts of the custody log.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    events: u64,
    copies: i64,
    // Files by the seq of their copy event: a catalogue id may be given again once its row
    // was deleted, the seq never is.
    files: BTreeMap<u64, FileFacts>,
    ids: BTreeMap<i64, u64>,
    by_path: BTreeMap<String, u64>,
    segments: BTreeMap<(String, String), Option<String>>,
    // Holds and flags by catalogue row; a row id given again after a deletion starts another
    // entry, and a release applies to the latest.
    holds: BTreeMap<i64, Vec<(String, String, bool)>>,
    flags: BTreeMap<i64, Vec<(String, Trigger, bool)>>,
    deadlines: BTreeMap<String, Deadline>,
    purges: BTreeMap<i64, LoggedPurge>,
}

fn id_of(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.parse().ok())
}

fn utc(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

fn deadline_of(v: &Value) -> Option<Deadline> {
    match v.as_str()? {
        "permanent" => Some(Deadline::Permanent),
        s => utc(s).map(Deadline::At),
    }
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The local date of a dated archive path `YYYY/MM/DD/...`.
fn dated(path: &str) -> Option<NaiveDate> {
    let mut parts = path.splitn(4, '/');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Events folded so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Folds one event (the next in `seq` order).
    pub fn push(&mut self, ev: &StoredEvent) {
        self.events += 1;
        let Some(action) = Action::parse(&ev.action) else { return };
        let Ok(d) = serde_json::from_str::<Value>(&ev.details) else { return };
        let after = |prefix: &str| ev.subject.strip_prefix(prefix).map(str::to_string);
        match action {
            Action::SegmentCopied | Action::ArchiveRecovered => {
                let (Some(path), Some(blake3)) = (d["archive_path"].as_str(), d["blake3"].as_str()) else { return };
                let id = match d["file"].as_i64() {
                    Some(id) => id,
                    None => self.copies + 1,
                };
                self.copies = self.copies.max(id);
                let serial = after("file:").and_then(|s| s.split('/').next().map(str::to_string)).unwrap_or_default();
                if let Some(old) = self.by_path.insert(path.to_string(), ev.seq) {
                    if let Some(f) = self.files.get_mut(&old) {
                        f.paths.remove(path);
                    }
                }
                self.ids.insert(id, ev.seq);
                self.files.insert(
                    ev.seq,
                    FileFacts {
                        id,
                        serial,
                        source: d["source"].as_str().unwrap_or_default().to_string(),
                        first_path: path.to_string(),
                        paths: BTreeSet::from([path.to_string()]),
                        blake3: blake3.to_string(),
                        size: d["size"].as_u64().unwrap_or(0),
                        cases: BTreeSet::new(),
                        purged: false,
                        seqs: vec![ev.seq],
                        copied_at: ev.ts_utc.clone(),
                    },
                );
            }
            Action::FootageAssigned => {
                let (Some(id), Some(to)) = (d["file"].as_i64(), d["to"].as_str()) else { return };
                let Some(key) = self.ids.get(&id).copied() else { return };
                let Some(f) = self.files.get_mut(&key) else { return };
                if d["how"].as_str() == Some("moved") {
                    if let Some(from) = d["from"].as_str() {
                        f.paths.remove(from);
                        if self.by_path.get(from) == Some(&key) {
                            self.by_path.remove(from);
                        }
                    }
                }
                f.paths.insert(to.to_string());
                self.by_path.insert(to.to_string(), key);
                if let Some(case) = after("case:") {
                    f.cases.insert(case);
                }
                f.seqs.push(ev.seq);
            }
            Action::PurgeExecuted => {
                for path in d["files"].as_array().into_iter().flatten().filter_map(|f| f["path"].as_str()) {
                    let Some(key) = self.by_path.get(path).copied() else { continue };
                    if let Some(f) = self.files.get_mut(&key) {
                        f.purged = true;
                        f.seqs.push(ev.seq);
                        for p in std::mem::take(&mut f.paths) {
                            self.by_path.remove(&p);
                        }
                    }
                }
                if let Some(p) = id_of(&d["request"]).and_then(|id| self.purges.get_mut(&id)) {
                    p.executed = true;
                }
            }
            Action::SegmentVerified | Action::SegmentFlagged => {
                let (Some(serial), Some(name)) =
                    (after("segment:").and_then(|s| s.split('/').next().map(str::to_string)), d["name"].as_str())
                else {
                    return;
                };
                self.segments.insert((serial, name.to_string()), d["session"].as_str().map(str::to_string));
            }
            Action::HoldPlaced => {
                let (Some(rec), Some(row)) = (after("recording:"), d["row"].as_i64()) else { return };
                let name = d["hold"].as_str().unwrap_or_default().to_string();
                self.holds.entry(row).or_default().push((rec, name, true));
            }
            Action::HoldReleased => {
                let row = after("hold:").and_then(|r| r.parse::<i64>().ok());
                if let Some(h) = row.and_then(|r| self.holds.get_mut(&r)).and_then(|v| v.last_mut()) {
                    h.2 = false;
                }
            }
            Action::RetentionFlagSet => {
                let (Some(rec), Some(row), Some(t)) =
                    (after("recording:"), d["flag"].as_i64(), d["trigger"].as_str().and_then(Trigger::parse))
                else {
                    return;
                };
                self.flags.entry(row).or_default().push((rec, t, true));
            }
            Action::RetentionFlagWithdrawn => {
                let row = after("flag:").and_then(|r| r.parse::<i64>().ok());
                if let Some(f) = row.and_then(|r| self.flags.get_mut(&r)).and_then(|v| v.last_mut()) {
                    f.2 = false;
                }
            }
            Action::DeadlineRecorded => {
                let (Some(rec), Some(dl)) = (after("recording:"), deadline_of(&d["deadline"])) else { return };
                let e = self.deadlines.entry(rec).or_insert(dl);
                *e = (*e).max(dl);
            }
            // An approved withdrawal of a long-term flag sets the deadline (INV-11's exception).
            Action::DeadlineReturned => {
                let (Some(rec), Some(dl)) = (after("recording:"), deadline_of(&d["deadline"])) else { return };
                self.deadlines.insert(rec, dl);
            }
            Action::PurgeRequested => {
                let (Some(rec), Some(id)) = (after("recording:"), id_of(&d["purge"])) else { return };
                self.purges.insert(
                    id,
                    LoggedPurge { recording: rec, requested_by: ev.actor_user.clone(), ..LoggedPurge::default() },
                );
            }
            Action::PurgeApproved => {
                if let Some(p) = id_of(&d["purge"]).and_then(|id| self.purges.get_mut(&id)) {
                    p.approved_by = Some(ev.actor_user.clone());
                    p.grace_until = d["grace_until"].as_str().and_then(utc);
                }
            }
            Action::PurgeCancelled => {
                if let Some(p) = id_of(&d["purge"]).and_then(|id| self.purges.get_mut(&id)) {
                    p.cancelled = true;
                }
            }
            _ => {}
        }
    }

    /// The file the log knows at archive path `path` now (not purged).
    pub fn file_at(&self, path: &str) -> Option<&FileFacts> {
        self.by_path.get(path).and_then(|id| self.files.get(id)).filter(|f| !f.purged)
    }

    /// A file by its catalogue id (the latest given that id).
    pub fn file(&self, id: i64) -> Option<&FileFacts> {
        self.ids.get(&id).and_then(|k| self.files.get(k))
    }

    /// Every file still in the archive according to the log, by id.
    pub fn archived(&self) -> impl Iterator<Item = &FileFacts> {
        self.files.values().filter(|f| !f.purged)
    }

    /// The recording a file's segment belongs to, when the log links them: its chain session
    /// (`SERIAL/SESSION`), or the file itself for footage without a session (`SERIAL/file-ID`).
    pub fn recording_of(&self, f: &FileFacts) -> Option<String> {
        let session = self.segments.get(&(f.serial.clone(), basename(&f.source).to_string()))?;
        Some(match session {
            Some(s) => format!("{}/{s}", f.serial),
            None => format!("{}/file-{}", f.serial, f.id),
        })
    }

    /// What the log says about recording `id`, whose files the catalogue lists as `file_ids`.
    pub fn recording(&self, id: &str, file_ids: &[i64]) -> LoggedRecording {
        let mut out = LoggedRecording { id: id.to_string(), ..LoggedRecording::default() };
        for (row, entries) in &self.holds {
            for (_, name, active) in entries.iter().filter(|(rec, ..)| rec == id) {
                let e = out.holds.entry(*row).or_insert_with(|| (name.clone(), *active));
                if *active {
                    *e = (name.clone(), true);
                }
            }
        }
        for (row, entries) in &self.flags {
            for (_, trigger, active) in entries.iter().filter(|(rec, ..)| rec == id) {
                let e = out.flags.entry(*row).or_insert((*trigger, *active));
                if *active {
                    *e = (*trigger, true);
                }
            }
        }
        out.recorded_deadline = self.deadlines.get(id).copied();
        for fid in file_ids {
            let f = self.file(*fid);
            if let Some(f) = f {
                out.cases.extend(f.cases.iter().cloned());
                // Dated by its corrected start when its name carries one; a day's margin for
                // the drift correction.
                if SegmentName::parse(basename(&f.source)).is_some() {
                    if let Some(day) = dated(&f.first_path).and_then(|d| d.checked_sub_signed(Duration::days(1))) {
                        let start = day.and_hms_opt(0, 0, 0).unwrap_or_default();
                        out.earliest_end = Some(out.earliest_end.map_or(start, |e| e.max(start)));
                    }
                }
            }
            out.files.insert(
                *fid,
                f.map(|f| LoggedFile {
                    paths: f.paths.clone(),
                    blake3: f.blake3.clone(),
                    size: f.size,
                    purged: f.purged,
                    recording: self.recording_of(f),
                }),
            );
        }
        for (rid, p) in &self.purges {
            if p.recording == id {
                out.requests.insert(*rid, p.clone());
            }
        }
        out
    }
}

/// What a fixity check found for one file: its bytes against the hash the custody log
/// recorded when it was copied, and the catalogue against the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fixity {
    /// The bytes, the catalogue and the log agree.
    Intact,
    /// The log records no file at that path.
    Unknown,
    /// The catalogue's hash or size is not the log's.
    CatalogueDiffers {
        /// The log's BLAKE3.
        logged: String,
        /// The catalogue's BLAKE3.
        catalogue: String,
    },
    /// The bytes are not those the log recorded.
    BytesDiffer {
        /// The log's BLAKE3.
        logged: String,
        /// BLAKE3 of the bytes read.
        read: String,
        /// Bytes read.
        size: u64,
    },
    /// The file is not in the archive.
    Missing,
    /// The catalogue has no row for a file the log records as archived.
    NotCatalogued,
    /// The file could not be read.
    Unreadable {
        /// The operating system's reason.
        error: String,
    },
}

impl Fixity {
    /// Whether all agree.
    pub fn is_intact(&self) -> bool {
        *self == Fixity::Intact
    }

    /// In English.
    pub fn text(&self, path: &str) -> String {
        match self {
            Fixity::Intact => format!("{path}: matches the custody log"),
            Fixity::Unknown => format!("{path}: the custody log records no archived file at this path"),
            Fixity::CatalogueDiffers { logged, catalogue } => format!(
                "{path}: the catalogue says BLAKE3 {catalogue}, the custody log recorded {logged} when it was copied: the catalogue was altered"
            ),
            Fixity::BytesDiffer { logged, read, size } => format!(
                "{path}: the archived bytes ({size} bytes, BLAKE3 {read}) differ from the hash the custody log recorded when it was copied ({logged}): the file was altered or damaged"
            ),
            Fixity::Missing => format!("{path}: missing from the archive although the custody log records it"),
            Fixity::Unreadable { error } => format!("{path}: cannot be read ({error})"),
            Fixity::NotCatalogued => {
                format!("{path}: the custody log records this archived file, the catalogue has no row for it")
            }
        }
    }

    /// Whether this is about the catalogue (its row contradicts the log), not the bytes.
    pub fn is_catalogue(&self) -> bool {
        matches!(self, Fixity::Unknown | Fixity::CatalogueDiffers { .. } | Fixity::NotCatalogued)
    }

    /// In Chinese.
    pub fn text_zh(&self, path: &str) -> String {
        match self {
            Fixity::Intact => format!("{path}：与保管日志一致"),
            Fixity::Unknown => format!("{path}：保管日志中没有此路径的归档记录"),
            Fixity::CatalogueDiffers { .. } => format!("{path}：目录中的哈希值与保管日志复制时的记录不符，目录被改动"),
            Fixity::BytesDiffer { .. } => {
                format!("{path}：归档文件内容与保管日志复制时记录的哈希值不符，文件被改动或损坏")
            }
            Fixity::Missing => format!("{path}：保管日志有记录，但归档中找不到该文件"),
            Fixity::Unreadable { .. } => format!("{path}：无法读取"),
            Fixity::NotCatalogued => format!("{path}：保管日志记载此归档文件，目录中却没有记录"),
        }
    }
}

/// Judges one archived file: what the log recorded for `path` (`logged`), what the catalogue
/// says (`catalogue`: BLAKE3 and size, when asked), and what was read (`read`: BLAKE3 and size,
/// `None` when the file is missing). The log decides; a catalogue that disagrees with it is a
/// finding even when the bytes match the catalogue.
pub fn fixity(logged: Option<&FileFacts>, catalogue: Option<(&str, u64)>, read: Option<(&str, u64)>) -> Fixity {
    let Some(f) = logged else { return Fixity::Unknown };
    let Some((read_hash, read_size)) = read else { return Fixity::Missing };
    if read_hash != f.blake3 || read_size != f.size {
        return Fixity::BytesDiffer { logged: f.blake3.clone(), read: read_hash.to_string(), size: read_size };
    }
    if let Some((hash, size)) = catalogue {
        if hash != f.blake3 || size != f.size {
            return Fixity::CatalogueDiffers { logged: f.blake3.clone(), catalogue: hash.to_string() };
        }
    }
    Fixity::Intact
}

/// Judges a file's catalogue row alone against the log (before any byte is read): the log
/// must know a file at `path` with the same hash and size.
pub fn catalogue_check(logged: Option<&FileFacts>, hash: &str, size: u64) -> Fixity {
    match logged {
        None => Fixity::Unknown,
        Some(f) if f.blake3 != hash || f.size != size => {
            Fixity::CatalogueDiffers { logged: f.blake3.clone(), catalogue: hash.to_string() }
        }
        Some(_) => Fixity::Intact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::event::{seal, Actor, NewEvent, Role};
    use chrono::TimeZone;
    use serde_json::json;

    /// Seals events into a log and folds them.
    fn fold(events: &[(Action, &str, Value, &str)]) -> Ledger {
        let mut head = None;
        let mut l = Ledger::new();
        let t0 = Utc.with_ymd_and_hms(2024, 5, 1, 8, 0, 0).single().expect("time");
        for (i, (action, subject, details, user)) in events.iter().enumerate() {
            let actor = Actor { user: (*user).to_string(), role: Role::Archivist, officer: None };
            let mut ev = NewEvent::new(actor, *action, *subject);
            if let Value::Object(m) = details {
                ev.details = m.clone();
            }
            let stored = seal(head, &ev, t0 + Duration::seconds(i as i64), chrono_tz::Asia::Shanghai).expect("seal");
            head = Some((stored.seq, stored.hash));
            l.push(&stored);
        }
        l
    }

    const NAME: &str = "J800001_012345_20240110090000_000001.MP4";

    fn copied(id: Option<i64>, path: &str, hash: &str) -> (Action, &'static str, Value, &'static str) {
        let mut d = json!({ "docking": 1, "source": format!("DCIM/100/{NAME}"), "archive_path": path, "size": 5000, "blake3": hash });
        if let Some(id) = id {
            d["file"] = json!(id);
        }
        (Action::SegmentCopied, "file:J800001/DCIM/100/x", d, "evidock")
    }

    #[test]
    fn files_follow_their_copies_moves_links_and_purges() {
        let l = fold(&[
            copied(None, "2024/01/10/未归档/J800001/a.MP4", "aa"),
            copied(Some(2), "2024/01/10/未归档/J800001/b.MP4", "bb"),
            (Action::ArchiveRecovered, "archive", json!({ "removed_temporary": "x" }), "evidock"),
            (
                Action::FootageAssigned,
                "case:宜卫罚〔2024〕12号",
                json!({ "file": 1, "from": "2024/01/10/未归档/J800001/a.MP4", "to": "2024/01/10/宜卫罚〔2024〕12号/J800001/a.MP4", "how": "moved" }),
                "lisi",
            ),
            (
                Action::FootageAssigned,
                "case:宜卫罚〔2024〕13号",
                json!({ "file": 1, "from": "x", "to": "2024/01/10/宜卫罚〔2024〕13号/J800001/a.MP4", "how": "linked" }),
                "lisi",
            ),
            (
                Action::PurgeExecuted,
                "recording:J800001/s2",
                json!({ "files": [{ "path": "2024/01/10/未归档/J800001/b.MP4" }], "request": "1" }),
                "wang",
            ),
        ]);
        assert_eq!(l.events(), 6);
        assert!(l.file_at("2024/01/10/未归档/J800001/a.MP4").is_none(), "moved away");
        let a = l.file_at("2024/01/10/宜卫罚〔2024〕12号/J800001/a.MP4").expect("moved here");
        assert_eq!((a.id, a.blake3.as_str(), a.size, a.seqs.as_slice()), (1, "aa", 5000, &[1, 4, 5][..]));
        assert_eq!(a.cases.len(), 2);
        assert_eq!(l.file_at("2024/01/10/宜卫罚〔2024〕13号/J800001/a.MP4").map(|f| f.id), Some(1), "linked");
        assert!(l.file_at("2024/01/10/未归档/J800001/b.MP4").is_none(), "purged");
        assert!(l.file(2).expect("known").purged);
        assert_eq!(l.archived().count(), 1);
    }

    #[test]
    fn retention_facts_come_from_the_events_and_their_actors() {
        let l = fold(&[
            copied(Some(7), "2024/01/10/未归档/J800001/a.MP4", "aa"),
            (Action::SegmentVerified, "segment:J800001/1", json!({ "name": NAME, "session": "s1" }), "evidock"),
            (Action::HoldPlaced, "recording:J800001/s1", json!({ "hold": "法院-1", "row": 3 }), "lisi"),
            (Action::HoldPlaced, "recording:J800001/s1", json!({ "hold": "法院-2", "row": 4 }), "lisi"),
            (Action::HoldReleased, "hold:4", json!({ "reason": "结案" }), "lisi"),
            (Action::RetentionFlagSet, "recording:J800001/s1", json!({ "flag": 2, "trigger": "evidence" }), "lisi"),
            (Action::RetentionFlagWithdrawn, "flag:2", json!({}), "lisi"),
            (
                Action::DeadlineRecorded,
                "recording:J800001/s1",
                json!({ "deadline": "2024-07-10T16:00:00+00:00" }),
                "lisi",
            ),
            (Action::DeadlineRecorded, "recording:J800001/s1", json!({ "deadline": "permanent" }), "lisi"),
            (Action::PurgeRequested, "recording:J800001/s1", json!({ "purge": 5 }), "zhang"),
            (
                Action::PurgeApproved,
                "recording:J800001/s1",
                json!({ "purge": "5", "grace_until": "2024-08-09T00:00:00+00:00" }),
                "li",
            ),
            (Action::HoldPlaced, "recording:J800001/other", json!({ "hold": "x", "row": 9 }), "lisi"),
        ]);
        let r = l.recording("J800001/s1", &[7, 8]);
        assert_eq!(r.holds, BTreeMap::from([(3, ("法院-1".to_string(), true)), (4, ("法院-2".to_string(), false))]));
        assert_eq!(r.flags, BTreeMap::from([(2, (Trigger::Evidence, false))]));
        assert_eq!(r.recorded_deadline, Some(Deadline::Permanent), "the latest, never shortened");
        let req = &r.requests[&5];
        assert_eq!((req.requested_by.as_str(), req.approved_by.as_deref()), ("zhang", Some("li")));
        assert_eq!(req.grace_until, utc("2024-08-09T00:00:00+00:00"));
        assert_eq!(r.files[&7].as_ref().and_then(|f| f.recording.as_deref()), Some("J800001/s1"));
        assert_eq!(r.files[&8], None, "a file the log never recorded");
        // Filed 2024-01-10 by its corrected start: the end is no earlier than the day before.
        assert_eq!(r.earliest_end.map(|e| e.to_string()).as_deref(), Some("2024-01-09 00:00:00"));
    }

    #[test]
    fn fixity_trusts_the_log() {
        let l = fold(&[copied(Some(1), "p/a.MP4", "aa")]);
        let f = l.file_at("p/a.MP4");
        assert_eq!(fixity(f, Some(("aa", 5000)), Some(("aa", 5000))), Fixity::Intact);
        // File and catalogue changed together: the log still tells.
        let both = fixity(f, Some(("cc", 5000)), Some(("cc", 5000)));
        assert!(matches!(both, Fixity::BytesDiffer { ref logged, .. } if logged == "aa"), "{both:?}");
        assert!(both.text("p/a.MP4").contains("differ from the hash the custody log recorded"));
        assert!(!both.text_zh("p/a.MP4").is_empty());
        assert!(matches!(fixity(f, Some(("cc", 5000)), Some(("aa", 5000))), Fixity::CatalogueDiffers { .. }));
        assert!(matches!(fixity(f, None, Some(("aa", 4999))), Fixity::BytesDiffer { .. }), "size counts");
        assert_eq!(fixity(f, None, None), Fixity::Missing);
        assert_eq!(fixity(None, None, Some(("aa", 5000))), Fixity::Unknown);
        assert_eq!(catalogue_check(f, "aa", 5000), Fixity::Intact);
        assert!(matches!(catalogue_check(f, "cc", 5000), Fixity::CatalogueDiffers { .. }));
        assert!(matches!(catalogue_check(f, "aa", 1), Fixity::CatalogueDiffers { .. }));
        assert_eq!(catalogue_check(None, "aa", 5000), Fixity::Unknown);
    }

    #[test]
    fn unreadable_details_are_skipped() {
        let mut l = fold(&[(Action::SegmentCopied, "file:x/y", json!({ "archive_path": 3 }), "evidock")]);
        assert_eq!(l.archived().count(), 0);
        l.push(&StoredEvent {
            seq: 2,
            ts_utc: String::new(),
            ts_local: String::new(),
            actor_user: String::new(),
            actor_role: String::new(),
            actor_officer: None,
            action: "segment_copied".into(),
            subject: "file:x/y".into(),
            details: "not json".into(),
            prev_hash: [0; 32],
            hash: [0; 32],
        });
        assert_eq!((l.events(), l.archived().count()), (2, 0));
    }

    #[test]
    fn ledger_module_is_pure() {
        crate::custody::chain::tests::assert_pure(include_str!("mod.rs"));
    }
}
