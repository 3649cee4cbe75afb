//! A case folder that can be checked on its own (R4, R5; S3 §26, S4 §23): each day's
//! `YYYY/MM/DD/<case>/` carries its label (`案件信息.txt`: case number, party, handling officers
//! by name and badge, the case's description), copies of the recorders' chain files of the
//! footage in it (`chain/<serial>/`), and a manifest (`案件清单.json`) naming every file of
//! the folder with its size and BLAKE3, each footage file's segments as the chain check judged
//! them, its recording's description, and the case's label (INV-33). The manifest is written
//! durably (temp file, fsync, rename, fsync folder) whenever the folder or what it says
//! changes: a filing, a relabelling, a description.
//!
//! [`check`] reads a copied folder alone, without the station: files missing, extra or
//! altered are named.
//!
//! Owns: the label's and the manifest's text ([`label_text`], [`manifest`]), the officers'
//! names on a label ([`name_officers`], pure), writing both and the chain copies
//! ([`write`]), and the offline check ([`check`]).
//! Must never: change a footage file (chain files are linked or copied, never moved).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde_json::{json, Value};

use crate::catalog::{Case, Description};
use crate::report::{registration_at, RegisteredSpan};

use super::fsio;

/// Name of the label file in each case folder of a day.
pub const LABEL_FILE: &str = "案件信息.txt";
/// Name of the manifest in each case folder of a day.
pub const MANIFEST_FILE: &str = "案件清单.json";
/// The manifest's format tag.
pub const FORMAT: &str = "evidock-case-folder/1";
/// Where chain files are copied inside a case folder.
pub const CHAIN_DIR: &str = "chain";

/// Where an officer's name on a label comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameSource {
    /// The duty check-out that bound the recorder to the officer when the footage was made.
    Duty,
    /// The registration in force when the footage was made.
    Registry,
    /// The latest registration naming the officer (the case has no footage of theirs yet).
    LatestRegistry,
    /// No registration or check-out names the officer.
    Unregistered,
}

impl NameSource {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            NameSource::Duty => "duty",
            NameSource::Registry => "registry",
            NameSource::LatestRegistry => "latest-registry",
            NameSource::Unregistered => "unregistered",
        }
    }
}

/// A handling officer (承办人) on a label: badge and name, never typed in by hand (S3 §26).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficerRef {
    /// Officer number (警号).
    pub id: String,
    /// Name, from the registry or a duty check-out.
    pub name: Option<String>,
    /// Where the name comes from.
    pub source: NameSource,
}

impl OfficerRef {
    /// `张三 (警号 012345)`, or the badge with `姓名未登记 name not registered`.
    pub fn text(&self) -> String {
        match &self.name {
            Some(n) => format!("{n} (警号 {})", self.id),
            None => format!("{} (姓名未登记 name not registered)", self.id),
        }
    }
}

/// A duty check-out as the label needs it: officer, name, and when the recorder was out
/// (station-local; `to` `None`: still out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DutySpan {
    /// Recorder serial.
    pub serial: String,
    /// Officer number.
    pub officer: String,
    /// Name given at check-out.
    pub name: Option<String>,
    /// Out from.
    pub from: NaiveDateTime,
    /// Back at.
    pub to: Option<NaiveDateTime>,
}

/// A recording's facts for naming: recorder, the officer it was assigned to, its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    /// Recorder serial.
    pub serial: String,
    /// Officer then.
    pub officer: Option<String>,
    /// Corrected start, station-local.
    pub start: NaiveDateTime,
}

/// Names each officer number of a case (S3 §26: 标明承办人姓名) from the bindings in force
/// when its footage was made: the duty check-out covering a recording of theirs in the case,
/// else the registration in force then; for an officer with no footage in the case yet, the
/// latest registration naming them. Pure.
pub fn name_officers(
    ids: &[String],
    made: &[Made],
    registry: &BTreeMap<String, Vec<RegisteredSpan>>,
    duty: &[DutySpan],
) -> Vec<OfficerRef> {
    ids.iter()
        .map(|id| {
            let theirs = made.iter().filter(|m| m.officer.as_deref() == Some(id.as_str()));
            for m in theirs {
                let on_duty = duty.iter().find(|d| {
                    d.serial == m.serial && &d.officer == id && d.from <= m.start && d.to.is_none_or(|t| m.start <= t)
                });
                if let Some(name) = on_duty.and_then(|d| d.name.clone()) {
                    return OfficerRef { id: id.clone(), name: Some(name), source: NameSource::Duty };
                }
                let span = registry.get(&m.serial).and_then(|h| registration_at(h, m.start));
                if let Some(name) = span.filter(|s| &s.officer == id).and_then(|s| s.name.clone()) {
                    return OfficerRef { id: id.clone(), name: Some(name), source: NameSource::Registry };
                }
            }
            let latest = registry
                .values()
                .flatten()
                .filter(|s| &s.officer == id && s.name.is_some())
                .max_by_key(|s| s.from)
                .and_then(|s| s.name.clone());
            match latest {
                Some(name) => OfficerRef { id: id.clone(), name: Some(name), source: NameSource::LatestRegistry },
                None => OfficerRef { id: id.clone(), name: None, source: NameSource::Unregistered },
            }
        })
        .collect()
}

/// One segment of a footage file, as the chain check judged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentEntry {
    /// Session.
    pub session: Option<String>,
    /// Sequence number.
    pub seq: Option<u64>,
    /// Corrected start.
    pub start: Option<String>,
    /// Corrected end.
    pub end: Option<String>,
    /// The verdict (`verified`, `flagged`, ...).
    pub verdict: String,
}

/// A footage file of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetFile {
    /// Its path in the case folder, from the archive root.
    pub path: String,
    /// Size.
    pub size: u64,
    /// BLAKE3, hex.
    pub blake3: String,
    /// Recording id.
    pub recording: String,
    /// The recording's description in force.
    pub description: Option<Description>,
    /// Its segments.
    pub segments: Vec<SegmentEntry>,
}

/// A chain file of a session with footage in the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEntry {
    /// Its path in the archive.
    pub archive_path: String,
    /// Recorder serial.
    pub serial: String,
    /// Session.
    pub session: String,
    /// Whether the chain's links held at ingest.
    pub links_intact: bool,
}

/// Everything a case's labels, manifests and discs say about it.
#[derive(Debug, Clone)]
pub struct CaseSheet {
    /// The station.
    pub station: String,
    /// The case.
    pub case: Case,
    /// Its handling officers, named.
    pub officers: Vec<OfficerRef>,
    /// The case's description in force.
    pub description: Option<Description>,
    /// Its footage files.
    pub files: Vec<SheetFile>,
    /// Chain files of its sessions.
    pub chains: Vec<ChainEntry>,
}

/// The label file of a case folder: case number, party, officers by name and badge, kind,
/// windows, the case's description.
pub fn label_text(sheet: &CaseSheet) -> String {
    let l = &sheet.case.label;
    let officers: Vec<String> = sheet.officers.iter().map(OfficerRef::text).collect();
    let mut s = format!(
        "案件编号 Case number: {}\n当事人 Party: {}\n承办人员 Handling officers: {}\n案件类型 Kind: {} {}\n",
        l.number,
        l.party.as_deref().unwrap_or("-"),
        if officers.is_empty() { "-".to_string() } else { officers.join(", ") },
        l.kind.label_zh(),
        l.kind.as_str()
    );
    for (a, b) in &l.windows {
        s += &format!("现场时间 On-site: {} – {}\n", a.format("%Y-%m-%d %H:%M"), b.format("%Y-%m-%d %H:%M"));
    }
    if let Some(d) = &sheet.description {
        for line in d.lines() {
            s += &line;
            s.push('\n');
        }
    }
    s
}

fn description_json(d: &Option<Description>) -> Value {
    match d {
        None => Value::Null,
        Some(d) => json!({
            "subject": d.text.subject, "content": d.text.content, "place": d.text.place,
            "written_by": d.written_by, "officer": d.officer, "written_at": d.written_at, "id": d.id,
        }),
    }
}

/// The case folders of the sheet's footage, `YYYY/MM/DD/<case>` from the archive root.
pub fn folders(sheet: &CaseSheet) -> BTreeSet<String> {
    sheet
        .files
        .iter()
        .filter_map(|f| {
            let parts: Vec<&str> = f.path.split('/').collect();
            (parts.len() > 4).then(|| parts[..4].join("/"))
        })
        .collect()
}

fn chain_copy(c: &ChainEntry) -> String {
    let name = c.archive_path.rsplit('/').next().unwrap_or("chain");
    format!("{CHAIN_DIR}/{}/{name}", c.serial)
}

/// A file named in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Path relative to the case folder.
    pub path: String,
    /// Size.
    pub size: u64,
    /// BLAKE3, hex.
    pub blake3: String,
}

/// The manifest of one case folder `folder` (`YYYY/MM/DD/<case>`): `chains` and `label` are the
/// chain copies and the label as written, with their sizes and hashes.
pub fn manifest(sheet: &CaseSheet, folder: &str, chains: &[(Listed, &ChainEntry)], label: &Listed) -> Value {
    let l = &sheet.case.label;
    let prefix = format!("{folder}/");
    let files: Vec<Value> = sheet
        .files
        .iter()
        .filter_map(|f| Some((f.path.strip_prefix(&prefix)?, f)))
        .map(|(rel, f)| {
            json!({
                "path": rel, "size": f.size, "blake3": f.blake3, "recording": f.recording,
                "description": description_json(&f.description),
                "segments": f.segments.iter().map(|s| json!({
                    "session": s.session, "seq": s.seq, "start": s.start, "end": s.end, "verdict": s.verdict,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "format": FORMAT,
        "station": sheet.station,
        "case": {
            "number": l.number, "party": l.party, "kind": l.kind.as_str(),
            "officers": sheet.officers.iter().map(|o| json!({ "id": o.id, "name": o.name, "source": o.source.as_str() })).collect::<Vec<_>>(),
            "windows": l.windows.iter().map(|(a, b)| [a.to_string(), b.to_string()]).collect::<Vec<_>>(),
            "description": description_json(&sheet.description),
        },
        "folder": folder,
        "label": { "path": label.path, "size": label.size, "blake3": label.blake3 },
        "files": files,
        "chain_files": chains.iter().map(|(c, e)| json!({
            "path": c.path, "size": c.size, "blake3": c.blake3, "serial": e.serial, "session": e.session,
            "links_intact": e.links_intact,
        })).collect::<Vec<_>>(),
    })
}

fn hash(path: &Path) -> io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    Ok((n, h.finalize().to_hex().to_string()))
}

/// Writes, for every case folder of the sheet's footage, the label, the chain copies and the
/// manifest, each durably (temp file, fsync, rename, fsync folder). Returns the folders written.
///
/// # Errors
/// When a file cannot be read or written.
pub fn write(archive_root: &Path, sheet: &CaseSheet) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for folder in folders(sheet) {
        let dir = archive_root.join(&folder);
        let label = label_text(sheet);
        let label_path = dir.join(LABEL_FILE);
        fsio::replace(&label_path, label.as_bytes())?;
        fsio::seal_read_only(&label_path)?;
        let listed_label = Listed {
            path: LABEL_FILE.to_string(),
            size: label.len() as u64,
            blake3: blake3::hash(label.as_bytes()).to_hex().to_string(),
        };
        let sessions: BTreeSet<(String, String)> = sheet
            .files
            .iter()
            .filter(|f| f.path.starts_with(&format!("{folder}/")))
            .flat_map(|f| {
                let serial = f.recording.split('/').next().unwrap_or_default().to_string();
                f.segments.iter().filter_map(move |s| Some((serial.clone(), s.session.clone()?)))
            })
            .collect();
        let mut chains = Vec::new();
        for c in sheet.chains.iter().filter(|c| sessions.contains(&(c.serial.clone(), c.session.clone()))) {
            let rel = chain_copy(c);
            let src = archive_root.join(&c.archive_path);
            let dst = dir.join(&rel);
            let (size, b3) = hash(&src)?;
            if hash(&dst).ok() != Some((size, b3.clone())) {
                let parent = fsio::create_dirs(&dir, Path::new(&rel).parent().unwrap_or(Path::new("")))?;
                let bytes = std::fs::read(&src)?;
                fsio::replace(&dst, &bytes)?;
                fsio::seal_read_only(&dst)?;
                fsio::fsync_dir(&parent)?;
            }
            chains.push((Listed { path: rel, size, blake3: b3 }, c));
        }
        let m = manifest(sheet, &folder, &chains, &listed_label);
        let text = serde_json::to_string_pretty(&m).unwrap_or_default() + "\n";
        let path = dir.join(MANIFEST_FILE);
        fsio::replace(&path, text.as_bytes())?;
        fsio::seal_read_only(&path)?;
        out.push(dir);
    }
    Ok(out)
}

/// What the offline check of a case folder found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A file the manifest names is not there.
    Missing(String),
    /// A file is there that the manifest does not name.
    Extra(String),
    /// A file differs from the manifest (size or hash).
    Altered(String),
}

impl Problem {
    /// One line, English then Chinese.
    pub fn text(&self) -> String {
        match self {
            Problem::Missing(p) => {
                format!("MISSING 缺失: {p}: named in the manifest, not in the folder / 清单中有，文件夹中没有")
            }
            Problem::Extra(p) => {
                format!("EXTRA 多余: {p}: in the folder, not in the manifest / 文件夹中有，清单中没有")
            }
            Problem::Altered(p) => {
                format!("ALTERED 被改动: {p}: its size or BLAKE3 differs from the manifest / 大小或哈希值与清单不符")
            }
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let ty = e.file_type()?;
        if ty.is_dir() {
            walk(root, &e.path(), out)?;
        } else {
            let rel = e.path().strip_prefix(root).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            out.push(rel);
        }
    }
    Ok(())
}

/// The parsed manifest of a folder and what the check found.
#[derive(Debug, Clone)]
pub struct FolderCheck {
    /// The manifest.
    pub manifest: Value,
    /// Files it names.
    pub listed: usize,
    /// Problems, in path order.
    pub problems: Vec<Problem>,
}

/// Checks a case folder on its own: every file its manifest names is there with its size and
/// BLAKE3, and nothing else is (R5, INV-33).
///
/// # Errors
/// When the folder or its manifest cannot be read, or the manifest is not one.
pub fn check(dir: &Path) -> anyhow::Result<FolderCheck> {
    use anyhow::Context;
    let text = std::fs::read_to_string(dir.join(MANIFEST_FILE)).with_context(|| {
        format!("reading {}: no case-folder manifest here / 此处没有案件清单", dir.join(MANIFEST_FILE).display())
    })?;
    let manifest: Value = serde_json::from_str(&text).context("the manifest is not JSON / 清单格式错误")?;
    if manifest["format"].as_str() != Some(FORMAT) {
        anyhow::bail!("the manifest's format is not {FORMAT} / 清单格式不符");
    }
    let mut listed: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let entries = std::iter::once(&manifest["label"])
        .chain(manifest["files"].as_array().into_iter().flatten())
        .chain(manifest["chain_files"].as_array().into_iter().flatten());
    for e in entries {
        let (Some(p), Some(n), Some(h)) = (e["path"].as_str(), e["size"].as_u64(), e["blake3"].as_str()) else {
            anyhow::bail!("the manifest has an entry without path, size or blake3: {e} / 清单条目不完整");
        };
        listed.insert(p.to_string(), (n, h.to_string()));
    }
    let mut present = Vec::new();
    walk(dir, dir, &mut present).with_context(|| format!("listing {}", dir.display()))?;
    let present: BTreeSet<String> = present.into_iter().filter(|p| p != MANIFEST_FILE).collect();
    let mut problems = Vec::new();
    for (p, (n, h)) in &listed {
        if !present.contains(p) {
            problems.push(Problem::Missing(p.clone()));
        } else if hash(&dir.join(p)).ok() != Some((*n, h.clone())) {
            problems.push(Problem::Altered(p.clone()));
        }
    }
    for p in present.iter().filter(|p| !listed.contains_key(*p)) {
        problems.push(Problem::Extra(p.clone()));
    }
    problems.sort_by(|a, b| {
        let key = |p: &Problem| match p {
            Problem::Missing(s) | Problem::Extra(s) | Problem::Altered(s) => s.clone(),
        };
        key(a).cmp(&key(b))
    });
    Ok(FolderCheck { manifest, listed: listed.len(), problems })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    fn span(from: &str, to: Option<&str>, officer: &str, name: &str) -> RegisteredSpan {
        RegisteredSpan { from: t(from), to: to.map(t), officer: officer.into(), name: Some(name.into()) }
    }

    /// S3 §26 (标明承办人姓名): the name comes from the binding in force when the footage was
    /// made (a duty check-out, else the registration then), not from today's registry.
    #[test]
    fn officers_are_named_from_the_bindings_in_force_when_their_footage_was_made() {
        let mut registry = BTreeMap::new();
        registry.insert(
            "A1".to_string(),
            vec![
                span("2024-01-01T00:00", Some("2024-06-01T00:00"), "012345", "张三"),
                span("2024-06-01T00:00", None, "099999", "赵六"),
            ],
        );
        registry.insert("B2".to_string(), vec![span("2024-01-01T00:00", None, "012346", "李四")]);
        let made = vec![
            Made { serial: "A1".into(), officer: Some("012345".into()), start: t("2024-05-01T09:00") },
            Made { serial: "B2".into(), officer: Some("012346".into()), start: t("2024-05-01T09:00") },
        ];
        let duty = vec![DutySpan {
            serial: "B2".into(),
            officer: "012346".into(),
            name: Some("李四（借用）".into()),
            from: t("2024-05-01T08:00"),
            to: Some(t("2024-05-01T18:00")),
        }];
        let ids: Vec<String> = ["012345", "012346", "099999", "777777"].map(String::from).to_vec();
        let named = name_officers(&ids, &made, &registry, &duty);
        assert_eq!((named[0].name.as_deref(), named[0].source), (Some("张三"), NameSource::Registry));
        assert_eq!((named[1].name.as_deref(), named[1].source), (Some("李四（借用）"), NameSource::Duty));
        assert_eq!((named[2].name.as_deref(), named[2].source), (Some("赵六"), NameSource::LatestRegistry));
        assert_eq!((named[3].name.as_deref(), named[3].source), (None, NameSource::Unregistered));
        assert_eq!(named[0].text(), "张三 (警号 012345)");
        assert!(named[3].text().contains("姓名未登记"));
    }
}
