//! The station's web page (docs/WEB.md; INV-42, INV-43; R12): the real daemon serving it,
//! station accounts made with the real command, sign-in, lockout, sessions, CSRF and the live
//! bay screen, over plain HTTP and in a real browser (headless Chromium driven through
//! chromedriver's WebDriver HTTP API). Without Chromium and chromedriver the browser test is
//! ignored with the reason (build.rs, `has_chromium`); under CI a missing browser fails it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{bin, text, wait_for, Station};

/// A free port on 127.0.0.1 (bound, then released for the daemon).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A station serving its web page on a port of its own, with `web` lines added to `[web]`.
pub(crate) fn web_station(web: &str) -> (Station, String) {
    let st = Station::new();
    let port = free_port();
    let mut f = std::fs::OpenOptions::new().append(true).open(&st.config).unwrap();
    writeln!(f, "\n[web]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\n{web}").unwrap();
    (st, format!("http://127.0.0.1:{port}"))
}

/// `evidock account ARGS` with `password` on standard input.
pub(crate) fn account(st: &Station, args: &[&str], password: &str) -> std::process::Output {
    let mut child = Command::new(bin())
        .arg("--config")
        .arg(&st.config)
        .arg("account")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that reads nothing may be gone already: what it did not read does not matter.
    let _ = child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes());
    child.wait_with_output().unwrap()
}

pub(crate) fn add_officer(st: &Station) {
    let o =
        account(st, &["add", "zhang", "--display-name", "张三", "--badge", "012345", "--role", "officer"], PASSWORD);
    assert!(o.status.success(), "{}", text(&o));
}

pub(crate) const PASSWORD: &str = "长城-correct-horse";

/// An HTTP client that follows no redirects: each answer is looked at as it comes.
pub(crate) fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().redirects(0).timeout(Duration::from_secs(120)).build()
}

pub(crate) fn answer(r: Result<ureq::Response, ureq::Error>) -> ureq::Response {
    match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("HTTP request failed: {e}"),
    }
}

/// The value of cookie `name` among a response's `Set-Cookie` headers, with the whole header.
pub(crate) fn set_cookie(r: &ureq::Response, name: &str) -> Option<(String, String)> {
    r.all("set-cookie").into_iter().find_map(|h| {
        let value = h.strip_prefix(&format!("{name}="))?.split(';').next()?.to_string();
        Some((value, h.to_string()))
    })
}

/// The hidden CSRF field of a page.
pub(crate) fn csrf_field(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

/// Fetches the sign-in form: its cookie and token.
fn sign_in_form(base: &str) -> (String, String) {
    let r = answer(agent().get(&format!("{base}/login")).call());
    assert_eq!(r.status(), 200);
    let (pre, header) = set_cookie(&r, "evidock_pre").expect("the form's cookie");
    assert!(header.contains("HttpOnly") && header.contains("SameSite=Strict"), "{header}");
    (pre, csrf_field(&r.into_string().unwrap()))
}

/// Posts the sign-in form; the response.
pub(crate) fn sign_in(base: &str, name: &str, password: &str) -> ureq::Response {
    let (pre, token) = sign_in_form(base);
    answer(agent().post(&format!("{base}/login")).set("Cookie", &format!("evidock_pre={pre}")).send_form(&[
        ("name", name),
        ("password", password),
        ("csrf", &token),
    ]))
}

/// Percent-encodes a path segment or query value.
pub(crate) fn q(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Posts `form` to `path` as `session`.
pub(crate) fn post(base: &str, path: &str, session: &str, form: &[(&str, &str)]) -> ureq::Response {
    answer(agent().post(&format!("{base}{path}")).set("Cookie", &format!("evidock_session={session}")).send_form(form))
}

/// Signs `name` in with the test password; the session token.
pub(crate) fn session_of(base: &str, name: &str) -> String {
    set_cookie(&sign_in(base, name, PASSWORD), "evidock_session").expect("signed in").0
}

pub(crate) fn get(base: &str, path: &str, session: &str) -> ureq::Response {
    answer(agent().get(&format!("{base}{path}")).set("Cookie", &format!("evidock_session={session}")).call())
}

/// Custody events of `action`: (actor user, actor role, actor officer, details).
pub(crate) fn events(st: &Station, action: &str) -> Vec<(String, String, Option<String>, Value)> {
    let db = st.db();
    let mut q = db
        .prepare(
            "SELECT actor_user, actor_role, actor_officer, details FROM custody_log WHERE action = ?1 ORDER BY seq",
        )
        .unwrap();
    q.query_map([action], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, serde_json::from_str(&r.get::<_, String>(3)?).unwrap()))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn sign_in_lockout_sign_out_and_csrf_over_http() {
    let (mut st, base) = web_station("lockout_failures = 3\nlockout_s = 600");
    st.start();
    // Made through the service (the superuser is admin): only the hash crosses the socket.
    add_officer(&st);
    let created = events(&st, "account_changed");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].3["change"], "created");
    assert!(!created[0].3.to_string().contains("argon2"), "no hash in the log: {:?}", created[0].3);
    let hash: String =
        st.db().query_row("SELECT password_hash FROM station_accounts WHERE name = 'zhang'", [], |r| r.get(0)).unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    // Too short a password is refused with the reason, and nothing is made.
    let o = account(&st, &["add", "li", "--display-name", "李四", "--role", "custodian"], "short");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("至少需要10个字符"), "{}", text(&o));

    // Nobody signed in: the page sends to the sign-in.
    let r = answer(agent().get(&format!("{base}/")).call());
    assert_eq!((r.status(), r.header("location")), (303, Some("/login")));
    // A sign-in form that did not come from this page is refused.
    let r = answer(agent().post(&format!("{base}/login")).send_form(&[("name", "zhang"), ("password", PASSWORD)]));
    assert_eq!(r.status(), 403);
    assert!(events(&st, "sign_in_failed").is_empty(), "no attempt was judged");

    // Wrong password, twice; an unknown name; the third wrong password locks the account.
    for n in 1..=2 {
        let r = sign_in(&base, "012345", "wrong-password-1");
        assert_eq!(r.status(), 401);
        assert!(r.into_string().unwrap().contains("密码错误"));
        assert_eq!(events(&st, "sign_in_failed").last().unwrap().3["failures"], n);
    }
    assert_eq!(sign_in(&base, "nobody-here", PASSWORD).status(), 401);
    let r = sign_in(&base, "zhang", "wrong-password-3");
    assert_eq!(r.status(), 403);
    assert!(r.into_string().unwrap().contains("账户已锁定"));
    // Locked: the right password too is refused.
    assert_eq!(sign_in(&base, "zhang", PASSWORD).status(), 403);
    let failed = events(&st, "sign_in_failed");
    let reasons: Vec<&str> = failed.iter().map(|e| e.3["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["wrong_password", "wrong_password", "unknown_account", "wrong_password", "locked"]);
    assert_eq!(
        (failed[0].0.as_str(), failed[0].1.as_str(), failed[0].2.as_deref()),
        ("account:zhang", "officer", Some("012345"))
    );
    assert_eq!(failed[2].3["given"], "nobody-here");
    let locked = events(&st, "account_locked");
    assert_eq!(locked.len(), 1);
    assert_eq!(locked[0].3["failures"], 3);

    // The administrator unlocks; the officer signs in with the badge number.
    let o = account(&st, &["unlock", "zhang"], "");
    assert!(o.status.success(), "{}", text(&o));
    let r = sign_in(&base, "012345", PASSWORD);
    assert_eq!((r.status(), r.header("location")), (303, Some("/")));
    let (session, header) = set_cookie(&r, "evidock_session").expect("a session cookie");
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Strict") && header.contains("Max-Age=1800"),
        "{header}"
    );
    assert!(!header.contains("Secure"), "no Secure flag without TLS (the browser would drop it): {header}");
    let signed_in = events(&st, "signed_in");
    assert_eq!(signed_in.len(), 1);
    assert_eq!(signed_in[0].0, "account:zhang");
    assert_eq!(signed_in[0].3["from"], "127.0.0.1");

    // The bay screen, with the person's name and the page's headers.
    let r = get(&base, "/", &session);
    assert_eq!(r.status(), 200);
    assert!(r.header("content-security-policy").is_some_and(|c| c.contains("frame-ancestors 'none'")));
    let page = r.into_string().unwrap();
    assert!(page.contains("张三") && page.contains("没有接入的记录仪"), "{page}");
    let token = csrf_field(&page);

    // A change without the session's CSRF token is refused and recorded; the session lives on.
    for bad in ["", "forged-token"] {
        let r = answer(
            agent()
                .post(&format!("{base}/logout"))
                .set("Cookie", &format!("evidock_session={session}"))
                .send_form(&[("csrf", bad)]),
        );
        assert_eq!(r.status(), 403);
    }
    let refused = events(&st, "call_refused");
    assert_eq!(refused.len(), 2);
    assert_eq!(refused[0].0, "account:zhang");
    assert_eq!(refused[0].3["via"], "web");
    assert_eq!(get(&base, "/", &session).status(), 200);

    // Sign-out with the token ends the session.
    let r = answer(
        agent()
            .post(&format!("{base}/logout"))
            .set("Cookie", &format!("evidock_session={session}"))
            .send_form(&[("csrf", &token)]),
    );
    assert_eq!((r.status(), r.header("location")), (303, Some("/login")));
    assert_eq!(get(&base, "/", &session).status(), 303);
    assert_eq!(events(&st, "signed_out").last().unwrap().3["reason"], "signed_out");

    // A disabled account is refused whatever the password.
    assert!(account(&st, &["disable", "zhang"], "").status.success());
    assert_eq!(sign_in(&base, "zhang", PASSWORD).status(), 403);
    assert_eq!(events(&st, "sign_in_failed").last().unwrap().3["reason"], "disabled");
    // The log still verifies with all of it in.
    let o = st.evidock(&["log", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
    st.stop();
}

#[test]
fn a_disabled_account_is_signed_out_at_its_next_request_and_accounts_are_typed_operations() {
    let (mut st, base) = web_station("");
    st.start();
    add_officer(&st);
    let session = session_of(&base, "zhang");
    assert_eq!(get(&base, "/mine", &session).status(), 200);
    // The administrator disables the account while its session is live: the session ends
    // then, its next request finds none, and the end is recorded with why.
    let o = account(&st, &["disable", "zhang"], "");
    assert!(o.status.success() && text(&o).contains("account zhang disabled / 账户已停用"), "{}", text(&o));
    let r = get(&base, "/mine", &session);
    assert_eq!((r.status(), r.header("location")), (303, Some("/login")), "a disabled account's session ends");
    let ended = events(&st, "signed_out");
    assert_eq!(ended.last().unwrap().3["reason"], "account_disabled", "{ended:?}");
    assert_eq!(ended.last().unwrap().0, "account:zhang");
    let r = sign_in(&base, "012345", PASSWORD);
    assert_eq!(r.status(), 403, "no sign-in while disabled");
    assert!(r.into_string().unwrap().contains("账户已停用"));
    // Enabled again: it signs in, and the same session token stays dead.
    ok_account(&st, &["enable", "zhang"], "account zhang enabled");
    let again = session_of(&base, "012345");
    assert_eq!(get(&base, "/mine", &again).status(), 200);
    assert_eq!(get(&base, "/mine", &session).status(), 303);
    // A new password set by the administrator ends the account's sessions too.
    let o = account(&st, &["password", "zhang"], "新的-battery-staple-9");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(get(&base, "/mine", &again).status(), 303, "signed out by the new password");
    assert_eq!(events(&st, "signed_out").last().unwrap().3["reason"], "password_changed");
    assert_eq!(sign_in(&base, "zhang", "新的-battery-staple-9").status(), 303, "the new password signs in");

    // On the control socket the accounts are typed operations of the administrator's.
    let ask = |uid: u32, line: &str| -> Value {
        let mut c = crate::support::RawClient::connect_as(uid, &st.path("run/control.sock"));
        assert!(c.line().expect("greeted").starts_with("{\"hello\":"));
        c.send(format!("{line}\n").as_bytes(), &[]);
        let told = c.rest();
        assert_eq!(told.len(), 1, "one typed reply: {told:?}");
        serde_json::from_str(&told[0]).unwrap()
    };
    let listed = ask(0, r#"{"v":4,"op":"account_list"}"#);
    let rows = listed["ok"]["data"].as_array().unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(rows.len(), 1, "{listed}");
    assert_eq!((rows[0]["name"].as_str(), rows[0]["state"].as_str()), (Some("zhang"), Some("active")));
    assert_eq!(rows[0]["roles"], json!(["officer"]));
    assert!(!listed.to_string().contains("argon2"), "never a hash: {listed}");
    // The approver (uid 65534) may not list or change accounts; each refusal is logged.
    let refused = ask(65534, r#"{"v":4,"op":"account_disable","args":{"name":"zhang"}}"#);
    assert_eq!(refused["error"]["kind"], "refused", "{refused}");
    assert!(events(&st, "call_refused").iter().any(|e| e.3["command"] == "account disable"));
    // A hash this station does not accept (too few passes and too little memory), sent by hand,
    // makes nothing; neither does a password sent where its hash belongs.
    let weak = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0";
    for hash in [weak, "长城-correct-horse"] {
        let line = json!({ "v": 4, "op": "account_add", "args": {
            "name": "li", "display_name": "李四", "roles": ["custodian"], "password_hash": hash } });
        let told = ask(0, &line.to_string());
        assert_eq!(told["error"]["kind"], "invalid", "{told}");
    }
    let names: i64 = st.db().query_row("SELECT count(*) FROM station_accounts", [], |r| r.get(0)).unwrap();
    assert_eq!(names, 1, "nothing made");
    // An unknown account is named in the error.
    let told = ask(0, r#"{"v":4,"op":"account_unlock","args":{"name":"nobody"}}"#);
    assert!(told["error"]["message"].as_str().unwrap().contains("no station account \"nobody\""), "{told}");
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}

fn ok_account(st: &Station, args: &[&str], said: &str) {
    let o = account(st, args, "");
    assert!(o.status.success() && text(&o).contains(said), "{}", text(&o));
}

#[test]
fn a_session_expires_and_its_end_is_recorded() {
    let (mut st, base) = web_station("session_s = 2");
    st.start();
    add_officer(&st);
    let r = sign_in(&base, "zhang", PASSWORD);
    let (session, header) = set_cookie(&r, "evidock_session").unwrap();
    assert!(header.contains("Max-Age=2"), "{header}");
    assert_eq!(get(&base, "/", &session).status(), 200);
    // Polled until it has run out (two seconds after sign-in).
    wait_for(20, "the session to expire", || (get(&base, "/", &session).status() == 303).then_some(()));
    let ended = events(&st, "signed_out");
    assert_eq!(ended.len(), 1, "recorded once");
    assert_eq!(ended[0].3["reason"], "expired");
    assert_eq!(
        answer(agent().get(&format!("{base}/events")).set("Cookie", &format!("evidock_session={session}")).call())
            .status(),
        401
    );
    st.stop();
}

/// A restart of the service (an upgrade, a power cut) signs nobody out: sessions are rows of
/// the catalogue, stored under the BLAKE3 of their token, and a form's CSRF token is the same
/// after it. A session whose time ran out while the service was stopped is ended and recorded
/// when it starts again.
#[test]
fn sessions_outlive_a_restart_and_only_their_hashes_are_kept() {
    let (mut st, base) = web_station("session_s = 8");
    st.start();
    add_officer(&st);
    let session = session_of(&base, "zhang");
    let page = get(&base, "/mine", &session);
    assert_eq!(page.status(), 200);
    let csrf = csrf_field(&page.into_string().unwrap());
    assert!(st.stop().success(), "{}", st.log());
    // Neither the cookie's token nor the form's is in the catalogue's files.
    for name in ["catalog.sqlite", "catalog.sqlite-wal"] {
        let path = st.path("state").join(name);
        if let Ok(bytes) = std::fs::read(&path) {
            for secret in [&session, &csrf] {
                assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{name} holds a token");
            }
        }
    }
    let keys: i64 = st.db().query_row("SELECT count(*) FROM web_sessions", [], |r| r.get(0)).unwrap();
    assert_eq!(keys, 1, "the session is kept");

    st.start();
    let page = get(&base, "/mine", &session);
    assert_eq!(page.status(), 200, "still signed in after the restart");
    assert_eq!(csrf_field(&page.into_string().unwrap()), csrf, "the same form token");
    let r = post(&base, "/logout", &session, &[("csrf", &csrf)]);
    assert_eq!((r.status(), r.header("location")), (303, Some("/login")));
    assert_eq!(get(&base, "/mine", &session).status(), 303, "signed out");
    let ended = events(&st, "signed_out");
    assert_eq!((ended.len(), ended[0].3["reason"].as_str()), (1, Some("signed_out")), "{ended:?}");

    // A session that runs out while the service is stopped is recorded as it starts again.
    let second = session_of(&base, "zhang");
    let signed_in = Instant::now();
    assert!(st.stop().success(), "{}", st.log());
    std::thread::sleep(Duration::from_secs(9).saturating_sub(signed_in.elapsed()));
    st.start();
    wait_for(20, "the expired session's end to be recorded", || (events(&st, "signed_out").len() == 2).then_some(()));
    assert_eq!(events(&st, "signed_out")[1].3["reason"], "expired");
    assert_eq!(get(&base, "/mine", &second).status(), 303);
    let keys: i64 = st.db().query_row("SELECT count(*) FROM web_sessions", [], |r| r.get(0)).unwrap();
    assert_eq!(keys, 0, "no session left");
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}

#[test]
fn the_registry_page_reads_through_the_station_api_under_its_rules() {
    // R1, R12 (INV-40): the page calls `device_list` as the signed-in account; the rule table
    // decides, and a refusal is a `call_refused` event naming the account.
    let (mut st, base) = web_station("");
    st.start();
    add_officer(&st);
    let o = account(&st, &["add", "wang", "--display-name", "王五", "--role", "custodian"], PASSWORD);
    assert!(o.status.success(), "{}", text(&o));
    let o = st.evidock(&[
        "device",
        "register",
        "J500001",
        "--officer-id",
        "012345",
        "--officer-name",
        "张三",
        "--unit",
        "城关中队",
    ]);
    assert!(o.status.success(), "{}", text(&o));

    let (custodian, _) = set_cookie(&sign_in(&base, "wang", PASSWORD), "evidock_session").unwrap();
    let r = get(&base, "/devices", &custodian);
    assert_eq!(r.status(), 200);
    let html = r.into_string().unwrap();
    assert!(html.contains("J500001") && html.contains("张三 (012345)") && html.contains("城关中队"), "{html}");
    assert!(html.contains("在用 in service"), "{html}");

    let (officer, _) = set_cookie(&sign_in(&base, "zhang", PASSWORD), "evidock_session").unwrap();
    let r = get(&base, "/devices", &officer);
    assert_eq!(r.status(), 403);
    assert!(r.into_string().unwrap().contains("无此操作权限"));
    let refused = events(&st, "call_refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, "account:zhang");
    assert_eq!(refused[0].3["command"], "device list");
    assert_eq!(refused[0].3["via"], "daemon");
    assert!(get(&base, "/devices", "no-such-session").status() == 303, "no session: to the sign-in");
    st.stop();
}

/// Reads server-sent events from `lines` until one of kind `kind` has data containing `needle`.
fn read_events_until(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    kind: &str,
    needle: &str,
    secs: u64,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (mut event, mut data) = (String::new(), String::new());
    while Instant::now() < deadline {
        let line = lines.next().expect("the stream goes on").unwrap();
        if let Some(e) = line.strip_prefix("event:") {
            event = e.trim().to_string();
        } else if let Some(d) = line.strip_prefix("data:") {
            data.push_str(d.trim_start());
        } else if line.is_empty() {
            if event == kind && data.contains(needle) {
                return data;
            }
            event.clear();
            data.clear();
        }
    }
    panic!("no {kind} event with {needle:?} within {secs} s");
}

#[test]
fn the_bay_screen_follows_a_docking_live_to_safe_to_undock() {
    let (mut st, base) = web_station("");
    st.start();
    add_officer(&st);
    let (session, _) = set_cookie(&sign_in(&base, "zhang", PASSWORD), "evidock_session").unwrap();
    let r = get(&base, "/events", &session);
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let (vol, _) =
        st.sim("W1", &["--serial", "W100001", "--sessions", "1", "--segments", "3", "--segment-bytes", "40000"]);
    st.dock(&vol, "W100001");
    let mut stream = BufReader::new(r.into_reader()).lines();
    let bay = read_events_until(&mut stream, "bays", "可以拔出", 60);
    assert!(bay.contains("id=\"bay-W100001\"") && bay.contains("safe to undock"), "{bay}");
    assert!(bay.contains("3 / 3"), "every file counted: {bay}");
    // The same in the status view: the page shows the daemon's own state.
    assert_eq!(st.wait_finished("W100001")["safe_to_undock"], true);
    // Signed out from another page: the open stream tells its page, and ends.
    let token = csrf_field(&get(&base, "/", &session).into_string().unwrap());
    let r = answer(
        agent()
            .post(&format!("{base}/logout"))
            .set("Cookie", &format!("evidock_session={session}"))
            .send_form(&[("csrf", &token)]),
    );
    assert_eq!(r.status(), 303);
    read_events_until(&mut stream, "expired", "ended", 30);
    assert!(stream.all(|l| l.is_ok_and(|l| l.is_empty() || l.starts_with(':'))), "nothing after the end");
    st.stop();
}

#[test]
fn listening_beyond_the_station_without_tls_is_refused_at_start() {
    let st = Station::new();
    let mut f = std::fs::OpenOptions::new().append(true).open(&st.config).unwrap();
    writeln!(f, "\n[web]\nenabled = true\nlisten = \"0.0.0.0:8470\"").unwrap();
    let o = st.evidock_within(30, &["daemon"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("web.listen = 0.0.0.0:8470") && said.contains("needs TLS") && said.contains("须启用 TLS"),
        "{said}"
    );
    assert!(!st.path("state/catalog.sqlite").exists(), "nothing started");
}

/// chromedriver on a port of its own, killed on drop.
pub(crate) struct Driver {
    child: std::process::Child,
    url: String,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = ureq::delete(&format!("{}/session/{}", self.url, self.session)).call();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    pub(crate) fn start() -> Driver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (apt-get install chromium-driver)");
        let url = format!("http://127.0.0.1:{port}");
        let mut d = Driver { child, url, session: String::new() };
        wait_for(30, "chromedriver to answer", || {
            ureq::get(&format!("{}/status", d.url))
                .call()
                .ok()
                .and_then(|r| serde_json::from_str::<Value>(&r.into_string().ok()?).ok())
                .filter(|v| v["value"]["ready"] == true)
        });
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1024,900",
                "--lang=zh-CN",
            ] },
        } } });
        let r = ureq::post(&format!("{}/session", d.url))
            .set("Content-Type", "application/json")
            .send_string(&caps.to_string())
            .expect("a browser session");
        let v: Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
        d.session = v["value"]["sessionId"].as_str().expect("a session id").to_string();
        d
    }

    pub(crate) fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.url, self.session);
        let req = agent().request(method, &url);
        let r = match body {
            Some(b) => req.set("Content-Type", "application/json").send_string(&b.to_string()),
            None => req.call(),
        };
        let v: Value = serde_json::from_str(&answer(r).into_string().unwrap()).unwrap();
        assert!(v["value"].get("error").is_none(), "WebDriver {method} {path}: {v}");
        v["value"].clone()
    }

    pub(crate) fn go(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    pub(crate) fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap().to_string()
    }

    pub(crate) fn find(&self, css: &str) -> String {
        let v = self.call("POST", "/element", Some(json!({ "using": "css selector", "value": css })));
        v.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).unwrap().to_string()
    }

    pub(crate) fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{e}/value"), Some(json!({ "text": text })));
    }

    pub(crate) fn click(&self, css: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    pub(crate) fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.call("GET", &format!("/element/{e}/text"), None).as_str().unwrap_or_default().to_string()
    }

    /// The text of the element `css` once it contains `needle` (the page may still be loading).
    pub(crate) fn text_when(&self, css: &str, needle: &str) -> String {
        let script = format!(
            "var e = document.querySelector({}); return e ? e.innerText : '';",
            serde_json::to_string(css).unwrap()
        );
        wait_for(30, &format!("{css} to say {needle:?}"), || {
            let t = self.script(&script);
            t.as_str().filter(|t| t.contains(needle)).map(str::to_string)
        })
    }

    pub(crate) fn script(&self, script: &str) -> Value {
        self.call("POST", "/execute/sync", Some(json!({ "script": script, "args": [] })))
    }

    /// Saves a screenshot as `name`.png into `EVIDOCK_SCREENSHOTS`, when it is set
    /// (`docs/screenshots`).
    pub(crate) fn screenshot(&self, name: &str) {
        use base64::Engine as _;
        let Some(dir) = std::env::var_os("EVIDOCK_SCREENSHOTS") else { return };
        let png = self.call("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), bytes).unwrap();
    }

    pub(crate) fn sign_in(&self, base: &str, name: &str, password: &str) {
        self.go(&format!("{base}/login"));
        self.type_into("#name", name);
        self.type_into("#password", password);
        self.click("#signin");
    }
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
)]
fn in_a_browser_sign_in_watch_a_docking_live_and_the_session_ends() {
    let (mut st, base) = web_station("session_s = 30\nlockout_failures = 3");
    st.start();
    add_officer(&st);
    let o = account(&st, &["add", "wang", "--display-name", "王五", "--role", "custodian"], "another-password-1");
    assert!(o.status.success(), "{}", text(&o));
    let b = Driver::start();

    // Sent to the sign-in; a wrong password is told, and three lock the account.
    b.go(&format!("{base}/"));
    assert!(b.url().ends_with("/login"), "{}", b.url());
    b.screenshot("sign-in");
    for _ in 0..2 {
        b.sign_in(&base, "wang", "not-the-password");
        b.text_when("#notice", "密码错误");
    }
    b.sign_in(&base, "wang", "not-the-password");
    b.text_when("#notice", "账户已锁定");
    b.screenshot("locked");
    assert_eq!(events(&st, "account_locked").len(), 1);

    // The officer signs in with the badge number: the bay screen, a session cookie the page's
    // script cannot read.
    b.sign_in(&base, "012345", PASSWORD);
    b.text_when("#no-bays", "没有接入的记录仪");
    assert_eq!(b.url(), format!("{base}/"));
    let cookies = b.call("GET", "/cookie", None);
    let c = cookies.as_array().unwrap().iter().find(|c| c["name"] == "evidock_session").expect("the session cookie");
    assert_eq!((c["httpOnly"].as_bool(), c["sameSite"].as_str()), (Some(true), Some("Strict")), "{c}");
    assert_eq!(b.script("return document.cookie.includes('evidock_session');"), json!(false));

    // A recorder docks: the page follows it live, without reloading, to "safe to undock".
    b.script("window.stillThisPage = true; return null;");
    let (vol, _) =
        st.sim("B1", &["--serial", "B100001", "--sessions", "1", "--segments", "4", "--segment-bytes", "300000"]);
    st.dock(&vol, "B100001");
    let sign = wait_for(60, "the page to say safe to undock", || {
        let t = b.script("var s = document.getElementById('sign-B100001'); return s ? s.innerText : '';");
        t.as_str().filter(|t| t.contains("可以拔出")).map(str::to_string)
    });
    assert!(sign.contains("safe to undock"), "{sign}");
    assert_eq!(b.script("return window.stillThisPage === true;"), json!(true), "updated in place, not reloaded");
    assert!(
        b.text("#bay-B100001").contains("张三") || b.text("#bay-B100001").contains("012345"),
        "{}",
        b.text("#bay-B100001")
    );
    b.screenshot("bays");

    // A change posted from the page without its token is refused (and recorded).
    let status = b.script(
        "return fetch('/logout', {method: 'POST', body: new URLSearchParams({csrf: 'forged'})}).then(r => r.status);",
    );
    assert_eq!(status, json!(403));
    assert_eq!(events(&st, "call_refused").last().unwrap().0, "account:zhang");
    assert!(b.text("#bays").contains("可以拔出"), "still signed in");
    assert_eq!(b.url(), format!("{base}/"));

    // The session runs out: the page goes back to the sign-in by itself.
    wait_for(60, "the page to return to the sign-in", || b.url().ends_with("/login").then_some(()));
    b.text_when("#signin", "登录");
    // Recorded when next presented, or by the sweep when the browser dropped the cookie.
    let ended = wait_for(30, "the end of the session to be recorded", || events(&st, "signed_out").pop());
    assert_eq!((ended.0.as_str(), ended.3["reason"].as_str()), ("account:zhang", Some("expired")));
    drop(b);
    st.stop();
}

#[test]
fn beyond_the_station_the_page_is_served_over_tls_with_secure_cookies() {
    let st = Station::new();
    let (cert, key) = (st.path("web.crt"), st.path("web.key"));
    let o = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=evidock station", "-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs (apt-get install openssl)");
    assert!(o.status.success(), "{}", text(&o));
    let port = free_port();
    let mut f = std::fs::OpenOptions::new().append(true).open(&st.config).unwrap();
    // Every address of the station, the LAN's too: allowed with TLS.
    writeln!(f, "\n[web]\nenabled = true\nlisten = \"0.0.0.0:{port}\"\ntls_cert = \"web.crt\"\ntls_key = \"web.key\"")
        .unwrap();
    let mut st = st;
    st.start();
    let curl = |url: &str| {
        Command::new("curl")
            .args(["-sS", "-D", "-", "-o", "/dev/null", "--max-time", "20", "--cacert"])
            .arg(&cert)
            .arg(url)
            .output()
            .expect("curl runs (apt-get install curl)")
    };
    let o = curl(&format!("https://127.0.0.1:{port}/login"));
    assert!(o.status.success(), "{}", text(&o));
    let head = String::from_utf8_lossy(&o.stdout).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let cookie = head.lines().find(|l| l.starts_with("set-cookie: evidock_pre=")).expect("the form's cookie");
    assert!(cookie.contains("; httponly; samesite=strict") && cookie.ends_with("; secure"), "{cookie}");
    // Plain HTTP on the same port gets no page.
    let o = curl(&format!("http://127.0.0.1:{port}/login"));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("200"), "{}", text(&o));
    st.stop();
}
