//! The readable tables held against the custody log (R11; S0 §19, S1 §22-23, S2 §28-30):
//! what people read as record (gap explanations, confidentiality marks, recorder
//! registrations, case labels, descriptions of footage) must be what the log says was written. `log verify` names every row that
//! differs: edited, added or removed outside evidock.
//!
//! Owns: folding the log's events about those rows and comparing them with the rows.
//! Must never: change a row (finding an edit is a result, not a repair).

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde_json::Value;

/// A registry row: serial, officer id, name, unit, retired.
type RegistryRow = (String, String, Option<String>, Option<String>, bool);

/// One catalogue row that differs from what the custody log says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The table (`gaps`, `confidentiality`, `registry`, `cases`).
    pub table: &'static str,
    /// The row (its id or serial).
    pub row: String,
    /// What differs, in English.
    pub en: String,
    /// The same in Chinese.
    pub zh: String,
}

fn events(conn: &Connection, actions: &[&str]) -> anyhow::Result<Vec<(String, String, Value)>> {
    let list = actions.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(",");
    let mut st = conn
        .prepare(&format!("SELECT action, subject, details FROM custody_log WHERE action IN ({list}) ORDER BY seq"))?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (a, s, d) = row?;
        out.push((a, s, serde_json::from_str(&d).unwrap_or(Value::Null)));
    }
    Ok(out)
}

fn differs(out: &mut Vec<Edited>, table: &'static str, row: String, what: &str, what_zh: &str) {
    out.push(Edited {
        table,
        en: format!("{table} row {row}: {what}, not what the custody log recorded"),
        zh: format!("{table} 表第 {row} 行：{what_zh}，与保管日志记录不符"),
        row,
    });
}

fn has_table(conn: &Connection, table: &str) -> anyhow::Result<bool> {
    let n: i64 =
        conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [table], |r| r.get(0))?;
    Ok(n > 0)
}

/// Every row of the readable tables that differs from the custody log (a database holding
/// the log alone, without the catalogue's tables, has none).
///
/// # Errors
/// When the database cannot be read.
pub fn check(conn: &Connection) -> anyhow::Result<Vec<Edited>> {
    let mut out = Vec::new();
    for t in ["gaps", "confidentiality", "registry"] {
        if !has_table(conn, t)? {
            return Ok(out);
        }
    }

    // Gap explanations (R6): `gap_explained` carries the gap id and the text.
    // A rejected explanation (`gap_reviewed`, S2 §18) leaves its gap unexplained again.
    let mut logged: BTreeMap<i64, String> = BTreeMap::new();
    for (a, _, d) in events(conn, &["gap_explained", "gap_reviewed"])? {
        if a == "gap_reviewed" {
            if let (Some(id), Some("rejected")) = (d["gap"].as_i64(), d["decision"].as_str()) {
                logged.remove(&id);
            }
        } else if let (Some(id), Some(t)) = (d["gap"].as_i64(), d["explanation"].as_str()) {
            logged.insert(id, t.to_string());
        }
    }
    let mut st = conn.prepare("SELECT id, explanation FROM gaps ORDER BY id")?;
    let rows: Vec<(i64, Option<String>)> =
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    for (id, text) in rows {
        match (text, logged.remove(&id)) {
            (Some(t), Some(l)) if t != l => {
                differs(&mut out, "gaps", id.to_string(), "the explanation was changed", "中断说明被改动");
            }
            (Some(_), None) => {
                differs(&mut out, "gaps", id.to_string(), "an explanation no event wrote", "中断说明无日志记录");
            }
            (None, Some(_)) => {
                differs(&mut out, "gaps", id.to_string(), "the explanation was removed", "中断说明被删除");
            }
            _ => {}
        }
    }
    for id in logged.keys() {
        differs(&mut out, "gaps", id.to_string(), "the explained gap is gone", "已说明的中断记录被删除");
    }

    // Confidentiality marks (R10): set with subject, level and reason; cleared by id.
    let mut marks: BTreeMap<i64, (String, String, String, bool)> = BTreeMap::new();
    for (a, s, d) in events(conn, &["confidentiality_marked", "confidentiality_cleared"])? {
        let Some(id) = d["mark"].as_i64() else { continue };
        if a == "confidentiality_marked" {
            let level = d["level"].as_str().unwrap_or_default().to_string();
            let reason = d["reason"].as_str().unwrap_or_default().to_string();
            marks.insert(id, (s, level, reason, false));
        } else if let Some(m) = marks.get_mut(&id) {
            m.3 = true;
        }
    }
    let mut st = conn.prepare("SELECT id, subject, level, reason, cleared_at IS NOT NULL FROM confidentiality")?;
    let rows: Vec<(i64, String, String, String, bool)> =
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?.collect::<Result<_, _>>()?;
    for (id, subject, level, reason, cleared) in rows {
        match marks.remove(&id) {
            None => differs(&mut out, "confidentiality", id.to_string(), "a mark no event set", "密级标记无日志记录"),
            Some((s, l, r, c)) => {
                if (s, l, r) != (subject, level, reason) {
                    differs(&mut out, "confidentiality", id.to_string(), "the mark was changed", "密级标记被改动");
                }
                if c != cleared {
                    differs(
                        &mut out,
                        "confidentiality",
                        id.to_string(),
                        "the mark's clearing differs",
                        "密级标记解除状态被改动",
                    );
                }
            }
        }
    }
    for id in marks.keys() {
        differs(&mut out, "confidentiality", id.to_string(), "the mark is gone", "密级标记被删除");
    }

    // Registrations (R1): the latest `device_registered` per serial, and whether a
    // `device_retired` came after it.
    let mut reg: BTreeMap<String, (Value, bool)> = BTreeMap::new();
    for (a, s, d) in events(conn, &["device_registered", "device_retired"])? {
        let Some(serial) = s.strip_prefix("device:") else { continue };
        if a == "device_registered" {
            // A USB binding is logged under the same action, without an officer.
            if d["officer_id"].is_string() {
                reg.insert(serial.to_string(), (d, false));
            }
        } else if let Some(r) = reg.get_mut(serial) {
            r.1 = true;
        }
    }
    let mut st = conn.prepare("SELECT serial, officer_id, officer_name, unit, retired IS NOT NULL FROM registry")?;
    let rows: Vec<RegistryRow> =
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?.collect::<Result<_, _>>()?;
    for (serial, officer, name, unit, retired) in rows {
        match reg.remove(&serial) {
            None => differs(&mut out, "registry", serial, "a registration no event made", "设备登记无日志记录"),
            Some((d, r)) => {
                let same = d["officer_id"].as_str() == Some(officer.as_str())
                    && d["officer_name"].as_str() == name.as_deref()
                    && d["unit"].as_str() == unit.as_deref();
                if !same {
                    differs(
                        &mut out,
                        "registry",
                        serial.clone(),
                        "the registered officer was changed",
                        "登记使用人被改动",
                    );
                }
                if r != retired {
                    differs(&mut out, "registry", serial, "the retirement differs", "设备停用状态被改动");
                }
            }
        }
    }
    for serial in reg.keys() {
        differs(&mut out, "registry", serial.clone(), "the registration is gone", "设备登记被删除");
    }
    if has_table(conn, "cases")? && has_table(conn, "case_windows")? {
        case_labels(conn, &mut out)?;
    }
    if has_table(conn, "descriptions")? {
        descriptions(conn, &mut out)?;
    }
    if has_table(conn, "gap_statements")? && has_table(conn, "recording_exemptions")? {
        gap_statements(conn, &mut out)?;
        exemptions(conn, &mut out)?;
    }
    Ok(out)
}

/// A description row: id, target, subject, content, place, written by, officer, written at.
type DescriptionRow = (i64, String, Option<String>, Option<String>, Option<String>, String, Option<String>, String);

/// Descriptions of footage (R4, R13, S4 §23; INV-32): every row as its `footage_described`
/// event wrote it, none added or removed.
fn descriptions(conn: &Connection, out: &mut Vec<Edited>) -> anyhow::Result<()> {
    let mut logged: BTreeMap<i64, (String, Value)> = BTreeMap::new();
    for (_, s, d) in events(conn, &["footage_described"])? {
        if let Some(id) = d["description"].as_i64() {
            logged.insert(id, (s, d));
        }
    }
    let mut st = conn.prepare(
        "SELECT id, target, subject, content, place, written_by, officer, written_at FROM descriptions ORDER BY id",
    )?;
    let rows: Vec<DescriptionRow> = st
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
        })?
        .collect::<Result<_, _>>()?;
    for (id, target, subject, content, place, by, officer, at) in rows {
        let Some((s, d)) = logged.remove(&id) else {
            differs(out, "descriptions", id.to_string(), "a description no event wrote", "说明无日志记录");
            continue;
        };
        let same = s == target
            && d["subject"].as_str() == subject.as_deref()
            && d["content"].as_str() == content.as_deref()
            && d["place"].as_str() == place.as_deref()
            && d["written_by"].as_str() == Some(by.as_str())
            && d["officer"].as_str() == officer.as_deref()
            && d["written_at"].as_str() == Some(at.as_str());
        if !same {
            differs(out, "descriptions", id.to_string(), "the description was changed", "说明被改动");
        }
    }
    for id in logged.keys() {
        differs(out, "descriptions", id.to_string(), "the description is gone", "说明被删除");
    }
    Ok(())
}

/// Case labels (R4, R11; S3 §26): party, kind, officers and on-site windows, as the latest
/// `case_created` or `case_labelled` event wrote them.
fn case_labels(conn: &Connection, out: &mut Vec<Edited>) -> anyhow::Result<()> {
    let mut logged: BTreeMap<String, Value> = BTreeMap::new();
    for (_, s, d) in events(conn, &["case_created", "case_labelled"])? {
        let Some(number) = s.strip_prefix("case:") else { continue };
        // An informant recorded on a case is logged as `case_labelled` without a label (its
        // name stays out of the log); only events that carry the label set it.
        if d["kind"].is_string() {
            logged.insert(number.to_string(), d);
        }
    }
    let mut st = conn.prepare("SELECT id, number, party, kind, officers FROM cases ORDER BY id")?;
    let rows: Vec<(i64, String, Option<String>, String, String)> =
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?.collect::<Result<_, _>>()?;
    let mut wst = conn.prepare("SELECT from_t, to_t FROM case_windows WHERE case_id = ?1 ORDER BY id")?;
    for (id, number, party, kind, officers) in rows {
        let Some(d) = logged.remove(&number) else {
            differs(out, "cases", number, "a case no event created", "案件无日志记录");
            continue;
        };
        let officers: Value = serde_json::from_str(&officers).unwrap_or(Value::Null);
        if d["party"].as_str() != party.as_deref()
            || d["kind"].as_str() != Some(kind.as_str())
            || d["officers"] != officers
        {
            differs(out, "cases", number.clone(), "the case label was changed", "案件信息被改动");
        }
        let windows: Vec<Value> = wst
            .query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .map(|w| w.map(|(a, b)| serde_json::json!([a, b])))
            .collect::<Result<_, _>>()?;
        if d["windows"].as_array().map(Vec::as_slice).unwrap_or_default() != windows.as_slice() {
            differs(out, "cases", number, "the on-site windows were changed", "现场执法时段被改动");
        }
    }
    for number in logged.keys() {
        differs(out, "cases", number.clone(), "the case is gone", "案件被删除");
    }
    Ok(())
}

/// Who wrote each explanation, its scan and its review (R6, S2 §18; INV-37), as the latest
/// `gap_explained` and the `gap_reviewed` after it wrote them.
fn gap_statements(conn: &Connection, out: &mut Vec<Edited>) -> anyhow::Result<()> {
    let mut logged: BTreeMap<i64, (Value, Option<Value>)> = BTreeMap::new();
    for (a, _, d) in events(conn, &["gap_explained", "gap_reviewed"])? {
        let Some(id) = d["gap"].as_i64() else { continue };
        if a == "gap_explained" {
            // Explanations written before authors were recorded have no statement row.
            if d["author"].is_string() {
                logged.insert(id, (d, None));
            }
        } else if let Some(e) = logged.get_mut(&id) {
            e.1 = Some(d);
        }
    }
    type Row = (i64, String, String, Option<String>, Option<i64>, Option<String>, String, Option<String>);
    let mut st = conn.prepare(
        "SELECT gap_id, author, typed_by, scan_path, scan_size, scan_blake3, review, review_note FROM gap_statements",
    )?;
    let rows: Vec<Row> = st
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
        })?
        .collect::<Result<_, _>>()?;
    for (id, author, typed_by, path, size, hash, review, note) in rows {
        let Some((d, reviewed)) = logged.remove(&id) else {
            differs(out, "gap_statements", id.to_string(), "a statement no event wrote", "中断说明人记录无日志记录");
            continue;
        };
        if d["author"].as_str() != Some(author.as_str()) || d["typed_by"].as_str() != Some(typed_by.as_str()) {
            differs(out, "gap_statements", id.to_string(), "the author was changed", "中断说明人被改动");
        }
        let scan = &d["scan"];
        if scan["path"].as_str() != path.as_deref()
            || scan["size"].as_i64() != size
            || scan["blake3"].as_str() != hash.as_deref()
        {
            differs(out, "gap_statements", id.to_string(), "the scanned statement was changed", "说明扫描件记录被改动");
        }
        let (want, want_note) = match &reviewed {
            Some(r) => (r["decision"].as_str().unwrap_or_default(), r["note"].as_str()),
            None => (d["review"].as_str().unwrap_or_default(), None),
        };
        if want != review || (reviewed.is_some() && want_note != note.as_deref()) {
            differs(out, "gap_statements", id.to_string(), "the review was changed", "审核结果被改动");
        }
    }
    for id in logged.keys() {
        differs(out, "gap_statements", id.to_string(), "the statement is gone", "中断说明人记录被删除");
    }
    Ok(())
}

/// Approvals not to record (S1 §8; INV-37): officer, window and reason as entered, and the
/// approval, as `recording_exemption_recorded` and `recording_exemption_approved` wrote them.
fn exemptions(conn: &Connection, out: &mut Vec<Edited>) -> anyhow::Result<()> {
    let mut logged: BTreeMap<i64, (Value, Option<String>)> = BTreeMap::new();
    for (a, _, d) in events(conn, &["recording_exemption_recorded", "recording_exemption_approved"])? {
        let Some(id) = d["exemption"].as_i64() else { continue };
        if a == "recording_exemption_recorded" {
            logged.insert(id, (d, None));
        } else if let Some(e) = logged.get_mut(&id) {
            e.1 = d["approved_by"].as_str().map(str::to_string);
        }
    }
    type Row = (i64, String, String, String, String, Option<String>);
    let mut st = conn.prepare("SELECT id, officer, from_t, to_t, reason, approved_by FROM recording_exemptions")?;
    let rows: Vec<Row> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
        .collect::<Result<_, _>>()?;
    for (id, officer, from, to, reason, approved_by) in rows {
        let Some((d, approved)) = logged.remove(&id) else {
            differs(
                out,
                "recording_exemptions",
                id.to_string(),
                "an exemption no event entered",
                "不予录像登记无日志记录",
            );
            continue;
        };
        if d["officer"].as_str() != Some(officer.as_str())
            || d["from"].as_str() != Some(from.as_str())
            || d["to"].as_str() != Some(to.as_str())
            || d["reason"].as_str() != Some(reason.as_str())
        {
            differs(out, "recording_exemptions", id.to_string(), "the exemption was changed", "不予录像登记被改动");
        }
        if approved != approved_by {
            differs(out, "recording_exemptions", id.to_string(), "the approval differs", "不予录像批准状态被改动");
        }
    }
    for id in logged.keys() {
        differs(out, "recording_exemptions", id.to_string(), "the exemption is gone", "不予录像登记被删除");
    }
    Ok(())
}

/// The scanned statements the log names (the latest explanation of each gap, INV-37), read
/// from the archive and held against the size and BLAKE3 the log recorded: a scan missing or
/// changed is named like an edited row.
///
/// # Errors
/// When the database cannot be read.
pub fn scans(conn: &Connection, archive_root: &std::path::Path) -> anyhow::Result<Vec<Edited>> {
    let mut out = Vec::new();
    let mut logged: BTreeMap<i64, Value> = BTreeMap::new();
    for (_, _, d) in events(conn, &["gap_explained"])? {
        if let (Some(id), true) = (d["gap"].as_i64(), d["scan"].is_object()) {
            logged.insert(id, d["scan"].clone());
        }
    }
    for (id, scan) in logged {
        let Some(path) = scan["path"].as_str() else { continue };
        let file = archive_root.join(path);
        let found = std::fs::read(&file).map(|b| (b.len() as u64, blake3::hash(&b).to_hex().to_string()));
        match found {
            Err(_) => differs(
                &mut out,
                "gap_statements",
                id.to_string(),
                "the scanned statement is missing from the archive",
                "说明扫描件缺失",
            ),
            Ok((size, hash)) => {
                if Some(size) != scan["size"].as_u64() || Some(hash.as_str()) != scan["blake3"].as_str() {
                    differs(
                        &mut out,
                        "gap_statements",
                        id.to_string(),
                        "the scanned statement's bytes differ",
                        "说明扫描件内容被改动",
                    );
                }
            }
        }
    }
    Ok(out)
}
