//! `[central]`: where the station's central copy goes. Every key is optional and the whole
//! table too: a station without it keeps everything on its own disk, as before.
//!
//! ```toml
//! [central]
//! endpoint = "https://s3.bureau.example:7480"   # the RADOS Gateway (or any S3 with Object Lock)
//! bucket = "evidock"                            # created with Object Lock enabled
//! region = "us-east-1"
//! credentials_file = "/etc/evidock/central.credentials"   # or "systemd:central"
//! bandwidth_bytes_per_s = 0                     # 0: unlimited
//! # evict_after_days = 90                       # local copies of footage confirmed that long ago may go
//! # evict_at_disk_percent = 85                  # evict oldest confirmed first while the disk is fuller
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::ConfigError;

/// `[central]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CentralFile {
    /// `http://host:port` or `https://host[:port]` of the S3 endpoint.
    pub endpoint: Option<String>,
    /// The bucket (created with Object Lock).
    pub bucket: Option<String>,
    /// The signing region (default `us-east-1`, which the RADOS Gateway accepts).
    pub region: Option<String>,
    /// The access key and secret: a file readable by the service alone (`access_key = ...`,
    /// `secret_key = ...`), or `systemd:NAME` for a systemd credential
    /// (`$CREDENTIALS_DIRECTORY/NAME`, `LoadCredential=` in the unit).
    pub credentials_file: Option<String>,
    /// Upload rate limit for the whole station, bytes per second (0: none).
    pub bandwidth_bytes_per_s: Option<u64>,
    /// Objects uploaded at once (1-16, default 2).
    pub concurrency: Option<u64>,
    /// Part size of multipart uploads (5 MiB to 1 GiB, default 16 MiB); files up to this size
    /// go in one PUT.
    pub part_size_bytes: Option<u64>,
    /// How an upload is proven: `checksum` (the store's size, BLAKE3 metadata and MD5 ETag
    /// against ours, default) or `read-back` (every object read back and hashed).
    pub confirm: Option<String>,
    /// Seconds between replication passes (default 30).
    pub interval_s: Option<u64>,
    /// Alarm when the oldest file not yet off the station is older than this (minutes, default
    /// 1440 = one day; 0: as soon as anything waits).
    pub backlog_alarm_minutes: Option<u64>,
    /// Evict the local copy of footage confirmed off the station at least this many days ago
    /// (1-36500; absent: never by age). INV-20.
    pub evict_after_days: Option<i64>,
    /// Evict the local copies of the oldest confirmed footage first while the archive disk is
    /// fuller than this percentage (1-99; absent: never by disk). INV-20.
    pub evict_at_disk_percent: Option<i64>,
}

/// How an upload is proven before the file counts as off the station.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// HEAD (size, BLAKE3 metadata, ETag = our MD5s), lock and legal hold read back.
    Checksum,
    /// As `Checksum`, and the whole object read back and its BLAKE3 compared.
    ReadBack,
}

/// Where the credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// A file, readable by the service's user alone.
    File(PathBuf),
    /// A systemd credential, by name.
    Systemd(String),
}

/// `[central]`, resolved.
#[derive(Debug, Clone)]
pub struct Central {
    /// Endpoint URL, no trailing slash.
    pub endpoint: String,
    /// Bucket.
    pub bucket: String,
    /// Signing region.
    pub region: String,
    /// Credentials.
    pub credentials: CredentialSource,
    /// Upload rate limit, bytes per second (0: none).
    pub bandwidth: u64,
    /// Concurrent uploads.
    pub concurrency: usize,
    /// Multipart part size.
    pub part_size: u64,
    /// Proof of upload.
    pub confirm: Confirm,
    /// Seconds between passes.
    pub interval_s: u64,
    /// Backlog age that raises the alarm, seconds.
    pub backlog_alarm_s: u64,
    /// Eviction of local copies (INV-20): `after_days`, `at_disk_percent`; `disc_copies` is
    /// filled from `burn.copies` by the station's configuration.
    pub evict: super::evict::Policy,
}

/// Resolves `[central]`; `None` when the table is absent.
///
/// # Errors
/// [`ConfigError::Invalid`] naming the key.
pub fn resolve(
    file: Option<CentralFile>,
    shown: &Path,
    base: &Path,
    station: &str,
) -> Result<Option<Central>, ConfigError> {
    let Some(c) = file else { return Ok(None) };
    let invalid = |key: &str, value: &dyn std::fmt::Display, reason: &str| ConfigError::Invalid {
        path: shown.to_path_buf(),
        key: format!("central.{key}"),
        value: value.to_string(),
        reason: reason.to_string(),
    };
    if station.is_empty() || station.contains('/') || station.starts_with('.') || station.chars().any(char::is_control)
    {
        return Err(ConfigError::Invalid {
            path: shown.to_path_buf(),
            key: "station.name".into(),
            value: format!("{station:?}"),
            reason: "names the station's folder in the central bucket: no '/', no leading '.', not empty".into(),
        });
    }
    let endpoint = c.endpoint.ok_or_else(|| invalid("endpoint", &"(missing)", "is required in [central]"))?;
    let endpoint = endpoint.trim_end_matches('/').to_string();
    let rest = endpoint.strip_prefix("http://").or_else(|| endpoint.strip_prefix("https://"));
    if rest.is_none_or(|r| r.is_empty() || r.contains('/') || r.contains('?')) {
        return Err(invalid("endpoint", &format!("{endpoint:?}"), "must be http://host[:port] or https://host[:port]"));
    }
    let bucket = c.bucket.ok_or_else(|| invalid("bucket", &"(missing)", "is required in [central]"))?;
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && bucket.as_bytes()[0].is_ascii_alphanumeric();
    if !valid_bucket {
        return Err(invalid("bucket", &format!("{bucket:?}"), "must be 3-63 characters: a-z, 0-9, '-', '.'"));
    }
    let credentials = match c.credentials_file {
        None => return Err(invalid("credentials_file", &"(missing)", "is required in [central]")),
        Some(s) if s.starts_with("systemd:") => {
            let name = s.trim_start_matches("systemd:").to_string();
            if name.is_empty() || name.contains('/') {
                return Err(invalid("credentials_file", &format!("{s:?}"), "systemd:NAME needs a credential name"));
            }
            CredentialSource::Systemd(name)
        }
        Some(s) if s.is_empty() => return Err(invalid("credentials_file", &"\"\"", "must not be empty")),
        Some(s) => {
            let p = PathBuf::from(s);
            CredentialSource::File(if p.is_absolute() { p } else { base.join(p) })
        }
    };
    let range = |key: &str, v: Option<u64>, default: u64, lo: u64, hi: u64| -> Result<u64, ConfigError> {
        let v = v.unwrap_or(default);
        if v < lo || v > hi {
            return Err(invalid(key, &v, &format!("must be between {lo} and {hi}")));
        }
        Ok(v)
    };
    let confirm = match c.confirm.as_deref().unwrap_or("checksum") {
        "checksum" => Confirm::Checksum,
        "read-back" => Confirm::ReadBack,
        other => return Err(invalid("confirm", &format!("{other:?}"), "must be \"checksum\" or \"read-back\"")),
    };
    let evict_key = |key: &str, v: Option<i64>, hi: i64, what: &str| -> Result<Option<i64>, ConfigError> {
        match v {
            Some(n) if !(1..=hi).contains(&n) => Err(ConfigError::Invalid {
                path: shown.to_path_buf(),
                key: format!("central.{key}"),
                value: n.to_string(),
                reason: format!("must be between 1 and {hi} ({what}); leave it out to never evict by it / 取值须在 1 到 {hi} 之间，不按此条件清除本地副本请删去此项"),
            }),
            v => Ok(v),
        }
    };
    let evict = super::evict::Policy {
        after_days: evict_key(
            "evict_after_days",
            c.evict_after_days,
            36_500,
            "days since the store confirmed the copy",
        )?
        .map(|n| n as u32),
        at_disk_percent: evict_key(
            "evict_at_disk_percent",
            c.evict_at_disk_percent,
            99,
            "percent of the archive disk in use",
        )?
        .map(|n| n as u8),
        disc_copies: 0,
    };
    Ok(Some(Central {
        evict,
        endpoint,
        bucket,
        region: c.region.filter(|r| !r.is_empty()).unwrap_or_else(|| "us-east-1".into()),
        credentials,
        bandwidth: c.bandwidth_bytes_per_s.unwrap_or(0),
        concurrency: range("concurrency", c.concurrency, 2, 1, 16)? as usize,
        part_size: range("part_size_bytes", c.part_size_bytes, 16 << 20, 5 << 20, 1 << 30)?,
        confirm,
        interval_s: range("interval_s", c.interval_s, 30, 1, 86_400)?,
        backlog_alarm_s: range("backlog_alarm_minutes", c.backlog_alarm_minutes, 1440, 0, 525_600)? * 60,
    }))
}

/// Reads credentials: a TOML file with `access_key` and `secret_key`, which must not be
/// readable by anyone but its owner (and the owner's group is refused too).
///
/// # Errors
/// A message naming the file and what to do.
pub fn load_credentials(source: &CredentialSource) -> Result<super::sigv4::Credentials, String> {
    use std::os::unix::fs::MetadataExt;
    let path = match source {
        CredentialSource::File(p) => p.clone(),
        CredentialSource::Systemd(name) => match std::env::var_os("CREDENTIALS_DIRECTORY") {
            Some(dir) => Path::new(&dir).join(name),
            None => {
                return Err(format!(
                    "central.credentials_file = \"systemd:{name}\" but the service has no credentials \
                     (add LoadCredential={name}:/etc/evidock/central.credentials to the unit) / 未配置 systemd 凭据"
                ))
            }
        },
    };
    let meta = std::fs::metadata(&path).map_err(|e| format!("central credentials {}: {e}", path.display()))?;
    if matches!(source, CredentialSource::File(_)) && meta.mode() & 0o077 != 0 {
        return Err(format!(
            "central credentials {} are readable by others (mode {:04o}): chmod 600 and owned by the service's user / \
             凭据文件权限过宽，请设为 600",
            path.display(),
            meta.mode() & 0o7777
        ));
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        access_key: String,
        secret_key: String,
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("central credentials {}: {e}", path.display()))?;
    let f: File = toml::from_str(&text).map_err(|e| {
        format!(
            "central credentials {}: {} (expected access_key = \"...\" and secret_key = \"...\")",
            path.display(),
            e.message()
        )
    })?;
    if f.access_key.is_empty() || f.secret_key.is_empty() {
        return Err(format!("central credentials {}: access_key and secret_key must not be empty", path.display()));
    }
    Ok(super::sigv4::Credentials { access_key: f.access_key, secret_key: f.secret_key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<Central>, String> {
        let f: Option<CentralFile> = toml::from_str::<toml::Table>(text)
            .ok()
            .and_then(|t| t.get("central").cloned())
            .map(|v| v.try_into().map_err(|e: toml::de::Error| e.to_string()))
            .transpose()?;
        resolve(f, Path::new("/etc/evidock/evidock.toml"), Path::new("/etc/evidock"), "station-1")
            .map_err(|e| e.to_string())
    }

    #[test]
    fn absent_is_none_and_defaults_apply() {
        assert!(parse("").unwrap().is_none());
        let c = parse("[central]\nendpoint = \"http://127.0.0.1:7480/\"\nbucket = \"evidock\"\ncredentials_file = \"central.cred\"\n")
            .unwrap()
            .unwrap();
        assert_eq!(c.endpoint, "http://127.0.0.1:7480");
        assert_eq!(c.credentials, CredentialSource::File(PathBuf::from("/etc/evidock/central.cred")));
        assert_eq!((c.concurrency, c.part_size, c.confirm), (2, 16 << 20, Confirm::Checksum));
        assert_eq!(c.region, "us-east-1");
    }

    #[test]
    fn bad_values_name_the_key() {
        let base = "endpoint = \"http://h:1\"\nbucket = \"evidock\"\ncredentials_file = \"c\"\n";
        let e = parse(&format!("[central]\n{base}concurrency = 0\n")).unwrap_err();
        assert!(e.contains("central.concurrency = 0: must be between 1 and 16"), "{e}");
        let e =
            parse("[central]\nendpoint = \"ftp://h\"\nbucket = \"evidock\"\ncredentials_file = \"c\"\n").unwrap_err();
        assert!(e.contains("central.endpoint"), "{e}");
        let e = parse("[central]\nendpoint = \"http://h:1\"\nbucket = \"Evi_Dock\"\ncredentials_file = \"c\"\n")
            .unwrap_err();
        assert!(e.contains("central.bucket"), "{e}");
        let e = parse("[central]\nendpoint = \"http://h:1\"\nbucket = \"evidock\"\n").unwrap_err();
        assert!(e.contains("central.credentials_file"), "{e}");
        let e = parse(&format!("[central]\n{base}confirm = \"trust\"\n")).unwrap_err();
        assert!(e.contains("central.confirm"), "{e}");
        let e = parse(&format!("[central]\n{base}evict_after_days = 0\n")).unwrap_err();
        assert!(e.contains("central.evict_after_days = 0: must be between 1 and 36500") && e.contains("取值"), "{e}");
        let e = parse(&format!("[central]\n{base}evict_at_disk_percent = 100\n")).unwrap_err();
        assert!(e.contains("central.evict_at_disk_percent = 100: must be between 1 and 99"), "{e}");
        let e = parse(&format!("[central]\n{base}evict_at_disk_percent = -5\n")).unwrap_err();
        assert!(e.contains("central.evict_at_disk_percent = -5"), "{e}");
        let c =
            parse(&format!("[central]\n{base}evict_after_days = 90\nevict_at_disk_percent = 85\n")).unwrap().unwrap();
        assert_eq!((c.evict.after_days, c.evict.at_disk_percent), (Some(90), Some(85)));
        assert!(!parse(&format!("[central]\n{base}")).unwrap().unwrap().evict.enabled(), "off by default");
    }

    #[test]
    fn credentials_must_be_the_services_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c");
        std::fs::write(&p, "access_key = \"A\"\nsecret_key = \"S\"\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = load_credentials(&CredentialSource::File(p.clone())).unwrap_err();
        assert!(e.contains("readable by others (mode 0640)"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let c = load_credentials(&CredentialSource::File(p)).unwrap();
        assert_eq!(c.access_key, "A");
    }
}
