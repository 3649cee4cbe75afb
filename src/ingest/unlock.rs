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

/// One SDK session at a time: vendor libraries are not known to talk to two recorders at once.
static SDK: Mutex<()> = Mutex::new(());

/// Talks to `device` (of `model`, a `gat947-sdk` model) through its vendor library, in a
/// helper process (`exe sdk-helper`): identity, battery, clock, the clock set, and the switch
/// to storage. Returns what it found when the recorder switched to storage.
pub fn sdk_session(
    config: &Config,
    catalog: &Mutex<Catalog>,
    progress: &Progress,
    device: &UsbDevice,
    model: &UsbModel,
    exe: &std::path::Path,
) -> Option<crate::recorder::adapter::gat947::SdkSession> {
    use crate::recorder::adapter::gat947::{self, SdkSession};
    use crate::recorder::adapter::model::PasswordSource;
    let event = |subject: &str, action: Action, details: serde_json::Value| {
        let result = catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner).event(action, subject, details);
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot write the custody log");
        }
    };
    let say = |phase: Phase, message: String| {
        progress.update(|s| {
            s.phase = phase;
            s.message = message;
        });
    };
    let id = device.id();
    let library = model.profile.library.clone()?;
    let Some(usb_serial) = device.serial.clone() else {
        let why = format!(
            "{id} ({}) has no USB serial: its storage could not be matched to what the SDK reads, so the SDK is not called / 设备无USB序列号，未调用厂商接口",
            model.name
        );
        event(
            &status_name(device),
            Action::RecorderLogin,
            json!({ "usb": id, "outcome": "not_attempted", "reason": why }),
        );
        say(Phase::Attention, why);
        return None;
    };
    let subject = format!("usb:{usb_serial}");
    let base =
        json!({ "usb": format!("{id}:{usb_serial}"), "model": model.name, "library": library.display().to_string() });
    let with = |extra: serde_json::Value| {
        let mut v = base.clone();
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        v
    };
    let (password, scope) = match model.profile.password {
        PasswordSource::None => (String::new(), "none"),
        PasswordSource::Credentials => {
            let file = credentials::path(config.usb.credentials.as_deref());
            match credentials::password(&file, model.vendor_id, model.product_id, &usb_serial) {
                Ok((p, scope)) => (p.expose().to_string(), scope.as_str()),
                Err(e) => {
                    let why = format!("{e}: the SDK is not called, nothing read or written");
                    event(&subject, Action::RecorderLogin, with(json!({ "outcome": "not_attempted", "reason": why })));
                    say(Phase::Attention, why);
                    return None;
                }
            }
        }
    };
    say(Phase::Identifying, format!("{} {usb_serial}: asking the vendor SDK / 正在通过厂商接口读取记录仪", model.name));
    let request = gat947::Request {
        library: library.clone(),
        password,
        set_clock: config.ingest.set_clock,
        timezone: config.timezone.name().to_string(),
    };
    let result = {
        let _one = SDK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        gat947::call(exe, &request, std::time::Duration::from_secs(config.usb.sdk_timeout_s))
    };
    drop(request);
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let why = e.to_string();
            event(&subject, Action::RecorderLogin, with(json!({ "outcome": "failed", "reason": why })));
            say(Phase::Attention, format!("{} {usb_serial}: {why}", model.name));
            return None;
        }
    };
    let calls: Vec<String> =
        report.steps.iter().map(|s| format!("{} -> {} (iRet {})", s.call, s.ret, s.iret)).collect();
    let failure = match (&report.load_error, report.connected, report.password.as_deref()) {
        (Some(e), ..) => Some(("failed", format!("{e} / 无法加载厂商库"))),
        (None, false, _) => Some(("failed", "Init_Device could not connect to the recorder / 无法连接记录仪".to_string())),
        (None, true, Some("refused")) => Some((
            "refused",
            "the recorder refused the password (wrong password): nothing was read or written; correct it in the credentials file and dock the recorder again / 记录仪密码错误：未读写任何数据；请在凭据文件中改正密码后重新接入".to_string(),
        )),
        (None, true, Some("accepted")) => None,
        _ => Some(("failed", "GetZFYInfo failed / 读取记录仪信息失败".to_string())),
    };
    if let Some((outcome, why)) = failure {
        event(
            &subject,
            Action::RecorderLogin,
            with(json!({ "outcome": outcome, "password_source": scope, "reason": why, "calls": calls })),
        );
        say(Phase::Attention, format!("{} {usb_serial}: {why}", model.name));
        return None;
    }
    let serial = report.info.as_ref().map(|i| i.serial.clone());
    progress.update(|s| s.serial = serial.clone());
    event(
        &subject,
        Action::RecorderLogin,
        with(json!({
            "outcome": "accepted", "password_source": scope, "serial": serial, "id_code": report.id_code,
            "identity_error": report.info_error, "battery_percent": report.battery, "device_clock": report.clock,
            "drift_s": report.drift_s, "clock_set": report.clock_set, "resolution": report.resolution, "calls": calls,
        })),
    );
    event(
        &subject,
        Action::StorageModeSet,
        with(json!({ "outcome": if report.storage { "requested" } else { "failed" }, "command": "SetMSDC" })),
    );
    if !report.storage {
        say(
            Phase::Attention,
            format!("{} {usb_serial}: SetMSDC failed: its storage cannot be read; dock it again / 切换存储模式失败，请重新接入", model.name),
        );
        return None;
    }
    say(
        Phase::Identifying,
        format!(
            "{} {usb_serial}: switched to storage, waiting for it / 已切换为存储模式，等待存储设备出现",
            model.name
        ),
    );
    Some(SdkSession { library, report })
}
