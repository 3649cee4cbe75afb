//! The control socket: the daemon is the only writer, the kernel names the caller, roles from
//! the configuration decide, and every refusal is logged (R9, R12).

use crate::support::Station;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::support::{ok, text, RawClient};

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
    assert_eq!(o.status.code(), Some(2), "{}", crate::support::text(&o));
    assert!(text(&o).contains("/nonexistent/checkpoint.txt"), "{}", text(&o));
    st.stop();
    assert!(!st.path("run/control.sock").exists(), "the socket goes with the daemon");
}

#[test]
fn without_the_daemon_the_superuser_acts_directly_under_the_same_rules() {
    let st = Station::new();
    st.register("J100003");
    let o = st.evidock(&["retention", "purge", "approve", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", crate::support::text(&o));
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

/// Local users who hold no role, each opening as many connections as the service lets one user
/// hold and sending a byte at a time without a newline (or nothing at all), again as soon as
/// they are cut: the attack that took every connection slot of the service.
struct Loris {
    stop: Arc<AtomicBool>,
    greeted: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<Vec<String>>>,
}

impl Loris {
    /// `per_uid` connections from each of `uids`, sending `{` every `dribble_ms` (nothing when 0).
    fn start(socket: &std::path::Path, uids: &[u32], per_uid: usize, dribble_ms: u64) -> Loris {
        let stop = Arc::new(AtomicBool::new(false));
        let greeted = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        for &uid in uids {
            for _ in 0..per_uid {
                let (socket, stop, greeted) = (socket.to_path_buf(), stop.clone(), greeted.clone());
                threads.push(std::thread::spawn(move || {
                    // What the service said each time it ended a connection.
                    let mut told = Vec::new();
                    while !stop.load(Ordering::Acquire) {
                        let mut c = RawClient::connect_as(uid, &socket);
                        let writer = c.stream.try_clone().unwrap();
                        let first = c.line().unwrap_or_default();
                        if first.starts_with("{\"hello\":") {
                            greeted.fetch_add(1, Ordering::AcqRel);
                        }
                        let dribbler = std::thread::spawn(move || {
                            let mut w = &writer;
                            while dribble_ms > 0 && std::io::Write::write_all(&mut w, b"{").is_ok() {
                                std::thread::sleep(std::time::Duration::from_millis(dribble_ms));
                            }
                        });
                        let rest = c.rest();
                        told.push(std::iter::once(first).chain(rest).collect::<Vec<_>>().join("\n"));
                        drop(c);
                        let _ = dribbler.join();
                    }
                    told
                }));
            }
        }
        Loris { stop, greeted, threads }
    }

    /// Stops the clients once the service has cut them; what it told each, per client.
    fn finish(self) -> Vec<Vec<String>> {
        self.stop.store(true, Ordering::Release);
        self.threads.into_iter().map(|t| t.join().unwrap()).collect()
    }
}

#[test]
fn clients_that_send_a_byte_at_a_time_are_cut_while_status_and_approvals_answer() {
    // A station with footage filed into a case, its daemon running as root.
    let mut st = crate::access::station();
    st.start();
    let socket = st.path("run/control.sock");
    ok(st.evidock(&["access", "request", "--case", crate::access::CASE, "--kind", "view", "--reason", "复核"]));

    // Three users dribbling, one silent: 16 connections, four times the slots the service
    // once had, each user at the most one user may hold.
    let dribbling = Loris::start(&socket, &[4301, 4302, 4303], 4, 100);
    let silent = Loris::start(&socket, &[4304], 4, 0);
    crate::support::wait_for(60, "the slow clients to be greeted", || {
        (dribbling.greeted.load(Ordering::Acquire) >= 12 && silent.greeted.load(Ordering::Acquire) >= 4).then_some(())
    });

    // The custodian's status and an approver's decision still answer (generous limits: the
    // point is that they answer at all, not how fast).
    let o = st.evidock_within(60, &["status"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = st.evidock_as_within(60, 65534, &["access", "approve", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(crate::access::state_of(&st, 1), "approved");
    let o = st.evidock_within(60, &["status", "--json"]);
    assert!(o.status.success(), "{}", text(&o));

    // Every slow client was cut within the deadline and told why; none was served.
    for (clients, what) in [(dribbling.finish(), "dribbling"), (silent.finish(), "silent")] {
        for told in &clients {
            assert!(told.iter().any(|t| t.contains("did not arrive within 10 s")), "{what}: {told:#?}");
            assert!(told.iter().all(|t| t.ends_with("{\"exit\":2}") && !t.contains("\"out\"")), "{what}: {told:#?}");
        }
    }
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}

#[test]
fn one_user_may_hold_only_a_few_connections_and_is_told_so_at_once() {
    let mut st = Station::new();
    st.start();
    let socket = st.path("run/control.sock");
    // Four silent connections from one user: each greeted, then waited for.
    let mut held: Vec<RawClient> = (0..4).map(|_| RawClient::connect_as(4305, &socket)).collect();
    for c in &mut held {
        let hello = c.line().expect("greeted");
        assert!(hello.starts_with("{\"hello\":"), "{hello}");
    }
    // A fifth is refused at once, with the reason and exit code 2, not left hanging.
    let mut fifth = RawClient::connect_as(4305, &socket);
    let told = fifth.rest();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told[0].contains("requests open at the service already") && told[0].contains("同一用户"), "{told:?}");
    assert_eq!(told[1], "{\"exit\":2}");
    // Another user is served meanwhile.
    let o = st.evidock_within(60, &["status"]);
    assert!(o.status.success(), "{}", text(&o));
    // Once the user's connections are gone, it is served again. The service learns of each
    // closed connection when its handler reads the end of it, so until then a new one may still
    // be refused for the same reason (and only for it).
    drop(held);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let mut again = RawClient::connect_as(4305, &socket);
        let hello = again.line().expect("answered");
        if hello.starts_with("{\"hello\":") {
            break;
        }
        assert!(hello.contains("requests open at the service already"), "{hello}");
        assert!(std::time::Instant::now() < until, "still refused 60 s after closing: {hello}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(st.stop().success(), "{}", st.log());
}

#[test]
fn a_raw_client_cannot_make_the_service_write_an_export_into_a_folder_not_its_own() {
    use std::os::unix::fs::PermissionsExt;
    const REQUESTER: u32 = crate::access::REQUESTER;
    // The requester (an archivist) holds an approved copy request; the service runs as root,
    // which may write anywhere.
    let mut st = crate::access::station();
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, cfg.replace("archivist = [\"uid:0\"]", "archivist = [\"uid:0\", \"uid:4243\"]"))
        .unwrap();
    st.start();
    ok(st.evidock_as(
        REQUESTER,
        &["access", "request", "--case", crate::access::CASE, "--kind", "copy", "--reason", "复议"],
    ));
    ok(st.evidock_as(65534, &["access", "approve", "1"]));
    // A folder of root's that the requester may read but not write.
    let theirs = st.path("root-only");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = st.path("run/control.sock");
    let to = theirs.to_str().unwrap().to_string();

    // The typed `export`, with `folder` the descriptor's name, sent by hand.
    let ask = |args: serde_json::Value, send: Option<&std::path::Path>| -> Vec<String> {
        let mut c = RawClient::connect_as(REQUESTER, &socket);
        let hello = c.line().expect("greeted");
        assert!(hello.starts_with("{\"hello\":"), "{hello}");
        // The requester opens the folder itself, as the evidock program would.
        let dir = send.map(|p| {
            let p = p.to_path_buf();
            crate::support::as_uid(REQUESTER, move || std::fs::File::open(p).unwrap())
        });
        let paths: Vec<&str> = send.map(|_| to.as_str()).into_iter().collect();
        let line = serde_json::json!({ "v": 4, "op": "export", "args": args, "paths": paths }).to_string() + "\n";
        let fds: Vec<i32> = dir.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect();
        c.send(line.as_bytes(), &fds);
        c.rest()
    };
    let error = |told: &[String]| -> (String, String) {
        assert_eq!(told.len(), 1, "one typed error: {told:?}");
        let e: serde_json::Value = serde_json::from_str(&told[0]).unwrap();
        (e["error"]["kind"].as_str().unwrap().to_string(), e["error"]["message"].as_str().unwrap().to_string())
    };
    // A folder of root's, opened by the requester: the service would write where they cannot.
    let told = ask(serde_json::json!({ "request": 1, "folder": to }), Some(&theirs));
    let (kind, message) = error(&told);
    assert_eq!(kind, "refused", "{message}");
    assert!(message.contains("belongs to uid 0, not to the caller (uid 4243)"), "{message}");
    // A folder named but not sent.
    let told = ask(serde_json::json!({ "request": 1, "folder": to }), None);
    let (kind, message) = error(&told);
    assert_eq!(kind, "invalid", "{message}");
    assert!(message.contains("was not sent as an open folder"), "{message}");
    // A file of the requester's own sent as the folder.
    let file = st.path("a-file");
    std::fs::write(&file, b"x").unwrap();
    std::os::unix::fs::chown(&file, Some(REQUESTER), Some(REQUESTER)).unwrap();
    let told = ask(serde_json::json!({ "request": 1, "folder": to }), Some(&file));
    let (kind, message) = error(&told);
    assert_eq!(kind, "invalid", "{message}");
    assert!(message.contains("is not a folder"), "{message}");
    // A folder of the requester's own that holds something already.
    let full = st.path("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("old.txt"), b"x").unwrap();
    std::os::unix::fs::chown(&full, Some(REQUESTER), Some(REQUESTER)).unwrap();
    let told = ask(serde_json::json!({ "request": 1, "folder": to }), Some(&full));
    let (kind, message) = error(&told);
    assert_eq!(kind, "invalid", "{message}");
    assert!(message.contains("is not empty"), "{message}");
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1, "nothing written beside what was there");

    assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 0, "nothing written into root's folder");
    assert_eq!(crate::access::state_of(&st, 1), "approved", "the approval is not spent");
    let refusals: i64 = st
        .db()
        .query_row(
            "SELECT count(*) FROM custody_log WHERE action = 'call_refused' AND details LIKE '%\"command\":\"export\"%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(refusals, 1, "the refusal is in the custody log (the wrong requests are not refusals)");

    // The evidock program itself still exports for the requester, into a folder of its own.
    let home = st.path("home-4243");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(REQUESTER), Some(REQUESTER)).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let said = ok(st.evidock_as(REQUESTER, &["export", "--request", "1", "--to", home.to_str().unwrap()]));
    assert!(said.contains("evidock-export-1/"), "{said}");
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}

#[test]
fn a_command_for_one_station_is_never_served_by_the_daemon_of_another() {
    // Station B runs its daemon. Station A's configuration names B's socket (a copied
    // configuration, two stations on one machine): A's commands must not reach B.
    let mut b = Station::new();
    b.start();
    let b_socket = b.path("run/control.sock");
    let mut a = Station::new();
    let cfg = std::fs::read_to_string(&a.config).unwrap();
    std::fs::write(
        &a.config,
        cfg.replace(
            "control_socket = \"run/control.sock\"",
            &format!("control_socket = {:?}", b_socket.to_str().unwrap()),
        ),
    )
    .unwrap();
    let b_state = std::fs::canonicalize(b.path("state")).unwrap();

    // No daemon of A runs: A's command runs directly on A's state, and says why.
    let o =
        a.evidock_within(60, &["device", "register", "A100001", "--officer-id", "012345", "--officer-name", "张三"]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("belongs to station \"evidock\" (state folder {})", b_state.display()))
            && err.contains("runs directly")
            && err.contains("另一工作站"),
        "{}",
        text(&o)
    );
    let registered = |st: &Station| -> i64 {
        st.db()
            .query_row("SELECT count(*) FROM custody_log WHERE action = 'device_registered'", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!((registered(&a), registered(&b)), (1, 0), "registered on A, not on B");
    // An archivist verifying A's log gets A's result, and B records no verification.
    let o = a.evidock_within(60, &["log", "verify", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let events =
        |st: &Station| -> i64 { st.db().query_row("SELECT count(*) FROM custody_log", [], |r| r.get(0)).unwrap() };
    let verified: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    assert_eq!(verified["events"].as_i64(), Some(events(&a)), "{verified}");
    assert_ne!(events(&a), events(&b));
    let b_verified: i64 =
        b.db().query_row("SELECT count(*) FROM custody_log WHERE action = 'log_verified'", [], |r| r.get(0)).unwrap();
    assert_eq!(b_verified, 0);

    // A's daemon, started with the same socket, leaves B's socket alone...
    a.start();
    assert!(a.log().contains("another evidock service (another station) is listening there"), "{}", a.log());
    let o = b.evidock_within(60, &["device", "list"]);
    assert!(o.status.success(), "B still serves its own: {}", text(&o));
    // ...and A's commands, which may not run beside A's daemon, are refused, not sent to B.
    let o = a.evidock_within(60, &["device", "list"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("the command was not sent there") && text(&o).contains("命令未发送"), "{}", text(&o));
    assert!(a.stop().success(), "{}", a.log());
    assert!(b.stop().success(), "{}", b.log());
    a.assert_log_verifies();
    b.assert_log_verifies();
}
