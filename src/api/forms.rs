//! `access_view`, `access_form`, `access_register`: footage viewed at the station under an
//! approved request (R9), and the printed records of access built from the verified custody
//! log, never from the catalogue's rows (INV-35): the 《行政执法全过程记录资料调用单》 of one
//! request (S2 §24) and the access register of a period (S3 §28: viewer, copier, approver,
//! time, reason).

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::access::{expire_lapsed, recordings_of, refused, sees, still_holds, trusted_ledger};
use super::{ApiError, Ctx};
use crate::access::{form, Kind};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::custody::event::{Action, StoredEvent};

/// `access_view`, `access_form`: a request by its number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestId {
    /// The request's number.
    pub id: i64,
}

/// `access_register`: the period, whole days of station time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, included.
    pub to: String,
}

/// The footage of an approved view request, the view recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewed {
    /// The request's number.
    pub id: i64,
    /// The files, full paths on the station.
    pub files: Vec<String>,
}

/// A printed record: a page that prints (UTF-8, everything escaped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Printed {
    /// The page.
    pub html: String,
}

/// Records that the footage of an approved view request is viewed at the station
/// (`footage_viewed`), after the request, its marks and its approver are held again (R10), and
/// lists its files.
///
/// # Errors
/// [`super::ErrorKind::NotFound`] for an unknown request; [`super::ErrorKind::Refused`] for
/// another's request, one not approved for viewing or lapsed, one a mark or its approver no
/// longer allows (voided), or footage no longer on the station.
pub fn view(ctx: &Ctx<'_>, a: &RequestId) -> Result<Viewed, ApiError> {
    let config = ctx.config;
    let mut catalog = ctx.catalog()?;
    expire_lapsed(&mut catalog, config)?;
    let mut req = catalog.access(a.id).map_err(|e| ApiError::not_found(format!("{e} / 无此调阅申请")))?;
    if req.requested_by != ctx.actor.user {
        return Err(ApiError::refused(format!(
            "request #{} is {}'s; only the requester views under it / 仅申请人本人可凭此申请调阅",
            a.id, req.requested_by
        )));
    }
    req.usable(Kind::View, Utc::now()).map_err(|e| refused(&e))?;
    let recs = recordings_of(&catalog, &req.scope)?;
    still_holds(&mut catalog, config, &mut req, &recs, Kind::View)?;
    let files: Vec<&str> = recs.iter().flat_map(|r| r.recording.files.iter().map(|f| f.path.as_str())).collect();
    crate::central::offload::refuse_evicted(&catalog, files.iter().copied()).map_err(ApiError::refused)?;
    catalog.event(
        Action::FootageViewed,
        &crate::catalog::request_subject(a.id),
        json!({ "requested_by": req.requested_by, "files": files.len() }),
    )?;
    Ok(Viewed {
        id: a.id,
        files: files.iter().map(|f| config.paths.archive_root.join(f).display().to_string()).collect(),
    })
}

/// Every custody event about an access request, in log order, from a log that verifies.
fn access_events(catalog: &mut Catalog, config: &Config, by: &str) -> Result<Vec<StoredEvent>, ApiError> {
    trusted_ledger(catalog, config, by)?;
    let failed = |e: rusqlite::Error| ApiError::failed(format!("reading the custody log: {e} / 读取保管日志失败"));
    let conn = catalog.connection();
    let mut st = conn
        .prepare(&format!(
            "SELECT {} FROM custody_log WHERE subject LIKE 'access:%' ORDER BY seq",
            crate::custody::store::COLUMNS
        ))
        .map_err(failed)?;
    let mut rows = st.query([]).map_err(failed)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(failed)? {
        let ev = crate::custody::store::decode(row).map_err(|(seq, why)| {
            ApiError::failed(format!("custody event #{seq} cannot be read: {why} / 保管日志事件无法读取"))
        })?;
        out.push(ev);
    }
    Ok(out)
}

/// The 《行政执法全过程记录资料调用单》 of one request (S2 §24), from the custody log.
///
/// # Errors
/// [`super::ErrorKind::NotFound`] for an unknown request; [`super::ErrorKind::Refused`] for an
/// officer's print of another's request, or a log that does not verify.
pub fn print_form(ctx: &Ctx<'_>, a: &RequestId) -> Result<Printed, ApiError> {
    let config = ctx.config;
    let mut catalog = ctx.catalog()?;
    let req = catalog.access(a.id).map_err(|e| ApiError::not_found(format!("{e} / 无此调阅申请")))?;
    if !sees(ctx.actor.role, &ctx.actor.user, &req) {
        return Err(ApiError::refused(format!(
            "request #{} is {}'s; an officer prints only their own / 仅可打印本人申请",
            a.id, req.requested_by
        )));
    }
    let events = access_events(&mut catalog, config, "access form")?;
    let record = form::records(&events).into_iter().find(|r| r.id == a.id).ok_or_else(|| {
        ApiError::not_found(format!("the custody log holds no event of request #{} / 日志中无此申请", a.id))
    })?;
    Ok(Printed { html: form::render_form(&record, &config.station_name, config.timezone) })
}

/// The access register of a period (S3 §28), from the custody log.
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for a bad day or a period that ends before it starts;
/// [`super::ErrorKind::Refused`] for a log that does not verify.
pub fn register(ctx: &Ctx<'_>, a: &Period) -> Result<Printed, ApiError> {
    let config = ctx.config;
    let date = |field: &str, s: &str| {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
            ApiError::invalid(format!("{field} {s:?}: write a date as YYYY-MM-DD / 日期格式应为 YYYY-MM-DD"))
        })
    };
    let (from, to) = (date("from", &a.from)?, date("to", &a.to)?);
    if to < from {
        return Err(ApiError::invalid(format!("to {to} is before from {from} / 结束日期早于开始日期")));
    }
    let mut catalog = ctx.catalog()?;
    let events = access_events(&mut catalog, config, "access register")?;
    let records = form::records(&events);
    Ok(Printed { html: form::render_register(&records, from, to, &config.station_name, config.timezone) })
}
