//! What expires, what may be purged, and the purge queue (R7, R11): a purge is requested,
//! approved by a second person, waits a grace period during which it can be cancelled, and only
//! then runs, leaving a tombstone.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

use super::policy::{class, deadline, Class, Deadline, FileHash, Policy, Recording, Trigger};
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
