//! systemd notifications (`sd_notify` protocol): readiness, status text, watchdog pings,
//! stopping. Without `$NOTIFY_SOCKET` every call does nothing.
//!
//! The socket is non-blocking: a service manager that stops reading can never stall the
//! daemon's event loop (a message that does not fit is dropped and logged at debug level).

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Mutex;
use std::time::Duration;

/// Talks to the service manager, when there is one.
#[derive(Debug)]
pub struct Notifier {
    socket: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
    last_status: Mutex<String>,
}

fn address(path: &str) -> Option<SocketAddr> {
    if let Some(name) = path.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        SocketAddr::from_abstract_name(name.as_bytes()).ok()
    } else if path.starts_with('/') {
        SocketAddr::from_pathname(path).ok()
    } else {
        None
    }
}

impl Notifier {
    /// Reads `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID`.
    pub fn from_env() -> Notifier {
        let socket = std::env::var("NOTIFY_SOCKET").ok().and_then(|p| address(&p)).and_then(|addr| {
            let s = UnixDatagram::unbound().ok()?;
            s.set_nonblocking(true).ok()?;
            Some((s, addr))
        });
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|pid| pid == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|&u| u > 0 && for_us)
            .map(|u| Duration::from_micros(u / 2));
        Notifier { socket, watchdog, last_status: Mutex::new(String::new()) }
    }

    /// How often to ping the watchdog (half its timeout), when one is set.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    fn send(&self, message: &str) {
        if let Some((socket, addr)) = &self.socket {
            if let Err(e) = socket.send_to_addr(message.as_bytes(), addr) {
                tracing::debug!(error = %e, "service manager notification not sent");
            }
        }
    }

    /// `READY=1` with a status line.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    /// `STATUS=...`, only when it changed.
    pub fn status(&self, status: &str) {
        let mut last = self.last_status.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if *last != status {
            last.clear();
            last.push_str(status);
            self.send(&format!("STATUS={status}"));
        }
    }

    /// `WATCHDOG=1`, when a watchdog is set.
    pub fn watchdog(&self) {
        if self.watchdog.is_some() {
            self.send("WATCHDOG=1");
        }
    }

    /// `STOPPING=1`.
    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping: bays reaching a safe point");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_that_stops_reading_never_blocks_the_sender() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let reader = UnixDatagram::bind(&path).unwrap();
        let socket = UnixDatagram::unbound().unwrap();
        socket.set_nonblocking(true).unwrap();
        let n = Notifier {
            socket: Some((socket, SocketAddr::from_pathname(&path).unwrap())),
            watchdog: None,
            last_status: Mutex::new(String::new()),
        };
        n.ready("starting");
        for i in 0..10_000 {
            n.status(&format!("{i} bays"));
        }
        let mut buf = [0u8; 256];
        let len = reader.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=starting");
    }
}
