//! Signed-in sessions of station accounts, held in the daemon's memory only (a restart signs
//! everyone out): a random token for the cookie, a random CSRF token for the forms, and an
//! absolute end (`web.session_s` after sign-in). Time is an input.
//!
//! Owns: making, finding, ending and expiring sessions, and the CSRF check (INV-43).
//! Must never: keep a token itself (only its BLAKE3: a copy of the table signs nobody in),
//! or answer for a session past its end.

use std::collections::HashMap;

use base64::Engine as _;

use super::Account;

/// Sessions at most at once; the oldest is ended to make room (a kiosk has a few people).
pub const MAX_SESSIONS: usize = 256;

/// One signed-in person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The account, as it was at sign-in.
    pub account: Account,
    /// The token every form of this session carries back.
    pub csrf: String,
    /// Signed in at (Unix seconds).
    pub since: i64,
    /// Ends at (Unix seconds).
    pub until: i64,
}

/// What looking up a cookie's token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A live session.
    Live(Session),
    /// A session that has ended by time: it is removed now, and the caller records it.
    Expired(Session),
    /// No such session.
    Unknown,
}

/// The table of sessions. Held by the web server behind a mutex; nothing else holds it.
#[derive(Debug, Default)]
pub struct Sessions {
    by_token: HashMap<[u8; 32], Session>,
}

/// A fresh random token, URL-safe base64 of 32 bytes.
///
/// # Errors
/// When the system has no randomness to give.
pub fn token() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

fn key(token: &str) -> [u8; 32] {
    *blake3::hash(token.as_bytes()).as_bytes()
}

/// Compares two strings in time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Sessions {
    /// Starts a session for `account` at `now` lasting `lifetime_s`; returns the cookie's token
    /// and the session.
    ///
    /// # Errors
    /// When the system has no randomness to give.
    pub fn start(
        &mut self,
        account: Account,
        now: i64,
        lifetime_s: i64,
    ) -> Result<(String, Session), getrandom::Error> {
        let t = token()?;
        let session = Session { account, csrf: token()?, since: now, until: now.saturating_add(lifetime_s) };
        if self.by_token.len() >= MAX_SESSIONS {
            if let Some(oldest) = self.by_token.iter().min_by_key(|(_, s)| s.since).map(|(k, _)| *k) {
                self.by_token.remove(&oldest);
            }
        }
        self.by_token.insert(key(&t), session.clone());
        Ok((t, session))
    }

    /// The session of a cookie's token at `now`.
    pub fn find(&mut self, token: &str, now: i64) -> Lookup {
        let k = key(token);
        match self.by_token.get(&k) {
            None => Lookup::Unknown,
            Some(s) if s.until <= now => self.by_token.remove(&k).map_or(Lookup::Unknown, Lookup::Expired),
            Some(s) => Lookup::Live(s.clone()),
        }
    }

    /// Whether `token` names a live session at `now` (nothing removed or recorded).
    pub fn is_live(&self, token: &str, now: i64) -> bool {
        self.by_token.get(&key(token)).is_some_and(|s| s.until > now)
    }

    /// Ends the session of `token` (sign-out); returns it if it was there.
    pub fn end(&mut self, token: &str) -> Option<Session> {
        self.by_token.remove(&key(token))
    }

    /// Ends every session of account `name` (disabled, password changed); returns how many.
    pub fn end_account(&mut self, name: &str) -> usize {
        let before = self.by_token.len();
        self.by_token.retain(|_, s| s.account.name != name);
        before - self.by_token.len()
    }

    /// Removes sessions past their end at `now`, returning them for the record.
    pub fn sweep(&mut self, now: i64) -> Vec<Session> {
        let ended: Vec<[u8; 32]> = self.by_token.iter().filter(|(_, s)| s.until <= now).map(|(k, _)| *k).collect();
        ended.iter().filter_map(|k| self.by_token.remove(k)).collect()
    }
}

impl Session {
    /// Whether a form's CSRF token is this session's (INV-43).
    pub fn csrf_ok(&self, given: Option<&str>) -> bool {
        given.is_some_and(|g| same(g, &self.csrf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::event::Role;

    fn account(name: &str) -> Account {
        Account {
            name: name.into(),
            display_name: name.into(),
            badge: None,
            roles: vec![Role::Custodian],
            disabled: false,
            failures: 0,
            locked_until: None,
        }
    }

    #[test]
    fn sessions_end_by_time_sign_out_and_account() {
        let mut s = Sessions::default();
        let (t, live) = s.start(account("li"), 1000, 60).unwrap();
        assert_eq!(t.len(), 43);
        assert_eq!(s.find(&t, 1059), Lookup::Live(live.clone()));
        assert!(s.is_live(&t, 1059) && !s.is_live(&t, 1060) && !s.is_live("other", 1000));
        assert_eq!(s.find("not-a-token", 1000), Lookup::Unknown);
        assert_eq!(s.find(&t, 1060), Lookup::Expired(live));
        assert_eq!(s.find(&t, 1000), Lookup::Unknown, "an expired session is gone");
        let (t2, _) = s.start(account("li"), 2000, 60).unwrap();
        let (t3, _) = s.start(account("wang"), 2000, 60).unwrap();
        assert_eq!(s.end_account("li"), 1);
        assert_eq!(s.find(&t2, 2001), Lookup::Unknown);
        assert!(s.end(&t3).is_some());
        assert!(s.end(&t3).is_none());
    }

    #[test]
    fn csrf_must_match_exactly() {
        let mut s = Sessions::default();
        let (_, live) = s.start(account("li"), 0, 60).unwrap();
        assert!(live.csrf_ok(Some(&live.csrf.clone())));
        assert!(!live.csrf_ok(None));
        assert!(!live.csrf_ok(Some("")));
        let mut other = live.csrf.clone();
        other.pop();
        other.push('!');
        assert!(!live.csrf_ok(Some(&other)));
    }
}
