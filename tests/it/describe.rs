//! Describing footage (R4, R13; S3 §26-27, S4 §23): descriptions of recordings and cases by
//! their officer or a filer, case labels naming officers from the registry, case folders that
//! check on their own, discs that carry place, party and officers.

use crate::access::{station, CASE};
use crate::support::{ok, text, Station};

fn recording(st: &Station) -> String {
    st.db().query_row("SELECT 'E500001/' || session FROM segments LIMIT 1", [], |r| r.get(0)).unwrap()
}

fn case_folder(st: &Station) -> std::path::PathBuf {
    let path: String = st.db().query_row("SELECT path FROM case_files LIMIT 1", [], |r| r.get(0)).unwrap();
    let parts: Vec<&str> = path.split('/').collect();
    st.archive().join(parts[..4].join("/"))
}

/// S4 §23 (注明取证人员、取证时间、取证地点) and S2 §13 (执法对象以及执法内容): a recording and a
/// case are described by a filer and by the recording's own officer (`[officers]`), never by
/// another officer; a new description supersedes the last and both stay; each is a custody
/// event; `case show`, `case history` and the export's custody extract carry them; `log verify`
/// names an edited description; bad text is refused in both languages.
#[test]
fn s4_23_footage_is_described_by_its_officer_or_a_filer_with_history_and_log() {
    let mut st = station();
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    // nobody (uid 65534) is officer 012345, whose recorder made the footage; daemon (uid 1) is
    // another officer, with no role.
    std::fs::write(&st.config, format!("{cfg}\n[officers]\nnobody = \"012345\"\ndaemon = \"099999\"\n")).unwrap();
    st.start();
    let rec = recording(&st);
    ok(st.evidock(&[
        "case",
        "describe",
        CASE,
        "--subject",
        "某某商行",
        "--content",
        "现场检查",
        "--place",
        "东西湖区吴家山街 1 号",
    ]));
    // The officer describes their own recording, in Chinese.
    ok(st.evidock_as(
        65534,
        &["case", "describe", "--recording", &rec, "--subject", "某某商行后厨", "--place", "吴家山街 12 号"],
    ));
    // The filer's correction supersedes it; both stay.
    ok(st.evidock(&["case", "describe", "--recording", &rec, "--place", "吴家山街 14 号"]));
    // Another officer may not describe footage that is not theirs; a user who is neither an
    // officer nor a filer is refused too.
    let o = st.evidock_as(1, &["case", "describe", "--recording", &rec, "--place", "别处"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("refused: recording:") && text(&o).contains("not the footage of officer 099999"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("执法人员只能处理本人摄录的录像"), "{}", text(&o));
    let refused: i64 = st
        .db()
        .query_row(
            "SELECT COUNT(*) FROM custody_log WHERE action = 'call_refused' AND actor_officer = '099999'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(refused, 1, "the refusal is a custody event naming the officer");
    let o = st.evidock_as(4343, &["case", "describe", "--recording", &rec, "--place", "别处"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    // Control characters and overlong text are refused in both languages, nothing written.
    let o = st.evidock(&["case", "describe", CASE, "--place", "一楼\u{1b}[31m"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("control character") && text(&o).contains("控制字符"), "{}", text(&o));
    let o = st.evidock(&["case", "describe", CASE, "--subject", &"店".repeat(201)]);
    assert!(text(&o).contains("at most 200") && text(&o).contains("最多 200 个字"), "{}", text(&o));
    let n: i64 = st.db().query_row("SELECT COUNT(*) FROM descriptions", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 3);
    let logged: Vec<(String, String)> = {
        let db = st.db();
        let mut q = db
            .prepare("SELECT subject, actor_officer FROM custody_log WHERE action = 'footage_described' ORDER BY seq")
            .unwrap();
        q.query_map([], |r| Ok((r.get(0)?, r.get::<_, Option<String>>(1)?.unwrap_or_default())))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(logged.len(), 3, "{logged:?}");
    assert_eq!(logged[0].0, format!("case:{CASE}"));
    assert_eq!(logged[1], (format!("recording:{rec}"), "012345".to_string()), "the officer wrote it");

    let history = ok(st.evidock(&["case", "describe", "--recording", &rec, "--history"]));
    assert!(history.contains("吴家山街 12 号") && history.contains("吴家山街 14 号"), "{history}");
    let show = ok(st.evidock(&["case", "show", CASE]));
    assert!(show.contains("执法对象 Subject: 某某商行") && show.contains("取证地点 Place: 吴家山街 14 号"), "{show}");
    assert!(show.contains("张三 (警号 012345)"), "the officer by name and badge: {show}");
    let v: serde_json::Value = serde_json::from_str(&ok(st.evidock(&["case", "show", CASE, "--json"]))).unwrap();
    assert_eq!(v["description"]["place"], "东西湖区吴家山街 1 号");
    assert_eq!(v["files"][0]["description"]["place"], "吴家山街 14 号");
    assert_eq!(v["officers_named"][0]["name"], "张三");
    let h = ok(st.evidock(&["case", "history", CASE]));
    assert!(h.contains("described 说明") && h.contains("superseded 已被替代") && h.contains("吴家山街 14 号"), "{h}");
    assert!(h.contains("张三 (警号 012345)"), "{h}");
    let h = ok(st.evidock(&["case", "history", CASE, "--format", "html"]));
    assert!(h.contains("东西湖区吴家山街 1 号"), "{h}");

    // The export's custody extract carries the description events.
    ok(st.evidock(&["access", "request", "--case", CASE, "--kind", "copy", "--reason", "行政诉讼举证"]));
    ok(st.evidock_as(65534, &["access", "approve", "1"]));
    let out = st.path("usb-drive");
    ok(st.evidock(&["export", "--request", "1", "--to", out.to_str().unwrap()]));
    let extract = std::fs::read_to_string(out.join("evidock-export-1/custody/custody-extract.jsonl")).unwrap();
    assert_eq!(extract.matches("footage_described").count(), 3, "{extract}");
    st.assert_log_verifies();

    // An edited description is named by `log verify`.
    let db = rusqlite::Connection::open(st.path("state/catalog.sqlite")).unwrap();
    db.execute("UPDATE descriptions SET place = '伪造地点' WHERE id = 3", []).unwrap();
    let o = st.evidock(&["log", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("descriptions row 3: the description was changed") && text(&o).contains("说明被改动"));
}

/// S3 §26 (标明案号、当事人姓名或者名称、承办人姓名) and R4/R5: the case folder carries its label
/// (officers by name from the registry in force when the footage was made), chain copies and a
/// manifest kept current; a copy of the folder is checked alone: a missing, an extra and an
/// altered file are each named, and an intact copy passes.
#[test]
fn s3_26_a_case_folder_is_labelled_with_officers_and_checks_on_its_own() {
    let st = station();
    // Re-registered later to someone else: the label keeps the name in force at recording time.
    ok(st.evidock(&["device", "register", "E500001", "--officer-id", "088888", "--officer-name", "王五"]));
    ok(st.evidock(&["case", "describe", CASE, "--place", "东西湖区吴家山街 1 号"]));
    let dir = case_folder(&st);
    let label = std::fs::read_to_string(dir.join("案件信息.txt")).unwrap();
    assert!(label.contains("张三 (警号 012345)") && !label.contains("王五"), "{label}");
    assert!(label.contains("某某商行") && label.contains("取证地点 Place: 东西湖区吴家山街 1 号"), "{label}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("案件清单.json")).unwrap()).unwrap();
    assert_eq!(m["case"]["description"]["place"], "东西湖区吴家山街 1 号", "kept current: {m}");
    assert_eq!(m["files"].as_array().unwrap().len(), 2, "{m}");
    assert!(!m["chain_files"].as_array().unwrap().is_empty(), "chain copies: {m}");
    assert_eq!(m["files"][0]["segments"][0]["verdict"], "verified", "{m}");

    let copy = st.path("copied-folder");
    crate::support::copy_tree(&dir, &copy);
    let o = st.evidock(&["case", "check-folder", copy.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("intact") && text(&o).contains("完整"), "{}", text(&o));

    let files = m["files"].as_array().unwrap();
    let (a, b) = (files[0]["path"].as_str().unwrap(), files[1]["path"].as_str().unwrap());
    std::fs::remove_file(copy.join(a)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(copy.join(b), std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut bytes = std::fs::read(copy.join(b)).unwrap();
    bytes[100] ^= 1;
    std::fs::write(copy.join(b), bytes).unwrap();
    std::fs::write(copy.join("E500001/spliced.MP4"), b"x").unwrap();
    let o = st.evidock(&["case", "check-folder", copy.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["intact"], false);
    assert_eq!(v["missing"], serde_json::json!([a]));
    assert_eq!(v["altered"], serde_json::json!([b]));
    assert_eq!(v["extra"], serde_json::json!(["E500001/spliced.MP4"]));
    let o = st.evidock(&["case", "check-folder", copy.to_str().unwrap()]);
    assert!(
        text(&o).contains("MISSING 缺失") && text(&o).contains("ALTERED 被改动") && text(&o).contains("EXTRA 多余")
    );
}
