//! Chores are tests too: the packaging files shipped with evidock agree with each other and with
//! the tools that will read them.
//!
//! - The systemd unit passes `systemd-analyze verify` with no output at all (the tool only warns,
//!   with exit status 0, about unknown keys), keeps the settings the daemon relies on, and keeps
//!   its `systemd-analyze security` exposure low; the burn units (R8) verify the same way and
//!   run the burn commands with the folders they need; the archive scrub's units (R11) verify,
//!   score low, and run the scrub weekly at the lowest priority with the folders it needs.
//! - The sysusers and tmpfiles files create the user and the folders the configuration names.
//! - The udev rules know exactly the USB ids of the configuration's `[[usb.models]]` (R1, R2,
//!   R14), one commented line each, sorted, and are well-formed rules.
//! - The CI script runs the README's test command; the install guide's commands name files that
//!   exist.
//!
//! A check that needs an outside tool is ignored, with the reason, where the tool is missing
//! (`build.rs` looks for it); CI installs every one of them, and there a missing tool fails.

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use evidock::config::{Config, ConfigFile};

/// The exposure `systemd-analyze security` may report for the unit (0.0 best, 10.0 worst).
const MAX_EXPOSURE: f64 = 1.5;

/// The test command of the README, run by CI.
const TEST_COMMAND: &str = "cargo test --locked --all-features";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = repo().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The full path of a program found on `PATH`.
fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// The full path of a program the test needs: a failure when it is missing (the test is
/// ignored where `build.rs` did not find it; under CI it must be there).
fn need(program: &str, install: &str) -> PathBuf {
    which(program).unwrap_or_else(|| panic!("{program} is not installed ({install})"))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// What a command printed on its standard output and error.
fn printed(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// What a command printed: its exit status, then its standard output and error, labelled.
fn text(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn shipped_config() -> Config {
    let path = repo().join("config/evidock.toml");
    Config::parse(&read("config/evidock.toml"), &path).unwrap_or_else(|e| panic!("{e}"))
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn shipped_config_spells_out_the_defaults() {
    // The example promises that every value it writes is the built-in default. Recorder models
    // are the exception: the example may list more (udev_ids_match_configured_models).
    let mut shipped = shipped_config();
    shipped.source = None;
    shipped.usb.models.clear();
    let mut defaults = Config::resolve(ConfigFile::default(), None).expect("built-in defaults");
    defaults.usb.models.clear();
    assert_eq!(format!("{shipped:#?}"), format!("{defaults:#?}"), "config/evidock.toml differs from the defaults");
}

// ---------------------------------------------------------------------------------------------
// systemd

/// `(section, key, value)` of every setting of a unit file, in order.
fn unit_settings(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut settings = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with(';')) {
            continue;
        }
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        let line = std::mem::take(&mut pending) + line;
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
        } else if let Some((key, value)) = line.split_once('=') {
            settings.push((section.clone(), key.trim().to_string(), value.trim().to_string()));
        } else {
            panic!("evidock.service: not a setting: {line:?}");
        }
    }
    settings
}

/// Every value of `key` in `[Service]`.
fn service_values<'a>(settings: &'a [(String, String, String)], key: &str) -> Vec<&'a str> {
    settings.iter().filter(|(s, k, _)| s == "Service" && k == key).map(|(_, _, v)| v.as_str()).collect()
}

/// The single value of `key` in `[Service]`.
fn service_value<'a>(settings: &'a [(String, String, String)], key: &str) -> &'a str {
    match service_values(settings, key).as_slice() {
        [one] => one,
        other => panic!("evidock.service: expected exactly one {key}=, found {other:?}"),
    }
}

/// The unit with its `ExecStart=` binary replaced by `binary`, written as `evidock.service` in a
/// fresh temporary folder (systemd-analyze checks that the binary exists).
fn unit_with_binary(binary: &Path) -> (tempfile::TempDir, PathBuf) {
    const SHIPPED: &str = "ExecStart=/usr/local/bin/evidock ";
    let shipped = read("systemd/evidock.service");
    assert_eq!(shipped.matches(SHIPPED).count(), 1, "evidock.service: one `{SHIPPED}` line expected");
    let mut exe = binary.display().to_string().replace('%', "%%");
    if exe.contains(char::is_whitespace) {
        exe = format!("\"{exe}\"");
    }
    let unit = shipped.replace(SHIPPED, &format!("ExecStart={exe} "));
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("evidock.service");
    std::fs::write(&path, unit).expect("write the unit");
    (dir, path)
}

#[test]
#[cfg_attr(not(has_systemd_analyze), ignore = "systemd-analyze is not installed: apt-get install systemd")]
fn systemd_unit_verifies_without_output() {
    let analyze = need("systemd-analyze", "apt-get install systemd");
    let (_dir, unit) = unit_with_binary(Path::new(env!("CARGO_BIN_EXE_evidock")));
    let out = run(Command::new(&analyze).arg("verify").arg(&unit));
    let said = printed(&out);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify evidock.service: {}\n{said}",
        out.status
    );
}

/// The burn units (R8), written with their `ExecStart=` binary replaced by `binary` into a fresh
/// temporary folder (the timer finds its service beside it).
fn burn_units_with_binary(binary: &Path) -> (tempfile::TempDir, Vec<PathBuf>) {
    const SHIPPED: &str = "ExecStart=/usr/local/bin/evidock ";
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut paths = Vec::new();
    for name in ["evidock-burn@.service", "evidock-burn-recheck.service", "evidock-burn-recheck.timer"] {
        let shipped = read(&format!("systemd/{name}"));
        let unit = if name.ends_with(".service") {
            assert_eq!(shipped.matches(SHIPPED).count(), 1, "{name}: one `{SHIPPED}` line expected");
            shipped.replace(SHIPPED, &format!("ExecStart={} ", binary.display().to_string().replace('%', "%%")))
        } else {
            shipped
        };
        let path = dir.path().join(name);
        std::fs::write(&path, unit).expect("write the unit");
        paths.push(path);
    }
    (dir, paths)
}

#[test]
#[cfg_attr(not(has_systemd_analyze), ignore = "systemd-analyze is not installed: apt-get install systemd")]
fn burn_units_verify_without_output() {
    let analyze = need("systemd-analyze", "apt-get install systemd");
    let (_dir, units) = burn_units_with_binary(Path::new(env!("CARGO_BIN_EXE_evidock")));
    // The template itself, and an instance named like a disc label.
    let instance = units[0].with_file_name("evidock-burn@EVIDOCK_J00001_D01_OF_02.service");
    for unit in units.iter().chain([&instance]) {
        let out = run(Command::new(&analyze).arg("verify").arg(unit));
        let said = printed(&out);
        assert!(
            out.status.success() && said.trim().is_empty(),
            "systemd-analyze verify {}: {}\n{said}",
            unit.display(),
            out.status
        );
    }
}

#[test]
fn burn_units_run_the_burn_commands_with_the_folders_they_need() {
    let c = shipped_config();
    let write = unit_settings(&read("systemd/evidock-burn@.service"));
    assert_eq!(
        service_value(&write, "ExecStart"),
        "/usr/local/bin/evidock --config /etc/evidock/evidock.toml burn write %I"
    );
    assert_eq!(service_value(&write, "Restart"), "no", "a spoilt write needs a new blank disc, not a restart");
    assert_eq!(service_value(&write, "User"), "evidock");
    assert!(service_values(&write, "DeviceAllow").contains(&"block-sr rw"), "the burner must be reachable");
    let writable: Vec<PathBuf> =
        service_values(&write, "ReadWritePaths").iter().flat_map(|v| v.split_whitespace()).map(PathBuf::from).collect();
    for dir in [&c.paths.state_dir, &c.burn.staging_dir] {
        assert!(writable.iter().any(|w| dir.starts_with(w)), "{} not in ReadWritePaths= {writable:?}", dir.display());
    }
    let recheck = unit_settings(&read("systemd/evidock-burn-recheck.service"));
    assert_eq!(service_value(&recheck, "Type"), "oneshot");
    assert_eq!(
        service_value(&recheck, "ExecStart"),
        "/usr/local/bin/evidock --config /etc/evidock/evidock.toml burn recheck"
    );
    let timer = unit_settings(&read("systemd/evidock-burn-recheck.timer"));
    assert!(timer.iter().any(|(s, k, v)| s == "Timer" && k == "Persistent" && v == "true"), "{timer:?}");
    assert!(timer.iter().any(|(s, k, _)| s == "Timer" && k == "OnCalendar"), "{timer:?}");
}

/// The archive scrub's units (R11), written with their `ExecStart=` binary replaced by `binary`
/// into a fresh temporary folder (the timer finds its service beside it).
fn scrub_units_with_binary(binary: &Path) -> (tempfile::TempDir, Vec<PathBuf>) {
    const SHIPPED: &str = "ExecStart=/usr/local/bin/evidock ";
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut paths = Vec::new();
    for name in ["evidock-scrub.service", "evidock-scrub.timer"] {
        let shipped = read(&format!("systemd/{name}"));
        let unit = if name.ends_with(".service") {
            assert_eq!(shipped.matches(SHIPPED).count(), 1, "{name}: one `{SHIPPED}` line expected");
            shipped.replace(SHIPPED, &format!("ExecStart={} ", binary.display().to_string().replace('%', "%%")))
        } else {
            shipped
        };
        let path = dir.path().join(name);
        std::fs::write(&path, unit).expect("write the unit");
        paths.push(path);
    }
    (dir, paths)
}

#[test]
#[cfg_attr(not(has_systemd_analyze), ignore = "systemd-analyze is not installed: apt-get install systemd")]
fn scrub_units_verify_without_output() {
    let analyze = need("systemd-analyze", "apt-get install systemd");
    let (_dir, units) = scrub_units_with_binary(Path::new(env!("CARGO_BIN_EXE_evidock")));
    for unit in &units {
        let out = run(Command::new(&analyze).arg("verify").arg(unit));
        let said = printed(&out);
        assert!(
            out.status.success() && said.trim().is_empty(),
            "systemd-analyze verify {}: {}\n{said}",
            unit.display(),
            out.status
        );
    }
}

#[test]
#[cfg_attr(
    not(has_systemd_analyze_offline),
    ignore = "systemd-analyze with --offline (systemd 252 or later) is not installed: apt-get install systemd"
)]
fn scrub_unit_security_exposure_is_low() {
    let analyze = need("systemd-analyze", "apt-get install systemd");
    let (_dir, units) = scrub_units_with_binary(Path::new(env!("CARGO_BIN_EXE_evidock")));
    let out = run(Command::new(&analyze).args(["security", "--offline=true", "--no-pager"]).arg(&units[0]));
    let said = printed(&out);
    assert!(out.status.success(), "systemd-analyze security: {}\n{said}", out.status);
    let marker = "Overall exposure level for evidock-scrub.service:";
    let score: f64 = said
        .lines()
        .find_map(|l| l.split_once(marker))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{said}"));
    println!("systemd-analyze security: exposure {score} for evidock-scrub.service");
    assert!(score <= MAX_EXPOSURE, "exposure {score} above {MAX_EXPOSURE}: a hardening line was lost\n{said}");
}

#[test]
fn scrub_units_run_the_scrub_weekly_behind_ingest_with_the_folders_it_needs() {
    let c = shipped_config();
    let s = unit_settings(&read("systemd/evidock-scrub.service"));
    assert_eq!(service_value(&s, "Type"), "oneshot");
    assert_eq!(
        service_value(&s, "ExecStart"),
        "/usr/local/bin/evidock --config /etc/evidock/evidock.toml archive scrub"
    );
    assert_eq!(service_value(&s, "User"), "evidock");
    assert_eq!(service_value(&s, "UMask"), "0077");
    assert_eq!(service_value(&s, "KillSignal"), "SIGTERM", "a stop keeps the pass's place");
    // Ingest keeps its speed: the scrub is paced, and the kernel serves it last.
    assert_eq!(service_value(&s, "IOSchedulingClass"), "idle");
    assert_eq!(service_value(&s, "CPUSchedulingPolicy"), "idle");
    assert_eq!(service_value(&s, "Nice"), "19");
    assert!(c.scrub.rate_bytes_per_s > 0, "the shipped configuration paces the scrub");
    let writable: Vec<PathBuf> =
        service_values(&s, "ReadWritePaths").iter().flat_map(|v| v.split_whitespace()).map(PathBuf::from).collect();
    assert!(writable.iter().any(|w| c.paths.state_dir.starts_with(w)), "state_dir not writable: {writable:?}");
    assert!(!writable.iter().any(|w| c.paths.archive_root.starts_with(w)), "the scrub never writes the archive");
    let timer = unit_settings(&read("systemd/evidock-scrub.timer"));
    assert!(timer.iter().any(|(s, k, v)| s == "Timer" && k == "Persistent" && v == "true"), "{timer:?}");
    assert!(timer.iter().any(|(s, k, _)| s == "Timer" && k == "OnCalendar"), "{timer:?}");
    let install = read("docs/INSTALL.md");
    for f in ["systemd/evidock-scrub.service", "systemd/evidock-scrub.timer", "enable --now evidock-scrub.timer"] {
        assert!(install.contains(f), "docs/INSTALL.md does not install {f}");
    }
}

#[test]
#[cfg_attr(
    not(has_systemd_analyze_offline),
    ignore = "systemd-analyze with --offline (systemd 252 or later) is not installed: apt-get install systemd"
)]
fn systemd_unit_security_exposure_is_low() {
    let analyze = need("systemd-analyze", "apt-get install systemd");
    let (_dir, unit) = unit_with_binary(Path::new(env!("CARGO_BIN_EXE_evidock")));
    let out = run(Command::new(&analyze).args(["security", "--offline=true", "--no-pager"]).arg(&unit));
    let said = printed(&out);
    assert!(out.status.success(), "systemd-analyze security: {}\n{said}", out.status);
    let marker = "Overall exposure level for evidock.service:";
    let score: f64 = said
        .lines()
        .find_map(|l| l.split_once(marker))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{said}"));
    println!("systemd-analyze security: exposure {score} for evidock.service");
    assert!(score <= MAX_EXPOSURE, "exposure {score} above {MAX_EXPOSURE}: a hardening line was lost\n{said}");
}

#[test]
fn systemd_unit_keeps_what_the_daemon_relies_on() {
    let s = unit_settings(&read("systemd/evidock.service"));
    assert_eq!(service_value(&s, "Type"), "notify");
    assert_eq!(service_value(&s, "NotifyAccess"), "main");
    assert_eq!(service_value(&s, "ExecStart"), "/usr/local/bin/evidock --config /etc/evidock/evidock.toml daemon");
    let watchdog = service_value(&s, "WatchdogSec");
    let seconds: u64 = watchdog.trim_end_matches('s').parse().unwrap_or(0);
    assert!(seconds > 0, "WatchdogSec={watchdog}: the daemon's watchdog must be on");
    assert!(["on-failure", "on-watchdog", "always"].contains(&service_value(&s, "Restart")));
    let stop = service_value(&s, "TimeoutStopSec");
    assert!(
        stop.trim_end_matches('s').parse::<u64>().is_ok_and(|t| t >= 60),
        "TimeoutStopSec={stop}: copies need time"
    );
    assert_eq!(service_value(&s, "User"), "evidock");
    assert_eq!(service_value(&s, "Group"), "evidock");
    assert_eq!(service_value(&s, "UMask"), "0077");
    assert_eq!(service_value(&s, "ProtectSystem"), "strict");
    assert_eq!(service_value(&s, "NoNewPrivileges"), "yes");
    assert_eq!(service_value(&s, "PrivateTmp"), "yes");
    assert_eq!(service_value(&s, "RuntimeDirectoryPreserve"), "yes");
    assert_eq!(service_value(&s, "DevicePolicy"), "closed");
    assert!(service_values(&s, "DeviceAllow").contains(&"char-usb_device rw"), "USB device nodes must stay reachable");
    for value in service_values(&s, "PrivateDevices") {
        assert!(!["yes", "true", "1", "on"].contains(&value), "PrivateDevices={value} hides the recorders' USB nodes");
    }
    let caps = service_value(&s, "CapabilityBoundingSet");
    assert!(caps.split_whitespace().all(|c| c == "CAP_LINUX_IMMUTABLE"), "CapabilityBoundingSet={caps}: too wide");
    let families = service_value(&s, "RestrictAddressFamilies");
    assert!(!families.contains("AF_INET"), "RestrictAddressFamilies={families}: no IP for the daemon");
    assert!(families.contains("AF_NETLINK"), "RestrictAddressFamilies={families}: USB hotplug needs AF_NETLINK");

    // The folders the shipped configuration names are writable inside the sandbox.
    let c = shipped_config();
    let writable: Vec<PathBuf> = service_values(&s, "ReadWritePaths")
        .iter()
        .flat_map(|v| v.split_whitespace())
        .map(|p| PathBuf::from(p.trim_start_matches(['-', '+'])))
        .collect();
    for dir in [&c.paths.dock_root, &c.paths.archive_root] {
        assert!(
            writable.iter().any(|w| dir.starts_with(w)),
            "{} is not in ReadWritePaths= {writable:?}",
            dir.display()
        );
    }
    let state = Path::new("/var/lib").join(service_value(&s, "StateDirectory"));
    assert!(
        c.paths.state_dir.starts_with(&state),
        "state_dir {} is outside {}",
        c.paths.state_dir.display(),
        state.display()
    );
    let runtime = Path::new("/run").join(service_value(&s, "RuntimeDirectory"));
    assert!(
        c.paths.dock_root.starts_with(&runtime),
        "dock_root {} is outside {}",
        c.paths.dock_root.display(),
        runtime.display()
    );
}

/// `(type, path, mode, user, group)` of every line of the tmpfiles file.
fn tmpfiles_lines() -> Vec<(String, PathBuf, String, String, String)> {
    read("systemd/evidock.tmpfiles.conf")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() >= 5 && ["d", "f"].contains(&f[0]), "evidock.tmpfiles.conf: unexpected line {l:?}");
            (f[0].to_string(), PathBuf::from(f[1]), f[2].to_string(), f[3].to_string(), f[4].to_string())
        })
        .collect()
}

/// `(path, mode, user, group)` of every `d` line of the tmpfiles file.
fn tmpfiles_dirs() -> Vec<(PathBuf, String, String, String)> {
    tmpfiles_lines().into_iter().filter(|l| l.0 == "d").map(|(_, p, m, u, g)| (p, m, u, g)).collect()
}

#[test]
fn recorder_passwords_reach_the_service_alone() {
    // The credentials file exists (so LoadCredential= never fails the start), root's alone,
    // and the service gets it under the name the daemon reads.
    let lines = tmpfiles_lines();
    let file = lines.iter().find(|l| l.0 == "f").expect("a tmpfiles line creating the credentials file");
    assert_eq!(file.1, Path::new(evidock::recorder::adapter::credentials::DEFAULT_PATH));
    assert_eq!((file.2.as_str(), file.3.as_str(), file.4.as_str()), ("0600", "root", "root"));
    let s = unit_settings(&read("systemd/evidock.service"));
    let wanted = format!(
        "{}:{}",
        evidock::recorder::adapter::credentials::CREDENTIAL_NAME,
        evidock::recorder::adapter::credentials::DEFAULT_PATH
    );
    assert!(service_values(&s, "LoadCredential").contains(&wanted.as_str()), "LoadCredential={wanted} missing");
}

#[test]
fn sysusers_and_tmpfiles_cover_the_configured_folders() {
    let sysusers = read("systemd/evidock.sysusers.conf");
    assert!(
        sysusers.lines().any(|l| l.split_whitespace().take(2).eq(["u", "evidock"])),
        "evidock.sysusers.conf must declare user evidock"
    );
    let dirs = tmpfiles_dirs();
    let c = shipped_config();
    for (dir, mode) in [
        (&c.paths.dock_root, "0750"),
        (&c.paths.archive_root, "0700"),
        (&c.paths.state_dir, "0700"),
        (&c.burn.staging_dir, "0700"),
    ] {
        let line = dirs.iter().find(|(p, ..)| p == dir);
        let Some((_, m, u, g)) = line else { panic!("evidock.tmpfiles.conf does not create {}", dir.display()) };
        assert_eq!((m.as_str(), u.as_str(), g.as_str()), (mode, "evidock", "evidock"), "{}", dir.display());
    }
}

#[test]
#[cfg_attr(
    not(all(has_systemd_sysusers, is_root)),
    ignore = "needs systemd-sysusers and systemd-tmpfiles (apt-get install systemd) and root, to give folders to evidock"
)]
fn sysusers_and_tmpfiles_apply_to_an_empty_root() {
    let sysusers = need("systemd-sysusers", "apt-get install systemd");
    let tmpfiles = need("systemd-tmpfiles", "apt-get install systemd");
    assert!(is_root(), "systemd-tmpfiles needs root to give folders to evidock");
    let root = tempfile::tempdir().expect("temporary folder");
    std::fs::create_dir(root.path().join("etc")).expect("etc");
    let out =
        run(Command::new(sysusers).arg("--root").arg(root.path()).arg(repo().join("systemd/evidock.sysusers.conf")));
    assert!(out.status.success(), "systemd-sysusers: {}\n{}", out.status, text(&out));
    let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).expect("passwd written");
    let uid: u32 = passwd
        .lines()
        .find_map(|l| l.strip_prefix("evidock:x:"))
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no evidock user in:\n{passwd}"));
    let out = run(Command::new(tmpfiles)
        .arg("--root")
        .arg(root.path())
        .arg("--create")
        .arg(repo().join("systemd/evidock.tmpfiles.conf")));
    assert!(out.status.success(), "systemd-tmpfiles: {}\n{}", out.status, text(&out));
    for (dir, mode, ..) in tmpfiles_dirs() {
        let inside = root.path().join(dir.strip_prefix("/").expect("absolute"));
        let meta = std::fs::metadata(&inside).unwrap_or_else(|e| panic!("{}: {e}", inside.display()));
        assert!(meta.is_dir(), "{}", inside.display());
        assert_eq!(format!("{:04o}", meta.mode() & 0o7777), mode, "{}", dir.display());
        assert_eq!(meta.uid(), uid, "{} owner", dir.display());
    }
}

// ---------------------------------------------------------------------------------------------
// udev

/// One rule line: its 1-based line number and its `key op "value"` triples.
struct Rule {
    line: usize,
    keys: Vec<(String, String, String)>,
}

impl Rule {
    fn value(&self, key: &str, op: &str) -> Option<&str> {
        self.keys.iter().find(|(k, o, _)| k == key && o == op).map(|(_, _, v)| v.as_str())
    }
}

/// Parses udev rules text into rules, refusing anything that is not `KEY{attr} OP "value"`
/// separated by commas.
fn udev_rules(text: &str) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    let mut joined = String::new();
    let mut first = 0;
    for (n, raw) in text.lines().enumerate() {
        if joined.is_empty() {
            first = n + 1;
            if raw.trim().is_empty() || raw.trim_start().starts_with('#') {
                continue;
            }
        }
        if let Some(cont) = raw.strip_suffix('\\') {
            joined.push_str(cont);
            continue;
        }
        joined.push_str(raw);
        let line = std::mem::take(&mut joined);
        rules.push(Rule { line: first, keys: udev_line(&line).map_err(|e| format!("line {first}: {e}: {line}"))? });
    }
    if !joined.is_empty() {
        return Err(format!("line {first}: continuation at end of file"));
    }
    Ok(rules)
}

fn udev_line(line: &str) -> Result<Vec<(String, String, String)>, String> {
    let mut keys = Vec::new();
    let mut rest = line.trim();
    loop {
        let name_len = rest.find(|c: char| !(c.is_ascii_uppercase() || c == '_')).unwrap_or(rest.len());
        if name_len == 0 {
            return Err(format!("expected a key at {rest:?}"));
        }
        let mut key = rest[..name_len].to_string();
        rest = &rest[name_len..];
        if let Some(attr) = rest.strip_prefix('{') {
            let close = attr.find('}').ok_or("unclosed {")?;
            key = format!("{key}{{{}}}", &attr[..close]);
            rest = &attr[close + 1..];
        }
        rest = rest.trim_start();
        let op =
            ["==", "!=", "+=", "-=", ":=", "="].into_iter().find(|op| rest.starts_with(op)).ok_or("no operator")?;
        rest = rest[op.len()..].trim_start();
        let body = rest.strip_prefix('"').ok_or("value not in double quotes")?;
        let mut end = None;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let end = end.ok_or("unterminated value")?;
        keys.push((key, op.to_string(), body[..end].to_string()));
        rest = body[end + 1..].trim_start();
        if rest.is_empty() {
            return Ok(keys);
        }
        rest = rest.strip_prefix(',').ok_or("expected a comma")?.trim_start();
    }
}

/// Checks the keys and operators udev knows, and that GOTO and LABEL pair up.
fn lint_udev(rules: &[Rule]) -> Result<(), String> {
    const MATCH_ONLY: &[&str] = &[
        "ACTION",
        "DEVPATH",
        "KERNEL",
        "KERNELS",
        "SUBSYSTEM",
        "SUBSYSTEMS",
        "DRIVER",
        "DRIVERS",
        "ATTRS",
        "TAGS",
        "TEST",
        "PROGRAM",
        "RESULT",
        "CONST",
    ];
    const ASSIGN_ONLY: &[&str] = &["GOTO", "LABEL", "GROUP", "OWNER", "MODE", "RUN", "IMPORT", "OPTIONS", "SECLABEL"];
    const BOTH: &[&str] = &["ENV", "ATTR", "TAG", "SYMLINK", "NAME", "SYSCTL"];
    let mut labels = BTreeSet::new();
    let mut gotos = Vec::new();
    for rule in rules {
        for (key, op, value) in &rule.keys {
            let base = key.split('{').next().unwrap_or(key);
            let matching = op == "==" || op == "!=";
            let known = if MATCH_ONLY.contains(&base) {
                matching
            } else if ASSIGN_ONLY.contains(&base) {
                !matching
            } else {
                BOTH.contains(&base)
            };
            if !known {
                return Err(format!("line {}: {key}{op}\"{value}\" is not a udev key and operator", rule.line));
            }
            if ["ENV", "ATTR", "ATTRS", "SYSCTL", "CONST"].contains(&base) && !key.contains('{') {
                return Err(format!("line {}: {key} needs {{name}}", rule.line));
            }
            if base == "MODE" && !(value.len() == 4 && value.chars().all(|c| ('0'..='7').contains(&c))) {
                return Err(format!("line {}: MODE=\"{value}\" is not four octal digits", rule.line));
            }
            if value.matches('{').count() != value.matches('}').count() {
                return Err(format!("line {}: unbalanced braces in \"{value}\"", rule.line));
            }
            match base {
                "LABEL" if op == "=" && labels.insert(value.clone()) => {}
                "LABEL" => return Err(format!("line {}: LABEL \"{value}\" repeated or not set with =", rule.line)),
                "GOTO" if op == "=" => gotos.push((rule.line, value.clone())),
                "GOTO" => return Err(format!("line {}: GOTO needs =", rule.line)),
                _ => {}
            }
        }
    }
    for (line, target) in &gotos {
        let label_line = rules.iter().find(|r| r.value("LABEL", "=") == Some(target)).map(|r| r.line);
        if label_line.is_none_or(|l| l <= *line) {
            return Err(format!("line {line}: GOTO=\"{target}\" has no LABEL after it"));
        }
    }
    if let Some(unused) = labels.iter().find(|l| !gotos.iter().any(|(_, t)| t == *l)) {
        return Err(format!("LABEL=\"{unused}\" is never a GOTO target"));
    }
    Ok(())
}

/// The `(vendor, product)` ids of the recorder list, checking the house rules: one line per id,
/// a comment line `# vvvv:pppp name` right above it, sorted, lower-case four-digit hex.
fn udev_ids(text: &str) -> Result<Vec<(u16, u16)>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut ids = Vec::new();
    for rule in udev_rules(text)? {
        let vendor = rule.value("ENV{ID_VENDOR_ID}", "==");
        let product = rule.value("ENV{ID_MODEL_ID}", "==");
        let (vendor, product) = match (vendor, product) {
            (None, None) => continue,
            (Some(v), Some(p)) => (v, p),
            _ => return Err(format!("line {}: vendor and product must be matched together", rule.line)),
        };
        let hex = |s: &str| {
            (s.len() == 4 && s.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
                .then(|| u16::from_str_radix(s, 16).ok())
                .flatten()
                .ok_or_else(|| format!("line {}: {s:?} is not four lower-case hex digits", rule.line))
        };
        let id = (hex(vendor)?, hex(product)?);
        let comment = rule.line.checked_sub(2).and_then(|i| lines.get(i)).copied().unwrap_or("");
        if !comment.starts_with(&format!("# {vendor}:{product} ")) {
            return Err(format!("line {}: the line above must be `# {vendor}:{product} <model name>`", rule.line));
        }
        if ids.last().is_some_and(|last| *last >= id) {
            return Err(format!("line {}: {vendor}:{product} is out of order or repeated", rule.line));
        }
        ids.push(id);
    }
    Ok(ids)
}

#[test]
fn udev_rules_are_well_formed() {
    let rules = udev_rules(&read("udev/70-evidock.rules")).unwrap_or_else(|e| panic!("70-evidock.rules: {e}"));
    lint_udev(&rules).unwrap_or_else(|e| panic!("70-evidock.rules: {e}"));
    // The linter itself catches what it claims to.
    for (bad, why) in [
        ("SUBSYSTEM=\"usb\", GROUP=\"evidock\"\n", "assignment to a match key"),
        ("SUBSYSTEM==\"usb\" GROUP=\"evidock\"\n", "missing comma"),
        ("ENV{X}==\"1\", GOTO=\"nowhere\"\n", "GOTO without LABEL"),
        ("SUBSYSTEM==\"usb\", MODE=\"660\"\n", "short MODE"),
        ("SUBSYTEM==\"usb\", MODE=\"0660\"\n", "misspelt key"),
        ("LABEL=\"unused\"\n", "LABEL without GOTO"),
    ] {
        let verdict = udev_rules(bad).and_then(|r| lint_udev(&r));
        assert!(verdict.is_err(), "the udev linter missed a {why}: {bad}");
    }
}

#[test]
fn udev_rules_touch_only_known_recorders() {
    let text = read("udev/70-evidock.rules");
    let rules = udev_rules(&text).unwrap_or_else(|e| panic!("70-evidock.rules: {e}"));
    let assigns = |r: &Rule, key: &str| r.keys.iter().any(|(k, o, _)| k == key && o != "==" && o != "!=");
    // Everything that changes a device comes after the known-model gate.
    let gate = rules
        .iter()
        .position(|r| r.value("ENV{.evidock_known}", "!=") == Some("1") && r.value("GOTO", "=").is_some())
        .expect("a line that skips devices not in the recorder list");
    for rule in &rules[..gate] {
        for key in ["GROUP", "MODE", "RUN", "TAG", "OWNER"] {
            assert!(!assigns(rule, key), "line {}: {key} set before the known-model gate", rule.line);
        }
    }
    let node = rules.iter().find(|r| assigns(r, "GROUP")).expect("a GROUP= line");
    assert_eq!(node.value("GROUP", "="), Some("evidock"));
    assert_eq!(node.value("MODE", "="), Some("0660"));
    assert_eq!(node.value("ENV{EVIDOCK_RECORDER}", "="), Some("1"));
    assert_eq!(node.value("SUBSYSTEM", "=="), Some("usb"));
    let runs: Vec<&str> = rules.iter().filter_map(|r| r.value("RUN", "+=")).collect();
    assert!(runs
        .iter()
        .any(|r| r.starts_with("/usr/bin/systemd-mount --no-block") && r.contains("/run/evidock/dock/")));
    assert!(runs.iter().any(|r| r.starts_with("/usr/bin/systemd-mount --umount")));
    assert!(
        runs.iter().all(|r| r.contains("nosuid,nodev,noexec") || r.contains("--umount")),
        "recorder volumes are mounted nosuid,nodev,noexec: {runs:?}"
    );
    // The mount point lies in the shipped configuration's dock root.
    let dock = shipped_config().paths.dock_root;
    assert!(runs.iter().all(|r| r.contains(&format!(" {}/", dock.display()))), "{runs:?} outside {}", dock.display());
}

#[test]
fn udev_ids_match_configured_models() {
    let rules = udev_ids(&read("udev/70-evidock.rules")).unwrap_or_else(|e| panic!("70-evidock.rules: {e}"));
    let config = shipped_config();
    let models: BTreeSet<(u16, u16)> = config
        .usb
        .models
        .iter()
        .flat_map(|m| std::iter::once((m.vendor_id, m.product_id)).chain(m.profile.storage_id))
        .collect();
    let udev: BTreeSet<(u16, u16)> = rules.iter().copied().collect();
    assert!(udev.contains(&(0x46f4, 0x0001)), "the reference recorder 46f4:0001 must be known");
    let name = |id: &(u16, u16)| {
        config.usb.models.iter().find(|m| (m.vendor_id, m.product_id) == *id).map_or("", |m| m.name.as_str())
    };
    let only_config: Vec<String> =
        models.difference(&udev).map(|id| format!("{:04x}:{:04x} {}", id.0, id.1, name(id))).collect();
    let only_udev: Vec<String> = udev.difference(&models).map(|id| format!("{:04x}:{:04x}", id.0, id.1)).collect();
    assert!(
        only_config.is_empty() && only_udev.is_empty(),
        "in config/evidock.toml only: {only_config:?}; in udev/70-evidock.rules only: {only_udev:?}"
    );
}

#[test]
fn shipped_udev_rules_are_the_ones_generated_from_the_shipped_model_table() {
    // One source of truth: the model table. `evidock udev-rules` prints the rules for a
    // configuration; the shipped file is its output for the shipped configuration.
    let config = shipped_config();
    let generated = evidock::dock::udev::rules(&config.usb.models, &config.paths.dock_root);
    let shipped = read("udev/70-evidock.rules");
    assert!(
        shipped == generated,
        "udev/70-evidock.rules is not generated from config/evidock.toml: run\n  \
         cargo run -- --config config/evidock.toml udev-rules > udev/70-evidock.rules"
    );
    let out = run(Command::new(env!("CARGO_BIN_EXE_evidock"))
        .arg("--config")
        .arg(repo().join("config/evidock.toml"))
        .arg("udev-rules"));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), shipped, "the command prints the shipped rules");
    // A model added to the table is in the rules, with its name.
    let mut more = config.clone();
    more.usb.models.push(evidock::config::UsbModel {
        name: "某品牌 执法记录仪".into(),
        vendor_id: 0x1234,
        product_id: 0x5678,
        profile: evidock::recorder::adapter::ModelProfile::contract(),
    });
    let text = evidock::dock::udev::rules(&more.usb.models, &more.paths.dock_root);
    assert!(text
        .contains("# 1234:5678 某品牌 执法记录仪 (contract)\nENV{ID_VENDOR_ID}==\"1234\", ENV{ID_MODEL_ID}==\"5678\""));
    assert_eq!(udev_ids(&text).map(|ids| ids.len()), Ok(config.usb.models.len() + 1));
}

#[test]
fn udev_id_list_rules_are_enforced() {
    let good = "# 46f4:0001 a\nENV{ID_VENDOR_ID}==\"46f4\", ENV{ID_MODEL_ID}==\"0001\", ENV{.m}=\"1\"\n";
    assert_eq!(udev_ids(good), Ok(vec![(0x46f4, 0x0001)]));
    let two = |a: &str, b: &str| {
        format!(
            "# {a} x\nENV{{ID_VENDOR_ID}}==\"{}\", ENV{{ID_MODEL_ID}}==\"{}\"\n# {b} y\nENV{{ID_VENDOR_ID}}==\"{}\", ENV{{ID_MODEL_ID}}==\"{}\"\n",
            &a[..4],
            &a[5..],
            &b[..4],
            &b[5..]
        )
    };
    assert!(udev_ids(&two("46f4:0001", "1234:0001")).is_err(), "unsorted ids pass");
    assert!(udev_ids(&two("1234:0001", "1234:0001")).is_err(), "repeated ids pass");
    assert!(udev_ids(&two("1234:0001", "46f4:0001")).is_ok());
    assert!(udev_ids("ENV{ID_VENDOR_ID}==\"46f4\", ENV{ID_MODEL_ID}==\"0001\"\n").is_err(), "uncommented id passes");
    assert!(
        udev_ids("# 46F4:0001 a\nENV{ID_VENDOR_ID}==\"46F4\", ENV{ID_MODEL_ID}==\"0001\"\n").is_err(),
        "upper case"
    );
    assert!(udev_ids("# 46f4: a\nENV{ID_VENDOR_ID}==\"46f4\"\n").is_err(), "vendor without product passes");
}

#[test]
#[cfg_attr(
    not(has_udevadm_verify),
    ignore = "udevadm with `verify` (systemd 254 or later) is not installed: apt-get install udev; \
              udev_rules_are_well_formed checks the syntax meanwhile"
)]
fn udev_rules_pass_udevadm_verify() {
    let udevadm = need("udevadm", "apt-get install udev");
    let out =
        run(Command::new(&udevadm).args(["verify", "--resolve-names=never"]).arg(repo().join("udev/70-evidock.rules")));
    assert!(out.status.success(), "udevadm verify 70-evidock.rules: {}\n{}", out.status, text(&out));
}

// ---------------------------------------------------------------------------------------------
// CI and install guide

#[test]
fn ci_runs_the_readme_test_command() {
    let ci = read(".ci/run");
    assert!(ci.starts_with("#!/usr/bin/env bash\n") || ci.starts_with("#!/bin/bash\n"), ".ci/run must be bash");
    assert!(ci.lines().any(|l| l.trim() == "set -euo pipefail"), ".ci/run must `set -euo pipefail`");
    let runs = ci.lines().filter(|l| l.trim() == TEST_COMMAND).count();
    assert_eq!(runs, 1, ".ci/run must run `{TEST_COMMAND}` on a line of its own, once");
    let mode = std::fs::metadata(repo().join(".ci/run")).expect(".ci/run").permissions().mode();
    assert!(mode & 0o111 != 0, ".ci/run must be executable (mode {mode:o})");
    match std::fs::read_to_string(repo().join("README.md")) {
        Ok(readme) => assert!(readme.contains(TEST_COMMAND), "README.md must give the test command `{TEST_COMMAND}`"),
        Err(e) => println!("README.md not checked ({e}): only .ci/run was checked for `{TEST_COMMAND}`"),
    }
}

/// The shell scripts of the repository: .ci/run and the virtual docking station's image
/// builder (tests/vm/build-image).
const SCRIPTS: [&str; 3] = [".ci/run", "tests/vm/build-image", "docs/web/screenshots"];

#[test]
fn ci_scripts_pass_bash() {
    for name in SCRIPTS {
        let out = run(Command::new("bash").arg("-n").arg(repo().join(name)));
        assert!(out.status.success(), "bash -n {name}: {}", text(&out));
    }
}

#[test]
#[cfg_attr(not(has_shellcheck), ignore = "shellcheck is not installed: apt-get install shellcheck")]
fn ci_scripts_pass_shellcheck() {
    let shellcheck = need("shellcheck", "apt-get install shellcheck");
    for name in SCRIPTS {
        let out = run(Command::new(&shellcheck).arg(repo().join(name)));
        assert!(out.status.success(), "shellcheck {name}:\n{}", text(&out));
    }
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed: apt-get install python3")]
fn the_virtual_docking_station_driver_parses() {
    // tests/vm/run is Python (QMP and the guest agent speak JSON); CI runs it after the tests.
    let python = need("python3", "apt-get install python3");
    let out = run(Command::new(python)
        .args(["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])"])
        .arg(repo().join("tests/vm/run")));
    assert!(out.status.success(), "tests/vm/run does not parse:\n{}", text(&out));
    let mode = std::fs::metadata(repo().join("tests/vm/run")).expect("tests/vm/run").permissions().mode();
    assert!(mode & 0o111 != 0, "tests/vm/run must be executable (mode {mode:o})");
}

/// Every list of scenario numbers in `text` ("scenarios 1, 3 and 4", any case), with the text
/// around it (`around` characters each side, whitespace collapsed).
fn scenario_lists(text: &str, around: usize) -> Vec<(Vec<u32>, String)> {
    let flat: Vec<char> = text.split_whitespace().collect::<Vec<_>>().join(" ").chars().collect();
    let lower: String = flat.iter().collect::<String>().to_lowercase();
    let lower: Vec<char> = lower.chars().collect();
    let key: Vec<char> = "scenarios ".chars().collect();
    let mut found = Vec::new();
    for start in 0..lower.len().saturating_sub(key.len()) {
        if lower[start..start + key.len()] != key[..] {
            continue;
        }
        let mut i = start + key.len();
        let mut numbers = Vec::new();
        loop {
            let digits: String = flat[i..].iter().take_while(|c| c.is_ascii_digit()).collect();
            let Ok(n) = digits.parse::<u32>() else { break };
            numbers.push(n);
            i += digits.len();
            let rest: String = flat[i..].iter().take(5).collect();
            if rest.starts_with(", ") && flat.get(i + 2).is_some_and(char::is_ascii_digit) {
                i += 2;
            } else if rest.starts_with(" and ") && flat.get(i + 5).is_some_and(char::is_ascii_digit) {
                i += 5;
            } else {
                break;
            }
        }
        if !numbers.is_empty() {
            let context: String = flat[start.saturating_sub(around)..(i + around).min(flat.len())].iter().collect();
            found.push((numbers, context));
        }
    }
    found
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed: apt-get install python3")]
fn the_docs_name_the_virtual_station_scenarios_the_runner_runs() {
    // The runner says which scenarios CI runs and how many there are (`tests/vm/run --list`).
    let python = need("python3", "apt-get install python3");
    let out = run(Command::new(python).arg(repo().join("tests/vm/run")).arg("--list"));
    assert!(out.status.success(), "tests/vm/run --list: {}", text(&out));
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| -> String {
        listed
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no `{name}` line in tests/vm/run --list:\n{listed}"))
            .to_string()
    };
    let ci: Vec<u32> = scenario_lists(&field("ci: "), 0).into_iter().next().expect("the CI set").0;
    let all = field("all: ");
    let all_word = all.split_whitespace().next().expect("a count of scenarios");
    assert!(listed.lines().any(|l| l.starts_with(&format!("{}. ", ci[ci.len() - 1]))), "{listed}");
    let numbers = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"];

    for name in ["README.md", "docs/RELIABILITY.md", ".ci/run"] {
        let doc = read(name);
        // A list of scenarios said to be what CI runs is the runner's CI set (in .ci/run, every
        // list is).
        for (list, context) in scenario_lists(&doc, 60) {
            if name == ".ci/run" || context.contains("CI") {
                assert_eq!(list, ci, "{name}: \"{context}\" does not name the CI set of tests/vm/run --list");
            }
        }
        // "all six": the count of every scenario.
        let flat = doc.split_whitespace().collect::<Vec<_>>().join(" ");
        for word in numbers {
            let said = format!("all {word} ");
            if flat.contains(&said) || flat.contains(&format!("all {word}.")) {
                assert_eq!(word, all_word, "{name} says \"all {word}\"; tests/vm/run --list: {all}");
            }
        }
        assert!(flat.contains(&format!("all {all_word}")), "{name} does not say how many scenarios there are ({all})");
    }
}

#[test]
#[cfg_attr(not(has_cc), ignore = "no C compiler: apt-get install gcc")]
fn the_virtual_camera_and_the_stand_in_sdk_compile() {
    // tests/vm/run builds tests/vm/amba-gadget.c (statically) for the virtual station, and the
    // SDK tests build tests/sdk/zfy_standin.c: both must compile cleanly where the tests run.
    let cc = need("cc", "apt-get install gcc");
    for file in ["tests/vm/amba-gadget.c", "tests/sdk/zfy_standin.c"] {
        let out = run(Command::new(&cc).args(["-fsyntax-only", "-Wall", "-Wextra", "-Werror"]).arg(repo().join(file)));
        assert!(out.status.success(), "cc {file}:\n{}", text(&out));
    }
}

/// The contents of the ```sh blocks of a Markdown text.
fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        let fence = line.trim();
        if let Some(block) = current.as_mut() {
            if fence == "```" {
                blocks.extend(current.take());
            } else {
                block.push_str(line);
                block.push('\n');
            }
        } else if fence == "```sh" {
            current = Some(String::new());
        }
    }
    assert!(current.is_none(), "unterminated ```sh block");
    blocks
}

#[test]
fn install_guide_commands_are_sound() {
    let guide = read("docs/INSTALL.md");
    let blocks = sh_blocks(&guide);
    assert!(blocks.len() >= 5, "docs/INSTALL.md: expected the install steps as ```sh blocks");
    let all = blocks.concat();
    for needed in [
        "cargo build --release --locked",
        "systemctl daemon-reload",
        "systemctl enable --now evidock",
        "udevadm control --reload",
    ] {
        assert!(all.contains(needed), "docs/INSTALL.md: no `{needed}` in its commands");
    }
    // Every file of the repository that a command names exists.
    for word in all.split_whitespace() {
        if ["systemd/", "udev/", "config/"].iter().any(|d| word.starts_with(d)) {
            assert!(repo().join(word).is_file(), "docs/INSTALL.md names {word}, which does not exist");
        }
    }
    if which("bash").is_some() {
        for block in &blocks {
            let out = run(Command::new("bash").args(["-n", "-c", block]));
            assert!(out.status.success(), "docs/INSTALL.md: bash -n refuses\n{block}\n{}", text(&out));
        }
    }
}
