//! A kill -9 or an unplug in the middle of a copy loses nothing and duplicates nothing;
//! re-docking resumes (INV-1, INV-2, INV-3).

use std::collections::BTreeMap;

use crate::support::{files_under, volume_footage, Station};

/// Slow enough that the test can act in the middle of the copy (4 MiB at 4 MiB/s).
const SLOW: &str = "read_rate_limit = 4194304\nchunk_bytes = 65536";

pub(crate) fn assert_each_once(st: &Station, source: &[(String, String)]) {
    let archived = st.archived_footage();
    let mut by_hash: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, h) in &archived {
        *by_hash.entry(h.as_str()).or_default() += 1;
    }
    for (name, h) in source {
        assert_eq!(by_hash.get(h.as_str()), Some(&1), "{name} must be archived exactly once: {archived:?}");
    }
    assert_eq!(archived.len(), source.len(), "no extra files: {archived:?}");
    let temps: Vec<_> =
        files_under(&st.archive()).into_iter().filter(|p| p.to_string_lossy().contains(".evidock-tmp.")).collect();
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
}

#[test]
fn kill_9_mid_copy_then_restart_loses_nothing_and_duplicates_nothing() {
    let mut st = Station::with_ingest(SLOW);
    let (vol, _) =
        st.sim("K1", &["--serial", "D400001", "--sessions", "1", "--segments", "4", "--segment-bytes", "1048576"]);
    let source = volume_footage(&vol);
    st.start();
    let docked = st.dock(&vol, "K1");
    // Mid-copy: some bytes copied, not all.
    st.wait_bay("K1", "the copy to be under way", |b| {
        b["phase"] == "copying" && b["bytes_done"].as_u64().unwrap_or(0) > 1_200_000
    });
    st.kill9();

    // Nothing at its final name is incomplete: every archived file equals a source file.
    let hashes: Vec<&str> = source.iter().map(|(_, h)| h.as_str()).collect();
    for (p, h) in st.archived_footage() {
        assert!(hashes.contains(&h.as_str()), "{} looks complete but is not", p.display());
    }
    // The recorder keeps everything.
    assert_eq!(volume_footage(&docked), source);

    st.start();
    let bay = st.wait_finished("K1");
    assert_eq!(bay["phase"], "done", "{bay:#}\n{}", st.log());
    assert_each_once(&st, &source);
    assert!(files_under(&docked.join("DCIM")).is_empty(), "wiped after the resumed ingest");
    st.assert_log_verifies();
}

#[test]
fn unplug_mid_copy_then_redock_loses_nothing_and_duplicates_nothing() {
    let mut st = Station::with_ingest(SLOW);
    let (vol, _) =
        st.sim("U1", &["--serial", "D400002", "--sessions", "1", "--segments", "4", "--segment-bytes", "1048576"]);
    let source = volume_footage(&vol);
    st.start();
    let docked = st.dock(&vol, "U1");
    st.wait_bay("U1", "the copy to be under way", |b| {
        b["phase"] == "copying" && b["bytes_done"].as_u64().unwrap_or(0) > 1_200_000
    });
    // Unplug: the volume disappears from the dock root.
    let unplugged = st.path("unplugged-U1");
    std::fs::rename(&docked, &unplugged).unwrap();
    crate::support::wait_for(60, "the undocked event", || st.actions().contains(&"undocked".to_string()).then_some(()));
    assert!(st.actions().contains(&"ingest_abandoned".to_string()), "{:?}", st.actions());
    assert_eq!(volume_footage(&unplugged), source, "the recorder keeps everything");

    // Re-dock: resumes.
    std::fs::rename(&unplugged, &docked).unwrap();
    let bay = st.wait_bay("U1", "the resumed ingest to finish", |b| b["phase"] == "done");
    assert_eq!(bay["safe_to_undock"], true);
    assert_each_once(&st, &source);
    assert!(files_under(&docked.join("DCIM")).is_empty());
    st.assert_log_verifies();
}

#[test]
fn sigterm_mid_copy_stops_at_a_safe_point_and_the_next_start_resumes() {
    let mut st = Station::with_ingest(SLOW);
    let (vol, _) =
        st.sim("T1", &["--serial", "D400003", "--sessions", "1", "--segments", "3", "--segment-bytes", "1048576"]);
    let source = volume_footage(&vol);
    st.start();
    st.dock(&vol, "T1");
    st.wait_bay("T1", "the copy to be under way", |b| b["bytes_done"].as_u64().unwrap_or(0) > 500_000);
    assert!(st.stop().success(), "clean exit on SIGTERM:\n{}", st.log());
    let actions = st.actions();
    assert!(actions.contains(&"ingest_abandoned".to_string()), "{actions:?}");
    assert_eq!(actions.last().map(String::as_str), Some("daemon_stopped"));
    st.start();
    assert_eq!(st.wait_finished("T1")["phase"], "done");
    assert_each_once(&st, &source);
    st.assert_log_verifies();
}

#[test]
fn a_second_daemon_on_the_same_state_refuses_to_start() {
    let mut st = Station::new();
    st.start();
    let o = st.evidock(&["daemon"]);
    assert_eq!(o.status.code(), Some(2), "{}", crate::support::text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("another evidock daemon is already running"), "{}", crate::support::text(&o));
    let o = st.evidock(&["ingest", st.path("incoming").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "a one-shot ingest refuses too: {}", crate::support::text(&o));
}

/// A tmpfs of a fixed size mounted on a folder, unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    /// Mounts (as root: the test is ignored elsewhere).
    fn mount(at: &std::path::Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(at).unwrap();
        let o = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(at)
            .output()
            .unwrap();
        assert!(o.status.success(), "cannot mount a tmpfs here: {}", crate::support::text(&o));
        SmallDisk(at.to_path_buf())
    }
    fn resize(&self, size: &str) {
        let o = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", crate::support::text(&o));
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
#[cfg_attr(not(is_root), ignore = "mounting a small tmpfs needs root")]
fn a_full_archive_stops_the_ingest_cleanly_and_the_recorder_keeps_everything() {
    let st = Station::new();
    let disk = SmallDisk::mount(&st.archive(), "3m");
    st.register("D400004");
    let (vol, _) =
        st.sim("F1", &["--serial", "D400004", "--sessions", "1", "--segments", "4", "--segment-bytes", "1048576"]);
    let source = volume_footage(&vol);
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", crate::support::text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("the archive is full") && err.contains("free space"), "{}", crate::support::text(&o));
    assert_eq!(volume_footage(&vol), source, "the recorder keeps everything");
    let hashes: Vec<&str> = source.iter().map(|(_, h)| h.as_str()).collect();
    for (p, h) in st.archived_footage() {
        assert!(hashes.contains(&h.as_str()), "{} looks complete but is not", p.display());
    }
    assert!(
        !files_under(&st.archive()).iter().any(|p| p.to_string_lossy().contains(".evidock-tmp.")),
        "temporary files removed"
    );
    assert!(st.actions().contains(&"ingest_abandoned".to_string()));
    st.assert_log_verifies();

    // Space freed: docking again completes, nothing twice.
    disk.resize("16m");
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert!(o.status.success(), "{}", crate::support::text(&o));
    assert_each_once(&st, &source);
    assert!(files_under(&vol.join("DCIM")).is_empty());
    st.assert_log_verifies();
}

#[test]
fn a_damaged_catalogue_is_refused_clearly_and_not_touched() {
    let st = Station::new();
    st.register("D400005");
    let db = st.path("state/catalog.sqlite");
    // Checkpoint the WAL into the main file so the damage lands in real pages.
    rusqlite::Connection::open(&db).unwrap().pragma_update(None, "wal_checkpoint", "TRUNCATE").unwrap();
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 8192);
    // Damage the header of every b-tree page after the first.
    for page in 1..bytes.len() / 4096 {
        for b in &mut bytes[page * 4096..page * 4096 + 12] {
            *b ^= 0x5a;
        }
    }
    std::fs::write(&db, &bytes).unwrap();
    let before = crate::support::b3(&db);
    let o = st.evidock_within(30, &["daemon"]);
    assert_eq!(o.status.code(), Some(2), "{}", crate::support::text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("is damaged") && err.contains("restore it from a backup"), "{}", crate::support::text(&o));
    assert_eq!(crate::support::b3(&db), before, "no further damage");
}

/// `evidock ARGS` with a failpoint armed: the process must die there (SIGABRT, like a power cut).
fn crash_at(st: &Station, failpoint: &str, args: &[&str]) {
    let o = std::process::Command::new(crate::support::bin())
        .arg("--config")
        .arg(&st.config)
        .args(args)
        .env("EVIDOCK_FAILPOINTS", failpoint)
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(o.status.signal(), Some(6), "{failpoint} not reached: {}", crate::support::text(&o));
}

#[test]
fn a_crash_at_every_step_of_an_ingest_loses_nothing_and_stores_nothing_twice() {
    for step in ["copy.mid", "copy.before-fsync", "copy.after-rename", "ingest.before-wipe", "wipe.mid"] {
        let st = Station::new();
        st.register("D400006");
        let (vol, _) = st.sim("P1", &["--serial", "D400006", "--segments", "3", "--segment-bytes", "50000"]);
        let source = volume_footage(&vol);
        crash_at(&st, step, &["ingest", vol.to_str().unwrap()]);
        // Whatever is on the recorder or in the archive: nothing lost.
        let on_recorder: Vec<String> = volume_footage(&vol).into_iter().map(|(_, h)| h).collect();
        let archived: Vec<String> = st.archived_footage().into_iter().map(|(_, h)| h).collect();
        for (name, h) in &source {
            assert!(on_recorder.contains(h) || archived.contains(h), "{step}: {name} lost");
        }
        for h in &archived {
            assert!(source.iter().any(|(_, s)| s == h), "{step}: an archive file looks complete but is not");
        }
        // Docked again: completes, each file once, recorder wiped, the log tells the story.
        let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
        assert!(o.status.success(), "{step}: {}", crate::support::text(&o));
        assert_each_once(&st, &source);
        assert!(files_under(&vol.join("DCIM")).is_empty(), "{step}: wiped");
        st.assert_log_verifies();
    }
}

#[test]
fn a_bug_mid_wipe_abandons_that_docking_truthfully_and_the_daemon_serves_the_next() {
    let mut st = Station::new();
    st.register("D400016");
    let (vol, _) = st.sim("B1", &["--serial", "D400016", "--segments", "3", "--segment-bytes", "50000"]);
    let source = volume_footage(&vol);
    // A panic right after the first file is wiped, as a bug in the wipe step would.
    st.start_with(&[("EVIDOCK_FAILPOINTS", "wipe.mid:panic")]);
    let docked = st.dock(&vol, "B1");
    let bay = st.wait_finished("B1");
    assert_eq!(bay["phase"], "abandoned", "{bay:#}\n{}", st.log());
    let message = bay["message"].as_str().unwrap();
    // Not "recorder untouched": one file is gone from it, and the message says what holds.
    assert!(
        message.contains("internal error")
            && message.contains("only footage verified in the archive was wiped")
            && message.contains("dock it again to finish")
            && message.contains("未经核验的录像均仍在记录仪上"),
        "{message}"
    );
    let on_recorder = volume_footage(&docked);
    assert_eq!(on_recorder.len(), source.len() - 1, "exactly the first verified file was wiped");
    let archived: Vec<String> = st.archived_footage().into_iter().map(|(_, h)| h).collect();
    for (name, h) in &source {
        assert!(on_recorder.iter().any(|(_, r)| r == h) || archived.contains(h), "{name} lost");
    }
    // The log tells it: the docking is closed as abandoned for an internal error.
    let why: String = st
        .db()
        .query_row("SELECT details FROM custody_log WHERE action = 'ingest_abandoned'", [], |r| r.get(0))
        .unwrap();
    assert!(why.contains("internal error") && why.contains("failpoint wipe.mid reached"), "{why}");

    // The same daemon serves the next docking: undocked and docked again, it finishes.
    let away = st.path("undocked-B1");
    std::fs::rename(&docked, &away).unwrap();
    crate::support::wait_for(60, "the undocked event", || st.actions().contains(&"undocked".to_string()).then_some(()));
    std::fs::rename(&away, &docked).unwrap();
    let bay = st.wait_bay("B1", "the second docking to finish", |b| b["phase"] == "done");
    assert_eq!(bay["safe_to_undock"], true);
    assert_each_once(&st, &source);
    assert!(files_under(&docked.join("DCIM")).is_empty(), "wiped after the second docking");
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}

#[test]
fn a_read_error_on_the_recorder_is_never_papered_over_and_the_recorder_keeps_the_file() {
    let st = Station::new();
    st.register("D400007");
    let (vol, summary) = st.sim("E1", &["--serial", "D400007", "--segments", "3", "--segment-bytes", "20000"]);
    let bad = summary["segments"][1]["path"].as_str().unwrap().to_string();
    let name = bad.rsplit('/').next().unwrap().to_string();
    let o = std::process::Command::new(crate::support::bin())
        .arg("--config")
        .arg(&st.config)
        .args(["ingest", vol.to_str().unwrap()])
        .env("EVIDOCK_FAIL_READ", format!("{name}:5000-9000"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", crate::support::text(&o));
    // The custodian is told what happened and what to do with the recorder.
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.contains("1 file(s) could not be archived")
            && said.contains("1 of them unreadable")
            && said.contains("do not reuse it; dock it again to retry, or hand it over for examination")
            && said.contains("请保持记录仪原状"),
        "{said}"
    );
    // The other two are archived; the damaged one only as a .PARTIAL with its ranges listed.
    let archived = st.archived_footage();
    assert_eq!(archived.iter().filter(|(p, _)| p.extension().is_some_and(|e| e == "MP4")).count(), 2);
    let partial = archived.iter().find(|(p, _)| p.to_string_lossy().ends_with(".MP4.PARTIAL")).expect("salvaged part");
    let source = std::fs::read(vol.join(&bad)).unwrap();
    let salvaged = std::fs::read(st.archive().join(&partial.0)).unwrap();
    assert_eq!(salvaged.len(), source.len());
    // Read errors from byte 5000 to 9000; salvage goes on in 4 KiB blocks from there.
    assert_eq!(&salvaged[..5000], &source[..5000], "readable bytes kept");
    assert_eq!(&salvaged[9096..], &source[9096..], "readable bytes kept");
    let listing =
        std::fs::read_to_string(st.archive().join(format!("{}.unreadable.txt", partial.0.display()))).unwrap();
    assert!(listing.contains("5000-9096"), "{listing}");
    // Nothing wiped: the recorder keeps everything while a file could not be archived.
    assert_eq!(volume_footage(&vol).len(), 3);
    let details: String = st
        .db()
        .query_row("SELECT details FROM custody_log WHERE details LIKE '%unreadable_ranges%'", [], |r| r.get(0))
        .unwrap();
    assert!(details.contains("5000-9096"), "{details}");
    let verdict: String =
        st.db().query_row("SELECT detail FROM segments WHERE name = ?1", [&name], |r| r.get(0)).unwrap();
    assert!(verdict.contains("kept on the recorder"), "{verdict}");
    st.assert_log_verifies();
}

#[test]
fn a_catalogue_damaged_after_a_clean_stop_raises_the_alarm_once_the_daemon_is_ready() {
    let mut st = Station::new();
    st.start();
    st.stop();
    let db = st.path("state/catalog.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE").unwrap();
    // Damage one page start-up never reads: the root of the (empty) informants table.
    let root: i64 =
        conn.query_row("SELECT rootpage FROM sqlite_schema WHERE name = 'case_informants'", [], |r| r.get(0)).unwrap();
    let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    drop(conn);
    let mut bytes = std::fs::read(&db).unwrap();
    let at = ((root - 1) * page) as usize;
    for b in &mut bytes[at..at + 8] {
        *b = 0xff;
    }
    std::fs::write(&db, &bytes).unwrap();
    st.start();
    crate::support::wait_for(30, "the alarm of the background integrity check", || {
        st.log().contains("ALARM: the catalogue").then_some(())
    });
    assert!(st.log().contains("is damaged"), "{}", st.log());
    st.stop();
}

/// A station cut short before it ever stopped cleanly or signed a checkpoint: the next start
/// reads on from the point its full verification recorded (`log_point_verified`), not from the
/// first event, and the footage docked after READY is archived (INV-24, INV-38; R11).
#[test]
fn a_start_after_an_unclean_stop_reads_on_from_the_point_the_full_verification_recorded() {
    let mut st = Station::new();
    st.register("D400011");
    st.start();
    let up_to: i64 = crate::support::wait_for(30, "the full verification's point", || {
        st.db()
            .query_row(
                "SELECT json_extract(details, '$.up_to') FROM custody_log WHERE action = 'log_point_verified'",
                [],
                |r| r.get(0),
            )
            .ok()
    });
    let stopped: i64 = st
        .db()
        .query_row("SELECT count(*) FROM custody_log WHERE action = 'daemon_stopped'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stopped, 0, "no clean stop yet");
    assert!(up_to > 0);
    st.kill9();
    st.start();
    assert!(st.log().contains(&format!("after_seq={up_to}")), "{}", st.log());
    let (vol, _) = st.sim("P1", &["--serial", "D400011", "--segments", "2", "--segment-bytes", "20000"]);
    st.dock(&vol, "P1");
    crate::support::wait_for(60, "the docking after READY to be archived", || {
        (st.archived_footage().iter().filter(|(p, _)| p.extension().is_some_and(|e| e == "MP4")).count() == 2)
            .then_some(())
    });
    st.stop();
    st.assert_log_verifies();
}

#[test]
fn a_storm_of_docks_and_undocks_loses_nothing_and_stores_nothing_twice() {
    let mut st = Station::with_ingest(SLOW);
    let (vol, _) =
        st.sim("S1", &["--serial", "D400009", "--sessions", "1", "--segments", "4", "--segment-bytes", "1048576"]);
    let source = volume_footage(&vol);
    st.start();
    // 24 dockings, each undocked again after 5 ms to 300 ms: before, during and after copies.
    for i in 0..24 {
        let docked = st.dock(&vol, "S1");
        std::thread::sleep(std::time::Duration::from_millis([5, 40, 120, 300][i % 4]));
        std::fs::rename(&docked, &vol).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    let docked = st.dock(&vol, "S1");
    crate::support::wait_for(120, "the last docking to archive and wipe everything", || {
        files_under(&docked.join("DCIM")).is_empty().then_some(())
    });
    assert_each_once(&st, &source);
    let actions = st.actions();
    assert!(actions.iter().filter(|a| *a == "docked").count() >= 2, "the storm was seen: {actions:?}");
    assert!(!actions.contains(&"identity_conflict".to_string()), "one recorder re-docked is no conflict");
    // The daemon serves the next docking.
    let (other, _) = st.sim("S2", &["--serial", "D400010", "--segments", "1", "--segment-bytes", "5000"]);
    let other_src = volume_footage(&other);
    st.dock(&other, "S2");
    assert_eq!(st.wait_finished("S2")["phase"], "done");
    let archived: Vec<String> = st.archived_footage().into_iter().map(|(_, h)| h).collect();
    assert!(other_src.iter().all(|(_, h)| archived.contains(h)));
    st.stop();
    st.assert_log_verifies();
}

#[test]
fn a_recorder_unplugged_mid_copy_and_back_before_the_next_scan_is_ingested_again() {
    let mut st = Station::with_ingest(SLOW);
    let (vol, _) =
        st.sim("Q1", &["--serial", "D400011", "--sessions", "1", "--segments", "4", "--segment-bytes", "1048576"]);
    let source = volume_footage(&vol);
    st.start();
    let docked = st.dock(&vol, "Q1");
    st.wait_bay("Q1", "the copy to be under way", |b| b["phase"] == "copying");
    // Out and back within 50 ms: the same folder (same device and inode, as a FAT volume
    // mounted again can be) while the bay is still noticing that it left.
    std::fs::rename(&docked, &vol).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let docked = st.dock(&vol, "Q1");
    crate::support::wait_for(60, "the volume to be ingested again and wiped", || {
        files_under(&docked.join("DCIM")).is_empty().then_some(())
    });
    assert_each_once(&st, &source);
    st.stop();
    st.assert_log_verifies();
}

/// A copy that the disk stores wrong (one byte flipped as it is written, every attempt) is
/// caught by the read-back, never archived and never wiped; the other files are archived.
/// Paced like a slow link, the read-back of a large file starts while it is still being
/// written, and that early part catches the flip too (INV-2).
#[test]
fn a_copy_the_disk_stores_wrong_is_caught_by_the_read_back_whether_read_back_early_or_at_the_end() {
    for (paced, serial) in [(false, "D400011"), (true, "D400012")] {
        let st = Station::with_ingest(if paced { "read_rate_limit = 67108864" } else { "" });
        st.register(serial);
        let (vol, summary) =
            st.sim("W1", &["--serial", serial, "--segments", "3", "--segment-bytes", &(12u64 << 20).to_string()]);
        let bad = summary["segments"][1]["path"].as_str().unwrap().to_string();
        let name = bad.rsplit('/').next().unwrap().to_string();
        let source = volume_footage(&vol);
        let o = std::process::Command::new(crate::support::bin())
            .arg("--config")
            .arg(&st.config)
            .args(["ingest", vol.to_str().unwrap()])
            .env("EVIDOCK_CORRUPT_WRITE", format!("{name}:1000000"))
            .env("RUST_LOG", "evidock=debug")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "paced {paced}: {}", crate::support::text(&o));
        // Where the read-back of the bad file started: early only when paced.
        let early: u64 = err
            .lines()
            .filter(|l| l.contains("made durable and read back") && l.contains(&name))
            .filter_map(|l| l.split("read_back_early=").nth(1)?.split_whitespace().next()?.parse().ok())
            .max()
            .unwrap_or_else(|| panic!("no read-back timing for {name}:\n{err}"));
        if paced {
            assert!(early >= 1 << 20, "the read-back began while the file was written: {early}");
        } else {
            assert_eq!(early, 0, "unpaced, the whole read-back comes after the fsync");
        }
        let detail: String =
            st.db().query_row("SELECT detail FROM segments WHERE name = ?1", [&name], |r| r.get(0)).unwrap();
        assert!(detail.contains("read-back of") && detail.contains("differs"), "{detail}");
        let archived = st.archived_footage();
        assert_eq!(archived.len(), 2, "{archived:?}");
        let bad_hash = &source.iter().find(|(n, _)| *n == name).unwrap().1;
        assert!(!archived.iter().any(|(_, h)| h == bad_hash), "the bad copy is not archived");
        assert!(
            !files_under(&st.archive()).iter().any(|p| p.to_string_lossy().contains(".evidock-tmp.")),
            "temporary files removed"
        );
        assert_eq!(volume_footage(&vol), source, "nothing wiped while a file could not be archived");
        st.assert_log_verifies();
    }
}
