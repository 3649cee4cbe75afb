//! Recorders and archives on real file systems over loop devices, not folders: an ext4
//! recorder detached mid-copy (`umount -l`, `losetup -d`), an exFAT recorder whose file-system
//! process dies mid-copy so every read fails (as a yanked USB device's do), an ext4
//! archive that fills up and is then grown (INV-1, INV-2, INV-3; R4, R13), and an export onto
//! a requester's exFAT drive (R9).
//!
//! They need root (loop devices, mounts) and `mkfs.ext4`, `e2fsck`, `resize2fs`,
//! `mkfs.exfat`, `fsck.exfat` and `mount.exfat-fuse`. CI runs as root and installs them; on a
//! machine without them these tests are ignored, with the reason (`build.rs` looks).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::crash::assert_each_once;
use crate::support::{copy_tree, files_under, volume_footage, wait_for, Station};

/// Slow enough to act in the middle of the copy (4 MiB at 4 MiB/s).
const SLOW: &str = "read_rate_limit = 4194304\nchunk_bytes = 65536";

/// Runs a command that must succeed; returns its stdout.
fn run(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(o.status.success(), "{cmd} {args:?} failed:\n{}", crate::support::text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Fails unless loop devices and `tools` can be used here: under CI, where `build.rs` sets
/// every flag, a missing one is a failure that says what is missing.
fn require(tools: &[&str]) {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| {
            Command::new("sh").args(["-c", &format!("command -v {t}")]).output().map_or(true, |o| !o.status.success())
        })
        .collect();
    assert!(nix::unistd::Uid::effective().is_root(), "loop devices and mounts need root");
    assert!(missing.is_empty(), "missing {}", missing.join(", "));
    assert!(Path::new("/dev/loop-control").exists(), "no /dev/loop-control");
}

/// A file-system image attached to a loop device, and where it is mounted. Dropping it
/// unmounts (lazily) and detaches.
struct Loop {
    image: PathBuf,
    dev: Option<String>,
    at: Option<PathBuf>,
}

impl Loop {
    fn new(image: PathBuf) -> Loop {
        Loop { image, dev: None, at: None }
    }

    fn attach(&mut self) -> &str {
        assert!(self.dev.is_none());
        self.wait_released();
        self.dev = Some(run("losetup", &["-f", "--show", p(&self.image)]).trim().to_string());
        self.dev.as_deref().unwrap()
    }

    /// Mounts the attached device at `at` (created), with `mount` or an exFAT FUSE process.
    fn mount(&mut self, at: &Path, exfat: bool) {
        std::fs::create_dir_all(at).unwrap();
        let dev = self.dev.clone().expect("attached");
        if exfat {
            run("mount.exfat-fuse", &["-o", "noatime", &dev, p(at)]);
        } else {
            run("mount", &["-o", "noatime", &dev, p(at)]);
        }
        self.at = Some(at.to_path_buf());
    }

    /// Mounts the attached exFAT device at `at` (created) with these FUSE options.
    fn mount_exfat_with(&mut self, at: &Path, options: &str) {
        std::fs::create_dir_all(at).unwrap();
        let dev = self.dev.clone().expect("attached");
        run("mount.exfat-fuse", &["-o", options, &dev, p(at)]);
        self.at = Some(at.to_path_buf());
    }

    /// A clean unmount and detach.
    fn unmount(&mut self) {
        if let Some(at) = self.at.take() {
            run("umount", &[p(&at)]);
        }
        if let Some(dev) = self.dev.take() {
            run("losetup", &["-d", &dev]);
        }
    }

    /// What the system does when a device leaves: the file system is detached from the tree
    /// at once (`umount -l`) and the loop device goes when its last user lets go.
    fn detach(&mut self) {
        if let Some(at) = self.at.take() {
            run("umount", &["-l", p(&at)]);
        }
        if let Some(dev) = self.dev.take() {
            run("losetup", &["-d", &dev]);
        }
    }

    /// Waits until no loop device holds the image: mounting it again while a detached mount
    /// still has it would be two file systems on one disk.
    fn wait_released(&self) {
        wait_for(60, "the image to be released by its old loop device", || {
            run("losetup", &["-j", p(&self.image)]).trim().is_empty().then_some(())
        });
    }

    /// The PID of the exFAT FUSE process serving the mount.
    fn fuse_pid(&self) -> i32 {
        let (dev, at) = (self.dev.as_deref().unwrap(), self.at.as_deref().unwrap());
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
            let args: Vec<String> =
                cmdline.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            if args.iter().any(|a| a.contains("exfat"))
                && args.iter().any(|a| a == dev)
                && args.iter().any(|a| a == p(at))
            {
                return pid;
            }
        }
        panic!("no mount.exfat-fuse process for {dev} on {}", at.display());
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        if let Some(at) = self.at.take() {
            let _ = Command::new("umount").arg("-l").arg(at).status();
        }
        if let Some(dev) = self.dev.take() {
            let _ = Command::new("losetup").args(["-d", &dev]).status();
        }
    }
}

/// The footage of an image, read through a scratch mount.
fn image_footage(img: &mut Loop, scratch: &Path, exfat: bool) -> Vec<(String, String)> {
    img.attach();
    img.mount(scratch, exfat);
    let footage = volume_footage(scratch);
    img.unmount();
    footage
}

/// After an undocking: the recorder's disk holds all of `source` and its file system is sound;
/// mounted again at `docked`, a new docking archives each file once and wipes the recorder.
fn redock_and_finish(st: &Station, img: &mut Loop, docked: &Path, source: &[(String, String)], exfat: bool) {
    let name = docked.file_name().unwrap().to_str().unwrap();
    let fsck = |img: &Loop| {
        if exfat {
            run("fsck.exfat", &["-n", p(&img.image)])
        } else {
            run("e2fsck", &["-f", "-n", p(&img.image)])
        }
    };
    img.wait_released();
    fsck(img);
    assert_eq!(image_footage(img, &st.path(&format!("look-{name}")), exfat), source, "the recorder keeps everything");

    // Mounted again at the same place: a new docking resumes; each file archived once.
    img.attach();
    img.mount(docked, exfat);
    let bay = st.wait_bay(name, "the second docking to finish", |b| b["phase"] == "done");
    assert_eq!(bay["safe_to_undock"], true, "{bay:#}");
    assert_each_once(st, source);
    assert!(files_under(&docked.join("DCIM")).is_empty(), "wiped after the verified ingest");
    img.unmount();
    fsck(img);
    st.assert_log_verifies();
}

fn sim_volume(st: &Station, name: &str, serial: &str, segments: &str) -> PathBuf {
    st.sim(name, &["--serial", serial, "--sessions", "1", "--segments", segments, "--segment-bytes", "1048576"]).0
}

fn wait_undocked_after_abandon(st: &Station) {
    wait_for(60, "ingest_abandoned and undocked", || {
        let a = st.actions();
        (a.contains(&"ingest_abandoned".to_string()) && a.contains(&"undocked".to_string())).then_some(())
    });
    let a = st.actions();
    assert!(!a.contains(&"segment_wiped".to_string()), "nothing may be wiped before the ingest completes: {a:?}");
    // Told as an undocking (dock again to resume), not as a damaged recorder or disk.
    let error: String = st
        .db()
        .query_row(
            "SELECT json_extract(details, '$.error') FROM custody_log WHERE action = 'ingest_abandoned'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(error.contains("disappeared during the ingest (undocked)"), "{error}");
}

#[test]
#[cfg_attr(
    not(all(has_loop_devices, has_ext4_tools)),
    ignore = "needs root, loop devices and e2fsprogs (mkfs.ext4, e2fsck, resize2fs): run as root, apt-get install e2fsprogs"
)]
fn an_ext4_recorder_detached_mid_copy_keeps_everything_and_is_ingested_when_mounted_again() {
    require(&["mkfs.ext4", "e2fsck", "losetup"]);
    let mut st = Station::with_ingest(SLOW);
    let vol = sim_volume(&st, "L1", "D410001", "4");
    let source = volume_footage(&vol);
    let mut img = Loop::new(st.path("L1.img"));
    run("truncate", &["-s", "32M", p(&img.image)]);
    run("mkfs.ext4", &["-q", "-F", "-d", p(&vol), p(&img.image)]);
    std::fs::create_dir_all(st.dock_root()).unwrap();
    st.start();
    let docked = st.dock_root().join("L1");
    img.attach();
    img.mount(&docked, false);
    st.wait_bay("L1", "the copy to be under way", |b| {
        b["phase"] == "copying" && b["bytes_done"].as_u64().unwrap_or(0) > 1_200_000
    });
    img.detach();
    wait_undocked_after_abandon(&st);

    redock_and_finish(&st, &mut img, &docked, &source, false);
}

#[test]
#[cfg_attr(
    not(all(has_loop_devices, has_exfat_tools)),
    ignore = "needs root, loop devices and exFAT tools (mkfs.exfat, fsck.exfat, mount.exfat-fuse): run as root, apt-get install exfatprogs exfat-fuse"
)]
fn an_exfat_recorder_yanked_mid_copy_fails_its_reads_keeps_everything_and_is_ingested_when_back() {
    require(&["mkfs.exfat", "fsck.exfat", "mount.exfat-fuse", "losetup"]);
    let mut st = Station::with_ingest(SLOW);
    let vol = sim_volume(&st, "X1", "D410002", "4");
    let source = volume_footage(&vol);
    let mut img = Loop::new(st.path("X1.img"));
    run("truncate", &["-s", "32M", p(&img.image)]);
    run("mkfs.exfat", &["-L", "RECORDER", p(&img.image)]);
    img.attach();
    let fill = st.path("fill-X1");
    img.mount(&fill, true);
    copy_tree(&vol, &fill);
    img.unmount();

    std::fs::create_dir_all(st.dock_root()).unwrap();
    st.start();
    let docked = st.dock_root().join("X1");
    img.attach();
    img.mount(&docked, true);
    st.wait_bay("X1", "the copy to be under way", |b| {
        b["phase"] == "copying" && b["bytes_done"].as_u64().unwrap_or(0) > 1_200_000
    });
    // The device is gone: the file-system process dies and every access fails
    // ("Transport endpoint is not connected"), as reads from an unplugged USB disk do.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(img.fuse_pid()), nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_undocked_after_abandon(&st);
    let log = st.log();
    assert!(!log.contains("unreadable"), "an unplug is not a damaged recorder:\n{log}");
    img.detach();

    redock_and_finish(&st, &mut img, &docked, &source, true);
}

#[test]
#[cfg_attr(
    not(all(has_loop_devices, has_ext4_tools)),
    ignore = "needs root, loop devices and e2fsprogs (mkfs.ext4, e2fsck, resize2fs): run as root, apt-get install e2fsprogs"
)]
fn a_full_ext4_archive_stops_the_ingest_cleanly_and_completes_once_the_disk_is_grown() {
    require(&["mkfs.ext4", "resize2fs", "e2fsck", "losetup"]);
    let st = Station::new();
    let mut disk = Loop::new(st.path("archive.img"));
    run("truncate", &["-s", "6M", p(&disk.image)]);
    run("mkfs.ext4", &["-q", "-F", "-m", "0", p(&disk.image)]);
    disk.attach();
    disk.mount(&st.archive(), false);
    std::fs::set_permissions(st.archive(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    st.register("D410003");
    let vol = sim_volume(&st, "F2", "D410003", "8");
    let source = volume_footage(&vol);

    let o = st.evidock(&["ingest", p(&vol)]);
    assert_eq!(o.status.code(), Some(2), "{}", crate::support::text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("the archive is full") && err.contains("free space"), "{}", crate::support::text(&o));
    assert_eq!(volume_footage(&vol), source, "the recorder keeps everything");
    let hashes: Vec<&str> = source.iter().map(|(_, h)| h.as_str()).collect();
    let partly = st.archived_footage();
    assert!(partly.len() < source.len(), "the disk was meant to fill: {partly:?}");
    for (path, h) in &partly {
        assert!(hashes.contains(&h.as_str()), "{} looks complete but is not", path.display());
    }
    assert!(
        !files_under(&st.archive()).iter().any(|f| f.to_string_lossy().contains(".evidock-tmp.")),
        "temporary files removed"
    );
    assert!(st.actions().contains(&"ingest_abandoned".to_string()));
    st.assert_log_verifies();

    // A bigger disk: the file system grown offline (`resize2fs`), mounted again; docking
    // again completes.
    disk.unmount();
    run("truncate", &["-s", "48M", p(&disk.image)]);
    run("e2fsck", &["-f", "-p", p(&disk.image)]);
    run("resize2fs", &[p(&disk.image)]);
    disk.attach();
    disk.mount(&st.archive(), false);
    let o = st.evidock(&["ingest", p(&vol)]);
    assert!(o.status.success(), "{}", crate::support::text(&o));
    assert_each_once(&st, &source);
    assert!(files_under(&vol.join("DCIM")).is_empty());
    st.assert_log_verifies();
    disk.unmount();
    run("e2fsck", &["-f", "-n", p(&disk.image)]);
}

#[test]
#[cfg_attr(
    not(all(has_loop_devices, has_exfat_tools)),
    ignore = "needs root, loop devices and exFAT tools (mkfs.exfat, fsck.exfat, mount.exfat-fuse): run as root, apt-get install exfatprogs exfat-fuse"
)]
fn an_export_to_an_exfat_drive_is_refused_clearly_unless_the_service_may_write_there() {
    use crate::access::{as_user, ok, service_station, state_of, text, REQUESTER};
    require(&["mkfs.exfat", "fsck.exfat", "mount.exfat-fuse", "losetup"]);
    let mut st = service_station(&[]);

    // The requester's USB drive, exFAT (no ACLs), mounted for them alone, as a desktop does.
    let mut stick = Loop::new(st.path("stick.img"));
    run("truncate", &["-s", "32M", p(&stick.image)]);
    run("mkfs.exfat", &["-L", "EXPORT", p(&stick.image)]);
    stick.attach();
    let at = st.path("stick");
    stick.mount_exfat_with(&at, "allow_other,uid=4243,gid=4243,umask=077");
    let out = at.join("导出");
    let o = st.evidock_as(REQUESTER, &["export", "--request", "1", "--to", p(&out)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("the service cannot write into the export's folder")
            && text(&o).contains("mount it writable for all users")
            && text(&o).contains("请以所有用户可写方式挂载"),
        "{}",
        text(&o)
    );
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "nothing left on the drive: {left:?}");
    assert_eq!(state_of(&st, 1), "approved", "the approval is not spent");

    // Mounted writable for all users, as the message says: the export completes and checks.
    stick.unmount();
    stick.attach();
    stick.mount_exfat_with(&at, "allow_other,uid=4243,gid=4243,umask=000");
    ok(st.evidock_as(REQUESTER, &["export", "--request", "1", "--to", p(&out)]));
    let dir = out.join("evidock-export-1");
    let o = as_user(REQUESTER, &dir, "sha256sum", &["-c", "--strict", "manifest-sha256.txt"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!files_under(&dir.join("data")).is_empty());
    stick.unmount();
    run("fsck.exfat", &["-n", p(&stick.image)]);
    assert!(st.stop().success(), "{}", st.log());
    st.assert_log_verifies();
}
