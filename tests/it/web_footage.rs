//! The officer's own footage on the station's web page (`/mine`, `/access`, `/view`;
//! docs/WEB.md; R4, R6, R7, R9, R12, S4 §23): the real daemon, real dockings, station
//! accounts; an officer describes their own recording, marks it important, files it into a case
//! that names them, explains its gaps, and views it under an approved request, streamed in
//! ranges; each through the station API as the signed-in account, each a custody event naming
//! them; footage that is not theirs, a case that does not name them, a view without approval
//! and a form without its CSRF token are refused and recorded. Over plain HTTP, and in a real
//! browser (headless Chromium through WebDriver).

use serde_json::json;

use crate::support::{text, Station};
use crate::web::{
    account, add_officer, agent, answer, csrf_field, events, get, post, q, session_of, web_station, Driver, PASSWORD,
};

const CASE: &str = "宜卫罚〔2026〕7号";
const OTHER_CASE: &str = "宜卫罚〔2026〕8号";

/// The recording id of `serial`'s footage.
fn recording_of(st: &Station, serial: &str) -> String {
    st.db()
        .query_row("SELECT serial || '/' || session FROM segments WHERE serial = ?1 LIMIT 1", [serial], |r| r.get(0))
        .unwrap()
}

/// Two officers' recorders docked, two cases (one naming officer 012345, one not), the
/// accounts: zhang (officer 012345), li (officer 054321), wang (custodian).
fn docked_station(web: &str) -> (Station, String, String, String) {
    let (mut st, base) = web_station(web);
    st.start();
    add_officer(&st);
    let o = account(&st, &["add", "li", "--display-name", "李四", "--badge", "054321", "--role", "officer"], PASSWORD);
    assert!(o.status.success(), "{}", text(&o));
    let o = account(&st, &["add", "wang", "--display-name", "王五", "--role", "custodian"], PASSWORD);
    assert!(o.status.success(), "{}", text(&o));
    for (name, serial, badge) in [("F1", "F100001", "012345"), ("F2", "F200002", "054321")] {
        let (vol, _) = st.sim(
            name,
            &["--serial", serial, "--badge", badge, "--sessions", "1", "--segments", "2", "--segment-bytes", "20000"],
        );
        st.dock(&vol, serial);
        assert_eq!(st.wait_finished(serial)["safe_to_undock"], true);
    }
    for (number, officer) in [(CASE, "012345"), (OTHER_CASE, "054321")] {
        let o = st.evidock(&["case", "create", number, "--officer", officer, "--kind", "penalty"]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let own = recording_of(&st, "F100001");
    let theirs = recording_of(&st, "F200002");
    (st, base, own, theirs)
}

#[test]
fn an_officer_describes_marks_and_files_their_own_footage_and_nothing_else() {
    let (mut st, base, own, theirs) = docked_station("");
    let zhang = session_of(&base, "zhang");

    // Their own footage only, with its standing.
    let r = get(&base, "/mine", &zhang);
    assert_eq!(r.status(), 200);
    let html = r.into_string().unwrap();
    assert!(html.contains(&own) && !html.contains(&theirs), "{html}");
    assert!(html.contains("已校验 verified 2") && html.contains("未归入案件 not filed"), "{html}");
    assert!(html.contains("普通保存 standard"), "{html}");
    let csrf = csrf_field(&html);
    assert!(get(&base, "/", &zhang).into_string().unwrap().contains("id=\"to-mine\""), "linked from the bays");

    // A change without the page's token: refused, recorded, nothing written.
    let r = post(&base, "/mine/describe", &zhang, &[("recording", &own), ("place", "别处"), ("csrf", "forged")]);
    assert_eq!(r.status(), 403);
    let refused = events(&st, "call_refused");
    assert_eq!((refused[0].0.as_str(), refused[0].3["command"].as_str()), ("account:zhang", Some("describe")));
    assert!(events(&st, "footage_described").is_empty());

    // Described, in Chinese: back to the list (303), which says so and shows it.
    let r = post(
        &base,
        "/mine/describe",
        &zhang,
        &[
            ("csrf", &csrf),
            ("recording", &own),
            ("subject", "某某商行"),
            ("content", "现场检查"),
            ("place", "解放路 12 号"),
        ],
    );
    assert_eq!((r.status(), r.header("location")), (303, Some("/mine?done=described")));
    let described = events(&st, "footage_described");
    assert_eq!(described.len(), 1);
    assert_eq!((described[0].0.as_str(), described[0].1.as_str()), ("account:zhang", "officer"));
    assert_eq!(described[0].2.as_deref(), Some("012345"));
    let html = get(&base, "/mine?done=described", &zhang).into_string().unwrap();
    assert!(html.contains("说明已保存") && html.contains("某某商行，现场检查，解放路 12 号"), "{html}");

    // Marked important: kept long-term, the mark naming the officer.
    let r = post(
        &base,
        "/mine/flag",
        &zhang,
        &[("csrf", &csrf), ("recording", &own), ("trigger", "dispute"), ("reason", "当事人当场表示将申请复议")],
    );
    assert_eq!(r.status(), 303);
    let flags = events(&st, "retention_flag_set");
    assert_eq!((flags[0].0.as_str(), flags[0].3["trigger"].as_str()), ("account:zhang", Some("dispute")));
    let html = get(&base, "/mine", &zhang).into_string().unwrap();
    assert!(html.contains("长期保存 long-term") && html.contains("当事人当场表示将申请复议"), "{html}");
    // A mark without a reason, or with a trigger the rules do not know, is refused with why.
    let r = post(&base, "/mine/flag", &zhang, &[("csrf", &csrf), ("recording", &own), ("trigger", "dispute")]);
    assert_eq!(r.status(), 400);
    let r = post(
        &base,
        "/mine/flag",
        &zhang,
        &[("csrf", &csrf), ("recording", &own), ("trigger", "whim"), ("reason", "x")],
    );
    assert_eq!(r.status(), 400);
    assert!(r.into_string().unwrap().contains("长期保存事由不正确"));
    assert_eq!(events(&st, "retention_flag_set").len(), 1);

    // Filed: not into a case that does not name them; into theirs, moved and listed.
    let r = post(&base, "/mine/assign", &zhang, &[("csrf", &csrf), ("recording", &own), ("case", OTHER_CASE)]);
    assert_eq!(r.status(), 403);
    assert!(r.into_string().unwrap().contains("该案件的承办人员不含本人"));
    let r = post(&base, "/mine/assign", &zhang, &[("csrf", &csrf), ("recording", &own), ("case", "没有这个案件")]);
    assert_eq!(r.status(), 404);
    let r = post(&base, "/mine/assign", &zhang, &[("csrf", &csrf), ("recording", &own), ("case", CASE)]);
    assert_eq!((r.status(), r.header("location")), (303, Some("/mine?done=filed")));
    let filed = events(&st, "footage_assigned");
    assert_eq!(filed.len(), 2, "each file: {filed:?}");
    assert!(filed.iter().all(|e| e.0 == "account:zhang"));
    let in_case: i64 = st.db().query_row("SELECT COUNT(*) FROM case_files", [], |r| r.get(0)).unwrap();
    assert_eq!(in_case, 2);
    let html = get(&base, "/mine", &zhang).into_string().unwrap();
    assert!(html.contains(&format!("id=\"cases-0\">{CASE}<")), "{html}");

    // Someone else's recording, by a forged form: refused each way, recorded, nothing written.
    for (path, extra) in
        [("/mine/describe", ("place", "别处")), ("/mine/flag", ("reason", "想保留")), ("/mine/assign", ("case", CASE))]
    {
        let r = post(&base, path, &zhang, &[("csrf", &csrf), ("recording", &theirs), ("trigger", "other"), extra]);
        assert_eq!(r.status(), 403, "{path}");
        assert!(r.into_string().unwrap().contains("本人"), "{path}");
    }
    let refused = events(&st, "call_refused");
    assert_eq!(refused.len(), 5, "the forged form, the other case, the three: {refused:?}");
    assert!(refused[1..].iter().all(|e| e.0 == "account:zhang" && e.2.as_deref() == Some("012345")), "{refused:?}");
    assert_eq!(events(&st, "footage_described").len(), 1);
    assert_eq!(events(&st, "retention_flag_set").len(), 1);
    assert_eq!(events(&st, "footage_assigned").len(), 2);

    // The custodian names the officer; an officer may not list another's.
    let wang = session_of(&base, "wang");
    let html = get(&base, "/mine", &wang).into_string().unwrap();
    assert!(html.contains("id=\"q-officer\"") && !html.contains("class=\"rec\""), "{html}");
    let html = get(&base, "/mine?officer=054321", &wang).into_string().unwrap();
    assert!(html.contains(&theirs) && !html.contains(&own), "{html}");
    assert_eq!(get(&base, "/mine?officer=054321", &zhang).status(), 403);
    assert_eq!(get(&base, "/mine", "no-such-session").status(), 303, "no session: to the sign-in");

    st.assert_log_verifies();
    st.stop();
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
)]
fn in_a_browser_an_officer_describes_marks_and_files_their_footage() {
    let (mut st, base, own, _) = docked_station("");
    let b = Driver::start();
    b.sign_in(&base, "012345", PASSWORD);
    b.text_when("#to-mine", "我的录像");
    b.click("#to-mine");
    b.text_when("#rec-0", &own);

    b.type_into("#subject-0", "某某商行");
    b.type_into("#content-0", "现场检查，责令整改");
    b.type_into("#place-0", "解放路 12 号");
    b.click("#describe-0");
    b.text_when("#done", "说明已保存");
    assert!(b.text("#description-0").contains("某某商行，现场检查，责令整改，解放路 12 号"), "{}", b.text("#rec-0"));

    b.script("document.getElementById('trigger-0').value = 'evidence'; return null;");
    b.type_into("#reason-0", "作为行政处罚证据");
    b.click("#flag-0");
    b.text_when("#done", "已标记为重要");
    assert!(b.text("#flags-0").contains("作为证据使用"), "{}", b.text("#rec-0"));
    assert!(b.text("#deadline-0").contains("长期保存"), "{}", b.text("#rec-0"));

    b.type_into("#case-0", CASE);
    b.click("#assign-0");
    b.text_when("#done", "已归入案件");
    assert_eq!(b.text("#cases-0"), CASE);
    b.screenshot("mine");

    // The same, as the custody log has it: each by the officer, signed in.
    for action in ["footage_described", "retention_flag_set", "footage_assigned"] {
        let e = events(&st, action);
        assert!(!e.is_empty() && e.iter().all(|e| e.0 == "account:zhang"), "{action}: {e:?}");
    }
    // A form sent from the page without its token is refused.
    let status = b.script(&format!(
        "return fetch('/mine/flag', {{method: 'POST', body: new URLSearchParams({})}}).then(r => r.status);",
        json!({ "recording": own, "trigger": "other", "reason": "x", "csrf": "forged" })
    ));
    assert_eq!(status, json!(403));
    drop(b);
    st.assert_log_verifies();
    st.stop();
}

/// The archive path of `serial`'s first file, and its bytes.
fn first_file(st: &Station, serial: &str) -> (String, Vec<u8>) {
    let path: String = st
        .db()
        .query_row(
            "SELECT f.archive_path FROM files f JOIN segments s ON s.file_id = f.id WHERE s.serial = ?1 ORDER BY f.id LIMIT 1",
            [serial],
            |r| r.get(0),
        )
        .unwrap();
    let bytes = std::fs::read(st.archive().join(&path)).unwrap();
    (path, bytes)
}

/// GET `path` as `session` with a `Range` header.
fn get_range(base: &str, path: &str, session: &str, range: &str) -> ureq::Response {
    answer(
        agent()
            .get(&format!("{base}{path}"))
            .set("Cookie", &format!("evidock_session={session}"))
            .set("Range", range)
            .call(),
    )
}

fn body(r: ureq::Response) -> Vec<u8> {
    let mut v = Vec::new();
    std::io::Read::read_to_end(&mut r.into_reader(), &mut v).unwrap();
    v
}

/// The player's source on a viewer page.
fn player_src(html: &str) -> String {
    let at = html.find("id=\"player\" src=\"").expect("a player") + "id=\"player\" src=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

#[test]
fn r9_an_officer_views_their_footage_in_the_page_only_under_an_approved_request() {
    let (mut st, base, own, theirs) = docked_station("");
    let zhang = session_of(&base, "zhang");
    let csrf = csrf_field(&get(&base, "/mine", &zhang).into_string().unwrap());
    let (path, bytes) = first_file(&st, "F100001");
    let (other_path, _) = first_file(&st, "F200002");
    assert!(bytes.len() > 1000, "a file worth seeking in: {}", bytes.len());

    // Asked from the officer's own list, as an officer (their own footage only).
    let r =
        post(&base, "/access/request", &zhang, &[("csrf", &csrf), ("recording", &own), ("reason", "核对现场检查经过")]);
    assert_eq!((r.status(), r.header("location")), (303, Some("/access?done=requested")));
    let asked = events(&st, "access_requested");
    assert_eq!((asked.len(), asked[0].0.as_str()), (1, "account:zhang"));
    let r = post(&base, "/access/request", &zhang, &[("csrf", &csrf), ("recording", &theirs), ("reason", "看看")]);
    assert_eq!(r.status(), 403, "another officer's footage");
    let html = get(&base, "/access?done=requested", &zhang).into_string().unwrap();
    assert!(
        html.contains("id=\"request-1\"") && html.contains("待审批") && !html.contains("id=\"view-1-0\""),
        "{html}"
    );

    // Not yet approved: refused and recorded, nothing viewed.
    let view = format!("/view/1?file={}", q(&path));
    let r = get(&base, &view, &zhang);
    assert_eq!(r.status(), 403);
    assert!(r.into_string().unwrap().contains("未经批准不得调取"));
    let refused = events(&st, "call_refused");
    let last = refused.last().unwrap();
    assert_eq!((last.0.as_str(), last.3["command"].as_str()), ("account:zhang", Some("access play")));
    assert!(events(&st, "footage_viewed").is_empty());

    // Approved by an approver, at the command line: the page lists the file to watch.
    let o = st.evidock_as(65534, &["access", "approve", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    let html = get(&base, "/access", &zhang).into_string().unwrap();
    assert!(html.contains("已批准") && html.contains("id=\"view-1-0\""), "{html}");

    // Opened: the view recorded first, with the file the log recorded.
    let r = get(&base, &view, &zhang);
    assert_eq!(r.status(), 200);
    let html = r.into_string().unwrap();
    assert!(html.contains("本次查看已记入保管日志") && html.contains(&path), "{html}");
    let viewed = events(&st, "footage_viewed");
    assert_eq!(viewed.len(), 1);
    assert_eq!((viewed[0].0.as_str(), viewed[0].3["via"].as_str()), ("account:zhang", Some("web")));
    assert_eq!(viewed[0].3["file"].as_str(), Some(path.as_str()));
    let src = player_src(&html);

    // Streamed in ranges, as a browser seeks; whole; a range past the end refused.
    let r = get_range(&base, &src, &zhang, "bytes=0-99");
    assert_eq!(r.status(), 206);
    assert_eq!(r.header("content-range"), Some(format!("bytes 0-99/{}", bytes.len()).as_str()));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(body(r), bytes[..100]);
    let r = get_range(&base, &src, &zhang, "bytes=1000-");
    assert_eq!(r.status(), 206);
    assert_eq!(body(r), bytes[1000..]);
    let r = get_range(&base, &src, &zhang, "bytes=-10");
    assert_eq!(body(r), bytes[bytes.len() - 10..]);
    let r = get(&base, &src, &zhang);
    assert_eq!((r.status(), r.header("content-type")), (200, Some("video/mp4")));
    assert_eq!(body(r), bytes, "every byte, as archived");
    let r = get_range(&base, &src, &zhang, &format!("bytes={}-", bytes.len()));
    assert_eq!(r.status(), 416);
    assert_eq!(r.header("content-range"), Some(format!("bytes */{}", bytes.len()).as_str()));
    assert_eq!(events(&st, "footage_viewed").len(), 1, "one view, however many ranges");

    // Nobody else reads through this viewing; a file outside the request and another
    // person's request are refused.
    let li = session_of(&base, "li");
    assert_eq!(get_range(&base, &src, &li, "bytes=0-9").status(), 404);
    assert_eq!(get(&base, &src, "no-such-session").status(), 401);
    let r = get(&base, &format!("/view/1?file={}", q(&other_path)), &zhang);
    assert_eq!(r.status(), 403);
    assert!(r.into_string().unwrap().contains("不在调阅申请 #1 批准的范围内"));
    assert_eq!(get(&base, &view, &li).status(), 403, "only the requester views under it");
    assert_eq!(events(&st, "footage_viewed").len(), 1);

    st.assert_log_verifies();
    st.stop();
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
)]
fn in_a_browser_a_view_is_refused_without_approval_and_streams_with_it() {
    let (mut st, base, _, _) = docked_station("");
    let (path, bytes) = first_file(&st, "F100001");
    let b = Driver::start();
    b.sign_in(&base, "012345", PASSWORD);
    b.text_when("#to-mine", "我的录像");
    b.go(&format!("{base}/mine"));
    b.type_into("#view-reason-0", "核对现场检查经过");
    b.click("#ask-0");
    b.text_when("#done", "调阅申请已提交");
    assert!(b.text("#request-1").contains("待审批"), "{}", b.text("#request-1"));

    // Without an approval the page refuses, in both languages.
    b.go(&format!("{base}/view/1?file={}", q(&path)));
    b.text_when("#notice", "未经批准不得调取");
    assert!(events(&st, "footage_viewed").is_empty());

    // With one, the file plays in the page, and the browser's range requests are answered.
    let o = st.evidock_as(65534, &["access", "approve", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    b.go(&format!("{base}/access"));
    b.text_when("#request-1", "已批准");
    b.click("#view-1-0");
    b.text_when("#recorded", "本次查看已记入保管日志");
    assert_eq!(b.text("#file-name"), path);
    b.screenshot("viewing");
    let got = b.script(
        "const src = document.getElementById('player').getAttribute('src');\
         return fetch(src, {headers: {Range: 'bytes=16-47'}}).then(r => r.arrayBuffer().then(a => \
         [r.status, r.headers.get('content-range'), Array.from(new Uint8Array(a))]));",
    );
    let want: Vec<u8> = bytes[16..48].to_vec();
    assert_eq!(got[0], json!(206), "{got}");
    assert_eq!(got[1], json!(format!("bytes 16-47/{}", bytes.len())), "{got}");
    assert_eq!(got[2], json!(want), "the bytes as archived");
    let viewed = events(&st, "footage_viewed");
    assert_eq!((viewed.len(), viewed[0].0.as_str()), (1, "account:zhang"));
    drop(b);
    st.assert_log_verifies();
    st.stop();
}

#[test]
fn r6_an_officer_explains_a_gap_in_their_own_footage_from_the_page() {
    let (mut st, base) = web_station("");
    st.start();
    add_officer(&st);
    let o = account(&st, &["add", "li", "--display-name", "李四", "--badge", "054321", "--role", "officer"], PASSWORD);
    assert!(o.status.success(), "{}", text(&o));
    let (vol, _) = st.sim(
        "G1",
        &["--serial", "G100001", "--badge", "012345", "--segments", "3", "--segment-bytes", "10000", "--fault", "gap"],
    );
    st.dock(&vol, "G100001");
    st.wait_finished("G100001");
    let zhang = session_of(&base, "zhang");
    let html = get(&base, "/mine", &zhang).into_string().unwrap();
    assert!(html.contains("id=\"gaps-0\">1 处未说明") && html.contains("id=\"explain-0-0\""), "{html}");
    let csrf = csrf_field(&html);
    let gap = html.split("name=\"gap\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let rec = recording_of(&st, "G100001");

    // Another officer may neither see it nor explain it.
    let li = session_of(&base, "li");
    assert!(!get(&base, "/mine", &li).into_string().unwrap().contains("explain-0-0"));
    let lcsrf = csrf_field(&get(&base, "/mine", &li).into_string().unwrap());
    let r = post(
        &base,
        "/mine/explain",
        &li,
        &[("csrf", &lcsrf), ("recording", &rec), ("gap", &gap), ("text", "不是我的")],
    );
    assert_eq!(r.status(), 403);
    assert!(r.into_string().unwrap().contains("执法人员只能以本人名义说明本人录像中的中断"));

    // Its officer explains it, in their own name; the gap is no longer open.
    let r = post(
        &base,
        "/mine/explain",
        &zhang,
        &[("csrf", &csrf), ("recording", &rec), ("gap", &gap), ("text", "电池耗尽，更换电池后继续录像")],
    );
    assert_eq!((r.status(), r.header("location")), (303, Some("/mine?done=explained")));
    let explained = events(&st, "gap_explained");
    assert_eq!(explained.len(), 1, "{explained:?}");
    assert_eq!((explained[0].0.as_str(), explained[0].2.as_deref()), ("account:zhang", Some("012345")));
    let html = get(&base, "/mine?done=explained", &zhang).into_string().unwrap();
    assert!(html.contains("中断说明已保存") && !html.contains("id=\"explain-0-0\""), "{html}");
    let open = st.evidock(&["gap", "list", "--open"]);
    assert!(open.status.success(), "{}", text(&open));
    assert_eq!(String::from_utf8_lossy(&open.stdout).trim(), "", "no open gap left");
    st.assert_log_verifies();
    st.stop();
}

/// A form as `multipart/form-data`: its text fields, and the file `scan` when given.
fn multipart(fields: &[(&str, &str)], scan: Option<&[u8]>) -> (String, Vec<u8>) {
    let boundary = "----evidock-test-7f3a";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    let (file_name, bytes) = match scan {
        Some(b) => ("说明-scan.pdf", b),
        None => ("", &b""[..]),
    };
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"scan\"; filename=\"{file_name}\"\r\n\
             Content-Type: application/pdf\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn post_multipart(base: &str, session: Option<&str>, content_type: &str, body: &[u8]) -> ureq::Response {
    let mut r = agent().post(&format!("{base}/mine/explain")).set("Content-Type", content_type);
    if let Some(s) = session {
        r = r.set("Cookie", &format!("evidock_session={s}"));
    }
    answer(r.send_bytes(body))
}

#[test]
fn r6_an_officer_attaches_the_signed_statement_scanned_to_a_gap_explanation_from_the_page() {
    let (mut st, base) = web_station("");
    st.start();
    add_officer(&st);
    let (vol, _) = st.sim(
        "G2",
        &["--serial", "G100002", "--badge", "012345", "--segments", "3", "--segment-bytes", "10000", "--fault", "gap"],
    );
    st.dock(&vol, "G100002");
    st.wait_finished("G100002");
    let zhang = session_of(&base, "zhang");
    let html = get(&base, "/mine", &zhang).into_string().unwrap();
    assert!(html.contains("enctype=\"multipart/form-data\"") && html.contains("id=\"gap-scan-0-0\""), "{html}");
    let csrf = csrf_field(&html);
    let gap = html.split("name=\"gap\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let rec = recording_of(&st, "G100002");
    let scan: Vec<u8> =
        [&b"%PDF-1.4\n"[..], "情况说明：电池耗尽。签字：张三".as_bytes(), &[0u8, 0xff, 0x10][..]].concat();
    let statements = st.archive().join("statements");
    let stored = || std::fs::read_dir(&statements).map(|d| d.count()).unwrap_or(0);

    // Signed out, or without the page's token: refused, and nothing kept.
    let fields = [("recording", rec.as_str()), ("gap", gap.as_str()), ("text", "电池耗尽")];
    let (ct, body) = multipart(&fields, Some(&scan));
    let r = post_multipart(&base, None, &ct, &body);
    assert_eq!((r.status(), r.header("location")), (303, Some("/login")));
    let r = post_multipart(&base, Some(&zhang), &ct, &body);
    assert_eq!(r.status(), 403, "no token");
    assert_eq!(stored(), 0, "nothing stored for a refused form");
    assert!(events(&st, "gap_explained").is_empty());

    // With its token: the explanation and the scan, stored write-once and named in the event.
    let mut with_token = vec![("csrf", csrf.as_str())];
    with_token.extend_from_slice(&fields);
    let (ct, body) = multipart(&with_token, Some(&scan));
    let r = post_multipart(&base, Some(&zhang), &ct, &body);
    assert_eq!((r.status(), r.header("location")), (303, Some("/mine?done=explained")));
    let explained = events(&st, "gap_explained");
    assert_eq!(explained.len(), 1, "{explained:?}");
    let logged = &explained[0].3["scan"];
    let hash = blake3::hash(&scan).to_hex().to_string();
    assert_eq!((logged["blake3"].as_str(), logged["size"].as_u64()), (Some(hash.as_str()), Some(scan.len() as u64)));
    let path = logged["path"].as_str().unwrap();
    assert!(path.starts_with("statements/gap-") && path.ends_with(".pdf"), "{path}");
    assert_eq!(std::fs::read(st.archive().join(path)).unwrap(), scan, "the bytes sent, stored");
    assert_eq!(explained[0].0, "account:zhang");
    let html = get(&base, "/mine?done=explained", &zhang).into_string().unwrap();
    assert!(html.contains("中断说明已保存") && !html.contains("id=\"explain-0-0\""), "{html}");
    st.assert_log_verifies();
    st.stop();
}

#[test]
fn r9_an_approver_account_decides_in_the_page_and_its_tier_is_held_again_at_viewing() {
    let (mut st, base, own, _) = docked_station("");
    let o = account(&st, &["add", "shen", "--display-name", "沈六", "--role", "approver"], PASSWORD);
    assert!(o.status.success(), "{}", text(&o));
    let zhang = session_of(&base, "zhang");
    let csrf = csrf_field(&get(&base, "/mine", &zhang).into_string().unwrap());
    for reason in ["核对现场检查经过", "再看一次"] {
        let r = post(&base, "/access/request", &zhang, &[("csrf", &csrf), ("recording", &own), ("reason", reason)]);
        assert_eq!(r.status(), 303);
    }
    let (path, _) = first_file(&st, "F100001");

    // The officer sees no decision to take; the approver sees both.
    assert!(!get(&base, "/access", &zhang).into_string().unwrap().contains("id=\"approve-1\""));
    let shen = session_of(&base, "shen");
    let html = get(&base, "/access", &shen).into_string().unwrap();
    assert!(html.contains("id=\"approve-1\"") && html.contains("id=\"deny-2\""), "{html}");
    let scsrf = csrf_field(&html);

    // A denial needs its reason; then it stands, by the account.
    let r = post(&base, "/access/decide", &shen, &[("csrf", &scsrf), ("id", "2"), ("decision", "deny")]);
    assert_eq!(r.status(), 403);
    let r = post(
        &base,
        "/access/decide",
        &shen,
        &[("csrf", &scsrf), ("id", "2"), ("decision", "deny"), ("reason", "已批准同一录像的查看")],
    );
    assert_eq!((r.status(), r.header("location")), (303, Some("/access?done=denied")));
    assert_eq!(events(&st, "access_denied")[0].0, "account:shen");
    // An officer may not decide, not even with a forged form.
    let r = post(&base, "/access/decide", &zhang, &[("csrf", &csrf), ("id", "1"), ("decision", "approve")]);
    assert_eq!(r.status(), 403);
    // Approved at the approver's tier.
    let r = post(&base, "/access/decide", &shen, &[("csrf", &scsrf), ("id", "1"), ("decision", "approve")]);
    assert_eq!((r.status(), r.header("location")), (303, Some("/access?done=approved")));
    let approved = events(&st, "access_approved");
    assert_eq!((approved[0].0.as_str(), approved[0].3["tier"].as_str()), ("account:shen", Some("approver")));
    let view = format!("/view/1?file={}", q(&path));
    assert_eq!(get(&base, &view, &zhang).status(), 200, "viewed under the account's approval");

    // The approver deciding their own request is refused.
    let r = post(&base, "/access/request", &shen, &[("csrf", &scsrf), ("recording", &own), ("reason", "抽查")]);
    assert_eq!(r.status(), 303);
    let r = post(&base, "/access/decide", &shen, &[("csrf", &scsrf), ("id", "3"), ("decision", "approve")]);
    assert_eq!(r.status(), 403);
    assert!(r.into_string().unwrap().contains("shen"), "names who");

    // The approver's account disabled: the approval no longer holds when footage leaves.
    let o = account(&st, &["disable", "shen"], "");
    assert!(o.status.success(), "{}", text(&o));
    let r = get(&base, &view, &zhang);
    assert_eq!(r.status(), 403);
    assert!(r.into_string().unwrap().contains("审批人已非"), "voided: the tier is held again");
    assert_eq!(events(&st, "access_voided").len(), 1);
    assert_eq!(events(&st, "footage_viewed").len(), 1);
    st.assert_log_verifies();
    st.stop();
}
