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

use super::records::{self, Edited};
use super::{ApiError, Ctx, Files};
use crate::custody::checkpoint::NoteVerifier;
use crate::custody::event::Action;
use crate::custody::files::{self, KeyPaths};
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
    let fd_path = |fd: &std::os::fd::OwnedFd| std::path::PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
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
