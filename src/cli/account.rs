//! `evidock account add|password|disable|enable|unlock|list`: the front end of the station
//! API's `account_*` operations (`api::accounts`): station accounts for the web page
//! (docs/WEB.md), by an administrator. The password is read from standard input (without echo
//! on a terminal) and hashed (argon2id) in the caller's own process: only the hash reaches the
//! station, never the password (INV-42).

use std::io::BufRead;
use std::process::ExitCode;

use crate::accounts;
use crate::api::accounts::{AddArgs, NameArgs, PasswordArgs};
use crate::api::{NoArgs, Reply, Request};

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
    },
    /// Set a new password (read from standard input); clears failures and any lockout.
    Password {
        /// Account name.
        name: String,
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

/// The typed request of an `account` command, with `hash` the password's hash for `add` and
/// `password` (empty until it is read: [`run`] reads and hashes it first).
pub fn request(cmd: &AccountCommand, hash: String) -> Request {
    match cmd {
        AccountCommand::Add { name, display_name, badge, roles } => Request::AccountAdd(AddArgs {
            name: name.clone(),
            display_name: display_name.clone(),
            badge: badge.clone(),
            roles: roles.clone(),
            password_hash: hash,
        }),
        AccountCommand::Password { name } => {
            Request::AccountPassword(PasswordArgs { name: name.clone(), password_hash: hash })
        }
        AccountCommand::Disable { name } => Request::AccountDisable(NameArgs { name: name.clone() }),
        AccountCommand::Enable { name } => Request::AccountEnable(NameArgs { name: name.clone() }),
        AccountCommand::Unlock { name } => Request::AccountUnlock(NameArgs { name: name.clone() }),
        AccountCommand::List { .. } => Request::AccountList(NoArgs {}),
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

/// Runs `evidock account ...` through `link`: for `add` and `password`, the password is read
/// from standard input and hashed here first.
///
/// # Errors
/// When it is refused, a value is invalid, or the password cannot be read.
pub fn run(cmd: &AccountCommand, link: &super::invoke::Link<'_>) -> anyhow::Result<ExitCode> {
    let hash = match cmd {
        AccountCommand::Add { .. } | AccountCommand::Password { .. } => accounts::hash_password(&read_password()?)?,
        _ => String::new(),
    };
    match link.call(request(cmd, hash))? {
        Reply::AccountAdd(c) => crate::outln!("account {} created / 账户已创建", c.name),
        Reply::AccountPassword(c) => {
            crate::outln!("password of {} set; its failures and lockout cleared / 密码已设置", c.name)
        }
        Reply::AccountDisable(c) => crate::outln!("account {} disabled / 账户已停用", c.name),
        Reply::AccountEnable(c) => crate::outln!("account {} enabled / 账户已启用", c.name),
        Reply::AccountUnlock(c) => crate::outln!("account {} unlocked / 账户已解锁", c.name),
        Reply::AccountList(list) => {
            let json = matches!(cmd, AccountCommand::List { json: true });
            for a in list {
                if json {
                    crate::outln!(
                        "{}",
                        serde_json::json!({
                            "name": a.name, "display_name": a.display_name, "badge": a.badge, "roles": a.roles,
                            "disabled": a.disabled, "failures": a.failures, "locked_until": a.locked_until,
                        })
                    );
                } else {
                    crate::outln!(
                        "{}\t{}\t{}\t{}\t{} / {}",
                        a.name,
                        a.display_name,
                        a.badge.as_deref().unwrap_or("-"),
                        a.roles.join(","),
                        a.state,
                        a.state_zh
                    );
                }
            }
        }
        other => return Err(super::invoke::unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}
