//! Hostile volumes: traversal, control characters, non-UTF-8 and over-long names, links,
//! FIFOs, malformed identity and chain files. Never followed, never written outside the
//! archive, never a crash; each reported and logged (INV-6).

use crate::support::{files_under, Station};

#[test]
fn hostile_names_and_links_are_reported_left_alone_and_never_followed() {
    let mut st = Station::new();
    let (vol, _) = st.sim(
        "H1",
        &[
            "--serial",
            "F600001",
            "--segments",
            "4",
            "--segment-bytes",
            "20000",
            "--fault",
            "hostile-names",
            "--fault",
            "symlinks",
        ],
    );
    let (before_all, special) = all_entries(&vol);
    st.start();
    let docked = st.dock(&vol, "H1");
    let bay = st.wait_finished("H1");
    // The normal footage is ingested; the files with unsafe names are footage left on the
    // recorder: not safe to undock (INV-26). The links and the FIFO are no footage.
    assert_eq!(bay["phase"], "attention", "{bay:#}\n{}", st.log());
    assert_eq!(bay["safe_to_undock"], false, "{bay:#}");
    let message = bay["message"].as_str().unwrap();
    assert!(message.contains("archived and verified") && message.contains("不可拔出"), "{message}");

    let db = st.db();
    let refused: Vec<(String, String)> = db
        .prepare("SELECT path, what FROM hostile")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let text = format!("{refused:#?}");
    for expected in ["symbolic link (never followed)", "special file", "control characters", "not valid UTF-8"] {
        assert!(text.contains(expected), "no refusal mentioning {expected:?} in {text}");
    }
    assert!(!text.contains('\u{1b}'), "names are escaped in reports");
    // The chain line naming ../../etc/passwd is a bad line, reported by the verifier.
    let notes: String =
        db.query_row("SELECT group_concat(notes, ' ') FROM sessions", [], |r| r.get(0)).unwrap_or_default();
    let _ = notes;
    let events: i64 =
        db.query_row("SELECT COUNT(*) FROM custody_log WHERE action = 'hostile_entry'", [], |r| r.get(0)).unwrap();
    assert_eq!(events as usize, refused.len());

    // Nothing from outside the volume reached the archive; every archived file is dated footage or a chain.
    let passwd = std::fs::read("/etc/passwd").unwrap();
    for p in files_under(&st.archive()) {
        let s = p.to_string_lossy().into_owned();
        assert!(s.len() > 11 && s.as_bytes()[4] == b'/' && s.as_bytes()[7] == b'/', "{s}");
        assert_ne!(std::fs::read(st.archive().join(&p)).unwrap(), passwd, "{s} is /etc/passwd");
    }
    // Everything refused is still on the volume: links, the FIFO, and unsafe names.
    for entry in &before_all {
        let name = entry.file_name().unwrap();
        let unsafe_name = name.to_str().is_none_or(|n| n.chars().any(char::is_control));
        let is_special = special.contains(entry);
        if unsafe_name || is_special {
            let on_volume = docked.join(entry);
            assert!(std::fs::symlink_metadata(&on_volume).is_ok(), "{} should have been left alone", entry.display());
        }
    }
    st.assert_log_verifies();
}

#[test]
fn a_malformed_identity_is_refused_with_a_clear_message_and_nothing_is_touched() {
    let st = Station::new();
    let (vol, _) = st.sim("I1", &["--serial", "F600002", "--segments", "2", "--segment-bytes", "1000"]);
    std::fs::write(vol.join("ZFYINFO.TXT"), b"format=ZFY-CUSTODY/1\nserial=../../x\n").unwrap();
    let before = files_under(&vol);
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", crate::support::text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("ZFYINFO.TXT") && out.contains("serial must be 7 characters"), "{}", crate::support::text(&o));
    assert_eq!(files_under(&vol), before);
    assert!(files_under(&st.archive()).is_empty());
    st.assert_log_verifies();
}

#[test]
fn malformed_chain_lines_are_reported_and_footage_still_archived() {
    let st = Station::new();
    let (vol, _) = st.sim("C1", &["--serial", "F600003", "--segments", "3", "--segment-bytes", "1000"]);
    let chain_dir = vol.join("ZFY/CHAIN");
    let chain = std::fs::read_dir(&chain_dir).unwrap().next().unwrap().unwrap().path();
    let mut text = std::fs::read(&chain).unwrap();
    text.extend_from_slice(b"SEG|x|\xff\xfe garbage\nNOPE\n");
    std::fs::write(&chain, text).unwrap();
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", crate::support::text(&o));
    assert_eq!(st.archived_footage().len(), 3, "evidence is never refused");
    st.assert_log_verifies();
}

/// Every entry under `root` (any kind), and those that are links or special files.
fn all_entries(root: &std::path::Path) -> (Vec<std::path::PathBuf>, Vec<std::path::PathBuf>) {
    let mut all = Vec::new();
    let mut special = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
            let ty = e.file_type().unwrap();
            if ty.is_dir() {
                stack.push(e.path());
            } else if !ty.is_file() {
                special.push(rel.clone());
            }
            all.push(rel);
        }
    }
    (all, special)
}

#[test]
fn a_file_larger_than_allowed_is_refused_and_left_on_the_recorder() {
    let st = Station::with_ingest("max_segment_bytes = 100000");
    let (vol, summary) = st.sim("B1", &["--serial", "F600004", "--segments", "3", "--segment-bytes", "50000"]);
    // A sparse file of 1 TiB claiming to be footage.
    let huge = vol.join(summary["segments"][0]["path"].as_str().unwrap()).with_file_name("HUGE_000999.MP4");
    std::fs::File::create(&huge).unwrap().set_len(1 << 40).unwrap();
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "a refused entry needs review: {}", crate::support::text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("refused and left on the recorder"),
        "{}",
        crate::support::text(&o)
    );
    let what: String =
        st.db().query_row("SELECT what FROM hostile WHERE path LIKE '%HUGE_000999.MP4'", [], |r| r.get(0)).unwrap();
    assert!(what.contains("larger than ingest.max_segment_bytes"), "{what}");
    assert!(huge.exists(), "left on the recorder");
    assert_eq!(st.archived_footage().len(), 3);
    // Footage stays on the recorder: not "safe to undock", and it says what is left (R3).
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("safe to undock: all footage"), "{out}");
    assert!(out.contains("not safe to undock") && out.contains("不可拔出"), "{out}");
    assert!(out.contains("HUGE_000999.MP4"), "names what is left: {out}");
    let (outcome, safe): (String, bool) =
        st.db().query_row("SELECT outcome, safe_to_undock FROM dockings", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert!(!safe && outcome.starts_with("attention"), "{outcome}");

    // Other footage a recorder holds and the scan cannot take: a bad name, a file outside a
    // dated folder, a folder inside one. A symbolic link or a FIFO is no footage and is only
    // reported.
    for (what, make) in [("bad name", "bad\u{1b}.MP4"), ("outside", "../loose.MP4"), ("folder", "sub/A.MP4")] {
        let st = Station::new();
        let (vol, summary) = st.sim("B2", &["--serial", "F600006", "--segments", "2", "--segment-bytes", "5000"]);
        let dated = vol.join(summary["segments"][0]["path"].as_str().unwrap()).parent().unwrap().to_path_buf();
        let p = dated.join(make);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, b"footage").unwrap();
        let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("not safe to undock") && out.contains("不可拔出"), "{what}: {out}");
        assert!(p.exists(), "{what}: left on the recorder");
        let safe: bool = st.db().query_row("SELECT safe_to_undock FROM dockings", [], |r| r.get(0)).unwrap();
        assert!(!safe, "{what}");
    }
    let st = Station::new();
    let (vol, _) = st.sim("B3", &["--serial", "F600007", "--segments", "2", "--segment-bytes", "5000"]);
    std::os::unix::fs::symlink("/etc/passwd", vol.join("DCIM/L.MP4")).unwrap();
    nix::unistd::mkfifo(&vol.join("DCIM/F.MP4"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("safe to undock: all footage") && out.contains("refused and left"), "{out}");
}

#[test]
fn a_file_still_being_written_is_never_archived_half_and_stays_on_the_recorder() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    let st = Station::with_ingest("read_rate_limit = 2097152\nchunk_bytes = 65536\ncopy_attempts = 2");
    let (vol, summary) = st.sim("G1", &["--serial", "F600005", "--segments", "3", "--segment-bytes", "262144"]);
    let growing = vol.join(summary["segments"][1]["path"].as_str().unwrap());
    let done = AtomicBool::new(false);
    let o = std::thread::scope(|s| {
        s.spawn(|| {
            let mut f = std::fs::OpenOptions::new().append(true).open(&growing).unwrap();
            while !done.load(Ordering::Relaxed) {
                f.write_all(&[7u8; 4096]).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
        let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
        done.store(true, Ordering::Relaxed);
        o
    });
    assert_eq!(o.status.code(), Some(1), "{}", crate::support::text(&o));
    let error: String =
        st.db().query_row("SELECT details FROM custody_log WHERE action = 'copy_failed'", [], |r| r.get(0)).unwrap();
    assert!(error.contains("while being copied"), "{error}");
    // The other two are archived; nothing is wiped while a file could not be archived.
    assert_eq!(st.archived_footage().len(), 2);
    assert_eq!(files_under(&vol.join("DCIM")).len(), 3, "nothing wiped");
    st.assert_log_verifies();
}

#[test]
fn zero_byte_and_sparse_files_are_archived_exactly() {
    let st = Station::new();
    st.register("F600006");
    let (vol, summary) = st.sim("Z1", &["--serial", "F600006", "--segments", "2", "--segment-bytes", "4096"]);
    let dir = vol.join(summary["segments"][0]["path"].as_str().unwrap()).parent().unwrap().to_path_buf();
    std::fs::write(dir.join("F600006_012345_20240101000000_000900.MP4"), b"").unwrap();
    let sparse = dir.join("F600006_012345_20240101000000_000901.MP4");
    let f = std::fs::File::create(&sparse).unwrap();
    f.set_len(8 << 20).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, b"data in the middle of holes", 4 << 20).unwrap();
    drop(f);
    let want = crate::support::b3(&sparse);
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "files no chain covers are flagged: {}", crate::support::text(&o));
    let archived = st.archived_footage();
    assert_eq!(archived.len(), 4);
    assert!(archived.iter().any(|(_, h)| *h == want), "the sparse file, byte for byte");
    assert!(archived.iter().any(|(_, h)| *h == blake3::hash(b"").to_hex().as_str()), "the empty file");
    st.assert_log_verifies();
}

#[test]
fn two_volumes_claiming_one_serial_at_once_are_both_kept_and_the_second_is_not_wiped() {
    let mut st = Station::with_ingest("read_rate_limit = 2097152\nchunk_bytes = 65536");
    st.register("C300001");
    let (a, _) =
        st.sim("A", &["--serial", "C300001", "--sessions", "1", "--segments", "4", "--segment-bytes", "1048576"]);
    let (b, _) = st.sim(
        "B",
        &[
            "--serial",
            "C300001",
            "--sessions",
            "1",
            "--segments",
            "2",
            "--segment-bytes",
            "20000",
            "--start",
            "2024-02-01T09:00:00",
            "--clock-drift-s",
            "120",
        ],
    );
    let b_source = crate::support::volume_footage(&b);
    st.start();
    st.dock(&a, "A");
    st.wait_bay("A", "the first recorder's copy to be under way", |bay| bay["phase"] == "copying");
    let docked_b = st.dock(&b, "B");
    let bay_b = st.wait_finished("B");
    st.wait_finished("A");
    // The impostor's footage is archived (evidence is kept) but its volume is not wiped.
    let archived: Vec<String> = st.archived_footage().into_iter().map(|(_, h)| h).collect();
    for (name, h) in &b_source {
        assert!(archived.contains(h), "{name} archived");
    }
    assert_eq!(crate::support::volume_footage(&docked_b), b_source, "the second volume keeps everything");
    // Its clock is 2 minutes off, but a held recorder is written nothing, not even the clock request.
    assert!(!docked_b.join("ZFY/SYNCTIME.TXT").exists(), "no clock request on a held recorder");
    assert!(bay_b["message"].as_str().unwrap().contains("claims the same serial"), "{bay_b:#}");
    assert_eq!(
        (bay_b["phase"].as_str(), bay_b["safe_to_undock"].as_bool()),
        (Some("attention"), Some(true)),
        "{bay_b:#}"
    );
    let conflict: String = st
        .db()
        .query_row("SELECT details FROM custody_log WHERE action = 'identity_conflict'", [], |r| r.get(0))
        .unwrap();
    assert!(conflict.contains("\"volume\":\"B\"") && conflict.contains("volume A docked now"), "{conflict}");
    // The first volume, which held the serial first, is wiped as usual.
    assert!(files_under(&st.dock_root().join("A").join("DCIM")).is_empty());
    st.stop();
    st.assert_log_verifies();
}

#[test]
fn gbk_over_long_and_deeply_nested_names_are_left_on_the_recorder_and_named() {
    use std::os::unix::ffi::OsStrExt;
    let st = Station::new();
    let (vol, summary) = st.sim("N1", &["--serial", "F600008", "--segments", "2", "--segment-bytes", "5000"]);
    let dated = vol.join(summary["segments"][0]["path"].as_str().unwrap()).parent().unwrap().to_path_buf();
    // "录像.MP4" in GBK (not UTF-8), a name of 240 bytes, a file ten folders down.
    let gbk = dated.join(std::ffi::OsStr::from_bytes(b"\xc2\xbc\xcf\xf1.MP4"));
    std::fs::write(&gbk, b"gbk").unwrap();
    let long = dated.join(format!("{}.MP4", "A".repeat(236)));
    std::fs::write(&long, b"long").unwrap();
    let mut deep = dated.clone();
    for i in 0..10 {
        deep = deep.join(format!("d{i}"));
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("X.MP4"), b"deep").unwrap();
    let before = files_under(&vol);
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{}", crate::support::text(&o));
    assert!(out.contains("not safe to undock: 3 footage") && out.contains("不可拔出"), "{out}");
    // (Its valid UTF-8 part shown as it reads, the rest escaped.)
    assert!(out.contains("\\xcf\\xf1.MP4 (name is not valid UTF-8"), "{out}");
    assert!(out.contains("longer than 200 bytes") && out.contains("/d0 (unexpected folder"), "{out}");
    // The two segments archived and wiped; the three left exactly as they were.
    assert_eq!(st.archived_footage().len(), 2);
    for p in [&gbk, &long, &deep.join("X.MP4")] {
        assert!(p.exists(), "{} left on the recorder", p.display());
    }
    let after = files_under(&vol);
    // (Beside them, only the clock request the dock writes.)
    let new: Vec<_> = after.iter().filter(|p| !before.contains(p)).collect();
    assert!(new.iter().all(|p| p.ends_with("ZFY/SYNCTIME.TXT")), "{new:?}");
    st.assert_log_verifies();
}
