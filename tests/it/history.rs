//! Archivists query the custody log (R11): `log query` filters and pages, and `case history`
//! prints the chain of custody of a case's recordings as text, JSON and escaped HTML (R4, R13).

use serde_json::Value;

use crate::support::Station;

const CASE: &str = "宜卫罚〔2024〕7号<b>";
const PARTY: &str = "<script>alert(\"x\")</script>某某餐饮有限公司";

use crate::support::ok;

/// Two recorders ingested (H710001 with 3 segments, H710002 with 2), and a case holding
/// H710001's session.
fn station() -> Station {
    let st = Station::new();
    for (serial, n) in [("H710001", "3"), ("H710002", "2")] {
        st.register(serial);
        let (vol, _) = st.sim(serial, &["--serial", serial, "--segments", n, "--segment-bytes", "8000"]);
        ok(st.evidock(&["ingest", vol.to_str().unwrap()]));
    }
    ok(st.evidock(&["case", "create", CASE, "--party", PARTY, "--officer", "012345", "--kind", "penalty"]));
    let session: String =
        st.db().query_row("SELECT session FROM segments WHERE serial = 'H710001' LIMIT 1", [], |r| r.get(0)).unwrap();
    ok(st.evidock(&["case", "assign", CASE, "--session", &format!("H710001/{session}")]));
    st
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

#[test]
fn log_query_filters_by_device_and_action_and_pages() {
    let st = station();

    // --device: only that recorder's events, docking and copies included.
    let events =
        json_lines(&ok(st.evidock(&["log", "query", "--device", "H710002", "--format", "json", "--limit", "1000"])));
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    for want in ["docked", "identity_read", "segment_copied", "segment_verified", "segment_wiped", "ingest_finished"] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    let docking_b: i64 =
        st.db().query_row("SELECT id FROM dockings WHERE serial = 'H710002'", [], |r| r.get(0)).unwrap();
    for e in &events {
        let line = e.to_string();
        assert!(!line.contains("H710001"), "another recorder's event: {line}");
        let subject = e["subject"].as_str().unwrap();
        assert!(subject.contains("H710002") || subject == format!("docking:{docking_b}"), "{line}");
    }
    let all: i64 = st.db().query_row("SELECT COUNT(*) FROM custody_log", [], |r| r.get(0)).unwrap();
    assert!((events.len() as i64) < all);

    // --action segment_wiped --format csv: a header and one row per wiped file.
    let csv = ok(st.evidock(&["log", "query", "--action", "segment_wiped", "--format", "csv"]));
    let rows: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(rows[0].starts_with("seq,ts_utc,ts_local,actor_user,actor_role,actor_officer,action,"), "{}", rows[0]);
    let wiped: i64 = st.db().query_row("SELECT COUNT(*) FROM wipes", [], |r| r.get(0)).unwrap();
    assert!(wiped >= 5, "every archived file was wiped");
    assert_eq!(rows.len() as i64 - 1, wiped, "{csv}");
    assert!(rows[1..].iter().all(|r| r.contains(",segment_wiped,")), "{csv}");

    // --case: the case event, and the case's files, not the other recorder's.
    let case = json_lines(&ok(st.evidock(&["log", "query", "--case", CASE, "--format", "json", "--limit", "1000"])));
    let acts: Vec<&str> = case.iter().map(|e| e["action"].as_str().unwrap()).collect();
    for want in ["case_created", "docked", "segment_copied", "segment_verified", "segment_wiped", "footage_assigned"] {
        assert!(acts.contains(&want), "{want} missing from {acts:?}");
    }
    assert!(case.iter().all(|e| !e.to_string().contains("H710002")));

    // Paging: consecutive, disjoint pages that together are the unpaged answer.
    let whole: Vec<u64> = json_lines(&ok(st.evidock(&["log", "query", "--format", "json", "--limit", "1000"])))
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(whole.len() as i64, all);
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page: Vec<u64> = json_lines(&ok(st.evidock(&[
            "log",
            "query",
            "--format",
            "json",
            "--limit",
            "7",
            "--after",
            &after.to_string(),
        ])))
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
        assert!(page.len() <= 7);
        if page.is_empty() {
            break;
        }
        assert!(page.windows(2).all(|w| w[0] < w[1]));
        assert!(page[0] > after, "pages do not overlap");
        after = *page.last().unwrap();
        paged.extend(page);
    }
    assert_eq!(paged, whole);

    // Sequence and time ranges, and a typo in an action name.
    let some = json_lines(&ok(st.evidock(&["log", "query", "--seq-from", "3", "--seq-to", "5", "--format", "json"])));
    assert_eq!(some.iter().map(|e| e["seq"].as_u64().unwrap()).collect::<Vec<_>>(), vec![3, 4, 5]);
    let none = ok(st.evidock(&["log", "query", "--to", "2000-01-01", "--format", "json"]));
    assert_eq!(none, "");
    let today = ok(st.evidock(&["log", "query", "--from", "2000-01-01", "--format", "json", "--limit", "1000"]));
    assert_eq!(json_lines(&today).len() as i64, all);
    let typo = st.evidock(&["log", "query", "--action", "segment_wipe"]);
    assert_eq!(typo.status.code(), Some(2), "{}", crate::support::text(&typo));
}

#[test]
fn case_history_is_a_complete_escaped_report() {
    let st = station();
    ok(st.evidock(&["log", "checkpoint"]));
    let files: Vec<String> = st
        .db()
        .prepare("SELECT f.blake3 FROM case_files cf JOIN files f ON f.id = cf.file_id ORDER BY cf.path")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(files.len(), 3);

    let html = ok(st.evidock(&["case", "history", CASE, "--format", "html"]));
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("charset=\"utf-8\""));
    assert!(!html.contains("<script>") && !html.contains("<b>"), "nothing from the catalogue reaches the page raw");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;某某餐饮有限公司"), "party, escaped");
    assert!(html.contains("宜卫罚〔2024〕7号&lt;b&gt;"), "case number, escaped");
    for h in &files {
        assert!(html.contains(h.as_str()), "BLAKE3 {h}");
    }
    let lower = html.to_lowercase();
    for word in ["docked", "copied", "verified", "wiped", "filed", "接入", "复制", "校验", "归入案件", "intact"]
    {
        assert!(lower.contains(word), "{word}");
    }
    assert!(html.contains("verified 已验证"), "the latest checkpoint verifies");

    let v: Value = serde_json::from_str(&ok(st.evidock(&["case", "history", CASE, "--format", "json"]))).unwrap();
    assert_eq!(v["case"]["party"], PARTY);
    assert_eq!(v["files"].as_array().unwrap().len(), 3);
    for f in v["files"].as_array().unwrap() {
        assert_eq!(f["serial"], "H710001");
        assert_eq!(f["filing"]["how"], "moved");
        assert_eq!(f["verdicts"][0]["verdict"], "verified");
        assert_eq!(f["wiped"].as_array().unwrap().len(), 1);
        let acts: Vec<&str> = f["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        for want in
            ["docked", "identity_read", "segment_copied", "segment_verified", "segment_wiped", "footage_assigned"]
        {
            assert!(acts.contains(&want), "{want} missing from {acts:?}");
        }
        let seqs: Vec<u64> = f["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in log order");
        // The file's own copy and filing events name its hash.
        assert!(f["events"].as_array().unwrap().iter().any(|e| e["details"]["blake3"] == f["blake3"]));
    }
    assert_eq!(v["case_events"][0]["action"], "case_created");
    assert_eq!(v["log"]["intact"], true);
    assert_eq!(v["checkpoint"]["verified"], true);
    assert!(v["checkpoint"]["note"].as_str().unwrap().contains('\u{2014}'), "the signed note itself");

    let text = ok(st.evidock(&["case", "history", CASE]));
    assert!(text.contains(PARTY) && text.contains("filed 归入案件"));
    let missing = st.evidock(&["case", "history", "no such case"]);
    assert_eq!(missing.status.code(), Some(2), "{}", crate::support::text(&missing));
}
