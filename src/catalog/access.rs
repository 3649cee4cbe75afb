//! Access in the catalogue (R9, R10): confidentiality marks, access requests, informants.
//! The rules are in [`crate::access`]; this module only reads and writes rows, each change
//! with its custody event.
//!
//! Informants' names (举报人) live in `case_informants` only: no custody event, report or
//! export ever carries them (an event says that an informant was recorded, not who).

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde_json::json;

use crate::access::{AccessRequest, Kind, Mark, Party, Scope, State};
use crate::custody::event::Action;

use super::store::{append, begin, sql, Catalog, CatalogError};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS confidentiality (
    id            INTEGER PRIMARY KEY,
    subject       TEXT NOT NULL,
    level         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    set_by        TEXT NOT NULL,
    set_at        TEXT NOT NULL,
    cleared_by    TEXT,
    cleared_at    TEXT,
    cleared_why   TEXT
);
CREATE TABLE IF NOT EXISTS access_requests (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL,
    scope         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    party         TEXT NOT NULL,
    party_name    TEXT,
    requested_by  TEXT NOT NULL,
    requested_at  TEXT NOT NULL,
    marks         TEXT NOT NULL,
    state         TEXT NOT NULL,
    decided_by    TEXT,
    decided_at    TEXT,
    decision_why  TEXT,
    valid_until   TEXT,
    used_by       TEXT,
    used_at       TEXT,
    expired_at    TEXT
);
CREATE TABLE IF NOT EXISTS case_informants (
    id            INTEGER PRIMARY KEY,
    case_number   TEXT NOT NULL,
    name          TEXT NOT NULL,
    added_by      TEXT NOT NULL,
    added_at      TEXT NOT NULL
);
"#;

fn scope_text(s: &Scope) -> String {
    match s {
        Scope::Case(c) => json!({ "case": c }).to_string(),
        Scope::Recordings(r) => json!({ "recordings": r }).to_string(),
    }
}

fn scope_of(text: &str) -> Scope {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    match v.get("case").and_then(|c| c.as_str()) {
        Some(c) => Scope::Case(c.to_string()),
        None => Scope::Recordings(
            v.get("recordings")
                .and_then(|r| r.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
        ),
    }
}

fn time(s: Option<String>) -> DateTime<Utc> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok()).map_or(DateTime::<Utc>::MIN_UTC, |t| t.with_timezone(&Utc))
}

/// The custody subject of a request.
pub fn request_subject(id: i64) -> String {
    format!("access:{id}")
}

impl Catalog {
    /// Active confidentiality marks on `subject` (`case:NUMBER` or `recording:ID`).
    ///
    /// # Errors
    /// When the read fails.
    pub fn marks(&self, subject: &str) -> Result<Vec<(i64, Mark)>, CatalogError> {
        let mut st = self
            .conn
            .prepare("SELECT id, level FROM confidentiality WHERE subject = ?1 AND cleared_at IS NULL ORDER BY id")
            .map_err(sql("reading marks"))?;
        let rows = st
            .query_map(params![subject], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(sql("reading marks"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql("reading marks"))?;
        Ok(rows.into_iter().filter_map(|(id, l)| Mark::parse(&l).map(|m| (id, m))).collect())
    }

    /// Marks `subject` confidential (R10).
    ///
    /// # Errors
    /// When the write fails.
    pub fn set_mark(&mut self, subject: &str, mark: Mark, reason: &str) -> Result<i64, CatalogError> {
        let tx = begin(&mut self.conn)?;
        tx.execute(
            "INSERT INTO confidentiality (subject, level, reason, set_by, set_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![subject, mark.as_str(), reason, self.actor.user, Utc::now().to_rfc3339()],
        )
        .map_err(sql("marking"))?;
        let id = tx.last_insert_rowid();
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::ConfidentialityMarked,
            subject.to_string(),
            json!({ "mark": id, "level": mark.as_str(), "reason": reason }),
        )?;
        tx.commit().map_err(sql("commit mark"))?;
        Ok(id)
    }

    /// Clears a mark, with the reason.
    ///
    /// # Errors
    /// When there is no such active mark, or the write fails.
    pub fn clear_mark(&mut self, id: i64, reason: &str) -> Result<(), CatalogError> {
        let tx = begin(&mut self.conn)?;
        let subject: Option<String> = tx
            .query_row("SELECT subject FROM confidentiality WHERE id = ?1 AND cleared_at IS NULL", params![id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql("reading a mark"))?;
        let Some(subject) = subject else {
            return Err(CatalogError::Invalid(format!("no active confidentiality mark #{id}")));
        };
        tx.execute(
            "UPDATE confidentiality SET cleared_by = ?2, cleared_at = ?3, cleared_why = ?4 WHERE id = ?1",
            params![id, self.actor.user, Utc::now().to_rfc3339(), reason],
        )
        .map_err(sql("clearing a mark"))?;
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::ConfidentialityCleared,
            subject,
            json!({ "mark": id, "reason": reason }),
        )?;
        tx.commit().map_err(sql("commit mark"))
    }

    /// Records an informant (举报人) of a case. The custody event says that one was recorded,
    /// never the name.
    ///
    /// # Errors
    /// When the write fails.
    pub fn add_informant(&mut self, case: &str, name: &str) -> Result<(), CatalogError> {
        let tx = begin(&mut self.conn)?;
        tx.execute(
            "INSERT INTO case_informants (case_number, name, added_by, added_at) VALUES (?1, ?2, ?3, ?4)",
            params![case, name, self.actor.user, Utc::now().to_rfc3339()],
        )
        .map_err(sql("recording an informant"))?;
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::CaseLabelled,
            format!("case:{case}"),
            json!({ "informant_recorded": true }),
        )?;
        tx.commit().map_err(sql("commit informant"))
    }

    /// Stores a new request with its event.
    ///
    /// # Errors
    /// When the write fails.
    pub fn insert_access(&mut self, r: &AccessRequest) -> Result<i64, CatalogError> {
        let marks: Vec<&str> = r.marks.iter().map(|m| m.as_str()).collect();
        let tx = begin(&mut self.conn)?;
        tx.execute(
            "INSERT INTO access_requests (kind, scope, reason, party, party_name, requested_by, requested_at, marks, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending')",
            params![
                r.kind.as_str(),
                scope_text(&r.scope),
                r.reason,
                r.party.as_str(),
                r.party_name,
                r.requested_by,
                r.requested_at.to_rfc3339(),
                json!(marks).to_string()
            ],
        )
        .map_err(sql("requesting access"))?;
        let id = tx.last_insert_rowid();
        let scope: serde_json::Value = serde_json::from_str(&scope_text(&r.scope)).unwrap_or_default();
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::AccessRequested,
            request_subject(id),
            json!({
                "kind": r.kind.as_str(), "scope": scope, "reason": r.reason, "party": r.party.as_str(),
                "party_name": r.party_name, "marks": marks,
            }),
        )?;
        tx.commit().map_err(sql("commit access request"))?;
        Ok(id)
    }

    /// One request.
    ///
    /// # Errors
    /// When there is none with that id.
    pub fn access(&self, id: i64) -> Result<AccessRequest, CatalogError> {
        self.accesses(Some(id))?
            .pop()
            .ok_or_else(|| CatalogError::Invalid(format!("no access request #{id} (see `evidock access list`)")))
    }

    /// Every request (or the one with `only`), oldest first.
    ///
    /// # Errors
    /// When the read fails.
    pub fn accesses(&self, only: Option<i64>) -> Result<Vec<AccessRequest>, CatalogError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, kind, scope, reason, party, party_name, requested_by, requested_at, marks, state,
                        decided_by, decided_at, decision_why, valid_until, used_by, used_at, expired_at
                 FROM access_requests WHERE ?1 IS NULL OR id = ?1 ORDER BY id",
            )
            .map_err(sql("reading access requests"))?;
        let rows = st
            .query_map(params![only], |r| {
                let state: String = r.get(9)?;
                let decided_by: Option<String> = r.get(10)?;
                let decided_at = time(r.get(11)?);
                let state = match state.as_str() {
                    "approved" => {
                        State::Approved { by: decided_by.unwrap_or_default(), at: decided_at, until: time(r.get(13)?) }
                    }
                    "denied" => State::Denied {
                        by: decided_by.unwrap_or_default(),
                        at: decided_at,
                        reason: r.get::<_, Option<String>>(12)?.unwrap_or_default(),
                    },
                    "used" => {
                        State::Used { by: r.get::<_, Option<String>>(14)?.unwrap_or_default(), at: time(r.get(15)?) }
                    }
                    "expired" => State::Expired { at: time(r.get(16)?) },
                    "voided" => State::Voided {
                        at: time(r.get(16)?),
                        reason: r.get::<_, Option<String>>(12)?.unwrap_or_default(),
                    },
                    _ => State::Pending,
                };
                let marks: Vec<String> = serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or_default();
                Ok(AccessRequest {
                    id: r.get(0)?,
                    kind: Kind::parse(&r.get::<_, String>(1)?).unwrap_or(Kind::View),
                    scope: scope_of(&r.get::<_, String>(2)?),
                    reason: r.get(3)?,
                    party: Party::parse(&r.get::<_, String>(4)?).unwrap_or(Party::Other),
                    party_name: r.get(5)?,
                    requested_by: r.get(6)?,
                    requested_at: time(r.get(7)?),
                    marks: marks.iter().filter_map(|m| Mark::parse(m)).collect(),
                    state,
                })
            })
            .map_err(sql("reading access requests"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql("reading access requests"))?;
        Ok(rows)
    }

    /// Stores a request's new state with its event; `details` are added to the event (for a
    /// use: the files, hashes and where they went).
    ///
    /// # Errors
    /// When the write fails.
    pub fn update_access(&mut self, r: &AccessRequest, details: serde_json::Value) -> Result<u64, CatalogError> {
        let tx = begin(&mut self.conn)?;
        let (action, mut ev) = match &r.state {
            State::Approved { by, at, until } => {
                tx.execute(
                    "UPDATE access_requests SET state = 'approved', decided_by = ?2, decided_at = ?3, valid_until = ?4 WHERE id = ?1",
                    params![r.id, by, at.to_rfc3339(), until.to_rfc3339()],
                )
                .map_err(sql("approving access"))?;
                (Action::AccessApproved, json!({ "requested_by": r.requested_by, "valid_until": until.to_rfc3339() }))
            }
            State::Denied { by, at, reason } => {
                tx.execute(
                    "UPDATE access_requests SET state = 'denied', decided_by = ?2, decided_at = ?3, decision_why = ?4 WHERE id = ?1",
                    params![r.id, by, at.to_rfc3339(), reason],
                )
                .map_err(sql("denying access"))?;
                (Action::AccessDenied, json!({ "requested_by": r.requested_by, "reason": reason }))
            }
            State::Expired { at } => {
                tx.execute(
                    "UPDATE access_requests SET state = 'expired', expired_at = ?2 WHERE id = ?1",
                    params![r.id, at.to_rfc3339()],
                )
                .map_err(sql("expiring access"))?;
                (Action::AccessExpired, json!({ "requested_by": r.requested_by }))
            }
            State::Voided { at, reason } => {
                // A void approval keeps its approver; the time goes where a lapse's would, the
                // reason where a denial's would.
                tx.execute(
                    "UPDATE access_requests SET state = 'voided', expired_at = ?2, decision_why = ?3 WHERE id = ?1",
                    params![r.id, at.to_rfc3339(), reason],
                )
                .map_err(sql("voiding access"))?;
                (Action::AccessVoided, json!({ "requested_by": r.requested_by, "reason": reason }))
            }
            State::Used { by, at } => {
                tx.execute(
                    "UPDATE access_requests SET state = 'used', used_by = ?2, used_at = ?3 WHERE id = ?1",
                    params![r.id, by, at.to_rfc3339()],
                )
                .map_err(sql("using access"))?;
                let action = if r.kind == Kind::Export { Action::FootageExported } else { Action::FootageCopied };
                (action, json!({ "requested_by": r.requested_by }))
            }
            State::Pending => {
                return Err(CatalogError::Invalid(format!("access request #{} cannot go back to pending", r.id)))
            }
        };
        if let (Some(ev), Some(extra)) = (ev.as_object_mut(), details.as_object()) {
            for (k, v) in extra {
                ev.insert(k.clone(), v.clone());
            }
        }
        let seq = append(&self.actor, self.tz, &tx, action, request_subject(r.id), ev)?;
        tx.commit().map_err(sql("commit access"))?;
        Ok(seq)
    }
}
