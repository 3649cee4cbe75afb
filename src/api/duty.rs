//! `duty_out`, `duty_list`, `duty_return`, `duty_extend`, `duty_approve`, `duty_report`:
//! handing recorders out for a shift after a health check, officers' returns, extensions of
//! the handover deadline, and the duty report (R1, R3, R14; docs/DUTY.md, INV-27).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ApiError, Ctx};
use crate::catalog::{CatalogError, CheckOut};
use crate::custody::event::Action;
use crate::duty::{self as rules, Below};
use crate::report::Period;
use crate::retention::{local_to_utc, Pick};

/// Hand a recorder out to an officer for a shift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Out {
    /// Recorder serial.
    pub serial: String,
    /// Officer's number (警号 / 执法证号).
    pub officer: String,
    /// Officer's name.
    #[serde(default)]
    pub officer_name: Option<String>,
    /// Shift, as the unit names it.
    #[serde(default)]
    pub shift: Option<String>,
}

/// One line of the health check before a hand-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthItem {
    /// What was checked (`battery`, `storage`, `clock`, `reading`).
    pub what: String,
    /// `ok`, `below` or `unknown`.
    pub state: String,
    /// In English.
    pub text: String,
    /// In Chinese.
    pub text_zh: String,
}

/// Whether the recorder was handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// Bound to the officer (`duty_checked_out`).
    HandedOut {
        /// The binding.
        binding: i64,
        /// Handed out below the thresholds, with the warning logged (`duty.below = "warn"`).
        warned: bool,
    },
    /// Not handed out (`duty_refused`): unregistered, retired, already out, or below the
    /// thresholds with `duty.below = "refuse"`. A finding, not an error: it is logged.
    NotHandedOut {
        /// `unregistered`, `retired`, `already_out` or `health`.
        reason: String,
        /// Why, in English.
        text: String,
        /// Why, in Chinese.
        text_zh: String,
    },
}

/// The answer to [`Out`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutReply {
    /// Recorder serial.
    pub serial: String,
    /// Officer's number.
    pub officer: String,
    /// The health check (empty when the recorder could not be handed out at all).
    pub health: Vec<HealthItem>,
    /// What happened.
    pub outcome: Outcome,
}

/// `duty_list` takes no arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {}

/// A binding in force: a recorder out to an officer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The binding.
    pub binding: i64,
    /// Recorder serial.
    pub serial: String,
    /// Officer's number.
    pub officer_id: String,
    /// Officer's name.
    pub officer_name: Option<String>,
    /// Shift.
    pub shift: Option<String>,
    /// When handed out, station time `YYYY-MM-DD hh:mm:ss`.
    pub out_at: String,
    /// Handed out below the thresholds.
    pub warned: bool,
    /// When due back (the end of that working day), station time `YYYY-MM-DD hh:mm:ss`.
    pub due: String,
    /// The same, with the zone named.
    pub due_named: String,
}

/// An officer's return to the unit after remote, continuous or outlying work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Return {
    /// Officer's number.
    pub officer: String,
    /// When back, station time `YYYY-MM-DDThh:mm[:ss]` (default: now).
    #[serde(default)]
    pub at: Option<String>,
    /// Where from, why late.
    #[serde(default)]
    pub note: Option<String>,
}

/// The return recorded (`duty_return_recorded`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Returned {
    /// The return.
    pub id: i64,
    /// Officer's number.
    pub officer: String,
    /// When back, station time `YYYY-MM-DD hh:mm:ss`.
    pub at: String,
    /// The station's time zone.
    pub timezone: String,
}

/// A request to extend a binding's handover deadline (S2 §22).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extend {
    /// The binding.
    pub binding: i64,
    /// New deadline, station time `YYYY-MM-DDThh:mm[:ss]`.
    pub until: String,
    /// Why (required).
    pub reason: String,
}

/// The extension requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionRequested {
    /// The extension.
    pub id: i64,
    /// The binding.
    pub binding: i64,
    /// The new deadline, station time with the zone named.
    pub until: String,
}

/// Approve an extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approve {
    /// The extension.
    pub id: i64,
}

/// The extension approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionApproved {
    /// The extension.
    pub id: i64,
    /// The binding.
    pub binding: i64,
    /// The new deadline, station time with the zone named.
    pub until: String,
}

/// An extension of a handover deadline, as `duty_extensions` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionListed {
    /// The extension.
    pub id: i64,
    /// The binding it extends.
    pub binding: i64,
    /// The binding's recorder.
    pub serial: String,
    /// The binding's officer (警号).
    pub officer_id: String,
    /// The officer's name, where given.
    pub officer_name: Option<String>,
    /// The new deadline, station time with the zone named.
    pub until: String,
    /// Why.
    pub reason: String,
    /// Who asked.
    pub requested_by: String,
    /// Who approved it; none while it waits (a pending extension moves nothing).
    pub approved_by: Option<String>,
}

/// The duty report for days `from` to `to` (station time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportArgs {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, included.
    pub to: String,
    /// Judge as of this station time instead of now, `YYYY-MM-DDThh:mm:ss`.
    #[serde(default)]
    pub at: Option<String>,
}

/// One line of the duty report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLine {
    /// `recording` (the binding in force at a recording), or a finding (`not_returned`,
    /// `returned_late`, `no_footage`, ...).
    pub kind: String,
    /// The binding.
    pub binding: i64,
    /// Recorder serial.
    pub serial: String,
    /// Officer's number.
    pub officer_id: String,
    /// The recording, `SERIAL/SESSION`, for a `recording` line.
    pub recording: Option<String>,
    /// In English.
    pub text: String,
    /// In Chinese.
    pub text_zh: String,
}

/// The duty report (`report_made`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// First day.
    pub from: String,
    /// Last day, included.
    pub to: String,
    /// End of the working day, `hh:mm`.
    pub day_end: String,
    /// How many lines are findings.
    pub findings: usize,
    /// The lines.
    pub lines: Vec<ReportLine>,
}

/// A station time given on the wire (`YYYY-MM-DDThh:mm:ss`, or to the minute as a browser's
/// date and time picker sends it; a space allowed for the `T`).
fn station_time_arg(field: &str, s: &str) -> Result<NaiveDateTime, ApiError> {
    let t = s.trim().replacen(' ', "T", 1);
    t.parse::<NaiveDateTime>().or_else(|_| super::gap::station_time(field, &t))
}

pub(super) fn day_arg(field: &str, s: &str) -> Result<NaiveDate, ApiError> {
    s.parse::<NaiveDate>()
        .map_err(|e| ApiError::invalid(format!("{field} {s:?}: {e}; write YYYY-MM-DD / 日期格式应为 YYYY-MM-DD")))
}

fn station_time(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The catalogue's refusals of a duty request, by what they mean: something named that does
/// not exist, or a request already answered.
fn classify(e: CatalogError) -> ApiError {
    match e {
        CatalogError::Invalid(m) if m.starts_with("no ") => ApiError::not_found(m),
        CatalogError::Invalid(m) if m.contains("already") => ApiError::conflict(m),
        other => other.into(),
    }
}

/// Hands a recorder out after its health check (INV-27): `duty_checked_out`, or
/// `duty_refused` with the reason.
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for a bad officer number, [`super::ErrorKind::Failed`] when
/// the catalogue fails. A recorder not handed out is an [`Outcome`], not an error.
pub fn out(ctx: &Ctx<'_>, a: &Out) -> Result<OutReply, ApiError> {
    let config = ctx.config;
    let mut catalog = ctx.catalog()?;
    let reply = |health: Vec<HealthItem>, outcome| OutReply {
        serial: a.serial.clone(),
        officer: a.officer.clone(),
        health,
        outcome,
    };
    let refuse = |catalog: &mut crate::catalog::Catalog,
                  reason: &str,
                  text: String,
                  text_zh: String,
                  health: serde_json::Value|
     -> Result<Outcome, ApiError> {
        catalog.event(
            Action::DutyRefused,
            &format!("device:{}", a.serial),
            serde_json::json!({
                "serial": a.serial, "officer_id": a.officer, "shift": a.shift, "reason": reason,
                "text": text, "text_zh": text_zh, "health": health,
            }),
        )?;
        Ok(Outcome::NotHandedOut { reason: reason.to_string(), text, text_zh })
    };
    match catalog.registry_row(&a.serial)? {
        None => {
            let o = refuse(
                &mut catalog,
                "unregistered",
                "the recorder is not registered (`evidock device register`)".into(),
                "记录仪未登记".into(),
                serde_json::Value::Null,
            )?;
            return Ok(reply(Vec::new(), o));
        }
        Some((_, Some(retired))) => {
            let o = refuse(
                &mut catalog,
                "retired",
                format!("the recorder was retired from service on {retired}"),
                "记录仪已停用".into(),
                serde_json::Value::Null,
            )?;
            return Ok(reply(Vec::new(), o));
        }
        Some(_) => {}
    }
    if let Some((b, who)) = catalog.open_binding(&a.serial)? {
        let o = refuse(
            &mut catalog,
            "already_out",
            format!("it is out to officer {who} (binding #{b}); docking it checks it in"),
            format!("已被{who}领用（#{b}），接入即归还"),
            serde_json::Value::Null,
        )?;
        return Ok(reply(Vec::new(), o));
    }
    let reading = catalog.duty_reading(&a.serial)?;
    let health = rules::judge(reading.as_ref(), &config.duty.thresholds, Utc::now());
    let items: Vec<HealthItem> = health
        .items
        .iter()
        .map(|i| HealthItem {
            what: i.what.to_string(),
            state: i.state.as_str().to_string(),
            text: i.text.clone(),
            text_zh: i.text_zh.clone(),
        })
        .collect();
    let below = health.below();
    if below && config.duty.below == Below::Refuse {
        let failing: Vec<&rules::Item> = health.items.iter().filter(|i| i.state == rules::State::Below).collect();
        let en: Vec<&str> = failing.iter().map(|i| i.text.as_str()).collect();
        let zh: Vec<&str> = failing.iter().map(|i| i.text_zh.as_str()).collect();
        let o = refuse(&mut catalog, "health", en.join("; "), zh.join("；"), health.json())?;
        return Ok(reply(items, o));
    }
    let binding = catalog.check_out(&CheckOut {
        serial: &a.serial,
        officer_id: &a.officer,
        officer_name: a.officer_name.as_deref(),
        shift: a.shift.as_deref(),
        health: health.json(),
        warned: below,
    })?;
    Ok(reply(items, Outcome::HandedOut { binding, warned: below }))
}

/// The bindings in force.
///
/// # Errors
/// [`super::ErrorKind::Failed`] when the catalogue fails.
pub fn list(ctx: &Ctx<'_>, _a: &ListArgs) -> Result<Vec<Binding>, ApiError> {
    let tz = ctx.config.timezone;
    let day_end = ctx.config.duty.day_end;
    let catalog = ctx.catalog()?;
    Ok(catalog
        .bindings(true)?
        .into_iter()
        .map(|b| {
            let due = rules::due(b.out_at, day_end, tz);
            Binding {
                binding: b.id,
                serial: b.serial,
                officer_id: b.officer,
                officer_name: b.officer_name,
                shift: b.shift,
                out_at: station_time(b.out_at, tz),
                warned: b.warned,
                due: station_time(due, tz),
                due_named: crate::report::history::station_time_at(due, tz),
            }
        })
        .collect())
}

/// Records an officer's return (`duty_return_recorded`): the after-return handover deadline
/// counts from it (S2 §22, S3 §26, S4 §22).
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for a time in the future or a bad officer number.
pub fn record_return(ctx: &Ctx<'_>, a: &Return) -> Result<Returned, ApiError> {
    let tz = ctx.config.timezone;
    let now = Utc::now().with_timezone(&tz).naive_local();
    let at = match &a.at {
        Some(s) => station_time_arg("at", s)?,
        None => now,
    };
    if at > now {
        return Err(ApiError::invalid(format!("at {at}: a return cannot be in the future / 返回时间不能晚于现在")));
    }
    let mut catalog = ctx.catalog()?;
    let id = catalog.record_return(&a.officer, at, a.note.as_deref())?;
    Ok(Returned {
        id,
        officer: a.officer.clone(),
        at: at.format("%Y-%m-%d %H:%M:%S").to_string(),
        timezone: tz.name().to_string(),
    })
}

/// Requests an extension of a binding's handover deadline (`handover_extension_requested`).
///
/// # Errors
/// [`super::ErrorKind::NotFound`] for an unknown binding, [`super::ErrorKind::Invalid`]
/// without a reason or with a bad time.
pub fn extend(ctx: &Ctx<'_>, a: &Extend) -> Result<ExtensionRequested, ApiError> {
    let tz = ctx.config.timezone;
    let until = local_to_utc(tz, station_time_arg("until", &a.until)?, Pick::Latest);
    let mut catalog = ctx.catalog()?;
    let id = catalog.request_extension(a.binding, until, &a.reason).map_err(classify)?;
    Ok(ExtensionRequested { id, binding: a.binding, until: crate::report::history::station_time_at(until, tz) })
}

/// Approves an extension (`handover_extension_approved`): by a person
/// `duty.extension_approvers` names (when it names any), never its requester (INV-27).
///
/// # Errors
/// [`super::ErrorKind::Refused`] for a caller the configuration does not name,
/// [`super::ErrorKind::NotFound`] for an unknown extension, [`super::ErrorKind::Conflict`]
/// for one already approved.
pub fn approve(ctx: &Ctx<'_>, a: &Approve) -> Result<ExtensionApproved, ApiError> {
    let config = ctx.config;
    if !config.duty.extension_approvers.is_empty() && !config.duty.extension_approvers.contains(&ctx.caller.identity) {
        return Err(ApiError::refused(format!(
            "{} is not in duty.extension_approvers: extensions are approved by the person the configuration names / 无权批准延期移交",
            ctx.caller.identity.user
        )));
    }
    let mut catalog = ctx.catalog()?;
    let row = catalog.approve_extension(a.id).map_err(classify)?;
    Ok(ExtensionApproved {
        id: a.id,
        binding: row.extension.binding,
        until: crate::report::history::station_time_at(row.extension.until, config.timezone),
    })
}

/// `duty_extensions`: every extension, newest first, with its binding's recorder and officer,
/// so an approver sees what waits for them.
///
/// # Errors
/// When the catalogue fails.
pub fn extensions_list(ctx: &Ctx<'_>, _a: &super::NoArgs) -> Result<Vec<ExtensionListed>, ApiError> {
    let tz = ctx.config.timezone;
    let catalog = ctx.catalog()?;
    let bindings: std::collections::HashMap<i64, crate::duty::Binding> =
        catalog.bindings(false)?.into_iter().map(|b| (b.id, b)).collect();
    let mut out: Vec<ExtensionListed> = catalog
        .extensions()?
        .into_iter()
        .map(|row| {
            let b = bindings.get(&row.extension.binding);
            ExtensionListed {
                id: row.extension.id,
                binding: row.extension.binding,
                serial: b.map(|b| b.serial.clone()).unwrap_or_default(),
                officer_id: b.map(|b| b.officer.clone()).unwrap_or_default(),
                officer_name: b.and_then(|b| b.officer_name.clone()),
                until: crate::report::history::station_time_at(row.extension.until, tz),
                reason: row.reason,
                requested_by: row.requested_by,
                approved_by: row.extension.approved_by,
            }
        })
        .collect();
    out.reverse();
    Ok(out)
}

/// The extensions, for [`rules::apply`].
///
/// # Errors
/// When the catalogue fails.
pub fn extensions(catalog: &crate::catalog::Catalog) -> Result<Vec<rules::Extension>, CatalogError> {
    Ok(catalog.extensions()?.into_iter().map(|e| e.extension).collect())
}

/// The duty report (`report_made`): recorders not returned by the end of the working day,
/// shifts without footage, the binding in force at each recording.
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for a period that ends before it starts or a bad date.
pub fn report(ctx: &Ctx<'_>, a: &ReportArgs) -> Result<Report, ApiError> {
    let config = ctx.config;
    let tz = config.timezone;
    let (from, to) = (day_arg("from", &a.from)?, day_arg("to", &a.to)?);
    let period = Period::days(from, to).map_err(|e| ApiError::invalid(format!("{e} / 起止日期不正确")))?;
    let now = match &a.at {
        Some(s) => local_to_utc(tz, station_time_arg("at", s)?, Pick::Latest),
        None => Utc::now(),
    };
    let mut catalog = ctx.catalog()?;
    let bindings = catalog.bindings(false)?;
    let mut facts: Vec<_> = catalog.recordings()?.into_iter().map(|r| r.facts).collect();
    rules::apply(&mut facts, &bindings, &catalog.returns()?, &extensions(&catalog)?, tz);
    let lines = rules::report(&bindings, &facts, period.from, period.to, config.duty.day_end, tz, now);
    let findings = lines.iter().filter(|l| l.is_finding()).count();
    catalog.event(
        Action::ReportMade,
        "report",
        serde_json::json!({ "report": "duty", "from": from.to_string(), "to": to.to_string(), "findings": findings }),
    )?;
    Ok(Report {
        from: from.to_string(),
        to: to.to_string(),
        day_end: config.duty.day_end.format("%H:%M").to_string(),
        findings,
        lines: lines
            .into_iter()
            .map(|l| ReportLine {
                kind: l.kind.to_string(),
                binding: l.binding,
                serial: l.serial,
                officer_id: l.officer,
                recording: l.recording,
                text: l.text,
                text_zh: l.text_zh,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_station_time_is_read_to_the_second_or_to_the_minute_and_anything_else_is_told() {
        let t = |s: &str| station_time_arg("until", s).map(|t| t.to_string());
        assert_eq!(t("2026-03-03T12:00:05").unwrap(), "2026-03-03 12:00:05");
        assert_eq!(t(" 2026-03-03 12:00 ").unwrap(), "2026-03-03 12:00:00", "a picker's minute, a space for the T");
        let e = t("后天").unwrap_err();
        assert!(e.message.contains("until") && e.message.contains("时间格式应为"), "{}", e.message);
    }
}
