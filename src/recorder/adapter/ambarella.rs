//! Ambarella A9 body cameras (USB `4255:0001`): before their storage appears they want a
//! password login and a "disk mode" command, both USB vendor control transfers on endpoint 0.
//!
//! - Login: OUT, request type `0x40` (vendor, device), request 85, value `0x0080`, index 0,
//!   64 bytes: `a1 12 00 12`, then the password's ASCII bytes, zero-padded. Then IN, request
//!   type `0xC0`, request 85, value `0x0080`, index 0, 10 bytes: byte 2 is 1 when the password
//!   was accepted.
//! - Disk mode: OUT `0x40`, request 80, value `0x0080`, index 0, 64 bytes `a1 23 00 23`,
//!   zero-padded; then the same IN read. The camera then leaves the bus and comes back as a
//!   USB disk (same serial) with its footage under `DCIM/`, which udev mounts and the daemon
//!   ingests with the `ambarella` adapter (identity from the device registry's USB binding,
//!   like a `mass-storage` recorder).
//!
//! Owns: the encoding of those transfers ([`login_packet`], [`DISK_MODE_PACKET`],
//! [`read_reply`]; pure), the exchange over any [`Control`] ([`unlock`]), and the `rusb`
//! transport ([`UsbControl`]).
//! Must never: send disk mode after a refused login, send a login twice in one exchange, or
//! let a password reach a log line or an error.

use std::time::Duration;

use super::credentials::Secret;

/// Vendor request, host to device.
pub const OUT: u8 = 0x40;
/// Vendor request, device to host.
pub const IN: u8 = 0xC0;
/// The login request (and the reply read after both commands).
pub const LOGIN: u8 = 85;
/// The disk-mode request.
pub const DISK_MODE: u8 = 80;
/// `wValue` of every transfer.
pub const VALUE: u16 = 0x0080;
/// `wIndex` of every transfer.
pub const INDEX: u16 = 0;
/// Length of a command.
pub const PACKET: usize = 64;
/// Length of a reply.
pub const REPLY: usize = 10;
/// The login command's header.
pub const LOGIN_HEADER: [u8; 4] = [0xa1, 0x12, 0x00, 0x12];
/// The disk-mode command.
pub const DISK_MODE_PACKET: [u8; PACKET] = {
    let mut p = [0u8; PACKET];
    p[0] = 0xa1;
    p[1] = 0x23;
    p[2] = 0x00;
    p[3] = 0x23;
    p
};

/// One control transfer, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transfer {
    /// Host to device, with its data.
    Out {
        /// `bmRequestType`.
        request_type: u8,
        /// `bRequest`.
        request: u8,
        /// `wValue`.
        value: u16,
        /// `wIndex`.
        index: u16,
        /// The data stage.
        data: Vec<u8>,
    },
    /// Device to host, of `length` bytes.
    In {
        /// `bmRequestType`.
        request_type: u8,
        /// `bRequest`.
        request: u8,
        /// `wValue`.
        value: u16,
        /// `wIndex`.
        index: u16,
        /// `wLength`.
        length: u16,
    },
}

impl Transfer {
    fn out(request: u8, data: &[u8]) -> Transfer {
        Transfer::Out { request_type: OUT, request, value: VALUE, index: INDEX, data: data.to_vec() }
    }
    fn reply() -> Transfer {
        Transfer::In { request_type: IN, request: LOGIN, value: VALUE, index: INDEX, length: REPLY as u16 }
    }
}

/// A password the login command cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the password must be 1 to 60 printable ASCII characters (it is sent as its ASCII bytes)")]
pub struct BadPassword;

/// The login command for `password`.
///
/// # Errors
/// When the password is empty, longer than the 60 bytes left in the command, or not
/// printable ASCII.
pub fn login_packet(password: &Secret) -> Result<[u8; PACKET], BadPassword> {
    let p = password.expose().as_bytes();
    if p.is_empty() || p.len() > PACKET - LOGIN_HEADER.len() || !p.iter().all(u8::is_ascii_graphic) {
        return Err(BadPassword);
    }
    let mut out = [0u8; PACKET];
    out[..4].copy_from_slice(&LOGIN_HEADER);
    out[4..4 + p.len()].copy_from_slice(p);
    Ok(out)
}

/// What a reply says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Byte 2 is 1.
    Accepted,
    /// Byte 2 is anything else.
    Refused,
    /// Fewer than 3 bytes came back.
    Short(usize),
}

/// Reads a reply.
pub fn read_reply(bytes: &[u8]) -> Reply {
    match bytes.get(2) {
        Some(1) => Reply::Accepted,
        Some(_) => Reply::Refused,
        None => Reply::Short(bytes.len()),
    }
}

/// A failed transfer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The device left the bus.
    #[error("the recorder left the USB bus")]
    Gone,
    /// Anything else the USB stack reports.
    #[error("{0}")]
    Usb(String),
}

/// Control transfers to one device.
pub trait Control {
    /// Sends a transfer; an `In` transfer returns the bytes read, an `Out` nothing.
    ///
    /// # Errors
    /// When the transfer fails.
    fn transfer(&mut self, t: &Transfer) -> Result<Vec<u8>, ControlError>;
}

/// How an unlock ended badly. Never carries the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnlockError {
    /// The camera refused the password: nothing more was sent.
    #[error("the recorder refused the password (wrong password): nothing was read or written; correct it in the credentials file and dock the recorder again / 记录仪密码错误：未读写任何数据；请在凭据文件中改正密码后重新接入")]
    WrongPassword,
    /// The password cannot be sent.
    #[error("{0}")]
    BadPassword(#[from] BadPassword),
    /// A reply of fewer than 3 bytes.
    #[error("the recorder's reply to {step} was {len} bytes, too short to read / 记录仪应答异常")]
    ShortReply {
        /// Which command.
        step: &'static str,
        /// Bytes received.
        len: usize,
    },
    /// A transfer failed.
    #[error("{step}: {source} / 与记录仪通信失败")]
    Transfer {
        /// Which command.
        step: &'static str,
        /// The failure.
        source: ControlError,
    },
}

impl UnlockError {
    /// Whether the camera was gone when it failed (unplugged mid-way).
    pub fn gone(&self) -> bool {
        matches!(self, UnlockError::Transfer { source: ControlError::Gone, .. })
    }
}

/// Logs in with `password` and, only when the camera accepts it, sends disk mode. Returns
/// whether the camera acknowledged disk mode (some do not answer the read that follows,
/// because they have already left the bus: that is no failure).
///
/// # Errors
/// A refused password (nothing else is sent), a password that cannot be sent (nothing is
/// sent), or a failed transfer.
pub fn unlock(c: &mut dyn Control, password: &Secret) -> Result<bool, UnlockError> {
    let packet = login_packet(password)?;
    c.transfer(&Transfer::out(LOGIN, &packet)).map_err(|source| UnlockError::Transfer { step: "login", source })?;
    let reply =
        c.transfer(&Transfer::reply()).map_err(|source| UnlockError::Transfer { step: "login reply", source })?;
    match read_reply(&reply) {
        Reply::Accepted => {}
        Reply::Refused => return Err(UnlockError::WrongPassword),
        Reply::Short(len) => return Err(UnlockError::ShortReply { step: "login", len }),
    }
    c.transfer(&Transfer::out(DISK_MODE, &DISK_MODE_PACKET))
        .map_err(|source| UnlockError::Transfer { step: "disk mode", source })?;
    Ok(c.transfer(&Transfer::reply()).is_ok())
}

/// The `rusb` transport: one opened device.
pub struct UsbControl {
    handle: rusb::DeviceHandle<rusb::Context>,
    context: rusb::Context,
    at: (u8, u8),
    timeout: Duration,
}

fn usb_error(e: rusb::Error) -> ControlError {
    match e {
        rusb::Error::NoDevice | rusb::Error::NotFound => ControlError::Gone,
        e => ControlError::Usb(e.to_string()),
    }
}

impl UsbControl {
    /// Opens the device at `bus`/`address` with vendor and product id `id`, and selects its
    /// first configuration (as the camera's own tool does).
    ///
    /// # Errors
    /// When there is no USB bus, the device is gone, or it cannot be opened.
    pub fn open(bus: u8, address: u8, id: (u16, u16)) -> Result<UsbControl, ControlError> {
        use rusb::UsbContext;
        let context = rusb::Context::new().map_err(usb_error)?;
        let devices = context.devices().map_err(usb_error)?;
        let device = devices
            .iter()
            .find(|d| {
                d.bus_number() == bus
                    && d.address() == address
                    && d.device_descriptor().is_ok_and(|x| (x.vendor_id(), x.product_id()) == id)
            })
            .ok_or(ControlError::Gone)?;
        let handle = device.open().map_err(usb_error)?;
        if handle.active_configuration().map_err(usb_error)? != 1 {
            handle.set_active_configuration(1).map_err(usb_error)?;
        }
        Ok(UsbControl { handle, context, at: (bus, address), timeout: Duration::from_secs(3) })
    }

    /// A failed transfer from a device no longer on the bus is its departure (a camera pulled
    /// out mid-exchange fails with an I/O error or a timeout as often as with "no device").
    fn gone_or(&self, e: rusb::Error) -> ControlError {
        use rusb::UsbContext;
        // The bus takes a moment to report a departure.
        std::thread::sleep(Duration::from_millis(300));
        let present =
            self.context.devices().is_ok_and(|list| list.iter().any(|d| (d.bus_number(), d.address()) == self.at));
        if present {
            usb_error(e)
        } else {
            ControlError::Gone
        }
    }
}

impl Control for UsbControl {
    fn transfer(&mut self, t: &Transfer) -> Result<Vec<u8>, ControlError> {
        match t {
            Transfer::Out { request_type, request, value, index, data } => self
                .handle
                .write_control(*request_type, *request, *value, *index, data, self.timeout)
                .map(|_| Vec::new())
                .map_err(|e| self.gone_or(e)),
            Transfer::In { request_type, request, value, index, length } => {
                let mut buf = vec![0u8; usize::from(*length)];
                let n = self
                    .handle
                    .read_control(*request_type, *request, *value, *index, &mut buf, self.timeout)
                    .map_err(|e| self.gone_or(e))?;
                buf.truncate(n);
                Ok(buf)
            }
        }
    }
}

/// A camera that answers like an Ambarella A9 (the simulated bus of test builds, and the
/// unit tests): it accepts `password`, remembers every transfer, and refuses disk mode before
/// a login.
#[derive(Debug, Clone)]
pub struct FakeCamera {
    password: Vec<u8>,
    logged_in: Option<bool>,
    /// Whether disk mode was entered.
    pub disk_mode: bool,
    /// Every transfer received.
    pub seen: Vec<Transfer>,
    /// Fail every transfer after this many, as a camera pulled out mid-way.
    pub gone_after: Option<usize>,
}

impl FakeCamera {
    /// A camera with this password.
    pub fn new(password: &str) -> FakeCamera {
        FakeCamera {
            password: password.as_bytes().to_vec(),
            logged_in: None,
            disk_mode: false,
            seen: Vec::new(),
            gone_after: None,
        }
    }
}

impl Control for FakeCamera {
    fn transfer(&mut self, t: &Transfer) -> Result<Vec<u8>, ControlError> {
        if self.gone_after.is_some_and(|n| self.seen.len() >= n) {
            return Err(ControlError::Gone);
        }
        self.seen.push(t.clone());
        match t {
            Transfer::Out { request_type: OUT, request: LOGIN, value: VALUE, index: INDEX, data }
                if data.len() == PACKET && data[..4] == LOGIN_HEADER =>
            {
                let given: Vec<u8> = data[4..].iter().copied().take_while(|b| *b != 0).collect();
                self.logged_in = Some(given == self.password);
                Ok(Vec::new())
            }
            Transfer::Out { request_type: OUT, request: DISK_MODE, value: VALUE, index: INDEX, data }
                if data.as_slice() == DISK_MODE_PACKET.as_slice() =>
            {
                if self.logged_in == Some(true) {
                    self.disk_mode = true;
                    Ok(Vec::new())
                } else {
                    Err(ControlError::Usb("pipe error (stalled): not logged in".into()))
                }
            }
            Transfer::In { request_type: IN, request: LOGIN, value: VALUE, index: INDEX, length } => {
                let mut r = vec![0u8; usize::from(*length)];
                if let Some(b) = r.get_mut(2) {
                    *b = u8::from(self.logged_in == Some(true));
                }
                Ok(r)
            }
            _ => Err(ControlError::Usb("pipe error (stalled): unknown request".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_command_is_the_header_then_the_ascii_password_zero_padded() {
        let p = login_packet(&Secret::new("123456")).unwrap();
        assert_eq!(p.len(), 64);
        assert_eq!(&p[..10], &[0xa1, 0x12, 0x00, 0x12, b'1', b'2', b'3', b'4', b'5', b'6']);
        assert!(p[10..].iter().all(|b| *b == 0));
        // The hex text the camera's tool builds: "a1120012" + hex(password), padded to 128 digits.
        let hex: String = p.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, format!("{:0<128}", "a1120012313233343536"));
        assert_eq!(login_packet(&Secret::new("x".repeat(60))).unwrap()[63], b'x');
        for bad in ["", "密码", "with space", &"x".repeat(61)] {
            assert_eq!(login_packet(&Secret::new(bad)), Err(BadPassword), "{bad:?}");
        }
    }

    #[test]
    fn the_disk_mode_command_and_the_replies() {
        let hex: String = DISK_MODE_PACKET.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, format!("{:0<128}", "a1230023"));
        assert_eq!(read_reply(&[0, 0, 1, 0, 0, 0, 0, 0, 0, 0]), Reply::Accepted);
        assert_eq!(read_reply(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Reply::Refused);
        assert_eq!(read_reply(&[1, 1, 2]), Reply::Refused);
        assert_eq!(read_reply(&[1, 1]), Reply::Short(2));
    }

    #[test]
    fn a_good_password_logs_in_then_sends_disk_mode_exactly_as_documented() {
        let mut cam = FakeCamera::new("000000");
        assert_eq!(unlock(&mut cam, &Secret::new("000000")), Ok(true));
        assert!(cam.disk_mode);
        let mut login = vec![0xa1, 0x12, 0x00, 0x12];
        login.extend_from_slice(b"000000");
        login.resize(64, 0);
        let reply = Transfer::In { request_type: 0xC0, request: 85, value: 0x0080, index: 0, length: 10 };
        assert_eq!(
            cam.seen,
            vec![
                Transfer::Out { request_type: 0x40, request: 85, value: 0x0080, index: 0, data: login },
                reply.clone(),
                Transfer::Out {
                    request_type: 0x40,
                    request: 80,
                    value: 0x0080,
                    index: 0,
                    data: DISK_MODE_PACKET.to_vec()
                },
                reply,
            ]
        );
    }

    #[test]
    fn a_wrong_password_stops_after_the_login_reply() {
        let mut cam = FakeCamera::new("000000");
        let e = unlock(&mut cam, &Secret::new("654321")).unwrap_err();
        assert_eq!(e, UnlockError::WrongPassword);
        assert!(!cam.disk_mode);
        assert_eq!(cam.seen.len(), 2, "login and its reply, nothing else: {:?}", cam.seen);
        let text = e.to_string();
        assert!(text.contains("wrong password") && text.contains("密码错误") && !text.contains("654321"), "{text}");
        // A password the command cannot carry is not sent at all.
        let mut cam = FakeCamera::new("000000");
        assert!(matches!(unlock(&mut cam, &Secret::new("密码")), Err(UnlockError::BadPassword(_))));
        assert!(cam.seen.is_empty());
    }

    #[test]
    fn a_camera_pulled_out_between_login_and_disk_mode_is_reported_as_gone() {
        let mut cam = FakeCamera::new("000000");
        cam.gone_after = Some(2);
        let e = unlock(&mut cam, &Secret::new("000000")).unwrap_err();
        assert!(e.gone(), "{e:?}");
        assert!(matches!(e, UnlockError::Transfer { step: "disk mode", .. }));
        assert!(!cam.disk_mode);
    }
}
