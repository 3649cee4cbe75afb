//! The discs that keep long-term footage (`/discs`, R7; S3 §27): every registered disc with
//! its state, place and holder (`disc_list`), and the plan of what would go on which disc
//! (`burn_plan`); a custodian or archivist records a move to
//! another place or holder with the reason (`disc_move`) and gives up a disc that will never
//! be verified (`disc_abandon`). A custodian or archivist starts the burn job's steps from
//! here (`burn_start`: make the discs, write one, verify the disc in the burner, re-check
//! one), each a process of its own, and follows them (`burn_jobs`, the page reloading itself
//! while one runs). Each change carries the session's CSRF token and answers 303 back.
//! Renders; holds no station logic.

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
use crate::api::discs::{Abandon, Disc, Move, PlanArgs, StartArgs};
use crate::api::{self, ApiError, NoArgs, Op};
use crate::job::launch::JobRecord;

/// `GET /discs`'s query: the notice of a change just made.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
    /// The medium to plan for (`bd25`, `dvd`, …); empty: no plan shown.
    #[serde(default)]
    media: String,
}

/// `GET /discs`.
pub(super) async fn discs(State(w): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query<Done>) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    let notice = match q.done.as_str() {
        "moved" => Some("光盘已移交 / the disc's move is recorded"),
        "abandoned" => {
            Some("光盘已作废，录像重新列入刻录计划 / the disc is given up; its footage returns to the next plan")
        }
        "started" => Some("刻录步骤已启动，进度见下方 / the burn step is started; it shows below"),
        _ => None,
    };
    let jobs = match w.call(&s, api::Request::BurnJobs(NoArgs {})).await {
        Ok(api::Reply::BurnJobs(j)) => j,
        Ok(other) => return super::unexpected(&other),
        Err(e) => return api_error_page(&e),
    };
    let plan = match opt(&q.media) {
        None => None,
        Some(media) => match w.call(&s, api::Request::BurnPlan(PlanArgs { media })).await {
            Ok(api::Reply::BurnPlan(p)) => Some(p.text),
            Ok(other) => return super::unexpected(&other),
            Err(e) => return api_error_page(&e),
        },
    };
    match w.call(&s, api::Request::DiscList(NoArgs {})).await {
        Ok(api::Reply::DiscList(list)) => {
            Html(render(&s, &list, &jobs, w.config.timezone, plan.as_deref(), notice)).into_response()
        }
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// A burn step to start, as the browser sends it.
#[derive(Debug, Default, Deserialize)]
pub struct StartForm {
    #[serde(default)]
    csrf: String,
    /// `run`, `write`, `verify` or `recheck`.
    #[serde(default)]
    step: String,
    #[serde(default)]
    media: String,
    #[serde(default)]
    label: String,
}

/// `POST /discs/burn`.
pub(super) async fn start(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<StartForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "burn_start").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let request = api::Request::BurnStart(StartArgs { step: f.step, media: opt(&f.media), label: opt(&f.label) });
    match w.call(&session, request).await {
        Ok(api::Reply::BurnStart(_)) => see_other("/discs?done=started"),
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// A change, as the browser sends it.
#[derive(Debug, Default, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    /// `move` or `abandon`.
    #[serde(default)]
    action: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    holder: String,
    #[serde(default)]
    reason: String,
}

/// `POST /discs/change`.
pub(super) async fn change(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<ChangeForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "disc").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (request, done) = match f.action.as_str() {
        "move" => (
            api::Request::DiscMove(Move {
                label: f.label,
                location: opt(&f.location),
                holder: opt(&f.holder),
                reason: f.reason,
            }),
            "moved",
        ),
        "abandon" => (api::Request::DiscAbandon(Abandon { label: f.label, reason: f.reason }), "abandoned"),
        other => return api_error_page(&ApiError::invalid(format!("action {other:?} / 操作不正确"))),
    };
    match w.call(&session, request).await {
        Ok(_) => see_other_to(&format!("/discs?done={done}")),
        Err(e) => api_error_page(&e),
    }
}

/// The discs page, with the plan of the medium asked for.
pub fn render(
    who: &Session,
    list: &[Disc],
    jobs: &[JobRecord],
    tz: chrono_tz::Tz,
    plan: Option<&str>,
    notice: Option<&str>,
) -> String {
    let csrf = esc(&who.csrf);
    let mut body = String::from("<h1>光盘 <small>Discs</small></h1>");
    if let Some(n) = notice {
        let _ = write!(body, "<p class=\"done\" id=\"done\">{}</p>", esc(n));
    }
    body.push_str(
        "<table id=\"discs\"><thead><tr><th>标签 Label</th><th>状态 State</th><th>套 Set</th><th>介质 Media</th>\
         <th>文件 Files</th><th>存放 Stored at</th><th>保管人 Holder</th><th>检查 Checked</th><th></th></tr></thead><tbody>",
    );
    for d in list {
        let l = esc(&d.label);
        let mut forms = String::new();
        if may(who, Op::DiscMove) {
            let _ = write!(
                forms,
                "<details class=\"password\"><summary id=\"to-move-{l}\">移交 <small>Record a move</small></summary>\
                 <form method=\"post\" action=\"/discs/change\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"action\" value=\"move\"><input type=\"hidden\" name=\"label\" value=\"{l}\">\
                 <label>存放 <small>Stored at</small><input name=\"location\" id=\"location-{l}\"></label>\
                 <label>保管人 <small>Holder</small><input name=\"holder\" id=\"holder-{l}\"></label>\
                 <label>理由 <small>Reason</small><input name=\"reason\" id=\"move-reason-{l}\" required></label>\
                 <button type=\"submit\" id=\"move-{l}\">移交 Record the move</button></form></details>"
            );
        }
        if may(who, Op::DiscAbandon) && matches!(d.state.as_str(), "planned" | "staged" | "written") {
            let _ = write!(
                forms,
                "<details class=\"password\"><summary id=\"to-abandon-{l}\">作废 <small>Give up</small></summary>\
                 <form method=\"post\" action=\"/discs/change\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"action\" value=\"abandon\"><input type=\"hidden\" name=\"label\" value=\"{l}\">\
                 <label>作废理由 <small>Why give it up</small><input name=\"reason\" id=\"abandon-reason-{l}\" required></label>\
                 <button type=\"submit\" id=\"abandon-{l}\">作废 Give up</button></form></details>"
            );
        }
        let checked = match (&d.last_check, &d.last_result) {
            (Some(t), Some(r)) => format!("{t} {r}"),
            _ => "—".to_string(),
        };
        let _ = write!(
            body,
            "<tr id=\"disc-{l}\"><td>{l}</td><td>{zh} <small>{state}</small></td><td>{n}/{of}</td><td>{media}</td>\
             <td>{files}</td><td>{at}</td><td>{holder}</td><td>{checked}</td><td>{forms}</td></tr>",
            zh = esc(&d.state_zh),
            state = esc(&d.state),
            n = d.number,
            of = d.of,
            media = esc(&d.media),
            files = d.files,
            at = esc(d.location.as_deref().unwrap_or("—")),
            holder = esc(d.holder.as_deref().unwrap_or("—")),
            checked = esc(&checked),
        );
    }
    if list.is_empty() {
        body.push_str("<tr><td colspan=\"9\">尚无登记的光盘 / no disc registered</td></tr>");
    }
    body.push_str("</tbody></table>");
    let mut media = String::new();
    for m in ["bd25", "bd50", "bd100", "dvd"] {
        let _ = write!(media, "<option value=\"{m}\">{m}</option>");
    }
    let _ = write!(
        body,
        "<h2>刻录计划 <small>Burn plan</small></h2>\
         <p>需要刻录的长期保存录像将如何分配到光盘（仅查看，不写入、不记录）。<small>Which long-term footage would go on \
         which disc (nothing is written or logged); discs are made by the supervised burn job.</small></p>\
         <form method=\"get\" action=\"/discs\" class=\"search\"><label>介质 <small>Media</small>\
         <select name=\"media\" id=\"plan-media\">{media}</select></label>\
         <button type=\"submit\" id=\"show-plan\">查看计划 Show the plan</button></form>"
    );
    if let Some(p) = plan {
        let _ = write!(body, "<pre id=\"plan\">{}</pre>", super::render::esc_lines(p));
    }
    if may(who, Op::BurnStart) {
        body.push_str(&burn_forms(&csrf, list, &media));
    }
    body.push_str(&job_list(jobs, tz));
    body.push_str("<p><a href=\"/\">返回 Back</a></p>");
    page("光盘 Discs · evidock", Some(who), &body)
}

/// The forms that start the burn job's steps: make the discs of a medium, write a staged disc,
/// verify or re-check the disc in the burner.
fn burn_forms(csrf: &str, list: &[Disc], media: &str) -> String {
    let start = |step: &str, fields: &str, id: &str, label: &str| {
        format!(
            "<form method=\"post\" action=\"/discs/burn\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"step\" value=\"{step}\">{fields}<button type=\"submit\" id=\"{id}\">{label}</button></form>"
        )
    };
    let mut out = String::from(
        "<h2>刻录 <small>Burn</small></h2><p>每一步单独运行，同一时间只运行一步；光盘经全部读回校验后才计为副本。\
         <small>Each step runs as a process of its own, one at a time; a disc counts as a copy only once it is read \
         back whole.</small></p>",
    );
    out.push_str(&start(
        "run",
        &format!("<label>介质 <small>Media</small><select name=\"media\" id=\"burn-media\">{media}</select></label>"),
        "burn-run",
        "备妥光盘 <small>Stage the discs</small>",
    ));
    let staged: Vec<&Disc> = list.iter().filter(|d| matches!(d.state.as_str(), "staged" | "written")).collect();
    if !staged.is_empty() {
        let options: String =
            staged.iter().map(|d| format!("<option value=\"{l}\">{l}</option>", l = esc(&d.label))).collect();
        out.push_str(&start(
            "write",
            &format!(
                "<label>光盘 <small>Disc</small><select name=\"label\" id=\"burn-label\">{options}</select></label>"
            ),
            "burn-write",
            "写入空白光盘 <small>Write onto the blank disc</small>",
        ));
    }
    out.push_str(&start("verify", "", "burn-verify", "校验光驱中的光盘 <small>Verify the disc in the burner</small>"));
    out.push_str(&start(
        "recheck",
        "",
        "burn-recheck",
        "复检光驱中的光盘 <small>Re-check the disc in the burner</small>",
    ));
    out
}

/// The burn steps started from the page, newest first, each with the end of its output and
/// its times in station time; the page reloads itself while one runs.
fn job_list(jobs: &[JobRecord], tz: chrono_tz::Tz) -> String {
    use crate::report::history::station_time_named;
    if jobs.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    if jobs.iter().any(|j| j.state == "running") {
        out.push_str("<meta http-equiv=\"refresh\" content=\"3\">");
    }
    out.push_str("<h2>刻录步骤 <small>Burn steps</small></h2><div id=\"jobs\">");
    for j in jobs {
        let ended = j.ended.as_deref().map(|t| format!(" → {}", esc(&station_time_named(t, tz)))).unwrap_or_default();
        let _ = write!(
            out,
            "<div class=\"job\" id=\"job-{id}\"><p><b>{id}</b> · <code>{what}</code> · {by} · {started}{ended} · \
             <span class=\"state\" id=\"job-state-{id}\">{zh} <small>{state}{exit}</small></span></p><pre>{tail}</pre></div>",
            id = j.id,
            what = esc(&j.what),
            by = esc(&j.by),
            started = esc(&station_time_named(&j.started, tz)),
            zh = esc(&j.state_zh),
            state = esc(&j.state),
            exit = j.exit.map(|c| format!(" (exit {c})")).unwrap_or_default(),
            tail = super::render::esc_lines(&j.tail.join("\n")),
        );
    }
    out.push_str("</div>");
    out
}
