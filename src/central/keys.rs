//! Where things live in the central bucket, and the custody log's wire form there. Pure.
//!
//! ```text
//! <station>/archive/<YYYY>/<MM>/<DD>/<case or holding folder>/<serial>/<file>   footage, chain files,
//!                                                                              dock seals, salvaged parts
//! <station>/custody/custody-signing.pub                                        the verifier key
//! <station>/custody/events/<from:012>-<to:012>.jsonl                           signed segments of the log
//! <station>/custody/checkpoints/<id:010>.note                                  every checkpoint
//! ```
//!
//! A log segment holds the events a checkpoint added (after the previous checkpoint's size,
//! up to its own), one JSON object per line with every stored field (hashes in hex), so that
//! an auditor recomputes the chain and the Merkle root and checks the signature without the
//! station. Every object carries `x-amz-meta-blake3` and `x-amz-meta-size`.

use serde_json::{json, Value};

use crate::custody::event::StoredEvent;

/// The key of an archived file.
pub fn file_key(station: &str, archive_path: &str) -> String {
    format!("{station}/archive/{archive_path}")
}

/// The key of the log segment holding events `from..=to`.
pub fn events_key(station: &str, from: u64, to: u64) -> String {
    format!("{station}/custody/events/{from:012}-{to:012}.jsonl")
}

/// The key of checkpoint `id`.
pub fn checkpoint_key(station: &str, id: u64) -> String {
    format!("{station}/custody/checkpoints/{id:010}.note")
}

/// The prefix under which checkpoints sort by id.
pub fn checkpoints_prefix(station: &str) -> String {
    format!("{station}/custody/checkpoints/")
}

/// The key of the station's verifier key.
pub fn verifier_key(station: &str) -> String {
    format!("{station}/custody/custody-signing.pub")
}

/// The checkpoint id in a checkpoint key.
pub fn checkpoint_id(key: &str) -> Option<u64> {
    key.rsplit('/').next()?.strip_suffix(".note")?.parse().ok()
}

/// The range in an events key.
pub fn events_range(key: &str) -> Option<(u64, u64)> {
    let (a, b) = key.rsplit('/').next()?.strip_suffix(".jsonl")?.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// What a key in the bucket is: (station, kind, rest).
pub fn classify(key: &str) -> Option<(&str, &'static str, &str)> {
    let (station, rest) = key.split_once('/')?;
    if let Some(p) = rest.strip_prefix("archive/") {
        return Some((station, "archive", p));
    }
    if let Some(p) = rest.strip_prefix("custody/events/") {
        return Some((station, "events", p));
    }
    if let Some(p) = rest.strip_prefix("custody/checkpoints/") {
        return Some((station, "checkpoint", p));
    }
    if rest == "custody/custody-signing.pub" {
        return Some((station, "verifier", rest));
    }
    Some((station, "other", rest))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let v: Option<Vec<u8>> = (0..64).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect();
    v?.try_into().ok()
}

/// One event as a line of a log segment (newline included).
pub fn event_line(ev: &StoredEvent) -> String {
    json!({
        "seq": ev.seq, "ts_utc": ev.ts_utc, "ts_local": ev.ts_local, "actor_user": ev.actor_user,
        "actor_role": ev.actor_role, "actor_officer": ev.actor_officer, "action": ev.action,
        "subject": ev.subject, "details": ev.details, "prev_hash": hex(&ev.prev_hash), "hash": hex(&ev.hash),
    })
    .to_string()
        + "\n"
}

/// An event back from its line.
///
/// # Errors
/// What is missing or malformed.
pub fn parse_event_line(line: &str) -> Result<StoredEvent, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let s = |k: &str| v[k].as_str().map(str::to_string).ok_or_else(|| format!("{k} missing or not text"));
    Ok(StoredEvent {
        seq: v["seq"].as_u64().ok_or("seq missing")?,
        ts_utc: s("ts_utc")?,
        ts_local: s("ts_local")?,
        actor_user: s("actor_user")?,
        actor_role: s("actor_role")?,
        actor_officer: match &v["actor_officer"] {
            Value::Null => None,
            Value::String(o) => Some(o.clone()),
            _ => return Err("actor_officer is not text".into()),
        },
        action: s("action")?,
        subject: s("subject")?,
        details: s("details")?,
        prev_hash: unhex32(&s("prev_hash")?).ok_or("prev_hash is not 32 bytes of hex")?,
        hash: unhex32(&s("hash")?).ok_or("hash is not 32 bytes of hex")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_show_station_date_case_serial_file() {
        let k = file_key("站点-1", "2024/05/01/（2024）卫监罚字第1号/SN0001/0001.MP4");
        assert_eq!(k, "站点-1/archive/2024/05/01/（2024）卫监罚字第1号/SN0001/0001.MP4");
        assert_eq!(classify(&k), Some(("站点-1", "archive", "2024/05/01/（2024）卫监罚字第1号/SN0001/0001.MP4")));
        let e = events_key("s", 1, 250);
        assert_eq!(e, "s/custody/events/000000000001-000000000250.jsonl");
        assert_eq!(events_range(&e), Some((1, 250)));
        let c = checkpoint_key("s", 7);
        assert_eq!(checkpoint_id(&c), Some(7));
        assert!(c.starts_with(&checkpoints_prefix("s")));
        assert_eq!(classify(&verifier_key("s")).map(|c| c.1), Some("verifier"));
    }

    #[test]
    fn an_event_line_round_trips() {
        let ev = StoredEvent {
            seq: 3,
            ts_utc: "2024-05-01T08:30:00.125Z".into(),
            ts_local: "2024-05-01T16:30:00.125+08:00".into(),
            actor_user: "evidock".into(),
            actor_role: "daemon".into(),
            actor_officer: Some("警号001".into()),
            action: "docked".into(),
            subject: "volume:SN1".into(),
            details: "{\"a\":\"案\"}".into(),
            prev_hash: [1; 32],
            hash: [2; 32],
        };
        assert_eq!(parse_event_line(&event_line(&ev)).unwrap(), ev);
        assert!(parse_event_line("{\"seq\":1}").unwrap_err().contains("ts_utc"));
        assert!(parse_event_line("nonsense").is_err());
    }
}
