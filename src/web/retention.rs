//! The archivist's retention pages (R7): what reaches its deadline (`/retention`, through
//! `retention_due`), and one recording's retention (`/retention/show?recording=`, through
//! `retention_show`) with its legal holds placed and released, and its long-term flags'
//! withdrawal asked for and approved by another person (`retention_hold`,
//! `retention_release`, `retention_unflag`, `retention_unflag_approve`), each with the
//! session's CSRF token. Renders; holds no station logic.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::render::{esc, may, page};
use super::{api_error_page, see_other, see_other_to, Shared};
use crate::accounts::sessions::Session;
use crate::api::retention::{Due, RecordingRetention};
use crate::api::{self, ApiError, Op};

/// `GET /retention`'s query.
#[derive(Debug, Default, Deserialize)]
pub struct DueQuery {
    #[serde(default)]
    days: Option<u32>,
}

/// `GET /retention`: what reaches its deadline within `days` (default 30).
pub(super) async fn due(State(w): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query<DueQuery>) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    let days = q.days.unwrap_or(30).min(36_500);
    match w.call(&s, api::Request::RetentionDue(api::retention::DueArgs { within_days: days })).await {
        Ok(api::Reply::RetentionDue(list)) => Html(render_due(&s, days, &list)).into_response(),
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// `GET /retention/show`'s query.
#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    recording: String,
    #[serde(default)]
    done: String,
}

fn notice(done: &str) -> Option<&'static str> {
    match done {
        "held" => Some("已冻结保全 / the hold is placed"),
        "released" => Some("保全已解除 / the hold is released"),
        "unflag" => Some("撤销申请已提交，待他人批准，批准前标记仍有效 / the withdrawal awaits another person"),
        "unflagged" => Some("长期保存标记已撤销 / the flag is withdrawn"),
        _ => None,
    }
}

/// `GET /retention/show?recording=`: one recording's retention.
pub(super) async fn show(State(w): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query<ShowQuery>) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    let request = api::Request::RetentionShow(api::retention::ShowArgs { recording: q.recording.clone() });
    let r = match w.call(&s, request).await {
        Ok(api::Reply::RetentionShow(r)) => r,
        Ok(other) => return super::unexpected(&other),
        Err(e) => return api_error_page(&e),
    };
    let marks = match w.call(&s, super::marks::marks_of(super::marks::Subject::Recording(&r.id))).await {
        Ok(api::Reply::AccessMarks(m)) => m,
        Ok(other) => return super::unexpected(&other),
        Err(e) => return api_error_page(&e),
    };
    let said = notice(&q.done).or_else(|| super::marks::notice(&q.done));
    Html(render_show(&s, &r, &marks, said)).into_response()
}

/// A retention change, as the browser sends it.
#[derive(Debug, Default, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    recording: String,
    /// `hold`, `release`, `unflag` or `unflag_approve`.
    #[serde(default)]
    action: String,
    /// A hold's row or a flag's number.
    #[serde(default)]
    id: i64,
    /// A new hold's identifier.
    #[serde(default)]
    hold: String,
    #[serde(default)]
    reason: String,
}

/// `POST /retention/change`.
pub(super) async fn change(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<ChangeForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "retention").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    use api::retention as r;
    let (request, done) = match f.action.as_str() {
        "hold" => (
            api::Request::RetentionHold(r::HoldArgs {
                recording: f.recording.trim().to_string(),
                hold: f.hold.trim().to_string(),
                reason: f.reason.clone(),
            }),
            "held",
        ),
        "release" => (api::Request::RetentionRelease(r::WithReason { id: f.id, reason: f.reason.clone() }), "released"),
        "unflag" => (api::Request::RetentionUnflag(r::WithReason { id: f.id, reason: f.reason.clone() }), "unflag"),
        "unflag_approve" => (api::Request::RetentionUnflagApprove(r::UnflagApprove { id: f.id }), "unflagged"),
        other => return api_error_page(&ApiError::invalid(format!("action {other:?} / 操作不正确"))),
    };
    match w.call(&session, request).await {
        Ok(_) => see_other_to(&format!(
            "/retention/show?recording={}&done={done}",
            super::archive::percent(f.recording.trim())
        )),
        Err(e) => api_error_page(&e),
    }
}

/// The due list.
pub fn render_due(who: &Session, days: u32, list: &[Due]) -> String {
    let mut body = format!(
        "<h1>保存期限 <small>Retention</small></h1>\
         <form method=\"get\" action=\"/retention\" class=\"search\"><label>天数 <small>Within days</small>\
         <input name=\"days\" id=\"q-days\" type=\"number\" min=\"0\" value=\"{days}\"></label>\
         <button type=\"submit\" id=\"show-due\">查看 Show</button></form>\
         <table id=\"due\"><thead><tr><th>录像 Recording</th><th>执法人员 Officer</th><th>保存期限 Deadline</th>\
         <th>类别 Class</th><th>状态 State</th></tr></thead><tbody>"
    );
    for d in list {
        let _ = write!(
            body,
            "<tr><td><a href=\"/retention/show?recording={q}\">{id}</a></td><td>{officer}</td><td>{deadline}</td>\
             <td>{class}</td><td>{state}</td></tr>",
            q = esc(&super::archive::percent(&d.recording)),
            id = esc(&d.recording),
            officer = esc(d.officer.as_deref().unwrap_or("—")),
            deadline = esc(&d.deadline_local),
            class = esc(&d.class_zh),
            state = [d.held.then_some("保全中 held"), d.overdue.then_some("已到期 overdue")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("，"),
        );
    }
    if list.is_empty() {
        let _ =
            write!(body, "<tr><td colspan=\"5\">{days} 天内没有到期的录像 / nothing due within {days} days</td></tr>");
    }
    body.push_str(
        "</tbody></table><p><a href=\"/purges\" id=\"to-purges\">删除队列 Purges</a> · <a href=\"/\">返回 Back</a></p>",
    );
    page("保存期限 Retention · evidock", Some(who), &body)
}

/// One recording's retention, with the forms the account may use.
pub fn render_show(
    who: &Session,
    r: &RecordingRetention,
    marks: &[api::marks::MarkRow],
    notice: Option<&str>,
) -> String {
    let csrf = esc(&who.csrf);
    let rec = esc(&r.id);
    let hidden = |action: &str| {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"recording\" value=\"{rec}\">\
             <input type=\"hidden\" name=\"action\" value=\"{action}\">"
        )
    };
    let mut body = format!("<h1>录像保存 <small>Retention of</small> {rec}</h1>");
    if let Some(n) = notice {
        let _ = write!(body, "<p class=\"done\" id=\"done\">{}</p>", esc(n));
    }
    let _ = write!(
        body,
        "<dl class=\"file\"><dt>记录仪 <small>Recorder</small></dt><dd>{dev}</dd><dt>执法人员 <small>Officer</small></dt><dd>{off}</dd>\
         <dt>时间 <small>Recorded</small></dt><dd>{start} – {end}</dd>\
         <dt>类别 <small>Class</small></dt><dd id=\"class\">{class_zh} <small>{class}</small></dd>\
         <dt>保存期限 <small>Kept until</small></dt><dd id=\"deadline\">{deadline}</dd>\
         <dt>案件 <small>Cases</small></dt><dd>{cases}</dd></dl>",
        dev = esc(&r.device),
        off = esc(r.officer.as_deref().unwrap_or("—")),
        start = esc(&r.start),
        end = esc(&r.end),
        class_zh = esc(&r.class_zh),
        class = esc(&r.class),
        deadline = esc(&r.deadline),
        cases = esc(&if r.cases.is_empty() { "—".to_string() } else { r.cases.join("，") }),
    );
    body.push_str("<h2>长期保存标记 <small>Long-term flags</small></h2><ul id=\"flags\">");
    for f in &r.flags {
        let _ = write!(
            body,
            "<li id=\"flag-{id}\">#{id} {zh}：{reason} <small>{by} {at}{state}</small>",
            id = f.id,
            zh = esc(&f.trigger_zh),
            reason = esc(&f.reason),
            by = esc(&f.set_by),
            at = esc(&f.set_at),
            state = if f.active { "" } else { " · 已撤销 withdrawn" },
        );
        if f.active && may(who, Op::RetentionUnflag) {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"/retention/change\" class=\"change\">{h}<input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <label>撤销理由 <small>Why withdraw</small><input name=\"reason\" id=\"unflag-reason-{id}\" required></label>\
                 <button type=\"submit\" id=\"unflag-{id}\">申请撤销 Ask to withdraw</button></form>",
                h = hidden("unflag"),
                id = f.id,
            );
        }
        if f.active && may(who, Op::RetentionUnflagApprove) {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"/retention/change\" class=\"change\">{h}<input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <button type=\"submit\" id=\"unflag-approve-{id}\">批准撤销 Approve the withdrawal</button></form>",
                h = hidden("unflag_approve"),
                id = f.id,
            );
        }
        body.push_str("</li>");
    }
    if r.flags.is_empty() {
        body.push_str("<li>无 <small>none</small></li>");
    }
    body.push_str("</ul><h2>保全 <small>Legal holds</small></h2><ul id=\"holds\">");
    for h in &r.holds {
        let _ = write!(
            body,
            "<li id=\"hold-{row}\">#{row} {id}：{reason} <small>{by} {at}{state}</small>",
            row = h.row,
            id = esc(&h.id),
            reason = esc(&h.reason),
            by = esc(&h.set_by),
            at = esc(&h.set_at),
            state = if h.active { "" } else { " · 已解除 released" },
        );
        if h.active && may(who, Op::RetentionRelease) {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"/retention/change\" class=\"change\">{hd}<input type=\"hidden\" name=\"id\" value=\"{row}\">\
                 <label>解除理由 <small>Why release</small><input name=\"reason\" id=\"release-reason-{row}\" required></label>\
                 <button type=\"submit\" id=\"release-{row}\">解除保全 Release</button></form>",
                hd = hidden("release"),
                row = h.row,
            );
        }
        body.push_str("</li>");
    }
    if r.holds.is_empty() {
        body.push_str("<li>无 <small>none</small></li>");
    }
    body.push_str("</ul>");
    if may(who, Op::RetentionHold) {
        let _ = write!(
            body,
            "<h2>冻结保全 <small>Place a legal hold</small></h2>\
             <form method=\"post\" action=\"/retention/change\" class=\"change\">{h}\
             <label>保全文号 <small>Reference</small><input name=\"hold\" id=\"hold-id\" required placeholder=\"（2026）鄂0105行初12号\"></label>\
             <label>理由 <small>Reason</small><input name=\"reason\" id=\"hold-reason\" required></label>\
             <button type=\"submit\" id=\"place-hold\">冻结 Place hold</button></form>",
            h = hidden("hold"),
        );
    }
    body.push_str(&super::marks::section(who, super::marks::Subject::Recording(&r.id), marks));
    body.push_str(&super::purges::request_form(who, &r.id));
    body.push_str("<h2>文件 <small>Files</small></h2><ul>");
    for f in &r.files {
        let _ =
            write!(body, "<li>{} <small>{} 字节 bytes · BLAKE3 {}</small></li>", esc(&f.path), f.size, esc(&f.blake3));
    }
    body.push_str(
        "</ul><p><a href=\"/retention\">保存期限 Retention</a> · <a href=\"/purges\">删除队列 Purges</a> · \
         <a href=\"/\">返回 Back</a></p>",
    );
    page("录像保存 Retention · evidock", Some(who), &body)
}
