//! `evidock retention ...` (R7): long-term flags, legal holds, what is due, and purges of
//! footage past its deadline through a queue with approval and a grace period; and
//! `evidock report compliance|spot-check` (R3, R6, R11).

use std::process::ExitCode;

use chrono::NaiveDate;

use crate::retention::Trigger;

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

/// The typed operation a `retention` command is a front end of (every one is).
pub fn request(cmd: &RetentionCommand) -> Option<crate::api::Request> {
    use crate::api::retention as r;
    use crate::api::{purge, Request};
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
        RetentionCommand::Purge(p) => Some(match p {
            PurgeCommand::Request { recording, reason } => {
                Request::PurgeRequest(purge::Ask { recording: recording.clone(), reason: reason.clone() })
            }
            PurgeCommand::Approve { id } => Request::PurgeApprove(purge::Approve { id: *id }),
            PurgeCommand::Cancel { id, reason } => {
                Request::PurgeCancel(purge::Cancel { id: *id, reason: reason.clone() })
            }
            PurgeCommand::List => Request::PurgeList(crate::api::NoArgs {}),
            PurgeCommand::Run => Request::PurgeRun(crate::api::NoArgs {}),
        }),
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
        crate::api::Reply::PurgeRequest(p) => {
            crate::outln!("purge request #{} awaits approval by someone else / 删除申请已提交，待他人批准", p.purge.id)
        }
        crate::api::Reply::PurgeApprove(p) => crate::outln!(
            "purge #{} approved; it can be cancelled until {} / 已批准，宽限期内可撤销",
            p.purge.id,
            p.purge.grace_until.as_deref().unwrap_or("-")
        ),
        crate::api::Reply::PurgeCancel(p) => crate::outln!("purge #{} cancelled / 已撤销", p.purge.id),
        crate::api::Reply::PurgeList(list) => {
            for p in list {
                crate::outln!("#{}  {}  {}  {}  {}", p.id, p.recording, p.state, p.requested_by, p.reason);
            }
        }
        crate::api::Reply::PurgeRun(pass) => {
            for d in &pass.done {
                crate::outln!(
                    "purge #{} done: {} file(s) deleted, tombstone kept / 已删除，保留删除记录",
                    d.id,
                    d.files
                );
            }
            for d in pass.contradicted.iter().chain(&pass.refused) {
                crate::errln!("purge #{}: {}", d.id, d.why.as_deref().unwrap_or(""));
            }
            if pass.done.is_empty() && pass.contradicted.is_empty() {
                crate::outln!("nothing to purge / 无可删除项");
            }
            if !pass.contradicted.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
        other => return Err(super::invoke::unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
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
        #[arg(long, default_value = "table", value_parser = ["table", "json", "csv", "html"])]
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
        #[arg(long, default_value = "table", value_parser = ["table", "json", "csv", "html"])]
        format: String,
    },
}

/// The typed operation a `report` command is a front end of.
pub fn report_request(cmd: &ReportCommand) -> crate::api::Request {
    let format = |f: &str| match f {
        "json" => crate::api::report::Format::Json,
        "csv" => crate::api::report::Format::Csv,
        "html" => crate::api::report::Format::Html,
        _ => crate::api::report::Format::Table,
    };
    match cmd {
        ReportCommand::Compliance { from, to, format: f } => {
            crate::api::Request::ReportCompliance(crate::api::report::ComplianceArgs {
                from: from.to_string(),
                to: to.to_string(),
                format: format(f),
            })
        }
        ReportCommand::SpotCheck { sample, seed, from, to, format: f } => {
            crate::api::Request::ReportSpotCheck(crate::api::report::SpotCheckArgs {
                sample: *sample,
                seed: seed.map(|s| s.to_string()),
                from: from.to_string(),
                to: to.to_string(),
                format: format(f),
            })
        }
    }
}

/// Runs a `report` command through `link` and prints its document.
///
/// # Errors
/// When it is refused or could not run (exit code 2).
pub fn run_report(cmd: &ReportCommand, link: &super::invoke::Link<'_>) -> anyhow::Result<ExitCode> {
    match link.call(report_request(cmd))? {
        crate::api::Reply::ReportCompliance(d) | crate::api::Reply::ReportSpotCheck(d) => {
            crate::outprint!("{}", d.text);
            if let (crate::api::report::Format::Table, Some(central)) = (d.format, &d.central) {
                crate::outprint!("{}", super::central::render(&serde_json::to_value(central)?));
            }
        }
        other => return Err(super::invoke::unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}
