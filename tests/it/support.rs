//! A temporary docking station running the real binary: its own dock root, archive and
//! state, a systemd notify socket to know when the daemon is ready, and helpers to dock
//! volumes, read the status, and query the catalogue.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_evidock")
}

/// The repository's fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/recorders")
}

/// What a command printed, for assertion messages and checks of its output: its exit status,
/// then its standard output and standard error, each labelled.
pub fn text(o: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The standard output of a command that must succeed; otherwise fails with all it printed.
pub fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Waits until `f` returns `Some`, polling, or panics with `what` after `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {secs} s waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Runs `cmd` to its end, collecting what it prints; kills it and fails after `secs`.
pub fn within(secs: u64, mut cmd: Command, what: &str) -> Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!("{what} still running after {secs} s: {}", text(&o));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Runs `f` on a thread of its own that acts as user `uid` (group `uid`, no supplementary
/// groups): what it opens and connects to, the kernel sees that user open and connect. Only
/// that thread changes credentials (raw system calls: libc's `setuid` would change the whole
/// test process).
pub fn as_uid<T: Send + 'static>(uid: u32, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        // SAFETY: plain system calls on this thread's own credentials; no memory is shared.
        unsafe {
            assert_eq!(libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<libc::gid_t>()), 0);
            assert_eq!(libc::syscall(libc::SYS_setresgid, uid, uid, uid), 0);
            assert_eq!(libc::syscall(libc::SYS_setresuid, uid, uid, uid), 0);
        }
        f()
    })
    .join()
    .unwrap()
}

/// A client of the control socket that speaks the wire by hand, as any local program may.
pub struct RawClient {
    pub stream: std::os::unix::net::UnixStream,
}

impl RawClient {
    /// Connects to `socket` as user `uid`.
    pub fn connect_as(uid: u32, socket: &Path) -> RawClient {
        let socket = socket.to_path_buf();
        let stream = as_uid(uid, move || std::os::unix::net::UnixStream::connect(&socket).unwrap());
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        RawClient { stream }
    }

    /// The next line the service sends (without its newline), or `None` at the end.
    pub fn line(&mut self) -> Option<String> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match std::io::Read::read(&mut self.stream, &mut byte) {
                Ok(0) if line.is_empty() => return None,
                Ok(0) => break,
                Ok(_) if byte[0] == b'\n' => break,
                Ok(_) => line.push(byte[0]),
                Err(e) => panic!("reading from the control socket: {e} (after {:?})", String::from_utf8_lossy(&line)),
            }
        }
        Some(String::from_utf8_lossy(&line).into_owned())
    }

    /// Sends `bytes`, with `fds` as `SCM_RIGHTS` on them.
    pub fn send(&self, bytes: &[u8], fds: &[std::os::fd::RawFd]) {
        use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
        let cmsg = [ControlMessage::ScmRights(fds)];
        let sent = sendmsg::<()>(
            std::os::fd::AsRawFd::as_raw_fd(&self.stream),
            &[std::io::IoSlice::new(bytes)],
            if fds.is_empty() { &[] } else { &cmsg },
            MsgFlags::empty(),
            None,
        )
        .unwrap();
        std::io::Write::write_all(&mut &self.stream, &bytes[sent..]).unwrap();
    }

    /// Every line the service sends until it closes the connection.
    pub fn rest(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.line()).collect()
    }
}

/// BLAKE3 of a file, hex.
pub fn b3(path: &Path) -> String {
    blake3::hash(&std::fs::read(path).unwrap()).to_hex().to_string()
}

/// Every regular file under `root`, relative, sorted.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let ty = e.file_type().unwrap();
            if ty.is_dir() {
                stack.push(e.path());
            } else if ty.is_file() {
                out.push(e.path().strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// Copies a volume tree (regular files and folders).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let ty = e.file_type().unwrap();
        if ty.is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else if ty.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The roles of the test station: the superuser (who runs the tests) holds every role but
/// approver; `nobody` (uid 65534) approves, and is the principal head (主要负责人) who decides
/// requests for outside parties (`[access.tiers]`, built-in: S1 §18, S3 §30).
pub const ROLES: &str = "[roles]\ncustodian = [\"uid:0\"]\narchivist = [\"uid:0\"]\nsupervisor = [\"uid:0\"]\n\
                         admin = [\"uid:0\"]\napprover = [\"uid:65534\"]\n\
                         [access.heads]\nprincipal = [\"uid:65534\"]\n";

/// A station in a temporary folder.
pub struct Station {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    child: Option<Child>,
    notify: Option<UnixDatagram>,
}

impl Station {
    /// A station with the default test configuration plus `extra` TOML lines in `[ingest]`.
    pub fn with_ingest(extra: &str) -> Station {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("evidock.toml");
        std::fs::write(
            &config,
            format!(
                "[paths]\ndock_root = \"dock\"\narchive_root = \"archive\"\nstate_dir = \"state\"\n\
                 control_socket = \"run/control.sock\"\n\
                 [usb]\nenabled = false\n[daemon]\nstatus_interval_ms = 100\n{ROLES}[ingest]\n{extra}\n"
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("incoming")).unwrap();
        Station { dir, config, child: None, notify: None }
    }

    /// A station with the default test configuration.
    pub fn new() -> Station {
        Station::with_ingest("")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    pub fn dock_root(&self) -> PathBuf {
        self.path("dock")
    }
    pub fn archive(&self) -> PathBuf {
        self.path("archive")
    }

    /// Runs `evidock --config <station> ARGS`.
    pub fn evidock(&self, args: &[&str]) -> Output {
        Command::new(bin()).arg("--config").arg(&self.config).args(args).output().unwrap()
    }

    /// Runs `evidock --config <station> ARGS` as another user (`setpriv`, no groups but its
    /// own gid = uid), after opening the station folder for traversal and the configuration for
    /// reading, as an installed station has them.
    pub fn evidock_as(&self, uid: u32, args: &[&str]) -> Output {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        std::fs::set_permissions(&self.config, std::fs::Permissions::from_mode(0o644)).unwrap();
        Command::new("setpriv")
            .args([format!("--reuid={uid}"), format!("--regid={uid}"), "--clear-groups".into()])
            .arg(bin())
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .current_dir("/")
            .output()
            .unwrap()
    }

    /// Runs `evidock --config <station> ARGS`, killing it and failing after `secs`.
    pub fn evidock_within(&self, secs: u64, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin());
        cmd.arg("--config").arg(&self.config).args(args);
        within(secs, cmd, &format!("evidock {args:?}"))
    }

    /// [`Station::evidock_as`], killing it and failing after `secs`.
    pub fn evidock_as_within(&self, secs: u64, uid: u32, args: &[&str]) -> Output {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        std::fs::set_permissions(&self.config, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut cmd = Command::new("setpriv");
        cmd.args([format!("--reuid={uid}"), format!("--regid={uid}"), "--clear-groups".into()])
            .arg(bin())
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .current_dir("/");
        within(secs, cmd, &format!("evidock {args:?} as uid {uid}"))
    }

    /// Writes a simulated recorder volume into `incoming/<name>`; returns its path and the
    /// simulator's JSON summary.
    pub fn sim(&self, name: &str, args: &[&str]) -> (PathBuf, Value) {
        let out = self.path("incoming").join(name);
        let o =
            Command::new(bin()).args(["sim", "recorder", "--out"]).arg(&out).args(args).arg("--json").output().unwrap();
        assert!(o.status.success(), "sim failed: {}", text(&o));
        (out, serde_json::from_slice(&o.stdout).expect("sim --json prints JSON"))
    }

    /// Starts the daemon and waits for READY=1 on its notify socket.
    pub fn start(&mut self) {
        self.start_with(&[]);
    }

    /// Starts the daemon with extra environment (failpoints, faults) and waits for READY=1.
    pub fn start_with(&mut self, env: &[(&str, &str)]) {
        self.start_inner(Command::new(bin()), env);
    }

    /// Starts the daemon as user `uid`, as the service runs under its own user: the station's
    /// folders are handed to that user first.
    pub fn start_as(&mut self, uid: u32, env: &[(&str, &str)]) {
        use std::os::unix::fs::PermissionsExt;
        let o = Command::new("chown").arg("-R").arg(format!("{uid}:{uid}")).arg(self.dir.path()).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        std::fs::set_permissions(self.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        let mut cmd = Command::new("setpriv");
        cmd.args([format!("--reuid={uid}"), format!("--regid={uid}"), "--clear-groups".into()]).arg(bin());
        self.start_inner(cmd, env);
    }

    fn start_inner(&mut self, mut cmd: Command, env: &[(&str, &str)]) {
        use std::os::unix::fs::PermissionsExt;
        assert!(self.child.is_none(), "already running");
        let sock_path = self.path(&format!("notify-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&sock_path);
        let sock = UnixDatagram::bind(&sock_path).unwrap();
        // A daemon started as another user must be able to send to it.
        std::fs::set_permissions(&sock_path, std::fs::Permissions::from_mode(0o777)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let child = cmd
            .arg("--config")
            .arg(&self.config)
            .arg("daemon")
            .env("NOTIFY_SOCKET", &sock_path)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path("daemon.log")).unwrap())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let mut buf = [0u8; 4096];
        loop {
            // A signal to the test process (another test's child exiting) interrupts the wait:
            // wait again.
            let n = match sock.recv(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => r.unwrap_or_else(|e| panic!("no READY=1 from the daemon: {e}\n{}", self.log())),
            };
            if String::from_utf8_lossy(&buf[..n]).lines().any(|l| l == "READY=1") {
                break;
            }
        }
        self.notify = Some(sock);
    }

    /// The daemon's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("daemon.log")).unwrap_or_default()
    }

    /// `kill -9` the daemon.
    pub fn kill9(&mut self) {
        let mut c = self.child.take().expect("running");
        c.kill().unwrap();
        c.wait().unwrap();
    }

    /// SIGTERM, and the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
        c.wait().unwrap()
    }

    /// Docks a volume: moves `incoming/<name>` (or a copy of `from`) into the dock root in
    /// one rename, as a mount would make it appear.
    pub fn dock(&self, from: &Path, name: &str) -> PathBuf {
        let staged = self.path("incoming").join(name);
        if from != staged {
            copy_tree(from, &staged);
        }
        let target = self.dock_root().join(name);
        std::fs::create_dir_all(self.dock_root()).unwrap();
        std::fs::rename(&staged, &target).unwrap();
        target
    }

    /// The status document (from the status file).
    pub fn status(&self) -> Option<Value> {
        let bytes = std::fs::read(self.path("state/status.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The bay for `volume` once `pred` holds for it.
    pub fn wait_bay(&self, volume: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let found = self
                .status()
                .and_then(|doc| doc["bays"].as_array()?.iter().find(|b| b["volume"] == volume && pred(b)).cloned());
            if let Some(b) = found {
                return b;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\nstatus: {:#}\ndaemon log:\n{}",
                self.status().unwrap_or_default(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits until the bay for `volume` has finished.
    pub fn wait_finished(&self, volume: &str) -> Value {
        self.wait_bay(volume, "the bay to finish", |b| {
            matches!(b["phase"].as_str(), Some("done" | "attention" | "not_a_recorder" | "abandoned"))
        })
    }

    /// A read-only connection to the catalogue.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.path("state/catalog.sqlite"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap()
    }

    /// Custody log actions in order.
    pub fn actions(&self) -> Vec<String> {
        let db = self.db();
        let mut st = db.prepare("SELECT action FROM custody_log ORDER BY seq").unwrap();
        st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    }

    /// Archive files (excluding chain files) by BLAKE3.
    pub fn archived_footage(&self) -> Vec<(PathBuf, String)> {
        files_under(&self.archive())
            .into_iter()
            .filter(|p| !p.components().any(|c| c.as_os_str() == "chain"))
            .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with(".evidock-tmp."))
            .filter(|p| p.file_name().unwrap() != "案件信息.txt" && p.file_name().unwrap() != "案件清单.json")
            .map(|p| {
                let h = b3(&self.archive().join(&p));
                (p, h)
            })
            .collect()
    }

    /// Registers a recorder to officer 012345 (the simulator's default badge).
    pub fn register(&self, serial: &str) {
        let o = self.evidock(&["device", "register", serial, "--officer-id", "012345", "--officer-name", "张三"]);
        assert!(o.status.success(), "{}", text(&o));
    }

    /// A writable connection to the catalogue with the custody log's triggers dropped, as an
    /// attacker holding the file would have it.
    pub fn open_log_for_tampering(&self) -> rusqlite::Connection {
        let db = rusqlite::Connection::open(self.path("state/catalog.sqlite")).unwrap();
        let triggers: Vec<String> = db
            .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'custody_log'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for t in triggers {
            db.execute(&format!("DROP TRIGGER {t}"), []).unwrap();
        }
        db
    }

    /// `log verify` succeeds.
    pub fn assert_log_verifies(&self) {
        let o = self.evidock(&["log", "verify"]);
        assert!(o.status.success(), "log verify failed: {}", text(&o));
    }
}

impl Drop for Station {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Sets a volume's identity clock to now, as a recorder does when it docks (committed
/// fixtures carry the clock of the day they were made).
pub fn restamp(volume: &Path) {
    let id = volume.join("ZFYINFO.TXT");
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).naive_local();
    let bytes = std::fs::read(&id).unwrap();
    std::fs::write(&id, evidock::recorder::sim::restamp_clock(&bytes, now)).unwrap();
}

/// Footage files of a volume (under DCIM), with their BLAKE3, keyed by file name.
pub fn volume_footage(volume: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = files_under(&volume.join("DCIM"))
        .into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), b3(&volume.join("DCIM").join(&p))))
        .collect();
    v.sort();
    v
}
