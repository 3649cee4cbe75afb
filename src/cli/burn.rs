//! `evidock burn ...` (R8): plan discs of long-term footage, stage them as BagIt bags, build
//! and write the images, verify discs by reading every file back, re-check them on a
//! schedule, and keep track of where every disc is. A front end: the plan and the disc
//! registry are typed operations of the station API, the job's steps are [`crate::job::burn`].

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use crate::burn::image::Source;
use crate::burn::plan::Media;
use crate::config::Config;
use crate::job::burn as job;

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

/// Runs a step of the burn job ([`crate::job::burn`]) as the caller the rules named, and
/// renders what it tells and its result.
///
/// # Errors
/// When it is refused or could not run (exit code 2).
pub fn run(cmd: &BurnCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let runner = super::invoke::runner();
    match cmd {
        BurnCommand::Run { media, maker, extractor } => {
            let maker = maker.clone().unwrap_or_else(|| runner.actor.user.clone());
            let extractor =
                extractor.clone().or_else(|| config.burn.extractor.clone()).unwrap_or_else(|| maker.clone());
            let outcome = job::run(config, &runner, media, &maker, &extractor, &mut show)?;
            if outcome.contradicted > 0 {
                crate::errln!(
                    "evidock: burn refused: {} file(s) of the plan contradict the custody log; nothing was staged, the alarm is raised \
                     / 拒绝刻录：{} 个文件与保管日志不符，未备妥任何光盘，已发出警报",
                    outcome.contradicted,
                    outcome.contradicted
                );
            } else if let Some(job) = outcome.job {
                crate::outln!(
                    "job 任务 {job}: verify every disc (or image) with `evidock burn verify`; only verified discs count as copies / 仅校验通过的光盘计为副本"
                );
            }
            Ok(if outcome.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        BurnCommand::Write { label, device } => {
            let device = device.clone().unwrap_or_else(|| config.burn.device.clone());
            match job::write(config, &runner, label, &device)? {
                Ok(()) => {
                    crate::outln!(
                        "disc 光盘 {label}: written to 已刻录到 {device}; eject and reload it, then run `evidock burn verify --device {device}` / 请取出重新放入后校验"
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    crate::errln!("evidock: disc {label}: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        BurnCommand::Verify { source, json } => {
            let src = match (&source.image, &source.device) {
                (Some(i), _) => Source::Image(i.clone()),
                (None, Some(d)) => Source::Device(d.clone()),
                (None, None) => anyhow::bail!("give --image FILE or --device DEV"),
            };
            let v = job::verify(config, &runner, &src, false)?;
            print_verdict(&v, *json);
            Ok(if v.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        BurnCommand::Recheck { device, image, json } => {
            let src = match (image, device) {
                (Some(i), _) => Some(Source::Image(i.clone())),
                (None, Some(d)) => Some(Source::Device(d.clone())),
                (None, None) => None,
            };
            if let Some(src) = src {
                let v = job::verify(config, &runner, &src, true)?;
                print_verdict(&v, *json);
                return Ok(if v.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) });
            }
            let due = job::due_for_recheck(config, &runner)?;
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

/// Renders what a running burn job tells: the plan and each disc's step on standard output,
/// what was left out or went wrong on standard error.
fn show(note: job::Note) {
    match note {
        job::Note::Waiting(n) => waiting_note(n),
        job::Note::Plan(table) => crate::outprint!("{table}"),
        job::Note::Contradicted(en, zh) => crate::errln!("evidock: {en}\n  {zh}"),
        job::Note::Staged { label, files, linked, copied, folder } => crate::outln!(
            "disc 光盘 {label}: staged 已备妥 {files} files 文件 ({linked} linked 硬链接, {copied} copied 复制) in {}",
            folder.display()
        ),
        job::Note::Imaged { label, iso } => crate::outln!("disc 光盘 {label}: image 镜像 {}", iso.display()),
        job::Note::DiscFailed { label, error } => crate::errln!("evidock: disc {label}: {error}"),
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

fn print_verdict(v: &job::Verdict, as_json: bool) {
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
