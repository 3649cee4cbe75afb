//! The archivist's custody-log search on the station's web page (docs/WEB.md; R4, R11, R13;
//! INV-40): the real daemon, station accounts made with the real command, the search through
//! the station API's `log_query` as the signed-in account, a page at a time.

use crate::support::text;
use crate::web::{account, add_officer, events, get, set_cookie, sign_in, web_station, PASSWORD};

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn an_archivist_searches_the_custody_log_a_page_at_a_time_and_others_are_refused() {
    let (mut st, base) = web_station("");
    st.start();
    add_officer(&st);
    for (name, role, shown) in [("li", "archivist", "李四"), ("wang", "custodian", "王五")] {
        let o = account(&st, &["add", name, "--display-name", shown, "--role", role], PASSWORD);
        assert!(o.status.success(), "{}", text(&o));
    }
    // 55 registrations: more than one page (50) of `device_registered`.
    for i in 0..55 {
        let serial = format!("J{:06}", 500_000 + i);
        let o = st.evidock(&["device", "register", &serial, "--officer-id", "012345", "--officer-name", "张三"]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let (archivist, _) = set_cookie(&sign_in(&base, "li", PASSWORD), "evidock_session").unwrap();

    // The bay screen links to the search for an archivist.
    let bays = get(&base, "/", &archivist).into_string().unwrap();
    assert!(bays.contains("href=\"/log\""), "{bays}");

    // The empty form: no query yet.
    let r = get(&base, "/log", &archivist);
    assert_eq!(r.status(), 200);
    let html = r.into_string().unwrap();
    assert!(html.contains("保管日志查询") && !html.contains("id=\"events\""), "{html}");

    // First page: 50 events, in log order, with a link to the next.
    let r = get(&base, "/log?action=device_registered", &archivist);
    assert_eq!(r.status(), 200);
    let html = r.into_string().unwrap();
    assert_eq!(html.matches("记录仪已登记 <small>device_registered</small>").count(), 50, "{html}");
    assert!(html.contains("J500000") && !html.contains("J500054"), "the first page holds the first 50");
    let at = html.find("id=\"next\"").map(|_| html.find("after=").unwrap()).expect("a next page link");
    let after: String = html[at + 6..].chars().take_while(char::is_ascii_digit).collect();
    let r = get(&base, &format!("/log?action=device_registered&after={after}"), &archivist);
    let html = r.into_string().unwrap();
    assert!(html.contains("J500054") && !html.contains("J500000<"), "the second page holds the rest");
    assert!(!html.contains("id=\"next\"") && html.contains("id=\"first\""), "the last page");

    // A Chinese filter value goes through; a time zone is named, times to the second.
    let r = get(&base, &format!("/log?officer=012345&actor={}", enc("root")), &archivist);
    assert_eq!(r.status(), 200);
    let html = r.into_string().unwrap();
    assert!(html.contains("Asia/Shanghai") || html.contains("时间 Time ("), "{html}");
    assert!(!html.contains(".000+") && !html.contains("T0"), "station time to the second: {html}");

    // A filter the station cannot read: the form again, with why, in both languages.
    let r = get(&base, "/log?action=no_such_action", &archivist);
    assert_eq!(r.status(), 400);
    let html = r.into_string().unwrap();
    assert!(
        html.contains("id=\"notice\"") && html.contains("no_such_action") && html.contains("查询条件不正确"),
        "{html}"
    );

    // A custodian and an officer may not read the log: refused, and each refusal recorded.
    let (custodian, _) = set_cookie(&sign_in(&base, "wang", PASSWORD), "evidock_session").unwrap();
    assert!(!get(&base, "/", &custodian).into_string().unwrap().contains("href=\"/log\""));
    assert_eq!(get(&base, "/log?device=J500001", &custodian).status(), 403);
    let (officer, _) = set_cookie(&sign_in(&base, "zhang", PASSWORD), "evidock_session").unwrap();
    assert_eq!(get(&base, "/log?device=J500001", &officer).status(), 403);
    let refused = events(&st, "call_refused");
    let who: Vec<&str> = refused.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(who, ["account:wang", "account:zhang"], "{refused:?}");
    assert!(refused.iter().all(|e| e.3["command"] == "log query" && e.3["via"] == "daemon"));
    // No session: to the sign-in.
    assert_eq!(get(&base, "/log?device=J500001", "nothing").status(), 303);
    st.stop();
}

#[test]
fn a_case_history_prints_from_the_web_page_under_its_own_narrow_policy() {
    use base64::Engine as _;
    use sha2::Digest as _;
    const CASE: &str = "宜卫罚〔2026〕3号";
    let (mut st, base) = web_station("");
    st.start();
    add_officer(&st);
    let o = account(&st, &["add", "li", "--display-name", "李四", "--role", "archivist"], PASSWORD);
    assert!(o.status.success(), "{}", text(&o));
    let o = st.evidock(&["device", "register", "J500001", "--officer-id", "012345", "--officer-name", "张三"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = st.evidock(&["case", "create", CASE, "--party", "某某商行", "--officer", "012345", "--kind", "penalty"]);
    assert!(o.status.success(), "{}", text(&o));
    let (archivist, _) = set_cookie(&sign_in(&base, "li", PASSWORD), "evidock_session").unwrap();

    // The search by case links to the printable history.
    let html = get(&base, &format!("/log?case={}", enc(CASE)), &archivist).into_string().unwrap();
    let href = format!("/case/{}/history", enc(CASE));
    assert!(html.contains(&href), "{html}");

    let r = get(&base, &href, &archivist);
    assert_eq!(r.status(), 200);
    let policy = r.header("content-security-policy").unwrap().to_string();
    let page = r.into_string().unwrap();
    assert!(page.contains("证据保管链") && page.contains(CASE) && page.contains("某某商行"), "{page}");
    assert!(page.contains("张三"), "the handling officer by name: {page}");
    // The page's one inline style sheet is what the policy allows by hash; nothing else is.
    let style = &page[page.find("<style>").unwrap() + 7..page.find("</style>").unwrap()];
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style.as_bytes()));
    assert!(policy.contains(&format!("style-src 'sha256-{hash}'")), "{policy}");
    assert!(policy.starts_with("default-src 'none'") && !policy.contains("script-src"), "{policy}");
    assert_eq!(page.matches("<style>").count(), 1);
    assert!(!page.contains("<script"));

    // The same document as the command line's.
    let cli = st.evidock(&["case", "history", CASE, "--format", "html"]);
    assert!(cli.status.success(), "{}", text(&cli));
    // Equal but for the moment each was generated.
    let strip = |s: &str| -> String {
        s.lines().filter(|l| !l.contains("报告生成时间") && !l.contains("generated")).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(strip(&String::from_utf8_lossy(&cli.stdout)), strip(&page));

    // No such case: 404 with the reason; an officer may not read case histories: 403, recorded.
    let r = get(&base, &format!("/case/{}/history", enc("宜卫罚〔2026〕99号")), &archivist);
    assert_eq!(r.status(), 404);
    assert!(r.into_string().unwrap().contains("没有此案件"));
    let (officer, _) = set_cookie(&sign_in(&base, "zhang", PASSWORD), "evidock_session").unwrap();
    assert_eq!(get(&base, &href, &officer).status(), 403);
    let refused = events(&st, "call_refused");
    assert!(refused.iter().any(|e| e.0 == "account:zhang" && e.3["command"] == "case history"), "{refused:?}");
    st.stop();
}

/// R11: an archivist verifies the custody log and signs a checkpoint from the page, each an
/// event naming the account; an edited event is named and the station then refuses to sign; a
/// custodian is offered neither and refused.
#[test]
fn r11_an_archivist_verifies_the_log_and_signs_a_checkpoint_from_the_page_and_tampering_is_named() {
    use crate::web::{csrf_field, post, session_of};
    let (mut st, base) = web_station("");
    st.start();
    for (name, role, shown) in [("li", "archivist", "李四"), ("wang", "custodian", "王五")] {
        let o = account(&st, &["add", name, "--display-name", shown, "--role", role], PASSWORD);
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = st.evidock(&["device", "register", "J510001", "--officer-id", "012345", "--officer-name", "张三"]);
    assert!(o.status.success(), "{}", text(&o));
    let li = session_of(&base, "li");
    let html = get(&base, "/log", &li).into_string().unwrap();
    assert!(html.contains("id=\"verify-log\"") && html.contains("id=\"checkpoint-log\""), "{html}");
    let csrf = csrf_field(&html);
    assert_eq!(post(&base, "/log/verify", &li, &[]).status(), 403, "no token");
    let r = post(&base, "/log/verify", &li, &[("csrf", &csrf)]);
    assert_eq!(r.status(), 200);
    let page = r.into_string().unwrap();
    assert!(page.contains("保管日志完好") && page.contains("custody log intact"), "{page}");
    let verified = events(&st, "log_verified");
    assert_eq!((verified.len(), verified[0].0.as_str()), (1, "account:li"));
    assert_eq!(verified[0].3["intact"], true);
    let r = post(&base, "/log/checkpoint", &li, &[("csrf", &csrf)]);
    assert_eq!(r.status(), 200);
    assert!(r.into_string().unwrap().contains("检查点已签署"));
    let signed: i64 = st.db().query_row("SELECT count(*) FROM custody_checkpoints", [], |r| r.get(0)).unwrap();
    assert!(signed >= 1);

    // An event edited behind the station's back: named, and no checkpoint signed over it.
    let db = st.open_log_for_tampering();
    db.execute(
        "UPDATE custody_log SET details = replace(details, '张三', '李某') WHERE action = 'device_registered'",
        [],
    )
    .unwrap();
    drop(db);
    let r = post(&base, "/log/verify", &li, &[("csrf", &csrf)]);
    assert_eq!(r.status(), 409);
    let page = r.into_string().unwrap();
    assert!(page.contains("保管日志校验发现问题") && page.contains("BROKEN"), "{page}");
    assert_eq!(events(&st, "log_verified").last().map(|e| e.3["intact"].clone()), Some(serde_json::json!(false)));
    let before: i64 = st.db().query_row("SELECT count(*) FROM custody_checkpoints", [], |r| r.get(0)).unwrap();
    let r = post(&base, "/log/checkpoint", &li, &[("csrf", &csrf)]);
    assert_eq!(r.status(), 409);
    assert!(r.into_string().unwrap().contains("拒绝签署"));
    let after: i64 = st.db().query_row("SELECT count(*) FROM custody_checkpoints", [], |r| r.get(0)).unwrap();
    assert_eq!(before, after, "nothing signed over a broken log");

    // A custodian neither verifies nor signs.
    let wang = session_of(&base, "wang");
    let html = get(&base, "/", &wang).into_string().unwrap();
    let r = post(&base, "/log/verify", &wang, &[("csrf", &csrf_field(&html))]);
    assert_eq!(r.status(), 403);
    st.stop();
}
