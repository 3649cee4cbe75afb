//! The supervisor's and archivist's reports (`/reports`): the compliance report over a period
//! (`report_compliance`) and a reproducible spot check of recordings to replay
//! (`report_spot_check`), made through the station API as the signed-in account, each a
//! `report_made` event naming them. A report is made by a form with the session's CSRF token
//! (it writes to the custody log) and answered as its document: a page that prints (under a
//! policy that allows only its own style sheet), a CSV file for a spreadsheet, or JSON.
//! Renders; holds no station logic.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::archive::given as opt;
use super::render::{esc, page};
use super::{api_error_page, see_other, Shared};
use crate::accounts::sessions::Session;
use crate::api::report::{ComplianceArgs, Document, Format, SpotCheckArgs};
use crate::api::{self, ApiError};

/// `GET /reports`: the forms.
pub(super) async fn reports(State(w): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    let today = chrono::Utc::now().with_timezone(&w.config.timezone).date_naive();
    Html(render(&s, today)).into_response()
}

/// A report form, as the browser sends it.
#[derive(Debug, Default, Deserialize)]
pub struct ReportForm {
    #[serde(default)]
    pub(super) csrf: String,
    #[serde(default)]
    pub(super) from: String,
    #[serde(default)]
    pub(super) to: String,
    #[serde(default)]
    format: String,
    /// The spot check's size.
    #[serde(default)]
    sample: String,
    /// The spot check's seed (blank: from the clock).
    #[serde(default)]
    seed: String,
}

fn format_of(f: &str) -> Result<Format, ApiError> {
    match f.trim() {
        "" | "html" => Ok(Format::Html),
        "csv" => Ok(Format::Csv),
        "json" => Ok(Format::Json),
        other => Err(ApiError::invalid(format!(
            "format {other:?}: expected html, csv or json / 报告格式应为 html、csv 或 json"
        ))),
    }
}

/// `POST /reports/compliance`.
pub(super) async fn compliance(
    State(w): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(f): Form<ReportForm>,
) -> Response {
    let session = match w.changing(&headers, &f.csrf, "report_compliance").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let format = match format_of(&f.format) {
        Ok(x) => x,
        Err(e) => return api_error_page(&e),
    };
    let name = format!("compliance-{}-{}", f.from.trim(), f.to.trim());
    let request = api::Request::ReportCompliance(ComplianceArgs { from: f.from, to: f.to, format });
    match w.call(&session, request).await {
        Ok(api::Reply::ReportCompliance(d)) => document(&d, &name),
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// `POST /reports/spot-check`.
pub(super) async fn spot_check(
    State(w): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(f): Form<ReportForm>,
) -> Response {
    let session = match w.changing(&headers, &f.csrf, "report_spot_check").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let format = match format_of(&f.format) {
        Ok(x) => x,
        Err(e) => return api_error_page(&e),
    };
    let sample = match f.sample.trim().parse::<usize>() {
        Ok(n) if n > 0 => n,
        _ => {
            return api_error_page(&ApiError::invalid(format!(
                "sample {:?}: how many recordings to draw, a whole number above 0 / 抽查数量应为正整数",
                f.sample
            )))
        }
    };
    let name = format!("spot-check-{}-{}", f.from.trim(), f.to.trim());
    let request =
        api::Request::ReportSpotCheck(SpotCheckArgs { sample, seed: opt(&f.seed), from: f.from, to: f.to, format });
    match w.call(&session, request).await {
        Ok(api::Reply::ReportSpotCheck(d)) => document(&d, &name),
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// A report's document as the browser takes it: a page that prints, or a file to save named
/// `name` with its extension.
fn document(d: &Document, name: &str) -> Response {
    let attachment = |ext: &str| {
        // The name is the period's days (ASCII when they are dates; anything else is dropped).
        let safe: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        HeaderValue::from_str(&format!("attachment; filename=\"{safe}.{ext}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
    };
    match d.format {
        Format::Html => super::archive::printable(d.text.clone()),
        Format::Table => {
            ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))], d.text.clone())
                .into_response()
        }
        Format::Csv => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
                (header::CONTENT_DISPOSITION, attachment("csv")),
            ],
            d.text.clone(),
        )
            .into_response(),
        Format::Json => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8")),
                (header::CONTENT_DISPOSITION, attachment("json")),
            ],
            d.text.clone(),
        )
            .into_response(),
    }
}

/// The reports page: the two forms, the period this month so far unless changed.
pub fn render(who: &Session, today: chrono::NaiveDate) -> String {
    use chrono::Datelike as _;
    let first = today.with_day(1).unwrap_or(today);
    let formats =
        "<option value=\"html\">打印页 Printable page</option><option value=\"csv\">CSV 表格 Spreadsheet</option>\
                   <option value=\"json\">JSON</option>";
    let mut body = String::from("<h1>报告 <small>Reports</small></h1>");
    let _ = write!(
        body,
        "<h2>合规报告 <small>Compliance report</small></h2>\
         <p>按执法人员和记录仪统计期间内的问题：逾期入库、未登记记录仪、时间偏差、中断未说明、未关联案件、归档巡检等。\
         <small>Findings per officer and recorder over the period: late ingest, unregistered recorders, clock drift, \
         unexplained gaps, footage not filed into a case, the archive scrub.</small></p>\
         <form method=\"post\" action=\"/reports/compliance\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>起 <small>From</small><input type=\"date\" name=\"from\" id=\"compliance-from\" value=\"{first}\" required></label>\
         <label>止 <small>To</small><input type=\"date\" name=\"to\" id=\"compliance-to\" value=\"{today}\" required></label>\
         <label>格式 <small>Format</small><select name=\"format\" id=\"compliance-format\">{formats}</select></label>\
         <button type=\"submit\" id=\"make-compliance\">生成 Make</button></form>\
         <h2>抽查 <small>Spot check</small></h2>\
         <p>从期间内开始的录像中随机抽取，可用同一种子复现。<small>A random draw of the recordings that start in the period, \
         reproducible from its seed.</small></p>\
         <form method=\"post\" action=\"/reports/spot-check\" class=\"change\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>数量 <small>How many</small><input type=\"number\" min=\"1\" name=\"sample\" id=\"spot-sample\" value=\"5\" required></label>\
         <label>种子 <small>Seed (blank: from the clock)</small><input name=\"seed\" id=\"spot-seed\" inputmode=\"numeric\"></label>\
         <label>起 <small>From</small><input type=\"date\" name=\"from\" id=\"spot-from\" value=\"{first}\" required></label>\
         <label>止 <small>To</small><input type=\"date\" name=\"to\" id=\"spot-to\" value=\"{today}\" required></label>\
         <label>格式 <small>Format</small><select name=\"format\" id=\"spot-format\">{formats}</select></label>\
         <button type=\"submit\" id=\"make-spot-check\">抽取 Draw</button></form>\
         <p><a href=\"/\">返回 Back</a></p>",
        csrf = esc(&who.csrf),
    );
    page("报告 Reports · evidock", Some(who), &body)
}
