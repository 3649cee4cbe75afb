//! `log_verify`, `log_checkpoint`: the custody log checked against its hash chain, its Merkle
//! tree and every signed checkpoint (stored, in the side file, and any the caller sends), with
//! the station's readable tables and scanned statements held against it (R11); and a signed
//! checkpoint made now (INV-12). The verdict is answered as the text people read (English,
//! then Chinese) and as its JSON document (`docs/CUSTODY-LOG.md`).
//!
//! The same audit checks an exported copy offline (`log verify --db`, without the station):
//! [`audit`] and [`render`] serve both.

use std::os::fd::AsRawFd as _;
use std::path::Path;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::records::{self, Edited};
use super::{ApiError, Ctx, Files};
use crate::custody::checkpoint::{Checkpoint, NoteVerifier};
use crate::custody::event::encode;
use crate::custody::event::Action;
use crate::custody::files::{self, KeyPaths};
use crate::custody::merkle::{self, Hash};
use crate::custody::store::{self, AuditReport};
use crate::custody::verdict;
use crate::custody::CustodyError;

/// `log_verify`: the caller's checkpoint files come as the request's files; `key`, when given,
/// names the one of them that is the verifier key to check with instead of the station's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyArgs {
    /// The file (as sent) that is the verifier key, `<name>+<key id>+<key>`.
    #[serde(default)]
    pub key: Option<String>,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Whether the chain is sound, every checkpoint matches, and no readable table or scan
    /// differs from the log.
    pub intact: bool,
    /// The verdict as people read it, English then Chinese.
    pub text: String,
    /// The verdict as its JSON document (`log verify --json`).
    pub document: serde_json::Value,
}

/// A checkpoint made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Made {
    /// Its row.
    pub id: u64,
    /// When, UTC.
    pub made_utc: String,
    /// The events it covers.
    pub tree_size: u64,
    /// The tree's root, hexadecimal.
    pub root: String,
    /// The signed note, as appended to the side file.
    pub note: String,
    /// The verifier key that checks it.
    pub verifier_key: String,
}

/// `log_checkpoint`'s answer: the checkpoint, or why the station refuses to sign (the log no
/// longer verifies or no longer extends a checkpoint it signed: tampering, never signed over).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpointed {
    /// The checkpoint made.
    pub made: Option<Made>,
    /// Why none was made.
    pub unsound: Option<String>,
}

/// The audit of a custody log: its chain, tree and every checkpoint (the stored ones and
/// `external`, each `(where it came from, note)`), checked with `verifier`; and, for the
/// station's own log (`station`), its readable tables and, given the archive, the scanned
/// statements in it.
///
/// # Errors
/// When the log cannot be read, or there are checkpoints but no verifier key to check them
/// with (`key_hint` names the key expected).
pub fn audit(
    conn: &Connection,
    verifier: Option<&NoteVerifier>,
    key_hint: &str,
    external: &[(String, String)],
    station: Option<Option<&Path>>,
) -> anyhow::Result<(AuditReport, Vec<Edited>)> {
    let stored = store::checkpoints(conn)?.len();
    let report = match verifier {
        Some(v) => store::audit(conn, v, external)?,
        None if stored + external.len() > 0 => anyhow::bail!(
            "cannot check {} checkpoints without the station's verifier key: {key_hint} is missing; pass --key FILE",
            stored + external.len(),
        ),
        None => store::audit_unsigned(conn)?,
    };
    let mut edited = Vec::new();
    if let Some(archive) = station {
        // The station's own readable tables against the log (R11).
        edited = records::check(conn)?;
        if let Some(root) = archive {
            // Scanned gap statements in the archive against the hashes the log recorded.
            edited.extend(records::scans(conn, root)?);
        }
    }
    Ok((report, edited))
}

/// Whether the audit found nothing.
pub fn intact(report: &AuditReport, edited: &[Edited]) -> bool {
    report.intact() && edited.is_empty()
}

/// The verdict as text (English, then Chinese) or as its JSON document, one line.
pub fn render(report: &AuditReport, edited: &[Edited], json: bool) -> String {
    if json {
        let mut v: serde_json::Value = serde_json::from_str(&verdict::audit_json(report)).unwrap_or_default();
        v["catalogue_edited"] = serde_json::json!(edited
            .iter()
            .map(|e| serde_json::json!({ "table": e.table, "row": e.row, "text": e.en, "text_zh": e.zh }))
            .collect::<Vec<_>>());
        v.to_string() + "\n"
    } else {
        let mut t = verdict::audit_text(report);
        for e in edited {
            t.push_str(&format!("EDITED 被改动: {} / {}\n", e.en, e.zh));
        }
        t
    }
}

fn failed(e: impl std::fmt::Display) -> ApiError {
    ApiError::failed(format!("{e} / 无法校验保管日志"))
}

/// Checks the station's custody log (`log_verified` with the verdict, when asked of the
/// service).
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for a `key` that is not among the files sent;
/// [`super::ErrorKind::Failed`] when the log or a file cannot be read. A log that does not
/// verify is a verdict, not an error.
pub fn verify(ctx: &Ctx<'_>, a: &VerifyArgs, files: Files) -> Result<Verification, ApiError> {
    let config = ctx.config;
    let paths = KeyPaths::in_dir(&config.paths.state_dir);
    let mut external = Vec::new();
    if paths.checkpoints.exists() {
        let label = paths.checkpoints.display().to_string();
        external.extend(files::read_notes(&paths.checkpoints).map_err(failed)?.into_iter().map(|n| (label.clone(), n)));
    }
    let mut key = None;
    for (name, fd) in &files {
        if a.key.as_deref() == Some(name.as_str()) {
            key = Some(files::load_verifier(&fd_path(fd)).map_err(failed)?);
            continue;
        }
        external.extend(files::read_notes(&fd_path(fd)).map_err(failed)?.into_iter().map(|n| (name.clone(), n)));
    }
    if let (Some(k), None) = (&a.key, &key) {
        return Err(ApiError::invalid(format!("key {k:?} is not among the files sent / 未收到所指的验证公钥文件")));
    }
    if key.is_none() && paths.verifier.exists() {
        key = Some(files::load_verifier(&paths.verifier).map_err(failed)?);
    }
    let conn = store::open_read_only(&config.catalog_path()).map_err(failed)?;
    let hint = paths.verifier.display().to_string();
    let (report, edited) =
        audit(&conn, key.as_ref(), &hint, &external, Some(Some(&config.paths.archive_root))).map_err(failed)?;
    drop(conn);
    let intact = intact(&report, &edited);
    // A verification of the station's own log, asked of the service, is itself an event.
    if ctx.caller.via.in_daemon() {
        ctx.catalog()?.event(Action::LogVerified, "log", serde_json::json!({ "intact": intact }))?;
    }
    Ok(Verification {
        intact,
        text: render(&report, &edited, false),
        document: serde_json::from_str(&render(&report, &edited, true)).unwrap_or_default(),
    })
}

/// Makes a signed checkpoint of the whole log in `db` now (stored, appended to the side file
/// of `paths`, signed with its key, made under `key_name` when there is none yet), or says why
/// the station will not sign.
///
/// # Errors
/// When the key or the log cannot be read or written.
pub fn checkpoint_at(db: &Path, paths: &KeyPaths, key_name: &str) -> Result<Checkpointed, CustodyError> {
    let conn = store::open_read_write(db)?;
    let signer = files::load_or_create_signer(paths, key_name)?;
    match store::checkpoint(&conn, &signer, Some(&paths.checkpoints), chrono::Utc::now()) {
        Ok(made) => Ok(Checkpointed {
            made: Some(Made {
                id: made.id,
                made_utc: made.made_utc.clone(),
                tree_size: made.tree_size,
                root: verdict::hex(&made.root),
                note: made.note.clone(),
                verifier_key: signer.verifier().encode(),
            }),
            unsound: None,
        }),
        Err(e @ (CustodyError::Unsound { .. } | CustodyError::Contradiction(_))) => {
            Ok(Checkpointed { made: None, unsound: Some(e.to_string()) })
        }
        Err(e) => Err(e),
    }
}

/// `log_checkpoint`.
///
/// # Errors
/// [`super::ErrorKind::Failed`] when the key or the log cannot be read or written.
pub fn checkpoint(ctx: &Ctx<'_>, _a: &super::NoArgs) -> Result<Checkpointed, ApiError> {
    let config = ctx.config;
    let paths = KeyPaths::in_dir(&config.paths.state_dir);
    checkpoint_at(&config.catalog_path(), &paths, &crate::custody::checkpoint::key_name(&config.station_name))
        .map_err(failed)
}

impl Checkpointed {
    /// As people read it (`json`: the checkpoint as one JSON object), and whether one was made;
    /// when none was, why is the text.
    pub fn render(&self, json: bool) -> (String, bool) {
        match (&self.made, &self.unsound) {
            (Some(m), _) if json => (serde_json::to_string(m).unwrap_or_default() + "\n", true),
            (Some(m), _) => (
                format!(
                    "checkpoint #{} made: {} events, root {}\n检查点 #{} 已生成：覆盖 {} 条事件\n\n{}",
                    m.id, m.tree_size, m.root, m.id, m.tree_size, m.note
                ),
                true,
            ),
            (None, why) => (why.clone().unwrap_or_default(), false),
        }
    }
}

/// An inclusion or consistency proof, or what was found instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProofDoc {
    /// Whether the proof holds (`false` also for a `finding`).
    pub holds: bool,
    /// The proof as people read it, English then Chinese (absent with a `finding`).
    pub text: Option<String>,
    /// Its JSON document (`log prove --json`, `log consistency --json`).
    pub document: Option<serde_json::Value>,
    /// What was found instead of a proof: a forged checkpoint, a truncated or rewritten log.
    pub finding: Option<String>,
}

impl ProofDoc {
    fn found(msg: String) -> ProofDoc {
        ProofDoc { holds: false, text: None, document: None, finding: Some(msg) }
    }
}

/// `log_prove`: an event, and the checkpoint to prove it against (the name of a file sent;
/// else the latest stored one); `key` names the file sent that is the verifier key (else the
/// station's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProveArgs {
    /// The event's sequence number.
    pub seq: u64,
    /// The checkpoint file (as sent); its last checkpoint.
    #[serde(default)]
    pub checkpoint: Option<String>,
    /// The verifier key file (as sent).
    #[serde(default)]
    pub key: Option<String>,
}

/// `log_consistency`: the older and the newer tree, each a size or the name of a checkpoint
/// file sent; `key` as for `log_prove`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyArgs {
    /// The older tree.
    pub old: String,
    /// The newer tree.
    pub new: String,
    /// The verifier key file (as sent).
    #[serde(default)]
    pub key: Option<String>,
}

/// A tree named by a caller: a size, or a verified checkpoint with its note and where it came
/// from.
pub struct TreeArg {
    size: u64,
    checkpoint: Option<(crate::custody::checkpoint::Checkpoint, String, String)>,
}

/// The last checkpoint in a file.
///
/// # Errors
/// When it cannot be read or holds none.
pub fn last_note(path: &Path, label: &str) -> anyhow::Result<String> {
    use anyhow::Context as _;
    files::read_notes(path)?.pop().with_context(|| format!("{label} holds no checkpoint"))
}

/// Reads `arg` as a tree size, or else as the checkpoint file at `path` (shown as `arg`). The
/// inner `Err` is a finding (a forged checkpoint); the outer one means it cannot be read.
///
/// # Errors
/// When the file cannot be read, or there is no key to check it with.
pub fn tree_arg(arg: &str, path: &Path, v: Option<&NoteVerifier>) -> anyhow::Result<Result<TreeArg, String>> {
    if let Ok(size) = arg.parse::<u64>() {
        return Ok(Ok(TreeArg { size, checkpoint: None }));
    }
    let note = last_note(path, arg)?;
    let Some(v) = v else {
        anyhow::bail!("no verifier key to check {arg} with: pass --key FILE");
    };
    Ok(match crate::custody::checkpoint::Checkpoint::open(&note, v) {
        Ok(cp) => Ok(TreeArg { size: cp.size, checkpoint: Some((cp, note, arg.to_string())) }),
        Err(e) => Err(format!("{arg}: forged or altered checkpoint: {e}")),
    })
}

/// The inclusion proof of event `seq` in the log as `cp` (the checkpoint `note`) signed it,
/// checked with `v`.
///
/// # Errors
/// For an event the checkpoint does not cover, or a log that cannot be read.
pub fn prove(conn: &Connection, seq: u64, cp: &Checkpoint, note: &str, v: &NoteVerifier) -> anyhow::Result<ProofDoc> {
    if seq == 0 || seq > cp.size {
        anyhow::bail!("event {seq} is not covered by the checkpoint, which covers events 1..={}", cp.size);
    }
    let index = seq - 1;
    let ranges = merkle::inclusion_ranges(index, cp.size)?;
    let scan = store::scan_tree(conn, cp.size, &ranges, Some(index))?;
    let (Some(proof), Some(ev)) = (scan.nodes, scan.captured) else {
        return Ok(ProofDoc::found(format!(
            "the checkpoint covers {} events but the log holds {}: the log was truncated; run `evidock log verify`",
            cp.size, scan.events
        )));
    };
    if ev.seq != seq {
        return Ok(ProofDoc::found(format!(
            "the row where event {seq} belongs carries seq {}: the log is not sound; run `evidock log verify`",
            ev.seq
        )));
    }
    let encoding = encode(&ev);
    let leaf = merkle::leaf_hash(&encoding);
    if let Err(e) = merkle::verify_inclusion(index, cp.size, &leaf, &proof, &cp.root) {
        return Ok(ProofDoc::found(format!(
            "the log's first {} events do not match the checkpoint ({e}): the log was rewritten; run `evidock log verify`",
            cp.size
        )));
    }
    let proof_hex: Vec<String> = proof.iter().map(|h| verdict::hex(h)).collect();
    let document = json!({
        "seq": seq,
        "leaf_index": index,
        "event": serde_json::from_str::<Value>(&verdict::event_json(&ev)).unwrap_or(Value::Null),
        "encoding": verdict::hex(&encoding),
        "leaf_hash": verdict::hex(&leaf),
        "tree_size": cp.size,
        "root": verdict::hex(&cp.root),
        "proof": proof_hex,
        "checkpoint": note,
        "verifier_key": v.encode(),
        "verified": true,
    });
    let text = {
        let mut t = format!(
            "inclusion proof: event {seq} is in the custody log as signed at {size} events\n\
             包含证明：第 {seq} 条事件包含在已签名的保管日志（共 {size} 条事件）中\n\
             event:       {}\n\
             encoding:    {}\n\
             leaf index:  {index}\n\
             leaf hash:   {}  SHA-256(00 ‖ encoding)\n\
             tree size:   {size}\n\
             root:        {}\n\
             proof:       {} hashes, nearest the leaf first (RFC 9162 §2.1.3)\n",
            verdict::event_json(&ev),
            verdict::hex(&encoding),
            verdict::hex(&leaf),
            verdict::hex(&cp.root),
            proof.len(),
            size = cp.size,
        );
        for p in &proof_hex {
            t.push_str(&format!("  {p}\n"));
        }
        t.push_str(&format!("checkpoint:\n{note}verifier key: {}\nverified:    yes / 已验证\n", v.encode()));
        t
    };
    Ok(ProofDoc { holds: true, text: Some(text), document: Some(document), finding: None })
}

/// The consistency proof that the log at `new` extends the log at `old`.
///
/// # Errors
/// For an old tree larger than the new one, or a log that cannot be read or is shorter than a
/// size given.
pub fn consistency(conn: &Connection, old: TreeArg, new: TreeArg) -> anyhow::Result<ProofDoc> {
    if old.size > new.size {
        anyhow::bail!("the old tree ({} events) is larger than the new one ({} events)", old.size, new.size);
    }
    let scan = store::scan_tree(conn, new.size, &merkle::consistency_ranges(old.size, new.size)?, None)?;
    let Some(proof) = scan.nodes else {
        let msg = format!("the log holds {} events, fewer than {}", scan.events, new.size);
        if new.checkpoint.is_some() {
            return Ok(ProofDoc::found(format!(
                "{msg} of the checkpoint: the log was truncated; run `evidock log verify`"
            )));
        }
        anyhow::bail!("{msg}");
    };
    let root_of = |t: &TreeArg, computed: Option<Hash>| -> anyhow::Result<(Hash, String)> {
        Ok(match (&t.checkpoint, computed) {
            (Some((cp, _, file)), _) => (cp.root, format!("checkpoint {file}")),
            (None, Some(r)) => (r, "the log".to_string()),
            (None, None) => (store::scan_tree(conn, t.size, &[], None)?.root, "the log".to_string()),
        })
    };
    let (old_root, old_from) = root_of(&old, (old.size == new.size).then_some(scan.root))?;
    let (new_root, new_from) = root_of(&new, Some(scan.root))?;
    let holds = merkle::verify_consistency(old.size, new.size, &old_root, &new_root, &proof);
    let proof_hex: Vec<String> = proof.iter().map(|h| verdict::hex(h)).collect();
    let side = |t: &TreeArg, root: &Hash, from: &str| json!({"size": t.size, "root": verdict::hex(root), "from": from, "checkpoint": t.checkpoint.as_ref().map(|c| &c.1)});
    let document = json!({
        "old": side(&old, &old_root, &old_from),
        "new": side(&new, &new_root, &new_from),
        "proof": proof_hex,
        "verified": holds.is_ok(),
        "reason": holds.as_ref().err().map(ToString::to_string),
    });
    let text = {
        let mut t = match &holds {
            Ok(()) => format!(
                "consistency proof: the log at {n} events extends the log at {o} events\n\
                 一致性证明：{n} 条事件的日志是 {o} 条事件日志的延续\n",
                o = old.size,
                n = new.size
            ),
            Err(e) => format!(
                "NOT consistent: the log at {n} events does not extend the log at {o} events: {e}\n\
                 不一致：{n} 条事件的日志不是 {o} 条事件日志的延续（日志被截断或重写）\n",
                o = old.size,
                n = new.size
            ),
        };
        t.push_str(&format!("old:   {} events, root {} ({old_from})\n", old.size, verdict::hex(&old_root)));
        t.push_str(&format!("new:   {} events, root {} ({new_from})\n", new.size, verdict::hex(&new_root)));
        t.push_str(&format!("proof: {} hashes (RFC 9162 §2.1.4)\n", proof.len()));
        for p in &proof_hex {
            t.push_str(&format!("  {p}\n"));
        }
        t
    };
    Ok(ProofDoc { holds: holds.is_ok(), text: Some(text), document: Some(document), finding: None })
}

/// The inclusion proof of event `seq` against the last checkpoint in `file` (`(label, path)`),
/// or else the latest stored one, checked with `v`.
///
/// # Errors
/// When there is no checkpoint to prove against, or the log cannot be read.
pub fn prove_against(
    conn: &Connection,
    seq: u64,
    file: Option<(&str, &Path)>,
    v: &NoteVerifier,
) -> anyhow::Result<ProofDoc> {
    let (note, label) = match file {
        Some((label, path)) => (last_note(path, label)?, label.to_string()),
        None => match store::checkpoints(conn)?.pop() {
            Some(c) => (c.note, format!("stored checkpoint #{}", c.id)),
            None => {
                anyhow::bail!("no checkpoint to prove against: run `evidock log checkpoint` or pass --checkpoint FILE")
            }
        },
    };
    match Checkpoint::open(&note, v) {
        Ok(cp) => prove(conn, seq, &cp, &note, v),
        Err(e) => Ok(ProofDoc::found(format!("{label}: forged or altered checkpoint: {e}"))),
    }
}

/// The path this process reads a descriptor the caller sent by.
fn fd_path(fd: &std::os::fd::OwnedFd) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The descriptor path of the file sent as `name`.
pub(super) fn sent(files: &Files, name: &str) -> Option<std::path::PathBuf> {
    files.iter().find(|(n, _)| n == name).map(|(_, fd)| fd_path(fd))
}

/// The verifier key: the file sent as `key`, else the station's.
fn key_of(config: &crate::config::Config, key: Option<&str>, files: &Files) -> Result<NoteVerifier, ApiError> {
    let path = match key {
        Some(k) => sent(files, k).ok_or_else(|| {
            ApiError::invalid(format!("key {k:?} is not among the files sent / 未收到所指的验证公钥文件"))
        })?,
        None => KeyPaths::in_dir(&config.paths.state_dir).verifier,
    };
    files::load_verifier(&path).map_err(|e| ApiError::invalid(format!("{e}; send the verifier key / 无法读取验证公钥")))
}

fn asked(e: anyhow::Error) -> ApiError {
    ApiError::invalid(format!("{e:#} / 无法给出证明"))
}

/// `log_prove`: the inclusion proof of an event in the station's log as a checkpoint signed it.
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for a file named but not sent, no verifier key, no checkpoint,
/// or an event the checkpoint does not cover. A forged checkpoint or a rewritten log is a
/// finding in the answer, not an error.
pub fn log_prove(ctx: &Ctx<'_>, a: &ProveArgs, files: Files) -> Result<ProofDoc, ApiError> {
    let v = key_of(ctx.config, a.key.as_deref(), &files)?;
    let checkpoint = match &a.checkpoint {
        Some(name) => Some((
            name.as_str(),
            sent(&files, name).ok_or_else(|| {
                ApiError::invalid(format!("checkpoint {name:?} is not among the files sent / 未收到所指的检查点文件"))
            })?,
        )),
        None => None,
    };
    let conn = store::open_read_only(&ctx.config.catalog_path()).map_err(failed)?;
    prove_against(&conn, a.seq, checkpoint.as_ref().map(|(l, p)| (*l, p.as_path())), &v).map_err(asked)
}

/// `log_consistency`: the proof that the station's log at the newer tree extends it at the
/// older one.
///
/// # Errors
/// As [`log_prove`]; also for an old tree larger than the new one.
pub fn log_consistency(ctx: &Ctx<'_>, a: &ConsistencyArgs, files: Files) -> Result<ProofDoc, ApiError> {
    let needs_key = a.old.parse::<u64>().is_err() || a.new.parse::<u64>().is_err();
    let v = if needs_key { Some(key_of(ctx.config, a.key.as_deref(), &files)?) } else { None };
    let tree = |arg: &str| -> Result<Result<TreeArg, String>, ApiError> {
        let path = match arg.parse::<u64>() {
            Ok(_) => std::path::PathBuf::new(),
            Err(_) => sent(&files, arg).ok_or_else(|| {
                ApiError::invalid(format!(
                    "{arg:?} is neither a tree size nor a file sent / 既非事件数也非所发检查点文件"
                ))
            })?,
        };
        tree_arg(arg, &path, v.as_ref()).map_err(asked)
    };
    let (old, new) = (tree(&a.old)?, tree(&a.new)?);
    let conn = store::open_read_only(&ctx.config.catalog_path()).map_err(failed)?;
    match (old, new) {
        (Ok(o), Ok(n)) => consistency(&conn, o, n).map_err(asked),
        (Err(msg), _) | (_, Err(msg)) => Ok(ProofDoc::found(msg)),
    }
}

/// What `log verify-extract` found in an export's or a disc's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtractVerdict {
    /// Events proven included in the checkpoint.
    pub proven: u64,
    /// Events withheld (their hash only).
    pub withheld: u64,
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// The checkpoint's root, hex.
    pub root: String,
    /// The verifier key's label.
    pub key: String,
    /// Whether the key came from the folder itself (to be compared with the published one).
    pub key_from_folder: bool,
    /// The extract's problems: (line, event seq if known, why).
    pub problems: Vec<(usize, Option<u64>, String)>,
    /// Footage files checked against the proven events.
    pub files_checked: usize,
    /// The files that do not match: (path, why, bilingual).
    pub file_problems: Vec<(String, String)>,
}

impl ExtractVerdict {
    /// Whether the extract and every file hold.
    pub fn intact(&self) -> bool {
        self.problems.is_empty() && self.file_problems.is_empty()
    }
}

/// Checks an export's or a disc's folder offline, without the station: the custody extract
/// (`custody/custody-extract.jsonl`) against its signed checkpoint (`custody/checkpoint.txt`)
/// with the verifier key given (else the folder's own `custody-signing.pub`), then each file
/// under `data/` against the hashes the proven events recorded at its copy (a file no proven
/// event records is a problem too: the extract does not vouch for it). `Ok(Err(finding))`
/// when the checkpoint does not open with the key (forged or altered).
///
/// # Errors
/// When a file of the folder or the key cannot be read, or the key cannot be parsed.
pub fn extract_folder(dir: &Path, key: Option<&Path>) -> anyhow::Result<Result<ExtractVerdict, String>> {
    use anyhow::Context as _;
    let custody = if dir.join("custody").is_dir() { dir.join("custody") } else { dir.to_path_buf() };
    let read = |name: &str| {
        std::fs::read_to_string(custody.join(name)).with_context(|| format!("reading {}", custody.join(name).display()))
    };
    let key_text = match key {
        Some(k) => std::fs::read_to_string(k).with_context(|| format!("reading {}", k.display()))?,
        None => read("custody-signing.pub")?,
    };
    let v = NoteVerifier::parse(key_text.trim()).map_err(|e| anyhow::anyhow!("verifier key: {e}"))?;
    let note = read("checkpoint.txt")?;
    let cp = match Checkpoint::open(&note, &v) {
        Ok(cp) => cp,
        Err(e) => {
            return Ok(Err(format!("checkpoint.txt does not open with key {}: forged or altered: {e}", v.label())))
        }
    };
    let report = crate::custody::extract::verify(&read("custody-extract.jsonl")?, &cp);
    // The folder's footage against the proven events: each file's bytes must be those the
    // custody log recorded when it was copied (an export or a disc holds `data/`).
    let files = if custody != dir && dir.join("data").is_dir() {
        let mut ledger = crate::ledger::Ledger::new();
        for ev in &report.events {
            ledger.push(ev);
        }
        extract_files(&dir.join("data"), &ledger)?
    } else {
        Vec::new()
    };
    Ok(Ok(ExtractVerdict {
        proven: report.proven,
        withheld: report.withheld,
        tree_size: cp.size,
        root: verdict::hex(&cp.root),
        key: v.label().to_string(),
        key_from_folder: key.is_none(),
        problems: report.problems.clone(),
        files_checked: files.len(),
        file_problems: files.into_iter().filter_map(|(path, p)| p.map(|p| (path, p))).collect(),
    }))
}

/// Every file under `data` (the archive's layout), with what contradicts the custody events
/// `ledger` was folded from (`None`: it matches them).
fn extract_files(data: &Path, ledger: &crate::ledger::Ledger) -> anyhow::Result<Vec<(String, Option<String>)>> {
    use anyhow::Context as _;
    let mut out = Vec::new();
    let mut stack = vec![data.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let e = e.with_context(|| format!("reading {}", d.display()))?;
            let ty = e.file_type().with_context(|| format!("reading {}", e.path().display()))?;
            if ty.is_dir() {
                stack.push(e.path());
                continue;
            }
            let path = e.path();
            let rel = path.strip_prefix(data).unwrap_or(&path).to_string_lossy().into_owned();
            let shown = format!("data/{rel}");
            if !ty.is_file() {
                out.push((shown.clone(), Some(format!("{shown}: not a regular file / 不是普通文件"))));
                continue;
            }
            let h = crate::burn::bag::hash_file(&path, &mut |_| {})
                .with_context(|| format!("reading {}", path.display()))?;
            let v = crate::ledger::fixity(ledger.file_at(&rel), None, Some((&h.blake3, h.size)));
            let problem = match v {
                crate::ledger::Fixity::Intact => None,
                crate::ledger::Fixity::Unknown => Some(format!(
                    "{shown}: no event of the custody extract records this file: the extract does not vouch for it / 保管日志摘录中没有此文件的记录"
                )),
                v => Some(format!("{} / {}", v.text(&shown), v.text_zh(&shown))),
            };
            out.push((shown, problem));
        }
    }
    out.sort();
    Ok(out)
}
