//! The custodian's pages: the station's alarms and state (`/alarms`, through `status`), the
//! device registry's changes (`POST /devices/register`, `POST /devices/retire`, through
//! `device_register` and `device_retire`), and the cases (`/cases`, `/case/{number}`). Each
//! change carries the session's CSRF token and answers 303 back to its page, which says what
//! was done. Renders; holds no station logic (who may is the API's). The recorders handed
//! out for a shift are [`super::duty`]'s.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::archive::given as opt;
use super::render::{esc, may, page};
use super::{api_error_page, see_other, see_other_to, Shared};
use crate::accounts::sessions::Session;
use crate::api::status::StatusDoc;
use crate::api::{self, ApiError, Op};

/// A page's query: the notice of a change just made.
#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    #[serde(default)]
    done: String,
}

/// The notice a page shows after a change.
pub fn notice_of(q: &Notice) -> Option<&'static str> {
    notice(&q.done)
}

fn notice(done: &str) -> Option<&'static str> {
    match done {
        "registered" => Some("已登记 / registered"),
        "retired" => Some("已停用 / retired"),
        "reviewed" => Some("已记录复核 / the review is recorded"),
        _ => None,
    }
}

/// Station time to the second from an RFC 3339 instant.
fn local(s: &str, tz: chrono_tz::Tz) -> String {
    crate::report::history::station_time(s, tz)
}

/// `GET /alarms`: open alarms, the archive scrub, the central copy, recent dockings.
pub(super) async fn alarms(State(w): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query<Notice>) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    match w.call(&s, api::Request::Status(api::status::StatusArgs {})).await {
        Ok(api::Reply::Status(doc)) => {
            Html(render_alarms(&s, &doc, w.config.timezone, notice(&q.done))).into_response()
        }
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// The review form.
#[derive(Debug, Default, Deserialize)]
pub struct ReviewedForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    docking: i64,
    #[serde(default)]
    note: String,
}

/// `POST /alarms/reviewed`: a docking whose footage needed review, reviewed
/// (`docking_review`); it leaves the attention list.
pub(super) async fn reviewed(
    State(w): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(f): Form<ReviewedForm>,
) -> Response {
    let session = match w.changing(&headers, &f.csrf, "docking_review").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let request = api::Request::DockingReview(api::review::Review { docking: f.docking, note: f.note });
    match w.call(&session, request).await {
        Ok(_) => see_other("/alarms?done=reviewed"),
        Err(e) => api_error_page(&e),
    }
}

/// What needs the custodian beyond the open alarms: recorders that docked while not in
/// service, recorders not back by their due time, the archive disk, footage that needs review.
fn render_attention(who: &Session, a: &crate::api::status::Attention) -> String {
    let may_review = may(who, Op::DockingReview);
    let mut out = String::from("<h2>需要处理 <small>Needs attention</small></h2>");
    if a.count() == 0 {
        out.push_str("<p class=\"done\" id=\"no-attention\">无待处理事项 <small>Nothing needs attention</small></p>");
    }
    if !a.not_in_service.is_empty() {
        out.push_str(
            "<h3>未在用记录仪接入 <small>Recorders docked while not in service</small></h3><ul id=\"not-in-service\">",
        );
        for n in &a.not_in_service {
            let (zh, en) =
                if n.state == "retired" { ("已停用", "retired") } else { ("未登记", "not registered") };
            let _ = write!(
                out,
                "<li id=\"not-in-service-{s}\"><strong>{s}</strong> {zh} <small>{en}</small> · 接入 {n} 次 <small>docked {n} times</small> · \
                 最近 <small>last</small> {last}</li>",
                s = esc(&n.serial),
                n = n.dockings,
                last = esc(&n.last_docked),
            );
        }
        out.push_str("</ul><p><a href=\"/devices\">去登记 <small>Register it</small></a></p>");
    }
    if !a.overdue.is_empty() {
        out.push_str("<h3>逾期未归还 <small>Not back by their due time</small></h3><ul id=\"overdue\">");
        for o in &a.overdue {
            let _ = write!(
                out,
                "<li id=\"overdue-{b}\"><strong>{serial}</strong> · {name} ({officer}) · 绑定 binding #{b} · 应于 <small>due</small> {due}</li>",
                b = o.binding,
                serial = esc(&o.serial),
                name = esc(o.officer_name.as_deref().unwrap_or("—")),
                officer = esc(&o.officer_id),
                due = esc(&o.due),
            );
        }
        out.push_str("</ul><p><a href=\"/duty\">领用与归队 <small>Duty</small></a></p>");
    }
    if let Some(d) = a.disk {
        let _ = write!(
            out,
            "<p id=\"disk\" class=\"{class}\">档案盘 <small>Archive disk</small>：已用 {pct}% <small>used</small>，剩余 {free} <small>free</small>{low}</p>",
            class = if d.low { "notice" } else { "" },
            pct = d.used_percent,
            free = esc(&crate::scrub::bytes_text(d.free)),
            low = if d.low { " · 空间不足 <small>running low</small>" } else { "" },
        );
    }
    if !a.review.is_empty() {
        out.push_str("<h3>需要复核的录像 <small>Footage that needs review</small></h3><ul id=\"review\">");
        for r in &a.review {
            let mut problems = String::new();
            for p in &r.problems {
                let _ = write!(problems, "<br><small>{}</small>", esc(p));
            }
            let _ = write!(
                out,
                "<li id=\"review-{id}\"><strong>{serial}</strong> · 接入 docking #{id} · {finished}{flagged}{problems}{form}</li>",
                id = r.docking_id,
                form = if may_review {
                    format!(
                        "<details><summary>已复核 <small>Reviewed</small></summary>\
                         <form method=\"post\" action=\"/alarms/reviewed\" class=\"change\">\
                         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"docking\" value=\"{id}\">\
                         <label>复核情况 <small>What was reviewed and found</small><input name=\"note\" id=\"review-note-{id}\" required></label>\
                         <button type=\"submit\" id=\"reviewed-{id}\">记录复核 Record the review</button></form></details>",
                        csrf = esc(&who.csrf),
                        id = r.docking_id,
                    )
                } else {
                    String::new()
                },
                serial = esc(r.serial.as_deref().unwrap_or("—")),
                finished = esc(&r.finished),
                flagged = if r.flagged > 0 {
                    format!(" · 异常片段 <small>flagged segments</small> {}", r.flagged)
                } else {
                    String::new()
                },
            );
        }
        out.push_str("</ul>");
    }
    out
}

/// The alarms and state page.
pub fn render_alarms(who: &Session, doc: &StatusDoc, tz: chrono_tz::Tz, notice: Option<&str>) -> String {
    // A kiosk's page: it reads the station again by itself every half minute.
    let mut body =
        String::from("<meta http-equiv=\"refresh\" content=\"30\"><h1>警报与状态 <small>Alarms and state</small></h1>");
    if let Some(n) = notice {
        let _ = write!(body, "<p class=\"done\" id=\"done\">{}</p>", esc(n));
    }
    if doc.alarms.is_empty() {
        body.push_str("<p class=\"done\" id=\"no-alarms\">没有未解除的警报 <small>No open alarm</small></p>");
    } else {
        let _ = write!(
            body,
            "<p class=\"notice\" id=\"alarm-count\">{} 条警报未解除 <small>open alarms</small></p><ul class=\"alarm-list\" id=\"alarms\">",
            doc.alarms_open
        );
        for a in &doc.alarms {
            let _ = write!(
                body,
                "<li id=\"alarm-{id}\"><strong>{zh}</strong><br><small>{en}</small><br>\
                 <small>{kind} · {subject} · 首次 first {raised} · 最近 last {last} · {times} 次 times</small></li>",
                id = a.id,
                zh = esc(&a.message_zh),
                en = esc(&a.message),
                kind = esc(&a.kind),
                subject = esc(&a.subject),
                raised = esc(&local(&a.raised, tz)),
                last = esc(&local(&a.last_seen, tz)),
                times = a.times,
            );
        }
        body.push_str("</ul>");
    }
    body.push_str(&render_attention(who, &doc.attention));
    body.push_str("<h2>档案巡检 <small>Archive scrub</small></h2>");
    match doc.scrub.as_ref().and_then(|s| s.last_complete.as_ref().or(s.in_progress.as_ref())) {
        Some(p) => {
            let _ = write!(
                body,
                "<p id=\"scrub\">第 {pass} 轮 pass，{files}/{total} 个文件 files，{state}；不符 differ {differ}，缺失 missing {missing}</p>",
                pass = p.pass,
                files = p.files,
                total = p.files_total,
                state = match &p.finished {
                    Some(f) => format!("完成于 finished {}", esc(&local(f, tz))),
                    None => "进行中 in progress".to_string(),
                },
                differ = p.differ,
                missing = p.missing,
            );
        }
        None => body.push_str("<p id=\"scrub\">尚未巡检 <small>no pass yet</small></p>"),
    }
    if let Some(c) = &doc.central {
        let _ = write!(
            body,
            "<h2>中心存储 <small>Central copy</small></h2><p id=\"central\">已确认 confirmed {}，待上传 pending {}，失败 failing {}</p>",
            c.confirmed, c.pending, c.failing
        );
    }
    body.push_str(
        "<h2>最近接入 <small>Recent dockings</small></h2><table id=\"dockings\"><thead><tr><th>记录仪 Recorder</th>\
         <th>开始 Started</th><th>结束 Finished</th><th>结果 Outcome</th><th>校验 Verdicts</th></tr></thead><tbody>",
    );
    for d in &doc.recent_dockings {
        let verdicts: Vec<String> = d.verdicts.iter().map(|(v, n)| format!("{v} {n}")).collect();
        let _ = write!(
            body,
            "<tr><td>{serial}</td><td>{started}</td><td>{finished}</td><td>{outcome}{safe}</td><td>{verdicts}</td></tr>",
            serial = esc(d.serial.as_deref().unwrap_or(&d.volume)),
            started = esc(&local(&d.started, tz)),
            finished = esc(&d.finished.as_deref().map(|f| local(f, tz)).unwrap_or_default()),
            outcome = esc(d.outcome.as_deref().unwrap_or("—")),
            safe = if d.safe_to_undock { " · 可以拔出 safe" } else { "" },
            verdicts = esc(&verdicts.join(", ")),
        );
    }
    if doc.recent_dockings.is_empty() {
        body.push_str("<tr><td colspan=\"5\">尚无接入 / no docking yet</td></tr>");
    }
    body.push_str("</tbody></table><p><a href=\"/\">返回 Back</a></p>");
    page("警报与状态 Alarms · evidock", Some(who), &body)
}

/// The registration form, as the browser sends it.
#[derive(Debug, Default, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    serial: String,
    #[serde(default)]
    officer_id: String,
    #[serde(default)]
    officer_name: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    model: String,
    /// USB devices that are this recorder (`vvvv:pppp:SERIAL`), separated by spaces, commas or
    /// lines: how a recorder of a vendor's USB protocol is known when it docks.
    #[serde(default)]
    usb: String,
}

/// The USB devices of a form's field: each `vvvv:pppp:SERIAL`, separated by whitespace, commas
/// or the Chinese comma and enumeration mark; the station API checks each.
pub fn usb_list(field: &str) -> Vec<String> {
    field
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '，' | '、' | ';' | '；'))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `POST /devices/register`.
pub(super) async fn register(
    State(w): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(f): Form<RegisterForm>,
) -> Response {
    let session = match w.changing(&headers, &f.csrf, "device_register").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let request = api::Request::DeviceRegister(api::device::Register {
        serial: f.serial.trim().to_string(),
        officer_id: f.officer_id.trim().to_string(),
        officer_name: opt(&f.officer_name),
        unit: opt(&f.unit),
        model: opt(&f.model),
        usb: usb_list(&f.usb),
    });
    match w.call(&session, request).await {
        Ok(_) => see_other("/devices?done=registered"),
        Err(e) => api_error_page(&e),
    }
}

/// The retirement form.
#[derive(Debug, Default, Deserialize)]
pub struct RetireForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    serial: String,
    #[serde(default)]
    reason: String,
}

/// `POST /devices/retire`.
pub(super) async fn retire(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<RetireForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "device_retire").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let request = api::Request::DeviceRetire(api::device::Retire {
        serial: f.serial.trim().to_string(),
        reason: f.reason.clone(),
    });
    match w.call(&session, request).await {
        Ok(_) => see_other("/devices?done=retired"),
        Err(e) => api_error_page(&e),
    }
}

/// The registry page's forms, for an account that may change it.
pub fn registry_forms(who: &Session, serials: &[String]) -> String {
    if !may(who, Op::DeviceRegister) {
        return String::new();
    }
    let csrf = esc(&who.csrf);
    let mut options = String::new();
    for s in serials {
        let _ = write!(options, "<option value=\"{0}\">{0}</option>", esc(s));
    }
    format!(
        "<h2>登记或改配 <small>Register, or assign to another officer</small></h2>\
         <form method=\"post\" action=\"/devices/register\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>记录仪编号 <small>Serial</small><input name=\"serial\" id=\"reg-serial\" required maxlength=\"7\" placeholder=\"J500001\"></label>\
         <label>警号 <small>Officer number</small><input name=\"officer_id\" id=\"reg-officer\" required placeholder=\"012345\"></label>\
         <label>姓名 <small>Name</small><input name=\"officer_name\" id=\"reg-name\"></label>\
         <label>单位 <small>Unit</small><input name=\"unit\" id=\"reg-unit\"></label>\
         <label>型号 <small>Model</small><input name=\"model\" id=\"reg-model\"></label>\
         <label>USB 设备 <small>USB devices, vvvv:pppp:序列号 serial (for recorders of a vendor protocol)</small>\
         <input name=\"usb\" id=\"reg-usb\" placeholder=\"2e3c:5740:HK0123456789\"></label>\
         <button type=\"submit\" id=\"register\">登记 Register</button></form>\
         <h2>停用 <small>Retire</small></h2>\
         <form method=\"post\" action=\"/devices/retire\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>记录仪 <small>Recorder</small><select name=\"serial\" id=\"retire-serial\">{options}</select></label>\
         <label>原因 <small>Reason</small><input name=\"reason\" id=\"retire-reason\" required></label>\
         <button type=\"submit\" id=\"retire\">停用 Retire</button></form>"
    )
}

/// `GET /cases`: every case, each linked to its chain of custody, and (for a custodian or
/// archivist) the form to create one.
pub(super) async fn cases(State(w): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query<Notice>) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    match w.call(&s, api::Request::CaseList(api::NoArgs {})).await {
        Ok(api::Reply::CaseList(list)) => {
            let text = (q.done == "created").then_some("案件已创建 / the case is created");
            Html(render_cases(&s, &list, text)).into_response()
        }
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// The case form, as the browser sends it.
#[derive(Debug, Default, Deserialize)]
pub struct CaseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    party: String,
    /// Officer numbers, separated by commas or spaces.
    #[serde(default)]
    officers: String,
    #[serde(default)]
    kind: String,
    /// The on-site window, `datetime-local` values.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// `POST /cases/create`.
pub(super) async fn create_case(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<CaseForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "case_create").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let label = match label_of(&f.number, &f) {
        Ok(l) => l,
        Err(e) => return api_error_page(&e),
    };
    match w.call(&session, api::Request::CaseCreate(label)).await {
        Ok(_) => see_other("/cases?done=created"),
        Err(e) => api_error_page(&e),
    }
}

/// The label a case form gives, for the case `number`.
fn label_of(number: &str, f: &CaseForm) -> Result<api::cases::Label, ApiError> {
    let windows = match (opt(&f.from), opt(&f.to)) {
        (Some(a), Some(b)) => vec![[a, b]],
        (None, None) => Vec::new(),
        _ => {
            return Err(ApiError::invalid(
                "give both ends of the on-site window, or neither / 现场时段须同时填写起止时间",
            ))
        }
    };
    Ok(api::cases::Label {
        number: number.trim().to_string(),
        party: opt(&f.party),
        officers: f.officers.split([',', ' ', '，', '、']).filter_map(opt).collect(),
        kind: opt(&f.kind),
        windows,
    })
}

/// The kinds of case, as options of a select, `chosen` selected.
fn kind_options(chosen: &str) -> String {
    let mut kinds = String::new();
    for k in ["penalty", "coercive", "inspection", "permit", "other"] {
        let zh = api::cases::CaseKind::parse(k).map_or(k, |c| c.label_zh());
        let selected = if k == chosen { " selected" } else { "" };
        let _ = write!(kinds, "<option value=\"{k}\"{selected}>{zh}</option>");
    }
    kinds
}

/// The cases page.
pub fn render_cases(who: &Session, list: &[api::cases::CaseSummary], notice: Option<&str>) -> String {
    let mut body = String::from("<h1>案件 <small>Cases</small></h1>");
    if let Some(n) = notice {
        let _ = write!(body, "<p class=\"done\" id=\"done\">{}</p>", esc(n));
    }
    body.push_str(
        "<table id=\"cases\"><thead><tr><th>案件编号 Number</th><th>当事人 Party</th><th>类别 Kind</th>\
         <th>承办人员 Officers</th><th>录像 Files</th><th>保管链 Custody</th></tr></thead><tbody>",
    );
    for c in list {
        let _ = write!(
            body,
            "<tr><td><a href=\"/case/{link}\">{number}</a></td><td>{party}</td><td>{kind_zh} <small>{kind}</small></td>\
             <td>{officers}</td><td>{files}</td>\
             <td><a href=\"/case/{link}/history\">证据保管链 <small>history</small></a></td></tr>",
            number = esc(&c.number),
            party = esc(c.party.as_deref().unwrap_or("—")),
            kind_zh = esc(&c.kind_zh),
            kind = esc(&c.kind),
            officers = esc(&c.officers.join("，")),
            files = c.files,
            link = esc(&super::archive::percent(&c.number)),
        );
    }
    if list.is_empty() {
        body.push_str("<tr><td colspan=\"6\">尚无案件 / no case yet</td></tr>");
    }
    body.push_str("</tbody></table>");
    if may(who, Op::CaseCreate) {
        let kinds = kind_options("other");
        let _ = write!(
            body,
            "<h2>新建案件 <small>New case</small></h2>\
             <form method=\"post\" action=\"/cases/create\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>案件编号 <small>Number</small><input name=\"number\" id=\"case-number\" required placeholder=\"宜卫罚〔2026〕3号\"></label>\
             <label>当事人 <small>Party</small><input name=\"party\" id=\"case-party\"></label>\
             <label>承办人员警号 <small>Officers (numbers)</small><input name=\"officers\" id=\"case-officers\" placeholder=\"012345，054321\"></label>\
             <label>类别 <small>Kind</small><select name=\"kind\" id=\"case-kind\">{kinds}</select></label>\
             <label>现场开始 <small>On site from</small><input type=\"datetime-local\" name=\"from\" id=\"case-from\"></label>\
             <label>现场结束 <small>to</small><input type=\"datetime-local\" name=\"to\" id=\"case-to\"></label>\
             <button type=\"submit\" id=\"create-case\">新建 Create</button></form>",
            csrf = esc(&who.csrf),
        );
    }
    body.push_str("<p><a href=\"/\">返回 Back</a></p>");
    page("案件 Cases · evidock", Some(who), &body)
}

/// `GET /case/{number}`: a case as its folders' label and manifest see it, with its footage
/// and descriptions; for a custodian or archivist, the form to describe the case.
pub(super) async fn case(
    State(w): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::extract::Path(number): axum::extract::Path<String>,
    Query(q): Query<Notice>,
) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    let c = match w.call(&s, api::Request::CaseShow(api::cases::ShowArgs { number: number.clone() })).await {
        Ok(api::Reply::CaseShow(c)) => c,
        Ok(other) => return super::unexpected(&other),
        Err(e) => return api_error_page(&e),
    };
    let proposed = match w.call(&s, api::Request::CasePropose(api::cases::ShowArgs { number: number.clone() })).await {
        Ok(api::Reply::CasePropose(p)) => p,
        Ok(other) => return super::unexpected(&other),
        Err(e) => return api_error_page(&e),
    };
    let asked = api::cases::HistoryOf { case: Some(number), recording: None };
    let history = match w.call(&s, api::Request::DescribeHistory(asked)).await {
        Ok(api::Reply::DescribeHistory(h)) => h,
        Ok(other) => return super::unexpected(&other),
        Err(e) => return api_error_page(&e),
    };
    let marks = match w.call(&s, super::marks::marks_of(super::marks::Subject::Case(&c.number))).await {
        Ok(api::Reply::AccessMarks(m)) => m,
        Ok(other) => return super::unexpected(&other),
        Err(e) => return api_error_page(&e),
    };
    let text = match q.done.as_str() {
        "described" => Some("说明已保存 / the description is saved"),
        "relabelled" => Some("案件信息已修改 / the case is relabelled"),
        "filed" => Some("已归入案件 / the footage is filed into the case"),
        other => super::marks::notice(other),
    };
    Html(render_case(&s, &c, &Extra { proposed: &proposed, history: &history, marks: &marks }, text)).into_response()
}

/// `POST /case/{number}/label`: the case's label replaced (party, officers, kind, one on-site
/// window), its folders' labels and manifests written again.
pub(super) async fn label_case(
    State(w): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::extract::Path(number): axum::extract::Path<String>,
    Form(f): Form<CaseForm>,
) -> Response {
    let session = match w.changing(&headers, &f.csrf, "case_label").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let label = match label_of(&number, &f) {
        Ok(l) => l,
        Err(e) => return api_error_page(&e),
    };
    match w.call(&session, api::Request::CaseLabel(label)).await {
        Ok(_) => see_other_to(&format!("/case/{}?done=relabelled", super::archive::percent(&number))),
        Err(e) => api_error_page(&e),
    }
}

/// `POST /case/{number}/file`: the proposed footage the person ticked (a `file` field per
/// archive path), filed into the case (`case_assign`).
pub(super) async fn file_proposed(
    State(w): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::extract::Path(number): axum::extract::Path<String>,
    axum::extract::RawForm(body): axum::extract::RawForm,
) -> Response {
    let mut csrf = String::new();
    let mut files = Vec::new();
    for (k, v) in form_urlencoded::parse(&body) {
        match &*k {
            "csrf" => csrf = v.into_owned(),
            "file" => files.extend(opt(&v)),
            _ => {}
        }
    }
    let session = match w.changing(&headers, &csrf, "case_assign").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let request = api::Request::CaseAssign(api::cases::Assign { number: number.clone(), files, ..Default::default() });
    match w.call(&session, request).await {
        Ok(_) => see_other_to(&format!("/case/{}?done=filed", super::archive::percent(&number))),
        Err(e) => api_error_page(&e),
    }
}

/// The case description form.
#[derive(Debug, Default, Deserialize)]
pub struct DescribeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    place: String,
}

/// `POST /case/{number}/describe`: the case's description (S4 §23), superseding the last.
pub(super) async fn describe_case(
    State(w): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::extract::Path(number): axum::extract::Path<String>,
    Form(f): Form<DescribeForm>,
) -> Response {
    let session = match w.changing(&headers, &f.csrf, "describe").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let request = api::Request::Describe(api::cases::Describe {
        case: Some(number.clone()),
        recording: None,
        subject: opt(&f.subject),
        content: opt(&f.content),
        place: opt(&f.place),
    });
    match w.call(&session, request).await {
        Ok(_) => see_other_to(&format!("/case/{}?done=described", super::archive::percent(&number))),
        Err(e) => api_error_page(&e),
    }
}

/// What the case page shows beside the case itself.
pub struct Extra<'a> {
    /// The footage proposed for it.
    pub proposed: &'a [api::cases::Proposed],
    /// Every description written of it.
    pub history: &'a [api::cases::Written],
    /// Its confidentiality marks in force.
    pub marks: &'a [api::marks::MarkRow],
}

/// The case page.
pub fn render_case(who: &Session, c: &api::cases::CaseView, extra: &Extra<'_>, notice: Option<&str>) -> String {
    let Extra { proposed, history, marks } = *extra;
    let link = super::archive::percent(&c.number);
    let mut body = format!("<h1>案件 {} <small>Case</small></h1>", esc(&c.number));
    if let Some(n) = notice {
        let _ = write!(body, "<p class=\"done\" id=\"done\">{}</p>", esc(n));
    }
    let _ = write!(body, "<pre class=\"label\" id=\"label\">{}</pre>", super::render::esc_lines(&c.label));
    if let Some(d) = &c.description {
        let _ = write!(
            body,
            "<p id=\"described-by\">说明人 <small>Described by</small> {}{}，{}</p>",
            esc(&d.written_by),
            esc(&d.officer.as_deref().map(|o| format!("（警号 {o}）")).unwrap_or_default()),
            esc(&d.written_at),
        );
    }
    body.push_str(
        "<h2>录像 <small>Footage</small></h2><table id=\"files\"><thead><tr><th>文件 File</th><th>录像 Recording</th>\
         <th>说明 Description</th></tr></thead><tbody>",
    );
    for f in &c.files {
        let _ = write!(
            body,
            "<tr><td>{path}{linked}</td><td>{rec}</td><td>{desc}</td></tr>",
            path = esc(&f.path),
            linked = if f.linked { " <small>（链接 linked）</small>" } else { "" },
            rec = esc(f.recording.as_deref().unwrap_or("—")),
            desc = esc(&f.description.as_ref().map(|d| d.lines().join("；")).unwrap_or_default()),
        );
    }
    if c.files.is_empty() {
        body.push_str("<tr><td colspan=\"3\">尚无归档录像 / no footage filed yet</td></tr>");
    }
    body.push_str("</tbody></table>");
    // Filers file what is proposed (an officer files their own footage from /mine).
    let files_it = may(who, Op::CaseLabel);
    body.push_str("<h2>拟归入录像 <small>Proposed footage</small></h2>");
    if c.windows.is_empty() || c.officers.is_empty() {
        body.push_str(
            "<p id=\"proposed\">尚未填写承办人员和现场时段，无法推荐录像 \
             <small>Give the case its handling officers and on-site window to have their footage proposed</small></p>",
        );
    } else if proposed.is_empty() {
        body.push_str(
            "<p id=\"proposed\">无匹配录像：承办人员在现场时段内的录像均已归档 \
             <small>No footage of the handling officers within the on-site windows is left to file</small></p>",
        );
    } else {
        // A filer ticks what to file (all, at first); anyone else reads the list.
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/case/{link}/file\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <ul id=\"proposed\">",
            link = esc(&link),
            csrf = esc(&who.csrf),
        );
        for (i, p) in proposed.iter().enumerate() {
            let tick = if files_it {
                format!(
                    "<input type=\"checkbox\" name=\"file\" id=\"propose-{i}\" value=\"{}\" checked> ",
                    esc(&p.path)
                )
            } else {
                String::new()
            };
            let _ = write!(body, "<li><label>{tick}{} <small>{} B</small></label></li>", esc(&p.path), p.size);
        }
        body.push_str("</ul>");
        if files_it {
            body.push_str(
                "<button type=\"submit\" id=\"file-proposed\">归入本案 File the ticked footage into the case</button>",
            );
        }
        body.push_str("</form>");
    }
    if !history.is_empty() {
        body.push_str("<h2>说明记录 <small>Descriptions written</small></h2><ol id=\"descriptions\">");
        for h in history {
            let v = &h.view;
            let _ = write!(
                body,
                "<li>{at} {by}{badge}：{text}</li>",
                at = esc(&v.written_at),
                by = esc(&v.written_by),
                badge = esc(&v.officer.as_deref().map(|o| format!("（警号 {o}）")).unwrap_or_default()),
                text = esc(&v.lines().join("；")),
            );
        }
        body.push_str("</ol>");
    }
    if may(who, Op::CaseLabel) {
        let (from, to) = c.windows.first().map_or(("", ""), |[a, b]| (a.as_str(), b.as_str()));
        let _ = write!(
            body,
            "<h2>修改案件信息 <small>Relabel the case</small></h2>\
             <form method=\"post\" action=\"/case/{link}/label\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>当事人 <small>Party</small><input name=\"party\" id=\"label-party\" value=\"{party}\"></label>\
             <label>承办人员警号 <small>Officers (numbers)</small><input name=\"officers\" id=\"label-officers\" value=\"{officers}\"></label>\
             <label>类别 <small>Kind</small><select name=\"kind\" id=\"label-kind\">{kinds}</select></label>\
             <label>现场开始 <small>On site from</small><input type=\"datetime-local\" step=\"1\" name=\"from\" id=\"label-from\" value=\"{from}\"></label>\
             <label>现场结束 <small>to</small><input type=\"datetime-local\" step=\"1\" name=\"to\" id=\"label-to\" value=\"{to}\"></label>\
             <button type=\"submit\" id=\"relabel-case\">保存案件信息 Save the label</button></form>",
            link = esc(&link),
            csrf = esc(&who.csrf),
            party = esc(c.party.as_deref().unwrap_or("")),
            officers = esc(&c.officers.join("，")),
            kinds = kind_options(&c.kind),
            from = esc(from),
            to = esc(to),
        );
    }
    if may(who, Op::CaseCreate) {
        let d = c.description.as_ref();
        let v = |x: Option<&Option<String>>| esc(x.and_then(Option::as_deref).unwrap_or(""));
        let _ = write!(
            body,
            "<h2>案件说明 <small>Describe the case</small></h2>\
             <form method=\"post\" action=\"/case/{link}/describe\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>执法对象 <small>Party or object</small><input name=\"subject\" id=\"case-subject\" value=\"{s}\" maxlength=\"200\"></label>\
             <label>执法内容 <small>What was done</small><input name=\"content\" id=\"case-content\" value=\"{co}\" maxlength=\"2000\"></label>\
             <label>取证地点 <small>Place</small><input name=\"place\" id=\"case-place\" value=\"{p}\" maxlength=\"200\"></label>\
             <button type=\"submit\" id=\"describe-case\">保存说明 Save description</button></form>",
            link = esc(&link),
            csrf = esc(&who.csrf),
            s = v(d.map(|d| &d.subject)),
            co = v(d.map(|d| &d.content)),
            p = v(d.map(|d| &d.place)),
        );
    }
    body.push_str(&super::marks::section(who, super::marks::Subject::Case(&c.number), marks));
    let _ = write!(
        body,
        "<p><a href=\"/case/{l}/history\" id=\"to-history\">证据保管链（可打印） <small>Chain of custody, printable</small></a> · \
         <a href=\"/cases\">案件 Cases</a> · <a href=\"/\">返回 Back</a></p>",
        l = esc(&link)
    );
    page("案件 Case · evidock", Some(who), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usb_field_splits_on_spaces_commas_and_chinese_marks() {
        assert_eq!(
            usb_list(" 2e3c:5740:HK01，2e3c:5741:HK01、1234:abcd:X\n46f4:0001:Y ; "),
            vec!["2e3c:5740:HK01", "2e3c:5741:HK01", "1234:abcd:X", "46f4:0001:Y"]
        );
        assert!(usb_list("  ").is_empty());
    }
}
