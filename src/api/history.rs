//! `case_history`: the chain of custody of every recording in a case, from docking to now,
//! with the log's verification and its latest signed checkpoint (R4, R11, R13). Read-only: the
//! catalogue and the log are read, nothing is written. Rendered by [`crate::report::history`]
//! (text, JSON, printable HTML) in the front ends.

use std::path::Path;

use anyhow::{bail, Context};
use chrono::Utc;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiError, Ctx};
use crate::catalog::CaseKind;
use crate::config::Config;
use crate::custody::event::{Action, Role, StoredEvent};
use crate::custody::files::{self, KeyPaths};
use crate::custody::query::{case_scope, read_events, FileKey, Sql};
use crate::custody::store::{self, CheckpointSource};
use crate::report::history::{
    CaseHistory, CaseInfo, CheckpointInfo, CopyInfo, DescriptionInfo, DockingInfo, EventLine, FileHistory, FilingInfo,
    LogStatus, RetentionMark, VerdictInfo,
};

/// `case_history`: which case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryArgs {
    /// The case number.
    pub number: String,
}

/// The chain of custody of a case.
///
/// # Errors
/// `not_found` for a case that does not exist; `failed` when the catalogue or the log cannot
/// be read.
pub fn case_history(ctx: &Ctx<'_>, args: &HistoryArgs) -> Result<CaseHistory, ApiError> {
    let conn = store::open_read_only(&ctx.config.catalog_path())
        .map_err(|e| ApiError::failed(format!("the catalogue cannot be read: {e} / 无法读取目录数据库")))?;
    let number = args.number.trim();
    let exists: bool = conn
        .query_row("SELECT EXISTS (SELECT 1 FROM cases WHERE number = ?1)", params![number], |r| r.get(0))
        .map_err(|e| ApiError::failed(format!("looking up case {number}: {e} / 查询案件失败")))?;
    if !exists {
        return Err(ApiError::not_found(format!("no case {number}: see `evidock case list` / 没有此案件：{number}")));
    }
    gather(&conn, number, ctx.config).map_err(|e| ApiError::failed(format!("{e:#} / 无法生成证据保管链")))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn actor_text(ev: &StoredEvent) -> String {
    let role =
        Role::parse(&ev.actor_role).map_or(ev.actor_role.clone(), |r| format!("{} {}", r.as_str(), r.label_zh()));
    match &ev.actor_officer {
        None => format!("{} ({role})", ev.actor_user),
        Some(o) => format!("{} ({role}, 警号 {o})", ev.actor_user),
    }
}

fn line(ev: &StoredEvent) -> EventLine {
    EventLine {
        seq: ev.seq,
        ts_utc: ev.ts_utc.clone(),
        ts_local: ev.ts_local.clone(),
        actor: actor_text(ev),
        action: ev.action.clone(),
        action_zh: ev.known_action().map(|a| a.label_zh().to_string()),
        subject: ev.subject.clone(),
        details: ev.details.clone(),
        prev_hash: hex(&ev.prev_hash),
        hash: hex(&ev.hash),
    }
}

type CaseRow = (i64, String, Option<String>, String, String, String, String);

fn gather(conn: &Connection, number: &str, config: &Config) -> anyhow::Result<CaseHistory> {
    let number = number.trim();
    let row: Option<CaseRow> = conn
        .query_row(
            "SELECT id, folder, party, kind, officers, created, created_by FROM cases WHERE number = ?1",
            params![number],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )
        .optional()
        .context("looking up a case")?;
    let Some((case_id, folder, party, kind, officers, created, created_by)) = row else {
        bail!("no case {number}: see `evidock case list`");
    };
    let kind_zh = CaseKind::parse(&kind).map_or("", CaseKind::label_zh).to_string();
    let mut st = conn.prepare("SELECT from_t, to_t FROM case_windows WHERE case_id = ?1 ORDER BY from_t")?;
    let windows = st
        .query_map(params![case_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<(String, String)>, _>>()
        .context("reading on-site windows")?;
    let descriptions = |target: String| -> anyhow::Result<Vec<DescriptionInfo>> {
        Ok(crate::catalog::descriptions::history_of(conn, &target)
            .context("reading descriptions")?
            .into_iter()
            .map(|d| DescriptionInfo {
                subject: d.text.subject,
                content: d.text.content,
                place: d.text.place,
                by: d.written_by,
                officer: d.officer,
                at: d.written_at,
            })
            .collect())
    };
    let mut case = CaseInfo {
        number: number.to_string(),
        folder,
        party,
        officers: serde_json::from_str(&officers).unwrap_or_default(),
        kind,
        kind_zh,
        windows,
        created,
        created_by,
        officers_named: Vec::new(),
        descriptions: descriptions(format!("case:{number}"))?,
    };

    // Every event of the case, in one pass over the log, then shared out by file.
    let (scope, keys) = case_scope(conn, number)?;
    let mut q = Sql::default();
    let clause = scope.sql(&mut q);
    let events = read_events(conn, &format!("FROM custody_log WHERE {clause} ORDER BY seq"), &q.params)?;
    let parsed: Vec<(StoredEvent, Value)> = events
        .into_iter()
        .map(|e| {
            let d = serde_json::from_str(&e.details).unwrap_or(Value::Null);
            (e, d)
        })
        .collect();
    let case_subject = format!("case:{number}");
    let case_events = parsed
        .iter()
        .filter(|(e, _)| e.subject == case_subject && e.action != Action::FootageAssigned.as_str())
        .map(|(e, _)| line(e))
        .collect();

    let mut files = Vec::new();
    let mut made = Vec::new();
    for k in &keys {
        let mine: Vec<&(StoredEvent, Value)> = parsed.iter().filter(|(e, d)| k.touches(e, d)).collect();
        let mut f = file_history(conn, case_id, k, &mine)?;
        for rec in &k.recordings {
            f.descriptions.extend(descriptions(format!("recording:{rec}"))?);
        }
        let start = f
            .verdicts
            .iter()
            .filter_map(|v| v.start.as_deref())
            .min()
            .and_then(|s| crate::recorder::format::parse_wall(0, "start", s).ok());
        if let Some(start) = start {
            let officer = f.docking.as_ref().and_then(|d| d.officer.clone());
            made.push(crate::archive::casefolder::Made { serial: f.serial.clone(), officer, start });
        }
        files.push(f);
    }
    let registry = crate::catalog::registry_history(conn, config.timezone)?;
    let duty = crate::catalog::duty_spans(conn, config.timezone)?;
    case.officers_named = crate::archive::casefolder::name_officers(&case.officers, &made, &registry, &duty)
        .iter()
        .map(crate::archive::casefolder::OfficerRef::text)
        .collect();

    let (log, checkpoint) = verification(conn, &config.paths.state_dir)?;
    let mut h = CaseHistory {
        case,
        files,
        case_events,
        log,
        checkpoint,
        generated: Utc::now().with_timezone(&config.timezone).to_rfc3339(),
    };
    h.in_station_time(config.timezone);
    Ok(h)
}

type FileRow = (String, String, i64, String, String, i64, String, String, bool, Option<String>);

fn file_history(
    conn: &Connection,
    case_id: i64,
    k: &FileKey,
    events: &[&(StoredEvent, Value)],
) -> anyhow::Result<FileHistory> {
    let (serial, source, size, blake3, archive_path, docking_id, stored, read_back, immutable, purged): FileRow = conn
        .query_row(
            "SELECT serial, source, size, blake3, archive_path, docking_id, stored, read_back, immutable, purged
             FROM files WHERE id = ?1",
            params![k.id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            },
        )
        .context("reading an archived file")?;
    let identity = events
        .iter()
        .find(|(e, d)| e.action == Action::IdentityRead.as_str() && d["docking"].as_i64() == Some(docking_id));
    let text = |v: &Value| v.as_str().map(str::to_string);
    let docking = conn
        .query_row(
            "SELECT started, finished, volume, badge, device_clock, dock_clock, drift_s, clock_unreliable, outcome
             FROM dockings WHERE id = ?1",
            params![docking_id],
            |r| {
                Ok(DockingInfo {
                    id: docking_id,
                    started: r.get(0)?,
                    finished: r.get(1)?,
                    volume: r.get(2)?,
                    officer: r.get(3)?,
                    officer_name: identity.and_then(|(_, d)| text(&d["officer_name"])),
                    device_clock: r.get(4)?,
                    dock_clock: r.get(5)?,
                    drift_s: r.get(6)?,
                    clock_unreliable: r.get(7)?,
                    registry: identity.and_then(|(_, d)| {
                        let reg = text(&d["registry"])?;
                        Some(match text(&d["registry_note"]) {
                            Some(n) if !n.is_empty() => format!("{reg}: {n}"),
                            _ => reg,
                        })
                    }),
                    outcome: r.get(8)?,
                })
            },
        )
        .optional()
        .context("reading a docking")?;
    let first_path: String = conn
        .query_row(
            "SELECT from_path FROM moves WHERE file_id = ?1 AND state = 'done' ORDER BY id LIMIT 1",
            params![k.id],
            |r| r.get(0),
        )
        .optional()
        .context("reading moves")?
        .unwrap_or_else(|| archive_path.clone());
    let mut st = conn.prepare_cached(
        "SELECT session, seq, verdict, start_corrected, end_corrected, detail FROM segments WHERE file_id = ?1 ORDER BY id",
    )?;
    let verdicts = st
        .query_map(params![k.id], |r| {
            Ok(VerdictInfo {
                session: r.get(0)?,
                seq: r.get::<_, Option<i64>>(1)?.map(crate::catalog::seq_from_sql),
                verdict: r.get(2)?,
                start: r.get(3)?,
                end: r.get(4)?,
                detail: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()
        .context("reading verdicts")?;
    let mut st = conn.prepare_cached("SELECT wiped FROM wipes WHERE file_id = ?1 ORDER BY id")?;
    let wipes =
        st.query_map(params![k.id], |r| r.get(0))?.collect::<Result<Vec<String>, _>>().context("reading wipes")?;
    let filing = conn
        .query_row(
            "SELECT path, linked, assigned, assigned_by FROM case_files WHERE case_id = ?1 AND file_id = ?2",
            params![case_id, k.id],
            |r| Ok(FilingInfo { path: r.get(0)?, linked: r.get(1)?, at: r.get(2)?, by: r.get(3)? }),
        )
        .context("reading the filing")?;
    let mut st = conn.prepare_cached(
        "SELECT c.number FROM case_files cf JOIN cases c ON c.id = cf.case_id WHERE cf.file_id = ?1 AND cf.case_id != ?2 ORDER BY c.number",
    )?;
    let other_cases = st
        .query_map(params![k.id, case_id], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()
        .context("reading cases")?;
    let mut retention = Vec::new();
    let mut deadline = None;
    for rec in &k.recordings {
        let mut st = conn.prepare_cached(
            "SELECT trigger_kind, reason, set_by, set_at, withdrawn_by, withdrawn_at, withdraw_why
             FROM retention_flags WHERE recording = ?1 ORDER BY id",
        )?;
        let flags = st.query_map(params![rec], |r| mark(r, "flag"))?;
        for f in flags {
            retention.push(f.context("reading flags")?);
        }
        let mut st = conn.prepare_cached(
            "SELECT hold, reason, set_by, set_at, released_by, released_at, release_why
             FROM holds WHERE recording = ?1 ORDER BY id",
        )?;
        for h in st.query_map(params![rec], |r| mark(r, "hold"))? {
            retention.push(h.context("reading holds")?);
        }
        let d: Option<String> = conn
            .query_row("SELECT deadline FROM deadlines WHERE recording = ?1", params![rec], |r| r.get(0))
            .optional()
            .context("reading a deadline")?;
        deadline = deadline.or(d);
    }
    Ok(FileHistory {
        id: k.id,
        serial,
        source,
        size: u64::try_from(size).unwrap_or(0),
        blake3,
        recording: k.recordings.iter().cloned().collect::<Vec<_>>().join(", "),
        descriptions: Vec::new(),
        docking,
        copy: CopyInfo { stored, first_path, archive_path, read_back, immutable },
        verdicts,
        wipes,
        filing,
        other_cases,
        retention,
        deadline,
        purged,
        events: events.iter().map(|(e, _)| line(e)).collect(),
    })
}

fn mark(r: &rusqlite::Row<'_>, kind: &'static str) -> rusqlite::Result<RetentionMark> {
    let ended = match (r.get::<_, Option<String>>(4)?, r.get::<_, Option<String>>(5)?) {
        (Some(by), Some(at)) => Some(format!("{at} by {by}: {}", r.get::<_, Option<String>>(6)?.unwrap_or_default())),
        _ => None,
    };
    Ok(RetentionMark {
        kind: kind.to_string(),
        what: r.get(0)?,
        reason: r.get(1)?,
        by: r.get(2)?,
        at: r.get(3)?,
        ended,
    })
}

/// The log's verification (chain, and checkpoints when the verifier key is there) and the
/// latest stored checkpoint.
fn verification(conn: &Connection, state_dir: &Path) -> anyhow::Result<(LogStatus, Option<CheckpointInfo>)> {
    let paths = KeyPaths::in_dir(state_dir);
    let latest = store::checkpoints(conn)?.pop();
    let verifier = if paths.verifier.exists() { Some(files::load_verifier(&paths.verifier)?) } else { None };
    let (status, cp_verified) = match &verifier {
        Some(v) => {
            let mut external = Vec::new();
            if paths.checkpoints.exists() {
                let name = paths.checkpoints.display().to_string();
                external.extend(files::read_notes(&paths.checkpoints)?.into_iter().map(|n| (name.clone(), n)));
            }
            let r = store::audit(conn, v, &external)?;
            let cp_ok = latest.as_ref().and_then(|l| {
                r.checkpoints
                    .iter()
                    .find(|c| c.source == CheckpointSource::Stored { id: l.id })
                    .map(|c| c.problem.is_none())
            });
            (audit_status(&r, None), cp_ok)
        }
        None if latest.is_none() => (audit_status(&store::audit_unsigned(conn)?, None), None),
        None => {
            let chain = store::verify(conn)?;
            let status = LogStatus {
                intact: chain.intact(),
                events: chain.events,
                head: chain.head.as_ref().map(|h| hex(h)),
                first_bad: chain.finding.as_ref().map(|f| (f.seq(), f.reason(), f.reason_zh())),
                tree_size: 0,
                root: String::new(),
                checkpoints_checked: 0,
                checkpoints_bad: 0,
                note: Some(format!(
                    "the verifier key {} is missing: the hash chain was checked, the signed checkpoints were not",
                    paths.verifier.display()
                )),
            };
            (status, None)
        }
    };
    let checkpoint = latest.map(|c| CheckpointInfo {
        id: c.id,
        made_utc: c.made_utc,
        tree_size: c.tree_size,
        root: hex(&c.root),
        note: c.note,
        verified: cp_verified,
        verifier_key: verifier.as_ref().map(|v| v.encode()),
    });
    Ok((status, checkpoint))
}

fn audit_status(r: &store::AuditReport, note: Option<String>) -> LogStatus {
    LogStatus {
        intact: r.intact(),
        events: r.chain.events,
        head: r.chain.head.as_ref().map(|h| hex(h)),
        first_bad: r.first_bad_event().map(|(s, _, reason, zh)| (s, reason, zh)),
        tree_size: r.tree_size,
        root: hex(&r.root),
        checkpoints_checked: r.checkpoints.len(),
        checkpoints_bad: r.bad_checkpoints().count(),
        note,
    }
}
