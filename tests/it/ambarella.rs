//! Ambarella A9 cameras: a password login and a disk-mode command over USB control
//! transfers before the storage appears, passwords from the credentials file systemd hands
//! the service, a wrong password reported once with nothing read or written (R1, R3, R12).
//! The camera is the simulated bus's (`EVIDOCK_SIM_USB=...@PASSWORD`, test builds only), which
//! answers the transfers as the protocol says; the virtual docking station does it over a
//! USB gadget.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::support::{files_under, wait_for, Station};

const MODEL: &str = "\n[[usb.models]]\nname = \"Ambarella A9 执法记录仪\"\nvendor_id = \"0x4255\"\n\
                     product_id = \"0x0001\"\nadapter = \"ambarella\"\nfootage = [\"DCIM\"]\n\
                     name_pattern = \"{YYYY}_{MM}{DD}_{hh}{mm}{ss}_{seq}_{badge}_{serial}{*}\"\n\
                     important_marks = [\"EMR\"]\n";

/// A station knowing the Ambarella model, with a credentials folder as systemd makes one.
fn station(credentials: &str, mode: u32) -> (Station, String) {
    let st = Station::with_ingest(MODEL);
    let dir = st.path("credentials");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("recorder-credentials");
    std::fs::write(&file, credentials).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    (st, dir.to_string_lossy().into_owned())
}

fn register(st: &Station, serial: &str, usb: &str) {
    let o = st.evidock(&["device", "register", serial, "--officer-id", "012345", "--usb", usb]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn events(st: &Station, action: &str) -> Vec<Value> {
    let db = st.db();
    let mut q = db.prepare("SELECT details FROM custody_log WHERE action = ?1 ORDER BY seq").unwrap();
    q.query_map([action], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
        .collect()
}

/// The whole custody log as text, to look for what must not be there.
fn log_text(st: &Station) -> String {
    let db = st.db();
    let mut q = db.prepare("SELECT details FROM custody_log ORDER BY seq").unwrap();
    q.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect::<Vec<_>>().join("\n")
}

#[test]
fn a_camera_is_logged_in_told_disk_mode_and_its_storage_ingested_as_ambarella() {
    let (mut st, creds) = station("[models]\n\"4255:0001\" = \"Pw-7391x\"\n", 0o400);
    register(&st, "A9SN001", "4255:0001:AMBA0001");
    let (vol, sim) = st.sim(
        "AMBA0001",
        &["--kind", "ambarella-image", "--serial", "A9SN001", "--segments", "2", "--segment-bytes", "32K"],
    );
    st.start_with(&[("EVIDOCK_SIM_USB", "4255:0001:AMBA0001@Pw-7391x"), ("CREDENTIALS_DIRECTORY", &creds)]);
    wait_for(30, "disk mode", || (!events(&st, "storage_mode_set").is_empty()).then_some(()));
    let login = &events(&st, "recorder_login")[0];
    assert_eq!(login["outcome"], "accepted", "{login:#}");
    assert_eq!(login["password_source"], "credentials file, per model");
    assert_eq!(login["serial"], "A9SN001");
    assert_eq!(events(&st, "storage_mode_set")[0]["outcome"], "requested");

    // The camera comes back as a disk with the same serial; udev would mount it here.
    wait_for(30, "the camera back as a disk", || (events(&st, "usb_arrived").len() == 2).then_some(()));
    let docked = st.dock(&vol, "AMBA0001");
    let bay = st.wait_finished("AMBA0001");
    assert_eq!(bay["safe_to_undock"], true, "{bay:#}\n{}", st.log());
    assert_eq!(bay["serial"], "A9SN001");
    assert!(files_under(&docked.join("DCIM")).is_empty(), "wiped after the verified copy");
    assert_eq!(st.archived_footage().len(), sim["files"].as_array().unwrap().len());
    let id = &events(&st, "identity_read")[0];
    assert_eq!(id["adapter"]["kind"], "ambarella");
    assert_eq!(events(&st, "retention_flag_set").len(), 1, "the EMR file is flagged");
    // The login's status line gave way to the storage's bay.
    let status = st.status().unwrap();
    assert!(!status["bays"].as_array().unwrap().iter().any(|b| b["volume"] == "usb:AMBA0001"), "{status:#}");
    // The password is nowhere: not in the custody log, not in the journal.
    assert!(!log_text(&st).contains("Pw-7391x"));
    assert!(!st.log().contains("Pw-7391x"));
    st.assert_log_verifies();
    assert!(st.stop().success());
}

#[test]
fn a_wrong_password_is_reported_once_and_nothing_is_read_or_written() {
    let (mut st, creds) = station("[devices]\n\"4255:0001:AMBA0002\" = \"Wrong-55\"\n", 0o400);
    register(&st, "A9SN002", "4255:0001:AMBA0002");
    st.start_with(&[("EVIDOCK_SIM_USB", "4255:0001:AMBA0002@Right-77"), ("CREDENTIALS_DIRECTORY", &creds)]);
    let bay = st.wait_bay("usb:AMBA0002", "the refused login", |b| b["phase"] == "attention");
    let message = bay["message"].as_str().unwrap();
    assert!(message.contains("wrong password") && message.contains("密码错误"), "{message}");
    assert!(message.contains("nothing was read or written") && message.contains("未读写"), "{message}");
    let login = &events(&st, "recorder_login")[0];
    assert_eq!(login["outcome"], "refused", "{login:#}");
    assert_eq!(login["password_source"], "credentials file, per device");
    // No retry storm: the loop rescans every 2 s, and still one login, no disk mode.
    std::thread::sleep(std::time::Duration::from_millis(4500));
    assert_eq!(events(&st, "recorder_login").len(), 1, "logged in to again");
    assert!(events(&st, "storage_mode_set").is_empty(), "disk mode after a refused login");
    assert!(!st.actions().iter().any(|a| a == "docked" || a == "segment_copied"));
    let text = log_text(&st) + &st.log();
    assert!(!text.contains("Wrong-55") && !text.contains("Right-77"), "a password leaked");
    assert!(st.stop().success());
}

#[test]
fn no_login_without_a_binding_or_with_a_credentials_file_others_can_read() {
    // A credentials file open to others: refused, the camera not even asked.
    let (mut st, creds) = station("[models]\n\"4255:0001\" = \"Pw-1\"\n", 0o644);
    register(&st, "A9SN003", "4255:0001:AMBA0003");
    st.start_with(&[("EVIDOCK_SIM_USB", "4255:0001:AMBA0003@Pw-1"), ("CREDENTIALS_DIRECTORY", &creds)]);
    let bay = st.wait_bay("usb:AMBA0003", "the refusal", |b| b["phase"] == "attention");
    assert!(bay["message"].as_str().unwrap().contains("chmod 600"), "{bay:#}");
    let login = &events(&st, "recorder_login")[0];
    assert_eq!(login["outcome"], "not_attempted");
    assert!(events(&st, "storage_mode_set").is_empty());
    assert!(st.stop().success());

    // A camera bound to no registered recorder: not logged in to.
    let (mut st, creds) = station("[models]\n\"4255:0001\" = \"Pw-1\"\n", 0o400);
    st.start_with(&[("EVIDOCK_SIM_USB", "4255:0001:AMBA0004@Pw-1"), ("CREDENTIALS_DIRECTORY", &creds)]);
    let bay = st.wait_bay("usb:AMBA0004", "the refusal", |b| b["phase"] == "not_a_recorder");
    assert!(bay["message"].as_str().unwrap().contains("--usb 4255:0001:AMBA0004"), "{bay:#}");
    assert_eq!(events(&st, "recorder_login")[0]["outcome"], "not_attempted");
    assert!(events(&st, "storage_mode_set").is_empty());
    assert!(st.stop().success());
}
