//! The discs on the station's web page (docs/WEB.md; R7; S3 §27): a custodian records where a
//! disc is stored and who holds it, with the reason, and gives up a disc that will never be
//! verified so its footage returns to the plan; each a custody event naming the account; no
//! token, no reason and an approver are refused. Discs are made by the real burn job
//! (`burn run`, xorriso).

use crate::support::text;
use crate::web::{account, add_officer, csrf_field, events, get, post, session_of, web_station, PASSWORD};

#[test]
#[cfg_attr(not(has_xorriso), ignore = "xorriso is not installed: apt-get install xorriso")]
fn r7_a_custodian_records_a_disc_move_and_gives_up_a_spoiled_disc_from_the_page() {
    let (mut st, base, _) = burn_station();
    let o = st.evidock(&["burn", "run", "--media", "dvd", "--maker", "李四", "--extractor", "张三"]);
    assert!(o.status.success(), "{}", text(&o));
    let label: String = st.db().query_row("SELECT label FROM discs LIMIT 1", [], |r| r.get(0)).unwrap();

    let wang = session_of(&base, "wang");
    let html = get(&base, "/", &wang).into_string().unwrap();
    assert!(html.contains("id=\"to-discs\""), "{html}");
    let html = get(&base, "/discs", &wang).into_string().unwrap();
    assert!(html.contains(&format!("id=\"disc-{label}\"")) && html.contains("已刻录"), "{html}");
    assert!(html.contains(&format!("id=\"move-{label}\"")) && html.contains(&format!("id=\"abandon-{label}\"")));
    let csrf = csrf_field(&html);

    // Moved to the archive room, with the reason.
    let moved = [
        ("csrf", csrf.as_str()),
        ("action", "move"),
        ("label", &label),
        ("location", "档案室 柜3 格2"),
        ("holder", "王五"),
        ("reason", "入库保管"),
    ];
    assert_eq!(post(&base, "/discs/change", &wang, &moved[1..]).status(), 403, "no token");
    let r =
        post(&base, "/discs/change", &wang, &[("csrf", &csrf), ("action", "move"), ("label", &label), ("reason", "x")]);
    assert_eq!(r.status(), 400, "neither a place nor a holder");
    let r = post(&base, "/discs/change", &wang, &moved);
    assert_eq!((r.status(), r.header("location")), (303, Some("/discs?done=moved")));
    let ev = events(&st, "disc_moved");
    assert_eq!((ev.len(), ev[0].0.as_str(), ev[0].1.as_str()), (1, "account:wang", "custodian"));
    assert_eq!(ev[0].3["location"], "档案室 柜3 格2");
    let html = get(&base, "/discs?done=moved", &wang).into_string().unwrap();
    assert!(html.contains("光盘已移交") && html.contains("档案室 柜3 格2"), "{html}");

    // An approver reads the list and changes nothing.
    let shen = session_of(&base, "shen");
    let html = get(&base, "/discs", &shen).into_string().unwrap();
    assert!(html.contains(&format!("id=\"disc-{label}\"")) && !html.contains(&format!("id=\"move-{label}\"")));
    let r = post(
        &base,
        "/discs/change",
        &shen,
        &[("csrf", &csrf_field(&html)), ("action", "abandon"), ("label", &label), ("reason", "x")],
    );
    assert_eq!(r.status(), 403);

    // Given up with the reason: it counts as failed, and its footage is planned again.
    let r = post(
        &base,
        "/discs/change",
        &wang,
        &[("csrf", &csrf), ("action", "abandon"), ("label", &label), ("reason", " ")],
    );
    assert_eq!(r.status(), 400, "giving up says why");
    let r = post(
        &base,
        "/discs/change",
        &wang,
        &[("csrf", &csrf), ("action", "abandon"), ("label", &label), ("reason", "盘片刻录失败")],
    );
    assert_eq!((r.status(), r.header("location")), (303, Some("/discs?done=abandoned")));
    assert_eq!(events(&st, "disc_failed").last().map(|e| e.0.clone()), Some("account:wang".to_string()));
    let html = get(&base, "/discs", &wang).into_string().unwrap();
    assert!(html.contains("校验失败") && !html.contains(&format!("id=\"abandon-{label}\"")), "{html}");
    let r = post(
        &base,
        "/discs/change",
        &wang,
        &[("csrf", &csrf), ("action", "abandon"), ("label", &label), ("reason", "再次")],
    );
    assert_eq!(r.status(), 409, "a failed disc is not given up twice");
    let html = get(&base, "/discs?media=dvd", &wang).into_string().unwrap();
    assert!(html.contains("id=\"plan\"") && html.contains("burn plan 刻录计划: media 介质 dvd"), "{html}");
    assert_eq!(get(&base, "/discs?media=floppy", &wang).status(), 400, "an unknown medium");
    let plan = st.evidock(&["burn", "plan", "--media", "dvd", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(&plan.stdout)).unwrap();
    assert_eq!(plan["discs"].as_array().map(Vec::len), Some(1), "the footage is planned again: {plan}");
    st.assert_log_verifies();
    st.stop();
}

/// The burn job run from the page (R8), a terminal never needed: a custodian stages the discs,
/// writes the staged disc onto the "blank disc" in the burner (a file here, written by the
/// default `xorriso` command) and verifies it, each step a process of its own, one at a time,
/// started with `burn_started` naming the account and followed on the page to its end.
/// A station serving its page with a file as the burner (`drive.img`), a custodian `wang`,
/// an approver `shen` and a docked recording flagged long-term: the station, the page, the
/// burner.
fn burn_station() -> (crate::support::Station, String, std::path::PathBuf) {
    let (mut st, base) = web_station("");
    let drive = st.path("drive.img");
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    let burn = format!(
        "\n[burn]\nstaging_dir = \"burn\"\ncopies = 1\nreserve_per_disc_bytes = 1048576\ndevice = \"{}\"\n",
        drive.display()
    );
    std::fs::write(&st.config, cfg + &burn).unwrap();
    st.start();
    add_officer(&st);
    for (name, display, role) in [("wang", "王五", "custodian"), ("shen", "沈六", "approver")] {
        let o = account(&st, &["add", name, "--display-name", display, "--role", role], PASSWORD);
        assert!(o.status.success(), "{}", text(&o));
    }
    let (vol, _) =
        st.sim("D1", &["--serial", "D700002", "--sessions", "1", "--segments", "2", "--segment-bytes", "20000"]);
    st.dock(&vol, "D700002");
    st.wait_finished("D700002");
    let rec: String = st
        .db()
        .query_row("SELECT serial || '/' || session FROM segments WHERE serial = 'D700002' LIMIT 1", [], |r| r.get(0))
        .unwrap();
    let o = st.evidock(&["retention", "flag", &rec, "--trigger", "dispute", "--reason", "当事人申请复议"]);
    assert!(o.status.success(), "{}", text(&o));
    (st, base, drive)
}

#[test]
#[cfg_attr(not(has_xorriso), ignore = "xorriso is not installed: apt-get install xorriso")]
fn r8_a_custodian_stages_writes_and_verifies_a_disc_from_the_page() {
    let (mut st, base, drive) = burn_station();
    let wang = session_of(&base, "wang");
    let html = get(&base, "/discs", &wang).into_string().unwrap();
    assert!(html.contains("id=\"burn-run\"") && !html.contains("id=\"burn-write\""), "no staged disc yet: {html}");
    let csrf = csrf_field(&html);
    // Refused: without the token, an unknown medium, an approver.
    assert_eq!(post(&base, "/discs/burn", &wang, &[("step", "run"), ("media", "dvd")]).status(), 403);
    let r = post(&base, "/discs/burn", &wang, &[("csrf", &csrf), ("step", "run"), ("media", "floppy")]);
    assert_eq!(r.status(), 400);
    assert!(r.into_string().unwrap().contains("光盘类型无效"));
    let shen = session_of(&base, "shen");
    let shen_csrf = csrf_field(&get(&base, "/discs", &shen).into_string().unwrap());
    let r = post(&base, "/discs/burn", &shen, &[("csrf", &shen_csrf), ("step", "run"), ("media", "dvd")]);
    assert_eq!(r.status(), 403, "an approver does not burn");
    assert!(events(&st, "burn_started").is_empty(), "nothing started");

    // Each step from the page, followed to its end.
    let step = |form: &[(&str, &str)], job: u64| {
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend_from_slice(form);
        let r = post(&base, "/discs/burn", &wang, &f);
        assert_eq!((r.status(), r.header("location")), (303, Some("/discs?done=started")), "{form:?}");
        crate::support::wait_for(180, &format!("burn step {job} to end"), || {
            let html = get(&base, "/discs", &wang).into_string().unwrap();
            let at = html.find(&format!("id=\"job-state-{job}\""))?;
            let state = html[at..].chars().take(120).collect::<String>();
            (!state.contains("running")).then(|| (state.contains("done"), html))
        })
    };
    let (ok, html) = step(&[("step", "run"), ("media", "dvd")], 1);
    assert!(ok, "{html}");
    assert!(html.contains("staged 已备妥") && html.contains("id=\"burn-write\""), "{html}");
    let label: String = st.db().query_row("SELECT label FROM discs LIMIT 1", [], |r| r.get(0)).unwrap();
    let maker: String = st.db().query_row("SELECT maker FROM discs LIMIT 1", [], |r| r.get(0)).unwrap();
    assert_eq!(maker, "account:wang", "the person at the page made the disc");
    let (ok, html) = step(&[("step", "write"), ("label", &label)], 2);
    assert!(ok && html.contains("written to 已刻录到"), "{html}");
    assert!(drive.metadata().unwrap().len() > 0, "the burner holds the disc");
    let (ok, html) = step(&[("step", "verify")], 3);
    assert!(ok && html.contains("verified 校验通过"), "{html}");
    let state: String = st.db().query_row("SELECT state FROM discs LIMIT 1", [], |r| r.get(0)).unwrap();
    assert_eq!(state, "verified");
    let started = events(&st, "burn_started");
    assert_eq!(started.len(), 3);
    assert!(started.iter().all(|e| e.0 == "account:wang" && e.1 == "custodian"), "{started:?}");
    assert_eq!(started[1].3["args"], format!("burn write {label} --device {}", drive.display()));

    // One step at a time: while another process holds the burn lock, nothing starts.
    let lock = std::fs::File::options().write(true).open(st.path("state/burn.lock")).unwrap();
    nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map(|held| {
            let r = post(&base, "/discs/burn", &wang, &[("csrf", &csrf), ("step", "recheck")]);
            assert_eq!(r.status(), 409);
            assert!(r.into_string().unwrap().contains("另一刻录步骤正在进行"));
            drop(held);
        })
        .unwrap_or_else(|(_, e)| panic!("{e}"));
    assert_eq!(events(&st, "burn_started").len(), 3, "refused, nothing started");
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}

/// In a real browser: the custodian stages the discs from the page, which follows the step by
/// itself (reloading while it runs) until it is done and offers to write the staged disc.
#[test]
#[cfg_attr(
    any(not(has_xorriso), not(has_chromium)),
    ignore = "needs xorriso, chromium and chromedriver (apt-get install xorriso chromium chromium-driver)"
)]
fn in_a_browser_a_custodian_stages_the_discs_and_the_page_follows_the_step() {
    let (mut st, base, _) = burn_station();
    let b = crate::web::Driver::start();
    b.sign_in(&base, "wang", PASSWORD);
    b.text_when("#to-discs", "光盘");
    b.click("#to-discs");
    b.text_when("#burn-run", "备妥光盘");
    b.script("document.getElementById('burn-media').value = 'dvd'; return null;");
    b.click("#burn-run");
    b.text_when("#done", "刻录步骤已启动");
    // Not reloaded by hand: the page follows the step to its end.
    let state = b.text_when("#job-state-1", "完成");
    assert!(state.contains("done"), "{state}");
    b.text_when("#burn-write", "写入空白光盘");
    assert!(b.text("#job-1").contains("staged 已备妥"), "{}", b.text("#job-1"));
    b.script("document.getElementById('jobs').scrollIntoView(); return null;");
    b.screenshot("discs");
    let state: String = st.db().query_row("SELECT state FROM discs LIMIT 1", [], |r| r.get(0)).unwrap();
    assert_eq!(state, "written", "staged and imaged");
    drop(b);
    assert!(st.stop().success(), "{}", st.log());
}
