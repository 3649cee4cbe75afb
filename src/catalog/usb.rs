//! USB bindings in the device registry (R1): which USB device (vendor, product, USB serial) is
//! which registered recorder. A recorder that tells nothing about itself (a plain USB disk, an
//! Ambarella camera) is known only through its binding; a USB device without one is never
//! read or written.

use chrono::Utc;
use rusqlite::{params, OptionalExtension};
use serde_json::json;

use crate::custody::event::Action;

use super::store::{append, begin, sql, Catalog, CatalogError};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS registry_usb (
    vendor_id     INTEGER NOT NULL,
    product_id    INTEGER NOT NULL,
    usb_serial    TEXT NOT NULL,
    serial        TEXT NOT NULL,
    bound         TEXT NOT NULL,
    bound_by      TEXT NOT NULL,
    PRIMARY KEY (vendor_id, product_id, usb_serial)
);
"#;

/// A USB device as the registry names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UsbBinding {
    /// Vendor id.
    pub vendor_id: u16,
    /// Product id.
    pub product_id: u16,
    /// The USB serial string (the name of its folder under the dock root).
    pub usb_serial: String,
}

impl UsbBinding {
    /// Parses `vvvv:pppp:SERIAL`.
    ///
    /// # Errors
    /// When it is not of that shape or the serial could not name a folder.
    pub fn parse(s: &str) -> Result<UsbBinding, String> {
        let bad =
            || format!("{s:?}: expected VENDOR:PRODUCT:USB-SERIAL, e.g. 1234:5678:0123456789AB (as lsusb -v shows)");
        let mut parts = s.splitn(3, ':');
        let (Some(v), Some(p), Some(serial)) = (parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
        let (vendor_id, product_id) =
            crate::recorder::adapter::model::parse_usb_id(&format!("{v}:{p}")).ok_or_else(bad)?;
        check_usb_serial(serial)?;
        Ok(UsbBinding { vendor_id, product_id, usb_serial: serial.to_string() })
    }
}

impl std::fmt::Display for UsbBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04x}:{:04x}:{}", self.vendor_id, self.product_id, self.usb_serial)
    }
}

/// A USB serial that can name a folder under the dock root: 1-126 printable ASCII
/// characters, no `/`, not starting with `.`.
///
/// # Errors
/// When it cannot.
pub fn check_usb_serial(serial: &str) -> Result<(), String> {
    let ok = !serial.is_empty()
        && serial.len() <= 126
        && !serial.starts_with('.')
        && serial.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
    if ok {
        Ok(())
    } else {
        Err(format!("USB serial {serial:?}: must be 1-126 printable ASCII characters without / or a leading ."))
    }
}

/// The registered recorder a USB device is bound to, with its current assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundDevice {
    /// The USB device.
    pub usb: UsbBinding,
    /// Device serial (7 characters 0-9 A-Z).
    pub serial: String,
    /// Model, as registered.
    pub model: Option<String>,
    /// Assigned officer's number.
    pub officer_id: String,
    /// Officer's name.
    pub officer_name: Option<String>,
    /// Officer's unit.
    pub unit: Option<String>,
    /// When it was retired, if it was.
    pub retired: Option<String>,
}

impl Catalog {
    /// Binds a USB device to a registered recorder (a device bound elsewhere moves, and the
    /// event names where it was), with its custody event (R1).
    ///
    /// # Errors
    /// When the recorder is not registered or the write fails.
    pub fn bind_usb(&mut self, serial: &str, usb: &UsbBinding) -> Result<(), CatalogError> {
        check_usb_serial(&usb.usb_serial).map_err(CatalogError::Invalid)?;
        let now = Utc::now().to_rfc3339();
        let user = self.actor.user.clone();
        let tx = begin(&mut self.conn)?;
        let registered: Option<String> = tx
            .query_row("SELECT serial FROM registry WHERE serial = ?1", params![serial], |r| r.get(0))
            .optional()
            .map_err(sql("looking up the registry"))?;
        if registered.is_none() {
            return Err(CatalogError::Invalid(format!("recorder {serial} is not registered")));
        }
        let key = params![usb.vendor_id, usb.product_id, usb.usb_serial];
        let before: Option<String> = tx
            .query_row(
                "SELECT serial FROM registry_usb WHERE vendor_id = ?1 AND product_id = ?2 AND usb_serial = ?3",
                key,
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("looking up a USB binding"))?;
        if before.as_deref() == Some(serial) {
            return Ok(());
        }
        tx.execute(
            "INSERT INTO registry_usb (vendor_id, product_id, usb_serial, serial, bound, bound_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(vendor_id, product_id, usb_serial) DO UPDATE SET serial = ?4, bound = ?5, bound_by = ?6",
            params![usb.vendor_id, usb.product_id, usb.usb_serial, serial, now, user],
        )
        .map_err(sql("binding a USB device"))?;
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::DeviceRegistered,
            format!("device:{serial}"),
            json!({ "serial": serial, "usb_binding": usb.to_string(), "previously_bound_to": before }),
        )?;
        tx.commit().map_err(sql("commit USB binding"))
    }

    /// The registered recorder bound to a USB device, if any.
    ///
    /// # Errors
    /// When the query fails.
    pub fn bound_device(&self, usb: &UsbBinding) -> Result<Option<BoundDevice>, CatalogError> {
        self.conn
            .query_row(
                "SELECT r.serial, r.model, r.officer_id, r.officer_name, r.unit, r.retired
                 FROM registry_usb u JOIN registry r ON r.serial = u.serial
                 WHERE u.vendor_id = ?1 AND u.product_id = ?2 AND u.usb_serial = ?3",
                params![usb.vendor_id, usb.product_id, usb.usb_serial],
                |r| {
                    Ok(BoundDevice {
                        usb: usb.clone(),
                        serial: r.get(0)?,
                        model: r.get(1)?,
                        officer_id: r.get(2)?,
                        officer_name: r.get(3)?,
                        unit: r.get(4)?,
                        retired: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(sql("looking up a USB binding"))
    }

    /// The USB devices bound to a recorder.
    ///
    /// # Errors
    /// When the query fails.
    pub fn usb_bindings(&self, serial: &str) -> Result<Vec<UsbBinding>, CatalogError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT vendor_id, product_id, usb_serial FROM registry_usb WHERE serial = ?1
                 ORDER BY vendor_id, product_id, usb_serial",
            )
            .map_err(sql("listing USB bindings"))?;
        let rows = st
            .query_map(params![serial], |r| {
                Ok(UsbBinding { vendor_id: r.get(0)?, product_id: r.get(1)?, usb_serial: r.get(2)? })
            })
            .map_err(sql("listing USB bindings"))?
            .collect::<Result<_, _>>()
            .map_err(sql("listing USB bindings"));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_parse_and_refuse_what_cannot_name_a_folder() {
        let b = UsbBinding::parse("1234:ABCD:SN-0001:x").unwrap();
        assert_eq!((b.vendor_id, b.product_id, b.usb_serial.as_str()), (0x1234, 0xabcd, "SN-0001:x"));
        assert_eq!(b.to_string(), "1234:abcd:SN-0001:x");
        for bad in ["1234:abcd", "1234:abcd:", "12345:abcd:S", "1234:abcd:a/b", "1234:abcd:.hidden", "1234:abcd:a b"] {
            assert!(UsbBinding::parse(bad).is_err(), "{bad}");
        }
    }
}
