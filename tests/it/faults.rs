//! Every fault kind of the recorder contract yields its verdict at its position, through the
//! real binary and the catalogue (R5, R6). The fixtures are committed volumes; their
//! `<name>.json` summaries say where each fault went.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::support::{fixtures, Station};

/// Verdicts by sequence number (or by file name for unsequenced findings), sessions by
/// state, gaps as (after, before, reason).
struct Outcome {
    exit: Option<i32>,
    verdicts: BTreeMap<String, String>,
    sessions: Vec<String>,
    gaps: Vec<(i64, i64, Option<String>)>,
    provenance: Vec<String>,
}

fn ingest_fixture(name: &str) -> (Outcome, Value) {
    let st = Station::new();
    let src = fixtures().join(name);
    let summary: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join(format!("{name}.json"))).unwrap()).unwrap();
    let vol = st.path("incoming").join(name);
    crate::support::copy_tree(&src, &vol);
    crate::support::restamp(&vol);
    st.register(summary["serial"].as_str().unwrap());
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{name}: {}", crate::support::text(&o));
    let db = st.db();
    let mut verdicts = BTreeMap::new();
    let mut st_ = db.prepare("SELECT seq, name, verdict FROM segments").unwrap();
    for row in st_
        .query_map([], |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, String>(2)?)))
        .unwrap()
    {
        let (seq, name, verdict) = row.unwrap();
        let key = seq.map_or_else(|| name.unwrap_or_default(), |s| s.to_string());
        verdicts.insert(key, verdict);
    }
    let sessions = db
        .prepare("SELECT state FROM sessions ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let gaps = db
        .prepare("SELECT after_seq, before_seq, reason FROM gaps ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let provenance = db
        .prepare("SELECT DISTINCT provenance FROM segments")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    st.assert_log_verifies();
    // Every footage file of the volume is in the archive, flagged or not (evidence is never refused).
    let archived: Vec<String> = st.archived_footage().into_iter().map(|(_, h)| h).collect();
    for f in crate::support::files_under(&src.join("DCIM")) {
        let h = crate::support::b3(&src.join("DCIM").join(&f));
        assert!(archived.contains(&h), "{name}: {} not archived", f.display());
    }
    (Outcome { exit: o.status.code(), verdicts, sessions, gaps, provenance }, summary)
}

fn flagged(o: &Outcome) -> BTreeMap<String, String> {
    o.verdicts.iter().filter(|(_, v)| *v != "verified").map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn fault_seqs(summary: &Value) -> Vec<String> {
    summary["faults"][0]["seqs"].as_array().unwrap().iter().map(|s| s.to_string()).collect()
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn clean_recorder_verifies_completely() {
    let (o, _) = ingest_fixture(&find("clean"));
    assert_eq!(o.exit, Some(0));
    assert!(flagged(&o).is_empty(), "{:?}", o.verdicts);
    assert!(o.sessions.iter().all(|s| s == "complete"));
    assert!(o.gaps.is_empty());
    assert_eq!(o.provenance, vec!["sealed_at_source"]);
}

#[test]
fn each_single_fault_is_named_at_its_position() {
    for (kind, verdict) in [("altered", "altered"), ("missing", "missing"), ("truncated", "truncated")] {
        let (o, summary) = ingest_fixture(&find(kind));
        let seqs = fault_seqs(&summary);
        assert_eq!(seqs.len(), 1);
        assert_eq!(flagged(&o), expect(&[(&seqs[0], verdict)]), "{kind}");
        assert_eq!(o.exit, Some(1), "{kind}: a flagged ingest exits 1");
    }
}

#[test]
fn swapped_contents_are_reordered() {
    let (o, summary) = ingest_fixture(&find("reordered"));
    let seqs = fault_seqs(&summary);
    assert_eq!(flagged(&o), expect(&[(&seqs[0], "reordered"), (&seqs[1], "reordered")]));
}

#[test]
fn an_extra_file_is_inserted_and_creates_no_missing_numbers() {
    let (o, summary) = ingest_fixture(&find("inserted"));
    let seq = fault_seqs(&summary)[0].clone();
    assert_eq!(flagged(&o), expect(&[(&seq, "inserted")]), "{:?}", o.verdicts);
}

#[test]
fn a_recorder_without_chain_is_unchained_and_sealed_at_dock() {
    let (o, _) = ingest_fixture(&find("unchained"));
    assert!(!o.verdicts.is_empty());
    assert!(o.verdicts.values().all(|v| v == "unchained"), "{:?}", o.verdicts);
    assert_eq!(o.provenance, vec!["sealed_at_dock"]);
}

#[test]
fn gaps_are_explained_or_unexplained() {
    let (o, summary) = ingest_fixture(&find("interrupted"));
    let s = fault_seqs(&summary);
    assert!(flagged(&o).is_empty());
    assert_eq!(o.gaps, vec![(s[0].parse().unwrap(), s[1].parse().unwrap(), Some("battery".into()))]);
    assert_eq!(o.exit, Some(0), "an explained gap needs no review");

    let (o, summary) = ingest_fixture(&find("gap"));
    let s = fault_seqs(&summary);
    assert!(flagged(&o).is_empty());
    assert_eq!(o.gaps, vec![(s[0].parse().unwrap(), s[1].parse().unwrap(), None)]);
    assert_eq!(o.exit, Some(1), "an unexplained gap needs review (R6)");
}

#[test]
fn a_power_cut_session_is_cut_with_its_last_segment_truncated() {
    let (o, summary) = ingest_fixture(&find("cut"));
    let seq = fault_seqs(&summary)[0].clone();
    assert_eq!(flagged(&o), expect(&[(&seq, "truncated")]));
    assert_eq!(o.sessions, vec!["complete".to_string(), "cut".to_string()]);
}

fn find(prefix: &str) -> String {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .collect();
    names.sort();
    assert!(Path::new(&fixtures()).is_dir());
    names.into_iter().next().unwrap_or_else(|| panic!("no {prefix} fixture"))
}
