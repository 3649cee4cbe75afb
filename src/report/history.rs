//! The chain of custody of a case (R4, R11, R13): every recording filed into it, from docking
//! to now, rendered as text, JSON and a printable bilingual HTML page an archivist can hand to a
//! court (`evidock case history`).
//!
//! Owns: the plain structs the history is made of ([`CaseHistory`] and its parts) and their
//! three renderings ([`text`], [`json`], [`html`]).
//! Must never: read the catalogue, the custody log or the clock. The caller gathers everything
//! (`cli/history.rs`) and passes it in; every function here is a function of its arguments
//! (INV-7). Everything shown in HTML is escaped.

use std::fmt::Write as _;

use serde_json::{json, Value};

/// The whole history of one case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaseHistory {
    /// The case's label.
    pub case: CaseInfo,
    /// Every file filed into the case, in the order of their case paths.
    pub files: Vec<FileHistory>,
    /// Events about the case itself (created, relabelled), oldest first.
    pub case_events: Vec<EventLine>,
    /// The custody log's verification when the history was made.
    pub log: LogStatus,
    /// The latest signed checkpoint stored in the database, if any.
    pub checkpoint: Option<CheckpointInfo>,
    /// When the history was made, station time (RFC 3339).
    pub generated: String,
}

/// A stored instant (RFC 3339, any offset, any fraction) as station time to the second,
/// `YYYY-MM-DD hh:mm:ss`; anything else is returned as it is (R13: one zone, seconds,
/// everywhere a person reads).
pub fn station_time(s: &str, tz: chrono_tz::Tz) -> String {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
        return t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string();
    }
    // A wall-clock time without a zone is station time already (the station's clock).
    match chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S%.f") {
        Ok(n) => n.format("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => s.to_string(),
    }
}

/// An instant as station time to the second with the zone named, `YYYY-MM-DD hh:mm:ss
/// Asia/Shanghai` (R13): for a line that shows a time on its own.
pub fn station_time_at(t: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> String {
    format!("{} {}", t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S"), tz.name())
}

/// A stored instant as [`station_time`] with the zone named; anything that is not a time is
/// returned as it is.
pub fn station_time_named(s: &str, tz: chrono_tz::Tz) -> String {
    let t = station_time(s, tz);
    if t == s {
        t
    } else {
        format!("{t} {}", tz.name())
    }
}

impl CaseHistory {
    /// Every time a person reads, as station time to the second, the zone named once with
    /// the time the history was made (R13, S2 §13). The machine fields (`ts_utc`) stay.
    pub fn in_station_time(&mut self, tz: chrono_tz::Tz) {
        let t = |s: &mut String| *s = station_time(s, tz);
        t(&mut self.case.created);
        for d in &mut self.case.descriptions {
            t(&mut d.at);
        }
        for (from, to) in &mut self.case.windows {
            t(from);
            t(to);
        }
        for f in &mut self.files {
            if let Some(d) = &mut f.docking {
                t(&mut d.started);
                d.finished.iter_mut().for_each(t);
                t(&mut d.dock_clock);
                d.device_clock.iter_mut().for_each(t);
            }
            for v in &mut f.verdicts {
                v.start.iter_mut().for_each(t);
                v.end.iter_mut().for_each(t);
            }
            t(&mut f.copy.stored);
            t(&mut f.filing.at);
            for d in &mut f.descriptions {
                t(&mut d.at);
            }
            f.wipes.iter_mut().for_each(t);
            f.deadline.iter_mut().for_each(t);
            f.purged.iter_mut().for_each(t);
            for r in &mut f.retention {
                t(&mut r.at);
                if let Some(e) = &mut r.ended {
                    if let Some((at, rest)) = e.split_once(" by ") {
                        *e = format!("{} by {rest}", station_time(at, tz));
                    }
                }
            }
            for e in &mut f.events {
                t(&mut e.ts_local);
            }
        }
        for e in &mut self.case_events {
            t(&mut e.ts_local);
        }
        self.generated = format!("{} ({tz}, station time 工作站时间)", station_time(&self.generated, tz));
    }
}

/// A case's label.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaseInfo {
    /// Case number.
    pub number: String,
    /// Folder name in the archive.
    pub folder: String,
    /// Party (当事人).
    pub party: Option<String>,
    /// Handling officers' numbers.
    pub officers: Vec<String>,
    /// Kind, stable name (`penalty`).
    pub kind: String,
    /// Kind, Chinese label.
    pub kind_zh: String,
    /// On-site windows, station local time.
    pub windows: Vec<(String, String)>,
    /// When the case was created (UTC, RFC 3339).
    pub created: String,
    /// Who created it (operating-system user).
    pub created_by: String,
    /// Handling officers by name and badge, as the case folder's label names them (S3 §26).
    pub officers_named: Vec<String>,
    /// Its descriptions (S4 §23), oldest first; the last is in force.
    pub descriptions: Vec<DescriptionInfo>,
}

/// A description of a case or a recording (执法对象, 执法内容, 取证地点; S4 §23).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DescriptionInfo {
    /// 执法对象.
    pub subject: Option<String>,
    /// 执法内容.
    pub content: Option<String>,
    /// 取证地点.
    pub place: Option<String>,
    /// Who wrote it (operating-system user).
    pub by: String,
    /// Their officer number, when an officer wrote it.
    pub officer: Option<String>,
    /// When (UTC, RFC 3339; station time once rendered).
    pub at: String,
}

impl DescriptionInfo {
    fn line(&self) -> String {
        let mut parts = Vec::new();
        for (zh, en, v) in [
            ("执法对象", "subject", &self.subject),
            ("执法内容", "content", &self.content),
            ("取证地点", "place", &self.place),
        ] {
            if let Some(v) = v {
                parts.push(format!("{zh} {en}: {v}"));
            }
        }
        format!(
            "{}  — {}{}, {}",
            parts.join("; "),
            self.by,
            self.officer.as_deref().map(|o| format!(" (警号 {o})")).unwrap_or_default(),
            self.at
        )
    }

    fn value(&self) -> Value {
        json!({
            "subject": self.subject, "content": self.content, "place": self.place, "by": self.by,
            "officer": self.officer, "at": self.at,
        })
    }
}

/// One archived file of the case and everything that happened to it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileHistory {
    /// Catalogue file id.
    pub id: i64,
    /// Recorder serial.
    pub serial: String,
    /// Path on the recorder.
    pub source: String,
    /// Size in bytes.
    pub size: u64,
    /// BLAKE3 of the content, hex.
    pub blake3: String,
    /// The recording it belongs to (`SERIAL/SESSION` or `SERIAL/file-ID`).
    pub recording: String,
    /// The recording's descriptions (S4 §23), oldest first; the last is in force.
    pub descriptions: Vec<DescriptionInfo>,
    /// The docking that brought it in.
    pub docking: Option<DockingInfo>,
    /// The durable copy into the archive.
    pub copy: CopyInfo,
    /// The recorder chain's verdict on each segment the file holds.
    pub verdicts: Vec<VerdictInfo>,
    /// Removals from the recorder after the verified copy (UTC times).
    pub wipes: Vec<String>,
    /// Its filing into this case.
    pub filing: FilingInfo,
    /// Other cases it also serves.
    pub other_cases: Vec<String>,
    /// Long-term retention flags and legal holds on its recording.
    pub retention: Vec<RetentionMark>,
    /// The retention deadline recorded for its recording.
    pub deadline: Option<String>,
    /// When it was purged, if it was.
    pub purged: Option<String>,
    /// Every custody event touching it, oldest first.
    pub events: Vec<EventLine>,
}

/// A docking.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DockingInfo {
    /// Docking id.
    pub id: i64,
    /// When it began (UTC, RFC 3339).
    pub started: String,
    /// When it ended.
    pub finished: Option<String>,
    /// Volume folder.
    pub volume: String,
    /// The recorder's officer number (from its identity file).
    pub officer: Option<String>,
    /// The officer's name.
    pub officer_name: Option<String>,
    /// The recorder's clock when docked.
    pub device_clock: Option<String>,
    /// The station's clock then.
    pub dock_clock: String,
    /// Clock drift, seconds (recorder minus station).
    pub drift_s: Option<i64>,
    /// Whether the drift passed the threshold.
    pub clock_unreliable: Option<bool>,
    /// What the device registry said (`registered`, `unregistered`, …) and its note.
    pub registry: Option<String>,
    /// The outcome of the ingest.
    pub outcome: Option<String>,
}

/// A durable copy into the archive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CopyInfo {
    /// When it was stored (UTC).
    pub stored: String,
    /// Its first path in the archive.
    pub first_path: String,
    /// Its path now.
    pub archive_path: String,
    /// How the copy was read back to check its hash.
    pub read_back: String,
    /// Whether the file was made immutable.
    pub immutable: bool,
}

/// A segment's chain verdict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerdictInfo {
    /// Recording session.
    pub session: Option<String>,
    /// Sequence number in the recorder's chain.
    pub seq: Option<u64>,
    /// The verdict (`verified`, `altered`, …).
    pub verdict: String,
    /// Start and end, corrected for clock drift, station local time.
    pub start: Option<String>,
    /// End.
    pub end: Option<String>,
    /// Explanation.
    pub detail: String,
}

/// A file's filing into the case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FilingInfo {
    /// Path in the case folder.
    pub path: String,
    /// Hard-linked (serving another case too) rather than moved.
    pub linked: bool,
    /// When (UTC).
    pub at: String,
    /// Who.
    pub by: String,
}

/// A retention flag or legal hold.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetentionMark {
    /// `flag` or `hold`.
    pub kind: String,
    /// The trigger (flag) or hold id.
    pub what: String,
    /// Why.
    pub reason: String,
    /// Who set it.
    pub by: String,
    /// When (UTC).
    pub at: String,
    /// Withdrawn or released: who, when, why.
    pub ended: Option<String>,
}

/// One custody event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventLine {
    /// Sequence number.
    pub seq: u64,
    /// UTC time.
    pub ts_utc: String,
    /// Station local time.
    pub ts_local: String,
    /// Who: user (role, officer).
    pub actor: String,
    /// Stable action name.
    pub action: String,
    /// Chinese label of the action, when known.
    pub action_zh: Option<String>,
    /// Subject.
    pub subject: String,
    /// Details, canonical JSON text.
    pub details: String,
    /// Previous event's hash, hex.
    pub prev_hash: String,
    /// This event's hash, hex.
    pub hash: String,
}

/// The custody log's verification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogStatus {
    /// Chain sound and every checkpoint verifies and matches.
    pub intact: bool,
    /// Rows read.
    pub events: u64,
    /// Last event's hash.
    pub head: Option<String>,
    /// The first bad event: seq, reason, Chinese reason.
    pub first_bad: Option<(u64, String, String)>,
    /// Merkle tree size and root (RFC 9162, SHA-256).
    pub tree_size: u64,
    /// Root, hex.
    pub root: String,
    /// Checkpoints checked.
    pub checkpoints_checked: usize,
    /// Checkpoints with a problem.
    pub checkpoints_bad: usize,
    /// What could not be checked (no verifier key, …).
    pub note: Option<String>,
}

/// A signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckpointInfo {
    /// Row id.
    pub id: u64,
    /// When made (UTC).
    pub made_utc: String,
    /// Events it covers.
    pub tree_size: u64,
    /// Root hash, hex.
    pub root: String,
    /// The signed note, exactly as signed.
    pub note: String,
    /// Whether it verified with the key and matches the log (`None`: not checked).
    pub verified: Option<bool>,
    /// The verifier key (`<name>+<id>+<key>`) to check it with.
    pub verifier_key: Option<String>,
}

fn or_dash(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
}

fn drift_text(d: &DockingInfo) -> String {
    match (d.drift_s, d.clock_unreliable) {
        (Some(s), Some(true)) => format!("{s:+} s (over threshold 超出阈值)"),
        (Some(s), _) => format!("{s:+} s"),
        (None, _) => "unknown 未知".to_string(),
    }
}

fn filing_how(f: &FilingInfo) -> &'static str {
    if f.linked {
        "linked 链接"
    } else {
        "moved 移入"
    }
}

/// Control characters shown escaped (a terminal escape in a stored value is never sent raw).
fn printable(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

fn event_text(out: &mut String, e: &EventLine) {
    let _ = writeln!(
        out,
        "    #{:<6} {}  {}{}  {}  {}\n            details {}\n            hash {}",
        e.seq,
        printable(&e.ts_local),
        printable(&e.action),
        e.action_zh.as_deref().map(|z| format!(" {z}")).unwrap_or_default(),
        printable(&e.subject),
        printable(&e.actor),
        printable(&e.details),
        e.hash
    );
}

/// The history as plain text, bilingual labels.
pub fn text(h: &CaseHistory) -> String {
    let c = &h.case;
    let mut o = String::new();
    let _ = writeln!(o, "chain of custody 证据保管链: case 案件 {}", printable(&c.number));
    let _ = writeln!(o, "party 当事人:        {}", printable(or_dash(&c.party)));
    let _ = writeln!(o, "officers 承办人员:   {}", printable(&c.officers_named.join(", ")));
    let _ = writeln!(o, "kind 类别:           {} {}", c.kind, c.kind_zh);
    for (i, d) in c.descriptions.iter().enumerate() {
        let old = if i + 1 < c.descriptions.len() { " (superseded 已被替代)" } else { "" };
        let _ = writeln!(o, "described 说明:      {}{old}", printable(&d.line()));
    }
    for (a, b) in &c.windows {
        let _ = writeln!(o, "on site 现场时段:    {} – {}", printable(a), printable(b));
    }
    let _ = writeln!(o, "created 创建:        {} by {}", c.created, printable(&c.created_by));
    let _ = writeln!(o, "folder 目录:         {}", printable(&c.folder));
    let _ = writeln!(o, "generated 生成时间:  {}", h.generated);
    let _ = writeln!(o, "files 录像文件:      {}", h.files.len());
    for (i, f) in h.files.iter().enumerate() {
        let _ = writeln!(o, "\n[{}] {} {}  ({})", i + 1, f.serial, printable(&f.source), f.recording);
        let _ = writeln!(o, "  BLAKE3 {}  {} bytes", f.blake3, f.size);
        for (i, d) in f.descriptions.iter().enumerate() {
            let old = if i + 1 < f.descriptions.len() { " (superseded 已被替代)" } else { "" };
            let _ = writeln!(o, "  described 说明: {}{old}", printable(&d.line()));
        }
        match &f.docking {
            Some(d) => {
                let _ = writeln!(
                    o,
                    "  docked 接入: {} (docking {}, volume {}), officer 警号 {} {}, clock drift 时钟偏差 {}, registry 登记 {}",
                    d.started,
                    d.id,
                    printable(&d.volume),
                    printable(or_dash(&d.officer)),
                    printable(or_dash(&d.officer_name)),
                    drift_text(d),
                    printable(or_dash(&d.registry))
                );
            }
            None => o.push_str("  docked 接入: unknown 未知\n"),
        }
        let _ = writeln!(
            o,
            "  copied 复制: {} to {}, read back 回读 {}, immutable 不可变 {}",
            f.copy.stored,
            printable(&f.copy.first_path),
            printable(&f.copy.read_back),
            if f.copy.immutable { "yes" } else { "no" }
        );
        for v in &f.verdicts {
            let _ = writeln!(
                o,
                "  verified 校验: {} (session {}, seq {}, {} – {}) {}",
                v.verdict,
                printable(or_dash(&v.session)),
                v.seq.map_or("-".into(), |s| s.to_string()),
                or_dash(&v.start),
                or_dash(&v.end),
                printable(&v.detail)
            );
        }
        if f.verdicts.is_empty() {
            o.push_str("  verified 校验: no chain record 无链记录\n");
        }
        for w in &f.wipes {
            let _ = writeln!(o, "  wiped 从记录仪清除: {w}");
        }
        if f.wipes.is_empty() {
            o.push_str("  wiped 从记录仪清除: no 否\n");
        }
        let _ = writeln!(
            o,
            "  filed 归入案件: {} {} by {} to {}",
            f.filing.at,
            filing_how(&f.filing),
            printable(&f.filing.by),
            printable(&f.filing.path)
        );
        if !f.other_cases.is_empty() {
            let _ = writeln!(o, "  also in 同时归入: {}", printable(&f.other_cases.join(", ")));
        }
        for r in &f.retention {
            let _ = writeln!(
                o,
                "  {} {}: {} — {} by {} at {}{}",
                r.kind,
                if r.kind == "hold" { "保全" } else { "长期保存" },
                printable(&r.what),
                printable(&r.reason),
                printable(&r.by),
                r.at,
                r.ended.as_deref().map(|e| format!("; ended 已解除: {}", printable(e))).unwrap_or_default()
            );
        }
        if let Some(d) = &f.deadline {
            let _ = writeln!(o, "  retention deadline 保存期限: {}", printable(d));
        }
        if let Some(p) = &f.purged {
            let _ = writeln!(o, "  purged 已删除: {p}");
        }
        let _ = writeln!(o, "  custody events 保管事件 ({}):", f.events.len());
        for e in &f.events {
            event_text(&mut o, e);
        }
    }
    let _ = writeln!(o, "\ncase events 案件事件 ({}):", h.case_events.len());
    for e in &h.case_events {
        event_text(&mut o, e);
    }
    o.push('\n');
    o.push_str(&log_text(&h.log));
    match &h.checkpoint {
        Some(cp) => {
            let _ = writeln!(
                o,
                "latest checkpoint 最新检查点: #{} made {} covering {} events, root {}, {}",
                cp.id,
                cp.made_utc,
                cp.tree_size,
                cp.root,
                verified_text(cp.verified)
            );
            if let Some(k) = &cp.verifier_key {
                let _ = writeln!(o, "verifier key 验证公钥: {}", printable(k));
            }
            o.push_str(&cp.note);
            if !cp.note.ends_with('\n') {
                o.push('\n');
            }
        }
        None => o.push_str("latest checkpoint 最新检查点: none 无 (run `evidock log checkpoint`)\n"),
    }
    o
}

fn verified_text(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "verified 已验证",
        Some(false) => "DOES NOT VERIFY 验证失败",
        None => "not checked 未核对",
    }
}

fn log_text(l: &LogStatus) -> String {
    let mut o = String::new();
    if l.intact {
        let _ = writeln!(
            o,
            "custody log 保管日志: intact 完好, {} events, head {}",
            l.events,
            l.head.as_deref().unwrap_or("-")
        );
    } else {
        let _ = writeln!(o, "custody log 保管日志: BROKEN 校验失败 ({} rows read)", l.events);
    }
    if let Some((seq, r, zh)) = &l.first_bad {
        let _ = writeln!(o, "first bad event 首个异常事件: #{seq}: {} / {}", printable(r), printable(zh));
    }
    let _ = writeln!(o, "Merkle root (RFC 9162, SHA-256) at {} events: {}", l.tree_size, l.root);
    let _ = writeln!(o, "checkpoints checked 已核对检查点: {}, bad 异常: {}", l.checkpoints_checked, l.checkpoints_bad);
    if let Some(n) = &l.note {
        let _ = writeln!(o, "note 说明: {}", printable(n));
    }
    o
}

fn event_value(e: &EventLine) -> Value {
    let details = serde_json::from_str::<Value>(&e.details).unwrap_or_else(|_| Value::String(e.details.clone()));
    json!({
        "seq": e.seq, "ts_utc": e.ts_utc, "ts_local": e.ts_local, "actor": e.actor, "action": e.action,
        "action_zh": e.action_zh, "subject": e.subject, "details": details, "prev_hash": e.prev_hash, "hash": e.hash,
    })
}

/// The history as one JSON object (one line).
pub fn json(h: &CaseHistory) -> String {
    let c = &h.case;
    let files: Vec<Value> = h
        .files
        .iter()
        .map(|f| {
            json!({
                "file": f.id, "serial": f.serial, "source": f.source, "size": f.size, "blake3": f.blake3,
                "recording": f.recording,
                "descriptions": f.descriptions.iter().map(DescriptionInfo::value).collect::<Vec<_>>(),
                "docking": f.docking.as_ref().map(|d| json!({
                    "id": d.id, "started": d.started, "finished": d.finished, "volume": d.volume, "officer": d.officer,
                    "officer_name": d.officer_name, "device_clock": d.device_clock, "dock_clock": d.dock_clock,
                    "drift_s": d.drift_s, "clock_unreliable": d.clock_unreliable, "registry": d.registry, "outcome": d.outcome,
                })),
                "copy": {
                    "stored": f.copy.stored, "first_path": f.copy.first_path, "archive_path": f.copy.archive_path,
                    "read_back": f.copy.read_back, "immutable": f.copy.immutable,
                },
                "verdicts": f.verdicts.iter().map(|v| json!({
                    "session": v.session, "seq": v.seq, "verdict": v.verdict, "start": v.start, "end": v.end, "detail": v.detail,
                })).collect::<Vec<_>>(),
                "wiped": f.wipes,
                "filing": {
                    "path": f.filing.path, "how": if f.filing.linked { "linked" } else { "moved" }, "at": f.filing.at,
                    "by": f.filing.by,
                },
                "other_cases": f.other_cases,
                "retention": f.retention.iter().map(|r| json!({
                    "kind": r.kind, "what": r.what, "reason": r.reason, "by": r.by, "at": r.at, "ended": r.ended,
                })).collect::<Vec<_>>(),
                "deadline": f.deadline,
                "purged": f.purged,
                "events": f.events.iter().map(event_value).collect::<Vec<_>>(),
            })
        })
        .collect();
    let l = &h.log;
    json!({
        "case": {
            "number": c.number, "folder": c.folder, "party": c.party, "officers": c.officers, "kind": c.kind,
            "kind_zh": c.kind_zh, "windows": c.windows.iter().map(|(a, b)| [a, b]).collect::<Vec<_>>(),
            "created": c.created, "created_by": c.created_by, "officers_named": c.officers_named,
            "descriptions": c.descriptions.iter().map(DescriptionInfo::value).collect::<Vec<_>>(),
        },
        "files": files,
        "case_events": h.case_events.iter().map(event_value).collect::<Vec<_>>(),
        "log": {
            "intact": l.intact, "events": l.events, "head": l.head,
            "first_bad": l.first_bad.as_ref().map(|(s, r, z)| json!({"seq": s, "reason": r, "reason_zh": z})),
            "tree": {"size": l.tree_size, "root": l.root},
            "checkpoints_checked": l.checkpoints_checked, "checkpoints_bad": l.checkpoints_bad, "note": l.note,
        },
        "checkpoint": h.checkpoint.as_ref().map(|cp| json!({
            "id": cp.id, "made_utc": cp.made_utc, "tree_size": cp.tree_size, "root": cp.root, "note": cp.note,
            "verified": cp.verified, "verifier_key": cp.verifier_key,
        })),
        "generated": h.generated,
    })
    .to_string()
        + "\n"
}

/// HTML-escapes text for element content and attribute values.
fn e(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(o, "&#x{:x};", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

/// The printable page's style sheet (inline, so the page stands alone; the web page allows
/// exactly this text by its hash).
pub const STYLE: &str = "body{font-family:\"Noto Sans CJK SC\",\"Source Han Sans SC\",\"Microsoft YaHei\",sans-serif;\
margin:2em;color:#111;font-size:11pt}h1{font-size:18pt}h2{font-size:14pt;border-bottom:1px solid #444;margin-top:1.6em}\
h3{font-size:12pt;margin-top:1.2em}.en{color:#444;font-weight:normal}table{border-collapse:collapse;width:100%;margin:.4em 0}\
th,td{border:1px solid #999;padding:2px 5px;vertical-align:top;text-align:left}th{background:#eee;width:16em}\
code,.hash{font-family:monospace;font-size:9pt;word-break:break-all}.bad{color:#a00;font-weight:bold}\
pre{white-space:pre-wrap;font-size:9pt;border:1px solid #999;padding:4px}section.file{page-break-inside:avoid}\
@media print{body{margin:1cm}a{color:#111}}";

fn kv(rows: &[(&str, &str, String)]) -> String {
    let mut o = String::from("<table>\n");
    for (zh, en, v) in rows {
        let _ = writeln!(o, "<tr><th>{zh} <span class=\"en\">{en}</span></th><td>{v}</td></tr>");
    }
    o.push_str("</table>\n");
    o
}

fn events_html(events: &[EventLine]) -> String {
    let mut o = String::from(
        "<table>\n<thead><tr><th>序号 <span class=\"en\">seq</span></th><th>时间 <span class=\"en\">time</span></th>\
         <th>动作 <span class=\"en\">action</span></th><th>对象 <span class=\"en\">subject</span></th>\
         <th>操作人 <span class=\"en\">actor</span></th><th>详情与哈希 <span class=\"en\">details and hash</span></th></tr></thead>\n<tbody>\n",
    );
    for ev in events {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td><code>{}</code><br><span class=\"hash\">prev {}<br>hash {}</span></td></tr>",
            ev.seq,
            e(&ev.ts_local),
            e(&ev.action),
            ev.action_zh.as_deref().map(|z| format!("<br>{}", e(z))).unwrap_or_default(),
            e(&ev.subject),
            e(&ev.actor),
            e(&ev.details),
            ev.prev_hash,
            ev.hash
        );
    }
    o.push_str("</tbody>\n</table>\n");
    o
}

fn descriptions_html(list: &[DescriptionInfo]) -> String {
    if list.is_empty() {
        return "-".to_string();
    }
    list.iter()
        .enumerate()
        .map(|(i, d)| {
            let line = e(&d.line());
            if i + 1 < list.len() {
                format!("<s>{line}</s> (superseded 已被替代)")
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

/// The history as a self-contained printable HTML page: UTF-8, every value escaped, bilingual
/// headings.
pub fn html(h: &CaseHistory) -> String {
    let c = &h.case;
    let mut b = String::new();
    let _ = writeln!(b, "<h2>案件信息 <span class=\"en\">Case</span></h2>");
    b.push_str(&kv(&[
        ("案件编号", "case number", e(&c.number)),
        ("当事人", "party", e(or_dash(&c.party))),
        ("承办人员", "handling officers", e(&c.officers_named.join(", "))),
        ("类别", "kind", format!("{} {}", e(&c.kind_zh), e(&c.kind))),
        ("说明", "description", descriptions_html(&c.descriptions)),
        (
            "现场时段",
            "on-site windows",
            c.windows.iter().map(|(a, z)| format!("{} – {}", e(a), e(z))).collect::<Vec<_>>().join("<br>"),
        ),
        ("创建", "created", format!("{} ({})", e(&c.created), e(&c.created_by))),
        ("归档目录", "archive folder", e(&c.folder)),
        ("录像文件数", "files", h.files.len().to_string()),
        ("报告生成时间", "generated", e(&h.generated)),
    ]));
    let _ = writeln!(b, "<h2>录像保管链 <span class=\"en\">Chain of custody of each recording</span></h2>");
    for (i, f) in h.files.iter().enumerate() {
        let _ = writeln!(
            b,
            "<section class=\"file\">\n<h3>{}. {} {} <span class=\"en\">({})</span></h3>",
            i + 1,
            e(&f.serial),
            e(&f.source),
            e(&f.recording)
        );
        let docking = match &f.docking {
            Some(d) => format!(
                "docked {} (docking {}, volume {})<br>officer 警号 {} {}<br>clock drift 时钟偏差 {}<br>registry 登记状态 {}<br>outcome 结果 {}",
                e(&d.started),
                d.id,
                e(&d.volume),
                e(or_dash(&d.officer)),
                e(or_dash(&d.officer_name)),
                e(&drift_text(d)),
                e(or_dash(&d.registry)),
                e(or_dash(&d.outcome))
            ),
            None => "unknown 未知".to_string(),
        };
        let verdicts = if f.verdicts.is_empty() {
            "no chain record 无链记录".to_string()
        } else {
            f.verdicts
                .iter()
                .map(|v| {
                    let cls = if v.verdict == "verified" { "" } else { " class=\"bad\"" };
                    format!(
                        "<span{cls}>{}</span> (session {}, seq {}, {} – {}) {}",
                        e(&v.verdict),
                        e(or_dash(&v.session)),
                        v.seq.map_or("-".into(), |s| s.to_string()),
                        e(or_dash(&v.start)),
                        e(or_dash(&v.end)),
                        e(&v.detail)
                    )
                })
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let wipes = if f.wipes.is_empty() {
            "not wiped 未清除".to_string()
        } else {
            f.wipes.iter().map(|w| format!("wiped {}", e(w))).collect::<Vec<_>>().join("<br>")
        };
        let retention = if f.retention.is_empty() && f.deadline.is_none() {
            "-".to_string()
        } else {
            let mut parts: Vec<String> = f
                .retention
                .iter()
                .map(|r| {
                    format!(
                        "{} {}: {} — {} ({}, {}){}",
                        r.kind,
                        if r.kind == "hold" { "保全" } else { "长期保存" },
                        e(&r.what),
                        e(&r.reason),
                        e(&r.by),
                        e(&r.at),
                        r.ended.as_deref().map(|x| format!("; ended 已解除 {}", e(x))).unwrap_or_default()
                    )
                })
                .collect();
            if let Some(d) = &f.deadline {
                parts.push(format!("deadline 保存期限 {}", e(d)));
            }
            parts.join("<br>")
        };
        b.push_str(&kv(&[
            ("说明", "description", descriptions_html(&f.descriptions)),
            ("文件哈希", "BLAKE3", format!("<span class=\"hash\">{}</span>", e(&f.blake3))),
            ("大小", "size", format!("{} bytes", f.size)),
            ("接入", "docked", docking),
            (
                "复制归档",
                "copied",
                format!(
                    "copied {} to {}<br>read back 回读 {}, immutable 不可变 {}<br>now at 现位置 {}",
                    e(&f.copy.stored),
                    e(&f.copy.first_path),
                    e(&f.copy.read_back),
                    if f.copy.immutable { "yes 是" } else { "no 否" },
                    e(&f.copy.archive_path)
                ),
            ),
            ("校验结论", "verified", verdicts),
            ("记录仪清除", "wiped", wipes),
            (
                "归入案件",
                "filed",
                format!(
                    "filed {} {} by {}<br>{}",
                    e(&f.filing.at),
                    filing_how(&f.filing),
                    e(&f.filing.by),
                    e(&f.filing.path)
                ),
            ),
            (
                "同时归入",
                "also in cases",
                if f.other_cases.is_empty() { "-".into() } else { e(&f.other_cases.join(", ")) },
            ),
            ("保存标记与保全", "retention and holds", retention),
            ("删除", "purged", e(or_dash(&f.purged))),
        ]));
        let _ = writeln!(b, "<h4>保管事件 <span class=\"en\">Custody events ({})</span></h4>", f.events.len());
        b.push_str(&events_html(&f.events));
        b.push_str("</section>\n");
    }
    let _ = writeln!(b, "<h2>案件事件 <span class=\"en\">Case events</span></h2>");
    b.push_str(&events_html(&h.case_events));
    let _ = writeln!(b, "<h2>保管日志校验 <span class=\"en\">Custody log verification</span></h2>");
    let l = &h.log;
    b.push_str(&kv(&[
        (
            "结论",
            "result",
            if l.intact {
                "intact 完好".to_string()
            } else {
                "<span class=\"bad\">BROKEN 校验失败</span>".to_string()
            },
        ),
        ("事件数", "events", l.events.to_string()),
        ("链头", "head", format!("<span class=\"hash\">{}</span>", e(l.head.as_deref().unwrap_or("-")))),
        (
            "首个异常事件",
            "first bad event",
            l.first_bad
                .as_ref()
                .map_or("-".into(), |(s, r, z)| format!("<span class=\"bad\">#{s}: {} / {}</span>", e(r), e(z))),
        ),
        (
            "默克尔树根",
            "Merkle root (RFC 9162, SHA-256)",
            format!("{} events: <span class=\"hash\">{}</span>", l.tree_size, e(&l.root)),
        ),
        ("已核对检查点", "checkpoints checked", format!("{} (bad 异常 {})", l.checkpoints_checked, l.checkpoints_bad)),
        ("说明", "note", e(or_dash(&l.note))),
    ]));
    let _ = writeln!(b, "<h2>最新签名检查点 <span class=\"en\">Latest signed checkpoint</span></h2>");
    match &h.checkpoint {
        Some(cp) => {
            b.push_str(&kv(&[
                ("编号", "id", cp.id.to_string()),
                ("生成时间", "made (UTC)", e(&cp.made_utc)),
                ("覆盖事件数", "tree size", cp.tree_size.to_string()),
                ("树根", "root", format!("<span class=\"hash\">{}</span>", e(&cp.root))),
                ("验证", "verification", verified_text(cp.verified).to_string()),
                (
                    "验证公钥",
                    "verifier key",
                    format!("<span class=\"hash\">{}</span>", e(cp.verifier_key.as_deref().unwrap_or("-"))),
                ),
            ]));
            let _ = writeln!(b, "<pre>{}</pre>", e(&cp.note));
        }
        None => b.push_str("<p>none 无</p>\n"),
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>证据保管链 Chain of custody {}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1>证据保管链 <span class=\"en\">Chain of custody</span>: {}</h1>\n{b}</body>\n</html>\n",
        e(&c.number),
        e(&c.number)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CaseHistory {
        let ev = |seq: u64, action: &str, subject: &str| EventLine {
            seq,
            ts_utc: "2024-05-01T08:30:00.000Z".into(),
            ts_local: "2024-05-01T16:30:00.000+08:00".into(),
            actor: "evidock (system)".into(),
            action: action.into(),
            action_zh: Some("记录仪接入".into()),
            subject: subject.into(),
            details: r#"{"note":"<b>&"}"#.into(),
            prev_hash: "00".repeat(32),
            hash: "ab".repeat(32),
        };
        CaseHistory {
            case: CaseInfo {
                number: "宜卫罚〔2024〕12号".into(),
                folder: "宜卫罚〔2024〕12号".into(),
                party: Some("<script>alert(1)</script>餐饮".into()),
                officers: vec!["012345".into()],
                kind: "penalty".into(),
                kind_zh: "行政处罚".into(),
                windows: vec![("2024-05-01T08:00:00".into(), "2024-05-01T12:00:00".into())],
                created: "2024-05-02T01:00:00+00:00".into(),
                created_by: "archivist".into(),
                officers_named: vec!["张三 (警号 012345)".into()],
                descriptions: vec![DescriptionInfo {
                    subject: Some("<i>某某</i>餐饮".into()),
                    content: Some("现场检查".into()),
                    place: Some("吴家山街 12 号".into()),
                    by: "zhangsan".into(),
                    officer: Some("012345".into()),
                    at: "2024-05-02T02:00:00+00:00".into(),
                }],
            },
            files: vec![FileHistory {
                id: 7,
                serial: "A100001".into(),
                source: "DCIM/100/0001.MP4".into(),
                size: 1000,
                blake3: "cd".repeat(32),
                recording: "A100001/20240501-083000".into(),
                descriptions: Vec::new(),
                docking: Some(DockingInfo {
                    id: 3,
                    started: "2024-05-01T09:00:00+00:00".into(),
                    finished: None,
                    volume: "bay1".into(),
                    officer: Some("012345".into()),
                    officer_name: Some("张三".into()),
                    device_clock: None,
                    dock_clock: "2024-05-01T17:00:00".into(),
                    drift_s: Some(-3),
                    clock_unreliable: Some(false),
                    registry: Some("registered".into()),
                    outcome: Some("done".into()),
                }),
                copy: CopyInfo {
                    stored: "2024-05-01T09:01:00+00:00".into(),
                    first_path: "2024/05/01/UNASSIGNED/x".into(),
                    archive_path: "2024/05/01/case/x".into(),
                    read_back: "direct".into(),
                    immutable: false,
                },
                verdicts: vec![VerdictInfo {
                    session: Some("20240501-083000".into()),
                    seq: Some(1),
                    verdict: "verified".into(),
                    start: None,
                    end: None,
                    detail: String::new(),
                }],
                wipes: vec!["2024-05-01T09:02:00+00:00".into()],
                filing: FilingInfo {
                    path: "2024/05/01/case/x".into(),
                    linked: false,
                    at: "2024-05-02T01:00:00+00:00".into(),
                    by: "archivist".into(),
                },
                other_cases: vec![],
                retention: vec![],
                deadline: None,
                purged: None,
                events: vec![ev(1, "docked", "docking:3")],
            }],
            case_events: vec![ev(2, "case_created", "case:宜卫罚〔2024〕12号")],
            log: LogStatus {
                intact: true,
                events: 2,
                head: Some("ab".repeat(32)),
                first_bad: None,
                tree_size: 2,
                root: "ef".repeat(32),
                checkpoints_checked: 0,
                checkpoints_bad: 0,
                note: None,
            },
            checkpoint: None,
            generated: "2024-05-02T09:00:00+08:00".into(),
        }
    }

    #[test]
    fn html_escapes_everything_and_names_each_step() {
        let page = html(&sample());
        assert!(!page.contains("<script>"), "party escaped");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;餐饮"));
        assert!(page.contains("{&quot;note&quot;:&quot;&lt;b&gt;&amp;&quot;}"), "details escaped");
        for word in
            ["docked", "copied", "verified", "wiped", "filed", "接入", "复制归档", "归入案件", "宜卫罚〔2024〕12号"]
        {
            assert!(page.contains(word), "{word}");
        }
        assert!(page.contains(&"cd".repeat(32)), "BLAKE3 shown");
        assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<meta charset=\"utf-8\">"));
    }

    #[test]
    fn json_parses_and_carries_the_hashes() {
        let v: Value = serde_json::from_str(&json(&sample())).expect("valid JSON");
        assert_eq!(v["case"]["party"], "<script>alert(1)</script>餐饮");
        assert_eq!(v["files"][0]["blake3"], "cd".repeat(32));
        assert_eq!(v["files"][0]["events"][0]["details"]["note"], "<b>&");
        assert_eq!(v["files"][0]["filing"]["how"], "moved");
        assert_eq!(v["log"]["intact"], true);
        assert_eq!(v["checkpoint"], Value::Null);
    }

    #[test]
    fn text_lists_steps_and_hides_control_characters() {
        let mut h = sample();
        h.case.party = Some("x\u{1b}[2Jy".into());
        let t = text(&h);
        assert!(!t.contains('\u{1b}'));
        for word in ["docked", "copied", "verified", "wiped", "filed", "intact"] {
            assert!(t.contains(word), "{word}");
        }
    }

    /// INV-7: the renderer is pure (no I/O, no database, no clock).
    /// R13, S2 §13 (记录的时间应与文书记载一致): one zone, to the second, wherever a person
    /// reads; the UTC instant stays for machines.
    #[test]
    fn every_time_a_person_reads_is_station_time_to_the_second() {
        let tz = chrono_tz::Asia::Shanghai;
        assert_eq!(station_time("2024-05-01T09:00:00.123456789+00:00", tz), "2024-05-01 17:00:00");
        assert_eq!(station_time("2024-05-01T16:30:00.000+08:00", tz), "2024-05-01 16:30:00");
        assert_eq!(station_time("direct", tz), "direct");
        assert_eq!(station_time("2024-05-01T17:00:00", tz), "2024-05-01 17:00:00");
        let mut h = sample();
        h.in_station_time(tz);
        let text = text(&h);
        assert!(text.contains("2024-05-01 17:00:00") && text.contains("Asia/Shanghai"), "{text}");
        for bad in ["T09:00:00", "+00:00", ".000"] {
            assert!(!text.contains(bad), "{bad} in {text}");
        }
        assert!(json(&h).contains("2024-05-01T08:30:00.000Z"), "ts_utc kept for machines");
    }

    #[test]
    fn history_module_is_pure() {
        crate::custody::chain::tests::assert_pure(include_str!("history.rs"));
    }
}
