//! The dock's memory of each recorder's chain: what it saw of every session at earlier
//! dockings (`docs/RECORDER-FORMAT.md` §5 and §11), so that a later docking can be checked
//! against it by [`super::verify::verify`].
//!
//! Owns: what is remembered of one session ([`KnownSession`]: its opening and last links and
//! the sequence numbers it used) and the questions the verifier asks of a device's memory
//! (its last session, the numbers it has used, a session by id).
//! Must never: do I/O or read a clock. The catalogue stores the memory (`catalog/memory.rs`);
//! the verifier decides what contradicts it.

use super::format::Digest;

/// One recording session as the dock saw it: enough to recognise the same session when the
/// same footage is docked again, and to tell what the recorder's next session must continue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownSession {
    /// Session id (from its `GEN` record).
    pub session: String,
    /// The chain file it was read from.
    pub chain_file: String,
    /// The docking that first saw it; `None` for a session learnt at the docking being verified.
    pub docking: Option<i64>,
    /// The link of its `GEN` record: it binds the session's serial, id, boot, first number,
    /// start and `prev_tail`.
    pub genesis: Digest,
    /// The last link of its chain as the recorder wrote it (records found inserted skipped):
    /// what the device's next session must name as `prev_tail`.
    pub tail: Digest,
    /// The first sequence number it claims (`GEN.first_seq`).
    pub first_seq: u64,
    /// One past the last sequence number it used (`first_seq` when it recorded nothing).
    pub next_seq: u64,
}

/// Everything the dock remembers of one device's chain, from earlier dockings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memory {
    /// Sessions seen at earlier dockings, in the order the dock learnt them.
    pub sessions: Vec<KnownSession>,
    /// The highest sequence number the device used at earlier dockings, as the custody log
    /// recorded it (INV-30). A session's `next_seq` stops at 2^64 - 1, so it cannot tell a
    /// session that used 2^64 - 1 from one that stopped at 2^64 - 2: this number can
    /// ([`Memory::reach`]).
    pub last_used: Option<u64>,
}

impl Memory {
    /// Whether nothing is remembered (a device never docked with a chain).
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The session the device recorded last, as far as the dock knows: the one whose numbers
    /// reach furthest (the one learnt last among equals). Its tail is the device's last link.
    pub fn last(&self) -> Option<&KnownSession> {
        self.sessions.iter().max_by_key(|s| s.next_seq)
    }

    /// One past the highest sequence number the device has used, as far as the dock knows.
    pub fn next_seq(&self) -> Option<u64> {
        self.sessions.iter().map(|s| s.next_seq).max()
    }

    /// One past the highest sequence number the remembered sessions used, without stopping at
    /// 2^64 - 1: 2^64 when they reach 2^64 - 1 and the log shows 2^64 - 1 was used.
    pub fn reach(&self) -> Option<u128> {
        let next = self.next_seq()?;
        Some(if next == u64::MAX && self.last_used == Some(u64::MAX) { 1u128 << 64 } else { u128::from(next) })
    }

    /// The remembered session with this id.
    pub fn find(&self, session: &str) -> Option<&KnownSession> {
        self.sessions.iter().find(|s| s.session == session)
    }

    /// The remembered session that used sequence number `seq`, if one did.
    pub fn using(&self, seq: u64) -> Option<&KnownSession> {
        self.sessions.iter().find(|s| s.first_seq <= seq && seq < s.next_seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(session: &str, first_seq: u64, next_seq: u64) -> KnownSession {
        KnownSession {
            session: session.into(),
            chain_file: format!("{session}.CHN"),
            docking: Some(1),
            genesis: [1; 32],
            tail: [first_seq as u8; 32],
            first_seq,
            next_seq,
        }
    }

    #[test]
    fn the_last_session_is_the_one_whose_numbers_reach_furthest() {
        let mut m = Memory::default();
        assert!(m.is_empty() && m.last().is_none() && m.next_seq().is_none());
        m.sessions = vec![known("S2", 11, 21), known("S1", 1, 11), known("S3", 21, 21)];
        // S3 recorded nothing but came after S2: learnt later among equals.
        assert_eq!(m.last().map(|s| s.session.as_str()), Some("S3"));
        assert_eq!(m.next_seq(), Some(21));
        assert_eq!(m.find("S1").map(|s| s.first_seq), Some(1));
        assert_eq!(m.using(10).map(|s| s.session.as_str()), Some("S1"));
        assert_eq!(m.using(20).map(|s| s.session.as_str()), Some("S2"));
        assert!(m.using(21).is_none() && m.find("S9").is_none());
        assert_eq!(m.reach(), Some(21));
    }

    #[test]
    fn the_reach_of_a_device_that_used_the_last_number_is_past_it() {
        // next_seq stops at 2^64 - 1 whether the session ended at 2^64 - 2 or used 2^64 - 1.
        let mut m = Memory { sessions: vec![known("S1", u64::MAX - 1, u64::MAX)], last_used: None };
        assert_eq!(m.reach(), Some(u128::from(u64::MAX)));
        m.last_used = Some(u64::MAX);
        assert_eq!(m.reach(), Some(u128::from(u64::MAX) + 1));
        m.last_used = Some(u64::MAX - 1);
        assert_eq!(m.reach(), Some(u128::from(u64::MAX)), "2^64 - 2 was the last used");
        m.sessions.clear();
        assert_eq!(m.reach(), None, "no session remembered");
    }
}
