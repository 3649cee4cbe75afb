//! `evidock demo`: the quick start. Runs the service on a local folder (no root, no
//! hardware: dock root, archive and state all under `--dir`), docks copies of the bundled
//! fixture recorders into it one by one, and beside them a recorder that is a plain USB disk
//! (no identity file: a `mass-storage` model, registered with its USB binding, reported by a
//! simulated USB bus), waits until every bay has finished, and prints the station's status and
//! the custody log's verification.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder for the demo station (created if missing; reused if present).
    #[arg(long, default_value = "evidock-demo")]
    pub dir: PathBuf,
    /// Folder of recorder volumes to dock (default: the repository's fixtures/recorders).
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
    /// Keep the service running after the fixtures are ingested (stop with Ctrl-C).
    #[arg(long)]
    pub keep_running: bool,
}

const CONFIG: &str = r#"# evidock demo station: every path is relative to this file.
[station]
name = "evidock 演示工作站 (demo)"
timezone = "Asia/Shanghai"

[paths]
dock_root = "dock"
archive_root = "archive"
state_dir = "state"
control_socket = "run/control.sock"

[usb]
enabled = false

# A recorder that is a plain USB disk (no identity file): who it is comes from the registry's
# USB binding, its times from its file names. The demo reports it on a simulated USB bus.
[[usb.models]]
name = "某品牌 执法记录仪 (USB disk)"
vendor_id = "0x2f3a"
product_id = "0x0100"
adapter = "mass-storage"
footage = ["DCIM"]
name_pattern = "{serial}_{badge}_{YYYY}{MM}{DD}{hh}{mm}{ss}_{seq}{*}"
important_marks = ["IMP"]
"#;

/// The USB serial and device serial of the demo's USB-disk recorder.
const DISK_USB: (&str, &str, &str) = ("2f3a:0100", "DEMO-DISK-01", "A200001");

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let ty = entry.file_type()?;
        let target = to.join(entry.file_name());
        if ty.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if ty.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn fixtures_dir(args: &Args) -> anyhow::Result<PathBuf> {
    if let Some(f) = &args.fixtures {
        return Ok(f.clone());
    }
    let local = PathBuf::from("fixtures/recorders");
    if local.is_dir() {
        return Ok(local);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/recorders");
    if built.is_dir() {
        return Ok(built);
    }
    anyhow::bail!("no fixture recorders found: run from the source tree or pass --fixtures DIR")
}

fn all_final(config: &Config, expected: usize) -> bool {
    let Ok(bytes) = std::fs::read(config.status_path()) else { return false };
    let Ok(doc) = serde_json::from_slice::<crate::daemon::status::Document>(&bytes) else { return false };
    doc.bays.len() >= expected
        && doc.bays.iter().all(|b| matches!(b.phase.as_str(), "done" | "attention" | "not_a_recorder" | "abandoned"))
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let fixtures = fixtures_dir(args)?;
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    let dir = args.dir.canonicalize()?;
    let config_path = dir.join("evidock.toml");
    if !config_path.exists() {
        // The person running the demo holds every role but approver at this station.
        let me = crate::control::peer::current().user;
        let roles = format!(
            "\n[roles]\ncustodian = [{me:?}]\narchivist = [{me:?}]\nsupervisor = [{me:?}]\nadmin = [{me:?}]\napprover = []\n"
        );
        std::fs::write(&config_path, format!("{CONFIG}{roles}"))?;
    }
    let config = Config::parse(&std::fs::read_to_string(&config_path)?, &config_path)?;
    let mut volumes: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .with_context(|| format!("reading fixtures {}", fixtures.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    volumes.sort();
    let incoming = dir.join("incoming");
    let _ = std::fs::remove_dir_all(&incoming);
    // A recorder writes its identity, with its clock reading, when it docks: the bundled
    // fixtures were written long ago, so their clock is set to now (Beijing time) here.
    let now = chrono::Utc::now().with_timezone(&config.timezone).naive_local();
    for v in &volumes {
        let copy = incoming.join(v.file_name().unwrap_or_default());
        copy_tree(v, &copy)?;
        let id = copy.join(crate::recorder::format::IDENTITY_FILE);
        if let Ok(bytes) = std::fs::read(&id) {
            std::fs::write(&id, crate::recorder::sim::restamp_clock(&bytes, now))?;
        }
    }

    // A recorder without the contract, when the station's model table knows its model: its
    // volume, its registration with its USB binding, and a simulated USB bus reporting it.
    let disk = format!("{}:{}", DISK_USB.0, DISK_USB.1);
    let simulated = crate::dock::usb::simulated(&disk, &config.usb.models).map_err(anyhow::Error::msg)?;
    if !simulated.is_empty() {
        let now = chrono::Utc::now().with_timezone(&config.timezone).naive_local();
        let start = (now.date() - chrono::Duration::days(1)).and_hms_opt(9, 0, 0).unwrap_or(now);
        crate::recorder::vendor_sim::write_vendor(
            &incoming.join(DISK_USB.1),
            &crate::recorder::vendor_sim::VendorSimOptions {
                shape: crate::recorder::vendor_sim::VendorShape::MassStorage,
                serial: DISK_USB.2.into(),
                badge: "012345".into(),
                videos: 3,
                photos: 1,
                video_bytes: 256 << 10,
                start,
                video_duration_s: 600,
                important: 1,
                clock_drift_s: 0,
                first_seq: 1,
                seed: 7,
                timezone: config.timezone,
            },
        )?;
        volumes.push(incoming.join(DISK_USB.1));
        let (lock, catalog, _) = crate::daemon::prepare(&config, false)?;
        drop(catalog);
        // Registered as a custodian would, through the station API (the demo's user holds the
        // custodian role in its configuration).
        let me = crate::api::Caller::of(&config, crate::control::peer::current(), crate::api::Via::Direct);
        let register = crate::api::Request::DeviceRegister(crate::api::device::Register {
            serial: DISK_USB.2.into(),
            officer_id: "012345".into(),
            officer_name: Some("李四".into()),
            unit: Some("宜良县卫生健康局".into()),
            model: None,
            usb: vec![disk.clone()],
        });
        crate::api::call(&config, &me, register, Vec::new())?;
        drop(lock);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let shutdown = CancellationToken::new();
    let daemon = runtime.spawn(crate::daemon::run_with(config.clone(), shutdown.clone(), simulated));
    eprintln!("evidock demo: station in {} (config {})", dir.display(), config_path.display());
    let start = Instant::now();
    while !config.status_path().exists() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Dock: each volume appears whole, by an atomic rename into the dock root.
    let dock = &config.paths.dock_root;
    let mut docked = 0;
    for v in &volumes {
        let name = v.file_name().unwrap_or_default();
        let target = dock.join(name);
        if target.exists() {
            std::fs::remove_dir_all(&target)?;
        }
        std::fs::rename(incoming.join(name), &target)?;
        docked += 1;
        if name == DISK_USB.1 {
            eprintln!("  docked {} (a USB-disk recorder, USB {disk}: no identity file)", name.to_string_lossy());
        } else {
            eprintln!("  docked {}", name.to_string_lossy());
        }
    }
    let start = Instant::now();
    while !all_final(&config, docked) && start.elapsed() < Duration::from_secs(600) {
        if daemon.is_finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = super::status::run(
        &super::status::Args { json: false, watch: false },
        &super::invoke::Link::new(&config, super::invoke::Expect::ThisStation),
    )?;
    let verify = super::log::run(
        &super::log::LogCommand::Verify { checkpoints: Vec::new(), from: super::log::Source::default(), json: false },
        &config.catalog_path(),
        &config.paths.state_dir,
        &crate::custody::checkpoint::key_name(&config.station_name),
        Some(&config.paths.archive_root),
    )?;
    if args.keep_running {
        eprintln!("evidock demo: still running; dock more volumes into {} (Ctrl-C stops)", dock.display());
        runtime.block_on(async { tokio::signal::ctrl_c().await })?;
    }
    shutdown.cancel();
    runtime.block_on(daemon).context("waiting for the service")??;
    println!();
    println!("archive 归档目录: {}", config.paths.archive_root.display());
    println!("try 试试: evidock --config {} status | log tail | log verify", config_path.display());
    Ok(if status == ExitCode::SUCCESS { verify } else { status })
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_clock_line_changes() {
        let id = b"format=ZFY-CUSTODY/1\nofficer_name=\xd5\xc5\xc8\xfd\nclock=2024-05-01T18:00:00\nbattery=80\n";
        let now = crate::recorder::format::parse_wall(0, "t", "2026-11-25T04:00:00").unwrap();
        let out = crate::recorder::sim::restamp_clock(id, now);
        assert_eq!(
            out,
            b"format=ZFY-CUSTODY/1\nofficer_name=\xd5\xc5\xc8\xfd\nclock=2026-11-25T04:00:00\nbattery=80\n".to_vec()
        );
    }
}
