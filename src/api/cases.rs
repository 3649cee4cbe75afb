//! `case_create`, `case_list`, `case_show`, `case_label`, `case_propose`, `describe`,
//! `describe_history`, `case_assign`: cases, what is said of footage and
//! where it is filed (R4, R13; S4 §23), and the case folders' labels and manifests that follow
//! (S3 §26, INV-33).
//!
//! Officers act on their own footage only: a recording made on a recorder assigned to them
//! then, filed only into a case that names them as a handling officer. Custodians and
//! archivists act on any.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::{ApiError, Ctx};
use crate::archive::assign;
use crate::archive::casefolder::{self, CaseSheet, ChainEntry, Made, SegmentEntry, SheetFile};
/// The kinds of case, as the wire names them (`penalty`, `coercive`, ...) with their Chinese
/// labels, for front ends.
pub use crate::catalog::CaseKind;
use crate::catalog::{ArchivedFile, Case, CaseLabel, Catalog, DescribedTarget, DescriptionText};
use crate::config::Config;
use crate::custody::event::Role;

/// A case's label: create a case with it (`case_create`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    /// The case number, e.g. 宜卫罚〔2024〕12号.
    pub number: String,
    /// The party (当事人).
    #[serde(default)]
    pub party: Option<String>,
    /// The handling officers' numbers.
    #[serde(default)]
    pub officers: Vec<String>,
    /// `penalty`, `coercive`, `inspection`, `permit` or `other` (default).
    #[serde(default)]
    pub kind: Option<String>,
    /// On-site windows, `[FROM, TO]`, station time `YYYY-MM-DDThh:mm[:ss]`.
    #[serde(default)]
    pub windows: Vec<[String; 2]>,
}

/// The case created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// Its number.
    pub number: String,
    /// Its folder's name under each day.
    pub folder: String,
}

/// One case, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    /// Its number.
    pub number: String,
    /// The party.
    pub party: Option<String>,
    /// `penalty`, …
    pub kind: String,
    /// In Chinese.
    pub kind_zh: String,
    /// The handling officers' numbers.
    pub officers: Vec<String>,
    /// Files filed into it.
    pub files: usize,
}

fn parse_time(s: &str) -> Result<chrono::NaiveDateTime, ApiError> {
    let s = s.trim();
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            ApiError::invalid(format!("{s:?}: expected YYYY-MM-DDThh:mm[:ss] / 时间格式应为 YYYY-MM-DDThh:mm"))
        })
}

impl Label {
    /// The label the catalogue stores.
    ///
    /// # Errors
    /// [`super::ErrorKind::Invalid`] for an unknown kind or a time that is not one.
    pub fn label(&self) -> Result<CaseLabel, ApiError> {
        let kind = match self.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
            None => CaseKind::Other,
            Some(k) => CaseKind::parse(k).ok_or_else(|| {
                ApiError::invalid(format!(
                    "kind {k:?}: expected penalty, coercive, inspection, permit or other / 案件类别不正确"
                ))
            })?,
        };
        let windows = self
            .windows
            .iter()
            .map(|[a, b]| Ok((parse_time(a)?, parse_time(b)?)))
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(CaseLabel {
            number: self.number.trim().to_string(),
            party: self.party.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(str::to_string),
            officers: self.officers.iter().map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect(),
            kind,
            windows,
        })
    }
}

/// Creates a case (`case_created`).
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for a number that cannot be a folder name, an unknown kind, a
/// window that ends before it starts; [`super::ErrorKind::Conflict`] for a number that exists.
pub fn create(ctx: &Ctx<'_>, a: &Label) -> Result<Created, ApiError> {
    let label = a.label()?;
    let mut catalog = ctx.catalog()?;
    if catalog.case(&label.number).is_ok() {
        return Err(ApiError::conflict(format!("case {} already exists / 案件已存在", label.number)));
    }
    catalog.create_case(&label)?;
    let case = catalog.case(&label.number)?;
    Ok(Created { number: case.label.number, folder: case.folder })
}

/// Every case, by number.
///
/// # Errors
/// When the catalogue cannot be read.
pub fn list(ctx: &Ctx<'_>, _a: &super::NoArgs) -> Result<Vec<CaseSummary>, ApiError> {
    let catalog = ctx.catalog()?;
    let mut out = Vec::new();
    for n in catalog.case_numbers()? {
        let c = catalog.case(&n)?;
        out.push(CaseSummary {
            number: c.label.number,
            party: c.label.party,
            kind: c.label.kind.as_str().to_string(),
            kind_zh: c.label.kind.label_zh().to_string(),
            officers: c.label.officers,
            files: c.files.len(),
        });
    }
    Ok(out)
}

/// `case_show`: one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowArgs {
    /// The case number.
    pub number: String,
}

/// A description as shown, station time with the zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescriptionView {
    /// 执法对象.
    pub subject: Option<String>,
    /// 执法内容.
    pub content: Option<String>,
    /// 取证地点.
    pub place: Option<String>,
    /// Who wrote it.
    pub written_by: String,
    /// Their officer number, when they are an officer.
    pub officer: Option<String>,
    /// When.
    pub written_at: String,
}

impl DescriptionView {
    fn of(d: &crate::catalog::Description, tz: chrono_tz::Tz) -> DescriptionView {
        DescriptionView {
            subject: d.text.subject.clone(),
            content: d.text.content.clone(),
            place: d.text.place.clone(),
            written_by: d.written_by.clone(),
            officer: d.officer.clone(),
            written_at: crate::report::history::station_time_named(&d.written_at, tz),
        }
    }

    /// One line per field, Chinese first.
    pub fn lines(&self) -> Vec<String> {
        [
            ("执法对象", "Subject", &self.subject),
            ("执法内容", "Content", &self.content),
            ("取证地点", "Place", &self.place),
        ]
        .into_iter()
        .filter_map(|(zh, en, v)| v.as_ref().map(|v| format!("{zh} {en}: {v}")))
        .collect()
    }
}

/// A handling officer, named from the bindings in force when their footage was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedOfficer {
    /// Officer number.
    pub id: String,
    /// Name, when known.
    pub name: Option<String>,
    /// Where the name comes from (`registry`, `duty`, …).
    pub source: String,
}

/// A file filed into a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFile {
    /// The file's id.
    pub file: i64,
    /// Its path in the case folder.
    pub path: String,
    /// A hard link to another case's copy.
    pub linked: bool,
    /// Its recording.
    pub recording: Option<String>,
    /// The recording's description.
    pub description: Option<DescriptionView>,
}

/// A case: its label, description and footage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseView {
    /// Its number.
    pub number: String,
    /// Its folder's name under each day.
    pub folder: String,
    /// The party.
    pub party: Option<String>,
    /// The handling officers' numbers.
    pub officers: Vec<String>,
    /// The handling officers by name.
    pub officers_named: Vec<NamedOfficer>,
    /// `penalty`, …
    pub kind: String,
    /// On-site windows, station time.
    pub windows: Vec<[String; 2]>,
    /// The case's description.
    pub description: Option<DescriptionView>,
    /// Its footage.
    pub files: Vec<CaseFile>,
    /// The label its folders carry (案件信息.txt).
    pub label: String,
}

/// The case relabelled (`case_label`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relabelled {
    /// Its number.
    pub number: String,
    /// Its folder's name under each day.
    pub folder: String,
}

/// Replaces a case's label (party, officers, kind, windows; `case_labelled`, naming the label it
/// replaced) and writes its folders' labels and manifests again (INV-33).
///
/// # Errors
/// [`super::ErrorKind::NotFound`] for an unknown case, [`super::ErrorKind::Invalid`] for an
/// unknown kind or a window that ends before it starts.
pub fn relabel(ctx: &Ctx<'_>, a: &Label) -> Result<Relabelled, ApiError> {
    let label = a.label()?;
    let mut catalog = ctx.catalog()?;
    catalog.case(&label.number).map_err(|e| ApiError::not_found(format!("{e} / 案件不存在")))?;
    catalog.label_case(&label)?;
    refresh(ctx.config, &catalog, &label.number).map_err(|e| failed(&e))?;
    let case = catalog.case(&label.number)?;
    Ok(Relabelled { number: case.label.number, folder: case.folder })
}

/// A file proposed for a case (`case_propose`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposed {
    /// The file's id.
    pub file: i64,
    /// Its archive path now.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The footage a case's handling officers recorded within its on-site windows (device time
/// corrected to the station's clock) that is not yet filed into it, by file id. Reads only:
/// filing it is `case_assign`'s.
///
/// # Errors
/// [`super::ErrorKind::NotFound`] for an unknown case.
pub fn propose(ctx: &Ctx<'_>, a: &ShowArgs) -> Result<Vec<Proposed>, ApiError> {
    let catalog = ctx.catalog()?;
    let number = a.number.trim();
    catalog.case(number).map_err(|e| ApiError::not_found(format!("{e} / 案件不存在")))?;
    Ok(catalog
        .propose(number)?
        .into_iter()
        .map(|f| Proposed { file: f.id, path: f.archive_path, size: f.size })
        .collect())
}

/// `describe_history`: the descriptions of a case (`case`) or of one recording (`recording`),
/// one of the two.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryOf {
    /// A case number, or
    #[serde(default)]
    pub case: Option<String>,
    /// a recording, `SERIAL/SESSION` or `SERIAL/file-ID`.
    #[serde(default)]
    pub recording: Option<String>,
}

/// One description of the history, with its number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    /// Its number.
    pub id: i64,
    /// What it says, who wrote it and when.
    #[serde(flatten)]
    pub view: DescriptionView,
}

fn target_of(case: Option<&str>, recording: Option<&str>) -> Result<DescribedTarget, ApiError> {
    match (given(case), given(recording)) {
        (Some(n), None) => Ok(DescribedTarget::Case(n)),
        (None, Some(r)) => Ok(DescribedTarget::Recording(r)),
        _ => Err(ApiError::invalid("give a case number or a recording, not both / 请指定案件编号或录像（二选一）")),
    }
}

/// Every description written of a case or a recording, oldest first; the last is the one in
/// force (S4 §23: a new description never erases the one before).
///
/// # Errors
/// [`super::ErrorKind::Invalid`] without exactly one of `case` and `recording`,
/// [`super::ErrorKind::NotFound`] for an unknown case or recording.
pub fn history_of(ctx: &Ctx<'_>, a: &HistoryOf) -> Result<Vec<Written>, ApiError> {
    let target = target_of(a.case.as_deref(), a.recording.as_deref())?;
    let catalog = ctx.catalog()?;
    match &target {
        DescribedTarget::Case(n) => {
            catalog.case(n).map_err(|e| ApiError::not_found(format!("{e} / 案件不存在")))?;
        }
        DescribedTarget::Recording(r) => {
            catalog.recording(r).map_err(|e| ApiError::not_found(e.to_string()))?;
        }
    }
    let tz = ctx.config.timezone;
    Ok(catalog.descriptions(&target)?.iter().map(|d| Written { id: d.id, view: DescriptionView::of(d, tz) }).collect())
}

/// One case, as its folder's label and manifest see it.
///
/// # Errors
/// [`super::ErrorKind::NotFound`] for an unknown case.
pub fn show(ctx: &Ctx<'_>, a: &ShowArgs) -> Result<CaseView, ApiError> {
    let tz = ctx.config.timezone;
    let catalog = ctx.catalog()?;
    let case = catalog.case(a.number.trim()).map_err(|e| ApiError::not_found(format!("{e} / 案件不存在")))?;
    let sheet = sheet(ctx.config, &catalog, &case).map_err(|e| failed(&e))?;
    let l = &case.label;
    Ok(CaseView {
        number: l.number.clone(),
        folder: case.folder.clone(),
        party: l.party.clone(),
        officers: l.officers.clone(),
        officers_named: sheet
            .officers
            .iter()
            .map(|o| NamedOfficer { id: o.id.clone(), name: o.name.clone(), source: o.source.as_str().to_string() })
            .collect(),
        kind: l.kind.as_str().to_string(),
        windows: l.windows.iter().map(|(a, b)| [a, b].map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())).collect(),
        description: sheet.description.as_ref().map(|d| DescriptionView::of(d, tz)),
        files: case
            .files
            .iter()
            .map(|(id, path, linked)| {
                let f = sheet.files.iter().find(|f| &f.path == path);
                CaseFile {
                    file: *id,
                    path: path.clone(),
                    linked: *linked,
                    recording: f.map(|f| f.recording.clone()),
                    description: f.and_then(|f| f.description.as_ref()).map(|d| DescriptionView::of(d, tz)),
                }
            })
            .collect(),
        label: casefolder::label_text(&sheet),
    })
}

/// Describe a case or one recording (S4 §23): the party or object (执法对象), what was done
/// (执法内容), where the evidence was taken (取证地点). A new description supersedes the last,
/// which stays in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Describe {
    /// A case number, or
    #[serde(default)]
    pub case: Option<String>,
    /// a recording, `SERIAL/SESSION` or `SERIAL/file-ID`; exactly one of the two.
    #[serde(default)]
    pub recording: Option<String>,
    /// 执法对象.
    #[serde(default)]
    pub subject: Option<String>,
    /// 执法内容.
    #[serde(default)]
    pub content: Option<String>,
    /// 取证地点.
    #[serde(default)]
    pub place: Option<String>,
}

/// The description recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Described {
    /// Its number.
    pub id: i64,
    /// What it describes, `case:NUMBER` or `recording:ID`.
    pub target: String,
    /// The cases whose folders' labels and manifests were written again.
    pub cases: Vec<String>,
}

/// File footage into a case: moved out of the day's holding folder (hashes checked after the
/// move), or linked when it already serves another case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    /// The case number.
    pub number: String,
    /// Archive paths of files.
    #[serde(default)]
    pub files: Vec<String>,
    /// Recording sessions, `SERIAL/SESSION`.
    #[serde(default)]
    pub sessions: Vec<String>,
    /// Segments, `SERIAL/SEQ`.
    #[serde(default)]
    pub segments: Vec<String>,
}

/// What was filed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assigned {
    /// The case number.
    pub case: String,
    /// The archive paths the files now have in the case's folders (none when all were filed
    /// there before).
    pub filed: Vec<String>,
}

fn failed(e: &anyhow::Error) -> ApiError {
    ApiError::failed(format!("{e:#} / 操作失败"))
}

/// Records a description (`footage_described`) and writes the folders of the cases it
/// concerns again.
///
/// # Errors
/// [`super::ErrorKind::Invalid`] without exactly one of `case` and `recording`, or with no
/// text; [`super::ErrorKind::Refused`] for an officer describing what is not theirs;
/// [`super::ErrorKind::Failed`] when it cannot be written.
pub fn describe(ctx: &Ctx<'_>, a: &Describe) -> Result<Described, ApiError> {
    let target = target_of(a.case.as_deref(), a.recording.as_deref())?;
    let text = DescriptionText::new(a.subject.as_deref(), a.content.as_deref(), a.place.as_deref())?;
    let mut catalog = ctx.catalog()?;
    let cases = match &target {
        DescribedTarget::Case(n) => {
            let case = catalog.case(n).map_err(|e| ApiError::not_found(format!("{e} / 案件不存在")))?;
            if ctx.actor.role == Role::Officer && !names(ctx, &case) {
                return Err(not_theirs(ctx, &target.subject()));
            }
            vec![n.clone()]
        }
        DescribedTarget::Recording(r) => {
            let row = catalog.recording(r).map_err(|e| ApiError::not_found(e.to_string()))?;
            if ctx.actor.role == Role::Officer && !made_by(ctx, row.recording.officer.as_deref()) {
                return Err(not_theirs(ctx, &target.subject()));
            }
            row.recording.cases
        }
    };
    let id = catalog.describe(&target, &text)?;
    for c in &cases {
        refresh(ctx.config, &catalog, c).map_err(|e| failed(&e))?;
    }
    Ok(Described { id, target: target.subject(), cases })
}

/// Files footage into a case (`footage_assigned` per file) and writes the case folder's label
/// and manifest again, also when a later file failed.
///
/// # Errors
/// [`super::ErrorKind::NotFound`] for an unknown case or footage,
/// [`super::ErrorKind::Invalid`] when nothing is named, [`super::ErrorKind::Refused`] for an
/// officer filing footage not theirs or into a case that does not name them,
/// [`super::ErrorKind::Failed`] when a file cannot be moved.
pub fn assign(ctx: &Ctx<'_>, a: &Assign) -> Result<Assigned, ApiError> {
    let number = a.number.trim();
    let mut catalog = ctx.catalog()?;
    let case = catalog.case(number).map_err(|e| ApiError::not_found(format!("{e} / 案件不存在")))?;
    let mut selected: Vec<ArchivedFile> = Vec::new();
    let not_found = |what: &str, v: &str, e: crate::catalog::CatalogError| {
        ApiError::not_found(format!("{what} {v}: {e} / 未找到所指录像"))
    };
    for f in &a.files {
        selected.extend(catalog.select_files(Some(f.trim()), None, None).map_err(|e| not_found("file", f, e))?);
    }
    for s in &a.sessions {
        selected.extend(catalog.select_files(None, Some(s.trim()), None).map_err(|e| not_found("session", s, e))?);
    }
    for s in &a.segments {
        selected.extend(catalog.select_files(None, None, Some(s.trim())).map_err(|e| not_found("segment", s, e))?);
    }
    if selected.is_empty() {
        return Err(ApiError::invalid("nothing to file: name files, sessions or segments / 未指定要归入案件的录像"));
    }
    if ctx.actor.role == Role::Officer {
        if !names(ctx, &case) {
            return Err(ApiError::refused(format!(
                "case {number} does not name officer {} as a handling officer; a custodian or archivist files into it \
                 / 该案件的承办人员不含本人，请由设备管理员或档案管理员归档",
                ctx.caller.officer.as_deref().unwrap_or("-")
            )));
        }
        let recordings = catalog.recordings()?;
        for f in &selected {
            let owner = recordings.iter().find(|r| r.files.iter().any(|(id, _)| *id == f.id));
            if !made_by(ctx, owner.and_then(|r| r.recording.officer.as_deref())) {
                return Err(not_theirs(ctx, &f.archive_path));
            }
        }
    }
    let filed = assign::assign(ctx.config, &mut catalog, &case, &selected);
    // The folder's label and manifest follow what was filed, also when a later file failed.
    refresh(ctx.config, &catalog, &case.label.number).map_err(|e| failed(&e))?;
    let filed = filed.map_err(|e| ApiError::failed(format!("{e} / 归档未完成")))?;
    Ok(Assigned { case: case.label.number, filed })
}

fn given(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Whether the calling officer made footage whose officer is `officer`.
fn made_by(ctx: &Ctx<'_>, officer: Option<&str>) -> bool {
    ctx.caller.officer.is_some() && ctx.caller.officer.as_deref() == officer
}

/// Whether `case` names the calling officer as a handling officer.
fn names(ctx: &Ctx<'_>, case: &Case) -> bool {
    ctx.caller.officer.as_ref().is_some_and(|o| case.label.officers.contains(o))
}

/// The refusal of an officer acting on footage that is not theirs.
fn not_theirs(ctx: &Ctx<'_>, what: &str) -> ApiError {
    ApiError::refused(format!(
        "{what} is not the footage of officer {}: an officer acts on their own footage only \
         / 执法人员只能处理本人摄录的录像",
        ctx.caller.officer.as_deref().unwrap_or("-")
    ))
}

/// Everything the labels, manifests and `case show` say about `case`: its officers named from
/// the bindings in force when their footage was made (the custody log's registrations, duty
/// check-outs), its description, and each file's recording, description and segments.
///
/// # Errors
/// When the catalogue cannot be read.
pub fn sheet(config: &Config, catalog: &Catalog, case: &Case) -> anyhow::Result<CaseSheet> {
    let conn = catalog.connection();
    let recordings = catalog.recordings()?;
    let mut files = Vec::new();
    let mut made = Vec::new();
    let mut seg_st = conn.prepare(
        "SELECT session, seq, start_corrected, end_corrected, verdict FROM segments WHERE file_id = ?1 ORDER BY id",
    )?;
    for (id, path, _) in &case.files {
        let (size, blake3): (i64, String) =
            conn.query_row("SELECT size, blake3 FROM files WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let rec = recordings.iter().find(|r| r.files.iter().any(|(f, _)| f == id));
        let recording = rec.map(|r| r.recording.id.clone()).unwrap_or_default();
        if let Some(r) = rec {
            made.push(Made {
                serial: r.recording.device.clone(),
                officer: r.recording.officer.clone(),
                start: r.recording.start,
            });
        }
        let segments = seg_st
            .query_map([id], |r| {
                Ok(SegmentEntry {
                    session: r.get(0)?,
                    seq: r.get::<_, Option<i64>>(1)?.map(crate::catalog::seq_from_sql),
                    start: r.get(2)?,
                    end: r.get(3)?,
                    verdict: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let description = catalog.description(&DescribedTarget::Recording(recording.clone()))?;
        files.push(SheetFile {
            path: path.clone(),
            size: u64::try_from(size).unwrap_or(0),
            blake3,
            recording,
            description,
            segments,
        });
    }
    let mut chains: std::collections::BTreeMap<(String, String), ChainEntry> = std::collections::BTreeMap::new();
    let mut st = conn.prepare("SELECT serial, session, chain_file, links_intact FROM sessions ORDER BY id")?;
    let wanted: std::collections::BTreeSet<(String, String)> = files
        .iter()
        .flat_map(|f| {
            let serial = f.recording.split('/').next().unwrap_or_default().to_string();
            f.segments.iter().filter_map(move |s| Some((serial.clone(), s.session.clone()?)))
        })
        .collect();
    for row in
        st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?)))?
    {
        let (serial, session, name, links_intact) = row?;
        if !wanted.contains(&(serial.clone(), session.clone())) {
            continue;
        }
        // The chain file sits in the holding folder of the day its session's footage is filed
        // under (`layout::chain_path`).
        let days: std::collections::BTreeSet<String> = files
            .iter()
            .filter(|f| f.segments.iter().any(|s| s.session.as_deref() == Some(session.as_str())))
            .filter_map(|f| Some(f.path.split('/').take(3).collect::<Vec<_>>().join("/")).filter(|d| d.len() == 10))
            .collect();
        let found = days.iter().map(|d| {
            format!(
                "{d}/{}/{serial}/{}/{name}",
                crate::archive::layout::HOLDING_FOLDER,
                crate::archive::layout::CHAIN_FOLDER
            )
        });
        if let Some(archive_path) = found.into_iter().find(|p| config.paths.archive_root.join(p).is_file()) {
            chains
                .insert((serial.clone(), session.clone()), ChainEntry { archive_path, serial, session, links_intact });
        }
    }
    let duty = crate::catalog::duty_spans(conn, config.timezone)?;
    let registry = crate::catalog::registry_history(conn, config.timezone)?;
    Ok(CaseSheet {
        station: config.station_name.clone(),
        officers: casefolder::name_officers(&case.label.officers, &made, &registry, &duty),
        description: catalog.description(&DescribedTarget::Case(case.label.number.clone()))?,
        case: case.clone(),
        files,
        chains: chains.into_values().collect(),
    })
}

/// Writes the case's folders' labels, chain copies and manifests again (INV-33).
pub fn refresh(config: &Config, catalog: &Catalog, number: &str) -> anyhow::Result<()> {
    let case = catalog.case(number)?;
    let sheet = sheet(config, catalog, &case)?;
    casefolder::write(&config.paths.archive_root, &sheet)
        .with_context(|| format!("writing the case folder's label and manifest of {number}"))?;
    Ok(())
}
