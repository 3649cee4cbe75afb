//! The control socket: the daemon is the only writer, the kernel names the caller, roles from
//! the configuration decide, and every refusal is logged (R9, R12).

use crate::support::Station;

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn a_user_without_a_role_is_refused_by_the_socket_and_the_refusal_is_logged() {
    let mut st = Station::new();
    st.start();
    let sock = st.path("run/control.sock");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&sock).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o666, "every local user may knock; roles decide");

    // uid 4242 holds no role: refused, exit 2, told what it would need.
    let o = st.evidock_as(4242, &["device", "list"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains("refused") && said.contains("uid:4242") && said.contains("no role"), "{said}");
    // It could not have opened the catalogue itself: the daemon answered (and logged).
    let (user, role, details): (String, String, String) = st
        .db()
        .query_row("SELECT actor_user, actor_role, details FROM custody_log WHERE action = 'call_refused'", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((user.as_str(), role.as_str()), ("uid:4242", "none"));
    assert!(details.contains("\"command\":\"device list\"") && details.contains("\"via\":\"socket\""), "{details}");

    // The approver (nobody, uid 65534) may read the registry but not register a recorder.
    let o = st.evidock_as(65534, &["device", "list"]);
    assert!(o.status.success(), "{}", text(&o));
    let o =
        st.evidock_as(65534, &["device", "register", "J100001", "--officer-id", "310001", "--officer-name", "李四"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("needs one of: custodian, admin"), "{}", text(&o));
    let refusals: i64 =
        st.db().query_row("SELECT count(*) FROM custody_log WHERE action = 'call_refused'", [], |r| r.get(0)).unwrap();
    assert_eq!(refusals, 2);
    st.stop();
    st.assert_log_verifies();
}

#[test]
fn the_daemon_writes_for_the_caller_and_names_it_from_the_kernel() {
    let mut st = Station::new();
    st.start();
    // Root is a custodian here: the registration goes through the daemon, as root.
    st.register("J100002");
    let (user, role): (String, String) = st
        .db()
        .query_row("SELECT actor_user, actor_role FROM custody_log WHERE action = 'device_registered'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((user.as_str(), role.as_str()), ("root", "custodian"));
    assert!(st.log().contains("control: device register"), "the daemon ran it:\n{}", st.log());

    // A file argument travels as the caller's open descriptor: a checkpoint in a folder only
    // root can read is still checked by the daemon.
    let o = st.evidock(&["log", "checkpoint"]);
    assert!(o.status.success(), "{}", text(&o));
    let note = st.path("private/checkpoint.txt");
    std::fs::create_dir_all(note.parent().unwrap()).unwrap();
    std::fs::copy(st.path("state/custody-checkpoints.txt"), &note).unwrap();
    let o = st.evidock(&["log", "verify", "--checkpoint", note.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = st.evidock(&["log", "verify", "--checkpoint", "/nonexistent/checkpoint.txt"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("/nonexistent/checkpoint.txt"), "{}", text(&o));
    st.stop();
    assert!(!st.path("run/control.sock").exists(), "the socket goes with the daemon");
}

#[test]
fn without_the_daemon_the_superuser_acts_directly_under_the_same_rules() {
    let st = Station::new();
    st.register("J100003");
    let o = st.evidock(&["retention", "purge", "approve", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("needs one of: approver"), "root is not an approver here: {}", text(&o));
    let (user, details): (String, String) = st
        .db()
        .query_row("SELECT actor_user, details FROM custody_log WHERE action = 'call_refused'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(user, "root");
    assert!(details.contains("\"via\":\"direct\""), "{details}");
}

#[test]
fn configuration_changes_and_verifications_asked_of_the_service_are_events() {
    let mut st = Station::new();
    let count = |st: &Station, action: &str| -> i64 {
        st.db().query_row("SELECT count(*) FROM custody_log WHERE action = ?1", [action], |r| r.get(0)).unwrap()
    };
    st.start();
    assert_eq!(count(&st, "config_changed"), 1, "the first configuration is recorded");
    let o = st.evidock(&["log", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
    let details: String =
        st.db().query_row("SELECT details FROM custody_log WHERE action = 'log_verified'", [], |r| r.get(0)).unwrap();
    assert_eq!(details, "{\"intact\":true}");
    st.stop();
    st.start();
    assert_eq!(count(&st, "config_changed"), 1, "the same configuration again: no event");
    // After a clean stop, the catalogue's integrity check runs once the daemon is ready.
    crate::support::wait_for(20, "the background integrity check", || {
        st.log().contains("catalogue integrity check: ok").then_some(())
    });
    st.stop();
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, cfg + "\n[retention]\nstandard_months = 12\n").unwrap();
    st.start();
    assert_eq!(count(&st, "config_changed"), 2, "a changed configuration is recorded");
    st.stop();
    st.assert_log_verifies();
}
