//! Station accounts kept from the web page by an administrator (docs/WEB.md; INV-42, R12):
//! added with roles and a password typed twice (only its hash reaches the catalogue), a new
//! password set, disabled (its session ends at once) and enabled, unlocked after a lockout;
//! a custodian is refused and recorded; every change an `account_changed` event naming the
//! administrator.

use crate::support::text;
use crate::web::{account, csrf_field, events, get, post, session_of, sign_in, web_station, PASSWORD};

#[test]
fn r12_an_administrator_keeps_the_station_accounts_from_the_page() {
    let (mut st, base) = web_station("lockout_failures = 2\nlockout_s = 600");
    st.start();
    for (name, display, role) in [("admin1", "管理员甲", "admin"), ("wang", "王五", "custodian")] {
        let o = account(&st, &["add", name, "--display-name", display, "--role", role], PASSWORD);
        assert!(o.status.success(), "{}", text(&o));
    }
    let admin = session_of(&base, "admin1");
    let bays = get(&base, "/", &admin).into_string().unwrap();
    assert!(bays.contains("id=\"to-accounts\""), "{bays}");
    let html = get(&base, "/accounts", &admin).into_string().unwrap();
    assert!(html.contains("id=\"account-wang\"") && !html.contains("argon2"), "{html}");
    let csrf = csrf_field(&html);

    // An officer's account, with a badge; the passwords must agree; no token, no change.
    let add = |again: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("action", "add".to_string()),
            ("name", "zhao".to_string()),
            ("display_name", "赵六".to_string()),
            ("badge", "076543".to_string()),
            ("role_officer", "1".to_string()),
            ("password", "长城-十个字符以上-ok".to_string()),
            ("again", again.to_string()),
        ]
    };
    let r = post(&base, "/accounts/change", &admin, &refs(&add("长城-十个字符以上-ok")[1..]));
    assert_eq!(r.status(), 403, "no token");
    let r = post(&base, "/accounts/change", &admin, &refs(&add("another-password")));
    assert_eq!(r.status(), 400);
    assert!(r.into_string().unwrap().contains("两次输入的密码不一致"));
    let r = post(&base, "/accounts/change", &admin, &refs(&add("长城-十个字符以上-ok")));
    assert_eq!((r.status(), r.header("location")), (303, Some("/accounts?done=created")));
    let changed = events(&st, "account_changed");
    let created = changed.iter().find(|e| e.3["account"] == "zhao").expect("created");
    assert_eq!((created.0.as_str(), created.1.as_str()), ("account:admin1", "admin"));
    assert!(!created.3.to_string().contains("argon2"), "no hash in the log");
    let hash: String =
        st.db().query_row("SELECT password_hash FROM station_accounts WHERE name = 'zhao'", [], |r| r.get(0)).unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    // The officer signs in by badge with the password typed.
    let zhao = session_of_with(&base, "076543", "长城-十个字符以上-ok");

    // A new password; the old one no longer signs in.
    let set = [
        ("csrf", csrf.as_str()),
        ("action", "password"),
        ("name", "zhao"),
        ("password", "新的密码-0123456789"),
        ("again", "新的密码-0123456789"),
    ];
    let r = post(&base, "/accounts/change", &admin, &set);
    assert_eq!((r.status(), r.header("location")), (303, Some("/accounts?done=password")));
    assert_eq!(sign_in(&base, "076543", "长城-十个字符以上-ok").status(), 401);
    let _ = session_of_with(&base, "076543", "新的密码-0123456789");

    // Disabled: the session it holds ends at its next request; enabled again.
    let r = post(&base, "/accounts/change", &admin, &[("csrf", &csrf), ("action", "disable"), ("name", "zhao")]);
    assert_eq!((r.status(), r.header("location")), (303, Some("/accounts?done=disabled")));
    assert_eq!(get(&base, "/mine", &zhao).status(), 303, "signed out");
    let html = get(&base, "/accounts?done=disabled", &admin).into_string().unwrap();
    assert!(html.contains("id=\"enable-zhao\"") && html.contains("已停用"), "{html}");
    let r = post(&base, "/accounts/change", &admin, &[("csrf", &csrf), ("action", "enable"), ("name", "zhao")]);
    assert_eq!(r.header("location"), Some("/accounts?done=enabled"));

    // Locked by wrong passwords, unlocked from the page.
    assert_eq!(sign_in(&base, "076543", "wrong-password-x").status(), 401);
    assert_eq!(sign_in(&base, "076543", "wrong-password-x").status(), 403, "the second in a row locks");
    assert_eq!(sign_in(&base, "076543", "新的密码-0123456789").status(), 403, "locked");
    let html = get(&base, "/accounts", &admin).into_string().unwrap();
    assert!(html.contains("id=\"unlock-zhao\"") && html.contains("已锁定"), "{html}");
    let r = post(&base, "/accounts/change", &admin, &[("csrf", &csrf), ("action", "unlock"), ("name", "zhao")]);
    assert_eq!(r.header("location"), Some("/accounts?done=unlocked"));
    let _ = session_of_with(&base, "076543", "新的密码-0123456789");

    // A custodian may neither see nor change the accounts; the refusal is recorded.
    let wang = session_of(&base, "wang");
    assert!(!get(&base, "/", &wang).into_string().unwrap().contains("id=\"to-accounts\""));
    assert_eq!(get(&base, "/accounts", &wang).status(), 403);
    let wcsrf = csrf_field(&get(&base, "/", &wang).into_string().unwrap());
    let r = post(&base, "/accounts/change", &wang, &[("csrf", &wcsrf), ("action", "disable"), ("name", "admin1")]);
    assert_eq!(r.status(), 403);
    assert!(events(&st, "call_refused").iter().any(|e| e.0 == "account:wang" && e.3["command"] == "account disable"));
    let changes: Vec<String> = events(&st, "account_changed")
        .iter()
        .filter(|e| e.3["account"] == "zhao")
        .map(|e| e.3["change"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(changes, ["created", "password", "disabled", "enabled", "unlocked"]);
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}

fn refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Signs `name` in with `password`; the session token.
fn session_of_with(base: &str, name: &str, password: &str) -> String {
    let r = sign_in(base, name, password);
    assert_eq!(r.status(), 303, "signed in as {name}");
    crate::web::set_cookie(&r, "evidock_session").expect("a session").0
}

/// In a real browser: the administrator goes from the bay screen to the accounts, adds an
/// officer with the form, and the officer then signs in with the badge number.
#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
)]
fn in_a_browser_an_administrator_adds_an_officer_who_then_signs_in() {
    let (mut st, base) = web_station("");
    st.start();
    for (name, display, role) in [("admin1", "管理员甲", "admin"), ("wang", "王五", "custodian")] {
        let o = account(&st, &["add", name, "--display-name", display, "--role", role], PASSWORD);
        assert!(o.status.success(), "{}", text(&o));
    }
    let b = crate::web::Driver::start();
    b.sign_in(&base, "admin1", PASSWORD);
    b.text_when("#to-accounts", "账户");
    b.click("#to-accounts");
    b.text_when("#account-wang", "王五");
    for (field, value) in [
        ("#new-name", "zhao"),
        ("#new-display-name", "赵六"),
        ("#new-badge", "076543"),
        ("#new-password", "长城-十个字符以上-ok"),
        ("#new-again", "长城-十个字符以上-ok"),
    ] {
        b.type_into(field, value);
    }
    b.click("#new-role-officer");
    b.click("#add-account");
    b.text_when("#done", "账户已创建");
    assert!(b.text("#account-zhao").contains("赵六") && b.text("#account-zhao").contains("076543"));
    b.screenshot("accounts");
    let created = events(&st, "account_changed");
    assert!(created.iter().any(|e| e.3["account"] == "zhao" && e.0 == "account:admin1"), "{created:?}");
    // The officer signs in on the same kiosk with the badge number.
    b.call("DELETE", "/cookie", None);
    b.sign_in(&base, "076543", "长城-十个字符以上-ok");
    b.text_when("#no-bays", "没有接入的记录仪");
    assert_eq!(b.url(), format!("{base}/"));
    assert!(events(&st, "signed_in").iter().any(|e| e.0 == "account:zhao"));
    drop(b);
    assert!(st.stop().success(), "{}", st.log());
}
