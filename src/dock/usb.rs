//! USB hotplug: arrivals and departures of known recorder models (by vendor and product id,
//! from the configuration), with their USB serial, reported to the daemon.
//!
//! Runs libusb's event loop on its own thread. Without hotplug support it falls back to
//! enumerating the bus periodically; without a USB bus at all (a container, a virtual
//! machine without a controller) it reports [`DockEvent::UsbUnavailable`] once and ends:
//! the daemon keeps working on folders. Only devices of listed models are ever opened, and
//! only to read their serial string.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusb::UsbContext;
use tokio::sync::mpsc::Sender;

use crate::config::UsbModel;

use super::DockEvent;

/// A recorder seen on the bus.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UsbDevice {
    /// Bus number.
    pub bus: u8,
    /// Address on the bus.
    pub address: u8,
    /// Vendor id.
    pub vendor_id: u16,
    /// Product id.
    pub product_id: u16,
    /// The USB serial string, when the device could be opened (udev grants the service
    /// user access to listed models); it names the volume folder under the dock root.
    pub serial: Option<String>,
    /// Model name from the configuration.
    pub model: String,
    /// Reported by a simulated bus (tests, the demo), not by libusb.
    pub simulated: bool,
    /// It shows a USB mass-storage interface (a recorder in storage mode); a recorder that
    /// wants a login first (`ambarella`) shows none until it is told to.
    pub storage: bool,
}

impl UsbDevice {
    /// `vvvv:pppp`.
    pub fn id(&self) -> String {
        format!("{:04x}:{:04x}", self.vendor_id, self.product_id)
    }
}

fn describe<T: UsbContext>(device: &rusb::Device<T>, models: &[UsbModel], read_serial: bool) -> Option<UsbDevice> {
    let desc = device.device_descriptor().ok()?;
    let model = models.iter().find(|m| m.vendor_id == desc.vendor_id() && m.product_id == desc.product_id())?;
    let serial = if read_serial { serial_of(device, &desc) } else { None };
    // Interface class 8: USB mass storage.
    let storage = device
        .active_config_descriptor()
        .or_else(|_| device.config_descriptor(0))
        .is_ok_and(|c| c.interfaces().any(|i| i.descriptors().any(|d| d.class_code() == 8)));
    Some(UsbDevice {
        bus: device.bus_number(),
        address: device.address(),
        vendor_id: desc.vendor_id(),
        product_id: desc.product_id(),
        serial,
        model: model.name.clone(),
        simulated: false,
        storage,
    })
}

/// How long an arrival waits for udev to give the service access to the device node.
const ACCESS_WAIT: Duration = Duration::from_secs(3);

/// The device's USB serial string. libusb reports an arrival as soon as the kernel announces
/// it, before udev has applied the rules that give the service user access to the node
/// (70-evidock.rules): "access denied" is retried for a few seconds.
fn serial_of<T: UsbContext>(device: &rusb::Device<T>, desc: &rusb::DeviceDescriptor) -> Option<String> {
    let until = Instant::now() + ACCESS_WAIT;
    loop {
        match device.open() {
            Ok(h) => return h.read_serial_number_string_ascii(desc).ok(),
            Err(rusb::Error::Access) if Instant::now() < until => std::thread::sleep(Duration::from_millis(100)),
            Err(_) => return None,
        }
    }
}

/// Cameras of the simulated bus that want a login ([`simulated`]), by USB serial.
static SIMULATED_CAMERAS: std::sync::Mutex<
    std::collections::BTreeMap<String, crate::recorder::adapter::ambarella::FakeCamera>,
> = std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The simulated camera with this USB serial, to talk to as to a real one.
pub fn simulated_camera(serial: &str) -> Option<crate::recorder::adapter::ambarella::FakeCamera> {
    SIMULATED_CAMERAS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(serial).cloned()
}

/// The devices of a simulated bus, for tests and the demo: `VVVV:PPPP:SERIAL` entries separated
/// by commas, each a recorder showing its storage; `VVVV:PPPP:SERIAL@PASSWORD` is a camera
/// that shows none until it is logged in to with that password and told to (Ambarella's
/// disk mode, answered by [`crate::recorder::adapter::ambarella::FakeCamera`]). Ids of no
/// configured model are left out, as the real watch leaves them out.
///
/// # Errors
/// On an entry of another shape.
pub fn simulated(spec: &str, models: &[UsbModel]) -> Result<Vec<UsbDevice>, String> {
    let mut out = Vec::new();
    for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (entry, password) = match entry.rsplit_once('@') {
            Some((e, p)) => (e, Some(p)),
            None => (entry, None),
        };
        let b = crate::catalog::UsbBinding::parse(entry)?;
        if let Some(p) = password {
            SIMULATED_CAMERAS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(b.usb_serial.clone(), crate::recorder::adapter::ambarella::FakeCamera::new(p));
        }
        let Some(model) = models.iter().find(|m| {
            (m.vendor_id, m.product_id) == (b.vendor_id, b.product_id)
                || m.profile.storage_id == Some((b.vendor_id, b.product_id))
        }) else {
            continue;
        };
        out.push(UsbDevice {
            bus: 0,
            address: out.len() as u8 + 1,
            vendor_id: b.vendor_id,
            product_id: b.product_id,
            serial: Some(b.usb_serial),
            model: model.name.clone(),
            simulated: true,
            storage: password.is_none(),
        });
    }
    Ok(out)
}

struct Callback {
    tx: std::sync::mpsc::Sender<(bool, rusb::Device<rusb::Context>)>,
}

impl rusb::Hotplug<rusb::Context> for Callback {
    fn device_arrived(&mut self, device: rusb::Device<rusb::Context>) {
        // No I/O inside libusb's callback: the loop below reads the serial.
        let _ = self.tx.send((true, device));
    }
    fn device_left(&mut self, device: rusb::Device<rusb::Context>) {
        let _ = self.tx.send((false, device));
    }
}

/// Starts the USB watcher thread. It stops when `stop` is set.
pub fn spawn(
    models: Vec<UsbModel>,
    poll: Duration,
    tx: Sender<DockEvent>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("evidock-usb".into())
        .spawn(move || run(&models, poll, &tx, &stop))
        .expect("spawning a thread")
}

fn run(models: &[UsbModel], poll: Duration, tx: &Sender<DockEvent>, stop: &AtomicBool) {
    let context = match rusb::Context::new() {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.blocking_send(DockEvent::UsbUnavailable(format!("no USB bus ({e}); watching folders only")));
            return;
        }
    };
    let (cb_tx, cb_rx) = std::sync::mpsc::channel();
    let registration = rusb::HotplugBuilder::new().enumerate(true).register(&context, Box::new(Callback { tx: cb_tx }));
    match registration {
        Ok(_registration) => {
            // `_registration` lives until this arm returns: the callback stays registered.
            let mut present: BTreeSet<UsbDevice> = BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = context.handle_events(Some(Duration::from_millis(250))) {
                    let _ = tx.blocking_send(DockEvent::UsbUnavailable(format!("USB event loop failed: {e}")));
                    return;
                }
                while let Ok((arrived, device)) = cb_rx.try_recv() {
                    if arrived {
                        if let Some(d) = describe(&device, models, true) {
                            present.insert(d.clone());
                            if tx.blocking_send(DockEvent::UsbArrived(d)).is_err() {
                                return;
                            }
                        }
                    } else {
                        let gone: Vec<UsbDevice> = present
                            .iter()
                            .filter(|d| d.bus == device.bus_number() && d.address == device.address())
                            .cloned()
                            .collect();
                        for d in gone {
                            present.remove(&d);
                            if tx.blocking_send(DockEvent::UsbDeparted(d)).is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        }
        Err(_) => poll_loop(&context, models, poll, tx, stop),
    }
}

/// Without hotplug: enumerate every `poll` and report the difference.
fn poll_loop(context: &rusb::Context, models: &[UsbModel], poll: Duration, tx: &Sender<DockEvent>, stop: &AtomicBool) {
    let mut present: BTreeSet<UsbDevice> = BTreeSet::new();
    while !stop.load(Ordering::Relaxed) {
        let now: BTreeSet<UsbDevice> = match context.devices() {
            Ok(list) => list.iter().filter_map(|d| describe(&d, models, true)).collect(),
            Err(e) => {
                let _ = tx.blocking_send(DockEvent::UsbUnavailable(format!("cannot enumerate USB devices: {e}")));
                return;
            }
        };
        for d in now.difference(&present) {
            if tx.blocking_send(DockEvent::UsbArrived(d.clone())).is_err() {
                return;
            }
        }
        for d in present.difference(&now) {
            if tx.blocking_send(DockEvent::UsbDeparted(d.clone())).is_err() {
                return;
            }
        }
        present = now;
        let until = Instant::now() + poll;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
