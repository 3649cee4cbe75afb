//! Duty check-out and check-in (领用 / 归还; R1, R3, R14; docs/DUTY.md): a recorder is handed
//! out only after its health check from its latest docking (S0 §14: 出勤前应检查执法记录设备的
//! 电池容量、内存空间; S3 §7: 检查音像设备的性能、电量和存储空间使用情况，并对系统时间进行校准),
//! docking it is the check-in (S1 §16: 每个工作日结束时，设备管理员将执法记录设备收回), and the
//! handover deadline counts from an officer's return (S2 §22, S3 §26, S4 §22) or an extension
//! the named head approved (S2 §22: 需经机构主管领导批准延期移交). INV-27.

use chrono::{Duration, Utc};
use serde_json::Value;

use crate::support::{ok, text, Station};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// A station with `[duty]` (and anything else) appended to the test configuration.
fn station(extra: &str) -> Station {
    let st = Station::new();
    std::fs::write(&st.config, std::fs::read_to_string(&st.config).unwrap() + extra).unwrap();
    st
}

/// Writes and ingests a recorder volume (no daemon: `evidock ingest`), returning its folder.
/// Exit 1 (the docking needs review) still ingested it.
fn ingest(st: &Station, name: &str, args: &[&str]) -> std::path::PathBuf {
    let (vol, _) = st.sim(name, args);
    redock(st, &vol);
    vol
}

fn redock(st: &Station, vol: &std::path::Path) {
    let o = st.evidock(&["ingest", vol.to_str().unwrap()]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
}

fn events(st: &Station, action: &str) -> Vec<Value> {
    let db = st.db();
    let mut q = db.prepare("SELECT details FROM custody_log WHERE action = ?1 ORDER BY seq").unwrap();
    q.query_map([action], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
        .collect()
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn local(t: chrono::DateTime<Utc>) -> String {
    t.with_timezone(&TZ).format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn days_around_today() -> (String, String) {
    let today = Utc::now().with_timezone(&TZ).date_naive();
    ((today - Duration::days(3)).to_string(), (today + Duration::days(1)).to_string())
}

/// R14 (S0 §14, S3 §7): a recorder never read, or read with a low battery, is refused and the
/// refusal logged with the check; a healthy one is bound to the officer until it docks again,
/// and the recording it made on duty carries that binding (R1, S1 §16).
#[test]
fn a_recorder_below_the_thresholds_is_refused_and_a_healthy_one_is_bound_until_it_docks() {
    let st = station("[duty]\nmin_battery_percent = 50\nmin_free_bytes = 1048576\n");
    for s in ["J800001", "J800002"] {
        st.register(s);
    }
    // Never docked: nothing to vouch for.
    let o = st.evidock(&["duty", "out", "J800001", "--officer", "012345"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("从未在本站接入"), "{}", text(&o));

    ingest(&st, "LOW", &["--serial", "J800001", "--segments", "1", "--segment-bytes", "4096", "--battery", "20"]);
    let o = st.evidock(&["duty", "out", "J800001", "--officer", "012345"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("battery 20% is below 50%") && text(&o).contains("电量20%低于50%"), "{}", text(&o));
    let refused = events(&st, "duty_refused");
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(refused[1]["reason"], "health");
    assert_eq!(refused[1]["health"]["battery_percent"], 20);
    assert!(st.db().query_row("SELECT COUNT(*) FROM duty_bindings", [], |r| r.get::<_, i64>(0)).unwrap() == 0);

    // Healthy: bound for the shift; a second check-out of the same recorder is refused.
    let vol =
        ingest(&st, "OK", &["--serial", "J800002", "--segments", "1", "--segment-bytes", "4096", "--battery", "90"]);
    let out =
        ok(st.evidock(&["duty", "out", "J800002", "--officer", "012345", "--officer-name", "张三", "--shift", "day"]));
    assert!(out.contains("binding #1") && out.contains("已领用"), "{out}");
    assert!(out.contains("battery  ok      battery 90%"), "{out}");
    let listed = json_lines(&ok(st.evidock(&["duty", "list", "--json"])));
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0]["serial"].as_str(), listed[0]["officer_id"].as_str()), (Some("J800002"), Some("012345")));
    let o = st.evidock(&["duty", "out", "J800002", "--officer", "099999"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(events(&st, "duty_refused").last().unwrap()["reason"], "already_out");

    // Footage recorded on duty: it starts after the check-out (whole seconds, with a second's
    // margin for the drift measured at docking), and the recorder docks once the clock has
    // passed it.
    let start = Utc::now() + Duration::seconds(2);
    while Utc::now() < start + Duration::seconds(2) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::fs::remove_dir_all(&vol).unwrap();
    ingest(
        &st,
        "OK",
        &[
            "--serial",
            "J800002",
            "--segments",
            "1",
            "--segment-bytes",
            "4096",
            "--segment-duration-s",
            "1",
            "--start",
            &local(start),
            "--seed",
            "2",
            "--first-seq",
            "10",
        ],
    );
    assert!(json_lines(&ok(st.evidock(&["duty", "list", "--json"]))).is_empty(), "docking checked it in");
    let checked_in = events(&st, "duty_checked_in");
    assert_eq!(checked_in.len(), 1, "{checked_in:?}");
    assert_eq!((checked_in[0]["binding"].as_i64(), checked_in[0]["serial"].as_str()), (Some(1), Some("J800002")));

    let (from, to) = days_around_today();
    let lines = json_lines(&ok(st.evidock(&["duty", "report", "--from", &from, "--to", &to, "--json"])));
    let on_duty: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "recording" && l["binding"] == 1).collect();
    assert_eq!(on_duty.len(), 1, "{lines:#?}");
    assert_eq!(on_duty[0]["officer_id"], "012345");
    assert!(!lines.iter().any(|l| l["kind"] == "no_footage" && l["binding"] == 1), "{lines:#?}");
    st.assert_log_verifies();
}

/// `duty.below = "warn"` hands a recorder out below the thresholds with the warning logged; a
/// plain reading the recorder does not give is said to be unknown, never invented.
#[test]
fn under_warn_a_weak_recorder_goes_out_with_the_warning_logged() {
    let st = station("[duty]\nbelow = \"warn\"\nmin_battery_percent = 50\nmin_free_bytes = 1048576\n");
    st.register("J800003");
    ingest(&st, "W", &["--serial", "J800003", "--segments", "1", "--segment-bytes", "4096", "--battery", "10"]);
    let out = ok(st.evidock(&["duty", "out", "J800003", "--officer", "012345"]));
    assert!(out.contains("below the thresholds (warning logged)"), "{out}");
    let ev = events(&st, "duty_checked_out");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["warned"], true);
    let items = ev[0]["health"]["items"].as_array().unwrap();
    let battery = items.iter().find(|i| i["what"] == "battery").unwrap();
    assert_eq!(battery["state"], "below", "{battery}");
}

/// S1 §16: a recorder still out after the end of the working day is reported as not returned;
/// a shift that brought no footage back is reported when it docks.
#[test]
fn a_recorder_kept_past_the_working_day_and_a_shift_without_footage_are_reported() {
    let st = station("[duty]\nmin_free_bytes = 1048576\nday_end = \"18:00\"\n");
    st.register("J800004");
    // Footage of yesterday, ingested now: older than any shift today.
    let vol = ingest(&st, "N", &["--serial", "J800004", "--segments", "1", "--segment-bytes", "4096"]);
    ok(st.evidock(&["duty", "out", "J800004", "--officer", "012345", "--shift", "day"]));
    let (from, to) = days_around_today();
    let in_two_days = local(Utc::now() + Duration::days(2));
    let lines =
        json_lines(&ok(st.evidock(&["duty", "report", "--from", &from, "--to", &to, "--at", &in_two_days, "--json"])));
    let missing: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "not_returned").collect();
    assert_eq!(missing.len(), 1, "{lines:#?}");
    assert!(missing[0]["text_zh"].as_str().unwrap().contains("至今未归还"), "{:?}", missing[0]);
    // Judged as of now (before the end of the day the binding is due), nothing is overdue yet.
    let at_checkout = local(Utc::now());
    let lines =
        json_lines(&ok(st.evidock(&["duty", "report", "--from", &from, "--to", &to, "--at", &at_checkout, "--json"])));
    assert!(!lines.iter().any(|l| l["kind"] == "not_returned"), "{lines:#?}");

    // It docks again with nothing new on it: checked in, and the shift had no footage.
    redock(&st, &vol);
    let lines = json_lines(&ok(st.evidock(&["duty", "report", "--from", &from, "--to", &to, "--json"])));
    let empty: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "no_footage").collect();
    assert_eq!(empty.len(), 1, "{lines:#?}");
    assert!(empty[0]["text_zh"].as_str().unwrap().contains("无任何录像"));
    let table = ok(st.evidock(&["duty", "report", "--from", &from, "--to", &to]));
    assert!(table.contains("no_footage") && table.contains("1 finding(s)"), "{table}");
    let made = events(&st, "report_made");
    assert!(made.iter().any(|e| e["report"] == "duty"), "{made:?}");
}

/// R3 (S4 §22: 返回单位后24小时以内予以储存; S3 §26; S2 §22): footage of remote work ingested days
/// after it ended is late under the same-day rule, and on time once the officer's return is
/// recorded; an extension of a shift's handover deadline is approved only by the person the
/// configuration names, never by its requester.
#[test]
fn a_return_moves_the_after_return_deadline_and_only_the_named_head_approves_an_extension() {
    let mut st = station(
        "[compliance]\ningest_deadline = \"same-day\"\ningest_deadline_after_return = \"24h\"\n\
         [duty]\nmin_free_bytes = 1048576\nextension_approvers = [\"uid:65534\"]\n",
    );
    // uid 65533 approves access (a role) but is not the head the configuration names.
    let config = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(
        &st.config,
        config.replace("approver = [\"uid:65534\"]", "approver = [\"uid:65534\", \"uid:65533\"]"),
    )
    .unwrap();
    st.register("J800005");
    let three_days_ago = (Utc::now() - Duration::days(3)).with_timezone(&TZ).date_naive();
    ingest(
        &st,
        "R",
        &[
            "--serial",
            "J800005",
            "--segments",
            "1",
            "--segment-bytes",
            "4096",
            "--start",
            &format!("{three_days_ago}T09:00:00"),
        ],
    );
    let (from, to) = days_around_today();
    let late = |st: &Station| -> Vec<Value> {
        let doc: Value = serde_json::from_str(&ok(st.evidock(&[
            "report",
            "compliance",
            "--from",
            &from,
            "--to",
            &to,
            "--format",
            "json",
        ])))
        .unwrap();
        doc["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == "late-ingest").cloned().collect()
    };
    assert_eq!(late(&st).len(), 1, "same day: three days late");

    // The officer came back an hour ago: the 24 h after-return deadline holds.
    let back = local(Utc::now() - Duration::hours(1));
    let out = ok(st.evidock(&["duty", "return", "012345", "--at", &back, "--note", "异地执法"]));
    assert!(out.contains("已登记返回单位"), "{out}");
    assert!(late(&st).is_empty(), "{:?}", late(&st));
    assert_eq!(events(&st, "duty_return_recorded")[0]["officer_id"], "012345");
    let future = local(Utc::now() + Duration::hours(2));
    let o = st.evidock(&["duty", "return", "012345", "--at", &future]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // An extension of a shift's handover deadline: asked by the custodian, refused to the
    // custodian, approved by the named head (uid 65534).
    ok(st.evidock(&["duty", "out", "J800005", "--officer", "012345"]));
    let until = local(Utc::now() + Duration::days(2));
    let out = ok(st.evidock(&["duty", "extend", "1", "--until", &until, "--reason", "偏远地区执法，交通中断"]));
    assert!(out.contains("extension #1"), "{out}");
    let listed = ok(st.evidock(&["duty", "extensions"]));
    assert!(
        listed.contains("#1  binding #1  J800005  012345") && listed.contains("awaiting approval / 待批准"),
        "{listed}"
    );
    st.start();
    let o = st.evidock(&["duty", "approve", "1"]);
    assert_eq!(o.status.code(), Some(2), "the custodian holds no approver role: {}", text(&o));
    let o = st.evidock_as(65533, &["duty", "approve", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("duty.extension_approvers") && text(&o).contains("无权批准延期移交"), "{}", text(&o));
    let o = st.evidock_as(65534, &["duty", "approve", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("延期移交已批准"), "{}", text(&o));
    let o = st.evidock_as(65534, &["duty", "approve", "1"]);
    assert!(!o.status.success(), "approved once: {}", text(&o));
    let listed: Value = serde_json::from_str(&ok(st.evidock(&["duty", "extensions", "--json"]))).unwrap();
    assert_eq!(
        (listed["requested_by"].as_str(), listed["approved_by"].as_str(), listed["reason"].as_str()),
        (Some("root"), Some("nobody"), Some("偏远地区执法，交通中断")),
        "{listed}"
    );
    st.stop();
    let approved = events(&st, "handover_extension_approved");
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0]["requested_by"], "root");
    let refused = events(&st, "call_refused");
    assert_eq!(refused.iter().filter(|e| e["command"] == "duty approve").count(), 2, "{refused:?}");
    st.assert_log_verifies();
}
