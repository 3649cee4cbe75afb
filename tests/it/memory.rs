//! The dock's memory of each recorder (`docs/RECORDER-FORMAT.md` §5, §11) and findings about
//! the right file: a later docking that does not continue the last link, numbers or session
//! ids used before, another recorder's serial, an END that disagrees, duplicate records and
//! files, and hostile chains that would flood the log. Each contradiction is named in the
//! custody log, in `status` and by exit 1; the same footage docked again is no replay (R5, R13).

use std::path::{Path, PathBuf};

use evidock::recorder::format::{ChainFile, Record, SegmentName};
use serde_json::Value;

use crate::support::{copy_tree, files_under, Station};

const SERIAL: &str = "M100001";

/// `evidock ingest` of a volume: exit code and stdout.
fn ingest(st: &Station, vol: &Path) -> (Option<i32>, String) {
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "ingest could not run: {:?}\n{out}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code(), out)
}

/// Contradictions recorded in the custody log: (kind, session, detail, Chinese detail).
fn contradictions(st: &Station) -> Vec<(String, Option<String>, String, String)> {
    let db = st.db();
    let mut q = db
        .prepare(
            "SELECT json_extract(details, '$.kind'), json_extract(details, '$.session'), json_extract(details, '$.detail'),
                    json_extract(details, '$.detail_zh')
             FROM custody_log WHERE action = 'contradiction_found' ORDER BY seq",
        )
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect()
}

fn kinds(st: &Station) -> Vec<String> {
    contradictions(st).into_iter().map(|c| c.0).collect()
}

fn count(st: &Station, action: &str) -> i64 {
    st.db().query_row("SELECT COUNT(*) FROM custody_log WHERE action = ?1", [action], |r| r.get(0)).unwrap()
}

/// A simulated recorder volume of `SERIAL`, 2 sessions of 2 segments, and its summary.
fn sim(st: &Station, name: &str, extra: &[&str]) -> (PathBuf, Value) {
    sized(st, name, 2, 2, extra)
}

/// A simulated recorder volume of `SERIAL` with `sessions` of `segments`, and its summary.
fn sized(st: &Station, name: &str, sessions: u32, segments: u32, extra: &[&str]) -> (PathBuf, Value) {
    let (sessions, segments) = (sessions.to_string(), segments.to_string());
    let mut args =
        vec!["--serial", SERIAL, "--sessions", &sessions, "--segments", &segments, "--segment-bytes", "20000"];
    args.extend_from_slice(extra);
    st.sim(name, &args)
}

/// The volume of the recorder's next docking: sessions starting at 14:00, continuing `prev`'s
/// numbers (and last link, when `linked`).
fn next_volume(st: &Station, name: &str, prev: &Value, linked: bool) -> PathBuf {
    let first = prev["next_seq"].to_string();
    let mut args = vec!["--start", "2024-06-01T14:00:00", "--first-seq", first.as_str(), "--seed", "2"];
    let tail = prev["tail"].as_str().unwrap().to_string();
    if linked {
        args.extend_from_slice(&["--prev-tail", tail.as_str()]);
    }
    sim(st, name, &args).0
}

/// Rewrites a chain file's records (links recomputed, as a recorder would write them).
fn rewrite_chain(path: &Path, edit: impl FnOnce(&mut Vec<Record>)) {
    let chain = ChainFile::parse(&std::fs::read(path).unwrap());
    assert!(chain.bad_lines.is_empty());
    let mut records: Vec<Record> = chain.records.into_iter().map(|l| l.record).collect();
    edit(&mut records);
    std::fs::write(path, ChainFile::render(&records)).unwrap();
}

fn chain_files(vol: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(vol.join("ZFY/CHAIN")).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn the_same_footage_docked_again_and_the_next_docking_after_a_wipe_are_no_replay() {
    let st = Station::with_ingest("wipe_after_verify = false");
    st.register(SERIAL);
    let (v1, s1) = sim(&st, "V1", &["--start", "2024-06-01T09:00:00"]);
    let (code, out) = ingest(&st, &v1);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(count(&st, "session_remembered"), 2);
    // Not wiped (wipe_after_verify is off), docked again as it is: the same sessions.
    let (code, out) = ingest(&st, &v1);
    assert_eq!(code, Some(0), "a recorder docked again is no replay: {out}\n{:?}", contradictions(&st));
    // Not wiped, and the recorder recorded more: the old sessions and the new ones together.
    let v2 = next_volume(&st, "V2", &s1, true);
    copy_tree(&v1.join("ZFY/CHAIN"), &v2.join("ZFY/CHAIN"));
    copy_tree(&v1.join("DCIM"), &v2.join("DCIM"));
    let (code, out) = ingest(&st, &v2);
    assert_eq!(code, Some(0), "{out}\n{:?}", contradictions(&st));
    assert_eq!(count(&st, "session_remembered"), 4, "the new sessions only");
    assert!(kinds(&st).is_empty());
    st.assert_log_verifies();

    // A station that wipes: the next docking holds only the new sessions, which continue the
    // last link the dock remembers.
    let st = Station::new();
    st.register(SERIAL);
    let (v1, s1) = sim(&st, "W1", &["--start", "2024-06-01T09:00:00"]);
    assert_eq!(ingest(&st, &v1).0, Some(0));
    assert!(files_under(&v1.join("DCIM")).is_empty() && chain_files(&v1).is_empty(), "wiped");
    let v2 = next_volume(&st, "W2", &s1, true);
    let (code, out) = ingest(&st, &v2);
    assert_eq!(code, Some(0), "{out}\n{:?}", contradictions(&st));
    let remembered: Vec<(String, String)> = st
        .db()
        .prepare("SELECT session, next_seq FROM chain_sessions ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(remembered.len(), 4, "{remembered:?}");
    assert_eq!(remembered[3].1, "9", "one past the last number used");
    st.assert_log_verifies();
}

#[test]
fn a_later_docking_that_does_not_continue_the_last_link_is_named_in_the_log_in_status_and_by_exit_1() {
    let mut st = Station::new();
    st.register(SERIAL);
    let (v1, s1) = sim(&st, "V1", &["--start", "2024-06-01T09:00:00"]);
    assert_eq!(ingest(&st, &v1).0, Some(0));
    // The next docking's first session claims to be the recorder's first (`-`).
    let v2 = next_volume(&st, "V2", &s1, false);
    let (code, out) = ingest(&st, &v2);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("contradiction(s)") && out.contains("需复核"), "{out}");
    let c = contradictions(&st);
    assert_eq!(kinds(&st), vec!["link_not_continued"], "{c:?}");
    assert!(c[0].2.contains("claims the device's first session") && c[0].2.contains("at docking 1"), "{c:?}");
    assert!(c[0].3.contains("声称是该设备的第一个会话"), "{c:?}");
    let intact: i64 =
        st.db().query_row("SELECT MIN(links_intact) FROM sessions WHERE docking_id = 2", [], |r| r.get(0)).unwrap();
    assert_eq!(intact, 0);

    // A made-up previous link, docked through the daemon: the bay says so in both languages.
    let (v3, _) = sim(
        &st,
        "V3",
        &["--start", "2024-06-02T09:00:00", "--first-seq", "9", "--seed", "3", "--prev-tail", &"ab".repeat(32)],
    );
    st.start();
    st.dock(&v3, "V3");
    let bay = st.wait_finished("V3");
    assert_eq!(bay["phase"], "attention", "{bay:#}");
    assert_eq!(bay["contradictions"], 1, "{bay:#}");
    let line = bay["contradiction_lines"][0].as_str().unwrap();
    assert!(line.starts_with("link_not_continued 哈希链未衔接: ") && line.contains("哈希链未衔接"), "{line}");
    assert!(bay["message"].as_str().unwrap().contains("review / "), "{bay:#}");
    let o = st.evidock(&["status"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("contradictions 矛盾: 1\n    ! link_not_continued 哈希链未衔接: "), "{text}");
    assert!(text.contains("names abababababab as the previous session's last link"), "{text}");
    assert!(text.contains("(1 contradictions 处矛盾: review 需复核)"), "{text}");
    st.stop();
    st.assert_log_verifies();
}

#[test]
fn sequence_numbers_and_session_ids_used_before_are_contradictions() {
    let st = Station::new();
    st.register(SERIAL);
    let (v1, s1) = sim(&st, "V1", &["--start", "2024-06-01T09:00:00"]);
    assert_eq!(ingest(&st, &v1).0, Some(0));
    // Linked to the last link, but starting at a number already used (seq 1 to 4 were).
    let tail = s1["tail"].as_str().unwrap();
    let (v2, _) = sim(&st, "V2", &["--start", "2024-06-01T14:00:00", "--first-seq", "3", "--prev-tail", tail]);
    assert_eq!(ingest(&st, &v2).0, Some(1));
    let c = contradictions(&st);
    assert_eq!(kinds(&st), vec!["seq_reused"], "{c:?}");
    assert!(c[0].2.contains("uses sequence number 3 to 4 again") && c[0].2.contains("use numbers up to 4"), "{c:?}");

    // The first docking's sessions again, with other records (same ids: same start and
    // numbers, other content): the ids were seen before.
    let st = Station::new();
    st.register(SERIAL);
    let (v1, _) = sim(&st, "W1", &["--start", "2024-06-01T09:00:00"]);
    assert_eq!(ingest(&st, &v1).0, Some(0));
    let (v2, _) = sim(&st, "W2", &["--start", "2024-06-01T09:00:00", "--seed", "7"]);
    assert_eq!(ingest(&st, &v2).0, Some(1));
    let c = contradictions(&st);
    assert_eq!(kinds(&st), vec!["session_reused", "session_reused"], "{c:?}");
    assert!(c[0].2.contains("was seen at docking 1") && c[0].3.contains("已在第 1 次接入时出现"), "{c:?}");
    // The footage is evidence all the same: archived, not verified away.
    assert_eq!(st.archived_footage().len(), 8);
    st.assert_log_verifies();
}

#[test]
fn footage_of_another_recorder_under_an_edited_identity_is_not_verified_under_it_and_is_held() {
    let st = Station::new();
    st.register("M100002");
    let (vol, _) =
        st.sim("A", &["--serial", "M100001", "--sessions", "1", "--segments", "3", "--segment-bytes", "20000"]);
    // The identity is GBK text: the ASCII serial is edited in place.
    let id = vol.join("ZFYINFO.TXT");
    let mut bytes = std::fs::read(&id).unwrap();
    let pos = bytes.windows(14).position(|w| w == b"serial=M100001").unwrap();
    bytes[pos + 13] = b'2';
    std::fs::write(&id, bytes).unwrap();
    let before = files_under(&vol);
    let (code, out) = ingest(&st, &vol);
    assert_eq!(code, Some(1), "{out}");
    let verdicts: Vec<(String, String)> = st
        .db()
        .prepare("SELECT serial, verdict FROM segments ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(verdicts.len(), 3);
    assert!(verdicts.iter().all(|(s, v)| s == "M100002" && v == "inserted"), "{verdicts:?}");
    assert_eq!(kinds(&st), vec!["serial_mismatch"]);
    assert_eq!(count(&st, "identity_conflict"), 1);
    assert_eq!((count(&st, "segment_wiped"), count(&st, "wipe_skipped")), (0, 1));
    assert!(out.contains("carry M100001") && out.contains("设备身份冲突"), "{out}");
    // Held as evidence: nothing removed, nothing written (not even the clock request).
    assert_eq!(files_under(&vol), before);
    assert_eq!(st.archived_footage().len(), 3);
    assert_eq!(count(&st, "session_remembered"), 0, "another recorder's sessions are not this one's memory");
    st.assert_log_verifies();
}

#[test]
fn an_end_record_that_disagrees_makes_its_session_need_review() {
    for (what, edit) in [("count", 1u64), ("last sequence number", 0)] {
        let st = Station::new();
        st.register(SERIAL);
        let (vol, _) = sized(&st, "E", 1, 3, &[]);
        let chain = &chain_files(&vol)[0];
        rewrite_chain(chain, |records| {
            if let Some(Record::Close { last_seq, segments, .. }) = records.last_mut() {
                if edit == 1 {
                    *segments += 1;
                } else {
                    *last_seq -= 1;
                }
            }
        });
        let (code, out) = ingest(&st, &vol);
        assert_eq!(code, Some(1), "{what}: {out}");
        assert!(out.contains("review / "), "{out}");
        let state: String = st.db().query_row("SELECT state FROM sessions", [], |r| r.get(0)).unwrap();
        assert_eq!(state, "end_mismatch", "{what}");
        let c = contradictions(&st);
        assert_eq!(kinds(&st), vec!["end_mismatch"], "{what}: {c:?}");
        assert!(c[0].2.contains("needs review") && c[0].3.contains("需复核"), "{c:?}");
        // The footage itself verified: flagged for review, not for tampering.
        let flagged: i64 =
            st.db().query_row("SELECT COUNT(*) FROM segments WHERE verdict != 'verified'", [], |r| r.get(0)).unwrap();
        assert_eq!(flagged, 0);
        st.assert_log_verifies();
    }
}

/// Each segment row names its file, and no two rows point at one archived copy.
fn rows_by_file(st: &Station) -> Vec<(String, String, String, String)> {
    st.db()
        .prepare(
            "SELECT s.verdict, f.source, f.archive_path, s.detail FROM segments s JOIN files f ON f.id = s.file_id
             ORDER BY f.source",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn duplicate_records_chain_files_and_file_names_never_make_a_file_on_the_volume_missing() {
    // A chain file copied under another name.
    let st = Station::new();
    st.register(SERIAL);
    let (vol, _) = sim(&st, "D1", &[]);
    let first = chain_files(&vol)[0].clone();
    std::fs::copy(&first, first.with_file_name("COPY-OF-FIRST.CHN")).unwrap();
    assert_eq!(ingest(&st, &vol).0, Some(1));
    let rows = rows_by_file(&st);
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r.0 == "verified"), "{rows:#?}");
    let missing: i64 =
        st.db().query_row("SELECT COUNT(*) FROM segments WHERE verdict = 'missing'", [], |r| r.get(0)).unwrap();
    assert_eq!(missing, 0);
    assert_eq!(kinds(&st), vec!["session_reused"]);
    assert!(contradictions(&st)[0].2.contains("with the same records"));

    // The same SEG record twice (linked, as a faulty recorder would write it).
    let st = Station::new();
    st.register(SERIAL);
    let (vol, _) = sim(&st, "D2", &[]);
    // In the last session: an earlier one's records changed would change its last link.
    rewrite_chain(&chain_files(&vol)[1], |records| {
        let at = records.iter().position(|r| matches!(r, Record::Segment { .. })).unwrap();
        let again = records[at].clone();
        records.insert(at + 1, again);
    });
    assert_eq!(ingest(&st, &vol).0, Some(1));
    let rows = rows_by_file(&st);
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r.0 == "verified" && !r.3.contains("not on the volume")), "{rows:#?}");
    assert_eq!(kinds(&st), vec!["duplicate_record"]);

    // One name in two dated folders: the same bytes, then other bytes. Each file is archived
    // under its own name with its own row and verdict.
    for same in [true, false] {
        let st = Station::new();
        st.register(SERIAL);
        let (vol, summary) = sim(&st, "D3", &[]);
        let path = summary["segments"][1]["path"].as_str().unwrap();
        let name = Path::new(path).file_name().unwrap();
        let other = vol.join("DCIM/20990101");
        std::fs::create_dir_all(&other).unwrap();
        let mut bytes = std::fs::read(vol.join(path)).unwrap();
        if !same {
            bytes[0] ^= 1;
        }
        std::fs::write(other.join(name), &bytes).unwrap();
        let hashes: std::collections::BTreeMap<String, String> = files_under(&vol.join("DCIM"))
            .into_iter()
            .map(|p| (format!("DCIM/{}", p.display()), crate::support::b3(&vol.join("DCIM").join(&p))))
            .collect();
        let (code, out) = ingest(&st, &vol);
        assert_eq!(code, Some(1), "{out}");
        let rows = rows_by_file(&st);
        assert_eq!(rows.len(), 5, "{rows:#?}");
        let archived: std::collections::BTreeSet<&String> = rows.iter().map(|r| &r.2).collect();
        assert_eq!(archived.len(), 5, "each file its own archived copy: {rows:#?}");
        for (verdict, source, archive_path, detail) in &rows {
            let expect = if source.starts_with("DCIM/20990101/") { "inserted" } else { "verified" };
            assert_eq!(verdict, expect, "{source}: {detail}");
            assert_eq!(crate::support::b3(&st.archive().join(archive_path)), hashes[source], "{source}");
        }
        let second = rows.iter().find(|r| r.1.starts_with("DCIM/20990101/")).unwrap();
        assert!(second.3.contains(&format!("is a second file named {}", name.to_string_lossy())), "{}", second.3);
        assert_eq!(count(&st, "segment_copied"), 5 + 2, "footage and chain files, each its own event");
        st.assert_log_verifies();
    }
}

#[test]
fn a_chain_of_tens_of_kib_with_long_runs_of_missing_numbers_is_bounded() {
    let st = Station::new();
    st.register(SERIAL);
    let (vol, _) = sized(&st, "H", 1, 1, &[]);
    // 200 records 999 numbers apart (some 45 KiB): almost 200,000 absent numbers. Before, each
    // was a finding, a catalogue row and a custody event.
    let chain = &chain_files(&vol)[0];
    rewrite_chain(chain, |records| {
        let genesis = records[0].clone();
        let template = records.iter().find(|r| matches!(r, Record::Segment { .. })).unwrap().clone();
        let close = records.last().unwrap().clone();
        records.clear();
        records.push(genesis);
        let mut last = 0;
        for i in 0..200u64 {
            let mut r = template.clone();
            if let Record::Segment { seq, name, .. } = &mut r {
                *seq = 1 + i * 999;
                last = *seq;
                let mut n = SegmentName::parse(name).unwrap();
                n.seq = *seq;
                *name = n.render();
            }
            records.push(r);
        }
        let mut close = close;
        if let Record::Close { last_seq, segments, .. } = &mut close {
            *last_seq = last;
            *segments = 200;
        }
        records.push(close);
    });
    assert!(std::fs::metadata(chain).unwrap().len() < 64 * 1024);
    let (code, out) = ingest(&st, &vol);
    assert_eq!(code, Some(1), "{out}");
    let events: i64 = st.db().query_row("SELECT COUNT(*) FROM custody_log", [], |r| r.get(0)).unwrap();
    assert!(events < 1100, "{events} custody events");
    let rows: i64 = st.db().query_row("SELECT COUNT(*) FROM segments", [], |r| r.get(0)).unwrap();
    assert!(rows <= 1002, "{rows} segment rows");
    let runs: Vec<(i64, String)> = st
        .db()
        .prepare("SELECT seq, detail FROM segments WHERE name IS NULL ORDER BY seq LIMIT 2")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(runs[0], (2, "sequence numbers 2 to 999 (998 numbers) are absent".to_string()), "{runs:?}");
    st.assert_log_verifies();
}

/// `catalogue_mismatch` events about the dock's memory: their details.
fn memory_mismatches(st: &Station) -> Vec<Value> {
    let db = st.db();
    let mut q = db
        .prepare(
            "SELECT details FROM custody_log WHERE action = 'catalogue_mismatch'
             AND json_extract(details, '$.what') = 'dock memory' ORDER BY seq",
        )
        .unwrap();
    q.query_map([], |r| r.get::<_, String>(0)).unwrap().map(|d| serde_json::from_str(&d.unwrap()).unwrap()).collect()
}

#[test]
fn the_dock_memory_is_checked_against_the_custody_log_and_the_log_is_used() {
    // Edited in the catalogue: the last link (a made-up one the next docking "continues"), or
    // a number no longer parseable. The log's memory is used: the genuine next docking is no
    // contradiction, and the edit is an alarm (INV-16, INV-17).
    for edit in [
        "UPDATE chain_sessions SET tail = '00' || substr(tail, 3) WHERE id = (SELECT MAX(id) FROM chain_sessions)",
        "UPDATE chain_sessions SET next_seq = 'many' WHERE id = (SELECT MAX(id) FROM chain_sessions)",
        "UPDATE chain_sessions SET next_seq = '3'",
    ] {
        let st = Station::new();
        st.register(SERIAL);
        let (v1, s1) = sim(&st, "V1", &["--start", "2024-06-01T09:00:00"]);
        assert_eq!(ingest(&st, &v1).0, Some(0));
        st.open_log_for_tampering().execute_batch(edit).unwrap();
        let v2 = next_volume(&st, "V2", &s1, true);
        let (_, out) = ingest(&st, &v2);
        assert!(kinds(&st).is_empty(), "{edit}: the log's memory is continued: {out}\n{:?}", contradictions(&st));
        let found = memory_mismatches(&st);
        assert_eq!(found.len(), 1, "{edit}: {found:?}");
        assert_eq!(found[0]["serial"], SERIAL);
        assert!(found[0]["text"].as_str().unwrap().contains("edited"), "{found:?}");
        // In `status`, both languages, while the catalogue still contradicts the log.
        let o = st.evidock(&["status"]);
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(text.contains("dock memory") && text.contains("记录仪记忆"), "{text}");
        st.assert_log_verifies();
    }

    // Deleted: the replayed sessions are named all the same, from the log.
    let st = Station::new();
    st.register(SERIAL);
    let (v1, _) = sim(&st, "W1", &["--start", "2024-06-01T09:00:00"]);
    assert_eq!(ingest(&st, &v1).0, Some(0));
    st.open_log_for_tampering().execute_batch("DELETE FROM chain_sessions").unwrap();
    let (v2, _) = sim(&st, "W2", &["--start", "2024-06-01T09:00:00", "--seed", "7"]);
    assert_eq!(ingest(&st, &v2).0, Some(1));
    assert_eq!(kinds(&st), vec!["session_reused", "session_reused"], "{:?}", contradictions(&st));
    let found = memory_mismatches(&st);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0]["text"].as_str().unwrap().contains("deleted"), "{found:?}");
    st.assert_log_verifies();
}

#[test]
fn the_compliance_report_lists_the_contradictions_of_its_period() {
    let st = Station::new();
    st.register(SERIAL);
    let (v1, s1) = sim(&st, "V1", &["--start", "2024-06-01T09:00:00"]);
    assert_eq!(ingest(&st, &v1).0, Some(0));
    let v2 = next_volume(&st, "V2", &s1, false);
    assert_eq!(ingest(&st, &v2).0, Some(1));
    // The dock memory edited in the catalogue, then found at the next docking: an alarm.
    st.open_log_for_tampering().execute_batch("UPDATE chain_sessions SET next_seq = '1'").unwrap();
    let (v3, _) = sim(&st, "V3", &["--start", "2024-06-02T09:00:00", "--first-seq", "20", "--seed", "3"]);
    ingest(&st, &v3);
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive().to_string();
    let report = |format: &str| {
        let o = st.evidock(&["report", "compliance", "--from", &today, "--to", &today, "--format", format]);
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let table = report("table");
    assert!(table.contains("记录仪哈希链与本站记忆的矛盾 Contradictions"), "{table}");
    assert!(table.contains("[link_not_continued]") && table.contains("docking 接入 #2"), "{table}");
    assert!(table.contains("[dock_memory_edited]") && table.contains("记录仪记忆被改动"), "{table}");
    let json: Value = serde_json::from_str(&report("json")).expect("the JSON report parses");
    let kinds: Vec<&str> =
        json["contradictions"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"link_not_continued") && kinds.contains(&"dock_memory_edited"), "{json:#}");
    let csv = report("csv");
    assert!(csv.lines().any(|l| l.starts_with("R5,contradiction,") && l.contains(SERIAL)), "{csv}");
    let html = report("html");
    assert!(html.contains("<h2>记录仪哈希链与本站记忆的矛盾") && html.contains("link_not_continued"), "{html}");
    // Another period: none of them.
    let o = st.evidock(&["report", "compliance", "--from", "2020-01-01", "--to", "2020-01-02"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("[link_not_continued]"));
}

/// `catalogue_mismatch` events about the device's last sequence number: their details.
fn last_seq_mismatches(st: &Station) -> Vec<Value> {
    let db = st.db();
    let mut q = db
        .prepare(
            "SELECT details FROM custody_log WHERE action = 'catalogue_mismatch'
             AND json_extract(details, '$.what') = 'device last sequence number' ORDER BY seq",
        )
        .unwrap();
    q.query_map([], |r| r.get::<_, String>(0)).unwrap().map(|d| serde_json::from_str(&d.unwrap()).unwrap()).collect()
}

/// Missing runs recorded at the last docking: (first, last) numbers.
fn missing_runs(st: &Station) -> Vec<(i64, Option<i64>)> {
    let db = st.db();
    let mut q = db
        .prepare(
            "SELECT s.seq, json_extract(l.details, '$.seq_last') FROM segments s
             JOIN custody_log l ON l.action = 'segment_flagged' AND l.subject = 'segment:' || s.serial || '/' || s.seq
               AND json_extract(l.details, '$.docking') = s.docking_id
             WHERE s.verdict = 'missing' AND s.docking_id = (SELECT MAX(id) FROM dockings) ORDER BY s.seq",
        )
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

#[test]
fn the_devices_last_sequence_number_is_checked_against_the_custody_log() {
    // The next docking skips numbers 5 and 6 (footage removed before it was docked). Judged
    // from the device's last number: 5 to 6 missing. The catalogue's copy of that number
    // edited (higher, hiding the absent numbers; lower, inventing absent ones; erased) is an
    // alarm, and the log's number is used (INV-16, INV-30; R5, R11).
    for (edit, stored) in [
        (None, Some(4)),
        (Some("UPDATE devices SET last_seq = 6"), Some(6)),
        (Some("UPDATE devices SET last_seq = 0"), Some(0)),
        (Some("UPDATE devices SET last_seq = NULL"), None::<i64>),
    ] {
        let st = Station::new();
        st.register(SERIAL);
        let (v1, s1) = sim(&st, "V1", &["--start", "2024-06-01T09:00:00"]);
        assert_eq!(ingest(&st, &v1).0, Some(0));
        assert_eq!(s1["next_seq"], 5, "numbers 1 to 4 used");
        if let Some(edit) = edit {
            st.open_log_for_tampering().execute_batch(edit).unwrap();
        }
        let tail = s1["tail"].as_str().unwrap().to_string();
        let (v2, _) = sim(
            &st,
            "V2",
            &["--start", "2024-06-01T14:00:00", "--first-seq", "7", "--seed", "2", "--prev-tail", tail.as_str()],
        );
        let (_, out) = ingest(&st, &v2);
        assert_eq!(missing_runs(&st), vec![(5, Some(6))], "{edit:?}: judged from the log's number 4: {out}");
        let found = last_seq_mismatches(&st);
        if edit.is_none() {
            assert!(found.is_empty(), "{found:?}");
            continue;
        }
        assert_eq!(found.len(), 1, "{edit:?}: {found:?}");
        assert_eq!(found[0]["serial"], SERIAL);
        assert_eq!(found[0]["log"], "4", "{found:?}");
        assert_eq!(found[0]["catalogue"], stored.map_or(Value::Null, |n| Value::String(n.to_string())), "{found:?}");
        // In `status`, both languages, while the catalogue still contradicts the log.
        let o = st.evidock(&["status"]);
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(text.contains("last sequence number") && text.contains("最后序号"), "{edit:?}: {text}");
        st.assert_log_verifies();
    }
}

#[test]
fn sequence_number_two_to_the_64_minus_1_used_again_is_seq_reused() {
    use crate::values::{station_now, wall, Seg, Vol};
    // A recorder whose numbers reach the very last one, 2^64 - 1; its next docking starts a
    // new session, linked, at 2^64 - 1 again. A session's "one past its last number" stops at
    // 2^64 - 1, so that reuse passed unseen; it is named like any other (INV-25, INV-30).
    let now = station_now();
    let st = Station::new();
    let mut v = Vol::new(
        now,
        vec![Seg::new(u64::MAX - 1, "2024-05-02T09:30:00", 900), Seg::new(u64::MAX, "2024-05-02T09:40:00", 900)],
    );
    v.end = Some((u64::MAX, 2, wall("2024-05-02T09:50:00")));
    let vol = st.path("incoming/U1");
    v.write(&vol);
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", crate::support::text(&o));
    assert!(kinds(&st).is_empty(), "{:?}", contradictions(&st));
    let tail: String = st.db().query_row("SELECT tail FROM chain_sessions", [], |r| r.get(0)).unwrap();
    let tail = evidock::recorder::format::parse_hex(0, "tail", &tail).unwrap();

    let v = Vol::new(now, vec![Seg::new(u64::MAX, "2024-05-03T09:30:00", 800)]);
    let vol = st.path("incoming/U2");
    v.write(&vol);
    let chain = vol.join("ZFY/CHAIN/S1.CHN");
    rewrite_chain(&chain, |records| {
        if let Some(Record::Genesis { session, prev_tail, .. }) = records.first_mut() {
            *session = "S2".into();
            *prev_tail = Some(tail);
        }
    });
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "a contradiction: {}", crate::support::text(&o));
    let found: Vec<(String, Option<String>, Option<String>)> = st
        .db()
        .prepare(
            "SELECT json_extract(details, '$.kind'), json_extract(details, '$.session'),
                    json_extract(details, '$.seq_first') FROM custody_log WHERE action = 'contradiction_found'",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        found,
        vec![("seq_reused".to_string(), Some("S2".to_string()), Some(u64::MAX.to_string()))],
        "only the reuse, named at 2^64 - 1"
    );
    let (detail, detail_zh) = contradictions(&st).into_iter().map(|c| (c.2, c.3)).next().unwrap();
    assert!(detail.contains("18446744073709551615 again"), "{detail}");
    assert!(detail_zh.contains("18446744073709551615"), "{detail_zh}");
    st.assert_log_verifies();
}
