//! `evidock account add|password|disable|enable|unlock|list`: station accounts for the web page
//! (docs/WEB.md), by an administrator. The password is read from standard input (without echo
//! on a terminal) and hashed (argon2id) in the caller's own process: only the hash reaches the
//! service, never the password (INV-42).

use std::io::BufRead;
use std::process::ExitCode;

use crate::accounts::{self, Account};
use crate::catalog::AccountChange;
use crate::config::Config;

/// `evidock account ...`
#[derive(Debug, clap::Subcommand)]
pub enum AccountCommand {
    /// Create a station account; its password is read from standard input.
    Add {
        /// Account name: 1 to 32 letters, digits, '.', '_' or '-' (an officer's may be the
        /// badge number).
        name: String,
        /// The person's name, shown on the page.
        #[arg(long)]
        display_name: String,
        /// Badge number (警号), for an officer: the officer signs in with it.
        #[arg(long)]
        badge: Option<String>,
        /// A role (repeatable): officer, custodian, archivist, approver, supervisor, admin.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The argon2id hash of the password (the command line makes it from standard input).
        #[arg(long, hide = true)]
        password_hash: Option<String>,
    },
    /// Set a new password (read from standard input); clears failures and any lockout.
    Password {
        /// Account name.
        name: String,
        /// The argon2id hash of the password (the command line makes it from standard input).
        #[arg(long, hide = true)]
        password_hash: Option<String>,
    },
    /// No sign-in until enabled again.
    Disable {
        /// Account name.
        name: String,
    },
    /// Allow sign-in again.
    Enable {
        /// Account name.
        name: String,
    },
    /// Clear the failures and the lockout.
    Unlock {
        /// Account name.
        name: String,
    },
    /// List the accounts (never their hashes).
    List {
        /// JSON, one object per account.
        #[arg(long)]
        json: bool,
    },
}

impl AccountCommand {
    /// For `add` and `password` without a hash: reads the password from standard input and
    /// returns its hash, to be sent instead of it. `None` for the other commands.
    ///
    /// # Errors
    /// When standard input cannot be read or the password is too short.
    pub fn hash_from_stdin(&self) -> anyhow::Result<Option<String>> {
        match self {
            AccountCommand::Add { password_hash: None, .. } | AccountCommand::Password { password_hash: None, .. } => {
                let password = read_password()?;
                Ok(Some(accounts::hash_password(&password)?))
            }
            _ => Ok(None),
        }
    }
}

/// Reads one line from standard input, with the terminal's echo off when it is a terminal.
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    let mut saved: Option<libc::termios> = None;
    if tty {
        eprint!("密码 Password: ");
        // SAFETY: tcgetattr/tcsetattr on standard input with a termios owned here.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) == 0 {
                saved = Some(t);
                t.c_lflag &= !libc::ECHO;
                libc::tcsetattr(0, libc::TCSANOW, &t);
            }
        }
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(t) = saved {
        // SAFETY: as above, restoring the settings read before.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &t);
        }
        eprintln!();
    }
    read.map_err(|e| anyhow::anyhow!("reading the password from standard input: {e}"))?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        anyhow::bail!(
            "no password on standard input: give it on the first line (e.g. from a terminal, or a pipe) / 请在标准输入的第一行提供密码"
        );
    }
    Ok(password)
}

fn hash_of(given: Option<&String>) -> anyhow::Result<String> {
    match given {
        Some(h) => {
            accounts::check_hash(h)?;
            Ok(h.clone())
        }
        None => Ok(accounts::hash_password(&read_password()?)?),
    }
}

/// Runs `evidock account ...`.
///
/// # Errors
/// On an invalid value, or when the catalogue cannot be written.
pub fn run(cmd: &AccountCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let mut catalog = super::open_catalog_as_user(config)?;
    match cmd {
        AccountCommand::Add { name, display_name, badge, roles, password_hash } => {
            accounts::check_name(name)?;
            let display_name = display_name.trim();
            if display_name.is_empty()
                || display_name.chars().any(char::is_control)
                || display_name.chars().count() > 64
            {
                anyhow::bail!("--display-name {display_name:?}: 1 to 64 characters, no control characters / 姓名无效");
            }
            let roles = accounts::parse_roles(roles, badge.as_deref())?;
            let hash = hash_of(password_hash.as_ref())?;
            let account = Account {
                name: name.clone(),
                display_name: display_name.to_string(),
                badge: badge.clone(),
                roles,
                disabled: false,
                failures: 0,
                locked_until: None,
            };
            catalog.add_account(&account, &hash)?;
            crate::outln!("account {name} created / 账户已创建");
        }
        AccountCommand::Password { name, password_hash } => {
            let hash = hash_of(password_hash.as_ref())?;
            catalog.change_account(name, &AccountChange::Password(&hash))?;
            crate::outln!("password of {name} set; its failures and lockout cleared / 密码已设置");
        }
        AccountCommand::Disable { name } => {
            catalog.change_account(name, &AccountChange::Disable)?;
            crate::outln!("account {name} disabled / 账户已停用");
        }
        AccountCommand::Enable { name } => {
            catalog.change_account(name, &AccountChange::Enable)?;
            crate::outln!("account {name} enabled / 账户已启用");
        }
        AccountCommand::Unlock { name } => {
            catalog.change_account(name, &AccountChange::Unlock)?;
            crate::outln!("account {name} unlocked / 账户已解锁");
        }
        AccountCommand::List { json } => {
            for a in catalog.accounts()? {
                let roles: Vec<&str> = a.roles.iter().map(|r| r.as_str()).collect();
                if *json {
                    crate::outln!(
                        "{}",
                        serde_json::json!({
                            "name": a.name, "display_name": a.display_name, "badge": a.badge, "roles": roles,
                            "disabled": a.disabled, "failures": a.failures, "locked_until": a.locked_until,
                        })
                    );
                } else {
                    crate::outln!(
                        "{}\t{}\t{}\t{}\t{}",
                        a.name,
                        a.display_name,
                        a.badge.as_deref().unwrap_or("-"),
                        roles.join(","),
                        if a.disabled {
                            "disabled / 已停用"
                        } else if a.locked_until.is_some_and(|u| u > chrono::Utc::now().timestamp()) {
                            "locked / 已锁定"
                        } else {
                            "active / 可用"
                        }
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
