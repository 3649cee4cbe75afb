//! `evidock status [--json] [--watch]`: the custodian's view of the station: per bay the
//! recorder, officer, progress, rate, time left, verdicts, and a plain "safe to undock". A
//! front end of the `status` operation ([`crate::api::status`]): it renders the document.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use super::invoke::Link;
use crate::api::status::StatusDoc;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the status document as JSON (shape: `daemon::status`, version 1).
    #[arg(long)]
    pub json: bool,
    /// Redraw every half second until interrupted (the station's live view).
    #[arg(long)]
    pub watch: bool,
}

/// The request `status` sends: no arguments (`--json` and `--watch` are this front end's).
pub fn request() -> crate::api::Request {
    crate::api::Request::Status(crate::api::status::StatusArgs::default())
}

fn load(link: &Link<'_>) -> anyhow::Result<StatusDoc> {
    match link.call(request())? {
        crate::api::Reply::Status(doc) => Ok(*doc),
        other => Err(super::invoke::unexpected(&other)),
    }
}

/// The archive scrub's line: the last complete pass and the one in progress.
fn scrub_line(doc: &StatusDoc) -> String {
    let Some(s) = &doc.scrub else { return String::new() };
    let mut out = String::from("\narchive scrub 归档巡检: ");
    match &s.last_complete {
        Some(p) => {
            out += &format!(
                "last complete pass 最近完成 #{} {} ({} files 文件, {}; problems 问题 {})",
                p.pass,
                at(doc, p.finished.as_deref().unwrap_or("-")),
                p.files,
                super::bytes(p.bytes),
                p.differ + p.missing + p.catalogue
            );
        }
        None => out += "no complete pass yet 尚无完成的巡检",
    }
    if let Some(p) = &s.in_progress {
        out += &format!("; in progress 进行中 #{} {}/{} files 文件", p.pass, p.files, p.files_total);
    }
    out + "\n"
}

/// A stored instant as station time to the second, the zone named (R13); the zone is the
/// document's (UTC when absent).
fn at(doc: &StatusDoc, s: &str) -> String {
    let tz = doc.timezone.parse::<chrono_tz::Tz>().unwrap_or(chrono_tz::UTC);
    crate::report::history::station_time_named(s, tz)
}

/// The alarm lines of the status view (empty when none is open).
fn alarm_lines(doc: &StatusDoc) -> String {
    if doc.alarms.is_empty() {
        return String::new();
    }
    let shown = doc.alarms.len() as u64;
    let total = doc.alarms_open.max(shown);
    let mut out = format!("\n!! ALARM 警报: {total} open / 未解除 {total} 项\n");
    for a in &doc.alarms {
        out += &format!(
            "  ! [{}] {}: {}\n    {}\n    since 自 {}{}\n",
            a.kind,
            a.subject,
            a.message,
            a.message_zh,
            at(doc, &a.raised),
            a.custody_event.map_or(String::new(), |q| format!("  custody event 保管日志事件 #{q}"))
        );
    }
    if total > shown {
        out += &format!("  … and {} more / 另有 {} 项\n", total - shown, total - shown);
    }
    out
}

/// The lines of what needs attention beyond the alarms (empty when nothing does).
fn attention_lines(doc: &StatusDoc) -> String {
    let a = &doc.attention;
    if a.count() == 0 {
        return String::new();
    }
    let mut out = format!("\n!  attention 需要处理: {}\n", a.count());
    for n in &a.not_in_service {
        let (en, zh) = if n.state == "retired" { ("retired", "已停用") } else { ("not registered", "未登记") };
        out += &format!(
            "  recorder 记录仪 {} docked {} time(s), last {}: {en} / 接入{}次，{zh}\n",
            n.serial, n.dockings, n.last_docked, n.dockings
        );
    }
    for o in &a.overdue {
        out += &format!(
            "  recorder 记录仪 {} (binding 绑定 #{}, officer 警员 {} {}) was due back {}: not returned / 逾期未归还\n",
            o.serial,
            o.binding,
            o.officer_id,
            o.officer_name.as_deref().unwrap_or(""),
            o.due
        );
    }
    if let Some(d) = a.disk.filter(|d| d.low) {
        out += &format!(
            "  archive disk 档案盘 {}% used, {} free: running low / 空间不足\n",
            d.used_percent,
            super::bytes(d.free)
        );
    }
    for r in &a.review {
        out += &format!(
            "  docking 接入 #{} {} finished {}: {}needs review / 需要人工复核{}\n",
            r.docking_id,
            r.serial.as_deref().unwrap_or("-"),
            r.finished,
            if r.flagged > 0 { format!("{} flagged segment(s) 个异常片段, ", r.flagged) } else { String::new() },
            r.problems.iter().map(|p| format!("\n    {p}")).collect::<String>()
        );
    }
    out
}

fn bar(done: u64, total: u64, width: usize) -> String {
    let filled = if total == 0 { width } else { ((done as f64 / total as f64) * width as f64).round() as usize };
    format!("[{}{}]", "#".repeat(filled.min(width)), ".".repeat(width - filled.min(width)))
}

fn duration(s: u64) -> String {
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Renders the status document for a person, in Chinese and English.
pub fn render(doc: &StatusDoc) -> String {
    let mut out = String::new();
    let daemon = doc.station.daemon.as_ref();
    let or_dash = |s: Option<&str>| s.filter(|s| !s.is_empty()).unwrap_or("-").to_string();
    out += &format!(
        "evidock  {}  dock {}  USB: {}\n",
        if doc.running { "running 运行中" } else { "not running 未运行" },
        or_dash(daemon.map(|d| d.dock_root.as_str())),
        or_dash(daemon.map(|d| d.usb.as_str())),
    );
    out += &alarm_lines(doc);
    out += &attention_lines(doc);
    if doc.station.bays.is_empty() {
        out += "no recorder docked / 无记录仪接入\n";
    }
    for b in &doc.station.bays {
        out += &format!(
            "\n■ {}  recorder 记录仪 {}  officer 警员 {}\n",
            b.volume,
            or_dash(b.serial.as_deref()),
            or_dash(b.officer.as_deref())
        );
        let (done, total) = (b.bytes_done, b.bytes_total);
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        out += &format!(
            "  {} {}  {} {pct:>3}%  {}/{} files 文件  {} / {}",
            or_dash(Some(&b.phase)),
            b.phase_zh,
            bar(done, total, 24),
            b.files_done,
            b.files_total,
            super::bytes(done),
            super::bytes(total)
        );
        if b.rate_bytes_per_s > 0 {
            out += &format!("  {}/s", super::bytes(b.rate_bytes_per_s));
        }
        if let Some(eta) = b.eta_s {
            out += &format!("  left 剩余 {}", duration(eta));
        }
        out += "\n";
        let mut health = Vec::new();
        if let Some(v) = b.battery {
            health.push(format!("battery 电量 {v}%"));
        }
        if let Some(v) = b.storage_free {
            health.push(format!("free 剩余空间 {}", super::bytes(v)));
        }
        if let Some(v) = b.drift_s {
            let warn = if b.clock_unreliable { " (unreliable 不可靠)" } else { "" };
            health.push(format!("clock drift 时钟偏差 {v:+} s{warn}"));
        }
        if !health.is_empty() {
            out += &format!("  {}\n", health.join("  "));
        }
        if !b.verdicts.is_empty() {
            let list: Vec<String> = b.verdicts.iter().map(|(k, c)| format!("{k} {c}")).collect();
            out += &format!("  verdicts 校验结果: {}", list.join(", "));
            if b.unexplained_gaps > 0 {
                out += &format!("; unexplained gaps 未说明中断 {}", b.unexplained_gaps);
            }
            out += "\n";
        }
        if b.contradictions > 0 {
            out += &format!("  contradictions 矛盾: {}\n", b.contradictions);
            for line in &b.contradiction_lines {
                out += &format!("    ! {line}\n");
            }
        }
        out += &format!("  {} {}\n", if b.safe_to_undock { "✔" } else { "…" }, or_dash(Some(&b.message)));
    }
    if let Some(line) = doc.burn.as_ref().map(super::burn::status_line) {
        out += &format!("\n{line}");
    }
    out += &scrub_line(doc);
    if let Some(central) = doc.central.as_ref().and_then(|c| serde_json::to_value(c).ok()) {
        out += &format!("\n{}", super::central::render(&central));
    }
    if !doc.recent_dockings.is_empty() {
        out += "\nrecent dockings 最近接入:\n";
        for d in &doc.recent_dockings {
            out += &format!(
                "  #{:<4} {:<8} {:<24} {}",
                d.docking_id,
                or_dash(d.serial.as_deref()),
                at(doc, &d.started),
                d.outcome.as_deref().unwrap_or("in progress 进行中")
            );
            if d.contradictions > 0 {
                out += &format!("  ({} contradictions 处矛盾: review 需复核)\n", d.contradictions);
            } else {
                out += "\n";
            }
        }
    }
    out
}

/// Renders the station's status once, or every half second with `--watch`.
///
/// # Errors
/// When the status cannot be had (exit code 2).
pub fn run(args: &Args, link: &Link<'_>) -> anyhow::Result<ExitCode> {
    let mut stdout = super::invoke::stdout();
    if args.json && !args.watch {
        let doc = load(link)?;
        let _ = writeln!(stdout, "{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    loop {
        let doc = load(link)?;
        let text = if args.json { serde_json::to_string(&doc)? } else { render(&doc) };
        let written =
            if args.watch && !args.json { write!(stdout, "\x1b[H\x1b[2J{text}") } else { writeln!(stdout, "{text}") };
        if written.and_then(|()| stdout.flush()).is_err() {
            return Ok(ExitCode::SUCCESS); // broken pipe: the reader left
        }
        if !args.watch {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document as the station API's client reads it off the wire.
    fn typed(doc: serde_json::Value) -> StatusDoc {
        serde_json::from_value(doc).expect("a status document")
    }

    #[test]
    fn renders_a_bay_in_both_languages() {
        let doc = serde_json::json!({
            "running": true,
            "daemon": { "dock_root": "/run/evidock/dock", "usb": "watching" },
            "bays": [{
                "volume": "A100001", "serial": "A100001", "officer": "012345 张三", "phase": "done", "phase_zh": "完成",
                "bytes_done": 2048, "bytes_total": 2048, "files_done": 2, "files_total": 2, "battery": 80,
                "verdicts": { "verified": 2 }, "safe_to_undock": true,
                "message": "safe to undock: all footage archived, verified, recorder wiped / 可以拔出：已归档、校验并清除"
            }],
        });
        let text = render(&typed(doc));
        assert!(text.contains("officer 警员 012345 张三"), "{text}");
        assert!(text.contains("100%"), "{text}");
        assert!(text.contains("✔ safe to undock"), "{text}");
        assert!(text.contains("verdicts 校验结果: verified 2"), "{text}");
    }

    #[test]
    fn renders_open_alarms_first_in_both_languages() {
        let alarm = |i: i64| {
            serde_json::json!({
                "id": i, "kind": "fixity", "subject": format!("file:2024/01/10/x/{i}.MP4"),
                "message": "differs from the custody log", "message_zh": "与保管日志记录的哈希值不符",
                "raised": "2024-05-01T08:00:00.000000+00:00", "custody_event": 40 + i, "times": 1,
            })
        };
        let doc = serde_json::json!({ "running": true, "bays": [], "alarms_open": 3, "alarms": [alarm(3), alarm(2)] });
        let text = render(&typed(doc));
        assert!(text.contains("ALARM 警报: 3 open"), "{text}");
        assert!(text.contains("[fixity] file:2024/01/10/x/3.MP4: differs from the custody log"), "{text}");
        assert!(text.contains("与保管日志记录的哈希值不符") && text.contains("#43"), "{text}");
        assert!(text.contains("and 1 more"), "{text}");
        assert!(text.find("ALARM").unwrap() < text.find("no recorder docked").unwrap(), "alarms first: {text}");
        assert!(!render(&typed(serde_json::json!({ "running": true, "bays": [] }))).contains("ALARM"));
    }

    #[test]
    fn renders_what_needs_attention_in_both_languages_and_nothing_when_nothing_does() {
        let doc = serde_json::json!({
            "running": true, "bays": [],
            "attention": {
                "not_in_service": [{ "serial": "X900001", "state": "unregistered", "last_docked": "2026-03-02 09:00:00 Asia/Shanghai", "dockings": 2 }],
                "overdue": [{ "binding": 7, "serial": "J500001", "officer_id": "012345", "officer_name": "张三", "due": "2026-03-02 18:00:00 Asia/Shanghai" }],
                "disk": { "total": 1000, "free": 50, "used_percent": 95, "low": true },
                "review": [{ "docking_id": 4, "serial": "J500002", "finished": "2026-03-02 10:00:00 Asia/Shanghai", "flagged": 3, "problems": ["a.MP4: altered"] }],
            },
        });
        let text = render(&typed(doc));
        assert!(text.contains("attention 需要处理: 4"), "{text}");
        assert!(text.contains("X900001 docked 2 time(s)") && text.contains("未登记"), "{text}");
        assert!(text.contains("binding 绑定 #7") && text.contains("逾期未归还"), "{text}");
        assert!(text.contains("95% used") && text.contains("空间不足"), "{text}");
        assert!(text.contains("docking 接入 #4 J500002") && text.contains("3 flagged segment(s)"), "{text}");
        assert!(text.contains("a.MP4: altered"), "{text}");
        let roomy = serde_json::json!({ "running": true, "bays": [],
            "attention": { "disk": { "total": 1000, "free": 900, "used_percent": 10, "low": false } } });
        assert!(!render(&typed(roomy)).contains("attention"), "a roomy disk alone needs nothing");
    }

    #[test]
    fn renders_a_running_burn_job() {
        let doc = serde_json::json!({
            "running": false, "bays": [],
            "burn": { "job": 3, "disc": 2, "discs": 4, "label": "EVIDOCK_J00003_D02_OF_04", "phase": "staging",
                      "phase_zh": "备妥内容", "bytes_done": 512, "bytes_total": 2048 },
        });
        let text = render(&typed(doc));
        assert!(
            text.contains("burn 刻录 job 任务 3  disc 光盘 2/4 EVIDOCK_J00003_D02_OF_04  staging 备妥内容  25%"),
            "{text}"
        );
    }
}
