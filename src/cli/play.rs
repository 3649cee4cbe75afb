//! `evidock access play REQUEST FILE [--player CMD]`: approved viewing that plays the footage
//! (R9; S2 §24, S3 §28: 调阅 under an approval, every view registered).
//!
//! Owns: the moment a file is viewed: the request and the marks held again at that moment
//! (INV-21), the file held against the custody log (INV-16), the view logged (who, which file,
//! when) before a byte is handed over (INV-36), and the hand-over itself: through the service,
//! a read-only descriptor of the archived file with its `file` reply; directly, the file opened
//! here. The viewer's process reads it, hashing as it goes, and tells whether the bytes were
//! the logged ones ([`watch`]).
//! Must never: run the viewer's player as the service's user (the player runs in the viewer's
//! own process), write to the archive, or hand over a file outside the approved request.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use serde_json::json;

use super::access::{expire_lapsed, recordings_of, refused, still_holds};
use super::invoke::{caller, Refused};
use crate::access::Kind;
use crate::config::Config;
use crate::control::wire::FileOffer;
use crate::custody::event::Action;

/// The `--player` of an `access play` command line, if any.
pub fn player_of(cmd: &super::Command) -> Option<&str> {
    match cmd {
        super::Command::Access(super::access::AccessCommand::Play { player, .. }) => player.as_deref(),
        _ => None,
    }
}

/// Refuses to play footage onto a terminal: without `--player`, standard output must go to a
/// player (`| mpv -`) or a file. Checked before anything is asked or logged.
///
/// # Errors
/// When standard output is a terminal and no player is given.
pub fn check_sink(player: Option<&str>) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if player.is_none() && std::io::stdout().is_terminal() {
        anyhow::bail!(
            "standard output is a terminal: pipe the footage into a player (`| mpv -`) or give --player \"mpv -\" \
             / 请将输出交给播放器（| mpv -）或使用 --player"
        );
    }
    Ok(())
}

/// The archive path `file` names: as `access view` lists it (under the archive root), or
/// relative to the archive root.
fn archive_path(config: &Config, file: &str) -> String {
    let p = Path::new(file.trim());
    p.strip_prefix(&config.paths.archive_root).unwrap_or(p).to_string_lossy().trim_start_matches('/').to_string()
}

/// Runs `access play`: decides, logs the view, and hands the file over (or plays it here when
/// no service stands between the viewer and the archive).
///
/// # Errors
/// When it is refused (not the requester, no live view approval, a file outside the request,
/// a mark or approver right that no longer holds, a file that contradicts the log) or could
/// not run.
pub fn run(id: i64, file: &str, player: Option<&str>, config: &Config) -> anyhow::Result<ExitCode> {
    if !caller().via_daemon {
        check_sink(player)?;
    }
    let mut catalog = super::open_catalog_as_user(config)?;
    expire_lapsed(&mut catalog, config)?;
    let me = caller();
    let user = me.actor.user.clone();
    let mut req = catalog.access(id)?;
    if req.requested_by != user {
        return Err(Refused(format!(
            "request #{id} is {}'s; only the requester views under it / 仅申请人本人可凭此审批查看",
            req.requested_by
        ))
        .into());
    }
    req.usable(Kind::View, Utc::now()).map_err(refused)?;
    let recs = recordings_of(&catalog, &req.scope)?;
    still_holds(&mut catalog, config, &mut req, &recs, Kind::View)?;
    let rel = archive_path(config, file);
    let Some(row) = recs.iter().flat_map(|r| r.recording.files.iter()).find(|f| f.path == rel) else {
        return Err(Refused(format!(
            "{rel} is not footage of request #{id}; `evidock access view {id}` lists what it covers \
             / 该文件不在调阅申请 #{id} 批准的范围内"
        ))
        .into());
    };
    crate::central::offload::refuse_evicted(&catalog, [rel.as_str()]).map_err(anyhow::Error::msg)?;
    // The file named must be the one the log recorded (INV-16): the catalogue row first, then
    // the size on disk; the bytes are hashed by the viewer's process as it reads them.
    let ledger = super::archive::trusted_ledger(&mut catalog, config, "view")?;
    let logged = ledger.file_at(&rel).cloned();
    let check = crate::ledger::catalogue_check(logged.as_ref(), &row.blake3, row.size);
    if !check.is_intact() {
        return Err(view_refused(&mut catalog, &rel, &check));
    }
    let Some(logged) = logged else { unreachable!("an intact check has a logged file") };
    let path = config.paths.archive_root.join(&rel);
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&path)
        .and_then(|f| f.metadata().map(|m| (f, m.len())));
    let (fd, on_disk) = match opened {
        Ok(x) => x,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let v = crate::ledger::fixity(Some(&logged), Some((&row.blake3, row.size)), None);
            return Err(view_refused(&mut catalog, &rel, &v));
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("opening {}", path.display()))),
    };
    if on_disk != logged.size {
        let v = crate::ledger::fixity(Some(&logged), Some((&row.blake3, row.size)), Some(("", on_disk)));
        return Err(view_refused(&mut catalog, &rel, &v));
    }
    // The view is logged before a byte is handed over, in one transaction (INV-36).
    let offer = FileOffer { name: rel.clone(), size: logged.size, blake3: logged.blake3.clone() };
    catalog.event(
        Action::FootageViewed,
        &crate::catalog::request_subject(id),
        json!({
            "requested_by": req.requested_by, "viewer": user, "file": rel, "size": logged.size,
            "blake3": logged.blake3, "played": true,
            "via": if me.via_daemon { "descriptor" } else { "direct" },
        }),
    )?;
    if super::invoke::hand_file(&offer, fd.as_fd()).context("handing the file to the viewer")? {
        return Ok(ExitCode::SUCCESS);
    }
    watch(fd, &offer, player)
}

/// Refuses a view whose file contradicts the custody log: the alarm and its event, and the
/// error in both languages.
fn view_refused(catalog: &mut crate::catalog::Catalog, path: &str, found: &crate::ledger::Fixity) -> anyhow::Error {
    let (en, zh) = match catalog.fixity_alarm(path, found, "view") {
        Ok(t) => t,
        Err(e) => return anyhow::Error::new(e).context(format!("recording the alarm for {path}")),
    };
    anyhow::anyhow!(
        "fixity check failed, viewing refused: {en}; the alarm is raised (`evidock status`) \
         / 校验失败，拒绝查看：{zh}；已发出警报"
    )
}

/// Plays `file` in the viewer's process: its bytes go to standard output, or into the standard
/// input of `player` (run by `sh -c`), hashed as they go; at the end they are held against the
/// size and BLAKE3 the log recorded. A viewer that stops early (the player quits, the pipe
/// closes) ends the viewing without error; only what was read was checked.
///
/// # Errors
/// When the player cannot be started, or reading the file fails. Bytes that differ from the
/// log are not an error but exit code 1, in both languages.
pub fn watch(mut file: std::fs::File, offer: &FileOffer, player: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut child = match player {
        Some(cmd) => Some(
            std::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .stdin(std::process::Stdio::piped())
                .spawn()
                .with_context(|| format!("starting the player {cmd:?}"))?,
        ),
        None => None,
    };
    let mut sink: Box<dyn Write> = match child.as_mut().and_then(|c| c.stdin.take()) {
        Some(stdin) => Box::new(stdin),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut hasher = blake3::Hasher::new();
    let mut read = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    let mut stopped = false;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", offer.name))),
        };
        hasher.update(&buf[..n]);
        read += n as u64;
        if sink.write_all(&buf[..n]).is_err() {
            stopped = true;
            break;
        }
    }
    let _ = sink.flush();
    drop(sink);
    if let Some(mut c) = child {
        let _ = c.wait();
    }
    if stopped {
        eprintln!(
            "evidock: the viewer stopped after {read} of {} bytes of {}; only those were checked / 播放已中止",
            offer.size, offer.name
        );
        return Ok(ExitCode::SUCCESS);
    }
    let hash = hasher.finalize().to_hex().to_string();
    if read != offer.size || hash != offer.blake3 {
        eprintln!(
            "evidock: {} read {read} bytes with BLAKE3 {hash}, but the custody log recorded {} bytes with {}: \
             what was shown is not the archived footage; run `evidock archive scrub` and tell the archivist \
             / 播放内容与保管日志记录不符，请执行存档巡检并报告档案管理员",
            offer.name, offer.size, offer.blake3
        );
        return Ok(ExitCode::from(1));
    }
    eprintln!(
        "evidock: played {} ({read} bytes), equal to the custody log / 已播放，内容与保管日志记录一致",
        offer.name
    );
    Ok(ExitCode::SUCCESS)
}
