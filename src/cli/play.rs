//! `evidock access play REQUEST FILE [--player CMD]`: approved viewing that plays the footage
//! (R9; S2 §24, S3 §28: 调阅 under an approval, every view registered).
//!
//! Owns: playing a viewed file in the viewer's own process: the front end of the typed
//! `access_play`, whose answer hands over the archived file (through the service, a read-only
//! descriptor with the reply's line; directly, the file opened here). The decision (the
//! request and the marks held again at that moment, INV-21; the file held against the custody
//! log, INV-16; the view logged before a byte is handed over, INV-36) is the station API's
//! (`api::access::play`). The viewer's process reads it, hashing as it goes, and tells whether
//! the bytes were the logged ones ([`watch`]).
//! Must never: run the viewer's player as the service's user (the player runs in the viewer's
//! own process), write to the archive, or hand over a file outside the approved request.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context;

use crate::api::access::Played;

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

/// Plays `file` in the viewer's process: its bytes go to standard output, or into the standard
/// input of `player` (run by `sh -c`), hashed as they go; at the end they are held against the
/// size and BLAKE3 the log recorded. A viewer that stops early (the player quits, the pipe
/// closes) ends the viewing without error; only what was read was checked.
///
/// # Errors
/// When the player cannot be started, or reading the file fails. Bytes that differ from the
/// log are not an error but exit code 1, in both languages.
pub fn watch(offer: &Played, player: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut file = offer.file.file().context("the station answered without the file")?;
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
