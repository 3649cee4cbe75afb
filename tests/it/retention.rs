//! Retention (R7): deadlines from the corrected end time, long-term flags and holds that
//! refuse a purge, approval by someone other than the requester, a grace period, and a
//! tombstone for what was deleted.

use crate::support::Station;

use crate::support::ok;

/// The retention clock moved on (test-only failpoint): the keep period counts from storage,
/// and this footage was stored today, so it is looked at 400 days on.
const CLOCK: (&str, &str) = ("EVIDOCK_RETENTION_CLOCK_DAYS", "400");

/// `evidock` with the retention clock moved on ([`CLOCK`]).
pub(crate) trait Later {
    fn later(&self, args: &[&str]) -> std::process::Output;
}

impl Later for Station {
    fn later(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(crate::support::bin())
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env(CLOCK.0, CLOCK.1)
            .output()
            .unwrap()
    }
}

fn err(o: std::process::Output) -> String {
    assert_eq!(o.status.code(), Some(2), "{}", crate::support::text(&o));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs the command as the unprivileged user `nobody` (another person at the station).
fn as_nobody(st: &Station, args: &[&str]) -> std::process::Output {
    std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", crate::support::bin(), "--config"])
        .env(CLOCK.0, CLOCK.1)
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
    let due = ok(st.later(&["retention", "due", "--within-days", "0", "--json"]));
    let recs: Vec<serde_json::Value> = due.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(recs.len(), 3, "{due}");
    assert!(recs.iter().all(|r| r["overdue"] == true && r["class"] == "standard"));
    let id = |i: usize| recs[i]["recording"].as_str().unwrap().to_string();
    let (plain, flagged, held) = (id(0), id(1), id(2));
    // Recorded in January 2024 but stored today: the deadline counts from storage, six months
    // on (R7, S3 §27), never from the recording's end.
    let stored = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let six = stored.checked_add_months(chrono::Months::new(6)).unwrap().format("%Y-%m-%d").to_string();
    assert!(recs[0]["deadline"].as_str().unwrap().starts_with(&six), "{six}: {due}");

    ok(st.evidock(&[
        "retention",
        "flag",
        &flagged,
        "--trigger",
        "evidence",
        "--reason",
        "used as evidence in 宜卫罚〔2024〕12号",
    ]));
    ok(st.later(&["retention", "hold", &held, "--id", "法院调取-2024-7", "--reason", "court request"]));
    assert!(err(st.later(&["retention", "purge", "request", &flagged, "--reason", "expired"])).contains("refused"));
    assert!(err(st.later(&["retention", "purge", "request", &held, "--reason", "expired"])).contains("refused"));
    let flag_reason = err(st.later(&["retention", "flag", &plain, "--trigger", "evidence", "--reason", " "]));
    assert!(!flag_reason.is_empty(), "a flag needs a reason");

    ok(st.later(&["retention", "purge", "request", &plain, "--reason", "past its six months, not evidence"]));
    assert!(err(st.later(&["retention", "purge", "approve", "1"])).contains("refused"), "no self-approval");
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
    ok(st.later(&["retention", "purge", "run"]));
    assert_eq!(st.archived_footage().len(), before - 2, "the two files of one recording deleted");
    let tomb: String = st.db().query_row("SELECT body FROM tombstones", [], |r| r.get(0)).unwrap();
    assert!(tomb.contains("\"approved_by\":\"nobody\"") && tomb.contains("blake3"), "{tomb}");
    assert!(st.actions().contains(&"purge_executed".to_string()));
    // The purged recording is gone; the held one is still due (and held); the flagged one is
    // now kept permanently and never due.
    let due = ok(st.later(&["retention", "due", "--within-days", "0", "--json"]));
    let left: Vec<serde_json::Value> = due.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(left.len(), 1, "{due}");
    assert_eq!((left[0]["recording"].as_str().unwrap(), left[0]["held"].as_bool()), (held.as_str(), Some(true)));
    let show = ok(st.later(&["retention", "show", &flagged]));
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

// ---------------------------------------------------------------------------------------------
// The purge trusts the custody log over the catalogue (INV-11, INV-16): the superuser or the
// service's user can edit the catalogue's rows, not the verified log.

/// A station with `sessions` recordings of January 2024 (long past six months), no grace.
fn old_footage(sessions: &str) -> (Station, Vec<String>) {
    let st = Station::with_ingest("");
    std::fs::write(
        &st.config,
        std::fs::read_to_string(&st.config).unwrap() + "[retention]\nstandard_months = 6\npurge_grace_days = 0\n",
    )
    .unwrap();
    st.register("J800001");
    let (vol, _) = st.sim(
        "OLD",
        &[
            "--serial",
            "J800001",
            "--sessions",
            sessions,
            "--segments",
            "2",
            "--segment-bytes",
            "5000",
            "--start",
            "2024-01-10T09:00:00",
        ],
    );
    ok(st.evidock(&["ingest", vol.to_str().unwrap()]));
    let due = ok(st.later(&["retention", "due", "--within-days", "0", "--json"]));
    let ids: Vec<String> = due
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["recording"].as_str().unwrap().to_string())
        .collect();
    (st, ids)
}

/// A writable connection to the catalogue, as the superuser holding the file has it.
fn catalogue_for_editing(st: &Station) -> rusqlite::Connection {
    rusqlite::Connection::open(st.path("state/catalog.sqlite")).unwrap()
}

/// Approves purge request `id` as `nobody`, another person at the station.
fn approve_as_nobody(st: &Station, id: &str) {
    for p in [st.dir.path().to_path_buf(), st.path("state")] {
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    }
    for f in std::fs::read_dir(st.path("state")).unwrap().flatten() {
        std::fs::set_permissions(f.path(), std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    }
    let o = as_nobody(st, &["retention", "purge", "approve", id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn mismatches(st: &Station) -> Vec<serde_json::Value> {
    let db = st.db();
    let mut q = db
        .prepare("SELECT subject, details FROM custody_log WHERE action = 'catalogue_mismatch' ORDER BY seq")
        .unwrap();
    q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(|r| {
            let (subject, details) = r.unwrap();
            let mut v: serde_json::Value = serde_json::from_str(&details).unwrap();
            v["subject"] = subject.into();
            v
        })
        .collect()
}

/// Every open alarm of kind `catalogue`, by subject, from `status --json`.
fn catalogue_alarms(st: &Station) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_str(&ok(st.evidock(&["status", "--json"]))).unwrap();
    let mut v: Vec<String> = doc["alarms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["kind"] == "catalogue")
        .map(|a| a["subject"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn a_hold_deleted_from_the_catalogue_still_stops_a_two_person_purge() {
    let (st, recs) = old_footage("3");
    let (held, moved, later) = (&recs[0], &recs[1], &recs[2]);
    let before = st.archived_footage();
    let db = catalogue_for_editing(&st);

    // A hold placed, then its row deleted from the catalogue.
    ok(st.later(&["retention", "hold", held, "--id", "法院调取-1", "--reason", "court request"]));
    db.execute("DELETE FROM holds WHERE recording = ?1", [held]).unwrap();
    let e = err(st.later(&["retention", "purge", "request", held, "--reason", "expired"]));
    assert!(e.contains("legal hold 法院调取-1") && e.contains("missing from the catalogue"), "{e}");
    assert!(e.contains("目录与保管日志不符") && e.contains("未执行删除"), "{e}");

    // A hold moved, in the catalogue alone, onto a recording that does not exist.
    ok(st.later(&["retention", "hold", moved, "--id", "复议-2", "--reason", "review"]));
    db.execute("UPDATE holds SET recording = 'J800001/none' WHERE hold = '复议-2'", []).unwrap();
    let e = err(st.later(&["retention", "purge", "request", moved, "--reason", "expired"]));
    assert!(e.contains("legal hold 复议-2"), "{e}");

    // A hold placed after the approval, then deleted before the purge runs.
    ok(st.later(&["retention", "purge", "request", later, "--reason", "expired"]));
    approve_as_nobody(&st, "1");
    ok(st.later(&["retention", "hold", later, "--id", "检察-3", "--reason", "procuratorate"]));
    db.execute("DELETE FROM holds WHERE hold = '检察-3'", []).unwrap();
    let o = st.later(&["retention", "purge", "run"]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stdout));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("purge #1") && e.contains("legal hold 检察-3"), "{e}");

    assert_eq!(st.archived_footage(), before, "nothing deleted");
    let found = mismatches(&st);
    let subjects: Vec<&str> = found.iter().map(|m| m["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects, [format!("recording:{held}"), format!("recording:{moved}"), format!("recording:{later}")]);
    assert!(found.iter().all(|m| m["findings"][0]["what"] == "hold"), "{found:?}");
    assert_eq!(found[2]["what"], "retention purge run");
    let mut expected: Vec<String> = [held, moved, later].iter().map(|r| format!("recording:{r}")).collect();
    expected.sort();
    assert_eq!(catalogue_alarms(&st), expected);
    let status = ok(st.evidock(&["status"]));
    assert!(status.contains("ALARM 警报: 3 open") && status.contains("法院调取-1"), "{status}");
    st.assert_log_verifies();

    // Put back as the log says, the hold is in force again and the purge refused for it alone;
    // the alarm about that recording clears.
    db.execute(
        "INSERT INTO holds (id, recording, hold, reason, set_by, set_at)
         SELECT json_extract(details, '$.row'), ?1, '检察-3', 'procuratorate', 'root', '2024-08-01T00:00:00+00:00'
         FROM custody_log WHERE action = 'hold_placed' AND json_extract(details, '$.hold') = '检察-3'",
        [later],
    )
    .unwrap();
    let o = st.later(&["retention", "purge", "run"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("under legal hold 检察-3") && !e.contains("目录与保管日志不符"), "{e}");
    assert!(!catalogue_alarms(&st).contains(&format!("recording:{later}")));
    assert_eq!(st.archived_footage(), before);
}

#[test]
fn a_removed_flag_an_edited_deadline_a_forged_approval_a_swapped_file_and_a_lost_filing_are_refused() {
    let (st, recs) = old_footage("5");
    let (flagged, forged, swapped, filed, kept) = (&recs[0], &recs[1], &recs[2], &recs[3], &recs[4]);
    // Recent footage, kept until next year: one recording whose deadline was recorded, one
    // whose deadline was never recorded before its times were edited.
    st.register("J800002");
    let (vol, _) =
        st.sim("NEW", &["--serial", "J800002", "--sessions", "2", "--segments", "2", "--segment-bytes", "5000"]);
    ok(st.evidock(&["ingest", vol.to_str().unwrap()]));
    let db = catalogue_for_editing(&st);
    let sessions: Vec<String> = db
        .prepare("SELECT DISTINCT session FROM segments WHERE serial = 'J800002' ORDER BY session")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let (recorded, unrecorded) = (format!("J800002/{}", sessions[0]), format!("J800002/{}", sessions[1]));
    let back_to_2020 = |rec: &str| {
        let (serial, session) = rec.split_once('/').unwrap();
        db.execute(
            "UPDATE segments SET start_corrected = '2020' || substr(start_corrected, 5), end_corrected = '2020' || substr(end_corrected, 5)
             WHERE serial = ?1 AND session = ?2",
            [serial, session],
        )
        .unwrap();
        // The storage time too: the keep period counts from it (INV-22).
        db.execute(
            "UPDATE files SET stored = '2020' || substr(stored, 5)
             WHERE id IN (SELECT file_id FROM segments WHERE serial = ?1 AND session = ?2)",
            [serial, session],
        )
        .unwrap();
        db.execute("UPDATE deadlines SET deadline = '2020-07-01T00:00:00+00:00' WHERE recording = ?1", [rec]).unwrap();
    };
    // Never recorded: the times edited before any deadline was computed.
    back_to_2020(&unrecorded);
    let e = err(st.evidock(&["retention", "purge", "request", &unrecorded, "--reason", "expired"]));
    assert!(e.contains("deadline") && e.contains("earlier than the custody log's"), "{e}");
    // Recorded (by the command above), then the row and the times edited.
    back_to_2020(&recorded);
    let e = err(st.evidock(&["retention", "purge", "request", &recorded, "--reason", "expired"]));
    assert!(e.contains("earlier than the custody log's") && e.contains("保存期限"), "{e}");

    // A long-term flag withdrawn in the catalogue alone.
    ok(st.later(&["retention", "flag", flagged, "--trigger", "evidence", "--reason", "证据"]));
    db.execute(
        "UPDATE retention_flags SET withdrawn_by = 'root', withdrawn_at = '2024-02-01T00:00:00+00:00', withdraw_why = 'x'",
        [],
    )
    .unwrap();
    // The permanent deadline the flag gave is edited back too, as someone who knows would.
    db.execute("UPDATE deadlines SET deadline = '2024-07-01T00:00:00+00:00' WHERE recording = ?1", [flagged]).unwrap();
    let e = err(st.later(&["retention", "purge", "request", flagged, "--reason", "expired"]));
    assert!(e.contains("long-term flag evidence") && e.contains("withdrawn"), "{e}");

    // Footage filed into a case, its filing row deleted.
    ok(st.evidock(&["case", "create", "宜卫罚〔2024〕12号", "--officer", "012345"]));
    ok(st.evidock(&["case", "assign", "宜卫罚〔2024〕12号", "--session", filed]));
    db.execute("DELETE FROM case_files", []).unwrap();
    let e = err(st.later(&["retention", "purge", "request", filed, "--reason", "expired"]));
    assert!(e.contains("filed its footage into case 宜卫罚〔2024〕12号"), "{e}");

    // An approval forged into the catalogue: the log holds the request, not the approval.
    ok(st.later(&["retention", "purge", "request", forged, "--reason", "expired"]));
    db.execute(
        "UPDATE purges SET state = 'grace', approved_by = 'nobody', approved_at = '2024-08-01T00:00:00+00:00',
         grace_until = '2024-08-01T00:00:00+00:00' WHERE recording = ?1",
        [forged],
    )
    .unwrap();

    // A properly approved purge whose file row is pointed at footage kept long-term.
    ok(st.later(&["retention", "purge", "request", swapped, "--reason", "expired"]));
    approve_as_nobody(&st, "2");
    ok(st.later(&["retention", "flag", kept, "--trigger", "dispute", "--reason", "投诉"]));
    let file_of = |rec: &str| -> (i64, String) {
        let (serial, session) = rec.split_once('/').unwrap();
        db.query_row(
            "SELECT f.id, f.archive_path FROM files f JOIN segments s ON s.file_id = f.id
             WHERE s.serial = ?1 AND s.session = ?2 ORDER BY f.id LIMIT 1",
            [serial, session],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let ((mine, my_path), (theirs, their_path)) = (file_of(swapped), file_of(kept));
    db.execute("UPDATE files SET archive_path = 'x' WHERE id = ?1", [theirs]).unwrap();
    db.execute("UPDATE files SET archive_path = ?2 WHERE id = ?1", rusqlite::params![mine, their_path]).unwrap();
    db.execute("UPDATE files SET archive_path = ?2 WHERE id = ?1", rusqlite::params![theirs, my_path]).unwrap();

    let before = st.archived_footage();
    let o = st.later(&["retention", "purge", "run"]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stdout));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("purge #1") && e.contains("the custody log holds no approval"), "{e}");
    assert!(e.contains("purge #2") && e.contains(&format!("file #{mine} is at {their_path} in the catalogue")), "{e}");
    assert_eq!(st.archived_footage(), before, "nothing deleted");
    assert!(st.archive().join(&their_path).exists(), "the long-term footage is still there");

    let kinds: Vec<String> =
        mismatches(&st).iter().map(|m| m["findings"][0]["what"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, ["deadline", "deadline", "flag", "case", "approval", "file"], "{:?}", mismatches(&st));
    assert_eq!(catalogue_alarms(&st).len(), 6);
    st.assert_log_verifies();
}
