//! One disc staged as a BagIt bag (RFC 8493), and the check of a bag read back from a disc.
//!
//! A staged disc:
//! ```text
//! bagit.txt                      BagIt-Version 1.0, UTF-8
//! bag-info.txt                   bureau, cases, maker 制作人, extractor 提取人, time 提取时间, disc n of m
//! README.txt                     how to verify the disc offline, in Chinese and English
//! manifest-sha512.txt            every payload file (the algorithm every BagIt tool supports)
//! manifest-sha256.txt
//! manifest-blake3.txt            evidock's own fast check; standard validators ignore it
//! custody/                       the custody files (checkpoint, public key, log extract)
//! tagmanifest-sha512.txt         every file outside data/ but the tag manifests
//! tagmanifest-sha256.txt
//! data/YYYY/MM/DD/<case>/<serial>/<file>   the footage, as in the archive (R4)
//! ```
//!
//! Owns: the bag's layout and text, staging (hard link when the archive is on the same file
//! system, else a copy), the fixity check that computing the manifests does (every file read
//! back and its BLAKE3 compared with the catalogue's), and [`check_bag`].
//! Must never: write to the archive, or leave a file in the bag unread.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256, Sha512};

use super::plan::DiscPlan;
use super::BurnError;

/// The bag's custody folder, for tag files other modules provide.
pub const CUSTODY_FOLDER: &str = "custody";

/// What `bag-info.txt` says about the disc.
#[derive(Debug, Clone)]
pub struct BagInfo {
    /// The bureau (Source-Organization).
    pub bureau: String,
    /// The station that made the disc.
    pub station: String,
    /// Volume id of the disc.
    pub label: String,
    /// Burn job id.
    pub job: i64,
    /// This disc's number, and how many discs the job has.
    pub disc: (usize, usize),
    /// The medium name.
    pub media: String,
    /// Who made the copy (制作人).
    pub maker: String,
    /// Who extracted the footage (提取人).
    pub extractor: String,
    /// When it was extracted (提取时间), RFC 3339 with the station's offset.
    pub extracted_at: String,
    /// The bagging date, `YYYY-MM-DD`.
    pub date: String,
    /// What the disc's footage is (S3 §27, S4 §23): `bag-info.txt` lines such as
    /// (`Party-当事人`, `CASE: NAME`), (`Handling-Officer-承办人`, ...), (`Place-取证地点`, ...).
    pub described: Vec<(String, String)>,
}

/// One payload file of a staged or read-back bag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BagFile {
    /// Catalogue file id.
    pub file_id: i64,
    /// Path inside the bag, `data/...`.
    pub bag_path: String,
    /// Size.
    pub size: u64,
    /// SHA-512, hex.
    pub sha512: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// BLAKE3, hex.
    pub blake3: String,
}

/// A staged disc.
#[derive(Debug, Clone)]
pub struct StagedDisc {
    /// The bag folder.
    pub dir: PathBuf,
    /// What bag-info says.
    pub info: BagInfo,
    /// Payload files with their hashes.
    pub files: Vec<BagFile>,
    /// Files hard-linked from the archive.
    pub linked: usize,
    /// Files copied (another file system, or linking refused).
    pub copied: usize,
}

impl StagedDisc {
    /// Total payload bytes.
    pub fn payload(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// Hashes of one read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashes {
    /// Bytes read.
    pub size: u64,
    /// SHA-512 hex.
    pub sha512: String,
    /// SHA-256 hex.
    pub sha256: String,
    /// BLAKE3 hex.
    pub blake3: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads `path` once, computing SHA-512, SHA-256 and BLAKE3; `progress` is told the bytes read.
///
/// # Errors
/// When the file cannot be read.
pub fn hash_file(path: &Path, progress: &mut dyn FnMut(u64)) -> io::Result<Hashes> {
    let mut f = File::open(path)?;
    let (mut a, mut b, mut c) = (Sha512::new(), Sha256::new(), blake3::Hasher::new());
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        a.update(&buf[..n]);
        b.update(&buf[..n]);
        c.update(&buf[..n]);
        size += n as u64;
        progress(n as u64);
    }
    Ok(Hashes {
        size,
        sha512: hex(&a.finalize()),
        sha256: hex(&b.finalize()),
        blake3: c.finalize().to_hex().to_string(),
    })
}

/// A path as a BagIt manifest writes it: `%`, CR and LF percent-encoded (RFC 8493 §2.1.3).
pub fn encode_path(p: &str) -> String {
    p.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// The inverse of [`encode_path`].
pub fn decode_path(p: &str) -> String {
    p.replace("%0A", "\n").replace("%0a", "\n").replace("%0D", "\r").replace("%0d", "\r").replace("%25", "%")
}

fn io_err<'a>(doing: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> BurnError + 'a {
    move |source| BurnError::Io { doing, path: path.to_path_buf(), source }
}

/// Writes a new file and syncs it.
fn write_file(path: &Path, text: &str) -> Result<(), BurnError> {
    let mut f = fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(io_err("creating", path))?;
    f.write_all(text.as_bytes()).map_err(io_err("writing", path))?;
    f.sync_all().map_err(io_err("syncing", path))
}

/// Human bytes for `Bag-Size`.
fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The bilingual README a stranger reads first.
fn readme(info: &BagInfo, notes: &[String], blake3: bool) -> String {
    let mut t = String::new();
    t += &format!(
        "执法记录仪视音频证据光盘 / Body-worn recorder evidence disc\n\
         ==========================================================\n\n\
         光盘标签 Disc label: {}\n\
         第 {} 张，共 {} 张 / Disc {} of {}\n\
         单位 Bureau: {}\n\
         制作人 Made by: {}    提取人 Extracted by: {}    提取时间 Extracted at: {}\n\n",
        info.label,
        info.disc.0,
        info.disc.1,
        info.disc.0,
        info.disc.1,
        info.bureau,
        info.maker,
        info.extractor,
        info.extracted_at
    );
    if !notes.is_empty() {
        t += "续盘说明 / Continuation:\n";
        for n in notes {
            t += &format!("  {n}\n");
        }
        t += "\n";
    }
    t += "\
本光盘是一个 BagIt 包（RFC 8493）。data/ 目录按 年/月/日/案件/记录仪编号 存放原始录像，\n\
未经任何修改。manifest-sha512.txt 与 manifest-sha256.txt 列出每个文件的哈希值，\n\
bag-info.txt 记录单位、案件编号、制作人、提取人和提取时间，custody/ 目录存放保管日志的\n\
签名检查点、公钥，以及本盘录像的保管日志摘录（每条事件附包含证明）。\n\n\
This disc is a BagIt bag (RFC 8493). data/ holds the original footage, unmodified, filed as\n\
year/month/day/case/recorder serial. manifest-sha512.txt and manifest-sha256.txt list the hash\n\
of every file; bag-info.txt names the bureau, the case numbers, who made the copy, who\n\
extracted the footage and when; custody/ holds the custody log's signed checkpoint, the\n\
station's public key, and the custody-log extract of this disc's footage, every event with its\n\
Merkle inclusion proof (check it with `evidock log verify-extract --dir .`, or by hand as\n\
docs/CUSTODY-LOG.md section 14 describes).\n\n\
如何离线校验 / How to verify offline (any Linux or macOS machine, no evidock needed):\n\n\
1. 检查光盘本身 / Check the medium itself (package xorriso):\n\
     xorriso -md5 on -indev /dev/sr0 -check_media --\n\
     xorriso -md5 on -indev /dev/sr0 -check_md5_r FAILURE / --\n\
   \"md5_match\" 与 \"File contents and their MD5 checksums match\" 表示刻录数据完好。\n\
   \"md5_match\" and \"File contents and their MD5 checksums match\" mean the disc reads back as written.\n\n\
2. 在光盘根目录逐个校验文件 / In the disc's top folder, check every file (coreutils):\n\
     sha512sum -c manifest-sha512.txt\n\
     sha256sum -c manifest-sha256.txt\n\
     sha512sum -c tagmanifest-sha512.txt\n\
   每行都应显示 OK / every line must say OK.\n\
   (文件名中的 % 写作 %25 / a % in a file name is written %25, as BagIt requires.)\n\n\
3. 用独立的 BagIt 工具校验整个包 / Validate the whole bag with an independent BagIt tool\n\
   (Python: pip install bagit):\n\
     python3 -m bagit --validate /path/to/disc\n\n";
    if blake3 {
        t += "manifest-blake3.txt 供 evidock 快速校验，标准工具会忽略它。\n\
manifest-blake3.txt is for evidock's own fast checks; standard tools ignore it (b3sum -c reads it).\n\n";
    }
    t += "任何一步失败都说明光盘已损坏或被改动，请勿作为证据使用，并报告保管人。\n\
If any step fails, the disc is damaged or altered: do not use it as evidence; tell the custodian.\n";
    t
}

/// Stages `disc` of a plan into the new folder `dir` (which must not exist) from
/// `archive_root`: payload files hard-linked or copied, each read back and checked against
/// the catalogue's BLAKE3 (the fixity check), manifests, `bag-info.txt`, `README.txt`, then
/// `tag_files` writes extra files into `custody/` before the tag manifests are computed.
/// `progress` is told every byte read. The archive is never written.
///
/// # Errors
/// [`BurnError::Fixity`] when an archive file differs from the catalogue; [`BurnError::Io`]
/// on a file error; [`BurnError::TagFiles`] when `tag_files` fails.
pub fn stage(
    archive_root: &Path,
    dir: &Path,
    disc: &DiscPlan,
    info: &BagInfo,
    with_blake3: bool,
    tag_files: &dyn Fn(&StagedDisc, &Path) -> io::Result<()>,
    progress: &mut dyn FnMut(u64),
) -> Result<StagedDisc, BurnError> {
    fs::create_dir(dir).map_err(io_err("creating the bag folder", dir))?;
    let data = dir.join("data");
    let mut staged = StagedDisc { dir: dir.to_path_buf(), info: info.clone(), files: Vec::new(), linked: 0, copied: 0 };
    for f in &disc.files {
        let src = archive_root.join(&f.path);
        let dst = data.join(&f.path);
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent).map_err(io_err("creating a bag folder", parent))?;
        }
        match fs::hard_link(&src, &dst) {
            Ok(()) => staged.linked += 1,
            Err(_) => {
                fs::copy(&src, &dst).map_err(io_err("copying from the archive", &src))?;
                File::open(&dst).and_then(|f| f.sync_all()).map_err(io_err("syncing", &dst))?;
                staged.copied += 1;
            }
        }
        // The read-back: a hard link reads the archive file itself, a copy reads the copy.
        let h = hash_file(&dst, progress).map_err(io_err("reading back", &dst))?;
        if h.blake3 != f.blake3 || h.size != f.size {
            return Err(BurnError::Fixity { path: f.path.clone(), expected: f.blake3.clone(), found: h.blake3 });
        }
        staged.files.push(BagFile {
            file_id: f.file_id,
            bag_path: format!("data/{}", f.path),
            size: h.size,
            sha512: h.sha512,
            sha256: h.sha256,
            blake3: h.blake3,
        });
        if staged.files.len() == 1 {
            crate::failpoint!("burn.stage-mid");
        }
    }
    let manifest = |pick: fn(&BagFile) -> &str| -> String {
        staged.files.iter().map(|f| format!("{}  {}\n", pick(f), encode_path(&f.bag_path))).collect()
    };
    write_file(&dir.join("bagit.txt"), "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")?;
    write_file(&dir.join("manifest-sha512.txt"), &manifest(|f| &f.sha512))?;
    write_file(&dir.join("manifest-sha256.txt"), &manifest(|f| &f.sha256))?;
    if with_blake3 {
        write_file(&dir.join("manifest-blake3.txt"), &manifest(|f| &f.blake3))?;
    }
    let notes: Vec<String> = disc.groups.iter().filter_map(|g| g.note()).collect();
    let mut cases: Vec<String> = disc
        .groups
        .iter()
        .filter_map(|g| match &g.group {
            super::plan::Group::Case(c) => Some(c.clone()),
            super::plan::Group::Recording(_) => None,
        })
        .collect();
    cases.dedup();
    let payload = staged.payload();
    let mut bi = String::new();
    bi += &format!("Source-Organization: {}\n", one_line(&info.bureau));
    bi += &format!("Bagging-Date: {}\n", info.date);
    bi += &format!("External-Identifier: {}\n", info.label);
    bi += &format!(
        "External-Description: evidock long-term evidence disc from station {} / 长期保存证据光盘\n",
        one_line(&info.station)
    );
    bi += &format!("Bag-Group-Identifier: evidock-burn-job-{}\n", info.job);
    bi += &format!("Bag-Count: {} of {}\n", info.disc.0, info.disc.1);
    bi += &format!("Bag-Size: {}\n", human(payload));
    bi += &format!("Payload-Oxum: {}.{}\n", payload, staged.files.len());
    for c in &cases {
        bi += &format!("Case-Number-案件编号: {}\n", one_line(c));
    }
    for (k, v) in &info.described {
        bi += &format!("{k}: {}\n", one_line(v));
    }
    bi += &format!("Maker-制作人: {}\n", one_line(&info.maker));
    bi += &format!("Extractor-提取人: {}\n", one_line(&info.extractor));
    bi += &format!("Extraction-Time-提取时间: {}\n", info.extracted_at);
    bi += &format!("Media: {}\n", info.media);
    for n in &notes {
        bi += &format!("Continuation-续盘: {}\n", one_line(n));
    }
    write_file(&dir.join("bag-info.txt"), &bi)?;
    write_file(&dir.join("README.txt"), &readme(info, &notes, with_blake3))?;
    let custody = dir.join(CUSTODY_FOLDER);
    fs::create_dir(&custody).map_err(io_err("creating", &custody))?;
    tag_files(&staged, &custody).map_err(|source| BurnError::TagFiles { path: custody.clone(), source })?;

    // Tag manifests: every file outside data/ that is not a tag manifest.
    let mut tags = Vec::new();
    walk(dir, dir, &mut tags).map_err(io_err("listing the bag", dir))?;
    tags.retain(|p| !p.starts_with("data/") && !p.starts_with("tagmanifest-"));
    tags.sort();
    let (mut t512, mut t256) = (String::new(), String::new());
    for rel in &tags {
        let h = hash_file(&dir.join(rel), &mut |_| {}).map_err(io_err("reading", &dir.join(rel)))?;
        t512 += &format!("{}  {}\n", h.sha512, encode_path(rel));
        t256 += &format!("{}  {}\n", h.sha256, encode_path(rel));
    }
    write_file(&dir.join("tagmanifest-sha512.txt"), &t512)?;
    write_file(&dir.join("tagmanifest-sha256.txt"), &t256)?;
    Ok(staged)
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// Every regular file under `dir`, as `/`-separated paths relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        let ty = e.file_type()?;
        if ty.is_dir() {
            walk(root, &e.path(), out)?;
        } else {
            let rel = e.path().strip_prefix(root).unwrap_or(&e.path()).to_string_lossy().into_owned();
            out.push(rel);
        }
    }
    Ok(())
}

/// What the catalogue expects on a disc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Path inside the bag, `data/...`.
    pub bag_path: String,
    /// Size.
    pub size: u64,
    /// SHA-512 recorded when the disc was staged.
    pub sha512: String,
    /// BLAKE3 recorded at ingest (the archive's hash).
    pub blake3: String,
}

/// One thing wrong with a bag read back from a disc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file, relative to the bag (or `-` for the bag as a whole).
    pub path: String,
    /// What is wrong.
    pub what: String,
}

fn parse_manifest(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (h, p) = l.split_once(char::is_whitespace)?;
            Some((decode_path(p.trim_start()), h.to_ascii_lowercase()))
        })
        .collect()
}

/// Checks a bag read back from a disc (extracted into `dir`): every file named by the
/// manifests is there with the manifests' SHA-512 and SHA-256 (and BLAKE3 when present),
/// no payload file is unlisted, the tag manifests hold, and every file the catalogue expects
/// is there with the catalogue's hashes. Finding damage is the answer, not an error: the
/// findings name every bad file; an empty list means the bag is intact.
/// `progress` is told every byte read.
pub fn check_bag(dir: &Path, expected: &[Expected], progress: &mut dyn FnMut(u64)) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut find = |path: &str, what: String| findings.push(Finding { path: path.to_string(), what });
    let read = |name: &str| fs::read_to_string(dir.join(name));
    let m512 = match read("manifest-sha512.txt") {
        Ok(t) => parse_manifest(&t),
        Err(e) => {
            find("manifest-sha512.txt", format!("cannot read: {e}"));
            BTreeMap::new()
        }
    };
    let m256 = read("manifest-sha256.txt").map(|t| parse_manifest(&t)).unwrap_or_default();
    let mb3 = read("manifest-blake3.txt").map(|t| parse_manifest(&t)).ok();
    if m256.is_empty() && !m512.is_empty() {
        find("manifest-sha256.txt", "missing or empty".into());
    }
    let mut present = Vec::new();
    if let Err(e) = walk(dir, dir, &mut present) {
        find("-", format!("cannot list the bag: {e}"));
    }
    let want: BTreeMap<&str, &Expected> = expected.iter().map(|e| (e.bag_path.as_str(), e)).collect();
    for p in present.iter().filter(|p| p.starts_with("data/")) {
        if !m512.contains_key(p.as_str()) {
            find(p, "not listed in manifest-sha512.txt (a file that was not burned)".into());
        }
    }
    for (p, h512) in &m512 {
        let path = dir.join(p);
        let h = match hash_file(&path, progress) {
            Ok(h) => h,
            Err(e) => {
                find(p, format!("cannot be read back: {e}"));
                continue;
            }
        };
        if &h.sha512 != h512 {
            find(p, format!("SHA-512 differs from manifest-sha512.txt: read {}, manifest {h512}", h.sha512));
        }
        if m256.get(p).is_some_and(|x| *x != h.sha256) {
            find(p, "SHA-256 differs from manifest-sha256.txt".into());
        }
        if mb3.as_ref().and_then(|m| m.get(p)).is_some_and(|x| *x != h.blake3) {
            find(p, "BLAKE3 differs from manifest-blake3.txt".into());
        }
        match want.get(p.as_str()) {
            Some(e) if e.blake3 != h.blake3 || e.size != h.size => {
                find(p, format!("differs from the archive: BLAKE3 {} read, {} in the catalogue", h.blake3, e.blake3))
            }
            Some(e) if e.sha512 != h.sha512 => find(p, "SHA-512 differs from the one recorded at staging".into()),
            Some(_) => {}
            None if !expected.is_empty() => find(p, "not a file the catalogue put on this disc".into()),
            None => {}
        }
    }
    for e in expected {
        if !m512.contains_key(&e.bag_path) {
            find(&e.bag_path, "missing: the catalogue put it on this disc, the manifest does not list it".into());
        }
    }
    for tm in ["tagmanifest-sha512.txt", "tagmanifest-sha256.txt"] {
        let Ok(text) = read(tm) else {
            find(tm, "missing".into());
            continue;
        };
        for (p, h) in parse_manifest(&text) {
            match hash_file(&dir.join(&p), &mut |_| {}) {
                Ok(got) if (tm.contains("512") && got.sha512 == h) || (tm.contains("256") && got.sha256 == h) => {}
                Ok(_) => find(&p, format!("differs from {tm}")),
                Err(e) => find(&p, format!("cannot be read back: {e}")),
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::burn::plan::{plan, Candidate, Group, Media, Reserve};

    fn info() -> BagInfo {
        BagInfo {
            bureau: "宜良县卫生健康局".into(),
            station: "evidock".into(),
            label: "EVIDOCK_J00001_D01_OF_01".into(),
            job: 1,
            disc: (1, 1),
            media: "bd25".into(),
            maker: "李四".into(),
            extractor: "张三".into(),
            extracted_at: "2026-01-02T10:00:00+08:00".into(),
            date: "2026-01-02".into(),
            described: vec![("Place-取证地点".into(), "宜卫罚〔2024〕12号: 匡远街道\n1 号".into())],
        }
    }

    fn archive_with(files: &[(&str, &[u8])]) -> (tempfile::TempDir, Vec<Candidate>) {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        for (i, (p, bytes)) in files.iter().enumerate() {
            let path = dir.path().join("archive").join(p);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, bytes).unwrap();
            out.push(Candidate {
                file_id: i as i64 + 1,
                path: p.to_string(),
                size: bytes.len() as u64,
                blake3: blake3::hash(bytes).to_hex().to_string(),
                group: Group::Case("宜卫罚〔2024〕12号".into()),
            });
        }
        (dir, out)
    }

    #[test]
    fn a_staged_bag_checks_clean_and_a_changed_byte_is_named() {
        let (dir, cands) = archive_with(&[
            ("2026/01/02/宜卫罚〔2024〕12号/A1/a.MP4", b"first file"),
            ("2026/01/02/50%25/A1/b.MP4", b"second file"),
        ]);
        let p = plan(&cands, &Media::parse("dvd").unwrap(), Reserve { per_file: 8192, per_disc: 1 << 20 });
        let bag = dir.path().join("bag");
        let staged = stage(
            &dir.path().join("archive"),
            &bag,
            &p.discs[0],
            &info(),
            true,
            &|_, custody| fs::write(custody.join("checkpoint.txt"), "cp\n"),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(staged.files.len(), 2);
        assert_eq!(staged.linked, 2, "same file system: hard links");
        let manifest = fs::read_to_string(bag.join("manifest-sha512.txt")).unwrap();
        assert!(manifest.contains("  data/2026/01/02/50%2525/A1/b.MP4\n"), "{manifest}");
        let tags = fs::read_to_string(bag.join("tagmanifest-sha256.txt")).unwrap();
        assert!(tags.contains("custody/checkpoint.txt") && tags.contains("bag-info.txt"), "{tags}");
        let bi = fs::read_to_string(bag.join("bag-info.txt")).unwrap();
        assert!(bi.contains("Payload-Oxum: 21.2\n") && bi.contains("Maker-制作人: 李四"), "{bi}");
        // S4 §23: the place travels with the disc, on one line.
        assert!(bi.contains("Place-取证地点: 宜卫罚〔2024〕12号: 匡远街道 1 号\n"), "{bi}");

        let expected: Vec<Expected> = staged
            .files
            .iter()
            .map(|f| Expected {
                bag_path: f.bag_path.clone(),
                size: f.size,
                sha512: f.sha512.clone(),
                blake3: f.blake3.clone(),
            })
            .collect();
        assert_eq!(check_bag(&bag, &expected, &mut |_| {}), []);

        // A copy of the bag with one byte changed (a copy: the bag's files are the archive's).
        let copy = dir.path().join("copy");
        for rel in {
            let mut v = Vec::new();
            walk(&bag, &bag, &mut v).unwrap();
            v
        } {
            let to = copy.join(&rel);
            fs::create_dir_all(to.parent().unwrap()).unwrap();
            fs::copy(bag.join(&rel), &to).unwrap();
        }
        let victim = copy.join("data/2026/01/02/宜卫罚〔2024〕12号/A1/a.MP4");
        fs::write(&victim, b"First file").unwrap();
        let found = check_bag(&copy, &expected, &mut |_| {});
        assert!(!found.is_empty());
        assert!(found.iter().all(|f| f.path == "data/2026/01/02/宜卫罚〔2024〕12号/A1/a.MP4"), "{found:?}");
        assert!(found.iter().any(|f| f.what.contains("differs from the archive")), "{found:?}");
        // The archive is untouched.
        assert_eq!(fs::read(dir.path().join("archive/2026/01/02/宜卫罚〔2024〕12号/A1/a.MP4")).unwrap(), b"first file");
    }

    #[test]
    fn staging_refuses_an_archive_file_that_no_longer_matches_the_catalogue() {
        let (dir, mut cands) = archive_with(&[("2026/01/02/x/A1/a.MP4", b"abc")]);
        cands[0].blake3 = blake3::hash(b"abd").to_hex().to_string();
        let p = plan(&cands, &Media::parse("dvd").unwrap(), Reserve { per_file: 8192, per_disc: 1 << 20 });
        let err = stage(
            &dir.path().join("archive"),
            &dir.path().join("bag"),
            &p.discs[0],
            &info(),
            false,
            &|_, _| Ok(()),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(matches!(err, BurnError::Fixity { ref path, .. } if path == "2026/01/02/x/A1/a.MP4"), "{err}");
    }
}
