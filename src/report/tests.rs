//! Compliance report and spot-check tests on crafted data: clean data yields no findings, and
//! each breach (R1-R7, R11) is flagged exactly once, naming exactly the recording, recorder or
//! case concerned.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

use super::render::{self, Bom};
use super::*;
use crate::retention::{Calendar, Flag, IngestRule, Trigger};

const CAL: &str = include_str!("../../config/holidays-2026.toml");
const CASE1: &str = "宜卫罚〔2026〕1号";

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn rules() -> Rules {
    Rules {
        tz: chrono_tz::Asia::Shanghai,
        ingest: IngestRule::WorkingDays(2),
        ingest_after_return: IngestRule::Hours(24),
        drift_threshold_s: 30,
        no_case_after_days: 30,
    }
}

fn period() -> Period {
    Period::days(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(), NaiveDate::from_ymd_opt(2026, 3, 31).unwrap()).unwrap()
}

const NOW: &str = "2026-04-20T00:00:00Z";

/// A recording that breaks no rule: filed, verified, ingested two hours after it ended.
fn clean(id: &str, device: &str, officer: &str, start: &str) -> RecordingFacts {
    let start = t(start);
    let end = start + TimeDelta::minutes(30);
    RecordingFacts {
        id: id.to_string(),
        device: device.to_string(),
        officer: Some(officer.to_string()),
        officer_name: None,
        start,
        end,
        returned: None,
        extended_until: None,
        ingested_at: crate::retention::local_to_utc(chrono_tz::Asia::Shanghai, end, crate::retention::Pick::Latest)
            + TimeDelta::hours(2),
        unexplained_gaps: 0,
        drift_s: Some(5),
        chain: vec![
            ChainVerdict { segment: "0001".into(), verdict: "verified".into() },
            ChainVerdict { segment: "0002".into(), verdict: "verified".into() },
        ],
        cases: vec![CASE1.to_string()],
        flags: vec![Flag::new(Trigger::Evidence, "王科长", utc("2026-03-05T00:00:00Z"), "作为处罚证据").unwrap()],
        files: vec![FileFacts { path: format!("2026/03/{id}.mp4"), size: 1_000_000, readable: true }],
    }
}

struct World {
    recordings: Vec<RecordingFacts>,
    devices: Vec<DeviceFacts>,
    windows: Vec<CaseWindow>,
    names: BTreeMap<String, String>,
    calendar: Calendar,
    rules: Rules,
    now: DateTime<Utc>,
    duty: Vec<crate::duty::Line>,
}

fn world() -> World {
    World {
        recordings: vec![
            clean("s1", "ZFY0001", "3201001", "2026-03-02T09:00:00"),
            clean("s2", "ZFY0001", "3201001", "2026-03-06T14:30:00"),
            clean("s3", "ZFY0002", "3201002", "2026-03-10T10:00:00"),
            // Boundary cases that are not breaches: drift exactly at the threshold; ingested at
            // the last minute (ended Friday 6 March; Monday and Tuesday are the two working days).
            RecordingFacts {
                drift_s: Some(-30),
                ingested_at: utc("2026-03-10T15:59:59Z"),
                ..clean("s4", "ZFY0002", "3201002", "2026-03-06T15:00:00")
            },
            // Not filed, but only 21 days old.
            RecordingFacts { cases: vec![], flags: vec![], ..clean("s5", "ZFY0001", "3201001", "2026-03-29T15:00:00") },
        ],
        devices: vec![
            DeviceFacts {
                serial: "ZFY0001".into(),
                registered: true,
                officer: Some("3201001".into()),
                history: vec![],
            },
            DeviceFacts {
                serial: "ZFY0002".into(),
                registered: true,
                officer: Some("3201002".into()),
                history: vec![],
            },
        ],
        windows: vec![
            CaseWindow {
                case: CASE1.into(),
                officers: vec!["3201001".into(), "3201002".into()],
                from: t("2026-03-02T09:00:00"),
                to: t("2026-03-02T09:10:00"),
            },
            // Covered by s3 from the second handling officer only (its 30 seconds past the end
            // of s3 are under a minute: not a finding).
            CaseWindow {
                case: "宜卫罚〔2026〕2号".into(),
                officers: vec!["3201001".into(), "3201002".into()],
                from: t("2026-03-10T10:20:00"),
                to: t("2026-03-10T10:30:30"),
            },
        ],
        names: BTreeMap::from([("3201001".into(), "王五".into()), ("3201002".into(), "赵六".into())]),
        calendar: Calendar::parse(CAL).unwrap(),
        rules: rules(),
        now: utc(NOW),
        duty: Vec::new(),
    }
}

fn run(w: &World) -> Report {
    build(&Input {
        period: period(),
        now: w.now,
        recordings: &w.recordings,
        devices: &w.devices,
        windows: &w.windows,
        officer_names: &w.names,
        calendar: &w.calendar,
        rules: &w.rules,
        duty: &w.duty,
        exemptions: &[],
        unreviewed: &[],
    })
}

/// (kind, officers, device, recording, case) of each finding.
type Key = (Kind, Vec<String>, Option<String>, Option<String>, Option<String>);

fn keys(r: &Report) -> Vec<Key> {
    r.findings
        .iter()
        .map(|f| (f.kind, f.officers.clone(), f.device.clone(), f.recording.clone(), f.case.clone()))
        .collect()
}

fn on(kind: Kind, officer: &str, device: &str, recording: &str) -> Key {
    (kind, vec![officer.to_string()], Some(device.to_string()), Some(recording.to_string()), None)
}

#[test]
fn clean_data_yields_no_findings() {
    let r = run(&world());
    assert_eq!(keys(&r), vec![]);
    assert!(r.is_clean());
    assert_eq!((r.recordings, r.windows), (5, 2));
    assert!(r.notes.is_empty());
    let officers: Vec<(Option<String>, Option<String>, usize, usize)> =
        r.by_officer.iter().map(|t| (t.key.clone(), t.name.clone(), t.recordings, t.total())).collect();
    assert_eq!(
        officers,
        vec![(Some("3201001".into()), Some("王五".into()), 3, 0), (Some("3201002".into()), Some("赵六".into()), 2, 0)]
    );
    let devices: Vec<(Option<String>, usize)> = r.by_device.iter().map(|t| (t.key.clone(), t.recordings)).collect();
    assert_eq!(devices, vec![(Some("ZFY0001".into()), 3), (Some("ZFY0002".into()), 2)]);
}

/// Applies one breach to the clean world and expects exactly `expect`.
fn check(breach: impl FnOnce(&mut World), expect: Vec<Key>) -> Report {
    let mut w = world();
    breach(&mut w);
    let r = run(&w);
    assert_eq!(keys(&r), expect);
    for f in &r.findings {
        assert!(!f.detail.is_empty() && !f.detail_zh.is_empty());
    }
    r
}

#[test]
fn late_ingest_is_flagged_against_working_days() {
    let r = check(
        |w| w.recordings[3].ingested_at = utc("2026-03-10T16:00:00Z"),
        vec![on(Kind::LateIngest, "3201002", "ZFY0002", "s4")],
    );
    assert_eq!(r.findings[0].kind.rule(), "R3");
    assert!(r.findings[0].detail.contains("deadline (2wd) 2026-03-11 00:00"), "{}", r.findings[0].detail);
    // Under a 24-hour rule the same footage was late long before.
    let r = check(
        |w| {
            w.rules.ingest = IngestRule::Hours(24);
            w.recordings[3].ingested_at = utc("2026-03-07T07:31:00Z");
        },
        vec![on(Kind::LateIngest, "3201002", "ZFY0002", "s4")],
    );
    assert!(r.findings[0].detail.contains("0 h 1 min late"), "{}", r.findings[0].detail);
}

#[test]
fn a_return_from_remote_work_extends_the_ingest_deadline_under_its_own_rule() {
    // Returned Wednesday 11 March 18:00 (local): 24 hours from then.
    check(
        |w| {
            w.recordings[3].ingested_at = utc("2026-03-12T09:59:59Z");
            w.recordings[3].returned = Some(t("2026-03-11T18:00:00"));
        },
        vec![],
    );
    let r = check(
        |w| {
            w.recordings[3].ingested_at = utc("2026-03-12T10:00:00Z");
            w.recordings[3].returned = Some(t("2026-03-11T18:00:00"));
        },
        vec![on(Kind::LateIngest, "3201002", "ZFY0002", "s4")],
    );
    assert!(r.findings[0].detail.starts_with("returned 2026-03-11 18:00"), "{}", r.findings[0].detail);
    assert!(r.findings[0].detail_zh.starts_with("返回单位于2026-03-11 18:00"), "{}", r.findings[0].detail_zh);
    // A return before the ordinary deadline does not shorten it.
    check(
        |w| {
            w.recordings[3].ingested_at = utc("2026-03-10T15:00:00Z");
            w.recordings[3].returned = Some(t("2026-03-06T16:00:00"));
        },
        vec![],
    );
}

/// S2 §22: 如遇特殊情况不能移交的，需经机构主管领导批准延期移交. An approved extension moves the
/// handover deadline later, never earlier; late ingest is then judged against it.
#[test]
fn an_approved_handover_extension_is_the_deadline_late_ingest_is_judged_against() {
    check(
        |w| {
            w.recordings[3].ingested_at = utc("2026-03-14T09:59:59Z");
            w.recordings[3].extended_until = Some(utc("2026-03-14T10:00:00Z"));
        },
        vec![],
    );
    let r = check(
        |w| {
            w.recordings[3].ingested_at = utc("2026-03-14T10:30:00Z");
            w.recordings[3].extended_until = Some(utc("2026-03-14T10:00:00Z"));
        },
        vec![on(Kind::LateIngest, "3201002", "ZFY0002", "s4")],
    );
    assert!(
        r.findings[0].detail.starts_with("handover extended (approved) to 2026-03-14 18:00"),
        "{}",
        r.findings[0].detail
    );
    assert!(r.findings[0].detail.ends_with("0 h 30 min late"), "{}", r.findings[0].detail);
    assert!(r.findings[0].detail_zh.starts_with("经批准延期移交至2026-03-14 18:00"), "{}", r.findings[0].detail_zh);
    // An extension that ends before the ordinary deadline does not shorten it.
    check(
        |w| {
            w.recordings[3].ingested_at = utc("2026-03-10T15:00:00Z");
            w.recordings[3].extended_until = Some(utc("2026-03-01T00:00:00Z"));
        },
        vec![],
    );
}

#[test]
fn unexplained_gaps_are_flagged() {
    let r = check(|w| w.recordings[1].unexplained_gaps = 2, vec![on(Kind::UnexplainedGap, "3201001", "ZFY0001", "s2")]);
    assert_eq!(r.findings[0].kind.rule(), "R6");
}

#[test]
fn drift_beyond_the_threshold_is_flagged() {
    check(|w| w.recordings[2].drift_s = Some(-31), vec![on(Kind::ClockDrift, "3201002", "ZFY0002", "s3")]);
    check(|w| w.recordings[2].drift_s = None, vec![]);
}

#[test]
fn chain_failures_are_flagged_with_the_segments() {
    let r = check(
        |w| {
            w.recordings[0].chain[1].verdict = "altered".into();
            w.recordings[0].chain.push(ChainVerdict { segment: "0003".into(), verdict: "unchained".into() });
        },
        vec![on(Kind::ChainFailure, "3201001", "ZFY0001", "s1")],
    );
    assert!(r.findings[0].detail.contains("0002 altered, 0003 unchained"), "{}", r.findings[0].detail);
}

#[test]
fn unregistered_recorders_are_flagged_once_each() {
    let r = check(
        |w| {
            w.recordings.push(clean("u1", "ZFY0009", "3201001", "2026-03-03T09:00:00"));
            w.recordings.push(clean("u2", "ZFY0009", "3201001", "2026-03-04T09:00:00"));
            w.devices[1].registered = false;
        },
        vec![
            (Kind::UnregisteredDevice, vec!["3201001".into()], Some("ZFY0009".into()), None, None),
            (Kind::UnregisteredDevice, vec!["3201002".into()], Some("ZFY0002".into()), None, None),
        ],
    );
    assert!(r.findings[0].detail.contains("2 recording(s)"));
    assert_eq!(r.findings[0].kind.rule(), "R1");
}

#[test]
fn footage_without_a_case_after_n_days_is_flagged() {
    check(
        |w| {
            w.recordings[2].cases.clear();
            w.windows.remove(1);
        },
        vec![on(Kind::NoCase, "3201002", "ZFY0002", "s3")],
    );
    // s5 (not filed, ended 29 March) crosses the 30-day line on 28 April.
    check(|w| w.now = utc("2026-04-28T16:00:00Z"), vec![on(Kind::NoCase, "3201001", "ZFY0001", "s5")]);
}

#[test]
fn flags_without_reasons_are_flagged() {
    check(
        |w| {
            w.recordings[1].flags[0].reason = " ".into();
            w.recordings[2].flags.push(Flag {
                trigger: Trigger::Obstruction,
                set_by: String::new(),
                set_at: utc("2026-03-12T00:00:00Z"),
                reason: "当事人阻挠".into(),
                withdrawn: None,
            });
        },
        vec![
            on(Kind::FlagWithoutReason, "3201001", "ZFY0001", "s2"),
            on(Kind::FlagWithoutReason, "3201002", "ZFY0002", "s3"),
        ],
    );
}

#[test]
fn zero_byte_and_unreadable_files_are_flagged() {
    check(
        |w| {
            w.recordings[0].files[0].size = 0;
            w.recordings[2].files[0].readable = false;
        },
        vec![on(Kind::EmptyFile, "3201001", "ZFY0001", "s1"), on(Kind::UnreadableFile, "3201002", "ZFY0002", "s3")],
    );
}

#[test]
fn on_site_windows_without_footage_are_flagged() {
    let r = check(
        |w| {
            w.windows.push(CaseWindow {
                case: "宜卫罚〔2026〕3号".into(),
                officers: vec!["3201002".into(), "3201003".into()],
                from: t("2026-03-02T08:50:00"),
                to: t("2026-03-02T09:10:00"),
            });
        },
        vec![(Kind::NoFootage, vec!["3201002".into(), "3201003".into()], None, None, Some("宜卫罚〔2026〕3号".into()))],
    );
    assert_eq!(r.findings[0].kind.rule(), "R11");
    // Counted against both handling officers, including one with no recordings at all.
    let per: Vec<(Option<String>, usize, usize)> =
        r.by_officer.iter().map(|t| (t.key.clone(), t.recordings, t.count(Kind::NoFootage))).collect();
    assert_eq!(
        per,
        vec![(Some("3201001".into()), 3, 0), (Some("3201002".into()), 2, 1), (Some("3201003".into()), 0, 1)]
    );
}

/// R13, S2 §13 (记录的起止时间应与文书记载一致): footage that covers an on-site window only
/// in part is a finding naming the parts without footage.
#[test]
fn on_site_windows_covered_only_in_part_are_flagged() {
    let r = check(
        |w| {
            w.windows.push(CaseWindow {
                case: "宜卫罚〔2026〕4号".into(),
                officers: vec!["3201001".into()],
                from: t("2026-03-06T14:00:00"),
                to: t("2026-03-06T15:30:00"),
            });
        },
        vec![(Kind::PartialFootage, vec!["3201001".into()], None, None, Some("宜卫罚〔2026〕4号".into()))],
    );
    let f = &r.findings[0];
    assert_eq!(f.kind.rule(), "R13");
    // s2 runs 14:30–15:00: half an hour before it and after it lack footage.
    assert!(
        f.detail.contains("2026-03-06 14:00:00 – 2026-03-06 14:30:00, 2026-03-06 15:00:00 – 2026-03-06 15:30:00"),
        "{}",
        f.detail
    );
    assert!(f.detail_zh.contains("无承办人员录像"), "{}", f.detail_zh);
}

/// R1, S1 §12 / §14 (执法记录设备编号登记，录入使用人身份资料): each recording is judged against
/// the registration in force when it was recorded: footage from before a retirement stays
/// registered; footage after it, or naming another officer than the registration then, is a
/// finding.
#[test]
fn recordings_are_judged_against_the_registration_in_force_when_recorded() {
    let span = |from: &str, to: Option<&str>, officer: &str| RegisteredSpan {
        from: t(from),
        to: to.map(t),
        officer: officer.into(),
        name: None,
    };
    let r = check(
        |w| {
            // ZFY0001 registered to 3201001 from 1 March, retired on 20 March: s1, s2 (2 and
            // 6 March) are fine, s5 (29 March) was recorded after the retirement.
            w.devices[0].registered = false;
            w.devices[0].history = vec![span("2026-03-01T00:00:00", Some("2026-03-20T00:00:00"), "3201001")];
            // ZFY0002 reassigned to 3201003 on 8 March: s3 (10 March, badge 3201002) names the
            // former officer; s4 (6 March) is fine.
            w.devices[1].history = vec![
                span("2026-02-01T00:00:00", Some("2026-03-08T00:00:00"), "3201002"),
                span("2026-03-08T00:00:00", None, "3201003"),
            ];
        },
        vec![
            (Kind::UnregisteredDevice, vec!["3201001".into()], Some("ZFY0001".into()), None, None),
            (
                Kind::RegistryMismatch,
                vec!["3201003".into(), "3201002".into()],
                Some("ZFY0002".into()),
                Some("s3".into()),
                None,
            ),
        ],
    );
    assert_eq!(r.findings[1].kind.rule(), "R1");
    assert!(r.findings[0].detail.contains("1 recording(s)"), "{}", r.findings[0].detail);
    assert!(r.findings[1].detail_zh.contains("登记使用人为3201003"), "{}", r.findings[1].detail_zh);
    // Footage older than the registry is covered by the first registration.
    let h = [span("2026-03-01T00:00:00", None, "3201001")];
    assert_eq!(super::registration_at(&h, t("2025-01-01T00:00:00")).map(|s| s.officer.as_str()), Some("3201001"));
}

/// R1, S1 §14 (录入使用人的身份资料; 谁使用谁负责): a recorder whose badge agrees with the
/// registration in force but whose officer name differs is a finding too; the same name (or
/// no name on either side) is not.
#[test]
fn an_officer_name_that_differs_from_the_registration_is_a_finding() {
    let span = |name: Option<&str>| RegisteredSpan {
        from: t("2026-02-01T00:00:00"),
        to: None,
        officer: "3201001".into(),
        name: name.map(str::to_string),
    };
    let r = check(
        |w| {
            w.devices[0].history = vec![span(Some("王五"))];
            w.recordings[0].officer_name = Some("李四".into());
            w.recordings[1].officer_name = Some("王五".into());
        },
        vec![(Kind::RegistryMismatch, vec!["3201001".into()], Some("ZFY0001".into()), Some("s1".into()), None)],
    );
    assert!(
        r.findings[0].detail.contains("(王五)") && r.findings[0].detail.contains("names 李四"),
        "{}",
        r.findings[0].detail
    );
    assert!(r.findings[0].detail_zh.contains("记录仪所载姓名为李四"), "{}", r.findings[0].detail_zh);
    check(
        |w| {
            w.devices[0].history = vec![span(None)];
            w.recordings[0].officer_name = Some("李四".into());
        },
        vec![],
    );
}

/// R14, S0 §14 / S1 §16 / S3 §7 (领用、归还): the duty report's findings are the compliance
/// report's too: a recorder not returned by the end of the working day and a shift without
/// footage, each attributed to its officer and recorder; a plain `recording` line is not.
#[test]
fn duty_findings_are_compliance_findings() {
    let line = |kind: &'static str, binding: i64| crate::duty::Line {
        kind,
        binding,
        serial: "ZFY0001".into(),
        officer: "3201001".into(),
        recording: None,
        shift: None,
        text: format!("{kind} text"),
        text_zh: format!("{kind} 说明"),
    };
    let r = check(
        |w| w.duty = vec![line("not_returned", 1), line("no_footage", 2), line("recording", 3)],
        vec![
            (Kind::NotReturned, vec!["3201001".into()], Some("ZFY0001".into()), None, None),
            (Kind::ShiftWithoutFootage, vec!["3201001".into()], Some("ZFY0001".into()), None, None),
        ],
    );
    assert_eq!((r.findings[0].kind.rule(), r.findings[1].kind.rule()), ("R14", "R14"));
    assert!(r.findings[0].detail.contains("binding #1") && r.findings[1].detail_zh.contains("领用 #2"));
}

#[test]
fn uncovered_parts_are_found_across_overlapping_spans() {
    let u = |from: &str, to: &str, spans: &[(&str, &str)]| {
        super::uncovered(t(from), t(to), spans.iter().map(|(a, b)| (t(a), t(b))).collect())
    };
    assert_eq!(
        u("2026-03-01T10:00:00", "2026-03-01T11:00:00", &[("2026-03-01T09:00:00", "2026-03-01T12:00:00")]),
        vec![]
    );
    assert_eq!(
        u(
            "2026-03-01T10:00:00",
            "2026-03-01T11:00:00",
            &[("2026-03-01T10:20:00", "2026-03-01T10:40:00"), ("2026-03-01T10:10:00", "2026-03-01T10:30:00")]
        ),
        vec![
            (t("2026-03-01T10:00:00"), t("2026-03-01T10:10:00")),
            (t("2026-03-01T10:40:00"), t("2026-03-01T11:00:00"))
        ]
    );
    assert_eq!(u("2026-03-01T10:00:00", "2026-03-01T10:00:59", &[]), vec![], "under a minute");
}

#[test]
fn recordings_and_windows_outside_the_period_are_left_out() {
    let mut bad = clean("x1", "ZFY0009", "3201001", "2026-04-02T09:00:00");
    bad.unexplained_gaps = 3;
    bad.files[0].size = 0;
    check(
        |w| {
            w.recordings.push(bad);
            w.windows.push(CaseWindow {
                case: "宜卫罚〔2026〕9号".into(),
                officers: vec!["3201009".into()],
                from: t("2026-04-01T00:00:00"),
                to: t("2026-04-01T01:00:00"),
            });
        },
        vec![],
    );
}

#[test]
fn every_kind_of_breach_at_once_is_tallied_per_officer_and_recorder() {
    let mut w = world();
    w.recordings[0].unexplained_gaps = 1;
    w.recordings[0].drift_s = Some(400);
    w.recordings[0].files[0].size = 0;
    w.recordings.push(RecordingFacts { officer: None, ..clean("u1", "ZFY0009", "x", "2026-03-03T09:00:00") });
    let r = run(&w);
    let kinds: Vec<Kind> = r.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, vec![Kind::UnexplainedGap, Kind::ClockDrift, Kind::UnregisteredDevice, Kind::EmptyFile]);
    let o1 = &r.by_officer[0];
    assert_eq!((o1.key.as_deref(), o1.total(), o1.count(Kind::ClockDrift)), (Some("3201001"), 3, 1));
    let unknown = r.by_officer.last().unwrap();
    assert_eq!((unknown.key.as_deref(), unknown.recordings, unknown.total()), (None, 1, 1));
    let d9 = r.by_device.iter().find(|t| t.key.as_deref() == Some("ZFY0009")).unwrap();
    assert_eq!((d9.recordings, d9.count(Kind::UnregisteredDevice)), (1, 1));
}

#[test]
fn a_year_without_a_calendar_is_noted() {
    let mut w = world();
    w.calendar = Calendar::weekends_only();
    let r = run(&w);
    assert_eq!(r.notes.len(), 1);
    assert!(r.notes[0].contains("2026"));
    w.rules.ingest = IngestRule::Hours(24);
    assert_eq!(run(&w).notes.len(), 0);
    w.rules.ingest_after_return = IngestRule::WorkingDays(1);
    assert_eq!(run(&w).notes.len(), 1);
}

#[test]
fn a_reversed_period_is_refused() {
    let e = Period::days(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(), NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
    assert!(matches!(e, Err(ReportError::Period { .. })));
}

fn messy() -> Report {
    let mut w = world();
    w.names.insert("3201001".into(), "王五 <b>&".into());
    w.recordings[0].unexplained_gaps = 1;
    w.recordings[1].files[0].readable = false;
    w.recordings[1].files[0].path = "2026/03/06/宜卫罚〔2026〕1号, \"复核\"/s2.mp4".into();
    w.windows.push(CaseWindow {
        case: "宜卫罚〔2026〕4号".into(),
        officers: vec!["3201002".into()],
        from: t("2026-03-20T09:00:00"),
        to: t("2026-03-20T10:00:00"),
    });
    run(&w)
}

#[test]
fn the_json_shape_is_stable() {
    let r = messy();
    let v: serde_json::Value = serde_json::from_str(&render::json(&r)).unwrap();
    assert_eq!(v["format"], "evidock-compliance/1");
    assert_eq!(v["period"]["from"], "2026-03-01T00:00:00");
    assert_eq!(v["period"]["to"], "2026-04-01T00:00:00");
    assert_eq!(v["timezone"], "Asia/Shanghai");
    assert_eq!(v["generated_at"], "2026-04-20T00:00:00Z");
    assert_eq!(v["rules"]["ingest_deadline"], "2wd");
    assert_eq!(v["rules"]["ingest_deadline_after_return"], "24h");
    assert_eq!(v["recordings"], 5);
    let f = v["findings"].as_array().unwrap();
    assert_eq!(f.len(), 3);
    assert_eq!(f[0]["rule"], "R6");
    assert_eq!(f[0]["kind"], "unexplained-gap");
    assert_eq!(f[0]["officers"][0], "3201001");
    assert_eq!(f[2]["case"], "宜卫罚〔2026〕4号");
    assert!(f[2]["device"].is_null() && f[2]["recording"].is_null());
    assert!(f[1]["detail"].as_str().unwrap().contains("\"复核\""));
    let o = &v["by_officer"][0];
    assert_eq!(o["name"], "王五 <b>&");
    assert_eq!(o["total"], 2);
    let names: Vec<&str> = o["findings"].as_object().unwrap().keys().map(String::as_str).collect();
    let mut all: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    all.sort_unstable();
    assert_eq!(names, all);
    assert_eq!(v["by_device"][1]["device"], "ZFY0002");
    let clean: serde_json::Value = serde_json::from_str(&render::json(&run(&world()))).unwrap();
    assert_eq!(clean["findings"].as_array().unwrap().len(), 0);
}

/// Splits RFC 4180 text into records of fields (the reading side, for the test).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = vec![];
    let mut row = vec![];
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'));
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && row.is_empty(), "text ends with CRLF");
    rows
}

#[test]
fn csv_round_trips_chinese_commas_and_quotes() {
    let r = messy();
    let with = render::csv(&r, Bom::With);
    assert!(with.starts_with('\u{feff}'));
    let without = render::csv(&r, Bom::Without);
    assert_eq!(&with['\u{feff}'.len_utf8()..], without);
    let rows = parse_csv(&without);
    assert_eq!(rows.len(), 1 + r.findings.len());
    assert!(rows.iter().all(|row| row.len() == 9));
    assert_eq!(rows[0][0], "规则 rule");
    assert_eq!(rows[2][1], "unreadable-file");
    assert!(rows[2][8].contains("2026/03/06/宜卫罚〔2026〕1号, \"复核\"/s2.mp4"), "{}", rows[2][8]);
}

#[test]
fn the_table_and_the_html_page_are_bilingual_and_escaped() {
    let r = messy();
    let table = render::table(&r);
    for needle in ["合规报告 Compliance report", "执法人员 Officer", "王五 <b>& (3201001)", "R11", "现场执法无录像"]
    {
        assert!(table.contains(needle), "table lacks {needle:?}:\n{table}");
    }
    let html = render::html(&r);
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<meta charset=\"utf-8\">"));
    assert!(html.contains("王五 &lt;b&gt;&amp; (3201001)"));
    assert!(!html.contains("<b>&"));
    assert!(html.contains("&quot;复核&quot;"));
    assert!(html.contains("问题明细 <span class=\"en\">Findings</span>"));
    assert!(!html.contains("http"), "self-contained: no external resources");
    assert!(render::table(&run(&world())).contains("无 None"));
}

// Spot checks.

fn population(n: usize) -> Vec<RecordingFacts> {
    (0..n)
        .map(|i| clean(&format!("s{i:03}"), "ZFY0001", "3201001", &format!("2026-03-{:02}T09:00:00", 1 + i % 28)))
        .collect()
}

#[test]
fn splitmix64_matches_its_reference_outputs() {
    // Published first outputs for seed 0 (e.g. the reference C code by Vigna).
    let mut g = SplitMix64::new(0);
    assert_eq!(g.next_u64(), 0xe220_a839_7b1d_cdaf);
    assert_eq!(g.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    assert_eq!(g.next_u64(), 0x06c4_5d18_8009_454f);
}

#[test]
fn bounded_draws_are_in_range_and_roughly_uniform() {
    let mut g = SplitMix64::new(42);
    let mut counts = [0usize; 7];
    for _ in 0..70_000 {
        counts[g.below(7) as usize] += 1;
    }
    assert!(counts.iter().all(|c| (9_400..10_600).contains(c)), "{counts:?}");
    assert_eq!(g.below(1), 0);
    assert_eq!(g.below(0), 0);
}

#[test]
fn the_sample_is_reproducible_and_records_its_seed() {
    let pop = population(40);
    let a = spot_check(&pop, period(), 5, 20_260_401);
    let mut shuffled = pop.clone();
    shuffled.reverse();
    let b = spot_check(&shuffled, period(), 5, 20_260_401);
    assert_eq!(a, b);
    assert_eq!((a.seed, a.population, a.requested, a.picks.len()), (20_260_401, 40, 5, 5));
    assert!(a.method.starts_with("splitmix64-fisher-yates/1"));
    let ids: Vec<&str> = a.picks.iter().map(|p| p.id.as_str()).collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 5, "without replacement: {ids:?}");
    let c = spot_check(&pop, period(), 5, 20_260_402);
    assert_ne!(a.picks, c.picks);
    // Pinned: the same seed gives the same sample in every build and on every machine.
    assert_eq!(ids, ["s014", "s038", "s004", "s010", "s026"]);
}

#[test]
fn the_sample_never_exceeds_the_period() {
    let mut pop = population(3);
    pop.push(clean("late", "ZFY0001", "3201001", "2026-04-01T00:00:00"));
    let s = spot_check(&pop, period(), 10, 7);
    assert_eq!((s.population, s.picks.len(), s.requested), (3, 3, 10));
    assert!(s.picks.iter().all(|p| p.id != "late"));
    assert!(spot_check(&[], period(), 3, 7).picks.is_empty());
}

#[test]
fn every_recording_can_be_drawn() {
    let pop = population(10);
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..200 {
        for p in spot_check(&pop, period(), 1, seed).picks {
            seen.insert(p.id);
        }
    }
    assert_eq!(seen.len(), 10);
}

#[test]
fn sample_renderers_carry_the_seed_and_method() {
    let s = spot_check(&population(12), period(), 3, u64::MAX);
    let v: serde_json::Value = serde_json::from_str(&render::sample_json(&s)).unwrap();
    assert_eq!(v["format"], "evidock-spot-check/1");
    assert_eq!(v["seed"], u64::MAX.to_string());
    assert_eq!(v["picks"].as_array().unwrap().len(), 3);
    assert_eq!(v["picks"][0]["cases"][0], CASE1);
    let rows = parse_csv(&render::sample_csv(&s, Bom::Without));
    assert_eq!(rows.len(), 1 + 3 + 1);
    assert!(rows.iter().all(|r| r.len() == 7));
    assert_eq!(rows[4][0], format!("种子 seed={}", u64::MAX));
    assert!(render::sample_table(&s).contains(&u64::MAX.to_string()));
    let html = render::sample_html(&s);
    assert!(html.contains("抽查样本") && html.contains(&u64::MAX.to_string()));
}

fn build_with(w: &World, exemptions: &[ExemptionFacts], unreviewed: &[UnreviewedFacts]) -> Report {
    build(&Input {
        period: period(),
        now: w.now,
        recordings: &w.recordings,
        devices: &w.devices,
        windows: &w.windows,
        officer_names: &w.names,
        calendar: &w.calendar,
        rules: &w.rules,
        duty: &w.duty,
        exemptions,
        unreviewed,
    })
}

/// S1 §8 (经现场负责人或办案部门领导同意，可以不予同步录音录像): missing footage an approved
/// exemption of a handling officer covers entirely is listed as exempted, not as a finding;
/// an exemption that covers only part of it, or another officer's, leaves the finding.
#[test]
fn missing_footage_an_approved_exemption_covers_is_exempted_not_a_finding() {
    let mut w = world();
    w.windows.push(CaseWindow {
        case: "宜卫罚〔2026〕4号".into(),
        officers: vec!["3201001".into()],
        from: t("2026-03-06T14:00:00"),
        to: t("2026-03-06T15:30:00"),
    });
    w.windows.push(CaseWindow {
        case: "宜卫罚〔2026〕5号".into(),
        officers: vec!["3201001".into()],
        from: t("2026-03-12T09:00:00"),
        to: t("2026-03-12T10:00:00"),
    });
    let ex = |id, officer: &str, from, to| ExemptionFacts {
        id,
        officer: officer.into(),
        from: t(from),
        to: t(to),
        reason: "涉及未成年人，现场负责人同意不予录像".into(),
    };
    let none = build_with(&w, &[], &[]);
    assert_eq!(none.findings.iter().map(|f| f.kind).collect::<Vec<_>>(), [Kind::NoFootage, Kind::PartialFootage]);
    // Exemption 1 covers both parts of the first window s2 leaves bare; exemption 2 is another
    // officer's; exemption 3 covers only half of the second window.
    let r = build_with(
        &w,
        &[
            ex(1, "3201001", "2026-03-06T13:00:00", "2026-03-06T16:00:00"),
            ex(2, "3209999", "2026-03-12T08:00:00", "2026-03-12T11:00:00"),
            ex(3, "3201001", "2026-03-12T09:00:00", "2026-03-12T09:30:00"),
        ],
        &[],
    );
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    assert_eq!((r.findings[0].kind, r.findings[0].case.as_deref()), (Kind::NoFootage, Some("宜卫罚〔2026〕5号")));
    assert_eq!(r.exempted.len(), 1, "{:?}", r.exempted);
    assert_eq!(r.exempted[0].exemptions, [1]);
    assert_eq!(r.exempted[0].finding.kind, Kind::PartialFootage);
    assert_eq!(r.by_officer.iter().map(|t| t.count(Kind::PartialFootage)).sum::<usize>(), 0, "not tallied");
}

/// S2 §18 (报本机构主要负责人审核后，一并存档): an explanation awaiting the head's review is
/// a finding (R6) of its recording.
#[test]
fn an_explanation_awaiting_review_is_a_finding() {
    let w = world();
    let id = w.recordings[0].id.clone();
    let r = build_with(&w, &[], &[UnreviewedFacts { gap: 7, recording: id.clone(), author: "3201001".into() }]);
    let found: Vec<_> = r.findings.iter().filter(|f| f.kind == Kind::UnreviewedExplanation).collect();
    assert_eq!(found.len(), 1, "{:?}", r.findings);
    assert_eq!((found[0].recording.as_deref(), found[0].kind.rule()), (Some(id.as_str()), "R6"));
    assert!(found[0].detail_zh.contains("未经本机构主要负责人审核"), "{}", found[0].detail_zh);
    let outside = build_with(&w, &[], &[UnreviewedFacts { gap: 8, recording: "X/none".into(), author: "1".into() }]);
    assert!(!outside.findings.iter().any(|f| f.kind == Kind::UnreviewedExplanation), "not a recording of the period");
}

/// S1 §8: a shift without footage (R14) that an approved exemption of its officer covers
/// entirely is exempted; the same shift without the exemption is a finding.
#[test]
fn a_shift_without_footage_an_exemption_covers_is_exempted() {
    let mut w = world();
    w.duty = vec![crate::duty::Line {
        kind: "no_footage",
        binding: 4,
        serial: "ZFY0001".into(),
        officer: "3201001".into(),
        recording: None,
        shift: Some((t("2026-03-13T08:00:00"), t("2026-03-13T12:00:00"))),
        text: "shift without footage".into(),
        text_zh: "执勤无任何录像".into(),
    }];
    let plain = build_with(&w, &[], &[]);
    assert!(plain.findings.iter().any(|f| f.kind == Kind::ShiftWithoutFootage));
    let ex = ExemptionFacts {
        id: 9,
        officer: "3201001".into(),
        from: t("2026-03-13T07:30:00"),
        to: t("2026-03-13T12:30:00"),
        reason: "取证需要，办案部门负责人同意".into(),
    };
    let r = build_with(&w, &[ex], &[]);
    assert!(!r.findings.iter().any(|f| f.kind == Kind::ShiftWithoutFootage), "{:?}", r.findings);
    assert_eq!(r.exempted.len(), 1);
    assert_eq!(
        (r.exempted[0].finding.kind, r.exempted[0].exemptions.as_slice()),
        (Kind::ShiftWithoutFootage, &[9][..])
    );
}
