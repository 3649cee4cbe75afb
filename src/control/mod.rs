//! The control socket: how the command line asks the daemon to act, and who may ask (R9, R12).
//!
//! The daemon is the only writer of the catalogue and the custody log. A command that touches
//! the station (anything but `sim`, `demo`, `daemon`, `ingest` and offline log checks) is sent
//! over a Unix socket; the daemon learns the caller from the kernel (`SO_PEERCRED`), maps it to
//! roles from the configuration, runs the command in its own process as that actor, and sends
//! the output back. Files named on the command line travel as open descriptors
//! (`SCM_RIGHTS`), so the daemon reads and writes only what the caller itself could. The
//! daemon greets each client with its station (state folder), so that a command is never
//! served by the daemon of another station, and bounds what any one local user can hold
//! ([`server::Limits`]): a client that sends its request slowly is cut, and `status` keeps
//! slots of its own.
//!
//! Owns: role mapping ([`roles`], pure), the wire format ([`wire`]), peer identity ([`peer`]),
//! the client ([`client`]) and the listener ([`server`]).
//! Must never: decide what a command does (that is [`crate::cli`]) or trust anything a client
//! says about itself: identity comes from the kernel only.

pub mod client;
pub mod peer;
pub mod roles;
pub mod server;
pub mod wire;
