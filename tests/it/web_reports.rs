//! Reports on the station's web page (docs/WEB.md; R3, R6, R11, R13, R14): a supervisor makes
//! the compliance report over a period as a page that prints and as a CSV file, and draws a
//! spot check that the same seed draws again; each a `report_made` event naming the account;
//! a form without its CSRF token, a bad period, a bad format or sample, and a custodian are
//! refused.

use crate::support::text;
use crate::web::{account, add_officer, csrf_field, events, get, post, session_of, web_station, PASSWORD};

#[test]
fn r3_a_supervisor_makes_the_compliance_report_and_a_spot_check_from_the_page() {
    let (mut st, base) = web_station("");
    st.start();
    add_officer(&st);
    for (name, display, role) in [("li", "李四", "supervisor"), ("wang", "王五", "custodian")] {
        let o = account(&st, &["add", name, "--display-name", display, "--role", role], PASSWORD);
        assert!(o.status.success(), "{}", text(&o));
    }
    let (vol, _) =
        st.sim("P1", &["--serial", "P700001", "--sessions", "2", "--segments", "2", "--segment-bytes", "20000"]);
    st.dock(&vol, "P700001");
    st.wait_finished("P700001");
    let li = session_of(&base, "li");
    let html = get(&base, "/", &li).into_string().unwrap();
    assert!(html.contains("id=\"to-reports\""), "{html}");
    let html = get(&base, "/reports", &li).into_string().unwrap();
    assert!(html.contains("id=\"make-compliance\"") && html.contains("id=\"make-spot-check\""), "{html}");
    let csrf = csrf_field(&html);
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let from = (today - chrono::Duration::days(7)).to_string();
    let to = today.to_string();

    // The compliance report as a page that prints, under a policy allowing only its style.
    let form = [("csrf", csrf.as_str()), ("from", &from), ("to", &to), ("format", "html")];
    assert_eq!(post(&base, "/reports/compliance", &li, &form[1..]).status(), 403, "no token");
    assert!(events(&st, "report_made").is_empty());
    let r = post(&base, "/reports/compliance", &li, &form);
    assert_eq!(r.status(), 200);
    let policy = r.header("content-security-policy").unwrap_or_default().to_string();
    assert!(policy.starts_with("default-src 'none'; style-src 'sha256-"), "{policy}");
    let page = r.into_string().unwrap();
    assert!(page.contains("合规报告") && page.contains("P700001"), "{page}");
    assert!(!page.contains("<script"), "a printed report runs nothing");
    let made = events(&st, "report_made");
    assert_eq!((made.len(), made[0].0.as_str(), made[0].1.as_str()), (1, "account:li", "supervisor"));
    assert_eq!((made[0].3["report"].as_str(), made[0].3["from"].as_str()), (Some("compliance"), Some(from.as_str())));
    // As a spreadsheet file, with its byte-order mark.
    let r =
        post(&base, "/reports/compliance", &li, &[("csrf", &csrf), ("from", &from), ("to", &to), ("format", "csv")]);
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        r.header("content-disposition").map(str::to_string),
        Some(format!("attachment; filename=\"compliance-{from}-{to}.csv\""))
    );
    let csv = r.into_string().unwrap();
    assert!(csv.starts_with('\u{feff}') && csv.contains("P700001"), "{csv}");
    // A period that ends before it starts, and a format the station does not make: told.
    let r = post(&base, "/reports/compliance", &li, &[("csrf", &csrf), ("from", &to), ("to", &from)]);
    assert_eq!(r.status(), 400);
    let r =
        post(&base, "/reports/compliance", &li, &[("csrf", &csrf), ("from", &from), ("to", &to), ("format", "pdf")]);
    assert_eq!(r.status(), 400);
    assert!(r.into_string().unwrap().contains("报告格式"));
    assert_eq!(events(&st, "report_made").len(), 2);

    // A spot check drawn again from its seed draws the same recordings.
    let draw = |seed: &str| {
        let form = [
            ("csrf", csrf.as_str()),
            ("sample", "2"),
            ("seed", seed),
            ("from", &from),
            ("to", &to),
            ("format", "json"),
        ];
        let r = post(&base, "/reports/spot-check", &li, &form);
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
        assert_eq!(
            (v["format"].as_str(), v["seed"].as_str(), v["population"].as_u64()),
            (Some("evidock-spot-check/1"), Some(seed), Some(2))
        );
        v["picks"].clone()
    };
    let first = draw("20261207");
    assert_eq!(first.as_array().map(Vec::len), Some(2));
    assert_eq!(draw("20261207"), first);
    let r = post(&base, "/reports/spot-check", &li, &[("csrf", &csrf), ("sample", "0"), ("from", &from), ("to", &to)]);
    assert_eq!(r.status(), 400, "a sample of none");
    let r = post(
        &base,
        "/reports/spot-check",
        &li,
        &[("csrf", &csrf), ("sample", "1"), ("seed", "-1"), ("from", &from), ("to", &to)],
    );
    assert_eq!(r.status(), 400, "a seed that is not one");
    let spots: Vec<_> = events(&st, "report_made").into_iter().filter(|e| e.3["report"] == "spot_check").collect();
    assert_eq!(spots.len(), 2);
    assert!(spots.iter().all(|e| e.0 == "account:li" && e.3["seed"] == 20_261_207), "{spots:?}");

    // A custodian makes no report: refused by the rule table, logged, no link offered.
    let wang = session_of(&base, "wang");
    let html = get(&base, "/", &wang).into_string().unwrap();
    assert!(!html.contains("id=\"to-reports\""), "{html}");
    let wcsrf = csrf_field(&html);
    let r = post(&base, "/reports/compliance", &wang, &[("csrf", &wcsrf), ("from", &from), ("to", &to)]);
    assert_eq!(r.status(), 403);
    assert!(events(&st, "call_refused").iter().any(|e| e.0 == "account:wang" && e.3["command"] == "report compliance"));
    assert_eq!(events(&st, "report_made").len(), 4);
    st.assert_log_verifies();
    st.stop();
}
