//! `evidock access ...` and `evidock export`: front ends of the station API's access requests,
//! approvals, confidentiality marks, informants and export (`api::access`, `api::forms`,
//! `api::marks`, `api::export`; R9, R10).
//!
//! Owns: building their requests and rendering their replies; on the caller's side of an
//! export, the export's own folder (made here, sent as an open descriptor, renamed into place
//! once the station answers, removed when it did not complete).
//! Must never: decide who may see or take footage, open the catalogue, or copy footage itself
//! (the station does, into the folder sent).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::Utc;

use crate::api::export::PreparedExport;
use crate::config::Config;

/// `evidock access ...`
#[derive(Debug, clap::Subcommand)]
pub enum AccessCommand {
    /// Ask to view, copy or export footage of a case or of recordings, with the reason.
    Request {
        /// Every recording filed into this case.
        #[arg(long, value_name = "NUMBER", conflicts_with = "recordings")]
        case: Option<String>,
        /// A recording (SERIAL/SESSION); repeatable.
        #[arg(long = "recording", value_name = "SERIAL/SESSION")]
        recordings: Vec<String>,
        /// view (at the station), copy (internal use) or export (to an outside party).
        #[arg(long)]
        kind: String,
        /// What for (用途).
        #[arg(long)]
        reason: String,
        /// For whom: internal, officer (an officer's own footage), court, procuratorate, party
        /// (当事人), other or public (公开发布). Its tier decides who approves (`[access.tiers]`).
        #[arg(long, default_value = "internal")]
        party: String,
        /// The receiving body or person, by name.
        #[arg(long, value_name = "NAME")]
        party_name: Option<String>,
    },
    /// Approve a request (an approver who is not the requester).
    Approve {
        /// Request number.
        id: i64,
    },
    /// Deny a request, with the reason.
    Deny {
        /// Request number.
        id: i64,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Every request and where it stands.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Record that an approved request's footage was viewed, and list its files.
    View {
        /// Request number.
        id: i64,
    },
    /// Play one file of an approved view request: the station hands it to the viewer, checked
    /// against the custody log as it is read, and logs the view (R9). To standard output
    /// (`| mpv -`), or into `--player`'s standard input.
    Play {
        /// Request number.
        id: i64,
        /// The file, as `access view` lists it (archive path, or its full path).
        file: String,
        /// A player command run by the viewer's own shell, fed the footage on its standard
        /// input, e.g. `"mpv -"`.
        #[arg(long, value_name = "CMD")]
        player: Option<String>,
    },
    /// Mark a case or a recording secret, work-secret, commercial-secret or privacy (R10).
    Mark {
        /// The case.
        #[arg(long, value_name = "NUMBER", conflicts_with = "recording")]
        case: Option<String>,
        /// The recording.
        #[arg(long, value_name = "SERIAL/SESSION")]
        recording: Option<String>,
        /// secret, work-secret, commercial-secret or privacy.
        #[arg(long)]
        level: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Remove a confidentiality mark, with the reason.
    Unmark {
        /// Mark number (printed by `access mark`).
        id: i64,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Print the 《行政执法全过程记录资料调用单》 of a request (S2 §24) as HTML, from the
    /// custody log.
    Form {
        /// Request number.
        id: i64,
    },
    /// Print the access register of a period (S3 §28: viewer, copier, approver, time, reason)
    /// as HTML, from the custody log.
    Register {
        /// First day, YYYY-MM-DD (station time).
        #[arg(long)]
        from: String,
        /// Last day, YYYY-MM-DD (station time), included.
        #[arg(long)]
        to: String,
    },
    /// Record an informant (举报人) of a case. The name stays in the station's catalogue: no
    /// custody event, report or export carries it.
    Informant {
        /// The case.
        #[arg(long, value_name = "NUMBER")]
        case: String,
        /// The informant's name.
        #[arg(long)]
        name: String,
    },
}

/// `evidock export`
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The approved request.
    #[arg(long = "request", value_name = "N")]
    pub id: i64,
    /// The folder (a removable drive) the export is written into, as `evidock-export-N/`.
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
}

/// The typed operation an `access` command is a front end of: `request`, `list`, `approve`
/// and `deny`; `None`
/// for the others (still command-line words).
pub fn request(cmd: &AccessCommand) -> Option<crate::api::Request> {
    use crate::api::{access, forms, marks, Request};
    match cmd {
        AccessCommand::Request { case, recordings, kind, reason, party, party_name } => {
            Some(Request::AccessRequest(access::NewRequest {
                case: case.clone(),
                recordings: recordings.clone(),
                kind: kind.clone(),
                reason: reason.clone(),
                party: Some(party.clone()),
                party_name: party_name.clone(),
            }))
        }
        AccessCommand::List { .. } => Some(Request::AccessList(access::ListArgs {})),
        AccessCommand::Approve { id } => Some(Request::AccessApprove(access::Approve { id: *id })),
        AccessCommand::Deny { id, reason } => {
            Some(Request::AccessDeny(access::Deny { id: *id, reason: reason.clone() }))
        }
        AccessCommand::View { id } => Some(Request::AccessView(forms::RequestId { id: *id })),
        AccessCommand::Form { id } => Some(Request::AccessForm(forms::RequestId { id: *id })),
        AccessCommand::Register { from, to } => {
            Some(Request::AccessRegister(forms::Period { from: from.clone(), to: to.clone() }))
        }
        AccessCommand::Mark { case, recording, level, reason } => Some(Request::AccessMark(marks::MarkArgs {
            case: case.clone(),
            recording: recording.clone(),
            level: level.clone(),
            reason: reason.clone(),
        })),
        AccessCommand::Unmark { id, reason } => {
            Some(Request::AccessUnmark(marks::UnmarkArgs { id: *id, reason: reason.clone() }))
        }
        AccessCommand::Informant { case, name } => {
            Some(Request::AccessInformant(marks::InformantArgs { case: case.clone(), name: name.clone() }))
        }
        // The file is handed to the viewer's own process (a descriptor) and played there:
        // `cli/play.rs`.
        AccessCommand::Play { id, file, .. } => Some(Request::AccessPlay(access::View { id: *id, file: file.clone() })),
    }
}

/// Runs a typed `access` command ([`request`]) through `link` and renders its reply.
///
/// # Errors
/// When it is refused or could not run (exit code 2).
pub fn run_typed(cmd: &AccessCommand, link: &super::invoke::Link<'_>, config: &Config) -> anyhow::Result<ExitCode> {
    let Some(request) = request(cmd) else {
        bail!("not a typed access command");
    };
    if let AccessCommand::Play { player, .. } = cmd {
        // Footage is never played onto a terminal: checked before anything is asked or logged.
        super::play::check_sink(player.as_deref())?;
    }
    match link.call(request)? {
        crate::api::Reply::AccessPlay(played) => {
            let player = match cmd {
                AccessCommand::Play { player, .. } => player.as_deref(),
                _ => None,
            };
            return super::play::watch(&played, player);
        }
        crate::api::Reply::AccessRequest(r) => crate::outln!(
            "access request #{} awaits an approver who is not you / 调阅申请 #{} 已提交，待他人审批",
            r.id,
            r.id
        ),
        crate::api::Reply::AccessApprove(d) => {
            let until = d
                .valid_until
                .as_deref()
                .and_then(|u| chrono::DateTime::parse_from_rfc3339(u).ok())
                .map(|t| crate::report::history::station_time_at(t.with_timezone(&Utc), config.timezone))
                .unwrap_or_default();
            crate::outln!(
                "access request #{} approved until {until} / 调阅申请 #{} 已批准，有效期至上述时间",
                d.id,
                d.id
            );
        }
        crate::api::Reply::AccessDeny(d) => {
            crate::outln!("access request #{} denied / 调阅申请 #{} 未批准", d.id, d.id)
        }
        crate::api::Reply::AccessList(list) => {
            let json = matches!(cmd, AccessCommand::List { json: true });
            for r in &list {
                if json {
                    crate::outln!("{}", serde_json::to_string(r)?);
                    continue;
                }
                let scope = match &r.case {
                    Some(c) => format!("case {c}"),
                    None => format!("recording(s) {}", r.recordings.join(", ")),
                };
                let at = chrono::DateTime::parse_from_rfc3339(&r.requested_at)
                    .map(|t| crate::report::history::station_time_at(t.with_timezone(&Utc), config.timezone))
                    .unwrap_or_else(|_| r.requested_at.clone());
                crate::outln!(
                    "#{:<4} {:<8} {:<6} {} {}  {}  by {} at {}  [{}]",
                    r.id,
                    r.state,
                    r.kind,
                    r.state_zh,
                    scope,
                    r.reason,
                    r.requested_by,
                    at,
                    r.marks_zh.join(",")
                );
            }
        }
        crate::api::Reply::AccessView(v) => {
            for f in &v.files {
                crate::outln!("{f}");
            }
        }
        crate::api::Reply::AccessForm(p) | crate::api::Reply::AccessRegister(p) => crate::outprint!("{}", p.html),
        crate::api::Reply::AccessMark(m) => {
            crate::outln!("mark #{}: {} is {} / 已标记为{}", m.id, m.subject, m.level, m.level_zh)
        }
        crate::api::Reply::AccessUnmark(m) => crate::outln!("mark #{} cleared / 密级标记已解除", m.id),
        crate::api::Reply::AccessInformant(i) => crate::outln!(
            "informant recorded for case {}; it never leaves the station / 举报人信息已登记，不对外提供",
            i.case
        ),
        other => return Err(super::invoke::unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}

/// `evidock export`: makes the export's own folder, sends it to the `export` operation as an
/// open descriptor, renders the reply, and names the folder `evidock-export-N` once the station
/// reports the export complete (or removes it when it did not complete).
///
/// # Errors
/// When it is refused or could not run (exit code 2).
pub fn run_export(args: &ExportArgs, link: &super::invoke::Link<'_>) -> anyhow::Result<ExitCode> {
    use crate::api::export;
    use crate::api::{Reply, Request};
    let name = args.to.to_string_lossy().into_owned();
    let request = Request::Export(export::ExportArgs { request: args.id, folder: name.clone() });
    let mut prepared = None;
    let called = link.call_preparing(request, |service| {
        let p = PreparedExport::make(&args.to, args.id, service)?;
        let dir = std::fs::File::open(p.folder()).with_context(|| format!("opening {}", p.folder().display()))?;
        prepared = Some(p);
        Ok(vec![(name, dir.into())])
    });
    let exported = match called {
        Ok(Reply::Export(e)) => e,
        Ok(other) => {
            if let Some(p) = prepared {
                p.abandon();
            }
            return Err(super::invoke::unexpected(&other));
        }
        Err(e) => {
            if let Some(p) = prepared {
                p.abandon();
            }
            return Err(e);
        }
    };
    prepared.context("the export's folder was not made")?.finish()?;
    crate::outln!(
        "exported {} file(s), {} to {}/ with {} custody event(s){} / 已导出，附保管日志摘录与签名检查点",
        exported.files,
        super::bytes(exported.bytes),
        exported.folder,
        exported.events,
        if exported.withheld > 0 {
            format!(" ({} withheld: they name an informant)", exported.withheld)
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}
