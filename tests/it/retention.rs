//! Retention (R7): deadlines from the corrected end time, long-term flags and holds that
//! refuse a purge, approval by someone other than the requester, a grace period, and a
//! tombstone for what was deleted.

use crate::support::Station;

use crate::support::ok;

fn err(o: std::process::Output) -> String {
    assert_eq!(o.status.code(), Some(2), "{}", crate::support::text(&o));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs the command as the unprivileged user `nobody` (another person at the station).
fn as_nobody(st: &Station, args: &[&str]) -> std::process::Output {
    std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", crate::support::bin(), "--config"])
        .arg(&st.config)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn only_due_unflagged_unheld_footage_is_purged_after_approval_and_grace_leaving_a_tombstone() {
    let st = Station::with_ingest("");
    std::fs::write(
        &st.config,
        std::fs::read_to_string(&st.config).unwrap() + "[retention]\nstandard_months = 6\npurge_grace_days = 0\n",
    )
    .unwrap();
    st.register("J800001");
    // Two sessions recorded in January 2024: long past six months.
    let (vol, _) = st.sim(
        "OLD",
        &[
            "--serial",
            "J800001",
            "--sessions",
            "3",
            "--segments",
            "2",
            "--segment-bytes",
            "5000",
            "--start",
            "2024-01-10T09:00:00",
        ],
    );
    ok(st.evidock(&["ingest", vol.to_str().unwrap()]));
    let due = ok(st.evidock(&["retention", "due", "--within-days", "0", "--json"]));
    let recs: Vec<serde_json::Value> = due.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(recs.len(), 3, "{due}");
    assert!(recs.iter().all(|r| r["overdue"] == true && r["class"] == "standard"));
    let id = |i: usize| recs[i]["recording"].as_str().unwrap().to_string();
    let (plain, flagged, held) = (id(0), id(1), id(2));
    // The deadline counts from the corrected end: 2024-01-10 + 6 months.
    assert!(recs[0]["deadline"].as_str().unwrap().starts_with("2024-07-1"), "{due}");

    ok(st.evidock(&[
        "retention",
        "flag",
        &flagged,
        "--trigger",
        "evidence",
        "--reason",
        "used as evidence in 宜卫罚〔2024〕12号",
    ]));
    ok(st.evidock(&["retention", "hold", &held, "--id", "法院调取-2024-7", "--reason", "court request"]));
    assert!(err(st.evidock(&["retention", "purge", "request", &flagged, "--reason", "expired"])).contains("refused"));
    assert!(err(st.evidock(&["retention", "purge", "request", &held, "--reason", "expired"])).contains("refused"));
    let flag_reason = err(st.evidock(&["retention", "flag", &plain, "--trigger", "evidence", "--reason", " "]));
    assert!(!flag_reason.is_empty(), "a flag needs a reason");

    ok(st.evidock(&["retention", "purge", "request", &plain, "--reason", "past its six months, not evidence"]));
    assert!(err(st.evidock(&["retention", "purge", "approve", "1"])).contains("refused"), "no self-approval");
    // Another person approves: let them reach the station's files.
    for p in [st.dir.path().to_path_buf(), st.path("state")] {
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    }
    for f in std::fs::read_dir(st.path("state")).unwrap().flatten() {
        std::fs::set_permissions(f.path(), std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    }
    let o = as_nobody(&st, &["retention", "purge", "approve", "1"]);
    assert!(o.status.success(), "{}", crate::support::text(&o));

    let before = st.archived_footage().len();
    ok(st.evidock(&["retention", "purge", "run"]));
    assert_eq!(st.archived_footage().len(), before - 2, "the two files of one recording deleted");
    let tomb: String = st.db().query_row("SELECT body FROM tombstones", [], |r| r.get(0)).unwrap();
    assert!(tomb.contains("\"approved_by\":\"nobody\"") && tomb.contains("blake3"), "{tomb}");
    assert!(st.actions().contains(&"purge_executed".to_string()));
    // The purged recording is gone; the held one is still due (and held); the flagged one is
    // now kept permanently and never due.
    let due = ok(st.evidock(&["retention", "due", "--within-days", "0", "--json"]));
    let left: Vec<serde_json::Value> = due.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(left.len(), 1, "{due}");
    assert_eq!((left[0]["recording"].as_str().unwrap(), left[0]["held"].as_bool()), (held.as_str(), Some(true)));
    let show = ok(st.evidock(&["retention", "show", &flagged]));
    assert!(show.contains("permanent 永久") && show.contains("long-term 长期保存"), "{show}");
    st.assert_log_verifies();
}

#[test]
fn the_compliance_report_names_breaches_and_the_spot_check_is_reproducible() {
    let st = Station::new();
    // Unregistered recorder, with an unexplained gap.
    let (vol, _) =
        st.sim("C1", &["--serial", "J800002", "--segments", "3", "--segment-bytes", "5000", "--fault", "gap"]);
    let _ = st.evidock(&["ingest", vol.to_str().unwrap()]);
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let (from, to) = ((today - chrono::Duration::days(7)).to_string(), today.to_string());
    let json = ok(st.evidock(&["report", "compliance", "--from", &from, "--to", &to, "--format", "json"]));
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let kinds: Vec<&str> = doc["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"unexplained-gap") && kinds.contains(&"unregistered-device"), "{kinds:?}");
    let html = ok(st.evidock(&["report", "compliance", "--from", &from, "--to", &to, "--format", "html"]));
    assert!(html.contains("<html") && html.contains("J800002"), "{html}");
    let a = ok(st.evidock(&["report", "spot-check", "--sample", "1", "--seed", "42", "--from", &from, "--to", &to]));
    let b = ok(st.evidock(&["report", "spot-check", "--sample", "1", "--seed", "42", "--from", &from, "--to", &to]));
    assert_eq!(a, b, "same seed, same sample");
    assert!(a.contains("42"), "the seed is printed: {a}");
    let logged: i64 =
        st.db().query_row("SELECT COUNT(*) FROM custody_log WHERE action = 'report_made'", [], |r| r.get(0)).unwrap();
    assert_eq!(logged, 4);
}
