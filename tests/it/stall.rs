//! The archive disk stops answering mid-copy (a hung controller, a network file system that
//! stops): a write that never returns. The watchdog names it; the rest of the daemon goes on
//! (INV-8, INV-31; R5).

use crate::support::{b3, files_under, wait_for, Station};

fn count(st: &Station, action: &str) -> i64 {
    st.db().query_row("SELECT COUNT(*) FROM custody_log WHERE action = ?1", [action], |r| r.get(0)).unwrap()
}

#[test]
fn an_archive_write_that_never_returns_raises_the_alarm_and_the_rest_of_the_daemon_goes_on() {
    let mut st = Station::with_ingest("stall_timeout_s = 2");
    st.register("S100001");
    st.register("S100002");
    let (a, _) = st.sim("A", &["--serial", "S100001", "--segments", "3", "--segment-bytes", "50000"]);
    let before = files_under(&a);
    let hashes: Vec<String> = before.iter().map(|p| b3(&a.join(p))).collect();
    let stalled = before
        .iter()
        .filter(|p| p.starts_with("DCIM"))
        .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
        .nth(1)
        .expect("footage on the volume");
    st.start_with(&[("EVIDOCK_STALL_WRITE", stalled.as_str())]);
    st.dock(&a, "A");

    // The watchdog: the bay is stalled in the status, in both languages, not safe to undock.
    let bay = st.wait_bay("A", "the archive disk stall to be named", |b| b["stalled"] == true);
    let message = bay["message"].as_str().unwrap();
    assert!(message.contains("archive disk not responding") && message.contains("存档磁盘无响应"), "{bay:#}");
    assert_eq!(bay["phase"], "copying", "{bay:#}");
    assert_eq!(bay["safe_to_undock"], false, "{bay:#}");
    // Its custody event and the alarm, once.
    wait_for(20, "the archive_stalled event", || (count(&st, "archive_stalled") == 1).then_some(()));
    let (subject, details): (String, String) = st
        .db()
        .query_row("SELECT subject, details FROM custody_log WHERE action = 'archive_stalled'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(subject.starts_with("docking:"), "{subject}");
    let details: serde_json::Value = serde_json::from_str(&details).unwrap();
    assert_eq!(details["serial"], "S100001", "{details}");
    assert_eq!(details["timeout_s"], 2, "{details}");
    assert!(details["idle_s"].as_u64().unwrap() >= 2, "{details}");

    // Another recorder docked meanwhile is archived, verified and wiped.
    let (b, _) = st.sim("B", &["--serial", "S100002", "--segments", "2", "--segment-bytes", "20000"]);
    st.dock(&b, "B");
    let done = st.wait_finished("B");
    assert_eq!(done["wiped"], true, "{done:#}\n{}", st.log());
    assert_eq!(done["safe_to_undock"], true, "{done:#}");

    // The control socket answers `status`: the alarm first, in both languages.
    let o = st.evidock_within(30, &["status"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.contains("ALARM"), "{text}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("archive disk not responding") && text.contains("存档磁盘无响应"), "{text}");

    // The stalled recorder: nothing wiped, every file still on it; the alarm raised once.
    let wiped: Vec<String> = st
        .db()
        .prepare("SELECT subject FROM custody_log WHERE action IN ('segment_wiped', 'recorder_wiped') ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!wiped.is_empty() && wiped.iter().all(|s| s.contains("S100002")), "only B was wiped: {wiped:?}");
    let docked = st.dock_root().join("A");
    for (p, h) in before.iter().zip(&hashes) {
        assert_eq!(&b3(&docked.join(p)), h, "the stalled recorder keeps {}", p.display());
    }
    assert_eq!(count(&st, "archive_stalled"), 1);
    let open: i64 = st
        .db()
        .query_row("SELECT COUNT(*) FROM alarms WHERE kind = 'archive_disk' AND cleared IS NULL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(open, 1);
    st.kill9();
}
