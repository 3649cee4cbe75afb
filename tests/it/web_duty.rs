//! Duty on the station's web page (docs/WEB.md; R1, R3, R14; S2 §22): a custodian hands a
//! recorder out and asks to extend its handover deadline, an approver account sees it waiting
//! and approves it (never the one who asked), and the duty report for a period is made as a
//! page that prints; each step through the station API as the signed-in account, each a
//! custody event naming them; an officer refused; a form without its CSRF token refused.

use chrono::{Duration, Utc};

use crate::support::text;
use crate::web::{account, add_officer, csrf_field, events, get, post, session_of, web_station, PASSWORD};

#[test]
fn r3_a_custodian_asks_to_extend_a_handover_deadline_an_approver_approves_it_and_the_report_prints() {
    let (mut st, base) = web_station("");
    st.register("K700001");
    st.start();
    // Its health check reads its latest docking.
    let (vol, _) =
        st.sim("K1", &["--serial", "K700001", "--sessions", "1", "--segments", "2", "--segment-bytes", "20000"]);
    st.dock(&vol, "K700001");
    st.wait_finished("K700001");
    add_officer(&st);
    for (name, shown, role) in [("wang", "王五", "custodian"), ("li", "李四", "approver")] {
        let o = account(&st, &["add", name, "--display-name", shown, "--role", role], PASSWORD);
        assert!(o.status.success(), "{}", text(&o));
    }
    let wang = session_of(&base, "wang");
    // This station keeps no central copy: no link to it, and its page says so.
    assert!(!get(&base, "/", &wang).into_string().unwrap().contains("id=\"to-central\""));
    let html = get(&base, "/central", &wang).into_string().unwrap();
    assert!(html.contains("id=\"no-central\"") && html.contains("未配置中心存储"), "{html}");
    let html = get(&base, "/duty", &wang).into_string().unwrap();
    let csrf = csrf_field(&html);
    assert!(html.contains("没有延期申请") && !html.contains("id=\"extend\""), "no binding, no extension form: {html}");
    let r = post(&base, "/duty/out", &wang, &[("csrf", &csrf), ("serial", "K700001"), ("officer", "012345")]);
    assert_eq!((r.status(), r.header("location")), (303, Some("/duty?done=out&binding=1")));

    // Asked for, with the browser's local time (no seconds), in Chinese.
    let html = get(&base, "/duty", &wang).into_string().unwrap();
    assert!(html.contains("id=\"extend\"") && html.contains("<option value=\"1\">#1 K700001"), "{html}");
    let tz = chrono_tz::Asia::Shanghai;
    let until = (Utc::now() + Duration::days(2)).with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string();
    let form =
        [("csrf", csrf.as_str()), ("binding", "1"), ("until", until.as_str()), ("reason", "偏远地区执法，交通中断")];
    assert_eq!(post(&base, "/duty/extend", &wang, &form[1..]).status(), 403, "no token");
    let r =
        post(&base, "/duty/extend", &wang, &[("csrf", &csrf), ("binding", "1"), ("until", "后天"), ("reason", "x")]);
    assert_eq!(r.status(), 400, "a time that is not one");
    assert!(r.into_string().unwrap().contains("时间格式应为"));
    let r =
        post(&base, "/duty/extend", &wang, &[("csrf", &csrf), ("binding", "1"), ("until", &until), ("reason", " ")]);
    assert_eq!(r.status(), 400, "no reason");
    assert!(events(&st, "handover_extension_requested").is_empty(), "nothing asked for by the refusals");
    let r = post(&base, "/duty/extend", &wang, &form);
    assert_eq!((r.status(), r.header("location")), (303, Some("/duty?done=extend&id=1")));
    let asked = events(&st, "handover_extension_requested");
    assert_eq!((asked.len(), asked[0].0.as_str()), (1, "account:wang"), "{asked:?}");
    assert_eq!(asked[0].3["reason"], "偏远地区执法，交通中断");
    let html = get(&base, "/duty?done=extend&id=1", &wang).into_string().unwrap();
    assert!(html.contains("延期移交申请 #1 已提交") && html.contains("id=\"extension-1\""), "{html}");
    assert!(html.contains("待批准") && !html.contains("id=\"approve-extension-1\""), "not the custodian's to approve");
    assert!(
        html.contains(&format!("{} {}:00 Asia/Shanghai", &until[..10], &until[11..])),
        "until, station time: {html}"
    );
    let r = post(&base, "/duty/approve", &wang, &[("csrf", &csrf), ("id", "1")]);
    assert_eq!(r.status(), 403, "a custodian holds no approver role");
    assert!(events(&st, "call_refused").iter().any(|e| e.0 == "account:wang" && e.3["command"] == "duty approve"));

    // The approver finds it on the duty page and approves it; once.
    let li = session_of(&base, "li");
    let bays = get(&base, "/", &li).into_string().unwrap();
    assert!(bays.contains("id=\"to-duty\""), "an approver's way to the extensions: {bays}");
    let html = get(&base, "/duty", &li).into_string().unwrap();
    assert!(html.contains("id=\"approve-extension-1\"") && !html.contains("id=\"hand-out\""), "{html}");
    let lcsrf = csrf_field(&html);
    let r = post(&base, "/duty/approve", &li, &[("csrf", &lcsrf), ("id", "1")]);
    assert_eq!((r.status(), r.header("location")), (303, Some("/duty?done=approved&id=1")));
    let approved = events(&st, "handover_extension_approved");
    assert_eq!((approved.len(), approved[0].0.as_str()), (1, "account:li"), "{approved:?}");
    assert_eq!(approved[0].3["requested_by"], "account:wang");
    let html = get(&base, "/duty?done=approved&id=1", &li).into_string().unwrap();
    assert!(html.contains("延期移交 #1 已批准") && html.contains("account:li"), "{html}");
    assert_eq!(post(&base, "/duty/approve", &li, &[("csrf", &lcsrf), ("id", "1")]).status(), 409, "approved once");
    assert_eq!(post(&base, "/duty/approve", &li, &[("csrf", &lcsrf), ("id", "9")]).status(), 404);
    let listed = st.evidock(&["duty", "extensions", "--json"]);
    let e: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap_or_else(|_| panic!("{}", text(&listed)));
    assert_eq!((e["serial"].as_str(), e["approved_by"].as_str()), (Some("K700001"), Some("account:li")), "{e}");

    // The report for today, as a page: the binding out, the event naming who made it.
    let today = Utc::now().with_timezone(&tz).format("%Y-%m-%d").to_string();
    let r = post(&base, "/duty/report", &wang, &[("csrf", &csrf), ("from", &today), ("to", "yesterday")]);
    assert_eq!(r.status(), 400, "a day that is not one");
    let r = post(&base, "/duty/report", &wang, &[("csrf", &csrf), ("from", &today), ("to", &today)]);
    assert_eq!(r.status(), 200);
    let html = r.into_string().unwrap();
    assert!(html.contains(&format!("{today} 至 {today}")) && html.contains("id=\"duty-report\""), "{html}");
    // The page says what the station's report says (the command line asks the same operation).
    let o = st.evidock(&["duty", "report", "--from", &today, "--to", &today, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let findings = lines.iter().filter(|l| l["kind"] != "recording").count();
    assert!(html.contains(&format!("{findings} 项问题")), "{findings} findings: {html}");
    assert_eq!(html.matches("<tr class=").count(), lines.len(), "{lines:?}: {html}");
    for l in &lines {
        assert!(html.contains(&format!("<td>#{}</td><td>{}</td>", l["binding"], l["serial"].as_str().unwrap())), "{l}");
    }
    if lines.is_empty() {
        assert!(html.contains("此期间无领用"), "{html}");
    }
    let made = events(&st, "report_made");
    assert_eq!(made.iter().filter(|e| e.0 == "account:wang" && e.3["report"] == "duty").count(), 1, "{made:?}");

    // An officer may do none of it.
    let zhang = session_of(&base, "zhang");
    assert_eq!(get(&base, "/duty", &zhang).status(), 403);
    let zcsrf = csrf_field(&get(&base, "/", &zhang).into_string().unwrap());
    let r =
        post(&base, "/duty/extend", &zhang, &[("csrf", &zcsrf), ("binding", "1"), ("until", &until), ("reason", "x")]);
    assert_eq!(r.status(), 403);
    assert_eq!(events(&st, "handover_extension_requested").len(), 1);
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}
