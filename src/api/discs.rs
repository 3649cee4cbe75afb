//! `disc_list`, `disc_move`, `disc_abandon`: the discs that keep long-term footage (R7; S3
//! §27): where each stands (planned, staged, written, verified, failed), where it is stored and
//! who holds it, moved with the reason (`disc_moved`), and a disc that will never be verified
//! given up so that its footage returns to the next plan. Making, writing and verifying discs
//! are the burn job's (`evidock burn run|write|verify|recheck`, run supervised).

use serde::{Deserialize, Serialize};

use super::{ApiError, Ctx};
use crate::catalog::DiscRow;

/// A registered disc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disc {
    /// Its label (volume id).
    pub label: String,
    /// The burn job that made it.
    pub job: i64,
    /// Its number in the job's set.
    pub number: i64,
    /// How many discs the set has.
    pub of: i64,
    /// `bd25`, `dvd`, …
    pub media: String,
    /// `planned`, `staged`, `written`, `verified` or `failed`.
    pub state: String,
    /// In Chinese.
    pub state_zh: String,
    /// Where it is stored.
    pub location: Option<String>,
    /// Who holds it.
    pub holder: Option<String>,
    /// Who made the copy (制作人).
    pub maker: Option<String>,
    /// Who extracted the footage (提取人).
    pub extractor: Option<String>,
    /// When the footage was extracted.
    pub extracted_at: Option<String>,
    /// When the disc was verified.
    pub verified_at: Option<String>,
    /// Its last check: when.
    pub last_check: Option<String>,
    /// Its last check: the result.
    pub last_result: Option<String>,
    /// Files on it.
    pub files: i64,
    /// Bytes of footage on it.
    pub bytes: i64,
}

/// `disc_move`: a disc's new place or holder (or both), and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Move {
    /// The disc's label.
    pub label: String,
    /// Where it is stored now (e.g. 档案室 柜3 格2).
    #[serde(default)]
    pub location: Option<String>,
    /// Who holds it now.
    #[serde(default)]
    pub holder: Option<String>,
    /// Why (required).
    pub reason: String,
}

/// `disc_abandon`: a disc that will never be verified, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Abandon {
    /// The disc's label.
    pub label: String,
    /// Why (required).
    pub reason: String,
}

/// The disc as it now stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    /// The disc.
    pub disc: Disc,
}

/// A disc's state in Chinese.
pub fn state_zh(state: &str) -> &'static str {
    match state {
        "planned" => "已计划",
        "staged" => "已备妥",
        "written" => "已刻录",
        "verified" => "已校验",
        "failed" => "校验失败",
        _ => "",
    }
}

fn view(d: DiscRow) -> Disc {
    let (last_check, last_result) = d.last_check.map_or((None, None), |(t, r)| (Some(t), Some(r)));
    Disc {
        state_zh: state_zh(&d.state).to_string(),
        label: d.label,
        job: d.job,
        number: d.number.0,
        of: d.number.1,
        media: d.media,
        state: d.state,
        location: d.location,
        holder: d.holder,
        maker: d.maker,
        extractor: d.extractor,
        extracted_at: d.extracted_at,
        verified_at: d.verified_at,
        last_check,
        last_result,
        files: d.files,
        bytes: d.bytes,
    }
}

/// Every registered disc, in the order they were made.
///
/// # Errors
/// When the catalogue cannot be read.
pub fn list(ctx: &Ctx<'_>, _a: &super::NoArgs) -> Result<Vec<Disc>, ApiError> {
    Ok(ctx.catalog()?.discs()?.into_iter().map(view).collect())
}

fn reason(r: &str) -> Result<&str, ApiError> {
    let r = r.trim();
    if r.is_empty() {
        return Err(ApiError::invalid("a reason is required / 必须填写理由"));
    }
    Ok(r)
}

fn given(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// Records that a disc moved (`disc_moved`, with where it was and who held it before).
///
/// # Errors
/// [`super::ErrorKind::Invalid`] without a place or a holder, or without a reason;
/// [`super::ErrorKind::NotFound`] for an unknown disc.
pub fn move_disc(ctx: &Ctx<'_>, a: &Move) -> Result<Changed, ApiError> {
    let why = reason(&a.reason)?;
    let (location, holder) = (given(a.location.as_deref()), given(a.holder.as_deref()));
    if location.is_none() && holder.is_none() {
        return Err(ApiError::invalid("give where it is stored, who holds it, or both / 请填写存放位置或保管人"));
    }
    let mut catalog = ctx.catalog()?;
    let label = a.label.trim();
    catalog.disc(label).map_err(|e| ApiError::not_found(format!("{e} / 无此光盘")))?;
    catalog.move_disc(label, location, holder, why)?;
    Ok(Changed { disc: view(catalog.disc(label)?) })
}

/// Gives up a disc not yet verified (`disc_failed` with `abandoned`): it counts as failed and
/// its footage returns to the next plan.
///
/// # Errors
/// [`super::ErrorKind::Invalid`] without a reason, [`super::ErrorKind::NotFound`] for an
/// unknown disc, [`super::ErrorKind::Conflict`] for a disc verified or failed already.
pub fn abandon(ctx: &Ctx<'_>, a: &Abandon) -> Result<Changed, ApiError> {
    let why = reason(&a.reason)?;
    let mut catalog = ctx.catalog()?;
    let label = a.label.trim();
    let disc = catalog.disc(label).map_err(|e| ApiError::not_found(format!("{e} / 无此光盘")))?;
    if !matches!(disc.state.as_str(), "planned" | "staged" | "written") {
        return Err(ApiError::conflict(format!(
            "disc {label} is {}; only a disc not yet verified can be abandoned / 仅未校验的光盘可作废",
            disc.state
        )));
    }
    catalog.record_disc_failed(label, serde_json::json!({ "stage": "abandoned", "reason": why }))?;
    Ok(Changed { disc: view(catalog.disc(label)?) })
}
