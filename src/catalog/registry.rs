//! The device registry (R1): which recorders the bureau numbered and registered, to which
//! officer each is assigned ("who wears it is responsible"), with the history of assignments.
//! What a recorder says about itself at docking is in `devices`; what the bureau says is here.

use chrono::Utc;
use rusqlite::{params, OptionalExtension};
use serde_json::json;

use crate::custody::event::Action;

use super::store::{append, begin, sql, Catalog, CatalogError};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS registry (
    serial        TEXT PRIMARY KEY,
    model         TEXT,
    officer_id    TEXT NOT NULL,
    officer_name  TEXT,
    unit          TEXT,
    registered    TEXT NOT NULL,
    registered_by TEXT NOT NULL,
    retired       TEXT,
    retired_by    TEXT,
    retired_why   TEXT
);
CREATE TABLE IF NOT EXISTS registry_assignments (
    id            INTEGER PRIMARY KEY,
    serial        TEXT NOT NULL,
    officer_id    TEXT NOT NULL,
    officer_name  TEXT,
    unit          TEXT,
    since         TEXT NOT NULL,
    set_by        TEXT NOT NULL
);
"#;

/// A registration, as given by a custodian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Device serial (7 characters 0-9 A-Z).
    pub serial: String,
    /// Model, where known.
    pub model: Option<String>,
    /// Assigned officer's number (警号 / 执法证号).
    pub officer_id: String,
    /// Officer's name.
    pub officer_name: Option<String>,
    /// Officer's unit.
    pub unit: Option<String>,
}

/// A registry entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEntry {
    /// The registration.
    pub registration: Registration,
    /// When registered (UTC, RFC 3339).
    pub registered: String,
    /// When retired, if retired.
    pub retired: Option<String>,
    /// Assignments, oldest first: (officer id, name, unit, since).
    pub history: Vec<(String, Option<String>, Option<String>, String)>,
}

/// What the registry says about a docked recorder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryCheck {
    /// Registered, and the officer the recorder is bound to is the registered one.
    Registered,
    /// Not in the registry: ingested (evidence is never refused) and flagged.
    Unregistered,
    /// Retired from service: ingested and flagged.
    Retired,
    /// The recorder is bound to another officer than the registry says.
    OfficerMismatch {
        /// Officer in the registry.
        registered: String,
        /// Officer the recorder is bound to (its identity's badge).
        recorder: String,
    },
}

impl RegistryCheck {
    /// Whether the docking needs a custodian's attention.
    pub fn is_flagged(&self) -> bool {
        *self != RegistryCheck::Registered
    }
    /// Stable name.
    pub fn as_str(&self) -> &'static str {
        match self {
            RegistryCheck::Registered => "registered",
            RegistryCheck::Unregistered => "unregistered",
            RegistryCheck::Retired => "retired",
            RegistryCheck::OfficerMismatch { .. } => "officer_mismatch",
        }
    }
    /// One line for the custodian, in English and Chinese.
    pub fn describe(&self, serial: &str) -> String {
        match self {
            RegistryCheck::Registered => format!("recorder {serial} is registered / 记录仪已登记"),
            RegistryCheck::Unregistered => format!(
                "recorder {serial} is not registered: register it with `evidock device register` / 记录仪未登记"
            ),
            RegistryCheck::Retired => format!("recorder {serial} was retired from service / 记录仪已停用"),
            RegistryCheck::OfficerMismatch { registered, recorder } => format!(
                "recorder {serial} is bound to officer {recorder} but registered to {registered} / 记录仪绑定警号与登记不符"
            ),
        }
    }
}

/// The registry check for a recorder bound to officer `badge` (pure over the looked-up row).
pub(super) fn check(row: Option<(String, Option<String>)>, badge: &str) -> RegistryCheck {
    match row {
        None => RegistryCheck::Unregistered,
        Some((_, Some(_))) => RegistryCheck::Retired,
        Some((officer, None)) if officer != badge => {
            RegistryCheck::OfficerMismatch { registered: officer, recorder: badge.to_string() }
        }
        Some(_) => RegistryCheck::Registered,
    }
}

pub(super) fn lookup(
    conn: &rusqlite::Connection,
    serial: &str,
) -> Result<Option<(String, Option<String>)>, CatalogError> {
    conn.query_row("SELECT officer_id, retired FROM registry WHERE serial = ?1", params![serial], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()
    .map_err(sql("looking up the registry"))
}

fn valid_serial(serial: &str) -> bool {
    serial.len() == 7 && serial.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

impl Catalog {
    /// Registers a recorder, or changes its assignment (kept in the history), with its
    /// custody event (R1). Registering a retired recorder returns it to service.
    ///
    /// # Errors
    /// On an invalid serial or officer id, or when the write fails.
    pub fn register_device(&mut self, r: &Registration) -> Result<(), CatalogError> {
        if !valid_serial(&r.serial) {
            return Err(CatalogError::Invalid(format!("serial {:?}: must be 7 characters 0-9 A-Z", r.serial)));
        }
        if r.officer_id.trim().is_empty() || r.officer_id.chars().any(char::is_control) {
            return Err(CatalogError::Invalid(format!(
                "officer id {:?} is empty or has control characters",
                r.officer_id
            )));
        }
        let now = Utc::now().to_rfc3339();
        let user = self.actor.user.clone();
        let tx = begin(&mut self.conn)?;
        let before: Option<(String, Option<String>)> = tx
            .query_row("SELECT officer_id, retired FROM registry WHERE serial = ?1", params![r.serial], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .map_err(sql("looking up the registry"))?;
        tx.execute(
            "INSERT INTO registry (serial, model, officer_id, officer_name, unit, registered, registered_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(serial) DO UPDATE SET model = COALESCE(?2, model), officer_id = ?3, officer_name = ?4,
                 unit = ?5, retired = NULL, retired_by = NULL, retired_why = NULL",
            params![r.serial, r.model, r.officer_id, r.officer_name, r.unit, now, user],
        )
        .map_err(sql("registering a recorder"))?;
        let changed = before.as_ref().is_none_or(|(o, retired)| *o != r.officer_id || retired.is_some());
        if changed {
            tx.execute(
                "INSERT INTO registry_assignments (serial, officer_id, officer_name, unit, since, set_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![r.serial, r.officer_id, r.officer_name, r.unit, now, user],
            )
            .map_err(sql("recording an assignment"))?;
        }
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::DeviceRegistered,
            format!("device:{}", r.serial),
            json!({
                "serial": r.serial, "model": r.model, "officer_id": r.officer_id, "officer_name": r.officer_name,
                "unit": r.unit, "previous_officer": before.map(|b| b.0), "assignment_changed": changed,
            }),
        )?;
        tx.commit().map_err(sql("commit registration"))
    }

    /// Retires a recorder, with the reason (R1).
    ///
    /// # Errors
    /// When it is not registered, the reason is empty, or the write fails.
    pub fn retire_device(&mut self, serial: &str, reason: &str) -> Result<(), CatalogError> {
        if reason.trim().is_empty() {
            return Err(CatalogError::Invalid("a reason is required to retire a recorder".into()));
        }
        let now = Utc::now().to_rfc3339();
        let user = self.actor.user.clone();
        let tx = begin(&mut self.conn)?;
        let n = tx
            .execute(
                "UPDATE registry SET retired = ?2, retired_by = ?3, retired_why = ?4 WHERE serial = ?1 AND retired IS NULL",
                params![serial, now, user, reason],
            )
            .map_err(sql("retiring a recorder"))?;
        if n == 0 {
            return Err(CatalogError::Invalid(format!("recorder {serial} is not registered, or already retired")));
        }
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::DeviceRetired,
            format!("device:{serial}"),
            json!({ "reason": reason }),
        )?;
        tx.commit().map_err(sql("commit retirement"))
    }

    /// Every registry entry, by serial.
    ///
    /// # Errors
    /// When the query fails.
    pub fn registry(&self) -> Result<Vec<RegistryEntry>, CatalogError> {
        let mut st = self
            .conn
            .prepare("SELECT serial, model, officer_id, officer_name, unit, registered, retired FROM registry ORDER BY serial")
            .map_err(sql("listing the registry"))?;
        let mut out: Vec<RegistryEntry> = st
            .query_map([], |r| {
                Ok(RegistryEntry {
                    registration: Registration {
                        serial: r.get(0)?,
                        model: r.get(1)?,
                        officer_id: r.get(2)?,
                        officer_name: r.get(3)?,
                        unit: r.get(4)?,
                    },
                    registered: r.get(5)?,
                    retired: r.get(6)?,
                    history: Vec::new(),
                })
            })
            .map_err(sql("listing the registry"))?
            .collect::<Result<_, _>>()
            .map_err(sql("listing the registry"))?;
        let mut st = self
            .conn
            .prepare(
                "SELECT officer_id, officer_name, unit, since FROM registry_assignments WHERE serial = ?1 ORDER BY id",
            )
            .map_err(sql("listing assignments"))?;
        for e in &mut out {
            e.history = st
                .query_map(params![e.registration.serial], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .map_err(sql("listing assignments"))?
                .collect::<Result<_, _>>()
                .map_err(sql("listing assignments"))?;
        }
        Ok(out)
    }
}

/// Every recorder's registration history as the custody log tells it (R1): each
/// `device_registered` to another officer, or after a retirement, begins a stretch; a
/// `device_retired` or a reassignment ends it. Times are station-local.
///
/// # Errors
/// When the log cannot be read.
pub fn registry_history(
    conn: &rusqlite::Connection,
    tz: chrono_tz::Tz,
) -> Result<std::collections::BTreeMap<String, Vec<crate::report::RegisteredSpan>>, CatalogError> {
    let doing = "reading the registry's history from the custody log";
    let mut st = conn
        .prepare(
            "SELECT ts_utc, action, subject, details FROM custody_log
             WHERE action IN ('device_registered', 'device_retired') ORDER BY seq",
        )
        .map_err(sql(doing))?;
    let rows = st
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
        })
        .map_err(sql(doing))?;
    let mut out: std::collections::BTreeMap<String, Vec<crate::report::RegisteredSpan>> =
        std::collections::BTreeMap::new();
    for row in rows {
        let (ts, action, subject, details) = row.map_err(sql(doing))?;
        let (Some(serial), Ok(at)) = (subject.strip_prefix("device:"), chrono::DateTime::parse_from_rfc3339(&ts))
        else {
            continue;
        };
        let at = at.with_timezone(&tz).naive_local();
        let spans = out.entry(serial.to_string()).or_default();
        let open = spans.last_mut().filter(|s| s.to.is_none());
        if action == "device_retired" {
            if let Some(s) = open {
                s.to = Some(at);
            }
            continue;
        }
        let d: serde_json::Value = serde_json::from_str(&details).unwrap_or_default();
        let Some(officer) = d["officer_id"].as_str() else { continue };
        let name = d["officer_name"].as_str().map(str::to_string);
        let span =
            crate::report::RegisteredSpan { from: at, to: None, officer: officer.to_string(), name: name.clone() };
        match open {
            Some(s) if s.officer == officer => s.name = name,
            Some(s) => {
                s.to = Some(at);
                spans.push(span);
            }
            None => spans.push(span),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_check_flags_everything_but_a_matching_registration() {
        assert_eq!(check(None, "012345"), RegistryCheck::Unregistered);
        assert_eq!(check(Some(("012345".into(), Some("2024".into()))), "012345"), RegistryCheck::Retired);
        assert_eq!(
            check(Some(("099999".into(), None)), "012345"),
            RegistryCheck::OfficerMismatch { registered: "099999".into(), recorder: "012345".into() }
        );
        assert_eq!(check(Some(("012345".into(), None)), "012345"), RegistryCheck::Registered);
        assert!(!RegistryCheck::Registered.is_flagged());
        assert!(RegistryCheck::Unregistered.describe("A1").contains("未登记"));
    }
}
