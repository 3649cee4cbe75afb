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
