//! Custody log at scale (R11): with a log of `--events` events (default 1,000,000), measures
//! the time to append `--appends` more durable events (default 10,000) each in its own
//! transaction and all in one, a full verification (library and `evidock log verify`), a
//! `log tail`, and the daemon's time from start to `READY=1` with that database.
//!
//! `cargo bench --bench custody -- [--events N] [--appends N] [--dir DIR] [--json OUT] [--bin EVIDOCK]`
//!
//! The database is built once in `--dir` (default: a temporary folder) and reused by a later
//! run with the same folder when it already holds enough events. A checkpoint, an inclusion
//! proof and the first page of every `log query` filter (each over footage filed into a case,
//! so that every filter fills its page) are timed through the command line.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use evidock::catalog::Catalog;
use evidock::custody::event::{Action, Actor, NewEvent, Role};
use evidock::custody::store;
use serde_json::{json, Value};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;
/// Events per transaction while the log is built.
const FILL_BATCH: u64 = 10_000;

#[derive(Debug, Parser)]
#[command(about = "Custody log at scale")]
struct Args {
    /// Events in the log before measuring.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Durable events appended (each in its own transaction, then all in one).
    #[arg(long, default_value_t = 10_000)]
    appends: u64,
    /// Folder for the station (default: a new temporary folder, removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The evidock binary for the command-line and daemon rows (default: this package's).
    /// `$EVIDOCK_BIN` is used when this is not given.
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Daemon starts measured (median reported).
    #[arg(long, default_value_t = 3)]
    starts: u32,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// One measured row.
struct Row {
    name: String,
    value: Option<f64>,
    unit: &'static str,
    detail: Value,
}

/// The `i`-th event of a realistic mix: a docking's events over segments, officers and cases.
fn event(i: u64) -> NewEvent {
    let serial = format!("A{:06}", 100_000 + i % 200);
    let docking = i / 40;
    let officer = format!("{:06}", 10_000 + i % 150);
    let case = format!("卫健罚〔2024〕{}号", 1 + i % 5000);
    let (action, subject) = match i % 40 {
        0 => (Action::Docked, format!("volume:{serial}")),
        1 => (Action::IdentityRead, format!("device:{serial}")),
        2 => (Action::IngestStarted, format!("docking:{docking}")),
        38 => (Action::IngestFinished, format!("docking:{docking}")),
        39 => (Action::RecorderWiped, format!("device:{serial}")),
        k if k % 3 == 0 => (Action::SegmentVerified, format!("segment:{serial}/{i}")),
        k if k % 3 == 1 => (Action::SegmentCopied, format!("segment:{serial}/{i}")),
        _ => (Action::SegmentWiped, format!("segment:{serial}/{i}")),
    };
    let actor = if i % 97 == 1 {
        Actor { user: "lisi".into(), role: Role::Custodian, officer: Some(format!("警{officer}")) }
    } else {
        Actor::daemon("evidock")
    };
    NewEvent::new(actor, action, subject)
        .detail("docking", docking)
        .detail("officer", officer)
        .detail("officer_name", "张三")
        .detail("case", case)
        .detail("archive_path", format!("2024/05/01/UNASSIGNED/{serial}/{i:08}.MP4"))
        .detail("size", 268_435_456u64)
        .detail("blake3", blake3::hash(&i.to_le_bytes()).to_hex().to_string())
}

fn count(cat: &Catalog) -> anyhow::Result<u64> {
    Ok(store::head(cat.connection())?.map_or(0, |(seq, _)| seq))
}

/// Appends events `from..to` in one transaction.
fn append_batch(cat: &Catalog, from: u64, to: u64) -> anyhow::Result<()> {
    let conn = cat.connection();
    conn.execute_batch("BEGIN IMMEDIATE")?;
    for i in from..to {
        if let Err(e) = store::append(conn, &event(i), chrono::Utc::now(), TZ) {
            conn.execute_batch("ROLLBACK")?;
            return Err(e.into());
        }
    }
    conn.execute_batch("COMMIT")?;
    Ok(())
}

/// Drops the file's pages from the page cache, so a start reads it from disk.
fn evict(path: &Path) {
    if let Ok(f) = std::fs::File::open(path) {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open descriptor; the call only advises the kernel.
        unsafe {
            libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
        }
    }
}

fn timed_command(bin: &Path, config: &Path, args: &[&str]) -> anyhow::Result<(f64, String)> {
    let t = Instant::now();
    let out = Command::new(bin).arg("--config").arg(config).args(args).stderr(Stdio::inherit()).output()?;
    let s = t.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("evidock {}: {}", args.join(" "), out.status);
    }
    Ok((s, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// Starts the daemon, waits for `READY=1` on a notify socket, stops it. Returns the seconds
/// from spawn to ready.
fn time_to_ready(bin: &Path, config: &Path, dir: &Path) -> anyhow::Result<f64> {
    time_to_ready_then(bin, config, dir, libc::SIGTERM)
}

/// As [`time_to_ready`], stopping the daemon with `signal` (`SIGKILL`: an unclean stop, as a
/// power cut leaves the log).
fn time_to_ready_then(bin: &Path, config: &Path, dir: &Path, signal: i32) -> anyhow::Result<f64> {
    time_to_ready_until(bin, config, dir, signal, &|| true)
}

/// As [`time_to_ready_then`], sending `signal` only once `until` holds (polled every 200 ms,
/// for at most 600 s after READY).
fn time_to_ready_until(
    bin: &Path,
    config: &Path,
    dir: &Path,
    signal: i32,
    until: &dyn Fn() -> bool,
) -> anyhow::Result<f64> {
    let sock_path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&sock_path);
    let sock = UnixDatagram::bind(&sock_path).context("binding the notify socket")?;
    sock.set_read_timeout(Some(Duration::from_secs(600)))?;
    let log = std::fs::File::create(dir.join("daemon.log"))?;
    let t = Instant::now();
    let mut child = Command::new(bin)
        .arg("--config")
        .arg(config)
        .arg("daemon")
        .env("NOTIFY_SOCKET", &sock_path)
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting the daemon")?;
    let mut buf = [0u8; 4096];
    let ready = loop {
        match sock.recv(&mut buf) {
            Ok(n) if String::from_utf8_lossy(&buf[..n]).lines().any(|l| l == "READY=1") => {
                break Ok(t.elapsed().as_secs_f64())
            }
            Ok(_) => {}
            Err(e) => break Err(anyhow::Error::new(e).context("waiting for READY=1")),
        }
    };
    let waited = Instant::now();
    while ready.is_ok() && !until() && waited.elapsed() < Duration::from_secs(600) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let pid = i32::try_from(child.id())?;
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(pid, signal);
    }
    let status = child.wait()?;
    if ready.is_ok() && !status.success() && signal == libc::SIGTERM {
        bail!("the daemon exited with {status}; see {}", dir.join("daemon.log").display());
    }
    ready
}

/// The largest peak resident set of the child processes waited for so far, in KiB.
fn children_peak_rss_kib() -> i64 {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u.ru_maxrss
    }
}

fn timed<T, E: Into<anyhow::Error>>(f: impl FnOnce() -> Result<T, E>) -> anyhow::Result<(T, f64)> {
    let t = Instant::now();
    let v = f().map_err(Into::into)?;
    Ok((v, t.elapsed().as_secs_f64()))
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let bin = args
        .bin
        .clone()
        .or_else(|| std::env::var_os("EVIDOCK_BIN").map(PathBuf::from))
        .or_else(|| option_env!("CARGO_BIN_EXE_evidock").map(PathBuf::from))
        .context("no evidock binary: pass --bin or set EVIDOCK_BIN")?;
    let _tmp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            _tmp = tempfile::tempdir()?;
            _tmp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let config = dir.join("evidock.toml");
    std::fs::write(
        &config,
        "[paths]\ndock_root = \"dock\"\narchive_root = \"archive\"\nstate_dir = \"state\"\n\n[usb]\nenabled = false\n",
    )?;
    let db = dir.join("state").join("catalog.sqlite");
    let mut rows = Vec::new();

    let t = Instant::now();
    let mut cat = Catalog::open(&db, TZ, Actor::daemon("evidock"))?;
    let mut n = count(&cat)?;
    let reused = n;
    let open_s = t.elapsed().as_secs_f64();
    if n < args.events {
        let t = Instant::now();
        while n < args.events {
            let to = (n + FILL_BATCH).min(args.events);
            append_batch(&cat, n, to)?;
            n = to;
        }
        let s = t.elapsed().as_secs_f64();
        eprintln!("custody: built a log of {n} events in {s:.1}s");
        rows.push(Row {
            name: format!("build the log ({} events, {FILL_BATCH} per transaction)", n - reused),
            value: Some(s),
            unit: "s",
            detail: json!({ "events_per_s": (n - reused) as f64 / s }),
        });
    } else {
        eprintln!("custody: reusing a log of {n} events (catalogue opened in {open_s:.2}s)");
    }
    let db_bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);

    // Durable appends, each in its own transaction (what the daemon does per event).
    let t = Instant::now();
    for i in 0..args.appends {
        let ev = event(n + i);
        cat.event(ev.action, &ev.subject, Value::Object(ev.details))?;
    }
    let s = t.elapsed().as_secs_f64();
    n += args.appends;
    rows.push(Row {
        name: format!("append {} durable events, one transaction each", args.appends),
        value: Some(s),
        unit: "s",
        detail: json!({ "ms_per_event": s * 1000.0 / args.appends as f64, "events_before": n - args.appends }),
    });

    // The same number in one transaction.
    let t = Instant::now();
    append_batch(&cat, n, n + args.appends)?;
    let s = t.elapsed().as_secs_f64();
    n += args.appends;
    rows.push(Row {
        name: format!("append {} durable events in one transaction", args.appends),
        value: Some(s),
        unit: "s",
        detail: json!({ "ms_per_event": s * 1000.0 / args.appends as f64 }),
    });

    let t = Instant::now();
    let report = store::verify(cat.connection())?;
    let s = t.elapsed().as_secs_f64();
    if !report.intact() || report.events != n {
        bail!("verification: {} events, intact {}: {:?}", report.events, report.intact(), report.first_bad);
    }
    rows.push(Row {
        name: format!("verify the whole log ({n} events), library"),
        value: Some(s),
        unit: "s",
        detail: json!({ "events_per_s": n as f64 / s, "database_bytes": db_bytes }),
    });
    let mut tails = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let last = store::tail(cat.connection(), 50)?;
        tails.push(t.elapsed().as_secs_f64());
        if last.len() != 50 {
            bail!("tail returned {} events", last.len());
        }
    }
    drop(cat);

    // The same through the command line, then the daemon's start-up.
    let (verify_s, out) = timed_command(&bin, &config, &["log", "verify", "--json"])?;
    let verdict: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    rows.push(Row {
        name: format!("evidock log verify ({n} events), database in the page cache"),
        value: Some(verify_s),
        unit: "s",
        detail: verdict,
    });
    // The largest child so far is this `log verify`: its peak RSS (streaming: flat in the
    // log's size).
    rows.push(Row {
        name: format!("evidock log verify ({n} events), peak RSS"),
        value: Some(children_peak_rss_kib() as f64 / 1024.0),
        unit: "MiB",
        detail: json!({}),
    });
    for f in [db.clone(), db.with_extension("sqlite-wal")] {
        evict(&f);
    }
    let (verify_s, _) = timed_command(&bin, &config, &["log", "verify", "--json"])?;
    rows.push(Row {
        name: format!("evidock log verify ({n} events), database out of the page cache"),
        value: Some(verify_s),
        unit: "s",
        detail: json!({}),
    });
    rows.push(Row {
        name: "log tail of 50 events, library (median of 5)".into(),
        value: Some(median(tails) * 1000.0),
        unit: "ms",
        detail: json!({}),
    });
    let (tail_s, _) = timed_command(&bin, &config, &["log", "tail", "-n", "50"])?;
    rows.push(Row { name: "evidock log tail -n 50".into(), value: Some(tail_s), unit: "s", detail: json!({}) });

    // The database was written by this bench, not by a daemon that stopped cleanly: the first
    // start checks its integrity before READY; the daemon then stops cleanly, and later starts
    // check it in the background after READY.
    for f in [db.clone(), db.with_extension("sqlite-wal")] {
        evict(&f);
    }
    // Killed once its full verification has recorded its point (`log_point_verified`, INV-38),
    // as a power cut would leave a station that never stopped cleanly nor signed.
    let points = |db: &Path| -> i64 {
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| {
                c.query_row("SELECT count(*) FROM custody_log WHERE action = 'log_point_verified'", [], |r| r.get(0))
            })
            .unwrap_or(0)
    };
    let before = points(&db);
    let unclean = time_to_ready_until(&bin, &config, &dir, libc::SIGKILL, &|| points(&db) > before)?;
    // A log reused from an earlier run already holds a point: the start measured is then not
    // the one this row names.
    let no_point = before == 0 && reused == 0;
    rows.push(Row {
        name: "daemon start to READY=1 after an unclean stop with no clean point yet (the whole log checked first), database out of the page cache"
            .into(),
        value: no_point.then_some(unclean),
        unit: "s",
        detail: if no_point {
            json!({ "database_bytes": db_bytes })
        } else {
            json!({ "not_measured": "the log was reused from an earlier run and already holds a clean point", "measured_s": unclean })
        },
    });
    for f in [db.clone(), db.with_extension("sqlite-wal")] {
        evict(&f);
    }
    let from_point = time_to_ready(&bin, &config, &dir)?;
    rows.push(Row {
        name: "daemon start to READY=1 after an unclean stop with only the full verification's point (INV-38), database out of the page cache"
            .into(),
        value: Some(from_point),
        unit: "s",
        detail: json!({ "points_recorded": points(&db) - before }),
    });
    let mut cold = Vec::new();
    for _ in 0..args.starts.max(1) {
        for f in [db.clone(), db.with_extension("sqlite-wal")] {
            evict(&f);
        }
        cold.push(time_to_ready(&bin, &config, &dir)?);
    }
    let warm = time_to_ready(&bin, &config, &dir)?;
    rows.push(Row {
        name: format!(
            "daemon start to READY=1 after a clean stop, database out of the page cache (median of {})",
            cold.len()
        ),
        value: Some(median(cold.clone())),
        unit: "s",
        detail: json!({ "runs_s": cold, "database_bytes": db_bytes }),
    });
    rows.push(Row {
        name: "daemon start to READY=1, database in the page cache".into(),
        value: Some(warm),
        unit: "s",
        detail: json!({}),
    });
    // A power cut after a clean run: killed after READY, then started again. Before READY
    // only what the killed run wrote since the last clean point is checked (INV-24).
    time_to_ready_then(&bin, &config, &dir, libc::SIGKILL)?;
    for f in [db.clone(), db.with_extension("sqlite-wal")] {
        evict(&f);
    }
    let after_kill = time_to_ready(&bin, &config, &dir)?;
    rows.push(Row {
        name:
            "daemon start to READY=1 after an unclean stop (kill -9 after a clean run), database out of the page cache"
                .into(),
        value: Some(after_kill),
        unit: "s",
        detail: json!({ "database_bytes": db_bytes }),
    });
    // What the start-up spends its time on: the catalogue's integrity check of the whole file.
    let mut checks = Vec::new();
    for _ in 0..args.starts.max(1) {
        for f in [db.clone(), db.with_extension("sqlite-wal")] {
            evict(&f);
        }
        let t = Instant::now();
        let cat = Catalog::open_read_only(&db, TZ)?;
        let check: String = cat.connection().query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        checks.push(t.elapsed().as_secs_f64());
        if check != "ok" {
            bail!("quick_check: {check}");
        }
    }
    rows.push(Row {
        name: format!("PRAGMA quick_check alone, database out of the page cache (median of {})", checks.len()),
        value: Some(median(checks.clone())),
        unit: "s",
        detail: json!({ "runs_s": checks }),
    });
    // Archivists' queries over the whole log, through the command line.
    const CASE: &str = "宜卫罚〔2024〕12号";
    if timed_command(&bin, &config, &["case", "show", CASE]).is_err() {
        timed_command(&bin, &config, &["case", "create", CASE, "--officer", "012345"])?;
    }
    let (checkpoint_s, _) = timed_command(&bin, &config, &["log", "checkpoint"])?;
    rows.push(Row {
        name: format!("evidock log checkpoint (Merkle tree over {} events, signed)", n + 1),
        value: Some(checkpoint_s),
        unit: "s",
        detail: json!({}),
    });
    let middle = (n / 2).max(1).to_string();
    let (prove_s, _) = timed_command(&bin, &config, &["log", "prove", &middle])?;
    rows.push(Row {
        name: "evidock log prove (inclusion proof of one event)".into(),
        value: Some(prove_s),
        unit: "s",
        detail: json!({ "event": middle }),
    });

    // Issue 18: the same operations from stored tree nodes, side by side with today's
    // recomputing implementation, in the same run.
    let conn = store::open_read_only(&db)?;
    let size = evidock::custody::tree::log_size(&conn)?;
    let index = size / 2;
    let ranges = evidock::custody::merkle::inclusion_ranges(index, size)?;
    let (fast, fast_s) = timed(|| store::scan_tree(&conn, size, &ranges, Some(index)))?;
    let (slow, slow_s) = timed(|| store::scan_tree_recomputing(&conn, size, &ranges, Some(index)))?;
    if fast != slow {
        bail!("the inclusion proof from stored nodes differs from the recomputed one");
    }
    rows.push(Row {
        name: format!("inclusion proof of event {} of {size}, stored nodes (library)", index + 1),
        value: Some(fast_s * 1000.0),
        unit: "ms",
        detail: json!({ "recomputing_ms": slow_s * 1000.0, "identical": true }),
    });
    rows.push(Row {
        name: format!("inclusion proof of event {} of {size}, recomputing every leaf (before)", index + 1),
        value: Some(slow_s * 1000.0),
        unit: "ms",
        detail: json!({}),
    });
    let cranges = evidock::custody::merkle::consistency_ranges(size / 3, size)?;
    let (fast, fast_s) = timed(|| store::scan_tree(&conn, size, &cranges, None))?;
    let (slow, slow_s) = timed(|| store::scan_tree_recomputing(&conn, size, &cranges, None))?;
    if fast != slow {
        bail!("the consistency proof from stored nodes differs from the recomputed one");
    }
    rows.push(Row {
        name: format!("consistency proof {} to {size}, stored nodes (library)", size / 3),
        value: Some(fast_s * 1000.0),
        unit: "ms",
        detail: json!({ "recomputing_ms": slow_s * 1000.0, "identical": true }),
    });
    rows.push(Row {
        name: format!("consistency proof {} to {size}, recomputing every leaf (before)", size / 3),
        value: Some(slow_s * 1000.0),
        unit: "ms",
        detail: json!({}),
    });
    drop(conn);
    let cat = Catalog::open_trusted(&db, TZ, Actor::daemon("evidock"))?;
    let start = count(&cat)?;
    append_batch(&cat, start, start + args.appends)?;
    let keys = evidock::custody::files::KeyPaths::in_dir(&dir.join("state"));
    let signer = evidock::custody::files::load_or_create_signer(&keys, "evidock/bench")?;
    let (made, sign_s) =
        timed(|| store::checkpoint(cat.connection(), &signer, Some(&keys.checkpoints), chrono::Utc::now()))?;
    // Today's signing read the whole log: the chain and the tree, recomputed.
    let (_, before_s) = timed(|| -> anyhow::Result<()> {
        let r = store::verify(cat.connection())?;
        let t = store::scan_tree_recomputing(cat.connection(), made.tree_size, &[], None)?;
        anyhow::ensure!(r.intact() && t.root == made.root, "the recomputed root differs");
        Ok(())
    })?;
    rows.push(Row {
        name: format!("sign a checkpoint after {} new events ({} events), stored nodes", args.appends, made.tree_size),
        value: Some(sign_s * 1000.0),
        unit: "ms",
        detail: json!({ "recomputing_ms": before_s * 1000.0 }),
    });
    rows.push(Row {
        name: format!("sign a checkpoint after {} new events, recomputing the chain and tree (before)", args.appends),
        value: Some(before_s * 1000.0),
        unit: "ms",
        detail: json!({}),
    });
    // Size: bytes per event, and each index and table (SQLite's dbstat, when built in).
    let db_bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    let sizes: Vec<(String, i64)> = cat
        .connection()
        .prepare("SELECT name, sum(pgsize) FROM dbstat WHERE name LIKE 'custody%' OR name LIKE 'sqlite_autoindex_custody%' GROUP BY name ORDER BY 2 DESC")
        .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .unwrap_or_default();
    rows.push(Row {
        name: format!("database bytes per event ({} events)", made.tree_size),
        value: Some(db_bytes as f64 / made.tree_size.max(1) as f64),
        unit: "B",
        detail: json!({ "database_bytes": db_bytes, "by_table_and_index": sizes.iter().map(|(n, b)| json!({"name": n, "bytes": b, "bytes_per_event": *b as f64 / made.tree_size.max(1) as f64})).collect::<Vec<_>>() }),
    });
    for (name, bytes) in &sizes {
        eprintln!("custody: {name}: {bytes} bytes ({:.1} per event)", *bytes as f64 / made.tree_size.max(1) as f64);
    }
    file_case_footage(&db, CASE, made.tree_size)?;
    // The station day of the first event: a time range the log's events fall in.
    let first_day: String = cat
        .connection()
        .query_row("SELECT substr(ts_local, 1, 10) FROM custody_log WHERE seq = 1", [], |r| r.get(0))
        .unwrap_or_else(|_| "2024-05-01".into());
    drop(cat);
    // Every `log query` filter, first page, through the command line. Each names something
    // the log holds in numbers (a first page that finds nothing would time an empty search):
    // the case's and the recording's filed footage, the recorder and the officer of its
    // dockings, a custodian, an action of every docking, the log's first station day.
    let recording = format!("{SERIAL}/{SESSION}");
    let mut short = Vec::new();
    for (what, filter) in [
        ("case", vec!["--case", CASE]),
        ("device", vec!["--device", SERIAL]),
        ("officer", vec!["--officer", BADGE]),
        ("recording", vec!["--recording", recording.as_str()]),
        ("actor", vec!["--actor", "lisi"]),
        ("action", vec!["--action", "segment_wiped"]),
        ("time", vec!["--from", first_day.as_str(), "--to", first_day.as_str()]),
    ] {
        let mut a = vec!["log", "query", "--limit", "100", "--format", "json"];
        a.extend(filter);
        let mut runs = Vec::new();
        let mut events = 0;
        for _ in 0..3 {
            let (s, out) = timed_command(&bin, &config, &a)?;
            runs.push(s * 1000.0);
            events = out.lines().filter(|l| !l.trim().is_empty()).count();
        }
        if events < 100 {
            short.push(format!("--{what} found {events}"));
        }
        rows.push(Row {
            name: format!("evidock log query --{what}, first page of 100 (median of 3, whole process)"),
            value: Some(median(runs.clone())),
            unit: "ms",
            detail: json!({ "events": events, "runs_ms": runs }),
        });
    }
    if !short.is_empty() {
        bail!("a query row did not fill its first page of 100 ({}): it would time an empty search", short.join(", "));
    }
    Ok(rows)
}

/// The recorder whose footage the bench files into its case, the officer who carried it, and
/// the recording its segments belong to.
const SERIAL: &str = "A100003";
const BADGE: &str = "警010001";
const SESSION: &str = "20240501-083000";

/// Files footage of about 200 dockings spread over the whole log into `case`, as the catalogue
/// holds it after ingest and `case assign`: the docking (recorder [`SERIAL`], carried by
/// [`BADGE`]), its file and the segment the log names, one recording [`SESSION`]. The events
/// are the log's own (`docking:N`, `segment:SERIAL/SEQ` of [`event`]); a second run over the
/// same folder finds them in place.
fn file_case_footage(db: &Path, case: &str, events: u64) -> anyhow::Result<()> {
    let mut conn = rusqlite::Connection::open(db)?;
    let tx = conn.transaction()?;
    let case_id: i64 = tx.query_row("SELECT id FROM cases WHERE number = ?1", [case], |r| r.get(0))?;
    // Dockings whose fourth event (a segment's) is of SERIAL: `i % 200 == 3` with `i = 40d + 3`.
    let dockings = events / 40;
    let step = (dockings / 200).max(1).div_ceil(5) * 5;
    let mut filed = 0u64;
    for d in (0..dockings).step_by(usize::try_from(step)?) {
        let seq = 40 * d + 3;
        let (id, seq_sql) = (i64::try_from(d)?, i64::try_from(seq)?);
        tx.execute(
            "INSERT OR IGNORE INTO dockings (id, serial, volume, started, finished, dock_clock, outcome, badge)
             VALUES (?1, ?2, 'bench', '2024-05-01T00:00:00Z', '2024-05-01T00:10:00Z', '2024-05-01T00:00:00Z', 'ok', ?3)",
            rusqlite::params![id, SERIAL, BADGE],
        )?;
        let path = format!("2024/05/01/UNASSIGNED/{SERIAL}/{seq:08}.MP4");
        tx.execute(
            "INSERT OR IGNORE INTO files (id, serial, source, size, blake3, archive_path, docking_id, stored, read_back, immutable)
             VALUES (?1, ?2, ?3, 268435456, ?4, ?5, ?1, '2024-05-01T00:10:00Z', '2024-05-01T00:10:00Z', 1)",
            rusqlite::params![id, SERIAL, format!("DCIM/{seq:08}.MP4"), blake3::hash(&seq.to_le_bytes()).to_hex().to_string(), path],
        )?;
        let exists: bool = tx.query_row("SELECT count(*) > 0 FROM segments WHERE file_id = ?1", [id], |r| r.get(0))?;
        if !exists {
            tx.execute(
                "INSERT INTO segments (docking_id, serial, session, seq, name, kind, verdict, attested_bytes, provenance, detail, file_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'video', 'verified', 268435456, 'contract', '{}', ?1)",
                rusqlite::params![id, SERIAL, SESSION, seq_sql, format!("{seq:08}.MP4")],
            )?;
        }
        tx.execute(
            "INSERT OR IGNORE INTO case_files (case_id, file_id, path, linked, assigned, assigned_by)
             VALUES (?1, ?2, ?3, 1, '2024-05-01T01:00:00Z', 'lisi')",
            rusqlite::params![case_id, id, format!("2024/05/01/{case}/{SERIAL}/{seq:08}.MP4")],
        )?;
        filed += 1;
    }
    tx.commit()?;
    eprintln!("custody: {filed} files of {SERIAL} filed into {case} (one every {step} dockings)");
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let rows = match run(&args) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("custody bench: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let mut out = String::from("| custody log | measured |\n|---|---|\n");
    for r in &rows {
        let v = r.value.map_or_else(|| "not yet measurable".to_string(), |v| format!("{v:.3} {}", r.unit));
        out += &format!("| {} | {v} |\n", r.name);
    }
    print!("{out}");
    if let Some(path) = &args.json {
        let doc = json!({
            "version": 1,
            "events": args.events,
            "appends": args.appends,
            "rows": rows.iter().map(|r| json!({
                "name": r.name, "value": r.value, "unit": r.unit, "detail": r.detail,
            })).collect::<Vec<_>>(),
        });
        let written = std::fs::File::create(path).and_then(|mut f| {
            f.write_all(format!("{}\n", serde_json::to_string_pretty(&doc).unwrap_or_default()).as_bytes())
        });
        if let Err(e) = written {
            eprintln!("custody bench: writing {}: {e}", path.display());
            return std::process::ExitCode::from(2);
        }
    }
    std::process::ExitCode::SUCCESS
}
