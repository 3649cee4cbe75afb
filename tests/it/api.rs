//! The station API on the control socket, wire version 3: typed requests as raw JSON lines,
//! one typed reply or one typed error each; the transitional operation for commands not yet
//! typed (R9, R12; docs/CONTROL-API.md, INV-40, INV-41).

use serde_json::{json, Value};

use crate::support::{ok, text, RawClient, Station};

/// Sends one request line as `uid` and returns every line the service sent after its greeting.
fn ask(st: &Station, uid: u32, request: &str) -> Vec<String> {
    let mut c = RawClient::connect_as(uid, &st.path("run/control.sock"));
    let hello = c.line().expect("greeted");
    assert!(hello.starts_with("{\"hello\":"), "{hello}");
    c.send(format!("{request}\n").as_bytes(), &[]);
    c.rest()
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn refusals(st: &Station) -> Vec<Value> {
    let db = st.db();
    let mut q = db.prepare("SELECT details FROM custody_log WHERE action = 'call_refused' ORDER BY seq").unwrap();
    q.query_map([], |r| r.get::<_, String>(0)).unwrap().map(|d| parse(&d.unwrap())).collect()
}

#[test]
fn a_typed_request_gets_one_typed_reply_and_writes_its_custody_event() {
    let mut st = Station::new();
    st.start();
    let register = json!({
        "v": 4, "op": "device_register",
        "args": { "serial": "J500001", "officer_id": "012345", "officer_name": "张三", "unit": "城关派出所" },
    });
    let told = ask(&st, 0, &register.to_string());
    assert_eq!(told.len(), 1, "one line, no exit code: {told:?}");
    let reply = parse(&told[0]);
    assert_eq!(reply["ok"]["op"], "device_register", "{reply}");
    assert_eq!(reply["ok"]["data"], json!({ "serial": "J500001", "officer_id": "012345", "usb": [] }));
    let (user, role): (String, String) = st
        .db()
        .query_row("SELECT actor_user, actor_role FROM custody_log WHERE action = 'device_registered'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((user.as_str(), role.as_str()), ("root", "custodian"), "the kernel named the caller");
    assert!(st.log().contains("control: device register"), "{}", st.log());

    // Read back by the approver (uid 65534 here), who may read the registry.
    let told = ask(&st, 65534, r#"{"v":4,"op":"device_list"}"#);
    let list = parse(&told[0]);
    let devices = list["ok"]["data"].as_array().unwrap_or_else(|| panic!("{list}"));
    assert_eq!(devices.len(), 1, "{list}");
    assert_eq!(devices[0]["officer_name"], "张三");
    assert_eq!(devices[0]["unit"], "城关派出所");
    assert_eq!(devices[0]["history"][0]["officer_id"], "012345");

    // The command line's --json prints the same typed items.
    let line = ok(st.evidock(&["device", "list", "--json"]));
    assert_eq!(parse(line.trim()), devices[0], "{line}");

    // A typed error: a recorder never registered is not found, and the catalogue is untouched.
    let events = st.actions().len();
    let told = ask(&st, 0, r#"{"v":4,"op":"device_retire","args":{"serial":"J500009","reason":"损坏"}}"#);
    let e = parse(&told[0]);
    assert_eq!(e["error"]["kind"], "not_found", "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("记录仪未登记"), "{e}");
    assert_eq!(st.actions().len(), events);
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}

#[test]
fn a_refused_request_is_a_typed_refusal_and_is_logged() {
    let mut st = Station::new();
    st.start();
    let told = ask(&st, 65534, r#"{"v":4,"op":"device_register","args":{"serial":"J500002","officer_id":"012345"}}"#);
    assert_eq!(told.len(), 1, "{told:?}");
    let e = parse(&told[0]);
    assert_eq!(e["error"]["kind"], "refused", "{e}");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("needs one of: custodian, admin") && message.contains("无此操作权限"), "{message}");
    let logged = refusals(&st);
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0]["command"], "device register");
    assert_eq!(logged[0]["via"], "socket");
    assert_eq!(logged[0]["uid"], 65534);
    let registered: i64 = st
        .db()
        .query_row("SELECT count(*) FROM custody_log WHERE action = 'device_registered'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(registered, 0);

    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}

#[test]
fn unknown_fields_front_end_options_and_other_versions_are_refused_with_the_reason() {
    let mut st = Station::new();
    st.start();
    // What callers caused: the daemon's own background work (its full verification's
    // `log_point_verified`, INV-38) may land at any moment after READY.
    let by_callers = |st: &Station| -> i64 {
        st.db().query_row("SELECT count(*) FROM custody_log WHERE actor_role != 'system'", [], |r| r.get(0)).unwrap()
    };
    let events = by_callers(&st);
    // An unknown field in the arguments, and an option of the command line's own (`--json`).
    for (line, field) in [
        (r#"{"v":4,"op":"device_retire","args":{"serial":"J500003","reason":"损坏","uid":0}}"#, "uid"),
        (r#"{"v":4,"op":"device_list","args":{"json":true}}"#, "json"),
        (r#"{"v":4,"op":"status","args":{"watch":true}}"#, "watch"),
    ] {
        let told = ask(&st, 0, line);
        let e = parse(&told[0]);
        assert_eq!(e["error"]["kind"], "invalid", "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains(&format!("unknown field `{field}`")), "{e}");
    }
    // An unknown field beside the operation, and an unknown operation.
    let told = ask(&st, 0, r#"{"v":4,"op":"device_list","uid":0}"#);
    assert!(told[0].contains("\"kind\":\"invalid\"") && told[0].contains("unknown field `uid`"), "{told:?}");
    assert_eq!(told.last().map(String::as_str), Some("{\"exit\":2}"), "an unread request ends both kinds of client");
    let told = ask(&st, 0, r#"{"v":4,"op":"device_burn"}"#);
    assert!(told[0].contains("\"kind\":\"invalid\"") && told[0].contains("unknown variant `device_burn`"), "{told:?}");
    // A client of wire version 2 is told which version the service speaks.
    let told = ask(&st, 0, r#"{"v":2,"argv":["device","list"],"paths":[]}"#);
    let e = parse(&told[0]);
    assert_eq!(e["error"]["kind"], "invalid", "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("request version 2 is not 4"), "{e}");
    assert_eq!(told[1], "{\"exit\":2}");
    // And one of version 3, which still carried command-line words.
    let told = ask(&st, 0, r#"{"v":3,"op":"argv","args":{"argv":["device","list"]}}"#);
    assert!(told[0].contains("request version 3 is not 4"), "{told:?}");
    assert_eq!(told[1], "{\"exit\":2}");
    assert_eq!(by_callers(&st), events, "nothing written for a request that was not read");
    assert!(st.stop().success(), "{}", st.log());
}

#[test]
fn no_command_travels_as_words() {
    let mut st = Station::new();
    st.start();
    st.register("J500004");
    let events: i64 = st.db().query_row("SELECT count(*) FROM custody_log", [], |r| r.get(0)).unwrap();
    // Command-line words are no operation of wire version 4: one typed error, with what to do.
    for words in [r#"["device","list"]"#, r#"["access","play","1","a.mp4"]"#, r#"["account","list"]"#] {
        let told = ask(&st, 0, &format!(r#"{{"v":4,"op":"argv","args":{{"argv":{words}}}}}"#));
        assert_eq!(told.len(), 1, "{told:?}");
        let e = parse(&told[0]);
        assert_eq!(e["error"]["kind"], "invalid", "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains("gone since wire version 4"), "{e}");
    }
    let after: i64 =
        st.db().query_row("SELECT count(*) FROM custody_log WHERE actor_role != 'system'", [], |r| r.get(0)).unwrap();
    assert!(after <= events, "nothing run for words");
    // The command line: the same text as before for typed commands.
    let listed = ok(st.evidock(&["device", "list"]));
    assert!(listed.starts_with("J500004  -  012345 张三"), "{listed}");
    let o = st.evidock(&["device", "retire", "J500004", "--reason", "损坏"]);
    assert!(o.status.success() && text(&o).contains("retired J500004 / 已停用"), "{}", text(&o));
    let o = st.evidock(&["device", "retire", "J500004", "--reason", "再次"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("already retired") && text(&o).contains("记录仪已停用"), "{}", text(&o));
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}
