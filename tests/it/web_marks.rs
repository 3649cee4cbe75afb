//! Confidentiality marks, informants and the printed access records on the station's web page
//! (docs/WEB.md; R9, R10; S2 §24, S3 §28): an archivist marks a case and a recording and
//! removes a mark with the reason, records a case's informant whose name appears in no custody
//! event and never on the page again; a custodian is refused; the access slip of a request and
//! the access register of a period print from the custody log under a policy allowing only
//! their own style.

use crate::support::text;
use crate::web::{account, add_officer, csrf_field, events, get, post, q, session_of, web_station, PASSWORD};

#[test]
fn r10_an_archivist_marks_unmarks_and_records_an_informant_and_the_access_records_print_from_the_page() {
    let (mut st, base) = web_station("");
    st.start();
    add_officer(&st);
    for (name, display, role) in
        [("an", "安七", "archivist"), ("wang", "王五", "custodian"), ("shen", "沈六", "approver")]
    {
        let o = account(&st, &["add", name, "--display-name", display, "--role", role], PASSWORD);
        assert!(o.status.success(), "{}", text(&o));
    }
    let (vol, _) =
        st.sim("M1", &["--serial", "M700001", "--sessions", "1", "--segments", "1", "--segment-bytes", "20000"]);
    st.dock(&vol, "M700001");
    st.wait_finished("M700001");
    let rec: String = st
        .db()
        .query_row("SELECT serial || '/' || session FROM segments WHERE serial = 'M700001' LIMIT 1", [], |r| r.get(0))
        .unwrap();
    let case = "宜卫罚〔2026〕21号";
    let o = st.evidock(&["case", "create", case, "--officer", "012345"]);
    assert!(o.status.success(), "{}", text(&o));
    let (an, wang) = (session_of(&base, "an"), session_of(&base, "wang"));
    let page = format!("/case/{}", q(case));

    // Marked from the case's page, with the reason; told when the level or reason is wrong.
    let html = get(&base, &page, &an).into_string().unwrap();
    assert!(
        html.contains("id=\"marks\"") && html.contains("id=\"mark\"") && html.contains("id=\"record-informant\""),
        "{html}"
    );
    let csrf = csrf_field(&html);
    let mark =
        [("csrf", csrf.as_str()), ("action", "mark"), ("case", case), ("level", "privacy"), ("reason", "涉及未成年人")];
    assert_eq!(post(&base, "/marks/change", &an, &mark[1..]).status(), 403, "no token");
    let r = post(
        &base,
        "/marks/change",
        &an,
        &[("csrf", &csrf), ("action", "mark"), ("case", case), ("level", "top"), ("reason", "x")],
    );
    assert_eq!(r.status(), 400);
    let r = post(
        &base,
        "/marks/change",
        &an,
        &[("csrf", &csrf), ("action", "mark"), ("case", case), ("level", "privacy"), ("reason", " ")],
    );
    assert_eq!(r.status(), 400, "a mark says why");
    assert!(events(&st, "confidentiality_marked").is_empty());
    let r = post(&base, "/marks/change", &an, &mark);
    assert_eq!((r.status(), r.header("location")), (303, Some(format!("{page}?done=marked").as_str())));
    let marked = events(&st, "confidentiality_marked");
    assert_eq!((marked.len(), marked[0].0.as_str(), marked[0].1.as_str()), (1, "account:an", "archivist"));
    let html = get(&base, &format!("{page}?done=marked"), &an).into_string().unwrap();
    assert!(html.contains("已标记密级") && html.contains("id=\"mark-1\"") && html.contains("个人隐私"), "{html}");

    // A recording marked from its retention page.
    let rpage = format!("/retention/show?recording={}", q(&rec));
    let r = post(
        &base,
        "/marks/change",
        &an,
        &[("csrf", &csrf), ("action", "mark"), ("recording", &rec), ("level", "work-secret"), ("reason", "内部研判")],
    );
    assert_eq!((r.status(), r.header("location")), (303, Some(format!("{rpage}&done=marked").as_str())));
    let html = get(&base, &rpage, &an).into_string().unwrap();
    assert!(html.contains("id=\"mark-2\"") && html.contains("工作秘密"), "{html}");

    // Removed with the reason.
    let r = post(&base, "/marks/change", &an, &[("csrf", &csrf), ("action", "unmark"), ("case", case), ("id", "1")]);
    assert_eq!(r.status(), 400, "a removal says why");
    let r = post(
        &base,
        "/marks/change",
        &an,
        &[("csrf", &csrf), ("action", "unmark"), ("case", case), ("id", "1"), ("reason", "复核后不涉及")],
    );
    assert_eq!((r.status(), r.header("location")), (303, Some(format!("{page}?done=unmarked").as_str())));
    assert_eq!(events(&st, "confidentiality_cleared")[0].0, "account:an");
    assert!(!get(&base, &page, &an).into_string().unwrap().contains("id=\"mark-1\""));

    // An informant: recorded, never in a custody event, never shown again.
    let r = post(
        &base,
        "/marks/change",
        &an,
        &[("csrf", &csrf), ("action", "informant"), ("case", case), ("name", "举报人甲某")],
    );
    assert_eq!((r.status(), r.header("location")), (303, Some(format!("{page}?done=informant").as_str())));
    let html = get(&base, &format!("{page}?done=informant"), &an).into_string().unwrap();
    assert!(html.contains("举报人信息已登记") && !html.contains("举报人甲某"), "{html}");
    let log: Vec<String> = st
        .db()
        .prepare("SELECT details FROM custody_log")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(log.iter().any(|d| d.contains("informant_recorded")) && !log.iter().any(|d| d.contains("举报人甲某")));

    // A custodian sees the marks but neither marks nor records informants.
    let html = get(&base, &page, &wang).into_string().unwrap();
    assert!(
        html.contains("id=\"marks\"") && !html.contains("id=\"mark\"") && !html.contains("id=\"record-informant\""),
        "{html}"
    );
    let r = post(
        &base,
        "/marks/change",
        &wang,
        &[("csrf", &csrf_field(&html)), ("action", "mark"), ("case", case), ("level", "secret"), ("reason", "x")],
    );
    assert_eq!(r.status(), 403);
    assert!(events(&st, "call_refused").iter().any(|e| e.0 == "account:wang" && e.3["command"] == "access mark"));

    // The access slip of a request and the register of a period, printed from the log.
    let acsrf = csrf_field(&get(&base, "/access", &an).into_string().unwrap());
    let ask = [("csrf", acsrf.as_str()), ("recording", &rec), ("reason", "核对现场检查经过")];
    // The work-secret mark narrows who may ask (R10): refused until it is removed.
    let r = post(&base, "/access/request", &an, &ask);
    assert_eq!(r.status(), 403);
    assert!(r.into_string().unwrap().contains("涉密录像，无权申请"));
    let unmark =
        [("csrf", csrf.as_str()), ("action", "unmark"), ("recording", &rec), ("id", "2"), ("reason", "研判结束")];
    let r = post(&base, "/marks/change", &an, &unmark);
    assert_eq!(r.header("location"), Some(format!("{rpage}&done=unmarked").as_str()));
    let r = post(&base, "/access/request", &an, &ask);
    assert_eq!(r.status(), 303, "{}", r.into_string().unwrap_or_default());
    let id = 1;
    let html = get(&base, "/access", &an).into_string().unwrap();
    assert!(html.contains(&format!("id=\"form-{id}\"")) && html.contains("id=\"print-register\""), "{html}");
    let r = get(&base, &format!("/access/{id}/form"), &an);
    assert_eq!(r.status(), 200);
    let policy = r.header("content-security-policy").unwrap_or_default().to_string();
    assert!(policy.starts_with("default-src 'none'; style-src 'sha256-"), "{policy}");
    let slip = r.into_string().unwrap();
    assert!(slip.contains("调用单") && slip.contains("核对现场检查经过") && !slip.contains("<script"), "{slip}");
    // Approved, and viewed: a use the register lists.
    let shen = session_of(&base, "shen");
    let scsrf = csrf_field(&get(&base, "/access", &shen).into_string().unwrap());
    let r = post(&base, "/access/decide", &shen, &[("csrf", &scsrf), ("id", "1"), ("decision", "approve")]);
    assert_eq!(r.status(), 303);
    let path: String = st.db().query_row("SELECT archive_path FROM files LIMIT 1", [], |r| r.get(0)).unwrap();
    assert_eq!(get(&base, &format!("/view/1?file={}", q(&path)), &an).status(), 200);
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive().to_string();
    let r = get(&base, &format!("/access/register?from={today}&to={today}"), &an);
    assert_eq!(r.status(), 200);
    let policy = r.header("content-security-policy").unwrap_or_default().to_string();
    assert!(policy.contains("'unsafe-hashes'"), "the register's column widths are allowed by their hashes: {policy}");
    let register = r.into_string().unwrap();
    assert!(
        register.contains("调阅、复制登记簿")
            && register.contains("核对现场检查经过")
            && register.contains("account:an")
            && register.contains("account:shen"),
        "{register}"
    );
    assert_eq!(get(&base, &format!("/access/register?from={today}&to=2020-01-01"), &an).status(), 400);
    assert_eq!(
        get(&base, &format!("/access/register?from={today}&to={today}"), &wang).status(),
        403,
        "a custodian reads no register"
    );
    st.assert_log_verifies();
    st.stop();
}
