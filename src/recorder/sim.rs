//! The recorder simulator: writes volumes that follow the contract (`ZFY-CUSTODY/1`, see
//! `docs/RECORDER-FORMAT.md`), clean or with named faults, for tests, fixtures, demonstrations
//! and benchmarks.
//!
//! Owns: the layout of a simulated volume (identity, chain files, dated footage folders), the
//! deterministic content of its files, and the placement of every fault, which it reports in a
//! [`SimSummary`] so that tests can assert the verifier's verdict at that exact position.
//! Must never: write outside the folder it is given, write into a folder that is not empty, or
//! hold a whole segment in memory (segments may be several GiB: content is generated, hashed
//! and written in 1 MiB chunks).
//!
//! Determinism: the same [`SimOptions`] and `now` give byte-identical files. File content is
//! the BLAKE3 extendable output keyed by (seed, serial, sequence number).
//!
//! Times: [`SimOptions::start`] is true time; everything the simulated recorder writes (file
//! names, chain records, the identity `clock`) is device time, which is true time plus
//! [`SimOptions::clock_drift_s`].

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{Duration, NaiveDate, NaiveDateTime};

use super::format::{
    encode_gbk, hex, ChainFile, Digest, FormatError, Identity, InterruptReason, MediaKind, Record, SegmentName,
    CHAIN_DIR, CHAIN_EXT, FOOTAGE_DIR, IDENTITY_FILE,
};

/// Size of the chunks content is generated, hashed and written in.
const CHUNK: usize = 1 << 20;
/// Milliseconds between power-on and the first record of a session.
const BOOT_MONO_MS: u64 = 7_250;
/// Length of the pause the `gap` and `interrupted` faults insert.
pub const FAULT_PAUSE_S: i64 = 300;
/// Total storage the simulated recorder reports.
const STORAGE_TOTAL: u64 = 32 << 30;
/// Domain separation for file content.
const CONTENT_CONTEXT: &str = "evidock sim 2024-05 segment content v1";

/// A fault the simulator can put on a volume. Each is applied once, deterministically; several
/// may be combined, and each then lands on a different segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Bytes flipped in one segment file (same size).
    Altered,
    /// One segment file deleted; its chain record stays.
    Missing,
    /// One extra segment-named file that no record covers.
    Inserted,
    /// The contents of two segment files of one session swapped (names kept).
    Reordered,
    /// One segment file cut to half its size.
    Truncated,
    /// The recorder writes no chain: identity `chain=0` and no chain folder.
    Unchained,
    /// An unexplained pause of [`FAULT_PAUSE_S`] before one segment (no `INT` record).
    Gap,
    /// The same pause, explained by an `INT` record (reason `battery`): not a fault.
    Interrupted,
    /// The last session loses power: no `END`, its last segment has `PART` records but no
    /// `SEG` record, and its file runs past the last attested offset.
    Cut,
    /// Hostile entries: control characters, non-UTF-8 and 255-byte names, a FIFO, a chain
    /// line naming `../../etc/passwd`, an identity-looking file in a footage folder.
    HostileNames,
    /// Symbolic links: a footage file to `/etc/passwd`, a dated folder to `/`, a chain file
    /// to `/dev/zero`.
    Symlinks,
}

impl Fault {
    /// Every fault, in the order they are applied.
    pub const ALL: [Fault; 11] = [
        Fault::Altered,
        Fault::Missing,
        Fault::Inserted,
        Fault::Reordered,
        Fault::Truncated,
        Fault::Unchained,
        Fault::Gap,
        Fault::Interrupted,
        Fault::Cut,
        Fault::HostileNames,
        Fault::Symlinks,
    ];

    /// Stable name, as given to `--fault`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Altered => "altered",
            Fault::Missing => "missing",
            Fault::Inserted => "inserted",
            Fault::Reordered => "reordered",
            Fault::Truncated => "truncated",
            Fault::Unchained => "unchained",
            Fault::Gap => "gap",
            Fault::Interrupted => "interrupted",
            Fault::Cut => "cut",
            Fault::HostileNames => "hostile-names",
            Fault::Symlinks => "symlinks",
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fault name that is not one of [`Fault::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault {0:?} (expected one of altered, missing, inserted, reordered, truncated, unchained, gap, interrupted, cut, hostile-names, symlinks)")]
pub struct UnknownFault(pub String);

impl FromStr for Fault {
    type Err = UnknownFault;
    fn from_str(s: &str) -> Result<Fault, UnknownFault> {
        Fault::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| UnknownFault(s.to_string()))
    }
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOptions {
    /// Device serial, 7 characters `[0-9A-Z]`.
    pub serial: String,
    /// Officer badge number, 6 characters `[0-9A-Z]`.
    pub badge: String,
    /// Officer name in the identity file (GBK-encoded).
    pub officer_name: Option<String>,
    /// Officer unit in the identity file.
    pub unit: Option<String>,
    /// Model name.
    pub model: String,
    /// Firmware version.
    pub firmware: String,
    /// Number of recording sessions (one chain file each).
    pub sessions: u32,
    /// Video segments per session.
    pub segments: u32,
    /// Photos per session, taken at the session's start, before its first video segment.
    pub photos: u32,
    /// Size of every video segment in bytes (a photo is an eighth of it, at most 4 MiB).
    pub segment_bytes: u64,
    /// Start of the first session, true time.
    pub start: NaiveDateTime,
    /// Length of one video segment in seconds.
    pub segment_duration_s: u32,
    /// Pause between the end of one session and the start of the next, in seconds.
    pub session_pause_s: u32,
    /// Faults to apply (duplicates are applied once).
    pub faults: Vec<Fault>,
    /// Seed of the file content.
    pub seed: u64,
    /// Sequence number of the first segment.
    pub first_seq: u64,
    /// Device clock minus true time, in seconds.
    pub clock_drift_s: i64,
    /// Period of `PART` records in bytes; `None` for a quarter of [`SimOptions::segment_bytes`].
    pub part_every_bytes: Option<u64>,
    /// Last link of the session before the first one (from an earlier docking).
    pub prev_tail: Option<Digest>,
    /// Identity `clock_tz`, seconds east of UTC.
    pub clock_utc_offset: Option<i32>,
    /// Identity `clock_settable`.
    pub clock_settable: bool,
    /// Identity `battery`.
    pub battery_percent: Option<u8>,
}

impl Default for SimOptions {
    fn default() -> SimOptions {
        SimOptions {
            serial: "A100001".into(),
            badge: "012345".into(),
            officer_name: Some("张三".into()),
            unit: Some("宜良县卫生健康局".into()),
            model: "DSJ-Z1".into(),
            firmware: "1.2.0".into(),
            sessions: 1,
            segments: 3,
            photos: 0,
            segment_bytes: 64 * 1024,
            start: NaiveDate::from_ymd_opt(2024, 5, 1).and_then(|d| d.and_hms_opt(9, 0, 0)).unwrap_or_default(),
            segment_duration_s: 600,
            session_pause_s: 3600,
            faults: Vec::new(),
            seed: 1,
            first_seq: 1,
            clock_drift_s: 0,
            part_every_bytes: None,
            prev_tail: None,
            clock_utc_offset: Some(8 * 3600),
            clock_settable: true,
            battery_percent: Some(80),
        }
    }
}

impl SimOptions {
    /// The `PART` period in effect: [`SimOptions::part_every_bytes`], or a quarter of a
    /// segment (rounded, at least 1).
    pub fn part_every(&self) -> u64 {
        self.part_every_bytes.unwrap_or((self.segment_bytes + 2) / 4).max(1)
    }

    /// Size of a photo: an eighth of a video segment, at least 1 byte, at most 4 MiB.
    pub fn photo_bytes(&self) -> u64 {
        (self.segment_bytes / 8).clamp(1, 4 << 20)
    }
}

/// Why the simulator could not write a volume.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// An option is out of range or the faults asked for need more segments.
    #[error("invalid simulator option {option}: {reason}")]
    Invalid {
        /// The option.
        option: &'static str,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The output folder exists and is not empty.
    #[error("{} is not empty: the simulator only writes into an empty or new folder", .0.display())]
    NotEmpty(PathBuf),
    /// A file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Identity text GBK cannot encode.
    #[error("identity file: {0}")]
    Encoding(#[from] FormatError),
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SimError + 'a {
    move |source| SimError::Io { action, path: path.to_path_buf(), source }
}

fn invalid(option: &'static str, reason: impl Into<String>) -> SimError {
    SimError::Invalid { option, reason: reason.into() }
}

/// One segment the simulator wrote, as the recorder attests it (before any fault changed the
/// file on disk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSummary {
    /// Sequence number.
    pub seq: u64,
    /// Session id (chain file stem).
    pub session: String,
    /// Path relative to the volume root, e.g. `DCIM/20240501/A100001_012345_20240501090000_000001.MP4`.
    pub path: String,
    /// Media kind.
    pub kind: MediaKind,
    /// Start, device time.
    pub start: NaiveDateTime,
    /// End, device time (for a cut segment: when power was lost).
    pub end: NaiveDateTime,
    /// Size as written.
    pub size: u64,
    /// BLAKE3 of the content as written.
    pub blake3: Digest,
    /// Offsets attested by `PART` records.
    pub parts: Vec<u64>,
    /// Whether a `SEG` record attests the whole file (false only for a cut session's last
    /// segment).
    pub sealed: bool,
}

/// One session the simulator wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// Session id.
    pub id: String,
    /// Chain file relative to the volume root (not written when the volume is unchained).
    pub chain_file: String,
    /// First sequence number.
    pub first_seq: u64,
    /// Last sequence number.
    pub last_seq: u64,
    /// Start, device time.
    pub start: NaiveDateTime,
    /// End, device time.
    pub end: NaiveDateTime,
    /// Whether the session has its `END` record.
    pub complete: bool,
    /// The last link of the chain file.
    pub tail: Option<Digest>,
}

/// Where one fault was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedFault {
    /// The fault.
    pub fault: Fault,
    /// Sequence numbers concerned: the altered, missing, inserted or truncated segment; both
    /// reordered segments; the segments before and after a gap or interruption; a cut
    /// segment. Empty for volume-wide faults.
    pub seqs: Vec<u64>,
    /// Session concerned, where one is.
    pub session: Option<String>,
    /// Paths created, changed or removed, relative to the volume root (hostile names may be
    /// neither UTF-8 nor printable).
    pub paths: Vec<PathBuf>,
    /// One sentence saying what was done.
    pub detail: String,
}

/// What [`write_recorder`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSummary {
    /// The identity written to `ZFYINFO.TXT`.
    pub identity: Identity,
    /// Sessions in time order.
    pub sessions: Vec<SessionSummary>,
    /// Segments in sequence order (the inserted file is not one: see [`SimSummary::faults`]).
    pub segments: Vec<SegmentSummary>,
    /// Faults in the order applied.
    pub faults: Vec<AppliedFault>,
    /// The sequence number the recorder will give its next segment.
    pub next_seq: u64,
    /// Last link of the last session, to pass as [`SimOptions::prev_tail`] next time.
    pub tail: Option<Digest>,
}

impl SimSummary {
    /// The segment with this sequence number.
    pub fn segment(&self, seq: u64) -> Option<&SegmentSummary> {
        self.segments.iter().find(|s| s.seq == seq)
    }

    /// Where `fault` was applied, if it was.
    pub fn fault(&self, fault: Fault) -> Option<&AppliedFault> {
        self.faults.iter().find(|f| f.fault == fault)
    }
}

// ---------------------------------------------------------------------------------------------
// Planning (pure)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct PlannedSeg {
    seq: u64,
    session: usize,
    kind: MediaKind,
    start: NaiveDateTime,
    end: NaiveDateTime,
    mono_start: u64,
    mono_end: u64,
    size: u64,
    sealed: bool,
    /// Pause inserted before this segment: `Some(true)` with an `INT` record.
    pause: Option<bool>,
}

impl PlannedSeg {
    fn name(&self, opts: &SimOptions) -> SegmentName {
        SegmentName {
            serial: opts.serial.clone(),
            badge: opts.badge.clone(),
            start: self.start,
            seq: self.seq,
            kind: self.kind,
        }
    }
}

#[derive(Debug, Clone)]
struct PlannedSession {
    id: String,
    boot: String,
    start: NaiveDateTime,
    end: NaiveDateTime,
    mono_end: u64,
    segs: std::ops::Range<usize>,
    complete: bool,
}

#[derive(Debug, Clone, Default)]
struct Targets {
    altered: Option<usize>,
    missing: Option<usize>,
    truncated: Option<usize>,
    reordered: Option<(usize, usize)>,
    gap: Option<usize>,
    interrupted: Option<usize>,
}

fn check_id(option: &'static str, value: &str, len: usize) -> Result<(), SimError> {
    if value.len() != len || !value.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()) {
        return Err(invalid(option, format!("must be {len} characters 0-9 A-Z, found {value:?}")));
    }
    Ok(())
}

fn validate(opts: &SimOptions, faults: &BTreeSet<Fault>) -> Result<(), SimError> {
    check_id("serial", &opts.serial, 7)?;
    check_id("badge", &opts.badge, 6)?;
    if opts.sessions == 0 {
        return Err(invalid("sessions", "at least one session is needed"));
    }
    if opts.segments == 0 {
        return Err(invalid("segments", "at least one video segment per session is needed"));
    }
    if opts.segment_bytes == 0 {
        return Err(invalid("segment-bytes", "segments must hold at least one byte"));
    }
    if opts.segment_duration_s == 0 {
        return Err(invalid("segment-duration-s", "segments must last at least one second"));
    }
    if faults.contains(&Fault::Cut) && opts.segment_bytes < 2 {
        return Err(invalid("segment-bytes", "the cut fault needs segments of at least 2 bytes"));
    }
    if opts.battery_percent.is_some_and(|b| b > 100) {
        return Err(invalid("battery", "percent above 100"));
    }
    if opts.first_seq > u64::MAX / 2 {
        return Err(invalid("first-seq", format!("{} leaves no room for sequence numbers to grow", opts.first_seq)));
    }
    Ok(())
}

/// Orders candidate positions from the middle outwards: `(n-1)/2`, then its neighbours.
fn middle_out<T: Copy>(items: &[T]) -> Vec<T> {
    let mid = items.len().saturating_sub(1) / 2;
    let mut idx: Vec<usize> = (0..items.len()).collect();
    idx.sort_by_key(|&i| (i.abs_diff(mid), i));
    idx.into_iter().map(|i| items[i]).collect()
}

/// Lays out sessions and segments with their times and sizes, and picks each fault's target.
fn plan(
    opts: &SimOptions,
    faults: &BTreeSet<Fault>,
) -> Result<(Vec<PlannedSession>, Vec<PlannedSeg>, Targets), SimError> {
    let per_session = (opts.photos + opts.segments) as usize;
    let total = per_session * opts.sessions as usize;
    // Position of each segment in its session, and whether it is a video.
    let kind_at = |i: usize| if i % per_session < opts.photos as usize { MediaKind::Photo } else { MediaKind::Video };
    let session_of = |i: usize| i / per_session;
    let cut_index = faults.contains(&Fault::Cut).then(|| total - 1);
    let sealed_video = |i: usize| kind_at(i) == MediaKind::Video && Some(i) != cut_index;

    let mut used: BTreeSet<usize> = BTreeSet::new();
    let mut targets = Targets::default();
    let short = |fault: Fault, need: &str| {
        invalid(
            "segments",
            format!("the {fault} fault needs {need} not already taken by another fault: add --segments or --sessions"),
        )
    };
    // Pairs of consecutive sealed videos in one session.
    if faults.contains(&Fault::Reordered) {
        let pairs: Vec<usize> = (0..total.saturating_sub(1))
            .filter(|&i| sealed_video(i) && sealed_video(i + 1) && session_of(i) == session_of(i + 1))
            .collect();
        let i = middle_out(&pairs)
            .into_iter()
            .find(|&i| !used.contains(&i) && !used.contains(&(i + 1)))
            .ok_or_else(|| short(Fault::Reordered, "two consecutive video segments in one session"))?;
        used.extend([i, i + 1]);
        targets.reordered = Some((i, i + 1));
    }
    // A video whose predecessor in the same session is a video.
    for fault in [Fault::Gap, Fault::Interrupted] {
        if !faults.contains(&fault) {
            continue;
        }
        let cands: Vec<usize> = (1..total)
            .filter(|&i| sealed_video(i) && kind_at(i - 1) == MediaKind::Video && session_of(i) == session_of(i - 1))
            .collect();
        let i = middle_out(&cands)
            .into_iter()
            .find(|&i| !used.contains(&i) && !used.contains(&(i - 1)))
            .ok_or_else(|| short(fault, "two consecutive video segments in one session"))?;
        used.extend([i - 1, i]);
        match fault {
            Fault::Gap => targets.gap = Some(i),
            _ => targets.interrupted = Some(i),
        }
    }
    for fault in [Fault::Altered, Fault::Missing, Fault::Truncated] {
        if !faults.contains(&fault) {
            continue;
        }
        let cands: Vec<usize> = (0..total).filter(|&i| sealed_video(i)).collect();
        let i = middle_out(&cands)
            .into_iter()
            .find(|i| !used.contains(i))
            .ok_or_else(|| short(fault, "a video segment"))?;
        used.insert(i);
        match fault {
            Fault::Altered => targets.altered = Some(i),
            Fault::Missing => targets.missing = Some(i),
            _ => targets.truncated = Some(i),
        }
    }

    let dur = i64::from(opts.segment_duration_s);
    let mut t = opts.start + Duration::seconds(opts.clock_drift_s);
    let mut sessions = Vec::new();
    let mut segs: Vec<PlannedSeg> = Vec::with_capacity(total);
    for s in 0..opts.sessions as usize {
        let first = segs.len();
        let first_seq = opts.first_seq + first as u64;
        let session_start = t;
        let mut mono = BOOT_MONO_MS;
        for i in first..first + per_session {
            let kind = kind_at(i);
            let pause = if targets.gap == Some(i) {
                Some(false)
            } else if targets.interrupted == Some(i) {
                Some(true)
            } else {
                None
            };
            if pause.is_some() {
                t += Duration::seconds(FAULT_PAUSE_S);
                mono += FAULT_PAUSE_S as u64 * 1000;
            }
            let (length, size) = match kind {
                MediaKind::Photo => (0, opts.photo_bytes()),
                _ => (dur, opts.segment_bytes),
            };
            let start = t;
            t += Duration::seconds(length);
            let mono_start = mono;
            mono += length as u64 * 1000;
            segs.push(PlannedSeg {
                seq: opts.first_seq + i as u64,
                session: s,
                kind,
                start,
                end: t,
                mono_start,
                mono_end: mono,
                size,
                sealed: Some(i) != cut_index,
                pause,
            });
        }
        let boot = {
            let mut h = blake3::Hasher::new_derive_key("evidock sim boot id v1");
            h.update(&opts.seed.to_le_bytes()).update(opts.serial.as_bytes()).update(&first_seq.to_le_bytes());
            format!("B{}", &h.finalize().to_hex()[..12].to_ascii_uppercase())
        };
        sessions.push(PlannedSession {
            id: format!("{}-{:06}", session_start.format("%Y%m%d%H%M%S"), first_seq),
            boot,
            start: session_start,
            end: t,
            mono_end: mono,
            segs: first..segs.len(),
            complete: !(cut_index.is_some() && s + 1 == opts.sessions as usize),
        });
        t += Duration::seconds(i64::from(opts.session_pause_s));
    }
    Ok((sessions, segs, targets))
}

/// The `PART` offsets of a segment of `size` bytes.
fn part_offsets(size: u64, every: u64, cut: bool) -> Vec<u64> {
    let mut v: Vec<u64> = (1..).map(|k| k * every).take_while(|&o| o < size).collect();
    if v.is_empty() && cut {
        v.push(size / 2);
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Streams the deterministic content of segment `seq` into `path`, returning the hash of the
/// whole file and of each prefix in `parts` (ascending, each below `size`).
fn write_content(
    path: &Path,
    opts: &SimOptions,
    seq: u64,
    size: u64,
    parts: &[u64],
) -> Result<(Digest, Vec<Digest>), SimError> {
    let mut xof = {
        let mut h = blake3::Hasher::new_derive_key(CONTENT_CONTEXT);
        h.update(&opts.seed.to_le_bytes()).update(opts.serial.as_bytes()).update(&seq.to_le_bytes());
        h.finalize_xof()
    };
    let mut file = File::create(path).map_err(io_err("create", path))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; CHUNK.min(size as usize)];
    let mut part_hashes = Vec::with_capacity(parts.len());
    let mut next_part = parts.iter().copied().peekable();
    let mut pos = 0u64;
    while pos < size {
        let mut end = (pos + CHUNK as u64).min(size);
        if let Some(&p) = next_part.peek() {
            end = end.min(p);
        }
        let chunk = &mut buf[..(end - pos) as usize];
        xof.fill(chunk);
        hasher.update(chunk);
        file.write_all(chunk).map_err(io_err("write", path))?;
        pos = end;
        if next_part.peek() == Some(&pos) {
            next_part.next();
            part_hashes.push(*hasher.clone().finalize().as_bytes());
        }
    }
    Ok((*hasher.finalize().as_bytes(), part_hashes))
}

fn mkdirs(path: &Path) -> Result<(), SimError> {
    fs::create_dir_all(path).map_err(io_err("create folder", path))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SimError> {
    fs::write(path, bytes).map_err(io_err("write", path))
}

fn ms_into(start: NaiveDateTime, ms: u64) -> NaiveDateTime {
    start + Duration::seconds((ms / 1000) as i64)
}

/// Writes a simulated recorder volume into `out` (created if needed; refused when not empty)
/// and says what it wrote and where each fault went. `now` is the true time at docking; the
/// identity's `clock` is `now` plus [`SimOptions::clock_drift_s`].
///
/// # Errors
/// On invalid options, a non-empty `out`, text GBK cannot encode, or a failed file operation.
pub fn write_recorder(out: &Path, opts: &SimOptions, now: NaiveDateTime) -> Result<SimSummary, SimError> {
    let faults: BTreeSet<Fault> = opts.faults.iter().copied().collect();
    validate(opts, &faults)?;
    let (sessions, segs, targets) = plan(opts, &faults)?;
    let identity = Identity {
        serial: opts.serial.clone(),
        badge: opts.badge.clone(),
        officer_name: opts.officer_name.clone().filter(|s| !s.is_empty()),
        unit: opts.unit.clone().filter(|s| !s.is_empty()),
        model: opts.model.clone(),
        firmware: opts.firmware.clone(),
        clock: now + Duration::seconds(opts.clock_drift_s),
        clock_utc_offset: opts.clock_utc_offset,
        clock_settable: opts.clock_settable,
        writes_chain: !faults.contains(&Fault::Unchained),
        storage_free: Some(STORAGE_TOTAL.saturating_sub(segs.iter().map(|s| s.size).sum())),
        storage_total: Some(STORAGE_TOTAL),
        battery_percent: opts.battery_percent,
    };
    // Encode before touching the disk, so that bad text fails early.
    let identity_bytes = encode_gbk(&identity.render())?;
    for (key, text) in [("model", &identity.model), ("firmware", &identity.firmware)] {
        if text.is_empty() || text.chars().any(char::is_control) {
            return Err(invalid(if key == "model" { "model" } else { "firmware" }, "must be non-empty printable text"));
        }
    }
    if Identity::parse(&identity_bytes).as_ref() != Ok(&identity) {
        return Err(invalid("officer-name/unit", "text does not survive the identity file (control characters?)"));
    }

    mkdirs(out)?;
    if fs::read_dir(out).map_err(io_err("list", out))?.next().is_some() {
        return Err(SimError::NotEmpty(out.to_path_buf()));
    }

    // Footage.
    let every = opts.part_every();
    let mut written: Vec<SegmentSummary> = Vec::with_capacity(segs.len());
    let mut part_hashes: Vec<Vec<Digest>> = Vec::with_capacity(segs.len());
    for seg in &segs {
        let name = seg.name(opts);
        let folder = out.join(name.folder());
        mkdirs(&folder)?;
        let rel = format!("{}/{}", name.folder(), name.render());
        let parts = match seg.kind {
            MediaKind::Video => part_offsets(seg.size, every, !seg.sealed),
            _ => Vec::new(),
        };
        let (hash, hashes) = write_content(&out.join(&rel), opts, seg.seq, seg.size, &parts)?;
        part_hashes.push(hashes);
        written.push(SegmentSummary {
            seq: seg.seq,
            session: sessions[seg.session].id.clone(),
            path: rel,
            kind: seg.kind,
            start: seg.start,
            end: seg.end,
            size: seg.size,
            blake3: hash,
            parts,
            sealed: seg.sealed,
        });
    }

    // Chains.
    let mut prev_tail = opts.prev_tail;
    let mut session_summaries = Vec::new();
    let mut chain_texts: Vec<String> = Vec::new();
    for sess in &sessions {
        let first_seq = segs[sess.segs.start].seq;
        let mut records = vec![Record::Genesis {
            serial: opts.serial.clone(),
            session: sess.id.clone(),
            boot: sess.boot.clone(),
            first_seq,
            wall: sess.start,
            mono_ms: BOOT_MONO_MS,
            prev_tail,
        }];
        for i in sess.segs.clone() {
            let seg = &segs[i];
            let w = &written[i];
            if seg.pause == Some(true) {
                let before = &segs[i - 1];
                records.push(Record::Interruption {
                    reason: InterruptReason::Battery,
                    wall: before.end,
                    mono_ms: before.mono_end,
                });
            }
            if !w.parts.is_empty() {
                let span_ms = seg.mono_end - seg.mono_start;
                for (&offset, &hash) in w.parts.iter().zip(&part_hashes[i]) {
                    let ms = (u128::from(span_ms) * u128::from(offset) / u128::from(seg.size)) as u64;
                    records.push(Record::Partial {
                        seq: seg.seq,
                        offset,
                        hash,
                        wall: ms_into(seg.start, ms),
                        mono_ms: seg.mono_start + ms,
                    });
                }
            }
            if seg.sealed {
                records.push(Record::Segment {
                    seq: seg.seq,
                    name: seg.name(opts).render(),
                    kind: seg.kind,
                    start: seg.start,
                    end: seg.end,
                    mono_start_ms: seg.mono_start,
                    mono_end_ms: seg.mono_end,
                    size: seg.size,
                    hash: w.blake3,
                });
            }
        }
        let last_seq = segs[sess.segs.end - 1].seq;
        if sess.complete {
            records.push(Record::Close {
                last_seq,
                segments: sess.segs.len() as u64,
                wall: sess.end,
                mono_ms: sess.mono_end,
            });
        }
        let text = ChainFile::render(&records);
        let mut link = super::format::ZERO_LINK;
        for r in &records {
            link = r.link_after(&link);
        }
        let writes_chain = identity.writes_chain;
        session_summaries.push(SessionSummary {
            id: sess.id.clone(),
            chain_file: format!("{CHAIN_DIR}/{}.{CHAIN_EXT}", sess.id),
            first_seq,
            last_seq,
            start: sess.start,
            end: sess.end,
            complete: sess.complete,
            tail: writes_chain.then_some(link),
        });
        prev_tail = Some(link);
        chain_texts.push(text);
    }
    if identity.writes_chain {
        mkdirs(&out.join(CHAIN_DIR))?;
        for (sess, text) in session_summaries.iter().zip(&chain_texts) {
            write_file(&out.join(&sess.chain_file), text.as_bytes())?;
        }
    }

    let last_seq = segs.last().map_or(opts.first_seq, |s| s.seq);
    let mut applied = Vec::new();
    let seg_fault = |fault: Fault, i: usize, paths: Vec<PathBuf>, detail: String| AppliedFault {
        fault,
        seqs: vec![written[i].seq],
        session: Some(written[i].session.clone()),
        paths,
        detail,
    };

    if let Some(i) = targets.altered {
        let w = &written[i];
        let path = out.join(&w.path);
        let offset = w.size / 2;
        let len = 16.min(w.size - offset);
        flip_bytes(&path, offset, len)?;
        applied.push(seg_fault(
            Fault::Altered,
            i,
            vec![PathBuf::from(&w.path)],
            format!("flipped {len} bytes at offset {offset} of seq {} (size unchanged)", w.seq),
        ));
    }
    if let Some(i) = targets.missing {
        let w = &written[i];
        let path = out.join(&w.path);
        fs::remove_file(&path).map_err(io_err("remove", &path))?;
        applied.push(seg_fault(
            Fault::Missing,
            i,
            vec![PathBuf::from(&w.path)],
            format!("deleted the file of seq {}; its chain record stays", w.seq),
        ));
    }
    if faults.contains(&Fault::Inserted) {
        let videos: Vec<usize> = (0..segs.len()).filter(|&i| segs[i].kind == MediaKind::Video).collect();
        let host = middle_out(&videos).first().copied().unwrap_or(0);
        let seq = last_seq + 1000;
        let name = SegmentName {
            serial: opts.serial.clone(),
            badge: opts.badge.clone(),
            start: segs[host].start + Duration::seconds(i64::from(opts.segment_duration_s / 2)),
            seq,
            kind: MediaKind::Video,
        };
        let rel = format!("{}/{}", name.folder(), name.render());
        write_content(&out.join(&rel), opts, seq, opts.segment_bytes, &[])?;
        applied.push(AppliedFault {
            fault: Fault::Inserted,
            seqs: vec![seq],
            session: Some(written[host].session.clone()),
            paths: vec![PathBuf::from(&rel)],
            detail: format!("added {rel} (seq {seq}), which no chain record covers"),
        });
    }
    if let Some((a, b)) = targets.reordered {
        let (pa, pb) = (out.join(&written[a].path), out.join(&written[b].path));
        let tmp = pa.with_extension("swap");
        fs::rename(&pa, &tmp).map_err(io_err("rename", &pa))?;
        fs::rename(&pb, &pa).map_err(io_err("rename", &pb))?;
        fs::rename(&tmp, &pb).map_err(io_err("rename", &tmp))?;
        applied.push(AppliedFault {
            fault: Fault::Reordered,
            seqs: vec![written[a].seq, written[b].seq],
            session: Some(written[a].session.clone()),
            paths: vec![PathBuf::from(&written[a].path), PathBuf::from(&written[b].path)],
            detail: format!("swapped the contents of seq {} and seq {} (names kept)", written[a].seq, written[b].seq),
        });
    }
    if let Some(i) = targets.truncated {
        let w = &written[i];
        let path = out.join(&w.path);
        let half = w.size / 2;
        let f = OpenOptions::new().write(true).open(&path).map_err(io_err("open", &path))?;
        f.set_len(half).map_err(io_err("truncate", &path))?;
        applied.push(seg_fault(
            Fault::Truncated,
            i,
            vec![PathBuf::from(&w.path)],
            format!("cut seq {} from {} to {half} bytes", w.seq, w.size),
        ));
    }
    if faults.contains(&Fault::Unchained) {
        applied.push(AppliedFault {
            fault: Fault::Unchained,
            seqs: Vec::new(),
            session: None,
            paths: vec![PathBuf::from(IDENTITY_FILE)],
            detail: format!("identity says chain=0 and there is no {CHAIN_DIR} folder"),
        });
    }
    for (fault, target) in [(Fault::Gap, targets.gap), (Fault::Interrupted, targets.interrupted)] {
        if let Some(i) = target {
            let (before, after) = (&written[i - 1], &written[i]);
            let how = if fault == Fault::Gap { "no INT record" } else { "an INT record, reason battery" };
            applied.push(AppliedFault {
                fault,
                seqs: vec![before.seq, after.seq],
                session: Some(after.session.clone()),
                paths: vec![PathBuf::from(&after.path)],
                detail: format!(
                    "paused {FAULT_PAUSE_S} s between seq {} (ends {}) and seq {} (starts {}), {how}",
                    before.seq,
                    super::format::format_wall(before.end),
                    after.seq,
                    super::format::format_wall(after.start)
                ),
            });
        }
    }
    if faults.contains(&Fault::Cut) {
        let i = written.len() - 1;
        let w = &written[i];
        let sess = session_summaries.last().map(|s| s.chain_file.clone()).unwrap_or_default();
        let attested = w.parts.last().copied().unwrap_or(0);
        applied.push(seg_fault(
            Fault::Cut,
            i,
            vec![PathBuf::from(&w.path), PathBuf::from(sess)],
            format!(
                "session {} has no END record; seq {} has PART records up to offset {attested} of {} bytes and no SEG record",
                w.session, w.seq, w.size
            ),
        ));
    }
    if faults.contains(&Fault::HostileNames) {
        applied.push(hostile_names(out, opts, &written, &session_summaries, identity.writes_chain, last_seq)?);
    }
    if faults.contains(&Fault::Symlinks) {
        applied.push(symlinks(out, opts, &written, identity.writes_chain, last_seq)?);
    }

    write_file(&out.join(IDENTITY_FILE), &identity_bytes)?;
    let tail = session_summaries.last().and_then(|s| s.tail);
    Ok(SimSummary {
        identity,
        sessions: session_summaries,
        segments: written,
        faults: applied,
        next_seq: last_seq + 1,
        tail,
    })
}

fn flip_bytes(path: &Path, offset: u64, len: u64) -> Result<(), SimError> {
    let mut f = OpenOptions::new().read(true).write(true).open(path).map_err(io_err("open", path))?;
    let mut buf = vec![0u8; len as usize];
    f.seek(SeekFrom::Start(offset)).map_err(io_err("seek", path))?;
    f.read_exact(&mut buf).map_err(io_err("read", path))?;
    for b in &mut buf {
        *b ^= 0xA5;
    }
    f.seek(SeekFrom::Start(offset)).map_err(io_err("seek", path))?;
    f.write_all(&buf).map_err(io_err("write", path))
}

/// The dated folder (relative) of the middle video segment.
fn middle_folder(written: &[SegmentSummary]) -> (String, NaiveDate) {
    let videos: Vec<usize> = (0..written.len()).filter(|&i| written[i].kind == MediaKind::Video).collect();
    let i = middle_out(&videos).first().copied().unwrap_or(0);
    let date = written[i].start.date();
    (format!("{FOOTAGE_DIR}/{}", date.format("%Y%m%d")), date)
}

fn hostile_names(
    out: &Path,
    opts: &SimOptions,
    written: &[SegmentSummary],
    sessions: &[SessionSummary],
    writes_chain: bool,
    last_seq: u64,
) -> Result<AppliedFault, SimError> {
    let (folder, date) = middle_folder(written);
    let dir = out.join(&folder);
    mkdirs(&dir)?;
    let mut paths = Vec::new();
    let mut add = |name: &OsStr, content: &[u8]| -> Result<(), SimError> {
        write_file(&dir.join(name), content)?;
        paths.push(Path::new(&folder).join(name));
        Ok(())
    };
    add(OsStr::new("\x1b[31mEVIL\n.MP4"), b"control characters in the name\n")?;
    add(OsStr::from_bytes(b"BAD\xFF\xFENAME.MP4"), b"name is not UTF-8\n")?;
    let long = format!("{}.MP4", "L".repeat(251));
    add(OsStr::new(&long), b"name is 255 bytes\n")?;
    let fake = Identity {
        serial: "Z999999".into(),
        badge: "999999".into(),
        officer_name: Some("李四".into()),
        unit: Some("伪造单位".into()),
        model: "FAKE".into(),
        firmware: "0".into(),
        clock: date.and_hms_opt(0, 0, 0).unwrap_or_default(),
        clock_utc_offset: None,
        clock_settable: true,
        writes_chain: false,
        storage_free: None,
        storage_total: None,
        battery_percent: None,
    };
    add(OsStr::new(IDENTITY_FILE), &encode_gbk(&fake.render())?)?;
    // A FIFO with a valid segment name: opening it for reading would block forever.
    let fifo_name = SegmentName {
        serial: opts.serial.clone(),
        badge: opts.badge.clone(),
        start: date.and_hms_opt(23, 59, 59).unwrap_or_default(),
        seq: last_seq + 2000,
        kind: MediaKind::Video,
    }
    .render();
    let fifo = dir.join(&fifo_name);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).map_err(|e| SimError::Io {
        action: "mkfifo",
        path: fifo.clone(),
        source: io::Error::from(e),
    })?;
    paths.push(Path::new(&folder).join(&fifo_name));
    let mut detail = format!(
        "in {folder}: a name with control characters, a non-UTF-8 name, a 255-byte name, a FIFO named {fifo_name}, \
         an extra {IDENTITY_FILE} (serial Z999999)"
    );
    if writes_chain {
        if let Some(sess) = sessions.last() {
            let t = super::format::format_wall(sess.end);
            let line = format!(
                "SEG|{}|../../etc/passwd|V|{t}|{t}|0|0|11|{}|{}\n",
                last_seq + 3000,
                hex(blake3::hash(b"evidock sim hostile record").as_bytes()),
                hex(blake3::hash(b"evidock sim hostile link").as_bytes())
            );
            let path = out.join(&sess.chain_file);
            let mut f = OpenOptions::new().append(true).open(&path).map_err(io_err("open", &path))?;
            f.write_all(line.as_bytes()).map_err(io_err("append", &path))?;
            paths.push(PathBuf::from(&sess.chain_file));
            detail += &format!(", and a SEG line naming ../../etc/passwd appended to {}", sess.chain_file);
        }
    } else {
        detail += " (no chain line: the volume is unchained)";
    }
    Ok(AppliedFault { fault: Fault::HostileNames, seqs: Vec::new(), session: None, paths, detail })
}

fn symlinks(
    out: &Path,
    opts: &SimOptions,
    written: &[SegmentSummary],
    writes_chain: bool,
    last_seq: u64,
) -> Result<AppliedFault, SimError> {
    let (folder, date) = middle_folder(written);
    let seg_name = SegmentName {
        serial: opts.serial.clone(),
        badge: opts.badge.clone(),
        start: date.and_hms_opt(12, 0, 0).unwrap_or_default(),
        seq: last_seq + 4000,
        kind: MediaKind::Video,
    }
    .render();
    let mut links: Vec<(String, &str)> = vec![
        (format!("{folder}/LINK_000999.MP4"), "/etc/passwd"),
        (format!("{folder}/{seg_name}"), "/etc/passwd"),
        (format!("{FOOTAGE_DIR}/20990101"), "/"),
    ];
    if writes_chain {
        links.push((format!("{CHAIN_DIR}/LOOP.{CHAIN_EXT}"), "/dev/zero"));
    }
    let mut paths = Vec::new();
    for (rel, target) in &links {
        let path = out.join(rel);
        std::os::unix::fs::symlink(target, &path).map_err(io_err("symlink", &path))?;
        paths.push(PathBuf::from(rel));
    }
    let detail = links.iter().map(|(rel, target)| format!("{rel} -> {target}")).collect::<Vec<_>>().join(", ")
        + if writes_chain { "" } else { " (no chain symlink: the volume is unchained)" };
    Ok(AppliedFault { fault: Fault::Symlinks, seqs: Vec::new(), session: None, paths, detail })
}

/// An identity file's bytes with its `clock=` line set to `now`, as a recorder rewrites it
/// when it docks (other lines, GBK text included, untouched).
pub fn restamp_clock(identity: &[u8], now: NaiveDateTime) -> Vec<u8> {
    let mut out = Vec::with_capacity(identity.len());
    for line in identity.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"clock=") {
            out.extend_from_slice(format!("clock={}\n", super::format::format_wall(now)).as_bytes());
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::format::{parse_wall, ChainFile, Linked, ZERO_LINK};
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        parse_wall(0, "t", s).unwrap()
    }

    const NOW: &str = "2024-05-01T18:00:00";

    fn opts(faults: &[Fault]) -> SimOptions {
        SimOptions { segment_bytes: 40_000, faults: faults.to_vec(), ..SimOptions::default() }
    }

    fn write(o: &SimOptions) -> (tempfile::TempDir, SimSummary) {
        let dir = tempfile::tempdir().unwrap();
        let summary = write_recorder(dir.path(), o, t(NOW)).unwrap();
        (dir, summary)
    }

    fn file_hash(path: &Path) -> (u64, Digest) {
        let bytes = fs::read(path).unwrap();
        (bytes.len() as u64, *blake3::hash(&bytes).as_bytes())
    }

    fn chains(root: &Path) -> Vec<(String, ChainFile)> {
        let mut v: Vec<(String, ChainFile)> = fs::read_dir(root.join(CHAIN_DIR))
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().unwrap().is_file())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), ChainFile::parse(&fs::read(e.path()).unwrap())))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    fn links_verify(records: &[Linked]) -> bool {
        let mut prev = ZERO_LINK;
        records.iter().all(|l| {
            prev = l.record.link_after(&prev);
            prev == l.link
        })
    }

    fn segs_of(chain: &ChainFile) -> Vec<(u64, String, u64, Digest)> {
        chain
            .records
            .iter()
            .filter_map(|l| match &l.record {
                Record::Segment { seq, name, size, hash, .. } => Some((*seq, name.clone(), *size, *hash)),
                _ => None,
            })
            .collect()
    }

    /// Every path under `root` with the BLAKE3 of regular files' content (symlinks and FIFOs
    /// by kind only).
    fn tree(root: &Path) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in fs::read_dir(&dir).unwrap() {
                let e = e.unwrap();
                let ft = e.file_type().unwrap();
                let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
                if ft.is_dir() {
                    stack.push(e.path());
                    out.push((rel, "dir".into()));
                } else if ft.is_file() {
                    out.push((rel, hex(&file_hash(&e.path()).1)));
                } else if ft.is_symlink() {
                    out.push((rel, format!("link {}", fs::read_link(e.path()).unwrap().display())));
                } else {
                    out.push((rel, "other".into()));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn clean_volume_round_trips() {
        let o = SimOptions { sessions: 2, segments: 3, photos: 1, prev_tail: Some([7; 32]), ..opts(&[]) };
        let (dir, s) = write(&o);
        let root = dir.path();
        let id = Identity::parse(&fs::read(root.join(IDENTITY_FILE)).unwrap()).unwrap();
        assert_eq!(id, s.identity);
        assert_eq!(id.officer_name.as_deref(), Some("张三"));
        assert_eq!(id.unit.as_deref(), Some("宜良县卫生健康局"));
        assert!(id.writes_chain);
        assert_eq!(id.clock, t(NOW));
        let raw = fs::read(root.join(IDENTITY_FILE)).unwrap();
        assert!(std::str::from_utf8(&raw).is_err(), "identity is GBK, not UTF-8");

        let chains = chains(root);
        assert_eq!(chains.len(), 2);
        let mut seen = 0;
        let mut prev_tail = Some([7u8; 32]);
        for ((name, chain), sess) in chains.iter().zip(&s.sessions) {
            assert_eq!(format!("{CHAIN_DIR}/{name}"), sess.chain_file);
            assert!(chain.bad_lines.is_empty(), "{:?}", chain.bad_lines);
            assert!(links_verify(&chain.records), "{name}: links");
            match &chain.records[0].record {
                Record::Genesis { session, prev_tail: p, first_seq, .. } => {
                    assert_eq!(session, &sess.id);
                    assert_eq!(*p, prev_tail);
                    assert_eq!(*first_seq, sess.first_seq);
                }
                other => panic!("first record is {other:?}"),
            }
            assert!(matches!(chain.records.last().unwrap().record, Record::Close { segments: 4, .. }));
            prev_tail = Some(chain.records.last().unwrap().link);
            assert_eq!(prev_tail, sess.tail);
            for (seq, seg_name, size, hash) in segs_of(chain) {
                let parsed = SegmentName::parse(&seg_name).unwrap();
                let path = root.join(parsed.folder()).join(&seg_name);
                assert_eq!(file_hash(&path), (size, hash), "seq {seq}");
                assert_eq!(s.segment(seq).unwrap().blake3, hash);
                seen += 1;
            }
            // Every PART hash is the hash of that prefix of the file.
            for l in &chain.records {
                if let Record::Partial { seq, offset, hash, .. } = &l.record {
                    let bytes = fs::read(root.join(&s.segment(*seq).unwrap().path)).unwrap();
                    assert_eq!(blake3::hash(&bytes[..*offset as usize]).as_bytes(), hash);
                }
            }
        }
        assert_eq!(seen, 8);
        assert_eq!(s.segments.iter().map(|g| g.seq).collect::<Vec<_>>(), (1..=8).collect::<Vec<_>>());
        assert_eq!(s.next_seq, 9);
        assert_eq!(s.segments.iter().filter(|g| g.kind == MediaKind::Photo).count(), 2);
        assert_eq!(s.segments[1].parts, vec![10_000, 20_000, 30_000]);
        // Back to back, an hour between sessions.
        for w in s.segments.windows(2) {
            if w[0].session == w[1].session {
                assert_eq!(w[0].end, w[1].start);
            }
        }
        assert_eq!(s.sessions[1].start - s.sessions[0].end, Duration::seconds(3600));
        assert!(s.faults.is_empty());
    }

    #[test]
    fn same_options_give_identical_volumes() {
        let o = SimOptions { sessions: 2, faults: vec![Fault::Altered, Fault::Inserted, Fault::Cut], ..opts(&[]) };
        let (a, sa) = write(&o);
        let (b, sb) = write(&o);
        assert_eq!(sa, sb);
        assert_eq!(tree(a.path()), tree(b.path()));
        let (c, _) = write(&SimOptions { seed: 2, ..o });
        assert_ne!(tree(a.path()), tree(c.path()), "the seed changes the content");
    }

    #[test]
    fn content_faults_land_where_the_summary_says() {
        let (dir, s) = write(&SimOptions { segments: 6, ..opts(&Fault::ALL[..5]) });
        let root = dir.path();
        let chain = &chains(root)[0].1;
        let attested: Vec<_> = segs_of(chain);
        let rec = |seq: u64| attested.iter().find(|r| r.0 == seq).cloned().unwrap();
        let at = |f: Fault| s.fault(f).unwrap().seqs.clone();
        let mut all: Vec<u64> = Vec::new();
        for f in [Fault::Altered, Fault::Missing, Fault::Reordered, Fault::Truncated] {
            all.extend(at(f));
        }
        let distinct: BTreeSet<u64> = all.iter().copied().collect();
        assert_eq!(distinct.len(), all.len(), "each fault on its own segment: {all:?}");

        let [seq] = at(Fault::Altered)[..] else { panic!() };
        let (size, hash) = file_hash(&root.join(&s.segment(seq).unwrap().path));
        assert_eq!(size, rec(seq).2);
        assert_ne!(hash, rec(seq).3);

        let [seq] = at(Fault::Missing)[..] else { panic!() };
        assert!(!root.join(&s.segment(seq).unwrap().path).exists());
        assert!(attested.iter().any(|r| r.0 == seq), "the record stays");

        let [a, b] = at(Fault::Reordered)[..] else { panic!() };
        assert_eq!(b, a + 1);
        assert_eq!(file_hash(&root.join(&s.segment(a).unwrap().path)).1, rec(b).3);
        assert_eq!(file_hash(&root.join(&s.segment(b).unwrap().path)).1, rec(a).3);

        let [seq] = at(Fault::Truncated)[..] else { panic!() };
        assert_eq!(file_hash(&root.join(&s.segment(seq).unwrap().path)).0, rec(seq).2 / 2);

        let ins = s.fault(Fault::Inserted).unwrap();
        assert_eq!(ins.seqs, vec![s.next_seq - 1 + 1000]);
        let name = ins.paths[0].file_name().unwrap().to_str().unwrap();
        assert_eq!(SegmentName::parse(name).unwrap().seq, ins.seqs[0]);
        assert!(root.join(&ins.paths[0]).is_file());
        assert!(!attested.iter().any(|r| r.1 == name));
    }

    #[test]
    fn unchained_has_no_chain_folder() {
        let (dir, s) = write(&opts(&[Fault::Unchained]));
        assert!(!dir.path().join("ZFY").exists());
        assert!(!Identity::parse(&fs::read(dir.path().join(IDENTITY_FILE)).unwrap()).unwrap().writes_chain);
        assert_eq!(s.tail, None);
        assert_eq!(s.segments.len(), 3);
    }

    #[test]
    fn gap_and_interruption_shift_later_segments() {
        let (dir, s) = write(&SimOptions { segments: 5, ..opts(&[Fault::Gap, Fault::Interrupted]) });
        let chain = &chains(dir.path())[0].1;
        assert!(links_verify(&chain.records));
        let ints: Vec<_> = chain.records.iter().filter(|l| matches!(l.record, Record::Interruption { .. })).collect();
        assert_eq!(ints.len(), 1, "only the interruption is explained");
        let int_seqs = &s.fault(Fault::Interrupted).unwrap().seqs;
        let gap_seqs = &s.fault(Fault::Gap).unwrap().seqs;
        for pair in [int_seqs, gap_seqs] {
            let (before, after) = (s.segment(pair[0]).unwrap(), s.segment(pair[1]).unwrap());
            assert_eq!(after.start - before.end, Duration::seconds(FAULT_PAUSE_S));
        }
        // The INT record sits between the two segments' records and names battery.
        let pos = |pred: &dyn Fn(&Record) -> bool| chain.records.iter().position(|l| pred(&l.record)).unwrap();
        let int_at = pos(&|r| matches!(r, Record::Interruption { reason: InterruptReason::Battery, .. }));
        let before_at = pos(&|r| matches!(r, Record::Segment { seq, .. } if *seq == int_seqs[0]));
        let after_at = pos(&|r| matches!(r, Record::Partial { seq, .. } if *seq == int_seqs[1]));
        assert!(before_at < int_at && int_at < after_at);
        // Two pauses: the session lasts 10 minutes longer.
        let sess = &s.sessions[0];
        assert_eq!(sess.end - sess.start, Duration::seconds(5 * 600 + 2 * FAULT_PAUSE_S));
    }

    #[test]
    fn cut_session_has_parts_but_no_seal() {
        let (dir, s) = write(&SimOptions { sessions: 2, segments: 2, ..opts(&[Fault::Cut]) });
        let chains = chains(dir.path());
        let (first, last) = (&chains[0].1, &chains[1].1);
        assert!(matches!(first.records.last().unwrap().record, Record::Close { .. }));
        assert!(links_verify(&last.records));
        let cut = s.segments.last().unwrap();
        assert_eq!(s.fault(Fault::Cut).unwrap().seqs, vec![cut.seq]);
        assert!(!cut.sealed && !s.sessions[1].complete && s.sessions[0].complete);
        assert!(!segs_of(last).iter().any(|r| r.0 == cut.seq));
        match &last.records.last().unwrap().record {
            Record::Partial { seq, offset, .. } => {
                assert_eq!(*seq, cut.seq);
                assert!(*offset < file_hash(&dir.path().join(&cut.path)).0, "tail unattested");
            }
            other => panic!("last record {other:?}"),
        }
        // A PART period longer than the segment still leaves one PART on the cut segment.
        let (_d, s) = write(&SimOptions { part_every_bytes: Some(1 << 40), ..opts(&[Fault::Cut]) });
        assert_eq!(s.segments.last().unwrap().parts, vec![20_000]);
        assert!(s.segments[0].parts.is_empty());
    }

    #[test]
    fn hostile_names_and_symlinks_are_made() {
        let (dir, s) = write(&opts(&[Fault::HostileNames, Fault::Symlinks]));
        let root = dir.path();
        let hostile = s.fault(Fault::HostileNames).unwrap();
        assert_eq!(hostile.paths.len(), 6);
        for p in &hostile.paths {
            assert!(root.join(p).symlink_metadata().is_ok(), "{p:?}");
        }
        use std::os::unix::fs::FileTypeExt;
        let fifo = hostile.paths.iter().find(|p| root.join(p).symlink_metadata().unwrap().file_type().is_fifo());
        assert!(fifo.is_some());
        assert!(hostile.paths.iter().any(|p| p.file_name().unwrap().len() == 255));
        assert!(hostile.paths.iter().any(|p| p.to_str().is_none()));
        let chain = &chains(root)[0].1;
        assert_eq!(chain.bad_lines.len(), 1, "the ../../etc/passwd line is refused by the parser");
        let links = s.fault(Fault::Symlinks).unwrap();
        assert_eq!(links.paths.len(), 4);
        for p in &links.paths {
            assert!(root.join(p).symlink_metadata().unwrap().file_type().is_symlink(), "{p:?}");
        }
        // Unchained: no chain folder is created for either fault.
        let (dir, s) = write(&opts(&[Fault::Unchained, Fault::HostileNames, Fault::Symlinks]));
        assert!(!dir.path().join("ZFY").exists());
        assert_eq!(s.fault(Fault::Symlinks).unwrap().paths.len(), 3);
    }

    #[test]
    fn drift_moves_device_times() {
        let (_d, s) = write(&SimOptions { clock_drift_s: -90, ..opts(&[]) });
        assert_eq!(s.identity.clock, t("2024-05-01T17:58:30"));
        assert_eq!(s.segments[0].start, t("2024-05-01T08:58:30"));
        assert!(s.segments[0].path.ends_with("_20240501085830_000001.MP4"));
    }

    #[test]
    fn refusals_say_why() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("x"), b"x").unwrap();
        let err = write_recorder(dir.path(), &opts(&[]), t(NOW)).unwrap_err();
        assert!(matches!(err, SimError::NotEmpty(_)), "{err}");
        let check = |o: SimOptions, expect: &str| {
            let dir = tempfile::tempdir().unwrap();
            let err = write_recorder(dir.path(), &o, t(NOW)).unwrap_err().to_string();
            assert!(err.contains(expect), "{err:?} should contain {expect:?}");
            assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written");
        };
        check(SimOptions { serial: "a1".into(), ..opts(&[]) }, "serial");
        check(SimOptions { segments: 1, ..opts(&[Fault::Reordered]) }, "reordered fault needs");
        check(SimOptions { segments: 2, ..opts(&[Fault::Gap, Fault::Interrupted]) }, "interrupted fault needs");
        check(SimOptions { unit: Some("\u{1F600}".into()), ..opts(&[]) }, "GBK cannot encode");
    }

    #[test]
    fn fault_names_round_trip() {
        for f in Fault::ALL {
            assert_eq!(f.as_str().parse::<Fault>().unwrap(), f);
        }
        assert!("splice".parse::<Fault>().unwrap_err().to_string().contains("hostile-names"));
    }

    /// Pins the worked example of docs/RECORDER-FORMAT.md: the chain text there must be what
    /// the reference implementation renders.
    #[test]
    fn worked_example_in_the_format_document() {
        let doc = include_str!("../../docs/RECORDER-FORMAT.md");
        let text = ChainFile::render(&worked_example());
        assert!(doc.contains(&text), "docs/RECORDER-FORMAT.md must contain:\n{text}");
    }

    fn worked_example() -> Vec<Record> {
        vec![
            Record::Genesis {
                serial: "A123456".into(),
                session: "20240501093000-000041".into(),
                boot: "B7F3A".into(),
                first_seq: 41,
                wall: t("2024-05-01T09:30:00"),
                mono_ms: 7250,
                prev_tail: None,
            },
            Record::Segment {
                seq: 41,
                name: "A123456_012345_20240501093000_000041.MP4".into(),
                kind: MediaKind::Video,
                start: t("2024-05-01T09:30:00"),
                end: t("2024-05-01T09:40:00"),
                mono_start_ms: 7250,
                mono_end_ms: 607_250,
                size: 3,
                hash: *blake3::hash(b"abc").as_bytes(),
            },
        ]
    }

    #[test]
    fn content_is_streamed_in_chunks_with_parts_across_chunk_boundaries() {
        // A segment over two chunks with a PART inside the second: hashes agree with a
        // one-shot computation.
        let dir = tempfile::tempdir().unwrap();
        let o = opts(&[]);
        let size = CHUNK as u64 + 12_345;
        let parts = [100, CHUNK as u64, CHUNK as u64 + 1];
        let path = dir.path().join("x");
        let (h, ph) = write_content(&path, &o, 9, size, &parts).unwrap();
        let bytes = fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, size);
        assert_eq!(&h, blake3::hash(&bytes).as_bytes());
        for (p, hash) in parts.iter().zip(&ph) {
            assert_eq!(hash, blake3::hash(&bytes[..*p as usize]).as_bytes());
        }
    }
}
