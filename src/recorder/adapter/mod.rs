//! Recorder adapters: the things the pipeline asks of a recorder, whatever its vendor:
//! identify it (`GetZFYInfo`), read its clock, set its clock (`SyncDevTime`), switch it to
//! storage mode (`SetMSDC`), and say how its storage is laid out.
//!
//! One room per kind, chosen by the model table (`[[usb.models]]`, [`model`]) from the USB
//! vendor and product id of the device a volume belongs to:
//! - [`contract`]: the storage contract of `docs/RECORDER-FORMAT.md`, sealed at source;
//! - [`mass_storage`]: a plain USB disk, identity from the device registry's USB binding,
//!   times from file names ([`names`]) or the file system, sealed at dock;
//! - [`ambarella`]: Ambarella A9 cameras, which want a password login and a "disk mode"
//!   command over USB before their storage appears (then read as `mass_storage` is), with
//!   passwords from the service's [`credentials`] file;
//! - [`gat947`]: recorders whose vendor ships a GA/T 947.4 SDK (a shared library), run in a
//!   helper process for identity, clock, battery and the switch to storage.
//!
//! The pipeline only sees [`Adapter`] and [`Selection`].
//!
//! Must never: write to a volume except [`Adapter::set_clock`]'s request; read or write a USB
//! disk that is not registered for its kind.

pub mod ambarella;
pub mod contract;
pub mod credentials;
pub mod gat947;
pub mod mass_storage;
pub mod model;
pub mod names;

use chrono::NaiveDateTime;

use crate::catalog::BoundDevice;
use crate::config::UsbModel;
use crate::dock::volume::Volume;

use super::format::{FormatError, Identity};

pub use contract::ContractAdapter;
pub use mass_storage::MassStorageAdapter;
pub use model::{AdapterKind, FootageLayout, ModelProfile};

/// Why an adapter could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The volume has no identity file: it is not a recorder (a stick, an SD card).
    #[error("no {file} at the volume root: not a recorder")]
    NotARecorder {
        /// The identity file looked for.
        file: &'static str,
    },
    /// The identity file exists but is not valid.
    #[error("identity file {file} is invalid: {source}")]
    BadIdentity {
        /// The identity file.
        file: &'static str,
        /// What is wrong, with its line.
        source: FormatError,
    },
    /// The recorder does not allow setting its clock.
    #[error("recorder {serial} does not allow its clock to be set")]
    ClockNotSettable {
        /// Device serial.
        serial: String,
    },
    /// The recorder has no clock the dock can read.
    #[error("recorder {serial} has no clock the dock can read")]
    NoClock {
        /// Device serial.
        serial: String,
    },
    /// An I/O error talking to the recorder.
    #[error("{action} on the recorder: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The error.
        source: std::io::Error,
    },
}

/// What the pipeline asks of a recorder.
pub trait Adapter {
    /// Reads the recorder's identity, health and clock (`GetZFYInfo`).
    ///
    /// # Errors
    /// [`AdapterError::NotARecorder`] when it is no recorder; otherwise when the identity
    /// cannot be read or is invalid.
    fn identify(&self) -> Result<Identity, AdapterError>;

    /// The recorder's clock reading at dock time.
    ///
    /// # Errors
    /// When the clock cannot be read ([`AdapterError::NoClock`]: the recorder has none the
    /// dock can read).
    fn read_clock(&self) -> Result<NaiveDateTime, AdapterError>;

    /// Asks the recorder to set its clock to `now` (device local time) (`SyncDevTime`).
    ///
    /// # Errors
    /// When the recorder does not allow it or the request fails.
    fn set_clock(&self, now: NaiveDateTime) -> Result<(), AdapterError>;

    /// Makes the recorder's storage available (`SetMSDC`).
    ///
    /// # Errors
    /// When the switch fails.
    fn switch_to_storage(&self) -> Result<(), AdapterError>;

    /// The adapter kind.
    fn kind(&self) -> AdapterKind {
        AdapterKind::Contract
    }

    /// Where the identity comes from, for the custody log (R1).
    fn identity_source(&self) -> String {
        "the recorder's identity file (ZFYINFO.TXT)".into()
    }

    /// Where the clock reading comes from; `None` when the recorder's clock is not read
    /// (its times are then unattested: no drift is known, R2).
    fn clock_source(&self) -> Option<String> {
        Some("the recorder's identity file (clock=)".into())
    }

    /// When a clock request takes effect, for the custody log.
    fn clock_applied(&self) -> &'static str {
        "on undock"
    }

    /// A vendor recorder's storage layout; `None` for the contract's (`DCIM/<folder>/<file>`
    /// and the chain files).
    fn layout(&self) -> Option<&FootageLayout> {
        None
    }
}

/// The USB device a volume belongs to, as far as the dock knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbFacts {
    /// Vendor id.
    pub vendor_id: u16,
    /// Product id.
    pub product_id: u16,
    /// USB serial string.
    pub serial: Option<String>,
    /// Who says so: the USB watch, the kernel (sysfs), or a simulated bus.
    pub source: &'static str,
}

impl UsbFacts {
    /// `vvvv:pppp`.
    pub fn id(&self) -> String {
        format!("{:04x}:{:04x}", self.vendor_id, self.product_id)
    }
}

/// The USB device a volume belongs to: as the USB watch reported it (matched by the volume's
/// folder name, its USB serial), else as the kernel has it for the volume's disk.
pub fn usb_facts(watch: Option<&crate::dock::usb::UsbDevice>, volume: &Volume) -> Option<UsbFacts> {
    match watch {
        Some(d) => Some(UsbFacts {
            vendor_id: d.vendor_id,
            product_id: d.product_id,
            serial: d.serial.clone(),
            source: if d.simulated { "simulated USB bus" } else { "USB watch" },
        }),
        None => volume.usb_device().map(|(vendor_id, product_id, serial)| UsbFacts {
            vendor_id,
            product_id,
            serial,
            source: "kernel (sysfs)",
        }),
    }
}

/// The model of a USB device: by its id, or by its id in storage mode.
pub fn model_for<'m>(models: &'m [UsbModel], usb: &UsbFacts) -> Option<&'m UsbModel> {
    let id = (usb.vendor_id, usb.product_id);
    models
        .iter()
        .find(|m| (m.vendor_id, m.product_id) == id)
        .or_else(|| models.iter().find(|m| m.profile.storage_id == Some(id)))
}

/// What to do with a docked volume.
pub enum Selection<'v> {
    /// Talk to it through this adapter.
    Adapter(Box<dyn Adapter + 'v>),
    /// Leave it untouched (nothing read beyond this decision, nothing written), and why.
    Untouched {
        /// Why, in English.
        reason: String,
        /// Why, in Chinese.
        reason_zh: String,
    },
}

impl std::fmt::Debug for Selection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selection::Adapter(a) => write!(f, "Adapter({})", a.kind().as_str()),
            Selection::Untouched { reason, .. } => write!(f, "Untouched({reason})"),
        }
    }
}

/// The adapter for a docked volume: the one place that chooses how to talk to a recorder.
/// `model` is the model table's entry for the USB device the volume belongs to ([`model_for`]),
/// `bound` the registered recorder that device is bound to, where the kind needs one.
pub fn select<'v>(
    volume: &'v Volume,
    usb: Option<&UsbFacts>,
    model: Option<&'v UsbModel>,
    bound: Option<BoundDevice>,
    sdk: Option<&'v gat947::SdkSession>,
    dock_now: NaiveDateTime,
) -> Selection<'v> {
    let Some(model) = model.filter(|m| !m.profile.kind.is_contract()) else {
        return Selection::Adapter(Box::new(ContractAdapter::new(volume)));
    };
    let id = usb.map_or_else(|| format!("{:04x}:{:04x}", model.vendor_id, model.product_id), UsbFacts::id);
    let usb_serial = usb.and_then(|u| u.serial.clone());
    match (model.profile.kind, bound) {
        (AdapterKind::MassStorage | AdapterKind::Ambarella, Some(b)) => {
            Selection::Adapter(Box::new(MassStorageAdapter::new(model, b, usb.map_or("?", |u| u.source), dock_now)))
        }
        (AdapterKind::Gat947Sdk, _) => match sdk {
            Some(s) => Selection::Adapter(Box::new(gat947::SdkAdapter::new(model, s, dock_now))),
            None => Selection::Untouched {
                reason: format!(
                    "the storage of {id} ({}, gat947-sdk) appeared without this station's SDK session (docked before \
                     the service started, or switched elsewhere): left untouched; undock it and dock it again",
                    model.name
                ),
                reason_zh: "未经本工作站厂商接口识别的存储设备，未读写；请拔出后重新接入".into(),
            },
        },
        (kind, _) => {
            let serial = usb_serial.as_deref().unwrap_or("(none)");
            let binding = format!("{:04x}:{:04x}:{serial}", model.vendor_id, model.product_id);
            Selection::Untouched {
                reason: format!(
                    "USB storage {id} serial {serial} ({}, {}) is not bound to a registered recorder: left untouched; \
                     register it with `evidock device register SERIAL --officer-id ID --usb {binding}`",
                    model.name,
                    kind.as_str()
                ),
                reason_zh: format!("USB存储设备 {id} 序列号 {serial} 未登记绑定，未读写；请先登记（--usb {binding}）"),
            }
        }
    }
}
