//! Custody extracts: the events about some footage, each with its RFC 9162 inclusion proof
//! against one signed checkpoint, so that whoever receives an export or a disc can check,
//! offline and without the station's database, that these events are in the station's log
//! exactly as shown (R9, R11).
//!
//! An extract is a text file of JSON lines (`custody-extract.jsonl`), one per event, beside the
//! checkpoint note and the verifier key. Each line holds `seq`, `leaf_index`, `tree_size`,
//! `leaf_hash`, `proof` (hex, nearest sibling first) and either `event` with `encoding` (the
//! canonical bytes, hex, §3 of `docs/CUSTODY-LOG.md`) or `withheld` with the reason (an event
//! whose content may not leave, e.g. towards a party: the leaf hash alone still proves that
//! an event stood at that place).
//!
//! Owns: the entry ([`Entry`]), its line ([`Entry::line`]) and the offline check
//! ([`verify`]).
//! Must never: do I/O or read a clock.

use serde_json::{json, Value};

use super::checkpoint::Checkpoint;
use super::event::{decode, encode, StoredEvent};
use super::merkle::{leaf_hash, verify_inclusion, Hash};

/// One event of an extract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its sequence number.
    pub seq: u64,
    /// Its leaf index in the tree (`seq - 1` in a sound log).
    pub leaf_index: u64,
    /// The tree size of the checkpoint the proof leads to.
    pub tree_size: u64,
    /// The inclusion proof.
    pub proof: Vec<Hash>,
    /// The event, or `None` when withheld.
    pub event: Option<StoredEvent>,
    /// The leaf hash (from the event, or given when withheld).
    pub leaf_hash: Hash,
    /// Why the event's content was withheld.
    pub withheld: Option<String>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

fn hash_of(v: &Value) -> Option<Hash> {
    unhex(v.as_str()?)?.try_into().ok()
}

impl Entry {
    /// The entry's JSON line (newline included); `event_json` renders the event as
    /// `evidock log tail --json` does.
    pub fn line(&self, event_json: impl Fn(&StoredEvent) -> String) -> String {
        let mut v = json!({
            "seq": self.seq,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": hex(&self.leaf_hash),
            "proof": self.proof.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        });
        match (&self.event, &self.withheld) {
            (Some(ev), None) => {
                v["event"] = serde_json::from_str(&event_json(ev)).unwrap_or(Value::Null);
                v["encoding"] = Value::String(hex(&encode(ev)));
            }
            (_, Some(why)) => v["withheld"] = Value::String(why.clone()),
            (None, None) => v["withheld"] = Value::String("unknown".into()),
        }
        v.to_string() + "\n"
    }
}

/// What an extract check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractReport {
    /// Events whose encoding, leaf hash and proof lead to the checkpoint's root.
    pub proven: u64,
    /// Withheld events whose leaf hash and proof lead to the root.
    pub withheld: u64,
    /// Problems: (line number from 1, the event's seq if readable, what is wrong).
    pub problems: Vec<(usize, Option<u64>, String)>,
    /// The proven events, read from their encodings (what the checkpoint vouches for, not the
    /// `event` shown beside it).
    pub events: Vec<StoredEvent>,
}

impl ExtractReport {
    /// Whether every line checked out (and there was at least one).
    pub fn intact(&self) -> bool {
        self.problems.is_empty() && self.proven + self.withheld > 0
    }
}

/// Checks every line of an extract against a checkpoint already opened with the verifier key.
pub fn verify(text: &str, cp: &Checkpoint) -> ExtractReport {
    let mut report = ExtractReport::default();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let n = n + 1;
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                report.problems.push((n, None, format!("not a JSON line: {e}")));
                continue;
            }
        };
        let seq = v["seq"].as_u64();
        let mut bad = |why: String| report.problems.push((n, seq, why));
        let (Some(index), Some(size), Some(leaf)) =
            (v["leaf_index"].as_u64(), v["tree_size"].as_u64(), hash_of(&v["leaf_hash"]))
        else {
            bad("leaf_index, tree_size or leaf_hash missing or malformed".into());
            continue;
        };
        if size != cp.size {
            bad(format!("proof is for tree size {size}, the checkpoint signs {}", cp.size));
            continue;
        }
        let proof: Option<Vec<Hash>> = v["proof"].as_array().map(|a| a.iter().map(hash_of).collect()).unwrap_or(None);
        let Some(proof) = proof else {
            bad("proof missing or malformed".into());
            continue;
        };
        let withheld = v.get("withheld").is_some();
        if !withheld {
            let Some(encoding) = v["encoding"].as_str().and_then(unhex) else {
                bad("encoding missing or not hex".into());
                continue;
            };
            if leaf_hash(&encoding) != leaf {
                bad("the encoding does not hash to leaf_hash: the event was altered".into());
                continue;
            }
            // The shown event must be the encoded one: its seq is in the encoding (§3, field 2).
            let encoded_seq = encoding.get(25..33).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes);
            if encoded_seq != seq || v["event"]["seq"].as_u64() != seq {
                bad("the event shown, its encoding and its seq disagree".into());
                continue;
            }
        }
        if let Err(e) = verify_inclusion(index, size, &leaf, &proof, &cp.root) {
            bad(format!("the inclusion proof does not lead to the checkpoint's root: {e}"));
            continue;
        }
        if withheld {
            report.withheld += 1;
        } else {
            report.proven += 1;
            if let Some(ev) = v["encoding"].as_str().and_then(unhex).as_deref().and_then(decode) {
                report.events.push(ev);
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::merkle::{root, ProofCache};

    fn event(seq: u64) -> StoredEvent {
        StoredEvent {
            seq,
            ts_utc: "2026-03-01T00:00:00.000Z".into(),
            ts_local: "2026-03-01T08:00:00.000+08:00".into(),
            actor_user: "root".into(),
            actor_role: "archivist".into(),
            actor_officer: None,
            action: "footage_exported".into(),
            subject: format!("access:{seq}"),
            details: "{\"party\":\"court\"}".into(),
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    fn extract(withhold: &[u64]) -> (String, Checkpoint) {
        let events: Vec<StoredEvent> = (1..=20).map(event).collect();
        let leaves: Vec<Hash> = events.iter().map(|e| leaf_hash(&encode(e))).collect();
        let cp = Checkpoint { origin: "t".into(), size: 20, root: root(leaves.iter().copied()), extensions: vec![] };
        let mut cache = ProofCache::new(leaves.clone());
        let text = [3u64, 7, 20]
            .iter()
            .map(|&s| {
                let held = withhold.contains(&s);
                Entry {
                    seq: s,
                    leaf_index: s - 1,
                    tree_size: 20,
                    proof: cache.inclusion(s - 1, 20).unwrap(),
                    event: (!held).then(|| events[(s - 1) as usize].clone()),
                    leaf_hash: leaves[(s - 1) as usize],
                    withheld: held.then(|| "informant".to_string()),
                }
                .line(|e| json!({ "seq": e.seq, "action": e.action }).to_string())
            })
            .collect();
        (text, cp)
    }

    #[test]
    fn a_sound_extract_verifies_withheld_lines_included() {
        let (text, cp) = extract(&[7]);
        let r = verify(&text, &cp);
        assert_eq!((r.proven, r.withheld, r.problems.len()), (2, 1, 0), "{r:?}");
        assert!(r.intact());
        assert!(!text.contains("footage_exported\",\"seq\":7"), "withheld content stays out");
        // The proven events, read back from their encodings, are the events themselves.
        assert_eq!(r.events, vec![event(3), event(20)]);
    }

    #[test]
    fn altered_events_proofs_and_checkpoints_are_named() {
        let (text, cp) = extract(&[]);
        let edited = text.replacen("616363657373", "616363657374", 1); // "access" -> "accest" in an encoding
        let r = verify(&edited, &cp);
        assert_eq!(r.problems.len(), 1, "{r:?}");
        assert!(r.problems[0].2.contains("altered"), "{r:?}");

        let mut lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        lines[1]["proof"][0] = Value::String("00".repeat(32));
        let broken: String = lines.iter().map(|l| l.to_string() + "\n").collect();
        let r = verify(&broken, &cp);
        assert_eq!(r.problems.iter().map(|p| p.1).collect::<Vec<_>>(), vec![Some(7)], "{r:?}");

        let other = Checkpoint { root: [9; 32], ..cp.clone() };
        assert_eq!(verify(&text, &other).problems.len(), 3);
        assert!(!verify("", &cp).intact(), "an empty extract proves nothing");
    }

    /// INV: the extract module is pure.
    #[test]
    fn extract_module_is_pure() {
        crate::custody::chain::tests::assert_pure(include_str!("extract.rs"));
    }
}
