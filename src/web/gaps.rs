//! Gaps in recording on the web page (R6; S0 §13, S2 §18, S4 §19; S1 §8): `/gaps` lists the
//! gaps (`gap_list`, all or only the unexplained) with their written explanations, who wrote
//! and typed them and their review, and the approvals not to record (`gap_exemptions`); an
//! approver reviews an explanation awaiting review (`gap_review`: approve, or reject with the
//! reason), a custodian or archivist enters an exemption (`gap_exempt`), and another approver
//! approves it (`gap_exempt_approve`). Officers explain their own gaps on `/mine`. Each change
//! carries the session's CSRF token and answers 303 back with what was done. Who may review or
//! approve what (never one's own) is the station API's. Renders; holds no station logic.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::render::{esc, may, page};
use super::{api_error_page, see_other, see_other_to, Shared};
use crate::accounts::sessions::Session;
use crate::api::gap::{self, Exemption, Gap};
use crate::api::{self, ApiError, Op};

/// `GET /gaps`'s query: which gaps, and the notice of a change just made.
#[derive(Debug, Default, Deserialize)]
pub struct GapsQuery {
    /// `all` for every gap; otherwise only those nobody explained yet.
    #[serde(default)]
    show: String,
    #[serde(default)]
    done: String,
    #[serde(default)]
    id: Option<i64>,
}

fn notice(q: &GapsQuery) -> Option<String> {
    let id = q.id.map(|i| format!(" #{i}")).unwrap_or_default();
    Some(match q.done.as_str() {
        "approved" => format!("中断说明{id}已审核通过 / explanation{id} approved"),
        "rejected" => {
            format!("中断说明{id}已退回，须重新说明 / explanation{id} rejected: the gap is to be explained again")
        }
        "exempted" => format!("不录像审批{id}已登记，待他人批准 / exemption{id} entered; someone else approves it"),
        "exemption_approved" => format!("不录像审批{id}已批准 / exemption{id} approved"),
        _ => return None,
    })
}

/// `GET /gaps`: the gaps and the exemptions.
pub(super) async fn gaps(State(w): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query<GapsQuery>) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    let all = q.show == "all";
    let list = match w.call(&s, api::Request::GapList(gap::ListArgs { open: !all })).await {
        Ok(api::Reply::GapList(l)) => l,
        Ok(other) => return super::unexpected(&other),
        Err(e) => return api_error_page(&e),
    };
    let exemptions = match w.call(&s, api::Request::GapExemptions(gap::ExemptionsArgs {})).await {
        Ok(api::Reply::GapExemptions(l)) => l,
        Ok(other) => return super::unexpected(&other),
        Err(e) => return api_error_page(&e),
    };
    Html(render(&s, &list, all, &exemptions, notice(&q).as_deref())).into_response()
}

/// A change on the gaps page, as the browser sends it.
#[derive(Debug, Default, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    /// `approve`, `reject`, `exempt` or `approve_exemption`.
    #[serde(default)]
    action: String,
    /// The gap (`approve`, `reject`) or the exemption (`approve_exemption`).
    #[serde(default)]
    id: i64,
    /// Why an explanation is rejected.
    #[serde(default)]
    note: String,
    /// The exemption's officer (badge), window and reason.
    #[serde(default)]
    officer: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    reason: String,
}

/// `POST /gaps/change`.
pub(super) async fn change(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<ChangeForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "gap").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let request = match f.action.as_str() {
        "approve" => api::Request::GapReview(gap::Review { id: f.id, approve: true, note: f.note.trim().to_string() }),
        "reject" => api::Request::GapReview(gap::Review { id: f.id, approve: false, note: f.note.trim().to_string() }),
        "exempt" => api::Request::GapExempt(gap::Exempt {
            officer: f.officer.trim().to_string(),
            from: f.from.trim().to_string(),
            to: f.to.trim().to_string(),
            reason: f.reason.trim().to_string(),
        }),
        "approve_exemption" => api::Request::GapExemptApprove(gap::ExemptApprove { id: f.id }),
        other => return api_error_page(&ApiError::invalid(format!("action {other:?} / 操作不正确"))),
    };
    match w.call(&session, request).await {
        Ok(api::Reply::GapReview(r)) => {
            let done = if r.approved { "approved" } else { "rejected" };
            see_other_to(&format!("/gaps?show=all&done={done}&id={}", r.id))
        }
        Ok(api::Reply::GapExempt(e)) => see_other_to(&format!("/gaps?done=exempted&id={}", e.id)),
        Ok(api::Reply::GapExemptApprove(e)) => see_other_to(&format!("/gaps?done=exemption_approved&id={}", e.id)),
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// The review's state, in Chinese and English.
fn review_label(review: Option<&str>) -> &'static str {
    match review {
        Some("pending") => "待审核 awaiting review",
        Some("approved") => "已通过 approved",
        Some("rejected") => "已退回 rejected",
        Some("not_required") => "无须审核 no review needed",
        _ => "",
    }
}

/// Milliseconds as `1 min 5 s` in both languages' shared digits.
fn length(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s} 秒 s"),
        (0, m, s) => format!("{m} 分 {s} 秒 / {m} min {s} s"),
        (h, m, _) => format!("{h} 时 {m} 分 / {h} h {m} min"),
    }
}

/// The gaps page.
pub fn render(who: &Session, list: &[Gap], all: bool, exemptions: &[Exemption], notice: Option<&str>) -> String {
    let csrf = esc(&who.csrf);
    let mut body = String::from("<h1>录像中断 <small>Gaps in recording</small></h1>");
    if let Some(n) = notice {
        let _ = write!(body, "<p class=\"done\" id=\"done\">{}</p>", esc(n));
    }
    body.push_str(if all {
        "<p class=\"choice\"><a href=\"/gaps\" id=\"show-open\">只看未说明的 <small>Unexplained only</small></a> · \
         <strong>全部 <small>All</small></strong></p>"
    } else {
        "<p class=\"choice\"><strong>未说明的 <small>Unexplained</small></strong> · \
         <a href=\"/gaps?show=all\" id=\"show-all\">全部（含说明与审核） <small>All, with explanations and reviews</small></a></p>"
    });
    body.push_str(
        "<p><small>执法人员在“我的录像”中说明本人录像的中断，可附签字说明的扫描件。 \
         Officers explain the gaps in their own footage on My footage, with the signed statement scanned.</small></p>",
    );
    body.push_str(
        "<table id=\"gaps\"><thead><tr><th>编号 No.</th><th>录像 Recording</th><th>中断 Gap</th>\
         <th>原因 Reason</th><th>书面说明 Explanation</th><th>审核 Review</th><th></th></tr></thead><tbody>",
    );
    for g in list {
        let mut forms = String::new();
        if g.review.as_deref() == Some("pending") && may(who, Op::GapReview) {
            let _ = write!(
                forms,
                "<form method=\"post\" action=\"/gaps/change\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"action\" value=\"approve\"><input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <button type=\"submit\" id=\"approve-gap-{id}\">审核通过 Approve</button></form>\
                 <details><summary>退回 <small>Reject</small></summary>\
                 <form method=\"post\" action=\"/gaps/change\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"action\" value=\"reject\"><input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <label>退回理由 <small>Why</small><input name=\"note\" id=\"reject-note-{id}\" required></label>\
                 <button type=\"submit\" id=\"reject-gap-{id}\">退回 Reject</button></form></details>",
                id = g.id,
            );
        }
        let explanation = match &g.explanation {
            Some(text) => {
                let mut e = esc(text);
                if let Some(a) = &g.author {
                    let _ = write!(e, "<br><small>警号 badge {}", esc(a));
                    if let Some(t) = &g.typed_by {
                        let _ = write!(e, " · 录入 typed by {}", esc(t));
                    }
                    e.push_str("</small>");
                }
                if let Some(scan) = &g.scan {
                    let _ = write!(
                        e,
                        "<br><small>扫描件 scan {} ({} B, BLAKE3 {}…)</small>",
                        esc(&scan.path),
                        scan.size,
                        esc(scan.blake3.get(..16).unwrap_or(&scan.blake3))
                    );
                }
                e
            }
            None => "<span class=\"notice\">未说明 <small>unexplained</small></span>".to_string(),
        };
        let reviewed = match (&g.review, &g.reviewed_by) {
            (Some(r), Some(by)) => format!("{} · {}", review_label(Some(r)), esc(by)),
            (r, _) => review_label(r.as_deref()).to_string(),
        };
        let _ = write!(
            body,
            "<tr id=\"gap-{id}\"><td>#{id}</td><td><a href=\"/retention/show?recording={q}\">{serial}/{session}</a>\
             <br><small>段 segments {after} → {before}</small></td><td>{from} – {to}<br><small>{len}</small></td>\
             <td>{reason}</td><td>{explanation}</td><td>{reviewed}</td><td>{forms}</td></tr>",
            id = g.id,
            q = esc(&super::archive::percent(&format!("{}/{}", g.serial, g.session))),
            serial = esc(&g.serial),
            session = esc(&g.session),
            after = g.after_seq,
            before = g.before_seq,
            from = esc(&g.from.replacen('T', " ", 1)),
            to = esc(&g.to.replacen('T', " ", 1)),
            len = esc(&length(g.duration_ms)),
            reason = esc(g.reason.as_deref().unwrap_or("—")),
        );
    }
    if list.is_empty() {
        body.push_str(if all {
            "<tr><td colspan=\"7\">没有录像中断 / no gap in recording</td></tr>"
        } else {
            "<tr><td colspan=\"7\" id=\"no-open-gaps\">没有未说明的中断 / no unexplained gap</td></tr>"
        });
    }
    body.push_str("</tbody></table>");

    body.push_str(
        "<h2>不录像审批 <small>Approvals not to record</small></h2>\
         <table id=\"exemptions\"><thead><tr><th>编号 No.</th><th>执法人员 Officer</th><th>时段 Window</th>\
         <th>理由 Reason</th><th>登记 Entered</th><th>批准 Approved</th></tr></thead><tbody>",
    );
    for e in exemptions {
        let approved = match &e.approved_by {
            Some(by) => esc(by),
            None if may(who, Op::GapExemptApprove) => format!(
                "<form method=\"post\" action=\"/gaps/change\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"action\" value=\"approve_exemption\"><input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <button type=\"submit\" id=\"approve-exemption-{id}\">批准 Approve</button></form>",
                id = e.id,
            ),
            None => "待批准 <small>awaiting approval</small>".to_string(),
        };
        let _ = write!(
            body,
            "<tr id=\"exemption-{id}\"><td>#{id}</td><td>{officer}</td><td>{from} – {to}</td><td>{reason}</td>\
             <td>{by}</td><td>{approved}</td></tr>",
            id = e.id,
            officer = esc(&e.officer),
            from = esc(&e.from.replacen('T', " ", 1)),
            to = esc(&e.to.replacen('T', " ", 1)),
            reason = esc(&e.reason),
            by = esc(&e.recorded_by),
        );
    }
    if exemptions.is_empty() {
        body.push_str("<tr><td colspan=\"6\">没有不录像审批 / no approval not to record</td></tr>");
    }
    body.push_str("</tbody></table>");
    if may(who, Op::GapExempt) {
        let _ = write!(
            body,
            "<details><summary>登记不录像审批 <small>Enter an approval not to record</small></summary>\
             <form method=\"post\" action=\"/gaps/change\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"action\" value=\"exempt\">\
             <label>警号 <small>Officer number</small><input name=\"officer\" id=\"exempt-officer\" required></label>\
             <label>开始 <small>From</small><input name=\"from\" id=\"exempt-from\" type=\"datetime-local\" step=\"1\" required></label>\
             <label>结束 <small>To</small><input name=\"to\" id=\"exempt-to\" type=\"datetime-local\" step=\"1\" required></label>\
             <label>理由（现场同意人） <small>Why, and who agreed on site</small><input name=\"reason\" id=\"exempt-reason\" required></label>\
             <button type=\"submit\" id=\"exempt\">登记 Enter</button></form></details>"
        );
    }
    body.push_str("<p><a href=\"/\">返回 Back</a></p>");
    page("录像中断 Gaps · evidock", Some(who), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gaps_length_reads_in_both_languages() {
        assert_eq!(length(4_500), "4 秒 s");
        assert_eq!(length(65_000), "1 分 5 秒 / 1 min 5 s");
        assert_eq!(length(7_380_000), "2 时 3 分 / 2 h 3 min");
        assert_eq!(length(-5), "0 秒 s");
    }
}
