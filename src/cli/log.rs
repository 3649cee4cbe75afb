//! `evidock log tail` and `evidock log verify`: read the custody log (R11).
//!
//! Owns: the table and JSON shapes these commands print (documented in `docs/CUSTODY-LOG.md`).
//! Must never: write to the database (it is opened read-only), or panic on a closed pipe.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use serde_json::{json, Value};

use crate::custody::chain::LogReport;
use crate::custody::event::{Action, Role, StoredEvent};
use crate::custody::store;

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
    /// Check the custody log's hash chain and name the first event that is not sound.
    /// Exit code 0: intact; 1: edited, deleted or reordered events found.
    Verify {
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `log` command against the database at `db`, opened read-only.
///
/// # Errors
/// When the database is missing, unreadable or has no custody log (exit code 2). A broken log
/// is not an error: `verify` returns exit code 1.
pub fn run(cmd: &LogCommand, db: &Path) -> anyhow::Result<ExitCode> {
    let conn = store::open_read_only(db)?;
    let (text, code) = match cmd {
        LogCommand::Tail { n, json } => {
            let events = store::tail(&conn, *n)?;
            let text = if *json { events.iter().map(|e| event_json(e) + "\n").collect() } else { table(&events) };
            (text, ExitCode::SUCCESS)
        }
        LogCommand::Verify { json } => {
            let report = store::verify(&conn)?;
            let text = if *json { verify_json(&report) + "\n" } else { verify_text(&report) };
            (text, if report.intact() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    };
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(code),
        // A reader that stopped early (`| head`) is not a failure; the verdict's code stands.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(code),
        Err(e) => Err(anyhow::Error::new(e).context("writing to standard output")),
    }
}

fn hex(h: &[u8; 32]) -> String {
    blake3::Hash::from_bytes(*h).to_hex().to_string()
}

/// One event as a JSON object on one line (the `log tail --json` shape).
pub fn event_json(ev: &StoredEvent) -> String {
    // Details are canonical JSON text; re-serialise so the line holds no raw newline even if the
    // stored text was tampered with, and fall back to the text itself when it is not JSON.
    let details = serde_json::from_str::<Value>(&ev.details).unwrap_or_else(|_| Value::String(ev.details.clone()));
    json!({
        "seq": ev.seq,
        "ts_utc": ev.ts_utc,
        "ts_local": ev.ts_local,
        "actor": { "user": ev.actor_user, "role": ev.actor_role, "officer": ev.actor_officer },
        "action": ev.action,
        "action_zh": ev.known_action().map(Action::label_zh),
        "subject": ev.subject,
        "details": details,
        "prev_hash": hex(&ev.prev_hash),
        "hash": hex(&ev.hash),
    })
    .to_string()
}

/// The verification result as one JSON object (the `log verify --json` shape).
pub fn verify_json(r: &LogReport) -> String {
    json!({
        "intact": r.intact(),
        "events": r.events,
        "head": r.head.as_ref().map(hex),
        "first_bad": r.finding.as_ref().map(|f| json!({
            "seq": f.seq(),
            "kind": f.kind(),
            "reason": f.reason(),
            "reason_zh": f.reason_zh(),
        })),
    })
    .to_string()
}

/// The verification result as two lines, English then Chinese.
pub fn verify_text(r: &LogReport) -> String {
    match (&r.finding, &r.head) {
        (None, None) => "custody log intact: 0 events (empty log)\n保管日志完好：0 条事件（空日志）\n".to_string(),
        (None, Some(head)) => {
            let (n, h) = (r.events, hex(head));
            format!("custody log intact: {n} events, head {h}\n保管日志完好：共 {n} 条事件，链头 {h}\n")
        }
        (Some(f), _) => {
            let (s, n) = (f.seq(), r.events);
            format!(
                "custody log BROKEN at event {s} ({n} rows read): {}\n保管日志校验失败，问题始于第 {s} 条事件（共读取 {n} 行）：{}\n",
                f.reason(),
                f.reason_zh()
            )
        }
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
    use crate::custody::event::{seal, Actor, NewEvent};
    use crate::custody::store::{append, create_schema};
    use chrono::{TimeZone, Utc};

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

    #[test]
    fn run_reports_exit_codes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("catalog.db");
        let missing = run(&LogCommand::Verify { json: false }, &db).expect_err("missing");
        assert!(format!("{missing:#}").contains("has not run yet"));
        let conn = rusqlite::Connection::open(&db).expect("open");
        create_schema(&conn).expect("schema");
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 8, 30, 0).single().expect("valid time");
        for i in 0..3 {
            append(
                &conn,
                &NewEvent::new(Actor::daemon("evidock"), Action::Docked, format!("docking:{i}")),
                now,
                chrono_tz::UTC,
            )
            .expect("append");
        }
        assert_eq!(run(&LogCommand::Verify { json: true }, &db).expect("runs"), ExitCode::SUCCESS);
        assert_eq!(run(&LogCommand::Tail { n: 2, json: false }, &db).expect("runs"), ExitCode::SUCCESS);
        conn.execute_batch(
            "DROP TRIGGER custody_log_no_update; UPDATE custody_log SET subject = 'docking:9' WHERE seq = 2;",
        )
        .expect("tamper");
        assert_eq!(run(&LogCommand::Verify { json: false }, &db).expect("runs"), ExitCode::from(1));
    }
}
