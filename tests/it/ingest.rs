//! A recorder docked while the daemon runs becomes verified, durable archive footage, and
//! the recorder is wiped only after that (R3, R4, R5; INV-1).

use std::collections::BTreeSet;

use crate::support::{files_under, restamp, volume_footage, Station};

#[test]
fn a_docked_fixture_lands_in_the_archive_byte_identical_and_the_recorder_is_wiped() {
    let mut st = Station::new();
    st.start();
    let clean = std::fs::read_dir(crate::support::fixtures())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir() && p.file_name().unwrap().to_string_lossy().starts_with("clean"))
        .expect("a clean fixture recorder");
    let source = volume_footage(&clean);
    assert!(source.len() >= 3, "fixture has footage");

    let docked = st.dock(&clean, "BAY1");
    let bay = st.wait_finished("BAY1");
    assert_eq!(bay["phase"], "done", "{bay:#}\n{}", st.log());
    assert_eq!(bay["safe_to_undock"], true);
    assert_eq!(bay["wiped"], true);
    assert_eq!(bay["verdicts"]["verified"].as_u64(), Some(source.len() as u64), "{bay:#}");

    // Byte-identical by hash, each exactly once, filed by date under the holding folder.
    let archived = st.archived_footage();
    let archived_hashes: BTreeSet<&str> = archived.iter().map(|(_, h)| h.as_str()).collect();
    assert_eq!(archived.len(), source.len(), "{archived:?}");
    for (name, hash) in &source {
        assert!(archived_hashes.contains(hash.as_str()), "{name} missing from the archive");
        let (path, _) = archived.iter().find(|(p, _)| p.ends_with(name)).expect("same name");
        let p = path.to_string_lossy();
        assert!(p.contains("/未关联案件+UNASSIGNED/"), "{p}");
        assert!(p.chars().nth(4) == Some('/') && p.chars().nth(7) == Some('/'), "YYYY/MM/DD/...: {p}");
    }
    // The recorder's chain files are archived too.
    assert!(files_under(&st.archive()).iter().any(|p| p.to_string_lossy().ends_with(".CHN")));
    // Wiped: no footage left, identity kept.
    assert!(files_under(&docked.join("DCIM")).is_empty(), "recorder still holds footage");
    assert!(docked.join("ZFYINFO.TXT").exists());
    // Archive files are read-only and private.
    use std::os::unix::fs::PermissionsExt;
    for (p, _) in &archived {
        let mode = std::fs::metadata(st.archive().join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o400, "{}", p.display());
    }

    st.assert_log_verifies();
    let actions = st.actions();
    for a in [
        "daemon_started",
        "docked",
        "identity_read",
        "clock_drift",
        "segment_copied",
        "segment_verified",
        "session_verified",
        "segment_wiped",
        "recorder_wiped",
        "ingest_finished",
    ] {
        assert!(actions.iter().any(|x| x == a), "no {a} event in {actions:?}");
    }
    let first_wipe = actions.iter().position(|a| a == "segment_wiped").unwrap();
    let last_copy = actions.iter().rposition(|a| a == "segment_copied").unwrap();
    let last_verify = actions.iter().rposition(|a| a == "segment_verified").unwrap();
    assert!(first_wipe > last_copy && first_wipe > last_verify, "wiped before every copy was verified: {actions:?}");

    // Undock: the custody log says so.
    std::fs::rename(&docked, st.path("incoming/BAY1")).unwrap();
    crate::support::wait_for(30, "the undocked event", || st.actions().contains(&"undocked".to_string()).then_some(()));
    assert!(st.stop().success());
    assert_eq!(st.actions().last().map(String::as_str), Some("daemon_stopped"));
    st.assert_log_verifies();
}

#[test]
fn re_docking_an_already_archived_recorder_stores_nothing_twice() {
    let st = Station::with_ingest("wipe_after_verify = false");
    st.register("B200001");
    let (vol, _) =
        st.sim("R1", &["--serial", "B200001", "--sessions", "1", "--segments", "3", "--segment-bytes", "40000"]);
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert!(o.status.success(), "{}", crate::support::text(&o));
    let first = st.archived_footage();
    assert_eq!(first.len(), 3);
    // Not wiped (configured), so the same files are there at the next docking.
    assert_eq!(volume_footage(&vol).len(), 3);
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert!(o.status.success(), "{}", crate::support::text(&o));
    assert_eq!(st.archived_footage(), first, "nothing stored twice");
    let copies: i64 =
        st.db().query_row("SELECT COUNT(*) FROM files WHERE source LIKE 'DCIM/%'", [], |r| r.get(0)).unwrap();
    assert_eq!(copies, 3);
    st.assert_log_verifies();
}

#[test]
fn a_folder_that_is_not_a_recorder_is_left_alone_and_reported() {
    let mut st = Station::new();
    st.start();
    let stick = st.path("incoming/STICK");
    std::fs::create_dir_all(stick.join("DCIM/100PHOTO")).unwrap();
    std::fs::write(stick.join("DCIM/100PHOTO/IMG_0001.JPG"), b"holiday").unwrap();
    std::fs::write(stick.join("notes.txt"), b"x").unwrap();
    let before = files_under(&stick);
    let docked = st.dock(&stick, "STICK");
    let bay = st.wait_finished("STICK");
    assert_eq!(bay["phase"], "not_a_recorder", "{bay:#}");
    assert_eq!(files_under(&docked), before, "nothing written or removed");
    assert!(files_under(&st.archive()).is_empty());
    assert!(st.actions().contains(&"unknown_volume".to_string()));
}

#[test]
fn several_recorders_docked_at_once_are_all_ingested() {
    let mut st = Station::new();
    let serials = ["C300001", "C300002", "C300003", "C300004", "C300005", "C300006", "C300007", "C300008"];
    let vols: Vec<_> = serials
        .iter()
        .map(|s| st.sim(s, &["--serial", s, "--sessions", "1", "--segments", "3", "--segment-bytes", "200000"]).0)
        .collect();
    st.start();
    for (s, v) in serials.iter().zip(&vols) {
        st.dock(v, s);
    }
    for s in serials {
        let bay = st.wait_finished(s);
        assert_eq!(bay["phase"], "done", "{bay:#}");
    }
    assert_eq!(st.archived_footage().len(), 24);
    st.assert_log_verifies();
}

#[test]
fn an_unregistered_recorder_and_a_drifting_clock_are_ingested_and_flagged() {
    let st = Station::new();
    // Unregistered: ingested (evidence is never refused), flagged.
    let (vol, _) = st.sim("N1", &["--serial", "C300009", "--segments", "2", "--segment-bytes", "10000"]);
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", crate::support::text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("is not registered"), "{}", crate::support::text(&o));
    assert_eq!(st.archived_footage().len(), 2);
    let registered: Option<bool> =
        st.db().query_row("SELECT registered FROM dockings ORDER BY id DESC", [], |r| r.get(0)).unwrap();
    assert_eq!(registered, Some(false));

    // Registered, but its clock runs 2 minutes fast (threshold 30 s): flagged, times corrected.
    st.register("C300010");
    let (vol, _) =
        st.sim("N2", &["--serial", "C300010", "--segments", "2", "--segment-bytes", "10000", "--clock-drift-s", "120"]);
    let o = st.evidock(&["ingest", vol.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", crate::support::text(&o));
    let bay: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(bay["clock_unreliable"], true);
    assert_eq!(bay["registry"], "registered");
    let drift = bay["drift_s"].as_i64().unwrap();
    assert!((118..=122).contains(&drift), "{drift}");
    let (dev, cor): (String, String) = st
        .db()
        .query_row(
            "SELECT start_device, start_corrected FROM segments WHERE serial = 'C300010' ORDER BY seq LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let t = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap();
    assert_eq!((t(&dev) - t(&cor)).num_seconds(), drift, "corrected = device time - drift (R2, R13)");
    // The recorder allows setting its clock: the dock asks it to (SyncDevTime), logging old and new.
    let sync = std::fs::read_to_string(vol.join("ZFY/SYNCTIME.TXT")).expect("clock request written");
    assert!(sync.starts_with("clock="), "{sync}");
    let set: String =
        st.db().query_row("SELECT details FROM custody_log WHERE action = 'clock_set'", [], |r| r.get(0)).unwrap();
    assert!(set.contains("\"old\"") && set.contains("\"new\""), "{set}");
}

#[test]
fn a_recorder_with_ten_thousand_small_files_is_archived_whole() {
    let st = Station::new();
    st.register("T100001");
    let (vol, _) =
        st.sim("T1", &["--serial", "T100001", "--sessions", "1", "--segments", "10000", "--segment-bytes", "64"]);
    let source = volume_footage(&vol);
    assert_eq!(source.len(), 10_000);
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert!(o.status.success(), "{}", crate::support::text(&o));
    let archived: BTreeSet<String> = st.archived_footage().into_iter().map(|(_, h)| h).collect();
    let wanted: BTreeSet<String> = source.iter().map(|(_, h)| h.clone()).collect();
    assert_eq!(archived.len(), 10_000);
    assert_eq!(archived, wanted, "every file, byte for byte");
    let verified: i64 = st
        .db()
        .query_row("SELECT count(*) FROM custody_log WHERE action = 'segment_verified'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verified, 10_000);
    assert!(files_under(&vol.join("DCIM")).is_empty(), "wiped");
    st.assert_log_verifies();
}

/// A segment of 4 GiB and one byte: every size, offset and count past 32 bits (the chain's
/// PART records at 1, 2, 3 and 4 GiB, the copy, the read-back, the catalogue).
#[test]
fn a_segment_over_four_gib_is_archived_verified_and_wiped() {
    const SIZE: u64 = (4 << 30) + 1;
    let st = Station::new();
    st.register("G400001");
    let (vol, summary) = st.sim(
        "G4",
        &["--serial", "G400001", "--sessions", "1", "--segments", "1", "--segment-bytes", &SIZE.to_string()],
    );
    let source = volume_footage(&vol);
    assert_eq!(source.len(), 1, "{summary:#}");
    // The simulator sets the identity clock before it writes the 4 GiB: on a busy machine that
    // takes longer than the drift threshold (30 s), and the recorder's clock would then lag by
    // as much and be flagged (exit 1, said on stdout). A recorder sets its clock as it docks.
    restamp(&vol);
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert!(o.status.success(), "{}", crate::support::text(&o));

    let archived = st.archived_footage();
    assert_eq!(archived.len(), 1, "{archived:?}");
    assert_eq!(archived[0].1, source[0].1, "byte for byte");
    assert_eq!(std::fs::metadata(st.archive().join(&archived[0].0)).unwrap().len(), SIZE);
    let (verdict, attested, size): (String, i64, i64) = st
        .db()
        .query_row(
            "SELECT s.verdict, s.attested_bytes, f.size FROM segments s JOIN files f ON f.id = s.file_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((verdict.as_str(), attested, size), ("verified", SIZE as i64, SIZE as i64));
    assert!(files_under(&vol.join("DCIM")).is_empty(), "wiped");
    st.assert_log_verifies();
}
