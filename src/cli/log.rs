//! `evidock log tail|verify|checkpoint|prove|consistency`: read the custody log, check it
//! against its hash chain and signed checkpoints, make checkpoints, and print inclusion and
//! consistency proofs (R11).
//!
//! Owns: the table, text and JSON shapes these commands print (documented in
//! `docs/CUSTODY-LOG.md`).
//! Must never: write to the database except `log checkpoint` (which adds one checkpoint
//! row), print a private key, or panic on a closed pipe.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde_json::json;

use crate::api::verify;
use crate::custody::checkpoint::NoteVerifier;
use crate::custody::event::{Role, StoredEvent};
use crate::custody::files::{self, KeyPaths};
use crate::custody::store;
pub use crate::custody::verdict::event_json;

/// `evidock log ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum LogCommand {
    /// Show the last events of the custody log, oldest first.
    Tail {
        /// How many events.
        #[arg(short = 'n', default_value_t = 20)]
        n: usize,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check the custody log's hash chain and its signed checkpoints (stored, in the side file,
    /// and any given), and name the first event that is not sound or the bad checkpoint.
    /// Exit code 0: intact; 1: tampering found.
    Verify {
        /// Also check against the checkpoints in FILE (one note, or a side file); repeatable.
        #[arg(long = "checkpoint", value_name = "FILE")]
        checkpoints: Vec<PathBuf>,
        /// Where to read from (for offline checks of exported copies).
        #[command(flatten)]
        from: Source,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Make a signed checkpoint of the whole log now: stored in the database and appended to
    /// the side file. Refused (exit code 1) when the log is not sound.
    Checkpoint {
        /// Print the checkpoint as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print the inclusion proof of event SEQ against the latest stored checkpoint or the
    /// given one, with everything an independent verifier needs.
    Prove {
        /// The event's sequence number.
        seq: u64,
        /// Prove against the checkpoint in FILE (the last one, when it holds several).
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// Where to read from (for offline checks of exported copies).
        #[command(flatten)]
        from: Source,
        /// Print the proof as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Check a custody extract (an export's or a disc's `custody/` folder) offline: every event
    /// against its encoding, every inclusion proof against the signed checkpoint, the
    /// checkpoint against the key. Exit code 0: intact; 1: something does not check out.
    VerifyExtract {
        /// The folder holding `custody/` (or the `custody/` folder itself).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The verifier key you hold from elsewhere (default: the one in the folder, which
        /// proves only that the folder agrees with itself).
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print the consistency proof that the log at NEW extends the log at OLD. Each is a tree
    /// size or a checkpoint file (its last checkpoint).
    Consistency {
        /// The older tree: a size, or a checkpoint file.
        old: String,
        /// The newer tree: a size, or a checkpoint file.
        new: String,
        /// Where to read from (for offline checks of exported copies).
        #[command(flatten)]
        from: Source,
        /// Print the proof as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// Where the read commands read from: the station's files by default, or exported copies.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Source {
    /// Database file to read instead of the station's (an exported copy). The state folder's
    /// key and side file are then not used: give --key and --checkpoint.
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Verifier key file, one line `<name>+<key id>+<key>` (default: custody-signing.pub in
    /// the state folder).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

/// Runs a `log` command. `db` is the station database, `state_dir` the state folder (signing
/// key, verifier key, checkpoint side file: [`files::KeyPaths::in_dir`]), `key_name` the name a
/// new signing key gets ([`crate::custody::checkpoint::key_name`] of the station name).
/// Every command but `checkpoint` opens the database read-only.
///
/// # Errors
/// When the command could not run (exit code 2): no database, unreadable files, no key. A
/// broken log is not an error: exit code 1.
pub fn run(
    cmd: &LogCommand,
    db: &Path,
    state_dir: &Path,
    key_name: &str,
    archive_root: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let (text, code) = execute_at(cmd, db, state_dir, key_name, archive_root)?;
    let mut out = super::invoke::stdout();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(code),
        // A reader that stopped early (`| head`) is not a failure; the verdict's code stands.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(code),
        Err(e) => Err(anyhow::Error::new(e).context("writing to standard output")),
    }
}

const FOUND: u8 = 1;

/// The typed operation a `log` command is a front end of: `verify`, `prove` and `consistency`
/// of the station's own log, and `checkpoint`; `None` for the others (an exported copy's
/// checks run here, offline).
pub fn request(cmd: &LogCommand) -> Option<crate::api::Request> {
    match cmd {
        LogCommand::Verify { from, .. } if from.db.is_none() => {
            Some(crate::api::Request::LogVerify(verify::VerifyArgs {
                key: from.key.as_ref().map(|k| k.display().to_string()),
            }))
        }
        LogCommand::Checkpoint { .. } => Some(crate::api::Request::LogCheckpoint(crate::api::NoArgs {})),
        LogCommand::Prove { seq, checkpoint, from, .. } if from.db.is_none() => {
            Some(crate::api::Request::LogProve(verify::ProveArgs {
                seq: *seq,
                checkpoint: checkpoint.as_ref().map(|c| c.display().to_string()),
                key: from.key.as_ref().map(|k| k.display().to_string()),
            }))
        }
        LogCommand::Consistency { old, new, from, .. } if from.db.is_none() => {
            Some(crate::api::Request::LogConsistency(verify::ConsistencyArgs {
                old: old.clone(),
                new: new.clone(),
                key: from.key.as_ref().map(|k| k.display().to_string()),
            }))
        }
        _ => None,
    }
}

/// Runs a typed `log` command ([`request`]) through `link` and prints its verdict: exit code
/// 0 when intact (a checkpoint made), 1 when tampering is found (none signed).
///
/// # Errors
/// When it is refused or could not run (exit code 2).
pub fn run_typed(cmd: &LogCommand, link: &super::invoke::Link<'_>) -> anyhow::Result<ExitCode> {
    let Some(request) = request(cmd) else {
        bail!("not a typed log command");
    };
    // The caller's checkpoint files and key, sent as descriptors it opened.
    let mut sent: crate::api::Files = Vec::new();
    let files: Vec<PathBuf> = match cmd {
        LogCommand::Verify { checkpoints, from, .. } => checkpoints.iter().chain(from.key.iter()).cloned().collect(),
        LogCommand::Prove { checkpoint, from, .. } => checkpoint.iter().chain(from.key.iter()).cloned().collect(),
        LogCommand::Consistency { old, new, from, .. } => [old, new]
            .into_iter()
            .filter(|t| t.parse::<u64>().is_err())
            .map(PathBuf::from)
            .chain(from.key.iter().cloned())
            .collect(),
        _ => Vec::new(),
    };
    for p in &files {
        let f = std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
        sent.push((p.display().to_string(), f.into()));
    }
    let json = matches!(
        cmd,
        LogCommand::Verify { json: true, .. }
            | LogCommand::Checkpoint { json: true }
            | LogCommand::Prove { json: true, .. }
            | LogCommand::Consistency { json: true, .. }
    );
    let code = match link.call_with_files(request, sent)? {
        crate::api::Reply::LogVerify(v) => {
            crate::outprint!("{}", if json { v.document.to_string() + "\n" } else { v.text.clone() });
            v.intact
        }
        crate::api::Reply::LogCheckpoint(c) => {
            let (text, made) = c.render(json);
            if made {
                crate::outprint!("{text}");
            } else {
                crate::errln!("evidock: {text}");
            }
            made
        }
        crate::api::Reply::LogProve(p) | crate::api::Reply::LogConsistency(p) => {
            let (text, code) = shown(*p, json);
            crate::outprint!("{text}");
            return Ok(code);
        }
        other => return Err(super::invoke::unexpected(&other)),
    };
    Ok(if code { ExitCode::SUCCESS } else { ExitCode::from(FOUND) })
}

#[cfg(test)]
fn execute(cmd: &LogCommand, db: &Path, state_dir: &Path, key_name: &str) -> anyhow::Result<(String, ExitCode)> {
    execute_at(cmd, db, state_dir, key_name, None)
}

/// Runs a `log` command; `archive_root`, when given, is the station's archive, whose scanned
/// gap statements `log verify` checks against the log too.
fn execute_at(
    cmd: &LogCommand,
    db: &Path,
    state_dir: &Path,
    key_name: &str,
    archive_root: Option<&Path>,
) -> anyhow::Result<(String, ExitCode)> {
    let paths = KeyPaths::in_dir(state_dir);
    match cmd {
        LogCommand::Tail { .. } => bail!("`log tail` is the station API's `log_tail`: run it as a station command"),
        LogCommand::Verify { checkpoints, from, json } => {
            let conn = store::open_read_only(from.db.as_deref().unwrap_or(db))?;
            let mut files: Vec<PathBuf> = Vec::new();
            if from.db.is_none() && paths.checkpoints.exists() {
                files.push(paths.checkpoints.clone());
            }
            files.extend(checkpoints.iter().cloned());
            let mut external = Vec::new();
            for f in &files {
                external.extend(files::read_notes(f)?.into_iter().map(|n| (f.display().to_string(), n)));
            }
            let hint = key_path(from, &paths).map_or("custody-signing.pub".into(), |p| p.display().to_string());
            // The station's own log: its readable tables and scans against it too (R11).
            let station = from.db.is_none().then_some(archive_root);
            let (report, edited) = verify::audit(&conn, verifier(from, &paths)?.as_ref(), &hint, &external, station)?;
            let ok = verify::intact(&report, &edited);
            Ok((verify::render(&report, &edited, *json), if ok { ExitCode::SUCCESS } else { ExitCode::from(FOUND) }))
        }
        LogCommand::Checkpoint { json } => {
            let (text, made) = verify::checkpoint_at(db, &paths, key_name)?.render(*json);
            if made {
                Ok((text, ExitCode::SUCCESS))
            } else {
                Ok(found(text))
            }
        }
        LogCommand::Prove { seq, checkpoint, from, json } => {
            let conn = store::open_read_only(from.db.as_deref().unwrap_or(db))?;
            let Some(v) = verifier(from, &paths)? else {
                bail!("no verifier key to check the checkpoint with: pass --key FILE");
            };
            let file = checkpoint.as_ref().map(|f| (f.display().to_string(), f.as_path()));
            Ok(shown(verify::prove_against(&conn, *seq, file.as_ref().map(|(l, p)| (l.as_str(), *p)), &v)?, *json))
        }
        LogCommand::VerifyExtract { dir, key, json } => verify_extract(dir, key.as_deref(), *json),
        LogCommand::Consistency { old, new, from, json } => {
            let conn = store::open_read_only(from.db.as_deref().unwrap_or(db))?;
            let v = verifier(from, &paths)?;
            let trees = (
                verify::tree_arg(old, Path::new(old), v.as_ref())?,
                verify::tree_arg(new, Path::new(new), v.as_ref())?,
            );
            let doc = match trees {
                (Ok(o), Ok(n)) => verify::consistency(&conn, o, n)?,
                (Err(msg), _) | (_, Err(msg)) => return Ok(found(msg)),
            };
            Ok(shown(doc, *json))
        }
    }
}

/// A proof as printed: its text or JSON and exit code 0 when it holds, 1 when it does not;
/// a finding on standard error with exit code 1.
fn shown(doc: verify::ProofDoc, json: bool) -> (String, ExitCode) {
    if let Some(msg) = doc.finding {
        return found(msg);
    }
    let text = if json {
        doc.document.map(|d| d.to_string() + "\n").unwrap_or_default()
    } else {
        doc.text.unwrap_or_default()
    };
    (text, if doc.holds { ExitCode::SUCCESS } else { ExitCode::from(FOUND) })
}

/// `log verify-extract DIR`: the folder's custody extract against its signed checkpoint, and
/// its footage against the proven events ([`verify::extract_folder`]), as text or JSON.
fn verify_extract(dir: &Path, key: Option<&Path>, as_json: bool) -> anyhow::Result<(String, ExitCode)> {
    let v = match verify::extract_folder(dir, key)? {
        Ok(v) => v,
        Err(finding) => return Ok(found(finding)),
    };
    let text = if as_json {
        json!({
            "intact": v.intact(), "proven": v.proven, "withheld": v.withheld, "tree_size": v.tree_size,
            "root": v.root, "key": v.key, "key_from_folder": v.key_from_folder,
            "problems": v.problems.iter().map(|(line, seq, why)| json!({ "line": line, "seq": seq, "problem": why })).collect::<Vec<_>>(),
            "files_checked": v.files_checked,
            "files": v.file_problems.iter().map(|(path, why)| json!({ "path": path, "problem": why })).collect::<Vec<_>>(),
        })
        .to_string()
            + "\n"
    } else {
        let mut t = format!(
            "custody extract: {} event(s) proven, {} withheld (hash only), against a checkpoint of {} events signed by {}\n\
             保管日志摘录：{} 条事件已证明包含于签名检查点（{} 条事件）中，{} 条仅提供哈希\n",
            v.proven, v.withheld, v.tree_size, v.key, v.proven, v.tree_size, v.withheld
        );
        if v.key_from_folder {
            t.push_str("note: the key came from the folder itself; compare it with the key the bureau published / 请与另行获得的公钥比对\n");
        }
        for (line, seq, why) in &v.problems {
            t.push_str(&format!(
                "line {line} (event {}): {why}\n",
                seq.map_or_else(|| "?".to_string(), |s| s.to_string())
            ));
        }
        if v.files_checked > 0 {
            t.push_str(&format!(
                "footage: {} file(s) checked against the hashes the custody log recorded at their copy, {} do not match\n\
                 录像文件：已按保管日志复制时记录的哈希值核对 {} 个，{} 个不符\n",
                v.files_checked,
                v.file_problems.len(),
                v.files_checked,
                v.file_problems.len()
            ));
        }
        for (_, why) in &v.file_problems {
            t.push_str(&format!("{why}\n"));
        }
        t
    };
    Ok((text, if v.intact() { ExitCode::SUCCESS } else { ExitCode::from(FOUND) }))
}

/// A finding printed on stderr, with exit code 1.
fn found(msg: String) -> (String, ExitCode) {
    crate::errln!("evidock: {msg}");
    (String::new(), ExitCode::from(FOUND))
}

fn key_path(from: &Source, paths: &KeyPaths) -> Option<PathBuf> {
    match (&from.key, &from.db) {
        (Some(k), _) => Some(k.clone()),
        (None, None) => Some(paths.verifier.clone()),
        (None, Some(_)) => None,
    }
}

/// The verifier key: the given file (must exist), or the state folder's when it exists.
fn verifier(from: &Source, paths: &KeyPaths) -> anyhow::Result<Option<NoteVerifier>> {
    match key_path(from, paths) {
        Some(p) if from.key.is_some() || p.exists() => Ok(Some(files::load_verifier(&p)?)),
        _ => Ok(None),
    }
}

/// Terminal columns a character takes: 2 for East Asian wide and full-width characters,
/// 0 for combining marks, 1 otherwise.
fn char_width(c: char) -> usize {
    match c as u32 {
        0x0300..=0x036F | 0x200B..=0x200F | 0xFE00..=0xFE0F => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Control characters (a terminal escape in a subject, say) shown escaped, never sent raw.
fn printable(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

fn actor(ev: &StoredEvent) -> String {
    let role =
        Role::parse(&ev.actor_role).map_or(ev.actor_role.clone(), |r| format!("{} {}", r.as_str(), r.label_zh()));
    match &ev.actor_officer {
        None => format!("{} ({role})", ev.actor_user),
        Some(o) => format!("{} ({role}, 警号 {o})", ev.actor_user),
    }
}

fn action(ev: &StoredEvent) -> String {
    match ev.known_action() {
        Some(a) => format!("{} {}", a.as_str(), a.label_zh()),
        None => ev.action.clone(),
    }
}

/// Prints the reply of `log tail`: a table, or one JSON object per line.
///
/// # Errors
/// When the operation is refused or fails (exit code 2).
pub fn run_tail(n: usize, json: bool, link: &super::invoke::Link<'_>) -> anyhow::Result<ExitCode> {
    use crate::api::log::{Event, TailArgs, MAX_PAGE};
    use crate::api::{Reply, Request};
    let tail = |n: u64| -> anyhow::Result<Vec<StoredEvent>> {
        match link.call(Request::LogTail(TailArgs { n }))? {
            Reply::LogTail(events) => Ok(events.iter().map(Event::to_stored).collect()),
            other => Err(super::invoke::unexpected(&other)),
        }
    };
    let n = n as u64;
    if n <= MAX_PAGE {
        let events = tail(n)?;
        let text = if json { events.iter().map(|e| event_json(e) + "\n").collect() } else { table(&events) };
        return super::history::emit(&text, ExitCode::SUCCESS);
    }
    // More than one reply holds: the last `n` events a page at a time, JSON lines written as
    // each page comes (a table is laid out once every row is in).
    let Some(last) = tail(1)?.pop().map(|e| e.seq) else { return super::history::emit("", ExitCode::SUCCESS) };
    let mut filter = crate::custody::query::Filter {
        seq_from: Some(last.saturating_sub(n - 1).max(1)),
        seq_to: Some(last),
        limit: MAX_PAGE,
        ..crate::custody::query::Filter::default()
    };
    let mut rows = Vec::new();
    loop {
        let page = match link.call(Request::LogQuery(filter.clone()))? {
            Reply::LogQuery(page) => page,
            other => return Err(super::invoke::unexpected(&other)),
        };
        let events: Vec<StoredEvent> = page.events.iter().map(Event::to_stored).collect();
        if json {
            let text: String = events.iter().map(|e| event_json(e) + "\n").collect();
            super::history::emit(&text, ExitCode::SUCCESS)?;
        } else {
            rows.extend(events);
        }
        match page.next_after {
            Some(after) => filter.after = after,
            None => break,
        }
    }
    super::history::emit(&if json { String::new() } else { table(&rows) }, ExitCode::SUCCESS)
}

/// The events as a table with a bilingual header, columns padded by display width.
pub fn table(events: &[StoredEvent]) -> String {
    let header = ["seq", "local time 本地时间", "actor 操作人", "action 动作", "subject 对象", "details 详情"];
    let mut rows: Vec<[String; 6]> = vec![header.map(String::from)];
    for ev in events {
        rows.push([
            ev.seq.to_string(),
            printable(&ev.ts_local),
            printable(&actor(ev)),
            printable(&action(ev)),
            printable(&ev.subject),
            printable(&ev.details),
        ]);
    }
    let mut widths = [0usize; 6];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[i] - width(cell) + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::chain::{verify, Finding, Verifier};
    use crate::custody::checkpoint::Checkpoint;
    use crate::custody::event::Action;
    use crate::custody::event::{seal, Actor, NewEvent};
    use crate::custody::merkle::{self, Hash};
    use crate::custody::store::{append, create_schema};
    use crate::custody::verdict::hex;
    use crate::custody::verdict::{verify_json, verify_text};
    use chrono::{TimeZone, Utc};
    use serde_json::Value;
    use std::path::PathBuf;

    fn events() -> Vec<StoredEvent> {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 8, 30, 0).single().expect("valid time");
        let a = seal(
            None,
            &NewEvent::new(
                Actor { user: "zhangsan".into(), role: Role::Custodian, officer: Some("012345".into()) },
                Action::Docked,
                "device:A100001",
            )
            .detail("bay", 3)
            .detail("officer_name", "张三"),
            now,
            chrono_tz::Asia::Shanghai,
        )
        .expect("seals");
        let b = seal(
            Some((a.seq, a.hash)),
            &NewEvent::new(Actor::daemon("evidock"), Action::GapFound, "session:A100001/执法\u{1b}[2J"),
            now,
            chrono_tz::Asia::Shanghai,
        )
        .expect("seals");
        vec![a, b]
    }

    #[test]
    fn table_aligns_chinese_by_display_width() {
        let t = table(&events());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].contains("zhangsan (custodian 设备管理员, 警号 012345)"), "{t}");
        assert!(lines[1].contains("docked 记录仪接入"), "{t}");
        assert!(lines[2].contains("gap_found 发现录制中断"), "{t}");
        assert!(lines[2].contains("\\u{1b}[2J") && !t.contains('\u{1b}'), "control characters are escaped: {t}");
        // The subject column starts at the same display column on every line.
        let col = |line: &str, needle: &str| line.find(needle).map(|i| width(&line[..i]));
        let subject = col(lines[0], "subject 对象");
        assert_eq!(col(lines[1], "device:A100001"), subject);
        assert_eq!(col(lines[2], "session:"), subject);
        assert_eq!(col(lines[1], "{\"bay\""), col(lines[0], "details 详情"));
    }

    #[test]
    fn json_lines_have_the_documented_shape() {
        let evs = events();
        let v: Value = serde_json::from_str(&event_json(&evs[0])).expect("JSON");
        assert_eq!(v["seq"], 1);
        assert_eq!(v["ts_local"], "2024-05-01T16:30:00.000+08:00");
        assert_eq!(v["actor"], json!({"user": "zhangsan", "role": "custodian", "officer": "012345"}));
        assert_eq!(v["action"], "docked");
        assert_eq!(v["action_zh"], "记录仪接入");
        assert_eq!(v["details"], json!({"bay": 3, "officer_name": "张三"}));
        assert_eq!(v["prev_hash"], "0".repeat(64));
        assert_eq!(v["hash"], hex(&evs[0].hash));
        let mut odd = evs[1].clone();
        odd.action = "future_action".into();
        odd.details = "{\n}x".into();
        let line = event_json(&odd);
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!((v["action_zh"].clone(), v["details"].clone()), (Value::Null, json!("{\n}x")));
    }

    #[test]
    fn verify_output() {
        let evs = events();
        let ok = verify(evs.clone().into_iter());
        let h = hex(&evs[1].hash);
        assert_eq!(
            verify_text(&ok),
            format!("custody log intact: 2 events, head {h}\n保管日志完好：共 2 条事件，链头 {h}\n")
        );
        assert_eq!(verify_json(&ok), format!(r#"{{"events":2,"first_bad":null,"head":"{h}","intact":true}}"#));
        assert_eq!(
            verify_text(&Verifier::new().finish()),
            "custody log intact: 0 events (empty log)\n保管日志完好：0 条事件（空日志）\n"
        );

        let bad = verify(evs.into_iter().skip(1));
        assert_eq!(bad.finding, Some(Finding::Deleted { after_seq: 0, missing: 1 }));
        assert_eq!(
            verify_text(&bad),
            "custody log BROKEN at event 1 (1 rows read): event 1 is missing after event 0: deleted\n\
             保管日志校验失败，问题始于第 1 条事件（共读取 1 行）：第 0 条事件之后缺少第 1 条事件：记录被删除\n"
        );
        let v: Value = serde_json::from_str(&verify_json(&bad)).expect("JSON");
        assert_eq!(v["intact"], false);
        assert_eq!(v["first_bad"]["seq"], 1);
        assert_eq!(v["first_bad"]["kind"], "deleted");
    }

    fn verify_cmd(checkpoints: Vec<PathBuf>, from: Source) -> LogCommand {
        LogCommand::Verify { checkpoints, from, json: false }
    }

    const NAME: &str = "evidock/测试站";

    /// A station: a database with `n` events in `dir/state`.
    fn station(n: usize) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path().join("state");
        std::fs::create_dir(&state).expect("mkdir");
        let db = state.join("catalog.sqlite");
        let conn = rusqlite::Connection::open(&db).expect("open");
        create_schema(&conn).expect("schema");
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 8, 30, 0).single().expect("valid time");
        for i in 0..n {
            append(
                &conn,
                &NewEvent::new(Actor::daemon("evidock"), Action::Docked, format!("docking:{i}"))
                    .detail("bay", i as u64),
                now,
                chrono_tz::UTC,
            )
            .expect("append");
        }
        (dir, db, state)
    }

    fn exec(cmd: &LogCommand, db: &Path, state: &Path) -> (String, ExitCode) {
        execute(cmd, db, state, NAME).expect("runs")
    }

    #[test]
    fn run_reports_exit_codes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("catalog.db");
        let missing = run(&verify_cmd(vec![], Source::default()), &db, dir.path(), NAME, None).expect_err("missing");
        assert!(format!("{missing:#}").contains("has not run yet"));
        let (_d, db, state) = station(3);
        assert_eq!(exec(&verify_cmd(vec![], Source::default()), &db, &state).1, ExitCode::SUCCESS);
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute_batch(
            "DROP TRIGGER custody_log_no_update; UPDATE custody_log SET subject = 'docking:9' WHERE seq = 2;",
        )
        .expect("tamper");
        let (text, code) = exec(&verify_cmd(vec![], Source::default()), &db, &state);
        assert_eq!(code, ExitCode::from(1));
        assert!(text.starts_with("custody log BROKEN at event 2"), "{text}");
    }

    #[test]
    fn checkpoint_prove_consistency_and_verify() {
        let (_d, db, state) = station(20);
        let (text, code) = exec(&LogCommand::Checkpoint { json: false }, &db, &state);
        assert_eq!(code, ExitCode::SUCCESS);
        assert!(text.starts_with("checkpoint #1 made: 20 events, root "), "{text}");
        assert!(text.contains(&format!("\n{NAME}\n20\n")) && text.contains("\n\u{2014} evidock/测试站 "), "{text}");
        let paths = KeyPaths::in_dir(&state);
        assert!(paths.signing.exists() && paths.verifier.exists() && paths.checkpoints.exists());

        // Twelve more events and a second checkpoint (JSON).
        let conn = rusqlite::Connection::open(&db).expect("open");
        let now = Utc.with_ymd_and_hms(2024, 5, 2, 0, 0, 0).single().expect("valid time");
        for i in 20..32 {
            append(
                &conn,
                &NewEvent::new(Actor::daemon("evidock"), Action::Undocked, format!("docking:{i}")),
                now,
                chrono_tz::UTC,
            )
            .expect("append");
        }
        let (text, _) = exec(&LogCommand::Checkpoint { json: true }, &db, &state);
        let v: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!((v["id"].clone(), v["tree_size"].clone()), (json!(2), json!(32)));
        assert_eq!(v["verifier_key"], std::fs::read_to_string(&paths.verifier).expect("vkey").trim());

        let (text, code) = exec(&verify_cmd(vec![], Source::default()), &db, &state);
        assert_eq!(code, ExitCode::SUCCESS, "{text}");
        assert!(
            text.contains("checkpoints: 4 checked (2 stored, 2 from files), 4 match, latest matching covers 32 events"),
            "{text}"
        );

        // Inclusion proof of event 7 against the latest checkpoint, checked independently.
        let prove = LogCommand::Prove { seq: 7, checkpoint: None, from: Source::default(), json: true };
        let (text, code) = exec(&prove, &db, &state);
        assert_eq!(code, ExitCode::SUCCESS);
        let v: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!((v["leaf_index"].clone(), v["tree_size"].clone()), (json!(6), json!(32)));
        let unhex = |s: &Value| -> Vec<u8> {
            let s = s.as_str().expect("hex");
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
        };
        let leaf = merkle::leaf_hash(&unhex(&v["encoding"]));
        assert_eq!(hex(&leaf), v["leaf_hash"].as_str().expect("str"));
        let proof: Vec<Hash> = v["proof"]
            .as_array()
            .expect("array")
            .iter()
            .map(|p| <Hash>::try_from(unhex(p).as_slice()).expect("32"))
            .collect();
        let vkey = NoteVerifier::parse(v["verifier_key"].as_str().expect("str")).expect("vkey");
        let cp = Checkpoint::open(v["checkpoint"].as_str().expect("str"), &vkey).expect("opens");
        merkle::verify_inclusion(6, cp.size, &leaf, &proof, &cp.root).expect("verifies");
        let (text, _) =
            exec(&LogCommand::Prove { seq: 7, checkpoint: None, from: Source::default(), json: false }, &db, &state);
        assert!(text.contains("leaf index:  6\n") && text.contains("verified:    yes"), "{text}");
        assert!(execute(
            &LogCommand::Prove { seq: 33, checkpoint: None, from: Source::default(), json: false },
            &db,
            &state,
            NAME
        )
        .is_err());

        // Consistency between sizes, and between the side file's checkpoints.
        let cons = |old: &str, new: &str| LogCommand::Consistency {
            old: old.into(),
            new: new.into(),
            from: Source::default(),
            json: false,
        };
        let (text, code) = exec(&cons("20", "32"), &db, &state);
        assert_eq!(code, ExitCode::SUCCESS);
        assert!(text.starts_with("consistency proof: the log at 32 events extends the log at 20 events"), "{text}");
        let first = state.join("first.txt");
        std::fs::write(&first, &files::read_notes(&paths.checkpoints).expect("notes")[0]).expect("write");
        let (text, code) =
            exec(&cons(first.to_str().expect("utf-8"), paths.checkpoints.to_str().expect("utf-8")), &db, &state);
        assert_eq!(code, ExitCode::SUCCESS, "{text}");
        assert!(text.contains("(checkpoint "), "{text}");

        // Truncate the log: verify names event 21 onwards, prove and consistency fail with 1.
        conn.execute_batch("DROP TRIGGER custody_log_no_delete; DELETE FROM custody_log WHERE seq > 20;")
            .expect("truncate");
        let (text, code) = exec(&verify_cmd(vec![], Source::default()), &db, &state);
        assert_eq!(code, ExitCode::from(1));
        assert!(
            text.starts_with(
                "custody log BROKEN at event 21 (20 rows read): stored checkpoint #2: the checkpoint covers 32 events"
            ),
            "{text}"
        );
        assert!(text.contains("BAD checkpoint 2 in "), "{text}");
        assert_eq!(exec(&prove, &db, &state).1, ExitCode::from(1));
        assert_eq!(
            exec(&cons(first.to_str().expect("utf-8"), paths.checkpoints.to_str().expect("utf-8")), &db, &state).1,
            ExitCode::from(1)
        );
        assert_eq!(exec(&LogCommand::Checkpoint { json: false }, &db, &state).1, ExitCode::from(1));
        let (text, _) =
            exec(&LogCommand::Verify { checkpoints: vec![], from: Source::default(), json: true }, &db, &state);
        let v: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(v["first_bad"]["kind"], "truncated");
        assert_eq!(v["first_bad"]["seq"], 21);
        assert_eq!(v["checkpoints"]["bad"].as_array().map(Vec::len), Some(2));
    }

    /// Offline: a copy of the database, the public key and the side file in another folder,
    /// with no state folder at all.
    #[test]
    fn offline_verification_from_exported_files() {
        let (_d, db, state) = station(9);
        exec(&LogCommand::Checkpoint { json: false }, &db, &state);
        let paths = KeyPaths::in_dir(&state);
        let out = tempfile::tempdir().expect("export dir");
        for (from, name) in
            [(&db, "catalog.sqlite"), (&paths.verifier, "station.pub"), (&paths.checkpoints, "checkpoints.txt")]
        {
            std::fs::copy(from, out.path().join(name)).expect("copy");
        }
        let nowhere = out.path().join("no-state");
        let from = Source { db: Some(out.path().join("catalog.sqlite")), key: Some(out.path().join("station.pub")) };
        let (text, code) = exec(&verify_cmd(vec![out.path().join("checkpoints.txt")], from.clone()), &db, &nowhere);
        assert_eq!(code, ExitCode::SUCCESS, "{text}");
        assert!(text.contains("2 checked (1 stored, 1 from files), 2 match"), "{text}");
        let prove = LogCommand::Prove {
            seq: 9,
            checkpoint: Some(out.path().join("checkpoints.txt")),
            from: from.clone(),
            json: false,
        };
        assert_eq!(exec(&prove, &db, &nowhere).1, ExitCode::SUCCESS);
        // Without the key, checkpoints cannot be checked: exit code 2, saying so.
        let nokey = Source { db: from.db.clone(), key: None };
        let err = execute(&verify_cmd(vec![], nokey), &db, &nowhere, NAME).expect_err("no key");
        assert!(format!("{err:#}").contains("without the station's verifier key"), "{err:#}");
        // A checkpoint signed by another key is named as such.
        let other = crate::custody::checkpoint::NoteSigner::from_seed(NAME, [5; 32]).expect("signer");
        let forged =
            Checkpoint { origin: NAME.into(), size: 9, root: [0; 32], extensions: vec![] }.sign(&other).expect("signs");
        std::fs::write(out.path().join("forged.txt"), forged).expect("write");
        let (text, code) = exec(&verify_cmd(vec![out.path().join("forged.txt")], from), &db, &nowhere);
        assert_eq!(code, ExitCode::from(1));
        assert!(text.contains("forged or altered checkpoint: not signed by evidock/测试站+"), "{text}");
        assert!(text.starts_with("custody log intact: 9 events"), "the chain itself is sound: {text}");
    }
}
