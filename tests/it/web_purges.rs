//! The purge queue on the station's web page (docs/WEB.md; R7): an archivist asks to purge a
//! recording past its deadline, an approver approves, the archivist runs the queue and the
//! files go with a tombstone left; a custodian asks for and cancels another, with the reason;
//! each step a custody event naming the account; no token, no reason and a custodian running
//! the queue are refused.

use crate::support::text;
use crate::web::{account, add_officer, csrf_field, events, get, post, q, session_of, web_station, PASSWORD};

#[test]
fn r7_footage_past_its_deadline_is_asked_for_approved_and_purged_from_the_page() {
    let (mut st, base) = web_station("");
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, cfg + "\n[retention]\nstandard_months = 6\npurge_grace_days = 0\n").unwrap();
    // The station's retention clock 400 days on: the footage is past its six months.
    st.start_with(&[("EVIDOCK_RETENTION_CLOCK_DAYS", "400")]);
    add_officer(&st);
    for (name, display, role) in
        [("an", "安七", "archivist"), ("shen", "沈六", "approver"), ("wang", "王五", "custodian")]
    {
        let o = account(&st, &["add", name, "--display-name", display, "--role", role], PASSWORD);
        assert!(o.status.success(), "{}", text(&o));
    }
    let (vol, _) =
        st.sim("U1", &["--serial", "U700001", "--sessions", "2", "--segments", "1", "--segment-bytes", "20000"]);
    st.dock(&vol, "U700001");
    st.wait_finished("U700001");
    let recs: Vec<String> = st
        .db()
        .prepare("SELECT DISTINCT serial || '/' || session FROM segments WHERE serial = 'U700001' ORDER BY 1")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(recs.len(), 2);
    let (an, shen, wang) = (session_of(&base, "an"), session_of(&base, "shen"), session_of(&base, "wang"));

    // Asked for from the recording's retention page, with the reason.
    let html = get(&base, &format!("/retention/show?recording={}", q(&recs[0])), &an).into_string().unwrap();
    assert!(html.contains("id=\"ask-purge\""), "{html}");
    let csrf = csrf_field(&html);
    let ask = [("csrf", csrf.as_str()), ("action", "request"), ("recording", &recs[0]), ("reason", "保存期满，非证据")];
    assert_eq!(post(&base, "/purges/change", &an, &ask[1..]).status(), 403, "no token");
    let r = post(
        &base,
        "/purges/change",
        &an,
        &[("csrf", &csrf), ("action", "request"), ("recording", &recs[0]), ("reason", " ")],
    );
    assert_eq!(r.status(), 400, "a purge says why");
    assert!(events(&st, "purge_requested").is_empty());
    let r = post(&base, "/purges/change", &an, &ask);
    assert_eq!((r.status(), r.header("location")), (303, Some("/purges?done=requested&id=1")));
    let asked = events(&st, "purge_requested");
    assert_eq!((asked.len(), asked[0].0.as_str(), asked[0].1.as_str()), (1, "account:an", "archivist"));
    let html = get(&base, "/purges?done=requested&id=1", &an).into_string().unwrap();
    assert!(html.contains("删除申请 #1已提交") && html.contains("待批准"), "{html}");
    assert!(!html.contains("id=\"approve-purge-1\""), "an archivist does not approve");

    // Approved by the approver; the archivist runs the queue; the files go, a tombstone stays.
    let html = get(&base, "/purges", &shen).into_string().unwrap();
    assert!(html.contains("id=\"approve-purge-1\"") && !html.contains("id=\"run-purges\""), "{html}");
    let scsrf = csrf_field(&html);
    let r = post(&base, "/purges/change", &shen, &[("csrf", &scsrf), ("action", "approve"), ("id", "1")]);
    assert_eq!((r.status(), r.header("location")), (303, Some("/purges?done=approved&id=1")));
    assert_eq!(events(&st, "purge_approved")[0].0, "account:shen");
    let before = st.archived_footage().len();
    let r = post(
        &base,
        "/purges/change",
        &wang,
        &[("csrf", &csrf_field(&get(&base, "/purges", &wang).into_string().unwrap())), ("action", "run")],
    );
    assert_eq!(r.status(), 403, "a custodian does not run purges");
    assert!(events(&st, "purge_executed").is_empty());
    let r = post(&base, "/purges/change", &an, &[("csrf", &csrf), ("action", "run")]);
    assert_eq!((r.status(), r.header("location")), (303, Some("/purges?done=run&purged=1&contradicted=0&refused=0")));
    assert_eq!(st.archived_footage().len(), before - 1, "the recording's one file deleted");
    let done = events(&st, "purge_executed");
    assert_eq!((done.len(), done[0].0.as_str()), (1, "account:an"));
    let tomb: String = st.db().query_row("SELECT body FROM tombstones", [], |r| r.get(0)).unwrap();
    assert!(tomb.contains("\"approved_by\":\"account:shen\"") && tomb.contains("blake3"), "{tomb}");
    let html = get(&base, "/purges?done=run&purged=1&contradicted=0&refused=0", &an).into_string().unwrap();
    assert!(html.contains("已删除 1 项") && html.contains("已删除 <small>executed</small>"), "{html}");

    // A custodian asks for the other and cancels it, saying why.
    let wcsrf = csrf_field(&get(&base, "/purges", &wang).into_string().unwrap());
    let r = post(
        &base,
        "/purges/change",
        &wang,
        &[("csrf", &wcsrf), ("action", "request"), ("recording", &recs[1]), ("reason", "期满")],
    );
    assert_eq!(r.header("location"), Some("/purges?done=requested&id=2"));
    let r = post(&base, "/purges/change", &wang, &[("csrf", &wcsrf), ("action", "cancel"), ("id", "2")]);
    assert_eq!(r.status(), 400, "a cancellation says why");
    let r = post(
        &base,
        "/purges/change",
        &wang,
        &[("csrf", &wcsrf), ("action", "cancel"), ("id", "2"), ("reason", "当事人提起复议")],
    );
    assert_eq!((r.status(), r.header("location")), (303, Some("/purges?done=cancelled&id=2")));
    assert_eq!(events(&st, "purge_cancelled")[0].0, "account:wang");
    let html = get(&base, "/purges", &an).into_string().unwrap();
    assert!(html.contains("当事人提起复议") && !html.contains("id=\"cancel-purge-2\""), "{html}");
    assert_eq!(st.archived_footage().len(), before - 1, "the cancelled one is kept");
    st.assert_log_verifies();
    st.stop();
}
