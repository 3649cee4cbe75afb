//! Gaps in recording on the station's web page (docs/WEB.md; R6; S2 §18; S1 §8): where the
//! bureau requires the head's review, an officer's explanation waits on `/gaps` for an
//! approver, who rejects it with the reason (the gap is open again) or approves it, never their
//! own; an approval not to record is entered by a custodian and approved by another person.
//! Each step through the station API as the signed-in account, each a custody event naming
//! them; an officer refused the page; a form without its CSRF token refused.

use crate::support::text;
use crate::web::{account, add_officer, csrf_field, events, get, post, session_of, web_station, Driver, PASSWORD};

#[test]
fn r6_an_approver_reviews_an_explanation_and_an_exemption_is_entered_and_approved_by_two_people() {
    let (mut st, base) = web_station("");
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, format!("{cfg}\n[gaps]\nreview_required = true\n")).unwrap();
    st.start();
    add_officer(&st);
    for (name, shown, role) in [("wang", "王五", "custodian"), ("li", "李四", "approver"), ("zhao", "赵六", "approver")]
    {
        let o = account(&st, &["add", name, "--display-name", shown, "--role", role], PASSWORD);
        assert!(o.status.success(), "{}", text(&o));
    }
    let (vol, _) = st.sim(
        "G1",
        &["--serial", "G200001", "--badge", "012345", "--segments", "3", "--segment-bytes", "10000", "--fault", "gap"],
    );
    st.dock(&vol, "G200001");
    st.wait_finished("G200001");

    // The custodian sees the open gap; the officer explains it on their own page.
    let wang = session_of(&base, "wang");
    let bays = get(&base, "/", &wang).into_string().unwrap();
    assert!(bays.contains("id=\"to-gaps\""), "{bays}");
    let html = get(&base, "/gaps", &wang).into_string().unwrap();
    let gap = html.split("<tr id=\"gap-").nth(1).and_then(|s| s.split('"').next()).expect("an open gap").to_string();
    assert!(html.contains("G200001/") && html.contains("未说明"), "{html}");
    let zhang = session_of(&base, "zhang");
    assert_eq!(get(&base, "/gaps", &zhang).status(), 403, "an officer explains on My footage");
    let mine = get(&base, "/mine", &zhang).into_string().unwrap();
    let rec = mine.split("name=\"recording\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let zcsrf = csrf_field(&mine);
    let r = post(
        &base,
        "/mine/explain",
        &zhang,
        &[("csrf", &zcsrf), ("recording", &rec), ("gap", &gap), ("text", "电池耗尽，更换电池后继续录像")],
    );
    assert_eq!(r.status(), 303);
    let html = get(&base, "/gaps", &wang).into_string().unwrap();
    assert!(html.contains("id=\"no-open-gaps\""), "explained, so no longer open: {html}");
    let html = get(&base, "/gaps?show=all", &wang).into_string().unwrap();
    assert!(html.contains("电池耗尽") && html.contains("待审核") && html.contains("警号 badge 012345"), "{html}");
    assert!(!html.contains(&format!("id=\"approve-gap-{gap}\"")), "not the custodian's to review");

    // The approver rejects it, with the reason; the gap is open again.
    let li = session_of(&base, "li");
    let html = get(&base, "/gaps?show=all", &li).into_string().unwrap();
    assert!(html.contains(&format!("id=\"approve-gap-{gap}\"")), "{html}");
    let lcsrf = csrf_field(&html);
    let reject =
        [("csrf", lcsrf.as_str()), ("action", "reject"), ("id", gap.as_str()), ("note", "未写明更换电池的时间")];
    assert_eq!(post(&base, "/gaps/change", &li, &reject[1..]).status(), 403, "no token");
    let r = post(&base, "/gaps/change", &li, &[("csrf", &lcsrf), ("action", "reject"), ("id", &gap)]);
    assert_eq!(r.status(), 400, "a rejection says why");
    let r = post(&base, "/gaps/change", &li, &reject);
    assert_eq!(
        (r.status(), r.header("location")),
        (303, Some(format!("/gaps?show=all&done=rejected&id={gap}").as_str()))
    );
    let reviewed = events(&st, "gap_reviewed");
    assert_eq!((reviewed.len(), reviewed[0].0.as_str()), (1, "account:li"), "{reviewed:?}");
    assert_eq!(
        (reviewed[0].3["decision"].as_str(), reviewed[0].3["note"].as_str()),
        (Some("rejected"), Some("未写明更换电池的时间"))
    );
    let html = get(&base, "/gaps", &li).into_string().unwrap();
    assert!(html.contains(&format!("id=\"gap-{gap}\"")), "open again: {html}");

    // Explained again; approved.
    let r = post(
        &base,
        "/mine/explain",
        &zhang,
        &[("csrf", &zcsrf), ("recording", &rec), ("gap", &gap), ("text", "14:05 电量不足，14:12 更换电池后继续录像")],
    );
    assert_eq!(r.status(), 303);
    let r = post(&base, "/gaps/change", &li, &[("csrf", &lcsrf), ("action", "approve"), ("id", &gap)]);
    assert_eq!(r.header("location"), Some(format!("/gaps?show=all&done=approved&id={gap}").as_str()));
    let html = get(&base, &format!("/gaps?show=all&done=approved&id={gap}"), &li).into_string().unwrap();
    assert!(html.contains("审核通过") && html.contains("已通过 approved · account:li"), "{html}");
    let r = post(&base, "/gaps/change", &li, &[("csrf", &lcsrf), ("action", "approve"), ("id", &gap)]);
    assert!(r.status() >= 400, "reviewed once: {}", r.status());
    assert_eq!(events(&st, "gap_reviewed").len(), 2);

    // An approval not to record: entered by the custodian, not approvable by them, approved by
    // an approver.
    let csrf = csrf_field(&get(&base, "/gaps", &wang).into_string().unwrap());
    let exempt = [
        ("csrf", csrf.as_str()),
        ("action", "exempt"),
        ("officer", "012345"),
        ("from", "2026-03-02T08:30"),
        ("to", "2026-03-02T10:30"),
        ("reason", "现场涉及未成年人隐私，现场负责人李四同意不予录像"),
    ];
    let mut backwards = exempt;
    backwards[3].1 = "2026-03-02T11:30";
    assert_eq!(post(&base, "/gaps/change", &wang, &backwards).status(), 400, "a window that ends before it starts");
    let r = post(&base, "/gaps/change", &wang, &exempt);
    assert_eq!((r.status(), r.header("location")), (303, Some("/gaps?done=exempted&id=1")));
    let entered = events(&st, "recording_exemption_recorded");
    assert_eq!((entered.len(), entered[0].0.as_str()), (1, "account:wang"), "{entered:?}");
    assert_eq!(entered[0].3["reason"], "现场涉及未成年人隐私，现场负责人李四同意不予录像");
    let html = get(&base, "/gaps?done=exempted&id=1", &wang).into_string().unwrap();
    assert!(html.contains("id=\"exemption-1\"") && html.contains("待批准") && !html.contains("approve-exemption-1"));
    let r = post(&base, "/gaps/change", &wang, &[("csrf", &csrf), ("action", "approve_exemption"), ("id", "1")]);
    assert_eq!(r.status(), 403, "a custodian holds no approver role");
    let zhao = session_of(&base, "zhao");
    let html = get(&base, "/gaps", &zhao).into_string().unwrap();
    assert!(html.contains("id=\"approve-exemption-1\""), "{html}");
    let r = post(
        &base,
        "/gaps/change",
        &zhao,
        &[("csrf", &csrf_field(&html)), ("action", "approve_exemption"), ("id", "1")],
    );
    assert_eq!((r.status(), r.header("location")), (303, Some("/gaps?done=exemption_approved&id=1")));
    let approved = events(&st, "recording_exemption_approved");
    assert_eq!((approved.len(), approved[0].0.as_str()), (1, "account:zhao"), "{approved:?}");
    let html = get(&base, "/gaps", &zhao).into_string().unwrap();
    assert!(html.contains("<td>account:zhao</td>"), "{html}");
    let r = post(&base, "/gaps/change", &zhao, &[("csrf", &csrf_field(&html)), ("action", "drop"), ("id", "1")]);
    assert_eq!(r.status(), 400, "an action the page does not know");
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}

/// The gaps page in a real browser: the approver opens it from the bay screen's links, folds
/// out the rejection, and approves an officer's explanation; a screenshot for docs/web.
#[test]
#[cfg_attr(not(has_chromium), ignore = "headless Chromium is not installed (apt-get install chromium chromium-driver)")]
fn in_a_browser_an_approver_approves_a_gap_explanation_from_the_gaps_page() {
    let (mut st, base) = web_station("");
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, format!("{cfg}\n[gaps]\nreview_required = true\n")).unwrap();
    st.start();
    add_officer(&st);
    let o = account(&st, &["add", "li", "--display-name", "李四", "--role", "approver"], PASSWORD);
    assert!(o.status.success(), "{}", text(&o));
    let (vol, _) = st.sim(
        "G1",
        &["--serial", "G200002", "--badge", "012345", "--segments", "3", "--segment-bytes", "10000", "--fault", "gap"],
    );
    st.dock(&vol, "G200002");
    st.wait_finished("G200002");
    let o = st.evidock(&["gap", "list", "--open", "--json"]);
    let listed: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().expect("one open gap")).unwrap();
    let gap = listed["id"].to_string();
    let o = st.evidock(&["gap", "explain", &gap, "--text", "电池耗尽，更换电池后继续录像", "--by", "012345"]);
    assert!(o.status.success(), "{}", text(&o));

    let d = Driver::start();
    d.sign_in(&base, "li", PASSWORD);
    d.click("#to-gaps");
    d.click("#show-all");
    d.text_when(&format!("#gap-{gap}"), "待审核");
    d.screenshot("gaps");
    d.click(&format!("#approve-gap-{gap}"));
    let done = d.text_when("#done", "审核通过");
    assert!(done.contains(&format!("#{gap}")), "{done}");
    assert!(d.text(&format!("#gap-{gap}")).contains("已通过 approved · account:li"));
    let reviewed = events(&st, "gap_reviewed");
    assert_eq!(
        (reviewed.len(), reviewed[0].0.as_str(), reviewed[0].3["decision"].as_str()),
        (1, "account:li", Some("approved"))
    );
    assert!(st.stop().success(), "{}", st.log());
}
