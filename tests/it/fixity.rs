//! Fixity against the custody log (R11, INV-16): an archived file changed together with its
//! catalogue hash never leaves in an export, an export's folder that contradicts its custody
//! extract is caught offline, and the archive scrub re-reads every file against the hash the
//! log recorded at its copy, paced, resumable, each finding an alarm and a custody event.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::access::{ok, state_of, station, text, CASE};
use crate::support::{files_under, wait_for, Station};

fn catalogue(st: &Station) -> rusqlite::Connection {
    rusqlite::Connection::open(st.path("state/catalog.sqlite")).unwrap()
}

/// The first archived footage file whose path contains `which`.
fn footage(st: &Station, which: &str) -> PathBuf {
    st.archived_footage().into_iter().map(|(p, _)| p).find(|p| p.to_string_lossy().contains(which)).unwrap()
}

/// Flips a byte of an archived file (as someone with the disk in hand could); returns the
/// original bytes.
fn flip(st: &Station, rel: &Path) -> Vec<u8> {
    let path = st.archive().join(rel);
    let original = std::fs::read(&path).unwrap();
    let mut forged = original.clone();
    forged[50] ^= 0x20;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::write(&path, &forged).unwrap();
    original
}

fn set_catalogue_hash(st: &Station, rel: &Path, hash: &str) {
    let n = catalogue(st)
        .execute(
            "UPDATE files SET blake3 = ?1 WHERE archive_path = ?2",
            [hash.to_string(), rel.to_string_lossy().into_owned()],
        )
        .unwrap();
    assert_eq!(n, 1, "{}", rel.display());
}

fn events(st: &Station, action: &str) -> Vec<serde_json::Value> {
    let db = st.db();
    let mut q = db.prepare("SELECT details FROM custody_log WHERE action = ?1 ORDER BY seq").unwrap();
    q.query_map([action], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
        .collect()
}

fn alarm_subjects(st: &Station) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_str(&ok(st.evidock(&["status", "--json"]))).unwrap();
    let mut v: Vec<String> =
        doc["alarms"].as_array().into_iter().flatten().map(|a| a["subject"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

fn b3hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

#[test]
fn a_file_changed_with_its_catalogue_hash_is_never_exported() {
    let mut st = station();
    st.start();
    ok(st.evidock(&[
        "access",
        "request",
        "--case",
        CASE,
        "--kind",
        "export",
        "--reason",
        "法院调取",
        "--party",
        "court",
        "--party-name",
        "某某区人民法院",
    ]));
    ok(st.evidock_as(65534, &["access", "approve", "1"]));
    let out = st.path("usb-drive");
    let victim = footage(&st, CASE);

    // The file and its catalogue hash changed together: refused before a byte leaves.
    let original = flip(&st, &victim);
    let forged = std::fs::read(st.archive().join(&victim)).unwrap();
    set_catalogue_hash(&st, &victim, &b3hex(&forged));
    let o = st.evidock(&["export", "--request", "1", "--to", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains("fixity check failed, export refused") && said.contains("校验失败，拒绝导出"), "{said}");
    assert!(said.contains(&victim.display().to_string()) && said.contains("the catalogue was altered"), "{said}");
    assert!(files_under(&out).is_empty(), "nothing on the drive: {:?}", files_under(&out));
    assert_eq!(state_of(&st, 1), "approved", "the approval is not spent");
    let found = events(&st, "catalogue_mismatch");
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0]["by"].as_str(), found[0]["expected"].as_str()),
        (Some("export"), Some(b3hex(&original).as_str()))
    );
    assert_eq!(alarm_subjects(&st), [format!("file:{}", victim.display())]);

    // The catalogue put back, the bytes left changed: caught as the bytes are read.
    set_catalogue_hash(&st, &victim, &b3hex(&original));
    let o = st.evidock(&["export", "--request", "1", "--to", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("differ from the hash the custody log recorded"), "{}", text(&o));
    assert!(files_under(&out).is_empty(), "nothing on the drive: {:?}", files_under(&out));
    let failed = events(&st, "fixity_failed");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["found"].as_str(), Some(b3hex(&forged).as_str()));
    let status = ok(st.evidock(&["status"]));
    assert!(status.contains("ALARM 警报: 2 open") && status.contains("文件内容与保管日志"), "{status}");

    // Put right, the export goes through, and its extract vouches for every exported file.
    std::fs::write(st.archive().join(&victim), &original).unwrap();
    ok(st.evidock(&["export", "--request", "1", "--to", out.to_str().unwrap()]));
    let dir = out.join("evidock-export-1");
    let key = st.path("state/custody-signing.pub");
    let v = ok(st.evidock(&["log", "verify-extract", "--dir", dir.to_str().unwrap(), "--key", key.to_str().unwrap()]));
    assert!(
        v.contains("2 file(s) checked against the hashes the custody log recorded") && v.contains("0 do not match"),
        "{v}"
    );
    st.assert_log_verifies();
}

/// Rewrites `path` inside an export folder, and its manifest lines, consistently.
fn forge_in_export(dir: &Path, rel: &str) -> String {
    let path = dir.join(rel);
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let (old_b3, old_sha) = (b3hex(&bytes), sha256(&bytes));
    bytes[10] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let new_b3 = b3hex(&bytes);
    for (m, old, new) in
        [("manifest-blake3.txt", old_b3.clone(), new_b3.clone()), ("manifest-sha256.txt", old_sha, sha256(&bytes))]
    {
        let text = std::fs::read_to_string(dir.join(m)).unwrap();
        std::fs::write(dir.join(m), text.replace(&old, &new)).unwrap();
    }
    new_b3
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn verify_extract_catches_an_export_that_contradicts_its_custody_extract() {
    let mut st = station();
    st.start();
    ok(st.evidock(&[
        "access",
        "request",
        "--case",
        CASE,
        "--kind",
        "export",
        "--reason",
        "法院调取",
        "--party",
        "court",
        "--party-name",
        "某某区人民法院",
    ]));
    ok(st.evidock_as(65534, &["access", "approve", "1"]));
    let out = st.path("usb-drive");
    ok(st.evidock(&["export", "--request", "1", "--to", out.to_str().unwrap()]));
    let good = out.join("evidock-export-1");
    let key = st.path("state/custody-signing.pub");
    let check = |dir: &Path| {
        st.evidock(&["log", "verify-extract", "--dir", dir.to_str().unwrap(), "--key", key.to_str().unwrap(), "--json"])
    };
    let v: serde_json::Value = serde_json::from_slice(&check(&good).stdout).unwrap();
    assert_eq!((v["intact"].as_bool(), v["files_checked"].as_u64()), (Some(true), Some(2)), "{v:#}");
    let files: Vec<String> = files_under(&good.join("data")).iter().map(|p| format!("data/{}", p.display())).collect();

    // A copied file changed, with manifests made to agree: its copy event says otherwise.
    let copy = |name: &str| {
        let d = st.path(name);
        crate::support::copy_tree(&good, &d);
        d
    };
    let forged = copy("forged");
    let new_hash = forge_in_export(&forged, &files[0]);
    let o = check(&forged);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let problems = v["files"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{v:#}");
    assert_eq!(problems[0]["path"], files[0].as_str());
    assert!(
        problems[0]["problem"].as_str().unwrap().contains("differ from the hash the custody log recorded"),
        "{v:#}"
    );
    // sha256sum alone is satisfied: only the custody log tells.
    let o = Command::new("sha256sum").args(["-c", "manifest-sha256.txt"]).current_dir(&forged).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));

    // The event shown beside the proof edited to the new hash too: the proven encoding is what
    // counts, and it still says the old one.
    let lines = std::fs::read_to_string(forged.join("custody/custody-extract.jsonl")).unwrap();
    let edited: String = lines
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if v["event"]["action"] == "segment_copied" {
                if let Some(d) = v["event"]["details"].as_object_mut() {
                    d.insert("blake3".into(), new_hash.clone().into());
                }
            }
            v.to_string() + "\n"
        })
        .collect();
    std::fs::write(forged.join("custody/custody-extract.jsonl"), edited).unwrap();
    assert_eq!(check(&forged).status.code(), Some(1));
    let o = st.evidock(&["log", "verify-extract", "--dir", forged.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    assert!(text(&o).contains("1 do not match") && text(&o).contains("个不符"), "{}", text(&o));

    // A file slipped into the export that no event records.
    let extra = copy("extra");
    let planted = Path::new(&files[0]).with_file_name("E500001_012345_20240101000000_999999.MP4");
    std::fs::write(extra.join(&planted), b"planted").unwrap();
    let o = check(&extra);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no event of the custody extract records this file"), "{}", text(&o));

    // A copied file removed and another archived file put in its name.
    let swapped = copy("swapped");
    std::fs::copy(good.join(&files[1]), swapped.join(&files[0])).unwrap();
    assert_eq!(check(&swapped).status.code(), Some(1));
    // The good export still verifies.
    assert!(check(&good).status.success());
}

// ---------------------------------------------------------------------------------------------
// The archive scrub

/// A station (no daemon) with one recorder ingested: `sessions` × `segments` files of `bytes`.
fn archive_of(serial: &str, sessions: &str, segments: &str, bytes: &str) -> Station {
    let st = Station::new();
    st.register(serial);
    let (vol, _) =
        st.sim("V", &["--serial", serial, "--sessions", sessions, "--segments", segments, "--segment-bytes", bytes]);
    ok(st.evidock(&["ingest", vol.to_str().unwrap()]));
    st
}

fn scrub(st: &Station, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut all = vec!["archive", "scrub", "--json"];
    all.extend_from_slice(args);
    let o = st.evidock(&all);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    (o.status.code(), v)
}

/// Every name the catalogue gives an archived file, and their total bytes.
fn names(st: &Station) -> (u64, u64) {
    st.db()
        .query_row("SELECT COUNT(*), SUM(size) FROM files WHERE purged IS NULL", [], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
        })
        .unwrap()
}

#[test]
fn the_scrub_rereads_every_file_against_the_log_and_names_each_finding() {
    let st = archive_of("G700001", "2", "3", "20000");
    let (n, bytes) = names(&st);
    let (code, v) = scrub(&st, &[]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(
        (v["complete"].as_bool(), v["run"]["files"].as_u64(), v["run"]["bytes"].as_u64()),
        (Some(true), Some(n), Some(bytes))
    );
    assert_eq!(v["pass_files"].as_u64(), Some(n));
    let done = events(&st, "archive_scrubbed");
    assert_eq!(done.len(), 1);
    assert_eq!((done[0]["complete"].as_bool(), done[0]["files"].as_u64()), (Some(true), Some(n)));
    assert!(done[0]["duration_ms"].is_u64() && done[0]["started"].is_string());

    // Four kinds of damage: bytes and catalogue hash changed together; a file deleted; the
    // catalogue's hash alone edited; a row for a file the log never recorded.
    let all: Vec<PathBuf> = st.archived_footage().into_iter().map(|(p, _)| p).collect();
    let (forged, deleted, edited) = (&all[0], &all[1], &all[2]);
    let original = flip(&st, forged);
    set_catalogue_hash(&st, forged, &b3hex(&std::fs::read(st.archive().join(forged)).unwrap()));
    let kept = std::fs::read(st.archive().join(deleted)).unwrap();
    std::fs::remove_file(st.archive().join(deleted)).unwrap();
    let edited_hash: String = st
        .db()
        .query_row("SELECT blake3 FROM files WHERE archive_path = ?1", [edited.to_string_lossy().into_owned()], |r| {
            r.get(0)
        })
        .unwrap();
    set_catalogue_hash(&st, edited, &"ab".repeat(32));
    let planted = "2024/01/01/未归档/G700001/planted.MP4";
    catalogue(&st)
        .execute(
            "INSERT INTO files (serial, source, size, blake3, archive_path, docking_id, stored, read_back, immutable)
             VALUES ('G700001', 'DCIM/x/planted.MP4', 7, ?1, ?2, 1, '2024-01-01T00:00:00+00:00', 'x', 0)",
            [b3hex(b"planted"), planted.to_string()],
        )
        .unwrap();

    let (code, v) = scrub(&st, &[]);
    assert_eq!(code, Some(1), "{v:#}");
    let run = &v["run"];
    assert_eq!(
        (run["differ"].as_u64(), run["missing"].as_u64(), run["catalogue"].as_u64()),
        (Some(1), Some(1), Some(3)),
        "{v:#}"
    );
    let texts: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["text"].as_str().unwrap()).collect();
    let has = |what: &str, path: &str| texts.iter().any(|t| t.contains(what) && t.contains(path));
    assert!(has("differ from the hash the custody log recorded", &forged.to_string_lossy()), "{texts:#?}");
    assert!(has("missing from the archive", &deleted.to_string_lossy()), "{texts:#?}");
    assert!(has("the catalogue was altered", &edited.to_string_lossy()), "{texts:#?}");
    assert!(has("the custody log records no archived file", planted), "{texts:#?}");
    assert_eq!(events(&st, "fixity_failed").len(), 2);
    assert_eq!(events(&st, "catalogue_mismatch").len(), 3);
    let subjects = alarm_subjects(&st);
    for p in [
        forged.to_string_lossy().into_owned(),
        deleted.to_string_lossy().into_owned(),
        edited.to_string_lossy().into_owned(),
        planted.to_string(),
    ] {
        assert!(subjects.contains(&format!("file:{p}")), "{p} in {subjects:?}");
    }
    let status = ok(st.evidock(&["status"]));
    assert!(
        status.contains("archive scrub 归档巡检: last complete pass 最近完成 #2") && status.contains("problems 问题 5"),
        "{status}"
    );
    // The compliance report carries the audit.
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive().to_string();
    let report = ok(st.evidock(&["report", "compliance", "--from", &today, "--to", &today]));
    assert!(
        report.contains("归档巡检 Archive fixity (R11)") && report.contains("Open alarms about archived files: 5"),
        "{report}"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(st.evidock(&[
        "report",
        "compliance",
        "--from",
        &today,
        "--to",
        &today,
        "--format",
        "json",
    ])))
    .unwrap();
    assert_eq!(json["fixity"]["last_complete"]["missing"].as_u64(), Some(1), "{json:#}");
    let csv = ok(st.evidock(&["report", "compliance", "--from", &today, "--to", &today, "--format", "csv"]));
    assert_eq!(csv.matches("archive-fixity").count(), 5, "{csv}");

    // Put right: the next pass finds nothing and clears every alarm.
    std::fs::write(st.archive().join(forged), &original).unwrap();
    set_catalogue_hash(&st, forged, &b3hex(&original));
    std::fs::write(st.archive().join(deleted), &kept).unwrap();
    set_catalogue_hash(&st, edited, &edited_hash);
    catalogue(&st).execute("DELETE FROM files WHERE archive_path = ?1", [planted]).unwrap();
    let (code, v) = scrub(&st, &[]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["run"]["cleared"].as_u64(), Some(4), "{v:#}");
    assert!(alarm_subjects(&st).is_empty(), "{:?}", alarm_subjects(&st));
    st.assert_log_verifies();
}

/// Starts `evidock archive scrub` in the background.
fn spawn_scrub(st: &Station, args: &[&str]) -> std::process::Child {
    Command::new(crate::support::bin())
        .arg("--config")
        .arg(&st.config)
        .args(["archive", "scrub"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn pass_row(st: &Station) -> (u64, u64, u64, Option<String>) {
    st.db()
        .query_row("SELECT files, cursor, runs, finished FROM scrub_passes ORDER BY id DESC LIMIT 1", [], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64, r.get(3)?))
        })
        .unwrap_or((0, 0, 0, None))
}

#[test]
fn a_scrub_killed_or_stopped_mid_pass_resumes_where_it_was_and_keeps_to_its_rate() {
    // Eight files of 256 KiB read at 256 KiB/s: about eight seconds for a pass.
    let st = archive_of("G700002", "1", "8", "262144");
    let (n, bytes) = names(&st);
    let mut child = spawn_scrub(&st, &["--rate", "262144"]);
    wait_for(60, "the scrub to record its first files", || (pass_row(&st).0 >= 1).then_some(()));
    child.kill().unwrap();
    child.wait().unwrap();
    let (files, cursor, runs, finished) = pass_row(&st);
    assert!(files < n && cursor > 0 && finished.is_none(), "killed mid-pass: {files}/{n}, cursor {cursor}");
    assert_eq!(runs, 1);
    assert!(events(&st, "archive_scrubbed").is_empty(), "a killed run writes no summary");

    // SIGTERM: the run stops at once, keeps its place, and says so.
    let child = spawn_scrub(&st, &["--rate", "262144", "--json"]);
    let at = pass_row(&st).0;
    wait_for(60, "the resumed scrub to move on", || (pass_row(&st).0 > at).then_some(()));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["complete"].as_bool(), Some(false), "{v:#}");
    let rate = v["run"]["rate_bytes_per_s"].as_u64().unwrap();
    assert!(rate <= 262_144 + 262_144 / 20, "paced to its limit: {rate} B/s");
    let paused = events(&st, "archive_scrubbed");
    assert_eq!((paused.len(), paused[0]["complete"].as_bool()), (1, Some(false)));

    // A time budget: stops by itself.
    let (code, v) = scrub(&st, &["--rate", "262144", "--max-seconds", "1"]);
    assert_eq!(code, Some(0), "{v:#}");
    assert!(v["complete"] == false || v["pass_files"].as_u64() == Some(n), "{v:#}");

    // The rest at full speed: the pass completes, each name counted once over its four runs,
    // and this run read only what was left.
    let (code, v) = scrub(&st, &[]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(
        (v["complete"].as_bool(), v["pass_files"].as_u64(), v["pass_bytes"].as_u64()),
        (Some(true), Some(n), Some(bytes)),
        "{v:#}"
    );
    assert!(v["run"]["bytes"].as_u64().unwrap() < bytes, "resumed, not restarted: {v:#}");
    assert_eq!(v["runs"].as_u64(), Some(4));
    // The next run begins a new pass.
    let (_, v) = scrub(&st, &[]);
    assert_eq!((v["pass"].as_i64(), v["run"]["bytes"].as_u64()), (Some(2), Some(bytes)));
}
