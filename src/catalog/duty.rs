//! Duty bindings, officers' returns and handover extensions (R1, R3, R14; docs/DUTY.md):
//! each written with its custody event in one transaction (INV-4, INV-27).

use chrono::{DateTime, NaiveDateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::json;

use crate::custody::event::{Action, Actor};
use crate::duty::{Binding, Extension, Reading, Return};

use super::store::{append, begin, sql, wall, Catalog, CatalogError};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS duty_bindings (
    id            INTEGER PRIMARY KEY,
    serial        TEXT NOT NULL,
    officer_id    TEXT NOT NULL,
    officer_name  TEXT,
    shift         TEXT,
    out_at        TEXT NOT NULL,
    out_by        TEXT NOT NULL,
    health        TEXT NOT NULL,
    warned        INTEGER NOT NULL,
    in_at         TEXT,
    in_docking    INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS duty_bindings_open ON duty_bindings (serial) WHERE in_at IS NULL;
CREATE TABLE IF NOT EXISTS duty_returns (
    id            INTEGER PRIMARY KEY,
    officer_id    TEXT NOT NULL,
    returned_at   TEXT NOT NULL,
    note          TEXT,
    recorded_by   TEXT NOT NULL,
    recorded_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS duty_extensions (
    id            INTEGER PRIMARY KEY,
    binding_id    INTEGER NOT NULL REFERENCES duty_bindings(id),
    until         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    requested_at  TEXT NOT NULL,
    approved_by   TEXT,
    approved_at   TEXT
);
"#;

/// A check-out to record.
#[derive(Debug, Clone)]
pub struct CheckOut<'a> {
    /// Recorder serial.
    pub serial: &'a str,
    /// Officer's number (警号).
    pub officer_id: &'a str,
    /// Officer's name.
    pub officer_name: Option<&'a str>,
    /// Shift label.
    pub shift: Option<&'a str>,
    /// The health check, as logged.
    pub health: serde_json::Value,
    /// Handed out below a threshold (`duty.below = "warn"`).
    pub warned: bool,
}

/// A pending or approved handover extension, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionRow {
    /// The extension.
    pub extension: Extension,
    /// Why.
    pub reason: String,
    /// Who asked.
    pub requested_by: String,
}

/// A docking's id, start, battery, free storage and drift, as stored.
type DockingHealth = (i64, String, Option<i64>, Option<i64>, Option<i64>);

/// A binding row as stored: id, serial, officer, name, shift, out, in, in docking, warned.
type BindingRow = (i64, String, String, Option<String>, Option<String>, String, Option<String>, Option<i64>, bool);

fn time(s: &str) -> Result<DateTime<Utc>, CatalogError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| CatalogError::Invalid(format!("catalogue time {s:?} is not RFC 3339")))
}

/// Closes the open binding of `serial`, if any, because it docked (check-in), with its
/// `duty_checked_in` event, in the docking's transaction (INV-27).
pub(super) fn check_in(
    actor: &Actor,
    tz: chrono_tz::Tz,
    tx: &Transaction<'_>,
    serial: &str,
    docking: i64,
) -> Result<(), CatalogError> {
    let open: Option<(i64, String, String)> = tx
        .query_row(
            "SELECT id, officer_id, out_at FROM duty_bindings WHERE serial = ?1 AND in_at IS NULL",
            params![serial],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(sql("looking up the duty binding"))?;
    let Some((id, officer, out_at)) = open else { return Ok(()) };
    tx.execute(
        "UPDATE duty_bindings SET in_at = ?2, in_docking = ?3 WHERE id = ?1",
        params![id, Utc::now().to_rfc3339(), docking],
    )
    .map_err(sql("closing the duty binding"))?;
    append(
        actor,
        tz,
        tx,
        Action::DutyCheckedIn,
        format!("device:{serial}"),
        json!({ "binding": id, "docking": docking, "serial": serial, "officer_id": officer, "out_at": out_at }),
    )?;
    Ok(())
}

impl Catalog {
    /// What the station last read from `serial`: its latest docking, the free storage counted
    /// after that docking's wipe.
    ///
    /// # Errors
    /// When the query fails.
    pub fn duty_reading(&self, serial: &str) -> Result<Option<Reading>, CatalogError> {
        let row: Option<DockingHealth> = self
            .conn
            .query_row(
                "SELECT id, started, battery, storage_free, drift_s FROM dockings WHERE serial = ?1
                 ORDER BY id DESC LIMIT 1",
                params![serial],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(sql("reading the latest docking"))?;
        let Some((docking, started, battery, free, drift_s)) = row else { return Ok(None) };
        let wiped: i64 = self
            .conn
            .query_row(
                "SELECT COALESCE(SUM(f.size), 0) FROM wipes w JOIN files f ON f.id = w.file_id WHERE w.docking_id = ?1",
                params![docking],
                |r| r.get(0),
            )
            .map_err(sql("summing the docking's wipe"))?;
        Ok(Some(Reading {
            docking,
            at: time(&started)?,
            battery: battery.and_then(|b| u8::try_from(b).ok()),
            free_bytes: free.and_then(|f| u64::try_from(f).ok()).map(|f| f.saturating_add(wiped.max(0) as u64)),
            drift_s,
        }))
    }

    /// The registry's word on `serial`: (officer, retired), if registered.
    ///
    /// # Errors
    /// When the query fails.
    pub fn registry_row(&self, serial: &str) -> Result<Option<(String, Option<String>)>, CatalogError> {
        super::registry::lookup(&self.conn, serial)
    }

    /// Binds a recorder to an officer for a shift, with `duty_checked_out` (INV-27).
    ///
    /// # Errors
    /// When the recorder is already out ([`CatalogError::Invalid`]) or the write fails.
    pub fn check_out(&mut self, c: &CheckOut<'_>) -> Result<i64, CatalogError> {
        if c.officer_id.trim().is_empty() || c.officer_id.chars().any(char::is_control) {
            return Err(CatalogError::Invalid(format!(
                "officer {:?} is empty or has control characters",
                c.officer_id
            )));
        }
        let user = self.actor.user.clone();
        let tx = begin(&mut self.conn)?;
        if let Some(b) = open_binding(&tx, c.serial)? {
            return Err(CatalogError::Invalid(format!(
                "recorder {} is already out to officer {} (binding #{}); it is checked in by docking it / 记录仪已被领用，接入即归还",
                c.serial, b.1, b.0
            )));
        }
        tx.execute(
            "INSERT INTO duty_bindings (serial, officer_id, officer_name, shift, out_at, out_by, health, warned)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                c.serial,
                c.officer_id,
                c.officer_name,
                c.shift,
                Utc::now().to_rfc3339(),
                user,
                c.health.to_string(),
                c.warned
            ],
        )
        .map_err(sql("recording the check-out"))?;
        let id = tx.last_insert_rowid();
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::DutyCheckedOut,
            format!("device:{}", c.serial),
            json!({
                "binding": id, "serial": c.serial, "officer_id": c.officer_id, "officer_name": c.officer_name,
                "shift": c.shift, "health": c.health, "warned": c.warned,
            }),
        )?;
        tx.commit().map_err(sql("commit check-out"))?;
        Ok(id)
    }

    /// The open binding of `serial`: (binding, officer).
    ///
    /// # Errors
    /// When the query fails.
    pub fn open_binding(&self, serial: &str) -> Result<Option<(i64, String)>, CatalogError> {
        open_binding(&self.conn, serial)
    }

    /// Bindings, oldest first; `open_only`: those in force.
    ///
    /// # Errors
    /// When the query fails.
    pub fn bindings(&self, open_only: bool) -> Result<Vec<Binding>, CatalogError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, serial, officer_id, officer_name, shift, out_at, in_at, in_docking, warned
                 FROM duty_bindings WHERE (?1 = 0 OR in_at IS NULL) ORDER BY id",
            )
            .map_err(sql("listing duty bindings"))?;
        let rows: Vec<BindingRow> = st
            .query_map(params![open_only], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
            })
            .map_err(sql("listing duty bindings"))?
            .collect::<Result<_, _>>()
            .map_err(sql("listing duty bindings"))?;
        rows.into_iter()
            .map(|(id, serial, officer, officer_name, shift, out_at, in_at, in_docking, warned)| {
                let returned = match (in_at, in_docking) {
                    (Some(t), Some(d)) => Some((time(&t)?, d)),
                    _ => None,
                };
                Ok(Binding { id, serial, officer, officer_name, shift, out_at: time(&out_at)?, returned, warned })
            })
            .collect()
    }

    /// Records an officer's return to the unit after remote work, with its event.
    ///
    /// # Errors
    /// On an empty officer number, or when the write fails.
    pub fn record_return(&mut self, officer: &str, at: NaiveDateTime, note: Option<&str>) -> Result<i64, CatalogError> {
        if officer.trim().is_empty() || officer.chars().any(char::is_control) {
            return Err(CatalogError::Invalid(format!("officer {officer:?} is empty or has control characters")));
        }
        let user = self.actor.user.clone();
        let tx = begin(&mut self.conn)?;
        tx.execute(
            "INSERT INTO duty_returns (officer_id, returned_at, note, recorded_by, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![officer, wall(&at), note, user, Utc::now().to_rfc3339()],
        )
        .map_err(sql("recording a return"))?;
        let id = tx.last_insert_rowid();
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::DutyReturnRecorded,
            format!("officer:{officer}"),
            json!({ "return": id, "officer_id": officer, "returned_at": wall(&at), "note": note }),
        )?;
        tx.commit().map_err(sql("commit return"))?;
        Ok(id)
    }

    /// Every recorded return.
    ///
    /// # Errors
    /// When the query fails.
    pub fn returns(&self) -> Result<Vec<Return>, CatalogError> {
        let mut st = self
            .conn
            .prepare("SELECT officer_id, returned_at FROM duty_returns ORDER BY id")
            .map_err(sql("listing returns"))?;
        let rows: Vec<(String, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql("listing returns"))?
            .collect::<Result<_, _>>()
            .map_err(sql("listing returns"))?;
        rows.into_iter()
            .map(|(officer, at)| {
                let at = crate::recorder::format::parse_wall(0, "returned_at", &at).map_err(|_| {
                    CatalogError::Invalid(format!("catalogue return time {at:?} is not a station time"))
                })?;
                Ok(Return { officer, at })
            })
            .collect()
    }

    /// Requests an extension of binding `binding`'s handover deadline to `until`.
    ///
    /// # Errors
    /// On an unknown binding, an empty reason, or when the write fails.
    pub fn request_extension(&mut self, binding: i64, until: DateTime<Utc>, reason: &str) -> Result<i64, CatalogError> {
        if reason.trim().is_empty() {
            return Err(CatalogError::Invalid("a reason is required / 须说明理由".into()));
        }
        let user = self.actor.user.clone();
        let tx = begin(&mut self.conn)?;
        let serial: Option<String> = tx
            .query_row("SELECT serial FROM duty_bindings WHERE id = ?1", params![binding], |r| r.get(0))
            .optional()
            .map_err(sql("looking up a binding"))?;
        let Some(serial) = serial else {
            return Err(CatalogError::Invalid(format!("no duty binding #{binding} / 无此领用记录")));
        };
        tx.execute(
            "INSERT INTO duty_extensions (binding_id, until, reason, requested_by, requested_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![binding, until.to_rfc3339(), reason, user, Utc::now().to_rfc3339()],
        )
        .map_err(sql("requesting an extension"))?;
        let id = tx.last_insert_rowid();
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::HandoverExtensionRequested,
            format!("device:{serial}"),
            json!({ "extension": id, "binding": binding, "until": until.to_rfc3339(), "reason": reason }),
        )?;
        tx.commit().map_err(sql("commit extension request"))?;
        Ok(id)
    }

    /// Approves extension `id`, not by its requester (the caller checked the approver is one
    /// the configuration names; INV-27).
    ///
    /// # Errors
    /// When it does not exist, is already approved, was asked by the same person, or the
    /// write fails.
    pub fn approve_extension(&mut self, id: i64) -> Result<ExtensionRow, CatalogError> {
        let user = self.actor.user.clone();
        let tx = begin(&mut self.conn)?;
        let row = extension(&tx, id)?
            .ok_or_else(|| CatalogError::Invalid(format!("no handover extension #{id} / 无此延期申请")))?;
        if row.extension.approved_by.is_some() {
            return Err(CatalogError::Invalid(format!("extension #{id} is already approved / 已批准")));
        }
        if row.requested_by == user {
            return Err(CatalogError::Invalid(format!(
                "extension #{id} was requested by {user}: someone else approves it / 申请人不得自行批准"
            )));
        }
        tx.execute(
            "UPDATE duty_extensions SET approved_by = ?2, approved_at = ?3 WHERE id = ?1",
            params![id, user, Utc::now().to_rfc3339()],
        )
        .map_err(sql("approving an extension"))?;
        let serial: String = tx
            .query_row("SELECT serial FROM duty_bindings WHERE id = ?1", params![row.extension.binding], |r| r.get(0))
            .map_err(sql("looking up a binding"))?;
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::HandoverExtensionApproved,
            format!("device:{serial}"),
            json!({
                "extension": id, "binding": row.extension.binding, "until": row.extension.until.to_rfc3339(),
                "requested_by": row.requested_by,
            }),
        )?;
        tx.commit().map_err(sql("commit extension approval"))?;
        Ok(row)
    }

    /// Every extension, pending and approved.
    ///
    /// # Errors
    /// When the query fails.
    pub fn extensions(&self) -> Result<Vec<ExtensionRow>, CatalogError> {
        let ids: Vec<i64> = {
            let mut st =
                self.conn.prepare("SELECT id FROM duty_extensions ORDER BY id").map_err(sql("listing extensions"))?;
            let v = st
                .query_map([], |r| r.get(0))
                .map_err(sql("listing extensions"))?
                .collect::<Result<_, _>>()
                .map_err(sql("listing extensions"))?;
            v
        };
        let mut out = Vec::new();
        for id in ids {
            out.extend(extension(&self.conn, id)?);
        }
        Ok(out)
    }
}

fn open_binding(conn: &rusqlite::Connection, serial: &str) -> Result<Option<(i64, String)>, CatalogError> {
    conn.query_row(
        "SELECT id, officer_id FROM duty_bindings WHERE serial = ?1 AND in_at IS NULL",
        params![serial],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(sql("looking up the duty binding"))
}

fn extension(conn: &rusqlite::Connection, id: i64) -> Result<Option<ExtensionRow>, CatalogError> {
    let row: Option<(i64, String, String, String, Option<String>)> = conn
        .query_row(
            "SELECT binding_id, until, reason, requested_by, approved_by FROM duty_extensions WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()
        .map_err(sql("looking up an extension"))?;
    row.map(|(binding, until, reason, requested_by, approved_by)| {
        Ok(ExtensionRow {
            extension: Extension { id, binding, until: time(&until)?, approved_by },
            reason,
            requested_by,
        })
    })
    .transpose()
}

/// Every duty check-out, station-local (for naming officers on labels).
///
/// # Errors
/// When the catalogue cannot be read.
pub fn duty_spans(
    conn: &rusqlite::Connection,
    tz: chrono_tz::Tz,
) -> Result<Vec<crate::archive::casefolder::DutySpan>, CatalogError> {
    let doing = "reading duty check-outs";
    let local = |s: String| chrono::DateTime::parse_from_rfc3339(&s).ok().map(|t| t.with_timezone(&tz).naive_local());
    let mut st = conn
        .prepare("SELECT serial, officer_id, officer_name, out_at, in_at FROM duty_bindings ORDER BY id")
        .map_err(sql(doing))?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })
        .map_err(sql(doing))?;
    let mut out = Vec::new();
    for row in rows {
        let (serial, officer, name, out_at, in_at) = row.map_err(sql(doing))?;
        if let Some(from) = local(out_at) {
            out.push(crate::archive::casefolder::DutySpan { serial, officer, name, from, to: in_at.and_then(local) });
        }
    }
    Ok(out)
}
