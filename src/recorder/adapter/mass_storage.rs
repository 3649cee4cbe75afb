//! The adapter for recorders that are a plain USB disk when docked (`mass-storage`), or once
//! they have been told to show it (`ambarella`, after [`super::ambarella::unlock`]): no
//! identity file. Who it is comes from the device registry (the USB vendor, product and serial bound to
//! a registered recorder and its officer, R1); when footage was recorded comes from the file
//! names the model writes, else from the file system (both the recorder's clock, which the
//! dock cannot read: unattested, R2, R13). Its footage is sealed at dock.
//!
//! Must never: write anything to the volume (its clock cannot be set), or be chosen for a USB
//! disk that is not bound to a registered recorder (see [`super::select`]).

use chrono::NaiveDateTime;

use crate::catalog::BoundDevice;
use crate::config::UsbModel;
use crate::recorder::format::Identity;

use super::{Adapter, AdapterError, AdapterKind, FootageLayout};

/// A plain USB disk of a known model, bound to a registered recorder.
#[derive(Debug)]
pub struct MassStorageAdapter<'m> {
    model: &'m UsbModel,
    bound: BoundDevice,
    usb_source: &'static str,
    dock_now: NaiveDateTime,
}

impl<'m> MassStorageAdapter<'m> {
    /// The adapter for `model`, whose USB device (as `usb_source` reported it) is bound to
    /// `bound`. `dock_now` stands in for the clock reading it cannot give.
    pub fn new(
        model: &'m UsbModel,
        bound: BoundDevice,
        usb_source: &'static str,
        dock_now: NaiveDateTime,
    ) -> MassStorageAdapter<'m> {
        MassStorageAdapter { model, bound, usb_source, dock_now }
    }
}

impl Adapter for MassStorageAdapter<'_> {
    fn identify(&self) -> Result<Identity, AdapterError> {
        let b = &self.bound;
        Ok(Identity {
            serial: b.serial.clone(),
            badge: b.officer_id.clone(),
            officer_name: b.officer_name.clone(),
            unit: b.unit.clone(),
            model: b.model.clone().unwrap_or_else(|| self.model.name.clone()),
            firmware: "-".into(),
            // Not a reading: the recorder has no clock the dock can read (see clock_source).
            clock: self.dock_now,
            clock_utc_offset: None,
            clock_settable: false,
            writes_chain: false,
            storage_free: None,
            storage_total: None,
            battery_percent: None,
        })
    }

    fn read_clock(&self) -> Result<NaiveDateTime, AdapterError> {
        Err(AdapterError::NoClock { serial: self.bound.serial.clone() })
    }

    fn set_clock(&self, _now: NaiveDateTime) -> Result<(), AdapterError> {
        Err(AdapterError::ClockNotSettable { serial: self.bound.serial.clone() })
    }

    fn switch_to_storage(&self) -> Result<(), AdapterError> {
        Ok(())
    }

    fn kind(&self) -> AdapterKind {
        self.model.profile.kind
    }

    fn identity_source(&self) -> String {
        format!(
            "device registry: USB {} ({}, reported by the {}) is bound to {}, assigned to officer {}",
            self.bound.usb, self.model.name, self.usb_source, self.bound.serial, self.bound.officer_id
        )
    }

    fn clock_source(&self) -> Option<String> {
        None
    }

    fn layout(&self) -> Option<&FootageLayout> {
        self.model.profile.layout.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::UsbBinding;
    use crate::dock::volume::Volume;
    use crate::recorder::adapter::model::ProfileKeys;
    use crate::recorder::adapter::{select, ModelProfile, Selection, UsbFacts};

    fn model() -> UsbModel {
        UsbModel {
            name: "某品牌 执法记录仪".into(),
            vendor_id: 0x1234,
            product_id: 0x5678,
            profile: ModelProfile::resolve(&ProfileKeys { adapter: Some("mass-storage"), ..ProfileKeys::default() })
                .unwrap(),
        }
    }

    fn bound() -> BoundDevice {
        BoundDevice {
            usb: UsbBinding { vendor_id: 0x1234, product_id: 0x5678, usb_serial: "MS0001".into() },
            serial: "A100001".into(),
            model: None,
            officer_id: "012345".into(),
            officer_name: Some("张三".into()),
            unit: None,
            retired: None,
        }
    }

    #[test]
    fn a_bound_disk_is_identified_by_the_registry_and_never_written() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("DCIM")).unwrap();
        let v = Volume::open(dir.path()).unwrap();
        let m = model();
        let usb =
            UsbFacts { vendor_id: 0x1234, product_id: 0x5678, serial: Some("MS0001".into()), source: "USB watch" };
        let now = NaiveDateTime::default();
        let Selection::Adapter(a) = select(&v, Some(&usb), Some(&m), Some(bound()), None, now) else {
            panic!("untouched")
        };
        assert_eq!(a.kind(), AdapterKind::MassStorage);
        let id = a.identify().unwrap();
        assert_eq!((id.serial.as_str(), id.badge.as_str()), ("A100001", "012345"));
        assert_eq!(id.officer_name.as_deref(), Some("张三"));
        assert!(!id.writes_chain && !id.clock_settable);
        assert!(a.identity_source().contains("1234:5678:MS0001"), "{}", a.identity_source());
        assert!(a.clock_source().is_none());
        assert!(matches!(a.read_clock(), Err(AdapterError::NoClock { .. })));
        assert!(a.set_clock(now).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "nothing written");

        // The same disk without a binding is left alone, with what to do about it.
        match select(&v, Some(&usb), Some(&m), None, None, now) {
            Selection::Untouched { reason, reason_zh } => {
                assert!(reason.contains("--usb 1234:5678:MS0001"), "{reason}");
                assert!(reason_zh.contains("未读写"), "{reason_zh}");
            }
            other => panic!("{other:?}"),
        }
        // A volume of no known model is the contract's.
        let Selection::Adapter(a) = select(&v, None, None, None, None, now) else { panic!("untouched") };
        assert_eq!(a.kind(), AdapterKind::Contract);
    }
}
