//! Durable file primitives, the only way anything is written to the archive or the state
//! folder: create folders durably, stage into a temporary file, fsync, rename without
//! overwriting, fsync the folder, read back from disk (not the page cache), seal read-only.
//!
//! Owns: the order of system calls that makes a crash at any point lose nothing and leave
//! nothing that looks complete but is not (INV-2, INV-3).
//! Must never: overwrite an existing archive file, follow a symbolic link, or report a file
//! durable before `fsync` of the file and of its folder returned success.

use std::alloc::{self, Layout};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::ReadBack;

use super::layout::TEMP_PREFIX;

/// Mode of archive folders: the service user only (R12).
pub const DIR_MODE: u32 = 0o700;
/// Mode of sealed archive files: read-only, the service user only (R5, R12).
pub const SEALED_MODE: u32 = 0o400;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Opens a folder for `fsync`.
fn open_dir(dir: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC).open(dir)
}

/// `fsync` of a folder, making the names in it durable.
///
/// # Errors
/// When the folder cannot be opened or synced.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    open_dir(dir)?.sync_all()
}

/// Creates `root/rel` and every missing folder on the way, each with [`DIR_MODE`], and
/// fsyncs the parent of every folder it created, so the new path survives a crash.
/// `rel` must be made of safe components (see [`super::layout`]); symbolic links on the way
/// are refused.
///
/// # Errors
/// When a component exists but is not a folder (or is a link), or on any I/O error.
pub fn create_dirs(root: &Path, rel: &Path) -> io::Result<PathBuf> {
    let mut at = root.to_path_buf();
    for part in rel.components() {
        let std::path::Component::Normal(part) = part else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("unsafe path {}", rel.display())));
        };
        let next = at.join(part);
        match fs::symlink_metadata(&next) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a folder", next.display()),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match fs::DirBuilder::new().mode(DIR_MODE).create(&next) {
                    Ok(()) => fsync_dir(&at)?,
                    // Another bay created it at the same moment: fine, it is a folder.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists && next.is_dir() => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
        at = next;
    }
    Ok(at)
}

/// A temporary file inside its final folder, named with [`TEMP_PREFIX`] so that it never
/// looks complete; removed on drop unless [`Staged::commit`] renamed it into place.
#[derive(Debug)]
pub struct Staged {
    file: File,
    tmp: PathBuf,
    dir: PathBuf,
    done: bool,
}

impl Staged {
    /// Creates the temporary file in `dir` (mode 0600, exclusive, no link followed).
    ///
    /// # Errors
    /// On any I/O error.
    pub fn new(dir: &Path, final_name: &str) -> io::Result<Staged> {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let short: String = final_name.chars().take(60).collect();
        let tmp = dir.join(format!("{TEMP_PREFIX}{}.{n}.{short}", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        Ok(Staged { file, tmp, dir: dir.to_path_buf(), done: false })
    }

    /// The open file, for writing.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The temporary path.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// `fsync` of the file's data and metadata. An error means the copy failed.
    ///
    /// # Errors
    /// When `fsync` fails (the data may not be on disk: redo the copy).
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.sync_all()
    }

    /// Renames the temporary file to `final_name` without overwriting, then fsyncs the
    /// folder. Returns the final path.
    ///
    /// # Errors
    /// `AlreadyExists` when the final name is taken (the temporary file stays, the caller
    /// decides); any other I/O error.
    pub fn commit(mut self, final_name: &str) -> Result<PathBuf, (Staged, io::Error)> {
        let target = self.dir.join(final_name);
        if let Err(e) = rename_noreplace(&self.tmp, &target) {
            return Err((self, e));
        }
        self.done = true;
        if let Err(e) = fsync_dir(&self.dir) {
            return Err((self, e));
        }
        Ok(target)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Renames `from` to `to`, failing with `AlreadyExists` rather than replacing `to`
/// (`renameat2(RENAME_NOREPLACE)`, or a hard link then unlink where the filesystem lacks it).
///
/// # Errors
/// `AlreadyExists` when `to` exists; any other I/O error.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c =
        |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e));
    let (f, t) = (c(from)?, c(to)?);
    // SAFETY: both are valid NUL-terminated paths; AT_FDCWD with absolute or cwd-relative paths.
    let rc = unsafe { libc::renameat2(libc::AT_FDCWD, f.as_ptr(), libc::AT_FDCWD, t.as_ptr(), libc::RENAME_NOREPLACE) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) => {
            fs::hard_link(from, to)?;
            fs::remove_file(from)
        }
        _ => Err(err),
    }
}

/// Writes `bytes` as a new file `dir/name` durably (stage, fsync, rename without
/// overwriting, fsync the folder) and seals it read-only.
///
/// # Errors
/// `AlreadyExists` when the name is taken; any other I/O error.
pub fn write_new(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    let mut staged = Staged::new(dir, name)?;
    staged.file().write_all(bytes)?;
    staged.sync()?;
    let path = staged.commit(name).map_err(|(_, e)| e)?;
    seal_read_only(&path)?;
    Ok(path)
}

/// Replaces `path` with `bytes` atomically and durably (state files such as the status
/// view; never used for archive footage).
///
/// # Errors
/// On any I/O error.
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent folder"))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let mut staged = Staged::new(dir, name)?;
    staged.file().write_all(bytes)?;
    staged.sync()?;
    fs::rename(staged.path(), path)?;
    staged.done = true;
    fsync_dir(dir)
}

/// Makes an archive file read-only ([`SEALED_MODE`]).
///
/// # Errors
/// On any I/O error.
pub fn seal_read_only(path: &Path) -> io::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(SEALED_MODE))
}

/// The POSIX access ACL, in the kernel's `system.posix_acl_access` encoding, that keeps a
/// file's `mode` and adds one named user with `perm` (`r` 4, `w` 2, `x` 1): version 2, then
/// (tag, perm, id) entries in tag order, the mask covering the named user and the group.
pub fn acl_with_user(mode: u32, uid: u32, perm: u16) -> Vec<u8> {
    const UNDEFINED: u32 = u32::MAX;
    let bits = |shift: u32| ((mode >> shift) & 7) as u16;
    let entries: [(u16, u16, u32); 5] = [
        (0x01, bits(6), UNDEFINED),              // owner
        (0x02, perm & 7, uid),                   // the named user
        (0x04, bits(3), UNDEFINED),              // owning group
        (0x10, (perm & 7) | bits(3), UNDEFINED), // mask
        (0x20, bits(0), UNDEFINED),              // others
    ];
    let mut out = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    out
}

/// Grants user `uid` access to `path` (never following a link at its last component) by a
/// POSIX ACL: read for a file, read, write and search for a folder, so that the user can read
/// and remove what this process wrote for them. Other users gain nothing. Returns `false` where
/// the file system keeps no ACLs (FAT, exFAT: their mount options decide access).
///
/// # Errors
/// When the file cannot be examined, or the file system refuses otherwise.
pub fn grant_user(path: &Path, uid: u32) -> io::Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    let meta = fs::symlink_metadata(path)?;
    let perm = if meta.is_dir() {
        7
    } else if meta.is_file() {
        4
    } else {
        return Ok(false);
    };
    let acl = acl_with_user(meta.permissions().mode(), uid, perm);
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: both strings are NUL-terminated and the value buffer outlives the call.
    let rc = unsafe {
        libc::lsetxattr(c_path.as_ptr(), c"system.posix_acl_access".as_ptr(), acl.as_ptr().cast(), acl.len(), 0)
    };
    if rc == 0 {
        return Ok(true);
    }
    match io::Error::last_os_error() {
        e if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(false),
        e => Err(e),
    }
}

/// Sets the immutable attribute (`chattr +i`) where the filesystem and the process's
/// capabilities allow. Returns whether it was set.
///
/// # Errors
/// When the file cannot be opened, or the filesystem fails otherwise than by refusing.
pub fn set_immutable(path: &Path) -> io::Result<bool> {
    set_immutable_flag(path, true)
}

/// Sets or clears the immutable attribute. Returns whether the change was made (`false`
/// where the filesystem or missing capabilities refuse it).
///
/// # Errors
/// When the file cannot be opened, or the filesystem fails otherwise than by refusing.
pub fn set_immutable_flag(path: &Path, on: bool) -> io::Result<bool> {
    const FS_IMMUTABLE_FL: libc::c_long = 0x0000_0010;
    nix::ioctl_read!(get_flags, b'f', 1, libc::c_long);
    nix::ioctl_write_ptr!(set_flags, b'f', 2, libc::c_long);
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(path)?;
    use std::os::fd::AsRawFd;
    let mut flags: libc::c_long = 0;
    // SAFETY: FS_IOC_GETFLAGS/SETFLAGS take a pointer to a long on this fd.
    let got = unsafe { get_flags(file.as_raw_fd(), &mut flags) };
    if got.is_err() {
        return Ok(false);
    }
    let wanted = if on { flags | FS_IMMUTABLE_FL } else { flags & !FS_IMMUTABLE_FL };
    if wanted == flags {
        return Ok(true);
    }
    // SAFETY: as above.
    match unsafe { set_flags(file.as_raw_fd(), &wanted) } {
        Ok(_) => Ok(true),
        Err(nix::errno::Errno::EPERM | nix::errno::Errno::ENOTTY | nix::errno::Errno::EOPNOTSUPP) => Ok(false),
        Err(e) => Err(io::Error::from(e)),
    }
}

/// How a read-back actually bypassed the page cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadBackUsed {
    /// `O_DIRECT`.
    Direct,
    /// Cached pages dropped with `posix_fadvise(DONTNEED)` first (the filesystem refused
    /// `O_DIRECT`, or the configuration asked for it).
    DropCache,
}

impl ReadBackUsed {
    /// Stable name for the catalogue and the custody log.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadBackUsed::Direct => "direct",
            ReadBackUsed::DropCache => "drop-cache",
        }
    }
}

/// A heap buffer aligned for `O_DIRECT`.
struct Aligned {
    ptr: *mut u8,
    layout: Layout,
}

impl Aligned {
    fn new(len: usize) -> Aligned {
        let layout = Layout::from_size_align(len.max(4096), 4096).expect("valid layout");
        // SAFETY: layout has a non-zero size.
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            alloc::handle_alloc_error(layout);
        }
        Aligned { ptr, layout }
    }
    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: ptr is valid for layout.size() bytes, owned by self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.layout.size()) }
    }
}

// SAFETY: an `Aligned` owns its allocation alone, like a `Vec<u8>`; nothing else points into
// it, so it may move to another thread.
unsafe impl Send for Aligned {}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout in `new`.
        unsafe { alloc::dealloc(self.ptr, self.layout) }
    }
}

/// Reads a file back from disk, bypassing the page cache, and returns its size and BLAKE3.
///
/// # Errors
/// On any read error (the copy is then not verified).
pub fn read_back(path: &Path, mode: ReadBack, chunk: usize) -> io::Result<(u64, blake3::Hash, ReadBackUsed)> {
    Rereader::open(path, mode, chunk)?.finish()
}

/// A read-back that may start while the file is still being written.
///
/// With `O_DIRECT`, [`Rereader::step`] reads back, from the disk, a chunk that lies wholly
/// in the part already written (an `O_DIRECT` read first writes that range's cached pages
/// to the disk, then reads the disk); the copy never writes that part again. After the
/// `fsync`, [`Rereader::finish`] reads the rest. The bytes checked are the disk's either way;
/// reading the early part while the copy goes on (in the time a slow link leaves idle) only
/// takes the read-back of a large file off the end of the ingest. Without `O_DIRECT` (a file
/// system that refuses it, or `read_back = "drop-cache"`), nothing is read early: `finish`
/// drops the cached pages and reads the whole file.
pub struct Rereader {
    path: PathBuf,
    file: File,
    /// Allocated at the first read: a file queued between the stages holds no buffer.
    buf: Option<Aligned>,
    chunk: usize,
    hasher: blake3::Hasher,
    done: u64,
    direct: bool,
}

impl Rereader {
    /// Opens `path` for reading back.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn open(path: &Path, mode: ReadBack, chunk: usize) -> io::Result<Rereader> {
        let open =
            |flags| OpenOptions::new().read(true).custom_flags(flags | libc::O_NOFOLLOW | libc::O_CLOEXEC).open(path);
        // A file system that refuses O_DIRECT (EINVAL) is read back through dropped pages.
        let direct = match mode {
            ReadBack::Direct => match open(libc::O_DIRECT) {
                Ok(file) => Some(file),
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => None,
                Err(e) => return Err(e),
            },
            ReadBack::DropCache => None,
        };
        let (file, direct) = match direct {
            Some(file) => (file, true),
            None => (open(0)?, false),
        };
        Ok(Rereader {
            path: path.to_path_buf(),
            file,
            buf: None,
            chunk,
            hasher: blake3::Hasher::new(),
            done: 0,
            direct,
        })
    }

    /// Bytes read back so far.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// Reads back the next chunk if it ends at or before `written` (bytes of the file already
    /// written and never to be written again). Returns whether it read.
    ///
    /// # Errors
    /// On a read error, or a file shorter than `written`.
    pub fn step(&mut self, written: u64) -> io::Result<bool> {
        let len = self.chunk.max(4096);
        if !self.direct || self.done + len as u64 > written {
            return Ok(false);
        }
        let chunk = self.chunk;
        let buf = self.buf.get_or_insert_with(|| Aligned::new(chunk)).as_mut();
        let mut filled = 0;
        while filled < len {
            match self.file.read_at(&mut buf[filled..], self.done + filled as u64) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("{} is shorter than the {written} bytes written", self.path.display()),
                    ))
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    self.buffered()?;
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        self.hasher.update(&buf[..len]);
        self.done += len as u64;
        Ok(true)
    }

    /// Once the file is durable: reads back the rest and returns the size, the BLAKE3 of the
    /// whole file as read back, and how the page cache was bypassed.
    ///
    /// # Errors
    /// On any read error (the copy is then not verified).
    pub fn finish(mut self) -> io::Result<(u64, blake3::Hash, ReadBackUsed)> {
        if !self.direct {
            drop_cache(&self.file);
        }
        let chunk = self.chunk;
        let mut buf = self.buf.take().unwrap_or_else(|| Aligned::new(chunk));
        loop {
            let at = self.done;
            match self.file.read_at(buf.as_mut(), at) {
                Ok(0) => break,
                Ok(n) => {
                    self.hasher.update(&buf.as_mut()[..n]);
                    self.done += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if self.direct && e.raw_os_error() == Some(libc::EINVAL) => self.buffered()?,
                Err(e) => return Err(e),
            }
        }
        let used = if self.direct { ReadBackUsed::Direct } else { ReadBackUsed::DropCache };
        Ok((self.done, self.hasher.finalize(), used))
    }

    /// Falls back to buffered reads after dropping the cache (the file system accepted
    /// `O_DIRECT` at open but refuses the reads), starting again from the first byte.
    fn buffered(&mut self) -> io::Result<()> {
        self.file = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(&self.path)?;
        drop_cache(&self.file);
        self.direct = false;
        self.done = 0;
        self.hasher = blake3::Hasher::new();
        Ok(())
    }
}

/// Asks the kernel to drop the file's cached pages (best effort; the file was fsynced).
pub fn drop_cache(file: &File) {
    drop_cache_range(file, 0, 0);
}

/// Starts writing `len` bytes from `offset` to disk without waiting (best effort:
/// `sync_file_range(SYNC_FILE_RANGE_WRITE)`). Durability still comes only from `fsync`.
pub fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (offset, len) = (offset.min(i64::MAX as u64) as libc::off64_t, len.min(i64::MAX as u64) as libc::off64_t);
    // SAFETY: plain advisory call on an open descriptor.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

/// Asks the kernel to drop the cached pages of `len` bytes from `offset` (`len` 0: to the
/// end). Best effort: only clean pages go, and nothing is lost if the advice is ignored.
/// An ingest streams tens of gigabytes it will never read again through the page cache;
/// dropping them as it goes keeps the station's other pages (the catalogue's among them)
/// in memory and lets the next chunk reuse the memory just freed.
pub fn drop_cache_range(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (offset, len) = (offset.min(i64::MAX as u64) as libc::off_t, len.min(i64::MAX as u64) as libc::off_t);
    // SAFETY: plain advisory call on an open descriptor.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), offset, len, libc::POSIX_FADV_DONTNEED);
    }
}

/// Removes temporary files left under `root` by an interrupted run (they never count as
/// archived: INV-2). Returns their paths.
///
/// # Errors
/// When the tree cannot be walked.
pub fn sweep_temporaries(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let ty = entry.file_type()?;
            let name = entry.file_name();
            if ty.is_dir() {
                stack.push(entry.path());
            } else if ty.is_file() && name.to_string_lossy().starts_with(TEMP_PREFIX) {
                fs::remove_file(entry.path())?;
                fsync_dir(&dir)?;
                removed.push(entry.path());
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acl_names_one_user_and_keeps_the_mode() {
        let acl = acl_with_user(0o600, 4243, 4);
        let words: Vec<(u16, u16, u32)> = acl[4..]
            .chunks(8)
            .map(|c| {
                (
                    u16::from_le_bytes([c[0], c[1]]),
                    u16::from_le_bytes([c[2], c[3]]),
                    u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                )
            })
            .collect();
        assert_eq!(acl[..4], 2u32.to_le_bytes());
        assert_eq!(words, [(1, 6, u32::MAX), (2, 4, 4243), (4, 0, u32::MAX), (0x10, 4, u32::MAX), (0x20, 0, u32::MAX)]);
        assert_eq!(acl_with_user(0o750, 7, 7)[4..][8..16], [2, 0, 7, 0, 7, 0, 0, 0]);
    }

    #[test]
    fn a_granted_file_carries_the_acl_and_its_group_bits_show_the_mask() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("片段.MP4");
        fs::write(&f, b"x").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
        if !grant_user(&f, 4243).unwrap() {
            eprintln!("skipped: this file system keeps no ACLs");
            return;
        }
        let mut buf = [0u8; 64];
        let c = std::ffi::CString::new(f.as_os_str().as_bytes()).unwrap();
        // SAFETY: NUL-terminated strings, a buffer of the stated size.
        let n = unsafe {
            libc::lgetxattr(c.as_ptr(), c"system.posix_acl_access".as_ptr(), buf.as_mut_ptr().cast(), buf.len())
        };
        assert_eq!(&buf[..usize::try_from(n).unwrap()], acl_with_user(0o600, 4243, 4).as_slice());
        assert_eq!(fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o640, "group bits show the mask");
        // A link is never followed: granting on it changes nothing it points to.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert!(!grant_user(&link, 1).unwrap());
    }

    #[test]
    fn staged_file_is_invisible_until_committed_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Staged::new(dir.path(), "a.MP4").unwrap();
        s.file().write_all(b"footage").unwrap();
        s.sync().unwrap();
        assert!(!dir.path().join("a.MP4").exists());
        let p = s.commit("a.MP4").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"footage");

        let mut s = Staged::new(dir.path(), "a.MP4").unwrap();
        s.file().write_all(b"other").unwrap();
        let (s, err) = s.commit("a.MP4").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&p).unwrap(), b"footage", "never overwritten");
        let tmp = s.path().to_path_buf();
        drop(s);
        assert!(!tmp.exists(), "abandoned temporary removed");
    }

    #[test]
    fn read_back_hashes_what_is_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let p = write_new(dir.path(), "x", &data).unwrap();
        for mode in [ReadBack::Direct, ReadBack::DropCache] {
            let (n, h, _) = read_back(&p, mode, 8192).unwrap();
            assert_eq!(n, data.len() as u64);
            assert_eq!(h, blake3::hash(&data));
        }
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, SEALED_MODE);
    }

    #[test]
    fn a_read_back_begun_while_the_file_is_written_checks_every_byte_once() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut staged = Staged::new(dir.path(), "y").unwrap();
        let mut reread = Rereader::open(staged.path(), ReadBack::Direct, 8192).unwrap();
        let direct = reread.direct;
        let mut written = 0;
        for part in data.chunks(30_000) {
            staged.file().write_all(part).unwrap();
            written += part.len() as u64;
            // Only whole chunks below what was written are read early.
            while reread.step(written).unwrap() {}
            assert!(reread.done() <= written);
            if direct {
                assert_eq!(reread.done(), written / 8192 * 8192);
            }
        }
        staged.sync().unwrap();
        let (n, h, used) = reread.finish().unwrap();
        assert_eq!((n, h), (data.len() as u64, blake3::hash(&data)));
        assert_eq!(used == ReadBackUsed::Direct, direct);

        // A byte changed on disk in the part not yet read back is caught by `finish`.
        let mut staged = Staged::new(dir.path(), "z").unwrap();
        let mut reread = Rereader::open(staged.path(), ReadBack::Direct, 8192).unwrap();
        staged.file().write_all(&data).unwrap();
        while reread.step(data.len() as u64).unwrap() {}
        use std::os::unix::fs::FileExt;
        let f = OpenOptions::new().write(true).open(staged.path()).unwrap();
        f.write_all_at(&[data[99_000] ^ 1], 99_000).unwrap();
        staged.sync().unwrap();
        let (_, h, _) = reread.finish().unwrap();
        assert_ne!(h, blake3::hash(&data));

        // Without O_DIRECT nothing is read early.
        let mut reread = Rereader::open(staged.path(), ReadBack::DropCache, 8192).unwrap();
        assert!(!reread.step(u64::MAX).unwrap());
        assert_eq!(reread.done(), 0);
    }

    #[test]
    fn create_dirs_refuses_links_and_sweep_removes_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let made = create_dirs(dir.path(), Path::new("2024/05/01/案/A1")).unwrap();
        assert!(made.is_dir());
        std::os::unix::fs::symlink("/", dir.path().join("link")).unwrap();
        assert!(create_dirs(dir.path(), Path::new("link/x")).is_err());
        assert!(create_dirs(dir.path(), Path::new("../x")).is_err());
        let s = Staged::new(&made, "f").unwrap();
        std::mem::forget(s); // as if the process died
        let removed = sweep_temporaries(dir.path()).unwrap();
        assert_eq!(removed.len(), 1);
        assert_eq!(fs::read_dir(&made).unwrap().count(), 0);
    }
}
