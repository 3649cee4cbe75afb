//! Confidentiality marks and informants on the web page (R10): a case's page, and a
//! recording's retention page, show the marks in force (`access_marks`) and, for an archivist
//! or admin, the forms to mark (`access_mark`), remove a mark (`access_unmark`) with the
//! reason, and record a case's informant (`access_informant`, whose name the page never shows
//! again). Each change carries the session's CSRF token and answers 303 back to the page it came
//! from. Renders; holds no station logic.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::archive::{given as opt, percent};
use super::render::{esc, may};
use super::{api_error_page, see_other_to, Shared};
use crate::access::Mark;
use crate::accounts::sessions::Session;
use crate::api::marks::{InformantArgs, MarkArgs, MarkRow, UnmarkArgs};
use crate::api::{self, ApiError, Op};

/// What a section is about: a case or a recording.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A case number.
    Case(&'a str),
    /// A recording.
    Recording(&'a str),
}

impl Subject<'_> {
    /// The page the section is on.
    fn page(self) -> String {
        match self {
            Subject::Case(n) => format!("/case/{}", percent(n)),
            Subject::Recording(r) => format!("/retention/show?recording={}", percent(r)),
        }
    }

    fn hidden(self) -> String {
        match self {
            Subject::Case(n) => format!("<input type=\"hidden\" name=\"case\" value=\"{}\">", esc(n)),
            Subject::Recording(r) => format!("<input type=\"hidden\" name=\"recording\" value=\"{}\">", esc(r)),
        }
    }
}

/// The marks' request for a subject.
pub fn marks_of(subject: Subject<'_>) -> api::Request {
    let (case, recording) = match subject {
        Subject::Case(n) => (Some(n.to_string()), None),
        Subject::Recording(r) => (None, Some(r.to_string())),
    };
    api::Request::AccessMarks(api::marks::MarksOf { case, recording })
}

/// The section: the marks in force, and the forms the account may use.
pub fn section(who: &Session, subject: Subject<'_>, marks: &[MarkRow]) -> String {
    let csrf = esc(&who.csrf);
    let h = subject.hidden();
    let mut body = String::from("<h2>密级标记 <small>Confidentiality marks</small></h2><ul id=\"marks\">");
    for m in marks {
        let _ = write!(
            body,
            "<li id=\"mark-{id}\">#{id} {zh} <small>{en}</small>",
            id = m.id,
            zh = esc(&m.level_zh),
            en = esc(&m.level)
        );
        if may(who, Op::AccessUnmark) {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"/marks/change\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">{h}\
                 <input type=\"hidden\" name=\"action\" value=\"unmark\"><input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <label>解除理由 <small>Why remove</small><input name=\"reason\" id=\"unmark-reason-{id}\" required></label>\
                 <button type=\"submit\" id=\"unmark-{id}\">解除 Remove</button></form>",
                id = m.id,
            );
        }
        body.push_str("</li>");
    }
    if marks.is_empty() {
        body.push_str("<li>无 <small>none</small></li>");
    }
    body.push_str("</ul>");
    if may(who, Op::AccessMark) {
        let mut levels = String::new();
        for m in Mark::ALL {
            let _ = write!(levels, "<option value=\"{}\">{}</option>", m.as_str(), m.label_zh());
        }
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/marks/change\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">{h}\
             <input type=\"hidden\" name=\"action\" value=\"mark\">\
             <label>密级 <small>Level</small><select name=\"level\" id=\"mark-level\">{levels}</select></label>\
             <label>理由 <small>Reason</small><input name=\"reason\" id=\"mark-reason\" required></label>\
             <button type=\"submit\" id=\"mark\">标记 Mark</button></form>"
        );
    }
    if let (Subject::Case(_), true) = (subject, may(who, Op::AccessInformant)) {
        let _ = write!(
            body,
            "<h2>举报人 <small>Informant</small></h2>\
             <p>举报人姓名仅存于本站目录，不写入保管日志、报告或导出。<small>The name stays in the station's catalogue: \
             no custody event, report or export carries it.</small></p>\
             <form method=\"post\" action=\"/marks/change\" class=\"change\" autocomplete=\"off\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">{h}\
             <input type=\"hidden\" name=\"action\" value=\"informant\">\
             <label>姓名 <small>Name</small><input name=\"name\" id=\"informant-name\" required></label>\
             <button type=\"submit\" id=\"record-informant\">登记 Record</button></form>"
        );
    }
    body
}

/// A change, as the browser sends it.
#[derive(Debug, Default, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    /// `mark`, `unmark` or `informant`.
    #[serde(default)]
    action: String,
    #[serde(default)]
    case: String,
    #[serde(default)]
    recording: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    id: i64,
    #[serde(default)]
    name: String,
}

/// `POST /marks/change`.
pub(super) async fn change(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<ChangeForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "access_mark").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (case, recording) = (opt(&f.case), opt(&f.recording));
    let back = match (&case, &recording) {
        (Some(c), None) => Subject::Case(c).page(),
        (None, Some(r)) => Subject::Recording(r).page(),
        _ => return api_error_page(&ApiError::invalid("name a case or a recording / 请指定案件或录像")),
    };
    let (request, done) = match f.action.as_str() {
        "mark" => (
            api::Request::AccessMark(MarkArgs { case: case.clone(), recording, level: f.level, reason: f.reason }),
            "marked",
        ),
        "unmark" => (api::Request::AccessUnmark(UnmarkArgs { id: f.id, reason: f.reason }), "unmarked"),
        "informant" => match case {
            Some(c) => (api::Request::AccessInformant(InformantArgs { case: c, name: f.name }), "informant"),
            None => {
                return api_error_page(&ApiError::invalid("an informant is recorded on a case / 举报人须登记在案件上"))
            }
        },
        other => return api_error_page(&ApiError::invalid(format!("action {other:?} / 操作不正确"))),
    };
    match w.call(&session, request).await {
        Ok(_) => {
            let sep = if back.contains('?') { '&' } else { '?' };
            see_other_to(&format!("{back}{sep}done={done}"))
        }
        Err(e) => api_error_page(&e),
    }
}

/// The notice after a change of this section.
pub fn notice(done: &str) -> Option<&'static str> {
    match done {
        "marked" => Some("已标记密级 / the mark is set"),
        "unmarked" => Some("密级标记已解除 / the mark is removed"),
        "informant" => Some("举报人信息已登记，不对外提供 / the informant is recorded; it never leaves the station"),
        _ => None,
    }
}
