//! The station's central copy on the web page (R1, R7, R11; INV-18, INV-20): `/central` shows
//! the backlog (`replicate_status`: files not yet proven off the station, their age, failures,
//! alarms, local copies evicted); an administrator or archivist runs a replication pass now
//! (`replicate_run`), a custodian or administrator evicts the local copies the rules allow,
//! after a dry run that says what would go (`replicate_evict`), and a custodian or archivist
//! brings evicted footage back by case number or archive path (`replicate_recall`), checked
//! against the custody log's hash. Each change carries the session's CSRF token. What may be
//! evicted, and every proof, are the station API's. Renders; holds no station logic.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::render::{esc, may, page};
use super::{api_error_page, see_other, see_other_to, Shared};
use crate::accounts::sessions::Session;
use crate::api::replicate::{self, Backlog, Evicted, PassReply, Recalled};
use crate::api::{self, ApiError, ErrorKind, Op};

/// `GET /central`'s query: the notice of a pass just run.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
    #[serde(default)]
    confirmed: u64,
    #[serde(default)]
    failed: u64,
    #[serde(default)]
    blocked: u64,
}

fn notice(q: &Done) -> Option<String> {
    match q.done.as_str() {
        "run" => Some(format!(
            "复制已运行：新确认 {c} 个文件，失败 {f}，受阻 {b} / pass run: {c} files newly confirmed, {f} failed, {b} blocked",
            c = q.confirmed,
            f = q.failed,
            b = q.blocked
        )),
        _ => None,
    }
}

/// `GET /central`: the central copy's numbers and the forms.
pub(super) async fn central(State(w): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query<Done>) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    match w.call(&s, api::Request::ReplicateStatus(replicate::StatusArgs {})).await {
        Ok(api::Reply::ReplicateStatus(b)) => Html(render(&s, &b, notice(&q).as_deref(), "")).into_response(),
        Ok(other) => super::unexpected(&other),
        // A station without a central store says so on the page itself.
        Err(e) if e.kind == ErrorKind::Invalid => Html(render_none(&s, &e.message)).into_response(),
        Err(e) => api_error_page(&e),
    }
}

/// A change on the page, as the browser sends it.
#[derive(Debug, Default, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    /// `run`, `evict_dry_run`, `evict` or `recall`.
    #[serde(default)]
    action: String,
    /// What to recall: a case number or an evicted file's archive path.
    #[serde(default)]
    what: String,
}

/// `POST /central/change`: a pass answers 303 back with its numbers; an eviction (or its dry
/// run) and a recall answer with the page and what they did.
pub(super) async fn change(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<ChangeForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "replicate").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let request = match f.action.as_str() {
        "run" => api::Request::ReplicateRun(replicate::RunArgs {}),
        "evict_dry_run" => api::Request::ReplicateEvict(replicate::Evict { dry_run: true }),
        "evict" => api::Request::ReplicateEvict(replicate::Evict { dry_run: false }),
        "recall" => api::Request::ReplicateRecall(replicate::Recall { what: f.what.trim().to_string() }),
        other => return api_error_page(&ApiError::invalid(format!("action {other:?} / 操作不正确"))),
    };
    let done = match w.call(&session, request).await {
        Ok(api::Reply::ReplicateRun(PassReply { confirmed, failed, blocked, .. })) => {
            return see_other_to(&format!("/central?done=run&confirmed={confirmed}&failed={failed}&blocked={blocked}"))
        }
        Ok(api::Reply::ReplicateEvict(e)) => render_evicted(&e),
        Ok(api::Reply::ReplicateRecall(r)) => render_recalled(&r),
        Ok(other) => return super::unexpected(&other),
        Err(e) => return api_error_page(&e),
    };
    match w.call(&session, api::Request::ReplicateStatus(replicate::StatusArgs {})).await {
        Ok(api::Reply::ReplicateStatus(b)) => Html(render(&session, &b, None, &done)).into_response(),
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// Bytes for people (binary units).
fn bytes(n: u64) -> String {
    crate::scrub::bytes_text(n)
}

/// What an eviction, or its dry run, did.
fn render_evicted(e: &Evicted) -> String {
    let mut out = if e.dry_run {
        format!(
            "<section id=\"evicted\"><h2>试运行 <small>Dry run: nothing removed</small></h2>\
             <p>将清除 {n} 个文件的本地副本，均已与保管日志和中心存储核对。 \
             <small>{n} files' local copies would go, each proven against the custody log and the store.</small></p>",
            n = e.chosen.len()
        )
    } else {
        format!(
            "<section id=\"evicted\"><h2>已清除本地副本 <small>Local copies evicted</small></h2>\
             <p>{n} 个文件，{b}。 <small>{n} files, {b}.</small></p>",
            n = e.evicted,
            b = bytes(e.evicted_bytes)
        )
    };
    if let Some(d) = e.disk {
        let pct = d.used.saturating_mul(100).checked_div(d.total).unwrap_or(0);
        let _ = write!(out, "<p>档案盘 Archive disk: {} / {} ({pct}%)</p>", bytes(d.used), bytes(d.total));
    }
    if !e.chosen.is_empty() {
        out.push_str("<ul class=\"chosen\">");
        for c in &e.chosen {
            let _ = write!(out, "<li>{} <small>{} · {}</small></li>", esc(&c.path), bytes(c.size), esc(&c.rule));
        }
        out.push_str("</ul>");
    }
    if !e.refused.is_empty() {
        let _ = write!(
            out,
            "<p class=\"notice\" id=\"evict-refused\">{} 个文件核对未通过，保留本地副本并已发出警报 \
             <small>files kept: their proof failed (alarm raised)</small></p><ul>",
            e.refused.len()
        );
        for k in &e.refused {
            let _ = write!(out, "<li>{} <small>{}</small></li>", esc(&k.path), esc(&k.why));
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
    out
}

/// What a recall brought back.
fn render_recalled(r: &Recalled) -> String {
    let mut out = format!(
        "<section id=\"recalled\"><h2>已取回 <small>Recalled</small></h2>\
         <p class=\"done\">{n} 个文件已从中心存储取回，哈希与保管日志一致。 \
         <small>{n} files brought back from the store, their hashes matching the custody log.</small></p><ul>",
        n = r.recalled.len()
    );
    for v in &r.recalled {
        let paths: Vec<&str> =
            v["paths"].as_array().map(|a| a.iter().filter_map(serde_json::Value::as_str).collect()).unwrap_or_default();
        let _ = write!(
            out,
            "<li>{} <small>{} · 版本 version {}</small></li>",
            esc(&paths.join(", ")),
            bytes(v["size"].as_u64().unwrap_or(0)),
            esc(v["version_id"].as_str().unwrap_or("—"))
        );
    }
    out.push_str("</ul></section>");
    out
}

/// The page of a station without a central store.
fn render_none(who: &Session, message: &str) -> String {
    page(
        "中心存储 Central copy · evidock",
        Some(who),
        &format!(
            "<h1>中心存储 <small>Central copy</small></h1><p class=\"notice\" id=\"no-central\">{}</p>\
             <p><a href=\"/\">返回 Back</a></p>",
            esc(message)
        ),
    )
}

/// The central copy's page: `done` is what a change just did (already HTML).
pub fn render(who: &Session, b: &Backlog, notice: Option<&str>, done: &str) -> String {
    let csrf = esc(&who.csrf);
    let mut body = String::from("<h1>中心存储 <small>Central copy</small></h1>");
    if let Some(n) = notice {
        let _ = write!(body, "<p class=\"done\" id=\"done\">{}</p>", esc(n));
    }
    body.push_str(done);
    if b.alarm() {
        body.push_str(
            "<p class=\"notice\" id=\"central-alarm\">中心存储有警报，请查看“警报与状态” \
             <small>The central copy has an alarm: see Alarms</small></p>",
        );
    }
    let age = b.oldest_age_s.map_or_else(|| "—".to_string(), |s| super::render::duration(s.max(0).unsigned_abs()));
    let _ = write!(
        body,
        "<dl class=\"facts\" id=\"backlog\">\
         <dt>存储 <small>Store</small></dt><dd>{endpoint} · {bucket}</dd>\
         <dt>待上传 <small>Waiting</small></dt><dd id=\"pending\">{pending} 个文件 files · {pending_bytes}</dd>\
         <dt>最早待传录像 <small>Oldest waiting footage</small></dt><dd>{oldest} <small>{age}</small></dd>\
         <dt>已确认 <small>Confirmed off the station</small></dt><dd id=\"confirmed\">{confirmed} 个文件 files · {confirmed_bytes}</dd>\
         <dt>失败 <small>Failing</small></dt><dd id=\"failing\">{failing}{last_error}</dd>\
         <dt>受阻 <small>Blocked</small></dt><dd>{blocked}</dd>\
         <dt>最近一次 <small>Last pass</small></dt><dd>{last_pass}{last_pass_error}</dd>\
         <dt>本地副本已清除 <small>Local copies evicted</small></dt><dd id=\"evicted-count\">{evicted} 个文件 files · {evicted_bytes}</dd>\
         <dt>清除规则 <small>Eviction rules</small></dt><dd>{rules}</dd></dl>",
        endpoint = esc(b.endpoint.as_deref().unwrap_or("—")),
        bucket = esc(b.bucket.as_deref().unwrap_or("—")),
        pending = b.pending,
        pending_bytes = bytes(b.pending_bytes),
        oldest = esc(b.oldest_footage.as_deref().or(b.oldest_recorded.as_deref()).unwrap_or("—")),
        confirmed = b.confirmed,
        confirmed_bytes = bytes(b.confirmed_bytes),
        failing = b.failing,
        last_error = b.last_error.as_deref().map(|e| format!(" <small>{}</small>", esc(e))).unwrap_or_default(),
        blocked = b.blocked,
        last_pass = esc(b.last_pass.as_deref().unwrap_or("—")),
        last_pass_error = b.last_pass_error.as_deref().map(|e| format!(" <small>{}</small>", esc(e))).unwrap_or_default(),
        evicted = b.evicted,
        evicted_bytes = bytes(b.evicted_bytes),
        rules = esc(&match (b.evict_after_days, b.evict_at_disk_percent) {
            (None, None) => "未开启 off".to_string(),
            (d, p) => [
                d.map(|d| format!("确认 {d} 天后 {d} days after confirmation")),
                p.map(|p| format!("档案盘超过 {p}% disk above {p}%")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · "),
        }),
    );
    if may(who, Op::ReplicateRun) {
        let _ = write!(
            body,
            "<h2>立即复制 <small>Replicate now</small></h2>\
             <p><small>服务按设定间隔自动复制；此处立即运行一次（先以存储核对本站状态）。 \
             The service replicates on its interval; this runs one pass now, the store checked as witness first.</small></p>\
             <form method=\"post\" action=\"/central/change\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"action\" value=\"run\"><button type=\"submit\" id=\"run-pass\">立即复制 Run a pass</button></form>"
        );
    }
    if may(who, Op::ReplicateEvict) && (b.evict_after_days.is_some() || b.evict_at_disk_percent.is_some()) {
        let _ = write!(
            body,
            "<h2>清除本地副本 <small>Evict local copies</small></h2>\
             <p><small>仅清除已在中心存储确认、未冻结、且规则允许的录像；每个文件先与保管日志和存储版本核对。 \
             Only footage confirmed in the store, with no hold, that the rules allow; each file proven against the custody log \
             and the store's version first.</small></p>\
             <form method=\"post\" action=\"/central/change\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"action\" value=\"evict_dry_run\"><button type=\"submit\" id=\"evict-dry-run\">试运行 Dry run</button></form>\
             <details><summary>清除 <small>Evict (the files can be recalled from the store)</small></summary>\
             <form method=\"post\" action=\"/central/change\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"action\" value=\"evict\"><button type=\"submit\" id=\"evict\">确认清除 Evict now</button></form></details>"
        );
    }
    if may(who, Op::ReplicateRecall) {
        let _ = write!(
            body,
            "<h2>取回 <small>Recall evicted footage</small></h2>\
             <form method=\"post\" action=\"/central/change\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"action\" value=\"recall\">\
             <label>案件编号或档案路径 <small>Case number, or an evicted file's archive path</small>\
             <input name=\"what\" id=\"recall-what\" required></label>\
             <button type=\"submit\" id=\"recall\">取回 Recall</button></form>"
        );
    }
    body.push_str("<p><a href=\"/alarms\">警报与状态 Alarms</a> · <a href=\"/\">返回 Back</a></p>");
    page("中心存储 Central copy · evidock", Some(who), &body)
}
