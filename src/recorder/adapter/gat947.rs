//! Recorders whose vendor ships a GA/T 947.4 SDK: a shared library with the standard
//! functions (行标要求函数), loaded at run time (never linked at build time) inside a helper
//! process (`evidock sdk-helper`), so that a vendor library that crashes or hangs takes only
//! the helper down: the daemon reports it and goes on.
//!
//! The functions, as the public wrappers of these SDKs declare them (C calling convention;
//! every call returns 1 on success, 0 on failure, and writes a status to `iRet`):
//!
//! | function | use |
//! |---|---|
//! | `int Init_Device(char *IDCode, int *iRet)` | connect; `IDCode` out (required) |
//! | `int GetIDCode(char *IDCode, int *iRet)` | manufacturer and model code (optional) |
//! | `int GetZFYInfo(ZFY_INFO *info, char *sPwd, int *iRet)` | identity; checks the password (required) |
//! | `int ReadDeviceBatteryDumpEnergy(int *Battery, char *sPwd, int *iRet)` | battery, percent (optional) |
//! | `int ReadDeviceResolution(int *Width, int *Height, char *sPwd, int *iRet)` | video resolution (optional) |
//! | `int SyncDevTime(char *sPwd, int *iRet)` | set the recorder's clock to the station's (optional) |
//! | `int SetMSDC(char *sPwd, int *iRet)` | switch to USB mass storage (required) |
//! | `void UnInit_Device(int *iRet)` | disconnect (optional) |
//! | `int ReadDevTime(char *sTime, char *sPwd, int *iRet)` | not in the standard list: the recorder's clock as `YYYY-MM-DD hh:mm:ss` in 20 bytes (optional; without it the clock is not read and times are unattested) |
//!
//! `iRet`: 1 connected, 2 connection failed, 3 password accepted, 4 password refused, 5 clock
//! set, 6 clock not set, 7 storage mode entered, 8 storage mode failed. `ZFY_INFO` is
//! `char cSerial[8]; char userNo[7]; char userName[33]; char unitNo[13]; char unitName[33];`,
//! NUL-terminated GBK text.
//!
//! Owns: decoding what the SDK returns ([`ZfyInfo::decode`]; pure), the helper's protocol
//! ([`Request`], [`Report`]), the helper itself ([`run_in_helper`]), the daemon's side
//! ([`call`]), and the adapter for the storage that appears afterwards ([`SdkAdapter`]).
//! Must never: load a vendor library into the daemon's own process; pass a password on a
//! command line or into a log.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::config::UsbModel;
use crate::recorder::format::{decode_text, Identity};

use super::{Adapter, AdapterError, AdapterKind, FootageLayout};

/// Bytes of `ZFY_INFO`.
pub const ZFY_INFO_LEN: usize = 8 + 7 + 33 + 13 + 33;

/// `iRet` values.
pub mod iret {
    /// Connected.
    pub const CONNECT_SUCCESS: i32 = 1;
    /// Connection failed.
    pub const CONNECT_FAILED: i32 = 2;
    /// Password accepted.
    pub const CHECK_PWD_SUCCESS: i32 = 3;
    /// Password refused.
    pub const CHECK_PWD_FAILED: i32 = 4;
    /// Clock set.
    pub const SET_SYSTEMTIME_SUCCESS: i32 = 5;
    /// Clock not set.
    pub const SET_SYSTEMTIME_FAILED: i32 = 6;
    /// Storage mode entered.
    pub const MSDC_SUCCESS: i32 = 7;
    /// Storage mode failed.
    pub const MSDC_FAILED: i32 = 8;
}

/// What `GetZFYInfo` says, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZfyInfo {
    /// `cSerial`, 7 characters.
    pub serial: String,
    /// `userNo`, the officer's badge, 6 characters.
    pub badge: String,
    /// `userName`.
    pub name: Option<String>,
    /// `unitNo`.
    pub unit_no: Option<String>,
    /// `unitName`.
    pub unit_name: Option<String>,
}

fn field(bytes: &[u8], name: &str) -> Result<String, String> {
    let end = bytes.iter().position(|b| *b == 0).ok_or_else(|| format!("{name} is not NUL-terminated"))?;
    let text = decode_text(&bytes[..end]).map_err(|_| format!("{name} is not valid GBK text"))?;
    if text.chars().any(char::is_control) {
        return Err(format!("{name} holds control characters"));
    }
    Ok(text.trim().to_string())
}

impl ZfyInfo {
    /// Decodes a `ZFY_INFO` exactly: every field NUL-terminated GBK, the serial 7 and the
    /// badge 6 characters `0-9 A-Z`.
    ///
    /// # Errors
    /// The first field that is not so, named.
    pub fn decode(b: &[u8; ZFY_INFO_LEN]) -> Result<ZfyInfo, String> {
        let serial = field(&b[0..8], "cSerial")?;
        let badge = field(&b[8..15], "userNo")?;
        let id = |s: &str, n: usize| s.len() == n && s.bytes().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
        if !id(&serial, 7) {
            return Err(format!("cSerial {serial:?} is not 7 characters 0-9 A-Z"));
        }
        if !id(&badge, 6) {
            return Err(format!("userNo {badge:?} is not 6 characters 0-9 A-Z"));
        }
        let opt = |s: String| Some(s).filter(|s| !s.is_empty());
        Ok(ZfyInfo {
            serial,
            badge,
            name: opt(field(&b[15..48], "userName")?),
            unit_no: opt(field(&b[48..61], "unitNo")?),
            unit_name: opt(field(&b[61..94], "unitName")?),
        })
    }
}

/// What the daemon asks of the helper (on its standard input: never on a command line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// The vendor library.
    pub library: PathBuf,
    /// The device password.
    pub password: String,
    /// Set the recorder's clock (`SyncDevTime`) when it is off or cannot be read.
    pub set_clock: bool,
    /// The station's time zone, for the drift.
    pub timezone: String,
}

/// One call made, and what it returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The function.
    pub call: String,
    /// Its return value.
    pub ret: i32,
    /// Its `iRet`.
    pub iret: i32,
}

/// What the helper found, as one JSON line on its standard output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Every call, in order.
    pub steps: Vec<Step>,
    /// A required function missing, or the library would not load.
    pub load_error: Option<String>,
    /// `Init_Device` connected.
    pub connected: bool,
    /// `GetIDCode`'s (or `Init_Device`'s) code.
    pub id_code: Option<String>,
    /// `accepted`, `refused` or `failed`.
    pub password: Option<String>,
    /// The identity.
    pub info: Option<ZfyInfo>,
    /// Why the identity could not be decoded.
    pub info_error: Option<String>,
    /// The recorder's clock as read (`ReadDevTime`), and its drift from the station's in seconds.
    pub clock: Option<String>,
    /// Device clock minus station clock, seconds.
    pub drift_s: Option<i64>,
    /// Battery, percent.
    pub battery: Option<u8>,
    /// Video resolution.
    pub resolution: Option<(u32, u32)>,
    /// `SyncDevTime`: `set`, `failed`, `not needed`, `not available`, `not asked`.
    pub clock_set: String,
    /// `SetMSDC` entered storage mode.
    pub storage: bool,
}

fn cstr(buf: &[u8]) -> String {
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    decode_text(&buf[..end]).unwrap_or_else(|_| String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// The helper's work, in its own process: loads the library, calls the functions, returns
/// what it found. Nothing but the report leaves the process.
pub fn run_in_helper(req: &Request) -> Report {
    use std::ffi::{c_char, c_int, c_void, CString};
    type FnCode = unsafe extern "C" fn(*mut c_char, *mut c_int) -> c_int;
    type FnInfo = unsafe extern "C" fn(*mut u8, *mut c_char, *mut c_int) -> c_int;
    type FnPwd = unsafe extern "C" fn(*mut c_char, *mut c_int) -> c_int;
    type FnInt = unsafe extern "C" fn(*mut c_int, *mut c_char, *mut c_int) -> c_int;
    type FnRes = unsafe extern "C" fn(*mut c_int, *mut c_int, *mut c_char, *mut c_int) -> c_int;
    type FnTime = unsafe extern "C" fn(*mut c_char, *mut c_char, *mut c_int) -> c_int;
    type FnUninit = unsafe extern "C" fn(*mut c_int);

    let mut r = Report { clock_set: "not asked".into(), ..Report::default() };
    let Ok(path) = CString::new(req.library.as_os_str().as_encoded_bytes()) else {
        r.load_error = Some("the library path holds a NUL byte".into());
        return r;
    };
    // SAFETY: loading a library runs its initialisers: that is the vendor's code, and it is
    // why this runs in a process of its own.
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        // SAFETY: dlerror returns a message owned by libc, or null.
        let msg = unsafe { libc::dlerror() };
        let why = if msg.is_null() {
            "dlopen failed".to_string()
        } else {
            // SAFETY: a NUL-terminated string from libc.
            unsafe { std::ffi::CStr::from_ptr(msg) }.to_string_lossy().into_owned()
        };
        r.load_error = Some(format!("cannot load {}: {why}", req.library.display()));
        return r;
    }
    let sym = |name: &str| -> *mut c_void {
        let n = CString::new(name).expect("symbol names have no NUL");
        // SAFETY: looking a symbol up in a loaded library.
        unsafe { libc::dlsym(handle, n.as_ptr()) }
    };
    macro_rules! function {
        ($name:literal, $ty:ty) => {{
            let p = sym($name);
            // SAFETY: the symbol is the standard function of that name, with the signature
            // the standard's wrappers declare.
            (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, $ty>(p) })
        }};
    }
    let init = function!("Init_Device", FnCode);
    let get_info = function!("GetZFYInfo", FnInfo);
    let set_msdc = function!("SetMSDC", FnPwd);
    let (Some(init), Some(get_info), Some(set_msdc)) = (init, get_info, set_msdc) else {
        r.load_error =
            Some(format!("{} lacks a required function (Init_Device, GetZFYInfo, SetMSDC)", req.library.display()));
        return r;
    };
    let get_code = function!("GetIDCode", FnCode);
    let battery = function!("ReadDeviceBatteryDumpEnergy", FnInt);
    let resolution = function!("ReadDeviceResolution", FnRes);
    let sync = function!("SyncDevTime", FnPwd);
    let read_time = function!("ReadDevTime", FnTime);
    let uninit = function!("UnInit_Device", FnUninit);

    let mut pwd: Vec<u8> = req.password.as_bytes().iter().copied().filter(|b| *b != 0).collect();
    pwd.push(0);
    let pwd_ptr = pwd.as_mut_ptr().cast::<c_char>();
    let step = |r: &mut Report, call: &str, ret: c_int, iret: c_int| {
        r.steps.push(Step { call: call.into(), ret, iret });
        ret == 1
    };

    let mut code = [0u8; 256];
    let mut i: c_int = 0;
    // SAFETY: a 256-byte buffer for the code and an int for iRet, as the function takes.
    let ret = unsafe { init(code[..255].as_mut_ptr().cast(), &mut i) };
    r.connected = step(&mut r, "Init_Device", ret, i) && i != iret::CONNECT_FAILED;
    if !r.connected {
        return r;
    }
    r.id_code = Some(cstr(&code)).filter(|s| !s.is_empty());
    if let Some(f) = get_code {
        let mut code = [0u8; 256];
        let mut i: c_int = 0;
        // SAFETY: as above.
        let ret = unsafe { f(code[..255].as_mut_ptr().cast(), &mut i) };
        if step(&mut r, "GetIDCode", ret, i) {
            r.id_code = Some(cstr(&code)).filter(|s| !s.is_empty()).or(r.id_code.take());
        }
    }
    let mut info = [0u8; ZFY_INFO_LEN];
    let mut i: c_int = 0;
    // SAFETY: a ZFY_INFO-sized buffer, the NUL-terminated password, an int.
    let ret = unsafe { get_info(info.as_mut_ptr(), pwd_ptr, &mut i) };
    let ok = step(&mut r, "GetZFYInfo", ret, i);
    if i == iret::CHECK_PWD_FAILED {
        r.password = Some("refused".into());
        return r;
    }
    if !ok {
        r.password = Some("failed".into());
        return r;
    }
    r.password = Some("accepted".into());
    match ZfyInfo::decode(&info) {
        Ok(d) => r.info = Some(d),
        Err(e) => r.info_error = Some(e),
    }
    if let Some(f) = battery {
        let mut b: c_int = -1;
        let mut i: c_int = 0;
        // SAFETY: ints and the password.
        let ret = unsafe { f(&mut b, pwd_ptr, &mut i) };
        if step(&mut r, "ReadDeviceBatteryDumpEnergy", ret, i) {
            r.battery = u8::try_from(b).ok().filter(|b| *b <= 100);
        }
    }
    if let Some(f) = resolution {
        let (mut w, mut h, mut i): (c_int, c_int, c_int) = (0, 0, 0);
        // SAFETY: ints and the password.
        let ret = unsafe { f(&mut w, &mut h, pwd_ptr, &mut i) };
        if step(&mut r, "ReadDeviceResolution", ret, i) {
            r.resolution = Some((u32::try_from(w).unwrap_or(0), u32::try_from(h).unwrap_or(0)));
        }
    }
    let tz: chrono_tz::Tz = req.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    if let Some(f) = read_time {
        let mut t = [0u8; 32];
        let mut i: c_int = 0;
        // SAFETY: a 32-byte buffer (20 are used), the password, an int.
        let ret = unsafe { f(t.as_mut_ptr().cast(), pwd_ptr, &mut i) };
        let now = chrono::Utc::now().with_timezone(&tz).naive_local();
        if step(&mut r, "ReadDevTime", ret, i) {
            if let Ok(clock) = NaiveDateTime::parse_from_str(&cstr(&t), "%Y-%m-%d %H:%M:%S") {
                r.clock = Some(crate::recorder::format::format_wall(clock));
                r.drift_s = Some((clock - now).num_seconds());
            }
        }
    }
    r.clock_set = match (req.set_clock, sync) {
        (false, _) => "not asked".into(),
        (true, None) => "not available".into(),
        (true, Some(_)) if r.drift_s == Some(0) => "not needed".into(),
        (true, Some(f)) => {
            let mut i: c_int = 0;
            // SAFETY: the password and an int.
            let ret = unsafe { f(pwd_ptr, &mut i) };
            if step(&mut r, "SyncDevTime", ret, i) && i != iret::SET_SYSTEMTIME_FAILED {
                "set".into()
            } else {
                "failed".into()
            }
        }
    };
    let mut i: c_int = 0;
    // SAFETY: the password and an int.
    let ret = unsafe { set_msdc(pwd_ptr, &mut i) };
    r.storage = step(&mut r, "SetMSDC", ret, i) && i != iret::MSDC_FAILED;
    if let Some(f) = uninit {
        let mut i: c_int = 0;
        // SAFETY: an int.
        unsafe { f(&mut i) };
    }
    r
}

/// Runs `evidock sdk-helper`: reads a [`Request`] from standard input, prints the [`Report`].
///
/// # Errors
/// When the request cannot be read or the report written.
pub fn helper_main() -> std::io::Result<()> {
    let mut text = String::new();
    std::io::stdin().take(64 * 1024).read_to_string(&mut text)?;
    let req: Request = serde_json::from_str(&text).map_err(std::io::Error::other)?;
    let report = run_in_helper(&req);
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &report).map_err(std::io::Error::other)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Why the helper gave no report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdkError {
    /// It could not be started.
    #[error("cannot start the SDK helper: {0}")]
    Start(String),
    /// It died from a signal: the vendor library crashed.
    #[error("the vendor library crashed the SDK helper (signal {signal}{}): the station goes on; nothing was read or written / 厂商库崩溃，工作站不受影响，未读写", name.map(|n| format!(", {n}")).unwrap_or_default())]
    Crashed {
        /// The signal.
        signal: i32,
        /// Its name.
        name: Option<&'static str>,
    },
    /// It did not finish in time and was killed.
    #[error("the vendor library did not answer within {0} s: the SDK helper was stopped / 厂商库无响应，已终止")]
    Timeout(u64),
    /// It ended without a report.
    #[error("the SDK helper ended without a report ({0})")]
    NoReport(String),
}

/// Runs the helper (`exe sdk-helper`) for `req`, killing it after `timeout`.
///
/// # Errors
/// When it cannot start, crashes, hangs or says nothing.
pub fn call(exe: &Path, req: &Request, timeout: Duration) -> Result<Report, SdkError> {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    let mut child = Command::new(exe)
        .arg("sdk-helper")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| SdkError::Start(e.to_string()))?;
    let body = serde_json::to_vec(req).map_err(|e| SdkError::Start(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&body);
    }
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.by_ref().take(1 << 20).read_to_end(&mut out);
        out
    });
    let until = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = reader.join();
                return Err(SdkError::Timeout(timeout.as_secs()));
            }
            Err(e) => return Err(SdkError::NoReport(e.to_string())),
        }
    };
    let out = reader.join().unwrap_or_default();
    if let Some(signal) = status.signal() {
        let name = nix::sys::signal::Signal::try_from(signal).ok().map(|s| s.as_str());
        return Err(SdkError::Crashed { signal, name });
    }
    serde_json::from_slice(&out).map_err(|_| SdkError::NoReport(format!("exit status {status}")))
}

/// What a session with the SDK found before the storage appeared, for the bay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkSession {
    /// The library.
    pub library: PathBuf,
    /// The report.
    pub report: Report,
}

/// The adapter for the storage of a recorder the SDK switched to mass storage: identity,
/// battery and clock as the SDK read them; its clock was set by the SDK (`SyncDevTime`)
/// before the switch; its footage is sealed at dock.
#[derive(Debug)]
pub struct SdkAdapter<'m> {
    model: &'m UsbModel,
    session: &'m SdkSession,
    dock_now: NaiveDateTime,
}

impl<'m> SdkAdapter<'m> {
    /// The adapter over what `session` found.
    pub fn new(model: &'m UsbModel, session: &'m SdkSession, dock_now: NaiveDateTime) -> SdkAdapter<'m> {
        SdkAdapter { model, session, dock_now }
    }
    fn info(&self) -> Result<&ZfyInfo, AdapterError> {
        self.session.report.info.as_ref().ok_or_else(|| AdapterError::BadIdentity {
            file: "ZFY_INFO (vendor SDK, GetZFYInfo)",
            source: crate::recorder::format::FormatError {
                line: 0,
                reason: self.session.report.info_error.clone().unwrap_or_else(|| "no identity".into()),
            },
        })
    }
}

impl Adapter for SdkAdapter<'_> {
    fn identify(&self) -> Result<Identity, AdapterError> {
        let i = self.info()?;
        let r = &self.session.report;
        Ok(Identity {
            serial: i.serial.clone(),
            badge: i.badge.clone(),
            officer_name: i.name.clone(),
            unit: i.unit_name.clone().or_else(|| i.unit_no.clone()),
            model: r.id_code.clone().unwrap_or_else(|| self.model.name.clone()),
            firmware: "-".into(),
            // The clock as it ran when the SDK read it, carried to now.
            clock: self.dock_now + chrono::Duration::seconds(r.drift_s.unwrap_or(0)),
            clock_utc_offset: None,
            clock_settable: r.clock_set != "not available",
            writes_chain: false,
            storage_free: None,
            storage_total: None,
            battery_percent: r.battery,
        })
    }

    fn read_clock(&self) -> Result<NaiveDateTime, AdapterError> {
        match self.session.report.drift_s {
            Some(d) => Ok(self.dock_now + chrono::Duration::seconds(d)),
            None => Err(AdapterError::NoClock { serial: self.info()?.serial.clone() }),
        }
    }

    fn set_clock(&self, _now: NaiveDateTime) -> Result<(), AdapterError> {
        match self.session.report.clock_set.as_str() {
            "set" | "not needed" => Ok(()),
            other => Err(AdapterError::Io {
                action: "setting the clock through the vendor SDK (SyncDevTime)",
                source: std::io::Error::other(other.to_string()),
            }),
        }
    }

    fn switch_to_storage(&self) -> Result<(), AdapterError> {
        Ok(())
    }

    fn kind(&self) -> AdapterKind {
        AdapterKind::Gat947Sdk
    }

    fn identity_source(&self) -> String {
        format!("vendor SDK {} (GetZFYInfo), model {}", self.session.library.display(), self.model.name)
    }

    fn clock_source(&self) -> Option<String> {
        self.session.report.drift_s.map(|_| "vendor SDK (ReadDevTime) at docking".to_string())
    }

    fn clock_applied(&self) -> &'static str {
        "at docking, through the vendor SDK (SyncDevTime), before the switch to storage"
    }

    fn layout(&self) -> Option<&FootageLayout> {
        self.model.profile.layout.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(serial: &[u8], badge: &[u8], name: &[u8], unit: &[u8]) -> [u8; ZFY_INFO_LEN] {
        let mut b = [0u8; ZFY_INFO_LEN];
        b[..serial.len()].copy_from_slice(serial);
        b[8..8 + badge.len()].copy_from_slice(badge);
        b[15..15 + name.len()].copy_from_slice(name);
        b[61..61 + unit.len()].copy_from_slice(unit);
        b
    }

    #[test]
    fn zfy_info_decodes_gbk_exactly_and_checks_the_ids() {
        let name = crate::recorder::format::encode_gbk("张三").unwrap();
        let unit = crate::recorder::format::encode_gbk("宜良县卫生健康局").unwrap();
        let d = ZfyInfo::decode(&info(b"A100001", b"012345", &name, &unit)).unwrap();
        assert_eq!(d.serial, "A100001");
        assert_eq!(d.badge, "012345");
        assert_eq!(d.name.as_deref(), Some("张三"));
        assert_eq!(d.unit_name.as_deref(), Some("宜良县卫生健康局"));
        assert_eq!(d.unit_no, None);
        assert!(ZfyInfo::decode(&info(b"a100001", b"012345", b"", b"")).unwrap_err().contains("cSerial"));
        assert!(ZfyInfo::decode(&info(b"A100001", b"01234", b"", b"")).unwrap_err().contains("userNo"));
        let mut bad = info(b"A100001", b"012345", &[0xff, 0xff], b"");
        assert!(ZfyInfo::decode(&bad).unwrap_err().contains("userName is not valid GBK"));
        bad = info(b"A100001", b"012345", b"", b"");
        bad[..8].copy_from_slice(b"A1000012");
        assert!(ZfyInfo::decode(&bad).unwrap_err().contains("not NUL-terminated"));
        assert_eq!(ZFY_INFO_LEN, 94);
    }

    #[test]
    fn a_library_that_is_not_there_or_lacks_the_functions_is_reported() {
        let req = |library: &str| Request {
            library: library.into(),
            password: "x".into(),
            set_clock: true,
            timezone: "Asia/Shanghai".into(),
        };
        let r = run_in_helper(&req("/nonexistent/libzfy.so"));
        assert!(r.load_error.unwrap().contains("cannot load"));
        assert!(r.steps.is_empty());
        // The C library is a library, but no recorder SDK.
        let r = run_in_helper(&req("libc.so.6"));
        assert!(r.load_error.unwrap().contains("lacks a required function"), "nothing called");
        assert!(r.steps.is_empty());
    }
}
