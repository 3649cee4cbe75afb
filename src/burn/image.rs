//! The `xorriso` edge: build a disc image from a staged bag, write it with a configurable
//! command, and read a disc or image back: the medium check, the MD5 session check, the
//! volume id, and the extraction of every file without mounting.
//!
//! Images are ISO 9660 with Rock Ridge and Joliet, ISO level 3 (files over 4 GiB are
//! stored in several extents), MD5 checksums of the session and of every file (`-md5 on`),
//! and the disc label as volume id.
//!
//! Owns: every command line given to xorriso and the reading of its reports.
//! Must never: write anywhere but the image, the device and the extraction folder it is
//! given; call a disc good on an output it does not understand.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::BurnError;

/// The program.
pub const XORRISO: &str = "xorriso";

fn run(program: &str, args: &[String]) -> Result<String, BurnError> {
    let out = Command::new(program).args(args).output().map_err(|e| BurnError::Tool {
        program: program.to_string(),
        message: if e.kind() == std::io::ErrorKind::NotFound {
            format!("not installed ({e}); install it (Debian: apt-get install xorriso)")
        } else {
            format!("cannot run: {e}")
        },
    })?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(BurnError::Tool {
            program: program.to_string(),
            message: format!("{} {}: {}\n{}", program, args.join(" "), out.status, tail(&text)),
        });
    }
    Ok(text)
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn s(v: &str) -> String {
    v.to_string()
}

/// The xorriso arguments that make a disc of `bag` with volume id `label` on `outdev` (an
/// image file or a burner), closed, MD5 checksums on.
pub fn build_args(bag: &Path, outdev: &str, label: &str) -> Vec<String> {
    vec![
        s("-md5"),
        s("on"),
        s("-outdev"),
        s(outdev),
        s("-volid"),
        s(label),
        s("-joliet"),
        s("on"),
        s("-rockridge"),
        s("on"),
        s("-compliance"),
        s("iso_9660_level=3"),
        s("-map"),
        bag.display().to_string(),
        s("/"),
        s("-close"),
        s("on"),
        s("-commit"),
    ]
}

/// Builds the ISO image `image` (which must not exist) from a staged bag.
///
/// # Errors
/// When xorriso is missing or fails, or the image exists.
pub fn build_image(bag: &Path, image: &Path, label: &str) -> Result<(), BurnError> {
    if image.exists() {
        return Err(BurnError::Io {
            doing: "building the image",
            path: image.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "the image already exists"),
        });
    }
    run(XORRISO, &build_args(bag, &format!("stdio:{}", image.display()), label))?;
    Ok(())
}

/// The write command with its placeholders filled: `{image}`, `{device}`, `{label}`, `{bag}`.
pub fn fill(template: &[String], image: &Path, device: &str, label: &str, bag: &Path) -> Vec<String> {
    template
        .iter()
        .map(|a| {
            a.replace("{image}", &image.display().to_string())
                .replace("{device}", device)
                .replace("{label}", label)
                .replace("{bag}", &bag.display().to_string())
        })
        .collect()
}

/// Runs a filled write command.
///
/// # Errors
/// When it is empty, cannot start, or fails.
pub fn write(argv: &[String]) -> Result<(), BurnError> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| BurnError::Tool { program: "burn.write_command".into(), message: "is empty".into() })?;
    run(program, args)?;
    Ok(())
}

/// Where a disc is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An image file.
    Image(PathBuf),
    /// An optical drive, e.g. `/dev/sr0`.
    Device(PathBuf),
}

impl Source {
    fn indev(&self) -> String {
        match self {
            Source::Image(p) => format!("stdio:{}", p.display()),
            Source::Device(p) => p.display().to_string(),
        }
    }

    /// Shown in messages and events.
    pub fn describe(&self) -> String {
        match self {
            Source::Image(p) => format!("image {}", p.display()),
            Source::Device(p) => format!("device {}", p.display()),
        }
    }
}

/// What the medium checks said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediumReport {
    /// The volume id (disc label).
    pub label: Option<String>,
    /// Problems: unreadable regions, session MD5 mismatch, files whose MD5 differs.
    pub problems: Vec<String>,
    /// Files whose MD5 differs (ISO paths, e.g. `/data/...`).
    pub bad_files: Vec<String>,
}

/// Parses the report of `-check_media`: the volume id, regions read, and the session MD5 tag.
pub fn parse_check_media(text: &str) -> MediumReport {
    let mut r = MediumReport { label: None, problems: Vec::new(), bad_files: Vec::new() };
    let mut regions = 0;
    let mut md5_seen = false;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Volume id") {
            let v = v.trim_start().trim_start_matches(':').trim();
            r.label = Some(v.trim_matches('\'').to_string());
        } else if let Some(v) = line.strip_prefix("Media region :") {
            regions += 1;
            let quality = v.split(',').nth(2).unwrap_or("").trim();
            if quality.starts_with('-') {
                r.problems.push(format!("unreadable region (lba, blocks, quality): {}", v.trim()));
            }
        } else if let Some(v) = line.strip_prefix("MD5 tag range:") {
            md5_seen = true;
            if !v.contains("md5_match") {
                r.problems.push(format!("session MD5 does not match: {}", v.trim()));
            }
        }
    }
    if regions == 0 {
        r.problems.push("xorriso -check_media reported no region read".into());
    }
    if !md5_seen {
        r.problems.push("no session MD5 tag found: the disc was not written with -md5 on".into());
    }
    r
}

/// Parses the report of `-check_md5_r`: the files whose MD5 differs.
pub fn parse_check_md5(text: &str) -> (bool, Vec<String>) {
    let bad: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("MD5 MISMATCH:"))
        .map(|p| p.trim().trim_matches('\'').to_string())
        .collect();
    let ok = bad.is_empty() && text.contains("File contents and their MD5 checksums match");
    (ok, bad)
}

/// Checks the medium: every block read (`-check_media`), the session MD5 tag, and every
/// file's MD5 (`-check_md5_r`). Damage is reported in the answer, not as an error.
///
/// # Errors
/// When xorriso is missing or cannot open the source.
pub fn check_medium(src: &Source) -> Result<MediumReport, BurnError> {
    let indev = src.indev();
    let text = run(XORRISO, &[s("-md5"), s("on"), s("-indev"), indev.clone(), s("-check_media"), s("--")])?;
    let mut report = parse_check_media(&text);
    // -check_md5_r exits non-zero on a mismatch: read its report either way.
    let out = Command::new(XORRISO)
        .args(["-md5", "on", "-indev", &indev, "-check_md5_r", "FAILURE", "/", "--"])
        .output()
        .map_err(|e| BurnError::Tool { program: XORRISO.into(), message: format!("cannot run: {e}") })?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let (ok, bad) = parse_check_md5(&text);
    if !ok {
        report.problems.push(if bad.is_empty() {
            format!("xorriso -check_md5_r did not confirm the files' MD5: {}", tail(&text))
        } else {
            format!("files whose MD5 differs: {}", bad.join(", "))
        });
    }
    report.bad_files = bad;
    Ok(report)
}

/// Extracts every file of the disc into the new folder `dest`, without mounting.
///
/// # Errors
/// When xorriso is missing or fails.
pub fn extract(src: &Source, dest: &Path) -> Result<(), BurnError> {
    run(
        XORRISO,
        &[s("-osirrox"), s("on"), s("-indev"), src.indev(), s("-extract"), s("/"), dest.display().to_string()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_check_media_reports() {
        let good = "Volume id    : 'EVIDOCK_J00001_D01_OF_01'\nMedia checks :        lba ,       size , quality\n\
                    Media region :          0 ,        215 , + good\nMedia region :        215 ,        169 , 0 untested\n\
                    MD5 checks   :        lba ,       size , result\nMD5 tag range:         32 ,        182 , + md5_match\n";
        let r = parse_check_media(good);
        assert_eq!(r.label.as_deref(), Some("EVIDOCK_J00001_D01_OF_01"));
        assert_eq!(r.problems, Vec::<String>::new());
        let bad = good.replace("+ md5_match", "0 md5_mismatch").replace("+ good", "- unreadable");
        assert_eq!(parse_check_media(&bad).problems.len(), 2);
        assert!(!parse_check_media("Volume id : 'X'\n").problems.is_empty(), "nothing understood is not good");
    }

    #[test]
    fn reads_check_md5_reports() {
        assert_eq!(parse_check_md5("File contents and their MD5 checksums match.\n"), (true, vec![]));
        let (ok, bad) = parse_check_md5("MD5 MISMATCH: '/data/a/f1.bin'\nMismatch detected\n");
        assert!(!ok);
        assert_eq!(bad, ["/data/a/f1.bin"]);
        assert!(!parse_check_md5("Not a single file with MD5 checksum was found.").0);
    }

    #[test]
    fn write_commands_fill_their_placeholders() {
        let t: Vec<String> = ["xorriso", "-outdev", "{device}", "-volid", "{label}", "-map", "{bag}", "/", "{image}"]
            .map(String::from)
            .to_vec();
        let f = fill(&t, Path::new("/i.iso"), "/dev/sr0", "L", Path::new("/b"));
        assert_eq!(f.join(" "), "xorriso -outdev /dev/sr0 -volid L -map /b / /i.iso");
    }
}
