//! `evidock case create|label|list|show|assign|propose|describe|check-folder`: cases and their
//! footage (R4, R13), their descriptions (S4 §23), the case folders' labels and manifests
//! (S3 §26).

use std::process::ExitCode;

use chrono::NaiveDateTime;

use super::invoke::Link;
use crate::api::{cases, Reply, Request};
use crate::archive::casefolder;
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
    #[arg(long, default_value = "other", value_parser = ["penalty", "coercive", "inspection", "permit", "other"])]
    pub kind: String,
    /// On-site window FROM,TO (YYYY-MM-DDThh:mm[:ss], station local time; repeat for each).
    #[arg(long = "window", value_name = "FROM,TO", value_parser = parse_window)]
    pub windows: Vec<(NaiveDateTime, NaiveDateTime)>,
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
    /// The label as the station API takes it.
    fn wire(&self) -> cases::Label {
        let at = |t: &NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S").to_string();
        cases::Label {
            number: self.number.clone(),
            party: self.party.clone(),
            officers: self.officers.clone(),
            kind: Some(self.kind.clone()),
            windows: self.windows.iter().map(|(a, b)| [at(a), at(b)]).collect(),
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

pub fn run(cmd: &CaseCommand, _config: &Config) -> anyhow::Result<ExitCode> {
    match cmd {
        CaseCommand::CheckFolder { dir, json } => check_folder(dir, *json),
        _ => anyhow::bail!("a typed operation of the station API: sent as one (docs/CONTROL-API.md)"),
    }
}

/// The typed operation a `case` command is a front end of; `None` for `check-folder`, which
/// reads a folder offline, without the station.
pub fn request(cmd: &CaseCommand) -> Option<Request> {
    match cmd {
        CaseCommand::Describe { number, recording, history: true, .. } => {
            Some(Request::DescribeHistory(cases::HistoryOf { case: number.clone(), recording: recording.clone() }))
        }
        CaseCommand::Describe { number, recording, subject, content, place, history: false } => {
            Some(Request::Describe(cases::Describe {
                case: number.clone(),
                recording: recording.clone(),
                subject: subject.clone(),
                content: content.clone(),
                place: place.clone(),
            }))
        }
        CaseCommand::Create(l) => Some(Request::CaseCreate(l.wire())),
        CaseCommand::Label(l) => Some(Request::CaseLabel(l.wire())),
        CaseCommand::Propose { number, .. } => Some(Request::CasePropose(cases::ShowArgs { number: number.clone() })),
        CaseCommand::List => Some(Request::CaseList(crate::api::NoArgs {})),
        CaseCommand::Show { number, .. } => Some(Request::CaseShow(cases::ShowArgs { number: number.clone() })),
        CaseCommand::Assign { number, files, sessions, segments } => Some(Request::CaseAssign(cases::Assign {
            number: number.clone(),
            files: files.clone(),
            sessions: sessions.clone(),
            segments: segments.clone(),
        })),
        CaseCommand::CheckFolder { .. } => None,
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
        Reply::CaseLabel(c) => crate::outln!("case {} relabelled / 案件信息已修改", c.number),
        Reply::CasePropose(proposed) => {
            if proposed.is_empty() {
                crate::outln!("no footage matches the case's officers and on-site windows / 无匹配录像");
            }
            for f in &proposed {
                crate::outln!("{}", f.path);
            }
            if let CaseCommand::Propose { number, confirm: true } = cmd {
                if !proposed.is_empty() {
                    let assign = Request::CaseAssign(cases::Assign {
                        number: number.clone(),
                        files: proposed.iter().map(|f| f.path.clone()).collect(),
                        ..cases::Assign::default()
                    });
                    match link.call(assign)? {
                        Reply::CaseAssign(a) => {
                            crate::outln!("filed {} file(s) into {} / 已归入案件", a.filed.len(), a.case);
                        }
                        other => return Err(super::invoke::unexpected(&other)),
                    }
                }
            }
        }
        Reply::DescribeHistory(list) => {
            let subject = match cmd {
                CaseCommand::Describe { recording: Some(r), .. } => format!("recording {}", r.trim()),
                CaseCommand::Describe { number: Some(n), .. } => format!("case {}", n.trim()),
                _ => String::new(),
            };
            if list.is_empty() {
                crate::outln!("{subject}: no description yet / 尚无说明");
            }
            for d in list {
                let v = &d.view;
                let badge = v.officer.as_deref().map(|o| format!(" (警号 {o})")).unwrap_or_default();
                crate::outln!("#{} {} {}{badge}:", d.id, v.written_at, v.written_by);
                for line in v.lines() {
                    crate::outln!("  {line}");
                }
            }
        }
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
