//! Access to footage (R9, R10): confidentiality marks, access requests and their approval.
//!
//! Footage is for work use only; viewing, copying or exporting it needs a request with a
//! reason, approved by an approver who is not the requester and who stands at the tier the
//! bureau names for the request's party and kind ([`tier`]); an approval lapses after its
//! validity; an export uses it up. Footage marked secret, work secret, commercial secret or
//! privacy may be requested and approved only by the people the configuration names for that
//! mark. A party (当事人) may receive records about themselves but never an informant's
//! identity. An officer may ask for their own footage.
//!
//! Owns: the [`Kind`]s, [`Party`] kinds and [`Mark`]s with their stable names and Chinese
//! labels, the request state machine ([`AccessRequest`]), the approval tiers ([`tier`]) and the
//! printable forms built from the custody log ([`form`]).
//! Must never: do I/O or read a clock: times come in as values.

pub mod form;
pub mod tier;

use chrono::{DateTime, TimeDelta, Utc};

/// What the requester wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Watch at the station (查看).
    View,
    /// Take a copy for internal use (复制).
    Copy,
    /// Hand a copy to an outside party: court, procuratorate, the party (调取/导出).
    Export,
}

/// Who the footage is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The bureau itself.
    Internal,
    /// A court (人民法院).
    Court,
    /// A procuratorate (人民检察院).
    Procuratorate,
    /// The party concerned (当事人): never receives an informant's identity.
    Party,
    /// Another body, named in the request.
    Other,
    /// The officer who recorded the footage, for their own recordings (执法人员本人).
    Officer,
    /// Public release (公开发布, S1 §17, S2 §26, S3 §30), naming where.
    Public,
}

impl Party {
    /// Whether footage for this party leaves the bureau (an export), as opposed to staying
    /// inside it (a view or an internal copy).
    pub fn is_outside(self) -> bool {
        !matches!(self, Party::Internal | Party::Officer)
    }
}

/// A confidentiality mark on a case or a recording (R10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    /// State secret (国家秘密).
    Secret,
    /// Commercial secret (商业秘密).
    CommercialSecret,
    /// Personal privacy (个人隐私).
    Privacy,
    /// Work secret (工作秘密, S2 §18), beside state secret, commercial secret and privacy.
    WorkSecret,
}

macro_rules! names {
    ($t:ty { $($v:ident => $s:literal, $zh:literal;)* }) => {
        impl $t {
            /// Every value.
            pub const ALL: &'static [$t] = &[$(<$t>::$v),*];
            /// The stable name.
            pub fn as_str(self) -> &'static str {
                match self { $(<$t>::$v => $s),* }
            }
            /// The Chinese label.
            pub fn label_zh(self) -> &'static str {
                match self { $(<$t>::$v => $zh),* }
            }
            /// The value with this stable name.
            pub fn parse(s: &str) -> Option<$t> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }
    };
}

names!(Kind { View => "view", "查看"; Copy => "copy", "复制"; Export => "export", "导出"; });
names!(Party {
    Internal => "internal", "本单位";
    Court => "court", "人民法院";
    Procuratorate => "procuratorate", "人民检察院";
    Party => "party", "当事人";
    Other => "other", "其他单位";
    Officer => "officer", "执法人员本人";
    Public => "public", "公开发布";
});
names!(Mark {
    Secret => "secret", "国家秘密";
    CommercialSecret => "commercial-secret", "商业秘密";
    Privacy => "privacy", "个人隐私";
    WorkSecret => "work-secret", "工作秘密";
});

/// Where a request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Awaiting a decision.
    Pending,
    /// Approved; usable until `until`.
    Approved {
        /// Approver.
        by: String,
        /// When.
        at: DateTime<Utc>,
        /// Valid until.
        until: DateTime<Utc>,
    },
    /// Denied.
    Denied {
        /// Approver.
        by: String,
        /// When.
        at: DateTime<Utc>,
        /// Why.
        reason: String,
    },
    /// The approval lapsed unused, or the request was never decided in time.
    Expired {
        /// When it was found lapsed.
        at: DateTime<Utc>,
    },
    /// The approval no longer held when footage was about to leave (a mark added after the
    /// approval, or the approver no longer allowed for a mark): void, never usable again (R10).
    Voided {
        /// When it was found void.
        at: DateTime<Utc>,
        /// Why, in both languages.
        reason: String,
    },
    /// An approved copy or export was made; the approval is used up.
    Used {
        /// Who made it (复制人).
        by: String,
        /// When.
        at: DateTime<Utc>,
    },
}

impl State {
    /// The stable name.
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved { .. } => "approved",
            State::Denied { .. } => "denied",
            State::Expired { .. } => "expired",
            State::Used { .. } => "used",
            State::Voided { .. } => "voided",
        }
    }

    /// The Chinese label.
    pub fn label_zh(&self) -> &'static str {
        match self {
            State::Pending => "待审批",
            State::Approved { .. } => "已批准",
            State::Denied { .. } => "未批准",
            State::Expired { .. } => "已过期",
            State::Used { .. } => "已使用",
            State::Voided { .. } => "已失效",
        }
    }
}

/// What a request covers: a case, or recordings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every recording filed into the case.
    Case(String),
    /// These recordings (`SERIAL/SESSION`).
    Recordings(Vec<String>),
}

/// Why an access step is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// A reason is required.
    #[error("a reason is required (用途/理由必填)")]
    NoReason,
    /// An outside party needs a name.
    #[error("name the {0} receiving the footage with --party-name (接收单位/人员必填)")]
    NoPartyName(&'static str),
    /// Nothing requested.
    #[error("name a case (--case) or at least one recording (--recording)")]
    EmptyScope,
    /// Exports go to someone outside; copies stay inside; anyone may view at the station.
    #[error(
        "an export names who receives it (--party court|procuratorate|party|other|public); a copy is internal \
         (--party internal|officer) / 导出须注明接收方，复制仅限本单位"
    )]
    KindParty,
    /// The requester cannot decide their own request.
    #[error("{0} requested this access and cannot approve or deny it; another approver must (不得审批本人申请)")]
    SelfDecision(String),
    /// Only pending requests are decided.
    #[error("request #{id} is {state}, not pending")]
    NotPending {
        /// Request id.
        id: i64,
        /// Its state.
        state: &'static str,
    },
    /// The request is not (or no longer) approved.
    #[error("request #{id} is {state}: nothing leaves without an approved request (未经批准不得调取)")]
    NotApproved {
        /// Request id.
        id: i64,
        /// Its state.
        state: &'static str,
    },
    /// The approval no longer holds at the moment of use (R10).
    #[error(
        "request #{id} is void: {reason}; nothing leaves under it, request again (审批已失效，不得调取，请重新申请)"
    )]
    Voided {
        /// Request id.
        id: i64,
        /// Why, in both languages.
        reason: String,
    },
    /// The decider stands below the tier the request's party and kind need (R9; S1 §17-18,
    /// S3 §30).
    #[error(
        "request #{id} needs the {needed} ({needed_zh}, access.tiers.{key}); {by} is not one ({heads_key}) \
         / 该申请须经{needed_zh}审批，{by} 无此审批权限"
    )]
    BelowTier {
        /// Request id.
        id: i64,
        /// Who tried to decide.
        by: String,
        /// The tier table's key.
        key: String,
        /// The tier needed.
        needed: &'static str,
        /// Its Chinese label.
        needed_zh: &'static str,
        /// The configuration list naming that tier's people.
        heads_key: &'static str,
    },
    /// An officer's own request covers footage another badge recorded.
    #[error(
        "{recording} was recorded by {recorded_by}, not by your badge {badge}: an officer asks only for their own \
         footage (--party officer) / 仅可申请调阅本人拍摄的录像"
    )]
    NotOwnFootage {
        /// The recording.
        recording: String,
        /// Its officer, or `unknown`.
        recorded_by: String,
        /// The caller's badge.
        badge: String,
    },
    /// The request's kind does not allow this use.
    #[error("request #{id} was approved for {approved}, not {wanted}")]
    WrongKind {
        /// Request id.
        id: i64,
        /// Approved kind.
        approved: &'static str,
        /// Attempted use.
        wanted: &'static str,
    },
}

/// One access request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// Row id (0 before it is stored).
    pub id: i64,
    /// What for.
    pub kind: Kind,
    /// What.
    pub scope: Scope,
    /// Why (用途).
    pub reason: String,
    /// For whom.
    pub party: Party,
    /// The outside body or person, by name.
    pub party_name: Option<String>,
    /// Who asked.
    pub requested_by: String,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// Confidentiality marks on the footage when requested.
    pub marks: Vec<Mark>,
    /// Where it stands.
    pub state: State,
}

impl AccessRequest {
    /// A new pending request.
    ///
    /// # Errors
    /// On an empty reason or scope, an export without a party, or a named party missing.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: Kind,
        scope: Scope,
        reason: &str,
        party: Party,
        party_name: Option<&str>,
        by: &str,
        at: DateTime<Utc>,
        marks: Vec<Mark>,
    ) -> Result<AccessRequest, AccessError> {
        if reason.trim().is_empty() {
            return Err(AccessError::NoReason);
        }
        match &scope {
            Scope::Case(c) if c.trim().is_empty() => return Err(AccessError::EmptyScope),
            Scope::Recordings(r) if r.is_empty() => return Err(AccessError::EmptyScope),
            _ => {}
        }
        let fits = match kind {
            Kind::View => true,
            Kind::Copy => !party.is_outside(),
            Kind::Export => party.is_outside(),
        };
        if !fits {
            return Err(AccessError::KindParty);
        }
        let party_name = party_name.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        if party.is_outside() && party_name.is_none() {
            return Err(AccessError::NoPartyName(party.as_str()));
        }
        Ok(AccessRequest {
            id: 0,
            kind,
            scope,
            reason: reason.trim().to_string(),
            party,
            party_name,
            requested_by: by.to_string(),
            requested_at: at,
            marks,
            state: State::Pending,
        })
    }

    /// Approves: valid for `valid` from `at`.
    ///
    /// # Errors
    /// Self-approval, or a request that is not pending.
    pub fn approve(&mut self, by: &str, at: DateTime<Utc>, valid: TimeDelta) -> Result<(), AccessError> {
        self.decidable(by)?;
        let until = at.checked_add_signed(valid).unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.state = State::Approved { by: by.to_string(), at, until };
        Ok(())
    }

    /// Denies, with a reason.
    ///
    /// # Errors
    /// Self-decision, no reason, or a request that is not pending.
    pub fn deny(&mut self, by: &str, at: DateTime<Utc>, reason: &str) -> Result<(), AccessError> {
        self.decidable(by)?;
        if reason.trim().is_empty() {
            return Err(AccessError::NoReason);
        }
        self.state = State::Denied { by: by.to_string(), at, reason: reason.trim().to_string() };
        Ok(())
    }

    fn decidable(&self, by: &str) -> Result<(), AccessError> {
        if by == self.requested_by {
            return Err(AccessError::SelfDecision(by.to_string()));
        }
        if self.state != State::Pending {
            return Err(AccessError::NotPending { id: self.id, state: self.state.as_str() });
        }
        Ok(())
    }

    /// Marks an approval that has lapsed at `now` as expired (a pending request lapses after
    /// `valid` too). Returns whether it changed.
    pub fn expire(&mut self, now: DateTime<Utc>, valid: TimeDelta) -> bool {
        let lapsed = match &self.state {
            State::Approved { until, .. } => now >= *until,
            State::Pending => self.requested_at.checked_add_signed(valid).is_some_and(|t| now >= t),
            _ => false,
        };
        if lapsed {
            self.state = State::Expired { at: now };
        }
        lapsed
    }

    /// Checks that the request allows `use_` at `now`: approved, not lapsed, and of a kind that
    /// covers it (an export approval allows an export; a copy approval a copy; any approval a
    /// view).
    ///
    /// # Errors
    /// When it does not.
    pub fn usable(&self, use_: Kind, now: DateTime<Utc>) -> Result<(), AccessError> {
        match &self.state {
            State::Approved { until, .. } if now < *until => {}
            State::Approved { .. } => return Err(AccessError::NotApproved { id: self.id, state: "expired" }),
            other => return Err(AccessError::NotApproved { id: self.id, state: other.as_str() }),
        }
        let covers = match use_ {
            Kind::View => true,
            Kind::Copy => self.kind == Kind::Copy,
            Kind::Export => self.kind == Kind::Export,
        };
        if covers {
            Ok(())
        } else {
            Err(AccessError::WrongKind { id: self.id, approved: self.kind.as_str(), wanted: use_.as_str() })
        }
    }

    /// Why the approval no longer holds, given the marks on the footage now and whether the
    /// approver is still allowed to approve footage under each: a mark the request did not carry
    /// when it was approved, or an approver who has lost the right for a mark, voids it (R10:
    /// S0 §18, S2 §26, S4 §25). `None` when it still holds, or when it is not approved.
    pub fn void_reason(&self, marks_now: &[Mark], approver_may: impl Fn(&str, Mark) -> bool) -> Option<String> {
        let State::Approved { by, .. } = &self.state else { return None };
        let added: Vec<Mark> = marks_now.iter().copied().filter(|m| !self.marks.contains(m)).collect();
        if let Some(m) = added.first() {
            return Some(format!(
                "the footage was marked {} after the request was made / 批准后录像被标记为{}",
                m.as_str(),
                m.label_zh()
            ));
        }
        marks_now.iter().find(|m| !approver_may(by, **m)).map(|m| {
            format!(
                "{by} approved it but may no longer approve footage marked {} / 审批人已无权审批{}录像",
                m.as_str(),
                m.label_zh()
            )
        })
    }

    /// Voids the approval at `at` for `reason` (from [`AccessRequest::void_reason`]).
    pub fn void(&mut self, at: DateTime<Utc>, reason: String) {
        self.state = State::Voided { at, reason };
    }

    /// Records the copy or export that used the approval up.
    ///
    /// # Errors
    /// When the request does not allow it ([`AccessRequest::usable`]).
    pub fn use_up(&mut self, use_: Kind, by: &str, at: DateTime<Utc>) -> Result<(), AccessError> {
        self.usable(use_, at)?;
        if use_ != Kind::View {
            self.state = State::Used { by: by.to_string(), at };
        }
        Ok(())
    }

    /// Whether what leaves must keep informants' identities out (R9): a party gets no
    /// informant's name.
    pub fn withholds_informants(&self) -> bool {
        self.party == Party::Party
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, 0, 0).unwrap()
    }

    fn req(kind: Kind, party: Party) -> AccessRequest {
        let name = (party != Party::Internal).then_some("宜昌市中级人民法院");
        let mut r = AccessRequest::new(
            kind,
            Scope::Case("宜卫罚〔2024〕12号".into()),
            "行政诉讼举证",
            party,
            name,
            "zhangsan",
            t(1),
            vec![],
        )
        .unwrap();
        r.id = 7;
        r
    }

    #[test]
    fn names_are_stable_and_parse_back() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(*k));
        }
        for m in Mark::ALL {
            assert_eq!(Mark::parse(m.as_str()), Some(*m));
            assert!(!m.label_zh().is_empty());
        }
        assert_eq!(Party::parse("court").map(Party::label_zh), Some("人民法院"));
        assert_eq!(Mark::parse("Secret"), None);
    }

    #[test]
    fn a_request_needs_a_reason_a_scope_and_a_named_outside_party() {
        let new = |kind, scope, reason: &str, party, name| {
            AccessRequest::new(kind, scope, reason, party, name, "u", t(1), vec![])
        };
        let case = || Scope::Case("A".into());
        assert_eq!(new(Kind::View, case(), " ", Party::Internal, None), Err(AccessError::NoReason));
        assert_eq!(
            new(Kind::View, Scope::Recordings(vec![]), "r", Party::Internal, None),
            Err(AccessError::EmptyScope)
        );
        assert_eq!(new(Kind::Export, case(), "r", Party::Internal, None), Err(AccessError::KindParty));
        assert_eq!(new(Kind::Copy, case(), "r", Party::Court, Some("法院")), Err(AccessError::KindParty));
        assert_eq!(new(Kind::Export, case(), "r", Party::Court, None), Err(AccessError::NoPartyName("court")));
        assert!(new(Kind::Export, case(), "r", Party::Party, Some("李某")).is_ok());
        // S1 §18: a court may view (查阅) at the station; an officer copies their own footage
        // without naming anyone; a public release is an export naming where.
        assert!(new(Kind::View, case(), "r", Party::Court, Some("法院")).is_ok());
        assert!(new(Kind::Copy, case(), "r", Party::Officer, None).is_ok());
        assert_eq!(new(Kind::Export, case(), "r", Party::Officer, None), Err(AccessError::KindParty));
        assert_eq!(new(Kind::Export, case(), "r", Party::Public, None), Err(AccessError::NoPartyName("public")));
    }

    #[test]
    fn nobody_decides_their_own_request_and_decisions_are_final() {
        let mut r = req(Kind::Export, Party::Court);
        assert_eq!(r.approve("zhangsan", t(2), TimeDelta::days(7)), Err(AccessError::SelfDecision("zhangsan".into())));
        assert_eq!(r.deny("zhangsan", t(2), "no"), Err(AccessError::SelfDecision("zhangsan".into())));
        assert_eq!(r.state, State::Pending);
        r.approve("wangwu", t(2), TimeDelta::days(7)).unwrap();
        assert!(matches!(r.deny("lisi", t(3), "no"), Err(AccessError::NotPending { state: "approved", .. })));
    }

    #[test]
    fn nothing_leaves_without_a_live_approval_of_the_right_kind() {
        let mut r = req(Kind::Export, Party::Court);
        assert!(matches!(r.usable(Kind::Export, t(2)), Err(AccessError::NotApproved { state: "pending", .. })));
        r.approve("wangwu", t(2), TimeDelta::hours(5)).unwrap();
        assert_eq!(r.usable(Kind::Export, t(3)), Ok(()));
        assert_eq!(r.usable(Kind::View, t(3)), Ok(()));
        assert!(matches!(r.usable(Kind::Copy, t(3)), Err(AccessError::WrongKind { .. })));
        assert!(matches!(r.usable(Kind::Export, t(7)), Err(AccessError::NotApproved { state: "expired", .. })));
        r.use_up(Kind::Export, "lisi", t(4)).unwrap();
        assert!(matches!(r.usable(Kind::Export, t(5)), Err(AccessError::NotApproved { state: "used", .. })));

        let mut d = req(Kind::Copy, Party::Internal);
        d.deny("wangwu", t(2), "与案件无关").unwrap();
        assert!(matches!(d.usable(Kind::Copy, t(3)), Err(AccessError::NotApproved { state: "denied", .. })));
    }

    /// R10 (S0 §18, S2 §26, S4 §25): secrecy is judged when footage leaves, not only at approval.
    #[test]
    fn an_approval_is_void_once_a_mark_is_added_or_the_approver_loses_the_right() {
        let mut r = req(Kind::Export, Party::Court);
        assert_eq!(r.void_reason(&[Mark::Secret], |_, _| true), None, "pending: nothing to void");
        r.approve("wangwu", t(2), TimeDelta::days(7)).unwrap();
        assert_eq!(r.void_reason(&[], |_, _| false), None, "no marks: holds");
        let added = r.void_reason(&[Mark::Secret], |_, _| true).unwrap();
        assert!(added.contains("marked secret") && added.contains("国家秘密"), "{added}");
        let mut m = req(Kind::Copy, Party::Internal);
        m.marks = vec![Mark::Privacy];
        m.approve("wangwu", t(2), TimeDelta::days(7)).unwrap();
        assert_eq!(m.void_reason(&[Mark::Privacy], |by, _| by == "wangwu"), None);
        let lost = m.void_reason(&[Mark::Privacy], |_, _| false).unwrap();
        assert!(lost.contains("wangwu") && lost.contains("个人隐私"), "{lost}");
        m.void(t(3), lost);
        assert!(matches!(m.usable(Kind::View, t(3)), Err(AccessError::NotApproved { state: "voided", .. })));
    }

    #[test]
    fn approvals_and_undecided_requests_lapse() {
        let mut r = req(Kind::Copy, Party::Internal);
        assert!(!r.expire(t(5), TimeDelta::hours(5)));
        assert!(r.expire(t(6), TimeDelta::hours(5)), "undecided for the whole validity");
        let mut a = req(Kind::Copy, Party::Internal);
        a.approve("wangwu", t(2), TimeDelta::hours(1)).unwrap();
        assert!(!a.expire(t(2), TimeDelta::hours(1)));
        assert!(a.expire(t(3), TimeDelta::hours(1)));
        assert!(matches!(a.state, State::Expired { .. }));
        assert!(!a.expire(t(9), TimeDelta::hours(1)), "once");
    }

    #[test]
    fn only_a_party_is_kept_from_informants() {
        assert!(req(Kind::Export, Party::Party).withholds_informants());
        assert!(!req(Kind::Export, Party::Court).withholds_informants());
    }

    /// INV: the access module is pure.
    #[test]
    fn access_module_is_pure() {
        crate::custody::chain::tests::assert_pure(include_str!("mod.rs"));
    }
}
