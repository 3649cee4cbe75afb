//! Approved viewing that plays the footage (R9; S2 §24, S3 §28), written explanations of gaps
//! with their author, scan and the head's review (R6; S2 §18), and approvals not to record
//! (S1 §8).

use crate::access::{state_of, station, CASE, REQUESTER, SERVICE};
use crate::support::{b3, ok, text, Station};

fn events(st: &Station, action: &str) -> Vec<serde_json::Value> {
    let db = st.db();
    let mut q = db.prepare("SELECT details FROM custody_log WHERE action = ?1 ORDER BY seq").unwrap();
    q.query_map([action], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
        .collect()
}

/// R9, S3 §28 (调阅人、审批人、时间、事由) / S2 §24: an approved view plays the footage. The
/// service (under its own user) re-checks the approval, logs the view (who, which file, when)
/// and hands the viewer a read-only descriptor of the archived file; the viewer's own process
/// plays it (standard output, or `--player`), checked against the log's BLAKE3 as it is read.
/// No approval, another viewer, a file outside the request, a mark added since (INV-21): refused,
/// in both languages.
#[test]
fn r9_an_approved_view_plays_the_archived_footage_through_the_service_and_logs_each_view() {
    let mut st = station();
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, cfg.replace("archivist = [\"uid:0\"]", "archivist = [\"uid:0\", \"uid:4243\"]"))
        .unwrap();
    st.start_as(SERVICE, &[]);
    ok(st.evidock_as(REQUESTER, &["access", "request", "--case", CASE, "--kind", "view", "--reason", "案件复核"]));
    let listed = st.evidock_as(REQUESTER, &["access", "view", "1"]);
    assert!(text(&listed).contains("未经批准不得调取"), "not approved yet: {}", text(&listed));
    let o = st.evidock_as(REQUESTER, &["access", "play", "1", "anything"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("nothing leaves without an approved request (未经批准不得调取)"), "{}", text(&o));
    assert!(o.stdout.is_empty(), "no footage without an approval");
    ok(st.evidock_as(65534, &["access", "approve", "1"]));
    assert_eq!(state_of(&st, 1), "approved");

    let files = ok(st.evidock_as(REQUESTER, &["access", "view", "1"]));
    let first = files.lines().next().expect("the request covers footage").to_string();
    let archived = std::path::PathBuf::from(&first);
    // To standard output, as for `| mpv -`: the very bytes of the archived file.
    let o = st.evidock_as(REQUESTER, &["access", "play", "1", &first]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!o.stdout.is_empty());
    assert_eq!(blake3::hash(&o.stdout).to_hex().to_string(), b3(&archived), "the archived footage, byte for byte");
    assert!(String::from_utf8_lossy(&o.stderr).contains("equal to the custody log / 已播放"), "{}", text(&o));
    // Into a player's standard input (the player runs as the viewer, not as the service).
    let home = st.path("viewer");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(REQUESTER), Some(REQUESTER)).unwrap();
    let seen = home.join("seen.bin");
    let player = format!("cat > {}; id -u > {}/uid", seen.display(), home.display());
    let o = st.evidock_as(REQUESTER, &["access", "play", "1", &first, "--player", &player]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(b3(&seen), b3(&archived));
    assert_eq!(std::fs::read_to_string(home.join("uid")).unwrap().trim(), REQUESTER.to_string());
    // Each view is logged: viewer, file, its logged hash, handed as a descriptor.
    let views: Vec<_> = events(&st, "footage_viewed").into_iter().filter(|e| e["played"] == true).collect();
    assert_eq!(views.len(), 2, "{views:?}");
    let rel = archived.strip_prefix(st.archive()).unwrap().to_string_lossy().to_string();
    assert_eq!(views[0]["file"], rel.as_str());
    assert_eq!(views[0]["viewer"], "uid:4243", "{views:?}");
    assert_eq!(views[0]["blake3"], b3(&archived).as_str());
    assert_eq!(views[0]["via"], "descriptor");

    // Another user, even holding a role, does not view under the requester's approval.
    let o = st.evidock(&["access", "play", "1", &first]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("仅申请人本人可凭此审批查看"), "{}", text(&o));
    // A file outside the request is refused.
    let o = st.evidock_as(REQUESTER, &["access", "play", "1", "2026/01/01/other.mp4"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("该文件不在调阅申请 #1 批准的范围内"), "{}", text(&o));

    // Bytes that are not the logged ones (same size) are named by the viewer's own check.
    let mut bytes = std::fs::read(&archived).unwrap();
    let original = bytes.clone();
    bytes[100] ^= 0xFF;
    let o = std::process::Command::new("chattr").arg("-i").arg(&archived).output();
    let _ = o;
    std::fs::set_permissions(&archived, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(&archived, &bytes).unwrap();
    let o = st.evidock_as(REQUESTER, &["access", "play", "1", &first]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("播放内容与保管日志记录不符"), "{}", text(&o));
    std::fs::write(&archived, &original).unwrap();

    // INV-21: a mark added after the approval voids it at the moment of viewing.
    ok(st.evidock(&["access", "mark", "--case", CASE, "--level", "privacy", "--reason", "涉及未成年人"]));
    let o = st.evidock_as(REQUESTER, &["access", "play", "1", &first]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("审批已失效"), "{}", text(&o));
    assert!(o.stdout.is_empty(), "nothing played under a void approval");
    assert_eq!(state_of(&st, 1), "voided");
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}

/// A station with one gap left unexplained by its recorder, the superuser an approver too,
/// `extra` appended to its configuration. Returns the station and the gap's id.
fn gap_station(extra: &str) -> (Station, i64) {
    let st = station();
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, format!("{cfg}\n{extra}\n")).unwrap();
    let (vol, _) = st.sim(
        "G",
        &[
            "--serial",
            "E500001",
            "--segments",
            "3",
            "--segment-bytes",
            "6000",
            "--fault",
            "gap",
            "--seed",
            "9",
            "--first-seq",
            "20",
        ],
    );
    let _ = st.evidock(&["ingest", vol.to_str().unwrap()]);
    let open = ok(st.evidock(&["gap", "list", "--open", "--json"]));
    let gap: serde_json::Value = serde_json::from_str(open.lines().next().expect("one open gap")).unwrap();
    let id = gap["id"].as_i64().unwrap();
    (st, id)
}

fn gap_json(st: &Station, id: i64) -> serde_json::Value {
    let all = ok(st.evidock(&["gap", "list", "--json"]));
    all.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).find(|g| g["id"] == id).unwrap()
}

fn compliance(st: &Station) -> serde_json::Value {
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let from = (today - chrono::Duration::days(2)).to_string();
    let o = st.evidock(&["report", "compliance", "--from", &from, "--to", &today.to_string(), "--format", "json"]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
}

fn kinds(report: &serde_json::Value) -> Vec<String> {
    report["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap().to_string()).collect()
}

/// R6, S2 §18 (执法人员应当在执法结束后及时制作工作记录，写明原因，报本机构主要负责人审核后，
/// 一并存档): an explanation names the officer who wrote it beside who typed it, carries the
/// scanned statement (stored write-once in the archive, named with its BLAKE3 in the event),
/// and, where the bureau requires it, awaits the head's review: unreviewed, it is a compliance
/// finding; its author or typist may not review it; rejected, the gap is open again. An edited
/// author or a changed scan is named by `log verify` (INV-37).
#[test]
fn r6_an_explanation_names_its_author_carries_its_scan_and_awaits_the_heads_review() {
    let (mut st, id) = gap_station("[gaps]\nreview_required = true");
    let scan = st.path("statement.pdf");
    std::fs::write(&scan, "%PDF-1.4\n% 情况说明：电量不足，更换电池后继续录制。签名：张三\n%%EOF\n").unwrap();
    let gid = id.to_string();
    let o = st.evidock(&["gap", "explain", &gid, "--text", "电量不足，更换电池后继续录制"]);
    assert_eq!(o.status.code(), Some(2), "the author is required: {}", text(&o));
    st.start();
    let said = ok(st.evidock(&[
        "gap",
        "explain",
        &gid,
        "--text",
        "电量不足，更换电池后继续录制",
        "--by",
        "012345",
        "--scan",
        scan.to_str().unwrap(),
    ]));
    assert!(said.contains("待负责人审核"), "{said}");
    let g = gap_json(&st, id);
    assert_eq!(
        (g["author"].as_str(), g["typed_by"].as_str(), g["review"].as_str()),
        (Some("012345"), Some("root"), Some("pending"))
    );
    let stored = st.archive().join(g["scan"]["path"].as_str().unwrap());
    assert!(g["scan"]["path"].as_str().unwrap().starts_with("statements/gap-") && stored.extension().unwrap() == "pdf");
    assert_eq!(b3(&stored), b3(&scan), "the scan, stored as it was");
    assert_eq!(g["scan"]["blake3"], b3(&scan).as_str());
    let logged = events(&st, "gap_explained");
    assert_eq!(logged[0]["scan"]["blake3"], b3(&scan).as_str(), "the event names the scan's hash");
    assert_eq!(logged[0]["author"], "012345");
    assert!(kinds(&compliance(&st)).contains(&"unreviewed-explanation".to_string()));

    // The typist (root, an approver here) may not review it; the head (nobody) rejects it.
    let o = st.evidock(&["gap", "review", &gid, "--approve"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("不得审核本人所写或录入的说明"), "{}", text(&o));
    ok(st.evidock_as(65534, &["gap", "review", &gid, "--reject", "--note", "未写明更换电池的时间"]));
    assert_eq!(gap_json(&st, id)["explanation"], serde_json::Value::Null, "rejected: unexplained again");
    assert!(ok(st.evidock(&["gap", "list", "--open"])).contains("UNEXPLAINED"));
    // Explained again, approved by the head: no finding.
    ok(st.evidock(&["gap", "explain", &gid, "--text", "14:05 电量不足，14:12 更换电池后继续录制", "--by", "012345"]));
    ok(st.evidock_as(65534, &["gap", "review", &gid, "--approve"]));
    let g = gap_json(&st, id);
    assert_eq!((g["review"].as_str(), g["reviewed_by"].as_str()), (Some("approved"), Some("nobody")));
    let report = compliance(&st);
    assert!(!kinds(&report).contains(&"unreviewed-explanation".to_string()), "{report}");
    assert!(!kinds(&report).contains(&"unexplained-gap".to_string()), "{report}");
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();

    // The first scan stays in the archive, read-only, checked by `log verify`: changed, named.
    let first = st.archive().join(logged[0]["scan"]["path"].as_str().unwrap());
    let o = std::process::Command::new("chattr").arg("-i").arg(&first).output();
    let _ = o;
    std::fs::set_permissions(&first, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(&first, b"%PDF-1.4\n% forged\n").unwrap();
    let db = rusqlite::Connection::open(st.path("state/catalog.sqlite")).unwrap();
    db.execute("UPDATE gap_statements SET author = '099999' WHERE gap_id = ?1", [id]).unwrap();
    let o = st.evidock(&["log", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains(&format!("gap_statements row {id}: the author was changed")), "{said}");
    assert!(said.contains("说明扫描件内容被改动"), "{said}");
}

/// S1 §8 (因不可抗拒事由或取证需要等原因无法或不宜同步录音录像的，经现场负责人或办案部门领导
/// 同意，可以不予同步录音录像): an approval not to record, entered with its officer, window and
/// reason and approved by someone else, makes the missing footage it covers show as exempted,
/// not as a violation; both steps are custody events, and an edited exemption is named by
/// `log verify` (INV-37).
#[test]
fn s1_8_an_approved_exemption_shows_missing_footage_as_exempted_not_as_a_violation() {
    let mut st = Station::new();
    let day = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive() - chrono::Duration::days(1);
    let window = format!("{day}T09:00,{day}T10:00");
    ok(st.evidock(&["case", "create", "宜卫罚〔2026〕8号", "--officer", "012345", "--window", &window]));
    let report = compliance(&st);
    assert!(kinds(&report).contains(&"no-footage".to_string()), "{report}");

    let from = format!("{day}T08:30");
    let to = format!("{day}T10:30");
    let said = ok(st.evidock(&[
        "gap",
        "exempt",
        "--officer",
        "012345",
        "--from",
        &from,
        "--to",
        &to,
        "--reason",
        "现场涉及未成年人隐私，现场负责人李四同意不予录像",
    ]));
    assert!(said.contains("exemption #1"), "{said}");
    // Entered but not approved: still a violation.
    assert!(kinds(&compliance(&st)).contains(&"no-footage".to_string()));
    st.start();
    // The superuser entered it and holds no approver role; the approver who did not enter it
    // approves.
    let o = st.evidock(&["gap", "exempt-approve", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    ok(st.evidock_as(65534, &["gap", "exempt-approve", "1"]));
    let report = compliance(&st);
    assert!(!kinds(&report).contains(&"no-footage".to_string()), "{report}");
    let exempted = report["exempted"].as_array().unwrap();
    assert_eq!(exempted.len(), 1, "{report}");
    assert_eq!((exempted[0]["kind"].as_str(), exempted[0]["exemptions"][0].as_i64()), (Some("no-footage"), Some(1)));
    let listed = ok(st.evidock(&["gap", "exemptions", "--json"]));
    let e: serde_json::Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    assert_eq!((e["officer"].as_str(), e["approved_by"].as_str()), (Some("012345"), Some("nobody")));
    assert_eq!(events(&st, "recording_exemption_recorded").len(), 1);
    assert_eq!(events(&st, "recording_exemption_approved")[0]["approved_by"], "nobody");
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();

    let db = rusqlite::Connection::open(st.path("state/catalog.sqlite")).unwrap();
    db.execute("UPDATE recording_exemptions SET to_t = '2099-01-01T00:00:00' WHERE id = 1", []).unwrap();
    let o = st.evidock(&["log", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("recording_exemptions row 1: the exemption was changed"), "{}", text(&o));
}

/// R9: with no service running, `access play` decides, logs and plays in the viewer's own
/// process (the superuser, who can open the catalogue), the same checks and the same event.
#[test]
fn r9_without_the_service_the_requester_plays_the_file_in_its_own_process() {
    let st = station();
    ok(st.evidock(&["access", "request", "--case", CASE, "--kind", "view", "--reason", "案件复核"]));
    crate::access::open_station_to(&st);
    ok(st.evidock_as(65534, &["access", "approve", "1"]));
    let files = ok(st.evidock(&["access", "view", "1"]));
    let first = files.lines().next().expect("the request covers footage").to_string();
    let o = st.evidock(&["access", "play", "1", &first]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(blake3::hash(&o.stdout).to_hex().to_string(), b3(std::path::Path::new(&first)));
    let views: Vec<_> = events(&st, "footage_viewed").into_iter().filter(|e| e["played"] == true).collect();
    assert_eq!((views.len(), views[0]["via"].as_str(), views[0]["viewer"].as_str()), (1, Some("direct"), Some("root")));
    st.assert_log_verifies();
}
