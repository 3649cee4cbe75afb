//! `report_compliance`, `report_spot_check`: the compliance report over a period (R3, R6, R11,
//! R13, R14) and the reproducible sample of recordings a supervisor replays, each a document
//! in the format asked for and a `report_made` event.
//!
//! The documents are the station's: `json` is `evidock-compliance/1` or
//! `evidock-spot-check/1` (src/report/render.rs documents both), `csv` opens in a
//! spreadsheet (UTF-8 with its byte-order mark), `html` prints, `table` reads in a terminal.

use std::collections::BTreeMap;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{ApiError, Ctx};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::custody::event::Action;
use crate::report::{self, render, CaseWindow, DeviceFacts, Period, Rules};
use crate::retention::Calendar;

/// The format of a report's document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `evidock-compliance/1` or `evidock-spot-check/1`.
    #[default]
    Json,
    /// For a spreadsheet, UTF-8 with its byte-order mark.
    Csv,
    /// A page that prints.
    Html,
    /// Text columns, for a terminal.
    Table,
}

/// `report_compliance`: the period, whole days of station time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplianceArgs {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, included.
    pub to: String,
    /// The document's format (`json` unless asked).
    #[serde(default)]
    pub format: Format,
}

/// `report_spot_check`: how many recordings starting in the period, and the seed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpotCheckArgs {
    /// How many to draw.
    pub sample: usize,
    /// The seed, a decimal string (JSON numbers lose precision above 2^53); from the clock
    /// when absent, and answered and logged either way.
    #[serde(default)]
    pub seed: Option<String>,
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, included.
    pub to: String,
    /// The document's format (`json` unless asked).
    #[serde(default)]
    pub format: Format,
}

/// A report made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// Its format.
    pub format: Format,
    /// The document.
    pub text: String,
    /// The compliance report's number of findings.
    #[serde(default)]
    pub findings: Option<usize>,
    /// The spot check's seed, a decimal string.
    #[serde(default)]
    pub seed: Option<String>,
    /// The compliance report's companion: the central copy's backlog, when one is configured
    /// (the command line shows it after a table).
    #[serde(default)]
    pub central: Option<super::replicate::Backlog>,
}

fn period(from: &str, to: &str) -> Result<Period, ApiError> {
    let (a, b) = (super::duty::day_arg("from", from)?, super::duty::day_arg("to", to)?);
    Period::days(a, b).map_err(|e| ApiError::invalid(format!("{e} / 起止日期不正确")))
}

fn failed(e: &anyhow::Error) -> ApiError {
    ApiError::failed(format!("{e:#} / 报告生成失败"))
}

/// The recordings' facts with the officer on duty at each, returns from remote work and
/// approved handover extensions applied (docs/DUTY.md): late ingest is judged against them.
fn recordings(config: &Config, catalog: &Catalog) -> Result<Vec<report::RecordingFacts>, ApiError> {
    let mut facts: Vec<_> = catalog.recordings()?.into_iter().map(|r| r.facts).collect();
    crate::duty::apply(
        &mut facts,
        &catalog.bindings(false)?,
        &catalog.returns()?,
        &super::duty::extensions(catalog)?,
        config.timezone,
    );
    Ok(facts)
}

/// The compliance report over a period (`report_made`).
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for a bad day or a period that ends before it starts;
/// [`super::ErrorKind::Failed`] when a holiday calendar cannot be read.
pub fn compliance(ctx: &Ctx<'_>, a: &ComplianceArgs) -> Result<Document, ApiError> {
    let config = ctx.config;
    let period = period(&a.from, &a.to)?;
    let mut catalog = ctx.catalog()?;
    let mut facts = recordings(config, &catalog)?;
    let mut devices: Vec<DeviceFacts> = catalog
        .registry()?
        .into_iter()
        .map(|e| DeviceFacts {
            serial: e.registration.serial,
            registered: e.retired.is_none(),
            officer: Some(e.registration.officer_id),
            history: Vec::new(),
        })
        .collect();
    let mut histories = crate::catalog::registry_history(catalog.connection(), config.timezone)?;
    names_on_recorders(catalog.connection(), &mut facts).map_err(|e| failed(&e))?;
    for d in &mut devices {
        d.history = histories.remove(&d.serial).unwrap_or_default();
    }
    for r in &facts {
        if !devices.iter().any(|d| d.serial == r.device) {
            devices.push(DeviceFacts {
                serial: r.device.clone(),
                registered: false,
                officer: r.officer.clone(),
                history: Vec::new(),
            });
        }
    }
    let mut windows = Vec::new();
    for n in catalog.case_numbers()? {
        let case = catalog.case(&n)?;
        for (from, to) in &case.label.windows {
            windows.push(CaseWindow { case: n.clone(), officers: case.label.officers.clone(), from: *from, to: *to });
        }
    }
    let names = BTreeMap::new();
    let cal = calendar(config).map_err(|e| failed(&e))?;
    let rules = Rules {
        tz: config.timezone,
        ingest: config.compliance.ingest_deadline,
        ingest_after_return: config.compliance.ingest_deadline_after_return,
        drift_threshold_s: config.ingest.clock_drift_threshold_s,
        no_case_after_days: config.compliance.no_case_after_days,
    };
    // R14: the duty report over the same period, as `duty_report` makes it.
    let now = Utc::now();
    let duty = crate::duty::report(
        &catalog.bindings(false)?,
        &facts,
        period.from,
        period.to,
        config.duty.day_end,
        config.timezone,
        now,
    );
    let (exemptions, unreviewed) = super::gap::report_facts(&catalog)?;
    let input = report::Input {
        period,
        now,
        duty: &duty,
        exemptions: &exemptions,
        unreviewed: &unreviewed,
        recordings: &facts,
        devices: &devices,
        windows: &windows,
        officer_names: &names,
        calendar: &cal,
        rules: &rules,
    };
    let mut r = report::build(&input);
    r.fixity = Some(fixity_summary(&catalog)?);
    r.contradictions = contradictions(&catalog, &period)?;
    let central = config.central.as_ref().map(|_| super::replicate::backlog(config, &catalog));
    let text = match a.format {
        Format::Table => render::table(&r),
        Format::Json => render::json(&r),
        Format::Csv => render::csv(&r, render::Bom::With),
        Format::Html => render::html(&r),
    };
    catalog.event(
        Action::ReportMade,
        "report",
        serde_json::json!({ "report": "compliance", "from": a.from.trim(), "to": a.to.trim(), "findings": r.findings.len() }),
    )?;
    Ok(Document { format: a.format, text, findings: Some(r.findings.len()), seed: None, central })
}

/// A reproducible random sample of the recordings starting in a period (`report_made` with
/// the seed, the method and the picks).
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for a bad day, a period that ends before it starts, or a seed
/// that is not a number.
pub fn spot_check(ctx: &Ctx<'_>, a: &SpotCheckArgs) -> Result<Document, ApiError> {
    let period = period(&a.from, &a.to)?;
    let seed = match a.seed.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s.parse::<u64>().map_err(|e| {
            ApiError::invalid(format!("seed {s:?}: {e}; a whole number below 2^64 / 随机种子应为非负整数"))
        })?,
        None => Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64,
    };
    let mut catalog = ctx.catalog()?;
    let facts = recordings(ctx.config, &catalog)?;
    let s = report::spot_check(&facts, period, a.sample, seed);
    let text = match a.format {
        Format::Table => render::sample_table(&s),
        Format::Json => render::sample_json(&s),
        Format::Csv => render::sample_csv(&s, render::Bom::With),
        Format::Html => render::sample_html(&s),
    };
    let picks: Vec<String> = s.picks.iter().map(|p| format!("{p:?}")).collect();
    catalog.event(
        Action::ReportMade,
        "report",
        serde_json::json!({ "report": "spot_check", "seed": seed, "method": report::SAMPLE_METHOD, "picks": picks }),
    )?;
    Ok(Document { format: a.format, text, findings: None, seed: Some(seed.to_string()), central: None })
}

/// The archive scrub's state for the compliance report: its passes and the open alarms about
/// archived files (R11).
fn fixity_summary(catalog: &Catalog) -> Result<report::FixitySummary, ApiError> {
    let facts = |p: crate::catalog::ScrubPass| report::ScrubFacts {
        pass: p.id,
        started: p.started,
        finished: p.finished,
        files: (p.files, p.files_total),
        bytes: p.bytes,
        differ: p.differ,
        missing: p.missing,
        catalogue: p.catalogue,
        busy_ms: p.busy_ms,
    };
    let (in_progress, last_complete) = catalog.scrub_state()?;
    let (alarms, _) = catalog.open_alarms(usize::MAX)?;
    Ok(report::FixitySummary {
        last_complete: last_complete.map(facts),
        in_progress: in_progress.map(facts),
        open: alarms
            .into_iter()
            .filter(|a| (a.kind == "fixity" || a.kind == "catalogue") && a.subject.starts_with("file:"))
            .map(|a| (a.message, a.message_zh))
            .collect(),
    })
}

/// The contradictions found at dockings in the period (R5, R13), and the open alarms about the
/// dock's memory of a recorder (its catalogue copy contradicts the custody log, INV-17).
fn contradictions(catalog: &Catalog, period: &Period) -> Result<Vec<report::ContradictionFacts>, ApiError> {
    let mut out: Vec<report::ContradictionFacts> = catalog
        .all_contradictions()?
        .into_iter()
        .filter(|(_, when, ..)| {
            crate::recorder::format::parse_wall(0, "dock_clock", when).is_ok_and(|t| period.contains(t))
        })
        .map(|(docking, when, device, kind, detail, detail_zh)| report::ContradictionFacts {
            docking: Some(docking),
            when,
            device,
            kind,
            detail,
            detail_zh,
        })
        .collect();
    let (alarms, _) = catalog.open_alarms(usize::MAX)?;
    for a in alarms.into_iter().filter(|a| a.kind == "catalogue" && a.subject.starts_with("device:")) {
        out.push(report::ContradictionFacts {
            docking: None,
            when: a.raised,
            device: a.subject.trim_start_matches("device:").to_string(),
            kind: "dock_memory_edited".into(),
            detail: a.message,
            detail_zh: a.message_zh,
        });
    }
    Ok(out)
}

/// Working days: weekends, and the holiday calendars `[compliance] calendar_files` name.
fn calendar(config: &Config) -> anyhow::Result<Calendar> {
    use anyhow::Context as _;
    let mut cal = Calendar::weekends_only();
    for f in &config.compliance.calendar_files {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading calendar {}", f.display()))?;
        cal.merge(Calendar::parse(&text).with_context(|| format!("calendar {}", f.display()))?)
            .with_context(|| format!("calendar {}", f.display()))?;
    }
    Ok(cal)
}

/// The officer name each recording's recorder carried when it was docked (`identity_read`,
/// by docking), for the R1 name check of the compliance report.
fn names_on_recorders(conn: &rusqlite::Connection, facts: &mut [report::RecordingFacts]) -> anyhow::Result<()> {
    let mut by_docking: BTreeMap<i64, String> = BTreeMap::new();
    let mut st = conn.prepare("SELECT details FROM custody_log WHERE action = 'identity_read' ORDER BY seq")?;
    for d in st.query_map([], |r| r.get::<_, String>(0))? {
        let d: serde_json::Value = serde_json::from_str(&d?).unwrap_or_default();
        if let (Some(k), Some(n)) = (d["docking"].as_i64(), d["officer_name"].as_str()) {
            by_docking.insert(k, n.to_string());
        }
    }
    if by_docking.is_empty() {
        return Ok(());
    }
    let mut st = conn.prepare(
        "SELECT serial || '/' || session, MAX(docking_id) FROM segments WHERE session IS NOT NULL GROUP BY serial, session",
    )?;
    let mut docked: BTreeMap<String, i64> = BTreeMap::new();
    for row in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (rec, k) = row?;
        docked.insert(rec, k);
    }
    for f in facts.iter_mut() {
        f.officer_name = docked.get(&f.id).and_then(|k| by_docking.get(k)).cloned();
    }
    Ok(())
}
