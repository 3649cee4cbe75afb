//! Segment hash chain verification: a pure function from what the recorder's chain files say,
//! what the dock actually read and what the dock remembers of the recorder to a verdict per
//! segment and per session, and the contradictions it names.
//!
//! Owns: the classification of every segment (verified, altered, missing, inserted, reordered,
//! truncated, unchained), every session (complete, cut, end_mismatch), every gap (explained,
//! unexplained) and every [`Contradiction`] (a link not continued, sequence numbers or a
//! session id used before, another recorder's serial, an `END` that disagrees, duplicate
//! records), within the limits per docking ([`MAX_RECORD_FINDINGS`], [`MAX_GAPS`],
//! [`MAX_CONTRADICTIONS`], [`MAX_NOTES`]).
//! Must never: do I/O, read a clock, or fail because of tampering: finding tampering is a
//! result, not an error (R5, R6, R13).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDateTime;

use super::format::{
    hex, ChainFile, Digest, FormatError, InterruptReason, Linked, MediaKind, Record, SegmentName, ZERO_LINK,
};
use super::memory::{KnownSession, Memory};
use super::seal::DOCK_BOOT;

/// What the dock read of one footage file on the volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFile {
    /// File name (a [`super::format::SegmentName`] where it parses).
    pub name: String,
    /// Where the file is on the volume (`DCIM/<folder>/<name>`), or, for footage an earlier
    /// docking archived and wiped, where it was: what tells two files of one name apart.
    pub source: String,
    /// Bytes read.
    pub size: u64,
    /// BLAKE3 of the bytes read.
    pub hash: Digest,
    /// BLAKE3 of the first `offset` bytes, for each offset [`requested_prefixes`] asked for
    /// that lies within the file.
    pub prefixes: Vec<(u64, Digest)>,
}

/// Everything [`verify`] looks at.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// Chain files by file name (session chain files from `ZFY/CHAIN/`).
    pub chains: &'a [(String, ChainFile)],
    /// Footage files read from the volume.
    pub files: &'a [ReadFile],
    /// Whether the recorder states it writes a chain (identity `chain=1`).
    pub writes_chain: bool,
    /// A pause between two segments longer than this is a gap.
    pub gap_tolerance_ms: u64,
    /// The sequence number the dock expects first, from earlier dockings of this device
    /// (one past the last seen), when known.
    pub expected_first_seq: Option<u64>,
    /// The serial the identity file states: the chain's genesis records and the segment names
    /// must carry it.
    pub serial: &'a str,
    /// What the dock remembers of this device's chain from earlier dockings.
    pub memory: &'a Memory,
}

/// Who vouches for the footage's integrity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// The recorder wrote a chain as it recorded: sealed at source.
    SealedAtSource,
    /// The recorder wrote no chain; the dock sealed one at ingest (weaker).
    SealedAtDock,
}

/// The verdict on one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// File matches its chain record and the chain is intact around it.
    Verified,
    /// File content or its record differs from what the chain attests.
    Altered,
    /// The chain (or a gap in sequence numbers) names a segment that is not on the volume.
    Missing,
    /// A file, or a record, that the chain does not account for.
    Inserted,
    /// A file or record out of its attested place.
    Reordered,
    /// File shorter than attested, or a cut session's last segment with an unattested tail.
    Truncated,
    /// The recorder wrote no chain for it.
    Unchained,
}

impl Verdict {
    /// Stable lower-case name (used in the catalogue, the custody log and `--json`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Verified => "verified",
            Verdict::Altered => "altered",
            Verdict::Missing => "missing",
            Verdict::Inserted => "inserted",
            Verdict::Reordered => "reordered",
            Verdict::Truncated => "truncated",
            Verdict::Unchained => "unchained",
        }
    }
    /// Chinese label for reports and the status view.
    pub fn label_zh(self) -> &'static str {
        match self {
            Verdict::Verified => "校验通过",
            Verdict::Altered => "被篡改",
            Verdict::Missing => "缺失",
            Verdict::Inserted => "被插入",
            Verdict::Reordered => "顺序错乱",
            Verdict::Truncated => "被截断",
            Verdict::Unchained => "无哈希链",
        }
    }
    /// Whether the verdict is flagged (anything but verified).
    pub fn is_flagged(self) -> bool {
        self != Verdict::Verified
    }
}

/// The finding on one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFinding {
    /// Sequence number, where known (from a record or the file name); for a run of absent
    /// numbers, the first of the run.
    pub seq: Option<u64>,
    /// For a run of absent sequence numbers, the last of the run; `None` otherwise.
    pub last_seq: Option<u64>,
    /// File name, where known.
    pub name: Option<String>,
    /// The file on the volume the verdict is about (its [`ReadFile::source`]); `None` when no
    /// file is judged (a record whose file is absent, absent sequence numbers).
    pub source: Option<String>,
    /// Session (chain file's genesis session id), where known.
    pub session: Option<String>,
    /// Media kind, where known.
    pub kind: Option<MediaKind>,
    /// Start and end (device wall clock), where known.
    pub start: Option<NaiveDateTime>,
    /// End (device wall clock), where known.
    pub end: Option<NaiveDateTime>,
    /// The verdict.
    pub verdict: Verdict,
    /// Bytes whose integrity a record attests (the whole file when verified, a prefix when a
    /// partial-hash record covers only the start).
    pub attested_bytes: u64,
    /// One sentence saying what was found, in English, naming lines and values.
    pub detail: String,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Closed by an `END` record that agrees with its segments.
    Complete,
    /// No `END` record: cut by power loss (or the chain file was cut short).
    Cut,
    /// Closed by an `END` record that disagrees with its segments (their number or the last
    /// sequence number): it needs review ([`ContradictionKind::EndMismatch`]).
    EndMismatch,
}

impl SessionState {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Complete => "complete",
            SessionState::Cut => "cut",
            SessionState::EndMismatch => "end_mismatch",
        }
    }
    /// Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            SessionState::Complete => "正常结束",
            SessionState::Cut => "断电中断",
            SessionState::EndMismatch => "结束记录不符",
        }
    }
}

/// A pause in recording between two consecutive segments of one session (R6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// Sequence number of the segment before the gap.
    pub after_seq: u64,
    /// Sequence number of the segment after the gap.
    pub before_seq: u64,
    /// End of the segment before (device wall clock).
    pub from: NaiveDateTime,
    /// Start of the segment after (device wall clock).
    pub to: NaiveDateTime,
    /// Length in milliseconds (monotonic clock where both sides share a boot).
    pub duration_ms: u64,
    /// The recorder's reason, when an `INT` record explains the gap; `None` is unexplained.
    pub reason: Option<InterruptReason>,
}

/// The finding on one session (one chain file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFinding {
    /// Chain file name.
    pub chain_file: String,
    /// Session id from the genesis record (the chain file stem when there is no genesis).
    pub session: String,
    /// How it ended.
    pub state: SessionState,
    /// Whether every link verified.
    pub links_intact: bool,
    /// First and last sequence numbers the session's records name.
    pub first_seq: Option<u64>,
    /// Last sequence number.
    pub last_seq: Option<u64>,
    /// Start and end of the session (device wall clock).
    pub start: Option<NaiveDateTime>,
    /// End of the session.
    pub end: Option<NaiveDateTime>,
    /// Gaps between its segments.
    pub gaps: Vec<Gap>,
    /// Problems with the chain itself (broken links, bad lines, clock jumps, reboots), one
    /// sentence each, at most [`MAX_NOTES`] (the last one then says how many more there were).
    pub notes: Vec<String>,
}

/// What a [`Contradiction`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContradictionKind {
    /// A session's `GEN.prev_tail` does not name the last link of the device's previous
    /// session: the one before it on the volume, or the last one the dock saw at an earlier
    /// docking (an empty or made-up previous link).
    LinkNotContinued,
    /// Sequence numbers used before: by a session the dock saw at an earlier docking, by an
    /// earlier session on the volume, or by two segments of one session.
    SeqReused,
    /// A session id seen before with other records (at an earlier docking), or in two chain
    /// files of the volume.
    SessionReused,
    /// The serial in the chain (a genesis record, a segment name in a `SEG` record) or in a
    /// footage file name is not the serial of the identity file.
    SerialMismatch,
    /// An `END` record that disagrees with its session's `SEG` records (their number, the last
    /// sequence number).
    EndMismatch,
    /// Two `SEG` records name one segment file; the file is judged once, by one of them.
    DuplicateRecord,
    /// More findings than the limits per docking allow: the rest is summarised in one.
    FindingsCapped,
}

impl ContradictionKind {
    /// Every kind, in declaration order.
    pub const ALL: [ContradictionKind; 7] = [
        ContradictionKind::LinkNotContinued,
        ContradictionKind::SeqReused,
        ContradictionKind::SessionReused,
        ContradictionKind::SerialMismatch,
        ContradictionKind::EndMismatch,
        ContradictionKind::DuplicateRecord,
        ContradictionKind::FindingsCapped,
    ];

    /// Stable lower-case name (used in the catalogue, the custody log and `--json`).
    pub fn as_str(self) -> &'static str {
        match self {
            ContradictionKind::LinkNotContinued => "link_not_continued",
            ContradictionKind::SeqReused => "seq_reused",
            ContradictionKind::SessionReused => "session_reused",
            ContradictionKind::SerialMismatch => "serial_mismatch",
            ContradictionKind::EndMismatch => "end_mismatch",
            ContradictionKind::DuplicateRecord => "duplicate_record",
            ContradictionKind::FindingsCapped => "findings_capped",
        }
    }
    /// Chinese label for reports and the status view.
    pub fn label_zh(self) -> &'static str {
        match self {
            ContradictionKind::LinkNotContinued => "哈希链未衔接",
            ContradictionKind::SeqReused => "序号重复使用",
            ContradictionKind::SessionReused => "会话编号重复",
            ContradictionKind::SerialMismatch => "设备序列号不符",
            ContradictionKind::EndMismatch => "结束记录不符",
            ContradictionKind::DuplicateRecord => "重复记录",
            ContradictionKind::FindingsCapped => "异常过多，余者汇总",
        }
    }
}

/// A contradiction between the chain and what the dock remembers of the recorder, between the
/// chain and the identity, or within the volume. Each one makes the docking need review (R5,
/// R13); none blocks the ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contradiction {
    /// What kind.
    pub kind: ContradictionKind,
    /// The session it is about, where there is one.
    pub session: Option<String>,
    /// The chain file it is about, where there is one.
    pub chain_file: Option<String>,
    /// The line of that chain file, where there is one.
    pub line: Option<usize>,
    /// The sequence numbers it is about (first, last), where it is about numbers.
    pub seqs: Option<(u64, u64)>,
    /// One sentence in English, naming files, lines and values.
    pub detail: String,
    /// The same in Chinese.
    pub detail_zh: String,
}

/// The outcome of verifying one docking's footage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Sealed at source or at dock.
    pub provenance: Provenance,
    /// One finding per file on the volume, per record whose file is absent, and per run of
    /// absent sequence numbers, in sequence order, unsequenced ones last by name. Findings
    /// with no file beyond [`MAX_RECORD_FINDINGS`] are summarised in a
    /// [`ContradictionKind::FindingsCapped`] contradiction.
    pub segments: Vec<SegmentFinding>,
    /// One finding per chain file.
    pub sessions: Vec<SessionFinding>,
    /// Chain lines that could not be parsed, by chain file: at most [`MAX_RECORD_FINDINGS`].
    pub bad_lines: Vec<(String, FormatError)>,
    /// Contradictions, at most [`MAX_CONTRADICTIONS`] (and one summary).
    pub contradictions: Vec<Contradiction>,
    /// Sessions the dock had not seen before, for it to remember (another recorder's chains,
    /// by their serial, are not learnt).
    pub learnt: Vec<KnownSession>,
}

impl Report {
    /// Whether every segment verified, every session is complete, there is no gap and nothing
    /// contradicts.
    pub fn is_clean(&self) -> bool {
        self.segments.iter().all(|s| !s.verdict.is_flagged())
            && self.sessions.iter().all(|s| s.state == SessionState::Complete && s.links_intact && s.gaps.is_empty())
            && self.bad_lines.is_empty()
            && self.contradictions.is_empty()
    }
}

/// Most findings per docking that are about no file on the volume (records whose file is
/// absent, runs of absent sequence numbers): a run of absent numbers is one finding however
/// long, and what is beyond this is counted in one [`ContradictionKind::FindingsCapped`].
/// Every file on the volume always has its own finding.
pub const MAX_RECORD_FINDINGS: usize = 1000;
/// Most gaps reported per docking.
pub const MAX_GAPS: usize = 1000;
/// Most contradictions reported per docking (the summary aside).
pub const MAX_CONTRADICTIONS: usize = 100;
/// Most notes per session (the last one then says how many more there were).
pub const MAX_NOTES: usize = 50;

/// The prefix offsets the chains' `PART` records attest, by segment file name, so that the
/// copier can hash those prefixes as it streams.
///
/// Each `PART` record's offset is keyed by the name the `SEG` record with the same sequence
/// number gives (in any chain), or, when no such record exists (the last segment of a cut
/// session), by every name in `file_names` whose [`SegmentName`] carries that number.
/// `file_names` are bare file names, as in [`ReadFile::name`]. Offsets are sorted and
/// deduplicated; names no offset applies to are absent.
pub fn requested_prefixes(chains: &[(String, ChainFile)], file_names: &[String]) -> BTreeMap<String, Vec<u64>> {
    let mut offsets: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for (_, chain) in chains {
        for l in &chain.records {
            if let Record::Partial { seq, offset, .. } = &l.record {
                offsets.entry(*seq).or_default().insert(*offset);
            }
        }
    }
    let mut seg_names: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    for (_, chain) in chains {
        for l in &chain.records {
            if let Record::Segment { seq, name, .. } = &l.record {
                if offsets.contains_key(seq) {
                    seg_names.entry(*seq).or_default().insert(name);
                }
            }
        }
    }
    let mut out: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let mut file_names_by_seq: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    for f in file_names {
        if let Some(n) =
            SegmentName::parse(f).filter(|n| offsets.contains_key(&n.seq) && !seg_names.contains_key(&n.seq))
        {
            file_names_by_seq.entry(n.seq).or_default().insert(f);
        }
    }
    for (seq, offs) in &offsets {
        let names = seg_names.get(seq).or_else(|| file_names_by_seq.get(seq));
        for name in names.into_iter().flatten() {
            out.entry(name.to_string()).or_default().extend(offs.iter().copied());
        }
    }
    out.into_iter().map(|(name, offs)| (name, offs.into_iter().collect())).collect()
}

/// Verifies one docking's footage against its chains and the dock's memory of the device.
///
/// Never fails: whatever the volume holds, the answer is a [`Report`]. In outline (the
/// normative rules are in `docs/RECORDER-FORMAT.md`, contract `ZFY-CUSTODY/1`):
///
/// - Without a usable chain (`writes_chain` false, no chain file, or chain files without one
///   readable record) every file is [`Verdict::Unchained`] and the provenance is
///   [`Provenance::SealedAtDock`].
/// - Each chain file's links are walked from [`ZERO_LINK`]. A record that does not link to
///   the one before is explained, in this order, as two records swapped (both
///   [`Verdict::Reordered`]), an inserted record (the next record links past it:
///   [`Verdict::Inserted`]), a removed record (the next record links from it and a sequence
///   number is absent before it: that number [`Verdict::Missing`]), an edited record (the next
///   record links from it: its segment [`Verdict::Altered`]), or else a broken chain. A record
///   with nothing after it is judged by the next session's `GEN.prev_tail` where there is one.
///   Records after `END` are inserted. Every such break is a session note and clears
///   [`SessionFinding::links_intact`]. A chain file with the very records of another (the same
///   session copied) is judged once.
/// - Each file is compared with the `SEG` record of its name: verified, altered, truncated
///   (shorter; the largest `PART` prefix that still matches is attested), reordered (it holds
///   another record's content) or, with no record, inserted. Where several files share a name
///   (in two dated folders), the record judges the one whose content it attests, else the one
///   in the dated folder of its name; the others are inserted. Where several records name one
///   file, the file is judged once, by the record that attests its content (else the first),
///   and each other record is a [`ContradictionKind::DuplicateRecord`]. The last segment of a
///   cut session (`PART` records, no `SEG`) is truncated with the last matching `PART` offset
///   attested, or altered when that prefix does not match. A segment of a chain whose genesis,
///   or whose name, carries another serial than the identity is never verified: it is
///   inserted ([`ContradictionKind::SerialMismatch`]).
/// - Every run of sequence numbers from `expected_first_seq` (or the smallest seen) to the
///   largest seen with neither a `SEG` record nor a file is one missing finding.
/// - Pauses between consecutive video or audio segments of a session (by sequence number)
///   longer than `gap_tolerance_ms` are gaps, explained by the first `INT` record between
///   them. A pause is measured on the monotonic clock, or across a `BOOT` on the wall clock
///   less any `CLK` settings between them.
/// - Each session must continue the one before it: its `GEN.prev_tail` names that session's
///   last link and its numbers start past that session's. "Before it" is the previous chain on
///   the volume or, for a session the dock has not seen, the last session the dock remembers,
///   whichever reaches further. A session the dock remembers must hold the records it held
///   then (a recorder docked again without a wipe is not a replay). An `END` record that
///   disagrees with its session's records makes it [`SessionState::EndMismatch`]. Each
///   contradiction is named ([`Contradiction`]).
///
/// A chain whose every genesis names the dock's boot marker ([`DOCK_BOOT`], see
/// [`super::seal`]) was sealed at the dock; any other chain was sealed at source.
pub fn verify(input: &Input<'_>) -> Report {
    let usable = input.writes_chain && input.chains.iter().any(|(_, c)| !c.records.is_empty());
    if !usable {
        return unchained(input);
    }
    Verifier::new(input).run()
}

fn short(d: &Digest) -> String {
    let mut h = hex(d);
    h.truncate(12);
    h
}

fn stem(file: &str) -> String {
    file.rsplit_once('.').map_or(file, |(s, _)| s).to_string()
}

/// The wall-clock time a record speaks of last.
fn record_time(r: &Record) -> NaiveDateTime {
    match r {
        Record::Genesis { wall, .. }
        | Record::Partial { wall, .. }
        | Record::Interruption { wall, .. }
        | Record::Reboot { wall, .. }
        | Record::Close { wall, .. } => *wall,
        Record::Segment { end, .. } => *end,
        Record::ClockJump { new, .. } => *new,
    }
}

fn describe(r: &Record) -> String {
    match r {
        Record::Segment { seq, .. } => format!("SEG seq {seq}"),
        Record::Partial { seq, offset, .. } => format!("PART seq {seq} offset {offset}"),
        other => other.tag().to_string(),
    }
}

/// `a` or `a to b`.
fn range_text(a: u64, b: u64) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a} to {b}")
    }
}

/// `a` or `a–b`.
fn range_zh(a: u64, b: u64) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a}–{b}")
    }
}

/// How many of `sorted` (ascending, no repeats) lie in `from..=to`.
fn count_in(sorted: &[u64], from: u64, to: u64) -> u64 {
    (sorted.partition_point(|s| *s <= to) - sorted.partition_point(|s| *s < from)) as u64
}

/// The serial a segment name carries, when it parses and is not `serial`.
fn other_serial(name: &str, serial: &str) -> Option<String> {
    SegmentName::parse(name).map(|n| n.serial).filter(|s| s != serial)
}

/// Whether `source` is where the contract puts a file of this name (`DCIM/<date of its start>/`).
fn in_its_folder(source: &str, name: &str) -> bool {
    SegmentName::parse(name).is_some_and(|n| source == format!("{}/{name}", n.folder()))
}

/// How a record stands after the link walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Its link verified, or its break is explained by something else (a removed record
    /// before it, an unreadable line).
    Linked,
    /// Swapped with the record at this line.
    Reordered(usize),
    /// Not part of the chain as the recorder wrote it.
    Inserted,
    /// Edited after it was linked.
    Edited,
    /// Its link fails and nothing explains it.
    Broken,
}

/// What all chains together say, needed while walking one of them.
struct Context {
    /// Sequence numbers that have a `SEG` record in some chain, ascending, no repeats.
    seg_seqs: Vec<u64>,
    /// Every genesis record's `prev_tail`.
    tails: HashSet<Digest>,
}

/// The outcome of walking one chain file's links.
struct Walk {
    status: Vec<Status>,
    notes: Vec<String>,
    intact: bool,
    /// The last link of the chain as the recorder wrote it (inserted records skipped).
    tail: Digest,
    /// Runs of sequence numbers whose records were removed (first, last, the line of the
    /// record after them); numbers in a run that have a `SEG` record elsewhere are not absent.
    removed: Vec<(u64, u64, usize)>,
}

struct Cursor {
    prev: Digest,
    prev_line: usize,
    next_seq: Option<u64>,
    closed_at: Option<usize>,
}

impl Cursor {
    fn accept(&mut self, l: &Linked) {
        match &l.record {
            Record::Genesis { first_seq, .. } => self.next_seq = Some(*first_seq),
            Record::Segment { seq, .. } => {
                let next = seq.saturating_add(1);
                self.next_seq = Some(self.next_seq.map_or(next, |n| n.max(next)));
            }
            Record::Close { .. } => self.closed_at = Some(l.line),
            _ => {}
        }
        self.prev = l.link;
        self.prev_line = l.line;
    }
}

fn walk(chain: &ChainFile, ctx: &Context) -> Walk {
    let recs = &chain.records;
    let mut w = Walk {
        status: vec![Status::Linked; recs.len()],
        notes: Vec::new(),
        intact: true,
        tail: ZERO_LINK,
        removed: vec![],
    };
    let mut c = Cursor { prev: ZERO_LINK, prev_line: 0, next_seq: None, closed_at: None };
    let mut bad: Vec<usize> = chain.bad_lines.iter().map(|e| e.line).collect();
    bad.sort_unstable();
    // For each record, the first sequence number it or a later record speaks of (`END`: one past
    // its last), so that a removed record can be told from an edited one in linear time.
    let mut evidence: Vec<Option<u64>> = vec![None; recs.len()];
    for k in (0..recs.len()).rev() {
        evidence[k] = match &recs[k].record {
            Record::Segment { seq, .. } | Record::Partial { seq, .. } => Some(*seq),
            Record::Close { last_seq, .. } => Some(last_seq.saturating_add(1)),
            _ => evidence.get(k + 1).copied().flatten(),
        };
    }
    let mut i = 0;
    while i < recs.len() {
        let r = &recs[i];
        let what = describe(&r.record);
        if let Some(end) = c.closed_at {
            w.status[i] = Status::Inserted;
            w.intact = false;
            w.notes.push(format!(
                "line {} ({what}) follows the END record at line {end}, so it was added after the session closed",
                r.line
            ));
            i += 1;
            continue;
        }
        if r.record.link_after(&c.prev) == r.link {
            c.accept(r);
            i += 1;
            continue;
        }
        w.intact = false;
        let unreadable = bad.get(bad.partition_point(|l| *l <= c.prev_line)).is_some_and(|l| *l < r.line);
        if unreadable {
            w.notes.push(format!(
                "line {} ({what}) does not link to line {} because a line between them could not be read, so its \
                 written link is taken as given",
                r.line, c.prev_line
            ));
            c.accept(r);
            i += 1;
            continue;
        }
        let Some(nx) = recs.get(i + 1) else {
            // Nothing follows: only a later session's genesis can tell what the tail was.
            if ctx.tails.contains(&c.prev) && !ctx.tails.contains(&r.link) {
                w.status[i] = Status::Inserted;
                w.notes.push(format!(
                    "line {} ({what}) was appended to the chain: it does not link to line {} and the next session's \
                     GEN names line {}'s link as this session's last",
                    r.line, c.prev_line, c.prev_line
                ));
                i += 1;
                continue;
            }
            let why = if ctx.tails.contains(&r.link) {
                "the next session's GEN names its written link as this session's last"
            } else {
                "it is the last record, so an edit cannot be told from an appended record"
            };
            edited_or_removed(&mut w, i, r, evidence[i], &c, ctx, why);
            c.accept(r);
            i += 1;
            continue;
        };
        let nx_after_prev = nx.record.link_after(&c.prev);
        let lines_swapped = nx_after_prev == nx.link && r.record.link_after(&nx.link) == r.link;
        let bodies_swapped = nx_after_prev == r.link && r.record.link_after(&r.link) == nx.link;
        if lines_swapped || bodies_swapped {
            w.status[i] = Status::Reordered(nx.line);
            w.status[i + 1] = Status::Reordered(r.line);
            w.notes.push(format!(
                "line {} ({what}) and line {} ({}) are in each other's place: they link only in swapped order",
                r.line,
                nx.line,
                describe(&nx.record)
            ));
            c.accept(nx);
            c.accept(r);
            c.prev = if lines_swapped { r.link } else { nx.link };
            c.prev_line = nx.line;
            i += 2;
            continue;
        }
        if nx_after_prev == nx.link {
            w.status[i] = Status::Inserted;
            w.notes.push(format!(
                "line {} ({what}) was inserted into the chain: it does not link to line {} and line {} links past it",
                r.line, c.prev_line, nx.line
            ));
            i += 1;
            continue;
        }
        if nx.record.link_after(&r.link) == nx.link {
            let why = format!("line {} links from its written link", nx.line);
            edited_or_removed(&mut w, i, r, evidence[i], &c, ctx, &why);
        } else {
            w.status[i] = Status::Broken;
            w.notes.push(format!(
                "chain broken at line {} ({what}): it does not link to line {} and no single inserted, removed, \
                 swapped or edited record explains it",
                r.line, c.prev_line
            ));
        }
        c.accept(r);
        i += 1;
    }
    w.tail = c.prev;
    w
}

/// Record `r` (index `i`) does not link to its predecessor but its written link is genuine (`evidence`
/// says why we think so): either records were removed before it (a sequence number is absent
/// between the last one accepted and `next_seq`, the first one `r` or a later record names) or
/// it was edited. Work per record is logarithmic: a long run of removed numbers is one range.
fn edited_or_removed(
    w: &mut Walk,
    i: usize,
    r: &Linked,
    next_seq: Option<u64>,
    c: &Cursor,
    ctx: &Context,
    evidence: &str,
) {
    let what = describe(&r.record);
    if let (Some(expected), Some(found)) = (c.next_seq, next_seq) {
        if found > expected {
            let last = found - 1;
            let recorded = count_in(&ctx.seg_seqs, expected, last);
            let absent = (last - expected).saturating_add(1).saturating_sub(recorded);
            if absent > 0 {
                let numbers = match (absent, recorded) {
                    (1, 0) => format!("the record for sequence number {expected} was"),
                    (_, 0) => format!("the records for sequence numbers {expected} to {last} were"),
                    (1, _) => format!("the record for one sequence number from {expected} to {last} was"),
                    (n, _) => format!("the records for {n} of the sequence numbers {expected} to {last} were"),
                };
                w.notes.push(format!(
                    "{numbers} removed before line {} ({what}), which does not link to line {} while {evidence}",
                    r.line, c.prev_line
                ));
                w.removed.push((expected, last, r.line));
                return;
            }
        }
    }
    w.status[i] = Status::Edited;
    w.notes.push(format!(
        "line {} ({what}) was edited after it was written: it does not link to line {} while {evidence}",
        r.line, c.prev_line
    ));
}

/// One `SEG` record, with where it stands.
struct SegRec<'a> {
    chain: usize,
    idx: usize,
    line: usize,
    seq: u64,
    name: &'a str,
    kind: MediaKind,
    start: NaiveDateTime,
    end: NaiveDateTime,
    mono_start_ms: u64,
    mono_end_ms: u64,
    size: u64,
    hash: Digest,
    status: Status,
    /// Why the record is another recorder's, when it is: its chain's genesis or its name
    /// carries another serial than the identity.
    foreign: Option<String>,
}

/// One `PART` record that is part of its chain.
struct PartRec {
    chain: usize,
    line: usize,
    offset: u64,
    hash: Digest,
}

/// One chain file after its walk.
struct Walked<'a> {
    file: &'a str,
    chain: &'a ChainFile,
    walk: Walk,
    session: String,
    genesis: Option<&'a Linked>,
    /// The chain file (by index) this one is an exact copy of (the same session, the same
    /// records): it is judged once, by that one.
    dup_of: Option<usize>,
    /// Its `END` record (part of the chain), found once.
    closed: Option<&'a Linked>,
}

impl Walked<'_> {
    /// Records that are part of the chain (not inserted), with their index.
    fn accepted(&self) -> impl Iterator<Item = (usize, &Linked)> {
        self.chain.records.iter().enumerate().filter(|(i, _)| self.walk.status[*i] != Status::Inserted)
    }
    fn close(&self) -> Option<&Linked> {
        self.closed
    }
    fn seqs(&self) -> impl Iterator<Item = u64> + '_ {
        self.accepted().filter_map(|(_, l)| match &l.record {
            Record::Segment { seq, .. } | Record::Partial { seq, .. } => Some(*seq),
            _ => None,
        })
    }
    /// Whether the session recorded anything (so its genesis and close bound sequence numbers).
    fn has_content(&self) -> bool {
        self.seqs().next().is_some()
            || self.close().is_some_and(|l| matches!(l.record, Record::Close { segments, .. } if segments > 0))
    }
    fn first_seq(&self) -> Option<u64> {
        match self.genesis.map(|g| &g.record) {
            Some(Record::Genesis { first_seq, .. }) => Some(*first_seq),
            _ => self.seqs().min(),
        }
    }
    /// One past the highest sequence number the session used or claims, without stopping at
    /// 2^64 - 1: a session that used 2^64 - 1 reaches 2^64, so that a later one using it again
    /// is told (INV-30).
    fn reach(&self) -> Option<u128> {
        let from_records = self.seqs().max().map(|s| u128::from(s) + 1);
        let from_close = match self.close().map(|l| &l.record) {
            Some(Record::Close { last_seq, .. }) => Some(u128::from(*last_seq) + 1),
            _ => None,
        };
        let from_genesis = match self.genesis.map(|g| &g.record) {
            Some(Record::Genesis { first_seq, .. }) => Some(u128::from(*first_seq)),
            _ => None,
        };
        [from_records, from_close, from_genesis].into_iter().flatten().max()
    }
    /// The sequence number the next session should start at.
    fn next_seq(&self) -> Option<u64> {
        let from_records = self.seqs().max().map(|s| s.saturating_add(1));
        let from_close = match self.close().map(|l| &l.record) {
            Some(Record::Close { last_seq, .. }) => Some(last_seq.saturating_add(1)),
            _ => None,
        };
        let from_genesis = match self.genesis.map(|g| &g.record) {
            Some(Record::Genesis { first_seq, .. }) => Some(*first_seq),
            _ => None,
        };
        [from_records, from_close, from_genesis].into_iter().flatten().max()
    }
}

/// The session a session must continue: the one before it on the volume, or the last one
/// the dock remembers.
enum Previous<'v, 'a> {
    OnVolume(&'v Walked<'a>),
    Remembered(&'v KnownSession),
}

/// How a session on the volume stands against the dock's memory.
enum Recall<'m> {
    /// Not seen before.
    New,
    /// Seen before, with the same records.
    Same,
    /// Seen before, and its chain now goes on past the last link the dock saw (at this line).
    Grown(&'m KnownSession, usize),
    /// Seen before with other records.
    Differs(&'m KnownSession),
}

/// How the findings of one docking were bounded.
#[derive(Debug, Default)]
struct Dropped {
    /// Findings about no file, by verdict.
    records: BTreeMap<Verdict, usize>,
    gaps: usize,
    contradictions: usize,
    notes: usize,
    bad_lines: usize,
}

fn contradiction(
    kind: ContradictionKind,
    w: Option<&Walked<'_>>,
    line: Option<usize>,
    seqs: Option<(u64, u64)>,
    detail: String,
    detail_zh: String,
) -> Contradiction {
    Contradiction {
        kind,
        session: w.map(|w| w.session.clone()),
        chain_file: w.map(|w| w.file.to_string()),
        line,
        seqs,
        detail,
        detail_zh,
    }
}

struct Verifier<'a> {
    input: &'a Input<'a>,
    chains: Vec<Walked<'a>>,
    segs: Vec<SegRec<'a>>,
    parts: BTreeMap<u64, Vec<PartRec>>,
    /// Sequence numbers with a `SEG` record that is part of its chain.
    seg_seqs: BTreeSet<u64>,
    /// Sequence numbers with a `SEG` record in any chain, ascending, no repeats.
    recorded: Vec<u64>,
    /// Indexes into `segs` of records part of their chain, by attested hash.
    by_hash: HashMap<Digest, Vec<usize>>,
    /// Runs of removed records (first, last, chain, line of the record after them), by first.
    removed: Vec<(u64, u64, usize, usize)>,
    /// Indexes into `segs` of each chain's records.
    by_chain: Vec<Vec<usize>>,
    /// The dock's memory by session id, its last session, how far its numbers reach, and its
    /// sessions by first number.
    mem_by_id: HashMap<&'a str, &'a KnownSession>,
    mem_last: Option<&'a KnownSession>,
    mem_next: Option<u128>,
    mem_by_first: Vec<&'a KnownSession>,
}

impl<'a> Verifier<'a> {
    fn new(input: &'a Input<'a>) -> Verifier<'a> {
        let mut ctx = Context { seg_seqs: Vec::new(), tails: HashSet::new() };
        for (_, chain) in input.chains {
            for l in &chain.records {
                match &l.record {
                    Record::Segment { seq, .. } => ctx.seg_seqs.push(*seq),
                    Record::Genesis { prev_tail: Some(t), .. } => {
                        ctx.tails.insert(*t);
                    }
                    _ => {}
                }
            }
        }
        ctx.seg_seqs.sort_unstable();
        ctx.seg_seqs.dedup();
        let mut chains: Vec<Walked<'a>> = input
            .chains
            .iter()
            .map(|(file, chain)| {
                let walk = walk(chain, &ctx);
                let genesis = chain
                    .records
                    .iter()
                    .enumerate()
                    .find(|(i, l)| walk.status[*i] != Status::Inserted && matches!(l.record, Record::Genesis { .. }))
                    .map(|(_, l)| l);
                let session = match genesis.map(|g| &g.record) {
                    Some(Record::Genesis { session, .. }) => session.clone(),
                    _ => stem(file),
                };
                let closed = chain
                    .records
                    .iter()
                    .enumerate()
                    .find(|(i, l)| walk.status[*i] != Status::Inserted && matches!(l.record, Record::Close { .. }))
                    .map(|(_, l)| l);
                Walked { file, chain, walk, session, genesis, dup_of: None, closed }
            })
            .collect();
        chains.sort_by(|a, b| {
            (a.first_seq().unwrap_or(u64::MAX), a.file).cmp(&(b.first_seq().unwrap_or(u64::MAX), b.file))
        });
        // A chain file that holds the very records of an earlier one (the same session copied
        // under another name) is judged once.
        // (Found by session id, record count and last link; then compared whole.)
        let mut first_of: HashMap<(&str, usize, Option<Digest>), usize> = HashMap::new();
        let mut dup_of = vec![None; chains.len()];
        for (i, w) in chains.iter().enumerate().filter(|(_, w)| w.genesis.is_some()) {
            let key = (w.session.as_str(), w.chain.records.len(), w.chain.records.last().map(|l| l.link));
            match first_of.get(&key) {
                Some(&j) if chains[j].chain.records == w.chain.records => dup_of[i] = Some(j),
                Some(_) => {}
                None => {
                    first_of.insert(key, i);
                }
            }
        }
        for (w, d) in chains.iter_mut().zip(dup_of) {
            w.dup_of = d;
        }
        let mut segs = Vec::new();
        let mut parts: BTreeMap<u64, Vec<PartRec>> = BTreeMap::new();
        let mut removed = Vec::new();
        for (ci, w) in chains.iter().enumerate().filter(|(_, w)| w.dup_of.is_none()) {
            let chain_serial = match w.genesis.map(|g| &g.record) {
                Some(Record::Genesis { serial, .. }) if serial != input.serial => Some(serial.as_str()),
                _ => None,
            };
            removed.extend(w.walk.removed.iter().map(|(a, b, line)| (*a, *b, ci, *line)));
            for (idx, l) in w.chain.records.iter().enumerate() {
                let status = w.walk.status[idx];
                match &l.record {
                    Record::Segment { seq, name, kind, start, end, mono_start_ms, mono_end_ms, size, hash } => {
                        let foreign = match (chain_serial, other_serial(name, input.serial)) {
                            (Some(s), _) => Some(format!("its chain's GEN record names recorder {s}")),
                            (None, Some(s)) => Some(format!("its name carries recorder {s}'s serial")),
                            (None, None) => None,
                        };
                        segs.push(SegRec {
                            chain: ci,
                            idx,
                            line: l.line,
                            seq: *seq,
                            name,
                            kind: *kind,
                            start: *start,
                            end: *end,
                            mono_start_ms: *mono_start_ms,
                            mono_end_ms: *mono_end_ms,
                            size: *size,
                            hash: *hash,
                            status,
                            foreign,
                        });
                    }
                    Record::Partial { seq, offset, hash, .. } if status != Status::Inserted => {
                        parts.entry(*seq).or_default().push(PartRec {
                            chain: ci,
                            line: l.line,
                            offset: *offset,
                            hash: *hash,
                        });
                    }
                    _ => {}
                }
            }
        }
        removed.sort_unstable();
        let mut seg_seqs = BTreeSet::new();
        let mut by_hash: HashMap<Digest, Vec<usize>> = HashMap::new();
        for (k, s) in segs.iter().enumerate().filter(|(_, s)| s.status != Status::Inserted) {
            seg_seqs.insert(s.seq);
            by_hash.entry(s.hash).or_default().push(k);
        }
        let mut by_chain = vec![Vec::new(); chains.len()];
        for (k, s) in segs.iter().enumerate() {
            by_chain[s.chain].push(k);
        }
        let memory = input.memory;
        let mut mem_by_id = HashMap::new();
        for k in &memory.sessions {
            mem_by_id.entry(k.session.as_str()).or_insert(k);
        }
        let mut mem_by_first: Vec<&KnownSession> = memory.sessions.iter().collect();
        mem_by_first.sort_by_key(|k| k.first_seq);
        Verifier {
            input,
            chains,
            segs,
            parts,
            seg_seqs,
            recorded: ctx.seg_seqs,
            by_hash,
            removed,
            by_chain,
            mem_by_id,
            mem_last: memory.last(),
            mem_next: memory.reach(),
            mem_by_first,
        }
    }

    fn loc(&self, chain: usize, line: usize) -> String {
        format!("line {line} of {}", self.chains[chain].file)
    }

    fn loc_zh(&self, chain: usize, line: usize) -> String {
        format!("{} 第 {line} 行", self.chains[chain].file)
    }

    fn has_seg(&self, seq: u64) -> bool {
        self.seg_seqs.contains(&seq)
    }

    fn run(self) -> Report {
        let mut dropped = Dropped::default();
        let mut record_contradictions = Vec::new();
        let segments = self.segment_findings(&mut record_contradictions, &mut dropped);
        let mut contradictions = Vec::new();
        let (mut sessions, learnt) = self.session_findings(&mut contradictions, &mut dropped);
        contradictions.extend(record_contradictions);
        dropped.gaps = cap_gaps(&mut sessions);
        dropped.contradictions = contradictions.len().saturating_sub(MAX_CONTRADICTIONS);
        contradictions.truncate(MAX_CONTRADICTIONS);
        let bad_lines = cap_bad_lines(
            self.chains.iter().flat_map(|w| w.chain.bad_lines.iter().map(|e| (w.file.to_string(), e.clone()))),
            &mut dropped,
        );
        contradictions.extend(summary(&dropped));
        let geneses: Vec<&Linked> = self.chains.iter().filter_map(|w| w.genesis).collect();
        let at_dock = !geneses.is_empty()
            && geneses.iter().all(|g| matches!(&g.record, Record::Genesis { boot, .. } if boot == DOCK_BOOT));
        let provenance = if at_dock { Provenance::SealedAtDock } else { Provenance::SealedAtSource };
        Report { provenance, segments, sessions, bad_lines, contradictions, learnt }
    }

    fn segment_findings(&self, out: &mut Vec<Contradiction>, dropped: &mut Dropped) -> Vec<SegmentFinding> {
        let files = self.input.files;
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, f) in files.iter().enumerate() {
            by_name.entry(f.name.as_str()).or_default().push(i);
        }
        let holds = |f: usize, s: &SegRec<'_>| files[f].size == s.size && files[f].hash == s.hash;
        let held = |k: usize| {
            let s = &self.segs[k];
            by_name.get(s.name).is_some_and(|fs| fs.iter().any(|&f| holds(f, s)))
        };
        // The record that judges each name: the first (part of its chain) whose content a file
        // of that name holds, else the first. Any other record of that name is a duplicate.
        let mut primary: HashMap<&str, usize> = HashMap::new();
        for (k, s) in self.segs.iter().enumerate().filter(|(_, s)| s.status != Status::Inserted) {
            match primary.get(s.name) {
                Some(&p) if held(p) || !held(k) => {}
                _ => {
                    primary.insert(s.name, k);
                }
            }
        }
        // Each judging record claims one file of its name: the one holding the content it
        // attests, else the one in the dated folder of its name, else the first. Inserted
        // records claim what is left after.
        let best = |s: &SegRec<'_>, claimed: &[Option<usize>]| -> Option<usize> {
            by_name
                .get(s.name)?
                .iter()
                .copied()
                .filter(|&f| claimed[f].is_none())
                .min_by_key(|&f| (!holds(f, s), !in_its_folder(&files[f].source, &files[f].name), f))
        };
        let mut claimed: Vec<Option<usize>> = vec![None; files.len()];
        let mut rec_file: Vec<Option<usize>> = vec![None; self.segs.len()];
        for inserted in [false, true] {
            for (k, s) in self.segs.iter().enumerate() {
                if (s.status == Status::Inserted) != inserted || (!inserted && primary.get(s.name) != Some(&k)) {
                    continue;
                }
                if let Some(f) = best(s, &claimed) {
                    claimed[f] = Some(k);
                    rec_file[k] = Some(f);
                }
            }
        }
        let mut found: Vec<SegmentFinding> = Vec::new();
        for (k, s) in self.segs.iter().enumerate() {
            match primary.get(s.name) {
                Some(&p) if p != k && s.status != Status::Inserted => {
                    out.push(self.duplicate(s, &self.segs[p]));
                    continue;
                }
                _ => {}
            }
            let file = rec_file[k].map(|f| &files[f]);
            let judged_by = match file {
                Some(_) => None,
                None => by_name.get(s.name).and_then(|fs| fs.iter().find_map(|&f| claimed[f])).map(|o| &self.segs[o]),
            };
            found.push(self.judge_record(s, file, judged_by));
        }
        // Files no record claims; of several with one name, the first in its dated folder
        // stands for the name, the others are second files.
        let mut stands_for: HashMap<&str, usize> = HashMap::new();
        for (f, c) in claimed.iter().enumerate() {
            if c.is_some() {
                stands_for.entry(files[f].name.as_str()).or_insert(f);
            }
        }
        let mut unclaimed: Vec<usize> = (0..files.len()).filter(|f| claimed[*f].is_none()).collect();
        unclaimed.sort_by_key(|&f| (!in_its_folder(&files[f].source, &files[f].name), f));
        for f in unclaimed {
            match stands_for.get(files[f].name.as_str()) {
                Some(&twin) => {
                    found.push(self.judge_second(&files[f], &files[twin], claimed[twin].map(|k| &self.segs[k])))
                }
                None => {
                    stands_for.insert(files[f].name.as_str(), f);
                    found.push(self.judge_unclaimed(&files[f]));
                }
            }
        }
        out.extend(foreign_files(
            files.iter().zip(&claimed).filter(|(_, c)| c.is_none()).map(|(f, _)| f),
            self.input.serial,
        ));

        let mut seen: BTreeSet<u64> = BTreeSet::new();
        let mut present: BTreeSet<u64> = BTreeSet::new();
        seen.extend(self.seg_seqs.iter().copied());
        present.extend(self.seg_seqs.iter().copied());
        seen.extend(self.parts.keys().copied());
        // A file's name makes its number present, but only records set the range in which
        // absent numbers are missing: an inserted file with a far-off number is inserted, it
        // does not make every number before it missing.
        for f in files {
            if let Some(n) = SegmentName::parse(&f.name) {
                present.insert(n.seq);
            }
        }
        for w in self.chains.iter().filter(|w| w.dup_of.is_none() && w.has_content()) {
            if let Some(Record::Genesis { first_seq, .. }) = w.genesis.map(|g| &g.record) {
                seen.insert(*first_seq);
            }
            if let Some(Record::Close { last_seq, .. }) = w.close().map(|l| &l.record) {
                seen.insert(*last_seq);
            }
        }
        for (from, to) in absent_runs(&seen, &present, self.input.expected_first_seq) {
            let (session, detail) = self.absent_detail(from, to);
            found.push(missing(from, to, session, detail));
        }
        cap_findings(found, dropped)
    }

    /// A record naming a file another record judges.
    fn duplicate(&self, s: &SegRec<'_>, p: &SegRec<'_>) -> Contradiction {
        let same = s.seq == p.seq && s.size == p.size && s.hash == p.hash;
        let (other, other_zh) = if same {
            (String::new(), "内容相同")
        } else {
            (
                format!(" but attests seq {}, {} bytes, blake3 {} instead", s.seq, s.size, short(&s.hash)),
                "所证明的内容不同",
            )
        };
        contradiction(
            ContradictionKind::DuplicateRecord,
            Some(&self.chains[s.chain]),
            Some(s.line),
            Some((s.seq, s.seq)),
            format!(
                "the SEG record at {} names {} as the SEG record at {} does{other}; the file is judged once, by the \
                 record at {}",
                self.loc(s.chain, s.line),
                s.name,
                self.loc(p.chain, p.line),
                self.loc(p.chain, p.line)
            ),
            format!(
                "{}的 SEG 记录与{}的 SEG 记录同为片段 {}（{other_zh}）；该文件只按后者判定一次",
                self.loc_zh(s.chain, s.line),
                self.loc_zh(p.chain, p.line),
                s.name
            ),
        )
    }

    fn absent_detail(&self, from: u64, to: u64) -> (Option<String>, String) {
        let numbers = if from == to {
            format!("sequence number {from} is absent")
        } else {
            format!("sequence numbers {from} to {to} ({} numbers) are absent", u128::from(to - from) + 1)
        };
        let upto = self.removed.partition_point(|r| r.0 <= from);
        if let Some(r) = self.removed[..upto].iter().rev().take(16).find(|r| r.1 >= to) {
            let w = &self.chains[r.2];
            let their = if from == to { "its record was" } else { "their records were" };
            return (Some(w.session.clone()), format!("{numbers}: {their} removed before line {} of {}", r.3, w.file));
        }
        if from == to {
            if let Some(p) = self.parts.get(&from).and_then(|p| p.first()) {
                return (
                    Some(self.chains[p.chain].session.clone()),
                    format!(
                        "{numbers}: the PART record at {} shows it was being recorded, but neither a SEG record nor \
                         its file remains",
                        self.loc(p.chain, p.line)
                    ),
                );
            }
        }
        (None, numbers)
    }

    fn judge_record(&self, s: &SegRec<'_>, file: Option<&ReadFile>, judged_by: Option<&SegRec<'_>>) -> SegmentFinding {
        let at = self.loc(s.chain, s.line);
        let (verdict, attested_bytes, detail) = match (s.status, file) {
            (Status::Inserted, Some(_)) => (
                Verdict::Inserted,
                0,
                format!(
                    "the SEG record at {at} for {} was inserted into the chain, so the file is not attested",
                    s.name
                ),
            ),
            (Status::Inserted, None) => (
                Verdict::Inserted,
                0,
                match judged_by {
                    Some(o) => format!(
                        "the SEG record at {at} for {} was inserted into the chain; the file of that name is judged by \
                         the SEG record at {}",
                        s.name,
                        self.loc(o.chain, o.line)
                    ),
                    None => format!(
                        "the SEG record at {at} for {} was inserted into the chain and its file is not on the volume",
                        s.name
                    ),
                },
            ),
            (status, None) => {
                let mut d = format!(
                    "the SEG record at {at} names {} ({} bytes, blake3 {}) but the file is not on the volume",
                    s.name,
                    s.size,
                    short(&s.hash)
                );
                if status != Status::Linked {
                    d += "; the record's own link is also broken (see the session notes)";
                }
                (Verdict::Missing, 0, d)
            }
            (status, Some(f)) => {
                let (v, att, d) = self.judge_file(f, s);
                match (status, v) {
                    (Status::Reordered(other), Verdict::Verified) => (
                        Verdict::Reordered,
                        att,
                        format!(
                            "{} matches its SEG record at {at}, but that record and the one at line {other} are in each \
                             other's place in the chain",
                            s.name
                        ),
                    ),
                    (Status::Edited, Verdict::Verified) => (
                        Verdict::Altered,
                        0,
                        format!(
                            "{} matches its SEG record at {at}, but that record was edited after it was written, so \
                             the file is not attested",
                            s.name
                        ),
                    ),
                    (Status::Broken, Verdict::Verified) => (
                        Verdict::Altered,
                        0,
                        format!(
                            "{} matches its SEG record at {at}, but the chain is broken at that line, so the file is \
                             not attested",
                            s.name
                        ),
                    ),
                    (Status::Linked, _) => (v, att, d),
                    (_, _) => (v, att, format!("{d}; the record's own link is also broken (see the session notes)")),
                }
            }
        };
        let (verdict, attested_bytes, detail) = match &s.foreign {
            Some(why) if verdict == Verdict::Verified => (
                Verdict::Inserted,
                0,
                format!("{detail}; but {why}, so it is not attested as recorder {}'s", self.input.serial),
            ),
            _ => (verdict, attested_bytes, detail),
        };
        let detail = match file {
            Some(f) if !in_its_folder(&f.source, &f.name) && SegmentName::parse(&f.name).is_some() => {
                format!("{detail} (stored as {}, not in the dated folder of its name)", f.source)
            }
            _ => detail,
        };
        SegmentFinding {
            seq: Some(s.seq),
            last_seq: None,
            name: Some(s.name.to_string()),
            source: file.map(|f| f.source.clone()),
            session: Some(self.chains[s.chain].session.clone()),
            kind: Some(s.kind),
            start: Some(s.start),
            end: Some(s.end),
            verdict,
            attested_bytes,
            detail,
        }
    }

    /// A file against the (unsuspected) record of its name.
    fn judge_file(&self, f: &ReadFile, s: &SegRec<'_>) -> (Verdict, u64, String) {
        let at = self.loc(s.chain, s.line);
        if f.size == s.size && f.hash == s.hash {
            return (
                Verdict::Verified,
                f.size,
                format!("{} matches the SEG record at {at} ({} bytes, blake3 {})", f.name, f.size, short(&f.hash)),
            );
        }
        let other = self
            .by_hash
            .get(&f.hash)
            .into_iter()
            .flatten()
            .map(|&k| &self.segs[k])
            .find(|o| !(o.chain == s.chain && o.idx == s.idx) && o.name != s.name);
        if let Some(o) = other {
            return (
                Verdict::Reordered,
                0,
                format!(
                    "{} (blake3 {}) holds the content the SEG record at {} attests for {} (seq {}), not the content its \
                     own record at {at} attests (blake3 {})",
                    f.name,
                    short(&f.hash),
                    self.loc(o.chain, o.line),
                    o.name,
                    o.seq,
                    short(&s.hash)
                ),
            );
        }
        if f.size < s.size {
            let best = self
                .parts
                .get(&s.seq)
                .into_iter()
                .flatten()
                .filter(|p| p.offset <= f.size && f.prefixes.iter().any(|(o, h)| *o == p.offset && *h == p.hash))
                .max_by_key(|p| p.offset);
            let (att, how) = match best {
                Some(p) => (
                    p.offset,
                    format!(
                        "its first {} bytes still match the PART record at {}",
                        p.offset,
                        self.loc(p.chain, p.line)
                    ),
                ),
                None => (0, "no PART record attests the prefix that remains".to_string()),
            };
            return (
                Verdict::Truncated,
                att,
                format!("{} is {} of the {} bytes the SEG record at {at} attests; {how}", f.name, f.size, s.size),
            );
        }
        let d = if f.size == s.size {
            format!(
                "{} has the {} bytes the SEG record at {at} attests but blake3 {} instead of {}",
                f.name,
                f.size,
                short(&f.hash),
                short(&s.hash)
            )
        } else {
            format!(
                "{} is {} bytes but the SEG record at {at} attests {} bytes (blake3 {} instead of {})",
                f.name,
                f.size,
                s.size,
                short(&f.hash),
                short(&s.hash)
            )
        };
        (Verdict::Altered, 0, d)
    }

    /// A second file with the name of one already judged (the same name in two dated folders).
    fn judge_second(&self, f: &ReadFile, twin: &ReadFile, judged_by: Option<&SegRec<'_>>) -> SegmentFinding {
        let parsed = SegmentName::parse(&f.name);
        let how = match judged_by {
            Some(s) => format!("is the one the SEG record at {} judges", self.loc(s.chain, s.line)),
            None => "is judged as that name".to_string(),
        };
        let same = if f.size == twin.size && f.hash == twin.hash { ", with the same content," } else { "" };
        SegmentFinding {
            seq: parsed.as_ref().map(|n| n.seq),
            last_seq: None,
            name: Some(f.name.clone()),
            source: Some(f.source.clone()),
            session: judged_by.map(|s| self.chains[s.chain].session.clone()),
            kind: parsed.as_ref().map(|n| n.kind),
            start: parsed.as_ref().map(|n| n.start),
            end: None,
            verdict: Verdict::Inserted,
            attested_bytes: 0,
            detail: format!(
                "{} ({} bytes, blake3 {}) is a second file named {}{same} beside {}, which {how}: no record covers \
                 this one",
                f.source,
                f.size,
                short(&f.hash),
                f.name,
                twin.source
            ),
        }
    }

    /// A file no record claims: the cut segment of a cut session, or inserted.
    fn judge_unclaimed(&self, f: &ReadFile) -> SegmentFinding {
        let parsed = SegmentName::parse(&f.name);
        let mut finding = SegmentFinding {
            seq: parsed.as_ref().map(|n| n.seq),
            last_seq: None,
            name: Some(f.name.clone()),
            source: Some(f.source.clone()),
            session: None,
            kind: parsed.as_ref().map(|n| n.kind),
            start: parsed.as_ref().map(|n| n.start),
            end: None,
            verdict: Verdict::Inserted,
            attested_bytes: 0,
            detail: format!(
                "{} ({} bytes, blake3 {}) is not covered by any chain record",
                f.name,
                f.size,
                short(&f.hash)
            ),
        };
        let Some(parts) = parsed.as_ref().filter(|n| !self.has_seg(n.seq)).and_then(|n| self.parts.get(&n.seq)) else {
            return finding;
        };
        let Some(first) = parts.first() else { return finding };
        let walked = &self.chains[first.chain];
        finding.session = Some(walked.session.clone());
        let cut = walked.close().is_none();
        let best = parts.iter().filter(|p| p.offset <= f.size).max_by_key(|p| (p.offset, p.chain, p.line));
        let (verdict, attested, detail) = match best {
            None => (
                Verdict::Truncated,
                0,
                format!(
                    "{} ({} bytes) is shorter than the offset the PART record at {} attests, so none of it is attested",
                    f.name,
                    f.size,
                    self.loc(first.chain, first.line)
                ),
            ),
            Some(p) => {
                let at = self.loc(p.chain, p.line);
                match f.prefixes.iter().find(|(o, _)| *o == p.offset) {
                    Some((_, h)) if *h == p.hash && cut => (
                        Verdict::Truncated,
                        p.offset,
                        format!(
                            "session cut by power loss: first {} bytes attested, tail unattested ({} is {} bytes; PART \
                             record at {at})",
                            p.offset, f.name, f.size
                        ),
                    ),
                    Some((_, h)) if *h == p.hash => (
                        Verdict::Truncated,
                        p.offset,
                        format!(
                            "{} has PART records but no SEG record although its session closed: first {} bytes \
                             attested, tail unattested ({} bytes; PART record at {at})",
                            f.name, p.offset, f.size
                        ),
                    ),
                    Some((_, h)) => (
                        Verdict::Altered,
                        0,
                        format!(
                            "the first {} bytes of {} hash to blake3 {} but the PART record at {at} attests {}",
                            p.offset,
                            f.name,
                            short(h),
                            short(&p.hash)
                        ),
                    ),
                    None => (
                        Verdict::Truncated,
                        0,
                        format!(
                            "the first {} bytes of {} were not hashed, so the PART record at {at} could not be checked",
                            p.offset, f.name
                        ),
                    ),
                }
            }
        };
        finding.verdict = verdict;
        finding.attested_bytes = attested;
        finding.detail = detail;
        finding
    }

    fn recall(&self, w: &Walked<'_>, g: &Linked, session: &str) -> Recall<'a> {
        let Some(&k) = self.mem_by_id.get(session) else { return Recall::New };
        if k.genesis != g.link {
            return Recall::Differs(k);
        }
        if k.tail == w.walk.tail {
            return Recall::Same;
        }
        match w.accepted().find(|(_, l)| l.link == k.tail) {
            Some((i, _)) => Recall::Grown(k, w.chain.records.get(i + 1).map_or(0, |l| l.line)),
            None => Recall::Differs(k),
        }
    }

    fn session_findings(
        &self,
        out: &mut Vec<Contradiction>,
        dropped: &mut Dropped,
    ) -> (Vec<SessionFinding>, Vec<KnownSession>) {
        use ContradictionKind as K;
        let serial = self.input.serial;
        let mut findings: Vec<SessionFinding> =
            self.chains.iter().enumerate().map(|(ci, w)| self.session(ci, w, out)).collect();
        let mut learnt = Vec::new();
        // The first chain on the volume of each session id.
        let mut ids: HashMap<&str, usize> = HashMap::new();
        // The previous chain on the volume, and the earlier one whose numbers reach furthest.
        let mut prev: Option<usize> = None;
        let mut reach: Option<(u128, usize)> = None;
        for (ci, (w, finding)) in self.chains.iter().zip(&mut findings).enumerate() {
            if let Some(p) = w.dup_of {
                let a = self.chains[p].file;
                out.push(contradiction(
                    K::SessionReused,
                    Some(w),
                    w.genesis.map(|g| g.line),
                    None,
                    format!(
                        "session {} is in two chain files, {a} and {}, with the same records: its segments are judged \
                         once, by {a}",
                        w.session, w.file
                    ),
                    format!(
                        "会话 {} 同时出现在两个哈希链文件 {a} 与 {} 中，记录相同：其片段只按 {a} 判定一次",
                        w.session, w.file
                    ),
                ));
                continue;
            }
            if let Some(g) = w.genesis {
                if let Record::Genesis { serial: gs, session, first_seq, prev_tail, .. } = &g.record {
                    let recall = self.recall(w, g, session);
                    let first_on_volume = !ids.contains_key(session.as_str());
                    if let Some(&other) = ids.get(session.as_str()) {
                        let a = self.chains[other].file;
                        out.push(contradiction(
                            K::SessionReused,
                            Some(w),
                            Some(g.line),
                            None,
                            format!(
                                "session id {session} is in two chain files, {a} and {}, with other records",
                                w.file
                            ),
                            format!("会话编号 {session} 出现在记录不同的两个哈希链文件 {a} 与 {} 中", w.file),
                        ));
                    } else {
                        ids.insert(session.as_str(), ci);
                    }
                    if gs != serial {
                        out.push(contradiction(
                            K::SerialMismatch,
                            Some(w),
                            Some(g.line),
                            None,
                            format!(
                                "the GEN record at line {} of {} is recorder {gs}'s, but the identity file says {serial}: \
                                 its segments are not attested as {serial}'s",
                                g.line, w.file
                            ),
                            format!(
                                "{} 第 {} 行的 GEN 记录属于记录仪 {gs}，而身份文件为 {serial}：其片段不能作为 {serial} \
                                 的录像通过校验",
                                w.file, g.line
                            ),
                        ));
                    }
                    match &recall {
                        Recall::Differs(k) => out.push(contradiction(
                            K::SessionReused,
                            Some(w),
                            Some(g.line),
                            None,
                            format!(
                                "session id {session} ({}) was seen at docking {} ({}) with other records: its opening \
                                 link was {} then and is {} now, its last link {} then and {} now",
                                w.file,
                                docking_text(k.docking),
                                k.chain_file,
                                short(&k.genesis),
                                short(&g.link),
                                short(&k.tail),
                                short(&w.walk.tail)
                            ),
                            format!(
                                "会话编号 {session}（{}）已在{}时出现（{}），但记录不同：起始链接与末尾链接均与当时所见不符",
                                w.file,
                                docking_zh(k.docking),
                                k.chain_file
                            ),
                        )),
                        Recall::Grown(k, line) => out.push(contradiction(
                            K::SessionReused,
                            Some(w),
                            Some(*line),
                            None,
                            format!(
                                "session {session} ({}) was seen at docking {} ending with link {}; it now goes on \
                                 past it, from line {line}: a docked session is never appended to",
                                w.file,
                                docking_text(k.docking),
                                short(&k.tail)
                            ),
                            format!(
                                "会话 {session}（{}）在{}时止于链接 {}，现已在其后追加记录（自第 {line} 行起）：已接入的会话\
                                 不应再追加记录",
                                w.file,
                                docking_zh(k.docking),
                                short(&k.tail)
                            ),
                        )),
                        Recall::New | Recall::Same => {}
                    }
                    // The session this one must continue: the previous one on the volume or, for a
                    // session the dock has not seen, the last one it remembers, whichever reaches
                    // further.
                    let on_volume = prev.map(|p| &self.chains[p]);
                    let remembered = if matches!(recall, Recall::New) { self.mem_last } else { None };
                    let previous = match (on_volume, remembered) {
                        (Some(p), Some(m)) if m.next_seq > p.next_seq().unwrap_or(0) => Some(Previous::Remembered(m)),
                        (Some(p), _) => Some(Previous::OnVolume(p)),
                        (None, Some(m)) => Some(Previous::Remembered(m)),
                        (None, None) => None,
                    };
                    let (pred_tail, pred_name, pred_where, pred_where_zh) = match &previous {
                        Some(Previous::OnVolume(p)) => {
                            (Some(p.walk.tail), p.session.clone(), format!("({})", p.file), format!("本卷 {}", p.file))
                        }
                        Some(Previous::Remembered(m)) => (
                            Some(m.tail),
                            m.session.clone(),
                            format!(
                                "(the last session the dock saw from this recorder, at docking {})",
                                docking_text(m.docking)
                            ),
                            format!("本站{}时所见该记录仪的最后会话", docking_zh(m.docking)),
                        ),
                        None => (None, String::new(), String::new(), String::new()),
                    };
                    if let Some(tail) = pred_tail {
                        let broken = match prev_tail {
                            Some(t) if *t == tail => None,
                            Some(t) => Some((
                                format!(
                                    "the GEN record at line {} names {} as the previous session's last link, but \
                                     session {pred_name} {pred_where} ends with link {}",
                                    g.line,
                                    short(t),
                                    short(&tail)
                                ),
                                format!(
                                    "{} 第 {} 行的 GEN 记录所记上一会话末链接为 {}，而会话 {pred_name}（{pred_where_zh}）\
                                     的末链接为 {}：哈希链未衔接",
                                    w.file,
                                    g.line,
                                    short(t),
                                    short(&tail)
                                ),
                            )),
                            None => Some((
                                format!(
                                    "the GEN record at line {} claims the device's first session, but session \
                                     {pred_name} {pred_where} precedes it",
                                    g.line
                                ),
                                format!(
                                    "{} 第 {} 行的 GEN 记录声称是该设备的第一个会话，但此前已有会话 {pred_name}（\
                                     {pred_where_zh}）",
                                    w.file, g.line
                                ),
                            )),
                        };
                        if let Some((en, zh)) = broken {
                            finding.links_intact = false;
                            finding.notes.push(en.clone());
                            out.push(contradiction(
                                K::LinkNotContinued,
                                Some(w),
                                Some(g.line),
                                None,
                                format!("{en} ({})", w.file),
                                zh,
                            ));
                        }
                    }
                    if let Some(next) = on_volume.and_then(Walked::next_seq) {
                        if next != *first_seq {
                            let p = on_volume.map_or("", |p| p.session.as_str());
                            let f = on_volume.map_or("", |p| p.file);
                            finding.notes.push(format!(
                                "the GEN record at line {} starts at sequence number {first_seq}, but session {p} ({f}) \
                                 ends before {next}",
                                g.line
                            ));
                        }
                    }
                    let lowest = w.seqs().min().map_or(*first_seq, |s| s.min(*first_seq));
                    out.extend(self.reused(w, Some(g.line), lowest, reach, matches!(recall, Recall::New)));
                    if matches!(recall, Recall::New) && first_on_volume && gs == serial {
                        learnt.push(KnownSession {
                            session: session.clone(),
                            chain_file: w.file.to_string(),
                            docking: None,
                            genesis: g.link,
                            tail: w.walk.tail,
                            first_seq: *first_seq,
                            next_seq: w.next_seq().unwrap_or(*first_seq),
                        });
                    }
                }
            } else if let Some((_, first)) = w.accepted().next() {
                // No GEN record: nothing ties the session to the device's previous one (its links
                // run from the zero link), nor names its serial or id.
                let previous = match (prev.map(|p| &self.chains[p]), self.mem_last) {
                    (Some(p), Some(m)) if m.next_seq > p.next_seq().unwrap_or(0) => {
                        format!("session {} (the last the dock saw from this recorder)", m.session)
                    }
                    (Some(p), _) => format!("session {} ({})", p.session, p.file),
                    (None, Some(m)) => format!("session {} (the last the dock saw from this recorder)", m.session),
                    (None, None) => "the device's previous session".to_string(),
                };
                out.push(contradiction(
                    K::LinkNotContinued,
                    Some(w),
                    Some(first.line),
                    None,
                    format!(
                        "{} has no GEN record, so nothing shows it continues {previous}: its links run from the zero \
                         link, which anyone can compute",
                        w.file
                    ),
                    format!("{} 没有 GEN 记录，无法证明其衔接此前的会话：其链接从零链接算起，任何人都能伪造", w.file),
                ));
                if let Some(lowest) = w.seqs().min() {
                    out.extend(self.reused(w, Some(first.line), lowest, reach, true));
                }
            }
            out.extend(self.within_session(ci, w));
            prev = Some(ci);
            if let Some(n) = w.reach() {
                if reach.is_none_or(|(r, _)| n > r) {
                    reach = Some((n, ci));
                }
            }
        }
        for f in &mut findings {
            if f.notes.len() > MAX_NOTES {
                let more = f.notes.len() - (MAX_NOTES - 1);
                f.notes.truncate(MAX_NOTES - 1);
                f.notes.push(format!("and {more} more notes on this session, not listed"));
                dropped.notes += more;
            }
        }
        (findings, learnt)
    }

    /// A session's numbers must be new: past every earlier session on the volume (`reach`: the
    /// one whose numbers reach furthest) and, for a session the dock has not read before
    /// (`new`), past every number the dock saw the recorder use.
    fn reused(
        &self,
        w: &Walked<'_>,
        line: Option<usize>,
        lowest: u64,
        reach: Option<(u128, usize)>,
        new: bool,
    ) -> Option<Contradiction> {
        // Numbers in u128: one past 2^64 - 1 is 2^64, so reusing 2^64 - 1 is told too.
        let highest = w.reach().map_or(lowest, |n| u64::try_from(n.saturating_sub(1)).unwrap_or(u64::MAX).max(lowest));
        let vol_ref = reach.map(|(n, _)| n);
        let mem_ref = if new { self.mem_next } else { None };
        let low = u128::from(lowest);
        let (limit, why, why_zh) = match (vol_ref, mem_ref) {
            (_, Some(m)) if m > low && vol_ref.is_none_or(|v| m >= v) => {
                let k = self.mem_using(lowest).or(self.mem_last)?;
                (
                    m,
                    format!(
                        "the dock saw session {} (docking {}) use numbers up to {}",
                        k.session,
                        docking_text(k.docking),
                        m - 1
                    ),
                    format!("本站{}时见到会话 {} 已用到 {}", docking_zh(k.docking), k.session, m - 1),
                )
            }
            (Some(v), _) if v > low => {
                let p = &self.chains[reach?.1];
                (
                    v,
                    format!("session {} ({}) on this volume uses numbers up to {}", p.session, p.file, v - 1),
                    format!("本卷会话 {}（{}）已用到 {}", p.session, p.file, v - 1),
                )
            }
            _ => return None,
        };
        let upto = u64::try_from(u128::from(highest).min(limit - 1)).unwrap_or(u64::MAX);
        Some(contradiction(
            ContradictionKind::SeqReused,
            Some(w),
            line,
            Some((lowest, upto)),
            format!(
                "session {} ({}) uses sequence number {} again: {why}",
                w.session,
                w.file,
                range_text(lowest, upto)
            ),
            format!("会话 {}（{}）再次使用序号 {}：{why_zh}", w.session, w.file, range_zh(lowest, upto)),
        ))
    }

    /// The remembered session that used `seq`, if one did.
    fn mem_using(&self, seq: u64) -> Option<&'a KnownSession> {
        let i = self.mem_by_first.partition_point(|k| k.first_seq <= seq);
        self.mem_by_first[..i].iter().rev().take(16).copied().find(|k| seq < k.next_seq)
    }

    /// Contradictions inside one session: one number for two segments, segment names of
    /// another recorder.
    fn within_session(&self, ci: usize, w: &Walked<'_>) -> Vec<Contradiction> {
        let mut out = Vec::new();
        let own: Vec<&SegRec<'_>> =
            self.by_chain[ci].iter().map(|&k| &self.segs[k]).filter(|s| s.status != Status::Inserted).collect();
        let mut names: BTreeMap<u64, (&str, usize)> = BTreeMap::new();
        let mut twice: Vec<(u64, usize, usize)> = Vec::new();
        for s in &own {
            match names.get(&s.seq) {
                Some((name, line)) if *name != s.name => twice.push((s.seq, *line, s.line)),
                Some(_) => {}
                None => {
                    names.insert(s.seq, (s.name, s.line));
                }
            }
        }
        if let Some(&(seq, l1, l2)) = twice.first() {
            let lo = twice.iter().map(|t| t.0).min().unwrap_or(seq);
            let hi = twice.iter().map(|t| t.0).max().unwrap_or(seq);
            out.push(contradiction(
                ContradictionKind::SeqReused,
                Some(w),
                Some(l2),
                Some((lo, hi)),
                format!(
                    "{} of {} give a sequence number to two different segments ({} numbers from {}), the first {seq} \
                     at lines {l1} and {l2}",
                    "SEG records",
                    w.file,
                    twice.len(),
                    range_text(lo, hi)
                ),
                format!(
                    "{} 中有 {} 个序号（{}）分给了两个不同片段，首个为 {seq}（第 {l1} 行与第 {l2} 行）",
                    w.file,
                    twice.len(),
                    range_zh(lo, hi)
                ),
            ));
        }
        let chain_foreign =
            matches!(w.genesis.map(|g| &g.record), Some(Record::Genesis { serial, .. }) if serial != self.input.serial);
        if !chain_foreign {
            let foreign: Vec<(&SegRec<'_>, String)> =
                own.iter().filter_map(|s| other_serial(s.name, self.input.serial).map(|o| (*s, o))).collect();
            if let Some((s, other)) = foreign.first() {
                out.push(contradiction(
                    ContradictionKind::SerialMismatch,
                    Some(w),
                    Some(s.line),
                    None,
                    format!(
                        "{} SEG records of {} name segments of another recorder, the first {} (serial {other}) at line \
                         {}: they are not attested as recorder {}'s",
                        foreign.len(),
                        w.file,
                        s.name,
                        s.line,
                        self.input.serial
                    ),
                    format!(
                        "{} 中有 {} 条 SEG 记录所记片段名属于其他记录仪，首条为第 {} 行的 {}（序列号 {other}）：不能作为 {} \
                         的录像通过校验",
                        w.file,
                        foreign.len(),
                        s.line,
                        s.name,
                        self.input.serial
                    ),
                ));
            }
        }
        out
    }

    fn session(&self, ci: usize, w: &Walked<'_>, out: &mut Vec<Contradiction>) -> SessionFinding {
        let mut notes = w.walk.notes.clone();
        let mut links_intact = w.walk.intact;
        for e in &w.chain.bad_lines {
            links_intact = false;
            notes.push(format!("line {} could not be read: {}", e.line, e.reason));
        }
        // A copy of another chain file is judged by that one.
        let judged = w.dup_of.unwrap_or(ci);
        if let Some(p) = w.dup_of {
            notes.push(format!(
                "a copy of {} (the same records): its segments are judged once, by that chain file",
                self.chains[p].file
            ));
        }
        let first = w.accepted().next().map(|(_, l)| l);
        match first {
            Some(l) if matches!(l.record, Record::Genesis { .. }) => {}
            Some(l) => notes.push(format!(
                "the chain file does not start with a GEN record (line {} is {}); its links are checked from the zero \
                 link",
                l.line,
                l.record.tag()
            )),
            None => notes.push("the chain file holds no readable record".to_string()),
        }
        for (_, l) in w.accepted() {
            match &l.record {
                Record::ClockJump { old, new, .. } => notes.push(format!(
                    "clock set from {} to {} at line {}",
                    super::format::format_wall(*old),
                    super::format::format_wall(*new),
                    l.line
                )),
                Record::Reboot { boot, .. } => {
                    notes.push(format!("recorder rebooted at line {} (boot {boot})", l.line))
                }
                _ => {}
            }
        }
        let close = w.close();
        let mut state = if close.is_some() { SessionState::Complete } else { SessionState::Cut };
        let own: Vec<&SegRec<'_>> =
            self.by_chain[judged].iter().map(|&k| &self.segs[k]).filter(|s| s.status != Status::Inserted).collect();
        if let Some((line, Record::Close { last_seq, segments, .. })) = close.map(|l| (l.line, &l.record)) {
            // The END counts the segments the recorder wrote: those whose records were found
            // removed count too (they are reported missing); one number recorded twice counts once.
            let distinct: BTreeSet<u64> = own.iter().map(|s| s.seq).collect();
            let removed = &self.chains[judged].walk.removed;
            let removed_count = removed.iter().fold(0u64, |n, (a, b, _)| {
                n.saturating_add((b - a).saturating_add(1).saturating_sub(count_in(&self.recorded, *a, *b)))
            });
            let held = (distinct.len() as u64).saturating_add(removed_count);
            let expected_last =
                distinct.last().copied().into_iter().chain(removed.iter().map(|r| r.1)).max().or_else(|| {
                    match w.genesis.map(|g| &g.record) {
                        Some(Record::Genesis { first_seq, .. }) => first_seq.checked_sub(1),
                        _ => None,
                    }
                });
            if expected_last.is_some_and(|e| e != *last_seq) || *segments != held {
                let upto = expected_last.map_or_else(|| "none".to_string(), |s| s.to_string());
                let counting =
                    if removed_count > 0 { format!(" (counting {removed_count} removed)") } else { String::new() };
                let en = format!(
                    "the END record at line {line} states {segments} segments up to sequence number {last_seq}, but the \
                     chain holds {held} SEG records{counting} up to {upto}"
                );
                notes.push(en.clone());
                state = SessionState::EndMismatch;
                if w.dup_of.is_none() {
                    let from = distinct.first().copied().unwrap_or(*last_seq).min(*last_seq);
                    out.push(contradiction(
                        ContradictionKind::EndMismatch,
                        Some(w),
                        Some(line),
                        Some((from, expected_last.unwrap_or(*last_seq).max(*last_seq))),
                        format!("{en} ({}): the session needs review", w.file),
                        format!(
                            "{} 第 {line} 行的 END 记录称共 {segments} 个片段、至序号 {last_seq}，而哈希链中有 {held} 条 SEG \
                             记录、至 {upto}：该会话需复核",
                            w.file
                        ),
                    ));
                }
            }
        } else if first.is_some() {
            notes.push("no END record: the session was cut by power loss, or its chain file was cut short".to_string());
        }
        let start = match w.genesis.map(|g| &g.record) {
            Some(Record::Genesis { wall, .. }) => Some(*wall),
            _ => first.map(|l| record_time(&l.record)),
        };
        let end = close.or_else(|| w.accepted().last().map(|(_, l)| l)).map(|l| record_time(&l.record));
        SessionFinding {
            chain_file: w.file.to_string(),
            session: w.session.clone(),
            state,
            links_intact,
            first_seq: w.seqs().min(),
            last_seq: w.seqs().max(),
            start,
            end,
            gaps: if w.dup_of.is_some() { Vec::new() } else { self.gaps(w, &own) },
            notes,
        }
    }

    /// Pauses longer than the tolerance between consecutive video or audio segments (R6).
    fn gaps(&self, w: &Walked<'_>, own: &[&SegRec<'_>]) -> Vec<Gap> {
        let mut timed: Vec<&SegRec<'_>> =
            own.iter().copied().filter(|s| matches!(s.kind, MediaKind::Video | MediaKind::Audio)).collect();
        timed.sort_by_key(|s| (s.seq, s.idx));
        let mut gaps = Vec::new();
        for pair in timed.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (lo, hi) = (a.idx.min(b.idx), a.idx.max(b.idx));
            let mut reboot = false;
            let mut reason = None;
            let mut clock_shift_ms = 0i64;
            for idx in lo + 1..hi {
                if w.walk.status[idx] == Status::Inserted {
                    continue;
                }
                match &w.chain.records[idx].record {
                    Record::Reboot { .. } => reboot = true,
                    Record::Interruption { reason: r, .. } => reason = reason.or(Some(*r)),
                    Record::ClockJump { old, new, .. } => {
                        clock_shift_ms = clock_shift_ms.saturating_add((*new - *old).num_milliseconds());
                    }
                    _ => {}
                }
            }
            let duration_ms = if reboot {
                u64::try_from((b.start - a.end).num_milliseconds().saturating_sub(clock_shift_ms)).unwrap_or(0)
            } else {
                b.mono_start_ms.saturating_sub(a.mono_end_ms)
            };
            if duration_ms > self.input.gap_tolerance_ms {
                gaps.push(Gap { after_seq: a.seq, before_seq: b.seq, from: a.end, to: b.start, duration_ms, reason });
            }
        }
        gaps
    }
}

fn docking_text(d: Option<i64>) -> String {
    d.map_or_else(|| "?".to_string(), |d| d.to_string())
}

fn docking_zh(d: Option<i64>) -> String {
    d.map_or_else(|| "此前接入".to_string(), |d| format!("第 {d} 次接入"))
}

/// One contradiction for the footage files no record covers whose names carry another
/// recorder's serial.
fn foreign_files<'f>(files: impl Iterator<Item = &'f ReadFile>, serial: &str) -> Option<Contradiction> {
    let foreign: Vec<(&ReadFile, String)> =
        files.filter_map(|f| other_serial(&f.name, serial).map(|o| (f, o))).collect();
    let (f, other) = foreign.first()?;
    Some(contradiction(
        ContradictionKind::SerialMismatch,
        None,
        None,
        None,
        format!(
            "{} footage files on the volume are named for another recorder than {serial}, the first {} (serial {other})",
            foreign.len(),
            f.source
        ),
        format!(
            "卷上有 {} 个录像文件的文件名属于 {serial} 以外的记录仪，首个为 {}（序列号 {other}）",
            foreign.len(),
            f.source
        ),
    ))
}

/// Every serial other than `serial` that the chains (genesis records, segment names in `SEG`
/// records) or the footage file names carry: a recorder whose volume holds another recorder's
/// footage or chain (or whose identity was edited) is held for investigation, like one whose
/// USB serial differs.
pub fn other_serials(chains: &[(String, ChainFile)], file_names: &[String], serial: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (_, chain) in chains {
        for l in &chain.records {
            match &l.record {
                Record::Genesis { serial: s, .. } if s != serial => {
                    out.insert(s.clone());
                }
                Record::Segment { name, .. } => out.extend(other_serial(name, serial)),
                _ => {}
            }
        }
    }
    out.extend(file_names.iter().filter_map(|n| other_serial(n, serial)));
    out
}

/// Keeps every finding about a file and at most [`MAX_RECORD_FINDINGS`] about no file (in
/// sequence order), counting the others.
fn cap_findings(mut found: Vec<SegmentFinding>, dropped: &mut Dropped) -> Vec<SegmentFinding> {
    sort_findings(&mut found);
    let mut kept = 0usize;
    found.retain(|f| {
        if f.source.is_some() {
            return true;
        }
        kept += 1;
        if kept <= MAX_RECORD_FINDINGS {
            true
        } else {
            *dropped.records.entry(f.verdict).or_default() += 1;
            false
        }
    });
    found
}

/// Keeps at most [`MAX_RECORD_FINDINGS`] unreadable chain lines, counting the others.
fn cap_bad_lines(
    lines: impl Iterator<Item = (String, FormatError)>,
    dropped: &mut Dropped,
) -> Vec<(String, FormatError)> {
    let mut out = Vec::new();
    for l in lines {
        if out.len() < MAX_RECORD_FINDINGS {
            out.push(l);
        } else {
            dropped.bad_lines += 1;
        }
    }
    out
}

/// Keeps at most [`MAX_GAPS`] gaps, in session order; returns how many were left out.
fn cap_gaps(sessions: &mut [SessionFinding]) -> usize {
    let mut left = MAX_GAPS;
    let mut dropped = 0;
    for s in sessions {
        if s.gaps.len() > left {
            dropped += s.gaps.len() - left;
            s.gaps.truncate(left);
        }
        left -= s.gaps.len();
    }
    dropped
}

/// The one contradiction that says what the limits left out, if they left anything out.
fn summary(d: &Dropped) -> Option<Contradiction> {
    let records: usize = d.records.values().sum();
    if records + d.gaps + d.contradictions + d.notes + d.bad_lines == 0 {
        return None;
    }
    let mut en = Vec::new();
    let mut zh = Vec::new();
    if records > 0 {
        let by: Vec<String> = d.records.iter().map(|(v, n)| format!("{n} {}", v.as_str())).collect();
        let by_zh: Vec<String> = d.records.iter().map(|(v, n)| format!("{}{n}项", v.label_zh())).collect();
        en.push(format!(
            "{records} findings about records or sequence numbers with no file on the volume ({}; limit \
             {MAX_RECORD_FINDINGS})",
            by.join(", ")
        ));
        zh.push(format!("无对应文件的记录或序号异常 {records} 项（{}；上限 {MAX_RECORD_FINDINGS}）", by_zh.join("，")));
    }
    if d.gaps > 0 {
        en.push(format!("{} gaps (limit {MAX_GAPS})", d.gaps));
        zh.push(format!("录制中断 {} 处（上限 {MAX_GAPS}）", d.gaps));
    }
    if d.contradictions > 0 {
        en.push(format!("{} contradictions (limit {MAX_CONTRADICTIONS})", d.contradictions));
        zh.push(format!("矛盾 {} 处（上限 {MAX_CONTRADICTIONS}）", d.contradictions));
    }
    if d.notes > 0 {
        en.push(format!("{} session notes (limit {MAX_NOTES} per session)", d.notes));
        zh.push(format!("会话备注 {} 条（每会话上限 {MAX_NOTES}）", d.notes));
    }
    if d.bad_lines > 0 {
        en.push(format!("{} unreadable chain lines (limit {MAX_RECORD_FINDINGS})", d.bad_lines));
        zh.push(format!("无法读取的哈希链行 {} 行（上限 {MAX_RECORD_FINDINGS}）", d.bad_lines));
    }
    Some(Contradiction {
        kind: ContradictionKind::FindingsCapped,
        session: None,
        chain_file: None,
        line: None,
        seqs: None,
        detail: format!(
            "more findings than one docking lists: {} are not listed one by one; every file still has its verdict and \
             the chain files are archived whole",
            en.join(", ")
        ),
        detail_zh: format!(
            "本次接入异常过多：{}未逐一列出；每个文件仍有其校验结果，哈希链文件已完整归档",
            zh.join("、")
        ),
    })
}

/// Runs of sequence numbers with neither a record nor a file: every number from
/// `expected_first` (or the smallest seen) to the largest seen that is not `present`, as
/// (first, last) pairs. Work is linear in the numbers seen, however long the runs.
fn absent_runs(seen: &BTreeSet<u64>, present: &BTreeSet<u64>, expected_first: Option<u64>) -> Vec<(u64, u64)> {
    let (Some(&lo), Some(&hi)) = (seen.first(), seen.last()) else { return Vec::new() };
    let lo = expected_first.map_or(lo, |e| e.min(lo));
    let mut out = Vec::new();
    let mut cursor = Some(lo);
    for &p in present.range(lo..=hi) {
        if let Some(c) = cursor.filter(|c| p > *c) {
            out.push((c, p - 1));
        }
        cursor = p.checked_add(1);
    }
    if let Some(c) = cursor.filter(|c| *c <= hi) {
        out.push((c, hi));
    }
    out
}

fn missing(from: u64, to: u64, session: Option<String>, detail: String) -> SegmentFinding {
    SegmentFinding {
        seq: Some(from),
        last_seq: (to != from).then_some(to),
        name: None,
        source: None,
        session,
        kind: None,
        start: None,
        end: None,
        verdict: Verdict::Missing,
        attested_bytes: 0,
        detail,
    }
}

fn sort_findings(out: &mut [SegmentFinding]) {
    out.sort_by(|a, b| {
        (a.seq.is_none(), a.seq, &a.name, &a.source, a.verdict).cmp(&(
            b.seq.is_none(),
            b.seq,
            &b.name,
            &b.source,
            b.verdict,
        ))
    });
}

/// The report when there is no usable chain: every file unchained, sealed at dock.
fn unchained(input: &Input<'_>) -> Report {
    let n = input.chains.len();
    let reason = if !input.writes_chain {
        if n == 0 {
            "the recorder states it writes no chain".to_string()
        } else {
            format!("the recorder states it writes no chain, so the {n} chain files present were not used")
        }
    } else if n == 0 {
        "the recorder states it writes a chain but none was found".to_string()
    } else {
        format!("the recorder states it writes a chain but its {n} chain files hold no readable record")
    };
    let mut segments: Vec<SegmentFinding> = input
        .files
        .iter()
        .map(|f| {
            let parsed = SegmentName::parse(&f.name);
            SegmentFinding {
                seq: parsed.as_ref().map(|p| p.seq),
                last_seq: None,
                name: Some(f.name.clone()),
                source: Some(f.source.clone()),
                session: None,
                kind: parsed.as_ref().map(|p| p.kind),
                start: parsed.as_ref().map(|p| p.start),
                end: None,
                verdict: Verdict::Unchained,
                attested_bytes: 0,
                detail: format!("{} ({} bytes, blake3 {}) is unchained: {reason}", f.name, f.size, short(&f.hash)),
            }
        })
        .collect();
    let seqs: BTreeSet<u64> = segments.iter().filter_map(|s| s.seq).collect();
    for (from, to) in absent_runs(&seqs, &seqs, input.expected_first_seq) {
        let detail = if from == to {
            format!("sequence number {from} is absent")
        } else {
            format!("sequence numbers {from} to {to} ({} numbers) are absent", u128::from(to - from) + 1)
        };
        segments.push(missing(from, to, None, detail));
    }
    let mut dropped = Dropped::default();
    let segments = cap_findings(segments, &mut dropped);
    let mut contradictions: Vec<Contradiction> = foreign_files(input.files.iter(), input.serial).into_iter().collect();
    let (sessions, bad_lines) = if input.writes_chain {
        let sessions = input
            .chains
            .iter()
            .map(|(file, chain)| SessionFinding {
                chain_file: file.clone(),
                session: stem(file),
                state: SessionState::Cut,
                links_intact: chain.bad_lines.is_empty(),
                first_seq: None,
                last_seq: None,
                start: None,
                end: None,
                gaps: Vec::new(),
                notes: std::iter::once("the chain file holds no readable record".to_string())
                    .chain(
                        chain
                            .bad_lines
                            .iter()
                            .take(MAX_NOTES - 1)
                            .map(|e| format!("line {} could not be read: {}", e.line, e.reason)),
                    )
                    .collect(),
            })
            .collect();
        let bad = cap_bad_lines(
            input.chains.iter().flat_map(|(file, chain)| chain.bad_lines.iter().map(|e| (file.clone(), e.clone()))),
            &mut dropped,
        );
        (sessions, bad)
    } else {
        (Vec::new(), Vec::new())
    };
    contradictions.extend(summary(&dropped));
    Report { provenance: Provenance::SealedAtDock, segments, sessions, bad_lines, contradictions, learnt: Vec::new() }
}

#[cfg(test)]
mod tests {
    //! A small chain builder (`Scenario` -> `Volume`), a one-fault oracle, exhaustive checks of
    //! small chains and property tests over random ones (R5, R6; style rule 26).

    use super::*;
    use crate::recorder::format::{format_wall, parse_wall, Record, ZERO_LINK};
    use proptest::prelude::*;
    use ContradictionKind as K;

    const TOL: u64 = 5_000;
    const SERIAL: &str = "A123456";
    const BADGE: &str = "012345";
    /// Another recorder's serial.
    const FOREIGN: &str = "B765432";

    fn base() -> NaiveDateTime {
        parse_wall(0, "t", "2024-05-01T08:00:00").unwrap()
    }
    fn wall_at(secs: i64) -> NaiveDateTime {
        base() + chrono::Duration::seconds(secs)
    }
    fn digest(bytes: &[u8]) -> Digest {
        *blake3::hash(bytes).as_bytes()
    }

    // -----------------------------------------------------------------------------------------
    // Builder
    // -----------------------------------------------------------------------------------------

    /// One segment as the recorder would have recorded it.
    #[derive(Debug, Clone)]
    struct SegSpec {
        kind: MediaKind,
        size: usize,
        parts: usize,
        /// Seconds between the previous segment's end (or the session start) and this start.
        pause: i64,
        /// `INT` record before this segment (not before a session's first).
        int: Option<InterruptReason>,
        /// `BOOT` record before this segment.
        boot: bool,
        /// `CLK` record before this segment, setting the clock by this many seconds.
        clk: Option<i64>,
        duration: i64,
        /// Its `SEG` record written twice (links recomputed, as a recorder would).
        dup_record: bool,
        /// Named with another recorder's serial (record and file).
        foreign: bool,
    }

    fn seg(kind: MediaKind, size: usize, parts: usize, pause: i64) -> SegSpec {
        SegSpec {
            kind,
            size,
            parts,
            pause,
            int: None,
            boot: false,
            clk: None,
            duration: 30,
            dup_record: false,
            foreign: false,
        }
    }
    impl SegSpec {
        fn int(mut self, r: InterruptReason) -> SegSpec {
            self.int = Some(r);
            self
        }
        fn boot(mut self) -> SegSpec {
            self.boot = true;
            self
        }
        fn clk(mut self, d: i64) -> SegSpec {
            self.clk = Some(d);
            self
        }
    }

    #[derive(Debug, Clone)]
    struct SessionSpec {
        segs: Vec<SegSpec>,
        complete: bool,
        /// When not complete: the last segment was being recorded (PART records, no SEG).
        cut_last: bool,
        /// An END record that disagrees with the session (written by the recorder, linked).
        end_skew: Option<EndSkew>,
    }

    /// How an END record disagrees with its session.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum EndSkew {
        /// One segment more than the session's `SEG` records.
        MoreSegments,
        /// A last sequence number one below the session's last.
        LowerLast,
    }

    #[derive(Debug, Clone)]
    struct Scenario {
        first_seq: u64,
        sessions: Vec<SessionSpec>,
        /// Tail of a session docked earlier (not on the volume).
        earlier_tail: Option<Digest>,
        /// The number of the first session's id (`S<n>`): ids are unique on a device.
        first_id: usize,
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Role {
        Gen,
        Part,
        Seg,
        Int,
        Boot,
        Clk,
        End,
    }

    /// One segment as written to the volume.
    #[derive(Debug, Clone)]
    struct SegOut {
        seq: u64,
        session: usize,
        name: String,
        kind: MediaKind,
        content: Vec<u8>,
        parts: Vec<u64>,
        cut: bool,
        start_t: i64,
        end_t: i64,
        int_before: Option<InterruptReason>,
        /// Index of its SEG line in its chain.
        line_idx: Option<usize>,
    }

    /// What the volume holds: chain files (as lines) and footage files.
    #[derive(Debug, Clone)]
    struct Volume {
        chains: Vec<(String, Vec<String>)>,
        roles: Vec<Vec<Role>>,
        /// Footage files in the dated folder of their name.
        files: Vec<(String, Vec<u8>)>,
        /// Footage files elsewhere: name, path on the volume, content.
        elsewhere: Vec<(String, String, Vec<u8>)>,
        segs: Vec<SegOut>,
        complete: Vec<bool>,
    }

    /// Where the contract puts a file of this name.
    fn source_of(name: &str) -> String {
        format!("{}/{name}", SegmentName::parse(name).unwrap().folder())
    }

    impl Scenario {
        fn render(&self) -> Volume {
            let mut v = Volume {
                chains: vec![],
                roles: vec![],
                files: vec![],
                elsewhere: vec![],
                segs: vec![],
                complete: vec![],
            };
            let mut seq = self.first_seq;
            let mut prev_tail = self.earlier_tail;
            let (mut t, mut off) = (0i64, 0i64);
            for (si, ss) in self.sessions.iter().enumerate() {
                t += 3600;
                let mut boot_t = t;
                let mono = |t: i64, boot_t: i64| ((t - boot_t) * 1000 + 500) as u64;
                let mut records = vec![Record::Genesis {
                    serial: SERIAL.into(),
                    session: format!("S{}", self.first_id + si),
                    boot: format!("B{si}"),
                    first_seq: seq,
                    wall: wall_at(t + off),
                    mono_ms: mono(t, boot_t),
                    prev_tail,
                }];
                let mut roles = vec![Role::Gen];
                let mut prev_end = t;
                let n = ss.segs.len();
                for (k, sp) in ss.segs.iter().enumerate() {
                    let cut = !ss.complete && ss.cut_last && k == n - 1;
                    let mut int_before = None;
                    if k > 0 {
                        if let Some(reason) = sp.int {
                            int_before = Some(reason);
                            records.push(Record::Interruption {
                                reason,
                                wall: wall_at(prev_end + off),
                                mono_ms: mono(prev_end, boot_t),
                            });
                            roles.push(Role::Int);
                        }
                        if sp.boot {
                            boot_t = prev_end;
                            records.push(Record::Reboot { boot: format!("B{si}-{k}"), wall: wall_at(prev_end + off) });
                            roles.push(Role::Boot);
                        }
                        if let Some(d) = sp.clk {
                            records.push(Record::ClockJump {
                                old: wall_at(prev_end + off),
                                new: wall_at(prev_end + off + d),
                                mono_ms: mono(prev_end, boot_t),
                            });
                            roles.push(Role::Clk);
                            off += d;
                        }
                    }
                    let start = prev_end + sp.pause;
                    let end = start + if sp.kind == MediaKind::Photo { 0 } else { sp.duration };
                    let mut content = format!("{seq:06}|").into_bytes();
                    while content.len() < sp.size {
                        content.push((seq as usize * 31 + content.len()) as u8);
                    }
                    let parts_n = if cut { sp.parts.max(1) } else { sp.parts };
                    let mut parts: Vec<u64> =
                        (1..=parts_n).map(|j| (j * content.len() / (parts_n + 1)) as u64).filter(|o| *o > 0).collect();
                    parts.dedup();
                    for o in &parts {
                        records.push(Record::Partial {
                            seq,
                            offset: *o,
                            hash: digest(&content[..*o as usize]),
                            wall: wall_at(start + off),
                            mono_ms: mono(start, boot_t),
                        });
                        roles.push(Role::Part);
                    }
                    let name = SegmentName {
                        serial: if sp.foreign { FOREIGN } else { SERIAL }.into(),
                        badge: BADGE.into(),
                        start: wall_at(start + off),
                        seq,
                        kind: sp.kind,
                    }
                    .render();
                    let mut line_idx = None;
                    if !cut {
                        line_idx = Some(records.len());
                        let rec = Record::Segment {
                            seq,
                            name: name.clone(),
                            kind: sp.kind,
                            start: wall_at(start + off),
                            end: wall_at(end + off),
                            mono_start_ms: mono(start, boot_t),
                            mono_end_ms: mono(end, boot_t),
                            size: content.len() as u64,
                            hash: digest(&content),
                        };
                        if sp.dup_record {
                            records.push(rec.clone());
                            roles.push(Role::Seg);
                        }
                        records.push(rec);
                        roles.push(Role::Seg);
                    }
                    v.files.push((name.clone(), content.clone()));
                    v.segs.push(SegOut {
                        seq,
                        session: si,
                        name,
                        kind: sp.kind,
                        content,
                        parts,
                        cut,
                        start_t: start,
                        end_t: end,
                        int_before,
                        line_idx,
                    });
                    seq += 1;
                    prev_end = end;
                }
                if ss.complete {
                    let (last_seq, segments) = match ss.end_skew {
                        None => (seq - 1, n as u64),
                        Some(EndSkew::MoreSegments) => (seq - 1, n as u64 + 1),
                        Some(EndSkew::LowerLast) => (seq - 2, n as u64),
                    };
                    records.push(Record::Close {
                        last_seq,
                        segments,
                        wall: wall_at(prev_end + off),
                        mono_ms: mono(prev_end, boot_t),
                    });
                    roles.push(Role::End);
                }
                let text = ChainFile::render(&records);
                let lines: Vec<String> = text.lines().map(str::to_string).collect();
                let last = lines.last().and_then(|l| l.rsplit_once('|')).map(|(_, h)| h).unwrap_or_default();
                prev_tail = Some(crate::recorder::format::parse_hex(0, "link", last).unwrap());
                v.chains.push((format!("20240501-S{si}.CHN"), lines));
                v.roles.push(roles);
                v.complete.push(ss.complete);
                t = prev_end;
            }
            v
        }
    }

    impl Volume {
        fn parsed_chains(&self) -> Vec<(String, ChainFile)> {
            self.chains.iter().map(|(n, lines)| (n.clone(), ChainFile::parse(lines.join("\n").as_bytes()))).collect()
        }
        /// What the dock reads, hashing the prefixes [`requested_prefixes`] asks for.
        fn reads(&self, chains: &[(String, ChainFile)]) -> Vec<ReadFile> {
            let all: Vec<(&String, String, &Vec<u8>)> = self
                .files
                .iter()
                .map(|(n, c)| (n, source_of(n), c))
                .chain(self.elsewhere.iter().map(|(n, s, c)| (n, s.clone(), c)))
                .collect();
            let names: Vec<String> = all.iter().map(|(n, _, _)| (*n).clone()).collect();
            let wanted = requested_prefixes(chains, &names);
            all.into_iter()
                .map(|(name, source, c)| ReadFile {
                    name: name.clone(),
                    source,
                    size: c.len() as u64,
                    hash: digest(c),
                    prefixes: wanted
                        .get(name)
                        .into_iter()
                        .flatten()
                        .filter(|o| **o <= c.len() as u64)
                        .map(|o| (*o, digest(&c[..*o as usize])))
                        .collect(),
                })
                .collect()
        }
        fn verify(&self, expected_first_seq: Option<u64>) -> Report {
            self.verify_as(expected_first_seq, SERIAL, &Memory::default())
        }
        /// Verified as docked under `serial`, by a dock that remembers `memory`.
        fn verify_as(&self, expected_first_seq: Option<u64>, serial: &str, memory: &Memory) -> Report {
            let chains = self.parsed_chains();
            let files = self.reads(&chains);
            verify(&Input {
                chains: &chains,
                files: &files,
                writes_chain: true,
                gap_tolerance_ms: TOL,
                expected_first_seq,
                serial,
                memory,
            })
        }
        /// What the dock remembers of chain `c` once it has seen it (up to its first record only,
        /// when `opening_only`).
        fn known(&self, c: usize, opening_only: bool) -> KnownSession {
            let chain = ChainFile::parse(self.chains[c].1.join("\n").as_bytes());
            let Record::Genesis { first_seq, session, .. } = &chain.records[0].record else { panic!("no GEN") };
            let next = self.segs.iter().filter(|s| s.session == c).map(|s| s.seq + 1).max().unwrap_or(*first_seq);
            KnownSession {
                session: session.clone(),
                chain_file: self.chains[c].0.clone(),
                docking: Some(2),
                genesis: chain.records[0].link,
                tail: chain.records[if opening_only { 0 } else { chain.records.len() - 1 }].link,
                first_seq: *first_seq,
                next_seq: if opening_only { *first_seq } else { next },
            }
        }
        fn file_mut(&mut self, name: &str) -> &mut Vec<u8> {
            &mut self.files.iter_mut().find(|(n, _)| n == name).unwrap().1
        }
        fn max_seq(&self) -> u64 {
            self.segs.iter().map(|s| s.seq).max().unwrap_or(0)
        }
    }

    fn split(line: &str) -> (&str, &str) {
        line.rsplit_once('|').unwrap()
    }

    fn forged_line(seq: u64) -> (String, String) {
        let name = SegmentName {
            serial: SERIAL.into(),
            badge: BADGE.into(),
            start: wall_at(-86_400),
            seq,
            kind: MediaKind::Video,
        }
        .render();
        let rec = Record::Segment {
            seq,
            name: name.clone(),
            kind: MediaKind::Video,
            start: wall_at(-86_400),
            end: wall_at(-86_000),
            mono_start_ms: 0,
            mono_end_ms: 400_000,
            size: 5,
            hash: digest(b"forged"),
        };
        (name, format!("{}|{}", rec.canonical(), hex(&digest(b"forged link"))))
    }

    // -----------------------------------------------------------------------------------------
    // One-fault mutations and their oracle
    // -----------------------------------------------------------------------------------------

    /// How a second file of a segment's name sits in another dated folder.
    #[derive(Debug, Clone, Copy)]
    enum Second {
        /// The same content.
        Same,
        /// Other content.
        Altered,
        /// The attested content, while the file in the dated folder of its name is altered.
        Swapped,
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        None,
        AlterFile(usize),
        DeleteFile(usize),
        ExtraFile { seq: u64 },
        SwapContents(usize, usize),
        Truncate(usize, usize),
        DeleteSeg(usize),
        SwapSegLines { chain: usize, idx: usize, bodies: bool },
        InsertForged { chain: usize, at: usize },
        EditSegHash(usize),
        RemoveEnd(usize),
        UnexplainedGap { session: usize, k: usize },
        // Contradictions within the volume.
        EditEnd { chain: usize, skew: EndSkew },
        DuplicateRecord(usize),
        DuplicateChain(usize),
        SecondFile { i: usize, how: Second },
        ForeignName(usize),
        ForeignIdentity,
        // Contradictions with the dock's memory of the recorder.
        MemoryTail,
        FirstDash,
        MemoryAhead,
        MemoryKnows { chain: usize, grown: bool },
        Redock { upto: usize },
    }

    fn all_mutations(sc: &Scenario, v: &Volume) -> Vec<Mutation> {
        use Mutation as M;
        let mut out = vec![M::None];
        let last_chain = v.chains.len() - 1;
        let whole: Vec<usize> = (0..v.segs.len()).filter(|&i| !v.segs[i].cut).collect();
        for &i in &whole {
            out.push(M::AlterFile(i));
            out.push(M::DeleteFile(i));
            out.push(M::EditSegHash(i));
            let size = v.segs[i].content.len();
            out.push(M::Truncate(i, size - 1));
            out.push(M::Truncate(i, size / 2));
            let s = &v.segs[i];
            // A record removed from the very end of the last chain, with its file, leaves no trace.
            if !(s.session == last_chain && s.line_idx == Some(v.chains[last_chain].1.len() - 1)) {
                out.push(M::DeleteSeg(i));
            }
            for &j in whole.iter().filter(|&&j| j > i) {
                out.push(M::SwapContents(i, j));
            }
            out.push(M::DuplicateRecord(i));
            out.push(M::ForeignName(i));
            out.push(M::SecondFile { i, how: Second::Swapped });
        }
        for i in (0..v.segs.len()).filter(|&i| v.segs[i].cut) {
            out.push(M::DeleteFile(i));
        }
        for i in 0..v.segs.len() {
            out.push(M::SecondFile { i, how: Second::Same });
            out.push(M::SecondFile { i, how: Second::Altered });
        }
        out.push(M::ExtraFile { seq: v.max_seq() + 1 });
        if let Some(&i) = whole.first() {
            out.push(M::ExtraFile { seq: v.segs[i].seq });
        }
        for (c, roles) in v.roles.iter().enumerate() {
            for idx in 0..roles.len().saturating_sub(1) {
                if roles[idx] == Role::Seg && roles[idx + 1] == Role::Seg {
                    out.push(M::SwapSegLines { chain: c, idx, bodies: false });
                    out.push(M::SwapSegLines { chain: c, idx, bodies: true });
                }
            }
            let n = roles.len();
            // Appended after the last record of a cut last chain: cannot be told from an edit.
            let upto = if c == last_chain && !v.complete[c] { n - 1 } else { n };
            for at in 0..=upto {
                out.push(M::InsertForged { chain: c, at });
            }
            if v.complete[c] {
                out.push(M::RemoveEnd(c));
                out.push(M::EditEnd { chain: c, skew: EndSkew::MoreSegments });
                if sc.sessions[c].segs.len() > 1 {
                    out.push(M::EditEnd { chain: c, skew: EndSkew::LowerLast });
                }
            }
            out.push(M::DuplicateChain(c));
            out.push(M::Redock { upto: c });
            if sc.earlier_tail.is_some() {
                out.push(M::MemoryKnows { chain: c, grown: false });
                out.push(M::MemoryKnows { chain: c, grown: true });
            }
        }
        for (si, ss) in sc.sessions.iter().enumerate() {
            let cut_idx = if !ss.complete && ss.cut_last { ss.segs.len() - 1 } else { usize::MAX };
            for k in 1..ss.segs.len() {
                let timed = |s: &SegSpec| s.kind != MediaKind::Photo;
                if k != cut_idx && timed(&ss.segs[k]) && timed(&ss.segs[k - 1]) {
                    out.push(M::UnexplainedGap { session: si, k });
                }
            }
        }
        out.push(M::ForeignIdentity);
        out.push(M::MemoryTail);
        out.push(M::FirstDash);
        if sc.earlier_tail.is_some() {
            out.push(M::MemoryAhead);
        }
        out
    }

    /// A finding: its sequence number, file name and path on the volume.
    type Key = (Option<u64>, Option<String>, Option<String>);

    #[derive(Debug)]
    struct Expect {
        /// Every finding: verdict and, where pinned, attested bytes.
        findings: BTreeMap<Key, (Verdict, Option<u64>)>,
        states: Vec<SessionState>,
        gaps: Vec<Vec<(u64, u64, Option<InterruptReason>)>>,
        /// `Some(true)`: every session's links intact; `Some(false)`: some session's not.
        intact: Option<bool>,
        /// A gap that must be unexplained (session, after, before).
        unexplained: Option<(usize, u64, u64)>,
        /// Every contradiction, by kind and session.
        contradictions: BTreeMap<(ContradictionKind, Option<String>), usize>,
        /// Sessions the dock learns.
        learnt: Vec<String>,
    }

    /// One mutated docking: the volume, who it is docked as, what the dock remembers, and
    /// what the report must say.
    struct Case {
        v: Volume,
        serial: &'static str,
        memory: Memory,
        e: Expect,
    }

    /// Gaps from the true timeline (not from the records' clocks): consecutive video/audio
    /// segments by sequence number, reason from the first `INT` before any segment after the first.
    fn expected_gaps(v: &Volume, removed: Option<usize>) -> Vec<Vec<(u64, u64, Option<InterruptReason>)>> {
        (0..v.chains.len())
            .map(|si| {
                let idx: Vec<usize> = (0..v.segs.len())
                    .filter(|&i| v.segs[i].session == si && !v.segs[i].cut && Some(i) != removed)
                    .filter(|&i| v.segs[i].kind != MediaKind::Photo)
                    .collect();
                idx.windows(2)
                    .filter(|w| (v.segs[w[1]].start_t - v.segs[w[0]].end_t) * 1000 > TOL as i64)
                    .map(|w| {
                        let reason = (w[0] + 1..=w[1]).find_map(|k| v.segs[k].int_before);
                        (v.segs[w[0]].seq, v.segs[w[1]].seq, reason)
                    })
                    .collect()
            })
            .collect()
    }

    /// A session docked earlier, whose last link is `tail` and after which `first_seq` comes.
    fn earlier(first_seq: u64, tail: Digest) -> KnownSession {
        KnownSession {
            session: "E".into(),
            chain_file: "E.CHN".into(),
            docking: Some(1),
            genesis: digest(b"an earlier genesis"),
            tail,
            first_seq: first_seq.saturating_sub(3),
            next_seq: first_seq,
        }
    }

    /// Session `i` by its id.
    fn sid(i: usize) -> Option<String> {
        Some(format!("S{i}"))
    }

    /// Applies one mutation and says what the report must be.
    fn mutate(sc: &Scenario, m: &Mutation) -> Case {
        let mut sc = sc.clone();
        // The dock remembers the session before the volume's first, when there was one.
        let mut memory = Memory {
            sessions: sc.earlier_tail.map(|t| earlier(sc.first_seq, t)).into_iter().collect(),
            last_used: None,
        };
        let locate = |sc: &Scenario, i: usize| {
            let mut k = i;
            for (si, ss) in sc.sessions.iter().enumerate() {
                if k < ss.segs.len() {
                    return (si, k);
                }
                k -= ss.segs.len();
            }
            unreachable!("segment {i} is in the scenario")
        };
        match *m {
            Mutation::UnexplainedGap { session, k } => {
                let s = &mut sc.sessions[session].segs[k];
                s.pause = 60;
                s.int = None;
            }
            Mutation::EditEnd { chain, skew } => sc.sessions[chain].end_skew = Some(skew),
            Mutation::DuplicateRecord(i) => {
                let (si, k) = locate(&sc, i);
                sc.sessions[si].segs[k].dup_record = true;
            }
            Mutation::ForeignName(i) => {
                let (si, k) = locate(&sc, i);
                sc.sessions[si].segs[k].foreign = true;
            }
            Mutation::FirstDash => {
                memory = Memory {
                    sessions: vec![earlier(sc.first_seq, sc.earlier_tail.unwrap_or([9; 32]))],
                    last_used: None,
                };
                sc.earlier_tail = None;
            }
            _ => {}
        }
        let mut v = sc.render();
        let mut findings: BTreeMap<Key, (Verdict, Option<u64>)> = v
            .segs
            .iter()
            .map(|s| {
                let expect = if s.cut {
                    (Verdict::Truncated, s.parts.last().copied())
                } else {
                    (Verdict::Verified, Some(s.content.len() as u64))
                };
                ((Some(s.seq), Some(s.name.clone()), Some(source_of(&s.name))), expect)
            })
            .collect();
        let key = |v: &Volume, i: usize| {
            (Some(v.segs[i].seq), Some(v.segs[i].name.clone()), Some(source_of(&v.segs[i].name)))
        };
        let mut states: Vec<SessionState> =
            v.complete.iter().map(|c| if *c { SessionState::Complete } else { SessionState::Cut }).collect();
        let mut gaps = expected_gaps(&v, None);
        let mut intact = Some(true);
        let mut unexplained = None;
        let mut contradictions: BTreeMap<(ContradictionKind, Option<String>), usize> = BTreeMap::new();
        let mut contradiction =
            |k: ContradictionKind, s: Option<String>| *contradictions.entry((k, s)).or_default() += 1;
        let mut serial = SERIAL;
        let n = v.chains.len();
        match *m {
            Mutation::None => {}
            Mutation::AlterFile(i) => {
                let name = v.segs[i].name.clone();
                v.file_mut(&name)[0] ^= 0x20;
                findings.insert(key(&v, i), (Verdict::Altered, Some(0)));
            }
            Mutation::DeleteFile(i) => {
                v.files.retain(|(n, _)| *n != v.segs[i].name);
                findings.remove(&key(&v, i));
                if v.segs[i].cut {
                    findings.insert((Some(v.segs[i].seq), None, None), (Verdict::Missing, Some(0)));
                } else {
                    findings
                        .insert((Some(v.segs[i].seq), Some(v.segs[i].name.clone()), None), (Verdict::Missing, Some(0)));
                }
            }
            Mutation::ExtraFile { seq } => {
                let name = SegmentName {
                    serial: SERIAL.into(),
                    badge: BADGE.into(),
                    start: wall_at(-3 * 86_400),
                    seq,
                    kind: MediaKind::Video,
                }
                .render();
                v.files.push((name.clone(), b"extra".to_vec()));
                findings.insert((Some(seq), Some(name.clone()), Some(source_of(&name))), (Verdict::Inserted, Some(0)));
            }
            Mutation::SwapContents(i, j) => {
                let (a, b) = (v.segs[i].content.clone(), v.segs[j].content.clone());
                let (na, nb) = (v.segs[i].name.clone(), v.segs[j].name.clone());
                *v.file_mut(&na) = b;
                *v.file_mut(&nb) = a;
                findings.insert(key(&v, i), (Verdict::Reordered, Some(0)));
                findings.insert(key(&v, j), (Verdict::Reordered, Some(0)));
            }
            Mutation::Truncate(i, len) => {
                let name = v.segs[i].name.clone();
                v.file_mut(&name).truncate(len);
                let attested = v.segs[i].parts.iter().copied().filter(|o| *o <= len as u64).max().unwrap_or(0);
                findings.insert(key(&v, i), (Verdict::Truncated, Some(attested)));
            }
            Mutation::DeleteSeg(i) => {
                let s = v.segs[i].clone();
                let line = s.line_idx.unwrap();
                // The last record of a chain: the next session names its link as the last.
                if line == v.chains[s.session].1.len() - 1 && s.session + 1 < n {
                    contradiction(K::LinkNotContinued, sid(s.session + 1));
                }
                v.chains[s.session].1.remove(line);
                v.files.retain(|(n, _)| *n != s.name);
                findings.remove(&key(&v, i));
                findings.insert((Some(s.seq), None, None), (Verdict::Missing, Some(0)));
                gaps = expected_gaps(&v, Some(i));
                intact = Some(false);
            }
            Mutation::SwapSegLines { chain, idx, bodies } => {
                let lines = &mut v.chains[chain].1;
                if bodies {
                    let (a, la) = split(&lines[idx]);
                    let (b, lb) = split(&lines[idx + 1]);
                    let (x, y) = (format!("{b}|{la}"), format!("{a}|{lb}"));
                    lines[idx] = x;
                    lines[idx + 1] = y;
                } else {
                    lines.swap(idx, idx + 1);
                }
                for i in 0..v.segs.len() {
                    if v.segs[i].session == chain && matches!(v.segs[i].line_idx, Some(l) if l == idx || l == idx + 1) {
                        findings.insert(key(&v, i), (Verdict::Reordered, Some(v.segs[i].content.len() as u64)));
                    }
                }
                intact = Some(false);
            }
            Mutation::InsertForged { chain, at } => {
                let seq = v.max_seq() + 1;
                let (name, line) = forged_line(seq);
                v.chains[chain].1.insert(at, line);
                findings.insert((Some(seq), Some(name), None), (Verdict::Inserted, Some(0)));
                intact = Some(false);
            }
            Mutation::EditSegHash(i) => {
                let s = v.segs[i].clone();
                let line = &mut v.chains[s.session].1[s.line_idx.unwrap()];
                let (body, link) = split(line);
                let mut rec = Record::parse(0, body).unwrap();
                if let Record::Segment { hash, .. } = &mut rec {
                    *hash = digest(b"edited");
                }
                *line = format!("{}|{link}", rec.canonical());
                findings.insert(key(&v, i), (Verdict::Altered, Some(0)));
                intact = Some(false);
            }
            Mutation::RemoveEnd(c) => {
                v.chains[c].1.pop();
                states[c] = SessionState::Cut;
                // The next session's genesis names the removed record's link.
                intact = Some(c + 1 == n);
                if c + 1 < n {
                    contradiction(K::LinkNotContinued, sid(c + 1));
                }
            }
            Mutation::UnexplainedGap { session, k } => {
                let before = v.segs.iter().position(|s| s.session == session).unwrap() + k;
                unexplained = Some((session, v.segs[before - 1].seq, v.segs[before].seq));
            }
            Mutation::EditEnd { chain, .. } => {
                states[chain] = SessionState::EndMismatch;
                contradiction(K::EndMismatch, sid(chain));
            }
            Mutation::DuplicateRecord(i) => contradiction(K::DuplicateRecord, sid(v.segs[i].session)),
            Mutation::DuplicateChain(c) => {
                let (name, lines) = v.chains[c].clone();
                v.chains.push((name.replace(".CHN", "~copy.CHN"), lines));
                states.insert(c + 1, states[c]);
                gaps.insert(c + 1, Vec::new());
                contradiction(K::SessionReused, sid(c));
            }
            Mutation::SecondFile { i, how } => {
                let name = v.segs[i].name.clone();
                let elsewhere = format!("DCIM/19990101/{name}");
                let mut content = v.segs[i].content.clone();
                let other = (Some(v.segs[i].seq), Some(name.clone()), Some(elsewhere.clone()));
                match how {
                    Second::Same => {
                        findings.insert(other, (Verdict::Inserted, Some(0)));
                    }
                    Second::Altered => {
                        content[0] ^= 0x20;
                        findings.insert(other, (Verdict::Inserted, Some(0)));
                    }
                    Second::Swapped => {
                        v.file_mut(&name)[0] ^= 0x20;
                        findings.insert(key(&v, i), (Verdict::Inserted, Some(0)));
                        findings.insert(other, (Verdict::Verified, Some(content.len() as u64)));
                    }
                }
                v.elsewhere.push((name, elsewhere, content));
            }
            Mutation::ForeignName(i) => {
                findings.insert(key(&v, i), (Verdict::Inserted, Some(0)));
                contradiction(K::SerialMismatch, sid(v.segs[i].session));
            }
            Mutation::ForeignIdentity => {
                serial = "Z999999";
                for f in findings.values_mut().filter(|f| f.0 == Verdict::Verified) {
                    *f = (Verdict::Inserted, Some(0));
                }
                for c in 0..n {
                    contradiction(K::SerialMismatch, sid(c));
                }
                // The cut segment's file: named for another recorder, and no record covers it.
                if v.segs.iter().any(|s| s.cut) {
                    contradiction(K::SerialMismatch, None);
                }
            }
            Mutation::MemoryTail => {
                memory = Memory {
                    sessions: vec![earlier(sc.first_seq, digest(b"not this recorder's last link"))],
                    last_used: None,
                };
                contradiction(K::LinkNotContinued, sid(0));
                intact = Some(false);
            }
            Mutation::FirstDash => {
                contradiction(K::LinkNotContinued, sid(0));
                intact = Some(false);
            }
            Mutation::MemoryAhead => {
                memory.sessions[0].next_seq += 1;
                contradiction(K::SeqReused, sid(0));
            }
            Mutation::MemoryKnows { chain, grown } => {
                memory.sessions.extend((0..chain).map(|c| v.known(c, false)));
                let mut k = v.known(chain, grown);
                if !grown {
                    k.genesis = digest(b"another genesis");
                }
                memory.sessions.push(k);
                contradiction(K::SessionReused, sid(chain));
            }
            Mutation::Redock { upto } => memory.sessions.extend((0..=upto).map(|c| v.known(c, false))),
        }
        let learnt = if serial == SERIAL {
            (0..n).map(|c| format!("S{c}")).filter(|s| memory.find(s).is_none()).collect()
        } else {
            Vec::new()
        };
        Case { v, serial, memory, e: Expect { findings, states, gaps, intact, unexplained, contradictions, learnt } }
    }

    fn check(sc: &Scenario, m: &Mutation) {
        let Case { v, serial, memory, e } = mutate(sc, m);
        let report = v.verify_as(Some(sc.first_seq), serial, &memory);
        let ctx = || {
            let chains: Vec<String> = v.chains.iter().map(|(n, l)| format!("{n}:\n{}", l.join("\n"))).collect();
            format!("mutation {m:?}\n{}\n{memory:?}\n{report:#?}", chains.join("\n"))
        };
        assert!(report.bad_lines.is_empty(), "{}", ctx());
        assert_eq!(report.provenance, Provenance::SealedAtSource);
        let mut got: BTreeMap<Key, &SegmentFinding> = BTreeMap::new();
        for f in &report.segments {
            assert!(
                got.insert((f.seq, f.name.clone(), f.source.clone()), f).is_none(),
                "duplicate finding {f:?}\n{}",
                ctx()
            );
        }
        assert_eq!(got.keys().collect::<Vec<_>>(), e.findings.keys().collect::<Vec<_>>(), "{}", ctx());
        for (k, (verdict, attested)) in &e.findings {
            let f = got[k];
            assert_eq!(f.verdict, *verdict, "{k:?}: {}\n{}", f.detail, ctx());
            if let Some(a) = attested {
                assert_eq!(f.attested_bytes, *a, "{k:?}: {}\n{}", f.detail, ctx());
            }
            assert!(!f.detail.is_empty());
        }
        let states: Vec<SessionState> = report.sessions.iter().map(|s| s.state).collect();
        assert_eq!(states, e.states, "{}", ctx());
        let gaps: Vec<Vec<(u64, u64, Option<InterruptReason>)>> = report
            .sessions
            .iter()
            .map(|s| s.gaps.iter().map(|g| (g.after_seq, g.before_seq, g.reason)).collect())
            .collect();
        assert_eq!(gaps, e.gaps, "{}", ctx());
        if let Some((si, a, b)) = e.unexplained {
            assert!(gaps[si].contains(&(a, b, None)), "{}", ctx());
        }
        match e.intact {
            Some(true) => assert!(report.sessions.iter().all(|s| s.links_intact), "{}", ctx()),
            Some(false) => assert!(report.sessions.iter().any(|s| !s.links_intact), "{}", ctx()),
            None => {}
        }
        let mut contradictions: BTreeMap<(ContradictionKind, Option<String>), usize> = BTreeMap::new();
        for c in &report.contradictions {
            *contradictions.entry((c.kind, c.session.clone())).or_default() += 1;
            assert!(!c.detail.is_empty() && !c.detail_zh.is_empty(), "{c:?}");
        }
        assert_eq!(contradictions, e.contradictions, "{}", ctx());
        let learnt: Vec<&str> = report.learnt.iter().map(|k| k.session.as_str()).collect();
        assert_eq!(learnt, e.learnt, "{}", ctx());
        if matches!(m, Mutation::None) {
            let clean = e.states.iter().all(|s| *s == SessionState::Complete) && e.gaps.iter().all(Vec::is_empty);
            assert_eq!(report.is_clean(), clean, "{}", ctx());
        }
    }
    // -----------------------------------------------------------------------------------------
    // Exhaustive checks of small chains
    // -----------------------------------------------------------------------------------------

    fn one_session_four_segments() -> Scenario {
        use MediaKind::*;
        Scenario {
            first_seq: 41,
            earlier_tail: Some(digest(b"an earlier docking")),
            first_id: 0,
            sessions: vec![SessionSpec {
                segs: vec![
                    seg(Video, 40, 2, 0),
                    seg(Video, 24, 0, 2),
                    seg(Audio, 33, 1, 90).int(InterruptReason::Battery),
                    seg(Video, 17, 0, 1),
                ],
                complete: true,
                cut_last: false,
                end_skew: None,
            }],
        }
    }

    fn two_sessions_first_cut() -> Scenario {
        use MediaKind::*;
        Scenario {
            first_seq: 1,
            earlier_tail: None,
            first_id: 0,
            sessions: vec![
                SessionSpec {
                    segs: vec![seg(Video, 30, 1, 0), seg(Photo, 12, 0, 3), seg(Video, 28, 2, 2)],
                    complete: false,
                    cut_last: true,
                    end_skew: None,
                },
                SessionSpec {
                    segs: vec![
                        seg(Audio, 20, 0, 0),
                        seg(Audio, 21, 1, 40).boot().clk(-7).int(InterruptReason::Weather),
                        seg(Video, 22, 0, 0),
                    ],
                    complete: true,
                    cut_last: false,
                    end_skew: None,
                },
            ],
        }
    }

    #[test]
    fn every_single_fault_of_small_chains_is_named_at_its_position() {
        let mut kinds = BTreeSet::new();
        let mut total = 0;
        for sc in [one_session_four_segments(), two_sessions_first_cut()] {
            let muts = all_mutations(&sc, &sc.render());
            for m in &muts {
                check(&sc, m);
                kinds.insert(format!("{m:?}").split(['(', ' ']).next().unwrap_or_default().to_string());
            }
            total += muts.len();
        }
        assert_eq!(kinds.len(), 23, "every kind of mutation is exercised: {kinds:?}");
        assert_eq!(total, 186, "mutations checked");
    }

    #[test]
    fn clean_small_chain_is_clean() {
        let mut sc = one_session_four_segments();
        sc.sessions[0].segs[2].pause = 0;
        let report = sc.render().verify(Some(41));
        assert!(report.is_clean(), "{report:#?}");
        assert!(report.segments.iter().all(|s| s.attested_bytes > 0 && s.session.as_deref() == Some("S0")));
        // An explained gap is reported, not hidden, and makes the report not clean.
        let report = one_session_four_segments().render().verify(Some(41));
        let gap = &report.sessions[0].gaps[0];
        assert_eq!((gap.after_seq, gap.before_seq, gap.reason), (42, 43, Some(InterruptReason::Battery)));
        assert_eq!(gap.duration_ms, 90_000);
        assert!(!report.is_clean());
    }

    // -----------------------------------------------------------------------------------------
    // Unit tests of single rules
    // -----------------------------------------------------------------------------------------

    fn finding(r: &Report, seq: u64) -> &SegmentFinding {
        r.segments.iter().find(|s| s.seq == Some(seq)).unwrap()
    }

    #[test]
    fn cut_session_attests_the_prefix_and_flags_an_altered_one() {
        let sc = two_sessions_first_cut();
        let v = sc.render();
        let report = v.verify(None);
        let cut = finding(&report, 3);
        assert_eq!((cut.verdict, cut.attested_bytes), (Verdict::Truncated, 18));
        assert!(
            cut.detail.starts_with("session cut by power loss: first 18 bytes attested, tail unattested"),
            "{}",
            cut.detail
        );
        assert_eq!(report.sessions[0].state, SessionState::Cut);
        assert!(report.sessions[0].notes.iter().any(|n| n.starts_with("no END record")));
        // A byte changed inside the attested prefix.
        let mut v2 = v.clone();
        let name = v.segs[2].name.clone();
        v2.file_mut(&name)[12] ^= 1;
        let cut = finding(&v2.verify(None), 3).clone();
        assert_eq!(cut.verdict, Verdict::Altered, "{}", cut.detail);
        // Cut below the first attested offset: nothing attested.
        let mut v3 = v.clone();
        v3.file_mut(&name).truncate(5);
        let cut = finding(&v3.verify(None), 3).clone();
        assert_eq!((cut.verdict, cut.attested_bytes), (Verdict::Truncated, 0), "{}", cut.detail);
        // The prefixes were not hashed: not attested, said so.
        let chains = v.parsed_chains();
        let mut files = v.reads(&chains);
        files.iter_mut().for_each(|f| f.prefixes.clear());
        let input = Input {
            chains: &chains,
            files: &files,
            writes_chain: true,
            gap_tolerance_ms: TOL,
            expected_first_seq: None,
            serial: SERIAL,
            memory: &Memory::default(),
        };
        let cut = finding(&verify(&input), 3).clone();
        assert_eq!((cut.verdict, cut.attested_bytes), (Verdict::Truncated, 0));
        assert!(cut.detail.contains("were not hashed"), "{}", cut.detail);
    }

    #[test]
    fn requested_prefixes_follow_seg_names_and_cut_file_names() {
        let v = two_sessions_first_cut().render();
        let chains = v.parsed_chains();
        let mut names: Vec<String> = v.files.iter().map(|(n, _)| n.clone()).collect();
        names.push("A123456_012345_20240501000000_000003.JPG".into());
        names.push("notes.txt".into());
        let got = requested_prefixes(&chains, &names);
        let want: BTreeMap<String, Vec<u64>> = [
            (v.segs[0].name.clone(), vec![15]),
            (v.segs[2].name.clone(), vec![9, 18]),
            ("A123456_012345_20240501000000_000003.JPG".to_string(), vec![9, 18]),
            (v.segs[4].name.clone(), vec![10]),
        ]
        .into_iter()
        .collect();
        assert_eq!(got, want);
        // Repeated PART records give one offset each.
        let mut twice = chains.clone();
        let again = twice[0].1.records.clone();
        twice[0].1.records.extend(again);
        assert_eq!(requested_prefixes(&twice, &names), want);
    }

    #[test]
    fn without_a_chain_every_file_is_unchained() {
        let v = one_session_four_segments().render();
        let chains = v.parsed_chains();
        let files = v.reads(&chains);
        let mut gapped = files.clone();
        gapped.remove(1);
        let none: Vec<(String, ChainFile)> = vec![];
        let cases = [
            (&chains[..], false, "the recorder states it writes no chain, so the 1 chain files present were not used"),
            (&none[..], false, "the recorder states it writes no chain"),
            (&none[..], true, "the recorder states it writes a chain but none was found"),
        ];
        for (chains, writes_chain, reason) in cases {
            let input = Input {
                chains,
                files: &gapped,
                writes_chain,
                gap_tolerance_ms: TOL,
                expected_first_seq: Some(40),
                serial: SERIAL,
                memory: &Memory::default(),
            };
            let r = verify(&input);
            assert_eq!(r.provenance, Provenance::SealedAtDock);
            let got: Vec<(Option<u64>, Verdict)> = r.segments.iter().map(|s| (s.seq, s.verdict)).collect();
            use Verdict::*;
            assert_eq!(
                got,
                vec![
                    (Some(40), Missing),
                    (Some(41), Unchained),
                    (Some(42), Missing),
                    (Some(43), Unchained),
                    (Some(44), Unchained)
                ]
            );
            assert!(r.segments[1].detail.ends_with(reason), "{}", r.segments[1].detail);
            assert!(r.segments.iter().all(|s| s.attested_bytes == 0));
            assert!(!r.is_clean());
        }
        // Chain files with no readable record: unchained, and the bad lines are reported.
        let junk = vec![("X.CHN".to_string(), ChainFile::parse(b"garbage\n"))];
        let input = Input {
            chains: &junk,
            files: &files,
            writes_chain: true,
            gap_tolerance_ms: TOL,
            expected_first_seq: None,
            serial: SERIAL,
            memory: &Memory::default(),
        };
        let r = verify(&input);
        assert!(r.segments.iter().all(|s| s.verdict == Verdict::Unchained));
        assert_eq!(r.bad_lines.len(), 1);
        assert_eq!(r.sessions.len(), 1);
        assert!(!r.sessions[0].links_intact);
    }

    #[test]
    fn bad_lines_are_reported_and_do_not_misjudge_the_next_record() {
        let mut v = one_session_four_segments().render();
        // Line 5 (SEG 42) is damaged: it no longer parses.
        assert!(v.chains[0].1[4].starts_with("SEG|42|"));
        v.chains[0].1[4] = v.chains[0].1[4].replace("SEG|42|", "SEG|4x2|");
        let r = v.verify(Some(41));
        assert_eq!(r.bad_lines.len(), 1);
        assert_eq!(r.bad_lines[0].1.line, 5);
        assert!(!r.is_clean());
        let s = &r.sessions[0];
        assert!(!s.links_intact);
        assert!(s.notes.iter().any(|n| n.starts_with("line 5 could not be read")), "{:?}", s.notes);
        // Seg 42's file has no record now: inserted; seq 43 after the bad line is judged on its own.
        assert_eq!(finding(&r, 42).verdict, Verdict::Inserted);
        assert_eq!(finding(&r, 43).verdict, Verdict::Verified);
    }

    #[test]
    fn chain_without_genesis_is_noted_and_checked_from_zero() {
        let recs = vec![Record::Segment {
            seq: 7,
            name: "A123456_012345_20240501080000_000007.MP4".into(),
            kind: MediaKind::Video,
            start: base(),
            end: base(),
            mono_start_ms: 0,
            mono_end_ms: 0,
            size: 3,
            hash: digest(b"abc"),
        }];
        let chains = vec![("X.CHN".to_string(), ChainFile::parse(ChainFile::render(&recs).as_bytes()))];
        let files = vec![ReadFile {
            name: "A123456_012345_20240501080000_000007.MP4".into(),
            source: "DCIM/20240501/A123456_012345_20240501080000_000007.MP4".into(),
            size: 3,
            hash: digest(b"abc"),
            prefixes: vec![],
        }];
        let input = Input {
            chains: &chains,
            files: &files,
            writes_chain: true,
            gap_tolerance_ms: TOL,
            expected_first_seq: None,
            serial: SERIAL,
            memory: &Memory::default(),
        };
        let r = verify(&input);
        assert_eq!(r.segments[0].verdict, Verdict::Verified);
        assert_eq!(r.sessions[0].session, "X");
        assert!(r.sessions[0].links_intact);
        assert!(r.sessions[0].notes[0].starts_with("the chain file does not start with a GEN record"));
        // Nothing ties it to the device's previous session: not clean, named.
        assert!(!r.is_clean());
        let c: Vec<(ContradictionKind, Option<usize>)> = r.contradictions.iter().map(|c| (c.kind, c.line)).collect();
        assert_eq!(c, vec![(K::LinkNotContinued, Some(1))]);
        assert!(r.contradictions[0].detail.starts_with("X.CHN has no GEN record, so nothing shows it continues"));
        // Against a memory that has seen number 7 already, its numbers are used again too.
        let memory = Memory {
            sessions: vec![KnownSession {
                session: "E".into(),
                chain_file: "E.CHN".into(),
                docking: Some(3),
                genesis: ZERO_LINK,
                tail: ZERO_LINK,
                first_seq: 1,
                next_seq: 9,
            }],
            last_used: None,
        };
        let r = verify(&Input { memory: &memory, ..input });
        let c: Vec<ContradictionKind> = r.contradictions.iter().map(|c| c.kind).collect();
        assert_eq!(c, vec![K::LinkNotContinued, K::SeqReused]);
        assert!(r.contradictions[0].detail.contains("continues session E (the last the dock saw"));
        assert!(r.contradictions[1]
            .detail
            .contains("uses sequence number 7 again: the dock saw session E (docking 3)"));
    }

    #[test]
    fn clock_sets_and_reboots_are_noted_and_gaps_use_the_wall_clock_across_a_reboot() {
        let v = two_sessions_first_cut().render();
        let r = v.verify(Some(1));
        let s = &r.sessions[1];
        assert!(s.notes.iter().any(|n| n.starts_with("recorder rebooted at line 4")), "{:?}", s.notes);
        let clk = s.notes.iter().find(|n| n.starts_with("clock set from")).unwrap();
        assert!(clk.ends_with("at line 5"), "{clk}");
        // 40 s pause across a reboot and a clock set back by 7 s: still 40 s, explained.
        assert_eq!(s.gaps.len(), 1);
        assert_eq!((s.gaps[0].duration_ms, s.gaps[0].reason), (40_000, Some(InterruptReason::Weather)));
        assert_eq!(s.start, Some(wall_at(3600 + 30 + 3 + 2 + 30 + 3600)));
    }

    #[test]
    fn photos_make_no_gaps_and_unexplained_gaps_have_no_reason() {
        use MediaKind::*;
        let sc = Scenario {
            first_seq: 1,
            earlier_tail: None,
            first_id: 0,
            sessions: vec![SessionSpec {
                segs: vec![seg(Video, 10, 0, 0), seg(Photo, 10, 0, 500), seg(Photo, 10, 0, 500), seg(Audio, 10, 0, 1)],
                complete: true,
                cut_last: false,
                end_skew: None,
            }],
        };
        let r = sc.render().verify(None);
        let g = &r.sessions[0].gaps;
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!((g[0].after_seq, g[0].before_seq, g[0].duration_ms, g[0].reason), (1, 4, 1_001_000, None));
        assert_eq!(g[0].from, wall_at(3600 + 30));
    }

    #[test]
    fn end_record_that_disagrees_needs_review_and_its_missing_numbers_are_one_run() {
        let mut v = one_session_four_segments().render();
        let lines = &mut v.chains[0].1;
        let (body, _) = split(lines.last().unwrap());
        let mut rec = Record::parse(0, body).unwrap();
        if let Record::Close { last_seq, segments, .. } = &mut rec {
            *last_seq += 2;
            *segments += 2;
        }
        // A recorder that wrote this END itself (links recomputed).
        let mut records: Vec<Record> = lines.iter().map(|l| Record::parse(0, split(l).0).unwrap()).collect::<Vec<_>>();
        *records.last_mut().unwrap() = rec;
        *lines = ChainFile::render(&records).lines().map(str::to_string).collect();
        let r = v.verify(None);
        assert_eq!(r.sessions[0].state, SessionState::EndMismatch, "not complete: it needs review");
        assert_eq!(r.sessions[0].state.as_str(), "end_mismatch");
        assert!(r.sessions[0].links_intact);
        assert!(r.sessions[0].notes.iter().any(|n| n.contains("states 6 segments up to sequence number 46")));
        assert!(!r.is_clean());
        assert_eq!(r.contradictions.len(), 1);
        let c = &r.contradictions[0];
        assert_eq!((c.kind, c.line, c.seqs), (K::EndMismatch, Some(10), Some((41, 46))));
        assert!(r.contradictions[0].detail_zh.contains("END 记录称共 6 个片段、至序号 46"), "{:?}", r.contradictions);
        let missing: Vec<(Option<u64>, Option<u64>, Verdict)> =
            r.segments.iter().filter(|s| s.name.is_none()).map(|s| (s.seq, s.last_seq, s.verdict)).collect();
        assert_eq!(missing, vec![(Some(45), Some(46), Verdict::Missing)]);
        assert_eq!(finding(&r, 45).detail, "sequence numbers 45 to 46 (2 numbers) are absent");
    }

    #[test]
    fn numbers_expected_before_the_first_seen_are_missing_and_every_run_is_one_finding() {
        let mut v = one_session_four_segments().render();
        let r = v.verify(Some(39));
        let missing: Vec<(Option<u64>, Option<u64>)> =
            r.segments.iter().filter(|s| s.verdict == Verdict::Missing).map(|s| (s.seq, s.last_seq)).collect();
        assert_eq!(missing, vec![(Some(39), Some(40))]);
        // A forged name with a huge sequence number.
        v.files.push(("A123456_012345_20240501080000_99999999999.MP4".into(), b"x".to_vec()));
        let r = v.verify(Some(41));
        assert_eq!(finding(&r, 99_999_999_999).verdict, Verdict::Inserted);
        assert_eq!(r.segments.len(), 5, "an inserted name makes no number before it missing");
        // Numbers expected from earlier dockings are still missing: one run, one finding.
        let r = v.verify(Some(1));
        let missing: Vec<&SegmentFinding> = r.segments.iter().filter(|s| s.verdict == Verdict::Missing).collect();
        assert_eq!(missing.len(), 1);
        assert_eq!((missing[0].seq, missing[0].last_seq), (Some(1), Some(40)));
        assert_eq!(missing[0].detail, "sequence numbers 1 to 40 (40 numbers) are absent");
    }

    #[test]
    fn file_level_details_name_sizes_hashes_and_lines() {
        let v = one_session_four_segments().render();
        let name = v.segs[0].name.clone();
        let check_detail = |edit: &dyn Fn(&mut Vec<u8>), verdict: Verdict, attested: u64, expect: &str| {
            let mut v = v.clone();
            edit(v.file_mut(&name));
            let r = v.verify(None);
            let f = finding(&r, 41);
            assert_eq!((f.verdict, f.attested_bytes), (verdict, attested), "{}", f.detail);
            assert!(f.detail.contains(expect), "{:?} should contain {expect:?}", f.detail);
        };
        check_detail(&|_| {}, Verdict::Verified, 40, "matches the SEG record at line 4 of 20240501-S0.CHN (40 bytes");
        check_detail(&|c| c.push(0), Verdict::Altered, 0, "is 41 bytes but the SEG record at line 4");
        check_detail(&|c| c[39] ^= 1, Verdict::Altered, 0, "has the 40 bytes the SEG record at line 4");
        check_detail(
            &|c| c.truncate(30),
            Verdict::Truncated,
            26,
            "is 30 of the 40 bytes the SEG record at line 4 of 20240501-S0.CHN attests; its first 26 bytes still \
             match the PART record at line 3",
        );
        check_detail(&|c| c.truncate(10), Verdict::Truncated, 0, "no PART record attests the prefix that remains");
        check_detail(&|c| c[1] ^= 1, Verdict::Altered, 0, "instead of");
    }

    #[test]
    fn a_twice_edited_chain_is_broken_at_the_first_line() {
        let mut v = one_session_four_segments().render();
        for idx in [4, 5] {
            let line = &mut v.chains[0].1[idx];
            *line = line.replacen("|2024-05-01T", "|2024-05-02T", 1);
        }
        let r = v.verify(None);
        let notes = &r.sessions[0].notes;
        assert!(notes.iter().any(|n| n.starts_with("chain broken at line 5 (SEG seq 42)")), "{notes:?}");
        assert!(notes.iter().any(|n| n.starts_with("line 6 (INT) was edited")), "{notes:?}");
        assert_eq!(finding(&r, 42).verdict, Verdict::Altered);
        assert!(finding(&r, 42).detail.contains("chain is broken"));
        assert_eq!(finding(&r, 41).verdict, Verdict::Verified);
    }

    #[test]
    fn sessions_must_chain_to_each_other() {
        let sc = two_sessions_first_cut();
        let mut v = sc.render();
        // The second session's genesis names a tail the first session does not end with.
        let lines = &mut v.chains[1].1;
        let mut records: Vec<Record> = lines.iter().map(|l| Record::parse(0, split(l).0).unwrap()).collect();
        if let Record::Genesis { prev_tail, .. } = &mut records[0] {
            *prev_tail = Some(ZERO_LINK);
        }
        *lines = ChainFile::render(&records).lines().map(str::to_string).collect();
        let r = v.verify(None);
        assert!(r.sessions[0].links_intact);
        assert!(!r.sessions[1].links_intact);
        let notes = &r.sessions[1].notes;
        assert!(notes.iter().any(|n| n.contains("as the previous session's last link, but session S0")), "{notes:?}");
        assert!(r.segments.iter().all(|s| s.verdict == Verdict::Verified || s.seq == Some(3)));
    }

    #[test]
    fn contradiction_kinds_have_distinct_stable_names_in_both_languages() {
        let names: BTreeSet<&str> = ContradictionKind::ALL.iter().map(|k| k.as_str()).collect();
        let labels: BTreeSet<&str> = ContradictionKind::ALL.iter().map(|k| k.label_zh()).collect();
        assert_eq!((names.len(), labels.len()), (7, 7));
        assert_eq!(K::SeqReused.as_str(), "seq_reused");
        assert_eq!(K::LinkNotContinued.label_zh(), "哈希链未衔接");
        assert_eq!(SessionState::EndMismatch.label_zh(), "结束记录不符");
    }

    /// A chain of `n` linked `SEG` records, sequence numbers `step` apart, whose files are not
    /// on the volume; every other record, when `removals`, does not link to the one before
    /// while the next one links from it (records removed between them).
    fn hostile_chain(n: u64, step: u64, removals: bool) -> Vec<(String, ChainFile)> {
        let mut recs = vec![Record::Genesis {
            serial: SERIAL.into(),
            session: "H".into(),
            boot: "B".into(),
            first_seq: 1,
            wall: base(),
            mono_ms: 0,
            prev_tail: None,
        }];
        for i in 0..n {
            let seq = 1 + i * step;
            recs.push(Record::Segment {
                seq,
                name: SegmentName {
                    serial: SERIAL.into(),
                    badge: BADGE.into(),
                    start: base(),
                    seq,
                    kind: MediaKind::Video,
                }
                .render(),
                kind: MediaKind::Video,
                start: base(),
                end: base(),
                mono_start_ms: 0,
                mono_end_ms: 0,
                size: 5,
                hash: digest(&i.to_le_bytes()),
            });
        }
        let mut text = String::new();
        let mut link = ZERO_LINK;
        for (i, r) in recs.iter().enumerate() {
            let prev = if removals && i % 2 == 0 && i > 0 { digest(&i.to_le_bytes()) } else { link };
            link = r.link_after(&prev);
            text += &format!("{}|{}\n", r.canonical(), hex(&link));
        }
        vec![("H.CHN".to_string(), ChainFile::parse(text.as_bytes()))]
    }

    #[test]
    fn a_small_hostile_chain_gives_a_bounded_number_of_findings() {
        for removals in [false, true] {
            // 3000 records 999 numbers apart: about 3 million absent numbers in 3000 runs, from a
            // chain of some 500 KiB (before: a finding, a catalogue row and a custody event each).
            let chains = hostile_chain(3000, 999, removals);
            let input = Input {
                chains: &chains,
                files: &[],
                writes_chain: true,
                gap_tolerance_ms: TOL,
                expected_first_seq: None,
                serial: SERIAL,
                memory: &Memory::default(),
            };
            let r = verify(&input);
            assert_eq!(r.segments.len(), MAX_RECORD_FINDINGS, "removals {removals}");
            assert!(r.segments.iter().all(|s| s.source.is_none()));
            // Runs are single findings with their range.
            let runs: Vec<&SegmentFinding> = r.segments.iter().filter(|s| s.name.is_none()).collect();
            assert!(!runs.is_empty());
            for f in &runs {
                let (a, b) = (f.seq.unwrap(), f.last_seq.unwrap());
                assert_eq!(b - a, 997, "{f:?}");
                assert!(
                    f.detail.starts_with(&format!("sequence numbers {a} to {b} (998 numbers) are absent")),
                    "{f:?}"
                );
            }
            let capped: Vec<&Contradiction> = r.contradictions.iter().filter(|c| c.kind == K::FindingsCapped).collect();
            assert_eq!(capped.len(), 1, "{:?}", r.contradictions);
            assert!(
                capped[0].detail.contains("4999 findings about records or sequence numbers with no file"),
                "{}",
                capped[0].detail
            );
            assert!(capped[0].detail_zh.contains("4999 项"), "{}", capped[0].detail_zh);
            assert!(r.contradictions.len() <= MAX_CONTRADICTIONS + 1);
            assert!(r.sessions.iter().all(|s| s.notes.len() <= MAX_NOTES), "{:?}", r.sessions[0].notes.len());
            if removals {
                assert!(r.sessions[0].notes.last().unwrap().ends_with("more notes on this session, not listed"));
                assert!(capped[0].detail.contains("session notes"), "{}", capped[0].detail);
            }
        }
    }

    #[test]
    fn a_copied_chain_file_is_judged_once_whichever_name_sorts_first() {
        for copy in ["20240501-A0.CHN", "20240501-S0~copy.CHN"] {
            let mut v = one_session_four_segments().render();
            let lines = v.chains[0].1.clone();
            v.chains.push((copy.to_string(), lines));
            let r = v.verify(Some(41));
            assert_eq!(r.segments.len(), 4, "{:#?}", r.segments);
            assert!(
                r.segments.iter().all(|s| s.verdict == Verdict::Verified && s.source.is_some()),
                "{:#?}",
                r.segments
            );
            assert!(r.segments.iter().all(|s| !s.detail.contains("not on the volume")));
            assert_eq!(r.sessions.len(), 2);
            assert_eq!(r.sessions.iter().map(|s| s.gaps.len()).sum::<usize>(), 1, "the gap is reported once");
            let c: Vec<(ContradictionKind, Option<&str>)> =
                r.contradictions.iter().map(|c| (c.kind, c.session.as_deref())).collect();
            assert_eq!(c, vec![(K::SessionReused, Some("S0"))]);
            assert!(r.contradictions[0].detail.contains("with the same records"), "{}", r.contradictions[0].detail);
            assert_eq!(r.learnt.len(), 1, "remembered once");
        }
    }

    #[test]
    fn two_records_for_one_file_judge_it_once_by_the_record_that_attests_it() {
        let mut v = one_session_four_segments().render();
        // A second SEG record for seq 42's file attesting other content, written before the
        // true one (links recomputed): the file is judged by the record whose content it holds.
        let lines = &mut v.chains[0].1;
        let mut records: Vec<Record> = lines.iter().map(|l| Record::parse(0, split(l).0).unwrap()).collect();
        let at = records.iter().position(|r| matches!(r, Record::Segment { seq: 42, .. })).unwrap();
        let mut other = records[at].clone();
        if let Record::Segment { hash, .. } = &mut other {
            *hash = digest(b"other content");
        }
        records.insert(at, other);
        *lines = ChainFile::render(&records).lines().map(str::to_string).collect();
        let r = v.verify(Some(41));
        assert_eq!(r.segments.len(), 4);
        assert_eq!(finding(&r, 42).verdict, Verdict::Verified, "{}", finding(&r, 42).detail);
        assert!(finding(&r, 42).detail.contains(&format!("line {} of", at + 2)), "{}", finding(&r, 42).detail);
        let c: Vec<(ContradictionKind, Option<usize>)> = r.contradictions.iter().map(|c| (c.kind, c.line)).collect();
        assert_eq!(c, vec![(K::DuplicateRecord, Some(at + 1))]);
        assert!(
            r.contradictions[0].detail.contains("but attests seq 42, 24 bytes, blake3"),
            "{}",
            r.contradictions[0].detail
        );
        assert_eq!(r.sessions[0].state, SessionState::Complete, "one number recorded twice counts once");
    }

    #[test]
    fn of_two_files_with_one_name_each_verdict_names_its_own_file() {
        let base = one_session_four_segments().render();
        let name = base.segs[1].name.clone();
        let right = source_of(&name);
        let other = format!("DCIM/20240502/{name}");
        // The attested content in the wrong folder, other bytes in the right one.
        let mut v = base.clone();
        v.elsewhere.push((name.clone(), other.clone(), base.segs[1].content.clone()));
        v.file_mut(&name)[0] ^= 1;
        let r = v.verify(Some(41));
        let of = |src: &str| r.segments.iter().find(|s| s.source.as_deref() == Some(src)).unwrap();
        assert_eq!(of(&other).verdict, Verdict::Verified);
        assert!(of(&other).detail.contains(&format!("(stored as {other}, not in the dated folder of its name)")));
        assert_eq!(of(&right).verdict, Verdict::Inserted);
        assert!(
            of(&right).detail.starts_with(&format!("{right} (24 bytes, blake3 "))
                && of(&right).detail.contains(&format!("is a second file named {name} beside {other}, which is the one the SEG record at line 5 of 20240501-S0.CHN judges")),
            "{}",
            of(&right).detail
        );
        assert_eq!(r.segments.len(), 5);
        assert!(r.segments.iter().all(|s| !s.detail.contains("not on the volume")));
        assert!(r.contradictions.is_empty(), "{:?}", r.contradictions);
    }

    #[test]
    fn a_chain_of_another_recorder_is_never_verified_as_this_ones() {
        let sc = two_sessions_first_cut();
        let mut v = sc.render();
        // Session 2's GEN names another recorder (links recomputed, as that recorder wrote it).
        let lines = &mut v.chains[1].1;
        let mut records: Vec<Record> = lines.iter().map(|l| Record::parse(0, split(l).0).unwrap()).collect();
        if let Record::Genesis { serial, .. } = &mut records[0] {
            *serial = FOREIGN.into();
        }
        *lines = ChainFile::render(&records).lines().map(str::to_string).collect();
        let r = v.verify(None);
        for s in &r.segments {
            let in_second = s.session.as_deref() == Some("S1");
            let expect = if in_second {
                Verdict::Inserted
            } else if s.seq == Some(3) {
                Verdict::Truncated
            } else {
                Verdict::Verified
            };
            assert_eq!(s.verdict, expect, "{s:?}");
            if in_second {
                assert!(s.detail.ends_with("but its chain's GEN record names recorder B765432, so it is not attested as recorder A123456's"), "{}", s.detail);
            }
        }
        let c: Vec<(ContradictionKind, Option<&str>)> =
            r.contradictions.iter().map(|c| (c.kind, c.session.as_deref())).collect();
        assert_eq!(c, vec![(K::SerialMismatch, Some("S1"))]);
        assert!(r.contradictions[0].detail_zh.contains("属于记录仪 B765432，而身份文件为 A123456"));
        assert_eq!(
            r.learnt.iter().map(|k| k.session.as_str()).collect::<Vec<_>>(),
            vec!["S0"],
            "another recorder's session is not learnt"
        );
        let chains = v.parsed_chains();
        let names: Vec<String> = v.files.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(other_serials(&chains, &names, SERIAL), BTreeSet::from([FOREIGN.to_string()]));
        assert!(other_serials(&chains, &names, FOREIGN).contains(SERIAL));
    }

    /// What the dock remembers after verifying `r`.
    fn remembered(memory: &Memory, r: &Report, docking: i64) -> Memory {
        let mut m = memory.clone();
        m.sessions.extend(r.learnt.iter().cloned().map(|mut k| {
            k.docking = Some(docking);
            k
        }));
        m
    }

    #[test]
    fn labels_are_stable() {
        assert_eq!(Verdict::Reordered.as_str(), "reordered");
        assert_eq!(Verdict::Truncated.label_zh(), "被截断");
        assert!(!Verdict::Verified.is_flagged() && Verdict::Unchained.is_flagged());
        assert_eq!(SessionState::Cut.as_str(), "cut");
        assert_eq!(format_wall(base()), "2024-05-01T08:00:00");
    }

    // -----------------------------------------------------------------------------------------
    // Property tests
    // -----------------------------------------------------------------------------------------

    fn seg_spec() -> impl Strategy<Value = SegSpec> {
        (
            0u8..10,
            8usize..48,
            0usize..3,
            prop_oneof![3 => 0i64..=5, 1 => 6i64..=300],
            proptest::option::weighted(0.4, 0usize..6),
            proptest::bool::weighted(0.15),
            proptest::option::weighted(0.15, -30i64..=30),
            1i64..=120,
        )
            .prop_map(|(k, size, parts, pause, int, boot, clk, duration)| SegSpec {
                kind: match k {
                    0..=5 => MediaKind::Video,
                    6..=7 => MediaKind::Audio,
                    _ => MediaKind::Photo,
                },
                size,
                parts,
                pause,
                int: int.map(|i| InterruptReason::ALL[i]),
                boot,
                clk,
                duration,
                dup_record: false,
                foreign: false,
            })
    }

    fn scenario() -> impl Strategy<Value = Scenario> {
        let session = (proptest::collection::vec(seg_spec(), 1..=10), proptest::bool::weighted(0.7), any::<bool>())
            .prop_map(|(segs, complete, cut_last)| SessionSpec { segs, complete, cut_last, end_skew: None });
        (1u64..100_000, proptest::collection::vec(session, 1..=3), any::<bool>()).prop_map(
            |(first_seq, sessions, earlier)| Scenario {
                first_seq,
                sessions,
                earlier_tail: earlier.then(|| digest(&first_seq.to_le_bytes())),
                first_id: 0,
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        #[test]
        fn one_random_fault_is_named_at_its_position(sc in scenario(), pick in any::<proptest::sample::Index>()) {
            let muts = all_mutations(&sc, &sc.render());
            check(&sc, pick.get(&muts));
        }

        #[test]
        fn unmutated_complete_chains_without_pauses_are_clean(sc in scenario()) {
            let mut sc = sc;
            for s in &mut sc.sessions {
                s.complete = true;
                s.segs.iter_mut().for_each(|g| g.pause = 0);
            }
            let report = sc.render().verify(Some(sc.first_seq));
            prop_assert!(report.is_clean(), "{:#?}", report);
        }

        #[test]
        fn the_same_footage_docked_again_or_continued_is_no_contradiction(
            sc in scenario(),
            more in proptest::collection::vec(proptest::collection::vec(seg_spec(), 1..=4), 1..=2),
        ) {
            let mut sc = sc;
            for s in &mut sc.sessions {
                s.complete = true;
            }
            let v = sc.render();
            let first = v.verify_as(Some(sc.first_seq), SERIAL, &Memory::default());
            prop_assert!(first.contradictions.is_empty(), "{:#?}", first.contradictions);
            prop_assert_eq!(first.learnt.len(), sc.sessions.len());
            let memory = remembered(&Memory::default(), &first, 1);
            // Docked again, not wiped: the same sessions, nothing new to remember.
            let again = v.verify_as(Some(sc.first_seq), SERIAL, &memory);
            prop_assert!(again.contradictions.is_empty(), "{:#?}", again.contradictions);
            prop_assert!(again.learnt.is_empty());
            prop_assert_eq!(&again.segments, &first.segments);
            // Wiped, then the recorder's next sessions: they continue the last link and numbers.
            let next_seq = v.max_seq() + 1;
            let tail = memory.last().map(|k| k.tail);
            let later = Scenario {
                first_seq: next_seq,
                earlier_tail: tail,
                first_id: sc.sessions.len(),
                sessions: more.iter().map(|segs| SessionSpec { segs: segs.clone(), complete: true, cut_last: false, end_skew: None }).collect(),
            };
            let lv = later.render();
            let r = lv.verify_as(Some(next_seq), SERIAL, &memory);
            prop_assert!(r.contradictions.is_empty(), "{:#?}", r.contradictions);
            prop_assert!(r.sessions.iter().all(|s| s.links_intact));
            // The next sessions replayed from earlier numbers, or not naming the last link, are not.
            let replay = Scenario { first_seq: next_seq - 1, ..later.clone() };
            let r = replay.render().verify_as(Some(next_seq), SERIAL, &memory);
            prop_assert!(r.contradictions.iter().any(|c| c.kind == K::SeqReused && c.session == Some(format!("S{}", sc.sessions.len()))), "{:#?}", r.contradictions);
            let unlinked = Scenario { earlier_tail: Some(digest(b"made up")), ..later };
            let r = unlinked.render().verify_as(Some(next_seq), SERIAL, &memory);
            let kinds: Vec<ContradictionKind> = r.contradictions.iter().map(|c| c.kind).collect();
            prop_assert_eq!(kinds, vec![K::LinkNotContinued]);
        }
    }
}
