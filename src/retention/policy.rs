//! Retention classes, long-term triggers, legal holds and deadlines (R7).

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::months::expiry_after_months;
use super::RetentionError;

/// The fewest months of standard retention any of the regulations allows (S3 §27: 3 months).
pub const MIN_STANDARD_MONTHS: u32 = 3;

/// Why a recording is kept long-term (R7; S0 §16, S1 §7). Each is set explicitly by a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Trigger {
    /// Used as evidence (作为证据使用).
    Evidence,
    /// Administrative review, litigation, objection or complaint (复议、诉讼、异议、投诉).
    Dispute,
    /// Obstruction, violence or insults against officers (阻挠、暴力抗法、辱骂执法人员).
    Obstruction,
    /// Emergency or mass incident (突发事件、群体性事件).
    Emergency,
    /// Major, complex or difficult case (重大、复杂、疑难案件).
    MajorCase,
    /// Another important situation (其他需要长期保存的重要情况).
    Other,
}

impl Trigger {
    /// All triggers, in the order the regulations list them.
    pub const ALL: [Trigger; 6] = [
        Trigger::Evidence,
        Trigger::Dispute,
        Trigger::Obstruction,
        Trigger::Emergency,
        Trigger::MajorCase,
        Trigger::Other,
    ];

    /// Stable name (catalogue, custody log, `--json`).
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Evidence => "evidence",
            Trigger::Dispute => "dispute",
            Trigger::Obstruction => "obstruction",
            Trigger::Emergency => "emergency",
            Trigger::MajorCase => "major-case",
            Trigger::Other => "other",
        }
    }

    /// Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            Trigger::Evidence => "作为证据使用",
            Trigger::Dispute => "复议、诉讼、异议或投诉",
            Trigger::Obstruction => "阻挠执法或暴力抗法",
            Trigger::Emergency => "突发事件或群体性事件",
            Trigger::MajorCase => "重大、复杂、疑难案件",
            Trigger::Other => "其他重要情况",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Who ended a flag or a hold, when and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The user.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: String,
}

impl Release {
    fn new(what: &'static str, by: &str, at: DateTime<Utc>, reason: &str) -> Result<Release, RetentionError> {
        let (by, reason) = who_and_why(what, by, reason)?;
        Ok(Release { by, at, reason })
    }
}

fn who_and_why(what: &'static str, by: &str, reason: &str) -> Result<(String, String), RetentionError> {
    if by.trim().is_empty() {
        return Err(RetentionError::EmptyActor { what });
    }
    if reason.trim().is_empty() {
        return Err(RetentionError::EmptyReason { what });
    }
    Ok((by.trim().to_string(), reason.trim().to_string()))
}

/// A long-term trigger set on a recording: what, who, when and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The trigger.
    pub trigger: Trigger,
    /// Who set it.
    pub set_by: String,
    /// When.
    pub set_at: DateTime<Utc>,
    /// Why (never empty when made with [`Flag::new`]; the compliance report flags stored flags
    /// whose reason is empty).
    pub reason: String,
    /// Withdrawn, if it was. The deadline it gave stays (a deadline is never shortened on its own).
    pub withdrawn: Option<Release>,
}

impl Flag {
    /// A new flag.
    ///
    /// # Errors
    /// [`RetentionError::EmptyActor`] or [`RetentionError::EmptyReason`] when `by` or `reason`
    /// is blank.
    pub fn new(trigger: Trigger, by: &str, at: DateTime<Utc>, reason: &str) -> Result<Flag, RetentionError> {
        let (set_by, reason) = who_and_why("long-term flag", by, reason)?;
        Ok(Flag { trigger, set_by, set_at: at, reason, withdrawn: None })
    }

    /// Whether the flag is in force.
    pub fn is_active(&self) -> bool {
        self.withdrawn.is_none()
    }

    /// Withdraws the flag.
    ///
    /// # Errors
    /// When `by` or `reason` is blank, or the flag was already withdrawn.
    pub fn withdraw(&mut self, by: &str, at: DateTime<Utc>, reason: &str) -> Result<(), RetentionError> {
        if let Some(w) = &self.withdrawn {
            return Err(RetentionError::AlreadyReleased { what: "long-term flag", by: w.by.clone() });
        }
        self.withdrawn = Some(Release::new("withdrawing a long-term flag", by, at, reason)?);
        Ok(())
    }
}

/// A legal hold: nothing under it is purged, whatever its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// Identifier (e.g. the requesting authority's document number).
    pub id: String,
    /// Who placed it.
    pub set_by: String,
    /// When.
    pub set_at: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// Released, if it was.
    pub released: Option<Release>,
}

impl Hold {
    /// A new hold.
    ///
    /// # Errors
    /// When `id`, `by` or `reason` is blank.
    pub fn new(id: &str, by: &str, at: DateTime<Utc>, reason: &str) -> Result<Hold, RetentionError> {
        if id.trim().is_empty() {
            return Err(RetentionError::EmptyReason { what: "legal hold identifier" });
        }
        let (set_by, reason) = who_and_why("legal hold", by, reason)?;
        Ok(Hold { id: id.trim().to_string(), set_by, set_at: at, reason, released: None })
    }

    /// Whether the hold is in force.
    pub fn is_active(&self) -> bool {
        self.released.is_none()
    }

    /// Releases the hold.
    ///
    /// # Errors
    /// When `by` or `reason` is blank, or the hold was already released.
    pub fn release(&mut self, by: &str, at: DateTime<Utc>, reason: &str) -> Result<(), RetentionError> {
        if let Some(r) = &self.released {
            return Err(RetentionError::AlreadyReleased { what: "legal hold", by: r.by.clone() });
        }
        self.released = Some(Release::new("releasing a legal hold", by, at, reason)?);
        Ok(())
    }
}

/// How long long-term footage is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongTerm {
    /// A number of years after the recording's end (as long as the case file, S2 §22).
    Years(u32),
    /// For ever.
    Permanent,
}

/// The bureau's retention rules (configuration keys `retention.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The station's time zone: deadlines fall at local midnight.
    pub tz: Tz,
    /// Standard retention in calendar months (6 by default; at least `MIN_STANDARD_MONTHS`).
    pub standard_months: u32,
    /// Long-term retention.
    pub long_term: LongTerm,
    /// Footage filed into a case is kept long-term like flagged footage (kept with the case file).
    pub case_footage_long_term: bool,
    /// How long an approved purge waits, cancellable, before it may run (7 days by default).
    pub purge_grace: TimeDelta,
}

impl Policy {
    /// The strictest common defaults: 6 months, long-term permanent, case footage long-term,
    /// 7 days' grace.
    pub fn new(tz: Tz) -> Policy {
        Policy {
            tz,
            standard_months: 6,
            long_term: LongTerm::Permanent,
            case_footage_long_term: true,
            purge_grace: TimeDelta::days(7),
        }
    }

    /// Checks the values against what the regulations allow.
    ///
    /// # Errors
    /// [`RetentionError::Policy`] naming the key when standard retention is below
    /// `MIN_STANDARD_MONTHS`, long-term is shorter than standard, or the grace period is
    /// negative.
    pub fn validate(&self) -> Result<(), RetentionError> {
        if self.standard_months < MIN_STANDARD_MONTHS {
            return Err(RetentionError::Policy {
                key: "retention.standard_months",
                value: self.standard_months.to_string(),
                reason: format!("no regulation allows less than {MIN_STANDARD_MONTHS} months"),
            });
        }
        if let LongTerm::Years(y) = self.long_term {
            if u64::from(y) * 12 < u64::from(self.standard_months) {
                return Err(RetentionError::Policy {
                    key: "retention.long_term_years",
                    value: y.to_string(),
                    reason: "long-term retention cannot be shorter than standard retention".to_string(),
                });
            }
        }
        if self.purge_grace < TimeDelta::zero() {
            return Err(RetentionError::Policy {
                key: "retention.purge_grace_days",
                value: self.purge_grace.num_days().to_string(),
                reason: "the grace period cannot be negative".to_string(),
            });
        }
        Ok(())
    }
}

/// One archived file of a recording, for the tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHash {
    /// Path in the archive.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// BLAKE3 hash, hex.
    pub blake3: String,
}

/// What retention needs to know about one recording (built from the catalogue by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// Recording (session) identifier.
    pub id: String,
    /// Recorder serial.
    pub device: String,
    /// Officer the recorder was assigned to, if known.
    pub officer: Option<String>,
    /// Corrected start, station-local.
    pub start: NaiveDateTime,
    /// Corrected end, station-local.
    pub end: NaiveDateTime,
    /// When it reached the station's storage (its first file's ingest), station-local, if
    /// known: the keep period counts from the later of this and `end` (R7; S3 §27: 专用设备存储
    /// 的音像记录保存期限不少于3个月), so footage docked late is never due soon after it arrived.
    pub stored: Option<NaiveDateTime>,
    /// Case numbers it is filed under.
    pub cases: Vec<String>,
    /// Long-term flags, active and withdrawn.
    pub flags: Vec<Flag>,
    /// Legal holds, active and released.
    pub holds: Vec<Hold>,
    /// The deadline already recorded for it, if any: a new computation never shortens it.
    pub kept_deadline: Option<Deadline>,
    /// End of the grace period of an approved purge of it, if one is pending.
    pub purge_grace_until: Option<DateTime<Utc>>,
    /// Its archived files.
    pub files: Vec<FileHash>,
}

/// A recording's retention class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Standard retention (unclassified footage is standard, never less).
    Standard,
    /// Long-term: an active flag, or filed into a case where the policy says so.
    LongTerm,
}

impl Class {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Standard => "standard",
            Class::LongTerm => "long-term",
        }
    }
    /// Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            Class::Standard => "普通保存",
            Class::LongTerm => "长期保存",
        }
    }
}

/// The first moment a recording may be purged, or never.
///
/// Ordered: every [`Deadline::At`] comes before [`Deadline::Permanent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Deadline {
    /// Kept until just before this moment.
    At(DateTime<Utc>),
    /// Kept for ever.
    Permanent,
}

impl Deadline {
    /// The moment, unless permanent.
    pub fn at(self) -> Option<DateTime<Utc>> {
        match self {
            Deadline::At(t) => Some(t),
            Deadline::Permanent => None,
        }
    }
}

/// The recording's class under `policy`.
pub fn class(rec: &Recording, policy: &Policy) -> Class {
    if rec.flags.iter().any(Flag::is_active) || (policy.case_footage_long_term && !rec.cases.is_empty()) {
        Class::LongTerm
    } else {
        Class::Standard
    }
}

/// The moment the keep period counts from: the later of the corrected end and the storage
/// time (R7; S3 §27, S0 §16, S2 §22).
pub fn counted_from(rec: &Recording) -> NaiveDateTime {
    rec.stored.map_or(rec.end, |s| s.max(rec.end))
}

/// The deadline the rules give today, ignoring any deadline already recorded: the later of the
/// corrected end and the storage time ([`counted_from`]) plus the class's duration, at the next local midnight in the station's zone. A long-term
/// deadline is never earlier than the standard one. Beyond the representable range of dates
/// the answer is [`Deadline::Permanent`].
pub fn computed_deadline(rec: &Recording, policy: &Policy) -> Deadline {
    let months = match (class(rec, policy), policy.long_term) {
        (Class::Standard, _) => policy.standard_months,
        (Class::LongTerm, LongTerm::Permanent) => return Deadline::Permanent,
        (Class::LongTerm, LongTerm::Years(y)) => y.saturating_mul(12).max(policy.standard_months),
    };
    match expiry_after_months(policy.tz, counted_from(rec), months) {
        Some(t) => Deadline::At(t),
        None => Deadline::Permanent,
    }
}

/// The recording's deadline: the later of the one already recorded and the computed one.
pub fn deadline(rec: &Recording, policy: &Policy) -> Deadline {
    revise(rec.kept_deadline, computed_deadline(rec, policy)).deadline()
}

/// The deadline a recording returns to when another person approves the withdrawal of a
/// long-term flag (`rec.flags` without it): what the rules give without the flag, counted from
/// the later of recording and storage ([`counted_from`]), so never earlier than the minimum
/// counted from storage, and still long-term while another flag or a case filing keeps it so.
/// The one deadline that may be earlier than the one recorded (INV-11's exception, R7).
pub fn returned_deadline(rec: &Recording, policy: &Policy) -> Deadline {
    computed_deadline(rec, policy)
}

/// What [`revise`] did to a recorded deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revision {
    /// No deadline was recorded; this is the first.
    First(Deadline),
    /// The computed deadline equals the recorded one.
    Unchanged(Deadline),
    /// The computed deadline is later; the deadline moves to it.
    Extended {
        /// The recorded deadline.
        from: Deadline,
        /// The new one.
        to: Deadline,
    },
    /// The computed deadline is earlier; the recorded one is kept (R7: a deadline is never
    /// shortened on its own).
    ShorteningRefused {
        /// The recorded deadline, still in force.
        kept: Deadline,
        /// The earlier deadline the rules now give.
        computed: Deadline,
    },
}

impl Revision {
    /// The deadline in force after the revision.
    pub fn deadline(self) -> Deadline {
        match self {
            Revision::First(d) | Revision::Unchanged(d) => d,
            Revision::Extended { to, .. } => to,
            Revision::ShorteningRefused { kept, .. } => kept,
        }
    }
}

/// Revises a recorded deadline with a newly computed one, keeping the later.
pub fn revise(recorded: Option<Deadline>, computed: Deadline) -> Revision {
    match recorded {
        None => Revision::First(computed),
        Some(old) if old == computed => Revision::Unchanged(old),
        Some(old) if computed > old => Revision::Extended { from: old, to: computed },
        Some(old) => Revision::ShorteningRefused { kept: old, computed },
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use chrono::TimeZone;

    pub fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    pub fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
    }

    pub fn rec(id: &str, end: &str) -> Recording {
        Recording {
            id: id.to_string(),
            device: "ZFY0001".to_string(),
            officer: Some("3201001".to_string()),
            start: local(end) - TimeDelta::minutes(30),
            end: local(end),
            stored: None,
            cases: vec![],
            flags: vec![],
            holds: vec![],
            kept_deadline: None,
            purge_grace_until: None,
            files: vec![FileHash {
                path: "2026/01/15/当日未归档/a.mp4".into(), size: 10, blake3: "ab".repeat(32)
            }],
        }
    }

    pub fn policy() -> Policy {
        Policy::new(chrono_tz::Asia::Shanghai)
    }

    /// R7, S3 §27 (专用设备存储的音像记录保存期限不少于3个月): recorded in May, docked in
    /// December, the keep period runs from December, never from May.
    #[test]
    fn footage_docked_late_is_kept_from_its_storage() {
        let mut r = rec("s1", "2025-05-10T10:00:00");
        assert_eq!(deadline(&r, &policy()), Deadline::At(utc("2025-11-10T16:00:00Z")), "from the end alone");
        r.stored = Some(local("2025-12-02T08:30:00"));
        assert_eq!(counted_from(&r), local("2025-12-02T08:30:00"));
        assert_eq!(deadline(&r, &policy()), Deadline::At(utc("2026-06-02T16:00:00Z")), "six months from storage");
        let mut three = policy();
        three.standard_months = MIN_STANDARD_MONTHS;
        assert_eq!(deadline(&r, &three), Deadline::At(utc("2026-03-02T16:00:00Z")), "three months from storage");
        // Docked before it ended (a clock far ahead): the end still counts.
        r.stored = Some(local("2025-05-01T00:00:00"));
        assert_eq!(deadline(&r, &policy()), Deadline::At(utc("2025-11-10T16:00:00Z")));
    }

    /// R7, S3 §27 and S2 §22: a withdrawn flag returns footage to the standard deadline,
    /// never earlier than the minimum counted from storage; another flag keeps it long-term.
    #[test]
    fn a_withdrawn_flag_returns_the_standard_deadline_from_storage() {
        let mut r = rec("s1", "2025-05-10T10:00:00");
        r.stored = Some(local("2025-12-02T08:30:00"));
        r.kept_deadline = Some(Deadline::Permanent);
        let p = policy();
        let back = returned_deadline(&r, &p);
        assert_eq!(back, Deadline::At(utc("2026-06-02T16:00:00Z")));
        let min = expiry_after_months(p.tz, local("2025-12-02T08:30:00"), MIN_STANDARD_MONTHS).unwrap();
        assert!(back >= Deadline::At(min));
        r.flags.push(Flag::new(Trigger::Dispute, "王科长", utc("2026-01-01T00:00:00Z"), "复议").unwrap());
        assert_eq!(returned_deadline(&r, &p), Deadline::Permanent, "another flag still in force");
    }

    #[test]
    fn unclassified_footage_keeps_the_standard_deadline() {
        let r = rec("s1", "2025-08-31T23:10:00");
        assert_eq!(class(&r, &policy()), Class::Standard);
        // Kept through 28 February 2026 (month end), purgeable from 1 March 00:00 Beijing time.
        assert_eq!(deadline(&r, &policy()), Deadline::At(utc("2026-02-28T16:00:00Z")));
        let three = Policy { standard_months: 3, ..policy() };
        assert_eq!(deadline(&r, &three), Deadline::At(utc("2025-11-30T16:00:00Z")));
    }

    #[test]
    fn the_station_zone_sets_the_midnight() {
        let r = rec("s1", "2026-01-15T10:00:00");
        let ny = Policy { tz: chrono_tz::America::New_York, ..policy() };
        // 16 July 2026 00:00 in New York is 04:00 UTC (daylight time).
        assert_eq!(deadline(&r, &ny), Deadline::At(utc("2026-07-16T04:00:00Z")));
        assert_eq!(deadline(&r, &policy()), Deadline::At(utc("2026-07-15T16:00:00Z")));
    }

    #[test]
    fn flags_and_case_files_make_footage_long_term() {
        let at = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
        let mut r = rec("s1", "2026-01-15T10:00:00");
        r.flags.push(Flag::new(Trigger::Obstruction, "王科长", at, "当事人推搡执法人员").unwrap());
        assert_eq!(class(&r, &policy()), Class::LongTerm);
        assert_eq!(deadline(&r, &policy()), Deadline::Permanent);
        let ten = Policy { long_term: LongTerm::Years(10), ..policy() };
        assert_eq!(deadline(&r, &ten), Deadline::At(utc("2036-01-15T16:00:00Z")));

        let mut c = rec("s2", "2026-01-15T10:00:00");
        c.cases.push("宜卫罚〔2026〕3号".into());
        assert_eq!(class(&c, &policy()), Class::LongTerm);
        let not_case = Policy { case_footage_long_term: false, ..policy() };
        assert_eq!(class(&c, &not_case), Class::Standard);
    }

    #[test]
    fn a_withdrawn_flag_does_not_shorten_the_recorded_deadline() {
        let at = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
        let mut r = rec("s1", "2026-01-15T10:00:00");
        r.flags.push(Flag::new(Trigger::Evidence, "王科长", at, "作为处罚证据").unwrap());
        r.kept_deadline = Some(deadline(&r, &policy()));
        r.flags[0].withdraw("李局长", at, "案件撤销").unwrap();
        assert_eq!(class(&r, &policy()), Class::Standard);
        let rev = revise(r.kept_deadline, computed_deadline(&r, &policy()));
        assert!(matches!(rev, Revision::ShorteningRefused { kept: Deadline::Permanent, computed: Deadline::At(_) }));
        assert_eq!(deadline(&r, &policy()), Deadline::Permanent);
        assert!(r.flags[0].withdraw("李局长", at, "again").is_err());
    }

    #[test]
    fn revise_keeps_the_later_deadline() {
        let a = Deadline::At(utc("2026-07-01T00:00:00Z"));
        let b = Deadline::At(utc("2026-08-01T00:00:00Z"));
        assert_eq!(revise(None, a), Revision::First(a));
        assert_eq!(revise(Some(a), a), Revision::Unchanged(a));
        assert_eq!(revise(Some(a), b), Revision::Extended { from: a, to: b });
        assert_eq!(revise(Some(b), a), Revision::ShorteningRefused { kept: b, computed: a });
        assert_eq!(revise(Some(b), a).deadline(), b);
        assert_eq!(revise(Some(b), Deadline::Permanent).deadline(), Deadline::Permanent);
        assert_eq!(revise(Some(Deadline::Permanent), a).deadline(), Deadline::Permanent);
    }

    #[test]
    fn flags_and_holds_need_who_and_why() {
        let at = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
        assert_eq!(
            Flag::new(Trigger::Other, "王科长", at, "  "),
            Err(RetentionError::EmptyReason { what: "long-term flag" })
        );
        assert_eq!(
            Flag::new(Trigger::Other, "", at, "理由"),
            Err(RetentionError::EmptyActor { what: "long-term flag" })
        );
        assert!(Hold::new("", "王科长", at, "理由").is_err());
        assert!(Hold::new("检察院调阅函〔2026〕1号", "王科长", at, "").is_err());
        let mut h = Hold::new("检察院调阅函〔2026〕1号", "王科长", at, "检察院调阅").unwrap();
        assert!(h.release("李局长", at, "").is_err());
        assert!(h.is_active());
        h.release("李局长", at, "调阅结束").unwrap();
        assert!(!h.is_active());
        assert!(h.release("李局长", at, "again").is_err());
    }

    #[test]
    fn triggers_round_trip() {
        for t in Trigger::ALL {
            assert_eq!(Trigger::parse(t.as_str()), Some(t));
            assert!(!t.label_zh().is_empty());
        }
        assert_eq!(Trigger::parse("non-evidence"), None);
    }

    #[test]
    fn policy_values_are_checked() {
        assert!(policy().validate().is_ok());
        assert!(Policy { standard_months: 2, ..policy() }.validate().is_err());
        assert!(Policy { standard_months: 3, ..policy() }.validate().is_ok());
        assert!(Policy { standard_months: 24, long_term: LongTerm::Years(1), ..policy() }.validate().is_err());
        assert!(Policy { purge_grace: TimeDelta::days(-1), ..policy() }.validate().is_err());
    }
}
