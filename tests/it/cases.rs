//! Cases (R4, R13): footage filed into case folders atomically with hashes intact, serving
//! several cases without a second copy; interrupted moves recovered; gaps explained (R6).

use std::os::unix::fs::MetadataExt;

use crate::support::{b3, files_under, Station};

const CASE: &str = "宜卫罚〔2024〕12号";

fn yesterday(hm: &str) -> String {
    let d = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive() - chrono::Duration::days(1);
    format!("{d}T{hm}")
}

use crate::support::ok;

#[test]
fn footage_is_proposed_filed_into_a_case_and_linked_into_a_second_one() {
    let st = Station::new();
    st.register("H700001");
    let (vol, _) = st.sim("V1", &["--serial", "H700001", "--segments", "3", "--segment-bytes", "30000"]);
    ok(st.evidock(&["ingest", vol.to_str().unwrap()]));
    let before: Vec<String> = st.archived_footage().into_iter().map(|(_, h)| h).collect();
    assert_eq!(before.len(), 3);

    let window = format!("{},{}", yesterday("08:00"), yesterday("12:00"));
    ok(st.evidock(&[
        "case",
        "create",
        CASE,
        "--party",
        "某某餐饮有限公司",
        "--officer",
        "012345",
        "--kind",
        "penalty",
        "--window",
        &window,
    ]));
    let proposed = ok(st.evidock(&["case", "propose", CASE]));
    assert_eq!(proposed.lines().count(), 3, "{proposed}");
    ok(st.evidock(&["case", "propose", CASE, "--confirm"]));

    // Moved into the case folder, contents untouched, nothing left in the holding folder.
    let after = st.archived_footage();
    assert_eq!(after.iter().map(|(_, h)| h.clone()).collect::<Vec<_>>().len(), 3);
    for (p, h) in &after {
        assert!(p.to_string_lossy().contains(&format!("/{CASE}/H700001/")), "{}", p.display());
        assert!(before.contains(h));
    }
    let label = files_under(&st.archive()).into_iter().find(|p| p.ends_with("案件信息.txt")).expect("label file");
    let text = std::fs::read_to_string(st.archive().join(&label)).unwrap();
    assert!(text.contains(CASE) && text.contains("某某餐饮有限公司") && text.contains("012345"), "{text}");
    let holding: Vec<_> = files_under(&st.archive())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("UNASSIGNED") && !p.to_string_lossy().contains("/chain/"))
        .collect();
    assert!(holding.is_empty(), "{holding:?}");

    // A second case: the same recording, linked, no second copy.
    let other = "宜卫罚〔2024〕13号";
    ok(st.evidock(&["case", "create", other, "--officer", "012345"]));
    let session: String = st.db().query_row("SELECT session FROM segments LIMIT 1", [], |r| r.get(0)).unwrap();
    ok(st.evidock(&["case", "assign", other, "--session", &format!("H700001/{session}")]));
    let all = st.archived_footage();
    assert_eq!(all.len(), 6, "two names per file");
    for (p, _) in all.iter().filter(|(p, _)| p.to_string_lossy().contains(other)) {
        let twin = all.iter().find(|(q, _)| q.file_name() == p.file_name() && q != p).unwrap();
        let (a, b) =
            (std::fs::metadata(st.archive().join(p)).unwrap(), std::fs::metadata(st.archive().join(&twin.0)).unwrap());
        assert_eq!(a.ino(), b.ino(), "same file, not a copy");
    }
    let show = ok(st.evidock(&["case", "show", other, "--json"]));
    let v: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(v["files"].as_array().unwrap().len(), 3);
    assert_eq!(v["files"][0]["linked"], true);
    assert_eq!(st.actions().iter().filter(|a| *a == "footage_assigned").count(), 6);
    st.assert_log_verifies();
}

#[test]
fn a_move_interrupted_by_a_crash_is_finished_or_abandoned_at_the_next_start() {
    let mut st = Station::new();
    st.register("H700002");
    let (vol, _) = st.sim("V2", &["--serial", "H700002", "--segments", "2", "--segment-bytes", "10000"]);
    ok(st.evidock(&["ingest", vol.to_str().unwrap()]));
    ok(st.evidock(&["case", "create", CASE, "--officer", "012345"]));
    let files: Vec<(i64, String, String)> = st
        .db()
        .prepare("SELECT id, archive_path, blake3 FROM files WHERE source LIKE 'DCIM/%' ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    // As the filer leaves things when killed: both moves recorded; the first renamed, the
    // second not yet.
    let db = rusqlite::Connection::open(st.path("state/catalog.sqlite")).unwrap();
    let mut targets = Vec::new();
    for (id, path, _) in &files {
        let to = path.replace("未关联案件+UNASSIGNED", CASE);
        db.execute(
            "INSERT INTO moves (file_id, case_id, from_path, to_path, state, started) VALUES (?1, 1, ?2, ?3, 'pending', 'x')",
            rusqlite::params![id, path, to],
        )
        .unwrap();
        targets.push(to);
    }
    drop(db);
    std::fs::create_dir_all(st.archive().join(&targets[0]).parent().unwrap()).unwrap();
    std::fs::rename(st.archive().join(&files[0].1), st.archive().join(&targets[0])).unwrap();

    st.start();
    let paths: Vec<String> = st
        .db()
        .prepare("SELECT archive_path FROM files WHERE source LIKE 'DCIM/%' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(paths, vec![targets[0].clone(), files[1].1.clone()], "first finished, second abandoned");
    assert_eq!(b3(&st.archive().join(&targets[0])), files[0].2, "hash intact");
    let states: Vec<String> = st
        .db()
        .prepare("SELECT state FROM moves ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(states, vec!["done", "abandoned"]);
    let recovered: String = st
        .db()
        .query_row("SELECT details FROM custody_log WHERE action = 'footage_assigned'", [], |r| r.get(0))
        .unwrap();
    assert!(recovered.contains("\"recovered\":true"), "{recovered}");
    st.assert_log_verifies();
}

#[test]
fn an_unexplained_gap_stays_open_until_explained_in_writing() {
    let st = Station::new();
    st.register("H700003");
    let (vol, _) =
        st.sim("V3", &["--serial", "H700003", "--segments", "3", "--segment-bytes", "10000", "--fault", "gap"]);
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "an unexplained gap needs review: {}", crate::support::text(&o));
    let open = ok(st.evidock(&["gap", "list", "--open", "--json"]));
    let gap: serde_json::Value = serde_json::from_str(open.lines().next().expect("one open gap")).unwrap();
    assert_eq!(gap["explanation"], serde_json::Value::Null);
    let id = gap["id"].as_i64().unwrap().to_string();
    ok(st.evidock(&[
        "gap",
        "explain",
        &id,
        "--text",
        "现场当事人遮挡镜头，执法人员口头说明后继续录制",
        "--by",
        "012345",
    ]));
    assert_eq!(ok(st.evidock(&["gap", "list", "--open"])), "", "no open gap left");
    let again = st.evidock(&["gap", "explain", &id, "--text", "another", "--by", "012345"]);
    assert_eq!(again.status.code(), Some(2), "an explanation is never replaced: {}", crate::support::text(&again));
    assert!(st.actions().contains(&"gap_explained".to_string()));
    st.assert_log_verifies();
}

#[test]
fn a_crash_right_after_the_rename_of_a_case_move_is_recovered_at_the_next_start() {
    let mut st = Station::new();
    st.register("H700004");
    let (vol, _) = st.sim("V4", &["--serial", "H700004", "--segments", "2", "--segment-bytes", "10000"]);
    ok(st.evidock(&["ingest", vol.to_str().unwrap()]));
    let before: Vec<String> = st.archived_footage().into_iter().map(|(_, h)| h).collect();
    ok(st.evidock(&["case", "create", CASE, "--officer", "012345"]));
    let session: String = st.db().query_row("SELECT session FROM segments LIMIT 1", [], |r| r.get(0)).unwrap();
    let o = std::process::Command::new(crate::support::bin())
        .arg("--config")
        .arg(&st.config)
        .args(["case", "assign", CASE, "--session", &format!("H700004/{session}")])
        .env("EVIDOCK_FAILPOINTS", "assign.after-rename")
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(o.status.signal(), Some(6), "the failpoint aborts: {}", crate::support::text(&o));
    st.start();
    let after = st.archived_footage();
    assert_eq!(after.len(), 2);
    for (p, h) in &after {
        assert!(before.contains(h), "hash intact");
        let catalogued: i64 = st
            .db()
            .query_row("SELECT COUNT(*) FROM files WHERE archive_path = ?1", [p.to_string_lossy()], |r| r.get(0))
            .unwrap();
        assert_eq!(catalogued, 1, "the catalogue points where the file is: {}", p.display());
    }
    st.assert_log_verifies();
}

/// Every file and folder the station writes (archive, salvaged parts, case folders, the
/// catalogue and its journal, keys, checkpoints, status, burn staging, disc images) is closed
/// to other users: no group or other permission bits, after every write path, even when the
/// commands are started from a shell whose umask is 022 (R13).
#[test]
fn nothing_the_station_writes_is_open_to_other_users() {
    use std::os::unix::fs::PermissionsExt;
    let st = Station::new();
    std::fs::write(
        &st.config,
        std::fs::read_to_string(&st.config).unwrap() + "[burn]\nstaging_dir = \"burn\"\ncopies = 1\n",
    )
    .unwrap();
    st.register("P700001");
    let (vol, summary) =
        st.sim("P1", &["--serial", "P700001", "--sessions", "2", "--segments", "2", "--segment-bytes", "20000"]);
    // A read error too, so a salvaged part and its list of unreadable ranges are written.
    let bad = summary["segments"][1]["path"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let o = std::process::Command::new(crate::support::bin())
        .arg("--config")
        .arg(&st.config)
        .args(["ingest", vol.to_str().unwrap()])
        .env("EVIDOCK_FAIL_READ", format!("{bad}:5000-9000"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", crate::support::text(&o));
    let session: String = st.db().query_row("SELECT min(session) FROM segments", [], |r| r.get(0)).unwrap();
    let window = format!("{},{}", yesterday("00:00"), yesterday("23:59"));
    for args in [
        vec!["case", "create", "权限案", "--officer", "012345", "--kind", "penalty", "--window", &window],
        vec!["case", "assign", "权限案"],
        vec!["log", "checkpoint"],
        vec!["burn", "run", "--media", "dvd"],
    ] {
        let mut args = args.clone();
        let assign = format!("P700001/{session}");
        if args[1] == "assign" {
            args.extend(["--session", &assign]);
        }
        let o = st.evidock(&args);
        assert!(o.status.code().is_some_and(|c| c <= 1), "{args:?}: {}", crate::support::text(&o));
    }
    let mut open = Vec::new();
    let mut seen = 0;
    for root in ["archive", "state", "burn"] {
        let root = st.path(root);
        assert!(root.exists(), "{} was written", root.display());
        let mut stack = vec![root];
        while let Some(p) = stack.pop() {
            let meta = std::fs::symlink_metadata(&p).unwrap();
            seen += 1;
            // The public verifier key is meant to be handed out (mode 0644, in a closed folder).
            let public = p.file_name().is_some_and(|n| n == "custody-signing.pub");
            if meta.permissions().mode() & 0o077 != 0 && !public {
                open.push(format!("{:o} {}", meta.permissions().mode() & 0o7777, p.display()));
            }
            if meta.is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            }
        }
    }
    assert!(seen > 30, "the sweep saw the station's files: {seen}");
    assert!(open.is_empty(), "open to other users:\n{}", open.join("\n"));
}
