//! Custody log verification: a pure, streaming check of a sequence of stored events against
//! the hash chain.
//!
//! Owns: what counts as a sound log and the [`Finding`] that names the first place where a log
//! stops being sound: an edited row, a deleted row, a reordering, a row that links elsewhere,
//! a bad first event, an unreadable row (R11).
//! Must never: do I/O, read a clock, hold the whole log in memory (it keeps one hash and at most
//! one pending observation), or fail because of tampering: finding tampering is a result,
//! not an error.
//!
//! A sound log is events with seq 1, 2, 3, ... in that order, where event 1 has
//! `prev_hash` = [`GENESIS_PREV`], every later event's `prev_hash` is the previous event's
//! `hash`, and every `hash` is [`event_hash`]`(prev_hash, event)`.
//!
//! Every finding names a sequence number `s` ([`Finding::seq`]) such that events `1..s` are
//! sound and the log is not sound at `s`: the event found where `s` belongs is edited, missing,
//! out of place, or does not link. What the chain alone cannot see: the removal of events at
//! the end (truncation) and a rewrite of every event from some point on with recomputed
//! hashes. Signed checkpoints of the head catch both; they come on top of this chain.

use super::event::{event_hash, StoredEvent, GENESIS_PREV};

/// The first place where a log is not sound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The event found where `seq` belongs does not match its own `hash`: a field, the
    /// `prev_hash` or the `hash` was changed.
    Edited {
        /// The sequence number expected here.
        seq: u64,
        /// The sequence number the row carries (differs from `seq` when that was edited).
        stored_seq: u64,
    },
    /// Events are missing: the event after `after_seq` carries `after_seq + 1 + missing`,
    /// and no lower number follows it.
    Deleted {
        /// The last sound event (0: none).
        after_seq: u64,
        /// How many sequence numbers are missing.
        missing: u64,
    },
    /// Events are out of order: where `seq` belongs, `found_seq` is found, and it is either
    /// lower than `seq` or followed by a lower number.
    Reordered {
        /// The sequence number expected here.
        seq: u64,
        /// The sequence number found here.
        found_seq: u64,
    },
    /// The event `seq` matches its own hash but its `prev_hash` is not the hash of event
    /// `seq - 1`: it, or the one before it, was rewritten with a recomputed hash, or it comes
    /// from another log.
    Unlinked {
        /// The event.
        seq: u64,
    },
    /// The first event matches its own hash but its `prev_hash` is not all zeros: the log's
    /// beginning was cut off and the rest renumbered, or it comes from another log.
    BadGenesis,
    /// The row where `seq` belongs could not be read as an event (wrong type or length).
    Malformed {
        /// The sequence number expected here.
        seq: u64,
        /// What is wrong with the row.
        reason: String,
    },
}

impl Finding {
    /// The first sequence number at which the log is not sound.
    pub fn seq(&self) -> u64 {
        match self {
            Finding::Edited { seq, .. }
            | Finding::Reordered { seq, .. }
            | Finding::Unlinked { seq }
            | Finding::Malformed { seq, .. } => *seq,
            Finding::Deleted { after_seq, .. } => after_seq + 1,
            Finding::BadGenesis => 1,
        }
    }

    /// A stable one-word name: `edited`, `deleted`, `reordered`, `unlinked`, `bad_genesis`,
    /// `malformed`.
    pub fn kind(&self) -> &'static str {
        match self {
            Finding::Edited { .. } => "edited",
            Finding::Deleted { .. } => "deleted",
            Finding::Reordered { .. } => "reordered",
            Finding::Unlinked { .. } => "unlinked",
            Finding::BadGenesis => "bad_genesis",
            Finding::Malformed { .. } => "malformed",
        }
    }

    /// What was found, in English.
    pub fn reason(&self) -> String {
        match self {
            Finding::Edited { seq, stored_seq } if seq == stored_seq => {
                format!("event {seq} does not match its hash: the row was edited")
            }
            Finding::Edited { seq, stored_seq } => {
                format!("the row where event {seq} belongs carries seq {stored_seq} and does not match its hash: the row was edited")
            }
            Finding::Deleted { after_seq, missing: 1 } => {
                format!("event {} is missing after event {after_seq}: deleted", after_seq + 1)
            }
            Finding::Deleted { after_seq, missing } => format!(
                "events {}..={} ({missing} events) are missing after event {after_seq}: deleted",
                after_seq + 1,
                after_seq + missing
            ),
            Finding::Reordered { seq, found_seq } => {
                format!("event {found_seq} appears where event {seq} belongs: events reordered")
            }
            Finding::Unlinked { seq } => format!(
                "event {seq} does not link to event {}: one of them was rewritten with a recomputed hash, or inserted",
                seq - 1
            ),
            Finding::BadGenesis => {
                "event 1 does not start the chain (its prev_hash is not zero): the beginning was cut off".to_string()
            }
            Finding::Malformed { seq, reason } => format!("the row where event {seq} belongs is unreadable: {reason}"),
        }
    }

    /// What was found, in Chinese.
    pub fn reason_zh(&self) -> String {
        match self {
            Finding::Edited { seq, stored_seq } if seq == stored_seq => {
                format!("第 {seq} 条事件与其哈希不符：记录被篡改")
            }
            Finding::Edited { seq, stored_seq } => {
                format!("第 {seq} 条事件位置上的记录序号为 {stored_seq}，且与其哈希不符：记录被篡改")
            }
            Finding::Deleted { after_seq, missing: 1 } => {
                format!("第 {after_seq} 条事件之后缺少第 {} 条事件：记录被删除", after_seq + 1)
            }
            Finding::Deleted { after_seq, missing } => format!(
                "第 {after_seq} 条事件之后缺少第 {} 至 {} 条事件（共 {missing} 条）：记录被删除",
                after_seq + 1,
                after_seq + missing
            ),
            Finding::Reordered { seq, found_seq } => {
                format!("第 {seq} 条事件的位置上出现第 {found_seq} 条事件：顺序被调换")
            }
            Finding::Unlinked { seq } => {
                format!("第 {seq} 条事件未链接到第 {} 条事件：其中一条被重写或插入", seq - 1)
            }
            Finding::BadGenesis => "第 1 条事件不是链的起点（前哈希不为零）：日志开头被截去".to_string(),
            Finding::Malformed { seq, reason } => format!("第 {seq} 条事件位置上的记录无法读取：{reason}"),
        }
    }
}

/// The result of verifying a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogReport {
    /// Rows read (all of them, including any after the first finding).
    pub events: u64,
    /// The stored `hash` of the last row read (`None`: the log is empty). A commitment to the
    /// log only when `first_bad` is `None`.
    pub head: Option<[u8; 32]>,
    /// The first sequence number at which the log is not sound, and why ([`Finding::reason`]).
    pub first_bad: Option<(u64, String)>,
    /// The finding behind `first_bad`.
    pub finding: Option<Finding>,
}

impl LogReport {
    /// Whether the log is sound.
    pub fn intact(&self) -> bool {
        self.finding.is_none()
    }
}

/// Streaming verifier: feed rows in the order they are stored, then [`Verifier::finish`].
/// Holds the last sound hash and at most one pending observation.
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    events: u64,
    head: Option<[u8; 32]>,
    /// Last sound event's seq and hash.
    last: Option<(u64, [u8; 32])>,
    /// An event found with a number above the expected one: a deletion, unless a lower number
    /// follows (then a reordering).
    pending_gap: Option<u64>,
    finding: Option<Finding>,
}

impl Verifier {
    /// A verifier at the start of a log.
    pub fn new() -> Verifier {
        Verifier::default()
    }

    /// A verifier that continues a log whose events up to `after_seq` were verified before,
    /// the last of them with stored hash `hash` (`after_seq` 0: the start of the log).
    pub fn resume(after_seq: u64, hash: [u8; 32]) -> Verifier {
        Verifier { last: (after_seq > 0).then_some((after_seq, hash)), ..Verifier::default() }
    }

    fn expected(&self) -> u64 {
        self.last.map_or(1, |(s, _)| s + 1)
    }

    fn resolve_gap(&mut self, next_seq: Option<u64>) {
        if let Some(found_seq) = self.pending_gap.take() {
            let seq = self.expected();
            self.finding = Some(match next_seq {
                Some(n) if n < found_seq => Finding::Reordered { seq, found_seq },
                _ => Finding::Deleted { after_seq: seq - 1, missing: found_seq - seq },
            });
        }
    }

    /// Takes the next row.
    pub fn push(&mut self, ev: &StoredEvent) {
        self.events += 1;
        self.head = Some(ev.hash);
        self.resolve_gap(Some(ev.seq));
        if self.finding.is_some() {
            return;
        }
        let seq = self.expected();
        let prev = self.last.map_or(GENESIS_PREV, |(_, h)| h);
        if event_hash(&ev.prev_hash, ev) != ev.hash {
            self.finding = Some(Finding::Edited { seq, stored_seq: ev.seq });
        } else if ev.seq < seq {
            self.finding = Some(Finding::Reordered { seq, found_seq: ev.seq });
        } else if ev.seq > seq {
            self.pending_gap = Some(ev.seq);
        } else if ev.prev_hash != prev {
            self.finding = Some(if seq == 1 { Finding::BadGenesis } else { Finding::Unlinked { seq } });
        } else {
            self.last = Some((seq, ev.hash));
        }
    }

    /// Takes a row that could not be read as an event.
    pub fn push_malformed(&mut self, reason: impl Into<String>) {
        self.events += 1;
        self.head = None;
        self.resolve_gap(None);
        if self.finding.is_none() {
            self.finding = Some(Finding::Malformed { seq: self.expected(), reason: reason.into() });
        }
    }

    /// The report on everything pushed.
    pub fn finish(mut self) -> LogReport {
        self.resolve_gap(None);
        LogReport {
            events: self.events,
            head: self.head,
            first_bad: self.finding.as_ref().map(|f| (f.seq(), f.reason())),
            finding: self.finding,
        }
    }
}

/// Verifies a log given as its rows in stored order (for the database: by seq).
pub fn verify(events: impl Iterator<Item = StoredEvent>) -> LogReport {
    let mut v = Verifier::new();
    for ev in events {
        v.push(&ev);
    }
    v.finish()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::custody::event::{seal, Action, Actor, NewEvent, Role};
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    /// Asserts that a module's source imports nothing that does I/O or reads a clock (INV: the
    /// custody encoding and verification are pure).
    pub(crate) fn assert_pure(src: &str) {
        let forbidden = ["tokio", "rusb", "notify", "rusqlite", "std::fs", "std::net", "std::process", "std::env"];
        for line in src.lines().map(str::trim) {
            if line.starts_with("use ") || line.starts_with("pub use ") {
                for f in forbidden {
                    assert!(!line.contains(f), "impure import: {line}");
                }
            }
            assert!(!line.contains(concat!("::", "now(")), "reads a clock: {line}");
        }
    }

    #[test]
    fn chain_module_is_pure() {
        assert_pure(include_str!("chain.rs"));
    }

    /// A sound log of `n` events with varied fields, Chinese text included.
    pub(crate) fn build(n: usize, salt: u64) -> Vec<StoredEvent> {
        let mut out: Vec<StoredEvent> = Vec::with_capacity(n);
        let t0 = Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).single().expect("valid time");
        for i in 0..n {
            let k = i as u64 ^ salt;
            let actor = if k % 3 == 0 {
                Actor::daemon("evidock")
            } else {
                Actor { user: format!("user{}", k % 7), role: Role::Custodian, officer: Some(format!("警{k:06}")) }
            };
            let action = Action::ALL[(k as usize) % Action::ALL.len()];
            let ev = NewEvent::new(actor, action, format!("segment:A{:06}/{i}", salt % 1_000_000))
                .detail("n", k)
                .detail("note", format!("第{i}段 张三"));
            let last = out.last().map(|e| (e.seq, e.hash));
            let now = t0 + chrono::Duration::milliseconds(i as i64 * 1017);
            out.push(seal(last, &ev, now, chrono_tz::Asia::Shanghai).expect("seals"));
        }
        out
    }

    #[derive(Debug, Clone, Copy)]
    enum Mutation {
        /// Change field `field` of the event at index `i`.
        Edit { i: usize, field: usize },
        /// Remove the event at index `i` (never the last: truncation is not visible to the chain).
        Delete { i: usize },
        /// Exchange the events at `i` and `i + 1`.
        Swap { i: usize },
        /// Rewrite the event at index `i` with a recomputed hash (its successor no longer links).
        Rehash { i: usize },
    }

    const FIELDS: usize = 11;

    fn edit(ev: &mut StoredEvent, field: usize) {
        match field {
            0 => ev.seq += 1_000,
            1 => ev.ts_utc.replace_range(0..4, "2099"),
            2 => ev.ts_local.push(' '),
            3 => ev.actor_user.push('x'),
            4 => ev.actor_role = "admin".into(),
            5 => ev.actor_officer = if ev.actor_officer.is_some() { None } else { Some(String::new()) },
            6 => ev.action = if ev.action == "docked" { "undocked" } else { "docked" }.into(),
            7 => ev.subject.push('0'),
            8 => ev.details = ev.details.replace("张三", "李四"),
            9 => ev.prev_hash[0] ^= 0x80,
            _ => ev.hash[31] ^= 1,
        }
    }

    /// Applies `m` and returns the finding the verifier must name.
    fn apply(log: &mut Vec<StoredEvent>, m: Mutation) -> Finding {
        match m {
            Mutation::Edit { i, field } => {
                let stored_before = log[i].seq;
                edit(&mut log[i], field);
                Finding::Edited { seq: stored_before, stored_seq: log[i].seq }
            }
            Mutation::Delete { i } => {
                let gone = log.remove(i);
                Finding::Deleted { after_seq: gone.seq - 1, missing: 1 }
            }
            Mutation::Swap { i } => {
                log.swap(i, i + 1);
                Finding::Reordered { seq: log[i + 1].seq, found_seq: log[i].seq }
            }
            Mutation::Rehash { i } => {
                log[i].subject.push_str(" 改");
                log[i].hash = event_hash(&log[i].prev_hash, &log[i]);
                Finding::Unlinked { seq: log[i].seq + 1 }
            }
        }
    }

    fn mutations(n: usize) -> Vec<Mutation> {
        let mut out = Vec::new();
        for i in 0..n {
            for field in 0..FIELDS {
                out.push(Mutation::Edit { i, field });
            }
            if i + 1 < n {
                out.push(Mutation::Delete { i });
                out.push(Mutation::Swap { i });
                out.push(Mutation::Rehash { i });
            }
        }
        out
    }

    fn check(n: usize, salt: u64, m: Mutation) {
        let mut log = build(n, salt);
        let want = apply(&mut log, m);
        let report = verify(log.clone().into_iter());
        assert_eq!(report.finding.as_ref(), Some(&want), "{m:?} on {n} events");
        assert_eq!(report.first_bad, Some((want.seq(), want.reason())));
        assert_eq!(report.events, log.len() as u64);
    }

    #[test]
    fn sound_logs_verify() {
        for n in 0..6 {
            let log = build(n, 7);
            let report = verify(log.clone().into_iter());
            assert!(report.intact(), "{report:?}");
            assert_eq!(report.events, n as u64);
            assert_eq!(report.head, log.last().map(|e| e.hash));
            assert_eq!(report.first_bad, None);
        }
    }

    #[test]
    fn small_logs_every_single_mutation_is_named() {
        for n in 1..=5 {
            for m in mutations(n) {
                check(n, 42, m);
            }
        }
    }

    #[test]
    fn findings_in_messy_logs() {
        let log = build(8, 1);
        let pick = |idx: &[usize]| verify(idx.iter().map(|&i| log[i].clone())).finding;
        // Several deleted at once.
        assert_eq!(pick(&[0, 1, 5, 6, 7]), Some(Finding::Deleted { after_seq: 2, missing: 3 }));
        // The beginning deleted.
        assert_eq!(pick(&[2, 3]), Some(Finding::Deleted { after_seq: 0, missing: 2 }));
        // An event repeated.
        assert_eq!(pick(&[0, 1, 1, 2]), Some(Finding::Reordered { seq: 3, found_seq: 2 }));
        // An event moved back by more than one place reads as a deletion where it was taken.
        assert_eq!(pick(&[0, 3, 1, 2]), Some(Finding::Reordered { seq: 2, found_seq: 4 }));
        assert_eq!(pick(&[0, 2, 3, 1]), Some(Finding::Deleted { after_seq: 1, missing: 1 }));
        // A log from the second event on, renumbered and rehashed from 1: bad genesis.
        let mut cut = log[1].clone();
        cut.seq = 1;
        cut.hash = event_hash(&cut.prev_hash, &cut);
        assert_eq!(verify(std::iter::once(cut)).finding, Some(Finding::BadGenesis));
        // An unreadable row.
        let mut v = Verifier::new();
        v.push(&log[0]);
        v.push_malformed("hash is 31 bytes");
        v.push(&log[2]);
        let r = v.finish();
        assert_eq!(r.finding, Some(Finding::Malformed { seq: 2, reason: "hash is 31 bytes".into() }));
        assert_eq!(r.events, 3);
        assert_eq!(r.first_bad.map(|(s, _)| s), Some(2));
    }

    #[test]
    fn reasons_name_the_events() {
        let cases = [
            (Finding::Edited { seq: 5, stored_seq: 5 }, "event 5 does not match its hash: the row was edited"),
            (Finding::Deleted { after_seq: 4, missing: 1 }, "event 5 is missing after event 4: deleted"),
            (
                Finding::Deleted { after_seq: 4, missing: 3 },
                "events 5..=7 (3 events) are missing after event 4: deleted",
            ),
            (Finding::Reordered { seq: 5, found_seq: 6 }, "event 6 appears where event 5 belongs: events reordered"),
        ];
        for (f, want) in cases {
            assert_eq!(f.reason(), want);
            assert_eq!(f.seq(), 5);
            assert!(f.reason_zh().contains('5'), "{}", f.reason_zh());
        }
        assert_eq!(
            Finding::Deleted { after_seq: 4, missing: 1 }.reason_zh(),
            "第 4 条事件之后缺少第 5 条事件：记录被删除"
        );
    }

    fn arb_mutation(n: usize) -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (0..n, 0..FIELDS).prop_map(|(i, field)| Mutation::Edit { i, field }),
            (0..n - 1).prop_map(|i| Mutation::Delete { i }),
            (0..n - 1).prop_map(|i| Mutation::Swap { i }),
            (0..n - 1).prop_map(|i| Mutation::Rehash { i }),
        ]
    }

    proptest! {
        /// R11: exactly one mutation of a random log, and verification names that event first.
        #[test]
        fn one_mutation_is_named_at_its_position(
            (n, m) in (2usize..60).prop_flat_map(|n| (Just(n), arb_mutation(n))),
            salt in any::<u64>(),
        ) {
            check(n, salt, m);
        }

        /// An unmutated log of any length verifies, and its head is the last hash.
        #[test]
        fn unmutated_logs_are_intact(n in 0usize..80, salt in any::<u64>()) {
            let log = build(n, salt);
            let report = verify(log.clone().into_iter());
            prop_assert!(report.intact());
            prop_assert_eq!(report.head, log.last().map(|e| e.hash));
        }
    }
}
