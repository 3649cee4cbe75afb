//! `evidock sim recorder`: writes a simulated recorder volume (clean or with faults) for
//! tests, fixtures, demonstrations and benchmarks.
//!
//! Owns: the command line of the simulator and its output (a short summary, or JSON with
//! `--json`). Must never: write into a folder that is not empty.
//!
//! `--json` shape (version 1): `{"version":1,"out","serial","identity_clock","next_seq",
//! "tail","sessions":[{"id","chain_file","first_seq","last_seq","start","end","complete",
//! "tail"}],"segments":[{"seq","session","path","kind","start","end","size","blake3","parts",
//! "sealed"}],"faults":[{"fault","seqs","session","paths","detail"}]}`. Times are device wall
//! clock `YYYY-MM-DDThh:mm:ss`, digests lower-case hex, `tail` null when unchained; paths that
//! are not UTF-8 are shown with replacement characters.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{Duration, NaiveDateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::recorder::format::{format_wall, hex, parse_hex, parse_wall, Digest};
use crate::recorder::sim::{write_recorder, Fault, SimOptions, SimSummary};

/// `evidock sim ...`
#[derive(Debug, Clone, Subcommand)]
pub enum SimCommand {
    /// Write a simulated recorder volume that follows the ZFY-CUSTODY/1 contract.
    Recorder(RecorderArgs),
}

/// What kind of recorder to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SimKind {
    /// A recorder that follows the ZFY-CUSTODY/1 contract (identity file, chain).
    Contract,
    /// A plain USB disk: names with serial, badge and time, an important mark, no identity file.
    MassStorage,
    /// The storage of an Ambarella A9 camera in disk mode (the backing of a virtual one).
    AmbarellaImage,
}

/// `evidock sim recorder` options.
#[derive(Debug, Clone, Args)]
pub struct RecorderArgs {
    /// Folder to write the volume into (created; must be empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The kind of recorder. A vendor kind (mass-storage, ambarella-image) writes no identity
    /// file and no chain; the options about chains and faults do not apply to it.
    #[arg(long, value_enum, default_value = "contract")]
    pub kind: SimKind,
    /// Vendor kinds: how many videos, from the last one back, are marked important.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub important: u32,
    /// Device serial, 7 characters 0-9 A-Z.
    #[arg(long)]
    pub serial: String,
    /// Recording sessions (one chain file each).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub sessions: u32,
    /// Video segments per session.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub segments: u32,
    /// Size of each video segment; suffixes K, M, G are binary units (64K = 65536).
    #[arg(long, default_value = "64K", value_parser = parse_size, value_name = "BYTES")]
    pub segment_bytes: u64,
    /// Fault to apply (repeatable): altered, missing, inserted, reordered, truncated,
    /// unchained, gap, interrupted, cut, hostile-names, symlinks.
    #[arg(long = "fault", value_name = "KIND")]
    pub faults: Vec<Fault>,
    /// Officer badge number (警号), 6 characters 0-9 A-Z.
    #[arg(long, default_value = "012345")]
    pub badge: String,
    /// Officer name written to the identity file ("" for none).
    #[arg(long, default_value = "张三", value_name = "NAME")]
    pub officer_name: String,
    /// Officer unit written to the identity file ("" for none).
    #[arg(long, default_value = "宜良县卫生健康局", value_name = "UNIT")]
    pub unit: String,
    /// Recorder model.
    #[arg(long, default_value = "DSJ-Z1")]
    pub model: String,
    /// Start of the first session, true time (default: yesterday 09:00:00 local time).
    #[arg(long, value_parser = parse_time, value_name = "YYYY-MM-DDThh:mm:ss")]
    pub start: Option<NaiveDateTime>,
    /// True time at docking; the identity clock is this plus the drift (default: now, Beijing time).
    #[arg(long, value_parser = parse_time, value_name = "YYYY-MM-DDThh:mm:ss")]
    pub now: Option<NaiveDateTime>,
    /// Length of one video segment in seconds.
    #[arg(long, default_value_t = 600, value_name = "S")]
    pub segment_duration_s: u32,
    /// Photos per session, taken at the session's start.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub photos: u32,
    /// Seed of the file content.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Sequence number of the first segment.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub first_seq: u64,
    /// Device clock minus true time, in seconds (may be negative).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_name = "S")]
    pub clock_drift_s: i64,
    /// Battery charge the identity file reports, percent (contract recorders).
    #[arg(long, default_value_t = 80, value_name = "PERCENT")]
    pub battery: u8,
    /// Period of PART records in bytes (default: a quarter of a segment).
    #[arg(long, value_parser = parse_size, value_name = "BYTES")]
    pub part_every: Option<u64>,
    /// Last link of the previous session on this device (64 hex digits), from an earlier run's
    /// `tail`.
    #[arg(long, value_parser = parse_digest, value_name = "HEX")]
    pub prev_tail: Option<Digest>,
    /// Print what was written as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Parses a byte count with an optional binary suffix: `K`, `M`, `G` or `T` (also `KiB` etc.).
///
/// # Errors
/// When the text is not such a count or it overflows.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(digits);
    let shift = match suffix.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(format!("{s:?}: expected a byte count like 65536, 64K, 256M or 4G")),
    };
    let n: u64 = num.parse().map_err(|_| format!("{s:?}: expected a byte count like 65536, 64K, 256M or 4G"))?;
    n.checked_mul(1u64 << shift).ok_or_else(|| format!("{s:?}: too large"))
}

fn parse_time(s: &str) -> Result<NaiveDateTime, String> {
    parse_wall(0, "time", s).map_err(|e| e.reason)
}

fn parse_digest(s: &str) -> Result<Digest, String> {
    parse_hex(0, "prev-tail", s).map_err(|e| e.reason)
}

/// Runs `evidock sim ...`.
///
/// # Errors
/// When the volume could not be written (exit code 2).
pub fn run(cmd: &SimCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SimCommand::Recorder(args) => recorder(args),
    }
}

fn recorder(args: &RecorderArgs) -> anyhow::Result<ExitCode> {
    if args.kind != SimKind::Contract {
        return vendor(args);
    }
    let now = args.now.unwrap_or_else(|| {
        // Chinese recorders keep Beijing time, the station's default zone.
        let n = Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).naive_local();
        n - Duration::nanoseconds(i64::from(chrono::Timelike::nanosecond(&n)))
    });
    let start = args.start.unwrap_or_else(|| {
        let yesterday = now.date() - Duration::days(1);
        yesterday.and_hms_opt(9, 0, 0).unwrap_or(now)
    });
    let text = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    let opts = SimOptions {
        serial: args.serial.clone(),
        badge: args.badge.clone(),
        officer_name: text(&args.officer_name),
        unit: text(&args.unit),
        model: args.model.clone(),
        sessions: args.sessions,
        segments: args.segments,
        photos: args.photos,
        segment_bytes: args.segment_bytes,
        start,
        segment_duration_s: args.segment_duration_s,
        faults: args.faults.clone(),
        seed: args.seed,
        first_seq: args.first_seq,
        clock_drift_s: args.clock_drift_s,
        part_every_bytes: args.part_every,
        prev_tail: args.prev_tail,
        battery_percent: Some(args.battery),
        ..SimOptions::default()
    };
    let summary = write_recorder(&args.out, &opts, now)
        .with_context(|| format!("simulating recorder {} into {}", args.serial, args.out.display()))?;
    let text = if args.json {
        let mut s = serde_json::to_string_pretty(&to_json(args, &summary))?;
        s.push('\n');
        s
    } else {
        human(args, &summary)
    };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Default start: yesterday 09:00:00, Beijing time.
fn default_start() -> NaiveDateTime {
    let n = Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).naive_local();
    let yesterday = n.date() - Duration::days(1);
    yesterday.and_hms_opt(9, 0, 0).unwrap_or(n)
}

fn vendor(args: &RecorderArgs) -> anyhow::Result<ExitCode> {
    use crate::recorder::vendor_sim::{write_vendor, VendorShape, VendorSimOptions};
    let shape = match args.kind {
        SimKind::MassStorage => VendorShape::MassStorage,
        _ => VendorShape::AmbarellaImage,
    };
    if !args.faults.is_empty() || args.prev_tail.is_some() || args.part_every.is_some() || args.sessions != 1 {
        anyhow::bail!(
            "--fault, --prev-tail, --part-every and --sessions describe a chain: a {} recorder writes none",
            shape.as_str()
        );
    }
    let opts = VendorSimOptions {
        shape,
        serial: args.serial.clone(),
        badge: args.badge.clone(),
        videos: args.segments,
        photos: args.photos,
        video_bytes: args.segment_bytes,
        start: args.start.unwrap_or_else(default_start),
        video_duration_s: args.segment_duration_s,
        important: args.important,
        clock_drift_s: args.clock_drift_s,
        first_seq: args.first_seq,
        seed: args.seed,
        timezone: chrono_tz::Asia::Shanghai,
    };
    let files = write_vendor(&args.out, &opts)
        .with_context(|| format!("simulating a {} recorder into {}", shape.as_str(), args.out.display()))?;
    let model = shape.model();
    let text = if args.json {
        let v = json!({
            "version": 1,
            "kind": shape.as_str(),
            "out": args.out.to_string_lossy(),
            "serial": args.serial,
            "badge": args.badge,
            "model": {
                "adapter": model.adapter, "footage": model.footage, "name_pattern": model.name_pattern,
                "important_marks": model.important_marks,
            },
            "files": files.iter().map(|f| json!({
                "path": f.path, "start": format_wall(f.start), "size": f.size, "blake3": hex(&f.blake3),
                "important": f.important,
            })).collect::<Vec<_>>(),
        });
        let mut s = serde_json::to_string_pretty(&v)?;
        s.push('\n');
        s
    } else {
        let bytes: u64 = files.iter().map(|f| f.size).sum();
        let mut out = format!(
            "wrote a {} recorder ({}, badge {}) to {}: {} file(s), {bytes} bytes, {} marked important; no identity file\n",
            shape.as_str(),
            args.serial,
            args.badge,
            args.out.display(),
            files.len(),
            files.iter().filter(|f| f.important).count(),
        );
        out += &format!(
            "  model table: adapter = {:?}, footage = {:?}, name_pattern = {:?}, important_marks = {:?}\n",
            model.adapter, model.footage, model.name_pattern, model.important_marks
        );
        out
    };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn human(args: &RecorderArgs, s: &SimSummary) -> String {
    let bytes: u64 = s.segments.iter().map(|g| g.size).sum();
    let mut out = format!(
        "wrote recorder {} to {}: {} session(s), {} segment(s), {bytes} bytes; identity clock {}\n",
        s.identity.serial,
        args.out.display(),
        s.sessions.len(),
        s.segments.len(),
        format_wall(s.identity.clock)
    );
    for sess in &s.sessions {
        out += &format!(
            "  session {}: seq {}..{}, {} to {}, {}\n",
            sess.id,
            sess.first_seq,
            sess.last_seq,
            format_wall(sess.start),
            format_wall(sess.end),
            if sess.complete { "complete" } else { "cut" }
        );
    }
    for f in &s.faults {
        let seqs = f.seqs.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        let seqs = if seqs.is_empty() { String::new() } else { format!(" seq {seqs}") };
        out += &format!("  fault {}{seqs}: {}\n", f.fault, f.detail.escape_debug());
    }
    out += &format!(
        "  next seq {}, tail {}\n",
        s.next_seq,
        s.tail.as_ref().map_or_else(|| "none (unchained)".to_string(), hex)
    );
    out
}

fn to_json(args: &RecorderArgs, s: &SimSummary) -> Value {
    json!({
        "version": 1,
        "out": args.out.to_string_lossy(),
        "serial": s.identity.serial,
        "identity_clock": format_wall(s.identity.clock),
        "next_seq": s.next_seq,
        "tail": s.tail.as_ref().map(hex),
        "sessions": s.sessions.iter().map(|x| json!({
            "id": x.id,
            "chain_file": x.chain_file,
            "first_seq": x.first_seq,
            "last_seq": x.last_seq,
            "start": format_wall(x.start),
            "end": format_wall(x.end),
            "complete": x.complete,
            "tail": x.tail.as_ref().map(hex),
        })).collect::<Vec<_>>(),
        "segments": s.segments.iter().map(|g| json!({
            "seq": g.seq,
            "session": g.session,
            "path": g.path,
            "kind": g.kind.to_string(),
            "start": format_wall(g.start),
            "end": format_wall(g.end),
            "size": g.size,
            "blake3": hex(&g.blake3),
            "parts": g.parts,
            "sealed": g.sealed,
        })).collect::<Vec<_>>(),
        "faults": s.faults.iter().map(|f| json!({
            "fault": f.fault.as_str(),
            "seqs": f.seqs,
            "session": f.session,
            "paths": f.paths.iter().map(|p| p.to_string_lossy().into_owned()).collect::<Vec<_>>(),
            "detail": f.detail,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Top {
        #[command(subcommand)]
        sim: SimCommand,
    }

    fn parse(args: &[&str]) -> Result<RecorderArgs, String> {
        let mut v = vec!["evidock"];
        v.extend_from_slice(args);
        match Top::try_parse_from(v).map_err(|e| e.to_string())?.sim {
            SimCommand::Recorder(a) => Ok(a),
        }
    }

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("256m"), Ok(256 << 20));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert!(parse_size("4X").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999T").unwrap_err().contains("too large"));
    }

    #[test]
    fn command_line_parses() {
        let a = parse(&[
            "recorder",
            "--out",
            "v",
            "--serial",
            "A100001",
            "--sessions",
            "2",
            "--segments",
            "4",
            "--segment-bytes",
            "32K",
            "--fault",
            "altered",
            "--fault",
            "hostile-names",
            "--clock-drift-s",
            "-120",
            "--start",
            "2024-05-01T09:00:00",
            "--json",
        ])
        .unwrap();
        assert_eq!(a.segment_bytes, 32768);
        assert_eq!(a.faults, vec![Fault::Altered, Fault::HostileNames]);
        assert_eq!(a.clock_drift_s, -120);
        assert!(a.json);
        let err = parse(&["recorder", "--out", "v", "--serial", "A100001", "--fault", "splice"]).unwrap_err();
        assert!(err.contains("unknown fault"), "{err}");
    }

    #[test]
    fn json_names_fault_positions_and_refuses_non_empty_out() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("vol");
        let out_s = out.to_str().unwrap();
        let a = parse(&[
            "recorder",
            "--out",
            out_s,
            "--serial",
            "A100002",
            "--segment-bytes",
            "4K",
            "--fault",
            "missing",
            "--now",
            "2024-05-01T18:00:00",
            "--start",
            "2024-05-01T09:00:00",
        ])
        .unwrap();
        let opts_now = a.now.unwrap();
        let summary = write_recorder(
            &a.out,
            &SimOptions {
                serial: a.serial.clone(),
                segment_bytes: a.segment_bytes,
                faults: a.faults.clone(),
                start: a.start.unwrap(),
                ..SimOptions::default()
            },
            opts_now,
        )
        .unwrap();
        let v = to_json(&a, &summary);
        assert_eq!(v["faults"][0]["fault"], "missing");
        assert_eq!(v["faults"][0]["seqs"][0], 2);
        assert_eq!(v["segments"].as_array().unwrap().len(), 3);
        assert_eq!(v["identity_clock"], "2024-05-01T18:00:00");
        assert!(human(&a, &summary).contains("fault missing seq 2"));
        // The folder now holds a volume: a second run is refused with a clear message.
        let err = run(&SimCommand::Recorder(a)).unwrap_err();
        assert!(format!("{err:#}").contains("is not empty"), "{err:#}");
    }
}
