//! `evidock gap list|explain|review|exempt|exempt-approve|exemptions`: gaps in recording and
//! their written explanations (R6; S0 §13, S2 §18, S4 §19), and approvals not to record (S1 §8).
//! A front end of the `gap_*` operations ([`crate::api::gap`]): it builds the request (opening
//! the scanned statement, sent as a descriptor) and renders the reply.

use std::os::fd::OwnedFd;
use std::process::ExitCode;

use anyhow::Context;

use super::invoke::Link;
use crate::api::gap::{self, Gap};
use crate::api::{Reply, Request};

/// `evidock gap ...`
#[derive(Debug, clap::Subcommand)]
pub enum GapCommand {
    /// List gaps in recording (`--open`: unexplained ones only).
    List {
        /// Only gaps the recorder did not explain and nobody explained in writing yet.
        #[arg(long)]
        open: bool,
        /// JSON, one object per gap.
        #[arg(long)]
        json: bool,
    },
    /// Attach a written explanation to a gap (R6), naming the officer who wrote it.
    Explain {
        /// Gap id (from `gap list`).
        id: i64,
        /// The explanation.
        #[arg(long)]
        text: String,
        /// The officer who wrote it, by badge (警号); who types it in is logged as well.
        #[arg(long, value_name = "BADGE")]
        by: String,
        /// The scanned, signed statement (PDF or image), stored write-once in the archive.
        #[arg(long, value_name = "FILE")]
        scan: Option<std::path::PathBuf>,
    },
    /// The head approves or rejects an explanation awaiting review (S2 §18); a rejected one
    /// leaves the gap unexplained until it is explained again.
    Review {
        /// Gap id.
        id: i64,
        /// Approve it.
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        approve: bool,
        /// Reject it.
        #[arg(long)]
        reject: bool,
        /// A note (required to reject).
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Enter an approval not to record (S1 §8): an officer, a window, the reason; another
    /// approver approves it with `gap exempt-approve`.
    Exempt {
        /// The officer (badge).
        #[arg(long, value_name = "BADGE")]
        officer: String,
        /// From (YYYY-MM-DDThh:mm[:ss], station local time).
        #[arg(long)]
        from: String,
        /// To.
        #[arg(long)]
        to: String,
        /// Why recording was not possible or not appropriate, and who agreed on site.
        #[arg(long)]
        reason: String,
    },
    /// Approve an exemption entered by someone else.
    ExemptApprove {
        /// Exemption number (printed by `gap exempt`).
        id: i64,
    },
    /// Every exemption and whether it is approved.
    Exemptions {
        /// JSON, one object per exemption.
        #[arg(long)]
        json: bool,
    },
}

/// The request a `gap` command sends.
pub fn request(cmd: &GapCommand) -> Request {
    match cmd {
        GapCommand::List { open, .. } => Request::GapList(gap::ListArgs { open: *open }),
        GapCommand::Explain { id, text, by, .. } => {
            Request::GapExplain(gap::Explain { id: *id, text: text.clone(), by: by.clone() })
        }
        GapCommand::Review { id, approve, note, .. } => {
            Request::GapReview(gap::Review { id: *id, approve: *approve, note: note.clone() })
        }
        GapCommand::Exempt { officer, from, to, reason } => Request::GapExempt(gap::Exempt {
            officer: officer.clone(),
            from: from.clone(),
            to: to.clone(),
            reason: reason.clone(),
        }),
        GapCommand::ExemptApprove { id } => Request::GapExemptApprove(gap::ExemptApprove { id: *id }),
        GapCommand::Exemptions { .. } => Request::GapExemptions(gap::ExemptionsArgs {}),
    }
}

/// Runs a `gap` command through `link` and renders its reply.
///
/// # Errors
/// When it is refused or could not run (exit code 2).
pub fn run(cmd: &GapCommand, link: &Link<'_>) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    if let GapCommand::Explain { scan: Some(path), .. } = cmd {
        let f = std::fs::File::open(path).with_context(|| format!("opening the scan {}", path.display()))?;
        files.push((gap::SCAN_FILE.to_string(), OwnedFd::from(f)));
    }
    let json = matches!(cmd, GapCommand::List { json: true, .. } | GapCommand::Exemptions { json: true });
    match link.call_with_files(request(cmd), files)? {
        Reply::GapList(gaps) => {
            for g in &gaps {
                crate::outln!("{}", if json { serde_json::to_string(g)? } else { gap_line(g) });
            }
        }
        Reply::GapExplain(e) => crate::outln!(
            "gap {} explained by officer {} / 已书面说明{}{}",
            e.id,
            e.by,
            e.scan.map(|s| format!("; scan stored as 扫描件存档 {}", s.path)).unwrap_or_default(),
            if e.review_required { "; awaiting the head's review / 待负责人审核" } else { "" }
        ),
        Reply::GapReview(r) if r.approved => {
            crate::outln!("the explanation of gap {} is approved / 中断说明已审核通过", r.id)
        }
        Reply::GapReview(r) => crate::outln!(
            "the explanation of gap {} is rejected; the gap is unexplained again / 中断说明已退回，需重新说明",
            r.id
        ),
        Reply::GapExempt(e) => crate::outln!(
            "exemption #{} entered for officer {}; another approver approves it / 不予录像登记 #{} 已提交，待他人批准",
            e.id,
            e.officer,
            e.id
        ),
        Reply::GapExemptApprove(e) => crate::outln!(
            "exemption #{} approved: officer {} need not have recorded {} – {} / 不予录像已批准",
            e.id,
            e.officer,
            e.from,
            e.to
        ),
        Reply::GapExemptions(list) => {
            for e in &list {
                if json {
                    crate::outln!("{}", serde_json::to_string(e)?);
                } else {
                    crate::outln!(
                        "#{:<4} officer {} {} – {}  {}  entered by {}  {}",
                        e.id,
                        e.officer,
                        e.from,
                        e.to,
                        e.reason,
                        e.recorded_by,
                        e.approved_by
                            .as_ref()
                            .map_or("awaiting approval 待批准".to_string(), |a| format!("approved by {a} 已批准"))
                    );
                }
            }
        }
        other => return Err(super::invoke::unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}

/// One gap as a line for a person.
fn gap_line(g: &Gap) -> String {
    let who = match (&g.author, &g.typed_by) {
        (Some(author), Some(typed_by)) => format!(
            " (by 说明人 {author}, typed by 录入 {typed_by}; review 审核: {}{})",
            review_zh(g.review.as_deref().unwrap_or("")),
            if g.scan.is_some() { "; scan 附扫描件" } else { "" }
        ),
        _ => String::new(),
    };
    let why = match (&g.reason, &g.explanation) {
        (Some(r), _) => format!("recorder: {r}"),
        (None, Some(e)) => format!("explained 已说明: {e}{who}"),
        (None, None) => format!("UNEXPLAINED 未说明{who}"),
    };
    format!(
        "#{:<4} {} {} seq {}→{}  {} – {}  {} s  {why}",
        g.id,
        g.serial,
        g.session,
        g.after_seq,
        g.before_seq,
        g.from,
        g.to,
        g.duration_ms / 1000
    )
}

fn review_zh(review: &str) -> &'static str {
    match review {
        "pending" => "pending 待审核",
        "approved" => "approved 已审核",
        "rejected" => "rejected 已退回",
        _ => "not required 无需审核",
    }
}
