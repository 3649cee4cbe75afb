//! Recorders that do not follow the contract, docked as a plain USB disk (`mass-storage`):
//! the model table picks the adapter by USB id, the device registry's USB binding says who
//! it is, the dock seals what it read, important marks become long-term flags, and a USB disk
//! that is not bound stays untouched (R1, R2, R3, R5, R7). USB is a simulated bus here
//! (`EVIDOCK_SIM_USB`, test builds only); the virtual docking station does it over real USB.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{b3, files_under, Station};

const MODEL: &str = "\n[[usb.models]]\nname = \"某品牌 执法记录仪 (mass storage)\"\nvendor_id = \"0x1234\"\n\
                     product_id = \"0x5678\"\nadapter = \"mass-storage\"\nfootage = [\"DCIM\"]\n\
                     name_pattern = \"{serial}_{badge}_{YYYY}{MM}{DD}{hh}{mm}{ss}_{seq}{*}\"\n\
                     important_marks = [\"IMP\"]\n";

fn station() -> Station {
    Station::with_ingest(MODEL)
}

fn vendor_sim(st: &Station, name: &str, serial: &str) -> (std::path::PathBuf, Value) {
    st.sim(
        name,
        &[
            "--kind",
            "mass-storage",
            "--serial",
            serial,
            "--segments",
            "3",
            "--photos",
            "1",
            "--segment-bytes",
            "48K",
            "--start",
            "2024-05-01T09:00:00",
            "--clock-drift-s",
            "120",
        ],
    )
}

/// Every file of a volume with its BLAKE3.
fn tree(root: &std::path::Path) -> BTreeSet<(String, String)> {
    files_under(root).into_iter().map(|p| (p.to_string_lossy().into_owned(), b3(&root.join(&p)))).collect()
}

fn events(st: &Station, action: &str) -> Vec<Value> {
    let db = st.db();
    let mut q = db.prepare("SELECT details FROM custody_log WHERE action = ?1 ORDER BY seq").unwrap();
    q.query_map([action], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
        .collect()
}

#[test]
fn a_bound_mass_storage_recorder_is_ingested_sealed_at_dock_and_its_important_mark_flagged() {
    let mut st = station();
    let o = st.evidock(&[
        "device",
        "register",
        "A100001",
        "--officer-id",
        "012345",
        "--officer-name",
        "张三",
        "--usb",
        "1234:5678:MSUSB0001",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let list = st.evidock(&["device", "list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("usb 1234:5678:MSUSB0001"));
    let (vol, sim) = vendor_sim(&st, "MSUSB0001", "A100001");
    let source = tree(&vol);
    assert!(!vol.join("ZFYINFO.TXT").exists());
    st.start_with(&[("EVIDOCK_SIM_USB", "1234:5678:MSUSB0001")]);
    let docked = st.dock(&vol, "MSUSB0001");
    let bay = st.wait_finished("MSUSB0001");
    assert_eq!(bay["safe_to_undock"], true, "{bay:#}\n{}", st.log());
    assert_eq!(bay["wiped"], true, "{bay:#}");
    assert_eq!(bay["serial"], "A100001");
    assert!(bay["message"].as_str().unwrap().contains("时钟无法读取"), "{bay:#}");

    // Every file archived byte-identical, dated by the time in its name less nothing (the
    // recorder's clock cannot be read, so no drift is known: times are the recorder's).
    let archived = st.archived_footage();
    assert_eq!(archived.len(), source.len(), "{archived:?}");
    let hashes: BTreeSet<&str> = archived.iter().map(|(_, h)| h.as_str()).collect();
    for (_, h) in &source {
        assert!(hashes.contains(h.as_str()));
    }
    for (p, _) in &archived {
        let p = p.to_string_lossy();
        assert!(p.starts_with("2024/05/01/未关联案件+UNASSIGNED/A100001/"), "{p}");
    }
    assert!(files_under(&docked.join("DCIM")).is_empty(), "wiped after the verified copy");

    // Sealed at dock: a manifest of every file, with the identity source, its hash logged.
    let seals: Vec<_> =
        files_under(&st.archive()).into_iter().filter(|p| p.to_string_lossy().ends_with(".SEAL")).collect();
    assert_eq!(seals.len(), 1, "{seals:?}");
    let manifest = std::fs::read_to_string(st.archive().join(&seals[0])).unwrap();
    assert!(manifest.starts_with("EVIDOCK-DOCK-SEAL/1\n"));
    assert!(manifest.contains("identity_source=device registry: USB 1234:5678:MSUSB0001"), "{manifest}");
    assert!(manifest.contains("clock_source=not read"), "{manifest}");
    for f in sim["files"].as_array().unwrap() {
        let line = format!(
            "file={}\t{}\t{}\tfile name\t",
            f["blake3"].as_str().unwrap(),
            f["size"],
            f["start"].as_str().unwrap()
        );
        assert!(manifest.contains(&line), "{line} not in\n{manifest}");
    }
    let sessions = events(&st, "session_verified");
    let seal_event = sessions.iter().find(|e| e["seal_file"].is_string()).expect("the seal is logged");
    assert_eq!(seal_event["blake3"].as_str().unwrap(), blake3::hash(manifest.as_bytes()).to_hex().as_str());
    assert_eq!(seal_event["kind"], "mass-storage");

    // Identity from the registry, no clock reading, both said in the log.
    let id = &events(&st, "identity_read")[0];
    assert_eq!(id["adapter"]["kind"], "mass-storage");
    assert!(id["adapter"]["identity_source"].as_str().unwrap().contains("simulated USB bus"), "{id:#}");
    assert_eq!(id["registry"], "registered");
    let drift = &events(&st, "clock_drift")[0];
    assert_eq!(drift["device_clock"], Value::Null);
    assert_eq!(drift["drift_s"], Value::Null);

    // The file marked important carries a long-term flag naming the mark.
    let flags = events(&st, "retention_flag_set");
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert!(flags[0]["reason"].as_str().unwrap().contains("IMP (file name)"), "{flags:?}");
    // Segment times come from the names (recorder clock), said unattested.
    let db = st.db();
    let (start, detail): (String, String) = db
        .query_row("SELECT start_corrected, detail FROM segments WHERE name LIKE '%_0001.JPG'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(start, "2024-05-01T09:02:00", "the photo's start as its name says it");
    assert!(detail.contains("not attested"), "{detail}");
    st.assert_log_verifies();
    assert!(st.stop().success());
}

#[test]
fn an_unbound_usb_disk_of_a_known_model_is_left_untouched() {
    let mut st = station();
    st.register("A100001");
    let (vol, _) = vendor_sim(&st, "MSUSB0002", "A100001");
    let before = tree(&vol);
    st.start_with(&[("EVIDOCK_SIM_USB", "1234:5678:MSUSB0002")]);
    let docked = st.dock(&vol, "MSUSB0002");
    let bay = st.wait_finished("MSUSB0002");
    assert_eq!(bay["phase"], "not_a_recorder", "{bay:#}");
    let message = bay["message"].as_str().unwrap();
    assert!(message.contains("--usb 1234:5678:MSUSB0002") && message.contains("未读写"), "{message}");
    assert_eq!(tree(&docked), before, "not a byte changed");
    assert!(files_under(&st.archive()).is_empty(), "nothing archived");
    let unknown = events(&st, "unknown_volume");
    assert_eq!(unknown[0]["touched"], false);
    assert_eq!(unknown[0]["usb"], "1234:5678");
    for a in ["docked", "identity_read", "segment_copied"] {
        assert!(!st.actions().iter().any(|x| x == a), "{a} for an unbound disk");
    }
    assert!(st.stop().success());
}

#[test]
fn file_names_of_another_device_are_an_identity_conflict_kept_and_not_wiped() {
    let mut st = station();
    let o = st.evidock(&["device", "register", "A100001", "--officer-id", "012345", "--usb", "1234:5678:MSUSB0003"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The disk bound to A100001 holds footage named for A100009.
    let (vol, _) = vendor_sim(&st, "MSUSB0003", "A100009");
    let before = tree(&vol);
    st.start_with(&[("EVIDOCK_SIM_USB", "1234:5678:MSUSB0003")]);
    let docked = st.dock(&vol, "MSUSB0003");
    let bay = st.wait_finished("MSUSB0003");
    assert_eq!(bay["phase"], "attention", "{bay:#}");
    assert_eq!(bay["wiped"], false);
    assert_eq!(tree(&docked), before, "kept for investigation");
    assert_eq!(st.archived_footage().len(), before.len(), "but archived");
    let conflict = &events(&st, "identity_conflict")[0];
    assert!(conflict["conflict"].as_str().unwrap().contains("names device A100009"), "{conflict:#}");
    assert!(st.stop().success());
}

#[test]
fn a_bad_model_table_is_refused_with_the_key() {
    let st = Station::with_ingest(
        "\n[[usb.models]]\nname = \"x\"\nvendor_id = \"0x1234\"\nproduct_id = \"0x5678\"\nadapter = \"mass-storage\"\n\
         name_pattern = \"{serial}_{when}\"\n",
    );
    let o = st.evidock(&["device", "list"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("usb.models[0].name_pattern") && err.contains("unknown placeholder {when}"), "{err}");
}
