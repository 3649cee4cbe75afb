//! The dock-side seal: a chain in the recorder format, written by the dock at ingest for a
//! recorder that wrote none ("sealed at dock", weaker than "sealed at source").
//!
//! Owns: turning what the dock read (name, size, BLAKE3 per file) into chain-file text that
//! [`super::verify::verify`] checks like any recorder chain. Pure: no I/O, no clock (the seal
//! time is an argument).
//! Must never: seal a file under a name other than its own, or drop a file silently: a file
//! the chain format cannot name is returned in [`Seal::unsealed`] for the caller to record.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;

use super::format::{ChainFile, Digest, Record, SegmentName, CHAIN_EXT};

/// Boot identifier of a dock-written genesis record. A chain whose every genesis carries it
/// was sealed at the dock (see [`super::verify::Provenance::SealedAtDock`]).
pub const DOCK_BOOT: &str = "DOCK";

/// What the dock read of one footage file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealFile {
    /// Bare file name as found on the volume.
    pub name: String,
    /// Bytes read.
    pub size: u64,
    /// BLAKE3 of the bytes read.
    pub hash: Digest,
}

/// A dock-written chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    /// Name to store the chain under (`<session>.CHN`).
    pub file_name: String,
    /// The chain file's text: `GEN`, one `SEG` per sealed file in sequence order, `END`.
    pub text: String,
    /// Names sealed, in chain order.
    pub sealed: Vec<String>,
    /// Names not sealed: not a segment file name (a chain record can only name those), or a
    /// repeated name (sealed once, under its first entry).
    pub unsealed: Vec<String>,
}

/// Why a seal could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The device serial cannot appear in a genesis record.
    #[error("cannot seal footage of device {serial:?}: a serial is 7 characters 0-9 A-Z")]
    Serial {
        /// The serial given.
        serial: String,
    },
    /// The session identifier cannot appear in a genesis record.
    #[error("cannot seal session {session:?}: a session identifier is 1-64 characters 0-9 A-Z a-z -")]
    Session {
        /// The session identifier given.
        session: String,
    },
}

/// Seals the files a chainless recorder held, as read by the dock.
///
/// The chain has a `GEN` record (boot [`DOCK_BOOT`], wall clock `sealed_at`, monotonic 0, no
/// `prev_tail`: the dock does not know the device's earlier sessions), one `SEG` record per
/// file whose name parses as a [`SegmentName`] (sequence number, kind and start from the
/// name; end equal to start; monotonic 0; size and hash as read), sorted by sequence number
/// then name, and an `END` record. `GEN.first_seq` is the smallest sealed sequence number, or
/// `first_seq_hint` when no name parses (the number the dock expects next for the device).
/// Files whose names do not parse are listed in [`Seal::unsealed`]: the contract's `SEG`
/// record can only carry segment file names, and a synthetic name would seal a file that does
/// not exist.
///
/// # Errors
/// When `serial` or `session` cannot appear in a genesis record.
pub fn seal_at_dock(
    serial: &str,
    session: &str,
    files: &[SealFile],
    sealed_at: NaiveDateTime,
    first_seq_hint: u64,
) -> Result<Seal, SealError> {
    if serial.len() != 7 || !serial.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()) {
        return Err(SealError::Serial { serial: serial.to_string() });
    }
    if session.is_empty() || session.len() > 64 || !session.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(SealError::Session { session: session.to_string() });
    }
    let mut seen = BTreeSet::new();
    let mut unsealed = Vec::new();
    let mut segments: Vec<(SegmentName, &SealFile)> = Vec::new();
    for f in files {
        match SegmentName::parse(&f.name) {
            Some(n) if seen.insert(f.name.as_str()) => segments.push((n, f)),
            _ => unsealed.push(f.name.clone()),
        }
    }
    segments.sort_by(|(a, fa), (b, fb)| (a.seq, &fa.name).cmp(&(b.seq, &fb.name)));
    let first_seq = segments.first().map_or(first_seq_hint, |(n, _)| n.seq);
    let last_seq = segments.last().map_or(first_seq.saturating_sub(1), |(n, _)| n.seq);
    let mut records = vec![Record::Genesis {
        serial: serial.to_string(),
        session: session.to_string(),
        boot: DOCK_BOOT.to_string(),
        first_seq,
        wall: sealed_at,
        mono_ms: 0,
        prev_tail: None,
    }];
    records.extend(segments.iter().map(|(n, f)| Record::Segment {
        seq: n.seq,
        name: f.name.clone(),
        kind: n.kind,
        start: n.start,
        end: n.start,
        mono_start_ms: 0,
        mono_end_ms: 0,
        size: f.size,
        hash: f.hash,
    }));
    records.push(Record::Close { last_seq, segments: segments.len() as u64, wall: sealed_at, mono_ms: 0 });
    Ok(Seal {
        file_name: format!("{session}.{CHAIN_EXT}"),
        text: ChainFile::render(&records),
        sealed: segments.iter().map(|(_, f)| f.name.clone()).collect(),
        unsealed,
    })
}

/// First line of a dock manifest.
pub const MANIFEST_VERSION: &str = "EVIDOCK-DOCK-SEAL/1";

/// One file of a dock manifest: what the dock read of a vendor recorder's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    /// Path on the volume, `/`-separated.
    pub rel: String,
    /// Bytes read.
    pub size: u64,
    /// BLAKE3 of the bytes read.
    pub hash: Digest,
    /// Start of the recording on the recorder's clock, where known.
    pub start: Option<NaiveDateTime>,
    /// Where the start comes from (`file name`, `file system`).
    pub time_source: String,
    /// The important mark found, with where.
    pub important: Option<String>,
}

fn one_line(s: &str) -> String {
    s.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}

/// The dock's seal for a recorder that writes no chain and whose file names the contract's
/// chain records cannot carry (a vendor recorder): a manifest naming every file read, with
/// its size, BLAKE3, start time and where that time comes from, and whether the recorder
/// marked it important. `header` gives the facts of the docking (`key`, value) in order.
///
/// Format: the line [`MANIFEST_VERSION`], then `key=value` lines, then one line per file,
/// sorted by path: `file=<blake3>\t<size>\t<start or ->\t<time source>\t<mark or ->\t<path>`.
/// Control characters in values are escaped, so every record is one line.
pub fn dock_manifest(header: &[(&str, String)], files: &[ManifestFile]) -> String {
    let mut out = format!("{MANIFEST_VERSION}\n");
    for (k, v) in header {
        out += &format!("{k}={}\n", one_line(v));
    }
    let mut files: Vec<&ManifestFile> = files.iter().collect();
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    for f in files {
        out += &format!(
            "file={}\t{}\t{}\t{}\t{}\t{}\n",
            super::format::hex(&f.hash),
            f.size,
            f.start.map_or_else(|| "-".to_string(), super::format::format_wall),
            one_line(&f.time_source),
            f.important.as_deref().map_or_else(|| "-".to_string(), one_line),
            one_line(&f.rel),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::format::parse_wall;
    use crate::recorder::memory::Memory;
    use crate::recorder::verify::{verify, Input, Provenance, ReadFile, Verdict};

    fn file(name: &str, content: &[u8]) -> SealFile {
        SealFile { name: name.into(), size: content.len() as u64, hash: *blake3::hash(content).as_bytes() }
    }

    fn at() -> NaiveDateTime {
        parse_wall(0, "t", "2024-05-01T18:00:00").unwrap()
    }

    fn read(f: &SealFile) -> ReadFile {
        let source =
            SegmentName::parse(&f.name).map_or_else(|| f.name.clone(), |n| format!("{}/{}", n.folder(), f.name));
        ReadFile { name: f.name.clone(), source, size: f.size, hash: f.hash, prefixes: vec![] }
    }

    #[test]
    fn sealed_chain_parses_and_verifies_clean() {
        let files = vec![
            file("A123456_012345_20240501093500_000008.WAV", b"audio"),
            file("A123456_012345_20240501093000_000007.MP4", b"video"),
            file("A123456_012345_20240501094000_000009.JPG", b"photo"),
        ];
        let seal = seal_at_dock("A123456", "DOCK-20240501-1", &files, at(), 1).unwrap();
        assert_eq!(seal.file_name, "DOCK-20240501-1.CHN");
        assert!(seal.unsealed.is_empty());
        assert_eq!(seal.sealed[0], "A123456_012345_20240501093000_000007.MP4", "sequence order");
        let chain = ChainFile::parse(seal.text.as_bytes());
        assert!(chain.bad_lines.is_empty(), "{:?}", chain.bad_lines);
        assert_eq!(chain.records.len(), 5);
        let chains = vec![(seal.file_name.clone(), chain)];
        let reads: Vec<ReadFile> = files.iter().map(read).collect();
        let input = Input {
            chains: &chains,
            files: &reads,
            writes_chain: true,
            gap_tolerance_ms: 0,
            expected_first_seq: Some(7),
            serial: "A123456",
            memory: &Memory::default(),
        };
        let report = verify(&input);
        assert!(report.is_clean(), "{report:#?}");
        assert_eq!(report.provenance, Provenance::SealedAtDock);
        assert_eq!(report.segments.iter().map(|s| s.seq).collect::<Vec<_>>(), vec![Some(7), Some(8), Some(9)]);

        // The seal does its job: a file changed after sealing is caught.
        let mut changed = reads.clone();
        changed[0].hash = *blake3::hash(b"other").as_bytes();
        changed[0].size = 5;
        let report = verify(&Input { files: &changed, ..input });
        let verdicts: Vec<Verdict> = report.segments.iter().map(|s| s.verdict).collect();
        assert_eq!(verdicts, vec![Verdict::Verified, Verdict::Altered, Verdict::Verified]);
    }

    #[test]
    fn names_the_format_cannot_carry_are_returned_unsealed() {
        let files = vec![
            file("A123456_012345_20240501093000_000007.MP4", b"video"),
            file("录像 1.MOV", b"mov"),
            file("A123456_012345_20240501093000_000007.MP4", b"again"),
        ];
        let seal = seal_at_dock("A123456", "S1", &files, at(), 3).unwrap();
        assert_eq!(seal.sealed, vec!["A123456_012345_20240501093000_000007.MP4".to_string()]);
        assert_eq!(seal.unsealed, vec!["录像 1.MOV".to_string(), "A123456_012345_20240501093000_000007.MP4".into()]);
        let chain = ChainFile::parse(seal.text.as_bytes());
        assert!(chain.bad_lines.is_empty());

        // No sealable file: GEN starts at the hint, END closes an empty session.
        let seal = seal_at_dock("A123456", "S2", &files[1..2], at(), 3).unwrap();
        let chain = ChainFile::parse(seal.text.as_bytes());
        assert!(chain.bad_lines.is_empty());
        assert!(matches!(chain.records[0].record, Record::Genesis { first_seq: 3, .. }));
        assert!(matches!(chain.records[1].record, Record::Close { last_seq: 2, segments: 0, .. }));
    }

    #[test]
    fn a_dock_manifest_lists_every_file_one_line_each() {
        let files = vec![
            ManifestFile {
                rel: "DCIM/100MEDIA/B.MP4".into(),
                size: 5,
                hash: *blake3::hash(b"video").as_bytes(),
                start: None,
                time_source: "file system".into(),
                important: None,
            },
            ManifestFile {
                rel: "DCIM/100MEDIA/A\nX_IMP.MP4".into(),
                size: 3,
                hash: [0; 32],
                start: Some(at()),
                time_source: "file name".into(),
                important: Some("IMP (file name)".into()),
            },
        ];
        let text =
            dock_manifest(&[("serial", "A100001".into()), ("identity_source", "registry\nforged=1".into())], &files);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], MANIFEST_VERSION);
        assert_eq!(lines[2], "identity_source=registry\\nforged=1", "a value cannot add a line");
        assert!(lines[3]
            .starts_with(&format!("file={}\t3\t2024-05-01T18:00:00\tfile name\tIMP (file name)\t", "0".repeat(64))));
        assert!(lines[3].ends_with("\tDCIM/100MEDIA/A\\nX_IMP.MP4"), "sorted by path, escaped: {}", lines[3]);
        assert!(lines[4].ends_with("\t-\tfile system\t-\tDCIM/100MEDIA/B.MP4"));
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn bad_identifiers_are_refused() {
        assert_eq!(seal_at_dock("a12", "S1", &[], at(), 0), Err(SealError::Serial { serial: "a12".into() }),);
        let err = seal_at_dock("A123456", "会话|1", &[], at(), 0).unwrap_err();
        assert!(err.to_string().contains("cannot seal session"), "{err}");
    }
}
