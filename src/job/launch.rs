//! A step of a long job started by the service for a person at the station's page (开始刻录,
//! 写入光盘, 校验光盘): the step runs as a process of its own, `evidock burn ...` under the
//! service's user and configuration, so it is the same job a terminal or a unit runs, with
//! the same checks and custody events. Each start is recorded in the state folder
//! (`jobs/N.json`, its output in `jobs/N.log`), and its end when the process ends.
//!
//! Owns: the burn lock (`burn.lock`: one burn step at a time, taken by every step, from the
//! page or a terminal), starting a step's process, and the records of started steps.
//! Must never: run a step in the service's own process, or start one while another runs.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::config::Config;

/// Started steps kept in the list (older records stay on disk).
pub const LISTED: usize = 10;
/// Lines of a step's output shown with it.
pub const TAIL_LINES: usize = 12;

/// The lock every burn step holds while it runs.
pub struct BurnLock {
    _lock: nix::fcntl::Flock<File>,
}

fn lock_path(config: &Config) -> PathBuf {
    config.paths.state_dir.join("burn.lock")
}

/// Takes the burn lock for this process's step.
///
/// # Errors
/// When another burn step holds it (said in Chinese and English), or the lock file cannot
/// be opened.
pub fn lock_burn(config: &Config) -> anyhow::Result<BurnLock> {
    let path = lock_path(config);
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("opening the burn lock {}: {e}", path.display()))?;
    match nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(BurnLock { _lock: lock }),
        Err(_) => anyhow::bail!(
            "another burn step is running (`evidock status` shows it); wait for it to end / 另一刻录步骤正在进行，请等待其结束"
        ),
    }
}

/// Whether a burn step runs now (another process holds the lock). A lock file that cannot
/// be opened says nothing here; starting a step then says why.
pub fn burn_running(config: &Config) -> bool {
    let opened = File::options().create(true).truncate(false).write(true).open(lock_path(config));
    opened.is_ok_and(|f| nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).is_err())
}

/// One started step, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Its number.
    pub id: u64,
    /// What runs: the command's words after `evidock` (`burn run --media dvd ...`).
    pub what: String,
    /// Who started it (as its custody event names them).
    pub by: String,
    /// When (RFC 3339).
    pub started: String,
    /// Its process.
    pub pid: u32,
    /// When it ended, once it has.
    #[serde(default)]
    pub ended: Option<String>,
    /// Its exit code, once it has ended (0 done; 1 a finding, e.g. a disc that failed its
    /// verify; 2 it could not run).
    #[serde(default)]
    pub exit: Option<i32>,
    /// `running`, `done`, `failed` or `unknown` (it ended unwatched, e.g. the service restarted).
    #[serde(default)]
    pub state: String,
    /// The state in Chinese.
    #[serde(default)]
    pub state_zh: String,
    /// The last lines of its output.
    #[serde(default)]
    pub tail: Vec<String>,
}

/// The steps this process started whose end it has not recorded yet: running, whatever their
/// process looks like (between its exit and its record, it is still this process's to tell).
static WATCHED: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());

fn watched() -> std::sync::MutexGuard<'static, Vec<u64>> {
    WATCHED.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn jobs_dir(config: &Config) -> PathBuf {
    config.paths.state_dir.join("jobs")
}

fn write_record(dir: &Path, r: &JobRecord) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(r).map_err(std::io::Error::other)?;
    crate::archive::fsio::replace(&dir.join(format!("{}.json", r.id)), &text)
}

/// Starts `evidock ARGS` (under this service's configuration file) as a process of its own,
/// its output into `jobs/N.log`, recorded as `jobs/N.json` for `by`; a thread of this process
/// records its end. `record(N)` runs first, once the step's number is known and no other step
/// runs: the start's custody event, so that no step runs without it (when it fails, nothing
/// starts).
///
/// # Errors
/// When a burn step runs already, `record` fails, or the process cannot be started.
pub fn start(
    config: &Config,
    args: &[String],
    by: &str,
    record: impl FnOnce(u64) -> anyhow::Result<()>,
) -> anyhow::Result<JobRecord> {
    // Two pages asking at once start one step: the second waits here until the first step
    // holds the burn lock, then finds it held.
    static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _starting = STARTING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = jobs_dir(config);
    std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    let lock = lock_burn(config)?;
    let id = std::fs::read_dir(&dir)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json")?.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    let log_path = dir.join(format!("{id}.log"));
    let log = File::options()
        .create_new(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| anyhow::anyhow!("{}: {e}", log_path.display()))?;
    let exe = std::env::current_exe().map_err(|e| anyhow::anyhow!("finding evidock's own program: {e}"))?;
    let mut cmd = Command::new(exe);
    if let Some(source) = &config.source {
        cmd.arg("--config").arg(source);
    }
    // Its own process group (a signal to the service's is not the step's), and nothing of the
    // service's own supervision (the step is not the service to systemd).
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID");
    record(id)?;
    // The step takes the lock itself; this process lets go of it as the step starts.
    drop(lock);
    let mut child = cmd.spawn().map_err(|e| anyhow::anyhow!("starting `evidock {}`: {e}", args.join(" ")))?;
    let record = JobRecord {
        id,
        what: args.join(" "),
        by: by.to_string(),
        started: chrono::Utc::now().to_rfc3339(),
        pid: child.id(),
        ended: None,
        exit: None,
        state: String::new(),
        state_zh: String::new(),
        tail: Vec::new(),
    };
    write_record(&dir, &record).map_err(|e| anyhow::anyhow!("recording the started step: {e}"))?;
    // Until the step holds the lock (or has ended without it), no other may start.
    let since = std::time::Instant::now();
    while !burn_running(config)
        && matches!(child.try_wait(), Ok(None))
        && since.elapsed() < std::time::Duration::from_secs(30)
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut ended = record.clone();
    watched().push(id);
    std::thread::spawn(move || {
        let status = child.wait();
        ended.ended = Some(chrono::Utc::now().to_rfc3339());
        ended.exit = status.ok().and_then(|s| s.code());
        if let Err(e) = write_record(&dir, &ended) {
            tracing::error!(job = ended.id, error = %e, "cannot record the end of a burn step");
        }
        watched().retain(|j| *j != ended.id);
    });
    Ok(seen(record, &log_path))
}

/// The record with its state and the last lines of its output.
fn seen(mut r: JobRecord, log: &Path) -> JobRecord {
    // Started by this process and not yet recorded as ended; else (a step a former run of
    // the service started) its process still there.
    let alive =
        || watched().contains(&r.id) || nix::sys::signal::kill(nix::unistd::Pid::from_raw(r.pid as i32), None).is_ok();
    let (state, zh) = match (r.ended.is_some(), r.exit) {
        (true, Some(0)) => ("done", "完成"),
        (true, _) => ("failed", "未成功"),
        (false, _) if alive() => ("running", "进行中"),
        (false, _) => ("unknown", "已中止（未记录结果）"),
    };
    r.state = state.to_string();
    r.state_zh = zh.to_string();
    r.tail = tail(log, TAIL_LINES);
    r
}

/// The last `n` lines of a file (read from its last 64 KiB).
fn tail(path: &Path, n: usize) -> Vec<String> {
    let Ok(mut f) = File::open(path) else { return Vec::new() };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 << 10)));
    let mut bytes = Vec::new();
    let _ = f.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].iter().map(|l| l.to_string()).collect()
}

/// The last [`LISTED`] started steps, newest first, each with its state and output's end.
///
/// # Errors
/// When the folder cannot be read.
pub fn recent(config: &Config) -> anyhow::Result<Vec<JobRecord>> {
    let dir = jobs_dir(config);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => anyhow::bail!("reading {}: {e}", dir.display()),
    };
    let mut ids: Vec<u64> =
        entries.flatten().filter_map(|e| e.file_name().to_str()?.strip_suffix(".json")?.parse::<u64>().ok()).collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let mut out = Vec::new();
    for id in ids.into_iter().take(LISTED) {
        let path = dir.join(format!("{id}.json"));
        let Ok(text) = std::fs::read(&path) else { continue };
        match serde_json::from_slice::<JobRecord>(&text) {
            Ok(r) => out.push(seen(r, &dir.join(format!("{id}.log")))),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "a job record that does not read"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_burn_step_at_a_time_and_the_tail_of_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::under(dir.path());
        std::fs::create_dir_all(&config.paths.state_dir).unwrap();
        let held = lock_burn(&config).unwrap();
        assert!(burn_running(&config), "held by another open file");
        let e = lock_burn(&config).err().unwrap().to_string();
        assert!(e.contains("another burn step is running") && e.contains("另一刻录步骤"), "{e}");
        let mut recorded = false;
        let refused = start(&config, &["status".into()], "account:wang", |_| {
            recorded = true;
            Ok(())
        });
        assert!(refused.is_err() && !recorded, "nothing starts or is recorded while one runs");
        drop(held);
        assert!(!burn_running(&config));
        let log = dir.path().join("out.log");
        std::fs::write(&log, (1..=30).map(|i| format!("line {i}\n")).collect::<String>()).unwrap();
        let t = tail(&log, 3);
        assert_eq!(t, ["line 28", "line 29", "line 30"]);
        assert!(tail(&dir.path().join("missing"), 3).is_empty());
        assert!(recent(&config).unwrap().is_empty());
    }
}
