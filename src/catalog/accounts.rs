//! Station accounts (`station_accounts`): the people who sign in to the station's web page, with
//! their argon2id hashes, roles, failures in a row and lockout. Every change and every sign-in,
//! failure, lockout and sign-out is written with its custody event naming the person, in one
//! transaction (INV-5, INV-42). The rules are `crate::accounts`'s; this stores what they decide.

use chrono::{TimeZone, Utc};
use rusqlite::{params, OptionalExtension};
use serde_json::json;

use crate::accounts::{Account, Judgement};
use crate::custody::event::{Action, Actor, Role};

use super::store::{append, begin, sql, Catalog, CatalogError};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS station_accounts (
    name          TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    badge         TEXT UNIQUE,
    roles         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    failures      INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    created       TEXT NOT NULL,
    created_by    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS web_sessions (
    key      BLOB PRIMARY KEY,
    account  TEXT NOT NULL,
    since    INTEGER NOT NULL,
    until    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS web_sessions_until ON web_sessions(until);
"#;

/// A signed-in session as the catalogue keeps it (`web_sessions`): the key is the BLAKE3 of
/// the cookie's token (`accounts::sessions::key`), never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The account as the catalogue holds it now; for an account no longer there, a disabled
    /// account of that name without roles.
    pub account: Account,
    /// Signed in at (Unix seconds).
    pub since: i64,
    /// Ends at (Unix seconds).
    pub until: i64,
}

/// A change an administrator makes to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChange<'a> {
    /// A new password (its argon2id hash); the failures and any lockout are cleared.
    Password(&'a str),
    /// No sign-in until enabled again.
    Disable,
    /// Sign-in allowed again.
    Enable,
    /// The failures and the lockout cleared.
    Unlock,
    /// New roles (with the badge they need).
    Roles(&'a [Role]),
}

impl AccountChange<'_> {
    /// The change as its `account_changed` event names it.
    pub fn as_str(&self) -> &'static str {
        match self {
            AccountChange::Password(_) => "password",
            AccountChange::Disable => "disabled",
            AccountChange::Enable => "enabled",
            AccountChange::Unlock => "unlocked",
            AccountChange::Roles(_) => "roles",
        }
    }
}

fn role_text(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

fn roles_of(text: &str) -> Vec<Role> {
    text.split(',').filter_map(Role::parse).collect()
}

fn rfc3339(secs: i64) -> Option<String> {
    Utc.timestamp_opt(secs, 0).single().map(|t| t.to_rfc3339())
}

const COLUMNS: &str = "name, display_name, badge, roles, disabled, failures, locked_until, password_hash";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Account, String)> {
    Ok((
        Account {
            name: r.get(0)?,
            display_name: r.get(1)?,
            badge: r.get(2)?,
            roles: roles_of(&r.get::<_, String>(3)?),
            disabled: r.get::<_, i64>(4)? != 0,
            failures: r.get::<_, i64>(5)?.clamp(0, i64::from(u32::MAX)) as u32,
            locked_until: r.get(6)?,
        },
        r.get(7)?,
    ))
}

impl Catalog {
    /// Creates a station account with its argon2id hash (checked by `accounts::check_hash`
    /// before), logged as `account_changed` (`change`: `created`) naming the administrator.
    ///
    /// # Errors
    /// When the name or the badge is taken, or the write fails.
    pub fn add_account(&mut self, account: &Account, hash: &str) -> Result<(), CatalogError> {
        let now = Utc::now().to_rfc3339();
        let (actor, tz) = (self.actor.clone(), self.tz);
        let tx = begin(&mut self.conn)?;
        let taken: Option<String> = tx
            .query_row(
                "SELECT name FROM station_accounts WHERE name = ?1 OR (badge IS NOT NULL AND badge = ?2)",
                params![account.name, account.badge],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("looking up station accounts"))?;
        if let Some(t) = taken {
            return Err(CatalogError::Invalid(format!(
                "account {t:?} already has this name or badge number / 该账户名或警号已被账户 {t} 使用"
            )));
        }
        tx.execute(
            "INSERT INTO station_accounts (name, display_name, badge, roles, password_hash, created, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                account.name,
                account.display_name,
                account.badge,
                role_text(&account.roles),
                hash,
                now,
                actor.user
            ],
        )
        .map_err(sql("adding a station account"))?;
        append(
            &actor,
            tz,
            &tx,
            Action::AccountChanged,
            format!("account:{}", account.name),
            json!({ "change": "created", "account": account.name, "display_name": account.display_name,
                    "badge": account.badge, "roles": role_text(&account.roles) }),
        )?;
        tx.commit().map_err(sql("commit account"))?;
        Ok(())
    }

    /// Changes an account, logged as `account_changed` naming the administrator.
    ///
    /// # Errors
    /// When there is no such account, or the write fails.
    pub fn change_account(&mut self, name: &str, change: &AccountChange<'_>) -> Result<(), CatalogError> {
        let (actor, tz) = (self.actor.clone(), self.tz);
        let tx = begin(&mut self.conn)?;
        let n = match change {
            AccountChange::Password(h) => tx.execute(
                "UPDATE station_accounts SET password_hash = ?2, failures = 0, locked_until = NULL WHERE name = ?1",
                params![name, h],
            ),
            AccountChange::Disable => {
                tx.execute("UPDATE station_accounts SET disabled = 1 WHERE name = ?1", params![name])
            }
            AccountChange::Enable => {
                tx.execute("UPDATE station_accounts SET disabled = 0 WHERE name = ?1", params![name])
            }
            AccountChange::Unlock => tx.execute(
                "UPDATE station_accounts SET failures = 0, locked_until = NULL WHERE name = ?1",
                params![name],
            ),
            AccountChange::Roles(r) => {
                tx.execute("UPDATE station_accounts SET roles = ?2 WHERE name = ?1", params![name, role_text(r)])
            }
        }
        .map_err(sql("changing a station account"))?;
        if n == 0 {
            return Err(CatalogError::Invalid(format!("no station account {name:?} / 没有账户 {name}")));
        }
        let mut details = json!({ "change": change.as_str(), "account": name });
        if let AccountChange::Roles(r) = change {
            details["roles"] = json!(role_text(r));
        }
        append(&actor, tz, &tx, Action::AccountChanged, format!("account:{name}"), details)?;
        // A new password or a disabled account ends the account's sessions now, each recorded.
        let ends = match change {
            AccountChange::Password(_) => Some("password_changed"),
            AccountChange::Disable => Some("account_disabled"),
            _ => None,
        };
        if let Some(reason) = ends {
            let (roles, badge): (String, Option<String>) = tx
                .query_row("SELECT roles, badge FROM station_accounts WHERE name = ?1", [name], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(sql("reading a station account"))?;
            let whose = Actor {
                user: format!("account:{name}"),
                role: roles_of(&roles).first().copied().unwrap_or(Role::Nobody),
                officer: badge,
            };
            let n = tx
                .execute("DELETE FROM web_sessions WHERE account = ?1", [name])
                .map_err(sql("ending web sessions"))?;
            for _ in 0..n {
                append(
                    &whose,
                    tz,
                    &tx,
                    Action::SignedOut,
                    format!("account:{name}"),
                    json!({ "account": name, "reason": reason }),
                )?;
            }
        }
        tx.commit().map_err(sql("commit account"))?;
        Ok(())
    }

    /// Every station account, by name.
    ///
    /// # Errors
    /// When the read fails.
    pub fn accounts(&self) -> Result<Vec<Account>, CatalogError> {
        let mut st = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM station_accounts ORDER BY name"))
            .map_err(sql("listing station accounts"))?;
        let rows = st.query_map([], row).map_err(sql("listing station accounts"))?;
        rows.map(|r| r.map(|(a, _)| a).map_err(sql("listing station accounts"))).collect()
    }

    /// The account a sign-in names, by account name or badge number, with its hash.
    ///
    /// # Errors
    /// When the read fails.
    pub fn account_for_sign_in(&self, given: &str) -> Result<Option<(Account, String)>, CatalogError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM station_accounts WHERE name = ?1 OR badge = ?1 ORDER BY name = ?1 DESC LIMIT 1"),
                params![given],
                row,
            )
            .optional()
            .map_err(sql("looking up a station account"))
    }

    /// Records a sign-in as judged (`accounts::judge`): `signed_in` (with the session's end) and
    /// the session stored under `session.0` from `session.1` to `session.2`, or
    /// `sign_in_failed` with the failures in a row, then `account_locked` when that failure
    /// locks the account; the account's row follows in the same transaction. When more than
    /// `max_sessions` are then open, the oldest are ended (`signed_out`, `displaced`).
    ///
    /// # Errors
    /// When the write fails.
    pub fn record_sign_in(
        &mut self,
        account: &Account,
        judgement: Judgement,
        session: (&[u8; 32], i64, i64),
        max_sessions: usize,
        from: &str,
    ) -> Result<(), CatalogError> {
        let (key, since, session_until) = session;
        let tz = self.tz;
        let actor = account.actor();
        let subject = format!("account:{}", account.name);
        let tx = begin(&mut self.conn)?;
        match judgement {
            Judgement::Accepted => {
                tx.execute(
                    "UPDATE station_accounts SET failures = 0, locked_until = NULL WHERE name = ?1",
                    params![account.name],
                )
                .map_err(sql("recording a sign-in"))?;
                append(
                    &actor,
                    tz,
                    &tx,
                    Action::SignedIn,
                    subject,
                    json!({ "account": account.name, "roles": role_text(&account.roles), "from": from,
                            "session_until": rfc3339(session_until) }),
                )?;
                tx.execute(
                    "INSERT INTO web_sessions (key, account, since, until) VALUES (?1, ?2, ?3, ?4)",
                    params![&key[..], account.name, since, session_until],
                )
                .map_err(sql("storing a web session"))?;
                let displaced: Vec<(Vec<u8>, String)> = {
                    let mut st = tx
                        .prepare(
                            "SELECT key, account FROM web_sessions ORDER BY since DESC, rowid DESC LIMIT -1 OFFSET ?1",
                        )
                        .map_err(sql("counting web sessions"))?;
                    let rows = st
                        .query_map([max_sessions as i64], |r| Ok((r.get(0)?, r.get(1)?)))
                        .map_err(sql("counting web sessions"))?;
                    rows.collect::<Result<_, _>>().map_err(sql("counting web sessions"))?
                };
                for (k, name) in displaced {
                    tx.execute("DELETE FROM web_sessions WHERE key = ?1", [&k]).map_err(sql("ending a web session"))?;
                    let who = Actor { user: format!("account:{name}"), role: Role::Nobody, officer: None };
                    append(
                        &who,
                        tz,
                        &tx,
                        Action::SignedOut,
                        format!("account:{name}"),
                        json!({ "account": name, "reason": "displaced" }),
                    )?;
                }
            }
            Judgement::Wrong { failures, locks_until } => {
                tx.execute(
                    "UPDATE station_accounts SET failures = ?2, locked_until = ?3 WHERE name = ?1",
                    params![account.name, i64::from(failures), locks_until],
                )
                .map_err(sql("recording a failed sign-in"))?;
                append(
                    &actor,
                    tz,
                    &tx,
                    Action::SignInFailed,
                    subject.clone(),
                    json!({ "account": account.name, "reason": "wrong_password", "failures": failures, "from": from }),
                )?;
                if let Some(until) = locks_until {
                    append(
                        &actor,
                        tz,
                        &tx,
                        Action::AccountLocked,
                        subject,
                        json!({ "account": account.name, "failures": failures, "until": rfc3339(until) }),
                    )?;
                }
            }
            Judgement::Locked(until) => {
                let reason = if until.is_some() { "locked" } else { "disabled" };
                append(
                    &actor,
                    tz,
                    &tx,
                    Action::SignInFailed,
                    subject,
                    json!({ "account": account.name, "reason": reason, "failures": account.failures,
                            "until": until.and_then(rfc3339), "from": from }),
                )?;
            }
        }
        tx.commit().map_err(sql("commit sign-in"))?;
        Ok(())
    }

    /// Records a sign-in with a name that is no account's (the name as typed, at most 64
    /// characters).
    ///
    /// # Errors
    /// When the write fails.
    pub fn record_unknown_sign_in(&mut self, given: &str, from: &str) -> Result<(), CatalogError> {
        let given: String = given.chars().take(64).collect();
        let actor = Actor { user: "web".into(), role: Role::Nobody, officer: None };
        let tz = self.tz;
        let tx = begin(&mut self.conn)?;
        append(
            &actor,
            tz,
            &tx,
            Action::SignInFailed,
            "account:?".into(),
            json!({ "given": given, "reason": "unknown_account", "from": from }),
        )?;
        tx.commit().map_err(sql("commit sign-in"))?;
        Ok(())
    }

    /// The session stored under `key`, with its account as held now.
    ///
    /// # Errors
    /// When the read fails.
    pub fn web_session(&self, key: &[u8; 32]) -> Result<Option<StoredSession>, CatalogError> {
        let found: Option<(String, i64, i64)> = self
            .conn
            .query_row("SELECT account, since, until FROM web_sessions WHERE key = ?1", [&key[..]], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(sql("looking up a web session"))?;
        let Some((name, since, until)) = found else { return Ok(None) };
        let held = self.account_for_sign_in(&name)?.map(|(a, _)| a).filter(|a| a.name == name);
        let account = held.unwrap_or(Account {
            display_name: name.clone(),
            name,
            badge: None,
            roles: Vec::new(),
            disabled: true,
            failures: 0,
            locked_until: None,
        });
        Ok(Some(StoredSession { account, since, until }))
    }

    /// Whether `key` names a session that has not ended at `now` (nothing written).
    ///
    /// # Errors
    /// When the read fails.
    pub fn web_session_live(&self, key: &[u8; 32], now: i64) -> Result<bool, CatalogError> {
        self.conn
            .query_row("SELECT until > ?2 FROM web_sessions WHERE key = ?1", params![&key[..], now], |r| r.get(0))
            .optional()
            .map(|v| v.unwrap_or(false))
            .map_err(sql("looking up a web session"))
    }

    /// The keys of the sessions that have ended by `now`.
    ///
    /// # Errors
    /// When the read fails.
    pub fn web_sessions_ended(&self, now: i64) -> Result<Vec<[u8; 32]>, CatalogError> {
        let mut st = self
            .conn
            .prepare("SELECT key FROM web_sessions WHERE until <= ?1")
            .map_err(sql("listing ended web sessions"))?;
        let rows = st.query_map([now], |r| r.get::<_, Vec<u8>>(0)).map_err(sql("listing ended web sessions"))?;
        let keys: Vec<Vec<u8>> = rows.collect::<Result<_, _>>().map_err(sql("listing ended web sessions"))?;
        Ok(keys.into_iter().filter_map(|k| <[u8; 32]>::try_from(k.as_slice()).ok()).collect())
    }

    /// Ends the session stored under `key` and records its `signed_out` event with `reason`
    /// (`signed_out` by the person, `expired`, `account_disabled`) in one transaction; `false`
    /// when no such session was there (another request ended it first: nothing is recorded).
    ///
    /// # Errors
    /// When the write fails.
    pub fn end_web_session(&mut self, key: &[u8; 32], account: &Account, reason: &str) -> Result<bool, CatalogError> {
        let (actor, tz) = (account.actor(), self.tz);
        let tx = begin(&mut self.conn)?;
        let n =
            tx.execute("DELETE FROM web_sessions WHERE key = ?1", [&key[..]]).map_err(sql("ending a web session"))?;
        if n == 0 {
            return Ok(false);
        }
        append(
            &actor,
            tz,
            &tx,
            Action::SignedOut,
            format!("account:{}", account.name),
            json!({ "account": account.name, "reason": reason }),
        )?;
        tx.commit().map_err(sql("commit sign-out"))?;
        Ok(true)
    }

    /// Records a change refused to a signed-in person (`call_refused`: a form without its
    /// session's CSRF token, INV-43), naming the person and what was asked.
    ///
    /// # Errors
    /// When the write fails.
    pub fn record_web_refusal(&mut self, account: &Account, what: &str, reason: &str) -> Result<(), CatalogError> {
        let (actor, tz) = (account.actor(), self.tz);
        let tx = begin(&mut self.conn)?;
        append(
            &actor,
            tz,
            &tx,
            Action::CallRefused,
            format!("account:{}", account.name),
            json!({ "command": what, "reason": reason, "via": "web" }),
        )?;
        tx.commit().map_err(sql("commit refusal"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(dir: &std::path::Path) -> Catalog {
        Catalog::open(&dir.join("catalog.sqlite"), chrono_tz::Asia::Shanghai, Actor::daemon("evidock")).unwrap()
    }

    fn officer(name: &str) -> Account {
        Account {
            name: name.into(),
            display_name: "张三".into(),
            badge: Some(format!("0{name}")),
            roles: vec![Role::Officer],
            disabled: false,
            failures: 0,
            locked_until: None,
        }
    }

    fn count(c: &Catalog, sql: &str) -> i64 {
        c.conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Sessions are stored with their `signed_in` event, ended once with their `signed_out`
    /// event, displaced beyond the limit oldest first, and ended when the account is disabled
    /// or its password changes (INV-43).
    #[test]
    fn web_sessions_start_and_end_with_their_events() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = catalog(dir.path());
        let zhang = officer("zhang");
        c.add_account(&zhang, "$argon2id$placeholder").unwrap();
        let keys: Vec<[u8; 32]> = (0u8..3).map(|i| [i; 32]).collect();
        for (i, k) in keys.iter().enumerate() {
            c.record_sign_in(&zhang, Judgement::Accepted, (k, 100 + i as i64, 200), 2, "127.0.0.1").unwrap();
        }
        assert_eq!(count(&c, "SELECT count(*) FROM web_sessions"), 2, "at most two kept");
        assert!(c.web_session(&keys[0]).unwrap().is_none(), "the oldest is displaced");
        assert_eq!(count(&c, "SELECT count(*) FROM custody_log WHERE action = 'signed_out'"), 1);
        let s = c.web_session(&keys[1]).unwrap().unwrap();
        assert_eq!((s.account.name.as_str(), s.since, s.until), ("zhang", 101, 200));
        assert!(c.web_session_live(&keys[1], 199).unwrap() && !c.web_session_live(&keys[1], 200).unwrap());
        assert!(!c.web_session_live(&[9; 32], 0).unwrap());
        assert_eq!(c.web_sessions_ended(200).unwrap().len(), 2);
        assert!(c.web_sessions_ended(199).unwrap().is_empty());
        assert!(c.end_web_session(&keys[1], &zhang, "signed_out").unwrap());
        assert!(!c.end_web_session(&keys[1], &zhang, "signed_out").unwrap(), "ended once, recorded once");
        assert_eq!(count(&c, "SELECT count(*) FROM custody_log WHERE action = 'signed_out'"), 2);
        // A failed sign-in stores no session.
        let wrong = Judgement::Wrong { failures: 1, locks_until: None };
        c.record_sign_in(&zhang, wrong, (&[7; 32], 300, 400), 2, "127.0.0.1").unwrap();
        assert!(c.web_session(&[7; 32]).unwrap().is_none());
        // Disabling the account ends its last session with the reason.
        c.change_account("zhang", &AccountChange::Disable).unwrap();
        assert_eq!(count(&c, "SELECT count(*) FROM web_sessions"), 0);
        let reason: String = c
            .conn
            .query_row(
                "SELECT json_extract(details, '$.reason') FROM custody_log WHERE action = 'signed_out' ORDER BY seq DESC",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(reason, "account_disabled");
    }
}
