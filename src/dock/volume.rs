//! A docked recorder's storage volume, opened so that nothing on it can lead the dock
//! astray: every path is walked one component at a time with `O_NOFOLLOW` from a descriptor
//! held on the volume root, only regular files are ever opened, and reads are bounded.
//!
//! Owns: every read of, and every removal from, recorder storage.
//! Must never: follow a symbolic link, open a FIFO or device node, write anywhere but the
//! adapter's request files, or remove anything the executor did not name.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, fstatat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

/// What a directory entry is, from `fstatat` without following links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file of this size.
    File {
        /// Size in bytes.
        size: u64,
    },
    /// A folder.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
    /// A FIFO, socket, or device node (never opened).
    Special,
}

/// One entry of a folder on the volume.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Name as stored (may be any bytes but `/` and NUL).
    pub name: OsString,
    /// Kind.
    pub kind: EntryKind,
}

/// Identity of a file at a moment, to notice it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Inode.
    pub ino: u64,
    /// Size.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
}

/// A volume root held open.
#[derive(Debug)]
pub struct Volume {
    root: OwnedFd,
    path: PathBuf,
    dev_ino: (u64, u64),
    /// The block device under the volume's file system, `/sys/dev/block/<major>:<minor>`, when
    /// it has one (a recorder on USB does; a folder on tmpfs does not).
    backing: Option<PathBuf>,
    /// The folder is the root of a file system of its own (a mounted recorder), not a folder
    /// on the station's disk.
    own_fs: bool,
}

/// Whether a block device (its `/sys/dev/block/M:m` folder) still exists and, for a SCSI
/// disk (USB storage), is not offline or being deleted.
fn device_online(dev: &Path) -> bool {
    if !dev.exists() {
        return false;
    }
    // A partition's state is its disk's.
    let state = std::fs::read_to_string(dev.join("device/state"))
        .or_else(|_| std::fs::read_to_string(dev.join("../device/state")))
        .unwrap_or_default();
    !matches!(state.trim(), "offline" | "deleted" | "transport-offline" | "cancel" | "cancel-offline")
}

/// The serial number of the USB device a block device (`/sys/dev/block/M:m`) sits on: the
/// `serial` of the nearest folder above it in sysfs that is a USB device (has `idVendor`).
/// `None` off USB, or for a USB device without a serial (never a hub's further up).
fn usb_serial_of(dev: &Path) -> Option<String> {
    let real = std::fs::canonicalize(dev).ok()?;
    let usb = real.ancestors().find(|d| d.join("idVendor").is_file())?;
    let serial = std::fs::read_to_string(usb.join("serial")).ok()?;
    Some(serial.trim().to_string()).filter(|s| !s.is_empty())
}

/// The USB device a block device sits on: vendor and product id, and serial where it has one.
fn usb_device_of(dev: &Path) -> Option<(u16, u16, Option<String>)> {
    let real = std::fs::canonicalize(dev).ok()?;
    let usb = real.ancestors().find(|d| d.join("idVendor").is_file())?;
    let hex =
        |name: &str| std::fs::read_to_string(usb.join(name)).ok().and_then(|s| u16::from_str_radix(s.trim(), 16).ok());
    let serial =
        std::fs::read_to_string(usb.join("serial")).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    Some((hex("idVendor")?, hex("idProduct")?, serial))
}

fn io_err(e: nix::errno::Errno) -> io::Error {
    io::Error::from(e)
}

fn stamp_of(st: &nix::sys::stat::FileStat) -> Stamp {
    Stamp {
        ino: st.st_ino,
        size: st.st_size as u64,
        mtime_ns: i128::from(st.st_mtime) * 1_000_000_000 + i128::from(st.st_mtime_nsec),
    }
}

impl Volume {
    /// Opens the folder `path` as a volume root (refusing a symbolic link).
    ///
    /// # Errors
    /// When it is not a folder or cannot be opened.
    pub fn open(path: &Path) -> io::Result<Volume> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_err)?;
        // SAFETY: `open` returned a fresh descriptor we now own.
        let root = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let st = fstat(root.as_raw_fd()).map_err(io_err)?;
        let (major, minor) = (nix::sys::stat::major(st.st_dev), nix::sys::stat::minor(st.st_dev));
        let backing =
            Some(PathBuf::from(format!("/sys/dev/block/{major}:{minor}"))).filter(|p| major != 0 && p.exists());
        let own_fs = path.parent().and_then(|p| std::fs::metadata(p).ok()).is_none_or(|m| {
            use std::os::unix::fs::MetadataExt;
            m.dev() != st.st_dev
        });
        Ok(Volume { root, path: path.to_path_buf(), dev_ino: (st.st_dev, st.st_ino), backing, own_fs })
    }

    /// The path it was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the volume is still docked: its path still names the folder held open, and
    /// the block device under it (if any) is still there and not taken offline. An unplugged
    /// USB recorder's file system stays mounted for a moment after the device is gone: its
    /// reads fail, and that is an undocking, not a damaged recorder.
    pub fn present(&self) -> bool {
        let here = match std::fs::symlink_metadata(&self.path) {
            Ok(m) => {
                use std::os::unix::fs::MetadataExt;
                m.is_dir() && (m.dev(), m.ino()) == self.dev_ino
            }
            Err(_) => false,
        };
        here && self.backing.as_ref().is_none_or(|dev| device_online(dev))
    }

    /// The serial number of the USB device under the volume, as the kernel read it when the
    /// device arrived; `None` for a volume that is not a mounted USB storage device (a folder
    /// on the station's own disk says nothing of a recorder, even when that disk is on USB).
    /// Known as soon as the volume is mounted, even before the USB watch has reported the
    /// device (a daemon starting with a recorder already docked).
    pub fn usb_serial(&self) -> Option<String> {
        self.backing.as_deref().filter(|_| self.own_fs).and_then(usb_serial_of)
    }

    /// The vendor id, product id and serial of the USB device under the volume, as the kernel
    /// has them (`idVendor`, `idProduct`, `serial` in sysfs); `None` as for
    /// [`Volume::usb_serial`].
    pub fn usb_device(&self) -> Option<(u16, u16, Option<String>)> {
        self.backing.as_deref().filter(|_| self.own_fs).and_then(usb_device_of)
    }

    /// [`Volume::present`] after an I/O error: an unplugged device's reads fail a moment
    /// before the kernel has removed it, so a volume on a block device gets up to a second
    /// to show it is gone.
    pub fn present_after_error(&self) -> bool {
        if self.backing.is_some() {
            for _ in 0..10 {
                if !self.present() {
                    return false;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        self.present()
    }

    /// Writes everything changed on the volume's file system to the device (`syncfs`). A
    /// removal's directory `fsync` leaves a FAT volume's allocation table and free-space
    /// summary in the page cache; a recorder unplugged before they are written holds a
    /// damaged file system.
    ///
    /// # Errors
    /// When the device fails the write (e.g. it was unplugged).
    pub fn sync(&self) -> io::Result<()> {
        nix::unistd::syncfs(self.root.as_raw_fd()).map_err(io_err)
    }

    /// Opens the folder `rel` (components separated by `/`), no link followed.
    fn open_dir(&self, rel: &[&OsStr]) -> io::Result<OwnedFd> {
        let mut cur: Option<OwnedFd> = None;
        for part in rel {
            check_component(part)?;
            let parent = cur.as_ref().map_or(self.root.as_raw_fd(), |f| f.as_raw_fd());
            let fd = openat(
                Some(parent),
                *part,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(io_err)?;
            // SAFETY: `openat` returned a fresh descriptor we now own.
            cur = Some(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
        }
        match cur {
            Some(fd) => Ok(fd),
            None => self.root.try_clone(),
        }
    }

    /// Lists the folder `rel`, with each entry's kind (links and special files reported as
    /// such, never followed). At most `limit` entries; more is an error.
    ///
    /// # Errors
    /// When the folder cannot be read, or holds more than `limit` entries.
    pub fn list(&self, rel: &[&OsStr], limit: usize) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        let mut over = false;
        self.for_each_entry(rel, |entry| {
            if out.len() >= limit {
                over = true;
                return ControlFlow::Break(());
            }
            out.push(entry);
            ControlFlow::Continue(())
        })?;
        if over {
            return Err(io::Error::other(format!("more than {limit} entries")));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Calls `f` with each entry of the folder `rel` (its kind from `fstatat`, no link
    /// followed), in the order the file system lists them, until `f` breaks. Nothing is
    /// gathered here: a folder of any size costs no memory.
    ///
    /// # Errors
    /// When the folder cannot be opened or read.
    pub fn for_each_entry(&self, rel: &[&OsStr], mut f: impl FnMut(Entry) -> ControlFlow<()>) -> io::Result<()> {
        let dirfd = self.open_dir(rel)?;
        let mut dir =
            nix::dir::Dir::from_fd(std::os::fd::IntoRawFd::into_raw_fd(dirfd.try_clone()?)).map_err(io_err)?;
        for ent in dir.iter() {
            let ent = ent.map_err(io_err)?;
            let name = OsStr::from_bytes(ent.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            let st = match fstatat(Some(dirfd.as_raw_fd()), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                // Removed since it was listed: no longer on the volume.
                Err(nix::errno::Errno::ENOENT) => continue,
                Err(e) => return Err(io_err(e)),
            };
            let kind = match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
                SFlag::S_IFREG => EntryKind::File { size: st.st_size as u64 },
                SFlag::S_IFDIR => EntryKind::Dir,
                SFlag::S_IFLNK => EntryKind::Symlink,
                _ => EntryKind::Special,
            };
            if f(Entry { name: name.to_os_string(), kind }).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// Opens the regular file `rel` for reading: no link followed, never blocking on a FIFO,
    /// refused unless it is a regular file.
    ///
    /// # Errors
    /// When it is absent, not a regular file, or cannot be opened.
    pub fn open_file(&self, rel: &[&OsStr]) -> io::Result<(File, Stamp)> {
        let (dirs, name) = split_last(rel)?;
        check_component(name)?;
        let dirfd = self.open_dir(dirs)?;
        let fd = openat(
            Some(dirfd.as_raw_fd()),
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
            Mode::empty(),
        )
        .map_err(io_err)?;
        // SAFETY: `openat` returned a fresh descriptor we now own.
        let file = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let st = fstat(file.as_raw_fd()).map_err(io_err)?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
        }
        // Back to blocking reads for the copy.
        nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(OFlag::empty())).map_err(io_err)?;
        Ok((file, stamp_of(&st)))
    }

    /// The current stamp of the file `rel` (no link followed).
    ///
    /// # Errors
    /// When it is absent or cannot be examined.
    pub fn stamp(&self, rel: &[&OsStr]) -> io::Result<Stamp> {
        let (dirs, name) = split_last(rel)?;
        let dirfd = self.open_dir(dirs)?;
        let st = fstatat(Some(dirfd.as_raw_fd()), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).map_err(io_err)?;
        Ok(stamp_of(&st))
    }

    /// Reads a small regular file whole, refusing one larger than `max` bytes.
    ///
    /// # Errors
    /// When absent, not a regular file, larger than `max`, or unreadable.
    pub fn read_small(&self, rel: &[&OsStr], max: u64) -> io::Result<Vec<u8>> {
        let (file, stamp) = self.open_file(rel)?;
        if stamp.size > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} bytes, more than the {max} allowed", stamp.size),
            ));
        }
        let mut out = Vec::with_capacity(stamp.size as usize);
        file.take(max + 1).read_to_end(&mut out)?;
        if out.len() as u64 > max {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("grew past the {max} bytes allowed")));
        }
        Ok(out)
    }

    /// Removes the regular file `rel` if it still has `expect`'s inode, size and time, then
    /// fsyncs its folder.
    ///
    /// # Errors
    /// `InvalidData` when the file changed since it was read; any I/O error.
    pub fn remove_file(&self, rel: &[&OsStr], expect: Stamp) -> io::Result<()> {
        let (dirs, name) = split_last(rel)?;
        let dirfd = self.open_dir(dirs)?;
        let st = fstatat(Some(dirfd.as_raw_fd()), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).map_err(io_err)?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG || stamp_of(&st) != expect {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "changed since it was copied"));
        }
        unlinkat(Some(dirfd.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir).map_err(io_err)?;
        nix::unistd::fsync(dirfd.as_raw_fd()).map_err(io_err)
    }

    /// Writes a small request file for the recorder (clock setting), replacing any earlier
    /// one. Only adapters call this.
    ///
    /// # Errors
    /// On any I/O error.
    pub fn write_request(&self, rel: &[&OsStr], bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        let (dirs, name) = split_last(rel)?;
        check_component(name)?;
        let dirfd = self.open_dir(dirs)?;
        let fd = openat(
            Some(dirfd.as_raw_fd()),
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map_err(io_err)?;
        // SAFETY: `openat` returned a fresh descriptor we now own.
        let mut file = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        file.write_all(bytes)?;
        file.sync_all()?;
        nix::unistd::fsync(dirfd.as_fd().as_raw_fd()).map_err(io_err)?;
        // The rest of the file system's metadata (a FAT volume's allocation table and free
        // space summary), so a recorder unplugged right after holds a consistent one.
        self.sync()
    }
}

fn split_last<'a, 'b>(rel: &'a [&'b OsStr]) -> io::Result<(&'a [&'b OsStr], &'b OsStr)> {
    match rel.split_last() {
        Some((name, dirs)) => Ok((dirs, name)),
        None => Err(io::Error::new(io::ErrorKind::InvalidInput, "empty path")),
    }
}

fn check_component(part: &OsStr) -> io::Result<()> {
    let b = part.as_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("unsafe path component {part:?}")));
    }
    Ok(())
}

/// Splits a `/`-separated relative path into components for the calls above.
pub fn components(rel: &str) -> Vec<&OsStr> {
    rel.split('/').filter(|p| !p.is_empty()).map(OsStr::new).collect()
}

/// A printable, unambiguous rendering of any name (control characters and invalid UTF-8
/// escaped), for reports and the custody log.
pub fn display_name(name: &OsStr) -> String {
    let mut out = String::new();
    for chunk in name.as_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() || c == '\\' {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_volume_on_a_folder_is_present_until_its_folder_goes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("SN00001");
        std::fs::create_dir(&path).unwrap();
        let vol = Volume::open(&path).unwrap();
        assert!(vol.present() && vol.present_after_error());
        assert!(!vol.own_fs && vol.usb_serial().is_none(), "a folder is not a mounted recorder");
        std::fs::remove_dir(&path).unwrap();
        assert!(!vol.present() && !vol.present_after_error());
    }

    #[test]
    fn a_block_device_that_is_gone_or_offline_is_not_online() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!device_online(&dir.path().join("8:0")), "a removed device");
        let disk = dir.path().join("8:16");
        std::fs::create_dir_all(disk.join("device")).unwrap();
        std::fs::write(disk.join("device/state"), "running\n").unwrap();
        assert!(device_online(&disk));
        std::fs::write(disk.join("device/state"), "offline\n").unwrap();
        assert!(!device_online(&disk), "a disk taken offline (unplugged)");
        let part = disk.join("8:17");
        std::fs::create_dir(&part).unwrap();
        assert!(!device_online(&part), "a partition of an offline disk");
    }

    #[test]
    fn the_usb_serial_is_the_nearest_usb_device_s_above_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path();
        let hub = sys.join("devices/pci0000:00/0000:00:1d.0/usb2");
        let device = hub.join("2-1");
        let disk = device.join("2-1:1.0/host0/target0:0:0/0:0:0:0/block/sda");
        std::fs::create_dir_all(disk.join("sda1")).unwrap();
        for (folder, serial) in [(&hub, "0000:00:1d.0\n"), (&device, "VM70009\n")] {
            std::fs::write(folder.join("idVendor"), "46f4\n").unwrap();
            std::fs::write(folder.join("serial"), serial).unwrap();
        }
        std::fs::create_dir_all(sys.join("dev/block")).unwrap();
        std::os::unix::fs::symlink(
            "../../devices/pci0000:00/0000:00:1d.0/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sda/sda1",
            sys.join("dev/block/8:1"),
        )
        .unwrap();
        assert_eq!(usb_serial_of(&sys.join("dev/block/8:1")).as_deref(), Some("VM70009"), "a partition");
        assert_eq!(usb_serial_of(&disk).as_deref(), Some("VM70009"), "the whole disk");
        // A USB device without a serial: none, not the hub's.
        std::fs::remove_file(device.join("serial")).unwrap();
        assert_eq!(usb_serial_of(&disk), None);
        // Not on USB (a loop or device-mapper device).
        let dm = sys.join("devices/virtual/block/dm-0");
        std::fs::create_dir_all(&dm).unwrap();
        assert_eq!(usb_serial_of(&dm), None);
        assert_eq!(usb_serial_of(&sys.join("dev/block/253:9")), None, "a device that is gone");
    }

    #[test]
    fn never_follows_links_or_opens_fifos() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("d/f"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("d/l")).unwrap();
        std::os::unix::fs::symlink("/", root.join("up")).unwrap();
        nix::unistd::mkfifo(&root.join("d/p"), Mode::from_bits_truncate(0o600)).unwrap();
        let v = Volume::open(root).unwrap();
        let kinds: Vec<_> = v.list(&components("d"), 10).unwrap().into_iter().map(|e| (e.name, e.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                ("f".into(), EntryKind::File { size: 1 }),
                ("l".into(), EntryKind::Symlink),
                ("p".into(), EntryKind::Special)
            ]
        );
        assert!(v.open_file(&components("d/l")).is_err());
        assert!(v.open_file(&components("d/p")).is_err(), "a FIFO is refused without blocking");
        assert!(v.open_file(&components("up/etc/passwd")).is_err());
        assert!(v.open_file(&[OsStr::new(".."), OsStr::new("x")]).is_err());
        assert_eq!(v.read_small(&components("d/f"), 10).unwrap(), b"x");
        assert!(v.read_small(&components("d/f"), 0).is_err());
        assert!(v.list(&components("d"), 2).is_err(), "entry limit");
        assert!(v.present());
    }

    #[test]
    fn remove_only_what_was_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"abc").unwrap();
        let v = Volume::open(dir.path()).unwrap();
        let (_, stamp) = v.open_file(&components("f")).unwrap();
        std::fs::write(dir.path().join("f"), b"abcd").unwrap();
        assert_eq!(v.remove_file(&components("f"), stamp).unwrap_err().kind(), io::ErrorKind::InvalidData);
        let stamp = v.stamp(&components("f")).unwrap();
        v.remove_file(&components("f"), stamp).unwrap();
        assert!(!dir.path().join("f").exists());
    }

    #[test]
    fn names_are_displayed_unambiguously() {
        assert_eq!(display_name(OsStr::from_bytes(b"a\x1b[31m\n\xff.MP4")), "a\\u{1b}[31m\\n\\xff.MP4");
        assert_eq!(display_name(OsStr::new("张三.MP4")), "张三.MP4");
    }
}
