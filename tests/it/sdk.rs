//! Recorders with a vendor's GA/T 947.4 SDK (`gat947-sdk`): the library is loaded at run time
//! in a helper process, against a stand-in built here from `tests/sdk/zfy_standin.c` that
//! behaves like a recorder (a password, GBK names, a drifting clock, a failing call, a crash).
//! USB is the simulated bus (`EVIDOCK_SIM_USB`, test builds only).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{files_under, wait_for, Station};

/// Builds the stand-in library into `dir`.
fn standin(dir: &Path) -> PathBuf {
    let out = dir.join("libzfy_standin.so");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/zfy_standin.c");
    let o = Command::new("cc").args(["-shared", "-fPIC", "-O1", "-o"]).arg(&out).arg(&src).output().unwrap();
    assert!(o.status.success(), "cc: {}", String::from_utf8_lossy(&o.stderr));
    out
}

struct Sdk {
    st: Station,
    env: Vec<(String, String)>,
}

impl Sdk {
    /// A station with a `gat947-sdk` model (2f3a:0947) whose library is the stand-in, the
    /// recorder's state as given (`name` and `unit` written in GBK), and the password the
    /// credentials file holds.
    fn new(state: &[(&str, &str)], password: &str) -> Sdk {
        Sdk::with_usb(state, password, "")
    }

    /// [`Sdk::new`], with more keys in `[usb]`.
    fn with_usb(state: &[(&str, &str)], password: &str, usb: &str) -> Sdk {
        let dir = tempfile::tempdir().unwrap();
        let lib = standin(dir.path());
        let model = format!(
            "\n[[usb.models]]\nname = \"某品牌 执法记录仪 (SDK)\"\nvendor_id = \"0x2f3a\"\nproduct_id = \"0x0947\"\n\
             adapter = \"gat947-sdk\"\nlibrary = \"{}\"\nfootage = [\"DCIM\"]\n\
             name_pattern = \"{{serial}}_{{badge}}_{{YYYY}}{{MM}}{{DD}}{{hh}}{{mm}}{{ss}}_{{seq}}{{*}}\"\n\
             important_marks = [\"IMP\"]\n",
            lib.display()
        );
        let st = Station::with_ingest(&model);
        // The library must outlive this function: keep it beside the station.
        let kept = st.path("libzfy_standin.so");
        std::fs::copy(&lib, &kept).unwrap();
        let text = std::fs::read_to_string(&st.config)
            .unwrap()
            .replace(&lib.display().to_string(), &kept.display().to_string())
            .replace("[usb]\nenabled = false\n", &format!("[usb]\nenabled = false\n{usb}"));
        std::fs::write(&st.config, text).unwrap();
        let mut file = Vec::new();
        for (k, v) in state {
            let v = if ["name", "unit"].contains(k) {
                evidock::recorder::format::encode_gbk(v).unwrap()
            } else {
                v.as_bytes().to_vec()
            };
            file.extend_from_slice(k.as_bytes());
            file.push(b'=');
            file.extend_from_slice(&v);
            file.push(b'\n');
        }
        std::fs::write(st.path("recorder.state"), file).unwrap();
        let creds = st.path("credentials");
        std::fs::create_dir(&creds).unwrap();
        let c = creds.join("recorder-credentials");
        std::fs::write(&c, format!("[models]\n\"2f3a:0947\" = \"{password}\"\n")).unwrap();
        std::fs::set_permissions(&c, std::fs::Permissions::from_mode(0o400)).unwrap();
        let env = vec![
            ("ZFY_STANDIN_STATE".to_string(), st.path("recorder.state").display().to_string()),
            ("ZFY_STANDIN_CALLS".to_string(), st.path("recorder.calls").display().to_string()),
            ("CREDENTIALS_DIRECTORY".to_string(), creds.display().to_string()),
        ];
        Sdk { st, env }
    }

    fn start(&mut self, usb_serial: &str) {
        let mut env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let sim = format!("2f3a:0947:{usb_serial}@sdk");
        env.push(("EVIDOCK_SIM_USB", &sim));
        self.st.start_with(&env);
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.st.path("recorder.calls")).unwrap_or_default().lines().map(String::from).collect()
    }

    fn events(&self, action: &str) -> Vec<Value> {
        let db = self.st.db();
        let mut q = db.prepare("SELECT details FROM custody_log WHERE action = ?1 ORDER BY seq").unwrap();
        q.query_map([action], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
            .collect()
    }
}

#[test]
fn the_sdk_identifies_reads_and_sets_the_clock_switches_to_storage_and_the_footage_is_ingested() {
    let mut sdk = Sdk::new(
        &[
            ("password", "Pw-947"),
            ("serial", "A100001"),
            ("badge", "012345"),
            ("name", "张三"),
            ("unit", "宜良县卫生健康局"),
            ("clock_offset_s", "95"),
            ("battery", "64"),
            ("fail", "ReadDeviceResolution"),
        ],
        "Pw-947",
    );
    sdk.start("A100001");
    wait_for(60, "the switch to storage", || (!sdk.events("storage_mode_set").is_empty()).then_some(()));
    let login = &sdk.events("recorder_login")[0];
    assert_eq!(login["outcome"], "accepted", "{login:#}\n{}", sdk.st.log());
    assert_eq!(login["serial"], "A100001");
    assert_eq!(login["battery_percent"], 64);
    assert_eq!(login["clock_set"], "set");
    let drift = login["drift_s"].as_i64().unwrap();
    assert!((94..=96).contains(&drift), "the recorder's clock runs 95 s ahead: {drift}");
    let calls: Vec<&str> = login["calls"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(calls.contains(&"ReadDeviceResolution -> 0 (iRet 2)"), "the failing call is reported: {calls:?}");
    assert_eq!(sdk.events("storage_mode_set")[0]["outcome"], "requested");
    assert_eq!(
        sdk.calls(),
        [
            "Init_Device",
            "GetIDCode",
            "GetZFYInfo",
            "ReadDeviceBatteryDumpEnergy",
            "ReadDeviceResolution",
            "ReadDevTime",
            "SyncDevTime",
            "SetMSDC"
        ],
        "what was asked of the recorder, in order"
    );

    // Its storage appears (same USB serial) and is ingested with what the SDK said.
    wait_for(30, "the recorder back as a disk", || (sdk.events("usb_arrived").len() == 2).then_some(()));
    let (vol, _) = sdk.st.sim(
        "A100001",
        &[
            "--kind",
            "mass-storage",
            "--serial",
            "A100001",
            "--segments",
            "2",
            "--segment-bytes",
            "32K",
            "--start",
            "2024-05-01T09:00:00",
            "--clock-drift-s",
            "95",
        ],
    );
    let docked = sdk.st.dock(&vol, "A100001");
    let bay = sdk.st.wait_finished("A100001");
    assert_eq!(bay["safe_to_undock"], true, "{bay:#}\n{}", sdk.st.log());
    assert_eq!(bay["battery"], 64);
    assert!(files_under(&docked.join("DCIM")).is_empty(), "wiped after the verified copy");
    let id = &sdk.events("identity_read")[0];
    assert_eq!(id["adapter"]["kind"], "gat947-sdk");
    assert!(id["adapter"]["identity_source"].as_str().unwrap().contains("GetZFYInfo"));
    assert_eq!(id["officer_name"], "张三", "GBK decoded");
    assert_eq!(id["unit"], "宜良县卫生健康局");
    assert_eq!(id["badge"], "012345");
    let drift = &sdk.events("clock_drift")[0];
    assert!(drift["drift_s"].as_i64().is_some_and(|d| (94..=96).contains(&d)), "{drift:#}");
    assert_eq!(drift["unreliable"], true, "95 s is beyond the 30 s threshold");
    let set = &sdk.events("clock_set")[0];
    assert!(set["applied"].as_str().unwrap().contains("SyncDevTime"), "{set:#}");
    // Footage times corrected by the drift the SDK measured: the first video started 09:00:00.
    let starts: Vec<String> = sdk
        .st
        .db()
        .prepare("SELECT start_corrected FROM segments WHERE name LIKE '%.MP4' ORDER BY start_corrected")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        starts.first().is_some_and(
            |s| ["2024-05-01T08:59:59", "2024-05-01T09:00:00", "2024-05-01T09:00:01"].contains(&s.as_str())
        ),
        "{starts:?}"
    );
    let text = sdk.events("recorder_login").iter().map(Value::to_string).collect::<String>() + &sdk.st.log();
    assert!(!text.contains("Pw-947"), "the password leaked");
    sdk.st.assert_log_verifies();
    assert!(sdk.st.stop().success());
}

#[test]
fn a_wrong_password_stops_at_the_identity_and_nothing_is_switched_or_read() {
    let mut sdk = Sdk::new(&[("password", "Right-1"), ("serial", "A100002"), ("badge", "012345")], "Wrong-2");
    sdk.start("A100002");
    let bay = sdk.st.wait_bay("usb:A100002", "the refused password", |b| b["phase"] == "attention");
    assert!(bay["message"].as_str().unwrap().contains("密码错误"), "{bay:#}");
    assert_eq!(sdk.events("recorder_login")[0]["outcome"], "refused");
    assert!(sdk.events("storage_mode_set").is_empty());
    assert_eq!(sdk.calls(), ["Init_Device", "GetIDCode", "GetZFYInfo"], "nothing after the refusal");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(sdk.events("recorder_login").len(), 1, "not tried again");
    assert!(sdk.st.stop().success());
}

#[test]
fn a_vendor_library_that_crashes_takes_only_its_helper_down() {
    let mut sdk =
        Sdk::new(&[("password", "Pw-3"), ("serial", "A100003"), ("badge", "012345"), ("crash", "GetZFYInfo")], "Pw-3");
    sdk.start("A100003");
    let bay = sdk.st.wait_bay("usb:A100003", "the crash report", |b| b["phase"] == "attention");
    let message = bay["message"].as_str().unwrap();
    assert!(
        message.contains("crashed") && message.contains("signal 11") && message.contains("厂商库崩溃"),
        "{message}"
    );
    let login = &sdk.events("recorder_login")[0];
    assert_eq!(login["outcome"], "failed");
    assert!(sdk.events("storage_mode_set").is_empty());
    // The daemon lives on: it answers and ingests the next recorder.
    let o = sdk.st.evidock(&["status", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (vol, _) = sdk.st.sim("NEXT", &["--serial", "A100009", "--segment-bytes", "4K"]);
    sdk.st.dock(&vol, "NEXT");
    let next = sdk.st.wait_finished("NEXT");
    assert_eq!(next["safe_to_undock"], true, "{next:#}");
    assert!(sdk.st.stop().success());
}

#[test]
fn a_vendor_library_that_hangs_is_stopped_after_the_timeout_and_reported() {
    let mut sdk = Sdk::with_usb(
        &[("password", "Pw-4"), ("serial", "A100004"), ("badge", "012345"), ("hang", "SetMSDC")],
        "Pw-4",
        "sdk_timeout_s = 2\n",
    );
    sdk.start("A100004");
    let bay = sdk.st.wait_bay("usb:A100004", "the timeout", |b| b["phase"] == "attention");
    assert!(bay["message"].as_str().unwrap().contains("did not answer within 2 s"), "{bay:#}");
    assert_eq!(sdk.events("recorder_login")[0]["outcome"], "failed");
    assert!(sdk.calls().contains(&"SetMSDC".to_string()));
    // No helper left behind.
    let left = Command::new("pgrep").args(["-f", "sdk-helper"]).output().unwrap();
    let mine: Vec<String> = String::from_utf8_lossy(&left.stdout)
        .lines()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/environ"))
                .is_ok_and(|e| e.contains(&sdk.st.path("recorder.state").display().to_string()))
        })
        .map(String::from)
        .collect();
    assert!(mine.is_empty(), "helpers still running: {mine:?}");
    assert!(sdk.st.stop().success());
}
