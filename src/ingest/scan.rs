//! The volume scanner: an inventory of what a recorder volume holds, sorted into footage,
//! chain files, and entries the dock refuses to touch (hostile or unexpected), each with a
//! reason a custodian can act on.
//!
//! Footage is every regular file at `DCIM/<folder>/<name>` whose name is safe; chain files
//! are regular files `ZFY/CHAIN/*.CHN`. Links, FIFOs, device nodes, unsafe names, oversized
//! files and entries in unexpected places are reported, never opened, never removed.
//!
//! A volume holding more files than `ingest.max_files_per_volume` gives that budget to chain
//! files first (at most half of it, so that every docking takes footage), then to this
//! recorder's segments, other segment names, other media files and anything else, in that
//! order: junk never pushes footage out, whatever its names sort as.
//! What the budget leaves stays on the recorder for a later docking. The scan looks at no more
//! than [`LOOK_FACTOR`] entries per file of the budget, keeps no more than the budget in
//! memory, and reports at most [`MAX_REFUSALS`] refusals one by one (the rest are counted).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io;
use std::ops::ControlFlow;

use crate::archive::layout::is_safe_component;
use crate::dock::volume::{display_name, Entry, EntryKind, Volume};
use crate::recorder::format::{SegmentName, CHAIN_DIR, CHAIN_EXT, FOOTAGE_DIR, MAX_CHAIN_BYTES};

/// A regular file to copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Path on the volume, `/`-separated.
    pub rel: String,
    /// File name.
    pub name: String,
    /// Size when scanned.
    pub size: u64,
}

/// An entry left alone, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Path on the volume, printable (see [`display_name`]).
    pub path: String,
    /// Why it was not touched.
    pub what: String,
    /// It is footage or a chain file left on the recorder, or a folder or a part of the volume
    /// that may hold some (a regular file not taken, a folder not entered, a scan cut short):
    /// the docking is then not safe to undock. A link or a special file is no footage.
    pub footage: bool,
}

/// What a volume holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Footage files, sorted by path.
    pub footage: Vec<Item>,
    /// Chain files, sorted by path.
    pub chains: Vec<Item>,
    /// Entries left alone.
    pub refused: Vec<Refused>,
    /// Files left on the recorder for a later docking because the volume holds more than
    /// `ingest.max_files_per_volume` (each also in `refused`, up to [`MAX_REFUSALS`]).
    pub deferred: u64,
    /// The whole volume was looked at and every file in a footage folder was taken: a
    /// segment that is not in `footage` is not on the recorder.
    pub whole: bool,
}

impl Inventory {
    /// The footage and chain files the scan left on the recorder (see [`Refused::footage`]),
    /// over the budget of files or refused.
    pub fn left_on_recorder(&self) -> Vec<&Refused> {
        self.refused.iter().filter(|r| r.footage).collect()
    }

    /// What is left on the recorder, for people (English, Chinese), or `None` when nothing
    /// is: the docking is then not safe to undock (R3). Names the first few.
    pub fn left_text(&self) -> Option<(String, String)> {
        let left = self.left_on_recorder();
        if left.is_empty() {
            return None;
        }
        let n = left.len();
        let names: Vec<String> = left.iter().take(5).map(|r| format!("{} ({})", r.path, r.what)).collect();
        let more = if n > 5 { ", ..." } else { "" };
        Some((
            format!(
                "not safe to undock: {n} footage or chain file(s) or folder(s) left on the recorder: {}{more}; the \
                 recorder still holds evidence, keep it for the custodian",
                names.join(", ")
            ),
            format!(
                "不可拔出：{n} 个录像、哈希链文件或文件夹留在记录仪上：{}{more}；记录仪仍存有证据，请交保管员处理",
                names.join("，")
            ),
        ))
    }
}

/// Scan limits, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest footage file accepted.
    pub max_file_bytes: u64,
    /// Most files (footage and chain files) taken from one volume; the rest wait on the
    /// recorder for a later docking.
    pub max_entries: usize,
}

/// Entries looked at on one volume per file of the budget (`max_entries`): a volume holding
/// more is not scanned to its end (what was not looked at stays on the recorder).
pub const LOOK_FACTOR: usize = 64;

/// Refused entries reported one by one; the others are counted in one line.
pub const MAX_REFUSALS: usize = 1000;

/// Bytes of chain files read from one volume, in all.
pub const MAX_CHAINS_BYTES: u64 = 4 * MAX_CHAIN_BYTES;

pub(super) fn refuse(out: &mut Inventory, path: String, what: impl Into<String>) {
    out.refused.push(Refused { path, what: what.into(), footage: false });
}

/// Refuses a file or folder that is, or may hold, footage or a chain file: it stays on the
/// recorder, and the docking is not safe to undock.
pub(super) fn leave(out: &mut Inventory, path: String, what: impl Into<String>) {
    out.refused.push(Refused { path, what: what.into(), footage: true });
}

pub(super) fn kind_word(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::File { .. } => "file",
        EntryKind::Dir => "folder",
        EntryKind::Symlink => "symbolic link (never followed)",
        EntryKind::Special => "special file: FIFO, socket or device node (never opened)",
    }
}

/// A safe UTF-8 name, or why not.
pub(super) fn safe_name(name: &OsStr) -> Result<&str, &'static str> {
    let s = name.to_str().ok_or("name is not valid UTF-8")?;
    if s.chars().any(char::is_control) {
        return Err("name contains control characters");
    }
    if s.len() > 200 {
        return Err("name is longer than 200 bytes");
    }
    if !is_safe_component(s) {
        return Err("name is hidden or not a plain file name");
    }
    Ok(s)
}

/// Which footage files the budget takes first (lower first), after the chain files: this
/// recorder's segments (1), other segment names (2), other media files (3), anything else (4).
fn rank(name: &str, serial: &str) -> u8 {
    match SegmentName::parse(name) {
        Some(n) if n.serial == serial => 1,
        Some(_) => 2,
        None => match name.rsplit_once('.') {
            Some((_, ext)) if ["MP4", "WAV", "JPG"].contains(&ext.to_ascii_uppercase().as_str()) => 3,
            _ => 4,
        },
    }
}

pub(super) fn list_or_refuse(
    volume: &Volume,
    rel: &[&OsStr],
    shown: &str,
    limits: Limits,
    out: &mut Inventory,
) -> io::Result<Option<Vec<Entry>>> {
    match volume.list(rel, limits.max_entries) {
        Ok(entries) => Ok(Some(entries)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::Other => {
            leave(out, shown.to_string(), format!("folder not scanned: {e} (ingest.max_files_per_volume)"));
            Ok(None)
        }
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) || e.raw_os_error() == Some(libc::ENOTDIR) => {
            refuse(out, shown.to_string(), "expected a folder, found a link or a file (never followed)");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// A scan under way.
struct Scan<'s> {
    limits: Limits,
    serial: &'s str,
    out: Inventory,
    /// Refusals beyond [`MAX_REFUSALS`].
    more_refused: u64,
    /// Some of them are footage left on the recorder.
    more_footage: bool,
    looked: usize,
    /// The scan stopped at [`LOOK_FACTOR`] entries per file of the budget.
    cut: bool,
    /// Footage files taken so far, best first: (rank, path, name, size).
    taken: BTreeSet<(u8, String, String, u64)>,
}

impl Scan<'_> {
    /// Counts one more entry looked at; breaks once there are too many.
    fn look(&mut self) -> ControlFlow<()> {
        self.looked += 1;
        if self.looked > self.limits.max_entries.saturating_mul(LOOK_FACTOR) {
            self.cut = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    /// Records a refusal. One in a footage folder means the volume may hold a segment the
    /// inventory does not list.
    fn refuse(&mut self, path: String, what: impl Into<String>, in_footage: bool) {
        self.refuse_as(path, what, in_footage, false);
    }

    /// Records a refusal of what is, or may hold, footage or a chain file (see
    /// [`Refused::footage`]).
    fn leave(&mut self, path: String, what: impl Into<String>, in_footage: bool) {
        self.refuse_as(path, what, in_footage, true);
    }

    fn refuse_as(&mut self, path: String, what: impl Into<String>, in_footage: bool, footage: bool) {
        if in_footage {
            self.out.whole = false;
        }
        if self.out.refused.len() < MAX_REFUSALS {
            self.out.refused.push(Refused { path, what: what.into(), footage });
        } else {
            self.more_refused += 1;
            self.more_footage |= footage;
        }
    }

    /// Takes a footage file within what the budget leaves after the chain files; what it
    /// cannot hold any more (the last by rank and path) is left on the recorder.
    fn take(&mut self, rank: u8, rel: String, name: String, size: u64) {
        self.taken.insert((rank, rel, name, size));
        if self.taken.len() > self.limits.max_entries.saturating_sub(self.out.chains.len()) {
            if let Some((_, rel, _, _)) = self.taken.pop_last() {
                self.defer(rel);
            }
        }
    }

    /// Leaves a file on the recorder for a later docking: the budget is spent.
    fn defer(&mut self, rel: String) {
        self.out.deferred += 1;
        let what = format!(
            "more files than ingest.max_files_per_volume ({}): left on the recorder for the next docking \
             (chain files and footage are taken first)",
            self.limits.max_entries
        );
        self.leave(rel, what, true);
    }

    /// Walks one folder with `f`: an absent folder holds nothing; a link or a file where the
    /// folder should be is refused.
    fn walk(
        &mut self,
        volume: &Volume,
        rel: &[&OsStr],
        shown: &str,
        in_footage: bool,
        mut f: impl FnMut(&mut Self, Entry),
    ) -> io::Result<()> {
        let walked = volume.for_each_entry(rel, |e| {
            if self.look().is_break() {
                return ControlFlow::Break(());
            }
            f(self, e);
            ControlFlow::Continue(())
        });
        match walked {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) || e.raw_os_error() == Some(libc::ENOTDIR) => {
                self.refuse(
                    shown.to_string(),
                    "expected a folder, found a link or a file (never followed)",
                    in_footage,
                );
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn finish(mut self) -> Inventory {
        let taken = std::mem::take(&mut self.taken);
        self.out.footage = taken.into_iter().map(|(_, rel, name, size)| Item { rel, name, size }).collect();
        self.out.chains.sort_by(|a, b| a.rel.cmp(&b.rel));
        self.out.footage.sort_by(|a, b| a.rel.cmp(&b.rel));
        self.out.refused.sort_by(|a, b| a.path.cmp(&b.path));
        if self.more_refused > 0 {
            self.out.refused.push(Refused {
                path: "DCIM, ZFY/CHAIN".into(),
                what: format!(
                    "{} more entries refused or left for a later docking, as those listed: left on the recorder",
                    self.more_refused
                ),
                footage: self.more_footage,
            });
        }
        if self.cut {
            self.out.whole = false;
            self.out.refused.push(Refused {
                path: "(volume)".into(),
                what: format!(
                    "not scanned to its end: more than {} entries ({LOOK_FACTOR} per file of \
                     ingest.max_files_per_volume); what was not looked at stays on the recorder",
                    self.limits.max_entries.saturating_mul(LOOK_FACTOR)
                ),
                footage: true,
            });
        }
        self.out
    }
}

/// Scans a volume; `serial` is the recorder's, whose segments the budget takes first.
///
/// # Errors
/// When a folder that exists cannot be read (the volume is probably gone).
pub fn scan(volume: &Volume, limits: Limits, serial: &str) -> io::Result<Inventory> {
    let mut s = Scan {
        limits,
        serial,
        out: Inventory { whole: true, ..Inventory::default() },
        more_refused: 0,
        more_footage: false,
        looked: 0,
        cut: false,
        taken: BTreeSet::new(),
    };

    // Chain files first: they are what footage is judged by.
    let chain_rel: Vec<&OsStr> = CHAIN_DIR.split('/').map(OsStr::new).collect();
    let mut chains: Vec<(String, u64)> = Vec::new();
    s.walk(volume, &chain_rel, CHAIN_DIR, false, |s, e| {
        let shown = format!("{CHAIN_DIR}/{}", display_name(&e.name));
        let size = match e.kind {
            EntryKind::File { size } => size,
            k => return s.refuse(shown, kind_word(k), false),
        };
        let name = match safe_name(&e.name) {
            Ok(n) => n.to_string(),
            Err(why) => return s.leave(shown, why, false),
        };
        if !name.to_ascii_uppercase().ends_with(&format!(".{CHAIN_EXT}")) {
            return s.refuse(shown, "not a chain file (.CHN): ignored", false);
        }
        if size > MAX_CHAIN_BYTES {
            return s.leave(shown, format!("chain file of {size} bytes, larger than {MAX_CHAIN_BYTES}"), false);
        }
        chains.push((name, size));
    })?;
    // At most half the budget: footage always has room, so that every docking takes some
    // (a chain file leaves the recorder only once the segments it attests are archived).
    chains.sort();
    let mut chain_bytes = 0u64;
    for (name, size) in chains {
        chain_bytes = chain_bytes.saturating_add(size);
        let rel = format!("{CHAIN_DIR}/{name}");
        if chain_bytes > MAX_CHAINS_BYTES {
            s.leave(rel, format!("chain files of more than {MAX_CHAINS_BYTES} bytes in all: not read"), false);
        } else if s.out.chains.len() >= s.limits.max_entries / 2 {
            s.defer(rel);
        } else {
            s.out.chains.push(Item { rel, name, size });
        }
    }

    let mut folders: Vec<String> = Vec::new();
    if !s.cut {
        s.walk(volume, &[OsStr::new(FOOTAGE_DIR)], FOOTAGE_DIR, true, |s, folder| {
            let shown = format!("{FOOTAGE_DIR}/{}", display_name(&folder.name));
            match folder.kind {
                EntryKind::Dir => match safe_name(&folder.name) {
                    Ok(n) => folders.push(n.to_string()),
                    Err(why) => s.leave(shown, format!("folder {why}: not entered"), true),
                },
                EntryKind::File { .. } => s.leave(shown, "footage outside a dated folder: left on the recorder", true),
                k => s.refuse(shown, kind_word(k), true),
            }
        })?;
    }
    folders.sort();
    for folder_name in folders {
        if s.cut {
            break;
        }
        let rel = [OsStr::new(FOOTAGE_DIR), OsStr::new(&folder_name)];
        let shown = format!("{FOOTAGE_DIR}/{folder_name}");
        s.walk(volume, &rel, &shown, true, |s, f| {
            let shown = format!("{shown}/{}", display_name(&f.name));
            let size = match f.kind {
                EntryKind::File { size } => size,
                EntryKind::Dir => return s.leave(shown, "unexpected folder inside a dated folder: not entered", true),
                k => return s.refuse(shown, kind_word(k), true),
            };
            let name = match safe_name(&f.name) {
                Ok(n) => n.to_string(),
                Err(why) => return s.leave(shown, format!("{why}: left on the recorder"), true),
            };
            if size > s.limits.max_file_bytes {
                let what = format!("{size} bytes, larger than ingest.max_segment_bytes ({})", s.limits.max_file_bytes);
                return s.leave(shown, what, true);
            }
            let r = rank(&name, s.serial);
            s.take(r, format!("{FOOTAGE_DIR}/{folder_name}/{name}"), name, size);
        })?;
    }
    Ok(s.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn sorts_footage_chains_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("DCIM/20240501")).unwrap();
        std::fs::create_dir_all(r.join("ZFY/CHAIN")).unwrap();
        std::fs::write(r.join("DCIM/20240501/A.MP4"), b"12345").unwrap();
        std::fs::write(r.join("DCIM/20240501/BIG.MP4"), vec![0u8; 100]).unwrap();
        std::fs::write(r.join(OsStr::from_bytes(b"DCIM/20240501/bad\xff.MP4")), b"x").unwrap();
        std::fs::write(r.join("DCIM/20240501/esc\x1b.MP4"), b"x").unwrap();
        std::fs::write(r.join("DCIM/loose.MP4"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", r.join("DCIM/20240501/L.MP4")).unwrap();
        std::os::unix::fs::symlink("/", r.join("DCIM/20990101")).unwrap();
        std::fs::write(r.join("ZFY/CHAIN/S1.CHN"), b"").unwrap();
        std::os::unix::fs::symlink("/dev/zero", r.join("ZFY/CHAIN/Z.CHN")).unwrap();
        let v = Volume::open(r).unwrap();
        let inv = scan(&v, Limits { max_file_bytes: 50, max_entries: 100 }, "A123456").unwrap();
        assert_eq!(inv.footage, vec![Item { rel: "DCIM/20240501/A.MP4".into(), name: "A.MP4".into(), size: 5 }]);
        assert_eq!(inv.chains.len(), 1);
        let refused: Vec<_> = inv.refused.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            refused,
            vec![
                "DCIM/20240501/BIG.MP4",
                "DCIM/20240501/L.MP4",
                "DCIM/20240501/bad\\xff.MP4",
                "DCIM/20240501/esc\\u{1b}.MP4",
                "DCIM/20990101",
                "DCIM/loose.MP4",
                "ZFY/CHAIN/Z.CHN",
            ]
        );
        assert!(inv.refused[1].what.contains("never followed"));
    }
}
