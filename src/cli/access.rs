//! `evidock access ...` and `evidock export`: access requests, approvals, confidentiality marks,
//! informants, and the export of approved footage with its custody extract (R9, R10).
//!
//! Owns: the rendering of the typed `access request|list|approve|deny` (their decisions are
//! the station API's, `api::access`), confidentiality marks and informants, `access view`, and
//! the export folder.
//! Must never: let footage leave without a live approval of the right kind, move or change an
//! archived file (exports copy and verify), or put an informant's name into anything that leaves.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::Utc;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::invoke::{caller, Refused};
use crate::access::{AccessError, Kind, Scope, State};
use crate::archive::fsio;
use crate::catalog::{Catalog, RecordingRow};
use crate::config::Config;
use crate::custody::extract::Entry;
use crate::custody::{files, merkle, store};

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
    /// `--to` is the export's own empty folder, made by the caller, who renames it into place
    /// once the export is complete (how exports through the service are written: the service
    /// user may not write into the caller's folder, only into this one).
    #[arg(long, hide = true)]
    pub prepared: bool,
}

pub(super) fn refused(e: AccessError) -> anyhow::Error {
    Refused(e.to_string()).into()
}

pub(super) use crate::api::access::{expire_lapsed, mark_rule, recordings_of, still_holds};

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
        // The file is handed to the viewer's own process (a descriptor): `cli/play.rs`.
        AccessCommand::Play { .. } => None,
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
    match link.call(request)? {
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

/// Runs an `access` command.
///
/// # Errors
/// When it is refused or could not run (exit code 2).
pub fn run(cmd: &AccessCommand, config: &Config) -> anyhow::Result<ExitCode> {
    match cmd {
        AccessCommand::Play { id, file, player } => super::play::run(*id, file, player.as_deref(), config),
        _ => bail!("a typed operation of the station API: sent as one (docs/CONTROL-API.md)"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Copies `from` to `to` (a new file), hashing both ways as it goes; fsyncs it. Returns
/// (size, BLAKE3 hex, SHA-256 hex).
fn copy_hashed(from: &Path, to: &Path) -> anyhow::Result<(u64, String, String)> {
    let mut src = std::fs::File::open(from).with_context(|| format!("reading {}", from.display()))?;
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .with_context(|| format!("creating {}", to.display()))?;
    let (mut b3, mut sha) = (blake3::Hasher::new(), Sha256::new());
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = src.read(&mut buf).with_context(|| format!("reading {}", from.display()))?;
        if n == 0 {
            break;
        }
        b3.update(&buf[..n]);
        sha.update(&buf[..n]);
        dst.write_all(&buf[..n]).with_context(|| format!("writing {}", to.display()))?;
        size += n as u64;
    }
    dst.sync_all().with_context(|| format!("syncing {}", to.display()))?;
    Ok((size, b3.finalize().to_hex().to_string(), hex(&sha.finalize())))
}

fn blake3_of(path: &Path) -> anyhow::Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("re-reading {}", path.display()))?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().to_hex().to_string())
}

fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("syncing folder {}", dir.display()))
}

const EXPORT_README: &str = "\
evidock export / 执法记录仪视音频导出

This folder holds footage copied out of an evidence archive under an approved access request,
and everything needed to check it offline.
本文件夹为经批准调取的执法记录仪视音频副本，以及离线核验所需的全部材料。

  data/                       the footage, in the archive's YYYY/MM/DD/<case>/ layout / 视音频文件
  manifest-sha256.txt         check with: sha256sum -c manifest-sha256.txt / 用 sha256sum 核验
  manifest-blake3.txt         check with: b3sum -c manifest-blake3.txt
  export.json                 who asked, who approved, who copied, when, why, every file's hashes
                              申请人、审批人、复制人、时间、用途及每个文件的哈希值
  custody/custody-extract.jsonl  the custody-log events about this footage, each with its
                              Merkle inclusion proof (RFC 9162) / 保管日志摘录及包含证明
  custody/checkpoint.txt      the station's signed checkpoint (C2SP signed note, Ed25519)
  custody/custody-signing.pub the station's verifier key: compare it with the key the bureau
                              published or you hold from elsewhere / 请与另行获得的公钥比对

Check the custody extract / 核验保管日志摘录:
  evidock log verify-extract --dir . [--key KEY-YOU-HOLD.pub]
or write your own verifier from docs/CUSTODY-LOG.md (sections 3, 9, 10, 11, 14).
";

/// Runs `evidock export`: copies the approved footage with its hashes, the custody extract and
/// a fresh checkpoint into `<to>/evidock-export-N/`, and uses up the approval.
///
/// # Errors
/// When it is refused (no live approval of kind copy or export) or could not run.
pub fn export(args: &ExportArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let mut catalog = super::open_catalog_as_user(config)?;
    expire_lapsed(&mut catalog, config)?;
    let copier = caller().actor.user;
    let mut req = catalog.access(args.id)?;
    let use_ = if req.kind == Kind::Export { Kind::Export } else { Kind::Copy };
    let now = Utc::now();
    req.usable(use_, now).map_err(refused)?;
    let State::Approved { by: approver, at: approved_at, .. } = req.state.clone() else { unreachable!("usable") };
    let recs = recordings_of(&catalog, &req.scope)?;
    still_holds(&mut catalog, config, &mut req, &recs, use_)?;
    // Every file is held against the custody log before a byte leaves (INV-16): the catalogue
    // must name the file and hash the log recorded when it was copied.
    let ledger = super::archive::trusted_ledger(&mut catalog, config, "export")?;
    for f in recs.iter().flat_map(|r| r.recording.files.iter()) {
        let v = crate::ledger::catalogue_check(ledger.file_at(&f.path), &f.blake3, f.size);
        if !v.is_intact() {
            return Err(fixity_refused(&mut catalog, &f.path, &v));
        }
    }

    // Everything is written under a temporary name and renamed when complete: a folder named
    // evidock-export-N is always whole. Through the service, the caller made that temporary
    // folder and renames it.
    crate::central::offload::refuse_evicted(
        &catalog,
        recs.iter().flat_map(|r| r.recording.files.iter().map(|f| f.path.as_str())),
    )
    .map_err(anyhow::Error::msg)?;
    let name = export_folder(req.id);
    let final_dir = args.to.join(&name);
    let tmp = if args.prepared {
        let listed = std::fs::read_dir(&args.to).map_err(|e| no_access(e, &args.to, true))?;
        if listed.into_iter().next().is_some() {
            bail!("the folder prepared for the export is not empty");
        }
        args.to.clone()
    } else {
        if final_dir.exists() {
            bail!("{} exists already: an approval is used once; choose another folder", final_dir.display());
        }
        let tmp = args.to.join(partial_folder(req.id));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).with_context(|| format!("removing an unfinished {}", tmp.display()))?;
        }
        tmp
    };
    // Written by the service for another user: that user may read it all and remove it, and
    // nobody else gains anything, whether the export completes or not.
    let grant = Grant { root: &tmp, uid: caller().identity.uid, skip_root: args.prepared };
    std::fs::create_dir_all(tmp.join("data")).map_err(|e| no_access(e, &tmp, args.prepared))?;

    let mut files = Vec::new();
    let (mut m256, mut mb3) = (String::new(), String::new());
    let mut bytes = 0u64;
    for r in &recs {
        for f in &r.recording.files {
            let rel = Path::new(&f.path);
            if rel.is_absolute() || rel.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
                bail!("catalogue path {} is not inside the archive", f.path);
            }
            let to = tmp.join("data").join(rel);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
                grant.folders(parent);
            }
            let source = config.paths.archive_root.join(rel);
            if !source.exists() {
                // A missing file is a fixity failure like a changed one: logged and alarmed (R5).
                if !args.prepared {
                    let _ = std::fs::remove_dir_all(&tmp);
                }
                let v = crate::ledger::fixity(ledger.file_at(&f.path), Some((&f.blake3, f.size)), None);
                return Err(fixity_refused(&mut catalog, &f.path, &v));
            }
            let (size, b3, sha) = copy_hashed(&source, &to)?;
            crate::failpoint!("export.mid");
            let v = crate::ledger::fixity(ledger.file_at(&f.path), Some((&f.blake3, f.size)), Some((&b3, size)));
            if !v.is_intact() {
                if !args.prepared {
                    let _ = std::fs::remove_dir_all(&tmp);
                }
                return Err(fixity_refused(&mut catalog, &f.path, &v));
            }
            if blake3_of(&to)? != b3 {
                bail!("the exported copy of {} does not read back as written; check the target drive", f.path);
            }
            bytes += size;
            m256.push_str(&format!("{sha}  data/{}\n", f.path));
            mb3.push_str(&format!("{b3}  data/{}\n", f.path));
            files.push(
                json!({ "path": f.path, "size": size, "blake3": b3, "sha256": sha, "recording": r.recording.id }),
            );
        }
    }
    std::fs::write(tmp.join("manifest-sha256.txt"), &m256)?;
    std::fs::write(tmp.join("manifest-blake3.txt"), &mb3)?;
    let manifest_sha256 = hex(&Sha256::digest(m256.as_bytes()));

    // The use of the approval, logged with requester, copier, approver, time and reason.
    let party_name = req.party_name.clone();
    req.use_up(use_, &copier, now).map_err(refused)?;
    let used_seq = catalog.update_access(
        &req,
        json!({
            "copier": copier, "approver": approver, "reason": req.reason, "party": req.party.as_str(),
            "party_name": party_name, "files": files.len(), "bytes": bytes,
            "manifest_sha256": manifest_sha256, "folder": name,
        }),
    )?;

    // A fresh checkpoint covering that event, and the extract against it.
    let conn = catalog.connection();
    let mut wanted = BTreeSet::new();
    if let Scope::Case(c) = &req.scope {
        wanted.extend(crate::custody::query::event_seqs(conn, Some(c), None, config.timezone)?);
    }
    for r in &recs {
        wanted.extend(crate::custody::query::event_seqs(conn, None, Some(&r.recording.id), config.timezone)?);
    }
    // The events that recorded each file's copy and filings, whatever the queries above found:
    // `log verify-extract` checks the exported bytes against them.
    for f in recs.iter().flat_map(|r| r.recording.files.iter()) {
        wanted.extend(ledger.file_at(&f.path).map(|l| l.seqs.clone()).unwrap_or_default());
    }
    let subject = crate::catalog::request_subject(req.id);
    let mut st = conn.prepare("SELECT seq FROM custody_log WHERE subject = ?1")?;
    for seq in st.query_map([&subject], |r| r.get::<_, i64>(0))? {
        wanted.insert(u64::try_from(seq?).unwrap_or(0));
    }
    drop(st);
    let informants = informants_of(conn, &recs, &req.scope)?;
    let party = req.withholds_informants();
    let hide = |ev: &crate::custody::event::StoredEvent| {
        // Towards a party, an event that mentions an informant leaves as its hash alone.
        party && informants.iter().any(|n| ev.details.contains(n.as_str()) || ev.subject.contains(n.as_str()))
    };
    std::fs::create_dir_all(tmp.join("custody")).with_context(|| format!("creating {}", tmp.display()))?;
    grant.folders(&tmp.join("custody"));
    let (size, events, withheld) = write_custody_folder(&mut catalog, config, &wanted, &hide, &tmp.join("custody"))?;
    let summary = json!({
        "format": "evidock-export/1",
        "station": config.station_name,
        "request": req.id, "kind": req.kind.as_str(), "reason": req.reason,
        "party": req.party.as_str(), "party_name": req.party_name,
        "requested_by": req.requested_by, "requested_at": req.requested_at.to_rfc3339(),
        "approved_by": approver, "approved_at": approved_at.to_rfc3339(),
        "copied_by": copier, "copied_at": now.to_rfc3339(),
        "custody_event": used_seq, "checkpoint_size": size,
        "scope": match &req.scope { Scope::Case(c) => json!({ "case": c }), Scope::Recordings(r) => json!({ "recordings": r }) },
        "files": files,
    });
    std::fs::write(tmp.join("export.json"), serde_json::to_string_pretty(&summary)? + "\n")?;
    std::fs::write(tmp.join("README.txt"), EXPORT_README)?;
    drop(grant);
    // Every file, its access list and every folder reach the disk before the folder is named
    // complete.
    let folder = std::fs::File::open(&tmp).with_context(|| format!("opening {}", tmp.display()))?;
    nix::unistd::syncfs(std::os::fd::AsRawFd::as_raw_fd(&folder))
        .with_context(|| format!("writing {} out to its disk", tmp.display()))?;
    if !args.prepared {
        std::fs::rename(&tmp, &final_dir).with_context(|| format!("renaming {} into place", tmp.display()))?;
        sync_dir(&args.to)?;
    }
    crate::outln!(
        "exported {} file(s), {} to {}/ with {} custody event(s){} / 已导出，附保管日志摘录与签名检查点",
        files.len(),
        super::bytes(bytes),
        name,
        events,
        if withheld > 0 { format!(" ({withheld} withheld: they name an informant)") } else { String::new() }
    );
    Ok(ExitCode::SUCCESS)
}

/// Raises the alarm for a file an export found contradicting the custody log, and the error
/// that refuses the export, in both languages.
pub(super) fn fixity_refused(catalog: &mut Catalog, path: &str, found: &crate::ledger::Fixity) -> anyhow::Error {
    let (en, zh) = match catalog.fixity_alarm(path, found, "export") {
        Ok(t) => t,
        Err(e) => return anyhow::Error::new(e).context(format!("recording the alarm for {path}")),
    };
    anyhow::anyhow!(
        "fixity check failed, export refused: {en}; nothing was exported, the alarm is raised (`evidock status`) \
         / 校验失败，拒绝导出：{zh}；未导出任何文件，已发出警报"
    )
}

/// Writes a custody folder into `dir`: a fresh signed checkpoint (`checkpoint.txt`), the
/// verifier key, and the extract of the events `wanted` (those the checkpoint covers), each with
/// its inclusion proof; events `hide` says are withheld leave as their leaf hash. Returns the
/// checkpoint's size, the events written and how many were withheld.
///
/// # Errors
/// When the log cannot be read or signed, or a file cannot be written.
pub(crate) fn write_custody_folder(
    catalog: &mut Catalog,
    config: &Config,
    wanted: &BTreeSet<u64>,
    hide: &dyn Fn(&crate::custody::event::StoredEvent) -> bool,
    dir: &Path,
) -> anyhow::Result<(u64, usize, usize)> {
    let paths = files::KeyPaths::in_dir(&config.paths.state_dir);
    let signer = files::load_or_create_signer(&paths, &crate::custody::checkpoint::key_name(&config.station_name))?;
    let made = catalog.checkpoint(&signer, &paths.checkpoints)?;
    let conn = catalog.connection();
    let (note, size) = match made {
        Some(c) => (c.note, c.tree_size),
        None => {
            let last = store::checkpoints(conn)?.pop().context("no checkpoint could be made")?;
            (last.note, last.tree_size)
        }
    };
    let wanted: BTreeSet<u64> = wanted.iter().copied().filter(|s| *s <= size).collect();
    let mut extract = String::new();
    let (mut count, mut withheld) = (0, 0);
    for (ev, proof) in store::extract_entries(conn, size, &wanted)? {
        let index = ev.seq - 1;
        let hidden = hide(&ev);
        withheld += usize::from(hidden);
        count += 1;
        let entry = Entry {
            seq: ev.seq,
            leaf_index: index,
            tree_size: size,
            proof,
            leaf_hash: merkle::event_leaf(&ev),
            withheld: hidden.then(|| "informant".to_string()),
            event: (!hidden).then_some(ev),
        };
        extract.push_str(&entry.line(super::log::event_json));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("custody-extract.jsonl"), &extract)?;
    std::fs::write(dir.join("checkpoint.txt"), &note)?;
    std::fs::write(dir.join(files::VERIFIER_KEY_FILE), signer.verifier().encode() + "\n")?;
    Ok((size, count, withheld))
}

/// Informants of the cases the footage is filed into.
fn informants_of(conn: &rusqlite::Connection, recs: &[RecordingRow], scope: &Scope) -> anyhow::Result<Vec<String>> {
    let mut cases: BTreeSet<String> = recs.iter().flat_map(|r| r.recording.cases.iter().cloned()).collect();
    if let Scope::Case(c) = scope {
        cases.insert(c.clone());
    }
    let mut st = conn.prepare("SELECT name FROM case_informants WHERE case_number = ?1")?;
    let mut out = BTreeSet::new();
    for c in cases {
        for n in st.query_map([&c], |r| r.get::<_, String>(0))? {
            out.insert(n?);
        }
    }
    Ok(out.into_iter().collect())
}

/// The error for `folder` of an export: where the service may not enter or write it, what the
/// requester can do about it. The caller of a service export names the service's user in
/// the folder's ACL, so a refusal means its file system keeps none (FAT, exFAT).
fn no_access(e: std::io::Error, folder: &Path, for_service: bool) -> anyhow::Error {
    if !for_service || e.kind() != std::io::ErrorKind::PermissionDenied {
        return anyhow::Error::new(e).context(format!("writing into {}", folder.display()));
    }
    anyhow::anyhow!(
        "the service cannot write into the export's folder: its drive keeps no access lists (FAT, exFAT) \
         and is not mounted writable for the service's user; mount it writable for all users \
         (for example umask=000), or export to a folder on the station's disk and copy that to the drive \
         / 服务无权写入导出文件夹：请以所有用户可写方式挂载该存储设备，或先导出到本机磁盘再复制"
    )
}

/// The name of the folder an export is delivered as.
pub fn export_folder(request: i64) -> String {
    format!("evidock-export-{request}")
}

/// The name an export is written under until it is complete.
pub fn partial_folder(request: i64) -> String {
    format!(".{}.partial", export_folder(request))
}

/// An export through the service, on the caller's side: the service user may not write into
/// the caller's folder, so the caller makes the export's temporary folder, lets the service's
/// user write into it (an ACL naming that user), and renames it into place once the service
/// reports the export complete. What the service writes there it grants back to the caller.
pub struct PreparedExport {
    to: PathBuf,
    partial: PathBuf,
    done: PathBuf,
}

impl PreparedExport {
    /// Makes `<to>/.evidock-export-N.partial/` for the service behind `service`.
    ///
    /// # Errors
    /// When the export's folder exists already, or the folder cannot be made or opened to the
    /// service.
    pub fn make(args: &ExportArgs, service: &std::os::unix::net::UnixStream) -> anyhow::Result<PreparedExport> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::create_dir_all(&args.to).with_context(|| format!("creating {}", args.to.display()))?;
        let done = args.to.join(export_folder(args.id));
        if std::fs::symlink_metadata(&done).is_ok() {
            bail!("{} exists already: an approval is used once; choose another folder", done.display());
        }
        let partial = args.to.join(partial_folder(args.id));
        if std::fs::symlink_metadata(&partial).is_ok() {
            std::fs::remove_dir_all(&partial).with_context(|| {
                format!(
                    "removing {}, left by an export that did not finish; remove it, then try again",
                    partial.display()
                )
            })?;
        }
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&partial)
            .with_context(|| format!("creating {}", partial.display()))?;
        let prepared = PreparedExport { to: args.to.clone(), partial, done };
        let service = nix::sys::socket::getsockopt(service, nix::sys::socket::sockopt::PeerCredentials)
            .context("asking the control socket which user the service runs as")?
            .uid();
        if service != 0 && service != nix::unistd::geteuid().as_raw() {
            // On FAT and exFAT, which keep no ACLs, the mount options decide alone.
            if let Err(e) = fsio::grant_user(&prepared.partial, service) {
                prepared.abandon();
                bail!("cannot let the service write into {}: {e}", args.to.display());
            }
        }
        Ok(prepared)
    }

    /// The folder the service writes into.
    pub fn folder(&self) -> &Path {
        &self.partial
    }

    /// Names the complete export `evidock-export-N`, durably.
    ///
    /// # Errors
    /// When the rename or the folder's sync fails.
    pub fn finish(self) -> anyhow::Result<()> {
        if std::fs::symlink_metadata(&self.done).is_ok() {
            bail!(
                "{} appeared during the export; the export is complete in {}",
                self.done.display(),
                self.partial.display()
            );
        }
        std::fs::rename(&self.partial, &self.done)
            .with_context(|| format!("renaming {} into place", self.partial.display()))?;
        sync_dir(&self.to)
    }

    /// Removes the temporary folder of an export that did not complete.
    pub fn abandon(self) {
        if let Err(e) = std::fs::remove_dir_all(&self.partial) {
            eprintln!("evidock: could not remove {}: {e}", self.partial.display());
        }
    }
}

/// Grants `uid` access to what is written under `root` (by ACL, [`fsio::grant_user`]) when this
/// process runs as another user (the service writing an export for its caller): each folder as
/// it is made, and everything on drop.
struct Grant<'a> {
    root: &'a Path,
    uid: u32,
    skip_root: bool,
}

impl Grant<'_> {
    fn needed(&self) -> bool {
        self.uid != nix::unistd::geteuid().as_raw()
    }

    /// Grants `dir` and the folders above it, up to the export's own, as soon as they are made:
    /// should this process die mid-export, the caller can still remove what it left.
    fn folders(&self, dir: &Path) {
        if !self.needed() {
            return;
        }
        for d in dir.ancestors().take_while(|d| d.starts_with(self.root)) {
            if self.skip_root && d == self.root {
                break;
            }
            if let Err(e) = fsio::grant_user(d, self.uid) {
                tracing::warn!(path = %d.display(), error = %e, "cannot grant the caller access");
            }
        }
    }
}

impl Drop for Grant<'_> {
    fn drop(&mut self) {
        if !self.needed() {
            return;
        }
        let mut paths = Vec::new();
        for dir in walk_dirs(self.root) {
            if let Ok(rd) = std::fs::read_dir(&dir) {
                paths.extend(rd.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_file())).map(|e| e.path()));
            }
            if !(self.skip_root && dir == self.root) {
                paths.push(dir);
            }
        }
        for p in paths {
            match fsio::grant_user(&p, self.uid) {
                Ok(_) => {}
                Err(e) => tracing::warn!(path = %p.display(), error = %e, "cannot grant the caller access"),
            }
        }
    }
}

fn walk_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(rd) = std::fs::read_dir(&out[i]) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    out.push(e.path());
                }
            }
        }
        i += 1;
    }
    out.reverse();
    out
}
