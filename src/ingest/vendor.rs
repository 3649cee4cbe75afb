//! What the ingest does differently for a recorder that does not follow the contract (the
//! `mass-storage`, `ambarella` and `gat947-sdk` adapters): its footage lies in the model's
//! folders, its times come from its file names or its file system (the recorder's clock,
//! unattested), and the dock seals what it read in a manifest, since no chain record can
//! carry a vendor's file names. Files the recorder marked important get a long-term flag
//! naming that mark (R7).
//!
//! The scan is read-only; the seal and the flags are the executor's writes ([`super::exec`]
//! calls them), made in the same order and with the same durability as its own.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io;
use std::path::Path;

use chrono::NaiveDateTime;
use serde_json::json;

use crate::archive::{fsio, layout};
use crate::custody::event::Action;
use crate::dock::volume::{components, display_name, EntryKind, Volume};
use crate::recorder::adapter::model::MAX_DEPTH;
use crate::recorder::adapter::names::{important_mark, NameFacts};
use crate::recorder::adapter::FootageLayout;
use crate::recorder::seal::{self, ManifestFile};
use crate::retention::Trigger;

use super::exec::{Bay, IngestError};
use super::scan::{kind_word, leave, list_or_refuse, refuse, safe_name, Inventory, Item, Limits};

/// Scans a vendor recorder's footage folders: every regular file with a safe name in them or
/// in their subfolders (up to [`MAX_DEPTH`] levels) is footage; links, special files, unsafe
/// names, oversized files and deeper folders are refused and left on the recorder. Nothing
/// outside the footage folders is looked at. Footage is sorted by path.
///
/// # Errors
/// When a folder that exists cannot be read (the volume is probably gone).
pub fn scan_folders(volume: &Volume, limits: Limits, layout: &FootageLayout) -> io::Result<Inventory> {
    let mut out = Inventory::default();
    let mut total = 0usize;
    for folder in &layout.folders {
        walk(volume, limits, folder, 0, &mut total, &mut out)?;
    }
    out.footage.sort_by(|a, b| a.rel.cmp(&b.rel));
    out.refused.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(
    volume: &Volume,
    limits: Limits,
    rel: &str,
    depth: usize,
    total: &mut usize,
    out: &mut Inventory,
) -> io::Result<()> {
    let parts: Vec<&OsStr> = rel.split('/').map(OsStr::new).collect();
    let Some(entries) = list_or_refuse(volume, &parts, rel, limits, out)? else { return Ok(()) };
    for e in entries {
        let shown = format!("{rel}/{}", display_name(&e.name));
        *total += 1;
        if *total > limits.max_entries {
            leave(out, shown, "more entries than ingest.max_files_per_volume: not scanned");
            continue;
        }
        let name = match safe_name(&e.name) {
            Ok(n) => n.to_string(),
            Err(why) => {
                leave(out, shown, format!("{why}: left on the recorder"));
                continue;
            }
        };
        match e.kind {
            EntryKind::Dir if depth < MAX_DEPTH => {
                walk(volume, limits, &format!("{rel}/{name}"), depth + 1, total, out)?
            }
            EntryKind::Dir => {
                leave(out, shown, format!("folder nested more than {MAX_DEPTH} levels deep: not entered"))
            }
            EntryKind::File { size } if size > limits.max_file_bytes => leave(
                out,
                shown,
                format!("{size} bytes, larger than ingest.max_segment_bytes ({})", limits.max_file_bytes),
            ),
            EntryKind::File { size } => out.footage.push(Item { rel: format!("{rel}/{name}"), name, size }),
            k => refuse(out, shown, kind_word(k)),
        }
    }
    Ok(())
}

/// Where a vendor file's time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource {
    /// The file name, as the model's pattern reads it (the recorder's clock).
    FileName,
    /// The file's modification time on the recorder's file system (the recorder's clock).
    FileSystem,
    /// Neither: the docking time stands in, for the archive's dated folder only.
    Docking,
}

impl TimeSource {
    /// How the custody log and the catalogue name it.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeSource::FileName => "file name",
            TimeSource::FileSystem => "file system",
            TimeSource::Docking => "docking time",
        }
    }
    /// Said of a segment's time, in both languages.
    pub fn note(self) -> &'static str {
        match self {
            TimeSource::FileName => {
                "start time from the file name, on the recorder's clock (not attested) / 开始时间取自文件名（记录仪时钟，未经证实）"
            }
            TimeSource::FileSystem => {
                "start time from the file system, on the recorder's clock (not attested) / 开始时间取自文件系统（记录仪时钟，未经证实）"
            }
            TimeSource::Docking => "no start time known: filed by docking time / 无法确定开始时间，按接入时间归档",
        }
    }
}

/// What the dock knows of one vendor file before copying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dated {
    /// Start on the recorder's clock (the docking time when unknown).
    pub start: NaiveDateTime,
    /// Where `start` comes from.
    pub source: TimeSource,
    /// What the name says, where the model's pattern matched.
    pub name: Option<NameFacts>,
    /// The important mark, `MARK (place)`.
    pub important: Option<String>,
}

/// Dates every footage file: by its name where the model's pattern reads a time, else by
/// its modification time (`mtime` returns it as the station's local time), else the docking
/// time. Reads the important marks too.
pub fn date_files(
    layout: &FootageLayout,
    items: &[Item],
    dock_now: NaiveDateTime,
    mut mtime: impl FnMut(&Item) -> Option<NaiveDateTime>,
) -> BTreeMap<String, Dated> {
    items
        .iter()
        .map(|item| {
            let name = layout.pattern.as_ref().and_then(|p| p.read(&item.name));
            let (start, source) = match name.as_ref().and_then(|n| n.start) {
                Some(t) => (t, TimeSource::FileName),
                None => match mtime(item) {
                    Some(t) => (t, TimeSource::FileSystem),
                    None => (dock_now, TimeSource::Docking),
                },
            };
            let important =
                important_mark(&item.rel, &layout.important_marks).map(|m| format!("{} ({})", m.mark, m.place));
            (item.rel.clone(), Dated { start, source, name, important })
        })
        .collect()
}

/// The modification time of a file on the volume, as the station's local time.
pub fn local_mtime(vol: &Volume, rel: &str, tz: chrono_tz::Tz) -> Option<NaiveDateTime> {
    let stamp = vol.stamp(&components(rel)).ok()?;
    let secs = i64::try_from(stamp.mtime_ns.div_euclid(1_000_000_000)).ok()?;
    let t = chrono::DateTime::from_timestamp(secs, 0)?;
    Some(t.with_timezone(&tz).naive_local())
}

/// A vendor file whose name carries a device serial other than the recorder's: footage of
/// another recorder, or a recorder that is not the one the registry says.
pub fn foreign_serial(dated: &BTreeMap<String, Dated>, serial: &str) -> Option<(String, String)> {
    dated.iter().find_map(|(rel, d)| {
        let s = d.name.as_ref()?.serial.as_ref()?;
        (s != serial).then(|| (rel.clone(), s.clone()))
    })
}

/// One file archived from a vendor recorder, for the seal and the flags.
#[derive(Debug, Clone)]
pub struct Sealed<'a> {
    /// The file on the volume.
    pub item: &'a Item,
    /// Bytes read and their BLAKE3.
    pub size: u64,
    /// BLAKE3 of the bytes read.
    pub hash: crate::recorder::format::Digest,
    /// The archived file's catalogue id.
    pub file_id: i64,
}

impl Bay<'_> {
    /// Writes the dock's manifest of what it read from a vendor recorder into the device's
    /// chain folder (durably, read-only), and logs it with its BLAKE3 and the identity
    /// source (`session_verified`, provenance `sealed_at_dock`).
    ///
    /// # Errors
    /// When it cannot be written or logged.
    pub(super) fn write_vendor_seal(
        &self,
        serial: &str,
        docking_id: i64,
        header: &[(&str, String)],
        files: &[Sealed<'_>],
        dated: &BTreeMap<String, Dated>,
        dock_now: NaiveDateTime,
    ) -> Result<(), IngestError> {
        let manifest: Vec<ManifestFile> = files
            .iter()
            .map(|f| {
                let d = dated.get(&f.item.rel);
                ManifestFile {
                    rel: f.item.rel.clone(),
                    size: f.size,
                    hash: f.hash,
                    start: d.filter(|d| d.source != TimeSource::Docking).map(|d| d.start),
                    time_source: d.map_or(TimeSource::Docking, |d| d.source).as_str().to_string(),
                    important: d.and_then(|d| d.important.clone()),
                }
            })
            .collect();
        let text = seal::dock_manifest(header, &manifest);
        let name = format!("DOCK-{docking_id}.SEAL");
        let rel = layout::chain_path(dock_now, serial, &name).expect("safe names");
        let rel = Path::new(&rel);
        let root = &self.config.paths.archive_root;
        let io_err = |source: io::Error, path: std::path::PathBuf| {
            if matches!(source.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT)) {
                IngestError::NoSpace { path }
            } else {
                IngestError::Io { action: "writing the dock seal", path, source }
            }
        };
        let dir =
            fsio::create_dirs(root, rel.parent().unwrap_or(Path::new(""))).map_err(|e| io_err(e, root.join(rel)))?;
        fsio::write_new(&dir, &name, text.as_bytes()).map_err(|e| io_err(e, dir.join(&name)))?;
        let mut details = json!({
            "docking": docking_id, "provenance": "sealed_at_dock", "seal_file": rel.to_string_lossy(),
            "blake3": crate::recorder::format::hex(blake3::hash(text.as_bytes()).as_bytes()), "files": files.len(),
        });
        for (k, v) in header {
            details[*k] = json!(v);
        }
        self.catalog().event(Action::SessionVerified, &format!("session:{serial}/DOCK-{docking_id}"), details)?;
        Ok(())
    }

    /// Sets a long-term flag (R7) on every archived file the recorder marked important,
    /// naming the mark, where it was found and the model; a file already flagged for that
    /// mark (an earlier docking) is not flagged again.
    ///
    /// # Errors
    /// When the catalogue fails.
    pub(super) fn flag_important(
        &self,
        serial: &str,
        model: &str,
        files: &[Sealed<'_>],
        dated: &BTreeMap<String, Dated>,
    ) -> Result<u64, IngestError> {
        let mut flagged = 0;
        for f in files {
            let Some(mark) = dated.get(&f.item.rel).and_then(|d| d.important.as_ref()) else { continue };
            let recording = format!("{serial}/file-{}", f.file_id);
            let reason = format!(
                "marked important on the recorder: {mark} of {} ({model}) / 记录仪重要标记：{mark}",
                f.item.rel
            );
            let mut catalog = self.catalog();
            let already =
                catalog.flags(&recording)?.iter().any(|(_, fl)| fl.withdrawn.is_none() && fl.reason == reason);
            if !already {
                catalog.set_flag(&recording, Trigger::Other, &reason)?;
                flagged += 1;
            }
        }
        Ok(flagged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::adapter::names::NamePattern;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
    }

    #[test]
    fn scans_the_footage_folders_only_and_refuses_what_it_must() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("DCIM/100MEDIA/a/b/c")).unwrap();
        std::fs::create_dir_all(r.join("VIDEO")).unwrap();
        std::fs::write(r.join("DCIM/100MEDIA/FILE0001.MP4"), b"12345").unwrap();
        std::fs::write(r.join("DCIM/100MEDIA/a/b/DEEP.MP4"), b"1").unwrap();
        std::fs::write(r.join("DCIM/100MEDIA/a/b/c/TOODEEP.MP4"), b"1").unwrap();
        std::fs::write(r.join("DCIM/LOOSE.JPG"), b"1").unwrap();
        std::fs::write(r.join("DCIM/BIG.MP4"), vec![0u8; 100]).unwrap();
        std::fs::write(r.join("VIDEO/OTHER.MP4"), b"1").unwrap();
        std::fs::write(r.join("NOTES.TXT"), b"1").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", r.join("DCIM/100MEDIA/L.MP4")).unwrap();
        let v = Volume::open(r).unwrap();
        let layout = FootageLayout { folders: vec!["DCIM".into()], pattern: None, important_marks: vec![] };
        let inv = scan_folders(&v, Limits { max_file_bytes: 50, max_entries: 100 }, &layout).unwrap();
        let rels: Vec<&str> = inv.footage.iter().map(|i| i.rel.as_str()).collect();
        assert_eq!(rels, vec!["DCIM/100MEDIA/FILE0001.MP4", "DCIM/100MEDIA/a/b/DEEP.MP4", "DCIM/LOOSE.JPG"]);
        assert_eq!(inv.footage[0].name, "FILE0001.MP4");
        let refused: Vec<&str> = inv.refused.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(refused, vec!["DCIM/100MEDIA/L.MP4", "DCIM/100MEDIA/a/b/c", "DCIM/BIG.MP4"]);
        assert!(inv.chains.is_empty());
        // A volume without the folder holds no footage, and that is no error.
        let layout = FootageLayout { folders: vec!["RECORD".into()], pattern: None, important_marks: vec![] };
        assert_eq!(
            scan_folders(&v, Limits { max_file_bytes: 50, max_entries: 100 }, &layout).unwrap(),
            Inventory::default()
        );
    }

    #[test]
    fn dates_by_name_else_file_system_else_docking() {
        let layout = FootageLayout {
            folders: vec!["DCIM".into()],
            pattern: Some(NamePattern::parse("{serial}_{badge}_{YYYY}{MM}{DD}{hh}{mm}{ss}_{seq}{*}").unwrap()),
            important_marks: vec!["IMP".into()],
        };
        let item = |rel: &str| Item { rel: rel.into(), name: rel.rsplit('/').next().unwrap().into(), size: 1 };
        let items = vec![
            item("DCIM/20240501/A100001_012345_20240501093015_0001_IMP.MP4"),
            item("DCIM/20240501/NOTE.WAV"),
            item("DCIM/20240501/GONE.WAV"),
        ];
        let now = t("2024-05-02T18:00:00");
        let dated = date_files(&layout, &items, now, |i| (i.name == "NOTE.WAV").then(|| t("2024-05-01T10:00:00")));
        let a = &dated["DCIM/20240501/A100001_012345_20240501093015_0001_IMP.MP4"];
        assert_eq!((a.start, a.source), (t("2024-05-01T09:30:15"), TimeSource::FileName));
        assert_eq!(a.important.as_deref(), Some("IMP (file name)"));
        let b = &dated["DCIM/20240501/NOTE.WAV"];
        assert_eq!(
            (b.start, b.source, b.important.as_deref()),
            (t("2024-05-01T10:00:00"), TimeSource::FileSystem, None)
        );
        assert_eq!(dated["DCIM/20240501/GONE.WAV"].source, TimeSource::Docking);
        assert_eq!(foreign_serial(&dated, "A100001"), None);
        assert_eq!(
            foreign_serial(&dated, "A100002"),
            Some(("DCIM/20240501/A100001_012345_20240501093015_0001_IMP.MP4".into(), "A100001".into()))
        );
    }
}
