//! The station never signs a fork of its own log (INV-12, R11): a database rolled back to an
//! earlier copy, or that lost its WAL, while the side file holds a later checkpoint; a signing
//! key replaced behind the station's back. Each time: no checkpoint is signed, the alarm is in
//! the journal, in `status` and (once) in the custody log, and ingest goes on.

use std::path::{Path, PathBuf};

use crate::support::{wait_for, Station};

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok(o: std::process::Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A station whose daemon tries to sign a checkpoint every second.
fn station() -> Station {
    let st = Station::new();
    std::fs::write(
        &st.config,
        std::fs::read_to_string(&st.config).unwrap().replace("[daemon]\n", "[daemon]\ncheckpoint_interval_s = 1\n"),
    )
    .unwrap();
    st
}

fn side_notes(st: &Station) -> Vec<String> {
    let text = std::fs::read_to_string(st.path("state/custody-checkpoints.txt")).unwrap_or_default();
    evidock::custody::checkpoint::split_notes(&text)
}

/// Docks a simulated recorder and waits until it is archived and wiped.
fn dock_one(st: &Station, name: &str, serial: &str) {
    let (vol, _) = st.sim(name, &["--serial", serial, "--segments", "2", "--segment-bytes", "5000"]);
    st.dock(&vol, name);
    let bay = st.wait_finished(name);
    assert_eq!(bay["safe_to_undock"], true, "ingest goes on: {bay:#}");
}

/// A consistent copy of the catalogue, as an administrator's backup would be.
fn backup(st: &Station, to: &Path) {
    st.db().execute(&format!("VACUUM INTO '{}'", to.display()), []).unwrap();
}

/// Puts `copy` in the place of the catalogue (no WAL, no shared memory left beside it).
fn restore(st: &Station, copy: &Path) {
    for ext in ["sqlite-wal", "sqlite-shm"] {
        let _ = std::fs::remove_file(st.path("state/catalog.sqlite").with_extension(ext));
    }
    std::fs::copy(copy, st.path("state/catalog.sqlite")).unwrap();
}

/// Every pair of signed notes, proven consistent against `full` (a copy of the log that holds
/// everything the station ever signed): two checkpoints of one station never contradict each
/// other.
fn assert_no_fork(st: &Station, notes: &[String], full: &Path) {
    let dir = st.path("notes");
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<PathBuf> = notes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let p = dir.join(format!("{i}.txt"));
            std::fs::write(&p, n).unwrap();
            p
        })
        .collect();
    let key = st.path("state/custody-signing.pub");
    for pair in files.windows(2) {
        let o = st.evidock(&[
            "log",
            "consistency",
            pair[0].to_str().unwrap(),
            pair[1].to_str().unwrap(),
            "--db",
            full.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{} and {} are not consistent: {}", pair[0].display(), pair[1].display(), text(&o));
    }
}

fn refusals(st: &Station) -> Vec<serde_json::Value> {
    let db = st.db();
    let mut q = db.prepare("SELECT details FROM custody_log WHERE action = 'checkpoint_refused' ORDER BY seq").unwrap();
    q.query_map([], |r| r.get::<_, String>(0)).unwrap().map(|d| serde_json::from_str(&d.unwrap()).unwrap()).collect()
}

/// Waits for the refused checkpoint's alarm and checks that it reaches every place it must:
/// the journal, `status` (text and JSON) and the custody log, once.
fn assert_alarm(st: &Station, kinds: &[&str], words: &str) {
    wait_for(60, "the refused checkpoint in the custody log", || (!refusals(st).is_empty()).then_some(()));
    wait_for(30, "the alarm in the journal", || st.log().contains("ALARM: no custody checkpoint signed").then_some(()));
    // Several attempts later, still one event.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let events = refusals(st);
    assert_eq!(events.len(), 1, "one event per alarm: {events:?}");
    assert!(kinds.contains(&events[0]["kind"].as_str().unwrap()), "{events:?}");
    assert!(events[0]["reason"].as_str().unwrap().contains(words), "{events:?}");
    assert!(!events[0]["reason_zh"].as_str().unwrap().is_empty());
    let status = ok(st.evidock(&["status"]));
    assert!(status.contains("ALARM 警报") && status.contains(words) && status.contains("拒绝签署检查点"), "{status}");
    let json: serde_json::Value = serde_json::from_str(&ok(st.evidock(&["status", "--json"]))).unwrap();
    let alarm = json["alarms"].as_array().unwrap().iter().find(|a| a["kind"] == "checkpoint").cloned();
    let alarm = alarm.unwrap_or_else(|| panic!("no checkpoint alarm in {json:#}"));
    assert!(alarm["times"].as_i64().unwrap() >= 2, "counted, not logged again: {alarm}");
    // Asked for a checkpoint by hand, the station refuses too (exit 1), in both languages.
    let o = st.evidock(&["log", "checkpoint"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("拒绝签署检查点") && text(&o).contains(words), "{}", text(&o));
}

#[test]
fn a_database_rolled_back_to_an_earlier_copy_is_never_signed_over_and_ingest_goes_on() {
    let mut st = station();
    st.start();
    dock_one(&st, "R1", "F600001");
    ok(st.evidock(&["log", "checkpoint"]));
    let early = st.path("early.sqlite");
    backup(&st, &early);
    dock_one(&st, "R2", "F600002");
    ok(st.evidock(&["log", "checkpoint"]));
    assert!(st.stop().success());
    let before = side_notes(&st);
    assert!(before.len() >= 2, "{before:?}");
    let full = st.path("full.sqlite");
    std::fs::copy(st.path("state/catalog.sqlite"), &full).unwrap();

    // The catalogue is put back to the earlier copy; the side file still holds the later
    // checkpoints.
    restore(&st, &early);
    st.start();
    dock_one(&st, "R3", "F600003");
    assert_alarm(&st, &["rolled_back", "forked"], "of the side file");
    dock_one(&st, "R4", "F600004");
    assert!(st.stop().success());

    assert_eq!(side_notes(&st), before, "no checkpoint signed after the rollback");
    let stored: i64 = st.db().query_row("SELECT COUNT(*) FROM custody_checkpoints", [], |r| r.get(0)).unwrap();
    let early_stored: i64 = rusqlite::Connection::open(&early)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM custody_checkpoints", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, early_stored, "no checkpoint stored after the rollback");
    assert_no_fork(&st, &side_notes(&st), &full);
    // The station's own verification names the contradiction.
    assert_eq!(st.evidock(&["log", "verify"]).status.code(), Some(1));
}

#[test]
fn a_database_that_lost_its_wal_is_never_signed_over_and_ingest_goes_on() {
    let mut st = station();
    st.register("F600011");
    st.start();
    dock_one(&st, "W1", "F600011");
    ok(st.evidock(&["log", "checkpoint"]));
    let full = st.path("full.sqlite");
    backup(&st, &full);
    let before = side_notes(&st);
    // A power cut, and the WAL lost with it: what the daemon committed since the last write
    // into the main file is gone.
    st.kill9();
    let wal = st.path("state/catalog.sqlite").with_extension("sqlite-wal");
    assert!(wal.exists(), "the daemon wrote through its WAL");
    std::fs::remove_file(&wal).unwrap();
    let _ = std::fs::remove_file(st.path("state/catalog.sqlite").with_extension("sqlite-shm"));
    let events: i64 = st.db().query_row("SELECT COUNT(*) FROM custody_log", [], |r| r.get(0)).unwrap();
    let signed = evidock::custody::checkpoint::Checkpoint::parse(
        evidock::custody::checkpoint::split_note(before.last().unwrap()).unwrap().0,
    )
    .unwrap();
    assert!((events as u64) < signed.size, "the log lost events: {events} < {}", signed.size);

    st.start();
    dock_one(&st, "W2", "F600012");
    assert_alarm(&st, &["rolled_back", "forked"], "of the side file");
    assert!(st.stop().success());
    let after = side_notes(&st);
    assert_eq!(after, before, "no checkpoint signed after the WAL was lost");
    assert_no_fork(&st, &after, &full);
}

#[test]
fn a_replaced_signing_key_is_noticed_and_never_used() {
    let mut st = station();
    st.start();
    dock_one(&st, "K1", "F600021");
    ok(st.evidock(&["log", "checkpoint"]));
    assert!(st.stop().success());
    let old_key = std::fs::read_to_string(st.path("state/custody-signing.pub")).unwrap();
    let recorded: String = st
        .db()
        .query_row("SELECT details FROM custody_log WHERE action = 'signing_key_recorded'", [], |r| r.get(0))
        .unwrap();
    assert!(recorded.contains(old_key.trim()), "the key is recorded in the log: {recorded}");
    let before = side_notes(&st);

    // The key files replaced (here: removed, so the daemon makes a new pair at its start).
    std::fs::remove_file(st.path("state/custody-signing.key")).unwrap();
    std::fs::remove_file(st.path("state/custody-signing.pub")).unwrap();
    st.start();
    let new_key = std::fs::read_to_string(st.path("state/custody-signing.pub")).unwrap();
    assert_ne!(new_key, old_key);
    dock_one(&st, "K2", "F600022");
    assert_alarm(&st, &["side_file_foreign"], "signing key was replaced");
    assert!(st.stop().success());
    assert_eq!(side_notes(&st), before, "nothing signed with the new key");

    // The side file and the stored checkpoints removed as well: the key recorded in the log
    // still tells.
    std::fs::remove_file(st.path("state/custody-checkpoints.txt")).unwrap();
    let db = st.open_log_for_tampering();
    db.execute_batch("DROP TRIGGER custody_checkpoints_no_delete; DELETE FROM custody_checkpoints;").unwrap();
    // The alarm view cleared too; the custody log keeps the first refusal.
    db.execute_batch("DELETE FROM alarms").unwrap();
    drop(db);
    let refused_before = refusals(&st).len();
    st.start();
    dock_one(&st, "K3", "F600023");
    wait_for(60, "a second refusal", || (refusals(&st).len() > refused_before).then_some(()));
    let last = refusals(&st).pop().unwrap();
    assert_eq!(last["kind"], "key_replaced", "{last}");
    assert!(last["reason"].as_str().unwrap().contains(old_key.trim()), "{last}");
    let o = st.evidock(&["log", "checkpoint"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("signing key was replaced"), "{}", text(&o));
    assert!(st.stop().success());
    assert!(side_notes(&st).is_empty(), "nothing signed with the new key: {:?}", side_notes(&st));
    let stored: i64 = st.db().query_row("SELECT COUNT(*) FROM custody_checkpoints", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, 0);
}
