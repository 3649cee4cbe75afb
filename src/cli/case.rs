//! `evidock case create|label|list|show|assign|propose|describe|check-folder`: cases and their
//! footage (R4, R13), their descriptions (S4 §23), the case folders' labels and manifests
//! (S3 §26).

use std::process::ExitCode;

use chrono::NaiveDateTime;

use super::invoke::Link;
use crate::api::{cases, Reply, Request};
use crate::archive::assign;
use crate::archive::casefolder;
use crate::catalog::{CaseKind, CaseLabel, DescribedTarget};
use crate::config::Config;

/// A case's label on the command line.
#[derive(Debug, Clone, clap::Args)]
pub struct LabelArgs {
    /// Case number, e.g. 宜卫罚〔2024〕12号.
    pub number: String,
    /// Party (当事人).
    #[arg(long)]
    pub party: Option<String>,
    /// Handling officer's number (repeat for each).
    #[arg(long = "officer", value_name = "ID")]
    pub officers: Vec<String>,
    /// penalty, coercive, inspection, permit or other.
    #[arg(long, default_value = "other", value_parser = parse_kind)]
    pub kind: CaseKind,
    /// On-site window FROM,TO (YYYY-MM-DDThh:mm[:ss], station local time; repeat for each).
    #[arg(long = "window", value_name = "FROM,TO", value_parser = parse_window)]
    pub windows: Vec<(NaiveDateTime, NaiveDateTime)>,
}

fn parse_kind(s: &str) -> Result<CaseKind, String> {
    CaseKind::parse(s).ok_or_else(|| format!("{s:?}: expected penalty, coercive, inspection, permit or other"))
}

fn parse_time(s: &str) -> Result<NaiveDateTime, String> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .map_err(|_| format!("{s:?}: expected YYYY-MM-DDThh:mm or YYYY-MM-DDThh:mm:ss"))
}

fn parse_window(s: &str) -> Result<(NaiveDateTime, NaiveDateTime), String> {
    let (a, b) = s.split_once(',').ok_or_else(|| format!("{s:?}: expected FROM,TO"))?;
    Ok((parse_time(a)?, parse_time(b)?))
}

impl LabelArgs {
    fn label(&self) -> CaseLabel {
        CaseLabel {
            number: self.number.clone(),
            party: self.party.clone(),
            officers: self.officers.clone(),
            kind: self.kind,
            windows: self.windows.clone(),
        }
    }
}

/// `evidock case ...`
#[derive(Debug, clap::Subcommand)]
pub enum CaseCommand {
    /// Create a case.
    Create(LabelArgs),
    /// Replace a case's label (party, officers, kind, windows).
    Label(LabelArgs),
    /// List case numbers.
    List,
    /// Show a case and its footage.
    Show {
        /// Case number.
        number: String,
        /// JSON.
        #[arg(long)]
        json: bool,
    },
    /// File footage into a case: moved out of the day's holding folder (hashes checked after
    /// the move), or linked when it already serves another case.
    Assign {
        /// Case number.
        number: String,
        /// Archive path of a file (repeat).
        #[arg(long = "file", value_name = "PATH")]
        files: Vec<String>,
        /// A recording session, SERIAL/SESSION (repeat).
        #[arg(long = "session", value_name = "SERIAL/SESSION")]
        sessions: Vec<String>,
        /// A segment, SERIAL/SEQ (repeat).
        #[arg(long = "segment", value_name = "SERIAL/SEQ")]
        segments: Vec<String>,
    },
    /// Propose footage for a case from its officers and on-site windows; `--confirm` files it.
    Propose {
        /// Case number.
        number: String,
        /// File the proposed footage into the case.
        #[arg(long)]
        confirm: bool,
    },
    /// Describe a case or one recording (S4 §23): party or object (执法对象), what was done
    /// (执法内容), where the evidence was taken (取证地点). By its officer or a filer; a new
    /// description supersedes the last, which stays in the history.
    Describe {
        /// Case number (or give --recording).
        #[arg(required_unless_present = "recording", conflicts_with = "recording")]
        number: Option<String>,
        /// A recording, SERIAL/SESSION or SERIAL/file-ID.
        #[arg(long, value_name = "SERIAL/SESSION")]
        recording: Option<String>,
        /// 执法对象: the party or object.
        #[arg(long)]
        subject: Option<String>,
        /// 执法内容: what was done.
        #[arg(long)]
        content: Option<String>,
        /// 取证地点: where the evidence was taken.
        #[arg(long)]
        place: Option<String>,
        /// Show the descriptions written so far instead, oldest first.
        #[arg(long, conflicts_with_all = ["subject", "content", "place"])]
        history: bool,
    },
    /// Check a case folder on its own, offline (a copy, without the station): every file its
    /// manifest (案件清单.json) names is there and unchanged, and nothing else is.
    CheckFolder {
        /// The folder: YYYY/MM/DD/<case> of an archive, or a copy of it.
        dir: std::path::PathBuf,
        /// JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: &CaseCommand, config: &Config) -> anyhow::Result<ExitCode> {
    if let CaseCommand::CheckFolder { dir, json } = cmd {
        return check_folder(dir, *json);
    }
    let mut catalog = super::open_catalog_as_user(config)?;
    match cmd {
        CaseCommand::Label(args) => {
            catalog.label_case(&args.label())?;
            cases::refresh(config, &catalog, args.number.trim())?;
            crate::outln!("case {} relabelled / 案件信息已修改", args.number.trim());
        }
        CaseCommand::Describe { number, recording, history: true, .. } => {
            let target = match (number, recording) {
                (_, Some(r)) => DescribedTarget::Recording(r.trim().to_string()),
                (Some(n), None) => DescribedTarget::Case(n.trim().to_string()),
                (None, None) => anyhow::bail!("give a case number or --recording / 请指定案件编号或录像"),
            };
            let list = catalog.descriptions(&target)?;
            if list.is_empty() {
                crate::outln!("{}: no description yet / 尚无说明", target.subject());
            }
            for d in list {
                crate::outln!(
                    "#{} {} {}{}:",
                    d.id,
                    crate::report::history::station_time_named(&d.written_at, config.timezone),
                    d.written_by,
                    d.officer.as_deref().map(|o| format!(" (警号 {o})")).unwrap_or_default()
                );
                for line in d.lines() {
                    crate::outln!("  {line}");
                }
            }
        }
        CaseCommand::Describe { .. }
        | CaseCommand::Assign { .. }
        | CaseCommand::Create(_)
        | CaseCommand::List
        | CaseCommand::Show { .. } => {
            anyhow::bail!("a typed operation of the station API: sent as one (docs/CONTROL-API.md)")
        }
        CaseCommand::CheckFolder { .. } => unreachable!("handled above"),
        CaseCommand::Propose { number, confirm } => {
            let proposed = catalog.propose(number)?;
            if proposed.is_empty() {
                crate::outln!("no footage matches the case's officers and on-site windows / 无匹配录像");
            }
            for f in &proposed {
                crate::outln!("{}", f.archive_path);
            }
            if *confirm && !proposed.is_empty() {
                let case = catalog.case(number)?;
                let filed = assign::assign(config, &mut catalog, &case, &proposed);
                cases::refresh(config, &catalog, &case.label.number)?;
                let filed = filed?;
                crate::outln!("filed {} file(s) into {} / 已归入案件", filed.len(), case.label.number);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The typed operation a `case` command is a front end of: `create`, `list`, `show`,
/// `describe` (but its history) and `assign`; `None` for the others (still command-line
/// words).
pub fn request(cmd: &CaseCommand) -> Option<Request> {
    match cmd {
        CaseCommand::Describe { number, recording, subject, content, place, history: false } => {
            Some(Request::Describe(cases::Describe {
                case: number.clone(),
                recording: recording.clone(),
                subject: subject.clone(),
                content: content.clone(),
                place: place.clone(),
            }))
        }
        CaseCommand::Create(l) => Some(Request::CaseCreate(cases::Label {
            number: l.number.clone(),
            party: l.party.clone(),
            officers: l.officers.clone(),
            kind: Some(l.kind.as_str().to_string()),
            windows: l
                .windows
                .iter()
                .map(|(a, b)| [a.format("%Y-%m-%dT%H:%M:%S").to_string(), b.format("%Y-%m-%dT%H:%M:%S").to_string()])
                .collect(),
        })),
        CaseCommand::List => Some(Request::CaseList(crate::api::NoArgs {})),
        CaseCommand::Show { number, .. } => Some(Request::CaseShow(cases::ShowArgs { number: number.clone() })),
        CaseCommand::Assign { number, files, sessions, segments } => Some(Request::CaseAssign(cases::Assign {
            number: number.clone(),
            files: files.clone(),
            sessions: sessions.clone(),
            segments: segments.clone(),
        })),
        _ => None,
    }
}

/// Runs a typed `case` command ([`request`]) through `link` and renders its reply.
///
/// # Errors
/// When it is refused or could not run (exit code 2).
pub fn run_typed(cmd: &CaseCommand, link: &Link<'_>) -> anyhow::Result<ExitCode> {
    let Some(request) = request(cmd) else {
        anyhow::bail!("not a typed case command");
    };
    match link.call(request)? {
        Reply::Describe(d) => crate::outln!("{} described (#{}) / 已填写说明", d.target, d.id),
        Reply::CaseCreate(c) => crate::outln!("case {} created / 案件已创建", c.number),
        Reply::CaseShow(c) if matches!(cmd, CaseCommand::Show { json: true, .. }) => {
            crate::outln!("{}", serde_json::to_string(&c)?);
        }
        Reply::CaseShow(c) => {
            crate::outprint!("{}", c.label);
            if let Some(d) = &c.description {
                crate::outln!(
                    "  说明人 Described by: {}{}, {}",
                    d.written_by,
                    d.officer.as_deref().map(|o| format!(" (警号 {o})")).unwrap_or_default(),
                    d.written_at
                );
            }
            crate::outln!("footage 录像 ({}):", c.files.len());
            for f in &c.files {
                crate::outln!("  {}{}", f.path, if f.linked { "  (linked 链接)" } else { "" });
                for line in f.description.iter().flat_map(cases::DescriptionView::lines) {
                    crate::outln!("    {line}");
                }
            }
        }
        Reply::CaseList(list) => {
            for c in &list {
                crate::outln!("{}", c.number);
            }
        }
        Reply::CaseAssign(a) => {
            for path in &a.filed {
                crate::outln!("{path}");
            }
            if a.filed.is_empty() {
                crate::outln!("already filed in case {} / 已在该案件中", a.case);
            }
        }
        other => return Err(super::invoke::unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}

/// `evidock case check-folder`: exit 0 when the folder matches its manifest, 1 when not.
fn check_folder(dir: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let c = casefolder::check(dir)?;
    if json {
        let list = |kind: &str| -> Vec<String> {
            c.problems
                .iter()
                .filter_map(|p| match (p, kind) {
                    (casefolder::Problem::Missing(s), "missing")
                    | (casefolder::Problem::Extra(s), "extra")
                    | (casefolder::Problem::Altered(s), "altered") => Some(s.clone()),
                    _ => None,
                })
                .collect()
        };
        crate::outln!(
            "{}",
            serde_json::json!({
                "intact": c.problems.is_empty(), "case": c.manifest["case"]["number"], "listed": c.listed,
                "missing": list("missing"), "extra": list("extra"), "altered": list("altered"),
            })
        );
    } else {
        crate::outln!(
            "case {} folder, {} file(s) in the manifest / 案件文件夹，清单共 {} 个文件",
            c.manifest["case"]["number"].as_str().unwrap_or("?"),
            c.listed,
            c.listed
        );
        for p in &c.problems {
            crate::outln!("{}", p.text());
        }
        if c.problems.is_empty() {
            crate::outln!("intact: every file is there as listed, nothing else / 完整：文件齐全且未被改动");
        } else {
            crate::outln!("NOT INTACT: {} problem(s) / 不完整：发现 {} 处问题", c.problems.len(), c.problems.len());
        }
    }
    Ok(if c.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
