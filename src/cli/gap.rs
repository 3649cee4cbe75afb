//! `evidock gap list|explain|review|exempt|exempt-approve|exemptions`: gaps in recording and
//! their written explanations (R6; S0 §13, S2 §18, S4 §19), and approvals not to record (S1 §8).
//!
//! Owns: the author of an explanation (an officer, by badge, beside the user who typed it), the
//! scanned statement (hashed with BLAKE3 and stored write-once under `statements/` in the
//! archive before its event names it), the head's review where `gaps.review_required` asks for
//! one, and exemptions entered and approved by two people.
//! Must never: let an explanation's author or typist review it, or the person who entered an
//! exemption approve it; overwrite a stored scan.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDateTime;

use super::invoke::{caller, Refused};
use crate::archive::fsio;
use crate::catalog::{Explanation, Scan};
use crate::config::Config;

/// The largest scanned statement accepted, in bytes.
pub const MAX_SCAN_BYTES: u64 = 64 << 20;

/// The archive folder that holds scanned statements.
pub const STATEMENTS: &str = "statements";

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
        #[arg(long, value_parser = parse_time)]
        from: NaiveDateTime,
        /// To.
        #[arg(long, value_parser = parse_time)]
        to: NaiveDateTime,
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

fn parse_time(s: &str) -> Result<NaiveDateTime, String> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .map_err(|_| format!("{s:?}: expected YYYY-MM-DDThh:mm or YYYY-MM-DDThh:mm:ss"))
}

/// The file name extension of a scan, from its first bytes.
fn kind_of(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"%PDF") {
        "pdf"
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "jpg"
    } else if bytes.starts_with(b"\x89PNG") {
        "png"
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        "tif"
    } else {
        "bin"
    }
}

/// Reads the scan (at most [`MAX_SCAN_BYTES`]), hashes it and stores it write-once as
/// `statements/gap-<id>-<hash>.<kind>` in the archive: staged, fsynced, renamed without
/// overwriting, the folder fsynced, sealed read-only, read back. The same bytes stored before
/// are kept, not written twice.
fn store_scan(config: &Config, gap: i64, from: &std::path::Path) -> anyhow::Result<Scan> {
    let mut bytes = Vec::new();
    std::fs::File::open(from)
        .with_context(|| format!("opening the scan {}", from.display()))?
        .take(MAX_SCAN_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading the scan {}", from.display()))?;
    if bytes.is_empty() {
        anyhow::bail!("the scan {} is empty / 扫描件为空", from.display());
    }
    if bytes.len() as u64 > MAX_SCAN_BYTES {
        anyhow::bail!("the scan is larger than {MAX_SCAN_BYTES} bytes / 扫描件过大");
    }
    let hash = blake3::hash(&bytes).to_hex().to_string();
    let name = format!("gap-{gap}-{}.{}", &hash[..16], kind_of(&bytes));
    let dir = fsio::create_dirs(&config.paths.archive_root, std::path::Path::new(STATEMENTS))
        .with_context(|| format!("creating {STATEMENTS}/ in the archive"))?;
    let path = match fsio::write_new(&dir, &name, &bytes) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => dir.join(&name),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("storing the scan as {STATEMENTS}/{name}"))),
    };
    let (size, read, _) = fsio::read_back(&path, config.ingest.read_back, 1 << 20)
        .with_context(|| format!("reading back {}", path.display()))?;
    if size != bytes.len() as u64 || read.to_hex().as_str() != hash {
        anyhow::bail!("{STATEMENTS}/{name} in the archive does not hold the scan's bytes; nothing was recorded");
    }
    Ok(Scan { path: format!("{STATEMENTS}/{name}"), size, blake3: hash })
}

/// Runs a `gap` command.
///
/// # Errors
/// When it is refused or could not run (exit code 2).
pub fn run(cmd: &GapCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let mut catalog = super::open_catalog_as_user(config)?;
    match cmd {
        GapCommand::List { open, json } => {
            let statements = catalog.gap_statements()?;
            for g in catalog.gaps(*open)? {
                let s = statements.iter().find(|s| s.gap == g.id);
                if *json {
                    crate::outln!(
                        "{}",
                        serde_json::json!({
                            "id": g.id, "serial": g.serial, "session": g.session, "after_seq": g.after_seq,
                            "before_seq": g.before_seq, "from": g.from, "to": g.to, "duration_ms": g.duration_ms,
                            "reason": g.reason, "explanation": g.explanation,
                            "author": s.map(|s| &s.author), "typed_by": s.map(|s| &s.typed_by),
                            "review": s.map(|s| &s.review), "reviewed_by": s.and_then(|s| s.reviewed_by.as_ref()),
                            "scan": s.and_then(|s| s.scan.as_ref()).map(|c| serde_json::json!({
                                "path": c.path, "size": c.size, "blake3": c.blake3,
                            })),
                        })
                    );
                } else {
                    let who = s.map_or(String::new(), |s| {
                        format!(
                            " (by 说明人 {}, typed by 录入 {}; review 审核: {}{})",
                            s.author,
                            s.typed_by,
                            review_zh(&s.review),
                            if s.scan.is_some() { "; scan 附扫描件" } else { "" }
                        )
                    });
                    let why = match (&g.reason, &g.explanation) {
                        (Some(r), _) => format!("recorder: {r}"),
                        (None, Some(e)) => format!("explained 已说明: {e}{who}"),
                        (None, None) => format!("UNEXPLAINED 未说明{who}"),
                    };
                    crate::outln!(
                        "#{:<4} {} {} seq {}→{}  {} – {}  {} s  {why}",
                        g.id,
                        g.serial,
                        g.session,
                        g.after_seq,
                        g.before_seq,
                        g.from,
                        g.to,
                        g.duration_ms / 1000
                    );
                }
            }
        }
        GapCommand::Explain { id, text, by, scan } => {
            if text.trim().is_empty() || by.trim().is_empty() {
                anyhow::bail!("the explanation and its author (--by BADGE) are required / 说明内容和说明人警号必填");
            }
            if !catalog.gaps(true)?.iter().any(|g| g.id == *id) {
                anyhow::bail!(
                    "no unexplained gap {id} (see `evidock gap list --open`); an explanation stands unless the head rejects it / 无待说明的中断 {id}"
                );
            }
            let scan = match scan {
                Some(p) => Some(store_scan(config, *id, p)?),
                None => None,
            };
            let stored = scan.as_ref().map(|s| s.path.clone());
            catalog.explain_gap(&Explanation {
                gap: *id,
                text,
                author: by,
                scan,
                review_required: config.gaps.review_required,
            })?;
            crate::outln!(
                "gap {id} explained by officer {} / 已书面说明{}{}",
                by.trim(),
                stored.map(|p| format!("; scan stored as 扫描件存档 {p}")).unwrap_or_default(),
                if config.gaps.review_required { "; awaiting the head's review / 待负责人审核" } else { "" }
            );
        }
        GapCommand::Review { id, approve, reject: _, note } => {
            let me = caller();
            let Some(s) = catalog.gap_statement(*id)? else {
                anyhow::bail!("gap {id} has no written explanation / 中断 {id} 无书面说明");
            };
            if s.typed_by == me.actor.user || me.actor.officer.as_deref() == Some(s.author.as_str()) {
                return Err(Refused(format!(
                    "{} wrote or typed the explanation of gap {id} and cannot review it; another approver must / 不得审核本人所写或录入的说明",
                    me.actor.user
                ))
                .into());
            }
            if !approve && note.trim().is_empty() {
                anyhow::bail!("a rejection says why: --note TEXT / 退回须写明理由");
            }
            catalog.review_gap(*id, *approve, note.trim())?;
            if *approve {
                crate::outln!("the explanation of gap {id} is approved / 中断说明已审核通过");
            } else {
                crate::outln!("the explanation of gap {id} is rejected; the gap is unexplained again / 中断说明已退回，需重新说明");
            }
        }
        GapCommand::Exempt { officer, from, to, reason } => {
            let id = catalog.record_exemption(officer, *from, *to, reason)?;
            crate::outln!(
                "exemption #{id} entered for officer {}; another approver approves it / 不予录像登记 #{id} 已提交，待他人批准",
                officer.trim()
            );
        }
        GapCommand::ExemptApprove { id } => {
            let me = caller();
            let pending = catalog.exemptions()?.into_iter().find(|e| e.id == *id && e.approved_by.is_none());
            if pending.as_ref().is_some_and(|e| e.recorded_by == me.actor.user) {
                return Err(Refused(format!(
                    "{} entered exemption #{id} and cannot approve it; another approver must / 不得批准本人登记的事项",
                    me.actor.user
                ))
                .into());
            }
            let e = catalog.approve_exemption(*id)?;
            crate::outln!(
                "exemption #{id} approved: officer {} need not have recorded {} – {} / 不予录像已批准",
                e.officer,
                e.from,
                e.to
            );
        }
        GapCommand::Exemptions { json } => {
            for e in catalog.exemptions()? {
                if *json {
                    crate::outln!(
                        "{}",
                        serde_json::json!({
                            "id": e.id, "officer": e.officer, "from": e.from.to_string(), "to": e.to.to_string(),
                            "reason": e.reason, "recorded_by": e.recorded_by, "approved_by": e.approved_by,
                        })
                    );
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
    }
    Ok(ExitCode::SUCCESS)
}

/// What the compliance report needs of gaps and exemptions: the approved exemptions (S1 §8)
/// and the explanations awaiting the head's review (S2 §18).
///
/// # Errors
/// When the catalogue cannot be read.
pub fn report_facts(
    catalog: &crate::catalog::Catalog,
) -> anyhow::Result<(Vec<crate::report::ExemptionFacts>, Vec<crate::report::UnreviewedFacts>)> {
    let exemptions = catalog
        .exemptions()?
        .into_iter()
        .filter(|e| e.approved_by.is_some())
        .map(|e| crate::report::ExemptionFacts {
            id: e.id,
            officer: e.officer,
            from: e.from,
            to: e.to,
            reason: e.reason,
        })
        .collect();
    let gaps = catalog.gaps(false)?;
    let unreviewed = catalog
        .gap_statements()?
        .into_iter()
        .filter(|s| s.review == "pending")
        .filter_map(|s| {
            let g = gaps.iter().find(|g| g.id == s.gap)?;
            Some(crate::report::UnreviewedFacts {
                gap: s.gap,
                recording: format!("{}/{}", g.serial, g.session),
                author: s.author,
            })
        })
        .collect();
    Ok((exemptions, unreviewed))
}

fn review_zh(review: &str) -> &'static str {
    match review {
        "pending" => "pending 待审核",
        "approved" => "approved 已审核",
        "rejected" => "rejected 已退回",
        _ => "not required 无需审核",
    }
}
