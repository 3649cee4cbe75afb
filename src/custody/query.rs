//! What archivists ask of the custody log: the events a filter selects, a page at a time, in
//! log order, each filter served by an index (R4, R11, R13; INV-39). Read-only.
//!
//! Owns: the filters (`Filter`) and how each is matched against events (below).
//! Must never: write to the database, or read the whole log into memory for a query (filters
//! run in SQL; only the page asked for is read).
//!
//! # What each filter matches
//! Filters combine with AND; within one filter, any of its rules is enough.
//! - `--device S`: subject `device:S`, `usb:S`, `docking:N` for every docking of S, or a
//!   subject starting `file:S/`, `segment:S/`, `session:S/` or `recording:S/`; or
//!   `details.serial = S` (identity read, registration).
//! - `--recording S/SESSION` (or `S/file-ID`): subject `session:S/SESSION` or
//!   `recording:S/SESSION`, and every event touching a file of the recording (as for a case).
//! - `--case NUMBER`: subject `case:NUMBER`, and every event touching a file filed into the
//!   case: its `file:S/SOURCE` subject (copied, wiped), the `segment:` subjects of the segments
//!   it holds (verified, flagged), the `session:` of their sessions (session verified, gaps),
//!   the `recording:` of its recording and the `flag:`/`hold:` rows set on it (retention), the
//!   `docking:N` that brought it in (docked, ingest finished), the `device:S` events of that
//!   docking (identity read, clock drift, wipe), and `footage_assigned` events whose
//!   `details.file` is its id (filing into this or any other case).
//! - `--officer ID`: the actor's officer number is ID, `details.badge` or `details.officer_id`
//!   is ID, or the event belongs to a docking of a recorder carrying badge ID (`docking:N`
//!   subject or `details.docking = N`).
//! - `--actor USER`: the operating-system user; `--action NAME` (repeatable): the stable name.
//! - `--from`/`--to`: RFC 3339 instants (inclusive), or station-local dates `YYYY-MM-DD` or
//!   times `YYYY-MM-DDThh:mm[:ss]` (`--to DATE` includes that whole day), compared with the
//!   stored UTC time.
//! - `--seq-from`/`--seq-to`: inclusive; `--after SEQ --limit N`: the next page.

use std::collections::BTreeSet;

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::custody::event::{Action, StoredEvent};

/// The filters of a query (see the module documentation for what each matches). Filters
/// combine with AND; absent ones do not filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Events of a case and of every file filed into it.
    #[serde(default)]
    pub case: Option<String>,
    /// Events of a recorder.
    #[serde(default)]
    pub device: Option<String>,
    /// Events of an officer: as actor, or of the dockings of the recorder they carry.
    #[serde(default)]
    pub officer: Option<String>,
    /// Events of a recording session (`SERIAL/SESSION`) and its files.
    #[serde(default)]
    pub recording: Option<String>,
    /// Events by a user (an operating-system user, or `account:NAME`).
    #[serde(default)]
    pub actor: Option<String>,
    /// Events with any of these actions (stable names, `segment_wiped`).
    #[serde(default)]
    pub actions: Vec<String>,
    /// From this time on: RFC 3339, or `YYYY-MM-DD` / `YYYY-MM-DDThh:mm[:ss]` in station time.
    #[serde(default)]
    pub from: Option<String>,
    /// Up to this time (a date: the whole day).
    #[serde(default)]
    pub to: Option<String>,
    /// From this sequence number on.
    #[serde(default)]
    pub seq_from: Option<u64>,
    /// Up to this sequence number.
    #[serde(default)]
    pub seq_to: Option<u64>,
    /// At most this many events (a page).
    #[serde(default = "default_limit")]
    pub limit: u64,
    /// Only events after this sequence number (the last one of the previous page).
    #[serde(default)]
    pub after: u64,
}

fn default_limit() -> u64 {
    100
}

impl Default for Filter {
    fn default() -> Filter {
        Filter {
            case: None,
            device: None,
            officer: None,
            recording: None,
            actor: None,
            actions: Vec::new(),
            from: None,
            to: None,
            seq_from: None,
            seq_to: None,
            limit: default_limit(),
            after: 0,
        }
    }
}

/// SQL text with numbered parameters.
#[derive(Default, Clone)]
pub(crate) struct Sql {
    pub(crate) params: Vec<SqlValue>,
}

impl Sql {
    pub(crate) fn p(&mut self, v: impl Into<SqlValue>) -> String {
        self.params.push(v.into());
        format!("?{}", self.params.len())
    }

    /// A JSON array parameter, for `IN (SELECT value FROM json_each(?))`: one parameter
    /// however many values.
    pub(crate) fn set<T: Into<Value> + Clone>(&mut self, items: impl IntoIterator<Item = T>) -> String {
        let arr: Vec<Value> = items.into_iter().map(Into::into).collect();
        format!("(SELECT value FROM json_each({}))", self.p(Value::Array(arr).to_string()))
    }
}

/// A details field, NULL when the details are not JSON (a tampered row never fails a query).
pub(crate) fn detail(key: &str) -> String {
    format!("(CASE WHEN json_valid(details) THEN json_extract(details, '$.{key}') END)")
}

/// What one filter accepts: any of its rules.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    subjects: BTreeSet<String>,
    prefixes: BTreeSet<String>,
    details: Vec<(&'static str, String)>,
    dockings: BTreeSet<i64>,
    device_subjects: BTreeSet<String>,
    device_dockings: BTreeSet<i64>,
    assigned_files: BTreeSet<i64>,
    officer: Option<String>,
}

impl Scope {
    pub(crate) fn sql(&self, q: &mut Sql) -> String {
        let mut terms = Vec::new();
        if !self.subjects.is_empty() {
            terms.push(format!("subject IN {}", q.set(self.subjects.iter().cloned())));
        }
        for p in &self.prefixes {
            // A range rather than LIKE: exact (LIKE ignores ASCII case) and able to use an
            // index on subject.
            terms.push(format!("(subject >= {} AND subject < {})", q.p(p.clone()), q.p(prefix_end(p))));
        }
        for (k, v) in &self.details {
            terms.push(format!("{} = {}", detail(k), q.p(v.clone())));
        }
        if !self.dockings.is_empty() {
            terms.push(format!("{} IN {}", detail("docking"), q.set(self.dockings.iter().copied())));
        }
        if !self.device_subjects.is_empty() && !self.device_dockings.is_empty() {
            terms.push(format!(
                "(subject IN {} AND {} IN {})",
                q.set(self.device_subjects.iter().cloned()),
                detail("docking"),
                q.set(self.device_dockings.iter().copied())
            ));
        }
        if !self.assigned_files.is_empty() {
            terms.push(format!(
                "(action = 'footage_assigned' AND {} IN {})",
                detail("file"),
                q.set(self.assigned_files.iter().copied())
            ));
        }
        if let Some(o) = &self.officer {
            terms.push(format!("actor_officer = {}", q.p(o.clone())));
        }
        if terms.is_empty() {
            "0".to_string()
        } else {
            format!("({})", terms.join(" OR "))
        }
    }

    fn add(&mut self, k: &FileKey) {
        self.subjects.extend(k.subjects.iter().cloned());
        self.device_subjects.insert(format!("device:{}", k.serial));
        self.device_dockings.extend(k.dockings.iter().copied());
        self.assigned_files.insert(k.id);
    }
}

/// The first string after every string that starts with `p` (`p` is not empty).
fn prefix_end(p: &str) -> String {
    let mut s = p.to_string();
    match s.pop() {
        Some(c) => {
            s.push(char::from_u32(c as u32 + 1).unwrap_or(char::MAX));
            s
        }
        None => s,
    }
}

/// Everything that names one archived file in the log.
#[derive(Debug, Clone)]
pub(crate) struct FileKey {
    pub(crate) id: i64,
    pub(crate) serial: String,
    pub(crate) subjects: BTreeSet<String>,
    pub(crate) dockings: BTreeSet<i64>,
    pub(crate) recordings: BTreeSet<String>,
}

impl FileKey {
    pub(crate) fn touches(&self, ev: &StoredEvent, details: &Value) -> bool {
        self.subjects.contains(&ev.subject)
            || (ev.subject.strip_prefix("device:") == Some(self.serial.as_str())
                && details["docking"].as_i64().is_some_and(|d| self.dockings.contains(&d)))
            || (ev.action == Action::FootageAssigned.as_str() && details["file"].as_i64() == Some(self.id))
    }
}

pub(crate) fn file_key(conn: &Connection, id: i64) -> anyhow::Result<Option<FileKey>> {
    let row: Option<(String, String, i64)> = conn
        .query_row("SELECT serial, source, docking_id FROM files WHERE id = ?1", params![id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .context("reading an archived file")?;
    let Some((serial, source, docking)) = row else { return Ok(None) };
    let mut k = FileKey {
        id,
        serial: serial.clone(),
        subjects: BTreeSet::from([format!("file:{serial}/{source}"), format!("docking:{docking}")]),
        dockings: BTreeSet::from([docking]),
        recordings: BTreeSet::new(),
    };
    let mut st = conn
        .prepare_cached("SELECT session, seq, name, docking_id FROM segments WHERE file_id = ?1 ORDER BY id")
        .context("reading segments")?;
    let segs = st
        .query_map(params![id], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<i64>>(1)?.map(crate::catalog::seq_from_sql),
                r.get::<_, Option<String>>(2)?,
                r.get(3)?,
            ))
        })
        .context("reading segments")?
        .collect::<Result<Vec<(Option<String>, Option<u64>, Option<String>, i64)>, _>>()
        .context("reading segments")?;
    for (session, seq, name, d) in &segs {
        match (seq, name) {
            (Some(s), _) => k.subjects.insert(format!("segment:{serial}/{s}")),
            (None, Some(n)) => k.subjects.insert(format!("segment:{serial}/{n}")),
            (None, None) => false,
        };
        if let Some(s) = session {
            k.subjects.insert(format!("session:{serial}/{s}"));
            k.recordings.insert(format!("{serial}/{s}"));
        }
        k.subjects.insert(format!("docking:{d}"));
        k.dockings.insert(*d);
    }
    if k.recordings.is_empty() {
        k.recordings.insert(format!("{serial}/file-{id}"));
    }
    for rec in k.recordings.clone() {
        k.subjects.insert(format!("recording:{rec}"));
        for (table, kind) in [("retention_flags", "flag"), ("holds", "hold")] {
            let mut st = conn
                .prepare_cached(&format!("SELECT id FROM {table} WHERE recording = ?1"))
                .context("reading retention marks")?;
            for id in st.query_map(params![rec], |r| r.get::<_, i64>(0)).context("reading retention marks")? {
                k.subjects.insert(format!("{kind}:{}", id.context("reading retention marks")?));
            }
        }
    }
    Ok(Some(k))
}

fn ids(conn: &Connection, sql: &str, arg: &str) -> anyhow::Result<Vec<i64>> {
    let mut st = conn.prepare(sql).context("reading the catalogue")?;
    let rows = st.query_map(params![arg], |r| r.get::<_, i64>(0)).context("reading the catalogue")?;
    rows.collect::<Result<_, _>>().context("reading the catalogue")
}

pub(crate) fn case_id(conn: &Connection, number: &str) -> anyhow::Result<i64> {
    let number = number.trim();
    conn.query_row("SELECT id FROM cases WHERE number = ?1", params![number], |r| r.get(0))
        .optional()
        .context("looking up a case")?
        .with_context(|| format!("no case {number}: see `evidock case list`"))
}

pub(crate) fn case_scope(conn: &Connection, number: &str) -> anyhow::Result<(Scope, Vec<FileKey>)> {
    let id = case_id(conn, number)?;
    let mut scope = Scope::default();
    scope.subjects.insert(format!("case:{}", number.trim()));
    let mut keys = Vec::new();
    for f in ids(conn, "SELECT file_id FROM case_files WHERE case_id = ?1 ORDER BY path", &id.to_string())? {
        if let Some(k) = file_key(conn, f)? {
            scope.add(&k);
            keys.push(k);
        }
    }
    Ok((scope, keys))
}

pub(crate) fn recording_scope(conn: &Connection, rec: &str) -> anyhow::Result<Scope> {
    let Some((serial, session)) = rec.split_once('/') else {
        bail!("--recording {rec:?}: expected SERIAL/SESSION or SERIAL/file-ID");
    };
    let mut scope = Scope::default();
    scope.subjects.insert(format!("session:{rec}"));
    scope.subjects.insert(format!("recording:{rec}"));
    let files: Vec<i64> = match session.strip_prefix("file-").and_then(|n| n.parse().ok()) {
        Some(id) => vec![id],
        None => {
            let mut st = conn
                .prepare(
                    "SELECT DISTINCT file_id FROM segments WHERE serial = ?1 AND session = ?2 AND file_id IS NOT NULL",
                )
                .context("reading segments")?;
            let rows = st.query_map(params![serial, session], |r| r.get(0)).context("reading segments")?;
            rows.collect::<Result<_, _>>().context("reading segments")?
        }
    };
    for f in files {
        if let Some(k) = file_key(conn, f)? {
            scope.add(&k);
        }
    }
    Ok(scope)
}

/// A time bound in the stored UTC format, and whether it is included.
fn time_bound(s: &str, tz: chrono_tz::Tz, end: bool) -> anyhow::Result<(String, bool)> {
    let s = s.trim();
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok((fmt(t.with_timezone(&Utc)), true));
    }
    let local = |n: NaiveDateTime| -> anyhow::Result<DateTime<Utc>> {
        n.and_local_timezone(tz)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .with_context(|| format!("{s:?} does not exist in the station's time zone {tz}"))
    };
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if end {
            let next = d.succ_opt().with_context(|| format!("{s:?}: no day after it"))?;
            return Ok((fmt(local(next.and_time(NaiveTime::MIN))?), false));
        }
        return Ok((fmt(local(d.and_time(NaiveTime::MIN))?), true));
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return Ok((fmt(local(n)?), true));
        }
    }
    bail!("{s:?}: expected an RFC 3339 time (2024-05-01T08:30:00+08:00), a date (2024-05-01) or a station time (2024-05-01T16:30)")
}

/// The sequence numbers of every event `log query --case` (or `--recording`) would show.
///
/// # Errors
/// When the log cannot be read.
pub(crate) fn event_seqs(
    conn: &Connection,
    case: Option<&str>,
    recording: Option<&str>,
    tz: chrono_tz::Tz,
) -> anyhow::Result<BTreeSet<u64>> {
    let mut args = Filter {
        case: case.map(str::to_string),
        device: None,
        officer: None,
        recording: recording.map(str::to_string),
        actor: None,
        actions: Vec::new(),
        from: None,
        to: None,
        seq_from: None,
        seq_to: None,
        limit: 10_000,
        after: 0,
    };
    let mut out = BTreeSet::new();
    loop {
        let page = query(conn, &args, tz)?;
        let Some(last) = page.last().map(|e| e.seq) else { break };
        out.extend(page.iter().map(|e| e.seq));
        args.after = last;
    }
    Ok(out)
}

/// The events `args` selects, oldest first, after `args.after`, at most `args.limit`.
///
/// # Errors
/// When the log cannot be read or a time bound is not understood.
pub fn query(conn: &Connection, args: &Filter, tz: chrono_tz::Tz) -> anyhow::Result<Vec<StoredEvent>> {
    match query_plan(conn, args, tz)? {
        Plan::One(tail, params) => read_events(conn, &tail, &params),
        Plan::Merge(streams) => {
            let seqs = merge_streams(conn, &streams, args.after, args.limit)?;
            if seqs.is_empty() {
                return Ok(Vec::new());
            }
            let mut q = Sql::default();
            let set = q.set(seqs.iter().map(|&s| clamp(s)));
            read_events(conn, &format!("FROM custody_log WHERE seq IN {set} ORDER BY seq"), &q.params)
        }
    }
}

/// How a query reads the log.
enum Plan {
    /// One statement: `FROM … WHERE … ORDER BY seq LIMIT …` and its parameters.
    One(String, Vec<SqlValue>),
    /// A case's or a recording's rules, each one statement that walks one index in log order
    /// from `?1` (the cursor) and yields at most `?2` seqs: `SELECT seq FROM …`. The streams
    /// are merged by seq ([`merge_streams`]).
    Merge(Vec<(String, Vec<SqlValue>)>),
}

/// The seqs after `after` that any stream yields, in log order, at most `limit`: each stream
/// read a batch at a time from a cursor, so a first page reads about a page per stream, never
/// every match (issue 18).
fn merge_streams(
    conn: &Connection,
    streams: &[(String, Vec<SqlValue>)],
    after: u64,
    limit: u64,
) -> anyhow::Result<Vec<u64>> {
    let batch = limit.clamp(1, 1000);
    let mut out = Vec::new();
    let mut cursor = after;
    loop {
        let mut found = BTreeSet::new();
        // Every seq up to `complete` is known: each stream either ended or read past it.
        let mut complete = u64::MAX;
        for (sql, params) in streams {
            let mut st = conn.prepare_cached(sql).context("querying the custody log")?;
            let mut p = params.clone();
            p[0] = SqlValue::Integer(clamp(cursor));
            p[1] = SqlValue::Integer(clamp(batch));
            let seqs: Vec<i64> = st
                .query_map(rusqlite::params_from_iter(p.iter()), |r| r.get(0))
                .context("querying the custody log")?
                .collect::<Result<_, _>>()
                .context("querying the custody log")?;
            if seqs.len() as u64 == batch {
                complete = complete.min(seqs.last().map_or(0, |&s| s as u64));
            }
            found.extend(seqs.into_iter().map(|s| s as u64));
        }
        for s in found.into_iter().take_while(|&s| s <= complete) {
            out.push(s);
            if out.len() as u64 >= limit {
                return Ok(out);
            }
        }
        if complete == u64::MAX {
            return Ok(out);
        }
        cursor = complete;
    }
}

/// The seqs an event in the time range must lie between: the first and last event of every
/// UTC hour the range touches (`custody_hours`, `catalog/keys.rs`). A clock set back only widens
/// the range; no event in the time range lies outside it. `(1, 0)`: no event in those hours.
fn time_seqs(conn: &Connection, from: Option<&str>, to: Option<&str>) -> anyhow::Result<(i64, i64)> {
    let hour = |t: Option<&str>, none: &str| t.map_or(none.to_string(), |t| t.chars().take(13).collect());
    let kept: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'custody_hours'", [], |r| {
            r.get(0)
        })
        .context("reading the custody log's hours")?;
    if kept == 0 {
        // A catalogue no station of this version has opened yet: every seq.
        return Ok((1, i64::MAX));
    }
    conn.query_row(
        "SELECT coalesce(min(first), 1), coalesce(max(last), 0) FROM custody_hours WHERE hour >= ?1 AND hour <= ?2",
        params![hour(from, ""), hour(to, "\u{10ffff}")],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .context("reading the custody log's hours")
}

/// How a query reads the log. Every filter is served by an index of the custody log in log
/// order, so a first page reads about a page of events: never a full scan, never every match
/// gathered and sorted first (see `query_plans_use_indexes`).
/// - `--device`, `--officer`: that recorder's or officer's keys (`custody_keys`,
///   `catalog/keys.rs`), each event still held against the filter's rules.
/// - `--case`, `--recording` (without those): one stream per subject of its files (by subject),
///   per docking that brought them in (by `details.docking`) and per file's filing (by
///   `details.file`), merged by seq ([`Plan::Merge`]).
/// - `--from`/`--to`: the seq range of the hours they touch (`custody_hours`), walked by seq;
///   `--actor`, `--action`: their indexes, each ordered by seq.
fn query_plan(conn: &Connection, args: &Filter, tz: chrono_tz::Tz) -> anyhow::Result<Plan> {
    let mut q = Sql::default();
    let key = match (&args.device, &args.officer) {
        (Some(s), _) => Some(format!("device:{}", s.trim())),
        (None, Some(o)) => Some(format!("officer:{}", o.trim())),
        (None, None) => None,
    };
    // A case (else a recording) drives the query when no key does.
    let drive_case = key.is_none() && args.case.is_some();
    let drive_recording = key.is_none() && args.case.is_none() && args.recording.is_some();
    let streamed = drive_case || drive_recording;
    if streamed {
        // ?1: the cursor, ?2: the batch (set by `merge_streams`).
        q.p(0i64);
        q.p(0i64);
    }
    let from = match &key {
        Some(k) => {
            let k = q.p(k.clone());
            let after = q.p(clamp(args.after));
            format!("FROM custody_keys CROSS JOIN custody_log ON seq = event WHERE key = {k} AND event > {after} AND")
        }
        None => "FROM custody_log WHERE".to_string(),
    };
    let order = if key.is_some() { "event" } else { "seq" };
    let mut clauses = vec![if streamed { "seq > ?1".to_string() } else { format!("seq > {}", q.p(clamp(args.after))) }];
    if let Some(n) = args.seq_from {
        clauses.push(format!("seq >= {}", q.p(clamp(n))));
    }
    if let Some(n) = args.seq_to {
        clauses.push(format!("seq <= {}", q.p(clamp(n))));
    }
    if !args.actions.is_empty() {
        for a in &args.actions {
            if Action::parse(a).is_none() {
                let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                bail!("--action {a:?} is not an action; known: {}", known.join(", "));
            }
        }
        clauses.push(format!("action IN {}", q.set(args.actions.iter().cloned())));
    }
    if let Some(u) = &args.actor {
        clauses.push(format!("actor_user = {}", q.p(u.clone())));
    }
    let from_t = args.from.as_deref().map(|f| time_bound(f, tz, false).context("--from")).transpose()?;
    let to_t = args.to.as_deref().map(|f| time_bound(f, tz, true).context("--to")).transpose()?;
    if from_t.is_some() || to_t.is_some() {
        let (lo, hi) = time_seqs(conn, from_t.as_ref().map(|t| t.0.as_str()), to_t.as_ref().map(|t| t.0.as_str()))?;
        clauses.push(format!("seq >= {}", q.p(lo)));
        clauses.push(format!("seq <= {}", q.p(hi)));
    }
    // `+ts_utc`: the time is checked on each event of that seq range, never looked up in the
    // time index (which would gather every match and sort it).
    if let Some((t, _)) = &from_t {
        clauses.push(format!("+ts_utc >= {}", q.p(t.clone())));
    }
    if let Some((t, inclusive)) = &to_t {
        clauses.push(format!("+ts_utc {} {}", if *inclusive { "<=" } else { "<" }, q.p(t.clone())));
    }
    if let Some(s) = &args.device {
        let s = s.trim();
        let mut scope = Scope::default();
        scope.subjects.insert(format!("device:{s}"));
        scope.subjects.insert(format!("usb:{s}"));
        for d in ids(conn, "SELECT id FROM dockings WHERE serial = ?1", s)? {
            scope.subjects.insert(format!("docking:{d}"));
        }
        for kind in ["file", "segment", "session", "recording"] {
            scope.prefixes.insert(format!("{kind}:{s}/"));
        }
        scope.details.push(("serial", s.to_string()));
        clauses.push(scope.sql(&mut q));
    }
    if let Some(o) = &args.officer {
        let o = o.trim();
        let mut scope = Scope { officer: Some(o.to_string()), ..Scope::default() };
        scope.details.push(("badge", o.to_string()));
        scope.details.push(("officer_id", o.to_string()));
        for d in ids(conn, "SELECT id FROM dockings WHERE badge = ?1", o)? {
            scope.subjects.insert(format!("docking:{d}"));
            scope.dockings.insert(d);
        }
        clauses.push(scope.sql(&mut q));
    }
    let mut driver = None;
    if let Some(r) = &args.recording {
        let scope = recording_scope(conn, r.trim())?;
        if drive_recording {
            driver = Some(scope);
        } else {
            clauses.push(scope.sql(&mut q));
        }
    }
    if let Some(c) = &args.case {
        let (scope, _) = case_scope(conn, c)?;
        if drive_case {
            driver = Some(scope);
        } else {
            clauses.push(scope.sql(&mut q));
        }
    }
    let Some(scope) = driver else {
        let limit = q.p(clamp(args.limit));
        return Ok(Plan::One(format!("{from} {} ORDER BY {order} LIMIT {limit}", clauses.join(" AND ")), q.params));
    };
    let rest = clauses.join(" AND ");
    let mut streams = Vec::new();
    for subject in &scope.subjects {
        let mut sq = q.clone();
        let v = sq.p(subject.clone());
        streams.push((
            format!("SELECT seq FROM custody_log INDEXED BY custody_by_subject WHERE subject = {v} AND {rest} ORDER BY seq LIMIT ?2"),
            sq.params,
        ));
    }
    if !scope.device_subjects.is_empty() {
        for d in &scope.device_dockings {
            let mut sq = q.clone();
            let v = sq.p(*d);
            let subjects = sq.set(scope.device_subjects.iter().cloned());
            streams.push((
                format!(
                    "SELECT seq FROM custody_log INDEXED BY custody_by_docking WHERE {} = {v} AND subject IN {subjects} AND {rest} ORDER BY seq LIMIT ?2",
                    detail("docking")
                ),
                sq.params,
            ));
        }
    }
    for f in &scope.assigned_files {
        let mut sq = q.clone();
        let v = sq.p(*f);
        streams.push((
            format!(
                "SELECT seq FROM custody_log INDEXED BY custody_by_file WHERE {} = {v} AND action = 'footage_assigned' AND {rest} ORDER BY seq LIMIT ?2",
                detail("file")
            ),
            sq.params,
        ));
    }
    Ok(Plan::Merge(streams))
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn read_events(conn: &Connection, tail: &str, params: &[SqlValue]) -> anyhow::Result<Vec<StoredEvent>> {
    let sql = format!(
        "SELECT seq, ts_utc, ts_local, actor_user, actor_role, actor_officer, action, subject, details, prev_hash, hash
         {tail}"
    );
    let mut st = conn.prepare(&sql).context("querying the custody log")?;
    let mut rows = st.query(rusqlite::params_from_iter(params.iter())).context("querying the custody log")?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().context("querying the custody log")? {
        let seq: i64 = row.get(0).context("an event's seq is not an integer: run `evidock log verify`")?;
        let bad = |what: &str| format!("event {seq}: {what} is unreadable: run `evidock log verify`");
        let hash = |i: usize, what: &str| -> anyhow::Result<[u8; 32]> {
            let b: Vec<u8> = row.get(i).with_context(|| bad(what))?;
            <[u8; 32]>::try_from(b.as_slice()).ok().with_context(|| bad(what))
        };
        out.push(StoredEvent {
            seq: u64::try_from(seq).ok().with_context(|| bad("seq"))?,
            ts_utc: row.get(1).with_context(|| bad("ts_utc"))?,
            ts_local: row.get(2).with_context(|| bad("ts_local"))?,
            actor_user: row.get(3).with_context(|| bad("actor_user"))?,
            actor_role: row.get(4).with_context(|| bad("actor_role"))?,
            actor_officer: row.get(5).with_context(|| bad("actor_officer"))?,
            action: row.get(6).with_context(|| bad("action"))?,
            subject: row.get(7).with_context(|| bad("subject"))?,
            details: row.get(8).with_context(|| bad("details"))?,
            prev_hash: hash(9, "prev_hash")?,
            hash: hash(10, "hash")?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CaseKind;
    use crate::custody::store;

    /// Every `log query` filter is served by an index in log order: the plan of each
    /// statement, on a real catalogue with enough events that SQLite weighs its choices,
    /// searches the custody log, never scans it and never sorts every match (issue 18; R11).
    #[test]
    fn query_plans_use_indexes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cat = crate::catalog::Catalog::open(
            &dir.path().join("catalog.sqlite"),
            chrono_tz::Asia::Shanghai,
            crate::custody::event::Actor::daemon("evidock"),
        )
        .expect("catalogue");
        cat.create_case(&crate::catalog::CaseLabel {
            number: "卫健罚〔2024〕12号".into(),
            party: None,
            officers: vec!["010203".into()],
            kind: CaseKind::Penalty,
            windows: vec![],
        })
        .expect("a case");
        let conn = cat.connection();
        conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        for i in 0..2000u64 {
            let ev = crate::custody::event::NewEvent::new(
                crate::custody::event::Actor::daemon("evidock"),
                Action::ALL[i as usize % 9],
                format!("segment:A1/{i}"),
            )
            .detail("docking", i / 40)
            .detail("serial", "A1");
            store::append(conn, &ev, Utc::now(), chrono_tz::Asia::Shanghai).expect("event");
        }
        // A file of docking 3, filed into the case: its events come by subject, by docking
        // and by filing.
        conn.execute_batch(
            "INSERT INTO dockings (id, serial, volume, started, dock_clock) VALUES (3, 'A1', 'v', 'now', 'now');
             INSERT INTO files (id, serial, source, size, blake3, archive_path, docking_id, stored, read_back, immutable)
                 VALUES (1, 'A1', 'DCIM/1.MP4', 1, 'h', 'a/1.MP4', 3, 'now', 'now', 1);
             INSERT INTO case_files (case_id, file_id, path, linked, assigned, assigned_by)
                 SELECT id, 1, 'c/1.MP4', 1, 'now', 'root' FROM cases;",
        )
        .expect("a filed file");
        conn.execute_batch("COMMIT; ANALYZE").expect("commit");
        let base = Filter { limit: 50, ..Filter::default() };
        let filters: Vec<(&str, Filter)> = vec![
            ("case", Filter { case: Some("卫健罚〔2024〕12号".into()), ..base.clone() }),
            ("device", Filter { device: Some("A1".into()), ..base.clone() }),
            ("officer", Filter { officer: Some("010203".into()), ..base.clone() }),
            ("recording", Filter { recording: Some("A1/file-1".into()), ..base.clone() }),
            ("actor", Filter { actor: Some("lisi".into()), ..base.clone() }),
            ("action", Filter { actions: vec!["segment_wiped".into()], ..base.clone() }),
            ("time", Filter { from: Some("2024-05-01".into()), to: Some("2024-05-01".into()), ..base.clone() }),
        ];
        for (name, args) in filters {
            let statements = match query_plan(conn, &args, chrono_tz::Asia::Shanghai).expect("sql") {
                Plan::One(tail, params) => vec![(format!("SELECT seq {tail}"), params)],
                Plan::Merge(streams) => {
                    // Subjects, the docking and the filing each walk their own index.
                    assert!(streams.len() >= 4, "{name}: {}", streams.len());
                    streams
                }
            };
            assert!(!statements.is_empty(), "{name}");
            for (sql, params) in statements {
                let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("explain");
                let plan: Vec<String> = st
                    .query_map(rusqlite::params_from_iter(params.iter()), |r| r.get::<_, String>(3))
                    .expect("plan")
                    .collect::<Result<_, _>>()
                    .expect("rows");
                assert!(plan.iter().any(|p| p.contains("custody_log")), "{name}: {plan:?}");
                assert!(
                    !plan.iter().any(|p| p.starts_with("SCAN custody_log")),
                    "{name} scans the custody log: {plan:?}"
                );
                // The first page reads about a page of events: walked in log order, never
                // every match gathered and sorted first.
                assert!(
                    !plan.iter().any(|p| p.contains("USE TEMP B-TREE FOR ORDER BY")),
                    "{name} sorts every match before the first page: {plan:?}"
                );
            }
        }
    }

    /// A case's and a recording's merged streams give, page by page at any page size, exactly
    /// the events the filter's rules match over the whole log, in log order (INV-39).
    #[test]
    fn case_and_recording_streams_merge_to_what_the_filter_matches_page_by_page() {
        use crate::custody::event::{Actor, NewEvent};
        let dir = tempfile::tempdir().expect("temp dir");
        let tz = chrono_tz::Asia::Shanghai;
        let mut cat = crate::catalog::Catalog::open(&dir.path().join("catalog.sqlite"), tz, Actor::daemon("evidock"))
            .expect("catalogue");
        cat.create_case(&crate::catalog::CaseLabel {
            number: "卫健罚〔2024〕12号".into(),
            party: None,
            officers: vec!["010203".into()],
            kind: CaseKind::Penalty,
            windows: vec![],
        })
        .expect("a case");
        let conn = cat.connection();
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             INSERT INTO dockings (id, serial, volume, started, dock_clock) VALUES (3, 'A1', 'v', 'now', 'now');
             INSERT INTO files (id, serial, source, size, blake3, archive_path, docking_id, stored, read_back, immutable)
                 VALUES (1, 'A1', 'DCIM/1.MP4', 1, 'h', 'a/1.MP4', 3, 'now', 'now', 1);
             INSERT INTO case_files (case_id, file_id, path, linked, assigned, assigned_by)
                 SELECT id, 1, 'c/1.MP4', 1, 'now', 'root' FROM cases;",
        )
        .expect("a filed file");
        for i in 0..600u64 {
            let d = Actor::daemon("evidock");
            let ev = match i % 6 {
                0 => NewEvent::new(d, Action::SegmentVerified, "file:A1/DCIM/1.MP4"),
                1 => NewEvent::new(d, Action::IdentityRead, "device:A1")
                    .detail("docking", if i % 12 == 1 { 3 } else { 4 }),
                2 => NewEvent::new(d, Action::IngestFinished, format!("docking:{}", if i % 4 == 2 { 3 } else { 5 })),
                3 => NewEvent::new(d, Action::FootageAssigned, "case:other")
                    .detail("file", if i % 9 == 3 { 1 } else { 2 }),
                4 => NewEvent::new(d, Action::SegmentCopied, "recording:A1/file-1"),
                _ => NewEvent::new(d, Action::SegmentWiped, format!("segment:B2/{i}")),
            };
            store::append(conn, &ev, Utc::now(), tz).expect("event");
        }
        conn.execute_batch("COMMIT").expect("commit");
        let base = Filter { limit: 50, ..Filter::default() };
        let (case_rules, _) = case_scope(conn, "卫健罚〔2024〕12号").expect("case");
        let recording = recording_scope(conn, "A1/file-1").expect("recording");
        for (name, scope, args) in [
            ("case", case_rules, Filter { case: Some("卫健罚〔2024〕12号".into()), ..base.clone() }),
            ("recording", recording, Filter { recording: Some("A1/file-1".into()), ..base.clone() }),
        ] {
            // What the filter's rules match, in one statement over the whole log.
            let mut q = Sql::default();
            let clause = scope.sql(&mut q);
            let mut st =
                conn.prepare(&format!("SELECT seq FROM custody_log WHERE {clause} ORDER BY seq")).expect("sql");
            let want: Vec<u64> = st
                .query_map(rusqlite::params_from_iter(q.params.iter()), |r| r.get::<_, i64>(0))
                .expect("rows")
                .map(|r| r.expect("row") as u64)
                .collect();
            assert!(want.len() > 200, "{name}: {}", want.len());
            for limit in [1, 7, 1000] {
                let mut got = Vec::new();
                let mut after = 0;
                loop {
                    let page = query(conn, &Filter { limit, after, ..args.clone() }, tz).expect("page");
                    assert!(page.len() as u64 <= limit, "{name}");
                    let Some(last) = page.last().map(|e| e.seq) else { break };
                    got.extend(page.iter().map(|e| e.seq));
                    after = last;
                }
                assert_eq!(got, want, "{name}, pages of {limit}");
            }
        }
    }

    #[test]
    fn prefixes_become_exact_ranges() {
        assert_eq!(prefix_end("file:A100001/"), "file:A1000010");
        let inside = |s: &str| s >= "file:A100001/" && s < prefix_end("file:A100001/").as_str();
        assert!(inside("file:A100001/DCIM/x.MP4"));
        assert!(!inside("file:A1000012/DCIM/x.MP4"));
        assert!(!inside("file:a100001/DCIM/x.MP4"));
    }

    #[test]
    fn time_bounds_in_station_time() {
        let tz = chrono_tz::Asia::Shanghai;
        let check = |s: &str, end: bool, want: (&str, bool)| {
            assert_eq!(time_bound(s, tz, end).expect(s), (want.0.to_string(), want.1), "{s}");
        };
        check("2024-05-01", false, ("2024-04-30T16:00:00.000Z", true));
        check("2024-05-01", true, ("2024-05-01T16:00:00.000Z", false));
        check("2024-05-01T08:30:00Z", true, ("2024-05-01T08:30:00.000Z", true));
        check("2024-05-01T16:30", false, ("2024-05-01T08:30:00.000Z", true));
        assert!(time_bound("yesterday", tz, false).is_err());
    }

    #[test]
    fn scopes_match_subjects_prefixes_and_details_and_nothing_when_empty() {
        let mut q = Sql::default();
        assert_eq!(Scope::default().sql(&mut q), "0");
        let conn = Connection::open_in_memory().expect("memory db");
        let mut scope = Scope::default();
        scope.subjects.insert("case:宜卫罚〔2024〕12号".into());
        scope.prefixes.insert("file:A1/".into());
        scope.details.push(("serial", "A1".into()));
        let mut q = Sql::default();
        let clause = scope.sql(&mut q);
        let hit = |subject: &str, details: &str| -> bool {
            conn.query_row(
                &format!(
                    "SELECT {clause} FROM (SELECT ?{} AS subject, ?{} AS details, '' AS action, NULL AS actor_officer)",
                    q.params.len() + 1,
                    q.params.len() + 2
                ),
                rusqlite::params_from_iter(
                    q.params.iter().cloned().chain([SqlValue::Text(subject.into()), SqlValue::Text(details.into())]),
                ),
                |r| r.get::<_, Option<bool>>(0),
            )
            .expect("query")
            .unwrap_or(false) // NULL, as in a WHERE clause: no match
        };
        assert!(hit("case:宜卫罚〔2024〕12号", "{}"));
        assert!(hit("file:A1/DCIM/1.MP4", "{}"));
        assert!(hit("device:B2", r#"{"serial":"A1"}"#));
        assert!(!hit("device:B2", r#"{"serial":"A2"}"#));
        assert!(!hit("device:B2", "not json"), "a tampered details text does not fail the query");
    }
}
