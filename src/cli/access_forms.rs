//! The printable access forms of `evidock access` (R9; S1 §17-18, S2 §24, S3 §28, §30).
//!
//! Owns: `access form` / `access register`, which read the verified custody log and print the
//! HTML the pure [`crate::access::form`] builds. Who stands at which tier, and officers' own
//! requests, are the station API's (`api::access`).
//! Must never: build a form from the catalogue's rows (INV-35: the log is the record).

use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;

use super::invoke::{caller, Caller, Refused};
use crate::access::{form, AccessRequest};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::custody::event::StoredEvent;

/// Whether `me` sees `req`: an officer acting as an officer sees only their own requests.
pub(super) fn sees(me: &Caller, req: &AccessRequest) -> bool {
    crate::api::access::sees(me.actor.role, &me.actor.user, req)
}

/// Every custody event about an access request, in log order, from a log that verifies (the
/// forms are built from the log, not the catalogue: INV-35).
fn access_events(catalog: &mut Catalog, config: &Config, by: &str) -> anyhow::Result<Vec<StoredEvent>> {
    super::archive::trusted_ledger(catalog, config, by)?;
    let conn = catalog.connection();
    let mut st = conn.prepare(&format!(
        "SELECT {} FROM custody_log WHERE subject LIKE 'access:%' ORDER BY seq",
        crate::custody::store::COLUMNS
    ))?;
    let mut rows = st.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let ev = crate::custody::store::decode(row)
            .map_err(|(seq, why)| anyhow::anyhow!("custody event #{seq} cannot be read: {why}"))?;
        out.push(ev);
    }
    Ok(out)
}

/// `access form N`: the 《行政执法全过程记录资料调用单》 of request N (S2 §24), as HTML on stdout.
///
/// # Errors
/// When the request is unknown or not the caller's to see, or the log does not verify.
pub(super) fn form(catalog: &mut Catalog, config: &Config, id: i64) -> anyhow::Result<ExitCode> {
    let req = catalog.access(id)?;
    let me = caller();
    if !sees(&me, &req) {
        return Err(Refused(format!(
            "request #{id} is {}'s; an officer prints only their own / 仅可打印本人申请",
            req.requested_by
        ))
        .into());
    }
    let events = access_events(catalog, config, "access form")?;
    let record = form::records(&events)
        .into_iter()
        .find(|r| r.id == id)
        .with_context(|| format!("the custody log holds no event of request #{id}"))?;
    crate::outprint!("{}", form::render_form(&record, &config.station_name, config.timezone));
    Ok(ExitCode::SUCCESS)
}

/// `access register --from --to`: the access register of the period (S3 §28), as HTML on
/// stdout.
///
/// # Errors
/// On a bad date, or when the log does not verify.
pub(super) fn register(catalog: &mut Catalog, config: &Config, from: &str, to: &str) -> anyhow::Result<ExitCode> {
    let date = |flag: &str, s: &str| {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .with_context(|| format!("{flag} {s:?}: write a date as YYYY-MM-DD / 日期格式应为 YYYY-MM-DD"))
    };
    let (from, to) = (date("--from", from)?, date("--to", to)?);
    if to < from {
        anyhow::bail!("--to {to} is before --from {from} / 结束日期早于开始日期");
    }
    let events = access_events(catalog, config, "access register")?;
    let records = form::records(&events);
    crate::outprint!("{}", form::render_register(&records, from, to, &config.station_name, config.timezone));
    Ok(ExitCode::SUCCESS)
}
