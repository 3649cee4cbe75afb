//! Recorder passwords: never in the configuration (which others may read), but in a
//! credentials file that only the service can read, per model or per device.
//!
//! Where: the file systemd hands the service with `LoadCredential=recorder-credentials:...`
//! (`$CREDENTIALS_DIRECTORY/recorder-credentials`), else `usb.credentials` of the
//! configuration (default [`DEFAULT_PATH`]). The file is read when a password is needed, so a
//! corrected password applies at the next docking without a restart. A file that other users
//! could read is refused, and says how to fix it.
//!
//! ```toml
//! [models]            # "vvvv:pppp" = password, for every recorder of the model
//! "4255:0001" = "000000"
//! [devices]           # "vvvv:pppp:USB-SERIAL" = password, for one recorder (wins)
//! "4255:0001:AMBA0001" = "123456"
//! ```
//!
//! Must never: log, print or put a password in an error, an event or a status line.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The credentials file when neither systemd nor the configuration names one.
pub const DEFAULT_PATH: &str = "/etc/evidock/recorder-credentials.toml";
/// The credential's name for systemd's `LoadCredential=`.
pub const CREDENTIAL_NAME: &str = "recorder-credentials";

/// A password, shown as `***` by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret from text (tests, the simulated bus).
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The password itself, for the one call that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Why no password could be had. Never carries the password.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The file is missing or unreadable.
    #[error("cannot read the recorder credentials file {}: {reason} (see docs/RECORDERS.md, \"Passwords\") / 无法读取记录仪凭据文件", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Users other than the service's could read it.
    #[error("the recorder credentials file {} can be read by other users (mode {mode:04o}): run `chmod 600` on it, owned by root or the service user / 凭据文件权限过宽，请设为仅服务可读", path.display())]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// Not valid.
    #[error("the recorder credentials file {} is not valid: {reason} / 凭据文件格式错误", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (never a value).
        reason: String,
    },
    /// It holds no password for this recorder.
    #[error("no password for USB {id} (serial {serial}) in the recorder credentials file {}: add \"{id}:{serial}\" under [devices] or \"{id}\" under [models] / 凭据文件中没有该记录仪的密码", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// `vvvv:pppp`.
        id: String,
        /// USB serial.
        serial: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    models: BTreeMap<String, String>,
    #[serde(default)]
    devices: BTreeMap<String, String>,
}

/// Where the password was found, for the custody log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// For this one device.
    Device,
    /// For every device of the model.
    Model,
}

impl Scope {
    /// As the custody log says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Device => "credentials file, per device",
            Scope::Model => "credentials file, per model",
        }
    }
}

/// The credentials file to use: systemd's credential when the service was given one, else
/// `configured`, else [`DEFAULT_PATH`].
pub fn path(configured: Option<&Path>) -> PathBuf {
    if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
        let p = Path::new(&dir).join(CREDENTIAL_NAME);
        if p.exists() {
            return p;
        }
    }
    configured.map_or_else(|| PathBuf::from(DEFAULT_PATH), Path::to_path_buf)
}

/// The password for USB device `vendor:product` with serial `serial`: per device, else per
/// model.
///
/// # Errors
/// When the file cannot be read, is open to others, is invalid, or has none.
pub fn password(file: &Path, vendor: u16, product: u16, serial: &str) -> Result<(Secret, Scope), CredentialError> {
    let meta = std::fs::metadata(file)
        .map_err(|e| CredentialError::Read { path: file.to_path_buf(), reason: e.to_string() })?;
    if meta.mode() & 0o077 != 0 {
        return Err(CredentialError::TooOpen { path: file.to_path_buf(), mode: meta.mode() & 0o7777 });
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| CredentialError::Read { path: file.to_path_buf(), reason: e.to_string() })?;
    // The parser's message may quote a line of the file: only its position is kept.
    let parsed: File = toml::from_str(&text).map_err(|e| CredentialError::Invalid {
        path: file.to_path_buf(),
        reason: match e.span() {
            Some(span) => {
                format!("not valid TOML near byte {} (only [models] and [devices] tables of text)", span.start)
            }
            None => "not valid TOML (only [models] and [devices] tables of text)".into(),
        },
    })?;
    let id = format!("{vendor:04x}:{product:04x}");
    let find = |map: &BTreeMap<String, String>, key: &str| {
        map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| Secret(v.clone()))
    };
    if let Some(s) = find(&parsed.devices, &format!("{id}:{serial}")) {
        return Ok((s, Scope::Device));
    }
    if let Some(s) = find(&parsed.models, &id) {
        return Ok((s, Scope::Model));
    }
    Err(CredentialError::Missing { path: file.to_path_buf(), id, serial: serial.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file(dir: &Path, text: &str, mode: u32) -> PathBuf {
        let p = dir.join("recorder-credentials.toml");
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn per_device_wins_over_per_model_and_nothing_leaks() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(
            dir.path(),
            "[models]\n\"4255:0001\" = \"000000\"\n[devices]\n\"4255:0001:AMBA0001\" = \"s3cret!\"\n",
            0o600,
        );
        let (s, scope) = password(&p, 0x4255, 1, "AMBA0001").unwrap();
        assert_eq!((s.expose(), scope), ("s3cret!", Scope::Device));
        assert_eq!(format!("{s:?}"), "***");
        let (s, scope) = password(&p, 0x4255, 1, "AMBA0002").unwrap();
        assert_eq!((s.expose(), scope), ("000000", Scope::Model));
        let e = password(&p, 0x1234, 1, "X").unwrap_err().to_string();
        assert!(e.contains("no password for USB 1234:0001") && !e.contains("s3cret"), "{e}");
    }

    #[test]
    fn a_file_others_can_read_or_a_bad_one_is_refused_without_its_contents() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(dir.path(), "[models]\n\"4255:0001\" = \"000000\"\n", 0o644);
        let e = password(&p, 0x4255, 1, "A").unwrap_err().to_string();
        assert!(e.contains("mode 0644") && e.contains("chmod 600") && e.contains("凭据"), "{e}");
        let p = file(dir.path(), "[models]\n\"4255:0001\" = s3cret\n", 0o600);
        let e = password(&p, 0x4255, 1, "A").unwrap_err().to_string();
        assert!(e.contains("not valid TOML") && !e.contains("s3cret"), "{e}");
        let e = password(&dir.path().join("none.toml"), 0x4255, 1, "A").unwrap_err().to_string();
        assert!(e.contains("cannot read"), "{e}");
    }
}
