//! Renderers for compliance reports and spot-check samples: a text table (bilingual headers,
//! aligned for Chinese double-width characters), JSON, CSV (RFC 4180) and a printable,
//! self-contained HTML page.
//!
//! # JSON shape of a compliance report (`format` = `evidock-compliance/1`)
//!
//! ```text
//! { "format": "evidock-compliance/1",
//!   "period": { "from": "2026-03-01T00:00:00", "to": "2026-04-01T00:00:00" },   // station-local, to excluded
//!   "timezone": "Asia/Shanghai",
//!   "generated_at": "2026-04-02T01:00:00Z",
//!   "rules": { "ingest_deadline": "2wd", "ingest_deadline_after_return": "24h", "drift_threshold_s": 30,
//!              "no_case_after_days": 30 },
//!   "notes": [ "…" ],
//!   "recordings": 12, "windows": 3,
//!   "findings": [ { "rule": "R3", "kind": "late-ingest", "officers": ["3201001"], "device": "ZFY0001" | null,
//!                   "recording": "…" | null, "case": "…" | null, "detail": "…", "detail_zh": "…" } ],
//!   "by_officer": [ { "officer": "3201001" | null, "name": "王五" | null, "recordings": 4,
//!                     "findings": { "late-ingest": 1, …every kind… }, "total": 1 } ],
//!   "by_device": [ { "device": "ZFY0001", "recordings": 4, "findings": { … }, "total": 1 } ] }
//! ```
//!
//! Every key is always present; `findings` maps every kind name of `Kind::ALL`, in that order.
//! Fields are only ever added in a new format version.
//!
//! # JSON shape of a spot check (`format` = `evidock-spot-check/1`)
//!
//! ```text
//! { "format": "evidock-spot-check/1", "period": { "from": …, "to": … }, "seed": "12345" (decimal string),
//!   "method": "splitmix64-fisher-yates/1: …", "population": 40, "requested": 5,
//!   "picks": [ { "recording": "…", "device": "…", "officer": "…" | null, "start": "…", "end": "…",
//!                "cases": ["…"] } ] }
//! ```

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::{Finding, Kind, Report, SpotCheck, Tally};

/// Whether CSV output starts with a UTF-8 byte-order mark (Excel needs it to read Chinese).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bom {
    /// Start with U+FEFF.
    With,
    /// Plain UTF-8.
    Without,
}

/// Columns printed on screen, counting Chinese and other wide characters as two.
pub fn display_width(s: &str) -> usize {
    s.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

fn pad(s: &str, width: usize) -> String {
    let mut out = s.to_string();
    for _ in display_width(s)..width {
        out.push(' ');
    }
    out
}

/// Lays out rows under a header, columns separated by two spaces; the last column is not padded.
fn grid(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| display_width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(display_width(cell));
            }
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let parts: Vec<String> =
            cells.iter().enumerate().map(|(i, c)| if i == last { c.to_string() } else { pad(c, widths[i]) }).collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(&mut out, header.to_vec());
    line(&mut out, widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().iter().map(String::as_str).collect());
    for row in rows {
        line(&mut out, row.iter().map(String::as_str).collect());
    }
    out
}

fn wall(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn iso_local(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn iso_utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn officer_label(t: &Tally) -> String {
    match (&t.key, &t.name) {
        (Some(k), Some(n)) => format!("{n} ({k})"),
        (Some(k), None) => k.clone(),
        (None, _) => "未知 unknown".to_string(),
    }
}

fn breakdown(t: &Tally) -> String {
    let parts: Vec<String> = Kind::ALL
        .iter()
        .filter(|k| t.count(**k) > 0)
        .map(|k| format!("{} {}×{}", k.rule(), k.label_zh(), t.count(*k)))
        .collect();
    parts.join(", ")
}

fn finding_row(f: &Finding) -> Vec<String> {
    vec![
        f.kind.rule().to_string(),
        format!("{} {}", f.kind.label_zh(), f.kind.label_en()),
        f.officers.join(", "),
        f.device.clone().unwrap_or_default(),
        f.recording.clone().unwrap_or_default(),
        f.case.clone().unwrap_or_default(),
        format!("{} / {}", f.detail_zh, f.detail),
    ]
}

const FINDING_HEADER: [&str; 7] =
    ["规则 Rule", "问题 Finding", "执法人员 Officer", "记录仪 Recorder", "录像 Recording", "案件 Case", "说明 Detail"];

fn rules_line(r: &Report) -> String {
    format!(
        "入库期限 ingest deadline {} (返回单位后 after return {}); 时间偏差阈值 drift threshold {} s; 关联案件期限 file to a case within {} days",
        r.rules.ingest, r.rules.ingest_after_return, r.rules.drift_threshold_s, r.rules.no_case_after_days
    )
}

/// The report as a text table for a terminal.
pub fn table(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "执法音像记录合规报告 Compliance report");
    let _ = writeln!(
        out,
        "期间 Period: {} – {} ({})   生成 Generated: {}",
        wall(r.period.from),
        wall(r.period.to),
        r.rules.tz.name(),
        crate::report::history::station_time_at(r.generated_at, r.rules.tz)
    );
    let _ = writeln!(out, "{}", rules_line(r));
    let _ = writeln!(
        out,
        "录像 Recordings: {}   现场时段 On-site windows: {}   问题 Findings: {}",
        r.recordings,
        r.windows,
        r.findings.len()
    );
    for n in &r.notes {
        let _ = writeln!(out, "注意 Note: {n}");
    }
    out.push('\n');
    let summary = |tallies: &[Tally], first: &str, label: &dyn Fn(&Tally) -> String| {
        let rows: Vec<Vec<String>> = tallies
            .iter()
            .map(|t| vec![label(t), t.recordings.to_string(), t.total().to_string(), breakdown(t)])
            .collect();
        grid(&[first, "录像 Recordings", "问题 Findings", "明细 Breakdown"], &rows)
    };
    let _ = writeln!(out, "按执法人员 By officer");
    out.push_str(&summary(&r.by_officer, "执法人员 Officer", &officer_label));
    out.push('\n');
    let _ = writeln!(out, "按记录仪 By recorder");
    out.push_str(&summary(&r.by_device, "记录仪 Recorder", &|t: &Tally| t.key.clone().unwrap_or_default()));
    out.push('\n');
    let _ = writeln!(out, "问题明细 Findings");
    if r.findings.is_empty() {
        let _ = writeln!(out, "无 None");
    } else {
        let rows: Vec<Vec<String>> = r.findings.iter().map(finding_row).collect();
        out.push_str(&grid(&FINDING_HEADER, &rows));
    }
    out.push_str(&exempted_lines(r));
    if let Some(f) = &r.fixity {
        let _ = writeln!(out, "\n归档巡检 Archive fixity (R11)");
        for l in f.lines() {
            let _ = writeln!(out, "{l}");
        }
    }
    if !r.contradictions.is_empty() {
        let _ = writeln!(out, "\n{CONTRADICTIONS_HEADING} ({})", r.contradictions.len());
        for c in &r.contradictions {
            let _ = writeln!(out, "  ! {}", c.line());
        }
    }
    out
}

/// Missing footage approved exemptions cover (S1 §8), one line each; nothing when none.
fn exempted_lines(r: &Report) -> String {
    let mut out = String::new();
    if r.exempted.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\n经批准不予录像（不计为问题） Exempted by an approval not to record (S1 §8): {}",
        r.exempted.len()
    );
    for e in &r.exempted {
        let ids = e.exemptions.iter().map(|i| format!("#{i}")).collect::<Vec<_>>().join(", ");
        let _ = writeln!(
            out,
            "  {} {} [{}] {} / {} — exemption 批准 {ids}",
            e.finding.case.as_deref().unwrap_or("-"),
            e.finding.officers.join(","),
            e.finding.kind.as_str(),
            e.finding.detail_zh,
            e.finding.detail
        );
    }
    out
}

/// The heading of the dock's contradictions (R5, R13).
const CONTRADICTIONS_HEADING: &str =
    "记录仪哈希链与本站记忆的矛盾 Contradictions with the recorders' chains and the dock memory (R5, R13)";

/// A JSON string literal.
fn js(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // U+2028 and U+2029 are valid JSON but break JavaScript embedding; escape them too.
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn js_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "null".to_string(), js)
}

fn js_list(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| js(s)).collect();
    format!("[{}]", parts.join(", "))
}

fn js_counts(t: &Tally) -> String {
    let parts: Vec<String> = Kind::ALL.iter().map(|k| format!("{}: {}", js(k.as_str()), t.count(*k))).collect();
    format!("{{{}}}", parts.join(", "))
}

/// The report as JSON (`evidock-compliance/1`, see the module documentation).
pub fn json(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{{");
    let _ = writeln!(o, "  \"format\": \"evidock-compliance/1\",");
    let _ = writeln!(
        o,
        "  \"period\": {{\"from\": {}, \"to\": {}}},",
        js(&iso_local(r.period.from)),
        js(&iso_local(r.period.to))
    );
    let _ = writeln!(o, "  \"timezone\": {},", js(r.rules.tz.name()));
    let _ = writeln!(o, "  \"generated_at\": {},", js(&iso_utc(r.generated_at)));
    let _ = writeln!(
        o,
        "  \"rules\": {{\"ingest_deadline\": {}, \"ingest_deadline_after_return\": {}, \"drift_threshold_s\": {}, \"no_case_after_days\": {}}},",
        js(&r.rules.ingest.to_string()),
        js(&r.rules.ingest_after_return.to_string()),
        r.rules.drift_threshold_s,
        r.rules.no_case_after_days
    );
    let _ = writeln!(o, "  \"notes\": {},", js_list(&r.notes));
    let _ = writeln!(o, "  \"recordings\": {},", r.recordings);
    let _ = writeln!(o, "  \"windows\": {},", r.windows);
    let findings: Vec<String> = r
        .findings
        .iter()
        .map(|f| {
            format!(
                "    {{\"rule\": {}, \"kind\": {}, \"officers\": {}, \"device\": {}, \"recording\": {}, \"case\": {}, \"detail\": {}, \"detail_zh\": {}}}",
                js(f.kind.rule()),
                js(f.kind.as_str()),
                js_list(&f.officers),
                js_opt(f.device.as_deref()),
                js_opt(f.recording.as_deref()),
                js_opt(f.case.as_deref()),
                js(&f.detail),
                js(&f.detail_zh)
            )
        })
        .collect();
    let _ = writeln!(o, "  \"findings\": [{}],", block(&findings));
    let exempted: Vec<String> = r
        .exempted
        .iter()
        .map(|e| {
            let f = &e.finding;
            format!(
                "    {{\"rule\": {}, \"kind\": {}, \"officers\": {}, \"case\": {}, \"detail\": {}, \"detail_zh\": {}, \"exemptions\": [{}]}}",
                js(f.kind.rule()),
                js(f.kind.as_str()),
                js_list(&f.officers),
                js_opt(f.case.as_deref()),
                js(&f.detail),
                js(&f.detail_zh),
                e.exemptions.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    let _ = writeln!(o, "  \"exempted\": [{}],", block(&exempted));
    let officers: Vec<String> = r
        .by_officer
        .iter()
        .map(|t| {
            format!(
                "    {{\"officer\": {}, \"name\": {}, \"recordings\": {}, \"findings\": {}, \"total\": {}}}",
                js_opt(t.key.as_deref()),
                js_opt(t.name.as_deref()),
                t.recordings,
                js_counts(t),
                t.total()
            )
        })
        .collect();
    let _ = writeln!(o, "  \"by_officer\": [{}],", block(&officers));
    let devices: Vec<String> = r
        .by_device
        .iter()
        .map(|t| {
            format!(
                "    {{\"device\": {}, \"recordings\": {}, \"findings\": {}, \"total\": {}}}",
                js_opt(t.key.as_deref()),
                t.recordings,
                js_counts(t),
                t.total()
            )
        })
        .collect();
    let _ = writeln!(
        o,
        "  \"by_device\": [{}]{}",
        block(&devices),
        if r.fixity.is_some() || !r.contradictions.is_empty() { "," } else { "" }
    );
    if let Some(f) = &r.fixity {
        let pass = |p: &Option<super::ScrubFacts>| {
            match p {
            None => "null".to_string(),
            Some(p) => format!(
                "{{\"pass\": {}, \"started\": {}, \"finished\": {}, \"files\": {}, \"files_total\": {}, \"bytes\": {}, \"busy_ms\": {}, \"differ\": {}, \"missing\": {}, \"catalogue\": {}}}",
                p.pass,
                js(&p.started),
                js_opt(p.finished.as_deref()),
                p.files.0,
                p.files.1,
                p.bytes,
                p.busy_ms,
                p.differ,
                p.missing,
                p.catalogue
            ),
        }
        };
        let _ = writeln!(
            o,
            "  \"fixity\": {{\"last_complete\": {}, \"in_progress\": {}, \"open_alarms\": {}}}",
            pass(&f.last_complete),
            pass(&f.in_progress),
            js_list(&f.open.iter().map(|(en, zh)| format!("{en} / {zh}")).collect::<Vec<_>>())
        );
        if !r.contradictions.is_empty() {
            o.truncate(o.trim_end().len());
            o.push_str(",\n");
        }
    }
    if !r.contradictions.is_empty() {
        let items: Vec<String> = r
            .contradictions
            .iter()
            .map(|c| {
                format!(
                    "{{\"docking\": {}, \"when\": {}, \"device\": {}, \"kind\": {}, \"detail\": {}, \"detail_zh\": {}}}",
                    c.docking.map_or("null".to_string(), |d| d.to_string()),
                    js(&c.when),
                    js(&c.device),
                    js(&c.kind),
                    js(&c.detail),
                    js(&c.detail_zh)
                )
            })
            .collect();
        let _ = writeln!(o, "  \"contradictions\": [{}]", items.join(", "));
    }
    o.push_str("}\n");
    o
}

fn block(items: &[String]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!("\n{}\n  ", items.join(",\n"))
    }
}

/// One CSV field, quoted when it holds a comma, quote, CR or LF (RFC 4180), quotes doubled.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_rows(bom: Bom, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    if bom == Bom::With {
        out.push('\u{feff}');
    }
    let line = |out: &mut String, cells: Vec<String>| {
        out.push_str(&cells.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    };
    line(&mut out, header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(&mut out, row.clone());
    }
    out
}

/// The findings as CSV: one row per finding, CRLF line ends, bilingual header.
pub fn csv(r: &Report, bom: Bom) -> String {
    let header = [
        "规则 rule",
        "类型 kind",
        "问题 finding",
        "执法人员 officers",
        "记录仪 recorder",
        "录像 recording",
        "案件 case",
        "说明 detail_zh",
        "detail",
    ];
    let rows: Vec<Vec<String>> = r
        .findings
        .iter()
        .map(|f| {
            vec![
                f.kind.rule().to_string(),
                f.kind.as_str().to_string(),
                format!("{} {}", f.kind.label_zh(), f.kind.label_en()),
                f.officers.join(" "),
                f.device.clone().unwrap_or_default(),
                f.recording.clone().unwrap_or_default(),
                f.case.clone().unwrap_or_default(),
                f.detail_zh.clone(),
                f.detail.clone(),
            ]
        })
        .collect();
    let mut rows = rows;
    // Contradictions with the recorders' chains and the dock memory (R5, R13), one row each.
    for c in &r.contradictions {
        rows.push(vec![
            "R5".into(),
            "contradiction".into(),
            "记录仪哈希链或本站记忆矛盾 Contradiction".into(),
            String::new(),
            c.device.clone(),
            String::new(),
            String::new(),
            format!("{} [{}] {}", c.when, c.kind, c.detail_zh),
            format!("{} [{}] {}", c.when, c.kind, c.detail),
        ]);
    }
    // Archived files that no longer match the custody log (R11), one row each.
    for (en, zh) in r.fixity.iter().flat_map(|f| f.open.iter()) {
        rows.push(vec![
            "R11".into(),
            "archive-fixity".into(),
            "归档文件校验不符 Archive fixity".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            zh.clone(),
            en.clone(),
        ]);
    }
    csv_rows(bom, &header, &rows)
}

/// Text safe inside HTML elements and attribute values.
pub(crate) fn h(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:\"Noto Sans CJK SC\",\"Microsoft YaHei\",\"PingFang SC\",sans-serif;margin:2em;color:#111}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #999}\
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border:1px solid #999;padding:.25em .4em;text-align:left;vertical-align:top}\
th{background:#eee}.en{color:#555;font-weight:normal}.num{text-align:right}.note{color:#a00}\
@media print{body{margin:0}tr{page-break-inside:avoid}thead{display:table-header-group}}";

fn page(title_zh: &str, title_en: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>{} {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{} <span class=\"en\">{}</span></h1>\n{body}</body>\n</html>\n",
        h(title_zh),
        h(title_en),
        h(title_zh),
        h(title_en)
    )
}

fn html_table(header: &[(&str, &str)], rows: &[Vec<String>], numeric_from: usize) -> String {
    let mut o = String::from("<table>\n<thead><tr>");
    for (zh, en) in header {
        let _ = write!(o, "<th>{} <span class=\"en\">{}</span></th>", h(zh), h(en));
    }
    o.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        o.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            if i >= numeric_from {
                let _ = write!(o, "<td class=\"num\">{}</td>", h(cell));
            } else {
                let _ = write!(o, "<td>{}</td>", h(cell));
            }
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody>\n</table>\n");
    o
}

/// The report as a self-contained printable HTML page (UTF-8, everything escaped).
pub fn html(r: &Report) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<p>期间 <span class=\"en\">Period</span>: {} – {} ({}) · 生成 <span class=\"en\">Generated</span>: {}</p>",
        h(&wall(r.period.from)),
        h(&wall(r.period.to)),
        h(r.rules.tz.name()),
        h(&crate::report::history::station_time_at(r.generated_at, r.rules.tz))
    );
    let _ = writeln!(b, "<p>{}</p>", h(&rules_line(r)));
    let _ = writeln!(
        b,
        "<p>录像 <span class=\"en\">Recordings</span>: {} · 现场时段 <span class=\"en\">On-site windows</span>: {} · 问题 <span class=\"en\">Findings</span>: {}</p>",
        r.recordings,
        r.windows,
        r.findings.len()
    );
    for n in &r.notes {
        let _ = writeln!(b, "<p class=\"note\">{}</p>", h(n));
    }
    let mut header: Vec<(&str, &str)> = vec![("执法人员", "Officer"), ("录像", "Recordings"), ("问题", "Findings")];
    header.extend(Kind::ALL.iter().map(|k| (k.label_zh(), k.rule())));
    let tally_rows = |ts: &[Tally], label: &dyn Fn(&Tally) -> String| -> Vec<Vec<String>> {
        ts.iter()
            .map(|t| {
                let mut row = vec![label(t), t.recordings.to_string(), t.total().to_string()];
                row.extend(Kind::ALL.iter().map(|k| t.count(*k).to_string()));
                row
            })
            .collect()
    };
    let _ = writeln!(b, "<h2>按执法人员 <span class=\"en\">By officer</span></h2>");
    b.push_str(&html_table(&header, &tally_rows(&r.by_officer, &officer_label), 1));
    header[0] = ("记录仪", "Recorder");
    let _ = writeln!(b, "<h2>按记录仪 <span class=\"en\">By recorder</span></h2>");
    b.push_str(&html_table(&header, &tally_rows(&r.by_device, &|t: &Tally| t.key.clone().unwrap_or_default()), 1));
    let _ = writeln!(b, "<h2>问题明细 <span class=\"en\">Findings</span></h2>");
    if r.findings.is_empty() {
        let _ = writeln!(b, "<p>无 <span class=\"en\">None</span></p>");
    } else {
        let header: Vec<(&str, &str)> = FINDING_HEADER.iter().map(|x| x.split_once(' ').unwrap_or((x, ""))).collect();
        let rows: Vec<Vec<String>> = r.findings.iter().map(finding_row).collect();
        b.push_str(&html_table(&header, &rows, usize::MAX));
    }
    for (i, l) in exempted_lines(r).lines().filter(|l| !l.is_empty()).enumerate() {
        if i == 0 {
            let _ = writeln!(b, "<h2>{}</h2>", h(l));
        } else {
            let _ = writeln!(b, "<p>{}</p>", h(l.trim()));
        }
    }
    if let Some(f) = &r.fixity {
        let _ = writeln!(b, "<h2>归档巡检 <span class=\"en\">Archive fixity (R11)</span></h2>");
        for l in f.lines() {
            let _ = writeln!(b, "<p>{}</p>", h(&l));
        }
    }
    if !r.contradictions.is_empty() {
        let _ = writeln!(b, "<h2>{}</h2>", h(CONTRADICTIONS_HEADING));
        for c in &r.contradictions {
            let _ = writeln!(b, "<p>{}</p>", h(&c.line()));
        }
    }
    page("执法音像记录合规报告", "Compliance report", &b)
}

fn pick_row(p: &super::RecordingFacts, i: usize) -> Vec<String> {
    vec![
        (i + 1).to_string(),
        p.id.clone(),
        p.device.clone(),
        p.officer.clone().unwrap_or_default(),
        wall(p.start),
        wall(p.end),
        p.cases.join(", "),
    ]
}

const PICK_HEADER: [&str; 7] =
    ["序号 No.", "录像 Recording", "记录仪 Recorder", "执法人员 Officer", "开始 Start", "结束 End", "案件 Case"];

fn sample_line(s: &SpotCheck) -> String {
    format!(
        "期间 Period: {} – {}   总数 Population: {}   抽取 Sample: {} of {} requested   种子 Seed: {}",
        wall(s.period.from),
        wall(s.period.to),
        s.population,
        s.picks.len(),
        s.requested,
        s.seed
    )
}

/// The spot check as a text table.
pub fn sample_table(s: &SpotCheck) -> String {
    let mut out = String::from("抽查样本 Spot-check sample\n");
    let _ = writeln!(out, "{}", sample_line(s));
    let _ = writeln!(out, "方法 Method: {}\n", s.method);
    let rows: Vec<Vec<String>> = s.picks.iter().enumerate().map(|(i, p)| pick_row(p, i)).collect();
    out.push_str(&grid(&PICK_HEADER, &rows));
    out
}

/// The spot check as JSON (`evidock-spot-check/1`, see the module documentation). The seed is
/// a decimal string: JSON numbers lose precision above 2^53.
pub fn sample_json(s: &SpotCheck) -> String {
    let picks: Vec<String> = s
        .picks
        .iter()
        .map(|p| {
            format!(
                "    {{\"recording\": {}, \"device\": {}, \"officer\": {}, \"start\": {}, \"end\": {}, \"cases\": {}}}",
                js(&p.id),
                js(&p.device),
                js_opt(p.officer.as_deref()),
                js(&iso_local(p.start)),
                js(&iso_local(p.end)),
                js_list(&p.cases)
            )
        })
        .collect();
    format!(
        "{{\n  \"format\": \"evidock-spot-check/1\",\n  \"period\": {{\"from\": {}, \"to\": {}}},\n  \"seed\": {},\n  \"method\": {},\n  \"population\": {},\n  \"requested\": {},\n  \"picks\": [{}]\n}}\n",
        js(&iso_local(s.period.from)),
        js(&iso_local(s.period.to)),
        js(&s.seed.to_string()),
        js(s.method),
        s.population,
        s.requested,
        block(&picks)
    )
}

/// The spot check as CSV: one row per pick, then a last row holding the seed and the method so
/// that a spreadsheet of the sample still says how it was drawn.
pub fn sample_csv(s: &SpotCheck, bom: Bom) -> String {
    let mut rows: Vec<Vec<String>> = s.picks.iter().enumerate().map(|(i, p)| pick_row(p, i)).collect();
    let mut trailer = vec![format!("种子 seed={}", s.seed), s.method.to_string()];
    trailer.resize(PICK_HEADER.len(), String::new());
    rows.push(trailer);
    csv_rows(bom, &PICK_HEADER, &rows)
}

/// The spot check as a printable HTML page.
pub fn sample_html(s: &SpotCheck) -> String {
    let mut b = String::new();
    let _ = writeln!(b, "<p>{}</p>", h(&sample_line(s)));
    let _ = writeln!(b, "<p>方法 <span class=\"en\">Method</span>: {}</p>", h(s.method));
    let header: Vec<(&str, &str)> = PICK_HEADER.iter().map(|x| x.split_once(' ').unwrap_or((x, ""))).collect();
    let rows: Vec<Vec<String>> = s.picks.iter().enumerate().map(|(i, p)| pick_row(p, i)).collect();
    b.push_str(&html_table(&header, &rows, usize::MAX));
    page("执法音像记录抽查样本", "Spot-check sample", &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_per_rfc_4180() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("宜卫罚〔2024〕12号"), "宜卫罚〔2024〕12号");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("cr\r"), "\"cr\r\"");
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(js("a\"b\\c\nd\u{1}e王"), "\"a\\\"b\\\\c\\nd\\u0001e王\"");
        assert_eq!(js("\u{2028}"), "\"\\u2028\"");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            h("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn wide_characters_count_twice() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("王五"), 4);
        assert_eq!(display_width("宜卫罚〔2024〕12号"), 2 * 3 + 2 * 2 + 4 + 2 + 2);
        let g = grid(&["名字", "n"], &[vec!["王五".into(), "1".into()], vec!["ab".into(), "2".into()]]);
        assert_eq!(g, "名字  n\n----  -\n王五  1\nab    2\n");
    }
}
