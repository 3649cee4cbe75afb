//! `evidock device register|retire|list|reviewed`: the device registry (R1), and a docking's
//! footage reviewed (R1, R5). A front end of the `device_*` operations
//! ([`crate::api::device`]) and of `docking_review` ([`crate::api::review`]).

use std::process::ExitCode;

use super::invoke::Link;
use crate::api::{device, review, Reply, Request};

/// `evidock device ...`
#[derive(Debug, clap::Subcommand)]
pub enum DeviceCommand {
    /// Register a recorder, or change the officer it is assigned to (kept in its history).
    Register {
        /// Device serial, 7 characters 0-9 A-Z.
        serial: String,
        /// Assigned officer's number (警号 / 执法证号).
        #[arg(long)]
        officer_id: String,
        /// Officer's name.
        #[arg(long)]
        officer_name: Option<String>,
        /// Officer's unit.
        #[arg(long)]
        unit: Option<String>,
        /// Model.
        #[arg(long)]
        model: Option<String>,
        /// The USB device that is this recorder, `VENDOR:PRODUCT:USB-SERIAL` as `lsusb -v`
        /// shows it (repeatable). A recorder without an identity of its own (`mass-storage`,
        /// `ambarella` models) is ingested only through this binding.
        #[arg(long, value_name = "VVVV:PPPP:SERIAL", value_parser = device::usb_binding)]
        usb: Vec<String>,
    },
    /// Retire a recorder from service.
    Retire {
        /// Device serial.
        serial: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// List registered recorders with their assignment history.
    List {
        /// JSON, one object per recorder (the `device_list` reply's items).
        #[arg(long)]
        json: bool,
    },
    /// Record that a docking whose footage needed review (`status` lists them under
    /// "attention") was reviewed, with what was found; it then leaves the list.
    Reviewed {
        /// The docking's number.
        docking: i64,
        /// What was reviewed and found (required).
        #[arg(long)]
        note: String,
    },
}

/// The operation a `device` command asks for.
pub fn request(cmd: &DeviceCommand) -> Request {
    match cmd {
        DeviceCommand::Register { serial, officer_id, officer_name, unit, model, usb } => {
            Request::DeviceRegister(device::Register {
                serial: serial.clone(),
                officer_id: officer_id.clone(),
                officer_name: officer_name.clone(),
                unit: unit.clone(),
                model: model.clone(),
                usb: usb.clone(),
            })
        }
        DeviceCommand::Retire { serial, reason } => {
            Request::DeviceRetire(device::Retire { serial: serial.clone(), reason: reason.clone() })
        }
        DeviceCommand::List { .. } => Request::DeviceList(device::ListArgs::default()),
        DeviceCommand::Reviewed { docking, note } => {
            Request::DockingReview(review::Review { docking: *docking, note: note.clone() })
        }
    }
}

/// Runs a `device` command through `link` and prints its reply.
///
/// # Errors
/// When the operation fails or is refused (exit code 2).
pub fn run(cmd: &DeviceCommand, link: &Link<'_>) -> anyhow::Result<ExitCode> {
    match link.call(request(cmd))? {
        Reply::DeviceRegister(r) => {
            crate::outln!("registered {} to officer {} / 已登记", r.serial, r.officer_id);
            for b in &r.usb {
                crate::outln!("bound USB {b} to {} / 已绑定USB设备", r.serial);
            }
        }
        Reply::DeviceRetire(r) => crate::outln!("retired {} / 已停用", r.serial),
        Reply::DockingReview(r) => {
            crate::outln!("docking #{} ({}) reviewed / 接入已复核", r.docking, r.serial.as_deref().unwrap_or("-"))
        }
        Reply::DeviceList(devices) => {
            let json = matches!(cmd, DeviceCommand::List { json: true });
            for d in &devices {
                if json {
                    crate::outln!("{}", serde_json::to_string(d)?);
                } else {
                    crate::outln!(
                        "{}  {}  {} {}  {}{}{}",
                        d.serial,
                        d.model.as_deref().unwrap_or("-"),
                        d.officer_id,
                        d.officer_name.as_deref().unwrap_or(""),
                        d.unit.as_deref().unwrap_or(""),
                        if d.usb.is_empty() { String::new() } else { format!("  usb {}", d.usb.join(", ")) },
                        if d.retired.is_some() { "  (retired 已停用)" } else { "" }
                    );
                }
            }
        }
        other => return Err(super::invoke::unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}
