//! Access to footage (R9, R10): requests, approval by someone else, confidentiality marks,
//! expiry, and the export of approved footage with a custody extract that verifies offline.

use std::path::Path;

use crate::support::{b3, files_under, Station};

pub(crate) const CASE: &str = "宜卫罚〔2025〕3号";
const INFORMANT: &str = "王举报";

pub(crate) use crate::support::{ok, text};

/// A station whose superuser is also an approver (for the self-approval test), with one
/// recorder ingested and its session filed into CASE.
pub(crate) fn station() -> Station {
    let st = Station::new();
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, cfg.replace("approver = [\"uid:65534\"]", "approver = [\"uid:65534\", \"uid:0\"]"))
        .unwrap();
    st.register("E500001");
    let (vol, _) = st.sim("E500001", &["--serial", "E500001", "--segments", "2", "--segment-bytes", "6000"]);
    ok(st.evidock(&["ingest", vol.to_str().unwrap()]));
    ok(st.evidock(&["case", "create", CASE, "--party", "某某商行", "--officer", "012345", "--kind", "penalty"]));
    let session: String = st.db().query_row("SELECT session FROM segments LIMIT 1", [], |r| r.get(0)).unwrap();
    ok(st.evidock(&["case", "assign", CASE, "--session", &format!("E500001/{session}")]));
    st
}

fn request(st: &Station, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["access", "request", "--case", CASE, "--reason", "行政诉讼举证"];
    args.extend_from_slice(extra);
    st.evidock(&args)
}

pub(crate) fn state_of(st: &Station, id: i64) -> String {
    st.db().query_row("SELECT state FROM access_requests WHERE id = ?1", [id], |r| r.get(0)).unwrap()
}

#[test]
fn an_export_needs_an_approval_by_someone_else_and_carries_a_verifiable_custody_extract() {
    let mut st = station();
    st.start();
    ok(st.evidock(&["access", "informant", "--case", CASE, "--name", INFORMANT]));
    // A hold whose free-text reason names the informant: that event must not reach a party.
    let recording: String =
        st.db().query_row("SELECT 'E500001/' || session FROM segments LIMIT 1", [], |r| r.get(0)).unwrap();
    ok(st.evidock(&["retention", "hold", &recording, "--id", "H-1", "--reason", &format!("{INFORMANT} 举报，保全")]));

    let out = st.path("usb-drive");
    // No request, no export.
    let o = st.evidock(&["export", "--request", "1", "--to", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", crate::support::text(&o));
    assert!(text(&o).contains("no access request #1"), "{}", text(&o));

    ok(request(&st, &["--kind", "export", "--party", "party", "--party-name", "某某商行负责人"]));
    assert_eq!(state_of(&st, 1), "pending");
    // Not approved yet: refused, and the refusal is logged.
    let o = st.evidock(&["export", "--request", "1", "--to", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", crate::support::text(&o));
    assert!(text(&o).contains("nothing leaves without an approved request"), "{}", text(&o));
    let left: Vec<_> =
        std::fs::read_dir(&out).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "a refused export leaves nothing in the target: {left:?}");
    // The requester cannot approve their own request, even holding the approver role.
    let o = st.evidock(&["access", "approve", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", crate::support::text(&o));
    assert!(text(&o).contains("cannot approve or deny it"), "{}", text(&o));
    assert_eq!(state_of(&st, 1), "pending");
    // A user without the approver role is refused by the socket.
    let o = st.evidock_as(4242, &["access", "approve", "1"]);
    assert!(text(&o).contains("needs one of: approver"), "{}", text(&o));
    // Another approver (nobody, through the socket) approves.
    ok(st.evidock_as(65534, &["access", "approve", "1"]));
    assert_eq!(state_of(&st, 1), "approved");

    let said = ok(st.evidock(&["export", "--request", "1", "--to", out.to_str().unwrap()]));
    assert!(said.contains("withheld"), "{said}");
    let dir = out.join("evidock-export-1");
    // The footage: copies equal to the archive, which keeps its own.
    let exported: Vec<_> = files_under(&dir.join("data"));
    let archived = st.archived_footage();
    assert!(!exported.is_empty());
    for rel in &exported {
        assert!(rel.to_string_lossy().contains(CASE), "filed under the case folder: {}", rel.display());
        let h = b3(&dir.join("data").join(rel));
        assert!(archived.iter().any(|(_, a)| *a == h), "{} is a true copy", rel.display());
        assert_eq!(b3(&st.archive().join(rel)), h, "copied, not moved: {}", rel.display());
    }
    // sha256sum agrees with the manifest.
    let o = std::process::Command::new("sha256sum")
        .arg("-c")
        .arg("manifest-sha256.txt")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // Who asked, who approved, who copied, why.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("export.json")).unwrap()).unwrap();
    assert_eq!(
        (summary["requested_by"].as_str(), summary["approved_by"].as_str(), summary["copied_by"].as_str()),
        (Some("root"), Some("nobody"), Some("root"))
    );
    assert_eq!(summary["reason"], "行政诉讼举证");
    // The informant's name appears nowhere in what left.
    for f in files_under(&dir) {
        let bytes = std::fs::read(dir.join(&f)).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(INFORMANT), "{} names the informant", f.display());
    }
    // The extract verifies offline, with the key held from elsewhere (the station's).
    let key = st.path("state/custody-signing.pub");
    let v = ok(st.evidock(&[
        "log",
        "verify-extract",
        "--dir",
        dir.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&v).unwrap();
    assert_eq!(v["intact"], true, "{v}");
    assert!(v["proven"].as_u64().unwrap() > 5 && v["withheld"].as_u64() == Some(1), "{v}");
    let extract = std::fs::read_to_string(dir.join("custody/custody-extract.jsonl")).unwrap();
    assert!(extract.contains("\"footage_exported\"") && extract.contains("\"segment_verified\""), "{extract}");

    // An approval is used once.
    let o = st.evidock(&["export", "--request", "1", "--to", st.path("again").to_str().unwrap()]);
    assert!(text(&o).contains("is used"), "{}", text(&o));
    // Tampering with the extract is caught and named.
    let tampered = extract.replacen("\"segment_verified\"", "\"segment_flagged\"", 1);
    let copy = st.path("tampered");
    crate::support::copy_tree(&dir, &copy);
    std::fs::write(copy.join("custody/custody-extract.jsonl"), tampered).unwrap();
    let o = st.evidock(&["log", "verify-extract", "--dir", copy.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    // The shown event changed but not its encoding: the extract no longer agrees with itself.
    let forged_enc = {
        let mut lines: Vec<serde_json::Value> = extract.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let i = lines.iter().position(|l| l["encoding"].is_string()).unwrap();
        let enc = lines[i]["encoding"].as_str().unwrap().to_string();
        lines[i]["encoding"] = serde_json::Value::String(enc.replacen("72", "73", 1));
        lines.iter().map(|l| l.to_string() + "\n").collect::<String>()
    };
    std::fs::write(copy.join("custody/custody-extract.jsonl"), forged_enc).unwrap();
    let o2 = st.evidock(&["log", "verify-extract", "--dir", copy.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    assert_eq!(o2.status.code(), Some(1), "{}", text(&o2));
    assert!(text(&o2).contains("altered"), "{}", text(&o2));
    let _ = o;

    st.stop();
    let actions = st.actions();
    for a in ["access_requested", "access_approved", "footage_exported", "call_refused"] {
        assert!(actions.contains(&a.to_string()), "{a} missing");
    }
    let refused: i64 =
        st.db().query_row("SELECT count(*) FROM custody_log WHERE action = 'call_refused'", [], |r| r.get(0)).unwrap();
    assert!(refused >= 4, "each refusal logged: {refused}");
    st.assert_log_verifies();
}

#[test]
fn marked_footage_narrows_who_may_request_and_approve() {
    let st = station();
    ok(st.evidock(&["access", "mark", "--case", CASE, "--level", "privacy", "--reason", "涉及未成年人"]));
    // No [access.privacy] lists: nobody may request it.
    let o = request(&st, &["--kind", "copy"]);
    assert_eq!(o.status.code(), Some(2), "{}", crate::support::text(&o));
    assert!(text(&o).contains("access.privacy.requesters"), "{}", text(&o));
    // Name root as a privacy requester and nobody as approver of privacy.
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(
        &st.config,
        format!("{cfg}\n[access.privacy]\nrequesters = [\"uid:0\"]\napprovers = [\"uid:65534\"]\n"),
    )
    .unwrap();
    ok(request(&st, &["--kind", "copy"]));
    let marks: String = st.db().query_row("SELECT marks FROM access_requests WHERE id = 1", [], |r| r.get(0)).unwrap();
    assert_eq!(marks, "[\"privacy\"]");
    // An approver not on the privacy list is refused; one on it approves.
    std::fs::write(
        &st.config,
        std::fs::read_to_string(&st.config)
            .unwrap()
            .replace("approver = [\"uid:65534\", \"uid:0\"]", "approver = [\"uid:65534\", \"uid:4343\"]"),
    )
    .unwrap();
    open_station_to(&st);
    let o = st.evidock_as(4343, &["access", "approve", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("access.privacy.approvers"), "{}", text(&o));
    let o = st.evidock_as(65534, &["access", "approve", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    // Clearing the mark is logged with its reason.
    ok(st.evidock(&["access", "unmark", "1", "--reason", "已成年，解除"]));
    let actions = st.actions();
    assert!(actions.contains(&"confidentiality_marked".into()) && actions.contains(&"confidentiality_cleared".into()));
}

/// Without the daemon, other users act directly on the catalogue: open it to them as a test
/// shortcut (an installed station has the daemon listening instead).
pub(crate) fn open_station_to(st: &Station) {
    use std::os::unix::fs::PermissionsExt;
    for p in [st.dir.path().to_path_buf(), st.path("state")] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    for f in std::fs::read_dir(st.path("state")).unwrap().flatten() {
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o666)).unwrap();
    }
}

#[test]
fn approvals_lapse_and_a_view_is_logged_for_the_requester_only() {
    let st = station();
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, format!("{cfg}\n[access]\napproval_valid_days = 1\n")).unwrap();
    ok(request(&st, &["--kind", "view"]));
    open_station_to(&st);
    let o = st.evidock_as(65534, &["access", "approve", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    let listed = ok(st.evidock(&["access", "view", "1"]));
    assert!(listed.lines().all(|l| Path::new(l).exists()) && !listed.is_empty(), "{listed}");
    open_station_to(&st);
    let o = st.evidock_as(65534, &["access", "view", "1"]);
    assert!(text(&o).contains("only the requester"), "{}", text(&o));
    // A view approval does not allow a copy.
    let o = st.evidock(&["export", "--request", "1", "--to", st.path("x").to_str().unwrap()]);
    assert!(text(&o).contains("approved for view, not copy"), "{}", text(&o));
    // Two days later (the approval moved back in time), it has lapsed: logged once.
    st.open_log_for_tampering()
        .execute("UPDATE access_requests SET valid_until = '2000-01-01T00:00:00+00:00' WHERE id = 1", [])
        .unwrap();
    let o = st.evidock(&["access", "view", "1"]);
    assert!(text(&o).contains("is expired"), "{}", text(&o));
    assert_eq!(state_of(&st, 1), "expired");
    assert!(st.actions().contains(&"access_expired".to_string()));
    assert!(st.actions().contains(&"footage_viewed".to_string()));
}

/// The service's own user, as under its unit (User=evidock).
pub(crate) const SERVICE: u32 = 4250;
/// A requester holding the archivist role.
pub(crate) const REQUESTER: u32 = 4243;

/// [`station`] with [`REQUESTER`] an archivist, its daemon running as [`SERVICE`] with `env`,
/// and request 1 (a copy of CASE by the requester) approved by `nobody`.
pub(crate) fn service_station(env: &[(&str, &str)]) -> Station {
    let mut st = station();
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, cfg.replace("archivist = [\"uid:0\"]", "archivist = [\"uid:0\", \"uid:4243\"]"))
        .unwrap();
    st.start_as(SERVICE, env);
    ok(st.evidock_as(REQUESTER, &["access", "request", "--case", CASE, "--kind", "copy", "--reason", "行政复议"]));
    ok(st.evidock_as(65534, &["access", "approve", "1"]));
    st
}

/// A folder of the requester's own (0700), which the service's user cannot enter.
fn requester_folder(st: &Station) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let home = st.path("home-4243");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(REQUESTER), Some(REQUESTER)).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    home
}

/// Runs `program args` as user `uid` (no groups) in `dir`.
pub(crate) fn as_user(uid: u32, dir: &Path, program: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new("setpriv")
        .args([format!("--reuid={uid}"), format!("--regid={uid}"), "--clear-groups".into()])
        .arg(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn an_export_through_the_service_under_its_own_user_is_readable_by_the_requester_alone() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    const OTHER: u32 = 4244;
    let mut st = service_station(&[]);
    // The requester exports into a folder of their own, which the service's user cannot enter.
    let home = requester_folder(&st);
    let out = home.join("导出");
    let out_s = out.to_str().unwrap();
    let said = ok(st.evidock_as(REQUESTER, &["export", "--request", "1", "--to", out_s]));
    assert!(said.contains("exported") && said.contains("evidock-export-1/"), "{said}");
    let dir = out.join("evidock-export-1");
    assert!(!out.join(".evidock-export-1.partial").exists(), "renamed into place");
    // Written by the service's user, 0600 as everything it writes...
    let meta = std::fs::metadata(dir.join("export.json")).unwrap();
    assert_eq!(meta.uid(), SERVICE);
    assert_eq!(meta.mode() & 0o007, 0, "nothing for other users");
    // ...yet the requester reads every file: each checks against its manifest, the custody
    // extract included.
    let o = as_user(REQUESTER, &dir, "sha256sum", &["-c", "--strict", "manifest-sha256.txt"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = as_user(REQUESTER, &dir, crate::support::bin(), &["log", "verify-extract", "--dir", "."]);
    assert!(o.status.success(), "{}", text(&o));
    // Another user gets nothing, even with the folders opened to them.
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    let o = as_user(OTHER, &dir, "cat", &["export.json"]);
    assert!(!o.status.success() && text(&o).contains("Permission denied"), "{}", text(&o));
    let footage = files_under(&dir.join("data"));
    assert!(!footage.is_empty());
    let o = as_user(OTHER, &dir, "ls", &["data"]);
    assert!(!o.status.success(), "another user lists no footage: {}", text(&o));
    // The requester can remove the export once it is handed over.
    let o = as_user(REQUESTER, &out, "rm", &["-r", "evidock-export-1"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!dir.exists());
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}

#[test]
fn a_service_killed_mid_export_leaves_nothing_the_requester_cannot_remove_and_the_approval_unspent() {
    // The service dies (as by kill -9) right after copying the first file of the export.
    let mut st = service_station(&[("EVIDOCK_FAILPOINTS", "export.mid")]);
    let out = requester_folder(&st);
    let out_s = out.to_str().unwrap();
    let o = st.evidock_as(REQUESTER, &["export", "--request", "1", "--to", out_s]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    // The requester's own client removed the unfinished folder: the service had granted it
    // each folder as it made it. Nothing looks like an export.
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "left in the requester's folder: {left:?}");
    // The approval was not spent: the same request exports once the service is back.
    assert_eq!(state_of(&st, 1), "approved");
    st.kill9();
    st.start_as(SERVICE, &[]);
    // (Starting as the service hands the whole station folder to it: the requester's folder back.)
    std::os::unix::fs::chown(&out, Some(REQUESTER), Some(REQUESTER)).unwrap();
    ok(st.evidock_as(REQUESTER, &["export", "--request", "1", "--to", out_s]));
    let o = as_user(REQUESTER, &out.join("evidock-export-1"), "sha256sum", &["-c", "--strict", "manifest-sha256.txt"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}
