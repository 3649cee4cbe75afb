//! The command line: clear errors naming the file and key, status views, exit codes.

use crate::support::Station;

#[test]
fn a_bad_configuration_value_names_file_key_and_value() {
    let st = Station::new();
    std::fs::write(&st.config, "[ingest]\nmax_concurrent_bays = 0\n").unwrap();
    let o = st.evidock(&["status"]);
    assert_eq!(o.status.code(), Some(2), "{}", crate::support::text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("evidock.toml: ingest.max_concurrent_bays = 0: must be between 1 and 64"),
        "{}",
        crate::support::text(&o)
    );
    std::fs::write(&st.config, "[ingest]\nwipe = true\n").unwrap();
    let o = st.evidock(&["status"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown field `wipe`"), "{}", crate::support::text(&o));
}

#[test]
fn status_shows_each_bay_in_chinese_and_english_and_as_json() {
    let mut st = Station::new();
    let (vol, _) =
        st.sim("S1", &["--serial", "E500001", "--sessions", "1", "--segments", "2", "--segment-bytes", "10000"]);
    st.start();
    st.dock(&vol, "S1");
    st.wait_finished("S1");
    let o = st.evidock(&["status"]);
    assert!(o.status.success(), "{}", crate::support::text(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("running 运行中"), "{text}");
    assert!(text.contains("recorder 记录仪 E500001"), "{text}");
    assert!(text.contains("safe to undock"), "{text}");
    assert!(text.contains("可以拔出"), "{text}");
    let o = st.evidock(&["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["bays"][0]["serial"], "E500001");
    assert_eq!(doc["recent_dockings"][0]["outcome"], "done");
}

#[test]
fn log_tail_and_verify_report_the_story() {
    let st = Station::new();
    st.register("E500002");
    let (vol, _) =
        st.sim("L1", &["--serial", "E500002", "--sessions", "1", "--segments", "2", "--segment-bytes", "10000"]);
    crate::support::ok(st.evidock(&["ingest", vol.to_str().unwrap()]));
    let o = st.evidock(&["log", "tail", "-n", "100"]);
    assert!(o.status.success(), "{}", crate::support::text(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("segment_copied"), "{text}");
    // More than one reply of the station API holds (10,000): read a page at a time, the same
    // events in the same order, table and JSON lines.
    let page = crate::support::ok(st.evidock(&["log", "tail", "-n", "100", "--json"]));
    let many = crate::support::ok(st.evidock(&["log", "tail", "-n", "1000000", "--json"]));
    assert!(page.lines().count() > 10, "{page}");
    assert_eq!(many, page);
    let table = crate::support::ok(st.evidock(&["log", "tail", "-n", "10001"]));
    assert_eq!(table, text);
    let o = st.evidock(&["log", "verify", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", crate::support::text(&o));

    // Tamper with the log (triggers dropped first, as an attacker with the file would).
    let db = rusqlite::Connection::open(st.path("state/catalog.sqlite")).unwrap();
    assert!(db.execute("UPDATE custody_log SET subject = 'x' WHERE seq = 3", []).is_err(), "triggers refuse UPDATE");
    drop(db);
    let db = st.open_log_for_tampering();
    db.execute("UPDATE custody_log SET subject = 'device:FORGED' WHERE seq = 3", []).unwrap();
    drop(db);
    let o = st.evidock(&["log", "verify"]);
    assert_eq!(o.status.code(), Some(1), "a broken log exits 1: {}", crate::support::text(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains('3'), "names the first bad event: {text}");
}

#[test]
fn status_watch_redraws_the_station_view() {
    use std::io::Read;
    let mut st = Station::new();
    st.start();
    let mut child = std::process::Command::new(crate::support::bin())
        .arg("--config")
        .arg(&st.config)
        .args(["status", "--watch"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut screen = Vec::new();
    let mut buf = [0u8; 4096];
    // Two frames: each starts by clearing the screen.
    while screen.windows(7).filter(|w| *w == b"\x1b[H\x1b[2J").count() < 2 {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "status --watch ended early");
        screen.extend_from_slice(&buf[..n]);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let text = String::from_utf8_lossy(&screen);
    assert!(text.contains("running 运行中"), "{text}");
    assert!(text.contains("no recorder docked / 无记录仪接入"), "{text}");
}

#[test]
fn the_daemon_signs_checkpoints_and_a_truncated_log_is_caught() {
    let mut st = Station::new();
    st.start();
    assert!(st.stop().success());
    let side = std::fs::read_to_string(st.path("state/custody-checkpoints.txt")).expect("side file");
    assert!(side.contains("\n— evidock/"), "a signed note: {side}");
    assert!(st.path("state/custody-signing.pub").exists());
    let o = st.evidock(&["log", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", crate::support::text(&o));

    // Cut the tail after the checkpoint (triggers dropped, as an attacker with the file would).
    let db = st.open_log_for_tampering();
    db.execute("DELETE FROM custody_log WHERE seq = (SELECT MAX(seq) FROM custody_log)", []).unwrap();
    drop(db);
    let o = st.evidock(&["log", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", crate::support::text(&o));
    let text = String::from_utf8_lossy(&o.stdout).to_lowercase();
    assert!(text.contains("truncat"), "{text}");
}

#[test]
fn a_log_tampered_while_the_daemon_runs_raises_the_alarm_and_ingest_goes_on() {
    let mut st = Station::new();
    std::fs::write(
        &st.config,
        std::fs::read_to_string(&st.config).unwrap().replace("[daemon]\n", "[daemon]\ncheckpoint_interval_s = 1\n"),
    )
    .unwrap();
    st.start();
    crate::support::wait_for(30, "a first checkpoint", || {
        std::fs::read_to_string(st.path("state/custody-checkpoints.txt")).ok().filter(|s| !s.is_empty())
    });
    let db = st.open_log_for_tampering();
    db.execute("UPDATE custody_log SET subject = 'daemon:forged' WHERE seq = 1", []).unwrap();
    drop(db);
    // Something new to checkpoint: a docking. Evidence is still taken in.
    let (vol, _) = st.sim("T1", &["--serial", "E500003", "--segments", "2", "--segment-bytes", "5000"]);
    st.dock(&vol, "T1");
    let bay = st.wait_finished("T1");
    assert_eq!(bay["safe_to_undock"], true, "ingest goes on");
    crate::support::wait_for(30, "the alarm", || {
        st.log().contains("ALARM: the custody log does not verify").then_some(())
    });
    let o = st.evidock(&["log", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", crate::support::text(&o));
}

/// An old event edited after its tree nodes were stored (INV-23): signing reads only what is
/// new and the stored nodes, so it signs the tree as first written, never the edit; the
/// daemon's full verification at the next start names the event, raises the alarm and holds
/// every checkpoint; `log verify` names it too.
#[test]
fn an_old_event_edited_under_stored_nodes_is_named_by_the_full_verification_at_start() {
    let mut st = Station::new();
    std::fs::write(
        &st.config,
        std::fs::read_to_string(&st.config).unwrap().replace("[daemon]\n", "[daemon]\ncheckpoint_interval_s = 1\n"),
    )
    .unwrap();
    st.start();
    let (vol, _) = st.sim("T1", &["--serial", "E500004", "--segments", "12", "--segment-bytes", "3000"]);
    st.dock(&vol, "T1");
    st.wait_finished("T1");
    st.stop();
    let db = st.open_log_for_tampering();
    let nodes: i64 = db.query_row("SELECT count(*) FROM custody_tree", [], |r| r.get(0)).unwrap();
    assert!(nodes > 0, "the clean stop's checkpoint stored tree nodes");
    db.execute("UPDATE custody_log SET subject = 'daemon:forged' WHERE seq = 3", []).unwrap();
    drop(db);
    st.start();
    crate::support::wait_for(60, "the full verification's alarm", || {
        st.log().contains("ALARM: the full verification of the custody log finds event 3").then_some(())
    });
    crate::support::wait_for(30, "the checkpoint held", || {
        st.log().contains("ALARM: the custody log does not verify").then_some(())
    });
    st.stop();
    let o = st.evidock(&["log", "verify", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", crate::support::text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["first_bad"]["seq"], 3, "{v}");
}

/// The README's first command: the demo station, without root or hardware, in a folder of
/// its own (run as an unprivileged user when the tests run as root): every bundled recorder
/// docked and safe to undock, the plain USB disk known by the binding the demo registered
/// through the station API, and the custody log intact.
#[test]
fn the_readme_demo_runs_without_root_or_hardware() {
    let dir = tempfile::tempdir().unwrap();
    let root = nix::unistd::getuid().is_root();
    let mut cmd = if root {
        let o = std::process::Command::new("chown").args(["65534:65534"]).arg(dir.path()).output().unwrap();
        assert!(o.status.success(), "{}", crate::support::text(&o));
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(crate::support::bin());
        c
    } else {
        std::process::Command::new(crate::support::bin())
    };
    let o = cmd.arg("demo").current_dir(dir.path()).env("HOME", dir.path()).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", crate::support::text(&o));
    assert!(out.contains("custody log intact") && out.contains("保管日志完好"), "{out}");
    assert!(out.contains("DEMO-DISK-01  recorder 记录仪 A200001  officer 警员 012345 李四"), "{out}");
    assert!(!out.contains("not safe") && out.matches("✔ safe to undock").count() >= 10, "{out}");
    assert!(dir.path().join("evidock-demo/archive").is_dir());
}
