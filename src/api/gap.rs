//! `gap_list`, `gap_explain`, `gap_review`, `gap_exempt`, `gap_exempt_approve`,
//! `gap_exemptions`: gaps in recording and their written explanations (R6; S0 §13, S2 §18,
//! S4 §19), and approvals not to record (S1 §8).
//!
//! Owns: the author of an explanation (an officer, by badge, beside the user who typed it), the
//! scanned statement (sent as a descriptor, hashed with BLAKE3 and stored write-once under
//! `statements/` in the archive before its event names it), the head's review where
//! `gaps.review_required` asks for one, and exemptions entered and approved by two people.
//! Must never: let an explanation's author or typist review it, or the person who entered an
//! exemption approve it; overwrite a stored scan.

use std::io::Read;
use std::os::fd::OwnedFd;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::{ApiError, Ctx, Files};
use crate::archive::fsio;
use crate::catalog::{Explanation, Scan};
use crate::config::Config;

/// The largest scanned statement accepted, in bytes.
pub const MAX_SCAN_BYTES: u64 = 64 << 20;

/// The archive folder that holds scanned statements.
pub const STATEMENTS: &str = "statements";

/// The name the scanned statement travels under (the one file `gap_explain` takes).
pub const SCAN_FILE: &str = "scan";

/// `gap_list`: every gap, or with `open` only those nobody explained yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Only gaps the recorder did not explain and nobody explained in writing yet.
    #[serde(default)]
    pub open: bool,
}

/// A stored scan of a signed statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRef {
    /// Its path in the archive (`statements/gap-ID-HASH.KIND`).
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its BLAKE3 hash, hex.
    pub blake3: String,
}

impl From<Scan> for ScanRef {
    fn from(s: Scan) -> ScanRef {
        ScanRef { path: s.path, size: s.size, blake3: s.blake3 }
    }
}

/// One gap in recording, with its written explanation if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// The gap's number.
    pub id: i64,
    /// The recorder.
    pub serial: String,
    /// The recording session.
    pub session: String,
    /// The segment before the gap.
    pub after_seq: u64,
    /// The segment after it.
    pub before_seq: u64,
    /// Start, station time as the catalogue holds it.
    pub from: String,
    /// End.
    pub to: String,
    /// Length, milliseconds.
    pub duration_ms: i64,
    /// The recorder's own reason, when it gave one.
    pub reason: Option<String>,
    /// The written explanation, when there is one.
    pub explanation: Option<String>,
    /// The officer who wrote it (badge).
    pub author: Option<String>,
    /// The user who typed it in.
    pub typed_by: Option<String>,
    /// `pending`, `approved`, `rejected`, or `not_required`.
    pub review: Option<String>,
    /// Who reviewed it.
    pub reviewed_by: Option<String>,
    /// The scanned statement.
    pub scan: Option<ScanRef>,
}

/// `gap_explain`: a written explanation of an unexplained gap (R6), naming the officer who
/// wrote it; the scanned, signed statement, when there is one, travels as the file
/// [`SCAN_FILE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Explain {
    /// The gap.
    pub id: i64,
    /// The explanation.
    pub text: String,
    /// The officer who wrote it, by badge (警号); the caller is logged as who typed it in.
    pub by: String,
}

/// The explanation recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explained {
    /// The gap.
    pub id: i64,
    /// The officer who wrote it.
    pub by: String,
    /// The stored scan, when one was sent.
    pub scan: Option<ScanRef>,
    /// Whether it awaits the head's review (`gaps.review_required`, S2 §18).
    pub review_required: bool,
}

/// `gap_review`: the head approves or rejects an explanation awaiting review (S2 §18); a
/// rejected one leaves the gap unexplained until it is explained again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// The gap.
    pub id: i64,
    /// Approve (`true`) or reject (`false`).
    pub approve: bool,
    /// Why (required to reject).
    #[serde(default)]
    pub note: String,
}

/// The review recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reviewed {
    /// The gap.
    pub id: i64,
    /// Whether it was approved.
    pub approved: bool,
}

/// `gap_exempt`: an approval not to record (S1 §8) entered for an officer and a window;
/// another approver approves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exempt {
    /// The officer (badge).
    pub officer: String,
    /// From, station time (`YYYY-MM-DDThh:mm[:ss]`).
    pub from: String,
    /// To, station time.
    pub to: String,
    /// Why recording was not possible or not appropriate, and who agreed on site.
    pub reason: String,
}

/// The exemption entered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exempted {
    /// Its number.
    pub id: i64,
    /// The officer.
    pub officer: String,
}

/// `gap_exempt_approve`: the approval of an exemption someone else entered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExemptApprove {
    /// The exemption's number.
    pub id: i64,
}

/// `gap_exemptions` takes no arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExemptionsArgs {}

/// One exemption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exemption {
    /// Its number.
    pub id: i64,
    /// The officer.
    pub officer: String,
    /// From, station time (`YYYY-MM-DDThh:mm:ss`).
    pub from: String,
    /// To, station time.
    pub to: String,
    /// Why.
    pub reason: String,
    /// Who entered it.
    pub recorded_by: String,
    /// Who approved it, once approved.
    pub approved_by: Option<String>,
}

impl From<crate::catalog::Exemption> for Exemption {
    fn from(e: crate::catalog::Exemption) -> Exemption {
        Exemption {
            id: e.id,
            officer: e.officer,
            from: e.from.format(STATION_TIME).to_string(),
            to: e.to.format(STATION_TIME).to_string(),
            reason: e.reason,
            recorded_by: e.recorded_by,
            approved_by: e.approved_by,
        }
    }
}

/// The gaps (`open`: the unexplained ones), each with its explanation's author, review and
/// scan.
///
/// # Errors
/// `failed` when the catalogue cannot be read.
pub fn list(ctx: &Ctx<'_>, args: &ListArgs) -> Result<Vec<Gap>, ApiError> {
    let catalog = ctx.catalog()?;
    let statements = catalog.gap_statements()?;
    let officers = officers_of_recordings(&catalog, ctx)?;
    Ok(catalog
        .gaps(args.open)?
        .into_iter()
        // An officer sees the gaps in their own footage only.
        .filter(|g| officers.as_ref().is_none_or(|o| own(o, ctx, &g.serial, &g.session)))
        .map(|g| {
            let s = statements.iter().find(|s| s.gap == g.id);
            Gap {
                id: g.id,
                serial: g.serial,
                session: g.session,
                after_seq: g.after_seq,
                before_seq: g.before_seq,
                from: g.from,
                to: g.to,
                duration_ms: g.duration_ms,
                reason: g.reason,
                explanation: g.explanation,
                author: s.map(|s| s.author.clone()),
                typed_by: s.map(|s| s.typed_by.clone()),
                review: s.map(|s| s.review.clone()),
                reviewed_by: s.and_then(|s| s.reviewed_by.clone()),
                scan: s.and_then(|s| s.scan.clone()).map(ScanRef::from),
            }
        })
        .collect())
}

/// For a caller acting as an officer, each recording's officer (`SERIAL/SESSION` to badge);
/// `None` for the other roles, who see every gap.
fn officers_of_recordings(
    catalog: &crate::catalog::Catalog,
    ctx: &Ctx<'_>,
) -> Result<Option<std::collections::HashMap<String, Option<String>>>, ApiError> {
    if ctx.actor.role != crate::custody::event::Role::Officer {
        return Ok(None);
    }
    Ok(Some(catalog.recordings()?.into_iter().map(|r| (r.recording.id, r.recording.officer)).collect()))
}

/// Whether the gap in `serial`'s `session` is in the calling officer's own footage.
fn own(
    officers: &std::collections::HashMap<String, Option<String>>,
    ctx: &Ctx<'_>,
    serial: &str,
    session: &str,
) -> bool {
    let mine = ctx.caller.officer.as_deref();
    mine.is_some() && officers.get(&format!("{serial}/{session}")).is_some_and(|o| o.as_deref() == mine)
}

/// What the compliance report needs of gaps and exemptions: the approved exemptions (S1 §8)
/// and the explanations awaiting the head's review (S2 §18).
///
/// # Errors
/// When the catalogue cannot be read.
pub fn report_facts(
    catalog: &crate::catalog::Catalog,
) -> Result<(Vec<crate::report::ExemptionFacts>, Vec<crate::report::UnreviewedFacts>), ApiError> {
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

/// Takes the one file an operation accepts under `name`; any other file is invalid.
fn only_file(op: &str, files: Files, name: &str) -> Result<Option<OwnedFd>, ApiError> {
    let mut found = None;
    for (n, fd) in files {
        if n == name && found.is_none() {
            found = Some(fd);
        } else {
            return Err(ApiError::invalid(format!(
                "`{op}` takes one file, {name:?}; {n:?} was sent too / 此操作只接收一个文件（{name}）"
            )));
        }
    }
    Ok(found)
}

/// Records the explanation, storing the scan first when one was sent.
///
/// # Errors
/// `invalid` for an empty text or author, a scan that is empty or too large, or another
/// file; `not_found` when the gap is not an unexplained one; `failed` when the scan cannot be
/// stored or read back.
pub fn explain(ctx: &Ctx<'_>, args: &Explain, files: Files) -> Result<Explained, ApiError> {
    let scan_fd = only_file("gap explain", files, SCAN_FILE)?;
    if args.text.trim().is_empty() || args.by.trim().is_empty() {
        return Err(ApiError::invalid(
            "the explanation and its author (the officer's badge) are required / 说明内容和说明人警号必填",
        ));
    }
    let mut catalog = ctx.catalog()?;
    let Some(gap) = catalog.gaps(true)?.into_iter().find(|g| g.id == args.id) else {
        return Err(ApiError::not_found(format!(
            "no unexplained gap {} (see `evidock gap list --open`); an explanation stands unless the head rejects it / 无待说明的中断 {}",
            args.id, args.id
        )));
    };
    if let Some(officers) = officers_of_recordings(&catalog, ctx)? {
        // An officer explains, in their own name, a gap in their own footage.
        let badge = ctx.caller.officer.as_deref().unwrap_or("-");
        if !own(&officers, ctx, &gap.serial, &gap.session) || args.by.trim() != badge {
            return Err(ApiError::refused(format!(
                "gap {} is not in the footage of officer {badge}, or the explanation is not theirs: an officer explains \
                 their own gaps, in their own name / 执法人员只能以本人名义说明本人录像中的中断",
                args.id
            )));
        }
    }
    let scan = match scan_fd {
        Some(fd) => Some(store_scan(ctx.config, args.id, std::fs::File::from(fd))?),
        None => None,
    };
    catalog.explain_gap(&Explanation {
        gap: args.id,
        text: &args.text,
        author: &args.by,
        scan: scan.clone(),
        review_required: ctx.config.gaps.review_required,
    })?;
    Ok(Explained {
        id: args.id,
        by: args.by.trim().to_string(),
        scan: scan.map(ScanRef::from),
        review_required: ctx.config.gaps.review_required,
    })
}

/// Records the head's review.
///
/// # Errors
/// `refused` when the caller wrote or typed the explanation; `not_found` when the gap has
/// none; `invalid` for a rejection without a note.
pub fn review(ctx: &Ctx<'_>, args: &Review) -> Result<Reviewed, ApiError> {
    let mut catalog = ctx.catalog()?;
    let Some(s) = catalog.gap_statement(args.id)? else {
        return Err(ApiError::not_found(format!(
            "gap {} has no written explanation / 中断 {} 无书面说明",
            args.id, args.id
        )));
    };
    if s.typed_by == ctx.actor.user || ctx.actor.officer.as_deref() == Some(s.author.as_str()) {
        return Err(ApiError::refused(format!(
            "{} wrote or typed the explanation of gap {} and cannot review it; another approver must / 不得审核本人所写或录入的说明",
            ctx.actor.user, args.id
        )));
    }
    if !args.approve && args.note.trim().is_empty() {
        return Err(ApiError::invalid("a rejection says why: a note is required / 退回须写明理由"));
    }
    catalog.review_gap(args.id, args.approve, args.note.trim())?;
    Ok(Reviewed { id: args.id, approved: args.approve })
}

/// Enters an exemption.
///
/// # Errors
/// `invalid` for an empty officer or reason or a window that ends before it starts.
pub fn exempt(ctx: &Ctx<'_>, args: &Exempt) -> Result<Exempted, ApiError> {
    let mut catalog = ctx.catalog()?;
    let (from, to) = (station_time("from", &args.from)?, station_time("to", &args.to)?);
    let id = catalog.record_exemption(&args.officer, from, to, &args.reason)?;
    Ok(Exempted { id, officer: args.officer.trim().to_string() })
}

/// Approves an exemption someone else entered.
///
/// # Errors
/// `refused` when the caller entered it; `invalid` or `failed` as the catalogue says (no
/// such exemption, already approved).
pub fn exempt_approve(ctx: &Ctx<'_>, args: &ExemptApprove) -> Result<Exemption, ApiError> {
    let mut catalog = ctx.catalog()?;
    let pending = catalog.exemptions()?.into_iter().find(|e| e.id == args.id && e.approved_by.is_none());
    if pending.as_ref().is_some_and(|e| e.recorded_by == ctx.actor.user) {
        return Err(ApiError::refused(format!(
            "{} entered exemption #{} and cannot approve it; another approver must / 不得批准本人登记的事项",
            ctx.actor.user, args.id
        )));
    }
    Ok(catalog.approve_exemption(args.id)?.into())
}

/// Every exemption and whether it is approved.
///
/// # Errors
/// `failed` when the catalogue cannot be read.
pub fn exemptions(ctx: &Ctx<'_>, _args: &ExemptionsArgs) -> Result<Vec<Exemption>, ApiError> {
    Ok(ctx.catalog()?.exemptions()?.into_iter().map(Exemption::from).collect())
}

/// How station times are written on the wire.
const STATION_TIME: &str = "%Y-%m-%dT%H:%M:%S";

/// A station time a person gave: `YYYY-MM-DDThh:mm:ss` or `YYYY-MM-DDThh:mm`.
///
/// # Errors
/// `invalid`, naming the field.
pub fn station_time(field: &str, s: &str) -> Result<NaiveDateTime, ApiError> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, STATION_TIME)
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            ApiError::invalid(format!(
                "{field} {s:?}: expected YYYY-MM-DDThh:mm or YYYY-MM-DDThh:mm:ss, station time / 时间格式应为 YYYY-MM-DDThh:mm"
            ))
        })
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
fn store_scan(config: &Config, gap: i64, from: impl Read) -> Result<Scan, ApiError> {
    let mut bytes = Vec::new();
    from.take(MAX_SCAN_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ApiError::failed(format!("reading the scan: {e} / 无法读取扫描件")))?;
    if bytes.is_empty() {
        return Err(ApiError::invalid("the scan is empty / 扫描件为空"));
    }
    if bytes.len() as u64 > MAX_SCAN_BYTES {
        return Err(ApiError::invalid(format!("the scan is larger than {MAX_SCAN_BYTES} bytes / 扫描件过大")));
    }
    let hash = blake3::hash(&bytes).to_hex().to_string();
    let name = format!("gap-{gap}-{}.{}", &hash[..16], kind_of(&bytes));
    let failed = |what: String, e: std::io::Error| ApiError::failed(format!("{what}: {e} / 扫描件存档失败"));
    let dir = fsio::create_dirs(&config.paths.archive_root, std::path::Path::new(STATEMENTS))
        .map_err(|e| failed(format!("creating {STATEMENTS}/ in the archive"), e))?;
    let path = match fsio::write_new(&dir, &name, &bytes) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => dir.join(&name),
        Err(e) => return Err(failed(format!("storing the scan as {STATEMENTS}/{name}"), e)),
    };
    let (size, read, _) = fsio::read_back(&path, config.ingest.read_back, 1 << 20)
        .map_err(|e| failed(format!("reading back {}", path.display()), e))?;
    if size != bytes.len() as u64 || read.to_hex().as_str() != hash {
        return Err(ApiError::failed(format!(
            "{STATEMENTS}/{name} in the archive does not hold the scan's bytes; nothing was recorded / 扫描件存档内容不符，未记录"
        )));
    }
    Ok(Scan { path: format!("{STATEMENTS}/{name}"), size, blake3: hash })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn station_times_read_with_or_without_seconds_and_name_the_field_when_wrong() {
        let t = station_time("from", " 2024-05-01T08:30 ").expect("minutes");
        assert_eq!(t.format(STATION_TIME).to_string(), "2024-05-01T08:30:00");
        assert_eq!(
            station_time("to", "2024-05-01T08:30:15").expect("seconds").format(STATION_TIME).to_string(),
            "2024-05-01T08:30:15"
        );
        let e = station_time("to", "2024-05-01 08:30").expect_err("a space");
        assert_eq!(e.kind, super::super::ErrorKind::Invalid);
        assert!(e.message.starts_with("to \"2024-05-01 08:30\""), "{}", e.message);
    }

    #[test]
    fn scans_are_named_by_their_first_bytes() {
        assert_eq!(kind_of(b"%PDF-1.7"), "pdf");
        assert_eq!(kind_of(&[0xFF, 0xD8, 0xFF, 0xE0]), "jpg");
        assert_eq!(kind_of(b"\x89PNG\r\n"), "png");
        assert_eq!(kind_of(b"II*\0"), "tif");
        assert_eq!(kind_of(b"hello"), "bin");
    }

    #[test]
    fn an_operation_takes_only_the_file_it_names() {
        let fd = || OwnedFd::from(std::fs::File::open("/dev/null").expect("/dev/null"));
        assert!(only_file("gap explain", vec![], SCAN_FILE).expect("none").is_none());
        assert!(only_file("gap explain", vec![(SCAN_FILE.into(), fd())], SCAN_FILE).expect("one").is_some());
        let e = only_file("gap explain", vec![("other".into(), fd())], SCAN_FILE).expect_err("another");
        assert_eq!(e.kind, super::super::ErrorKind::Invalid);
        let e = only_file("gap explain", vec![(SCAN_FILE.into(), fd()), (SCAN_FILE.into(), fd())], SCAN_FILE)
            .expect_err("two");
        assert!(e.message.contains("takes one file"), "{}", e.message);
    }
}
