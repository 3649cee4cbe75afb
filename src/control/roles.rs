//! Who holds which role: operating-system identities mapped to the roles of the configuration
//! (`[roles]`, `[officers]`; R9, R12).
//!
//! Owns: the member syntax (`NAME`, `group:NAME`, `uid:N`, `gid:N`), the [`RoleMap`] and the
//! lookup of a caller's roles and officer number.
//! Must never: read the password or group database, or a socket (the caller's [`Identity`]
//! comes in as a value, resolved by [`super::peer`]).

use std::collections::BTreeMap;

use crate::custody::event::Role;

/// The roles a person can hold; [`Role::System`] is the daemon's own and [`Role::Nobody`]
/// the absence of a role, so neither can be granted.
pub const GRANTABLE: [Role; 5] = [Role::Custodian, Role::Archivist, Role::Approver, Role::Supervisor, Role::Admin];

/// An operating-system identity, as the kernel reported it for a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Numeric user id.
    pub uid: u32,
    /// User name, or `uid:N` when the user has no entry in the password database.
    pub user: String,
    /// Group ids: the primary group first, then the supplementary groups.
    pub gids: Vec<u32>,
    /// Group names, where the group database has them (same order as far as known).
    pub groups: Vec<String>,
}

/// One entry of a role's member list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    /// A user, by name.
    User(String),
    /// Every member of a group, by name.
    Group(String),
    /// A user, by numeric id.
    Uid(u32),
    /// Every member of a group, by numeric id.
    Gid(u32),
    /// A station account of the web page (`account:NAME`), as its custody events name it.
    Account(String),
}

/// Why a member entry is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry:?}: {reason}")]
pub struct MemberError {
    /// The entry as written.
    pub entry: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Member {
    /// Parses `NAME`, `group:NAME`, `uid:N` or `gid:N`.
    ///
    /// # Errors
    /// On an empty name, a non-numeric id, or an unknown prefix.
    pub fn parse(entry: &str) -> Result<Member, MemberError> {
        let err = |reason| MemberError { entry: entry.to_string(), reason };
        let number = |s: &str| s.parse::<u32>().map_err(|_| err("the id must be a number"));
        let name = |s: &str| {
            if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c == ':') {
                Err(err("a name must be non-empty, without spaces or ':'"))
            } else {
                Ok(s.to_string())
            }
        };
        match entry.split_once(':') {
            None => Ok(Member::User(name(entry)?)),
            Some(("group", g)) => Ok(Member::Group(name(g)?)),
            Some(("uid", n)) => Ok(Member::Uid(number(n)?)),
            Some(("gid", n)) => Ok(Member::Gid(number(n)?)),
            Some(("account", a)) => Ok(Member::Account(name(a)?)),
            Some(_) => Err(err("write a user name, group:NAME, uid:N, gid:N or account:NAME")),
        }
    }

    /// Whether `who` is, or belongs to, this member.
    pub fn matches(&self, who: &Identity) -> bool {
        match self {
            Member::User(n) => &who.user == n,
            Member::Group(g) => who.groups.iter().any(|x| x == g),
            Member::Uid(u) => who.uid == *u,
            Member::Gid(g) => who.gids.contains(g),
            Member::Account(a) => who.user.strip_prefix("account:") == Some(a.as_str()),
        }
    }
}

impl std::fmt::Display for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Member::User(n) => f.write_str(n),
            Member::Group(g) => write!(f, "group:{g}"),
            Member::Uid(u) => write!(f, "uid:{u}"),
            Member::Gid(g) => write!(f, "gid:{g}"),
            Member::Account(a) => write!(f, "account:{a}"),
        }
    }
}

/// A list of members: anyone matching one entry belongs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members(pub Vec<Member>);

impl Members {
    /// Parses a list of entries.
    ///
    /// # Errors
    /// On the first invalid entry.
    pub fn parse(entries: &[String]) -> Result<Members, MemberError> {
        entries.iter().map(|e| Member::parse(e)).collect::<Result<_, _>>().map(Members)
    }

    /// Whether `who` belongs.
    pub fn contains(&self, who: &Identity) -> bool {
        self.0.iter().any(|m| m.matches(who))
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The configured roles and officer numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMap {
    /// Members of each grantable role.
    pub roles: BTreeMap<&'static str, Members>,
    /// Officer number (警号) of a user, by user name.
    pub officers: BTreeMap<String, String>,
}

impl RoleMap {
    /// The built-in map used when the configuration has no `[roles]` table: the superuser
    /// (uid 0) is custodian, archivist, supervisor and admin. Nobody approves until approvers
    /// are named (R9: approval is a person's decision).
    pub fn builtin() -> RoleMap {
        let mut roles = BTreeMap::new();
        for r in [Role::Custodian, Role::Archivist, Role::Supervisor, Role::Admin] {
            roles.insert(r.as_str(), Members(vec![Member::Uid(0)]));
        }
        RoleMap { roles, officers: BTreeMap::new() }
    }

    /// The roles `who` holds, in [`GRANTABLE`] order.
    pub fn roles_of(&self, who: &Identity) -> Vec<Role> {
        GRANTABLE.into_iter().filter(|r| self.roles.get(r.as_str()).is_some_and(|m| m.contains(who))).collect()
    }

    /// The officer number of `who`, if configured.
    pub fn officer_of(&self, who: &Identity) -> Option<String> {
        self.officers.get(&who.user).cloned()
    }
}

/// Who may request and approve access to footage with one confidentiality mark (R10).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarkRule {
    /// Who may request access (they must also hold a role that may request).
    pub requesters: Members,
    /// Who may approve (they must also hold the approver role).
    pub approvers: Members,
}

/// The access policy of the configuration (`[access]`; R9, R10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicy {
    /// How long an approval stays valid.
    pub approval_valid: chrono::TimeDelta,
    /// Footage marked secret (国家秘密).
    pub secret: MarkRule,
    /// Footage marked commercial secret (商业秘密).
    pub commercial_secret: MarkRule,
    /// Footage marked personal privacy (个人隐私).
    pub privacy: MarkRule,
    /// Footage marked work secret (工作秘密, S2 §18).
    pub work_secret: MarkRule,
    /// The principal head(s) (主要负责人, `access.heads.principal`).
    pub principal_heads: Members,
    /// The supervising head(s) (主管负责人, `access.heads.supervising`).
    pub supervising_heads: Members,
    /// The tier each party and kind needs (`[access.tiers]`; R9).
    pub tiers: crate::access::tier::Tiers,
}

impl AccessPolicy {
    /// The tiers `who` stands at, given whether they hold the approver role: none without it
    /// (every decision is an approver's); the approver tier, and each head tier they are named
    /// in.
    pub fn tiers_of(&self, who: &Identity, roles: &RoleMap) -> Vec<crate::access::tier::Tier> {
        use crate::access::tier::Tier;
        if !roles.roles_of(who).contains(&Role::Approver) {
            return Vec::new();
        }
        let mut held = vec![Tier::Approver];
        if self.supervising_heads.contains(who) {
            held.push(Tier::SupervisingHead);
        }
        if self.principal_heads.contains(who) {
            held.push(Tier::PrincipalHead);
        }
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(uid: u32, user: &str, groups: &[(u32, &str)]) -> Identity {
        Identity {
            uid,
            user: user.to_string(),
            gids: groups.iter().map(|g| g.0).collect(),
            groups: groups.iter().map(|g| g.1.to_string()).collect(),
        }
    }

    #[test]
    fn members_parse_and_print_back() {
        for e in ["zhangsan", "group:evidock-archive", "uid:1001", "gid:0", "account:juzhang"] {
            assert_eq!(Member::parse(e).unwrap().to_string(), e);
        }
        for bad in ["", "uid:x", "gid:", "group:", "role:admin", "a b", "group:a:b", "account:", "account:a:b"] {
            assert!(Member::parse(bad).is_err(), "{bad:?} must be refused");
        }
        // A station account is matched by the name its custody events carry, and only so: a
        // system user of the same name is another person.
        let heads = Members::parse(&["account:juzhang".into()]).unwrap();
        assert!(heads.contains(&who(u32::MAX, "account:juzhang", &[])));
        assert!(!heads.contains(&who(1003, "juzhang", &[(1003, "juzhang")])));
    }

    #[test]
    fn roles_come_from_user_group_and_ids() {
        let mut map = RoleMap::default();
        map.roles.insert("custodian", Members::parse(&["group:dock".into()]).unwrap());
        map.roles.insert("approver", Members::parse(&["wangwu".into(), "uid:2002".into()]).unwrap());
        map.roles.insert("admin", Members::parse(&["gid:10".into()]).unwrap());
        map.officers.insert("wangwu".into(), "310001".into());

        let a = who(1001, "zhangsan", &[(1001, "zhangsan"), (500, "dock")]);
        assert_eq!(map.roles_of(&a), vec![Role::Custodian]);
        let b = who(1002, "wangwu", &[(1002, "wangwu"), (10, "wheel")]);
        assert_eq!(map.roles_of(&b), vec![Role::Approver, Role::Admin]);
        assert_eq!(map.officer_of(&b).as_deref(), Some("310001"));
        let c = who(2002, "uid:2002", &[(2002, "gid:2002")]);
        assert_eq!(map.roles_of(&c), vec![Role::Approver]);
        let nobody = who(65534, "nobody", &[(65534, "nogroup")]);
        assert!(map.roles_of(&nobody).is_empty());
    }

    #[test]
    fn the_builtin_map_names_no_approver() {
        let root = who(0, "root", &[(0, "root")]);
        let roles = RoleMap::builtin().roles_of(&root);
        assert!(roles.contains(&Role::Admin) && !roles.contains(&Role::Approver), "{roles:?}");
        assert!(RoleMap::builtin().roles_of(&who(1000, "u", &[(1000, "u")])).is_empty());
    }
}
