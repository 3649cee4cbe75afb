//! Burn to disc (R8): long-term footage planned onto discs, staged as BagIt bags that an
//! independent validator accepts, built into ISO images with real xorriso, read back without
//! mounting and checked file by file; a changed byte in an image fails the verify and names
//! the file; only verified discs count as copies (INV-14).
//!
//! These tests need `xorriso` (and `python3 -m bagit` for the bag check). Without them they
//! are ignored, with the reason (`build.rs` looks for the tools), except under CI (`CI` set),
//! where a missing tool fails them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::Station;

const CASE: &str = "宜卫罚〔2024〕12号";

use crate::support::{ok, text};

/// Fails unless `program args` runs: under CI, where `build.rs` sets every tool's flag, a
/// missing tool is a failure that says what to install.
fn require(program: &str, args: &[&str], install: &str) {
    let found = Command::new(program).args(args).output().is_ok_and(|o| o.status.success());
    assert!(found, "`{program} {}` does not run here: {install}", args.join(" "));
}

fn yesterday(hm: &str) -> String {
    let d = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive() - chrono::Duration::days(1);
    format!("{d}T{hm}")
}

/// A station with two long-term recordings: one filed into a case, one flagged long-term
/// without a case; and a third, ordinary recording that is not burned.
fn station_with_long_term_footage() -> Station {
    let st = Station::new();
    std::fs::write(
        &st.config,
        std::fs::read_to_string(&st.config).unwrap()
            + "[burn]\nstaging_dir = \"burn\"\ncopies = 1\nreserve_per_disc_bytes = 1048576\n",
    )
    .unwrap();
    st.register("K900001");
    let (vol, _) =
        st.sim("V1", &["--serial", "K900001", "--sessions", "3", "--segments", "3", "--segment-bytes", "30000"]);
    ok(st.evidock(&["ingest", vol.to_str().unwrap()]));
    let sessions: Vec<String> = {
        let db = st.db();
        let mut q = db.prepare("SELECT DISTINCT session FROM segments ORDER BY session").unwrap();
        q.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(sessions.len(), 3);
    let window = format!("{},{}", yesterday("00:00"), yesterday("23:59"));
    ok(st.evidock(&["case", "create", CASE, "--officer", "012345", "--kind", "penalty", "--window", &window]));
    ok(st.evidock(&["case", "assign", CASE, "--session", &format!("K900001/{}", sessions[0])]));
    ok(st.evidock(&[
        "retention",
        "flag",
        &format!("K900001/{}", sessions[1]),
        "--trigger",
        "dispute",
        "--reason",
        "当事人申请复议",
    ]));
    ok(st.evidock(&["log", "checkpoint"]));
    st
}

fn plan_json(st: &Station, media: &str) -> serde_json::Value {
    let o = st.evidock(&["burn", "plan", "--media", media, "--json"]);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
}

/// Bytes 64 bytes into `needle`'s first occurrence in `image`, flipped.
fn corrupt_inside(image: &Path, needle: &[u8], out: &Path) {
    let mut bytes = std::fs::read(image).unwrap();
    let at = bytes.windows(needle.len()).position(|w| w == needle).expect("the file's bytes are in the image");
    bytes[at + 64] ^= 0xff;
    std::fs::write(out, bytes).unwrap();
}

#[test]
#[cfg_attr(not(has_xorriso), ignore = "xorriso is not installed: apt-get install xorriso")]
fn long_term_footage_is_planned_staged_imaged_and_verified_and_a_changed_byte_is_named() {
    require("xorriso", &["-version"], "apt-get install xorriso");
    let st = station_with_long_term_footage();
    let before = st.archived_footage();

    // Plan: 30000-byte files cost 30720 + 8192 bytes, a chain file 2048 + 8192; 151424 bytes
    // of room per disc hold a recording's three segments and its chain file, not two
    // recordings: the case on one disc, the flagged recording on another; the third, ordinary
    // recording is not long-term and not planned.
    let media = "custom:1200000";
    let plan = plan_json(&st, media);
    let discs = plan["discs"].as_array().unwrap();
    assert_eq!(discs.len(), 2, "{plan:#}");
    let groups: Vec<String> = discs.iter().map(|d| d["groups"][0]["group"].as_str().unwrap().to_string()).collect();
    assert!(groups.contains(&CASE.to_string()), "{groups:?}");
    assert!(groups.iter().any(|g| g.starts_with("recording K900001/")), "{groups:?}");
    assert!(discs.iter().all(|d| d["files"] == 4 && d["used"].as_u64().unwrap() <= 1_200_000), "{plan:#}");
    let table = ok(st.evidock(&["burn", "plan", "--media", media]));
    assert!(table.contains("刻录计划") && table.contains(CASE), "{table}");
    assert!(!st.actions().contains(&"burn_planned".to_string()), "showing a plan logs nothing");

    // S3 §27, S4 §23: the disc carries place, party and officers.
    ok(st.evidock(&["case", "describe", CASE, "--subject", "某某药店", "--place", "东西湖区吴家山街 8 号"]));

    // Run the job: plan logged first, then each disc staged and imaged.
    let run = ok(st.evidock(&["burn", "run", "--media", media, "--maker", "李四", "--extractor", "张三"]));
    let actions = st.actions();
    let planned = actions.iter().position(|a| a == "burn_planned").expect("plan logged");
    let staged = actions.iter().position(|a| a == "disc_staged").expect("disc staged");
    assert!(planned < staged, "the plan is logged before anything is written");
    assert_eq!(actions.iter().filter(|a| *a == "disc_written").count(), 2, "{run}");
    let list: Vec<serde_json::Value> =
        ok(st.evidock(&["burn", "disc", "list", "--json"])).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|d| d["state"] == "written" && d["maker"] == "李四" && d["extractor"] == "张三"));
    let job = st.path("burn/job-00001");
    let labels: Vec<String> = list.iter().map(|d| d["label"].as_str().unwrap().to_string()).collect();
    assert_eq!(labels, ["EVIDOCK_J00001_D01_OF_02", "EVIDOCK_J00001_D02_OF_02"]);
    // While its discs await verification, a second plan leaves their footage out and says so.
    let o = st.evidock(&["burn", "plan", "--media", media, "--json"]);
    assert!(text(&o).contains("not yet verified"), "{}", text(&o));
    let pending: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(pending["discs"].as_array().unwrap().len(), 0, "{pending:#}");

    // The bag: data mirrors the archive, Chinese case folder kept; bag-info and README.
    let case_disc = list.iter().find(|d| {
        let bi = std::fs::read_to_string(job.join(d["label"].as_str().unwrap()).join("bag-info.txt")).unwrap();
        bi.contains(CASE)
    });
    let case_label = case_disc.expect("a disc holds the case")["label"].as_str().unwrap().to_string();
    let bag = job.join(&case_label);
    let bag_files = crate::support::files_under(&bag.join("data"));
    assert_eq!(bag_files.len(), 4);
    let (chain, footage): (Vec<_>, Vec<_>) = bag_files.iter().partition(|p| p.to_string_lossy().contains("/chain/"));
    assert_eq!((chain.len(), footage.len()), (1, 3), "three segments and their session's chain file");
    for f in &footage {
        assert!(f.to_string_lossy().contains(&format!("/{CASE}/K900001/")), "{}", f.display());
        assert!(before.iter().any(|(p, _)| p == *f), "{} mirrors an archive path", f.display());
    }
    assert!(st.archive().join(chain[0]).is_file(), "{} mirrors an archive path", chain[0].display());
    let info = std::fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    let chain_size = std::fs::metadata(bag.join("data").join(chain[0])).unwrap().len();
    let oxum = format!("Payload-Oxum: {}.4", 90000 + chain_size);
    let place = format!("Place-取证地点: {CASE}: 东西湖区吴家山街 8 号");
    let officer = format!("Handling-Officer-承办人: {CASE}: 张三 (警号 012345)");
    let subject = format!("Subject-执法对象: {CASE}: 某某药店");
    for want in [
        oxum.as_str(),
        "Maker-制作人: 李四",
        "Extractor-提取人: 张三",
        "Extraction-Time-提取时间: ",
        "Bag-Count: ",
        place.as_str(),
        officer.as_str(),
        subject.as_str(),
    ] {
        assert!(info.contains(want), "{want} in\n{info}");
    }
    let readme = std::fs::read_to_string(bag.join("README.txt")).unwrap();
    assert!(readme.contains("sha512sum -c manifest-sha512.txt") && readme.contains("如何离线校验"), "{readme}");
    assert!(bag.join("custody/checkpoint.txt").is_file(), "the signed checkpoint is on the disc");
    assert!(bag.join("custody/custody-signing.pub").is_file(), "the public key is on the disc");
    // The custody extract on the disc proves its recordings' events offline, against the key
    // the station holds.
    let key = st.path("state/custody-signing.pub");
    let o = st.evidock(&[
        "log",
        "verify-extract",
        "--dir",
        bag.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", crate::support::text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["proven"].as_u64().unwrap() > 3, "{v}");

    // An independent BagIt validator accepts both bags: staged_discs_pass_an_independent_bagit_validator.
    // Standard tools check the manifest inside the bag too.
    let o =
        Command::new("sha512sum").args(["-c", "--quiet", "manifest-sha512.txt"]).current_dir(&bag).output().unwrap();
    assert!(o.status.success(), "sha512sum -c: {}", text(&o));

    // Verify the images: every file extracted (no mount) and checked.
    let image = |l: &str| job.join(format!("{l}.iso"));
    let v = ok(st.evidock(&["burn", "verify", "--image", image(&labels[0]).to_str().unwrap(), "--json"]));
    let v: serde_json::Value = serde_json::from_str(v.trim()).unwrap();
    assert_eq!((v["ok"].as_bool(), v["files"].as_u64()), (Some(true), Some(4)), "{v}");

    // One changed byte inside a file of disc 2's image: the verify fails and names the file.
    let victim = crate::support::files_under(&job.join(&labels[1]).join("data"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "MP4"))
        .unwrap();
    let victim_bytes = std::fs::read(job.join(&labels[1]).join("data").join(&victim)).unwrap();
    let bad = st.path("bad.iso");
    corrupt_inside(&image(&labels[1]), &victim_bytes[..64], &bad);
    let o = st.evidock(&["burn", "verify", "--image", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let said = text(&o);
    let victim_path = format!("data/{}", victim.display());
    assert!(said.contains("FAILED") && said.contains(&victim_path), "names {victim_path}:\n{said}");
    let others: Vec<PathBuf> = crate::support::files_under(&job.join(&labels[1]).join("data"));
    for other in others.iter().filter(|p| **p != victim) {
        assert!(!said.contains(&other.display().to_string()), "only the changed file is named:\n{said}");
    }
    assert!(st.actions().contains(&"disc_failed".to_string()));

    // With one copy needed: disc 1's footage is done; disc 2 failed, so its footage is planned again.
    let again = plan_json(&st, media);
    let paths: Vec<String> = again["discs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["paths"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()))
        .collect();
    assert_eq!(paths.len(), 4, "{again:#}");
    assert!(paths.iter().any(|p| *p == victim.display().to_string()), "{paths:?}");

    // The intact image of disc 2 verifies; then nothing is left to burn.
    ok(st.evidock(&["burn", "verify", "--image", image(&labels[1]).to_str().unwrap()]));
    assert_eq!(plan_json(&st, media)["discs"].as_array().unwrap().len(), 0);

    // Discs move, are re-checked; every step is an event; the archive is untouched.
    ok(st.evidock(&[
        "burn",
        "disc",
        "move",
        &labels[0],
        "--location",
        "档案室 柜3",
        "--holder",
        "王五",
        "--reason",
        "入库",
    ]));
    let due = ok(st.evidock(&["burn", "recheck"]));
    assert!(due.contains("no disc due"), "{due}");
    ok(st.evidock(&["burn", "recheck", "--image", image(&labels[0]).to_str().unwrap()]));

    // Two years on (the last check is set back in the catalogue): disc 2 is due; its re-check
    // from a damaged copy fails and its footage is planned again.
    rusqlite::Connection::open(st.path("state/catalog.sqlite"))
        .unwrap()
        .execute("UPDATE discs SET last_check = '2020-01-01T00:00:00+00:00' WHERE label = ?1", [&labels[1]])
        .unwrap();
    let o = st.evidock(&["burn", "recheck"]);
    assert_eq!(o.status.code(), Some(1), "a disc is due: {}", text(&o));
    assert!(text(&o).contains(&labels[1]) && !text(&o).contains(&labels[0]), "{}", text(&o));
    let o = st.evidock(&["burn", "recheck", "--image", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(plan_json(&st, media)["discs"][0]["paths"].as_array().unwrap().len(), 4, "back in the plan");
    // A new job puts it on a disc; a spoiled blank is abandoned and the footage returns.
    ok(st.evidock(&["burn", "run", "--media", media, "--maker", "李四", "--extractor", "张三"]));
    assert_eq!(plan_json(&st, media)["discs"].as_array().unwrap().len(), 0, "on a disc in progress");
    let o = st.evidock(&["burn", "disc", "abandon", &labels[0], "--reason", "x"]);
    assert!(text(&o).contains("only a disc not yet verified"), "a verified disc stays: {}", text(&o));
    ok(st.evidock(&["burn", "disc", "abandon", "EVIDOCK_J00002_D01_OF_01", "--reason", "盘片刻录失败"]));
    assert_eq!(plan_json(&st, media)["discs"][0]["paths"].as_array().unwrap().len(), 4, "back after abandoning");

    let actions = st.actions();
    for a in
        ["burn_planned", "disc_staged", "disc_written", "disc_verified", "disc_failed", "disc_moved", "disc_rechecked"]
    {
        assert!(actions.contains(&a.to_string()), "{a} in {actions:?}");
    }
    let list = ok(st.evidock(&["burn", "disc", "list"]));
    assert!(list.contains("档案室 柜3") && list.contains("王五"), "{list}");
    assert_eq!(st.archived_footage(), before, "staging, imaging and verifying never change the archive");
    st.assert_log_verifies();
}

#[test]
#[cfg_attr(not(has_xorriso), ignore = "xorriso is not installed: apt-get install xorriso")]
fn a_staged_disc_is_written_with_the_configured_command_and_verified_from_the_device() {
    require("xorriso", &["-version"], "apt-get install xorriso");
    let st = station_with_long_term_footage();
    // One disc large enough for everything; the default write command, with a file as the burner.
    ok(st.evidock(&["burn", "run", "--media", "dvd"]));
    let label = "EVIDOCK_J00001_D01_OF_01";
    let device = st.path("drive.img");
    let w = ok(st.evidock(&["burn", "write", label, "--device", device.to_str().unwrap()]));
    assert!(w.contains("written to"), "{w}");
    let v = ok(st.evidock(&["burn", "verify", "--device", device.to_str().unwrap()]));
    assert!(v.contains("verified") && v.contains("8 files"), "{v}");
    let written: i64 = st
        .db()
        .query_row(
            "SELECT COUNT(*) FROM custody_log WHERE action = 'disc_written' AND details LIKE '%\"how\":\"write\"%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(written, 1);
}

#[test]
#[cfg_attr(not(has_xorriso), ignore = "xorriso is not installed: apt-get install xorriso")]
fn an_archive_file_changed_since_ingest_stops_the_staging_and_is_named() {
    require("xorriso", &["-version"], "apt-get install xorriso");
    let st = station_with_long_term_footage();
    // Someone changes one byte of a case file in the archive behind evidock's back (R5).
    let (victim, _) = st.archived_footage().into_iter().find(|(p, _)| p.to_string_lossy().contains(CASE)).unwrap();
    let path = st.archive().join(&victim);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0x01;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::write(&path, &bytes).unwrap();

    let o = st.evidock(&["burn", "run", "--media", "dvd"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains("fixity check failed") && said.contains(&victim.display().to_string()), "{said}");
    let failed: String =
        st.db().query_row("SELECT details FROM custody_log WHERE action = 'disc_failed'", [], |r| r.get(0)).unwrap();
    assert!(failed.contains("staging") && failed.contains("fixity"), "{failed}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "the archive file is left as found, for inspection");
    assert!(!st.actions().contains(&"disc_staged".to_string()));
}

/// A crash in the middle of staging a disc (power cut, `kill -9`): nothing that looks like a
/// finished disc is left (no tag manifests, no `disc_staged`), the archive is untouched, the
/// custody log verifies; the disc shows as never staged, and once abandoned its footage is
/// planned again and a new job makes a disc that verifies.
#[test]
#[cfg_attr(not(has_xorriso), ignore = "xorriso is not installed: apt-get install xorriso")]
fn a_crash_mid_staging_leaves_no_disc_that_looks_finished_and_the_footage_is_burned_again() {
    require("xorriso", &["-version"], "apt-get install xorriso");
    let st = station_with_long_term_footage();
    let before = st.archived_footage();
    let o = std::process::Command::new(crate::support::bin())
        .arg("--config")
        .arg(&st.config)
        .args(["burn", "run", "--media", "dvd", "--maker", "李四", "--extractor", "张三"])
        .env("EVIDOCK_FAILPOINTS", "burn.stage-mid")
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(o.status.signal(), Some(6), "the failpoint was reached: {}", text(&o));
    let (label, state): (String, String) =
        st.db().query_row("SELECT label, state FROM discs", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(state, "planned", "never staged");
    let bag = crate::support::files_under(&st.path("burn"));
    assert!(bag.iter().any(|p| p.to_string_lossy().contains(&format!("{label}/data/"))), "stopped mid-way: {bag:?}");
    assert!(!bag.iter().any(|p| p.to_string_lossy().contains("tagmanifest")), "no half bag looks finished: {bag:?}");
    assert!(!st.actions().contains(&"disc_staged".to_string()));
    assert_eq!(st.archived_footage(), before, "the archive is untouched");
    st.assert_log_verifies();

    // The disc is listed as never staged; the footage waits for it until it is abandoned.
    let list = ok(st.evidock(&["burn", "disc", "list"]));
    assert!(list.contains(&label), "{list}");
    assert_eq!(plan_json(&st, "dvd")["discs"].as_array().unwrap().len(), 0, "held by the interrupted disc");
    let plan = ok(st.evidock(&["burn", "plan", "--media", "dvd"]));
    assert!(
        plan.contains("nothing new to burn")
            && plan.contains(&format!("{label} ("))
            && plan.contains("never staged")
            && plan.contains(&format!("burn disc abandon {label}")),
        "the plan says where the footage is and what to do: {plan}"
    );
    ok(st.evidock(&["burn", "disc", "abandon", &label, "--reason", "staging interrupted by a power cut"]));
    assert_eq!(plan_json(&st, "dvd")["discs"].as_array().unwrap().len(), 1, "planned again");
    ok(st.evidock(&["burn", "run", "--media", "dvd", "--maker", "李四", "--extractor", "张三"]));
    let iso: String =
        st.db().query_row("SELECT written_to FROM discs WHERE label != ?1", [&label], |r| r.get(0)).unwrap();
    ok(st.evidock(&["burn", "verify", "--image", &iso]));
    assert_eq!(st.archived_footage(), before);
    st.assert_log_verifies();
}

#[test]
#[cfg_attr(
    not(all(has_xorriso, has_bagit)),
    ignore = "xorriso or the BagIt validator is not installed: apt-get install xorriso; pip install bagit"
)]
fn staged_discs_pass_an_independent_bagit_validator() {
    require("xorriso", &["-version"], "apt-get install xorriso");
    require("python3", &["-c", "import bagit"], "pip install bagit");
    let st = station_with_long_term_footage();
    ok(st.evidock(&["burn", "run", "--media", "custom:1200000", "--maker", "李四", "--extractor", "张三"]));
    let list: Vec<serde_json::Value> =
        ok(st.evidock(&["burn", "disc", "list", "--json"])).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(list.len(), 2, "{list:?}");
    for d in &list {
        let bag = st.path("burn/job-00001").join(d["label"].as_str().unwrap());
        let o = Command::new("python3").args(["-m", "bagit", "--validate"]).arg(&bag).output().unwrap();
        assert!(o.status.success(), "bagit --validate {}: {}", bag.display(), text(&o));
    }
}

/// Changes an archived file's bytes and its catalogue hash together, as someone holding the
/// catalogue would to make a forgery pass; returns (path in the archive, original bytes).
fn forge_with_catalogue(st: &Station, which: &str) -> (PathBuf, Vec<u8>) {
    let (victim, _) = st.archived_footage().into_iter().find(|(p, _)| p.to_string_lossy().contains(which)).unwrap();
    let path = st.archive().join(&victim);
    let original = std::fs::read(&path).unwrap();
    let mut forged = original.clone();
    forged[100] ^= 0x01;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::write(&path, &forged).unwrap();
    let db = rusqlite::Connection::open(st.path("state/catalog.sqlite")).unwrap();
    let n = db
        .execute(
            "UPDATE files SET blake3 = ?1 WHERE archive_path = ?2",
            [blake3::hash(&forged).to_hex().to_string(), victim.to_string_lossy().into_owned()],
        )
        .unwrap();
    assert_eq!(n, 1);
    (victim, original)
}

fn events_of(st: &Station, action: &str) -> Vec<String> {
    let db = st.db();
    let mut q = db.prepare("SELECT details FROM custody_log WHERE action = ?1 ORDER BY seq").unwrap();
    q.query_map([action], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

#[test]
#[cfg_attr(not(has_xorriso), ignore = "xorriso is not installed: apt-get install xorriso")]
fn a_file_changed_with_its_catalogue_hash_is_never_burned_and_discs_are_checked_against_the_log() {
    require("xorriso", &["-version"], "apt-get install xorriso");
    let st = station_with_long_term_footage();
    let (victim, original) = forge_with_catalogue(&st, CASE);
    let o = st.evidock(&["burn", "run", "--media", "dvd"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains(&victim.display().to_string()) && said.contains("the custody log recorded"), "{said}");
    assert!(said.contains("burn refused") && said.contains("拒绝刻录") && said.contains("已发出警报"), "{said}");
    assert!(!st.actions().contains(&"burn_planned".to_string()), "nothing planned, nothing staged");
    let found = events_of(&st, "catalogue_mismatch");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("burn run") && found[0].contains(&victim.display().to_string()), "{found:?}");
    let status = ok(st.evidock(&["status"]));
    assert!(status.contains("ALARM 警报") && status.contains(&victim.display().to_string()), "{status}");

    // The bytes put back but not the catalogue: refused again, as a contradiction.
    let path = st.archive().join(&victim);
    std::fs::write(&path, &original).unwrap();
    assert_eq!(st.evidock(&["burn", "run", "--media", "dvd"]).status.code(), Some(1));
    // The catalogue put back but not the bytes: the staging reads them against the log.
    let mut forged = original.clone();
    forged[100] ^= 0x01;
    std::fs::write(&path, &forged).unwrap();
    let db = rusqlite::Connection::open(st.path("state/catalog.sqlite")).unwrap();
    db.execute(
        "UPDATE files SET blake3 = ?1 WHERE archive_path = ?2",
        [blake3::hash(&original).to_hex().to_string(), victim.to_string_lossy().into_owned()],
    )
    .unwrap();
    let o = st.evidock(&["burn", "run", "--media", "dvd"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("fixity check failed") && text(&o).contains("the custody log recorded"), "{}", text(&o));
    let failed = events_of(&st, "fixity_failed");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains(&blake3::hash(&forged).to_hex().to_string()), "{failed:?}");
    assert!(!st.actions().contains(&"disc_staged".to_string()));

    // All put back: the job runs. Then the catalogue's hash of a file on the disc is edited:
    // the disc is read against the log, the catalogue's hash is named, the disc does not count.
    std::fs::write(&path, &original).unwrap();
    ok(st.evidock(&["burn", "run", "--media", "dvd"]));
    let label: String =
        st.db().query_row("SELECT label FROM discs ORDER BY id DESC LIMIT 1", [], |r| r.get(0)).unwrap();
    let job: i64 = st.db().query_row("SELECT job_id FROM discs ORDER BY id DESC LIMIT 1", [], |r| r.get(0)).unwrap();
    let image = st.path(&format!("burn/job-{job:05}/{label}.iso"));
    let other: String = st
        .db()
        .query_row(
            "SELECT f.archive_path FROM disc_files df JOIN files f ON f.id = df.file_id JOIN discs d ON d.id = df.disc_id
             WHERE d.label = ?1 AND f.archive_path NOT LIKE '%/chain/%' LIMIT 1",
            [&label],
            |r| r.get(0),
        )
        .unwrap();
    db.execute("UPDATE files SET blake3 = ?1 WHERE archive_path = ?2", ["00".repeat(32), other.clone()]).unwrap();
    let o = st.evidock(&["burn", "verify", "--image", image.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "only the catalogue's edited hash, the disc's bytes match the log: {v:#}");
    assert!(findings[0]["what"].as_str().unwrap().contains("the catalogue was altered"), "{v:#}");
    let state: String = st.db().query_row("SELECT state FROM discs WHERE label = ?1", [&label], |r| r.get(0)).unwrap();
    assert_ne!(state, "verified");
    st.assert_log_verifies();
}
