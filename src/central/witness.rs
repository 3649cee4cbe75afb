//! The store as witness. Checkpoints leave the station the moment they are signed; the
//! bucket's Object Lock keeps every one. On start, and before each new checkpoint is signed,
//! the station compares its own log with the latest checkpoint the store holds for it: a state
//! folder restored from an old backup (rolled back), a log cut short (truncated), a rewritten
//! log, or a replaced signing key all disagree with it, and the disagreement is an alarm that
//! names what differs (`central_alarm`, the journal, `status`). While it lasts the station
//! signs nothing: a checkpoint signed over such a log would fork the record (INV-12).
//!
//! Owns: the comparison ([`compare`], a function of the local log and one central
//! checkpoint) and the cached latest central checkpoint.
//! Must never: repair anything; it reports.

use std::sync::Mutex;

use rusqlite::Connection;
use serde_json::json;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::custody::checkpoint::{Checkpoint, NoteVerifier};
use crate::custody::store as log;
use crate::custody::CustodyError;

use super::keys;
use super::s3::{S3Error, Store};

/// What disagrees between the station's log and the latest checkpoint the store holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disagreement {
    /// The central checkpoint does not open with this station's verifier key: the key was
    /// replaced (or another station writes under this name).
    KeyReplaced {
        /// The checkpoint id.
        id: u64,
        /// What the signature check said.
        detail: String,
    },
    /// The station has fewer checkpoints than the store: its state was rolled back.
    RolledBack {
        /// The central checkpoint id.
        central_id: u64,
        /// The station's last checkpoint id (0: none).
        local_id: u64,
        /// Events the central checkpoint signs, events the local log holds.
        events: (u64, u64),
    },
    /// The station's log holds fewer events than the central checkpoint signs.
    Truncated {
        /// The central checkpoint's tree size.
        central_size: u64,
        /// Events in the local log.
        local_events: u64,
    },
    /// The station's checkpoint with the same id differs from the central one: the log was
    /// rewritten and signed again.
    Rewritten {
        /// The checkpoint id.
        id: u64,
        /// Sizes (central, local).
        sizes: (u64, u64),
    },
}

impl Disagreement {
    /// A stable one-word name.
    pub fn kind(&self) -> &'static str {
        match self {
            Disagreement::KeyReplaced { .. } => "key_replaced",
            Disagreement::RolledBack { .. } => "rolled_back",
            Disagreement::Truncated { .. } => "truncated",
            Disagreement::Rewritten { .. } => "rewritten",
        }
    }
}

impl std::fmt::Display for Disagreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Disagreement::KeyReplaced { id, detail } => write!(
                f,
                "the central checkpoint #{id} does not verify with this station's key ({detail}): the signing key was \
                 replaced / 中心存储的检查点与本站签名密钥不符：签名密钥已被更换"
            ),
            Disagreement::RolledBack { central_id, local_id, events } => write!(
                f,
                "the store holds checkpoint #{central_id} of this station ({} events), the station's last is #{local_id} \
                 ({} events): its state folder was rolled back / 本站状态已被回退（中心存储有第 {central_id} 号检查点，\
                 本站只到第 {local_id} 号）",
                events.0, events.1
            ),
            Disagreement::Truncated { central_size, local_events } => write!(
                f,
                "the central checkpoint signs {central_size} events, the station's log holds {local_events}: the log was \
                 cut back / 保管日志被截短（中心记录 {central_size} 条，本站 {local_events} 条）"
            ),
            Disagreement::Rewritten { id, sizes } => write!(
                f,
                "the station's checkpoint #{id} (size {}) differs from the central one (size {}): the log was rewritten \
                 and signed again / 保管日志被改写后重新签名",
                sizes.1, sizes.0
            ),
        }
    }
}

/// Compares the local log (`conn`) with the central checkpoint `id` whose signed note is `note`.
///
/// # Errors
/// When the local log cannot be read.
pub fn compare(
    conn: &Connection,
    verifier: &NoteVerifier,
    id: u64,
    note: &str,
) -> Result<Option<Disagreement>, CustodyError> {
    let central = match Checkpoint::open(note, verifier) {
        Ok(c) => c,
        Err(e) => return Ok(Some(Disagreement::KeyReplaced { id, detail: e.to_string() })),
    };
    let events: i64 = conn
        .query_row("SELECT count(*) FROM custody_log", [], |r| r.get(0))
        .map_err(|source| CustodyError::Sqlite { doing: "counting events", source })?;
    let local = log::checkpoints(conn)?;
    let local_last = local.last().map_or(0, |c| c.id);
    match local.iter().find(|c| c.id == id) {
        None => Ok(Some(Disagreement::RolledBack {
            central_id: id,
            local_id: local_last,
            events: (central.size, events as u64),
        })),
        Some(_) if (events as u64) < central.size => {
            Ok(Some(Disagreement::Truncated { central_size: central.size, local_events: events as u64 }))
        }
        Some(c) if c.note != note => Ok(Some(Disagreement::Rewritten { id, sizes: (central.size, c.tree_size) })),
        Some(_) => Ok(None),
    }
}

/// The latest checkpoint the store holds for `station`: (id, note).
///
/// # Errors
/// When the store cannot be asked.
pub fn latest_central(store: &Store, station: &str) -> Result<Option<(u64, String)>, S3Error> {
    let keys_found = store.list(&keys::checkpoints_prefix(station))?;
    let Some((key, id)) =
        keys_found.iter().filter_map(|(k, _, _)| keys::checkpoint_id(k).map(|id| (k, id))).max_by_key(|(_, id)| *id)
    else {
        return Ok(None);
    };
    Ok(store.get(key)?.map(|b| (id, String::from_utf8_lossy(&b).into_owned())))
}

/// The station's witness state, shared by the replicator (which learns the latest central
/// checkpoint) and the signing path (which asks before each checkpoint).
#[derive(Debug, Default)]
pub struct Witness {
    central: Mutex<Option<(u64, String)>>,
    disagreement: Mutex<Option<Disagreement>>,
}

impl Witness {
    /// Records the latest checkpoint the store confirmed.
    pub fn set_central(&self, id: u64, note: String) {
        let mut c = self.central.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if c.as_ref().is_none_or(|(old, _)| id >= *old) {
            *c = Some((id, note));
        }
    }

    /// The disagreement found last, if any.
    pub fn disagreement(&self) -> Option<Disagreement> {
        self.disagreement.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn verifier(config: &Config) -> Option<NoteVerifier> {
        let paths = crate::custody::files::KeyPaths::in_dir(&config.paths.state_dir);
        crate::custody::files::load_verifier(&paths.verifier).ok()
    }

    /// On start: fetch the latest central checkpoint and compare. A disagreement is logged
    /// (`central_alarm`) and kept; the store unreachable is a warning (checked again before
    /// each signing against what the store last confirmed).
    pub fn check_on_start(&self, store: &Store, config: &Config, catalog: &Mutex<Catalog>) {
        match latest_central(store, &config.station_name) {
            Ok(Some((id, note))) => {
                self.set_central(id, note);
                let _ = self.check(config, catalog, "start");
            }
            Ok(None) => tracing::info!("the central store holds no checkpoint of this station yet"),
            Err(e) => tracing::warn!(error = %e, "the store as witness could not be asked on start"),
        }
    }

    /// Compares the local log with the latest central checkpoint known. `Err` names the
    /// disagreement (raised as an alarm and a `central_alarm` event the first time).
    ///
    /// # Errors
    /// The disagreement.
    pub fn check(&self, config: &Config, catalog: &Mutex<Catalog>, when: &str) -> Result<(), Disagreement> {
        let Some((id, note)) = self.central.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone() else {
            return Ok(());
        };
        let Some(verifier) = Witness::verifier(config) else {
            let d = Disagreement::KeyReplaced { id, detail: "the station has no verifier key".into() };
            self.raise(catalog, &d, when);
            return Err(d);
        };
        let found = {
            let c = catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            compare(c.connection(), &verifier, id, &note)
        };
        match found {
            Ok(None) => {
                *self.disagreement.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                let mut c = catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if c.central_state("witness").ok().flatten().is_some_and(|s| !s.is_empty()) {
                    let _ = c.set_central_state("witness", "");
                }
                Ok(())
            }
            Ok(Some(d)) => {
                self.raise(catalog, &d, when);
                Err(d)
            }
            Err(e) => {
                tracing::error!(error = %e, "the store as witness: the local log cannot be read");
                Ok(())
            }
        }
    }

    fn raise(&self, catalog: &Mutex<Catalog>, d: &Disagreement, when: &str) {
        let mut slot = self.disagreement.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tracing::error!("ALARM: the central store disagrees with this station's custody log: {d}");
        if slot.as_ref() != Some(d) {
            let mut c = catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = c.central_alarm(
                "central:witness",
                json!({ "what": "witness", "disagreement": d.kind(), "detail": d.to_string(), "when": when }),
            );
            let _ = c.set_central_state("witness", &d.to_string());
        }
        *slot = Some(d.clone());
    }
}
