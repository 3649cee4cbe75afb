//! `account_add`, `account_password`, `account_disable`, `account_enable`, `account_unlock`,
//! `account_list`: the station accounts of people without a login on the station (the web
//! page's sign-in, docs/WEB.md), kept by an administrator. A password never reaches this layer:
//! the front end that reads it hashes it (argon2id) and sends only the hash, which is checked
//! to be one this station accepts (INV-42). Each change is an `account_changed` event naming
//! the administrator; a list never carries a hash.

use serde::{Deserialize, Serialize};

use super::{ApiError, Ctx};
use crate::accounts::{self, Account};
use crate::catalog::AccountChange;

/// `account_add`: a new account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddArgs {
    /// Account name: 1 to 32 letters, digits, '.', '_' or '-'.
    pub name: String,
    /// The person's name, shown on the page (1 to 64 characters).
    pub display_name: String,
    /// Badge number (警号), for an officer (who signs in with it).
    #[serde(default)]
    pub badge: Option<String>,
    /// Roles: officer, custodian, archivist, approver, supervisor, admin.
    pub roles: Vec<String>,
    /// The argon2id hash of the password (PHC string), made by the front end.
    pub password_hash: String,
}

/// `account_password`: a new password's hash; clears failures and any lockout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordArgs {
    /// Account name.
    pub name: String,
    /// The argon2id hash of the new password.
    pub password_hash: String,
}

/// `account_disable`, `account_enable`, `account_unlock`: the account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameArgs {
    /// Account name.
    pub name: String,
}

/// An account as the list shows it (never its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// Account name.
    pub name: String,
    /// The person's name.
    pub display_name: String,
    /// Badge number, for an officer.
    pub badge: Option<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// No sign-in until enabled again.
    pub disabled: bool,
    /// Failed sign-ins since the last success.
    pub failures: u32,
    /// Locked until this instant (Unix seconds), if locked.
    pub locked_until: Option<i64>,
    /// `active`, `locked` or `disabled`, as of the answer.
    pub state: String,
    /// The state in Chinese.
    pub state_zh: String,
}

/// The account an operation changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    /// Account name.
    pub name: String,
    /// What changed: `created`, `password`, `disabled`, `enabled`, `unlocked`.
    pub change: String,
}

fn invalid(e: accounts::AccountError) -> ApiError {
    ApiError::invalid(e.to_string())
}

/// `account_add`.
///
/// # Errors
/// `invalid` for a bad name, display name, badge, role or hash, or a name or badge another
/// account has.
pub fn add(ctx: &Ctx<'_>, a: &AddArgs) -> Result<Changed, ApiError> {
    accounts::check_name(&a.name).map_err(invalid)?;
    let display_name = a.display_name.trim();
    if display_name.is_empty() || display_name.chars().any(char::is_control) || display_name.chars().count() > 64 {
        return Err(ApiError::invalid(format!(
            "display name {display_name:?}: 1 to 64 characters, no control characters / 姓名无效"
        )));
    }
    let roles = accounts::parse_roles(&a.roles, a.badge.as_deref()).map_err(invalid)?;
    accounts::check_hash(&a.password_hash).map_err(invalid)?;
    let account = Account {
        name: a.name.clone(),
        display_name: display_name.to_string(),
        badge: a.badge.clone(),
        roles,
        disabled: false,
        failures: 0,
        locked_until: None,
    };
    ctx.catalog()?.add_account(&account, &a.password_hash)?;
    Ok(Changed { name: a.name.clone(), change: "created".into() })
}

/// `account_password`.
///
/// # Errors
/// `invalid` for a hash this station does not accept, or no such account.
pub fn password(ctx: &Ctx<'_>, a: &PasswordArgs) -> Result<Changed, ApiError> {
    accounts::check_hash(&a.password_hash).map_err(invalid)?;
    ctx.catalog()?.change_account(&a.name, &AccountChange::Password(&a.password_hash))?;
    Ok(Changed { name: a.name.clone(), change: "password".into() })
}

/// `account_disable`, `account_enable`, `account_unlock`.
///
/// # Errors
/// `invalid` for no such account.
pub fn change(ctx: &Ctx<'_>, a: &NameArgs, change: &AccountChange<'_>) -> Result<Changed, ApiError> {
    ctx.catalog()?.change_account(&a.name, change)?;
    Ok(Changed { name: a.name.clone(), change: change.as_str().into() })
}

/// `account_list`: every account, by name.
///
/// # Errors
/// When the catalogue cannot be read.
pub fn list(ctx: &Ctx<'_>, _a: &super::NoArgs) -> Result<Vec<AccountView>, ApiError> {
    let now = chrono::Utc::now().timestamp();
    Ok(ctx.catalog()?.accounts()?.into_iter().map(|a| view(a, now)).collect())
}

/// An account as listed at `now` (Unix seconds).
pub fn view(a: Account, now: i64) -> AccountView {
    let (state, state_zh) = if a.disabled {
        ("disabled", "已停用")
    } else if a.locked_until.is_some_and(|u| u > now) {
        ("locked", "已锁定")
    } else {
        ("active", "可用")
    };
    AccountView {
        name: a.name,
        display_name: a.display_name,
        badge: a.badge,
        roles: a.roles.iter().map(|r| r.as_str().to_string()).collect(),
        disabled: a.disabled,
        failures: a.failures,
        locked_until: a.locked_until,
        state: state.into(),
        state_zh: state_zh.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(disabled: bool, locked_until: Option<i64>) -> Account {
        Account {
            name: "wang".into(),
            display_name: "王五".into(),
            badge: Some("012345".into()),
            roles: vec![crate::custody::event::Role::Officer],
            disabled,
            failures: 3,
            locked_until,
        }
    }

    #[test]
    fn a_listed_account_reads_disabled_before_locked_and_a_past_lockout_as_active() {
        assert_eq!(view(account(true, Some(200)), 100).state, "disabled");
        assert_eq!(view(account(false, Some(200)), 100).state_zh, "已锁定");
        assert_eq!(view(account(false, Some(50)), 100).state, "active");
        let v = view(account(false, None), 100);
        assert_eq!((v.roles, v.failures), (vec!["officer".to_string()], 3));
    }
}
