//! The recorders handed out for a shift (`/duty`; R1, R3, R14; S2 §22): the bindings in force
//! (`duty_list`), handing one out after its health check (`duty_out`), an officer's return
//! (`duty_return`), extensions of the handover deadline asked for and approved by another
//! person (`duty_extensions`, `duty_extend`, `duty_approve`), and the duty report for a period
//! (`duty_report`), a page that prints. Each change carries the session's CSRF token and
//! answers 303 back to the page, which says what was done. Renders; holds no station logic
//! (who may, what a hand-out checks and what the report finds are the API's).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::archive::given as opt;
use super::render::{esc, may, page};
use super::{api_error_page, see_other, see_other_to, Shared};
use crate::accounts::sessions::Session;
use crate::api::duty::{self, Binding, ExtensionListed, OutReply, Outcome, Report};
use crate::api::{self, NoArgs, Op};

/// `GET /duty`'s query: the notice of a change just made.
#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    #[serde(default)]
    done: String,
    #[serde(default)]
    binding: String,
    #[serde(default)]
    id: String,
}

fn notice(q: &Notice) -> Option<String> {
    Some(match q.done.as_str() {
        "out" => format!("已发放，绑定 #{} / handed out", q.binding),
        "returned" => "已登记归队 / the return is recorded".to_string(),
        "extend" => format!(
            "延期移交申请 #{} 已提交，待他人批准 / extension #{} asked for; someone else approves it",
            q.id, q.id
        ),
        "approved" => format!("延期移交 #{} 已批准 / extension #{} approved", q.id, q.id),
        _ => return None,
    })
}

/// `GET /duty`: the recorders out on duty, and the forms to hand one out and record a return.
pub(super) async fn duty(State(w): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query<Notice>) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    let (list, extensions) = match lists(&w, &s).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let text = notice(&q);
    Html(render_duty(&s, &list, &extensions, text.as_deref(), None)).into_response()
}

/// The bindings in force and every extension.
async fn lists(w: &Shared, s: &Session) -> Result<(Vec<Binding>, Vec<ExtensionListed>), Response> {
    let list = match w.call(s, api::Request::DutyList(duty::ListArgs {})).await {
        Ok(api::Reply::DutyList(l)) => l,
        Ok(other) => return Err(super::unexpected(&other)),
        Err(e) => return Err(api_error_page(&e)),
    };
    let extensions = match w.call(s, api::Request::DutyExtensions(NoArgs {})).await {
        Ok(api::Reply::DutyExtensions(l)) => l,
        Ok(other) => return Err(super::unexpected(&other)),
        Err(e) => return Err(api_error_page(&e)),
    };
    Ok((list, extensions))
}

/// The hand-out form.
#[derive(Debug, Default, Deserialize)]
pub struct OutForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    serial: String,
    #[serde(default)]
    officer: String,
    #[serde(default)]
    officer_name: String,
    #[serde(default)]
    shift: String,
}

/// `POST /duty/out`: the health check, and the recorder handed out or not (a refusal by the
/// check is a finding shown on the page, not an error).
pub(super) async fn out(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<OutForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "duty_out").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let request = api::Request::DutyOut(duty::Out {
        serial: f.serial.trim().to_string(),
        officer: f.officer.trim().to_string(),
        officer_name: opt(&f.officer_name),
        shift: opt(&f.shift),
    });
    match w.call(&session, request).await {
        Ok(api::Reply::DutyOut(o)) => match &o.outcome {
            Outcome::HandedOut { binding, .. } => see_other_to(&format!("/duty?done=out&binding={binding}")),
            Outcome::NotHandedOut { .. } => {
                // Not handed out: the check's findings, with the list as it stands.
                let (list, extensions) = lists(&w, &session).await.unwrap_or_default();
                (StatusCode::CONFLICT, Html(render_duty(&session, &list, &extensions, None, Some(&o)))).into_response()
            }
        },
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// The return form.
#[derive(Debug, Default, Deserialize)]
pub struct ReturnForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    officer: String,
    #[serde(default)]
    note: String,
}

/// `POST /duty/return`: an officer's return to the unit, now.
pub(super) async fn returned(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<ReturnForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "duty_return").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let request =
        api::Request::DutyReturn(duty::Return { officer: f.officer.trim().to_string(), at: None, note: opt(&f.note) });
    match w.call(&session, request).await {
        Ok(_) => see_other("/duty?done=returned"),
        Err(e) => api_error_page(&e),
    }
}

/// The duty page: the notice, a refused hand-out's findings, the bindings, the forms.
pub fn render_duty(
    who: &Session,
    list: &[Binding],
    extensions: &[ExtensionListed],
    notice: Option<&str>,
    refused: Option<&OutReply>,
) -> String {
    let mut body = String::from("<h1>领用与归队 <small>Recorders on duty</small></h1>");
    if let Some(n) = notice {
        let _ = write!(body, "<p class=\"done\" id=\"done\">{}</p>", esc(n));
    }
    if let Some(o) = refused {
        if let Outcome::NotHandedOut { text, text_zh, .. } = &o.outcome {
            let _ = write!(
                body,
                "<p class=\"notice\" id=\"notice\">未发放 {serial}：{zh} <small>Not handed out: {en}</small></p><ul class=\"health\">",
                serial = esc(&o.serial),
                zh = esc(text_zh),
                en = esc(text),
            );
            for h in &o.health {
                let _ = write!(body, "<li>{} <small>{}</small></li>", esc(&h.text_zh), esc(&h.text));
            }
            body.push_str("</ul>");
        }
    }
    body.push_str(
        "<table id=\"bindings\"><thead><tr><th>绑定 No.</th><th>记录仪 Recorder</th><th>执法人员 Officer</th>\
         <th>班次 Shift</th><th>领用 Out</th><th>应交回 Due</th></tr></thead><tbody>",
    );
    for b in list {
        let _ = write!(
            body,
            "<tr id=\"binding-{id}\"><td>{id}</td><td>{serial}</td><td>{name} ({officer})</td><td>{shift}</td><td>{out}</td><td>{due}{warned}</td></tr>",
            id = b.binding,
            serial = esc(&b.serial),
            name = esc(b.officer_name.as_deref().unwrap_or("—")),
            officer = esc(&b.officer_id),
            shift = esc(b.shift.as_deref().unwrap_or("—")),
            out = esc(&b.out_at),
            due = esc(&b.due_named),
            warned = if b.warned { " · 低于阈值发放 handed out below the thresholds" } else { "" },
        );
    }
    if list.is_empty() {
        body.push_str("<tr><td colspan=\"6\">没有在外的记录仪 / no recorder out</td></tr>");
    }
    body.push_str("</tbody></table>");
    body.push_str(&render_extensions(who, list, extensions));
    if may(who, Op::DutyReport) {
        body.push_str(&report_form(who));
    }
    if may(who, Op::DutyOut) {
        let csrf = esc(&who.csrf);
        let _ = write!(
            body,
            "<h2>发放 <small>Hand out (after its health check)</small></h2>\
             <form method=\"post\" action=\"/duty/out\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>记录仪编号 <small>Serial</small><input name=\"serial\" id=\"out-serial\" required></label>\
             <label>警号 <small>Officer number</small><input name=\"officer\" id=\"out-officer\" required></label>\
             <label>姓名 <small>Name</small><input name=\"officer_name\" id=\"out-name\"></label>\
             <label>班次 <small>Shift</small><input name=\"shift\" id=\"out-shift\"></label>\
             <button type=\"submit\" id=\"hand-out\">发放 Hand out</button></form>\
             <h2>归队 <small>Return to the unit</small></h2>\
             <form method=\"post\" action=\"/duty/return\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>警号 <small>Officer number</small><input name=\"officer\" id=\"return-officer\" required></label>\
             <label>备注 <small>Note</small><input name=\"note\" id=\"return-note\"></label>\
             <button type=\"submit\" id=\"record-return\">登记归队 Record the return</button></form>"
        );
    }
    body.push_str("<p><a href=\"/\">返回 Back</a></p>");
    page("领用与归队 Duty · evidock", Some(who), &body)
}

/// The extensions of handover deadlines: those awaiting approval (with the approver's button),
/// those approved, and the form asking for one for a binding in force.
fn render_extensions(who: &Session, list: &[Binding], extensions: &[ExtensionListed]) -> String {
    let csrf = esc(&who.csrf);
    let mut body = String::from(
        "<h2>延期移交 <small>Extensions of the handover deadline</small></h2>\
         <table id=\"extensions\"><thead><tr><th>编号 No.</th><th>绑定 Binding</th><th>执法人员 Officer</th>\
         <th>延至 Until</th><th>理由 Reason</th><th>申请 Asked</th><th>批准 Approved</th></tr></thead><tbody>",
    );
    for e in extensions {
        let approved = match &e.approved_by {
            Some(by) => esc(by),
            None if may(who, Op::DutyApprove) => format!(
                "<form method=\"post\" action=\"/duty/approve\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <button type=\"submit\" id=\"approve-extension-{id}\">批准 Approve</button></form>",
                id = e.id,
            ),
            None => "待批准 <small>awaiting approval</small>".to_string(),
        };
        let _ = write!(
            body,
            "<tr id=\"extension-{id}\"><td>#{id}</td><td>#{binding} {serial}</td><td>{name} ({officer})</td><td>{until}</td>\
             <td>{reason}</td><td>{by}</td><td>{approved}</td></tr>",
            id = e.id,
            binding = e.binding,
            serial = esc(&e.serial),
            name = esc(e.officer_name.as_deref().unwrap_or("—")),
            officer = esc(&e.officer_id),
            until = esc(&e.until),
            reason = esc(&e.reason),
            by = esc(&e.requested_by),
        );
    }
    if extensions.is_empty() {
        body.push_str("<tr><td colspan=\"7\">没有延期申请 / no extension asked for</td></tr>");
    }
    body.push_str("</tbody></table>");
    if may(who, Op::DutyExtend) && !list.is_empty() {
        let mut options = String::new();
        for b in list {
            let _ = write!(
                options,
                "<option value=\"{id}\">#{id} {serial} · {name} ({officer})</option>",
                id = b.binding,
                serial = esc(&b.serial),
                name = esc(b.officer_name.as_deref().unwrap_or("—")),
                officer = esc(&b.officer_id),
            );
        }
        let _ = write!(
            body,
            "<details><summary>申请延期移交 <small>Ask to extend a handover deadline</small></summary>\
             <form method=\"post\" action=\"/duty/extend\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>绑定 <small>Binding</small><select name=\"binding\" id=\"extend-binding\">{options}</select></label>\
             <label>延至 <small>Until (station time)</small><input name=\"until\" id=\"extend-until\" type=\"datetime-local\" step=\"1\" required></label>\
             <label>理由 <small>Why</small><input name=\"reason\" id=\"extend-reason\" required></label>\
             <button type=\"submit\" id=\"extend\">提交申请 Ask</button></form></details>"
        );
    }
    body
}

/// The form making the duty report for a period.
fn report_form(who: &Session) -> String {
    format!(
        "<h2>领用报告 <small>Duty report</small></h2>\
         <form method=\"post\" action=\"/duty/report\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>起 <small>From</small><input name=\"from\" id=\"report-from\" type=\"date\" required></label>\
         <label>止 <small>To, included</small><input name=\"to\" id=\"report-to\" type=\"date\" required></label>\
         <button type=\"submit\" id=\"make-report\">生成报告 Make the report</button></form>",
        csrf = esc(&who.csrf),
    )
}

/// The extension form.
#[derive(Debug, Default, Deserialize)]
pub struct ExtendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    binding: i64,
    #[serde(default)]
    until: String,
    #[serde(default)]
    reason: String,
}

/// `POST /duty/extend`: an extension of a binding's handover deadline asked for; another
/// person approves it.
pub(super) async fn extend(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<ExtendForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "duty_extend").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let request = api::Request::DutyExtend(duty::Extend {
        binding: f.binding,
        until: f.until.trim().to_string(),
        reason: f.reason.trim().to_string(),
    });
    match w.call(&session, request).await {
        Ok(api::Reply::DutyExtend(e)) => see_other_to(&format!("/duty?done=extend&id={}", e.id)),
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// The approval form.
#[derive(Debug, Default, Deserialize)]
pub struct ApproveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: i64,
}

/// `POST /duty/approve`: an extension approved (by an approver the configuration allows, never
/// its requester: the station API's rule).
pub(super) async fn approve(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<ApproveForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "duty_approve").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match w.call(&session, api::Request::DutyApprove(duty::Approve { id: f.id })).await {
        Ok(api::Reply::DutyApprove(e)) => see_other_to(&format!("/duty?done=approved&id={}", e.id)),
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// `POST /duty/report`: the duty report for the period, as a page that prints (making it is a
/// custody event, `report_made`, so it is asked for with the session's token).
pub(super) async fn report(
    State(w): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(f): Form<super::reports::ReportForm>,
) -> Response {
    let session = match w.changing(&headers, &f.csrf, "duty_report").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let request = api::Request::DutyReport(duty::ReportArgs {
        from: f.from.trim().to_string(),
        to: f.to.trim().to_string(),
        at: None,
    });
    match w.call(&session, request).await {
        Ok(api::Reply::DutyReport(r)) => Html(render_report(&session, &r)).into_response(),
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// The duty report's page.
pub fn render_report(who: &Session, r: &Report) -> String {
    let mut body = format!(
        "<h1>领用报告 <small>Duty report</small></h1><p id=\"period\">{from} 至 {to} <small>{from} to {to}</small> · \
         工作日结束 end of the working day {end}</p><p id=\"findings\" class=\"{class}\">{n} 项问题 <small>findings</small></p>",
        from = esc(&r.from),
        to = esc(&r.to),
        end = esc(&r.day_end),
        class = if r.findings > 0 { "notice" } else { "done" },
        n = r.findings,
    );
    body.push_str(
        "<table id=\"duty-report\"><thead><tr><th>类别 Kind</th><th>绑定 Binding</th><th>记录仪 Recorder</th>\
         <th>执法人员 Officer</th><th>录像 Recording</th><th>说明 Finding</th></tr></thead><tbody>",
    );
    for l in &r.lines {
        let _ = write!(
            body,
            "<tr class=\"{class}\"><td>{kind}</td><td>#{binding}</td><td>{serial}</td><td>{officer}</td><td>{rec}</td>\
             <td>{zh}<br><small>{en}</small></td></tr>",
            class = if l.kind == "recording" { "line" } else { "finding" },
            kind = esc(&l.kind),
            binding = l.binding,
            serial = esc(&l.serial),
            officer = esc(&l.officer_id),
            rec = esc(l.recording.as_deref().unwrap_or("—")),
            zh = esc(&l.text_zh),
            en = esc(&l.text),
        );
    }
    if r.lines.is_empty() {
        body.push_str("<tr><td colspan=\"6\">此期间无领用 / no duty in the period</td></tr>");
    }
    body.push_str("</tbody></table><p class=\"noprint\"><a href=\"/duty\">返回 Back</a></p>");
    page("领用报告 Duty report · evidock", Some(who), &body)
}
