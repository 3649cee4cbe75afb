//! The per-bureau profiles (`config/profiles/<seed>.toml`): each seed's handover deadlines and
//! keep period on the same recordings. One recording ended Friday 2026-03-06 10:10 and was
//! stored long after (late under every rule: the report names the deadline it missed); the
//! officer's return from remote work is then recorded for Monday 2026-03-09 17:00 (the
//! after-return rule, S2 §22, S3 §26, S4 §22); another recording, of yesterday, shows the keep
//! period (S0 §16, S2 §22, S3 §27: 3 or 6 months).

use serde_json::Value;

use crate::support::{ok, text, Station};

struct Expect {
    profile: &'static str,
    /// The late-ingest finding before the return is recorded.
    deadline: &'static str,
    /// After it.
    after_return: &'static str,
    /// Kept 3 months (else 6).
    three_months: bool,
}

fn run(e: &Expect) {
    let profile = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/profiles").join(format!("{}.toml", e.profile)),
    )
    .unwrap();
    // Every key cites its article: the comment lines right above it name a § or a 第…条.
    let lines: Vec<&str> = profile.lines().collect();
    for (i, line) in lines.iter().enumerate().filter(|(_, l)| !l.starts_with('#') && l.contains(" = ")) {
        let above: Vec<&str> =
            lines[..i].iter().rev().take_while(|l| !l.trim().is_empty() && !l.starts_with('[')).copied().collect();
        assert!(
            above.iter().any(|l| l.starts_with('#') && (l.contains('§') || l.contains('条'))),
            "{}: {line} cites no article",
            e.profile
        );
    }
    let st = Station::new();
    std::fs::write(&st.config, std::fs::read_to_string(&st.config).unwrap() + &profile).unwrap();
    for (serial, start) in [("J800010", Some("2026-03-06T10:00:00")), ("J800011", None)] {
        st.register(serial);
        let mut args = vec!["--serial", serial, "--segments", "1", "--segment-bytes", "4096"];
        if let Some(s) = start {
            args.extend(["--start", s]);
        }
        let (vol, _) = st.sim(serial, &args);
        let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    }
    let late = || -> String {
        let doc: Value = serde_json::from_str(&ok(st.evidock(&[
            "report",
            "compliance",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            "--format",
            "json",
        ])))
        .unwrap();
        let found: Vec<&Value> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "late-ingest" && f["device"] == "J800010")
            .collect();
        assert_eq!(found.len(), 1, "{}: {doc:#}", e.profile);
        found[0]["detail"].as_str().unwrap().to_string()
    };
    let before = late();
    assert!(before.contains(e.deadline), "{}: {before}", e.profile);
    ok(st.evidock(&["duty", "return", "012345", "--at", "2026-03-09T17:00:00"]));
    let after = late();
    assert!(after.contains(e.after_return), "{}: {after}", e.profile);

    let due: Vec<Value> = ok(st.evidock(&["retention", "due", "--within-days", "120", "--json"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|d: &Value| d["device"] == "J800011")
        .collect();
    assert_eq!(!due.is_empty(), e.three_months, "{}: {due:?}", e.profile);
}

/// S0 (宜良) §16: 6 months; no handover deadline of its own, so the strictest common one.
#[test]
fn yiliang_keeps_six_months_and_stores_the_same_day() {
    run(&Expect {
        profile: "yiliang-health-bureau-whole-process-recording",
        deadline: "deadline (same-day) 2026-03-07 00:00",
        after_return: "deadline (24h) 2026-03-10 17:00",
        three_months: false,
    });
}

/// S1 (内丘) §16: within 24 hours of the work ending.
#[test]
fn neiqiu_stores_within_24_hours() {
    run(&Expect {
        profile: "neiqiu-health-bureau-recorder-device-rules",
        deadline: "deadline (24h) 2026-03-07 10:10",
        after_return: "deadline (24h) 2026-03-10 17:00",
        three_months: false,
    });
}

/// S2 (晋城) §22: 2 working days, and 2 working days after the return; 6 months.
#[test]
fn jincheng_stores_within_two_working_days_also_after_return() {
    run(&Expect {
        profile: "jincheng-health-commission-whole-process-recording-2024",
        deadline: "deadline (2wd) 2026-03-11 00:00",
        after_return: "deadline (2wd) 2026-03-12 00:00",
        three_months: false,
    });
}

/// S3 (东西湖) §26: 2 working days, 1 working day after the return (here no later than the
/// first); §27: 3 months.
#[test]
fn dongxihu_keeps_three_months_and_stores_within_two_working_days() {
    run(&Expect {
        profile: "wuhan-dongxihu-medical-insurance-whole-process-recording-2019",
        deadline: "deadline (2wd) 2026-03-11 00:00",
        after_return: "deadline (2wd) 2026-03-11 00:00",
        three_months: true,
    });
}

/// S4 (省办法) §22: the same day; 24 hours after the return.
#[test]
fn provincial_stores_the_same_day_and_24_hours_after_return() {
    run(&Expect {
        profile: "provincial-whole-process-recording-measures",
        deadline: "deadline (same-day) 2026-03-07 00:00",
        after_return: "deadline (24h) 2026-03-10 17:00",
        three_months: false,
    });
}
