//! The printable access forms, built from the custody log (R9; INV-35): per request the
//! 《行政执法全过程记录资料调用单》 (S2 §24), and over a period the access register S3 §28 asks
//! for (调阅人、复制人、审批人、时间、事由; S1 §18: 查阅人、查阅事由、查阅时间), as HTML that
//! prints on A4, Chinese first with English beside, every value escaped.
//!
//! Owns: reading a request's story out of its custody events ([`records`]) and the two pages
//! ([`render_form`], [`render_register`]).
//! Must never: read the catalogue, a file or a clock: the events, the station's name and time
//! zone and the period come in as values; what the log does not say, the form does not show.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Kind, Mark, Party};
use crate::custody::event::StoredEvent;
use crate::report::history::station_time_at;

/// Who did a step, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Operating-system user.
    pub by: String,
    /// Their officer number, when they have one.
    pub badge: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// The custody event.
    pub seq: u64,
}

/// A use of an approval: a view, a copy or an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// `footage_viewed`, `footage_copied` or `footage_exported`.
    pub action: String,
    /// Who viewed or copied.
    pub step: Step,
    /// Files, as the event counted them.
    pub files: u64,
}

/// One request's story, as its custody events (`access:N`) tell it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestRecord {
    /// Request number.
    pub id: i64,
    /// The request (`access_requested`).
    pub requested: Option<Step>,
    /// view, copy or export.
    pub kind: String,
    /// For whom (a [`Party`] name).
    pub party: String,
    /// The receiving body or person.
    pub party_name: Option<String>,
    /// Why (用途/事由).
    pub reason: String,
    /// The case or recordings.
    pub scope: String,
    /// Marks on the footage when requested.
    pub marks: Vec<String>,
    /// The decision: approved or denied.
    pub decision: Option<(String, Step)>,
    /// The tier the decision was made at, when the event names it.
    pub tier: Option<String>,
    /// Until when an approval was valid.
    pub valid_until: Option<DateTime<Utc>>,
    /// Why it was denied, voided or lapsed.
    pub why: Option<String>,
    /// Views, copies and exports under it.
    pub uses: Vec<Use>,
    /// Voided or expired, when.
    pub ended: Option<(String, Step)>,
}

fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map_or(DateTime::<Utc>::MIN_UTC, |t| t.with_timezone(&Utc))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn scope_of(v: &Value) -> String {
    match v.get("scope") {
        Some(s) => match (s.get("case").and_then(Value::as_str), s.get("recordings").and_then(Value::as_array)) {
            (Some(c), _) => format!("案件 case {c}"),
            (None, Some(r)) => {
                format!("录像 recordings {}", r.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
            }
            _ => String::new(),
        },
        None => String::new(),
    }
}

/// The requests the events tell of (events about `access:N`), by number; other events are
/// passed over. Events must come in log order.
pub fn records(events: &[StoredEvent]) -> Vec<RequestRecord> {
    let mut out: BTreeMap<i64, RequestRecord> = BTreeMap::new();
    for ev in events {
        let Some(id) = ev.subject.strip_prefix("access:").and_then(|n| n.parse::<i64>().ok()) else { continue };
        let d: Value = serde_json::from_str(&ev.details).unwrap_or_default();
        let step =
            Step { by: ev.actor_user.clone(), badge: ev.actor_officer.clone(), at: instant(&ev.ts_utc), seq: ev.seq };
        let r = out.entry(id).or_insert_with(|| RequestRecord { id, ..RequestRecord::default() });
        match ev.action.as_str() {
            "access_requested" => {
                r.requested = Some(step);
                r.kind = text(&d, "kind").unwrap_or_default();
                r.party = text(&d, "party").unwrap_or_default();
                r.party_name = text(&d, "party_name");
                r.reason = text(&d, "reason").unwrap_or_default();
                r.scope = scope_of(&d);
                r.marks = d
                    .get("marks")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default();
            }
            "access_approved" | "access_denied" => {
                r.tier = text(&d, "tier");
                r.valid_until = text(&d, "valid_until").map(|t| instant(&t));
                if ev.action == "access_denied" {
                    r.why = text(&d, "reason");
                }
                r.decision = Some((ev.action.clone(), step));
            }
            "footage_viewed" | "footage_copied" | "footage_exported" => {
                let files = d.get("files").and_then(Value::as_u64).unwrap_or(0);
                r.uses.push(Use { action: ev.action.clone(), step, files });
            }
            "access_voided" | "access_expired" => {
                r.why = text(&d, "reason").or(r.why.take());
                r.ended = Some((ev.action.clone(), step));
            }
            _ => {}
        }
    }
    out.into_values().collect()
}

/// `s` with the five HTML special characters escaped.
pub fn escape(s: &str) -> String {
    crate::report::render::h(s)
}

const STYLE: &str = "\
body{font-family:\"Noto Serif CJK SC\",\"Source Han Serif SC\",\"SimSun\",serif;font-size:11pt;color:#000;margin:0}\
h1{text-align:center;font-size:17pt;margin:0 0 4pt}\
h1 .en{display:block;font-size:10pt;font-weight:normal;color:#333}\
.meta{text-align:center;font-size:9.5pt;margin:0 0 10pt}\
table{width:100%;border-collapse:collapse;table-layout:fixed}\
th,td{border:0.8pt solid #000;padding:4pt 5pt;vertical-align:top;word-wrap:break-word;overflow-wrap:anywhere}\
th{text-align:left;font-weight:bold;background:#f2f2f2}\
.en{font-size:8pt;font-weight:normal;color:#333}\
th .en{display:block}\
tr{page-break-inside:avoid;break-inside:avoid}\
thead{display:table-header-group}\
.sign td{height:34pt}\
.foot{font-size:8pt;color:#333;margin-top:8pt}\
@media print{th{-webkit-print-color-adjust:exact;print-color-adjust:exact}}\
@media screen{body{max-width:200mm;margin:10mm auto}}";

fn page(title: &str, landscape: bool, body: &str) -> String {
    let size = if landscape { "A4 landscape" } else { "A4" };
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n\
         <style>@page{{size:{size};margin:15mm 14mm}}{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

fn label(zh: &str, en: &str) -> String {
    format!("{} <span class=\"en\">{}</span>", escape(zh), escape(en))
}

fn when(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    escape(&station_time_at(t, tz))
}

fn who(s: &Step) -> String {
    match &s.badge {
        Some(b) => format!("{}（警号 badge {}）", escape(&s.by), escape(b)),
        None => escape(&s.by),
    }
}

fn kind_label(kind: &str) -> String {
    match Kind::parse(kind) {
        Some(k) => label(k.label_zh(), k.as_str()),
        None => escape(kind),
    }
}

fn party_label(r: &RequestRecord) -> String {
    let p = match Party::parse(&r.party) {
        Some(p) => label(p.label_zh(), p.as_str()),
        None => escape(&r.party),
    };
    match &r.party_name {
        Some(n) => format!("{p}：{}", escape(n)),
        None => p,
    }
}

fn marks_label(marks: &[String]) -> String {
    if marks.is_empty() {
        return label("无", "none");
    }
    marks
        .iter()
        .map(|m| match Mark::parse(m) {
            Some(m) => label(m.label_zh(), m.as_str()),
            None => escape(m),
        })
        .collect::<Vec<_>>()
        .join("、")
}

fn use_label(action: &str) -> String {
    match action {
        "footage_viewed" => label("查看", "viewed"),
        "footage_copied" => label("复制", "copied"),
        "footage_exported" => label("导出", "exported"),
        other => escape(other),
    }
}

fn decision_label(action: &str) -> String {
    match action {
        "access_approved" => label("同意", "approved"),
        "access_denied" => label("不同意", "denied"),
        "access_voided" => label("审批已失效", "voided"),
        "access_expired" => label("已过期", "lapsed"),
        other => escape(other),
    }
}

fn tier_label(tier: &str) -> String {
    match super::tier::Tier::parse(tier) {
        Some(t) => label(t.label_zh(), t.as_str()),
        None => escape(tier),
    }
}

/// The 《行政执法全过程记录资料调用单》 of one request (S2 §24): who asked, for whom, what,
/// why, who decided at which tier and when, and every view, copy or export under it, with
/// blank boxes for the signatures the paper form carries.
pub fn render_form(r: &RequestRecord, station: &str, tz: chrono_tz::Tz) -> String {
    let dash = || "—".to_string();
    let mut rows: Vec<(String, String)> = Vec::new();
    rows.push((label("申请编号", "Request"), format!("#{}", r.id)));
    let (by, at) = match &r.requested {
        Some(s) => (who(s), when(s.at, tz)),
        None => (dash(), dash()),
    };
    rows.push((label("申请人", "Requested by"), by));
    rows.push((label("申请时间", "Requested at"), at));
    rows.push((label("调用方式", "Kind"), kind_label(&r.kind)));
    rows.push((label("调用对象", "For"), party_label(r)));
    rows.push((label("调用内容", "Footage"), escape(&r.scope)));
    rows.push((label("密级", "Confidentiality"), marks_label(&r.marks)));
    rows.push((label("调用事由", "Reason"), escape(&r.reason)));
    rows.push((label("审批层级", "Approval tier"), r.tier.as_deref().map_or_else(dash, tier_label)));
    match &r.decision {
        Some((action, s)) => {
            rows.push((label("审批意见", "Decision"), decision_label(action)));
            rows.push((label("审批人", "Decided by"), who(s)));
            rows.push((label("审批时间", "Decided at"), when(s.at, tz)));
        }
        None => rows.push((label("审批意见", "Decision"), label("待审批", "pending"))),
    }
    if let Some(t) = r.valid_until {
        rows.push((label("有效期至", "Valid until"), when(t, tz)));
    }
    if let Some((action, s)) = &r.ended {
        rows.push((label("失效", "Ended"), format!("{}，{}", decision_label(action), when(s.at, tz))));
    }
    if let Some(w) = &r.why {
        rows.push((label("说明", "Why"), escape(w)));
    }
    let uses = if r.uses.is_empty() {
        label("尚未调用", "not used")
    } else {
        r.uses
            .iter()
            .map(|u| {
                format!("{}：{}，{}，{} 个文件 files", use_label(&u.action), who(&u.step), when(u.step.at, tz), u.files)
            })
            .collect::<Vec<_>>()
            .join("<br>")
    };
    rows.push((label("调用记录", "Uses"), uses));
    let mut body = String::new();
    body.push_str(&format!(
        "<h1>行政执法全过程记录资料调用单<span class=\"en\">Whole-process enforcement record access slip</span></h1>\n\
         <p class=\"meta\">{} <span class=\"en\">Bureau</span>：{}　{} <span class=\"en\">No.</span>：#{}</p>\n\
         <table>\n<colgroup><col style=\"width:30%\"><col></colgroup>\n",
        escape("单位"),
        escape(station),
        escape("编号"),
        r.id
    ));
    for (k, v) in rows {
        body.push_str(&format!("<tr><th>{k}</th><td>{v}</td></tr>\n"));
    }
    for (zh, en) in [
        ("申请人签字", "Requester's signature"),
        ("审批人签字", "Approver's signature"),
        ("经办人签字", "Archivist's signature"),
    ] {
        body.push_str(&format!("<tr class=\"sign\"><th>{}</th><td></td></tr>\n", label(zh, en)));
    }
    let seqs: Vec<u64> = r
        .requested
        .iter()
        .chain(r.decision.iter().map(|d| &d.1))
        .chain(r.uses.iter().map(|u| &u.step))
        .chain(r.ended.iter().map(|e| &e.1))
        .map(|s| s.seq)
        .collect();
    body.push_str(&format!(
        "</table>\n<p class=\"foot\">依据《行政执法全过程记录》调用规定（S2 第二十四条）；本单据据保管日志生成，日志事件 {} \
         <span class=\"en\">Built from the custody log (events {}); times are station time.</span></p>\n",
        escape(&seq_list(&seqs)),
        escape(&seq_list(&seqs))
    ));
    page(&format!("行政执法全过程记录资料调用单 #{} / Access slip", r.id), false, &body)
}

fn seq_list(seqs: &[u64]) -> String {
    seqs.iter().map(|s| format!("#{s}")).collect::<Vec<_>>().join(", ")
}

/// The access register over `from..=to` (station dates, S3 §28): one row per view, copy or
/// export in the period, with the viewer (调阅人), the copier (复制人), the approver (审批人),
/// the time and the reason (事由), oldest first.
pub fn render_register(
    records: &[RequestRecord],
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    station: &str,
    tz: chrono_tz::Tz,
) -> String {
    let mut rows: Vec<(&RequestRecord, &Use)> = records
        .iter()
        .flat_map(|r| r.uses.iter().map(move |u| (r, u)))
        .filter(|(_, u)| {
            let d = u.step.at.with_timezone(&tz).date_naive();
            d >= from && d <= to
        })
        .collect();
    rows.sort_by_key(|(_, u)| u.step.seq);
    let mut body = format!(
        "<h1>现场执法音像资料调阅、复制登记簿<span class=\"en\">Register of viewing and copying enforcement footage</span></h1>\n\
         <p class=\"meta\">{} <span class=\"en\">Bureau</span>：{}　{} <span class=\"en\">Period</span>：{} — {}（{}）</p>\n\
         <table>\n<colgroup><col style=\"width:5%\"><col style=\"width:12%\"><col style=\"width:7%\"><col style=\"width:11%\">\
         <col style=\"width:11%\"><col style=\"width:11%\"><col style=\"width:17%\"><col style=\"width:13%\"><col></colgroup>\n\
         <thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>\n<tbody>\n",
        escape("单位"),
        escape(station),
        escape("期间"),
        from.format("%Y-%m-%d"),
        to.format("%Y-%m-%d"),
        escape(tz.name()),
        label("序号", "No."),
        label("时间", "Time"),
        label("方式", "Use"),
        label("调阅人", "Viewer"),
        label("复制人", "Copier"),
        label("审批人", "Approver"),
        label("事由", "Reason"),
        label("调用对象", "For"),
        label("内容 / 申请", "Footage / request"),
    );
    for (n, (r, u)) in rows.iter().enumerate() {
        let (viewer, copier) =
            if u.action == "footage_viewed" { (who(&u.step), String::new()) } else { (String::new(), who(&u.step)) };
        let approver = match &r.decision {
            Some((a, s)) if a == "access_approved" => who(s),
            _ => "—".to_string(),
        };
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{viewer}</td><td>{copier}</td><td>{approver}</td><td>{}</td><td>{}</td><td>{}<br>#{}</td></tr>\n",
            n + 1,
            when(u.step.at, tz),
            use_label(&u.action),
            escape(&r.reason),
            party_label(r),
            escape(&r.scope),
            r.id
        ));
    }
    if rows.is_empty() {
        body.push_str(&format!(
            "<tr><td colspan=\"9\">{}</td></tr>\n",
            label("本期间无调阅、复制", "no viewing or copying in this period")
        ));
    }
    body.push_str(&format!(
        "</tbody>\n</table>\n<p class=\"foot\">依据 S3 第二十八条（登记调阅人、复制人、审批人、时间、事由）、S1 第十八条；\
         共 {} 条，据保管日志生成 <span class=\"en\">{} entries, built from the custody log; times are station time.</span></p>\n",
        rows.len(),
        rows.len()
    ));
    page(
        &format!("调阅、复制登记簿 {} — {} / Access register", from.format("%Y-%m-%d"), to.format("%Y-%m-%d")),
        true,
        &body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::event::StoredEvent;

    fn ev(seq: u64, ts: &str, user: &str, action: &str, subject: &str, details: Value) -> StoredEvent {
        StoredEvent {
            seq,
            ts_utc: ts.to_string(),
            ts_local: ts.to_string(),
            actor_user: user.to_string(),
            actor_role: "archivist".to_string(),
            actor_officer: (user == "zhangsan").then(|| "012345".to_string()),
            action: action.to_string(),
            subject: subject.to_string(),
            details: details.to_string(),
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    fn story() -> Vec<StoredEvent> {
        vec![
            ev(
                10,
                "2026-03-02T01:00:00.000Z",
                "zhangsan",
                "access_requested",
                "access:3",
                serde_json::json!({ "kind": "export", "scope": { "case": "宜卫罚〔2025〕3号" }, "reason": "行政诉讼<举证>",
                    "party": "court", "party_name": "某某区人民法院 & 庭", "marks": ["work-secret"] }),
            ),
            ev(11, "2026-03-02T02:00:00.000Z", "ju", "docked", "device:E1", serde_json::json!({})),
            ev(
                12,
                "2026-03-02T03:00:00.000Z",
                "ju",
                "access_approved",
                "access:3",
                serde_json::json!({ "requested_by": "zhangsan", "valid_until": "2026-03-09T03:00:00+00:00", "tier": "principal-head" }),
            ),
            ev(
                13,
                "2026-03-03T01:30:00.000Z",
                "lisi",
                "footage_exported",
                "access:3",
                serde_json::json!({ "files": 2, "copier": "lisi" }),
            ),
            ev(
                14,
                "2026-04-01T01:30:00.000Z",
                "wangwu",
                "access_requested",
                "access:4",
                serde_json::json!({ "kind": "view", "scope": { "recordings": ["E1/S1"] }, "reason": "复核", "party": "internal", "marks": [] }),
            ),
        ]
    }

    /// INV-35: the form tells what the log tells, and nothing the log does not.
    #[test]
    fn a_requests_story_is_read_from_its_custody_events() {
        let r = records(&story());
        assert_eq!(r.len(), 2);
        let a = &r[0];
        assert_eq!((a.id, a.kind.as_str(), a.party.as_str()), (3, "export", "court"));
        assert_eq!(
            a.requested.as_ref().map(|s| (s.by.as_str(), s.badge.as_deref())),
            Some(("zhangsan", Some("012345")))
        );
        assert_eq!(a.decision.as_ref().map(|(x, s)| (x.as_str(), s.by.as_str())), Some(("access_approved", "ju")));
        assert_eq!(a.tier.as_deref(), Some("principal-head"));
        assert_eq!(a.uses.len(), 1);
        assert_eq!((a.uses[0].step.by.as_str(), a.uses[0].files), ("lisi", 2));
        assert!(r[1].decision.is_none() && r[1].uses.is_empty());
    }

    /// S2 §24: the 调用单 names requester, party, reason, approver at its tier and the export,
    /// Chinese first with English beside, escaped, on A4.
    #[test]
    fn the_access_slip_prints_chinese_first_and_escapes_every_value() {
        let r = records(&story());
        let html = render_form(&r[0], "宜良县卫生健康局 <站>", chrono_tz::Asia::Shanghai);
        assert!(html.starts_with("<!DOCTYPE html>") && html.contains("@page{size:A4;"), "{html}");
        assert!(html.contains("行政执法全过程记录资料调用单<span class=\"en\">Whole-process"), "{html}");
        assert!(html.contains("行政诉讼&lt;举证&gt;") && !html.contains("<举证>"), "escaped: {html}");
        assert!(html.contains("某某区人民法院 &amp; 庭") && html.contains("宜良县卫生健康局 &lt;站&gt;"), "{html}");
        assert!(html.contains("主要负责人 <span class=\"en\">principal-head</span>"), "{html}");
        assert!(html.contains("工作秘密"), "{html}");
        // Station time to the second, the zone named (R13): 03:00Z is 11:00 in Shanghai.
        assert!(html.contains("2026-03-02 11:00:00 Asia/Shanghai"), "{html}");
        assert!(html.contains("导出 <span class=\"en\">exported</span>：lisi"), "{html}");
        assert!(html.contains("#10, #12, #13") && !html.contains("#11"), "only the request's events: {html}");
        let pending = render_form(&r[1], "站", chrono_tz::Asia::Shanghai);
        assert!(pending.contains("待审批") && pending.contains("尚未调用"), "{pending}");
    }

    /// S3 §28 (登记调阅人、复制人、审批人、时间、事由), S1 §18: one row per use in the period.
    #[test]
    fn the_register_lists_each_use_in_the_period_with_viewer_copier_approver_time_and_reason() {
        let r = records(&story());
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let tz = chrono_tz::Asia::Shanghai;
        let html = render_register(&r, d("2026-03-01"), d("2026-03-31"), "站", tz);
        assert!(html.contains("size:A4 landscape"), "{html}");
        for h in ["调阅人", "复制人", "审批人", "时间", "事由"] {
            assert!(html.contains(h), "{h}: {html}");
        }
        let row = html.lines().find(|l| l.starts_with("<tr><td>1</td>")).expect("one row");
        assert!(row.contains("<td></td><td>lisi</td><td>ju</td>") && row.contains("行政诉讼&lt;举证&gt;"), "{row}");
        assert!(row.contains("2026-03-03 09:30:00"), "{row}");
        assert!(!html.contains("<tr><td>2</td>"), "{html}");
        let none = render_register(&r, d("2026-04-01"), d("2026-04-30"), "站", tz);
        assert!(none.contains("本期间无调阅、复制") && none.contains("共 0 条"), "{none}");
    }

    /// INV: the form module is pure.
    #[test]
    fn form_module_is_pure() {
        crate::custody::chain::tests::assert_pure(include_str!("form.rs"));
        crate::custody::chain::tests::assert_pure(include_str!("tier.rs"));
    }
}
