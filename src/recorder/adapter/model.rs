//! The model table: for each recorder model of `[[usb.models]]`, which adapter speaks to it
//! and what its storage looks like (footage folders, file-name pattern, important marks).
//!
//! Owns: the meaning and validation of a model's adapter keys. The USB ids and name are
//! read by `config.rs`; everything that depends on the adapter kind is decided here.

use std::path::PathBuf;

use crate::archive::layout::is_safe_component;

use super::names::NamePattern;

/// How evidock talks to a recorder model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AdapterKind {
    /// The storage contract `ZFY-CUSTODY/1`: identity file, chain, clock request file.
    Contract,
    /// A plain USB disk: identity from the USB serial bound in the device registry, times
    /// from file names or the file system (unattested), sealed at dock.
    MassStorage,
    /// Ambarella A9 body cameras: a password login and a "disk mode" command over USB
    /// control transfers, then a USB disk; identity as for `MassStorage`.
    Ambarella,
    /// A GA/T 947 vendor SDK (shared library) for identity, clock, battery and the switch to
    /// storage, run in a separate process.
    Gat947Sdk,
}

impl AdapterKind {
    /// Every kind.
    pub const ALL: [AdapterKind; 4] =
        [AdapterKind::Contract, AdapterKind::MassStorage, AdapterKind::Ambarella, AdapterKind::Gat947Sdk];

    /// The configuration's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterKind::Contract => "contract",
            AdapterKind::MassStorage => "mass-storage",
            AdapterKind::Ambarella => "ambarella",
            AdapterKind::Gat947Sdk => "gat947-sdk",
        }
    }

    /// Parses the configuration's name.
    pub fn parse(s: &str) -> Option<AdapterKind> {
        AdapterKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the recorder's identity is the device registry's, found by the USB device's
    /// vendor, product and serial (the recorder itself tells nothing).
    pub fn identity_from_registry(self) -> bool {
        matches!(self, AdapterKind::MassStorage | AdapterKind::Ambarella)
    }

    /// Whether the recorder lays out its storage the contract's way.
    pub fn is_contract(self) -> bool {
        self == AdapterKind::Contract
    }
}

/// Where a model's password comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSource {
    /// The model needs none.
    None,
    /// The credentials file (`usb.credentials`, or systemd's `LoadCredential=`), per device
    /// or per model.
    Credentials,
}

/// A vendor recorder's storage: where footage lies and what its names say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FootageLayout {
    /// Folders holding footage, relative to the volume root (`/`-separated); files in them
    /// and in their subfolders (up to [`MAX_DEPTH`] levels) are footage.
    pub folders: Vec<String>,
    /// The pattern of the model's file names, where known.
    pub pattern: Option<NamePattern>,
    /// Words that mark a file important in its name or folder.
    pub important_marks: Vec<String>,
}

/// Subfolder levels below a footage folder that are scanned.
pub const MAX_DEPTH: usize = 3;

/// Everything about a model beyond its USB id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelProfile {
    /// The adapter.
    pub kind: AdapterKind,
    /// Where its password comes from.
    pub password: PasswordSource,
    /// Its storage layout (vendor kinds); `None` for the contract.
    pub layout: Option<FootageLayout>,
    /// The USB id it has in storage mode, when that differs from its id.
    pub storage_id: Option<(u16, u16)>,
    /// The vendor's shared library (`gat947-sdk`).
    pub library: Option<PathBuf>,
}

impl ModelProfile {
    /// The contract's profile.
    pub fn contract() -> ModelProfile {
        ModelProfile {
            kind: AdapterKind::Contract,
            password: PasswordSource::None,
            layout: None,
            storage_id: None,
            library: None,
        }
    }
}

/// A model's adapter keys as written in `[[usb.models]]`.
#[derive(Debug, Default, Clone)]
pub struct ProfileKeys<'a> {
    /// `adapter`
    pub adapter: Option<&'a str>,
    /// `password`
    pub password: Option<&'a str>,
    /// `footage`
    pub footage: Option<&'a [String]>,
    /// `name_pattern`
    pub name_pattern: Option<&'a str>,
    /// `important_marks`
    pub important_marks: Option<&'a [String]>,
    /// `storage_id`
    pub storage_id: Option<&'a str>,
    /// `library`
    pub library: Option<&'a std::path::Path>,
}

/// A bad key: its name (after `usb.models[N].`), the value as given, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// The key.
    pub key: &'static str,
    /// The value as given.
    pub value: String,
    /// What is allowed.
    pub reason: String,
}

fn bad(key: &'static str, value: impl std::fmt::Debug, reason: impl Into<String>) -> KeyError {
    KeyError { key, value: format!("{value:?}"), reason: reason.into() }
}

/// Parses `vvvv:pppp` (lower- or upper-case hex, as `lsusb` prints ids).
pub fn parse_usb_id(s: &str) -> Option<(u16, u16)> {
    let (v, p) = s.split_once(':')?;
    let hex = |x: &str| (x.len() == 4).then(|| u16::from_str_radix(x, 16).ok()).flatten();
    Some((hex(v)?, hex(p)?))
}

impl ModelProfile {
    /// Resolves and checks a model's adapter keys.
    ///
    /// # Errors
    /// The first key that is wrong, or that the kind does not take.
    pub fn resolve(k: &ProfileKeys<'_>) -> Result<ModelProfile, KeyError> {
        let kind = match k.adapter {
            None => AdapterKind::Contract,
            Some(s) => AdapterKind::parse(s).ok_or_else(|| {
                bad("adapter", s, "must be \"contract\", \"mass-storage\", \"ambarella\" or \"gat947-sdk\"")
            })?,
        };
        let password = match k.password {
            None if matches!(kind, AdapterKind::Ambarella | AdapterKind::Gat947Sdk) => PasswordSource::Credentials,
            None | Some("none") => PasswordSource::None,
            Some("credentials") => PasswordSource::Credentials,
            Some(other) => return Err(bad("password", other, "must be \"credentials\" or \"none\"")),
        };
        if password == PasswordSource::Credentials && !matches!(kind, AdapterKind::Ambarella | AdapterKind::Gat947Sdk) {
            return Err(bad("password", "credentials", format!("a {} recorder takes no password", kind.as_str())));
        }
        let storage_id = match k.storage_id {
            None => None,
            Some(s) => Some(parse_usb_id(s).ok_or_else(|| bad("storage_id", s, "must be vvvv:pppp in hex"))?),
        };
        if storage_id.is_some() && !matches!(kind, AdapterKind::Ambarella | AdapterKind::Gat947Sdk) {
            return Err(bad(
                "storage_id",
                k.storage_id.unwrap_or_default(),
                "only a recorder that switches to storage has one",
            ));
        }
        let library = match (kind, k.library) {
            (AdapterKind::Gat947Sdk, None) => {
                return Err(bad("library", "", "a gat947-sdk model needs the vendor's shared library (absolute path)"))
            }
            (AdapterKind::Gat947Sdk, Some(p)) if !p.is_absolute() => {
                return Err(bad("library", p.display().to_string(), "must be an absolute path"))
            }
            (AdapterKind::Gat947Sdk, Some(p)) => Some(p.to_path_buf()),
            (_, Some(p)) => {
                return Err(bad("library", p.display().to_string(), "only a gat947-sdk model loads a library"))
            }
            (_, None) => None,
        };
        if kind.is_contract() {
            for (key, given) in [
                ("footage", k.footage.is_some()),
                ("name_pattern", k.name_pattern.is_some()),
                ("important_marks", k.important_marks.is_some()),
            ] {
                if given {
                    return Err(bad(key, "...", "the contract fixes the layout: only vendor adapters take this key"));
                }
            }
            return Ok(ModelProfile { kind, password, layout: None, storage_id, library });
        }
        let folders: Vec<String> = match k.footage {
            None => vec!["DCIM".to_string()],
            Some([]) => return Err(bad("footage", "[]", "must name at least one folder, e.g. [\"DCIM\"]")),
            Some(list) => list.to_vec(),
        };
        for f in &folders {
            let ok = !f.is_empty()
                && !f.starts_with('/')
                && f.split('/').all(|c| is_safe_component(c) && !c.chars().any(char::is_control));
            if !ok {
                return Err(bad("footage", f, "must be a folder path relative to the volume root, e.g. \"DCIM\""));
            }
        }
        if folders.iter().enumerate().any(|(i, a)| {
            folders.iter().enumerate().any(|(j, b)| i != j && (a == b || a.starts_with(&format!("{b}/"))))
        }) {
            return Err(bad("footage", &folders, "folders must not repeat or lie inside one another"));
        }
        let pattern = match k.name_pattern {
            None => None,
            Some(p) => Some(NamePattern::parse(p).map_err(|e| bad("name_pattern", p, e.to_string()))?),
        };
        let important_marks = k.important_marks.map(<[String]>::to_vec).unwrap_or_default();
        for m in &important_marks {
            if m.is_empty() || m.len() > 32 || !m.chars().all(|c| c.is_alphanumeric()) {
                return Err(bad("important_marks", m, "each mark is a word of letters and digits, e.g. \"IMP\""));
            }
        }
        Ok(ModelProfile {
            kind,
            password,
            layout: Some(FootageLayout { folders, pattern, important_marks }),
            storage_id,
            library,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys<'a>(adapter: &'a str) -> ProfileKeys<'a> {
        ProfileKeys { adapter: Some(adapter), ..ProfileKeys::default() }
    }

    #[test]
    fn a_mass_storage_model_defaults_to_dcim_and_no_password() {
        let p = ModelProfile::resolve(&keys("mass-storage")).unwrap();
        assert_eq!(p.kind, AdapterKind::MassStorage);
        assert_eq!(p.password, PasswordSource::None);
        assert_eq!(p.layout.unwrap().folders, vec!["DCIM".to_string()]);
        assert_eq!(ModelProfile::resolve(&ProfileKeys::default()).unwrap(), ModelProfile::contract());
    }

    #[test]
    fn wrong_keys_name_the_key_and_why() {
        let folders = vec!["../etc".to_string()];
        let nested = vec!["DCIM".to_string(), "DCIM/100MEDIA".to_string()];
        let marks = vec!["I M P".to_string()];
        for (k, key, why) in [
            (keys("vendor-x"), "adapter", "must be"),
            (ProfileKeys { footage: Some(&folders), ..keys("mass-storage") }, "footage", "relative"),
            (ProfileKeys { footage: Some(&nested), ..keys("mass-storage") }, "footage", "inside one another"),
            (ProfileKeys { footage: Some(&nested), ..ProfileKeys::default() }, "footage", "contract fixes"),
            (ProfileKeys { name_pattern: Some("{when}"), ..keys("mass-storage") }, "name_pattern", "unknown"),
            (ProfileKeys { important_marks: Some(&marks), ..keys("mass-storage") }, "important_marks", "a word"),
            (ProfileKeys { password: Some("credentials"), ..keys("mass-storage") }, "password", "takes no password"),
            (ProfileKeys { storage_id: Some("4255:0001"), ..keys("mass-storage") }, "storage_id", "only"),
        ] {
            let e = ModelProfile::resolve(&k).unwrap_err();
            assert_eq!(e.key, key, "{e:?}");
            assert!(e.reason.contains(why), "{e:?}");
        }
    }

    #[test]
    fn usb_ids_parse_as_lsusb_prints_them() {
        assert_eq!(parse_usb_id("4255:0001"), Some((0x4255, 0x0001)));
        assert_eq!(parse_usb_id("ABCD:ef01"), Some((0xabcd, 0xef01)));
        assert_eq!(parse_usb_id("4255:1"), None);
        assert_eq!(parse_usb_id("4255"), None);
    }
}
