//! The limits a volume is scanned under (`ingest.max_files_per_volume`,
//! `ingest.max_segment_bytes`) never push real footage out, nor orphan its attestation: chain
//! files and footage take the budget before anything else, whatever sorts first, and a chain
//! file leaves the recorder only once every segment it attests that the recorder may hold is
//! durable and verified in the archive (INV-1, INV-6, R3, R5).

use std::path::Path;

use crate::support::{files_under, volume_footage, Station};
use crate::values::{assert_nothing_lost, contents};

/// Verdicts of the latest judgement of each segment of the device, by sequence number.
fn latest_verdicts(st: &Station, serial: &str) -> Vec<(i64, String)> {
    let db = st.db();
    let mut q = db
        .prepare(
            "SELECT seq, verdict FROM segments WHERE id IN (SELECT MAX(id) FROM segments WHERE serial = ?1 AND seq IS NOT NULL GROUP BY seq)
             ORDER BY seq",
        )
        .unwrap();
    q.query_map([serial], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

fn ingest(st: &Station, vol: &Path) -> (Option<i32>, String) {
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(!out.contains("panicked") && !out.contains("internal error"), "{out}");
    (o.status.code(), out)
}

fn chain_files(vol: &Path) -> Vec<std::path::PathBuf> {
    files_under(&vol.join("ZFY/CHAIN")).into_iter().filter(|p| p.to_string_lossy().ends_with(".CHN")).collect()
}

#[test]
fn junk_that_sorts_first_never_takes_the_budget_of_footage_and_chain_files() {
    let st = Station::with_ingest("max_files_per_volume = 6");
    st.register("F600020");
    let (vol, summary) = st.sim("J1", &["--serial", "F600020", "--segments", "3", "--segment-bytes", "20000"]);
    let real = volume_footage(&vol);
    // Junk in folders that sort before the dated one, each within the old per-folder limit; junk
    // in the dated folder itself, sorting before the segments; junk among the chain files.
    for f in 0..3 {
        let dir = vol.join(format!("DCIM/0000000{f}"));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..3 {
            std::fs::write(dir.join(format!("0JUNK{i}.MP4")), format!("junk {f} {i}")).unwrap();
        }
    }
    let dated = vol.join(summary["segments"][0]["path"].as_str().unwrap()).parent().unwrap().to_path_buf();
    for i in 0..2 {
        std::fs::write(dated.join(format!("0000junk{i}.txt")), format!("junk {i}")).unwrap();
    }
    for i in 0..20 {
        std::fs::write(vol.join(format!("ZFY/CHAIN/000{i:02}.txt")), "junk").unwrap();
    }
    let before = contents(&vol);

    let (code, out) = ingest(&st, &vol);
    assert_eq!(code, Some(1), "files are left for the next docking: {out}");
    assert!(
        out.contains("left on the recorder") && out.contains("dock it again") && out.contains("请再次接入"),
        "{out}"
    );
    // The real footage and its chain took the budget: archived, verified, wiped.
    let archived: Vec<String> = st.archived_footage().into_iter().map(|(_, h)| h).collect();
    for (name, h) in &real {
        assert!(archived.contains(h), "{name} archived");
    }
    let verdicts = latest_verdicts(&st, "F600020");
    assert_eq!(verdicts.len(), 3, "{verdicts:?}");
    assert!(verdicts.iter().all(|(_, v)| v == "verified"), "{verdicts:?}");
    for (name, _) in &real {
        assert!(!volume_footage(&vol).iter().any(|(n, _)| n == name), "{name} wiped once verified");
    }
    assert!(chain_files(&vol).is_empty(), "the chain file goes once all it attests is archived");
    let deferred: i64 = st
        .db()
        .query_row(
            "SELECT COUNT(*) FROM hostile WHERE what LIKE 'more files than ingest.max_files_per_volume%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(deferred, 9, "11 junk files, less the 2 the budget had room for");
    assert_nothing_lost(&st, &before, &vol);

    // Each later docking takes what is left, until nothing is.
    for _ in 0..2 {
        let (code, out) = ingest(&st, &vol);
        assert!(code == Some(1) || code == Some(0), "{out}");
    }
    assert_eq!(files_under(&vol.join("DCIM")), Vec::<std::path::PathBuf>::new(), "everything taken in three dockings");
    assert_nothing_lost(&st, &before, &vol);
}

#[test]
fn a_chain_file_stays_on_the_recorder_until_every_segment_it_attests_is_archived() {
    // More real footage than the budget: half of it now, the rest at the next docking.
    let st = Station::with_ingest("max_files_per_volume = 4");
    st.register("F600021");
    let (vol, _) = st.sim("K1", &["--serial", "F600021", "--segments", "6", "--segment-bytes", "20000"]);
    let before = contents(&vol);
    let (code, out) = ingest(&st, &vol);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(volume_footage(&vol).len(), 3, "three taken and wiped, three left: {out}");
    assert_eq!(chain_files(&vol).len(), 1, "the chain stays: it attests the three left");
    let skipped: String = st
        .db()
        .query_row(
            "SELECT details FROM custody_log WHERE action = 'wipe_skipped' AND subject LIKE 'file:F600021/ZFY/CHAIN/%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(skipped.contains("attests 3 segment(s) the archive does not hold yet"), "{skipped}");
    let detail: String = st
        .db()
        .query_row("SELECT detail FROM segments WHERE verdict = 'missing' ORDER BY seq LIMIT 1", [], |r| r.get(0))
        .unwrap();
    assert!(detail.starts_with("on the recorder but not taken at this docking"), "{detail}");
    assert_nothing_lost(&st, &before, &vol);
    // The next docking takes the rest, judged by the chain that stayed: verified, not unchained.
    let (code, out) = ingest(&st, &vol);
    assert_eq!(code, Some(0), "{out}");
    let verdicts = latest_verdicts(&st, "F600021");
    assert_eq!(verdicts.len(), 6, "{verdicts:?}");
    assert!(verdicts.iter().all(|(_, v)| v == "verified"), "{verdicts:?}");
    assert!(volume_footage(&vol).is_empty() && chain_files(&vol).is_empty(), "all wiped once all is archived");
    assert_nothing_lost(&st, &before, &vol);

    // A segment refused for its size stays on the recorder, and so does the chain that attests it.
    let st = Station::with_ingest("max_segment_bytes = 30000");
    st.register("F600022");
    let (vol, summary) = st.sim("K2", &["--serial", "F600022", "--segments", "3", "--segment-bytes", "20000"]);
    let big = vol.join(summary["segments"][1]["path"].as_str().unwrap());
    let f = std::fs::OpenOptions::new().append(true).open(&big).unwrap();
    f.set_len(40_000).unwrap();
    let before = contents(&vol);
    let (code, out) = ingest(&st, &vol);
    assert_eq!(code, Some(1), "{out}");
    assert!(big.exists(), "the oversized segment is left alone");
    assert_eq!(chain_files(&vol).len(), 1, "its chain file stays with it");
    assert_eq!(volume_footage(&vol).len(), 1, "the two others are archived and wiped");
    assert_nothing_lost(&st, &before, &vol);
}
