//! `device_register`, `device_retire`, `device_list`: the device registry (R1).

use serde::{Deserialize, Serialize};

use super::{ApiError, Ctx};
use crate::catalog::{Registration, UsbBinding};

/// Register a recorder, or change the officer it is assigned to (kept in its history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    /// Device serial, 7 characters 0-9 A-Z.
    pub serial: String,
    /// Assigned officer's number (警号 / 执法证号).
    pub officer_id: String,
    /// Officer's name.
    #[serde(default)]
    pub officer_name: Option<String>,
    /// Officer's unit.
    #[serde(default)]
    pub unit: Option<String>,
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// USB devices that are this recorder, `VVVV:PPPP:SERIAL`.
    #[serde(default)]
    pub usb: Vec<String>,
}

/// The registration done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// Device serial.
    pub serial: String,
    /// The officer it is assigned to.
    pub officer_id: String,
    /// The USB devices bound to it by this request, `vvvv:pppp:SERIAL`.
    pub usb: Vec<String>,
}

/// Retire a recorder from service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retire {
    /// Device serial.
    pub serial: String,
    /// Why (required).
    pub reason: String,
}

/// The retirement done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retired {
    /// Device serial.
    pub serial: String,
}

/// `device_list` takes no arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {}

/// One registered recorder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Device serial.
    pub serial: String,
    /// Model.
    pub model: Option<String>,
    /// Assigned officer's number.
    pub officer_id: String,
    /// Officer's name.
    pub officer_name: Option<String>,
    /// Officer's unit.
    pub unit: Option<String>,
    /// When registered (UTC, RFC 3339).
    pub registered: String,
    /// When retired, if retired.
    pub retired: Option<String>,
    /// Assignments, oldest first.
    pub history: Vec<Assignment>,
    /// USB devices bound to it, `vvvv:pppp:SERIAL`.
    pub usb: Vec<String>,
}

/// One assignment of a recorder to an officer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Officer's number.
    pub officer_id: String,
    /// Officer's name.
    pub officer_name: Option<String>,
    /// Officer's unit.
    pub unit: Option<String>,
    /// Since when (UTC, RFC 3339).
    pub since: String,
}

/// A USB binding as written (`VVVV:PPPP:SERIAL`), checked and in the station's own spelling
/// (`vvvv:pppp:SERIAL`), for a front end to check before it sends a request.
///
/// # Errors
/// What is wrong with it.
pub fn usb_binding(s: &str) -> Result<String, String> {
    UsbBinding::parse(s).map(|b| b.to_string())
}

/// Registers a recorder and binds its USB devices; each change is its custody event
/// (`device_registered`, and one more naming each USB binding).
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for a bad serial or USB binding (checked before anything is
/// written), [`super::ErrorKind::Failed`] when the catalogue fails.
pub fn register(ctx: &Ctx<'_>, a: &Register) -> Result<Registered, ApiError> {
    let usb = a
        .usb
        .iter()
        .map(|u| UsbBinding::parse(u).map_err(|e| ApiError::invalid(format!("usb {u:?}: {e} / USB设备标识不正确"))))
        .collect::<Result<Vec<_>, _>>()?;
    let mut catalog = ctx.catalog()?;
    catalog.register_device(&Registration {
        serial: a.serial.clone(),
        model: a.model.clone(),
        officer_id: a.officer_id.clone(),
        officer_name: a.officer_name.clone(),
        unit: a.unit.clone(),
    })?;
    for b in &usb {
        catalog.bind_usb(&a.serial, b)?;
    }
    Ok(Registered {
        serial: a.serial.clone(),
        officer_id: a.officer_id.clone(),
        usb: usb.iter().map(ToString::to_string).collect(),
    })
}

/// Retires a recorder (`device_retired`).
///
/// # Errors
/// [`super::ErrorKind::NotFound`] for a recorder never registered,
/// [`super::ErrorKind::Conflict`] for one already retired, [`super::ErrorKind::Invalid`]
/// without a reason.
pub fn retire(ctx: &Ctx<'_>, a: &Retire) -> Result<Retired, ApiError> {
    let mut catalog = ctx.catalog()?;
    match catalog.registry_row(&a.serial)? {
        None => return Err(ApiError::not_found(format!("recorder {} is not registered / 记录仪未登记", a.serial))),
        Some((_, Some(when))) => {
            return Err(ApiError::conflict(format!(
                "recorder {} was already retired on {when} / 记录仪已停用",
                a.serial
            )))
        }
        Some(_) => {}
    }
    catalog.retire_device(&a.serial, &a.reason)?;
    Ok(Retired { serial: a.serial.clone() })
}

/// The registry, by serial.
///
/// # Errors
/// [`super::ErrorKind::Failed`] when the catalogue fails.
pub fn list(ctx: &Ctx<'_>, _a: &ListArgs) -> Result<Vec<Device>, ApiError> {
    let catalog = ctx.catalog()?;
    let mut out = Vec::new();
    for e in catalog.registry()? {
        let r = e.registration;
        let usb = catalog.usb_bindings(&r.serial)?.iter().map(ToString::to_string).collect();
        out.push(Device {
            history: e
                .history
                .into_iter()
                .map(|(officer_id, officer_name, unit, since)| Assignment { officer_id, officer_name, unit, since })
                .collect(),
            serial: r.serial,
            model: r.model,
            officer_id: r.officer_id,
            officer_name: r.officer_name,
            unit: r.unit,
            registered: e.registered,
            retired: e.retired,
            usb,
        });
    }
    Ok(out)
}
