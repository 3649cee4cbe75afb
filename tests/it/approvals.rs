//! Approvals as the bureaus run them (R9, R10): tiers by party and kind (S1 §17-18, S2 §24,
//! S3 §30), officers' own requests, the work-secret level (S2 §18, §26) and the printable
//! 调用单 (S2 §24) and access register (S3 §28), built from the custody log.

use crate::access::{ok, open_station_to, state_of, station, text, CASE};
use crate::support::Station;

/// An approver who is no head.
const DEPUTY: u32 = 4343;
/// An officer (badge 012345, the recorder's) holding no station role.
const OFFICER: u32 = 4344;
/// Another officer (badge 099999).
const OTHER_OFFICER: u32 = 4345;

fn events(st: &Station, action: &str) -> Vec<serde_json::Value> {
    let db = st.db();
    let mut q = db.prepare("SELECT details FROM custody_log WHERE action = ?1 ORDER BY seq").unwrap();
    q.query_map([action], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
        .collect()
}

/// Runs `evidock ARGS` as `uid`, the station opened to it first (no daemon runs here).
fn as_(st: &Station, uid: u32, args: &[&str]) -> std::process::Output {
    open_station_to(st);
    st.evidock_as(uid, args)
}

fn edit_config(st: &Station, f: impl FnOnce(String) -> String) {
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, f(cfg)).unwrap();
}

/// [`station`] with [`DEPUTY`] an approver but no head, and the two officers named.
fn bureau() -> Station {
    let st = station();
    edit_config(&st, |c| {
        c.replace("approver = [\"uid:65534\", \"uid:0\"]", "approver = [\"uid:65534\", \"uid:0\", \"uid:4343\"]")
            + "\n[officers]\n\"uid:4344\" = \"012345\"\n\"uid:4345\" = \"099999\"\n"
    });
    open_station_to(&st);
    st
}

fn court_export(st: &Station) {
    ok(st.evidock(&[
        "access",
        "request",
        "--case",
        CASE,
        "--kind",
        "export",
        "--reason",
        "法院调取 <证据>",
        "--party",
        "court",
        "--party-name",
        "某某区人民法院",
    ]));
}

/// S1 §18 (人民法院、人民检察院…查阅视听资料的，应当报经局主要负责人批准), S3 §30: a court's
/// request approved by an approver who is no head is refused, bilingual, and logged; the
/// principal head approves it at that tier; once they are no longer the head, the approval is
/// void when footage would leave (INV-34).
#[test]
fn r9_a_court_request_needs_the_principal_head_and_is_void_once_they_are_no_longer_it() {
    let st = bureau();
    court_export(&st);
    let o = as_(&st, DEPUTY, &["access", "approve", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains("needs the principal-head") && said.contains("主要负责人"), "{said}");
    assert!(said.contains("access.tiers.court_copy") && said.contains("access.heads.principal"), "{said}");
    assert_eq!(state_of(&st, 1), "pending");
    let refused = events(&st, "call_refused");
    assert!(refused.iter().any(|e| e["reason"].as_str().is_some_and(|r| r.contains("principal-head"))), "{refused:?}");
    // Denying is the head's too.
    let o = as_(&st, DEPUTY, &["access", "deny", "1", "--reason", "无关"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    ok(as_(&st, 65534, &["access", "approve", "1"]));
    assert_eq!(state_of(&st, 1), "approved");
    let approved = events(&st, "access_approved");
    assert_eq!(approved[0]["tier"], "principal-head", "{approved:?}");

    // The bureau names another head: the approval no longer holds at export.
    edit_config(&st, |c| c.replace("principal = [\"uid:65534\"]", "principal = [\"uid:4343\"]"));
    let out = st.path("usb-drive");
    let o = st.evidock(&["export", "--request", "1", "--to", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is void") && text(&o).contains("主要负责人"), "{}", text(&o));
    assert_eq!(state_of(&st, 1), "voided");
    assert_eq!(events(&st, "access_voided").len(), 1);
    st.assert_log_verifies();
}

/// S2 §24 (本机构人员因工作需要调用…须经主管领导同意): a bureau that raises its own copies to
/// the supervising head refuses an approver below it and takes the head's approval; a
/// principal head, above it, may approve too.
#[test]
fn r9_a_bureau_raises_internal_copies_to_the_supervising_head() {
    let st = bureau();
    edit_config(&st, |c| {
        c.replace("principal = [\"uid:65534\"]", "principal = [\"uid:65534\"]\nsupervising = [\"uid:4343\"]")
            + "\n[access.tiers]\ninternal_copy = \"supervising-head\"\ninternal_view = \"principal-head\"\n"
    });
    ok(st.evidock(&["access", "request", "--case", CASE, "--kind", "copy", "--reason", "复核"]));
    ok(as_(&st, DEPUTY, &["access", "approve", "1"]));
    ok(st.evidock(&["access", "request", "--case", CASE, "--kind", "view", "--reason", "复核"]));
    let o = as_(&st, DEPUTY, &["access", "approve", "2"]);
    assert!(text(&o).contains("needs the principal-head"), "{}", text(&o));
    ok(as_(&st, 65534, &["access", "approve", "2"]));
    let tiers: Vec<_> = events(&st, "access_approved").iter().map(|e| e["tier"].clone()).collect();
    assert_eq!(tiers, ["supervising-head", "principal-head"]);
}

/// R9: an officer named in [officers] asks for their own footage without a station role, under
/// its tier; footage another badge recorded, or a request for someone else, is refused; they
/// see and print only their own requests.
#[test]
fn r9_an_officer_asks_for_their_own_footage_only() {
    let st = bureau();
    let mine = ["access", "request", "--case", CASE, "--kind", "view", "--reason", "复核本人执法过程"];
    let o = as_(&st, OFFICER, &[&mine[..], &["--party", "internal"][..]].concat());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("only for their own footage"), "{}", text(&o));
    let o = as_(&st, OTHER_OFFICER, &[&mine[..], &["--party", "officer"][..]].concat());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not by your badge 099999") && text(&o).contains("仅可申请调阅本人"), "{}", text(&o));
    // Without an officer number and without a role: refused by the role check.
    let o = as_(&st, 4999, &[&mine[..], &["--party", "officer"][..]].concat());
    assert!(text(&o).contains("needs one of"), "{}", text(&o));
    ok(as_(&st, OFFICER, &[&mine[..], &["--party", "officer"][..]].concat()));
    let req = events(&st, "access_requested");
    assert_eq!((req[0]["party"].as_str(), req[0]["party_name"].as_str()), (Some("officer"), None));
    let role: String = st
        .db()
        .query_row("SELECT actor_role FROM custody_log WHERE action = 'access_requested'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(role, "officer");
    // Under its tier (an approver, built-in); then the officer views it.
    ok(as_(&st, 65534, &["access", "approve", "1"]));
    let listed = ok(as_(&st, OFFICER, &["access", "view", "1"]));
    assert!(!listed.is_empty(), "{listed}");
    // Another officer sees none of it.
    assert_eq!(ok(as_(&st, OTHER_OFFICER, &["access", "list"])).trim(), "");
    let o = as_(&st, OTHER_OFFICER, &["access", "form", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let form = ok(as_(&st, OFFICER, &["access", "form", "1"]));
    assert!(form.contains("执法人员本人") && form.contains("查看 <span class=\"en\">viewed</span>"), "{form}");
}

/// S2 §18 (涉及国家秘密、工作秘密、商业秘密及个人隐私的应当按保密权限和规定执行), S2 §26: footage
/// marked work secret is requested and approved only by the people `[access.work_secret]`
/// names, and INV-21 holds for it: an approver taken off the list leaves a void approval.
#[test]
fn r10_work_secret_footage_has_its_own_approvers_and_is_judged_again_at_view() {
    let st = bureau();
    ok(st.evidock(&["access", "mark", "--case", CASE, "--level", "work-secret", "--reason", "内部工作部署"]));
    let o = st.evidock(&["access", "request", "--case", CASE, "--kind", "view", "--reason", "复核"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("access.work_secret.requesters") && text(&o).contains("工作秘密"), "{}", text(&o));
    edit_config(&st, |c| c + "\n[access.work_secret]\nrequesters = [\"uid:0\"]\napprovers = [\"uid:65534\"]\n");
    ok(st.evidock(&["access", "request", "--case", CASE, "--kind", "view", "--reason", "复核"]));
    let o = as_(&st, DEPUTY, &["access", "approve", "1"]);
    assert!(text(&o).contains("access.work_secret.approvers"), "{}", text(&o));
    ok(as_(&st, 65534, &["access", "approve", "1"]));
    edit_config(&st, |c| c.replace("approvers = [\"uid:65534\"]", "approvers = [\"uid:4343\"]"));
    let o = st.evidock(&["access", "view", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is void") && text(&o).contains("工作秘密"), "{}", text(&o));
    assert_eq!(state_of(&st, 1), "voided");
    let listed = ok(st.evidock(&["access", "list"]));
    assert!(listed.contains("工作秘密"), "{listed}");
}

/// S2 §24 (《行政执法全过程记录资料调用单》) and S3 §28 (登记调阅人、复制人、审批人、时间、事由):
/// the slip and the register print from the custody log (INV-35): a reason edited in the
/// catalogue does not reach them.
#[test]
fn r9_the_access_slip_and_register_print_from_the_custody_log() {
    let st = bureau();
    court_export(&st);
    ok(as_(&st, 65534, &["access", "approve", "1"]));
    ok(st.evidock(&["export", "--request", "1", "--to", st.path("usb-drive").to_str().unwrap()]));
    ok(st.evidock(&["access", "request", "--case", CASE, "--kind", "view", "--reason", "内部复核"]));
    ok(as_(&st, 65534, &["access", "approve", "2"]));
    ok(st.evidock(&["access", "view", "2"]));
    // The catalogue's copy of the reason, edited: the forms keep the logged one.
    st.open_log_for_tampering().execute("UPDATE access_requests SET reason = '篡改' WHERE id = 1", []).unwrap();

    let slip = ok(st.evidock(&["access", "form", "1"]));
    assert!(slip.starts_with("<!DOCTYPE html>") && slip.contains("size:A4"), "{slip}");
    assert!(slip.contains("行政执法全过程记录资料调用单"), "{slip}");
    assert!(slip.contains("法院调取 &lt;证据&gt;") && !slip.contains("篡改"), "{slip}");
    assert!(slip.contains("人民法院 <span class=\"en\">court</span>：某某区人民法院"), "{slip}");
    assert!(slip.contains("主要负责人 <span class=\"en\">principal-head</span>"), "{slip}");
    assert!(
        slip.contains("<td>nobody</td>") && slip.contains("导出 <span class=\"en\">exported</span>：root"),
        "{slip}"
    );
    assert!(slip.contains("Asia/Shanghai"), "station time, named: {slip}");

    let register = ok(st.evidock(&["access", "register", "--from", "2000-01-01", "--to", "2999-12-31"]));
    let rows: Vec<&str> = register.lines().filter(|l| l.starts_with("<tr><td>")).collect();
    assert_eq!(rows.len(), 2, "{register}");
    assert!(rows[0].contains("<td></td><td>root</td><td>nobody</td>") && rows[0].contains("法院调取"), "{}", rows[0]);
    assert!(rows[1].contains("<td>root</td><td></td><td>nobody</td>") && rows[1].contains("内部复核"), "{}", rows[1]);
    assert!(!register.contains("篡改"), "{register}");
    let o = st.evidock(&["access", "register", "--from", "2026-13-01", "--to", "2026-12-31"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("YYYY-MM-DD"), "{}", text(&o));
    // An officer without a station role may not print the register.
    let o = as_(&st, OFFICER, &["access", "register", "--from", "2000-01-01", "--to", "2999-12-31"]);
    assert!(text(&o).contains("needs one of"), "{}", text(&o));
}
