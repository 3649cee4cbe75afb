//! The volume scanner: an inventory of what a recorder volume holds, sorted into footage,
//! chain files, and entries the dock refuses to touch (hostile or unexpected), each with a
//! reason a custodian can act on.
//!
//! Footage is every regular file at `DCIM/<folder>/<name>` whose name is safe; chain files
//! are regular files `ZFY/CHAIN/*.CHN`. Links, FIFOs, device nodes, unsafe names, oversized
//! files and entries in unexpected places are reported, never opened, never removed.

use std::ffi::OsStr;
use std::io;

use crate::archive::layout::is_safe_component;
use crate::dock::volume::{display_name, Entry, EntryKind, Volume};
use crate::recorder::format::{CHAIN_DIR, CHAIN_EXT, FOOTAGE_DIR, MAX_CHAIN_BYTES};

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
}

/// Scan limits, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest footage file accepted.
    pub max_file_bytes: u64,
    /// Most entries in one folder, and in all.
    pub max_entries: usize,
}

pub(super) fn refuse(out: &mut Inventory, path: String, what: impl Into<String>) {
    out.refused.push(Refused { path, what: what.into() });
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
            refuse(out, shown.to_string(), format!("folder not scanned: {e} (ingest.max_files_per_volume)"));
            Ok(None)
        }
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) || e.raw_os_error() == Some(libc::ENOTDIR) => {
            refuse(out, shown.to_string(), "expected a folder, found a link or a file (never followed)");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Scans a volume.
///
/// # Errors
/// When a folder that exists cannot be read (the volume is probably gone).
pub fn scan(volume: &Volume, limits: Limits) -> io::Result<Inventory> {
    let mut out = Inventory::default();
    let mut total = 0usize;

    if let Some(dated) = list_or_refuse(volume, &[OsStr::new(FOOTAGE_DIR)], FOOTAGE_DIR, limits, &mut out)? {
        for folder in dated {
            let shown = format!("{FOOTAGE_DIR}/{}", display_name(&folder.name));
            if folder.kind != EntryKind::Dir {
                match folder.kind {
                    EntryKind::File { .. } => {
                        refuse(&mut out, shown, "footage outside a dated folder: left on the recorder")
                    }
                    k => refuse(&mut out, shown, kind_word(k)),
                }
                continue;
            }
            let folder_name = match safe_name(&folder.name) {
                Ok(n) => n.to_string(),
                Err(why) => {
                    refuse(&mut out, shown, format!("folder {why}: not entered"));
                    continue;
                }
            };
            let rel = [OsStr::new(FOOTAGE_DIR), OsStr::new(&folder_name)];
            let Some(files) = list_or_refuse(volume, &rel, &shown, limits, &mut out)? else { continue };
            for f in files {
                let shown = format!("{shown}/{}", display_name(&f.name));
                total += 1;
                if total > limits.max_entries {
                    refuse(&mut out, shown, "more entries than ingest.max_files_per_volume: not scanned");
                    continue;
                }
                let size = match f.kind {
                    EntryKind::File { size } => size,
                    EntryKind::Dir => {
                        refuse(&mut out, shown, "unexpected folder inside a dated folder: not entered");
                        continue;
                    }
                    k => {
                        refuse(&mut out, shown, kind_word(k));
                        continue;
                    }
                };
                let name = match safe_name(&f.name) {
                    Ok(n) => n.to_string(),
                    Err(why) => {
                        refuse(&mut out, shown, format!("{why}: left on the recorder"));
                        continue;
                    }
                };
                if size > limits.max_file_bytes {
                    refuse(
                        &mut out,
                        shown,
                        format!("{size} bytes, larger than ingest.max_segment_bytes ({})", limits.max_file_bytes),
                    );
                    continue;
                }
                out.footage.push(Item { rel: format!("{FOOTAGE_DIR}/{folder_name}/{name}"), name, size });
            }
        }
    }

    let chain_rel: Vec<&OsStr> = CHAIN_DIR.split('/').map(OsStr::new).collect();
    if let Some(entries) = list_or_refuse(volume, &chain_rel, CHAIN_DIR, limits, &mut out)? {
        for e in entries {
            let shown = format!("{CHAIN_DIR}/{}", display_name(&e.name));
            let size = match e.kind {
                EntryKind::File { size } => size,
                k => {
                    refuse(&mut out, shown, kind_word(k));
                    continue;
                }
            };
            let name = match safe_name(&e.name) {
                Ok(n) => n.to_string(),
                Err(why) => {
                    refuse(&mut out, shown, why);
                    continue;
                }
            };
            if !name.to_ascii_uppercase().ends_with(&format!(".{CHAIN_EXT}")) {
                refuse(&mut out, shown, "not a chain file (.CHN): ignored");
                continue;
            }
            if size > MAX_CHAIN_BYTES {
                refuse(&mut out, shown, format!("chain file of {size} bytes, larger than {MAX_CHAIN_BYTES}"));
                continue;
            }
            out.chains.push(Item { rel: format!("{CHAIN_DIR}/{name}"), name, size });
        }
    }
    Ok(out)
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
        let inv = scan(&v, Limits { max_file_bytes: 50, max_entries: 100 }).unwrap();
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
