//! The custodian's day on the station's web page (docs/WEB.md; R1, R3, R4, R12, R14):
//! registering and retiring a recorder, handing one out after its health check and recording
//! the return, creating a case, and the alarms and recent dockings, each through the station API as the signed-in
//! account, each change a custody event naming them; an officer refused; a form without its
//! CSRF token refused. Over plain HTTP, and in headless Chromium.

use crate::support::text;
use crate::web::{account, add_officer, csrf_field, events, get, post, q, session_of, web_station, Driver, PASSWORD};

#[test]
fn a_custodian_registers_hands_out_takes_back_and_retires_from_the_page() {
    let (mut st, base) = web_station("");
    st.start();
    add_officer(&st);
    let o = account(&st, &["add", "wang", "--display-name", "王五", "--role", "custodian"], PASSWORD);
    assert!(o.status.success(), "{}", text(&o));
    let (vol, _) =
        st.sim("K1", &["--serial", "K600001", "--sessions", "1", "--segments", "2", "--segment-bytes", "20000"]);
    st.dock(&vol, "K600001");
    st.wait_finished("K600001");
    let wang = session_of(&base, "wang");
    let bays = get(&base, "/", &wang).into_string().unwrap();
    assert!(bays.contains("id=\"to-duty\"") && bays.contains("id=\"to-alarms\""), "{bays}");
    let html = get(&base, "/devices", &wang).into_string().unwrap();
    assert!(html.contains("id=\"register\""), "{html}");
    let csrf = csrf_field(&html);

    // Registered to an officer, by name and unit, in Chinese.
    let form = [
        ("csrf", csrf.as_str()),
        ("serial", "K600001"),
        ("officer_id", "012345"),
        ("officer_name", "张三"),
        ("unit", "城关中队"),
        ("usb", "2e3c:5740:HK0123456789，2E3C:5741:HK0123456789"),
    ];
    assert_eq!(post(&base, "/devices/register", &wang, &form[1..]).status(), 403, "no token");
    let r = post(&base, "/devices/register", &wang, &form);
    assert_eq!((r.status(), r.header("location")), (303, Some("/devices?done=registered")));
    let reg = events(&st, "device_registered");
    assert_eq!((reg.len(), reg[0].0.as_str(), reg[0].1.as_str()), (3, "account:wang", "custodian"), "{reg:?}");
    let html = get(&base, "/devices?done=registered", &wang).into_string().unwrap();
    assert!(html.contains("已登记") && html.contains("张三 (012345)") && html.contains("城关中队"), "{html}");
    // Its USB devices bound (a vendor's protocol recorder is known by them when it docks).
    assert!(html.contains("2e3c:5740:HK0123456789") && html.contains("2e3c:5741:HK0123456789"), "{html}");
    let bound: Vec<&str> = reg.iter().filter_map(|e| e.3["usb_binding"].as_str()).collect();
    assert_eq!(bound, ["2e3c:5740:HK0123456789", "2e3c:5741:HK0123456789"], "one event per binding: {reg:?}");
    let r = post(&base, "/devices/register", &wang, &[("csrf", &csrf), ("serial", "bad!"), ("officer_id", "012345")]);
    assert_eq!(r.status(), 400, "a bad serial is told");
    let bad_usb = [("csrf", csrf.as_str()), ("serial", "K600002"), ("officer_id", "012345"), ("usb", "2e3c-5740")];
    let r = post(&base, "/devices/register", &wang, &bad_usb);
    assert_eq!(r.status(), 400, "a bad USB device is told");
    assert!(r.into_string().unwrap().contains("USB设备标识不正确"));
    assert_eq!(events(&st, "device_registered").len(), 3, "nothing registered for it");

    // Handed out after its health check; a second hand-out is a finding shown on the page.
    let out = [("csrf", csrf.as_str()), ("serial", "K600001"), ("officer", "012345"), ("shift", "早班")];
    let r = post(&base, "/duty/out", &wang, &out);
    assert_eq!((r.status(), r.header("location")), (303, Some("/duty?done=out&binding=1")));
    let html = get(&base, "/duty?done=out&binding=1", &wang).into_string().unwrap();
    assert!(html.contains("已发放，绑定 #1") && html.contains("id=\"binding-1\"") && html.contains("早班"), "{html}");
    let r = post(&base, "/duty/out", &wang, &out);
    assert_eq!(r.status(), 409);
    assert!(r.into_string().unwrap().contains("未发放 K600001"), "already out");
    assert_eq!(events(&st, "duty_checked_out").len(), 1);
    assert_eq!(events(&st, "duty_refused").len(), 1);

    // The officer's return, now.
    let r = post(&base, "/duty/return", &wang, &[("csrf", &csrf), ("officer", "012345"), ("note", "异地执法返回")]);
    assert_eq!((r.status(), r.header("location")), (303, Some("/duty?done=returned")));
    assert_eq!(events(&st, "duty_return_recorded")[0].0, "account:wang");

    // The state of the station: recent dockings, alarms.
    let html = get(&base, "/alarms", &wang).into_string().unwrap();
    assert!(html.contains("最近接入") && html.contains("K600001") && html.contains("档案巡检"), "{html}");

    // An officer may do none of it: refused and recorded, no form offered.
    let zhang = session_of(&base, "zhang");
    let html = get(&base, "/devices", &zhang);
    assert_eq!(html.status(), 403, "the registry is the custodians'");
    assert_eq!(get(&base, "/duty", &zhang).status(), 403, "the bindings are the custodians'");
    assert_eq!(get(&base, "/cases", &zhang).status(), 403, "the case list is the station's roles'");
    let zcsrf = csrf_field(&get(&base, "/", &zhang).into_string().unwrap());
    let r = post(&base, "/duty/out", &zhang, &[("csrf", &zcsrf), ("serial", "K600001"), ("officer", "012345")]);
    assert_eq!(r.status(), 403);
    let refused = events(&st, "call_refused");
    assert!(refused.iter().any(|e| e.0 == "account:zhang" && e.3["command"] == "duty out"), "{refused:?}");

    // A case, in Chinese, with its handling officer and on-site window.
    let case = [
        ("csrf", csrf.as_str()),
        ("number", "宜卫罚〔2026〕9号"),
        ("party", "某某商行"),
        ("officers", "012345，054321"),
        ("kind", "penalty"),
        ("from", "2026-03-02T08:00"),
        ("to", "2026-03-02T09:30"),
    ];
    let r = post(&base, "/cases/create", &wang, &case);
    assert_eq!((r.status(), r.header("location")), (303, Some("/cases?done=created")));
    let created = events(&st, "case_created");
    assert_eq!((created.len(), created[0].0.as_str()), (1, "account:wang"));
    assert_eq!(created[0].3["officers"], serde_json::json!(["012345", "054321"]));
    let html = get(&base, "/cases?done=created", &wang).into_string().unwrap();
    assert!(html.contains("案件已创建") && html.contains("宜卫罚〔2026〕9号") && html.contains("行政处罚"), "{html}");
    assert_eq!(post(&base, "/cases/create", &wang, &case).status(), 409, "a number that exists");
    let r = post(&base, "/cases/create", &wang, &[("csrf", &csrf), ("number", "宜卫罚〔2026〕10号"), ("kind", "whim")]);
    assert_eq!(r.status(), 400);
    assert!(r.into_string().unwrap().contains("案件类别不正确"));
    let r = post(
        &base,
        "/cases/create",
        &wang,
        &[("csrf", &csrf), ("number", "宜卫罚〔2026〕10号"), ("from", "2026-03-02T08:00")],
    );
    assert_eq!(r.status(), 400, "half a window");
    assert_eq!(events(&st, "case_created").len(), 1);
    let o = st.evidock(&["case", "list"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "宜卫罚〔2026〕9号", "{}", text(&o));
    // The case as its folders' label has it, and its description written from the page.
    let page = format!("/case/{}", q("宜卫罚〔2026〕9号"));
    let html = get(&base, &page, &wang).into_string().unwrap();
    assert!(html.contains("当事人 Party: 某某商行") && html.contains("id=\"describe-case\""), "{html}");
    let r = post(
        &base,
        &format!("{page}/describe"),
        &wang,
        &[("csrf", &csrf), ("subject", "某某商行"), ("content", "现场检查，责令整改"), ("place", "解放路 12 号")],
    );
    assert_eq!((r.status(), r.header("location")), (303, Some(format!("{page}?done=described").as_str())));
    assert_eq!(events(&st, "footage_described")[0].0, "account:wang");
    let html = get(&base, &format!("{page}?done=described"), &wang).into_string().unwrap();
    assert!(html.contains("说明已保存") && html.contains("执法内容 Content: 现场检查，责令整改"), "{html}");
    let shown = st.evidock(&["case", "show", "宜卫罚〔2026〕9号"]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("取证地点 Place: 解放路 12 号"), "{}", text(&shown));
    assert_eq!(get(&base, &format!("/case/{}", q("没有这个案件")), &wang).status(), 404);

    // Relabelled from the page (R4, S3 §26): the officer and an on-site window around the
    // footage docked above; the folders' label follows; a window that ends before it starts is
    // told and changes nothing.
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let (from, to) = (format!("{}T00:00", today - chrono::Duration::days(2)), format!("{today}T23:59"));
    let bad = [("csrf", csrf.as_str()), ("party", "某某公司"), ("officers", "012345"), ("from", &to), ("to", &from)];
    let r = post(&base, &format!("{page}/label"), &wang, &bad);
    assert_eq!(r.status(), 400);
    assert!(r.into_string().unwrap().contains("ends before it starts"));
    assert!(events(&st, "case_labelled").is_empty());
    let label = [
        ("csrf", csrf.as_str()),
        ("party", "某某商贸有限公司"),
        ("officers", "012345"),
        ("kind", "inspection"),
        ("from", &from),
        ("to", &to),
    ];
    assert_eq!(post(&base, &format!("{page}/label"), &wang, &label[1..]).status(), 403, "no token");
    let r = post(&base, &format!("{page}/label"), &wang, &label);
    assert_eq!((r.status(), r.header("location")), (303, Some(format!("{page}?done=relabelled").as_str())));
    assert_eq!(events(&st, "case_labelled")[0].0, "account:wang");
    // The footage of officer 012345 within the window is proposed, and filed from the page.
    let html = get(&base, &format!("{page}?done=relabelled"), &wang).into_string().unwrap();
    assert!(html.contains("案件信息已修改") && html.contains("当事人 Party: 某某商贸有限公司"), "{html}");
    assert!(html.contains("<option value=\"inspection\" selected>"), "the form shows the label in force");
    assert!(html.contains(&format!("id=\"label-from\" value=\"{from}:00\"")), "a datetime-local value: {html}");
    let ticked: Vec<&str> = html
        .split("name=\"file\" id=\"propose-")
        .skip(1)
        .filter_map(|t| t.split("value=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(ticked.len(), 2, "two segments proposed: {html}");
    assert!(ticked.iter().all(|p| p.contains("/K600001/K600001_012345_")), "{ticked:?}");
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend(ticked.iter().map(|p| ("file", *p)));
    assert_eq!(post(&base, &format!("{page}/file"), &wang, &form[1..]).status(), 403, "no token");
    let r = post(&base, &format!("{page}/file"), &wang, &form);
    assert_eq!((r.status(), r.header("location")), (303, Some(format!("{page}?done=filed").as_str())));
    let assigned = events(&st, "footage_assigned");
    assert_eq!((assigned.len(), assigned[0].0.as_str()), (2, "account:wang"));
    let html = get(&base, &format!("{page}?done=filed"), &wang).into_string().unwrap();
    assert!(html.contains("已归入案件") && html.contains("id=\"proposed\">无匹配录像"), "nothing left to file: {html}");
    // Every description written stays in the history, oldest first (S4 §23).
    let r = post(&base, &format!("{page}/describe"), &wang, &[("csrf", &csrf), ("content", "复查，已整改")]);
    assert_eq!(r.status(), 303);
    let html = get(&base, &page, &wang).into_string().unwrap();
    let history = html.split("id=\"descriptions\"").nth(1).expect("the history is shown");
    let (first, second) = (history.find("现场检查，责令整改").unwrap(), history.find("复查，已整改").unwrap());
    assert!(first < second, "{history}");
    let said = st.evidock(&["case", "describe", "宜卫罚〔2026〕9号", "--history"]);
    assert_eq!(String::from_utf8_lossy(&said.stdout).matches("执法内容 Content").count(), 2, "{}", text(&said));

    // Retired, with the reason.
    let r = post(&base, "/devices/retire", &wang, &[("csrf", &csrf), ("serial", "K600001"), ("reason", "屏幕损坏")]);
    assert_eq!((r.status(), r.header("location")), (303, Some("/devices?done=retired")));
    assert_eq!(events(&st, "device_retired")[0].0, "account:wang");
    assert!(get(&base, "/devices", &wang).into_string().unwrap().contains("已停用 retired"));
    st.assert_log_verifies();
    st.stop();
}

/// The alarms page names what needs the custodian beyond the alarms (the list:
/// unregistered recorders, late docking, disk space, flagged footage), each fact from the
/// catalogue and the custody log, and each gone once it is dealt with.
#[test]
fn r1_r14_the_alarms_page_names_what_needs_attention_and_each_goes_once_dealt_with() {
    let (mut st, base) = web_station("");
    st.register("K800001");
    // The archive disk as 95% full, as the service measures it.
    st.start_with(&[("EVIDOCK_FAILPOINT_ARCHIVE_DISK", "1000000000000:950000000000")]);
    let o = account(&st, &["add", "wang", "--display-name", "王五", "--role", "custodian"], PASSWORD);
    assert!(o.status.success(), "{}", text(&o));
    let wang = session_of(&base, "wang");
    let html = get(&base, "/alarms", &wang).into_string().unwrap();
    assert!(html.contains("id=\"disk\" class=\"notice\">档案盘") && html.contains("已用 95%"), "{html}");
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"30\">"), "the kiosk's page keeps itself current");
    assert!(!html.contains("id=\"no-attention\"") && !html.contains("id=\"review\""), "{html}");

    // An unregistered recorder with a gap in its footage docks; a registered one is handed out.
    let (vol, _) =
        st.sim("X1", &["--serial", "X800009", "--segments", "3", "--segment-bytes", "10000", "--fault", "gap"]);
    st.dock(&vol, "X800009");
    st.wait_finished("X800009");
    let (vol, _) = st.sim("K1", &["--serial", "K800001", "--segments", "1", "--segment-bytes", "10000"]);
    st.dock(&vol, "K800001");
    st.wait_finished("K800001");
    let o = st.evidock(&["duty", "out", "K800001", "--officer", "012345", "--officer-name", "张三"]);
    assert!(o.status.success(), "{}", text(&o));
    let html = get(&base, "/alarms", &wang).into_string().unwrap();
    assert!(html.contains("id=\"not-in-service-X800009\"") && html.contains("未登记"), "{html}");
    assert!(html.contains("id=\"review\"") && html.contains("<strong>X800009</strong> · 接入 docking #1"), "{html}");
    assert!(!html.contains("K800001</strong> · 接入"), "nothing to review in the registered one's footage: {html}");
    assert!(!html.contains("id=\"overdue\""), "handed out just now, due tonight: {html}");

    // As if handed out two days ago: past the end of its working day, not returned.
    let two_days_ago = (chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339();
    let db = rusqlite::Connection::open(st.path("state/catalog.sqlite")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    db.execute("UPDATE duty_bindings SET out_at = ?1 WHERE id = 1", [&two_days_ago]).unwrap();
    drop(db);
    let html = get(&base, "/alarms", &wang).into_string().unwrap();
    assert!(html.contains("id=\"overdue-1\"><strong>K800001</strong> · 张三 (012345)"), "{html}");
    // The command line's status says the same.
    let o = st.evidock(&["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    let a = &doc["attention"];
    assert_eq!(
        (
            a["not_in_service"][0]["serial"].as_str(),
            a["overdue"][0]["serial"].as_str(),
            a["review"][0]["docking_id"].as_i64()
        ),
        (Some("X800009"), Some("K800001"), Some(1)),
        "{a}"
    );
    assert_eq!((a["disk"]["used_percent"].as_u64(), a["disk"]["low"].as_bool()), (Some(95), Some(true)), "{a}");
    let o = st.evidock(&["status"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("attention 需要处理: 4"), "{}", text(&o));

    // Dealt with: registered, returned by docking; only the review and the disk stay.
    let r = post(
        &base,
        "/devices/register",
        &wang,
        &[("csrf", &csrf_field(&html)), ("serial", "X800009"), ("officer_id", "054321")],
    );
    assert_eq!(r.status(), 303);
    let (vol, _) =
        st.sim("K2", &["--serial", "K800001", "--segments", "1", "--segment-bytes", "10000", "--first-seq", "5"]);
    std::fs::remove_dir_all(st.dock_root().join("K800001")).unwrap();
    st.dock(&vol, "K800001b");
    st.wait_finished("K800001b");
    let html = get(&base, "/alarms", &wang).into_string().unwrap();
    assert!(!html.contains("id=\"not-in-service") && !html.contains("id=\"overdue"), "{html}");
    assert!(html.contains("id=\"review-1\"") && html.contains("已用 95%"), "{html}");

    // The review, recorded with what was found; then the docking leaves the list.
    let csrf = csrf_field(&html);
    let form = [("csrf", csrf.as_str()), ("docking", "1"), ("note", "中断系电池耗尽，已核对并登记")];
    assert_eq!(post(&base, "/alarms/reviewed", &wang, &form[1..]).status(), 403, "no token");
    let r = post(&base, "/alarms/reviewed", &wang, &[("csrf", &csrf), ("docking", "1"), ("note", " ")]);
    assert_eq!(r.status(), 400, "a review says what was found");
    let r = post(&base, "/alarms/reviewed", &wang, &[("csrf", &csrf), ("docking", "2"), ("note", "x")]);
    assert_eq!(r.status(), 400, "the registered recorder's docking asked for no review");
    assert!(r.into_string().unwrap().contains("无须复核"));
    assert_eq!(
        post(&base, "/alarms/reviewed", &wang, &[("csrf", &csrf), ("docking", "99"), ("note", "x")]).status(),
        404
    );
    assert!(events(&st, "docking_reviewed").is_empty(), "nothing recorded by the refusals");
    let r = post(&base, "/alarms/reviewed", &wang, &form);
    assert_eq!((r.status(), r.header("location")), (303, Some("/alarms?done=reviewed")));
    let reviewed = events(&st, "docking_reviewed");
    assert_eq!((reviewed.len(), reviewed[0].0.as_str()), (1, "account:wang"), "{reviewed:?}");
    assert_eq!(
        (reviewed[0].3["serial"].as_str(), reviewed[0].3["note"].as_str()),
        (Some("X800009"), Some("中断系电池耗尽，已核对并登记"))
    );
    let html = get(&base, "/alarms?done=reviewed", &wang).into_string().unwrap();
    assert!(html.contains("已记录复核") && !html.contains("id=\"review-1\""), "{html}");
    let o = st.evidock(&["device", "reviewed", "1", "--note", "再次复核"]);
    assert_eq!(o.status.code(), Some(2), "reviewed once: {}", text(&o));
    assert!(text(&o).contains("接入 1 已复核"), "{}", text(&o));
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
)]
fn in_a_browser_a_custodian_registers_a_recorder_and_hands_it_out() {
    let (mut st, base) = web_station("");
    st.start();
    let o = account(&st, &["add", "wang", "--display-name", "王五", "--role", "custodian"], PASSWORD);
    assert!(o.status.success(), "{}", text(&o));
    let (vol, _) =
        st.sim("K2", &["--serial", "K600002", "--sessions", "1", "--segments", "1", "--segment-bytes", "20000"]);
    st.dock(&vol, "K600002");
    st.wait_finished("K600002");
    let b = Driver::start();
    b.sign_in(&base, "wang", PASSWORD);
    // The alarms page names the recorder that docked unregistered, and leads to the registry.
    b.text_when("#to-alarms", "警报与状态");
    b.click("#to-alarms");
    assert!(b.text_when("#not-in-service", "K600002").contains("未登记"));
    b.screenshot("alarms");
    b.click("#not-in-service + p a");
    b.text_when("#register", "登记");
    b.type_into("#reg-serial", "K600002");
    b.type_into("#reg-officer", "012345");
    b.type_into("#reg-name", "张三");
    b.click("#register");
    b.text_when("#done", "已登记");
    assert!(b.text("#devices").contains("张三 (012345)"), "{}", b.text("#devices"));
    b.go(&format!("{base}/duty"));
    b.type_into("#out-serial", "K600002");
    b.type_into("#out-officer", "012345");
    b.click("#hand-out");
    b.text_when("#done", "已发放");
    assert!(b.text("#binding-1").contains("K600002"), "{}", b.text("#bindings"));
    b.screenshot("duty");
    b.go(&format!("{base}/cases"));
    b.type_into("#case-number", "宜卫罚〔2026〕11号");
    b.type_into("#case-officers", "012345");
    b.click("#create-case");
    b.text_when("#done", "案件已创建");
    assert!(b.text("#cases").contains("宜卫罚〔2026〕11号"), "{}", b.text("#cases"));
    // The case's page: relabelled in the browser, its folders' label following.
    b.click("#cases a");
    b.text_when("#label", "宜卫罚〔2026〕11号");
    b.type_into("#label-party", "某某餐饮有限公司");
    b.click("#relabel-case");
    b.text_when("#done", "案件信息已修改");
    assert!(b.text("#label").contains("当事人 Party: 某某餐饮有限公司"), "{}", b.text("#label"));
    assert!(b.text("#marks").contains("无"), "no mark: {}", b.text("#marks"));
    b.screenshot("case");
    b.go(&format!("{base}/alarms"));
    b.text_when("#dockings", "K600002");
    let attention = b.script("return document.querySelectorAll('#not-in-service').length");
    assert_eq!(attention, serde_json::json!(0), "registered: no longer named");
    drop(b);
    assert_eq!(events(&st, "duty_checked_out")[0].0, "account:wang");
    assert_eq!(events(&st, "case_labelled")[0].0, "account:wang");
    st.assert_log_verifies();
    st.stop();
}

#[test]
fn r7_an_archivist_holds_and_asks_to_withdraw_a_flag_and_another_person_approves_in_the_page() {
    let (mut st, base) = web_station("");
    st.start();
    add_officer(&st);
    for (name, display, role) in [("an", "安七", "archivist"), ("shen", "沈六", "approver")] {
        let o = account(&st, &["add", name, "--display-name", display, "--role", role], PASSWORD);
        assert!(o.status.success(), "{}", text(&o));
    }
    let (vol, _) =
        st.sim("R1", &["--serial", "R700001", "--sessions", "1", "--segments", "1", "--segment-bytes", "20000"]);
    st.dock(&vol, "R700001");
    st.wait_finished("R700001");
    let rec: String = st
        .db()
        .query_row("SELECT serial || '/' || session FROM segments WHERE serial = 'R700001' LIMIT 1", [], |r| r.get(0))
        .unwrap();
    let an = session_of(&base, "an");
    let html = get(&base, "/retention?days=400", &an).into_string().unwrap();
    assert!(html.contains(&rec) && html.contains("普通保存"), "due within 400 days: {html}");
    let show = format!("/retention/show?recording={}", q(&rec));
    let html = get(&base, &show, &an).into_string().unwrap();
    assert!(html.contains("id=\"place-hold\"") && !html.contains("id=\"hold-1\""), "{html}");
    let csrf = csrf_field(&html);

    // A legal hold, placed and released, each with its reason, by the account.
    let hold = [("csrf", csrf.as_str()), ("recording", &rec), ("action", "hold"), ("hold", "（2026）鄂0105行初12号")];
    assert_eq!(post(&base, "/retention/change", &an, &hold).status(), 400, "a hold needs its reason");
    let mut with_reason = hold.to_vec();
    with_reason.push(("reason", "法院调取证据"));
    let r = post(&base, "/retention/change", &an, &with_reason);
    assert_eq!((r.status(), r.header("location")), (303, Some(format!("{show}&done=held").as_str())));
    assert_eq!(events(&st, "hold_placed")[0].0, "account:an");
    let html = get(&base, &show, &an).into_string().unwrap();
    assert!(html.contains("id=\"hold-1\"") && html.contains("（2026）鄂0105行初12号"), "{html}");
    let r = post(
        &base,
        "/retention/change",
        &an,
        &[("csrf", &csrf), ("recording", &rec), ("action", "release"), ("id", "1"), ("reason", "案件已审结")],
    );
    assert_eq!(r.status(), 303);
    assert_eq!(events(&st, "hold_released")[0].0, "account:an");

    // A long-term flag: its withdrawal asked for by the archivist, approved by another person.
    let o = st.evidock(&["retention", "flag", &rec, "--trigger", "dispute", "--reason", "当事人申请复议"]);
    assert!(o.status.success(), "{}", text(&o));
    let html = get(&base, &show, &an).into_string().unwrap();
    assert!(
        html.contains("长期保存") && html.contains("id=\"unflag-1\"") && !html.contains("unflag-approve-1"),
        "{html}"
    );
    let unflag =
        [("csrf", csrf.as_str()), ("recording", &rec), ("action", "unflag"), ("id", "1"), ("reason", "复议申请已撤回")];
    assert_eq!(post(&base, "/retention/change", &an, &unflag).status(), 303);
    assert_eq!(events(&st, "flag_withdrawal_requested")[0].0, "account:an");
    let approve = [("csrf", csrf.as_str()), ("recording", &rec), ("action", "unflag_approve"), ("id", "1")];
    assert_eq!(post(&base, "/retention/change", &an, &approve).status(), 403, "not the archivist's to approve");
    let shen = session_of(&base, "shen");
    let scsrf = csrf_field(&get(&base, &show, &shen).into_string().unwrap());
    let approve = [("csrf", scsrf.as_str()), ("recording", &rec), ("action", "unflag_approve"), ("id", "1")];
    let r = post(&base, "/retention/change", &shen, &approve);
    assert_eq!((r.status(), r.header("location")), (303, Some(format!("{show}&done=unflagged").as_str())));
    assert_eq!(events(&st, "retention_flag_withdrawn")[0].0, "account:shen");
    let html = get(&base, &format!("{show}&done=unflagged"), &an).into_string().unwrap();
    assert!(
        html.contains("长期保存标记已撤销") && html.contains("已撤销 withdrawn") && html.contains("普通保存"),
        "{html}"
    );

    // An officer has no retention page.
    let zhang = session_of(&base, "zhang");
    assert_eq!(get(&base, "/retention", &zhang).status(), 403);
    st.assert_log_verifies();
    st.stop();
}
