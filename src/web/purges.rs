//! The purge queue on the web page (R7): `/purges` lists every request (`purge_list`) with
//! the forms the account may use (approve, by an approver who did not ask; cancel, with the
//! reason; run the approved purges past their grace period), and a recording's retention page
//! offers to ask for its purge (`purge_request`). Each change carries the session's CSRF token
//! and answers 303 back with what was done. Whether a recording may be purged, and the check of
//! its rows against the custody log, are the station API's. Renders; holds no station logic.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::render::{esc, may, page};
use super::{api_error_page, see_other, see_other_to, Shared};
use crate::accounts::sessions::Session;
use crate::api::purge::{self, Pass, Purge};
use crate::api::{self, ApiError, NoArgs, Op};

/// `GET /purges`'s query: the notice of a change just made.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
    #[serde(default)]
    id: Option<i64>,
    /// A pass: purged, not purged because the catalogue contradicts the log, refused.
    #[serde(default)]
    purged: usize,
    #[serde(default)]
    contradicted: usize,
    #[serde(default)]
    refused: usize,
}

fn notice(q: &Done) -> Option<String> {
    let id = q.id.map(|i| format!(" #{i}")).unwrap_or_default();
    Some(match q.done.as_str() {
        "requested" => format!("删除申请{id}已提交，待他人批准 / purge request{id} awaits approval by someone else"),
        "approved" => format!("删除申请{id}已批准，宽限期内可撤销 / purge{id} approved; it can be cancelled in its grace period"),
        "cancelled" => format!("删除申请{id}已撤销 / purge{id} cancelled"),
        "run" => format!(
            "已删除 {p} 项，目录与日志不符未删除 {c} 项（已发出警报），规则不允许 {r} 项 / \
             {p} purged, {c} not purged as the catalogue contradicts the custody log (alarm raised), {r} refused by the rules",
            p = q.purged,
            c = q.contradicted,
            r = q.refused
        ),
        _ => return None,
    })
}

/// `GET /purges`: the queue.
pub(super) async fn purges(State(w): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query<Done>) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    match w.call(&s, api::Request::PurgeList(NoArgs {})).await {
        Ok(api::Reply::PurgeList(list)) => Html(render(&s, &list, notice(&q).as_deref())).into_response(),
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// A step of the queue, as the browser sends it.
#[derive(Debug, Default, Deserialize)]
pub struct StepForm {
    #[serde(default)]
    csrf: String,
    /// `request`, `approve`, `cancel` or `run`.
    #[serde(default)]
    action: String,
    /// The request's number (`approve`, `cancel`).
    #[serde(default)]
    id: i64,
    /// The recording (`request`).
    #[serde(default)]
    recording: String,
    #[serde(default)]
    reason: String,
}

/// `POST /purges/change`.
pub(super) async fn change(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<StepForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "purge").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let request = match f.action.as_str() {
        "request" => {
            api::Request::PurgeRequest(purge::Ask { recording: f.recording.trim().to_string(), reason: f.reason })
        }
        "approve" => api::Request::PurgeApprove(purge::Approve { id: f.id }),
        "cancel" => api::Request::PurgeCancel(purge::Cancel { id: f.id, reason: f.reason }),
        "run" => api::Request::PurgeRun(NoArgs {}),
        other => return api_error_page(&ApiError::invalid(format!("action {other:?} / 操作不正确"))),
    };
    match w.call(&session, request).await {
        Ok(api::Reply::PurgeRequest(p)) => see_other_to(&format!("/purges?done=requested&id={}", p.purge.id)),
        Ok(api::Reply::PurgeApprove(p)) => see_other_to(&format!("/purges?done=approved&id={}", p.purge.id)),
        Ok(api::Reply::PurgeCancel(p)) => see_other_to(&format!("/purges?done=cancelled&id={}", p.purge.id)),
        Ok(api::Reply::PurgeRun(Pass { done, contradicted, refused })) => see_other_to(&format!(
            "/purges?done=run&purged={}&contradicted={}&refused={}",
            done.len(),
            contradicted.len(),
            refused.len()
        )),
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// The form asking to purge `recording`, for a recording's retention page (empty when the
/// account may not ask).
pub fn request_form(who: &Session, recording: &str) -> String {
    if !may(who, Op::PurgeRequest) {
        return String::new();
    }
    format!(
        "<h2>申请删除 <small>Ask to purge</small></h2>\
         <p>仅限已过保存期限、未冻结保全且无长期保存标记的录像；须由他人批准，批准后有宽限期可撤销。\
         <small>Only footage past its deadline, with no legal hold and no long-term flag; someone else approves, \
         and it can be cancelled through a grace period.</small></p>\
         <form method=\"post\" action=\"/purges/change\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"action\" value=\"request\"><input type=\"hidden\" name=\"recording\" value=\"{rec}\">\
         <label>理由 <small>Reason</small><input name=\"reason\" id=\"purge-reason\" required></label>\
         <button type=\"submit\" id=\"ask-purge\">申请删除 Ask to purge</button></form>",
        csrf = esc(&who.csrf),
        rec = esc(recording),
    )
}

/// The queue page.
pub fn render(who: &Session, list: &[Purge], notice: Option<&str>) -> String {
    let csrf = esc(&who.csrf);
    let mut body = String::from("<h1>删除队列 <small>Purge queue</small></h1>");
    if let Some(n) = notice {
        let _ = write!(body, "<p class=\"done\" id=\"done\">{}</p>", esc(n));
    }
    body.push_str(
        "<table id=\"purges\"><thead><tr><th>编号 No.</th><th>录像 Recording</th><th>状态 State</th>\
         <th>申请 Asked</th><th>理由 Reason</th><th>批准 Approved</th><th></th></tr></thead><tbody>",
    );
    for p in list {
        let mut forms = String::new();
        let open = p.state == "awaiting-approval" || p.state == "grace";
        if p.state == "awaiting-approval" && may(who, Op::PurgeApprove) {
            let _ = write!(
                forms,
                "<form method=\"post\" action=\"/purges/change\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"action\" value=\"approve\"><input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <button type=\"submit\" id=\"approve-purge-{id}\">批准 Approve</button></form>",
                id = p.id,
            );
        }
        if open && may(who, Op::PurgeCancel) {
            let _ = write!(
                forms,
                "<form method=\"post\" action=\"/purges/change\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"action\" value=\"cancel\"><input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <label>撤销理由 <small>Why cancel</small><input name=\"reason\" id=\"cancel-reason-{id}\" required></label>\
                 <button type=\"submit\" id=\"cancel-purge-{id}\">撤销 Cancel</button></form>",
                id = p.id,
            );
        }
        let approved = match (&p.approved_by, &p.grace_until, &p.executed_at, &p.cancelled) {
            (Some(by), Some(until), _, _) => format!("{by}，宽限至 grace until {until}"),
            (Some(by), None, Some(at), _) => format!("{by}，已于 {at} 删除 purged"),
            (_, _, _, Some(c)) => format!("已撤销 cancelled: {c}"),
            _ => "—".to_string(),
        };
        let _ = write!(
            body,
            "<tr id=\"purge-{id}\"><td>#{id}</td><td><a href=\"/retention/show?recording={q}\">{rec}</a></td>\
             <td>{zh} <small>{state}</small></td><td>{by}<br><small>{at}</small></td><td>{reason}</td><td>{approved}</td><td>{forms}</td></tr>",
            id = p.id,
            q = esc(&super::archive::percent(&p.recording)),
            rec = esc(&p.recording),
            zh = esc(&p.state_zh),
            state = esc(&p.state),
            by = esc(&p.requested_by),
            at = esc(&p.requested_at),
            reason = esc(&p.reason),
            approved = esc(&approved),
        );
    }
    if list.is_empty() {
        body.push_str("<tr><td colspan=\"7\">没有删除申请 / no purge request</td></tr>");
    }
    body.push_str("</tbody></table>");
    if may(who, Op::PurgeRun) {
        let _ = write!(
            body,
            "<h2>执行删除 <small>Run the purges</small></h2>\
             <p>删除已批准且宽限期已满的录像，保留删除记录（哈希、申请人、批准人）；删除前逐项与保管日志核对。\
             <small>Deletes what is approved and past its grace period, keeping a tombstone (hashes, who asked, who approved); \
             each is held against the custody log first.</small></p>\
             <form method=\"post\" action=\"/purges/change\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"action\" value=\"run\"><button type=\"submit\" id=\"run-purges\">执行 Run</button></form>"
        );
    }
    body.push_str("<p><a href=\"/retention\">保存期限 Retention</a> · <a href=\"/\">返回 Back</a></p>");
    page("删除队列 Purges · evidock", Some(who), &body)
}
