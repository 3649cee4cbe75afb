//! The simulator of recorders that do not follow the contract, behind `evidock sim recorder
//! --kind mass-storage|ambarella-image`: volumes shaped like the body cameras bureaus own
//! today. No identity file, no chain: file names carry the device serial, the officer's badge
//! and the start time on the recorder's clock, some are marked important, and each file's
//! modification time is the end of its recording on the recorder's clock (as a FAT volume
//! keeps local time).
//!
//! Owns: the two shapes and the model-table entry that reads each ([`VendorShape::model`]).
//! Must never: write into a folder that is not empty.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use chrono::{Duration, NaiveDateTime, TimeZone};

use super::format::Digest;
use super::sim::SimError;

/// What a simulated vendor recorder looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VendorShape {
    /// A recorder that is a plain USB disk: `DCIM/<YYYYMMDD>/<serial>_<badge>_<YYYYMMDDhhmmss>_<NNNN>[_IMP].MP4`.
    MassStorage,
    /// The storage of an Ambarella A9 camera in disk mode:
    /// `DCIM/100MEDIA/<YYYY>_<MMDD>_<hhmmss>_<NNN>_<badge>_<serial>[_EMR].MP4`.
    AmbarellaImage,
}

/// The model-table keys that read a shape's volumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelKeys {
    /// `adapter`
    pub adapter: &'static str,
    /// `footage`
    pub footage: &'static [&'static str],
    /// `name_pattern`
    pub name_pattern: &'static str,
    /// `important_marks`
    pub important_marks: &'static [&'static str],
}

impl VendorShape {
    /// The `--kind` name.
    pub fn as_str(self) -> &'static str {
        match self {
            VendorShape::MassStorage => "mass-storage",
            VendorShape::AmbarellaImage => "ambarella-image",
        }
    }

    /// The model-table entry for recorders of this shape.
    pub fn model(self) -> ModelKeys {
        match self {
            VendorShape::MassStorage => ModelKeys {
                adapter: "mass-storage",
                footage: &["DCIM"],
                name_pattern: "{serial}_{badge}_{YYYY}{MM}{DD}{hh}{mm}{ss}_{seq}{*}",
                important_marks: &["IMP"],
            },
            VendorShape::AmbarellaImage => ModelKeys {
                adapter: "ambarella",
                footage: &["DCIM"],
                name_pattern: "{YYYY}_{MM}{DD}_{hh}{mm}{ss}_{seq}_{badge}_{serial}{*}",
                important_marks: &["EMR"],
            },
        }
    }

    fn path(self, o: &VendorSimOptions, start: NaiveDateTime, seq: u64, ext: &str, important: bool) -> String {
        match self {
            VendorShape::MassStorage => format!(
                "DCIM/{}/{}_{}_{}_{seq:04}{}.{ext}",
                start.format("%Y%m%d"),
                o.serial,
                o.badge,
                start.format("%Y%m%d%H%M%S"),
                if important { "_IMP" } else { "" }
            ),
            VendorShape::AmbarellaImage => format!(
                "DCIM/100MEDIA/{}_{seq:03}_{}_{}{}.{ext}",
                start.format("%Y_%m%d_%H%M%S"),
                o.badge,
                o.serial,
                if important { "_EMR" } else { "" }
            ),
        }
    }
}

/// What to write.
#[derive(Debug, Clone)]
pub struct VendorSimOptions {
    /// Shape.
    pub shape: VendorShape,
    /// Device serial written in the names.
    pub serial: String,
    /// Officer badge written in the names.
    pub badge: String,
    /// Video files.
    pub videos: u32,
    /// Photos, taken at the first video's start.
    pub photos: u32,
    /// Size of each video.
    pub video_bytes: u64,
    /// First recording's start, true time.
    pub start: NaiveDateTime,
    /// Length of one video in seconds.
    pub video_duration_s: u32,
    /// How many videos, from the last one back, the officer marked important.
    pub important: u32,
    /// Recorder clock minus true time, in seconds.
    pub clock_drift_s: i64,
    /// First sequence number.
    pub first_seq: u64,
    /// Seed of the content.
    pub seed: u64,
    /// The recorder's time zone, for its file system's times.
    pub timezone: chrono_tz::Tz,
}

/// One file written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorFile {
    /// Path on the volume.
    pub path: String,
    /// Start on the recorder's clock.
    pub start: NaiveDateTime,
    /// Size.
    pub size: u64,
    /// BLAKE3.
    pub blake3: Digest,
    /// Marked important in its name.
    pub important: bool,
}

fn io_err<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> SimError + 'p {
    move |source| SimError::Io { action, path: path.to_path_buf(), source }
}

/// Writes a vendor recorder volume into `out` (created if needed; refused when not empty).
///
/// # Errors
/// On invalid options, a non-empty `out`, or a failed file operation.
pub fn write_vendor(out: &Path, o: &VendorSimOptions) -> Result<Vec<VendorFile>, SimError> {
    let id_ok = |s: &str| (1..=16).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric());
    if !id_ok(&o.serial) {
        return Err(SimError::Invalid { option: "serial", reason: "1-16 letters or digits".into() });
    }
    if !id_ok(&o.badge) {
        return Err(SimError::Invalid { option: "badge", reason: "1-16 letters or digits".into() });
    }
    if o.important > o.videos {
        return Err(SimError::Invalid { option: "important", reason: "cannot exceed the number of videos".into() });
    }
    fs::create_dir_all(out).map_err(io_err("create folder", out))?;
    if fs::read_dir(out).map_err(io_err("list", out))?.next().is_some() {
        return Err(SimError::NotEmpty(out.to_path_buf()));
    }
    let drift = Duration::seconds(o.clock_drift_s);
    let mut files = Vec::new();
    let mut seq = o.first_seq;
    let mut plan: Vec<(NaiveDateTime, NaiveDateTime, &str, u64, bool)> = Vec::new();
    for p in 0..o.photos {
        let t = o.start + Duration::seconds(i64::from(p));
        plan.push((t, t, "JPG", 4096 + u64::from(p) * 512, false));
    }
    for v in 0..o.videos {
        let t = o.start + Duration::seconds(i64::from(v) * i64::from(o.video_duration_s));
        let end = t + Duration::seconds(i64::from(o.video_duration_s));
        plan.push((t, end, "MP4", o.video_bytes, v >= o.videos - o.important));
    }
    for (start, end, ext, size, important) in plan {
        let start = start + drift;
        let rel = o.shape.path(o, start, seq, ext, important);
        let path = out.join(&rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io_err("create folder", dir))?;
        }
        let blake3 = write_content(&path, o, seq, size)?;
        // The recorder's file system keeps local time: the end of the recording, its clock.
        if let Some(t) = o.timezone.from_local_datetime(&(end + drift)).earliest() {
            let file = File::options().write(true).open(&path).map_err(io_err("open", &path))?;
            file.set_modified(t.into()).map_err(io_err("set the time of", &path))?;
        }
        files.push(VendorFile { path: rel, start, size, blake3, important });
        seq += 1;
    }
    Ok(files)
}

fn write_content(path: &Path, o: &VendorSimOptions, seq: u64, size: u64) -> Result<Digest, SimError> {
    let mut xof = {
        let mut h = blake3::Hasher::new_derive_key("evidock vendor sim content v1");
        h.update(&o.seed.to_le_bytes()).update(o.serial.as_bytes()).update(&seq.to_le_bytes());
        h.finalize_xof()
    };
    let mut file = File::create(path).map_err(io_err("create", path))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut left = size;
    while left > 0 {
        let chunk = &mut buf[..left.min(1 << 16) as usize];
        xof.fill(chunk);
        hasher.update(chunk);
        file.write_all(chunk).map_err(io_err("write", path))?;
        left -= chunk.len() as u64;
    }
    file.sync_all().map_err(io_err("sync", path))?;
    Ok(*hasher.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::adapter::names::{important_mark, NamePattern};

    fn opts(shape: VendorShape) -> VendorSimOptions {
        VendorSimOptions {
            shape,
            serial: "A100001".into(),
            badge: "012345".into(),
            videos: 3,
            photos: 1,
            video_bytes: 1000,
            start: NaiveDateTime::parse_from_str("2024-05-01T09:00:00", "%Y-%m-%dT%H:%M:%S").unwrap(),
            video_duration_s: 600,
            important: 1,
            clock_drift_s: 90,
            first_seq: 7,
            seed: 1,
            timezone: chrono_tz::Asia::Shanghai,
        }
    }

    #[test]
    fn each_shape_is_read_back_by_its_own_model_entry() {
        for shape in [VendorShape::MassStorage, VendorShape::AmbarellaImage] {
            let dir = tempfile::tempdir().unwrap();
            let files = write_vendor(&dir.path().join("v"), &opts(shape)).unwrap();
            assert_eq!(files.len(), 4);
            assert!(!dir.path().join("v/ZFYINFO.TXT").exists(), "no identity file");
            let model = shape.model();
            let pattern = NamePattern::parse(model.name_pattern).unwrap();
            let marks: Vec<String> = model.important_marks.iter().map(|s| s.to_string()).collect();
            for f in &files {
                let name = f.path.rsplit('/').next().unwrap();
                let facts = pattern.read(name).unwrap_or_else(|| panic!("{shape:?}: {name} does not match"));
                assert_eq!(facts.serial.as_deref(), Some("A100001"));
                assert_eq!(facts.badge.as_deref(), Some("012345"));
                assert_eq!(facts.start, Some(f.start), "{name}: recorder clock, drift included");
                assert_eq!(important_mark(&f.path, &marks).is_some(), f.important, "{name}");
                let bytes = std::fs::read(dir.path().join("v").join(&f.path)).unwrap();
                assert_eq!(*blake3::hash(&bytes).as_bytes(), f.blake3);
            }
            assert_eq!(files.iter().filter(|f| f.important).count(), 1);
            assert!(matches!(write_vendor(&dir.path().join("v"), &opts(shape)), Err(SimError::NotEmpty(_))));
        }
    }
}
