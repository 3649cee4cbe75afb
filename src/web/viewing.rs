//! Approved viewing in the browser (R9; S2 §24, S3 §28: 调阅 under an approval, every view
//! registered): the account's access requests (`/access`, through `access_list`), asking to
//! view a recording (`POST /access/request`, through `access_request`, with CSRF), and a file
//! of a live view approval watched in the page (`/view/{id}?file=`), streamed with HTTP range
//! requests so the browser can seek.
//!
//! Opening is the station API's (`api::access::open_view`): the request, its marks and its
//! approver held again, the file's bytes held against the custody log, `footage_viewed`
//! recorded before a byte is served. What the page keeps is the open file, under a random
//! token bound to the account that opened it, for as long as its session lasts: the ranges the
//! browser asks for are read from that one descriptor.
//! Must never: serve a byte without the view recorded, or to another account.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::os::unix::fs::FileExt as _;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::render::{esc, may, page};
use super::{api_error_page, caller, see_other, Shared};
use crate::accounts::sessions::{self, Session};
use crate::api::access::{Handed, Opened, View};
use crate::api::{self, ApiError};
use crate::custody::event::Role;

/// Files open for viewing at once, over every account (each holds a descriptor).
pub const MAX_OPEN: usize = 32;

/// Bytes read per chunk of a response.
const CHUNK: usize = 256 * 1024;

/// One file opened for viewing.
struct Viewing {
    /// The account that opened it.
    account: String,
    /// Until when (the session's end), Unix seconds.
    until: i64,
    opened: Opened,
    file: Arc<std::fs::File>,
}

/// The files open for viewing, by token.
#[derive(Default)]
pub struct Viewings(Mutex<HashMap<String, Viewing>>);

impl Viewings {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Viewing>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps `file` for `account` until `until`; its token. Ended viewings are dropped first;
    /// at [`MAX_OPEN`] the oldest-ending one goes.
    fn keep(&self, account: &str, until: i64, opened: Opened, file: std::fs::File) -> Result<String, ApiError> {
        let token = sessions::token().map_err(|e| ApiError::failed(format!("no randomness: {e}")))?;
        let now = chrono::Utc::now().timestamp();
        let mut map = self.lock();
        map.retain(|_, v| v.until > now);
        if map.len() >= MAX_OPEN {
            if let Some(k) = map.iter().min_by_key(|(_, v)| v.until).map(|(k, _)| k.clone()) {
                map.remove(&k);
            }
        }
        map.insert(token.clone(), Viewing { account: account.to_string(), until, opened, file: Arc::new(file) });
        Ok(token)
    }

    /// The viewing `token` names, if it is `account`'s and has not ended.
    fn get(&self, token: &str, account: &str) -> Option<(Opened, Arc<std::fs::File>)> {
        let now = chrono::Utc::now().timestamp();
        let map = self.lock();
        let v = map.get(token).filter(|v| v.account == account && v.until > now)?;
        Some((v.opened.clone(), v.file.clone()))
    }
}

/// A byte range asked for, inclusive at both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First byte.
    pub start: u64,
    /// Last byte.
    pub end: u64,
}

/// What a `Range` header asks of a file of `size` bytes (RFC 9110 §14): `Ok(None)` for the
/// whole file (no header, another unit, or several ranges, which this server answers whole),
/// `Ok(Some(range))` for one satisfiable range, `Err(())` for one it cannot satisfy (416).
#[allow(clippy::result_unit_err)]
pub fn parse_range(header: Option<&str>, size: u64) -> Result<Option<Range>, ()> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.trim().split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| if s.bytes().all(|c| c.is_ascii_digit()) { s.parse::<u64>().map_err(|_| ()) } else { Err(()) };
    let range = match (a.is_empty(), b.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => {
            let n = num(b)?;
            if n == 0 || size == 0 {
                return Err(());
            }
            Range { start: size.saturating_sub(n), end: size - 1 }
        }
        // bytes=N-: from N to the end.
        (false, true) => Range { start: num(a)?, end: size.saturating_sub(1) },
        (false, false) => {
            let (start, end) = (num(a)?, num(b)?);
            if end < start {
                return Err(());
            }
            Range { start, end: end.min(size.saturating_sub(1)) }
        }
        (true, true) => return Err(()),
    };
    if size == 0 || range.start >= size {
        return Err(());
    }
    Ok(Some(range))
}

/// The media type of an archived file, by its extension.
pub fn media_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "avi" => "video/x-msvideo",
        "mkv" => "video/x-matroska",
        "ts" => "video/mp2t",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "aac" => "audio/aac",
        _ => "application/octet-stream",
    }
}

/// `GET /access`'s query: the notice of a change just made.
#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    #[serde(default)]
    done: String,
}

/// `GET /access`: the requests the account sees, with the files a live view approval lets it
/// watch.
pub(super) async fn requests(State(w): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query<Notice>) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    match w.call(&s, api::Request::AccessList(api::access::ListArgs {})).await {
        Ok(api::Reply::AccessList(list)) => {
            let notice = match q.done.as_str() {
                "requested" => Some("调阅申请已提交，待他人审批 / the request awaits an approver"),
                "approved" => Some("已批准 / approved"),
                "denied" => Some("未批准 / denied"),
                "exported" => Some(
                    "已导出到移动存储（文件夹 evidock-export-编号），附哈希清单与保管日志摘录 / exported onto the drive \
                     (folder evidock-export-N), with its manifests and custody extract",
                ),
                _ => None,
            };
            // The drives mounted now, when the page exports onto them.
            let drives = match w.config.web.export_root.clone() {
                Some(root) => {
                    Some(tokio::task::spawn_blocking(move || super::export::drives(&root)).await.unwrap_or_default())
                }
                None => None,
            };
            Html(render_requests(&s, &list, notice, w.config.timezone, drives.as_deref())).into_response()
        }
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// A request to view, as the browser sends it.
#[derive(Debug, Default, Deserialize)]
pub struct AskForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    recording: String,
    #[serde(default)]
    reason: String,
}

/// `POST /access/request`: ask to view one recording (an officer: their own, as `officer`).
pub(super) async fn ask(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<AskForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "access_request").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let party = if session.account.roles.contains(&Role::Officer) { "officer" } else { "internal" };
    let request = api::Request::AccessRequest(api::access::NewRequest {
        recordings: vec![f.recording.trim().to_string()],
        kind: "view".into(),
        reason: f.reason.clone(),
        party: Some(party.into()),
        ..api::access::NewRequest::default()
    });
    match w.call(&session, request).await {
        Ok(_) => see_other("/access?done=requested"),
        Err(e) => api_error_page(&e),
    }
}

/// A decision, as the browser sends it.
#[derive(Debug, Default, Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: i64,
    /// `approve` or `deny`.
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// `POST /access/decide`: an approver approves or denies a request (`access_approve`,
/// `access_deny`: the tier, the marks' approvers and never one's own, as the station decides).
pub(super) async fn decide(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<DecideForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "access_decide").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (request, to) = match f.decision.as_str() {
        "approve" => (api::Request::AccessApprove(api::access::Approve { id: f.id }), "/access?done=approved"),
        "deny" => {
            (api::Request::AccessDeny(api::access::Deny { id: f.id, reason: f.reason.clone() }), "/access?done=denied")
        }
        other => {
            return api_error_page(&ApiError::invalid(format!(
                "decision {other:?}: approve or deny / 审批结果应为批准或不批准"
            )))
        }
    };
    match w.call(&session, request).await {
        Ok(_) => see_other(to),
        Err(e) => api_error_page(&e),
    }
}

/// `GET /view/{id}?file=`'s query.
#[derive(Debug, Default, Deserialize)]
pub struct FileQuery {
    #[serde(default)]
    file: String,
}

/// `GET /view/{id}?file=PATH`: opens the file under the request (the view recorded) and shows
/// it in the page.
pub(super) async fn view(
    State(w): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<FileQuery>,
) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    let config = w.config.clone();
    let who = caller(&s);
    let ask = View { id, file: q.file.clone() };
    let opened = tokio::task::spawn_blocking(move || api::access::open_view(&config, &who, &ask, Handed::Web))
        .await
        .unwrap_or_else(|e| Err(ApiError::failed(format!("the operation stopped: {e} / 操作意外中止"))));
    let (opened, file) = match opened {
        Ok(x) => x,
        Err(e) => return api_error_page(&e),
    };
    let token = match w.viewings.keep(&s.account.name, s.until, opened.clone(), file) {
        Ok(t) => t,
        Err(e) => return api_error_page(&e),
    };
    Html(render_viewer(&s, id, &opened, &token)).into_response()
}

/// `GET /view/stream/{token}`: the bytes of a file opened for viewing, whole or in the range
/// asked for.
pub(super) async fn stream(State(w): State<Arc<Shared>>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return (StatusCode::UNAUTHORIZED, "sign in first / 请先登录").into_response();
    };
    let Some((opened, file)) = w.viewings.get(&token, &s.account.name) else {
        return (StatusCode::NOT_FOUND, "no such viewing: open the file again / 请重新打开该文件").into_response();
    };
    let size = opened.size;
    let asked = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match parse_range(asked, size) {
        Ok(Some(r)) => (StatusCode::PARTIAL_CONTENT, r.start, r.end + 1),
        Ok(None) => (StatusCode::OK, 0, size),
        Err(()) => {
            let mut r = (StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable / 请求的范围无效").into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    let body = futures_util::stream::unfold((file, start), move |(file, at)| async move {
        if at >= end {
            return None;
        }
        let want = usize::try_from((end - at).min(CHUNK as u64)).unwrap_or(CHUNK);
        let f = file.clone();
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; want];
            let mut got = 0;
            while got < want {
                match f.read_at(&mut buf[got..], at + got as u64) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            buf.truncate(got);
            Ok(buf)
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        match read {
            Ok(buf) if buf.is_empty() => {
                Some((Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file ended early")), (file, end)))
            }
            Ok(buf) => {
                let next = at + buf.len() as u64;
                Some((Ok(Bytes::from(buf)), (file, next)))
            }
            Err(e) => Some((Err(e), (file, end))),
        }
    });
    let mut r = Response::new(Body::from_stream(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type(&opened.name)));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&(end - start).to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{size}", end - 1)) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    r
}

/// The account's requests.
pub fn render_requests(
    who: &Session,
    list: &[api::access::Request],
    notice: Option<&str>,
    tz: chrono_tz::Tz,
    drives: Option<&[String]>,
) -> String {
    let exports = may(who, api::Op::Export);
    let mut body = String::from("<h1>调阅申请 <small>Access requests</small></h1>");
    if let Some(n) = notice {
        let _ = write!(body, "<p class=\"done\" id=\"done\">{}</p>", esc(n));
    }
    body.push_str(
        "<table id=\"requests\"><thead><tr><th>编号 No.</th><th>状态 State</th><th>用途 Kind</th><th>范围 Covers</th>\
         <th>理由 Reason</th><th>申请人 By</th><th>时间 When</th><th>查看或审批 View or decide</th></tr></thead><tbody>",
    );
    for r in list {
        let covers = r.case.as_ref().map_or_else(|| r.recordings.join("，"), |c| format!("案件 {c}"));
        let when = chrono::DateTime::parse_from_rfc3339(&r.requested_at)
            .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|_| r.requested_at.clone());
        let mut files = String::new();
        for (i, f) in r.files.iter().enumerate() {
            let _ = write!(
                files,
                "<a href=\"/view/{id}?file={q}\" id=\"view-{id}-{i}\">{name}</a><br>",
                id = r.id,
                q = esc(&super::archive::percent(f)),
                name = esc(f.rsplit('/').next().unwrap_or(f)),
            );
        }
        let _ = write!(
            files,
            "<a href=\"/access/{id}/form\" id=\"form-{id}\">调用单 <small>Form</small></a><br>",
            id = r.id
        );
        if exports && r.state == "approved" && (r.kind == "copy" || r.kind == "export") {
            files.push_str(&export_form(who, r.id, drives));
        }
        let me = format!("account:{}", who.account.name);
        if who.account.roles.contains(&Role::Approver) && r.state == "pending" && r.requested_by != me {
            let _ = write!(
                files,
                "<form method=\"post\" action=\"/access/decide\" class=\"decide\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve-{id}\">批准 Approve</button></form>\
                 <form method=\"post\" action=\"/access/decide\" class=\"decide\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <input name=\"reason\" id=\"deny-reason-{id}\" required placeholder=\"不批准的理由 reason\">\
                 <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny-{id}\">不批准 Deny</button></form>",
                csrf = esc(&who.csrf),
                id = r.id,
            );
        }
        let _ = write!(
            body,
            "<tr id=\"request-{id}\"><td>{id}</td><td class=\"state\">{zh} <small>{en}</small></td><td>{kind}</td>\
             <td>{covers}</td><td>{reason}</td><td>{by}</td><td>{when}</td><td>{files}</td></tr>",
            id = r.id,
            zh = esc(&r.state_zh),
            en = esc(&r.state),
            kind = match r.kind.as_str() {
                "view" => "查看 <small>view</small>".to_string(),
                "copy" => "复制 <small>copy</small>".to_string(),
                "export" => "导出 <small>export</small>".to_string(),
                other => esc(other),
            },
            covers = esc(&covers),
            reason = esc(&r.reason),
            by = esc(&r.requested_by),
            when = esc(&when),
            files = if files.is_empty() { "—".to_string() } else { files },
        );
    }
    if list.is_empty() {
        body.push_str("<tr><td colspan=\"8\">尚无调阅申请 / no access request</td></tr>");
    }
    body.push_str("</tbody></table>");
    if may(who, api::Op::AccessRegister) {
        body.push_str(
            "<h2>调阅登记簿 <small>Access register</small></h2>\
             <form method=\"get\" action=\"/access/register\" class=\"search\">\
             <label>起 <small>From</small><input type=\"date\" name=\"from\" id=\"register-from\" required></label>\
             <label>止 <small>To</small><input type=\"date\" name=\"to\" id=\"register-to\" required></label>\
             <button type=\"submit\" id=\"print-register\">打印 Print</button></form>",
        );
    }
    body.push_str("<p><a href=\"/mine\">我的录像 My footage</a> · <a href=\"/\">返回 Back</a></p>");
    page("调阅申请 Access requests · evidock", Some(who), &body)
}

/// The form that exports an approved copy or export request onto a drive: the drives mounted
/// under `[web] export_root` (`None`: the page does not export).
fn export_form(who: &Session, id: i64, drives: Option<&[String]>) -> String {
    match drives {
        None => String::new(),
        Some([]) => "<span class=\"note\">未检测到移动存储 <small>no drive mounted</small></span>".to_string(),
        Some(list) => {
            let mut options = String::new();
            for d in list {
                let _ = write!(options, "<option value=\"{0}\">{0}</option>", esc(d));
            }
            format!(
                "<form method=\"post\" action=\"/access/export\" class=\"decide\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <select name=\"drive\" id=\"drive-{id}\">{options}</select>\
                 <button type=\"submit\" id=\"export-{id}\">导出到移动存储 <small>Export onto the drive</small></button></form>",
                csrf = esc(&who.csrf),
            )
        }
    }
}

/// The viewer: the file in the page, what the log recorded of it, and that this view is
/// recorded.
pub fn render_viewer(who: &Session, id: i64, opened: &Opened, token: &str) -> String {
    let src = format!("/view/stream/{token}");
    let media = media_type(&opened.name);
    let player = if media.starts_with("audio/") {
        format!("<audio controls preload=\"metadata\" id=\"player\" src=\"{}\"></audio>", esc(&src))
    } else if media.starts_with("image/") {
        format!("<img id=\"player\" src=\"{}\" alt=\"{}\">", esc(&src), esc(&opened.name))
    } else {
        format!("<video controls preload=\"metadata\" id=\"player\" src=\"{}\"></video>", esc(&src))
    };
    page(
        "查看录像 Viewing · evidock",
        Some(who),
        &format!(
            "<h1>查看录像 <small>Viewing under request #{id}</small></h1>\
             <p class=\"done\" id=\"recorded\">本次查看已记入保管日志 <small>This view is recorded in the custody log</small></p>\
             <div class=\"viewer\">{player}</div>\
             <dl class=\"file\"><dt>文件 <small>File</small></dt><dd id=\"file-name\">{name}</dd>\
             <dt>大小 <small>Size</small></dt><dd>{size} 字节 bytes</dd>\
             <dt>BLAKE3</dt><dd id=\"file-hash\">{hash}</dd></dl>\
             <p>已按保管日志记录的哈希核对 <small>checked against the hash the custody log recorded</small></p>\
             <p><a href=\"/access\">调阅申请 Access requests</a> · <a href=\"/\">返回 Back</a></p>",
            name = esc(&opened.name),
            size = opened.size,
            hash = esc(&opened.blake3),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_read_as_rfc_9110_says() {
        let r = |a: u64, b: u64| Ok(Some(Range { start: a, end: b }));
        assert_eq!(parse_range(None, 100), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-"), 100), r(0, 99));
        assert_eq!(parse_range(Some("bytes=0-9"), 100), r(0, 9));
        assert_eq!(parse_range(Some("bytes=90-200"), 100), r(90, 99), "an end past the file is the file's end");
        assert_eq!(parse_range(Some("bytes=-10"), 100), r(90, 99));
        assert_eq!(parse_range(Some("bytes=-500"), 100), r(0, 99));
        assert_eq!(parse_range(Some("bytes=0-0,5-9"), 100), Ok(None), "several ranges: the whole file");
        assert_eq!(parse_range(Some("items=0-9"), 100), Ok(None), "another unit is ignored");
        for bad in ["bytes=100-", "bytes=9-0", "bytes=-0", "bytes=-", "bytes=a-b", "bytes=+1-2", "bytes=5"] {
            assert_eq!(parse_range(Some(bad), 100), Err(()), "{bad}");
        }
        assert_eq!(parse_range(Some("bytes=0-"), 0), Err(()), "nothing in an empty file");
        assert_eq!(media_type("2026/03/02/x/J5/A.MP4"), "video/mp4");
        assert_eq!(media_type("a.bin"), "application/octet-stream");
    }

    proptest! {
        /// Whatever a browser (or anyone) sends, the answer never reaches outside the file.
        #[test]
        fn any_range_header_stays_inside_the_file(h in ".{0,40}", size in 0u64..10_000) {
            if let Ok(Some(r)) = parse_range(Some(&h), size) {
                prop_assert!(r.start <= r.end && r.end < size);
            }
            let bytes = format!("bytes={h}");
            if let Ok(Some(r)) = parse_range(Some(&bytes), size) {
                prop_assert!(r.start <= r.end && r.end < size);
            }
        }
    }
}

/// `GET /access/{id}/form`: the 《行政执法全过程记录资料调用单》 of a request (S2 §24), the page
/// that prints, through `access_form` (built from the verified custody log).
pub(super) async fn form(State(w): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    match w.call(&s, api::Request::AccessForm(api::forms::RequestId { id })).await {
        Ok(api::Reply::AccessForm(p)) => super::archive::printable(p.html),
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// `GET /access/register`'s query.
#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// `GET /access/register?from=&to=`: the access register of a period (S3 §28), the page that
/// prints, through `access_register`.
pub(super) async fn register(
    State(w): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<PeriodQuery>,
) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    match w.call(&s, api::Request::AccessRegister(api::forms::Period { from: q.from, to: q.to })).await {
        Ok(api::Reply::AccessRegister(p)) => super::archive::printable(p.html),
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}
