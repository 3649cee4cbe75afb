//! `export`: footage leaves the station on a removable drive under an approved access request
//! of kind copy or export (R9), with everything needed to check it offline: each file with its
//! SHA-256 and BLAKE3 (two manifests), who asked, approved and copied (`export.json`), and the
//! custody log's events about it with their inclusion proofs under a fresh signed checkpoint
//! (`custody/`).
//!
//! The station writes only into a folder the caller made for the export and sent as an open
//! descriptor (the evidock program makes `<to>/.evidock-export-N.partial/` and renames it to
//! `evidock-export-N` once this answers): it must be a folder, the caller's own, and empty.
//! So the service never writes where its caller could not, and a folder named
//! `evidock-export-N` is always whole. Every file is held against the custody log before a
//! byte leaves (INV-16) and again as it is copied; the approval is used up only once every
//! file has been copied and read back.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::access::{expire_lapsed, recordings_of, refused, still_holds, trusted_ledger};
use super::{ApiError, Ctx, Files};
use crate::access::{Kind, Scope, State};
use crate::archive::fsio;
use crate::catalog::{Catalog, RecordingRow};
use crate::config::Config;
use crate::custody::extract::Entry;
use crate::custody::{files, merkle, store};

/// `export`: the approved request, and the name of the folder sent (the export's own empty
/// folder, made by the caller).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportArgs {
    /// The approved access request (kind copy or export).
    pub request: i64,
    /// The name under which the export's folder was sent.
    pub folder: String,
}

/// What was exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exported {
    /// The request, now used.
    pub request: i64,
    /// The name the caller gives the folder once complete (`evidock-export-N`).
    pub folder: String,
    /// Files copied.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Custody events in the extract.
    pub events: usize,
    /// Of them, withheld (they name an informant and the export goes to a party).
    pub withheld: usize,
    /// The `access_used` event.
    pub custody_event: u64,
    /// The signed checkpoint's tree size the extract is proven against.
    pub checkpoint_size: u64,
}

/// The name of the folder an export is delivered as.
pub fn export_folder(request: i64) -> String {
    format!("evidock-export-{request}")
}

/// The name an export is written under until it is complete.
pub fn partial_folder(request: i64) -> String {
    format!(".{}.partial", export_folder(request))
}

/// An export's folder on the caller's side (the command line's `export`, the web page's): the
/// front end makes it and names it complete once the station answers, so a folder named
/// `evidock-export-N` is always whole. Through the service, whose user may not write into the
/// caller's folder, the caller makes it, lets the service's user write into it (an ACL naming
/// that user), and the service grants back what it writes there.
pub struct PreparedExport {
    to: PathBuf,
    partial: PathBuf,
    done: PathBuf,
}

impl PreparedExport {
    /// Makes `<to>/.evidock-export-N.partial/`, writable for the service running as the user
    /// `service` (`None`: this process exports itself).
    ///
    /// # Errors
    /// When the export's folder exists already, or the folder cannot be made or opened to the
    /// service.
    pub fn make(to: &Path, request: i64, service: Option<u32>) -> anyhow::Result<PreparedExport> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
        let done = to.join(export_folder(request));
        if std::fs::symlink_metadata(&done).is_ok() {
            anyhow::bail!("{} exists already: an approval is used once; choose another folder", done.display());
        }
        let partial = to.join(partial_folder(request));
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
        let prepared = PreparedExport { to: to.to_path_buf(), partial, done };
        if let Some(service) = service.filter(|s| *s != 0 && *s != nix::unistd::geteuid().as_raw()) {
            // On FAT and exFAT, which keep no ACLs, the mount options decide alone.
            if let Err(e) = fsio::grant_user(&prepared.partial, service) {
                prepared.abandon();
                anyhow::bail!("cannot let the service write into {}: {e}", to.display());
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
            anyhow::bail!(
                "{} appeared during the export; the export is complete in {}",
                self.done.display(),
                self.partial.display()
            );
        }
        std::fs::rename(&self.partial, &self.done)
            .with_context(|| format!("renaming {} into place", self.partial.display()))?;
        fsio::fsync_dir(&self.to).with_context(|| format!("syncing folder {}", self.to.display()))
    }

    /// Removes the temporary folder of an export that did not complete.
    pub fn abandon(self) {
        if let Err(e) = std::fs::remove_dir_all(&self.partial) {
            tracing::warn!(path = %self.partial.display(), error = %e, "could not remove an unfinished export");
        }
    }
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

fn failed(e: impl std::fmt::Display) -> ApiError {
    ApiError::failed(format!("{e:#} / 导出失败"))
}

fn failed_any(e: anyhow::Error) -> ApiError {
    failed(format!("{e:#}"))
}

/// The export's folder as sent: a folder of the caller's own, empty.
fn folder_of(ctx: &Ctx<'_>, a: &ExportArgs, files: &Files) -> Result<PathBuf, ApiError> {
    let dir = super::verify::sent(files, &a.folder).ok_or_else(|| {
        ApiError::invalid(format!("the export's folder {:?} was not sent as an open folder / 未收到导出目录", a.folder))
    })?;
    let meta = std::fs::metadata(&dir)
        .map_err(|e| ApiError::invalid(format!("the export's folder: {e} / 无法读取导出目录")))?;
    if !meta.is_dir() {
        return Err(ApiError::invalid(
            "the descriptor sent for the export's folder is not a folder / 所发送的导出目录不是文件夹",
        ));
    }
    let uid = ctx.caller.identity.uid;
    if meta.uid() != uid {
        return Err(ApiError::refused(format!(
            "the folder sent for the export belongs to uid {}, not to the caller (uid {uid}): the station writes an \
             export only into a folder the caller made for it / 导出目录必须由请求者本人创建",
            meta.uid()
        )));
    }
    let listed = std::fs::read_dir(&dir).map_err(|e| no_access(e, &a.folder, ctx.caller.via.in_daemon()))?;
    if listed.into_iter().next().is_some() {
        return Err(ApiError::invalid(
            "the folder sent for the export is not empty: the evidock program makes an empty one for each export \
             / 导出目录须为空",
        ));
    }
    Ok(dir)
}

/// `export`: copies the approved footage with its hashes, the custody extract and a fresh
/// checkpoint into the folder sent, and uses up the approval.
///
/// # Errors
/// [`super::ErrorKind::Refused`] without a live approval of kind copy or export (or one the
/// marks or tiers no longer allow), or for a folder not the caller's; `invalid` for a folder not
/// sent, not a folder or not empty; `failed` when a file contradicts the custody log (the alarm
/// is raised, the approval kept) or the export could not be written.
pub fn export(ctx: &Ctx<'_>, a: &ExportArgs, files: Files) -> Result<Exported, ApiError> {
    let config = ctx.config;
    let tmp = folder_of(ctx, a, &files)?;
    let mut catalog = ctx.catalog()?;
    expire_lapsed(&mut catalog, config)?;
    let copier = ctx.actor.user.clone();
    let mut req = catalog.access(a.request)?;
    let use_ = if req.kind == Kind::Export { Kind::Export } else { Kind::Copy };
    let now = Utc::now();
    req.usable(use_, now).map_err(|e| refused(&e))?;
    let State::Approved { by: approver, at: approved_at, .. } = req.state.clone() else {
        return Err(ApiError::refused(format!("request {} is not approved / 申请未获批准", req.id)));
    };
    let recs = recordings_of(&catalog, &req.scope)?;
    still_holds(&mut catalog, config, &mut req, &recs, use_)?;
    // Every file is held against the custody log before a byte leaves (INV-16): the catalogue
    // must name the file and hash the log recorded when it was copied.
    let ledger = trusted_ledger(&mut catalog, config, "export")?;
    for f in recs.iter().flat_map(|r| r.recording.files.iter()) {
        let v = crate::ledger::catalogue_check(ledger.file_at(&f.path), &f.blake3, f.size);
        if !v.is_intact() {
            return Err(fixity_refused(&mut catalog, &f.path, &v));
        }
    }
    crate::central::offload::refuse_evicted(
        &catalog,
        recs.iter().flat_map(|r| r.recording.files.iter().map(|f| f.path.as_str())),
    )
    .map_err(ApiError::conflict)?;
    let name = export_folder(req.id);
    // Written by the service for another user: that user may read it all and remove it, and
    // nobody else gains anything, whether the export completes or not.
    let grant = Grant { root: &tmp, uid: ctx.caller.identity.uid };
    std::fs::create_dir(tmp.join("data")).map_err(|e| no_access(e, &a.folder, ctx.caller.via.in_daemon()))?;
    grant.folders(&tmp.join("data"));

    let mut copied = Vec::new();
    let (mut m256, mut mb3) = (String::new(), String::new());
    let mut bytes = 0u64;
    for r in &recs {
        for f in &r.recording.files {
            let rel = Path::new(&f.path);
            if rel.is_absolute() || rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
                return Err(failed(format!("catalogue path {} is not inside the archive", f.path)));
            }
            let to = tmp.join("data").join(rel);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| failed(format!("creating {}: {e}", parent.display())))?;
                grant.folders(parent);
            }
            let source = config.paths.archive_root.join(rel);
            if !source.exists() {
                // A missing file is a fixity failure like a changed one: logged and alarmed (R5).
                let v = crate::ledger::fixity(ledger.file_at(&f.path), Some((&f.blake3, f.size)), None);
                return Err(fixity_refused(&mut catalog, &f.path, &v));
            }
            let (size, b3, sha) = copy_hashed(&source, &to).map_err(failed_any)?;
            crate::failpoint!("export.mid");
            let v = crate::ledger::fixity(ledger.file_at(&f.path), Some((&f.blake3, f.size)), Some((&b3, size)));
            if !v.is_intact() {
                return Err(fixity_refused(&mut catalog, &f.path, &v));
            }
            if blake3_of(&to).map_err(failed_any)? != b3 {
                return Err(failed(format!(
                    "the exported copy of {} does not read back as written; check the target drive / 导出副本回读不一致，请检查目标存储设备",
                    f.path
                )));
            }
            bytes += size;
            m256.push_str(&format!("{sha}  data/{}\n", f.path));
            mb3.push_str(&format!("{b3}  data/{}\n", f.path));
            copied.push(
                json!({ "path": f.path, "size": size, "blake3": b3, "sha256": sha, "recording": r.recording.id }),
            );
        }
    }
    write(&tmp.join("manifest-sha256.txt"), m256.as_bytes())?;
    write(&tmp.join("manifest-blake3.txt"), mb3.as_bytes())?;
    let manifest_sha256 = hex(&Sha256::digest(m256.as_bytes()));

    // The use of the approval, logged with requester, copier, approver, time and reason.
    let party_name = req.party_name.clone();
    req.use_up(use_, &copier, now).map_err(|e| refused(&e))?;
    let used_seq = catalog.update_access(
        &req,
        json!({
            "copier": copier, "approver": approver, "reason": req.reason, "party": req.party.as_str(),
            "party_name": party_name, "files": copied.len(), "bytes": bytes,
            "manifest_sha256": manifest_sha256, "folder": name,
        }),
    )?;

    // A fresh checkpoint covering that event, and the extract against it.
    let wanted = wanted_events(&catalog, config, &req, &recs, &ledger).map_err(failed_any)?;
    let informants = informants_of(catalog.connection(), &recs, &req.scope).map_err(failed_any)?;
    let party = req.withholds_informants();
    let hide = |ev: &crate::custody::event::StoredEvent| {
        // Towards a party, an event that mentions an informant leaves as its hash alone.
        party && informants.iter().any(|n| ev.details.contains(n.as_str()) || ev.subject.contains(n.as_str()))
    };
    let custody = tmp.join("custody");
    std::fs::create_dir(&custody).map_err(|e| failed(format!("creating {}: {e}", custody.display())))?;
    grant.folders(&custody);
    let (size, events, withheld) =
        write_custody_folder(&mut catalog, config, &wanted, &hide, &custody).map_err(failed_any)?;
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
        "files": copied,
    });
    let summary = serde_json::to_string_pretty(&summary).map_err(failed)? + "\n";
    write(&tmp.join("export.json"), summary.as_bytes())?;
    write(&tmp.join("README.txt"), EXPORT_README.as_bytes())?;
    drop(grant);
    // Every file, its access list and every folder reach the disk before the caller names the
    // folder complete.
    let folder = std::fs::File::open(&tmp).map_err(|e| failed(format!("opening the export's folder: {e}")))?;
    nix::unistd::syncfs(std::os::fd::AsRawFd::as_raw_fd(&folder))
        .map_err(|e| failed(format!("writing the export out to its disk: {e}")))?;
    Ok(Exported {
        request: req.id,
        folder: name,
        files: copied.len(),
        bytes,
        events,
        withheld,
        custody_event: used_seq,
        checkpoint_size: size,
    })
}

/// The events an export's extract carries: about its case and recordings, the copies and
/// filings of each file (what `log verify-extract` checks the exported bytes against), and the
/// request's own.
fn wanted_events(
    catalog: &Catalog,
    config: &Config,
    req: &crate::access::AccessRequest,
    recs: &[RecordingRow],
    ledger: &crate::ledger::Ledger,
) -> anyhow::Result<BTreeSet<u64>> {
    let conn = catalog.connection();
    let mut wanted = BTreeSet::new();
    if let Scope::Case(c) = &req.scope {
        wanted.extend(crate::custody::query::event_seqs(conn, Some(c), None, config.timezone)?);
    }
    for r in recs {
        wanted.extend(crate::custody::query::event_seqs(conn, None, Some(&r.recording.id), config.timezone)?);
    }
    for f in recs.iter().flat_map(|r| r.recording.files.iter()) {
        wanted.extend(ledger.file_at(&f.path).map(|l| l.seqs.clone()).unwrap_or_default());
    }
    let subject = crate::catalog::request_subject(req.id);
    let mut st = conn.prepare("SELECT seq FROM custody_log WHERE subject = ?1")?;
    for seq in st.query_map([&subject], |r| r.get::<_, i64>(0))? {
        wanted.insert(u64::try_from(seq?).unwrap_or(0));
    }
    Ok(wanted)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ApiError> {
    std::fs::write(path, bytes).map_err(|e| failed(format!("writing {}: {e}", path.display())))
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

/// Raises the alarm for a file an export found contradicting the custody log, and the error
/// that refuses the export, in both languages.
fn fixity_refused(catalog: &mut Catalog, path: &str, found: &crate::ledger::Fixity) -> ApiError {
    let (en, zh) = match catalog.fixity_alarm(path, found, "export") {
        Ok(t) => t,
        Err(e) => return failed(format!("recording the alarm for {path}: {e}")),
    };
    ApiError::failed(format!(
        "fixity check failed, export refused: {en}; nothing was exported, the alarm is raised (`evidock status`) \
         / 校验失败，拒绝导出：{zh}；未导出任何文件，已发出警报"
    ))
}

/// Writes a custody folder into `dir`: a fresh signed checkpoint (`checkpoint.txt`), the
/// verifier key, and the extract of the events `wanted` (those the checkpoint covers), each with
/// its inclusion proof; events `hide` says are withheld leave as their leaf hash. Returns the
/// checkpoint's size, the events written and how many were withheld. Also the burn job's.
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
        extract.push_str(&entry.line(crate::custody::verdict::event_json));
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

/// The error for the export's folder where the service may not enter or write it, and what the
/// requester can do about it. The caller of a service export names the service's user in the
/// folder's ACL, so a refusal means its file system keeps none (FAT, exFAT).
fn no_access(e: std::io::Error, folder: &str, for_service: bool) -> ApiError {
    if !for_service || e.kind() != std::io::ErrorKind::PermissionDenied {
        return failed(format!("writing into {folder}: {e}"));
    }
    ApiError::failed(
        "the service cannot write into the export's folder: its drive keeps no access lists (FAT, exFAT) \
         and is not mounted writable for the service's user; mount it writable for all users \
         (for example umask=000), or export to a folder on the station's disk and copy that to the drive \
         / 服务无权写入导出文件夹：请以所有用户可写方式挂载该存储设备，或先导出到本机磁盘再复制",
    )
}

/// Grants `uid` access to what is written under `root` (by ACL, [`fsio::grant_user`]) when this
/// process runs as another user (the service writing an export for its caller): each folder as
/// it is made, and everything on drop. The export's own folder is the caller's already.
struct Grant<'a> {
    root: &'a Path,
    uid: u32,
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
        for d in dir.ancestors().take_while(|d| d.starts_with(self.root) && *d != self.root) {
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
            if dir != self.root {
                paths.push(dir);
            }
        }
        for p in paths {
            if let Err(e) = fsio::grant_user(&p, self.uid) {
                tracing::warn!(path = %p.display(), error = %e, "cannot grant the caller access");
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
