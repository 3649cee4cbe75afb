//! Approval tiers (R9): who must decide a request, by its party and kind, as the bureaus run
//! them. Court, procuratorate, outside parties and public release go to the principal head
//! (主要负责人: S1 §17-18, S3 §30, S0 §18, S2 §26); staff's own use goes to the approver or the
//! supervising head (主管领导: S2 §24). Each bureau names its tiers (`[access.tiers]`) and its
//! heads (`[access.heads]`); the built-in table is the strictest common one.
//!
//! Owns: the [`Tier`]s and their order, the [`Tiers`] table with its configuration keys, and the
//! judgement whether a decider stands high enough ([`check`], [`void_reason`]).
//! Must never: do I/O or learn who someone is: the tiers a person holds come in as values.

use super::{AccessError, AccessRequest, Kind, Party};

/// Who may decide: a holder of the approver role, a supervising head, or the principal head.
/// Ordered: a higher tier may decide whatever a lower one may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// Anyone holding the approver role (审批人).
    Approver,
    /// A supervising head (主管负责人 / 主管领导, S1 §17, S2 §24): `access.heads.supervising`.
    SupervisingHead,
    /// The principal head (主要负责人 / 单位负责人, S1 §18, S3 §30): `access.heads.principal`.
    PrincipalHead,
}

impl Tier {
    /// Every tier, lowest first.
    pub const ALL: [Tier; 3] = [Tier::Approver, Tier::SupervisingHead, Tier::PrincipalHead];

    /// The stable name, as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Approver => "approver",
            Tier::SupervisingHead => "supervising-head",
            Tier::PrincipalHead => "principal-head",
        }
    }

    /// The Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            Tier::Approver => "审批人",
            Tier::SupervisingHead => "主管负责人",
            Tier::PrincipalHead => "主要负责人",
        }
    }

    /// The tier with this stable name.
    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The configuration list naming the people of this tier (none for the approver tier,
    /// which is the approver role itself).
    pub fn heads_key(self) -> &'static str {
        match self {
            Tier::Approver => "roles.approver",
            Tier::SupervisingHead => "access.heads.supervising",
            Tier::PrincipalHead => "access.heads.principal",
        }
    }
}

/// What a tier table entry covers: a view at the station, or a copy leaving the archive (an
/// internal copy, or an export for an outside party).
fn use_of(kind: Kind) -> &'static str {
    match kind {
        Kind::View => "view",
        Kind::Copy | Kind::Export => "copy",
    }
}

/// The configuration key of a party and kind in `[access.tiers]`, e.g. `court_copy`.
pub fn key(party: Party, kind: Kind) -> String {
    format!("{}_{}", party.as_str(), use_of(kind))
}

/// The tier each party and kind needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tiers {
    entries: Vec<(Party, &'static str, Tier)>,
}

impl Tiers {
    /// The built-in table, the strictest common one: the bureau's own people and an officer
    /// asking for their own footage need an approver; court, procuratorate, the party, any other
    /// body and public release need the principal head (S1 §17-18, S3 §30).
    pub fn strictest() -> Tiers {
        let mut entries = Vec::new();
        for party in Party::ALL.iter().copied() {
            let tier = if party.is_outside() { Tier::PrincipalHead } else { Tier::Approver };
            for u in ["view", "copy"] {
                entries.push((party, u, tier));
            }
        }
        Tiers { entries }
    }

    /// Every configuration key, in table order.
    pub fn keys() -> Vec<String> {
        Tiers::strictest().entries.iter().map(|(p, u, _)| format!("{}_{u}", p.as_str())).collect()
    }

    /// Sets the tier of the entry named `key` (`PARTY_view` or `PARTY_copy`).
    ///
    /// # Errors
    /// When no entry has that key (the message lists the keys).
    pub fn set(&mut self, key: &str, tier: Tier) -> Result<(), String> {
        match self.entries.iter_mut().find(|(p, u, _)| format!("{}_{u}", p.as_str()) == key) {
            Some(e) => {
                e.2 = tier;
                Ok(())
            }
            None => Err(format!("not a party and kind; use one of {}", Tiers::keys().join(", "))),
        }
    }

    /// The tier a request of `party` and `kind` needs.
    pub fn needed(&self, party: Party, kind: Kind) -> Tier {
        let u = use_of(kind);
        self.entries.iter().find(|(p, x, _)| *p == party && *x == u).map_or(Tier::PrincipalHead, |e| e.2)
    }
}

/// Whether someone holding `held` may decide a request needing `needed`, by `by`.
///
/// # Errors
/// [`AccessError::BelowTier`] when none of `held` is at or above `needed`.
pub fn check(req: &AccessRequest, needed: Tier, held: &[Tier], by: &str) -> Result<(), AccessError> {
    if held.iter().any(|t| *t >= needed) {
        return Ok(());
    }
    Err(AccessError::BelowTier {
        id: req.id,
        by: by.to_string(),
        key: key(req.party, req.kind),
        needed: needed.as_str(),
        needed_zh: needed.label_zh(),
        heads_key: needed.heads_key(),
    })
}

/// Why an approval no longer holds because its approver no longer stands at the tier its
/// party and kind need now (INV-34): `None` when it holds, or when it is not approved.
pub fn void_reason(req: &AccessRequest, needed: Tier, approver_held: &[Tier]) -> Option<String> {
    let super::State::Approved { by, .. } = &req.state else { return None };
    if approver_held.iter().any(|t| *t >= needed) {
        return None;
    }
    Some(format!(
        "{by} approved it but is no longer the {} its party and kind need ({}) / 审批人已非{}，无权批准该调阅",
        needed.as_str(),
        needed.heads_key(),
        needed.label_zh()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Scope;
    use chrono::{TimeDelta, TimeZone, Utc};

    fn req(kind: Kind, party: Party) -> AccessRequest {
        let name = party.is_outside().then_some("某某区人民法院");
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
        let mut r =
            AccessRequest::new(kind, Scope::Case("A".into()), "举证", party, name, "zhangsan", at, vec![]).unwrap();
        r.id = 4;
        r
    }

    /// S1 §18 (人民法院、人民检察院…查阅…报经局主要负责人批准), S3 §30 (未经本局负责人批准不得
    /// 公开; 司法…机关…依局领导指示): the built-in table sends every outside party to the
    /// principal head, and the bureau's own use to an approver.
    #[test]
    fn outside_parties_go_to_the_principal_head_by_default() {
        let t = Tiers::strictest();
        for p in [Party::Court, Party::Procuratorate, Party::Party, Party::Other, Party::Public] {
            assert_eq!(t.needed(p, Kind::View), Tier::PrincipalHead, "{p:?}");
            assert_eq!(t.needed(p, Kind::Export), Tier::PrincipalHead, "{p:?}");
        }
        for p in [Party::Internal, Party::Officer] {
            assert_eq!(t.needed(p, Kind::Copy), Tier::Approver, "{p:?}");
        }
        assert_eq!(Tiers::keys().len(), 2 * Party::ALL.len());
        assert!(Tiers::keys().contains(&"court_copy".to_string()));
    }

    /// S2 §24 (本机构人员因工作需要调用…须经主管领导同意): a bureau may raise its own use to the
    /// supervising head; a key that names no party and kind is refused with the keys listed.
    #[test]
    fn a_bureau_sets_its_own_tiers() {
        let mut t = Tiers::strictest();
        t.set("internal_copy", Tier::SupervisingHead).unwrap();
        assert_eq!(t.needed(Party::Internal, Kind::Copy), Tier::SupervisingHead);
        assert_eq!(t.needed(Party::Internal, Kind::View), Tier::Approver);
        let e = t.set("court_export", Tier::Approver).unwrap_err();
        assert!(e.contains("court_copy"), "{e}");
        assert_eq!(Tier::parse("principal-head"), Some(Tier::PrincipalHead));
        assert_eq!(Tier::parse("head"), None);
    }

    /// S1 §18: an approval by someone below the tier is refused, naming the tier in both
    /// languages; a head above the tier may decide what a lower tier may.
    #[test]
    fn a_decider_below_the_tier_is_refused() {
        let r = req(Kind::Export, Party::Court);
        let e = check(&r, Tier::PrincipalHead, &[Tier::Approver, Tier::SupervisingHead], "wangwu").unwrap_err();
        let said = e.to_string();
        assert!(said.contains("principal-head") && said.contains("主要负责人"), "{said}");
        assert!(said.contains("access.tiers.court_copy") && said.contains("wangwu"), "{said}");
        assert_eq!(check(&r, Tier::PrincipalHead, &[Tier::Approver, Tier::PrincipalHead], "ju"), Ok(()));
        assert_eq!(check(&r, Tier::SupervisingHead, &[Tier::PrincipalHead], "ju"), Ok(()));
        assert!(check(&r, Tier::Approver, &[], "x").is_err(), "no tier at all");
    }

    /// INV-34: an approver who no longer stands at the tier voids the approval at use.
    #[test]
    fn an_approval_by_someone_no_longer_at_the_tier_is_void() {
        let mut r = req(Kind::Export, Party::Procuratorate);
        assert_eq!(void_reason(&r, Tier::PrincipalHead, &[]), None, "pending: nothing to void");
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        r.approve("ju", at, TimeDelta::days(7)).unwrap();
        assert_eq!(void_reason(&r, Tier::PrincipalHead, &[Tier::Approver, Tier::PrincipalHead]), None);
        let why = void_reason(&r, Tier::PrincipalHead, &[Tier::Approver]).unwrap();
        assert!(why.contains("ju") && why.contains("主要负责人"), "{why}");
    }
}
