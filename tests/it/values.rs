//! Values a recorder writes that cannot be true: clocks and chain times at the ends of the
//! range of times, against a leading or lagging device clock; sequence numbers, sizes and
//! counts at the ends of theirs. Never a panic, never a recorder abandoned at every docking:
//! each impossible value is a finding named with its record, the footage is archived, and the
//! custody log says so (R2, R5, R13, INV-1, INV-8).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{NaiveDateTime, TimeDelta};
use evidock::recorder::format::{self, ChainFile, Identity, MediaKind, Record, SegmentName};
use proptest::prelude::*;

use crate::support::{b3, files_under, Station};

/// The serial of the recorders written here.
pub const SERIAL: &str = "V700001";

/// One segment of a hand-written volume: its name's start and number, its bytes, and how the
/// chain records it.
#[derive(Debug, Clone)]
pub struct Seg {
    pub seq: u64,
    /// Start in the file name (device clock; four-digit years only, as the name has them).
    pub name_start: NaiveDateTime,
    /// Start and end in the chain's `SEG` record.
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub bytes: Vec<u8>,
    /// The size the `SEG` record states (the true size when `None`).
    pub claimed_size: Option<u64>,
    /// A `PART` record before the `SEG`, at this offset.
    pub part: Option<u64>,
    pub on_volume: bool,
    pub in_chain: bool,
}

impl Seg {
    pub fn new(seq: u64, start: &str, len: usize) -> Seg {
        let t = wall(start);
        Seg {
            seq,
            name_start: t,
            start: t,
            end: t + TimeDelta::seconds(600),
            bytes: (0..len).map(|i| (i as u64).wrapping_mul(7).wrapping_add(seq) as u8).collect(),
            claimed_size: None,
            part: None,
            on_volume: true,
            in_chain: true,
        }
    }

    pub fn name(&self) -> String {
        SegmentName {
            serial: SERIAL.into(),
            badge: "012345".into(),
            start: self.name_start,
            seq: self.seq,
            kind: MediaKind::Video,
        }
        .render()
    }

    pub fn rel(&self) -> String {
        format!("DCIM/{}/{}", self.name_start.format("%Y%m%d"), self.name())
    }
}

/// A hand-written recorder volume: the identity's clock (and zone), health, its segments, one
/// chain file with what the segments' records say, and extra records and lines.
#[derive(Debug, Clone)]
pub struct Vol {
    pub clock: NaiveDateTime,
    pub tz_minutes: Option<i32>,
    pub storage: (Option<u64>, Option<u64>),
    pub segs: Vec<Seg>,
    pub first_seq: Option<u64>,
    pub gen_wall: NaiveDateTime,
    /// Records between the segments and the `END`.
    pub extra: Vec<Record>,
    /// The `END` record: last number, count, wall clock.
    pub end: Option<(u64, u64, NaiveDateTime)>,
    /// Junk files in a folder that sorts first.
    pub junk: usize,
}

impl Vol {
    pub fn new(clock: NaiveDateTime, segs: Vec<Seg>) -> Vol {
        let gen_wall = segs.first().map_or(clock, |s| s.start);
        let end = segs.last().map(|s| (s.seq, segs.len() as u64, s.end));
        Vol {
            clock,
            tz_minutes: None,
            storage: (Some(1 << 30), Some(32 << 30)),
            first_seq: segs.first().map(|s| s.seq),
            segs,
            gen_wall,
            extra: Vec::new(),
            end,
            junk: 0,
        }
    }

    /// The chain file's records.
    pub fn records(&self) -> Vec<Record> {
        let mut out = Vec::new();
        if let Some(first_seq) = self.first_seq {
            out.push(Record::Genesis {
                serial: SERIAL.into(),
                session: "S1".into(),
                boot: "B1".into(),
                first_seq,
                wall: self.gen_wall,
                mono_ms: 0,
                prev_tail: None,
            });
        }
        for (i, s) in self.segs.iter().filter(|s| s.in_chain).enumerate() {
            if let Some(offset) = s.part {
                let prefix = s.bytes.get(..offset as usize).unwrap_or(&s.bytes);
                out.push(Record::Partial {
                    seq: s.seq,
                    offset,
                    hash: *blake3::hash(prefix).as_bytes(),
                    wall: s.start,
                    mono_ms: i as u64,
                });
            }
            out.push(Record::Segment {
                seq: s.seq,
                name: s.name(),
                kind: MediaKind::Video,
                start: s.start,
                end: s.end,
                mono_start_ms: i as u64 * 1000,
                mono_end_ms: i as u64 * 1000 + 600_000,
                size: s.claimed_size.unwrap_or(s.bytes.len() as u64),
                hash: *blake3::hash(&s.bytes).as_bytes(),
            });
        }
        out.extend(self.extra.iter().cloned());
        if let Some((last_seq, segments, wall)) = self.end {
            out.push(Record::Close { last_seq, segments, wall, mono_ms: u64::MAX });
        }
        out
    }

    /// Writes the volume into `dir` (created).
    pub fn write(&self, dir: &Path) {
        let id = Identity {
            serial: SERIAL.into(),
            badge: "012345".into(),
            officer_name: Some("张三".into()),
            unit: None,
            model: "DSJ-Z1".into(),
            firmware: "1.0".into(),
            clock: self.clock,
            clock_utc_offset: self.tz_minutes.map(|m| m * 60),
            clock_settable: false,
            writes_chain: true,
            storage_free: self.storage.0,
            storage_total: self.storage.1,
            battery_percent: Some(80),
        };
        std::fs::create_dir_all(dir.join("ZFY/CHAIN")).unwrap();
        std::fs::write(dir.join("ZFYINFO.TXT"), format::encode_gbk(&id.render()).unwrap()).unwrap();
        for s in self.segs.iter().filter(|s| s.on_volume) {
            let p = dir.join(s.rel());
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, &s.bytes).unwrap();
        }
        std::fs::write(dir.join("ZFY/CHAIN/S1.CHN"), ChainFile::render(&self.records())).unwrap();
        if self.junk > 0 {
            std::fs::create_dir_all(dir.join("DCIM/00000000")).unwrap();
            for i in 0..self.junk {
                std::fs::write(dir.join(format!("DCIM/00000000/0junk{i:03}.txt")), format!("junk {i}")).unwrap();
            }
        }
    }
}

pub fn wall(s: &str) -> NaiveDateTime {
    format::parse_wall(0, "t", s).unwrap()
}

/// The station's clock now (Beijing time, the test station's zone), to the second.
pub fn station_now() -> NaiveDateTime {
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).naive_local();
    wall(&format::format_wall(now))
}

/// Every regular file of a volume with its BLAKE3.
pub fn contents(dir: &Path) -> Vec<(PathBuf, String)> {
    files_under(dir).into_iter().map(|p| (p.clone(), b3(&dir.join(&p)))).collect()
}

/// What must hold after any ingest: every file the volume held is still on it, byte for
/// byte, or in the archive; every archive date folder is a four-digit year from 1970; every
/// docking is closed with its event; the custody log verifies.
pub fn assert_nothing_lost(st: &Station, before: &[(PathBuf, String)], vol: &Path) {
    let archived: BTreeSet<String> = files_under(&st.archive()).iter().map(|p| b3(&st.archive().join(p))).collect();
    for (rel, hash) in before {
        let kept = vol.join(rel).is_file() && b3(&vol.join(rel)) == *hash;
        assert!(kept || archived.contains(hash), "{} is neither on the recorder nor in the archive", rel.display());
    }
    for p in files_under(&st.archive()) {
        let p = p.to_string_lossy();
        let year: i32 = p.get(..4).and_then(|y| y.parse().ok()).unwrap_or(0);
        assert!((1970..=9999).contains(&year) && p.as_bytes().get(4) == Some(&b'/'), "{p}");
    }
    let open: i64 =
        st.db().query_row("SELECT COUNT(*) FROM dockings WHERE finished IS NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(open, 0, "every docking is closed");
    let closed: i64 = st
        .db()
        .query_row(
            "SELECT COUNT(*) FROM dockings d WHERE NOT EXISTS (SELECT 1 FROM custody_log c
             WHERE c.subject = 'docking:' || d.id AND c.action IN ('ingest_finished', 'ingest_abandoned'))",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(closed, 0, "every docking's end is in the custody log");
    st.assert_log_verifies();
}

/// `impossible_value` events: (record, field).
pub fn impossible(st: &Station) -> Vec<(String, String)> {
    let db = st.db();
    let mut q = db.prepare("SELECT details FROM custody_log WHERE action = 'impossible_value' ORDER BY seq").unwrap();
    q.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| {
            let v: serde_json::Value = serde_json::from_str(&d.unwrap()).unwrap();
            (v["record"].as_str().unwrap().to_string(), v["field"].as_str().unwrap().to_string())
        })
        .collect()
}

/// Runs a one-shot ingest of `vol` and checks it ran to its end: exit 1 (review), never a
/// panic or an internal error.
fn ingest_for_review(st: &Station, vol: &Path) -> String {
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "needs review, and ran to its end:\n{out}\n{err}");
    assert!(!err.contains("panicked") && !err.contains("internal error"), "{err}");
    out.into_owned()
}

#[test]
fn a_recorder_clock_at_the_end_of_time_in_a_zone_west_of_utc_is_a_finding_not_a_crash() {
    let st = Station::new();
    let segs = vec![Seg::new(1, "2024-05-01T09:30:00", 3000), Seg::new(2, "2024-05-01T09:40:00", 2000)];
    let mut v = Vol::new(NaiveDateTime::MAX, segs.clone());
    v.tz_minutes = Some(-14 * 60);
    let vol = st.path("incoming/T1");
    v.write(&vol);
    let before = contents(&vol);
    let out = ingest_for_review(&st, &vol);
    assert!(out.contains("impossible value") && out.contains("不合理"), "{out}");
    // The clock is named; a drift measured from it corrects nothing, so the footage is filed
    // by the docking day.
    let found = impossible(&st);
    assert_eq!(found, [("ZFYINFO.TXT".to_string(), "clock".to_string())]);
    let today = station_now().format("%Y/%m/%d/").to_string();
    let archived = st.archived_footage();
    assert_eq!(archived.len(), 2);
    assert!(archived.iter().all(|(p, _)| p.to_string_lossy().starts_with(&today)), "{archived:?}");
    let drift: i64 = st.db().query_row("SELECT drift_s FROM dockings", [], |r| r.get(0)).unwrap();
    assert!(drift > 8_000_000_000_000, "the drift is still recorded: {drift}");
    assert_nothing_lost(&st, &before, &vol);
}

#[test]
fn times_near_the_ends_of_time_against_a_leading_or_lagging_clock_are_findings() {
    let now = station_now();
    // (case, identity clock, zone, what is extreme in the chain or the names)
    type Edit = Box<dyn Fn(&mut Vol)>;
    let cases: Vec<(&str, NaiveDateTime, Option<i32>, Edit)> = vec![
        ("clock at the start of time, zone west of UTC", NaiveDateTime::MIN, Some(-14 * 60), Box::new(|_| {})),
        ("clock at the end of time, no zone", NaiveDateTime::MAX, None, Box::new(|_| {})),
        (
            "clock an hour fast, chain times at the start of time",
            now + TimeDelta::hours(1),
            None,
            Box::new(|v| {
                v.gen_wall = NaiveDateTime::MIN;
                v.segs[0].start = NaiveDateTime::MIN;
                v.segs[0].end = NaiveDateTime::MIN + TimeDelta::seconds(1);
            }),
        ),
        (
            "clock an hour slow, chain times at the end of time",
            now - TimeDelta::hours(1),
            Some(8 * 60),
            Box::new(|v| {
                v.segs[1].start = NaiveDateTime::MAX - TimeDelta::seconds(1);
                v.segs[1].end = NaiveDateTime::MAX;
                v.end = Some((2, 2, NaiveDateTime::MAX));
                v.extra.push(Record::ClockJump { old: NaiveDateTime::MIN, new: NaiveDateTime::MAX, mono_ms: 1 });
            }),
        ),
        (
            "clock a day slow, names at the end of year 9999",
            now - TimeDelta::days(1),
            None,
            Box::new(|v| {
                v.segs[1].name_start = wall("9999-12-31T23:59:59");
                v.segs[1].start = v.segs[1].name_start;
                v.segs[1].end = v.segs[1].name_start;
            }),
        ),
        (
            "clock in year 0, names in year 0",
            wall("0000-01-01T00:00:00"),
            Some(14 * 60),
            Box::new(|v| {
                v.segs[0].name_start = wall("0000-01-01T00:00:00");
                v.segs[0].start = v.segs[0].name_start;
            }),
        ),
    ];
    for (case, clock, tz, edit) in cases {
        let st = Station::new();
        let mut v =
            Vol::new(clock, vec![Seg::new(1, "2024-05-01T09:30:00", 3000), Seg::new(2, "2024-05-01T09:40:00", 2000)]);
        v.tz_minutes = tz;
        edit(&mut v);
        let vol = st.path("incoming/T2");
        v.write(&vol);
        let before = contents(&vol);
        // Twice: the second docking of the same recorder runs to its end as well.
        for _ in 0..2 {
            let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
            let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            assert_eq!(o.status.code(), Some(1), "{case}: needs review, and ran to its end:\n{out}\n{err}");
            assert!(!err.contains("panicked") && !err.contains("internal error"), "{case}: {err}");
        }
        assert!(!impossible(&st).is_empty(), "{case}: a finding names the value");
        let archived: BTreeSet<String> = st.archived_footage().into_iter().map(|(_, h)| h).collect();
        for s in &v.segs {
            assert!(archived.contains(blake3::hash(&s.bytes).to_hex().as_str()), "{case}: {} archived", s.name());
        }
        let (verified, corrected_off): (i64, i64) = st
            .db()
            .query_row(
                "SELECT SUM(verdict = 'verified'),
                        SUM(NOT (COALESCE(start_corrected, '1970') GLOB '[0-9][0-9][0-9][0-9]*'
                                 AND COALESCE(start_corrected, '1970') >= '1970'
                                 AND COALESCE(end_corrected, '1970') GLOB '[0-9][0-9][0-9][0-9]*'
                                 AND COALESCE(end_corrected, '1970') >= '1970'))
                 FROM segments",
                [],
                |r| Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.unwrap_or(0))),
            )
            .unwrap();
        assert!(verified >= 2, "{case}: the chain still verifies the footage");
        assert_eq!(corrected_off, 0, "{case}: no corrected time off the calendar is recorded");
        assert_nothing_lost(&st, &before, &vol);
    }
}

#[test]
fn sequence_numbers_sizes_and_counts_at_the_ends_of_their_range_are_judged_not_a_crash() {
    let now = station_now();
    // An END claiming the largest number and a count with no segment (beside a file with no
    // number): every number from 0 to 2^64 - 1 is absent, which is a finding, not an overflow.
    let st = Station::new();
    let mut v = Vol::new(now, vec![]);
    v.first_seq = Some(0);
    v.end = Some((u64::MAX, u64::MAX, now));
    let vol = st.path("incoming/S1");
    v.write(&vol);
    std::fs::create_dir_all(vol.join("DCIM/20240501")).unwrap();
    std::fs::write(vol.join("DCIM/20240501/notes.txt"), b"not a segment").unwrap();
    let before = contents(&vol);
    ingest_for_review(&st, &vol);
    let missing: i64 = st
        .db()
        .query_row(
            "SELECT COUNT(*) FROM segments WHERE verdict = 'missing' AND detail LIKE '%18446744073709551615%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(missing >= 1, "the absent numbers are reported");
    assert_eq!(st.archived_footage().len(), 1);
    assert_nothing_lost(&st, &before, &vol);

    // Sequence numbers at both ends and past the catalogue's integers; a size and an offset of
    // 2^64 - 1 on small files; storage the recorder cannot have.
    let st = Station::new();
    let mut segs = vec![
        Seg::new(u64::MAX - 1, "2024-05-01T09:30:00", 1000),
        Seg::new(u64::MAX, "2024-05-01T09:40:00", 1000),
        Seg::new(i64::MAX as u64 + 1, "2024-05-01T09:50:00", 1000),
    ];
    segs[0].claimed_size = Some(u64::MAX);
    segs[1].part = Some(u64::MAX);
    let mut v = Vol::new(now, segs);
    v.storage = (Some(u64::MAX), Some(1 << 30));
    v.first_seq = Some(u64::MAX - 1);
    v.end = Some((u64::MAX, 3, now));
    let vol = st.path("incoming/S2");
    v.write(&vol);
    let before = contents(&vol);
    ingest_for_review(&st, &vol);
    let found = impossible(&st);
    assert!(found.iter().filter(|(r, f)| r == "ZFYINFO.TXT" && f == "storage_free").count() == 2, "{found:?}");
    let stored: Option<i64> = st.db().query_row("SELECT storage_free FROM dockings", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, None, "not stored as a negative number");
    assert_eq!(st.archived_footage().len(), 3);
    assert_nothing_lost(&st, &before, &vol);
}

/// The catalogue's sequence numbers of a station (`SELECT <col> FROM <table>`), as the
/// recorder's unsigned numbers: SQLite's integers are signed, so they are stored bit for bit.
fn stored_seqs(st: &Station, query: &str) -> Vec<u64> {
    let db = st.db();
    let mut q = db.prepare(query).unwrap();
    q.query_map([], |r| r.get::<_, Option<i64>>(0)).unwrap().filter_map(Result::unwrap).map(|v| v as u64).collect()
}

#[test]
fn sequence_numbers_past_the_catalogues_integers_are_stored_bit_for_bit_and_ordered() {
    // A session across 2^63 (where SQLite's signed integers turn negative), then one at the
    // top of the range: every number stored as the recorder wrote it, the device's last number
    // the highest one unsigned, never lowered by a later docking (R5).
    let now = station_now();
    let top = i64::MAX as u64;
    let st = Station::with_ingest("wipe_after_verify = false");
    let v = Vol::new(
        now,
        vec![
            Seg::new(top - 1, "2024-05-01T09:30:00", 1000),
            Seg::new(top, "2024-05-01T09:40:00", 1000),
            Seg::new(top + 1, "2024-05-01T09:50:00", 1000),
            Seg::new(top + 2, "2024-05-01T10:00:00", 1000),
        ],
    );
    let vol = st.path("incoming/U1");
    v.write(&vol);
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert!(o.status.code().is_some(), "{}", crate::support::text(&o));
    let mut seqs = stored_seqs(&st, "SELECT seq FROM segments");
    seqs.sort_unstable();
    assert_eq!(seqs, vec![top - 1, top, top + 1, top + 2], "stored bit for bit");
    assert_eq!(stored_seqs(&st, "SELECT last_seq FROM devices"), vec![top + 2], "the highest, unsigned");
    assert_eq!(stored_seqs(&st, "SELECT first_seq FROM sessions"), vec![top - 1]);
    assert_eq!(stored_seqs(&st, "SELECT last_seq FROM sessions"), vec![top + 2]);

    // The same recorder later writes the very last numbers; then footage with low numbers
    // (another session, a replay): the device's last number stays the highest.
    let st2 = Station::new();
    let mut v = Vol::new(
        now,
        vec![Seg::new(u64::MAX - 1, "2024-05-02T09:30:00", 900), Seg::new(u64::MAX, "2024-05-02T09:40:00", 900)],
    );
    v.end = Some((u64::MAX, 2, wall("2024-05-02T09:50:00")));
    let vol = st2.path("incoming/U2");
    v.write(&vol);
    let before = contents(&vol);
    let o = st2.evidock(&["ingest", vol.to_str().unwrap()]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", crate::support::text(&o));
    assert_eq!(stored_seqs(&st2, "SELECT last_seq FROM devices"), vec![u64::MAX]);
    assert_nothing_lost(&st2, &before, &vol);
    let v = Vol::new(now, vec![Seg::new(3, "2024-05-03T09:30:00", 800)]);
    let vol = st2.path("incoming/U3");
    v.write(&vol);
    let o = st2.evidock(&["ingest", vol.to_str().unwrap()]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", crate::support::text(&o));
    assert_eq!(stored_seqs(&st2, "SELECT last_seq FROM devices"), vec![u64::MAX], "never lowered");
    st2.assert_log_verifies();
}

#[test]
fn an_identity_file_refused_for_its_size_or_kind_is_a_custody_event() {
    type Make = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Make)> = vec![
        ("larger than 64 KiB", Box::new(|p| std::fs::write(p, vec![b'#'; 100_000]).unwrap())),
        ("a symbolic link", Box::new(|p| std::os::unix::fs::symlink("/etc/passwd", p).unwrap())),
        ("a folder", Box::new(|p| std::fs::create_dir(p).unwrap())),
        ("a FIFO", Box::new(|p| nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap())),
    ];
    for (case, make) in cases {
        let st = Station::new();
        let (vol, _) = st.sim("I2", &["--serial", "F600012", "--segments", "2", "--segment-bytes", "1000"]);
        std::fs::remove_file(vol.join("ZFYINFO.TXT")).unwrap();
        make(&vol.join("ZFYINFO.TXT"));
        let before = files_under(&vol);
        let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.status.code(), Some(1), "{case}: refused, reported:\n{out}\n{err}");
        assert!(out.contains("ZFYINFO.TXT") && out.contains("身份文件"), "{case}: {out}");
        assert_eq!(st.actions(), ["docked", "hostile_entry", "ingest_abandoned"], "{case}");
        let (outcome, what): (String, String) = st
            .db()
            .query_row("SELECT d.outcome, h.what FROM dockings d JOIN hostile h ON h.docking_id = d.id", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(outcome, "refused: identity file unreadable", "{case}");
        assert!(what.contains("identity file"), "{case}: {what}");
        assert_eq!(files_under(&vol), before, "{case}: nothing touched");
        assert!(files_under(&st.archive()).is_empty(), "{case}: nothing copied");
        st.assert_log_verifies();
    }
}

#[test]
fn a_repeated_internal_error_archives_the_footage_unverified_and_keeps_the_recorder() {
    // A bug in the verification, or in the step after it (the verification is then done).
    for (failpoint, verified) in [("ingest.before-wipe", true), ("ingest.verify", false)] {
        let st = Station::new();
        st.register("F600013");
        let (vol, _) = st.sim("R1", &["--serial", "F600013", "--segments", "3", "--segment-bytes", "20000"]);
        let before = contents(&vol);
        // Footage and chain files (the first docking also leaves its clock request).
        let held = || -> Vec<(PathBuf, String)> {
            contents(&vol).into_iter().filter(|(p, _)| p.starts_with("DCIM") || p.starts_with("ZFY/CHAIN")).collect()
        };
        let recorded = held();
        let run = |armed: bool| {
            let mut cmd = std::process::Command::new(crate::support::bin());
            cmd.arg("--config").arg(&st.config).args(["ingest", vol.to_str().unwrap()]);
            if armed {
                cmd.env("EVIDOCK_FAILPOINTS", format!("{failpoint}:panic"));
            }
            let o = cmd.output().unwrap();
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            (o.status.code(), text(&o.stdout), text(&o.stderr))
        };
        // At the first docking: abandoned, as any internal error.
        let (code, out, err) = run(true);
        assert_eq!(code, Some(2), "{failpoint}: {out}\n{err}");
        assert!(err.contains("internal error"), "{failpoint}: {err}");
        assert_eq!(held(), recorded, "{failpoint}: nothing wiped");
        // The same bug at the next docking: the footage is archived, not verified, not wiped,
        // and the custodian is told so.
        let (code, out, err) = run(true);
        assert_eq!(code, Some(1), "{failpoint}: {out}\n{err}");
        let told = if verified {
            ["verified against", "但记录仪未清除"]
        } else {
            ["not verified", "未校验哈希链"]
        };
        assert!(out.contains(told[0]) && out.contains(told[1]) && out.contains("report this error"), "{out}");
        let degraded: String = st
            .db()
            .query_row("SELECT details FROM custody_log WHERE action = 'ingest_degraded'", [], |r| r.get(0))
            .unwrap();
        assert!(
            degraded.contains("\"step\":\"verifying\"")
                && degraded.contains(&format!("failpoint {failpoint} reached"))
                && degraded.contains("\"previous_docking\":1"),
            "{degraded}"
        );
        let outcomes: Vec<String> = {
            let db = st.db();
            let mut q = db.prepare("SELECT outcome FROM dockings ORDER BY id").unwrap();
            q.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        };
        let second = if verified { "archived, not wiped" } else { "archived, not verified" };
        assert_eq!(outcomes, ["abandoned: internal error", &format!("{second}: repeated internal error")]);
        let finished: String = st
            .db()
            .query_row("SELECT details FROM custody_log WHERE action = 'ingest_finished'", [], |r| r.get(0))
            .unwrap();
        assert!(
            finished.contains(&format!("\"verified\":{verified}")) && finished.contains("\"wiped\":false"),
            "{finished}"
        );
        assert_eq!(held(), recorded, "{failpoint}: the recorder keeps everything");
        assert_eq!(st.archived_footage().len(), 3, "{failpoint}: each file once");
        st.assert_log_verifies();
        // Once the bug is gone, the next docking verifies and wipes, and stores nothing twice.
        let (code, out, err) = run(false);
        assert_eq!(code, Some(0), "{failpoint}: {out}\n{err}");
        assert!(files_under(&vol.join("DCIM")).is_empty(), "{failpoint}: wiped once verified");
        assert_eq!(st.archived_footage().len(), 3);
        assert_nothing_lost(&st, &before, &vol);
    }
}

/// Arbitrary times: ordinary ones, both ends of the range of times and near them, any year
/// the range holds, and four-digit years.
fn any_time() -> impl Strategy<Value = NaiveDateTime> {
    let date = |y: i32, m: u32, d: u32, s: u32| {
        chrono::NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(s / 3600, s / 60 % 60, s % 60))
            .unwrap_or(NaiveDateTime::MIN)
    };
    prop_oneof![
        3 => (0i64..4_102_444_800).prop_map(|s| chrono::DateTime::from_timestamp(s, 0).unwrap().naive_utc()),
        1 => Just(NaiveDateTime::MIN),
        1 => Just(NaiveDateTime::MAX),
        1 => (0i64..10_000_000).prop_map(|s| NaiveDateTime::MIN + TimeDelta::seconds(s)),
        1 => (0i64..10_000_000).prop_map(|s| NaiveDateTime::MAX - TimeDelta::seconds(s)),
        1 => (-262_000i32..262_000, 1u32..=12, 1u32..=28, 0u32..86_400).prop_map(move |(y, m, d, s)| date(y, m, d, s)),
        1 => name_time(),
    ]
}

/// Times a file name can hold: four-digit years.
fn name_time() -> impl Strategy<Value = NaiveDateTime> {
    (0i32..=9999, 1u32..=12, 1u32..=28, 0u32..86_400).prop_map(|(y, m, d, s)| {
        chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(s / 3600, s / 60 % 60, s % 60).unwrap()
    })
}

/// Arbitrary numbers, with the ends and the catalogue's limits often.
fn any_number() -> impl Strategy<Value = u64> {
    prop_oneof![
        2 => 0u64..20,
        1 => any::<u64>(),
        1 => Just(u64::MAX),
        1 => Just(i64::MAX as u64),
        1 => Just(i64::MAX as u64 + 1),
        1 => (0u64..20).prop_map(|n| u64::MAX - n),
    ]
}

fn any_seg() -> impl Strategy<Value = Seg> {
    (
        (any_number(), name_time(), any_time(), any_time()),
        (0usize..3000, proptest::option::of(any_number()), proptest::option::of(any_number())),
        (proptest::bool::weighted(0.85), proptest::bool::weighted(0.85)),
    )
        .prop_map(|((seq, name_start, start, end), (len, claimed_size, part), (on_volume, in_chain))| Seg {
            seq,
            name_start,
            start,
            end,
            bytes: (0..len).map(|i| (i as u64 ^ seq) as u8).collect(),
            claimed_size,
            part,
            on_volume,
            in_chain,
        })
}

fn any_record() -> impl Strategy<Value = Record> {
    prop_oneof![
        (any_time(), any_number()).prop_map(|(wall, mono_ms)| Record::Interruption {
            reason: format::InterruptReason::Battery,
            wall,
            mono_ms
        }),
        any_time().prop_map(|wall| Record::Reboot { boot: "B2".into(), wall }),
        (any_time(), any_time(), any_number()).prop_map(|(old, new, mono_ms)| Record::ClockJump { old, new, mono_ms }),
    ]
}

fn any_volume() -> impl Strategy<Value = (Vol, usize)> {
    (
        (any_time(), proptest::option::of(-14i32 * 60..=14 * 60), any_time()),
        (proptest::option::of(any_number()), proptest::option::of(any_number())),
        (proptest::collection::vec(any_seg(), 0..5), proptest::option::of(any_number())),
        (proptest::collection::vec(any_record(), 0..3), proptest::option::of((any_number(), any_number(), any_time()))),
        (0usize..4, 1usize..10),
    )
        .prop_map(|((clock, tz, gen_wall), storage, (segs, first_seq), (extra, end), (junk, budget))| {
            let vol = Vol { clock, tz_minutes: tz, storage, segs, first_seq, gen_wall, extra, end, junk };
            (vol, budget)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// The whole ingest (the one the daemon's bays run, in this process, on a real folder and
    /// a real catalogue) with arbitrary times, sizes, sequence numbers and counts, against a
    /// budget of files junk competes for: never a panic or an internal error; every byte
    /// archived or left on the recorder; no chain file wiped while a segment it attests stays
    /// on the recorder unarchived; the docking closed in the custody log, which verifies.
    #[test]
    fn any_recorder_values_are_ingested_whole_without_a_panic((v, budget) in any_volume()) {
        let st = Station::with_ingest(&format!("max_files_per_volume = {budget}"));
        let vol = st.path("incoming/P1");
        v.write(&vol);
        let before = contents(&vol);
        let config = evidock::config::Config::load(Some(&st.config)).unwrap();
        let (lock, catalog, _) = evidock::daemon::prepare(&config, false).unwrap();
        let catalog = std::sync::Mutex::new(catalog);
        let progress = evidock::ingest::Progress::new("P1");
        let stop = std::sync::atomic::AtomicBool::new(false);
        let claims = evidock::ingest::exec::Claims::default();
        let bay = evidock::ingest::Bay {
            config: &config, catalog: &catalog, progress: &progress, stop: &stop, usb: None, claims: &claims, sdk: None,
        };
        let outcome = bay.run(&vol);
        drop(catalog);
        drop(lock);
        prop_assert!(
            matches!(outcome, Ok(evidock::ingest::Outcome::Finished { .. })),
            "{outcome:?}\n{}", progress.snapshot().message
        );
        // A chain file gone from the recorder: every segment it names that the recorder held is
        // in the archive.
        let archived: BTreeSet<String> =
            files_under(&st.archive()).iter().map(|p| b3(&st.archive().join(p))).collect();
        let held: BTreeSet<&String> = before.iter().map(|(_, h)| h).collect();
        if !vol.join("ZFY/CHAIN/S1.CHN").exists() {
            let hash = |s: &Seg| blake3::hash(&s.bytes).to_hex().to_string();
            for s in v.segs.iter().filter(|s| s.in_chain && held.contains(&hash(s))) {
                prop_assert!(
                    archived.contains(blake3::hash(&s.bytes).to_hex().as_str()),
                    "the chain was wiped while {} is not archived", s.name()
                );
            }
        }
        // Every number stored as the recorder wrote it, and the device's last number is the
        // highest of them, unsigned (SQLite's integers are signed).
        // (Of the segments archived whose chain was read: the budget may leave either on the
        // recorder.)
        let stored = stored_seqs(&st, "SELECT seq FROM segments");
        let chain_read: i64 = st.db().query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0)).unwrap();
        let hash = |s: &Seg| blake3::hash(&s.bytes).to_hex().to_string();
        for s in v.segs.iter().filter(|s| s.in_chain && s.on_volume && chain_read > 0) {
            let alike = v.segs.iter().filter(|o| o.bytes == s.bytes).count();
            if alike == 1 && archived.contains(&hash(s)) {
                prop_assert!(stored.contains(&s.seq), "{} stored as {stored:?}", s.seq);
            }
        }
        let last = stored_seqs(&st, "SELECT last_seq FROM devices");
        if let Some(max) = stored.iter().max() {
            prop_assert!(last.first().is_some_and(|l| l >= max), "last_seq {last:?} below {max}");
        }
        assert_nothing_lost(&st, &before, &vol);
    }
}
