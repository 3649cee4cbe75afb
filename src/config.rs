//! Configuration: the raw TOML file ([`ConfigFile`], every key optional, unknown keys refused)
//! resolved into typed, validated values ([`Config`]).
//!
//! Owns: where the configuration comes from (`--config`, `EVIDOCK_CONFIG`,
//! `/etc/evidock/evidock.toml`, built-in defaults) and what every key means.
//! Must never: hold global state; every error names the file, the key and the bad value.
//! Every number the regulations leave to the bureau is a key here, never a constant (R3, R7).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The system-wide configuration file.
pub const SYSTEM_CONFIG: &str = "/etc/evidock/evidock.toml";

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema (unknown key, wrong type).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML parser's message, which names the key and line.
        message: String,
    },
    /// A key has a value outside what it allows.
    #[error("{path}: {key} = {value}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Dotted key, e.g. `ingest.max_concurrent_bays`.
        key: String,
        /// The value as given.
        value: String,
        /// What is allowed.
        reason: String,
    },
}

/// The configuration file as written: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `[station]`
    #[serde(default)]
    pub station: StationFile,
    /// `[paths]`
    #[serde(default)]
    pub paths: PathsFile,
    /// `[ingest]`
    #[serde(default)]
    pub ingest: IngestFile,
    /// `[usb]`
    #[serde(default)]
    pub usb: UsbFile,
    /// `[daemon]`
    #[serde(default)]
    pub daemon: DaemonFile,
    /// `[retention]`
    #[serde(default)]
    pub retention: RetentionFile,
    /// `[compliance]`
    #[serde(default)]
    pub compliance: ComplianceFile,
    /// `[roles]`: who holds which role (R12). Absent: the built-in map
    /// ([`crate::control::roles::RoleMap::builtin`]).
    pub roles: Option<RolesFile>,
    /// `[officers]`: user name to officer number (警号).
    #[serde(default)]
    pub officers: std::collections::BTreeMap<String, String>,
    /// `[access]`: access requests and confidentiality (R9, R10).
    #[serde(default)]
    pub access: AccessFile,
    /// `[burn]`
    #[serde(default)]
    pub burn: BurnFile,
    /// `[scrub]`
    #[serde(default)]
    pub scrub: ScrubFile,
    /// `[central]`: the central copy (absent: none).
    pub central: Option<crate::central::config::CentralFile>,
    /// `[duty]`: check-out health thresholds, end of the working day, extension approvers.
    #[serde(default)]
    pub duty: crate::duty::DutyFile,
    /// `[gaps]`: written explanations of gaps (R6, S2 §18).
    #[serde(default)]
    pub gaps: GapsFile,
    /// `[web]`: the station's web page (docs/WEB.md).
    #[serde(default)]
    pub web: crate::web::config::WebFile,
}

/// `[gaps]` as written: written explanations of gaps in recording (R6).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GapsFile {
    /// Whether a written explanation must be reviewed by the head of the bureau (S2 §18: 报本机构
    /// 主要负责人审核后，一并存档). Default false.
    pub review_required: Option<bool>,
}

/// `[gaps]`, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gaps {
    /// A written explanation counts as reviewed only once an approver other than its author
    /// and its typist approved it; until then it is a compliance finding (S2 §18).
    pub review_required: bool,
}

/// `[scrub]` as written: the archive scrub (`evidock archive scrub`, R11).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrubFile {
    /// Bytes read per second at most, so that ingest keeps its speed.
    pub rate_bytes_per_s: Option<u64>,
    /// Seconds one run may take before it stops and keeps its place (0: until the pass ends).
    pub max_seconds: Option<u64>,
}

/// `[scrub]`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scrub {
    /// Bytes read per second at most.
    pub rate_bytes_per_s: u64,
    /// Seconds one run may take (0: until the pass ends).
    pub max_seconds: u64,
}

/// `[roles]` as written: for each role, its members (`NAME`, `group:NAME`, `uid:N`, `gid:N`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesFile {
    /// 设备管理员: docks recorders, registers devices, files footage into cases.
    #[serde(default)]
    pub custodian: Vec<String>,
    /// 档案管理员: keeps the archive, registers access, copies and exports.
    #[serde(default)]
    pub archivist: Vec<String>,
    /// 审批人: approves access and deletions.
    #[serde(default)]
    pub approver: Vec<String>,
    /// 监督人员: queries, reports, spot checks.
    #[serde(default)]
    pub supervisor: Vec<String>,
    /// 系统管理员: the station itself (checkpoints, purge runs).
    #[serde(default)]
    pub admin: Vec<String>,
}

/// `[access]` as written (R9, R10).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessFile {
    /// Days an approval stays valid (default 7).
    pub approval_valid_days: Option<u32>,
    /// `[access.secret]`: who may request and approve access to footage marked secret (国家秘密).
    pub secret: Option<MarkFile>,
    /// `[access.commercial_secret]`: the same for commercial secrets (商业秘密).
    pub commercial_secret: Option<MarkFile>,
    /// `[access.privacy]`: the same for personal privacy (个人隐私).
    pub privacy: Option<MarkFile>,
    /// `[access.work_secret]`: the same for work secrets (工作秘密, S2 §18).
    pub work_secret: Option<MarkFile>,
    /// `[access.heads]`: the bureau's heads, who decide the tiers above the approver.
    pub heads: Option<HeadsFile>,
    /// `[access.tiers]`: the tier (`approver`, `supervising-head`, `principal-head`) each party
    /// and kind needs, keyed `PARTY_view` / `PARTY_copy` (R9; S1 §17-18, S2 §24, S3 §30).
    pub tiers: Option<std::collections::BTreeMap<String, String>>,
}

/// `[access.heads]` as written: the people of the tiers above the approver (each must also
/// hold the approver role).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadsFile {
    /// The principal head(s) (主要负责人 / 单位负责人).
    #[serde(default)]
    pub principal: Vec<String>,
    /// The supervising head(s) (主管负责人 / 主管领导).
    #[serde(default)]
    pub supervising: Vec<String>,
}

/// Who may request and approve access to footage with one confidentiality mark.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkFile {
    /// Who may request (besides holding a role that may request at all).
    #[serde(default)]
    pub requesters: Vec<String>,
    /// Who may approve (besides holding the approver role).
    #[serde(default)]
    pub approvers: Vec<String>,
}

/// `[burn]` as written (R8).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurnFile {
    /// Verified disc copies every long-term recording needs.
    pub copies: Option<u32>,
    /// Days after which a verified disc is due for a re-check.
    pub recheck_interval_days: Option<u32>,
    /// Room reserved per file on a disc, bytes.
    pub reserve_per_file_bytes: Option<u64>,
    /// Room reserved per disc, bytes.
    pub reserve_per_disc_bytes: Option<u64>,
    /// Where discs are staged and images built.
    pub staging_dir: Option<PathBuf>,
    /// The burner.
    pub device: Option<String>,
    /// The command that writes a disc, with `{image}`, `{device}`, `{label}`, `{bag}`.
    pub write_command: Option<Vec<String>>,
    /// Add manifest-blake3.txt to every bag.
    pub blake3_manifest: Option<bool>,
    /// The bureau named in bag-info.txt (default: the station name).
    pub bureau: Option<String>,
    /// Who extracts footage for discs (提取人), when not given on the command line.
    pub extractor: Option<String>,
}

/// The default command that writes a staged disc: xorriso building the disc straight onto the
/// burner from the bag, with the same options as the image, then closing and ejecting it.
pub const DEFAULT_WRITE_COMMAND: [&str; 20] = [
    "xorriso",
    "-md5",
    "on",
    "-outdev",
    "{device}",
    "-volid",
    "{label}",
    "-joliet",
    "on",
    "-rockridge",
    "on",
    "-compliance",
    "iso_9660_level=3",
    "-map",
    "{bag}",
    "/",
    "-close",
    "on",
    "-commit_eject",
    "all",
];

/// `[burn]`, resolved (R8).
#[derive(Debug, Clone)]
pub struct Burn {
    /// Verified disc copies each long-term recording needs.
    pub copies: u32,
    /// A verified disc is re-checked after this long.
    pub recheck_interval: chrono::TimeDelta,
    /// Reserved room per file and per disc.
    pub reserve: crate::burn::plan::Reserve,
    /// Where discs are staged and images built.
    pub staging_dir: PathBuf,
    /// The burner.
    pub device: String,
    /// The write command.
    pub write_command: Vec<String>,
    /// Add manifest-blake3.txt.
    pub blake3_manifest: bool,
    /// The bureau.
    pub bureau: String,
    /// The extractor, when configured.
    pub extractor: Option<String>,
}

/// `[retention]` as written (R7).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionFile {
    /// Standard retention in months (6; some bureaus 3).
    pub standard_months: Option<u32>,
    /// Long-term retention in years; absent: permanent.
    pub long_term_years: Option<u32>,
    /// Footage filed into a case is kept long-term.
    pub case_footage_long_term: Option<bool>,
    /// Days an approved purge waits, cancellable, before it may run.
    pub purge_grace_days: Option<u32>,
}

/// `[compliance]` as written (R3, R4).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplianceFile {
    /// Deadline to ingest after the work ended: "24h", "same-day", "2wd".
    pub ingest_deadline: Option<String>,
    /// Deadline after returning from remote work.
    pub ingest_deadline_after_return: Option<String>,
    /// Footage still without a case after this many days is reported.
    pub no_case_after_days: Option<u32>,
    /// Holiday calendars (China's adjusted working days), merged.
    pub calendar_files: Option<Vec<PathBuf>>,
}

/// `[compliance]`, resolved.
#[derive(Debug, Clone)]
pub struct Compliance {
    /// Ingest deadline.
    pub ingest_deadline: crate::retention::IngestRule,
    /// Ingest deadline after return from remote work.
    pub ingest_deadline_after_return: crate::retention::IngestRule,
    /// Days without a case before it is reported.
    pub no_case_after_days: u32,
    /// Calendar files (absolute).
    pub calendar_files: Vec<PathBuf>,
}

/// `[station]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StationFile {
    /// Station name shown in reports.
    pub name: Option<String>,
    /// IANA time zone for archive dates and local times.
    pub timezone: Option<String>,
}

/// `[paths]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsFile {
    /// Where recorder volumes appear.
    pub dock_root: Option<PathBuf>,
    /// Where footage is filed.
    pub archive_root: Option<PathBuf>,
    /// Catalogue, lock and status.
    pub state_dir: Option<PathBuf>,
    /// The control socket the command line talks to the daemon through.
    pub control_socket: Option<PathBuf>,
}

/// `[ingest]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestFile {
    /// Wipe the recorder after every segment is durable and verified.
    pub wipe_after_verify: Option<bool>,
    /// Recorders ingested at the same time.
    pub max_concurrent_bays: Option<u64>,
    /// Seconds a bay's copy may make no progress before the archive disk is called stalled.
    pub stall_timeout_s: Option<u64>,
    /// A pause between segments longer than this is a gap.
    pub gap_tolerance_ms: Option<u64>,
    /// Copy buffer size.
    pub chunk_bytes: Option<u64>,
    /// Largest segment accepted.
    pub max_segment_bytes: Option<u64>,
    /// Most files taken from one volume at one docking.
    pub max_files_per_volume: Option<u64>,
    /// Read-back mode: "direct" or "drop-cache".
    pub read_back: Option<String>,
    /// Set archived files immutable (chattr +i) where the filesystem allows.
    pub immutable: Option<bool>,
    /// Limit on the recorder read rate in bytes per second (0: none).
    pub read_rate_limit: Option<u64>,
    /// Attempts to copy one segment before giving up.
    pub copy_attempts: Option<u64>,
    /// Ask recorders that allow it to set their clock.
    pub set_clock: Option<bool>,
    /// Drift above which footage times are flagged unreliable, in seconds.
    pub clock_drift_threshold_s: Option<u64>,
    /// Percent of the archive disk used at which the custodian is told it runs low.
    pub disk_warn_percent: Option<u64>,
}

/// `[usb]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsbFile {
    /// Watch the USB bus.
    pub enabled: Option<bool>,
    /// Enumeration interval when hotplug is unavailable.
    pub poll_interval_s: Option<u64>,
    /// Known recorder models.
    #[serde(default)]
    pub models: Vec<UsbModelFile>,
    /// The recorder credentials file (passwords), readable by the service alone.
    pub credentials: Option<PathBuf>,
    /// Seconds a vendor SDK may take before its helper is stopped.
    pub sdk_timeout_s: Option<u64>,
}

/// One `[[usb.models]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsbModelFile {
    /// Model name.
    pub name: String,
    /// Vendor id, hex string such as "0x46f4".
    pub vendor_id: String,
    /// Product id, hex string.
    pub product_id: String,
    /// Adapter kind: "contract" (default), "mass-storage", "ambarella", "gat947-sdk".
    pub adapter: Option<String>,
    /// Where the password comes from: "credentials" or "none".
    pub password: Option<String>,
    /// Footage folders of a vendor recorder (default `["DCIM"]`).
    pub footage: Option<Vec<String>>,
    /// The pattern of a vendor recorder's file names.
    pub name_pattern: Option<String>,
    /// Words that mark a file important in its name or folder.
    pub important_marks: Option<Vec<String>>,
    /// The USB id in storage mode, `vvvv:pppp`, when it differs.
    pub storage_id: Option<String>,
    /// The vendor's shared library (gat947-sdk).
    pub library: Option<PathBuf>,
}

/// `[daemon]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonFile {
    /// How often the status file is refreshed while work is under way, in milliseconds.
    pub status_interval_ms: Option<u64>,
    /// How often a signed checkpoint of the custody log is made, in seconds.
    pub checkpoint_interval_s: Option<u64>,
}

/// How a copied file is read back from disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadBack {
    /// `O_DIRECT`, bypassing the page cache (falls back to drop-cache where refused).
    Direct,
    /// Drop the file's cached pages (`posix_fadvise(DONTNEED)` after `fsync`), then read.
    DropCache,
}

/// A known recorder model's USB identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbModel {
    /// Model name.
    pub name: String,
    /// Vendor id.
    pub vendor_id: u16,
    /// Product id.
    pub product_id: u16,
    /// Adapter and storage layout.
    pub profile: crate::recorder::adapter::ModelProfile,
}

/// `[paths]`, resolved.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Where recorder volumes appear, one folder each.
    pub dock_root: PathBuf,
    /// Where footage is filed.
    pub archive_root: PathBuf,
    /// Catalogue, lock and status.
    pub state_dir: PathBuf,
    /// The control socket (default `/run/evidock/control.sock`).
    pub control_socket: PathBuf,
}

/// `[ingest]`, resolved.
#[derive(Debug, Clone)]
pub struct Ingest {
    /// Wipe after verify.
    pub wipe_after_verify: bool,
    /// Concurrent bays.
    pub max_concurrent_bays: usize,
    /// A bay copying with no progress for this long raises the alarm: the archive disk is not
    /// responding (INV-31).
    pub stall_timeout_s: u64,
    /// Gap tolerance.
    pub gap_tolerance_ms: u64,
    /// Copy buffer size (a multiple of 4096).
    pub chunk_bytes: usize,
    /// Largest segment accepted.
    pub max_segment_bytes: u64,
    /// Most files (chain files and footage first) taken from one volume at one docking; the
    /// rest wait on the recorder for the next.
    pub max_files_per_volume: usize,
    /// Read-back mode.
    pub read_back: ReadBack,
    /// chattr +i where allowed.
    pub immutable: bool,
    /// Bytes per second, 0 for none.
    pub read_rate_limit: u64,
    /// Attempts per segment.
    pub copy_attempts: u32,
    /// Set recorder clocks.
    pub set_clock: bool,
    /// Drift threshold in seconds.
    pub clock_drift_threshold_s: u64,
    /// Percent of the archive disk used at which the status and the alarms page say it runs
    /// low.
    pub disk_warn_percent: u8,
}

/// `[usb]`, resolved.
#[derive(Debug, Clone)]
pub struct Usb {
    /// Watch the bus.
    pub enabled: bool,
    /// Poll interval without hotplug, seconds.
    pub poll_interval_s: u64,
    /// Known models.
    pub models: Vec<UsbModel>,
    /// The recorder credentials file, when configured (systemd's `LoadCredential=` wins).
    pub credentials: Option<PathBuf>,
    /// Seconds a vendor SDK may take before its helper is stopped.
    pub sdk_timeout_s: u64,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from (`None`: built-in defaults).
    pub source: Option<PathBuf>,
    /// Station name.
    pub station_name: String,
    /// Time zone.
    pub timezone: chrono_tz::Tz,
    /// Paths.
    pub paths: Paths,
    /// Ingest.
    pub ingest: Ingest,
    /// USB.
    pub usb: Usb,
    /// Status refresh interval.
    pub status_interval_ms: u64,
    /// Custody checkpoint interval, seconds.
    pub checkpoint_interval_s: u64,
    /// Who holds which role, and officer numbers (R12).
    pub roles: crate::control::roles::RoleMap,
    /// Access requests and confidentiality (R9, R10).
    pub access: crate::control::roles::AccessPolicy,
    /// Retention policy (R7).
    pub retention: crate::retention::Policy,
    /// Compliance rules (R3, R4).
    pub compliance: Compliance,
    /// Burn-to-disc jobs (R8).
    pub burn: Burn,
    /// The archive scrub (R11).
    pub scrub: Scrub,
    /// The central copy (`[central]`), when configured.
    pub central: Option<crate::central::Central>,
    /// Duty check-out and check-in (`[duty]`; R14, S0 §14, S1 §16, S3 §7).
    pub duty: crate::duty::Duty,
    /// Written explanations of gaps (`[gaps]`; R6, S2 §18).
    pub gaps: Gaps,
    /// The station's web page (`[web]`, docs/WEB.md).
    pub web: crate::web::config::Web,
}

impl Config {
    /// Loads the configuration: `explicit` (from `--config`), else `EVIDOCK_CONFIG`, else
    /// [`SYSTEM_CONFIG`] when it exists, else the built-in defaults.
    ///
    /// # Errors
    /// When a named file cannot be read or a value is invalid.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let env = std::env::var_os("EVIDOCK_CONFIG").map(PathBuf::from);
        let path = match (explicit, env) {
            (Some(p), _) => Some(p.to_path_buf()),
            (None, Some(p)) => Some(p),
            (None, None) => Some(PathBuf::from(SYSTEM_CONFIG)).filter(|p| p.exists()),
        };
        match path {
            None => Config::resolve(ConfigFile::default(), None),
            Some(path) => {
                // Relative paths inside the file are relative to its folder: make that absolute.
                let path = std::path::absolute(&path).unwrap_or(path);
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
                Config::parse(&text, &path)
            }
        }
    }

    /// Parses configuration text that came from `path`.
    ///
    /// # Errors
    /// On a TOML or schema error, or an invalid value.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        Config::resolve(file, Some(path))
    }

    /// Resolves a raw file into typed values, filling defaults.
    ///
    /// # Errors
    /// On an invalid value, naming its key.
    pub fn resolve(file: ConfigFile, path: Option<&Path>) -> Result<Config, ConfigError> {
        let shown = path.map_or_else(|| PathBuf::from("<built-in defaults>"), Path::to_path_buf);
        let invalid = |key: &str, value: &dyn std::fmt::Display, reason: &str| ConfigError::Invalid {
            path: shown.clone(),
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let tz_name = file.station.timezone.unwrap_or_else(|| "Asia/Shanghai".to_string());
        let timezone: chrono_tz::Tz = tz_name
            .parse()
            .map_err(|_| invalid("station.timezone", &format!("{tz_name:?}"), "not an IANA time zone name"))?;

        // Relative paths in a file are relative to the file's folder.
        let base = path.and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
        let abs = |key: &str, p: Option<PathBuf>, default: &str| -> Result<PathBuf, ConfigError> {
            let p = p.unwrap_or_else(|| PathBuf::from(default));
            if p.as_os_str().is_empty() {
                return Err(invalid(key, &"\"\"", "must not be empty"));
            }
            Ok(if p.is_absolute() { p } else { base.join(p) })
        };
        let paths = Paths {
            dock_root: abs("paths.dock_root", file.paths.dock_root, "/run/evidock/dock")?,
            archive_root: abs("paths.archive_root", file.paths.archive_root, "/var/lib/evidock/archive")?,
            state_dir: abs("paths.state_dir", file.paths.state_dir, "/var/lib/evidock/state")?,
            control_socket: abs("paths.control_socket", file.paths.control_socket, "/run/evidock/control.sock")?,
        };
        if paths.control_socket.as_os_str().len() > 107 {
            return Err(invalid(
                "paths.control_socket",
                &paths.control_socket.display(),
                "is longer than the 107 bytes a Unix socket path may have",
            ));
        }
        for (key, p) in [("paths.archive_root", &paths.archive_root), ("paths.state_dir", &paths.state_dir)] {
            if p.starts_with(&paths.dock_root) {
                return Err(invalid(key, &p.display(), "must not lie inside paths.dock_root"));
            }
        }
        if paths.dock_root.starts_with(&paths.archive_root) {
            return Err(invalid(
                "paths.dock_root",
                &paths.dock_root.display(),
                "must not lie inside paths.archive_root",
            ));
        }

        let i = file.ingest;
        let range = |key: &str, v: Option<u64>, default: u64, lo: u64, hi: u64| -> Result<u64, ConfigError> {
            let v = v.unwrap_or(default);
            if v < lo || v > hi {
                return Err(invalid(key, &v, &format!("must be between {lo} and {hi}")));
            }
            Ok(v)
        };
        let chunk = range("ingest.chunk_bytes", i.chunk_bytes, 1 << 20, 4096, 64 << 20)?;
        if chunk % 4096 != 0 {
            return Err(invalid("ingest.chunk_bytes", &chunk, "must be a multiple of 4096"));
        }
        let read_back = match i.read_back.as_deref().unwrap_or("direct") {
            "direct" => ReadBack::Direct,
            "drop-cache" => ReadBack::DropCache,
            other => {
                return Err(invalid("ingest.read_back", &format!("{other:?}"), "must be \"direct\" or \"drop-cache\""))
            }
        };
        let ingest = Ingest {
            wipe_after_verify: i.wipe_after_verify.unwrap_or(true),
            max_concurrent_bays: range("ingest.max_concurrent_bays", i.max_concurrent_bays, 8, 1, 64)? as usize,
            stall_timeout_s: range("ingest.stall_timeout_s", i.stall_timeout_s, 300, 1, 86_400)?,
            gap_tolerance_ms: range("ingest.gap_tolerance_ms", i.gap_tolerance_ms, 2000, 0, 3_600_000)?,
            chunk_bytes: chunk as usize,
            max_segment_bytes: range("ingest.max_segment_bytes", i.max_segment_bytes, 64 << 30, 1, 1 << 50)?,
            max_files_per_volume: range("ingest.max_files_per_volume", i.max_files_per_volume, 100_000, 1, 10_000_000)?
                as usize,
            read_back,
            immutable: i.immutable.unwrap_or(false),
            read_rate_limit: i.read_rate_limit.unwrap_or(0),
            copy_attempts: range("ingest.copy_attempts", i.copy_attempts, 3, 1, 100)? as u32,
            set_clock: i.set_clock.unwrap_or(true),
            clock_drift_threshold_s: range(
                "ingest.clock_drift_threshold_s",
                i.clock_drift_threshold_s,
                30,
                0,
                86_400 * 365,
            )?,
            disk_warn_percent: u8::try_from(range("ingest.disk_warn_percent", i.disk_warn_percent, 90, 50, 99)?)
                .unwrap_or(90),
        };

        let hex16 = |key: &str, s: &str| -> Result<u16, ConfigError> {
            let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
            u16::from_str_radix(digits, 16)
                .ok()
                .filter(|_| digits.len() == 4)
                .ok_or_else(|| invalid(key, &format!("{s:?}"), "must be 4 hex digits, e.g. \"0x46f4\""))
        };
        let mut models = Vec::new();
        for (n, m) in file.usb.models.iter().enumerate() {
            let keys = crate::recorder::adapter::model::ProfileKeys {
                adapter: m.adapter.as_deref(),
                password: m.password.as_deref(),
                footage: m.footage.as_deref(),
                name_pattern: m.name_pattern.as_deref(),
                important_marks: m.important_marks.as_deref(),
                storage_id: m.storage_id.as_deref(),
                library: m.library.as_deref(),
            };
            let profile = crate::recorder::adapter::ModelProfile::resolve(&keys)
                .map_err(|e| invalid(&format!("usb.models[{n}].{}", e.key), &e.value, &e.reason))?;
            models.push(UsbModel {
                name: m.name.clone(),
                vendor_id: hex16(&format!("usb.models[{n}].vendor_id"), &m.vendor_id)?,
                product_id: hex16(&format!("usb.models[{n}].product_id"), &m.product_id)?,
                profile,
            });
        }
        for (n, m) in models.iter().enumerate() {
            let ids = |m: &UsbModel| [Some((m.vendor_id, m.product_id)), m.profile.storage_id];
            if models[..n].iter().any(|o| ids(o).iter().flatten().any(|id| ids(m).contains(&Some(*id)))) {
                return Err(invalid(
                    &format!("usb.models[{n}].vendor_id"),
                    &format!("{:04x}:{:04x}", m.vendor_id, m.product_id),
                    "another model has the same USB id: the model table must name each id once",
                ));
            }
        }
        if path.is_none() && models.is_empty() {
            models.push(UsbModel {
                name: "ZFY-CUSTODY/1 reference recorder".into(),
                vendor_id: 0x46f4,
                product_id: 0x0001,
                profile: crate::recorder::adapter::ModelProfile::contract(),
            });
        }
        let usb = Usb {
            enabled: file.usb.enabled.unwrap_or(true),
            poll_interval_s: range("usb.poll_interval_s", file.usb.poll_interval_s, 5, 1, 3600)?,
            models,
            credentials: file.usb.credentials.map(|p| if p.is_absolute() { p } else { base.join(p) }),
            sdk_timeout_s: range("usb.sdk_timeout_s", file.usb.sdk_timeout_s, 60, 1, 600)?,
        };
        let r = file.retention;
        let mut retention = crate::retention::Policy::new(timezone);
        if let Some(m) = r.standard_months {
            retention.standard_months = m;
        }
        if let Some(y) = r.long_term_years {
            retention.long_term = crate::retention::LongTerm::Years(y);
        }
        if let Some(c) = r.case_footage_long_term {
            retention.case_footage_long_term = c;
        }
        if let Some(d) = r.purge_grace_days {
            retention.purge_grace = chrono::TimeDelta::days(i64::from(d));
        }
        if let Err(e) = retention.validate() {
            return Err(ConfigError::Invalid {
                path: shown.clone(),
                key: "retention".into(),
                value: "-".into(),
                reason: e.to_string(),
            });
        }
        let c = file.compliance;
        let rule = |key: &str, v: Option<String>, default: &str| {
            let v = v.unwrap_or_else(|| default.to_string());
            crate::retention::IngestRule::parse(&v).map_err(|e| invalid(key, &format!("{v:?}"), &e))
        };
        let compliance = Compliance {
            ingest_deadline: rule("compliance.ingest_deadline", c.ingest_deadline, "same-day")?,
            ingest_deadline_after_return: rule(
                "compliance.ingest_deadline_after_return",
                c.ingest_deadline_after_return,
                "24h",
            )?,
            no_case_after_days: c.no_case_after_days.unwrap_or(30),
            calendar_files: c
                .calendar_files
                .unwrap_or_default()
                .into_iter()
                .map(|p| if p.is_absolute() { p } else { base.join(p) })
                .collect(),
        };
        let members = |key: &str, v: &[String]| {
            crate::control::roles::Members::parse(v).map_err(|e| invalid(key, &e.entry, e.reason))
        };
        let mut roles = match &file.roles {
            None => crate::control::roles::RoleMap::builtin(),
            Some(r) => {
                let mut map = crate::control::roles::RoleMap::default();
                for (name, list) in [
                    ("custodian", &r.custodian),
                    ("archivist", &r.archivist),
                    ("approver", &r.approver),
                    ("supervisor", &r.supervisor),
                    ("admin", &r.admin),
                ] {
                    map.roles.insert(name, members(&format!("roles.{name}"), list)?);
                }
                map
            }
        };
        roles.officers = file.officers;
        let a = file.access;
        let mark = |key: &str, m: Option<MarkFile>| -> Result<crate::control::roles::MarkRule, ConfigError> {
            let m = m.unwrap_or_default();
            Ok(crate::control::roles::MarkRule {
                requesters: members(&format!("access.{key}.requesters"), &m.requesters)?,
                approvers: members(&format!("access.{key}.approvers"), &m.approvers)?,
            })
        };
        let access = crate::control::roles::AccessPolicy {
            approval_valid: chrono::TimeDelta::days(range(
                "access.approval_valid_days",
                a.approval_valid_days.map(u64::from),
                7,
                1,
                366,
            )? as i64),
            secret: mark("secret", a.secret)?,
            commercial_secret: mark("commercial_secret", a.commercial_secret)?,
            privacy: mark("privacy", a.privacy)?,
            work_secret: mark("work_secret", a.work_secret)?,
            principal_heads: members(
                "access.heads.principal",
                &a.heads.as_ref().map(|h| h.principal.clone()).unwrap_or_default(),
            )?,
            supervising_heads: members(
                "access.heads.supervising",
                &a.heads.as_ref().map(|h| h.supervising.clone()).unwrap_or_default(),
            )?,
            tiers: {
                let mut t = crate::access::tier::Tiers::strictest();
                for (k, v) in a.tiers.unwrap_or_default() {
                    let tier = crate::access::tier::Tier::parse(&v).ok_or_else(|| {
                        invalid(
                            &format!("access.tiers.{k}"),
                            &format!("{v:?}"),
                            "must be \"approver\", \"supervising-head\" or \"principal-head\"",
                        )
                    })?;
                    t.set(&k, tier).map_err(|e| invalid(&format!("access.tiers.{k}"), &format!("{v:?}"), &e))?;
                }
                t
            },
        };
        let b = file.burn;
        let station_name = file.station.name.unwrap_or_else(|| "evidock".to_string());
        let write_command =
            b.write_command.unwrap_or_else(|| DEFAULT_WRITE_COMMAND.iter().map(|s| s.to_string()).collect());
        if write_command.is_empty() || write_command[0].trim().is_empty() {
            return Err(invalid("burn.write_command", &"[]", "must name a program"));
        }
        let burn = Burn {
            copies: range("burn.copies", b.copies.map(u64::from), 2, 1, 10)? as u32,
            recheck_interval: chrono::TimeDelta::days(range(
                "burn.recheck_interval_days",
                b.recheck_interval_days.map(u64::from),
                730,
                1,
                3650,
            )? as i64),
            reserve: crate::burn::plan::Reserve {
                per_file: range("burn.reserve_per_file_bytes", b.reserve_per_file_bytes, 8192, 2048, 1 << 20)?,
                per_disc: range("burn.reserve_per_disc_bytes", b.reserve_per_disc_bytes, 64 << 20, 1 << 20, 4 << 30)?,
            },
            staging_dir: abs("burn.staging_dir", b.staging_dir, "/var/lib/evidock/burn")?,
            device: b.device.unwrap_or_else(|| "/dev/sr0".to_string()),
            write_command,
            blake3_manifest: b.blake3_manifest.unwrap_or(true),
            bureau: b.bureau.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| station_name.clone()),
            extractor: b.extractor.filter(|s| !s.trim().is_empty()),
        };
        if burn.staging_dir.starts_with(&paths.archive_root) || paths.archive_root.starts_with(&burn.staging_dir) {
            return Err(invalid(
                "burn.staging_dir",
                &burn.staging_dir.display(),
                "must not lie inside paths.archive_root, nor contain it",
            ));
        }
        let scrub = Scrub {
            rate_bytes_per_s: range("scrub.rate_bytes_per_s", file.scrub.rate_bytes_per_s, 64 << 20, 1 << 20, 1 << 40)?,
            max_seconds: range("scrub.max_seconds", file.scrub.max_seconds, 0, 0, 7 * 86_400)?,
        };
        let mut central = crate::central::config::resolve(file.central, &shown, &base, &station_name)?;
        if let Some(c) = central.as_mut() {
            c.evict.disc_copies = burn.copies;
        }
        let duty = crate::duty::resolve(file.duty, &shown)?;
        let gaps = Gaps { review_required: file.gaps.review_required.unwrap_or(false) };
        let web = crate::web::config::resolve(file.web, &shown, &base)?;
        Ok(Config {
            duty,
            gaps,
            web,
            central,
            roles,
            access,
            burn,
            scrub,
            retention,
            compliance,
            source: path.map(Path::to_path_buf),
            station_name,
            timezone,
            paths,
            ingest,
            usb,
            status_interval_ms: range("daemon.status_interval_ms", file.daemon.status_interval_ms, 500, 50, 60_000)?,
            checkpoint_interval_s: range(
                "daemon.checkpoint_interval_s",
                file.daemon.checkpoint_interval_s,
                3600,
                1,
                7 * 86_400,
            )?,
        })
    }

    /// A configuration with every path under one folder (quick start, tests, benchmarks).
    pub fn under(root: &Path) -> Config {
        let file = ConfigFile {
            paths: PathsFile {
                dock_root: Some(root.join("dock")),
                archive_root: Some(root.join("archive")),
                state_dir: Some(root.join("state")),
                control_socket: Some(root.join("control.sock")),
            },
            burn: BurnFile { staging_dir: Some(root.join("burn")), ..BurnFile::default() },
            ..ConfigFile::default()
        };
        Config::resolve(file, None).expect("defaults under a folder are valid")
    }

    /// The catalogue database.
    pub fn catalog_path(&self) -> PathBuf {
        self.paths.state_dir.join("catalog.sqlite")
    }

    /// The daemon's status file, refreshed while it runs.
    pub fn status_path(&self) -> PathBuf {
        self.paths.state_dir.join("status.json")
    }

    /// The progress file of the burn job running now, read by `evidock status`.
    pub fn burn_progress_path(&self) -> PathBuf {
        self.paths.state_dir.join("burn-progress.json")
    }

    /// The single-instance lock.
    pub fn lock_path(&self) -> PathBuf {
        self.paths.state_dir.join("evidock.lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Config::parse(text, Path::new("/etc/evidock/evidock.toml")).unwrap_err().to_string()
    }

    #[test]
    fn shipped_example_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/evidock.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let c = Config::parse(&text, &path).unwrap();
        assert_eq!(c.timezone, chrono_tz::Asia::Shanghai);
        assert!(!c.usb.models.is_empty());
    }

    #[test]
    fn defaults() {
        let c = Config::resolve(ConfigFile::default(), None).unwrap();
        assert_eq!(c.paths.archive_root, PathBuf::from("/var/lib/evidock/archive"));
        assert_eq!(c.ingest.read_back, ReadBack::Direct);
        assert!(c.ingest.wipe_after_verify);
        assert_eq!(c.ingest.disk_warn_percent, 90);
    }

    #[test]
    fn errors_name_file_key_and_value() {
        assert_eq!(
            err("[ingest]\nmax_concurrent_bays = 0\n"),
            "/etc/evidock/evidock.toml: ingest.max_concurrent_bays = 0: must be between 1 and 64"
        );
        assert_eq!(
            err("[station]\ntimezone = \"Mars/Olympus\"\n"),
            "/etc/evidock/evidock.toml: station.timezone = \"Mars/Olympus\": not an IANA time zone name"
        );
        assert!(err("[ingest]\nwipe = true\n").contains("unknown field `wipe`"));
        assert!(err("[[usb.models]]\nname = \"x\"\nvendor_id = \"46f\"\nproduct_id = \"0001\"\n")
            .contains("usb.models[0].vendor_id = \"46f\": must be 4 hex digits"));
        assert!(err("[paths]\ndock_root = \"/a\"\narchive_root = \"/a/b\"\n")
            .contains("must not lie inside paths.dock_root"));
        assert!(err("[ingest]\nchunk_bytes = 5000\n").contains("multiple of 4096"));
        assert_eq!(
            err("[ingest]\ndisk_warn_percent = 100\n"),
            "/etc/evidock/evidock.toml: ingest.disk_warn_percent = 100: must be between 50 and 99"
        );
    }

    /// R9, S1 §18: the tier table names a known party and kind and a known tier; the heads are
    /// member lists.
    #[test]
    fn access_tiers_name_their_key_and_value() {
        use crate::access::{tier::Tier, Kind, Party};
        let c = Config::parse(
            "[access.heads]\nprincipal = [\"juzhang\"]\n[access.tiers]\ninternal_copy = \"supervising-head\"\n",
            Path::new("/e.toml"),
        )
        .unwrap();
        assert_eq!(c.access.tiers.needed(Party::Internal, Kind::Copy), Tier::SupervisingHead);
        assert_eq!(c.access.tiers.needed(Party::Court, Kind::View), Tier::PrincipalHead);
        assert!(!c.access.principal_heads.is_empty() && c.access.supervising_heads.is_empty());
        let e = err("[access.tiers]\ncourt_copy = \"head\"\n");
        assert!(e.contains("access.tiers.court_copy = \"head\": must be \"approver\""), "{e}");
        let e = err("[access.tiers]\njudge_copy = \"approver\"\n");
        assert!(e.contains("access.tiers.judge_copy") && e.contains("court_copy"), "{e}");
        assert!(err("[access.heads]\nprincipal = [\"uid:x\"]\n").contains("access.heads.principal"));
    }

    /// Every profile sets its tier table from its articles: S1 §17 (公开使用…主管负责人或主要负责人),
    /// S1 §18 (人民法院、人民检察院…主要负责人), S2 §24 (本机构人员…主管领导), S2 §26 and S3 §30
    /// (未经…负责人批准不得公开), S0 §17 (调阅、复制…单位负责人).
    #[test]
    fn every_profile_sets_the_approval_tiers_of_its_articles() {
        use crate::access::{tier::Tier, Kind, Party};
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/profiles");
        let load = |name: &str| {
            let path = dir.join(format!("{name}.toml"));
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.contains("[access.tiers]"), "{name} sets no tiers");
            Config::parse(&text, &path).unwrap().access.tiers
        };
        let s0 = load("yiliang-health-bureau-whole-process-recording");
        let s1 = load("neiqiu-health-bureau-recorder-device-rules");
        let s2 = load("jincheng-health-commission-whole-process-recording-2024");
        let s3 = load("wuhan-dongxihu-medical-insurance-whole-process-recording-2019");
        let s4 = load("provincial-whole-process-recording-measures");
        for t in [&s0, &s1, &s2, &s3, &s4] {
            for p in [Party::Court, Party::Procuratorate] {
                assert_eq!(t.needed(p, Kind::View), Tier::PrincipalHead);
                assert_eq!(t.needed(p, Kind::Export), Tier::PrincipalHead);
            }
        }
        assert_eq!(s0.needed(Party::Internal, Kind::Copy), Tier::PrincipalHead);
        assert_eq!(s1.needed(Party::Public, Kind::Export), Tier::SupervisingHead);
        assert_eq!(s1.needed(Party::Internal, Kind::View), Tier::Approver);
        assert_eq!(s2.needed(Party::Internal, Kind::Copy), Tier::SupervisingHead);
        assert_eq!(s2.needed(Party::Officer, Kind::View), Tier::SupervisingHead);
        assert_eq!(s2.needed(Party::Public, Kind::Export), Tier::PrincipalHead);
        assert_eq!(s3.needed(Party::Party, Kind::Export), Tier::PrincipalHead);
        assert_eq!(s3.needed(Party::Internal, Kind::Copy), Tier::Approver);
        assert_eq!(s4, crate::access::tier::Tiers::strictest());
    }
}

#[cfg(test)]
mod hostile_input {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        /// Any text: a configuration or an error naming the file; never a panic.
        #[test]
        fn config_loader_never_panics(text in "(\\[[a-z.]{1,12}\\]|[a-z_]{1,20} = (\"[^\"\n]{0,20}\"|[0-9-]{1,22}|true|false)|\n|#.{0,10}){0,30}") {
            match Config::parse(&text, Path::new("/etc/evidock/evidock.toml")) {
                Ok(_) => {}
                Err(e) => prop_assert!(e.to_string().contains("/etc/evidock/evidock.toml"), "{}", e),
            }
        }
    }
}
