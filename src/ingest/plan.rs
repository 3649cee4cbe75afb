//! The pure part of an ingest: where each file goes, what its times are once corrected
//! for the recorder's clock drift (R2, R4, R13), which of a recorder's values cannot be true,
//! and which chain files may leave the recorder (INV-1).
//!
//! Must never: do I/O or read a clock; `dock_now` and the drift are inputs. Every sum,
//! difference and conversion of a value a recorder wrote is checked: a time, size or number
//! that cannot be used is a [`Finding`], never a panic.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDateTime, TimeDelta};

use crate::archive::layout::{self, LayoutError};
use crate::recorder::format::{ChainFile, Identity, Record, SegmentName};

/// Years a recorder time, or a time corrected for drift, must fall in to be used: no digital
/// recorder clock reads before 1970, and the archive's date folders have four digits.
pub const CALENDAR_YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

/// Most impossible values reported one by one in a docking; the rest are counted.
pub const MAX_FINDINGS: usize = 50;

/// Whether `t` can be a real time on a recorder or in the archive (see [`CALENDAR_YEARS`]).
pub fn on_calendar(t: NaiveDateTime) -> bool {
    CALENDAR_YEARS.contains(&t.year())
}

/// Drift of the recorder clock: device reading minus dock reading, in whole seconds. Exact
/// for any two times: their difference always fits.
pub fn drift_seconds(device: NaiveDateTime, dock: NaiveDateTime) -> i64 {
    device.signed_duration_since(dock).num_seconds()
}

/// Drift of a recorder that states its clock's zone: its local reading less its offset east
/// of UTC, minus the dock's UTC reading. Computed on whole seconds, so that no time is ever
/// formed beyond the range a time can hold (a clock at the end of that range, in a zone
/// west of UTC, would be).
pub fn drift_seconds_utc(device_local: NaiveDateTime, utc_offset_s: i32, dock_utc: NaiveDateTime) -> i64 {
    drift_seconds(device_local, dock_utc).saturating_sub(i64::from(utc_offset_s))
}

/// The drift to correct footage times by: none when the clock it was measured from is not a
/// possible reading (a drift of ten thousand years corrects nothing; the clock is a finding).
pub fn correction(device_clock: NaiveDateTime, drift_s: i64) -> Option<i64> {
    on_calendar(device_clock).then_some(drift_s)
}

/// A device wall-clock time corrected by the drift measured at docking (the recorder's
/// clock is assumed to have drifted steadily; footage is flagged when the drift exceeds the
/// configured threshold). `None` when the correction leaves [`CALENDAR_YEARS`] or the range
/// of times altogether: there is no corrected time to record or to file by.
pub fn corrected(device: NaiveDateTime, drift_s: i64) -> Option<NaiveDateTime> {
    device.checked_sub_signed(TimeDelta::try_seconds(drift_s)?).filter(|t| on_calendar(*t))
}

/// Where a footage file goes, relative to the archive root: dated by its start (from its
/// name) corrected by `drift_s` (see [`correction`]), or by the docking time when the name
/// carries no start, there is no drift to correct by, or the start cannot be corrected (see
/// [`corrected`]; [`findings`] names such a file).
///
/// # Errors
/// When the serial or the name is not a safe path component.
pub fn footage_destination(
    serial: &str,
    name: &str,
    drift_s: Option<i64>,
    dock_now: NaiveDateTime,
) -> Result<String, LayoutError> {
    let start = SegmentName::parse(name).zip(drift_s).and_then(|(n, d)| corrected(n.start, d)).unwrap_or(dock_now);
    layout::segment_path(start, None, serial, name)
}

/// Where a chain file goes, relative to the archive root: dated by its session's corrected
/// start (its first record, when that is a `GEN`), or by the docking time.
///
/// # Errors
/// When the serial or the name is not a safe path component.
pub fn chain_destination(
    serial: &str,
    name: &str,
    chain: Option<&ChainFile>,
    drift_s: Option<i64>,
    dock_now: NaiveDateTime,
) -> Result<String, LayoutError> {
    let start = chain
        .and_then(|c| c.records.first())
        .zip(drift_s)
        .and_then(|(l, d)| match &l.record {
            Record::Genesis { wall, .. } => corrected(*wall, d),
            _ => None,
        })
        .unwrap_or(dock_now);
    layout::chain_path(start, serial, name)
}

/// The `n`th alternative for a name already taken by different content (`n` from 2):
/// `A.MP4` becomes `A~2.MP4`. The original is never replaced.
pub fn alternative_name(name: &str, n: u32) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}~{n}.{ext}"),
        _ => format!("{name}~{n}"),
    }
}

/// A value a recorder wrote that cannot be true, or cannot be used (R2, R13, R14): named with
/// the record it is in. The footage is archived all the same (evidence is never refused); a
/// time that cannot be used is not corrected or filed by, and the docking needs review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The record: `ZFYINFO.TXT`, a footage file (`DCIM/<folder>/<name>`), or a chain line
    /// (`ZFY/CHAIN/<file>:<line>`).
    pub record: String,
    /// The field, as the contract names it (`clock`, `start`, `wall`, `storage_free`, ...).
    pub field: &'static str,
    /// The value as the recorder wrote it.
    pub value: String,
    /// Why it cannot be used, and what the dock did instead.
    pub why: String,
}

/// What [`findings`] looks at: the identity, the drift measured from it, the footage names
/// (path on the volume, file name) and the chain files (file name, parsed).
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    /// The identity.
    pub identity: &'a Identity,
    /// Device clock minus dock clock, in seconds.
    pub drift_s: i64,
    /// Footage to be taken: path on the volume and file name.
    pub footage: &'a [(&'a str, &'a str)],
    /// Chain files read: file name (in [`crate::recorder::format::CHAIN_DIR`]) and content.
    pub chains: &'a [(String, ChainFile)],
}

/// The values of a docking that cannot be true or cannot be used: at most [`MAX_FINDINGS`]
/// of them, in the order identity, footage, chains; and how many there are in all.
pub fn findings(v: &Values<'_>) -> (Vec<Finding>, u64) {
    let mut out = Vec::new();
    let mut total = 0u64;
    let mut add = |f: Finding| {
        total += 1;
        if out.len() < MAX_FINDINGS {
            out.push(f);
        }
    };
    let id = v.identity;
    let ident = crate::recorder::format::IDENTITY_FILE;
    if !on_calendar(id.clock) {
        add(Finding {
            record: ident.into(),
            field: "clock",
            value: crate::recorder::format::format_wall(id.clock),
            why: format!(
                "not a possible reading of a recorder clock (years {} to {}): the drift of {} s measured from it is \
                 recorded but corrects no footage time, and footage is filed by the docking day",
                CALENDAR_YEARS.start(),
                CALENDAR_YEARS.end(),
                v.drift_s
            ),
        });
    }
    for (field, value) in [("storage_free", id.storage_free), ("storage_total", id.storage_total)] {
        if let Some(n) = value.filter(|n| i64::try_from(*n).is_err()) {
            add(Finding {
                record: ident.into(),
                field,
                value: n.to_string(),
                why: "more bytes than any storage holds (2^63 or more): not recorded".into(),
            });
        }
    }
    if let (Some(free), Some(total)) = (id.storage_free, id.storage_total) {
        if free > total {
            add(Finding {
                record: ident.into(),
                field: "storage_free",
                value: free.to_string(),
                why: format!("more free storage than the recorder's whole storage ({total} bytes)"),
            });
        }
    }
    let drift = correction(id.clock, v.drift_s);
    for (rel, name) in v.footage {
        let Some(n) = SegmentName::parse(name) else { continue };
        if let Some(why) = time_problem(n.start, drift) {
            add(Finding {
                record: (*rel).to_string(),
                field: "start",
                value: n.start.format("%Y%m%d%H%M%S").to_string(),
                why: format!("{why}; filed under the docking day"),
            });
        }
    }
    for (file, chain) in v.chains {
        for l in &chain.records {
            for (field, t) in record_times(&l.record) {
                if let Some(why) = time_problem(t, drift) {
                    add(Finding {
                        record: format!("{}/{file}:{}", crate::recorder::format::CHAIN_DIR, l.line),
                        field,
                        value: crate::recorder::format::format_wall(t),
                        why: format!("{why}; no corrected time is recorded for it"),
                    });
                }
            }
        }
    }
    (out, total)
}

/// Why a device time cannot be used, if it cannot: not on the calendar, or off it once
/// corrected by the drift (when there is one to correct by).
fn time_problem(t: NaiveDateTime, drift_s: Option<i64>) -> Option<String> {
    if !on_calendar(t) {
        return Some(format!("not a possible time (years {} to {})", CALENDAR_YEARS.start(), CALENDAR_YEARS.end()));
    }
    let drift_s = drift_s?;
    match corrected(t, drift_s) {
        Some(_) => None,
        None => Some(format!(
            "corrected by the clock drift of {drift_s} s it leaves the calendar (years {} to {})",
            CALENDAR_YEARS.start(),
            CALENDAR_YEARS.end()
        )),
    }
}

/// The wall-clock fields of a chain record, by their names in the contract.
fn record_times(r: &Record) -> Vec<(&'static str, NaiveDateTime)> {
    match r {
        Record::Genesis { wall, .. }
        | Record::Partial { wall, .. }
        | Record::Interruption { wall, .. }
        | Record::Reboot { wall, .. }
        | Record::Close { wall, .. } => vec![("wall", *wall)],
        Record::Segment { start, end, .. } => vec![("start", *start), ("end", *end)],
        Record::ClockJump { old, new, .. } => vec![("old", *old), ("new", *new)],
    }
}

/// Whether the recorder may still hold a segment the dock did not archive.
#[derive(Debug, Clone, Copy)]
pub enum OnRecorder<'a> {
    /// The scan saw the whole volume and took every footage file on it: these names.
    Listed(&'a BTreeSet<String>),
    /// Some entries were not looked at, refused or left for a later docking: any segment may be
    /// on the recorder still.
    Unknown,
}

/// The segments a chain file attests (its `SEG` records by name, its `PART` records of a
/// number no `SEG` names) that the archive does not hold durable and verified (`archived`:
/// file names, from this docking and earlier ones) and that the recorder may still hold.
/// The chain file stays on the recorder while this is not empty (INV-1): it is what judges
/// them at a later docking. A segment absent from a volume seen whole is missing (flagged);
/// keeping the chain would never bring it back.
pub fn chain_attests_unarchived(
    chain: &ChainFile,
    archived: &BTreeSet<String>,
    on_recorder: OnRecorder<'_>,
) -> Vec<String> {
    let mut named_seqs = BTreeSet::new();
    let mut out = BTreeSet::new();
    for l in &chain.records {
        if let Record::Segment { seq, name, .. } = &l.record {
            named_seqs.insert(*seq);
            let on = match on_recorder {
                OnRecorder::Listed(names) => names.contains(name),
                OnRecorder::Unknown => true,
            };
            if on && !archived.contains(name) {
                out.insert(name.clone());
            }
        }
    }
    let seqs = |names: &BTreeSet<String>| -> BTreeSet<u64> {
        names.iter().filter_map(|n| SegmentName::parse(n)).map(|n| n.seq).collect()
    };
    let archived_seqs = seqs(archived);
    let listed_seqs = match on_recorder {
        OnRecorder::Listed(names) => Some(seqs(names)),
        OnRecorder::Unknown => None,
    };
    for l in &chain.records {
        if let Record::Partial { seq, .. } = &l.record {
            let on = listed_seqs.as_ref().is_none_or(|s| s.contains(seq));
            if on && !named_seqs.contains(seq) && !archived_seqs.contains(seq) {
                out.insert(format!("sequence number {seq} (PART record)"));
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::format::{MediaKind, ZERO_LINK};

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
    }

    #[test]
    fn drift_moves_footage_across_midnight() {
        // The recorder runs 10 minutes fast: footage it stamped 00:05 was shot at 23:55 the day before.
        let drift = drift_seconds(t("2024-05-02T18:10:00"), t("2024-05-02T18:00:00"));
        assert_eq!(drift, 600);
        assert_eq!(corrected(t("2024-05-02T00:05:00"), drift), Some(t("2024-05-01T23:55:00")));
        let p = footage_destination(
            "A123456",
            "A123456_012345_20240502000500_000001.MP4",
            Some(drift),
            t("2024-05-02T18:00:00"),
        );
        assert_eq!(p.unwrap(), "2024/05/01/未关联案件+UNASSIGNED/A123456/A123456_012345_20240502000500_000001.MP4");
        let p = footage_destination("A123456", "notes.txt", Some(drift), t("2024-05-02T18:00:00")).unwrap();
        assert!(p.starts_with("2024/05/02/"), "{p}");
    }

    #[test]
    fn drift_and_corrections_at_the_ends_of_time_never_overflow() {
        let (min, max) = (NaiveDateTime::MIN, NaiveDateTime::MAX);
        let now = t("2026-05-02T10:00:00");
        // A clock at the end of the range, in a zone west of UTC: the drift is still a number.
        let d = drift_seconds_utc(max, -14 * 3600, now);
        assert!(d > 8_000_000_000_000, "{d}");
        assert!(drift_seconds_utc(min, 14 * 3600, now) < -8_000_000_000_000);
        assert_eq!(drift_seconds_utc(t("2026-05-02T18:00:30"), 8 * 3600, now), 30);
        // Corrections that leave the range, or the calendar, give no time.
        for (device, drift) in [
            (t("2024-05-02T00:05:00"), d),
            (t("2024-05-02T00:05:00"), -d),
            (min, 1),
            (max, -1),
            (t("2024-05-02T00:05:00"), i64::MAX),
            (t("2024-05-02T00:05:00"), i64::MIN),
            (t("1970-01-01T00:00:00"), 1),
            (t("9999-12-31T23:59:59"), -1),
        ] {
            assert_eq!(corrected(device, drift), None, "{device} - {drift} s");
        }
        assert_eq!(corrected(t("1970-01-01T00:00:01"), 1), Some(t("1970-01-01T00:00:00")));
        // Such footage is filed by the docking day.
        let p = footage_destination("A123456", "A123456_012345_20240502000500_000001.MP4", Some(d), now).unwrap();
        assert!(p.starts_with("2026/05/02/"), "{p}");
        let p = footage_destination("A123456", "A123456_012345_00010101000000_000001.MP4", Some(0), now).unwrap();
        assert!(p.starts_with("2026/05/02/"), "a year-1 start is no date to file by: {p}");
        // A clock that is no possible reading corrects nothing: footage goes by the docking day.
        assert_eq!(correction(max, d), None);
        assert_eq!(correction(t("2000-01-01T00:00:00"), -5), Some(-5));
        let p = footage_destination("A123456", "A123456_012345_20240502000500_000001.MP4", None, now).unwrap();
        assert!(p.starts_with("2026/05/02/"), "{p}");
    }

    fn identity(clock: NaiveDateTime) -> Identity {
        Identity {
            serial: "A123456".into(),
            badge: "012345".into(),
            officer_name: None,
            unit: None,
            model: "M".into(),
            firmware: "1".into(),
            clock,
            clock_utc_offset: None,
            clock_settable: false,
            writes_chain: true,
            storage_free: None,
            storage_total: None,
            battery_percent: None,
        }
    }

    fn chain(records: Vec<Record>) -> ChainFile {
        ChainFile::parse(ChainFile::render(&records).as_bytes())
    }

    fn seg(seq: u64, start: NaiveDateTime) -> Record {
        Record::Segment {
            seq,
            name: format!("A123456_012345_20240501093000_{seq:06}.MP4"),
            kind: MediaKind::Video,
            start,
            end: start,
            mono_start_ms: 0,
            mono_end_ms: 0,
            size: 1,
            hash: ZERO_LINK,
        }
    }

    #[test]
    fn impossible_values_are_named_with_their_record() {
        let id = Identity {
            storage_free: Some(u64::MAX),
            storage_total: Some(1 << 30),
            ..identity(t("2026-05-02T10:00:00"))
        };
        let chains = vec![(
            "S1.CHN".to_string(),
            chain(vec![seg(1, t("2024-05-01T09:30:00")), seg(2, NaiveDateTime::MAX), seg(3, t("0001-01-01T00:00:00"))]),
        )];
        let footage = [
            ("DCIM/20240501/A123456_012345_20240501093000_000001.MP4", "A123456_012345_20240501093000_000001.MP4"),
            ("DCIM/00010101/A123456_012345_00010101000000_000003.MP4", "A123456_012345_00010101000000_000003.MP4"),
        ];
        let (found, total) = findings(&Values { identity: &id, drift_s: 0, footage: &footage, chains: &chains });
        let got: Vec<(String, &str)> = found.iter().map(|f| (f.record.clone(), f.field)).collect();
        assert_eq!(
            got,
            vec![
                ("ZFYINFO.TXT".to_string(), "storage_free"),
                ("ZFYINFO.TXT".to_string(), "storage_free"),
                ("DCIM/00010101/A123456_012345_00010101000000_000003.MP4".to_string(), "start"),
                ("ZFY/CHAIN/S1.CHN:2".to_string(), "start"),
                ("ZFY/CHAIN/S1.CHN:2".to_string(), "end"),
                ("ZFY/CHAIN/S1.CHN:3".to_string(), "start"),
                ("ZFY/CHAIN/S1.CHN:3".to_string(), "end"),
            ]
        );
        assert_eq!(total, 7);
        assert!(found[0].why.contains("2^63"), "{}", found[0].why);
        assert!(found[1].why.contains("more free storage"), "{}", found[1].why);
        assert!(found[2].why.contains("filed under the docking day"), "{}", found[2].why);
        // A clock running a year fast makes a correction from 1970 leave the calendar.
        let id = identity(t("2027-05-02T10:00:00"));
        let chains = vec![("S1.CHN".to_string(), chain(vec![seg(1, t("1970-02-01T00:00:00"))]))];
        let (found, _) = findings(&Values { identity: &id, drift_s: 31_536_000, footage: &[], chains: &chains });
        assert!(found.iter().all(|f| f.why.contains("corrected by the clock drift of 31536000 s")), "{found:?}");
        // An impossible clock is itself a finding, and corrects nothing (so no correction leaves
        // the calendar); many findings are counted, not all listed.
        let id = identity(NaiveDateTime::MAX);
        let mut many: Vec<Record> = (1..=100).map(|s| seg(s, t("0001-01-01T00:00:00"))).collect();
        many.push(seg(101, t("2024-05-01T09:30:00")));
        let chains = vec![("S1.CHN".to_string(), chain(many))];
        let (found, total) = findings(&Values { identity: &id, drift_s: i64::MAX, footage: &[], chains: &chains });
        assert_eq!((found.len(), total), (MAX_FINDINGS, 201));
        assert_eq!(found[0].field, "clock");
        assert!(found[0].why.contains("corrects no footage time"), "{}", found[0].why);
    }

    #[test]
    fn a_chain_stays_while_a_segment_it_attests_may_be_on_the_recorder_unarchived() {
        let c = chain(vec![
            seg(1, t("2024-05-01T09:30:00")),
            seg(2, t("2024-05-01T09:40:00")),
            Record::Partial { seq: 3, offset: 4, hash: ZERO_LINK, wall: t("2024-05-01T09:50:00"), mono_ms: 0 },
        ]);
        let name = |s: u64| format!("A123456_012345_20240501093000_{s:06}.MP4");
        let set = |names: &[String]| names.iter().cloned().collect::<BTreeSet<String>>();
        // Everything archived: the chain may go.
        let all = set(&[name(1), name(2), name(3)]);
        assert!(chain_attests_unarchived(&c, &all, OnRecorder::Unknown).is_empty());
        // Segment 2 left on the recorder (or perhaps there): the chain stays for it.
        let some = set(&[name(1), name(3)]);
        assert_eq!(chain_attests_unarchived(&c, &some, OnRecorder::Unknown), vec![name(2)]);
        assert_eq!(chain_attests_unarchived(&c, &some, OnRecorder::Listed(&set(&[name(2)]))), vec![name(2)]);
        // Segment 2 is on a volume seen whole no more: missing, and the chain cannot bring it back.
        assert!(chain_attests_unarchived(&c, &some, OnRecorder::Listed(&set(&[]))).is_empty());
        // The segment a PART record was attesting, by its number.
        let two = set(&[name(1), name(2)]);
        assert_eq!(chain_attests_unarchived(&c, &two, OnRecorder::Unknown), vec!["sequence number 3 (PART record)"]);
        assert!(chain_attests_unarchived(&c, &two, OnRecorder::Listed(&set(&[]))).is_empty());
        assert_eq!(chain_attests_unarchived(&c, &two, OnRecorder::Listed(&set(&[name(3)]))).len(), 1);
    }

    #[test]
    fn alternatives_keep_the_extension() {
        assert_eq!(alternative_name("A.MP4", 2), "A~2.MP4");
        assert_eq!(alternative_name("README", 3), "README~3");
    }
}
