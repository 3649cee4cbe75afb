//! Export onto a removable drive from the station's web page (docs/WEB.md; R9; S2 §24): an
//! archivist exports the footage of an approved copy request onto a drive mounted under
//! `[web] export_root`, through the station API's `export`; the folder that appears is whole
//! and checks with `sha256sum -c`, the copy is a custody event naming the archivist, a used
//! approval exports nothing more and leaves nothing on the drive, a drive not mounted there is
//! refused, and an account without the right sees no export form.

use std::io::Write as _;

use crate::access::CASE;
use crate::support::{ok, text};
use crate::web::{account, csrf_field, events, free_port, get, post, session_of, PASSWORD};

/// A station with footage filed into a case, its page exporting onto drives under media/,
/// an archivist `an` and an approver `shen`, and a copy for a review asked by the station's
/// archivist and approved by another person (request 1): the station, the page, media/.
fn export_station() -> (crate::support::Station, String, std::path::PathBuf) {
    let mut st = crate::access::station();
    let port = free_port();
    let media = st.path("media");
    std::fs::create_dir_all(media.join("U盘-KINGSTON")).unwrap();
    std::fs::create_dir_all(media.join("SANDISK")).unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&st.config).unwrap();
    writeln!(f, "\n[web]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\nexport_root = \"{}\"", media.display())
        .unwrap();
    drop(f);
    let base = format!("http://127.0.0.1:{port}");
    st.start();
    for (name, display, role) in [("an", "安七", "archivist"), ("shen", "沈六", "approver")] {
        let o = account(&st, &["add", name, "--display-name", display, "--role", role], PASSWORD);
        assert!(o.status.success(), "{}", text(&o));
    }
    // A copy for the review, asked by the station's archivist and approved by another person.
    ok(st.evidock(&["access", "request", "--case", CASE, "--kind", "copy", "--reason", "行政复议"]));
    ok(st.evidock_as(65534, &["access", "approve", "1"]));
    (st, base, media)
}

#[test]
fn r9_an_archivist_exports_an_approved_copy_onto_a_drive_from_the_page() {
    let (mut st, base, media) = export_station();
    let an = session_of(&base, "an");
    let html = get(&base, "/access", &an).into_string().unwrap();
    assert!(html.contains("id=\"export-1\"") && html.contains("U盘-KINGSTON") && html.contains("SANDISK"), "{html}");
    let csrf = csrf_field(&html);
    // An approver-only account sees no export form.
    let shen = session_of(&base, "shen");
    assert!(!get(&base, "/access", &shen).into_string().unwrap().contains("id=\"export-1\""));

    // Without the page's token; onto a drive that is not mounted there.
    let r = post(&base, "/access/export", &an, &[("id", "1"), ("drive", "U盘-KINGSTON")]);
    assert_eq!(r.status(), 403, "no token");
    let r = post(&base, "/access/export", &an, &[("csrf", &csrf), ("id", "1"), ("drive", "../../etc")]);
    assert_eq!(r.status(), 400);
    assert!(r.into_string().unwrap().contains("未找到所选移动存储"));
    assert_eq!(crate::access::state_of(&st, 1), "approved", "nothing spent");

    // Onto the drive: a whole folder that checks offline, the copy logged naming the archivist.
    let r = post(&base, "/access/export", &an, &[("csrf", &csrf), ("id", "1"), ("drive", "U盘-KINGSTON")]);
    assert_eq!((r.status(), r.header("location")), (303, Some("/access?done=exported&id=1")));
    let drive = media.join("U盘-KINGSTON");
    let left: Vec<String> =
        std::fs::read_dir(&drive).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(left, ["evidock-export-1"], "only the whole folder");
    let folder = drive.join("evidock-export-1");
    let o = std::process::Command::new("sha256sum")
        .args(["-c", "--strict", "manifest-sha256.txt"])
        .current_dir(&folder)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).matches(": OK").count() >= 2, "{}", text(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("export.json")).unwrap()).unwrap();
    assert_eq!(summary["copied_by"], "account:an", "{summary}");
    assert!(folder.join("custody/custody-extract.jsonl").is_file() && folder.join("custody/checkpoint.txt").is_file());
    let copied = events(&st, "footage_copied");
    assert_eq!((copied.len(), copied[0].0.as_str(), copied[0].1.as_str()), (1, "account:an", "archivist"));
    assert_eq!(crate::access::state_of(&st, 1), "used");
    let html = get(&base, "/access?done=exported&id=1", &an).into_string().unwrap();
    assert!(html.contains("已导出到移动存储") && !html.contains("id=\"export-1\""), "{html}");

    // The approval is used once: onto the other drive, refused, and nothing left there.
    let r = post(&base, "/access/export", &an, &[("csrf", &csrf), ("id", "1"), ("drive", "SANDISK")]);
    assert_eq!(r.status(), 403, "a used approval");
    assert_eq!(std::fs::read_dir(media.join("SANDISK")).unwrap().count(), 0, "nothing left on the drive");
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}

/// The same export in a real browser: the archivist picks the drive on the access page and
/// the page tells that the copy is there.
#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
)]
fn in_a_browser_an_archivist_exports_onto_a_drive() {
    let (mut st, base, media) = export_station();
    let b = crate::web::Driver::start();
    b.sign_in(&base, "an", PASSWORD);
    b.text_when("body", "安七");
    b.go(&format!("{base}/access"));
    b.text_when("#export-1", "导出到移动存储");
    b.script("document.getElementById('drive-1').value = 'SANDISK'; return null;");
    b.screenshot("export");
    b.click("#export-1");
    b.text_when("body", "已导出到移动存储");
    assert!(b.url().contains("done=exported"), "{}", b.url());
    assert!(media.join("SANDISK/evidock-export-1/export.json").is_file(), "the folder on the chosen drive");
    assert_eq!(std::fs::read_dir(media.join("U盘-KINGSTON")).unwrap().count(), 0, "nothing on the other");
    assert_eq!(events(&st, "footage_copied")[0].0, "account:an");
    drop(b);
    assert!(st.stop().success(), "{}", st.log());
}
