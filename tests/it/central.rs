//! The central copy on a real store: a one-node Ceph cluster with a RADOS Gateway, started once
//! for this test binary by `tests/central/ceph-up` (Debian's packages, no systemd, 127.0.0.1
//! only) and torn down when the binary exits. Without Ceph installed these tests are ignored
//! with the reason (see build.rs); under CI a missing Ceph fails them. No test double stands in
//! for the store.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use chrono::{TimeDelta, Utc};
use evidock::central::s3::{Endpoint, PutOptions, Store};
use evidock::central::sigv4::Credentials;
use serde_json::Value;

use crate::support::Station;

const NO_CEPH: &str =
    "Ceph is not installed: apt-get install --no-install-recommends ceph-mon ceph-osd radosgw ceph-common";

/// The cluster this test binary shares (one bucket per test).
struct Ceph {
    _child: Child,
    io: Mutex<(ChildStdin, BufReader<ChildStdout>)>,
    endpoint: String,
    access: String,
    secret: String,
}

static CEPH: OnceLock<Result<Ceph, String>> = OnceLock::new();

fn ceph() -> &'static Ceph {
    CEPH.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/central/ceph-up");
        let started = std::time::Instant::now();
        let mut child = Command::new("python3")
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&line)
            .map_err(|_| format!("the Ceph fixture did not start (see its messages above); {NO_CEPH}"))?;
        eprintln!("central: Ceph ready in {:.1} s", started.elapsed().as_secs_f64());
        Ok(Ceph {
            _child: child,
            io: Mutex::new((stdin, stdout)),
            endpoint: v["endpoint"].as_str().unwrap().to_string(),
            access: v["access_key"].as_str().unwrap().to_string(),
            secret: v["secret_key"].as_str().unwrap().to_string(),
        })
    })
    .as_ref()
    .unwrap_or_else(|e| panic!("{e}"))
}

impl Ceph {
    /// One command to the fixture, its JSON answer.
    fn ask(&self, command: &str) -> Value {
        let mut io = self.io.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        writeln!(io.0, "{command}").unwrap();
        io.0.flush().unwrap();
        let mut line = String::new();
        io.1.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("fixture answered {line:?} to {command}"))
    }

    fn store(&self, bucket: &str) -> Store {
        self.store_at(&self.endpoint, bucket, &self.secret)
    }

    fn store_at(&self, endpoint: &str, bucket: &str, secret: &str) -> Store {
        Store::new(
            Endpoint {
                url: endpoint.to_string(),
                bucket: bucket.to_string(),
                region: "us-east-1".into(),
                credentials: Credentials { access_key: self.access.clone(), secret_key: secret.to_string() },
            },
            None,
        )
    }
}

fn out(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok(o: std::process::Output) -> String {
    assert!(o.status.success(), "{}", out(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A station whose `[central]` points at `endpoint`/`bucket`; `extra` lines go into `[central]`.
fn station(endpoint: &str, bucket: &str, access: &str, secret: &str, extra: &str) -> Station {
    use std::os::unix::fs::PermissionsExt;
    let st = Station::new();
    let cred = st.path("central.credentials");
    std::fs::write(&cred, format!("access_key = \"{access}\"\nsecret_key = \"{secret}\"\n")).unwrap();
    std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = std::fs::read_to_string(&st.config).unwrap()
        + &format!(
            "[station]\nname = \"站-{bucket}\"\n[central]\nendpoint = \"{endpoint}\"\nbucket = \"{bucket}\"\n\
             credentials_file = \"central.credentials\"\npart_size_bytes = 5242880\n{extra}\n"
        );
    std::fs::write(&st.config, text).unwrap();
    st
}

fn ceph_station(bucket: &str, extra: &str) -> Station {
    let c = ceph();
    c.store(bucket).create_bucket(true).unwrap();
    station(&c.endpoint, bucket, &c.access, &c.secret, extra)
}

/// Records from yesterday: deadlines lie in the future, so the locks must equal them.
fn recent_footage(st: &Station, name: &str, serial: &str, bytes: &str) {
    st.register(serial);
    let start = (Utc::now() - TimeDelta::days(1)).format("%Y-%m-%dT%H:%M:%S").to_string();
    let (vol, _) = st.sim(
        name,
        &["--serial", serial, "--sessions", "2", "--segments", "2", "--segment-bytes", bytes, "--start", &start],
    );
    ok(st.evidock(&["ingest", vol.to_str().unwrap()]));
}

fn replicate(st: &Station) -> Value {
    let o = st.evidock(&["replicate", "run", "--json"]);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("replicate run --json: {}", out(&o)))
}

fn footage_keys(st: &Station) -> Vec<(String, String, String)> {
    let station = format!("站-{}", st.config_bucket());
    st.archived_footage()
        .into_iter()
        .map(|(path, hash)| {
            let rel = path.strip_prefix(st.archive()).unwrap_or(&path).to_string_lossy().into_owned();
            (format!("{station}/archive/{rel}"), hash, rel)
        })
        .collect()
}

trait BucketOf {
    fn config_bucket(&self) -> String;
}

impl BucketOf for Station {
    fn config_bucket(&self) -> String {
        let text = std::fs::read_to_string(&self.config).unwrap();
        let line = text.lines().find(|l| l.starts_with("bucket = ")).unwrap();
        line.trim_start_matches("bucket = ").trim_matches('"').to_string()
    }
}

/// The recording ids and their deadlines, from `retention due`.
fn deadlines(st: &Station) -> Vec<(String, String, Value)> {
    let due = ok(st.evidock(&["retention", "due", "--within-days", "100000", "--json"]));
    due.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| (v["recording"].as_str().unwrap().to_string(), v["deadline"].as_str().unwrap_or("").to_string(), v))
        .collect()
}

#[test]
#[cfg_attr(evidock_no_ceph, ignore = "Ceph is not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)")]
fn a_station_replicates_into_ceph_locks_follow_deadlines_and_holds_and_the_auditor_names_tampering() {
    let c = ceph();
    let st = station(&c.endpoint, "e2e", &c.access, &c.secret, "");
    // The bucket made as an administrator would, readable by an auditor's user.
    let auditor = c.ask("user auditor");
    ok(st.evidock(&[
        "central",
        "create-bucket",
        "--endpoint",
        &c.endpoint,
        "--bucket",
        "e2e",
        "--credentials",
        st.path("central.credentials").to_str().unwrap(),
        "--reader",
        "auditor",
    ]));
    recent_footage(&st, "A", "C100001", "3000000");
    ok(st.evidock(&["log", "checkpoint"]));
    let p = replicate(&st);
    assert_eq!((p["failed"].as_u64(), p["blocked"].as_u64()), (Some(0), Some(0)), "{p}");
    assert!(p["confirmed"].as_u64().unwrap() >= 6, "footage, chain files, log pieces: {p}");
    let status: Value = serde_json::from_str(&ok(st.evidock(&["replicate", "status", "--json"]))).unwrap();
    assert_eq!(status["pending"], 0, "{status}");

    // Every recording's files: at station/date/holding folder/serial/file, with their BLAKE3, locked
    // in COMPLIANCE until the recording's deadline, no legal hold.
    let store = ceph().store("e2e");
    let keys = footage_keys(&st);
    assert_eq!(keys.len(), 4);
    for (key, hash, rel) in &keys {
        assert!(key.contains("/archive/20") && key.contains("/C100001/"), "{key}");
        let head = store.head(key).unwrap().unwrap_or_else(|| panic!("{key} not on the store"));
        assert_eq!(head.meta.get("blake3"), Some(hash), "{key}");
        assert_eq!(head.size, std::fs::metadata(st.archive().join(rel)).unwrap().len());
        let lock = store.retention(key).unwrap().unwrap();
        assert_eq!(lock.mode, "COMPLIANCE");
        assert!(!store.legal_hold(key).unwrap());
    }
    let recs = deadlines(&st);
    assert_eq!(recs.len(), 2, "{recs:?}");
    let lock_of = |key: &str| store.retention(key).unwrap().unwrap().until;
    let deadline_of = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v["deadline_utc"].as_str().or(v["deadline"].as_str()).unwrap())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{v}: {e}"))
    };
    let mut locked = std::collections::BTreeSet::new();
    for (_, _, v) in &recs {
        let want = deadline_of(v);
        locked.insert(want);
        assert!(want > Utc::now() + TimeDelta::days(150), "six months from yesterday: {v}");
    }
    let got: std::collections::BTreeSet<_> = keys.iter().map(|(k, _, _)| lock_of(k)).collect();
    assert_eq!(got, locked, "every footage lock equals its recording's deadline");

    // A legal hold sets the objects' legal hold; a long-term flag extends the lock; a release
    // removes the hold.
    let (held, _, _) = recs[0].clone();
    ok(st.evidock(&["retention", "hold", &held, "--id", "法院-1", "--reason", "court"]));
    ok(st.evidock(&["retention", "flag", &held, "--trigger", "evidence", "--reason", "作为证据"]));
    let p = replicate(&st);
    assert!(p["lock_changes"].as_u64().unwrap() >= 2, "{p}");
    let held_keys: Vec<&String> =
        keys.iter().filter(|(k, _, _)| store.legal_hold(k).unwrap()).map(|(k, _, _)| k).collect();
    assert_eq!(held_keys.len(), 2, "the two files of the held recording");
    for k in &held_keys {
        assert_eq!(lock_of(k), evidock::central::replicate::horizon(Utc::now()), "long-term: the horizon");
    }
    let show = ok(st.evidock(&["retention", "show", &held]));
    let row = show.lines().find(|l| l.contains("法院-1")).unwrap_or_else(|| panic!("{show}"));
    let hold_row = row.split_whitespace().find_map(|w| w.trim_start_matches('#').parse::<i64>().ok()).unwrap_or(1);
    ok(st.evidock(&["retention", "release", &hold_row.to_string(), "--reason", "case closed"]));
    replicate(&st);
    assert!(held_keys.iter().all(|k| !store.legal_hold(k).unwrap()), "released on the store");
    let actions = st.actions();
    assert!(actions.iter().any(|a| a == "central_confirmed") && actions.iter().any(|a| a == "central_lock_changed"));

    // The auditor's check, with the auditor's read-only credentials: clean.
    ok(st.evidock(&["log", "checkpoint"]));
    replicate(&st);
    let cred = st.path("auditor.credentials");
    {
        use std::os::unix::fs::PermissionsExt;
        let (ak, sk) = (auditor["access_key"].as_str().unwrap(), auditor["secret_key"].as_str().unwrap());
        std::fs::write(&cred, format!("access_key = \"{ak}\"\nsecret_key = \"{sk}\"\n")).unwrap();
        std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o600)).unwrap();
        let ro = Store::new(
            Endpoint {
                url: c.endpoint.clone(),
                bucket: "e2e".into(),
                region: "us-east-1".into(),
                credentials: Credentials { access_key: ak.into(), secret_key: sk.into() },
            },
            None,
        );
        let opts = PutOptions { meta: vec![], retain_until: Utc::now() + TimeDelta::days(1), legal_hold: false };
        let refused = ro.put("站-e2e/archive/intruder", b"x", &opts).unwrap_err();
        assert!(refused.to_string().contains("AccessDenied"), "the auditor cannot write: {refused}");
    }
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "central",
            "verify",
            "--endpoint",
            &ceph().endpoint,
            "--bucket",
            "e2e",
            "--credentials",
            cred.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        st.evidock(&args)
    };
    let o = verify(&["--read-back"]);
    assert!(o.status.success(), "{}", out(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report[0]["ok"], true, "{report}");
    assert!(report[0]["checkpoints"].as_u64().unwrap() >= 2 && report[0]["objects_checked"].as_u64().unwrap() >= 4);

    // A shortened lock is refused by the store (COMPLIANCE), and the audit still finds the lock.
    let (victim, _, _) = &keys[0];
    let refused = store.put_retention(victim, Utc::now() + TimeDelta::days(2)).unwrap_err();
    assert!(refused.to_string().contains("AccessDenied") || refused.to_string().contains("403"), "{refused}");
    assert!(lock_of(victim) > Utc::now() + TimeDelta::days(150));

    // Tampering: other bytes written at a footage key (the old version stays locked) with its
    // metadata forged: the auditor names the key.
    let forged = PutOptions {
        meta: vec![("blake3".into(), keys[0].1.clone()), ("size".into(), "5".into())],
        retain_until: Utc::now() + TimeDelta::days(1),
        legal_hold: false,
    };
    store.put(victim, b"fake!", &forged).unwrap();
    let o = verify(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let findings = report[0]["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["kind"] == "overwritten" && f["key"] == victim.as_str()), "{report}");
    assert!(findings.iter().any(|f| f["kind"] == "tampered" && f["key"] == victim.as_str()), "{report}");
    st.assert_log_verifies();
}

#[test]
#[cfg_attr(evidock_no_ceph, ignore = "Ceph is not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)")]
fn the_store_as_witness_names_a_rolled_back_state_folder_and_a_replaced_key() {
    let st = ceph_station("witness", "");
    recent_footage(&st, "A", "C200001", "20000");
    ok(st.evidock(&["log", "checkpoint"]));
    assert_eq!(replicate(&st)["failed"], 0);
    // A backup of the state folder, then more work signed and sent.
    let backup = st.path("state-backup");
    crate::support::copy_tree(&st.path("state"), &backup);
    let now_state = st.path("state-now");
    recent_footage(&st, "B", "C200002", "20000");
    ok(st.evidock(&["log", "checkpoint"]));
    assert_eq!(replicate(&st)["failed"], 0);
    crate::support::copy_tree(&st.path("state"), &now_state);

    // The state folder restored from the backup: rolled back, named.
    std::fs::remove_dir_all(st.path("state")).unwrap();
    crate::support::copy_tree(&backup, &st.path("state"));
    let o = st.evidock(&["replicate", "run"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("rolled back"), "{}", out(&o));
    assert!(st.actions().iter().any(|a| a == "central_alarm"));
    let status = st.evidock(&["replicate", "status"]);
    assert_eq!(status.status.code(), Some(1));
    assert!(out(&status).contains("store as witness"), "{}", out(&status));

    // The daemon on the rolled-back state: the witness on start, and no checkpoint signed.
    let mut st = st;
    let text =
        std::fs::read_to_string(&st.config).unwrap().replace("[daemon]\n", "[daemon]\ncheckpoint_interval_s = 1\n");
    std::fs::write(&st.config, text).unwrap();
    let signed = |st: &Station| -> i64 {
        st.db().query_row("SELECT count(*) FROM custody_checkpoints", [], |r| r.get(0)).unwrap()
    };
    let before = signed(&st);
    st.start();
    crate::support::wait_for(30, "the signing refused", || st.log().contains("no checkpoint signed").then_some(()));
    assert!(st.log().contains("rolled back"), "{}", st.log());
    st.stop();
    assert_eq!(signed(&st), before, "nothing signed over a rolled-back log");

    // The current state back, but with a new signing key: replaced, named.
    std::fs::remove_dir_all(st.path("state")).unwrap();
    crate::support::copy_tree(&now_state, &st.path("state"));
    std::fs::remove_file(st.path("state/custody-signing.key")).unwrap();
    std::fs::remove_file(st.path("state/custody-signing.pub")).unwrap();
    // A new key is made and signs (or the signing refuses): either way the store disagrees.
    st.evidock(&["log", "checkpoint"]);
    let o = st.evidock(&["replicate", "run"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("signing key was replaced"), "{}", out(&o));
}

/// Fault: the store is down. Ingest goes on, the backlog grows, the alarm fires; nothing lost.
/// (No Ceph needed: nothing listens at the endpoint.)
#[test]
fn store_down_ingest_goes_on_the_backlog_grows_and_the_alarm_fires() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let st = station(&format!("http://127.0.0.1:{port}"), "down", "AK", "SK", "backlog_alarm_minutes = 0\n");
    recent_footage(&st, "A", "C300001", "20000");
    let before = st.archived_footage();
    let o = st.evidock(&["replicate", "run"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("unreachable") && out(&o).contains("中心存储无法连接"), "{}", out(&o));
    let status = crate::support::wait_for(10, "the backlog alarm", || {
        let o = st.evidock(&["replicate", "status", "--json"]);
        let v: Value = serde_json::from_slice(&o.stdout).ok()?;
        (v["backlog_alarm"] == true).then_some((o.status.code(), v))
    });
    assert_eq!(status.0, Some(1));
    assert!(status.1["pending"].as_u64().unwrap() >= 4, "{}", status.1);
    assert!(status.1["oldest_footage"].as_str().unwrap().contains("C300001"), "{}", status.1);
    let text = ok(st.evidock(&["status"]));
    assert!(text.contains("central copy 中心存储") && text.contains("waiting 待上传"), "{text}");
    let (from, to) =
        ((Utc::now() - TimeDelta::days(3)).format("%Y-%m-%d").to_string(), Utc::now().format("%Y-%m-%d").to_string());
    let report = st.evidock(&["report", "compliance", "--from", &from, "--to", &to]);
    let report = String::from_utf8_lossy(&report.stdout).into_owned();
    assert!(report.contains("oldest recording on this station alone") && report.contains("ALARM"), "{report}");
    assert_eq!(st.archived_footage(), before, "bytes lost: 0");
}

#[test]
#[cfg_attr(evidock_no_ceph, ignore = "Ceph is not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)")]
fn wrong_credentials_are_named_and_nothing_is_lost() {
    let c = ceph();
    c.store("badcred").create_bucket(true).unwrap();
    let st = station(&c.endpoint, "badcred", &c.access, "not-the-secret", "");
    recent_footage(&st, "A", "C400001", "20000");
    let o = st.evidock(&["replicate", "run"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("refused the credentials") && out(&o).contains("SignatureDoesNotMatch"), "{}", out(&o));
    let v: Value = serde_json::from_slice(&st.evidock(&["replicate", "status", "--json"]).stdout).unwrap();
    assert_eq!(v["confirmed"], 0);
}

#[test]
#[cfg_attr(evidock_no_ceph, ignore = "Ceph is not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)")]
fn a_bucket_without_object_lock_is_refused_with_a_clear_message() {
    let c = ceph();
    c.store("nolock").create_bucket(false).unwrap();
    let st = station(&c.endpoint, "nolock", &c.access, &c.secret, "");
    recent_footage(&st, "A", "C500001", "20000");
    let o = st.evidock(&["replicate", "run"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("has no Object Lock: refusing to replicate"), "{}", out(&o));
    assert!(c.store("nolock").list("").unwrap().is_empty(), "nothing was written");
}

#[test]
#[cfg_attr(evidock_no_ceph, ignore = "Ceph is not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)")]
fn a_station_clock_far_off_is_explained() {
    let st = ceph_station("skew", "");
    recent_footage(&st, "A", "C600001", "20000");
    let o = Command::new(crate::support::bin())
        .arg("--config")
        .arg(&st.config)
        .args(["replicate", "run"])
        .env("EVIDOCK_CLOCK_SKEW_S", "7200")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("station clock differs from the store's by about 2 h 0 min ahead"), "{}", out(&o));
    assert_eq!(replicate(&st)["failed"], 0, "with the clock right it goes through");
}

#[test]
#[cfg_attr(evidock_no_ceph, ignore = "Ceph is not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)")]
fn a_full_store_keeps_the_backlog_and_drains_when_space_returns() {
    let c = ceph();
    let st = ceph_station("full", "");
    let q = c.ask("admin quota set --quota-scope=bucket --bucket=full --max-size=1048576");
    assert_eq!(q["rc"], 0, "{q}");
    assert_eq!(c.ask("admin quota enable --quota-scope=bucket --bucket=full")["rc"], 0);
    recent_footage(&st, "A", "C700001", "3000000");
    let before = st.archived_footage();
    let p = replicate(&st);
    assert!(p["stopped_by"].as_str().unwrap_or("").contains("full"), "{p}");
    let v: Value = serde_json::from_slice(&st.evidock(&["replicate", "status", "--json"]).stdout).unwrap();
    assert!(v["pending"].as_u64().unwrap() >= 4, "{v}");
    assert_eq!(c.ask("admin quota disable --quota-scope=bucket --bucket=full")["rc"], 0);
    let p = replicate(&st);
    assert_eq!((p["failed"].as_u64(), p["stopped_by"].is_null()), (Some(0), true), "{p}");
    assert_eq!(st.archived_footage(), before, "bytes lost: 0");
}

#[test]
#[cfg_attr(evidock_no_ceph, ignore = "Ceph is not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)")]
fn an_upload_cut_mid_way_resumes_without_sending_twice() {
    let c = ceph();
    // A gateway of this test's own, killed while a multipart upload is under way.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let ep = c.ask(&format!("rgw-up cut {port}"));
    let endpoint = ep["endpoint"].as_str().unwrap_or_else(|| panic!("{ep}")).to_string();
    c.store_at(&endpoint, "cut", &c.secret).create_bucket(true).unwrap();
    let st = station(&endpoint, "cut", &c.access, &c.secret, "bandwidth_bytes_per_s = 4194304\nconcurrency = 1\n");
    recent_footage(&st, "A", "C800001", "12000000");
    let before = st.archived_footage();
    // The station itself killed mid-upload (after its second part).
    let o = Command::new(crate::support::bin())
        .arg("--config")
        .arg(&st.config)
        .args(["replicate", "run"])
        .env("EVIDOCK_FAILPOINTS", "central.mid-upload")
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", out(&o));
    let parts: i64 = st.db().query_row("SELECT count(*) FROM central_parts", [], |r| r.get(0)).unwrap();
    assert!(parts >= 2, "parts recorded before the cut: {parts}");
    // The store killed mid-upload: the gateway dies while the next pass sends.
    let run = Command::new(crate::support::bin())
        .arg("--config")
        .arg(&st.config)
        .args(["replicate", "run", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    crate::support::wait_for(60, "another part sent", || {
        let n: i64 = st.db().query_row("SELECT count(*) FROM central_parts", [], |r| r.get(0)).ok()?;
        (n > parts).then_some(())
    });
    assert_eq!(c.ask("rgw-down cut")["ok"], true);
    let o = run.wait_with_output().unwrap();
    assert!(!o.status.success(), "{}", out(&o));
    // Back up: the pass resumes the upload and finishes; one version per key.
    let ep = c.ask(&format!("rgw-up cut {port}"));
    assert!(ep["endpoint"].is_string(), "{ep}");
    let p = replicate(&st);
    let status = out(&st.evidock(&["replicate", "status", "--json"]));
    assert_eq!((p["failed"].as_u64(), p["blocked"].as_u64()), (Some(0), Some(0)), "{p} {status}");
    let store = c.store_at(&endpoint, "cut", &c.secret);
    let versions = store.versions("").unwrap();
    let mut keys: Vec<&str> = versions.iter().map(|v| v.key.as_str()).collect();
    let n = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), n, "no key written twice");
    for (key, hash, _) in footage_keys(&st) {
        let mut h = blake3::Hasher::new();
        store
            .get_into(&key, |b| {
                h.update(b);
            })
            .unwrap();
        assert_eq!(h.finalize().to_hex().to_string(), hash, "{key} read back");
    }
    assert_eq!(st.archived_footage(), before, "bytes lost: 0");
    c.ask("rgw-down cut");
}

#[test]
#[cfg_attr(evidock_no_ceph, ignore = "Ceph is not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)")]
fn the_daemon_replicates_docked_footage_in_the_background() {
    let mut st = ceph_station("daemon", "interval_s = 1\n");
    st.register("C900001");
    let start = (Utc::now() - TimeDelta::days(1)).format("%Y-%m-%dT%H:%M:%S").to_string();
    let (vol, _) =
        st.sim("A", &["--serial", "C900001", "--segments", "3", "--segment-bytes", "200000", "--start", &start]);
    st.start();
    st.dock(&vol, "C900001");
    st.wait_finished("C900001");
    let v = crate::support::wait_for(120, "the backlog drained by the daemon", || {
        let o = st.evidock(&["replicate", "status", "--json"]);
        let v: Value = serde_json::from_slice(&o.stdout).ok()?;
        (v["pending"] == 0 && v["confirmed"].as_u64()? >= 3).then_some(v)
    });
    assert_eq!(v["blocked"], 0, "{v}");
    let status = ok(st.evidock(&["status"]));
    assert!(status.contains("central copy 中心存储") && status.contains("0 waiting 待上传"), "{status}");
    st.stop();
    let store = ceph().store("daemon");
    for (key, hash, _) in footage_keys(&st) {
        assert_eq!(store.head(&key).unwrap().unwrap().meta.get("blake3"), Some(&hash), "{key}");
    }
    st.assert_log_verifies();
}

/// `evidock ARGS` with `env` set (failpoints, the archive disk's measured numbers).
fn evidock_env(st: &Station, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(crate::support::bin());
    cmd.arg("--config").arg(&st.config).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The archive disk as 95% full (evict_at_disk_percent = 50 evicts everything allowed), or
/// 40% full (nothing to evict), through the failpoint build's `EVIDOCK_FAILPOINT_ARCHIVE_DISK`.
const DISK_FULL: (&str, &str) = ("EVIDOCK_FAILPOINT_ARCHIVE_DISK", "1000000000000:950000000000");
const DISK_ROOMY: (&str, &str) = ("EVIDOCK_FAILPOINT_ARCHIVE_DISK", "1000000000000:400000000000");

fn evict(st: &Station, env: &[(&str, &str)], extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["replicate", "evict", "--json"];
    args.extend_from_slice(extra);
    let o = evidock_env(st, env, &args);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("replicate evict: {}", out(&o)));
    (o.status.code(), v)
}

/// Archive paths of the footage of recording `SERIAL/SESSION`.
fn files_of(st: &Station, rec: &str) -> Vec<String> {
    let (serial, session) = rec.split_once('/').unwrap();
    let db = st.db();
    let mut q = db
        .prepare(
            "SELECT DISTINCT f.archive_path FROM files f JOIN segments s ON s.file_id = f.id
             WHERE s.serial = ?1 AND s.session = ?2 ORDER BY 1",
        )
        .unwrap();
    q.query_map([serial, session], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

#[test]
#[cfg_attr(evidock_no_ceph, ignore = "Ceph is not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)")]
fn footage_proven_off_the_station_is_evicted_scrubbed_against_the_store_and_recalled_byte_identical() {
    // R1, R7, R11; INV-18, INV-20.
    let st = ceph_station("evict", "evict_at_disk_percent = 50\n");
    st.register("C110001");
    let start = (Utc::now() - TimeDelta::days(1)).format("%Y-%m-%dT%H:%M:%S").to_string();
    let (vol, _) = st.sim(
        "A",
        &["--serial", "C110001", "--sessions", "3", "--segments", "2", "--segment-bytes", "300000", "--start", &start],
    );
    ok(st.evidock(&["ingest", vol.to_str().unwrap()]));
    let before = st.archived_footage();
    // Nothing is confirmed yet: nothing may go, however full the disk (INV-18).
    let (code, v) = evict(&st, &[DISK_FULL], &[]);
    assert_eq!((code, v["evicted"].as_u64()), (Some(0), Some(0)), "{v}");
    assert_eq!(st.archived_footage(), before);

    // One recording held, one long-term (no disc burned), one ordinary.
    let recs: Vec<String> = deadlines(&st).into_iter().map(|(r, _, _)| r).collect();
    assert_eq!(recs.len(), 3, "{recs:?}");
    ok(st.evidock(&["retention", "hold", &recs[0], "--id", "法院-7", "--reason", "court"]));
    ok(st.evidock(&["retention", "flag", &recs[1], "--trigger", "evidence", "--reason", "作为证据"]));
    let p = replicate(&st);
    assert_eq!((p["failed"].as_u64(), p["blocked"].as_u64()), (Some(0), Some(0)), "{p}");
    let ordinary = files_of(&st, &recs[2]);
    assert_eq!(ordinary.len(), 2, "{ordinary:?}");

    // The disk under the threshold: nothing chosen.
    let (_, v) = evict(&st, &[DISK_ROOMY], &[]);
    assert_eq!(v["chosen"].as_array().map(Vec::len), Some(0), "{v}");

    // A dry run names the ordinary recording's two files, proves them, and changes nothing.
    let events_before = st.actions().len();
    let (code, v) = evict(&st, &[DISK_FULL], &["--dry-run"]);
    assert_eq!(code, Some(0), "{v}");
    let chosen: Vec<&str> = v["chosen"].as_array().unwrap().iter().map(|c| c["path"].as_str().unwrap()).collect();
    assert_eq!(chosen, ordinary.iter().map(String::as_str).collect::<Vec<_>>(), "{v}");
    assert_eq!((v["evicted"].as_u64(), v["refused"].as_array().map(Vec::len)), (Some(0), Some(0)), "{v}");
    assert_eq!(st.archived_footage(), before, "a dry run removes nothing");
    assert_eq!(st.actions().len(), events_before, "a dry run logs nothing");

    // The eviction: the ordinary files go, the held and the long-term ones stay.
    let (code, v) = evict(&st, &[DISK_FULL], &[]);
    assert_eq!((code, v["evicted"].as_u64()), (Some(0), Some(2)), "{v}");
    for p in &ordinary {
        assert!(!st.archive().join(p).exists(), "{p} evicted");
    }
    for r in &recs[..2] {
        for p in files_of(&st, r) {
            assert!(st.archive().join(&p).exists(), "{p} of {r} (held or long-term without discs) stays");
        }
    }
    let db = st.db();
    let (key, version, details): (String, String, String) = db
        .query_row(
            "SELECT e.key, e.version_id, l.details FROM central_evictions e JOIN custody_log l
             ON l.action = 'footage_evicted' AND l.subject = 'file:' || ?1 WHERE e.paths LIKE '%' || ?1 || '%'",
            [&ordinary[0]],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let d: Value = serde_json::from_str(&details).unwrap();
    assert_eq!((d["version_id"].as_str(), d["key"].as_str()), (Some(version.as_str()), Some(key.as_str())), "{d}");
    assert_eq!(d["rule"], "disk");
    let status: Value = serde_json::from_str(&ok(st.evidock(&["replicate", "status", "--json"]))).unwrap();
    assert_eq!((status["evicted"].as_u64(), status["evicted_bytes"].as_u64()), (Some(2), Some(600_000)), "{status}");
    let text = ok(st.evidock(&["status"]));
    assert!(text.contains("evicted 本地副本已清除") && text.contains("2 files"), "{text}");
    let (from, to) =
        ((Utc::now() - TimeDelta::days(3)).format("%Y-%m-%d").to_string(), Utc::now().format("%Y-%m-%d").to_string());
    let report = String::from_utf8_lossy(&st.evidock(&["report", "compliance", "--from", &from, "--to", &to]).stdout)
        .into_owned();
    assert!(report.contains("evicted 本地副本已清除") && report.contains("2 files"), "{report}");
    // Nothing more to evict: the rest is kept by the rules.
    let (_, v) = evict(&st, &[DISK_FULL], &[]);
    assert_eq!(v["evicted"].as_u64(), Some(0), "{v}");

    // The scrub checks evicted names against the store, not the disk: clean.
    let o = st.evidock(&["archive", "scrub", "--json"]);
    let scrub: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", out(&o)));
    assert_eq!(o.status.code(), Some(0), "{scrub}");
    assert_eq!(scrub["run"]["missing"].as_u64().or(scrub["missing"].as_u64()), Some(0), "{scrub}");

    // Filing evicted footage into a case is refused with what to do.
    ok(st.evidock(&["case", "create", "罚-2026-9", "--officer", "012345", "--kind", "penalty"]));
    let o = st.evidock(&["case", "assign", "罚-2026-9", "--session", &recs[2]]);
    assert!(!o.status.success() && out(&o).contains("replicate recall"), "{}", out(&o));

    // Recall: the logged version, byte-identical, logged.
    let o = st.evidock(&["replicate", "recall", &ordinary[0], "--json"]);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", out(&o)));
    assert_eq!(r["recalled"][0]["version_id"].as_str(), Some(version.as_str()), "{r}");
    let o = st.evidock(&["replicate", "recall", &ordinary[1]]);
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(st.archived_footage(), before, "every byte back");
    let actions = st.actions();
    assert_eq!(actions.iter().filter(|a| *a == "footage_evicted").count(), 2);
    assert_eq!(actions.iter().filter(|a| *a == "footage_recalled").count(), 2);
    let status: Value = serde_json::from_str(&ok(st.evidock(&["replicate", "status", "--json"]))).unwrap();
    assert_eq!(status["evicted"].as_u64(), Some(0), "{status}");
    let o = st.evidock(&["replicate", "recall", &ordinary[0]]);
    assert!(!o.status.success() && out(&o).contains("neither an evicted file nor a case"), "{}", out(&o));
    // Recalled footage files into the case as any other.
    ok(st.evidock(&["case", "assign", "罚-2026-9", "--session", &recs[2]]));
    st.assert_log_verifies();
}

#[test]
#[cfg_attr(evidock_no_ceph, ignore = "Ceph is not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)")]
fn a_central_object_missing_or_replaced_on_the_store_refuses_eviction_with_an_alarm() {
    // INV-20: the proof is the log and the store, never the catalogue.
    let st = ceph_station("evict-proof", "evict_at_disk_percent = 50\n");
    recent_footage(&st, "A", "C120001", "200000");
    let p = replicate(&st);
    assert_eq!(p["failed"].as_u64(), Some(0), "{p}");
    let before = st.archived_footage();
    let keys = footage_keys(&st);
    // The station pointed at another bucket: one key holds other bytes with our metadata
    // forged (another version), the others are missing.
    let other = ceph().store("evict-other");
    other.create_bucket(true).unwrap();
    let forged = PutOptions {
        meta: vec![("blake3".into(), keys[0].1.clone()), ("size".into(), "5".into())],
        retain_until: Utc::now() + TimeDelta::days(1),
        legal_hold: false,
    };
    other.put(&keys[0].0, b"fake!", &forged).unwrap();
    let text =
        std::fs::read_to_string(&st.config).unwrap().replace("bucket = \"evict-proof\"", "bucket = \"evict-other\"");
    std::fs::write(&st.config, text).unwrap();
    let (code, v) = evict(&st, &[DISK_FULL], &[]);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["evicted"].as_u64(), Some(0), "{v}");
    let refused = v["refused"].as_array().unwrap();
    assert_eq!(refused.len(), keys.len(), "{v}");
    assert!(refused.iter().all(|r| r["why"].as_str().unwrap().contains("no longer holds version")), "{v}");
    assert_eq!(st.archived_footage(), before, "every local copy stays");
    let alarms: i64 = st
        .db()
        .query_row(
            "SELECT count(*) FROM custody_log WHERE action = 'central_alarm' AND details LIKE '%eviction_refused%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(alarms as usize, keys.len());
    // Back on the real bucket, the same files are proven and go.
    let text =
        std::fs::read_to_string(&st.config).unwrap().replace("bucket = \"evict-other\"", "bucket = \"evict-proof\"");
    std::fs::write(&st.config, text).unwrap();
    let (code, v) = evict(&st, &[DISK_FULL], &[]);
    assert_eq!((code, v["evicted"].as_u64()), (Some(0), Some(keys.len() as u64)), "{v}");
}

#[test]
#[cfg_attr(evidock_no_ceph, ignore = "Ceph is not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)")]
fn a_stop_between_removing_the_local_copy_and_its_commit_is_finished_at_the_next_start() {
    let st = ceph_station("evict-crash", "evict_at_disk_percent = 50\n");
    recent_footage(&st, "A", "C130001", "200000");
    replicate(&st);
    let before = st.archived_footage();
    let o = evidock_env(&st, &[DISK_FULL, ("EVIDOCK_FAILPOINTS", "evict.after-unlink")], &["replicate", "evict"]);
    assert!(!o.status.success() && out(&o).contains("evict.after-unlink"), "{}", out(&o));
    assert_eq!(st.archived_footage().len(), before.len() - 1, "one file removed before the stop");
    assert!(!st.actions().iter().any(|a| a == "footage_evicted"), "no event yet");
    let state: String = st.db().query_row("SELECT state FROM central_evictions", [], |r| r.get(0)).unwrap();
    assert_eq!(state, "evicting");
    // The next start (here a run with the disk roomy: no new choice) finishes it.
    let (code, v) = evict(&st, &[DISK_ROOMY], &[]);
    assert_eq!((code, v["recovered"].as_u64(), v["evicted"].as_u64()), (Some(0), Some(1), Some(0)), "{v}");
    let details: String = st
        .db()
        .query_row("SELECT details FROM custody_log WHERE action = 'footage_evicted'", [], |r| r.get(0))
        .unwrap();
    let d: Value = serde_json::from_str(&details).unwrap();
    assert_eq!(d["recovered"], true, "{d}");
    let status: Value = serde_json::from_str(&ok(st.evidock(&["replicate", "status", "--json"]))).unwrap();
    assert_eq!(status["evicted"].as_u64(), Some(1), "{status}");
    // And recall brings it back whole.
    let path: String =
        st.db().query_row("SELECT json_extract(paths, '$[0]') FROM central_evictions", [], |r| r.get(0)).unwrap();
    ok(st.evidock(&["replicate", "recall", &path]));
    assert_eq!(st.archived_footage(), before, "bytes lost: 0");
    st.assert_log_verifies();
}

#[test]
#[cfg_attr(evidock_no_ceph, ignore = "Ceph is not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)")]
fn the_daemon_finishes_a_cut_eviction_on_start_and_evicts_on_its_pass() {
    let mut st = ceph_station("evict-daemon", "interval_s = 1\nevict_at_disk_percent = 50\n");
    recent_footage(&st, "A", "C140001", "150000");
    replicate(&st);
    let before = st.archived_footage();
    let o = evidock_env(&st, &[DISK_FULL, ("EVIDOCK_FAILPOINTS", "evict.after-unlink")], &["replicate", "evict"]);
    assert!(!o.status.success(), "{}", out(&o));
    st.start_with(&[DISK_FULL]);
    let v = crate::support::wait_for(120, "every footage file evicted by the daemon", || {
        let o = st.evidock(&["replicate", "status", "--json"]);
        let v: Value = serde_json::from_slice(&o.stdout).ok()?;
        (v["evicted"].as_u64()? == before.len() as u64).then_some(v)
    });
    st.stop();
    assert_eq!(v["evicted_bytes"].as_u64(), Some(before.len() as u64 * 150_000), "{v}");
    assert!(st.archived_footage().is_empty(), "every local copy gone");
    let db = st.db();
    let recovered: i64 = db
        .query_row(
            "SELECT count(*) FROM custody_log WHERE action = 'footage_evicted' AND json_extract(details, '$.recovered')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(recovered, 1, "the cut eviction finished at start");
    drop(db);
    let case_or_file: Vec<String> = st
        .db()
        .prepare("SELECT json_extract(paths, '$[0]') FROM central_evictions")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for p in &case_or_file {
        ok(st.evidock(&["replicate", "recall", p]));
    }
    assert_eq!(st.archived_footage(), before, "bytes lost: 0");
    st.assert_log_verifies();
}

/// The central copy on the station's web page (docs/WEB.md): the backlog as the service sees
/// it; an archivist brings evicted footage back by its path, byte-identical; a custodian
/// evicts it again after a dry run that names it; an archivist runs a pass now, which a
/// custodian may not. Each step a custody event naming the account.
#[test]
#[cfg_attr(evidock_no_ceph, ignore = "Ceph is not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)")]
fn on_the_web_page_an_archivist_recalls_evicted_footage_and_a_custodian_evicts_it_again() {
    use crate::web::{account, csrf_field, events, get, post, session_of, PASSWORD};
    let mut st = ceph_station("web", "interval_s = 86400\nevict_at_disk_percent = 50\n");
    let port = crate::web::free_port();
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, format!("{cfg}\n[web]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\n")).unwrap();
    let base = format!("http://127.0.0.1:{port}");
    recent_footage(&st, "A", "C150001", "150000");
    let before = st.archived_footage();
    // The service's first pass sends everything and evicts what the (full) disk asks for.
    st.start_with(&[DISK_FULL]);
    crate::support::wait_for(120, "every footage file evicted by the daemon", || {
        let o = st.evidock(&["replicate", "status", "--json"]);
        let v: Value = serde_json::from_slice(&o.stdout).ok()?;
        (v["evicted"].as_u64()? == before.len() as u64).then_some(v)
    });
    for (name, shown, role) in [("wang", "王五", "custodian"), ("chen", "陈七", "archivist")] {
        let o = account(&st, &["add", name, "--display-name", shown, "--role", role], PASSWORD);
        assert!(o.status.success(), "{}", out(&o));
    }

    let chen = session_of(&base, "chen");
    let bays = get(&base, "/", &chen).into_string().unwrap();
    assert!(bays.contains("id=\"to-central\""), "{bays}");
    let html = get(&base, "/central", &chen).into_string().unwrap();
    assert!(html.contains(&format!("id=\"evicted-count\">{} 个文件 files", before.len())), "{html}");
    assert!(html.contains("id=\"pending\">0 个文件") && html.contains("id=\"recall\""), "{html}");
    assert!(!html.contains("id=\"evict\""), "eviction is the keepers' (custodian, admin)");
    let csrf = csrf_field(&html);
    let first = before[0].0.to_string_lossy().into_owned();
    let first_path = st.archive().join(&before[0].0);
    let recall = [("csrf", csrf.as_str()), ("action", "recall"), ("what", first.as_str())];
    assert_eq!(post(&base, "/central/change", &chen, &recall[1..]).status(), 403, "no token");
    let r = post(&base, "/central/change", &chen, &recall);
    assert_eq!(r.status(), 200);
    let html = r.into_string().unwrap();
    assert!(
        html.contains("id=\"recalled\"") && html.contains("1 个文件已从中心存储取回") && html.contains(&first),
        "{html}"
    );
    assert!(st.archived_footage().contains(&before[0]), "the file back, byte-identical");
    let recalled = events(&st, "footage_recalled");
    assert_eq!((recalled.len(), recalled[0].0.as_str()), (1, "account:chen"), "{recalled:?}");
    let r = post(&base, "/central/change", &chen, &recall);
    assert!(r.status() >= 400, "not evicted any more: {}", r.status());
    assert!(r.into_string().unwrap().contains("neither an evicted file nor a case"));

    // The custodian: a dry run names the recalled file and removes nothing; then it goes.
    let wang = session_of(&base, "wang");
    let html = get(&base, "/central", &wang).into_string().unwrap();
    assert!(html.contains("id=\"evict-dry-run\"") && !html.contains("id=\"run-pass\""), "{html}");
    let wcsrf = csrf_field(&html);
    let r = post(&base, "/central/change", &wang, &[("csrf", &wcsrf), ("action", "evict_dry_run")]);
    let html = r.into_string().unwrap();
    assert!(html.contains("试运行") && html.contains("将清除 1 个文件") && html.contains(&first), "{html}");
    assert!(first_path.exists(), "a dry run removes nothing");
    let r = post(&base, "/central/change", &wang, &[("csrf", &wcsrf), ("action", "evict")]);
    let html = r.into_string().unwrap();
    assert!(html.contains("已清除本地副本") && html.contains(&format!("id=\"evicted-count\">{} 个文件", before.len())));
    assert!(!first_path.exists(), "evicted again");
    let evicted = events(&st, "footage_evicted");
    assert_eq!(evicted.iter().filter(|e| e.0 == "account:wang").count(), 1, "{evicted:?}");
    let r = post(&base, "/central/change", &wang, &[("csrf", &wcsrf), ("action", "run")]);
    assert_eq!(r.status(), 403, "a pass is an administrator's or archivist's");

    // The archivist runs a pass now: nothing new to send.
    let r = post(&base, "/central/change", &chen, &[("csrf", &csrf), ("action", "run")]);
    assert_eq!((r.status(), r.header("location")), (303, Some("/central?done=run&confirmed=0&failed=0&blocked=0")));
    let html = get(&base, "/central?done=run&confirmed=0&failed=0&blocked=0", &chen).into_string().unwrap();
    assert!(html.contains("复制已运行：新确认 0 个文件"), "{html}");
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}
