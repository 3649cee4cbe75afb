//! Signed-in sessions of station accounts: a random token for the cookie, the CSRF token its
//! forms carry (derived from the session's token), and an absolute end (`web.session_s` after
//! sign-in). The sessions themselves are rows of the catalogue (`web_sessions`, written with
//! the custody event that starts or ends each), so a restart of the service signs nobody out.
//! Time is an input.
//!
//! Owns: making tokens, the key a session is stored under, the CSRF token of a session and
//! its check (INV-43).
//! Must never: let a token be stored (only its BLAKE3 is, [`key`]: a copy of the catalogue
//! signs nobody in and forges no form), or answer for a session past its end.

use base64::Engine as _;

use super::Account;

/// Sessions at most at once; the oldest is ended to make room (a kiosk has a few people).
pub const MAX_SESSIONS: usize = 256;

/// The context of the CSRF token's derivation: a form's token is the session token's BLAKE3
/// derived key under it, so it is known only to a holder of the cookie.
const CSRF_CONTEXT: &str = "evidock 2026-12 web session form token (INV-43)";

/// One signed-in person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The account, as the catalogue holds it now.
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

/// A fresh random token, URL-safe base64 of 32 bytes.
///
/// # Errors
/// When the system has no randomness to give.
pub fn token() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// The key a session is stored under: the BLAKE3 of its token.
pub fn key(token: &str) -> [u8; 32] {
    *blake3::hash(token.as_bytes()).as_bytes()
}

/// The CSRF token of the session whose cookie holds `token`.
pub fn csrf_of(token: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(blake3::derive_key(CSRF_CONTEXT, token.as_bytes()))
}

/// Compares two strings in time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Session {
    /// The session of cookie `token` for `account`, from `since` to `until`.
    pub fn of(token: &str, account: Account, since: i64, until: i64) -> Session {
        Session { account, csrf: csrf_of(token), since, until }
    }

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
    fn tokens_are_random_and_stored_only_as_their_hash() {
        let (a, b) = (token().unwrap(), token().unwrap());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_ne!(key(&a), key(&b));
        assert_ne!(&key(&a)[..], a.as_bytes(), "the key is not the token");
        assert_eq!(key(&a), key(&a.clone()));
    }

    #[test]
    fn csrf_must_match_exactly_and_differs_per_session() {
        let t = token().unwrap();
        let live = Session::of(&t, account("li"), 0, 60);
        assert_eq!(live.csrf, csrf_of(&t), "the same after a restart: derived, not stored");
        assert_ne!(live.csrf, t, "the form's token is not the cookie's");
        assert_ne!(live.csrf, csrf_of(&token().unwrap()));
        assert!(live.csrf_ok(Some(&live.csrf.clone())));
        assert!(!live.csrf_ok(None));
        assert!(!live.csrf_ok(Some("")));
        let mut other = live.csrf.clone();
        other.pop();
        other.push('!');
        assert!(!live.csrf_ok(Some(&other)));
    }
}
