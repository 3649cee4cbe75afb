//! The burn job's steps (R8): run a job (plan, logged first; stage every disc as a BagIt bag
//! held against the custody log; build its ISO image), write one staged disc, verify a disc
//! or image by reading every file back, and list or re-check verified discs on their
//! schedule. The disc plan, the bag and the `xorriso` edge are [`crate::burn`]'s.
//!
//! Owns: the order of a job's steps and each step's catalogue record and custody event, the
//! secrecy check of a plan (R10), the custody files each disc carries, and the progress file
//! `evidock status` shows.
//! Must never: count a disc as a copy before a full read-back verify (INV-14); stage a file
//! whose bytes or catalogue row contradict the custody log (INV-16); run beside another burn
//! step (each holds the burn lock, [`super::launch::lock_burn`]); print.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Utc;
use serde::Serialize;
use serde_json::json;

use super::Runner;
use crate::api::{discs, ApiError};
use crate::burn::bag::{self, BagInfo};
use crate::burn::image::{self, Source};
use crate::burn::plan::{Media, Plan};
use crate::catalog::{Catalog, DiscRow, NewDisc};
use crate::config::Config;
use crate::custody::event::Role;

/// Who may run the burn job's steps: a custodian or an archivist (and the station's own user,
/// as the system, when a unit runs them).
pub const ROLES: &[Role] = &[Role::Custodian, Role::Archivist];

/// What a running burn job tells as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Files left out of the plan because they are on discs not yet verified.
    Waiting(usize),
    /// The plan, as a table, before anything is logged or written.
    Plan(String),
    /// A file of the plan contradicts the custody log: its alarm (English, Chinese).
    Contradicted(String, String),
    /// A disc staged as a bag.
    Staged {
        /// The disc label.
        label: String,
        /// Files in it.
        files: usize,
        /// Hard-linked from the archive.
        linked: usize,
        /// Copied.
        copied: usize,
        /// The bag's folder.
        folder: PathBuf,
    },
    /// A disc's image built.
    Imaged {
        /// The disc label.
        label: String,
        /// The image.
        iso: PathBuf,
    },
    /// A disc failed at a step (recorded as failed; its footage returns to planning).
    DiscFailed {
        /// The disc label.
        label: String,
        /// What went wrong.
        error: String,
    },
}

/// How a burn job ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunOutcome {
    /// The job's number, once its plan was logged.
    pub job: Option<i64>,
    /// Files the plan refused (too large for the medium).
    pub refused: usize,
    /// Files that contradict the custody log (nothing was staged).
    pub contradicted: usize,
    /// Whether a disc failed.
    pub failed: bool,
}

impl RunOutcome {
    /// Whether every disc was staged and imaged, nothing refused.
    pub fn ok(&self) -> bool {
        self.refused == 0 && self.contradicted == 0 && !self.failed
    }
}

/// Runs a burn job: the plan (told first, then logged), every disc staged and imaged.
///
/// # Errors
/// When it could not run: no catalogue, a custody log that does not verify, a plan whose
/// footage the maker may not burn (an [`ApiError`] refusal), a failed write of the catalogue.
pub fn run(
    config: &Config,
    runner: &Runner,
    media: &Media,
    maker: &str,
    extractor: &str,
    notes: &mut dyn FnMut(Note),
) -> anyhow::Result<RunOutcome> {
    let _one_at_a_time = super::launch::lock_burn(config)?;
    let mut catalog = runner.catalog(config)?;
    let (p, waiting) = discs::make_plan(&catalog, config, media)?;
    if waiting > 0 {
        notes(Note::Waiting(waiting));
    }
    notes(Note::Plan(discs::plan_table(&p, config, &discs::in_progress(&catalog)?)));
    let mut outcome = RunOutcome { refused: p.refused.len(), ..RunOutcome::default() };
    if p.discs.is_empty() {
        return Ok(outcome);
    }
    // The plan is logged before anything is written.
    let new_discs: Vec<NewDisc> = p
        .discs
        .iter()
        .map(|d| NewDisc {
            number: d.number,
            files: d.files.iter().map(|f| (f.file_id, format!("data/{}", f.path), f.size)).collect(),
        })
        .collect();
    // Every file is held against the custody log before the plan is logged (INV-16): staging
    // then checks each file's bytes against the hash the log recorded at its copy.
    crate::central::offload::refuse_evicted(
        &catalog,
        p.discs.iter().flat_map(|d| d.files.iter().map(|f| f.path.as_str())),
    )
    .map_err(anyhow::Error::msg)?;
    secrecy_allows(&catalog, config, runner, &p, maker)?;
    let ledger = crate::api::access::trusted_ledger(&mut catalog, config, "burn run")?;
    for f in p.discs.iter().flat_map(|d| d.files.iter()) {
        let v = crate::ledger::catalogue_check(ledger.file_at(&f.path), &f.blake3, f.size);
        if !v.is_intact() {
            let (en, zh) = catalog.fixity_alarm(&f.path, &v, "burn run")?;
            notes(Note::Contradicted(en, zh));
            outcome.contradicted += 1;
        }
    }
    if outcome.contradicted > 0 {
        return Ok(outcome);
    }
    let (job, labels) =
        catalog.record_burn_plan(&media.name, media.capacity, &new_discs, discs::plan_json(&p, config))?;
    outcome.job = Some(job);
    let out = job_dir(config, job);
    std::fs::create_dir_all(&out).with_context(|| format!("creating the staging folder {}", out.display()))?;
    let now = Utc::now().with_timezone(&config.timezone);
    for (d, (_, label)) in p.discs.iter().zip(&labels) {
        let progress = Progress { path: config.burn_progress_path(), job, discs: p.discs.len(), label: label.as_str() };
        let total = d.payload();
        let info = BagInfo {
            bureau: config.burn.bureau.clone(),
            station: config.station_name.clone(),
            label: label.clone(),
            job,
            disc: (d.number, p.discs.len()),
            media: media.name.clone(),
            maker: maker.to_string(),
            extractor: extractor.to_string(),
            extracted_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            date: now.format("%Y-%m-%d").to_string(),
            described: described(config, &catalog, d)?,
        };
        let bag_dir = out.join(label);
        let mut done = 0u64;
        progress.set(d.number, "staging", "备妥内容", 0, total);
        let mut last = 0u64;
        let staged = bag::stage(
            &config.paths.archive_root,
            &bag_dir,
            d,
            &info,
            config.burn.blake3_manifest,
            &|disc, dir| custody_files(config, runner, &ledger, disc, dir),
            &mut |n| {
                done += n;
                if done - last >= 64 << 20 {
                    last = done;
                    progress.set(d.number, "staging", "备妥内容", done, total);
                }
            },
        );
        let staged = match staged {
            Ok(s) => s,
            Err(e) => {
                if let crate::burn::BurnError::Fixity { path, .. } = &e {
                    // The bytes differ from the custody log: an alarm with its event, beside the
                    // disc's failure.
                    let read =
                        bag::hash_file(&config.paths.archive_root.join(path), &mut |_| {}).map(|h| (h.blake3, h.size));
                    let v = match &read {
                        Ok((h, n)) => crate::ledger::fixity(ledger.file_at(path), None, Some((h, *n))),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => crate::ledger::Fixity::Missing,
                        Err(e) => crate::ledger::Fixity::Unreadable { error: e.to_string() },
                    };
                    if !v.is_intact() {
                        catalog.fixity_alarm(path, &v, "burn run")?;
                    }
                }
                catalog.record_disc_failed(label, json!({ "stage": "staging", "error": e.to_string() }))?;
                let _ = std::fs::remove_file(config.burn_progress_path());
                notes(Note::DiscFailed { label: label.clone(), error: e.to_string() });
                outcome.failed = true;
                return Ok(outcome);
            }
        };
        catalog.record_disc_staged(
            label,
            &staged.files,
            maker,
            extractor,
            &info.extracted_at,
            &bag_dir.display().to_string(),
        )?;
        notes(Note::Staged {
            label: label.clone(),
            files: staged.files.len(),
            linked: staged.linked,
            copied: staged.copied,
            folder: bag_dir.clone(),
        });
        progress.set(d.number, "image", "生成镜像", total, total);
        let iso = out.join(format!("{label}.iso"));
        if let Err(e) = image::build_image(&bag_dir, &iso, label) {
            catalog.record_disc_failed(label, json!({ "stage": "image", "error": e.to_string() }))?;
            notes(Note::DiscFailed { label: label.clone(), error: e.to_string() });
            outcome.failed = true;
            continue;
        }
        catalog.record_disc_written(label, &iso.display().to_string(), "image")?;
        notes(Note::Imaged { label: label.clone(), iso });
    }
    let _ = std::fs::remove_file(config.burn_progress_path());
    Ok(outcome)
}

/// Writes one staged disc with `burn.write_command` onto the blank disc in `device`, and
/// records it as written (or failed).
///
/// # Errors
/// When it could not run: an unknown disc, one that is not staged, a staged bag that is gone.
/// A failed write is `Ok(Err(message))`, recorded.
pub fn write(config: &Config, runner: &Runner, label: &str, device: &str) -> anyhow::Result<Result<(), String>> {
    let _one_at_a_time = super::launch::lock_burn(config)?;
    let mut catalog = runner.catalog(config)?;
    let disc = catalog.disc(label)?;
    if !matches!(disc.state.as_str(), "staged" | "written") {
        anyhow::bail!(
            "disc {label} is {}: only a staged disc can be written (run `evidock burn run` first) / 仅已备妥的光盘可以刻录",
            disc.state
        );
    }
    let dir = job_dir(config, disc.job);
    let (bag_dir, iso) = (dir.join(label), dir.join(format!("{label}.iso")));
    if !bag_dir.is_dir() {
        anyhow::bail!(
            "the staged bag {} is gone: plan and stage again with `evidock burn run` / 备妥内容已不存在，请重新运行刻录任务",
            bag_dir.display()
        );
    }
    let progress = Progress { path: config.burn_progress_path(), job: disc.job, discs: 1, label };
    progress.set(disc.number.0 as usize, "writing", "刻录中", 0, disc.bytes as u64);
    let argv = image::fill(&config.burn.write_command, &iso, device, label, &bag_dir);
    let result = image::write(&argv);
    let _ = std::fs::remove_file(config.burn_progress_path());
    match result {
        Ok(()) => {
            catalog.record_disc_written(label, device, "write")?;
            Ok(Ok(()))
        }
        Err(e) => {
            catalog.record_disc_failed(label, json!({ "stage": "write", "device": device, "error": e.to_string() }))?;
            Ok(Err(e.to_string()))
        }
    }
}

/// The result of one verify of a disc or image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The disc label (the medium's volume id).
    pub label: String,
    /// Where it was read (the image or the drive).
    pub source: String,
    /// Files expected on it.
    pub files: usize,
    /// What is wrong, per path (`-` for the medium): empty when the disc counts as a copy.
    pub findings: Vec<(String, String)>,
}

impl Verdict {
    /// Whether every file read back intact.
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Verifies a disc or image (after ejecting and reloading it): the medium, its MD5 session
/// tags, then every file extracted without mounting and checked against the bag's manifests
/// and the hashes the custody log recorded; the result is recorded (a re-check when
/// `recheck`). Only a verified disc counts as a copy.
///
/// # Errors
/// When it could not run: no volume id, an unknown disc, a custody log that does not verify.
pub fn verify(config: &Config, runner: &Runner, src: &Source, recheck: bool) -> anyhow::Result<Verdict> {
    let _one_at_a_time = super::launch::lock_burn(config)?;
    let mut catalog = runner.catalog(config)?;
    let medium = image::check_medium(src)?;
    let label = medium.label.clone().ok_or_else(|| {
        anyhow::anyhow!(
            "{}: no volume id found: not an evidock disc / 未找到卷标，不是本系统刻录的光盘",
            src.describe()
        )
    })?;
    let disc = catalog.disc(&label)?;
    let mut expected = catalog.disc_expected(disc.id)?;
    let mut findings: Vec<(String, String)> = Vec::new();
    // The disc's files are compared with the hashes the custody log recorded at their copy,
    // not only the catalogue's (INV-16); a catalogue that disagrees is a finding and an alarm.
    let ledger = crate::api::access::trusted_ledger(&mut catalog, config, "burn verify")?;
    let ids: BTreeMap<String, i64> = catalog
        .connection()
        .prepare("SELECT bag_path, file_id FROM disc_files WHERE disc_id = ?1")?
        .query_map([disc.id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for e in &mut expected {
        let Some(logged) = ids.get(&e.bag_path).and_then(|id| ledger.file(*id)) else {
            findings.push((e.bag_path.clone(), "the custody log records no such archived file".into()));
            continue;
        };
        if logged.blake3 != e.blake3 || logged.size != e.size {
            let path = e.bag_path.trim_start_matches("data/").to_string();
            let v =
                crate::ledger::Fixity::CatalogueDiffers { logged: logged.blake3.clone(), catalogue: e.blake3.clone() };
            let (en, zh) = catalog.fixity_alarm(&path, &v, "burn verify")?;
            findings.push((e.bag_path.clone(), format!("{en} / {zh}")));
            e.blake3 = logged.blake3.clone();
        }
    }
    for p in &medium.problems {
        findings.push(("-".into(), p.clone()));
    }
    for f in &medium.bad_files {
        findings.push((f.trim_start_matches('/').to_string(), "MD5 on the disc differs (xorriso -check_md5_r)".into()));
    }
    std::fs::create_dir_all(&config.burn.staging_dir)
        .with_context(|| format!("creating {}", config.burn.staging_dir.display()))?;
    let scratch = config.burn.staging_dir.join(format!(".verify-{label}-{}", std::process::id()));
    if scratch.exists() {
        remove_tree(&scratch)?;
    }
    let progress = Progress { path: config.burn_progress_path(), job: disc.job, discs: 1, label: &label };
    let total: u64 = expected.iter().map(|e| e.size).sum();
    progress.set(1, "verifying", "校验中", 0, total);
    match image::extract(src, &scratch) {
        Ok(()) => {
            let mut done = 0u64;
            for f in bag::check_bag(&scratch, &expected, &mut |n| {
                done += n;
                if done % (256 << 20) < n {
                    progress.set(1, "verifying", "校验中", done, total);
                }
            }) {
                findings.push((f.path, f.what));
            }
        }
        Err(e) => findings.push(("-".into(), format!("files could not be read back: {e}"))),
    }
    let _ = remove_tree(&scratch);
    let _ = std::fs::remove_file(config.burn_progress_path());
    catalog.record_disc_check(&label, &src.describe(), &findings, recheck)?;
    Ok(Verdict { label, source: src.describe(), files: expected.len(), findings })
}

/// Verified discs whose last check is older than `burn.recheck_interval_days`.
///
/// # Errors
/// When the catalogue cannot be read.
pub fn due_for_recheck(config: &Config, runner: &Runner) -> anyhow::Result<Vec<DiscRow>> {
    let catalog = runner.catalog(config)?;
    let cutoff = Utc::now() - config.burn.recheck_interval;
    Ok(catalog
        .discs()?
        .into_iter()
        .filter(|d| d.state == "verified")
        .filter(|d| {
            d.last_check
                .as_ref()
                .and_then(|(t, _)| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_none_or(|t| t.with_timezone(&Utc) < cutoff)
        })
        .collect())
}

/// The progress of the running burn job, in the state folder for `evidock status`.
struct Progress<'a> {
    path: PathBuf,
    job: i64,
    discs: usize,
    label: &'a str,
}

impl Progress<'_> {
    fn set(&self, disc: usize, phase: &str, phase_zh: &str, done: u64, total: u64) {
        let doc = crate::api::status::BurnProgress {
            version: 1,
            job: self.job,
            disc,
            discs: self.discs,
            label: self.label.to_string(),
            phase: phase.to_string(),
            phase_zh: phase_zh.to_string(),
            bytes_done: done,
            bytes_total: total,
            pid: std::process::id(),
            updated: Utc::now().to_rfc3339(),
        };
        // Progress is a view for people: a failed write is not worth stopping the job for.
        if let Ok(text) = serde_json::to_string(&doc) {
            let _ = crate::archive::fsio::replace(&self.path, text.as_bytes());
        }
    }
}

fn job_dir(config: &Config, job: i64) -> PathBuf {
    config.burn.staging_dir.join(format!("job-{job:05}"))
}

/// Holds the plan against the footage's confidentiality marks as they are now, at the moment
/// footage would go onto a disc (R10; S0 §18, S2 §26, S4 §25; INV-21): footage carrying a
/// mark (on its recording or on a case it is filed into) is staged only by someone who holds
/// that mark's approver right now: the approver role and the mark's `approvers`. The person is
/// the runner, or the named maker when the station's own user runs the job (a unit, or a step
/// started from the page for a station account, whose roles are the catalogue's). A
/// refusal comes before anything is logged or written; the call's refusal is its custody event
/// (`call_refused`).
fn secrecy_allows(catalog: &Catalog, config: &Config, runner: &Runner, p: &Plan, maker: &str) -> anyhow::Result<()> {
    let paths: BTreeSet<&str> = p.discs.iter().flat_map(|d| d.files.iter().map(|f| f.path.as_str())).collect();
    let mut subjects = BTreeSet::new();
    for row in catalog.recordings()? {
        if row.recording.files.iter().any(|f| paths.contains(f.path.as_str())) {
            subjects.insert(format!("recording:{}", row.recording.id));
            subjects.extend(row.recording.cases.iter().map(|c| format!("case:{c}")));
        }
    }
    let mut marked: Vec<(crate::access::Mark, String)> = Vec::new();
    for s in subjects {
        for (_, m) in catalog.marks(&s)? {
            marked.push((m, s.clone()));
        }
    }
    if marked.is_empty() {
        return Ok(());
    }
    let who = if runner.actor.role == Role::System {
        crate::control::peer::identity_of_name(maker)
    } else {
        runner.identity.clone()
    };
    // A station account (`account:NAME`, a maker named by the page) holds the roles the
    // catalogue gives it now, while it is enabled; anyone else those of `[roles]`.
    let roles = match who.user.strip_prefix("account:") {
        Some(name) => catalog
            .account_for_sign_in(name)?
            .filter(|(a, _)| a.name == name && !a.disabled)
            .map(|(a, _)| a.roles)
            .unwrap_or_default(),
        None => config.roles.roles_of(&who),
    };
    let may = |m: crate::access::Mark| {
        crate::api::access::mark_rule(config, m).approvers.contains(&who) && roles.contains(&Role::Approver)
    };
    if let Some((m, subject)) = marked.iter().find(|(m, _)| !may(*m)) {
        return Err(ApiError::refused(format!(
            "burn refused: {subject} is marked {} ({}); {} does not hold its approver right now (the approver role and \
             access.{}.approvers), nothing was planned or staged / 拒绝刻录：{subject} 涉密（{}），{} 当前无该密级的审批权限，未备妥任何光盘",
            m.as_str(),
            m.label_zh(),
            who.user,
            m.as_str().replace('-', "_"),
            m.label_zh(),
            who.user,
        ))
        .into());
    }
    Ok(())
}

/// The custody files every disc carries: a fresh signed checkpoint of the custody log, the
/// station's verifier key, and the extract of every event about the disc's recordings and
/// their cases, each with its inclusion proof (`evidock log verify-extract`).
fn custody_files(
    config: &Config,
    runner: &Runner,
    ledger: &crate::ledger::Ledger,
    disc: &bag::StagedDisc,
    dir: &Path,
) -> std::io::Result<()> {
    let io = |e: anyhow::Error| std::io::Error::other(format!("{e:#}"));
    let mut catalog = runner.catalog(config).map_err(io)?;
    let on_disc: BTreeSet<i64> = disc.files.iter().map(|f| f.file_id).collect();
    let mut wanted = BTreeSet::new();
    let mut cases = BTreeSet::new();
    for r in catalog.recordings().map_err(|e| io(e.into()))? {
        if r.files.iter().any(|(id, _)| on_disc.contains(id)) {
            let seqs =
                crate::custody::query::event_seqs(catalog.connection(), None, Some(&r.recording.id), config.timezone)
                    .map_err(io)?;
            wanted.extend(seqs);
            cases.extend(r.recording.cases.iter().cloned());
        }
    }
    for c in &cases {
        wanted.extend(
            crate::custody::query::event_seqs(catalog.connection(), Some(c), None, config.timezone).map_err(io)?,
        );
    }
    // The events that recorded each file's copy and filings (chain files included): what
    // `log verify-extract` checks the disc's bytes against.
    for f in &disc.files {
        wanted.extend(ledger.file(f.file_id).map(|l| l.seqs.clone()).unwrap_or_default());
    }
    crate::api::export::write_custody_folder(&mut catalog, config, &wanted, &|_| false, dir).map_err(io)?;
    Ok(())
}

/// Removes an extraction folder, whose folders may have been extracted read-only.
fn remove_tree(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if std::fs::symlink_metadata(&d).is_ok_and(|m| m.is_dir()) {
            let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700));
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                stack.push(e.path());
            }
        }
    }
    std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))
}

/// What a disc's footage is, for its `bag-info.txt` (S3 §27, S4 §23): for each case on it the
/// party, the handling officers by name and badge and the case's description; for each
/// recording on it its description.
fn described(
    config: &Config,
    catalog: &Catalog,
    disc: &crate::burn::plan::DiscPlan,
) -> anyhow::Result<Vec<(String, String)>> {
    use crate::burn::plan::Group;
    use crate::catalog::DescribedTarget;
    let mut out = Vec::new();
    let mut cases: Vec<&str> = disc
        .files
        .iter()
        .filter_map(|f| match &f.group {
            Group::Case(c) => Some(c.as_str()),
            Group::Recording(_) => None,
        })
        .collect();
    cases.dedup();
    let mut recordings = BTreeSet::new();
    let push_description = |out: &mut Vec<(String, String)>, whose: &str, d: &crate::catalog::Description| {
        for (k, v) in [
            ("Subject-执法对象", &d.text.subject),
            ("Content-执法内容", &d.text.content),
            ("Place-取证地点", &d.text.place),
        ] {
            if let Some(v) = v {
                out.push((k.to_string(), format!("{whose}: {v}")));
            }
        }
    };
    for c in cases {
        let case = catalog.case(c)?;
        let sheet = crate::api::cases::sheet(config, catalog, &case)?;
        if let Some(p) = &case.label.party {
            out.push(("Party-当事人".to_string(), format!("{c}: {p}")));
        }
        for o in &sheet.officers {
            out.push(("Handling-Officer-承办人".to_string(), format!("{c}: {}", o.text())));
        }
        if let Some(d) = &sheet.description {
            push_description(&mut out, c, d);
        }
        for f in sheet.files.iter().filter(|f| disc.files.iter().any(|x| x.path == f.path)) {
            if let Some(d) = f.description.as_ref().filter(|_| recordings.insert(f.recording.clone())) {
                push_description(&mut out, &f.recording, d);
            }
        }
    }
    for f in &disc.files {
        if let Group::Recording(r) = &f.group {
            if recordings.insert(r.clone()) {
                if let Some(d) = catalog.description(&DescribedTarget::Recording(r.clone()))? {
                    push_description(&mut out, r, &d);
                }
            }
        }
    }
    Ok(out)
}
