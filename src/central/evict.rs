//! Which local copies may be evicted (INV-20): the pure chooser behind `replicate evict` and
//! the daemon's eviction on its pass (R1, R7; issue 16 part 3: "the local copy may be evicted
//! only for footage verified off-station; until then it stays").
//!
//! Owns: the rules. A file is a candidate only when its central copy is confirmed (INV-18),
//! no legal hold is in force on its recording, no access request or export is open on it, and
//! a long-term recording has at least `burn.copies` verified discs. Of the candidates,
//! `central.evict_after_days` takes those confirmed that long ago, and
//! `central.evict_at_disk_percent` takes the oldest recordings first until the archive disk
//! would be at or under the threshold.
//! Must never: do I/O or read a clock (`now` and the disk's numbers are inputs), or choose a
//! file the rules keep. The edge ([`super::offload`]) re-proves every choice against the
//! custody log and the store before anything is removed.

use chrono::{DateTime, TimeDelta, Utc};

/// `[central]`'s eviction keys, with what the rules need from `[burn]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// Evict footage confirmed off the station at least this many days ago.
    pub after_days: Option<u32>,
    /// Evict, oldest first, while the archive disk is fuller than this percentage.
    pub at_disk_percent: Option<u8>,
    /// Verified disc copies a long-term recording needs first (`burn.copies`).
    pub disc_copies: u32,
}

impl Policy {
    /// Whether either key is set.
    pub fn enabled(&self) -> bool {
        self.after_days.is_some() || self.at_disk_percent.is_some()
    }
}

/// One archived footage file, as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The catalogue's file id.
    pub file_id: i64,
    /// Bytes freed by evicting it (0 when its name shares its data with another).
    pub size: u64,
    /// When it was archived: the disk rule evicts the oldest first.
    pub archived: DateTime<Utc>,
    /// When the store confirmed its central copy (`None`: not confirmed, never evicted).
    pub confirmed: Option<DateTime<Utc>>,
    /// A legal hold is in force on its recording.
    pub held: bool,
    /// An access request or export is open on it.
    pub in_access: bool,
    /// Its recording is long-term.
    pub long_term: bool,
    /// Verified discs holding it.
    pub verified_discs: u32,
}

/// Why a file stays on the station.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Its central copy is not confirmed (INV-18).
    NotConfirmed,
    /// A legal hold is in force.
    Held,
    /// An access request or export is open.
    InAccess,
    /// Long-term, with fewer verified discs than `burn.copies`.
    TooFewDiscs {
        /// Verified discs.
        have: u32,
        /// Needed.
        need: u32,
    },
}

impl std::fmt::Display for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Keep::NotConfirmed => write!(f, "not yet confirmed off the station / 尚未确认存入中心存储"),
            Keep::Held => write!(f, "under a legal hold / 处于法律保全"),
            Keep::InAccess => write!(f, "an access request or export is open / 有未结束的调阅或导出"),
            Keep::TooFewDiscs { have, need } => {
                write!(
                    f,
                    "long-term with {have} of {need} verified discs / 长期保存录像的已校验光盘不足（{have}/{need}）"
                )
            }
        }
    }
}

/// Which rule chose a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// `evict_after_days`.
    Age,
    /// `evict_at_disk_percent`.
    Disk,
}

impl Why {
    /// A stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Why::Age => "age",
            Why::Disk => "disk",
        }
    }
}

/// One file chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// The catalogue's file id.
    pub file_id: i64,
    /// Bytes it frees.
    pub size: u64,
    /// The rule.
    pub why: Why,
}

/// The archive disk: bytes in all and in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disk {
    /// Size.
    pub total: u64,
    /// In use.
    pub used: u64,
}

impl Disk {
    /// Whether `used` bytes are over `percent` of the disk.
    pub fn over(&self, used: u64, percent: u8) -> bool {
        u128::from(used) * 100 > u128::from(self.total) * u128::from(percent)
    }
}

/// Whether the rules let `c` leave the station; the first reason it stays otherwise.
///
/// # Errors
/// The [`Keep`] that keeps it.
pub fn may_evict(c: &Candidate, policy: &Policy) -> Result<(), Keep> {
    if c.confirmed.is_none() {
        return Err(Keep::NotConfirmed);
    }
    if c.held {
        return Err(Keep::Held);
    }
    if c.in_access {
        return Err(Keep::InAccess);
    }
    if c.long_term && c.verified_discs < policy.disc_copies {
        return Err(Keep::TooFewDiscs { have: c.verified_discs, need: policy.disc_copies });
    }
    Ok(())
}

/// The files to evict now: first every candidate confirmed at least `after_days` ago, then,
/// while the disk (less what those free) is over `at_disk_percent`, the oldest archived
/// candidates left. Without either key, nothing.
pub fn choose(candidates: &[Candidate], policy: &Policy, disk: Option<Disk>, now: DateTime<Utc>) -> Vec<Choice> {
    let mut free: Vec<&Candidate> = candidates.iter().filter(|c| may_evict(c, policy).is_ok()).collect();
    free.sort_by(|a, b| a.archived.cmp(&b.archived).then(a.file_id.cmp(&b.file_id)));
    let mut out = Vec::new();
    let mut taken = std::collections::BTreeSet::new();
    if let Some(days) = policy.after_days {
        let before = now - TimeDelta::days(i64::from(days));
        for c in &free {
            if c.confirmed.is_some_and(|t| t <= before) && taken.insert(c.file_id) {
                out.push(Choice { file_id: c.file_id, size: c.size, why: Why::Age });
            }
        }
    }
    if let (Some(percent), Some(disk)) = (policy.at_disk_percent, disk) {
        let mut used = disk.used.saturating_sub(out.iter().map(|c| c.size).sum());
        for c in &free {
            if !disk.over(used, percent) {
                break;
            }
            if taken.insert(c.file_id) {
                out.push(Choice { file_id: c.file_id, size: c.size, why: Why::Disk });
                used = used.saturating_sub(c.size);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(day: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + TimeDelta::days(day)
    }

    fn cand(id: i64, archived: i64, confirmed: Option<i64>) -> Candidate {
        Candidate {
            file_id: id,
            size: 100,
            archived: t(archived),
            confirmed: confirmed.map(t),
            held: false,
            in_access: false,
            long_term: false,
            verified_discs: 0,
        }
    }

    #[test]
    fn nothing_without_a_key_and_the_rules_keep_what_they_name() {
        let p = Policy { disc_copies: 2, ..Policy::default() };
        assert!(!p.enabled());
        assert!(choose(&[cand(1, 0, Some(0))], &p, None, t(400)).is_empty());
        let p = Policy { after_days: Some(30), ..p };
        let held = Candidate { held: true, ..cand(1, 0, Some(0)) };
        let access = Candidate { in_access: true, ..cand(2, 0, Some(0)) };
        let unconfirmed = cand(3, 0, None);
        let long = Candidate { long_term: true, verified_discs: 1, ..cand(4, 0, Some(0)) };
        let burned = Candidate { long_term: true, verified_discs: 2, ..cand(5, 0, Some(0)) };
        let young = cand(6, 0, Some(380));
        let old = cand(7, 0, Some(1));
        let all = [held, access, unconfirmed, long.clone(), burned, young, old];
        let got: Vec<i64> = choose(&all, &p, None, t(400)).iter().map(|c| c.file_id).collect();
        assert_eq!(got, vec![5, 7]);
        assert_eq!(may_evict(&long, &p), Err(Keep::TooFewDiscs { have: 1, need: 2 }));
        assert!(Keep::TooFewDiscs { have: 1, need: 2 }.to_string().contains("光盘"));
    }

    #[test]
    fn the_disk_rule_takes_the_oldest_until_under_the_threshold() {
        let p = Policy { at_disk_percent: Some(80), disc_copies: 2, ..Policy::default() };
        let all = [cand(1, 5, Some(6)), cand(2, 1, Some(9)), cand(3, 3, Some(4)), cand(4, 0, None)];
        // 1000 bytes, 950 used: 150 must go, the two oldest confirmed (2, then 3).
        let got = choose(&all, &p, Some(Disk { total: 1000, used: 950 }), t(10));
        assert_eq!(got.iter().map(|c| (c.file_id, c.why)).collect::<Vec<_>>(), vec![(2, Why::Disk), (3, Why::Disk)]);
        assert!(choose(&all, &p, Some(Disk { total: 1000, used: 800 }), t(10)).is_empty(), "at the threshold");
    }

    fn arb() -> impl Strategy<Value = Candidate> {
        (
            1i64..500,
            0u64..1000,
            0i64..100,
            proptest::option::of(0i64..100),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            0u32..4,
        )
            .prop_map(|(id, size, a, c, held, in_access, long_term, verified_discs)| Candidate {
                file_id: id,
                size,
                archived: t(a),
                confirmed: c.map(t),
                held,
                in_access,
                long_term,
                verified_discs,
            })
    }

    proptest! {
        #[test]
        fn never_a_file_the_rules_keep_and_the_disk_rule_is_oldest_first(
            cands in proptest::collection::vec(arb(), 0..40),
            after in proptest::option::of(0u32..120),
            percent in proptest::option::of(1u8..100),
            total in 1u64..50_000,
            used_frac in 0u64..=100,
            copies in 1u32..4,
        ) {
            let mut seen = std::collections::BTreeSet::new();
            let cands: Vec<Candidate> = cands.into_iter().filter(|c| seen.insert(c.file_id)).collect();
            let policy = Policy { after_days: after, at_disk_percent: percent, disc_copies: copies };
            let disk = Disk { total, used: total * used_frac / 100 };
            let now = t(100);
            let got = choose(&cands, &policy, Some(disk), now);
            let by_id = |id: i64| cands.iter().find(|c| c.file_id == id).unwrap();
            let mut ids = std::collections::BTreeSet::new();
            for ch in &got {
                prop_assert!(ids.insert(ch.file_id), "chosen once");
                let c = by_id(ch.file_id);
                prop_assert!(may_evict(c, &policy).is_ok());
                prop_assert!(c.confirmed.is_some() && !c.held && !c.in_access);
                prop_assert!(!c.long_term || c.verified_discs >= copies);
                if ch.why == Why::Age {
                    prop_assert!(c.confirmed.unwrap() <= now - TimeDelta::days(i64::from(after.unwrap())));
                }
            }
            if !policy.enabled() {
                prop_assert!(got.is_empty());
            }
            if let Some(p) = percent {
                let freed: u64 = got.iter().map(|c| c.size).sum();
                let left: Vec<&Candidate> =
                    cands.iter().filter(|c| may_evict(c, &policy).is_ok() && !ids.contains(&c.file_id)).collect();
                // Either under the threshold, or nothing eligible is left.
                prop_assert!(!disk.over(disk.used.saturating_sub(freed), p) || left.is_empty());
                // No eligible file left behind is older than one the disk rule took.
                for ch in got.iter().filter(|c| c.why == Why::Disk) {
                    let taken = by_id(ch.file_id);
                    for l in &left {
                        prop_assert!((l.archived, l.file_id) > (taken.archived, taken.file_id));
                    }
                }
            } else {
                prop_assert!(got.iter().all(|c| c.why == Why::Age));
            }
        }
    }
}
