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
"#;

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

    /// Records a sign-in as judged (`accounts::judge`) at `now`: `signed_in` (with the session's
    /// end), or `sign_in_failed` with the failures in a row, then `account_locked` when that
    /// failure locks the account; the account's row follows in the same transaction.
    ///
    /// # Errors
    /// When the write fails.
    pub fn record_sign_in(
        &mut self,
        account: &Account,
        judgement: Judgement,
        session_until: i64,
        from: &str,
    ) -> Result<(), CatalogError> {
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

    /// Records a sign-out: `reason` is `signed_out` (the person) or `expired` (the session's
    /// time ran out).
    ///
    /// # Errors
    /// When the write fails.
    pub fn record_sign_out(&mut self, account: &Account, reason: &str) -> Result<(), CatalogError> {
        let (actor, tz) = (account.actor(), self.tz);
        let tx = begin(&mut self.conn)?;
        append(
            &actor,
            tz,
            &tx,
            Action::SignedOut,
            format!("account:{}", account.name),
            json!({ "account": account.name, "reason": reason }),
        )?;
        tx.commit().map_err(sql("commit sign-out"))?;
        Ok(())
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
