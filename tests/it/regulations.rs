//! The regulations against their articles (issue: the five regulations in full, section 1):
//! each test names the seed and article it holds evidock to (`docs/REGULATIONS.md`).

use crate::access::{ok, open_station_to, state_of, station, text, CASE};
use crate::support::{files_under, Station};

fn events(st: &Station, action: &str) -> Vec<serde_json::Value> {
    let db = st.db();
    let mut q = db.prepare("SELECT details FROM custody_log WHERE action = ?1 ORDER BY seq").unwrap();
    q.query_map([action], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
        .collect()
}

fn copy_request(st: &Station) {
    ok(st.evidock(&["access", "request", "--case", CASE, "--kind", "copy", "--reason", "行政复议"]));
}

/// R10, S0 §18 / S2 §26 / S4 §25 (涉及国家秘密、商业秘密、个人隐私的，按保密规定): a request
/// approved before the footage was marked secret is void at the moment footage would leave.
#[test]
fn r10_an_approval_made_before_a_secret_mark_is_void_at_export() {
    let st = station();
    copy_request(&st);
    open_station_to(&st);
    ok(st.evidock_as(65534, &["access", "approve", "1"]));
    assert_eq!(state_of(&st, 1), "approved");
    ok(st.evidock(&["access", "mark", "--case", CASE, "--level", "secret", "--reason", "涉及国家秘密"]));
    let out = st.path("usb-drive");
    let o = st.evidock(&["export", "--request", "1", "--to", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains("request #1 is void") && said.contains("marked secret"), "{said}");
    assert!(said.contains("审批已失效") && said.contains("国家秘密"), "{said}");
    assert!(files_under(&out).is_empty(), "nothing left: {:?}", files_under(&out));
    assert_eq!(state_of(&st, 1), "voided");
    let voided = events(&st, "access_voided");
    assert_eq!(voided.len(), 1, "{voided:?}");
    assert_eq!((voided[0]["use"].as_str(), voided[0]["marks"][0].as_str()), (Some("copy"), Some("secret")));
    // Void for good: clearing the mark does not bring the approval back.
    ok(st.evidock(&["access", "unmark", "1", "--reason", "误标，解除"]));
    let o = st.evidock(&["export", "--request", "1", "--to", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is voided"), "{}", text(&o));
    let listed = ok(st.evidock(&["access", "list"]));
    assert!(listed.contains("voided") && listed.contains("已失效"), "{listed}");
    st.assert_log_verifies();
}

/// R10, S4 §25 and S2 §26: an approver who has lost the right to approve marked footage
/// (removed from the mark's approvers) leaves behind an approval that no longer holds; a view
/// under it is refused and logged.
#[test]
fn r10_an_approval_by_someone_who_lost_the_right_is_void_at_view() {
    let st = station();
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(
        &st.config,
        format!("{cfg}\n[access.privacy]\nrequesters = [\"uid:0\"]\napprovers = [\"uid:65534\"]\n"),
    )
    .unwrap();
    ok(st.evidock(&["access", "mark", "--case", CASE, "--level", "privacy", "--reason", "涉及未成年人"]));
    ok(st.evidock(&["access", "request", "--case", CASE, "--kind", "view", "--reason", "案件审核"]));
    open_station_to(&st);
    ok(st.evidock_as(65534, &["access", "approve", "1"]));
    // Still allowed: the view goes ahead.
    let listed = ok(st.evidock(&["access", "view", "1"]));
    assert!(!listed.is_empty(), "{listed}");
    // The privacy approvers change: nobody (uid 65534) is no longer one.
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, cfg.replace("approvers = [\"uid:65534\"]", "approvers = [\"uid:4343\"]")).unwrap();
    let o = st.evidock(&["access", "view", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains("may no longer approve footage marked privacy") && said.contains("个人隐私"), "{said}");
    assert_eq!(state_of(&st, 1), "voided");
    let actions = st.actions();
    assert_eq!(actions.iter().filter(|a| *a == "footage_viewed").count(), 1, "only the first view: {actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "access_voided").count(), 1);
    st.assert_log_verifies();
}

/// R5, S0 §10 / S2 §27 / S4 §24 (不得删除、修改原始记录): a file missing from the archive when
/// it is exported is a fixity failure: a custody event and an alarm, and nothing leaves.
#[test]
fn r5_a_file_missing_at_export_is_logged_and_raises_the_alarm() {
    let st = station();
    copy_request(&st);
    open_station_to(&st);
    ok(st.evidock_as(65534, &["access", "approve", "1"]));
    let (victim, _) = st.archived_footage().into_iter().find(|(p, _)| p.to_string_lossy().contains(CASE)).unwrap();
    std::fs::remove_file(st.archive().join(&victim)).unwrap();
    let out = st.path("usb-drive");
    let o = st.evidock(&["export", "--request", "1", "--to", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains("fixity check failed, export refused") && said.contains("校验失败，拒绝导出"), "{said}");
    assert!(said.contains(&victim.display().to_string()), "{said}");
    assert!(files_under(&out).is_empty(), "nothing on the drive: {:?}", files_under(&out));
    let failed = events(&st, "fixity_failed");
    assert_eq!(failed.len(), 1, "{failed:?}");
    let status = ok(st.evidock(&["status"]));
    assert!(status.contains("ALARM 警报: 1 open"), "{status}");
    assert_eq!(state_of(&st, 1), "approved", "the approval is not spent");
}

/// R7, S3 §27 (专用设备存储的音像记录保存期限不少于3个月) and S0 §16 / S2 §22 (不少于6个月):
/// footage recorded long ago but docked today is kept from today, not from its recording.
#[test]
fn r7_footage_docked_late_is_kept_from_its_storage_not_from_its_recording() {
    let st = Station::new();
    st.register("J700001");
    let (vol, _) = st.sim(
        "LATE",
        &["--serial", "J700001", "--segments", "2", "--segment-bytes", "5000", "--start", "2024-05-10T09:00:00"],
    );
    ok(st.evidock(&["ingest", vol.to_str().unwrap()]));
    let at = |days: &str, args: &[&str]| {
        std::process::Command::new(crate::support::bin())
            .arg("--config")
            .arg(&st.config)
            .args(args)
            .env("EVIDOCK_RETENTION_CLOCK_DAYS", days)
            .output()
            .unwrap()
    };
    let due = ok(st.evidock(&["retention", "due", "--within-days", "100000", "--json"]));
    let rec: serde_json::Value = serde_json::from_str(due.lines().next().unwrap()).unwrap();
    let stored = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let six = stored.checked_add_months(chrono::Months::new(6)).unwrap().format("%Y-%m-%d").to_string();
    assert!(rec["deadline"].as_str().unwrap().starts_with(&six), "six months from storage ({six}): {due}");
    assert_eq!(rec["overdue"], false, "{due}");
    let id = rec["recording"].as_str().unwrap().to_string();
    // A week after docking (the recording two years old): nothing is due, no purge.
    let week = ok(at("7", &["retention", "due", "--within-days", "0", "--json"]));
    assert!(week.trim().is_empty(), "{week}");
    let o = at("7", &["retention", "purge", "request", &id, "--reason", "过期"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // Past six months from storage it is due.
    let later = ok(at("200", &["retention", "due", "--within-days", "0", "--json"]));
    assert!(later.contains(&id) && later.contains("\"overdue\":true"), "{later}");
}

/// R13, S2 §13 (执法音像记录应当标明时间): the case history a person reads gives station time,
/// to the second, with the zone named; no UTC instants with fractions beside local times.
#[test]
fn r13_case_history_reads_in_station_time_to_the_second() {
    let st = station();
    let text = ok(st.evidock(&["case", "history", CASE]));
    assert!(text.contains("Asia/Shanghai") && text.contains("工作站时间"), "{text}");
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).format("%Y-%m-%d ").to_string();
    assert!(text.contains(&today), "{text}");
    for line in text.lines() {
        assert!(!line.contains("+00:00") && !line.contains("+08:00"), "an offset instant: {line}");
        let frac = line.as_bytes().windows(7).any(|w| {
            w[0] == b':'
                && w[1].is_ascii_digit()
                && w[2].is_ascii_digit()
                && w[3] == b'.'
                && w[4..].iter().all(u8::is_ascii_digit)
        });
        assert!(!frac, "fractions of a second: {line}");
    }
}

/// R7, S2 §22 / S3 §27 (作为证据使用的长期保存; 其余不少于3个月/6个月): a long-term flag set in
/// error is withdrawn only with a reason and another person's approval; the footage then
/// returns to the standard deadline counted from its storage, and a purge may follow.
#[test]
fn r7_a_withdrawn_long_term_flag_returns_the_standard_deadline_after_a_second_person_approves() {
    let st = Station::new();
    // root holds the approver role too, to show that nobody approves their own withdrawal.
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, cfg.replace("approver = [\"uid:65534\"]", "approver = [\"uid:65534\", \"uid:0\"]"))
        .unwrap();
    st.register("J700002");
    let (vol, _) = st.sim("FLAG", &["--serial", "J700002", "--segments", "2", "--segment-bytes", "5000"]);
    ok(st.evidock(&["ingest", vol.to_str().unwrap()]));
    let due = |clock: &str| {
        let o = std::process::Command::new(crate::support::bin())
            .arg("--config")
            .arg(&st.config)
            .args(["retention", "due", "--within-days", "100000", "--json"])
            .env("EVIDOCK_RETENTION_CLOCK_DAYS", clock)
            .output()
            .unwrap();
        serde_json::from_str::<serde_json::Value>(ok(o).lines().next().unwrap_or("null")).unwrap()
    };
    let id = due("0")["recording"].as_str().unwrap().to_string();
    ok(st.evidock(&["retention", "flag", &id, "--trigger", "evidence", "--reason", "拟作为处罚证据"]));
    let show = ok(st.evidock(&["retention", "show", &id]));
    assert!(show.contains("permanent 永久"), "{show}");
    // A withdrawal without a reason is refused; with one it waits for another person.
    let o = st.evidock(&["retention", "unflag", "1", "--reason", " "]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = ok(st.evidock(&["retention", "unflag", "1", "--reason", "未作为证据使用，案件已撤销"]));
    assert!(said.contains("awaits approval by another person") && said.contains("待他人批准"), "{said}");
    let show = ok(st.evidock(&["retention", "show", &id]));
    assert!(show.contains("permanent 永久"), "the flag stays in force until approved: {show}");
    let o = st.evidock(&["retention", "unflag-approve", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("cannot approve it"), "{}", text(&o));
    open_station_to(&st);
    let said = ok(st.evidock_as(65534, &["retention", "unflag-approve", "1"]));
    assert!(said.contains("flag #1 withdrawn") && said.contains("保存期限恢复"), "{said}");
    // Back to six months from storage (today), never earlier.
    let rec = due("0");
    assert_eq!(rec["class"], "standard", "{rec}");
    let stored = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let six = stored.checked_add_months(chrono::Months::new(6)).unwrap().format("%Y-%m-%d").to_string();
    assert!(rec["deadline"].as_str().unwrap().starts_with(&six), "{six}: {rec}");
    let actions = st.actions();
    for a in ["flag_withdrawal_requested", "retention_flag_withdrawn", "deadline_returned"] {
        assert!(actions.contains(&a.to_string()), "{a} missing: {actions:?}");
    }
    // The catalogue and the log agree: past the deadline, a purge may be asked for.
    let o = std::process::Command::new(crate::support::bin())
        .arg("--config")
        .arg(&st.config)
        .args(["retention", "purge", "request", &id, "--reason", "保存期满，非证据"])
        .env("EVIDOCK_RETENTION_CLOCK_DAYS", "200")
        .output()
        .unwrap();
    ok(o);
    st.assert_log_verifies();
}

/// R1, S1 §12 / §14 (每台执法记录设备进行编号登记，录入使用人的身份资料; 谁使用谁负责): a
/// recorder retired after its footage was recorded was registered when it recorded: no
/// finding. A recorder whose badge differs from the registration in force then is a finding
/// of the compliance report, not only a note.
#[test]
fn r1_footage_is_judged_against_the_registration_in_force_when_it_was_recorded() {
    let st = Station::new();
    st.register("J700003");
    let (vol, _) = st.sim("RET", &["--serial", "J700003", "--segments", "2", "--segment-bytes", "5000"]);
    ok(st.evidock(&["ingest", vol.to_str().unwrap()]));
    // Retired afterwards: its footage was recorded while it was registered.
    ok(st.evidock(&["device", "retire", "J700003", "--reason", "镜头损坏，报废"]));
    // Another recorder registered to officer 099999, worn by 012345 (its identity's badge).
    let o = st.evidock(&["device", "register", "J700004", "--officer-id", "099999", "--officer-name", "李四"]);
    assert!(o.status.success(), "{}", text(&o));
    let (vol, _) = st.sim("MIS", &["--serial", "J700004", "--segments", "2", "--segment-bytes", "5000"]);
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "ingested, and flagged at docking: {}", text(&o));
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let (from, to) = ((today - chrono::Duration::days(2)).to_string(), today.to_string());
    let json = ok(st.evidock(&["report", "compliance", "--from", &from, "--to", &to, "--format", "json"]));
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let findings = doc["findings"].as_array().unwrap();
    let of = |kind: &str| findings.iter().filter(|f| f["kind"] == kind).cloned().collect::<Vec<_>>();
    assert!(of("unregistered-device").is_empty(), "the retired recorder was registered then: {json}");
    let mismatch = of("registry-mismatch");
    assert_eq!(mismatch.len(), 1, "{json}");
    assert_eq!((mismatch[0]["device"].as_str(), mismatch[0]["rule"].as_str()), (Some("J700004"), Some("R1")));
    let detail = mismatch[0]["detail"].as_str().unwrap();
    assert!(detail.contains("099999") && detail.contains("012345"), "{detail}");
    assert!(mismatch[0]["detail_zh"].as_str().unwrap().contains("登记使用人为099999"), "{json}");
}

/// R11, S0 §19 / S2 §28 (不得篡改、删改执法记录): what people read as record is checked
/// against the custody log. An explanation, a mark or a registration edited in the catalogue
/// shows in `gap list` and the like, but `log verify` names the row and fails.
#[test]
fn r11_an_edited_gap_explanation_mark_or_registration_is_named_by_log_verify() {
    let st = station();
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
    ok(st.evidock(&["gap", "explain", &id.to_string(), "--text", "电量不足，更换电池后继续录制", "--by", "012345"]));
    ok(st.evidock(&["access", "mark", "--case", CASE, "--level", "privacy", "--reason", "涉及未成年人"]));
    st.assert_log_verifies();

    let db = rusqlite::Connection::open(st.path("state/catalog.sqlite")).unwrap();
    db.execute("UPDATE gaps SET explanation = '设备故障' WHERE id = ?1", [id]).unwrap();
    db.execute("UPDATE confidentiality SET cleared_at = '2026-01-01T00:00:00+00:00' WHERE id = 1", []).unwrap();
    db.execute("UPDATE registry SET officer_id = '099999' WHERE serial = 'E500001'", []).unwrap();
    // People reading the table see the edited text...
    let listed = ok(st.evidock(&["gap", "list", "--json"]));
    assert!(listed.contains("设备故障"), "{listed}");
    // ...and log verify names every edited row.
    let o = st.evidock(&["log", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains(&format!("gaps row {id}: the explanation was changed")), "{said}");
    assert!(said.contains("confidentiality row 1: the mark's clearing differs"), "{said}");
    assert!(said.contains("registry row E500001: the registered officer was changed"), "{said}");
    assert!(said.contains("与保管日志记录不符"), "{said}");
    let o = st.evidock(&["log", "verify", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(&o.stdout)).unwrap();
    assert_eq!(v["catalogue_edited"].as_array().map(Vec::len), Some(3), "{v}");
    assert_eq!(v["intact"], true, "the chain itself is sound: {v}");
}

/// R11, S0 §19 / S2 §28 (不得篡改、删改执法记录) and S3 §26 (案卷标注承办人): a case label
/// (party, handling officers, on-site windows) relabelled through evidock verifies; the same
/// label edited in the catalogue, or a case added there, is named by `log verify`.
#[test]
fn r11_an_edited_case_label_is_named_by_log_verify() {
    let st = station();
    ok(st.evidock(&[
        "case",
        "label",
        CASE,
        "--party",
        "某某商行",
        "--officer",
        "012345",
        "--officer",
        "012346",
        "--kind",
        "penalty",
        "--window",
        "2025-03-01T09:00,2025-03-01T10:30",
    ]));
    // An informant recorded on the case logs no label: the label still verifies.
    ok(st.evidock(&["access", "informant", "--case", CASE, "--name", "王举报"]));
    st.assert_log_verifies();

    let db = rusqlite::Connection::open(st.path("state/catalog.sqlite")).unwrap();
    db.execute("UPDATE cases SET party = '另一商行' WHERE number = ?1", [CASE]).unwrap();
    db.execute("UPDATE case_windows SET to_t = '2025-03-01T09:05:00'", []).unwrap();
    db.execute(
        "INSERT INTO cases (number, folder, party, kind, officers, created, created_by) \
         VALUES ('伪造〔2025〕1号', 'forged', NULL, 'penalty', '[]', '2025-03-01T00:00:00+00:00', 'root')",
        [],
    )
    .unwrap();
    let o = st.evidock(&["log", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains(&format!("cases row {CASE}: the case label was changed")), "{said}");
    assert!(said.contains(&format!("cases row {CASE}: the on-site windows were changed")), "{said}");
    assert!(said.contains("cases row 伪造〔2025〕1号: a case no event created"), "{said}");
    assert!(said.contains("案件信息被改动") && said.contains("现场执法时段被改动"), "{said}");
    let o = st.evidock(&["log", "verify", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(&o.stdout)).unwrap();
    assert_eq!(v["catalogue_edited"].as_array().map(Vec::len), Some(3), "{v}");
}

/// R10, S0 §18 / S2 §26 / S4 §25 (涉及国家秘密、商业秘密、个人隐私的，按保密规定使用): footage
/// carrying a mark goes onto a disc only when the person staging it holds the mark's approver
/// right at that moment; otherwise nothing is planned or staged, and the refusal is logged.
#[test]
fn r10_marked_footage_is_staged_for_a_disc_only_by_a_holder_of_the_marks_approver_right() {
    let st = station();
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(
        &st.config,
        format!(
            "{cfg}\n[burn]\nstaging_dir = \"burn\"\ncopies = 1\n\n[access.secret]\nrequesters = [\"uid:0\"]\napprovers = [\"uid:4343\"]\n"
        ),
    )
    .unwrap();
    ok(st.evidock(&["access", "mark", "--case", CASE, "--level", "secret", "--reason", "涉及国家秘密"]));
    let o = st.evidock(&["burn", "run", "--media", "dvd"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains("burn refused") && said.contains("marked secret"), "{said}");
    assert!(said.contains("拒绝刻录") && said.contains("国家秘密"), "{said}");
    let actions = st.actions();
    assert!(!actions.iter().any(|a| a == "burn_planned" || a == "disc_staged"), "nothing planned: {actions:?}");
    let refused = events(&st, "call_refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["command"].as_str(), Some("burn run"), "{refused:?}");
    assert!(refused[0]["reason"].as_str().unwrap().contains("marked secret"), "{refused:?}");
    assert!(files_under(&st.path("burn")).is_empty(), "nothing staged");

    // The superuser (an approver at this station) is named among the mark's approvers: the
    // same job now plans and stages the disc.
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, cfg.replace("approvers = [\"uid:4343\"]", "approvers = [\"uid:0\"]")).unwrap();
    let o = st.evidock(&["burn", "run", "--media", "dvd"]);
    let actions = st.actions();
    assert!(actions.iter().any(|a| a == "burn_planned"), "{actions:?}\n{}", text(&o));
    assert!(actions.iter().any(|a| a == "disc_staged"), "{actions:?}\n{}", text(&o));
    assert_eq!(events(&st, "call_refused").len(), 1);
    st.assert_log_verifies();
}

/// A burn run by the station's own user for a station account (a step started from the page
/// names the account as the maker) holds that account to the mark's approver right: its
/// roles are the catalogue's, the mark's `approvers` name it (`account:NAME`). A custodian
/// account is refused with nothing planned; an approver account named among the approvers
/// stages the disc.
#[test]
#[cfg_attr(not(is_root), ignore = "needs root: the station is handed to a user of its own")]
fn r10_a_burn_for_a_station_account_holds_the_account_to_the_marks_approver_right() {
    let st = station();
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(
        &st.config,
        format!(
            "{cfg}\n[burn]\nstaging_dir = \"burn\"\ncopies = 1\n\n[access.secret]\nrequesters = [\"uid:0\"]\napprovers = [\"account:boss\"]\n"
        ),
    )
    .unwrap();
    ok(st.evidock(&["access", "mark", "--case", CASE, "--level", "secret", "--reason", "涉及国家秘密"]));
    for (name, roles) in
        [("wang", &["--role", "custodian"][..]), ("boss", &["--role", "custodian", "--role", "approver"])]
    {
        let mut args = vec!["account", "add", name, "--display-name", name];
        args.extend_from_slice(roles);
        let o = crate::web::account(&st, &args[1..], crate::web::PASSWORD);
        assert!(o.status.success(), "{}", text(&o));
    }
    // The station's own user (the catalogue's owner, no role of its own) runs the job.
    let o = std::process::Command::new("chown").args(["-R", "4242:4242"]).arg(st.path(".")).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = st.evidock_as(4242, &["burn", "run", "--media", "dvd", "--maker", "account:wang"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("account:wang does not hold its approver right"), "{}", text(&o));
    assert!(!st.actions().iter().any(|a| a == "burn_planned"), "nothing planned");
    let o = st.evidock_as(4242, &["burn", "run", "--media", "dvd", "--maker", "account:boss"]);
    let actions = st.actions();
    assert!(actions.iter().any(|a| a == "disc_staged"), "{actions:?}\n{}", text(&o));
    let maker: String = st.db().query_row("SELECT maker FROM discs LIMIT 1", [], |r| r.get(0)).unwrap();
    assert_eq!(maker, "account:boss");
    st.assert_log_verifies();
}

/// Whether `text` shows a time as `YYYY-MM-DD hh:mm:ss Asia/Shanghai`: station time to the
/// second, the zone named.
fn stamped(text: &str) -> bool {
    text.match_indices(" Asia/Shanghai").any(|(i, _)| {
        let b = text.as_bytes();
        i >= 19 && {
            let t = &b[i - 19..i];
            t.iter().enumerate().all(|(k, c)| match k {
                4 | 7 => *c == b'-',
                10 => *c == b' ',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            })
        }
    })
}

/// R13, S2 §13 (音像记录应当包括执法时间): every time a person reads is station time to the
/// second with the zone named: `access list`, an approval's validity, `status`, the compliance
/// report; never UTC, an offset or fractions of a second.
#[test]
fn r13_what_people_read_is_station_time_to_the_second_with_the_zone_named() {
    let st = station();
    copy_request(&st);
    let listed = ok(st.evidock(&["access", "list"]));
    assert!(stamped(&listed), "{listed}");
    open_station_to(&st);
    let approved = ok(st.evidock_as(65534, &["access", "approve", "1"]));
    assert!(approved.contains("approved until") && stamped(&approved), "{approved}");
    let status = ok(st.evidock(&["status"]));
    assert!(status.contains("recent dockings") && stamped(&status), "{status}");
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).format("%Y-%m-%d").to_string();
    // Findings or not (exit 0 or 1), the text is what a person reads.
    let report =
        String::from_utf8_lossy(&st.evidock(&["report", "compliance", "--from", &today, "--to", &today]).stdout)
            .to_string();
    let generated = report.lines().find(|l| l.contains("Generated")).expect("a generated line");
    assert!(stamped(generated) && !generated.ends_with('Z'), "{generated}");
    for text in [&listed, &approved, &status, &report] {
        assert!(!text.contains("+00:00") && !text.contains("+08:00"), "an offset instant: {text}");
        assert!(!text.contains(&format!("{today}T")), "an ISO instant: {text}");
    }
}

/// The findings of `report compliance --format json` from two days ago to `to`.
fn compliance_findings(st: &Station, to: &str) -> (Vec<serde_json::Value>, String) {
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let from = (today - chrono::Duration::days(2)).to_string();
    let o = st.evidock(&["report", "compliance", "--from", &from, "--to", to, "--format", "json"]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let json = String::from_utf8_lossy(&o.stdout).to_string();
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    (doc["findings"].as_array().cloned().unwrap_or_default(), json)
}

/// R1, S1 §12 / §14 (录入使用人的身份资料; 谁使用谁负责): a recorder whose badge agrees with
/// the registration in force but whose officer NAME differs is a finding of the compliance
/// report, not only a note at docking.
#[test]
fn r1_an_officer_name_that_differs_from_the_registration_is_a_compliance_finding() {
    let st = Station::new();
    let o = st.evidock(&["device", "register", "J700005", "--officer-id", "012345", "--officer-name", "王五"]);
    assert!(o.status.success(), "{}", text(&o));
    // The recorder's identity names 张三 (badge 012345).
    let (vol, _) = st.sim("NAME", &["--serial", "J700005", "--segments", "2", "--segment-bytes", "5000"]);
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive().to_string();
    let (findings, json) = compliance_findings(&st, &today);
    let mismatch: Vec<_> = findings.iter().filter(|f| f["kind"] == "registry-mismatch").collect();
    assert_eq!(mismatch.len(), 1, "{json}");
    assert_eq!((mismatch[0]["device"].as_str(), mismatch[0]["rule"].as_str()), (Some("J700005"), Some("R1")));
    let detail = mismatch[0]["detail"].as_str().unwrap();
    assert!(detail.contains("(王五)") && detail.contains("names 张三"), "{detail}");
    assert!(mismatch[0]["detail_zh"].as_str().unwrap().contains("记录仪所载姓名为张三"), "{json}");
}

/// R14, S0 §14 / S1 §16 / S3 §7 (执法记录仪领用、归还): the compliance report carries the duty
/// report's findings: a shift whose recorder came back with no footage is a finding (R14).
#[test]
fn r14_a_shift_without_footage_is_a_compliance_finding() {
    let st = Station::new();
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, format!("{cfg}\n[duty]\nmin_free_bytes = 1048576\nday_end = \"18:00\"\n")).unwrap();
    st.register("J800009");
    let (vol, _) = st.sim("DUTY", &["--serial", "J800009", "--segments", "1", "--segment-bytes", "4096"]);
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    ok(st.evidock(&["duty", "out", "J800009", "--officer", "012345", "--shift", "day"]));
    let tomorrow = (chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive()
        + chrono::Duration::days(1))
    .to_string();
    let (before, json) = compliance_findings(&st, &tomorrow);
    assert!(!before.iter().any(|f| f["kind"] == "shift-without-footage"), "the shift is still open: {json}");
    // It docks again with nothing new on it: checked in, and the shift brought no footage.
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let (findings, json) = compliance_findings(&st, &tomorrow);
    let empty: Vec<_> = findings.iter().filter(|f| f["kind"] == "shift-without-footage").collect();
    assert_eq!(empty.len(), 1, "{json}");
    assert_eq!((empty[0]["device"].as_str(), empty[0]["rule"].as_str()), (Some("J800009"), Some("R14")));
    assert!(empty[0]["detail_zh"].as_str().unwrap().contains("无任何录像"), "{json}");
}
