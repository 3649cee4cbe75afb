//! `[web]`: the station's web page (docs/WEB.md).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::ConfigError;

/// The port the web page listens on by default, on 127.0.0.1.
pub const DEFAULT_PORT: u16 = 8470;

/// `[web]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebFile {
    /// Whether the daemon serves the web page (default false).
    pub enabled: Option<bool>,
    /// Address and port, default `127.0.0.1:8470`. Anything but a loopback address needs
    /// `tls_cert` and `tls_key`.
    pub listen: Option<String>,
    /// How long a sign-in lasts, seconds (default 1800).
    pub session_s: Option<u64>,
    /// Failed sign-ins in a row that lock an account (default 5).
    pub lockout_failures: Option<u32>,
    /// How long a locked account stays locked, seconds (default 900).
    pub lockout_s: Option<u64>,
    /// The TLS certificate chain, PEM (relative paths: from the configuration's folder).
    pub tls_cert: Option<PathBuf>,
    /// The TLS private key, PEM.
    pub tls_key: Option<PathBuf>,
    /// Where removable drives are mounted (each folder directly under it one drive, e.g. by
    /// udisks under `/media/evidock`): the page exports approved footage onto them. Absolute.
    /// Unset: the page does not export.
    pub export_root: Option<PathBuf>,
}

/// `[web]`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Web {
    /// Whether the daemon serves the page.
    pub enabled: bool,
    /// Where it listens.
    pub listen: SocketAddr,
    /// Session lifetime, seconds.
    pub session_s: i64,
    /// The lockout rule.
    pub lockout: crate::accounts::Lockout,
    /// Certificate chain and key, when the page is served over TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Where removable drives are mounted, when the page exports onto them.
    pub export_root: Option<PathBuf>,
}

impl Default for Web {
    fn default() -> Web {
        Web {
            enabled: false,
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            session_s: 1800,
            lockout: crate::accounts::Lockout { failures: 5, seconds: 900 },
            tls: None,
            export_root: None,
        }
    }
}

/// Resolves `[web]`, naming `web.<key>` in every error. A listen address beyond this computer
/// without TLS is refused (INV-43).
///
/// # Errors
/// On a value out of range, an address that does not parse, or a non-loopback address without
/// a certificate and key.
pub fn resolve(file: WebFile, shown: &Path, base: &Path) -> Result<Web, ConfigError> {
    let invalid = |key: &str, value: &dyn std::fmt::Display, reason: &str| ConfigError::Invalid {
        path: shown.to_path_buf(),
        key: format!("web.{key}"),
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let d = Web::default();
    let listen = match &file.listen {
        None => d.listen,
        Some(s) => s.parse::<SocketAddr>().map_err(|_| {
            invalid(
                "listen",
                &format!("{s:?}"),
                "must be an address and port, e.g. \"127.0.0.1:8470\" / 须为地址和端口",
            )
        })?,
    };
    let session_s = file.session_s.unwrap_or(1800);
    if !(2..=86_400).contains(&session_s) {
        return Err(invalid("session_s", &session_s, "must be between 2 and 86400 seconds"));
    }
    let failures = file.lockout_failures.unwrap_or(5);
    if !(1..=100).contains(&failures) {
        return Err(invalid("lockout_failures", &failures, "must be between 1 and 100"));
    }
    let lockout_s = file.lockout_s.unwrap_or(900);
    if !(1..=7 * 86_400).contains(&lockout_s) {
        return Err(invalid("lockout_s", &lockout_s, "must be between 1 and 604800 seconds"));
    }
    let tls = match (file.tls_cert, file.tls_key) {
        (Some(c), Some(k)) => Some((base.join(c), base.join(k))),
        (None, None) => None,
        (Some(c), None) => {
            return Err(invalid("tls_key", &"(absent)", &format!("web.tls_cert = {} needs web.tls_key", c.display())))
        }
        (None, Some(k)) => {
            return Err(invalid("tls_cert", &"(absent)", &format!("web.tls_key = {} needs web.tls_cert", k.display())))
        }
    };
    if !listen.ip().is_loopback() && tls.is_none() {
        return Err(invalid(
            "listen",
            &listen,
            "listening beyond this computer needs TLS: set web.tls_cert and web.tls_key (PEM files), or listen on \
             127.0.0.1 / 在本机以外监听须启用 TLS：请设置 web.tls_cert 和 web.tls_key（PEM 文件），或只监听 127.0.0.1",
        ));
    }
    if let Some(root) = &file.export_root {
        if !root.is_absolute() || root.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return Err(invalid(
                "export_root",
                &root.display(),
                "must be an absolute folder without `..`, e.g. \"/media/evidock\" / 须为绝对路径",
            ));
        }
    }
    Ok(Web {
        enabled: file.enabled.unwrap_or(false),
        export_root: file.export_root,
        listen,
        session_s: session_s as i64,
        lockout: crate::accounts::Lockout { failures, seconds: lockout_s as i64 },
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(toml_text: &str) -> Result<Web, String> {
        let f: WebFile = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        resolve(f, Path::new("/etc/evidock/evidock.toml"), Path::new("/etc/evidock")).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_listen_on_loopback_only() {
        let w = check("").unwrap();
        assert_eq!(w, Web::default());
        assert_eq!(w.listen.to_string(), "127.0.0.1:8470");
        assert!(check("listen = \"[::1]:9000\"").is_ok());
    }

    #[test]
    fn the_lan_needs_tls() {
        let e = check("enabled = true\nlisten = \"0.0.0.0:8470\"").unwrap_err();
        assert_eq!(
            e,
            "/etc/evidock/evidock.toml: web.listen = 0.0.0.0:8470: listening beyond this computer needs TLS: set \
             web.tls_cert and web.tls_key (PEM files), or listen on 127.0.0.1 / 在本机以外监听须启用 TLS：请设置 \
             web.tls_cert 和 web.tls_key（PEM 文件），或只监听 127.0.0.1"
        );
        let w = check("listen = \"192.0.2.7:443\"\ntls_cert = \"web.crt\"\ntls_key = \"/k/web.key\"").unwrap();
        assert_eq!(w.tls, Some((PathBuf::from("/etc/evidock/web.crt"), PathBuf::from("/k/web.key"))));
        assert!(check("tls_cert = \"web.crt\"").unwrap_err().contains("web.tls_key"));
        assert!(check("listen = \"localhost\"").unwrap_err().contains("web.listen"));
        assert!(check("session_s = 1").unwrap_err().contains("web.session_s = 1"));
        assert!(check("bogus = 1").unwrap_err().contains("bogus"));
        assert!(check("export_root = \"media\"").unwrap_err().contains("web.export_root = media"));
        assert!(check("export_root = \"/media/../etc\"").unwrap_err().contains("web.export_root"));
        assert_eq!(
            check("export_root = \"/media/evidock\"").unwrap().export_root,
            Some(PathBuf::from("/media/evidock"))
        );
    }
}
