//! Off the station: every archived file and the custody log kept in a central S3 bucket with
//! Object Lock (write once, read many, enforced by the store; Ceph's RADOS Gateway is the open
//! one a bureau runs itself).
//!
//! - [`sigv4`]: AWS Signature Version 4 (pure, pinned by AWS's published examples).
//! - [`xml`]: the few S3 XML documents, read and written (pure).
//! - [`keys`]: the bucket's layout and the custody log's wire form there (pure).
//! - [`config`]: `[central]`, all optional, and the credentials file.
//! - [`s3`]: the HTTP edge, one bucket, blocking (`ureq`).
//! - [`replicate`]: the outbox driven into the store, proofs, locks following deadlines and
//!   holds; the daemon's thread.
//! - [`evict`]: which local copies may go once their central copy is proven (pure, INV-20).
//! - [`offload`]: eviction and recall at the edge: each choice proved again against the
//!   custody log and the store's object version before a local name is removed; recall reads
//!   that version back and checks the logged hash.
//! - [`witness`]: the store as witness of the station's log.
//! - [`audit`]: `central verify`, the auditor's offline check of a whole bucket.
//!
//! Owns: everything the station says to the central store.
//! Must never: delete or overwrite an object, shorten a lock (INV-11), count a file as off
//! the station before the store has proven it (INV-18), or slow ingest: it runs on its own
//! thread, and a store that is down only grows the backlog.

pub mod audit;
pub mod config;
pub mod evict;
pub mod keys;
pub mod offload;
pub mod replicate;
pub mod s3;
pub mod sigv4;
pub mod witness;
pub mod xml;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::json;

pub use config::Central;

use crate::catalog::Catalog;
use crate::config::Config as StationConfig;

/// The store client for `[central]`, with the station's pace.
///
/// # Errors
/// When the credentials cannot be read (named, with what to do).
pub fn open_store(central: &Central) -> Result<s3::Store, String> {
    let credentials = config::load_credentials(&central.credentials)?;
    let pace = (central.bandwidth > 0).then(|| Arc::new(s3::Pace::new(central.bandwidth)));
    Ok(s3::Store::new(
        s3::Endpoint {
            url: central.endpoint.clone(),
            bucket: central.bucket.clone(),
            region: central.region.clone(),
            credentials,
        },
        pace,
    ))
}

/// How old the backlog is: seconds since the oldest file not yet off the station was archived.
pub fn backlog_age(backlog: &crate::catalog::Backlog, now: DateTime<Utc>) -> Option<i64> {
    backlog
        .oldest_recorded
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| (now - t.with_timezone(&Utc)).num_seconds().max(0))
}

/// Raises the backlog alarm once when the oldest file still on the station alone is older than
/// `central.backlog_alarm_minutes` (journal and `central_alarm`), and clears it when it drains.
pub fn backlog_alarm(config: &StationConfig, catalog: &Mutex<Catalog>) {
    let Some(central) = &config.central else { return };
    let mut c = catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Ok(b) = c.central_backlog() else { return };
    let age = backlog_age(&b, Utc::now()).unwrap_or(0);
    let raised = c.central_state("backlog_alarm").ok().flatten().is_some_and(|s| !s.is_empty());
    if age > central.backlog_alarm_s as i64 {
        tracing::error!(
            pending = b.pending,
            age_s = age,
            oldest = b.oldest_footage.as_deref().unwrap_or(""),
            "ALARM: footage has waited more than {} min for the central store / 录像超过 {} 分钟未存入中心存储",
            central.backlog_alarm_s / 60,
            central.backlog_alarm_s / 60
        );
        if !raised {
            let _ = c.central_alarm(
                "central:backlog",
                json!({ "what": "backlog", "pending": b.pending, "pending_bytes": b.pending_bytes, "age_s": age,
                        "oldest": b.oldest_footage, "last_error": b.last_error }),
            );
            let _ = c.set_central_state("backlog_alarm", &Utc::now().to_rfc3339());
        }
    } else if raised {
        let _ = c.set_central_state("backlog_alarm", "");
    }
}

/// The hook of the signing path: the store as witness, before a checkpoint is signed. `false`
/// (and an alarm naming the disagreement) when the local log disagrees with the latest
/// checkpoint the store holds; `true` without `[central]` or while nothing disagrees.
pub fn may_sign(config: &StationConfig, catalog: &Mutex<Catalog>, witness: &witness::Witness) -> bool {
    if config.central.is_none() {
        return true;
    }
    match witness.check(config, catalog, "before signing") {
        Ok(()) => true,
        Err(d) => {
            tracing::error!("ALARM: no checkpoint signed: {d}");
            false
        }
    }
}
