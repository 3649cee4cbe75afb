//! The officer's own footage (`/mine`): their recent recordings with their verdicts, gaps,
//! cases, description, long-term marks and deadline, and three forms per recording: describe
//! it (S4 §23), mark it important (R7), file it into a case that names them (R4). Through the
//! station API's `footage_mine`, `describe`, `retention_flag` and `case_assign` as the
//! signed-in account; each change carries the session's CSRF token. Renders; holds no station
//! logic (whose footage it is, who may mark or file, is the API's).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::archive::given as opt;
use super::render::{esc, page};
use super::{api_error_page, see_other, see_other_to, Shared};
use crate::accounts::sessions::Session;
use crate::api::footage::{MineArgs, Recording};
use crate::api::{self, ApiError};
use crate::custody::event::Role;
use crate::retention::Trigger;

/// `GET /mine`'s query: which officer (for the roles that must name one), and the notice of a
/// change just made.
#[derive(Debug, Default, Deserialize)]
pub struct MineQuery {
    #[serde(default)]
    officer: String,
    #[serde(default)]
    done: String,
}

/// What the notice after a change says.
fn done_notice(done: &str) -> Option<&'static str> {
    match done {
        "described" => Some("说明已保存 / the description is saved"),
        "flagged" => Some("已标记为重要，长期保存 / marked important: kept long-term"),
        "filed" => Some("已归入案件 / filed into the case"),
        "explained" => Some("中断说明已保存 / the gap's explanation is saved"),
        _ => None,
    }
}

/// `GET /mine`: the recordings of the last 30 days.
pub(super) async fn mine(State(w): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query<MineQuery>) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    let officer = q.officer.trim().to_string();
    let is_officer = s.account.roles.contains(&Role::Officer);
    if !is_officer && officer.is_empty() {
        return Html(render(&s, &officer, None, None)).into_response();
    }
    let args = MineArgs { days: None, officer: (!officer.is_empty()).then_some(officer.clone()) };
    match w.call(&s, api::Request::FootageMine(args)).await {
        Ok(api::Reply::FootageMine(list)) => {
            Html(render(&s, &officer, Some(&list), done_notice(&q.done))).into_response()
        }
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// A change to one recording, as the browser sends it.
#[derive(Debug, Default, Deserialize)]
pub struct Change {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    recording: String,
    /// The officer the page lists (kept for the way back).
    #[serde(default)]
    officer: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    trigger: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    case: String,
    #[serde(default)]
    gap: i64,
    #[serde(default)]
    text: String,
}

/// Back to the list after a change (303, so a reload does not send it again).
fn back(officer: &str, done: &str) -> Response {
    let mut to = format!("/mine?done={done}");
    if !officer.trim().is_empty() {
        to.push_str("&officer=");
        to.push_str(&super::archive::percent(officer.trim()));
    }
    see_other_to(&to)
}

async fn change(w: &Shared, headers: &HeaderMap, form: &Change, what: &'static str, request: api::Request) -> Response {
    let session = match w.changing(headers, &form.csrf, what).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let done = match &request {
        api::Request::Describe(_) => "described",
        api::Request::RetentionFlag(_) => "flagged",
        api::Request::GapExplain(_) => "explained",
        _ => "filed",
    };
    match w.call(&session, request).await {
        Ok(_) => back(&form.officer, done),
        Err(e) => api_error_page(&e),
    }
}

/// `POST /mine/describe`.
pub(super) async fn describe(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<Change>) -> Response {
    let request = api::Request::Describe(api::cases::Describe {
        case: None,
        recording: Some(f.recording.trim().to_string()),
        subject: opt(&f.subject),
        content: opt(&f.content),
        place: opt(&f.place),
    });
    change(&w, &headers, &f, "describe", request).await
}

/// `POST /mine/flag`.
pub(super) async fn flag(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<Change>) -> Response {
    let request = api::Request::RetentionFlag(api::retention::Flag {
        recording: f.recording.trim().to_string(),
        trigger: f.trigger.trim().to_string(),
        reason: f.reason.clone(),
    });
    change(&w, &headers, &f, "retention_flag", request).await
}

/// `POST /mine/assign`.
pub(super) async fn assign(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<Change>) -> Response {
    let request = api::Request::CaseAssign(api::cases::Assign {
        number: f.case.trim().to_string(),
        sessions: vec![f.recording.trim().to_string()],
        ..api::cases::Assign::default()
    });
    change(&w, &headers, &f, "case_assign", request).await
}

/// `POST /mine/explain`: a written explanation of a gap, in the name of the officer whose
/// footage it is (an officer: themselves), with the scanned, signed statement when one is
/// attached: the form is sent as `multipart/form-data` (its file `scan`, at most
/// [`api::gap::MAX_SCAN_BYTES`]), or urlencoded without a scan. The scan is kept in an
/// unnamed file of the state folder until the station has stored it (`gap_explain`, which
/// hashes it and stores it write-once in the archive).
pub(super) async fn explain(State(w): State<Arc<Shared>>, request: axum::extract::Request) -> Response {
    use axum::extract::FromRequest as _;
    let headers = request.headers().clone();
    // Nothing is read, let alone stored, for a browser that is not signed in.
    let Some((_, signed_in)) = w.session(&headers).await else {
        return super::see_other("/login");
    };
    let multipart = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("multipart/form-data"));
    let (f, scan) = if multipart {
        match axum::extract::Multipart::from_request(request, &()).await {
            Ok(m) => match read_explanation(m, &w.config.paths.state_dir).await {
                Ok(got) => got,
                Err(e) => return api_error_page(&e),
            },
            Err(e) => return api_error_page(&ApiError::invalid(format!("{e} / 表单无法读取"))),
        }
    } else {
        match Form::<Change>::from_request(request, &()).await {
            Ok(Form(f)) => (f, None),
            Err(e) => return api_error_page(&ApiError::invalid(format!("{e} / 表单无法读取"))),
        }
    };
    let session = match w.changing(&headers, &f.csrf, "gap_explain").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let by = if signed_in.account.roles.contains(&Role::Officer) {
        signed_in.account.badge.clone().unwrap_or_default()
    } else {
        f.officer.trim().to_string()
    };
    let request = api::Request::GapExplain(api::gap::Explain { id: f.gap, text: f.text.clone(), by });
    let files: api::Files = scan.map(|file| vec![(api::gap::SCAN_FILE.to_string(), file.into())]).unwrap_or_default();
    match w.call_with_files(&session, request, files).await {
        Ok(_) => back(&f.officer, "explained"),
        Err(e) => api_error_page(&e),
    }
}

/// Reads an explanation sent as `multipart/form-data`: its fields, and its scan (the file
/// `scan`, when one was chosen) written into an unnamed file under `dir`, rewound.
async fn read_explanation(
    mut m: axum::extract::Multipart,
    dir: &std::path::Path,
) -> Result<(Change, Option<std::fs::File>), ApiError> {
    let bad = |e: &dyn std::fmt::Display| ApiError::invalid(format!("{e} / 表单无法读取"));
    let mut f = Change::default();
    let mut scan = None;
    while let Some(mut field) = m.next_field().await.map_err(|e| bad(&e))? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "scan" {
            let keep = |e: std::io::Error| ApiError::failed(format!("keeping the scan: {e} / 无法暂存扫描件"));
            let mut file = unnamed_file(dir).map_err(|e| {
                ApiError::failed(format!("keeping the scan in {}: {e} / 无法暂存扫描件", dir.display()))
            })?;
            let mut size = 0u64;
            while let Some(chunk) = field.chunk().await.map_err(|e| bad(&e))? {
                size += chunk.len() as u64;
                if size > api::gap::MAX_SCAN_BYTES {
                    return Err(ApiError::invalid(format!(
                        "the scan is larger than {} bytes / 扫描件过大",
                        api::gap::MAX_SCAN_BYTES
                    )));
                }
                // Written off the server's threads, a chunk at a time.
                let (back, wrote) = tokio::task::spawn_blocking(move || {
                    let wrote = std::io::Write::write_all(&mut file, &chunk);
                    (file, wrote)
                })
                .await
                .map_err(|e| ApiError::failed(format!("keeping the scan: {e} / 无法暂存扫描件")))?;
                file = back;
                wrote.map_err(keep)?;
            }
            // A form whose file input was left empty sends an empty part: no scan.
            if size > 0 {
                std::io::Seek::rewind(&mut file).map_err(keep)?;
                scan = Some(file);
            }
            continue;
        }
        let text = field.text().await.map_err(|e| bad(&e))?;
        match name.as_str() {
            "csrf" => f.csrf = text,
            "recording" => f.recording = text,
            "officer" => f.officer = text,
            "gap" => f.gap = text.trim().parse().map_err(|_| bad(&format!("gap {text:?}")))?,
            "text" => f.text = text,
            _ => {}
        }
    }
    Ok((f, scan))
}

/// A file with no name under `dir` (`O_TMPFILE`), gone when closed; where the file system has
/// none, a named one removed at once.
fn unnamed_file(dir: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let unnamed =
        std::fs::OpenOptions::new().read(true).write(true).mode(0o600).custom_flags(nix::libc::O_TMPFILE).open(dir);
    match unnamed {
        Ok(f) => Ok(f),
        Err(_) => {
            let path =
                dir.join(format!(".scan-{}.tmp", crate::accounts::sessions::token().map_err(std::io::Error::other)?));
            let f = std::fs::OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(&path)?;
            std::fs::remove_file(&path)?;
            Ok(f)
        }
    }
}

/// The hidden fields every form of a recording carries.
fn hidden(who: &Session, recording: &str, officer: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"recording\" value=\"{}\">\
         <input type=\"hidden\" name=\"officer\" value=\"{}\">",
        esc(&who.csrf),
        esc(recording),
        esc(officer)
    )
}

fn verdicts(r: &Recording) -> String {
    if r.verdicts.is_empty() {
        return "—".into();
    }
    r.verdicts.iter().map(|(v, n)| format!("{} {n}", super::render::verdict_label(v))).collect::<Vec<_>>().join("，")
}

fn recording(who: &Session, officer: &str, i: usize, r: &Recording) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<section class=\"rec\" id=\"rec-{i}\" data-recording=\"{id}\"><h2>{start} – {end} <small>{id}</small></h2>\
         <dl><dt>记录仪 <small>Recorder</small></dt><dd>{device}</dd>\
         <dt>校验 <small>Verdicts</small></dt><dd>{verdicts}</dd>",
        id = esc(&r.id),
        start = esc(&r.start),
        end = esc(&r.end),
        device = esc(&r.device),
        verdicts = esc(&verdicts(r)),
    );
    if r.unexplained_gaps > 0 {
        let _ = write!(
            out,
            "<dt>中断 <small>Gaps</small></dt><dd class=\"gaps\" id=\"gaps-{i}\">{} 处未说明 <small>unexplained</small></dd>",
            r.unexplained_gaps
        );
    }
    let cases = if r.cases.is_empty() { "未归入案件 not filed".to_string() } else { r.cases.join("，") };
    let _ = write!(
        out,
        "<dt>案件 <small>Cases</small></dt><dd id=\"cases-{i}\">{}</dd>\
         <dt>保存期限 <small>Kept until</small></dt><dd id=\"deadline-{i}\">{} <small>{}</small></dd>",
        esc(&cases),
        esc(&r.deadline),
        if r.class == "long-term" { "长期保存 long-term" } else { "普通保存 standard" },
    );
    let marks: Vec<String> = r
        .flags
        .iter()
        .filter(|f| f.active)
        .map(|f| format!("{}：{}（{}）", f.trigger_zh, f.reason, f.set_by))
        .collect();
    if !marks.is_empty() {
        let _ =
            write!(out, "<dt>重要标记 <small>Marked</small></dt><dd id=\"flags-{i}\">{}</dd>", esc(&marks.join("；")));
    }
    let d = r.description.as_ref();
    if let Some(d) = d {
        let _ = write!(
            out,
            "<dt>说明 <small>Description</small></dt><dd id=\"description-{i}\">{}，{}，{} <small>{} {}</small></dd>",
            esc(d.subject.as_deref().unwrap_or("—")),
            esc(d.content.as_deref().unwrap_or("—")),
            esc(d.place.as_deref().unwrap_or("—")),
            esc(&d.written_by),
            esc(&d.written_at),
        );
    }
    out.push_str("</dl>");
    let value = |v: Option<&Option<String>>| esc(v.and_then(Option::as_deref).unwrap_or(""));
    let _ = write!(
        out,
        "<form method=\"post\" action=\"/mine/describe\" class=\"change\">{h}\
         <label>执法对象 <small>Party or object</small><input name=\"subject\" id=\"subject-{i}\" value=\"{s}\" maxlength=\"200\"></label>\
         <label>执法内容 <small>What was done</small><input name=\"content\" id=\"content-{i}\" value=\"{c}\" maxlength=\"2000\"></label>\
         <label>取证地点 <small>Place</small><input name=\"place\" id=\"place-{i}\" value=\"{p}\" maxlength=\"200\"></label>\
         <button type=\"submit\" id=\"describe-{i}\">保存说明 Save description</button></form>",
        h = hidden(who, &r.id, officer),
        s = value(d.map(|d| &d.subject)),
        c = value(d.map(|d| &d.content)),
        p = value(d.map(|d| &d.place)),
    );
    for (k, g) in r.gaps.iter().enumerate() {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/mine/explain\" enctype=\"multipart/form-data\" class=\"change gap\">{h}\
             <input type=\"hidden\" name=\"gap\" value=\"{id}\">\
             <label>中断 {from} – {to}（{secs} 秒）的说明 <small>Why recording stopped, {secs} s</small>\
             <input name=\"text\" id=\"gap-text-{i}-{k}\" required maxlength=\"2000\"></label>\
             <label>签字说明扫描件 <small>Signed statement, scanned (PDF, JPEG, PNG, TIFF; optional)</small>\
             <input type=\"file\" name=\"scan\" id=\"gap-scan-{i}-{k}\" accept=\"application/pdf,image/jpeg,image/png,image/tiff\"></label>\
             <button type=\"submit\" id=\"explain-{i}-{k}\">提交说明 Explain</button></form>",
            h = hidden(who, &r.id, officer),
            id = g.id,
            from = esc(&g.from),
            to = esc(&g.to),
            secs = g.seconds,
        );
    }
    let mut options = String::new();
    for t in Trigger::ALL {
        let _ = write!(options, "<option value=\"{}\">{}</option>", t.as_str(), esc(t.label_zh()));
    }
    let _ = write!(
        out,
        "<form method=\"post\" action=\"/mine/flag\" class=\"change\">{h}\
         <label>长期保存事由 <small>Why keep it</small><select name=\"trigger\" id=\"trigger-{i}\">{options}</select></label>\
         <label>理由 <small>Reason</small><input name=\"reason\" id=\"reason-{i}\" required maxlength=\"500\"></label>\
         <button type=\"submit\" id=\"flag-{i}\">标记重要 Mark important</button></form>\
         <form method=\"post\" action=\"/mine/assign\" class=\"change\">{h}\
         <label>案件编号 <small>Case number</small><input name=\"case\" id=\"case-{i}\" required placeholder=\"宜卫罚〔2026〕3号\"></label>\
         <button type=\"submit\" id=\"assign-{i}\">归入案件 File into case</button></form>\
         <form method=\"post\" action=\"/access/request\" class=\"change\">{h}\
         <label>调阅理由 <small>Why view it</small><input name=\"reason\" id=\"view-reason-{i}\" required maxlength=\"500\"></label>\
         <button type=\"submit\" id=\"ask-{i}\">申请调阅 Request to view</button></form></section>",
        h = hidden(who, &r.id, officer),
    );
    out
}

/// The page: for a role that must name the officer, the officer field; the notice of the last
/// change; the recordings, newest first.
pub fn render(who: &Session, officer: &str, list: Option<&[Recording]>, notice: Option<&str>) -> String {
    let mut body = String::from("<h1>我的录像 <small>My footage (30 days)</small></h1>");
    if !who.account.roles.contains(&Role::Officer) {
        let _ = write!(
            body,
            "<form method=\"get\" action=\"/mine\" class=\"search\"><label>警号 <small>Officer</small>\
             <input name=\"officer\" id=\"q-officer\" value=\"{}\" placeholder=\"012345\"></label>\
             <button type=\"submit\" id=\"show\">查看 Show</button></form>",
            esc(officer)
        );
    }
    if let Some(n) = notice {
        let _ = write!(body, "<p class=\"done\" id=\"done\">{}</p>", esc(n));
    }
    if let Some(list) = list {
        if list.is_empty() {
            body.push_str(
                "<p class=\"empty\" id=\"no-footage\">近 30 天没有录像<br><small>No footage in 30 days</small></p>",
            );
        }
        for (i, r) in list.iter().enumerate() {
            body.push_str(&recording(who, officer, i, r));
        }
    }
    body.push_str("<p><a href=\"/\">返回 Back</a></p>");
    page("我的录像 My footage · evidock", Some(who), &body)
}
