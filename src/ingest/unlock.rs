//! Before the storage: a recorder that wants a password before it shows its storage (the
//! `ambarella` adapter) is logged in to and told to switch to disk mode, once per docking,
//! with everything in the custody log (`recorder_login`, `storage_mode_set`) and in the
//! status view. The storage that then appears is ingested like any other volume.
//!
//! Runs on a blocking thread, one call per arrival of such a recorder on the USB bus.
//! Must never: talk to a recorder that is not bound to a registered recorder (R1); log in
//! twice for one docking (a wrong password is reported, not retried: a camera may lock
//! itself after a few); send disk mode after a refused login; log or show a password.

use std::sync::Mutex;

use serde_json::json;

use crate::catalog::{Catalog, UsbBinding};
use crate::config::{Config, UsbModel};
use crate::custody::event::Action;
use crate::dock::usb::UsbDevice;
use crate::recorder::adapter::ambarella::{self, Control, ControlError, UnlockError};
use crate::recorder::adapter::credentials;

use super::progress::{Phase, Progress};

/// How an unlock ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlocked {
    /// Disk mode requested: the storage should appear.
    StorageRequested,
    /// Not attempted (no binding, no password, no serial), with why.
    NotAttempted(String),
    /// The recorder refused the password.
    WrongPassword,
    /// Talking to it failed (gone, USB error), with why.
    Failed(String),
}

/// The name under which an unlock shows in the status view.
pub fn status_name(device: &UsbDevice) -> String {
    format!("usb:{}", device.serial.clone().unwrap_or_else(|| format!("{}-{}", device.bus, device.address)))
}

/// Logs in to `device` (of `model`, an `ambarella` model) and asks for disk mode, through
/// `open` (the real USB device, or a simulated camera).
pub fn unlock(
    config: &Config,
    catalog: &Mutex<Catalog>,
    progress: &Progress,
    device: &UsbDevice,
    model: &UsbModel,
    open: impl FnOnce() -> Result<Box<dyn Control>, ControlError>,
) -> Unlocked {
    let event = |subject: &str, action: Action, details: serde_json::Value| {
        let result = catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner).event(action, subject, details);
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot write the custody log");
        }
    };
    let id = device.id();
    let say = |phase: Phase, message: String| {
        progress.update(|s| {
            s.phase = phase;
            s.message = message;
        });
    };
    let Some(usb_serial) = device.serial.clone() else {
        let why = format!(
            "{id} ({}) has no USB serial: it cannot be matched to the device registry, so it is not logged in to / 设备无USB序列号，无法与登记信息对应，未登录",
            model.name
        );
        event(
            &status_name(device),
            Action::RecorderLogin,
            json!({ "usb": id, "outcome": "not_attempted", "reason": why }),
        );
        say(Phase::NotARecorder, why.clone());
        return Unlocked::NotAttempted(why);
    };
    let binding =
        UsbBinding { vendor_id: model.vendor_id, product_id: model.product_id, usb_serial: usb_serial.clone() };
    let bound = catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner).bound_device(&binding);
    let bound = match bound {
        Ok(Some(b)) => b,
        Ok(None) => {
            let why = format!(
                "USB {binding} ({}) is not bound to a registered recorder: not logged in to, nothing read or written; \
                 register it with `evidock device register SERIAL --officer-id ID --usb {binding}` / \
                 记录仪未登记绑定，未登录、未读写",
                model.name
            );
            event(
                &format!("usb:{usb_serial}"),
                Action::RecorderLogin,
                json!({ "usb": binding.to_string(), "outcome": "not_attempted", "reason": why }),
            );
            say(Phase::NotARecorder, why.clone());
            return Unlocked::NotAttempted(why);
        }
        Err(e) => {
            let why = format!("the catalogue failed: {e}");
            say(Phase::Attention, why.clone());
            return Unlocked::Failed(why);
        }
    };
    progress.update(|s| s.serial = Some(bound.serial.clone()));
    let subject = format!("device:{}", bound.serial);
    let base = json!({ "usb": binding.to_string(), "serial": bound.serial, "model": model.name });
    let with = |mut v: serde_json::Value, extra: serde_json::Value| {
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        v
    };
    let file = credentials::path(config.usb.credentials.as_deref());
    let (password, scope) = match credentials::password(&file, model.vendor_id, model.product_id, &usb_serial) {
        Ok(p) => p,
        Err(e) => {
            let why = format!("{e}: not logged in to, nothing read or written");
            event(&subject, Action::RecorderLogin, with(base, json!({ "outcome": "not_attempted", "reason": why })));
            say(Phase::Attention, why.clone());
            return Unlocked::NotAttempted(why);
        }
    };
    say(Phase::Identifying, format!("logging in to {} {} / 正在登录记录仪", model.name, bound.serial));
    let mut control = match open() {
        Ok(c) => c,
        Err(e) => {
            let why = format!("cannot open USB {binding}: {e} / 无法打开USB设备");
            event(&subject, Action::RecorderLogin, with(base, json!({ "outcome": "failed", "reason": why })));
            say(Phase::Attention, why.clone());
            return Unlocked::Failed(why);
        }
    };
    let result = ambarella::unlock(control.as_mut(), &password);
    drop(password);
    let login_accepted = match &result {
        Ok(_) => true,
        Err(UnlockError::Transfer { step, .. }) => step.starts_with("disk mode"),
        Err(_) => false,
    };
    let login = match &result {
        Ok(_) => json!({ "outcome": "accepted", "password_source": scope.as_str() }),
        Err(_) if login_accepted => json!({ "outcome": "accepted", "password_source": scope.as_str() }),
        Err(UnlockError::WrongPassword) => json!({ "outcome": "refused", "password_source": scope.as_str(),
            "reason": "wrong password: nothing read or written; not tried again until the recorder is docked again" }),
        Err(e) => json!({ "outcome": "failed", "password_source": scope.as_str(), "reason": e.to_string() }),
    };
    event(&subject, Action::RecorderLogin, with(base.clone(), login));
    match result {
        Ok(acknowledged) => {
            event(
                &subject,
                Action::StorageModeSet,
                with(base, json!({ "outcome": "requested", "command": "disk mode", "acknowledged": acknowledged })),
            );
            say(
                Phase::Identifying,
                format!(
                    "{} {}: disk mode requested, waiting for its storage / 已切换为存储模式，等待存储设备出现",
                    model.name, bound.serial
                ),
            );
            Unlocked::StorageRequested
        }
        Err(UnlockError::WrongPassword) => {
            say(Phase::Attention, format!("{} {}: {}", model.name, bound.serial, UnlockError::WrongPassword));
            Unlocked::WrongPassword
        }
        Err(e) if login_accepted => {
            let why = if e.gone() {
                "unplugged between login and disk mode: nothing read or written; dock it again / 登录后、切换存储模式前被拔出：未读写，请重新接入".to_string()
            } else {
                format!("{e}: nothing read or written; dock it again")
            };
            event(
                &subject,
                Action::StorageModeSet,
                with(base, json!({ "outcome": "failed", "command": "disk mode", "reason": why })),
            );
            say(Phase::Attention, format!("{} {}: {why}", model.name, bound.serial));
            Unlocked::Failed(why)
        }
        Err(e) => {
            let why = format!("{e}: nothing read or written");
            say(Phase::Attention, format!("{} {}: {why}", model.name, bound.serial));
            Unlocked::Failed(why)
        }
    }
}
