//! The archivist's pages: the custody-log search (`/log`), through the station API's
//! `log_query` as the signed-in account (R4, R11, R13). Renders; holds no station logic.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::render::{esc, may, page};
use super::{api_error_page, see_other, Shared};
use crate::accounts::sessions::Session;
use crate::api::log::{Event, Page};
use crate::api::{self, ErrorKind};
use crate::custody::query::Filter;

/// Events on one page of the search.
pub const PAGE: u64 = 50;

/// The search form's fields, as the browser sends them (empty: not filtered).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    case: String,
    #[serde(default)]
    device: String,
    #[serde(default)]
    officer: String,
    #[serde(default)]
    recording: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    after: Option<u64>,
}

/// Percent-encodes everything but the unreserved characters (RFC 3986), for a path segment or
/// a query value.
pub(super) fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) fn given(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

impl SearchForm {
    /// The filter the form asks for, a page of [`PAGE`] events.
    pub fn filter(&self) -> Filter {
        Filter {
            case: given(&self.case),
            device: given(&self.device),
            officer: given(&self.officer),
            recording: given(&self.recording),
            actor: given(&self.actor),
            actions: self.action.split([',', ' ', '，']).filter_map(given).collect(),
            from: given(&self.from),
            to: given(&self.to),
            limit: PAGE,
            after: self.after.unwrap_or(0),
            ..Filter::default()
        }
    }

    /// Whether any filter is set (an empty form shows the form only).
    fn any(&self) -> bool {
        [&self.case, &self.device, &self.officer, &self.recording, &self.actor, &self.action, &self.from, &self.to]
            .iter()
            .any(|s| !s.trim().is_empty())
    }

    /// The query string of this search at `after` (the next page's link).
    fn link(&self, after: u64) -> String {
        let enc = |s: &str| percent(s.trim());
        let mut q = String::from("/log?");
        for (k, v) in [
            ("case", &self.case),
            ("device", &self.device),
            ("officer", &self.officer),
            ("recording", &self.recording),
            ("actor", &self.actor),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !v.trim().is_empty() {
                let _ = write!(q, "{k}={}&", enc(v));
            }
        }
        let _ = write!(q, "after={after}");
        q
    }
}

/// `GET /log`: the search form, and the page of events it asks for.
pub(super) async fn search(
    State(w): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(form): Query<SearchForm>,
) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    let tz = w.config.timezone.name().to_string();
    if !form.any() {
        return Html(render(&s, &form, &tz, None, None)).into_response();
    }
    match w.call(&s, api::Request::LogQuery(form.filter())).await {
        Ok(api::Reply::LogQuery(found)) => Html(render(&s, &form, &tz, Some(&found), None)).into_response(),
        Ok(other) => super::unexpected(&other),
        // A filter the station cannot read: the form again, with why.
        Err(e) if e.kind == ErrorKind::Invalid => {
            (StatusCode::BAD_REQUEST, Html(render(&s, &form, &tz, None, Some(&e.message)))).into_response()
        }
        Err(e) => api_error_page(&e),
    }
}

/// A page that prints (the case history, a report, a form, a register), answered under a
/// policy (CSP level 2 and 3) that allows
/// its one inline style sheet and its elements' `style` attributes (a register's column
/// widths), each by its SHA-256, and nothing else: no script, no form, no frame.
pub(super) fn printable(html: String) -> Response {
    use base64::Engine as _;
    use sha2::Digest as _;
    let hash =
        |s: &str| format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(s)));
    let sheet = html.split_once("<style>").and_then(|(_, rest)| rest.split_once("</style>")).map_or("", |(s, _)| s);
    let mut attributes: Vec<String> =
        html.split(" style=\"").skip(1).filter_map(|rest| rest.split_once('"').map(|(v, _)| hash(v))).collect();
    attributes.sort();
    attributes.dedup();
    let extra =
        if attributes.is_empty() { String::new() } else { format!(" 'unsafe-hashes' {}", attributes.join(" ")) };
    let policy = format!(
        "default-src 'none'; style-src {}{extra}; frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
        hash(sheet)
    );
    let mut r = Html(html).into_response();
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'")),
    );
    r
}

/// `GET /case/{number}/history`: the case's chain of custody as the printable page of `case
/// history --format html`, through the station API's `case_history`.
pub(super) async fn case_history(
    State(w): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    let request = api::Request::CaseHistory(api::history::HistoryArgs { number });
    match w.call(&s, request).await {
        Ok(api::Reply::CaseHistory(h)) => printable(crate::report::history::html(&h)),
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// Station time to the second: `2026-03-02 10:15:07` from `2026-03-02T10:15:07.125+08:00`.
fn seconds(ts_local: &str) -> String {
    ts_local.get(..19).map_or_else(|| ts_local.to_string(), |t| t.replacen('T', " ", 1))
}

fn details(ev: &Event) -> String {
    match &ev.details {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.as_str().map_or_else(|| other.to_string(), str::to_string),
    }
}

fn field(name: &str, zh: &str, en: &str, value: &str, hint: &str) -> String {
    format!(
        "<label>{zh} <small>{en}</small><input name=\"{name}\" id=\"q-{name}\" value=\"{}\" placeholder=\"{}\"></label>",
        esc(value),
        esc(hint)
    )
}

/// The page: the form, a notice, the events and the paging links.
pub fn render(who: &Session, form: &SearchForm, tz: &str, found: Option<&Page>, notice: Option<&str>) -> String {
    let mut body = String::from("<h1>保管日志查询 <small>Custody log search</small></h1>");
    body.push_str("<form method=\"get\" action=\"/log\" class=\"search\">");
    body.push_str(&field("case", "案件编号", "Case", &form.case, "宜卫罚〔2026〕3号"));
    body.push_str(&field("device", "记录仪编号", "Device", &form.device, "J500001"));
    body.push_str(&field("officer", "警号", "Officer", &form.officer, "012345"));
    body.push_str(&field("recording", "录像", "Recording", &form.recording, "J500001/0001"));
    body.push_str(&field("actor", "操作人", "Actor", &form.actor, "account:zhang"));
    body.push_str(&field("action", "动作", "Action", &form.action, "footage_described"));
    body.push_str(&field("from", "起始时间", "From", &form.from, "2026-03-01"));
    body.push_str(&field("to", "截止时间", "To", &form.to, "2026-03-31"));
    body.push_str("<button type=\"submit\" id=\"search\">查询 Search</button></form>");
    if let Some(n) = notice {
        let _ = write!(body, "<p class=\"notice\" id=\"notice\">{}</p>", esc(n));
    }
    if let Some(p) = found {
        let _ = write!(
            body,
            "<table id=\"events\"><thead><tr><th>序号 Seq</th><th>时间 Time ({tz})</th><th>操作人 Actor</th>\
             <th>动作 Action</th><th>对象 Subject</th><th>详情 Details</th></tr></thead><tbody>",
            tz = esc(tz)
        );
        for ev in &p.events {
            let actor = match &ev.actor.officer {
                Some(o) => format!("{} ({}, 警号 {o})", ev.actor.user, ev.actor.role),
                None => format!("{} ({})", ev.actor.user, ev.actor.role),
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} <small>{}</small></td><td>{}</td><td>{}</td></tr>",
                ev.seq,
                esc(&seconds(&ev.ts_local)),
                esc(&actor),
                esc(ev.action_zh.as_deref().unwrap_or("")),
                esc(&ev.action),
                esc(&ev.subject),
                esc(&details(ev)),
            );
        }
        if p.events.is_empty() {
            body.push_str("<tr><td colspan=\"6\">没有符合条件的事件 / no event matches</td></tr>");
        }
        body.push_str("</tbody></table><p class=\"paging\">");
        if let Some(case) = given(&form.case) {
            let _ = write!(
                body,
                "<a href=\"/case/{}/history\" id=\"history\">证据保管链（可打印） <small>Chain of custody, printable</small></a> ",
                esc(&percent(&case))
            );
        }
        if form.after.unwrap_or(0) > 0 {
            let _ = write!(body, "<a href=\"{}\" id=\"first\">第一页 First page</a> ", esc(&form.link(0)));
        }
        if let Some(next) = p.next_after {
            let _ = write!(body, "<a href=\"{}\" id=\"next\">下一页 Next page</a>", esc(&form.link(next)));
        }
        body.push_str("</p>");
    }
    body.push_str("<p><a href=\"/\">返回 Back</a></p>");
    body.push_str(&integrity_forms(who));
    page("保管日志查询 Custody log search · evidock", Some(who), &body)
}

/// The forms to check the log and to sign a checkpoint, for the roles that may.
fn integrity_forms(who: &Session) -> String {
    let mut out = String::new();
    if may(who, api::Op::LogVerify) || may(who, api::Op::LogCheckpoint) {
        out.push_str("<h2>日志完整性 <small>Integrity of the log</small></h2>");
    }
    if may(who, api::Op::LogVerify) {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/log/verify\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\" id=\"verify-log\">校验保管日志 Verify the custody log</button></form>",
            esc(&who.csrf)
        );
    }
    if may(who, api::Op::LogCheckpoint) {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/log/checkpoint\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\" id=\"checkpoint-log\">签署检查点 Sign a checkpoint</button></form>",
            esc(&who.csrf)
        );
    }
    out
}

/// A change's form: its CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /log/verify`: the station's custody log checked (`log_verify`, a `log_verified` event
/// naming the account), the verdict shown as people read it.
pub(super) async fn verify(w: State<Arc<Shared>>, headers: HeaderMap, f: axum::extract::Form<TokenForm>) -> Response {
    integrity(w, headers, f, api::Request::LogVerify(api::verify::VerifyArgs::default())).await
}

/// `POST /log/checkpoint`: a signed checkpoint made now (`log_checkpoint`), or why the station
/// will not sign one.
pub(super) async fn checkpoint(
    w: State<Arc<Shared>>,
    headers: HeaderMap,
    f: axum::extract::Form<TokenForm>,
) -> Response {
    integrity(w, headers, f, api::Request::LogCheckpoint(api::NoArgs {})).await
}

/// Runs `log_verify` or `log_checkpoint` and shows its verdict: 200 when the log holds, 409
/// when something is found.
async fn integrity(
    State(w): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::extract::Form(f): axum::extract::Form<TokenForm>,
    request: api::Request,
) -> Response {
    let session = match w.changing(&headers, &f.csrf, request.op().name()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (title, ok, text, (zh, en)) = match w.call(&session, request).await {
        Ok(api::Reply::LogVerify(v)) => (
            "保管日志校验 <small>Custody log verification</small>",
            v.intact,
            v.text.clone(),
            if v.intact {
                ("保管日志完好", "The custody log is intact")
            } else {
                ("保管日志校验发现问题", "The custody log check found tampering")
            },
        ),
        Ok(api::Reply::LogCheckpoint(c)) => {
            let (text, made) = c.render(false);
            let said = if made {
                ("检查点已签署", "The checkpoint is signed")
            } else {
                ("拒绝签署：保管日志校验未通过", "Not signed: the custody log does not verify")
            };
            ("检查点 <small>Checkpoint</small>", made, text, said)
        }
        Ok(other) => return super::unexpected(&other),
        Err(e) => return api_error_page(&e),
    };
    let body = format!(
        "<h1>{title}</h1><p class=\"{class}\" id=\"verdict\">{zh} / {en}</p><pre id=\"verdict-text\">{}</pre>\
         <p><a href=\"/log\">保管日志 Custody log</a> · <a href=\"/\">返回 Back</a></p>",
        super::render::esc_lines(&text),
        class = if ok { "done" } else { "notice" },
    );
    let status = if ok { StatusCode::OK } else { StatusCode::CONFLICT };
    (status, Html(page("保管日志 Custody log · evidock", Some(&session), &body))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_a_filter_and_a_link() {
        let form = SearchForm {
            case: " 宜卫罚〔2026〕3号 ".into(),
            action: "footage_described, docked".into(),
            after: Some(40),
            ..SearchForm::default()
        };
        let f = form.filter();
        assert_eq!(f.case.as_deref(), Some("宜卫罚〔2026〕3号"));
        assert_eq!(f.actions, vec!["footage_described".to_string(), "docked".to_string()]);
        assert_eq!((f.limit, f.after, f.device.is_none()), (PAGE, 40, true));
        let link = form.link(90);
        assert!(link.starts_with("/log?case=%E5%AE%9C"), "{link}");
        assert!(link.ends_with("&after=90") && link.contains("action=footage_described%2C%20docked"), "{link}");
        assert!(!SearchForm::default().any());
        assert_eq!(seconds("2026-03-02T10:15:07.125+08:00"), "2026-03-02 10:15:07");
    }
}
