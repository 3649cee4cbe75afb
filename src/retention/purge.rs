//! What expires, what may be purged, and the purge queue (R7, R11): a purge is requested,
//! approved by a second person, waits a grace period during which it can be cancelled, and only
//! then runs, leaving a tombstone.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

use super::policy::{
    class, computed_deadline, deadline, Class, Deadline, FileHash, Flag, Hold, Policy, Recording, Trigger,
};
use super::RetentionError;

/// A recording whose deadline falls within the window asked about (or has passed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueItem {
    /// Recording id.
    pub id: String,
    /// Recorder serial.
    pub device: String,
    /// Officer, if known.
    pub officer: Option<String>,
    /// The deadline.
    pub deadline: DateTime<Utc>,
    /// Its class.
    pub class: Class,
    /// Whether an active legal hold keeps it regardless.
    pub held: bool,
    /// Whether the deadline has passed already.
    pub overdue: bool,
}

/// Recordings whose deadline is before `now + window` (those already past included, marked
/// overdue), earliest first. Permanent footage never appears; long-term footage kept for a
/// number of years appears with its class, and [`purge_eligible`] still refuses it (it leaves
/// with its case file, not through the purge queue).
pub fn due(recordings: &[Recording], policy: &Policy, window: TimeDelta, now: DateTime<Utc>) -> Vec<DueItem> {
    let horizon = now.checked_add_signed(window).unwrap_or(DateTime::<Utc>::MAX_UTC);
    let mut out: Vec<DueItem> = recordings
        .iter()
        .filter_map(|r| {
            let at = deadline(r, policy).at()?;
            (at < horizon).then(|| DueItem {
                id: r.id.clone(),
                device: r.device.clone(),
                officer: r.officer.clone(),
                deadline: at,
                class: class(r, policy),
                held: r.holds.iter().any(|h| h.is_active()),
                overdue: at <= now,
            })
        })
        .collect();
    out.sort_by(|a, b| a.deadline.cmp(&b.deadline).then_with(|| a.id.cmp(&b.id)));
    out
}

/// One reason a recording may not be purged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Obstacle {
    /// An active legal hold.
    Held {
        /// Hold id.
        hold: String,
        /// Its reason.
        reason: String,
    },
    /// Long-term footage: never purged through the queue.
    LongTerm {
        /// Active triggers.
        triggers: Vec<Trigger>,
        /// Cases it is filed under (when case footage is long-term).
        cases: Vec<String>,
    },
    /// Kept for ever.
    Permanent,
    /// Its deadline has not come.
    NotYetDue {
        /// The deadline.
        deadline: DateTime<Utc>,
    },
    /// An approved purge of it is in its grace period.
    InGrace {
        /// End of the grace period.
        until: DateTime<Utc>,
    },
}

impl fmt::Display for Obstacle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Obstacle::Held { hold, reason } => write!(f, "under legal hold {hold} ({reason})"),
            Obstacle::LongTerm { triggers, cases } => {
                let names: Vec<&str> = triggers.iter().map(|t| t.as_str()).collect();
                write!(f, "kept long-term")?;
                if !names.is_empty() {
                    write!(f, " (flagged {})", names.join(", "))?;
                }
                if !cases.is_empty() {
                    write!(f, " (filed under {})", cases.join(", "))?;
                }
                Ok(())
            }
            Obstacle::Permanent => write!(f, "kept permanently"),
            Obstacle::NotYetDue { deadline } => write!(f, "kept until {}", deadline.to_rfc3339()),
            Obstacle::InGrace { until } => {
                write!(f, "an approved purge is in its grace period until {}", until.to_rfc3339())
            }
        }
    }
}

/// Why a recording may not be purged: every reason, not only the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Recording id.
    pub recording: String,
    /// The reasons.
    pub obstacles: Vec<Obstacle>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reasons: Vec<String> = self.obstacles.iter().map(ToString::to_string).collect();
        write!(f, "recording {} may not be purged: {}", self.recording, reasons.join("; "))
    }
}

/// Whether `rec` may be purged at `now`.
///
/// # Errors
/// A [`Refusal`] naming every obstacle: active holds, long-term class (permanent or not), a
/// deadline not yet reached, a purge grace period not yet over.
pub fn purge_eligible(rec: &Recording, policy: &Policy, now: DateTime<Utc>) -> Result<(), Refusal> {
    let mut obstacles = Vec::new();
    for h in rec.holds.iter().filter(|h| h.is_active()) {
        obstacles.push(Obstacle::Held { hold: h.id.clone(), reason: h.reason.clone() });
    }
    if class(rec, policy) == Class::LongTerm {
        let triggers = rec.flags.iter().filter(|f| f.is_active()).map(|f| f.trigger).collect();
        let cases = if policy.case_footage_long_term { rec.cases.clone() } else { Vec::new() };
        obstacles.push(Obstacle::LongTerm { triggers, cases });
    }
    match deadline(rec, policy) {
        Deadline::Permanent => obstacles.push(Obstacle::Permanent),
        Deadline::At(d) if now < d => obstacles.push(Obstacle::NotYetDue { deadline: d }),
        Deadline::At(_) => {}
    }
    if let Some(until) = rec.purge_grace_until.filter(|u| now < *u) {
        obstacles.push(Obstacle::InGrace { until });
    }
    if obstacles.is_empty() {
        Ok(())
    } else {
        Err(Refusal { recording: rec.id.clone(), obstacles })
    }
}

/// Where a purge request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeState {
    /// Waiting for an approver who is not the requester.
    AwaitingApproval,
    /// Approved; cancellable until `until`, executable from then on.
    Grace {
        /// The approver.
        approved_by: String,
        /// When.
        approved_at: DateTime<Utc>,
        /// End of the grace period.
        until: DateTime<Utc>,
    },
    /// Cancelled (before approval or during the grace period).
    Cancelled {
        /// Who.
        by: String,
        /// When.
        at: DateTime<Utc>,
        /// Why.
        reason: String,
    },
    /// Carried out; a tombstone was made.
    Executed {
        /// The approver.
        approved_by: String,
        /// When it was approved.
        approved_at: DateTime<Utc>,
        /// When it ran.
        at: DateTime<Utc>,
    },
}

impl PurgeState {
    /// Stable name.
    pub fn as_str(&self) -> &'static str {
        match self {
            PurgeState::AwaitingApproval => "awaiting-approval",
            PurgeState::Grace { .. } => "grace",
            PurgeState::Cancelled { .. } => "cancelled",
            PurgeState::Executed { .. } => "executed",
        }
    }
}

/// A request to purge one recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeRequest {
    /// Request id.
    pub id: String,
    /// The recording.
    pub recording: String,
    /// Who asked.
    pub requested_by: String,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// Where it stands.
    pub state: PurgeState,
}

/// What is left of a purged recording: what it was, its hashes, who asked, who approved, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    /// Recording id.
    pub recording: String,
    /// Recorder serial.
    pub device: String,
    /// Officer, if known.
    pub officer: Option<String>,
    /// Corrected start, station-local.
    pub start: NaiveDateTime,
    /// Corrected end, station-local.
    pub end: NaiveDateTime,
    /// Cases it was filed under.
    pub cases: Vec<String>,
    /// Its files with their hashes.
    pub files: Vec<FileHash>,
    /// The deadline it was purged after.
    pub deadline: DateTime<Utc>,
    /// Purge request id.
    pub request: String,
    /// Who asked.
    pub requested_by: String,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// Who approved.
    pub approved_by: String,
    /// When.
    pub approved_at: DateTime<Utc>,
    /// When it ran.
    pub executed_at: DateTime<Utc>,
}

impl PurgeRequest {
    /// A new request, awaiting approval.
    ///
    /// # Errors
    /// [`RetentionError::Refused`] when the recording may not be purged now; blank user or
    /// reason.
    pub fn new(
        id: &str,
        rec: &Recording,
        policy: &Policy,
        by: &str,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<PurgeRequest, RetentionError> {
        if by.trim().is_empty() {
            return Err(RetentionError::EmptyActor { what: "purge request" });
        }
        if reason.trim().is_empty() {
            return Err(RetentionError::EmptyReason { what: "purge request" });
        }
        purge_eligible(rec, policy, at).map_err(RetentionError::Refused)?;
        Ok(PurgeRequest {
            id: id.to_string(),
            recording: rec.id.clone(),
            requested_by: by.trim().to_string(),
            requested_at: at,
            reason: reason.trim().to_string(),
            state: PurgeState::AwaitingApproval,
        })
    }

    /// End of the grace period, once approved.
    pub fn grace_until(&self) -> Option<DateTime<Utc>> {
        match self.state {
            PurgeState::Grace { until, .. } => Some(until),
            _ => None,
        }
    }

    fn wrong_state(&self, action: &'static str) -> RetentionError {
        RetentionError::PurgeState { request: self.id.clone(), action, state: self.state.as_str() }
    }

    fn same_recording(&self, rec: &Recording) -> Result<(), RetentionError> {
        if rec.id == self.recording {
            Ok(())
        } else {
            Err(RetentionError::WrongRecording {
                request: self.id.clone(),
                expected: self.recording.clone(),
                given: rec.id.clone(),
            })
        }
    }

    /// Approves the request; the grace period starts.
    ///
    /// # Errors
    /// Not awaiting approval; the approver is the requester or blank; the recording may no
    /// longer be purged (a hold or flag placed since the request).
    pub fn approve(
        &mut self,
        by: &str,
        at: DateTime<Utc>,
        rec: &Recording,
        policy: &Policy,
    ) -> Result<(), RetentionError> {
        if self.state != PurgeState::AwaitingApproval {
            return Err(self.wrong_state("approve"));
        }
        self.same_recording(rec)?;
        let by = by.trim();
        if by.is_empty() {
            return Err(RetentionError::EmptyActor { what: "purge approval" });
        }
        if by == self.requested_by {
            return Err(RetentionError::SelfApproval { request: self.id.clone(), user: by.to_string() });
        }
        purge_eligible(rec, policy, at).map_err(RetentionError::Refused)?;
        let until = at.checked_add_signed(policy.purge_grace).unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.state = PurgeState::Grace { approved_by: by.to_string(), approved_at: at, until };
        Ok(())
    }

    /// Cancels the request (before approval or during the grace period).
    ///
    /// # Errors
    /// Already cancelled or executed; blank user or reason.
    pub fn cancel(&mut self, by: &str, at: DateTime<Utc>, reason: &str) -> Result<(), RetentionError> {
        if !matches!(self.state, PurgeState::AwaitingApproval | PurgeState::Grace { .. }) {
            return Err(self.wrong_state("cancel"));
        }
        if by.trim().is_empty() {
            return Err(RetentionError::EmptyActor { what: "purge cancellation" });
        }
        if reason.trim().is_empty() {
            return Err(RetentionError::EmptyReason { what: "purge cancellation" });
        }
        self.state = PurgeState::Cancelled { by: by.trim().to_string(), at, reason: reason.trim().to_string() };
        Ok(())
    }

    /// Marks the request executed and returns the tombstone to record before the files go.
    ///
    /// # Errors
    /// Not approved; grace period not over; the recording may no longer be purged (every
    /// obstacle named).
    pub fn execute(
        &mut self,
        at: DateTime<Utc>,
        rec: &Recording,
        policy: &Policy,
    ) -> Result<Tombstone, RetentionError> {
        let PurgeState::Grace { approved_by, approved_at, until } = self.state.clone() else {
            return Err(self.wrong_state("execute"));
        };
        self.same_recording(rec)?;
        if at < until {
            return Err(RetentionError::InGrace { request: self.id.clone(), until });
        }
        purge_eligible(rec, policy, at).map_err(RetentionError::Refused)?;
        // Eligible means the deadline is a moment that has passed.
        let Deadline::At(deadline) = deadline(rec, policy) else {
            return Err(RetentionError::Refused(Refusal {
                recording: rec.id.clone(),
                obstacles: vec![Obstacle::Permanent],
            }));
        };
        self.state = PurgeState::Executed { approved_by: approved_by.clone(), approved_at, at };
        Ok(Tombstone {
            recording: rec.id.clone(),
            device: rec.device.clone(),
            officer: rec.officer.clone(),
            start: rec.start,
            end: rec.end,
            cases: rec.cases.clone(),
            files: rec.files.clone(),
            deadline,
            request: self.id.clone(),
            requested_by: self.requested_by.clone(),
            requested_at: self.requested_at,
            reason: self.reason.clone(),
            approved_by,
            approved_at,
            executed_at: at,
        })
    }
}

/// What the verified custody log says about one recording: the facts a purge rests on, built
/// from the log's events alone (by `crate::ledger`), to be held against the catalogue's rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoggedRecording {
    /// The recording.
    pub id: String,
    /// Holds placed on it, by catalogue row: (hold identifier, still in force).
    pub holds: BTreeMap<i64, (String, bool)>,
    /// Long-term flags set on it, by catalogue row: (trigger, still in force).
    pub flags: BTreeMap<i64, (Trigger, bool)>,
    /// Cases its files were filed into.
    pub cases: BTreeSet<String>,
    /// The latest deadline the station recorded for it (`deadline_recorded`), if any.
    pub recorded_deadline: Option<Deadline>,
    /// The earliest its end can be, from what the log says of its files (the dated folders
    /// they were filed in at ingest, a day's margin taken off), if the log tells.
    pub earliest_end: Option<NaiveDateTime>,
    /// Its files as the log knows them, by catalogue file id (`None`: the log never recorded
    /// that file).
    pub files: BTreeMap<i64, Option<LoggedFile>>,
    /// Purge requests of it, by request id.
    pub requests: BTreeMap<i64, LoggedPurge>,
}

/// One archived file as the custody log recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedFile {
    /// Its names in the archive now (after moves and links into cases).
    pub paths: BTreeSet<String>,
    /// BLAKE3 recorded when it was copied (hex).
    pub blake3: String,
    /// Size recorded when it was copied.
    pub size: u64,
    /// Whether a purge removed it.
    pub purged: bool,
    /// The recording its segment belongs to, when the log links them.
    pub recording: Option<String>,
}

/// A purge request as the custody log recorded it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoggedPurge {
    /// The recording it names.
    pub recording: String,
    /// Who requested it (the event's actor).
    pub requested_by: String,
    /// Who approved it (the event's actor), if approved.
    pub approved_by: Option<String>,
    /// End of its grace period, if approved.
    pub grace_until: Option<DateTime<Utc>>,
    /// Cancelled.
    pub cancelled: bool,
    /// Carried out.
    pub executed: bool,
}

/// The catalogue's side of one recording, as the purge reads it.
#[derive(Debug, Clone, Copy)]
pub struct Catalogued<'a> {
    /// The recording as built from the catalogue.
    pub recording: &'a Recording,
    /// Its holds with their row ids.
    pub holds: &'a [(i64, Hold)],
    /// Its flags with their row ids.
    pub flags: &'a [(i64, Flag)],
    /// Its files: (file id, every name it has in the archive).
    pub files: &'a [(i64, Vec<String>)],
}

/// One way the catalogue contradicts the custody log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What it is about: `hold`, `flag`, `case`, `deadline`, `approval`, `file`.
    pub what: &'static str,
    /// In English.
    pub text: String,
    /// In Chinese.
    pub text_zh: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.text, self.text_zh)
    }
}

fn mismatch(what: &'static str, text: String, text_zh: String) -> Mismatch {
    Mismatch { what, text, text_zh }
}

fn deadline_words(d: Deadline) -> String {
    match d {
        Deadline::Permanent => "permanent".into(),
        Deadline::At(t) => t.to_rfc3339(),
    }
}

/// The deadline the custody log alone gives a recording: the later of the one it recorded and
/// the one its own facts give (its flags and cases, and the earliest its end can be). `None`
/// when the log tells nothing.
pub fn logged_deadline(c: &Recording, logged: &LoggedRecording, policy: &Policy) -> Option<Deadline> {
    let from_facts = logged.earliest_end.map(|end| {
        let rec = Recording {
            end,
            cases: logged.cases.iter().cloned().collect(),
            flags: logged
                .flags
                .values()
                .map(|(t, active)| Flag {
                    trigger: *t,
                    set_by: "log".into(),
                    set_at: DateTime::<Utc>::MIN_UTC,
                    reason: "log".into(),
                    withdrawn: (!active).then(|| super::policy::Release {
                        by: "log".into(),
                        at: DateTime::<Utc>::MIN_UTC,
                        reason: "log".into(),
                    }),
                })
                .collect(),
            holds: Vec::new(),
            kept_deadline: None,
            purge_grace_until: None,
            ..c.clone()
        };
        computed_deadline(&rec, policy)
    });
    match (logged.recorded_deadline, from_facts) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Every way the catalogue's rows for a recording contradict the verified custody log: holds
/// and flags in force (by row: deleted, released, withdrawn or moved to another recording in
/// the catalogue alone), the cases its files were filed into, a deadline earlier than the one
/// the log gives, the files (unknown to the log, already purged, other names, another hash or
/// size, another recording), and, for a request, its approval (requester, approver, grace
/// period, cancellation). An empty list: they agree. A catalogue row the log does not know is
/// a contradiction too, even when it only keeps more.
pub fn check_against_log(
    c: &Catalogued<'_>,
    logged: &LoggedRecording,
    request: Option<&PurgeRequest>,
    policy: &Policy,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let rec = c.recording;
    // Holds.
    let cat_holds: BTreeMap<i64, &Hold> = c.holds.iter().map(|(id, h)| (*id, h)).collect();
    for (row, (name, active)) in &logged.holds {
        match cat_holds.get(row) {
            None if *active => out.push(mismatch(
                "hold",
                format!("legal hold {name} (row {row}) is in force in the custody log but missing from the catalogue"),
                format!("保管日志记载的保全 {name}（第 {row} 行）仍然有效，但目录中已无此记录"),
            )),
            Some(h) if *active && !h.is_active() => out.push(mismatch(
                "hold",
                format!("legal hold {name} (row {row}) is in force in the custody log but released in the catalogue"),
                format!("保管日志记载的保全 {name}（第 {row} 行）仍然有效，但目录显示已解除"),
            )),
            _ => {}
        }
    }
    for (row, h) in c.holds {
        if h.is_active() && !logged.holds.get(row).is_some_and(|(_, a)| *a) {
            out.push(mismatch(
                "hold",
                format!("legal hold {} (row {row}) is in the catalogue but not in force in the custody log", h.id),
                format!("目录中的保全 {}（第 {row} 行）在保管日志中无有效记载", h.id),
            ));
        }
    }
    // Long-term flags.
    let cat_flags: BTreeMap<i64, &Flag> = c.flags.iter().map(|(id, f)| (*id, f)).collect();
    for (row, (trigger, active)) in &logged.flags {
        let t = trigger.as_str();
        match cat_flags.get(row) {
            None if *active => out.push(mismatch(
                "flag",
                format!("long-term flag {t} (row {row}) is in force in the custody log but missing from the catalogue"),
                format!("保管日志记载的长期保存标记 {}（第 {row} 行）仍然有效，但目录中已无此记录", trigger.label_zh()),
            )),
            Some(f) if *active && (!f.is_active() || f.trigger != *trigger) => out.push(mismatch(
                "flag",
                format!(
                    "long-term flag {t} (row {row}) is in force in the custody log but the catalogue says {} {}",
                    f.trigger.as_str(),
                    if f.is_active() { "in force" } else { "withdrawn" }
                ),
                format!("保管日志记载的长期保存标记 {}（第 {row} 行）仍然有效，但目录记载不同", trigger.label_zh()),
            )),
            _ => {}
        }
    }
    for (row, f) in c.flags {
        if f.is_active() && !logged.flags.get(row).is_some_and(|(_, a)| *a) {
            out.push(mismatch(
                "flag",
                format!(
                    "long-term flag {} (row {row}) is in the catalogue but not in force in the custody log",
                    f.trigger.as_str()
                ),
                format!("目录中的长期保存标记（第 {row} 行）在保管日志中无有效记载"),
            ));
        }
    }
    // Cases.
    let cat_cases: BTreeSet<&String> = rec.cases.iter().collect();
    for case in &logged.cases {
        if !cat_cases.contains(case) {
            out.push(mismatch(
                "case",
                format!("the custody log filed its footage into case {case}; the catalogue does not"),
                format!("保管日志记载其录像已归入案件 {case}，目录中无此记录"),
            ));
        }
    }
    for case in &rec.cases {
        if !logged.cases.contains(case) {
            out.push(mismatch(
                "case",
                format!("the catalogue files it into case {case}; the custody log does not"),
                format!("目录记载其已归入案件 {case}，保管日志中无此记录"),
            ));
        }
    }
    // Deadline: the catalogue's may be later (recomputed, extended), never earlier.
    if let Some(log_deadline) = logged_deadline(rec, logged, policy) {
        let cat = deadline(rec, policy);
        if cat < log_deadline {
            out.push(mismatch(
                "deadline",
                format!(
                    "the catalogue's deadline {} is earlier than the custody log's {}: the deadline or the recording's times were edited",
                    deadline_words(cat),
                    deadline_words(log_deadline)
                ),
                format!(
                    "目录中的保存期限 {} 早于保管日志记载的 {}：保存期限或录像时间被改动",
                    deadline_words(cat),
                    deadline_words(log_deadline)
                ),
            ));
        }
    }
    // Files.
    for (id, paths) in c.files {
        let names: BTreeSet<String> = paths.iter().cloned().collect();
        let Some(Some(f)) = logged.files.get(id) else {
            out.push(mismatch(
                "file",
                format!("file #{id} ({}) was never recorded as archived in the custody log", paths.join(", ")),
                format!("文件 #{id}（{}）在保管日志中没有归档记录", paths.join("，")),
            ));
            continue;
        };
        if f.purged {
            out.push(mismatch(
                "file",
                format!("file #{id} was purged according to the custody log"),
                format!("保管日志记载文件 #{id} 已被删除"),
            ));
        }
        if names != f.paths {
            let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
            out.push(mismatch(
                "file",
                format!(
                    "file #{id} is at {} in the catalogue but at {} in the custody log",
                    list(&names),
                    list(&f.paths)
                ),
                format!("文件 #{id} 在目录中的位置与保管日志记载不符"),
            ));
        }
        if let Some(h) = rec.files.iter().find(|h| names.contains(&h.path)) {
            if h.blake3 != f.blake3 || h.size != f.size {
                out.push(mismatch(
                    "file",
                    format!(
                        "file #{id} ({}) has BLAKE3 {} and {} bytes in the catalogue, {} and {} bytes in the custody log",
                        h.path, h.blake3, h.size, f.blake3, f.size
                    ),
                    format!("文件 #{id}（{}）在目录中的哈希值或大小与保管日志记载不符", h.path),
                ));
            }
        }
        if let Some(r) = f.recording.as_ref().filter(|r| **r != rec.id) {
            out.push(mismatch(
                "file",
                format!("file #{id} belongs to recording {r} in the custody log, not to {}", rec.id),
                format!("保管日志记载文件 #{id} 属于录像 {r}，而非 {}", rec.id),
            ));
        }
    }
    // The request and its approval.
    if let Some(req) = request {
        let logged_req = req.id.parse::<i64>().ok().and_then(|id| logged.requests.get(&id));
        let Some(l) = logged_req else {
            out.push(mismatch(
                "approval",
                format!("purge request {} is not in the custody log", req.id),
                format!("删除申请 {} 在保管日志中没有记载", req.id),
            ));
            return out;
        };
        if l.recording != req.recording || l.requested_by != req.requested_by {
            out.push(mismatch(
                "approval",
                format!(
                    "purge request {} was made by {} for {} according to the custody log, not by {} for {}",
                    req.id, l.requested_by, l.recording, req.requested_by, req.recording
                ),
                format!("删除申请 {} 的申请人或录像与保管日志记载不符", req.id),
            ));
        }
        if l.cancelled || l.executed {
            out.push(mismatch(
                "approval",
                format!(
                    "purge request {} was {} according to the custody log",
                    req.id,
                    if l.cancelled { "cancelled" } else { "carried out already" }
                ),
                format!("保管日志记载删除申请 {} 已{}", req.id, if l.cancelled { "撤销" } else { "执行" }),
            ));
        }
        match (&req.state, &l.approved_by) {
            (PurgeState::Grace { approved_by, until, .. }, Some(by))
                if by != approved_by || l.grace_until != Some(*until) || *by == l.requested_by =>
            {
                out.push(mismatch(
                    "approval",
                    format!(
                        "purge request {} was approved by {by} until {} according to the custody log, not by {approved_by} until {}",
                        req.id,
                        l.grace_until.map_or("-".into(), |t| t.to_rfc3339()),
                        until.to_rfc3339()
                    ),
                    format!("删除申请 {} 的批准人或宽限期与保管日志记载不符", req.id),
                ));
            }
            (PurgeState::Grace { approved_by, .. }, None) => out.push(mismatch(
                "approval",
                format!(
                    "purge request {} is approved by {approved_by} in the catalogue, but the custody log holds no approval",
                    req.id
                ),
                format!("目录显示删除申请 {} 已批准，但保管日志中没有批准记录", req.id),
            )),
            (PurgeState::AwaitingApproval, Some(by)) => out.push(mismatch(
                "approval",
                format!("purge request {} was approved by {by} according to the custody log; the catalogue lost it", req.id),
                format!("保管日志记载删除申请 {} 已批准，目录中无此记录", req.id),
            )),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::policy::tests::{policy, rec, utc};
    use super::super::policy::{Flag, Hold, LongTerm};
    use super::*;

    // Ends 15 January 2026; standard six months: purgeable from 2026-07-16 00:00 Beijing time.
    const DUE: &str = "2026-07-15T16:00:00Z";

    fn obstacles(r: &Recording, p: &Policy, now: &str) -> Vec<Obstacle> {
        match purge_eligible(r, p, utc(now)) {
            Ok(()) => vec![],
            Err(refusal) => refusal.obstacles,
        }
    }

    #[test]
    fn purge_waits_for_the_deadline() {
        let r = rec("s1", "2026-01-15T10:00:00");
        assert_eq!(obstacles(&r, &policy(), "2026-07-15T15:59:59Z"), vec![Obstacle::NotYetDue { deadline: utc(DUE) }]);
        assert_eq!(obstacles(&r, &policy(), DUE), vec![]);
    }

    #[test]
    fn purge_refuses_held_footage_with_every_reason() {
        let mut r = rec("s1", "2026-01-15T10:00:00");
        r.holds.push(Hold::new("复议〔2026〕7号", "王科长", utc("2026-03-01T00:00:00Z"), "行政复议").unwrap());
        let got = obstacles(&r, &policy(), "2026-07-01T00:00:00Z");
        assert_eq!(
            got,
            vec![
                Obstacle::Held { hold: "复议〔2026〕7号".into(), reason: "行政复议".into() },
                Obstacle::NotYetDue { deadline: utc(DUE) }
            ]
        );
        // Past the deadline the hold alone still refuses; released, the purge may go ahead.
        assert_eq!(obstacles(&r, &policy(), "2027-01-01T00:00:00Z").len(), 1);
        r.holds[0].release("李局长", utc("2026-12-01T00:00:00Z"), "复议结束").unwrap();
        assert_eq!(obstacles(&r, &policy(), "2027-01-01T00:00:00Z"), vec![]);
    }

    #[test]
    fn purge_refuses_long_term_footage_permanent_or_not() {
        let mut r = rec("s1", "2026-01-15T10:00:00");
        r.flags.push(Flag::new(Trigger::Dispute, "王科长", utc("2026-02-01T00:00:00Z"), "当事人投诉").unwrap());
        assert_eq!(
            obstacles(&r, &policy(), "2090-01-01T00:00:00Z"),
            vec![Obstacle::LongTerm { triggers: vec![Trigger::Dispute], cases: vec![] }, Obstacle::Permanent]
        );
        let years = Policy { long_term: LongTerm::Years(2), ..policy() };
        assert_eq!(
            obstacles(&r, &years, "2090-01-01T00:00:00Z"),
            vec![Obstacle::LongTerm { triggers: vec![Trigger::Dispute], cases: vec![] }]
        );
        let mut c = rec("s2", "2026-01-15T10:00:00");
        c.cases.push("宜卫罚〔2026〕3号".into());
        assert_eq!(
            obstacles(&c, &policy(), "2090-01-01T00:00:00Z"),
            vec![Obstacle::LongTerm { triggers: vec![], cases: vec!["宜卫罚〔2026〕3号".into()] }, Obstacle::Permanent]
        );
        let msg = purge_eligible(&c, &policy(), utc("2090-01-01T00:00:00Z")).unwrap_err().to_string();
        assert!(msg.contains("宜卫罚〔2026〕3号") && msg.contains("permanently"), "{msg}");
    }

    #[test]
    fn due_lists_what_expires_in_the_window() {
        let a = rec("a", "2026-01-15T10:00:00");
        let b = rec("b", "2026-01-20T10:00:00");
        let mut held = rec("c", "2026-01-10T10:00:00");
        held.holds.push(Hold::new("h1", "王科长", utc("2026-02-01T00:00:00Z"), "调阅").unwrap());
        let mut flagged = rec("d", "2026-01-01T10:00:00");
        flagged.flags.push(Flag::new(Trigger::Evidence, "王科长", utc("2026-02-01T00:00:00Z"), "证据").unwrap());
        let all = [b.clone(), a.clone(), held, flagged];
        let got = due(&all, &policy(), TimeDelta::days(7), utc("2026-07-12T00:00:00Z"));
        let ids: Vec<(&str, bool, bool)> = got.iter().map(|d| (d.id.as_str(), d.held, d.overdue)).collect();
        assert_eq!(ids, vec![("c", true, true), ("a", false, false)]);
        assert!(due(&all, &policy(), TimeDelta::days(1), utc("2026-06-01T00:00:00Z")).is_empty());
    }

    fn approved(r: &Recording) -> PurgeRequest {
        let mut q = PurgeRequest::new("p1", r, &policy(), "张管理员", utc("2026-08-01T00:00:00Z"), "期满清理").unwrap();
        q.approve("李局长", utc("2026-08-02T00:00:00Z"), r, &policy()).unwrap();
        q
    }

    #[test]
    fn the_purge_queue_needs_a_second_person_and_a_grace_period() {
        let mut r = rec("s1", "2026-01-15T10:00:00");
        let mut q =
            PurgeRequest::new("p1", &r, &policy(), "张管理员", utc("2026-08-01T00:00:00Z"), "期满清理").unwrap();
        assert_eq!(q.state, PurgeState::AwaitingApproval);
        assert!(matches!(
            q.execute(utc("2026-09-01T00:00:00Z"), &r, &policy()),
            Err(RetentionError::PurgeState { action: "execute", state: "awaiting-approval", .. })
        ));
        assert!(matches!(
            q.approve("张管理员", utc("2026-08-02T00:00:00Z"), &r, &policy()),
            Err(RetentionError::SelfApproval { .. })
        ));
        q.approve("李局长", utc("2026-08-02T00:00:00Z"), &r, &policy()).unwrap();
        assert_eq!(q.grace_until(), Some(utc("2026-08-09T00:00:00Z")));
        r.purge_grace_until = q.grace_until();
        assert_eq!(
            obstacles(&r, &policy(), "2026-08-05T00:00:00Z"),
            vec![Obstacle::InGrace { until: utc("2026-08-09T00:00:00Z") }]
        );
        assert!(matches!(q.execute(utc("2026-08-08T23:59:59Z"), &r, &policy()), Err(RetentionError::InGrace { .. })));
        let t = q.execute(utc("2026-08-09T00:00:00Z"), &r, &policy()).unwrap();
        assert_eq!(t.approved_by, "李局长");
        assert_eq!(t.requested_by, "张管理员");
        assert_eq!(t.deadline, utc(DUE));
        assert_eq!(t.files, r.files);
        assert_eq!(q.state.as_str(), "executed");
        assert!(q.execute(utc("2026-08-10T00:00:00Z"), &r, &policy()).is_err());
        assert!(q.cancel("李局长", utc("2026-08-10T00:00:00Z"), "迟了").is_err());
    }

    #[test]
    fn a_purge_can_be_cancelled_during_its_grace_period() {
        let r = rec("s1", "2026-01-15T10:00:00");
        let mut q = approved(&r);
        assert!(q.cancel("王科长", utc("2026-08-03T00:00:00Z"), "").is_err());
        q.cancel("王科长", utc("2026-08-03T00:00:00Z"), "当事人提起复议").unwrap();
        assert_eq!(q.state.as_str(), "cancelled");
        assert!(q.execute(utc("2026-09-01T00:00:00Z"), &r, &policy()).is_err());
        assert!(q.approve("李局长", utc("2026-09-01T00:00:00Z"), &r, &policy()).is_err());
    }

    #[test]
    fn a_hold_placed_during_the_grace_period_stops_the_purge() {
        let mut r = rec("s1", "2026-01-15T10:00:00");
        let mut q = approved(&r);
        r.holds.push(Hold::new("h1", "王科长", utc("2026-08-05T00:00:00Z"), "检察院调阅").unwrap());
        let err = q.execute(utc("2026-08-10T00:00:00Z"), &r, &policy()).unwrap_err();
        assert!(matches!(err, RetentionError::Refused(ref f) if f.obstacles.len() == 1), "{err}");
        assert_eq!(q.state.as_str(), "grace");
    }

    /// The log's view of `r` when the catalogue and the log agree: one file, nothing else.
    fn agreeing(r: &Recording) -> LoggedRecording {
        let f = &r.files[0];
        LoggedRecording {
            id: r.id.clone(),
            files: BTreeMap::from([(
                1,
                Some(LoggedFile {
                    paths: BTreeSet::from([f.path.clone()]),
                    blake3: f.blake3.clone(),
                    size: f.size,
                    purged: false,
                    recording: Some(r.id.clone()),
                }),
            )]),
            ..LoggedRecording::default()
        }
    }

    fn whats(found: &[Mismatch]) -> Vec<&'static str> {
        found.iter().map(|m| m.what).collect()
    }

    #[test]
    fn the_catalogue_is_held_against_the_log_row_by_row() {
        let r = rec("s1", "2026-01-15T10:00:00");
        let files = vec![(1, vec![r.files[0].path.clone()])];
        let hold = Hold::new("复议〔2026〕7号", "王科长", utc("2026-03-01T00:00:00Z"), "行政复议").unwrap();
        let flag = Flag::new(Trigger::Dispute, "王科长", utc("2026-02-01T00:00:00Z"), "投诉").unwrap();
        let check =
            |c: Catalogued<'_>, l: &LoggedRecording, q: Option<&PurgeRequest>| check_against_log(&c, l, q, &policy());
        let plain = Catalogued { recording: &r, holds: &[], flags: &[], files: &files };
        assert_eq!(check(plain, &agreeing(&r), None), vec![], "agreement");

        // A hold in force in the log: deleted, released, or never there in the catalogue.
        let mut held = agreeing(&r);
        held.holds.insert(4, ("复议〔2026〕7号".into(), true));
        let found = check(plain, &held, None);
        assert_eq!(whats(&found), ["hold"]);
        assert!(found[0].text.contains("row 4") && found[0].text_zh.contains("保全"), "{}", found[0]);
        let mut released = hold.clone();
        released.release("李局长", utc("2026-04-01T00:00:00Z"), "x").unwrap();
        let rows = [(4, released)];
        assert_eq!(whats(&check(Catalogued { holds: &rows, ..plain }, &held, None)), ["hold"]);
        let rows = [(4, hold.clone())];
        assert_eq!(check(Catalogued { holds: &rows, ..plain }, &held, None), vec![]);
        assert_eq!(whats(&check(Catalogued { holds: &rows, ..plain }, &agreeing(&r), None)), ["hold"], "forged");

        // A flag in force in the log, withdrawn or of another trigger in the catalogue.
        let mut flagged = agreeing(&r);
        flagged.flags.insert(2, (Trigger::Dispute, true));
        assert!(whats(&check(plain, &flagged, None)).contains(&"flag"));
        let other = [(2, Flag { trigger: Trigger::Other, ..flag.clone() })];
        assert!(whats(&check(Catalogued { flags: &other, ..plain }, &flagged, None)).contains(&"flag"));
        let same = [(2, flag.clone())];
        let mut flagged_cat = r.clone();
        flagged_cat.flags.push(flag.clone());
        flagged_cat.kept_deadline = Some(Deadline::Permanent);
        assert_eq!(check(Catalogued { recording: &flagged_cat, flags: &same, ..plain }, &flagged, None), vec![]);

        // Filed into a case in the log: the case is long-term, the deadline permanent.
        let mut filed = agreeing(&r);
        filed.cases.insert("宜卫罚〔2026〕3号".into());
        filed.earliest_end = Some(r.start);
        assert_eq!(whats(&check(plain, &filed, None)), ["case", "deadline"]);

        // A deadline the log recorded later than the catalogue's.
        let mut later = agreeing(&r);
        later.recorded_deadline = Some(Deadline::At(utc("2027-01-01T00:00:00Z")));
        assert_eq!(whats(&check(plain, &later, None)), ["deadline"]);
        // Times edited back: the dated folder of the file still says when it was recorded.
        let mut moved_back = r.clone();
        moved_back.end -= TimeDelta::days(400);
        let mut dated = agreeing(&r);
        dated.earliest_end = Some(r.end - TimeDelta::days(1));
        let c = Catalogued { recording: &moved_back, ..plain };
        assert_eq!(whats(&check(c, &dated, None)), ["deadline"]);
        assert_eq!(check(plain, &dated, None), vec![], "a day's margin is not a finding");

        // Files: unknown, purged, elsewhere, another hash, another recording.
        let mut l = agreeing(&r);
        l.files.insert(1, None);
        assert_eq!(whats(&check(plain, &l, None)), ["file"]);
        for change in [
            |f: &mut LoggedFile| f.purged = true,
            |f: &mut LoggedFile| f.paths = BTreeSet::from(["other".to_string()]),
            |f: &mut LoggedFile| f.blake3 = "cd".repeat(32),
            |f: &mut LoggedFile| f.recording = Some("s9".into()),
        ] {
            let mut l = agreeing(&r);
            change(l.files.get_mut(&1).unwrap().as_mut().unwrap());
            assert_eq!(whats(&check(plain, &l, None)), ["file"]);
        }
    }

    #[test]
    fn an_approval_counts_only_as_the_log_recorded_it() {
        let r = rec("s1", "2026-01-15T10:00:00");
        let files = vec![(1, vec![r.files[0].path.clone()])];
        let c = Catalogued { recording: &r, holds: &[], flags: &[], files: &files };
        let mut q = PurgeRequest::new("1", &r, &policy(), "张管理员", utc("2026-08-01T00:00:00Z"), "期满").unwrap();
        let mut l = agreeing(&r);
        let check = |l: &LoggedRecording, q: &PurgeRequest| check_against_log(&c, l, Some(q), &policy());
        assert_eq!(whats(&check(&l, &q)), ["approval"], "a request the log never saw");
        l.requests.insert(
            1,
            LoggedPurge { recording: "s1".into(), requested_by: "张管理员".into(), ..LoggedPurge::default() },
        );
        assert_eq!(check(&l, &q), vec![]);
        q.approve("李局长", utc("2026-08-02T00:00:00Z"), &r, &policy()).unwrap();
        let found = check(&l, &q);
        assert_eq!(whats(&found), ["approval"], "an approval forged into the catalogue");
        assert!(found[0].text.contains("holds no approval"), "{}", found[0]);
        let until = q.grace_until();
        l.requests.get_mut(&1).unwrap().approved_by = Some("李局长".into());
        l.requests.get_mut(&1).unwrap().grace_until = until;
        assert_eq!(check(&l, &q), vec![]);
        // Another approver, or the requester approving, or a shorter grace, in the log.
        for edit in [
            |p: &mut LoggedPurge| p.approved_by = Some("王五".into()),
            |p: &mut LoggedPurge| p.requested_by = "李局长".into(),
            |p: &mut LoggedPurge| p.grace_until = None,
            |p: &mut LoggedPurge| p.cancelled = true,
        ] {
            let mut l2 = l.clone();
            edit(l2.requests.get_mut(&1).unwrap());
            assert!(whats(&check(&l2, &q)).contains(&"approval"));
        }
    }

    #[test]
    fn requests_refuse_what_is_not_eligible_and_the_wrong_recording() {
        let r = rec("s1", "2026-01-15T10:00:00");
        assert!(matches!(
            PurgeRequest::new("p1", &r, &policy(), "张管理员", utc("2026-07-01T00:00:00Z"), "清理"),
            Err(RetentionError::Refused(_))
        ));
        assert!(PurgeRequest::new("p1", &r, &policy(), "张管理员", utc("2026-08-01T00:00:00Z"), " ").is_err());
        let mut q = PurgeRequest::new("p1", &r, &policy(), "张管理员", utc("2026-08-01T00:00:00Z"), "清理").unwrap();
        let other = rec("s2", "2026-01-15T10:00:00");
        assert!(matches!(
            q.approve("李局长", utc("2026-08-02T00:00:00Z"), &other, &policy()),
            Err(RetentionError::WrongRecording { .. })
        ));
    }
}
