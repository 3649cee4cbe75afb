//! `evidock retention ...` (R7): long-term flags, legal holds, what is due, and purges of
//! footage past its deadline through a queue with approval and a grace period; and
//! `evidock report compliance|spot-check` (R3, R6, R11).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{NaiveDate, Utc};

use crate::catalog::{AlarmKind, Catalog, NewAlarm};
use crate::config::Config;
use crate::custody::event::Action;
use crate::ledger::Ledger;
use crate::report::{self, render, CaseWindow, DeviceFacts, Period, Rules};
use crate::retention::{self, Calendar, Catalogued, PurgeRequest, Trigger};

/// `evidock retention ...`
#[derive(Debug, clap::Subcommand)]
pub enum RetentionCommand {
    /// Show a recording's class, deadline, flags and holds.
    Show {
        /// Recording: SERIAL/SESSION (or SERIAL/file-ID).
        recording: String,
    },
    /// List what reaches its deadline within a window (deadlines are recorded, never shortened).
    Due {
        /// Window in days from now.
        #[arg(long, default_value_t = 30)]
        within_days: u32,
        /// JSON, one object per recording.
        #[arg(long)]
        json: bool,
    },
    /// Set a long-term flag: evidence, dispute, obstruction, emergency, major-case, other.
    Flag {
        /// Recording.
        recording: String,
        /// Trigger.
        #[arg(long, value_parser = parse_trigger)]
        trigger: Trigger,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Ask to withdraw a long-term flag, with the reason; another person approves it with
    /// `retention unflag-approve`, and the deadline then returns to the standard one.
    Unflag {
        /// Flag id (from `retention show`).
        id: i64,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Approve a flag's withdrawal (not the person who asked): the flag is withdrawn and the
    /// recording returns to the deadline the rules give without it, counted from the later of
    /// recording and storage.
    UnflagApprove {
        /// Flag id.
        id: i64,
    },
    /// Place a legal hold.
    Hold {
        /// Recording.
        recording: String,
        /// Hold identifier (e.g. the court's reference).
        #[arg(long = "id")]
        hold: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Release a legal hold.
    Release {
        /// Hold row (from `retention show`).
        id: i64,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// The purge queue.
    #[command(subcommand)]
    Purge(PurgeCommand),
}

/// `evidock retention purge ...`
#[derive(Debug, clap::Subcommand)]
pub enum PurgeCommand {
    /// Request deletion of a recording past its deadline.
    Request {
        /// Recording.
        recording: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Approve a request (not by its requester); the grace period starts.
    Approve {
        /// Request id.
        id: i64,
    },
    /// Cancel a request before it runs.
    Cancel {
        /// Request id.
        id: i64,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Delete what is approved and past its grace period, leaving tombstones.
    Run,
    /// List requests.
    List,
}

fn parse_trigger(s: &str) -> Result<Trigger, String> {
    Trigger::parse(s).ok_or_else(|| {
        let all: Vec<&str> = Trigger::ALL.iter().map(|t| t.as_str()).collect();
        format!("{s:?}: expected one of {}", all.join(", "))
    })
}

fn refresh(catalog: &mut Catalog, config: &Config) -> anyhow::Result<Vec<crate::catalog::RecordingRow>> {
    Ok(crate::api::retention::record_deadlines(catalog, config)?)
}

/// The typed operation a `retention` command is a front end of: all but `purge`; `None` for
/// the purge queue (still command-line words).
pub fn request(cmd: &RetentionCommand) -> Option<crate::api::Request> {
    use crate::api::retention as r;
    use crate::api::Request;
    match cmd {
        RetentionCommand::Flag { recording, trigger, reason } => {
            Some(crate::api::Request::RetentionFlag(crate::api::retention::Flag {
                recording: recording.clone(),
                trigger: trigger.as_str().to_string(),
                reason: reason.clone(),
            }))
        }
        RetentionCommand::Show { recording } => {
            Some(Request::RetentionShow(r::ShowArgs { recording: recording.clone() }))
        }
        RetentionCommand::Due { within_days, .. } => {
            Some(Request::RetentionDue(r::DueArgs { within_days: *within_days }))
        }
        RetentionCommand::Hold { recording, hold, reason } => Some(Request::RetentionHold(r::HoldArgs {
            recording: recording.clone(),
            hold: hold.clone(),
            reason: reason.clone(),
        })),
        RetentionCommand::Release { id, reason } => {
            Some(Request::RetentionRelease(r::WithReason { id: *id, reason: reason.clone() }))
        }
        RetentionCommand::Unflag { id, reason } => {
            Some(Request::RetentionUnflag(r::WithReason { id: *id, reason: reason.clone() }))
        }
        RetentionCommand::UnflagApprove { id } => Some(Request::RetentionUnflagApprove(r::UnflagApprove { id: *id })),
        RetentionCommand::Purge(_) => None,
    }
}

/// Runs a typed `retention` command ([`request`]) through `link` and renders its reply.
///
/// # Errors
/// When it is refused or could not run (exit code 2).
pub fn run_typed(cmd: &RetentionCommand, link: &super::invoke::Link<'_>) -> anyhow::Result<ExitCode> {
    let Some(request) = request(cmd) else {
        anyhow::bail!("not a typed retention command");
    };
    match link.call(request)? {
        crate::api::Reply::RetentionFlag(f) => crate::outln!(
            "flag #{} set: {} {} / 已标记长期保存; deadline 保存期限: {}",
            f.id,
            f.trigger,
            f.trigger_zh,
            f.deadline
        ),
        crate::api::Reply::RetentionShow(r) => {
            crate::outln!(
                "recording 录像 {}  device {}  officer {}",
                r.id,
                r.device,
                r.officer.as_deref().unwrap_or("-")
            );
            crate::outln!("  {} – {}", r.start, r.end);
            crate::outln!("  class 类别: {} {}  deadline 保存期限: {}", r.class, r.class_zh, r.deadline);
            if !r.cases.is_empty() {
                crate::outln!("  cases 案件: {}", r.cases.join(", "));
            }
            for f in &r.flags {
                let state = if f.active { "" } else { " (withdrawn 已撤销)" };
                crate::outln!(
                    "  flag #{} {} {}: {} — {} {}{state}",
                    f.id,
                    f.trigger,
                    f.trigger_zh,
                    f.reason,
                    f.set_by,
                    f.set_at
                );
            }
            for h in &r.holds {
                let state = if h.active { "" } else { " (released 已解除)" };
                crate::outln!("  hold #{} {}: {} — {} {}{state}", h.row, h.id, h.reason, h.set_by, h.set_at);
            }
            for f in &r.files {
                crate::outln!("  {}  {} bytes  blake3 {}", f.path, f.size, f.blake3);
            }
        }
        crate::api::Reply::RetentionDue(list) => {
            let json = matches!(cmd, RetentionCommand::Due { json: true, .. });
            for d in &list {
                if json {
                    crate::outln!(
                        "{}",
                        serde_json::json!({
                            "recording": d.recording, "device": d.device, "officer": d.officer,
                            "deadline": d.deadline, "class": d.class, "held": d.held, "overdue": d.overdue,
                        })
                    );
                } else {
                    crate::outln!(
                        "{}  {}  {}  {}{}{}",
                        d.recording,
                        d.officer.as_deref().unwrap_or("-"),
                        d.deadline_local,
                        d.class_zh,
                        if d.held { "  held 保全中" } else { "" },
                        if d.overdue { "  overdue 已到期" } else { "" }
                    );
                }
            }
        }
        crate::api::Reply::RetentionHold(d) => crate::outln!("hold #{} placed / 已冻结保全", d.id),
        crate::api::Reply::RetentionRelease(d) => crate::outln!("hold #{} released / 保全已解除", d.id),
        crate::api::Reply::RetentionUnflag(d) => crate::outln!(
            "withdrawal of flag #{} ({}) awaits approval by another person; the flag stays in force \
             / 撤销长期保存标记的申请已提交，待他人批准，批准前标记仍有效",
            d.id,
            d.recording.as_deref().unwrap_or("")
        ),
        crate::api::Reply::RetentionUnflagApprove(d) => crate::outln!(
            "flag #{} withdrawn; {} is kept until {} / 长期保存标记已撤销，保存期限恢复为上述时间",
            d.id,
            d.recording.as_deref().unwrap_or(""),
            d.deadline.as_deref().unwrap_or("")
        ),
        other => return Err(super::invoke::unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(cmd: &RetentionCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let mut catalog = super::open_catalog_as_user(config)?;
    match cmd {
        RetentionCommand::Purge(p) => purge(p, &mut catalog, config),
        _ => anyhow::bail!("a typed operation of the station API: sent as one (docs/CONTROL-API.md)"),
    }
}

fn refusal(e: retention::RetentionError) -> anyhow::Error {
    super::invoke::Refused(e.to_string()).into()
}

/// Holds a recording's catalogue rows against the verified custody log before a purge step
/// (INV-11, INV-16). Agreement clears an earlier alarm about the recording; a contradiction
/// raises the alarm (journal, `status`, `catalogue_mismatch` in the log) and refuses.
///
/// # Errors
/// [`super::invoke::Refused`] naming every contradiction, in both languages.
fn check_with_log(
    catalog: &mut Catalog,
    config: &Config,
    ledger: &Ledger,
    row: &crate::catalog::RecordingRow,
    request: Option<&PurgeRequest>,
    step: &str,
) -> anyhow::Result<()> {
    let id = row.recording.id.clone();
    let holds = catalog.holds(&id)?;
    let flags = catalog.flags(&id)?;
    let ids: Vec<i64> = row.files.iter().map(|(f, _)| *f).collect();
    let logged = ledger.recording(&id, &ids);
    let found = retention::check_against_log(
        &Catalogued { recording: &row.recording, holds: &holds, flags: &flags, files: &row.files },
        &logged,
        request,
        &config.retention,
    );
    let subject = format!("recording:{id}");
    if found.is_empty() {
        catalog.clear_alarms(
            AlarmKind::Catalogue,
            Some(&subject),
            "the catalogue agrees with the custody log again",
        )?;
        return Ok(());
    }
    let en: Vec<String> = found.iter().map(|m| m.text.clone()).collect();
    let zh: Vec<String> = found.iter().map(|m| m.text_zh.clone()).collect();
    let message = format!("the catalogue contradicts the custody log about {id}: {}", en.join("; "));
    let message_zh = format!("目录与保管日志不符（录像 {id}）：{}", zh.join("；"));
    tracing::error!(recording = %id, step, "ALARM: {message}");
    catalog.raise_alarm(&NewAlarm {
        kind: AlarmKind::Catalogue,
        subject: &subject,
        message: &message,
        message_zh: &message_zh,
        action: Action::CatalogueMismatch,
        details: serde_json::json!({
            "what": format!("retention purge {step}"),
            "purge": request.map(|r| r.id.clone()),
            "findings": found.iter().map(|m| serde_json::json!({ "what": m.what, "text": m.text, "text_zh": m.text_zh })).collect::<Vec<_>>(),
        }),
    })?;
    Err(super::invoke::Refused(format!(
        "{message}; nothing purged, the alarm is raised / {message_zh}；未执行删除，已发出警报"
    ))
    .into())
}

fn retention_now() -> chrono::DateTime<Utc> {
    crate::api::retention::now()
}

fn purge(cmd: &PurgeCommand, catalog: &mut Catalog, config: &Config) -> anyhow::Result<ExitCode> {
    let policy = &config.retention;
    let user = super::invoke::caller().actor.user;
    let now = retention_now();
    match cmd {
        PurgeCommand::Request { recording, reason } => {
            refresh(catalog, config)?;
            let row = catalog.recording(recording)?;
            let req = PurgeRequest::new("new", &row.recording, policy, &user, now, reason).map_err(refusal)?;
            let ledger = super::archive::trusted_ledger(catalog, config, "retention purge request")?;
            check_with_log(catalog, config, &ledger, &row, None, "request")?;
            let id = catalog.insert_purge(&req)?;
            crate::outln!("purge request #{id} awaits approval by someone else / 删除申请已提交，待他人批准");
        }
        PurgeCommand::Approve { id } => {
            refresh(catalog, config)?;
            let mut req = catalog.purge(*id)?;
            let row = catalog.recording(&req.recording)?;
            let ledger = super::archive::trusted_ledger(catalog, config, "retention purge approve")?;
            check_with_log(catalog, config, &ledger, &row, Some(&req), "approve")?;
            req.approve(&user, now, &row.recording, policy).map_err(refusal)?;
            catalog.update_purge(&req)?;
            let until = req.grace_until().map(|t| t.with_timezone(&config.timezone).to_string()).unwrap_or_default();
            crate::outln!("purge #{id} approved; it can be cancelled until {until} / 已批准，宽限期内可撤销");
        }
        PurgeCommand::Cancel { id, reason } => {
            let mut req = catalog.purge(*id)?;
            req.cancel(&user, now, reason).map_err(refusal)?;
            catalog.update_purge(&req)?;
            crate::outln!("purge #{id} cancelled / 已撤销");
        }
        PurgeCommand::List => {
            for p in catalog.purges()? {
                crate::outln!("#{}  {}  {}  {}  {}", p.id, p.recording, p.state.as_str(), p.requested_by, p.reason);
            }
        }
        PurgeCommand::Run => {
            let rows = refresh(catalog, config)?;
            let ledger = super::archive::trusted_ledger(catalog, config, "retention purge run")?;
            let mut done = 0;
            let mut contradicted = 0;
            for mut req in catalog.purges()? {
                let Some(until) = req.grace_until() else { continue };
                if until > now {
                    continue;
                }
                let Some(row) = rows.iter().find(|r| r.recording.id == req.recording) else { continue };
                // The catalogue is checked against the custody log first: holds, flags,
                // deadline, approval and every file to delete (INV-16).
                if let Err(e) = check_with_log(catalog, config, &ledger, row, Some(&req), "run") {
                    crate::errln!("purge #{}: {e}", req.id);
                    contradicted += 1;
                    continue;
                }
                // Checks eligibility again: a hold placed during the grace period stops it.
                let tomb = match req.execute(now, &row.recording, policy) {
                    Ok(t) => t,
                    Err(e) => {
                        crate::errln!("purge #{}: {}", req.id, refusal(e));
                        continue;
                    }
                };
                let root = &config.paths.archive_root;
                for (_, paths) in &row.files {
                    for p in paths {
                        remove_archived(root, p).with_context(|| format!("deleting {p}"))?;
                    }
                }
                let ids: Vec<i64> = row.files.iter().map(|(id, _)| *id).collect();
                catalog.record_purge(&req, &ids, &tomb)?;
                crate::outln!(
                    "purge #{} done: {} file(s) deleted, tombstone kept / 已删除，保留删除记录",
                    req.id,
                    ids.len()
                );
                done += 1;
            }
            if done == 0 && contradicted == 0 {
                crate::outln!("nothing to purge / 无可删除项");
            }
            if contradicted > 0 {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn remove_archived(root: &Path, rel: &str) -> std::io::Result<()> {
    let path = root.join(rel);
    let _ = crate::archive::fsio::set_immutable_flag(&path, false);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    match path.parent() {
        Some(dir) => crate::archive::fsio::fsync_dir(dir),
        None => Ok(()),
    }
}

/// `evidock report ...`
#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Compliance with the rules, per officer and per device, for a period.
    Compliance {
        /// First day (YYYY-MM-DD, station time).
        #[arg(long)]
        from: NaiveDate,
        /// Last day, included.
        #[arg(long)]
        to: NaiveDate,
        /// table, json, csv or html.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// A reproducible random sample of recordings for a supervisor to replay.
    SpotCheck {
        /// How many.
        #[arg(long)]
        sample: usize,
        /// Seed (default: from the clock; printed and logged either way).
        #[arg(long)]
        seed: Option<u64>,
        /// First day.
        #[arg(long)]
        from: NaiveDate,
        /// Last day, included.
        #[arg(long)]
        to: NaiveDate,
        /// table, json, csv or html.
        #[arg(long, default_value = "table")]
        format: String,
    },
}

/// The archive scrub's state for the compliance report: its passes and the open alarms about
/// archived files (R11).
fn fixity_summary(catalog: &Catalog) -> anyhow::Result<report::FixitySummary> {
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
fn contradictions(catalog: &Catalog, period: &Period) -> anyhow::Result<Vec<report::ContradictionFacts>> {
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

fn calendar(config: &Config) -> anyhow::Result<Calendar> {
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

pub fn run_report(cmd: &ReportCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let mut catalog = super::open_catalog_as_user(config)?;
    let rows = catalog.recordings()?;
    let mut facts: Vec<_> = rows.iter().map(|r| r.facts.clone()).collect();
    // The officer on duty at each recording, returns from remote work and approved handover
    // extensions (docs/DUTY.md): late ingest is judged against them.
    crate::duty::apply(
        &mut facts,
        &catalog.bindings(false)?,
        &catalog.returns()?,
        &crate::api::duty::extensions(&catalog)?,
        config.timezone,
    );
    let (text, what) = match cmd {
        ReportCommand::Compliance { from, to, format } => {
            let period = Period::days(*from, *to)?;
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
            names_on_recorders(catalog.connection(), &mut facts)?;
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
                for (a, b) in &case.label.windows {
                    windows.push(CaseWindow {
                        case: n.clone(),
                        officers: case.label.officers.clone(),
                        from: *a,
                        to: *b,
                    });
                }
            }
            let names = BTreeMap::new();
            let cal = calendar(config)?;
            let rules = Rules {
                tz: config.timezone,
                ingest: config.compliance.ingest_deadline,
                ingest_after_return: config.compliance.ingest_deadline_after_return,
                drift_threshold_s: config.ingest.clock_drift_threshold_s,
                no_case_after_days: config.compliance.no_case_after_days,
            };
            // R14: the duty report over the same period, as in `duty report`.
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
            let (exemptions, unreviewed) = crate::api::gap::report_facts(&catalog)?;
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
            // The central copy (off the station), when configured: its lines after the table
            // (`replicate status --json` has them as JSON).
            let central = config
                .central
                .as_ref()
                .map(|_| serde_json::to_value(crate::api::replicate::backlog(config, &catalog)).unwrap_or_default());
            let text = match format.as_str() {
                "table" => render::table(&r) + &central.as_ref().map(super::central::render).unwrap_or_default(),
                "json" => render::json(&r),
                "csv" => render::csv(&r, render::Bom::With),
                "html" => render::html(&r),
                other => anyhow::bail!("--format {other:?}: expected table, json, csv or html"),
            };
            (
                text,
                serde_json::json!({ "report": "compliance", "from": from.to_string(), "to": to.to_string(), "findings": r.findings.len() }),
            )
        }
        ReportCommand::SpotCheck { sample, seed, from, to, format } => {
            let period = Period::days(*from, *to)?;
            let seed = seed.unwrap_or_else(|| Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64);
            let s = report::spot_check(&facts, period, *sample, seed);
            let text = match format.as_str() {
                "table" => render::sample_table(&s),
                "json" => render::sample_json(&s),
                "csv" => render::sample_csv(&s, render::Bom::With),
                "html" => render::sample_html(&s),
                other => anyhow::bail!("--format {other:?}: expected table, json, csv or html"),
            };
            let picks: Vec<String> = s.picks.iter().map(|p| format!("{p:?}")).collect();
            (
                text,
                serde_json::json!({ "report": "spot_check", "seed": seed, "method": report::SAMPLE_METHOD, "picks": picks }),
            )
        }
    };
    catalog.event(crate::custody::event::Action::ReportMade, "report", what)?;
    crate::outprint!("{text}");
    Ok(ExitCode::SUCCESS)
}
