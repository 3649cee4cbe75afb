//! `access_mark`, `access_unmark`, `access_marks`, `access_informant`: confidentiality marks
//! on a case or a recording (R10: secret, work secret, commercial secret, privacy), which
//! decide who may ask for and approve its access, and a case's informants (举报人), whose names
//! stay in the station's catalogue: no custody event, report or export carries them.

use serde::{Deserialize, Serialize};

use super::{ApiError, Ctx};
use crate::access::Mark;
use crate::catalog::Catalog;

/// `access_mark`: a case (`case`) or a recording (`recording`), one of the two, its level and
/// why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkArgs {
    /// A case number, or
    #[serde(default)]
    pub case: Option<String>,
    /// a recording, `SERIAL/SESSION` or `SERIAL/file-ID`.
    #[serde(default)]
    pub recording: Option<String>,
    /// `secret`, `work-secret`, `commercial-secret` or `privacy`.
    pub level: String,
    /// Why (required).
    pub reason: String,
}

/// `access_unmark`: a mark by its number, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnmarkArgs {
    /// The mark's number.
    pub id: i64,
    /// Why (required).
    pub reason: String,
}

/// `access_marks`: the marks in force on a case or a recording, one of the two.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarksOf {
    /// A case number, or
    #[serde(default)]
    pub case: Option<String>,
    /// a recording.
    #[serde(default)]
    pub recording: Option<String>,
}

/// `access_informant`: a case and its informant's name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InformantArgs {
    /// The case number.
    pub case: String,
    /// The informant's name.
    pub name: String,
}

/// A mark in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkRow {
    /// Its number.
    pub id: i64,
    /// What it marks, `case:NUMBER` or `recording:ID`.
    pub subject: String,
    /// `secret`, …
    pub level: String,
    /// In Chinese.
    pub level_zh: String,
}

/// A mark removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmarked {
    /// Its number.
    pub id: i64,
}

/// The informant recorded: the case only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InformantRecorded {
    /// The case number.
    pub case: String,
}

fn reason(r: &str) -> Result<&str, ApiError> {
    let r = r.trim();
    if r.is_empty() {
        return Err(ApiError::invalid("a reason is required / 必须填写理由"));
    }
    Ok(r)
}

/// The subject a case or a recording is marked as, named as the catalogue names it.
fn subject(catalog: &Catalog, case: Option<&str>, recording: Option<&str>) -> Result<String, ApiError> {
    let given = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    match (given(case), given(recording)) {
        (Some(c), None) => Ok(format!(
            "case:{}",
            catalog.case(&c).map_err(|e| ApiError::not_found(format!("{e} / 案件不存在")))?.label.number
        )),
        (None, Some(r)) => Ok(format!(
            "recording:{}",
            catalog.recording(&r).map_err(|e| ApiError::not_found(format!("{e} / 无此录像")))?.recording.id
        )),
        _ => Err(ApiError::invalid("name a case or a recording, one of the two / 请指定案件或录像（二选一）")),
    }
}

fn row(id: i64, subject: &str, m: Mark) -> MarkRow {
    MarkRow { id, subject: subject.to_string(), level: m.as_str().to_string(), level_zh: m.label_zh().to_string() }
}

/// Marks a case or a recording confidential (`confidentiality_marked`, with the reason).
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for an unknown level, no reason, or not exactly one of case
/// and recording; [`super::ErrorKind::NotFound`] for what does not exist.
pub fn mark(ctx: &Ctx<'_>, a: &MarkArgs) -> Result<MarkRow, ApiError> {
    let level = Mark::parse(a.level.trim()).ok_or_else(|| {
        ApiError::invalid(format!(
            "level {:?}: use secret, work-secret, commercial-secret or privacy / 密级应为 secret、work-secret、commercial-secret 或 privacy",
            a.level
        ))
    })?;
    let why = reason(&a.reason)?;
    let mut catalog = ctx.catalog()?;
    let subject = subject(&catalog, a.case.as_deref(), a.recording.as_deref())?;
    let id = catalog.set_mark(&subject, level, why)?;
    Ok(row(id, &subject, level))
}

/// Removes a mark (`confidentiality_cleared`, with the reason).
///
/// # Errors
/// [`super::ErrorKind::Invalid`] without a reason or for no mark in force by that number.
pub fn unmark(ctx: &Ctx<'_>, a: &UnmarkArgs) -> Result<Unmarked, ApiError> {
    let why = reason(&a.reason)?;
    let mut catalog = ctx.catalog()?;
    catalog.clear_mark(a.id, why)?;
    Ok(Unmarked { id: a.id })
}

/// The marks in force on a case or a recording, by number.
///
/// # Errors
/// As [`mark`] for the subject.
pub fn marks(ctx: &Ctx<'_>, a: &MarksOf) -> Result<Vec<MarkRow>, ApiError> {
    let catalog = ctx.catalog()?;
    let subject = subject(&catalog, a.case.as_deref(), a.recording.as_deref())?;
    Ok(catalog.marks(&subject)?.into_iter().map(|(id, m)| row(id, &subject, m)).collect())
}

/// Records a case's informant (`case_labelled` with `informant_recorded`: the case, never the
/// person).
///
/// # Errors
/// [`super::ErrorKind::NotFound`] for an unknown case, [`super::ErrorKind::Invalid`] for no
/// name.
pub fn informant(ctx: &Ctx<'_>, a: &InformantArgs) -> Result<InformantRecorded, ApiError> {
    let mut catalog = ctx.catalog()?;
    let number =
        catalog.case(a.case.trim()).map_err(|e| ApiError::not_found(format!("{e} / 案件不存在")))?.label.number;
    let name = a.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("the informant's name must not be empty / 举报人姓名不能为空"));
    }
    catalog.add_informant(&number, name)?;
    Ok(InformantRecorded { case: number })
}
