//! `evidock burn ...` (R8): plan discs of long-term footage, stage them as BagIt bags, build
//! and write the images, verify discs by reading every file back, re-check them on a
//! schedule, and keep track of where every disc is.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use serde_json::json;

use crate::api::discs;
use crate::burn::bag::{self, BagInfo};
use crate::burn::image::{self, Source};
use crate::burn::plan::{Media, Plan};
use crate::catalog::{Catalog, NewDisc};
use crate::config::Config;

/// `evidock burn ...`
#[derive(Debug, clap::Subcommand)]
pub enum BurnCommand {
    /// Show which long-term footage would go on which disc (nothing is written or logged).
    Plan {
        /// Medium: bd25, bd50, bd100, dvd or custom:BYTES.
        #[arg(long, value_parser = Media::parse)]
        media: Media,
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run a burn job: plan (shown and logged first), stage every disc as a BagIt bag and build
    /// its ISO image. Then write each disc (`burn write`) or burn the images elsewhere; discs
    /// count as copies only after `burn verify`.
    Run {
        /// Medium: bd25, bd50, bd100, dvd or custom:BYTES.
        #[arg(long, value_parser = Media::parse)]
        media: Media,
        /// Who makes the copy (制作人); default: the operating-system user.
        #[arg(long)]
        maker: Option<String>,
        /// Who extracts the footage (提取人); default: burn.extractor, else the maker.
        #[arg(long)]
        extractor: Option<String>,
    },
    /// Write one staged disc with burn.write_command onto a blank disc in the burner (run it
    /// supervised with `systemctl start evidock-burn@LABEL`).
    Write {
        /// The disc label (volume id).
        label: String,
        /// The burner (default: burn.device).
        #[arg(long, value_name = "DEV")]
        device: Option<String>,
    },
    /// Verify a disc (after ejecting and reloading it) or an image: the medium, the MD5
    /// session tags, then every file read back and checked against the bag's manifests and
    /// the archive's hashes. Only then does the disc count as a copy. Exit 1 when it fails.
    Verify {
        #[command(flatten)]
        source: SourceArgs,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List verified discs due for a re-check (older than burn.recheck_interval_days); with
    /// --device or --image, re-check the disc found there. Exit 1 when a disc is due or fails.
    Recheck {
        /// The drive holding the disc to re-check.
        #[arg(long, value_name = "DEV", conflicts_with = "image")]
        device: Option<PathBuf>,
        /// An image to re-check.
        #[arg(long, value_name = "FILE")]
        image: Option<PathBuf>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Registered discs.
    #[command(subcommand)]
    Disc(DiscCommand),
}

/// Where `burn verify` reads.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct SourceArgs {
    /// An ISO image file.
    #[arg(long, value_name = "FILE")]
    image: Option<PathBuf>,
    /// An optical drive, e.g. /dev/sr0.
    #[arg(long, value_name = "DEV")]
    device: Option<PathBuf>,
}

/// `evidock burn disc ...`
#[derive(Debug, clap::Subcommand)]
pub enum DiscCommand {
    /// Every registered disc: label, state, place, holder, last check.
    List {
        /// One JSON object per disc.
        #[arg(long)]
        json: bool,
    },
    /// Record that a disc moved to another place or holder.
    Move {
        /// The disc label (volume id).
        label: String,
        /// Where it is stored now (e.g. 档案室 柜3 格2).
        #[arg(long)]
        location: Option<String>,
        /// Who holds it now.
        #[arg(long)]
        holder: Option<String>,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Give up a disc that was planned, staged or written but will never be verified (a
    /// spoiled blank, a lost image): it counts as failed and its footage returns to planning.
    Abandon {
        /// The disc label (volume id).
        label: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
}

pub fn run(cmd: &BurnCommand, config: &Config) -> anyhow::Result<ExitCode> {
    match cmd {
        BurnCommand::Run { media, maker, extractor } => {
            let maker = maker.clone().unwrap_or_else(|| super::invoke::caller().actor.user);
            let extractor =
                extractor.clone().or_else(|| config.burn.extractor.clone()).unwrap_or_else(|| maker.clone());
            run_job(config, media, &maker, &extractor)
        }
        BurnCommand::Write { label, device } => {
            let device = device.clone().unwrap_or_else(|| config.burn.device.clone());
            write_disc(config, label, &device)
        }
        BurnCommand::Verify { source, json } => {
            let src = match (&source.image, &source.device) {
                (Some(i), _) => Source::Image(i.clone()),
                (None, Some(d)) => Source::Device(d.clone()),
                (None, None) => anyhow::bail!("give --image FILE or --device DEV"),
            };
            let mut catalog = super::open_catalog_as_user(config)?;
            let v = verify(&mut catalog, config, &src, false)?;
            print_verdict(&v, *json);
            Ok(if v.findings.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        BurnCommand::Recheck { device, image, json } => {
            let mut catalog = super::open_catalog_as_user(config)?;
            let src = match (image, device) {
                (Some(i), _) => Some(Source::Image(i.clone())),
                (None, Some(d)) => Some(Source::Device(d.clone())),
                (None, None) => None,
            };
            if let Some(src) = src {
                let v = verify(&mut catalog, config, &src, true)?;
                print_verdict(&v, *json);
                return Ok(if v.findings.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) });
            }
            let due = due_for_recheck(&catalog, config)?;
            for d in &due {
                if *json {
                    crate::outln!(
                        "{}",
                        json!({ "label": d.label, "last_check": d.last_check.as_ref().map(|c| &c.0), "location": d.location, "holder": d.holder })
                    );
                } else {
                    crate::outln!(
                        "due 待复检: {}  last checked 上次检查 {}  at 存放 {}  holder 保管人 {}",
                        d.label,
                        d.last_check.as_ref().map_or("-", |c| c.0.as_str()),
                        d.location.as_deref().unwrap_or("-"),
                        d.holder.as_deref().unwrap_or("-")
                    );
                }
            }
            if due.is_empty() {
                if !*json {
                    crate::outln!("no disc due for a re-check / 暂无需要复检的光盘");
                }
                Ok(ExitCode::SUCCESS)
            } else {
                if !*json {
                    crate::outln!(
                        "{} disc(s) due: insert each and run `evidock burn recheck --device {}` / 请逐张放入光盘复检",
                        due.len(),
                        config.burn.device
                    );
                }
                Ok(ExitCode::from(1))
            }
        }
        BurnCommand::Plan { .. } | BurnCommand::Disc(_) => {
            anyhow::bail!("a typed operation of the station API: sent as one (docs/CONTROL-API.md)")
        }
    }
}

/// The typed operation a `burn` command is a front end of: `plan` and `disc list|move|abandon`;
/// `None` for the burn job's steps, which run here, supervised.
pub fn request(cmd: &BurnCommand) -> Option<crate::api::Request> {
    use crate::api::{discs, NoArgs, Request};
    match cmd {
        BurnCommand::Plan { media, .. } => Some(Request::BurnPlan(discs::PlanArgs { media: media.name.clone() })),
        BurnCommand::Disc(DiscCommand::List { .. }) => Some(Request::DiscList(NoArgs {})),
        BurnCommand::Disc(DiscCommand::Move { label, location, holder, reason }) => {
            Some(Request::DiscMove(discs::Move {
                label: label.clone(),
                location: location.clone(),
                holder: holder.clone(),
                reason: reason.clone(),
            }))
        }
        BurnCommand::Disc(DiscCommand::Abandon { label, reason }) => {
            Some(Request::DiscAbandon(discs::Abandon { label: label.clone(), reason: reason.clone() }))
        }
        _ => None,
    }
}

/// Runs a typed `burn disc` command ([`request`]) through `link` and renders its reply.
///
/// # Errors
/// When it is refused or could not run (exit code 2).
pub fn run_typed(cmd: &BurnCommand, link: &super::invoke::Link<'_>) -> anyhow::Result<ExitCode> {
    let Some(request) = request(cmd) else {
        anyhow::bail!("not a typed burn command");
    };
    match link.call(request)? {
        crate::api::Reply::BurnPlan(p) => {
            waiting_note(p.waiting);
            if matches!(cmd, BurnCommand::Plan { json: true, .. }) {
                crate::outln!("{}", p.document);
            } else {
                crate::outprint!("{}", p.text);
            }
            if p.refused > 0 {
                return Ok(ExitCode::from(1));
            }
        }
        crate::api::Reply::DiscList(discs) => {
            let json = matches!(cmd, BurnCommand::Disc(DiscCommand::List { json: true }));
            if !json && discs.is_empty() {
                crate::outln!("no disc registered / 尚无登记的光盘");
            }
            for d in discs {
                if json {
                    crate::outln!("{}", serde_json::to_string(&d)?);
                    continue;
                }
                crate::outln!(
                    "{}  {} {}  {}/{}  {}  {} files 文件  {}  at 存放 {}  holder 保管人 {}  checked 检查 {}",
                    d.label,
                    d.state,
                    d.state_zh,
                    d.number,
                    d.of,
                    d.media,
                    d.files,
                    super::bytes(d.bytes as u64),
                    d.location.as_deref().unwrap_or("-"),
                    d.holder.as_deref().unwrap_or("-"),
                    match (&d.last_check, &d.last_result) {
                        (Some(t), Some(r)) => format!("{t} {r}"),
                        _ => "-".to_string(),
                    },
                );
            }
        }
        crate::api::Reply::DiscMove(d) => crate::outln!("disc {} moved / 光盘已移交", d.disc.label),
        crate::api::Reply::DiscAbandon(d) => crate::outln!(
            "disc {} abandoned; its footage returns to the next plan / 光盘已作废，录像重新列入刻录计划",
            d.disc.label
        ),
        other => return Err(super::invoke::unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The progress of the running burn job, in the state folder for `evidock status`.
struct Progress<'a> {
    path: PathBuf,
    job: i64,
    discs: usize,
    label: &'a str,
}

impl Progress<'_> {
    fn set(&self, disc: usize, phase: &str, phase_zh: &str, done: u64, total: u64) {
        let doc = crate::api::status::BurnProgress {
            version: 1,
            job: self.job,
            disc,
            discs: self.discs,
            label: self.label.to_string(),
            phase: phase.to_string(),
            phase_zh: phase_zh.to_string(),
            bytes_done: done,
            bytes_total: total,
            pid: std::process::id(),
            updated: Utc::now().to_rfc3339(),
        };
        // Progress is a view for people: a failed write is not worth stopping the job for.
        if let Ok(text) = serde_json::to_string(&doc) {
            let _ = crate::archive::fsio::replace(&self.path, text.as_bytes());
        }
    }
}

/// Tells on standard error how many files are left out of a plan because they are on discs
/// not yet verified.
fn waiting_note(waiting: usize) {
    if waiting > 0 {
        crate::errln!(
            "evidock: {waiting} file(s) are on discs not yet verified and are left out; `evidock burn disc list` shows \
             them, `burn verify` counts them, `burn disc abandon LABEL --reason ...` returns them / {waiting} 个文件已在待校验光盘上"
        );
    }
}

fn job_dir(config: &Config, job: i64) -> PathBuf {
    config.burn.staging_dir.join(format!("job-{job:05}"))
}

/// Writes a staged disc with the configured command and records it.
fn write_disc(config: &Config, label: &str, device: &str) -> anyhow::Result<ExitCode> {
    let mut catalog = super::open_catalog_as_user(config)?;
    let disc = catalog.disc(label)?;
    if !matches!(disc.state.as_str(), "staged" | "written") {
        anyhow::bail!(
            "disc {label} is {}: only a staged disc can be written (run `evidock burn run` first)",
            disc.state
        );
    }
    let dir = job_dir(config, disc.job);
    let (bag_dir, iso) = (dir.join(label), dir.join(format!("{label}.iso")));
    if !bag_dir.is_dir() {
        anyhow::bail!("the staged bag {} is gone: plan and stage again with `evidock burn run`", bag_dir.display());
    }
    let progress = Progress { path: config.burn_progress_path(), job: disc.job, discs: 1, label };
    progress.set(disc.number.0 as usize, "writing", "刻录中", 0, disc.bytes as u64);
    let argv = image::fill(&config.burn.write_command, &iso, device, label, &bag_dir);
    let result = image::write(&argv);
    let _ = std::fs::remove_file(config.burn_progress_path());
    match result {
        Ok(()) => {
            catalog.record_disc_written(label, device, "write")?;
            crate::outln!(
                "disc 光盘 {label}: written to 已刻录到 {device}; eject and reload it, then run `evidock burn verify --device {device}` / 请取出重新放入后校验"
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            catalog.record_disc_failed(label, json!({ "stage": "write", "device": device, "error": e.to_string() }))?;
            crate::errln!("evidock: disc {label}: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn run_job(config: &Config, media: &Media, maker: &str, extractor: &str) -> anyhow::Result<ExitCode> {
    let mut catalog = super::open_catalog_as_user(config)?;
    let (p, waiting) = discs::make_plan(&catalog, config, media)?;
    waiting_note(waiting);
    crate::outprint!("{}", discs::plan_table(&p, config, &discs::in_progress(&catalog)?));
    if p.discs.is_empty() {
        return Ok(if p.refused.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    // The plan is logged before anything is written.
    let discs: Vec<NewDisc> = p
        .discs
        .iter()
        .map(|d| NewDisc {
            number: d.number,
            files: d.files.iter().map(|f| (f.file_id, format!("data/{}", f.path), f.size)).collect(),
        })
        .collect();
    // Every file is held against the custody log before the plan is logged (INV-16): staging
    // then checks each file's bytes against the hash the log recorded at its copy.
    crate::central::offload::refuse_evicted(
        &catalog,
        p.discs.iter().flat_map(|d| d.files.iter().map(|f| f.path.as_str())),
    )
    .map_err(anyhow::Error::msg)?;
    secrecy_allows(&catalog, config, &p, maker)?;
    let ledger = super::archive::trusted_ledger(&mut catalog, config, "burn run")?;
    let mut contradicted = Vec::new();
    for f in p.discs.iter().flat_map(|d| d.files.iter()) {
        let v = crate::ledger::catalogue_check(ledger.file_at(&f.path), &f.blake3, f.size);
        if !v.is_intact() {
            contradicted.push(catalog.fixity_alarm(&f.path, &v, "burn run")?);
        }
    }
    if !contradicted.is_empty() {
        for (en, zh) in &contradicted {
            crate::errln!("evidock: {en}\n  {zh}");
        }
        crate::errln!(
            "evidock: burn refused: {} file(s) of the plan contradict the custody log; nothing was staged, the alarm is raised \
             / 拒绝刻录：{} 个文件与保管日志不符，未备妥任何光盘，已发出警报",
            contradicted.len(),
            contradicted.len()
        );
        return Ok(ExitCode::from(1));
    }
    let (job, labels) = catalog.record_burn_plan(&media.name, media.capacity, &discs, discs::plan_json(&p, config))?;
    let out = job_dir(config, job);
    std::fs::create_dir_all(&out).with_context(|| format!("creating the staging folder {}", out.display()))?;
    let now = Utc::now().with_timezone(&config.timezone);
    let mut failed = false;
    for (d, (_, label)) in p.discs.iter().zip(&labels) {
        let progress = Progress { path: config.burn_progress_path(), job, discs: p.discs.len(), label: label.as_str() };
        let total = d.payload();
        let info = BagInfo {
            bureau: config.burn.bureau.clone(),
            station: config.station_name.clone(),
            label: label.clone(),
            job,
            disc: (d.number, p.discs.len()),
            media: media.name.clone(),
            maker: maker.to_string(),
            extractor: extractor.to_string(),
            extracted_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            date: now.format("%Y-%m-%d").to_string(),
            described: described(config, &catalog, d)?,
        };
        let bag_dir = out.join(label);
        let mut done = 0u64;
        progress.set(d.number, "staging", "备妥内容", 0, total);
        let mut last = 0u64;
        let staged = bag::stage(
            &config.paths.archive_root,
            &bag_dir,
            d,
            &info,
            config.burn.blake3_manifest,
            &|disc, dir| custody_files(config, &ledger, disc, dir),
            &mut |n| {
                done += n;
                if done - last >= 64 << 20 {
                    last = done;
                    progress.set(d.number, "staging", "备妥内容", done, total);
                }
            },
        );
        let staged = match staged {
            Ok(s) => s,
            Err(e) => {
                if let crate::burn::BurnError::Fixity { path, .. } = &e {
                    // The bytes differ from the custody log: an alarm with its event, beside the
                    // disc's failure.
                    let read =
                        bag::hash_file(&config.paths.archive_root.join(path), &mut |_| {}).map(|h| (h.blake3, h.size));
                    let v = match &read {
                        Ok((h, n)) => crate::ledger::fixity(ledger.file_at(path), None, Some((h, *n))),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => crate::ledger::Fixity::Missing,
                        Err(e) => crate::ledger::Fixity::Unreadable { error: e.to_string() },
                    };
                    if !v.is_intact() {
                        catalog.fixity_alarm(path, &v, "burn run")?;
                    }
                }
                catalog.record_disc_failed(label, json!({ "stage": "staging", "error": e.to_string() }))?;
                let _ = std::fs::remove_file(config.burn_progress_path());
                crate::errln!("evidock: disc {label}: {e}");
                return Ok(ExitCode::from(1));
            }
        };
        catalog.record_disc_staged(
            label,
            &staged.files,
            maker,
            extractor,
            &info.extracted_at,
            &bag_dir.display().to_string(),
        )?;
        crate::outln!(
            "disc 光盘 {label}: staged 已备妥 {} files 文件 ({} linked 硬链接, {} copied 复制) in {}",
            staged.files.len(),
            staged.linked,
            staged.copied,
            bag_dir.display()
        );
        progress.set(d.number, "image", "生成镜像", total, total);
        let iso = out.join(format!("{label}.iso"));
        if let Err(e) = image::build_image(&bag_dir, &iso, label) {
            catalog.record_disc_failed(label, json!({ "stage": "image", "error": e.to_string() }))?;
            crate::errln!("evidock: disc {label}: {e}");
            failed = true;
            continue;
        }
        catalog.record_disc_written(label, &iso.display().to_string(), "image")?;
        crate::outln!("disc 光盘 {label}: image 镜像 {}", iso.display());
    }
    let _ = std::fs::remove_file(config.burn_progress_path());
    crate::outln!(
        "job 任务 {job}: verify every disc (or image) with `evidock burn verify`; only verified discs count as copies / 仅校验通过的光盘计为副本"
    );
    Ok(if failed || !p.refused.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Holds the plan against the footage's confidentiality marks as they are now, at the moment
/// footage would go onto a disc (R10; S0 §18, S2 §26, S4 §25; INV-21): footage carrying a
/// mark (on its recording or on a case it is filed into) is staged only by someone who holds
/// that mark's approver right now: the approver role and the mark's `approvers`. The person is
/// the caller, or the named maker when the station's own user runs the job as a unit. A
/// refusal comes before anything is logged or written; the call's refusal is its custody event
/// (`call_refused`).
fn secrecy_allows(catalog: &Catalog, config: &Config, p: &Plan, maker: &str) -> anyhow::Result<()> {
    use crate::custody::event::Role;
    let paths: BTreeSet<&str> = p.discs.iter().flat_map(|d| d.files.iter().map(|f| f.path.as_str())).collect();
    let mut subjects = BTreeSet::new();
    for row in catalog.recordings()? {
        if row.recording.files.iter().any(|f| paths.contains(f.path.as_str())) {
            subjects.insert(format!("recording:{}", row.recording.id));
            subjects.extend(row.recording.cases.iter().map(|c| format!("case:{c}")));
        }
    }
    let mut marked: Vec<(crate::access::Mark, String)> = Vec::new();
    for s in subjects {
        for (_, m) in catalog.marks(&s)? {
            marked.push((m, s.clone()));
        }
    }
    if marked.is_empty() {
        return Ok(());
    }
    let me = super::invoke::caller();
    let who =
        if me.actor.role == Role::System { crate::control::peer::identity_of_name(maker) } else { me.identity.clone() };
    let may = |m: crate::access::Mark| {
        crate::api::access::mark_rule(config, m).approvers.contains(&who)
            && config.roles.roles_of(&who).contains(&Role::Approver)
    };
    if let Some((m, subject)) = marked.iter().find(|(m, _)| !may(*m)) {
        return Err(super::invoke::Refused(format!(
            "burn refused: {subject} is marked {} ({}); {} does not hold its approver right now (the approver role and \
             access.{}.approvers), nothing was planned or staged / 拒绝刻录：{subject} 涉密（{}），{} 当前无该密级的审批权限，未备妥任何光盘",
            m.as_str(),
            m.label_zh(),
            who.user,
            m.as_str().replace('-', "_"),
            m.label_zh(),
            who.user,
        ))
        .into());
    }
    Ok(())
}

/// The custody files every disc carries: a fresh signed checkpoint of the custody log, the
/// station's verifier key, and the extract of every event about the disc's recordings and
/// their cases, each with its inclusion proof (`evidock log verify-extract`).
fn custody_files(
    config: &Config,
    ledger: &crate::ledger::Ledger,
    disc: &bag::StagedDisc,
    dir: &Path,
) -> std::io::Result<()> {
    let io = |e: anyhow::Error| std::io::Error::other(format!("{e:#}"));
    let mut catalog = super::open_catalog_as_user(config).map_err(io)?;
    let on_disc: std::collections::BTreeSet<i64> = disc.files.iter().map(|f| f.file_id).collect();
    let mut wanted = std::collections::BTreeSet::new();
    let mut cases = std::collections::BTreeSet::new();
    for r in catalog.recordings().map_err(|e| io(e.into()))? {
        if r.files.iter().any(|(id, _)| on_disc.contains(id)) {
            let seqs =
                crate::custody::query::event_seqs(catalog.connection(), None, Some(&r.recording.id), config.timezone)
                    .map_err(io)?;
            wanted.extend(seqs);
            cases.extend(r.recording.cases.iter().cloned());
        }
    }
    for c in &cases {
        wanted.extend(
            crate::custody::query::event_seqs(catalog.connection(), Some(c), None, config.timezone).map_err(io)?,
        );
    }
    // The events that recorded each file's copy and filings (chain files included): what
    // `log verify-extract` checks the disc's bytes against.
    for f in &disc.files {
        wanted.extend(ledger.file(f.file_id).map(|l| l.seqs.clone()).unwrap_or_default());
    }
    crate::api::export::write_custody_folder(&mut catalog, config, &wanted, &|_| false, dir).map_err(io)?;
    Ok(())
}

/// The result of one verify.
struct Verdict {
    label: String,
    source: String,
    files: usize,
    findings: Vec<(String, String)>,
}

fn print_verdict(v: &Verdict, as_json: bool) {
    if as_json {
        crate::outln!(
            "{}",
            json!({
                "label": v.label, "source": v.source, "files": v.files, "ok": v.findings.is_empty(),
                "findings": v.findings.iter().map(|(p, w)| json!({ "path": p, "what": w })).collect::<Vec<_>>(),
            })
        );
        return;
    }
    if v.findings.is_empty() {
        crate::outln!(
            "disc 光盘 {}: verified 校验通过 — {} files read back and match the manifests and the archive / 全部文件读回比对一致 ({})",
            v.label, v.files, v.source
        );
    } else {
        crate::outln!(
            "disc 光盘 {}: FAILED 校验失败 ({}); its footage stays in the next plan / 其录像将列入下次刻录计划",
            v.label,
            v.source
        );
        for (p, w) in &v.findings {
            crate::outln!("  {p}: {w}");
        }
    }
}

/// Verifies a disc or image: medium and MD5 checks, every file extracted without mounting
/// and checked against the manifests and the catalogue; the result is recorded.
fn verify(catalog: &mut Catalog, config: &Config, src: &Source, recheck: bool) -> anyhow::Result<Verdict> {
    let medium = image::check_medium(src)?;
    let label = medium
        .label
        .clone()
        .ok_or_else(|| anyhow::anyhow!("{}: no volume id found: not an evidock disc", src.describe()))?;
    let disc = catalog.disc(&label)?;
    let mut expected = catalog.disc_expected(disc.id)?;
    let mut findings: Vec<(String, String)> = Vec::new();
    // The disc's files are compared with the hashes the custody log recorded at their copy,
    // not only the catalogue's (INV-16); a catalogue that disagrees is a finding and an alarm.
    let ledger = super::archive::trusted_ledger(catalog, config, "burn verify")?;
    let ids: std::collections::BTreeMap<String, i64> = catalog
        .connection()
        .prepare("SELECT bag_path, file_id FROM disc_files WHERE disc_id = ?1")?
        .query_map([disc.id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for e in &mut expected {
        let Some(logged) = ids.get(&e.bag_path).and_then(|id| ledger.file(*id)) else {
            findings.push((e.bag_path.clone(), "the custody log records no such archived file".into()));
            continue;
        };
        if logged.blake3 != e.blake3 || logged.size != e.size {
            let path = e.bag_path.trim_start_matches("data/").to_string();
            let v =
                crate::ledger::Fixity::CatalogueDiffers { logged: logged.blake3.clone(), catalogue: e.blake3.clone() };
            let (en, zh) = catalog.fixity_alarm(&path, &v, "burn verify")?;
            findings.push((e.bag_path.clone(), format!("{en} / {zh}")));
            e.blake3 = logged.blake3.clone();
        }
    }
    for p in &medium.problems {
        findings.push(("-".into(), p.clone()));
    }
    for f in &medium.bad_files {
        findings.push((f.trim_start_matches('/').to_string(), "MD5 on the disc differs (xorriso -check_md5_r)".into()));
    }
    std::fs::create_dir_all(&config.burn.staging_dir)
        .with_context(|| format!("creating {}", config.burn.staging_dir.display()))?;
    let scratch = config.burn.staging_dir.join(format!(".verify-{label}-{}", std::process::id()));
    if scratch.exists() {
        remove_tree(&scratch)?;
    }
    let progress = Progress { path: config.burn_progress_path(), job: disc.job, discs: 1, label: &label };
    let total: u64 = expected.iter().map(|e| e.size).sum();
    progress.set(1, "verifying", "校验中", 0, total);
    match image::extract(src, &scratch) {
        Ok(()) => {
            let mut done = 0u64;
            for f in bag::check_bag(&scratch, &expected, &mut |n| {
                done += n;
                if done % (256 << 20) < n {
                    progress.set(1, "verifying", "校验中", done, total);
                }
            }) {
                findings.push((f.path, f.what));
            }
        }
        Err(e) => findings.push(("-".into(), format!("files could not be read back: {e}"))),
    }
    let _ = remove_tree(&scratch);
    let _ = std::fs::remove_file(config.burn_progress_path());
    catalog.record_disc_check(&label, &src.describe(), &findings, recheck)?;
    Ok(Verdict { label, source: src.describe(), files: expected.len(), findings })
}

/// Removes an extraction folder, whose folders may have been extracted read-only.
fn remove_tree(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if std::fs::symlink_metadata(&d).is_ok_and(|m| m.is_dir()) {
            let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700));
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                stack.push(e.path());
            }
        }
    }
    std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))
}

/// Verified discs whose last check is older than the re-check interval.
fn due_for_recheck(catalog: &Catalog, config: &Config) -> anyhow::Result<Vec<crate::catalog::DiscRow>> {
    let cutoff = Utc::now() - config.burn.recheck_interval;
    Ok(catalog
        .discs()?
        .into_iter()
        .filter(|d| d.state == "verified")
        .filter(|d| {
            d.last_check
                .as_ref()
                .and_then(|(t, _)| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_none_or(|t| t.with_timezone(&Utc) < cutoff)
        })
        .collect())
}

/// The burn line of `evidock status`, from the progress file, when a job runs.
pub fn status_line(b: &crate::api::status::BurnProgress) -> String {
    let pct = (b.bytes_done * 100).checked_div(b.bytes_total).unwrap_or(100);
    format!(
        "burn 刻录 job 任务 {}  disc 光盘 {}/{} {}  {} {}  {pct}%  {} / {}\n",
        b.job,
        b.disc,
        b.discs,
        b.label,
        b.phase,
        b.phase_zh,
        super::bytes(b.bytes_done),
        super::bytes(b.bytes_total)
    )
}

/// What a disc's footage is, for its `bag-info.txt` (S3 §27, S4 §23): for each case on it the
/// party, the handling officers by name and badge and the case's description; for each
/// recording on it its description.
fn described(
    config: &Config,
    catalog: &crate::catalog::Catalog,
    disc: &crate::burn::plan::DiscPlan,
) -> anyhow::Result<Vec<(String, String)>> {
    use crate::burn::plan::Group;
    use crate::catalog::DescribedTarget;
    let mut out = Vec::new();
    let mut cases: Vec<&str> = disc
        .files
        .iter()
        .filter_map(|f| match &f.group {
            Group::Case(c) => Some(c.as_str()),
            Group::Recording(_) => None,
        })
        .collect();
    cases.dedup();
    let mut recordings = std::collections::BTreeSet::new();
    let push_description = |out: &mut Vec<(String, String)>, whose: &str, d: &crate::catalog::Description| {
        for (k, v) in [
            ("Subject-执法对象", &d.text.subject),
            ("Content-执法内容", &d.text.content),
            ("Place-取证地点", &d.text.place),
        ] {
            if let Some(v) = v {
                out.push((k.to_string(), format!("{whose}: {v}")));
            }
        }
    };
    for c in cases {
        let case = catalog.case(c)?;
        let sheet = crate::api::cases::sheet(config, catalog, &case)?;
        if let Some(p) = &case.label.party {
            out.push(("Party-当事人".to_string(), format!("{c}: {p}")));
        }
        for o in &sheet.officers {
            out.push(("Handling-Officer-承办人".to_string(), format!("{c}: {}", o.text())));
        }
        if let Some(d) = &sheet.description {
            push_description(&mut out, c, d);
        }
        for f in sheet.files.iter().filter(|f| disc.files.iter().any(|x| x.path == f.path)) {
            if let Some(d) = f.description.as_ref().filter(|_| recordings.insert(f.recording.clone())) {
                push_description(&mut out, &f.recording, d);
            }
        }
    }
    for f in &disc.files {
        if let Group::Recording(r) = &f.group {
            if recordings.insert(r.clone()) {
                if let Some(d) = catalog.description(&DescribedTarget::Recording(r.clone()))? {
                    push_description(&mut out, r, &d);
                }
            }
        }
    }
    Ok(out)
}
