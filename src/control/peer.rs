//! Who is on the other end: the kernel's credentials of a socket peer, or of this process,
//! resolved to user and group names.

use std::os::fd::AsFd;

use nix::unistd::{Gid, Group, Uid, User};

use super::roles::Identity;

/// The identity of a user id with its primary group and supplementary groups (from the group
/// database when the user has an entry, else the primary group alone).
pub fn identity(uid: u32, gid: u32) -> Identity {
    let user = User::from_uid(Uid::from_raw(uid)).ok().flatten();
    let name = user.as_ref().map_or_else(|| format!("uid:{uid}"), |u| u.name.clone());
    let mut gids = vec![gid];
    if let Some(u) = &user {
        if let Ok(cname) = std::ffi::CString::new(u.name.clone()) {
            if let Ok(list) = nix::unistd::getgrouplist(&cname, Gid::from_raw(gid)) {
                for g in list {
                    if !gids.contains(&g.as_raw()) {
                        gids.push(g.as_raw());
                    }
                }
            }
        }
    }
    let groups = gids
        .iter()
        .map(|g| Group::from_gid(Gid::from_raw(*g)).ok().flatten().map_or_else(|| format!("gid:{g}"), |gr| gr.name))
        .collect();
    Identity { uid, user: name, gids, groups }
}

/// The identity of a user named as the log and the catalogue name users (`NAME`, or `uid:N`
/// for a user without an entry), as the system knows it now; a name it no longer knows keeps
/// no uid and no groups, so no list by uid or group names it.
pub fn identity_of_name(name: &str) -> Identity {
    if let Some(uid) = name.strip_prefix("uid:").and_then(|n| n.parse::<u32>().ok()) {
        return identity(uid, uid);
    }
    match User::from_name(name).ok().flatten() {
        Some(u) => identity(u.uid.as_raw(), u.gid.as_raw()),
        None => Identity { uid: u32::MAX, user: name.to_string(), gids: Vec::new(), groups: Vec::new() },
    }
}

/// The identity of this process (its real user; the supplementary groups it holds now).
pub fn current() -> Identity {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let mut who = identity(uid, gid);
    // The groups this process holds right now win over the database (a `setpriv
    // --clear-groups` or `newgrp` changes them).
    if let Ok(list) = nix::unistd::getgroups() {
        let mut gids = vec![gid];
        gids.extend(list.into_iter().map(Gid::as_raw).filter(|g| *g != gid));
        who.groups = gids
            .iter()
            .map(|g| Group::from_gid(Gid::from_raw(*g)).ok().flatten().map_or_else(|| format!("gid:{g}"), |gr| gr.name))
            .collect();
        who.gids = gids;
    }
    who
}

/// The identity of the peer of a connected Unix socket, from `SO_PEERCRED`, and its pid.
///
/// # Errors
/// When the kernel does not report credentials.
pub fn of_socket(sock: &impl AsFd) -> nix::Result<(Identity, i32)> {
    let cred = nix::sys::socket::getsockopt(sock, nix::sys::socket::sockopt::PeerCredentials)?;
    Ok((identity(cred.uid(), cred.gid()), cred.pid()))
}
