//! Station accounts: the people who use the station's web page without a login on the
//! station's computer (officers by badge number and password; custodians, archivists,
//! approvers, supervisors by account name), their password hashes, the lockout after repeated
//! failures, and their signed-in sessions (`sessions.rs`).
//!
//! Owns: which names and passwords are acceptable, the memory-hard hash (argon2id, INV-42), the
//! decision of a sign-in ([`judge`]: accepted, wrong, locked) and when a run of failures locks
//! an account, the roles an account acts in, and the actor its custody events name.
//! Must never: keep or log a password or a session token (only the hash is stored; a token lives
//! in the daemon's memory and the person's cookie), read the clock (`now` comes in as a value),
//! or touch SQLite (the catalogue stores accounts, `catalog/accounts.rs`, and the gate,
//! `gate.rs`, is the one caller that records sign-ins there) or HTTP (`web/` renders and routes).

pub mod gate;
pub mod sessions;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::custody::event::{Actor, Role};

/// The roles an account may be given: the grantable roles of `[roles]` and the officer's.
pub const ACCOUNT_ROLES: [Role; 6] =
    [Role::Officer, Role::Custodian, Role::Archivist, Role::Approver, Role::Supervisor, Role::Admin];

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Why an account or a password is not acceptable. Each message is in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// The account name is not acceptable.
    #[error("account name {0:?}: use 1 to 32 letters, digits, '.', '_' or '-' / 账户名无效：请使用1至32个字母、数字、'.'、'_'或'-'")]
    Name(String),
    /// The badge number is not acceptable.
    #[error("badge number {0:?}: use 1 to 20 letters or digits / 警号无效：请使用1至20个字母或数字")]
    Badge(String),
    /// A role name that accounts cannot hold.
    #[error("role {0:?}: an account may hold officer, custodian, archivist, approver, supervisor or admin / 角色无效")]
    Role(String),
    /// An officer account without a badge number, or a badge on an account that is no officer.
    #[error("an officer account needs --badge, and only an officer account has one / 执法人员账户须填写警号，其他账户不填写警号")]
    BadgeRole,
    /// No role given.
    #[error("an account needs at least one --role / 账户至少需要一个角色")]
    NoRole,
    /// The password is too short.
    #[error("the password has {0} characters; at least {MIN_PASSWORD_CHARS} are needed / 密码至少需要{MIN_PASSWORD_CHARS}个字符")]
    ShortPassword(usize),
    /// A stored or given hash is not an argon2id hash this station accepts.
    #[error("not an argon2id password hash with m >= 19456 KiB, t >= 2 / 不是本站接受的 argon2id 密码散列")]
    Hash,
}

/// The hasher of this station: argon2id, 19 MiB of memory, 2 passes, 1 lane (OWASP's minimum
/// for argon2id).
fn hasher() -> Argon2<'static> {
    // The numbers are constants within argon2's limits: `new` cannot fail for them.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The argon2id hash of `password` with a fresh random salt, as a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$...`).
///
/// # Errors
/// [`AccountError::ShortPassword`] below [`MIN_PASSWORD_CHARS`] characters.
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(AccountError::ShortPassword(n));
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| AccountError::Hash)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| AccountError::Hash)?;
    hasher().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| AccountError::Hash)
}

/// Checks that `phc` is an argon2id hash at least as hard as this station's own (a hash made
/// by the command line before it was sent to the service, INV-42).
///
/// # Errors
/// [`AccountError::Hash`] otherwise.
pub fn check_hash(phc: &str) -> Result<(), AccountError> {
    let h = PasswordHash::new(phc).map_err(|_| AccountError::Hash)?;
    if h.algorithm.as_str() != "argon2id" || h.salt.is_none() || h.hash.is_none() {
        return Err(AccountError::Hash);
    }
    let p = Params::try_from(&h).map_err(|_| AccountError::Hash)?;
    if p.m_cost() < 19_456 || p.t_cost() < 2 {
        return Err(AccountError::Hash);
    }
    Ok(())
}

/// Whether `password` matches the stored hash `phc`. A hash that cannot be read matches
/// nothing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash of no password, verified against when the name matches no account, so that a
/// sign-in with an unknown name takes as long as one with a known name.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$RZ0xYLG4ykOcmbU6rP2lKKCkAHtZDjHvmO4+XVF4iGs";

/// Checks an account name.
///
/// # Errors
/// [`AccountError::Name`].
pub fn check_name(name: &str) -> Result<(), AccountError> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(AccountError::Name(name.to_string()))
    }
}

/// Checks a badge number (警号).
///
/// # Errors
/// [`AccountError::Badge`].
pub fn check_badge(badge: &str) -> Result<(), AccountError> {
    if !badge.is_empty() && badge.len() <= 20 && badge.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(AccountError::Badge(badge.to_string()))
    }
}

/// Parses role names into the roles an account may hold, in [`ACCOUNT_ROLES`] order, and
/// checks the badge goes with the officer's role.
///
/// # Errors
/// On an unknown role, no role, or a badge without the officer's role (or the reverse).
pub fn parse_roles(names: &[String], badge: Option<&str>) -> Result<Vec<Role>, AccountError> {
    let mut roles = Vec::new();
    for n in names {
        let r = Role::parse(n).filter(|r| ACCOUNT_ROLES.contains(r)).ok_or_else(|| AccountError::Role(n.clone()))?;
        roles.push(r);
    }
    if roles.is_empty() {
        return Err(AccountError::NoRole);
    }
    if roles.contains(&Role::Officer) != badge.is_some() {
        return Err(AccountError::BadgeRole);
    }
    if let Some(b) = badge {
        check_badge(b)?;
    }
    Ok(ACCOUNT_ROLES.into_iter().filter(|r| roles.contains(r)).collect())
}

/// A station account as stored (its hash stays in the catalogue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Account name (for an officer, often the badge number).
    pub name: String,
    /// The person's name, shown on the page.
    pub display_name: String,
    /// Badge number (警号), for an officer.
    pub badge: Option<String>,
    /// Roles, in [`ACCOUNT_ROLES`] order.
    pub roles: Vec<Role>,
    /// Whether it is disabled (no sign-in).
    pub disabled: bool,
    /// Failed sign-ins since the last success.
    pub failures: u32,
    /// Locked until this instant (Unix seconds), if locked.
    pub locked_until: Option<i64>,
}

impl Account {
    /// The actor its custody events name: `account:NAME`, its first role, its badge.
    pub fn actor(&self) -> Actor {
        Actor {
            user: format!("account:{}", self.name),
            role: self.roles.first().copied().unwrap_or(Role::Nobody),
            officer: self.badge.clone(),
        }
    }
}

/// The lockout rule: after `failures` failed sign-ins in a row, `seconds` without sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    /// Failures in a row that lock the account.
    pub failures: u32,
    /// How long it stays locked.
    pub seconds: i64,
}

/// What a sign-in attempt comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    /// The password matched: the failures are forgotten.
    Accepted,
    /// Wrong password: the account's failures become `failures`; `locks_until` when that run of
    /// failures locks it now.
    Wrong {
        /// Failures in a row, this one included.
        failures: u32,
        /// The end of the lockout this failure starts.
        locks_until: Option<i64>,
    },
    /// Locked (until then), or disabled (`None`): refused whatever the password.
    Locked(Option<i64>),
}

/// Judges a sign-in to `account` whose password `matched` (or not) at `now` (Unix seconds).
/// Pure: the caller verified the password and stores what this says (INV-43).
pub fn judge(account: &Account, matched: bool, now: i64, rule: Lockout) -> Judgement {
    if account.disabled {
        return Judgement::Locked(None);
    }
    if let Some(until) = account.locked_until.filter(|u| *u > now) {
        return Judgement::Locked(Some(until));
    }
    // A lockout that has run out starts a new count.
    let before = if account.locked_until.is_some() { 0 } else { account.failures };
    if matched {
        return Judgement::Accepted;
    }
    let failures = before.saturating_add(1);
    let locks_until = (failures >= rule.failures).then(|| now.saturating_add(rule.seconds));
    Judgement::Wrong { failures, locks_until }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account {
            name: "zhang".into(),
            display_name: "张三".into(),
            badge: Some("012345".into()),
            roles: vec![Role::Officer],
            disabled: false,
            failures: 0,
            locked_until: None,
        }
    }

    const RULE: Lockout = Lockout { failures: 3, seconds: 600 };

    #[test]
    fn a_run_of_failures_locks_and_the_lock_runs_out() {
        let mut a = account();
        for n in 1..=2 {
            assert_eq!(judge(&a, false, 100, RULE), Judgement::Wrong { failures: n, locks_until: None });
            a.failures = n;
        }
        assert_eq!(judge(&a, false, 100, RULE), Judgement::Wrong { failures: 3, locks_until: Some(700) });
        a.failures = 3;
        a.locked_until = Some(700);
        // Locked: even the right password is refused.
        assert_eq!(judge(&a, true, 699, RULE), Judgement::Locked(Some(700)));
        // Run out: a new count, and the right password is accepted.
        assert_eq!(judge(&a, false, 700, RULE), Judgement::Wrong { failures: 1, locks_until: None });
        assert_eq!(judge(&a, true, 700, RULE), Judgement::Accepted);
        a.disabled = true;
        assert_eq!(judge(&a, true, 800, RULE), Judgement::Locked(None));
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterz", &h));
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "a fresh salt each time");
        check_hash(&h).unwrap();
        assert_eq!(hash_password("short"), Err(AccountError::ShortPassword(5)));
        // Weaker or other hashes are refused.
        assert_eq!(check_hash("$argon2id$v=19$m=4096,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNo"), Err(AccountError::Hash));
        assert_eq!(check_hash("$2b$12$abcdefghijklmnopqrstuv"), Err(AccountError::Hash));
        check_hash(DUMMY_HASH).unwrap();
        assert!(!verify_password("", DUMMY_HASH));
    }

    #[test]
    fn roles_and_badges_go_together() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_string()).collect::<Vec<_>>();
        assert_eq!(parse_roles(&s(&["officer"]), Some("012345")).unwrap(), vec![Role::Officer]);
        assert_eq!(
            parse_roles(&s(&["admin", "custodian"]), None).unwrap(),
            vec![Role::Custodian, Role::Admin],
            "in the fixed order"
        );
        assert_eq!(parse_roles(&s(&["officer"]), None), Err(AccountError::BadgeRole));
        assert_eq!(parse_roles(&s(&["custodian"]), Some("1")), Err(AccountError::BadgeRole));
        assert_eq!(parse_roles(&s(&["system"]), None), Err(AccountError::Role("system".into())));
        assert_eq!(parse_roles(&[], None), Err(AccountError::NoRole));
        assert!(check_name("wang.li-2").is_ok());
        assert!(check_name("王").is_err() && check_name("").is_err() && check_name("a b").is_err());
    }
}
