//! Segment hash chain verification: a pure function from what the recorder's chain files say
//! and what the dock actually read to a verdict per segment and per session.
//!
//! Owns: the classification of every segment (verified, altered, missing, inserted, reordered,
//! truncated, unchained), every session (complete, cut) and every gap (explained, unexplained).
//! Must never: do I/O, read a clock, or fail because of tampering: finding tampering is a
//! result, not an error (R5, R6, R13).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDateTime;

use super::format::{
    hex, ChainFile, Digest, FormatError, InterruptReason, Linked, MediaKind, Record, SegmentName, ZERO_LINK,
};
use super::seal::DOCK_BOOT;

/// What the dock read of one footage file on the volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFile {
    /// File name (a [`super::format::SegmentName`] where it parses).
    pub name: String,
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
    /// Sequence number, where known (from a record or the file name).
    pub seq: Option<u64>,
    /// File name, where known.
    pub name: Option<String>,
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
}

impl SessionState {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Complete => "complete",
            SessionState::Cut => "cut",
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
    /// sentence each.
    pub notes: Vec<String>,
}

/// The outcome of verifying one docking's footage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Sealed at source or at dock.
    pub provenance: Provenance,
    /// One finding per segment (per file on the volume, plus one per missing segment), in
    /// sequence order, unsequenced ones last by name.
    pub segments: Vec<SegmentFinding>,
    /// One finding per chain file.
    pub sessions: Vec<SessionFinding>,
    /// Chain lines that could not be parsed, by chain file.
    pub bad_lines: Vec<(String, FormatError)>,
}

impl Report {
    /// Whether every segment verified, every session is complete and there is no gap.
    pub fn is_clean(&self) -> bool {
        self.segments.iter().all(|s| !s.verdict.is_flagged())
            && self.sessions.iter().all(|s| s.state == SessionState::Complete && s.links_intact && s.gaps.is_empty())
            && self.bad_lines.is_empty()
    }
}

/// Longest run of absent sequence numbers reported one finding per number; a longer run (a
/// forged name with a huge number, say) is reported as one finding naming the whole run.
pub const MAX_MISSING_RUN: u64 = 1000;

/// The prefix offsets the chains' `PART` records attest, by segment file name, so that the
/// copier can hash those prefixes as it streams.
///
/// Each `PART` record's offset is keyed by the name the `SEG` record with the same sequence
/// number gives (in any chain), or, when no such record exists (the last segment of a cut
/// session), by every name in `file_names` whose [`SegmentName`] carries that number.
/// `file_names` are bare file names, as in [`ReadFile::name`]. Offsets are sorted and
/// deduplicated; names no offset applies to are absent.
pub fn requested_prefixes(chains: &[(String, ChainFile)], file_names: &[String]) -> BTreeMap<String, Vec<u64>> {
    let mut seg_names: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for (_, chain) in chains {
        for l in &chain.records {
            if let Record::Segment { seq, name, .. } = &l.record {
                seg_names.entry(*seq).or_default().push(name);
            }
        }
    }
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (_, chain) in chains {
        for l in &chain.records {
            let Record::Partial { seq, offset, .. } = &l.record else { continue };
            let names: Vec<&str> = match seg_names.get(seq) {
                Some(names) => names.clone(),
                None => file_names
                    .iter()
                    .filter(|f| SegmentName::parse(f).is_some_and(|n| n.seq == *seq))
                    .map(String::as_str)
                    .collect(),
            };
            for name in names {
                out.entry(name.to_string()).or_default().push(*offset);
            }
        }
    }
    for offsets in out.values_mut() {
        offsets.sort_unstable();
        offsets.dedup();
    }
    out
}

/// Verifies one docking's footage against its chains.
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
///   [`SessionFinding::links_intact`].
/// - Each file is compared with the `SEG` record of its name: verified, altered, truncated
///   (shorter; the largest `PART` prefix that still matches is attested), reordered (it holds
///   another record's content) or, with no record, inserted. The last segment of a cut session
///   (`PART` records, no `SEG`) is truncated with the last matching `PART` offset attested, or
///   altered when that prefix does not match.
/// - Every sequence number from `expected_first_seq` (or the smallest seen) to the largest
///   seen with neither a `SEG` record nor a file is missing.
/// - Pauses between consecutive video or audio segments of a session (by sequence number)
///   longer than `gap_tolerance_ms` are gaps, explained by the first `INT` record between
///   them. A pause is measured on the monotonic clock, or across a `BOOT` on the wall clock
///   less any `CLK` settings between them.
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

fn seq_list(seqs: &[u64]) -> String {
    seqs.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
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
    /// Sequence numbers that have a `SEG` record in some chain.
    seg_seqs: BTreeSet<u64>,
    /// Every genesis record's `prev_tail`.
    tails: Vec<Digest>,
}

/// The outcome of walking one chain file's links.
struct Walk {
    status: Vec<Status>,
    notes: Vec<String>,
    intact: bool,
    /// The last link of the chain as the recorder wrote it (inserted records skipped).
    tail: Digest,
    /// Sequence numbers whose record was removed, with the line of the record after it.
    removed: Vec<(u64, usize)>,
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
/// it was edited.
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
            let absent: Vec<u64> =
                (expected..found).take(MAX_MISSING_RUN as usize).filter(|s| !ctx.seg_seqs.contains(s)).collect();
            if !absent.is_empty() {
                w.notes.push(format!(
                    "the record for sequence number {} was removed before line {} ({what}), which does not link to \
                     line {} while {evidence}",
                    seq_list(&absent),
                    r.line,
                    c.prev_line
                ));
                w.removed.extend(absent.into_iter().map(|s| (s, r.line)));
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
}

impl Walked<'_> {
    /// Records that are part of the chain (not inserted), with their index.
    fn accepted(&self) -> impl Iterator<Item = (usize, &Linked)> {
        self.chain.records.iter().enumerate().filter(|(i, _)| self.walk.status[*i] != Status::Inserted)
    }
    fn close(&self) -> Option<&Linked> {
        self.accepted().map(|(_, l)| l).find(|l| matches!(l.record, Record::Close { .. }))
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

struct Verifier<'a> {
    input: &'a Input<'a>,
    chains: Vec<Walked<'a>>,
    segs: Vec<SegRec<'a>>,
    parts: BTreeMap<u64, Vec<PartRec>>,
    /// Sequence numbers with a `SEG` record that is part of its chain.
    seg_seqs: BTreeSet<u64>,
    /// Indexes into `segs` of records part of their chain, by attested hash.
    by_hash: HashMap<Digest, Vec<usize>>,
}

impl<'a> Verifier<'a> {
    fn new(input: &'a Input<'a>) -> Verifier<'a> {
        let mut ctx = Context { seg_seqs: BTreeSet::new(), tails: Vec::new() };
        for (_, chain) in input.chains {
            for l in &chain.records {
                match &l.record {
                    Record::Segment { seq, .. } => {
                        ctx.seg_seqs.insert(*seq);
                    }
                    Record::Genesis { prev_tail: Some(t), .. } => ctx.tails.push(*t),
                    _ => {}
                }
            }
        }
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
                Walked { file, chain, walk, session, genesis }
            })
            .collect();
        chains.sort_by(|a, b| {
            (a.first_seq().unwrap_or(u64::MAX), a.file).cmp(&(b.first_seq().unwrap_or(u64::MAX), b.file))
        });
        let mut segs = Vec::new();
        let mut parts: BTreeMap<u64, Vec<PartRec>> = BTreeMap::new();
        for (ci, w) in chains.iter().enumerate() {
            for (idx, l) in w.chain.records.iter().enumerate() {
                let status = w.walk.status[idx];
                match &l.record {
                    Record::Segment { seq, name, kind, start, end, mono_start_ms, mono_end_ms, size, hash } => {
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
        let mut seg_seqs = BTreeSet::new();
        let mut by_hash: HashMap<Digest, Vec<usize>> = HashMap::new();
        for (k, s) in segs.iter().enumerate().filter(|(_, s)| s.status != Status::Inserted) {
            seg_seqs.insert(s.seq);
            by_hash.entry(s.hash).or_default().push(k);
        }
        Verifier { input, chains, segs, parts, seg_seqs, by_hash }
    }

    fn loc(&self, chain: usize, line: usize) -> String {
        format!("line {line} of {}", self.chains[chain].file)
    }

    fn has_seg(&self, seq: u64) -> bool {
        self.seg_seqs.contains(&seq)
    }

    fn run(self) -> Report {
        let segments = self.segment_findings();
        let sessions = self.session_findings();
        let bad_lines = self
            .chains
            .iter()
            .flat_map(|w| w.chain.bad_lines.iter().map(|e| (w.file.to_string(), e.clone())))
            .collect();
        let geneses: Vec<&Linked> = self.chains.iter().filter_map(|w| w.genesis).collect();
        let at_dock = !geneses.is_empty()
            && geneses.iter().all(|g| matches!(&g.record, Record::Genesis { boot, .. } if boot == DOCK_BOOT));
        let provenance = if at_dock { Provenance::SealedAtDock } else { Provenance::SealedAtSource };
        Report { provenance, segments, sessions, bad_lines }
    }

    fn segment_findings(&self) -> Vec<SegmentFinding> {
        let files = self.input.files;
        let mut by_name: HashMap<&str, usize> = HashMap::new();
        for (i, f) in files.iter().enumerate() {
            by_name.entry(f.name.as_str()).or_insert(i);
        }
        // Records part of the chain claim their files first, inserted ones after.
        let mut claimed = vec![false; files.len()];
        let mut rec_file: Vec<Option<usize>> = vec![None; self.segs.len()];
        for inserted in [false, true] {
            for (k, s) in self.segs.iter().enumerate() {
                if (s.status == Status::Inserted) != inserted {
                    continue;
                }
                if let Some(&f) = by_name.get(s.name) {
                    if !claimed[f] {
                        claimed[f] = true;
                        rec_file[k] = Some(f);
                    }
                }
            }
        }
        let mut out: Vec<SegmentFinding> =
            self.segs.iter().zip(&rec_file).map(|(s, f)| self.judge_record(s, f.map(|f| &files[f]))).collect();
        out.extend(files.iter().zip(&claimed).filter(|(_, c)| !**c).map(|(f, _)| self.judge_unclaimed(f)));

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
        for w in self.chains.iter().filter(|w| w.has_content()) {
            if let Some(Record::Genesis { first_seq, .. }) = w.genesis.map(|g| &g.record) {
                seen.insert(*first_seq);
            }
            if let Some(Record::Close { last_seq, .. }) = w.close().map(|l| &l.record) {
                seen.insert(*last_seq);
            }
        }
        out.extend(absent_runs(&seen, &present, self.input.expected_first_seq, |n| self.absent_detail(n)));
        sort_findings(&mut out);
        out
    }

    fn absent_detail(&self, n: u64) -> (Option<String>, String) {
        for w in &self.chains {
            if let Some((_, line)) = w.walk.removed.iter().find(|(s, _)| *s == n) {
                return (
                    Some(w.session.clone()),
                    format!("sequence number {n} is absent: its record was removed before line {line} of {}", w.file),
                );
            }
        }
        if let Some(p) = self.parts.get(&n).and_then(|p| p.first()) {
            return (
                Some(self.chains[p.chain].session.clone()),
                format!(
                    "sequence number {n} is absent: the PART record at {} shows it was being recorded, but neither a \
                     SEG record nor its file remains",
                    self.loc(p.chain, p.line)
                ),
            );
        }
        (None, format!("sequence number {n} is absent"))
    }

    fn judge_record(&self, s: &SegRec<'_>, file: Option<&ReadFile>) -> SegmentFinding {
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
                format!(
                    "the SEG record at {at} for {} was inserted into the chain and its file is not on the volume",
                    s.name
                ),
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
        SegmentFinding {
            seq: Some(s.seq),
            name: Some(s.name.to_string()),
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
            .find(|o| !(o.chain == s.chain && o.idx == s.idx));
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

    /// A file no record claims: the cut segment of a cut session, or inserted.
    fn judge_unclaimed(&self, f: &ReadFile) -> SegmentFinding {
        let parsed = SegmentName::parse(&f.name);
        let mut finding = SegmentFinding {
            seq: parsed.as_ref().map(|n| n.seq),
            name: Some(f.name.clone()),
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

    fn session_findings(&self) -> Vec<SessionFinding> {
        let mut out: Vec<SessionFinding> = self.chains.iter().enumerate().map(|(ci, w)| self.session(ci, w)).collect();
        // Consecutive sessions on the volume: the later one's genesis must name the earlier one's tail
        // and continue its sequence numbers.
        for (pair, finding) in self.chains.windows(2).zip(out.iter_mut().skip(1)) {
            let (a, b) = (&pair[0], &pair[1]);
            let Some(g) = b.genesis else { continue };
            let Record::Genesis { first_seq, prev_tail, .. } = &g.record else { continue };
            match prev_tail {
                Some(t) if *t == a.walk.tail => {}
                Some(t) => {
                    finding.links_intact = false;
                    finding.notes.push(format!(
                        "the GEN record at line {} names {} as the previous session's last link, but session {} ({}) \
                         ends with link {}",
                        g.line,
                        short(t),
                        a.session,
                        a.file,
                        short(&a.walk.tail)
                    ));
                }
                None => {
                    finding.links_intact = false;
                    finding.notes.push(format!(
                        "the GEN record at line {} claims the device's first session, but session {} ({}) precedes it",
                        g.line, a.session, a.file
                    ));
                }
            }
            if let Some(next) = a.next_seq() {
                if next != *first_seq {
                    finding.notes.push(format!(
                        "the GEN record at line {} starts at sequence number {first_seq}, but session {} ({}) ends \
                         before {next}",
                        g.line, a.session, a.file
                    ));
                }
            }
        }
        out
    }

    fn session(&self, ci: usize, w: &Walked<'_>) -> SessionFinding {
        let mut notes = w.walk.notes.clone();
        let mut links_intact = w.walk.intact;
        for e in &w.chain.bad_lines {
            links_intact = false;
            notes.push(format!("line {} could not be read: {}", e.line, e.reason));
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
        let state = if close.is_some() { SessionState::Complete } else { SessionState::Cut };
        let own: Vec<&SegRec<'_>> =
            self.segs.iter().filter(|s| s.chain == ci && s.status != Status::Inserted).collect();
        if let Some(Record::Close { last_seq, segments, .. }) = close.map(|l| &l.record) {
            let expected_last = own.iter().map(|s| s.seq).max().or_else(|| match w.genesis.map(|g| &g.record) {
                Some(Record::Genesis { first_seq, .. }) => first_seq.checked_sub(1),
                _ => None,
            });
            if expected_last.is_some_and(|e| e != *last_seq) || *segments != own.len() as u64 {
                notes.push(format!(
                    "the END record at line {} states {segments} segments up to sequence number {last_seq}, but the \
                     chain holds {} SEG records up to {}",
                    close.map_or(0, |l| l.line),
                    own.len(),
                    expected_last.map_or_else(|| "none".to_string(), |s| s.to_string())
                ));
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
            gaps: self.gaps(w, &own),
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

/// Findings for sequence numbers with neither a record nor a file: every number from
/// `expected_first` (or the smallest seen) to the largest seen that is not `present`.
fn absent_runs(
    seen: &BTreeSet<u64>,
    present: &BTreeSet<u64>,
    expected_first: Option<u64>,
    detail: impl Fn(u64) -> (Option<String>, String),
) -> Vec<SegmentFinding> {
    let (Some(&lo), Some(&hi)) = (seen.first(), seen.last()) else { return Vec::new() };
    let lo = expected_first.map_or(lo, |e| e.min(lo));
    let mut out = Vec::new();
    let mut run = |from: u64, to: u64| {
        // `from..=to` are absent.
        if to - from < MAX_MISSING_RUN {
            for n in from..=to {
                let (session, detail) = detail(n);
                out.push(missing(n, session, detail));
            }
        } else {
            let detail = format!("sequence numbers {from} to {to} ({} numbers) are absent", u128::from(to - from) + 1);
            out.push(missing(from, None, detail));
        }
    };
    let mut cursor = Some(lo);
    for &p in present.range(lo..=hi) {
        if let Some(c) = cursor.filter(|c| p > *c) {
            run(c, p - 1);
        }
        cursor = p.checked_add(1);
    }
    if let Some(c) = cursor.filter(|c| *c <= hi) {
        run(c, hi);
    }
    out
}

fn missing(seq: u64, session: Option<String>, detail: String) -> SegmentFinding {
    SegmentFinding {
        seq: Some(seq),
        name: None,
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
    out.sort_by(|a, b| (a.seq.is_none(), a.seq, &a.name, a.verdict).cmp(&(b.seq.is_none(), b.seq, &b.name, b.verdict)));
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
                name: Some(f.name.clone()),
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
    segments.extend(absent_runs(&seqs, &seqs, input.expected_first_seq, |n| {
        (None, format!("sequence number {n} is absent"))
    }));
    sort_findings(&mut segments);
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
                    .chain(chain.bad_lines.iter().map(|e| format!("line {} could not be read: {}", e.line, e.reason)))
                    .collect(),
            })
            .collect();
        let bad = input
            .chains
            .iter()
            .flat_map(|(file, chain)| chain.bad_lines.iter().map(|e| (file.clone(), e.clone())))
            .collect();
        (sessions, bad)
    } else {
        (Vec::new(), Vec::new())
    };
    Report { provenance: Provenance::SealedAtDock, segments, sessions, bad_lines }
}

#[cfg(test)]
mod tests {
    //! A small chain builder (`Scenario` -> `Volume`), a one-fault oracle, exhaustive checks of
    //! small chains and property tests over random ones (R5, R6; style rule 26).

    use super::*;
    use crate::recorder::format::{format_wall, parse_wall, Record, ZERO_LINK};
    use proptest::prelude::*;

    const TOL: u64 = 5_000;
    const SERIAL: &str = "A123456";
    const BADGE: &str = "012345";

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
    }

    fn seg(kind: MediaKind, size: usize, parts: usize, pause: i64) -> SegSpec {
        SegSpec { kind, size, parts, pause, int: None, boot: false, clk: None, duration: 30 }
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
    }

    #[derive(Debug, Clone)]
    struct Scenario {
        first_seq: u64,
        sessions: Vec<SessionSpec>,
        /// Tail of a session docked earlier (not on the volume).
        earlier_tail: Option<Digest>,
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
        files: Vec<(String, Vec<u8>)>,
        segs: Vec<SegOut>,
        complete: Vec<bool>,
    }

    impl Scenario {
        fn render(&self) -> Volume {
            let mut v = Volume { chains: vec![], roles: vec![], files: vec![], segs: vec![], complete: vec![] };
            let mut seq = self.first_seq;
            let mut prev_tail = self.earlier_tail;
            let (mut t, mut off) = (0i64, 0i64);
            for (si, ss) in self.sessions.iter().enumerate() {
                t += 3600;
                let mut boot_t = t;
                let mono = |t: i64, boot_t: i64| ((t - boot_t) * 1000 + 500) as u64;
                let mut records = vec![Record::Genesis {
                    serial: SERIAL.into(),
                    session: format!("S{si}"),
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
                        serial: SERIAL.into(),
                        badge: BADGE.into(),
                        start: wall_at(start + off),
                        seq,
                        kind: sp.kind,
                    }
                    .render();
                    let mut line_idx = None;
                    if !cut {
                        line_idx = Some(records.len());
                        records.push(Record::Segment {
                            seq,
                            name: name.clone(),
                            kind: sp.kind,
                            start: wall_at(start + off),
                            end: wall_at(end + off),
                            mono_start_ms: mono(start, boot_t),
                            mono_end_ms: mono(end, boot_t),
                            size: content.len() as u64,
                            hash: digest(&content),
                        });
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
                    records.push(Record::Close {
                        last_seq: seq - 1,
                        segments: n as u64,
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
            let names: Vec<String> = self.files.iter().map(|(n, _)| n.clone()).collect();
            let wanted = requested_prefixes(chains, &names);
            self.files
                .iter()
                .map(|(name, c)| ReadFile {
                    name: name.clone(),
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
            let chains = self.parsed_chains();
            let files = self.reads(&chains);
            verify(&Input {
                chains: &chains,
                files: &files,
                writes_chain: true,
                gap_tolerance_ms: TOL,
                expected_first_seq,
            })
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
        }
        for i in (0..v.segs.len()).filter(|&i| v.segs[i].cut) {
            out.push(M::DeleteFile(i));
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
        out
    }

    type Key = (Option<u64>, Option<String>);

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

    /// Applies one mutation and says what the report must be.
    fn mutate(sc: &Scenario, m: &Mutation) -> (Volume, Expect) {
        let mut sc = sc.clone();
        if let Mutation::UnexplainedGap { session, k } = m {
            let s = &mut sc.sessions[*session].segs[*k];
            s.pause = 60;
            s.int = None;
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
                ((Some(s.seq), Some(s.name.clone())), expect)
            })
            .collect();
        let key = |v: &Volume, i: usize| (Some(v.segs[i].seq), Some(v.segs[i].name.clone()));
        let mut states: Vec<SessionState> =
            v.complete.iter().map(|c| if *c { SessionState::Complete } else { SessionState::Cut }).collect();
        let mut gaps = expected_gaps(&v, None);
        let mut intact = Some(true);
        let mut unexplained = None;
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
                    findings.insert((Some(v.segs[i].seq), None), (Verdict::Missing, Some(0)));
                } else {
                    findings.insert(key(&v, i), (Verdict::Missing, Some(0)));
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
                findings.insert((Some(seq), Some(name)), (Verdict::Inserted, Some(0)));
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
                v.chains[s.session].1.remove(s.line_idx.unwrap());
                v.files.retain(|(n, _)| *n != s.name);
                findings.remove(&key(&v, i));
                findings.insert((Some(s.seq), None), (Verdict::Missing, Some(0)));
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
                findings.insert((Some(seq), Some(name)), (Verdict::Inserted, Some(0)));
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
                intact = Some(c + 1 == v.chains.len());
            }
            Mutation::UnexplainedGap { session, k } => {
                let before = v.segs.iter().position(|s| s.session == session).unwrap() + k;
                unexplained = Some((session, v.segs[before - 1].seq, v.segs[before].seq));
            }
        }
        (v, Expect { findings, states, gaps, intact, unexplained })
    }

    fn check(sc: &Scenario, m: &Mutation) {
        let (v, e) = mutate(sc, m);
        let report = v.verify(Some(sc.first_seq));
        let ctx = || {
            let chains: Vec<String> = v.chains.iter().map(|(n, l)| format!("{n}:\n{}", l.join("\n"))).collect();
            format!("mutation {m:?}\n{}\n{report:#?}", chains.join("\n"))
        };
        assert!(report.bad_lines.is_empty(), "{}", ctx());
        assert_eq!(report.provenance, Provenance::SealedAtSource);
        let mut got: BTreeMap<Key, &SegmentFinding> = BTreeMap::new();
        for f in &report.segments {
            assert!(got.insert((f.seq, f.name.clone()), f).is_none(), "duplicate finding {f:?}\n{}", ctx());
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
            sessions: vec![SessionSpec {
                segs: vec![
                    seg(Video, 40, 2, 0),
                    seg(Video, 24, 0, 2),
                    seg(Audio, 33, 1, 90).int(InterruptReason::Battery),
                    seg(Video, 17, 0, 1),
                ],
                complete: true,
                cut_last: false,
            }],
        }
    }

    fn two_sessions_first_cut() -> Scenario {
        use MediaKind::*;
        Scenario {
            first_seq: 1,
            earlier_tail: None,
            sessions: vec![
                SessionSpec {
                    segs: vec![seg(Video, 30, 1, 0), seg(Photo, 12, 0, 3), seg(Video, 28, 2, 2)],
                    complete: false,
                    cut_last: true,
                },
                SessionSpec {
                    segs: vec![
                        seg(Audio, 20, 0, 0),
                        seg(Audio, 21, 1, 40).boot().clk(-7).int(InterruptReason::Weather),
                        seg(Video, 22, 0, 0),
                    ],
                    complete: true,
                    cut_last: false,
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
        assert_eq!(kinds.len(), 12, "every kind of mutation is exercised: {kinds:?}");
        assert_eq!(total, 120, "mutations checked");
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
            let input =
                Input { chains, files: &gapped, writes_chain, gap_tolerance_ms: TOL, expected_first_seq: Some(40) };
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
        let input =
            Input { chains: &junk, files: &files, writes_chain: true, gap_tolerance_ms: TOL, expected_first_seq: None };
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
        };
        let r = verify(&input);
        assert_eq!(r.segments[0].verdict, Verdict::Verified);
        assert_eq!(r.sessions[0].session, "X");
        assert!(r.sessions[0].links_intact);
        assert!(r.sessions[0].notes[0].starts_with("the chain file does not start with a GEN record"));
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
            sessions: vec![SessionSpec {
                segs: vec![seg(Video, 10, 0, 0), seg(Photo, 10, 0, 500), seg(Photo, 10, 0, 500), seg(Audio, 10, 0, 1)],
                complete: true,
                cut_last: false,
            }],
        };
        let r = sc.render().verify(None);
        let g = &r.sessions[0].gaps;
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!((g[0].after_seq, g[0].before_seq, g[0].duration_ms, g[0].reason), (1, 4, 1_001_000, None));
        assert_eq!(g[0].from, wall_at(3600 + 30));
    }

    #[test]
    fn end_record_that_disagrees_is_noted_and_its_missing_numbers_reported() {
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
        assert_eq!(r.sessions[0].state, SessionState::Complete);
        assert!(r.sessions[0].links_intact);
        assert!(r.sessions[0].notes.iter().any(|n| n.contains("states 6 segments up to sequence number 46")));
        let missing: Vec<(Option<u64>, Verdict)> =
            r.segments.iter().filter(|s| s.name.is_none()).map(|s| (s.seq, s.verdict)).collect();
        assert_eq!(missing, vec![(Some(45), Verdict::Missing), (Some(46), Verdict::Missing)]);
        assert_eq!(finding(&r, 45).detail, "sequence number 45 is absent");
    }

    #[test]
    fn numbers_expected_before_the_first_seen_are_missing_and_huge_runs_are_one_finding() {
        let mut v = one_session_four_segments().render();
        let r = v.verify(Some(39));
        let missing: Vec<u64> =
            r.segments.iter().filter(|s| s.verdict == Verdict::Missing).filter_map(|s| s.seq).collect();
        assert_eq!(missing, vec![39, 40]);
        // A forged name with a huge sequence number.
        v.files.push(("A123456_012345_20240501080000_99999999999.MP4".into(), b"x".to_vec()));
        let r = v.verify(Some(41));
        assert_eq!(finding(&r, 99_999_999_999).verdict, Verdict::Inserted);
        assert_eq!(r.segments.len(), 5, "an inserted name makes no number before it missing");
        // Numbers expected from earlier dockings are still missing.
        let r = v.verify(Some(1));
        assert_eq!(r.segments.iter().filter(|s| s.verdict == Verdict::Missing).count(), 40);
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
            })
    }

    fn scenario() -> impl Strategy<Value = Scenario> {
        let session = (proptest::collection::vec(seg_spec(), 1..=10), proptest::bool::weighted(0.7), any::<bool>())
            .prop_map(|(segs, complete, cut_last)| SessionSpec { segs, complete, cut_last });
        (1u64..100_000, proptest::collection::vec(session, 1..=3), any::<bool>()).prop_map(
            |(first_seq, sessions, earlier)| Scenario {
                first_seq,
                sessions,
                earlier_tail: earlier.then(|| digest(&first_seq.to_le_bytes())),
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
    }
}
