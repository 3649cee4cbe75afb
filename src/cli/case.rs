//! `evidock case create|label|list|show|assign|propose`: cases and their footage (R4, R13).

use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDateTime;

use crate::archive::assign;
use crate::catalog::{CaseKind, CaseLabel};
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
}

pub fn run(cmd: &CaseCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let mut catalog = super::open_catalog_as_user(config)?;
    match cmd {
        CaseCommand::Create(args) => {
            catalog.create_case(&args.label())?;
            crate::outln!("case {} created / 案件已创建", args.number.trim());
        }
        CaseCommand::Label(args) => {
            catalog.label_case(&args.label())?;
            crate::outln!("case {} relabelled / 案件信息已修改", args.number.trim());
        }
        CaseCommand::List => {
            for n in catalog.case_numbers()? {
                crate::outln!("{n}");
            }
        }
        CaseCommand::Show { number, json } => {
            let case = catalog.case(number)?;
            let l = &case.label;
            if *json {
                let files: Vec<_> = case
                    .files
                    .iter()
                    .map(|(id, path, linked)| serde_json::json!({ "file": id, "path": path, "linked": linked }))
                    .collect();
                crate::outln!(
                    "{}",
                    serde_json::json!({
                        "number": l.number, "folder": case.folder, "party": l.party, "officers": l.officers,
                        "kind": l.kind.as_str(),
                        "windows": l.windows.iter().map(|(a, b)| [a.to_string(), b.to_string()]).collect::<Vec<_>>(),
                        "files": files,
                    })
                );
            } else {
                crate::outprint!("{}", assign::label_text(&case));
                crate::outln!("footage 录像 ({}):", case.files.len());
                for (_, path, linked) in &case.files {
                    crate::outln!("  {path}{}", if *linked { "  (linked 链接)" } else { "" });
                }
            }
        }
        CaseCommand::Assign { number, files, sessions, segments } => {
            let case = catalog.case(number)?;
            let mut selected = Vec::new();
            for f in files {
                selected.extend(catalog.select_files(Some(f), None, None).with_context(|| format!("file {f}"))?);
            }
            for s in sessions {
                selected.extend(catalog.select_files(None, Some(s), None).with_context(|| format!("session {s}"))?);
            }
            for s in segments {
                selected.extend(catalog.select_files(None, None, Some(s)).with_context(|| format!("segment {s}"))?);
            }
            if selected.is_empty() {
                anyhow::bail!("nothing to assign: give --file, --session or --segment");
            }
            for path in assign::assign(config, &mut catalog, &case, &selected)? {
                crate::outln!("{path}");
            }
        }
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
                let filed = assign::assign(config, &mut catalog, &case, &proposed)?;
                crate::outln!("filed {} file(s) into {} / 已归入案件", filed.len(), case.label.number);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
