//! `evidock central verify`: an auditor's check of a whole bucket, from outside every station,
//! with read-only credentials. For each station folder in the bucket:
//!
//! - the log segments are contiguous from event 1, every event's hash chain holds, and the
//!   Merkle root at each checkpoint's size equals what that checkpoint signs; every checkpoint
//!   opens with the station's verifier key (the bucket's copy, or one the auditor pins);
//! - every object the log says the store confirmed (`central_confirmed`) is there, once (a
//!   second version is an overwrite), with the logged size, BLAKE3 metadata and ETag (and,
//!   with `--read-back`, the logged BLAKE3 of its bytes);
//! - every such object is locked in COMPLIANCE mode at least until the latest date the log
//!   gives it, and its legal hold is on where the log last set it;
//! - files the log says were archived but not yet confirmed are counted (still on the station
//!   alone), not findings.
//!
//! Finding tampering is a result, not an error: `Err` means the bucket could not be read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::custody::chain::Verifier;
use crate::custody::checkpoint::{Checkpoint, NoteVerifier};
use crate::custody::merkle::{event_leaf, TreeBuilder};

use super::keys;
use super::s3::{iso, parse_iso, S3Error, Store};

/// One thing wrong in a station's central copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// A stable one-word name: `no_key`, `forged_checkpoint`, `checkpoint_gap`,
    /// `events_gap`, `chain`, `root`, `missing`, `overwritten`, `tampered`, `unlocked`,
    /// `lock_short`, `hold_missing`.
    pub kind: &'static str,
    /// The object key (or what the finding is about).
    pub key: String,
    /// What is wrong, in words.
    pub detail: String,
}

/// What the check found for one station.
#[derive(Debug, Clone, Default)]
pub struct StationReport {
    /// The station's folder name.
    pub station: String,
    /// Checkpoints found and verified.
    pub checkpoints: u64,
    /// Events in the central log.
    pub events: u64,
    /// Objects confirmed by the log and checked.
    pub objects_checked: u64,
    /// Files the log says were archived but never confirmed off the station.
    pub unconfirmed: u64,
    /// Findings.
    pub findings: Vec<Finding>,
}

impl StationReport {
    /// The report as JSON (`central verify --json`, one object per station).
    pub fn to_json(&self) -> Value {
        json!({
            "station": self.station, "checkpoints": self.checkpoints, "events": self.events,
            "objects_checked": self.objects_checked, "unconfirmed": self.unconfirmed,
            "ok": self.findings.is_empty(),
            "findings": self.findings.iter().map(|f| json!({"kind": f.kind, "key": f.key, "detail": f.detail})).collect::<Vec<_>>(),
        })
    }
}

/// The stations in the bucket (first key segments).
///
/// # Errors
/// When the bucket cannot be listed.
pub fn stations(store: &Store) -> Result<Vec<String>, S3Error> {
    let mut out: Vec<String> = store
        .list("")?
        .into_iter()
        .filter_map(|(k, _, _)| {
            keys::classify(&k).filter(|c| c.1 == "verifier" || c.1 == "checkpoint").map(|c| c.0.to_string())
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// What the log says of one object.
#[derive(Debug, Clone, Default)]
struct Logged {
    size: u64,
    blake3: String,
    etag: String,
    until: Option<DateTime<Utc>>,
    hold: bool,
}

/// Checks one station. `pinned`: the verifier key the auditor trusts (else the bucket's copy).
///
/// # Errors
/// When the bucket cannot be read.
pub fn check_station(
    store: &Store,
    station: &str,
    pinned: Option<&NoteVerifier>,
    read_back: bool,
) -> Result<StationReport, S3Error> {
    let mut r = StationReport { station: station.to_string(), ..StationReport::default() };
    let find = |r: &mut StationReport, kind: &'static str, key: &str, detail: String| {
        r.findings.push(Finding { kind, key: key.to_string(), detail });
    };
    let versions = store.versions(&format!("{station}/"))?;
    let mut by_key: BTreeMap<String, Vec<&super::s3::Version>> = BTreeMap::new();
    for v in &versions {
        by_key.entry(v.key.clone()).or_default().push(v);
    }
    for (key, vs) in &by_key {
        if vs.len() > 1 || vs.iter().any(|v| v.delete_marker) {
            find(
                &mut r,
                "overwritten",
                key,
                format!("{} versions at this key (a WORM object is written once): written over or deleted", vs.len()),
            );
        }
    }
    // The verifier key.
    let bucket_key = match store.get(&keys::verifier_key(station))? {
        Some(b) => NoteVerifier::parse(String::from_utf8_lossy(&b).trim()).ok(),
        None => None,
    };
    let verifier = match (pinned, &bucket_key) {
        (Some(p), Some(b)) if p.encode() != b.encode() => {
            find(
                &mut r,
                "no_key",
                &keys::verifier_key(station),
                "the bucket's verifier key is not the one pinned".into(),
            );
            Some(p.clone())
        }
        (Some(p), _) => Some(p.clone()),
        (None, Some(b)) => Some(b.clone()),
        (None, None) => {
            find(&mut r, "no_key", &keys::verifier_key(station), "no readable verifier key in the bucket".into());
            None
        }
    };
    // Checkpoints, in id order.
    let mut cps: Vec<(u64, Checkpoint)> = Vec::new();
    let mut ids: Vec<(u64, String)> =
        by_key.keys().filter_map(|k| keys::checkpoint_id(k).map(|id| (id, k.clone()))).collect();
    ids.sort();
    for (n, (id, key)) in ids.iter().enumerate() {
        if *id != n as u64 + 1 {
            find(&mut r, "checkpoint_gap", key, format!("checkpoint #{id} follows #{}: checkpoints are missing", n));
        }
        let Some(body) = store.get(key)? else { continue };
        let note = String::from_utf8_lossy(&body).into_owned();
        match verifier.as_ref().map(|v| Checkpoint::open(&note, v)) {
            Some(Ok(c)) => cps.push((*id, c)),
            Some(Err(e)) => {
                find(&mut r, "forged_checkpoint", key, format!("does not verify with the station's key: {e}"))
            }
            None => {}
        }
    }
    r.checkpoints = cps.len() as u64;
    // The log, segment by segment.
    let mut segs: Vec<((u64, u64), String)> =
        by_key.keys().filter_map(|k| keys::events_range(k).map(|rg| (rg, k.clone()))).collect();
    segs.sort();
    let mut chain = Verifier::new();
    let mut tree = TreeBuilder::new();
    let mut roots: BTreeMap<u64, [u8; 32]> = BTreeMap::new();
    let sizes: std::collections::BTreeSet<u64> = cps.iter().map(|(_, c)| c.size).collect();
    let mut logged: BTreeMap<String, Logged> = BTreeMap::new();
    let mut archived: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut next = 1u64;
    for ((from, to), key) in &segs {
        if *from != next {
            find(&mut r, "events_gap", key, format!("events {next}..{} are not in the bucket", from.saturating_sub(1)));
            break;
        }
        let Some(body) = store.get(key)? else { break };
        let text = String::from_utf8_lossy(&body);
        let mut expect = *from;
        for line in text.lines().filter(|l| !l.is_empty()) {
            match keys::parse_event_line(line) {
                Ok(ev) => {
                    if ev.seq != expect {
                        find(&mut r, "chain", key, format!("event {} where {expect} was expected", ev.seq));
                    }
                    chain.push(&ev);
                    tree.push(event_leaf(&ev));
                    if sizes.contains(&tree.size()) {
                        roots.insert(tree.size(), tree.root());
                    }
                    note_event(station, &ev.action, &ev.details, &mut logged, &mut archived);
                    expect = ev.seq + 1;
                }
                Err(e) => {
                    chain.push_malformed(e.clone());
                    find(&mut r, "chain", key, format!("an unreadable line: {e}"));
                }
            }
        }
        if expect != to + 1 {
            find(&mut r, "chain", key, format!("the segment ends at event {}, its name says {to}", expect - 1));
        }
        next = to + 1;
    }
    r.events = tree.size();
    if let Some(f) = chain.finish().finding {
        find(&mut r, "chain", &format!("{station}/custody/events/"), format!("event {}: {}", f.seq(), f.reason()));
    }
    for (id, c) in &cps {
        match roots.get(&c.size) {
            Some(root) if *root == c.root => {}
            Some(_) => find(
                &mut r,
                "root",
                &keys::checkpoint_key(station, *id),
                format!("the events do not hash to what checkpoint #{id} signs"),
            ),
            None if c.size > r.events => {
                let detail = format!("checkpoint #{id} signs {} events, the bucket holds {}", c.size, r.events);
                find(&mut r, "events_gap", &keys::checkpoint_key(station, *id), detail)
            }
            None => {}
        }
    }
    // Every confirmed object: there once, same bytes, locked as the log says.
    let now = Utc::now();
    for (key, want) in &logged {
        r.objects_checked += 1;
        let Some(head) = store.head(key)? else {
            find(&mut r, "missing", key, "the log says the store confirmed it; it is not there".into());
            continue;
        };
        if head.size != want.size
            || head.meta.get("blake3") != Some(&want.blake3)
            || (!want.etag.is_empty() && head.etag != want.etag)
        {
            find(
                &mut r,
                "tampered",
                key,
                format!(
                    "the store holds size {} blake3 {} etag {}, the log says size {} blake3 {} etag {}",
                    head.size,
                    head.meta.get("blake3").map_or("none", String::as_str),
                    head.etag,
                    want.size,
                    want.blake3,
                    want.etag
                ),
            );
            continue;
        }
        if read_back {
            let mut h = blake3::Hasher::new();
            store.get_into(key, |b| {
                h.update(b);
            })?;
            if h.finalize().to_hex().as_str() != want.blake3 {
                find(&mut r, "tampered", key, "its bytes do not hash to the logged BLAKE3".into());
                continue;
            }
        }
        match store.retention(key)? {
            None => find(&mut r, "unlocked", key, "no Object Lock retention".into()),
            Some(l) if l.mode != "COMPLIANCE" => {
                find(&mut r, "unlocked", key, format!("lock mode {}, not COMPLIANCE", l.mode))
            }
            Some(l) => {
                if let Some(u) = want.until {
                    if l.until + chrono::TimeDelta::seconds(1) < u {
                        find(
                            &mut r,
                            "lock_short",
                            key,
                            format!("locked until {}, the log says {}", iso(l.until), iso(u)),
                        );
                    }
                }
                if l.until < now && want.until.is_some_and(|u| u > now) {
                    find(&mut r, "lock_short", key, "its lock has expired before its deadline".into());
                }
            }
        }
        if want.hold && !store.legal_hold(key)? {
            find(&mut r, "hold_missing", key, "the log set a legal hold; the store has none".into());
        }
    }
    r.unconfirmed = archived.keys().filter(|k| !logged.contains_key(*k)).count() as u64;
    Ok(r)
}

/// Learns from one event what the store must hold.
fn note_event(
    station: &str,
    action: &str,
    details: &str,
    logged: &mut BTreeMap<String, Logged>,
    archived: &mut BTreeMap<String, (u64, String)>,
) {
    let d: Value = serde_json::from_str(details).unwrap_or_default();
    let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
    match action {
        "segment_copied" | "archive_recovered" if d["archive_path"].is_string() => {
            archived
                .insert(keys::file_key(station, &s("archive_path")), (d["size"].as_u64().unwrap_or(0), s("blake3")));
        }
        "footage_assigned" if d["to"].is_string() => {
            archived.insert(keys::file_key(station, &s("to")), (0, s("blake3")));
        }
        "central_confirmed" => {
            let e = logged.entry(s("key")).or_default();
            e.size = d["size"].as_u64().unwrap_or(0);
            e.blake3 = s("blake3");
            e.etag = s("etag");
            e.until = parse_iso(&s("retain_until"));
            e.hold = d["legal_hold"].as_bool().unwrap_or(false);
        }
        "central_lock_changed" => {
            if let Some(e) = logged.get_mut(&s("key")) {
                if let Some(u) = parse_iso(&s("retain_until")) {
                    e.until = Some(e.until.map_or(u, |old| old.max(u)));
                }
                e.hold = d["legal_hold"].as_bool().unwrap_or(e.hold);
            }
        }
        _ => {}
    }
}
