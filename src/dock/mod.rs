//! The edges that notice dockings: the dock-root watch ([`watch`]), USB hotplug ([`usb`]),
//! and safe access to a docked volume ([`volume`]); and the udev rules that mount recorders
//! for them, generated from the model table ([`udev`]).
//!
//! Edges are level-triggered: their events are hints, and the daemon rescans the dock root
//! after each one (and periodically), so a missed or coalesced event loses nothing.
//! Must never: decide anything about custody; they only report what they see.

pub mod udev;
pub mod usb;
pub mod volume;
pub mod watch;

/// A hint or report from an edge, delivered to the daemon's event loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockEvent {
    /// Something changed under the dock root: rescan it.
    Rescan,
    /// A known recorder model appeared on the USB bus.
    UsbArrived(usb::UsbDevice),
    /// A known recorder model left the USB bus.
    UsbDeparted(usb::UsbDevice),
    /// No USB bus, or it cannot be watched; the daemon goes on with folders alone.
    UsbUnavailable(String),
    /// The dock-root watch failed; the daemon falls back to periodic rescans.
    WatchFailed(String),
}
