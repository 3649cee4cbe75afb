use super::*;
use chrono::TimeZone;

const TZ: Tz = chrono_tz::Asia::Shanghai;

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    TZ.from_local_datetime(&t(s)).single().unwrap().with_timezone(&Utc)
}

fn thresholds() -> Thresholds {
    Thresholds {
        min_battery_percent: 50,
        min_free_bytes: 4 << 30,
        max_drift_s: 30,
        max_reading_age: TimeDelta::hours(24),
    }
}

fn reading() -> Reading {
    Reading {
        docking: 7,
        at: utc("2026-03-02T07:30:00"),
        battery: Some(90),
        free_bytes: Some(20 << 30),
        drift_s: Some(2),
    }
}

fn states(h: &Health) -> Vec<(&'static str, State)> {
    h.items.iter().map(|i| (i.what, i.state)).collect()
}

/// S0 §14, S3 §7: battery, storage and clock are checked before duty, each against its
/// threshold.
#[test]
fn a_healthy_recorder_passes_and_each_threshold_is_judged_on_its_own() {
    let now = utc("2026-03-02T08:00:00");
    let h = judge(Some(&reading()), &thresholds(), now);
    assert!(!h.below(), "{h:?}");
    assert_eq!(
        states(&h),
        [("reading", State::Ok), ("battery", State::Ok), ("storage", State::Ok), ("clock", State::Ok)]
    );
    let low = Reading { battery: Some(49), ..reading() };
    let h = judge(Some(&low), &thresholds(), now);
    assert_eq!(states(&h)[1], ("battery", State::Below));
    assert!(h.items[1].text_zh.contains("49%"), "{:?}", h.items[1]);
    let full = Reading { free_bytes: Some(1 << 30), ..reading() };
    assert_eq!(states(&judge(Some(&full), &thresholds(), now))[2], ("storage", State::Below));
    let drift = Reading { drift_s: Some(-31), ..reading() };
    assert_eq!(states(&judge(Some(&drift), &thresholds(), now))[3], ("clock", State::Below));
    let stale = judge(Some(&reading()), &thresholds(), utc("2026-03-03T07:31:00"));
    assert_eq!(states(&stale)[0], ("reading", State::Below));
}

/// A plain disk reports no battery, no free space, no clock: each is said to be unknown,
/// never invented, and does not by itself refuse the recorder.
#[test]
fn what_a_recorder_cannot_tell_is_unknown_not_invented() {
    let disk = Reading { battery: None, free_bytes: None, drift_s: None, ..reading() };
    let h = judge(Some(&disk), &thresholds(), utc("2026-03-02T08:00:00"));
    assert!(!h.below());
    assert_eq!(states(&h)[1..], [("battery", State::Unknown), ("storage", State::Unknown), ("clock", State::Unknown)]);
    let j = h.json();
    assert!(j["battery_percent"].is_null() && j["free_bytes"].is_null(), "{j}");
    let never = judge(None, &thresholds(), utc("2026-03-02T08:00:00"));
    assert!(never.below(), "a recorder never read is not vouched for");
}

/// S1 §16: 每个工作日结束时收回. Out before the day's end: due that evening; out after it: due
/// the next evening.
#[test]
fn a_recorder_is_due_back_at_the_end_of_its_working_day() {
    let end = NaiveTime::from_hms_opt(18, 0, 0).unwrap();
    assert_eq!(due(utc("2026-03-02T08:00:00"), end, TZ), utc("2026-03-02T18:00:00"));
    assert_eq!(due(utc("2026-03-02T19:00:00"), end, TZ), utc("2026-03-03T18:00:00"));
}

fn binding(id: i64, out: &str, back: Option<&str>) -> Binding {
    Binding {
        id,
        serial: "J800001".into(),
        officer: "012345".into(),
        officer_name: None,
        shift: Some("day".into()),
        out_at: utc(out),
        returned: back.map(|b| (utc(b), 100 + id)),
        warned: false,
    }
}

fn recording(id: &str, start: &str, end: &str) -> RecordingFacts {
    RecordingFacts {
        id: id.into(),
        device: "J800001".into(),
        officer: Some("099999".into()),
        officer_name: None,
        start: t(start),
        end: t(end),
        returned: None,
        extended_until: None,
        ingested_at: utc("2026-03-04T09:00:00"),
        unexplained_gaps: 0,
        drift_s: None,
        chain: Vec::new(),
        cases: Vec::new(),
        flags: Vec::new(),
        files: Vec::new(),
    }
}

/// The report names recorders not returned or returned late, shifts without footage, and
/// the binding in force at each recording.
#[test]
fn the_duty_report_names_late_and_missing_returns_empty_shifts_and_each_recordings_binding() {
    let bindings = [
        binding(1, "2026-03-02T08:00:00", Some("2026-03-02T17:00:00")),
        binding(2, "2026-03-03T08:00:00", Some("2026-03-03T20:00:00")),
        Binding { serial: "J800002".into(), ..binding(3, "2026-03-03T08:30:00", None) },
    ];
    let recs = [recording("J800001/A", "2026-03-02T09:00:00", "2026-03-02T09:30:00")];
    let (from, to) = (t("2026-03-02T00:00:00"), t("2026-03-05T00:00:00"));
    let end = NaiveTime::from_hms_opt(18, 0, 0).unwrap();
    let lines = report(&bindings, &recs, from, to, end, TZ, utc("2026-03-04T08:00:00"));
    let kinds: Vec<(&str, i64)> = lines.iter().map(|l| (l.kind, l.binding)).collect();
    assert_eq!(kinds, [("returned_late", 2), ("no_footage", 2), ("not_returned", 3), ("recording", 1)]);
    assert!(lines[3].text.contains("binding #1"), "{:?}", lines[3]);
    // Before the end of its day, a recorder still out is not yet overdue.
    let early = report(&bindings, &recs, from, to, end, TZ, utc("2026-03-03T17:59:00"));
    assert!(!early.iter().any(|l| l.kind == "not_returned"), "{early:?}");
}

/// R3: the binding's officer owns the recording, the officer's return counts the
/// after-return deadline, and only an approved extension moves the handover deadline.
#[test]
fn apply_gives_each_recording_its_officer_on_duty_return_and_approved_extension() {
    let bindings = [binding(1, "2026-03-02T08:00:00", Some("2026-03-05T10:00:00"))];
    let mut recs = vec![
        recording("J800001/A", "2026-03-02T09:00:00", "2026-03-02T09:30:00"),
        recording("J800001/B", "2026-03-01T09:00:00", "2026-03-01T09:30:00"),
    ];
    let returns = [
        Return { officer: "012345".into(), at: t("2026-03-01T08:00:00") },
        Return { officer: "012345".into(), at: t("2026-03-04T18:00:00") },
        Return { officer: "012345".into(), at: t("2026-03-05T18:00:00") },
    ];
    let ext = [
        Extension { id: 1, binding: 1, until: utc("2026-03-09T18:00:00"), approved_by: None },
        Extension { id: 2, binding: 1, until: utc("2026-03-06T18:00:00"), approved_by: Some("head".into()) },
    ];
    apply(&mut recs, &bindings, &returns, &ext, TZ);
    assert_eq!(recs[0].officer.as_deref(), Some("012345"));
    assert_eq!(recs[0].returned, Some(t("2026-03-04T18:00:00")), "the first return after the work");
    assert_eq!(recs[0].extended_until, Some(utc("2026-03-06T18:00:00")), "the pending one moves nothing");
    assert_eq!(recs[1].officer.as_deref(), Some("099999"), "no binding then: the registry's officer stays");
    assert_eq!(recs[1].extended_until, None);
}

#[test]
fn duty_configuration_names_its_keys() {
    let shown = Path::new("/etc/evidock/evidock.toml");
    let d = resolve(DutyFile::default(), shown).unwrap();
    assert_eq!(d.below, Below::Refuse);
    assert_eq!(d.day_end, NaiveTime::from_hms_opt(18, 0, 0).unwrap());
    let e = resolve(DutyFile { below: Some("maybe".into()), ..DutyFile::default() }, shown).unwrap_err();
    assert_eq!(e.to_string(), "/etc/evidock/evidock.toml: duty.below = \"maybe\": must be \"refuse\" or \"warn\"");
    let e = resolve(DutyFile { day_end: Some("6pm".into()), ..DutyFile::default() }, shown).unwrap_err();
    assert!(e.to_string().contains("duty.day_end"), "{e}");
    let e = resolve(DutyFile { min_battery_percent: Some(101), ..DutyFile::default() }, shown).unwrap_err();
    assert!(e.to_string().contains("duty.min_battery_percent = 101"), "{e}");
}

/// INV-7: the duty core is pure.
#[test]
fn duty_module_is_pure() {
    crate::custody::chain::tests::assert_pure(include_str!("mod.rs"));
}

#[test]
fn a_recorder_is_due_back_at_the_end_of_its_day_or_at_its_latest_approved_extension() {
    let end = NaiveTime::from_hms_opt(18, 0, 0).unwrap();
    let b = binding(1, "2026-03-02T08:00:00", None);
    let ext = |id: i64, binding: i64, until: &str, approved: bool| Extension {
        id,
        binding,
        until: utc(until),
        approved_by: approved.then(|| "uid:65534".to_string()),
    };
    assert_eq!(due_back(&b, &[], end, TZ), utc("2026-03-02T18:00:00"));
    let exts = [
        ext(1, 1, "2026-03-03T12:00:00", true),
        ext(2, 1, "2026-03-05T12:00:00", false),
        ext(3, 2, "2026-03-06T12:00:00", true),
        ext(4, 1, "2026-03-02T09:00:00", true),
    ];
    // The pending one, another binding's and an earlier one move nothing.
    assert_eq!(due_back(&b, &exts, end, TZ), utc("2026-03-03T12:00:00"));
}
