//! Probes the machine the tests will run on for the outside tools some of them call, and tells
//! the compiler what it found as `cfg` flags (`has_xorriso`, `is_root`, ...). A test that needs
//! a missing tool is then marked ignored, with the reason and what to install, so the test
//! runner counts it as ignored, never as passed.
//!
//! Under CI (`CI` set) every flag of a tool or privilege is set whatever is found: CI runs as
//! root and installs every tool, and a test whose tool is missing there fails instead of being
//! ignored. Flags of a tool's version (`udevadm verify` came in systemd 254; CI's Debian 12 has
//! 252) are what the probe finds, under CI too.
//!
//! The probes run again when `PATH` or `CI` changes or a folder on `PATH` does (a tool installed).
//! Ceph's packages (the central store's end-to-end tests, tests/it/central.rs, run a real
//! one-node cluster) set `evidock_no_ceph` when missing; `EVIDOCK_NO_CEPH=1` behaves as if they
//! were, to see the skip on a machine that has them. Under CI it is never set.
//!
//! The library and the binary use none of these flags.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every flag this script may set, for `rustc-check-cfg`.
const FLAGS: [&str; 14] = [
    "is_root",
    "has_loop_devices",
    "has_ext4_tools",
    "has_exfat_tools",
    "has_xorriso",
    "has_bagit",
    "has_systemd_analyze",
    "has_systemd_analyze_offline",
    "has_systemd_sysusers",
    "has_udevadm_verify",
    "has_shellcheck",
    "has_python3",
    "has_cc",
    "has_chromium",
];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-env-changed=CI");
    let path_dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    for dir in path_dirs.iter().filter(|d| d.is_dir()) {
        println!("cargo::rerun-if-changed={}", dir.display());
    }
    for flag in FLAGS {
        println!("cargo::rustc-check-cfg=cfg({flag})");
    }
    let ci = std::env::var_os("CI").is_some();
    let on_path = |program: &str| path_dirs.iter().any(|d| d.join(program).is_file());
    let root = effective_uid() == Some(0);
    // (flag, found, whether CI sets it regardless)
    let found = [
        ("is_root", root, true),
        ("has_loop_devices", root && on_path("losetup") && Path::new("/dev/loop-control").exists(), true),
        ("has_ext4_tools", ["mkfs.ext4", "e2fsck", "resize2fs"].iter().all(|t| on_path(t)), true),
        ("has_exfat_tools", ["mkfs.exfat", "fsck.exfat", "mount.exfat-fuse"].iter().all(|t| on_path(t)), true),
        ("has_xorriso", on_path("xorriso"), true),
        ("has_bagit", on_path("python3") && runs("python3", &["-c", "import bagit"]), true),
        ("has_systemd_analyze", on_path("systemd-analyze"), true),
        // `systemd-analyze security --offline` came in systemd 252.
        ("has_systemd_analyze_offline", version("systemd-analyze").is_some_and(|v| v >= 252), false),
        ("has_systemd_sysusers", on_path("systemd-sysusers") && on_path("systemd-tmpfiles"), true),
        // `udevadm verify` came in systemd 254.
        ("has_udevadm_verify", on_path("udevadm") && runs("udevadm", &["verify", "--help"]), false),
        ("has_shellcheck", on_path("shellcheck"), true),
        ("has_python3", on_path("python3"), true),
        ("has_cc", on_path("cc"), true),
        // The web page's browser test (tests/it/web.rs): headless Chromium through chromedriver.
        ("has_chromium", on_path("chromium") && on_path("chromedriver"), true),
    ];
    for (flag, present, ci_sets) in found {
        if present || (ci && ci_sets) {
            println!("cargo::rustc-cfg={flag}");
        }
    }
    ceph(ci);
}

/// `evidock_no_ceph` when Debian's Ceph packages are missing (never under CI).
fn ceph(ci: bool) {
    println!("cargo::rustc-check-cfg=cfg(evidock_no_ceph)");
    println!("cargo::rerun-if-env-changed=EVIDOCK_NO_CEPH");
    println!("cargo::rerun-if-changed=/usr/bin");
    let programs = ["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph-authtool", "ceph"];
    let installed = programs.iter().all(|p| Path::new("/usr/bin").join(p).exists())
        && std::env::var_os("EVIDOCK_NO_CEPH").is_none_or(|v| v.is_empty() || v == "0");
    if !installed && !ci {
        println!("cargo::rustc-cfg=evidock_no_ceph");
    }
}

/// This process's effective user id, from `/proc/self/status`.
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Whether `program args` runs and exits 0.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).output().is_ok_and(|o| o.status.success())
}

/// The systemd version a systemd tool reports (`systemd 252 (...)`).
fn version(program: &str) -> Option<u32> {
    let out = Command::new(program).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next()?;
    first.split_whitespace().find_map(|w| w.parse().ok())
}
