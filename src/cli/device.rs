//! `evidock device register|retire|list`: the device registry (R1).

use std::process::ExitCode;

use crate::catalog::Registration;
use crate::config::Config;

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
        #[arg(long, value_name = "VVVV:PPPP:SERIAL", value_parser = crate::catalog::UsbBinding::parse)]
        usb: Vec<crate::catalog::UsbBinding>,
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
        /// JSON, one object per recorder.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: &DeviceCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let mut catalog = super::open_catalog_as_user(config)?;
    match cmd {
        DeviceCommand::Register { serial, officer_id, officer_name, unit, model, usb } => {
            catalog.register_device(&Registration {
                serial: serial.clone(),
                model: model.clone(),
                officer_id: officer_id.clone(),
                officer_name: officer_name.clone(),
                unit: unit.clone(),
            })?;
            crate::outln!("registered {serial} to officer {officer_id} / 已登记");
            for b in usb {
                catalog.bind_usb(serial, b)?;
                crate::outln!("bound USB {b} to {serial} / 已绑定USB设备");
            }
        }
        DeviceCommand::Retire { serial, reason } => {
            catalog.retire_device(serial, reason)?;
            crate::outln!("retired {serial} / 已停用");
        }
        DeviceCommand::List { json } => {
            for e in catalog.registry()? {
                let r = &e.registration;
                let usb: Vec<String> = catalog.usb_bindings(&r.serial)?.iter().map(ToString::to_string).collect();
                if *json {
                    let history: Vec<_> = e
                        .history
                        .iter()
                        .map(|(o, n, u, since)| serde_json::json!({ "officer_id": o, "officer_name": n, "unit": u, "since": since }))
                        .collect();
                    crate::outln!(
                        "{}",
                        serde_json::json!({
                            "serial": r.serial, "model": r.model, "officer_id": r.officer_id, "officer_name": r.officer_name,
                            "unit": r.unit, "registered": e.registered, "retired": e.retired, "history": history,
                            "usb": usb,
                        })
                    );
                } else {
                    crate::outln!(
                        "{}  {}  {} {}  {}{}{}",
                        r.serial,
                        r.model.as_deref().unwrap_or("-"),
                        r.officer_id,
                        r.officer_name.as_deref().unwrap_or(""),
                        r.unit.as_deref().unwrap_or(""),
                        if usb.is_empty() { String::new() } else { format!("  usb {}", usb.join(", ")) },
                        if e.retired.is_some() { "  (retired 已停用)" } else { "" }
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
