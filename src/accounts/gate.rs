//! The sign-in gate: the one place that signs people in and out, finds their sessions and
//! records each of these with its custody event, through the catalogue the daemon writes
//! (where the sessions are kept too, so a restart of the service signs nobody out). The
//! web page calls it (on a blocking thread: a hash takes tens of milliseconds) and renders what
//! it says.
//!
//! Owns: the order of a sign-in (look up, verify, judge, record, then start the session: no
//! session without its `signed_in` event) and the record of expired sessions.
//! Must never: render, route or read HTTP.

use std::sync::{Arc, Mutex, PoisonError};

use super::sessions::{key, Lookup, Session, MAX_SESSIONS};
use super::{judge, verify_password, Judgement, Lockout, DUMMY_HASH};
use crate::catalog::{Catalog, CatalogError};

/// Why a sign-in did not give a session. Each says what to do, in Chinese and English.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Wrong name or password (which of the two is not told).
    #[error("警号/账户名或密码错误 / wrong badge number, account name or password")]
    Wrong,
    /// The account is locked until then (station time, as text), or disabled (`None`).
    #[error("{}", locked_text(.0.as_deref()))]
    Locked(Option<String>),
    /// The catalogue could not record it: no session without its event.
    #[error("无法记录登录，请联系管理员 / the sign-in could not be recorded; tell the administrator: {0}")]
    Catalog(#[from] CatalogError),
    /// No randomness for a token.
    #[error("无法生成会话 / no session could be made: {0}")]
    Random(String),
}

fn locked_text(until: Option<&str>) -> String {
    match until {
        Some(t) => format!("账户已锁定至 {t}，请稍后再试或联系管理员 / the account is locked until {t}; try later or ask the administrator"),
        None => "账户已停用，请联系管理员 / the account is disabled; ask the administrator".into(),
    }
}

/// The gate. Held by the web server; the catalogue is the daemon's (its one writer, behind
/// its mutex), and holds the sessions.
pub struct Gate {
    /// The daemon's catalogue.
    catalog: Arc<Mutex<Catalog>>,
    /// The lockout rule.
    lockout: Lockout,
    /// Session lifetime, seconds.
    lifetime_s: i64,
    /// The station's time zone, for the times told to people.
    tz: chrono_tz::Tz,
}

impl Gate {
    /// A gate over the daemon's catalogue.
    pub fn new(catalog: Arc<Mutex<Catalog>>, lockout: Lockout, lifetime_s: i64, tz: chrono_tz::Tz) -> Gate {
        Gate { catalog, lockout, lifetime_s, tz }
    }

    fn catalog(&self) -> std::sync::MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Signs in with a badge number or account name and a password at `now` (Unix seconds)
    /// from `from` (the client's address): the cookie's token and the session.
    ///
    /// # Errors
    /// A [`Refusal`]; each is recorded (`sign_in_failed`, `account_locked`) first.
    pub fn sign_in(&self, given: &str, password: &str, now: i64, from: &str) -> Result<(String, Session), Refusal> {
        let found = self.catalog().account_for_sign_in(given)?;
        let Some((account, hash)) = found else {
            // As long as a known name takes, so that names cannot be told by the time.
            let _ = verify_password(password, DUMMY_HASH);
            self.catalog().record_unknown_sign_in(given, from)?;
            return Err(Refusal::Wrong);
        };
        let matched = verify_password(password, &hash);
        let judgement = judge(&account, matched, now, self.lockout);
        let until = now.saturating_add(self.lifetime_s);
        // The token is made first: the session is stored with its `signed_in` event.
        let token = super::sessions::token().map_err(|e| Refusal::Random(e.to_string()))?;
        self.catalog().record_sign_in(&account, judgement, (&key(&token), now, until), MAX_SESSIONS, from)?;
        match judgement {
            Judgement::Accepted => {
                let mut account = account;
                account.failures = 0;
                account.locked_until = None;
                let session = Session::of(&token, account, now, until);
                Ok((token, session))
            }
            Judgement::Wrong { locks_until: None, .. } => Err(Refusal::Wrong),
            Judgement::Wrong { locks_until: Some(t), .. } | Judgement::Locked(Some(t)) => {
                Err(Refusal::Locked(Some(self.station_time(t))))
            }
            Judgement::Locked(None) => Err(Refusal::Locked(None)),
        }
    }

    fn station_time(&self, secs: i64) -> String {
        use chrono::TimeZone;
        chrono::Utc
            .timestamp_opt(secs, 0)
            .single()
            .map_or_else(|| secs.to_string(), |t| t.with_timezone(&self.tz).format("%Y-%m-%d %H:%M:%S").to_string())
    }

    /// The live session of a cookie's token at `now`, with its account as the catalogue holds
    /// it now (its roles and badge). An expired one is ended and recorded (`signed_out`,
    /// `expired`) and gives `None`; so does one whose account was disabled or removed since
    /// sign-in (`signed_out`, `account_disabled`): an administrator's `account_disable` takes
    /// effect at the account's next request, not when its session would have ended. When the
    /// catalogue cannot be read, `None` (no session is trusted without it).
    pub fn session(&self, token: &str, now: i64) -> Option<Session> {
        match self.find(token, now) {
            Ok(Lookup::Live(s)) => Some(s),
            Ok(Lookup::Expired(_) | Lookup::Unknown) => None,
            Err(e) => {
                tracing::error!(error = %e, "cannot read a web session");
                None
            }
        }
    }

    fn find(&self, token: &str, now: i64) -> Result<Lookup, CatalogError> {
        let k = key(token);
        let found = self.catalog().web_session(&k)?;
        let Some(stored) = found else { return Ok(Lookup::Unknown) };
        let session = Session::of(token, stored.account, stored.since, stored.until);
        if session.until <= now {
            self.end(&k, &session, "expired");
            return Ok(Lookup::Expired(session));
        }
        if session.account.disabled {
            self.end(&k, &session, "account_disabled");
            return Ok(Lookup::Unknown);
        }
        Ok(Lookup::Live(session))
    }

    /// Whether `token` names a live session at `now`, without recording anything (an open
    /// event stream asks at every change).
    pub fn is_live(&self, token: &str, now: i64) -> bool {
        let live = self.catalog().web_session_live(&key(token), now);
        live.unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read a web session");
            false
        })
    }

    /// Signs out the session of `token`, recorded (`signed_out`).
    pub fn sign_out(&self, token: &str) {
        let k = key(token);
        let found = self.catalog().web_session(&k);
        match found {
            Ok(Some(stored)) => {
                let session = Session::of(token, stored.account, stored.since, stored.until);
                self.end(&k, &session, "signed_out");
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot read a web session to sign it out"),
        }
    }

    /// Ends and records the sessions past their end at `now` (the web server sweeps every
    /// `web::SWEEP_S` seconds, and once at its start: sessions that ended while the service
    /// was stopped are recorded then).
    pub fn sweep(&self, now: i64) {
        let ended = self.catalog().web_sessions_ended(now);
        let ended = match ended {
            Ok(keys) => keys,
            Err(e) => {
                tracing::error!(error = %e, "cannot list ended web sessions");
                return;
            }
        };
        for k in ended {
            let found = self.catalog().web_session(&k);
            if let Ok(Some(stored)) = found {
                let account = stored.account;
                if let Err(e) = self.catalog().end_web_session(&k, &account, "expired") {
                    tracing::error!(account = %account.name, error = %e, "cannot record the end of a web session");
                }
            }
        }
    }

    fn end(&self, k: &[u8; 32], s: &Session, reason: &str) {
        if let Err(e) = self.catalog().end_web_session(k, &s.account, reason) {
            tracing::error!(account = %s.account.name, error = %e, "cannot record the end of a web session");
        }
    }

    /// Records a change refused to `session` (a form without its CSRF token).
    pub fn refuse(&self, session: &Session, what: &str, reason: &str) {
        if let Err(e) = self.catalog().record_web_refusal(&session.account, what, reason) {
            tracing::error!(account = %session.account.name, error = %e, "cannot record a refused web request");
        }
    }
}
