//! The custody log's verdict as people and programs read it: `log verify`'s text (English then
//! Chinese) and its JSON document (`docs/CUSTODY-LOG.md`), from the chain's and the audit's
//! reports. Pure.

use serde_json::{json, Value};

use super::chain::LogReport;
use super::event::{Action, StoredEvent};
use super::store::{AuditReport, CheckpointSource};

/// Lower-case hexadecimal.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The chain's verification result as one JSON object (the chain part of `log verify --json`).
pub fn verify_json(r: &LogReport) -> String {
    chain_json(r).to_string()
}

fn chain_json(r: &LogReport) -> Value {
    json!({
        "intact": r.intact(),
        "events": r.events,
        "head": r.head.as_ref().map(|h| hex(h)),
        "first_bad": r.finding.as_ref().map(|f| json!({
            "seq": f.seq(),
            "kind": f.kind(),
            "reason": f.reason(),
            "reason_zh": f.reason_zh(),
        })),
    })
}

/// The chain's verification result as two lines, English then Chinese.
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

fn source_json(s: &CheckpointSource) -> Value {
    match s {
        CheckpointSource::Stored { id } => json!({"stored": id}),
        CheckpointSource::File { path, index } => json!({"file": path, "index": index}),
    }
}

/// The full verification result as one JSON object (the `log verify --json` shape).
pub fn audit_json(r: &AuditReport) -> String {
    let mut v = chain_json(&r.chain);
    v["intact"] = json!(r.intact());
    v["first_bad"] = r.first_bad_event().map_or(
        Value::Null,
        |(seq, kind, reason, reason_zh)| json!({"seq": seq, "kind": kind, "reason": reason, "reason_zh": reason_zh}),
    );
    v["tree"] = json!({"size": r.tree_size, "root": hex(&r.root)});
    v["checkpoints"] = json!({
        "checked": r.checkpoints.len(),
        "latest_size": r.checkpoints.iter().filter(|c| c.problem.is_none()).filter_map(|c| c.checkpoint.as_ref().map(|c| c.size)).max(),
        "bad": r.bad_checkpoints().map(|c| {
            let p = c.problem.as_ref();
            json!({
                "source": source_json(&c.source),
                "size": c.checkpoint.as_ref().map(|c| c.size),
                "kind": p.map(|p| p.kind()),
                "reason": p.map(|p| p.reason()),
                "reason_zh": p.map(|p| p.reason_zh()),
            })
        }).collect::<Vec<_>>(),
    });
    v.to_string()
}

/// The full verification result: the chain's two lines (or the first bad event), the tree
/// root, and the checkpoints, English then Chinese.
pub fn audit_text(r: &AuditReport) -> String {
    let mut out = match (&r.chain.finding, r.first_bad_event()) {
        (None, Some((s, _, reason, reason_zh))) => format!(
            "custody log BROKEN at event {s} ({n} rows read): {reason}\n保管日志校验失败，问题始于第 {s} 条事件（共读取 {n} 行）：{reason_zh}\n",
            n = r.chain.events
        ),
        _ => verify_text(&r.chain),
    };
    out.push_str(&format!("Merkle tree root (RFC 9162, SHA-256) at {} events: {}\n", r.tree_size, hex(&r.root)));
    let good: Vec<u64> = r
        .checkpoints
        .iter()
        .filter(|c| c.problem.is_none())
        .filter_map(|c| c.checkpoint.as_ref().map(|c| c.size))
        .collect();
    let stored = r.checkpoints.iter().filter(|c| matches!(c.source, CheckpointSource::Stored { .. })).count();
    let (n, files) = (r.checkpoints.len(), r.checkpoints.len() - stored);
    if n == 0 {
        out.push_str("checkpoints: none yet (run `evidock log checkpoint`)\n检查点：尚无\n");
    } else {
        let latest = good.iter().max().map_or("none".to_string(), |s| format!("{s} events"));
        out.push_str(&format!(
            "checkpoints: {n} checked ({stored} stored, {files} from files), {} match, latest matching covers {latest}\n\
             检查点：已核对 {n} 个（库内 {stored} 个，文件中 {files} 个），{} 个一致\n",
            good.len(),
            good.len()
        ));
    }
    for c in r.bad_checkpoints() {
        if let Some(p) = &c.problem {
            out.push_str(&format!("BAD {}: {}\n检查点异常 {}：{}\n", c.source, p.reason(), c.source, p.reason_zh()));
        }
    }
    out
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
