//! `evidock duty out|list|return|extend|approve|extensions|report`: handing recorders out for a shift
//! after a health check, officers' returns from remote work, extensions of the handover
//! deadline, and the duty report (R1, R3, R14; docs/DUTY.md). A front end of the `duty_*`
//! operations ([`crate::api::duty`]).

use std::process::ExitCode;

use chrono::{NaiveDate, NaiveDateTime};

use super::invoke::Link;
use crate::api::{duty, Reply, Request};

/// `evidock duty ...`
#[derive(Debug, clap::Subcommand)]
pub enum DutyCommand {
    /// Hand a recorder out: bind it to an officer for a shift after its health check
    /// (battery, free storage, clock, from its latest docking; thresholds in `[duty]`).
    /// Docking it again is the check-in.
    Out {
        /// Recorder serial.
        serial: String,
        /// Officer's number (警号 / 执法证号).
        #[arg(long)]
        officer: String,
        /// Officer's name.
        #[arg(long)]
        officer_name: Option<String>,
        /// Shift, as the unit names it (e.g. "2026-03-02 day").
        #[arg(long)]
        shift: Option<String>,
    },
    /// Recorders out on duty now (bindings in force).
    List {
        /// JSON, one object per binding.
        #[arg(long)]
        json: bool,
    },
    /// Record an officer's return to the unit after remote, continuous or outlying work: the
    /// after-return handover deadline counts from it (S2 §22, S3 §26, S4 §22).
    Return {
        /// Officer's number.
        officer: String,
        /// When back, station time (default: now).
        #[arg(long, value_name = "YYYY-MM-DDThh:mm:ss")]
        at: Option<NaiveDateTime>,
        /// Where from, why late.
        #[arg(long)]
        note: Option<String>,
    },
    /// Request an extension of a shift's handover deadline (S2 §22: 批准延期移交).
    Extend {
        /// Binding (from `duty list` or `duty report`).
        binding: i64,
        /// New deadline, station time.
        #[arg(long, value_name = "YYYY-MM-DDThh:mm:ss")]
        until: NaiveDateTime,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Approve an extension (a person `duty.extension_approvers` names, not its requester).
    Approve {
        /// Extension id.
        id: i64,
    },
    /// Every extension of a handover deadline, newest first: those awaiting approval, and
    /// those approved with who approved them.
    Extensions {
        /// JSON, one object per extension.
        #[arg(long)]
        json: bool,
    },
    /// The duty report: recorders not returned by the end of the working day, shifts without
    /// footage, the binding in force at each recording.
    Report {
        /// First day (YYYY-MM-DD, station time).
        #[arg(long)]
        from: NaiveDate,
        /// Last day, included.
        #[arg(long)]
        to: NaiveDate,
        /// Judge as of this station time instead of now (what was overdue then).
        #[arg(long, value_name = "YYYY-MM-DDThh:mm:ss")]
        at: Option<NaiveDateTime>,
        /// JSON, one object per line.
        #[arg(long)]
        json: bool,
    },
}

/// A station time for the wire (`YYYY-MM-DDThh:mm:ss`).
fn wire_time(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The operation a `duty` command asks for.
pub fn request(cmd: &DutyCommand) -> Request {
    match cmd {
        DutyCommand::Out { serial, officer, officer_name, shift } => Request::DutyOut(duty::Out {
            serial: serial.clone(),
            officer: officer.clone(),
            officer_name: officer_name.clone(),
            shift: shift.clone(),
        }),
        DutyCommand::List { .. } => Request::DutyList(duty::ListArgs::default()),
        DutyCommand::Return { officer, at, note } => Request::DutyReturn(duty::Return {
            officer: officer.clone(),
            at: at.as_ref().map(wire_time),
            note: note.clone(),
        }),
        DutyCommand::Extend { binding, until, reason } => {
            Request::DutyExtend(duty::Extend { binding: *binding, until: wire_time(until), reason: reason.clone() })
        }
        DutyCommand::Approve { id } => Request::DutyApprove(duty::Approve { id: *id }),
        DutyCommand::Extensions { .. } => Request::DutyExtensions(crate::api::NoArgs {}),
        DutyCommand::Report { from, to, at, .. } => Request::DutyReport(duty::ReportArgs {
            from: from.to_string(),
            to: to.to_string(),
            at: at.as_ref().map(wire_time),
        }),
    }
}

/// Runs a `duty` command through `link` and prints its reply. Exit 1 when a recorder was not
/// handed out.
///
/// # Errors
/// When the operation fails or is refused (exit code 2).
pub fn run(cmd: &DutyCommand, link: &Link<'_>) -> anyhow::Result<ExitCode> {
    let json = matches!(
        cmd,
        DutyCommand::List { json: true }
            | DutyCommand::Extensions { json: true }
            | DutyCommand::Report { json: true, .. }
    );
    match link.call(request(cmd))? {
        Reply::DutyOut(r) => {
            for i in &r.health {
                crate::outln!("  {:<8} {:<7} {} / {}", i.what, i.state, i.text, i.text_zh);
            }
            match r.outcome {
                duty::Outcome::NotHandedOut { text, text_zh, .. } => {
                    crate::errln!("evidock: {} not handed out: {text} / 不予领用：{text_zh}", r.serial);
                    return Ok(ExitCode::from(1));
                }
                duty::Outcome::HandedOut { binding, warned: true } => crate::outln!(
                    "binding #{binding}: {} handed out to officer {} below the thresholds (warning logged) / 已领用（低于标准，已记录警告）",
                    r.serial,
                    r.officer
                ),
                duty::Outcome::HandedOut { binding, warned: false } => {
                    crate::outln!("binding #{binding}: {} handed out to officer {} / 已领用", r.serial, r.officer)
                }
            }
        }
        Reply::DutyList(bindings) => {
            for b in &bindings {
                if json {
                    crate::outln!("{}", serde_json::to_string(b)?);
                } else {
                    crate::outln!(
                        "#{}  {}  {} {}  {}  out 领用 {}  due 应还 {}{}",
                        b.binding,
                        b.serial,
                        b.officer_id,
                        b.officer_name.as_deref().unwrap_or(""),
                        b.shift.as_deref().unwrap_or("-"),
                        b.out_at,
                        b.due_named,
                        if b.warned { "  warned 低于标准" } else { "" }
                    );
                }
            }
        }
        Reply::DutyReturn(r) => crate::outln!(
            "return #{}: officer {} back at {} {} (station time 工作站时间) / 已登记返回单位",
            r.id,
            r.officer,
            r.at,
            r.timezone
        ),
        Reply::DutyExtend(r) => crate::outln!(
            "extension #{} of binding #{} to {} awaits approval / 延期移交申请已提交，待批准",
            r.id,
            r.binding,
            r.until
        ),
        Reply::DutyApprove(r) => crate::outln!(
            "extension #{} approved: binding #{} may hand over until {} / 延期移交已批准",
            r.id,
            r.binding,
            r.until
        ),
        Reply::DutyExtensions(list) => {
            for e in &list {
                if json {
                    crate::outln!("{}", serde_json::to_string(e)?);
                } else {
                    let state = match &e.approved_by {
                        Some(by) => format!("approved by {by} / 已批准"),
                        None => "awaiting approval / 待批准".to_string(),
                    };
                    crate::outln!(
                        "#{}  binding #{}  {}  {} {}  until 延至 {}  asked by {}: {}  {}",
                        e.id,
                        e.binding,
                        e.serial,
                        e.officer_id,
                        e.officer_name.as_deref().unwrap_or(""),
                        e.until,
                        e.requested_by,
                        e.reason,
                        state
                    );
                }
            }
        }
        Reply::DutyReport(r) => {
            for l in &r.lines {
                if json {
                    crate::outln!("{}", serde_json::to_string(l)?);
                } else {
                    crate::outln!(
                        "{:<13} #{:<4} {}  {}  {}{} / {}",
                        l.kind,
                        l.binding,
                        l.serial,
                        l.officer_id,
                        l.recording.as_deref().map(|r| format!("{r}  ")).unwrap_or_default(),
                        l.text,
                        l.text_zh
                    );
                }
            }
            if !json {
                crate::outln!(
                    "{} finding(s), end of working day {} / 共{}项问题，工作日结束时间{}",
                    r.findings,
                    r.day_end,
                    r.findings,
                    r.day_end
                );
            }
        }
        other => return Err(super::invoke::unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}
