//! `burn_plan`, `disc_list`, `disc_move`, `disc_abandon`: which long-term footage would go on
//! which disc, and the discs that keep long-term footage (R7; S3
//! §27): where each stands (planned, staged, written, verified, failed), where it is stored and
//! who holds it, moved with the reason (`disc_moved`), and a disc that will never be verified
//! given up so that its footage returns to the next plan. Making, writing and verifying discs
//! are the burn job's (`evidock burn run|write|verify|recheck`, run supervised); `burn_start`
//! starts one of its steps as a process of its own for a person at the page, and `burn_jobs`
//! lists the steps started so (`crate::job::launch`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{ApiError, Ctx};
use crate::burn::plan::{self, Candidate, Group, Media, Plan};
use crate::catalog::{Catalog, CatalogError, DiscRow};
use crate::config::Config;
use crate::retention::{self, Class};

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

/// `burn_start`: which step of the burn job to start, as a process of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartArgs {
    /// `run` (plan, stage and image the discs; needs `media`), `write` (write the staged disc
    /// `label` onto the blank disc in the burner, `burn.device`), `verify` (the disc in the
    /// burner, read back whole) or `recheck` (a verified disc in the burner, on its schedule).
    pub step: String,
    /// For `run`: `bd25`, `bd50`, `bd100`, `dvd` or `custom:BYTES`.
    #[serde(default)]
    pub media: Option<String>,
    /// For `write`: the disc label.
    #[serde(default)]
    pub label: Option<String>,
}

/// `burn_start`: starts a step of the burn job as `evidock burn ...` in a process of its own
/// (the same step a terminal or a unit runs, with its checks and events), once no other burn
/// step runs; logged as `burn_started` naming the caller, who is the discs' maker for `run`.
///
/// # Errors
/// `invalid` for an unknown step or medium or a missing label; `not_found` for an unknown
/// disc; `conflict` for a disc that cannot be written or while another burn step runs.
pub fn burn_start(ctx: &Ctx<'_>, a: &StartArgs) -> Result<crate::job::launch::JobRecord, ApiError> {
    let config = ctx.config;
    let device = config.burn.device.clone();
    let args: Vec<String> = match a.step.as_str() {
        "run" => {
            let media = a.media.as_deref().map(str::trim).unwrap_or_default();
            let media = Media::parse(media).map_err(|e| {
                ApiError::invalid(format!(
                    "media {media:?}: {e} (bd25, bd50, bd100, dvd or custom:BYTES) / 光盘类型无效"
                ))
            })?;
            vec!["burn".into(), "run".into(), "--media".into(), media.name, "--maker".into(), ctx.actor.user.clone()]
        }
        "write" => {
            let label = a.label.as_deref().map(str::trim).unwrap_or_default();
            if label.is_empty() {
                return Err(ApiError::invalid("write: which disc? give its label / 请选择要刻录的光盘"));
            }
            let disc = ctx.catalog()?.disc(label).map_err(|e| ApiError::not_found(format!("{e} / 无此光盘")))?;
            if !matches!(disc.state.as_str(), "staged" | "written") {
                return Err(ApiError::conflict(format!(
                    "disc {label} is {}: only a staged disc can be written / 仅已备妥的光盘可以刻录",
                    disc.state
                )));
            }
            vec!["burn".into(), "write".into(), label.to_string(), "--device".into(), device]
        }
        "verify" => vec!["burn".into(), "verify".into(), "--device".into(), device],
        "recheck" => vec!["burn".into(), "recheck".into(), "--device".into(), device],
        other => {
            return Err(ApiError::invalid(format!(
                "unknown burn step {other:?}: run, write, verify or recheck / 未知的刻录步骤"
            )))
        }
    };
    if crate::job::launch::burn_running(config) {
        return Err(ApiError::conflict(
            "another burn step is running (`evidock status` shows it); wait for it to end / 另一刻录步骤正在进行，请等待其结束",
        ));
    }
    let mut catalog = ctx.catalog()?;
    let what = args.join(" ");
    // The start's event is written before the step's process starts: no step without it.
    let mut logged: Option<ApiError> = None;
    let started = crate::job::launch::start(config, &args, &ctx.actor.user, |job| {
        let details = json!({ "step": a.step, "args": what, "job": job });
        catalog.event(crate::custody::event::Action::BurnStarted, &format!("job:{job}"), details).map_err(|e| {
            let e = ApiError::from(e);
            logged = Some(e.clone());
            anyhow::anyhow!("{}", e.message)
        })?;
        Ok(())
    });
    match (started, logged) {
        (Ok(s), _) => Ok(s),
        (Err(_), Some(e)) => Err(e),
        (Err(e), None) => Err(ApiError::conflict(format!("{e:#}"))),
    }
}

/// `burn_jobs`: the burn steps started from the page, newest first, with their state and the
/// last lines of their output.
///
/// # Errors
/// `failed` when their records cannot be read.
pub fn burn_jobs(ctx: &Ctx<'_>, _a: &super::NoArgs) -> Result<Vec<crate::job::launch::JobRecord>, ApiError> {
    crate::job::launch::recent(ctx.config).map_err(|e| ApiError::failed(format!("{e:#} / 无法读取刻录任务记录")))
}

/// `burn_plan`: the medium.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanArgs {
    /// `bd25`, `bd50`, `bd100`, `dvd` or `custom:BYTES`.
    pub media: String,
}

/// The plan: nothing is written or logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanDoc {
    /// As people read it, a bilingual table.
    pub text: String,
    /// Its JSON document (`burn plan --json`).
    pub document: Value,
    /// Files that fit on no disc of the medium (the front end's exit code says so).
    pub refused: usize,
    /// Files left out because they are on discs not yet verified.
    pub waiting: usize,
}

/// Which long-term footage would go on which disc of `media`. Reads only.
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for an unknown medium.
pub fn burn_plan(ctx: &Ctx<'_>, a: &PlanArgs) -> Result<PlanDoc, ApiError> {
    let media = Media::parse(a.media.trim())
        .map_err(|e| ApiError::invalid(format!("media {:?}: {e} / 光盘介质不正确", a.media)))?;
    let catalog = ctx.catalog()?;
    let (p, waiting) = make_plan(&catalog, ctx.config, &media)?;
    Ok(PlanDoc {
        text: plan_table(&p, ctx.config, &in_progress(&catalog)?),
        document: plan_json(&p, ctx.config),
        refused: p.refused.len(),
        waiting,
    })
}

/// Long-term footage with fewer verified disc copies than `burn.copies`, with the chain files
/// of its sessions.
/// Copies on discs not yet verified count too, so that a second job does not put the same
/// footage on more discs while the first is being written; `burn disc abandon` releases them.
fn candidates(catalog: &Catalog, config: &Config) -> Result<(Vec<Candidate>, usize), CatalogError> {
    let mut copies = catalog.verified_copies()?;
    let pending = catalog.pending_copies()?;
    let mut waiting = 0usize;
    let mut out = Vec::new();
    for row in catalog.recordings()? {
        if retention::class(&row.recording, &config.retention) != Class::LongTerm {
            continue;
        }
        let group = match row.recording.cases.first() {
            Some(c) => Group::Case(c.clone()),
            None => Group::Recording(row.recording.id.clone()),
        };
        let mut files: Vec<(i64, String, u64, String)> = Vec::new();
        for (file_id, paths) in &row.files {
            let Some(path) = paths.first() else { continue };
            let Some(f) = row.recording.files.iter().find(|f| &f.path == path) else { continue };
            files.push((*file_id, path.clone(), f.size, f.blake3.clone()));
        }
        if let Some((serial, session)) = row.recording.id.split_once('/').filter(|(_, s)| !s.starts_with("file-")) {
            for f in catalog.session_chain_files(serial, session)? {
                files.push((f.id, f.archive_path, f.size, f.blake3));
            }
        }
        for (file_id, path, size, blake3) in files {
            let verified = copies.entry(file_id).or_default();
            if *verified >= config.burn.copies {
                continue;
            }
            if *verified + pending.get(&file_id).copied().unwrap_or(0) >= config.burn.copies {
                waiting += 1;
                continue;
            }
            out.push(Candidate { file_id, path, size, blake3, group: group.clone() });
        }
    }
    Ok((out, waiting))
}

/// The plan of `media` discs for the long-term footage that needs copies, and how many files
/// are left out because they are on discs not yet verified.
///
/// # Errors
/// When the catalogue cannot be read.
pub fn make_plan(catalog: &Catalog, config: &Config, media: &Media) -> Result<(Plan, usize), CatalogError> {
    let (candidates, waiting) = candidates(catalog, config)?;
    Ok((plan::plan(&candidates, media, config.burn.reserve), waiting))
}

/// The plan as its JSON document (`burn plan --json`).
pub fn plan_json(p: &Plan, config: &Config) -> Value {
    json!({
        "media": p.media.name, "capacity": p.media.capacity, "room": p.room(), "copies_needed": config.burn.copies,
        "reserve": { "per_file": p.reserve.per_file, "per_disc": p.reserve.per_disc },
        "discs": p.discs.iter().map(|d| json!({
            "number": d.number, "files": d.files.len(), "payload": d.payload(), "used": d.used,
            "groups": d.groups.iter().map(|g| json!({ "group": g.group.label(), "part": g.part, "of": g.of, "discs": g.discs })).collect::<Vec<_>>(),
            "paths": d.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "refused": p.refused.iter().map(|r| json!({ "path": r.file.path, "size": r.file.size, "room": r.room, "message": r.message() })).collect::<Vec<_>>(),
    })
}

/// Discs made but not yet verified: their footage counts as on its way, so the plan leaves it
/// out until they are verified or abandoned.
///
/// # Errors
/// When the catalogue cannot be read.
pub fn in_progress(catalog: &Catalog) -> Result<Vec<DiscRow>, CatalogError> {
    Ok(catalog.discs()?.into_iter().filter(|d| matches!(d.state.as_str(), "planned" | "staged" | "written")).collect())
}

/// The plan as a bilingual table.
pub fn plan_table(p: &Plan, config: &Config, in_progress: &[DiscRow]) -> String {
    let mut t = format!(
        "burn plan 刻录计划: media 介质 {} ({} per disc 每张, {} usable 可用), copies needed 需要份数 {}\n",
        p.media.name,
        crate::scrub::bytes_text(p.media.capacity),
        crate::scrub::bytes_text(p.room()),
        config.burn.copies
    );
    let waiting = in_progress.iter().map(|d| {
        let what = match d.state.as_str() {
            "planned" => "planned but never staged: its job was interrupted? / 已计划未备妥：任务中断？",
            "staged" => "staged, not yet written / 已备妥未刻录",
            _ => "written, not yet verified / 已刻录未校验",
        };
        format!(
            "in progress 制作中: {} ({} files 文件): {what}; verify it with `evidock burn verify`, or if it will never be \
             verified, `evidock burn disc abandon {} --reason ...` plans its footage again / 校验后计入；无法完成的请放弃以重新计划\n",
            d.label, d.files, d.label
        )
    });
    let waiting: String = waiting.collect();
    if p.discs.is_empty() && p.refused.is_empty() {
        if in_progress.is_empty() {
            t += "nothing to burn: every long-term recording has its verified copies / 无需刻录：长期保存录像均已有足够的已校验光盘\n";
        } else {
            t += "nothing new to burn: the rest is on discs in progress / 无新刻录内容：其余录像已在制作中的光盘上\n";
            t += &waiting;
        }
        return t;
    }
    t += &waiting;
    t += "disc 光盘 | files 文件 | footage 录像 | used 占用 | cases / recordings 案件 / 录像\n";
    for d in &p.discs {
        let pct = (d.used as f64 * 100.0 / p.media.capacity as f64).round() as u64;
        let groups: Vec<String> = d
            .groups
            .iter()
            .map(|g| if g.of > 1 { format!("{} ({}/{})", g.group.label(), g.part, g.of) } else { g.group.label() })
            .collect();
        t += &format!(
            "{:<9} | {:>10} | {:>12} | {:>6}% | {}\n",
            format!("{}/{}", d.number, p.discs.len()),
            d.files.len(),
            crate::scrub::bytes_text(d.payload()),
            pct,
            groups.join(", ")
        );
    }
    let notes: BTreeSet<String> = p.discs.iter().flat_map(|d| d.groups.iter().filter_map(|g| g.note())).collect();
    for n in notes {
        t += &format!("  continuation 续盘: {n}\n");
    }
    for r in &p.refused {
        t += &format!("refused 无法刻录: {}\n", r.message());
    }
    t
}
