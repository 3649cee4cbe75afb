//! `log_query`, `log_tail`: reading the custody log (R4, R11, R13). Read-only: no custody
//! event is written for a read, as on the command line before.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiError, Ctx};
use crate::custody::event::{canonical_json, StoredEvent};
use crate::custody::query::{self, Filter};
use crate::custody::store;

/// The most events one page or tail may ask for.
pub const MAX_PAGE: u64 = 10_000;

/// `log_tail`: the last events of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailArgs {
    /// How many (at most [`MAX_PAGE`]).
    #[serde(default = "default_tail")]
    pub n: u64,
}

fn default_tail() -> u64 {
    20
}

/// Who acted, as the event records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventActor {
    /// The user (an operating-system user, `account:NAME`, or the service's own name).
    pub user: String,
    /// The role acted in (`archivist`).
    pub role: String,
    /// The officer number, when the actor has one.
    pub officer: Option<String>,
}

/// One custody event, as stored (the `log tail --json` shape, docs/CUSTODY-LOG.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log.
    pub seq: u64,
    /// UTC, RFC 3339 with milliseconds.
    pub ts_utc: String,
    /// The same instant in station time.
    pub ts_local: String,
    /// Who acted.
    pub actor: EventActor,
    /// The action's stable name.
    pub action: String,
    /// Its Chinese name, when this version knows the action.
    pub action_zh: Option<String>,
    /// What it acted on (`case:NUMBER`, `file:SERIAL/PATH`).
    pub subject: String,
    /// The details object (the stored text itself, as a string, when it is not JSON: a
    /// tampered row is shown, never hidden).
    pub details: Value,
    /// The previous event's hash, hex.
    pub prev_hash: String,
    /// This event's hash, hex.
    pub hash: String,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl From<&StoredEvent> for Event {
    fn from(ev: &StoredEvent) -> Event {
        Event {
            seq: ev.seq,
            ts_utc: ev.ts_utc.clone(),
            ts_local: ev.ts_local.clone(),
            actor: EventActor {
                user: ev.actor_user.clone(),
                role: ev.actor_role.clone(),
                officer: ev.actor_officer.clone(),
            },
            action: ev.action.clone(),
            action_zh: ev.known_action().map(|a| a.label_zh().to_string()),
            subject: ev.subject.clone(),
            details: serde_json::from_str(&ev.details).unwrap_or_else(|_| Value::String(ev.details.clone())),
            prev_hash: hex(&ev.prev_hash),
            hash: hex(&ev.hash),
        }
    }
}

impl Event {
    /// The event as stored, for a front end's renderers: the details back in their canonical
    /// text (the stored text itself when it was not a JSON object), hashes from hex (zero when
    /// a reply's hex is malformed).
    pub fn to_stored(&self) -> StoredEvent {
        let details = match &self.details {
            Value::Object(m) => canonical_json(m).unwrap_or_else(|_| self.details.to_string()),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        StoredEvent {
            seq: self.seq,
            ts_utc: self.ts_utc.clone(),
            ts_local: self.ts_local.clone(),
            actor_user: self.actor.user.clone(),
            actor_role: self.actor.role.clone(),
            actor_officer: self.actor.officer.clone(),
            action: self.action.clone(),
            subject: self.subject.clone(),
            details,
            prev_hash: unhex(&self.prev_hash).unwrap_or([0; 32]),
            hash: unhex(&self.hash).unwrap_or([0; 32]),
        }
    }
}

/// A page of a query: its events, oldest first, and where the next page starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// The events.
    pub events: Vec<Event>,
    /// The `after` of the next page, when the page is full (more may follow); `None` when
    /// this is the last.
    pub next_after: Option<u64>,
}

fn read_only(ctx: &Ctx<'_>) -> Result<rusqlite::Connection, ApiError> {
    store::open_read_only(&ctx.config.catalog_path())
        .map_err(|e| ApiError::failed(format!("the custody log cannot be read: {e} / 无法读取保管日志")))
}

/// The events a filter selects, a page at a time (`limit` at most [`MAX_PAGE`]).
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for a filter that is not understood (an unknown action, a
/// time that is not one) or a page too large; `failed` when the log cannot be read.
pub fn query(ctx: &Ctx<'_>, filter: &Filter) -> Result<Page, ApiError> {
    if filter.limit == 0 || filter.limit > MAX_PAGE {
        return Err(ApiError::invalid(format!(
            "limit {}: a page holds 1 to {MAX_PAGE} events / 每页条数须在 1 至 {MAX_PAGE} 之间",
            filter.limit
        )));
    }
    let conn = read_only(ctx)?;
    let events = query::query(&conn, filter, ctx.config.timezone)
        .map_err(|e| ApiError::invalid(format!("{e:#} / 查询条件不正确")))?;
    let next_after = if events.len() as u64 == filter.limit { events.last().map(|e| e.seq) } else { None };
    Ok(Page { events: events.iter().map(Event::from).collect(), next_after })
}

/// The last `n` events, oldest first.
///
/// # Errors
/// `invalid` for `n` over [`MAX_PAGE`]; `failed` when the log cannot be read.
pub fn tail(ctx: &Ctx<'_>, args: &TailArgs) -> Result<Vec<Event>, ApiError> {
    if args.n > MAX_PAGE {
        return Err(ApiError::invalid(format!("n {}: at most {MAX_PAGE} events / 最多 {MAX_PAGE} 条", args.n)));
    }
    let conn = read_only(ctx)?;
    let events = store::tail(&conn, usize::try_from(args.n).unwrap_or(usize::MAX))
        .map_err(|e| ApiError::failed(format!("the custody log cannot be read: {e} / 无法读取保管日志")))?;
    Ok(events.iter().map(Event::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_go_to_the_wire_and_back_to_the_stored_text() {
        let stored = StoredEvent {
            seq: 7,
            ts_utc: "2024-05-01T08:30:00.125Z".into(),
            ts_local: "2024-05-01T16:30:00.125+08:00".into(),
            actor_user: "account:zhang".into(),
            actor_role: "officer".into(),
            actor_officer: Some("012345".into()),
            action: "footage_described".into(),
            subject: "case:宜卫罚〔2025〕3号".into(),
            details: r#"{"place":"城关镇","subject":"张三"}"#.into(),
            prev_hash: [1; 32],
            hash: [0xab; 32],
        };
        let ev = Event::from(&stored);
        assert_eq!(ev.details["place"], "城关镇");
        assert!(ev.action_zh.is_some());
        let back: Event = serde_json::from_str(&serde_json::to_string(&ev).unwrap()).unwrap();
        assert_eq!(back.to_stored(), stored);
        // A tampered, non-JSON details text comes through as it is stored.
        let tampered = StoredEvent { details: "not {json".into(), ..stored.clone() };
        assert_eq!(Event::from(&tampered).to_stored(), tampered);
        assert_eq!(unhex("zz"), None);
    }
}
